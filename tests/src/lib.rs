//! Helpers shared by Ferrite's conformance tests.
//!
//! The real third-party models live outside the repository (`../shared/models`, or the
//! directory in `FERRITE_SHARED_MODELS`); when they are absent, tests that need them print one
//! `SKIPPED` line and pass, so the rest of the suite still runs on a bare checkout. Under CI
//! (`CI=true`) a missing prerequisite fails instead (see [`skip`]): a green CI always means the
//! real models and the emulator were checked.

pub mod tflite_build;

use ferrite_convert::npy::{self, Array};
use ferrite_convert::{compile, Compiled, Options, Target};
use std::path::{Path, PathBuf};

/// Models in `../shared/models`, by folder name.
pub const SHARED_MODELS: &[&str] = &[
    "hello_world_int8",
    "hello_world_float",
    "micro_speech_int8",
    "person_detect",
    "resnet8_int8",
    "resnet8_float",
    "vww_96_int8",
    "vww_96_float",
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Whether this is a CI run (`CI` set to `true` or `1`, as CI services do), where every
/// prerequisite of the suite must be present.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a test that cannot run here: prints `SKIPPED: why` on a developer's machine, and
/// panics under CI ([`under_ci`]), where a skipped check would make a green run a lie.
pub fn skip(why: &str) {
    assert!(!under_ci(), "CI=true but {why}: refusing to skip");
    println!("SKIPPED: {why}");
}

/// A path for a test's output file `name`, in a per-process folder named after `suite`.
pub fn temp_file(suite: &str, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ferrite-{suite}-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

/// A finished command's stdout and stderr together, for assertion messages.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shared models directory, or `None` (after [`skip`]) when it is absent.
pub fn shared_models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FERRITE_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/models"));
    if dir.join("index.json").is_file() {
        Some(dir)
    } else {
        skip(&format!(
            "shared models not found at {} (set FERRITE_SHARED_MODELS)",
            dir.display()
        ));
        None
    }
}

/// Whether `qemu-system-arm` runs here; [`skip`]s when it does not.
pub fn qemu_available() -> bool {
    let found = std::process::Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        skip("qemu-system-arm not found (scripts/test.sh installs it)");
    }
    found
}

/// Paths of a shared model's files.
pub struct SharedModel {
    /// Folder name.
    pub name: String,
    /// `.tflite`.
    pub tflite: PathBuf,
    /// `.inputs.npy`.
    pub inputs: PathBuf,
    /// `.outputs.npy` (TFLM goldens).
    pub outputs: PathBuf,
}

/// The files of shared model `name` under `dir`.
pub fn shared_model(dir: &Path, name: &str) -> SharedModel {
    let d = dir.join(name);
    SharedModel {
        name: name.to_string(),
        tflite: d.join(format!("{name}.tflite")),
        inputs: d.join(format!("{name}.inputs.npy")),
        outputs: d.join(format!("{name}.outputs.npy")),
    }
}

/// Converts a model file for running here: with the fastest kernels this CPU supports (or
/// those `FERRITE_KERNELS` names), so the conformance tests exercise the host's fast paths.
pub fn convert(path: &Path) -> Compiled {
    let options = Options::host().unwrap_or_else(|e| panic!("{e}"));
    convert_with(path, &options)
}

/// Every conversion target: the portable layouts, and the Cortex-M DSP and Helium layouts
/// (run here by their kernels' portable twins, which the QEMU kernel checks prove equal to
/// the assembly).
pub const TARGETS: [Target; 3] = [Target::Portable, Target::CortexMDsp, Target::Helium];

/// [`convert`] for a conversion target.
pub fn convert_for(path: &Path, target: Target) -> Compiled {
    let options = Options {
        target,
        ..Options::host().unwrap_or_else(|e| panic!("{e}"))
    };
    convert_with(path, &options)
}

/// Converts a model file exactly as generated code would be (portable kernels).
pub fn convert_portable(path: &Path) -> Compiled {
    convert_with(path, &Options::default())
}

