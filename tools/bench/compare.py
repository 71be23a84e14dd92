#!/usr/bin/env python3
"""Side-by-side host latency of Ferrite, LiteRT (XNNPACK) and tract on the same models.

Runs every engine on one thread, on the same input sample, in the same run, alternating
engines round by round so that machine noise hits them alike, and prints the median latency
of one inference per engine and the ratios. Optional tooling, not part of CI:

    pip install ai-edge-litert numpy          # LiteRT (its default XNNPACK delegate)
    cargo build --release -p ferrite-mcu-cli      # Ferrite (`ferrite bench --json`)
    python3 tools/bench/compare.py            # tract is built on first use, outside the repo
    python3 tools/bench/compare.py --write docs/performance.md

tract has no TFLite support in its Python package, so the script builds a tiny Rust program
around the `tract-tflite` crate in a cache directory (`~/.cache/ferrite-bench/tract`, or
`--tract-dir`) the first time; `--no-tract` skips it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every model of ../shared/models that LiteRT loads (it rejects person_detect's per-channel
# quantization on dimension 3): the bar is "every float model" and "int8".
DEFAULT_MODELS = ["vww_96_int8", "resnet8_int8", "micro_speech_int8", "hello_world_int8",
                  "vww_96_float", "resnet8_float", "hello_world_float"]
TRACT_VERSION = "0.23.9"

TRACT_CARGO = f"""[package]
name = "tract-bench"
version = "0.1.0"
edition = "2021"

[dependencies]
tract-tflite = "={TRACT_VERSION}"
tract-core = "={TRACT_VERSION}"
npyz = "0.9"
serde_json = "1"

[profile.release]
codegen-units = 4
"""

# Times one inference of a .tflite model in tract on one thread (the first sample of the
# input .npy, given in the model's own input type); prints one JSON object.
TRACT_MAIN = r"""
use std::time::Instant;
use tract_tflite::prelude::*;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let (model_path, input_path) = (&args[1], &args[2]);
    let min_secs: f64 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(2.0);
    let bytes = std::fs::read(input_path)?;
    let npy = npyz::NpyFile::new(&bytes[..])?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let is_float = format!("{:?}", npy.dtype()).contains("Float");
    let model = tract_tflite::tflite()
        .model_for_path(model_path)?
        .into_optimized()?
        .into_runnable()?;
    let fact = model.model().input_fact(0)?.clone();
    let sample: Vec<usize> = fact.shape.as_concrete().unwrap().to_vec();
    let per: usize = shape[1..].iter().product();
    let input: Tensor = if is_float {
        let v: Vec<f32> = npyz::NpyFile::new(&bytes[..])?.into_vec()?;
        tract_ndarray::ArrayD::from_shape_vec(sample, v[..per].to_vec())?.into_tensor()
    } else {
        let v: Vec<i8> = npyz::NpyFile::new(&bytes[..])?.into_vec()?;
        let mut t = tract_ndarray::ArrayD::from_shape_vec(sample, v[..per].to_vec())?.into_tensor();
        unsafe { t.set_datum_type(fact.datum_type) };
        t
    };
    let mut state = model.spawn()?;
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < 0.2 {
        state.run(tvec!(input.clone().into_tvalue()))?;
    }
    let mut times = vec![];
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < min_secs || times.len() < 20 {
        let inp = tvec!(input.clone().into_tvalue());
        let t = Instant::now();
        let out = state.run(inp)?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(out);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let out = state.run(tvec!(input.into_tvalue()))?;
    let raw: Vec<f64> = match out[0].datum_type().unquantized() {
        DatumType::I8 => unsafe { out[0].as_slice_unchecked::<i8>() }.iter().map(|&x| x as f64).collect(),
        DatumType::U8 => unsafe { out[0].as_slice_unchecked::<u8>() }.iter().map(|&x| x as f64).collect(),
        _ => out[0].cast_to::<f32>()?.to_plain_array_view::<f32>()?.iter().map(|&x| x as f64).collect(),
    };
    println!("{}", serde_json::json!({
        "median_us": times[times.len() / 2], "runs": times.len(), "path": "tract", "output": raw,
    }));
    Ok(())
}
"""


def build_tract(directory: Path) -> Path:
    """Builds the tract helper (once) and returns its binary."""
    binary = directory / "target" / "release" / "tract-bench"
    src = directory / "src" / "main.rs"
    if binary.exists() and src.exists() and src.read_text() == TRACT_MAIN:
        return binary
    (directory / "src").mkdir(parents=True, exist_ok=True)
    (directory / "Cargo.toml").write_text(TRACT_CARGO)
    src.write_text(TRACT_MAIN)
    print(f"building tract-tflite {TRACT_VERSION} helper in {directory} ...", file=sys.stderr)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet"],
        cwd=directory,
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(directory / "target")},
    )
    return binary


class LiteRT:
    """LiteRT's Python interpreter, one thread, default delegate (XNNPACK)."""

    name = "LiteRT (XNNPACK)"

    def __init__(self, model: Path, sample):
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=str(model), num_threads=1)
        self.it.allocate_tensors()
        inp = self.it.get_input_details()[0]
        self.it.set_tensor(inp["index"], sample.reshape(inp["shape"]))
        self.out = self.it.get_output_details()[0]["index"]

    def measure(self, seconds: float) -> dict:
        warm = time.perf_counter()
        while time.perf_counter() - warm < 0.2:
            self.it.invoke()
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < 20:
            t = time.perf_counter()
            self.it.invoke()
            times.append((time.perf_counter() - t) * 1e6)
        return {"median_us": statistics.median(times), "runs": len(times)}

    def output(self):
        return self.it.get_tensor(self.out).ravel()


