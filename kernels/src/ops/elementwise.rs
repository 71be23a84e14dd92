//! Binary elementwise operators beyond float arithmetic and int8 ADD/MUL (which live in
//! [`super::binary`], whose broadcasting every kernel here shares): integer and bool
//! arithmetic on raw values ([`Op::IntBinary`]), comparisons ([`Op::Compare`]), quantized DIV
//! and SQUARED_DIFFERENCE ([`Op::QuantBinary`]), quantized PRELU ([`Op::PreluQ`]) and ADD_N
//! ([`Op::AddN`]).
//!
//! The quantized kernels are generic over the activation type ([`QElem`]): TFLM runs the very
//! same integer arithmetic on int16 activations, only clamping to a wider range. Each
//! per-element function follows TFLM's reference (`DivElementwise`, `SquaredDifference`,
//! `BroadcastComparison4DSlowWithScaling`, `BroadcastPrelu4DSlow`, `AddN`) with the
//! fixed-point helpers of [`ferrite_core::fixed`].

use super::binary::{
    apply_binary, check_int_params, check_operands, quantize_multiplier_smaller_than_one,
};
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
    multiply_by_quantized_multiplier_smaller_than_one_exp, reciprocal,
    saturating_rounding_doubling_high_mul,
};
use ferrite_core::model::{cast_out, Inputs};
use ferrite_core::ops::{
    AddNQuant, Broadcast, Compare, CompareKind, CompareRescale, IntBinary, IntBinaryKind, Op,
    PreluQ, QuantBinary, QuantBinaryKind,
};
use ferrite_core::quant::{activation_range_i8, quantize_multiplier, FusedActivation, QParams};
use ferrite_core::{Ctx, DType, Error, Result, TensorId};

/// An integer type a quantized kernel computes on: it widens to `i32` (where TFLM does the
/// arithmetic) and narrows back after the clamp.
pub trait QElem: Copy + bytemuck::Pod + Into<i32> {
    /// Smallest value.
    const LO: i32;
    /// Largest value.
    const HI: i32;
    /// `v` clamped to the type's range (a no-op after the kernels' own clamp).
    fn narrow(v: i32) -> Self;
}

impl QElem for i8 {
    const LO: i32 = i8::MIN as i32;
    const HI: i32 = i8::MAX as i32;
    #[inline(always)]
    fn narrow(v: i32) -> Self {
        v.clamp(Self::LO, Self::HI) as i8
    }
}

impl QElem for i16 {
    const LO: i32 = i16::MIN as i32;
    const HI: i32 = i16::MAX as i32;
    #[inline(always)]
    fn narrow(v: i32) -> Self {
        v.clamp(Self::LO, Self::HI) as i16
    }
}

impl QElem for i32 {
    const LO: i32 = i32::MIN;
    const HI: i32 = i32::MAX;
    #[inline(always)]
    fn narrow(v: i32) -> Self {
        v
    }
}

/// `Err` unless `act_min..=act_max` is a non-empty range inside `T`'s.
fn check_clamp<T: QElem>(ctx: &Ctx<'_>, act_min: i32, act_max: i32) -> Result<()> {
    if act_min > act_max || act_min < T::LO || act_max > T::HI {
        return Err(ctx.error("activation range outside the element type"));
    }
    Ok(())
}

/// A valid int8 tensor quantization: positive finite scale, zero point inside int8.
fn valid_i8(q: QParams) -> bool {
    q.scale.is_finite() && q.scale > 0.0 && (-128..=127).contains(&q.zero_point)
}

// ---------------------------------------------------------------------------------------
// Preparation (conversion time): TFLM's `Prepare` arithmetic
// ---------------------------------------------------------------------------------------

/// The rescaling of an int8 comparison (TFLM `ComparisonsPrepare`): each input's scale (as
/// `double`) through `QuantizeMultiplierSmallerThanOneExp`, 8 bits of headroom. `None` where
/// TFLM aborts: a scale not below 1, or not positive.
pub fn prepare_compare_rescale(qa: QParams, qb: QParams) -> Option<CompareRescale> {
    if !(valid_i8(qa) && valid_i8(qb)) {
        return None;
    }
    let (a_multiplier, a_shift) = quantize_multiplier_smaller_than_one(qa.scale as f64)?;
    let (b_multiplier, b_shift) = quantize_multiplier_smaller_than_one(qb.scale as f64)?;
    Some(CompareRescale {
        left_shift: 8,
        a_offset: -qa.zero_point,
        a_multiplier,
        a_shift,
        b_offset: -qb.zero_point,
        b_multiplier,
        b_shift,
    })
}

/// Int8 DIV parameters (TFLM `CalculateOpDataDiv`): `QuantizeMultiplier` of
/// `scale_a / (scale_b * scale_out)`, the clamp of `act`.
///
/// TFLM's source writes that quotient in `float` and widens it, but the TFLM this is checked
/// against (its Python interpreter's build) yields the multiplier of the `double` quotient:
/// the `float` one differs in the last bits and rounds some outputs the other way.
/// The tensors, length and broadcast are filled in by the caller. `None` for invalid
/// quantization or a multiplier out of range.
pub fn prepare_div_i8(
    qa: QParams,
    qb: QParams,
    qo: QParams,
    act: FusedActivation,
    mut p: QuantBinary,
) -> Option<QuantBinary> {
    if !(valid_i8(qa) && valid_i8(qb) && valid_i8(qo)) {
        return None;
    }
    let real = qa.scale as f64 / (qb.scale as f64 * qo.scale as f64);
    let (out_multiplier, out_shift) = quantize_multiplier(real)?;
    let (act_min, act_max) = activation_range_i8(act, qo)?;
    p.kind = QuantBinaryKind::Div;
    p.a_offset = -qa.zero_point;
    p.b_offset = -qb.zero_point;
    p.out_multiplier = out_multiplier;
    p.out_shift = out_shift;
    p.output_offset = qo.zero_point;
    p.act_min = act_min;
    p.act_max = act_max;
    Some(p)
}

/// Int8 SQUARED_DIFFERENCE parameters (TFLM `squared_difference.cc` `PrepareQuantized`,
/// `left_shift = 7`): input multipliers `scale / (2 * max_scale)` through
/// `QuantizeMultiplierSmallerThanOneExp`, output multiplier `(2 * max_scale)^2 / (2^14 *
/// scale_out)` (the denominator a `float` product) through `QuantizeMultiplier`; no fused
/// activation, so the clamp is the int8 range.
pub fn prepare_squared_difference_i8(
    qa: QParams,
    qb: QParams,
    qo: QParams,
    p: QuantBinary,
) -> Option<QuantBinary> {
    if !(valid_i8(qa) && valid_i8(qb) && valid_i8(qo)) {
        return None;
    }
    squared_difference_params(qa, qb, qo, 7, (i8::MIN as i32, i8::MAX as i32), p)
}

