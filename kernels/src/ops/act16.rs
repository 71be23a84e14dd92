//! Int16 (16x8) RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH, ABS and RSQRT, computed per element
//! with TensorFlow Lite Micro's int16 arithmetic.
//!
//! The converter derives the fixed-point parameters ([`ActI16Kind`]) with the `*_params_i16`
//! functions below, which return `None` where TFLM's `Prepare` fails (a non-zero int16 RELU
//! zero point) or its arithmetic would be undefined (a scale that is zero, negative or not
//! finite, a RELU6 bound outside `i32`). A table of every int16 input would make the device
//! loop one load, but costs 128 KiB of flash per layer: too much for the parts 16x8 models
//! target, so the device evaluates the formula (one multiply-and-shift per element; LOGISTIC
//! and TANH interpolate in one shared 512-byte sigmoid table, [`SIGMOID_TABLE`]).

use crate::ops::lut::quantize_multiplier_signed;
use crate::ops::lut_math::{abs_element, abs_rescale, rsqrt_element, rsqrt_multiplier};
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
                // max then min rather than `clamp`, which panics on an empty range.
                *o = v.max(act_min).min(i16::MAX as i32) as i16;
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
        ActI16Kind::Abs {
            rescale,
            multiplier,
            shift,
        } => {
            let rescale = rescale.then_some((multiplier, shift));
            for (o, &x) in pairs {
                *o = clamp_i16(abs_element(x as i32, 0, rescale, 0));
            }
        }
        ActI16Kind::Rsqrt { multiplier, shift } => {
            for (o, &x) in pairs {
                *o = clamp_i16(rsqrt_element(
                    x as i32,
                    multiplier,
                    shift,
                    0,
                    i16::MAX as i32,
                ));
            }
        }
        ActI16Kind::Logistic { multiplier, shift } => {
            for (o, &x) in pairs {
                *o = logistic_i16(rescale(x, multiplier, shift));
            }
        }
        ActI16Kind::Tanh { multiplier, shift } => {
            for (o, &x) in pairs {
                *o = tanh_i16(rescale(x, multiplier, shift));
            }
        }
    }
}

