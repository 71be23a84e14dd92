//! MAX_POOL_2D and AVERAGE_POOL_2D, int8, int16 (16x8) and f32.
//!
//! The reference functions follow TFLite Micro's `reference_integer_ops::{MaxPool,
//! AveragePool}` and `reference_ops::{MaxPool, AveragePool}`: each window is clipped to the
//! image, so padding contributes nothing and an average divides by the number of taps inside
//! the image, not by the window size. Int8 averages round half away from zero through
//! `(sum ± count / 2) / count` with truncating division. TFLM instantiates the same integer
//! templates for int16, so [`pool_i16`] is the int8 arithmetic over wider elements.

use crate::ops::conv::clamp_f32;
use crate::util::{check_len, expect_op, likely};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, PoolF32, PoolGeometry, PoolI8, PoolKind};
use ferrite_core::{Ctx, Result};

/// Kernel entry for [`Op::PoolI8`] (portable reference path).
pub fn run_pool_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    crate::util::forward_static!(ctx, op, PoolI8);
    let p = expect_op!(ctx, op, PoolI8);
    let layer = ctx.layer;
    check_pool_geometry(ctx, &p.geom)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_activations(layer, &p.geom, input.len(), output.len())?;
    if !pool_i8(p, input, output) {
        return Err(empty_window(layer));
    }
    Ok(())
}

/// Kernel entry for [`Op::PoolI16`].
pub fn run_pool_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, PoolI16);
    let layer = ctx.layer;
    check_pool_geometry(ctx, &p.geom)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_activations(layer, &p.geom, input.len(), output.len())?;
    if !pool_i16(p, input, output) {
        return Err(empty_window(layer));
    }
    Ok(())
}

/// Kernel entry for [`Op::PoolF32`].
pub fn run_pool_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, PoolF32);
    let layer = ctx.layer;
    check_pool_geometry(ctx, &p.geom)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_activations(layer, &p.geom, input.len(), output.len())?;
    if !pool_f32(p, input, output) {
        return Err(empty_window(layer));
    }
    Ok(())
}

/// The error for an average window with no tap inside the image. TFLM's `AveragePool` returns
/// `false` there and its micro kernel ignores it, leaving the rest of the output unwritten;
/// SAME and VALID padding never produce such a window, so we report the layer as invalid.
pub(crate) fn empty_window(layer: u16) -> ferrite_core::Error {
    ferrite_core::Error::InvalidLayer {
        layer,
        reason: "an average pooling window lies entirely in the padding",
    }
}

/// Rejects geometry whose window positions would overflow the `i64` arithmetic of the loops.
pub(crate) fn check_pool_geometry(ctx: &Ctx<'_>, g: &PoolGeometry) -> Result<()> {
    if g.stride_h == 0 || g.stride_w == 0 {
        return Err(ctx.error("zero stride"));
    }
    // The last window's origin must fit in u32; then every origin, clipped bound and index
    // computed in i64 below is far from overflowing.
    let fits =
        |out: u32, stride: u32| out.saturating_sub(1) as u64 * stride as u64 <= u32::MAX as u64;
    if !fits(g.out_h, g.stride_h) || !fits(g.out_w, g.stride_w) {
        return Err(ctx.error("stride too large for the geometry"));
    }
    Ok(())
}

/// Checks the input and output tensors hold exactly the elements the geometry describes.
pub(crate) fn check_activations(
    layer: u16,
    g: &PoolGeometry,
    input: usize,
    output: usize,
) -> Result<()> {
    let product = |dims: [u32; 4]| {
        dims.iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX) // no slice is that long, so the check below fails
    };
    check_len(
        layer,
        input as u64,
        product([g.batches, g.in_h, g.in_w, g.channels]),
        "input size does not match the geometry",
    )?;
    check_len(
        layer,
        output as u64,
        product([g.batches, g.out_h, g.out_w, g.channels]),
        "output size does not match the geometry",
    )
}

