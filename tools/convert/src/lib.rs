//! # ferrite-convert
//!
//! Turns a TensorFlow Lite model into something a microcontroller can run without parsing or
//! allocating anything: a static model description, an arena plan and the kernels to call.
//!
//! The pipeline ([`compile`]): the `.tflite` flatbuffer is verified and read with typed
//! accessors ([`tflite`]), validated into a graph ([`graph`]), lowered layer by layer with
//! every TFLite Micro `Prepare` computation done here ([`lower`]), its activations planned into
//! one arena ([`plan`]), and finally either run on the host ([`Compiled::model`]) or written
//! out as Rust ([`emit`]).
//!
//! In a firmware's `build.rs`:
//! ```no_run
//! ferrite_convert::Builder::new("model.tflite").emit_to_out_dir().unwrap();
//! ```
//! and in its source: `mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }`.
//!
//! Model files are untrusted input: anything malformed is an error naming where it is wrong.
//! ```
//! use ferrite_convert::{compile, ConvertError, Options};
//! let e = compile(b"TFL3 but not a model", &Options::default()).unwrap_err();
//! assert!(matches!(e, ConvertError::Read(_)));
//! assert!(e.to_string().contains("byte offset"), "{e}");
//! ```

pub mod budget;
pub mod code_sizes;
pub mod compile;
pub mod consts;
pub mod emit;
pub mod error;
pub mod flash;
pub mod fold;
pub mod graph;
pub mod host;
pub mod inplace;
pub mod kernel_cases;
pub mod kernels;
pub mod lower;
pub mod lower_dsp;
pub mod npy;
pub mod patch;
pub mod plan;
pub mod resource;
pub mod rustlit;
pub mod tflite;

pub use compile::{compile, Compiled, Options, Report};
pub use error::{ConvertError, Result};
pub use flash::Int8Weights;
pub use lower_dsp::Target;

use std::path::{Path, PathBuf};

/// Converts a model file and writes the generated Rust module (for `build.rs`).
#[derive(Debug, Clone)]
pub struct Builder {
    model: PathBuf,
    file_name: String,
    options: Options,
}

impl Builder {
    /// A builder for the model at `path`; the module is written as `model.rs`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Builder {
            model: path.as_ref().to_path_buf(),
            file_name: "model.rs".into(),
            options: Options::default(),
        }
    }

    /// Converts for `target`'s kernels (default: portable).
    pub fn target(mut self, target: Target) -> Self {
        self.options.target = target;
        self
    }

    /// Fixes an unknown batch dimension to `batch` (default 1; see [`Options::batch`]).
    pub fn batch(mut self, batch: usize) -> Self {
        self.options.batch = batch;
        self
    }

    /// Most arena bytes the plan may use (see [`Options::max_arena`]); `None`: no limit.
    pub fn max_arena(mut self, bytes: Option<usize>) -> Self {
        self.options.max_arena = bytes;
        self
    }

    /// Most flash bytes the plan may use (see [`Options::max_flash`]); `None`: no limit.
    pub fn max_flash(mut self, bytes: Option<usize>) -> Self {
        self.options.max_flash = bytes;
        self
    }

    /// Which layers keep int8 weights on the DSP target (default: none, the fastest layout;
    /// see [`Options::int8_weights`]).
    pub fn int8_weights(mut self, layers: Int8Weights) -> Self {
        self.options.int8_weights = layers;
        self
    }

    /// Writes the module under another file name (several models in one crate).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// Converts and writes the module to `$OUT_DIR`; returns its path. Also tells Cargo to
    /// rerun when the model changes.
    pub fn emit_to_out_dir(&self) -> Result<PathBuf> {
        let out = std::env::var_os("OUT_DIR").ok_or_else(|| {
            ConvertError::Io("OUT_DIR is not set (call this from build.rs)".into())
        })?;
        println!("cargo:rerun-if-changed={}", self.model.display());
        let path = PathBuf::from(out).join(&self.file_name);
        self.emit_to(&path)?;
        Ok(path)
    }

    /// Converts and writes the module to `path`.
    pub fn emit_to(&self, path: &Path) -> Result<Compiled> {
        let bytes = std::fs::read(&self.model)
            .map_err(|e| ConvertError::Io(format!("reading {}: {e}", self.model.display())))?;
        let compiled = compile(&bytes, &self.options)?;
        let prov = emit::Provenance {
            source: self
                .model
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: sha256_hex(&bytes),
        };
        let text = emit::emit(&compiled, &prov)
            .map_err(|e| ConvertError::Io(format!("emitting Rust: {e}")))?;
        std::fs::write(path, text)
            .map_err(|e| ConvertError::Io(format!("writing {}: {e}", path.display())))?;
        Ok(compiled)
    }
}

/// Hex SHA-256 of `bytes` (recorded in generated code so it names its source exactly).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
