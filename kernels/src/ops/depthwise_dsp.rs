//! DEPTHWISE_CONV_2D with DSP-friendly weights ([`Op::DepthwiseDspI8`]): depth multiplier 1,
//! channels in groups of four.
//!
//! The kernel copies input rows into the arena scratch, channel-planar and widened to 16 bits
//! (a ring of `band_input_rows` slots of `[channel][band_width(g)]`, each input row widened
//! once), with the padding ring holding the input zero point: the input offset is folded into
//! the bias, so a padding tap contributes `w * (zp + input_offset) = 0`, as TFLite Micro's
//! skipped taps. Two horizontally adjacent taps of a channel are then one 32-bit word,
//! multiplied by a pair of 16-bit weights at once. Then, channel by channel (weights in
//! registers), it computes a band of output rows. On a Cortex-M with the DSP extension, and
//! on ARMv7-M without it (Cortex-M3, [`crate::arch::armv7m_depthwise`]: one `LDRSH` and one
//! `MLA` per tap), the widening, and the computation for a 3x3 filter (dilation 1,
//! horizontal stride 1 or 2), run in assembly; the portable code is the definition.
//!
//! [`Op::DepthwiseDspPackedI8`] stores the same layer compactly in flash (int8 taps, two shift
//! bytes and two words per channel, 19 bytes for a 3x3 filter where the 16-bit layout takes
//! 36) and widens it into the scratch, after the band, each time the layer runs.

use crate::util::{check_conv_activations, check_conv_reach, expect_op, product};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{output_stage, ConvGeometry, Op};
use ferrite_core::{Ctx, Error, Result};

/// Most filter taps the kernel handles (7x7).
pub const MAX_TAPS: usize = 49;

/// Whether the filter is the 3x3 one with the paired weight layout.
fn paired(g: &ConvGeometry) -> bool {
    g.k_h == 3 && g.k_w == 3
}

/// Weights per channel: 10 for a 3x3 filter (paired layout), else `k_h * k_w`.
pub fn weights_per_channel(g: &ConvGeometry) -> usize {
    if paired(g) {
        10
    } else {
        (g.k_h * g.k_w) as usize
    }
}

/// Where tap `(ky, kx)` is among a channel's weights.
pub fn weight_slot(g: &ConvGeometry, ky: u32, kx: u32) -> usize {
    if paired(g) {
        // w00 w01 w10 w11 w20 w21 w02 w12 w22 0
        if kx < 2 {
            (2 * ky + kx) as usize
        } else {
            6 + ky as usize
        }
    } else {
        (ky * g.k_w + kx) as usize
    }
}

/// 16-bit values in one band row of one channel: the padded input row, and room for the
/// assembly's reads past the last window (it loads four taps at a time); even, so that rows
/// stay word aligned.
pub fn band_width(g: &ConvGeometry) -> u64 {
    let reach = ((g.k_w as u64).saturating_sub(1)) * g.dilation_w as u64 + 1;
    let windows = (g.out_w as u64).saturating_sub(1) * g.stride_w as u64 + reach + 1;
    let w = windows.max(g.pad_left as u64 + g.in_w as u64);
    w.div_ceil(2) * 2
}

/// Input rows in a band of `band_rows` output rows.
pub fn band_input_rows(g: &ConvGeometry, band_rows: u32) -> u64 {
    let reach = ((g.k_h as u64).saturating_sub(1)) * g.dilation_h as u64 + 1;
    (band_rows.max(1) as u64 - 1) * g.stride_h as u64 + reach
}

/// Scratch bytes for bands of `band_rows` output rows.
pub fn scratch_bytes(g: &ConvGeometry, band_rows: u32) -> u64 {
    band_input_rows(g, band_rows) * g.in_c as u64 * band_width(g) * 2
}

/// The checks both entries make of the geometry, band and input zero point.
fn check_layer(layer: u16, g: &ConvGeometry, band: &Band, scratch: u32) -> Result<()> {
    let err = |reason| Error::InvalidLayer { layer, reason };
    check_conv_reach(layer, g)?;
    let taps = product(&[g.k_h, g.k_w]);
    if g.in_c != g.out_c
        || !g.in_c.is_multiple_of(4)
        || taps as usize > MAX_TAPS
        || g.in_w >= 1 << 14
    {
        return Err(err(
            "needs in_c == out_c, a multiple of 4, and at most 49 taps",
        ));
    }
    if band.rows == 0
        || band.rows as usize > MAX_BAND_ROWS
        || (scratch as u64) < scratch_bytes(g, band.rows)
    {
        return Err(err("scratch buffer too small"));
    }
    if !(-128..=127).contains(&band.input_zero_point) {
        return Err(err("input zero point out of range"));
    }
    Ok(())
}

/// Whether a channel's four-word output stage (bias, multiplier, round, rshift) is one the
/// assembly computes exactly: it adds the round without saturation, the same while
/// multiplier >= 0 and |round| <= 2^30.
fn stage_in_range(q: &[i32]) -> bool {
    match q {
        [_, m, round, r] => *m >= 0 && (0..=31).contains(r) && round.unsigned_abs() <= 1 << 30,
        _ => false,
    }
}

