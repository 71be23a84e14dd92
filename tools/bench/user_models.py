#!/usr/bin/env python3
"""Whole user models (tests/data/models) on the emulated Cortex-M4, as Markdown.

Runs `ferrite sim --board qemu-m4 --json` (and `qemu-m55`) on the PyTorch-exported CNN, the
SSD-style detectors (int8 and float32) and the 16x8 models beside their int8 twins, checks every output against the golden (TFLite Micro's outputs:
integers byte for byte, floats within 1e-5 relative), and prints — or with
`--write docs/performance.md` writes into that file's "## User models (emulated Cortex-M4 and Cortex-M55)"
section — instructions and estimated cycles per inference, the share of the slowest layer,
arena and flash.
Optional tooling, not part of CI:

    cargo build --release -p ferrite-mcu-cli
    python3 tools/bench/user_models.py --write docs/performance.md
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "data" / "models"
SECTION = "## User models (emulated Cortex-M4 and Cortex-M55)"
CASES = ["pytorch_cnn_int8", "pytorch_cnn_f32", "ssd_detector_int8", "ssd_detector_f32",
         "ssd_detector_regular_nms_int8", "ssd_detector_regular_nms_f32",
         # 16x8 (int16 activations, int8 weights) beside the int8 twin with the same weights
         "mobilenet_v2_small_int8", "mobilenet_v2_small_16x8",
         "audio_conv1d_int8", "audio_conv1d_16x8"]
BOARDS = {"qemu-m4": "Cortex-M4F, DSP kernels", "qemu-m55": "Cortex-M55, Helium kernels"}


def sim(ferrite: Path, case: dict, board: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"out{k}.npy" for k in range(len(case["outputs"]))]
        cmd = [str(ferrite), "sim", str(MODELS / case["file"]), "--board", board, "--json"]
        for i in case["inputs"]:
            cmd += ["--input", str(MODELS / i["file"])]
        for o in outs:
            cmd += ["--output", str(o)]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"ferrite sim {case['name']} failed:\n{run.stderr}")
        report = json.loads(run.stdout)
        exact = True
        for o, spec in zip(outs, case["outputs"]):
            got, want = np.load(o), np.load(MODELS / spec["file"])
            if got.dtype.kind == "f":
                scale = max(float(np.abs(want).max()), 1e-30)
                exact &= bool(np.abs(got - want).max() <= 1e-5 * scale)
            else:
                exact &= bool(np.array_equal(got, want))
        report["exact"] = exact
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", type=Path, help="write the section into this Markdown file")
    ap.add_argument("--ferrite", type=Path, default=ROOT / "target" / "release" / "ferrite")
    ap.add_argument("--board", choices=sorted(BOARDS), action="append",
                    help="boards to run on (repeatable; default qemu-m4 and qemu-m55)")
    args = ap.parse_args()
    boards = args.board or ["qemu-m4", "qemu-m55"]
    index = {c["name"]: c for c in json.loads((MODELS / "index.json").read_text())["cases"]}
    lines = [
        SECTION, "",
        "Produced by `python3 tools/bench/user_models.py --write docs/performance.md`: "
        "`ferrite sim MODEL --board BOARD` (" + "; ".join(f"`{b}`: {BOARDS[b]}" for b in boards)
        + ") on every sample of the model's golden; \"exact\" means every output equals "
        "TFLite Micro's (integers byte for byte, floats within 1e-5 relative).", "",
        "Estimated cycles come from the cycle model `ferrite sim` runs beside QEMU "
        "(docs/cycle-model.md: the Cortex-M4 TRM's timings, no wait states; the Cortex-M55's "
        "are assumptions).", "",
        "| model | board | ops | instructions | MACs | instr/MAC | est. cycles | cycles/MAC | slowest layer | arena B | flash B | exact |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for name in CASES:
        case = index[name]
        for board in boards:
            r = sim(args.ferrite, case, board)
            slow = max(r["layers"], key=lambda l: l["instructions"])
            total = r["instructions_per_inference"]
            share = slow["instructions"] / max(total, 1)
            lines.append(
                f"| `{name}` | {board} | {len(case['ops'])} | {total:,} | {r['macs']:,} | "
                f"{total / max(r['macs'], 1):.2f} | {r['cycles_per_inference']:,} | "
                f"{r['cycles_per_mac']:.2f} | {slow['op']} ({share:.0%}) | "
                f"{r['arena_bytes']:,} | {r['flash_bytes']:,} | {'yes' if r['exact'] else 'NO'} |")
            print(lines[-1], file=sys.stderr)
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


if __name__ == "__main__":
    main()
