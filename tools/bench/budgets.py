#!/usr/bin/env python3
"""Arena and flash budgets on the emulated Cortex-M4, as Markdown.

For each model and budget, `ferrite sim MODEL --board qemu-m4 --max-arena B [--max-flash F]
--json` builds the firmware with the plan the converter chose for that budget, runs every
sample in QEMU and reports arena, flash, instructions and estimated cycles; the outputs are
checked against the goldens, and the chosen plan (patch-based prefix, bands, input read in
place, 8-bit weight layers) comes from `ferrite inspect --json` with the same budget.
Prints — or with `--write docs/performance.md` writes into that file's "## Budgets" section —
one table. Optional tooling, not part of CI:

    cargo build --release -p ferrite-mcu-cli
    python3 tools/bench/budgets.py --write docs/performance.md

Needs numpy. Shared models come from $FERRITE_SHARED_MODELS (default ../shared/models).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Budgets: arena and flash (qemu-m4)"


def shared_models() -> Path:
    return Path(os.environ.get("FERRITE_SHARED_MODELS", ROOT.parent / "shared" / "models"))


def model_files(name: str) -> tuple[Path, Path, Path]:
    d = shared_models() / name
    if not d.is_dir():
        d = ROOT / "tests" / "data" / "models"
    return d / f"{name}.tflite", d / f"{name}.inputs.npy", d / f"{name}.outputs.npy"


# (model, budget flags); an empty list is the unconstrained plan the others are compared with.
CASES = [
    ("vww_96_int8", []),
    ("vww_96_int8", ["--max-arena", "28000"]),
    ("vww_96_int8", ["--max-arena", "20000"]),
    ("vww_96_int8", ["--max-flash", "320000"]),
    ("vww_96_int8", ["--max-flash", "300000"]),
    ("person_detect", []),
    ("person_detect", ["--max-arena", "28000"]),
    ("resnet8_int8", []),
    ("resnet8_int8", ["--max-arena", "28000"]),
    ("resnet8_int8", ["--max-arena", "23808"]),
    ("mobilenet_v2_160_int8", []),
    ("mobilenet_v2_160_int8", ["--max-arena", "96000"]),
]


def sim(ferrite: Path, name: str, flags: list[str]) -> dict:
    model, inputs, outputs = model_files(name)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.npy"
        run = subprocess.run(
            [str(ferrite), "sim", str(model), "--board", "qemu-m4", "--input", str(inputs),
             "--output", str(out), "--json", *flags],
            capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"ferrite sim {name} {' '.join(flags)} failed:\n{run.stderr}")
        report = json.loads(run.stdout)
        got, want = np.load(out), np.load(outputs)
        report["exact"] = got.dtype == want.dtype and np.array_equal(got, want)
    plan = subprocess.run(
        [str(ferrite), "--target", "cortex-m-dsp", *flags, "inspect", str(model), "--json"],
        capture_output=True, text=True, check=True)
    report["plan"] = json.loads(plan.stdout)
    report["plan"]["_flags"] = flags
    return report


def describe(plan: dict) -> str:
    parts = []
    p = plan.get("patch")
    if p:
        ops = p["prefix_ops"]
        parts.append(f"operators #{ops[0]}–#{ops[-1]} in {len(p['bands'])} bands")
    if plan.get("input_in_place"):
        parts.append("input read in place")
    if plan.get("in_place_layers"):
        parts.append(f"{len(plan['in_place_layers'])} depthwise layers in place")
    layers = plan.get("layers", [])
    wide = [l for l in layers if l.get("kernel", "").endswith("run_conv_gemm_i8")]
    if plan.get("flash_bytes") and "--max-flash" in plan.get("_flags", []):
        parts.append("int8 weights where the flash budget needs them")
    return ", ".join(parts) or "every layer whole"


def fmt(n: float) -> str:
    return f"{n:,.0f}"


def section(rows: list) -> str:
    lines = [SECTION, ""]
    lines.append(
        "`ferrite sim MODEL --board qemu-m4 --json [--max-arena B] [--max-flash F]` on every "
        "shared sample; the plan is the one the converter picks for the budget (fastest that "
        "fits: [DESIGN](../../shared/DESIGN.md) \"Plans under budgets\"), shown by `ferrite "
        "inspect --target cortex-m-dsp --json` with the same flags. Ratios are against the "
        "unconstrained plan of the same model in the same run. With the input read in place "
        "the caller's input buffer (vww/person_detect: 27,648 / 9,216 B) is outside the arena. "
        "Produced by `python3 tools/bench/budgets.py --write docs/performance.md`.")
    lines.append("")
    lines.append("| model | budget | plan | arena B | flash B | instructions | × | est. cycles | × | cycles/MAC | exact |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    base = {}
    for name, flags, r in rows:
        if not flags:
            base[name] = r
        b = base[name]
        budget = " ".join(flags) or "none"
        lines.append(
            f"| {name} | {budget} | {describe(r['plan'])} | {fmt(r['arena_bytes'])} | "
            f"{fmt(r['flash_bytes'])} | {fmt(r['instructions_per_inference'])} | "
            f"{r['instructions_per_inference'] / b['instructions_per_inference']:.3f} | "
            f"{fmt(r['cycles_per_inference'])} | "
            f"{r['cycles_per_inference'] / b['cycles_per_inference']:.3f} | "
            f"{r['cycles_per_mac']:.3f} | {'yes' if r['exact'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces (or appends) the section, leaving the others alone."""
    doc = path.read_text() if path.exists() else "# Performance\n"
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + 1)
        doc = doc[:start] + text + ("" if end < 0 else doc[end + 1:])
    path.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferrite", type=Path, default=ROOT / "target" / "release" / "ferrite")
    ap.add_argument("--write", type=Path, help="write the section into this Markdown file")
    args = ap.parse_args()
    rows = []
    for name, flags in CASES:
        print(f"ferrite sim {name} {' '.join(flags)}", file=sys.stderr)
        rows.append((name, flags, sim(args.ferrite, name, flags)))
    text = section(rows)
    if args.write:
        write_section(args.write, text)
    else:
        print(text)
    if not all(r["exact"] for _, _, r in rows):
        sys.exit("some outputs differ from the goldens")


if __name__ == "__main__":
    main()