/// Int16 SQUARED_DIFFERENCE parameters: as [`prepare_squared_difference_i8`] with `left_shift
/// = 0` (TFLM: the values are already 16-bit) and the int16 range; TFLM requires every zero
/// point to be 0 (`None` otherwise, or for an invalid scale).
pub fn prepare_squared_difference_i16(
    qa: QParams,
    qb: QParams,
    qo: QParams,
    mut p: QuantBinary,
) -> Option<QuantBinary> {
    let valid = |q: QParams| q.scale.is_finite() && q.scale > 0.0 && q.zero_point == 0;
    if !(valid(qa) && valid(qb) && valid(qo)) {
        return None;
    }
    p.elem = DType::I16;
    squared_difference_params(qa, qb, qo, 0, (i16::MIN as i32, i16::MAX as i32), p)
}

/// The shared SQUARED_DIFFERENCE preparation for a `left_shift` and an output range.
fn squared_difference_params(
    qa: QParams,
    qb: QParams,
    qo: QParams,
    left_shift: i32,
    (act_min, act_max): (i32, i32),
    mut p: QuantBinary,
) -> Option<QuantBinary> {
    let twice_max_input_scale = 2.0 * (qa.scale.max(qb.scale) as f64);
    let (a_multiplier, a_shift) =
        quantize_multiplier_smaller_than_one(qa.scale as f64 / twice_max_input_scale)?;
    let (b_multiplier, b_shift) =
        quantize_multiplier_smaller_than_one(qb.scale as f64 / twice_max_input_scale)?;
    let denominator = ((1i32 << (left_shift * 2)) as f32 * qo.scale) as f64;
    let real_out = twice_max_input_scale * twice_max_input_scale / denominator;
    let (out_multiplier, out_shift) = quantize_multiplier(real_out)?;
    p.kind = QuantBinaryKind::SquaredDifference;
    p.a_offset = -qa.zero_point;
    p.b_offset = -qb.zero_point;
    p.left_shift = left_shift;
    p.a_multiplier = a_multiplier;
    p.a_shift = a_shift;
    p.b_multiplier = b_multiplier;
    p.b_shift = b_shift;
    p.out_multiplier = out_multiplier;
    p.out_shift = out_shift;
    p.output_offset = qo.zero_point;
    p.act_min = act_min;
    p.act_max = act_max;
    Some(p)
}

/// Int8 PRELU parameters (TFLM `CalculatePreluParams`): `QuantizeMultiplier` of
/// `scale_in / scale_out` and of `scale_in * scale_alpha / scale_out`, all in `double`.
/// The tensors, length and broadcast are filled in by the caller.
pub fn prepare_prelu_i8(qi: QParams, qa: QParams, qo: QParams, mut p: PreluQ) -> Option<PreluQ> {
    if !(valid_i8(qi) && valid_i8(qa) && valid_i8(qo)) {
        return None;
    }
    let (si, sa, so) = (qi.scale as f64, qa.scale as f64, qo.scale as f64);
    let (pos_multiplier, pos_shift) = quantize_multiplier(si / so)?;
    let (neg_multiplier, neg_shift) = quantize_multiplier(si * sa / so)?;
    p.input_offset = -qi.zero_point;
    p.alpha_offset = -qa.zero_point;
    p.output_offset = qo.zero_point;
    p.pos_multiplier = pos_multiplier;
    p.pos_shift = pos_shift;
    p.neg_multiplier = neg_multiplier;
    p.neg_shift = neg_shift;
    Some(p)
}

/// Int8 ADD_N rescaling (TFLM `add_n.cc` `CalculateOpData`): with `twice = 2 * scale_in`,
/// the input multiplier `scale_in / twice` and the output multiplier `twice / (2^20 *
/// scale_out)`, both through `QuantizeMultiplierSmallerThanOneExp`; no fused activation.
/// `None` where TFLM fails (an output scale too small for the output multiplier to be
/// below 1).
pub fn prepare_add_n_i8(qi: QParams, qo: QParams) -> Option<AddNQuant> {
    if !(valid_i8(qi) && valid_i8(qo)) {
        return None;
    }
    const LEFT_SHIFT: i32 = 20;
    let twice_max_input_scale = 2.0 * qi.scale as f64;
    let (input_multiplier, input_shift) =
        quantize_multiplier_smaller_than_one(qi.scale as f64 / twice_max_input_scale)?;
    let real_out = twice_max_input_scale / ((1i32 << LEFT_SHIFT) as f64 * qo.scale as f64);
    let (output_multiplier, output_shift) = quantize_multiplier_smaller_than_one(real_out)?;
    Some(AddNQuant {
        input_offset: -qi.zero_point,
        left_shift: LEFT_SHIFT,
        input_multiplier,
        input_shift,
        output_multiplier,
        output_shift,
        output_offset: qo.zero_point,
        act_min: i8::MIN as i32,
        act_max: i8::MAX as i32,
    })
}

// ---------------------------------------------------------------------------------------
// Integer and bool arithmetic on raw values
// ---------------------------------------------------------------------------------------

/// An integer type [`Op::IntBinary`] computes on: C++'s arithmetic on it as TFLM compiles
/// it (wrapping on overflow, division truncating toward zero).
trait RawInt: Copy + PartialOrd + bytemuck::Pod {
    const ZERO: Self;
    fn wadd(self, o: Self) -> Self;
    fn wsub(self, o: Self) -> Self;
    fn wmul(self, o: Self) -> Self;
    /// `self / o`; `o` is non-zero (the entry checks), and `MIN / -1` wraps.
    fn wdiv(self, o: Self) -> Self;
    /// `v` clamped to the type's range.
    fn from_i64(v: i64) -> Self;
}

