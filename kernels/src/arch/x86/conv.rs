//! Packed int8 CONV_2D ([`Op::Conv2dI8Packed`]) as an implicit GEMM.
//!
//! A tile of output pixels is gathered (`im2col`) into a stack buffer as unsigned bytes
//! `x + 128` (padding taps get the input zero point, which the folded bias cancels), then a
//! register-blocked micro-kernel multiplies it with the packed weights: `MR` pixels × `NR`
//! blocks of 16 output channels, accumulating in 32-bit lanes, requantizing and storing int8.

use super::{v256, v512, OutLanes, RqLanes};
use crate::arch::pack::{packed_conv_dims, packed_row_k4, BLOCK};
use crate::ops::conv::{check_conv_shapes, conv2d_i8, tap};
use crate::util::{check_conv_activations, check_requant, expect_op};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Conv2dI8, Op};
use ferrite_core::{Ctx, Result};

/// Bytes of the im2col tile on the stack: it and the weights it meets stay in L1/L2.
const TILE_BYTES: usize = 32 * 1024;

/// Slack after the tile: [`xor_copy512`] and [`fill512`] store whole 64-byte vectors.
const TILE_SLACK: usize = 64;

/// The im2col tile, aligned for vector loads.
#[repr(C, align(64))]
struct Tile([MaybeUninit<u8>; TILE_BYTES + TILE_SLACK]);

impl Tile {
    fn new() -> Tile {
        Tile([const { MaybeUninit::uninit() }; TILE_BYTES + TILE_SLACK])
    }
}

/// A checked packed convolution: every slice has the length its geometry implies, the
/// convolution is dense and the input zero point is an int8 value.
pub(crate) struct Packed<'a> {
    pub p: &'a Conv2dI8,
    pub input: &'a [i8],
    pub weights: &'a [i8],
    pub bias: &'a [i32],
    pub multiplier: &'a [i32],
    pub shift: &'a [i32],
    pub output: &'a mut [i8],
    /// 16-channel blocks.
    pub blocks: usize,
    /// 4-deep accumulation steps.
    pub k4: usize,
}

/// Kernel entry for [`Op::Conv2dI8Packed`] on AVX-512 VNNI.
pub(crate) fn run_conv2d_i8_packed_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run_packed(ctx, op, 1, |a| unsafe { conv_avx512(a) })
}

/// Kernel entry for [`Op::Conv2dI8Packed`] on AVX2.
pub(crate) fn run_conv2d_i8_packed_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run_packed(ctx, op, 2, |a| unsafe { conv_avx2(a) })
}

