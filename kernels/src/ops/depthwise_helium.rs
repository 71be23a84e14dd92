//! DEPTHWISE_CONV_2D for the Helium (MVE) kernels ([`Op::DepthwiseHeliumI8`]): 3x3 filter,
//! dilation 1, depth multiplier 1; channels a multiple of 16, or dividing 16 with a horizontal
//! stride of 1.
//!
//! Each output row is one run of 16-byte chunks over the row's bytes: 16 channels of a pixel,
//! or with fewer channels several pixels at once (their weights repeat across the chunk).
//! The three input rows a row reads are copied once into padded rows in the scratch (borders
//! filled with the input zero point, so padding taps contribute `w * (zp + input_offset) = 0`,
//! the input offset being folded into the bias), and the nine taps of a chunk are nine pointers
//! into them that all move 16 bytes per chunk (and `(stride - 1) * channels` more per pixel).
//! Two taps' products are summed in 16 bits (exact for weights in `-127..=127`, which the
//! converter guarantees; see [`portable_chunk`]). The output stage is TFLite's exact
//! `MultiplyByQuantizedMultiplier` plus zero point and clamp: the layer's output equals
//! [`crate::ops::depthwise::depthwise_conv2d_i8`]'s byte for byte.
//!
//! On a Cortex-M55 built with the `helium` feature the rows run in assembly
//! ([`crate::arch::helium::depthwise`]); elsewhere the portable code below, the definition,
//! computes the same values.

use crate::ops::conv_helium::{copy, fill, output_stage};
use crate::util::{check_conv_activations, check_conv_reach, expect_op};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{ConvGeometry, DepthwiseHeliumI8, Op};
use ferrite_core::{Ctx, Error, Result};

/// Words of output stage per phase: folded biases, left shifts, multipliers and negated right
/// shifts, each four vectors of four lanes.
pub const PHASE_WORDS: usize = 64;

/// Weights per phase: nine taps of 16 bytes.
pub const PHASE_WEIGHTS: usize = 144;

/// Which accumulator lane holds byte `j` of a chunk: vector `[0, 2, 1, 3][j % 4]`, lane
/// `j / 4`, as a word index `4 * vector + lane` into each parameter section.
pub const fn lane_of(j: usize) -> usize {
    // Byte offsets 0, 2, 1, 3 within a group of four are vectors 0, 1, 2, 3: swap 1 and 2.
    let vector = match j % 4 {
        1 => 2,
        2 => 1,
        r => r,
    };
    vector * 4 + j / 4
}

/// Chunk phases of a layer with `channels` channels: `max(channels, 16) / 16`.
pub const fn phases(channels: usize) -> usize {
    if channels < 16 {
        1
    } else {
        channels / 16
    }
}

/// Whether the kernel takes a depthwise layer of this geometry (depth multiplier 1 aside):
/// 3x3, dilation 1, and channels a multiple of 16 or dividing 16 with a horizontal stride of 1.
pub fn supports(g: &ConvGeometry) -> bool {
    let c = g.in_c;
    g.in_c == g.out_c
        && c > 0
        && g.k_h == 3
        && g.k_w == 3
        && g.dilation_h == 1
        && g.dilation_w == 1
        && g.stride_h >= 1
        && (c.is_multiple_of(16) || (16u32.is_multiple_of(c) && g.stride_w == 1))
}

/// Columns of a padded input row: the left padding, the input row, and as much right padding
/// as the last output pixel's window reaches.
pub fn padded_columns(g: &ConvGeometry) -> u64 {
    let reach = (g.out_w as u64).saturating_sub(1) * g.stride_w as u64 + g.k_w as u64;
    reach.max(g.pad_left as u64 + g.in_w as u64)
}

/// Bytes of one padded row in the scratch (16 bytes of slack for a last, partial chunk).
fn row_bytes(g: &ConvGeometry) -> u64 {
    padded_columns(g) * g.in_c as u64 + 16
}

/// Bytes of arena scratch [`run_depthwise_helium_i8`] needs: four padded rows (three input
/// rows and one of padding) and one chunk of outputs.
pub fn scratch_bytes(g: &ConvGeometry) -> u64 {
    4 * row_bytes(g) + 16
}

