//! CONV_2D as an int8 GEMM for the Helium (MVE) kernels ([`Op::ConvHeliumI8`]).
//!
//! Output pixels go two at a time: their taps are gathered (im2col) into int8 rows of
//! `k16 * 16` bytes — or, for a pointwise convolution over every input pixel, read in place —
//! and each group of four output channels takes 16 taps of both pixels per step. Gathering
//! copies the window rows out of input rows padded with the input zero point (each input row
//! copied once per output row), so padding costs nothing per pixel. Bytes of a row past the
//! filter size meet zero weights: an in-place row may run into the next pixel's channels. The converter folds the input
//! offset into the bias, so padding taps contribute `w * (zp + input_offset) = 0` (TFLite Micro
//! skips them), and every sum wraps like the reference's. The output stage is TFLite's
//! `MultiplyByQuantizedMultiplier` plus zero point and clamp, for any zero point and fused
//! activation: the layer's output equals [`crate::ops::conv::conv2d_i8`]'s byte for byte.
//!
//! On a Cortex-M55 built with the `helium` feature the GEMM runs in assembly
//! ([`crate::arch::helium::gemm`]); elsewhere the portable code below computes the same
//! values, and it is the definition the assembly is tested against.

use crate::util::{check_conv_activations, check_conv_reach, expect_op, product};
use ferrite_core::fixed::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{ConvGeometry, ConvHeliumI8, Op};
use ferrite_core::{Ctx, Error, Result};

/// Words of output stage per group of four channels: four biases, four left shifts, four
/// multipliers, four negated right shifts.
pub const GROUP_WORDS: usize = 16;

/// Whether a convolution of this geometry reads its GEMM rows straight from the input: a
/// pointwise convolution over every input pixel (1x1, stride 1, no padding, output size =
/// input size).
pub fn reads_in_place(g: &ConvGeometry) -> bool {
    g.k_h == 1
        && g.k_w == 1
        && g.out_h == g.in_h
        && g.out_w == g.in_w
        && g.stride_h == 1
        && g.stride_w == 1
        && g.pad_top == 0
        && g.pad_left == 0
}

/// Columns of a padded input row: the left padding, the input row, and as much right padding
/// as the last output pixel's window reaches.
pub fn padded_columns(g: &ConvGeometry) -> u64 {
    let reach = (g.out_w as u64).saturating_sub(1) * g.stride_w as u64
        + (g.k_w as u64).saturating_sub(1) * g.dilation_w as u64
        + 1;
    reach.max(g.pad_left as u64 + g.in_w as u64)
}

/// Tallest filter the kernel takes.
pub const MAX_K_H: usize = 16;

/// Bytes of GEMM rows gathered per run: enough pixels to spread a run's fixed cost (about 150
/// instructions), few enough bytes to keep the scratch, and so the arena, small.
pub const RUN_BYTES: usize = 1024;

/// Pixels per GEMM run of a gathered convolution: [`RUN_BYTES`] of rows (an even number, at
/// least 2), at most the output row.
pub fn run_pixels(g: &ConvGeometry, k16: usize) -> usize {
    let row = (16 * k16).max(1);
    ((RUN_BYTES / row).max(2) & !1).min(g.out_w as usize)
}

/// Bytes of arena scratch [`run_conv_helium_i8`] needs: the two pixels' outputs of a last,
/// partial group of channels (8 bytes), then either one GEMM row of `k16 * 16` bytes (rows read
/// in place) or the GEMM rows of a run of [`run_pixels`] pixels and `k_h + 1` padded input rows
/// (the window's rows and one of padding).
pub fn scratch_bytes(g: &ConvGeometry, k16: usize) -> u64 {
    let row = 16 * k16 as u64;
    8 + if reads_in_place(g) {
        row
    } else {
        run_pixels(g, k16) as u64 * row + (g.k_h as u64 + 1) * padded_columns(g) * g.in_c as u64
    }
}

