//! `build.rs` support for Ferrite's board crates.
//!
//! A board's `build.rs` calls [`generate`]: it converts the model named by `FERRITE_MODEL`
//! (default: the bundled digits classifier) into `$OUT_DIR/model.rs`, embeds the input samples
//! named by `FERRITE_SAMPLES` (one `.npy` per model input, separated like `PATH`; default: the
//! bundled digit samples) as `$OUT_DIR/samples.rs`, and puts the board's `memory.x` on the
//! linker's search path. It also writes `$OUT_DIR/model_id.rs`, the model's identity for the
//! serial runner. `ferrite sim` and `ferrite run/verify --device` drive it through those
//! variables.

use ferrite_convert::npy;
pub use ferrite_convert::Target;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What a board embeds.
pub struct Board<'a> {
    /// Linker section for the samples (`Some(".ferrite_samples")` on QEMU boards, whose
    /// `memory.x` maps it to memory outside the emulated chip's flash), or `None` for flash.
    pub samples_section: Option<&'a str>,
    /// At most this many samples (real boards keep one, to save flash).
    pub max_samples: usize,
    /// Kernels the firmware links (the board enables the matching `ferrite-kernels` feature).
    pub target: ferrite_convert::Target,
    /// RAM the part leaves for the arena (its RAM less stack and statics): the default arena
    /// budget, so the converter trades speed for memory only when the fastest plan does not
    /// fit. `None`: no limit.
    pub arena_budget: Option<usize>,
    /// Flash the part leaves for the model's code and constants (its flash less the rest of
    /// the firmware): the default flash budget, so a model too large in the fastest weight
    /// layout keeps int8 weights where it must instead of failing to link. `None`: no limit.
    pub flash_budget: Option<usize>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Generates `model.rs`, `samples.rs` and `memory.x` in `$OUT_DIR`.
pub fn generate(board: &Board<'_>) {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    for var in [
        "FERRITE_MODEL",
        "FERRITE_SAMPLES",
        "FERRITE_MAX_SAMPLES",
        "FERRITE_BATCH",
        "FERRITE_MAX_ARENA",
        "FERRITE_MAX_FLASH",
        "FERRITE_INT8_WEIGHTS",
        "FERRITE_STREAM",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let model = std::env::var_os("FERRITE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/digits_mobilenet.tflite"));
    let samples: Vec<PathBuf> = match std::env::var_os("FERRITE_SAMPLES") {
        Some(v) => std::env::split_paths(&v).collect(),
        None => vec![repo_root().join("models/samples/digits_samples.inputs.npy")],
    };
    let max_samples = std::env::var("FERRITE_MAX_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(board.max_samples);

    // An unknown batch dimension is fixed to FERRITE_BATCH (`ferrite sim --batch`), else 1.
    let batch = std::env::var("FERRITE_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    // The arena budget: FERRITE_MAX_ARENA (`ferrite sim --max-arena`), else the board's
    // RAM for the arena, so a model that fits the part is never refused for a speed layout.
    let max_arena = std::env::var("FERRITE_MAX_ARENA")
        .ok()
        .and_then(|v| v.parse().ok())
        .or(board.arena_budget);
    // The flash budget: FERRITE_MAX_FLASH (`ferrite sim --max-flash`), else the board's.
    let max_flash = std::env::var("FERRITE_MAX_FLASH")
        .ok()
        .and_then(|v| v.parse().ok())
        .or(board.flash_budget);
    // Layers keeping int8 weights on the DSP target: FERRITE_INT8_WEIGHTS (`ferrite sim
    // --int8-weights`: all, none or operator indices I,J,K), else none.
    let int8_weights = std::env::var("FERRITE_INT8_WEIGHTS")
        .ok()
        .map(|v| {
            ferrite_convert::Int8Weights::parse(&v)
                .unwrap_or_else(|e| panic!("FERRITE_INT8_WEIGHTS: {e}"))
        })
        .unwrap_or_default();
    let compiled = ferrite_convert::Builder::new(&model)
        .target(board.target)
        .batch(batch)
        .max_arena(max_arena)
        .max_flash(max_flash)
        .int8_weights(int8_weights)
        .emit_to(&out.join("model.rs"))
        .unwrap_or_else(|e| panic!("converting {}: {e}", model.display()));
    println!("cargo:rerun-if-changed={}", model.display());
    // The identity the runner firmware reports, so a host holding another model is refused.
    let tflite = std::fs::read(&model).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    std::fs::write(
        out.join("model_id.rs"),
        format!(
            "/// `ferrite_link::model_id` of {}.\n#[allow(dead_code)]\npub const MODEL_ID: u32 = {:#010x};\n",
            model.file_name().unwrap_or_default().to_string_lossy(),
            ferrite_link::model_id(&tflite)
        ),
    )
    .expect("writing model_id.rs");

    // Samples: per sample, every input's bytes in order. None wanted (the serial runner):
    // none read, so the default samples need not match the model.
    let samples = if max_samples == 0 {
        Vec::new()
    } else {
        samples
    };
    let arrays: Vec<npy::Array> = samples
        .iter()
        .map(|p| {
            println!("cargo:rerun-if-changed={}", p.display());
            npy::read(p).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let n = if arrays.is_empty() {
        0
    } else {
        ferrite_convert::host::samples(&compiled, &arrays)
            .unwrap_or_else(|e| panic!("samples: {e}"))
            .min(max_samples)
    };
    let mut bytes = Vec::new();
    for k in 0..n {
        for (i, a) in arrays.iter().enumerate() {
            let per = compiled.input(i).map_or(0, |t| t.num_elements());
            bytes.extend(a.data.bytes(k * per, per));
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/// Input samples for the firmware: {n} samples, each every model input's bytes in order."
    );
    if let Some(section) = board.samples_section {
        let _ = writeln!(s, "#[link_section = {section:?}]");
    }
    let _ = writeln!(
        s,
        "#[used]\npub static SAMPLES: [u8; {}] = *b\"{}\";",
        bytes.len(),
        ferrite_convert::emit::byte_string(&bytes)
    );
    let _ = writeln!(
        s,
        "/// Number of samples.\n#[allow(dead_code)]\npub const COUNT: usize = {n};"
    );
    // `ferrite sim --stream`: carry a stateful model's state from sample to sample.
    let stream = std::env::var("FERRITE_STREAM").is_ok_and(|v| v == "1");
    let _ = writeln!(
        s,
        "/// Carry the model's state (variable tensors) from sample to sample instead of\n/// resetting it before each one.\n#[allow(dead_code)]\npub const STREAM: bool = {stream};"
    );
    std::fs::write(out.join("samples.rs"), s).expect("writing samples.rs");

    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copying memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