/// `v` clamped to the int16 range.
#[inline(always)]
fn clamp_i16(v: i32) -> i16 {
    v.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// ABS parameters, as TFLM (`PrepareAbsRsqrt` for quantized int16): zero points must be 0;
/// the rescale as for int8 ([`abs_rescale`]). `None` otherwise.
pub fn abs_params_i16(input: QParams, output: QParams) -> Option<ActI16Kind> {
    if input.zero_point != 0 || output.zero_point != 0 {
        return None;
    }
    let rescale = abs_rescale(input, output)?;
    let (multiplier, shift) = rescale.unwrap_or((0, 0));
    Some(ActI16Kind::Abs {
        rescale: rescale.is_some(),
        multiplier,
        shift,
    })
}

/// RSQRT parameters, as TFLM (`PrepareAbsRsqrt` for int16): zero points must be 0; the
/// multiplier as for int8 ([`rsqrt_multiplier`]). `None` otherwise. As for int8, a negative
/// input (on which TFLM fails the invocation) gets what the arithmetic yields.
pub fn rsqrt_params_i16(input: QParams, output: QParams) -> Option<ActI16Kind> {
    if input.zero_point != 0 || output.zero_point != 0 {
        return None;
    }
    let (multiplier, shift) = rsqrt_multiplier(input, output)?;
    Some(ActI16Kind::Rsqrt { multiplier, shift })
}

/// `(x · multiplier + round) >> shift` in `i32`, rounding half up: TFLM's input rescale for
/// int16 LOGISTIC and TANH. The parameters keep the product inside `i32` (multiplier at
/// most 65535; a shift of 31 only with a multiplier below 32768), so wrapping never happens
/// for parameters [`logistic_params_i16`] and [`tanh_params_i16`] produce.
#[inline(always)]
pub(crate) fn rescale(x: i16, multiplier: i32, shift: i32) -> i32 {
    let round = if shift > 0 { 1i32 << (shift - 1) } else { 0 };
    (x as i32).wrapping_mul(multiplier).wrapping_add(round) >> shift
}

/// The interpolated sigmoid of `|v|`, where the table index is `|v| >> frac_bits` and the
/// low `frac_bits` bits weight the next entry: `table[i] << frac_bits + t · (table[i+1] −
/// table[i])`, or the saturated `saturated` from index 255 on.
#[inline(always)]
fn interpolate(magnitude: u32, frac_bits: u32, saturated: u32) -> u32 {
    let index = (magnitude >> frac_bits) as usize;
    match (SIGMOID_TABLE.get(index), SIGMOID_TABLE.get(index + 1)) {
        (Some(&a), Some(&b)) => {
            let t = magnitude & ((1 << frac_bits) - 1);
            ((a as u32) << frac_bits).wrapping_add(t.wrapping_mul((b - a) as u32))
        }
        _ => saturated,
    }
}

/// Int16 sigmoid of an input rescaled to steps of 1/(3·4096) (TFLM's `Logistic` for
/// int16): 9 fraction bits index the table (1/24 per entry after the 3/4 range scaling),
/// negative inputs mirror as `1 − sigmoid(|x|)`, and the Q0.25 result rounds to Q0.15.
#[inline(always)]
pub(crate) fn logistic_i16(v: i32) -> i16 {
    let r = interpolate(v.unsigned_abs(), 9, 0x7FFF << 10);
    let r = if v >= 0 {
        r.wrapping_add(1 << 9)
    } else {
        (1u32 << 25).wrapping_sub(r).wrapping_add((1 << 9) - 1)
    };
    // TFLM stores the unsigned result into int16 (truncating; the value fits).
    (r >> 10) as i16
}

/// Int16 tanh of an input rescaled to steps of 1/(3·4096) (TFLM's `Tanh` for int16): as
/// `2·sigmoid(2x) − 1`, so 8 fraction bits index the same table; the result is formed in
/// signed arithmetic and shifted down to Q0.15.
#[inline(always)]
pub(crate) fn tanh_i16(v: i32) -> i16 {
    let r = interpolate(v.unsigned_abs(), 8, 0xFFFF << 8) as i32;
    let r = if v >= 0 {
        r.wrapping_sub(1 << 23).wrapping_add(1 << 7)
    } else {
        r.wrapping_neg()
            .wrapping_add(1 << 23)
            .wrapping_add((1 << 7) - 1)
    };
    (r >> 8) as i16
}

/// The sigmoid at `i/24` for `i` in `0..256`, in Q0.16, as TFLM's int16 LOGISTIC and TANH
/// interpolate it.
///
/// Each entry is `sigmoid(x) − sigmoid''(x)·h²/16` (h = 1/24) rounded to Q0.16: the samples
/// lowered by half the midpoint error of linear interpolation (`−f''h²/8`), so that the
/// interpolation error is balanced between knots and midpoints (the minimax offset for a
/// curve of slowly varying curvature). The last entry is the saturation value 65535, which
/// the kernels reach at index 255 anyway. This rule reproduces TFLM's table entry for entry;
/// the goldens over every int16 input (`logistic16_*`, `tanh16_*` in `tests/data/ops`) check
/// it. Computed at compile time (`const fn` in `f64`; the closest rounding boundary is 0.004
/// away, far beyond `f64` error).
pub const SIGMOID_TABLE: [u16; 256] = sigmoid_table();

// Only ever evaluated at compile time (for `SIGMOID_TABLE`), where an out-of-bounds index is
// a build error, not a run-time panic path.
#[allow(clippy::indexing_slicing)]
const fn sigmoid_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let h = 1.0 / 24.0;
    let mut i = 0;
    while i < 255 {
        let x = i as f64 * h;
        let e = exp_taylor(x);
        let s = e / (1.0 + e);
        let second_derivative = s * (1.0 - s) * (1.0 - 2.0 * s);
        let v = 65536.0 * (s - second_derivative * h * h / 16.0);
        table[i] = (v + 0.5) as u16;
        i += 1;
    }
    table[255] = u16::MAX;
    table
}

