//! Errors of the runtime: what went wrong, and where.

use crate::dtype::DType;
use core::fmt;

/// Everything that can stop an inference.
///
/// The converter has already validated the model, so on a device these errors point at the
/// caller (wrong input length, a too small or misaligned arena) or at a model description that
/// was edited by hand. Every variant names the layer, tensor or size at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The input slice does not have as many elements as the model's input tensor.
    InputLength {
        /// Elements the model expects.
        expected: usize,
        /// Elements the caller gave.
        actual: usize,
    },
    /// The element type of the input or output the caller asked for is not the model's.
    DTypeMismatch {
        /// Type of the model's tensor.
        expected: DType,
        /// Type the caller used.
        actual: DType,
    },
    /// The arena is smaller than the model's `ARENA_BYTES`.
    ArenaTooSmall {
        /// Bytes the model needs.
        required: usize,
        /// Bytes the caller gave.
        actual: usize,
    },
    /// The arena does not start on a 16-byte boundary (use [`crate::Arena`]).
    ArenaMisaligned {
        /// Alignment the model needs, in bytes.
        required: usize,
    },
    /// The model has no input or output with this index.
    NoSuchIo {
        /// The index asked for.
        index: usize,
    },
    /// A layer's description is inconsistent: a tensor or constant out of range, a shape that
    /// does not match its buffer, or a kernel run on the wrong operator. The converter never
    /// emits such a model; this catches descriptions edited by hand or corrupted in flash.
    InvalidLayer {
        /// Index of the layer in the model.
        layer: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// An input value a layer cannot compute with: an index out of range (GATHER,
    /// GATHER_ND, EMBEDDING_LOOKUP), an integer division by zero (DIV, FLOOR_DIV, FLOOR_MOD)
    /// or an empty decoded detection box. It depends on the data, not on the model: TFLite
    /// Micro fails the invocation on the same inputs.
    InvalidData {
        /// Index of the layer in the model.
        layer: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// Input `index` is read in place from the caller's buffer (the converter chose so to fit
    /// a RAM budget), so it cannot be copied into the arena: pass it to `Model::run` or
    /// `Model::invoke_in_place`.
    InputInPlace {
        /// The input's index.
        index: usize,
    },
    /// The state buffer is smaller than the model's `STATE_BYTES` (a model with variable
    /// tensors needs one: `Model::run_stateful`).
    StateTooSmall {
        /// Bytes the model needs.
        required: usize,
        /// Bytes the caller gave.
        actual: usize,
    },
    /// The state buffer does not start on a 16-byte boundary (use [`crate::Arena`]).
    StateMisaligned {
        /// Alignment the model needs, in bytes.
        required: usize,
    },
    /// A `CIRCULAR_BUFFER` layer ended this invocation early, as TensorFlow Lite Micro's
    /// `kTfLiteAbort` does: its stride has not come round yet. The layer updated its buffer
    /// (in the state region) and its output; the layers after it did not run, so the model's
    /// outputs still hold the last complete invocation's. Call again with the next input.
    Aborted {
        /// The layer that ended the invocation.
        layer: u16,
    },
    /// A tensor id or constant reference points outside the model's tables.
    InvalidModel {
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InputLength { expected, actual } => write!(
                f,
                "input has {actual} elements, the model's input tensor has {expected}"
            ),
            Error::DTypeMismatch { expected, actual } => write!(
                f,
                "element type {actual} given where the model's tensor is {expected}"
            ),
            Error::ArenaTooSmall { required, actual } => write!(
                f,
                "arena too small: the model needs {required} bytes, got {actual}"
            ),
            Error::ArenaMisaligned { required } => {
                write!(f, "arena must start on a {required}-byte boundary")
            }
            Error::NoSuchIo { index } => write!(f, "the model has no input/output #{index}"),
            Error::InvalidLayer { layer, reason } => write!(f, "layer {layer}: {reason}"),
            Error::InvalidData { layer, reason } => {
                write!(f, "layer {layer}: the input data has {reason}")
            }
            Error::InputInPlace { index } => write!(
                f,
                "input #{index} is read in place from the caller's buffer: pass it to run() or invoke_in_place()"
            ),
            Error::StateTooSmall { required, actual } => write!(
                f,
                "state buffer too small: the model needs {required} bytes of state, got {actual}"
            ),
            Error::StateMisaligned { required } => {
                write!(f, "state buffer must start on a {required}-byte boundary")
            }
            Error::Aborted { layer } => write!(
                f,
                "layer {layer} (CIRCULAR_BUFFER) ended the invocation early: its stride has not come round"
            ),
            Error::InvalidModel { reason } => write!(f, "invalid model description: {reason}"),
        }
    }
}

impl core::error::Error for Error {}
