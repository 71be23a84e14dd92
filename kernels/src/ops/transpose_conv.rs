//! TRANSPOSE_CONV: transposed ("deconvolution") 2-D convolution, int8 (per-channel) and f32.
//!
//! TFLite Micro's reference kernels *scatter*: each input element adds its products to every
//! output element its filter window reaches, accumulating in an output-sized int32 scratch
//! buffer (int8) or in the output itself (f32). These functions *gather* instead — each output
//! element sums the input elements that reach it — which needs no scratch and gives the same
//! bits:
//!
//! * int8: the accumulator is a wrapping int32 sum, so the order of the terms does not matter;
//!   bias, [`multiply_by_quantized_multiplier`] and the clamp follow as in TFLM.
//! * f32: TFLM adds an output element's terms in input order `(in_y, in_x, in_c)` starting
//!   from `0.0`, then adds the bias and clamps. Walking the filter taps backwards visits the
//!   inputs in exactly that order (`in_y = (out_y + pad - k_y) / stride` grows as `k_y`
//!   shrinks), so the float rounding is identical.

use crate::ops::conv::{check_requant_i16, clamp_f32, requant_i16};
use crate::util::{check_conv_activations, check_len, check_requant, expect_op, product};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{
    ConvGeometry, Op, TransposeConv2dF32, TransposeConv2dI16, TransposeConv2dI8,
};
use ferrite_core::{Ctx, Error, Result};

/// Kernel entry for [`Op::TransposeConv2dI8`] (portable reference path).
pub fn run_transpose_conv2d_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, TransposeConv2dI8);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_transpose_shapes(layer, g, weights.len(), bias.len())?;
    check_requant(layer, g.out_c as usize, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    transpose_conv2d_i8(p, input, weights, bias, multiplier, shift, output);
    Ok(())
}

/// Kernel entry for [`Op::TransposeConv2dF32`].
pub fn run_transpose_conv2d_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, TransposeConv2dF32);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let layer = ctx.layer;
    check_transpose_shapes(layer, g, weights.len(), bias.len())?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    transpose_conv2d_f32(p, input, weights, bias, output);
    Ok(())
}

/// Validates a transposed convolution's geometry against its constants. Positions are
/// computed in `i64` from `u32` fields, so no stride or padding can overflow them; the
/// slice lengths then bound every index.
fn check_transpose_shapes(layer: u16, g: &ConvGeometry, weights: usize, bias: usize) -> Result<()> {
    let err = |reason| Err(Error::InvalidLayer { layer, reason });
    if g.stride_h == 0 || g.stride_w == 0 {
        return err("zero stride");
    }
    if g.dilation_h != 1 || g.dilation_w != 1 {
        return err("transposed convolution has no dilation");
    }
    check_len(
        layer,
        weights as u64,
        product(&[g.out_c, g.k_h, g.k_w, g.in_c]),
        "weights do not match the geometry",
    )?;
    if bias != 0 && bias != g.out_c as usize {
        return err("bias length is not the number of output channels");
    }
    Ok(())
}

/// The input row (or column) that reaches output position `out` through filter tap `k`, or
/// `None` if no input does (`out + pad - k` negative, not a multiple of the stride, or past the
/// input).
#[inline(always)]
fn source(out: usize, pad: u32, k: usize, stride: u32, size: u32) -> Option<usize> {
    let t = out as i64 + pad as i64 - k as i64;
    let s = stride as i64;
    if t < 0 || t.checked_rem(s) != Some(0) || t / s >= size as i64 {
        return None;
    }
    Some((t / s) as usize)
}