def run_json(cmd) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS, help="model names under --models-dir")
    ap.add_argument("--models-dir", type=Path, default=ROOT.parent / "shared" / "models")
    ap.add_argument("--ferrite", type=Path, default=ROOT / "target" / "release" / "ferrite",
                    help="the ferrite binary (cargo build --release -p ferrite-mcu-cli)")
    ap.add_argument("--kernels", default=None, help="Ferrite kernel set (default: the best)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of alternating engines")
    ap.add_argument("--seconds", type=float, default=1.0, help="measuring time per engine per round")
    ap.add_argument("--no-tract", action="store_true")
    ap.add_argument("--tract-dir", type=Path, default=Path.home() / ".cache" / "ferrite-bench" / "tract")
    ap.add_argument("--write", type=Path, help="replace the 'Host (x86-64)' section of this Markdown file")
    args = ap.parse_args()

    import numpy as np

    if not args.ferrite.exists():
        print(f"{args.ferrite} not found: cargo build --release -p ferrite-mcu-cli (or pass --ferrite)", file=sys.stderr)
        return 2
    tract = None if args.no_tract else build_tract(args.tract_dir)
    rows = []
    for name in args.models:
        d = args.models_dir / name
        model, inputs = d / f"{name}.tflite", d / f"{name}.inputs.npy"
        golden = np.load(d / f"{name}.outputs.npy")
        sample = np.load(inputs)[0]
        ferrite_cmd = [str(args.ferrite), "bench", str(model), "--input", str(inputs), "--json",
                       "--seconds", str(args.seconds), "--min-runs", "20"]
        if args.kernels:
            ferrite_cmd += ["--kernels", args.kernels]
        litert = LiteRT(model, sample)
        med = {"ferrite": [], "litert": [], "tract": []}
        path = "?"
        tract_error = None
        tract_out = None
        for _ in range(args.rounds):
            f = run_json(ferrite_cmd)
            path = f["path"]
            med["ferrite"].append(f["median_us"])
            med["litert"].append(litert.measure(args.seconds)["median_us"])
            if tract is not None and tract_error is None:
                try:
                    t = run_json([str(tract), str(model), str(inputs), str(args.seconds)])
                    med["tract"].append(t["median_us"])
                    tract_out = np.array(t["output"])
                except subprocess.CalledProcessError as e:
                    tract_error = (e.stderr or "").strip().splitlines()[0:1] or ["failed"]
        # Outputs: Ferrite must reproduce the golden (TFLite Micro reference) exactly for int8.
        verify = subprocess.run(
            [str(args.ferrite), "verify", str(model), "--input", str(inputs),
             "--expected", str(d / f"{name}.outputs.npy")] + (["--kernels", args.kernels] if args.kernels else []),
            capture_output=True, text=True)
        g0 = golden[0].ravel().astype(np.float64)
        lite_ok = np.allclose(litert.output().astype(np.float64), g0, rtol=1e-5, atol=0) if golden.dtype == np.float32 \
            else bool((litert.output().astype(np.int64) == golden[0].ravel().astype(np.int64)).all())
        tract_ok = None if tract_out is None else (
            np.allclose(tract_out, g0, rtol=1e-5, atol=0) if golden.dtype == np.float32
            else bool((tract_out.astype(np.int64) == g0.astype(np.int64)).all()))
        rows.append({
            "model": name, "path": path,
            "ferrite": statistics.median(med["ferrite"]),
            "litert": statistics.median(med["litert"]),
            "tract": statistics.median(med["tract"]) if med["tract"] else None,
            "tract_error": " ".join(tract_error) if tract_error else None,
            "ferrite_exact": verify.returncode == 0,
            "litert_matches": lite_ok, "tract_matches": tract_ok,
        })
        print(json.dumps(rows[-1]), file=sys.stderr)

    table = render(rows, args)
    print(table)
    if args.write:
        write_section(args.write, table)
    return 0


