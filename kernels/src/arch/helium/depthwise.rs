//! 3x3 depthwise convolution over a run of 16-byte chunks of an output row
//! ([`ferrite_core::ops::DepthwiseHeliumI8`]): per tap, 16 input bytes times 16 weights as
//! 16-bit products (`VMULLB`/`VMULLT.S8`, even and odd lanes), two taps' products summed in 16
//! bits (wrapping; exact when no weight is -128, as `|x * w| <= 128 * 127` and two fit),
//! widened into four 32-bit accumulators (`VMOVLB`/`VMOVLT.S16`), then TFLite's exact output
//! stage on 16 lanes.

use core::arch::asm;

/// Arguments of [`row3x3`] and [`row3x3_no_shift`], read by the assembly from memory.
#[repr(C)]
pub struct Row3x3Args {
    /// The nine taps `(ky, kx)` of the first chunk, row-major; every chunk reads 16 bytes at
    /// each tap and moves all nine 16 bytes on.
    pub taps: [*const i8; 9],
    /// Weights of the run's first chunk: `period` blocks of `[9][16]`.
    pub weights: *const i8,
    /// Output stage of the first chunk: `period` blocks of 64 words.
    pub params: *const i32,
    /// Output of the first chunk (16 bytes per chunk, consecutive).
    pub out: *mut i8,
    /// Chunks in the run (at least 1).
    pub chunks: usize,
    /// Chunks per period (at least 1): after `period` chunks, weights and output stage
    /// start over and every tap pointer moves `extra` more bytes.
    pub period: usize,
    /// See `period`.
    pub extra: usize,
    /// Output zero point, lower and upper clamp, each repeated eight times (all three in
    /// `-128..=127`).
    pub clamp: [[i16; 8]; 3],
}

