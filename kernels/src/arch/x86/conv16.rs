//! 16x8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (int16 activations, int8 weights) on
//! AVX2 and SSE4.1, from the portable weight layouts.
//!
//! The products are formed by `pmaddwd` (`_mm256_madd_epi16` / `_mm_madd_epi16`) on int16
//! activations and int8 weights sign-extended to int16 as they are loaded: each 32-bit lane
//! receives `x0 * w0 + x1 * w1`, exact, with `|x * w| <= 32768 * 128 = 2^22` so `|pair| <=
//! 2^23`. The sums are then exact by construction, never by luck:
//!
//! * Fully connected layers, and convolutions whose filter rows are long contiguous runs of
//!   the input, run dot products along those runs. After at most [`FLUSH`] = 31 multiply-add
//!   steps a lane holds at most `31 * 2^23`
//!   in magnitude, and the sum of all 8 lanes of a 256-bit accumulator at most `248 * 2^23 <
//!   2^31`: both the lanes and their horizontal sum fit in 32 bits. So every `FLUSH` steps
//!   (and at the end) the accumulators are summed horizontally in 32 bits and added to int64
//!   sums, which are exact for any layer (`|x * w| < 2^22`).
//! * Convolutions with short runs (few input channels) put output channels across the lanes
//!   instead: a broadcast input pair times the pairs of `L / 2` channels' weights (widened once
//!   per call into a stack buffer). Lanes are never summed with each other, so they are
//!   flushed to int64 before [`FLUSH_LANES`] = 255 steps: `255 * 2^23 < 2^31`.
//! * Depthwise layers put channels across the lanes and pair consecutive filter taps
//!   (`x_t * w_t + x_t+1 * w_t+1` per channel); each lane is flushed to int64 every `FLUSH`
//!   tap pairs, so it holds at most `31 * 2^23 < 2^31`.
//!
//! The exact int64 sum then goes through the reference kernels' requantization
//! ([`requant_i16`], either of TFLM's accumulator paths) and clamp, one output at a time: a
//! scalar step per output against a dot product of many products.
//!
//! Parameters the fast paths were not written for run the reference function: grouped
//! convolutions, depth multipliers above 1, filters with more taps (depthwise) or tap rows
//! (convolutions too large for the channel-across-lanes layout) than [`MAX_SEGS`], and fully connected layers with a per-tensor weight offset (asymmetric
//! weights, which the 16x8 converter does not write).
//!
//! AVX-512 CPUs run the AVX2 kernels.

use crate::ops::conv::{conv2d_i16, requant_i16, run_conv2d_i16_with, tap};
use crate::ops::depthwise::{depthwise_conv2d_i16, run_depthwise_conv2d_i16_with};
use crate::ops::fully_connected::{fully_connected_i16, run_fully_connected_i16_with};
use ferrite_core::ops::{Conv2dI16, DepthwiseConv2dI16, FullyConnectedI16, Op};
use ferrite_core::{Ctx, Result};

/// Multiply-add steps a 32-bit accumulator takes before it is flushed to int64 (see the
/// module docs for why 31 keeps the lanes and their 8-lane sum within 32 bits).
const FLUSH: u32 = 31;

/// Most contiguous input runs (tap rows, or single taps with horizontal dilation) the
/// convolution gathers per output position, and most taps the depthwise convolution pairs:
/// a stack array each, since kernels do not allocate.
const MAX_SEGS: usize = 64;

/// Kernel entry for [`Op::Conv2dI16`] on AVX2 (and AVX-512).
pub(crate) fn run_conv2d_i16_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_conv2d_i16_with(ctx, op, |p, x, w, b, m, s, o| {
        // SAFETY: this entry is handed out only for `Isa::Avx2` and `Isa::Avx512Vnni`, whose
        // CPUs have AVX2 (see the x86 module docs).
        unsafe { avx2::conv(p, x, w, b, m, s, o) }
    })
}

/// Kernel entry for [`Op::Conv2dI16`] on SSE4.1.
pub(crate) fn run_conv2d_i16_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_conv2d_i16_with(ctx, op, |p, x, w, b, m, s, o| {
        // SAFETY: this entry is handed out only for `Isa::Sse41` (see the x86 module docs).
        unsafe { sse41::conv(p, x, w, b, m, s, o) }
    })
}

/// Kernel entry for [`Op::DepthwiseConv2dI16`] on AVX2 (and AVX-512).
pub(crate) fn run_depthwise_conv2d_i16_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_depthwise_conv2d_i16_with(ctx, op, |p, x, w, b, m, s, o| {
        // SAFETY: this entry is handed out only for `Isa::Avx2` and `Isa::Avx512Vnni`.
        unsafe { avx2::depthwise(p, x, w, b, m, s, o) }
    })
}

/// Kernel entry for [`Op::DepthwiseConv2dI16`] on SSE4.1.
pub(crate) fn run_depthwise_conv2d_i16_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_depthwise_conv2d_i16_with(ctx, op, |p, x, w, b, m, s, o| {
        // SAFETY: this entry is handed out only for `Isa::Sse41`.
        unsafe { sse41::depthwise(p, x, w, b, m, s, o) }
    })
}

/// Kernel entry for [`Op::FullyConnectedI16`] on AVX2 (and AVX-512).
pub(crate) fn run_fully_connected_i16_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_fully_connected_i16_with(ctx, op, |p, x, w, b, m, s, o| {
        // SAFETY: this entry is handed out only for `Isa::Avx2` and `Isa::Avx512Vnni`.
        unsafe { avx2::fully_connected(p, x, w, b, m, s, o) }
    })
}

/// Kernel entry for [`Op::FullyConnectedI16`] on SSE4.1.
pub(crate) fn run_fully_connected_i16_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_fully_connected_i16_with(ctx, op, |p, x, w, b, m, s, o| {
        // SAFETY: this entry is handed out only for `Isa::Sse41`.
        unsafe { sse41::fully_connected(p, x, w, b, m, s, o) }
    })
}

/// One contiguous run of a dot product: `len` input values from `x` against `len` weights
/// from `w` (offsets into the input and into one output channel's weights).
#[derive(Clone, Copy, Default)]
struct Seg {
    x: usize,
    w: usize,
    len: usize,
}

