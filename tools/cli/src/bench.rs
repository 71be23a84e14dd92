//! `ferrite bench`: the latency of one inference on one thread.

use ferrite_convert::{host, npy, Compiled};
use ferrite_core::{Layer, LayerHook, NoHook};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Times each layer of one run.
struct LayerTimes {
    start: Instant,
    times: Vec<Duration>,
}

impl LayerHook for LayerTimes {
    fn before_layer(&mut self, _index: usize, _layer: &Layer) {
        self.start = Instant::now();
    }
    fn after_layer(&mut self, index: usize, _layer: &Layer, _arena: &[u8]) {
        self.times[index] = self.start.elapsed();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

/// Sets every input of `c` in `arena`: sample 0 of `inputs`, or each tensor's zero point.
/// Returns the bytes of the input read in place (`Model::input_in_place`), empty if none.
fn set_inputs(c: &Compiled, arena: &mut [u8], inputs: &[npy::Array]) -> Result<Vec<u8>, String> {
    let model = c.model();
    if !inputs.is_empty() {
        host::samples(c, inputs)?;
    }
    let mut in_place = Vec::new();
    for i in 0..c.inputs.len() {
        let t = c.input(i).ok_or("missing input")?;
        let bytes: Vec<u8> = match inputs.get(i) {
            Some(input) => input.data.bytes(0, t.num_elements()),
            None => {
                let zp = t.zero_point.to_le_bytes();
                (0..t.size_bytes())
                    .map(|k| zp[k % t.dtype.size_bytes()])
                    .collect()
            }
        };
        if model.input_in_place(i).map_err(|e| e.to_string())? {
            in_place = bytes;
        } else {
            model
                .set_input_bytes(arena, i, &bytes)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(in_place)
}

/// Runs the benchmark and prints its result.
pub fn bench(
    path: &Path,
    inputs: &[PathBuf],
    json: bool,
    seconds: f64,
    min_runs: usize,
    layers: bool,
) -> Result<ExitCode, String> {
    let c = super::load(path)?;
    let inputs = inputs
        .iter()
        .map(|p| npy::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let model = c.model();
    let mut arena = c.new_arena();
    // A stateful model (SVDF, TFLM's signal ops) runs on its state region, carried from run
    // to run as on a device streaming its input.
    let mut state = c.new_state();
    model
        .reset_state(state.as_mut_slice())
        .map_err(|e| e.to_string())?;
    let in_place = set_inputs(&c, arena.as_mut_slice(), &inputs)?;
    // Warm caches, branch predictors and clocks before measuring.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        model
            .invoke_stateful_with_hook(
                arena.as_mut_slice(),
                state.as_mut_slice(),
                &in_place,
                &mut NoHook,
            )
            .map_err(|e| e.to_string())?;
    }
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < min_runs.max(1) || start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        model
            .invoke_stateful_with_hook(
                arena.as_mut_slice(),
                state.as_mut_slice(),
                &in_place,
                &mut NoHook,
            )
            .map_err(|e| e.to_string())?;
        runs.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let med = median(&mut runs);
    let mean = runs.iter().sum::<f64>() / runs.len() as f64;
    let mut per_layer = Vec::new();
    if layers {
        let n = c.layers.len();
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut hook = LayerTimes {
            start: Instant::now(),
            times: vec![Duration::ZERO; n],
        };
        for _ in 0..runs.len().min(2000) {
            model
                .invoke_stateful_with_hook(
                    arena.as_mut_slice(),
                    state.as_mut_slice(),
                    &in_place,
                    &mut hook,
                )
                .map_err(|e| e.to_string())?;
            for (s, t) in samples.iter_mut().zip(&hook.times) {
                s.push(t.as_secs_f64() * 1e6);
            }
        }
        for (l, mut s) in c.report.layers.iter().zip(samples) {
            per_layer.push((l, median(&mut s)));
        }
    }
    let isa = ferrite_convert::kernels::KernelSet::isa(c_kernels());
    let macs = c.report.macs;
    if json {
        let v = serde_json::json!({
            "model": path.display().to_string(),
            "median_us": med,
            "mean_us": mean,
            "min_us": runs.first().copied().unwrap_or(0.0),
            "p10_us": percentile(&runs, 0.1),
            "p90_us": percentile(&runs, 0.9),
            "runs": runs.len(),
            "threads": 1,
            "path": isa.name(),
            "macs": macs,
            "gmacs_per_s": macs as f64 / med / 1e3,
            "layers": per_layer.iter().map(|(l, t)| serde_json::json!({
                "index": l.index, "op": l.op, "kernel": l.kernel, "macs": l.macs, "median_us": t,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string(&v).map_err(|e| e.to_string())?);
    } else {
        println!("{}", path.display());
        println!(
            "median {med:.1} us  (mean {mean:.1}, p10 {:.1}, p90 {:.1}) over {} runs, one thread, {} kernels, {:.1} GMAC/s",
            percentile(&runs, 0.1),
            percentile(&runs, 0.9),
            runs.len(),
            isa,
            macs as f64 / med / 1e3
        );
        for (l, t) in &per_layer {
            let kernel = l.kernel.rsplit("::").next().unwrap_or(l.kernel);
            println!(
                "{:>3}  {:<18} {:>10} MACs {:>9.1} us  {}",
                l.index, l.op, l.macs, t, kernel
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The kernel set models are loaded with.
fn c_kernels() -> ferrite_convert::kernels::KernelSet {
    super::KERNELS
        .get()
        .copied()
        .unwrap_or(ferrite_convert::kernels::KernelSet::PORTABLE)
}
