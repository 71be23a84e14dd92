//! Int8 ADD/SUB and MUL without broadcasting (a broadcast runs the reference): the
//! reference's per-element arithmetic in every lane, with the same parameters in all lanes.

use super::{v128, v256, v512};
use crate::ops::binary::{
    add_element_i8, add_i8, check_int_params, check_operands, mul_element_i8, mul_i8,
};
use crate::util::expect_op;
use core::arch::x86_64::*;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{AddI8, MulI8, Op};
use ferrite_core::{Ctx, Result};

type AddFn = fn(&AddI8, &[i8], &[i8], &mut [i8]);
type MulFn = fn(&MulI8, &[i8], &[i8], &mut [i8]);

/// Kernel entry for [`Op::AddI8`] on AVX-512.
pub(crate) fn run_add_i8_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run_add(ctx, op, |p, a, b, o| unsafe { add_avx512(p, a, b, o) })
}
/// Kernel entry for [`Op::AddI8`] on AVX2.
pub(crate) fn run_add_i8_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run_add(ctx, op, |p, a, b, o| unsafe { add_avx2(p, a, b, o) })
}
/// Kernel entry for [`Op::AddI8`] on SSE4.1.
pub(crate) fn run_add_i8_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Sse41` (see the module docs).
    run_add(ctx, op, |p, a, b, o| unsafe { add_sse41(p, a, b, o) })
}
/// Kernel entry for [`Op::MulI8`] on AVX-512.
pub(crate) fn run_mul_i8_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run_mul(ctx, op, |p, a, b, o| unsafe { mul_avx512(p, a, b, o) })
}
/// Kernel entry for [`Op::MulI8`] on AVX2.
pub(crate) fn run_mul_i8_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run_mul(ctx, op, |p, a, b, o| unsafe { mul_avx2(p, a, b, o) })
}
/// Kernel entry for [`Op::MulI8`] on SSE4.1.
pub(crate) fn run_mul_i8_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Sse41` (see the module docs).
    run_mul(ctx, op, |p, a, b, o| unsafe { mul_sse41(p, a, b, o) })
}

