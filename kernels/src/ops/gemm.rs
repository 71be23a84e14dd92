//! CONV_2D as an integer GEMM ([`Op::ConvGemmI8`]) for SIMD and DSP kernels.
//!
//! The converter folds the input offset into the bias (`bias + input_offset * sum(w)`), so the
//! kernels multiply raw input bytes; padding taps then read the input zero point, which makes
//! their contribution `w * (zp + input_offset) = 0`, as in TFLite Micro where they are skipped.
//! Output pixels go four at a time: their taps are gathered (im2col) into int8 rows, widened
//! to 16-bit pairs in the order `SXTB16` produces them, and multiplied against every output
//! channel's weights.
//!
//! On a Cortex-M with the DSP extension the widening and the GEMM run in assembly
//! ([`crate::arch::cortex_m_dsp::gemm`]); elsewhere the portable code below computes the same
//! values, and it is what the property tests compare against the reference convolution.

use crate::util::{check_conv_activations, check_conv_reach, expect_op, likely, product};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{ChannelQuant, ConvGemmI8, ConvGeometry, Op};
use ferrite_core::{Ctx, Error, Result};

/// Output pixels per block.
pub const BLOCK: usize = 4;

/// Bytes of arena scratch [`run_conv_gemm_i8`] needs: the widened block (`k4` groups of 8
/// words), four int8 im2col rows (`k4 * 4` bytes each), and four rows of outputs for the last,
/// partial block.
pub const fn scratch_bytes(k4: usize, out_c: usize) -> usize {
    k4 * 32 + k4 * 16 + BLOCK * out_c
}

/// Kernel entry for [`Op::ConvGemmI8`].
pub fn run_conv_gemm_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ConvGemmI8);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = Weights::new(ctx.consts(p.weights)?, ctx.consts(p.weights16)?, p.paired);
    let quant = ctx.consts(p.channels)?;
    check_conv_reach(layer, g)?;
    let k = product(&[g.k_h, g.k_w, g.in_c]);
    let k4 = p.k4 as u64;
    // k4: the taps in groups of four, rounded up to an even number of groups.
    if k == 0 || k4 * 4 < k || k4 * 4 >= k + 8 || !k4.is_multiple_of(2) {
        return Err(err("k4 does not match the filter size"));
    }
    if weights.len() != k4 * 4 * g.out_c as u64
        || quant.len() != ChannelQuant::WORDS * g.out_c as usize
    {
        return Err(err("weights or output stage do not match the geometry"));
    }
    if quant
        .chunks_exact(ChannelQuant::WORDS)
        .filter_map(ChannelQuant::from_words)
        .any(|q| {
            !(0..=31).contains(&q.left_shift())
                || q.lshift & !(0xff | ChannelQuant::FLAGS) != 0
                || !(0..=31).contains(&q.rshift)
        })
    {
        return Err(err("requantization shift out of range"));
    }
    // The 16-bit layout folds the left shift into the weights; its kernel reads the word as
    // the rounding flag alone.
    if matches!(weights, Weights::I16(_))
        && quant
            .chunks_exact(ChannelQuant::WORDS)
            .filter_map(ChannelQuant::from_words)
            .any(|q| q.left_shift() != 0)
    {
        return Err(err("16-bit weights with a left shift in the output stage"));
    }
    if (p.scratch_bytes as usize) < scratch_bytes(p.k4 as usize, g.out_c as usize) {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    conv_gemm_i8(p, input, weights, quant, output, scratch).ok_or(err(
        "misaligned scratch buffer or slices that do not match the layer",
    ))
}