/// Kernel entry for [`Op::Conv2dI8Packed`] on SSE4.1.
pub(crate) fn run_conv2d_i8_packed_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Sse41` (see the module docs).
    run_packed(ctx, op, 2, |a| unsafe { conv_sse41(a) })
}

/// The largest pixel block of any micro-kernel: the tile must hold this many rows.
const MR_MAX: usize = 16;

/// The tallest kernel the packed paths gather (taller ones run the reference).
const MAX_KH: usize = 16;

/// Checks the layer like the portable entry, then runs `fast` on it, or the reference when
/// the layer is outside what the packed kernels handle. `elem` is the bytes per tile element.
fn run_packed(
    ctx: &mut Ctx<'_>,
    op: &Op,
    elem: usize,
    fast: impl FnOnce(&mut Packed<'_>),
) -> Result<()> {
    let pk = expect_op!(ctx, op, Conv2dI8Packed);
    let p = &pk.conv;
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let packed = ctx.consts(pk.packed_weights)?;
    let folded = ctx.consts(pk.folded_bias)?;
    let layer = ctx.layer;
    check_conv_shapes(layer, g, p.groups, weights.len(), bias.len())?;
    check_requant(layer, g.out_c as usize, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let dims = packed_conv_dims(g).filter(|&(blocks, k4)| {
        p.groups == 1
            && packed.len() == blocks * k4 * BLOCK * 4
            && folded.len() == blocks * BLOCK
            && k4 > 0
            && k4 * 4 * elem * MR_MAX <= TILE_BYTES
            && g.k_h as usize <= MAX_KH
            && (-128..=127).contains(&p.rq.input_offset.wrapping_neg())
    });
    match dims {
        Some((blocks, k4)) => fast(&mut Packed {
            p,
            input,
            weights: packed,
            bias: folded,
            multiplier,
            shift,
            output,
            blocks,
            k4,
        }),
        None => conv2d_i8(p, input, weights, bias, multiplier, shift, output),
    }
    Ok(())
}

/// Where output pixel `m` of the flattened `[batches, out_h, out_w]` grid is.
#[derive(Clone, Copy)]
struct Pixel {
    b: usize,
    oy: usize,
    ox: usize,
}

impl Pixel {
    fn of(m: usize, out_h: usize, out_w: usize) -> Pixel {
        Pixel {
            b: m / (out_h * out_w),
            oy: (m / out_w) % out_h,
            ox: m % out_w,
        }
    }
}

/// A tile element: the activation byte `x + 128`, as `u8` (VNNI) or widened to `u16`
/// (`pmaddwd`).
///
/// # Safety
/// The bulk methods use the instructions of the kernels that use the type: AVX-512 BW for
/// `u8`, SSE4.1 for `u16`. Callers must run on such a CPU.
unsafe trait Elem: Copy {
    fn from_i8(x: i8) -> Self;
    /// `dst[i] = from_i8(src[i])` for `i < n`.
    ///
    /// # Safety
    /// `dst` and `src` valid for `n` elements; the CPU features of the type.
    unsafe fn convert(dst: *mut Self, src: *const i8, n: usize);
    /// `dst[i] = v` for `i < n`.
    ///
    /// # Safety
    /// `dst` valid for `n` elements.
    unsafe fn fill(dst: *mut Self, v: Self, n: usize) {
        for i in 0..n {
            *dst.add(i) = v;
        }
    }
    /// Converts 16 elements at once if the type has a way to (returning whether it did):
    /// `dst[i] = from_i8(src[i])` for `i < 16`.
    ///
    /// # Safety
    /// `dst` valid for 16 elements, `src` for 16 bytes; the CPU features of the type.
    #[inline(always)]
    unsafe fn convert16(_dst: *mut Self, _src: *const i8) -> bool {
        false
    }
}

// SAFETY: only the AVX-512 kernel builds `u8` tiles.
unsafe impl Elem for u8 {
    #[inline(always)]
    fn from_i8(x: i8) -> u8 {
        (x as u8) ^ 0x80
    }
    #[inline(always)]
    unsafe fn convert(dst: *mut u8, src: *const i8, n: usize) {
        xor_copy512(dst, src, n)
    }
    #[inline(always)]
    unsafe fn fill(dst: *mut u8, v: u8, n: usize) {
        fill512(dst, v, n)
    }
}

// SAFETY: only the AVX2 and SSE4.1 kernels build `u16` tiles; both have SSE4.1.
unsafe impl Elem for u16 {
    #[inline(always)]
    fn from_i8(x: i8) -> u16 {
        ((x as u8) ^ 0x80) as u16
    }
    #[inline(always)]
    unsafe fn convert(dst: *mut u16, src: *const i8, n: usize) {
        widen128(dst, src, n)
    }
    #[inline(always)]
    unsafe fn convert16(dst: *mut u16, src: *const i8) -> bool {
        widen16(dst, src);
        true
    }
}

/// Bytes `n` and up masked off (`n <= 64`).
#[inline(always)]
fn mask64(n: usize) -> u64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n) - 1
    }
}

/// `dst[i] = src[i] ^ 0x80` for `i < n`, 64 bytes per step (masked loads; whole stores,
/// which may write garbage up to 63 bytes past `n`: the tile is filled front to back, so
/// later writes replace it, and [`TILE_SLACK`] absorbs it at the end; masked byte stores are
/// slow on some CPUs).
///
/// # Safety
/// AVX-512 BW; `src` valid for `n` bytes, `dst` for `n` rounded up to 64.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn xor_copy512(dst: *mut u8, src: *const i8, n: usize) {
    if n <= 16 {
        // Short runs (a few channels per tap) are the common case of a first layer.
        let v = _mm_maskz_loadu_epi8(mask64(n) as u16, src);
        _mm_storeu_si128(dst as *mut _, _mm_xor_si128(v, _mm_set1_epi8(-128)));
        return;
    }
    let flip = _mm512_set1_epi8(-128);
    let mut i = 0;
    while i < n {
        let v = _mm512_maskz_loadu_epi8(mask64(n - i), src.add(i));
        _mm512_storeu_si512(dst.add(i) as *mut _, _mm512_xor_si512(v, flip));
        i += 64;
    }
}

/// `dst[i] = v` for `i < n`, 64 bytes per step (whole stores, as [`xor_copy512`]).
///
/// # Safety
/// AVX-512 BW; `dst` valid for `n` rounded up to 64 bytes.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn fill512(dst: *mut u8, v: u8, n: usize) {
    let val = _mm512_set1_epi8(v as i8);
    let mut i = 0;
    while i < n {
        _mm512_storeu_si512(dst.add(i) as *mut _, val);
        i += 64;
    }
}

/// `dst[i] = (src[i] ^ 0x80) as u16` for `i < 16`.
///
/// # Safety
/// SSE4.1; `dst` valid for 16 elements, `src` for 16 bytes.
#[target_feature(enable = "sse4.1")]
#[inline]
unsafe fn widen16(dst: *mut u16, src: *const i8) {
    let v = _mm_xor_si128(_mm_loadu_si128(src as *const _), _mm_set1_epi8(-128));
    _mm_storeu_si128(dst as *mut _, _mm_cvtepu8_epi16(v));
    _mm_storeu_si128(
        dst.add(8) as *mut _,
        _mm_unpackhi_epi8(v, _mm_setzero_si128()),
    );
}

/// `dst[i] = (src[i] ^ 0x80) as u16` for `i < n`, 8 per step.
///
/// # Safety
/// SSE4.1; pointers valid for `n` elements.
#[target_feature(enable = "sse4.1")]
#[inline]
unsafe fn widen128(dst: *mut u16, src: *const i8, n: usize) {
    let flip = _mm_set1_epi8(-128);
    let mut i = 0;
    while i + 8 <= n {
        let v = _mm_xor_si128(_mm_loadl_epi64(src.add(i) as *const _), flip);
        _mm_storeu_si128(dst.add(i) as *mut _, _mm_cvtepu8_epi16(v));
        i += 8;
    }
    while i < n {
        *dst.add(i) = u16::from_i8(*src.add(i));
        i += 1;
    }
}

/// Writes the receptive fields of output pixels `m0..m0 + rows` into `tile` (row stride
/// `kp` elements), each kernel row's taps padded with zeros to a multiple of 4 as the packed
/// weights are, then zero-fills rows up to `rows_padded` (the micro-kernel computes, but never
/// stores, those).
///
/// # Safety
/// `tile` must have room for `rows_padded * kp` elements, `m0 + rows` must not exceed the
/// output pixels of `a`'s geometry (whose input slice is checked against it), and the CPU
/// must have `T`'s features.
#[inline(always)]
unsafe fn im2col<T: Elem>(
    a: &Packed<'_>,
    tile: *mut T,
    kp: usize,
    m0: usize,
    rows: usize,
    rows_padded: usize,
) {
    let p = a.p;
    let g = &p.geom;
    let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
    let k = k_h * k_w * in_c;
    let pad = T::from_i8(p.rq.input_offset.wrapping_neg() as i8);
    let zero = T::from_i8(0);
    let input = a.input.as_ptr();
    let input_end = input.add(a.input.len());
    let pointwise = k_h == 1
        && k_w == 1
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_top == 0
        && g.pad_left == 0
        && in_h == out_h
        && in_w == out_w;
    // Every read below is of an input pixel the geometry check put inside `a.input` (taps
    // come from `tap`, interior runs are checked against `in_w`); every write stays within
    // row `r < rows_padded` of the tile: `k` elements, then `kp - k` of padding.
    if pointwise {
        // Output pixel m reads input pixel m.
        if kp == in_c {
            T::convert(tile, input.add(m0 * in_c), rows * in_c);
        } else {
            for r in 0..rows {
                let dst = tile.add(r * kp);
                T::convert(dst, input.add((m0 + r) * in_c), in_c);
                T::fill(dst.add(k), zero, kp - k);
            }
        }
    } else {
        let run = k_w * in_c;
        // `kp == k_h * row_len` (see `packed_conv_dims`).
        let row_len = run.div_ceil(4) * 4;
        // Output pixels come in runs along one output row: find each kernel row's input row
        // (or the padding) once per run, then write the pixels in order (the u8 writes may
        // spill past their end, to be overwritten by the next ones).
        let mut rows_of = [None; MAX_KH];
        let mut r = 0;
        while r < rows {
            let px = Pixel::of(m0 + r, out_h, out_w);
            let seg = (out_w - px.ox).min(rows - r);
            for (ky, ro) in rows_of.iter_mut().enumerate().take(k_h) {
                *ro = tap(
                    px.oy as u32,
                    g.stride_h,
                    g.pad_top,
                    ky as u32,
                    g.dilation_h,
                    g.in_h,
                )
                .map(|iy| input.add((px.b * in_h + iy) * in_w * in_c));
            }
            for j in 0..seg {
                let ox = px.ox + j;
                let mut dst = tile.add((r + j) * kp);
                let x0 = (ox * g.stride_w as usize) as isize - g.pad_left as isize;
                let cols_inside = g.dilation_w == 1 && x0 >= 0 && x0 as usize + k_w <= in_w;
                for row in rows_of.iter().take(k_h) {
                    // A short kernel row inside the input (a first layer's few channels):
                    // one 16-element conversion, when 16 bytes can be read, covers the
                    // row and its zero-weight padding taps (any value times a zero weight
                    // adds nothing); what it writes past the row is overwritten by the
                    // next writes, or lands in the rows zero-filled below or in
                    // [`TILE_SLACK`].
                    if let Some(row) = row {
                        let src = row.add((x0.max(0) as usize) * in_c);
                        if cols_inside
                            && row_len <= 16
                            && input_end.offset_from(src) >= 16
                            && T::convert16(dst, src)
                        {
                            dst = dst.add(row_len);
                            continue;
                        }
                    }
                    match row {
                        None => T::fill(dst, pad, run),
                        // The whole kernel row is inside: one contiguous run.
                        Some(row) if cols_inside => {
                            T::convert(dst, row.add(x0 as usize * in_c), run)
                        }
                        Some(row) => {
                            for kx in 0..k_w {
                                let d = dst.add(kx * in_c);
                                let ix = tap(
                                    ox as u32,
                                    g.stride_w,
                                    g.pad_left,
                                    kx as u32,
                                    g.dilation_w,
                                    g.in_w,
                                );
                                match ix {
                                    Some(ix) => T::convert(d, row.add(ix * in_c), in_c),
                                    None => T::fill(d, pad, in_c),
                                }
                            }
                        }
                    }
                    // Zero taps pad the kernel row to a whole number of steps.
                    T::fill(dst.add(run), zero, row_len - run);
                    dst = dst.add(row_len);
                }
            }
            r += seg;
        }
    }
    T::fill(tile.add(rows * kp), zero, (rows_padded - rows) * kp);
}

/// Runs `micro(tile, m0, rows, block)` over the output in tiles of pixels (gathered by
/// [`im2col`]) and groups of `nr` blocks, `mr` pixels at a time.
///
/// # Safety
/// `elem_size_of::<T>() * kp * mr <= TILE_BYTES`; `micro` must be safe to call for the
/// arguments given (it receives rows within the tile and blocks below `a.blocks`).
#[inline(always)]
unsafe fn drive<T: Elem>(
    a: &mut Packed<'_>,
    mr: usize,
    nr: usize,
    mut micro: impl FnMut(&mut Packed<'_>, *const T, usize, usize, usize),
) {
    let g = &a.p.geom;
    let kp = a.k4 * 4;
    let pixels = g.batches as usize * g.out_h as usize * g.out_w as usize;
    let cap = TILE_BYTES / core::mem::size_of::<T>() / kp / mr * mr;
    let tile_m = cap.min(pixels.div_ceil(mr) * mr);
    let mut tile = Tile::new();
    let tp = tile.0.as_mut_ptr() as *mut T;
    let mut m0 = 0;
    while m0 < pixels {
        let rows = tile_m.min(pixels - m0);
        let rows_padded = rows.div_ceil(mr) * mr;
        im2col(a, tp, kp, m0, rows, rows_padded);
        let mut nb = 0;
        while nb < a.blocks {
            let mut r = 0;
            while r < rows {
                micro(a, tp.add(r * kp), m0 + r, (rows - r).min(mr), nb);
                r += mr;
            }
            nb += nr;
        }
        m0 += rows;
    }
}

// ---------------------------------------------------------------------------------------
// AVX-512 VNNI

const AVX512: &str = "avx512f,avx512bw,avx512vl,avx512vnni";
const _: &str = AVX512;

/// Requantization constants of block `nb` (lanes past `out_c` read as zero).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn block_rq512(a: &Packed<'_>, nb: usize) -> (RqLanes<__m512i>, __m512i, __mmask16) {
    let out_c = a.p.geom.out_c as usize;
    let valid = (out_c - nb * BLOCK).min(BLOCK);
    let mask: __mmask16 = if valid == BLOCK {
        0xFFFF
    } else {
        (1u16 << valid) - 1
    };
    let o = nb * BLOCK;
    // SAFETY: the masked loads read only lanes `o + i < out_c`; the folded bias has a full
    // block for every block.
    let mult = _mm512_maskz_loadu_epi32(mask, a.multiplier.as_ptr().add(o));
    let shift = _mm512_maskz_loadu_epi32(mask, a.shift.as_ptr().add(o));
    let bias = _mm512_loadu_si512(a.bias.as_ptr().add(o) as *const _);
    (v512::rq(mult, shift), bias, mask)
}

/// Chooses the register blocking from the number of channel blocks, and the direct
/// convolution when the layer suits it.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn conv_avx512(a: &mut Packed<'_>) {
    // At most 16 accumulators: more made LLVM spill them inside the loop.
    if a.blocks.is_multiple_of(4) {
        conv512::<4, 4>(a)
    } else if a.blocks.is_multiple_of(2) {
        conv512::<8, 2>(a)
    } else {
        conv512::<16, 1>(a)
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn conv512<const MR: usize, const NR: usize>(a: &mut Packed<'_>) {
    let rq = a.p.rq;
    let mut o = Out512 {
        lanes: v512::out(rq.output_offset, true, rq.act_min, rq.act_max),
        packed: None,
    };
    // Whole pixels of output in each micro-tile, and an output stage `v512::pack64` does.
    let int8 = -128..=127;
    if a.p.geom.out_c as usize == NR * BLOCK
        && (MR * NR).is_multiple_of(4)
        && int8.contains(&rq.act_min)
        && int8.contains(&rq.act_max)
        && rq.output_offset.unsigned_abs() <= 1 << 14
    {
        o.packed = Some((
            _mm512_set1_epi16(rq.output_offset as i16),
            _mm512_set1_epi8(rq.act_min as i8),
            _mm512_set1_epi8(rq.act_max as i8),
        ));
    }
    let o = o;
    if let Some(d) = Direct::plan(a, MR) {
        direct512::<MR, NR>(a, &d, &o);
        return;
    }
    let k4 = a.k4;
    drive::<u8>(a, MR, NR, |a, tile, m, rows, nb| {
        // SAFETY: `drive` passes tile rows (each `4 * k4` bytes, all of them written) and
        // blocks within bounds; this closure runs inside `conv512`, whose features the caller
        // guaranteed.
        unsafe {
            let src = Src {
                base: tile,
                pixel: 4 * k4,
                row_k4: k4,
                row_stride: 0,
            };
            micro512::<MR, NR>(a, &src, m, rows, nb, &o)
        }
    });
}

// ---------------------------------------------------------------------------------------
// Direct convolution (AVX-512): the input, as unsigned bytes with its padding materialized,
// is copied band by band into a stack buffer, and the micro-kernel reads each pixel's kernel
// rows there in place (runs of `k_w * in_c` bytes, contiguous in NHWC), with no im2col. The
// pixels of a micro-tile lie on one output row, a constant stride apart.

/// Bytes of the padded input band.
const BAND_BYTES: usize = 32 * 1024;

/// The padded input band, aligned for vector stores, with slack for the whole-vector writes
/// of [`xor_copy512`] and [`fill512`].
#[repr(C, align(64))]
struct Band([MaybeUninit<u8>; BAND_BYTES + TILE_SLACK]);

/// How a layer runs as a direct convolution.
struct Direct {
    /// Pixels of a padded input row.
    wp: usize,
    /// Bytes of a padded input row (`wp * in_c`).
    row_bytes: usize,
    /// 4-byte steps of a kernel row (see [`packed_row_k4`]).
    row_k4: usize,
    /// Output rows per band.
    band_rows: usize,
    /// Bytes of the band, from its first padded row, that micro-tiles of `mr` pixels read
    /// for one output row: the last tile's idle pixels, and the zero-weight steps past a
    /// kernel row, read past the padded rows (their results are never stored).
    reach_one: usize,
}

impl Direct {
    /// The plan for micro-tiles of `mr` pixels, or `None` when the im2col path suits the
    /// layer better (pointwise layers, rows much shorter than a tile, column dilation) or its
    /// rows do not fit the band.
    fn plan(a: &Packed<'_>, mr: usize) -> Option<Direct> {
        let g = &a.p.geom;
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        let (sh, sw, dh) = (
            g.stride_h as usize,
            g.stride_w as usize,
            g.dilation_h as usize,
        );
        let pointwise = k_h == 1
            && k_w == 1
            && sh == 1
            && sw == 1
            && g.pad_top == 0
            && g.pad_left == 0
            && in_h == out_h
            && in_w == out_w;
        let tiles = out_w.div_ceil(mr);
        if pointwise
            || k_h == 0
            || k_w == 0
            || (k_w > 1 && g.dilation_w != 1)
            || out_h == 0
            || out_w == 0
            || in_c == 0
            // At least three quarters of the computed pixels are real ones.
            || out_w * 4 < tiles * mr * 3
        {
            return None;
        }
        let row_k4 = packed_row_k4(g)?;
        if row_k4.checked_mul(k_h)? != a.k4 {
            return None;
        }
        // Every tap a real pixel reads lies in the padded row: column
        // `(out_w - 1) * sw + k_w - 1` (no column dilation), or past the input's last column.
        let wp = (g.pad_left as usize + in_w).max((out_w - 1).checked_mul(sw)? + k_w);
        let row_bytes = wp.checked_mul(in_c)?;
        let pixel = sw.checked_mul(in_c)?;
        // The farthest byte read for one output row: the last kernel row of the last tile's
        // last pixel, one whole kernel row of steps.
        let below = (k_h - 1).checked_mul(dh)?;
        let reach_one = below
            .checked_mul(row_bytes)?
            .checked_add((tiles * mr - 1).checked_mul(pixel)?)?
            .checked_add(4 * row_k4)?
            .max((below + 1).checked_mul(row_bytes)?);
        if reach_one > BAND_BYTES {
            return None;
        }
        let step = sh.checked_mul(row_bytes)?;
        let band_rows = (1 + (BAND_BYTES - reach_one) / step).min(out_h);
        Some(Direct {
            wp,
            row_bytes,
            row_k4,
            band_rows,
            reach_one,
        })
    }
}

/// Writes the padded input rows that output rows `oy0..oy0 + rows` of batch `b` read into
/// `buf` (as unsigned bytes, padding as the input zero point), then zeros up to the farthest
/// byte the micro-tiles read.
///
/// # Safety
/// AVX-512 BW; `buf` is a [`Band`]; `d` is `a`'s plan and `oy0 + rows <= out_h`, `b <
/// batches` (so every input row read lies in `a.input`).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn fill_band(a: &Packed<'_>, d: &Direct, buf: *mut u8, b: usize, oy0: usize, rows: usize) {
    let g = &a.p.geom;
    let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
    let (sh, dh) = (g.stride_h as usize, g.dilation_h as usize);
    let pad = u8::from_i8(a.p.rq.input_offset.wrapping_neg() as i8);
    let left = g.pad_left as usize * in_c;
    let right = (d.wp - g.pad_left as usize - in_w) * in_c;
    let padded_rows = (rows - 1) * sh + (g.k_h as usize - 1) * dh + 1;
    for j in 0..padded_rows {
        let dst = buf.add(j * d.row_bytes);
        let iy = (oy0 * sh + j) as isize - g.pad_top as isize;
        if (0..in_h as isize).contains(&iy) {
            let src = a.input.as_ptr().add((b * in_h + iy as usize) * in_w * in_c);
            fill512(dst, pad, left);
            xor_copy512(dst.add(left), src, in_w * in_c);
            fill512(dst.add(left + in_w * in_c), pad, right);
        } else {
            fill512(dst, pad, d.row_bytes);
        }
    }
    let filled = padded_rows * d.row_bytes;
    let reach = d.reach_one + (rows - 1) * sh * d.row_bytes;
    if reach > filled {
        fill512(buf.add(filled), 0, reach - filled);
    }
}

