//! 16x8 CONV_2D / FULLY_CONNECTED ([`Op::ConvGemmI16`]) and DEPTHWISE_CONV_2D
//! ([`Op::DepthwiseDspI16`]) for the Cortex-M DSP extension.
//!
//! Int16 activations are already `SMLAD`'s operand width: two taps of one pixel are one word,
//! two taps of one filter (weights widened to 16 bits by the converter) another. The sums are
//! 32-bit, which the converter only allows where they provably cannot overflow (see the
//! operators' documentation); each 32-bit sum is then TFLM's exact int64 sum, and the bias and
//! requantization are the portable kernels' own ([`requant_i16`]).
//!
//! On a Cortex-M with the DSP extension the inner loops run in assembly
//! ([`crate::arch::cortex_m_dsp::dsp16`]); elsewhere the portable code below computes the same
//! wrapping 32-bit sums, and it is what the host tests compare against the reference kernels.

use crate::ops::conv::{check_requant_i16, requant_i16};
use crate::ops::depthwise_dsp::{band_input_rows, band_width, MAX_BAND_ROWS};
use crate::util::{check_conv_activations, check_conv_reach, expect_op, product};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{ConvGemmI16, ConvGeometry, DepthwiseDspI16, Op};
use ferrite_core::{Ctx, Error, Result};

/// Output pixels per GEMM block.
pub const BLOCK: usize = 4;

/// Bytes of arena scratch [`run_conv_gemm_i16`] needs for `k2` pairs of taps and `out_c`
/// output channels: the channels' output stages ([`Stage::WORDS`] words each), the
/// interleaved block (`k2` groups of [`BLOCK`] words) and four int16 im2col rows.
pub const fn gemm_scratch_bytes(k2: usize, out_c: usize) -> usize {
    out_c * Stage::WORDS * 4 + k2 * BLOCK * 4 + BLOCK * k2 * 4
}

/// Bytes of arena scratch [`run_depthwise_dsp_i16`] needs for the layer with bands of
/// `band_rows` output rows: the channels' output stages, then either two lists of taps (two
/// words each: a border pixel's and the one every window inside the input shares) or, for a
/// layer the band kernel takes ([`band_layer`]), a ring of channel-planar input rows,
/// whichever is larger.
pub fn depthwise_scratch_bytes(g: &ConvGeometry, band_rows: u32) -> u64 {
    let c = g.in_c as u64;
    let lists = g.k_h as u64 * g.k_w as u64 * 16;
    let band = if band_layer(g) {
        band_input_rows(g, band_rows) * c * band_width(g) * 2
    } else {
        0
    };
    c * Stage::WORDS as u64 * 4 + lists.max(band)
}

/// Words per channel of the band kernel's weights: `w00|w01`, `w10|w11`, `w20|w21`,
/// `w02|w12`, `w22|0` (the int8 band kernel's layout).
pub const PAIRED_WORDS: usize = 5;

/// Where a 3x3 filter's taps (`ky * 3 + kx`) go among a band layer's ten 16-bit weights per
/// channel ([`PAIRED_WORDS`] words; the tenth value is 0).
pub const PAIRED_TAPS: [usize; 9] = [0, 1, 6, 2, 3, 7, 4, 5, 8];

/// Whether the depthwise layer runs on channel-planar bands (see [`depthwise_band_i16`]):
/// a 3x3 filter, dilation 1, horizontal stride 1 or 2, an even number of channels whose
/// output pixels are less than 2^16 bytes apart.
pub fn band_layer(g: &ConvGeometry) -> bool {
    g.k_h == 3
        && g.k_w == 3
        && g.dilation_h == 1
        && g.dilation_w == 1
        && (g.stride_w == 1 || g.stride_w == 2)
        && g.in_c == g.out_c
        && g.in_c.is_multiple_of(2)
        && g.in_c > 0
        && g.in_c < 1 << 15
}

/// One output channel's int64 requantization with its constants worked out once per layer
/// run (in the arena scratch): `((acc + bias) * reduced + round) >> shift`, truncated to 32
/// bits and clamped — [`requant_i16`]'s int64 path (TFLM's int64
/// `MultiplyByQuantizedMultiplier`) term for term, which the tests check.
///
/// Most channels also have a fast form that needs no 64-bit shift: when the bias fits in 32
/// bits and `acc + bias` does not overflow (checked per output, one flag-setting add), the
/// product `x * reduced` is at most 47 bits, so scaling it by `2^(32 - shift)` (for a total
/// shift up to 32; the scaled multiplier must fit in 32 bits) puts the result in the high
/// word of one `SMLAL` with the constant rounding term `2^31`; above 32 the high word is
/// shifted right by the rest. Both forms compute the same integer (the floor of the same
/// rational), which the tests check over the whole range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    /// The bias (0 for none).
    pub bias: i64,
    /// The multiplier rounded to 16 bits.
    pub reduced: i32,
    /// The total right shift, `15 - shift` (in `1..=62`).
    pub shift: u32,
    /// The fast form's 32-bit multiplier (`reduced` shifted left by `32 - shift` when the
    /// total shift is at most 32, else `reduced`).
    pub fast_mul: i32,
    /// The fast form's shift of the high word (`shift - 32`, or 0), or [`Stage::NO_FAST`]
    /// when the channel has no fast form.
    pub fast_post: u32,
}

impl Stage {
    /// Words per channel in the scratch.
    pub const WORDS: usize = 6;

    /// [`Stage::fast_post`] of a channel without the fast form.
    pub const NO_FAST: u32 = u32::MAX;

    /// The stage of a channel with this bias, multiplier and shift (as in
    /// [`crate::ops::conv::multiply_by_quantized_multiplier_i64`]).
    pub fn new(bias: Option<i64>, multiplier: i32, shift: i32) -> Self {
        let reduced = if multiplier < 0x7FFF_0000 {
            ((multiplier as i64 + (1 << 15)) >> 16) as i32
        } else {
            0x7FFF
        };
        let total_shift = (15 - shift).clamp(1, 62) as u32;
        let bias = bias.unwrap_or(0);
        let (fast_mul, fast_post) = if total_shift <= 32 {
            let scaled = (reduced as i64) << (32 - total_shift);
            match i32::try_from(scaled) {
                Ok(m) => (m, 0),
                Err(_) => (0, Self::NO_FAST),
            }
        } else {
            (reduced, total_shift - 32)
        };
        let fast_post = if i32::try_from(bias).is_ok() {
            fast_post
        } else {
            Self::NO_FAST
        };
        Stage {
            bias,
            reduced,
            shift: total_shift,
            fast_mul,
            fast_post,
        }
    }

    /// The output for the exact sum `acc`, clamped to `act`.
    #[inline(always)]
    pub fn apply(&self, acc: i32, act: (i32, i32)) -> i16 {
        let v = match acc.checked_add(self.bias as i32) {
            Some(x) if self.fast_post != Self::NO_FAST => {
                let post = self.fast_post & 15;
                let wide = (x as i64) * (self.fast_mul as i64) + (0x8000_0000i64 << post);
                ((wide >> 32) as i32) >> post
            }
            _ => self.apply_i64(acc),
        };
        v.max(act.0).min(act.1) as i16
    }