/// The GEMM convolution. Slices must match `p` (the kernel entry checks); `scratch` holds
/// [`scratch_bytes`] bytes, 4-byte aligned. `None` if it is not aligned, or if a slice does
/// not match `p` (which the entry's checks rule out: every access is checked, so the
/// firmware links no panic path; the checks run once per block of four pixels).
pub fn conv_gemm_i8(
    p: &ConvGemmI8,
    input: &[i8],
    weights: Weights<'_>,
    quant: &[i32],
    output: &mut [i8],
    scratch: &mut [u8],
) -> Option<()> {
    let g = &p.geom;
    let k4 = p.k4 as usize;
    let row = k4 * 4;
    let out_c = g.out_c as usize;
    if row == 0 {
        return None;
    }
    let (wide, rest) = scratch.split_at_mut_checked(k4 * 32)?;
    let wide: &mut [u32] = bytemuck::try_cast_slice_mut(wide).ok()?;
    let (rows, tail) = rest.split_at_mut_checked(BLOCK * row)?;
    let rows: &mut [i8] = bytemuck::cast_slice_mut(rows);
    let tail: &mut [i8] = bytemuck::cast_slice_mut(tail);
    let pixels = (g.out_h * g.out_w) as usize;
    let zp = p.input_zero_point as i8;
    // A pointwise convolution over every input pixel in order needs no gathering: output pixel
    // p's taps are input pixel p's channels.
    let direct = g.k_h == 1
        && g.k_w == 1
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_top == 0
        && g.pad_left == 0
        && g.in_c as usize == row;
    // Rows' bytes beyond the taps must read the zero point (see `im2col_inside_block`).
    rows.fill(zp);
    for b in 0..g.batches as usize {
        let mut first = 0;
        while first < pixels {
            let n = (pixels - first).min(BLOCK);
            let dst = ((b * pixels + first) * out_c)..((b * pixels + first + n) * out_c);
            let at = |slot: usize| (b * pixels + first + slot.min(n - 1)) * row;
            if direct {
                // Past the last pixel, repeat it: its outputs go to the tail buffer.
                let block = [
                    likely(input.get(at(0)..at(0) + row))?,
                    likely(input.get(at(1)..at(1) + row))?,
                    likely(input.get(at(2)..at(2) + row))?,
                    likely(input.get(at(3)..at(3) + row))?,
                ];
                let out = likely(output.get_mut(dst))?;
                gemm_block(p, block, wide, weights, quant, out, tail, n);
            } else {
                if n < BLOCK || !im2col_inside_block(g, input, b, first, rows) {
                    for (slot, r) in rows.chunks_exact_mut(row).enumerate() {
                        likely(im2col(g, input, b, first + slot.min(n - 1), zp, r))?;
                    }
                }
                let (r0, r1) = likely(rows.split_at_checked(row))?;
                let (r1, r2) = likely(r1.split_at_checked(row))?;
                let (r2, r3) = likely(r2.split_at_checked(row))?;
                let block = [r0, r1, r2, r3];
                let out = likely(output.get_mut(dst))?;
                gemm_block(p, block, wide, weights, quant, out, tail, n);
            }
            first += n;
        }
    }
    Some(())
}

/// im2col of the [`BLOCK`] pixels from `first` on when they lie in one output row and their
/// windows inside the input (most blocks of a layer): one address computation for the
/// block, then `k_h` runs per pixel. Returns `false`, writing nothing, for other blocks.
///
/// Only the taps are written: the bytes beyond them (up to the row's multiple of 8) keep
/// the input zero point the caller fills every row with before the first block, and which
/// [`im2col`] writes there too.
///
/// The window checks keep every run inside the input and `rows` holds BLOCK rows of
/// `k4*4 >= k_h*k_w*in_c` bytes; should a slice disagree all the same, this returns `false`
/// (and the caller's [`im2col`] reports it).
fn im2col_inside_block(
    g: &ConvGeometry,
    input: &[i8],
    b: usize,
    first: usize,
    rows: &mut [i8],
) -> bool {
    let out_w = g.out_w as usize;
    if out_w == 0 {
        return false;
    }
    let (oy, ox) = (first / out_w, first % out_w);
    if g.dilation_w != 1 || ox + BLOCK > out_w {
        return false;
    }
    let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
    let (stride_w, k_w) = (g.stride_w as usize, g.k_w as usize);
    let y0 = (oy * g.stride_h as usize) as i64 - g.pad_top as i64;
    let x0 = (ox * stride_w) as i64 - g.pad_left as i64;
    let y_last = y0 + ((g.k_h - 1) * g.dilation_h) as i64;
    let x_end = x0 + ((BLOCK - 1) * stride_w + k_w) as i64;
    if y0 < 0 || x0 < 0 || y_last >= in_h as i64 || x_end > in_w as i64 {
        return false;
    }
    let span = k_w * in_c;
    let runs = g.k_h as usize;
    let step = g.dilation_h as usize * in_w * in_c;
    let row = rows.len() / BLOCK;
    if row == 0 || span == 0 {
        return false;
    }
    let first_tap = ((b * in_h + y0 as usize) * in_w + x0 as usize) * in_c;
    for (slot, dst) in rows.chunks_exact_mut(row).enumerate() {
        let src = first_tap + slot * stride_w * in_c;
        let (Some(dst), Some(from)) =
            (likely(dst.get_mut(..runs * span)), likely(input.get(src..)))
        else {
            return false;
        };
        #[cfg(all(target_arch = "arm", feature = "dsp"))]
        if crate::arch::cortex_m_dsp::gemm::copy_runs(dst, from, span, runs, step, 0) {
            continue;
        }
        for (r, d) in dst.chunks_exact_mut(span).enumerate() {
            let Some(s) = likely(from.get(r * step..r * step + span)) else {
                return false;
            };
            d.copy_from_slice(s);
        }
    }
    true
}