/// What the computation needs of the layer beyond its geometry.
struct Band {
    /// Output rows per band.
    rows: u32,
    /// The value of padding taps.
    input_zero_point: i32,
}

/// Kernel entry for [`Op::DepthwiseDspI8`].
pub fn run_depthwise_dsp_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseDspI8);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let weights = ctx.consts(p.weights)?;
    let params = ctx.consts(p.params)?;
    let band = Band {
        rows: p.band_rows,
        input_zero_point: p.input_zero_point,
    };
    check_layer(layer, g, &band, p.scratch_bytes)?;
    let c = g.out_c as u64;
    if weights.len() as u64 != weights_per_channel(g) as u64 * c || params.len() as u64 != 4 * c {
        return Err(err("weights or output stage do not match the geometry"));
    }
    if !params.chunks_exact(4).all(stage_in_range) {
        return Err(err("requantization out of range"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let band_len = (scratch_bytes(g, p.band_rows) / 2) as usize;
    let ring: &mut [i16] = bytemuck::try_cast_slice_mut(scratch)
        .ok()
        .and_then(|s: &mut [i16]| s.get_mut(..band_len))
        .ok_or(err("scratch buffer misaligned"))?;
    depthwise_dsp_i8(g, &band, input, weights, params, output, ring)
        .ok_or(err("slices do not match the layer"))
}

/// Bytes per channel of `DepthwiseDspPackedI8::weights`: the taps, then `lshift` and
/// `rshift`.
pub fn packed_bytes_per_channel(g: &ConvGeometry) -> usize {
    (g.k_h * g.k_w) as usize + 2
}

/// Scratch bytes of `DepthwiseDspPackedI8` for bands of `band_rows` output rows: the band
/// and the widened weights, each rounded up to a word, then four stage words per channel.
pub fn packed_scratch_bytes(g: &ConvGeometry, band_rows: u32) -> u64 {
    let c = g.out_c as u64;
    scratch_bytes(g, band_rows).div_ceil(4) * 4 + wide_weights_bytes(g) + 16 * c
}

/// Bytes of the widened weights in the scratch, rounded up to a word.
fn wide_weights_bytes(g: &ConvGeometry) -> u64 {
    (weights_per_channel(g) as u64 * 2 * g.out_c as u64).div_ceil(4) * 4
}

/// Widens the packed constants into `wide` (the layout of `DepthwiseDspI8::weights`) and
/// `stage` (four words per channel). `None` if a shifted tap leaves 16 bits, a shift leaves `0..32`, the round
/// term leaves `[-2^30, 2^30]` or the slices do not match.
fn widen_packed(
    g: &ConvGeometry,
    packed: &[i8],
    params: &[i32],
    output_zero_point: i32,
    wide: &mut [i16],
    stage: &mut [i32],
) -> Option<()> {
    let per_packed = packed_bytes_per_channel(g);
    let per = weights_per_channel(g);
    let taps = per_packed.checked_sub(2)?;
    // (Checked by the entry too; said here so that no chunk size can be zero.)
    if taps == 0 || per == 0 {
        return None;
    }
    let channels = packed
        .chunks_exact(per_packed)
        .zip(params.chunks_exact(2))
        .zip(wide.chunks_exact_mut(per).zip(stage.chunks_exact_mut(4)));
    for ((src, q), (dst, st)) in channels {
        let (lshift, rshift) = (*src.get(taps)? as u32, *src.get(taps + 1)? as u32);
        if lshift > 15 || rshift > 31 {
            return None;
        }
        // Whether every shifted tap fits 16 bits (int8 taps: its extremes do).
        let fits = (127i32 << lshift) <= i16::MAX as i32;
        match (
            <&[i8; 11]>::try_from(src),
            <&mut [i16; 10]>::try_from(&mut *dst),
        ) {
            // 3x3 (the common case, about ten times fewer instructions than the general
            // loop): the paired slots w00 w01 w10 w11 w20 w21 w02 w12 w22 0 written at once.
            (Ok(t), Ok(d)) if paired(g) && fits => {
                let w = |v: i8| ((v as i32) << lshift) as i16;
                let [w00, w01, w02, w10, w11, w12, w20, w21, w22, _, _] = *t;
                *d = [
                    w(w00),
                    w(w01),
                    w(w10),
                    w(w11),
                    w(w20),
                    w(w21),
                    w(w02),
                    w(w12),
                    w(w22),
                    0,
                ];
            }
            _ => {
                dst.fill(0);
                for ky in 0..g.k_h {
                    for kx in 0..g.k_w {
                        let v = (*src.get((ky * g.k_w + kx) as usize)? as i32) << lshift;
                        *dst.get_mut(weight_slot(g, ky, kx))? = i16::try_from(v).ok()?;
                    }
                }
            }
        }
        // ((1 << rshift) >> 1) + (zero point << rshift) in 32 bits (64-bit shifts are calls
        // on a Cortex-M); a term that leaves them is out of the kernel's range anyway.
        let half = ((1u32 << rshift) >> 1) as i32;
        let round = output_zero_point
            .checked_mul(1i32.checked_shl(rshift)?)
            .and_then(|z| z.checked_add(half))?;
        let stage_words = [*q.first()?, *q.get(1)?, round, rshift as i32];
        if !stage_in_range(&stage_words) {
            return None;
        }
        for (d, v) in st.iter_mut().zip(stage_words) {
            *d = v;
        }
    }
    Some(())
}

/// Kernel entry for [`Op::DepthwiseDspPackedI8`]: the constants widened into the scratch, then
/// [`run_depthwise_dsp_i8`]'s computation.
pub fn run_depthwise_dsp_packed_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DepthwiseDspPackedI8);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let g = &p.geom;
    let packed = ctx.consts(p.weights)?;
    let params = ctx.consts(p.params)?;
    let band = Band {
        rows: p.band_rows,
        input_zero_point: p.input_zero_point,
    };
    check_layer(layer, g, &band, p.scratch_bytes)?;
    let c = g.out_c as u64;
    if packed.len() as u64 != packed_bytes_per_channel(g) as u64 * c || params.len() as u64 != 2 * c
    {
        return Err(err("weights or output stage do not match the geometry"));
    }
    if (p.scratch_bytes as u64) < packed_scratch_bytes(g, p.band_rows)
        || !(-128..=127).contains(&p.output_zero_point)
    {
        return Err(err("scratch buffer too small"));
    }
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, p.scratch_bytes)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_conv_activations(layer, g, input.len(), output.len())?;
    let misaligned = || err("scratch buffer misaligned");
    let band_bytes = (scratch_bytes(g, p.band_rows).div_ceil(4) * 4) as usize;
    let wide_bytes = wide_weights_bytes(g) as usize;
    let (ring, rest) = scratch
        .split_at_mut_checked(band_bytes)
        .ok_or_else(misaligned)?;
    let (wide, stage) = rest
        .split_at_mut_checked(wide_bytes)
        .ok_or_else(misaligned)?;
    let ring: &mut [i16] = bytemuck::try_cast_slice_mut(ring).map_err(|_| misaligned())?;
    let wide: &mut [i16] = bytemuck::try_cast_slice_mut(wide)
        .ok()
        .and_then(|s: &mut [i16]| s.get_mut(..weights_per_channel(g) * c as usize))
        .ok_or_else(misaligned)?;
    let stage: &mut [i32] = bytemuck::try_cast_slice_mut(stage)
        .ok()
        .and_then(|s: &mut [i32]| s.get_mut(..4 * c as usize))
        .ok_or_else(misaligned)?;
    widen_packed(g, packed, params, p.output_zero_point, wide, stage)
        .ok_or(err("requantization out of range"))?;
    let ring_len = (scratch_bytes(g, p.band_rows) / 2) as usize;
    let ring = ring.get_mut(..ring_len).ok_or_else(misaligned)?;
    depthwise_dsp_i8(g, &band, input, wide, stage, output, ring)
        .ok_or(err("slices do not match the layer"))
}