/// The part of a window inside the image along one axis: the input rows (or columns)
/// `start..end`, as TFLM's `filter_*_start`/`filter_*_end` clipped and shifted by the origin.
#[inline(always)]
pub(crate) fn clip(
    out: usize,
    stride: u32,
    pad: u32,
    filter: u32,
    size: u32,
) -> core::ops::Range<usize> {
    let origin = out as i64 * stride as i64 - pad as i64;
    let start = origin.max(0);
    let end = (origin + filter as i64).min(size as i64);
    // An empty window yields an empty range (`start >= end`).
    start as usize..end.max(start) as usize
}

/// Reference int8 pooling (TFLM `reference_integer_ops::MaxPool` / `AveragePool`).
///
/// Slices must match `p.geom` (the kernel entry checks). Returns `false`, as TFLM's
/// `AveragePool` does, when an average window has no tap inside the image; output positions
/// from that one on are then left unwritten. Max pooling of such a window yields the clamp of
/// `-128`, as in TFLM.
#[must_use]
pub fn pool_i8(p: &PoolI8, input: &[i8], output: &mut [i8]) -> bool {
    pool_int(p, input, output)
}

/// Reference int16 pooling (TFLM's `reference_integer_ops::MaxPool` / `AveragePool` for
/// `int16_t`): [`pool_i8`]'s contract and arithmetic over int16 elements.
#[must_use]
pub fn pool_i16(p: &PoolI8, input: &[i16], output: &mut [i16]) -> bool {
    pool_int(p, input, output)
}

/// A quantized element, int8 or int16, for the kernels TFLM templates over both (pooling,
/// MEAN, SUM).
pub(crate) trait QuantInt: core::marker::Copy + Ord + Into<i32> {
    /// The type's smallest value (the start of a max).
    const LOWEST: Self;
    /// The type's largest value.
    const HIGHEST: Self;
    /// `v` narrowed with `as`, as TFLM's `std::max<T>` / `static_cast<T>` narrow.
    fn narrow(v: i64) -> Self;
}

impl QuantInt for i8 {
    const LOWEST: Self = i8::MIN;
    const HIGHEST: Self = i8::MAX;
    #[inline(always)]
    fn narrow(v: i64) -> Self {
        v as i8
    }
}

impl QuantInt for i16 {
    const LOWEST: Self = i16::MIN;
    const HIGHEST: Self = i16::MAX;
    #[inline(always)]
    fn narrow(v: i64) -> Self {
        v as i16
    }
}

/// The integer pooling shared by [`pool_i8`] and [`pool_i16`].
#[inline(always)]
fn pool_int<T: QuantInt>(p: &PoolI8, input: &[T], output: &mut [T]) -> bool {
    pool_int_checked(p, input, output).is_some()
}