/// Kernel entry for [`Op::DepthwiseHeliumI8`].
pub fn run_depthwise_helium_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseHeliumI8);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let params = ctx.consts(p.params)?;
    check_conv_reach(layer, g)?;
    if !supports(g) {
        return Err(err(
            "needs a 3x3 filter, dilation 1, in_c == out_c, and channels a multiple of 16 or dividing 16 with stride 1",
        ));
    }
    let n = phases(g.in_c as usize);
    if weights.len() != n * PHASE_WEIGHTS || params.len() != n * PHASE_WORDS {
        return Err(err("weights or output stage do not match the geometry"));
    }
    let bad_shift = |q: &[i32]| {
        q.get(16..32)
            .is_none_or(|l| l.iter().any(|l| !(0..=31).contains(l)))
            || q.get(48..64)
                .is_none_or(|r| r.iter().any(|r| !(-31..=0).contains(r)))
    };
    if params.chunks_exact(PHASE_WORDS).any(bad_shift) {
        return Err(err("requantization shift out of range"));
    }
    let int8 = -128..=127;
    if !int8.contains(&p.output_offset) || !int8.contains(&p.act_min) || !int8.contains(&p.act_max)
    {
        return Err(err("output zero point or clamp outside the int8 range"));
    }
    if (p.scratch_bytes as u64) < scratch_bytes(g) {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    depthwise_helium_i8(
        p,
        input,
        weights,
        params,
        output,
        bytemuck::cast_slice_mut(scratch),
    );
    Ok(())
}

/// The depthwise convolution. Slices must match `p` (the kernel entry checks them); `scratch`
/// holds [`scratch_bytes`] bytes.
pub fn depthwise_helium_i8(
    p: &DepthwiseHeliumI8,
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
        let c = g.in_c as usize;
        let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
        let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
        let row_bytes = row_bytes(g) as usize;
        let left = g.pad_left as usize * c;
        let (rows, tail) = scratch
            .get_mut(..4 * row_bytes + 16)?
            .split_at_mut_checked(4 * row_bytes)?;
        // Padding everywhere; the input rows overwrite their part of slots 0-2, slot 3 stays
        // padding.
        fill(rows, p.input_zero_point as i8);
        // Which (batch, input row) each of the three row slots holds: row `iy` lives in slot
        // `iy % 3`, so the three consecutive rows a window reads never share one.
        let mut held: [Option<(usize, usize)>; 3] = [None; 3];
        let shifts = params
            .chunks_exact(PHASE_WORDS)
            .any(|q| q.get(16..32).is_some_and(|l| l.iter().any(|&l| l != 0)));
        for b in 0..g.batches as usize {
            for oy in 0..g.out_h {
                let mut slot = [3usize; 3];
                for (ky, s) in slot.iter_mut().enumerate() {
                    let Some(iy) =
                        crate::ops::conv::tap(oy, g.stride_h, g.pad_top, ky as u32, 1, g.in_h)
                    else {
                        continue;
                    };
                    *s = iy % 3;
                    let Some(h) = held.get_mut(*s) else {
                        continue;
                    };
                    if *h != Some((b, iy)) {
                        let at = (b * in_h + iy) * in_w * c;
                        let src = input.get(at..at + in_w * c)?;
                        copy(
                            rows.get_mut(*s * row_bytes + left..)?.get_mut(..in_w * c)?,
                            src,
                        );
                        *h = Some((b, iy));
                    }
                }
                let band = |s: usize| rows.get(s * row_bytes..(s + 1) * row_bytes);
                let padded = [band(slot[0])?, band(slot[1])?, band(slot[2])?];
                let o = (b * out_h + oy as usize) * out_w * c;
                let out = output.get_mut(o..o + out_w * c)?;
                row(p, padded, weights, params, shifts, out, tail)?;
            }
        }
        Some(())
    })();
}

