//! 16x8 3x3 depthwise convolution on channel-planar int16 bands: the int8 band kernel's
//! multiply-accumulate schedule ([`super::depthwise::band3x3`]: two horizontally adjacent taps
//! of a channel are one word, multiplied by a pair of weights with `SMLAD`, two output pixels
//! at a time) with the 16x8 output stage — the sums start at the bias, one `SMMULR` by the
//! channel's multiplier, the activation's clamp and a 16-bit store.

use core::arch::asm;

/// Arguments of [`band3x3_i16`], read by the assembly from memory.
#[repr(C)]
pub struct Band3x3I16Args {
    /// Channel 0's values in the band's slot 0 (word aligned).
    pub plane: *const i16,
    /// Per output row, the byte offsets (multiples of 4) of its three input rows from a
    /// channel's slot 0.
    pub row_offsets: *const u32,
    /// Output rows (at least 1).
    pub rows: usize,
    /// Channel 0 of the first output pixel.
    pub out: *mut i16,
    /// Bytes from one output pixel to the next: twice the channels (below 2^16).
    pub out_stride: usize,
    /// Output pixels per row (at least 1).
    pub out_w: usize,
    /// Weights, five words per channel (word aligned): `w00|w01`, `w10|w11`, `w20|w21`,
    /// `w02|w12`, `w22|0`.
    pub weights: *const u32,
    /// The channels' output stages, `stage_words` words each: the bias in word 0, the
    /// multiplier in word 4 (the layout of `ops::dsp16::Stage`).
    pub stages: *const u32,
    /// Horizontal stride, 1 or 2.
    pub stride_w: usize,
    /// Bytes from one channel's values to the next's in a slot (a multiple of 4).
    pub plane_bytes: usize,
    /// The activation's clamp, low bound.
    pub lo: i32,
    /// The activation's clamp, high bound.
    pub hi: i32,
    /// Channels (at least 1).
    pub channels: usize,
    /// Bytes from one channel's stage to the next's.
    pub stage_bytes: usize,
}

/// The output stage of the two pixels' sums in r3, r4: `SMMULR` by the multiplier, the clamp
/// to `[lo, hi]` (`$clamp`, on r3 and r4 with lo in r1 and hi in r2), then two 16-bit stores
/// `out_stride` (the top half of r9) bytes apart, leaving lr at the next pixel.
macro_rules! stage_pair {
    ($clamp:expr) => {
        concat!(
            "ldm sp, {{r0, r1, r2}}\n",
            "smmulr r3, r3, r0\n",
            "smmulr r4, r4, r0\n",
            $clamp,
            "strh r3, [lr]\n",
            "add lr, lr, r9, lsr #16\n",
            "strh r4, [lr]\n",
            "add lr, lr, r9, lsr #16\n",
        )
    };
}

/// Two pixels at stride 1: taps x0..x3 of each row in r0 (x0|x1), r1 (x2|x3), the second
/// pixel's first pair (x2|x1) in r2; sums in r3, r4; then [`stage_pair`].
macro_rules! pair_s1 {
    ($clamp:expr) => {
        concat!(band_pair_sums_s1!(), stage_pair!($clamp),)
    };
}

/// Two pixels at stride 2: taps x0..x4 in r0 (x0|x1), r1 (x2|x3), r2 (x4|x5); sums in r3,
/// r4; then [`stage_pair`].
macro_rules! pair_s2 {
    ($clamp:expr) => {
        concat!(band_pair_sums_s2!(), stage_pair!($clamp),)
    };
}

/// The clamp of r3 and r4 to `[r1, r2]` for any bounds.
macro_rules! clamp_any {
    () => {
        concat!(
            "cmp r3, r1\n",
            "it lt\n",
            "movlt r3, r1\n",
            "cmp r3, r2\n",
            "it gt\n",
            "movgt r3, r2\n",
            "cmp r4, r1\n",
            "it lt\n",
            "movlt r4, r1\n",
            "cmp r4, r2\n",
            "it gt\n",
            "movgt r4, r2\n",
        )
    };
}

