#!/usr/bin/env python3
"""Instructions per output byte of the data-movement operators on the emulated Cortex-M4.

Builds one int8 model per data-movement operator on a 16 KB activation ([1, 32, 32, 16]; the
golden single-op cases are too small to measure anything but a layer's fixed cost), converts it
with TensorFlow's converter, runs two seeded samples through TensorFlow Lite Micro (the golden)
and through `ferrite sim --board qemu-m4 --json` (QEMU `-icount`: deterministic instruction
counts, see ../shared/emu/README.md), checks the outputs byte for byte, and prints — or with
`--write docs/performance.md` writes into that file's "## Data movement (emulated Cortex-M4)"
section — the instructions the operator's layer takes per output byte. Optional tooling, not
part of CI; needs the generator environment (tools/goldens/requirements.txt):

    cargo build --release -p ferrite-mcu-cli
    python tools/bench/movement.py --write docs/performance.md

The bar: a straightforward byte copy loop (`ldrb`, `strb`, an address increment, `subs`,
`bne`) takes 4-5 instructions per byte on a Cortex-M4; a layer that moves bytes one by one
along a stride pays an address step more.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tflite_micro.python.tflite_micro import runtime  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Data movement (emulated Cortex-M4)"
SHAPE = (1, 32, 32, 16)
MOVEMENT = {
    "TRANSPOSE", "STRIDED_SLICE", "SLICE", "GATHER", "SPLIT", "PACK", "UNPACK", "REVERSE_V2",
    "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "BROADCAST_TO", "MIRROR_PAD", "CONCATENATION", "PAD",
    "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "RESHAPE",
}
PERM = np.random.RandomState(7).permutation(16).astype(np.int32)

CASES = [
    ("transpose_nhwc_to_nchw", SHAPE, lambda x: tf.transpose(x, [0, 3, 1, 2])),
    ("transpose_nchw_to_nhwc", (1, 16, 32, 32), lambda x: tf.transpose(x, [0, 2, 3, 1])),
    ("transpose_hw", SHAPE, lambda x: tf.transpose(x, [0, 2, 1, 3])),
    ("strided_slice_stride2", SHAPE, lambda x: x[:, ::2, 1::2, :]),
    ("slice_window", SHAPE, lambda x: tf.slice(x, [0, 4, 4, 0], [1, 24, 24, 16])),
    ("gather_channels", SHAPE, lambda x: tf.gather(x, PERM, axis=3)),
    ("split_channels_2", SHAPE, lambda x: tf.split(x, 2, axis=3)[1]),
    ("concat_channels", SHAPE, lambda x: tf.concat([x, tf.reverse(x, [1])], axis=3)),
    ("pack_axis1", SHAPE, lambda x: tf.stack([x, tf.reverse(x, [1])], axis=1)),
    ("reverse_width", SHAPE, lambda x: tf.reverse(x, [2])),
    ("space_to_depth_2", SHAPE, lambda x: tf.nn.space_to_depth(x, 2)),
    ("depth_to_space_2", SHAPE, lambda x: tf.nn.depth_to_space(x, 2)),
    ("mirror_pad_reflect_2", SHAPE,
     lambda x: tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")),
    ("pad_constant_2", SHAPE, lambda x: tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]])),
    ("broadcast_rows", (1, 1, 32, 16), lambda x: tf.broadcast_to(x, SHAPE)),
]


def convert(fn, shape) -> bytes:
    f = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    rng = np.random.RandomState(0)

    def rep():
        for _ in range(8):
            yield [rng.uniform(-1, 1, size=shape).astype(np.float32)]
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def op_names(model: bytes) -> list:
    """The model's operators, as TensorFlow Lite names them."""
    interpreter = tf.lite.Interpreter(model_content=model)
    return [d["op_name"] for d in interpreter._get_ops_details()]


