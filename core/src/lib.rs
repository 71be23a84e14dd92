//! # ferrite-core
//!
//! The `no_std`, allocation-free heart of Ferrite: everything a microcontroller needs to run a
//! model that `ferrite-convert` already translated at build time.
//!
//! * [`Model`] — the static description of a network: activation tensors with their arena
//!   offsets, layers with precomputed parameters and the kernel each one runs, and a single
//!   aligned blob of constants (weights, biases, requantization multipliers, lookup tables).
//! * [`Arena`] — the one buffer all activations live in; its size is a compile-time constant
//!   emitted by the converter, so there is no guessing and no heap.
//! * [`fixed`] — the integer arithmetic TensorFlow Lite (Micro) uses, reproduced bit for bit:
//!   `SaturatingRoundingDoublingHighMul`, `RoundingDivideByPOT`, `MultiplyByQuantizedMultiplier`
//!   and gemmlowp's fixed-point `exp`, `logistic`, `tanh` and reciprocal.
//! * [`Error`] — every way a run can fail; the inference path returns it instead of panicking.
//!
//! The crate knows no kernels: each [`Layer`] carries a function pointer chosen by the
//! converter, so firmware links only the kernels its model uses.
//!
//! ```
//! use ferrite_core::{Arena, DType, Error};
//! let mut arena = Arena::<64>::new();
//! assert_eq!(arena.as_mut_slice().len(), 64);
//! assert_eq!(DType::I8.size_bytes(), 1);
//! let e = Error::ArenaTooSmall { required: 100, actual: 64 };
//! assert_eq!(format!("{e}"), "arena too small: the model needs 100 bytes, got 64");
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// No panic path on the device: the inference path returns `Error` instead. Any remaining
// indexing carries an `allow` with a `// Bounds:` comment proving it in range (tests may index
// and unwrap freely, see `clippy.toml`).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// These panic too; tests may use them (clippy.toml exempts tests from the lints above only).
#![cfg_attr(
    not(test),
    deny(clippy::unreachable, clippy::todo, clippy::unimplemented)
)]

pub mod arena;
pub mod dtype;
pub mod error;
pub mod fixed;
pub mod model;
pub mod ops;
pub mod output;
pub mod quant;

pub use arena::Arena;
pub use dtype::{DType, Element};
pub use error::Error;
pub use model::{
    ConstRef, Ctx, KernelFn, Layer, LayerHook, Model, NoHook, Shape, StatePlan, StateSlot, Tensor,
    TensorId, MAX_RANK,
};
pub use ops::Op;
pub use output::top_k;

/// Result type of every fallible operation in Ferrite's runtime.
pub type Result<T> = core::result::Result<T, Error>;