/// The depthwise convolution. Slices must match `p` (the kernel entry checks); `band` holds
/// `scratch_bytes(g, p.band_rows) / 2` values.
///
/// The band is a ring of `band_input_rows` slots of `c * band_width` values: padded input row
/// `py` (input row `py - pad_top`) lives in slot `py % slots`. Each band of output rows widens
/// the input rows it needs that are not in the ring yet, then computes.
///
/// `run_depthwise_dsp_i8` checked input `batches*in_h*in_w*c`, output `batches*out_h*out_w*c`
/// and the band size; slots are below `band_input_rows`, and padded input row `py` is read
/// from the input only when inside it. Every slice is still taken checked (once per row), so
/// no panic path is linked: `None` if one does not match.
fn depthwise_dsp_i8(
    g: &ConvGeometry,
    layer: &Band,
    input: &[i8],
    weights: &[i16],
    params: &[i32],
    output: &mut [i8],
    band: &mut [i16],
) -> Option<()> {
    let c = g.in_c as usize;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let wp = band_width(g) as usize;
    let row_len = c * wp;
    let zp = layer.input_zero_point as i16;
    let band_rows = (layer.rows as usize).clamp(1, MAX_BAND_ROWS);
    let slots = band_input_rows(g, band_rows as u32) as usize;
    let s_h = g.stride_h as usize;
    let reach_h = (g.k_h as usize - 1) * g.dilation_h as usize + 1;
    if slots == 0 {
        return None;
    }
    // ARMv7-M without DSP: an int8 band the assembly reads at fixed offsets, where the
    // channel count allows (every vww_96_int8 layer): input rows are copied, not widened.
    #[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
    if paired(g)
        && g.dilation_w == 1
        && (g.stride_w == 1 || g.stride_w == 2)
        && out_w >= 2
        && band_rows <= crate::arch::armv7m_depthwise::MAX_ROWS
        && crate::arch::armv7m_depthwise::bytes_channels(c)
    {
        return depthwise_bytes_v7m(g, layer, input, weights, params, output, band);
    }
    // Padding columns hold the zero point for good; slots are overwritten row by row.
    fill_zero_point(band, zp);
    for b in 0..g.batches as usize {
        // Padded input rows below `next` are in the ring (those still needed).
        let mut next = 0usize;
        let mut oy0 = 0;
        while oy0 < out_h {
            let n = band_rows.min(out_h - oy0);
            let top = oy0 * s_h;
            let end = top + (n - 1) * s_h + reach_h;
            for py in next.max(top)..end {
                let slot = py % slots;
                let dst = band.get_mut(slot * row_len..(slot + 1) * row_len)?;
                match py.checked_sub(g.pad_top as usize).filter(|&iy| iy < in_h) {
                    Some(iy) => {
                        let at = (b * in_h + iy) * in_w * c;
                        let src = input.get(at..at + in_w * c)?;
                        widen_row(src, c, in_w, wp, g.pad_left as usize, dst)?;
                    }
                    None => fill_zero_point(dst, zp),
                }
            }
            next = end;
            let o = (b * out_h + oy0) * out_w * c;
            let rows = Rows {
                first: oy0,
                n,
                slots,
            };
            compute_band(
                g,
                band,
                wp,
                &rows,
                weights,
                params,
                output.get_mut(o..o + n * out_w * c)?,
            )?;
            oy0 += n;
        }
    }
    Some(())
}