def render(rows, args) -> str:
    def us(v):
        return "—" if v is None else f"{v:,.1f}"

    lines = [
        "## Host (x86-64)",
        "",
        f"One inference, one thread, median of {args.rounds} alternating rounds of "
        f"{args.seconds:g} s per engine, same input sample, same run, on {cpu_name()} "
        f"({os.cpu_count()} cores). Produced by `python3 tools/bench/compare.py`; "
        "LiteRT is `ai-edge-litert` with its default XNNPACK delegate, "
        + ("tract was not run (`--no-tract`)." if args.no_tract
           else f"tract is `tract-tflite` {TRACT_VERSION}."),
        "",
        "| model | Ferrite kernels | Ferrite µs | LiteRT µs | tract µs | Ferrite / LiteRT | Ferrite / tract | Ferrite output | LiteRT output | tract output |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        lr = r["ferrite"] / r["litert"]
        tr = "—" if r["tract"] is None else f"{r['ferrite'] / r['tract']:.3f}"
        exact = "exact" if "int8" in r["model"] else "within 1e-5"
        ferrite_out = f"= golden ({exact})" if r["ferrite_exact"] else "MISMATCH"
        tract_out = ("fails to load" if r["tract_error"] else "—") if r["tract_matches"] is None else (
            "= golden" if r["tract_matches"] else "differs from golden")
        lines.append(
            f"| {r['model']} | {r['path']} | {us(r['ferrite'])} | {us(r['litert'])} | {us(r['tract'])} "
            f"| {lr:.2f} | {tr} | {ferrite_out} "
            f"| {'= golden' if r['litert_matches'] else 'differs from golden'} | {tract_out} |")
    lines += [
        "",
        "Ratios below 1 mean Ferrite is faster. \"golden\" is the TFLite Micro reference output "
        "(`*.outputs.npy`): Ferrite's int8 outputs must equal it byte for byte and its float "
        "outputs within 1e-5 relative; LiteRT's XNNPACK kernels requantize differently and may "
        "differ by a step.",
        "",
        "Notes: the machine is shared (2 cores, other builds running), hence the alternating "
        "rounds and medians. "
        + ("" if args.no_tract else
           "tract's int8 support for these files is partial: it converts vww_96_int8 but its "
           "output is not the model's, and it rejects resnet8_int8's quantized ADD. ")
        + "Ferrite's int8 kernels requantize as TFLite Micro does (a 64-bit high multiply "
        "and a rounding shift per output, in integer lanes), which XNNPACK's `fp32` "
        "requantization does not (hence its different vww_96_int8 output); layers with few "
        "multiply-accumulates per output (depthwise, 1x1 convolutions of 8 input channels) "
        "are bound by that stage. "
        "Ferrite's float convolutions and depthwise convolutions (AVX2/AVX-512) compute the "
        "reference's sums in the reference's order, without fused multiply-adds (which would "
        "break the 1e-5 bound on near-cancelling single-operator goldens), so its float outputs "
        "are the portable kernels'; the other float operators run the portable kernels. "
        "Per-layer Ferrite times: "
        "`ferrite bench MODEL --layers`; per-kernel and per-model criterion benchmarks: "
        "`cargo bench -p ferrite-mcu-kernels`, `cargo bench -p ferrite-mcu-convert --bench models`.",
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replaces (or appends) the '## Host (x86-64)' section, leaving other sections alone."""
    text = path.read_text() if path.exists() else "# Performance\n"
    start = text.find("## Host (x86-64)")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else "\n" + text[end + 1:])
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