    /// [`Stage::apply`] of four sums, with the fast form's choice and constants worked out
    /// once.
    #[inline(always)]
    pub fn apply4(&self, acc: [i32; 4], act: (i32, i32)) -> [i16; 4] {
        if self.fast_post == Self::NO_FAST {
            return acc.map(|a| self.apply_i64(a).max(act.0).min(act.1) as i16);
        }
        let (bias, mul, post) = (self.bias as i32, self.fast_mul as i64, self.fast_post & 15);
        let round = 0x8000_0000i64 << post;
        acc.map(|a| {
            let v = match a.checked_add(bias) {
                Some(x) => ((((x as i64) * mul + round) >> 32) as i32) >> post,
                None => self.apply_i64(a),
            };
            v.max(act.0).min(act.1) as i16
        })
    }

    /// [`Stage::apply`] straight from a channel's scratch words: the fast form reads three of
    /// them, and only a channel or sum without it decodes the whole stage.
    #[inline(always)]
    fn apply_words(words: &[u32], acc: i32, act: (i32, i32)) -> i16 {
        let fast = match words {
            [bias, _, _, _, mul, post, ..] if *post != Self::NO_FAST => acc
                .checked_add(*bias as i32)
                .map(|x| (x, *mul as i32 as i64, *post & 15)),
            _ => None,
        };
        let v = match fast {
            Some((x, mul, post)) => {
                ((((x as i64) * mul + (0x8000_0000i64 << post)) >> 32) as i32) >> post
            }
            None => Self::apply_words_i64(words, acc),
        };
        v.max(act.0).min(act.1) as i16
    }

    /// [`Stage::apply_words`] for a layer whose stages are all one `SMMULR` (`smmulr_only`:
    /// every channel has the fast form without a post shift, see [`Stage::smmulr_only`]):
    /// `SMMULR(acc + bias, fast_mul)` from two of the words, no 64-bit arithmetic; a sum
    /// whose add overflows takes the int64 form.
    #[inline(always)]
    fn apply_words_as(words: &[u32], acc: i32, act: (i32, i32), smmulr_only: bool) -> i16 {
        match *words {
            [bias, _, _, _, mul, ..] if smmulr_only => {
                let v = match acc.checked_add(bias as i32) {
                    Some(x) => crate::arch::smmulr(x, mul as i32),
                    None => Self::apply_words_i64(words, acc),
                };
                v.max(act.0).min(act.1) as i16
            }
            _ => Self::apply_words(words, acc, act),
        }
    }

    /// Whether every stage in `stages` (a layer's) has the fast form without a post shift.
    fn smmulr_only(stages: &[u32]) -> bool {
        stages
            .chunks_exact(Self::WORDS)
            .all(|w| w.get(5) == Some(&0))
    }

    /// The int64 form of [`Stage::apply_words`], out of line.
    #[cold]
    #[inline(never)]
    fn apply_words_i64(words: &[u32], acc: i32) -> i32 {
        Self::from_words(words).map_or(0, |st| st.apply_i64(acc))
    }

    /// The int64 form, out of line: the fast form covers the common channels, and keeping
    /// this one out of the loops leaves their registers to the fast form.
    #[cold]
    #[inline(never)]
    fn apply_i64(&self, acc: i32) -> i32 {
        let x = (acc as i64).wrapping_add(self.bias);
        let round = 1i64 << ((self.shift - 1) & 63);
        (x.wrapping_mul(self.reduced as i64).wrapping_add(round) >> (self.shift & 63)) as i32
    }

    /// The stage as scratch words.
    fn to_words(self) -> [u32; Self::WORDS] {
        [
            self.bias as u32,
            (self.bias >> 32) as u32,
            self.reduced as u32,
            self.shift,
            self.fast_mul as u32,
            self.fast_post,
        ]
    }

    /// The stage back from scratch words.
    #[inline(always)]
    fn from_words(w: &[u32]) -> Option<Self> {
        match w {
            [b0, b1, reduced, shift, fast_mul, fast_post, ..] => Some(Stage {
                bias: ((*b1 as u64) << 32 | *b0 as u64) as i64,
                reduced: *reduced as i32,
                shift: *shift,
                fast_mul: *fast_mul as i32,
                fast_post: *fast_post,
            }),
            _ => None,
        }
    }
}

/// Writes every channel's [`Stage`] into `words` (`Stage::WORDS` per channel). The entries
/// check one multiplier and shift per channel; `None` if not.
fn write_stages(q: &Quant<'_>, words: &mut [u32]) -> Option<()> {
    for (c, w) in words.chunks_exact_mut(Stage::WORDS).enumerate() {
        let st = Stage::new(
            q.bias.get(c).copied(),
            *q.multiplier.get(c)?,
            *q.shift.get(c)?,
        );
        w.copy_from_slice(&st.to_words());
    }
    Some(())
}

/// Kernel entry for [`Op::ConvGemmI16`].
pub fn run_conv_gemm_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ConvGemmI16);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    check_conv_reach(layer, g)?;
    let k = product(&[g.k_h, g.k_w, g.in_c]);
    let k2 = p.k2 as u64;
    // k2: the taps in pairs, rounded up to an even number of pairs (the loop takes two).
    if k == 0 || k2 * 2 < k || k2 * 2 >= k + 4 || !k2.is_multiple_of(2) {
        return Err(err("k2 does not match the filter size"));
    }
    if weights.len() as u64 != k2 * 2 * g.out_c as u64 {
        return Err(err("weights do not match the geometry"));
    }
    if !bias.is_empty() && bias.len() != g.out_c as usize {
        return Err(err("bias does not match the output channels"));
    }
    check_requant_i16(layer, g.out_c as usize, multiplier, shift)?;
    if (p.scratch_bytes as usize) < gemm_scratch_bytes(p.k2 as usize, g.out_c as usize) {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let weights: &[u32] =
        bytemuck::try_cast_slice(weights).map_err(|_| err("misaligned weights"))?;
    let q = Quant {
        bias,
        multiplier,
        shift,
        acc32: p.acc32,
        act: (p.rq.act_min, p.rq.act_max),
    };
    conv_gemm_i16(p, input, weights, &q, output, scratch).ok_or(err("misaligned scratch buffer"))
}

/// A 16x8 layer's output stage, as the reference kernels apply it.
pub struct Quant<'a> {
    /// Bias per output channel (empty for none).
    pub bias: &'a [i64],
    /// Multiplier per output channel.
    pub multiplier: &'a [i32],
    /// Shift per output channel.
    pub shift: &'a [i32],
    /// TFLM's int32-accumulator path.
    pub acc32: bool,
    /// The fused activation's clamp.
    pub act: (i32, i32),
}

impl Quant<'_> {
    /// Channel `c`'s output for the (exact, or with `acc32` TFLM's wrapping) 32-bit sum `acc`;
    /// `None` without a multiplier and shift for `c` (the entries check one per channel).
    #[inline(always)]
    fn finish(&self, c: usize, acc: i32) -> Option<i16> {
        let v = requant_i16(
            acc as i64,
            self.bias.get(c).copied(),
            self.acc32,
            *self.multiplier.get(c)?,
            *self.shift.get(c)?,
        );
        Some(v.max(self.act.0).min(self.act.1) as i16)
    }
}

