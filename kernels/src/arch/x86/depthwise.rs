//! Int8 DEPTHWISE_CONV_2D with depth multiplier 1: channels across the vector lanes.
//!
//! The input offset moves into a per-call bias (`bias + input_offset * sum(taps)`), so each
//! tap is one multiply-add of the raw int8 input (sign-extended to 32 bits) by the weight
//! (its low 16 bits; the high 16 bits zero, so the `pmaddwd` pair's second product vanishes);
//! taps in the padding read the input zero point, which the folded bias cancels.

use super::{v256, v512, RqLanes};
use crate::ops::conv::tap;
use crate::ops::depthwise::{check_depthwise_shapes, depthwise_conv2d_i8};
use crate::util::{check_conv_activations, check_requant, expect_op};
use core::arch::x86_64::*;
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{ConvGeometry, DepthwiseConv2dI8, Op};
use ferrite_core::{Ctx, Result};

/// Most filter taps the fast paths keep (a 5x5 window).
const MAX_TAPS: usize = 25;

/// A checked depthwise convolution with depth multiplier 1.
pub(crate) struct Dw<'a> {
    pub p: &'a DepthwiseConv2dI8,
    pub input: &'a [i8],
    pub weights: &'a [i8],
    pub bias: &'a [i32],
    pub multiplier: &'a [i32],
    pub shift: &'a [i32],
    pub output: &'a mut [i8],
}

/// Kernel entry for [`Op::DepthwiseConv2dI8`] on AVX-512.
pub(crate) fn run_depthwise_conv2d_i8_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run(ctx, op, |a| unsafe { dw_avx512(a) })
}

/// Kernel entry for [`Op::DepthwiseConv2dI8`] on AVX2.
pub(crate) fn run_depthwise_conv2d_i8_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run(ctx, op, |a| unsafe { dw_avx2(a) })
}

