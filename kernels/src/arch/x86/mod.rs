//! x86-64 fast paths: AVX-512 (F, BW, VL and VNNI), AVX2 (with FMA) and SSE4.1.
//!
//! Int8 accumulation is exact: AVX-512 uses `vpdpbusd` (unsigned activation bytes `x + 128`
//! times signed weights, four products per 32-bit lane, no saturation; the `- 128` is folded
//! into the bias by the converter) and `vpdpwssd`; AVX2 and SSE4.1 use `pmaddwd` on 16-bit
//! values. Requantization reproduces `ferrite_core::fixed::multiply_by_quantized_multiplier`
//! lane by lane (see [`v512`] and [`v256`]); SSE4.1, which lacks per-lane shifts, requantizes
//! the accumulators with the scalar function itself.
//!
//! Every entry here is reachable only through a [`crate::arch::KernelSet`] for its
//! instruction set, whose constructor is the promise that the CPU has it: that promise is what
//! each `unsafe` call into a `#[target_feature]` function below relies on.

pub(crate) mod binary;
pub(crate) mod conv;
pub(crate) mod conv16;
pub(crate) mod depthwise;
pub(crate) mod float;
pub(crate) mod fully_connected;
pub(crate) mod pool;

use crate::arch::Isa;
use crate::registry::KernelEntry;
use ferrite_core::Op;

/// The fast entry for `op` on `isa`, if there is one.
pub(crate) fn entry(op: &Op, isa: Isa) -> Option<KernelEntry> {
    macro_rules! e {
        ($module:ident :: $func:ident) => {
            Some(KernelEntry {
                run: $module::$func,
                path: concat!(
                    "ferrite_kernels::arch::x86::",
                    stringify!($module),
                    "::",
                    stringify!($func)
                ),
            })
        };
    }
    match (op, isa) {
        (Op::Conv2dI8Packed(_), Isa::Avx512Vnni) => e!(conv::run_conv2d_i8_packed_avx512),
        (Op::Conv2dI8Packed(_), Isa::Avx2) => e!(conv::run_conv2d_i8_packed_avx2),
        (Op::Conv2dI8Packed(_), Isa::Sse41) => e!(conv::run_conv2d_i8_packed_sse41),
        (Op::Conv2dF32Packed(_), Isa::Avx512Vnni) => e!(float::run_conv2d_f32_packed_avx512),
        (Op::Conv2dF32Packed(_), Isa::Avx2) => e!(float::run_conv2d_f32_packed_avx2),
        (Op::DepthwiseConv2dF32(_), Isa::Avx512Vnni) => {
            e!(float::run_depthwise_conv2d_f32_avx512)
        }
        (Op::DepthwiseConv2dF32(_), Isa::Avx2) => e!(float::run_depthwise_conv2d_f32_avx2),
        (Op::DepthwiseConv2dI8(_), Isa::Avx512Vnni) => {
            e!(depthwise::run_depthwise_conv2d_i8_avx512)
        }
        (Op::DepthwiseConv2dI8(_), Isa::Avx2) => e!(depthwise::run_depthwise_conv2d_i8_avx2),
        (Op::DepthwiseConv2dI8(_), Isa::Sse41) => e!(depthwise::run_depthwise_conv2d_i8_sse41),
        (Op::FullyConnectedI8(_), Isa::Avx512Vnni) => {
            e!(fully_connected::run_fully_connected_i8_avx512)
        }
        (Op::FullyConnectedI8(_), Isa::Avx2) => e!(fully_connected::run_fully_connected_i8_avx2),
        (Op::FullyConnectedI8(_), Isa::Sse41) => {
            e!(fully_connected::run_fully_connected_i8_sse41)
        }
        // The 16x8 kernels have no AVX-512 version: AVX-512 CPUs run the AVX2 one.
        (Op::Conv2dI16(_), Isa::Avx512Vnni | Isa::Avx2) => e!(conv16::run_conv2d_i16_avx2),
        (Op::Conv2dI16(_), Isa::Sse41) => e!(conv16::run_conv2d_i16_sse41),
        (Op::DepthwiseConv2dI16(_), Isa::Avx512Vnni | Isa::Avx2) => {
            e!(conv16::run_depthwise_conv2d_i16_avx2)
        }
        (Op::DepthwiseConv2dI16(_), Isa::Sse41) => e!(conv16::run_depthwise_conv2d_i16_sse41),
        (Op::FullyConnectedI16(_), Isa::Avx512Vnni | Isa::Avx2) => {
            e!(conv16::run_fully_connected_i16_avx2)
        }
        (Op::FullyConnectedI16(_), Isa::Sse41) => {
            e!(conv16::run_fully_connected_i16_sse41)
        }
        (Op::PoolI8(_), Isa::Avx512Vnni) => e!(pool::run_pool_i8_avx512),
        (Op::PoolI8(_), Isa::Avx2) => e!(pool::run_pool_i8_avx2),
        (Op::PoolI8(_), Isa::Sse41) => e!(pool::run_pool_i8_sse41),
        (Op::AddI8(_), Isa::Avx512Vnni) => e!(binary::run_add_i8_avx512),
        (Op::AddI8(_), Isa::Avx2) => e!(binary::run_add_i8_avx2),
        (Op::AddI8(_), Isa::Sse41) => e!(binary::run_add_i8_sse41),
        (Op::MulI8(_), Isa::Avx512Vnni) => e!(binary::run_mul_i8_avx512),
        (Op::MulI8(_), Isa::Avx2) => e!(binary::run_mul_i8_avx2),
        (Op::MulI8(_), Isa::Sse41) => e!(binary::run_mul_i8_sse41),
        _ => None,
    }
}

