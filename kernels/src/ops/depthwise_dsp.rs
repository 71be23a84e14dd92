//! DEPTHWISE_CONV_2D with DSP-friendly weights ([`Op::DepthwiseDspI8`]): depth multiplier 1,
//! channels in groups of four.
//!
//! The input offset is folded into the bias, so padding taps read the input zero point (their
//! contribution `w * (zp + input_offset)` is 0, as TFLite Micro's skipped taps). Weights are
//! 16-bit, four channels per tap in the order `c, c+2, c+1, c+3`: `SXTB16` splits four input
//! bytes into exactly those two pairs, and two 16x16 multiply-accumulates per pair consume
//! them. Interior pixels run in assembly on a Cortex-M with the DSP extension; border pixels
//! and other targets run the portable code, which is the definition.

use crate::util::{check_conv_activations, check_conv_reach, expect_op, product};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{output_stage, ConvGeometry, DepthwiseDspI8, Op};
use ferrite_core::{Ctx, Error, Result};

/// Most filter taps the kernel handles (7x7).
pub const MAX_TAPS: usize = 49;

/// Kernel entry for [`Op::DepthwiseDspI8`].
pub fn run_depthwise_dsp_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseDspI8);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let params = ctx.consts(p.params)?;
    check_conv_reach(layer, g)?;
    let taps = product(&[g.k_h, g.k_w]);
    if g.in_c != g.out_c || g.in_c % 4 != 0 || taps as usize > MAX_TAPS {
        return Err(err(
            "needs in_c == out_c, a multiple of 4, and at most 49 taps",
        ));
    }
    if weights.len() as u64 != taps * g.out_c as u64 || params.len() != 4 * g.out_c as usize {
        return Err(err("weights or output stage do not match the geometry"));
    }
    // Per group: four biases, then (multiplier, rshift, round) per channel.
    let bad_shift = |q: &[i32]| {
        [5, 8, 11, 14]
            .iter()
            .any(|&i| q.get(i).is_none_or(|r| !(0..=31).contains(r)))
    };
    if params.chunks_exact(16).any(bad_shift) {
        return Err(err("requantization shift out of range"));
    }
    if (p.scratch_bytes as u64) < taps * g.in_c as u64 {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    depthwise_dsp_i8(
        p,
        input,
        weights,
        params,
        output,
        bytemuck::cast_slice_mut(scratch),
    );
    Ok(())
}

/// The depthwise convolution. Slices must match `p` (the kernel entry checks); `patch` holds
/// `k_h * k_w * in_c` bytes.
// Bounds: `run_depthwise_dsp_i8` checked input `batches*in_h*in_w*c`, output
// `batches*out_h*out_w*c`, weights `taps*c`, params `4*c`, patch `taps*c` and the geometry's
// reach; `o + n*c` stays in the output row, interior windows (`lo..hi`, rows with
// `y_inside`) start inside the input, and patch rows are `k_w*c` bytes.
#[allow(clippy::indexing_slicing)]
pub fn depthwise_dsp_i8(
    p: &DepthwiseDspI8,
    input: &[i8],
    weights: &[i16],
    params: &[i32],
    output: &mut [i8],
    patch: &mut [i8],
) {
    let g = &p.geom;
    let c = g.in_c as usize;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let zp = p.input_zero_point as i8;
    for b in 0..g.batches as usize {
        for oy in 0..g.out_h {
            let y0 = (oy * g.stride_h) as i64 - g.pad_top as i64;
            let y_inside = y0 >= 0 && y0 + (((g.k_h - 1) * g.dilation_h) as i64) < (g.in_h as i64);
            let (lo, hi) = if y_inside {
                interior_columns(g)
            } else {
                (g.out_w, g.out_w)
            };
            let row_out = (b * out_h + oy as usize) * out_w;
            // Border pixels: gather their taps, padding with the input zero point.
            for ox in (0..lo).chain(hi.max(lo)..g.out_w) {
                let o = (row_out + ox as usize) * c;
                gather(g, input, b, oy, ox, zp, patch);
                let geometry = Window {
                    row_stride: g.k_w as usize * c,
                    tap_stride: c,
                    pixel_step: 0,
                };
                pixels(
                    p,
                    patch,
                    &geometry,
                    1,
                    weights,
                    params,
                    &mut output[o..o + c],
                );
            }
            // The interior run reads the input directly.
            if lo < hi {
                let iy = y0 as usize;
                let ix = (lo * g.stride_w - g.pad_left) as usize;
                let first = ((b * in_h + iy) * in_w + ix) * c;
                let geometry = Window {
                    row_stride: in_w * c * g.dilation_h as usize,
                    tap_stride: c * g.dilation_w as usize,
                    pixel_step: g.stride_w as usize * c,
                };
                let o = (row_out + lo as usize) * c;
                let n = (hi - lo) as usize;
                pixels(
                    p,
                    &input[first..],
                    &geometry,
                    n,
                    weights,
                    params,
                    &mut output[o..o + n * c],
                );
            }
        }
    }
}

/// Where a pixel's taps are: bytes between window rows, between taps in a row, and from one
/// output pixel's window to the next's.
struct Window {
    row_stride: usize,
    tap_stride: usize,
    pixel_step: usize,
}

