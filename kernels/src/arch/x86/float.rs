//! Float CONV_2D ([`Op::Conv2dF32Packed`]) and DEPTHWISE_CONV_2D (depth multiplier 1) on
//! AVX-512 and AVX2, generic over the vector width ([`Vf`]).
//!
//! Each output is the reference's sum computed as the reference computes it — taps in
//! `(ky, kx, ic)` order starting from zero, each product rounded and then added (no fused
//! multiply-add), then the bias, then the clamp — so the results are the reference's bit for
//! bit (up to the sign of a zero), across the lanes instead of one channel at a time.
//!
//! The convolution reads the input from a band of padded rows on the stack (zeros in the
//! padding): padding taps add `w * 0`, which changes no sum for finite weights (the reference
//! skips them; `inf * 0` would not be zero), so layers with a non-finite weight are not packed
//! and run the reference. Pointwise convolutions read the input in place, and so does the
//! depthwise convolution: whole tiles where every tap lies inside the input, the border
//! pixels one at a time over the taps the reference does not skip (so any weight is fine).
//!
//! Fused multiply-adds would be faster but are not used: they change near-cancelling sums by
//! more than the 1e-5 relative conformance bound (several single-operator float goldens of
//! `tests/data/ops` fail with them).

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
    /// multiply-add: it would change near-cancelling sums by more than the conformance bound,
    /// as the single-operator goldens show).
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
        // No overflow when the packed length matches: it is this times 16 * blocks.
        k: g.k_h as usize * g.k_w as usize * g.in_c as usize,
    };
    if !(p.groups == 1 && packed_conv_f32_len(g) == Some(packed.len()) && fast(&mut a)) {
        conv2d_f32(p, a.input, weights, a.bias, a.output);
    }
    Ok(())
}

/// Runs the layer, or returns `false` (writing nothing) when it does not suit the tiles.
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn conv_avx512(a: &mut PackedF32<'_>) -> bool {
    // One vector of channels by up to 16 pixels: the pixels' broadcasts are the loads, the
    // block's weights (one 16-channel column of the packed weights, `k * 64` bytes) stay in
    // L1 while the tiles pass. Wider tiles over two or four vectors took more time on
    // layers whose weights outgrow L1 (AMD Zen 4: resnet8's 32- and 64-channel 3x3 layers
    // 25-30% slower). With 32 vector registers (AVX-512 VL), layers of at most 8 channels
    // run 8-lane vectors: a masked 16-lane one costs a whole one.
    let g = &a.p.geom;
    let pixels = g.batches as usize * g.out_h as usize * g.out_w as usize;
    let narrow = g.out_c <= 8;
    match (narrow, tile_pixels(pixels)) {
        (true, 16) => conv::<__m256, 16, 1>(a) || conv::<__m256, 1, 1>(a),
        (true, 12) => conv::<__m256, 12, 1>(a) || conv::<__m256, 1, 1>(a),
        (true, _) => conv::<__m256, 9, 1>(a) || conv::<__m256, 1, 1>(a),
        (false, 16) => conv::<__m512, 16, 1>(a) || conv::<__m512, 1, 1>(a),
        (false, 12) => conv::<__m512, 12, 1>(a) || conv::<__m512, 1, 1>(a),
        (false, _) => conv::<__m512, 9, 1>(a) || conv::<__m512, 1, 1>(a),
    }
}

/// Pixels per AVX-512 tile for a layer of `pixels` output pixels: 16, 12 or 9, whichever
/// computes the fewest idle pixels in the last tile (the larger on a tie). A 6x6 map (36
/// pixels) takes 12, a 3x3 one 9; most layers divide by 16.
fn tile_pixels(pixels: usize) -> usize {
    let computed = |mr: usize| pixels.div_ceil(mr) * mr;
    [16, 12, 9]
        .into_iter()
        .min_by_key(|&mr| computed(mr))
        .unwrap_or(16)
}