/// The output stage of the Helium kernels on a 32-bit accumulator: TFLite's
/// `MultiplyByQuantizedMultiplier(acc, multiplier, shift)` with `left_shift = max(shift, 0)`
/// and `neg_right_shift = min(shift, 0)`, then `+sat output_offset` and the clamp.
#[inline(always)]
pub fn output_stage(
    acc: i32,
    left_shift: i32,
    multiplier: i32,
    neg_right_shift: i32,
    output_offset: i32,
    act_min: i32,
    act_max: i32,
) -> i8 {
    let v = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(acc.wrapping_shl(left_shift as u32), multiplier),
        neg_right_shift.wrapping_neg(),
    );
    v.saturating_add(output_offset).max(act_min).min(act_max) as i8
}

/// Kernel entry for [`Op::ConvHeliumI8`].
pub fn run_conv_helium_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ConvHeliumI8);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let params = ctx.consts(p.params)?;
    check_conv_reach(layer, g)?;
    if g.k_h as usize > MAX_K_H {
        return Err(err("filter taller than 16 rows"));
    }
    let k = product(&[g.k_h, g.k_w, g.in_c]);
    let k16 = p.k16 as u64;
    if k == 0 || k16 != k.div_ceil(16) {
        return Err(err("k16 does not match the filter size"));
    }
    let groups = (g.out_c as u64).div_ceil(4);
    if groups == 0
        || weights.len() as u64 != groups * k16 * 64
        || params.len() as u64 != groups * GROUP_WORDS as u64
    {
        return Err(err("weights or output stage do not match the geometry"));
    }
    let bad_shift = |q: &[i32]| {
        q.get(4..8)
            .is_none_or(|l| l.iter().any(|l| !(0..=31).contains(l)))
            || q.get(12..16)
                .is_none_or(|r| r.iter().any(|r| !(-31..=0).contains(r)))
    };
    if params.chunks_exact(GROUP_WORDS).any(bad_shift) {
        return Err(err("requantization shift out of range"));
    }
    if (p.scratch_bytes as u64) < scratch_bytes(g, p.k16 as usize) {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    conv_helium_i8(
        p,
        input,
        weights,
        params,
        output,
        bytemuck::cast_slice_mut(scratch),
    );
    Ok(())
}

