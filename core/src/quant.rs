//! Quantization parameters and their conversion to integer multipliers (conversion time).
//!
//! These run on the host inside the converter, but live here (and stay `no_std`) so that
//! kernels' tests and on-device code computing parameters share one definition.

/// TFLite `QuantizeMultiplier`: writes `m` as `multiplier * 2^shift` with `multiplier` a
/// Q0.31 value in `[2^30, 2^31)`. Multipliers below `2^-31` flush to `(0, 0)`.
///
/// Returns `None` for a multiplier that is negative, NaN or infinite, or so large that the
/// shift would exceed 31 — which no valid model produces.
///
/// ```
/// use ferrite_core::quant::quantize_multiplier;
/// assert_eq!(quantize_multiplier(0.5), Some((1 << 30, 0)));
/// assert_eq!(quantize_multiplier(0.75), Some((1_610_612_736, 0)));
/// assert_eq!(quantize_multiplier(3.0), Some((1_610_612_736, 2)));
/// assert_eq!(quantize_multiplier(0.0), Some((0, 0)));
/// ```
pub fn quantize_multiplier(m: f64) -> Option<(i32, i32)> {
    if m == 0.0 {
        return Some((0, 0));
    }
    if !m.is_finite() || m < 0.0 {
        return None;
    }
    let (q, mut shift) = libm::frexp(m);
    // TfLiteRound is round-half-away-from-zero, as `libm::round`.
    let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    if shift > 31 || q_fixed > i32::MAX as i64 {
        return None;
    }
    Some((q_fixed as i32, shift))
}

/// TFLite `CalculateInputRadius`: the largest input magnitude (in quantized steps) that,
/// rescaled by `2^input_left_shift`, still fits `input_integer_bits` integer bits.
///
/// Every shift is clamped to `0..=62` (TFLite's C++ shifts are undefined outside it), so any
/// arguments give a number rather than a panic.
pub fn calculate_input_radius(
    input_integer_bits: i32,
    input_left_shift: i32,
    total_signed_bits: i32,
) -> i32 {
    let pot = |n: i32| (1i64 << n.clamp(0, 62)) as f64;
    let max_input_rescaled = (pot(input_integer_bits) - 1.0)
        * pot(total_signed_bits.saturating_sub(input_integer_bits))
        / pot(input_left_shift);
    libm::floor(max_input_rescaled) as i32
}

/// `round(f / scale)` in single precision as TFLite's `Quantize` helper computes it for
/// activation ranges, plus the zero point. `None` when it overflows `i32`.
pub fn quantize_f32(f: f32, scale: f32, zero_point: i32) -> Option<i32> {
    let tmp = libm::roundf(f / scale);
    if !(tmp >= i32::MIN as f32 && tmp <= i32::MAX as f32) {
        return None;
    }
    Some(zero_point.saturating_add(tmp as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_multiplier_reconstructs() {
        for &m in &[1e-9, 0.0001234, 0.3, 0.999_999_99, 1.0, 1.5, 17.25, 1234.5] {
            let (q, s) = quantize_multiplier(m).unwrap();
            let back = q as f64 / (1u64 << 31) as f64 * 2f64.powi(s);
            assert!((back - m).abs() / m < 1e-9, "{m} -> {q} * 2^{s}");
            assert!(q >= 1 << 30);
        }
        assert_eq!(quantize_multiplier(1e-12), Some((0, 0)));
        assert_eq!(quantize_multiplier(f64::NAN), None);
        assert_eq!(quantize_multiplier(-1.0), None);
    }

    #[test]
    fn input_radius_is_total() {
        for a in [i32::MIN, -1, 0, 5, 31, 62, 63, 64, i32::MAX] {
            for b in [i32::MIN, -1, 0, 20, 31, 63, 64, i32::MAX] {
                for c in [i32::MIN, 0, 31, 64, i32::MAX] {
                    core::hint::black_box(calculate_input_radius(a, b, c));
                }
            }
        }
    }

    #[test]
    fn input_radius_matches_known_value() {
        // Softmax with 5 integer bits and no shift: (2^5 - 1) * 2^26.
        assert_eq!(calculate_input_radius(5, 0, 31), 31 << 26);
        assert_eq!(
            calculate_input_radius(4, 20, 31),
            (15i64 << 27 >> 20) as i32
        );
    }
}

/// A fused activation function as TFLite encodes it in operator options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum FusedActivation {
    /// No activation.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, -1, 1)`.
    ReluN1To1,
    /// `clamp(x, 0, 6)`.
    Relu6,
}

/// Quantization of one tensor (per-tensor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

/// TFLite `CalculateActivationRangeQuantized` for an int8 output: the clamp range of `act`
/// in the output's quantized domain. `None` if quantizing the bounds overflows.
pub fn activation_range_i8(act: FusedActivation, out: QParams) -> Option<(i32, i32)> {
    let (qmin, qmax) = (i8::MIN as i32, i8::MAX as i32);
    let q = |f: f32| quantize_f32(f, out.scale, out.zero_point);
    Some(match act {
        FusedActivation::None => (qmin, qmax),
        FusedActivation::Relu => (qmin.max(q(0.0)?), qmax),
        FusedActivation::Relu6 => (qmin.max(q(0.0)?), qmax.min(q(6.0)?)),
        FusedActivation::ReluN1To1 => (qmin.max(q(-1.0)?), qmax.min(q(1.0)?)),
    })
}

/// TFLite `CalculateActivationRange` for float outputs.
pub fn activation_range_f32(act: FusedActivation) -> (f32, f32) {
    match act {
        FusedActivation::None => (f32::MIN, f32::MAX),
        FusedActivation::Relu => (0.0, f32::MAX),
        FusedActivation::Relu6 => (0.0, 6.0),
        FusedActivation::ReluN1To1 => (-1.0, 1.0),
    }
}
