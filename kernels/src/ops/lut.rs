//! Int8 elementwise functions as 256-entry tables, plus QUANTIZE and DEQUANTIZE.
//!
//! Every int8 → int8 elementwise operator (LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU,
//! RELU6, RELU_N1_TO_1, requantizing QUANTIZE) is a pure function of one int8 value, so the
//! converter evaluates it once per possible input with the *table builders* below and the
//! device runs one load per element ([`run_lut_i8`]). Each builder reproduces, bit for bit,
//! what TFLite Micro's int8 kernel computes — including the parameter derivation its
//! `Prepare` does (which values go through `float`, which through `double`), because that is
//! where most mismatches hide. The builders are `no_std` and use `libm` so the converter and
//! tests share them.
//!
//! A builder returns `None` where TFLM's `Prepare` fails (for instance LOGISTIC with an output
//! zero point other than -128) or where its arithmetic would be undefined (a scale that is
//! zero, negative, NaN or so extreme that a shift leaves the range C++ defines).

use crate::util::{check_len, expect_op};
use ferrite_core::fixed::{
    logistic, multiply_by_quantized_multiplier, rounding_divide_by_pot, tanh,
};
use ferrite_core::model::cast_out;
use ferrite_core::ops::Op;
use ferrite_core::quant::{quantize_multiplier, QParams};
use ferrite_core::{Ctx, Result};

/// Number of entries of every int8 lookup table.
pub const TABLE_LEN: usize = 256;

/// Kernel entry for [`Op::LutI8`]: `output[i] = table[input[i] as u8]`.
pub fn run_lut_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LutI8);
    let table = ctx.consts(p.table)?;
    let layer = ctx.layer;
    let table: &[i8; TABLE_LEN] = table
        .try_into()
        .map_err(|_| ctx.error("lookup table must have 256 entries"))?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    lut_i8(table, input, output);
    Ok(())
}

/// Reference table lookup: `output[i] = table[input[i] as u8]` (TFLite's `LUTLookup` for
/// int8, whose tables are indexed by the input's two's-complement byte).
///
/// Processes `min(input.len(), output.len())` elements.
// Bounds: a `u8` index is below `TABLE_LEN` (256), the table's length.
#[allow(clippy::indexing_slicing)]
pub fn lut_i8(table: &[i8; TABLE_LEN], input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = table[x as u8 as usize];
    }
}

/// Kernel entry for [`Op::DequantizeI8`]: int8 → f32 through a 256-entry table.
pub fn run_dequantize_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DequantizeI8);
    let table = ctx.consts(p.table)?;
    let layer = ctx.layer;
    let table: &[f32; TABLE_LEN] = table
        .try_into()
        .map_err(|_| ctx.error("dequantize table must have 256 entries"))?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    dequantize_i8(table, input, output);
    Ok(())
}

/// Reference DEQUANTIZE by table: `output[i] = table[input[i] as u8]`, with the table from
/// [`dequantize_table`]. Processes `min(input.len(), output.len())` elements.
// Bounds: a `u8` index is below `TABLE_LEN` (256), the table's length.
#[allow(clippy::indexing_slicing)]
pub fn dequantize_i8(table: &[f32; TABLE_LEN], input: &[i8], output: &mut [f32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = table[x as u8 as usize];
    }
}

/// Kernel entry for [`Op::QuantizeF32`]: f32 → int8.
pub fn run_quantize_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, QuantizeF32);
    let layer = ctx.layer;
    if !(p.scale > 0.0 && p.scale.is_finite()) {
        return Err(ctx.error("quantize scale must be positive and finite"));
    }
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    quantize_f32(p.scale, p.zero_point, input, output);
    Ok(())
}

/// Reference f32 → int8 QUANTIZE (TFLM `reference_ops::AffineQuantize`):
/// `clamp(round(x / scale) + zero_point, -128, 127)`, the division in `f32` (TFLM casts its
/// `double` scale back to `float`) and the rounding half away from zero (`TfLiteRound`).
///
/// Quotients beyond the `i32` range (and infinities) saturate and NaN counts as 0, as the
/// float-to-int conversion of Arm cores does; C++ leaves these cases undefined and an x86 host
/// build of TFLM yields -128 for all of them. Processes `min(input.len(), output.len())`
/// elements.
pub fn quantize_f32(scale: f32, zero_point: i32, input: &[f32], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = clamp_i8(affine_quantize(x, scale, zero_point));
    }
}

/// `round(x / scale) + zero_point` before the clamp to the output type: the division in
/// `f32`, rounding half away from zero, saturating in `i32` (see [`quantize_f32`]).
#[inline(always)]
fn affine_quantize(x: f32, scale: f32, zero_point: i32) -> i32 {
    (libm::roundf(x / scale) as i32).saturating_add(zero_point)
}