/// [`depthwise_dsp_i8`] on ARMv7-M without DSP for the 3x3 filter (horizontal stride 1 or 2,
/// dilation 1, `out_w >= 2`, channel counts [`crate::arch::armv7m_depthwise::bytes_channels`]
/// takes) over an int8 band: the ring's slots hold padded NHWC input rows (`wp` pixels of
/// `c` bytes, in the first half of the 16-bit band's room), so an input row is one copy
/// rather than the widening's transposition (about 2.6 instructions a value in assembly);
/// the assembly loads each tap with one `LDRSB` at an offset fixed at compile time.
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
fn depthwise_bytes_v7m(
    g: &ConvGeometry,
    layer: &Band,
    input: &[i8],
    weights: &[i16],
    params: &[i32],
    output: &mut [i8],
    band: &mut [i16],
) -> Option<()> {
    use crate::arch::armv7m_depthwise as v7m;
    let c = g.in_c as usize;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let wp = band_width(g) as usize;
    let row_len = c * wp;
    let zp = layer.input_zero_point as i8;
    let band_rows = (layer.rows as usize).clamp(1, MAX_BAND_ROWS);
    let slots = band_input_rows(g, band_rows as u32) as usize;
    let (s_h, s_w) = (g.stride_h as usize, g.stride_w as usize);
    let reach_h = (g.k_h as usize - 1) * g.dilation_h as usize + 1;
    let pad_left = g.pad_left as usize;
    if slots == 0 {
        return None;
    }
    let bytes: &mut [i8] = bytemuck::try_cast_slice_mut(band).ok()?;
    let bytes = bytes.get_mut(..slots * row_len)?;
    // Padding columns hold the zero point for good; slots are overwritten row by row.
    fill_bytes(bytes, zp);
    for b in 0..g.batches as usize {
        let mut next = 0usize;
        let mut oy0 = 0;
        while oy0 < out_h {
            let n = band_rows.min(out_h - oy0);
            let top = oy0 * s_h;
            let end = top + (n - 1) * s_h + reach_h;
            for py in next.max(top)..end {
                let slot = py % slots;
                let dst = bytes.get_mut(slot * row_len..(slot + 1) * row_len)?;
                match py.checked_sub(g.pad_top as usize).filter(|&iy| iy < in_h) {
                    Some(iy) => {
                        let at = (b * in_h + iy) * in_w * c;
                        let src = input.get(at..at + in_w * c)?;
                        let dst = dst.get_mut(pad_left * c..)?.get_mut(..src.len())?;
                        // `memcpy` should the slices be misaligned (equal lengths by
                        // construction: no panic path).
                        if v7m::copy_row(dst, src).is_none() {
                            dst.copy_from_slice(src);
                        }
                    }
                    None => fill_bytes(dst, zp),
                }
            }
            next = end;
            let o = (b * out_h + oy0) * out_w * c;
            let out = output.get_mut(o..o + n * out_w * c)?;
            // (Called through `dyn Fn`, where `slots != 0` is not known: a checked remainder,
            // whose `usize::MAX` the assembly's checks refuse.)
            let slot = |oy: usize, ky: usize| {
                ((oy0 + oy) * s_h + ky)
                    .checked_rem(slots)
                    .unwrap_or(usize::MAX)
            };
            let done = if s_w == 1 {
                v7m::band3x3_bytes::<1>(bytes, n, slot, wp, c, out_w, weights, params, out)
            } else {
                v7m::band3x3_bytes::<2>(bytes, n, slot, wp, c, out_w, weights, params, out)
            };
            if done.is_none() {
                band3x3_bytes_portable(bytes, n, &slot, wp, c, out_w, s_w, weights, params, out)?;
            }
            oy0 += n;
        }
    }
    Some(())
}

