//! 3x3 depthwise convolution on channel-planar 16-bit bands: two horizontally adjacent taps of
//! a channel are one word, multiplied by a pair of weights with `SMLAD`, two output pixels at a
//! time; and the widening copy that builds the bands from NHWC int8 rows.

use core::arch::asm;

/// Arguments of [`band3x3`], read by the assembly from memory.
#[repr(C)]
pub struct Band3x3Args {
    /// Channel 0's values in the band's slot 0 (16-bit, word aligned).
    pub plane: *const i16,
    /// Per output row, the byte offsets (multiples of 4) of its three input rows from a
    /// channel's slot 0.
    pub row_offsets: *const u32,
    /// Output rows (at least 1).
    pub rows: usize,
    /// Channel 0 of the first output pixel.
    pub out: *mut i8,
    /// Channels (below 2^16): also the bytes from one output pixel to the next.
    pub channels: usize,
    /// Output pixels per row (at least 1).
    pub out_w: usize,
    /// Weights, five words per channel (word aligned): `w00|w01`, `w10|w11`, `w20|w21`,
    /// `w02|w12`, `w22|0`.
    pub weights: *const i32,
    /// Output stage, four words per channel: bias, multiplier, round, rshift.
    pub stage: *const i32,
    /// Horizontal stride, 1 or 2.
    pub stride_w: usize,
    /// Bytes from one channel's values to the next's in a slot (a multiple of 4).
    pub plane_bytes: usize,
}