/// One output row from its three padded input rows; a last, partial chunk goes through
/// `tail` (16 bytes).
// Bounds: chunk `i` reads 16 bytes at `16 i + (i / phases) * extra + kx * c` of each padded
// row: for `c >= 16` that is `ox * stride * c + 16 q + kx * c + 16 <= cols * c`; for `c < 16`
// (stride 1, one phase) at most `out_w * c + 15 + 2 c <= cols * c + 16`. `out` holds
// `out_w * c` bytes.
//
// Every slice is taken checked all the same (`None` should one not match), so that no panic
// path is linked.
fn row(
    p: &DepthwiseHeliumI8,
    rows: [&[i8]; 3],
    weights: &[i8],
    params: &[i32],
    shifts: bool,
    out: &mut [i8],
    tail: &mut [i8],
) -> Option<()> {
    let g = &p.geom;
    let c = g.in_c as usize;
    let period = phases(c);
    if period == 0 {
        return None;
    }
    let bytes = out.len();
    let (full, rest) = (bytes / 16, bytes % 16);
    let extra = (g.stride_w as usize - 1) * c;
    let tap_at = |i: usize, t: usize| 16 * i + (i / period) * extra + (t % 3) * c;
    #[cfg(all(target_arch = "arm", feature = "helium"))]
    {
        use crate::arch::helium::depthwise as dw;
        // Layers whose left shifts are all 0 skip the shifting.
        // With the zero point at or below the lower clamp the sign fixup cannot show.
        let fixup = p.output_offset > p.act_min;
        let kernel = match (shifts, fixup) {
            (true, true) => dw::row3x3,
            (false, true) => dw::row3x3_no_shift,
            (true, false) => dw::row3x3_no_fixup,
            (false, false) => dw::row3x3_no_shift_no_fixup,
        };
        let zp = p.output_offset as i16;
        // Bounds: `t < 9`, so `t / 3 < 3` indexes the three rows.
        #[allow(clippy::indexing_slicing)]
        let taps = core::array::from_fn(|t| rows[t / 3].as_ptr().wrapping_add(tap_at(0, t)));
        let mut args = dw::Row3x3Args {
            taps,
            weights: weights.as_ptr(),
            params: params.as_ptr(),
            out: out.as_mut_ptr(),
            chunks: full,
            period,
            extra,
            clamp: [[zp; 8], [p.act_min as i16; 8], [p.act_max as i16; 8]],
        };
        if full > 0 {
            // SAFETY: chunk `i` reads 16 bytes at `tap_at(i, t)` of each padded row, inside it
            // (see the bounds note); `weights` and `params` hold `period` phases (entry
            // checks); `out` holds `16 * full` bytes; `full >= 1`, `period >= 1`; this build
            // targets a Cortex-M55.
            unsafe { kernel(&args) };
        }
        if rest > 0 {
            let q = full % period;
            // The taps' starts, checked here so that the pointers below need no check.
            for t in 0..9 {
                rows.get(t / 3)?.get(tap_at(full, t)..)?;
            }
            // Bounds: `t < 9`, so `t / 3 < 3` indexes the three rows.
            #[allow(clippy::indexing_slicing)]
            let taps = core::array::from_fn(|t| rows[t / 3].as_ptr().wrapping_add(tap_at(full, t)));
            args.taps = taps;
            args.weights = weights.get(q * PHASE_WEIGHTS..)?.as_ptr();
            args.params = params.get(q * PHASE_WORDS..)?.as_ptr();
            args.out = tail.as_mut_ptr();
            args.chunks = 1;
            args.period = 1;
            // SAFETY: one chunk at the taps' 16 readable bytes (the rows' slack), phase `q`'s
            // constants, 16 bytes of `tail`.
            unsafe { kernel(&args) };
            let o = out.get_mut(16 * full..)?;
            o.copy_from_slice(tail.get(..o.len())?);
        }
    }
    #[cfg(not(all(target_arch = "arm", feature = "helium")))]
    let _ = shifts;
    #[cfg(not(all(target_arch = "arm", feature = "helium")))]
    for i in 0..full + usize::from(rest > 0) {
        let q = i % period;
        let mut taps: [&[i8]; 9] = [&[]; 9];
        for (t, tap) in taps.iter_mut().enumerate() {
            *tap = rows.get(t / 3)?.get(tap_at(i, t)..)?.get(..16)?;
        }
        portable_chunk(
            p,
            taps,
            weights.get(q * PHASE_WEIGHTS..(q + 1) * PHASE_WEIGHTS)?,
            params.get(q * PHASE_WORDS..(q + 1) * PHASE_WORDS)?,
            tail,
        );
        let n = (bytes - 16 * i).min(16);
        out.get_mut(16 * i..16 * i + n)?
            .copy_from_slice(tail.get(..n)?);
    }
    Some(())
}

/// One 16-byte chunk of output from its nine taps (16 bytes each): the definition the Helium
/// assembly reproduces. `weights` holds the phase's `[9][16]` weights, `params` its 64 words.
///
/// Taps go in pairs (0, 1), (2, 3), (4, 5), (6, 7), then 8; a pair's two products (each fits
/// 16 bits) are summed in 16 bits, wrapping, before joining the 32-bit accumulator. No pair
/// sum wraps unless a weight is -128 (`|x * w| <= 128 * 127` otherwise), so with weights in
/// `-127..=127`, which the converter guarantees, this is the exact depthwise sum.
// Bounds: nine taps of 16 bytes, 144 weights, 64 params words and 16 outputs (caller).
#[allow(clippy::indexing_slicing)]
pub fn portable_chunk(
    p: &DepthwiseHeliumI8,
    taps: [&[i8]; 9],
    weights: &[i8],
    params: &[i32],
    out: &mut [i8],
) {
    for (j, o) in out.iter_mut().enumerate().take(16) {
        let k = lane_of(j);
        let product = |t: usize| (taps[t][j] as i16).wrapping_mul(weights[t * 16 + j] as i16);
        let mut acc = params[k];
        for t in (0..8).step_by(2) {
            acc = acc.wrapping_add(product(t).wrapping_add(product(t + 1)) as i32);
        }
        acc = acc.wrapping_add(product(8) as i32);
        *o = output_stage(
            acc,
            params[16 + k],
            params[32 + k],
            params[48 + k],
            p.output_offset,
            p.act_min,
            p.act_max,
        );
    }
}