/// Gathers the taps of output pixel `pixel` of batch `b` into `row` (`(ky, kx, ic)` order),
/// padding taps and the tail beyond the filter size filled with the input zero point.
///
/// `tap` returns only rows/columns inside the input; with dilation 1 the copied run
/// `kx_lo..kx_hi` is clipped to the input columns `0..in_w` (`kx_lo <= kx_hi <= k_w`), and
/// `row` holds `k4*4 >= k_h*k_w*in_c` bytes; every access is checked all the same (`None`
/// should a slice disagree), so that no panic path is linked.
fn im2col(
    g: &ConvGeometry,
    input: &[i8],
    b: usize,
    pixel: usize,
    zp: i8,
    row: &mut [i8],
) -> Option<()> {
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
    // First input column of the window; with dilation 1 a window row is one contiguous run.
    let x0 = (ox * g.stride_w) as i64 - g.pad_left as i64;
    let row_inside = g.dilation_w == 1 && x0 >= 0 && x0 + g.k_w as i64 <= in_w as i64;
    let y0 = (oy * g.stride_h) as i64 - g.pad_top as i64;
    if row_inside && y0 >= 0 && y0 + (((g.k_h - 1) * g.dilation_h) as i64) < in_h as i64 {
        // The whole window is inside: k_h contiguous runs, no tap arithmetic. Runs are short
        // (k_w * in_c bytes): on a Cortex-M copy them in words rather than through memcpy.
        let step = g.dilation_h as usize * in_w * in_c;
        let src = ((b * in_h + y0 as usize) * in_w + x0 as usize) * in_c;
        let from = input.get(src..)?;
        #[cfg(all(target_arch = "arm", feature = "dsp"))]
        if crate::arch::cortex_m_dsp::gemm::copy_runs(row, from, span, g.k_h as usize, step, zp) {
            return Some(());
        }
        for (r, dst) in row.chunks_exact_mut(span).take(g.k_h as usize).enumerate() {
            dst.copy_from_slice(from.get(r * step..r * step + span)?);
        }
        row.get_mut(g.k_h as usize * span..)?.fill(zp);
        return Some(());
    }
    if in_c == 0 {
        return None;
    }
    for ky in 0..g.k_h {
        let dst = row.get_mut(ky as usize * span..(ky as usize + 1) * span)?;
        let Some(iy) = crate::ops::conv::tap(oy, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h)
        else {
            dst.fill(zp);
            continue;
        };
        if g.dilation_w == 1 {
            // The window row's taps inside the input are one run, `kx_lo..kx_hi`; the padding
            // columns on either side read the zero point.
            let kx_lo = (-x0).clamp(0, g.k_w as i64) as usize;
            // max then min, not `clamp` (which panics on an empty range): `kx_lo <= k_w`.
            let kx_hi = (in_w as i64 - x0).max(kx_lo as i64).min(g.k_w as i64) as usize;
            dst.get_mut(..kx_lo * in_c)?.fill(zp);
            dst.get_mut(kx_hi * in_c..)?.fill(zp);
            if kx_lo < kx_hi {
                let base = ((b * in_h + iy) * in_w + (x0 + kx_lo as i64) as usize) * in_c;
                let run = (kx_hi - kx_lo) * in_c;
                dst.get_mut(kx_lo * in_c..kx_lo * in_c + run)?
                    .copy_from_slice(input.get(base..base + run)?);
            }
            continue;
        }
        for (kx, d) in dst.chunks_exact_mut(in_c).enumerate() {
            match crate::ops::conv::tap(ox, g.stride_w, g.pad_left, kx as u32, g.dilation_w, g.in_w)
            {
                Some(ix) => {
                    let base = ((b * in_h + iy) * in_w + ix) * in_c;
                    d.copy_from_slice(input.get(base..base + in_c)?);
                }
                None => d.fill(zp),
            }
        }
    }
    row.get_mut(g.k_h as usize * span..)?.fill(zp);
    Some(())
}

