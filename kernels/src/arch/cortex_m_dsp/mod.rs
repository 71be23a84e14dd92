//! Cortex-M DSP extension (Cortex-M4, M7, M33, M55): `SMLAD` (two 16-bit multiply-accumulates
//! per instruction), `SXTB16` (two bytes widened at once), `SMMULR`, `QADD`, `SSAT`.
//!
//! `core::arch::arm`'s DSP intrinsics are not stable, so the kernels are written with
//! `core::arch::asm!`. Register allocation is explicit where a multiple-load (`LDM`) needs an
//! ascending register list; `r6` and `r7` (reserved by LLVM as base and frame pointer) are
//! saved and restored inside the blocks that need fourteen registers.

pub mod depthwise;
pub mod depthwise16;
pub mod dsp16;
pub mod gemm;

/// `SMMULR`: the rounded high word of `a * b` (see [`ferrite_core::fixed::smmulr`], which it
/// equals). LLVM does not select `SMMULR` for the portable expression and spends about ten
/// instructions on the 64-bit product instead.
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    let high: i32;
    // SAFETY: a register-only arithmetic instruction: no memory, stack or flags touched.
    unsafe {
        core::arch::asm!(
            "smmulr {high}, {a}, {b}",
            high = lateout(reg) high,
            a = in(reg) a,
            b = in(reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    high
}
