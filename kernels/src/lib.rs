//! # ferrite-kernels
//!
//! Int8 and f32 kernels for Ferrite, `no_std` and allocation-free.
//!
//! Every operator lives in its own module under [`ops`]; each has a *reference* function —
//! portable Rust that reproduces TensorFlow Lite Micro's reference kernel bit for bit and
//! serves as the definition — and a *kernel entry* (`run_*`) with the [`ferrite_core::KernelFn`]
//! signature that checks the layer's slices against its parameters, so the loops cannot index
//! out of bounds, and then calls the fastest path compiled in.
//!
//! [`registry::kernel_for`] tells the converter which entry runs an operator and the Rust path
//! to emit for it.
//!
//! The reference functions can be called on plain slices, e.g. TFLite's float softmax:
//! ```
//! use ferrite_core::{ops::SoftmaxF32, TensorId};
//! use ferrite_kernels::ops::softmax::softmax_f32;
//! let p = SoftmaxF32 { input: TensorId(0), output: TensorId(1), outer: 1, depth: 3, beta: 1.0 };
//! let mut probabilities = [0f32; 3];
//! softmax_f32(&p, &[1.0, 2.0, 3.0], &mut probabilities);
//! assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! assert!(probabilities[2] > probabilities[1] && probabilities[1] > probabilities[0]);
//! ```
//!
//! A firmware never calls them directly: the model that `ferrite-convert` generates names the
//! kernel entry of each layer, and `ferrite_core::Model::run` calls it.
#![no_std]
#![deny(missing_docs)]
// No panic path in the inference path: kernel entries check every slice against the layer's
// parameters and return `Error`. Indexing that remains in the loops carries an `allow` with a
// `// Bounds:` comment proving it in range given those checks (tests may index and unwrap
// freely, see `clippy.toml`).
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

// TODO(bounds): the SIMD fast paths still index without `// Bounds:` proofs; remove this
// `allow` once each indexing function carries one (or uses `get`/`chunks_exact`).
#[allow(clippy::indexing_slicing)]
pub mod arch;
pub mod registry;
pub(crate) mod util;

pub mod ops {
    //! One module per operator.
    pub mod act16;
    pub mod batch_matmul;
    pub mod binary;
    pub mod cast;
    pub mod circular_buffer;
    pub mod conv;
    pub mod conv_helium;
    pub mod depthwise;
    pub mod depthwise_dsp;
    pub mod depthwise_helium;
    pub mod detection;
    pub mod dsp16;
    pub mod elementwise;
    pub mod fully_connected;
    pub mod gemm;
    pub mod l2_pool;
    pub mod load_const;
    pub mod lstm;
    pub mod lut;
    pub mod lut_math;
    pub mod mean;
    pub mod movement;
    pub mod normalize;
    pub mod pool;
    pub mod reduce;
    pub mod resize;
    pub mod resize_bilinear;
    pub mod shape;
    pub mod signal;
    pub mod softmax;
    pub mod softmax16;
    pub mod space_batch;
    pub mod svdf;
    pub mod transpose_conv;
    pub mod unary_f32;
    pub mod variable;
}