/// The direct convolution with micro-tiles of `MR` pixels × `NR` blocks.
///
/// # Safety
/// AVX-512 VNNI; `d` is `a`'s plan for `MR`; `NR` divides `a.blocks`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn direct512<const MR: usize, const NR: usize>(a: &mut Packed<'_>, d: &Direct, o: &Out512) {
    let g = a.p.geom;
    let (out_h, out_w, in_c) = (g.out_h as usize, g.out_w as usize, g.in_c as usize);
    let (sh, sw) = (g.stride_h as usize, g.stride_w as usize);
    let mut band = Band([const { MaybeUninit::uninit() }; BAND_BYTES + TILE_SLACK]);
    let buf = band.0.as_mut_ptr() as *mut u8;
    for b in 0..g.batches as usize {
        let mut oy0 = 0;
        while oy0 < out_h {
            let rows = d.band_rows.min(out_h - oy0);
            fill_band(a, d, buf, b, oy0, rows);
            let mut nb = 0;
            while nb < a.blocks {
                for r in 0..rows {
                    let m_row = (b * out_h + oy0 + r) * out_w;
                    let mut x0 = 0;
                    while x0 < out_w {
                        // Within the band's reach (`Direct::plan`, `fill_band`): row `r`,
                        // pixels `x0..x0 + MR`.
                        let src = Src {
                            base: buf.add(r * sh * d.row_bytes + x0 * sw * in_c),
                            pixel: sw * in_c,
                            row_k4: d.row_k4,
                            row_stride: g.dilation_h as usize * d.row_bytes,
                        };
                        micro512::<MR, NR>(a, &src, m_row + x0, (out_w - x0).min(MR), nb, o);
                        x0 += MR;
                    }
                }
                nb += NR;
            }
            oy0 += rows;
        }
    }
}