/// The GEMM convolution. Slices must match `p` (the kernel entry checks); `weights` are the
/// int16 weights as words (pairs of taps); `scratch` holds [`gemm_scratch_bytes`] bytes.
/// `None` if the scratch is not 4-byte aligned, or should a slice not match `p`: the entry
/// checked input `batches*in_h*in_w*in_c`, output `batches*out_h*out_w*out_c`, weights
/// `out_c * k2` words and the scratch size; block rows stay below `pixels`
/// (`slot.min(n - 1)`), and a direct block reads `in_c == k` values of an existing pixel.
/// Every slice is taken checked all the same (once per block), so no panic path is linked.
pub fn conv_gemm_i16(
    p: &ConvGemmI16,
    input: &[i16],
    weights: &[u32],
    q: &Quant<'_>,
    output: &mut [i16],
    scratch: &mut [u8],
) -> Option<()> {
    let g = &p.geom;
    let k2 = p.k2 as usize;
    let k = (g.k_h * g.k_w * g.in_c) as usize;
    let out_c = g.out_c as usize;
    if k2 == 0 {
        return None;
    }
    let (stages, scratch) = scratch.split_at_mut_checked(out_c * Stage::WORDS * 4)?;
    let stages: &mut [u32] = bytemuck::try_cast_slice_mut(stages).ok()?;
    write_stages(q, stages)?;
    let smmulr_only = Stage::smmulr_only(stages);
    let stages: &[u32] = stages;
    // Full blocks of a layer whose stages are all one `SMMULR` take the assembly GEMM, its
    // slices checked once here rather than per block.
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    let asm_plan = match (q.acc32, smmulr_only) {
        (false, true) => AsmGemm::new(weights, k2, stages, out_c, q.act),
        _ => None,
    };
    let (wide, rest) = scratch.split_at_mut_checked(k2 * BLOCK * 4)?;
    let wide: &mut [u32] = bytemuck::try_cast_slice_mut(wide).ok()?;
    // Four im2col rows of `k2` words each (the taps as pairs, zero past the filter's end).
    let rows: &mut [u32] = bytemuck::try_cast_slice_mut(rest.get_mut(..BLOCK * k2 * 4)?).ok()?;
    let pixels = (g.out_h * g.out_w) as usize;
    // A pointwise convolution over every input pixel in order needs no gathering: output pixel
    // p's taps are input pixel p's channels, and with an even channel count (and the
    // arena's alignment) every pixel starts on a word.
    let direct = g.k_h == 1
        && g.k_w == 1
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_top == 0
        && g.pad_left == 0;
    let input_words: Option<&[u32]> = match k % 2 {
        0 if direct => bytemuck::try_cast_slice(input).ok(),
        _ => None,
    };
    rows.fill(0);
    for b in 0..g.batches as usize {
        let mut first = 0;
        while first < pixels {
            let n = (pixels - first).min(BLOCK);
            let slot_pixel = |slot: usize| b * pixels + first + slot.min(n - 1);
            // Past the last pixel, repeat it (its outputs are not stored).
            match input_words {
                Some(words) => {
                    let row = |slot: usize| {
                        let at = slot_pixel(slot) * (k / 2);
                        words.get(at..at + k / 2)
                    };
                    interleave4([row(0)?, row(1)?, row(2)?, row(3)?], wide);
                }
                None => {
                    for (slot, row) in rows.chunks_exact_mut(k2).enumerate() {
                        let row: &mut [i16] = bytemuck::cast_slice_mut(row);
                        im2col(g, input, b, first + slot.min(n - 1), row.get_mut(..k)?)?;
                    }
                    let (r0, rest) = rows.split_at_checked(k2)?;
                    let (r1, rest) = rest.split_at_checked(k2)?;
                    let (r2, r3) = rest.split_at_checked(k2)?;
                    interleave4([r0, r1, r2, r3], wide);
                }
            }
            let out =
                output.get_mut((b * pixels + first) * out_c..(b * pixels + first + n) * out_c)?;
            #[cfg(all(target_arch = "arm", feature = "dsp"))]
            if let Some(plan) = &asm_plan {
                if n == BLOCK && plan.run(wide, out) {
                    first += n;
                    continue;
                }
            }
            gemm_block(wide, weights, k2, q, stages, smmulr_only, out, n)?;
            first += n;
        }
    }
    Some(())
}

/// Interleaves four rows of words (pairs of taps) into the block: word `4t + s` is row `s`'s
/// word `t`, and the words past the shortest row are zero (the filter's padding to `k2`).
fn interleave4(rows: [&[u32]; 4], wide: &mut [u32]) {
    let [r0, r1, r2, r3] = rows;
    let words = r0.iter().zip(r1).zip(r2.iter().zip(r3));
    let mut groups = wide.chunks_exact_mut(BLOCK);
    for (((a, b), (c, d)), w) in words.zip(&mut groups) {
        if let [w0, w1, w2, w3] = w {
            (*w0, *w1, *w2, *w3) = (*a, *b, *c, *d);
        }
    }
    for w in groups {
        w.fill(0);
    }
}

/// `dst.copy_from_slice(src)` for the short runs of an im2col row (`k_w * in_c` values, often
/// odd and unaligned). On a Cortex-M a value-by-value loop: `copy_from_slice` becomes a call
/// to the runtime's `memcpy`, which copies misaligned runs byte by byte and took most of a
/// 16x8 first layer's time (3 input channels: 3- and 9-value runs). Copies the shorter
/// length should they differ.
/// Longer runs (many input channels) keep `memcpy`, which copies them faster than the loop.
#[inline(always)]
fn copy_run(dst: &mut [i16], src: &[i16]) {
    let n = dst.len().min(src.len());
    #[cfg(target_arch = "arm")]
    if n <= 16 {
        // Two values per step, which halves the loop's overhead (a 3x3 filter over 3 input
        // channels copies 9-value runs, 27 per pixel).
        for (d, s) in dst.chunks_exact_mut(2).zip(src.chunks_exact(2)) {
            // Keeps LLVM from turning the loop back into a `memcpy` call.
            crate::arch::no_unroll();
            if let ([d0, d1], [s0, s1]) = (d, s) {
                (*d0, *d1) = (*s0, *s1);
            }
        }
        if n % 2 == 1 {
            if let (Some(d), Some(&v)) = (dst.get_mut(n - 1), src.get(n - 1)) {
                *d = v;
            }
        }
        return;
    }
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
}

/// Gathers the taps of output pixel `pixel` of batch `b` into `row` (`(ky, kx, ic)` order),
/// padding taps 0 (the int16 zero point). `tap` returns only rows/columns inside the input,
/// a window inside the input reads only its own rows' runs, and `row` holds `k_h*k_w*in_c`
/// values; every access is checked all the same (`None` should one fail).
fn im2col(g: &ConvGeometry, input: &[i16], b: usize, pixel: usize, row: &mut [i16]) -> Option<()> {
    let out_w = g.out_w as usize;
    if out_w == 0 {
        return None;
    }
    let (oy, ox) = ((pixel / out_w) as u32, (pixel % out_w) as u32);
    let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
    let span = g.k_w as usize * in_c;
    if span == 0 {
        return None;
    }
    // A window inside the input (most pixels): with dilation 1 along the row, each filter
    // row is one contiguous run of `k_w * in_c` values.
    let x0 = (ox * g.stride_w) as i64 - g.pad_left as i64;
    let y0 = (oy * g.stride_h) as i64 - g.pad_top as i64;
    let y_last = y0 + ((g.k_h - 1) * g.dilation_h) as i64;
    if g.dilation_w == 1
        && x0 >= 0
        && y0 >= 0
        && x0 + g.k_w as i64 <= in_w as i64
        && y_last < in_h as i64
    {
        let step = g.dilation_h as usize * in_w * in_c;
        let first = ((b * in_h + y0 as usize) * in_w + x0 as usize) * in_c;
        for (ky, dst) in row.chunks_exact_mut(span).enumerate() {
            let at = first + ky * step;
            copy_run(dst, input.get(at..at + span)?);
        }
        return Some(());
    }
    if in_c == 0 {
        return None;
    }
    for (ky, dst) in row.chunks_exact_mut(span).enumerate() {
        let Some(iy) =
            crate::ops::conv::tap(oy, g.stride_h, g.pad_top, ky as u32, g.dilation_h, g.in_h)
        else {
            dst.fill(0);
            continue;
        };
        for (kx, d) in dst.chunks_exact_mut(in_c).enumerate() {
            match crate::ops::conv::tap(ox, g.stride_w, g.pad_left, kx as u32, g.dilation_w, g.in_w)
            {
                Some(ix) => {
                    let base = ((b * in_h + iy) * in_w + ix) * in_c;
                    copy_run(d, input.get(base..base + in_c)?);
                }
                None => d.fill(0),
            }
        }
    }
    Some(())
}