/// Kernel entry for [`Op::DepthwiseConv2dI8`] on SSE4.1.
pub(crate) fn run_depthwise_conv2d_i8_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Sse41` (see the module docs).
    run(ctx, op, |a| unsafe { dw_sse41(a) })
}

fn run(ctx: &mut Ctx<'_>, op: &Op, fast: impl FnOnce(&mut Dw<'_>)) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseConv2dI8);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_depthwise_shapes(ctx, g, p.depth_multiplier, weights.len(), bias.len())?;
    check_requant(layer, g.out_c as usize, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    if p.depth_multiplier == 1
        && (g.k_h as usize * g.k_w as usize) <= MAX_TAPS
        && (-128..=127).contains(&p.rq.input_offset.wrapping_neg())
    {
        fast(&mut Dw {
            p,
            input,
            weights,
            bias,
            multiplier,
            shift,
            output,
        });
    } else {
        depthwise_conv2d_i8(p, input, weights, bias, multiplier, shift, output);
    }
    Ok(())
}

/// The taps of one output pixel.
enum Taps<'t> {
    /// The whole window lies inside the input: tap `t` reads element `base + window[t]`.
    Inside(usize),
    /// The input element of each tap, or `None` in the padding.
    Edge(&'t [Option<usize>]),
}

/// The input address of each tap of one pixel: `window` (a window's offsets from its first
/// tap) for a window inside the input, the listed elements at the edge, and `pad` for taps in
/// the padding and for the slots past the taps.
///
/// # Safety
/// `taps` must come from [`for_each_pixel`] over `input`'s geometry and `window` from
/// [`window`] of it, so that every address is inside `input`.
#[inline(always)]
unsafe fn tap_sources<const N: usize>(
    taps: Taps<'_>,
    window: &[usize],
    input: *const i8,
    pad: *const i8,
) -> [*const i8; N] {
    let mut src = [pad; N];
    match taps {
        Taps::Inside(base) => {
            for (s, &o) in src.iter_mut().zip(window) {
                // SAFETY: the window lies inside the input (the caller's contract).
                *s = unsafe { input.add(base + o) };
            }
        }
        Taps::Edge(offs) => {
            for (s, off) in src.iter_mut().zip(offs) {
                if let Some(off) = off {
                    // SAFETY: an edge tap's element is inside the input.
                    *s = unsafe { input.add(*off) };
                }
            }
        }
    }
    src
}

/// Offsets of a window's taps from its first tap, for windows inside the input.
fn window(g: &ConvGeometry) -> [usize; MAX_TAPS] {
    let (in_w, c) = (g.in_w as usize, g.in_c as usize);
    let mut w = [0; MAX_TAPS];
    for ky in 0..g.k_h as usize {
        for kx in 0..g.k_w as usize {
            if let Some(o) = w.get_mut(ky * g.k_w as usize + kx) {
                *o = (ky * g.dilation_h as usize * in_w + kx * g.dilation_w as usize) * c;
            }
        }
    }
    w
}

/// Visits every output pixel of `g` (in output order) with its taps: `f(pixel, taps)`.
#[inline(always)]
fn for_each_pixel(g: &ConvGeometry, mut f: impl FnMut(usize, Taps<'_>)) {
    let (in_h, in_w, c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
    let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
    let reach_h = (k_h - 1) * g.dilation_h as usize;
    let reach_w = (k_w - 1) * g.dilation_w as usize;
    let mut taps = [None; MAX_TAPS];
    let mut pixel = 0;
    for b in 0..g.batches as usize {
        for oy in 0..g.out_h {
            let y0 = oy as isize * g.stride_h as isize - g.pad_top as isize;
            let rows_inside = y0 >= 0 && y0 as usize + reach_h < in_h;
            for ox in 0..g.out_w {
                let x0 = ox as isize * g.stride_w as isize - g.pad_left as isize;
                if rows_inside && x0 >= 0 && x0 as usize + reach_w < in_w {
                    f(
                        pixel,
                        Taps::Inside(((b * in_h + y0 as usize) * in_w + x0 as usize) * c),
                    );
                } else {
                    for ky in 0..k_h {
                        let iy = tap(oy, g.stride_h, g.pad_top, ky as u32, g.dilation_h, g.in_h);
                        for kx in 0..k_w {
                            let ix =
                                tap(ox, g.stride_w, g.pad_left, kx as u32, g.dilation_w, g.in_w);
                            taps[ky * k_w + kx] = match (iy, ix) {
                                (Some(iy), Some(ix)) => Some(((b * in_h + iy) * in_w + ix) * c),
                                _ => None,
                            };
                        }
                    }
                    f(pixel, Taps::Edge(&taps[..k_h * k_w]));
                }
                pixel += 1;
            }
        }
    }
}

/// The input offset of each tap, or `None` in the padding (for the scalar path).
#[inline(always)]
fn tap_offsets<'t>(
    taps: Taps<'t>,
    window: &[usize; MAX_TAPS],
    n: usize,
    buf: &'t mut [Option<usize>; MAX_TAPS],
) -> &'t [Option<usize>] {
    match taps {
        Taps::Edge(t) => t,
        Taps::Inside(base) => {
            for (o, w) in buf.iter_mut().zip(window).take(n) {
                *o = Some(base + w);
            }
            &buf[..n]
        }
    }
}

/// The reference computation of channel `c` alone (for the channels a vector loop leaves).
fn channel_scalar(a: &mut Dw<'_>, c: usize) {
    let rq = &a.p.rq;
    let out_c = a.p.geom.out_c as usize;
    let (input, weights, bias) = (a.input, a.weights, a.bias);
    let (multiplier, shift) = (a.multiplier[c], a.shift[c]);
    let output = &mut *a.output;
    let win = window(&a.p.geom);
    let n = (a.p.geom.k_h * a.p.geom.k_w) as usize;
    let mut buf = [None; MAX_TAPS];
    for_each_pixel(&a.p.geom, |pixel, taps| {
        let taps = tap_offsets(taps, &win, n, &mut buf);
        let mut acc: i32 = 0;
        for (t, off) in taps.iter().enumerate() {
            if let Some(off) = off {
                let x = input[off + c] as i32;
                let w = weights[t * out_c + c] as i32;
                acc = acc.wrapping_add(w.wrapping_mul(x.wrapping_add(rq.input_offset)));
            }
        }
        if let Some(&bv) = bias.get(c) {
            acc = acc.wrapping_add(bv);
        }
        let v =
            multiply_by_quantized_multiplier(acc, multiplier, shift).wrapping_add(rq.output_offset);
        output[pixel * out_c + c] = v.max(rq.act_min).min(rq.act_max) as i8;
    });
}

/// The input zero point repeated: what padding taps read.
fn pad_row(a: &Dw<'_>) -> [i8; 64] {
    [a.p.rq.input_offset.wrapping_neg() as i8; 64]
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dw_avx512(a: &mut Dw<'_>) {
    let c_all = a.p.geom.in_c as usize;
    let square3 = a.p.geom.k_h == 3 && a.p.geom.k_w == 3;
    if square3 && c_all.is_multiple_of(16) && (32..=16 * PM_BLOCKS).contains(&c_all) {
        return dw512_pixel_major(a);
    }
    if square3 && c_all == 8 && a.p.geom.stride_w == 1 {
        return dw512_c8_pairs(a);
    }
    let mut c0 = 0;
    while c0 < c_all {
        // Fixed tap counts and whole-vector loads let the compiler unroll the taps and keep
        // the weights in registers.
        match (square3, c_all - c0) {
            (true, 16..) => dw512_block::<9, 16>(a, c0),
            (true, 8) => dw512_block::<9, 8>(a, c0),
            (true, _) => dw512_block::<9, 0>(a, c0),
            (false, _) => dw512_block::<0, 0>(a, c0),
        }
        c0 += 16;
    }
}

/// 3x3 windows over 8 channels with stride 1 along the width: two neighbouring output pixels
/// per vector, since their taps are 16 contiguous input bytes (and their outputs 16
/// contiguous output bytes).
///
/// # Safety
/// AVX-512 VNNI; a 3x3 window, 8 channels, `stride_w == 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dw512_c8_pairs(a: &mut Dw<'_>) {
    const TAPS: usize = 9;
    let g = &a.p.geom;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let win = window(g);
    let rq = &a.p.rq;
    let o = v512::out(rq.output_offset, false, rq.act_min, rq.act_max);
    let pad = pad_row(a);
    // SAFETY (all loads and stores): 8 channels of taps and pixels the geometry check proved
    // inside the slices (16 bytes only where the neighbouring pixel is inside too); `pad`
    // has 64 bytes; the constants have 8 entries.
    let dup8 = |p: *const i8| {
        let v = unsafe { _mm_loadl_epi64(p as *const _) };
        _mm512_cvtepi8_epi32(_mm_unpacklo_epi64(v, v))
    };
    let dup32 = |p: *const i32| {
        let v = unsafe { _mm256_loadu_si256(p as *const _) };
        _mm512_inserti64x4(_mm512_castsi256_si512(v), v, 1)
    };
    let mut bias = if a.bias.is_empty() {
        _mm512_setzero_si512()
    } else {
        dup32(a.bias.as_ptr())
    };
    let offset = _mm512_set1_epi32(rq.input_offset);
    let low16 = _mm512_set1_epi32(0xFFFF);
    let mut wv = [_mm512_setzero_si512(); TAPS];
    for (t, v) in wv.iter_mut().enumerate() {
        let w = dup8(a.weights.as_ptr().add(t * 8));
        bias = _mm512_add_epi32(bias, _mm512_mullo_epi32(w, offset));
        *v = _mm512_and_si512(w, low16);
    }
    let lanes = v512::rq(dup32(a.multiplier.as_ptr()), dup32(a.shift.as_ptr()));
    let (input, out) = (a.input.as_ptr(), a.output.as_mut_ptr());
    let reach_h = 2 * g.dilation_h as usize;
    let reach_w = 2 * g.dilation_w as usize;
    let dot = |src: [*const i8; TAPS], wide: bool| {
        let ld = |t: usize| {
            let x = if wide {
                unsafe { _mm_loadu_si128(src[t] as *const _) }
            } else {
                unsafe { _mm_loadl_epi64(src[t] as *const _) }
            };
            _mm512_cvtepi8_epi32(x)
        };
        let mut even = _mm512_dpwssd_epi32(bias, ld(0), wv[0]);
        let mut odd = _mm512_madd_epi16(ld(1), wv[1]);
        even = _mm512_dpwssd_epi32(even, ld(2), wv[2]);
        odd = _mm512_dpwssd_epi32(odd, ld(3), wv[3]);
        even = _mm512_dpwssd_epi32(even, ld(4), wv[4]);
        odd = _mm512_dpwssd_epi32(odd, ld(5), wv[5]);
        even = _mm512_dpwssd_epi32(even, ld(6), wv[6]);
        odd = _mm512_dpwssd_epi32(odd, ld(7), wv[7]);
        even = _mm512_dpwssd_epi32(even, ld(8), wv[8]);
        unsafe { v512::requant(_mm512_add_epi32(even, odd), &lanes, &o) }
    };
    let mut pixel = 0;
    for b in 0..g.batches as usize {
        for oy in 0..g.out_h {
            let y0 = oy as isize * g.stride_h as isize - g.pad_top as isize;
            let rows_inside = y0 >= 0 && y0 as usize + reach_h < in_h;
            let mut ox = 0;
            while ox < g.out_w {
                let x0 = ox as isize - g.pad_left as isize;
                let mut src = [pad.as_ptr(); TAPS];
                if rows_inside && ox + 1 < g.out_w && x0 >= 0 && x0 as usize + 1 + reach_w < in_w {
                    let base = ((b * in_h + y0 as usize) * in_w + x0 as usize) * 8;
                    for (s, &w) in src.iter_mut().zip(&win) {
                        *s = input.add(base + w);
                    }
                    _mm_storeu_si128(
                        out.add(pixel * 8) as *mut _,
                        _mm512_cvtepi32_epi8(dot(src, true)),
                    );
                    ox += 2;
                    pixel += 2;
                    continue;
                }
                for ky in 0..3 {
                    let iy = tap(oy, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h);
                    for kx in 0..3 {
                        let ix = tap(ox, 1, g.pad_left, kx, g.dilation_w, g.in_w);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            src[(ky * 3 + kx) as usize] =
                                input.add(((b * in_h + iy) * in_w + ix) * 8);
                        }
                    }
                }
                _mm_storel_epi64(
                    out.add(pixel * 8) as *mut _,
                    _mm512_cvtepi32_epi8(dot(src, false)),
                );
                ox += 1;
                pixel += 1;
            }
        }
    }
}

