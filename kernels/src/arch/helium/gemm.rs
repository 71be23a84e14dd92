//! The GEMM of [`ferrite_core::ops::ConvHeliumI8`]: a run of output pixels, two at a time,
//! against every group of four output channels, 16 taps per `VMLADAVA.S8` (128
//! multiply-accumulates in 16 instructions in the inner loop), finished with TFLite's exact
//! output stage four lanes at a time.

use core::arch::asm;

/// Arguments of [`gemm_2x4`], read by the assembly from memory.
#[repr(C)]
pub struct Gemm2x4Args {
    /// Taps of the first pixel: `k16 * 16` readable bytes.
    pub x: *const i8,
    /// Bytes from one pixel's taps to the next pixel's (0: every pixel reads `x`).
    pub x_stride: usize,
    /// Weights of the first group: `groups` blocks of `[k16][4][16]` bytes.
    pub weights: *const i8,
    /// Output stage of the first group: `groups` blocks of 16 words (biases, left shifts,
    /// multipliers, negated right shifts; four of each).
    pub params: *const i32,
    /// Output of the first pixel, channel 0: `4 * groups` writable bytes.
    pub out: *mut i8,
    /// Bytes from one pixel's outputs to the next pixel's (0: every pixel writes `out`).
    pub out_stride: usize,
    /// Pairs of pixels (at least 1): pixel `i` reads `x + i * x_stride`, writes
    /// `out + i * out_stride`.
    pub pairs: usize,
    /// Groups of four output channels (at least 1).
    pub groups: usize,
    /// Runs of 16 taps (at least 1).
    pub k16: usize,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
}