/// One block of `n <= 4` pixels (interleaved in `wide`) against every output channel. `out`
/// holds `n * out_c` outputs, `weights` the channels' rows of `k2` words, interleaved by
/// pairs of channels (see [`ConvGemmI16::weights`]), `stages` `out_c` stages (`None` if
/// not). `smmulr_only`: every channel's fast form needs no shift after the high word
/// ([`Stage::fast_post`] 0), so it is one rounded high multiply.
#[allow(clippy::too_many_arguments)]
fn gemm_block(
    wide: &[u32],
    weights: &[u32],
    k2: usize,
    q: &Quant<'_>,
    stages: &[u32],
    smmulr_only: bool,
    out: &mut [i16],
    n: usize,
) -> Option<()> {
    let out_c = weights.len().checked_div(k2)?;
    // Non-zero (`k2` is, and the product does not wrap), which spares `chunks_exact` its
    // panic.
    let pair_words = k2.checked_mul(2).filter(|&w| w > 0)?;
    let mut pairs = weights.chunks_exact(pair_words);
    for (j, pair) in (&mut pairs).enumerate() {
        let [even, odd] = dot4x2(wide, pair);
        let c = 2 * j;
        store_channel(c, even, q, stages, smmulr_only, out, out_c, n)?;
        store_channel(c + 1, odd, q, stages, smmulr_only, out, out_c, n)?;
    }
    let last = pairs.remainder();
    if !last.is_empty() {
        store_channel(
            out_c - 1,
            dot4(wide, last),
            q,
            stages,
            smmulr_only,
            out,
            out_c,
            n,
        )?;
    }
    Some(())
}

/// Channel `c`'s outputs for the block's first `n` pixels from its four sums `acc`: TFLM's
/// int32 path (`acc32`), the one-`SMMULR` stage (`smmulr_only`, see [`gemm_block`]) or the
/// channel's [`Stage`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn store_channel(
    c: usize,
    acc: [i32; 4],
    q: &Quant<'_>,
    stages: &[u32],
    smmulr_only: bool,
    out: &mut [i16],
    out_c: usize,
    n: usize,
) -> Option<()> {
    let words = stages.get(c * Stage::WORDS..(c + 1) * Stage::WORDS)?;
    // Only the block's `n` pixels (a partial block is a layer's last, or a
    // FULLY_CONNECTED's single row).
    let sums = acc.iter().enumerate().take(n);
    if q.acc32 {
        for (slot, &a) in sums {
            *out.get_mut(slot * out_c + c)? = q.finish(c, a)?;
        }
    } else if smmulr_only {
        for (slot, &a) in sums {
            *out.get_mut(slot * out_c + c)? = Stage::apply_words_as(words, a, q.act, true);
        }
    } else if n == BLOCK {
        let ys = Stage::from_words(words)?.apply4(acc, q.act);
        for (slot, &y) in ys.iter().enumerate() {
            *out.get_mut(slot * out_c + c)? = y;
        }
    } else {
        let st = Stage::from_words(words)?;
        for (slot, &a) in sums {
            *out.get_mut(slot * out_c + c)? = st.apply(a, q.act);
        }
    }
    Some(())
}

/// A layer's full blocks against every pair of channels in assembly
/// ([`crate::arch::cortex_m_dsp::dsp16::gemm4x2_smmulr`]), and an odd last channel with
/// [`dot4`], for layers whose stages are all one `SMMULR` (and TFLM's int64 path): the
/// weights, stages and bounds checked once per layer by [`AsmGemm::new`], each block's
/// slices by [`AsmGemm::run`].
#[cfg(all(target_arch = "arm", feature = "dsp"))]
struct AsmGemm<'a> {
    weights: &'a [u32],
    stages: &'a [u32],
    k2: usize,
    out_c: usize,
    act: (i32, i32),
}

#[cfg(all(target_arch = "arm", feature = "dsp"))]
impl<'a> AsmGemm<'a> {
    /// The plan, or `None` (the portable path then runs) unless `k2` is even and at least
    /// 2, `weights` holds `out_c` rows of `k2` words, `stages` `out_c` stages (the caller's
    /// word that every one is a single `SMMULR`), and the bounds are int16 with `lo <= hi`.
    fn new(
        weights: &'a [u32],
        k2: usize,
        stages: &'a [u32],
        out_c: usize,
        act: (i32, i32),
    ) -> Option<Self> {
        let fits = |v: i32| i16::try_from(v).is_ok();
        let ok = k2 >= 2
            && k2.is_multiple_of(2)
            && out_c > 0
            && Some(weights.len()) == out_c.checked_mul(k2)
            && stages.len() >= out_c.checked_mul(Stage::WORDS)?
            && act.0 <= act.1
            && fits(act.0)
            && fits(act.1);
        ok.then_some(AsmGemm {
            weights,
            stages,
            k2,
            out_c,
            act,
        })
    }