/// Most 16-channel blocks [`dw512_pixel_major`] keeps weights for (on the stack).
const PM_BLOCKS: usize = 32;

/// 3x3 windows over a multiple of 16 channels (at most `16 * PM_BLOCKS`), pixel by pixel:
/// each pixel's taps are found once for all its channel blocks, whose independent sums keep
/// the vector units busy (small images with many channels).
///
/// # Safety
/// AVX-512 VNNI; a 3x3 window; `in_c` a multiple of 16 within `32..=16 * PM_BLOCKS`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dw512_pixel_major(a: &mut Dw<'_>) {
    const TAPS: usize = 9;
    let g = &a.p.geom;
    let c_all = g.in_c as usize;
    let blocks = c_all / 16;
    let win = window(g);
    let rq = &a.p.rq;
    let o = v512::out(rq.output_offset, false, rq.act_min, rq.act_max);
    // Padding taps read the zero point: a row of it as long as the channels.
    let pad = [rq.input_offset.wrapping_neg() as i8; 16 * PM_BLOCKS];
    let low16 = _mm512_set1_epi32(0xFFFF);
    let offset = _mm512_set1_epi32(rq.input_offset);
    let mut wv = [[_mm512_setzero_si512(); TAPS]; PM_BLOCKS];
    let mut bias = [_mm512_setzero_si512(); PM_BLOCKS];
    let mut lanes = [v512::rq(_mm512_setzero_si512(), _mm512_setzero_si512()); PM_BLOCKS];
    // SAFETY (all loads and stores): channels below c_all of taps and pixels the geometry
    // check proved inside the slices; `pad` covers every channel.
    for b in 0..blocks {
        let c0 = 16 * b;
        if !a.bias.is_empty() {
            bias[b] = _mm512_loadu_si512(a.bias.as_ptr().add(c0) as *const _);
        }
        for (t, v) in wv[b].iter_mut().enumerate() {
            let w = _mm512_cvtepi8_epi32(_mm_loadu_si128(
                a.weights.as_ptr().add(t * c_all + c0) as *const _
            ));
            bias[b] = _mm512_add_epi32(bias[b], _mm512_mullo_epi32(w, offset));
            *v = _mm512_and_si512(w, low16);
        }
        lanes[b] = v512::rq(
            _mm512_loadu_si512(a.multiplier.as_ptr().add(c0) as *const _),
            _mm512_loadu_si512(a.shift.as_ptr().add(c0) as *const _),
        );
    }
    // One set of flags for all blocks keeps the requantization branch-free per block.
    let mut common = lanes[0];
    for l in &lanes[1..blocks] {
        common.no_lsh &= l.no_lsh;
        common.no_min &= l.no_min;
        common.rsh_pos &= l.rsh_pos;
    }
    for l in &mut lanes[..blocks] {
        l.no_lsh = common.no_lsh;
        l.no_min = common.no_min;
        l.rsh_pos = common.rsh_pos;
    }
    let input = a.input.as_ptr();
    let out = a.output.as_mut_ptr();
    for_each_pixel(g, |pixel, taps| {
        // SAFETY: `taps` come from `for_each_pixel` and `win` from `window` of this layer.
        let src: [*const i8; TAPS] =
            unsafe { tap_sources(taps, &win[..TAPS], input, pad.as_ptr()) };
        let dst = unsafe { out.add(pixel * c_all) };
        for b in 0..blocks {
            let c0 = 16 * b;
            let ld = |t: usize| {
                _mm512_cvtepi8_epi32(unsafe { _mm_loadu_si128(src[t].add(c0) as *const _) })
            };
            // Two chains halve the dependency on the multiply-add latency.
            let w = &wv[b];
            let mut even = _mm512_dpwssd_epi32(bias[b], ld(0), w[0]);
            let mut odd = _mm512_madd_epi16(ld(1), w[1]);
            even = _mm512_dpwssd_epi32(even, ld(2), w[2]);
            odd = _mm512_dpwssd_epi32(odd, ld(3), w[3]);
            even = _mm512_dpwssd_epi32(even, ld(4), w[4]);
            odd = _mm512_dpwssd_epi32(odd, ld(5), w[5]);
            even = _mm512_dpwssd_epi32(even, ld(6), w[6]);
            odd = _mm512_dpwssd_epi32(odd, ld(7), w[7]);
            even = _mm512_dpwssd_epi32(even, ld(8), w[8]);
            let acc = _mm512_add_epi32(even, odd);
            let v = unsafe { v512::requant(acc, &lanes[b], &o) };
            unsafe { _mm_storeu_si128(dst.add(c0) as *mut _, _mm512_cvtepi32_epi8(v)) };
        }
    });
}

