#!/usr/bin/env python3
"""Per-kernel code sizes of the board firmware, for the converter's flash estimate.

Builds each board's firmware for a few models with `ferrite sim --json` (one sample), reads
the ELF's symbols with `llvm-nm --print-size -C` and writes `tools/convert/src/code_sizes.rs`:

- per target (the board's kernels), kernel module (`ferrite_kernels::ops::<module>`, with
  the `arch::` code it inlines) and kind (`f32` from the float models, `int` from the others:
  a module's float and integer kernels are different functions), the bytes of code of the
  module's functions, the largest seen over the models (a model links only the functions
  its layers reach);
- per target, the bytes of the layer and tensor tables per layer and per tensor
  (`LAYER_TABLE`, `TENSOR_TABLE`), and a fixed base: the rest of the firmware's flash (vector
  table, runtime, the board's harness, memcpy, generic code not named after a kernel), the
  median over the models of flash - constants - tables - kernel modules;
- the measured flash of every build (what `ferrite sim` reports), which the converter's test
  compares its estimate with.

    cargo build --release -p ferrite-mcu-cli
    python3 tools/bench/code_sizes.py            # about 10 minutes: one firmware build per row

Needs numpy and the llvm-tools rustup component. Models come from $FERRITE_SHARED_MODELS
(default ../shared/models). Optional tooling, not part of CI.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tools/convert/src/code_sizes.rs"
# (board, the converter's target name, models as (name, --int8-weights)).
RUNS = [
    ("qemu-m4", "cortex-m-dsp", [
        ("vww_96_int8", "none"), ("vww_96_int8", "all"), ("person_detect", "none"),
        ("resnet8_int8", "none"), ("micro_speech_int8", "none"), ("hello_world_int8", "none"),
        ("hello_world_float", "none"), ("resnet8_float", "none"),
    ]),
    ("qemu-m3", "cortex-m-nodsp", [
        ("vww_96_int8", "none"), ("resnet8_int8", "none"), ("hello_world_float", "none"),
    ]),
    ("qemu-m55", "helium", [
        ("vww_96_int8", "none"), ("resnet8_int8", "none"), ("hello_world_float", "none"),
    ]),
]
# Inlined `arch::` code belongs to the kernel module that calls it.
ARCH = {
    "cortex_m_dsp::gemm": "gemm", "cortex_m_dsp::depthwise": "depthwise_dsp",
    "cortex_m_dsp::dsp16": "dsp16", "helium::gemm": "conv_helium",
    "helium::depthwise": "depthwise_helium",
}


def shared_models() -> Path:
    return Path(os.environ.get("FERRITE_SHARED_MODELS", ROOT.parent / "shared" / "models"))


def llvm_nm() -> str:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True,
                             check=True).stdout.strip()
    found = sorted(Path(sysroot).glob("lib/rustlib/*/bin/llvm-nm"))
    if not found:
        sys.exit("llvm-nm not found: rustup component add llvm-tools")
    return str(found[0])


def module_of(symbol: str):
    m = re.search(r"ferrite_kernels::ops::(\w+)::", symbol)
    if m:
        return m.group(1)
    m = re.search(r"ferrite_kernels::arch::(\w+::\w+)::", symbol)
    if m:
        return ARCH.get(m.group(1))
    return None


def measure(ferrite: Path, nm: str, board: str, target: str, model: str, int8: str) -> dict:
    d = shared_models() / model
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "in.npy"
        np.save(one, np.load(d / f"{model}.inputs.npy")[:1])
        run = subprocess.run(
            [str(ferrite), "sim", str(d / f"{model}.tflite"), "--board", board, "--input",
             str(one), "--json", "--int8-weights", int8],
            capture_output=True, text=True, check=False)
        if run.returncode != 0:
            sys.exit(f"ferrite sim {model} --board {board} failed:\n{run.stderr}")
    sim = json.loads(run.stdout)
    inspect = json.loads(subprocess.run(
        [str(ferrite), "inspect", str(d / f"{model}.tflite"), "--target", target, "--json",
         "--int8-weights", int8, "--kernels", "portable"],
        capture_output=True, text=True, check=True).stdout)
    modules, consts, layer_table, tensor_table = {}, 0, 0, 0
    for line in subprocess.run([nm, "--print-size", "-C", sim["elf"]], capture_output=True,
                               text=True, check=True).stdout.splitlines():
        parts = line.split(None, 3)
        if len(parts) != 4:
            continue
        size, kind, name = int(parts[1], 16), parts[2], parts[3]
        if kind in "rR":
            if "::model::CONSTS::" in name:
                consts += size
            elif "::model::LAYER_TABLE::" in name:
                layer_table += size
            elif "::model::TENSOR_TABLE::" in name:
                tensor_table += size
        elif kind in "tT":
            m = module_of(name)
            if m is not None:
                modules[m] = modules.get(m, 0) + size
    n_layers, n_tensors = len(inspect["layers"]), len(inspect["tensors"])
    rest = sim["flash_bytes"] - consts - layer_table - tensor_table - sum(modules.values())
    print(f"{board} {model} int8={int8}: flash {sim['flash_bytes']:,} = consts {consts:,} + "
          f"tables {layer_table + tensor_table:,} + kernels {sum(modules.values()):,} "
          f"{modules} + rest {rest:,}", file=sys.stderr)
    return dict(board=board, target=target, model=model, int8=int8,
                kind="f32" if "float" in model else "int",
                flash=sim["flash_bytes"], modules=modules, rest=rest,
                per_layer=layer_table // max(n_layers, 1),
                per_tensor=tensor_table // max(n_tensors, 1))


def main() -> None:
    ferrite = ROOT / "target/release/ferrite"
    nm = llvm_nm()
    results = [measure(ferrite, nm, board, target, model, int8)
               for board, target, models in RUNS for model, int8 in models]
    lines = [
        "//! Generated by `python3 tools/bench/code_sizes.py` from the board firmware's symbols",
        "//! (`llvm-nm --print-size`): do not edit. See [`crate::flash`].",
        "",
        "/// `(target, kernel module, kind, bytes of code)`: the largest size the module's",
        "/// functions took in a board firmware built for the target, for float (`f32`) or integer",
        "/// (`int`) models.",
        "pub const MODULES: &[(&str, &str, &str, usize)] = &[",
    ]
    for board, target, _ in RUNS:
        sizes = {}
        for r in results:
            if r["target"] == target:
                for m, s in r["modules"].items():
                    sizes[(m, r["kind"])] = max(sizes.get((m, r["kind"]), 0), s)
        for m, kind in sorted(sizes):
            lines.append(f'    ("{target}", "{m}", "{kind}", {sizes[(m, kind)]}),')
    lines += [
        "];",
        "",
        "/// `(target, base bytes, layer table bytes per layer, tensor table bytes per tensor)`:",
        "/// the base is the median over the measured builds of the flash that is neither",
        "/// constants, tables nor kernel modules (vector table, runtime, the board harness).",
        "pub const BASE: &[(&str, usize, usize, usize)] = &[",
    ]
    for board, target, _ in RUNS:
        rs = [r for r in results if r["target"] == target]
        base = int(statistics.median(r["rest"] for r in rs))
        lines.append(f'    ("{target}", {base}, {rs[0]["per_layer"]}, {rs[0]["per_tensor"]}),')
    lines += [
        "];",
        "",
        "/// `(target, model, int8 weights, flash bytes)` as `ferrite sim --json` measured them.",
        "pub const MEASURED: &[(&str, &str, &str, usize)] = &[",
    ]
    for r in results:
        lines.append(f'    ("{r["target"]}", "{r["model"]}", "{r["int8"]}", {r["flash"]}),')
    lines.append("];")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
