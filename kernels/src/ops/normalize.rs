//! Row normalizations over the last axis: LOG_SOFTMAX and L2_NORMALIZATION, float32 and int8.
//!
//! **LOG_SOFTMAX** follows TFLM's `reference_ops::LogSoftmax`: float rows take their maximum
//! (from `f32::MIN`), sum `expf(x - max)` in order and subtract `logf` of the sum; int8 rows
//! follow `LogSoftmaxQuantized` (see [`LogSoftmaxI8`]), including gemmlowp's fixed-point
//! `log_x_for_x_greater_than_or_equal_to_1`, reproduced here in [`log_x_ge_1`].
//!
//! **L2_NORMALIZATION** follows `reference_ops::L2Normalization` (float: the sum of squares
//! in order, `sqrtf`, floored at `1e-6`, then a division) and
//! `reference_integer_ops::L2Normalization` with TFLite's `GetInvSqrtQuantizedMultiplierExp`
//! ([`inv_sqrt_multiplier`]).

use crate::util::{check_len, expect_op, product};
use ferrite_core::fixed::{
    exp_on_negative_values, multiply_by_quantized_multiplier, one_over_one_plus_x_for_x_in_0_1,
    rescale, rounding_divide_by_pot, rounding_half_sum, saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{L2NormF32, L2NormI8, LogSoftmaxF32, LogSoftmaxI8, Op};
use ferrite_core::{Ctx, Result};

/// Integer bits of the scaled input differences (Q5.26), as in TFLM's `Prepare`.
const INPUT_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (Q12.19).
const ACCUMULATION_INTEGER_BITS: i32 = 12;
/// Integer bits of the log-softmax output before its final shift.
const OUTPUT_INTEGER_BITS: i32 = 4;

/// gemmlowp fixed-point product (`Qa * Qb -> Q(a + b)`).
#[inline(always)]
fn fx_mul(a: i32, b: i32) -> i32 {
    saturating_rounding_doubling_high_mul(a, b)
}

/// `a + b` saturated to `i32` (TFLite `SaturatingAddNonGemmlowp`).
fn saturating_add(a: i32, b: i32) -> i32 {
    (a as i64 + b as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// `a - b` saturated to `i32` (TFLite `SaturatingSub`).
fn saturating_sub(a: i32, b: i32) -> i32 {
    (a as i64 - b as i64).clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// TFLite's `log_x_for_x_greater_than_or_equal_to_1_impl<5, 12>`: `ln(x)` of a Q12.19 value
/// `x >= 1`, as a Q5.26 raw value. Every step is TFLite's: the input normalised two ways (by
/// its leading zeros, and times sqrt(1/2)), the better-conditioned one kept, then a rational
/// approximation around `2^(-1/4)` with gemmlowp's wrapping `+`/`-` and rounding products.
pub fn log_x_ge_1(x: i32) -> i32 {
    const INPUT_BITS: i32 = ACCUMULATION_INTEGER_BITS;
    const ACCUM_BITS: i32 = INPUT_INTEGER_BITS + 1;
    const LOG_2: i32 = 1_488_522_236;
    const SQRT_SQRT_HALF: i32 = 1_805_811_301;
    const SQRT_HALF: i32 = 1_518_500_250;
    const ONE_QUARTER: i32 = 536_870_912;
    const ALPHA_N: i32 = 117_049_297;
    const ALPHA_D: i32 = 127_690_142;
    const ALPHA_I: i32 = 1_057_819_769;
    const ALPHA_F: i32 = 638_450_708;

    let shifted_quarter = rescale(ONE_QUARTER, 0, ACCUM_BITS);
    let z_a = x;
    let z_a_headroom_plus_1 = (z_a as u32).leading_zeros() as i32;
    let r_a_tmp = saturating_rounding_multiply_by_pot(z_a, z_a_headroom_plus_1 - 1);
    let r_a_raw = saturating_rounding_multiply_by_pot(fx_mul(r_a_tmp, SQRT_HALF), 1);
    let z_a_pow_2_adj = saturating_add(
        saturating_rounding_multiply_by_pot(INPUT_BITS - z_a_headroom_plus_1, 31 - ACCUM_BITS),
        shifted_quarter,
    );
    let z_b = fx_mul(z_a, SQRT_HALF);
    let z_b_headroom = (z_b as u32).leading_zeros() as i32 - 1;
    let r_b_raw = saturating_rounding_multiply_by_pot(z_a, z_b_headroom);
    let z_b_pow_2_adj = saturating_sub(
        saturating_rounding_multiply_by_pot(INPUT_BITS - z_b_headroom, 31 - ACCUM_BITS),
        shifted_quarter,
    );
    let r = r_a_raw.min(r_b_raw);
    let z_pow_2_adj = z_a_pow_2_adj.max(z_b_pow_2_adj);

    let p = rounding_half_sum(r, SQRT_SQRT_HALF);
    let q = r.wrapping_sub(SQRT_SQRT_HALF);
    let q = q.wrapping_add(q);
    let common_sq = fx_mul(q, q);
    let num = fx_mul(q, r).wrapping_add(fx_mul(fx_mul(q, common_sq), ALPHA_N));
    let denom_minus_one_0 = fx_mul(
        p,
        ALPHA_I
            .wrapping_add(q)
            .wrapping_add(fx_mul(ALPHA_D, common_sq)),
    )
    .wrapping_add(fx_mul(ALPHA_F, q));
    let recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0);
    let num_scaled = rescale(num, 0, ACCUM_BITS);
    let sum = fx_mul(z_pow_2_adj, LOG_2).wrapping_add(fx_mul(num_scaled, recip_denom));
    rescale(sum, ACCUM_BITS, INPUT_INTEGER_BITS)
}

/// Reference float LOG_SOFTMAX. Rows of `depth`; `output` as long as `input`.
pub fn log_softmax_f32(p: &LogSoftmaxF32, input: &[f32], output: &mut [f32]) {
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    for (row, out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
    {
        // std::max(max, x): `x` replaces the maximum only when strictly greater.
        let max = row.iter().fold(f32::MIN, |m, &x| if m < x { x } else { m });
        let sum = row.iter().fold(0.0f32, |s, &x| s + libm::expf(x - max));
        let log_sum = libm::logf(sum);
        for (o, &x) in out.iter_mut().zip(row) {
            *o = x - max - log_sum;
        }
    }
}

/// Reference int8 LOG_SOFTMAX (TFLM `LogSoftmaxQuantized`). Rows of `depth`; `output` as
/// long as `input`.
pub fn log_softmax_i8(p: &LogSoftmaxI8, input: &[i8], output: &mut [i8]) {
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    let scale =
        |diff: i32| multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift);
    for (row, out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
    {
        let max = row.iter().copied().max().unwrap_or(i8::MIN) as i32;
        let mut sum_of_exps_q12 = 0i32;
        for &x in row {
            let diff = x as i32 - max;
            if diff >= p.diff_min {
                let e = exp_on_negative_values(scale(diff), INPUT_INTEGER_BITS);
                sum_of_exps_q12 =
                    sum_of_exps_q12.wrapping_add(rescale(e, 0, ACCUMULATION_INTEGER_BITS));
            }
        }
        let log_sum_q5 = log_x_ge_1(sum_of_exps_q12);
        let shifted_log_sum = log_sum_q5.wrapping_add(i32::MIN);
        let adjusted_diff_min = p
            .diff_min
            .wrapping_sub(1)
            .max(multiply_by_quantized_multiplier(
                shifted_log_sum,
                p.reverse_scaling_divisor,
                p.reverse_scaling_right_shift.wrapping_neg(),
            ));
        for (o, &x) in out.iter_mut().zip(row) {
            let diff = x as i32 - max;
            *o = if diff > adjusted_diff_min {
                let v = rounding_divide_by_pot(
                    scale(diff).wrapping_sub(log_sum_q5),
                    31 - INPUT_INTEGER_BITS - OUTPUT_INTEGER_BITS,
                )
                .wrapping_add(i8::MAX as i32);
                v.clamp(i8::MIN as i32, i8::MAX as i32) as i8
            } else {
                i8::MIN
            };
        }
    }
}

/// TFLite's `GetInvSqrtQuantizedMultiplierExp(input, kReverseShift = -1)`: `1 / sqrt(input)`
/// as a Q0.31 multiplier and a shift (positive: left), by five Newton-Raphson steps in Q3.28
/// on the input normalised by pairs of bits. Inputs up to 1 give `(i32::MAX, 0)`.
pub fn inv_sqrt_multiplier(input: i32) -> (i32, i32) {
    const Q3_ONE: i32 = 1 << 28;
    const HALF_THREE: i32 = (1 << 28) + (1 << 27);
    const HALF_SQRT_2: i32 = 1_518_500_250;
    if input <= 1 {
        return (i32::MAX, 0);
    }
    let mut input = input;
    let mut shift = 11i32;
    while input >= 1 << 29 {
        input /= 4;
        shift += 1;
    }
    let max_left_shift_bits = (input as u32).leading_zeros() as i32 - 1;
    let left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
    shift -= left_shift_bit_pairs;
    input = input.wrapping_shl(2 * left_shift_bit_pairs as u32);
    let fixed_input = input >> 1;
    let half_input = rounding_divide_by_pot(fixed_input, 1);
    let mut x = Q3_ONE;
    for _ in 0..5 {
        let x3 = rescale(fx_mul(fx_mul(x, x), x), 9, 3);
        x = rescale(
            fx_mul(HALF_THREE, x).wrapping_sub(fx_mul(half_input, x3)),
            6,
            3,
        );
    }
    let mut inv = fx_mul(x, HALF_SQRT_2);
    if shift < 0 {
        inv = inv.wrapping_shl(shift.wrapping_neg() as u32);
        shift = 0;
    }
    // kReverseShift = -1: the right shift becomes a left shift's negation.
    (inv, -shift)
}

/// Reference float L2_NORMALIZATION. Rows of `depth`; `output` as long as `input`.
pub fn l2_norm_f32(p: &L2NormF32, input: &[f32], output: &mut [f32]) {
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    for (row, out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
    {
        let squares = row.iter().fold(0.0f32, |s, &x| s + x * x);
        let norm = libm::sqrtf(squares);
        // std::max(norm, epsilon): a NaN norm stays NaN.
        let norm = if norm < 1e-6 { 1e-6 } else { norm };
        for (o, &x) in out.iter_mut().zip(row) {
            *o = x / norm;
        }
    }
}

/// Reference int8 L2_NORMALIZATION. Rows of `depth`; `output` as long as `input`.
pub fn l2_norm_i8(p: &L2NormI8, input: &[i8], output: &mut [i8]) {
    /// Output steps of 1/128: the shift folded into the multiplier's.
    const OUTPUT_SHIFT: i32 = 7;
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    let zp = p.input_zero_point;
    for (row, out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
    {
        let acc = row.iter().fold(0i32, |a, &x| {
            let d = x as i32 - zp;
            a.wrapping_add(d.wrapping_mul(d))
        });
        let (multiplier, shift) = inv_sqrt_multiplier(acc);
        for (o, &x) in out.iter_mut().zip(row) {
            let v =
                multiply_by_quantized_multiplier(x as i32 - zp, multiplier, shift + OUTPUT_SHIFT);
            *o = v.clamp(i8::MIN as i32, i8::MAX as i32) as i8;
        }
    }
}

/// Checks that input and output hold `outer` rows of `depth`.
fn check_rows(layer: u16, outer: u32, depth: u32, input: usize, output: usize) -> Result<()> {
    let n = product(&[outer, depth]);
    check_len(
        layer,
        input as u64,
        n,
        "input size does not match outer * depth",
    )?;
    check_len(
        layer,
        output as u64,
        n,
        "output size does not match outer * depth",
    )
}

/// Kernel entry for [`Op::LogSoftmaxF32`].
pub fn run_log_softmax_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LogSoftmaxF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_rows(layer, p.outer, p.depth, input.len(), output.len())?;
    log_softmax_f32(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::LogSoftmaxI8`].
pub fn run_log_softmax_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LogSoftmaxI8);
    if !(1..=31).contains(&p.input_left_shift) || !(0..=31).contains(&p.reverse_scaling_right_shift)
    {
        return Err(ctx.error("log softmax shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_rows(layer, p.outer, p.depth, input.len(), output.len())?;
    log_softmax_i8(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::L2NormF32`].
pub fn run_l2_norm_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, L2NormF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_rows(layer, p.outer, p.depth, input.len(), output.len())?;
    l2_norm_f32(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::L2NormI8`].
pub fn run_l2_norm_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, L2NormI8);
    if !(-128..=127).contains(&p.input_zero_point) {
        return Err(ctx.error("input zero point outside int8"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_rows(layer, p.outer, p.depth, input.len(), output.len())?;
    l2_norm_i8(p, input, output);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrite_core::{Arena, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    #[test]
    fn fixed_point_log_tracks_ln() {
        // Q12.19 inputs from 1 to 4000; the Q5.26 result within a few ulps of ln(x) * 2^26.
        for v in [
            1.0f64,
            1.5,
            2.0,
            core::f64::consts::E,
            10.0,
            100.0,
            1234.5,
            4000.0,
        ] {
            let raw = (v * (1 << 19) as f64) as i32;
            let got = log_x_ge_1(raw) as f64 / (1 << 26) as f64;
            assert!((got - v.ln()).abs() < 1e-6, "ln({v}) = {got}");
        }
    }

    #[test]
    fn inverse_square_root_tracks_the_float_one() {
        for input in [2i32, 3, 100, 12345, 1 << 20, (1 << 29) + 7, i32::MAX] {
            let (m, s) = inv_sqrt_multiplier(input);
            let got = m as f64 / 2f64.powi(31) * 2f64.powi(s);
            let want = 1.0 / (input as f64).sqrt();
            // Five Newton steps in Q3.28 are good to about 2^-19.
            assert!((got / want - 1.0).abs() < 1e-5, "{input}: {got} vs {want}");
        }
        assert_eq!(inv_sqrt_multiplier(1), (i32::MAX, 0));
        assert_eq!(inv_sqrt_multiplier(0), (i32::MAX, 0));
    }

    // From TFLM (tflite_micro 0.dev20261023182759), input scale 0.1, zero point 3; LOG_SOFTMAX
    // output 16/256 zp 127, L2_NORMALIZATION output 1/128 zp 0 (throwaway script
    // /tmp/rd/probe_norm_small.py).
    const ROW: [i8; 8] = [-128, 0, 5, 127, 3, 3, -40, 90];

    #[test]
    fn int8_log_softmax_matches_tflm() {
        let (input_multiplier, input_left_shift, diff_min) =
            crate::ops::softmax::prepare_softmax_i8(1.0, 0.1).unwrap();
        let real = (1i64 << (31 - input_left_shift)) as f64 / input_multiplier as f64;
        let (divisor, rev_shift) = ferrite_core::quant::quantize_multiplier(real).unwrap();
        let p = LogSoftmaxI8 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            depth: 8,
            input_multiplier,
            input_left_shift,
            reverse_scaling_divisor: divisor,
            reverse_scaling_right_shift: -rev_shift,
            diff_min,
        };
        let mut out = [0i8; 8];
        log_softmax_i8(&p, &ROW, &mut out);
        assert_eq!(out, [-128, -77, -69, 127, -72, -72, -128, 67]);
    }

    #[test]
    fn int8_l2_norm_matches_tflm() {
        let p = L2NormI8 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 2,
            depth: 8,
            input_zero_point: 3,
        };
        let mut input = [3i8; 16];
        input[..8].copy_from_slice(&ROW);
        input[11] = 4;
        let mut out = [0i8; 16];
        l2_norm_i8(&p, &input, &mut out);
        assert_eq!(out[..8], [-82, -2, 1, 77, 0, 0, -27, 54]);
        // A row whose squares sum to 1 takes TFLM's `input <= 1` path.
        assert_eq!(out[8..], [0, 0, 0, 127, 0, 0, 0, 0]);
    }

    #[test]
    fn float_rows() {
        let p = LogSoftmaxF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            depth: 3,
        };
        let mut out = [0f32; 3];
        log_softmax_f32(&p, &[1.0, 2.0, 3.0], &mut out);
        let sum: f32 = out.iter().map(|v| libm::expf(*v)).sum();
        assert!((sum - 1.0).abs() < 1e-6);
        let p = L2NormF32 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 2,
            depth: 2,
        };
        let mut out = [0f32; 4];
        l2_norm_f32(&p, &[3.0, 4.0, 0.0, 0.0], &mut out);
        // The zero row divides by the 1e-6 floor.
        assert_eq!(out, [0.6, 0.8, 0.0, 0.0]);
    }

    #[test]
    fn entries_check_their_parameters() {
        let tensors = [
            Tensor {
                offset: 0,
                dtype: DType::I8,
                shape: Shape::new(&[8]),
                scale: 0.1,
                zero_point: 0,
            },
            Tensor {
                offset: 16,
                dtype: DType::I8,
                shape: Shape::new(&[8]),
                scale: 0.1,
                zero_point: 0,
            },
        ];
        let bad_rows = L2NormI8 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 3,
            depth: 3,
            input_zero_point: 0,
        };
        let bad_shift = LogSoftmaxI8 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            depth: 8,
            input_multiplier: 1 << 30,
            input_left_shift: 0,
            reverse_scaling_divisor: 1 << 30,
            reverse_scaling_right_shift: 3,
            diff_min: -100,
        };
        let cases: [(Op, ferrite_core::KernelFn); 2] = [
            (Op::L2NormI8(bad_rows), run_l2_norm_i8),
            (Op::LogSoftmaxI8(bad_shift), run_log_softmax_i8),
        ];
        for (op, kernel) in cases {
            let layers = [Layer {
                op,
                kernel,
                name: "NORM",
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
            assert!(matches!(
                model.invoke(arena.as_mut_slice()),
                Err(Error::InvalidLayer { layer: 0, .. })
            ));
        }
    }

    proptest::proptest! {
        /// The fixed-point helpers are total: any input gives a number, never a panic.
        #[test]
        fn fixed_point_helpers_never_panic(x: i32, row in proptest::array::uniform8(proptest::num::i8::ANY), zp in -128i32..128) {
            let _ = log_x_ge_1(x);
            let _ = inv_sqrt_multiplier(x);
            let p = L2NormI8 { input: TensorId(0), output: TensorId(1), outer: 1, depth: 8, input_zero_point: zp };
            let mut out = [0i8; 8];
            l2_norm_i8(&p, &row, &mut out);
        }
    }
}