fn convert_with(path: &Path, options: &Options) -> Compiled {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    compile(&bytes, options).unwrap_or_else(|e| panic!("converting {}: {e}", path.display()))
}

/// Reads a `.npy` file.
pub fn load(path: &Path) -> Array {
    npy::read(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Compares two stacked arrays sample by sample: int8 exactly, float within `rtol`
/// relative. Returns a description of every mismatching sample.
pub fn compare(got: &Array, expected: &Array, rtol: f64) -> Vec<String> {
    assert_eq!(got.data.dtype(), expected.data.dtype(), "dtype");
    assert_eq!(
        got.data.len(),
        expected.data.len(),
        "element count ({:?} vs {:?})",
        got.shape,
        expected.shape
    );
    let n = got.shape.first().copied().unwrap_or(1).max(1);
    let per = got.data.len() / n;
    (0..n)
        .filter_map(|s| {
            ferrite_convert::host::first_mismatch(&got.data, &expected.data, s * per, per, rtol)
                .map(|(i, a, b)| format!("sample {s}, element {i}: got {a}, expected {b}"))
        })
        .collect()
}

/// Runs every case of a golden directory's `index.json` (`tests/data/ops`,
/// `tests/data/models`, …: the format `tools/goldens/README.md` describes) on the host,
/// converted with `options`, and compares every output with its golden: integers and bool
/// exactly, float within 1e-5 relative. Returns the number of cases and the operators they
/// contain; panics listing every case that failed to convert, run or match.
pub fn check_golden_dir(
    dir: &Path,
    options: &Options,
) -> (usize, std::collections::BTreeSet<String>) {
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("index.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
    )
    .unwrap();
    let cases = index["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    let mut ops_seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let file = |v: &serde_json::Value| dir.join(v["file"].as_str().unwrap());
        let bytes = std::fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
        let c = match compile(&bytes, options) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: does not convert: {e}"));
                continue;
            }
        };
        let inputs: Vec<_> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| load(&file(i)))
            .collect();
        let outputs = match ferrite_convert::host::run_all(&c, &inputs, 1) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (k, o) in case["outputs"].as_array().unwrap().iter().enumerate() {
            let Some(got) = outputs.get(k) else {
                failures.push(format!("{name}: no output {k}"));
                continue;
            };
            let bad = compare(got, &load(&file(o)), 1e-5);
            if !bad.is_empty() {
                failures.push(format!(
                    "{name} output {k} ({}): {}",
                    case["description"].as_str().unwrap_or(""),
                    bad.join("; ")
                ));
            }
        }
        for op in case["ops"].as_array().unwrap() {
            ops_seen.insert(op.as_str().unwrap().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases in {} differ from their goldens:\n{}",
        failures.len(),
        cases.len(),
        dir.display(),
        failures.join("\n")
    );
    (cases.len(), ops_seen)
}

/// Models emitted as Rust by `build.rs` (the bundled model, every single-op golden model,
/// and the shared models found at build time).
pub mod emitted {
    include!(concat!(env!("OUT_DIR"), "/emitted.rs"));
}

/// Where call `k`'s output bytes `got` disagree with call `k` of `expected` (the goldens of
/// `calls` calls stacked), if they do: integers exactly, float32 within 1e-5 relative.
pub fn call_mismatch(expected: &Array, calls: usize, k: usize, got: &[u8]) -> Option<String> {
    let expected = &expected.data;
    let per = expected.len() / calls;
    let got = npy::Data::from_bytes(expected.dtype(), got);
    if got.len() != per {
        return Some(format!("call {k}: {} elements, expected {per}", got.len()));
    }
    // `got` holds one call: compare it element by element with call `k` of the goldens.
    (0..per).find_map(|i| {
        let (a, b) = (got.get_f64(i), expected.get_f64(k * per + i));
        let ok = match expected {
            npy::Data::F32(_) => (a - b).abs() <= 1e-5 * a.abs().max(b.abs()) || a == b,
            _ => a == b,
        };
        (!ok).then(|| format!("call {k}, element {i}: got {a}, expected {b}"))
    })
}
