//! ARMv7-M without the DSP extension (Cortex-M3): the 3x3 depthwise convolution of
//! [`crate::ops::depthwise_dsp`]'s bands in Thumb-2 assembly.
//!
//! Without `SMLAD` every tap is one load and one `MLA`; what LLVM adds around them is the
//! cost: the nine weights, three row pointers, the sums and the output stage need more than
//! the 14 usable registers, so the portable loop spills the weights and reloads them tap by
//! tap (51 instructions per output pixel). Here `LDM` refills a group of registers in one
//! instruction, so registers serve in turns within a step of four output pixels: the bias
//! four times and filter row 0's weights (`LDM sp`), row 1's (`LDMDB lr`), row 2's (`LDM
//! r12`), then the output stage's constants (`LDM lr`), with the three row pointers, the
//! output pointer and the two frame pointers live throughout. Four pixels at stride 1 are 80
//! instructions (18 loads, 36 `MLA`), at stride 2 86; a row's last two or one pixels take
//! the same scheme with fewer sums.
//!
//! The band is int8 NHWC rows where the channel count is one of [`bytes_channels`] (taps by
//! `LDRSB` at offsets that are multiples of the count, fixed at compile time; an input row is
//! one copy, [`copy_row`]); otherwise the 16-bit channel-planar band the DSP kernels use
//! (taps by `LDRSH`; rows widened by [`widen_row`]).

use core::arch::asm;

/// Most output rows per call.
pub const MAX_ROWS: usize = 32;

/// The band's state, read and updated by the assembly, which addresses it from `stage`
/// (held in lr; `row2` in r12). Per channel the assembly writes the bias four times and
/// filter row 0's weights to its stack (loaded by one `LDM sp` per step), rows 1 and 2's
/// weights to `row1` and `row2` and the channel's words to `stage`.
#[repr(C)]
struct Frame {
    /// Filter row 1's weights (`LDMDB lr`).
    row1: [i32; 3],
    /// `SMLAL`'s starting pair (2^31, round: the rounding of `SMMULR` and the round term
    /// added in one multiply), the multiplier, rshift (loaded together by one `LDM lr`),
    /// and where the current row's four-pixel steps end (`lr + 16`, written per row).
    stage: [i32; 5],
    /// Bytes from one output pixel to the next (`lr + 20`).
    channels: i32,
    /// Filter row 2's weights (`lr + 24`, `LDM r12`).
    row2: [i32; 3],
    /// The next output row's three band-row byte offsets (`lr + 36`); a first offset with
    /// bit 0 set ends the rows.
    offsets: *const u32,
    /// The current channel's values in band slot 0 (`lr + 40`).
    base: *const i16,
    /// Output bytes of a row's four-pixel steps, `out_w / 4 * 4 * channels` (`lr + 44`).
    quad_bytes: i32,
    /// Where a row starts after its setup (`lr + 48`, written by the assembly: the steps, or
    /// where `after_quads` goes when there are none).
    row_entry: usize,
    /// `out_w % 4` (`lr + 52`); the assembly replaces it by where a row goes after its
    /// four-pixel steps (two more pixels, one, or the next row).
    after_quads: usize,
    /// The next channel's weights, 10 values each (`lr + 56`).
    weights: *const i16,
    /// The next channel's bias, multiplier, round, rshift (`lr + 60`).
    params: *const i32,
    /// The first output row's offsets (`lr + 64`).
    first_offsets: *const u32,
    /// Bytes from one channel's band values to the next's, `2 * wp` (`lr + 68`).
    plane_bytes: i32,
    /// The next channel's first output pixel (`lr + 72`).
    out: *mut i8,
    /// Channels left (`lr + 76`).
    channels_left: i32,
    /// Where a row goes after two remaining pixels (`lr + 80`, written by the assembly).
    after_pair: usize,
}

/// One filter row of four output pixels at stride 1: taps x0..x5 from the row pointer `$p`
/// (advanced by four values) into r7, weights in r4-r6, sums in r0-r3.
macro_rules! quad_row_s1 {
    ($p:literal) => {
        concat!(
            "ldrsh r7, [",
            $p,
            "], #8\n",
            "mla r0, r7, r4, r0\n",
            "ldrsh r7, [",
            $p,
            ", #-6]\n",
            "mla r0, r7, r5, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsh r7, [",
            $p,
            ", #-4]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r5, r1\n",
            "mla r2, r7, r4, r2\n",
            "ldrsh r7, [",
            $p,
            ", #-2]\n",
            "mla r1, r7, r6, r1\n",
            "mla r2, r7, r5, r2\n",
            "mla r3, r7, r4, r3\n",
            "ldrsh r7, [",
            $p,
            "]\n",
            "mla r2, r7, r6, r2\n",
            "mla r3, r7, r5, r3\n",
            "ldrsh r7, [",
            $p,
            ", #2]\n",
            "mla r3, r7, r6, r3\n",
        )
    };
}