/// The output stage of the AVX-512 micro-kernels.
struct Out512 {
    /// Requantization lane by lane.
    lanes: OutLanes<__m512i>,
    /// The offset (16-bit lanes) and clamp (8-bit lanes) of [`v512::pack64`], when it applies
    /// and a micro-tile's `NR` blocks are all the output channels: its `MR` pixels' outputs are
    /// then contiguous, 64 bytes for every 4 vectors.
    packed: Option<(__m512i, __m512i, __m512i)>,
}

/// Where a micro-tile's activations are: pixel `i`'s kernel row `r` (of `k4 / row_k4`) is the
/// `4 * row_k4` bytes at `base + i * pixel + r * row_stride`.
struct Src {
    base: *const u8,
    pixel: usize,
    row_k4: usize,
    row_stride: usize,
}

/// `MR` pixels × `NR` blocks: `vpdpbusd` of each pixel's 4 activation bytes (broadcast)
/// with 16 channels × 4 weights.
///
/// # Safety
/// AVX-512 VNNI; `src` describes `MR` pixels of `a.k4` steps (whole kernel rows), all
/// readable and initialized; `m + rows` pixels and blocks `nb..nb + NR` exist.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn micro512<const MR: usize, const NR: usize>(
    a: &mut Packed<'_>,
    src: &Src,
    m: usize,
    rows: usize,
    nb: usize,
    o: &Out512,
) {
    let k4 = a.k4;
    let out_c = a.p.geom.out_c as usize;
    let mut rq = [(
        v512::rq(_mm512_setzero_si512(), _mm512_setzero_si512()),
        _mm512_setzero_si512(),
        0u16,
    ); NR];
    for (n, r) in rq.iter_mut().enumerate() {
        *r = block_rq512(a, nb + n);
    }
    let mut acc = [[_mm512_setzero_si512(); NR]; MR];
    for row in acc.iter_mut() {
        for (n, v) in row.iter_mut().enumerate() {
            *v = rq[n].1;
        }
    }
    let wstride = k4 * BLOCK * 4;
    let mut w = a.weights.as_ptr().add(nb * wstride);
    let pixel = src.pixel;
    for r in 0..k4 / src.row_k4 {
        let mut t = src.base.add(r * src.row_stride);
        for _ in 0..src.row_k4 {
            let mut wv = [_mm512_setzero_si512(); NR];
            for (n, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(w.add(n * wstride) as *const _);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_epi32((t.add(i * pixel) as *const i32).read_unaligned());
                for (v, &wn) in row.iter_mut().zip(&wv) {
                    *v = _mm512_dpbusd_epi32(*v, x, wn);
                }
            }
            w = w.add(BLOCK * 4);
            t = t.add(4);
        }
    }
    // Hand the accumulators over through memory, once: the output loop below indexes them
    // at run time, which would otherwise make LLVM keep `acc` in memory inside the loop above
    // (a volatile store cannot be merged back into it).
    let mut fin = [[_mm512_setzero_si512(); NR]; MR];
    for (f, row) in fin.iter_mut().zip(&acc) {
        for (fv, &v) in f.iter_mut().zip(row) {
            core::ptr::write_volatile(fv, v);
        }
    }
    let out = a.output.as_mut_ptr();
    if let Some((offset, lo, hi)) = o.packed {
        // Vector `v` is pixel `v / NR`, block `v % NR`: 16 contiguous bytes at `16 * v`.
        let valid = rows * NR;
        let mut v = 0;
        while v < valid {
            let mut q = [_mm512_setzero_si512(); 4];
            for (j, qj) in q.iter_mut().enumerate() {
                let (i, n) = ((v + j) / NR, (v + j) % NR);
                *qj = v512::mbqm(fin[i][n], &rq[n].0);
            }
            let bytes = v512::pack64(q, offset, lo, hi);
            // SAFETY: the output of pixels m..m + rows, all channels, is contiguous; the mask
            // covers the valid vectors among these four.
            let dst = out.add(m * out_c + 16 * v);
            if valid - v >= 4 {
                _mm512_storeu_si512(dst as *mut _, bytes);
            } else {
                _mm512_mask_storeu_epi8(dst, mask64(16 * (valid - v)), bytes);
            }
            v += 4;
        }
        return;
    }
    for (i, row) in fin.iter().enumerate().take(rows) {
        for (n, &v) in row.iter().enumerate() {
            let q = v512::requant(v, &rq[n].0, &o.lanes);
            // SAFETY: the mask covers only channels below out_c of pixel m + i.
            v512::store_bytes(out.add((m + i) * out_c + (nb + n) * BLOCK), rq[n].2, q);
        }
    }
}