/// The convolution. Slices must match `p` (the kernel entry checks them); `scratch` holds
/// [`scratch_bytes`] bytes.
pub fn conv_helium_i8(
    p: &ConvHeliumI8,
    input: &[i8],
    weights: &[i8],
    params: &[i32],
    output: &mut [i8],
    scratch: &mut [i8],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let row = p.k16 as usize * 16;
        let out_c = g.out_c as usize;
        let in_c = g.in_c as usize;
        if row == 0 || in_c == 0 {
            return None;
        }
        let (tail, scratch) = scratch.split_at_mut_checked(8)?;
        let zp = p.input_zero_point as i8;
        if reads_in_place(g) {
            let pixels = (g.batches * g.out_h * g.out_w) as usize;
            // Pixel `i`'s row starts at its channels (its bytes past `in_c` meet zero weights);
            // the last few, whose rows would run past the input, are copied.
            let inside = match input.len().checked_sub(row) {
                Some(room) => (room / in_c + 1).min(pixels),
                None => 0,
            };
            let gemm = Gemm::new(p, weights, params);
            gemm.run(input, in_c, inside, output, 0, tail)?;
            let r = scratch.get_mut(..row)?;
            for i in inside..pixels {
                copy(r, input.get(i * in_c..(i + 1) * in_c)?);
                gemm.run(r, 0, 1, output, i * out_c, tail)?;
            }
            return Some(());
        }
        let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
        let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
        let (k_h, k_w) = (g.k_h as usize, g.k_w as usize);
        if out_w == 0 {
            return Some(());
        }
        let run_px = run_pixels(g, p.k16 as usize);
        if run_px == 0 {
            return None;
        }
        let gemm = Gemm::new(p, weights, params);
        let (rows, padded) = scratch.split_at_mut_checked(run_px * row)?;
        let row_bytes = padded_columns(g) as usize * in_c;
        let padded = padded.get_mut(..(k_h + 1) * row_bytes)?;
        // Padding everywhere; input rows overwrite their part of slots 0..k_h, slot k_h stays
        // padding.
        fill(padded, zp);
        let left = g.pad_left as usize * in_c;
        let span = k_w * in_c;
        for b in 0..g.batches as usize {
            for oy in 0..g.out_h {
                // The window's rows: slot `ky` holds input row `iy(ky)`, or the padding slot.
                let mut slot = [k_h; MAX_K_H];
                for (ky, s) in slot.iter_mut().enumerate().take(k_h) {
                    if let Some(iy) = crate::ops::conv::tap(
                        oy,
                        g.stride_h,
                        g.pad_top,
                        ky as u32,
                        g.dilation_h,
                        g.in_h,
                    ) {
                        let at = (b * in_h + iy) * in_w * in_c;
                        let src = input.get(at..at + in_w * in_c)?;
                        let at = ky * row_bytes + left;
                        copy(padded.get_mut(at..at + in_w * in_c)?, src);
                        *s = ky;
                    }
                }
                let padded: &[i8] = padded;
                // Checked here once (each slot is at most `k_h`, and `padded` holds `k_h + 1`
                // rows), so that the pointers below need no check.
                if slot.iter().any(|&s| s * row_bytes > padded.len()) {
                    return None;
                }
                #[cfg(all(target_arch = "arm", feature = "helium"))]
                let sources: [*const i8; MAX_K_H] =
                    slot.map(|s| padded.as_ptr().wrapping_add(s * row_bytes));
                let base = (b * out_h + oy as usize) * out_w;
                // Runs of `run_px` pixels: their GEMM rows, then one GEMM call.
                for first in (0..out_w).step_by(run_px) {
                    let n = (out_w - first).min(run_px);
                    for (i, dst) in rows.chunks_exact_mut(row).take(n).enumerate() {
                        let x0 = (first + i) * g.stride_w as usize * in_c;
                        #[cfg(all(target_arch = "arm", feature = "helium"))]
                        if g.dilation_w == 1 {
                            // SAFETY: each source is a padded row of `row_bytes` bytes, and
                            // `x0 + span = (ox * stride_w + k_w) * in_c <= cols * in_c = row_bytes`
                            // for `ox < out_w` (`padded_columns`); `dst` holds `k16 * 16 >=
                            // k_h * span` bytes of scratch apart from the padded rows;
                            // `span >= 1`.
                            unsafe {
                                crate::arch::helium::copy::gather(
                                    dst.as_mut_ptr(),
                                    sources.get(..k_h)?,
                                    x0,
                                    span,
                                )
                            };
                            continue;
                        }
                        for (ky, &s) in slot.iter().enumerate().take(k_h) {
                            let src = padded.get(s * row_bytes..(s + 1) * row_bytes)?;
                            let d = dst.get_mut(ky * span..(ky + 1) * span)?;
                            if g.dilation_w == 1 {
                                copy(d, src.get(x0..x0 + span)?);
                            } else {
                                for (kx, d) in d.chunks_exact_mut(in_c).enumerate() {
                                    let at = x0 + kx * g.dilation_w as usize * in_c;
                                    copy(d, src.get(at..at + in_c)?);
                                }
                            }
                        }
                    }
                    let o = (base + first) * out_c;
                    gemm.run(rows, row, n, output, o, tail)?;
                }
            }
        }
        Some(())
    })();
}

/// `dst[..src.len()] = src`, with vector copies where the kernels have them.
#[inline(always)]
pub(crate) fn copy(dst: &mut [i8], src: &[i8]) {
    #[cfg(all(target_arch = "arm", feature = "helium"))]
    crate::arch::helium::copy::copy(dst, src);
    #[cfg(not(all(target_arch = "arm", feature = "helium")))]
    if let Some(d) = dst.get_mut(..src.len()) {
        d.copy_from_slice(src);
    }
}