/// One block of `n <= 4` pixels (rows in `rows`) against every output channel. `tail`
/// holds `4 * out_c` bytes and `out` `n * out_c` (a partial block's outputs are not copied
/// should `tail` be shorter, which the entry's scratch check rules out).
#[allow(clippy::too_many_arguments)]
fn gemm_block(
    p: &ConvGemmI8,
    rows: [&[i8]; 4],
    wide: &mut [u32],
    weights: Weights<'_>,
    quant: &[i32],
    out: &mut [i8],
    tail: &mut [i8],
    n: usize,
) {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    if !matches!(weights, Weights::I8Pairs(_)) {
        let out_c = p.geom.out_c as usize;
        use crate::arch::cortex_m_dsp::gemm;
        gemm::widen4_rows(rows, wide);
        let full = n == BLOCK;
        let dst: &mut [i8] = if full { &mut *out } else { &mut *tail };
        let args = gemm::Gemm4Args {
            buf: wide.as_ptr(),
            buf_end: wide.as_ptr_range().end,
            weights: match weights {
                Weights::I8(w) | Weights::I8Pairs(w) => w.as_ptr().cast(),
                Weights::I16(w) => w.as_ptr().cast(),
            },
            quant: quant.as_ptr(),
            out: dst.as_mut_ptr(),
            stride: out_c,
            channels: out_c,
        };
        // SAFETY: `wide` holds an even k4 >= 2 groups of 8 words (checked by the entry; a
        // multiple of 4 for `gemm4_relu_x4`),
        // `weights` `out_c` rows of k4 * 4 taps, `quant` 5 words per channel with shifts in
        // range (checked by the entry), and `dst` four rows of `out_c` outputs. The 16-bit
        // weights come as `out_c / 2` interleaved pairs of channels then an odd last
        // channel's row (`ConvGemmI8::weights16`), and their stages' lshift words hold only
        // flags (checked by the entry): the pairs go to `gemm4x2_relu_w16` (an even number
        // of channels, at least 2), the last channel to `gemm4_relu_w16` with its row, stage
        // and outputs (taken checked; `channels` 1, the pixels still `out_c` apart).
        unsafe {
            match weights {
                // Sixteen taps per iteration when the groups come in fours.
                Weights::I8(_) | Weights::I8Pairs(_) if p.k4 % 4 == 0 => gemm::gemm4_relu_x4(&args),
                Weights::I8(_) | Weights::I8Pairs(_) => gemm::gemm4_relu(&args),
                Weights::I16(w) => {
                    let paired = out_c & !1;
                    if paired > 0 {
                        gemm::gemm4x2_relu_w16(&gemm::Gemm4Args {
                            channels: paired,
                            ..args
                        });
                    }
                    let row = p.k4 as usize * 4;
                    let last = (
                        w.get(paired * row..),
                        quant.get(paired * ChannelQuant::WORDS..),
                        dst.get_mut(paired..),
                    );
                    if paired < out_c {
                        if let (Some(w), Some(q), Some(o)) = last {
                            gemm::gemm4_relu_w16(&gemm::Gemm4Args {
                                weights: w.as_ptr().cast(),
                                quant: q.as_ptr(),
                                out: o.as_mut_ptr(),
                                channels: 1,
                                ..args
                            });
                        }
                    }
                }
            }
        };
        if !full {
            if let Some(t) = tail.get(..out.len()) {
                out.copy_from_slice(t);
            }
        }
        return;
    }
    // Only no-DSP conversions make the paired layout: a DSP build keeps the register-blocked
    // loops out of its flash and runs the definition should it ever meet one.
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    portable_block(p, rows, weights, quant, out, n);
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    blocked_block(p, rows, wide, weights, quant, out, n);
    let _ = (&tail, &wide);
}

/// The GEMM of one block without the DSP extension (Cortex-M0/M0+/M3, and the host), in
/// plain Rust register-blocked for the cores' 13 (ARMv7-M) or 8 low (ARMv6-M) registers.
///
/// It takes the paired weights (`ConvGemmI8::paired`); other layouts go to
/// [`portable_block`]. A full block is interleaved first, two pixels at a time tap by tap
/// (in `wide`), so that two pointers walk two pixels and a pair of channels: each step
/// loads two taps of two activations and two weights for eight multiply-adds into four
/// accumulators (see [`block_2x2`]). A partial block (fewer than four pixels, e.g. a
/// FULLY_CONNECTED's single row) goes pixel by pixel on the rows as they are, two pairs of
/// channels at a time. Equal to [`portable_block`] (the property tests compare them).
//
// `wide` holds `k4 * 32 >= 4 * row` bytes, every row `row = k4 * 4` taps, the weights `out_c`
// rows of `row` and `quant` `out_c` stages (entry checks); `out` holds `n * out_c` outputs.
// Every slice is taken checked all the same (the block stops should one not match), so that
// no panic path is linked.
#[cfg_attr(all(target_arch = "arm", feature = "dsp"), allow(dead_code))]
fn blocked_block(
    p: &ConvGemmI8,
    rows: [&[i8]; 4],
    wide: &mut [u32],
    weights: Weights<'_>,
    quant: &[i32],
    out: &mut [i8],
    n: usize,
) {
    let Weights::I8Pairs(w) = weights else {
        return portable_block(p, rows, weights, quant, out, n);
    };
    let _ = blocked_pairs(p, rows, wide, w, quant, out, n);
}

