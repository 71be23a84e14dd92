//! Float CONV_2D ([`Op::Conv2dF32Packed`]) and DEPTHWISE_CONV_2D (depth multiplier 1) on
//! AVX-512 and AVX2, generic over the vector width ([`Vf`]).
//!
//! Each output is the reference's sum computed as the reference computes it — taps in
//! `(ky, kx, ic)` order starting from zero, each product rounded and then added (no fused
//! multiply-add), then the bias, then the clamp — so the results are the reference's bit for
//! bit (up to the sign of a zero), across the lanes instead of one channel at a time.
//!
//! Both kernels read the input from a band of padded rows on the stack (zeros in the
//! padding): padding taps add `w * 0`, which changes no sum for finite weights (the reference
//! skips them; `inf * 0` would not be zero), so layers with a non-finite weight run the
//! reference. Pointwise convolutions read the input in place.

use crate::arch::pack::{packed_conv_f32_len, BLOCK};
use crate::ops::conv::{check_conv_shapes, conv2d_f32};
use crate::ops::depthwise::{check_depthwise_shapes, depthwise_conv2d_f32};
use crate::util::{check_conv_activations, expect_op};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Conv2dF32, ConvGeometry, DepthwiseConv2dF32, Op};
use ferrite_core::{Ctx, Result};