/// The runs output position `(b, oy, ox)` of a dense convolution reads, or `None` if there
/// are more than [`MAX_SEGS`]. Taps in the padding are skipped, as the reference skips them.
/// Without horizontal dilation the valid taps of a filter row are adjacent in the input
/// (NHWC) and in the weights (OHWI), so a row is one run of `taps * in_c` values.
fn conv_segs(
    p: &Conv2dI16,
    b: usize,
    oy: usize,
    ox: usize,
    segs: &mut [Seg; MAX_SEGS],
) -> Option<usize> {
    let g = &p.geom;
    let (in_h, in_w, in_c, k_w) = (
        g.in_h as usize,
        g.in_w as usize,
        g.in_c as usize,
        g.k_w as usize,
    );
    let mut n = 0;
    let mut push = |s: Seg| {
        *segs.get_mut(n)? = s;
        n += 1;
        Some(())
    };
    for ky in 0..g.k_h {
        let Some(iy) = tap(oy as u32, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h) else {
            continue;
        };
        let row = (b * in_h + iy) * in_w;
        let valid = |kx: usize| {
            tap(
                ox as u32,
                g.stride_w,
                g.pad_left,
                kx as u32,
                g.dilation_w,
                g.in_w,
            )
        };
        if g.dilation_w == 1 {
            let Some(kx0) = (0..k_w).find(|&kx| valid(kx).is_some()) else {
                continue;
            };
            let kx1 = (kx0..k_w).take_while(|&kx| valid(kx).is_some()).count() + kx0;
            let ix0 = valid(kx0)?;
            push(Seg {
                x: (row + ix0) * in_c,
                w: (ky as usize * k_w + kx0) * in_c,
                len: (kx1 - kx0) * in_c,
            })?;
        } else {
            for kx in 0..k_w {
                if let Some(ix) = valid(kx) {
                    push(Seg {
                        x: (row + ix) * in_c,
                        w: (ky as usize * k_w + kx) * in_c,
                        len: in_c,
                    })?;
                }
            }
        }
    }
    Some(n)
}

/// Int16 weights the channel-across-lanes convolution ([`lanes_fit`]) may hold on the stack:
/// the whole layer's, widened and interleaved by pairs of inputs (16 KB).
const LANES_BUDGET: usize = 8192;

/// The longest filter (`k_h * k_w * in_c`, padded to even) whose gathered inputs the
/// channel-across-lanes convolution holds on the stack (4 KB).
const LANES_K: usize = LANES_BUDGET / 4;

/// Multiply-add steps a 32-bit lane takes, with no horizontal sum after it, before it is
/// flushed to int64: `255 * 2^23 < 2^31`.
const FLUSH_LANES: u32 = 255;

/// Whether a dense convolution's weights fit the channel-across-lanes layout for `lanes`
/// 32-bit lanes: `k` (the filter length, rounded up to pairs) times the output channels
/// (rounded up to whole vectors); returns the pair count and the padded channel count.
fn lanes_fit(k: usize, out_c: usize, lanes: usize) -> Option<(usize, usize)> {
    let kp = k.div_ceil(2);
    let ocp = out_c.div_ceil(lanes) * lanes;
    (2 * kp <= LANES_K && 2 * kp * ocp <= LANES_BUDGET).then_some((kp, ocp))
}

/// The most int16 lanes a vector load reads (AVX2).
const PAD: usize = 16;

/// The operands of the dot products, with zero-padded copies of the last values of each
/// slice: a run's last, partial vector reads the copy when a full-width load would cross the
/// slice's end (the lanes past the run are then zeroed in the activations, so whatever
/// weights they meet contribute nothing).
struct Src<'a> {
    input: &'a [i16],
    weights: &'a [i8],
    /// `input[x_base..]`, then zeros.
    xpad: [i16; 2 * PAD],
    x_base: usize,
    /// `weights[w_base..]`, then zeros.
    wpad: [i8; 2 * PAD],
    w_base: usize,
}

impl<'a> Src<'a> {
    fn new(input: &'a [i16], weights: &'a [i8]) -> Self {
        let x_base = input.len().saturating_sub(PAD);
        let w_base = weights.len().saturating_sub(PAD);
        let mut xpad = [0; 2 * PAD];
        let mut wpad = [0; 2 * PAD];
        for (d, &v) in xpad.iter_mut().zip(input.get(x_base..).unwrap_or(&[])) {
            *d = v;
        }
        for (d, &v) in wpad.iter_mut().zip(weights.get(w_base..).unwrap_or(&[])) {
            *d = v;
        }
        Src {
            input,
            weights,
            xpad,
            x_base,
            wpad,
            w_base,
        }
    }

    /// Where to read `n <= PAD` activations from index `i < input.len()`: the input itself
    /// if they all lie in it, else the padded copy (then `i > input.len() - n >= x_base`,
    /// so the copy holds `input[i..]` and at least `n` values from `i - x_base`).
    #[inline(always)]
    fn x_ptr(&self, i: usize, n: usize) -> *const i16 {
        if i + n <= self.input.len() {
            self.input.as_ptr().wrapping_add(i)
        } else {
            self.xpad.as_ptr().wrapping_add(i - self.x_base)
        }
    }

    /// As [`Src::x_ptr`], for weights.
    #[inline(always)]
    fn w_ptr(&self, i: usize, n: usize) -> *const i8 {
        if i + n <= self.weights.len() {
            self.weights.as_ptr().wrapping_add(i)
        } else {
            self.wpad.as_ptr().wrapping_add(i - self.w_base)
        }
    }
}

/// Writes one requantized, clamped output, as the reference does.
#[inline(always)]
fn store(
    out: &mut i16,
    sum: i64,
    bias: Option<i64>,
    acc32: bool,
    multiplier: i32,
    shift: i32,
    act: (i32, i32),
) {
    let v = requant_i16(sum, bias, acc32, multiplier, shift);
    *out = v.max(act.0).min(act.1) as i16;
}