/// As [`conv_avx512`].
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_avx2(a: &mut PackedF32<'_>) -> bool {
    if a.p.geom.out_c <= 8 {
        // One vector of channels (the block's upper half would be idle) by eight pixels.
        conv::<__m256, 8, 1>(a) || conv::<__m256, 1, 1>(a)
    } else {
        // Six pixels by one block: 12 of the 16 registers accumulate, leaving fewer loads
        // and broadcasts per product than four pixels (tiles run across rows, so no row
        // length wastes a partial tile).
        conv::<__m256, 6, 2>(a) || conv::<__m256, 1, 2>(a)
    }
}

/// Whether output pixel `m` reads exactly input pixel `m` (a 1x1 window, stride 1, no
/// padding).
fn pointwise(g: &ConvGeometry) -> bool {
    g.k_h == 1
        && g.k_w == 1
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_top == 0
        && g.pad_left == 0
        && g.in_h == g.out_h
        && g.in_w == g.out_w
}

/// Where a micro-tile's activations are: pixel `i`'s kernel row `r` (of `kernel_rows`) is
/// the `run` floats at `base[i] + r * row_stride`.
struct Src<const MR: usize> {
    base: [*const f32; MR],
    kernel_rows: usize,
    run: usize,
    row_stride: usize,
}