    /// One full block (`wide`: at least `k2` groups of four words) into `out` (the four
    /// pixels' rows of `out_c` values): `false`, with the outputs to be computed again, if a
    /// sum left the 32-bit range, or (never, by the caller's slicing) if `out` or `wide` is
    /// short.
    #[inline(always)]
    fn run(&self, wide: &[u32], out: &mut [i16]) -> bool {
        use crate::arch::cortex_m_dsp::dsp16 as asm;
        let AsmGemm {
            weights,
            stages,
            k2,
            out_c,
            act,
        } = *self;
        let Some(wide) = wide.get(..k2 * BLOCK) else {
            return false;
        };
        if out.len() != BLOCK * out_c {
            return false;
        }
        let pairs = out_c / 2;
        if pairs > 0 {
            let both = |v: i32| (v as u16 as u32) * 0x1_0001;
            let args = asm::Gemm4x2I16Args {
                wide: wide.as_ptr(),
                wide_end: wide.as_ptr_range().end,
                stages: stages.as_ptr(),
                out: out.as_mut_ptr(),
                stride: out_c * 2,
                out_end: out.as_mut_ptr().wrapping_add(2 * pairs),
                lo2: both(act.0),
                hi2: both(act.1),
                weights: weights.as_ptr(),
            };
            // SAFETY: `wide` is `k2` (even, >= 2) groups of four words, `weights` holds `pairs`
            // pairs of rows of `k2` words (`out_c * k2` words), `stages` `out_c` stages (the
            // caller's `smmulr_only`: every bias fits 32 bits and no fast form has a post
            // shift), `out` the four pixels' rows of `out_c` values (`2 * out_c` bytes apart),
            // of which the assembly writes the first `2 * pairs`, `pairs >= 1`; the bounds are
            // int16 values with `lo <= hi`, `CLAMP_NONE` only for the whole int16 range and
            // `CLAMP_LOW_ZERO` only for `lo = 0` (all checked by `new`, the slices' lengths
            // above).
            let ok = unsafe {
                match act {
                    (-32768, 32767) => asm::gemm4x2_smmulr::<{ asm::CLAMP_NONE }>(&args),
                    (0, _) => asm::gemm4x2_smmulr::<{ asm::CLAMP_LOW_ZERO }>(&args),
                    _ => asm::gemm4x2_smmulr::<{ asm::CLAMP_ANY }>(&args),
                }
            };
            if !ok {
                return false;
            }
        }
        if out_c % 2 == 1 {
            let c = out_c - 1;
            let (Some(row), Some(words)) = (
                weights.get(c * k2..),
                stages.get(c * Stage::WORDS..(c + 1) * Stage::WORDS),
            ) else {
                return false;
            };
            let acc = dot4(wide, row);
            for (slot, a) in acc.into_iter().enumerate() {
                if let Some(y) = out.get_mut(slot * out_c + c) {
                    *y = Stage::apply_words_as(words, a, act, true);
                }
            }
        }
        true
    }
}

/// The four pixels' 32-bit sums of `wide` (`k2` groups of four words) against one channel's
/// `k2` weight words.
#[inline(always)]
fn dot4(wide: &[u32], w: &[u32]) -> [i32; 4] {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    {
        crate::arch::cortex_m_dsp::dsp16::dot4(wide, w)
    }
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    {
        portable_dot4(wide, w)
    }
}

/// The four pixels' 32-bit sums of `wide` against a pair of channels' interleaved rows
/// `pair` (per pair of taps the even channel's word, then the odd channel's).
#[inline(always)]
fn dot4x2(wide: &[u32], pair: &[u32]) -> [[i32; 4]; 2] {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    {
        crate::arch::cortex_m_dsp::dsp16::dot4x2(wide, pair)
    }
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    {
        portable_dot4x2(wide, pair)
    }
}

/// The portable definition of [`dot4x2`]: what [`portable_dot4`] gives for each channel's
/// own row, wrapping as `SMLAD` does.
pub fn portable_dot4x2(wide: &[u32], pair: &[u32]) -> [[i32; 4]; 2] {
    let (mut even, mut odd) = ([0i32; 4], [0i32; 4]);
    for (x, w) in wide.chunks_exact(BLOCK).zip(pair.chunks_exact(2)) {
        if let [we, wo] = *w {
            for ((e, o), &x) in even.iter_mut().zip(odd.iter_mut()).zip(x) {
                *e = smlad(x, we, *e);
                *o = smlad(x, wo, *o);
            }
        }
    }
    [even, odd]
}

/// The portable definition of [`dot4`]: what `SMLAD` computes, wrapping at 32 bits.
pub fn portable_dot4(wide: &[u32], w: &[u32]) -> [i32; 4] {
    let mut acc = [0i32; 4];
    for (x, &w) in wide.chunks_exact(BLOCK).zip(w) {
        for (a, &x) in acc.iter_mut().zip(x) {
            *a = smlad(x, w, *a);
        }
    }
    acc
}

/// `SMLAD` in portable code: `acc + lo(x) * lo(w) + hi(x) * hi(w)`, wrapping.
#[inline(always)]
pub fn smlad(x: u32, w: u32, acc: i32) -> i32 {
    let lo = (x as i16 as i32).wrapping_mul(w as i16 as i32);
    let hi = ((x >> 16) as i16 as i32).wrapping_mul((w >> 16) as i16 as i32);
    acc.wrapping_add(lo).wrapping_add(hi)
}

/// Kernel entry for [`Op::DepthwiseDspI16`].
pub fn run_depthwise_dsp_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseDspI16);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    check_conv_reach(layer, g)?;
    if g.in_c != g.out_c || g.in_c == 0 || !g.in_c.is_multiple_of(2) {
        return Err(err("channels must match and be even"));
    }
    let per_channel = match band_layer(g) {
        true => 2 * PAIRED_WORDS as u64,
        false => product(&[g.k_h, g.k_w]),
    };
    if weights.len() as u64 != per_channel * g.in_c as u64 {
        return Err(err("weights do not match the geometry"));
    }
    if !bias.is_empty() && bias.len() != g.out_c as usize {
        return Err(err("bias does not match the output channels"));
    }
    check_requant_i16(layer, g.out_c as usize, multiplier, shift)?;
    if p.band_rows == 0
        || p.band_rows as usize > MAX_BAND_ROWS
        || (p.scratch_bytes as u64) < depthwise_scratch_bytes(g, p.band_rows)
    {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let input: &[u32] = bytemuck::try_cast_slice(input).map_err(|_| err("misaligned input"))?;
    let weights: &[u32] =
        bytemuck::try_cast_slice(weights).map_err(|_| err("misaligned weights"))?;
    let q = Quant {
        bias,
        multiplier,
        shift,
        acc32: false,
        act: (p.rq.act_min, p.rq.act_max),
    };
    depthwise_dsp_i16(p, input, weights, &q, output, scratch).ok_or(err(
        "misaligned scratch buffer or slices that do not match the layer",
    ))
}