/// Defines a GEMM kernel; `$shift` are the instructions applying the left shifts (or none,
/// for layers whose left shifts are all 0), `$round` those of the rounding right shift (with
/// or without gemmlowp's sign fixup; see [`gemm_2x4_no_fixup`]).
macro_rules! gemm_kernel {
    ($(#[$doc:meta])* $name:ident, [$($shift:tt),*], [$($round:tt),*]) => {
        $(#[$doc])*
        #[inline(never)]
        pub unsafe fn $name(args: &Gemm2x4Args) {
            // SAFETY: the caller guarantees every pointer range above. r6/r7 and the stack
            // frame are saved and restored inside the block; every other core register and
            // every vector register it writes is declared (q0-q7 as s0-s31). No predication is
            // used (VPR and FPSCR.LTPSIZE are untouched).
            unsafe {
                asm!(
                    "push {{r6, r7}}",
                    // Registers: accumulators r0, r2, r4, r6 (pixel 0, channels 0-3) and r8, r10,
                    // r12, lr (pixel 1); r1 weights, r9 / r11 the two pixels' taps, r5 the end of
                    // pixel 0's taps, r7 the output stage, r3 pixel 0's output (a low register, as
                    // the narrowing store needs). q6 / q7 the clamp bounds.
                    // Locals: [sp, #0..32] accumulator spill, [sp, #32] x0, [sp, #36] x1,
                    // [sp, #40] out stride, [sp, #44] params, [sp, #48] output offset,
                    // [sp, #52] weights, [sp, #56] 16 * k16, [sp, #60] pairs left,
                    // [sp, #64] 2 * x stride, [sp, #68] 2 * out stride, [sp, #72] params end,
                    // [sp, #76] out0.
                    "sub sp, sp, #80",
                    "ldr r1, [r0, #0]",
                    "str r1, [sp, #32]",
                    "ldr r2, [r0, #4]",
                    "add r1, r1, r2",
                    "str r1, [sp, #36]",
                    "lsl r2, r2, #1",
                    "str r2, [sp, #64]",
                    "ldr r1, [r0, #8]",
                    "str r1, [sp, #52]",
                    "ldr r7, [r0, #12]",
                    "str r7, [sp, #44]",
                    "ldr r2, [r0, #28]",
                    "add r2, r7, r2, lsl #6",
                    "str r2, [sp, #72]",
                    "ldr r3, [r0, #16]",
                    "str r3, [sp, #76]",
                    "ldr r2, [r0, #20]",
                    "str r2, [sp, #40]",
                    "lsl r2, r2, #1",
                    "str r2, [sp, #68]",
                    "ldr r2, [r0, #24]",
                    "str r2, [sp, #60]",
                    "ldr r2, [r0, #32]",
                    "lsl r2, r2, #4",
                    "str r2, [sp, #56]",
                    "ldr r2, [r0, #36]",
                    "str r2, [sp, #48]",
                    "ldr r2, [r0, #40]",
                    "vdup.32 q6, r2",
                    "ldr r2, [r0, #44]",
                    "vdup.32 q7, r2",
                    // Per pair of pixels.
                    "1:",
                    "ldr r9, [sp, #32]",
                    "ldr r5, [sp, #56]",
                    "add r5, r9, r5",                // end of x0's taps
                    "ldr r1, [sp, #52]",
                    "ldr r7, [sp, #44]",
                    "ldr r3, [sp, #76]",
                    // Per group of four channels: accumulators start at the biases.
                    "2:",
                    "ldr r9, [sp, #32]",
                    "ldr r11, [sp, #36]",
                    "ldm r7, {{r0, r2, r4, r6}}",
                    "ldm r7, {{r8, r10, r12, lr}}",
                    // 16 taps of both pixels against the group's four channels.
                    "3:",
                    "vldrb.8 q0, [r1], #16",
                    "vldrb.8 q4, [r9], #16",
                    "vldrb.8 q5, [r11], #16",
                    "vmladava.s8 r0, q4, q0",
                    "vldrb.8 q1, [r1], #16",
                    "vmladava.s8 r8, q5, q0",
                    "vmladava.s8 r2, q4, q1",
                    "vldrb.8 q2, [r1], #16",
                    "vmladava.s8 r10, q5, q1",
                    "vmladava.s8 r4, q4, q2",
                    "vldrb.8 q3, [r1], #16",
                    "vmladava.s8 r12, q5, q2",
                    "vmladava.s8 r6, q4, q3",
                    "vmladava.s8 lr, q5, q3",
                    "cmp r9, r5",
                    "bne 3b",
                    // q0: pixel 0, channels 0-3; q1: pixel 1.
                    "stm sp, {{r0, r2, r4, r6, r8, r10, r12, lr}}",
                    "vldrw.u32 q0, [sp]",
                    "vldrw.u32 q1, [sp, #16]",
                    $($shift,)*
                    "vldrw.u32 q2, [r7, #32]",       // multipliers
                    "vqrdmulh.s32 q0, q0, q2",
                    "vqrdmulh.s32 q1, q1, q2",
                    "vldrw.u32 q2, [r7, #48]",       // negated right shifts
                    // RoundingDivideByPOT: (sign fixup, then) round half up.
                    $($round,)*
                    "ldr r0, [sp, #48]",
                    "vqadd.s32 q0, q0, r0",
                    "vqadd.s32 q1, q1, r0",
                    "vmax.s32 q0, q0, q6",
                    "vmax.s32 q1, q1, q6",
                    "vmin.s32 q0, q0, q7",
                    "vmin.s32 q1, q1, q7",
                    "ldr r2, [sp, #40]",
                    "add r2, r2, r3",
                    "vstrb.32 q1, [r2]",
                    "vstrb.32 q0, [r3], #4",
                    "add r7, r7, #64",
                    "ldr r0, [sp, #72]",
                    "cmp r7, r0",
                    "bne 2b",
                    // Next pair.
                    "ldr r0, [sp, #64]",
                    "ldr r2, [sp, #32]",
                    "add r2, r2, r0",
                    "str r2, [sp, #32]",
                    "ldr r2, [sp, #36]",
                    "add r2, r2, r0",
                    "str r2, [sp, #36]",
                    "ldr r0, [sp, #68]",
                    "ldr r2, [sp, #76]",
                    "add r2, r2, r0",
                    "str r2, [sp, #76]",
                    "ldr r0, [sp, #60]",
                    "subs r0, r0, #1",
                    "str r0, [sp, #60]",
                    "bne 1b",
                    "add sp, sp, #80",
                    "pop {{r6, r7}}",
                    inout("r0") args as *const Gemm2x4Args => _,
                    out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                    out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
                    out("s0") _, out("s1") _, out("s2") _, out("s3") _, out("s4") _, out("s5") _,
                    out("s6") _, out("s7") _, out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                    out("s12") _, out("s13") _, out("s14") _, out("s15") _, out("s16") _, out("s17") _,
                    out("s18") _, out("s19") _, out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                    out("s24") _, out("s25") _, out("s26") _, out("s27") _, out("s28") _, out("s29") _,
                    out("s30") _, out("s31") _,
                );
            }
        }
    };
}

gemm_kernel!(
    /// `2 * pairs` pixels' taps against `groups` groups of four output channels, two pixels at a
    /// time:
    ///
    /// `out_p[4g + j] = clamp(rdbpot(srdhm(acc << l, m), r) +sat zp, act_min, act_max)` with
    /// `acc = bias + sum_k x_p[k] * w[k]` (wrapping), exactly as
    /// [`crate::ops::conv_helium::portable_block`] computes it.
    ///
    /// The accumulators are eight scalar registers (`VMLADAVA` sums 16 products into one); they
    /// go to the stack with one `STM` and come back as two vectors (pixel 0, pixel 1) of four
    /// channels each for the output stage: `VSHL` (left shift, wrapping), `VQRDMULH` (gemmlowp's
    /// `SaturatingRoundingDoublingHighMul`, exactly), gemmlowp's sign fixup then `VRSHL`
    /// (`RoundingDivideByPOT`, exactly), `VQADD` of the zero point, `VMAX`/`VMIN`.
    ///
    /// # Safety
    /// For every pixel `i < 2 * pairs`, `x + i * x_stride` has `k16 * 16` readable bytes and
    /// `out + i * out_stride` has `4 * groups` writable bytes; `weights` has `groups * k16 * 64`
    /// readable bytes and `params` `groups * 16` readable, 4-byte aligned words; `pairs`,
    /// `groups` and `k16` are at least 1. The CPU implements MVE (Cortex-M55).
    gemm_2x4,
    [
        "vldrw.u32 q2, [r7, #16]",
        "vshl.s32 q0, q0, q2",
        "vshl.s32 q1, q1, q2"
    ],
    [
        "vand q3, q0, q2",
        "vshr.s32 q3, q3, #31",
        "vqadd.s32 q0, q0, q3",
        "vrshl.s32 q0, q0, q2",
        "vand q3, q1, q2",
        "vshr.s32 q3, q3, #31",
        "vqadd.s32 q1, q1, q3",
        "vrshl.s32 q1, q1, q2"
    ]
);

gemm_kernel!(
    /// [`gemm_2x4`] for layers whose left shifts are all 0 (no `VSHL`).
    ///
    /// # Safety
    /// As [`gemm_2x4`].
    gemm_2x4_no_shift,
    [],
    [
        "vand q3, q0, q2",
        "vshr.s32 q3, q3, #31",
        "vqadd.s32 q0, q0, q3",
        "vrshl.s32 q0, q0, q2",
        "vand q3, q1, q2",
        "vshr.s32 q3, q3, #31",
        "vqadd.s32 q1, q1, q3",
        "vrshl.s32 q1, q1, q2"
    ]
);

gemm_kernel!(
    /// [`gemm_2x4`] without gemmlowp's sign fixup, for layers whose output zero point is at or
    /// below the lower clamp (ReLU, ReLU6, or no activation with zero point -128). The fixup
    /// only changes negative values at exact ties, and a negative value stays `<= 0` either
    /// way, so `r + zp <= zp <= act_min` clamps to `act_min` with or without it: the outputs
    /// are the same for every accumulator.
    ///
    /// # Safety
    /// As [`gemm_2x4`].
    gemm_2x4_no_fixup,
    [
        "vldrw.u32 q2, [r7, #16]",
        "vshl.s32 q0, q0, q2",
        "vshl.s32 q1, q1, q2"
    ],
    ["vrshl.s32 q0, q0, q2", "vrshl.s32 q1, q1, q2"]
);

gemm_kernel!(
    /// [`gemm_2x4_no_fixup`] for layers whose left shifts are all 0 (no `VSHL`).
    ///
    /// # Safety
    /// As [`gemm_2x4`].
    gemm_2x4_no_shift_no_fixup,
    [],
    ["vrshl.s32 q0, q0, q2", "vrshl.s32 q1, q1, q2"]
);