/// [`pool_int`], `None` for an empty average window or (never, with the slices `run_pool_*`
/// checks: input `batches*in_h*in_w*channels`, output `batches*out_h*out_w*channels`; `clip`
/// keeps `iy < in_h` and `ix < in_w`, and `c < channels`) an index outside its slice: every
/// access is checked, so that no panic path is linked.
#[inline(always)]
fn pool_int_checked<T: QuantInt>(p: &PoolI8, input: &[T], output: &mut [T]) -> Option<()> {
    let g = &p.geom;
    let (in_h, in_w, ch) = (g.in_h as usize, g.in_w as usize, g.channels as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    for b in 0..g.batches as usize {
        for oy in 0..out_h {
            let rows = clip(oy, g.stride_h, g.pad_top, g.filter_h, g.in_h);
            for ox in 0..out_w {
                let cols = clip(ox, g.stride_w, g.pad_left, g.filter_w, g.in_w);
                let out_base = ((b * out_h + oy) * out_w + ox) * ch;
                // Plain index loops (no iterator adaptors): this runs on microcontrollers too.
                let count = (rows.end - rows.start) * (cols.end - cols.start);
                if count == 0 && p.kind == PoolKind::Average {
                    return None;
                }
                for c in 0..ch {
                    match p.kind {
                        PoolKind::Max => {
                            let mut max = T::LOWEST;
                            for iy in rows.clone() {
                                let row = ((b * in_h + iy) * in_w) * ch + c;
                                for ix in cols.clone() {
                                    max = max.max(*likely(input.get(row + ix * ch))?);
                                }
                            }
                            // TFLM clamps with `std::max<T>`: the bounds are narrowed to the
                            // element type first (a no-op for any valid range).
                            *output.get_mut(out_base + c)? = max
                                .max(T::narrow(p.act_min as i64))
                                .min(T::narrow(p.act_max as i64));
                        }
                        PoolKind::Average => {
                            let mut acc: i32 = 0;
                            for iy in rows.clone() {
                                let row = ((b * in_h + iy) * in_w) * ch + c;
                                for ix in cols.clone() {
                                    acc = acc
                                        .wrapping_add((*likely(input.get(row + ix * ch))?).into());
                                }
                            }
                            // i64 keeps the rounding free of overflow; TFLM's int arithmetic
                            // gives the same result whenever it does not overflow.
                            let (acc, count) = (acc as i64, count as i64);
                            let avg = if acc > 0 {
                                (acc + count / 2) / count
                            } else {
                                (acc - count / 2) / count
                            };
                            *output.get_mut(out_base + c)? =
                                T::narrow(avg.max(p.act_min as i64).min(p.act_max as i64));
                        }
                    }
                }
            }
        }
    }
    Some(())
}

/// Reference f32 pooling (TFLM `reference_ops::MaxPool` / `AveragePool`).
///
/// Slices must match `p.geom` (the kernel entry checks). The average sums the taps in
/// `(y, x)` order and divides by the tap count held in an `f32`, as TFLM does; it returns
/// `false` when a window has no tap inside the image (output positions from that one on are
/// left unwritten). The max starts from `f32::MIN` and keeps the running value unless a tap is
/// strictly greater, so NaN taps are skipped as with `std::max`.
///
/// With the slices `run_pool_*` checks (input `batches*in_h*in_w*channels`, output
/// `batches*out_h*out_w*channels`), `clip` keeps `iy < in_h` and `ix < in_w`, and `c <
/// channels`; every access is checked all the same (`false` if one is outside its slice), so
/// that no panic path is linked.
#[must_use]
pub fn pool_f32(p: &PoolF32, input: &[f32], output: &mut [f32]) -> bool {
    pool_f32_checked(p, input, output).is_some()
}

fn pool_f32_checked(p: &PoolF32, input: &[f32], output: &mut [f32]) -> Option<()> {
    let g = &p.geom;
    let (in_h, in_w, ch) = (g.in_h as usize, g.in_w as usize, g.channels as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    for b in 0..g.batches as usize {
        for oy in 0..out_h {
            let rows = clip(oy, g.stride_h, g.pad_top, g.filter_h, g.in_h);
            for ox in 0..out_w {
                let cols = clip(ox, g.stride_w, g.pad_left, g.filter_w, g.in_w);
                let out_base = ((b * out_h + oy) * out_w + ox) * ch;
                for c in 0..ch {
                    let tap =
                        |iy: usize, ix: usize| input.get(((b * in_h + iy) * in_w + ix) * ch + c);
                    let value = match p.kind {
                        PoolKind::Max => {
                            let mut m = f32::MIN;
                            for iy in rows.clone() {
                                for ix in cols.clone() {
                                    let v = *tap(iy, ix)?;
                                    if m < v {
                                        m = v;
                                    }
                                }
                            }
                            m
                        }
                        PoolKind::Average => {
                            let mut total = 0.0f32;
                            let mut count = 0.0f32;
                            for iy in rows.clone() {
                                for ix in cols.clone() {
                                    total += *tap(iy, ix)?;
                                    count += 1.0;
                                }
                            }
                            if count == 0.0 {
                                return None;
                            }
                            total / count
                        }
                    };
                    *output.get_mut(out_base + c)? = clamp_f32(value, p.act_min, p.act_max);
                }
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::{Arena, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    fn geom(in_hw: u32, ch: u32, out_hw: u32, filter: u32, stride: u32, pad: u32) -> PoolGeometry {
        PoolGeometry {
            batches: 1,
            in_h: in_hw,
            in_w: in_hw,
            channels: ch,
            out_h: out_hw,
            out_w: out_hw,
            filter_h: filter,
            filter_w: filter,
            stride_h: stride,
            stride_w: stride,
            pad_top: pad,
            pad_left: pad,
        }
    }

    fn i8_op(kind: PoolKind, geom: PoolGeometry) -> PoolI8 {
        PoolI8 {
            input: TensorId(0),
            output: TensorId(1),
            kind,
            geom,
            act_min: -128,
            act_max: 127,
        }
    }

    fn f32_op(kind: PoolKind, geom: PoolGeometry) -> PoolF32 {
        PoolF32 {
            input: TensorId(0),
            output: TensorId(1),
            kind,
            geom,
            act_min: f32::MIN,
            act_max: f32::MAX,
        }
    }

    #[test]
    fn int8_average_rounds_half_away_from_zero() {
        // 4x4, 2x2 windows, stride 2: sums -6, 6, -5, -2 over 4 taps.
        let p = i8_op(PoolKind::Average, geom(4, 1, 2, 2, 2, 0));
        #[rustfmt::skip]
        let input = [
            -1, -2, 1, 2,
            -1, -2, 1, 2,
            -1, -1, -1, 0,
            -1, -2, 0, -1,
        ];
        let mut out = [0i8; 4];
        assert!(pool_i8(&p, &input, &mut out));
        // -1.5 → -2, 1.5 → 2, -1.25 → -1, -0.5 → -1.
        assert_eq!(out, [-2, 2, -1, -1]);
    }

    #[test]
    fn int8_average_divides_by_taps_inside_the_image() {
        // 3x3 SAME window on 3x3: corners see 4 taps, edges 6, the centre 9.
        let mut p = i8_op(PoolKind::Average, geom(3, 1, 3, 3, 1, 1));
        let input: [i8; 9] = core::array::from_fn(|i| i as i8 + 1);
        let mut out = [0i8; 9];
        assert!(pool_i8(&p, &input, &mut out));
        // 12/4, 21/6 = 3.5, 16/4, 27/6 = 4.5, 45/9, 33/6 = 5.5, 24/4, 39/6 = 6.5, 28/4.
        assert_eq!(out, [3, 4, 4, 5, 5, 6, 6, 7, 7]);
        p.act_max = 6;
        p.act_min = 4;
        assert!(pool_i8(&p, &input, &mut out));
        assert_eq!(out, [4, 4, 4, 5, 5, 6, 6, 6, 6]);
    }

    #[test]
    fn int8_max_over_batches_and_channels_with_partial_windows() {
        // 2 batches of 3x3x2, 2x2 windows, stride 2, pad 0 on the top-left: 2x2 outputs
        // whose right and bottom windows hang off the image.
        let mut g = geom(3, 2, 2, 2, 2, 0);
        g.batches = 2;
        let mut p = i8_op(PoolKind::Max, g);
        // Channel 0 counts up, channel 1 counts down; batch 1 is batch 0 negated.
        let input: [i8; 36] = core::array::from_fn(|i| {
            let (b, pix, c) = (i / 18, (i % 18) / 2, i % 2);
            let v = if c == 0 { pix as i8 } else { -(pix as i8) };
            if b == 0 {
                v
            } else {
                -v
            }
        });
        let mut out = [0i8; 16];
        p.act_min = -5;
        assert!(pool_i8(&p, &input, &mut out));
        #[rustfmt::skip]
        assert_eq!(out, [
            // batch 0: windows {0,1,3,4}, {2,5}, {6,7}, {8}
            4, 0, 5, -2, 7, -5, 8, -5,
            // batch 1: the negation's max is minus the min
            0, 4, -2, 5, -5, 7, -5, 8,
        ]);
    }

    #[test]
    fn int16_average_and_max_use_the_int8_arithmetic_over_wide_values() {
        // 3x3 SAME window on 3x3: corners see 4 taps, edges 6, the centre 9 (as in the int8
        // test), with values far beyond int8 and a sum beyond int16.
        let p = PoolI8 {
            act_min: i16::MIN as i32,
            act_max: i16::MAX as i32,
            ..i8_op(PoolKind::Average, geom(3, 1, 3, 3, 1, 1))
        };
        let input: [i16; 9] = core::array::from_fn(|i| (i as i16 + 1) * 1000 + 1);
        let mut out = [0i16; 9];
        assert!(pool_i16(&p, &input, &mut out));
        // 12004/4, 21006/6 = 3501, 16004/4, 27006/6 = 4501, 45009/9 = 5001, ...
        assert_eq!(out, [3001, 3501, 4001, 4501, 5001, 5501, 6001, 6501, 7001]);
        // Negative sums round half away from zero: -6/4 = -1.5 -> -2.
        let p2 = PoolI8 {
            act_min: i16::MIN as i32,
            act_max: i16::MAX as i32,
            ..i8_op(PoolKind::Average, geom(2, 1, 1, 2, 2, 0))
        };
        let mut one = [0i16; 1];
        assert!(pool_i16(&p2, &[-1, -2, -1, -2], &mut one));
        assert_eq!(one, [-2]);
        // A sum that overflows int16 but not i32.
        assert!(pool_i16(&p2, &[32767; 4], &mut one));
        assert_eq!(one, [32767]);
        // Max starts at i16::MIN and clamps to the activation range.
        let mut m = PoolI8 {
            act_min: -20000,
            act_max: 30000,
            ..i8_op(PoolKind::Max, geom(2, 1, 1, 2, 2, 0))
        };
        assert!(pool_i16(&m, &[-32768, -30000, -25000, -32768], &mut one));
        assert_eq!(one, [-20000]);
        assert!(pool_i16(&m, &[-300, 32767, 200, 0], &mut one));
        assert_eq!(one, [30000]);
        m.act_max = i16::MAX as i32;
        assert!(pool_i16(&m, &[-300, 32767, 200, 0], &mut one));
        assert_eq!(one, [32767]);
    }

    #[test]
    fn f32_average_and_max_with_padding() {
        // 3x3 input, 3x3 window, stride 2, pad 1: 2x2 outputs of 4 taps each.
        let input: [f32; 9] = core::array::from_fn(|i| i as f32);
        let mut out = [0f32; 4];
        let p = f32_op(PoolKind::Average, geom(3, 1, 2, 3, 2, 1));
        assert!(pool_f32(&p, &input, &mut out));
        assert_eq!(out, [2.0, 3.0, 5.0, 6.0]);
        let mut p = f32_op(PoolKind::Max, geom(3, 1, 2, 3, 2, 1));
        p.act_max = 7.5;
        assert!(pool_f32(&p, &input, &mut out));
        assert_eq!(out, [4.0, 5.0, 7.0, 7.5]);
    }

    #[test]
    fn f32_max_skips_nan_like_std_max() {
        let p = f32_op(PoolKind::Max, geom(2, 1, 1, 2, 1, 0));
        let mut out = [0f32; 1];
        assert!(pool_f32(&p, &[f32::NAN, -3.0, f32::NAN, -4.0], &mut out));
        assert_eq!(out, [-3.0]);
    }

    #[test]
    fn empty_windows_fail_average_but_not_max() {
        // A window that starts past the image (pad 0, stride 3 on a 2-wide input).
        let g = geom(2, 1, 2, 1, 3, 0);
        let mut out = [0i8; 4];
        assert!(!pool_i8(&i8_op(PoolKind::Average, g), &[1; 4], &mut out));
        let mut p = i8_op(PoolKind::Max, g);
        p.act_min = -100;
        assert!(pool_i8(&p, &[1; 4], &mut out));
        assert_eq!(out, [1, -100, -100, -100]);
        let mut fout = [0f32; 4];
        assert!(!pool_f32(
            &f32_op(PoolKind::Average, g),
            &[1.0; 4],
            &mut fout
        ));
    }

    fn tensor(offset: u32, dtype: DType, dims: &[u32]) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(dims),
            scale: 1.0,
            zero_point: 0,
        }
    }

    fn run_model<T: ferrite_core::Element + Default>(
        op: Op,
        kernel: ferrite_core::KernelFn,
        dtype: DType,
        input: &[T; 4],
    ) -> ferrite_core::Result<T> {
        let tensors = [
            tensor(0, dtype, &[1, 2, 2, 1]),
            tensor(16, dtype, &[1, 1, 1, 1]),
        ];
        let layers = [Layer {
            op,
            kernel,
            name: "POOL_2D",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        model.set_input(arena.as_mut_slice(), 0, input)?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[T] = model.output(arena.as_mut_slice(), 0)?;
        Ok(out.first().copied().unwrap_or_default())
    }

    #[test]
    fn kernel_entries_run_in_a_model() {
        let g = geom(2, 1, 1, 2, 2, 0);
        let avg = Op::PoolI8(i8_op(PoolKind::Average, g));
        assert_eq!(
            run_model(avg, run_pool_i8, DType::I8, &[-1i8, -2, -3, -4]),
            Ok(-3)
        );
        let avg16 = Op::PoolI16(PoolI8 {
            act_min: i16::MIN as i32,
            act_max: i16::MAX as i32,
            ..i8_op(PoolKind::Average, g)
        });
        assert_eq!(
            run_model(
                avg16,
                run_pool_i16,
                DType::I16,
                &[-1000i16, -2000, -3000, -4001]
            ),
            Ok(-2500)
        );
        let max = Op::PoolF32(f32_op(PoolKind::Max, g));
        assert_eq!(
            run_model(max, run_pool_f32, DType::F32, &[1.0f32, 4.0, 3.0, 2.0]),
            Ok(4.0)
        );
        let avg = Op::PoolF32(f32_op(PoolKind::Average, g));
        assert_eq!(
            run_model(avg, run_pool_f32, DType::F32, &[1.0f32, 4.0, 3.0, 2.0]),
            Ok(2.5)
        );
    }

    #[test]
    fn kernel_entries_reject_inconsistent_layers() {
        fn err<T>(reason: &'static str) -> ferrite_core::Result<T> {
            Err(Error::InvalidLayer { layer: 0, reason })
        }
        // Geometry claims 2 channels: the tensors are too small for it.
        let g = geom(2, 2, 1, 2, 2, 0);
        let op = Op::PoolI8(i8_op(PoolKind::Max, g));
        assert_eq!(
            run_model(op, run_pool_i8, DType::I8, &[0i8; 4]),
            err("input size does not match the geometry")
        );
        // An average window past the image.
        let mut g = geom(2, 1, 1, 2, 2, 0);
        g.pad_top = 2;
        let op = Op::PoolF32(f32_op(PoolKind::Average, g));
        assert_eq!(
            run_model(op, run_pool_f32, DType::F32, &[0f32; 4]),
            err("an average pooling window lies entirely in the padding")
        );
        // Hostile strides and zero strides.
        let mut g = geom(2, 1, 1, 2, 2, 0);
        g.stride_w = 0;
        let op = Op::PoolI8(i8_op(PoolKind::Max, g));
        assert_eq!(
            run_model(op, run_pool_i8, DType::I8, &[0i8; 4]),
            err("zero stride")
        );
        let mut g = geom(2, 1, 1, 2, 2, 0);
        g.out_h = u32::MAX;
        g.stride_h = u32::MAX;
        let op = Op::PoolI8(i8_op(PoolKind::Max, g));
        assert_eq!(
            run_model(op, run_pool_i8, DType::I8, &[0i8; 4]),
            err("stride too large for the geometry")
        );
        // The int8 kernel refuses a float layer.
        let op = Op::PoolF32(f32_op(PoolKind::Max, geom(2, 1, 1, 2, 2, 0)));
        assert!(run_model(op, run_pool_i8, DType::I8, &[0i8; 4]).is_err());
    }
}