/// The definition of [`crate::arch::armv7m_depthwise::band3x3_bytes`], and its fallback
/// should it refuse a band: per channel, output row and pixel, the nine taps of the int8
/// band against the paired weights, then `row3x3`'s output stage. Every access checked
/// (`None` if one fails).
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
#[allow(clippy::too_many_arguments)]
fn band3x3_bytes_portable(
    band: &[i8],
    n: usize,
    slot_of: &dyn Fn(usize, usize) -> usize,
    wp: usize,
    c: usize,
    out_w: usize,
    s_w: usize,
    weights: &[i16],
    params: &[i32],
    out: &mut [i8],
) -> Option<()> {
    for ch in 0..c {
        let w = weights.get(ch * 10..ch * 10 + 9)?;
        let &[bias, multiplier, round, rshift] = params.get(ch * 4..ch * 4 + 4)? else {
            return None;
        };
        for oy in 0..n {
            for ox in 0..out_w {
                let mut acc = bias;
                for ky in 0..3 {
                    let row = slot_of(oy, ky).checked_mul(wp)?;
                    for kx in 0..3 {
                        let at = (row + ox * s_w + kx) * c + ch;
                        let x = *band.get(at)? as i32;
                        let k = *w.get(weight_slot3(ky, kx))? as i32;
                        acc = acc.wrapping_add(x.wrapping_mul(k));
                    }
                }
                let v = crate::arch::smmulr(acc, multiplier).wrapping_add(round);
                *out.get_mut((oy * out_w + ox) * c + ch)? =
                    (v >> (rshift & 31)).clamp(-128, 127) as i8;
            }
        }
    }
    Some(())
}

/// [`weight_slot`] of the 3x3 filter.
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
fn weight_slot3(ky: usize, kx: usize) -> usize {
    if kx < 2 {
        2 * ky + kx
    } else {
        6 + ky
    }
}

/// Fills an int8 band with the zero point (by words).
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
fn fill_bytes(band: &mut [i8], zp: i8) {
    let (head, words, tail) = bytemuck::pod_align_to_mut::<i8, u32>(band);
    head.fill(zp);
    tail.fill(zp);
    crate::arch::armv7m_depthwise::fill_words(words, (zp as u8 as u32) * 0x0101_0101);
}

/// Most output rows in a band.
pub const MAX_BAND_ROWS: usize = 32;

/// The output rows `first..first + n` of a band, over a ring of `slots` input rows.
struct Rows {
    first: usize,
    n: usize,
    slots: usize,
}

/// Fills the band with the zero point.
fn fill_zero_point(band: &mut [i16], zp: i16) {
    let (head, words, tail) = bytemuck::pod_align_to_mut::<i16, u32>(band);
    head.fill(zp);
    tail.fill(zp);
    let pair = (zp as u16 as u32) * 0x1_0001;
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    let words = {
        let blocks = words.len() / 8;
        let (head, rest) = words.split_at_mut(blocks * 8);
        if blocks > 0 {
            // SAFETY: `head` is `8 * blocks` words (u32, so word aligned).
            unsafe {
                crate::arch::cortex_m_dsp::depthwise::fill_blocks(head.as_mut_ptr(), blocks, pair)
            };
        }
        rest
    };
    #[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
    crate::arch::armv7m_depthwise::fill_words(words, pair);
    #[cfg(not(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m))))]
    words.fill(pair);
}

/// One input row (`in_w` pixels of `c` channels) into a band row: channel `ch`'s values at
/// `dst[ch * wp + pad_left..][..in_w]`. `dst` holds `c * wp` values with
/// `pad_left + in_w <= wp`, `src` holds `in_w * c` (`None` if not).
fn widen_row(
    src: &[i8],
    c: usize,
    in_w: usize,
    wp: usize,
    pad_left: usize,
    dst: &mut [i16],
) -> Option<()> {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    if in_w >= 2 {
        use crate::arch::cortex_m_dsp::depthwise as dsp;
        let args = dsp::WidenArgs {
            src: src.as_ptr(),
            channels: c,
            pairs: in_w / 2,
            odd: in_w % 2,
            dst: dst.get_mut(pad_left..)?.as_mut_ptr(),
            plane_bytes: wp * 2,
            groups: c / 4,
        };
        // SAFETY: `src` holds `in_w * c` bytes, `dst` from `pad_left` holds channel `ch`'s
        // `in_w` values at `ch * wp` (with `pad_left + in_w <= wp`), `c` is a non-zero
        // multiple of 4 (checked by the entry), and `in_w >= 2`.
        // The fixed variants take exactly their `c`.
        unsafe {
            match c {
                8 => dsp::widen_row_fixed::<8>(&args),
                16 => dsp::widen_row_fixed::<16>(&args),
                32 => dsp::widen_row_fixed::<32>(&args),
                64 => dsp::widen_row_fixed::<64>(&args),
                _ => dsp::widen_row(&args),
            }
        };
        return Some(());
    }
    // ARMv7-M without DSP: the assembly (LLVM makes the strided loop below about 11
    // instructions a value there); the loop runs should it refuse the slices.
    #[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
    if crate::arch::armv7m_depthwise::widen_row(src, c, in_w, wp, pad_left, dst).is_some() {
        return Some(());
    }
    if wp == 0 || c == 0 {
        return None;
    }
    // Channel by channel: one strided read and one sequential write per value.
    for (ch, plane) in dst.chunks_exact_mut(wp).take(c).enumerate() {
        let values = src.get(ch..)?.iter().step_by(c);
        for (d, &v) in plane
            .get_mut(pad_left..pad_left + in_w)?
            .iter_mut()
            .zip(values)
        {
            *d = v as i16;
        }
    }
    Some(())
}