/// Per-lane requantization constants derived from a multiplier and a shift: what
/// `multiply_by_quantized_multiplier(x, multiplier, shift)` needs, split into its steps.
#[derive(Clone, Copy)]
pub(crate) struct RqLanes<V> {
    /// Q0.31 multiplier.
    pub mult: V,
    /// `max(shift, 0)`: the left shift before the high multiply.
    pub lsh: V,
    /// `max(-shift, 0)`: the exponent of the rounding divide.
    pub rsh: V,
    /// `2^rsh - 1`.
    pub mask: V,
    /// `mask >> 1`: remainders above it (plus one for negative values) round away.
    pub thr: V,
    /// Every left shift is 0 (a multiplier below one): the shift can be skipped.
    pub no_lsh: bool,
    /// No multiplier is `i32::MIN`, so the high multiply cannot overflow.
    pub no_min: bool,
    /// Every right shift is at least 1: the requantized value lies within ±2^30, so adding
    /// an output offset of at most 2^30 cannot wrap.
    pub rsh_pos: bool,
}

/// The output stage after requantization, the same in every lane.
#[derive(Clone, Copy)]
pub(crate) struct OutLanes<V> {
    /// Lower bound applied before adding the offset (emulates a saturating add; `i32::MIN`
    /// when the reference adds with wrap-around).
    pub sat_lo: V,
    /// Upper bound applied before adding the offset.
    pub sat_hi: V,
    /// Output zero point.
    pub offset: V,
    /// Clamp of the fused activation.
    pub act_min: V,
    /// Clamp of the fused activation.
    pub act_max: V,
    /// `act_min - offset` and `act_max - offset`, when representable: clamping to these and
    /// then adding the offset equals the reference's add-then-clamp whenever the addition
    /// cannot wrap, in one step less.
    pub pre: Option<(V, V)>,
    /// The addition saturates (so `pre` is always exact).
    pub saturating: bool,
}

/// The bounds that make `clamp(x, lo, hi) + offset` equal `x.saturating_add(offset)`
/// (`saturating`), or plain wrapping addition.
pub(crate) fn offset_bounds(offset: i32, saturating: bool) -> (i32, i32) {
    if !saturating {
        (i32::MIN, i32::MAX)
    } else if offset >= 0 {
        (i32::MIN, i32::MAX - offset)
    } else {
        (i32::MIN - offset, i32::MAX)
    }
}

/// 16-lane (AVX-512) requantization.
pub(crate) mod v512 {
    use super::{OutLanes, RqLanes};
    use core::arch::x86_64::*;

    /// `saturating_rounding_doubling_high_mul` in every lane: `(a * b + 2^30) >> 31` in 64
    /// bits (gemmlowp's nudge-then-truncate is exactly round-half-up), with the single
    /// overflow `MIN * MIN` saturated to `MAX` (it is the only product whose result is `MIN`).
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn srdhm(a: __m512i, b: __m512i) -> __m512i {
        let r = srdhm_unsaturated(a, b);
        _mm512_mask_mov_epi32(
            r,
            _mm512_cmpeq_epi32_mask(r, _mm512_set1_epi32(i32::MIN)),
            _mm512_set1_epi32(i32::MAX),
        )
    }