/// The convolution in micro-tiles of `MR` pixels × `NV` vectors of output channels (`NV *
/// V::LANES` divides 16, or is a multiple of 16 dividing the packed channels: a tile never straddles
/// the end of the packed weights). Tiles start below `out_c` only, and run across output
/// rows (pointwise layers: across the whole output; others: across a band's rows). Returns
/// `false`, writing nothing, when the layer does not suit the tiles (a column dilation, rows
/// too long for the band).
///
/// # Safety
/// `V`'s instruction set.
#[inline(always)]
unsafe fn conv<V: Vf, const MR: usize, const NV: usize>(a: &mut PackedF32<'_>) -> bool {
    let g = a.p.geom;
    let (in_c, out_h, out_w) = (g.in_c as usize, g.out_h as usize, g.out_w as usize);
    let (sh, sw, out_c) = (g.stride_h as usize, g.stride_w as usize, g.out_c as usize);
    let channels = NV * V::LANES;
    let pixels = g.batches as usize * out_h * out_w;
    if pixels == 0 {
        return true;
    }
    if g.k_h == 0 || g.k_w == 0 || in_c == 0 {
        return false;
    }
    let mut band = BandBuf([const { MaybeUninit::uninit() }; BAND_FLOATS]);
    let buf = band.0.as_mut_ptr() as *mut f32;
    if pointwise(&g) {
        // Output pixel m reads input pixel m: tiles run across rows, in place; the last
        // partial tile reads a zero-padded copy. The tile's pixels stay in L1 while every
        // block of weights passes.
        if MR * in_c > BAND_FLOATS {
            return false;
        }
        let tail = pixels % MR;
        let full = pixels - tail;
        if tail != 0 {
            // SAFETY: `tail` whole pixels of the input, then zeros, within the band.
            core::ptr::copy_nonoverlapping(a.input.as_ptr().add(full * in_c), buf, tail * in_c);
            buf.add(tail * in_c).write_bytes(0, (MR - tail) * in_c);
        }
        let mut m = 0;
        while m < pixels {
            let rows = (pixels - m).min(MR);
            let base = if rows < MR {
                buf as *const f32
            } else {
                a.input.as_ptr().add(m * in_c)
            };
            let src = Src::<MR> {
                base: core::array::from_fn(|i| base.add(i * in_c)),
                kernel_rows: 1,
                run: in_c,
                row_stride: 0,
            };
            let mut c0 = 0;
            while c0 < out_c {
                micro::<V, MR, NV>(a, &src, m, rows, c0);
                c0 += channels;
            }
            m += MR;
        }
        return true;
    }
    let span = ((g.k_w as usize - 1) * g.dilation_w as usize + 1) * in_c;
    // Tiles run across the band's output rows (pixel by pixel, the idle ones of the last tile
    // repeating the band's last pixel), so the band needs the reach of single pixels.
    let plan = if g.k_w == 1 || g.dilation_w == 1 {
        Band::plan(&g, 1, span)
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
            let band_pixels = rows * out_w;
            let m0 = (b * out_h + oy0) * out_w;
            let mut c0 = 0;
            while c0 < out_c {
                // Row and column of the tile's first pixel.
                let (mut r0, mut x0) = (0, 0);
                let mut q = 0;
                while q < band_pixels {
                    let (mut r, mut x) = (r0, x0);
                    let base = core::array::from_fn(|i| {
                        let p = if q + i < band_pixels {
                            (r, x)
                        } else {
                            (rows - 1, out_w - 1)
                        };
                        x += 1;
                        if x == out_w {
                            (r, x) = (r + 1, 0);
                        }
                        // Within the band's reach (`Band::plan`, `Band::fill`).
                        buf.add(p.0 * sh * d.row + p.1 * sw * in_c) as *const f32
                    });
                    (r0, x0) = (r, x);
                    let src = Src::<MR> {
                        base,
                        kernel_rows: g.k_h as usize,
                        run: g.k_w as usize * in_c,
                        row_stride: g.dilation_h as usize * d.row,
                    };
                    micro::<V, MR, NV>(a, &src, m0 + q, (band_pixels - q).min(MR), c0);
                    q += MR;
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
/// `kernel_rows * run == a.k` floats; pixels `m..m + rows` exist; `c0 < out_c`.
#[inline(always)]
unsafe fn micro<V: Vf, const MR: usize, const NV: usize>(
    a: &mut PackedF32<'_>,
    src: &Src<MR>,
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
    for r in 0..src.kernel_rows {
        let t: [*const f32; MR] = core::array::from_fn(|i| src.base[i].add(r * src.row_stride));
        for j in 0..src.run {
            let mut wv = [V::zero(); NV];
            for (v, wp) in wv.iter_mut().zip(&mut w) {
                *v = V::load(*wp);
                *wp = wp.add(BLOCK);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = V::splat(t[i].add(j));
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
    if p.depth_multiplier != 1 || !fast(&mut d) {
        depthwise_conv2d_f32(p, d.input, d.weights, d.bias, d.output);
    }
    Ok(())
}

#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn dw_avx512(d: &mut DwF32<'_>) -> bool {
    let square3 = d.p.geom.k_h == 3 && d.p.geom.k_w == 3;
    if d.p.geom.in_c <= 8 {
        return if square3 {
            dw::<__m256, 8, 9>(d)
        } else {
            dw::<__m256, 8, 0>(d)
        };
    }
    match (square3, d.p.geom.out_w) {
        (true, 8..) => dw::<__m512, 8, 9>(d),
        (true, _) => dw::<__m512, 4, 9>(d),
        (false, 8..) => dw::<__m512, 8, 0>(d),
        (false, _) => dw::<__m512, 4, 0>(d),
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dw_avx2(d: &mut DwF32<'_>) -> bool {
    // Four pixels: with eight, LLVM spills the 16 registers.
    if d.p.geom.k_h == 3 && d.p.geom.k_w == 3 {
        dw::<__m256, 4, 9>(d)
    } else {
        dw::<__m256, 4, 0>(d)
    }
}

/// The depthwise convolution, read in place: `MR` pixels at a time where every tap lies in the
/// input, one pixel at a time (skipping the padding taps, as the reference does) on the
/// borders. `TAPS` is 9 for 3x3 windows (the tap offsets are then constants) or 0 for "read
/// the window from the geometry". Returns `false`, writing nothing, when `TAPS` does not
/// match the window.
///
/// Each tap's weights are loaded once per tile (from L1) rather than kept in registers: with
/// `MR` accumulators, the bias and the clamp bounds, nine weight vectors would not fit the 16
/// AVX2 registers, and the spills cost more than the loads.
///
/// # Safety
/// `V`'s instruction set; `d` checked by [`run_dw`], depth multiplier 1.
#[inline(always)]
unsafe fn dw<V: Vf, const MR: usize, const TAPS: usize>(d: &mut DwF32<'_>) -> bool {
    let g = d.p.geom;
    let (in_h, in_w, c_all) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
    let (sh, sw, dh, dw) = (
        g.stride_h as usize,
        g.stride_w as usize,
        g.dilation_h as usize,
        g.dilation_w as usize,
    );
    let (pt, pl) = (g.pad_top as usize, g.pad_left as usize);
    let taps = k_h * k_w;
    if (TAPS != 0 && (taps != TAPS || k_w != 3)) || taps == 0 || c_all == 0 {
        return false;
    }
    if g.batches == 0 || out_h == 0 || out_w == 0 {
        return true;
    }
    // The checked geometry keeps every index below within the input and output slices:
    // `check_conv_activations` matched both lengths to it.
    let (span_h, span_w) = ((k_h - 1) * dh, (k_w - 1) * dw);
    // Output columns `x_lo..x_hi` read only columns inside the input: `ox * sw >= pl` and
    // `ox * sw - pl + span_w < in_w`.
    let x_lo = pl.div_ceil(sw).min(out_w);
    let x_hi = if in_w + pl > span_w {
        ((in_w + pl - span_w - 1) / sw + 1).min(out_w)
    } else {
        0
    }
    .max(x_lo);
    let t = Tile {
        k_w: if TAPS != 0 { 3 } else { k_w },
        taps: if TAPS != 0 { TAPS } else { taps },
        kernel_row: dh * in_w * c_all,
        tap_col: dw * c_all,
        pixel: sw * c_all,
        c_all,
    };
    let (input, weights, bias) = (d.input.as_ptr(), d.weights.as_ptr(), d.bias);
    let out = d.output.as_mut_ptr();
    let (lo, hi) = act::<V>(d.p.act_min, d.p.act_max);
    for b in 0..g.batches as usize {
        for oy in 0..out_h {
            let dst_row = out.add((b * out_h + oy) * out_w * c_all);
            let inner_row = oy * sh >= pt && oy * sh - pt + span_h < in_h;
            let (xa, xb) = if inner_row {
                (x_lo, x_hi)
            } else {
                (out_w, out_w)
            };
            // Border pixels: the reference's loop over the taps inside the input, a vector
            // of channels at a time.
            let (ky0, ky1) = tap_range(oy * sh, pt, dh, k_h, in_h);
            for ox in (0..xa).chain(xb..out_w) {
                let (kx0, kx1) = tap_range(ox * sw, pl, dw, k_w, in_w);
                let mut c0 = 0;
                while c0 < c_all {
                    let n = (c_all - c0).min(V::LANES);
                    // SAFETY: `n` channels from `c0` of in-bounds taps (`tap_range`), weights,
                    // bias and output pixel.
                    let mut acc = V::zero();
                    for ky in ky0..ky1 {
                        let iy = oy * sh + ky * dh - pt;
                        let x_row = input.add(((b * in_h + iy) * in_w) * c_all + c0);
                        for kx in kx0..kx1 {
                            let ix = ox * sw + kx * dw - pl;
                            let x = V::load_n(x_row.add(ix * c_all), n);
                            let w = V::load_n(weights.add((ky * k_w + kx) * c_all + c0), n);
                            acc = V::mul_add(x, w, acc);
                        }
                    }
                    let bv = if bias.is_empty() {
                        V::zero()
                    } else {
                        V::load_n(bias.as_ptr().add(c0), n)
                    };
                    let y = V::clamp(V::add(acc, bv), lo, hi);
                    V::store_n(dst_row.add(ox * c_all + c0), y, n);
                    c0 += V::LANES;
                }
            }
            if xa >= xb {
                continue;
            }
            // Inner pixels: every tap inside the input, read in place.
            let src_row = input.add(((b * in_h + oy * sh - pt) * in_w + xa * sw - pl) * c_all);
            let mut c0 = 0;
            while c0 < c_all {
                let n = (c_all - c0).min(V::LANES);
                // SAFETY (here and in `dw_tile`): loads are `n` lanes of channels `c0..` of
                // in-bounds taps, of weights `t * c_all + c0..`, of the bias; stores are `n`
                // channels of output pixels `xa..xb`.
                let bv = if bias.is_empty() {
                    V::zero()
                } else {
                    V::load_n(bias.as_ptr().add(c0), n)
                };
                let w = weights.add(c0);
                let (src, dst) = (src_row.add(c0), dst_row.add(xa * c_all + c0));
                let full = n == V::LANES;
                let inner = xb - xa;
                if inner < MR {
                    for i in 0..inner {
                        let (px, o) = (src.add(i * t.pixel), dst.add(i * c_all));
                        dw_tile::<V, 1, false>(&t, px, w, n, o, 1, bv, lo, hi);
                    }
                } else {
                    // Whole tiles; the last one ends at `xb`, overlapping its predecessor
                    // (its pixels are computed twice, to the same values).
                    let mut i = 0;
                    loop {
                        let i0 = i.min(inner - MR);
                        let (px, o) = (src.add(i0 * t.pixel), dst.add(i0 * c_all));
                        if full {
                            dw_tile::<V, MR, true>(&t, px, w, n, o, MR, bv, lo, hi);
                        } else {
                            dw_tile::<V, MR, false>(&t, px, w, n, o, MR, bv, lo, hi);
                        }
                        i += MR;
                        if i >= inner {
                            break;
                        }
                    }
                }
                c0 += V::LANES;
            }
        }
    }
    true
}

/// The taps `k0..k1` (of `k`) of an output position whose first tap is at `start - pad` that
/// fall inside `0..len`, for taps `dil` apart: the ones the reference does not skip.
#[inline(always)]
fn tap_range(start: usize, pad: usize, dil: usize, k: usize, len: usize) -> (usize, usize) {
    // Tap `j` is at `start + j * dil - pad`: inside when `pad <= start + j * dil < pad + len`.
    let k0 = pad.saturating_sub(start).div_ceil(dil).min(k);
    let k1 = if pad + len > start {
        ((pad + len - start - 1) / dil + 1).min(k)
    } else {
        0
    };
    (k0, k1.max(k0))
}

/// Where a depthwise tile's taps are, relative to its first pixel's first tap.
struct Tile {
    k_w: usize,
    taps: usize,
    /// Floats between kernel rows in the band.
    kernel_row: usize,
    /// Floats between kernel columns.
    tap_col: usize,
    /// Floats between the tile's pixels.
    pixel: usize,
    /// Floats between taps' weights.
    c_all: usize,
}

/// One tile of `MR` pixels (`valid` of them stored) × `n` channels (all the lanes when
/// `FULL`): the sum over taps in the reference's order, plus the bias, clamped.
///
/// # Safety
/// `V`'s instruction set; `px`, `w` and `dst` as in [`dw`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_tile<V: Vf, const MR: usize, const FULL: bool>(
    t: &Tile,
    px: *const f32,
    w: *const f32,
    n: usize,
    dst: *mut f32,
    valid: usize,
    bias: V,
    lo: V,
    hi: V,
) {
    let ld = |p: *const f32| if FULL { V::load(p) } else { V::load_n(p, n) };
    let mut acc = [V::zero(); MR];
    for tap in 0..t.taps {
        let wv = ld(w.add(tap * t.c_all));
        let off = (tap / t.k_w) * t.kernel_row + (tap % t.k_w) * t.tap_col;
        for (i, s) in acc.iter_mut().enumerate() {
            *s = V::mul_add(ld(px.add(off + i * t.pixel)), wv, *s);
        }
    }
    // Through memory, once (see `micro`).
    let mut fin = [V::zero(); MR];
    for (f, &v) in fin.iter_mut().zip(&acc) {
        core::ptr::write_volatile(f, v);
    }
    for (i, &v) in fin.iter().enumerate().take(valid) {
        let y = V::clamp(V::add(v, bias), lo, hi);
        if FULL {
            V::store_n(dst.add(i * t.c_all), y, V::LANES);
        } else {
            V::store_n(dst.add(i * t.c_all), y, n);
        }
    }
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
            prop_assert!(
                g == w || (g.is_nan() && w.is_nan()),
                "{} element {}: {} vs {}",
                isa,
                i,
                g,
                w
            );
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
        let mut weights = values(&mut rng, (g.k_h * g.k_w) as usize * c);
        if seed.is_multiple_of(8) {
            // A non-finite weight: the padding taps must be skipped, not multiplied by zero.
            let i = (seed / 8) as usize % weights.len();
            weights[i] = if seed.is_multiple_of(16) {
                f32::INFINITY
            } else {
                f32::NAN
            };
        }
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