/// Kernel entry for [`Op::QuantizeF32I16`]: f32 → int16, [`quantize_f32`]'s arithmetic
/// clamped to the int16 range.
pub fn run_quantize_f32_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, QuantizeF32I16);
    let layer = ctx.layer;
    if !(p.scale > 0.0 && p.scale.is_finite()) {
        return Err(ctx.error("quantize scale must be positive and finite"));
    }
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = affine_quantize(x, p.scale, p.zero_point).clamp(i16::MIN as i32, i16::MAX as i32)
            as i16;
    }
    Ok(())
}

/// Kernel entry for [`Op::DequantizeI16`]: int16 → f32, `(x - zero_point) * scale`.
///
/// TFLM multiplies in double and rounds to float; `x - zero_point` has at most 17 bits and the
/// scale 24, so the double product is exact and one f32 multiplication rounds it the same way.
pub fn run_dequantize_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DequantizeI16);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = (x as i32).wrapping_sub(p.zero_point) as f32 * p.scale;
    }
    Ok(())
}

/// `min(max(v, -128), 127)` as an `i8`.
#[inline(always)]
fn clamp_i8(v: i32) -> i8 {
    v.clamp(i8::MIN as i32, i8::MAX as i32) as i8
}

/// True for a scale TFLite can use: positive and finite.
fn valid_scale(scale: f32) -> bool {
    scale > 0.0 && scale.is_finite()
}

/// True when both tensors have usable scales.
fn valid(input: QParams, output: QParams) -> bool {
    valid_scale(input.scale) && valid_scale(output.scale)
}

/// Builds a table from `f`, which maps an input value in `-128..=127` to its output.
// Bounds: a `u8` index is below `TABLE_LEN` (256), the table's length.
#[allow(clippy::indexing_slicing)]
fn build(mut f: impl FnMut(i32) -> i8) -> [i8; TABLE_LEN] {
    let mut table = [0i8; TABLE_LEN];
    for x in i8::MIN..=i8::MAX {
        table[x as u8 as usize] = f(x as i32);
    }
    table
}

/// The int8 input rescaling shared by TFLM's LOGISTIC and TANH `Prepare`: the input scale
/// times `2^27` (Q4.27 input, `kInputIntegerBits = 4`) split by `frexp` into a Q0.31
/// multiplier and a shift, and the input radius beyond which the output saturates.
///
/// Returns `(multiplier, shift, radius)`, or `None` when the shift leaves `0..=62`, where
/// `CalculateInputRadius`'s `1LL << shift` is undefined (input scales below `2^-28` or above
/// `2^35`).
fn sigmoid_input_params(scale: f32) -> Option<(i32, i32, i32)> {
    if !valid_scale(scale) {
        return None;
    }
    // Computed in double, exactly as TFLM: `scale * (1 << (31 - 4))`.
    let real = scale as f64 * (1u64 << 27) as f64;
    let (q, shift) = libm::frexp(real);
    if !(0..=62).contains(&shift) {
        return None;
    }
    // TFLM rounds without the `q_fixed == 2^31` renormalisation of QuantizeMultiplier; `q`
    // carries a float's 24-bit mantissa, so the product is an exact integer below 2^31.
    let multiplier = i32::try_from(libm::round(q * (1u64 << 31) as f64) as i64).ok()?;
    Some((multiplier, shift, input_radius(4, shift)))
}

/// TFLite `CalculateInputRadius(integer_bits, left_shift, 31)`, in double as TFLM computes
/// it; `left_shift` must be in `0..=62`.
fn input_radius(integer_bits: i32, left_shift: i32) -> i32 {
    let max_input_rescaled = ((1i64 << integer_bits) - 1) as f64
        * (1i64 << (31 - integer_bits)) as f64
        / (1i64 << (left_shift & 63)) as f64;
    libm::floor(max_input_rescaled) as i32
}

/// LOGISTIC, as TFLM's int8 kernel (`logistic_common.cc` + `reference_integer_ops::Logistic`):
/// the input rescaled to Q4.27, gemmlowp's fixed-point `logistic`, then `Q0.31 → /2^23 - 128`.
///
/// TFLM requires an output zero point of -128 (else `None`) but never reads the output scale:
/// the result is always on the scale 1/256, so the converter must check that the output
/// tensor's scale is 1/256 or the model's float semantics differ from what TFLM runs.
pub fn logistic_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) || output.zero_point != -128 {
        return None;
    }
    let (multiplier, shift, radius) = sigmoid_input_params(input.scale)?;
    Some(build(|x| {
        let v = x.wrapping_sub(input.zero_point);
        if v <= radius.wrapping_neg() {
            i8::MIN
        } else if v >= radius {
            i8::MAX
        } else {
            // |v| < radius, so `v << shift` fits (the radius was chosen for that).
            let q4 = multiply_by_quantized_multiplier(v, multiplier, shift);
            let q0 = logistic(q4, 4);
            clamp_i8(rounding_divide_by_pot(q0, 31 - 8).wrapping_sub(128))
        }
    }))
}

