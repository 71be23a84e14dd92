//! The integer GEMM at the heart of convolutions: four output pixels at a time against every
//! output channel, 16 multiply-accumulates per 13 instructions in the inner loop with int8
//! weights; with 16-bit weights two channels at a time ([`gemm4x2_relu_w16`]: 16 per 14
//! instructions, but each block word loaded once for both channels, half the loaded words per
//! multiply-accumulate) and an odd last channel alone ([`gemm4_relu_w16`], 16 per 11).

use core::arch::asm;

/// Widens the even bytes of `x` (0 and 2) to two signed halfwords.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic.
    unsafe {
        asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
    };
    r
}

/// Widens the odd bytes of `x` (1 and 3) to two signed halfwords.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic.
    unsafe {
        asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
    };
    r
}

/// Setup of the GEMM kernels' frame (see the locals) from the arguments in r0, then the
/// channel loop's head: r11 the block, r0-r3 the folded bias (label `2`).
macro_rules! gemm4_prologue {
    () => {
        concat!(
            "push {{r6, r7}}\n",
            // Locals: [sp] out, [sp+4] stride, [sp+8] 3*stride, [sp+12] out + channels (the
            // end of the first pixel's outputs), [sp+16] buf: the first four in one LDM.
            "sub sp, sp, #24\n",
            "ldr r1, [r0, #16]\n",
            "ldr r2, [r0, #20]\n",
            "ldr r3, [r0, #24]\n",
            "ldr r11, [r0, #0]\n",
            "str r11, [sp, #16]\n",
            "str r1, [sp, #0]\n",
            "str r2, [sp, #4]\n",
            "add r3, r1, r3\n",
            "str r3, [sp, #12]\n",
            "add r2, r2, r2, lsl #1\n",
            "str r2, [sp, #8]\n",
            "ldr r12, [r0, #4]\n", // buf_end
            "ldr r10, [r0, #8]\n", // weights
            "ldr lr, [r0, #12]\n", // quant
            // Per output channel.
            "2:\n",
            "ldr r11, [sp, #16]\n",
            "ldr r0, [lr], #4\n", // folded bias
            "mov r1, r0\n",
            "mov r2, r0\n",
            "mov r3, r0\n",
        )
    };
}

/// The GEMM kernels' stores of one channel's four outputs (r0-r3) and the channel loop's
/// end (back to label `2`).
macro_rules! gemm4_store {
    () => {
        concat!(
            // out, stride, 3 * stride, end.
            "ldm sp, {{r4, r5, r6, r7}}\n",
            "strb r0, [r4]\n",
            "strb r1, [r4, r5]\n",
            "strb r2, [r4, r5, lsl #1]\n",
            "strb r3, [r4, r6]\n",
            "add r4, r4, #1\n",
            "str r4, [sp]\n",
            "cmp r4, r7\n",
            "bne 2b\n",
        )
    };
}

/// Arguments of [`gemm4_relu`], read by the assembly from memory (there are not enough
/// registers to pass them).
#[repr(C)]
pub struct Gemm4Args {
    /// Widened input block: `k4` groups of 8 words (four pixels' even pairs, then odd pairs).
    pub buf: *const u32,
    /// One past the last word of `buf`.
    pub buf_end: *const u32,
    /// Weights, `channels` rows of `k4 * 4` bytes.
    pub weights: *const i8,
    /// Per-channel output stage, 5 words per channel (`ChannelQuant` order).
    pub quant: *const i32,
    /// Output of pixel 0, channel 0; pixel `p` of channel `c` goes to `out + p * stride + c`.
    pub out: *mut i8,
    /// Bytes between two pixels' outputs.
    pub stride: usize,
    /// Output channels.
    pub channels: usize,
}