/// Channels `c0..c0 + 16` (or fewer at the end) of the whole output. `TAPS` is the window
/// size, or 0 for "read it from the geometry"; `LANES` is 16 or 8 for whole loads of that
/// many channels, or 0 for masked loads.
///
/// # Safety
/// AVX-512 VNNI; `c0 < in_c`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn dw512_block<const TAPS: usize, const LANES: usize>(a: &mut Dw<'_>, c0: usize) {
    let g = &a.p.geom;
    let c_all = g.in_c as usize;
    let taps_n = if TAPS == 0 {
        g.k_h as usize * g.k_w as usize
    } else {
        TAPS
    };
    let win = window(g);
    let rq = &a.p.rq;
    let o = v512::out(rq.output_offset, false, rq.act_min, rq.act_max);
    let pad = pad_row(a);
    let low16 = _mm512_set1_epi32(0xFFFF);
    let offset = _mm512_set1_epi32(rq.input_offset);
    let valid = (c_all - c0).min(16);
    let mask: __mmask16 = if valid == 16 {
        0xFFFF
    } else {
        (1 << valid) - 1
    };
    // SAFETY (loads and stores below): the lanes read or written are channels
    // c0 + i < c_all (LANES is at most the channels left; otherwise masked) of a tap or
    // pixel the geometry check proved inside the slices; `pad` has 64 bytes.
    let load = |p: *const i8| -> __m512i {
        let x = match LANES {
            16 => unsafe { _mm_loadu_si128(p as *const _) },
            8 => unsafe { _mm_loadl_epi64(p as *const _) },
            _ => unsafe { _mm_maskz_loadu_epi8(mask, p) },
        };
        _mm512_cvtepi8_epi32(x)
    };
    let mut bias = if a.bias.is_empty() {
        _mm512_setzero_si512()
    } else {
        _mm512_maskz_loadu_epi32(mask, a.bias.as_ptr().add(c0))
    };
    let mut wv = [_mm512_setzero_si512(); MAX_TAPS];
    for (t, v) in wv.iter_mut().enumerate().take(taps_n) {
        let w = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(
            mask,
            a.weights.as_ptr().add(t * c_all + c0),
        ));
        bias = _mm512_add_epi32(bias, _mm512_mullo_epi32(w, offset));
        *v = _mm512_and_si512(w, low16);
    }
    let lanes = v512::rq(
        _mm512_maskz_loadu_epi32(mask, a.multiplier.as_ptr().add(c0)),
        _mm512_maskz_loadu_epi32(mask, a.shift.as_ptr().add(c0)),
    );
    let input = a.input.as_ptr().add(c0);
    let out = a.output.as_mut_ptr().add(c0);
    for_each_pixel(g, |pixel, taps| {
        let mut acc = bias;
        match taps {
            Taps::Inside(base) => {
                let src = unsafe { input.add(base) };
                for (&o, &w) in win.iter().zip(&wv).take(taps_n) {
                    acc = _mm512_dpwssd_epi32(acc, load(unsafe { src.add(o) }), w);
                }
            }
            Taps::Edge(offs) => {
                for (off, &w) in offs.iter().zip(&wv) {
                    let src = match off {
                        Some(off) => unsafe { input.add(*off) },
                        None => pad.as_ptr(),
                    };
                    acc = _mm512_dpwssd_epi32(acc, load(src), w);
                }
            }
        }
        let v = unsafe { v512::requant(acc, &lanes, &o) };
        unsafe { v512::store_bytes(out.add(pixel * c_all), mask, v) };
    });
}

/// Most tap pairs the AVX2 path keeps (a 5x5 window: 12 pairs and a lone tap).
const MAX_PAIRS: usize = MAX_TAPS.div_ceil(2);

#[target_feature(enable = "avx2,fma")]
unsafe fn dw_avx2(a: &mut Dw<'_>) {
    let g = &a.p.geom;
    let c_all = g.in_c as usize;
    let square3 = g.k_h == 3 && g.k_w == 3;
    if square3 && c_all.is_multiple_of(8) && (16..=16 * PM256_BLOCKS).contains(&c_all) {
        return dw256_pixel_major(a);
    }
    if square3 && c_all == 8 && g.stride_w == 1 {
        return dw256_c8_pairs(a);
    }
    let mut c0 = 0;
    while c0 + 16 <= c_all {
        // A fixed window lets the compiler unroll the taps and keep the weights in registers.
        if square3 {
            dw256_block::<2, 9>(a, c0);
        } else {
            dw256_block::<2, 0>(a, c0);
        }
        c0 += 16;
    }
    if c0 + 8 <= c_all {
        if square3 {
            dw256_block::<1, 9>(a, c0);
        } else {
            dw256_block::<1, 0>(a, c0);
        }
        c0 += 8;
    }
    for c in c0..c_all {
        channel_scalar(a, c);
    }
}