/// The output rows of a band, every channel, 3x3 filter, dilation 1.
///
/// Channel by channel (weights in registers): per two output pixels and filter row, one
/// double load of four taps, then `SMLAD` of the first pair and a 16x16 multiply-accumulate of
/// the third tap for each pixel (stride 1 forms the second pixel's pair with one `PKHBT`;
/// stride 2 loads its fifth tap). The output stage is
/// `ssat8(smmlar(acc, multiplier, round) >> rshift)`, equal to the portable `output_stage`
/// while the multiplier is non-negative and `|round| <= 2^30` (no overflow).
///
/// # Safety
/// For every channel `ch < channels`, output row `r < rows` and filter row `ky < 3`, the
/// `(out_w - 1) * stride_w + 4` values (rounded up to even) from
/// `plane + ch * plane_bytes + row_offsets[3 * r + ky]` bytes are readable and word aligned;
/// `weights` (word aligned) holds `5 * channels` words and `stage` `4 * channels` with `rshift`
/// in `0..32`; `out + i * channels + ch` is writable for every `i < rows * out_w`;
/// `stride_w` is 1 or 2.
pub unsafe fn band3x3(args: &Band3x3Args) {
    // SAFETY: the caller guarantees the ranges above; r6/r7 and the stack frame are saved and
    // restored inside the block, every other written register is declared.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // Locals: [sp] multiplier, round, rshift, [sp+12] bias twice, [sp+20] end of the
            // pair loop's output, [sp+24] this channel's slot 0, [sp+28] next row offsets,
            // [sp+32] rows left, [sp+36] output bytes of a row's pairs, [sp+40] out_w odd,
            // [sp+44] stride_w, [sp+48] channels left, [sp+52] next channel's output,
            // [sp+56] next weights, [sp+60] next stage, [sp+64] plane bytes, [sp+68] row
            // offsets, [sp+72] rows, [sp+76] channels.
            "sub sp, sp, #80",
            "ldr r1, [r0, #0]",
            "str r1, [sp, #24]",
            "ldr r1, [r0, #4]",
            "str r1, [sp, #68]",
            "ldr r1, [r0, #8]",
            "str r1, [sp, #72]",
            "ldr r1, [r0, #12]",
            "str r1, [sp, #52]",
            "ldr r1, [r0, #16]",
            "str r1, [sp, #48]",
            "str r1, [sp, #76]",
            "ldr r1, [r0, #24]",
            "str r1, [sp, #56]",
            "ldr r1, [r0, #28]",
            "str r1, [sp, #60]",
            "ldr r1, [r0, #32]",
            "str r1, [sp, #44]",
            "ldr r1, [r0, #36]",
            "str r1, [sp, #64]",
            "ldr r3, [r0, #20]",
            "and r4, r3, #1",
            "str r4, [sp, #40]",
            "lsr r3, r3, #1",
            "ldr r4, [r0, #16]",
            "mul r3, r3, r4",
            "lsl r3, r3, #1",
            "str r3, [sp, #36]",
            // Per channel: r5-r9 its weights (C in the top half of r9), the stage on the stack.
            "7:",
            "ldr r1, [sp, #56]",
            "ldm r1!, {{r5, r6, r7, r8, r9}}",
            "str r1, [sp, #56]",
            "ldr r2, [sp, #76]",
            "orr r9, r9, r2, lsl #16",
            "ldr r1, [sp, #60]",
            "ldm r1!, {{r0, r2, r3, r4}}",
            "str r1, [sp, #60]",
            "stm sp, {{r2, r3, r4}}",
            "str r0, [sp, #12]",
            "str r0, [sp, #16]",
            "ldr lr, [sp, #52]",
            "add r1, lr, #1",
            "str r1, [sp, #52]",
            "ldr r1, [sp, #68]",
            "str r1, [sp, #28]",
            "ldr r1, [sp, #72]",
            "str r1, [sp, #32]",
            // Per output row: r10-r12 its three input rows, lr the output.
            "2:",
            "ldr r1, [sp, #28]",
            "ldm r1!, {{r10, r11, r12}}",
            "str r1, [sp, #28]",
            "ldr r1, [sp, #24]",
            "add r10, r10, r1",
            "add r11, r11, r1",
            "add r12, r12, r1",
            "ldr r1, [sp, #36]",
            "cmp r1, #0",
            "beq 5f",
            "add r1, lr, r1",
            "str r1, [sp, #20]",
            "ldr r1, [sp, #44]",
            "cmp r1, #1",
            "bne 4f",
            // Stride 1, two pixels: taps x0..x3 of each row in r0 (x0|x1), r1 (x2|x3).
            "3:",
            band_pair_sums_s1!(),
            "ldm sp, {{r0, r1, r2}}",
            "smmlar r3, r3, r0, r1",
            "smmlar r4, r4, r0, r1",
            "asr r3, r3, r2",
            "asr r4, r4, r2",
            "ssat r3, #8, r3",
            "ssat r4, #8, r4",
            "strb r3, [lr]",
            "add lr, lr, r9, lsr #16",
            "strb r4, [lr]",
            "add lr, lr, r9, lsr #16",
            "ldr r0, [sp, #20]",
            "cmp lr, r0",
            "bne 3b",
            "b 5f",
            // Stride 2, two pixels: taps x0..x4 in r0 (x0|x1), r1 (x2|x3), r2 (x4|x5).
            "4:",
            band_pair_sums_s2!(),
            "ldm sp, {{r0, r1, r2}}",
            "smmlar r3, r3, r0, r1",
            "smmlar r4, r4, r0, r1",
            "asr r3, r3, r2",
            "asr r4, r4, r2",
            "ssat r3, #8, r3",
            "ssat r4, #8, r4",
            "strb r3, [lr]",
            "add lr, lr, r9, lsr #16",
            "strb r4, [lr]",
            "add lr, lr, r9, lsr #16",
            "ldr r0, [sp, #20]",
            "cmp lr, r0",
            "bne 4b",
            // The last pixel of an odd row.
            "5:",
            "ldr r0, [sp, #40]",
            "cmp r0, #0",
            "beq 6f",
            band_pixel_sums!(),
            "ldm sp, {{r0, r1, r2}}",
            "smmlar r3, r3, r0, r1",
            "asr r3, r3, r2",
            "ssat r3, #8, r3",
            "strb r3, [lr]",
            "add lr, lr, r9, lsr #16",
            // Next output row, then next channel.
            "6:",
            "ldr r1, [sp, #32]",
            "subs r1, r1, #1",
            "str r1, [sp, #32]",
            "bne 2b",
            "ldr r1, [sp, #24]",
            "ldr r2, [sp, #64]",
            "add r1, r1, r2",
            "str r1, [sp, #24]",
            "ldr r1, [sp, #48]",
            "subs r1, r1, #1",
            "str r1, [sp, #48]",
            "bne 7b",
            "add sp, sp, #80",
            "pop {{r6, r7}}",
            inout("r0") args as *const Band3x3Args => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// Setup of [`band3x3_fixed`]'s frame (see its locals) from the arguments in r0, then the
/// channel and row loops' heads; the row enters the two-pair loop body at its first pair
/// (`3`) for an even number of pairs, at its second (`8`) for an odd one.
macro_rules! fixed_prologue {
    () => {
        concat!(
            "push {{r6, r7}}\n",
            // Locals: [sp] multiplier, round, rshift, [sp+12] bias twice, [sp+20] where a row's
            // pairs go on (its last pixel if odd, else the next row; Thumb bit set), [sp+24]
            // this channel's slot 0, [sp+28] next row offsets, [sp+36] two-pair iterations - 1,
            // [sp+44] the pair loop's entry (Thumb bit set), [sp+48] channels left, [sp+52] next channel's output, [sp+56] next
            // weights, [sp+60] next stage, [sp+64] plane bytes, [sp+68] row offsets,
            // [sp+72] rows.
            "sub sp, sp, #80\n",
            "ldr r1, [r0, #0]\n",
            "str r1, [sp, #24]\n",
            "ldr r1, [r0, #4]\n",
            "str r1, [sp, #68]\n",
            "ldr r1, [r0, #12]\n",
            "str r1, [sp, #52]\n",
            "ldr r1, [r0, #16]\n",
            "str r1, [sp, #48]\n",
            "ldr r1, [r0, #24]\n",
            "str r1, [sp, #56]\n",
            "ldr r1, [r0, #28]\n",
            "str r1, [sp, #60]\n",
            "ldr r1, [r0, #36]\n",
            "str r1, [sp, #64]\n",
            "ldr r3, [r0, #20]\n",
            "adr r1, 2f\n",
            "tst r3, #1\n",
            "beq 12f\n",
            "adr r1, 5f\n",
            "12:\n",
            "orr r1, r1, #1\n",
            "str r1, [sp, #20]\n",
            "lsr r3, r3, #1\n",
            "add r4, r3, #1\n",
            "lsr r4, r4, #1\n",
            "sub r4, r4, #1\n",
            "str r4, [sp, #36]\n",
            "adr r1, 3f\n",
            "tst r3, #1\n",
            "beq 11f\n",
            "adr r1, 8f\n",
            "11:\n",
            "orr r1, r1, #1\n",
            "str r1, [sp, #44]\n",
            // Per channel: r5-r9 its weights, the stage on the stack.
            "7:\n",
            "ldr r1, [sp, #56]\n",
            "ldm r1!, {{r5, r6, r7, r8, r9}}\n",
            "str r1, [sp, #56]\n",
            "ldr r1, [sp, #60]\n",
            "ldm r1!, {{r0, r2, r3, r4}}\n",
            "str r1, [sp, #60]\n",
            "stm sp, {{r2, r3, r4}}\n",
            "str r0, [sp, #12]\n",
            "str r0, [sp, #16]\n",
            "ldr lr, [sp, #52]\n",
            "add r1, lr, #1\n",
            "str r1, [sp, #52]\n",
            "ldr r1, [sp, #68]\n",
            "str r1, [sp, #28]\n",
            // Per output row: r10-r12 its three input rows (bit 0 of the first set past the
            // last row), lr the output, iterations left - 1 in the top half of r9.
            "2:\n",
            "ldr r1, [sp, #28]\n",
            "ldm r1!, {{r10, r11, r12}}\n",
            "str r1, [sp, #28]\n",
            "tst r10, #1\n",
            "bne 9f\n",
            "ldr r1, [sp, #24]\n",
            "add r10, r10, r1\n",
            "add r11, r11, r1\n",
            "add r12, r12, r1\n",
            "ldr r1, [sp, #36]\n",
            "bfi r9, r1, #16, #16\n",
            "ldr pc, [sp, #44]\n",
        )
    };
}

/// Two pixels at stride 1: taps x0..x3 of each row in r0 (x0|x1), r1 (x2|x3), the second
/// pixel's first pair (x2|x1) in r2; sums in r3, r4.
macro_rules! fixed_pair_s1 {
    ($($store:literal),*) => {
        concat!(
            band_pair_sums_s1!(),
            fixed_stage!($($store),*),
        )
    };
}

/// Two pixels at stride 2: taps x0..x4 in r0 (x0|x1), r1 (x2|x3), r2 (x4|x5); sums in r3,
/// r4.
macro_rules! fixed_pair_s2 {
    ($($store:literal),*) => {
        concat!(
            band_pair_sums_s2!(),
            fixed_stage!($($store),*),
        )
    };
}

/// The output stage of the two pixels in r3, r4, then the given stores (of r3, then r4, `C`
/// bytes apart, leaving lr at the next pixel).
macro_rules! fixed_stage {
    ($($store:literal),*) => {
        concat!(
            "ldm sp, {{r0, r1, r2}}\n",
            "smmlar r3, r3, r0, r1\n",
            "smmlar r4, r4, r0, r1\n",
            "asr r3, r3, r2\n",
            "asr r4, r4, r2\n",
            "ssat r3, #8, r3\n",
            "ssat r4, #8, r4\n",
            $($store, "\n",)*
        )
    };
}

/// Stores of the two pixels for `C < 256` (post-increment).
/// The loop over pairs of pixel pairs (count in the top half of r9), the odd row's last
/// pixel, the channel loop and the epilogue of [`band3x3_fixed`].
macro_rules! fixed_epilogue {
    ($($store:literal),*) => {
        concat!(
            "subs r9, r9, #65536\n",
            "bhs 3b\n",
            // To the next row, or (odd rows) through their last pixel.
            "ldr pc, [sp, #20]\n",
            "5:\n",
            band_pixel_sums!(),
            "ldm sp, {{r0, r1, r2}}\n",
            "smmlar r3, r3, r0, r1\n",
            "asr r3, r3, r2\n",
            "ssat r3, #8, r3\n",
            $($store, "\n",)*
            "b 2b\n",
            // Next channel.
            "9:\n",
            "ldr r1, [sp, #24]\n",
            "ldr r2, [sp, #64]\n",
            "add r1, r1, r2\n",
            "str r1, [sp, #24]\n",
            "ldr r1, [sp, #48]\n",
            "subs r1, r1, #1\n",
            "str r1, [sp, #48]\n",
            "bne 7b\n",
            "add sp, sp, #80\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// [`band3x3`] for `C` channels (a compile-time constant, so the stores step by an
/// immediate: post-increment below 256) and a horizontal stride of `S` (1 or 2), the pair
/// loop unrolled twice.
///
/// # Safety
/// As [`band3x3`], with `args.channels == C` (below 2048), `args.stride_w == S`,
/// `args.out_w >= 2`, and `args.row_offsets` followed by one more word with bit 0 set.
pub unsafe fn band3x3_fixed<const C: usize, const S: usize>(args: &Band3x3Args) {
    // SAFETY: the caller guarantees the ranges of `band3x3`; r6/r7 and the stack frame are
    // saved and restored inside the block, every other written register is declared; the
    // computed branches (`ldr pc`) go to labels 2, 3, 5 or 8 of this block, Thumb bit set.
    unsafe {
        match (S == 1, C < 256) {
            (true, true) => asm!(
                fixed_prologue!(),
                "3:",
                fixed_pair_s1!("strb r3, [lr], #{c}", "strb r4, [lr], #{c}"),
                "8:",
                fixed_pair_s1!("strb r3, [lr], #{c}", "strb r4, [lr], #{c}"),
                fixed_epilogue!("strb r3, [lr], #{c}"),
                c = const C,
                inout("r0") args as *const Band3x3Args => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (false, true) => asm!(
                fixed_prologue!(),
                "3:",
                fixed_pair_s2!("strb r3, [lr], #{c}", "strb r4, [lr], #{c}"),
                "8:",
                fixed_pair_s2!("strb r3, [lr], #{c}", "strb r4, [lr], #{c}"),
                fixed_epilogue!("strb r3, [lr], #{c}"),
                c = const C,
                inout("r0") args as *const Band3x3Args => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (true, false) => asm!(
                fixed_prologue!(),
                "3:",
                fixed_pair_s1!("strb r3, [lr]", "strb r4, [lr, #{c}]", "add lr, lr, #{c2}"),
                "8:",
                fixed_pair_s1!("strb r3, [lr]", "strb r4, [lr, #{c}]", "add lr, lr, #{c2}"),
                fixed_epilogue!("strb r3, [lr]", "add lr, lr, #{c}"),
                c = const C,
                c2 = const 2 * C,
                inout("r0") args as *const Band3x3Args => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
            (false, false) => asm!(
                fixed_prologue!(),
                "3:",
                fixed_pair_s2!("strb r3, [lr]", "strb r4, [lr, #{c}]", "add lr, lr, #{c2}"),
                "8:",
                fixed_pair_s2!("strb r3, [lr]", "strb r4, [lr, #{c}]", "add lr, lr, #{c2}"),
                fixed_epilogue!("strb r3, [lr]", "add lr, lr, #{c}"),
                c = const C,
                c2 = const 2 * C,
                inout("r0") args as *const Band3x3Args => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            ),
        }
    }
}

/// Arguments of [`widen_row`], read by the assembly from memory.
#[repr(C)]
pub struct WidenArgs {
    /// The input row, NHWC int8.
    pub src: *const i8,
    /// Channels (a non-zero multiple of 4): bytes from one input pixel to the next.
    pub channels: usize,
    /// Pixels of the row / 2.
    pub pairs: usize,
    /// Pixels of the row % 2.
    pub odd: usize,
    /// Channel 0's first value in the band row (16-bit; channel `ch` at `ch * plane_bytes`).
    pub dst: *mut i16,
    /// Bytes from one channel's band row to the next.
    pub plane_bytes: usize,
    /// Channels / 4.
    pub groups: usize,
}

/// Setup of [`widen_row`]'s frame from the arguments in r0 and the group loop's head, up to
/// the pair loop (`3`), whose first instructions (given by the caller) load two pixels into
/// r0 and r1 and advance r4.
macro_rules! widen_prologue {
    () => {
        concat!(
            "push {{r6, r7}}\n",
            // Locals: [sp] pairs, [sp+4] odd, [sp+8] from the end of a group's input to the
            // next group's start, [sp+12] the end of the groups' channel 0 rows.
            "sub sp, sp, #16\n",
            "ldr r7, [r0, #16]\n",
            "ldr r4, [r0, #0]\n",
            "ldr r5, [r0, #4]\n",
            "ldr lr, [r0, #20]\n",
            "ldr r1, [r0, #8]\n",
            "str r1, [sp, #0]\n",
            "mul r1, r1, r5\n",
            "lsl r1, r1, #1\n",
            "rsb r1, r1, #4\n",
            "str r1, [sp, #8]\n",
            "ldr r1, [r0, #12]\n",
            "str r1, [sp, #4]\n",
            "ldr r1, [r0, #24]\n",
            "mul r1, r1, lr\n",
            "add r1, r7, r1, lsl #2\n",
            "str r1, [sp, #12]\n",
            // Per group of four channels: r8-r11 their rows, r4 the input.
            "2:\n",
            "mov r8, r7\n",
            "add r9, r8, lr\n",
            "add r10, r9, lr\n",
            "add r11, r10, lr\n",
            "add r7, r11, lr\n",
            "ldr r12, [sp, #0]\n",
            "3:\n",
        )
    };
}

/// The rest of [`widen_row`] after the pair loop's loads: the pairs' widening and stores, the
/// odd pixel, the group loop, and the frame's release.
macro_rules! widen_tail {
    () => {
        concat!(
            "pkhbt r2, r0, r1, lsl #16\n",
            "pkhtb r3, r1, r0, asr #16\n",
            "sxtb16 r0, r2\n",
            "sxtb16 r1, r2, ror #8\n",
            "sxtb16 r2, r3\n",
            "sxtb16 r3, r3, ror #8\n",
            "str r0, [r8], #4\n",
            "str r1, [r9], #4\n",
            "str r2, [r10], #4\n",
            "str r3, [r11], #4\n",
            "subs r12, r12, #1\n",
            "bne 3b\n",
            "ldr r1, [sp, #4]\n",
            "cbz r1, 5f\n",
            "ldr r0, [r4]\n",
            "sxtb16 r2, r0\n",
            "sxtb16 r0, r0, ror #8\n",
            "strh r2, [r8]\n",
            "strh r0, [r9]\n",
            "lsr r2, r2, #16\n",
            "lsr r0, r0, #16\n",
            "strh r2, [r10]\n",
            "strh r0, [r11]\n",
            "5:\n",
            "ldr r1, [sp, #8]\n",
            "add r4, r4, r1\n",
            "ldr r1, [sp, #12]\n",
            "cmp r7, r1\n",
            "bne 2b\n",
            "add sp, sp, #16\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// Widens one NHWC int8 row into a channel-planar 16-bit band row: per two pixels and four
/// channels two loads, two `PKHBT`/`PKHTB` (pairing the pixels' bytes of channels 0-1 and
/// 2-3), four `SXTB16` (each giving one channel's two pixels) and four stores.
///
/// # Safety
/// `src` holds `(2 * pairs + odd) * channels` readable bytes; for every channel
/// `ch < 4 * groups <= channels`, `2 * pairs + odd` values from `dst + ch * plane_bytes` bytes
/// are writable (stores may be unaligned: the Cortex-M4 allows it for `STR`/`STRH`);
/// `groups >= 1`, `pairs >= 1`.
pub unsafe fn widen_row(args: &WidenArgs) {
    // SAFETY: the caller guarantees the ranges above; r7 and the stack frame are saved and
    // restored inside the block, every other written register is declared.
    unsafe {
        asm!(
            widen_prologue!(),
            "ldr r1, [r4, r5]",
            "ldr r0, [r4]",
            "add r4, r4, r5, lsl #1",
            widen_tail!(),
            inout("r0") args as *const WidenArgs => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// [`widen_row`] for `C` channels (a compile-time constant below 128, so the loads
/// post-increment by two pixels).
///
/// # Safety
/// As [`widen_row`], with `args.channels == C`.
pub unsafe fn widen_row_fixed<const C: usize>(args: &WidenArgs) {
    // SAFETY: the caller guarantees the ranges above; r7 and the stack frame are saved and
    // restored inside the block, every other written register is declared.
    unsafe {
        asm!(
            widen_prologue!(),
            "ldr r1, [r4, #{c}]",
            "ldr r0, [r4], #{c2}",
            widen_tail!(),
            c = const C,
            c2 = const 2 * C,
            inout("r0") args as *const WidenArgs => _,
            out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
        );
    }
}

/// Stores `value` into the `8 * blocks` words from `dst`, eight words per two `STM`s.
///
/// # Safety
/// `dst` is word aligned with `32 * blocks` writable bytes; `blocks >= 1`.
pub unsafe fn fill_blocks(dst: *mut u32, blocks: usize, value: u32) {
    // SAFETY: the caller guarantees the range; every written register is declared.
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
            p = inout(reg) dst => _,
            n = inout(reg) blocks => _,
            in("r0") value,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            options(nostack),
        );
    }
}
