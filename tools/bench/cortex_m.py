#!/usr/bin/env python3
"""Instruction counts and estimated cycles of the shared models on the emulated Cortex-M boards,
as Markdown.

Runs `ferrite sim --json` for every model on every board (QEMU, deterministic instruction
counts; see ../shared/emu/README.md), checks the outputs against the goldens, and prints —
or with `--write docs/performance.md` writes into that file's "## Cortex-M (emulated)"
section — a summary table, the comparison with the published numbers in
../shared/baselines.md, and one per-layer table per model. Optional tooling, not part of CI:

    cargo build --release -p ferrite-mcu-cli
    python3 tools/bench/cortex_m.py --write docs/performance.md

Needs numpy. Models come from $FERRITE_SHARED_MODELS (default ../shared/models).
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
MODELS = ["vww_96_int8", "person_detect", "resnet8_int8"]
BOARDS = [
    ("qemu-m0", "Cortex-M0+ (ARMv6-M code), no-DSP kernels"),
    ("qemu-m3", "Cortex-M3, no-DSP kernels"),
    ("qemu-m4", "Cortex-M4F, DSP (SMLAD) kernels"),
    ("qemu-m55", "Cortex-M55, Helium (MVE) kernels"),
]
SECTION = "## Cortex-M (emulated)"
# ../shared/baselines.md: CMSIS-NN measured on vww_96_int8 with the same emulator and method
# (its Cortex-M0+ figure is given to 0.1M instructions: 86.9M, 11.6 per MAC).
CMSIS_NN = {"qemu-m4": 24_718_240, "qemu-m3": 32_080_040, "qemu-m0": 86_900_000}
BEST_PUBLISHED_M4 = 1.42  # cycles/MAC, STM32Cube.AI 9.0, MLPerf Tiny v1.2 (real STM32L4R5)


def shared_models() -> Path:
    return Path(os.environ.get("FERRITE_SHARED_MODELS", ROOT.parent / "shared" / "models"))


def sim(ferrite: Path, model: str, board: str) -> dict:
    d = shared_models() / model
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.npy"
        run = subprocess.run(
            [str(ferrite), "sim", str(d / f"{model}.tflite"), "--board", board,
             "--input", str(d / f"{model}.inputs.npy"), "--output", str(out), "--json"],
            capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"ferrite sim {model} --board {board} failed:\n{run.stderr}")
        report = json.loads(run.stdout)
        got = np.load(out)
        want = np.load(d / f"{model}.outputs.npy")
        report["exact"] = bool(got.dtype == want.dtype and np.array_equal(got, want))
    return report


def fmt(n: float) -> str:
    return f"{n:,.0f}"


def section(results: dict) -> str:
    lines = [SECTION, ""]
    lines.append(
        "Instructions per inference counted by QEMU (`-icount`, see `../shared/emu/README.md`), "
        "averaged over the model's 8 shared input samples; `ferrite sim MODEL --board B --json`. "
        "Produced by `python3 tools/bench/cortex_m.py --write docs/performance.md`. Every run's "
        "outputs equal the TFLite Micro goldens byte for byte (column \"exact\"). Estimated "
        "cycles and flash data reads come from the cycle model `ferrite sim` runs beside QEMU "
        "([cycle-model.md](cycle-model.md): the Cortex-M0+/M3/M4 TRMs' timings, zero wait "
        "states; the Cortex-M55's are stated assumptions). qemu-m0 runs thumbv6m firmware (what a "
        "Cortex-M0+ executes) on QEMU's Cortex-M3, priced with the Cortex-M0+ timing.")
    lines.append("")
    lines.append("| model | board | kernels | instructions | instr/MAC | est. cycles | cycles/MAC | flash reads | arena B | flash B | stack B | exact |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for model in MODELS:
        for board, kernels in BOARDS:
            r = results[(model, board)]
            lines.append(
                f"| {model} | {board} | {kernels} | {fmt(r['instructions_per_inference'])} | "
                f"{r['instructions_per_mac']:.3f} | {fmt(r['cycles_per_inference'])} | "
                f"{r['cycles_per_mac']:.3f} | {fmt(r['flash_reads'])} | "
                f"{fmt(r['arena_bytes'])} | {fmt(r['flash_bytes'])} | "
                f"{fmt(r['stack_bytes'])} | {'yes' if r['exact'] else 'NO'} |")
    lines.append("")
    lines.append("### Against the published numbers (`../shared/baselines.md`)")
    lines.append("")
    lines.append("| vww_96_int8 | instructions | instr/MAC | Ferrite's advantage |")
    lines.append("|---|---:|---:|---:|")
    macs = results[("vww_96_int8", "qemu-m4")]["macs"]
    for board, label in [("qemu-m4", "Cortex-M4 with DSP"), ("qemu-m3", "Cortex-M3, pure C / no-DSP"),
                         ("qemu-m0", "Cortex-M0+ (ARMv6-M), pure C / no-DSP")]:
        ours = results[("vww_96_int8", board)]["instructions_per_inference"]
        theirs = CMSIS_NN[board]
        lines.append(f"| CMSIS-NN, {label} (same harness) | {fmt(theirs)} | {theirs / macs:.2f} | |")
        lines.append(f"| Ferrite, {label} | {fmt(ours)} | {ours / macs:.2f} | {theirs / ours:.2f}x fewer |"
                     if ours <= theirs else
                     f"| Ferrite, {label} | {fmt(ours)} | {ours / macs:.2f} | {ours / theirs:.2f}x more |")
    lines.append(f"| best published Cortex-M4 engine (STM32Cube.AI 9.0, real chip, cycles) | | {BEST_PUBLISHED_M4} cycles/MAC | |")
    m4 = results[("vww_96_int8", "qemu-m4")]
    lines.append(f"| Ferrite, Cortex-M4 with DSP, estimated cycles (zero wait states) | "
                 f"{fmt(m4['cycles_per_inference'])} cycles | {m4['cycles_per_mac']:.2f} cycles/MAC | "
                 f"{m4['cycles_per_mac'] / BEST_PUBLISHED_M4:.2f}x the published cycles |")
    lines.append("")
    lines.append(
        "Instructions are not cycles: on a Cortex-M4 loads, taken branches and multi-word `LDM`s "
        "take extra cycles. The estimated cycles apply the TRM's timings to the instructions QEMU "
        "executes, with no flash wait states; the published figure is cycles on silicon, wait "
        "states included, so the gap to it is at least what the table shows. The CMSIS-NN rows "
        "were measured with the same emulator and method, so those ratios are like for like.")
    for model in MODELS:
        lines.append("")
        lines.append(f"### {model}, per layer")
        lines.append("")
        head = "| # | op | MACs |" + "".join(f" {b} instr | {b} /MAC | {b} cyc/MAC |" for b, _ in BOARDS)
        lines.append(head)
        lines.append("|---:|---|---:|" + "---:|---:|---:|" * len(BOARDS))
        per_board = [results[(model, b)]["layers"] for b, _ in BOARDS]
        for i, layer in enumerate(per_board[0]):
            row = f"| {layer['index']} | {layer['op']} | {fmt(layer['macs'])} |"
            for layers in per_board:
                l = layers[i]
                per_mac = f"{l['instructions_per_mac']:.2f}" if l["macs"] else "—"
                cyc_mac = f"{l['cycles_per_mac']:.2f}" if l["macs"] else "—"
                row += f" {fmt(l['instructions'])} | {per_mac} | {cyc_mac} |"
            lines.append(row)
        totals = "| | total | " + fmt(results[(model, BOARDS[0][0])]["macs"]) + " |"
        for b, _ in BOARDS:
            r = results[(model, b)]
            totals += (f" {fmt(r['instructions_per_inference'])} | {r['instructions_per_mac']:.2f} | "
                       f"{r['cycles_per_mac']:.2f} |")
        lines.append(totals)
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces (or appends) the Cortex-M section, leaving the other sections alone."""
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
    ap.add_argument("--cache", type=Path,
                    help="keep each run's report as DIR/MODEL.BOARD.json and reuse the ones "
                         "there (twelve runs take ~45 minutes; when a change touches one "
                         "board's kernels, rerun that board alone with --rerun)")
    ap.add_argument("--rerun", default="",
                    help="comma-separated boards (or model.board pairs) to run again even if cached")
    args = ap.parse_args()
    rerun = {x for x in args.rerun.split(",") if x}
    results = {}
    for model in MODELS:
        for board, _ in BOARDS:
            cached = args.cache / f"{model}.{board}.json" if args.cache else None
            fresh = board in rerun or f"{model}.{board}" in rerun
            if cached is not None and cached.is_file() and not fresh:
                print(f"ferrite sim {model} --board {board}: cached {cached}", file=sys.stderr)
                results[(model, board)] = json.loads(cached.read_text())
                continue
            print(f"ferrite sim {model} --board {board}", file=sys.stderr)
            results[(model, board)] = sim(args.ferrite, model, board)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps(results[(model, board)]))
    text = section(results)
    if args.write:
        write_section(args.write, text)
    else:
        print(text)
    if not all(r["exact"] for r in results.values()):
        sys.exit("some outputs differ from the goldens")


if __name__ == "__main__":
    main()
