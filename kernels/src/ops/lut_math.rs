//! Int8 elementwise math as 256-entry tables for [`super::lut::run_lut_i8`]: ABS, RSQRT and
//! ELU, whose TFLM int8 results depend on the one input byte only, and LOGICAL_NOT (a bool is
//! a byte too).
//!
//! Each builder runs TFLM's own int8 arithmetic on every possible input, including the
//! parameter derivation of its `Prepare` (which values go through `float`, which through
//! `double`), so the table is exact by construction; the converter calls them once per layer.
//! A builder returns `None` where TFLM's `Prepare` fails or its arithmetic is undefined (a
//! scale that is zero, negative, NaN or infinite; a multiplier out of range).

use super::lut::TABLE_LEN;
use ferrite_core::fixed::{
    multiply_by_quantized_multiplier, saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
};
use ferrite_core::quant::{quantize_multiplier, QParams};

/// True for a scale TFLite can use: positive and finite.
fn valid_scale(scale: f32) -> bool {
    scale > 0.0 && scale.is_finite()
}

/// A table from `f`, which maps an input value in `-128..=127` to its output.
// Bounds: a `u8` index is below `TABLE_LEN` (256), the table's length.
#[allow(clippy::indexing_slicing)]
fn build(mut f: impl FnMut(i32) -> i32) -> [i8; TABLE_LEN] {
    let mut table = [0i8; TABLE_LEN];
    for x in i8::MIN..=i8::MAX {
        table[x as u8 as usize] = f(x as i32).clamp(i8::MIN as i32, i8::MAX as i32) as i8;
    }
    table
}

/// ABS, as TFLM's int8 kernel (`elementwise.cc` `AbsEvalQuantized`): `|x - input_zp|`, then
/// the output zero point, rescaled by `input_scale / output_scale` (a double division) only
/// when the two scales differ.
pub fn abs_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    let rescale = abs_rescale(input, output)?;
    Some(build(|x| {
        abs_element(x, input.zero_point, rescale, output.zero_point)
    }))
}

/// ABS's rescale (TFLM `SetAbsOutputMultiplier`): `Some(None)` when the scales are equal
/// (no rescale), `Some(Some((multiplier, shift)))` for `input_scale / output_scale` in double;
/// `None` for an invalid scale.
pub fn abs_rescale(input: QParams, output: QParams) -> Option<Option<(i32, i32)>> {
    if !valid_scale(input.scale) || !valid_scale(output.scale) {
        return None;
    }
    if input.scale == output.scale {
        return Some(None);
    }
    Some(Some(quantize_multiplier(
        input.scale as f64 / output.scale as f64,
    )?))
}

/// One quantized ABS value (TFLM `AbsEvalQuantized`) before the clamp to the output type.
#[inline(always)]
pub fn abs_element(
    x: i32,
    input_zero_point: i32,
    rescale: Option<(i32, i32)>,
    output_zero_point: i32,
) -> i32 {
    let value = x.wrapping_sub(input_zero_point).wrapping_abs();
    let scaled = match rescale {
        Some((m, s)) => multiply_by_quantized_multiplier(value, m, s),
        None => value,
    };
    scaled.wrapping_add(output_zero_point)
}