/// The depthwise convolution. `input` and `weights` are the int16 tensors as words (pairs of
/// channels); slices must match `p` (the kernel entry checks); `scratch` holds
/// [`depthwise_scratch_bytes`] bytes. `None` if the scratch is not 4-byte aligned.
///
/// Every listed tap is a pixel inside the input (`tap`, or for a window inside the input, its
/// first tap plus the relative offsets) and a filter position, so `x + c2` is inside the input
/// and `w + c2` inside the weights for every channel pair `c2 < in_c / 2`; the output has
/// `in_c` values per pixel. The slices are taken checked all the same (`None` should one not
/// match), so that no panic path is linked.
pub fn depthwise_dsp_i16(
    p: &DepthwiseDspI16,
    input: &[u32],
    weights: &[u32],
    q: &Quant<'_>,
    output: &mut [i16],
    scratch: &mut [u8],
) -> Option<()> {
    let g = &p.geom;
    let taps = (g.k_h * g.k_w) as usize;
    let (stages, scratch) = scratch.split_at_mut_checked(g.in_c as usize * Stage::WORDS * 4)?;
    let stages: &mut [u32] = bytemuck::try_cast_slice_mut(stages).ok()?;
    write_stages(q, stages)?;
    let smmulr_only = Stage::smmulr_only(stages);
    if band_layer(g) {
        return depthwise_band_i16(
            g,
            p.band_rows,
            input,
            weights,
            q.act,
            stages,
            smmulr_only,
            output,
            scratch,
        );
    }
    let (list, interior) = scratch
        .get_mut(..taps * 16)?
        .split_at_mut_checked(taps * 8)?;
    let list: &mut [u32] = bytemuck::try_cast_slice_mut(list).ok()?;
    let interior: &mut [u32] = bytemuck::try_cast_slice_mut(interior).ok()?;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let pairs = g.in_c as usize / 2;
    // The taps of a window inside the input, relative to its first tap: the same list for
    // every such pixel (most of a layer), so it is made once.
    let (dil_h, dil_w) = (g.dilation_h as usize, g.dilation_w as usize);
    let k_w = g.k_w as usize;
    if k_w == 0 {
        return None;
    }
    for (t, e) in interior.chunks_exact_mut(2).enumerate() {
        let (ky, kx) = (t / k_w, t % k_w);
        if let [e0, e1] = e {
            *e0 = ((ky * dil_h * in_w + kx * dil_w) * pairs) as u32;
            *e1 = (t * pairs) as u32;
        }
    }
    let reach_h = (g.k_h as i64 - 1) * dil_h as i64;
    let reach_w = (g.k_w as i64 - 1) * dil_w as i64;
    for b in 0..g.batches as usize {
        for oy in 0..out_h {
            let y0 = (oy * g.stride_h as usize) as i64 - g.pad_top as i64;
            let rows_inside = y0 >= 0 && y0 + reach_h < in_h as i64;
            for ox in 0..out_w {
                let out_base = ((b * out_h + oy) * out_w + ox) * pairs * 2;
                let out = output.get_mut(out_base..out_base + pairs * 2)?;
                let x0 = (ox * g.stride_w as usize) as i64 - g.pad_left as i64;
                if rows_inside && x0 >= 0 && x0 + reach_w < in_w as i64 {
                    let base = ((b * in_h + y0 as usize) * in_w + x0 as usize) * pairs;
                    // The interior list's last tap has the largest offsets: checking it
                    // checks them all.
                    let input = input.get(base..)?;
                    let checked = match interior {
                        [.., x, w] => {
                            *x as usize + pairs <= input.len()
                                && *w as usize + pairs <= weights.len()
                        }
                        _ => false,
                    };
                    depthwise_pixel(
                        interior,
                        input,
                        weights,
                        q,
                        stages,
                        smmulr_only,
                        out,
                        checked,
                    );
                    continue;
                }
                // A window across the border: the taps inside the input, as word offsets of
                // the first channel pair of the input pixel and of the filter position.
                let mut n = 0;
                for ky in 0..g.k_h {
                    let Some(iy) = crate::ops::conv::tap(
                        oy as u32,
                        g.stride_h,
                        g.pad_top,
                        ky,
                        g.dilation_h,
                        g.in_h,
                    ) else {
                        continue;
                    };
                    for kx in 0..g.k_w {
                        let Some(ix) = crate::ops::conv::tap(
                            ox as u32,
                            g.stride_w,
                            g.pad_left,
                            kx,
                            g.dilation_w,
                            g.in_w,
                        ) else {
                            continue;
                        };
                        let [x, w] = list.get_mut(2 * n..2 * n + 2)? else {
                            return None;
                        };
                        *x = (((b * in_h + iy) * in_w + ix) * pairs) as u32;
                        *w = ((ky * g.k_w + kx) as usize * pairs) as u32;
                        n += 1;
                    }
                }
                let list = list.get(..2 * n)?;
                let checked = list.chunks_exact(2).all(|t| match *t {
                    [x, w] => {
                        x as usize + pairs <= input.len() && w as usize + pairs <= weights.len()
                    }
                    _ => false,
                });
                depthwise_pixel(list, input, weights, q, stages, smmulr_only, out, checked);
            }
        }
    }
    Some(())
}

/// One output pixel: every channel pair's sums over the listed taps, requantized. `checked`
/// is the caller's word that every listed tap's input and weight offsets plus the channel
/// pairs lie inside the slices (the assembly loops rely on it; without it they fall back);
/// `smmulr_only` the layer's [`Stage::smmulr_only`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn depthwise_pixel(
    list: &[u32],
    input: &[u32],
    weights: &[u32],
    q: &Quant<'_>,
    stages: &[u32],
    smmulr_only: bool,
    out: &mut [i16],
    checked: bool,
) {
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    let _ = checked;
    // Two channel pairs at a time, then the odd one out.
    let mut quads = out
        .chunks_exact_mut(4)
        .zip(stages.chunks_exact(4 * Stage::WORDS));
    let mut c2 = 0;
    for (o, st) in &mut quads {
        #[cfg(all(target_arch = "arm", feature = "dsp"))]
        let acc = crate::arch::cortex_m_dsp::dsp16::dot_quad(list, input, weights, c2, checked);
        #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
        let acc = {
            let (a0, a1) = portable_dot_pair(list, input, weights, c2);
            let (a2, a3) = portable_dot_pair(list, input, weights, c2 + 1);
            [a0, a1, a2, a3]
        };
        for ((o, st), a) in o.iter_mut().zip(st.chunks_exact(Stage::WORDS)).zip(acc) {
            *o = Stage::apply_words_as(st, a, q.act, smmulr_only);
        }
        c2 += 2;
    }
    let rest = out.chunks_exact_mut(4).into_remainder();
    let stage_pair = stages
        .get(c2 * 2 * Stage::WORDS..)
        .and_then(|st| st.split_at_checked(Stage::WORDS));
    if let ([o0, o1], Some((s0, s1))) = (rest, stage_pair) {
        #[cfg(all(target_arch = "arm", feature = "dsp"))]
        let (a0, a1) =
            crate::arch::cortex_m_dsp::dsp16::dot_pair(list, input, weights, c2, checked);
        #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
        let (a0, a1) = portable_dot_pair(list, input, weights, c2);
        *o0 = Stage::apply_words_as(s0, a0, q.act, smmulr_only);
        *o1 = Stage::apply_words_as(s1, a1, q.act, smmulr_only);
    }
}