/// Sets every byte of `dst` to `value`, with vector stores where the kernels have them.
#[inline(always)]
pub(crate) fn fill(dst: &mut [i8], value: i8) {
    #[cfg(all(target_arch = "arm", feature = "helium"))]
    crate::arch::helium::copy::fill(dst, value);
    #[cfg(not(all(target_arch = "arm", feature = "helium")))]
    dst.fill(value);
}

/// A layer's GEMM, set up once: `run` computes runs of pixels against every output channel.
struct Gemm<'a> {
    p: &'a ConvHeliumI8,
    weights: &'a [i8],
    params: &'a [i32],
    /// The assembly variant for the layer's shifts and clamp.
    #[cfg(all(target_arch = "arm", feature = "helium"))]
    kernel: unsafe fn(&crate::arch::helium::gemm::Gemm2x4Args),
}

impl<'a> Gemm<'a> {
    fn new(p: &'a ConvHeliumI8, weights: &'a [i8], params: &'a [i32]) -> Self {
        #[cfg(all(target_arch = "arm", feature = "helium"))]
        let kernel = {
            use crate::arch::helium::gemm;
            // Layers whose left shifts are all 0 skip the shifting; with the zero point at or
            // below the lower clamp the sign fixup cannot show.
            let shifts = params
                .chunks_exact(GROUP_WORDS)
                .any(|q| q.get(4..8).is_some_and(|l| l.iter().any(|&l| l != 0)));
            let fixup = p.output_offset > p.act_min;
            match (shifts, fixup) {
                (true, true) => gemm::gemm_2x4,
                (false, true) => gemm::gemm_2x4_no_shift,
                (true, false) => gemm::gemm_2x4_no_fixup,
                (false, false) => gemm::gemm_2x4_no_shift_no_fixup,
            }
        };
        Gemm {
            p,
            weights,
            params,
            #[cfg(all(target_arch = "arm", feature = "helium"))]
            kernel,
        }
    }

