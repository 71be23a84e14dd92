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
#![no_std]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod arch;
pub mod registry;
pub(crate) mod util;

pub mod ops {
    //! One module per operator.
    pub mod binary;
    pub mod conv;
    pub mod depthwise;
    pub mod depthwise_dsp;
    pub mod fully_connected;
    pub mod gemm;
    pub mod load_const;
    pub mod lut;
    pub mod mean;
    pub mod pool;
    pub mod shape;
    pub mod softmax;
    pub mod unary_f32;
}