/// The taps of output pixel `(oy, ox)`, `[k_h][k_w][c]`, padding taps filled with `zp`.
// Bounds: `tap` returns only rows/columns inside the input, a contiguous window row is taken
// only when `x0..x0 + k_w` is inside, and the patch holds `k_h * k_w * c` bytes.
#[allow(clippy::indexing_slicing)]
fn gather(g: &ConvGeometry, input: &[i8], b: usize, oy: u32, ox: u32, zp: i8, patch: &mut [i8]) {
    let c = g.in_c as usize;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let span = g.k_w as usize * c;
    let x0 = (ox * g.stride_w) as i64 - g.pad_left as i64;
    // With dilation 1, a window row inside the input is one contiguous run of bytes.
    let row_inside = g.dilation_w == 1 && x0 >= 0 && x0 + g.k_w as i64 <= in_w as i64;
    for ky in 0..g.k_h {
        let dst = &mut patch[ky as usize * span..(ky as usize + 1) * span];
        let Some(iy) = crate::ops::conv::tap(oy, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h)
        else {
            dst.fill(zp);
            continue;
        };
        if row_inside {
            let base = ((b * in_h + iy) * in_w + x0 as usize) * c;
            dst.copy_from_slice(&input[base..base + span]);
            continue;
        }
        for (kx, d) in dst.chunks_exact_mut(c).enumerate() {
            match crate::ops::conv::tap(ox, g.stride_w, g.pad_left, kx as u32, g.dilation_w, g.in_w)
            {
                Some(ix) => {
                    let base = ((b * in_h + iy) * in_w + ix) * c;
                    d.copy_from_slice(&input[base..base + c]);
                }
                None => d.fill(zp),
            }
        }
    }
}

/// The output columns `lo..hi` whose windows lie inside the input horizontally.
fn interior_columns(g: &ConvGeometry) -> (u32, u32) {
    let reach = ((g.k_w - 1) * g.dilation_w) as i64;
    // First ox with ox * stride - pad >= 0; last with ox * stride - pad + reach < in_w.
    let lo = (g.pad_left as u64).div_ceil(g.stride_w as u64) as i64;
    let hi = ((g.in_w as i64 - 1 - reach + g.pad_left as i64).div_euclid(g.stride_w as i64) + 1)
        .clamp(0, g.out_w as i64);
    let lo = lo.min(hi);
    (lo as u32, hi as u32)
}

/// `n` output pixels whose windows start at `input[0]`, `input[pixel_step]`, ...
// Bounds: the caller passes `n` windows inside `input` (see `depthwise_dsp_i8`), weights of
// `taps * c` values, params of `4 * c` words and `n * c` outputs, with `c` a multiple of 4.
#[allow(clippy::indexing_slicing)]
fn pixels(
    p: &DepthwiseDspI8,
    input: &[i8],
    w: &Window,
    n: usize,
    weights: &[i16],
    params: &[i32],
    out: &mut [i8],
) {
    let g = &p.geom;
    let c = g.in_c as usize;
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    {
        use crate::arch::cortex_m_dsp::depthwise as dsp;
        if g.k_h == 3 && g.k_w == 3 && w.tap_stride == c {
            let args = dsp::Row3x3Args {
                input: input.as_ptr(),
                row_stride: w.row_stride,
                pixel_step: w.pixel_step,
                channels: c,
                weights: weights.as_ptr(),
                params: params.as_ptr(),
                params_end: params.as_ptr_range().end,
                out: out.as_mut_ptr(),
                pixels: n,
            };
            // SAFETY: the caller passes windows that lie inside `input` (interior pixels of the
            // input tensor, or the gathered patch) for all `n` pixels; `weights` holds 9 x c
            // values and `params` 4 x c words with shifts in range (checked by the entry);
            // `out` holds n x c bytes; c is a non-zero multiple of 4 (checked by the entry).
            unsafe { dsp::row3x3_relu(&args) };
            return;
        }
    }
    let taps = (g.k_h * g.k_w) as usize;
    for i in 0..n {
        let base = i * w.pixel_step;
        let dst = &mut out[i * c..(i + 1) * c];
        for ch in (0..c).step_by(4) {
            let mut acc = [0i32; 4];
            for t in 0..taps {
                let (ky, kx) = (t / g.k_w as usize, t % g.k_w as usize);
                let x = &input[base + ky * w.row_stride + kx * w.tap_stride + ch..][..4];
                // Weights of channels ch..ch+4 at tap t, in c, c+2, c+1, c+3 order.
                let wt = &weights[(ch / 4 * taps + t) * 4..][..4];
                acc[0] = acc[0].wrapping_add((x[0] as i32).wrapping_mul(wt[0] as i32));
                acc[2] = acc[2].wrapping_add((x[2] as i32).wrapping_mul(wt[1] as i32));
                acc[1] = acc[1].wrapping_add((x[1] as i32).wrapping_mul(wt[2] as i32));
                acc[3] = acc[3].wrapping_add((x[3] as i32).wrapping_mul(wt[3] as i32));
            }
            let q = &params[ch * 4..ch * 4 + 16];
            for k in 0..4 {
                let (m, r, round) = (q[4 + 3 * k], q[5 + 3 * k], q[6 + 3 * k]);
                dst[ch + k] = output_stage(q[k].wrapping_add(acc[k]), m, r, round);
            }
        }
    }
}
