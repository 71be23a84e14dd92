//! Type conversions: CAST ([`Op::Cast`]) and QUANTIZE between integer types
//! ([`Op::Requantize`]).
//!
//! CAST converts values as TFLM's `static_cast` does on them, ignoring any quantization:
//! integers wrap to a narrower type; floats truncate toward zero and saturate (NaN becomes 0),
//! which is what TFLite Micro computes (a plain C++ cast would leave out-of-range floats
//! undefined); every non-zero value becomes `true`, and `true` becomes 1. Bools are one byte.
//!
//! Requantization is generic over the input and output integer types ([`QElem`]), as TFLM's
//! `reference_ops::Requantize` template is.

use super::elementwise::QElem;
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, Requantize};
use ferrite_core::{Ctx, DType, Result};

/// A tensor element type CAST reads or writes.
trait CastElem: Copy + bytemuck::Pod {
    /// The value as a float (`static_cast<float>`, rounding to nearest).
    fn to_f32(self) -> f32;
    /// The value as an integer (wrapping to 64 bits is exact for every integer type here;
    /// floats truncate and saturate, NaN gives 0).
    fn to_i64(self) -> i64;
    /// Whether the value is non-zero.
    fn truth(self) -> bool;
    /// The element holding `v` (floats convert with saturation; integers wrap).
    fn from_f32(v: f32) -> Self;
    /// The element holding `v`, wrapped to the type's width.
    fn from_i64(v: i64) -> Self;
    /// The element for a truth value (1 or 0).
    fn from_bool(v: bool) -> Self;
}

macro_rules! cast_int {
    ($($t:ty),*) => {$(
        impl CastElem for $t {
            #[inline(always)]
            fn to_f32(self) -> f32 {
                self as f32
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn truth(self) -> bool {
                self != 0
            }
            #[inline(always)]
            fn from_f32(v: f32) -> Self {
                // Rust's float-to-integer `as` truncates, saturates and maps NaN to 0: what
                // TFLM's cast yields.
                v as $t
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                <$t>::from(v)
            }
        }
    )*};
}
cast_int!(i8, i16, i32, i64, u32);

impl CastElem for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn truth(self) -> bool {
        self != 0.0
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn from_bool(v: bool) -> Self {
        if v {
            1.0
        } else {
            0.0
        }
    }
}

/// A bool element: one byte, `true` for any non-zero byte (`u8` only ever stands for bool
/// here: CAST has no uint8).
impl CastElem for u8 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from(u8::from(self != 0))
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        i64::from(self != 0)
    }
    #[inline(always)]
    fn truth(self) -> bool {
        self != 0
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        u8::from(v != 0.0)
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        u8::from(v != 0)
    }
    #[inline(always)]
    fn from_bool(v: bool) -> Self {
        u8::from(v)
    }
}

/// Whether the type is a float (its conversions go through `f32`).
fn is_float(t: DType) -> bool {
    t == DType::F32
}

/// Converts `input` into `output` element by element (`min` of the lengths).
#[inline(always)]
fn convert<F: CastElem, T: CastElem>(from: DType, to: DType, input: &[F], output: &mut [T]) {
    let pairs = output.iter_mut().zip(input);
    if to == DType::Bool {
        pairs.for_each(|(o, &x)| *o = T::from_bool(x.truth()));
    } else if from == DType::Bool {
        pairs.for_each(|(o, &x)| *o = T::from_bool(x.truth()));
    } else if is_float(from) || is_float(to) {
        pairs.for_each(|(o, &x)| *o = T::from_f32(x.to_f32()));
    } else {
        pairs.for_each(|(o, &x)| *o = T::from_i64(x.to_i64()));
    }
}