/// The kernels, written once over the vector primitives of the module they expand in (`V`,
/// `L` int16 lanes, `zero`, `load_x`, `load_w`, `madd`, `lane_mask`, `reduce4`, `reduce1`,
/// `unpack`, `lanes32`) and compiled with that module's target feature.
macro_rules! kernels {
    ($feature:literal) => {
        /// Adds the 32-bit accumulators to the int64 sums and clears them (exact: see
        /// `FLUSH`).
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn flush_dots<const NB: usize>(acc: &mut [V; NB], wide: &mut [i64; NB]) {
            let s = if NB == 4 {
                let mut a = [zero(); 4];
                for (a, &v) in a.iter_mut().zip(acc.iter()) {
                    *a = v;
                }
                reduce4(a)
            } else {
                let mut s = [0; 4];
                for (s, &a) in s.iter_mut().zip(acc.iter()) {
                    *s = reduce1(a);
                }
                s
            };
            for (w, s) in wide.iter_mut().zip(s) {
                *w += s as i64;
            }
            *acc = [zero(); NB];
        }

        /// Adds the depthwise accumulators (the low and high unpacks of `L` channels) to the
        /// channels' int64 sums and clears them.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn flush_dw(acc: &mut [V; 2], wide: &mut [i64; L]) {
            for (h, a) in acc.iter().enumerate() {
                for (i, v) in lanes32(*a).into_iter().enumerate() {
                    // Lane `i` of the low (`h` = 0) or high unpack holds channel
                    // `(i / 4) * 8 + h * 4 + i % 4`: `punpck*wd` work within 128-bit halves.
                    wide[(i / 4) * 8 + h * 4 + i % 4] += v as i64;
                }
            }
            *acc = [zero(); 2];
        }

        /// Sums the channel-lane accumulators lane by lane (exact: together they took at
        /// most `FLUSH_LANES` steps) into the channels' int64 sums, and clears them.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn flush_lanes(a: &mut [V; 4], wide: &mut [i64; L / 2]) {
            let s = add32(add32(a[0], a[1]), add32(a[2], a[3]));
            for (d, v) in wide.iter_mut().zip(lanes32(s)) {
                *d += v as i64;
            }
            *a = [zero(); 4];
        }

        /// Dot products of the runs `segs` of the input against `NB` output channels' weights
        /// (starting at `w_rows`), as exact int64 sums.
        ///
        /// # Safety
        /// The CPU has the module's target feature; every run lies within the input and, for
        /// every row, within the weights.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn dots<const NB: usize>(
            src: &Src<'_>,
            segs: &[Seg],
            w_rows: [usize; NB],
        ) -> [i64; NB] {
            let (input, weights) = (src.input, src.weights);
            let mut acc = [zero(); NB];
            let mut wide = [0i64; NB];
            let mut steps = 0;
            for s in segs {
                let x = input.as_ptr().add(s.x);
                let mut k = 0;
                while k + L <= s.len {
                    // SAFETY: elements k..k + L of the run lie within it (the caller's
                    // promise covers the run).
                    let xv = load_x(x.add(k));
                    for j in 0..NB {
                        let wv = load_w(weights.as_ptr().add(w_rows[j] + s.w + k));
                        acc[j] = madd(acc[j], xv, wv);
                    }
                    k += L;
                    steps += 1;
                    if steps == FLUSH {
                        flush_dots(&mut acc, &mut wide);
                        steps = 0;
                    }
                }
                let r = s.len - k;
                if r == 0 {
                    continue;
                }
                // The last `r < L` values: a full-width load, from the padded copies where
                // it would cross a slice's end, with the activations past the run zeroed.
                // SAFETY: `Src` returns `L` readable values for an index inside the slice,
                // which `s.x + k` and `w_rows[j] + s.w + k` are (the run has `r > 0` more).
                let xv = and(load_x(src.x_ptr(s.x + k, L)), lane_mask(r));
                for j in 0..NB {
                    let wv = load_w(src.w_ptr(w_rows[j] + s.w + k, L));
                    acc[j] = madd(acc[j], xv, wv);
                }
                steps += 1;
                if steps == FLUSH {
                    flush_dots(&mut acc, &mut wide);
                    steps = 0;
                }
            }
            flush_dots(&mut acc, &mut wide);
            wide
        }

        /// Dense 16x8 convolution with output channels across the lanes, for layers whose
        /// weights fit [`LANES_BUDGET`] (see [`lanes_fit`]): the weights are widened once per
        /// call into pairs `(w[oc][2i], w[oc][2i + 1])` for consecutive `oc`, each output
        /// position gathers its filter window (zeros in the padding, whose products are 0 as
        /// the reference's skipped taps), and each `pmaddwd` of a broadcast input pair adds
        /// two products to `L / 2` output channels. Lanes go to int64 every
        /// [`FLUSH_LANES`] steps.
        ///
        /// # Safety
        /// As [`conv`], with `(kp, ocp)` from `lanes_fit(k_h * k_w * in_c, out_c, L / 2)`.
        #[target_feature(enable = $feature)]
        // The reference kernel's arguments and the layout that fits.
        #[allow(clippy::too_many_arguments)]
        pub(super) unsafe fn conv_lanes(
            p: &Conv2dI16,
            input: &[i16],
            weights: &[i8],
            bias: &[i64],
            multiplier: &[i32],
            shift: &[i32],
            output: &mut [i16],
            (kp, ocp): (usize, usize),
        ) {
            const LW: usize = L / 2;
            let g = &p.geom;
            let (in_h, in_w, in_c) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
            let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
            let k = (g.k_h * g.k_w) as usize * in_c;
            let act = (p.rq.act_min, p.rq.act_max);
            // Bounds: `lanes_fit` keeps `2 * kp * ocp` within `LANES_BUDGET` and `2 * kp`
            // within `LANES_K`; weights hold `out_c * k` values (the entry checked).
            let mut wt = [0i16; LANES_BUDGET];
            for oc in 0..out_c {
                for (i, &w) in weights[oc * k..(oc + 1) * k].iter().enumerate() {
                    wt[((i / 2) * ocp + oc) * 2 + i % 2] = w as i16;
                }
            }
            let mut col = [0i16; LANES_K];
            for b in 0..g.batches as usize {
                for oy in 0..out_h {
                    for ox in 0..out_w {
                        let mut at = 0;
                        for ky in 0..g.k_h {
                            let iy =
                                tap(oy as u32, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h);
                            for kx in 0..g.k_w {
                                let ix = tap(
                                    ox as u32,
                                    g.stride_w,
                                    g.pad_left,
                                    kx,
                                    g.dilation_w,
                                    g.in_w,
                                );
                                let dst = &mut col[at..at + in_c];
                                match (iy, ix) {
                                    (Some(iy), Some(ix)) => {
                                        let base = ((b * in_h + iy) * in_w + ix) * in_c;
                                        dst.copy_from_slice(&input[base..base + in_c]);
                                    }
                                    _ => dst.fill(0),
                                }
                                at += in_c;
                            }
                        }
                        // An odd filter's last pair reads `col[k]`, never written (0), against
                        // a weight never written (0).
                        let out = &mut output[((b * out_h + oy) * out_w + ox) * out_c..][..out_c];
                        let pairs = col.as_ptr() as *const i32;
                        let mut oc = 0;
                        while oc < out_c {
                            // Four independent accumulators hide `pmaddwd`'s latency. Together
                            // they take at most `FLUSH_LANES` steps before they are summed
                            // lane by lane and flushed, so the sum is within 32 bits too.
                            let mut a = [zero(); 4];
                            let mut wide = [0i64; LW];
                            let mut steps = 0;
                            let w = wt.as_ptr().add(oc * 2);
                            let row = ocp * 2;
                            let mut i = 0;
                            // SAFETY (every load below): pair `i < kp` of `col` and the `LW`
                            // channel pairs at `(i * ocp + oc) * 2` (`oc + LW <= ocp`) lie
                            // inside the buffers (`lanes_fit`).
                            while i < kp {
                                if i + 4 <= kp {
                                    for (j, a) in a.iter_mut().enumerate() {
                                        let x = bcast32(pairs.add(i + j));
                                        *a = madd(*a, x, load_x(w.add((i + j) * row)));
                                    }
                                    i += 4;
                                    steps += 4;
                                } else {
                                    let x = bcast32(pairs.add(i));
                                    a[0] = madd(a[0], x, load_x(w.add(i * row)));
                                    i += 1;
                                    steps += 1;
                                }
                                if steps + 4 > FLUSH_LANES {
                                    flush_lanes(&mut a, &mut wide);
                                    steps = 0;
                                }
                            }
                            flush_lanes(&mut a, &mut wide);
                            let m = LW.min(out_c - oc);
                            for (j, (o, &sum)) in out[oc..oc + m].iter_mut().zip(&wide).enumerate()
                            {
                                let c = oc + j;
                                store(
                                    o,
                                    sum,
                                    bias.get(c).copied(),
                                    p.acc32,
                                    multiplier[c],
                                    shift[c],
                                    act,
                                );
                            }
                            oc += LW;
                        }
                    }
                }
            }
        }

        /// 16x8 convolution: grouped layers run [`conv2d_i16`]; layers with short input runs
        /// whose weights fit [`LANES_BUDGET`] [`conv_lanes`]; others [`conv_runs`].
        ///
        /// # Safety
        /// The CPU has the module's target feature; the slices passed the reference entry's
        /// checks.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn conv(
            p: &Conv2dI16,
            input: &[i16],
            weights: &[i8],
            bias: &[i64],
            multiplier: &[i32],
            shift: &[i32],
            output: &mut [i16],
        ) {
            let g = &p.geom;
            if p.groups != 1 {
                return conv2d_i16(p, input, weights, bias, multiplier, shift, output);
            }
            let k = (g.k_h * g.k_w * g.in_c) as usize;
            // Runs of at least two vectors keep `conv_runs` busy; shorter ones (few input
            // channels) leave most of its lanes idle, where `conv_lanes` fills them with
            // output channels (measured on the 16x8 test models).
            let run = if g.dilation_w == 1 {
                g.k_w * g.in_c
            } else {
                g.in_c
            } as usize;
            if run < 2 * L {
                if let Some(fit) = lanes_fit(k, g.out_c as usize, L / 2) {
                    // SAFETY: the caller's promise, and `fit` from `lanes_fit`.
                    return conv_lanes(p, input, weights, bias, multiplier, shift, output, fit);
                }
            }
            conv_runs(p, input, weights, bias, multiplier, shift, output)
        }

        /// Dense 16x8 convolution as dot products along contiguous runs of the input (one
        /// per filter row, see [`conv_segs`]); layers with more than `MAX_SEGS` runs per
        /// output position (or grouped ones) go to [`conv2d_i16`].
        ///
        /// # Safety
        /// As [`conv`].
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn conv_runs(
            p: &Conv2dI16,
            input: &[i16],
            weights: &[i8],
            bias: &[i64],
            multiplier: &[i32],
            shift: &[i32],
            output: &mut [i16],
        ) {
            let g = &p.geom;
            let (out_h, out_w, out_c) = (g.out_h as usize, g.out_w as usize, g.out_c as usize);
            let per_oc = (g.k_h * g.k_w * g.in_c) as usize;
            let act = (p.rq.act_min, p.rq.act_max);
            let mut segs = [Seg::default(); MAX_SEGS];
            let src = Src::new(input, weights);
            let runs = if g.dilation_w == 1 {
                g.k_h
            } else {
                g.k_h * g.k_w
            };
            if p.groups != 1 || runs as usize > MAX_SEGS {
                return conv2d_i16(p, input, weights, bias, multiplier, shift, output);
            }
            for b in 0..g.batches as usize {
                for oy in 0..out_h {
                    for ox in 0..out_w {
                        let Some(n) = conv_segs(p, b, oy, ox, &mut segs) else {
                            return conv2d_i16(p, input, weights, bias, multiplier, shift, output);
                        };
                        let segs = &segs[..n];
                        let out = &mut output[((b * out_h + oy) * out_w + ox) * out_c..][..out_c];
                        let mut oc = 0;
                        while oc + 4 <= out_c {
                            let rows = [0, 1, 2, 3].map(|j| (oc + j) * per_oc);
                            // SAFETY: `conv_segs` keeps every run inside the input and inside
                            // one output channel's weights, and `oc + 3 < out_c`.
                            let sums = dots::<4>(&src, segs, rows);
                            for (j, sum) in sums.into_iter().enumerate() {
                                let c = oc + j;
                                let o = &mut out[c];
                                store(
                                    o,
                                    sum,
                                    bias.get(c).copied(),
                                    p.acc32,
                                    multiplier[c],
                                    shift[c],
                                    act,
                                );
                            }
                            oc += 4;
                        }
                        for c in oc..out_c {
                            // SAFETY: as above, for the single channel `c < out_c`.
                            let [sum] = dots::<1>(&src, segs, [c * per_oc]);
                            store(
                                &mut out[c],
                                sum,
                                bias.get(c).copied(),
                                p.acc32,
                                multiplier[c],
                                shift[c],
                                act,
                            );
                        }
                    }
                }
            }
        }

        /// 16x8 fully connected layer; a per-tensor weight offset goes to
        /// [`fully_connected_i16`].
        ///
        /// # Safety
        /// As [`conv`].
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn fully_connected(
            p: &FullyConnectedI16,
            input: &[i16],
            weights: &[i8],
            bias: &[i64],
            multiplier: &[i32],
            shift: &[i32],
            output: &mut [i16],
        ) {
            let per_channel = multiplier.len() > 1;
            if !per_channel && p.weights_offset != 0 {
                return fully_connected_i16(p, input, weights, bias, multiplier, shift, output);
            }
            let (depth, out_depth) = (p.in_depth as usize, p.out_depth as usize);
            let act = (p.rq.act_min, p.rq.act_max);
            let q = |oc: usize| if per_channel { oc } else { 0 };
            let src = Src::new(input, weights);
            for b in 0..p.batches as usize {
                let seg = [Seg {
                    x: b * depth,
                    w: 0,
                    len: depth,
                }];
                let out = &mut output[b * out_depth..][..out_depth];
                let mut oc = 0;
                while oc + 4 <= out_depth {
                    let rows = [0, 1, 2, 3].map(|j| (oc + j) * depth);
                    // SAFETY: row `b` of the input and rows `oc..oc + 4` of the weights exist
                    // (the entry checked both sizes).
                    let sums = dots::<4>(&src, &seg, rows);
                    for (j, sum) in sums.into_iter().enumerate() {
                        let c = oc + j;
                        store(
                            &mut out[c],
                            sum,
                            bias.get(c).copied(),
                            false,
                            multiplier[q(c)],
                            shift[q(c)],
                            act,
                        );
                    }
                    oc += 4;
                }
                for c in oc..out_depth {
                    // SAFETY: as above, for row `c < out_depth`.
                    let [sum] = dots::<1>(&src, &seg, [c * depth]);
                    store(
                        &mut out[c],
                        sum,
                        bias.get(c).copied(),
                        false,
                        multiplier[q(c)],
                        shift[q(c)],
                        act,
                    );
                }
            }
        }

        /// 16x8 depthwise convolution with depth multiplier 1: `L` channels across the
        /// lanes, taps paired into `pmaddwd`s. Other multipliers, and filters with more than
        /// `MAX_SEGS` taps, go to [`depthwise_conv2d_i16`].
        ///
        /// # Safety
        /// As [`conv`].
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn depthwise(
            p: &DepthwiseConv2dI16,
            input: &[i16],
            weights: &[i8],
            bias: &[i64],
            multiplier: &[i32],
            shift: &[i32],
            output: &mut [i16],
        ) {
            let g = &p.geom;
            if p.depth_multiplier != 1 || (g.k_h * g.k_w) as usize > MAX_SEGS {
                return depthwise_conv2d_i16(p, input, weights, bias, multiplier, shift, output);
            }
            let (in_h, in_w, c_n) = (g.in_h as usize, g.in_w as usize, g.in_c as usize);
            let (out_h, out_w, k_w) = (g.out_h as usize, g.out_w as usize, g.k_w as usize);
            let act = (p.rq.act_min, p.rq.act_max);
            // (input offset of the pixel, weight offset of the tap), channel 0.
            let mut taps = [(0usize, 0usize); MAX_SEGS];
            let src = Src::new(input, weights);
            for b in 0..g.batches as usize {
                for oy in 0..out_h {
                    for ox in 0..out_w {
                        let mut n = 0;
                        for ky in 0..g.k_h {
                            let Some(iy) =
                                tap(oy as u32, g.stride_h, g.pad_top, ky, g.dilation_h, g.in_h)
                            else {
                                continue;
                            };
                            for kx in 0..g.k_w {
                                let Some(ix) = tap(
                                    ox as u32,
                                    g.stride_w,
                                    g.pad_left,
                                    kx,
                                    g.dilation_w,
                                    g.in_w,
                                ) else {
                                    continue;
                                };
                                // `n < k_h * k_w <= MAX_SEGS`.
                                taps[n] = (
                                    ((b * in_h + iy) * in_w + ix) * c_n,
                                    (ky as usize * k_w + kx as usize) * c_n,
                                );
                                n += 1;
                            }
                        }
                        let taps = &taps[..n];
                        let out = &mut output[((b * out_h + oy) * out_w + ox) * c_n..][..c_n];
                        let mut c = 0;
                        while c < c_n {
                            // A block past the last channel may read whole vectors if they stay
                            // inside both slices (the extra lanes are computed, not stored);
                            // the last tap reads furthest in both.
                            let mut acc = [zero(); 2];
                            let mut wide = [0i64; L];
                            let mut steps = 0;
                            for pair in taps.chunks(2) {
                                // SAFETY: a tap's channel `c < c_n` lies inside both slices,
                                // and `Src` returns `L` readable values from there (the lanes
                                // past the last channel are computed, never stored).
                                let (x0, w0) = pair[0];
                                let xa = load_x(src.x_ptr(x0 + c, L));
                                let wa = load_w(src.w_ptr(w0 + c, L));
                                let (xb, wb) = match pair.get(1) {
                                    Some(&(x1, w1)) => {
                                        (load_x(src.x_ptr(x1 + c, L)), load_w(src.w_ptr(w1 + c, L)))
                                    }
                                    None => (zero(), zero()),
                                };
                                let (xl, xh) = unpack(xa, xb);
                                let (wl, wh) = unpack(wa, wb);
                                acc[0] = madd(acc[0], xl, wl);
                                acc[1] = madd(acc[1], xh, wh);
                                steps += 1;
                                if steps == FLUSH {
                                    flush_dw(&mut acc, &mut wide);
                                    steps = 0;
                                }
                            }
                            flush_dw(&mut acc, &mut wide);
                            let m = L.min(c_n - c);
                            for (i, (o, &sum)) in out[c..c + m].iter_mut().zip(&wide).enumerate() {
                                let ch = c + i;
                                store(
                                    o,
                                    sum,
                                    bias.get(ch).copied(),
                                    false,
                                    multiplier[ch],
                                    shift[ch],
                                    act,
                                );
                            }
                            c += L;
                        }
                    }
                }
            }
        }
    };
}

