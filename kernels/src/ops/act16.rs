//! Int16 (16x8) RELU, RELU6 and LEAKY_RELU, computed per element with TFLite Micro's int16
//! arithmetic.
//!
//! The converter derives the fixed-point parameters ([`ActI16Kind`]) with the `*_params_i16`
//! functions below, which return `None` where TFLM's `Prepare` fails (a non-zero int16 RELU
//! zero point) or its arithmetic would be undefined (a scale that is zero, negative or not
//! finite, a RELU6 bound outside `i32`). A table of every int16 input would make the device
//! loop one load, but costs 128 KiB of flash per layer: too much for the parts 16x8 models
//! target, so the device evaluates the formula (one multiply-and-shift per element).

use crate::ops::lut::quantize_multiplier_signed;
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{ActI16Kind, Op};
use ferrite_core::quant::{quantize_multiplier, QParams};
use ferrite_core::{Ctx, Result};

/// Kernel entry for [`Op::ActI16`].
pub fn run_act_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ActI16);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    act_i16(&p.kind, input, output);
    Ok(())
}

/// Reference int16 activation: `output[i] = f(input[i])` for `min(input.len(),
/// output.len())` elements.
pub fn act_i16(kind: &ActI16Kind, input: &[i16], output: &mut [i16]) {
    let pairs = output.iter_mut().zip(input);
    match *kind {
        ActI16Kind::Relu {
            multiplier,
            shift,
            act_min,
        } => {
            for (o, &x) in pairs {
                let v = multiply_by_quantized_multiplier(x as i32, multiplier, shift);
                *o = v.clamp(act_min, i16::MAX as i32) as i16;
            }
        }
        ActI16Kind::Relu6 { low, high } => {
            for (o, &x) in pairs {
                // TFLM's order: above the bound first, then below zero.
                let x = x as i32;
                *o = if x > high {
                    high
                } else if x < low {
                    low
                } else {
                    x
                } as i16;
            }
        }
        ActI16Kind::LeakyRelu {
            input_zero_point,
            output_zero_point,
            identity_multiplier,
            identity_shift,
            alpha_multiplier,
            alpha_shift,
            alpha_negative,
        } => {
            for (o, &x) in pairs {
                let v = (x as i32).wrapping_sub(input_zero_point);
                let scaled = if v >= 0 {
                    multiply_by_quantized_multiplier(v, identity_multiplier, identity_shift)
                } else {
                    let s = multiply_by_quantized_multiplier(v, alpha_multiplier, alpha_shift);
                    if alpha_negative {
                        s.wrapping_neg()
                    } else {
                        s
                    }
                };
                *o = output_zero_point
                    .saturating_add(scaled)
                    .clamp(i16::MIN as i32, i16::MAX as i32) as i16;
            }
        }
    }
}

/// True for a scale TFLite can use: positive and finite.
fn valid_scale(scale: f32) -> bool {
    scale > 0.0 && scale.is_finite()
}

/// RELU parameters, as TFLM (`ReluPrepare`, `CalculateReluOpData<int16_t>`): both zero points
/// must be 0 (TFLM's `Prepare` checks), the input is requantized by `input_scale /
/// output_scale` (a double division) and clamped below at `max(-32768, output zero point)`.
pub fn relu_params_i16(input: QParams, output: QParams) -> Option<ActI16Kind> {
    if !(valid_scale(input.scale) && valid_scale(output.scale)) {
        return None;
    }
    if input.zero_point != 0 || output.zero_point != 0 {
        return None;
    }
    let (multiplier, shift) = quantize_multiplier(input.scale as f64 / output.scale as f64)?;
    Some(ActI16Kind::Relu {
        multiplier,
        shift,
        act_min: (i16::MIN as i32).max(output.zero_point),
    })
}

/// RELU6 parameters, as TFLM (`Relu6Prepare` + `Relu6Quantized<int16_t>`): the input values
/// are clamped between the input zero point and `FloatToQuantizedType<int16_t>(6,
/// input_scale, input_zero_point)`; as for int8, TFLM ignores the output's quantization.
/// `None` when `6 / input_scale` overflows `i32` (undefined in TFLM).
pub fn relu6_params_i16(input: QParams) -> Option<ActI16Kind> {
    if !valid_scale(input.scale) {
        return None;
    }
    let q = libm::roundf(6.0 / input.scale);
    if !(q >= i32::MIN as f32 && q < i32::MAX as f32) {
        return None;
    }
    // TFLM stores both bounds as `int16_t` (six after clamping to int16).
    let high = (q as i32)
        .saturating_add(input.zero_point)
        .clamp(i16::MIN as i32, i16::MAX as i32);
    Some(ActI16Kind::Relu6 {
        low: input.zero_point as i16 as i32,
        high,
    })
}