/// Reference int8 transposed convolution (TFLM `reference_integer_ops::TransposeConv`,
/// gathered; see the module docs).
///
/// Slices must match `p.geom` (the kernel entry checks); `multiplier`/`shift` hold one entry
/// per output channel and `bias` is empty or per output channel.
pub fn transpose_conv2d_i8(
    p: &TransposeConv2dI8,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    multiplier: &[i32],
    shift: &[i32],
    output: &mut [i8],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        let rq = &p.rq;
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let out_base = ((b * out_h + oy) * out_w + ox) * out_c;
                    for oc in 0..out_c {
                        let mut acc: i32 = 0;
                        for ky in 0..k_h {
                            let Some(iy) = source(oy, g.pad_top, ky, g.stride_h, g.in_h) else {
                                continue;
                            };
                            for kx in 0..k_w {
                                let Some(ix) = source(ox, g.pad_left, kx, g.stride_w, g.in_w)
                                else {
                                    continue;
                                };
                                let in_base = ((b * in_h + iy) * in_w + ix) * in_c;
                                let w_base = ((oc * k_h + ky) * k_w + kx) * in_c;
                                let x = input.get(in_base..in_base + in_c)?;
                                let w = weights.get(w_base..w_base + in_c)?;
                                for (&xv, &wv) in x.iter().zip(w) {
                                    acc = acc.wrapping_add(
                                        (xv as i32 + rq.input_offset).wrapping_mul(wv as i32),
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

/// Reference f32 transposed convolution (TFLM `reference_ops::TransposeConv`, gathered in
/// TFLM's summation order; see the module docs).
pub fn transpose_conv2d_f32(
    p: &TransposeConv2dF32,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let out_base = ((b * out_h + oy) * out_w + ox) * out_c;
                    for oc in 0..out_c {
                        let mut total = 0.0f32;
                        // Backwards over the taps = forwards over the inputs (TFLM's order).
                        for ky in (0..k_h).rev() {
                            let Some(iy) = source(oy, g.pad_top, ky, g.stride_h, g.in_h) else {
                                continue;
                            };
                            for kx in (0..k_w).rev() {
                                let Some(ix) = source(ox, g.pad_left, kx, g.stride_w, g.in_w)
                                else {
                                    continue;
                                };
                                let in_base = ((b * in_h + iy) * in_w + ix) * in_c;
                                let w_base = ((oc * k_h + ky) * k_w + kx) * in_c;
                                let x = input.get(in_base..in_base + in_c)?;
                                let w = weights.get(w_base..w_base + in_c)?;
                                for (&xv, &wv) in x.iter().zip(w) {
                                    total += xv * wv;
                                }
                            }
                        }
                        if let Some(&bv) = bias.get(oc) {
                            total += bv;
                        }
                        *output.get_mut(out_base + oc)? = clamp_f32(total, p.act_min, p.act_max);
                    }
                }
            }
        }
        Some(())
    })();
}

/// Kernel entry for [`Op::TransposeConv2dI16`] (portable reference path).
pub fn run_transpose_conv2d_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, TransposeConv2dI16);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_transpose_shapes(layer, g, weights.len(), bias.len())?;
    check_requant_i16(layer, g.out_c as usize, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    transpose_conv2d_i16(p, input, weights, bias, multiplier, shift, output);
    Ok(())
}

