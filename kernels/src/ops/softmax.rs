//! SOFTMAX over the last axis, int8 and f32.
//!
//! TFLite Micro's int8 → int8 SOFTMAX runs the shared reference kernel
//! (`reference_ops::Softmax` in `reference/softmax.h`), so that is what [`softmax_i8`]
//! reproduces: input differences from the row maximum scaled to Q5.26, gemmlowp's fixed-point
//! `exp`, a sum in Q12.19, TFLite's `GetReciprocal` and one rounding shift to the output scale
//! 1/256 with zero point -128. [`prepare_softmax_i8`] derives its parameters exactly as
//! TFLM's `CalculateSoftmaxParams`.

use crate::util::{check_len, expect_op};
use ferrite_core::fixed::{
    exp_on_negative_values, multiply_by_quantized_multiplier_greater_than_one, reciprocal,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, SoftmaxF32, SoftmaxI8};
use ferrite_core::quant::{calculate_input_radius, quantize_multiplier};
use ferrite_core::{Ctx, Result};

/// Integer bits of the scaled input differences fed to `exp` (Q5.26).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (Q12.19).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// TFLM `CalculateSoftmaxParams` for an int8 input and int8 output: returns
/// `(input_multiplier, input_left_shift, diff_min)`.
///
/// `PreprocessSoftmaxScaling` computes `min(beta * input_scale * 2^26, 2^31 - 1)` in double and
/// quantizes it with `QuantizeMultiplierGreaterThanOne`; `diff_min` is the negated
/// `CalculateInputRadius(5, input_left_shift)` (also double). `None` where TFLM's checks
/// abort: a non-finite product or one not above 1 (`beta * input_scale <= 2^-26`).
///
/// The caller must also check what TFLM's `Prepare` checks of the output: zero point -128 and
/// scale exactly 1/256.
pub fn prepare_softmax_i8(beta: f32, input_scale: f32) -> Option<(i32, i32, i32)> {
    let product =
        beta as f64 * input_scale as f64 * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64;
    // Checked before the `min`: TFLM's `std::min` would keep a NaN, and then fail its check.
    if !product.is_finite() || product <= 1.0 {
        return None;
    }
    let real = product.min(((1i64 << 31) - 1) as f64);
    let (multiplier, shift) = quantize_multiplier(real)?;
    if !(0..=31).contains(&shift) {
        return None;
    }
    let diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, shift, 31);
    Some((multiplier, shift, diff_min))
}

