//! Cortex-M DSP extension (Cortex-M4, M7, M33, M55): `SMLAD` (two 16-bit multiply-accumulates
//! per instruction), `SXTB16` (two bytes widened at once), `SMMULR`, `QADD`, `SSAT`.
//!
//! `core::arch::arm`'s DSP intrinsics are not stable, so the kernels are written with
//! `core::arch::asm!`. Register allocation is explicit where a multiple-load (`LDM`) needs an
//! ascending register list; `r6` and `r7` (reserved by LLVM as base and frame pointer) are
//! saved and restored inside the blocks that need fourteen registers.

/// The two sums of a pair of output pixels at horizontal stride 1 of a 3x3 filter over
/// channel-planar 16-bit band rows, shared by the int8 and 16x8 band kernels
/// ([`depthwise::band3x3`], [`depthwise16::band3x3_i16`]): the sums start at the two words at
/// `[sp, #12]` (r3, r4); per filter row (r10-r12, each advanced by one pair of taps) one double
/// load of taps x0..x3 into r0 (x0|x1) and r1 (x2|x3), the second pixel's first pair (x2|x1)
/// formed in r2 by `PKHBT`, `SMLAD` of the first pair and a 16x16 multiply-accumulate of the
/// third tap for each pixel, with the weights in r5-r9 (`w00|w01`, `w10|w11`, `w20|w21`,
/// `w02|w12`, `w22` in the bottom half of r9).
macro_rules! band_pair_sums_s1 {
    () => {
        concat!(
            "ldrd r3, r4, [sp, #12]\n",
            "ldrd r0, r1, [r10], #4\n",
            "pkhbt r2, r1, r0\n",
            "smlad r3, r0, r5, r3\n",
            "smlabb r3, r1, r8, r3\n",
            "smladx r4, r2, r5, r4\n",
            "smlatb r4, r1, r8, r4\n",
            "ldrd r0, r1, [r11], #4\n",
            "pkhbt r2, r1, r0\n",
            "smlad r3, r0, r6, r3\n",
            "smlabt r3, r1, r8, r3\n",
            "smladx r4, r2, r6, r4\n",
            "smlatt r4, r1, r8, r4\n",
            "ldrd r0, r1, [r12], #4\n",
            "pkhbt r2, r1, r0\n",
            "smlad r3, r0, r7, r3\n",
            "smlabb r3, r1, r9, r3\n",
            "smladx r4, r2, r7, r4\n",
            "smlatb r4, r1, r9, r4\n",
        )
    };
}

/// [`band_pair_sums_s1`] at horizontal stride 2: per filter row taps x0..x4 in r0 (x0|x1),
/// r1 (x2|x3) and r2 (x4|x5), each row advanced by two pairs of taps.
macro_rules! band_pair_sums_s2 {
    () => {
        concat!(
            "ldrd r3, r4, [sp, #12]\n",
            "ldrd r0, r1, [r10], #8\n",
            "ldr r2, [r10]\n",
            "smlad r3, r0, r5, r3\n",
            "smlabb r3, r1, r8, r3\n",
            "smlad r4, r1, r5, r4\n",
            "smlabb r4, r2, r8, r4\n",
            "ldrd r0, r1, [r11], #8\n",
            "ldr r2, [r11]\n",
            "smlad r3, r0, r6, r3\n",
            "smlabt r3, r1, r8, r3\n",
            "smlad r4, r1, r6, r4\n",
            "smlabt r4, r2, r8, r4\n",
            "ldrd r0, r1, [r12], #8\n",
            "ldr r2, [r12]\n",
            "smlad r3, r0, r7, r3\n",
            "smlabb r3, r1, r9, r3\n",
            "smlad r4, r1, r7, r4\n",
            "smlabb r4, r2, r9, r4\n",
        )
    };
}

/// The sum of a row's last output pixel (an odd row) for [`band_pair_sums_s1`]'s kernels, at
/// either stride: r3 starts at the word at `[sp, #12]` and takes taps x0..x2 of each filter row
/// (r10-r12, not advanced) against the same weights.
macro_rules! band_pixel_sums {
    () => {
        concat!(
            "ldr r3, [sp, #12]\n",
            "ldrd r0, r1, [r10]\n",
            "smlad r3, r0, r5, r3\n",
            "smlabb r3, r1, r8, r3\n",
            "ldrd r0, r1, [r11]\n",
            "smlad r3, r0, r6, r3\n",
            "smlabt r3, r1, r8, r3\n",
            "ldrd r0, r1, [r12]\n",
            "smlad r3, r0, r7, r3\n",
            "smlabb r3, r1, r9, r3\n",
        )
    };
}

/// The loop body over a block of four pixels against a pair of channels, shared by the 16x8
/// ([`dsp16::gemm4x2_smmulr`], [`dsp16::dot4x2`]) and int8 ([`gemm::gemm4x2_relu_w16`])
/// GEMMs: two pairs of taps of the four pixels (lr, advanced) against both channels' weight
/// words (r11, advanced), into r0-r3 (even channel) and r4-r7 (odd channel); r8-r10 and r12
/// written. No label: the int8 GEMM, whose groups of four taps come in pairs, takes it twice
/// per iteration and pays its loop's end test half as often.
macro_rules! dot4x2_tap_pairs {
    () => {
        concat!(dot4x2_tap_pair!(), dot4x2_tap_pair!())
    };
}

/// One pair of taps of `dot4x2_tap_pairs`: the two channels' weight words (r8, r9) against
/// the four pixels' words (r10, r12, two at a time), eight `SMLAD`s.
macro_rules! dot4x2_tap_pair {
    () => {
        concat!(
            // The four loads of a group pipeline (one cycle each after the first).
            "ldr r8, [r11], #4\n",
            "ldr r9, [r11], #4\n",
            "ldr r10, [lr], #4\n",
            "ldr r12, [lr], #4\n",
            "smlad r0, r10, r8, r0\n",
            "smlad r4, r10, r9, r4\n",
            "smlad r1, r12, r8, r1\n",
            "smlad r5, r12, r9, r5\n",
            "ldr r10, [lr], #4\n",
            "ldr r12, [lr], #4\n",
            "smlad r2, r10, r8, r2\n",
            "smlad r6, r10, r9, r6\n",
            "smlad r3, r12, r8, r3\n",
            "smlad r7, r12, r9, r7\n",
        )
    };
}

/// [`dot4x2_tap_pairs`] as a loop's head, label `3` (`k2` is even): the caller's loop end
/// compares lr with the block's end, which it must reload (no register is left to hold it).
macro_rules! dot4x2_taps {
    () => {
        concat!("3:\n", dot4x2_tap_pairs!())
    };
}

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