/// Most 16-channel blocks [`dw256_pixel_major`] keeps weights for (on the stack).
const PM256_BLOCKS: usize = 32;

/// 3x3 windows over a multiple of 8 channels (at most `16 * PM256_BLOCKS`), pixel by pixel,
/// taps in pairs as in [`dw256_block`]: each pixel's taps (and, at the edges, which of them
/// are padding) are found once for all its channel blocks, rather than once per block
/// (small images with many channels are mostly edge pixels). The blocks have 16 channels,
/// the last one 8 when `in_c` is an odd multiple of 8.
///
/// # Safety
/// AVX2; a 3x3 window; `in_c` a multiple of 8, at most `16 * PM256_BLOCKS`.
#[target_feature(enable = "avx2,fma")]
unsafe fn dw256_pixel_major(a: &mut Dw<'_>) {
    const TAPS: usize = 9;
    const PAIRS: usize = TAPS.div_ceil(2);
    let g = &a.p.geom;
    let c_all = g.in_c as usize;
    let full = c_all / 16;
    let half = c_all % 16 == 8;
    let blocks = full + half as usize;
    let win = window(g);
    let rq = &a.p.rq;
    let o = v256::out(rq.output_offset, false, rq.act_min, rq.act_max);
    // Padding taps (and the lone tenth tap, whose weights are zero) read the zero point: a
    // row of it as long as the channels.
    let pad = [rq.input_offset.wrapping_neg() as i8; 16 * PM256_BLOCKS];
    let zeros = [0i8; 16];
    let offset = _mm256_set1_epi32(rq.input_offset);
    let zero = _mm256_setzero_si256();
    let mut wv = [[[zero; 2]; PAIRS]; PM256_BLOCKS];
    let mut bias = [[zero; 2]; PM256_BLOCKS];
    let mut lanes = [[v256::rq(zero, zero); 2]; PM256_BLOCKS];
    let mut common = None::<RqLanes<__m256i>>;
    // SAFETY (all loads and stores): channels below c_all of taps and pixels the geometry
    // check proved inside the slices; `pad` covers every channel, `zeros` one block.
    for b in 0..blocks {
        let c0 = 16 * b;
        let hs = if b < full { 2 } else { 1 };
        let w_at = |t: usize| {
            if t < TAPS {
                unsafe { a.weights.as_ptr().add(t * c_all + c0) }
            } else {
                zeros.as_ptr()
            }
        };
        for h in 0..hs {
            let c = c0 + 8 * h;
            if !a.bias.is_empty() {
                bias[b][h] = _mm256_loadu_si256(a.bias.as_ptr().add(c) as *const _);
            }
            // The input offset folded into the bias: `offset * sum of the taps' weights`.
            for t in 0..TAPS {
                let w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(w_at(t).add(8 * h) as *const _));
                bias[b][h] = _mm256_add_epi32(bias[b][h], _mm256_mullo_epi32(w, offset));
            }
            let l = v256::rq(
                _mm256_loadu_si256(a.multiplier.as_ptr().add(c) as *const _),
                _mm256_loadu_si256(a.shift.as_ptr().add(c) as *const _),
            );
            lanes[b][h] = l;
            // One set of flags for all blocks keeps the requantization branch-free per block.
            let c = common.get_or_insert(l);
            c.no_lsh &= l.no_lsh;
            c.no_min &= l.no_min;
            c.rsh_pos &= l.rsh_pos;
        }
        for (p, v) in wv[b].iter_mut().enumerate() {
            *v = if hs == 2 {
                tap_pair::<2>(w_at(2 * p), w_at(2 * p + 1))
            } else {
                tap_pair::<1>(w_at(2 * p), w_at(2 * p + 1))
            };
        }
    }
    if let Some(c) = common {
        for l in lanes.iter_mut().flatten() {
            l.no_lsh = c.no_lsh;
            l.no_min = c.no_min;
            l.rsh_pos = c.rsh_pos;
        }
    }
    let input = a.input.as_ptr();
    let out = a.output.as_mut_ptr();
    for_each_pixel(g, |pixel, taps| {
        // SAFETY: `taps` come from `for_each_pixel` and `win` from `window` of this layer.
        let src: [*const i8; 2 * PAIRS] =
            unsafe { tap_sources(taps, &win[..TAPS], input, pad.as_ptr()) };
        let dst = unsafe { out.add(pixel * c_all) };
        for b in 0..full {
            let c0 = 16 * b;
            let w = &wv[b];
            let mut acc = bias[b];
            for p in 0..PAIRS {
                let x = unsafe { tap_pair::<2>(src[2 * p].add(c0), src[2 * p + 1].add(c0)) };
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x[0], w[p][0]));
                acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x[1], w[p][1]));
            }
            unsafe {
                let r0 = v256::requant(acc[0], &lanes[b][0], &o);
                let r1 = v256::requant(acc[1], &lanes[b][1], &o);
                store16(dst.add(c0), r0, r1);
            }
        }
        if half {
            let c0 = 16 * full;
            let w = &wv[full];
            let mut acc = bias[full][0];
            for p in 0..PAIRS {
                let x = unsafe { tap_pair::<1>(src[2 * p].add(c0), src[2 * p + 1].add(c0)) };
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x[0], w[p][0]));
            }
            unsafe {
                let r = v256::requant(acc, &lanes[full][0], &o);
                (dst.add(c0) as *mut i64).write_unaligned(v256::narrow(r));
            }
        }
    });
}

