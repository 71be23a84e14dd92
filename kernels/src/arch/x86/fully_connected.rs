//! Int8 FULLY_CONNECTED: each output is a dot product along the input depth, computed on
//! 16-bit values `x + input_offset` and `w + weights_offset` (both within ±255, so the
//! `pmaddwd`/`vpdpwssd` pair sums are exact), summed across lanes with wrap-around as the
//! reference's accumulator wraps, then requantized by the scalar reference function (a layer
//! has few outputs per input, so the dot products dominate).

use crate::ops::fully_connected::{fully_connected_checked, run_fully_connected_i8_with, Fc};
use core::arch::x86_64::*;
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::ops::Op;
use ferrite_core::{Ctx, Result};

/// Kernel entry for [`Op::FullyConnectedI8`] on AVX-512.
pub(crate) fn run_fully_connected_i8_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run(ctx, op, |a| unsafe { fc_avx512(a) })
}

/// Kernel entry for [`Op::FullyConnectedI8`] on AVX2.
pub(crate) fn run_fully_connected_i8_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run(ctx, op, |a| unsafe { fc_avx2(a) })
}

/// Kernel entry for [`Op::FullyConnectedI8`] on SSE4.1.
pub(crate) fn run_fully_connected_i8_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Sse41` (see the module docs).
    run(ctx, op, |a| unsafe { fc_sse41(a) })
}

fn run(ctx: &mut Ctx<'_>, op: &Op, fast: impl FnOnce(&mut Fc<'_>)) -> Result<()> {
    run_fully_connected_i8_with(ctx, op, |mut f| {
        // Offsets outside ±255 in sum with an int8 would not fit the 16-bit products.
        if f.small_offsets() {
            fast(&mut f);
        } else {
            fully_connected_checked(f);
        }
    })
}

/// Requantizes output `oc` of row `b` from its raw dot product, as the reference does.
#[inline(always)]
fn finish(a: &mut Fc<'_>, b: usize, oc: usize, dot: i32) {
    let rq = &a.p.rq;
    let out_depth = a.p.out_depth as usize;
    let mut acc = dot;
    if let Some(&bv) = a.bias.get(oc) {
        acc = acc.wrapping_add(bv);
    }
    let q = if a.multiplier.len() > 1 { oc } else { 0 };
    let v = multiply_by_quantized_multiplier(acc, a.multiplier[q], a.shift[q])
        .wrapping_add(rq.output_offset);
    a.output[b * out_depth + oc] = v.max(rq.act_min).min(rq.act_max) as i8;
}

/// `(input_offset, weights_offset)` as the reference applies them.
fn offsets(a: &Fc<'_>) -> (i32, i32) {
    let wo = if a.multiplier.len() > 1 {
        0
    } else {
        a.p.weights_offset
    };
    (a.p.rq.input_offset, wo)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn fc_avx512(a: &mut Fc<'_>) {
    let (depth, out_depth) = (a.p.in_depth as usize, a.p.out_depth as usize);
    let (xo, wo) = offsets(a);
    let (xo, wo) = (_mm512_set1_epi16(xo as i16), _mm512_set1_epi16(wo as i16));
    for b in 0..a.p.batches as usize {
        let x = a.input.as_ptr().add(b * depth);
        for oc in 0..out_depth {
            let w = a.weights.as_ptr().add(oc * depth);
            let mut acc = _mm512_setzero_si512();
            let mut k = 0;
            while k < depth {
                let n = (depth - k).min(32);
                let m: __mmask32 = if n == 32 { !0 } else { (1 << n) - 1 };
                // SAFETY: masked lanes are the elements k..k + n of this row; the offsets are
                // added only in those lanes, so the others contribute 0 * 0.
                let xv = _mm512_maskz_add_epi16(
                    m,
                    _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, x.add(k))),
                    xo,
                );
                let wv = _mm512_maskz_add_epi16(
                    m,
                    _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, w.add(k))),
                    wo,
                );
                acc = _mm512_dpwssd_epi32(acc, xv, wv);
                k += 32;
            }
            finish(a, b, oc, _mm512_reduce_add_epi32(acc));
        }
    }
}

/// Sum of the 8 lanes, wrapping.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn hsum256(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn fc_avx2(a: &mut Fc<'_>) {
    let (depth, out_depth) = (a.p.in_depth as usize, a.p.out_depth as usize);
    let (xo_s, wo_s) = offsets(a);
    let (xo, wo) = (
        _mm256_set1_epi16(xo_s as i16),
        _mm256_set1_epi16(wo_s as i16),
    );
    for b in 0..a.p.batches as usize {
        let xs = &a.input[b * depth..(b + 1) * depth];
        for oc in 0..out_depth {
            let ws = &a.weights[oc * depth..(oc + 1) * depth];
            let mut acc = _mm256_setzero_si256();
            let mut k = 0;
            while k + 16 <= depth {
                // SAFETY: elements k..k + 16 are inside both rows.
                let xv = _mm256_add_epi16(
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(xs.as_ptr().add(k) as *const _)),
                    xo,
                );
                let wv = _mm256_add_epi16(
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(ws.as_ptr().add(k) as *const _)),
                    wo,
                );
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
                k += 16;
            }
            let mut dot = hsum256(acc);
            for (&x, &w) in xs[k..].iter().zip(&ws[k..]) {
                dot = dot.wrapping_add((x as i32 + xo_s).wrapping_mul(w as i32 + wo_s));
            }
            finish(a, b, oc, dot);
        }
    }
}

#[target_feature(enable = "sse4.1")]
unsafe fn fc_sse41(a: &mut Fc<'_>) {
    let (depth, out_depth) = (a.p.in_depth as usize, a.p.out_depth as usize);
    let (xo_s, wo_s) = offsets(a);
    let (xo, wo) = (_mm_set1_epi16(xo_s as i16), _mm_set1_epi16(wo_s as i16));
    for b in 0..a.p.batches as usize {
        let xs = &a.input[b * depth..(b + 1) * depth];
        for oc in 0..out_depth {
            let ws = &a.weights[oc * depth..(oc + 1) * depth];
            let mut acc = _mm_setzero_si128();
            let mut k = 0;
            while k + 8 <= depth {
                // SAFETY: elements k..k + 8 are inside both rows.
                let xv = _mm_add_epi16(
                    _mm_cvtepi8_epi16(_mm_loadl_epi64(xs.as_ptr().add(k) as *const _)),
                    xo,
                );
                let wv = _mm_add_epi16(
                    _mm_cvtepi8_epi16(_mm_loadl_epi64(ws.as_ptr().add(k) as *const _)),
                    wo,
                );
                acc = _mm_add_epi32(acc, _mm_madd_epi16(xv, wv));
                k += 8;
            }
            let s = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0b01_00_11_10));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
            let mut dot = _mm_cvtsi128_si32(s);
            for (&x, &w) in xs[k..].iter().zip(&ws[k..]) {
                dot = dot.wrapping_add((x as i32 + xo_s).wrapping_mul(w as i32 + wo_s));
            }
            finish(a, b, oc, dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use crate::ops::fully_connected::fully_connected_i8;
    use ferrite_core::ops::FullyConnectedI8;
    use ferrite_core::ops::Requant;
    use ferrite_core::{ConstRef, TensorId};
    use proptest::prelude::*;
    extern crate std;
    use std::vec::Vec;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn fully_connected_is_bit_exact(
            (batches, in_depth, out_depth) in (1u32..4, 1u32..150, 1u32..20),
            (zp, wzp, out_off, amin, amax) in (-128i32..128, -128i32..128, -128i32..128, -128i32..0, 0i32..128),
            per_channel in any::<bool>(),
            with_bias in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let p = FullyConnectedI8 {
                input: TensorId(0), output: TensorId(1), batches, in_depth, out_depth,
                weights: ConstRef::EMPTY, weights_offset: -wzp, bias: ConstRef::EMPTY,
                rq: Requant { multiplier: ConstRef::EMPTY, shift: ConstRef::EMPTY,
                    input_offset: -zp, output_offset: out_off, act_min: amin, act_max: amax },
            };
            let mut rng = Rng(seed | 1);
            let input: Vec<i8> = (0..batches * in_depth).map(|_| rng.next() as i8).collect();
            let weights: Vec<i8> = (0..in_depth * out_depth).map(|_| rng.next() as i8).collect();
            let bias: Vec<i32> = if with_bias { (0..out_depth).map(|_| (rng.next() as i32) >> 10).collect() } else { Vec::new() };
            let nq = if per_channel { out_depth } else { 1 };
            let multiplier: Vec<i32> = (0..nq).map(|_| (1 << 30) + ((rng.next() as u32) >> 2) as i32).collect();
            let shift: Vec<i32> = (0..nq).map(|_| (rng.next() % 14) as i32 - 11).collect();
            let n_out = (batches * out_depth) as usize;
            let mut want = std::vec![0i8; n_out];
            fully_connected_i8(&p, &input, &weights, &bias, &multiplier, &shift, &mut want);
            for isa in isas() {
                let mut got = std::vec![0i8; n_out];
                let mut a = Fc { p: &p, input: &input, weights: &weights, bias: &bias, multiplier: &multiplier, shift: &shift, output: &mut got };
                // SAFETY: `isas()` lists only instruction sets this CPU has.
                unsafe {
                    match isa {
                        Isa::Avx512Vnni => fc_avx512(&mut a),
                        Isa::Avx2 => fc_avx2(&mut a),
                        Isa::Sse41 => fc_sse41(&mut a),
                        _ => unreachable!(),
                    }
                }
                prop_assert_eq!(&got, &want, "{}", isa);
            }
        }
    }
}
