#!/usr/bin/env python3
"""CIRCULAR_BUFFER goldens (`tests/data/circular_buffer`), call after call, from TFLite Micro.

CIRCULAR_BUFFER is TFLM's custom operator for strided streaming models; TensorFlow's converter
never writes it, so each case's `.tflite` is written with the flatbuffers object API: int8
input `[1, 1, w, d]` -> CIRCULAR_BUFFER (custom options `{"cycles_max": n}`, or none) -> output
`[1, slots, w, d]`, the graph output. Each case runs `CALLS` calls on one TFLM interpreter; per
call the goldens record whether TFLM ended the invocation early (`kTfLiteAbort`, which the
Python runtime returns as status 15) and the output.

TFLM never initialises the buffer (the output tensor, in its arena): before a call has
written a slot, its bytes are whatever the arena held. `index.json` gives each case's
`frame_bytes`; call `k` (0-based) has written the last `k + 1` frames, and only those bytes
are compared. Without `cycles_max`, TFLM guesses the stride from a process-wide count of the
buffers it has prepared, so every case runs in a fresh Python process.

Run: /tmp/tfenv/bin/python tools/goldens/gen_circular_buffer_goldens.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "circular_buffer"
CALLS = 7
ABORT = 15  # kTfLiteAbort as the tflite_micro Python runtime reports it

CASES = [
    dict(name="cb_slots4_depth3_every2", slots=4, width=1, depth=3, cycles_max=2),
    dict(name="cb_slots3_w2_depth4_every1", slots=3, width=2, depth=4, cycles_max=1),
    dict(name="cb_slots6_depth2_every3", slots=6, width=1, depth=2, cycles_max=3),
    dict(name="cb_slots5_depth4_guessed", slots=5, width=1, depth=4, cycles_max=None),
    dict(name="cb_slots4_depth2_guessed", slots=4, width=1, depth=2, cycles_max=None),
]


def build(case: dict) -> bytes:
    import flatbuffers
    from flatbuffers import flexbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    def tensor(name, shape):
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), fb.TensorType.INT8, 0
        q = fb.QuantizationParametersT()
        q.scale, q.zeroPoint = [0.5], [-3]
        t.quantization = q
        return t

    m = fb.ModelT()
    m.version = 3
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
    code.customCode, code.version = b"CIRCULAR_BUFFER", 1
    m.operatorCodes = [code]
    sg = fb.SubGraphT()
    w, d = case["width"], case["depth"]
    sg.tensors = [tensor("frame", [1, 1, w, d]), tensor("buffer", [1, case["slots"], w, d])]
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    if case["cycles_max"] is not None:
        fbb = flexbuffers.Builder()
        with fbb.Map():
            fbb.Int("cycles_max", case["cycles_max"])
        op.customOptions = list(fbb.Finish())
    sg.operators, sg.inputs, sg.outputs = [op], [0], [1]
    m.subgraphs = [sg]
    m.buffers = [fb.BufferT()]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def run_case(k: int) -> None:
    """Child process: run case `k` on a fresh TFLM and write its files."""
    from tflite_micro.python.tflite_micro import runtime as tflm_runtime

    case = CASES[k]
    model = build(case)
    rng = np.random.default_rng(1400 + k)
    xs = rng.integers(-128, 128, size=[CALLS, 1, 1, case["width"], case["depth"]], dtype=np.int8)
    interp = tflm_runtime.Interpreter.from_bytes(model, arena_size=4096)
    outs, aborted = [], []
    for c in range(CALLS):
        interp.set_input(xs[c], 0)
        status = interp.invoke()
        assert status in (0, ABORT, None), status
        aborted.append(status == ABORT)
        outs.append(np.array(interp.get_output(0), copy=True))
    name = case["name"]
    (OUT_DIR / f"{name}.tflite").write_bytes(model)
    np.save(OUT_DIR / f"{name}.inputs.npy", xs)
    np.save(OUT_DIR / f"{name}.outputs.npy", np.stack(outs))
    (OUT_DIR / f"{name}.json").write_text(json.dumps({
        "name": name,
        "file": f"{name}.tflite",
        "ops": ["CIRCULAR_BUFFER"],
        "dtype": "int8",
        "calls": CALLS,
        "frame_bytes": case["width"] * case["depth"],
        "cycles_max": case["cycles_max"],
        "aborted": aborted,
    }))
    print(name, aborted)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        run_case(int(sys.argv[2]))
        return
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    cases = []
    for k in range(len(CASES)):
        subprocess.run([sys.executable, __file__, "--case", str(k)], check=True)
        f = OUT_DIR / f"{CASES[k]['name']}.json"
        cases.append(json.loads(f.read_text()))
        f.unlink()
    from importlib.metadata import version
    (OUT_DIR / "index.json").write_text(json.dumps({
        "generator": "tools/goldens/gen_circular_buffer_goldens.py",
        "versions": {p: version(p) for p in ("tflite_micro", "numpy", "flatbuffers")},
        "cases": cases,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