/// [`blocked_block`] on the paired weights `w`; `None` if a slice does not match.
#[cfg_attr(all(target_arch = "arm", feature = "dsp"), allow(dead_code))]
fn blocked_pairs(
    p: &ConvGemmI8,
    rows: [&[i8]; 4],
    wide: &mut [u32],
    w: &[i8],
    quant: &[i32],
    out: &mut [i8],
    n: usize,
) -> Option<()> {
    let out_c = p.geom.out_c as usize;
    let row = p.k4 as usize * 4;
    let pairs = out_c / 2;
    let stage = |c: usize| {
        quant
            .get(c * ChannelQuant::WORDS..)
            .and_then(ChannelQuant::from_words)
    };
    let finish = |c: usize, acc: i32| {
        stage(c).map(|q| q.finish_with(q.bias.wrapping_add(acc), crate::arch::smmulr))
    };
    // An odd last channel: its plain row, one pixel at a time.
    let last = |x: &[i8]| {
        Some(dot(
            x.get(..row)?,
            w.get(pairs * 2 * row..(pairs * 2 + 1) * row)?,
        ))
    };
    if n < BLOCK {
        for (px, x) in rows.iter().take(n).enumerate() {
            let x = x.get(..row)?;
            let out = out.get_mut(px * out_c..(px + 1) * out_c)?;
            let mut j = 0;
            while j + 2 <= pairs {
                let (u, v) = w
                    .get(2 * j * row..2 * (j + 2) * row)?
                    .split_at_checked(2 * row)?;
                let a = pixel_2x2(x, u, v);
                for (i, acc) in a.into_iter().enumerate() {
                    *out.get_mut(2 * j + i)? = finish(2 * j + i, acc)?;
                }
                j += 2;
            }
            if j < pairs {
                let u = w.get(2 * j * row..2 * (j + 1) * row)?;
                let a = x
                    .iter()
                    .zip(u.chunks_exact(2))
                    .fold([0i32; 2], |[a0, a1], (&x, u)| {
                        let x = x as i32;
                        let (u0, u1) = match *u {
                            [u0, u1] => (u0 as i32, u1 as i32),
                            _ => (0, 0),
                        };
                        [
                            a0.wrapping_add(x.wrapping_mul(u0)),
                            a1.wrapping_add(x.wrapping_mul(u1)),
                        ]
                    });
                for (i, acc) in a.into_iter().enumerate() {
                    *out.get_mut(2 * j + i)? = finish(2 * j + i, acc)?;
                }
            }
            if out_c % 2 == 1 {
                *out.get_mut(out_c - 1)? = finish(out_c - 1, last(x)?)?;
            }
        }
        return Some(());
    }
    // ARMv7-M: four pixels per pass over the weights (assembly), when the layer's output
    // stages let one specialised stage serve every channel.
    #[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
    if let Some(mode) = StageMode::of(quant) {
        return match mode {
            StageMode {
                ties: false,
                exact: false,
            } => block_4x2::<false, false>(rows, wide, w, quant, out, row, out_c),
            StageMode {
                ties: false,
                exact: true,
            } => block_4x2::<false, true>(rows, wide, w, quant, out, row, out_c),
            StageMode {
                ties: true,
                exact: false,
            } => block_4x2::<true, false>(rows, wide, w, quant, out, row, out_c),
            StageMode {
                ties: true,
                exact: true,
            } => block_4x2::<true, true>(rows, wide, w, quant, out, row, out_c),
        };
    }
    // Pixels 0 and 1, then 2 and 3, each pair interleaved tap by tap.
    let xt: &mut [i8] = bytemuck::cast_slice_mut(wide);
    let (x01, x23) = xt.get_mut(..4 * row)?.split_at_mut_checked(2 * row)?;
    let [r0, r1, r2, r3] = rows;
    let taps = r0
        .get(..row)?
        .iter()
        .zip(r1.get(..row)?)
        .zip(r2.get(..row)?.iter().zip(r3.get(..row)?));
    // Fixed-size chunks: no chunk-size division (nor its zero check) in the zip.
    let (x01c, _) = x01.as_chunks_mut::<2>();
    let (x23c, _) = x23.as_chunks_mut::<2>();
    for ((d01, d23), ((&a, &b), (&c, &d))) in x01c.iter_mut().zip(x23c.iter_mut()).zip(taps) {
        *d01 = [a, b];
        *d23 = [c, d];
    }
    for j in 0..pairs {
        let wj = w.get(2 * j * row..2 * (j + 1) * row)?;
        // The pair's output stages, read once for its four pixels.
        let (q0, q1) = (stage(2 * j)?, stage(2 * j + 1)?);
        for (half, x) in [&*x01, &*x23].into_iter().enumerate() {
            let a = block_2x2(x, wj);
            for (i, acc) in a.into_iter().enumerate() {
                let q = if i < 2 { &q0 } else { &q1 };
                let o = q.finish_with(q.bias.wrapping_add(acc), crate::arch::smmulr);
                *out.get_mut((2 * half + i % 2) * out_c + 2 * j + i / 2)? = o;
            }
        }
    }
    if out_c % 2 == 1 {
        for (px, x) in rows.iter().enumerate() {
            *out.get_mut(px * out_c + out_c - 1)? = finish(out_c - 1, last(x)?)?;
        }
    }
    Some(())
}