/// `e^x` for `0 <= x < 11` by its Taylor series (all terms positive: no cancellation), to
/// full `f64` precision; usable in `const` context, where `f64::exp` is not.
const fn exp_taylor(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let mut n = 1.0;
    while n < 80.0 {
        term = term * x / n;
        sum += term;
        n += 1.0;
    }
    sum
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

/// TFLite's `CheckedLog2` (in `f32`, as TFLM): `log2(x)` rounded half away from zero, and
/// whether `x` is within 0.1% of that power of two.
fn checked_log2(x: f32) -> (i32, bool) {
    let log2 = libm::logf(x) * (1.0 / libm::logf(2.0));
    let rounded = libm::roundf(log2);
    (rounded as i32, libm::fabsf(log2 - rounded) < 1e-3)
}

/// Why int16 LOGISTIC or TANH quantization is refused (TFLM's `Prepare` checks, or
/// parameters whose arithmetic would overflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigmoidParamsError {
    /// Input or output zero point is not 0.
    ZeroPoint,
    /// Output scale is not 1/32768.
    OutputScale,
    /// Input scale not positive and finite, or so large that the rescale overflows `i32`.
    InputScale,
}

/// LOGISTIC parameters, as TFLM (`CalculateArithmeticOpDataLogistic` for int16): zero points
/// 0 and output scale 2^-15; an input scale of exactly 2^-12 rescales by 3 (the table's 3/4
/// range scaling), any other by `input_scale · 3 · 4096` (a double) doubled until above
/// 16383.5 while counting the shift, then truncated.
pub fn logistic_params_i16(
    input: QParams,
    output: QParams,
) -> core::result::Result<ActI16Kind, SigmoidParamsError> {
    let (multiplier, shift) = sigmoid_rescale(input, output, &[0])?;
    Ok(ActI16Kind::Logistic { multiplier, shift })
}

/// TANH parameters, as TFLM (`Tanh`'s `CalculateArithmeticOpData` for int16): as
/// [`logistic_params_i16`], where input scales 2^-12 and 2^-11 are the power-of-two cases.
pub fn tanh_params_i16(
    input: QParams,
    output: QParams,
) -> core::result::Result<ActI16Kind, SigmoidParamsError> {
    let (multiplier, shift) = sigmoid_rescale(input, output, &[0, 1])?;
    Ok(ActI16Kind::Tanh { multiplier, shift })
}