/// TANH, as TFLM's int8 kernel (`tanh.cc` + `reference_integer_ops::Tanh`): the input
/// rescaled to Q4.27, gemmlowp's fixed-point `tanh`, then `Q0.31 → /2^24`.
///
/// TFLM reads neither the output scale nor its zero point: the result is always on the scale
/// 1/128 with zero point 0, so the converter must check the output tensor has exactly those.
pub fn tanh_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) {
        return None;
    }
    let (multiplier, shift, radius) = sigmoid_input_params(input.scale)?;
    Some(build(|x| {
        let v = x.wrapping_sub(input.zero_point);
        if v <= radius.wrapping_neg() {
            i8::MIN
        } else if v >= radius {
            i8::MAX
        } else {
            let q4 = multiply_by_quantized_multiplier(v, multiplier, shift);
            let q0 = tanh(q4, 4);
            clamp_i8(rounding_divide_by_pot(q0, 31 - 7))
        }
    }))
}

/// RELU, as TFLM's int8 kernel (`activations_common.cc` `CalculateReluOpData` +
/// `ReluQuantized`): requantize by `input_scale / output_scale` (a double division), add the
/// output zero point, clamp below at `max(-128, output zero point)`.
///
/// Input and output scales may differ.
pub fn relu_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) {
        return None;
    }
    let (multiplier, shift) = quantize_multiplier(input.scale as f64 / output.scale as f64)?;
    // `output_zero_point + roundf(0.0f / output_scale)`.
    let act_min = (i8::MIN as i32).max(output.zero_point);
    let act_max = i8::MAX as i32;
    Some(build(|x| {
        let v = output
            .zero_point
            .saturating_add(multiply_by_quantized_multiplier(
                x.wrapping_sub(input.zero_point),
                multiplier,
                shift,
            ));
        // `min(max(v, act_min), act_max)` in that order: `clamp` would panic if a zero point
        // above 127 made `act_min > act_max`.
        v.max(act_min).min(act_max) as i8
    }))
}

/// RELU6, as TFLM's int8 kernel (`Relu6Prepare` + `Relu6Quantized`): clamps the *input* values
/// between the input zero point and `round(6 / input_scale) + input_zero_point`; there is no
/// requantization.
///
/// TFLM ignores the output's quantization entirely (TFLite proper requantizes). The TFLite
/// converter does give a standalone RELU6 an output scale different from its input's (input
/// range [-8, 8] gives 0.0627/-1 in, 0.0235/-128 out), and TFLM then returns input-scale codes
/// read as output-scale codes: this table reproduces that, bit for bit. `None` when
/// `6 / input_scale` overflows `i32` (undefined in TFLM).
pub fn relu6_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) {
        return None;
    }
    let zero = input.zero_point as i8; // TFLM stores it in an `int8_t`
    let six = float_to_quantized_i8(6.0, input.scale, input.zero_point)?;
    Some(build(|x| {
        let x = x as i8;
        if x > six {
            six
        } else if x < zero {
            zero
        } else {
            x
        }
    }))
}

/// TFLM `FloatToQuantizedType<int8_t>`: `clamp(round(value / scale) + zero_point)`, the
/// division in `f32`. `None` when the rounded quotient does not fit an `i32`.
fn float_to_quantized_i8(value: f32, scale: f32, zero_point: i32) -> Option<i8> {
    let q = libm::roundf(value / scale);
    if !(q >= i32::MIN as f32 && q < i32::MAX as f32) {
        return None;
    }
    Some(clamp_i8((q as i32).saturating_add(zero_point)))
}

/// RELU_N1_TO_1. TFLM has no kernel for it (its op resolver rejects the operator), so this
/// follows TFLite's int8 kernel (`activations.cc` `ReluN1To1Eval` → `QuantizedReluX` with the
/// range `[-1, 1]`): requantize by `input_scale / output_scale` (double division), add the
/// output zero point and clamp to `[max(-128, zp + round(-1 / s)), min(127, zp + round(1 / s))]`
/// with `s` the output scale (`f32` division).
pub fn relu_n1_to_1_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) {
        return None;
    }
    let (multiplier, shift) = quantize_multiplier(input.scale as f64 / output.scale as f64)?;
    let bound = |f: f32| {
        let q = libm::roundf(f / output.scale);
        (q >= i32::MIN as f32 && q < i32::MAX as f32)
            .then(|| output.zero_point.saturating_add(q as i32))
    };
    let act_min = (i8::MIN as i32).max(bound(-1.0)?);
    let act_max = (i8::MAX as i32).min(bound(1.0)?);
    Some(build(|x| {
        let v = output
            .zero_point
            .saturating_add(multiply_by_quantized_multiplier(
                x.wrapping_sub(input.zero_point),
                multiplier,
                shift,
            ));
        v.max(act_min).min(act_max) as i8
    }))
}