/// TFLite `GetInvSqrtQuantizedMultiplierExp(input, reverse_shift)`: `1 / sqrt(input)` as a
/// Q0.31 multiplier and a shift, by five Newton-Raphson steps in gemmlowp's Q3.28.
/// Inputs up to 1 (0 included) give `(i32::MAX, 0)`.
pub fn inv_sqrt_quantized_multiplier_exp(input: i32, reverse_shift: i32) -> (i32, i32) {
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
    // Q3.28 arithmetic: a product of Qa and Qb is Q(a+b), `Rescale` brings it back.
    let mul = saturating_rounding_doubling_high_mul;
    let fixedpoint_input = input >> 1;
    let half_input = saturating_rounding_multiply_by_pot(fixedpoint_input, -1);
    const HALF_THREE: i32 = (1 << 28) + (1 << 27);
    let mut x = 1i32 << 28;
    for _ in 0..5 {
        let x3 = saturating_rounding_multiply_by_pot(mul(mul(x, x), x), 6);
        let d = mul(HALF_THREE, x).wrapping_sub(mul(half_input, x3));
        x = saturating_rounding_multiply_by_pot(d, 3);
    }
    const HALF_SQRT_2: i32 = 1_518_500_250;
    let mut inv = mul(x, HALF_SQRT_2);
    if shift < 0 {
        inv = inv.wrapping_shl(shift.wrapping_neg() as u32);
        shift = 0;
    }
    (inv, shift.wrapping_mul(reverse_shift))
}

/// RSQRT, as TFLM's int8 kernel (`elementwise.cc` `RsqrtEvalQuantized`): the output
/// multiplier is `1 / (sqrt(input_scale) * output_scale)` in double; each input's offset
/// value `v` goes through [`inv_sqrt_quantized_multiplier_exp`], is applied to 1 with 20 bits
/// of headroom and rescaled; `v == 0` gives 127.
///
/// TFLM fails the invocation when an input lies below the zero point (a negative real
/// value); a table cannot fail, so those entries hold what TFLM's arithmetic yields without
/// that check (`v <= 1` takes the `(i32::MAX, 0)` branch).
pub fn rsqrt_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    let (multiplier, shift) = rsqrt_multiplier(input, output)?;
    Some(build(|x| {
        rsqrt_element(
            x.wrapping_sub(input.zero_point),
            multiplier,
            shift,
            output.zero_point,
            i8::MAX as i32,
        )
    }))
}

/// RSQRT's output multiplier (TFLM `SetRsqrtOutputMultiplier`): `1 / (sqrt(input_scale) *
/// output_scale)` in double; `None` for an invalid scale or multiplier.
pub fn rsqrt_multiplier(input: QParams, output: QParams) -> Option<(i32, i32)> {
    if !valid_scale(input.scale) || !valid_scale(output.scale) {
        return None;
    }
    quantize_multiplier(1.0 / (libm::sqrt(input.scale as f64) * output.scale as f64))
}

/// One quantized RSQRT value (TFLM `RsqrtEvalQuantized`) of `value = x - input_zero_point`
/// (non-negative: TFLM fails on negative inputs), before the clamp to the output type: a zero
/// input gives the type's `max` (TFLM's stand-in for infinity), others `1/sqrt` by
/// `GetInvSqrtQuantizedMultiplierExp` with 20 guard bits, rescaled, plus the output zero point.
#[inline(always)]
pub fn rsqrt_element(
    value: i32,
    multiplier: i32,
    shift: i32,
    output_zero_point: i32,
    max: i32,
) -> i32 {
    const K_SHIFT: i32 = 20;
    if value == 0 {
        return max;
    }
    let (inv, inv_shift) = inv_sqrt_quantized_multiplier_exp(value, -1);
    let data = multiply_by_quantized_multiplier(1, inv, inv_shift.wrapping_add(K_SHIFT));
    multiply_by_quantized_multiplier(data, multiplier, shift.wrapping_sub(K_SHIFT))
        .wrapping_add(output_zero_point)
}

/// ELU, as TFLM's int8 kernel (`elu.cc` `PopulateLookupTable`, which builds the very same
/// table in float): dequantize (`input_scale * (x - zp)` in `f32`), `x < 0 ? expf(x) - 1 : x`,
/// multiply by `1 / output_scale` (an `f32` reciprocal), round half away from zero, add the
/// output zero point in `f32` and convert.
pub fn elu_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid_scale(input.scale) || !valid_scale(output.scale) {
        return None;
    }
    let inverse_scale = 1.0f32 / output.scale;
    Some(build(|x| {
        let dequantized = input.scale * (x - input.zero_point) as f32;
        let transformed = if dequantized < 0.0 {
            libm::expf(dequantized) - 1.0
        } else {
            dequantized
        };
        let rescaled = libm::roundf(transformed * inverse_scale);
        // A float-to-int conversion that saturates: TFLM's is undefined out of range.
        (rescaled + output.zero_point as f32) as i32
    }))
}

