//! Conversion errors: each names the operator, tensor or byte offset at fault.

use crate::tflite::ReadError;
use std::fmt;

/// Why a model could not be converted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConvertError {
    /// The file is not a valid flatbuffer / TFLite model.
    Read(ReadError),
    /// A problem with the model as a whole (no subgraph, bad graph inputs, ...).
    Model(String),
    /// A problem with one tensor.
    Tensor {
        /// Tensor index in the subgraph.
        index: usize,
        /// Tensor name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A problem with one operator (shapes, parameters, quantization).
    Operator {
        /// Operator index in execution order.
        index: usize,
        /// TFLite operator name (`CONV_2D`).
        op: String,
        /// What is wrong.
        message: String,
    },
    /// An operator (or a variant of one) Ferrite does not support.
    Unsupported {
        /// Operator index in execution order.
        index: usize,
        /// TFLite operator name.
        op: String,
        /// What exactly is unsupported, and what is.
        message: String,
    },
    /// Reading or writing a file failed.
    Io(String),
    /// No plan whose arena fits fits the flash budget (`--max-flash`) either: the message
    /// names the least flash the converter reached and the plan that reached it.
    FlashBudget {
        /// The budget, in bytes.
        max_flash: usize,
        /// The least estimated flash of a plan within the arena budget.
        smallest: usize,
        /// That plan, in words.
        plan: String,
    },
    /// No plan fits the budget (`--max-arena`): the message names the smallest arena the
    /// converter reached and the plan that reached it.
    Budget {
        /// The budget, in bytes.
        max_arena: usize,
        /// The smallest arena any plan tried needs (0 if no plan converted).
        smallest: usize,
        /// That plan, in words.
        plan: String,
    },
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::Read(e) => write!(f, "{e}"),
            ConvertError::Model(m) => write!(f, "invalid model: {m}"),
            ConvertError::Tensor {
                index,
                name,
                message,
            } => write!(f, "tensor #{index} '{name}': {message}"),
            ConvertError::Operator { index, op, message } => {
                write!(f, "operator #{index} ({op}): {message}")
            }
            ConvertError::Unsupported { index, op, message } => {
                write!(f, "operator #{index} ({op}) is not supported: {message}")
            }
            ConvertError::Io(m) => write!(f, "{m}"),
            ConvertError::FlashBudget {
                max_flash,
                smallest,
                plan,
            } => write!(
                f,
                "no plan fits {max_flash} bytes of flash (its estimate kept 1% below, for the estimate's error): the least the converter reached is {smallest} bytes (estimated code and constants; {plan})"
            ),
            ConvertError::Budget {
                max_arena,
                smallest,
                plan,
            } => write!(
                f,
                "no plan fits an arena of {max_arena} bytes: the smallest the converter reached is {smallest} bytes ({plan})"
            ),
        }
    }
}

impl std::error::Error for ConvertError {}

impl From<ReadError> for ConvertError {
    fn from(e: ReadError) -> Self {
        ConvertError::Read(e)
    }
}

/// Result of a conversion step.
pub type Result<T> = std::result::Result<T, ConvertError>;