/// Reference CAST on raw bytes of types `from` and `to` (int8, int16, int32, int64, uint32, float32,
/// bool). Returns `false` for another type or buffers whose element counts differ.
pub fn cast(from: DType, to: DType, input: &[u8], output: &mut [u8]) -> bool {
    macro_rules! to_type {
        ($f:ty, $inp:expr) => {{
            let inp: &[$f] = $inp;
            macro_rules! go {
                ($t:ty) => {{
                    let Ok(out) = bytemuck::try_cast_slice_mut::<u8, $t>(output) else {
                        return false;
                    };
                    if out.len() != inp.len() {
                        return false;
                    }
                    convert::<$f, $t>(from, to, inp, out);
                    true
                }};
            }
            match to {
                DType::I8 => go!(i8),
                DType::I16 => go!(i16),
                DType::I32 => go!(i32),
                DType::I64 => go!(i64),
                DType::U32 => go!(u32),
                DType::F32 => go!(f32),
                DType::Bool => go!(u8),
                _ => false,
            }
        }};
    }
    macro_rules! from_type {
        ($f:ty) => {{
            let Ok(inp) = bytemuck::try_cast_slice::<u8, $f>(input) else {
                return false;
            };
            to_type!($f, inp)
        }};
    }
    match from {
        DType::I8 => from_type!(i8),
        DType::I16 => from_type!(i16),
        DType::I32 => from_type!(i32),
        DType::I64 => from_type!(i64),
        DType::U32 => from_type!(u32),
        DType::F32 => from_type!(f32),
        DType::Bool => from_type!(u8),
        _ => false,
    }
}

/// Kernel entry for [`Op::Cast`].
pub fn run_cast(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Cast);
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let n = input.len() / p.from.size_bytes().max(1);
    check_len(
        layer,
        output.len() as u64,
        (n as u64).saturating_mul(p.to.size_bytes() as u64),
        "input and output sizes differ",
    )?;
    if !cast(p.from, p.to, input, output) {
        return Err(ctx_error(layer, "unsupported or misaligned cast"));
    }
    Ok(())
}

fn ctx_error(layer: u16, reason: &'static str) -> ferrite_core::Error {
    ferrite_core::Error::InvalidLayer { layer, reason }
}

/// Reference integer requantization (TFLM `reference_ops::Requantize`, whose int8/uint8
/// shortcut does not apply to these types): `clamp(MBQM(x - input_zero_point) +
/// output_zero_point)` to `Out`'s range, with C++'s wrapping `i32` arithmetic.
pub fn requantize<In: QElem, Out: QElem>(p: &Requantize, input: &[In], output: &mut [Out]) {
    for (o, &x) in output.iter_mut().zip(input) {
        let v = x.into().wrapping_sub(p.input_zero_point);
        let r = multiply_by_quantized_multiplier(v, p.multiplier, p.shift)
            .wrapping_add(p.output_zero_point);
        *o = Out::narrow(r);
    }
}

