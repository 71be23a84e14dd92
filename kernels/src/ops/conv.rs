//! CONV_2D: dense and grouped 2-D convolution, int8 (per-channel) and f32.
//!
//! The reference functions are the definition: they follow TFLite Micro's reference kernels
//! loop for loop, skipping padded taps (they contribute nothing) and requantizing each
//! accumulator with [`multiply_by_quantized_multiplier`].

use crate::util::{
    check_conv_activations, check_conv_reach, check_len, check_requant, expect_op, product,
};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Conv2dF32, Conv2dI16, Conv2dI8, ConvGeometry, Op};
use ferrite_core::{Ctx, Error, Result};

/// Kernel entry for [`Op::Conv2dI8`] (portable reference path).
pub fn run_conv2d_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Conv2dI8);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_conv_shapes(layer, g, p.groups, weights.len(), bias.len())?;
    check_requant(layer, g.out_c as usize, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    conv2d_i8(p, input, weights, bias, multiplier, shift, output);
    Ok(())
}

/// Kernel entry for [`Op::Conv2dI8Packed`] (portable): the reference on the unpacked
/// convolution, ignoring the packed constants (which only the SIMD paths read).
pub fn run_conv2d_i8_packed(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    crate::util::forward_static!(ctx, op, Conv2dI8Packed);
    let p = expect_op!(ctx, op, Conv2dI8Packed);
    run_conv2d_i8(ctx, &Op::Conv2dI8(p.conv))
}

/// Kernel entry for [`Op::Conv2dF32Packed`] (portable): the reference on the unpacked
/// convolution, ignoring the packed weights (which only the SIMD paths read).
pub fn run_conv2d_f32_packed(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    crate::util::forward_static!(ctx, op, Conv2dF32Packed);
    let p = expect_op!(ctx, op, Conv2dF32Packed);
    run_conv2d_f32(ctx, &Op::Conv2dF32(p.conv))
}

/// Kernel entry for [`Op::Conv2dF32`].
pub fn run_conv2d_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Conv2dF32);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let layer = ctx.layer;
    check_conv_shapes(layer, g, p.groups, weights.len(), bias.len())?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    conv2d_f32(p, input, weights, bias, output);
    Ok(())
}

/// Validates a convolution's geometry against its constants, so the loops can neither index
/// out of bounds nor overflow computing tap positions.
pub(crate) fn check_conv_shapes(
    layer: u16,
    g: &ConvGeometry,
    groups: u32,
    weights: usize,
    bias: usize,
) -> Result<()> {
    let err = |reason| Err(Error::InvalidLayer { layer, reason });
    if groups == 0 || !g.in_c.is_multiple_of(groups) || !g.out_c.is_multiple_of(groups) {
        return err("groups must divide input and output channels");
    }
    check_conv_reach(layer, g)?;
    let per_filter = product(&[g.k_h, g.k_w, g.in_c / groups]);
    check_len(
        layer,
        weights as u64,
        per_filter.saturating_mul(g.out_c as u64),
        "weights do not match the geometry",
    )?;
    if bias != 0 && bias != g.out_c as usize {
        return err("bias length is not the number of output channels");
    }
    Ok(())
}

/// The input row (or column) an output position reads for filter tap `k`, or `None` in the
/// padding.
#[inline(always)]
pub(crate) fn tap(
    out: u32,
    stride: u32,
    pad: u32,
    k: u32,
    dilation: u32,
    size: u32,
) -> Option<usize> {
    let pos = (out * stride + k * dilation) as i64 - pad as i64;
    (pos >= 0 && pos < size as i64).then_some(pos as usize)
}

