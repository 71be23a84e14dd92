//! Int8 ADD/SUB and MUL without broadcasting (a broadcast runs the reference): the
//! reference's per-element arithmetic in every lane, with the same parameters in all lanes.

use super::{v128, v256, v512};
use crate::ops::binary::{add_element_i8, mul_element_i8};
use core::arch::x86_64::*;
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
    crate::ops::binary::run_add_i8_with(ctx, op, fast)
}

fn run_mul(ctx: &mut Ctx<'_>, op: &Op, fast: MulFn) -> Result<()> {
    crate::ops::binary::run_mul_i8_with(ctx, op, fast)
}

// The slices of every function below have equal lengths (`check_operands` without a
// broadcast); each vector step touches elements `i..i + lanes` below that length (masked on
// AVX-512, whole steps then a scalar tail elsewhere).

/// The input side of an int8 ADD with the usual parameters, in 32-bit arithmetic: for
/// `v = x + offset` within ±256, a left shift in `9..=20` and a non-negative multiplier,
/// `srdhm(v << ls, m)` is `v * mh + ((v * ml + 2^(s-1)) >> s)` with `s = 31 - ls` and
/// `m = mh * 2^s + ml` (no product leaves 31 bits), and the rounding divide of a value within
/// ±2^30 by `2^e` is `(x + 2^(e-1) - (x < 0)) >> e` (see [`RoundShift`]).
///
/// The input with the larger scale has the multiplier one half (`2^30`) and no shift: then
/// the result is exactly `v << (ls - 1)` ([`AddSide::half`]).
#[derive(Clone, Copy)]
struct AddSide {
    /// The multiplier is one half, without a shift.
    half: bool,
    /// `ls - 1`, for [`AddSide::half`].
    half_shift: __m128i,
    offset: __m512i,
    mh: __m512i,
    ml: __m512i,
    round: __m512i,
    s: __m128i,
    e: RoundShift,
}

impl AddSide {
    /// The constants for one input, if its parameters allow the 32-bit form.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn new(offset: i32, left_shift: i32, mult: i32, shift: i32) -> Option<AddSide> {
        if !(-128..=128).contains(&offset)
            || !(9..=20).contains(&left_shift)
            || mult < 0
            || !(-31..=0).contains(&shift)
        {
            return None;
        }
        let s = 31 - left_shift;
        Some(AddSide {
            half: mult == 1 << 30 && shift == 0,
            half_shift: _mm_cvtsi32_si128(left_shift - 1),
            offset: _mm512_set1_epi32(offset),
            mh: _mm512_set1_epi32(mult >> s),
            ml: _mm512_set1_epi32(mult & ((1 << s) - 1)),
            round: _mm512_set1_epi32(1 << (s - 1)),
            s: _mm_cvtsi32_si128(s),
            e: RoundShift::new(-shift),
        })
    }

    /// `multiply_by_quantized_multiplier_smaller_than_one_exp((x + offset) << ls, m, shift)`
    /// for int8 values `x` in 32-bit lanes; `HALF` is [`AddSide::half`].
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn apply<const HALF: bool>(&self, x: __m512i) -> __m512i {
        let v = _mm512_add_epi32(x, self.offset);
        if HALF {
            // srdhm(v << ls, 2^30) = round(v << (ls - 1)), an integer: no rounding.
            return _mm512_sll_epi32(v, self.half_shift);
        }
        let hi = _mm512_mullo_epi32(v, self.mh);
        let lo = _mm512_add_epi32(_mm512_mullo_epi32(v, self.ml), self.round);
        let x = _mm512_add_epi32(hi, _mm512_sra_epi32(lo, self.s));
        self.e.apply(x)
    }
}

/// `rounding_divide_by_pot(x, e)` by one exponent `e` in `0..=31`, for `x` within ±2^30 (so
/// the sums cannot overflow), without a branch on `e`: `(x + 2^(e-1) - (x < 0)) >> e`, where
/// for `e == 0` both the half and the sign term are zero (a logical shift by 32 gives 0).
#[derive(Clone, Copy)]
struct RoundShift {
    half: __m512i,
    sign: __m512i,
    e: __m128i,
}