/// The shared input rescale of int16 LOGISTIC and TANH; `pot_shifts` are the left shifts
/// (`12 + log2(input_scale)`) TFLM treats as exact powers of two.
fn sigmoid_rescale(
    input: QParams,
    output: QParams,
    pot_shifts: &[i32],
) -> core::result::Result<(i32, i32), SigmoidParamsError> {
    if input.zero_point != 0 || output.zero_point != 0 {
        return Err(SigmoidParamsError::ZeroPoint);
    }
    if !valid_scale(output.scale) || checked_log2(output.scale) != (-15, true) {
        return Err(SigmoidParamsError::OutputScale);
    }
    if !valid_scale(input.scale) {
        return Err(SigmoidParamsError::InputScale);
    }
    let (log2, is_pot) = checked_log2(input.scale);
    let pot_shift = 12 + log2;
    if is_pot && pot_shifts.contains(&pot_shift) {
        // TFLM marks this with multiplier 0; its kernel then uses `3 << shift`, shift 0.
        return Ok((3 << pot_shift, 0));
    }
    let mut multiplier = input.scale as f64 * 4096.0 * 3.0;
    let mut shift = 0;
    while multiplier <= 32767.0 / 2.0 && shift <= 30 {
        shift += 1;
        multiplier *= 2.0;
    }
    // Up to 65535 the product with any int16 stays inside i32 (TFLM only debug-checks
    // <= 32767); beyond it TFLM's arithmetic overflows.
    if multiplier >= 65536.0 {
        return Err(SigmoidParamsError::InputScale);
    }
    Ok((multiplier as i32, shift))
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
    fn sigmoid_table_is_the_sigmoid_in_q16_within_one_step() {
        // Sampled sigmoid(i/24) within the interpolation offset plus rounding (< 0.69 + 0.5 LSB),
        // monotone, and starting at one half.
        assert_eq!(SIGMOID_TABLE[0], 32768);
        for (i, w) in SIGMOID_TABLE.windows(2).enumerate() {
            assert!(w[0] <= w[1], "not monotone at {i}");
            let s = 1.0 / (1.0 + (-(i as f64) / 24.0).exp());
            assert!((w[0] as f64 - 65536.0 * s).abs() < 1.19, "entry {i}");
        }
        assert_eq!(SIGMOID_TABLE[255], u16::MAX);
    }

    #[test]
    fn logistic_and_tanh_follow_the_functions() {
        let out = q(1.0 / 32768.0, 0);
        for (kind, f) in [
            (
                logistic_params_i16(q(8.0 / 32768.0, 0), out).unwrap(),
                (|x: f64| 1.0 / (1.0 + (-x).exp())) as fn(f64) -> f64,
            ),
            (logistic_params_i16(q(0.0003, 0), out).unwrap(), |x| {
                1.0 / (1.0 + (-x).exp())
            }),
            (
                tanh_params_i16(q(4.0 / 32768.0, 0), out).unwrap(),
                f64::tanh,
            ),
            (
                tanh_params_i16(q(8.0 / 32768.0, 0), out).unwrap(),
                f64::tanh,
            ),
            (tanh_params_i16(q(0.0002, 0), out).unwrap(), f64::tanh),
        ] {
            let scale = match kind {
                ActI16Kind::Logistic { multiplier, shift }
                | ActI16Kind::Tanh { multiplier, shift } => {
                    // Back from the rescaled domain (steps of 1/(3·4096)) to real units.
                    multiplier as f64 / (1u64 << shift) as f64 / (3.0 * 4096.0)
                }
                _ => unreachable!(),
            };
            for x in (i16::MIN..=i16::MAX).step_by(37) {
                let want = f(x as f64 * scale) * 32768.0;
                let got = at(kind, x) as f64;
                assert!(
                    (got - want).abs() <= 3.0,
                    "{kind:?} at {x}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn sigmoid_params_follow_tflm_prepare() {
        let out = q(1.0 / 32768.0, 0);
        // Power-of-two input scales: multiplier 3 << shift, no shift.
        assert_eq!(
            logistic_params_i16(q(1.0 / 4096.0, 0), out),
            Ok(ActI16Kind::Logistic {
                multiplier: 3,
                shift: 0
            })
        );
        assert_eq!(
            tanh_params_i16(q(1.0 / 2048.0, 0), out),
            Ok(ActI16Kind::Tanh {
                multiplier: 6,
                shift: 0
            })
        );
        // 2^-11 is a power-of-two case for TANH only; LOGISTIC takes the general path:
        // 3·4096/2048 = 6, doubled 12 times to 24576.
        assert_eq!(
            logistic_params_i16(q(1.0 / 2048.0, 0), out),
            Ok(ActI16Kind::Logistic {
                multiplier: 24576,
                shift: 12
            })
        );
        assert_eq!(
            logistic_params_i16(q(0.001, 1), out),
            Err(SigmoidParamsError::ZeroPoint)
        );
        assert_eq!(
            tanh_params_i16(q(0.001, 0), q(1.0 / 16384.0, 0)),
            Err(SigmoidParamsError::OutputScale)
        );
        assert_eq!(
            tanh_params_i16(q(100.0, 0), out),
            Err(SigmoidParamsError::InputScale)
        );
    }

    #[test]
    fn processes_the_shorter_of_input_and_output() {
        let k = relu6_params_i16(q(6.0 / 100.0, 0)).unwrap();
        let mut out = [7i16; 3];
        act_i16(&k, &[-5, 50], &mut out);
        assert_eq!(out, [0, 50, 7]);
    }
}