/// LEAKY_RELU, as TFLM's int8 kernel (`leaky_relu_common.cc` + `QuantizeLeakyRelu`): inputs at
/// or above the zero point are requantized by `input_scale / output_scale`, the others by
/// `input_scale * alpha / output_scale`, both multipliers computed in double.
///
/// `alpha` may exceed 1 or be negative. For a negative `alpha` TFLM quantizes the negative
/// multiplier, then multiplies by its magnitude and negates the product, which rounds
/// differently from multiplying by the negative multiplier directly.
pub fn leaky_relu_table(alpha: f32, input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) || !alpha.is_finite() {
        return None;
    }
    let alpha_real = input.scale as f64 * alpha as f64 / output.scale as f64;
    let identity_real = input.scale as f64 / output.scale as f64;
    let (alpha_mul, alpha_shift) = quantize_multiplier_signed(alpha_real)?;
    let (id_mul, id_shift) = quantize_multiplier(identity_real)?;
    let alpha_negative = alpha_mul < 0;
    let alpha_magnitude = alpha_mul.wrapping_abs();
    Some(build(|x| {
        let v = x.wrapping_sub(input.zero_point);
        let scaled = if v >= 0 {
            multiply_by_quantized_multiplier(v, id_mul, id_shift)
        } else {
            let s = multiply_by_quantized_multiplier(v, alpha_magnitude, alpha_shift);
            if alpha_negative {
                s.wrapping_neg()
            } else {
                s
            }
        };
        clamp_i8(output.zero_point.saturating_add(scaled))
    }))
}

/// TFLite `QuantizeMultiplier` extended to negative multipliers, as LEAKY_RELU's `Prepare`
/// calls it for a negative `alpha`: `frexp` keeps the sign in the mantissa, so the Q0.31
/// multiplier comes out negative. `None` for non-finite values or a shift above 31.
pub(crate) fn quantize_multiplier_signed(m: f64) -> Option<(i32, i32)> {
    if m >= 0.0 {
        return quantize_multiplier(m);
    }
    if !m.is_finite() {
        return None;
    }
    let (q, mut shift) = libm::frexp(m);
    // TfLiteRound rounds half away from zero; q is in (-1, -0.5], so this is >= -2^31.
    // Unlike +2^31, TFLM does not renormalise -2^31 (it fits an int32_t); its negation in
    // `QuantizeLeakyRelu` then wraps, which `wrapping_abs` mirrors.
    let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    if shift > 31 {
        return None;
    }
    Some((i32::try_from(q_fixed).ok()?, shift))
}

/// Int8 → int8 QUANTIZE (requantization), as TFLM's kernel (`quantize_common.cc` +
/// `reference_ops::Requantize`): `clamp(MBQM(x - input_zp, input_scale / output_scale) +
/// output_zp)`, the scale ratio in double.
pub fn requantize_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) {
        return None;
    }
    let (multiplier, shift) = quantize_multiplier(input.scale as f64 / output.scale as f64)?;
    Some(build(|x| {
        let v =
            multiply_by_quantized_multiplier(x.wrapping_sub(input.zero_point), multiplier, shift);
        clamp_i8(v.saturating_add(output.zero_point))
    }))
}

/// HARD_SWISH, as TFLM's int8 kernel (`hard_swish_common.cc` + `reference_ops::HardSwish`):
/// 16-bit fixed point throughout, with multipliers from `QuantizeMultiplier` reduced to Q0.15
/// (`DownScaleInt32ToInt16Multiplier`) and every 16-bit truncation of the C++ reproduced.
///
/// The multipliers `(input_scale / 128) / output_scale` and `(input_scale / 128) / (3 / 32768)`
/// are divided in double: older TFLM sources divide the `float`s, but the TFLM this was checked
/// against (commit 8f6596d) disagrees with the `float` division on some scales.
///
/// `None` when the output multiplier needs a left shift (TFLM's `Prepare` fails) or the
/// relu-ish multiplier's shift exceeds 31.
pub fn hard_swish_table(input: QParams, output: QParams) -> Option<[i8; TABLE_LEN]> {
    if !valid(input, output) {
        return None;
    }
    // The scales are `float`s (the `1/128` product is exact); the divisions are in double.
    let hires_input_scale = ((1.0f32 / 128.0) * input.scale) as f64;
    let reluish_scale = (3.0f32 / 32768.0) as f64;
    let (out_mul32, out_exp) = quantize_multiplier(hires_input_scale / output.scale as f64)?;
    if out_exp > 0 {
        return None;
    }
    let (reluish_mul32, reluish_exp) = quantize_multiplier(hires_input_scale / reluish_scale)?;
    let out_mul = downscale_multiplier_to_i16(out_mul32);
    let reluish_mul = downscale_multiplier_to_i16(reluish_mul32);
    Some(build(|x| {
        // `int16_t input_value = input - zero_point` and `int16_t hires = input_value * 128`:
        // both narrow (wrapping) to 16 bits in the C++.
        let input_value = x.wrapping_sub(input.zero_point) as i16;
        let hires = (input_value as i32).wrapping_mul(1 << 7) as i16;
        let preshift_output = srdhm_i16(hires, out_mul);
        let mut reluish = hires;
        if reluish_exp > 0 {
            reluish = saturating_left_shift_i16(reluish, reluish_exp - 1);
        }
        reluish = srdhm_i16(reluish, reluish_mul);
        if reluish_exp > 0 {
            reluish = saturating_left_shift_i16(reluish, 1);
        }
        if reluish_exp < 0 {
            reluish = rounding_divide_by_pot_i16(reluish, -reluish_exp);
        }
        // From [-1, 1] to [0, 1] in Q0.15.
        reluish = ((reluish as i32 + (1 << 15)) >> 1) as i16;
        let preshift = sdhm_i16(reluish, preshift_output);
        let mut out = rounding_divide_by_pot_i16(preshift, -out_exp);
        // `int16_t += int32_t zero point` narrows again.
        out = (out as i32).wrapping_add(output.zero_point) as i16;
        out.min(i8::MAX as i16).max(i8::MIN as i16) as i8
    }))
}

