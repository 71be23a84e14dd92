//! `ferrite`: convert, inspect, run and verify TensorFlow Lite models with Ferrite.

use clap::{Parser, Subcommand};
use ferrite_convert::{compile, host, npy, Compiled, Options};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod device;
mod eval;
mod plot;
mod sim;

#[derive(Parser)]
#[command(
    name = "ferrite",
    version,
    about = "Ferrite: TFLite models as static Rust for microcontrollers"
)]
struct Cli {
    /// Kernels to convert for: portable (any CPU, the host), cortex-m-nodsp (M0/M0+/M3),
    /// cortex-m-dsp (M4/M7/M33 with the DSP extension), or helium (M55 with MVE); the layouts
    /// those kernels read, run here by their portable twins.
    /// (Default: portable; `sim` uses the board's.)
    #[arg(long, global = true)]
    target: Option<String>,
    #[command(subcommand)]
    command: Command,
    /// Kernels for running models here: `best` (the default: the fastest this CPU runs, also
    /// settable with FERRITE_KERNELS), `portable`, `sse4.1`, `avx2`, `avx512vnni`, `neon`.
    #[arg(long, global = true)]
    kernels: Option<String>,
    /// The batch an unknown batch dimension (a Keras model's `None` batch, `-1` in the
    /// model's shape signature) is fixed to; shape arithmetic is folded for it. Default 1.
    #[arg(long, global = true)]
    batch: Option<usize>,
    /// Most bytes of arena the plan may use: the converter picks the fastest plan that fits
    /// (a patch-based prefix run in bands of rows, the input read in place from the caller's
    /// buffer) or fails naming the smallest arena it reached. Default: no limit (for `sim`,
    /// the board's RAM).
    #[arg(long, global = true, value_name = "BYTES")]
    max_arena: Option<usize>,
    /// Most bytes of flash (code and constants; `inspect`'s estimate, kept 1% below it for the
    /// estimate's error) the plan may use: convolutions keep int8 weights instead of the DSP kernels' 16-bit ones, the fewest that
    /// fit, or the conversion fails naming the least flash reached. Default: no limit (for
    /// `sim`, the board's flash).
    #[arg(long, global = true, value_name = "BYTES")]
    max_flash: Option<usize>,
    /// Force a plan instead of a budget (for experiments): run the prefix ending with TFLite
    /// operator OP in BANDS bands, the input read in place.
    #[arg(long, global = true, value_name = "OP:BANDS", hide = true)]
    patch: Option<String>,
    /// Force depthwise convolutions in place where safe (for experiments).
    #[arg(long, global = true, hide = true)]
    in_place_ops: bool,
}

/// Where `run` and `verify` run the model: here, or on a board through its runner firmware.
#[derive(clap::Args)]
struct DeviceArgs {
    /// Run on a board instead of here: `qemu-m4` (or `qemu-m3`) builds the runner firmware
    /// (targets/qemu-mps2-an386 or -an385, binary ferrite-runner) with the model baked in and
    /// boots it in QEMU; a serial port path (/dev/ttyACM0) talks to a board flashed with a runner built
    /// for this model. Samples stream over the link (framed, CRC-checked, corrupted frames
    /// resent); outputs and each inference's instructions (QEMU) or cycles come back.
    #[arg(long)]
    device: Option<String>,
    /// Directory of the board crates, for --device (default: the source tree's `targets/`).
    #[arg(long)]
    targets_dir: Option<PathBuf>,
}

/// The kernels `load` converts for (set once from the command line).
static KERNELS: std::sync::OnceLock<ferrite_convert::kernels::KernelSet> =
    std::sync::OnceLock::new();
/// The batch chosen on the command line.
static BATCH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn batch() -> usize {
    BATCH.get().copied().unwrap_or(1)
}

/// The arena budget chosen on the command line.
static MAX_ARENA: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn max_arena() -> Option<usize> {
    MAX_ARENA.get().copied()
}

/// The flash budget chosen on the command line.
static MAX_FLASH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn max_flash() -> Option<usize> {
    MAX_FLASH.get().copied()
}