    /// [`srdhm`] without the saturation: exact when `b` is never `i32::MIN`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn srdhm_unsaturated(a: __m512i, b: __m512i) -> __m512i {
        let round = _mm512_set1_epi64(1 << 30);
        let even = _mm512_add_epi64(_mm512_mul_epi32(a, b), round);
        // `vpmuldq` reads the low half of each 64-bit lane: shift the odd lanes down.
        let odd = _mm512_add_epi64(
            _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32)),
            round,
        );
        // Bits 31..62 of each 64-bit sum: low half for even lanes, high half for odd ones.
        _mm512_mask_blend_epi32(
            0xAAAA,
            _mm512_srli_epi64(even, 31),
            _mm512_slli_epi64(odd, 1),
        )
    }

    /// `rounding_divide_by_pot` in every lane, with `mask = 2^e - 1` and `thr = mask >> 1`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn rdbpot(x: __m512i, e: __m512i, mask: __m512i, thr: __m512i) -> __m512i {
        let rem = _mm512_and_si512(x, mask);
        let t = _mm512_add_epi32(thr, _mm512_srli_epi32(x, 31));
        let q = _mm512_srav_epi32(x, e);
        let up = _mm512_cmpgt_epi32_mask(rem, t);
        _mm512_mask_sub_epi32(q, up, q, _mm512_set1_epi32(-1))
    }

    /// Requantization constants from per-lane multipliers and shifts.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn rq(mult: __m512i, shift: __m512i) -> RqLanes<__m512i> {
        let zero = _mm512_setzero_si512();
        let rsh = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
        let mask = _mm512_sub_epi32(
            _mm512_sllv_epi32(_mm512_set1_epi32(1), rsh),
            _mm512_set1_epi32(1),
        );
        let lsh = _mm512_max_epi32(shift, zero);
        RqLanes {
            mult,
            lsh,
            rsh,
            mask,
            thr: _mm512_srli_epi32(mask, 1),
            no_lsh: _mm512_test_epi32_mask(lsh, lsh) == 0,
            no_min: _mm512_cmpeq_epi32_mask(mult, _mm512_set1_epi32(i32::MIN)) == 0,
            rsh_pos: _mm512_cmpeq_epi32_mask(rsh, zero) == 0,
        }
    }

    /// Uniform output-stage constants.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn out(
        offset: i32,
        saturating: bool,
        act_min: i32,
        act_max: i32,
    ) -> OutLanes<__m512i> {
        let (lo, hi) = super::offset_bounds(offset, saturating);
        let pre = match (act_min.checked_sub(offset), act_max.checked_sub(offset)) {
            (Some(l), Some(h)) if offset.unsigned_abs() < 1 << 30 => {
                Some((_mm512_set1_epi32(l), _mm512_set1_epi32(h)))
            }
            _ => None,
        };
        OutLanes {
            sat_lo: _mm512_set1_epi32(lo),
            sat_hi: _mm512_set1_epi32(hi),
            offset: _mm512_set1_epi32(offset),
            act_min: _mm512_set1_epi32(act_min),
            act_max: _mm512_set1_epi32(act_max),
            pre,
            saturating,
        }
    }

    /// `multiply_by_quantized_multiplier` in every lane.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn mbqm(x: __m512i, rq: &RqLanes<__m512i>) -> __m512i {
        let x = if rq.no_lsh {
            x
        } else {
            _mm512_sllv_epi32(x, rq.lsh)
        };
        let h = if rq.no_min {
            srdhm_unsaturated(x, rq.mult)
        } else {
            srdhm(x, rq.mult)
        };
        rdbpot(h, rq.rsh, rq.mask, rq.thr)
    }

    /// Stores the low byte of each lane whose `mask` bit is set (a contiguous low run):
    /// whole 16- or 8-byte stores where the mask allows, since masked byte stores are slow on
    /// some CPUs.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn store_bytes(dst: *mut i8, mask: __mmask16, v: __m512i) {
        let b = _mm512_cvtepi32_epi8(v);
        match mask {
            0xFFFF => _mm_storeu_si128(dst as *mut _, b),
            0x00FF => _mm_storel_epi64(dst as *mut _, b),
            _ => _mm_mask_storeu_epi8(dst, mask, b),
        }
    }

    /// Four vectors of requantized 32-bit lanes (without the output offset) to 64 int8 values
    /// in order: saturating packs to 16 bits, the offset (16-bit lanes) added with saturation,
    /// saturating packs to 8 bits, then the clamp (8-bit lanes, max then min as the
    /// reference). Equal, lane by lane, to the reference's `clamp(x + offset, act_min,
    /// act_max)` (a wrapping or a saturating addition) for bounds within int8 and `|offset| <=
    /// 2^14`, as long as that addition cannot wrap: a saturation here only ever moves a value
    /// already beyond the int8 range further out on the same side.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn pack64(
        q: [__m512i; 4],
        offset: __m512i,
        act_min: __m512i,
        act_max: __m512i,
    ) -> __m512i {
        let w01 = _mm512_adds_epi16(_mm512_packs_epi32(q[0], q[1]), offset);
        let w23 = _mm512_adds_epi16(_mm512_packs_epi32(q[2], q[3]), offset);
        // Lane `l` of the bytes holds dwords `l` of q[0], q[1], q[2], q[3]: transpose.
        let b = _mm512_permutexvar_epi32(
            _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
            _mm512_packs_epi16(w01, w23),
        );
        _mm512_min_epi8(_mm512_max_epi8(b, act_min), act_max)
    }

    /// Requantizes, adds the output offset and clamps: int8 values in 32-bit lanes.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) unsafe fn requant(
        acc: __m512i,
        rq: &RqLanes<__m512i>,
        o: &OutLanes<__m512i>,
    ) -> __m512i {
        let x = mbqm(acc, rq);
        if let (Some((lo, hi)), true) = (o.pre, o.saturating || rq.rsh_pos) {
            // max then min, as the reference: the result is act_max even if act_min > act_max.
            return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(x, lo), hi), o.offset);
        }
        let x = _mm512_min_epi32(_mm512_max_epi32(x, o.sat_lo), o.sat_hi);
        let x = _mm512_add_epi32(x, o.offset);
        _mm512_min_epi32(_mm512_max_epi32(x, o.act_min), o.act_max)
    }
}