/// The clamp of r3 and r4 to `[0, r2]` (a ReLU's): `x & !(x >> 31)` is `max(x, 0)`.
macro_rules! clamp_relu {
    () => {
        concat!(
            "bic r3, r3, r3, asr #31\n",
            "cmp r3, r2\n",
            "it gt\n",
            "movgt r3, r2\n",
            "bic r4, r4, r4, asr #31\n",
            "cmp r4, r2\n",
            "it gt\n",
            "movgt r4, r2\n",
        )
    };
}

/// The body of [`band3x3_i16`] with `$clamp` the clamp of r3 and r4 to `[r1, r2]`.
macro_rules! band3x3_i16_body {
    ($clamp:expr) => {
        concat!(
            "push {{r6, r7}}\n",
            // Clear Q: the multiply-accumulates set it when a sum leaves the 32-bit range.
            "movs r1, #0\n",
            "msr APSR_nzcvq, r1\n",
            // Locals: [sp] multiplier, lo, hi, [sp+12] bias twice, [sp+20] end of the pair
            // loop's output, [sp+24] this channel's slot 0, [sp+28] next row offsets,
            // [sp+32] rows left, [sp+36] output bytes of a row's pairs, [sp+40] out_w odd,
            // [sp+44] stride_w, [sp+48] channels left, [sp+52] next channel's output,
            // [sp+56] next weights, [sp+60] next stage, [sp+64] plane bytes, [sp+68] row
            // offsets, [sp+72] rows, [sp+76] out_stride, [sp+80] stage bytes, [sp+84] whether
            // a row has an odd number of pixel pairs.
            "sub sp, sp, #88\n",
            "ldr r1, [r0, #0]\n",
            "str r1, [sp, #24]\n",
            "ldr r1, [r0, #4]\n",
            "str r1, [sp, #68]\n",
            "ldr r1, [r0, #8]\n",
            "str r1, [sp, #72]\n",
            "ldr r1, [r0, #12]\n",
            "str r1, [sp, #52]\n",
            "ldr r1, [r0, #16]\n",
            "str r1, [sp, #76]\n",
            "ldr r1, [r0, #24]\n",
            "str r1, [sp, #56]\n",
            "ldr r1, [r0, #28]\n",
            "str r1, [sp, #60]\n",
            "ldr r1, [r0, #32]\n",
            "str r1, [sp, #44]\n",
            "ldr r1, [r0, #36]\n",
            "str r1, [sp, #64]\n",
            "ldr r1, [r0, #40]\n",
            "str r1, [sp, #4]\n",
            "ldr r1, [r0, #44]\n",
            "str r1, [sp, #8]\n",
            "ldr r1, [r0, #48]\n",
            "str r1, [sp, #48]\n",
            "ldr r1, [r0, #52]\n",
            "str r1, [sp, #80]\n",
            "ldr r3, [r0, #20]\n",
            "and r4, r3, #1\n",
            "str r4, [sp, #40]\n",
            "lsr r3, r3, #1\n",
            "and r4, r3, #1\n",
            "str r4, [sp, #84]\n",
            "ldr r4, [r0, #16]\n",
            "mul r3, r3, r4\n",
            "lsl r3, r3, #1\n",
            "str r3, [sp, #36]\n",
            // Per channel: r5-r9 its weights (out_stride in the top half of r9), the stage on
            // the stack.
            "7:\n",
            "ldr r1, [sp, #56]\n",
            "ldm r1!, {{r5, r6, r7, r8, r9}}\n",
            "str r1, [sp, #56]\n",
            "ldr r2, [sp, #76]\n",
            "bfi r9, r2, #16, #16\n",
            "ldr r1, [sp, #60]\n",
            "ldr r0, [r1]\n",
            "ldr r2, [r1, #16]\n",
            "ldr r3, [sp, #80]\n",
            "add r1, r1, r3\n",
            "str r1, [sp, #60]\n",
            "str r2, [sp]\n",
            "str r0, [sp, #12]\n",
            "str r0, [sp, #16]\n",
            "ldr lr, [sp, #52]\n",
            "add r1, lr, #2\n",
            "str r1, [sp, #52]\n",
            "ldr r1, [sp, #68]\n",
            "str r1, [sp, #28]\n",
            "ldr r1, [sp, #72]\n",
            "str r1, [sp, #32]\n",
            // Per output row: r10-r12 its three input rows, lr the output.
            "2:\n",
            "ldr r1, [sp, #28]\n",
            "ldm r1!, {{r10, r11, r12}}\n",
            "str r1, [sp, #28]\n",
            "ldr r1, [sp, #24]\n",
            "add r10, r10, r1\n",
            "add r11, r11, r1\n",
            "add r12, r12, r1\n",
            "ldr r1, [sp, #36]\n",
            "cmp r1, #0\n",
            "beq 5f\n",
            "add r1, lr, r1\n",
            "str r1, [sp, #20]\n",
            "ldr r1, [sp, #44]\n",
            "cmp r1, #1\n",
            "bne 4f\n",
            // Stride 1, two pixels: taps x0..x3 of each row in r0 (x0|x1), r1 (x2|x3).
            // Pairs of pixel pairs; an odd number of pairs enters at the second.
            "ldr r1, [sp, #84]\n",
            "cmp r1, #0\n",
            "bne 13f\n",
            "3:\n",
            pair_s1!($clamp),
            "13:\n",
            pair_s1!($clamp),
            "ldr r0, [sp, #20]\n",
            "cmp lr, r0\n",
            "bne 3b\n",
            "b 5f\n",
            // Stride 2, two pixels: taps x0..x4 in r0 (x0|x1), r1 (x2|x3), r2 (x4|x5).
            "4:\n",
            "ldr r1, [sp, #84]\n",
            "cmp r1, #0\n",
            "bne 14f\n",
            "24:\n",
            pair_s2!($clamp),
            "14:\n",
            pair_s2!($clamp),
            "ldr r0, [sp, #20]\n",
            "cmp lr, r0\n",
            "bne 24b\n",
            // The last pixel of an odd row.
            "5:\n",
            "ldr r0, [sp, #40]\n",
            "cmp r0, #0\n",
            "beq 6f\n",
            band_pixel_sums!(),
            "ldm sp, {{r0, r1, r2}}\n",
            "smmulr r3, r3, r0\n",
            // The clamp of r3 (r4 does not matter).
            $clamp,
            "strh r3, [lr]\n",
            "add lr, lr, r9, lsr #16\n",
            // Next output row, then next channel.
            "6:\n",
            "ldr r1, [sp, #32]\n",
            "subs r1, r1, #1\n",
            "str r1, [sp, #32]\n",
            "bne 2b\n",
            "ldr r1, [sp, #24]\n",
            "ldr r2, [sp, #64]\n",
            "add r1, r1, r2\n",
            "str r1, [sp, #24]\n",
            "ldr r1, [sp, #48]\n",
            "subs r1, r1, #1\n",
            "str r1, [sp, #48]\n",
            "bne 7b\n",
            "add sp, sp, #88\n",
            "mrs r0, apsr\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// The output rows of a band, every channel, 3x3 filter, dilation 1, int16 values and output.
///
/// Channel by channel (weights in registers), per two output pixels and filter row: one
/// double load of four taps, `SMLAD` of the first pair and a 16x16 multiply-accumulate of the
/// third tap for each pixel (stride 1 forms the second pixel's pair with one `PKHBT`; stride 2
/// loads its fifth tap), the pair loop unrolled twice. The sums start at the bias; the stage
/// is `SMMULR(sum, multiplier)` clamped to `[lo, hi]` (for `lo == 0`, a ReLU's, with one `BIC`
/// for the low bound). That is the 16x8 stage's one-multiply form
/// (`ops::dsp16::Stage::smmulr_only`) exactly when no sum plus bias leaves the 32-bit range;
/// every `SMLAD`/`SMLAxy` sets the Q flag when its addition overflows, so returns `false`
/// (outputs to be computed again) if any partial sum did, `true` otherwise.
///
/// # Safety
/// For every channel `ch < channels`, output row `r < rows` and filter row `ky < 3`, the
/// `(out_w - 1) * stride_w + 4` values (rounded up to even) from
/// `plane + ch * plane_bytes + row_offsets[3 * r + ky]` bytes are readable and word aligned;
/// `weights` (word aligned) holds `5 * channels` words and `stages + ch * stage_bytes` five
/// readable words per channel; `out + i * out_stride + 2 * ch` bytes is writable for every
/// `i < rows * out_w`; `stride_w` is 1 or 2; `out_stride < 2^16`.
pub unsafe fn band3x3_i16(args: &Band3x3I16Args) -> bool {
    let apsr: u32;
    // SAFETY: the caller guarantees the ranges above; r6/r7 and the stack frame are saved and
    // restored inside the block, every other written register is declared.
    unsafe {
        if args.lo == 0 {
            asm!(
                band3x3_i16_body!(clamp_relu!()),
                inout("r0") args as *const Band3x3I16Args => apsr,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            );
        } else {
            asm!(
                band3x3_i16_body!(clamp_any!()),
                inout("r0") args as *const Band3x3I16Args => apsr,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("lr") _,
            );
        }
    }
    apsr & (1 << 27) == 0
}

/// Transposes `n` pairs of pixels of `c2` pairs of int16 channels into channel planes: for
/// `k < c2` and `i < n`, with `a` the word at `src + 4 k + 2 i step` and `b` the one at
/// `src + 4 k + (2 i + 1) step` (two pixels' values of channels `2k`, `2k + 1`), the word
/// `even + 2 k plane + 4 i` becomes `a.lo | b.lo << 16` and the word one plane further on
/// `a.hi | b.hi << 16` (addresses in bytes). Two loads, one `PKHBT`, one `PKHTB` and two stores
/// per four values.
///
/// # Safety
/// `n >= 1`, `c2 >= 1`, `plane >= 4 n`; those words are readable or writable and word
/// aligned (`src`, `step`, `even` and `plane` multiples of 4).
pub unsafe fn transpose_pairs(
    src: *const u32,
    step: usize,
    even: *mut u32,
    plane: usize,
    n: usize,
    c2: usize,
) {
    // SAFETY: the caller guarantees the reads and writes above; the block writes only its
    // declared registers and the flags.
    unsafe {
        asm!(
            "2:",
            "mov {s}, {src}",
            "mov {d}, {even}",
            "mov {i}, {n}",
            "3:",
            "ldr {a}, [{s}]",
            "ldr {b}, [{s}, {step}]",
            "add {s}, {s}, {step}, lsl #1",
            "pkhbt {e}, {a}, {b}, lsl #16",
            "pkhtb {b}, {b}, {a}, asr #16",
            "str {e}, [{d}], #4",
            "str {b}, [{d}, {odd}]",
            "subs {i}, {i}, #1",
            "bne 3b",
            "add {src}, {src}, #4",
            "add {even}, {even}, {odd}, lsl #1",
            "add {even}, {even}, #8",
            "subs {k}, {k}, #1",
            "bne 2b",
            src = inout(reg) src => _,
            step = in(reg) step,
            even = inout(reg) even => _,
            // From the even plane's word just stored (`d` already past it) to the odd one's.
            odd = in(reg) plane - 4,
            n = in(reg) n,
            k = inout(reg) c2 => _,
            s = out(reg) _,
            d = out(reg) _,
            i = out(reg) _,
            a = out(reg) _,
            b = out(reg) _,
            e = out(reg) _,
            options(nostack),
        );
    }
}
