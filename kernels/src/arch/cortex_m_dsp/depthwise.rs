//! 3x3 depthwise convolution over a run of output pixels: four channels' taps widened by one
//! `SXTB16` pair and accumulated with 16x16 multiply-accumulates against pre-interleaved
//! 16-bit weights.

use core::arch::asm;

/// Arguments of [`row3x3_relu`], read by the assembly from memory.
#[repr(C)]
pub struct Row3x3Args {
    /// First tap (top-left) of the first pixel, channel 0.
    pub input: *const i8,
    /// Bytes from one input row to the next (a dilation of 1 is assumed).
    pub row_stride: usize,
    /// Bytes from one output pixel's first tap to the next pixel's.
    pub pixel_step: usize,
    /// Channels (a multiple of 4): also the bytes from one tap to the next in a row.
    pub channels: usize,
    /// Weights `[channels / 4][9][4]` (`i16`, order `c, c+2, c+1, c+3`, pre-shifted).
    pub weights: *const i16,
    /// Output stage, 16 words per group.
    pub params: *const i32,
    /// One past the last params word.
    pub params_end: *const i32,
    /// Output of the first pixel, channel 0 (pixels follow each other).
    pub out: *mut i8,
    /// Pixels (at least 1).
    pub pixels: usize,
}

/// A run of output pixels of a 3x3 depthwise convolution (dilation 1), every channel, DSP
/// output stage: per tap and four channels one load, two `SXTB16`, one double load of weights
/// and four 16x16 multiply-accumulates.
///
/// # Safety
/// For every pixel `i < pixels`, every tap `input + i * pixel_step + ky * row_stride +
/// kx * channels + c` (ky, kx < 3, c < channels) is readable; `weights` holds `9 * channels`
/// values; `params..params_end` is `4 * channels` words with shifts in `0..32`; `out` has
/// `pixels * channels` writable bytes; `channels` is a non-zero multiple of 4.
pub unsafe fn row3x3_relu(args: &Row3x3Args) {
    // SAFETY: the caller guarantees the ranges above; r6/r7 and the stack frame are saved and
    // restored inside the block, every other written register is declared.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // Locals: [sp] input of this pixel, [sp+4] row stride, [sp+8] pixel step,
            // [sp+12] weights, [sp+16] params, [sp+20] params end, [sp+24] out, [sp+28] pixels left.
            "sub sp, sp, #32",
            "ldr r1, [r0, #0]",
            "str r1, [sp, #0]",
            "ldr r1, [r0, #4]",
            "str r1, [sp, #4]",
            "ldr r1, [r0, #8]",
            "str r1, [sp, #8]",
            "ldr lr, [r0, #12]",
            "ldr r1, [r0, #16]",
            "str r1, [sp, #12]",
            "ldr r1, [r0, #20]",
            "str r1, [sp, #16]",
            "ldr r1, [r0, #24]",
            "str r1, [sp, #20]",
            "ldr r1, [r0, #28]",
            "str r1, [sp, #24]",
            "ldr r1, [r0, #32]",
            "str r1, [sp, #28]",
            // Per pixel: three row pointers, weights and params from the start.
            "2:",
            "ldr r10, [sp, #0]",
            "ldr r1, [sp, #4]",
            "add r11, r10, r1",
            "add r12, r11, r1",
            "ldr r6, [sp, #12]",
            "ldr r7, [sp, #16]",
            // Per group of four channels.
            "3:",
            "ldm r7!, {{r0, r1, r2, r3}}",
            "ldr r4, [r10]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r10, lr]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r10, lr, lsl #1]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r11]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r11, lr]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r11, lr, lsl #1]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r12]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r12, lr]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            "ldr r4, [r12, lr, lsl #1]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "ldm r6!, {{r8, r9}}",
            "smlabb r0, r5, r8, r0",
            "smlatt r2, r5, r8, r2",
            "smlabb r1, r4, r9, r1",
            "smlatt r3, r4, r9, r3",
            // Output stage of the four channels: multiplier, rshift, round.
            "ldm r7!, {{r4, r5, r8}}",
            "smmulr r0, r0, r4",
            "qadd r0, r0, r8",
            "asr r0, r0, r5",
            "ssat r0, #8, r0",
            "ldm r7!, {{r4, r5, r8}}",
            "smmulr r1, r1, r4",
            "qadd r1, r1, r8",
            "asr r1, r1, r5",
            "ssat r1, #8, r1",
            "ldm r7!, {{r4, r5, r8}}",
            "smmulr r2, r2, r4",
            "qadd r2, r2, r8",
            "asr r2, r2, r5",
            "ssat r2, #8, r2",
            "ldm r7!, {{r4, r5, r8}}",
            "smmulr r3, r3, r4",
            "qadd r3, r3, r8",
            "asr r3, r3, r5",
            "ssat r3, #8, r3",
            "ldr r9, [sp, #24]",
            "strb r0, [r9], #1",
            "strb r1, [r9], #1",
            "strb r2, [r9], #1",
            "strb r3, [r9], #1",
            "str r9, [sp, #24]",
            "add r10, r10, #4",
            "add r11, r11, #4",
            "add r12, r12, #4",
            "ldr r9, [sp, #20]",
            "cmp r7, r9",
            "bne 3b",
            // Next pixel.
            "ldr r10, [sp, #0]",
            "ldr r1, [sp, #8]",
            "add r10, r10, r1",
            "str r10, [sp, #0]",
            "ldr r1, [sp, #28]",
            "subs r1, r1, #1",
            "str r1, [sp, #28]",
            "bne 2b",
            "add sp, sp, #32",
            "pop {{r6, r7}}",
            inout("r0") args as *const Row3x3Args => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}