/// 3x3 windows over 8 channels with stride 1 along the width: two neighbouring output pixels
/// per step, since their taps are 16 contiguous input bytes (and their outputs 16 contiguous
/// output bytes), taps in pairs as in [`dw256_block`] with each tap's 8 weights repeated for
/// the second pixel.
///
/// # Safety
/// AVX2; a 3x3 window, 8 channels, `stride_w == 1`.
#[target_feature(enable = "avx2,fma")]
unsafe fn dw256_c8_pairs(a: &mut Dw<'_>) {
    const TAPS: usize = 9;
    const PAIRS: usize = TAPS.div_ceil(2);
    let g = &a.p.geom;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let win = window(g);
    let rq = &a.p.rq;
    let o = v256::out(rq.output_offset, false, rq.act_min, rq.act_max);
    let pad = pad_row(a);
    let offset = _mm256_set1_epi32(rq.input_offset);
    // Each tap's weights twice (one copy per pixel), and zeros for the lone tenth tap.
    let mut wd = [[0i8; 16]; 2 * PAIRS];
    for (t, w) in wd.iter_mut().enumerate().take(TAPS) {
        w[..8].copy_from_slice(&a.weights[t * 8..t * 8 + 8]);
        w[8..].copy_from_slice(&a.weights[t * 8..t * 8 + 8]);
    }
    // SAFETY (all loads and stores): 8 channels of taps and pixels the geometry check proved
    // inside the slices (16 bytes only where the neighbouring pixel is inside too); `pad`
    // has 64 bytes, each `wd` row 16; the constants have 8 entries.
    let mut bias = if a.bias.is_empty() {
        _mm256_setzero_si256()
    } else {
        _mm256_loadu_si256(a.bias.as_ptr() as *const _)
    };
    for w in &wd[..TAPS] {
        let w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(w.as_ptr() as *const _));
        bias = _mm256_add_epi32(bias, _mm256_mullo_epi32(w, offset));
    }
    let lanes = v256::rq(
        _mm256_loadu_si256(a.multiplier.as_ptr() as *const _),
        _mm256_loadu_si256(a.shift.as_ptr() as *const _),
    );
    let mut wv = [[_mm256_setzero_si256(); 2]; PAIRS];
    for (p, v) in wv.iter_mut().enumerate() {
        *v = tap_pair::<2>(wd[2 * p].as_ptr(), wd[2 * p + 1].as_ptr());
    }
    let (input, out) = (a.input.as_ptr(), a.output.as_mut_ptr());
    let reach_h = 2 * g.dilation_h as usize;
    let reach_w = 2 * g.dilation_w as usize;
    let mut pixel = 0;
    for b in 0..g.batches as usize {
        for oy in 0..g.out_h {
            let y0 = oy as isize * g.stride_h as isize - g.pad_top as isize;
            let rows_inside = y0 >= 0 && y0 as usize + reach_h < in_h;
            let mut ox = 0;
            while ox < g.out_w {
                let x0 = ox as isize - g.pad_left as isize;
                let mut src = [pad.as_ptr(); 2 * PAIRS];
                if rows_inside && ox + 1 < g.out_w && x0 >= 0 && x0 as usize + 1 + reach_w < in_w {
                    let base = ((b * in_h + y0 as usize) * in_w + x0 as usize) * 8;
                    for (s, &w) in src.iter_mut().zip(&win).take(TAPS) {
                        *s = input.add(base + w);
                    }
                    let mut acc = [bias; 2];
                    for (p, w) in wv.iter().enumerate() {
                        let x = tap_pair::<2>(src[2 * p], src[2 * p + 1]);
                        acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x[0], w[0]));
                        acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x[1], w[1]));
                    }
                    let r0 = v256::requant(acc[0], &lanes, &o);
                    let r1 = v256::requant(acc[1], &lanes, &o);
                    store16(out.add(pixel * 8), r0, r1);
                    ox += 2;
                    pixel += 2;
                    continue;
                }
                for ky in 0..3 {
                    let iy = tap(oy, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h);
                    for kx in 0..3 {
                        let ix = tap(ox, 1, g.pad_left, kx, g.dilation_w, g.in_w);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            src[(ky * 3 + kx) as usize] =
                                input.add(((b * in_h + iy) * in_w + ix) * 8);
                        }
                    }
                }
                // One pixel: the first vector of each weight pair is its 8 channels.
                let mut acc = bias;
                for (p, w) in wv.iter().enumerate() {
                    let x = tap_pair::<1>(src[2 * p], src[2 * p + 1]);
                    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x[0], w[0]));
                }
                let r = v256::requant(acc, &lanes, &o);
                (out.add(pixel * 8) as *mut i64).write_unaligned(v256::narrow(r));
                ox += 1;
                pixel += 1;
            }
        }
    }
}

/// Stores the low byte of each lane of `r0` then `r1` (a truncating cast, as the reference's
/// `as i8`) as 16 bytes at `dst`: masked to 0..=255 the unsigned packs are exact; they
/// interleave the two vectors' 128-bit halves, which the permutation puts back in order.
///
/// # Safety
/// AVX2; 16 bytes writable at `dst`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn store16(dst: *mut i8, r0: __m256i, r1: __m256i) {
    let ff = _mm256_set1_epi32(0xFF);
    let w = _mm256_packus_epi32(_mm256_and_si256(r0, ff), _mm256_and_si256(r1, ff));
    let b = _mm256_packus_epi16(w, w);
    let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
    _mm_storeu_si128(dst as *mut _, _mm256_castsi256_si128(b));
}

/// Two taps of `8 * H` channels (`H` is 1 or 2) at `p0` and `p1`, interleaved channel by
/// channel and sign-extended to 16 bits: `[x0[c], x1[c]]` in each 32-bit lane, channels
/// `8 * h..8 * h + 8` in vector `h`, so one `pmaddwd` with weights laid out alike sums two
/// taps of 8 channels.
///
/// # Safety
/// AVX2; `8 * H` bytes readable at `p0` and at `p1`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tap_pair<const H: usize>(p0: *const i8, p1: *const i8) -> [__m256i; 2] {
    let (x0, x1) = if H == 2 {
        (
            _mm_loadu_si128(p0 as *const _),
            _mm_loadu_si128(p1 as *const _),
        )
    } else {
        (
            _mm_loadl_epi64(p0 as *const _),
            _mm_loadl_epi64(p1 as *const _),
        )
    };
    // For H == 1 the second vector is never used, and the compiler drops it.
    [
        _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1)),
        _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1)),
    ]
}