/// LOGICAL_NOT on bool bytes: 1 for 0, 0 for anything else.
// Bounds: a `u8` index is below `TABLE_LEN` (256), the table's length.
#[allow(clippy::indexing_slicing)]
pub fn logical_not_table() -> [i8; TABLE_LEN] {
    let mut table = [0i8; TABLE_LEN];
    table[0] = 1;
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    fn at(table: &[i8; TABLE_LEN], x: i8) -> i8 {
        table[x as u8 as usize]
    }

    #[test]
    fn abs_without_rescale_is_the_offset_magnitude() {
        let t = abs_table(q(0.1, -3), q(0.1, 5)).unwrap();
        assert_eq!(at(&t, -3), 5);
        assert_eq!(at(&t, -13), 15);
        assert_eq!(at(&t, 7), 15);
        assert_eq!(at(&t, 127), 127); // 130 + 5 clamps
    }

    #[test]
    fn abs_with_rescale_halves() {
        let t = abs_table(q(0.1, 0), q(0.2, 0)).unwrap();
        assert_eq!(at(&t, -10), 5);
        assert_eq!(at(&t, 11), 6); // 5.5 rounds away from zero
        assert_eq!(at(&t, -128), 64);
    }

    #[test]
    fn inv_sqrt_approximates() {
        for v in [2, 3, 4, 10, 100, 255, 1000, 1 << 20, i32::MAX] {
            let (m, s) = inv_sqrt_quantized_multiplier_exp(v, -1);
            // `m * 2^-31 * 2^s`, and the kernel applies it to 1 with 20 bits of headroom.
            let got = m as f64 / 2f64.powi(31) * 2f64.powi(s);
            let want = 1.0 / (v as f64).sqrt();
            assert!((got - want).abs() / want < 1e-5, "{v}: {got} vs {want}");
        }
        assert_eq!(inv_sqrt_quantized_multiplier_exp(1, -1), (i32::MAX, 0));
        assert_eq!(inv_sqrt_quantized_multiplier_exp(0, -1), (i32::MAX, 0));
    }

    #[test]
    fn rsqrt_tracks_the_real_function() {
        let (qi, qo) = (q(0.05, -100), q(0.02, -128));
        let t = rsqrt_table(qi, qo).unwrap();
        assert_eq!(at(&t, -100), 127);
        for x in -99i32..=127 {
            let real = 1.0 / ((x + 100) as f64 * 0.05).sqrt();
            let want = ((real / 0.02).round() - 128.0).clamp(-128.0, 127.0);
            let got = at(&t, x as i8) as f64;
            assert!((got - want).abs() <= 1.0, "{x}: {got} vs {want}");
        }
    }

    #[test]
    fn elu_follows_the_float_formula() {
        let (qi, qo) = (q(0.05, 0), q(0.02, 10));
        let t = elu_table(qi, qo).unwrap();
        assert_eq!(at(&t, 0), 10);
        assert_eq!(at(&t, 2), 15); // 0.1 / 0.02 = 5
        let neg = libm::roundf((libm::expf(-1.0) - 1.0) / 0.02) as i32 + 10;
        assert_eq!(at(&t, -20) as i32, neg);
        assert_eq!(elu_table(q(0.0, 0), qo), None);
    }

    #[test]
    fn logical_not_flips_bools() {
        let t = logical_not_table();
        assert_eq!((at(&t, 0), at(&t, 1), at(&t, 2)), (1, 0, 0));
    }
}