// ---------------------------------------------------------------------------------------
// AVX2: activations widened to 16 bits in the tile; `pmaddwd` with sign-extended weights
// gives per channel two partial sums (indices 0-1 and 2-3), added pairwise at the end.

#[target_feature(enable = "avx2,fma")]
unsafe fn conv_avx2(a: &mut Packed<'_>) {
    let o = v256::out(a.p.rq.output_offset, true, a.p.rq.act_min, a.p.rq.act_max);
    if a.p.geom.out_c <= 8 {
        // Few output channels (a first layer): the block's upper half is zero weights, so
        // skip it, and use the registers it frees for more pixels per step.
        drive::<u16>(a, 4, 1, |a, tile, m, rows, nb| {
            // SAFETY: as in `conv512`; `out_c <= 8` is all `J = 2` computes.
            unsafe { micro256::<4, 2>(a, tile, m, rows, nb, &o) }
        });
    } else {
        drive::<u16>(a, 2, 1, |a, tile, m, rows, nb| {
            // SAFETY: as in `conv512`.
            unsafe { micro256::<2, 4>(a, tile, m, rows, nb, &o) }
        });
    }
}

/// `MR` pixels × the first `4 * J` channels of one block of 16 (`J` is 4, or 2 when the
/// layer has at most 8 output channels).
///
/// # Safety
/// AVX2; as [`micro512`] with `u16` tile rows; `J == 4`, or `J == 2` and `out_c <= 8`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn micro256<const MR: usize, const J: usize>(
    a: &mut Packed<'_>,
    tile: *const u16,
    m: usize,
    rows: usize,
    nb: usize,
    o: &OutLanes<__m256i>,
) {
    let k4 = a.k4;
    let kp = 4 * k4;
    let out_c = a.p.geom.out_c as usize;
    let mut acc = [[_mm256_setzero_si256(); J]; MR];
    let mut w = a.weights.as_ptr().add(nb * k4 * BLOCK * 4);
    let mut t = tile;
    for _ in 0..k4 {
        let mut wv = [_mm256_setzero_si256(); J];
        for (j, v) in wv.iter_mut().enumerate() {
            *v = _mm256_cvtepi8_epi16(_mm_loadu_si128(w.add(16 * j) as *const _));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_epi64x((t.add(i * kp) as *const i64).read_unaligned());
            for (v, &wj) in row.iter_mut().zip(&wv) {
                *v = _mm256_add_epi32(*v, _mm256_madd_epi16(x, wj));
            }
        }
        w = w.add(BLOCK * 4);
        t = t.add(4);
    }
    let c0 = nb * BLOCK;
    let valid = (out_c - c0).min(BLOCK);
    let mut mult = [0i32; BLOCK];
    let mut shift = [0i32; BLOCK];
    mult[..valid].copy_from_slice(&a.multiplier[c0..c0 + valid]);
    shift[..valid].copy_from_slice(&a.shift[c0..c0 + valid]);
    let rq = [
        v256::rq(
            _mm256_loadu_si256(mult.as_ptr() as *const _),
            _mm256_loadu_si256(shift.as_ptr() as *const _),
        ),
        v256::rq(
            _mm256_loadu_si256(mult.as_ptr().add(8) as *const _),
            _mm256_loadu_si256(shift.as_ptr().add(8) as *const _),
        ),
    ];
    let bias = a.bias.as_ptr().add(c0);
    // A constant trip count with an early exit (not `take(rows)`): the accumulators must
    // stay indexable by constants, or they are kept in memory throughout the loop above.
    for (i, row) in acc.iter().enumerate() {
        if i >= rows {
            break;
        }
        let mut bytes = [0i64; 2];
        for h in 0..J / 2 {
            // Lanes: [c0, c0, c1, c1 | c2, c2, c3, c3] and the same for c4..c7: the pairwise
            // sums come out as [c0, c1, c4, c5 | c2, c3, c6, c7].
            let s = _mm256_hadd_epi32(row[2 * h], row[2 * h + 1]);
            let s = _mm256_permute4x64_epi64(s, 0b11_01_10_00);
            let s = _mm256_add_epi32(s, _mm256_loadu_si256(bias.add(8 * h) as *const _));
            bytes[h] = v256::narrow(v256::requant(s, &rq[h], o));
        }
        let src: [i8; 16] = core::mem::transmute(bytes);
        let dst = &mut a.output[(m + i) * out_c + c0..][..valid];
        // Whole blocks and halves as fixed-size copies (plain stores, not a `memmove` call).
        match valid {
            16 => dst.copy_from_slice(&src),
            8 => dst.copy_from_slice(&src[..8]),
            _ => dst.copy_from_slice(&src[..valid]),
        }
    }
}

