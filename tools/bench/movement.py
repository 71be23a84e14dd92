#!/usr/bin/env python3
"""Instructions per output byte of the data-movement operators on the emulated Cortex-M4.

Runs `ferrite sim --board qemu-m4 --json` on the int8 single-operator goldens of every
data-movement operator (tests/data/ops, TFLite Micro outputs), checks every output byte for
byte against the golden, and prints — or with `--write docs/performance.md` writes into that
file's "## Data movement (emulated Cortex-M4)" section — the instructions each operator's
layers take per output byte. Instruction counts are QEMU's (`-icount`, deterministic; see
../shared/emu/README.md). Optional tooling, not part of CI:

    cargo build --release -p ferrite-cli
    python3 tools/bench/movement.py --write docs/performance.md

The bar: a straightforward byte copy loop (`ldrb`, `strb` with post-increment, `subs`,
`bne`) takes 4 instructions per byte on a Cortex-M4; no data-movement layer may take more.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "tests" / "data" / "ops"
SECTION = "## Data movement (emulated Cortex-M4)"
BYTE_LOOP = 4.0  # instructions per byte of the straightforward copy loop
# Layers of these operators are the data movement measured (a case's other layers, e.g. the
# QUANTIZE of a float-io model, are not counted).
MOVEMENT = {
    "TRANSPOSE", "STRIDED_SLICE", "SLICE", "GATHER", "GATHER_ND", "SPLIT", "SPLIT_V", "PACK",
    "UNPACK", "REVERSE_V2", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SPACE_TO_BATCH_ND",
    "BATCH_TO_SPACE_ND", "BROADCAST_TO", "MIRROR_PAD", "CONCATENATION", "PAD", "PADV2",
    "SELECT_V2", "DYNAMIC_UPDATE_SLICE", "EMBEDDING_LOOKUP", "RESIZE_NEAREST_NEIGHBOR",
}


def cases() -> list:
    index = json.loads((OPS / "index.json").read_text())
    out, seen = [], set()
    for c in index["cases"]:
        if c.get("variant", c.get("dtype")) != "int8":
            continue
        ops = tuple(op for op in c["ops"] if op in MOVEMENT)
        # The largest case of each operator: firmware builds dominate the run time.
        if ops:
            out.append(c)
            seen.add(ops)
    best = {}
    for c in out:
        key = tuple(op for op in c["ops"] if op in MOVEMENT)
        size = sum(int(np.prod(o["shape"])) for o in c["outputs"])
        if key not in best or size > best[key][0]:
            best[key] = (size, c)
    return [c for _, c in sorted(best.values(), key=lambda v: v[1]["name"])]


def sim(ferrite: Path, case: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"out{k}.npy" for k in range(len(case["outputs"]))]
        cmd = [str(ferrite), "sim", str(OPS / case["file"]), "--board", "qemu-m4", "--json"]
        for i in case["inputs"]:
            cmd += ["--input", str(OPS / i["file"])]
        for o in outs:
            cmd += ["--output", str(o)]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"ferrite sim {case['name']} failed:\n{run.stderr}")
        report = json.loads(run.stdout)
        report["exact"] = all(
            np.array_equal(np.load(o), np.load(OPS / spec["file"]))
            for o, spec in zip(outs, case["outputs"]))
    return report


def section(rows: list) -> str:
    lines = [
        SECTION, "",
        "Produced by `python3 tools/bench/movement.py --write docs/performance.md`: every int8 "
        "single-operator golden of a data-movement operator run in `ferrite sim --board qemu-m4` "
        "(outputs byte-exact with TFLite Micro in every row), instructions of the operator's "
        "layers per sample divided by the bytes they write. A straightforward byte copy loop "
        f"takes {BYTE_LOOP:g} instructions per byte on a Cortex-M4.", "",
        "| case | operator | output bytes | instructions | per output byte | exact |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| `{r['case']}` | {r['op']} | {r['bytes']:,} | {r['instructions']:,} | "
                     f"{r['per_byte']:.2f} | {'yes' if r['exact'] else 'NO'} |")
    worst = max(rows, key=lambda r: r["per_byte"])
    lines += ["", f"Slowest: `{worst['case']}` at {worst['per_byte']:.2f} instructions per output "
              f"byte (bar: {BYTE_LOOP:g})."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    doc = path.read_text()
    if SECTION in doc:
        head, rest = doc.split(SECTION, 1)
        nxt = rest.find("\n## ")
        doc = head + text + (rest[nxt + 1:] if nxt >= 0 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", type=Path, help="write the section into this Markdown file")
    ap.add_argument("--ferrite", type=Path, default=ROOT / "target" / "release" / "ferrite")
    args = ap.parse_args()
    rows = []
    for case in cases():
        report = sim(args.ferrite, case)
        layers = [l for l in report["layers"] if l["op"] in MOVEMENT]
        if not layers:
            continue
        out_bytes = sum(int(np.prod(o["shape"])) for o in case["outputs"])
        instr = sum(l["instructions"] for l in layers)
        rows.append({"case": case["name"], "op": "+".join(dict.fromkeys(l["op"] for l in layers)),
                     "bytes": out_bytes, "instructions": instr,
                     "per_byte": instr / max(out_bytes, 1), "exact": report["exact"]})
        print(f"{case['name']:45s} {rows[-1]['per_byte']:6.2f} instr/byte exact={report['exact']}",
              file=sys.stderr)
    text = section(rows)
    if args.write:
        write_section(args.write, text)
    else:
        print(text)
    if not all(r["exact"] for r in rows):
        sys.exit("some outputs differ from TFLite Micro")


if __name__ == "__main__":
    main()