/// [`quad_row_s1`] at stride 2: taps x0..x8, the pointer advanced by eight values.
macro_rules! quad_row_s2 {
    ($p:literal) => {
        concat!(
            "ldrsh r7, [",
            $p,
            "], #16\n",
            "mla r0, r7, r4, r0\n",
            "ldrsh r7, [",
            $p,
            ", #-14]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsh r7, [",
            $p,
            ", #-12]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsh r7, [",
            $p,
            ", #-10]\n",
            "mla r1, r7, r5, r1\n",
            "ldrsh r7, [",
            $p,
            ", #-8]\n",
            "mla r1, r7, r6, r1\n",
            "mla r2, r7, r4, r2\n",
            "ldrsh r7, [",
            $p,
            ", #-6]\n",
            "mla r2, r7, r5, r2\n",
            "ldrsh r7, [",
            $p,
            ", #-4]\n",
            "mla r2, r7, r6, r2\n",
            "mla r3, r7, r4, r3\n",
            "ldrsh r7, [",
            $p,
            ", #-2]\n",
            "mla r3, r7, r5, r3\n",
            "ldrsh r7, [",
            $p,
            "]\n",
            "mla r3, r7, r6, r3\n",
        )
    };
}

/// One filter row of two output pixels at stride 1: taps x0..x3 from `$p` (advanced by two
/// values) into r7, weights in r4-r6, sums in r0 and r1.
macro_rules! pair_row_s1 {
    ($p:literal) => {
        concat!(
            "ldrsh r7, [",
            $p,
            "], #4\n",
            "mla r0, r7, r4, r0\n",
            "ldrsh r7, [",
            $p,
            ", #-2]\n",
            "mla r0, r7, r5, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsh r7, [",
            $p,
            "]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r5, r1\n",
            "ldrsh r7, [",
            $p,
            ", #2]\n",
            "mla r1, r7, r6, r1\n",
        )
    };
}

/// [`pair_row_s1`] at stride 2: taps x0..x4, the pointer advanced by four values.
macro_rules! pair_row_s2 {
    ($p:literal) => {
        concat!(
            "ldrsh r7, [",
            $p,
            "], #8\n",
            "mla r0, r7, r4, r0\n",
            "ldrsh r7, [",
            $p,
            ", #-6]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsh r7, [",
            $p,
            ", #-4]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsh r7, [",
            $p,
            ", #-2]\n",
            "mla r1, r7, r5, r1\n",
            "ldrsh r7, [",
            $p,
            "]\n",
            "mla r1, r7, r6, r1\n",
        )
    };
}

/// One filter row of a single output pixel (a row's last): taps x0..x2 at `$p` into r7,
/// weights in r4-r6, sum in r0.
macro_rules! single_row {
    ($p:literal) => {
        concat!(
            "ldrsh r7, [",
            $p,
            "]\n",
            "mla r0, r7, r4, r0\n",
            "ldrsh r7, [",
            $p,
            ", #2]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsh r7, [",
            $p,
            ", #4]\n",
            "mla r0, r7, r6, r0\n",
        )
    };
}

/// [`quad_row_s1`] over an int8 band (pixels `{c1}` bytes apart): taps x0..x5 by `LDRSB`
/// at immediate offsets, then the pointer advanced by four pixels.
macro_rules! quad_row_b1 {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r0, r7, r5, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c2}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r5, r1\n",
            "mla r2, r7, r4, r2\n",
            "ldrsb r7, [",
            $p,
            ", #{c3}]\n",
            "mla r1, r7, r6, r1\n",
            "mla r2, r7, r5, r2\n",
            "mla r3, r7, r4, r3\n",
            "ldrsb r7, [",
            $p,
            ", #{c4}]\n",
            "mla r2, r7, r6, r2\n",
            "mla r3, r7, r5, r3\n",
            "ldrsb r7, [",
            $p,
            ", #{c5}]\n",
            "mla r3, r7, r6, r3\n",
            "add ",
            $p,
            ", ",
            $p,
            ", #{c4}\n",
        )
    };
}

/// [`quad_row_b1`] when `4 * C` fits a post-increment (below 256): the first load advances
/// the pointer, the others reach back.
macro_rules! quad_row_b1_post {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "], #{c4}\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #-{c3}]\n",
            "mla r0, r7, r5, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #-{c2}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r5, r1\n",
            "mla r2, r7, r4, r2\n",
            "ldrsb r7, [",
            $p,
            ", #-{c1}]\n",
            "mla r1, r7, r6, r1\n",
            "mla r2, r7, r5, r2\n",
            "mla r3, r7, r4, r3\n",
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r2, r7, r6, r2\n",
            "mla r3, r7, r5, r3\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r3, r7, r6, r3\n",
        )
    };
}

/// [`pair_row_b1`] with a post-increment (see [`quad_row_b1_post`]).
macro_rules! pair_row_b1_post {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "], #{c2}\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #-{c1}]\n",
            "mla r0, r7, r5, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r5, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r1, r7, r6, r1\n",
        )
    };
}