/// Reference int8 convolution (TFLM `reference_integer_ops::ConvPerChannel`).
///
/// Slices must match `p.geom` (the kernel entry checks); `multiplier`/`shift` hold one entry
/// per output channel and `bias` is empty or per output channel.
// Bounds: with the slices `run_conv2d_*` checks (input `batches*in_h*in_w*in_c`, output
// `batches*out_h*out_w*out_c`, weights `out_c*k_h*k_w*(in_c/groups)`, one multiplier and
// shift per output channel, `groups` dividing both channel counts), `tap` keeps `iy < in_h`
// and `ix < in_w`, `group < groups` and `oc < out_c`, so every range below ends at most at its
// slice's length.
pub fn conv2d_i8(
    p: &Conv2dI8,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    multiplier: &[i32],
    shift: &[i32],
    output: &mut [i8],
) {
    // Every slice and index is checked (a failed one stops the loops: past the entry's
    // checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
        let filter_in_c = in_c.checked_div(p.groups as usize)?;
        let out_c_per_group = out_c.checked_div(p.groups as usize)?;
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        let rq = &p.rq;
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let out_base = ((b * out_h + oy) * out_w + ox) * out_c;
                    for oc in 0..out_c {
                        let group = oc.checked_div(out_c_per_group)?;
                        let mut acc: i32 = 0;
                        for ky in 0..k_h {
                            let Some(iy) = tap(
                                oy as u32,
                                g.stride_h,
                                g.pad_top,
                                ky as u32,
                                g.dilation_h,
                                g.in_h,
                            ) else {
                                continue;
                            };
                            for kx in 0..k_w {
                                let Some(ix) = tap(
                                    ox as u32,
                                    g.stride_w,
                                    g.pad_left,
                                    kx as u32,
                                    g.dilation_w,
                                    g.in_w,
                                ) else {
                                    continue;
                                };
                                let in_base =
                                    ((b * in_h + iy) * in_w + ix) * in_c + group * filter_in_c;
                                let w_base = ((oc * k_h + ky) * k_w + kx) * filter_in_c;
                                let x = input.get(in_base..in_base + filter_in_c)?;
                                let w = weights.get(w_base..w_base + filter_in_c)?;
                                for (&xv, &wv) in x.iter().zip(w) {
                                    acc = acc.wrapping_add(
                                        (wv as i32).wrapping_mul(xv as i32 + rq.input_offset),
                                    );
                                }
                            }
                        }
                        if let Some(&bv) = bias.get(oc) {
                            acc = acc.wrapping_add(bv);
                        }
                        let v = multiply_by_quantized_multiplier(
                            acc,
                            *multiplier.get(oc)?,
                            *shift.get(oc)?,
                        )
                        .saturating_add(rq.output_offset);
                        *output.get_mut(out_base + oc)? = v.max(rq.act_min).min(rq.act_max) as i8;
                    }
                }
            }
        }
        Some(())
    })();
}

/// Reference f32 convolution (TFLM `reference_ops::Conv`): sums taps in (ky, kx, ic)
/// order, then adds the bias and clamps.
// Bounds: with the slices `run_conv2d_*` checks (input `batches*in_h*in_w*in_c`, output
// `batches*out_h*out_w*out_c`, weights `out_c*k_h*k_w*(in_c/groups)`, one multiplier and
// shift per output channel, `groups` dividing both channel counts), `tap` keeps `iy < in_h`
// and `ix < in_w`, `group < groups` and `oc < out_c`, so every range below ends at most at its
// slice's length.
pub fn conv2d_f32(p: &Conv2dF32, input: &[f32], weights: &[f32], bias: &[f32], output: &mut [f32]) {
    // Every slice and index is checked (a failed one stops the loops: past the entry's
    // checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
        let filter_in_c = in_c.checked_div(p.groups as usize)?;
        let out_c_per_group = out_c.checked_div(p.groups as usize)?;
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let out_base = ((b * out_h + oy) * out_w + ox) * out_c;
                    for oc in 0..out_c {
                        let group = oc.checked_div(out_c_per_group)?;
                        let mut total = 0.0f32;
                        for ky in 0..k_h {
                            let Some(iy) = tap(
                                oy as u32,
                                g.stride_h,
                                g.pad_top,
                                ky as u32,
                                g.dilation_h,
                                g.in_h,
                            ) else {
                                continue;
                            };
                            for kx in 0..k_w {
                                let Some(ix) = tap(
                                    ox as u32,
                                    g.stride_w,
                                    g.pad_left,
                                    kx as u32,
                                    g.dilation_w,
                                    g.in_w,
                                ) else {
                                    continue;
                                };
                                let in_base =
                                    ((b * in_h + iy) * in_w + ix) * in_c + group * filter_in_c;
                                let w_base = ((oc * k_h + ky) * k_w + kx) * filter_in_c;
                                let x = input.get(in_base..in_base + filter_in_c)?;
                                let w = weights.get(w_base..w_base + filter_in_c)?;
                                for (&xv, &wv) in x.iter().zip(w) {
                                    total += xv * wv;
                                }
                            }
                        }
                        let bias_value = bias.get(oc).copied().unwrap_or(0.0);
                        *output.get_mut(out_base + oc)? =
                            clamp_f32(total + bias_value, p.act_min, p.act_max);
                    }
                }
            }
        }
        Some(())
    })();
}