    /// `n` pixels whose GEMM rows start every `stride` bytes of `x` against every output
    /// channel, outputs every `out_c` bytes from `out[o..]`; a last, partial group of channels
    /// goes through `tail` (8 bytes).
    ///
    /// The caller passes `n` rows of `k16*16` bytes inside `x` and room for `n` pixels'
    /// outputs at `out[o..]`; weights and params hold `groups` blocks (entry checks), and
    /// `full * 4 <= out_c`. The slices are taken checked all the same (`None` should one not
    /// match), so that no panic path is linked.
    fn run(
        &self,
        x: &[i8],
        stride: usize,
        n: usize,
        out: &mut [i8],
        o: usize,
        tail: &mut [i8],
    ) -> Option<()> {
        if n == 0 {
            return Some(());
        }
        let (p, weights, params) = (self.p, self.weights, self.params);
        let out_c = p.geom.out_c as usize;
        #[cfg(all(target_arch = "arm", feature = "helium"))]
        {
            use crate::arch::helium::gemm;
            let kernel = self.kernel;
            let k16 = p.k16 as usize;
            let (full, rest) = (out_c / 4, out_c % 4);
            let out = out.get_mut(o..o + n * out_c)?;
            let x_at = |i: usize| x.get(i * stride..).map(<[i8]>::as_ptr);
            let mut args = gemm::Gemm2x4Args {
                x: x.as_ptr(),
                x_stride: stride,
                weights: weights.as_ptr(),
                params: params.as_ptr(),
                out: out.as_mut_ptr(),
                out_stride: out_c,
                pairs: n / 2,
                groups: full,
                k16,
                output_offset: p.output_offset,
                act_min: p.act_min,
                act_max: p.act_max,
            };
            if full > 0 {
                if n >= 2 {
                    // SAFETY: pixel `i < 2 * (n / 2)` reads `x[i * stride..][..k16 * 16]` and
                    // writes `out[i * out_c..][..4 * full]` (caller); weights and params hold
                    // `full` groups (entry checks); `pairs`, `full`, `k16` >= 1; this build
                    // targets a Cortex-M55.
                    unsafe { kernel(&args) };
                }
                if n % 2 == 1 {
                    args.x = x_at(n - 1)?;
                    args.x_stride = 0;
                    args.out = out.get_mut((n - 1) * out_c..)?.as_mut_ptr();
                    args.out_stride = 0;
                    args.pairs = 1;
                    // SAFETY: as above, for the last pixel twice (both halves read and write
                    // the same bytes).
                    unsafe { kernel(&args) };
                }
            }
            if rest > 0 {
                args.weights = weights.get(full * k16 * 64..)?.as_ptr();
                args.params = params.get(full * GROUP_WORDS..)?.as_ptr();
                args.groups = 1;
                args.pairs = 1;
                args.out = tail.as_mut_ptr();
                args.out_stride = 4;
                for i in (0..n).step_by(2) {
                    let second = (i + 1).min(n - 1);
                    args.x = x_at(i)?;
                    args.x_stride = (second - i) * stride;
                    // SAFETY: one pair of rows inside `x`, the last group's weights and
                    // params, 2 x 4 outputs in `tail`.
                    unsafe { kernel(&args) };
                    out.get_mut(i * out_c + full * 4..)?
                        .get_mut(..rest)?
                        .copy_from_slice(tail.get(..rest)?);
                    out.get_mut(second * out_c + full * 4..)?
                        .get_mut(..rest)?
                        .copy_from_slice(tail.get(4..4 + rest)?);
                }
            }
        }
        #[cfg(not(all(target_arch = "arm", feature = "helium")))]
        {
            let _ = &tail;
            let row = p.k16 as usize * 16;
            for i in (0..n).step_by(2) {
                let second = (i + 1).min(n - 1);
                let rows = [
                    x.get(i * stride..)?.get(..row)?,
                    x.get(second * stride..)?.get(..row)?,
                ];
                let at = [o + i * out_c, o + second * out_c];
                portable_block(p, rows, weights, params, out, at);
            }
        }
        Some(())
    }
}

/// The portable GEMM of two pixels (int8 rows of `k16 * 16` taps) against every output
/// channel, outputs at `out[o[0]..]` and `out[o[1]..]`: the definition the Helium assembly
/// reproduces.
pub fn portable_block(
    p: &ConvHeliumI8,
    x: [&[i8]; 2],
    weights: &[i8],
    params: &[i32],
    out: &mut [i8],
    o: [usize; 2],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let k16 = p.k16 as usize;
        for c in 0..p.geom.out_c as usize {
            let (grp, j) = (c / 4, c % 4);
            let q = params.get(grp * GROUP_WORDS..(grp + 1) * GROUP_WORDS)?;
            let w = weights.get(grp * k16 * 64..(grp + 1) * k16 * 64)?;
            for (px, row) in x.iter().enumerate() {
                let mut acc = *q.get(j)?;
                for run in 0..k16 {
                    let wr = w.get((run * 4 + j) * 16..(run * 4 + j + 1) * 16)?;
                    for (&xv, &wv) in row.get(run * 16..(run + 1) * 16)?.iter().zip(wr) {
                        acc = acc.wrapping_add((xv as i32).wrapping_mul(wv as i32));
                    }
                }
                let at = match px {
                    0 => o[0],
                    _ => o[1],
                };
                *out.get_mut(at + c)? = output_stage(
                    acc,
                    *q.get(4 + j)?,
                    *q.get(8 + j)?,
                    *q.get(12 + j)?,
                    p.output_offset,
                    p.act_min,
                    p.act_max,
                );
            }
        }
        Some(())
    })();
}