/// The output rows of a band, channel by channel.
///
/// The ring holds `rows.slots` slots of `c * wp` values, and every window
/// (`ox * s_w + kx * d_w < wp`) stays inside a slot row; weights hold
/// `weights_per_channel * c`, params `4 * c`, `out` `rows.n * out_w * c` values. The
/// portable loops take every slice checked all the same (`None` if one does not match).
fn compute_band(
    g: &ConvGeometry,
    band: &[i16],
    wp: usize,
    rows: &Rows,
    weights: &[i16],
    params: &[i32],
    out: &mut [i8],
) -> Option<()> {
    let c = g.in_c as usize;
    let out_w = g.out_w as usize;
    let per = weights_per_channel(g);
    let (s_h, s_w) = (g.stride_h as usize, g.stride_w as usize);
    let (d_h, d_w) = (g.dilation_h as usize, g.dilation_w as usize);
    if rows.slots == 0 {
        return None;
    }
    // A checked remainder (`rows.slots != 0` above), so that no panic path is linked where
    // LLVM loses that fact.
    let slot_of = |oy: usize, ky: u32| {
        ((rows.first + oy) * s_h + ky as usize * d_h)
            .checked_rem(rows.slots)
            .unwrap_or(usize::MAX)
    };
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    {
        use crate::arch::cortex_m_dsp::depthwise as dsp;
        if paired(g)
            && g.dilation_h == 1
            && g.dilation_w == 1
            && (g.stride_w == 1 || g.stride_w == 2)
            && (band.as_ptr() as usize).is_multiple_of(4)
            && (weights.as_ptr() as usize).is_multiple_of(4)
            && out_w > 0
            && rows.n <= MAX_BAND_ROWS
        {
            // Byte offsets of the three band rows of each output row (from a channel's slot 0).
            // A first offset with bit 0 set ends the rows.
            let mut offsets = [1u32; 3 * MAX_BAND_ROWS + 3];
            for (oy, o) in offsets.chunks_exact_mut(3).take(rows.n).enumerate() {
                for (ky, v) in o.iter_mut().enumerate() {
                    *v = (slot_of(oy, ky as u32) * c * wp * 2) as u32;
                }
            }
            let args = dsp::Band3x3Args {
                plane: band.as_ptr(),
                row_offsets: offsets.as_ptr(),
                rows: rows.n,
                out: out.as_mut_ptr(),
                channels: c,
                out_w,
                weights: weights.as_ptr() as *const i32,
                stage: params.as_ptr(),
                stride_w: s_w,
                plane_bytes: wp * 2,
            };
            // SAFETY: every channel's slot rows hold the windows of the `rows.n` output rows
            // (`offsets`), `wp` values each (`wp` even and the band word aligned, so pair loads
            // are aligned) with `band_width` room for the four-tap loads past the last window;
            // the weights (10 per channel, word aligned) and stage (4 words per channel, ranges
            // checked by the entry) cover the `c` channels; `out` holds `rows.n * out_w` pixels
            // of `c` bytes. The fixed variants take exactly their `c` and `s_w`,
            // `out_w >= 2`, and the word after the rows' offsets has bit 0 set.
            unsafe {
                match (c, s_w, out_w >= 2) {
                    (8, 1, true) => dsp::band3x3_fixed::<8, 1>(&args),
                    (16, 1, true) => dsp::band3x3_fixed::<16, 1>(&args),
                    (32, 1, true) => dsp::band3x3_fixed::<32, 1>(&args),
                    (64, 1, true) => dsp::band3x3_fixed::<64, 1>(&args),
                    (128, 1, true) => dsp::band3x3_fixed::<128, 1>(&args),
                    (8, 2, true) => dsp::band3x3_fixed::<8, 2>(&args),
                    (16, 2, true) => dsp::band3x3_fixed::<16, 2>(&args),
                    (32, 2, true) => dsp::band3x3_fixed::<32, 2>(&args),
                    (64, 2, true) => dsp::band3x3_fixed::<64, 2>(&args),
                    (128, 2, true) => dsp::band3x3_fixed::<128, 2>(&args),
                    (256, 1, true) => dsp::band3x3_fixed::<256, 1>(&args),
                    (256, 2, true) => dsp::band3x3_fixed::<256, 2>(&args),
                    _ => dsp::band3x3(&args),
                }
            };
            return Some(());
        }
    }
    // Without the DSP extension: the 3x3 filter one channel at a time (ARMv6-M and the host);
    // on ARMv7-M the assembly, else one output row of one channel at a time (there the
    // per-channel Rust loop measured more instructions: +0.1% on vww_96_int8, the pixel
    // loop's registers).
    #[cfg(not(all(target_arch = "arm", any(feature = "dsp", not(ferrite_armv6m)))))]
    if paired(g) && g.dilation_w == 1 && (s_w == 1 || s_w == 2) && rows.n <= MAX_BAND_ROWS {
        // Where each output row's three band rows start (channel 0): the ring's modulo once
        // per row and band rather than per channel (a library call on a Cortex-M0).
        let mut starts = [0usize; 3 * MAX_BAND_ROWS];
        for (oy, o) in starts.chunks_exact_mut(3).take(rows.n).enumerate() {
            for (ky, v) in o.iter_mut().enumerate() {
                *v = slot_of(oy, ky as u32) * c * wp;
            }
        }
        let starts = starts.get(..3 * rows.n)?;
        for ch in 0..c {
            let w = weights.get(ch * per..(ch + 1) * per)?;
            let q = params.get(ch * 4..ch * 4 + 4)?;
            let out = out.get_mut(ch..)?;
            let band = band.get(ch * wp..)?;
            if s_w == 1 {
                channel3x3::<1>(band, starts, wp, w, q, out, out_w, c);
            } else {
                channel3x3::<2>(band, starts, wp, w, q, out, out_w, c);
            }
        }
        return Some(());
    }
    #[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
    if paired(g) && g.dilation_w == 1 && (s_w == 1 || s_w == 2) {
        // The assembly, every channel of the band (its slots computed once per band); the
        // per-row loop below stays the definition and the fallback should a check fail.
        use crate::arch::armv7m_depthwise as v7m;
        if rows.n <= v7m::MAX_ROWS {
            // (Called through `dyn Fn`: a checked remainder, see `depthwise_bytes_v7m`.)
            let slot = |oy: usize, ky: usize| {
                ((rows.first + oy) * s_h + ky * d_h)
                    .checked_rem(rows.slots)
                    .unwrap_or(usize::MAX)
            };
            let done = if s_w == 1 {
                v7m::band3x3::<1>(band, rows.n, slot, wp, c, out_w, weights, params, out)
            } else {
                v7m::band3x3::<2>(band, rows.n, slot, wp, c, out_w, weights, params, out)
            };
            if done.is_some() {
                return Some(());
            }
        }
        for ch in 0..c {
            let w = weights.get(ch * per..(ch + 1) * per)?;
            let q = params.get(ch * 4..ch * 4 + 4)?;
            for oy in 0..rows.n {
                let row = |ky: u32| {
                    let at = (slot_of(oy, ky) * c + ch) * wp;
                    band.get(at..at + wp)
                };
                let band_rows = [row(0)?, row(1)?, row(2)?];
                let out = out.get_mut(oy * out_w * c + ch..)?;
                if s_w == 1 {
                    row3x3_v7m::<1>(band_rows, w, q, out, out_w, c);
                } else {
                    row3x3_v7m::<2>(band_rows, w, q, out, out_w, c);
                }
            }
        }
        return Some(());
    }
    for ch in 0..c {
        let w = weights.get(ch * per..(ch + 1) * per)?;
        let &[bias, multiplier, round, rshift] = params.get(ch * 4..ch * 4 + 4)? else {
            return None;
        };
        for oy in 0..rows.n {
            for ox in 0..out_w {
                let mut acc = bias;
                for ky in 0..g.k_h {
                    let at = (slot_of(oy, ky) * c + ch) * wp;
                    let row = band.get(at..at + wp)?;
                    for kx in 0..g.k_w {
                        let x = *row.get(ox * s_w + kx as usize * d_w)? as i32;
                        let wt = *w.get(weight_slot(g, ky, kx))? as i32;
                        acc = acc.wrapping_add(x.wrapping_mul(wt));
                    }
                }
                *out.get_mut((oy * out_w + ox) * c + ch)? =
                    output_stage(acc, multiplier, rshift, round);
            }
        }
    }
    Some(())
}

