//! Integer arithmetic exactly as TensorFlow Lite (Micro) computes it.
//!
//! TFLite's int8 kernels requantize with gemmlowp's *double rounding*: a saturating, rounding
//! doubling high multiply by a Q0.31 multiplier followed by a rounding right shift. Its
//! transcendental int8 ops (softmax, logistic, tanh) evaluate `exp` and `1/(1+x)` in gemmlowp's
//! fixed-point formats. Every function here reproduces those results bit for bit; they are
//! the *definition* our kernels are tested against, so they favour clarity over speed.
//!
//! A value in format `Qm` here is an `i32` with `m` integer bits and `31 - m` fractional bits
//! (gemmlowp's `FixedPoint<int32_t, m>`).
//!
//! ```
//! use ferrite_core::fixed::*;
//! // 0.5 in Q0.31 times 0.5 in Q0.31 is 0.25 in Q0.31.
//! assert_eq!(saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
//! // Round half away from zero when dividing by 2^exponent.
//! assert_eq!(rounding_divide_by_pot(5, 1), 3);
//! assert_eq!(rounding_divide_by_pot(-5, 1), -3);
//! // Scale 1000 by 0.75 (multiplier 0.75 * 2^31, shift 0).
//! assert_eq!(multiply_by_quantized_multiplier(1000, 1_610_612_736, 0), 750);
//! ```