/// [`quad_row_b2`] when `8 * C` fits a post-increment (below 256).
macro_rules! quad_row_b2_post {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "], #{c8}\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #-{c7}]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsb r7, [",
            $p,
            ", #-{c6}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #-{c5}]\n",
            "mla r1, r7, r5, r1\n",
            "ldrsb r7, [",
            $p,
            ", #-{c4}]\n",
            "mla r1, r7, r6, r1\n",
            "mla r2, r7, r4, r2\n",
            "ldrsb r7, [",
            $p,
            ", #-{c3}]\n",
            "mla r2, r7, r5, r2\n",
            "ldrsb r7, [",
            $p,
            ", #-{c2}]\n",
            "mla r2, r7, r6, r2\n",
            "mla r3, r7, r4, r3\n",
            "ldrsb r7, [",
            $p,
            ", #-{c1}]\n",
            "mla r3, r7, r5, r3\n",
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r3, r7, r6, r3\n",
        )
    };
}

/// [`pair_row_b2`] with a post-increment (see [`quad_row_b2_post`]).
macro_rules! pair_row_b2_post {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "], #{c4}\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #-{c3}]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsb r7, [",
            $p,
            ", #-{c2}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #-{c1}]\n",
            "mla r1, r7, r5, r1\n",
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r1, r7, r6, r1\n",
        )
    };
}

/// [`quad_row_s2`] over an int8 band: taps x0..x8, the pointer advanced by eight pixels.
macro_rules! quad_row_b2 {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c2}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c3}]\n",
            "mla r1, r7, r5, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c4}]\n",
            "mla r1, r7, r6, r1\n",
            "mla r2, r7, r4, r2\n",
            "ldrsb r7, [",
            $p,
            ", #{c5}]\n",
            "mla r2, r7, r5, r2\n",
            "ldrsb r7, [",
            $p,
            ", #{c6}]\n",
            "mla r2, r7, r6, r2\n",
            "mla r3, r7, r4, r3\n",
            "ldrsb r7, [",
            $p,
            ", #{c7}]\n",
            "mla r3, r7, r5, r3\n",
            "ldrsb r7, [",
            $p,
            ", #{c8}]\n",
            "mla r3, r7, r6, r3\n",
            "add ",
            $p,
            ", ",
            $p,
            ", #{c8}\n",
        )
    };
}

/// [`pair_row_s1`] over an int8 band: taps x0..x3, the pointer advanced by two pixels.
macro_rules! pair_row_b1 {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r0, r7, r5, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c2}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r5, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c3}]\n",
            "mla r1, r7, r6, r1\n",
            "add ",
            $p,
            ", ",
            $p,
            ", #{c2}\n",
        )
    };
}

/// [`pair_row_s2`] over an int8 band: taps x0..x4, the pointer advanced by four pixels.
macro_rules! pair_row_b2 {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c2}]\n",
            "mla r0, r7, r6, r0\n",
            "mla r1, r7, r4, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c3}]\n",
            "mla r1, r7, r5, r1\n",
            "ldrsb r7, [",
            $p,
            ", #{c4}]\n",
            "mla r1, r7, r6, r1\n",
            "add ",
            $p,
            ", ",
            $p,
            ", #{c4}\n",
        )
    };
}

/// [`single_row`] over an int8 band.
macro_rules! single_row_b {
    ($p:literal) => {
        concat!(
            "ldrsb r7, [",
            $p,
            "]\n",
            "mla r0, r7, r4, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c1}]\n",
            "mla r0, r7, r5, r0\n",
            "ldrsb r7, [",
            $p,
            ", #{c2}]\n",
            "mla r0, r7, r6, r0\n",
        )
    };
}

/// The output stage of the sum in `$acc` (the multiplier in r6, rshift in r7, r4:r5 starting
/// at (2^31, round)): r5 = round + SMMULR(sum, multiplier), shifted and saturated, then the
/// store `$store`.
macro_rules! stage {
    ($acc:literal, [$($store:literal),*]) => {
        concat!(
            "smlal r4, r5, ", $acc, ", r6\n",
            "asr r5, r5, r7\n",
            "ssat r5, #8, r5\n",
            $($store, "\n",)*
        )
    };
}