/// The depthwise convolution of a [`band_layer`] on channel-planar bands (the int8 DSP
/// kernel's scheme, see `ops::depthwise_dsp`): input rows are copied into a ring of
/// `band_input_rows(g, band_rows)` slots of `[channel][band_width]` values (padding columns
/// and rows 0, the int16 zero point), so that two horizontally adjacent taps of a channel are
/// one word; then, band by band of `band_rows` output rows, every channel's rows of outputs
/// with its nine weights at hand. On a Cortex-M with the DSP extension and a layer whose
/// stages are all one `SMMULR` (`smmulr_only`) a band runs in assembly
/// ([`crate::arch::cortex_m_dsp::depthwise16::band3x3_i16`]); a band in which a sum plus its
/// bias left the 32-bit range, and every band elsewhere, is computed by [`band_row`].
///
/// `input` is the int16 input as words (pairs of channels), `weights` the channels' paired
/// weights ([`PAIRED_WORDS`] words each); `scratch` (after the stages) holds the ring
/// ([`depthwise_scratch_bytes`]). Every slice is taken checked: `None` should one not match.
#[allow(clippy::too_many_arguments)]
fn depthwise_band_i16(
    g: &ConvGeometry,
    band_rows: u32,
    input: &[u32],
    weights: &[u32],
    act: (i32, i32),
    stages: &[u32],
    smmulr_only: bool,
    output: &mut [i16],
    scratch: &mut [u8],
) -> Option<()> {
    let c = g.in_c as usize;
    let c2 = c / 2;
    let wp = band_width(g) as usize;
    let slot_len = c * wp;
    let band_rows = (band_rows as usize).clamp(1, MAX_BAND_ROWS);
    let slots = band_input_rows(g, band_rows as u32) as usize;
    let paired = weights.get(..c * PAIRED_WORDS)?;
    let ring: &mut [u32] =
        bytemuck::try_cast_slice_mut(scratch.get_mut(..slots * slot_len * 2)?).ok()?;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let s_h = g.stride_h as usize;
    let row_words = in_w * c2;
    // A checked remainder, so that no panic path is linked where LLVM loses `slots != 0`.
    let slot_of = |py: usize| py.checked_rem(slots).unwrap_or(usize::MAX);
    // Padding columns stay 0 for good; slots are overwritten row by row.
    ring.fill(0);
    for b in 0..g.batches as usize {
        // Padded input rows below `next` are in the ring (those still needed).
        let mut next = 0usize;
        let mut oy0 = 0;
        while oy0 < out_h {
            let n = band_rows.min(out_h - oy0);
            let top = oy0 * s_h;
            let end = top + (n - 1) * s_h + 3;
            for py in next.max(top)..end {
                let slot = slot_of(py);
                let dst = ring.get_mut(slot * slot_len / 2..(slot + 1) * slot_len / 2)?;
                match py.checked_sub(g.pad_top as usize).filter(|&iy| iy < in_h) {
                    Some(iy) => {
                        let at = (b * in_h + iy) * row_words;
                        let src = input.get(at..at + row_words)?;
                        transpose_row(src, c2, g.pad_left as usize, wp, dst)?;
                    }
                    None => dst.fill(0),
                }
            }
            next = end;
            // Per output row, its three input rows' slots as offsets in values from the
            // ring's start.
            let mut rows = [[0usize; 3]; MAX_BAND_ROWS];
            for (r, row) in rows.iter_mut().take(n).enumerate() {
                let py = top + r * s_h;
                *row = [py, py + 1, py + 2].map(|py| slot_of(py).saturating_mul(slot_len));
            }
            let rows = rows.get(..n)?;
            let o = (b * out_h + oy0) * out_w * c;
            let out = output.get_mut(o..o + n * out_w * c)?;
            let ring: &[i16] = bytemuck::try_cast_slice(&*ring).ok()?;
            oy0 += n;
            #[cfg(all(target_arch = "arm", feature = "dsp"))]
            if smmulr_only && band_asm(g, ring, rows, wp, paired, stages, act, out) {
                continue;
            }
            #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
            let _ = smmulr_only;
            for (&rows, out) in rows.iter().zip(out.chunks_exact_mut((out_w * c).max(1))) {
                let band = Band16 {
                    ring,
                    rows,
                    c,
                    wp,
                    out_w,
                    stride_w: g.stride_w as usize,
                };
                band_row(&band, paired, stages, act, out)?;
            }
        }
    }
    Some(())
}

/// Copies one NHWC int16 input row (`src`: pixels of `c2` words, pairs of channels) into a
/// ring slot (`dst`: `2 * c2` planes of `wp / 2` words): pixel `x` of channel `ch` to value
/// `pad_left + x` of plane `ch`. Two pixels of two channels at a time ([`copy_pairs`]): two
/// words in, two words out. A word only half the row's (at an odd start or end) has a
/// padding column in its other half, written 0 as it already is. `None` if the slices do not
/// match.
fn transpose_row(
    src: &[u32],
    c2: usize,
    pad_left: usize,
    wp: usize,
    dst: &mut [u32],
) -> Option<()> {
    let half = wp / 2;
    if c2 == 0 || half == 0 {
        return None;
    }
    let in_w = src.len() / c2;
    // A first pixel at an odd position fills the top half of its word alone.
    let lone_first = pad_left % 2;
    let at = pad_left / 2 + lone_first;
    let rest = in_w.checked_sub(lone_first)?;
    let (pairs, lone_last) = (rest / 2, rest % 2 == 1);
    copy_pairs(src.get(lone_first * c2..)?, c2, pairs, dst, half, at)?;
    if lone_first + lone_last as usize == 0 {
        return Some(());
    }
    for (k, planes) in dst.chunks_exact_mut(2 * half).take(c2).enumerate() {
        let (even, odd) = planes.split_at_mut_checked(half)?;
        let pixel = |x: usize| src.get(x * c2 + k).copied();
        if lone_first == 1 {
            let a = pixel(0)?;
            *even.get_mut(at - 1)? = a << 16;
            *odd.get_mut(at - 1)? = a & 0xFFFF_0000;
        }
        if lone_last {
            let a = pixel(in_w - 1)?;
            *even.get_mut(at + pairs)? = a & 0xFFFF;
            *odd.get_mut(at + pairs)? = a >> 16;
        }
    }
    Some(())
}

/// For every channel pair `k < c2` and `i < pairs`: with `a = src[2 i c2 + k]` and
/// `b = src[(2 i + 1) c2 + k]` (two pixels' words of the channel pair), word `at + i` of plane
/// `2k` of `dst` (planes of `half` words) becomes `a.lo | b.lo << 16`, and of plane `2k + 1`
/// `a.hi | b.hi << 16`. In assembly on a Cortex-M with the DSP extension
/// ([`crate::arch::cortex_m_dsp::depthwise16::transpose_pairs`]). `None` if a slice is too
/// short.
fn copy_pairs(
    src: &[u32],
    c2: usize,
    pairs: usize,
    dst: &mut [u32],
    half: usize,
    at: usize,
) -> Option<()> {
    if pairs == 0 || c2 == 0 {
        return Some(());
    }
    if src.len() < 2 * pairs * c2 || at + pairs > half || dst.len() < 2 * c2 * half {
        return None;
    }
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    // SAFETY: pairs, c2 >= 1; the words read, `k + j c2` for k < c2 and j < 2 pairs, are
    // inside `src`, and the words written, `(2k or 2k + 1) half + at + i`, inside `dst`
    // (checked above; `half >= at + pairs`); all word aligned.
    unsafe {
        crate::arch::cortex_m_dsp::depthwise16::transpose_pairs(
            src.as_ptr(),
            c2 * 4,
            dst.as_mut_ptr().add(at),
            half * 4,
            pairs,
            c2,
        );
        Some(())
    }
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    {
        for (k, planes) in dst.chunks_exact_mut(2 * half).take(c2).enumerate() {
            let (even, odd) = planes.split_at_mut_checked(half)?;
            let words = even.get_mut(at..at + pairs)?.iter_mut();
            for (i, (e, o)) in words.zip(odd.get_mut(at..at + pairs)?).enumerate() {
                let (a, b) = (*src.get(2 * i * c2 + k)?, *src.get((2 * i + 1) * c2 + k)?);
                *e = (a & 0xFFFF) | (b << 16);
                *o = (a >> 16) | (b & 0xFFFF_0000);
            }
        }
        Some(())
    }
}

/// One output row's view of the band ring.
struct Band16<'a> {
    /// The ring (`BAND_SLOTS` slots of `c` planes of `wp` values).
    ring: &'a [i16],
    /// The row's three input rows: offsets in values of their slots.
    rows: [usize; 3],
    /// Channels.
    c: usize,
    /// Values per plane.
    wp: usize,
    /// Output pixels in the row.
    out_w: usize,
    /// Horizontal stride.
    stride_w: usize,
}

