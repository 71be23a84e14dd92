//! MEAN over a contiguous block of axes, int8, int16 (16x8) and f32.
//!
//! The input is viewed as `[outer, reduced, inner]` and the output as `[outer, inner]`.
//!
//! **int8** follows TFLite Micro's `EvalIntegerMean` → `reference_ops::QuantizedMeanOrSum`
//! (checked against the `tflite_micro` runtime for spatial means with and without
//! `keep_dims`, for other contiguous axes, and for identical input and output quantization,
//! which TFLM no longer special-cases):
//!
//! 1. `Prepare` quantizes `input_scale / output_scale` (as `f64`) with `QuantizeMultiplier`;
//! 2. `Eval` folds `1 / reduced` into it: `s = min(floor(log2(reduced)), 32, 31 + shift)`,
//!    `multiplier = (multiplier << s) / reduced` (truncating, in 64 bits),
//!    `shift = shift - s`;
//! 3. each output is `clamp(MultiplyByQuantizedMultiplier(sum - input_zp * reduced,
//!    multiplier, shift) + output_zp, -128, 127)`, the sum wrapping in `i32`. No fused
//!    activation.
//!
//! [`prepare_mean_i8`] performs steps 1 and 2 on the host, so [`MeanI8`] carries the folded
//! multiplier.
//!
//! **f32** follows `reference_ops::Mean`: each output sums its inputs in row-major order
//! starting from `0.0` in single precision, then divides by `reduced as f32`. TFLM's special
//! 4-D `keep_dims` path for axes {1, 2} sums in the same order and divides by the same value,
//! so both paths give the same bits.

use crate::ops::pool::QuantInt;
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{MeanF32, MeanI8, Op};
use ferrite_core::quant::{quantize_multiplier, QParams};
use ferrite_core::{Ctx, Result, TensorId};

/// Outputs accumulated at once: sums live on the stack, so the input is read row by row
/// (cache and DMA friendly) without a scratch buffer.
const CHUNK: usize = 32;

/// Splits `shape` around the sorted, contiguous `axes` into `(outer, reduced, inner)`
/// element counts; `None` if the axes are empty, unsorted, not contiguous, out of range, or a
/// count overflows `u32`.
pub fn mean_split(shape: &[usize], axes: &[usize]) -> Option<(u32, u32, u32)> {
    let (&first, &last) = (axes.first()?, axes.last()?);
    let contiguous = |w: &[usize]| matches!(*w, [a, b] if a.checked_add(1) == Some(b));
    if last >= shape.len() || !axes.windows(2).all(contiguous) {
        return None;
    }
    let product = |dims: &[usize]| {
        dims.iter()
            .try_fold(1u32, |acc, &d| acc.checked_mul(u32::try_from(d).ok()?))
    };
    Some((
        product(shape.get(..first)?)?,
        product(shape.get(first..=last)?)?,
        product(shape.get(last + 1..)?)?,
    ))
}

/// TFLM's per-`Eval` folding of `1 / reduced` into the quantized multiplier (see the module
/// documentation). `reduced == 0` leaves the multiplier as it is (TFLM outputs zeros then).
pub fn fold_mean_multiplier(multiplier: i32, shift: i32, reduced: u32) -> (i32, i32) {
    if reduced == 0 {
        return (multiplier, shift);
    }
    let n = reduced as i64;
    let log2 = 63 - (n as u64).leading_zeros() as i32;
    let s = log2.min(32).min(shift.saturating_add(31)).max(0);
    let folded = ((multiplier as i64) << s) / n;
    (folded as i32, shift.saturating_sub(s))
}