macro_rules! raw_int {
    ($($t:ty),*) => {$(
        impl RawInt for $t {
            const ZERO: Self = 0;
            #[inline(always)]
            fn wadd(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn wsub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn wmul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn wdiv(self, o: Self) -> Self {
                self.checked_div(o).unwrap_or(self.wrapping_neg())
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v.clamp(<$t>::MIN as i64, <$t>::MAX as i64) as $t
            }
        }
    )*};
}
raw_int!(i8, i16, i32, i64);

/// `min(max(v, lo), hi)`: `clamp` would panic on an empty range (the entry rejects one).
#[inline(always)]
fn clamp_raw<T: RawInt>(v: T, lo: T, hi: T) -> T {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

/// Reference integer arithmetic (TFLM `reference_ops::Add/Sub/Mul/Div`, `SquaredDifference`,
/// `MaximumMinimumBroadcastSlow` on int8/int32/int64), each result clamped to
/// `act_min..=act_max`. Logical kinds are not integer operations (the entry rejects them).
/// Slices as for [`super::binary::add_i8`]; every divisor must be non-zero.
fn int_binary<T: RawInt>(p: &IntBinary, a: &[T], b: &[T], output: &mut [T]) {
    let (lo, hi) = (T::from_i64(p.act_min), T::from_i64(p.act_max));
    let bc = p.broadcast.as_ref();
    let c = move |v: T| clamp_raw(v, lo, hi);
    match p.kind {
        IntBinaryKind::Add => apply_binary(bc, a, b, output, |x, y| c(x.wadd(y))),
        IntBinaryKind::Sub => apply_binary(bc, a, b, output, |x, y| c(x.wsub(y))),
        IntBinaryKind::Mul => apply_binary(bc, a, b, output, |x, y| c(x.wmul(y))),
        IntBinaryKind::Div => apply_binary(bc, a, b, output, |x, y| c(x.wdiv(y))),
        IntBinaryKind::Maximum => {
            apply_binary(bc, a, b, output, |x, y| c(if x > y { x } else { y }))
        }
        IntBinaryKind::Minimum => {
            apply_binary(bc, a, b, output, |x, y| c(if x < y { x } else { y }))
        }
        IntBinaryKind::SquaredDifference => apply_binary(bc, a, b, output, |x, y| {
            let d = x.wsub(y);
            c(d.wmul(d))
        }),
        IntBinaryKind::LogicalAnd | IntBinaryKind::LogicalOr => {}
    }
}

/// Reference LOGICAL_AND / LOGICAL_OR on bools (one byte each, any non-zero byte true).
fn logical(p: &IntBinary, a: &[u8], b: &[u8], output: &mut [u8]) {
    let bc = p.broadcast.as_ref();
    if p.kind == IntBinaryKind::LogicalAnd {
        apply_binary(bc, a, b, output, |x, y| u8::from(x != 0 && y != 0));
    } else {
        apply_binary(bc, a, b, output, |x, y| u8::from(x != 0 || y != 0));
    }
}

/// Reads both operands of a broadcast binary layer as `T` and checks them against the
/// layer, then runs `f` on them and the output.
#[allow(clippy::too_many_arguments)]
fn with_operands<A: bytemuck::Pod, B: bytemuck::Pod, O: bytemuck::Pod>(
    ctx: &mut Ctx<'_>,
    a: TensorId,
    b: TensorId,
    output: TensorId,
    len: u32,
    broadcast: Option<&Broadcast>,
    f: impl FnOnce(&[A], &[B], &mut [O]) -> Result<()>,
) -> Result<()> {
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(output)?;
    let a: &[A] = inputs.get(a)?;
    let b: &[B] = inputs.get(b)?;
    let out: &mut [O] = cast_out(layer, out)?;
    check_operands(layer, len, broadcast, a.len(), b.len(), out.len())?;
    f(a, b, out)
}

/// Kernel entry for [`Op::IntBinary`].
pub fn run_int_binary(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, IntBinary);
    if p.act_min > p.act_max {
        return Err(ctx.error("activation range is empty"));
    }
    let logical_kind = matches!(p.kind, IntBinaryKind::LogicalAnd | IntBinaryKind::LogicalOr);
    if logical_kind != (p.elem == DType::Bool) {
        return Err(ctx.error("logical operators take bools, arithmetic takes integers"));
    }
    let layer = ctx.layer;
    let div_by_zero = Error::InvalidData {
        layer,
        reason: "a division by zero",
    };
    let bc = p.broadcast.as_ref();
    macro_rules! run {
        ($t:ty) => {
            with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, out| {
                // TFLM leaves a zero divisor undefined (a crash on most cores); fail instead.
                if p.kind == IntBinaryKind::Div && b.contains(&<$t>::ZERO) {
                    return Err(div_by_zero);
                }
                int_binary::<$t>(p, a, b, out);
                Ok(())
            })
        };
    }
    match p.elem {
        DType::I8 => run!(i8),
        DType::I16 => run!(i16),
        DType::I32 => run!(i32),
        DType::I64 => run!(i64),
        DType::Bool => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, out| {
            logical(p, a, b, out);
            Ok(())
        }),
        _ => Err(ctx.error("unsupported element type")),
    }
}

// ---------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------

/// Compares `fa(a)` with `fb(b)` elementwise into bools (one byte, 0 or 1).
#[inline(always)]
fn compare_with<T: Copy, U: PartialOrd>(
    kind: CompareKind,
    bc: Option<&Broadcast>,
    a: &[T],
    b: &[T],
    out: &mut [u8],
    fa: impl Fn(T) -> U,
    fb: impl Fn(T) -> U,
) {
    let o = |v: bool| u8::from(v);
    match kind {
        CompareKind::Equal => apply_binary(bc, a, b, out, |x, y| o(fa(x) == fb(y))),
        CompareKind::NotEqual => apply_binary(bc, a, b, out, |x, y| o(fa(x) != fb(y))),
        CompareKind::Less => apply_binary(bc, a, b, out, |x, y| o(fa(x) < fb(y))),
        CompareKind::LessEqual => apply_binary(bc, a, b, out, |x, y| o(fa(x) <= fb(y))),
        CompareKind::Greater => apply_binary(bc, a, b, out, |x, y| o(fa(x) > fb(y))),
        CompareKind::GreaterEqual => apply_binary(bc, a, b, out, |x, y| o(fa(x) >= fb(y))),
    }
}

/// One input of a quantized comparison on the common scale (TFLM
/// `ComparisonWithScaling`): `MultiplyByQuantizedMultiplierSmallerThanOneExp((x + offset) <<
/// left_shift, multiplier, shift)`.
#[inline(always)]
fn compare_scaled(x: i32, offset: i32, left_shift: i32, multiplier: i32, shift: i32) -> i32 {
    let shifted = offset
        .wrapping_add(x)
        .wrapping_mul(1i32.wrapping_shl(left_shift as u32));
    multiply_by_quantized_multiplier_smaller_than_one_exp(shifted, multiplier, shift)
}