/// The output rows of one channel of a 3x3 filter (horizontal stride `S`, dilation 1) without
/// the DSP extension, one output pixel per step: its nine band values against the nine
/// weights (the paired layout's slots, see [`weight_slot`]). `out[(oy * out_w + ox) * c]` is
/// output pixel `ox` of row `oy`. The output stage adds the round without saturation as the DSP assembly does, exact
/// under the entry's checks (`multiplier >= 0`, `|round| <= 2^30`).
///
/// One pixel per step because that measured fastest of the plain-Rust shapes tried (two
/// pixels sharing loaded values, a sliding window per filter row): LLVM keeps too few of the
/// nine weights in ARMv7-M's registers for the larger steps, and their spills cost more
/// than the loads they save.
// Bounds: every band row holds `band_width >= (out_w - 1) * S + 4` values (the rows are cut
// to `len = (out_w - 1) * S + 3`, and window `x` reads `x..x + 3` with `x + 2 < len`); `w`
// holds 10 weights, `q` 4 words; `out` holds `(out_w - 1) * c + 1` bytes or more. Every
// access is checked all the same (the row stops should one fail), so that no panic path is
// linked; the checks are the ones indexing made, their failure marked cold.
//
// One channel's output rows at once: the weights and the output stage are read once per
// channel, not per row; output row `oy` reads the band rows at `band[starts[3 * oy + ky]..]`
// and writes `out[oy * out_w * c..]`.
#[cfg(not(all(target_arch = "arm", any(feature = "dsp", not(ferrite_armv6m)))))]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn channel3x3<const S: usize>(
    band: &[i16],
    starts: &[usize],
    wp: usize,
    w: &[i16],
    q: &[i32],
    out: &mut [i8],
    out_w: usize,
    c: usize,
) {
    let (&[w0, w1, w2, w3, w4, w5, w6, w7, w8, ..], &[bias, multiplier, round, rshift, ..]) =
        (w, q)
    else {
        return;
    };
    let k: [i32; 9] = [w0, w1, w6, w2, w3, w7, w4, w5, w8].map(i32::from);
    let Some(len) = out_w.checked_sub(1).map(|w| w * S + 3) else {
        return;
    };
    if len > wp {
        return;
    }
    let (starts, _) = starts.as_chunks::<3>();
    for (oy, &[s0, s1, s2]) in starts.iter().enumerate() {
        let row = |at: usize| crate::util::likely(band.get(at..at + len));
        let (Some(r0), Some(r1), Some(r2), Some(out)) = (
            row(s0),
            row(s1),
            row(s2),
            crate::util::likely(out.get_mut(oy * out_w * c..)),
        ) else {
            return;
        };
        row3x3::<S>([r0, r1, r2], &k, [bias, multiplier, round, rshift], out, c);
    }
}