/// TFLite's `ActivationFunctionWithMinMax`: `min(max(x, lo), hi)`.
#[inline(always)]
pub fn clamp_f32(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// TFLM's `MultiplyByQuantizedMultiplier` for an int64 accumulator (the 16x8 kernels), in its
/// default double-rounding build: the Q0.31 multiplier is first rounded to 16 bits (saturating
/// at `0x7FFF`), then `x * reduced` is shifted right by `15 - shift` with one rounding (half
/// up). The result is truncated to 32 bits as TFLM's cast does.
///
/// `shift` must lie in `-31..=7` (TFLM checks `shift < 8`); the kernel entries check it.
#[inline(always)]
pub fn multiply_by_quantized_multiplier_i64(x: i64, multiplier: i32, shift: i32) -> i32 {
    let reduced: i64 = if multiplier < 0x7FFF_0000 {
        (multiplier as i64 + (1 << 15)) >> 16
    } else {
        0x7FFF
    };
    // Clamped only so that a bad shift cannot make the shifts below panic; the entries
    // reject such shifts before any kernel runs.
    let total_shift = (15 - shift).clamp(1, 62) as u32;
    let round = 1i64 << (total_shift - 1);
    (x.wrapping_mul(reduced).wrapping_add(round) >> total_shift) as i32
}

/// The requantization of one 16x8 accumulator: `sum` is the exact sum of the products, `bias`
/// the (widened) bias if any. With `acc32` it follows TFLM's int32-accumulator path: the sum
/// and bias wrap to 32 bits and the int32 `MultiplyByQuantizedMultiplier` (two roundings)
/// applies; otherwise the int64 one. The caller clamps.
#[inline(always)]
pub(crate) fn requant_i16(
    sum: i64,
    bias: Option<i64>,
    acc32: bool,
    multiplier: i32,
    shift: i32,
) -> i32 {
    if acc32 {
        // The exact sum truncated to 32 bits is TFLM's wrapping int32 sum.
        let acc = (sum as i32).wrapping_add(bias.unwrap_or(0) as i32);
        multiply_by_quantized_multiplier(acc, multiplier, shift)
    } else {
        multiply_by_quantized_multiplier_i64(sum.wrapping_add(bias.unwrap_or(0)), multiplier, shift)
    }
}

/// Checks a 16x8 layer's per-channel requantization: one multiplier and shift per output
/// channel, multipliers non-negative and shifts within TFLM's int64 range (`-31..=7`).
pub(crate) fn check_requant_i16(
    layer: u16,
    channels: usize,
    multiplier: &[i32],
    shift: &[i32],
) -> Result<()> {
    check_requant(layer, channels, multiplier, shift)?;
    if shift.iter().any(|s| !(-31..=7).contains(s)) || multiplier.iter().any(|&m| m < 0) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "16x8 requantization multiplier or shift out of range",
        });
    }
    Ok(())
}

/// Kernel entry for [`Op::Conv2dI16`] (portable reference path).
pub fn run_conv2d_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_conv2d_i16_with(ctx, op, conv2d_i16)
}

/// The signature of the 16x8 convolution kernels ([`conv2d_i16`] and the fast paths).
pub(crate) type Conv2dI16Kernel = fn(&Conv2dI16, &[i16], &[i8], &[i64], &[i32], &[i32], &mut [i16]);