// ---------------------------------------------------------------------------------------
// SSE4.1: as AVX2 at 128 bits, half a block (8 channels) at a time; the requantization is
// the scalar reference function (SSE4.1 has no per-lane shifts).

#[target_feature(enable = "sse4.1")]
unsafe fn conv_sse41(a: &mut Packed<'_>) {
    drive::<u16>(a, 2, 1, |a, tile, m, rows, nb| {
        // SAFETY: as in `conv512`.
        unsafe {
            micro128::<2>(a, tile, m, rows, nb, 0);
            micro128::<2>(a, tile, m, rows, nb, 1);
        }
    });
}

/// `MR` pixels × channels `8 * half..8 * half + 8` of block `nb`.
///
/// # Safety
/// SSE4.1; as [`micro256`].
#[target_feature(enable = "sse4.1")]
#[inline]
unsafe fn micro128<const MR: usize>(
    a: &mut Packed<'_>,
    tile: *const u16,
    m: usize,
    rows: usize,
    nb: usize,
    half: usize,
) {
    let k4 = a.k4;
    let kp = 4 * k4;
    let out_c = a.p.geom.out_c as usize;
    let c0 = nb * BLOCK + half * 8;
    if c0 >= out_c {
        return;
    }
    let mut acc = [[_mm_setzero_si128(); 4]; MR];
    let mut w = a.weights.as_ptr().add(nb * k4 * BLOCK * 4 + half * 32);
    let mut t = tile;
    for _ in 0..k4 {
        let mut wv = [_mm_setzero_si128(); 4];
        for (j, v) in wv.iter_mut().enumerate() {
            *v = _mm_cvtepi8_epi16(_mm_loadl_epi64(w.add(8 * j) as *const _));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let x = _mm_set1_epi64x((t.add(i * kp) as *const i64).read_unaligned());
            for (v, &wj) in row.iter_mut().zip(&wv) {
                *v = _mm_add_epi32(*v, _mm_madd_epi16(x, wj));
            }
        }
        // `wrapping_add`: for `half == 1` the pointer ends 32 bytes past the last block, and
        // `add` beyond one-past-the-end is undefined even if never read (found by Miri); every
        // read above stays inside the weights.
        w = w.wrapping_add(BLOCK * 4);
        t = t.add(4);
    }
    let valid = (out_c - c0).min(8);
    let rq = &a.p.rq;
    // A constant trip count with an early exit (not `take(rows)`): the accumulators must
    // stay indexable by constants, or they are kept in memory throughout the loop above.
    for (i, row) in acc.iter().enumerate() {
        if i >= rows {
            break;
        }
        let mut sums = [0i32; 8];
        _mm_storeu_si128(sums.as_mut_ptr() as *mut _, _mm_hadd_epi32(row[0], row[1]));
        _mm_storeu_si128(
            sums.as_mut_ptr().add(4) as *mut _,
            _mm_hadd_epi32(row[2], row[3]),
        );
        let dst = &mut a.output[(m + i) * out_c + c0..][..valid];
        for (j, d) in dst.iter_mut().enumerate() {
            let c = c0 + j;
            let acc = sums[j].wrapping_add(a.bias[c]);
            let v = multiply_by_quantized_multiplier(acc, a.multiplier[c], a.shift[c])
                .saturating_add(rq.output_offset);
            *d = v.max(rq.act_min).min(rq.act_max) as i8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::pack::{pack_conv2d_i8, packed_conv_lens};
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use ferrite_core::ops::{ConvGeometry, Requant};
    use ferrite_core::{ConstRef, TensorId};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    extern crate std;
    use std::vec::Vec;

    #[derive(Debug, Clone)]
    struct Case {
        p: Conv2dI8,
        input: Vec<i8>,
        weights: Vec<i8>,
        bias: Vec<i32>,
        multiplier: Vec<i32>,
        shift: Vec<i32>,
    }

    fn case() -> impl Strategy<Value = Case> {
        case_with(1..9, 1..9, 1..40, 1..40)
    }

    /// Rows long enough for the direct path's micro-tiles (up to 16 pixels), and channel
    /// counts that give 1, 2, 3 and 4 blocks.
    fn wide_case() -> impl Strategy<Value = Case> {
        case_with(1..6, 6..44, 1..24, 1..70)
    }

    fn case_with(
        in_h: core::ops::Range<u32>,
        in_w: core::ops::Range<u32>,
        in_c: core::ops::Range<u32>,
        out_c: core::ops::Range<u32>,
    ) -> impl Strategy<Value = Case> {
        (
            (1u32..3, in_h, in_w, in_c),
            (out_c, 1u32..4, 1u32..4),
            (1u32..3, 1u32..3, 1u32..3, 1u32..3, 0u32..3, 0u32..3),
            (-128i32..128, -128i32..128, -128i32..0, 0i32..128),
            any::<u64>(),
        )
            .prop_map(
                |(
                    (batches, in_h, in_w, in_c),
                    (out_c, k_h, k_w),
                    (sh, sw, dh, dw, pt, pl),
                    (zp, out_off, amin, amax),
                    seed,
                )| {
                    let out_h = ((in_h + 2 * pt).saturating_sub(dh * (k_h - 1) + 1)) / sh + 1;
                    let out_w = ((in_w + 2 * pl).saturating_sub(dw * (k_w - 1) + 1)) / sw + 1;
                    let geom = ConvGeometry {
                        batches,
                        in_h,
                        in_w,
                        in_c,
                        out_h,
                        out_w,
                        out_c,
                        k_h,
                        k_w,
                        stride_h: sh,
                        stride_w: sw,
                        dilation_h: dh,
                        dilation_w: dw,
                        pad_top: pt,
                        pad_left: pl,
                    };
                    let mut rng = Rng(seed | 1);
                    let n_in = (batches * in_h * in_w * in_c) as usize;
                    let n_w = (out_c * k_h * k_w * in_c) as usize;
                    let input = (0..n_in).map(|_| rng.next() as i8).collect();
                    let weights = (0..n_w).map(|_| rng.next() as i8).collect();
                    let bias = (0..out_c).map(|_| (rng.next() as i32) >> 12).collect();
                    let multiplier = (0..out_c)
                        .map(|_| (1 << 30) + ((rng.next() as u32) >> 2) as i32)
                        .collect();
                    let shift = (0..out_c).map(|_| (rng.next() % 16) as i32 - 12).collect();
                    Case {
                        p: Conv2dI8 {
                            input: TensorId(0),
                            output: TensorId(1),
                            geom,
                            groups: 1,
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
                        },
                        input,
                        weights,
                        bias,
                        multiplier,
                        shift,
                    }
                },
            )
    }

    fn run(c: &Case, isa: Isa, with_bias: bool) -> (Vec<i8>, Vec<i8>) {
        let g = &c.p.geom;
        let bias: &[i32] = if with_bias { &c.bias } else { &[] };
        let n_out = (g.batches * g.out_h * g.out_w * g.out_c) as usize;
        let mut want = std::vec![0i8; n_out];
        conv2d_i8(
            &c.p,
            &c.input,
            &c.weights,
            bias,
            &c.multiplier,
            &c.shift,
            &mut want,
        );
        let (wl, bl) = packed_conv_lens(g).unwrap();
        let mut packed = std::vec![0i8; wl];
        let mut folded = std::vec![0i32; bl];
        assert!(pack_conv2d_i8(
            &c.p,
            &c.weights,
            bias,
            &mut packed,
            &mut folded
        ));
        let (blocks, k4) = packed_conv_dims(g).unwrap();
        let mut got = std::vec![0i8; n_out];
        let mut a = Packed {
            p: &c.p,
            input: &c.input,
            weights: &packed,
            bias: &folded,
            multiplier: &c.multiplier,
            shift: &c.shift,
            output: &mut got,
            blocks,
            k4,
        };
        // SAFETY: `isas()` lists only instruction sets this CPU has.
        unsafe {
            match isa {
                Isa::Avx512Vnni => conv_avx512(&mut a),
                Isa::Avx2 => conv_avx2(&mut a),
                Isa::Sse41 => conv_sse41(&mut a),
                _ => unreachable!(),
            }
        }
        (got, want)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn packed_conv_is_bit_exact(c in case(), with_bias in any::<bool>()) {
            for isa in isas() {
                let (got, want) = run(&c, isa, with_bias);
                prop_assert_eq!(got, want, "{}", isa);
            }
        }

        /// First layers: few input channels (kernel rows of at most 16 taps, gathered 16 at
        /// a time) and at most 8 output channels (the AVX2 half-block kernel).
        #[test]
        fn few_channel_packed_conv_is_bit_exact(
            c in case_with(1..12, 1..12, 1..6, 1..9),
            with_bias in any::<bool>(),
        ) {
            for isa in isas() {
                let (got, want) = run(&c, isa, with_bias);
                prop_assert_eq!(got, want, "{}", isa);
            }
        }

        #[test]
        fn wide_packed_conv_is_bit_exact(c in wide_case(), with_bias in any::<bool>()) {
            for isa in isas() {
                let (got, want) = run(&c, isa, with_bias);
                prop_assert_eq!(got, want, "{}", isa);
            }
        }
    }

    /// The AVX-512 register blocking for a geometry (as `conv_avx512` picks it).
    fn mr_for(g: &ConvGeometry) -> usize {
        match packed_conv_dims(g).unwrap().0 {
            b if b % 4 == 0 => 4,
            b if b % 2 == 0 => 8,
            _ => 16,
        }
    }

    /// Packs `c` and describes it as the kernels see it.
    fn packed_of(c: &Case, out: &mut [i8], f: impl FnOnce(&Packed<'_>)) {
        let g = &c.p.geom;
        let (wl, bl) = packed_conv_lens(g).unwrap();
        let mut packed = std::vec![0i8; wl];
        let mut folded = std::vec![0i32; bl];
        assert!(pack_conv2d_i8(
            &c.p,
            &c.weights,
            &c.bias,
            &mut packed,
            &mut folded
        ));
        let (blocks, k4) = packed_conv_dims(g).unwrap();
        f(&Packed {
            p: &c.p,
            input: &c.input,
            weights: &packed,
            bias: &folded,
            multiplier: &c.multiplier,
            shift: &c.shift,
            output: out,
            blocks,
            k4,
        });
    }

    #[test]
    fn wide_cases_take_the_direct_path() {
        // Most wide cases run direct, with every register blocking; the narrow ones do not.
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut direct = std::collections::BTreeMap::new();
        for _ in 0..300 {
            let c = wide_case().new_tree(&mut runner).unwrap().current();
            let mr = mr_for(&c.p.geom);
            let mut out = std::vec![0i8; 0];
            packed_of(&c, &mut out, |a| {
                *direct.entry(mr).or_insert(0) += Direct::plan(a, mr).is_some() as u32;
            });
        }
        for mr in [4, 8, 16] {
            assert!(direct.get(&mr).copied().unwrap_or(0) >= 10, "{direct:?}");
        }
    }

    #[test]
    fn resnet_and_vww_layers_are_bit_exact() {
        // The shapes of the benchmark models' convolutions, on random values.
        let mut rng = Rng(5);
        // (in_hw, in_c, out_c, k, stride, pad)
        for (hw, in_c, out_c, k, s, pad) in [
            (32, 3, 16, 3, 1, 1),
            (32, 16, 16, 3, 1, 1),
            (32, 16, 32, 3, 2, 1),
            (32, 16, 32, 1, 2, 0),
            (16, 32, 64, 3, 2, 1),
            (8, 64, 64, 3, 1, 1),
            (96, 3, 8, 3, 2, 0),
            (97, 3, 8, 3, 2, 1),
        ] {
            let mut c = case()
                .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
                .unwrap()
                .current();
            let out_hw = (hw + 2 * pad - k) / s + 1;
            c.p.geom = ConvGeometry {
                batches: 1,
                in_h: hw,
                in_w: hw,
                in_c,
                out_h: out_hw,
                out_w: out_hw,
                out_c,
                k_h: k,
                k_w: k,
                stride_h: s,
                stride_w: s,
                dilation_h: 1,
                dilation_w: 1,
                pad_top: pad,
                pad_left: pad,
            };
            let n = |x: u32| x as usize;
            c.input = (0..n(hw * hw * in_c)).map(|_| rng.next() as i8).collect();
            c.weights = (0..n(out_c * k * k * in_c))
                .map(|_| rng.next() as i8)
                .collect();
            c.bias = (0..out_c).map(|_| (rng.next() as i32) >> 14).collect();
            c.multiplier = (0..out_c)
                .map(|_| (1 << 30) + ((rng.next() as u32) >> 2) as i32)
                .collect();
            c.shift = (0..out_c)
                .map(|_| -((rng.next() % 10) as i32) - 6)
                .collect();
            for isa in isas() {
                let (got, want) = run(&c, isa, true);
                assert_eq!(got, want, "{isa} {hw}x{hw}x{in_c} -> {out_c}, {k}x{k} s{s}");
            }
        }
    }

    #[test]
    fn extreme_multipliers_and_shifts_match() {
        let mut rng = Rng(77);
        for shift in [-31, -20, -1, 0, 1, 7, 31] {
            for mult in [i32::MIN, i32::MAX, 0, 1 << 30, -5] {
                let mut c = case()
                    .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
                    .unwrap()
                    .current();
                let out_c = c.p.geom.out_c as usize;
                c.multiplier = std::vec![mult; out_c];
                c.shift = std::vec![shift; out_c];
                c.input.iter_mut().for_each(|x| *x = rng.next() as i8);
                for isa in isas() {
                    let (got, want) = run(&c, isa, true);
                    assert_eq!(got, want, "{isa} mult {mult} shift {shift}");
                }
            }
        }
    }
}