/// Kernel entry for [`Op::SoftmaxI8`] (portable reference path).
pub fn run_softmax_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SoftmaxI8);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_rows(layer, p.outer, p.depth, input.len(), output.len())?;
    softmax_i8(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::SoftmaxF32`].
pub fn run_softmax_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SoftmaxF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_rows(layer, p.outer, p.depth, input.len(), output.len())?;
    softmax_f32(p, input, output);
    Ok(())
}

/// Checks that input and output both hold `outer * depth` elements.
fn check_rows(layer: u16, outer: u32, depth: u32, input: usize, output: usize) -> Result<()> {
    let elements = outer as u64 * depth as u64;
    check_len(
        layer,
        input as u64,
        elements,
        "input size does not match rows x depth",
    )?;
    check_len(
        layer,
        output as u64,
        elements,
        "output size does not match rows x depth",
    )
}

/// Reference int8 softmax (TFLM `reference_ops::Softmax<int8_t, int8_t>`), row by row over
/// `p.depth` elements; processes the whole rows that fit both slices.
///
/// A row whose sum of exponentials reaches 512 (in practice: more than ~512 entries tied at
/// the maximum) makes TFLM abort on `TFLITE_CHECK(exponent <= 31)`; here the final shift
/// continues exactly in 64 bits instead (every output is then -128).
pub fn softmax_i8(p: &SoftmaxI8, input: &[i8], output: &mut [i8]) {
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    // exp of a scaled difference, or None for differences below `diff_min`.
    let exp_of = |x: i8, max: i8| -> Option<i32> {
        let diff = x as i32 - max as i32;
        (diff >= p.diff_min).then(|| {
            let scaled = multiply_by_quantized_multiplier_greater_than_one(
                diff,
                p.input_multiplier,
                p.input_left_shift,
            );
            exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)
        })
    };
    for (row_in, row_out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer as usize)
    {
        let max = row_in.iter().copied().fold(i8::MIN, i8::max);
        let mut sum: i32 = 0;
        for &x in row_in {
            if let Some(e) = exp_of(x, max) {
                // gemmlowp Rescale<12> from Q0.31: a rounding shift right by 12.
                sum = sum.wrapping_add(rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS));
            }
        }
        let (shifted_scale, num_bits_over_unit) = reciprocal(sum, ACCUMULATION_INTEGER_BITS);
        let exponent = num_bits_over_unit + 31 - 8;
        for (o, &x) in row_out.iter_mut().zip(row_in) {
            *o = match exp_of(x, max) {
                Some(e) => {
                    let product = saturating_rounding_doubling_high_mul(shifted_scale, e);
                    let unsat = rounding_divide_by_pot_wide(product, exponent);
                    unsat.saturating_sub(128).clamp(-128, 127) as i8
                }
                None => i8::MIN,
            };
        }
    }
}

/// gemmlowp `RoundingDivideByPOT` for exponents in `0..=31`, extended exactly (in 64 bits) to
/// the larger exponents TFLM would abort on; negative exponents count as 0.
fn rounding_divide_by_pot_wide(x: i32, exponent: i32) -> i32 {
    if (0..=31).contains(&exponent) {
        return rounding_divide_by_pot(x, exponent);
    }
    let e = exponent.clamp(0, 62) as u32;
    let x = x as i64;
    let mask = (1i64 << e) - 1;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> e) + i64::from(remainder > threshold)) as i32
}

/// Reference f32 softmax (TFLM `reference_ops::Softmax` for float): per row, the maximum, then
/// `exp((x - max) * beta)` in single precision, their sum, and a division by it. Processes the
/// whole rows that fit both slices.
pub fn softmax_f32(p: &SoftmaxF32, input: &[f32], output: &mut [f32]) {
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    for (row_in, row_out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer as usize)
    {
        // `std::max(max, x)` keeps `max` unless `max < x`, so NaN inputs are skipped.
        let mut max = f32::MIN;
        for &x in row_in {
            if max < x {
                max = x;
            }
        }
        let mut sum = 0.0f32;
        for (o, &x) in row_out.iter_mut().zip(row_in) {
            let e = libm::expf((x - max) * p.beta);
            *o = e;
            sum += e;
        }
        for o in row_out.iter_mut() {
            *o /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::{Arena, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    fn params(outer: u32, depth: u32, input_scale: f32) -> SoftmaxI8 {
        let (input_multiplier, input_left_shift, diff_min) =
            prepare_softmax_i8(1.0, input_scale).unwrap();
        SoftmaxI8 {
            input: TensorId(0),
            output: TensorId(1),
            outer,
            depth,
            input_multiplier,
            input_left_shift,
            diff_min,
        }
    }

    #[test]
    fn prepare_matches_tflite_formulas() {
        // beta * scale * 2^26 = 0.1 * 2^26 ≈ 6710886.4: shift 23.
        let (m, s, d) = prepare_softmax_i8(1.0, 0.1).unwrap();
        assert_eq!(s, 23);
        assert_eq!(m, 1_717_986_944); // 0.1f32 = 13421773 * 2^-27 → 13421773 << 7
        assert_eq!(d, -((31i64 << 26) >> 23) as i32); // floor(31 * 2^26 / 2^23) = 248
                                                      // Capped at 2^31 - 1.
        assert_eq!(prepare_softmax_i8(1.0, 1e6), Some((i32::MAX, 31, 0)));
        // TFLM aborts for a multiplier not above one, and for NaN.
        assert_eq!(prepare_softmax_i8(1.0, 1e-9), None);
        assert_eq!(prepare_softmax_i8(f32::NAN, 0.1), None);
        assert_eq!(prepare_softmax_i8(-1.0, 0.1), None);
    }

    #[test]
    fn int8_softmax_matches_tflm() {
        // Expected values come from TFLM (tflite_micro 0.dev20261023, commit 8f6596d): SOFTMAX
        // beta 1.0, input scale 0.1 / zero point 0, output 1/256 / -128, shape [2, 4].
        let p = params(2, 4, 0.1);
        let mut out = [0i8; 8];
        softmax_i8(&p, &[1, 2, 3, 4, 10, -20, 5, 5], &mut out);
        assert_eq!(out, [-73, -68, -61, -54, -15, -122, -59, -59]);
    }

    #[test]
    fn int8_softmax_of_a_huge_tied_row_does_not_panic() {
        // 600 equal entries: TFLM aborts (exponent 32); we yield the exact result instead.
        let p = params(1, 600, 0.1);
        let input = [7i8; 600];
        let mut out = [0i8; 600];
        softmax_i8(&p, &input, &mut out);
        assert!(out.iter().all(|&v| v == -128));
    }

    #[test]
    fn f32_softmax_sums_to_one() {
        let p = SoftmaxF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            depth: 3,
            beta: 2.0,
        };
        let mut out = [0f32; 3];
        softmax_f32(&p, &[0.0, 1.0, 2.0], &mut out);
        let e: [f32; 3] = [libm::expf(-4.0), libm::expf(-2.0), 1.0];
        let s = e[0] + e[1] + e[2];
        for i in 0..3 {
            assert!((out[i] - e[i] / s).abs() <= 1e-7, "{i}: {}", out[i]);
        }
    }

    fn tensor(offset: u32, dtype: DType, dims: &[u32]) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(dims),
            scale: 0.1,
            zero_point: 0,
        }
    }

    /// Runs one int8 softmax layer (2 rows of 4) through `Model::invoke`; `depth` lets a test
    /// describe rows that do not match the tensors.
    fn run_i8_model(depth: u32) -> ferrite_core::Result<[i8; 8]> {
        let tensors = [
            tensor(0, DType::I8, &[2, 4]),
            tensor(16, DType::I8, &[2, 4]),
        ];
        let layers = [Layer {
            op: Op::SoftmaxI8(SoftmaxI8 {
                depth,
                ..params(2, 4, 0.1)
            }),
            kernel: run_softmax_i8,
            name: "SOFTMAX",
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
        let out: &[i8] = model.run(arena.as_mut_slice(), &[1i8, 2, 3, 4, 10, -20, 5, 5])?;
        let mut result = [0i8; 8];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn int8_kernel_entry_runs_in_a_model() {
        assert_eq!(
            run_i8_model(4).unwrap(),
            [-73, -68, -61, -54, -15, -122, -59, -59]
        );
        assert_eq!(
            run_i8_model(3).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "input size does not match rows x depth"
            }
        );
    }

    #[test]
    fn f32_kernel_entry_runs_in_a_model() {
        let tensors = [
            tensor(0, DType::F32, &[1, 2]),
            tensor(16, DType::F32, &[1, 2]),
        ];
        let layers = [Layer {
            op: Op::SoftmaxF32(SoftmaxF32 {
                input: TensorId(0),
                output: TensorId(1),
                outer: 1,
                depth: 2,
                beta: 1.0,
            }),
            kernel: run_softmax_f32,
            name: "SOFTMAX",
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
        let out: &[f32] = model.run(arena.as_mut_slice(), &[3.0f32, 3.0]).unwrap();
        assert_eq!(out, &[0.5, 0.5]);
        // A kernel entry given another operator's parameters reports the layer.
        let wrong = [Layer {
            kernel: run_softmax_i8,
            ..layers[0]
        }];
        let model = Model {
            layers: &wrong,
            ..model
        };
        assert!(matches!(
            model.invoke(arena.as_mut_slice()).unwrap_err(),
            Error::InvalidLayer { layer: 0, .. }
        ));
    }
}