/// In-place depthwise forced on the command line (`--in-place-ops`).
static IN_PLACE_OPS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// A plan forced on the command line (`--patch`).
static PATCH: std::sync::OnceLock<ferrite_convert::compile::PatchChoice> =
    std::sync::OnceLock::new();

/// The layers `--int8-weights` chose (set once from the command line).
static INT8_WEIGHTS: std::sync::OnceLock<ferrite_convert::Int8Weights> = std::sync::OnceLock::new();

fn int8_weights() -> ferrite_convert::Int8Weights {
    INT8_WEIGHTS.get().cloned().unwrap_or_default()
}

fn set_int8_weights(layers: Option<ferrite_convert::Int8Weights>) {
    if let Some(l) = layers {
        let _ = INT8_WEIGHTS.set(l);
    }
}

/// `ferrite sim --stream`: the firmware carries the state from sample to sample.
static STREAM: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn stream() -> bool {
    STREAM.get().copied().unwrap_or(false)
}

/// The target chosen on the command line.
static TARGET: std::sync::OnceLock<ferrite_convert::Target> = std::sync::OnceLock::new();

fn target() -> ferrite_convert::Target {
    TARGET.get().copied().unwrap_or_default()
}

#[derive(Subcommand)]
enum Command {
    /// Convert a .tflite model into a Rust module (static arrays, arena plan, kernels).
    Convert {
        /// The .tflite model.
        model: PathBuf,
        /// Where to write the Rust module.
        #[arg(short, long)]
        output: PathBuf,
        /// Convolutions that keep int8 weights on the Cortex-M DSP target instead of
        /// 16-bit pre-shifted ones (twice the flash, a faster inner loop; a depthwise one widens
        /// them into RAM each time it runs): `none` (the
        /// default), `all`, or TFLite operator indices `I,J,K` (`tflite_op` in
        /// `inspect --json`).
        #[arg(long, value_name = "all|none|I,J,K", value_parser = ferrite_convert::Int8Weights::parse)]
        int8_weights: Option<ferrite_convert::Int8Weights>,
    },
    /// Show layers, shapes, MACs, parameters and the arena plan.
    Inspect {
        /// The .tflite model.
        model: PathBuf,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// Also draw the arena plan as SVG to this file: a box per buffer spanning the layers
        /// it is alive (x) and its bytes (y), with the arena size marked.
        #[arg(long, value_name = "SVG")]
        plot: Option<PathBuf>,
        /// Convolutions that keep int8 weights on the Cortex-M DSP target instead of
        /// 16-bit pre-shifted ones (twice the flash, a faster inner loop; a depthwise one widens
        /// them into RAM each time it runs): `none` (the
        /// default), `all`, or TFLite operator indices `I,J,K` (`tflite_op` in
        /// `inspect --json`).
        #[arg(long, value_name = "all|none|I,J,K", value_parser = ferrite_convert::Int8Weights::parse)]
        int8_weights: Option<ferrite_convert::Int8Weights>,
    },
    /// Measure a classifier on labelled samples: top-1 (and top-k) accuracy, a confusion
    /// matrix, and agreement with a reference model or with outputs computed elsewhere.
    ///
    /// The first model output holds the class scores; the prediction is its argmax. Float
    /// samples are quantized for a quantized model with its input scale and zero point;
    /// quantized samples are dequantized for a float reference with the other model's, and
    /// requantized for a reference quantized differently.
    Eval {
        /// The .tflite model (one input).
        model: PathBuf,
        /// Samples: N stacked on a leading axis (.npy), in the model's input type or float32.
        #[arg(long, required_unless_present = "images", requires = "labels")]
        input: Option<PathBuf>,
        /// Integer labels, one per sample (.npy), each a class index of the first output.
        #[arg(long, requires = "input")]
        labels: Option<PathBuf>,
        /// Instead of --input and --labels: a folder of PNG images in one subfolder per class,
        /// named by the class index (DIR/0/*.png, DIR/1/*.png, ...). Images must have the
        /// model's input height and width (no resizing); pixel p stands for p/255, read as
        /// grey for a 1-channel input and RGB for 3 channels.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["input", "labels"])]
        images: Option<PathBuf>,
        /// Also report top-K accuracy (the label among the K highest scores).
        #[arg(long, value_name = "K")]
        top: Option<usize>,
        /// A reference model on the same samples (e.g. the float model an int8 one came from):
        /// report how often the argmax agrees and the largest difference of the dequantized
        /// outputs.
        #[arg(long, value_name = "TFLITE")]
        reference: Option<PathBuf>,
        /// The model's outputs computed elsewhere (TFLM, LiteRT), stacked like `run` writes
        /// them: report exact matches and argmax agreement.
        #[arg(long, value_name = "NPY")]
        expected: Option<PathBuf>,
        /// Print one JSON object (accuracy, per-class counts, confusion matrix, agreement)
        /// and no progress bar.
        #[arg(long)]
        json: bool,
        /// Draw the confusion matrix as SVG to this file.
        #[arg(long, value_name = "SVG")]
        confusion_svg: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Run samples through the model on this machine (the same kernels the device runs), or
    /// with --device on a board: each sample streamed to its runner firmware over a serial
    /// link, outputs and instructions (QEMU) or cycles per sample reported.
    Run {
        /// The .tflite model.
        model: PathBuf,
        /// Inputs: N samples stacked on a leading axis, in the model's input type (repeat the
        /// option once per input for models with several inputs).
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Where to write the N outputs, stacked the same way (one per model output).
        #[arg(long, required_unless_present = "device")]
        output: Vec<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Carry the model's state (variable tensors, e.g. SVDF's activation state) from
        /// sample to sample, in order, as a device running a stream does; without it every
        /// sample starts from a fresh, reset state. On one thread.
        #[arg(long, conflicts_with = "threads")]
        stream: bool,
        /// Write every output with this shape (comma-separated, as many elements as the
        /// samples' outputs together), e.g. `--stream --output-shape 1,1960` to stack 49
        /// frames of 40 features as one classifier input.
        #[arg(long, value_delimiter = ',')]
        output_shape: Option<Vec<usize>>,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Build a board's firmware with the model and samples embedded, run it in QEMU, and
    /// report outputs, instructions, estimated cycles and flash reads per layer.
    Sim {
        /// The .tflite model.
        model: PathBuf,
        /// Emulated board: qemu-m4 (Cortex-M4F, DSP), qemu-m3 (Cortex-M3, no DSP), qemu-m0 (Cortex-M0+ code, ARMv6-M), qemu-m55 (Cortex-M55, Helium).
        #[arg(long, default_value = "qemu-m4")]
        board: String,
        /// Inputs: N samples stacked on a leading axis (once per model input).
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Where to write the outputs, stacked the same way (once per model output).
        #[arg(long)]
        output: Vec<PathBuf>,
        /// Integer labels (one per sample): print predicted class (argmax) against label.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Print one JSON object instead of tables.
        #[arg(long)]
        json: bool,
        /// Seconds QEMU may run before it is killed.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Directory of the board crates (default: the source tree's `targets/`).
        #[arg(long)]
        targets_dir: Option<PathBuf>,
        /// Convolutions that keep int8 weights on the Cortex-M DSP target instead of
        /// 16-bit pre-shifted ones (twice the flash, a faster inner loop; a depthwise one widens
        /// them into RAM each time it runs): `none` (the
        /// default), `all`, or TFLite operator indices `I,J,K` (`tflite_op` in
        /// `inspect --json`).
        #[arg(long, value_name = "all|none|I,J,K", value_parser = ferrite_convert::Int8Weights::parse)]
        int8_weights: Option<ferrite_convert::Int8Weights>,
        /// Carry the model's state (variable tensors) from sample to sample, in order, as
        /// `run --stream` does; without it the firmware resets the state before each sample.
        #[arg(long)]
        stream: bool,
    },
    /// Run samples and compare with expected outputs (int8 exact, float within 1e-5 relative),
    /// here or with --device on a board (each sample's instructions or cycles reported too).
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
        #[command(flatten)]
        device: DeviceArgs,
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
        target: target(),
        batch: batch(),
        max_arena: max_arena(),
        max_flash: max_flash(),
        patch: PATCH.get().copied(),
        input_in_place: PATCH.get().is_some(),
        in_place_ops: IN_PLACE_OPS.get().copied().unwrap_or(false),
        int8_weights: int8_weights(),
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
    if let Some(b) = cli.batch {
        let _ = BATCH.set(b);
    }
    if let Some(b) = cli.max_arena {
        let _ = MAX_ARENA.set(b);
    }
    if let Some(b) = cli.max_flash {
        let _ = MAX_FLASH.set(b);
    }
    if cli.in_place_ops {
        let _ = IN_PLACE_OPS.set(true);
    }
    if let Some(p) = &cli.patch {
        let parsed = p
            .split_once(':')
            .and_then(|(op, bands)| Some((op.parse().ok()?, bands.parse().ok()?)));
        match parsed {
            Some((last_op, bands)) => {
                let _ = PATCH.set(ferrite_convert::compile::PatchChoice { last_op, bands });
            }
            None => {
                eprintln!("error: --patch takes OP:BANDS, e.g. 7:4");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(name) = &cli.target {
        match ferrite_convert::Target::from_name(name) {
            Some(t) => {
                let _ = TARGET.set(t);
            }
            None => {
                eprintln!("error: unknown target {name}; targets: portable, cortex-m-nodsp (cortex-m3, cortex-m0, cortex-m0+), cortex-m-dsp (cortex-m4, cortex-m7, cortex-m33), helium (cortex-m55)");
                return ExitCode::FAILURE;
            }
        }
    }
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
        Command::Convert {
            model,
            output,
            int8_weights,
        } => {
            set_int8_weights(int8_weights);
            convert(&model, &output)
        }
        Command::Inspect {
            model,
            json,
            plot,
            int8_weights,
        } => {
            set_int8_weights(int8_weights);
            inspect(&model, json, plot.as_deref())
        }
        Command::Eval {
            model,
            input,
            labels,
            images,
            top,
            reference,
            expected,
            json,
            confusion_svg,
            threads: t,
            device,
        } => match (&images, &input, &labels) {
            (Some(dir), _, _) => Ok(eval::Samples::Images(dir)),
            (None, Some(input), Some(labels)) => Ok(eval::Samples::Arrays { input, labels }),
            _ => Err("give --input and --labels, or --images".to_string()),
        }
        .and_then(|samples| {
            eval::eval(&eval::EvalRequest {
                model: &model,
                samples,
                top,
                reference: reference.as_deref(),
                expected: expected.as_deref(),
                json,
                confusion_svg: confusion_svg.as_deref(),
                threads: threads(t),
                device: device.device.as_deref(),
                targets_dir: device.targets_dir.clone(),
            })
        }),
        Command::Run {
            model,
            input,
            output,
            threads: t,
            stream,
            output_shape,
            device,
        } => match device.device {
            Some(_) if stream => {
                Err("--stream runs on this machine only (not yet with --device)".to_string())
            }
            Some(_) if output_shape.is_some() => {
                Err("--output-shape runs on this machine only (not with --device)".to_string())
            }
            Some(name) => run_on_device(&model, &name, &input, &output, device.targets_dir),
            None if stream => run(&model, &input, &output, None, output_shape.as_deref()),
            None => run(
                &model,
                &input,
                &output,
                Some(threads(t)),
                output_shape.as_deref(),
            ),
        },
        Command::Sim {
            model,
            board,
            input,
            output,
            labels,
            json,
            timeout,
            targets_dir,
            int8_weights,
            stream,
        } => {
            set_int8_weights(int8_weights);
            let _ = STREAM.set(stream);
            simulate(
                &model,
                &board,
                &input,
                &output,
                labels.as_deref(),
                json,
                timeout,
                targets_dir,
            )
        }
        Command::Verify {
            model,
            input,
            expected,
            rtol,
            threads: t,
            device,
        } => match device.device {
            Some(name) => {
                verify_on_device(&model, &name, &input, &expected, rtol, device.targets_dir)
            }
            None => verify(&model, &input, &expected, rtol, threads(t)),
        },
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
        .target(target())
        .batch(batch())
        .max_arena(max_arena())
        .max_flash(max_flash())
        .int8_weights(int8_weights())
        .emit_to(output)
        .map_err(|e| format!("{}: {e}", model.display()))?;
    for w in &c.report.warnings {
        eprintln!("warning: {w}");
    }
    let state = if c.state_bytes > 0 {
        format!(", state {} bytes (STATE_BYTES)", c.state_bytes)
    } else {
        String::new()
    };
    println!(
        "wrote {}: {} layers, {} MACs, {} bytes of constants, arena {} bytes{state}, flash about {} bytes (estimate)",
        output.display(),
        c.layers.len(),
        c.report.macs,
        c.report.weight_bytes,
        c.arena_bytes,
        c.report.flash_bytes
    );
    Ok(ExitCode::SUCCESS)
}

fn shapes(v: &[Vec<usize>]) -> String {
    v.iter()
        .map(|s| format!("{s:?}").replace(' ', ""))
        .collect::<Vec<_>>()
        .join(" ")
}

fn inspect(model: &Path, json: bool, plot: Option<&Path>) -> Result<ExitCode, String> {
    let c = load(model)?;
    let r = &c.report;
    if let Some(path) = plot {
        let name = model.file_name().map_or_else(
            || model.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        std::fs::write(path, plot::plan_svg(r, &name))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        if !json {
            println!("wrote {}", path.display());
        }
    }
    if json {
        let v = serde_json::json!({
            "model": model.display().to_string(),
            "arena_bytes": r.arena_bytes,
            "arena_lower_bound": r.arena_lower_bound,
            "naive_activation_bytes": r.naive_activation_bytes,
            "macs": r.macs,
            "weight_bytes": r.weight_bytes,
            "flash_bytes": r.flash_bytes,
            "layers": r.layers,
            "tensors": r.tensors,
            "buffers": r.buffers,
            "warnings": r.warnings,
            "folded": r.folded,
            "patch": r.patch,
            "input_in_place": r.input_in_place,
            "in_place_layers": r.in_place_layers,
            "layerwise_lower_bound": r.layerwise_lower_bound,
            "state_bytes": r.state_bytes,
            "state": r.state,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", model.display());
    let op_width = r
        .layers
        .iter()
        .map(|l| l.op.len())
        .max()
        .unwrap_or(0)
        .max(23);
    println!(
        "{:>3}  {:<op_width$} {:<22} {:<20} {:>10} {:>8} {:>7} {:>7}  kernel",
        "#", "op", "inputs", "outputs", "MACs", "params", "offset", "live"
    );
    for l in &r.layers {
        let kernel = l.kernel.rsplit("::").next().unwrap_or(l.kernel);
        println!(
            "{:>3}  {:<op_width$} {:<22} {:<20} {:>10} {:>8} {:>7} {:>7}  {}",
            l.index,
            l.op,
            shapes(&l.input_shapes),
            shapes(&l.output_shapes),
            l.macs,
            l.param_bytes,
            l.arena_offset,
            l.live_bytes,
            kernel
        );
    }
    println!();
    if !r.folded.is_empty() {
        println!("folded or rewritten at conversion (no layer of their own on the device):");
        for f in &r.folded {
            println!("  {f}");
        }
        println!();
    }
    println!("MACs                      {:>10}", r.macs);
    println!("weights and constants     {:>10} bytes", r.weight_bytes);
    println!(
        "flash                     {:>10} bytes (estimate: constants, tables, kernel code and runtime for {:?})",
        r.flash_bytes,
        target()
    );
    println!(
        "arena                     {:>10} bytes (lower bound {}, naive sum of activations {})",
        r.arena_bytes, r.arena_lower_bound, r.naive_activation_bytes
    );
    if r.state_bytes > 0 {
        let vars: Vec<String> = r
            .state
            .iter()
            .map(|s| {
                format!(
                    "'{}' {}{}",
                    s.name,
                    s.dtype,
                    shapes(std::slice::from_ref(&s.shape))
                )
            })
            .collect();
        println!(
            "state                     {:>10} bytes (STATE_BYTES, kept across runs outside the arena: {})",
            r.state_bytes,
            vars.join(", ")
        );
    }
    if r.patch.is_some() || r.input_in_place || !r.in_place_layers.is_empty() {
        println!(
            "layer-by-layer floor      {:>10} bytes (every layer whole, input in the arena)",
            r.layerwise_lower_bound
        );
    }
    if let Some(p) = &r.patch {
        let (before, after) = p.prefix_macs;
        let bands: Vec<String> = p.bands.iter().map(|(a, b)| format!("{a}..{b}")).collect();
        println!(
            "patch-based prefix        operators #{} in {} bands of '{}' {:?} rows ({}); prefix MACs {} -> {} (+{:.1}% recomputed)",
            p.prefix_ops
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", #"),
            p.bands.len(),
            p.split_tensor,
            p.split_shape,
            bands.join(", "),
            before,
            after,
            100.0 * (after as f64 / before.max(1) as f64 - 1.0)
        );
    }
    if !r.in_place_layers.is_empty() {
        println!(
            "in place                  layers {} write over their input",
            r.in_place_layers
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if r.input_in_place {
        let bytes = c.input(0).map_or(0, |t| t.size_bytes());
        println!(
            "input 0                   {:>10} bytes read in place from the caller's buffer (outside the arena)",
            bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<npy::Array>, String> {
    paths.iter().map(|p| npy::read(p)).collect()
}

/// `ferrite run` on this machine: on `threads` threads, each sample from a fresh state, or
/// with `threads` `None` (`--stream`) in order on one state carried from sample to sample;
/// every output written with `shape` if given.
fn run(
    model: &Path,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    threads: Option<usize>,
    shape: Option<&[usize]>,
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
    let out = match threads {
        Some(threads) => host::run_all(&c, &inp, threads)?,
        None => host::run_stream(&c, &inp)?,
    };
    let n = out.first().map_or(0, |a| a.shape[0]);
    for (mut a, path) in out.into_iter().zip(outputs) {
        if let Some(shape) = shape {
            let (want, have) = (shape.iter().product::<usize>(), a.data.len());
            if want != have {
                return Err(format!(
                    "--output-shape {shape:?} holds {want} elements, {} has {have} ({:?})",
                    path.display(),
                    a.shape
                ));
            }
            a.shape = shape.to_vec();
        }
        npy::write(path, &a)?;
    }
    let how = threads.map_or_else(
        || "streamed in order on one state".to_string(),
        |t| format!("on {t} thread(s)"),
    );
    eprintln!(
        "{n} samples in {:.3} s {how}",
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
    compare(&out, &exp, rtol, |_| String::new())
}

/// Compares outputs with the expected ones sample by sample (int8 exact, float within `rtol`
/// relative), printing a line per sample (with `note(sample)` appended); fails on any mismatch.
fn compare(
    out: &[npy::Array],
    exp: &[npy::Array],
    rtol: f64,
    note: impl Fn(usize) -> String,
) -> Result<ExitCode, String> {
    let n = out.first().map_or(0, |a| a.shape[0]);
    for (k, (o, e)) in out.iter().zip(exp).enumerate() {
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
        for (k, (o, e)) in out.iter().zip(exp).enumerate() {
            let per = o.data.len() / n.max(1);
            if let Some(m) = host::first_mismatch(&o.data, &e.data, s * per, per, rtol) {
                mismatch = Some((k, m));
                break;
            }
        }
        match mismatch {
            None => println!("sample {s}: ok{}", note(s)),
            Some((k, (i, got, want))) => {
                failed += 1;
                println!(
                    "sample {s}: MISMATCH in output {k} at index {i}: got {got}, expected {want}{}",
                    note(s)
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

/// Converts `model` as the device's firmware does and streams the samples in `inputs` (one
/// .npy file per model input) through its runner.
fn on_device(
    model: &Path,
    device_name: &str,
    inputs: &[PathBuf],
    targets_dir: Option<PathBuf>,
) -> Result<(Compiled, device::DeviceRun), String> {
    on_device_arrays(model, device_name, &read_all(inputs)?, targets_dir)
}

/// [`on_device`] with the samples already read.
fn on_device_arrays(
    model: &Path,
    device_name: &str,
    arrays: &[npy::Array],
    targets_dir: Option<PathBuf>,
) -> Result<(Compiled, device::DeviceRun), String> {
    let device = device::parse(device_name)?;
    // For an emulated board, convert for its kernels (the sizes are those of any target).
    let target = match &device {
        device::Device::Qemu(board) => board.target,
        device::Device::Serial(_) => target(),
    };
    let bytes = std::fs::read(model).map_err(|e| format!("reading {}: {e}", model.display()))?;
    // A QEMU board's runner firmware converts with the board's default budgets (see
    // `sim::Board::budgets`): so does the host, to agree on the plan.
    let budgets = match &device {
        device::Device::Qemu(board) => (Some(board.budgets.0), Some(board.budgets.1)),
        device::Device::Serial(_) => (None, None),
    };
    let options = Options {
        kernels: ferrite_convert::kernels::KernelSet::PORTABLE,
        target,
        batch: batch(),
        max_arena: max_arena().or(budgets.0),
        max_flash: max_flash().or(budgets.1),
        ..Options::default()
    };
    let c = compile(&bytes, &options).map_err(|e| format!("{}: {e}", model.display()))?;
    for w in &c.report.warnings {
        eprintln!("warning: {w}");
    }
    let dir = sim::targets_dir(targets_dir);
    let run = device::run(&device, &c, model, arrays, &dir, false)?;
    if run.resends > 0 || run.injected_faults > 0 {
        eprintln!(
            "link: {} requests resent (corrupted or lost frames, or slow replies); {} bits flipped by FERRITE_LINK_FAULTS",
            run.resends, run.injected_faults
        );
    }
    Ok((c, run))
}

fn run_on_device(
    model: &Path,
    device_name: &str,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    targets_dir: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let (c, run) = on_device(model, device_name, inputs, targets_dir)?;
    if !outputs.is_empty() && outputs.len() != c.outputs.len() {
        return Err(format!(
            "the model has {} outputs; give --output once for each",
            c.outputs.len()
        ));
    }
    for (a, path) in run.outputs.iter().zip(outputs) {
        npy::write(path, a)?;
    }
    let n = run.ticks.len();
    let mut total = 0;
    let mut unit = "ticks";
    for (s, &t) in run.ticks.iter().enumerate() {
        let (cost, u) = run.cost(t);
        total += cost;
        unit = u;
        let values: Vec<String> = run
            .outputs
            .iter()
            .map(|o| {
                let per = o.data.len() / n.max(1);
                let shown: Vec<String> = (s * per..s * per + per.min(10))
                    .map(|i| format!("{}", o.data.get_f64(i)))
                    .collect();
                format!(
                    "[{}{}]",
                    shown.join(", "),
                    if per > 10 { ", ..." } else { "" }
                )
            })
            .collect();
        println!("sample {s}: {cost} {u}, outputs {}", values.join(" "));
    }
    println!(
        "{n} samples on {device_name}, {} {unit}/inference (mean)",
        total / n.max(1) as u64
    );
    Ok(ExitCode::SUCCESS)
}

fn verify_on_device(
    model: &Path,
    device_name: &str,
    inputs: &[PathBuf],
    expected: &[PathBuf],
    rtol: f64,
    targets_dir: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let exp = read_all(expected)?;
    let (c, run) = on_device(model, device_name, inputs, targets_dir)?;
    if expected.len() != c.outputs.len() {
        return Err(format!(
            "the model has {} outputs; give --expected once for each",
            c.outputs.len()
        ));
    }
    for (k, (o, e)) in run.outputs.iter().zip(&exp).enumerate() {
        if e.data.dtype() != o.data.dtype() || e.data.len() != o.data.len() {
            return Err(format!(
                "expected array {k} is {} {:?} but the device produces {} {:?}",
                e.data.dtype(),
                e.shape,
                o.data.dtype(),
                o.shape
            ));
        }
    }
    compare(&run.outputs, &exp, rtol, |s| {
        let (cost, unit) = run.cost(run.ticks[s]);
        format!(" ({cost} {unit})")
    })
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    model: &Path,
    board: &str,
    inputs: &[PathBuf],
    outputs: &[PathBuf],
    labels: Option<&Path>,
    json: bool,
    timeout: u64,
    targets_dir: Option<PathBuf>,
) -> Result<ExitCode, String> {
    // Convert as the board's firmware does, so the report shows the layers it runs.
    let board_target = sim::board(board)?.target;
    if TARGET.get_or_init(|| board_target) != &board_target {
        return Err(format!(
            "--target does not apply to sim: {board} firmware uses {board_target:?}"
        ));
    }
    // The firmware's kernels are the portable entries plus the target's own (no host SIMD):
    // convert with those so the per-layer table names the kernels that ran on the board.
    let bytes = std::fs::read(model).map_err(|e| format!("reading {}: {e}", model.display()))?;
    let budgets = sim::board(board)?.budgets;
    let options = Options {
        kernels: ferrite_convert::kernels::KernelSet::PORTABLE,
        target: board_target,
        batch: batch(),
        max_arena: max_arena().or(Some(budgets.0)),
        max_flash: max_flash().or(Some(budgets.1)),
        int8_weights: int8_weights(),
        ..Options::default()
    };
    let c = compile(&bytes, &options).map_err(|e| format!("{}: {e}", model.display()))?;
    for w in &c.report.warnings {
        eprintln!("warning: {w}");
    }
    if !outputs.is_empty() && outputs.len() != c.outputs.len() {
        return Err(format!(
            "the model has {} outputs; give --output once for each",
            c.outputs.len()
        ));
    }
    let dir = sim::targets_dir(targets_dir);
    let run = sim::simulate(
        board,
        &c,
        model,
        inputs,
        &dir,
        std::time::Duration::from_secs(timeout),
        json,
    )?;
    for (a, path) in run.outputs.iter().zip(outputs) {
        npy::write(path, a)?;
    }
    let predictions = match labels {
        Some(path) => Some(predictions(&run.outputs[0], &npy::read(path)?)?),
        None => None,
    };
    if json {
        let mut v = serde_json::to_value(&run.report).map_err(|e| e.to_string())?;
        if let Some((pred, lab)) = &predictions {
            v["predictions"] = serde_json::json!(pred);
            v["labels"] = serde_json::json!(lab);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    } else {
        sim::print_table(&run.report);
        if let Some((pred, lab)) = &predictions {
            println!();
            let correct = pred.iter().zip(lab).filter(|(p, l)| p == l).count();
            for (k, (p, l)) in pred.iter().zip(lab).enumerate() {
                println!(
                    "sample {k}: predicted {p}, label {l}{}",
                    if p == l { "" } else { "  <- wrong" }
                );
            }
            println!("{correct} of {} correct", pred.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Argmax of each sample's output against integer labels.
fn predictions(out: &npy::Array, labels: &npy::Array) -> Result<(Vec<i64>, Vec<i64>), String> {
    let n = out.shape[0];
    let per = out.data.len() / n.max(1);
    let lab: Vec<i64> = (0..labels.data.len())
        .map(|i| labels.data.get_f64(i) as i64)
        .collect();
    if lab.len() != n {
        return Err(format!("{} labels for {n} samples", lab.len()));
    }
    let pred = (0..n)
        .map(|s| {
            (0..per)
                .max_by(|&a, &b| {
                    out.data
                        .get_f64(s * per + a)
                        .total_cmp(&out.data.get_f64(s * per + b))
                        .then(b.cmp(&a))
                })
                .unwrap_or(0) as i64
        })
        .collect();
    Ok((pred, lab))
}