/// LEAKY_RELU parameters, as TFLM (`leaky_relu_common.cc` + `QuantizeLeakyRelu<int16_t>`):
/// `input_scale / output_scale` and `input_scale * alpha / output_scale`, both in double; a
/// negative alpha's multiplier is kept by magnitude and the product negated, as for int8.
pub fn leaky_relu_params_i16(alpha: f32, input: QParams, output: QParams) -> Option<ActI16Kind> {
    if !(valid_scale(input.scale) && valid_scale(output.scale) && alpha.is_finite()) {
        return None;
    }
    let alpha_real = input.scale as f64 * alpha as f64 / output.scale as f64;
    let identity_real = input.scale as f64 / output.scale as f64;
    let (alpha_mul, alpha_shift) = quantize_multiplier_signed(alpha_real)?;
    let (identity_multiplier, identity_shift) = quantize_multiplier(identity_real)?;
    Some(ActI16Kind::LeakyRelu {
        input_zero_point: input.zero_point,
        output_zero_point: output.zero_point,
        identity_multiplier,
        identity_shift,
        alpha_multiplier: alpha_mul.wrapping_abs(),
        alpha_shift,
        alpha_negative: alpha_mul < 0,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // failing unwraps fail tests
mod tests {
    use super::*;

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    fn at(kind: ActI16Kind, x: i16) -> i16 {
        let mut out = [0i16];
        act_i16(&kind, &[x], &mut out);
        out[0]
    }

    #[test]
    fn relu_requantizes_and_clamps_at_zero() {
        let k = relu_params_i16(q(0.001, 0), q(0.002, 0)).unwrap();
        assert_eq!(at(k, -5), 0);
        assert_eq!(at(k, i16::MIN), 0);
        assert_eq!(at(k, 1000), 500);
        assert_eq!(at(k, 3), 2); // 1.5 rounds away from zero
        assert_eq!(at(k, i16::MAX), 16384);
        // Output scale half the input's: saturates at int16.
        let k = relu_params_i16(q(0.002, 0), q(0.001, 0)).unwrap();
        assert_eq!(at(k, 20000), i16::MAX);
    }

    #[test]
    fn relu_refuses_nonzero_zero_points() {
        assert!(relu_params_i16(q(0.001, 1), q(0.001, 0)).is_none());
        assert!(relu_params_i16(q(0.001, 0), q(0.001, -3)).is_none());
        assert!(relu_params_i16(q(0.0, 0), q(0.001, 0)).is_none());
    }

    #[test]
    fn relu6_clamps_input_codes() {
        let k = relu6_params_i16(q(6.0 / 30000.0, 0)).unwrap();
        assert_eq!(at(k, -1), 0);
        assert_eq!(at(k, 29999), 29999);
        assert_eq!(at(k, 30001), 30000);
        // A small scale puts six beyond int16: the bound saturates.
        let k = relu6_params_i16(q(1e-5, 0)).unwrap();
        assert_eq!(at(k, i16::MAX), i16::MAX);
    }

    #[test]
    fn leaky_relu_matches_the_formula() {
        let k = leaky_relu_params_i16(0.25, q(0.001, 0), q(0.001, 0)).unwrap();
        assert_eq!(at(k, 100), 100);
        assert_eq!(at(k, -100), -25);
        assert_eq!(at(k, -102), -26); // -25.5 rounds away from zero
        let k = leaky_relu_params_i16(-2.0, q(0.001, 0), q(0.001, 0)).unwrap();
        assert_eq!(at(k, -100), 200);
        assert_eq!(at(k, i16::MIN), i16::MAX);
    }

    #[test]
    fn processes_the_shorter_of_input_and_output() {
        let k = relu6_params_i16(q(6.0 / 100.0, 0)).unwrap();
        let mut out = [7i16; 3];
        act_i16(&k, &[-5, 50], &mut out);
        assert_eq!(out, [0, 50, 7]);
    }
}