/// The output-stage variant one layer's channels share: every channel rounds negative ties
/// away from zero (`ties`) or none does, and whether every channel's add is proved exact.
#[cfg_attr(
    not(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m))),
    allow(dead_code)
)]
#[derive(Clone, Copy)]
struct StageMode {
    ties: bool,
    exact: bool,
}

#[cfg_attr(
    not(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m))),
    allow(dead_code)
)]
impl StageMode {
    /// The variant of the stages in `quant`; `None` when some channels round ties away and
    /// others do not (the generic stage then decides per channel).
    fn of(quant: &[i32]) -> Option<Self> {
        let (mut any_ties, mut all_ties, mut exact) = (false, true, true);
        for q in quant.chunks_exact(ChannelQuant::WORDS) {
            let flags = q.get(2).copied().unwrap_or(0);
            let ties = flags & ChannelQuant::ROUND_TIES_AWAY != 0;
            any_ties |= ties;
            all_ties &= ties;
            exact &= flags & ChannelQuant::EXACT_ADD != 0;
        }
        (any_ties == all_ties).then_some(StageMode {
            ties: all_ties,
            exact,
        })
    }
}

/// [`ChannelQuant::finish`] specialised for one [`StageMode`] (`TIES`, `EXACT`): no flag
/// tests per output. `q` is a channel's five words; `left` and `right` its shifts, masked.
#[cfg_attr(
    not(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m))),
    allow(dead_code)
)]
#[inline(always)]
fn finish_as<const TIES: bool, const EXACT: bool>(
    q: &[i32; 5],
    left: u32,
    right: u32,
    acc: i32,
) -> i8 {
    let [bias, multiplier, _, _, round] = *q;
    // The stage itself is `ChannelQuant`'s; the flags are constants here, so its tests fold.
    let ties = if TIES {
        ChannelQuant::ROUND_TIES_AWAY
    } else {
        0
    };
    let exact = if EXACT { ChannelQuant::EXACT_ADD } else { 0 };
    let stage = ChannelQuant {
        bias,
        multiplier,
        lshift: left as i32 | ties | exact,
        rshift: right as i32,
        round,
    };
    stage.finish_with(bias.wrapping_add(acc), crate::arch::smmulr)
}

/// [`blocked_pairs`]'s full block on ARMv7-M: the four rows interleaved tap by tap into
/// `wide`, then each pair of channels against all four pixels in one assembly pass
/// ([`crate::arch::armv7m::block_4x2`]), its eight outputs through the layer's specialised
/// stage. `None` if a slice does not match (the entry's checks rule it out).
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
fn block_4x2<const TIES: bool, const EXACT: bool>(
    rows: [&[i8]; 4],
    wide: &mut [u32],
    w: &[i8],
    quant: &[i32],
    out: &mut [i8],
    row: usize,
    out_c: usize,
) -> Option<()> {
    // A pair of channels' weights (non-zero: `chunks_exact` panics on zero).
    let pair = 2 * row;
    if pair == 0 {
        return None;
    }
    let xt: &mut [i8] = bytemuck::cast_slice_mut(wide);
    let xt = xt.get_mut(..4 * row)?;
    let [r0, r1, r2, r3] = rows;
    let taps = r0
        .get(..row)?
        .iter()
        .zip(r1.get(..row)?)
        .zip(r2.get(..row)?.iter().zip(r3.get(..row)?));
    let (xc, _) = xt.as_chunks_mut::<4>();
    for (d, ((&a, &b), (&c, &e))) in xc.iter_mut().zip(taps) {
        *d = [a, b, c, e];
    }
    let xt = &*xt;
    let (o0, rest) = out.split_at_mut_checked(out_c)?;
    let (o1, rest) = rest.split_at_mut_checked(out_c)?;
    let (o2, o3) = rest.split_at_mut_checked(out_c)?;
    let o3 = o3.get_mut(..out_c)?;
    let (q_pairs, _) = quant.as_chunks::<10>();
    let (p0, _) = o0.as_chunks_mut::<2>();
    let (p1, _) = o1.as_chunks_mut::<2>();
    let (p2, _) = o2.as_chunks_mut::<2>();
    let (p3, _) = o3.as_chunks_mut::<2>();
    let pixels = p0.iter_mut().zip(p1).zip(p2.iter_mut().zip(p3));
    for ((q, wj), ((d0, d1), (d2, d3))) in q_pairs.iter().zip(w.chunks_exact(pair)).zip(pixels) {
        let [a0, a1, a2, a3, b0, b1, b2, b3] = crate::arch::armv7m::block_4x2(xt, wj)?;
        let (qa, qb) = (q.first_chunk::<5>()?, q.last_chunk::<5>()?);
        let (la, ra) = ((qa[2] & 31) as u32, (qa[3] & 31) as u32);
        let (lb, rb) = ((qb[2] & 31) as u32, (qb[3] & 31) as u32);
        *d0 = [
            finish_as::<TIES, EXACT>(qa, la, ra, a0),
            finish_as::<TIES, EXACT>(qb, lb, rb, b0),
        ];
        *d1 = [
            finish_as::<TIES, EXACT>(qa, la, ra, a1),
            finish_as::<TIES, EXACT>(qb, lb, rb, b1),
        ];
        *d2 = [
            finish_as::<TIES, EXACT>(qa, la, ra, a2),
            finish_as::<TIES, EXACT>(qb, lb, rb, b2),
        ];
        *d3 = [
            finish_as::<TIES, EXACT>(qa, la, ra, a3),
            finish_as::<TIES, EXACT>(qb, lb, rb, b3),
        ];
    }
    if out_c % 2 == 1 {
        let last = w.get((out_c - 1) * row..out_c * row)?;
        let q = quant
            .get((out_c - 1) * ChannelQuant::WORDS..)?
            .first_chunk::<5>()?;
        let (l, r) = ((q[2] & 31) as u32, (q[3] & 31) as u32);
        for (px, x) in rows.iter().enumerate() {
            *out.get_mut(px * out_c + out_c - 1)? =
                finish_as::<TIES, EXACT>(q, l, r, dot(x.get(..row)?, last));
        }
    }
    Some(())
}