/// Four taps (one weight word) of four pixels: the word unpacked by `SXTB16` into the even
/// and odd pairs `(t0, t2)`, `(t1, t3)`, each fed to four `SMLAD`s against the pixels' pairs
/// of the same taps (`widen4_rows` stores a group's even pairs, then its odd pairs).
macro_rules! gemm4_i8_group {
    () => {
        concat!(
            "ldr r8, [r10], #4\n",
            "sxtb16 r9, r8\n",
            "sxtb16 r8, r8, ror #8\n",
            "ldm r11!, {{r4, r5, r6, r7}}\n",
            "smlad r0, r4, r9, r0\n",
            "smlad r1, r5, r9, r1\n",
            "smlad r2, r6, r9, r2\n",
            "smlad r3, r7, r9, r3\n",
            "ldm r11!, {{r4, r5, r6, r7}}\n",
            "smlad r0, r4, r8, r0\n",
            "smlad r1, r5, r8, r1\n",
            "smlad r2, r6, r8, r2\n",
            "smlad r3, r7, r8, r3\n",
        )
    };
}

/// The int8-weight kernels' output stage (the left shift in the stage) and the channel
/// loop's end.
macro_rules! gemm4_i8_finish {
    () => {
        concat!(
            // Output stage: multiplier, lshift, rshift, round(+zero point).
            "ldm lr!, {{r4, r5, r6, r7}}\n",
            "lsl r0, r0, r5\n",
            "lsl r1, r1, r5\n",
            "lsl r2, r2, r5\n",
            "lsl r3, r3, r5\n",
            // EXACT_ADD alone among the flags (bits 8 and up of the lshift word): the round
            // term cannot overflow the sum, so it is the accumulate of SMMLAR; any other
            // flags take the general stage below.
            "bic r9, r5, #255\n",
            "cmp r9, #512\n",
            "bne 5f\n",
            "smmlar r0, r0, r4, r7\n",
            "smmlar r1, r1, r4, r7\n",
            "smmlar r2, r2, r4, r7\n",
            "smmlar r3, r3, r4, r7\n",
            "4:\n",
            "asr r0, r0, r6\n",
            "asr r1, r1, r6\n",
            "asr r2, r2, r6\n",
            "asr r3, r3, r6\n",
            "ssat r0, #8, r0\n",
            "ssat r1, #8, r1\n",
            "ssat r2, #8, r2\n",
            "ssat r3, #8, r3\n",
            gemm4_store!(),
            "b 8f\n",
            // General output stage: high multiply, negative ties away from zero when
            // ROUND_TIES_AWAY (bit 8) is set, saturating add of the round term.
            "5:\n",
            "smmulr r0, r0, r4\n",
            "smmulr r1, r1, r4\n",
            "smmulr r2, r2, r4\n",
            "smmulr r3, r3, r4\n",
            "tst r5, #256\n",
            "beq 6f\n",
            "add r0, r0, r0, asr #31\n",
            "add r1, r1, r1, asr #31\n",
            "add r2, r2, r2, asr #31\n",
            "add r3, r3, r3, asr #31\n",
            "6:\n",
            "qadd r0, r0, r7\n",
            "qadd r1, r1, r7\n",
            "qadd r2, r2, r7\n",
            "qadd r3, r3, r7\n",
            "b 4b\n",
            "8:\n",
            "add sp, sp, #24\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// Four pixels of a convolution against every output channel, finished with the DSP output
/// stage (`ssat(asr(qadd(fix(smmulr(acc << lshift, m)), round), rshift), 8)`, see
/// [`ferrite_core::ops::ChannelQuant`]). The inner loop does
/// 32 multiply-accumulates in 28 instructions; [`gemm4_relu_x4`] takes twice that per
/// iteration when `k4` is a multiple of 4.
///
/// # Safety
/// `buf..buf_end` holds an even number `k4 >= 2` of groups of 8 readable words; `weights` holds
/// `channels * k4 * 4` readable bytes; `quant` holds `5 * channels` words; the four output
/// rows `out + p * stride .. + channels` are writable; `channels >= 1`; every shift in
/// `quant` is in `0..32`.
pub unsafe fn gemm4_relu(args: &Gemm4Args) {
    // SAFETY: the caller guarantees every pointer range above; the block saves and restores
    // r6/r7 and its stack frame, and declares every other register it writes.
    unsafe {
        asm!(
            gemm4_prologue!(),
            // Eight taps of four pixels per iteration (k4 is even).
            "3:",
            gemm4_i8_group!(),
            gemm4_i8_group!(),
            "cmp r11, r12",
            "bne 3b",
            gemm4_i8_finish!(),
            inout("r0") args as *const Gemm4Args => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// [`gemm4_relu`] with sixteen taps per iteration, for `k4` a multiple of 4 (every layer with
/// a multiple of 16 taps): 64 multiply-accumulates in 54 instructions, the loop's compare
/// and branch paid half as often.
///
/// # Safety
/// As [`gemm4_relu`], with `buf..buf_end` holding a multiple of 4 groups (`k4 >= 4`).
pub unsafe fn gemm4_relu_x4(args: &Gemm4Args) {
    // SAFETY: the caller guarantees every pointer range above (the loop steps 32 words of
    // `buf` and 16 bytes of each weight row at a time, `k4` a multiple of 4 so it ends on
    // `buf_end`); the block saves and restores r6/r7 and its stack frame, and declares every
    // other register it writes.
    unsafe {
        asm!(
            gemm4_prologue!(),
            "3:",
            gemm4_i8_group!(),
            gemm4_i8_group!(),
            gemm4_i8_group!(),
            gemm4_i8_group!(),
            "cmp r11, r12",
            "bne 3b",
            gemm4_i8_finish!(),
            inout("r0") args as *const Gemm4Args => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// The 16-bit-weight kernels' output stage ([`gemm4_relu_w16`], [`gemm4x2_relu_w16`]) of one
/// channel's four sums (`$a0`-`$a3`) with the stage words in registers (`$m` multiplier, `$f`
/// flags, `$s` rshift, `$r` round): the EXACT_ADD-alone form (`SMMLAR`) inline, then (label
/// `$join`) the right shift and the saturation to int8. Any other flags branch to label
/// `$general` ([`gemm4_w16_stage_general`], which comes back to `$join`).
// One instruction a line (rustfmt would pack the operand pieces).
#[rustfmt::skip]
macro_rules! gemm4_w16_stage {
    ($a0:literal, $a1:literal, $a2:literal, $a3:literal,
     $m:literal, $f:literal, $s:literal, $r:literal, $general:literal, $join:literal) => {
        concat!(
            // EXACT_ADD alone: the round term cannot overflow the sum, so it is the
            // accumulate of SMMLAR.
            "cmp ", $f, ", #512\n",
            "bne ", $general, "f\n",
            "smmlar ", $a0, ", ", $a0, ", ", $m, ", ", $r, "\n",
            "smmlar ", $a1, ", ", $a1, ", ", $m, ", ", $r, "\n",
            "smmlar ", $a2, ", ", $a2, ", ", $m, ", ", $r, "\n",
            "smmlar ", $a3, ", ", $a3, ", ", $m, ", ", $r, "\n",
            $join, ":\n",
            "asr ", $a0, ", ", $a0, ", ", $s, "\n",
            "asr ", $a1, ", ", $a1, ", ", $s, "\n",
            "asr ", $a2, ", ", $a2, ", ", $s, "\n",
            "asr ", $a3, ", ", $a3, ", ", $s, "\n",
            "ssat ", $a0, ", #8, ", $a0, "\n",
            "ssat ", $a1, ", #8, ", $a1, "\n",
            "ssat ", $a2, ", #8, ", $a2, "\n",
            "ssat ", $a3, ", #8, ", $a3, "\n",
        )
    };
}

/// The general output stage of [`gemm4_w16_stage`] (label `$general`, out of the fast path's
/// way): high multiply, negative ties away from zero when ROUND_TIES_AWAY (bit 8) is set
/// (label `$ties` skips it), saturating add of the round term; then back to `$join`.
// One instruction a line (rustfmt would pack the operand pieces).
#[rustfmt::skip]
macro_rules! gemm4_w16_stage_general {
    ($a0:literal, $a1:literal, $a2:literal, $a3:literal,
     $m:literal, $f:literal, $r:literal, $general:literal, $ties:literal, $join:literal) => {
        concat!(
            $general, ":\n",
            "smmulr ", $a0, ", ", $a0, ", ", $m, "\n",
            "smmulr ", $a1, ", ", $a1, ", ", $m, "\n",
            "smmulr ", $a2, ", ", $a2, ", ", $m, "\n",
            "smmulr ", $a3, ", ", $a3, ", ", $m, "\n",
            "tst ", $f, ", #256\n",
            "beq ", $ties, "f\n",
            "add ", $a0, ", ", $a0, ", ", $a0, ", asr #31\n",
            "add ", $a1, ", ", $a1, ", ", $a1, ", asr #31\n",
            "add ", $a2, ", ", $a2, ", ", $a2, ", asr #31\n",
            "add ", $a3, ", ", $a3, ", ", $a3, ", asr #31\n",
            $ties, ":\n",
            "qadd ", $a0, ", ", $a0, ", ", $r, "\n",
            "qadd ", $a1, ", ", $a1, ", ", $r, "\n",
            "qadd ", $a2, ", ", $a2, ", ", $r, "\n",
            "qadd ", $a3, ", ", $a3, ", ", $r, "\n",
            "b ", $join, "b\n",
        )
    };
}

/// [`gemm4_relu`] for 16-bit weights (`[channels][k4 * 4]`, groups stored `t0, t2, t1, t3`,
/// pre-shifted, so the output stage has no left shift): one `LDRD` replaces a load and two
/// `SXTB16`, and the inner loop does 32 multiply-accumulates in 22 instructions. Channels
/// with [`ferrite_core::ops::ChannelQuant::EXACT_ADD`] alone add the round term inside the
/// high multiply (`SMMLAR`).
///
/// # Safety
/// `buf..buf_end` holds an even number `k4 >= 2` of groups of 8 readable words; `weights` holds
/// `channels * k4 * 4` readable, 4-byte aligned `i16`; `quant` holds `5 * channels` words; the four output
/// rows `out + p * stride .. + channels` are writable; `channels >= 1`; every shift in
/// `quant` is in `0..32` and every lshift word holds only `ChannelQuant` flags (no shift).
pub unsafe fn gemm4_relu_w16(args: &Gemm4Args) {
    // SAFETY: the caller guarantees every pointer range above; the block saves and restores
    // r6/r7 and its stack frame, and declares every other register it writes.
    unsafe {
        asm!(
            gemm4_prologue!(),
            // Eight taps of four pixels per iteration (k4 is even).
            "3:",
            "ldrd r9, r8, [r10], #8",
            "ldm r11!, {{r4, r5, r6, r7}}",
            "smlad r0, r4, r9, r0",
            "smlad r1, r5, r9, r1",
            "smlad r2, r6, r9, r2",
            "smlad r3, r7, r9, r3",
            "ldm r11!, {{r4, r5, r6, r7}}",
            "smlad r0, r4, r8, r0",
            "smlad r1, r5, r8, r1",
            "smlad r2, r6, r8, r2",
            "smlad r3, r7, r8, r3",
            "ldrd r9, r8, [r10], #8",
            "ldm r11!, {{r4, r5, r6, r7}}",
            "smlad r0, r4, r9, r0",
            "smlad r1, r5, r9, r1",
            "smlad r2, r6, r9, r2",
            "smlad r3, r7, r9, r3",
            "ldm r11!, {{r4, r5, r6, r7}}",
            "smlad r0, r4, r8, r0",
            "smlad r1, r5, r8, r1",
            "smlad r2, r6, r8, r2",
            "smlad r3, r7, r8, r3",
            "cmp r11, r12",
            "bne 3b",
            // Output stage: multiplier, flags (the lshift word), rshift, round(+zero point).
            "ldm lr!, {{r4, r5, r6, r7}}",
            gemm4_w16_stage!("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "5", "4"),
            gemm4_store!(),
            "b 8f",
            gemm4_w16_stage_general!("r0", "r1", "r2", "r3", "r4", "r5", "r7", "5", "6", "4"),
            "8:",
            "add sp, sp, #24",
            "pop {{r6, r7}}",
            inout("r0") args as *const Gemm4Args => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// [`gemm4_relu_w16`] over pairs of channels: four pixels against two channels per pass over
/// the block, whose words are each loaded once for both channels. Per pair the eight sums
/// (r0-r3 the even channel's four pixels, r4-r7 the odd one's) start at the folded biases and
/// take the `SMLAD`s of the shared 16x8 loop body (`dot4x2_tap_pairs`, twice per iteration):
/// 32 multiply-accumulates per eight block words and four weight words, the loads
/// pipelining, where [`gemm4_relu_w16`] loads sixteen block words (four `LDM`s) and four
/// weight words for them. Then [`gemm4_relu_w16`]'s output stage for the even channel (its stage words in r8, r9,
/// r10, r12) and its four stores, and the same for the odd channel (its stage words in the
/// even channel's freed r0-r3).
///
/// The sums wrap as `SMLAD` does (as the portable definition's); the converter proves they
/// stay in the 32-bit range, so the Q flag `SMLAD` would set is not read.
///
/// # Safety
/// `buf..buf_end` holds an even number `k4 >= 2` of groups of 8 readable words; `weights`
/// holds `channels / 2` pairs of channels' `2 * k4 * 4` readable `i16` (per pair of taps the
/// even channel's word, then the odd channel's; `ConvGemmI8::weights16`'s pairs), 2-byte
/// aligned (single word loads may be unaligned on this core); `quant` holds `5 * channels` words; the four output
/// rows `out + p * stride .. + channels` are writable; `channels` is even and at least 2;
/// every shift in `quant` is in `0..32` and every lshift word holds only `ChannelQuant` flags
/// (no shift).
pub unsafe fn gemm4x2_relu_w16(args: &Gemm4Args) {
    // SAFETY: the caller guarantees every pointer range above (the loop over taps steps 16
    // block words and 8 weight words at a time, `k4` even, so it ends on `buf_end`; the loop
    // over pairs steps two channels of outputs and stages and ends at `out + channels`); the
    // block saves and restores r6/r7 and its stack frame, and declares every other register
    // it writes.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // The frame: [sp] block, [sp+4] its end, [sp+8] the pair's stages, [sp+12] the
            // pair's first output, [sp+16] stride, [sp+20] 3 * stride, [sp+24] the outputs'
            // end (out + channels).
            "ldm r0, {{r1, r2, r3, r4, r5, r8, r9}}",
            "mov r11, r3",
            "add r10, r5, r9",
            "add r9, r8, r8, lsl #1",
            "push {{r1, r2, r4, r5, r8, r9, r10}}",
            // Per pair of output channels: the sums start at the folded biases.
            "2:",
            "ldr r12, [sp, #8]",
            "ldr lr, [sp]",
            "ldr r0, [r12]",
            "ldr r4, [r12, #20]",
            "mov r1, r0",
            "mov r2, r0",
            "mov r3, r0",
            "mov r5, r4",
            "mov r6, r4",
            "mov r7, r4",
            // Two groups of four taps per iteration (k4 is even).
            "3:",
            dot4x2_tap_pairs!(),
            dot4x2_tap_pairs!(),
            "ldr r12, [sp, #4]",
            "cmp lr, r12",
            "bne 3b",
            // The even channel: multiplier, flags, rshift, round after its bias.
            "ldr lr, [sp, #8]",
            "add lr, lr, #4",
            "ldm lr!, {{r8, r9, r10, r12}}",
            gemm4_w16_stage!("r0", "r1", "r2", "r3", "r8", "r9", "r10", "r12", "5", "4"),
            "ldr r8, [sp, #12]",
            "ldr r9, [sp, #16]",
            "ldr r10, [sp, #20]",
            "strb r0, [r8]",
            "strb r1, [r8, r9]",
            "strb r2, [r8, r9, lsl #1]",
            "strb r3, [r8, r10]",
            // The odd channel: its stage words (after its bias) in r0-r3.
            "add lr, lr, #4",
            "ldm lr!, {{r0, r1, r2, r3}}",
            gemm4_w16_stage!("r4", "r5", "r6", "r7", "r0", "r1", "r2", "r3", "7", "6"),
            "add r8, r8, #1",
            "strb r4, [r8]",
            "strb r5, [r8, r9]",
            "strb r6, [r8, r9, lsl #1]",
            "strb r7, [r8, r10]",
            // The next pair: its stages follow (lr), its outputs one byte on.
            "add r8, r8, #1",
            "str lr, [sp, #8]",
            "str r8, [sp, #12]",
            "ldr r9, [sp, #24]",
            "cmp r8, r9",
            "bne 2b",
            "b 9f",
            // The general stages, out of the fast stages' way.
            gemm4_w16_stage_general!("r0", "r1", "r2", "r3", "r8", "r9", "r12", "5", "8", "4"),
            gemm4_w16_stage_general!("r4", "r5", "r6", "r7", "r0", "r1", "r3", "7", "8", "6"),
            "9:",
            "add sp, sp, #28",
            "pop {{r6, r7}}",
            inout("r0") args as *const Gemm4Args => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// Widens four int8 rows of `k4 * 4` taps (`rows`, one after the other) into the block layout
/// [`gemm4_relu`] reads: for each group of four taps, the four rows' even pairs (taps 0 and
/// 2), then their odd pairs.
pub fn widen4(rows: &[i8], wide: &mut [u32]) {
    let row = rows.len() / 4;
    widen4_rows(
        [
            &rows[..row],
            &rows[row..2 * row],
            &rows[2 * row..3 * row],
            &rows[3 * row..],
        ],
        wide,
    );
}

/// [`widen4`] from four separate rows of equal length (a multiple of 4).
///
/// One assembly loop of 16 instructions per four bytes of each row (four loads, eight
/// `SXTB16`, two four-register `STM`s): LLVM's code for the portable loop below took 27.
/// Rows of unequal length or too small a `wide` take the portable loop.
///
/// Always inlined: called once per block of four pixels, where a call (and the registers it
/// saves) costs more than the block's slice checks.
#[inline(always)]
pub fn widen4_rows(rows: [&[i8]; 4], wide: &mut [u32]) {
    let [r0, r1, r2, r3] = rows;
    let len = r0.len();
    let uniform = [r1.len(), r2.len(), r3.len()].iter().all(|&l| l == len);
    if uniform && len > 0 && len.is_multiple_of(4) && wide.len() / 2 >= len {
        // SAFETY: each row pointer (r8-r11) reads `len` bytes of its row (four at a time,
        // `len` a non-zero multiple of 4, unaligned word loads being allowed on this core)
        // and r12 writes `2 * len` words of `wide` (8 words per 4 bytes; checked above). r6
        // and r7, which cannot be operands, are saved and restored inside the block; every
        // other written register is declared.
        unsafe {
            asm!(
                "push {{r6, r7}}",
                "2:",
                "ldr r4, [r8], #4",
                "ldr r5, [r9], #4",
                "ldr r6, [r10], #4",
                "ldr r7, [r11], #4",
                "sxtb16 r0, r4",
                "sxtb16 r1, r5",
                "sxtb16 r2, r6",
                "sxtb16 r3, r7",
                "stm r12!, {{r0, r1, r2, r3}}",
                "sxtb16 r4, r4, ror #8",
                "sxtb16 r5, r5, ror #8",
                "sxtb16 r6, r6, ror #8",
                "sxtb16 r7, r7, ror #8",
                "stm r12!, {{r4, r5, r6, r7}}",
                "cmp r8, lr",
                "bne 2b",
                "pop {{r6, r7}}",
                // Explicit registers: LLVM may allocate r6/r7 for `reg` operands.
                inout("r8") r0.as_ptr() => _,
                inout("r9") r1.as_ptr() => _,
                inout("r10") r2.as_ptr() => _,
                inout("r11") r3.as_ptr() => _,
                inout("r12") wide.as_mut_ptr() => _,
                in("lr") r0.as_ptr_range().end,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            );
        }
        return;
    }
    let word = |r: &[i8]| u32::from_le_bytes([r[0] as u8, r[1] as u8, r[2] as u8, r[3] as u8]);
    let groups = r0
        .chunks_exact(4)
        .zip(r1.chunks_exact(4))
        .zip(r2.chunks_exact(4))
        .zip(r3.chunks_exact(4));
    for ((((a, b), c), d), out) in groups.zip(wide.chunks_exact_mut(8)) {
        let (a, b, c, d) = (word(a), word(b), word(c), word(d));
        out[0] = sxtb16(a);
        out[1] = sxtb16(b);
        out[2] = sxtb16(c);
        out[3] = sxtb16(d);
        out[4] = sxtb16_ror8(a);
        out[5] = sxtb16_ror8(b);
        out[6] = sxtb16_ror8(c);
        out[7] = sxtb16_ror8(d);
    }
}

/// Copies `runs` runs of `span >= 4` bytes, the `r`-th from `src[r * src_step..]`, one after
/// the other into `dst`, then fills the remaining `dst` bytes with `fill`: im2col of a window
/// that lies inside the input. Word copies (unaligned, which the Cortex-M4 allows) from the
/// end of each run down, the first word overlapping when `span` is not a multiple of four:
/// about 15 instructions for a 9-byte run where a `memcpy` call costs several times that.
///
/// Returns `false`, copying nothing, when the sizes do not fit the slices.
pub fn copy_runs(
    dst: &mut [i8],
    src: &[i8],
    span: usize,
    runs: usize,
    src_step: usize,
    fill: i8,
) -> bool {
    let Some(copied) = span.checked_mul(runs) else {
        return false;
    };
    let reach = runs
        .checked_sub(1)
        .and_then(|r| r.checked_mul(src_step))
        .and_then(|r| r.checked_add(span));
    if span < 4 || runs == 0 || copied > dst.len() || reach.is_none_or(|r| r > src.len()) {
        return false;
    }
    let pad = dst.len() - copied;
    // SAFETY: run `r` reads `src[r * src_step .. r * src_step + span]`, inside `src` (checked
    // above), and writes `dst[r * span .. (r + 1) * span]`; the fill writes the last `pad`
    // bytes of `dst`; every access is a byte or an unaligned word inside those ranges
    // (offsets `n` and `0` with `0 < n <= span - 4`). Only the named registers and flags change.
    unsafe {
        asm!(
            "2:",
            "subs {n}, {span}, #4",
            "beq 4f",
            "3:",
            "ldr {t}, [{src}, {n}]",
            "str {t}, [{dst}, {n}]",
            "subs {n}, {n}, #4",
            "bgt 3b",
            "4:",
            "ldr {t}, [{src}]",
            "str {t}, [{dst}]",
            "add {dst}, {dst}, {span}",
            "add {src}, {src}, {step}",
            "subs {runs}, {runs}, #1",
            "bne 2b",
            "cmp {pad}, #0",
            "beq 6f",
            "5:",
            "strb {fill}, [{dst}], #1",
            "subs {pad}, {pad}, #1",
            "bne 5b",
            "6:",
            dst = inout(reg) dst.as_mut_ptr() => _,
            src = inout(reg) src.as_ptr() => _,
            runs = inout(reg) runs => _,
            pad = inout(reg) pad => _,
            span = in(reg) span,
            step = in(reg) src_step,
            fill = in(reg) fill as i32,
            n = out(reg) _,
            t = out(reg) _,
            options(nostack),
        );
    }
    true
}