impl RoundShift {
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn new(e: i32) -> RoundShift {
        RoundShift {
            half: _mm512_set1_epi32(if e > 0 { 1 << (e - 1) } else { 0 }),
            sign: _mm512_set1_epi32(if e > 0 { 31 } else { 32 }),
            e: _mm_cvtsi32_si128(e),
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    unsafe fn apply(&self, x: __m512i) -> __m512i {
        let x = _mm512_sub_epi32(
            _mm512_add_epi32(x, self.half),
            _mm512_srlv_epi32(x, self.sign),
        );
        _mm512_sra_epi32(x, self.e)
    }
}

/// [`v512::srdhm_unsaturated`] by one multiplier `m` (in every lane): the odd lanes move down
/// with a shuffle, which LLVM keeps as one `vpmuldq` (a shift made it emulate a 64-bit
/// multiply against the splat).
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn srdhm_splat(a: __m512i, m: __m512i) -> __m512i {
    let round = _mm512_set1_epi64(1 << 30);
    let even = _mm512_add_epi64(_mm512_mul_epi32(a, m), round);
    let odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_shuffle_epi32(a, 0xF5), m), round);
    _mm512_mask_blend_epi32(
        0xAAAA,
        _mm512_srli_epi64(even, 31),
        _mm512_slli_epi64(odd, 1),
    )
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
    // The sum is within ±2^29: its high multiply cannot saturate (the multiplier is not
    // negative) and its rounding divide cannot overflow; the output stage is `v512::pack64`'s.
    let int8 = -128..=127;
    if p.out_multiplier < 0
        || !(-31..=0).contains(&p.out_shift)
        || p.output_offset.unsigned_abs() > 1 << 14
        || !int8.contains(&p.act_min)
        || !int8.contains(&p.act_max)
    {
        return false;
    }
    match (p.subtract, sa.half, sb.half) {
        (false, false, false) => add_usual::<false, false, false>(p, &sa, &sb, a, b, out),
        (false, true, false) => add_usual::<false, true, false>(p, &sa, &sb, a, b, out),
        (false, false, true) => add_usual::<false, false, true>(p, &sa, &sb, a, b, out),
        (false, true, true) => add_usual::<false, true, true>(p, &sa, &sb, a, b, out),
        (true, false, false) => add_usual::<true, false, false>(p, &sa, &sb, a, b, out),
        (true, true, false) => add_usual::<true, true, false>(p, &sa, &sb, a, b, out),
        (true, false, true) => add_usual::<true, false, true>(p, &sa, &sb, a, b, out),
        (true, true, true) => add_usual::<true, true, true>(p, &sa, &sb, a, b, out),
    }
    true
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn add_usual<const SUB: bool, const HA: bool, const HB: bool>(
    p: &AddI8,
    sa: &AddSide,
    sb: &AddSide,
    a: &[i8],
    b: &[i8],
    out: &mut [i8],
) {
    let om = _mm512_set1_epi32(p.out_multiplier);
    let oe = RoundShift::new(-p.out_shift);
    let off = _mm512_set1_epi16(p.output_offset as i16);
    let (lo, hi) = (
        _mm512_set1_epi8(p.act_min as i8),
        _mm512_set1_epi8(p.act_max as i8),
    );
    let n = out.len().min(a.len()).min(b.len());
    let mut i = 0;
    while i < n {
        let k = (n - i).min(64);
        let mask: u64 = if k == 64 { !0 } else { (1 << k) - 1 };
        let mut q = [_mm512_setzero_si512(); 4];
        for (j, qj) in q.iter_mut().enumerate() {
            let m = (mask >> (16 * j)) as u16;
            // SAFETY: masked to elements below n (a masked-off byte is never read; the
            // address of a wholly masked-off quarter may lie past the slice, hence
            // `wrapping_add`).
            let xa =
                _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, a.as_ptr().wrapping_add(i + 16 * j)));
            let xb =
                _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b.as_ptr().wrapping_add(i + 16 * j)));
            let (xa, xb) = (sa.apply::<HA>(xa), sb.apply::<HB>(xb));
            let s = if SUB {
                _mm512_sub_epi32(xa, xb)
            } else {
                _mm512_add_epi32(xa, xb)
            };
            *qj = oe.apply(srdhm_splat(s, om));
        }
        let v = v512::pack64(q, off, lo, hi);
        // SAFETY: as above.
        if k == 64 {
            _mm512_storeu_si512(out.as_mut_ptr().add(i) as *mut _, v);
        } else {
            _mm512_mask_storeu_epi8(out.as_mut_ptr().add(i), mask, v);
        }
        i += 64;
    }
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
    use crate::ops::binary::{add_i8, mul_i8};
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
            scratch_offset: 0,
            tables: false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Parameters as TFLM derives them (the usual path), over whole and partial 64-element
        /// steps.
        #[test]
        fn prepared_add_is_bit_exact(
            len in 0u32..300,
            seed in any::<u64>(),
            subtract in any::<bool>(),
            scales in (0.001f32..1.0, 0.001f32..1.0, 0.001f32..1.0),
            zps in (-128i32..128, -128i32..128, -128i32..128),
            relu in any::<bool>(),
        ) {
            use crate::ops::binary::prepare_add_i8;
            use ferrite_core::quant::{FusedActivation, QParams};
            let q = |scale, zero_point| QParams { scale, zero_point };
            let act = if relu { FusedActivation::Relu } else { FusedActivation::None };
            let Some(mut add) = prepare_add_i8(
                TensorId(0), TensorId(1), TensorId(2), len, None,
                q(scales.0, zps.0), q(scales.1, zps.1), q(scales.2, zps.2), act,
            ) else {
                return Ok(());
            };
            add.subtract = subtract;
            let mut rng = Rng(seed | 1);
            let a: Vec<i8> = (0..len).map(|_| rng.next() as i8).collect();
            let b: Vec<i8> = (0..len).map(|_| rng.next() as i8).collect();
            let mut want = std::vec![0i8; len as usize];
            add_i8(&add, &a, &b, &mut want);
            for isa in isas() {
                let mut got = std::vec![0i8; len as usize];
                // SAFETY: `isas()` lists only instruction sets this CPU has.
                unsafe {
                    match isa {
                        Isa::Avx512Vnni => {
                            prop_assert!(add_avx512_usual(&add, &a, &b, &mut got));
                        }
                        Isa::Avx2 => add_avx2(&add, &a, &b, &mut got),
                        Isa::Sse41 => add_sse41(&add, &a, &b, &mut got),
                        _ => unreachable!(),
                    }
                }
                prop_assert_eq!(&got, &want, "add {}", isa);
            }
        }

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