/// TFLite `DownScaleInt32ToInt16Multiplier`: a non-negative Q0.31 multiplier rounded to Q0.15.
fn downscale_multiplier_to_i16(m: i32) -> i16 {
    const ROUNDING: i32 = 1 << 15;
    if m >= i32::MAX - ROUNDING {
        return i16::MAX;
    }
    (m.wrapping_add(ROUNDING) >> 16) as i16
}

/// gemmlowp `SaturatingRoundingDoublingHighMul<int16_t>`: `round(a * b / 2^15)`, ties away
/// from zero, saturating `-1 * -1`.
fn srdhm_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = a as i32 * b as i32;
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    // Division truncating toward zero, as C++.
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite's `SaturatingDoublingHighMul` (hard_swish.h): like [`srdhm_i16`] but truncating
/// toward zero (Arm `SQDMULH`), which TFLite uses to cancel the rounding bias.
fn sdhm_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((a as i32 * b as i32) / (1 << 15)) as i16
}

/// gemmlowp `RoundingDivideByPOT<int16_t>` for `exponent` in `0..=31`, with the C++'s 16-bit
/// narrowing: from exponent 16 on, the mask `(1 << exponent) - 1` truncates to -1.
fn rounding_divide_by_pot_i16(x: i16, exponent: i32) -> i16 {
    let e = exponent.clamp(0, 31) as u32;
    let mask = ((1i64 << e) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add(i16::from(x < 0));
    (((x as i32) >> e) as i16).wrapping_add(i16::from(remainder > threshold))
}

/// TFLite's `SaturatingLeftShift` (hard_swish.h): `value * 2^amount` saturated to 16 bits;
/// `amount` is in `0..=30`.
fn saturating_left_shift_i16(value: i16, amount: i32) -> i16 {
    let result = (value as i64) << amount.clamp(0, 30);
    result.clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

/// DEQUANTIZE table, as TFLM's int8 → f32 kernel (`reference_ops::Dequantize`):
/// `scale * (x - zero_point)`, a single-precision product.
// Bounds: a `u8` index is below `TABLE_LEN` (256), the table's length.
#[allow(clippy::indexing_slicing)]
pub fn dequantize_table(input: QParams) -> [f32; TABLE_LEN] {
    let mut table = [0f32; TABLE_LEN];
    for x in i8::MIN..=i8::MAX {
        table[x as u8 as usize] = input.scale * (x as i32).wrapping_sub(input.zero_point) as f32;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::{DequantizeI8, LutI8, QuantizeF32};
    use ferrite_core::{Arena, ConstRef, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    fn qp(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    /// The table's output for input `x`.
    fn at(table: &[i8; TABLE_LEN], x: i8) -> i8 {
        table[x as u8 as usize]
    }

    /// Outputs for inputs -128, -127, ..., 127 (natural order).
    fn ordered(table: &[i8; TABLE_LEN]) -> [i8; TABLE_LEN] {
        core::array::from_fn(|i| table[(i as i32 - 128) as i8 as u8 as usize])
    }

    #[test]
    fn lut_indexes_by_twos_complement_byte() {
        let table: [i8; TABLE_LEN] = core::array::from_fn(|i| (i as i32 - 128) as i8);
        let mut out = [0i8; 4];
        lut_i8(&table, &[0, 1, -1, -128], &mut out);
        assert_eq!(out, [-128, -127, 127, 0]);
    }

    #[test]
    fn logistic_matches_tflm() {
        // Expected values come from TFLM (tflite_micro 0.dev20261023, commit 8f6596d),
        // LOGISTIC on all 256 inputs, input scale 0.05 / zero point 3, output 1/256, -128.
        let t = logistic_table(qp(0.05, 3), qp(1.0 / 256.0, -128)).unwrap();
        let o = ordered(&t);
        assert_eq!(&o[..8], &[-128, -128, -128, -128, -128, -128, -128, -127]);
        assert_eq!(at(&t, 3), 0); // the zero point maps to 0.5
        assert_eq!(at(&t, 127), 127);
        // Output zero point other than -128: TFLM's Prepare fails.
        assert!(logistic_table(qp(0.05, 3), qp(1.0 / 256.0, 0)).is_none());
        assert!(logistic_table(qp(0.0, 3), qp(1.0 / 256.0, -128)).is_none());
        assert!(logistic_table(qp(f32::NAN, 3), qp(1.0 / 256.0, -128)).is_none());
    }

    /// Asserts `table[x] == y` for each `(x, y)`; `what` names the case in failures.
    fn assert_points(table: &[i8; TABLE_LEN], points: &[(i8, i8)], what: &str) {
        for &(x, y) in points {
            assert_eq!(at(table, x), y, "{what}: input {x}");
        }
    }

    // The expectations below come from TFLM itself (tflite_micro 0.dev20261023, commit
    // 8f6596d): single-operator int8 models with exactly these quantization parameters, run
    // on all 256 inputs through `tflite_micro.runtime.Interpreter`.

    #[test]
    fn tanh_matches_tflm() {
        // Scale 0.07408598 / zero point -84: most inputs saturate (|x| >= 8), where a Q4.27
        // doubling would overflow.
        let t = tanh_table(qp(0.074_085_98, -84), qp(1.0 / 128.0, 0)).unwrap();
        let pts = [
            (-128, -128),
            (-100, -106),
            (-54, 125),
            (-20, 127),
            (0, 127),
            (127, 127),
        ];
        assert_points(&t, &pts, "tanh 0.07408598/-84");
        // Scale 0.0235275 / zero point -1 (a converter-made model's input range [-3, 3]).
        let t = tanh_table(qp(0.023_527_5, -1), qp(1.0 / 128.0, 0)).unwrap();
        let pts = [
            (-128, -127),
            (-100, -126),
            (-54, -108),
            (-20, -54),
            (-1, 0),
            (0, 3),
            (1, 6),
            (20, 59),
            (60, 114),
            (100, 126),
            (127, 127),
        ];
        assert_points(&t, &pts, "tanh 0.0235275/-1");
    }

    #[test]
    fn logistic_matches_tflm_far_from_zero() {
        // Scale 0.0980264 / zero point 76.
        let t = logistic_table(qp(0.098_026_4, 76), qp(1.0 / 256.0, -128)).unwrap();
        let pts = [
            (-128, -128),
            (1, -128),
            (20, -127),
            (60, -84),
            (100, 106),
            (127, 126),
        ];
        assert_points(&t, &pts, "logistic 0.0980264/76");
    }

    #[test]
    fn hard_swish_matches_tflm() {
        // Scale 0.0014164927 / -107 → 0.00045538563 / 16: the float and double divisions of
        // the multipliers differ here, and TFLM follows the double one (input -54 → 100).
        let t = hard_swish_table(qp(0.001_416_492_7, -107), qp(0.000_455_385_63, 16)).unwrap();
        let pts = [(-128, -16), (-100, 27), (-54, 100), (-20, 127), (127, 127)];
        assert_points(&t, &pts, "hard_swish 0.0014164927/-107");
        // Scale 0.0627258 / -1 → 0.032836 / -117 (a converter-made model, range [-8, 8]).
        let t = hard_swish_table(qp(0.062_725_8, -1), qp(0.032_836, -117)).unwrap();
        let pts = [
            (-128, -117),
            (-54, -117),
            (-20, -128),
            (-1, -117),
            (0, -116),
            (1, -115),
            (20, -88),
            (60, 0),
            (100, 76),
            (127, 127),
        ];
        assert_points(&t, &pts, "hard_swish 0.0627258/-1");
        // An output multiplier above one: TFLM's Prepare fails.
        assert!(hard_swish_table(qp(1.0, 0), qp(0.001, 0)).is_none());
    }

    #[test]
    fn leaky_relu_matches_tflm() {
        // Negative alpha -0.5, scale 0.1, zero points 127 → -128: TFLM negates the product
        // with |alpha|, so -255 * -0.5 = 127.5 rounds to 127 (not 128): output -1.
        let t = leaky_relu_table(-0.5, qp(0.1, 127), qp(0.1, -128)).unwrap();
        let pts = [
            (-128, -1),
            (-100, -15),
            (-54, -38),
            (-1, -64),
            (0, -65),
            (127, -128),
        ];
        assert_points(&t, &pts, "leaky_relu -0.5");
        // alpha 1.7 on equal scales 0.00545054 / -57: the multiplier is computed in double
        // (in float it would be 1.6999999 and -92 would map to -116).
        let t = leaky_relu_table(1.7, qp(0.005_450_54, -57), qp(0.005_450_54, -57)).unwrap();
        let pts = [
            (-92, -117),
            (-91, -115),
            (-90, -113),
            (-80, -96),
            (-58, -59),
            (0, 0),
        ];
        assert_points(&t, &pts, "leaky_relu 1.7");
        // alpha 0.2, scale 0.0627148 / -1 → 0.037633 / -86.
        let t = leaky_relu_table(0.2, qp(0.062_714_8, -1), qp(0.037_633, -86)).unwrap();
        let pts = [
            (-128, -128),
            (-100, -119),
            (-54, -104),
            (0, -84),
            (60, 16),
            (127, 127),
        ];
        assert_points(&t, &pts, "leaky_relu 0.2");
    }

    #[test]
    fn relu_relu6_and_requantize_match_tflm() {
        // RELU 0.0980361 / 76 → 0.019606 / -128.
        let t = relu_table(qp(0.098_036_1, 76), qp(0.019_606, -128)).unwrap();
        assert_points(
            &t,
            &[(-128, -128), (60, -128), (100, -8), (127, 127)],
            "relu",
        );
        // RELU6 0.06273812 / -1 → 0.02352941 / -128 (what the TFLite converter emits for a
        // standalone ReLU6): TFLM clamps the raw input to [-1, 95] and ignores the output scale.
        let t = relu6_table(qp(0.062_738_12, -1), qp(0.023_529_41, -128)).unwrap();
        let pts = [
            (-128, -1),
            (-1, -1),
            (0, 0),
            (20, 20),
            (60, 60),
            (100, 95),
            (127, 95),
        ];
        assert_points(&t, &pts, "relu6");
        // QUANTIZE int8 → int8, 0.0156841 / -64 → 0.05 / 3.
        let t = requantize_table(qp(0.015_684_1, -64), qp(0.05, 3)).unwrap();
        let pts = [
            (-128, -17),
            (-100, -9),
            (-54, 6),
            (-1, 23),
            (0, 23),
            (1, 24),
            (127, 63),
        ];
        assert_points(&t, &pts, "requantize");
    }

    #[test]
    fn relu_n1_to_1_matches_tflite() {
        // TFLM has no RELU_N1_TO_1; these come from TFLite's interpreter (tensorflow 2.21,
        // BUILTIN_REF kernels) on the same single-operator models.
        let t = relu_n1_to_1_table(qp(0.02, 5), qp(1.0 / 128.0, 0)).unwrap();
        let pts = [
            (-128, -128),
            (-20, -64),
            (-1, -15),
            (0, -13),
            (1, -10),
            (20, 38),
            (60, 127),
        ];
        assert_points(&t, &pts, "relu_n1_to_1 0.02/5");
        let t = relu_n1_to_1_table(qp(0.05, -10), qp(0.011, 20)).unwrap();
        let pts = [
            (-128, -71),
            (-20, -25),
            (-1, 61),
            (0, 65),
            (1, 70),
            (20, 111),
            (127, 111),
        ];
        assert_points(&t, &pts, "relu_n1_to_1 0.05/-10");
    }

    #[test]
    fn relu_clamps_at_the_output_zero_point() {
        // Same scale: identity above the zero point.
        let t = relu_table(qp(0.1, -5), qp(0.1, -5)).unwrap();
        assert_eq!(at(&t, -100), -5);
        assert_eq!(at(&t, 7), 7);
        // A zero point above 127 must not panic (TFLM yields 127 everywhere).
        let t = relu_table(qp(0.1, 0), qp(0.1, 300)).unwrap();
        assert!(t.iter().all(|&v| v == 127));
    }

    #[test]
    fn relu6_ignores_the_output_scale() {
        let t = relu6_table(qp(0.05, -10), qp(99.0, 50)).unwrap();
        assert_eq!(at(&t, -128), -10);
        assert_eq!(at(&t, 20), 20);
        assert_eq!(at(&t, 110), 110); // round(6 / 0.05) - 10 = 110
        assert_eq!(at(&t, 111), 110);
    }

    #[test]
    fn int16_helpers_follow_gemmlowp() {
        assert_eq!(srdhm_i16(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(srdhm_i16(16384, 16384), 8192);
        assert_eq!(srdhm_i16(3, 16384), 2); // 1.5 rounds up...
        assert_eq!(srdhm_i16(-3, 16384), -1); // ...and so does -1.5 (Arm VQRDMULH)
        assert_eq!(srdhm_i16(-5, 16384), -2); // -2.5 -> -2
        assert_eq!(sdhm_i16(3, 16384), 1); // truncates toward zero
        assert_eq!(sdhm_i16(-3, 16384), -1);
        assert_eq!(rounding_divide_by_pot_i16(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot_i16(5, 1), 3);
        // Exponents from 16 on: the mask narrows to -1, as in the C++.
        assert_eq!(rounding_divide_by_pot_i16(100, 20), 1);
        assert_eq!(rounding_divide_by_pot_i16(-100, 20), -1);
        assert_eq!(saturating_left_shift_i16(20000, 1), i16::MAX);
        assert_eq!(downscale_multiplier_to_i16(i32::MAX), i16::MAX);
        assert_eq!(downscale_multiplier_to_i16(1 << 30), 1 << 14);
    }

    #[test]
    fn quantize_rounds_half_away_from_zero() {
        let mut out = [0i8; 8];
        quantize_f32(
            0.5,
            0,
            &[-1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1e30, f32::NAN],
            &mut out,
        );
        assert_eq!(out, [-3, -2, -1, 1, 2, 3, 127, 0]);
        // Saturating, not wrapping, when the zero point is added to a saturated quotient.
        let mut out = [0i8; 2];
        quantize_f32(0.5, -5, &[f32::NEG_INFINITY, f32::INFINITY], &mut out);
        assert_eq!(out, [-128, 127]);
    }

    #[test]
    fn dequantize_table_is_a_float_product() {
        let t = dequantize_table(qp(0.1, 3));
        assert_eq!(t[3], 0.0);
        assert_eq!(t[(-128i8) as u8 as usize], 0.1f32 * -131.0);
    }

    /// 16-byte aligned bytes for a test model's constants.
    #[repr(C, align(16))]
    struct Blob([u8; 1024]);

    fn tensor(offset: u32, dtype: DType, n: u32, scale: f32, zero_point: i32) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(&[1, n]),
            scale,
            zero_point,
        }
    }

    /// Runs one LUT layer over 4 inputs through `Model::invoke`; `table_len` lets a test
    /// corrupt the table's length.
    fn run_lut_model(table_len: u32) -> ferrite_core::Result<[i8; 4]> {
        let mut blob = Blob([0; 1024]);
        let table = requantize_table(qp(0.5, 0), qp(0.25, 1)).unwrap();
        for (b, &v) in blob.0.iter_mut().zip(&table) {
            *b = v as u8;
        }
        let tensors = [
            tensor(0, DType::I8, 4, 0.5, 0),
            tensor(16, DType::I8, 4, 0.25, 1),
        ];
        let layers = [Layer {
            op: Op::LutI8(LutI8 {
                input: TensorId(0),
                output: TensorId(1),
                table: ConstRef::new(0, table_len),
            }),
            kernel: run_lut_i8,
            name: "QUANTIZE",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &blob.0,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        let out: &[i8] = model.run(arena.as_mut_slice(), &[0i8, 1, -3, 100])?;
        let mut result = [0i8; 4];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn lut_kernel_entry_runs_in_a_model() {
        assert_eq!(run_lut_model(256).unwrap(), [1, 3, -5, 127]);
    }

    #[test]
    fn lut_kernel_entry_rejects_a_wrong_table_length() {
        assert_eq!(
            run_lut_model(255).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "lookup table must have 256 entries"
            }
        );
    }

    fn run_dequantize_model(table_len: u32) -> ferrite_core::Result<[f32; 3]> {
        let mut blob = Blob([0; 1024]);
        let table = dequantize_table(qp(0.5, -1));
        for (chunk, v) in blob.0.chunks_exact_mut(4).zip(&table) {
            chunk.copy_from_slice(&v.to_ne_bytes());
        }
        let tensors = [
            tensor(0, DType::I8, 3, 0.5, -1),
            tensor(16, DType::F32, 3, 0.0, 0),
        ];
        let layers = [Layer {
            op: Op::DequantizeI8(DequantizeI8 {
                input: TensorId(0),
                output: TensorId(1),
                table: ConstRef::new(0, table_len),
            }),
            kernel: run_dequantize_i8,
            name: "DEQUANTIZE",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &blob.0,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        model.set_input(arena.as_mut_slice(), 0, &[-1i8, 0, 127])?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[f32] = model.output(arena.as_mut_slice(), 0)?;
        let mut result = [0f32; 3];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn dequantize_kernel_entry_runs_in_a_model() {
        assert_eq!(run_dequantize_model(256).unwrap(), [0.0, 0.5, 64.0]);
        assert_eq!(
            run_dequantize_model(0).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "dequantize table must have 256 entries"
            }
        );
    }

    fn run_quantize_model(scale: f32) -> ferrite_core::Result<[i8; 4]> {
        let tensors = [
            tensor(0, DType::F32, 4, 0.0, 0),
            tensor(16, DType::I8, 4, scale, 2),
        ];
        let layers = [Layer {
            op: Op::QuantizeF32(QuantizeF32 {
                input: TensorId(0),
                output: TensorId(1),
                scale,
                zero_point: 2,
            }),
            kernel: run_quantize_f32,
            name: "QUANTIZE",
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
        model.set_input(arena.as_mut_slice(), 0, &[0.0f32, 0.3, -1.0, 1000.0])?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[i8] = model.output(arena.as_mut_slice(), 0)?;
        let mut result = [0i8; 4];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn quantize_kernel_entry_runs_in_a_model() {
        assert_eq!(run_quantize_model(0.2).unwrap(), [2, 4, -3, 127]);
        assert!(matches!(
            run_quantize_model(0.0).unwrap_err(),
            Error::InvalidLayer { layer: 0, .. }
        ));
    }

    #[test]
    fn kernel_entry_rejects_another_operator() {
        let tensors = [
            tensor(0, DType::F32, 4, 0.0, 0),
            tensor(16, DType::I8, 4, 1.0, 0),
        ];
        let layers = [Layer {
            op: Op::QuantizeF32(QuantizeF32 {
                input: TensorId(0),
                output: TensorId(1),
                scale: 1.0,
                zero_point: 0,
            }),
            kernel: run_lut_i8,
            name: "QUANTIZE",
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
            model.invoke(arena.as_mut_slice()).unwrap_err(),
            Error::InvalidLayer { layer: 0, .. }
        ));
    }
}
