//! Int16 elementwise functions (16x8 RELU, RELU6, LEAKY_RELU) as 65536-entry tables.
//!
//! Like the int8 tables of [`crate::ops::lut`], each is a pure function of one int16 value: the
//! converter evaluates TFLite Micro's int16 arithmetic once per possible input with the
//! builders below, and the device runs one load per element ([`run_lut_i16`]). The price is
//! 128 KiB of constants per layer, which buys bit-exactness with no per-function kernel; a
//! model that cannot afford it needs a computing kernel instead.
//!
//! A builder returns `None` where TFLM's `Prepare` fails (a non-zero int16 RELU zero point,
//! a RELU6 bound outside int16) or where its arithmetic would be undefined (a scale that is
//! zero, negative or not finite).

use crate::ops::lut::quantize_multiplier_signed;
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::Op;
use ferrite_core::quant::{quantize_multiplier, QParams};
use ferrite_core::{Ctx, Result};

/// Number of entries of every int16 lookup table.
pub const TABLE16_LEN: usize = 1 << 16;

/// An int16 table: `table[x as u16 as usize]` is the output for input `x`. The builders fill
/// one the caller owns (128 KiB is too much for a stack on a device or in a test thread).
pub type Table = [i16; TABLE16_LEN];

/// Kernel entry for [`Op::LutI16`]: `output[i] = table[input[i] as u16]`.
pub fn run_lut_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LutI16);
    let table = ctx.consts(p.table)?;
    let layer = ctx.layer;
    let table: &Table = table
        .try_into()
        .map_err(|_| ctx.error("int16 lookup table must have 65536 entries"))?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    lut_i16(table, input, output);
    Ok(())
}

/// Reference int16 table lookup: `output[i] = table[input[i] as u16]` (the input's
/// two's-complement bits index the table). Processes `min(input.len(), output.len())`
/// elements.
// Bounds: a `u16` index is below `TABLE16_LEN` (65536), the table's length.
#[allow(clippy::indexing_slicing)]
pub fn lut_i16(table: &Table, input: &[i16], output: &mut [i16]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = table[x as u16 as usize];
    }
}

/// True for a scale TFLite can use: positive and finite.
fn valid_scale(scale: f32) -> bool {
    scale > 0.0 && scale.is_finite()
}