/// AVX2: 16 int16 lanes.
mod avx2 {
    use super::*;
    use core::arch::x86_64::*;

    type V = __m256i;
    const L: usize = 16;

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn zero() -> V {
        _mm256_setzero_si256()
    }

    /// 16 int16 values from `p`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_x(p: *const i16) -> V {
        _mm256_loadu_si256(p as *const V)
    }

    /// 16 int8 values from `p`, sign-extended to int16.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_w(p: *const i8) -> V {
        _mm256_cvtepi8_epi16(_mm_loadu_si128(p as *const __m128i))
    }

    /// `acc + pmaddwd(x, w)` in 32-bit lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn madd(acc: V, x: V, w: V) -> V {
        _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn and(a: V, b: V) -> V {
        _mm256_and_si256(a, b)
    }

    /// All ones in the first `r` (< 16) int16 lanes, zeros after.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lane_mask(r: usize) -> V {
        static MASK: [i16; 32] = {
            let mut m = [0i16; 32];
            let mut i = 0;
            while i < 16 {
                m[i] = -1;
                i += 1;
            }
            m
        };
        // SAFETY: `16 - r` is in 1..=16, so the 16 values read lie within `MASK`.
        _mm256_loadu_si256(MASK.as_ptr().add(16 - r) as *const V)
    }

    /// The horizontal sums of four accumulators (in 32 bits: exact under `FLUSH`).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn reduce4(a: [V; 4]) -> [i32; 4] {
        let h = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
        let s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        let mut out = [0i32; 4];
        _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, s);
        out
    }

    /// The horizontal sum of one accumulator (exact under `FLUSH`).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn reduce1(a: V) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    /// Interleaves the int16 lanes of `a` and `b` (within each 128-bit half, as `punpck*wd`
    /// do): the low halves' pairs, then the high halves' pairs.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn unpack(a: V, b: V) -> (V, V) {
        (_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b))
    }

    /// The 32-bit lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lanes32(a: V) -> [i32; 8] {
        let mut out = [0i32; 8];
        _mm256_storeu_si256(out.as_mut_ptr() as *mut V, a);
        out
    }

    /// One 32-bit value (an int16 pair) from `p` in every lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn bcast32(p: *const i32) -> V {
        _mm256_set1_epi32(p.read_unaligned())
    }

    /// Lane-wise 32-bit addition.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn add32(a: V, b: V) -> V {
        _mm256_add_epi32(a, b)
    }

    kernels!("avx2");
}