/// Kernel entry for [`Op::Requantize`].
pub fn run_requantize(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Requantize);
    if !(-31..=31).contains(&p.shift) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    macro_rules! go {
        ($in:ty, $out:ty) => {{
            let input: &[$in] = inputs.get(p.input)?;
            let output: &mut [$out] = cast_out(layer, out)?;
            check_len(
                layer,
                input.len() as u64,
                output.len() as u64,
                "input and output sizes differ",
            )?;
            requantize::<$in, $out>(p, input, output);
            Ok(())
        }};
    }
    match (p.from, p.to) {
        (DType::I8, DType::I32) => go!(i8, i32),
        (DType::I32, DType::I8) => go!(i32, i8),
        (DType::I8, DType::I16) => go!(i8, i16),
        (DType::I16, DType::I8) => go!(i16, i8),
        (DType::I16, DType::I16) => go!(i16, i16),
        (DType::I16, DType::I32) => go!(i16, i32),
        (DType::I32, DType::I16) => go!(i32, i16),
        _ => Err(ctx_error(layer, "unsupported requantization types")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use ferrite_core::TensorId;

    fn run_cast<F: bytemuck::Pod, T: bytemuck::Pod + Default + Copy>(
        from: DType,
        to: DType,
        input: &[F],
    ) -> [T; 8] {
        let mut out = [T::default(); 8];
        let n = input.len();
        assert!(cast(
            from,
            to,
            bytemuck::cast_slice(input),
            bytemuck::cast_slice_mut(&mut out[..n])
        ));
        out
    }

    #[test]
    fn floats_truncate_and_saturate() {
        let x = [
            200.5f32,
            -200.7,
            3e9,
            f32::NAN,
            -0.9,
            127.9,
            f32::INFINITY,
            1.5,
        ];
        let i8s: [i8; 8] = run_cast(DType::F32, DType::I8, &x);
        assert_eq!(i8s, [127, -128, 127, 0, 0, 127, 127, 1]);
        let i32s: [i32; 8] = run_cast(DType::F32, DType::I32, &x);
        assert_eq!(i32s, [200, -200, i32::MAX, 0, 0, 127, i32::MAX, 1]);
        let bools: [u8; 8] = run_cast(DType::F32, DType::Bool, &x);
        assert_eq!(bools, [1, 1, 1, 1, 1, 1, 1, 1]);
        let zero: [u8; 8] = run_cast(DType::F32, DType::Bool, &[-0.0f32]);
        assert_eq!(zero[0], 0);
    }

    #[test]
    fn integers_wrap_and_round_to_float() {
        let x = [300i32, -129, i32::MAX, 16_777_217, 0, -1, 128, 255];
        let i8s: [i8; 8] = run_cast(DType::I32, DType::I8, &x);
        assert_eq!(i8s, [44, 127, -1, 1, 0, -1, -128, -1]);
        let f: [f32; 8] = run_cast(DType::I32, DType::F32, &x);
        assert_eq!(f[3], 16_777_216.0);
        assert_eq!(f[2], 2_147_483_648.0);
        let back: [i32; 8] = run_cast(DType::I8, DType::I32, &[-128i8, 127, -1]);
        assert_eq!(&back[..3], &[-128, 127, -1]);
    }

    #[test]
    fn bools_are_zero_or_one() {
        let b: [f32; 8] = run_cast(DType::Bool, DType::F32, &[1u8, 0, 7]);
        assert_eq!(&b[..3], &[1.0, 0.0, 1.0]);
        let i: [i8; 8] = run_cast(DType::Bool, DType::I8, &[1u8, 0, 7]);
        assert_eq!(&i[..3], &[1, 0, 1]);
        let t: [u8; 8] = run_cast(DType::I32, DType::Bool, &[5i32, 0, -1]);
        assert_eq!(&t[..3], &[1, 0, 1]);
    }

    #[test]
    fn cast_refuses_mismatched_buffers() {
        let mut out = [0u8; 3];
        assert!(!cast(DType::I8, DType::I8, &[1, 2], &mut out));
        assert!(!cast(DType::U8, DType::I8, &[1, 2, 3], &mut out));
    }

    #[test]
    fn requantize_between_int8_and_int32() {
        let (m, s) = ferrite_core::quant::quantize_multiplier(0.05 / 0.1).unwrap();
        let p = Requantize {
            input: TensorId(0),
            output: TensorId(1),
            from: DType::I8,
            to: DType::I32,
            multiplier: m,
            shift: s,
            input_zero_point: 3,
            output_zero_point: -2,
        };
        let mut out = [0i32; 4];
        requantize(&p, &[70i8, 27, 2, -47], &mut out);
        assert_eq!(out, [32, 10, -2, -27]);
        let mut out8 = [0i8; 3];
        let p8 = Requantize {
            from: DType::I32,
            to: DType::I8,
            ..p
        };
        requantize(&p8, &[1000i32, -1000, 7], &mut out8);
        assert_eq!(out8, [127, -128, 0]);
    }
}