/// Channels `c0..c0 + 8 * H` of the whole output, taps two at a time: each `pmaddwd` does
/// 16 multiply-adds (two taps of 8 channels) into 32-bit sums, exact since a pair of int8
/// products never leaves int32. `TAPS` is the window size, or 0 for "read it from the
/// geometry"; an odd window's last tap is paired with a zero weight (reading the padding row).
///
/// # Safety
/// AVX2; `H` is 1 or 2 and `c0 + 8 * H <= in_c`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn dw256_block<const H: usize, const TAPS: usize>(a: &mut Dw<'_>, c0: usize) {
    let g = &a.p.geom;
    let c_all = g.in_c as usize;
    let taps_n = if TAPS == 0 {
        g.k_h as usize * g.k_w as usize
    } else {
        TAPS
    };
    let pairs = taps_n.div_ceil(2);
    let win = window(g);
    let rq = &a.p.rq;
    let o = v256::out(rq.output_offset, false, rq.act_min, rq.act_max);
    let pad = pad_row(a);
    let zeros = [0i8; 16];
    let offset = _mm256_set1_epi32(rq.input_offset);
    // SAFETY (loads and stores below): channels c0..c0 + 8 * H exist in every tap, pixel,
    // bias, multiplier and shift the geometry check covers; `pad` has 64 bytes and `zeros`
    // 16, at least the 8 * H read from them.
    let w_at = |t: usize| {
        if t < taps_n {
            unsafe { a.weights.as_ptr().add(t * c_all + c0) }
        } else {
            zeros.as_ptr()
        }
    };
    let mut bias = [_mm256_setzero_si256(); 2];
    let mut lanes = [v256::rq(_mm256_setzero_si256(), _mm256_setzero_si256()); 2];
    for h in 0..H {
        let c = c0 + 8 * h;
        if !a.bias.is_empty() {
            bias[h] = _mm256_loadu_si256(a.bias.as_ptr().add(c) as *const _);
        }
        // The input offset folded into the bias: `offset * sum of the taps' weights`.
        for t in 0..taps_n {
            let w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(w_at(t).add(8 * h) as *const _));
            bias[h] = _mm256_add_epi32(bias[h], _mm256_mullo_epi32(w, offset));
        }
        lanes[h] = v256::rq(
            _mm256_loadu_si256(a.multiplier.as_ptr().add(c) as *const _),
            _mm256_loadu_si256(a.shift.as_ptr().add(c) as *const _),
        );
    }
    let mut wv = [[_mm256_setzero_si256(); 2]; MAX_PAIRS];
    for (p, v) in wv.iter_mut().enumerate().take(pairs) {
        *v = tap_pair::<H>(w_at(2 * p), w_at(2 * p + 1));
    }
    let input = a.input.as_ptr().add(c0);
    let out = a.output.as_mut_ptr().add(c0);
    let lone = pad.as_ptr();
    for_each_pixel(g, |pixel, taps| {
        let mut acc = bias;
        let mut add_pair = |p: usize, p0: *const i8, p1: *const i8| {
            // SAFETY: see above.
            let x = unsafe { tap_pair::<H>(p0, p1) };
            for h in 0..H {
                acc[h] = _mm256_add_epi32(acc[h], _mm256_madd_epi16(x[h], wv[p][h]));
            }
        };
        match taps {
            Taps::Inside(base) => {
                // SAFETY: see above.
                let src = unsafe { input.add(base) };
                let at = |t: usize| {
                    if t < taps_n {
                        unsafe { src.add(win[t]) }
                    } else {
                        lone
                    }
                };
                for p in 0..pairs {
                    add_pair(p, at(2 * p), at(2 * p + 1));
                }
            }
            Taps::Edge(offs) => {
                let at = |t: usize| match offs.get(t) {
                    // SAFETY: see above.
                    Some(Some(off)) => unsafe { input.add(*off) },
                    _ => lone,
                };
                for p in 0..pairs {
                    add_pair(p, at(2 * p), at(2 * p + 1));
                }
            }
        }
        // SAFETY: see above.
        unsafe {
            let r0 = v256::requant(acc[0], &lanes[0], &o);
            let dst = out.add(pixel * c_all);
            if H == 2 {
                store16(dst, r0, v256::requant(acc[1], &lanes[1], &o));
            } else {
                (dst as *mut i64).write_unaligned(v256::narrow(r0));
            }
        }
    });
}