fn run_add(ctx: &mut Ctx<'_>, op: &Op, fast: AddFn) -> Result<()> {
    let p = expect_op!(ctx, op, AddI8);
    check_int_params(
        ctx,
        &[p.a_shift, p.b_shift, p.out_shift],
        &[],
        p.act_min,
        p.act_max,
    )?;
    if !(0..=31).contains(&p.left_shift) {
        return Err(ctx.error("left shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let a: &[i8] = inputs.get(p.a)?;
    let b: &[i8] = inputs.get(p.b)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    if p.broadcast.is_none() {
        fast(p, a, b, output);
    } else {
        add_i8(p, a, b, output);
    }
    Ok(())
}

fn run_mul(ctx: &mut Ctx<'_>, op: &Op, fast: MulFn) -> Result<()> {
    let p = expect_op!(ctx, op, MulI8);
    check_int_params(ctx, &[], &[p.out_shift], p.act_min, p.act_max)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let a: &[i8] = inputs.get(p.a)?;
    let b: &[i8] = inputs.get(p.b)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    if p.broadcast.is_none() {
        fast(p, a, b, output);
    } else {
        mul_i8(p, a, b, output);
    }
    Ok(())
}

// The slices of every function below have equal lengths (`check_operands` without a
// broadcast); each vector step touches elements `i..i + lanes` below that length (masked on
// AVX-512, whole steps then a scalar tail elsewhere).

/// The input side of an int8 ADD with the usual parameters, in 32-bit arithmetic: for
/// `v = x + offset` within ±256, a left shift in `9..=20` and a non-negative multiplier,
/// `srdhm(v << ls, m)` is `v * mh + ((v * ml + 2^(s-1)) >> s)` with `s = 31 - ls` and
/// `m = mh * 2^s + ml` (no product leaves 31 bits), and the rounding divide of a value within
/// ±2^28 by `2^e` is `(x + 2^(e-1) - (x < 0)) >> e`.
#[derive(Clone, Copy)]
struct AddSide {
    mh: __m512i,
    ml: __m512i,
    round: __m512i,
    s: __m128i,
    e: i32,
}

impl AddSide {
    /// The constants for one input, if its parameters allow the 32-bit form.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn new(offset: i32, left_shift: i32, mult: i32, shift: i32) -> Option<AddSide> {
        if !(-128..=128).contains(&offset) || !(9..=20).contains(&left_shift) || mult < 0 {
            return None;
        }
        let s = 31 - left_shift;
        Some(AddSide {
            mh: _mm512_set1_epi32(mult >> s),
            ml: _mm512_set1_epi32(mult & ((1 << s) - 1)),
            round: _mm512_set1_epi32(1 << (s - 1)),
            s: _mm_cvtsi32_si128(s),
            e: -shift,
        })
    }

    /// `multiply_by_quantized_multiplier_smaller_than_one_exp(v << ls, m, shift)`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn apply(&self, v: __m512i) -> __m512i {
        let hi = _mm512_mullo_epi32(v, self.mh);
        let lo = _mm512_add_epi32(_mm512_mullo_epi32(v, self.ml), self.round);
        let x = _mm512_add_epi32(hi, _mm512_sra_epi32(lo, self.s));
        round_shift(x, self.e)
    }
}

/// `rounding_divide_by_pot(x, e)` for `x` within ±2^30 (so the sum cannot overflow).
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn round_shift(x: __m512i, e: i32) -> __m512i {
    if e == 0 {
        return x;
    }
    let half = _mm512_set1_epi32(1 << (e - 1));
    let x = _mm512_add_epi32(_mm512_add_epi32(x, half), _mm512_srai_epi32(x, 31));
    _mm512_sra_epi32(x, _mm_cvtsi32_si128(e))
}

/// [`add_avx512`] for the usual parameters (see [`AddSide`]), or `false` to take the
/// general path.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn add_avx512_usual(p: &AddI8, a: &[i8], b: &[i8], out: &mut [i8]) -> bool {
    let (Some(sa), Some(sb)) = (
        AddSide::new(p.a_offset, p.left_shift, p.a_multiplier, p.a_shift),
        AddSide::new(p.b_offset, p.left_shift, p.b_multiplier, p.b_shift),
    ) else {
        return false;
    };
    // The sum is within ±2^29: its high multiply cannot saturate (unless the multiplier is
    // i32::MIN, which is negative and takes the general path) and its rounding divide cannot
    // overflow; the output offset must then not wrap either.
    if p.out_multiplier < 0 || p.output_offset.unsigned_abs() >= 1 << 29 {
        return false;
    }
    let set = _mm512_set1_epi32;
    let om = set(p.out_multiplier);
    let oe = -p.out_shift;
    let (lo, hi) = (
        set(p.act_min.wrapping_sub(p.output_offset)),
        set(p.act_max.wrapping_sub(p.output_offset)),
    );
    if p.act_min.checked_sub(p.output_offset).is_none()
        || p.act_max.checked_sub(p.output_offset).is_none()
    {
        return false;
    }
    let off = set(p.output_offset);
    let (aoff, boff) = (set(p.a_offset), set(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i < n {
        let k = (n - i).min(16);
        let m: __mmask16 = if k == 16 { 0xFFFF } else { (1 << k) - 1 };
        // SAFETY: masked to elements below n.
        let xa = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, a.as_ptr().add(i)));
        let xb = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b.as_ptr().add(i)));
        let xa = sa.apply(_mm512_add_epi32(xa, aoff));
        let xb = sb.apply(_mm512_add_epi32(xb, boff));
        let s = if p.subtract {
            _mm512_sub_epi32(xa, xb)
        } else {
            _mm512_add_epi32(xa, xb)
        };
        let q = round_shift(v512::srdhm_unsaturated(s, om), oe);
        let v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), off);
        v512::store_bytes(out.as_mut_ptr().add(i), m, v);
        i += 16;
    }
    true
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn add_avx512(p: &AddI8, a: &[i8], b: &[i8], out: &mut [i8]) {
    if add_avx512_usual(p, a, b, out) {
        return;
    }
    let sl = _mm_cvtsi32_si128(p.left_shift);
    let set = _mm512_set1_epi32;
    let ra = v512::rq(set(p.a_multiplier), set(p.a_shift));
    let rb = v512::rq(set(p.b_multiplier), set(p.b_shift));
    let ro = v512::rq(set(p.out_multiplier), set(p.out_shift));
    let o = v512::out(p.output_offset, false, p.act_min, p.act_max);
    let (aoff, boff) = (set(p.a_offset), set(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i < n {
        let k = (n - i).min(16);
        let m: __mmask16 = if k == 16 { 0xFFFF } else { (1 << k) - 1 };
        // SAFETY: masked to elements below n.
        let xa = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, a.as_ptr().add(i)));
        let xb = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b.as_ptr().add(i)));
        let xa = v512::mbqm(_mm512_sll_epi32(_mm512_add_epi32(xa, aoff), sl), &ra);
        let xb = v512::mbqm(_mm512_sll_epi32(_mm512_add_epi32(xb, boff), sl), &rb);
        let s = if p.subtract {
            _mm512_sub_epi32(xa, xb)
        } else {
            _mm512_add_epi32(xa, xb)
        };
        let v = v512::requant(s, &ro, &o);
        v512::store_bytes(out.as_mut_ptr().add(i), m, v);
        i += 16;
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn mul_avx512(p: &MulI8, a: &[i8], b: &[i8], out: &mut [i8]) {
    let set = _mm512_set1_epi32;
    let ro = v512::rq(set(p.out_multiplier), set(p.out_shift));
    let o = v512::out(p.output_offset, false, p.act_min, p.act_max);
    let (aoff, boff) = (set(p.a_offset), set(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i < n {
        let k = (n - i).min(16);
        let m: __mmask16 = if k == 16 { 0xFFFF } else { (1 << k) - 1 };
        // SAFETY: masked to elements below n.
        let xa = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, a.as_ptr().add(i)));
        let xb = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b.as_ptr().add(i)));
        let prod = _mm512_mullo_epi32(_mm512_add_epi32(xa, aoff), _mm512_add_epi32(xb, boff));
        let v = v512::requant(prod, &ro, &o);
        v512::store_bytes(out.as_mut_ptr().add(i), m, v);
        i += 16;
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn add_avx2(p: &AddI8, a: &[i8], b: &[i8], out: &mut [i8]) {
    let sl = _mm_cvtsi32_si128(p.left_shift);
    let set = _mm256_set1_epi32;
    let ra = v256::rq(set(p.a_multiplier), set(p.a_shift));
    let rb = v256::rq(set(p.b_multiplier), set(p.b_shift));
    let ro = v256::rq(set(p.out_multiplier), set(p.out_shift));
    let o = v256::out(p.output_offset, false, p.act_min, p.act_max);
    let (aoff, boff) = (set(p.a_offset), set(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: elements i..i + 8 are below n.
        let xa = _mm256_cvtepi8_epi32(_mm_loadl_epi64(a.as_ptr().add(i) as *const _));
        let xb = _mm256_cvtepi8_epi32(_mm_loadl_epi64(b.as_ptr().add(i) as *const _));
        let xa = v256::mbqm(_mm256_sll_epi32(_mm256_add_epi32(xa, aoff), sl), &ra);
        let xb = v256::mbqm(_mm256_sll_epi32(_mm256_add_epi32(xb, boff), sl), &rb);
        let s = if p.subtract {
            _mm256_sub_epi32(xa, xb)
        } else {
            _mm256_add_epi32(xa, xb)
        };
        let v = v256::narrow(v256::requant(s, &ro, &o));
        (out.as_mut_ptr().add(i) as *mut i64).write_unaligned(v);
        i += 8;
    }
    for j in i..n {
        out[j] = add_element_i8(p, a[j], b[j]);
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn mul_avx2(p: &MulI8, a: &[i8], b: &[i8], out: &mut [i8]) {
    let set = _mm256_set1_epi32;
    let ro = v256::rq(set(p.out_multiplier), set(p.out_shift));
    let o = v256::out(p.output_offset, false, p.act_min, p.act_max);
    let (aoff, boff) = (set(p.a_offset), set(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: elements i..i + 8 are below n.
        let xa = _mm256_cvtepi8_epi32(_mm_loadl_epi64(a.as_ptr().add(i) as *const _));
        let xb = _mm256_cvtepi8_epi32(_mm_loadl_epi64(b.as_ptr().add(i) as *const _));
        let prod = _mm256_mullo_epi32(_mm256_add_epi32(xa, aoff), _mm256_add_epi32(xb, boff));
        let v = v256::narrow(v256::requant(prod, &ro, &o));
        (out.as_mut_ptr().add(i) as *mut i64).write_unaligned(v);
        i += 8;
    }
    for j in i..n {
        out[j] = mul_element_i8(p, a[j], b[j]);
    }
}

/// Output offset, clamp and truncation to bytes of 4 lanes (SSE4.1).
#[target_feature(enable = "sse4.1")]
#[inline]
unsafe fn finish128(v: __m128i, offset: i32, act_min: i32, act_max: i32) -> i32 {
    let v = _mm_add_epi32(v, _mm_set1_epi32(offset));
    let v = _mm_min_epi32(
        _mm_max_epi32(v, _mm_set1_epi32(act_min)),
        _mm_set1_epi32(act_max),
    );
    let lows = _mm_shuffle_epi8(
        v,
        _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1),
    );
    _mm_cvtsi128_si32(lows)
}

#[target_feature(enable = "sse4.1")]
unsafe fn add_sse41(p: &AddI8, a: &[i8], b: &[i8], out: &mut [i8]) {
    let sl = _mm_cvtsi32_si128(p.left_shift);
    let (aoff, boff) = (_mm_set1_epi32(p.a_offset), _mm_set1_epi32(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: elements i..i + 4 are below n.
        let load = |s: &[i8]| unsafe {
            _mm_cvtepi8_epi32(_mm_cvtsi32_si128(
                (s.as_ptr().add(i) as *const i32).read_unaligned(),
            ))
        };
        let xa = _mm_sll_epi32(_mm_add_epi32(load(a), aoff), sl);
        let xb = _mm_sll_epi32(_mm_add_epi32(load(b), boff), sl);
        let xa = v128::mbqm(xa, p.a_multiplier, p.a_shift);
        let xb = v128::mbqm(xb, p.b_multiplier, p.b_shift);
        let s = if p.subtract {
            _mm_sub_epi32(xa, xb)
        } else {
            _mm_add_epi32(xa, xb)
        };
        let v = v128::mbqm(s, p.out_multiplier, p.out_shift);
        let bytes = finish128(v, p.output_offset, p.act_min, p.act_max);
        (out.as_mut_ptr().add(i) as *mut i32).write_unaligned(bytes);
        i += 4;
    }
    for j in i..n {
        out[j] = add_element_i8(p, a[j], b[j]);
    }
}

#[target_feature(enable = "sse4.1")]
unsafe fn mul_sse41(p: &MulI8, a: &[i8], b: &[i8], out: &mut [i8]) {
    let (aoff, boff) = (_mm_set1_epi32(p.a_offset), _mm_set1_epi32(p.b_offset));
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: elements i..i + 4 are below n.
        let load = |s: &[i8]| unsafe {
            _mm_cvtepi8_epi32(_mm_cvtsi32_si128(
                (s.as_ptr().add(i) as *const i32).read_unaligned(),
            ))
        };
        let prod = _mm_mullo_epi32(_mm_add_epi32(load(a), aoff), _mm_add_epi32(load(b), boff));
        let v = v128::mbqm(prod, p.out_multiplier, p.out_shift);
        let bytes = finish128(v, p.output_offset, p.act_min, p.act_max);
        (out.as_mut_ptr().add(i) as *mut i32).write_unaligned(bytes);
        i += 4;
    }
    for j in i..n {
        out[j] = mul_element_i8(p, a[j], b[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use ferrite_core::TensorId;
    use proptest::prelude::*;
    extern crate std;
    use std::vec::Vec;

    fn add_op(len: u32, rng: &mut Rng, subtract: bool) -> AddI8 {
        let mut r = |lo: i32, span: u64| lo + (rng.next() % span) as i32;
        AddI8 {
            subtract,
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            len,
            broadcast: None,
            a_offset: r(-127, 256),
            b_offset: r(-127, 256),
            left_shift: r(0, 24),
            a_multiplier: r(1 << 30, 1 << 30),
            a_shift: r(-20, 21),
            b_multiplier: r(1 << 30, 1 << 30),
            b_shift: r(-20, 21),
            out_multiplier: r(1 << 30, 1 << 30),
            out_shift: r(-31, 32),
            output_offset: r(-128, 256),
            act_min: r(-128, 100),
            act_max: r(0, 128),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn add_and_mul_are_bit_exact(len in 0u32..100, seed in any::<u64>(), subtract in any::<bool>()) {
            let mut rng = Rng(seed | 1);
            let a: Vec<i8> = (0..len).map(|_| rng.next() as i8).collect();
            let b: Vec<i8> = (0..len).map(|_| rng.next() as i8).collect();
            let add = add_op(len, &mut rng, subtract);
            let mul = MulI8 {
                a: TensorId(0), b: TensorId(1), output: TensorId(2), len, broadcast: None,
                a_offset: add.a_offset, b_offset: add.b_offset,
                out_multiplier: add.out_multiplier, out_shift: (rng.next() % 40) as i32 - 31,
                output_offset: add.output_offset, act_min: add.act_min, act_max: add.act_max,
            };
            let mut want_add = std::vec![0i8; len as usize];
            add_i8(&add, &a, &b, &mut want_add);
            let mut want_mul = std::vec![0i8; len as usize];
            mul_i8(&mul, &a, &b, &mut want_mul);
            for isa in isas() {
                let mut got_add = std::vec![0i8; len as usize];
                let mut got_mul = std::vec![0i8; len as usize];
                // SAFETY: `isas()` lists only instruction sets this CPU has.
                unsafe {
                    match isa {
                        Isa::Avx512Vnni => {
                            add_avx512(&add, &a, &b, &mut got_add);
                            mul_avx512(&mul, &a, &b, &mut got_mul);
                        }
                        Isa::Avx2 => {
                            add_avx2(&add, &a, &b, &mut got_add);
                            mul_avx2(&mul, &a, &b, &mut got_mul);
                        }
                        Isa::Sse41 => {
                            add_sse41(&add, &a, &b, &mut got_add);
                            mul_sse41(&mul, &a, &b, &mut got_mul);
                        }
                        _ => unreachable!(),
                    }
                }
                prop_assert_eq!(&got_add, &want_add, "add {}", isa);
                prop_assert_eq!(&got_mul, &want_mul, "mul {}", isa);
            }
        }
    }
}