/// Checks a [`Op::Conv2dI16`] layer's constants and activations, then runs `kernel` on them:
/// the fast paths share the reference entry's checks.
pub(crate) fn run_conv2d_i16_with(
    ctx: &mut Ctx<'_>,
    op: &Op,
    kernel: Conv2dI16Kernel,
) -> Result<()> {
    let p = expect_op!(ctx, op, Conv2dI16);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_conv_shapes(layer, g, p.groups, weights.len(), bias.len())?;
    check_requant_i16(layer, g.out_c as usize, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    kernel(p, input, weights, bias, multiplier, shift, output);
    Ok(())
}

/// Reference 16x8 convolution (TFLM's int16 `reference_integer_ops::ConvPerChannel`): no input
/// or output offsets, products summed exactly, then [`requant_i16`] and the clamp.
///
/// Slices must match `p.geom` as for [`conv2d_i8`] (the kernel entry checks).
pub fn conv2d_i16(
    p: &Conv2dI16,
    input: &[i16],
    weights: &[i8],
    bias: &[i64],
    multiplier: &[i32],
    shift: &[i32],
    output: &mut [i16],
) {
    // Every slice and index is checked (a failed one stops the loops: past the entry's
    // checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
        let filter_in_c = in_c.checked_div(p.groups as usize)?;
        let out_c_per_group = out_c.checked_div(p.groups as usize)?;
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let out_base = ((b * out_h + oy) * out_w + ox) * out_c;
                    for oc in 0..out_c {
                        let group = oc.checked_div(out_c_per_group)?;
                        // |w * x| < 2^22, so an i64 sum is exact for any layer that fits memory.
                        let mut sum: i64 = 0;
                        for ky in 0..k_h {
                            let Some(iy) = tap(
                                oy as u32,
                                g.stride_h,
                                g.pad_top,
                                ky as u32,
                                g.dilation_h,
                                g.in_h,
                            ) else {
                                continue;
                            };
                            for kx in 0..k_w {
                                let Some(ix) = tap(
                                    ox as u32,
                                    g.stride_w,
                                    g.pad_left,
                                    kx as u32,
                                    g.dilation_w,
                                    g.in_w,
                                ) else {
                                    continue;
                                };
                                let in_base =
                                    ((b * in_h + iy) * in_w + ix) * in_c + group * filter_in_c;
                                let w_base = ((oc * k_h + ky) * k_w + kx) * filter_in_c;
                                let x = input.get(in_base..in_base + filter_in_c)?;
                                let w = weights.get(w_base..w_base + filter_in_c)?;
                                for (&xv, &wv) in x.iter().zip(w) {
                                    sum = sum.wrapping_add(xv as i64 * wv as i64);
                                }
                            }
                        }
                        let v = requant_i16(
                            sum,
                            bias.get(oc).copied(),
                            p.acc32,
                            *multiplier.get(oc)?,
                            *shift.get(oc)?,
                        );
                        *output.get_mut(out_base + oc)? =
                            v.max(p.rq.act_min).min(p.rq.act_max) as i16;
                    }
                }
            }
        }
        Some(())
    })();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::Requant;
    use ferrite_core::{ConstRef, TensorId};

    fn geom(
        in_hw: u32,
        in_c: u32,
        out_hw: u32,
        out_c: u32,
        k: u32,
        stride: u32,
        pad: u32,
    ) -> ConvGeometry {
        ConvGeometry {
            batches: 1,
            in_h: in_hw,
            in_w: in_hw,
            in_c,
            out_h: out_hw,
            out_w: out_hw,
            out_c,
            k_h: k,
            k_w: k,
            stride_h: stride,
            stride_w: stride,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pad,
            pad_left: pad,
        }
    }

    #[test]
    fn int8_conv_of_ones_counts_taps_inside_the_image() {
        // 3x3 input of value 1 (zero point 0), 3x3 filter of 1s, SAME padding, multiplier 1.0.
        let p = Conv2dI8 {
            input: TensorId(0),
            output: TensorId(1),
            geom: geom(3, 1, 3, 1, 3, 1, 1),
            groups: 1,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            rq: Requant {
                multiplier: ConstRef::EMPTY,
                shift: ConstRef::EMPTY,
                input_offset: 0,
                output_offset: 0,
                act_min: -128,
                act_max: 127,
            },
        };
        let mut out = [0i8; 9];
        conv2d_i8(&p, &[1; 9], &[1; 9], &[], &[1 << 30], &[1], &mut out);
        assert_eq!(out, [4, 6, 4, 6, 9, 6, 4, 6, 4]);
    }

    #[test]
    fn int8_conv_applies_offsets_bias_and_clamp() {
        // 1x1 conv, 2 input channels, 2 groups → channel-wise scaling.
        let p = Conv2dI8 {
            input: TensorId(0),
            output: TensorId(1),
            geom: geom(1, 2, 1, 2, 1, 1, 0),
            groups: 2,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            rq: Requant {
                multiplier: ConstRef::EMPTY,
                shift: ConstRef::EMPTY,
                input_offset: 3,
                output_offset: -5,
                act_min: -10,
                act_max: 100,
            },
        };
        let mut out = [0i8; 2];
        // ch0: (7 + 3) * 2 + 1 = 21, * 0.5 = 10.5 -> 11 (ties away), -5 = 6
        // ch1: (-100 + 3) * 1 + 0 = -97, * 0.5 = -48.5 -> -48 (negative ties round toward
        // zero in gemmlowp's high multiply), -5 = -53 -> clamp -10
        conv2d_i8(
            &p,
            &[7, -100],
            &[2, 1],
            &[1, 0],
            &[1 << 30, 1 << 30],
            &[0, 0],
            &mut out,
        );
        assert_eq!(out, [6, -10]);
    }

    #[test]
    fn f32_conv_with_stride_and_dilation() {
        let mut g = geom(5, 1, 2, 1, 2, 3, 0);
        g.dilation_h = 2;
        g.dilation_w = 2;
        let p = Conv2dF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            groups: 1,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let input: [f32; 25] = core::array::from_fn(|i| i as f32);
        let mut out = [0f32; 4];
        conv2d_f32(&p, &input, &[1.0, 10.0, 100.0, 1000.0], &[0.5], &mut out);
        // out(0,0): taps (0,0),(0,2),(2,0),(2,2) = 0, 2, 10, 12
        assert_eq!(out[0], 0.0 + 20.0 + 1000.0 + 12000.0 + 0.5);
        // out(1,1): taps (3,3),(3,5)->outside... stride 3: origin 3 → rows 3,5(outside)
        assert_eq!(out[3], 18.0 + 0.5);
    }
}

#[cfg(test)]
#[path = "conv16_tests.rs"]
mod tests_16x8;