/// The portable definition of the band kernel: one output row, every channel. The sums wrap
/// at 32 bits as `SMLAD` does (exact: the converter proved they cannot overflow), then the
/// channel's stage ([`Stage::apply_words`]: its int64 form when the sum plus bias leaves 32
/// bits). `None` if a slice does not match.
fn band_row(
    band: &Band16<'_>,
    paired: &[u32],
    stages: &[u32],
    act: (i32, i32),
    out: &mut [i16],
) -> Option<()> {
    let (c, wp) = (band.c, band.wp);
    let channels = paired
        .chunks_exact(PAIRED_WORDS)
        .zip(stages.chunks_exact(Stage::WORDS))
        .take(c);
    for (ch, (w, st)) in channels.enumerate() {
        let lo = |i: usize| w.get(i).map_or(0, |&v| v as i16 as i32);
        let hi = |i: usize| w.get(i).map_or(0, |&v| (v >> 16) as i16 as i32);
        let taps = [
            [lo(0), hi(0), lo(3)],
            [lo(1), hi(1), hi(3)],
            [lo(2), hi(2), lo(4)],
        ];
        let plane = |ky: usize| {
            let at = band.rows.get(ky)? + ch * wp;
            band.ring.get(at..at + wp)
        };
        let rows = [plane(0)?, plane(1)?, plane(2)?];
        for ox in 0..band.out_w {
            let x = ox * band.stride_w;
            let mut acc = 0i32;
            for (row, taps) in rows.iter().zip(&taps) {
                for (&v, &t) in row.get(x..x + 3)?.iter().zip(taps) {
                    acc = acc.wrapping_add((v as i32).wrapping_mul(t));
                }
            }
            *out.get_mut(ox * c + ch)? = Stage::apply_words(st, acc, act);
        }
    }
    Some(())
}

/// The output rows of a band in assembly
/// ([`crate::arch::cortex_m_dsp::depthwise16::band3x3_i16`]), for layers whose stages are all
/// one `SMMULR`; `rows` holds each output row's three input rows (offsets in values of their
/// slots in `ring`). `false`, with the rows to be computed again, if a sum plus its bias left
/// the 32-bit range, or (never, by the callers' checks) if a slice does not match.
#[cfg(all(target_arch = "arm", feature = "dsp"))]
#[allow(clippy::too_many_arguments)]
fn band_asm(
    g: &ConvGeometry,
    ring: &[i16],
    rows: &[[usize; 3]],
    wp: usize,
    paired: &[u32],
    stages: &[u32],
    act: (i32, i32),
    out: &mut [i16],
) -> bool {
    use crate::arch::cortex_m_dsp::depthwise16 as asm;
    let c = g.in_c as usize;
    let out_w = g.out_w as usize;
    let stride_w = g.stride_w as usize;
    // Each channel's row reads `(out_w - 1) * stride_w + 4` values from its three input rows
    // (the band width's room), within the ring; the ring's slots start on words.
    let reach = (out_w.saturating_sub(1)) * stride_w + 4;
    let fits = rows.iter().flatten().all(|&r| {
        r % 2 == 0
            && r.checked_add((c.saturating_sub(1)) * wp + reach.div_ceil(2) * 2)
                .is_some_and(|end| end <= ring.len())
    });
    if !fits
        || rows.is_empty()
        || rows.len() > MAX_BAND_ROWS
        || out_w == 0
        || c == 0
        || wp % 2 != 0
        || reach > wp
        || !(stride_w == 1 || stride_w == 2)
        || paired.len() < c * PAIRED_WORDS
        || stages.len() < c * Stage::WORDS
        || out.len() != rows.len() * out_w * c
        || 2 * c >= 1 << 16
        || ring.as_ptr() as usize % 4 != 0
    {
        return false;
    }
    // Byte offsets of the three input rows of each output row (from a channel's slot 0).
    let mut offsets = [0u32; 3 * MAX_BAND_ROWS];
    for (o, r) in offsets.iter_mut().zip(rows.iter().flatten()) {
        *o = (r * 2) as u32;
    }
    let args = asm::Band3x3I16Args {
        plane: ring.as_ptr(),
        row_offsets: offsets.as_ptr(),
        rows: rows.len(),
        out: out.as_mut_ptr(),
        out_stride: 2 * c,
        out_w,
        weights: paired.as_ptr(),
        stages: stages.as_ptr(),
        stride_w,
        plane_bytes: wp * 2,
        lo: act.0,
        hi: act.1,
        channels: c,
        stage_bytes: Stage::WORDS * 4,
    };
    // SAFETY: checked above: for every channel, output row and filter row, `reach` values
    // (rounded up to even) from the row's slot plus the channel's plane lie inside `ring`
    // (word aligned: even offsets from a word-aligned start, `wp` even); `paired` holds five
    // words per channel, `stages` six; `out` holds the rows' `out_w` pixels of `c` values;
    // stride 1 or 2; `2 * c < 2^16`.
    unsafe { asm::band3x3_i16(&args) }
}

/// The portable definition of the depthwise inner loop: channel pair `c2`'s two 32-bit sums
/// (`SMLABB`, `SMLATT`) over the taps of `list` (pairs of input and weight word offsets).
/// The caller's taps lie inside `input` and `weights` (see `depthwise_dsp_i16`); one that
/// does not counts as zero (checked reads: no panic path).
pub fn portable_dot_pair(list: &[u32], input: &[u32], weights: &[u32], c2: usize) -> (i32, i32) {
    let (mut a0, mut a1) = (0i32, 0i32);
    for t in list.chunks_exact(2) {
        let &[xi, wi] = t else {
            continue;
        };
        let x = input.get(xi as usize + c2).copied().unwrap_or(0);
        let w = weights.get(wi as usize + c2).copied().unwrap_or(0);
        a0 = a0.wrapping_add((x as i16 as i32).wrapping_mul(w as i16 as i32));
        a1 = a1.wrapping_add(((x >> 16) as i16 as i32).wrapping_mul((w >> 16) as i16 as i32));
    }
    (a0, a1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The precomputed stage, in its fast and its int64 form, is the reference requantization,
    /// for sums and biases across the range and every shift TFLM allows.
    #[test]
    fn stage_equals_the_reference_requantization() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut fast = 0;
        for i in 0..200_000 {
            let acc = next() as i32 >> (next() % 32);
            let bias = match i % 3 {
                0 => None,
                1 => Some(next() as i64 >> (next() % 64)),
                _ => Some((next() as i32) as i64),
            };
            let multiplier = match i % 5 {
                0 => 0x7FFF_8000 + (next() % 0x8000) as i32,
                _ => (next() >> 33) as i32,
            };
            let shift = (next() % 39) as i32 - 31;
            let act = (-32768, 32767);
            let want = requant_i16(acc as i64, bias, false, multiplier, shift).clamp(act.0, act.1);
            let st = Stage::new(bias, multiplier, shift);
            assert_eq!(Stage::from_words(&st.to_words()), Some(st));
            assert_eq!(
                Stage::apply_words(&st.to_words(), acc, act),
                st.apply(acc, act)
            );
            let four = [acc, acc, acc.wrapping_neg(), acc >> 3];
            assert_eq!(st.apply4(four, act), four.map(|a| st.apply(a, act)));
            if st.fast_post != Stage::NO_FAST && acc.checked_add(st.bias as i32).is_some() {
                fast += 1;
            }
            assert_eq!(
                st.apply(acc, act) as i32,
                want,
                "{acc} {bias:?} {multiplier} {shift}"
            );
        }
        // Both forms are exercised: about half the draws take the fast one.
        assert!((60_000..140_000).contains(&fast), "{fast} fast draws");
    }
}