/// The whole block: per channel its weights and output stage into the stack and frame, then
/// per output row its three band rows in r8-r10 (output in r11): its steps of four pixels
/// (`$quad_row`), then two (`$pair_row`) and one as the row's width leaves, each pixel
/// stored by `$store` (from r5, r4 free).
macro_rules! band_block {
    ($quad_row:ident, $pair_row:ident, $single_row:ident, [$($store:literal),*]) => {
        concat!(
            "push {{r6, r7}}\n",
            "sub sp, sp, #32\n",
            "add lr, r0, #12\n",
            "add r12, lr, #24\n",
            // The row's computed branches (Thumb bit set) from out_w % 4: after the pair
            // (r2) the last pixel if 3, else the next row; after the steps (r0) the pair if
            // 2 or 3, the last pixel if 1, else the next row; a row starts (r3) with the
            // steps if any, else there.
            "ldr r1, [lr, #52]\n",
            "adr r2, 2f\n",
            "cmp r1, #3\n",
            "bne 12f\n",
            "adr r2, 4f\n",
            "12:\n",
            "adr r0, 2f\n",
            "cmp r1, #1\n",
            "bne 13f\n",
            "adr r0, 4f\n",
            "13:\n",
            "cmp r1, #2\n",
            "blo 14f\n",
            "adr r0, 5f\n",
            "14:\n",
            "orr r0, r0, #1\n",
            "orr r2, r2, #1\n",
            "str r0, [lr, #52]\n",
            "str r2, [lr, #80]\n",
            "mov r3, r0\n",
            "ldr r1, [lr, #44]\n",
            "cmp r1, #0\n",
            "beq 15f\n",
            "adr r3, 3f\n",
            "orr r3, r3, #1\n",
            "15:\n",
            "str r3, [lr, #48]\n",
            // Per channel: stack [bias x4, w00 w01 w02], row1 = w10 w11 w12,
            // row2 = w20 w21 w22, stage = 2^31, round, multiplier, rshift & 31.
            "7:\n",
            "ldr r0, [lr, #56]\n",
            "ldrsh r4, [r0]\n",
            "ldrsh r5, [r0, #2]\n",
            "ldrsh r6, [r0, #12]\n",
            "ldrsh r1, [r0, #4]\n",
            "ldrsh r2, [r0, #6]\n",
            "ldrsh r3, [r0, #14]\n",
            "stmdb lr, {{r1, r2, r3}}\n",
            "ldrsh r1, [r0, #8]\n",
            "ldrsh r2, [r0, #10]\n",
            "ldrsh r3, [r0, #16]\n",
            "stm r12, {{r1, r2, r3}}\n",
            "add r0, r0, #20\n",
            "str r0, [lr, #56]\n",
            "ldr r7, [lr, #60]\n",
            "ldm r7!, {{r0, r1, r2, r3}}\n",
            "str r7, [lr, #60]\n",
            "and r3, r3, #31\n",
            "str r2, [lr, #4]\n",
            "strd r1, r3, [lr, #8]\n",
            "mov r1, r0\n",
            "mov r2, r0\n",
            "mov r3, r0\n",
            "stm sp, {{r0, r1, r2, r3, r4, r5, r6}}\n",
            "ldr r11, [lr, #72]\n",
            "add r0, r11, #1\n",
            "str r0, [lr, #72]\n",
            "ldr r0, [lr, #64]\n",
            "str r0, [lr, #36]\n",
            // Per output row: its band rows, and where its steps end.
            "2:\n",
            "ldr r0, [lr, #36]\n",
            "ldm r0!, {{r8, r9, r10}}\n",
            "str r0, [lr, #36]\n",
            "tst r8, #1\n",
            "bne 9f\n",
            "ldr r0, [lr, #40]\n",
            "add r8, r8, r0\n",
            "add r9, r9, r0\n",
            "add r10, r10, r0\n",
            "ldr r0, [lr, #44]\n",
            "add r0, r11, r0\n",
            "str r0, [lr, #16]\n",
            "ldr pc, [lr, #48]\n",
            // Four pixels: sums r0-r3 from the bias.
            "3:\n",
            "ldm sp, {{r0, r1, r2, r3, r4, r5, r6}}\n",
            $quad_row!("r8"),
            "ldmdb lr, {{r4, r5, r6}}\n",
            $quad_row!("r9"),
            "ldm r12, {{r4, r5, r6}}\n",
            $quad_row!("r10"),
            "ldm lr, {{r4, r5, r6, r7}}\n",
            stage!("r0", [$($store),*]),
            "ldrd r4, r5, [lr]\n",
            stage!("r1", [$($store),*]),
            "ldrd r4, r5, [lr]\n",
            stage!("r2", [$($store),*]),
            "ldrd r4, r5, [lr]\n",
            stage!("r3", [$($store),*]),
            "ldr r0, [lr, #16]\n",
            "cmp r11, r0\n",
            "bne 3b\n",
            "ldr pc, [lr, #52]\n",
            // Two more pixels.
            "5:\n",
            "ldm sp, {{r0, r1, r2, r3, r4, r5, r6}}\n",
            $pair_row!("r8"),
            "ldmdb lr, {{r4, r5, r6}}\n",
            $pair_row!("r9"),
            "ldm r12, {{r4, r5, r6}}\n",
            $pair_row!("r10"),
            "ldm lr, {{r4, r5, r6, r7}}\n",
            stage!("r0", [$($store),*]),
            "ldrd r4, r5, [lr]\n",
            stage!("r1", [$($store),*]),
            "ldr pc, [lr, #80]\n",
            // The row's last pixel.
            "4:\n",
            "ldm sp, {{r0, r1, r2, r3, r4, r5, r6}}\n",
            $single_row!("r8"),
            "ldmdb lr, {{r4, r5, r6}}\n",
            $single_row!("r9"),
            "ldm r12, {{r4, r5, r6}}\n",
            $single_row!("r10"),
            "ldm lr, {{r4, r5, r6, r7}}\n",
            stage!("r0", [$($store),*]),
            "b 2b\n",
            // Next channel.
            "9:\n",
            "ldr r0, [lr, #40]\n",
            "ldr r1, [lr, #68]\n",
            "add r0, r0, r1\n",
            "str r0, [lr, #40]\n",
            "ldr r0, [lr, #76]\n",
            "subs r0, r0, #1\n",
            "str r0, [lr, #76]\n",
            "bne 7b\n",
            "add sp, sp, #32\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// Runs the block over every channel of a 16-bit band (the output pixel stride read from
/// the frame).
///
/// # Safety
/// `frame` is as [`band3x3`] builds it: for each of `channels_left` channels (base advancing
/// by `plane_bytes`), every row offset (up to the one with bit 0 set) added to the base
/// addresses `(out_w - 1) * S + 3` readable values; `weights` and `params` hold the
/// channels' 10 values and 4 words; `out + ch + i * channels` is writable for every channel
/// `ch` and pixel `i` of the rows; `out_w >= 2`.
#[inline(always)]
unsafe fn run_band<const S: usize>(frame: &mut Frame) {
    let f = frame as *mut Frame;
    // SAFETY: the caller guarantees the ranges; r6/r7 and the 32-byte stack area are saved
    // and released inside the block, every other written register is declared, the block
    // writes only the frame and the output pixels, and its computed branches (`ldr pc`) go
    // to labels 2, 3, 4 or 5 of the block, Thumb bit set.
    unsafe {
        if S == 1 {
            asm!(
                band_block!(
                    quad_row_s1,
                    pair_row_s1,
                    single_row,
                    ["ldr r4, [lr, #20]", "strb r5, [r11]", "add r11, r11, r4"]
                ),
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            )
        } else {
            asm!(
                band_block!(
                    quad_row_s2,
                    pair_row_s2,
                    single_row,
                    ["ldr r4, [lr, #20]", "strb r5, [r11]", "add r11, r11, r4"]
                ),
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            )
        }
    }
}

/// [`run_band`] over an int8 band (`frame.plane_bytes == 1`): pixel `x` of channel `ch` at
/// byte `x * C + ch` of a slot row, `C` (8 to 256) a compile-time constant so that the taps
/// load at immediate offsets.
///
/// # Safety
/// As [`run_band`] with bytes for values: `(out_w - 1) * S + 3` pixels of `C` bytes
/// readable from every row offset plus a channel's base; `C == channels`, `8 * C < 4096`.
#[inline(always)]
unsafe fn run_band_bytes<const S: usize, const C: usize>(frame: &mut Frame) {
    let f = frame as *mut Frame;
    // SAFETY: the caller guarantees the ranges (every tap offset, at most `8 * C`, within
    // the slot rows checked by `frame`); r6/r7 and the 32-byte stack area are saved and
    // released inside the block, every other written register is declared, the block
    // writes only the frame and the output pixels, and its computed branches (`ldr pc`) go
    // to labels 2, 3, 4 or 5 of the block, Thumb bit set.
    unsafe {
        match (S == 1, C < 256, C * 4 * S < 256) {
            (true, _, true) => asm!(
                band_block!(
                    quad_row_b1_post,
                    pair_row_b1_post,
                    single_row_b,
                    ["strb r5, [r11], #{c1}"]
                ),
                c1 = const C, c2 = const 2 * C, c3 = const 3 * C, c4 = const 4 * C,
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (false, _, true) => asm!(
                band_block!(
                    quad_row_b2_post,
                    pair_row_b2_post,
                    single_row_b,
                    ["strb r5, [r11], #{c1}"]
                ),
                c1 = const C, c2 = const 2 * C, c3 = const 3 * C, c4 = const 4 * C,
                c5 = const 5 * C, c6 = const 6 * C, c7 = const 7 * C, c8 = const 8 * C,
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (true, true, false) => asm!(
                band_block!(quad_row_b1, pair_row_b1, single_row_b, ["strb r5, [r11], #{c1}"]),
                c1 = const C, c2 = const 2 * C, c3 = const 3 * C, c4 = const 4 * C,
                c5 = const 5 * C,
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (false, true, false) => asm!(
                band_block!(quad_row_b2, pair_row_b2, single_row_b, ["strb r5, [r11], #{c1}"]),
                c1 = const C, c2 = const 2 * C, c3 = const 3 * C, c4 = const 4 * C,
                c5 = const 5 * C, c6 = const 6 * C, c7 = const 7 * C, c8 = const 8 * C,
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (true, false, false) => asm!(
                band_block!(
                    quad_row_b1,
                    pair_row_b1,
                    single_row_b,
                    ["strb r5, [r11]", "add r11, r11, #{c1}"]
                ),
                c1 = const C, c2 = const 2 * C, c3 = const 3 * C, c4 = const 4 * C,
                c5 = const 5 * C,
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (false, false, false) => asm!(
                band_block!(
                    quad_row_b2,
                    pair_row_b2,
                    single_row_b,
                    ["strb r5, [r11]", "add r11, r11, #{c1}"]
                ),
                c1 = const C, c2 = const 2 * C, c3 = const 3 * C, c4 = const 4 * C,
                c5 = const 5 * C, c6 = const 6 * C, c7 = const 7 * C, c8 = const 8 * C,
                inout("r0") f => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
        }
    }
}

/// The `n` output rows of a band for every channel of a 3x3 filter (horizontal stride `S`,
/// 1 or 2, dilation 1), as the portable `row3x3` computes them: per pixel
/// `clamp((SMMULR(bias + taps . weights, multiplier) + round) >> rshift, -128, 127)`, the sum
/// and round wrapping.
///
/// `band` holds ring slots of `c` channel rows of `wp` values; filter row `ky` of output row
/// `r` reads slot `slot_of(r, ky)`, and pixel `x` of channel `ch` goes to
/// `out[(r * out_w + x) * c + ch]`. `weights` holds 10 values per channel (the paired layout
/// `w00 w01 w10 w11 w20 w21 w02 w12 w22 _`), `params` four words (bias, multiplier, round,
/// rshift).
///
/// `None`, computing nothing, when a slice or count does not fit or `out_w < 2` (the caller
/// then runs the portable loop); everything the assembly reads or writes is checked here,
/// once per band.
#[allow(clippy::too_many_arguments)]
pub fn band3x3<const S: usize>(
    band: &[i16],
    n: usize,
    slot_of: impl Fn(usize, usize) -> usize,
    wp: usize,
    c: usize,
    out_w: usize,
    weights: &[i16],
    params: &[i32],
    out: &mut [i8],
) -> Option<()> {
    let mut offsets = [1u32; 3 * MAX_ROWS + 1];
    let band = (band.as_ptr() as *const u8, band.len(), 2);
    let plan: Plan<'_> = (n, &slot_of, wp, c, out_w);
    let mut frame = frame::<S>(band, plan, weights, params, out, &mut offsets)?;
    // SAFETY: `frame` checked every range the block reads and writes. One variant, reading
    // `c` from the frame: the channel counts a fixed variant would serve take the int8
    // band ([`band3x3_bytes`]), so fixed ones here would only cost flash.
    unsafe { run_band::<S>(&mut frame) };
    Some(())
}

/// The channel counts [`band3x3_bytes`] takes (its taps load at offsets fixed at compile
/// time).
pub fn bytes_channels(c: usize) -> bool {
    matches!(c, 8 | 16 | 32 | 64 | 128 | 256)
}

/// [`band3x3`] over an int8 band: ring slots of `wp` pixels of `c` bytes (NHWC rows, so
/// that an input row is copied rather than widened and transposed), pixel `x` of channel
/// `ch` of slot `s` at `band[(s * wp + x) * c + ch]`. `None`, computing nothing, as
/// [`band3x3`], or if [`bytes_channels`] refuses `c`.
#[allow(clippy::too_many_arguments)]
pub fn band3x3_bytes<const S: usize>(
    band: &[i8],
    n: usize,
    slot_of: impl Fn(usize, usize) -> usize,
    wp: usize,
    c: usize,
    out_w: usize,
    weights: &[i16],
    params: &[i32],
    out: &mut [i8],
) -> Option<()> {
    if !bytes_channels(c) {
        return None;
    }
    let mut offsets = [1u32; 3 * MAX_ROWS + 1];
    let band = (band.as_ptr() as *const u8, band.len(), 1);
    let plan: Plan<'_> = (n, &slot_of, wp, c, out_w);
    let mut frame = frame::<S>(band, plan, weights, params, out, &mut offsets)?;
    // SAFETY: `frame` checked every range the block reads and writes; each variant gets
    // exactly its `c` (at most 256, so `8 * c < 4096`).
    unsafe {
        match c {
            8 => run_band_bytes::<S, 8>(&mut frame),
            16 => run_band_bytes::<S, 16>(&mut frame),
            32 => run_band_bytes::<S, 32>(&mut frame),
            64 => run_band_bytes::<S, 64>(&mut frame),
            128 => run_band_bytes::<S, 128>(&mut frame),
            256 => run_band_bytes::<S, 256>(&mut frame),
            _ => return None,
        }
    }
    Some(())
}

/// A band's rows: their count, the slot of each filter row, `wp`, `c`, `out_w`.
type Plan<'a> = (
    usize,
    &'a dyn Fn(usize, usize) -> usize,
    usize,
    usize,
    usize,
);

/// The frame of a band (`band`: its start, length in values, bytes per value (2: channel-
/// planar 16-bit, 1: NHWC int8); `plan`: rows, slots, `wp`, `c`, `out_w`), the rows'
/// offsets written to `offsets`. `None` unless every range the block reads and writes is
/// inside the slices: the checks of [`band3x3`].
fn frame<const S: usize>(
    (base, band_len, b): (*const u8, usize, usize),
    (n, slot_of, wp, c, out_w): Plan<'_>,
    weights: &[i16],
    params: &[i32],
    out: &mut [i8],
    offsets: &mut [u32; 3 * MAX_ROWS + 1],
) -> Option<Frame> {
    let len = out_w.checked_sub(1)?.checked_mul(S)?.checked_add(3)?;
    let row_len = c.checked_mul(wp)?;
    if !(S == 1 || S == 2)
        || !(b == 1 || b == 2)
        || n == 0
        || n > MAX_ROWS
        || out_w < 2
        || c == 0
        || len > wp
        || weights.len() / 10 < c
        || params.len() / 4 < c
        || out.len() < n.checked_mul(out_w)?.checked_mul(c)?
    {
        return None;
    }
    // Byte offsets of every output row's band rows (channel 0), then the end mark (bit 0 of
    // the offsets is clear: a 16-bit band's rows are even, an int8 band's slots hold `wp * c`
    // bytes, `c` even).
    for (i, o) in offsets.iter_mut().take(3 * n).enumerate() {
        let slot = slot_of(i / 3, i % 3);
        // Every slot's rows lie within the band: the reads of channel `ch` end before
        // `(slot * c + ch) * wp + len <= (slot + 1) * row_len` (16-bit), or
        // `(slot * wp + len - 1) * c + ch < (slot + 1) * row_len` (int8).
        if slot.checked_add(1)?.checked_mul(row_len)? > band_len {
            return None;
        }
        *o = u32::try_from(slot * row_len * b)
            .ok()
            .filter(|&v| v < 1 << 31 && v % 2 == 0)?;
    }
    Some(Frame {
        row1: [0; 3],
        stage: [i32::MIN, 0, 0, 0, 0],
        channels: i32::try_from(c).ok()?,
        row2: [0; 3],
        offsets: offsets.as_ptr(),
        base: base as *const i16,
        quad_bytes: i32::try_from((out_w / 4).checked_mul(4 * c)?).ok()?,
        row_entry: 0,
        after_quads: out_w % 4,
        weights: weights.as_ptr(),
        params: params.as_ptr(),
        first_offsets: offsets.as_ptr(),
        plane_bytes: i32::try_from(if b == 2 { wp.checked_mul(2)? } else { 1 }).ok()?,
        out: out.as_mut_ptr(),
        channels_left: i32::try_from(c).ok()?,
        after_pair: 0,
    })
}

/// Copies `src` into `dst` (an input row into an int8 band slot): 16 bytes per `LDM`/`STM`
/// pair, where `memcpy` takes about 1.15 instructions a byte here. `None`, copying nothing,
/// unless the lengths are equal, a multiple of 8, and both slices word aligned.
pub fn copy_row(dst: &mut [i8], src: &[i8]) -> Option<()> {
    let len = src.len();
    if dst.len() != len
        || !len.is_multiple_of(8)
        || !(src.as_ptr() as usize).is_multiple_of(4)
        || !(dst.as_ptr() as usize).is_multiple_of(4)
    {
        return None;
    }
    // SAFETY: both slices hold `len` bytes, word aligned, `len` a multiple of 8: the block
    // copies `len / 16` blocks of four words, then two words if `len % 16 == 8`; every
    // written register is declared.
    unsafe {
        asm!(
            "cbz r2, 3f",
            "2:",
            "ldm r1!, {{r4, r5, r12, lr}}",
            "stm r0!, {{r4, r5, r12, lr}}",
            "subs r2, r2, #1",
            "bne 2b",
            "3:",
            "cbz r3, 4f",
            "ldrd r4, r5, [r1]",
            "strd r4, r5, [r0]",
            "4:",
            inout("r0") dst.as_mut_ptr() => _,
            inout("r1") src.as_ptr() => _,
            inout("r2") len / 16 => _,
            in("r3") len % 16,
            out("r4") _, out("r5") _, out("r12") _, out("lr") _,
            options(nostack),
        );
    }
    Some(())
}

/// Stores `value` into every word of `dst`: eight words per two `STM`s, where the portable
/// fill takes about 1.5 instructions a word.
pub fn fill_words(dst: &mut [u32], value: u32) {
    let blocks = dst.len() / 8;
    let Some((head, rest)) = dst.split_at_mut_checked(blocks * 8) else {
        return;
    };
    if blocks > 0 {
        // SAFETY: `head` is `8 * blocks` words (`u32`, so word aligned), `blocks >= 1`;
        // every written register is declared.
        unsafe {
            // Explicit registers: an STM register list must be in ascending order.
            asm!(
                "mov r1, r0",
                "mov r2, r0",
                "mov r3, r0",
                "2:",
                "stm {p}!, {{r0, r1, r2, r3}}",
                "stm {p}!, {{r0, r1, r2, r3}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                p = inout(reg) head.as_mut_ptr() => _,
                n = inout(reg) blocks => _,
                in("r0") value,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                options(nostack),
            );
        }
    }
    rest.fill(value);
}

/// Arguments of [`widen_row`]'s block, loaded by one `LDM`.
#[repr(C)]
struct WidenArgs {
    src: *const i8,
    channels: usize,
    in_w: usize,
    dst: *mut i16,
    plane_bytes: usize,
    groups: usize,
}

/// One NHWC int8 input row (`in_w` pixels of `c` channels) widened into a band row:
/// channel `ch`'s values at `dst[ch * wp + pad_left..][..in_w]`, as the portable strided
/// loop does (which LLVM compiles to about 11 instructions a value here).
///
/// Four channels at a time (one word of a pixel), two pixels per step: two loads, each byte
/// sign-extended by one `SXTB` (with rotation) or `ASR`, stored by a post-incrementing
/// `STRH` into its channel's row: 21 instructions per eight values.
///
/// `None`, writing nothing, unless `c` is a non-zero multiple of 4, `src` is word aligned
/// and holds `in_w * c` values, `in_w >= 1`, `pad_left + in_w <= wp` and `dst` holds the
/// `c` rows.
pub fn widen_row(
    src: &[i8],
    c: usize,
    in_w: usize,
    wp: usize,
    pad_left: usize,
    dst: &mut [i16],
) -> Option<()> {
    let row_end = pad_left.checked_add(in_w)?;
    if c == 0
        || !c.is_multiple_of(4)
        || in_w == 0
        || row_end > wp
        || src.len() < in_w.checked_mul(c)?
        || !(src.as_ptr() as usize).is_multiple_of(4)
        || dst.len() < (c - 1).checked_mul(wp)?.checked_add(row_end)?
    {
        return None;
    }
    let args = WidenArgs {
        src: src.as_ptr(),
        channels: c,
        in_w,
        dst: dst.as_mut_ptr().wrapping_add(pad_left),
        plane_bytes: wp.checked_mul(2)?,
        groups: c / 4,
    };
    // SAFETY: checked above: the block reads the word of channels `4g..4g + 4` of pixel
    // `x` at `src + x * c + 4g` (aligned, inside `in_w * c`) for `g < c / 4`, `x < in_w`,
    // and writes channel `ch`'s value `x` at `dst + ch * wp + pad_left + x` (inside `dst`,
    // `pad_left + in_w <= wp`). r6/r7 and the 4-byte stack slot are saved and released
    // inside the block, every other written register is declared.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "ldm r0, {{r1, r2, r3, r4, r6, r7}}",
            "sub sp, sp, #8",
            "str r3, [sp]",
            // Per group of four channels: r8-r11 their rows, r0 the input, r12 pairs.
            "2:",
            "mov r8, r4",
            "add r9, r8, r6",
            "add r10, r9, r6",
            "add r11, r10, r6",
            "add r4, r11, r6",
            "mov r0, r1",
            "add r1, r1, #4",
            "ldr r3, [sp]",
            "lsrs r12, r3, #1",
            "beq 4f",
            "3:",
            "ldr lr, [r0]",
            "ldr r5, [r0, r2]",
            "add r0, r0, r2, lsl #1",
            "sxtb r3, lr",
            "strh r3, [r8], #2",
            "sxtb r3, r5",
            "strh r3, [r8], #2",
            "sxtb r3, lr, ror #8",
            "strh r3, [r9], #2",
            "sxtb r3, r5, ror #8",
            "strh r3, [r9], #2",
            "sxtb r3, lr, ror #16",
            "strh r3, [r10], #2",
            "sxtb r3, r5, ror #16",
            "strh r3, [r10], #2",
            "asr r3, lr, #24",
            "strh r3, [r11], #2",
            "asr r3, r5, #24",
            "strh r3, [r11], #2",
            "subs r12, r12, #1",
            "bne 3b",
            // An odd row's last pixel.
            "4:",
            "ldr r3, [sp]",
            "tst r3, #1",
            "beq 5f",
            "ldr lr, [r0]",
            "sxtb r3, lr",
            "strh r3, [r8]",
            "sxtb r3, lr, ror #8",
            "strh r3, [r9]",
            "sxtb r3, lr, ror #16",
            "strh r3, [r10]",
            "asr r3, lr, #24",
            "strh r3, [r11]",
            "5:",
            "subs r7, r7, #1",
            "bne 2b",
            "add sp, sp, #8",
            "pop {{r6, r7}}",
            inout("r0") &args as *const WidenArgs => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
    Some(())
}