/// Lanes of `f32` and the operations the kernels need, lane by lane.
///
/// # Safety
/// The methods use the instruction set of the implementing type (AVX-512 F for `__m512`, AVX2
/// and FMA for `__m256`): callers must run on such a CPU, and pointers must be valid for the
/// lanes read or written.
pub(crate) unsafe trait Vf: Copy {
    /// Lanes per vector.
    const LANES: usize;
    unsafe fn zero() -> Self;
    /// `*p` in every lane.
    unsafe fn splat(p: *const f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// Lanes below `n` (at most `LANES`) from `p`, zero above (never read).
    unsafe fn load_n(p: *const f32, n: usize) -> Self;
    /// `c + a * b`, the product rounded, then the sum (as the reference computes it; no fused
    /// multiply-add).
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    /// `clamp_f32`: `lo` where `x < lo`, then `hi` where `x > hi` (a NaN stays).
    unsafe fn clamp(x: Self, lo: Self, hi: Self) -> Self;
    /// Lanes below `n` (at most `LANES`) to `p` (the others are not written).
    unsafe fn store_n(p: *mut f32, v: Self, n: usize);
}

/// The low `n` bits set (`n <= 16`).
#[inline(always)]
fn mask16(n: usize) -> u16 {
    if n >= 16 {
        !0
    } else {
        (1u16 << n) - 1
    }
}

// SAFETY: every method uses AVX-512 F only (the trait's contract passes the requirement on).
unsafe impl Vf for __m512 {
    const LANES: usize = 16;
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn zero() -> Self {
        _mm512_setzero_ps()
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn splat(p: *const f32) -> Self {
        _mm512_set1_ps(*p)
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self {
        _mm512_loadu_ps(p)
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load_n(p: *const f32, n: usize) -> Self {
        _mm512_maskz_loadu_ps(mask16(n), p)
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        _mm512_add_ps(c, _mm512_mul_ps(a, b))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn add(a: Self, b: Self) -> Self {
        _mm512_add_ps(a, b)
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn clamp(x: Self, lo: Self, hi: Self) -> Self {
        // `vmaxps a, b` is `a > b ? a : b` (b when either is NaN): `lo > x ? lo : x`.
        _mm512_min_ps(hi, _mm512_max_ps(lo, x))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn store_n(p: *mut f32, v: Self, n: usize) {
        if n >= 16 {
            _mm512_storeu_ps(p, v)
        } else {
            _mm512_mask_storeu_ps(p, mask16(n), v)
        }
    }
}

/// The lanes below `n` of 8 as a `vmaskmov` mask.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn mask8(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n.min(8) as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

// SAFETY: every method uses AVX (with AVX2 and FMA) only.
unsafe impl Vf for __m256 {
    const LANES: usize = 8;
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn zero() -> Self {
        _mm256_setzero_ps()
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn splat(p: *const f32) -> Self {
        _mm256_set1_ps(*p)
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self {
        _mm256_loadu_ps(p)
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load_n(p: *const f32, n: usize) -> Self {
        if n >= 8 {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, mask8(n))
        }
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        _mm256_add_ps(c, _mm256_mul_ps(a, b))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn add(a: Self, b: Self) -> Self {
        _mm256_add_ps(a, b)
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn clamp(x: Self, lo: Self, hi: Self) -> Self {
        // As for AVX-512: `vmaxps a, b` is `a > b ? a : b`.
        _mm256_min_ps(hi, _mm256_max_ps(lo, x))
    }
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store_n(p: *mut f32, v: Self, n: usize) {
        if n >= 8 {
            _mm256_storeu_ps(p, v)
        } else {
            _mm256_maskstore_ps(p, mask8(n), v)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The padded input band.

/// Floats of the padded input band.
const BAND_FLOATS: usize = 8 * 1024;

/// The padded input band, on the stack: every float a micro-tile reads lies within the
/// planned reach ([`Band::plan`]), at most [`BAND_FLOATS`], and [`Band::fill`] writes it all.
#[repr(C, align(64))]
struct BandBuf([MaybeUninit<f32>; BAND_FLOATS]);

/// How a layer's input is laid out in bands of padded rows.
struct Band {
    /// Pixels of a padded row.
    wp: usize,
    /// Floats of a padded row (`wp * in_c`).
    row: usize,
    /// Output rows per band.
    band_rows: usize,
    /// Floats from a band's first row that the micro-tiles of one output row read: their
    /// idle pixels (past `out_w`) read past the row.
    reach_one: usize,
}

impl Band {
    /// The bands for micro-tiles of `mr` pixels along output rows, each pixel reading
    /// `span` floats from its first tap in each kernel row (`((k_w - 1) * dilation_w + 1) *
    /// in_c`), or `None` when rows are much shorter than a tile or do not fit.
    fn plan(g: &ConvGeometry, mr: usize, span: usize) -> Option<Band> {
        let (in_w, in_c) = (g.in_w as usize, g.in_c as usize);
        let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
        let (sh, sw) = (g.stride_h as usize, g.stride_w as usize);
        let tiles = out_w.div_ceil(mr);
        // At least half the computed pixels are real ones.
        if out_h == 0 || out_w == 0 || in_c == 0 || out_w * 2 < tiles * mr {
            return None;
        }
        let cols = (g.k_w as usize)
            .checked_sub(1)?
            .checked_mul(g.dilation_w as usize)?
            + 1;
        let wp = (g.pad_left as usize + in_w).max((out_w - 1).checked_mul(sw)? + cols);
        let row = wp.checked_mul(in_c)?;
        let below = (g.k_h as usize)
            .checked_sub(1)?
            .checked_mul(g.dilation_h as usize)?;
        let reach_one = below
            .checked_mul(row)?
            .checked_add((tiles * mr - 1).checked_mul(sw)?.checked_mul(in_c)?)?
            .checked_add(span)?
            .max((below + 1).checked_mul(row)?);
        if reach_one > BAND_FLOATS {
            return None;
        }
        let band_rows = (1 + (BAND_FLOATS - reach_one) / sh.checked_mul(row)?).min(out_h);
        Some(Band {
            wp,
            row,
            band_rows,
            reach_one,
        })
    }

    /// Writes the padded rows that output rows `oy0..oy0 + rows` of batch `b` read into
    /// `buf`, then zeros up to the farthest float the micro-tiles read.
    ///
    /// # Safety
    /// `buf` holds [`BAND_FLOATS`]; `self` is the plan of `g`, `input` has `g`'s input size,
    /// `b < batches` and `oy0 + rows <= out_h`.
    unsafe fn fill(
        &self,
        g: &ConvGeometry,
        input: &[f32],
        buf: *mut f32,
        b: usize,
        oy0: usize,
        rows: usize,
    ) {
        let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
        let (sh, dh) = (g.stride_h as usize, g.dilation_h as usize);
        let left = g.pad_left as usize * in_c;
        let right = (self.wp - g.pad_left as usize - in_w) * in_c;
        let padded_rows = (rows - 1) * sh + (g.k_h as usize - 1) * dh + 1;
        for j in 0..padded_rows {
            let dst = buf.add(j * self.row);
            let iy = (oy0 * sh + j) as isize - g.pad_top as isize;
            if (0..in_h as isize).contains(&iy) {
                let src = input.as_ptr().add((b * in_h + iy as usize) * in_w * in_c);
                dst.write_bytes(0, left);
                core::ptr::copy_nonoverlapping(src, dst.add(left), in_w * in_c);
                dst.add(left + in_w * in_c).write_bytes(0, right);
            } else {
                dst.write_bytes(0, self.row);
            }
        }
        let filled = padded_rows * self.row;
        let reach = self.reach_one + (rows - 1) * sh * self.row;
        if reach > filled {
            buf.add(filled).write_bytes(0, reach - filled);
        }
    }
}

/// The clamp of a layer, in every lane.
#[inline(always)]
unsafe fn act<V: Vf>(lo: f32, hi: f32) -> (V, V) {
    (V::splat(&lo), V::splat(&hi))
}

// ---------------------------------------------------------------------------------------
// CONV_2D

/// A checked packed float convolution.
pub(crate) struct PackedF32<'a> {
    pub p: &'a Conv2dF32,
    pub input: &'a [f32],
    /// `[blocks][k][16]`.
    pub weights: &'a [f32],
    /// Empty or one per output channel.
    pub bias: &'a [f32],
    pub output: &'a mut [f32],
    /// 16-channel blocks.
    pub blocks: usize,
    /// `k_h * k_w * in_c`.
    pub k: usize,
}

/// Kernel entry for [`Op::Conv2dF32Packed`] on AVX-512.
pub(crate) fn run_conv2d_f32_packed_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run_conv(ctx, op, |a| unsafe { conv_avx512(a) })
}

/// Kernel entry for [`Op::Conv2dF32Packed`] on AVX2.
pub(crate) fn run_conv2d_f32_packed_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run_conv(ctx, op, |a| unsafe { conv_avx2(a) })
}

/// Checks the layer like the portable entry, then runs `fast` on it (which returns `false`
/// when the layer does not suit it), or the reference.
fn run_conv(
    ctx: &mut Ctx<'_>,
    op: &Op,
    fast: impl FnOnce(&mut PackedF32<'_>) -> bool,
) -> Result<()> {
    let pk = expect_op!(ctx, op, Conv2dF32Packed);
    let p = &pk.conv;
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let packed = ctx.consts(pk.packed_weights)?;
    let layer = ctx.layer;
    check_conv_shapes(layer, g, p.groups, weights.len(), bias.len())?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let mut a = PackedF32 {
        p,
        input,
        weights: packed,
        bias,
        output,
        blocks: (g.out_c as usize).div_ceil(BLOCK),
        // No overflow when the packed length matches: it is this times 16 * blocks.
        k: g.k_h as usize * g.k_w as usize * g.in_c as usize,
    };
    if !(p.groups == 1 && packed_conv_f32_len(g) == Some(packed.len()) && fast(&mut a)) {
        conv2d_f32(p, a.input, weights, a.bias, a.output);
    }
    Ok(())
}

/// Runs the layer, or returns `false` (writing nothing) when it does not suit the tiles.
#[target_feature(enable = "avx512f")]
unsafe fn conv_avx512(a: &mut PackedF32<'_>) -> bool {
    // At most 16 accumulators; fewer pixels per tile for short rows.
    if a.blocks.is_multiple_of(4) {
        conv::<__m512, 4, 4>(a) || conv::<__m512, 1, 4>(a)
    } else if a.blocks.is_multiple_of(2) {
        conv::<__m512, 8, 2>(a) || conv::<__m512, 2, 2>(a)
    } else {
        conv::<__m512, 16, 1>(a) || conv::<__m512, 4, 1>(a) || conv::<__m512, 1, 1>(a)
    }
}

/// As [`conv_avx512`].
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_avx2(a: &mut PackedF32<'_>) -> bool {
    // One block (two vectors) by four pixels: 8 of the 16 registers accumulate.
    conv::<__m256, 4, 2>(a) || conv::<__m256, 1, 2>(a)
}

/// Where a micro-tile's activations are: pixel `i`'s kernel row `r` (of `kernel_rows`) is
/// the `run` floats at `base + i * pixel + r * row_stride`.
struct Src {
    base: *const f32,
    pixel: usize,
    kernel_rows: usize,
    run: usize,
    row_stride: usize,
}

/// The convolution in micro-tiles of `MR` pixels × `NV` vectors of output channels (whole
/// 16-channel blocks: `NV * V::LANES` is a multiple of 16 dividing `16 * blocks`). Returns
/// `false`, writing nothing, when the layer does not suit the tiles (rows much shorter than a
/// tile, a column dilation, rows too long for the band).
///
/// # Safety
/// `V`'s instruction set.
#[inline(always)]
unsafe fn conv<V: Vf, const MR: usize, const NV: usize>(a: &mut PackedF32<'_>) -> bool {
    let g = a.p.geom;
    let (in_c, out_h, out_w) = (g.in_c as usize, g.out_h as usize, g.out_w as usize);
    let (sh, sw) = (g.stride_h as usize, g.stride_w as usize);
    let channels = NV * V::LANES;
    let pixels = g.batches as usize * out_h * out_w;
    if pixels == 0 {
        return true;
    }
    if g.k_h == 0 || g.k_w == 0 || in_c == 0 {
        return false;
    }
    let pointwise = g.k_h == 1
        && g.k_w == 1
        && sh == 1
        && sw == 1
        && g.pad_top == 0
        && g.pad_left == 0
        && g.in_h == g.out_h
        && g.in_w == g.out_w;
    let mut band = BandBuf([const { MaybeUninit::uninit() }; BAND_FLOATS]);
    let buf = band.0.as_mut_ptr() as *mut f32;
    if pointwise {
        // Output pixel m reads input pixel m: tiles run across rows, in place; the last
        // partial tile reads a zero-padded copy.
        if MR * in_c > BAND_FLOATS {
            return false;
        }
        let mut m = 0;
        while m < pixels {
            let rows = (pixels - m).min(MR);
            let mut base = a.input.as_ptr().add(m * in_c);
            if rows < MR {
                // SAFETY: `rows` whole pixels of the input, then zeros, within the band.
                core::ptr::copy_nonoverlapping(base, buf, rows * in_c);
                buf.add(rows * in_c).write_bytes(0, (MR - rows) * in_c);
                base = buf;
            }
            let src = Src {
                base,
                pixel: in_c,
                kernel_rows: 1,
                run: in_c,
                row_stride: 0,
            };
            let mut c0 = 0;
            while c0 < 16 * a.blocks {
                micro::<V, MR, NV>(a, &src, m, rows, c0);
                c0 += channels;
            }
            m += MR;
        }
        return true;
    }
    let span = ((g.k_w as usize - 1) * g.dilation_w as usize + 1) * in_c;
    let plan = if g.k_w == 1 || g.dilation_w == 1 {
        Band::plan(&g, MR, span)
    } else {
        None
    };
    let Some(d) = plan else {
        return false;
    };
    for b in 0..g.batches as usize {
        let mut oy0 = 0;
        while oy0 < out_h {
            let rows = d.band_rows.min(out_h - oy0);
            d.fill(&g, a.input, buf, b, oy0, rows);
            let mut c0 = 0;
            while c0 < 16 * a.blocks {
                for r in 0..rows {
                    let m_row = (b * out_h + oy0 + r) * out_w;
                    let mut x0 = 0;
                    while x0 < out_w {
                        // Within the band's reach (`Band::plan`, `Band::fill`).
                        let src = Src {
                            base: buf.add(r * sh * d.row + x0 * sw * in_c),
                            pixel: sw * in_c,
                            kernel_rows: g.k_h as usize,
                            run: g.k_w as usize * in_c,
                            row_stride: g.dilation_h as usize * d.row,
                        };
                        micro::<V, MR, NV>(a, &src, m_row + x0, (out_w - x0).min(MR), c0);
                        x0 += MR;
                    }
                }
                c0 += channels;
            }
            oy0 += rows;
        }
    }
    true
}

/// `MR` pixels × `NV` vectors of channels `c0..`: the reference's sums, plus the bias,
/// clamped.
///
/// # Safety
/// `V`'s instruction set; `src` describes `MR` readable, initialized pixels of
/// `kernel_rows * run == a.k` floats; pixels `m..m + rows` exist; `c0 < 16 * a.blocks`.
#[inline(always)]
unsafe fn micro<V: Vf, const MR: usize, const NV: usize>(
    a: &mut PackedF32<'_>,
    src: &Src,
    m: usize,
    rows: usize,
    c0: usize,
) {
    let k = a.k;
    let out_c = a.p.geom.out_c as usize;
    let mut acc = [[V::zero(); NV]; MR];
    // Vector `v` covers channels `c0 + v * LANES..`: block `(c0 + v * LANES) / 16`, lane
    // offset `(c0 + v * LANES) % 16`.
    let mut w = [a.weights.as_ptr(); NV];
    for (v, wp) in w.iter_mut().enumerate() {
        let c = c0 + v * V::LANES;
        *wp = a.weights.as_ptr().add((c / BLOCK) * k * BLOCK + c % BLOCK);
    }
    let pixel = src.pixel;
    for r in 0..src.kernel_rows {
        let t = src.base.add(r * src.row_stride);
        for j in 0..src.run {
            let mut wv = [V::zero(); NV];
            for (v, wp) in wv.iter_mut().zip(&mut w) {
                *v = V::load(*wp);
                *wp = wp.add(BLOCK);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = V::splat(t.add(i * pixel + j));
                for (s, &wn) in row.iter_mut().zip(&wv) {
                    *s = V::mul_add(wn, x, *s);
                }
            }
        }
    }
    // Hand the sums over through memory, once (see `conv::micro512`).
    let mut fin = [[V::zero(); NV]; MR];
    for (f, row) in fin.iter_mut().zip(&acc) {
        for (fv, &v) in f.iter_mut().zip(row) {
            core::ptr::write_volatile(fv, v);
        }
    }
    let (lo, hi) = act::<V>(a.p.act_min, a.p.act_max);
    let out = a.output.as_mut_ptr();
    for v in 0..NV {
        let c = c0 + v * V::LANES;
        if c >= out_c {
            break;
        }
        let n = (out_c - c).min(V::LANES);
        let bias = if a.bias.is_empty() {
            V::zero()
        } else {
            V::load_n(a.bias.as_ptr().add(c), n)
        };
        for (i, row) in fin.iter().enumerate().take(rows) {
            let y = V::clamp(V::add(row[v], bias), lo, hi);
            V::store_n(out.add((m + i) * out_c + c), y, n);
        }
    }
}

// ---------------------------------------------------------------------------------------
// DEPTHWISE_CONV_2D (depth multiplier 1): channels across the lanes, `MR` pixels of an output
// row at a time; 3x3 windows keep their weights in registers.

/// Kernel entry for [`Op::DepthwiseConv2dF32`] on AVX-512.
pub(crate) fn run_depthwise_conv2d_f32_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run_dw(ctx, op, |d| unsafe { dw_avx512(d) })
}

/// Kernel entry for [`Op::DepthwiseConv2dF32`] on AVX2.
pub(crate) fn run_depthwise_conv2d_f32_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run_dw(ctx, op, |d| unsafe { dw_avx2(d) })
}

/// A checked float depthwise convolution.
pub(crate) struct DwF32<'a> {
    pub p: &'a DepthwiseConv2dF32,
    pub input: &'a [f32],
    /// `[k_h * k_w][c]`.
    pub weights: &'a [f32],
    /// Empty or one per channel.
    pub bias: &'a [f32],
    pub output: &'a mut [f32],
}

/// Checks the layer like the portable entry, then runs `fast` on it (which returns `false`
/// when the layer does not suit it), or the reference.
fn run_dw(ctx: &mut Ctx<'_>, op: &Op, fast: impl FnOnce(&mut DwF32<'_>) -> bool) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseConv2dF32);
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let layer = ctx.layer;
    check_depthwise_shapes(ctx, g, p.depth_multiplier, weights.len(), bias.len())?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let mut d = DwF32 {
        p,
        input,
        weights,
        bias,
        output,
    };
    // Padding taps add `w * 0`: zero only for finite weights.
    if p.depth_multiplier != 1 || weights.iter().any(|w| !w.is_finite()) || !fast(&mut d) {
        depthwise_conv2d_f32(p, d.input, d.weights, d.bias, d.output);
    }
    Ok(())
}

#[target_feature(enable = "avx512f")]
unsafe fn dw_avx512(d: &mut DwF32<'_>) -> bool {
    let square3 = d.p.geom.k_h == 3 && d.p.geom.k_w == 3;
    match (square3, d.p.geom.out_w) {
        (true, 8..) => dw::<__m512, 8, 9>(d),
        (true, 3..) => dw::<__m512, 4, 9>(d),
        (true, _) => dw::<__m512, 1, 9>(d),
        (false, 8..) => dw::<__m512, 8, 0>(d),
        (false, 3..) => dw::<__m512, 4, 0>(d),
        (false, _) => dw::<__m512, 1, 0>(d),
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dw_avx2(d: &mut DwF32<'_>) -> bool {
    let square3 = d.p.geom.k_h == 3 && d.p.geom.k_w == 3;
    match (square3, d.p.geom.out_w) {
        (true, 3..) => dw::<__m256, 4, 9>(d),
        (true, _) => dw::<__m256, 1, 9>(d),
        (false, 3..) => dw::<__m256, 4, 0>(d),
        (false, _) => dw::<__m256, 1, 0>(d),
    }
}

/// The depthwise convolution, `MR` pixels at a time; `TAPS` is the window size (its weights
/// then stay in registers) or 0 for "read it from the geometry". Returns `false`, writing
/// nothing, when the layer's rows do not fit the band.
///
/// # Safety
/// `V`'s instruction set; `d` checked by [`run_dw`], depth multiplier 1.
#[inline(always)]
unsafe fn dw<V: Vf, const MR: usize, const TAPS: usize>(d: &mut DwF32<'_>) -> bool {
    let g = d.p.geom;
    let (c_all, out_h, out_w) = (g.in_c as usize, g.out_h as usize, g.out_w as usize);
    let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
    let (sh, sw, dh, dw) = (
        g.stride_h as usize,
        g.stride_w as usize,
        g.dilation_h as usize,
        g.dilation_w as usize,
    );
    let taps = k_h * k_w;
    if (TAPS != 0 && taps != TAPS) || taps == 0 || c_all == 0 {
        return false;
    }
    if g.batches == 0 || out_h == 0 || out_w == 0 {
        return true;
    }
    let span = ((k_w - 1) * dw + 1) * c_all;
    let Some(band) = Band::plan(&g, MR, span) else {
        return false;
    };
    let mut bb = BandBuf([const { MaybeUninit::uninit() }; BAND_FLOATS]);
    let buf = bb.0.as_mut_ptr() as *mut f32;
    let (lo, hi) = act::<V>(d.p.act_min, d.p.act_max);
    let out = d.output.as_mut_ptr();
    // The offset of tap `t` from a pixel's first tap in the band.
    let mut off = [0usize; 25];
    let tap_off = |t: usize| (t / k_w * dh) * band.row + (t % k_w) * dw * c_all;
    for (t, o) in off.iter_mut().enumerate().take(TAPS) {
        *o = tap_off(t);
    }
    for b in 0..g.batches as usize {
        let mut oy0 = 0;
        while oy0 < out_h {
            let rows = band.band_rows.min(out_h - oy0);
            band.fill(&g, d.input, buf, b, oy0, rows);
            let mut c0 = 0;
            while c0 < c_all {
                let n = (c_all - c0).min(V::LANES);
                // SAFETY (loads below): `n` lanes of channels `c0..` of taps within the band's
                // reach, of weights `t * c_all + c0..`, of the bias; stores: `n` channels of
                // pixels below `out_w` of the output.
                let mut wv = [V::zero(); 9];
                if TAPS != 0 {
                    for (t, v) in wv.iter_mut().enumerate().take(TAPS) {
                        *v = V::load_n(d.weights.as_ptr().add(t * c_all + c0), n);
                    }
                }
                let bias = if d.bias.is_empty() {
                    V::zero()
                } else {
                    V::load_n(d.bias.as_ptr().add(c0), n)
                };
                for r in 0..rows {
                    let row = buf.add(r * sh * band.row + c0);
                    let dst = out.add((b * out_h + oy0 + r) * out_w * c_all + c0);
                    let mut x0 = 0;
                    while x0 < out_w {
                        let px = row.add(x0 * sw * c_all);
                        let mut acc = [V::zero(); MR];
                        if TAPS != 0 {
                            for (t, &w) in wv.iter().enumerate().take(TAPS) {
                                for (i, s) in acc.iter_mut().enumerate() {
                                    let x = V::load_n(px.add(off[t] + i * sw * c_all), n);
                                    *s = V::mul_add(x, w, *s);
                                }
                            }
                        } else {
                            for t in 0..taps {
                                let w = V::load_n(d.weights.as_ptr().add(t * c_all + c0), n);
                                let o = tap_off(t);
                                for (i, s) in acc.iter_mut().enumerate() {
                                    let x = V::load_n(px.add(o + i * sw * c_all), n);
                                    *s = V::mul_add(x, w, *s);
                                }
                            }
                        }
                        // Through memory, once (see `micro`).
                        let mut fin = [V::zero(); MR];
                        for (f, &v) in fin.iter_mut().zip(&acc) {
                            core::ptr::write_volatile(f, v);
                        }
                        for (i, &v) in fin.iter().enumerate().take(out_w - x0) {
                            let y = V::clamp(V::add(v, bias), lo, hi);
                            V::store_n(dst.add((x0 + i) * c_all), y, n);
                        }
                        x0 += MR;
                    }
                }
                c0 += V::LANES;
            }
            oy0 += rows;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::pack::pack_conv2d_f32;
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use ferrite_core::{ConstRef, TensorId};
    use proptest::prelude::*;
    extern crate std;
    use std::vec::Vec;

    fn geom(
        (batches, in_h, in_w, in_c): (u32, u32, u32, u32),
        (out_c, k_h, k_w): (u32, u32, u32),
        (sh, sw, dh, dw, pt, pl): (u32, u32, u32, u32, u32, u32),
    ) -> ConvGeometry {
        ConvGeometry {
            batches,
            in_h,
            in_w,
            in_c,
            out_h: ((in_h + 2 * pt).saturating_sub(dh * (k_h - 1) + 1)) / sh + 1,
            out_w: ((in_w + 2 * pl).saturating_sub(dw * (k_w - 1) + 1)) / sw + 1,
            out_c,
            k_h,
            k_w,
            stride_h: sh,
            stride_w: sw,
            dilation_h: dh,
            dilation_w: dw,
            pad_top: pt,
            pad_left: pl,
        }
    }

    fn values(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| ((rng.next() % 2001) as f32 - 1000.0) / 250.0)
            .collect()
    }

    /// The clamp of a case: none, ReLU, or ReLU6.
    fn act(kind: u8) -> (f32, f32) {
        match kind % 3 {
            0 => (f32::NEG_INFINITY, f32::INFINITY),
            1 => (0.0, f32::INFINITY),
            _ => (0.0, 6.0),
        }
    }

    /// Every value equal to the reference's (`==`: the sign of a zero may differ).
    fn check(got: &[f32], want: &[f32], isa: Isa) -> core::result::Result<(), TestCaseError> {
        prop_assert_eq!(got.len(), want.len());
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            prop_assert!(g == w, "{} element {}: {} vs {}", isa, i, g, w);
        }
        Ok(())
    }

    fn conv_case(
        g: ConvGeometry,
        bias: bool,
        kind: u8,
        seed: u64,
        must_be_fast: bool,
    ) -> core::result::Result<(), TestCaseError> {
        let mut rng = Rng(seed | 1);
        let (act_min, act_max) = act(kind);
        let p = Conv2dF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            groups: 1,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min,
            act_max,
        };
        let n_in = (g.batches * g.in_h * g.in_w * g.in_c) as usize;
        let k = (g.k_h * g.k_w * g.in_c) as usize;
        let input = values(&mut rng, n_in);
        let weights = values(&mut rng, g.out_c as usize * k);
        let bias = if bias {
            values(&mut rng, g.out_c as usize)
        } else {
            Vec::new()
        };
        let n_out = (g.batches * g.out_h * g.out_w * g.out_c) as usize;
        let mut want = std::vec![0f32; n_out];
        conv2d_f32(&p, &input, &weights, &bias, &mut want);
        let mut packed = std::vec![0f32; packed_conv_f32_len(&g).unwrap()];
        prop_assert!(pack_conv2d_f32(&p, &weights, &mut packed));
        for isa in isas() {
            let mut got = std::vec![f32::NAN; n_out];
            let mut a = PackedF32 {
                p: &p,
                input: &input,
                weights: &packed,
                bias: &bias,
                output: &mut got,
                blocks: (g.out_c as usize).div_ceil(BLOCK),
                k,
            };
            // SAFETY: `isas()` lists only instruction sets this CPU has.
            let fast = unsafe {
                match isa {
                    Isa::Avx512Vnni => conv_avx512(&mut a),
                    Isa::Avx2 => conv_avx2(&mut a),
                    _ => continue,
                }
            };
            prop_assert!(fast || !must_be_fast, "{} took the reference", isa);
            if fast {
                check(&got, &want, isa)?;
            }
        }
        Ok(())
    }

    fn dw_case(
        g: ConvGeometry,
        bias: bool,
        kind: u8,
        seed: u64,
        must_be_fast: bool,
    ) -> core::result::Result<(), TestCaseError> {
        let mut rng = Rng(seed | 1);
        let (act_min, act_max) = act(kind);
        let mut g = g;
        g.out_c = g.in_c;
        let p = DepthwiseConv2dF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            depth_multiplier: 1,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min,
            act_max,
        };
        let c = g.in_c as usize;
        let input = values(&mut rng, (g.batches * g.in_h * g.in_w) as usize * c);
        let weights = values(&mut rng, (g.k_h * g.k_w) as usize * c);
        let bias = if bias {
            values(&mut rng, c)
        } else {
            Vec::new()
        };
        let n_out = (g.batches * g.out_h * g.out_w) as usize * c;
        let mut want = std::vec![0f32; n_out];
        depthwise_conv2d_f32(&p, &input, &weights, &bias, &mut want);
        for isa in isas() {
            let mut got = std::vec![f32::NAN; n_out];
            let mut d = DwF32 {
                p: &p,
                input: &input,
                weights: &weights,
                bias: &bias,
                output: &mut got,
            };
            // SAFETY: `isas()` lists only instruction sets this CPU has.
            let fast = unsafe {
                match isa {
                    Isa::Avx512Vnni => dw_avx512(&mut d),
                    Isa::Avx2 => dw_avx2(&mut d),
                    _ => continue,
                }
            };
            prop_assert!(fast || !must_be_fast, "{} took the reference", isa);
            if fast {
                check(&got, &want, isa)?;
            }
        }
        Ok(())
    }

    fn shapes(
        hw: core::ops::Range<u32>,
        c: core::ops::Range<u32>,
        oc: core::ops::Range<u32>,
    ) -> impl Strategy<Value = ConvGeometry> {
        (
            (1u32..3, hw.clone(), hw, c),
            (oc, 1u32..4, 1u32..4),
            (1u32..3, 1u32..3, 1u32..3, 1u32..3, 0u32..3, 0u32..3),
        )
            .prop_map(|(i, o, s)| geom(i, o, s))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        #[test]
        fn conv_f32_is_the_reference(
            g in shapes(1..12, 1..20, 1..40), bias in any::<bool>(), kind in any::<u8>(), seed in any::<u64>(),
        ) {
            conv_case(g, bias, kind, seed, false)?;
        }

        #[test]
        fn wide_conv_f32_is_the_reference(
            g in shapes(8..40, 1..12, 1..70), bias in any::<bool>(), kind in any::<u8>(), seed in any::<u64>(),
        ) {
            // Rows long enough for the tiles, no column dilation: the fast path runs.
            conv_case(g, bias, kind, seed, g.k_w == 1 || g.dilation_w == 1)?;
        }

        #[test]
        fn pointwise_conv_f32_is_the_reference(
            (b, hw, c, oc) in (1u32..3, 1u32..12, 1u32..40, 1u32..70),
            bias in any::<bool>(), kind in any::<u8>(), seed in any::<u64>(),
        ) {
            let g = geom((b, hw, hw + 1, c), (oc, 1, 1), (1, 1, 1, 1, 0, 0));
            conv_case(g, bias, kind, seed, true)?;
        }

        #[test]
        fn depthwise_f32_is_the_reference(
            g in shapes(1..30, 1..40, 1..2), bias in any::<bool>(), kind in any::<u8>(), seed in any::<u64>(),
        ) {
            dw_case(g, bias, kind, seed, true)?;
        }
    }

    #[test]
    fn benchmark_layer_shapes_are_the_reference() {
        // (in_hw, in_c, out_c, k, stride, pad) of resnet8 and vww_96.
        for (i, &(hw, c, oc, k, s, pad)) in [
            (32, 3, 16, 3, 1, 1),
            (32, 16, 16, 3, 1, 1),
            (32, 16, 32, 3, 2, 1),
            (32, 16, 32, 1, 2, 0),
            (16, 32, 64, 3, 2, 1),
            (8, 64, 64, 3, 1, 1),
            (96, 3, 8, 3, 2, 0),
            (6, 128, 128, 1, 1, 0),
            (3, 256, 256, 1, 1, 0),
        ]
        .iter()
        .enumerate()
        {
            let g = geom((1, hw, hw, c), (oc, k, k), (s, s, 1, 1, pad, pad));
            conv_case(g, true, i as u8, i as u64, true).unwrap();
        }
        for (i, &(hw, c, s)) in [
            (48, 8, 1),
            (48, 16, 2),
            (24, 32, 1),
            (6, 128, 1),
            (6, 128, 2),
            (3, 256, 1),
        ]
        .iter()
        .enumerate()
        {
            let pad = u32::from(s == 1);
            let g = geom((1, hw, hw, c), (c, 3, 3), (s, s, 1, 1, pad, pad));
            dw_case(g, true, i as u8, i as u64, true).unwrap();
        }
    }

    #[test]
    fn non_finite_weights_are_not_packed() {
        let g = geom((1, 4, 4, 2), (3, 3, 3), (1, 1, 1, 1, 1, 1));
        let p = Conv2dF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            groups: 1,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min: f32::NEG_INFINITY,
            act_max: f32::INFINITY,
        };
        let mut w = std::vec![1f32; 3 * 9 * 2];
        let mut packed = std::vec![0f32; packed_conv_f32_len(&g).unwrap()];
        assert!(pack_conv2d_f32(&p, &w, &mut packed));
        w[5] = f32::INFINITY;
        assert!(!pack_conv2d_f32(&p, &w, &mut packed));
    }
}