/// Reference comparison of raw values (float, int32, int64, bool): C++'s operators, so a NaN
/// is unequal to everything and `-0.0 == 0.0`.
pub fn compare_raw<T: Copy + PartialOrd>(p: &Compare, a: &[T], b: &[T], out: &mut [u8]) {
    compare_with(p.kind, p.broadcast.as_ref(), a, b, out, |x| x, |y| y);
}

/// Reference quantized comparison: both inputs brought to a common scale by `r`, then
/// compared as `i32`.
pub fn compare_quantized<T: QElem>(
    p: &Compare,
    r: &CompareRescale,
    a: &[T],
    b: &[T],
    out: &mut [u8],
) {
    let r = *r;
    compare_with(
        p.kind,
        p.broadcast.as_ref(),
        a,
        b,
        out,
        move |x: T| {
            compare_scaled(
                x.into(),
                r.a_offset,
                r.left_shift,
                r.a_multiplier,
                r.a_shift,
            )
        },
        move |y: T| {
            compare_scaled(
                y.into(),
                r.b_offset,
                r.left_shift,
                r.b_multiplier,
                r.b_shift,
            )
        },
    );
}

/// Kernel entry for [`Op::Compare`].
pub fn run_compare(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Compare);
    if let Some(r) = &p.rescale {
        check_int_params(ctx, &[r.a_shift, r.b_shift], &[], 0, 0)?;
        if !(0..=30).contains(&r.left_shift) {
            return Err(ctx.error("left shift out of range"));
        }
    }
    let bc = p.broadcast.as_ref();
    match (p.elem, &p.rescale) {
        (DType::I8, Some(r)) => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
            compare_quantized::<i8>(p, r, a, b, o);
            Ok(())
        }),
        (DType::I16, Some(r)) => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
            compare_quantized::<i16>(p, r, a, b, o);
            Ok(())
        }),
        (DType::F32, None) => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
            compare_raw::<f32>(p, a, b, o);
            Ok(())
        }),
        (DType::I32, None) => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
            compare_raw::<i32>(p, a, b, o);
            Ok(())
        }),
        (DType::I64, None) => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
            compare_raw::<i64>(p, a, b, o);
            Ok(())
        }),
        (DType::Bool, None) => with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
            // Bools compare as truth values, whatever non-zero byte stores `true`.
            compare_with(p.kind, bc, a, b, o, |x: u8| x != 0, |y: u8| y != 0);
            Ok(())
        }),
        _ => Err(ctx.error("unsupported comparison type")),
    }
}

// ---------------------------------------------------------------------------------------
// Quantized DIV and SQUARED_DIFFERENCE
// ---------------------------------------------------------------------------------------

/// gemmlowp / TFLite `CountLeadingSignBits`: how many bits below the sign bit repeat it
/// (31 for 0 and -1).
#[inline(always)]
fn count_leading_sign_bits(x: i32) -> i32 {
    let v = if x < 0 { !x } else { x };
    v.leading_zeros() as i32 - 1
}

/// gemmlowp's `RoundingDivideByPOT` as TFLM compiles it, for any exponent in `0..64`: the
/// mask is computed in 64 bits (`(1ll << exponent) - 1`), so from 32 on it is all ones, and
/// the shift takes its count modulo 32 (x86, where the reference runs). DIV reaches such
/// exponents when its dividend is zero (headroom 31): the result is then 1, not 0 — on every
/// core, since `0 >> n` is 0 however the count is taken.
#[inline(always)]
fn rounding_divide_by_pot_wide(x: i32, exponent: i32) -> i32 {
    let exponent = (exponent & 63) as u32;
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> (exponent & 31)) + i32::from(remainder > threshold)
}

/// One quantized DIV element (TFLM `DivElementwise`): the divisor made positive, its
/// reciprocal as a Q0.31 multiplier, the dividend shifted up by its headroom and multiplied,
/// then everything rescaled to the output at once (the final right shift exceeds 31 for a
/// zero dividend, see [`rounding_divide_by_pot_wide`]).
///
/// A divisor of zero (in real terms) is undefined in TFLM (a debug check); this computes what
/// its arithmetic yields on a core whose shifts take their count modulo 32.
#[inline(always)]
pub fn div_element(p: &QuantBinary, x: i32, y: i32) -> i32 {
    let mut num = p.a_offset.wrapping_add(x);
    let mut den = p.b_offset.wrapping_add(y);
    if den < 0 {
        num = num.wrapping_neg();
        den = den.wrapping_neg();
    }
    let (inv, recip_shift) = reciprocal(den, 31);
    let headroom = count_leading_sign_bits(num);
    let unscaled = multiply_by_quantized_multiplier_greater_than_one(num, inv, headroom);
    let total_shift = p.out_shift.wrapping_sub(recip_shift).wrapping_sub(headroom);
    // `MultiplyByQuantizedMultiplierSmallerThanOneExp` with TFLM's handling of large shifts.
    let scaled = rounding_divide_by_pot_wide(
        saturating_rounding_doubling_high_mul(unscaled, p.out_multiplier),
        total_shift.wrapping_neg(),
    );
    let raw = p.output_offset.wrapping_add(scaled);
    raw.max(p.act_min).min(p.act_max)
}

/// One quantized SQUARED_DIFFERENCE element (TFLM `SquaredDifference(x, y, params)`): both
/// inputs rescaled to a common scale with `left_shift` bits of headroom, the difference
/// squared and rescaled to the output.
#[inline(always)]
pub fn squared_difference_element(p: &QuantBinary, x: i32, y: i32) -> i32 {
    let a = compare_scaled(x, p.a_offset, p.left_shift, p.a_multiplier, p.a_shift);
    let b = compare_scaled(y, p.b_offset, p.left_shift, p.b_multiplier, p.b_shift);
    let d = a.wrapping_sub(b);
    let raw = multiply_by_quantized_multiplier(d.wrapping_mul(d), p.out_multiplier, p.out_shift)
        .wrapping_add(p.output_offset);
    raw.max(p.act_min).min(p.act_max)
}

/// Reference quantized DIV / SQUARED_DIFFERENCE; slices as for
/// [`super::binary::add_i8`].
pub fn quant_binary<T: QElem>(p: &QuantBinary, a: &[T], b: &[T], output: &mut [T]) {
    let bc = p.broadcast.as_ref();
    match p.kind {
        QuantBinaryKind::Div => apply_binary(bc, a, b, output, |x: T, y: T| {
            T::narrow(div_element(p, x.into(), y.into()))
        }),
        QuantBinaryKind::SquaredDifference => apply_binary(bc, a, b, output, |x: T, y: T| {
            T::narrow(squared_difference_element(p, x.into(), y.into()))
        }),
    }
}