#[target_feature(enable = "sse4.1")]
unsafe fn dw_sse41(a: &mut Dw<'_>) {
    let g = &a.p.geom;
    let c_all = g.in_c as usize;
    let taps_n = g.k_h as usize * g.k_w as usize;
    let win = window(g);
    let rq = a.p.rq;
    let pad = pad_row(a);
    let low16 = _mm_set1_epi32(0xFFFF);
    let offset = _mm_set1_epi32(rq.input_offset);
    let mut c0 = 0;
    while c0 + 4 <= c_all {
        // SAFETY (loads below): channels c0..c0 + 4 exist in every tap and pixel.
        let mut bias = if a.bias.is_empty() {
            _mm_setzero_si128()
        } else {
            _mm_loadu_si128(a.bias.as_ptr().add(c0) as *const _)
        };
        let mut wv = [_mm_setzero_si128(); MAX_TAPS];
        for (t, v) in wv.iter_mut().enumerate().take(taps_n) {
            let w = _mm_cvtepi8_epi32(_mm_cvtsi32_si128(
                (a.weights.as_ptr().add(t * c_all + c0) as *const i32).read_unaligned(),
            ));
            bias = _mm_add_epi32(bias, _mm_mullo_epi32(w, offset));
            *v = _mm_and_si128(w, low16);
        }
        let input = a.input.as_ptr().add(c0);
        let (multiplier, shift) = (&a.multiplier[c0..c0 + 4], &a.shift[c0..c0 + 4]);
        let output = &mut *a.output;
        let mut buf = [None; MAX_TAPS];
        for_each_pixel(&a.p.geom, |pixel, taps| {
            let offs = tap_offsets(taps, &win, taps_n, &mut buf);
            let mut acc = bias;
            for (off, &w) in offs.iter().zip(&wv) {
                // SAFETY: see above.
                let src = match off {
                    Some(off) => unsafe { input.add(*off) },
                    None => pad.as_ptr(),
                };
                let x = _mm_cvtepi8_epi32(_mm_cvtsi32_si128(unsafe {
                    (src as *const i32).read_unaligned()
                }));
                acc = _mm_add_epi32(acc, _mm_madd_epi16(x, w));
            }
            let mut sums = [0i32; 4];
            // SAFETY: `sums` has 16 bytes.
            unsafe { _mm_storeu_si128(sums.as_mut_ptr() as *mut _, acc) };
            for (j, &s) in sums.iter().enumerate() {
                let v = multiply_by_quantized_multiplier(s, multiplier[j], shift[j])
                    .wrapping_add(rq.output_offset);
                output[pixel * c_all + c0 + j] = v.max(rq.act_min).min(rq.act_max) as i8;
            }
        });
        c0 += 4;
    }
    for c in c0..c_all {
        channel_scalar(a, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use ferrite_core::ops::Requant;
    use ferrite_core::{ConstRef, TensorId};
    use proptest::prelude::*;
    extern crate std;
    use std::vec::Vec;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn depthwise_is_bit_exact(
            (batches, in_h, in_w, c) in (1u32..3, 1u32..9, 1u32..9, 1u32..40),
            (k_h, k_w, sh, sw, dh, dw, pt, pl) in (1u32..6, 1u32..6, 1u32..3, 1u32..3, 1u32..3, 1u32..3, 0u32..3, 0u32..3),
            (zp, out_off, amin, amax) in (-128i32..128, -128i32..128, -128i32..0, 0i32..128),
            seed in any::<u64>(),
            with_bias in any::<bool>(),
        ) {
            check(batches, in_h, in_w, c, (k_h, k_w, sh, sw, dh, dw, pt, pl), (zp, out_off, amin, amax), seed, with_bias)?;
        }

        /// The specialised 3x3 paths: 8 channels in pairs of pixels, multiples of 16 (AVX-512)
        /// or of 8 up to 512 (AVX2) pixel by pixel, channel blocks for the rest.
        #[test]
        fn depthwise_3x3_special_cases_are_bit_exact(
            (batches, in_h, in_w, c) in (1u32..3, 1u32..9, 1u32..12, prop::sample::select(std::vec![8u32, 16, 32, 48, 64, 24, 19, 40, 512, 520])),
            (sh, sw, dh, dw, pt, pl) in (1u32..3, 1u32..3, 1u32..3, 1u32..3, 0u32..3, 0u32..3),
            (zp, out_off, amin, amax) in (-128i32..128, -128i32..128, -128i32..0, 0i32..128),
            seed in any::<u64>(),
            with_bias in any::<bool>(),
        ) {
            check(batches, in_h, in_w, c, (3, 3, sh, sw, dh, dw, pt, pl), (zp, out_off, amin, amax), seed, with_bias)?;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        batches: u32,
        in_h: u32,
        in_w: u32,
        c: u32,
        (k_h, k_w, sh, sw, dh, dw, pt, pl): (u32, u32, u32, u32, u32, u32, u32, u32),
        (zp, out_off, amin, amax): (i32, i32, i32, i32),
        seed: u64,
        with_bias: bool,
    ) -> core::result::Result<(), TestCaseError> {
        {
            let out_h = ((in_h + 2 * pt).saturating_sub(dh * (k_h - 1) + 1)) / sh + 1;
            let out_w = ((in_w + 2 * pl).saturating_sub(dw * (k_w - 1) + 1)) / sw + 1;
            let geom = ConvGeometry {
                batches,
                in_h,
                in_w,
                in_c: c,
                out_h,
                out_w,
                out_c: c,
                k_h,
                k_w,
                stride_h: sh,
                stride_w: sw,
                dilation_h: dh,
                dilation_w: dw,
                pad_top: pt,
                pad_left: pl,
            };
            let p = DepthwiseConv2dI8 {
                input: TensorId(0),
                output: TensorId(1),
                geom,
                depth_multiplier: 1,
                weights: ConstRef::EMPTY,
                bias: ConstRef::EMPTY,
                rq: Requant {
                    multiplier: ConstRef::EMPTY,
                    shift: ConstRef::EMPTY,
                    input_offset: -zp,
                    output_offset: out_off,
                    act_min: amin,
                    act_max: amax,
                },
            };
            let mut rng = Rng(seed | 1);
            let input: Vec<i8> = (0..batches * in_h * in_w * c)
                .map(|_| rng.next() as i8)
                .collect();
            let weights: Vec<i8> = (0..k_h * k_w * c).map(|_| rng.next() as i8).collect();
            let bias: Vec<i32> = if with_bias {
                (0..c).map(|_| (rng.next() as i32) >> 10).collect()
            } else {
                Vec::new()
            };
            let multiplier: Vec<i32> = (0..c)
                .map(|_| (1 << 30) + ((rng.next() as u32) >> 2) as i32)
                .collect();
            let shift: Vec<i32> = (0..c).map(|_| (rng.next() % 14) as i32 - 11).collect();
            let n_out = (batches * out_h * out_w * c) as usize;
            let mut want = std::vec![0i8; n_out];
            depthwise_conv2d_i8(&p, &input, &weights, &bias, &multiplier, &shift, &mut want);
            for isa in isas() {
                let mut got = std::vec![0i8; n_out];
                let mut a = Dw {
                    p: &p,
                    input: &input,
                    weights: &weights,
                    bias: &bias,
                    multiplier: &multiplier,
                    shift: &shift,
                    output: &mut got,
                };
                // SAFETY: `isas()` lists only instruction sets this CPU has.
                unsafe {
                    match isa {
                        Isa::Avx512Vnni => dw_avx512(&mut a),
                        Isa::Avx2 => dw_avx2(&mut a),
                        Isa::Sse41 => dw_sse41(&mut a),
                        _ => unreachable!(),
                    }
                }
                prop_assert_eq!(&got, &want, "{}", isa);
            }
        }
        Ok(())
    }
}