/// Two pixels (`x[2t + px]`) against a pair of channels (`w[2t + ch]`), four taps per
/// step (`row` is a multiple of 8): accumulators `[ch * 2 + px]`, without the bias. Two pixels rather than four: four
/// pixels' eight accumulators, the two pointers, the count and three loaded values are more
/// than ARMv7-M's 12 free registers (r7 holds the frame pointer), and the spills cost more
/// than the second pass over the weights. Not inlined, so that the loop gets the registers
/// to itself.
// Bounds: `steps` is at most both slices' chunk counts; `x` and `u` hold 8 values (t < 4).
#[allow(clippy::indexing_slicing)]
#[cfg_attr(all(target_arch = "arm", feature = "dsp"), allow(dead_code))]
#[inline(never)]
fn block_2x2(x: &[i8], w: &[i8]) -> [i32; 4] {
    #[cfg(all(target_arch = "arm", ferrite_armv6m, not(feature = "dsp")))]
    if let Some(a) = crate::arch::armv6m::block_2x2(x, w) {
        return a;
    }
    let mut a = [0i32; 4];
    let steps = (x.len() / 8).min(w.len() / 8);
    let (mut xs, mut ws) = (
        &x.as_chunks::<8>().0[..steps],
        &w.as_chunks::<8>().0[..steps],
    );
    // Slice patterns over equal lengths: one pointer per stream and one count.
    while let ([x, xr @ ..], [u, wr @ ..]) = (xs, ws) {
        crate::arch::no_unroll();
        for t in 0..4 {
            let (x0, x1) = (x[2 * t] as i32, x[2 * t + 1] as i32);
            let (u0, u1) = (u[2 * t] as i32, u[2 * t + 1] as i32);
            a[0] = a[0].wrapping_add(x0.wrapping_mul(u0));
            a[1] = a[1].wrapping_add(x1.wrapping_mul(u0));
            a[2] = a[2].wrapping_add(x0.wrapping_mul(u1));
            a[3] = a[3].wrapping_add(x1.wrapping_mul(u1));
        }
        (xs, ws) = (xr, wr);
    }
    a
}

/// One pixel's taps `x` against two pairs of channels (`u`, `v`, each `[t][2]`):
/// accumulators for the four channels in order, without the bias.
// Bounds: `chunks_exact(2)` gives two values.
#[allow(clippy::indexing_slicing)]
#[cfg_attr(all(target_arch = "arm", feature = "dsp"), allow(dead_code))]
#[inline(never)]
fn pixel_2x2(x: &[i8], u: &[i8], v: &[i8]) -> [i32; 4] {
    let mut a = [0i32; 4];
    for ((&x, u), v) in x.iter().zip(u.chunks_exact(2)).zip(v.chunks_exact(2)) {
        let x = x as i32;
        a[0] = a[0].wrapping_add(x.wrapping_mul(u[0] as i32));
        a[1] = a[1].wrapping_add(x.wrapping_mul(u[1] as i32));
        a[2] = a[2].wrapping_add(x.wrapping_mul(v[0] as i32));
        a[3] = a[3].wrapping_add(x.wrapping_mul(v[1] as i32));
    }
    a
}