/// [`channel3x3`]'s output row (and [`row3x3_v7m`]'s): `rows` cut to the windows'
/// `(out_w - 1) * S + 3` values.
#[cfg(not(all(target_arch = "arm", feature = "dsp")))]
#[inline(always)]
fn row3x3<const S: usize>(
    rows: [&[i16]; 3],
    k: &[i32; 9],
    [bias, multiplier, round, rshift]: [i32; 4],
    out: &mut [i8],
    c: usize,
) {
    let stage = |acc: i32| {
        let v = crate::arch::smmulr(acc, multiplier).wrapping_add(round);
        (v >> (rshift & 31)).clamp(-128, 127) as i8
    };
    let [r0, r1, r2] = rows;
    let len = r0.len().min(r1.len()).min(r2.len());
    let mut o = 0;
    for x in (0..len.saturating_sub(2)).step_by(S) {
        crate::arch::no_unroll();
        let mut a = bias;
        for (r, kr) in [r0, r1, r2].into_iter().zip(k.chunks_exact(3)) {
            // One checked window of three per row (its values then need no check).
            let (Some(&[v0, v1, v2]), &[k0, k1, k2]) = (crate::util::likely(r.get(x..x + 3)), kr)
            else {
                return;
            };
            a = a.wrapping_add((v0 as i32).wrapping_mul(k0));
            a = a.wrapping_add((v1 as i32).wrapping_mul(k1));
            a = a.wrapping_add((v2 as i32).wrapping_mul(k2));
        }
        let Some(d) = crate::util::likely(out.get_mut(o)) else {
            return;
        };
        *d = stage(a);
        o += c;
    }
}

/// [`channel3x3`] one output row at a time (ARMv7-M without DSP), the definition of
/// [`crate::arch::armv7m_depthwise::band3x3`] and its fallback (a band it refuses: too many
/// rows, `out_w == 1`, slices that do not match): one output row of one channel of a 3x3
/// filter (horizontal stride `S`, dilation 1) without the DSP extension, one output pixel per
/// step: its nine band values against the nine
/// weights (the paired layout's slots, see [`weight_slot`]). `out[ox * c]` is output pixel
/// `ox`. The output stage adds the round without saturation as the DSP assembly does, exact
/// under the entry's checks (`multiplier >= 0`, `|round| <= 2^30`).
///
/// One pixel per step because that measured fastest of the plain-Rust shapes tried (two
/// pixels sharing loaded values, a sliding window per filter row): LLVM keeps too few of the
/// nine weights in ARMv7-M's registers for the larger steps, and their spills cost more
/// than the loads they save.
// Bounds: every band row holds `band_width >= (out_w - 1) * S + 4` values (the rows are cut
// to `len = (out_w - 1) * S + 3`, and window `x` reads `x..x + 3` with `x + 2 < len`); `w`
// holds 10 weights, `q` 4 words; `out` holds `(out_w - 1) * c + 1` bytes or more. Every
// access is checked all the same (the row stops should one fail), so that no panic path is
// linked; the checks are the ones indexing made, their failure marked cold.
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
#[inline(never)]
fn row3x3_v7m<const S: usize>(
    rows: [&[i16]; 3],
    w: &[i16],
    q: &[i32],
    out: &mut [i8],
    out_w: usize,
    c: usize,
) {
    let (&[w0, w1, w2, w3, w4, w5, w6, w7, w8, ..], &[bias, multiplier, round, rshift, ..]) =
        (w, q)
    else {
        return;
    };
    let k: [i32; 9] = [w0, w1, w6, w2, w3, w7, w4, w5, w8].map(i32::from);
    let Some(len) = out_w.checked_sub(1).map(|w| w * S + 3) else {
        return;
    };
    let [r0, r1, r2] = rows;
    let (Some(r0), Some(r1), Some(r2)) = (r0.get(..len), r1.get(..len), r2.get(..len)) else {
        return;
    };
    row3x3::<S>([r0, r1, r2], &k, [bias, multiplier, round, rshift], out, c);
}