/// Fills `table` from `f`, which maps an input value in `-32768..=32767` to its output.
// Bounds: a `u16` index is below `TABLE16_LEN`, the table's length.
#[allow(clippy::indexing_slicing)]
fn build(table: &mut Table, mut f: impl FnMut(i32) -> i32) {
    for x in i16::MIN..=i16::MAX {
        table[x as u16 as usize] = f(x as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    }
}

/// RELU with int16 input and output, as TFLM (`ReluPrepare`, `CalculateReluOpData<int16_t>`
/// and `ReluQuantized`): both zero points must be 0 (TFLM's `Prepare` checks), the input is
/// requantized by `input_scale / output_scale` (a double division) and clamped below at
/// `max(-32768, output zero point)`. Fills `table` and returns `Some(())`, or `None` where
/// TFLM refuses.
pub fn relu_table_i16(input: QParams, output: QParams, table: &mut Table) -> Option<()> {
    if !(valid_scale(input.scale) && valid_scale(output.scale)) {
        return None;
    }
    if input.zero_point != 0 || output.zero_point != 0 {
        return None;
    }
    let (multiplier, shift) = quantize_multiplier(input.scale as f64 / output.scale as f64)?;
    let act_min = (i16::MIN as i32).max(output.zero_point);
    let act_max = i16::MAX as i32;
    build(table, |x| {
        let v = output
            .zero_point
            .saturating_add(multiply_by_quantized_multiplier(
                x.wrapping_sub(input.zero_point),
                multiplier,
                shift,
            ));
        v.max(act_min).min(act_max)
    });
    Some(())
}

/// RELU6 with int16 input and output, as TFLM (`Relu6Prepare` + `Relu6Quantized<int16_t>`):
/// the input values are clamped between the input zero point and `FloatToQuantizedType<int16_t>
/// (6, input_scale, input_zero_point)`; as for int8, TFLM ignores the output's quantization.
/// `None` when `6 / input_scale` overflows `i32` (undefined in TFLM).
pub fn relu6_table_i16(input: QParams, table: &mut Table) -> Option<()> {
    if !valid_scale(input.scale) {
        return None;
    }
    let q = libm::roundf(6.0 / input.scale);
    if !(q >= i32::MIN as f32 && q < i32::MAX as f32) {
        return None;
    }
    // TFLM stores both bounds as `int16_t` (the six after clamping to int16).
    let six = (q as i32)
        .saturating_add(input.zero_point)
        .clamp(i16::MIN as i32, i16::MAX as i32);
    let zero = input.zero_point as i16 as i32;
    build(table, |x| {
        if x > six {
            six
        } else if x < zero {
            zero
        } else {
            x
        }
    });
    Some(())
}

/// LEAKY_RELU with int16 input and output, as TFLM (`leaky_relu_common.cc` +
/// `QuantizeLeakyRelu<int16_t>`): inputs at or above the zero point are requantized by
/// `input_scale / output_scale`, the others by `input_scale * alpha / output_scale` (both in
/// double; a negative alpha's product is taken by magnitude and negated, as for int8), then
/// the output zero point is added and the result clamped to int16.
pub fn leaky_relu_table_i16(
    alpha: f32,
    input: QParams,
    output: QParams,
    table: &mut Table,
) -> Option<()> {
    if !(valid_scale(input.scale) && valid_scale(output.scale) && alpha.is_finite()) {
        return None;
    }
    let alpha_real = input.scale as f64 * alpha as f64 / output.scale as f64;
    let identity_real = input.scale as f64 / output.scale as f64;
    let (alpha_mul, alpha_shift) = quantize_multiplier_signed(alpha_real)?;
    let (id_mul, id_shift) = quantize_multiplier(identity_real)?;
    let alpha_negative = alpha_mul < 0;
    let alpha_magnitude = alpha_mul.wrapping_abs();
    build(table, |x| {
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
        output.zero_point.saturating_add(scaled)
    });
    Some(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // failing unwraps/indexing fail tests
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::vec;

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    fn table() -> Box<Table> {
        vec![0i16; TABLE16_LEN]
            .into_boxed_slice()
            .try_into()
            .unwrap()
    }

    fn at(t: &Table, x: i16) -> i16 {
        t[x as u16 as usize]
    }

    #[test]
    fn relu_requantizes_and_clamps_at_zero() {
        let mut t = table();
        relu_table_i16(q(0.001, 0), q(0.002, 0), &mut t).unwrap();
        assert_eq!(at(&t, -5), 0);
        assert_eq!(at(&t, i16::MIN), 0);
        assert_eq!(at(&t, 1000), 500);
        assert_eq!(at(&t, 3), 2); // 1.5 rounds away from zero
        assert_eq!(at(&t, i16::MAX), 16384);
        // Output scale half the input's: saturates at int16.
        relu_table_i16(q(0.002, 0), q(0.001, 0), &mut t).unwrap();
        assert_eq!(at(&t, 20000), i16::MAX);
    }

    #[test]
    fn relu_refuses_nonzero_zero_points() {
        let mut t = table();
        assert!(relu_table_i16(q(0.001, 1), q(0.001, 0), &mut t).is_none());
        assert!(relu_table_i16(q(0.001, 0), q(0.001, -3), &mut t).is_none());
        assert!(relu_table_i16(q(0.0, 0), q(0.001, 0), &mut t).is_none());
    }

    #[test]
    fn relu6_clamps_input_codes() {
        let mut t = table();
        relu6_table_i16(q(6.0 / 30000.0, 0), &mut t).unwrap();
        assert_eq!(at(&t, -1), 0);
        assert_eq!(at(&t, 29999), 29999);
        assert_eq!(at(&t, 30001), 30000);
        // A small scale puts six beyond int16: the bound saturates.
        relu6_table_i16(q(1e-5, 0), &mut t).unwrap();
        assert_eq!(at(&t, i16::MAX), i16::MAX);
    }

    #[test]
    fn leaky_relu_matches_the_formula() {
        let mut t = table();
        leaky_relu_table_i16(0.25, q(0.001, 0), q(0.001, 0), &mut t).unwrap();
        assert_eq!(at(&t, 100), 100);
        assert_eq!(at(&t, -100), -25);
        assert_eq!(at(&t, -102), -26); // -25.5 rounds away from zero
        leaky_relu_table_i16(-2.0, q(0.001, 0), q(0.001, 0), &mut t).unwrap();
        assert_eq!(at(&t, -100), 200);
        assert_eq!(at(&t, i16::MIN), i16::MAX);
    }

    #[test]
    fn lookup_indexes_by_bits() {
        let mut t = table();
        build(&mut t, |x| x / 2);
        let input = [i16::MIN, -1, 0, 1, i16::MAX];
        let mut out = [0i16; 5];
        lut_i16(&t, &input, &mut out);
        assert_eq!(out, [-16384, 0, 0, 0, 16383]);
    }
}