def tflm(model: bytes, x: np.ndarray) -> list:
    outs = []
    for s in x:
        it = runtime.Interpreter.from_bytes(model, arena_size=1 << 22)
        it.set_input(s, 0)
        it.invoke()
        outs.append(it.get_output(0).copy())
    return np.stack(outs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", type=Path, help="write the section into this Markdown file")
    ap.add_argument("--ferrite", type=Path, default=ROOT / "target" / "release" / "ferrite")
    ap.add_argument("--only", action="append", default=[],
                    help="run only this case (repeatable; not with --write)")
    args = ap.parse_args()
    if args.only and args.write:
        sys.exit("--only measures a subset: do not --write it")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, shape, fn in CASES:
            if args.only and name not in args.only:
                continue
            model = tmp / f"{name}.tflite"
            # TensorFlow's converter now and then leaves an operator in float between a
            # DEQUANTIZE and a QUANTIZE (seen with SPLIT); that model measures a float layer,
            # not the int8 one, so convert again.
            for _ in range(5):
                model.write_bytes(convert(fn, shape))
                if "DEQUANTIZE" not in op_names(model.read_bytes()):
                    break
            else:
                sys.exit(f"{name}: the converter kept a float operator five times")
            x = np.random.RandomState(1).randint(-128, 128, size=(2, *shape)).astype(np.int8)
            np.save(tmp / "in.npy", x)
            want = tflm(model.read_bytes(), x)
            run = subprocess.run(
                [str(args.ferrite), "sim", str(model), "--board", "qemu-m4", "--json",
                 "--input", str(tmp / "in.npy"), "--output", str(tmp / "out.npy")],
                capture_output=True, text=True, check=False)
            if run.returncode != 0:
                sys.exit(f"ferrite sim {name} failed:\n{run.stderr}")
            report = json.loads(run.stdout)
            exact = bool(np.array_equal(np.load(tmp / "out.npy"), want))
            layers = [l for l in report["layers"] if l["op"] in MOVEMENT]
            ops = [l["op"] for l in report["layers"]]
            # The measured layer: the last data-movement layer (the one writing the output).
            layer = layers[-1]
            out_bytes = int(np.prod(want.shape[1:]))
            rows.append({"case": name, "op": layer["op"], "layers": " → ".join(ops),
                         "bytes": out_bytes, "instructions": layer["instructions"],
                         "per_byte": layer["instructions"] / out_bytes, "exact": exact})
            print(f"{name:26s} {layer['op']:16s} {rows[-1]['per_byte']:6.2f} instr/byte "
                  f"exact={exact} ({' → '.join(ops)})", file=sys.stderr)
    lines = [
        SECTION, "",
        "Produced by `python tools/bench/movement.py --write docs/performance.md`: one int8 "
        "model per operator on a [1, 32, 32, 16] activation (16 KB), converted by TensorFlow, "
        "run in `ferrite sim --board qemu-m4`; \"exact\": both samples' outputs equal TensorFlow "
        "Lite Micro's byte for byte. Instructions of the operator's layer per sample, divided by "
        "the bytes it writes. A straightforward byte copy loop takes 4–5 instructions per byte "
        "on a Cortex-M4.", "",
        "| case | layers | output bytes | instructions | per output byte | exact |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| `{r['case']}` | {r['layers']} | {r['bytes']:,} | {r['instructions']:,} | "
                     f"{r['per_byte']:.2f} | {'yes' if r['exact'] else 'NO'} |")
    text = "\n".join(lines) + "\n"
    if args.write:
        doc = args.write.read_text()
        if SECTION in doc:
            head, rest = doc.split(SECTION, 1)
            nxt = rest.find("\n## ")
            doc = head + text + (rest[nxt + 1:] if nxt >= 0 else "")
        else:
            doc = doc.rstrip("\n") + "\n\n" + text
        args.write.write_text(doc)
    else:
        print(text)
    if not all(r["exact"] for r in rows):
        sys.exit("some outputs differ from TFLite Micro")


if __name__ == "__main__":
    main()