/// Kernel entry for [`Op::QuantBinary`].
pub fn run_quant_binary(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, QuantBinary);
    check_int_params(
        ctx,
        &[p.a_shift, p.b_shift],
        &[p.out_shift],
        p.act_min,
        p.act_max,
    )?;
    if !(0..=30).contains(&p.left_shift) {
        return Err(ctx.error("left shift out of range"));
    }
    let bc = p.broadcast.as_ref();
    macro_rules! run {
        ($t:ty) => {{
            check_clamp::<$t>(ctx, p.act_min, p.act_max)?;
            with_operands(ctx, p.a, p.b, p.output, p.len, bc, |a, b, o| {
                quant_binary::<$t>(p, a, b, o);
                Ok(())
            })
        }};
    }
    match p.elem {
        DType::I8 => run!(i8),
        DType::I16 => run!(i16),
        _ => Err(ctx.error("unsupported element type")),
    }
}

// ---------------------------------------------------------------------------------------
// Quantized PRELU
// ---------------------------------------------------------------------------------------

/// One quantized PRELU element (TFLM `BroadcastPrelu4DSlow`), before the clamp to the
/// output type.
#[inline(always)]
pub fn prelu_element(p: &PreluQ, x: i32, alpha: i32) -> i32 {
    let v = p.input_offset.wrapping_add(x);
    let scaled = if v >= 0 {
        multiply_by_quantized_multiplier(v, p.pos_multiplier, p.pos_shift)
    } else {
        let a = p.alpha_offset.wrapping_add(alpha);
        multiply_by_quantized_multiplier(v.wrapping_mul(a), p.neg_multiplier, p.neg_shift)
    };
    scaled.wrapping_add(p.output_offset)
}

/// Reference quantized PRELU: `input` broadcast against the int8 `alpha`.
pub fn prelu_q<T: QElem>(p: &PreluQ, input: &[T], alpha: &[i8], output: &mut [T]) {
    apply_binary(p.broadcast.as_ref(), input, alpha, output, |x: T, a: i8| {
        T::narrow(prelu_element(p, x.into(), a as i32))
    });
}

/// Kernel entry for [`Op::PreluQ`].
pub fn run_prelu_q(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, PreluQ);
    check_int_params(ctx, &[], &[p.pos_shift, p.neg_shift], 0, 0)?;
    let bc = p.broadcast.as_ref();
    match p.elem {
        DType::I8 => with_operands(ctx, p.input, p.alpha, p.output, p.len, bc, |x, a, o| {
            prelu_q::<i8>(p, x, a, o);
            Ok(())
        }),
        DType::I16 => with_operands(ctx, p.input, p.alpha, p.output, p.len, bc, |x, a, o| {
            prelu_q::<i16>(p, x, a, o);
            Ok(())
        }),
        _ => Err(ctx.error("unsupported element type")),
    }
}

// ---------------------------------------------------------------------------------------
// ADD_N
// ---------------------------------------------------------------------------------------

/// Elements of int8 ADD_N accumulated at a time in a stack buffer (the kernel needs no arena
/// scratch).
const ADD_N_CHUNK: usize = 64;

/// One int8 ADD_N input value on the accumulation scale.
#[inline(always)]
fn add_n_scaled(q: &AddNQuant, x: i32) -> i32 {
    compare_scaled(
        x,
        q.input_offset,
        q.left_shift,
        q.input_multiplier,
        q.input_shift,
    )
}

/// Reference float ADD_N, accumulated into `output` input by input: the same additions in the
/// same order as TFLM's `x = 0; x += in[j]` per element.
pub fn add_n_f32<'x>(output: &mut [f32], inputs: impl Iterator<Item = &'x [f32]>) {
    output.fill(0.0);
    for input in inputs {
        for (o, &x) in output.iter_mut().zip(input) {
            *o += x;
        }
    }
}

/// Reference int8 ADD_N (TFLM `reference_ops::AddN` with `ArithmeticParams`): every input
/// rescaled and summed in `i32`, then rescaled to the output and clamped.
///
/// TFLM starts each sum not at 0 but at the rescaled `input_offset` (the comment there says
/// "x = 0", the code uses the negated zero point), which shifts the result for a non-zero
/// input zero point; this reproduces that. `inputs(k)` yields input `k`'s slice
/// (`n_inputs` of them, each at least `output.len()` long).
pub fn add_n_i8<'x>(
    q: &AddNQuant,
    output: &mut [i8],
    n_inputs: usize,
    mut inputs: impl FnMut(usize) -> Option<&'x [i8]>,
) -> Option<()> {
    // TFLM's `x = input1_offset`, shifted and rescaled as the inputs are (no offset added).
    let start = add_n_scaled(q, 0);
    let mut acc = [0i32; ADD_N_CHUNK];
    for (c, out) in output.chunks_mut(ADD_N_CHUNK).enumerate() {
        let base = c * ADD_N_CHUNK;
        let acc = acc.get_mut(..out.len())?;
        acc.fill(start);
        for k in 0..n_inputs {
            let input = inputs(k)?.get(base..base + out.len())?;
            for (s, &x) in acc.iter_mut().zip(input) {
                *s = s.wrapping_add(add_n_scaled(q, x as i32));
            }
        }
        for (o, &s) in out.iter_mut().zip(acc.iter()) {
            let raw = multiply_by_quantized_multiplier_smaller_than_one_exp(
                s,
                q.output_multiplier,
                q.output_shift,
            )
            .wrapping_add(q.output_offset);
            *o = i8::narrow(raw.max(q.act_min).min(q.act_max));
        }
    }
    Some(())
}

/// Input `k` of an ADD_N layer as `T`, checked to have `len` elements.
fn add_n_input<'x, T: bytemuck::Pod>(
    inputs: &Inputs<'x>,
    ids: &[u16],
    k: usize,
    len: u32,
    layer: u16,
) -> Result<&'x [T]> {
    let id = ids.get(k).ok_or(Error::InvalidLayer {
        layer,
        reason: "input index out of range",
    })?;
    let x: &[T] = inputs.get(TensorId(*id))?;
    check_len(layer, x.len() as u64, len as u64, "input size differs")?;
    Ok(x)
}