/// SSE4.1: 8 int16 lanes.
mod sse41 {
    use super::*;
    use core::arch::x86_64::*;

    type V = __m128i;
    const L: usize = 8;

    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn zero() -> V {
        _mm_setzero_si128()
    }

    /// 8 int16 values from `p`.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn load_x(p: *const i16) -> V {
        _mm_loadu_si128(p as *const V)
    }

    /// 8 int8 values from `p`, sign-extended to int16.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn load_w(p: *const i8) -> V {
        _mm_cvtepi8_epi16(_mm_loadl_epi64(p as *const V))
    }

    /// `acc + pmaddwd(x, w)` in 32-bit lanes.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn madd(acc: V, x: V, w: V) -> V {
        _mm_add_epi32(acc, _mm_madd_epi16(x, w))
    }

    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn and(a: V, b: V) -> V {
        _mm_and_si128(a, b)
    }

    /// All ones in the first `r` (< 8) int16 lanes, zeros after.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn lane_mask(r: usize) -> V {
        static MASK: [i16; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
        // SAFETY: `8 - r` is in 1..=8, so the 8 values read lie within `MASK`.
        _mm_loadu_si128(MASK.as_ptr().add(8 - r) as *const V)
    }

    /// The horizontal sums of four accumulators (in 32 bits: exact under `FLUSH`).
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn reduce4(a: [V; 4]) -> [i32; 4] {
        let s = _mm_hadd_epi32(_mm_hadd_epi32(a[0], a[1]), _mm_hadd_epi32(a[2], a[3]));
        let mut out = [0i32; 4];
        _mm_storeu_si128(out.as_mut_ptr() as *mut V, s);
        out
    }

    /// The horizontal sum of one accumulator (exact under `FLUSH`).
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn reduce1(a: V) -> i32 {
        let s = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    /// Interleaves the int16 lanes of `a` and `b`: the low halves' pairs, then the high's.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn unpack(a: V, b: V) -> (V, V) {
        (_mm_unpacklo_epi16(a, b), _mm_unpackhi_epi16(a, b))
    }

    /// The 32-bit lanes.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn lanes32(a: V) -> [i32; 4] {
        let mut out = [0i32; 4];
        _mm_storeu_si128(out.as_mut_ptr() as *mut V, a);
        out
    }

    /// One 32-bit value (an int16 pair) from `p` in every lane.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn bcast32(p: *const i32) -> V {
        _mm_set1_epi32(p.read_unaligned())
    }

    /// Lane-wise 32-bit addition.
    #[target_feature(enable = "sse4.1")]
    #[inline]
    unsafe fn add32(a: V, b: V) -> V {
        _mm_add_epi32(a, b)
    }

    kernels!("sse4.1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use ferrite_core::ops::{ConvGeometry, Requant};
    use ferrite_core::{ConstRef, TensorId};
    use proptest::prelude::*;
    extern crate std;
    use std::vec::Vec;

    /// Random int16 activations, a quarter of them the extremes.
    fn xs(rng: &mut Rng, n: usize) -> Vec<i16> {
        (0..n)
            .map(|_| match rng.next() % 8 {
                0 => i16::MIN,
                1 => i16::MAX,
                _ => rng.next() as i16,
            })
            .collect()
    }

    /// Random int8 weights, a quarter of them the extremes.
    fn ws(rng: &mut Rng, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| match rng.next() % 8 {
                0 => i8::MIN,
                1 => i8::MAX,
                _ => rng.next() as i8,
            })
            .collect()
    }

    /// Per-channel multipliers and shifts across TFLM's int64 range (`-31..=7`), most of
    /// them in the range that keeps outputs off the clamp.
    fn requant(rng: &mut Rng, n: usize) -> (Vec<i32>, Vec<i32>) {
        let m = (0..n)
            .map(|_| (1 << 30) + ((rng.next() as u32) >> 2) as i32)
            .collect();
        let s = (0..n)
            .map(|_| match rng.next() % 4 {
                0 => (rng.next() % 39) as i32 - 31,
                _ => (rng.next() % 12) as i32 - 24,
            })
            .collect();
        (m, s)
    }

    fn bias(rng: &mut Rng, n: usize, with: bool) -> Vec<i64> {
        if with {
            (0..n).map(|_| (rng.next() as i64) >> 30).collect()
        } else {
            Vec::new()
        }
    }

    fn rq(act_min: i32, act_max: i32) -> Requant {
        Requant {
            multiplier: ConstRef::EMPTY,
            shift: ConstRef::EMPTY,
            input_offset: 0,
            output_offset: 0,
            act_min,
            act_max,
        }
    }

    /// `(k_h, k_w, stride_h, stride_w, dilation_h, dilation_w)` and `(in_h, in_w, out_h,
    /// out_w, pad_top, pad_left)`: any combination is valid for the kernels, which skip taps
    /// outside the input.
    #[allow(clippy::type_complexity)]
    fn geom(
        (k_h, k_w, s_h, s_w, d_h, d_w): (u32, u32, u32, u32, u32, u32),
        (in_h, in_w, out_h, out_w, pad_t, pad_l): (u32, u32, u32, u32, u32, u32),
        batches: u32,
        in_c: u32,
        out_c: u32,
    ) -> ConvGeometry {
        ConvGeometry {
            batches,
            in_h,
            in_w,
            in_c,
            out_h,
            out_w,
            out_c,
            k_h,
            k_w,
            stride_h: s_h,
            stride_w: s_w,
            dilation_h: d_h,
            dilation_w: d_w,
            pad_top: pad_t % k_h,
            pad_left: pad_l % k_w,
        }
    }

    fn n_in(g: &ConvGeometry) -> usize {
        (g.batches * g.in_h * g.in_w * g.in_c) as usize
    }

    fn n_out(g: &ConvGeometry) -> usize {
        (g.batches * g.out_h * g.out_w * g.out_c) as usize
    }

    /// Which convolution path a test runs.
    #[derive(Debug, Clone, Copy)]
    enum Path {
        /// What the entry picks.
        Dispatch,
        /// Dot products along runs, whatever the shape.
        Runs,
        /// Channels across lanes, whatever the run length (if the weights fit).
        Lanes,
    }

    /// The convolution on `isa` through `path` (`None` if the weights do not fit `Lanes`).
    #[allow(clippy::too_many_arguments)]
    fn conv_fast(
        isa: Isa,
        path: Path,
        p: &Conv2dI16,
        x: &[i16],
        w: &[i8],
        b: &[i64],
        m: &[i32],
        s: &[i32],
    ) -> Option<Vec<i16>> {
        let mut out = std::vec![0i16; n_out(&p.geom)];
        let g = &p.geom;
        let k = (g.k_h * g.k_w * g.in_c) as usize;
        let lanes = if isa == Isa::Sse41 { 4 } else { 8 };
        let fit = if p.groups == 1 {
            lanes_fit(k, g.out_c as usize, lanes)
        } else {
            None
        };
        // SAFETY: `isas()` lists only instruction sets this CPU has; `fit` is `lanes_fit`'s.
        unsafe {
            match (isa, path, fit) {
                (Isa::Sse41, Path::Dispatch, _) => sse41::conv(p, x, w, b, m, s, &mut out),
                (Isa::Sse41, Path::Runs, _) => sse41::conv_runs(p, x, w, b, m, s, &mut out),
                (Isa::Sse41, Path::Lanes, Some(f)) => {
                    sse41::conv_lanes(p, x, w, b, m, s, &mut out, f)
                }
                (_, Path::Dispatch, _) => avx2::conv(p, x, w, b, m, s, &mut out),
                (_, Path::Runs, _) => avx2::conv_runs(p, x, w, b, m, s, &mut out),
                (_, Path::Lanes, Some(f)) => avx2::conv_lanes(p, x, w, b, m, s, &mut out, f),
                (_, Path::Lanes, None) => return None,
            }
        }
        Some(out)
    }

    fn dw_fast(
        isa: Isa,
        p: &DepthwiseConv2dI16,
        x: &[i16],
        w: &[i8],
        b: &[i64],
        m: &[i32],
        s: &[i32],
    ) -> Vec<i16> {
        let mut out = std::vec![0i16; n_out(&p.geom)];
        // SAFETY: `isas()` lists only instruction sets this CPU has.
        unsafe {
            match isa {
                Isa::Sse41 => sse41::depthwise(p, x, w, b, m, s, &mut out),
                Isa::Avx2 | Isa::Avx512Vnni => avx2::depthwise(p, x, w, b, m, s, &mut out),
                _ => unreachable!(),
            }
        }
        out
    }

    fn fc_fast(
        isa: Isa,
        p: &FullyConnectedI16,
        x: &[i16],
        w: &[i8],
        b: &[i64],
        m: &[i32],
        s: &[i32],
    ) -> Vec<i16> {
        let mut out = std::vec![0i16; (p.batches * p.out_depth) as usize];
        // SAFETY: `isas()` lists only instruction sets this CPU has.
        unsafe {
            match isa {
                Isa::Sse41 => sse41::fully_connected(p, x, w, b, m, s, &mut out),
                Isa::Avx2 | Isa::Avx512Vnni => avx2::fully_connected(p, x, w, b, m, s, &mut out),
                _ => unreachable!(),
            }
        }
        out
    }

    fn conv_layer(g: ConvGeometry, groups: u32, acc32: bool, act: (i32, i32)) -> Conv2dI16 {
        Conv2dI16 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            groups,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            acc32,
            rq: rq(act.0, act.1),
        }
    }

    fn fc_layer(
        batches: u32,
        in_depth: u32,
        out_depth: u32,
        weights_offset: i32,
    ) -> FullyConnectedI16 {
        FullyConnectedI16 {
            input: TensorId(0),
            output: TensorId(1),
            batches,
            in_depth,
            out_depth,
            weights: ConstRef::EMPTY,
            weights_offset,
            bias: ConstRef::EMPTY,
            rq: rq(-32768, 32767),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn conv_is_bit_exact(
            k in (1u32..5, 1u32..5, 1u32..3, 1u32..3, 1u32..3, 1u32..3),
            sp in (1u32..7, 1u32..7, 1u32..6, 1u32..6, 0u32..4, 0u32..4),
            (batches, in_c, out_c) in (1u32..3, 1u32..40, 1u32..11),
            groups in prop_oneof![4 => Just(1u32), 1 => Just(2u32)],
            (acc32, with_bias, clamp) in (any::<bool>(), any::<bool>(), any::<bool>()),
            seed in any::<u64>(),
        ) {
            let (in_c, out_c) = (in_c * groups, out_c * groups);
            let g = geom(k, sp, batches, in_c, out_c);
            let mut rng = Rng(seed | 1);
            let x = xs(&mut rng, n_in(&g));
            let w = ws(&mut rng, (out_c * g.k_h * g.k_w * in_c / groups) as usize);
            let b = bias(&mut rng, out_c as usize, with_bias);
            let (m, s) = requant(&mut rng, out_c as usize);
            let act = if clamp { (-1000, 20000) } else { (-32768, 32767) };
            let p = conv_layer(g, groups, acc32, act);
            let mut want = std::vec![0i16; n_out(&g)];
            conv2d_i16(&p, &x, &w, &b, &m, &s, &mut want);
            for isa in isas() {
                for path in [Path::Dispatch, Path::Runs, Path::Lanes] {
                    // Grouped layers run the reference whichever path is asked for.
                    if let Some(got) = conv_fast(isa, path, &p, &x, &w, &b, &m, &s) {
                        prop_assert_eq!(&got, &want, "{} {:?}", isa, path);
                    }
                }
            }
        }

        #[test]
        fn depthwise_is_bit_exact(
            k in (1u32..6, 1u32..6, 1u32..3, 1u32..3, 1u32..3, 1u32..3),
            sp in (1u32..7, 1u32..7, 1u32..6, 1u32..6, 0u32..5, 0u32..5),
            (batches, in_c) in (1u32..3, 1u32..40),
            dm in prop_oneof![4 => Just(1u32), 1 => 2u32..4],
            (with_bias, clamp) in (any::<bool>(), any::<bool>()),
            seed in any::<u64>(),
        ) {
            let g = geom(k, sp, batches, in_c, in_c * dm);
            let mut rng = Rng(seed | 1);
            let x = xs(&mut rng, n_in(&g));
            let w = ws(&mut rng, (g.k_h * g.k_w * g.out_c) as usize);
            let b = bias(&mut rng, g.out_c as usize, with_bias);
            let (m, s) = requant(&mut rng, g.out_c as usize);
            let act = if clamp { (-1000, 20000) } else { (-32768, 32767) };
            let p = DepthwiseConv2dI16 {
                input: TensorId(0), output: TensorId(1), geom: g, depth_multiplier: dm,
                weights: ConstRef::EMPTY, bias: ConstRef::EMPTY, rq: rq(act.0, act.1),
            };
            let mut want = std::vec![0i16; n_out(&g)];
            depthwise_conv2d_i16(&p, &x, &w, &b, &m, &s, &mut want);
            for isa in isas() {
                prop_assert_eq!(&dw_fast(isa, &p, &x, &w, &b, &m, &s), &want, "{}", isa);
            }
        }

        #[test]
        fn fully_connected_is_bit_exact(
            (batches, in_depth, out_depth) in (1u32..4, 1u32..700, 1u32..12),
            per_channel in any::<bool>(),
            weights_offset in prop_oneof![4 => Just(0i32), 1 => -127i32..128],
            with_bias in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = Rng(seed | 1);
            let x = xs(&mut rng, (batches * in_depth) as usize);
            let w = ws(&mut rng, (in_depth * out_depth) as usize);
            let b = bias(&mut rng, out_depth as usize, with_bias);
            let (m, s) = requant(&mut rng, if per_channel { out_depth as usize } else { 1 });
            let p = fc_layer(batches, in_depth, out_depth, weights_offset);
            let mut want = std::vec![0i16; (batches * out_depth) as usize];
            fully_connected_i16(&p, &x, &w, &b, &m, &s, &mut want);
            for isa in isas() {
                prop_assert_eq!(&fc_fast(isa, &p, &x, &w, &b, &m, &s), &want, "{}", isa);
            }
        }
    }

    /// Requantization that maps sums near `±2^34` to outputs well inside int16: a 32-bit
    /// accumulator that wrapped would land elsewhere.
    const BIG_M: i32 = 1 << 30;
    const BIG_S: i32 = -31;

    /// Products of extremes summed past 32 bits: the fast paths must keep the exact int64
    /// sum. Each check first shows the case overflows (the reference's sum leaves the int32
    /// range, and requantizing the sum wrapped to 32 bits gives another output).
    #[test]
    fn sums_beyond_32_bits_are_exact() {
        // FC: 4099 inputs of -32768 (a tail of 3 past the vector width) against weights of
        // -128 (sum 4099 * 2^22 ~ 2^34), 127, and alternating extremes.
        let depth = 4099usize;
        let out_depth = 6usize;
        let x = std::vec![i16::MIN; depth];
        let mut w = Vec::new();
        for oc in 0..out_depth {
            w.extend((0..depth).map(|k| match oc {
                0 => i8::MIN,
                1 => i8::MAX,
                _ if (k + oc) % 3 == 0 => i8::MAX,
                _ => i8::MIN,
            }));
        }
        let (m, s) = (std::vec![BIG_M; out_depth], std::vec![BIG_S; out_depth]);
        let p = fc_layer(1, depth as u32, out_depth as u32, 0);
        let mut want = std::vec![0i16; out_depth];
        fully_connected_i16(&p, &x, &w, &[], &m, &s, &mut want);
        let sum0 = depth as i64 * (1 << 22);
        assert!(sum0 > i32::MAX as i64);
        assert_eq!(want[0] as i32, requant_i16(sum0, None, false, BIG_M, BIG_S));
        assert_ne!(
            want[0] as i32,
            requant_i16((sum0 as i32) as i64, None, false, BIG_M, BIG_S)
        );
        let mut ran = 0;
        for isa in isas() {
            assert_eq!(fc_fast(isa, &p, &x, &w, &[], &m, &s), want, "{isa}");
            ran += 1;
        }

        // CONV: 3x3 over 600 channels of 32767 / -32768 (5400 products per output).
        let in_c = 600u32;
        let g = geom((3, 3, 1, 1, 1, 1), (3, 3, 3, 3, 1, 1), 1, in_c, 5);
        let x: Vec<i16> = (0..n_in(&g))
            .map(|i| if i % 7 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let w: Vec<i8> = (0..(5 * 9 * in_c) as usize)
            .map(|i| if i % 5 == 0 { i8::MAX } else { i8::MIN })
            .collect();
        let (m, s) = (std::vec![BIG_M; 5], std::vec![BIG_S; 5]);
        let b = std::vec![1i64 << 33; 5];
        for acc32 in [false, true] {
            let p = conv_layer(g, 1, acc32, (-32768, 32767));
            let mut want = std::vec![0i16; n_out(&g)];
            conv2d_i16(&p, &x, &w, &b, &m, &s, &mut want);
            // The centre output reads all 9 taps.
            let centre = (4 * 5) as usize;
            let sum: i64 = (0..9 * in_c as usize)
                .map(|i| x[i] as i64 * w[i] as i64)
                .sum();
            assert!(sum.abs() > i32::MAX as i64);
            if !acc32 {
                assert_eq!(
                    want[centre] as i32,
                    requant_i16(sum, Some(b[0]), false, BIG_M, BIG_S)
                );
                assert_ne!(
                    want[centre] as i32,
                    requant_i16((sum as i32) as i64, Some(b[0]), false, BIG_M, BIG_S)
                );
            }
            for isa in isas() {
                assert_eq!(
                    conv_fast(isa, Path::Dispatch, &p, &x, &w, &b, &m, &s),
                    Some(want.clone()),
                    "{isa} acc32={acc32}"
                );
            }
        }

        // CONV with channels across lanes: 1x1 over 1000 channels into 8 (the weights fit
        // the stack layout; 500 steps per lane, past `FLUSH_LANES`).
        let in_c = 1000u32;
        let g = geom((1, 1, 1, 1, 1, 1), (2, 2, 2, 2, 0, 0), 1, in_c, 8);
        assert!(
            lanes_fit(in_c as usize, 8, 4).is_some() && lanes_fit(in_c as usize, 8, 8).is_some()
        );
        let x: Vec<i16> = (0..n_in(&g))
            .map(|i| if i % 31 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let w: Vec<i8> = (0..(8 * in_c) as usize)
            .map(|i| if i % 7 == 0 { i8::MAX } else { i8::MIN })
            .collect();
        let (m, s) = (std::vec![BIG_M; 8], std::vec![BIG_S; 8]);
        let p = conv_layer(g, 1, false, (-32768, 32767));
        let mut want = std::vec![0i16; n_out(&g)];
        conv2d_i16(&p, &x, &w, &[], &m, &s, &mut want);
        let sum: i64 = (0..in_c as usize).map(|i| x[i] as i64 * w[i] as i64).sum();
        assert!(sum.abs() > i32::MAX as i64);
        assert_eq!(want[0] as i32, requant_i16(sum, None, false, BIG_M, BIG_S));
        assert_ne!(
            want[0] as i32,
            requant_i16((sum as i32) as i64, None, false, BIG_M, BIG_S)
        );
        for isa in isas() {
            assert_eq!(
                conv_fast(isa, Path::Lanes, &p, &x, &w, &[], &m, &s),
                Some(want.clone()),
                "{isa} lanes"
            );
        }

        // DEPTHWISE: an 8x8 filter (64 taps, 32 pairs: past `FLUSH`) of extremes.
        let g = geom((8, 8, 1, 1, 1, 1), (8, 8, 1, 1, 0, 0), 1, 20, 20);
        let x = std::vec![i16::MIN; n_in(&g)];
        let w = std::vec![i8::MIN; (64 * 20) as usize];
        let (m, s) = (std::vec![BIG_M; 20], std::vec![-20; 20]);
        let p = DepthwiseConv2dI16 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
            depth_multiplier: 1,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            rq: rq(-32768, 32767),
        };
        let mut want = std::vec![0i16; n_out(&g)];
        depthwise_conv2d_i16(&p, &x, &w, &[], &m, &s, &mut want);
        assert_eq!(
            want[0] as i32,
            requant_i16(64 << 22, None, false, BIG_M, -20)
        );
        for isa in isas() {
            assert_eq!(dw_fast(isa, &p, &x, &w, &[], &m, &s), want, "{isa}");
        }
        // A machine without SSE4.1 would test nothing here: say so rather than pass silently.
        assert!(ran > 0, "no x86 instruction set to test");
    }
}