/// Defines a row kernel; `$shift` are the instructions applying the left shifts (or none, for
/// layers whose left shifts are all 0), `$round` those of the rounding right shift (with or
/// without gemmlowp's sign fixup; see [`row3x3_no_fixup`]).
macro_rules! row3x3_kernel {
    ($(#[$doc:meta])* $name:ident, [$($shift:tt),*], [$($round:tt),*]) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// For every chunk `i < chunks`, with `e = (i / period) * extra`, each tap
        /// `taps[t] + 16 * i + e` has 16 readable bytes; `weights` holds `period * 144` readable
        /// bytes; `params` `period * 64` readable, 4-byte aligned words; `out` has
        /// `16 * chunks` writable bytes; `chunks`, `period` >= 1. The CPU implements MVE
        /// (Cortex-M55).
        #[inline(never)]
        pub unsafe fn $name(args: &Row3x3Args) {
            // SAFETY: the caller guarantees every range above. r6/r7 and the stack frame are
            // saved and restored inside the block; every other register it writes is declared
            // (q0-q7 as s0-s31). `DLS`/`LE` use lr only (no tail predication; VPR untouched).
            // `VMULLB`/`VMULLT.S8` with the destination equal to a source is well defined (each
            // beat reads and writes only its own 32 bits; only 32-bit elements forbid it).
            unsafe {
                asm!(
            "push {{r6, r7}}",
            // Registers: r0-r8 the nine taps, r9 weights, r10 out, r11 chunks left in the
            // period, r12 output stage, lr chunks left; q0-q3 accumulators.
            // Locals: [sp] args, [sp, #16..64] zero point, lower and upper clamp vectors.
            "sub sp, sp, #64",
            "str r0, [sp]",
            "vldrh.u16 q0, [r0, #60]",
            "vstrh.16 q0, [sp, #16]",
            "vldrh.u16 q0, [r0, #76]",
            "vstrh.16 q0, [sp, #32]",
            "vldrh.u16 q0, [r0, #92]",
            "vstrh.16 q0, [sp, #48]",
            "ldr r9, [r0, #36]",
            "ldr r12, [r0, #40]",
            "ldr r10, [r0, #44]",
            "ldr r11, [r0, #52]",
            "ldr lr, [r0, #48]",
            "ldm r0, {{r0, r1, r2, r3, r4, r5, r6, r7, r8}}",
            "dls lr, lr",
            "2:",
            "vldrw.u32 q0, [r12]",
            "vldrw.u32 q1, [r12, #16]",
            "vldrw.u32 q2, [r12, #32]",
            "vldrw.u32 q3, [r12, #48]",
            // Taps in pairs: even-lane products to q6, odd-lane ones to q7, widened into
            // q0-q3 (lane i of q0: byte 4i; q1: 4i + 2; q2: 4i + 1; q3: 4i + 3).
            "vldrb.8 q4, [r0], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q6, q4, q5",
            "vmullt.s8 q7, q4, q5",
            "vldrb.8 q4, [r1], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q4, q4, q5",
            "vadd.i16 q6, q6, q4",
            "vldrb.8 q4, [r1, #-16]",
            "vmullt.s8 q5, q4, q5",
            "vadd.i16 q7, q7, q5",
            "vmovlb.s16 q4, q6",
            "vadd.i32 q0, q0, q4",
            "vmovlt.s16 q4, q6",
            "vadd.i32 q1, q1, q4",
            "vmovlb.s16 q4, q7",
            "vadd.i32 q2, q2, q4",
            "vmovlt.s16 q4, q7",
            "vadd.i32 q3, q3, q4",
            "vldrb.8 q4, [r2], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q6, q4, q5",
            "vmullt.s8 q7, q4, q5",
            "vldrb.8 q4, [r3], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q4, q4, q5",
            "vadd.i16 q6, q6, q4",
            "vldrb.8 q4, [r3, #-16]",
            "vmullt.s8 q5, q4, q5",
            "vadd.i16 q7, q7, q5",
            "vmovlb.s16 q4, q6",
            "vadd.i32 q0, q0, q4",
            "vmovlt.s16 q4, q6",
            "vadd.i32 q1, q1, q4",
            "vmovlb.s16 q4, q7",
            "vadd.i32 q2, q2, q4",
            "vmovlt.s16 q4, q7",
            "vadd.i32 q3, q3, q4",
            "vldrb.8 q4, [r4], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q6, q4, q5",
            "vmullt.s8 q7, q4, q5",
            "vldrb.8 q4, [r5], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q4, q4, q5",
            "vadd.i16 q6, q6, q4",
            "vldrb.8 q4, [r5, #-16]",
            "vmullt.s8 q5, q4, q5",
            "vadd.i16 q7, q7, q5",
            "vmovlb.s16 q4, q6",
            "vadd.i32 q0, q0, q4",
            "vmovlt.s16 q4, q6",
            "vadd.i32 q1, q1, q4",
            "vmovlb.s16 q4, q7",
            "vadd.i32 q2, q2, q4",
            "vmovlt.s16 q4, q7",
            "vadd.i32 q3, q3, q4",
            "vldrb.8 q4, [r6], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q6, q4, q5",
            "vmullt.s8 q7, q4, q5",
            "vldrb.8 q4, [r7], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q4, q4, q5",
            "vadd.i16 q6, q6, q4",
            "vldrb.8 q4, [r7, #-16]",
            "vmullt.s8 q5, q4, q5",
            "vadd.i16 q7, q7, q5",
            "vmovlb.s16 q4, q6",
            "vadd.i32 q0, q0, q4",
            "vmovlt.s16 q4, q6",
            "vadd.i32 q1, q1, q4",
            "vmovlb.s16 q4, q7",
            "vadd.i32 q2, q2, q4",
            "vmovlt.s16 q4, q7",
            "vadd.i32 q3, q3, q4",
            "vldrb.8 q4, [r8], #16",
            "vldrb.8 q5, [r9], #16",
            "vmullb.s8 q6, q4, q5",
            "vmovlb.s16 q7, q6",
            "vadd.i32 q0, q0, q7",
            "vmovlt.s16 q7, q6",
            "vadd.i32 q1, q1, q7",
            "vmullt.s8 q6, q4, q5",
            "vmovlb.s16 q7, q6",
            "vadd.i32 q2, q2, q7",
            "vmovlt.s16 q7, q6",
            "vadd.i32 q3, q3, q7",
            // Output stage: left shifts, multipliers, RoundingDivideByPOT (with the sign fixup, or
            // without it where it cannot show).
            $($shift,)*
            "vldrw.u32 q4, [r12, #128]",
            "vqrdmulh.s32 q0, q0, q4",
            "vldrw.u32 q4, [r12, #144]",
            "vqrdmulh.s32 q1, q1, q4",
            "vldrw.u32 q4, [r12, #160]",
            "vqrdmulh.s32 q2, q2, q4",
            "vldrw.u32 q4, [r12, #176]",
            "vqrdmulh.s32 q3, q3, q4",
            $($round,)*
            "add r12, r12, #256",
            // Even bytes of the chunk to q4 (16-bit lanes in order), odd ones to q5.
            "vqmovnb.s32 q4, q0",
            "vqmovnt.s32 q4, q1",
            "vqmovnb.s32 q5, q2",
            "vqmovnt.s32 q5, q3",
            "vldrh.u16 q6, [sp, #16]",
            "vqadd.s16 q4, q4, q6",
            "vqadd.s16 q5, q5, q6",
            "vldrh.u16 q6, [sp, #32]",
            "vmax.s16 q4, q4, q6",
            "vmax.s16 q5, q5, q6",
            "vldrh.u16 q6, [sp, #48]",
            "vmin.s16 q4, q4, q6",
            "vmin.s16 q5, q5, q6",
            "vmovnb.i16 q6, q4",
            "vmovnt.i16 q6, q5",
            "vstrb.8 q6, [r10], #16",
            "subs r11, r11, #1",
            "bne 3f",
            // End of a period: weights and output stage start over, taps move `extra` on.
            "ldr r11, [sp]",
            "ldr r9, [r11, #36]",
            "ldr r12, [r11, #40]",
            "ldr r11, [r11, #56]",
            "cmp r11, #0",
            "beq 4f",
            "add r0, r0, r11",
            "add r1, r1, r11",
            "add r2, r2, r11",
            "add r3, r3, r11",
            "add r4, r4, r11",
            "add r5, r5, r11",
            "add r6, r6, r11",
            "add r7, r7, r11",
            "add r8, r8, r11",
            "4:",
            "ldr r11, [sp]",
            "ldr r11, [r11, #52]",
            "3:",
            "le lr, 2b",
            "add sp, sp, #64",
            "pop {{r6, r7}}",
            inout("r0") args as *const Row3x3Args => _,
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

row3x3_kernel!(
    /// A run of 16-byte chunks of a 3x3 depthwise convolution, each as
    /// [`crate::ops::depthwise_helium::portable_chunk`] computes it:
    /// `acc = bias + sum_t x_t * w_t`, then
    /// `clamp(rdbpot(srdhm(acc << l, m), r) +sat zp, act_min, act_max)`.
    ///
    /// Lane `i` of accumulator `v` holds byte `4i + [0, 2, 1, 3][v]` of the chunk (the order
    /// `VMULLB`/`VMULLT` then `VMOVLB`/`VMOVLT` produce); the output stage narrows them back
    /// to byte order. It saturates to 16 bits before adding the zero point and clamping
    /// (`VQMOVNB`/`VQMOVNT`, then 16-bit `VQADD`, `VMAX`, `VMIN`): with the zero point and
    /// the clamp bounds in the int8 range this is exactly the 32-bit result, because a value
    /// outside the 16-bit range clamps to the same bound either way.
    row3x3,
    [
        "vldrw.u32 q4, [r12, #64]",
        "vshl.s32 q0, q0, q4",
        "vldrw.u32 q4, [r12, #80]",
        "vshl.s32 q1, q1, q4",
        "vldrw.u32 q4, [r12, #96]",
        "vshl.s32 q2, q2, q4",
        "vldrw.u32 q4, [r12, #112]",
        "vshl.s32 q3, q3, q4"
    ],
    [
        "vldrw.u32 q4, [r12, #192]",
        "vand q5, q0, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q0, q0, q5",
        "vrshl.s32 q0, q0, q4",
        "vldrw.u32 q4, [r12, #208]",
        "vand q5, q1, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q1, q1, q5",
        "vrshl.s32 q1, q1, q4",
        "vldrw.u32 q4, [r12, #224]",
        "vand q5, q2, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q2, q2, q5",
        "vrshl.s32 q2, q2, q4",
        "vldrw.u32 q4, [r12, #240]",
        "vand q5, q3, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q3, q3, q5",
        "vrshl.s32 q3, q3, q4"
    ]
);

row3x3_kernel!(
    /// [`row3x3`] for layers whose left shifts are all 0 (no `VSHL`).
    row3x3_no_shift,
    [],
    [
        "vldrw.u32 q4, [r12, #192]",
        "vand q5, q0, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q0, q0, q5",
        "vrshl.s32 q0, q0, q4",
        "vldrw.u32 q4, [r12, #208]",
        "vand q5, q1, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q1, q1, q5",
        "vrshl.s32 q1, q1, q4",
        "vldrw.u32 q4, [r12, #224]",
        "vand q5, q2, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q2, q2, q5",
        "vrshl.s32 q2, q2, q4",
        "vldrw.u32 q4, [r12, #240]",
        "vand q5, q3, q4",
        "vshr.s32 q5, q5, #31",
        "vqadd.s32 q3, q3, q5",
        "vrshl.s32 q3, q3, q4"
    ]
);

row3x3_kernel!(
    /// [`row3x3`] without gemmlowp's sign fixup, for layers whose output zero point is at or
    /// below the lower clamp (ReLU, ReLU6, or no activation with zero point -128). The fixup
    /// only changes negative values at exact ties, and a negative value stays `<= 0` either
    /// way, so `r + zp <= zp <= act_min` clamps to `act_min` with or without it: the outputs
    /// are the same for every accumulator.
    row3x3_no_fixup,
    [
        "vldrw.u32 q4, [r12, #64]",
        "vshl.s32 q0, q0, q4",
        "vldrw.u32 q4, [r12, #80]",
        "vshl.s32 q1, q1, q4",
        "vldrw.u32 q4, [r12, #96]",
        "vshl.s32 q2, q2, q4",
        "vldrw.u32 q4, [r12, #112]",
        "vshl.s32 q3, q3, q4"
    ],
    [
        "vldrw.u32 q4, [r12, #192]",
        "vrshl.s32 q0, q0, q4",
        "vldrw.u32 q4, [r12, #208]",
        "vrshl.s32 q1, q1, q4",
        "vldrw.u32 q4, [r12, #224]",
        "vrshl.s32 q2, q2, q4",
        "vldrw.u32 q4, [r12, #240]",
        "vrshl.s32 q3, q3, q4"
    ]
);

row3x3_kernel!(
    /// [`row3x3_no_fixup`] for layers whose left shifts are all 0 (no `VSHL`).
    row3x3_no_shift_no_fixup,
    [],
    [
        "vldrw.u32 q4, [r12, #192]",
        "vrshl.s32 q0, q0, q4",
        "vldrw.u32 q4, [r12, #208]",
        "vrshl.s32 q1, q1, q4",
        "vldrw.u32 q4, [r12, #224]",
        "vrshl.s32 q2, q2, q4",
        "vldrw.u32 q4, [r12, #240]",
        "vrshl.s32 q3, q3, q4"
    ]
);