/// Int8 MEAN layer parameters for `input` (of the given `shape`) reduced over `axes` (sorted,
/// contiguous, as [`mean_split`] takes them) into `output`, computed as TFLM's
/// `PrepareMeanOrSumHelper` and `QuantizedMeanOrSum` do (module documentation, steps 1–2).
///
/// `None` if the axes do not describe a contiguous block, a scale is not positive and
/// finite, a zero point lies outside int8, or the multiplier cannot be quantized.
pub fn prepare_mean_i8(
    input: TensorId,
    output: TensorId,
    shape: &[usize],
    axes: &[usize],
    qi: QParams,
    qo: QParams,
) -> Option<MeanI8> {
    prepare_mean_int(input, output, shape, axes, qi, qo, -128..=127)
}

/// Int16 MEAN layer parameters: [`prepare_mean_i8`] with zero points in int16 (TFLM's
/// `PrepareMeanOrSum` quantizes the multiplier the same way for both types).
pub fn prepare_mean_i16(
    input: TensorId,
    output: TensorId,
    shape: &[usize],
    axes: &[usize],
    qi: QParams,
    qo: QParams,
) -> Option<MeanI8> {
    prepare_mean_int(input, output, shape, axes, qi, qo, -32768..=32767)
}

/// [`prepare_mean_i8`] and [`prepare_mean_i16`] with the element type's zero point range.
fn prepare_mean_int(
    input: TensorId,
    output: TensorId,
    shape: &[usize],
    axes: &[usize],
    qi: QParams,
    qo: QParams,
    zero_points: core::ops::RangeInclusive<i32>,
) -> Option<MeanI8> {
    let (outer, reduced, inner) = mean_split(shape, axes)?;
    let valid =
        |q: QParams| q.scale.is_finite() && q.scale > 0.0 && zero_points.contains(&q.zero_point);
    if !(valid(qi) && valid(qo)) {
        return None;
    }
    let (multiplier, shift) = quantize_multiplier(qi.scale as f64 / qo.scale as f64)?;
    let (multiplier, shift) = fold_mean_multiplier(multiplier, shift, reduced);
    Some(MeanI8 {
        input,
        output,
        outer,
        reduced,
        inner,
        input_zero_point: qi.zero_point,
        output_zero_point: qo.zero_point,
        multiplier,
        shift,
    })
}

/// For each of `outer` blocks, sums its `reduced` rows of `inner` values in row-major order
/// (`CHUNK` outputs at a time) and hands each finished chunk of sums to
/// `finish(sums, outputs)`.
// Bounds: `width` is a chunk's length, at most `CHUNK`; `start + width` is at most the output
// row's length `inner`, which is each input row's length.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn reduce_rows<T, A, F>(
    (outer, reduced, inner): (usize, usize, usize),
    input: &[T],
    output: &mut [T],
    zero: A,
    add: impl Fn(A, T) -> A,
    mut finish: F,
) where
    T: core::marker::Copy,
    A: core::marker::Copy,
    F: FnMut(&[A], &mut [T]),
{
    if inner == 0 {
        return;
    }
    // Saturating: with `outer == 0` the sizes say nothing about `reduced * inner`, but then
    // no block is read.
    let block = reduced.saturating_mul(inner);
    for (o, out_row) in output.chunks_exact_mut(inner).enumerate().take(outer) {
        let Some(block_in) = input.get(o * block..(o + 1) * block) else {
            return;
        };
        for (c, out_chunk) in out_row.chunks_mut(CHUNK).enumerate() {
            let start = c * CHUNK;
            let width = out_chunk.len();
            let mut acc = [zero; CHUNK];
            let acc = &mut acc[..width];
            if reduced > 0 {
                for row in block_in.chunks_exact(inner) {
                    let Some(row) = row.get(start..start + width) else {
                        break;
                    };
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a = add(*a, x);
                    }
                }
            }
            finish(acc, out_chunk);
        }
    }
}

/// Reference int8 mean (TFLM `reference_ops::QuantizedMeanOrSum`, mean flavour).
///
/// `input` holds `outer * reduced * inner` values, `output` `outer * inner` (the kernel entry
/// checks). `reduced == 0` gives zeros, as TFLM leaves its zero-initialised output.
pub fn mean_i8(p: &MeanI8, input: &[i8], output: &mut [i8]) {
    mean_int(p, input, output)
}