/// 8-lane (AVX2) requantization; the same steps as [`v512`].
pub(crate) mod v256 {
    use super::{OutLanes, RqLanes};
    use core::arch::x86_64::*;

    /// See [`super::v512::srdhm`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn srdhm(a: __m256i, b: __m256i) -> __m256i {
        let r = srdhm_unsaturated(a, b);
        // MIN (only from MIN * MIN) becomes MAX: xor with all ones.
        _mm256_xor_si256(r, _mm256_cmpeq_epi32(r, _mm256_set1_epi32(i32::MIN)))
    }

    /// See [`super::v512::srdhm_unsaturated`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn srdhm_unsaturated(a: __m256i, b: __m256i) -> __m256i {
        let round = _mm256_set1_epi64x(1 << 30);
        let even = _mm256_add_epi64(_mm256_mul_epi32(a, b), round);
        let odd = _mm256_add_epi64(
            _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)),
            round,
        );
        _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA)
    }

    /// See [`super::v512::rdbpot`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn rdbpot(x: __m256i, e: __m256i, mask: __m256i, thr: __m256i) -> __m256i {
        let rem = _mm256_and_si256(x, mask);
        let t = _mm256_add_epi32(thr, _mm256_srli_epi32(x, 31));
        let q = _mm256_srav_epi32(x, e);
        // The comparison is -1 where the remainder rounds away: subtracting adds one.
        _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, t))
    }

    /// See [`super::v512::rq`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn rq(mult: __m256i, shift: __m256i) -> RqLanes<__m256i> {
        let zero = _mm256_setzero_si256();
        let rsh = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
        let mask = _mm256_sub_epi32(
            _mm256_sllv_epi32(_mm256_set1_epi32(1), rsh),
            _mm256_set1_epi32(1),
        );
        let lsh = _mm256_max_epi32(shift, zero);
        // The flags let `mbqm` and `requant` skip steps that cannot change any lane.
        RqLanes {
            mult,
            lsh,
            rsh,
            mask,
            thr: _mm256_srli_epi32(mask, 1),
            no_lsh: _mm256_testz_si256(lsh, lsh) != 0,
            no_min: _mm256_movemask_epi8(_mm256_cmpeq_epi32(mult, _mm256_set1_epi32(i32::MIN)))
                == 0,
            rsh_pos: _mm256_movemask_epi8(_mm256_cmpeq_epi32(rsh, zero)) == 0,
        }
    }

    /// See [`super::v512::out`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn out(
        offset: i32,
        saturating: bool,
        act_min: i32,
        act_max: i32,
    ) -> OutLanes<__m256i> {
        let (lo, hi) = super::offset_bounds(offset, saturating);
        let pre = match (act_min.checked_sub(offset), act_max.checked_sub(offset)) {
            (Some(l), Some(h)) if offset.unsigned_abs() < 1 << 30 => {
                Some((_mm256_set1_epi32(l), _mm256_set1_epi32(h)))
            }
            _ => None,
        };
        OutLanes {
            sat_lo: _mm256_set1_epi32(lo),
            sat_hi: _mm256_set1_epi32(hi),
            offset: _mm256_set1_epi32(offset),
            act_min: _mm256_set1_epi32(act_min),
            act_max: _mm256_set1_epi32(act_max),
            pre,
            saturating,
        }
    }

    /// See [`super::v512::mbqm`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn mbqm(x: __m256i, rq: &RqLanes<__m256i>) -> __m256i {
        let x = if rq.no_lsh {
            x
        } else {
            _mm256_sllv_epi32(x, rq.lsh)
        };
        let h = if rq.no_min {
            srdhm_unsaturated(x, rq.mult)
        } else {
            srdhm(x, rq.mult)
        };
        rdbpot(h, rq.rsh, rq.mask, rq.thr)
    }

    /// See [`super::v512::requant`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn requant(
        acc: __m256i,
        rq: &RqLanes<__m256i>,
        o: &OutLanes<__m256i>,
    ) -> __m256i {
        let x = mbqm(acc, rq);
        if let (Some((lo, hi)), true) = (o.pre, o.saturating || rq.rsh_pos) {
            // As in `v512::requant`: clamp first, then add the offset (no wrap possible).
            return _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(x, lo), hi), o.offset);
        }
        let x = _mm256_min_epi32(_mm256_max_epi32(x, o.sat_lo), o.sat_hi);
        let x = _mm256_add_epi32(x, o.offset);
        _mm256_min_epi32(_mm256_max_epi32(x, o.act_min), o.act_max)
    }

    /// The low byte of each 32-bit lane (a truncating cast, as `as i8`), as 8 bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn narrow(v: __m256i) -> i64 {
        let lows = _mm256_shuffle_epi8(
            v,
            _mm256_setr_epi8(
                0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1,
                -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            ),
        );
        let packed = _mm256_permutevar8x32_epi32(lows, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
        _mm_cvtsi128_si64(_mm256_castsi256_si128(packed))
    }
}