/// `x . w` with wrapping sums.
#[cfg_attr(all(target_arch = "arm", feature = "dsp"), allow(dead_code))]
fn dot(x: &[i8], w: &[i8]) -> i32 {
    x.iter().zip(w).fold(0i32, |acc, (&x, &w)| {
        acc.wrapping_add((x as i32).wrapping_mul(w as i32))
    })
}

/// The portable GEMM of one block (`n` pixels' int8 rows of `k4 * 4` taps against every
/// output channel): the definition the DSP assembly reproduces. `out` holds `n * out_c`
/// outputs and the weights/quant `out_c` rows (entry checks); it stops early if not.
pub fn portable_block(
    p: &ConvGemmI8,
    rows: [&[i8]; 4],
    weights: Weights<'_>,
    quant: &[i32],
    out: &mut [i8],
    n: usize,
) {
    let out_c = p.geom.out_c as usize;
    let row = p.k4 as usize * 4;
    for (c, q) in quant.chunks_exact(ChannelQuant::WORDS).enumerate() {
        let Some(q) = ChannelQuant::from_words(q) else {
            return;
        };
        for (px, x) in rows.iter().take(n).enumerate() {
            let acc = match weights {
                // Channel c of a pair: every other weight from the pair's start.
                Weights::I8Pairs(w) if c / 2 < out_c / 2 => {
                    let Some(pair) = w.get((c & !1) * row..((c & !1) + 2) * row) else {
                        return;
                    };
                    x.iter()
                        .zip(pair.iter().skip(c % 2).step_by(2))
                        .fold(q.bias, |acc, (&x, &w)| {
                            acc.wrapping_add((x as i32).wrapping_mul(w as i32))
                        })
                }
                Weights::I8(w) | Weights::I8Pairs(w) => x
                    .iter()
                    .zip(w.get(c * row..(c + 1) * row).unwrap_or_default())
                    .fold(q.bias, |acc, (&x, &w)| {
                        acc.wrapping_add((x as i32).wrapping_mul(w as i32))
                    }),
                // Words of two taps: per group of four, (t0, t2) then (t1, t3); channel c of a
                // pair has every other word from the pair's start, an odd last channel its row.
                Weights::I16(w) => {
                    let (first, word_step) = if c / 2 < out_c / 2 {
                        ((c & !1) * row + (c % 2) * 2, 2)
                    } else {
                        (c * row, 1)
                    };
                    let words = w
                        .get(first..)
                        .unwrap_or_default()
                        .chunks_exact(2)
                        .step_by(word_step)
                        .take(row / 2);
                    words.enumerate().fold(q.bias, |acc, (j, w)| {
                        // Word j holds taps 4 * (j / 2) + j % 2 and the one two further on.
                        let t = 4 * (j / 2) + j % 2;
                        let (Some(&x0), Some(&x1), &[w0, w1]) = (x.get(t), x.get(t + 2), w) else {
                            return acc;
                        };
                        acc.wrapping_add((x0 as i32).wrapping_mul(w0 as i32))
                            .wrapping_add((x1 as i32).wrapping_mul(w1 as i32))
                    })
                }
            };
            if let Some(o) = out.get_mut(px * out_c + c) {
                *o = q.finish(acc);
            }
        }
    }
}

/// A GEMM convolution's weights: int8 rows, int8 pairs of channels, or the 16-bit
/// pre-shifted interleaved layout.
#[derive(Clone, Copy)]
pub enum Weights<'a> {
    /// `[out_c][k4 * 4]` int8.
    I8(&'a [i8]),
    /// int8, pairs of channels interleaved tap by tap (see `ConvGemmI8::paired`).
    I8Pairs(&'a [i8]),
    /// `[out_c][k4 * 4]` int16, groups of four taps stored `t0, t2, t1, t3` (two words), pairs
    /// of channels interleaved word by word, an odd last channel's row after the pairs (see
    /// `ConvGemmI8::weights16`).
    I16(&'a [i16]),
}

impl<'a> Weights<'a> {
    /// The layout in use: `weights16` when it is non-empty, else `w8` (`paired` or not).
    pub fn new(w8: &'a [i8], w16: &'a [i16], paired: bool) -> Self {
        if !w16.is_empty() {
            Weights::I16(w16)
        } else if paired {
            Weights::I8Pairs(w8)
        } else {
            Weights::I8(w8)
        }
    }

    /// Number of weights.
    pub fn len(&self) -> u64 {
        match self {
            Weights::I8(w) | Weights::I8Pairs(w) => w.len() as u64,
            Weights::I16(w) => w.len() as u64,
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