/// Reference int16 mean (TFLM instantiates `QuantizedMeanOrSum` for `int16_t` with the same
/// arithmetic): [`mean_i8`]'s contract, clamped to int16.
pub fn mean_i16(p: &MeanI8, input: &[i16], output: &mut [i16]) {
    mean_int(p, input, output)
}

/// The integer mean shared by [`mean_i8`] and [`mean_i16`].
#[inline(always)]
fn mean_int<T: QuantInt>(p: &MeanI8, input: &[T], output: &mut [T]) {
    let reduced = p.reduced as usize;
    if reduced == 0 {
        output.fill(T::narrow(0));
        return;
    }
    // TFLM subtracts `zero_point * num_elements` in 64 bits, then narrows to the i32 sum type.
    let zp_total = (p.input_zero_point as i64).wrapping_mul(p.reduced as i64);
    reduce_rows(
        (p.outer as usize, reduced, p.inner as usize),
        input,
        output,
        0i32,
        |acc, x: T| acc.wrapping_add(x.into()),
        |sums, out| {
            for (o, &sum) in out.iter_mut().zip(sums) {
                let shifted = (sum as i64).wrapping_sub(zp_total) as i32;
                let v = multiply_by_quantized_multiplier(shifted, p.multiplier, p.shift)
                    .wrapping_add(p.output_zero_point);
                *o = T::narrow(v.clamp(T::LOWEST.into(), T::HIGHEST.into()) as i64);
            }
        },
    );
}

/// Reference f32 mean (TFLM `reference_ops::Mean`): row-major single-precision sums from
/// `0.0`, divided by `reduced as f32`. Slices as for [`mean_i8`]; `reduced == 0` gives zeros.
pub fn mean_f32(p: &MeanF32, input: &[f32], output: &mut [f32]) {
    let reduced = p.reduced as usize;
    if reduced == 0 {
        output.fill(0.0);
        return;
    }
    let count = p.reduced as f32;
    reduce_rows(
        (p.outer as usize, reduced, p.inner as usize),
        input,
        output,
        0.0f32,
        |acc, x| acc + x,
        |sums, out| {
            for (o, &sum) in out.iter_mut().zip(sums) {
                *o = sum / count;
            }
        },
    );
}

/// Checks the input and output sizes of a mean layer against `[outer, reduced, inner]`.
fn check_mean_sizes(
    layer: u16,
    (outer, reduced, inner): (u32, u32, u32),
    input: usize,
    output: usize,
) -> Result<()> {
    let (outer, reduced, inner) = (outer as u64, reduced as u64, inner as u64);
    check_len(
        layer,
        input as u64,
        outer.saturating_mul(reduced).saturating_mul(inner),
        "input size does not match outer * reduced * inner",
    )?;
    check_len(
        layer,
        output as u64,
        outer * inner,
        "output size does not match outer * inner",
    )
}

/// Kernel entry for [`Op::MeanI8`].
pub fn run_mean_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, MeanI8);
    if !(-31..=31).contains(&p.shift) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_mean_sizes(
        layer,
        (p.outer, p.reduced, p.inner),
        input.len(),
        output.len(),
    )?;
    mean_i8(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::MeanI16`].
pub fn run_mean_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, MeanI16);
    if !(-31..=31).contains(&p.shift) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_mean_sizes(
        layer,
        (p.outer, p.reduced, p.inner),
        input.len(),
        output.len(),
    )?;
    mean_i16(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::MeanF32`].