/// 4-lane (SSE4.1) requantization for uniform parameters (elementwise ops): SSE4.1 has no
/// per-lane shifts, so per-channel requantization stays scalar.
pub(crate) mod v128 {
    use core::arch::x86_64::*;

    /// See [`super::v512::srdhm`].
    #[target_feature(enable = "sse4.1")]
    #[inline]
    pub(crate) unsafe fn srdhm(a: __m128i, b: __m128i) -> __m128i {
        let round = _mm_set1_epi64x(1 << 30);
        let even = _mm_add_epi64(_mm_mul_epi32(a, b), round);
        let odd = _mm_add_epi64(
            _mm_mul_epi32(_mm_srli_epi64(a, 32), _mm_srli_epi64(b, 32)),
            round,
        );
        let r = _mm_blend_epi16(_mm_srli_epi64(even, 31), _mm_slli_epi64(odd, 1), 0xCC);
        _mm_xor_si128(r, _mm_cmpeq_epi32(r, _mm_set1_epi32(i32::MIN)))
    }

    /// `rounding_divide_by_pot` by the same exponent `e` (in `0..=31`) in every lane.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    pub(crate) unsafe fn rdbpot(x: __m128i, e: i32) -> __m128i {
        let mask_s = ((1i64 << e) - 1) as i32;
        let mask = _mm_set1_epi32(mask_s);
        let rem = _mm_and_si128(x, mask);
        let t = _mm_add_epi32(_mm_set1_epi32(mask_s >> 1), _mm_srli_epi32(x, 31));
        let q = _mm_sra_epi32(x, _mm_cvtsi32_si128(e));
        _mm_sub_epi32(q, _mm_cmpgt_epi32(rem, t))
    }

    /// `multiply_by_quantized_multiplier` with one multiplier and shift for every lane.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    pub(crate) unsafe fn mbqm(x: __m128i, mult: i32, shift: i32) -> __m128i {
        let x = _mm_sll_epi32(x, _mm_cvtsi32_si128(shift.max(0)));
        rdbpot(srdhm(x, _mm_set1_epi32(mult)), (-shift).max(0))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shared helpers for the property tests of the x86 fast paths.
    use crate::arch::Isa;

    /// The instruction sets this CPU runs, fastest last.
    pub(crate) fn isas() -> impl Iterator<Item = Isa> {
        // The tests run on the host, where std's detection is available.
        extern crate std;
        let mut v = std::vec::Vec::new();
        if std::is_x86_feature_detected!("sse4.1") {
            v.push(Isa::Sse41);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            v.push(Isa::Avx2);
        }
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            v.push(Isa::Avx512Vnni);
        }
        v.into_iter()
    }

    /// xorshift: cheap deterministic values from a proptest seed.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_cpu_runs_every_x86_set() {
        extern crate std;
        std::println!("{:?}", super::testing::isas().collect::<std::vec::Vec<_>>());
    }
}
