//! `ferrite`: convert, inspect, run and verify TensorFlow Lite models with Ferrite.

use clap::{Parser, Subcommand};
use ferrite_convert::{compile, host, npy, Compiled, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;

#[derive(Parser)]
#[command(
    name = "ferrite",
    version,
    about = "Ferrite: TFLite models as static Rust for microcontrollers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Kernels for running models here: `best` (the default: the fastest this CPU runs, also
    /// settable with FERRITE_KERNELS), `portable`, `sse4.1`, `avx2`, `avx512vnni`, `neon`.
    #[arg(long, global = true)]
    kernels: Option<String>,
}

/// The kernels `load` converts for (set once from the command line).
static KERNELS: std::sync::OnceLock<ferrite_convert::kernels::KernelSet> =
    std::sync::OnceLock::new();

#[derive(Subcommand)]
enum Command {
    /// Convert a .tflite model into a Rust module (static arrays, arena plan, kernels).
    Convert {
        /// The .tflite model.
        model: PathBuf,
        /// Where to write the Rust module.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Show layers, shapes, MACs, parameters and the arena plan.
    Inspect {
        /// The .tflite model.
        model: PathBuf,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Run samples through the model on this machine (the same kernels the device runs).
    Run {
        /// The .tflite model.
        model: PathBuf,
        /// Inputs: N samples stacked on a leading axis, in the model's input type (repeat the
        /// option once per input for models with several inputs).
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Where to write the N outputs, stacked the same way (one per model output).
        #[arg(long, required = true)]
        output: Vec<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Run samples and compare with expected outputs (int8 exact, float within 1e-5 relative).
    Verify {
        /// The .tflite model.
        model: PathBuf,
        /// Inputs: N samples stacked on a leading axis (once per model input).
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Expected outputs, stacked the same way (once per model output).
        #[arg(long, required = true)]
        expected: Vec<PathBuf>,
        /// Relative tolerance for float outputs.
        #[arg(long, default_value_t = 1e-5)]
        rtol: f64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Time one inference on one thread: the median over enough runs to be stable.
    Bench {
        /// The .tflite model.
        model: PathBuf,
        /// Input samples (.npy, once per model input); the first sample is timed. Without it,
        /// every input is its zero point.
        #[arg(long)]
        input: Vec<PathBuf>,
        /// Print one JSON object (`median_us`, `runs`, `path`, ...) instead of text.
        #[arg(long)]
        json: bool,
        /// Keep measuring for at least this many seconds...
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// ...and at least this many runs.
        #[arg(long, default_value_t = 200)]
        min_runs: usize,
        /// Also report each layer's median time.
        #[arg(long)]
        layers: bool,
    },
}

fn load(model: &Path) -> Result<Compiled, String> {
    let bytes = std::fs::read(model).map_err(|e| format!("reading {}: {e}", model.display()))?;
    let options = Options {
        kernels: KERNELS
            .get()
            .copied()
            .unwrap_or(ferrite_convert::kernels::KernelSet::PORTABLE),
        ..Options::default()
    };
    let c = compile(&bytes, &options).map_err(|e| format!("{}: {e}", model.display()))?;
    for w in &c.report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(c)
}

fn threads(n: Option<usize>) -> usize {
    n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let kernels = match &cli.kernels {
        Some(name) => ferrite_convert::kernels::by_name(name),
        None => ferrite_convert::kernels::from_env(),
    };
    match kernels {
        Ok(k) => {
            let _ = KERNELS.set(k);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Convert { model, output } => convert(&model, &output),
        Command::Inspect { model, json } => inspect(&model, json),
        Command::Run {
            model,
            input,
            output,
            threads: t,
        } => run(&model, &input, &output, threads(t)),
        Command::Verify {
            model,
            input,
            expected,
            rtol,
            threads: t,
        } => verify(&model, &input, &expected, rtol, threads(t)),
        Command::Bench {
            model,
            input,
            json,
            seconds,
            min_runs,
            layers,
        } => bench::bench(&model, &input, json, seconds, min_runs, layers),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn convert(model: &Path, output: &Path) -> Result<ExitCode, String> {
    let c = ferrite_convert::Builder::new(model)
        .emit_to(output)
        .map_err(|e| format!("{}: {e}", model.display()))?;
    for w in &c.report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "wrote {}: {} layers, {} MACs, {} bytes of constants, arena {} bytes",
        output.display(),
        c.layers.len(),
        c.report.macs,
        c.report.weight_bytes,
        c.arena_bytes
    );
    Ok(ExitCode::SUCCESS)
}

fn shapes(v: &[Vec<usize>]) -> String {
    v.iter()
        .map(|s| format!("{s:?}").replace(' ', ""))
        .collect::<Vec<_>>()
        .join(" ")
}

fn inspect(model: &Path, json: bool) -> Result<ExitCode, String> {
    let c = load(model)?;
    let r = &c.report;
    if json {
        let v = serde_json::json!({
            "model": model.display().to_string(),
            "arena_bytes": r.arena_bytes,
            "arena_lower_bound": r.arena_lower_bound,
            "naive_activation_bytes": r.naive_activation_bytes,
            "macs": r.macs,
            "weight_bytes": r.weight_bytes,
            "layers": r.layers,
            "tensors": r.tensors,
            "warnings": r.warnings,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", model.display());
    println!(
        "{:>3}  {:<23} {:<22} {:<20} {:>10} {:>8} {:>7}  kernel",
        "#", "op", "inputs", "outputs", "MACs", "params", "offset"
    );
    for l in &r.layers {
        let kernel = l.kernel.rsplit("::").next().unwrap_or(l.kernel);
        println!(
            "{:>3}  {:<23} {:<22} {:<20} {:>10} {:>8} {:>7}  {}",
            l.index,
            l.op,
            shapes(&l.input_shapes),
            shapes(&l.output_shapes),
            l.macs,
            l.param_bytes,
            l.arena_offset,
            kernel
        );
    }
    println!();
    println!("MACs                      {:>10}", r.macs);
    println!("weights and constants     {:>10} bytes", r.weight_bytes);
    println!(
        "arena                     {:>10} bytes (lower bound {}, naive sum of activations {})",
        r.arena_bytes, r.arena_lower_bound, r.naive_activation_bytes
    );
    Ok(ExitCode::SUCCESS)
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<npy::Array>, String> {
    paths.iter().map(|p| npy::read(p)).collect()
}

fn run(
    model: &Path,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    threads: usize,
) -> Result<ExitCode, String> {
    let c = load(model)?;
    if outputs.len() != c.outputs.len() {
        return Err(format!(
            "the model has {} outputs; give --output once for each",
            c.outputs.len()
        ));
    }
    let inp = read_all(inputs)?;
    let start = std::time::Instant::now();
    let out = host::run_all(&c, &inp, threads)?;
    let n = out.first().map_or(0, |a| a.shape[0]);
    for (a, path) in out.iter().zip(outputs) {
        npy::write(path, a)?;
    }
    eprintln!(
        "{n} samples in {:.3} s on {threads} thread(s)",
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(
    model: &Path,
    inputs: &[PathBuf],
    expected: &[PathBuf],
    rtol: f64,
    threads: usize,
) -> Result<ExitCode, String> {
    let c = load(model)?;
    if expected.len() != c.outputs.len() {
        return Err(format!(
            "the model has {} outputs; give --expected once for each",
            c.outputs.len()
        ));
    }
    let inp = read_all(inputs)?;
    let exp = read_all(expected)?;
    let out = host::run_all(&c, &inp, threads)?;
    let n = out.first().map_or(0, |a| a.shape[0]);
    for (k, (o, e)) in out.iter().zip(&exp).enumerate() {
        if e.data.dtype() != o.data.dtype() || e.data.len() != o.data.len() {
            return Err(format!(
                "expected array {k} is {} {:?} but the model produces {} {:?}",
                e.data.dtype(),
                e.shape,
                o.data.dtype(),
                o.shape
            ));
        }
    }
    let mut failed = 0;
    for s in 0..n {
        let mut mismatch = None;
        for (k, (o, e)) in out.iter().zip(&exp).enumerate() {
            let per = o.data.len() / n.max(1);
            if let Some(m) = host::first_mismatch(&o.data, &e.data, s * per, per, rtol) {
                mismatch = Some((k, m));
                break;
            }
        }
        match mismatch {
            None => println!("sample {s}: ok"),
            Some((k, (i, got, want))) => {
                failed += 1;
                println!(
                    "sample {s}: MISMATCH in output {k} at index {i}: got {got}, expected {want}"
                );
            }
        }
    }
    println!("{} of {n} samples match", n - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
