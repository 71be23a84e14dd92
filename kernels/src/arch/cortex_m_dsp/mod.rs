//! Cortex-M DSP extension (Cortex-M4, M7, M33, M55): `SMLAD` (two 16-bit multiply-accumulates
//! per instruction), `SXTB16` (two bytes widened at once), `SMMULR`, `QADD`, `SSAT`.
//!
//! `core::arch::arm`'s DSP intrinsics are not stable, so the kernels are written with
//! `core::arch::asm!`. Register allocation is explicit where a multiple-load (`LDM`) needs an
//! ascending register list; `r6` and `r7` (reserved by LLVM as base and frame pointer) are
//! saved and restored inside the blocks that need fourteen registers.

pub mod depthwise;
pub mod gemm;