pub fn run_mean_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, MeanF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_mean_sizes(
        layer,
        (p.outer, p.reduced, p.inner),
        input.len(),
        output.len(),
    )?;
    mean_f32(p, input, output);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use ferrite_core::{Arena, DType, Error, Layer, Model, Shape, Tensor};

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    #[test]
    fn split_and_fold() {
        assert_eq!(mean_split(&[1, 7, 5, 8], &[1, 2]), Some((1, 35, 8)));
        assert_eq!(mean_split(&[2, 3, 4], &[0]), Some((1, 2, 12)));
        assert_eq!(mean_split(&[2, 3, 4], &[0, 2]), None);
        assert_eq!(mean_split(&[2, 3, 4], &[3]), None);
        assert_eq!(mean_split(&[2, 3, 4], &[]), None);
        // 1 / 4 is exact: shift 2, multiplier unchanged.
        assert_eq!(fold_mean_multiplier(1 << 30, 1, 4), (1 << 30, -1));
        // 1 / 3: floor(log2 3) = 1.
        assert_eq!(
            fold_mean_multiplier(1 << 30, 0, 3),
            ((((1i64 << 30) << 1) / 3) as i32, -1)
        );
        // The fold stops where the shift would pass -31.
        assert_eq!(fold_mean_multiplier(1 << 30, -30, 1 << 10).1, -31);
    }

    // From TFLM (tflite_micro 0.dev20261023182759): int8 MEAN over axes [1, 2] of the
    // [1, 3, 3, 2] tensor below, input scale 0.05 zp -3, output scale 0.031 zp 11, keep_dims
    // true (false gives the same values). Throwaway script /tmp/fv/golden_mean.py.
    const TFLM_MEAN_IN: [i8; 18] = [
        -128, 127, 5, -6, 77, 33, -1, 0, 100, -100, 64, 63, -50, 51, 9, -9, 127, 127,
    ];
    const TFLM_MEAN_OUT: [i8; 2] = [52, 67];

    #[test]
    fn spatial_mean_matches_tflm() {
        let p = prepare_mean_i8(
            TensorId(0),
            TensorId(1),
            &[1, 3, 3, 2],
            &[1, 2],
            q(0.05, -3),
            q(0.031, 11),
        )
        .unwrap();
        let mut out = [0i8; 2];
        mean_i8(&p, &TFLM_MEAN_IN, &mut out);
        assert_eq!(out, TFLM_MEAN_OUT);
    }

    #[test]
    fn identical_quantization_rounds_instead_of_truncating() {
        // Mean of -3, -3, -3, -2 is -2.75: TFLM (verified) gives -3, not the -2 of a
        // truncating integer division.
        let p = prepare_mean_i8(
            TensorId(0),
            TensorId(1),
            &[1, 4, 1],
            &[1],
            q(0.1, 0),
            q(0.1, 0),
        )
        .unwrap();
        let mut out = [0i8; 1];
        mean_i8(&p, &[-3, -3, -3, -2], &mut out);
        assert_eq!(out, [-3]);
    }

    #[test]
    fn int16_spatial_mean_rescales_and_clamps() {
        // Mean of four values with scales 0.5 -> 0.25 (x2): 2 * (1000 + 2001 + 3000 + 4000) / 4
        // = 5000.5 -> 5001 (rounded half up by the fixed-point multiply).
        let p = prepare_mean_i16(
            TensorId(0),
            TensorId(1),
            &[1, 2, 2, 1],
            &[1, 2],
            q(0.5, 0),
            q(0.25, 0),
        )
        .unwrap();
        let mut out = [0i16; 1];
        mean_i16(&p, &[1000, 2001, 3000, 4000], &mut out);
        assert_eq!(out, [5001]);
        // Twice a large mean clamps at int16's top; a negative tie (-3.5) goes up, as
        // SaturatingRoundingDoublingHighMul's nudge makes it.
        mean_i16(&p, &[30000, 30000, 30000, 30000], &mut out);
        assert_eq!(out, [32767]);
        mean_i16(&p, &[-1, -2, -2, -2], &mut out);
        assert_eq!(out, [-3]);
        // Zero points outside int16 are refused.
        assert!(prepare_mean_i16(
            TensorId(0),
            TensorId(1),
            &[1, 2, 2, 1],
            &[1, 2],
            q(0.5, 40000),
            q(0.25, 0),
        )
        .is_none());
    }

    #[test]
    fn float_mean_sums_in_order() {
        let p = MeanF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 2,
            reduced: 3,
            inner: 2,
        };
        let input = [
            1.0f32, 10.0, 2.0, 20.0, 4.0, 1e8, 0.5, 0.0, 0.25, 0.0, 0.25, 3.0,
        ];
        let mut out = [0f32; 4];
        mean_f32(&p, &input, &mut out);
        let expect = [
            (1.0f32 + 2.0 + 4.0) / 3.0,
            (10.0f32 + 20.0 + 1e8) / 3.0,
            (0.5f32 + 0.25 + 0.25) / 3.0,
            3.0 / 3.0,
        ];
        assert_eq!(out, expect);
    }

    #[test]
    fn wide_inner_axis_spans_several_chunks() {
        // inner = 70 > CHUNK: every output must still see all its rows.
        let p = MeanF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            reduced: 2,
            inner: 70,
        };
        let input: [f32; 140] = core::array::from_fn(|i| i as f32);
        let mut out = [0f32; 70];
        mean_f32(&p, &input, &mut out);
        for (i, &v) in out.iter().enumerate() {
            assert_eq!(v, (i as f32 + (i + 70) as f32) / 2.0);
        }
    }

    fn model_with<'a>(tensors: &'a [Tensor; 2], layers: &'a [Layer; 1]) -> Model<'a> {
        Model {
            tensors,
            layers,
            consts: &[],
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 64,
            state: ferrite_core::StatePlan::NONE,
        }
    }

    fn tensor(offset: u32, dtype: DType, dims: &[u32], scale: f32, zero_point: i32) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(dims),
            scale,
            zero_point,
        }
    }

    #[test]
    fn run_mean_i8_through_a_model() {
        let p = prepare_mean_i8(
            TensorId(0),
            TensorId(1),
            &[1, 2, 2, 2],
            &[1, 2],
            q(0.1, 1),
            q(0.1, 1),
        )
        .unwrap();
        let tensors = [
            tensor(0, DType::I8, &[1, 2, 2, 2], 0.1, 1),
            tensor(16, DType::I8, &[1, 1, 1, 2], 0.1, 1),
        ];
        let layers = [Layer {
            op: Op::MeanI8(p),
            kernel: run_mean_i8,
            name: "MEAN",
        }];
        let model = model_with(&tensors, &layers);
        let mut arena = Arena::<64>::new();
        let out: &[i8] = model
            .run(arena.as_mut_slice(), &[1i8, 10, 3, 20, 5, 30, 8, -40])
            .unwrap();
        // Channel 0: (0 + 2 + 4 + 7) / 4 = 3.25, yet TFLM gives 4 (+ zero point 1 = 5): the
        // multiplier for a scale ratio of 1 is 0.5 * 2^1, folded with 1/4 into 0.5 * 2^-1, and
        // MultiplyByQuantizedMultiplier rounds twice (13 * 0.5 = 6.5 -> 7, 7 / 2 = 3.5 -> 4).
        // Channel 1: (9 + 19 + 29 - 41) / 4 = 4. Verified with tflite_micro (/tmp/fv/probe2.py).
        assert_eq!(out, &[5, 5]);
    }

    #[test]
    fn run_mean_f32_through_a_model() {
        let p = MeanF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            reduced: 4,
            inner: 1,
        };
        let tensors = [
            tensor(0, DType::F32, &[4], 0.0, 0),
            tensor(16, DType::F32, &[1], 0.0, 0),
        ];
        let layers = [Layer {
            op: Op::MeanF32(p),
            kernel: run_mean_f32,
            name: "MEAN",
        }];
        let model = model_with(&tensors, &layers);
        let mut arena = Arena::<64>::new();
        let out: &[f32] = model
            .run(arena.as_mut_slice(), &[1.0f32, 2.0, 3.0, 4.5])
            .unwrap();
        assert_eq!(out, &[2.625]);
    }

    #[test]
    fn inconsistent_params_are_errors() {
        let tensors = [
            tensor(0, DType::I8, &[8], 0.1, 0),
            tensor(16, DType::I8, &[2], 0.1, 0),
        ];
        let good = prepare_mean_i8(
            TensorId(0),
            TensorId(1),
            &[2, 4],
            &[1],
            q(0.1, 0),
            q(0.1, 0),
        )
        .unwrap();
        let f32_layer = Op::MeanF32(MeanF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 2,
            reduced: 4,
            inner: 1,
        });
        let cases: [(Op, ferrite_core::KernelFn, &str); 4] = [
            (
                Op::MeanI8(MeanI8 { reduced: 3, ..good }),
                run_mean_i8,
                "input size does not match outer * reduced * inner",
            ),
            (
                Op::MeanI8(MeanI8 { inner: 2, ..good }),
                run_mean_i8,
                "input size does not match outer * reduced * inner",
            ),
            (
                Op::MeanI8(MeanI8 { shift: 40, ..good }),
                run_mean_i8,
                "multiplier shift out of range",
            ),
            (
                f32_layer,
                run_mean_i8,
                "kernel for MeanI8 run on another operator",
            ),
        ];
        for (op, kernel, reason) in cases {
            let layers = [Layer {
                op,
                kernel,
                name: "MEAN",
            }];
            let model = model_with(&tensors, &layers);
            let mut arena = Arena::<64>::new();
            assert_eq!(
                model.invoke(arena.as_mut_slice()),
                Err(Error::InvalidLayer { layer: 0, reason }),
                "{reason}"
            );
        }
        // An int8 tensor read as f32 is misaligned or mis-sized, never a panic.
        let layers = [Layer {
            op: f32_layer,
            kernel: run_mean_f32,
            name: "MEAN",
        }];
        let model = model_with(&tensors, &layers);
        let mut arena = Arena::<64>::new();
        assert!(matches!(
            model.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer { layer: 0, .. })
        ));
    }

    proptest::proptest! {
        /// Arbitrary mean parameters never panic: the entry runs or reports an invalid layer.
        #[test]
        fn hostile_mean_never_panics(
            outer in proptest::prop_oneof![0u32..5, proptest::num::u32::ANY],
            reduced in proptest::prop_oneof![0u32..5, proptest::num::u32::ANY],
            inner in proptest::prop_oneof![0u32..5, proptest::num::u32::ANY],
            zps in (-300i32..300, -300i32..300),
            multiplier: i32,
            shift in -40i32..40,
            in_len in 0u32..16,
            out_len in 0u32..16,
        ) {
            let tensors = [
                tensor(0, DType::I8, &[in_len], 1.0, 0),
                tensor(16, DType::I8, &[out_len], 1.0, 0),
            ];
            let p = MeanI8 {
                input: TensorId(0),
                output: TensorId(1),
                outer,
                reduced,
                inner,
                input_zero_point: zps.0,
                output_zero_point: zps.1,
                multiplier,
                shift,
            };
            let layers = [Layer { op: Op::MeanI8(p), kernel: run_mean_i8, name: "MEAN" }];
            let model = model_with(&tensors, &layers);
            let mut arena = Arena::<64>::new();
            match model.invoke(arena.as_mut_slice()) {
                Ok(()) | Err(Error::InvalidLayer { .. }) => {}
                Err(e) => proptest::prop_assert!(false, "unexpected {e:?}"),
            }
            let _ = fold_mean_multiplier(multiplier, shift, reduced);
        }
    }
}