/// Kernel entry for [`Op::AddN`].
pub fn run_add_n(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, AddN);
    let ids = ctx.consts(p.inputs)?;
    if let Some(q) = &p.quant {
        check_int_params(
            ctx,
            &[q.input_shift, q.output_shift],
            &[],
            q.act_min,
            q.act_max,
        )?;
        check_clamp::<i8>(ctx, q.act_min, q.act_max)?;
        if !(0..=30).contains(&q.left_shift) {
            return Err(ctx.error("left shift out of range"));
        }
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    match (p.elem, &p.quant) {
        (DType::F32, None) => {
            let output: &mut [f32] = cast_out(layer, out)?;
            check_len(layer, output.len() as u64, p.len as u64, "output size")?;
            // Every input is checked first, so the sum below skips none.
            for k in 0..ids.len() {
                add_n_input::<f32>(&inputs, ids, k, p.len, layer)?;
            }
            let all =
                (0..ids.len()).filter_map(|k| add_n_input(&inputs, ids, k, p.len, layer).ok());
            add_n_f32(output, all);
            Ok(())
        }
        (DType::I8, Some(q)) => {
            let output: &mut [i8] = cast_out(layer, out)?;
            check_len(layer, output.len() as u64, p.len as u64, "output size")?;
            for k in 0..ids.len() {
                add_n_input::<i8>(&inputs, ids, k, p.len, layer)?;
            }
            add_n_i8(q, output, ids.len(), |k| {
                add_n_input(&inputs, ids, k, p.len, layer).ok()
            })
            .ok_or(Error::InvalidLayer {
                layer,
                reason: "input size differs",
            })
        }
        _ => Err(Error::InvalidLayer {
            layer,
            reason: "unsupported element type",
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::ops::binary::broadcast_for;
    use ferrite_core::{Arena, Layer, Model, Shape, Tensor};

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    fn int_op(elem: DType, kind: IntBinaryKind, len: u32, act: (i64, i64)) -> IntBinary {
        IntBinary {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            elem,
            kind,
            len,
            broadcast: None,
            act_min: act.0,
            act_max: act.1,
        }
    }

    const I32: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);

    #[test]
    fn int32_arithmetic_wraps_truncates_and_clamps() {
        let a = [i32::MAX, -7, 7, i32::MIN, 100];
        let b = [1, 2, -2, -1, 3];
        let mut out = [0i32; 5];
        int_binary(
            &int_op(DType::I32, IntBinaryKind::Add, 5, I32),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [i32::MIN, -5, 5, i32::MAX, 103]);
        int_binary(
            &int_op(DType::I32, IntBinaryKind::Div, 5, I32),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [i32::MAX, -3, -3, i32::MIN, 33]);
        let relu6 = int_op(DType::I32, IntBinaryKind::Mul, 5, (0, 6));
        int_binary(&relu6, &a, &b, &mut out);
        // `i32::MIN * -1` wraps to `i32::MIN`, which the clamp takes to 0.
        assert_eq!(out, [6, 0, 0, 0, 6]);
        int_binary(
            &int_op(DType::I32, IntBinaryKind::SquaredDifference, 5, I32),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out[1], 81);
        assert_eq!(out[0], (i32::MAX - 1).wrapping_mul(i32::MAX - 1));
    }

    #[test]
    fn maximum_and_minimum_of_int64_and_raw_int8() {
        let a = [i64::MIN, 5, -1];
        let b = [0, i64::MAX, -2];
        let mut out = [0i64; 3];
        let full = (i64::MIN, i64::MAX);
        int_binary(
            &int_op(DType::I64, IntBinaryKind::Maximum, 3, full),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [0, i64::MAX, -1]);
        int_binary(
            &int_op(DType::I64, IntBinaryKind::Minimum, 3, full),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [i64::MIN, 5, -2]);
        let mut out8 = [0i8; 2];
        let p = int_op(DType::I8, IntBinaryKind::Maximum, 2, (-128, 127));
        int_binary(&p, &[-128i8, 3], &[-5i8, 3], &mut out8);
        assert_eq!(out8, [-5, 3]);
    }

    #[test]
    fn logical_operators_broadcast() {
        let mut p = int_op(DType::Bool, IntBinaryKind::LogicalAnd, 4, (0, 1));
        p.broadcast = broadcast_for(&[2, 2], &[2]).unwrap();
        let mut out = [9u8; 4];
        logical(&p, &[1, 0, 1, 1], &[1, 0], &mut out);
        assert_eq!(out, [1, 0, 1, 0]);
        p.kind = IntBinaryKind::LogicalOr;
        logical(&p, &[0, 0, 1, 0], &[0, 2], &mut out);
        assert_eq!(out, [0, 1, 1, 1]);
    }

    fn cmp(kind: CompareKind, elem: DType, len: u32, rescale: Option<CompareRescale>) -> Compare {
        Compare {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            elem,
            kind,
            len,
            broadcast: None,
            rescale,
        }
    }

    #[test]
    fn raw_comparisons_follow_cpp() {
        let a = [1.0f32, f32::NAN, -0.0, 2.0];
        let b = [1.0f32, f32::NAN, 0.0, 3.0];
        let mut out = [9u8; 4];
        compare_raw(
            &cmp(CompareKind::Equal, DType::F32, 4, None),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [1, 0, 1, 0]);
        compare_raw(
            &cmp(CompareKind::NotEqual, DType::F32, 4, None),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [0, 1, 0, 1]);
        compare_raw(
            &cmp(CompareKind::LessEqual, DType::F32, 4, None),
            &a,
            &b,
            &mut out,
        );
        assert_eq!(out, [1, 0, 1, 1]);
        let mut out3 = [9u8; 3];
        let p = cmp(CompareKind::Greater, DType::I64, 3, None);
        compare_raw(&p, &[i64::MAX, -1, 0], &[i64::MIN, -1, 1], &mut out3);
        assert_eq!(out3, [1, 0, 0]);
    }

    #[test]
    fn quantized_comparison_uses_real_values() {
        // a: scale 0.5, zp 0; b: scale 0.25, zp 4. a=2 is 1.0; b=8 is 1.0 too.
        let r = prepare_compare_rescale(q(0.5, 0), q(0.25, 4)).unwrap();
        assert_eq!(r.left_shift, 8);
        let mut out = [9u8; 3];
        let a = [2i8, 2, 3];
        let b = [8i8, 9, 8];
        let eq = cmp(CompareKind::Equal, DType::I8, 3, Some(r));
        compare_quantized(&eq, &r, &a, &b, &mut out);
        assert_eq!(out, [1, 0, 0]);
        let lt = cmp(CompareKind::Less, DType::I8, 3, Some(r));
        compare_quantized(&lt, &r, &a, &b, &mut out);
        assert_eq!(out, [0, 1, 0]);
        // TFLM aborts on scales that are not below 1.
        assert_eq!(prepare_compare_rescale(q(1.0, 0), q(0.5, 0)), None);
    }

    fn qb(qa: QParams, qb_: QParams, qo: QParams) -> QuantBinary {
        let blank = QuantBinary {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            elem: DType::I8,
            kind: QuantBinaryKind::Div,
            len: 0,
            broadcast: None,
            a_offset: 0,
            b_offset: 0,
            left_shift: 0,
            a_multiplier: 0,
            a_shift: 0,
            b_multiplier: 0,
            b_shift: 0,
            out_multiplier: 0,
            out_shift: 0,
            output_offset: 0,
            act_min: 0,
            act_max: 0,
        };
        prepare_div_i8(qa, qb_, qo, FusedActivation::None, blank).unwrap()
    }

    #[test]
    fn quantized_division_tracks_the_quotient() {
        let (qa, qb_, qo) = (q(0.1, 3), q(0.05, -10), q(0.2, 1));
        let p = qb(qa, qb_, qo);
        // Dividends within a few steps of the zero point take the final shift beyond 31
        // (below), where TFLM's result stops tracking the quotient.
        for x in (-128..=127i32).filter(|x| (x - 3).abs() > 8) {
            for y in [-128i32, -11, -9, 0, 50, 127] {
                let real = 0.1 * (x - 3) as f64 / (0.05 * (y + 10) as f64);
                let want = (real / 0.2 + 1.0).round().clamp(-128.0, 127.0);
                let got = div_element(&p, x, y) as f64;
                assert!((got - want).abs() <= 1.0, "{x} / {y}: {got} vs {want}");
            }
        }
        // A dividend at its zero point: TFLM's rounding of a shift beyond 31 adds one.
        assert_eq!(div_element(&p, 3, 50), 2);
        // A dividend of -4 steps by 137 (-0.06, so 1 after the output zero point): the shift
        // is 32, which x86 takes as 0, and TFLM's reference yields -128.
        assert_eq!(div_element(&p, -1, 127), -128);
        assert_eq!(rounding_divide_by_pot_wide(0, 33), 1);
        assert_eq!(rounding_divide_by_pot_wide(-5, 1), -3);
    }

    #[test]
    fn quantized_squared_difference_tracks_the_square() {
        let blank = qb(q(0.1, 0), q(0.1, 0), q(0.1, 0));
        let p =
            prepare_squared_difference_i8(q(0.05, 3), q(0.08, -10), q(0.2, -128), blank).unwrap();
        assert_eq!(p.left_shift, 7);
        for (x, y) in [(3, -10), (23, -10), (-128, 127), (50, 0)] {
            let d = 0.05 * (x - 3) as f64 - 0.08 * (y + 10) as f64;
            let want = (d * d / 0.2 - 128.0).round().clamp(-128.0, 127.0);
            let got = squared_difference_element(&p, x, y) as f64;
            assert!((got - want).abs() <= 1.0, "({x}, {y}): {got} vs {want}");
        }
    }

    #[test]
    fn quantized_prelu_scales_each_side() {
        let blank = PreluQ {
            input: TensorId(0),
            alpha: TensorId(1),
            output: TensorId(2),
            elem: DType::I8,
            len: 3,
            broadcast: None,
            input_offset: 0,
            alpha_offset: 0,
            output_offset: 0,
            pos_multiplier: 0,
            pos_shift: 0,
            neg_multiplier: 0,
            neg_shift: 0,
        };
        // input 0.1/zp 0, alpha 0.01/zp 0, output 0.1/zp 0: negatives times alpha.
        let p = prepare_prelu_i8(q(0.1, 0), q(0.01, 0), q(0.1, 0), blank).unwrap();
        let mut out = [0i8; 3];
        prelu_q(&p, &[20i8, -20, -100], &[50i8, 50, -100], &mut out);
        // 2.0 -> 2.0; -2.0 * 0.5 = -1.0; -10 * -1.0 = 10.0 (clamps at 12.7).
        assert_eq!(out, [20, -10, 100]);
    }

    #[test]
    fn add_n_float_sums_in_order_and_int8_keeps_tflm_start() {
        let mut out = [9.0f32; 2];
        add_n_f32(&mut out, [&[1.0f32, -0.0][..], &[2.0, -0.0]].into_iter());
        assert_eq!(out, [3.0, 0.0]);
        assert!(out[1].is_sign_positive());
        let qz = prepare_add_n_i8(q(0.1, 0), q(0.1, 0)).unwrap();
        let mut o8 = [0i8; 2];
        let ins: [&[i8]; 3] = [&[1, -5], &[2, 5], &[3, 100]];
        add_n_i8(&qz, &mut o8, 3, |k| ins.get(k).copied()).unwrap();
        assert_eq!(o8, [6, 100]);
        // Zero point 10: TFLM starts from the rescaled -10, so one extra -10 * 0.1 = -1.0.
        let q10 = prepare_add_n_i8(q(0.1, 10), q(0.1, 0)).unwrap();
        let ins: [&[i8]; 2] = [&[20, 10], &[30, 10]];
        add_n_i8(&q10, &mut o8, 2, |k| ins.get(k).copied()).unwrap();
        assert_eq!(o8, [20, -10]);
    }

    fn tensor(offset: u32, dtype: DType, n: u32) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(&[n]),
            scale: 0.0,
            zero_point: 0,
        }
    }

    #[test]
    fn int_division_by_zero_fails_the_layer() {
        let tensors = [
            tensor(0, DType::I32, 2),
            tensor(16, DType::I32, 2),
            tensor(32, DType::I32, 2),
        ];
        let layers = [Layer {
            op: Op::IntBinary(int_op(DType::I32, IntBinaryKind::Div, 2, I32)),
            kernel: run_int_binary,
            name: "DIV",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0), TensorId(1)],
            outputs: &[TensorId(2)],
            arena_bytes: 48,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<48>::new();
        model
            .set_input(arena.as_mut_slice(), 0, &[7i32, -9])
            .unwrap();
        model
            .set_input(arena.as_mut_slice(), 1, &[2i32, 4])
            .unwrap();
        model.invoke(arena.as_mut_slice()).unwrap();
        let out: &[i32] = model.output(arena.as_mut_slice(), 0).unwrap();
        assert_eq!(out, [3, -2]);
        model
            .set_input(arena.as_mut_slice(), 1, &[2i32, 0])
            .unwrap();
        assert_eq!(
            model.invoke(arena.as_mut_slice()),
            Err(Error::InvalidData {
                layer: 0,
                reason: "a division by zero"
            })
        );
    }

    #[test]
    fn entries_reject_inconsistent_parameters() {
        let tensors = [
            tensor(0, DType::I32, 2),
            tensor(16, DType::I32, 2),
            tensor(32, DType::Bool, 2),
        ];
        let bad = [
            // A logical operator on integers.
            Op::IntBinary(int_op(DType::I32, IntBinaryKind::LogicalAnd, 2, I32)),
            // An empty clamp.
            Op::IntBinary(int_op(DType::I32, IntBinaryKind::Add, 2, (1, 0))),
            // A quantized comparison of int32.
            Op::Compare(cmp(
                CompareKind::Less,
                DType::I32,
                2,
                prepare_compare_rescale(q(0.5, 0), q(0.5, 0)),
            )),
            // A length that does not match the output.
            Op::Compare(cmp(CompareKind::Less, DType::I32, 3, None)),
        ];
        for op in bad {
            let kernel = crate::registry::kernel_for(&op).run;
            let layers = [Layer {
                op,
                kernel,
                name: "bad",
            }];
            let model = Model {
                tensors: &tensors,
                layers: &layers,
                consts: &[],
                inputs: &[TensorId(0), TensorId(1)],
                outputs: &[TensorId(2)],
                arena_bytes: 48,
                state: ferrite_core::StatePlan::NONE,
            };
            let mut arena = Arena::<48>::new();
            assert!(
                matches!(
                    model.invoke(arena.as_mut_slice()),
                    Err(Error::InvalidLayer { .. })
                ),
                "{op:?}"
            );
        }
    }

    proptest::proptest! {
        /// Arbitrary (hostile) parameters never panic: every entry either runs or reports an
        /// invalid layer.
        #[test]
        fn hostile_params_never_panic(
            dims in proptest::array::uniform6(0u32..4),
            a_strides in proptest::array::uniform6(0u32..8),
            b_strides in proptest::array::uniform6(0u32..8),
            len in 0u32..40,
            shifts in proptest::array::uniform4(-70i32..70),
            mults in proptest::array::uniform3(proptest::num::i32::ANY),
            offsets in proptest::array::uniform3(-300i32..300),
            act in (-200i32..200, -200i32..200),
            elem in 0usize..6,
            kind in 0usize..9,
            with_bc: bool,
        ) {
            let broadcast = with_bc.then_some(Broadcast { out_dims: dims, a_strides, b_strides });
            let elem = [DType::I8, DType::I16, DType::I32, DType::I64, DType::F32, DType::Bool][elem];
            let int_kinds = [
                IntBinaryKind::Add, IntBinaryKind::Sub, IntBinaryKind::Mul, IntBinaryKind::Div,
                IntBinaryKind::Maximum, IntBinaryKind::Minimum,
                IntBinaryKind::SquaredDifference, IntBinaryKind::LogicalAnd,
                IntBinaryKind::LogicalOr,
            ];
            let cmp_kinds = [
                CompareKind::Equal, CompareKind::NotEqual, CompareKind::Less,
                CompareKind::LessEqual, CompareKind::Greater, CompareKind::GreaterEqual,
            ];
            let rescale = CompareRescale {
                left_shift: shifts[3],
                a_offset: offsets[0],
                a_multiplier: mults[0],
                a_shift: shifts[0],
                b_offset: offsets[1],
                b_multiplier: mults[1],
                b_shift: shifts[1],
            };
            let quant = QuantBinary {
                a: TensorId(0),
                b: TensorId(1),
                output: TensorId(2),
                elem,
                kind: if kind % 2 == 0 { QuantBinaryKind::Div } else { QuantBinaryKind::SquaredDifference },
                len,
                broadcast,
                a_offset: offsets[0],
                b_offset: offsets[1],
                left_shift: shifts[3],
                a_multiplier: mults[0],
                a_shift: shifts[0],
                b_multiplier: mults[1],
                b_shift: shifts[1],
                out_multiplier: mults[2],
                out_shift: shifts[2],
                output_offset: offsets[2],
                act_min: act.0,
                act_max: act.1,
            };
            let ops = [
                Op::IntBinary(IntBinary {
                    broadcast,
                    ..int_op(elem, int_kinds[kind], len, (act.0 as i64, act.1 as i64))
                }),
                Op::Compare(Compare {
                    broadcast,
                    ..cmp(cmp_kinds[kind % 6], elem, len, (kind % 2 == 0).then_some(rescale))
                }),
                Op::QuantBinary(quant),
                Op::PreluQ(PreluQ {
                    input: TensorId(0),
                    alpha: TensorId(1),
                    output: TensorId(2),
                    elem,
                    len,
                    broadcast,
                    input_offset: offsets[0],
                    alpha_offset: offsets[1],
                    output_offset: offsets[2],
                    pos_multiplier: mults[0],
                    pos_shift: shifts[0],
                    neg_multiplier: mults[1],
                    neg_shift: shifts[1],
                }),
            ];
            // Inputs of 24 bytes, the output of 16 (misfits included on purpose).
            let tensors = [
                tensor(0, elem, (24 / elem.size_bytes()) as u32),
                tensor(32, elem, (24 / elem.size_bytes()) as u32),
                tensor(64, if kind % 3 == 0 { DType::Bool } else { elem }, 16 / elem.size_bytes() as u32),
            ];
            for op in ops {
                let kernel = crate::registry::kernel_for(&op).run;
                let layers = [Layer { op, kernel, name: "hostile" }];
                let model = Model {
                    tensors: &tensors,
                    layers: &layers,
                    consts: &[],
                    inputs: &[TensorId(0), TensorId(1)],
                    outputs: &[TensorId(2)],
                    arena_bytes: 96,
                    state: ferrite_core::StatePlan::NONE,
                };
                let mut arena = Arena::<96>::new();
                arena.as_mut_slice()[..64].iter_mut().enumerate().for_each(|(i, b)| *b = (i * 37) as u8);
                let r = model.invoke(arena.as_mut_slice());
                proptest::prop_assert!(matches!(r, Ok(()) | Err(Error::InvalidLayer { .. })), "{r:?}");
            }
        }
    }
}