/// Reference 16x8 transposed convolution (TFLM's int16 `reference_integer_ops::TransposeConv`
/// with an int64 scratch, gathered; see the module docs): the int64 sum is exact, so the order
/// does not matter; then the bias, the int64 `MultiplyByQuantizedMultiplier` and the clamp.
pub fn transpose_conv2d_i16(
    p: &TransposeConv2dI16,
    input: &[i16],
    weights: &[i8],
    bias: &[i64],
    multiplier: &[i32],
    shift: &[i32],
    output: &mut [i16],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let out_base = ((b * out_h + oy) * out_w + ox) * out_c;
                    for oc in 0..out_c {
                        let mut acc: i64 = 0;
                        for ky in 0..k_h {
                            let Some(iy) = source(oy, g.pad_top, ky, g.stride_h, g.in_h) else {
                                continue;
                            };
                            for kx in 0..k_w {
                                let Some(ix) = source(ox, g.pad_left, kx, g.stride_w, g.in_w)
                                else {
                                    continue;
                                };
                                let in_base = ((b * in_h + iy) * in_w + ix) * in_c;
                                let w_base = ((oc * k_h + ky) * k_w + kx) * in_c;
                                let x = input.get(in_base..in_base + in_c)?;
                                let w = weights.get(w_base..w_base + in_c)?;
                                for (&xv, &wv) in x.iter().zip(w) {
                                    acc = acc.wrapping_add(xv as i64 * wv as i64);
                                }
                            }
                        }
                        let v = requant_i16(
                            acc,
                            bias.get(oc).copied(),
                            false,
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
    use ferrite_core::{Arena, ConstRef, DType, Layer, Model, Shape, Tensor, TensorId};

    /// 1 channel in and out, square sizes.
    fn geom(in_hw: u32, out_hw: u32, k: u32, stride: u32, pad: u32) -> ConvGeometry {
        ConvGeometry {
            batches: 1,
            in_h: in_hw,
            in_w: in_hw,
            in_c: 1,
            out_h: out_hw,
            out_w: out_hw,
            out_c: 1,
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

    const SCATTER: ConvGeometry = ConvGeometry {
        batches: 2,
        in_h: 3,
        in_w: 4,
        in_c: 2,
        out_h: 6,
        out_w: 7,
        out_c: 3,
        k_h: 3,
        k_w: 3,
        stride_h: 2,
        stride_w: 2,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_left: 0,
    };
    const IN_LEN: usize = 2 * 3 * 4 * 2;
    const W_LEN: usize = 3 * 3 * 3 * 2;
    const OUT_LEN: usize = 2 * 6 * 7 * 3;

    /// TFLM's scatter loop for [`SCATTER`], written out literally, for comparison.
    fn scatter_f32(input: &[f32], weights: &[f32], bias: &[f32]) -> [f32; OUT_LEN] {
        let g = SCATTER;
        let (ih, iw, ic_n) = (g.in_h as i64, g.in_w as i64, g.in_c as i64);
        let (oh, ow, oc_n) = (g.out_h as i64, g.out_w as i64, g.out_c as i64);
        let (kh, kw, s) = (g.k_h as i64, g.k_w as i64, g.stride_h as i64);
        let (pt, pl) = (g.pad_top as i64, g.pad_left as i64);
        let mut out = [0.0f32; OUT_LEN];
        for b in 0..g.batches as i64 {
            for iy in 0..ih {
                for ix in 0..iw {
                    for ic in 0..ic_n {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                for oc in 0..oc_n {
                                    let (oy, ox) = (iy * s - pt + ky, ix * s - pl + kx);
                                    if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
                                        continue;
                                    }
                                    let x = input[(((b * ih + iy) * iw + ix) * ic_n + ic) as usize];
                                    let w =
                                        weights[(((oc * kh + ky) * kw + kx) * ic_n + ic) as usize];
                                    out[(((b * oh + oy) * ow + ox) * oc_n + oc) as usize] += x * w;
                                }
                            }
                        }
                    }
                }
            }
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o += bias[i % oc_n as usize];
        }
        out
    }

    #[test]
    fn f32_gather_is_bitwise_the_tflm_scatter() {
        // Odd-looking values so that the rounding depends on the summation order.
        let input: [f32; IN_LEN] = core::array::from_fn(|i| ((i * 7919) % 101) as f32 / 7.3 - 6.1);
        let weights: [f32; W_LEN] =
            core::array::from_fn(|i| ((i * 104_729) % 97) as f32 / 13.7 - 3.3);
        let bias = [0.1f32, -1e-3, 3.7];
        let p = TransposeConv2dF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom: SCATTER,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let mut out = [0.0f32; OUT_LEN];
        transpose_conv2d_f32(&p, &input, &weights, &bias, &mut out);
        let expected = scatter_f32(&input, &weights, &bias);
        for (a, b) in out.iter().zip(&expected) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    fn i8_op(
        g: ConvGeometry,
        input_offset: i32,
        output_offset: i32,
        act_max: i32,
    ) -> TransposeConv2dI8 {
        TransposeConv2dI8 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            rq: Requant {
                multiplier: ConstRef::EMPTY,
                shift: ConstRef::EMPTY,
                input_offset,
                output_offset,
                act_min: -128,
                act_max,
            },
        }
    }

    #[test]
    fn int8_stride2_places_each_input_under_its_filter() {
        // 2x2 input, 2x2 filter [1, 2; 3, 4], stride 2, no padding: every input paints the
        // filter, scaled by (x + 1), into its own 2x2 block; + bias 10, - 3, clamped at 20.
        let p = i8_op(geom(2, 4, 2, 2, 0), 1, -3, 20);
        let mut out = [0i8; 16];
        let (w, b, m, s) = ([1i8, 2, 3, 4], [10], [1 << 30], [1]);
        transpose_conv2d_i8(&p, &[0, 1, 2, 3], &w, &b, &m, &s, &mut out);
        #[rustfmt::skip]
        let expected = [
            8, 9, 9, 11,
            10, 11, 13, 15,
            10, 13, 11, 15,
            16, 19, 19, 20,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn int8_same_padding_counts_the_inputs_reaching_each_output() {
        // 2x2 input of 1s into a 4x4 output, 3x3 filter of 1s, stride 2, pad 0 (TFLM's SAME
        // for a 4 -> 2 forward conv with 3 taps: total padding 1, none before).
        let p = i8_op(geom(2, 4, 3, 2, 0), 0, 0, 127);
        let mut out = [0i8; 16];
        transpose_conv2d_i8(&p, &[1; 4], &[1; 9], &[], &[1 << 30], &[1], &mut out);
        #[rustfmt::skip]
        let expected = [
            1, 1, 2, 1,
            1, 1, 2, 1,
            2, 2, 4, 2,
            1, 1, 2, 1,
        ];
        assert_eq!(out, expected);
    }

    /// TRANSPOSE_CONV f32 from tensor 0 ([1,2,2,1]) to tensor 1 ([1,4,4,1]) with 2x2 weights
    /// `[1, -2; 3, 0.5]` (the first `w_len` of them), bias -1 and a fused RELU.
    fn run_model(w_len: u32, stride_w: u32) -> ferrite_core::Result<[f32; 16]> {
        let tensor = |offset, dims: &[u32]| Tensor {
            offset,
            dtype: DType::F32,
            shape: Shape::new(dims),
            scale: 0.0,
            zero_point: 0,
        };
        let tensors = [tensor(0, &[1, 2, 2, 1]), tensor(16, &[1, 4, 4, 1])];
        let mut g = geom(2, 4, 2, 2, 0);
        g.stride_w = stride_w;
        let layers = [Layer {
            op: Op::TransposeConv2dF32(TransposeConv2dF32 {
                input: TensorId(0),
                output: TensorId(1),
                geom: g,
                weights: ConstRef::new(0, w_len),
                bias: ConstRef::new(16, 1),
                act_min: 0.0,
                act_max: f32::MAX,
            }),
            kernel: run_transpose_conv2d_f32,
            name: "TRANSPOSE_CONV",
        }];
        let mut consts = Arena::<32>::new();
        for (i, v) in [1.0f32, -2.0, 3.0, 0.5, -1.0].iter().enumerate() {
            consts.as_mut_slice()[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: consts.as_mut_slice(),
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 80,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<80>::new();
        model.set_input(arena.as_mut_slice(), 0, &[1.0f32, 2.0, 0.0, -1.0])?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[f32] = model.output(arena.as_mut_slice(), 0)?;
        let mut result = [0f32; 16];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn kernel_entry_runs_in_a_model() {
        // Each input x paints x * [1, -2; 3, 0.5] - 1, then RELU.
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 1.0, 0.0,
            2.0, 0.0, 5.0, 0.0,
            0.0, 0.0, 0.0, 1.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(run_model(4, 2).unwrap(), expected);
        assert_eq!(
            run_model(3, 2).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "weights do not match the geometry"
            }
        );
        assert_eq!(
            run_model(4, 0).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "zero stride"
            }
        );
    }
}