/// `a * b / 2^31` rounded to nearest — ties of positive products up, ties of negative
/// products toward zero (gemmlowp's nudge-then-truncate) — saturating the single overflowing
/// case `a == b == i32::MIN` to `i32::MAX` (gemmlowp `SaturatingRoundingDoublingHighMul`).
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division (not shift): C++ integer division truncates toward zero.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp `RoundingDivideByPOT`).
/// `exponent` should be in `0..=31`; other values are taken modulo 32 (never a panic: kernel
/// entries reject out-of-range shifts before their loops, and the mask costs nothing where
/// shift instructions mask their count anyway).
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = (exponent & 31) as u32;
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier` (double rounding): `x * multiplier * 2^shift`
/// where `multiplier` is a Q0.31 value in `[0.5, 1)` and `shift` may be positive (left)
/// or negative (right).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left_shift = if shift > 0 { shift } else { 0 };
    // `wrapping_neg`: `-i32::MIN` must not panic (it then reads as a shift of 0).
    let right_shift = if shift > 0 { 0 } else { shift.wrapping_neg() };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(
            x.wrapping_mul(1i32.wrapping_shl(left_shift as u32)),
            multiplier,
        ),
        right_shift,
    )
}

/// TFLite's `MultiplyByQuantizedMultiplierGreaterThanOne`: `left_shift >= 0`.
#[inline(always)]
pub fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    saturating_rounding_doubling_high_mul(
        x.wrapping_mul(1i32.wrapping_shl(left_shift as u32)),
        multiplier,
    )
}

/// TFLite's `MultiplyByQuantizedMultiplierSmallerThanOneExp`: `left_shift <= 0`.
#[inline(always)]
pub fn multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x, multiplier),
        left_shift.wrapping_neg(),
    )
}

/// Arm's `SMMULR`: the high word of `a * b`, rounded (`floor((a * b + 2^31) / 2^32)`).
///
/// `smmulr(2 * a, m)` is exactly [`saturating_rounding_doubling_high_mul`]`(a, m)` while
/// `2 * a` does not overflow, which the DSP kernels rely on.
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    ((a as i64 * b as i64 + (1i64 << 31)) >> 32) as i32
}

/// gemmlowp `SaturatingRoundingMultiplyByPOT`: `x * 2^exponent`, saturating when
/// `exponent > 0`, rounding when `exponent < 0`. Defined for every `exponent` (gemmlowp only
/// instantiates `-31..=31`): beyond 31 every non-zero `x` saturates, below -31 the result
/// rounds to 0.
#[inline]
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent > 0 {
        let threshold = if exponent >= 31 {
            0
        } else {
            ((1i64 << (31 - exponent)) - 1) as i32
        };
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            // |x| <= threshold: the shift cannot overflow (and x == 0 when exponent >= 31).
            x.wrapping_shl(exponent as u32)
        }
    } else if exponent < -31 {
        0
    } else if exponent < 0 {
        rounding_divide_by_pot(x, -exponent)
    } else {
        x
    }
}

/// gemmlowp `RoundingHalfSum`: `(a + b) / 2` rounded half away from zero.
#[inline]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// Converts a raw value from `Q(src_int_bits)` to `Q(dst_int_bits)` (gemmlowp `Rescale`).
#[inline]
pub fn rescale(raw: i32, src_int_bits: i32, dst_int_bits: i32) -> i32 {
    saturating_rounding_multiply_by_pot(raw, src_int_bits.saturating_sub(dst_int_bits))
}

/// Fixed-point product: `Qa * Qb -> Q(a+b)` (gemmlowp `operator*` on `FixedPoint`).
#[inline(always)]
fn fx_mul(a: i32, b: i32) -> i32 {
    saturating_rounding_doubling_high_mul(a, b)
}

/// 1.0 in Q0.31 is not representable; gemmlowp uses the largest value.
const Q0_ONE: i32 = i32::MAX;

/// `2^exponent` in a format with `int_bits` integer bits (gemmlowp `ConstantPOT`).
#[inline]
const fn constant_pot(int_bits: i32, exponent: i32) -> i32 {
    1i32 << (31 - int_bits + exponent)
}

/// `exp(a)` for `a` in `[-1/4, 0)`, Q0.31 in and out: a 4th-order Taylor expansion around -1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668; // exp(-1/8) in Q0.31
    const ONE_THIRD: i32 = 715_827_883; // 1/3 in Q0.31
    let x = a.wrapping_add(constant_pot(0, -3));
    let x2 = fx_mul(x, x);
    let x3 = fx_mul(x2, x);
    let x4 = fx_mul(x2, x2);
    let x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
    let poly = saturating_rounding_multiply_by_pot(
        fx_mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        -1,
    );
    EXP_MINUS_ONE_EIGHTH.wrapping_add(fx_mul(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(poly)))
}

/// `exp(a)` for `a <= 0` given in `Q(int_bits)`; the result is in Q0.31
/// (gemmlowp `exp_on_negative_values`). `int_bits` is clamped to `0..=29`, the formats the
/// algorithm's constants fit in (callers pass constants; the clamp keeps it panic-free).
pub fn exp_on_negative_values(a: i32, int_bits: i32) -> i32 {
    let int_bits = int_bits.clamp(0, 29);
    let frac_bits = 31 - int_bits;
    let one_quarter = constant_pot(int_bits, -2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        int_bits,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);

    // Multiply by exp(-2^k) for every bit 2^k set in the remainder: a barrel shifter.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947), // exp(-1/4)
        (-1, 1_302_514_674), // exp(-1/2)
        (0, 790_015_084),    // exp(-1)
        (1, 290_630_308),    // exp(-2)
        (2, 39_332_535),     // exp(-4)
        (3, 720_401),        // exp(-8)
        (4, 242),            // exp(-16)
    ];
    for (exponent, multiplier) in BARREL {
        if int_bits > exponent {
            let shift = frac_bits + exponent;
            if remainder & (1i32 << shift) != 0 {
                result = fx_mul(result, multiplier);
            }
        }
    }
    if int_bits > 5 {
        let clamp = -(1i32 << (36 - int_bits)); // -32.0 in Q(int_bits)
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = Q0_ONE;
    }
    result
}

/// Newton-Raphson iterations shared by `1/(1+x)` and `(1-x)/(1+x)`; returns `x` in Q2.29.
fn newton_raphson_reciprocal_half_denominator(half_denominator: i32) -> i32 {
    const C48_OVER_17: i32 = 1_515_870_810; // 48/17 in Q2.29
    const NEG_C32_OVER_17: i32 = -1_010_580_540; // -32/17 in Q2.29
    const Q2_ONE: i32 = 1 << 29;
    let mut x = C48_OVER_17.wrapping_add(fx_mul(half_denominator, NEG_C32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = fx_mul(half_denominator, x);
        let one_minus = Q2_ONE.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(rescale(fx_mul(x, one_minus), 4, 2));
    }
    x
}

/// `1 / (1 + a)` for `a` in `[0, 1)`, Q0.31 in and out
/// (gemmlowp `one_over_one_plus_x_for_x_in_0_1`).
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, Q0_ONE);
    let x = newton_raphson_reciprocal_half_denominator(half_denominator);
    // ExactMulByPot<-1> then Rescale<0> from Q2.
    rescale(x >> 1, 2, 0)
}

/// `(1 - a) / (1 + a)` for `a` in `[0, 1)`, Q0.31 in and out
/// (gemmlowp `one_minus_x_over_one_plus_x_for_x_in_0_1`).
pub fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, Q0_ONE);
    let x = newton_raphson_reciprocal_half_denominator(half_denominator);
    rescale(x.wrapping_sub(1 << 29), 2, 0)
}

/// The logistic function of `a` in `Q(int_bits)`, result in Q0.31 (gemmlowp `logistic`).
pub fn logistic(a: i32, int_bits: i32) -> i32 {
    if a == 0 {
        return 1 << 30; // exactly one half
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let positive =
        one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(abs.wrapping_neg(), int_bits));
    if a > 0 {
        positive
    } else {
        Q0_ONE.wrapping_sub(positive)
    }
}

/// `tanh(a)` for `a` in `Q(int_bits)`, result in Q0.31 (gemmlowp `tanh`).
pub fn tanh(a: i32, int_bits: i32) -> i32 {
    if a == 0 {
        return 0;
    }
    let negative_part = if a < 0 { a } else { a.wrapping_neg() };
    // -tanh(n) for n <= 0 is (1 - e^{2n}) / (1 + e^{2n}). gemmlowp doubles n with
    // `ExactMulByPot<1>`, which keeps the raw bits and reads them with one more integer bit:
    // doubling the raw value instead would overflow for |n| >= 2^(int_bits - 1).
    let t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(
        negative_part,
        int_bits.saturating_add(1),
    ));
    if a < 0 {
        t.wrapping_neg()
    } else {
        t
    }
}

/// TFLite `GetReciprocal`: `1/x` for `x` in `Q(x_integer_digits)`, as a Q0.31 value in
/// `[0.5, 1]` and the number of bits by which `x` exceeded one.
pub fn reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let num_bits_over_unit = x_integer_digits.saturating_sub(headroom_plus_one);
    let shifted_sum_minus_one =
        ((x as u32).wrapping_shl(headroom_plus_one as u32)).wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srdhm_matches_definition() {
        for &(a, b) in &[
            (1 << 30, 1 << 30),
            (-7, 1 << 30),
            (123_456_789, -987_654_321),
            (i32::MAX, i32::MAX),
            (i32::MIN, i32::MAX),
        ] {
            let exact = (a as f64) * (b as f64) / 2f64.powi(31);
            let got = saturating_rounding_doubling_high_mul(a, b);
            assert!(
                (got as f64 - exact).abs() <= 0.5 + 1e-9,
                "{a} * {b}: {got} vs {exact}"
            );
        }
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
    }

    #[test]
    fn smmulr_of_double_is_srdhm() {
        let mut x = 0x1234_5678u32;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let a = (x as i32) >> 2; // |a| < 2^29, so 2a cannot overflow
            let m = (1 << 30) + ((x >> 3) as i32 & 0x3fff_ffff);
            assert_eq!(
                smmulr(2 * a, m),
                saturating_rounding_doubling_high_mul(a, m),
                "{a} {m}"
            );
        }
    }

    #[test]
    fn rounding_divide_ties_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(6, 2), 2); // 1.5 -> 2
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // -1.5 -> -2
        assert_eq!(rounding_divide_by_pot(5, 2), 1); // 1.25 -> 1
        assert_eq!(rounding_divide_by_pot(-5, 2), -1);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(17, 0), 17);
    }

    #[test]
    fn exp_tracks_the_real_function() {
        for int_bits in [0, 4, 5, 12] {
            let frac = (31 - int_bits) as f64;
            for i in 0..200 {
                let x = -(i as f64) * 0.0371;
                let lim = 2f64.powi(int_bits);
                if -x >= lim {
                    continue;
                }
                let raw = (x * 2f64.powf(frac)).round() as i32;
                let got = exp_on_negative_values(raw, int_bits) as f64 / 2f64.powi(31);
                assert!(
                    (got - x.exp()).abs() < 2e-6,
                    "exp({x}) = {got} (int_bits {int_bits})"
                );
            }
        }
    }

    #[test]
    fn logistic_and_tanh_track_the_real_functions() {
        // The whole Q4.27 range, including |x| >= 8 where a naive doubling of the raw value
        // inside tanh would overflow.
        for i in -639..640 {
            let x = i as f64 * 0.025;
            let raw = (x * 2f64.powi(27)).round() as i32; // Q4.27
            let s = logistic(raw, 4) as f64 / 2f64.powi(31);
            let t = tanh(raw, 4) as f64 / 2f64.powi(31);
            assert!(
                (s - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6,
                "logistic({x}) = {s}"
            );
            assert!((t - x.tanh()).abs() < 1e-6, "tanh({x}) = {t}");
        }
    }

    /// Every helper is total: hostile parameters (a corrupted model's shifts, say) give a
    /// number, never a panic, even with overflow checks on.
    #[test]
    fn every_helper_is_total() {
        let values = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30),
            -12345,
            -1,
            0,
            1,
            12345,
            1 << 30,
            i32::MAX,
        ];
        let mut shifts: [i32; 8] = [i32::MIN, -1000, -64, -33, 33, 64, 1000, i32::MAX];
        let mut sink = 0i32;
        for round in 0..2 {
            for &a in &values {
                for s in shifts.iter().copied().chain(-40..=40) {
                    for &b in &values {
                        sink ^= saturating_rounding_doubling_high_mul(a, b);
                        sink ^= multiply_by_quantized_multiplier(a, b, s);
                        sink ^= multiply_by_quantized_multiplier_greater_than_one(a, b, s);
                        sink ^= multiply_by_quantized_multiplier_smaller_than_one_exp(a, b, s);
                        sink ^= rescale(a, s, b);
                        sink ^= rounding_half_sum(a, b);
                    }
                    sink ^= rounding_divide_by_pot(a, s);
                    sink ^= saturating_rounding_multiply_by_pot(a, s);
                    sink ^= exp_on_negative_values(a, s);
                    sink ^= logistic(a, s);
                    sink ^= tanh(a, s);
                    let (r, e) = reciprocal(a, s);
                    sink ^= r ^ e;
                }
                sink ^= one_over_one_plus_x_for_x_in_0_1(a);
                sink ^= one_minus_x_over_one_plus_x_for_x_in_0_1(a);
            }
            shifts.reverse();
            sink = sink.wrapping_add(round);
        }
        core::hint::black_box(sink);
        // The extended definitions: beyond the shifts gemmlowp instantiates.
        assert_eq!(saturating_rounding_multiply_by_pot(1, 40), i32::MAX);
        assert_eq!(saturating_rounding_multiply_by_pot(-1, 31), i32::MIN);
        assert_eq!(saturating_rounding_multiply_by_pot(0, 40), 0);
        assert_eq!(saturating_rounding_multiply_by_pot(i32::MAX, -40), 0);
        assert_eq!(saturating_rounding_multiply_by_pot(3, 2), 12);
    }

    #[test]
    fn reciprocal_inverts() {
        for v in [1.0f64, 1.25, 3.5, 100.0, 4095.9] {
            let raw = (v * 2f64.powi(31 - 12)) as i32;
            let (scale, bits) = reciprocal(raw, 12);
            let got = scale as f64 / 2f64.powi(31) / 2f64.powi(bits);
            assert!((got - 1.0 / v).abs() / (1.0 / v) < 1e-6, "1/{v} = {got}");
        }
    }
}
