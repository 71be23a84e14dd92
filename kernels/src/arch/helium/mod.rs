//! Helium (M-profile Vector Extension, MVE) kernels for the Cortex-M55: the GEMM convolution
//! ([`crate::arch::helium::gemm`]) and the 3x3 depthwise convolution
//! ([`crate::arch::helium::depthwise`]) of the `*HeliumI8` operators, and vector byte copies
//! ([`crate::arch::helium::copy`]).
//!
//! Stable Rust has no MVE intrinsics and does not expose MVE to `cfg`, so the kernels are
//! `core::arch::asm!` (assembled when the crate is built with `-C target-cpu=cortex-m55`) and
//! the firmware opts in with the `helium` feature. Register use is explicit: `r6` and `r7`
//! (reserved by LLVM) are saved and restored inside the blocks that need fourteen core
//! registers, the vector registers are declared as clobbered through their single-precision
//! aliases (`q0`-`q7` = `s0`-`s31`, so the callee-saved `q4`-`q7` get saved), and no block uses
//! VPT predication (Rust cannot declare VPR clobbered).
//!
//! Each operator's portable code in [`crate::ops`] is the definition these reproduce bit for
//! bit; `targets/qemu-kernel-check-m55` compares them on random layers inside QEMU.

pub mod copy;
pub mod depthwise;
pub mod gemm;
