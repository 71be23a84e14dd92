//! Lowering for the Cortex-M DSP kernels: the same layers as the portable lowering, with
//! constants laid out for `SMLAD`/`SXTB16` and the input offset folded into the bias.
//!
//! A layer is only given to the DSP kernels when their fast output stage is exact for it (see
//! `ferrite_core::ops::ChannelQuant`): output zero point -128, clamp = the whole int8 range,
//! shifts and rounding constants that fit, and accumulators that provably stay below `2^31`
//! after the left shift. Anything else keeps the portable kernel.
//!
//! For the Cortex-M55 ([`Target::Helium`]) the Helium lowerings ([`conv_helium`],
//! [`depthwise_helium`]) come first: their output stage is TFLite's own, so they take layers
//! with any zero points and activation; what they do not take falls back to the DSP lowerings,
//! then to the portable kernels.
//!
//! 16x8 layers (int16 activations, int8 weights) take the 16x8 DSP kernels ([`conv_gemm_i16`],
//! [`depthwise_dsp_i16`]) on both Cortex-M targets: they keep TFLM's requantization and only
//! change the accumulator to 32 bits, which the lowering allows per layer only when every
//! output channel's `sum |w| * 32768` is below `2^31` (then no partial sum can overflow, and
//! the sum equals TFLM's int64 one). A layer that fails the bound keeps the portable int64
//! kernel rather than a 64-bit `SMLALD` variant (which would need twice the accumulator
//! registers): the bound is `sum |w| < 65,536` per channel, which only filters of more than
//! 516 taps can exceed (a 3x3x64 filter whose weights are nearly all full scale, say).

use crate::consts::ConstPool;
use crate::lower::ConvQuant;
use ferrite_core::ops::{
    ChannelQuant, ConvGemmI16, ConvGemmI8, ConvGeometry, ConvHeliumI8, DepthwiseDspI16,
    DepthwiseDspI8, DepthwiseDspPackedI8, DepthwiseHeliumI8, Op, Requant,
};
use ferrite_core::{ConstRef, TensorId};
use ferrite_kernels::ops::conv_helium::GROUP_WORDS;
use ferrite_kernels::ops::gemm::scratch_bytes;

/// Which kernels a conversion targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Target {
    /// The portable kernels (any CPU, and the host).
    #[default]
    Portable,
    /// Cortex-M with the DSP extension (M4, M7, M33, M55): GEMM convolutions and DSP
    /// depthwise convolutions where they are exact.
    CortexMDsp,
    /// Cortex-M without the DSP extension (M0, M0+: ARMv6-M; M3: ARMv7-M): the same GEMM
    /// convolution and depthwise operators as [`Target::CortexMDsp`] (int8 weights, input
    /// offset folded into the bias), run by register-blocked pure Rust kernels instead of
    /// `SMLAD` assembly. 16x8 layers keep the portable kernels (their DSP kernels' portable
    /// branch is no faster there).
    CortexMNoDsp,
    /// Cortex-M55 with Helium (MVE): the Helium GEMM convolution and 3x3 depthwise
    /// convolution (exact for any zero points and activation), then the DSP kernels for the
    /// layers those do not take (the M55 has the DSP extension too).
    Helium,
}

impl Target {
    /// Parses `portable`, `cortex-m-dsp` (aliases `cortex-m4`, `cortex-m7`, `cortex-m33`),
    /// `cortex-m-nodsp` (aliases `cortex-m3`, `cortex-m0`, `cortex-m0+`, `cortex-m0plus`),
    /// `helium` (alias `cortex-m55`).
    pub fn from_name(name: &str) -> Option<Target> {
        match name {
            "portable" => Some(Target::Portable),
            "cortex-m-nodsp" | "cortex-m3" | "cortex-m0" | "cortex-m0+" | "cortex-m0plus" => {
                Some(Target::CortexMNoDsp)
            }
            "cortex-m-dsp" | "cortex-m4" | "cortex-m7" | "cortex-m33" => Some(Target::CortexMDsp),
            "helium" | "cortex-m55" => Some(Target::Helium),
            _ => None,
        }
    }

    /// Whether the target's cores have the DSP extension (the 16x8 kernels need it).
    pub fn has_dsp(self) -> bool {
        matches!(self, Target::CortexMDsp | Target::Helium)
    }
}

/// The fast output stage of one channel, if it is exact for it. `acc_bound` bounds `|acc|`;
/// `zero_point` is the output's; `ties` asks for exact rounding of negative values (needed
/// unless the zero point is -128 and the clamp the whole int8 range; see [`ChannelQuant`]).
fn channel_quant(
    bias: i64,
    multiplier: i32,
    shift: i32,
    acc_bound: i64,
    zero_point: i32,
    ties: bool,
) -> Option<ChannelQuant> {
    let lshift = shift.max(0) + 1;
    let rshift = (-shift).max(0);
    // `v + (v >> 31)` is the tie fix only below a right shift of at least one.
    if lshift > 31 || rshift > 31 || (ties && rshift == 0) {
        return None;
    }
    // The accumulator, shifted left by `lshift`, must not overflow (smmulr(2a) == srdhm(a)).
    if acc_bound.checked_shl(lshift as u32)? >= 1 << 31 {
        return None;
    }
    let round = ((1i64 << rshift) >> 1) + ((zero_point as i64) << rshift);
    let flag = if ties {
        ChannelQuant::ROUND_TIES_AWAY
    } else {
        0
    };
    Some(ChannelQuant {
        bias: i32::try_from(bias).ok()?,
        multiplier,
        lshift: lshift | flag,
        rshift,
        round: i32::try_from(round).ok()?,
    })
}

/// `cq` with [`ChannelQuant::EXACT_ADD`] set when `acc_bound` bounds `|acc|` tightly enough
/// that `v + round` cannot overflow: `|smmulr(a, m)| <= |a| |m| / 2^32 + 1` with
/// `|a| <= acc_bound << lshift`, and the round term is known.
fn with_exact_add(mut cq: ChannelQuant, acc_bound: i64) -> ChannelQuant {
    let shifted = acc_bound << cq.left_shift();
    let v_max = ((shifted * (cq.multiplier as i64).abs()) >> 32) + 1;
    if shifted < 1 << 31 && v_max + (cq.round as i64).abs() < 1 << 31 {
        cq.lshift |= ChannelQuant::EXACT_ADD;
    }
    cq
}

/// The output stage of a channel whose weights are all zero: its output is the constant
/// TFLite computes from the bias alone, which can exceed the fast stage's range (converters
/// park dead channels' biases near `2^30`). Stage it as `acc = 0` and `round = output`.
fn constant_channel(
    bias: i64,
    multiplier: i32,
    shift: i32,
    zero_point: i32,
    act: (i32, i32),
) -> Option<ChannelQuant> {
    let v = ferrite_core::fixed::multiply_by_quantized_multiplier(
        i32::try_from(bias).ok()?,
        multiplier,
        shift,
    );
    let out = v.saturating_add(zero_point).clamp(act.0, act.1);
    Some(ChannelQuant {
        bias: 0,
        multiplier: 1 << 30,
        lshift: 1,
        rshift: 0,
        round: out,
    })
}

/// Whether the output stage with its fast (ties-up) rounding is exact for the layer.
fn relu_stage(q: &ConvQuant, act_min: i32, act_max: i32) -> bool {
    q.out_q.zero_point == -128 && act_min == -128 && act_max == 127
}

/// Whether the output stage is exact for the layer with negative ties rounded away from zero:
/// any zero point, as long as the clamp is the whole int8 range (the kernels clamp there).
fn plain_stage(q: &ConvQuant, act_min: i32, act_max: i32) -> bool {
    (-128..=127).contains(&q.out_q.zero_point) && act_min <= -128 && act_max >= 127
}

/// `rows` (channels of `row` values each) with each pair of channels `(2j, 2j + 1)`
/// interleaved `unit` values at a time (the even channel's first, then the odd one's); an odd
/// last channel keeps its row. The no-DSP GEMM's int8 weights go tap by tap (`unit` 1), the
/// DSP GEMM's 16-bit ones word by word (`unit` 2).
fn interleave_channel_pairs<T: Copy>(rows: &[T], row: usize, unit: usize) -> Vec<T> {
    let mut out = rows.to_vec();
    for (dst, src) in out
        .chunks_exact_mut(2 * row)
        .zip(rows.chunks_exact(2 * row))
    {
        let (even, odd) = src.split_at(row);
        let units = even.chunks_exact(unit).zip(odd.chunks_exact(unit));
        for (d, (e, o)) in dst.chunks_exact_mut(2 * unit).zip(units) {
            let (de, dodd) = d.split_at_mut(unit);
            de.copy_from_slice(e);
            dodd.copy_from_slice(o);
        }
    }
    out
}

/// A dense int8 convolution as [`ConvGemmI8`], with the arena scratch it needs, or `None`
/// when the DSP kernel would not be exact for it. With `nodsp` the weights are int8 pairs of
/// channels interleaved tap by tap (`ConvGemmI8::paired`, for the no-DSP kernels); else the
/// lowering prefers the 16-bit pre-shifted weights when they fit (for `SMLAD`), unless
/// `int8_weights` asks for int8 weights (four taps a word, unpacked by `SXTB16`).
#[allow(clippy::too_many_arguments)]
pub fn conv_gemm(
    pool: &mut ConstPool,
    input: TensorId,
    output: TensorId,
    geom: ConvGeometry,
    groups: usize,
    weights: &[i8],
    q: &ConvQuant,
    act_min: i32,
    act_max: i32,
    nodsp: bool,
    int8_weights: bool,
) -> Option<(Op, usize)> {
    let ties = !relu_stage(q, act_min, act_max);
    if groups != 1 || (ties && !plain_stage(q, act_min, act_max)) {
        return None;
    }
    let zero_point = q.out_q.zero_point;
    let out_c = geom.out_c as usize;
    let k = (geom.k_h * geom.k_w * geom.in_c) as usize;
    // The kernel's inner loop takes eight taps at a time.
    let k4 = k.div_ceil(8) * 2;
    let input_offset = -(q.in_q.zero_point as i64);
    let mut packed = vec![0i8; out_c * k4 * 4];
    let mut quants = Vec::with_capacity(out_c);
    for c in 0..out_c {
        let w = weights.get(c * k..(c + 1) * k)?;
        packed[c * k4 * 4..c * k4 * 4 + k].copy_from_slice(w);
        let sum: i64 = w.iter().map(|&v| v as i64).sum();
        let abs: i64 = w.iter().map(|&v| (v as i64).abs()).sum();
        let bias = q.bias.as_ref().map_or(0, |b| b[c] as i64) + input_offset * sum;
        // Inputs are int8 (padding reads the zero point, also int8): |sum x w| <= 128 sum |w|.
        let bound = 128 * abs + bias.abs();
        let cq = if abs == 0 {
            // The accumulator is 0 and the round term the int8 output.
            let cq = constant_channel(
                bias,
                q.multiplier[c],
                q.shift[c],
                zero_point,
                (act_min, act_max),
            )?;
            with_exact_add(cq, 0)
        } else {
            let cq = channel_quant(bias, q.multiplier[c], q.shift[c], bound, zero_point, ties)?;
            with_exact_add(cq, bound)
        };
        quants.push(cq);
    }
    // Prefer 16-bit weights pre-shifted by the left shift (no widening and no shift in the
    // kernel) when every shifted weight and bias fits, unless the layer is to keep int8
    // weights (half the flash; `Options::int8_weights`).
    let fits16 = !nodsp
        && !int8_weights
        && quants.iter().all(|cq| {
            cq.left_shift() <= 8 && i32::try_from((cq.bias as i64) << cq.left_shift()).is_ok()
        });
    let (weights8, weights16) = if fits16 {
        let mut wide = Vec::with_capacity(packed.len());
        for (c, row) in packed.chunks_exact(k4 * 4).enumerate() {
            let l = quants[c].left_shift();
            for g in row.chunks_exact(4) {
                wide.extend([g[0], g[2], g[1], g[3]].map(|w| ((w as i32) << l) as i16));
            }
            quants[c].bias <<= l;
            // The shift is in the weights now; only the flags stay.
            quants[c].lshift &= ChannelQuant::FLAGS;
        }
        // Pairs of channels interleaved word by word (two taps a word), the layout the
        // four-pixel, two-channel kernel reads with one pointer.
        let paired = interleave_channel_pairs(&wide, k4 * 4, 2);
        (ferrite_core::ConstRef::EMPTY, pool.push_i16(&paired))
    } else if nodsp {
        let pairs = interleave_channel_pairs(&packed, k4 * 4, 1);
        (pool.push_i8(&pairs), ferrite_core::ConstRef::EMPTY)
    } else {
        (pool.push_i8(&packed), ferrite_core::ConstRef::EMPTY)
    };
    let words: Vec<i32> = quants.iter().flat_map(|cq| cq.to_words()).collect();
    let scratch = scratch_bytes(k4, out_c);
    let op = Op::ConvGemmI8(ConvGemmI8 {
        input,
        output,
        geom,
        weights: weights8,
        weights16,
        k4: k4 as u32,
        paired: nodsp,
        channels: pool.push_i32(&words),
        input_zero_point: q.in_q.zero_point,
        scratch_offset: 0,
        scratch_bytes: scratch as u32,
    });
    Some((op, scratch))
}

/// A depthwise convolution (multiplier 1, channels a multiple of 4, at most 49 taps) as
/// [`DepthwiseDspI8`] with the arena scratch it needs, or `None` when the DSP kernel would
/// not be exact for it. With `packed`, as [`DepthwiseDspPackedI8`]: the same computation from
/// compact constants (int8 taps in flash, 19 bytes per channel of a 3x3 filter instead of 36)
/// widened into the scratch each time the layer runs.
#[allow(clippy::too_many_arguments)]
pub fn depthwise(
    pool: &mut ConstPool,
    input: TensorId,
    output: TensorId,
    geom: ConvGeometry,
    depth_multiplier: usize,
    weights: &[i8],
    q: &ConvQuant,
    act_min: i32,
    act_max: i32,
    scratch_room: Option<u64>,
    packed: bool,
) -> Option<(Op, usize)> {
    use ferrite_kernels::ops::depthwise_dsp as dw;
    // The output stage's zero point (the clamp is the whole int8 range: `relu_stage`).
    const OUTPUT_ZERO_POINT: i32 = -128;
    let c = geom.out_c as usize;
    let taps = (geom.k_h * geom.k_w) as usize;
    if depth_multiplier != 1
        || !c.is_multiple_of(4)
        || taps > dw::MAX_TAPS
        || geom.in_w >= 1 << 14
        || !(-128..=127).contains(&q.in_q.zero_point)
        || !relu_stage(q, act_min, act_max)
    {
        return None;
    }
    let input_offset = -(q.in_q.zero_point as i64);
    // Weights [1, k_h, k_w, c]: tap t, channel ch at t * c + ch.
    let w = |t: usize, ch: usize| weights.get(t * c + ch).copied();
    let per = dw::weights_per_channel(&geom);
    let mut wide = vec![0i16; per * c];
    let mut params = Vec::with_capacity(4 * c);
    let mut compact = Vec::with_capacity(dw::packed_bytes_per_channel(&geom) * c);
    let mut compact_params = Vec::with_capacity(2 * c);
    for ch in 0..c {
        let (mut sum, mut abs) = (0i64, 0i64);
        for t in 0..taps {
            let v = w(t, ch)? as i64;
            sum += v;
            abs += v.abs();
        }
        let bias = q.bias.as_ref().map_or(0, |b| b[ch] as i64) + input_offset * sum;
        let cq = if abs == 0 {
            constant_channel(
                bias,
                q.multiplier[ch],
                q.shift[ch],
                OUTPUT_ZERO_POINT,
                (-128, 127),
            )?
        } else {
            channel_quant(
                bias,
                q.multiplier[ch],
                q.shift[ch],
                128 * abs + bias.abs(),
                OUTPUT_ZERO_POINT,
                false,
            )?
        };
        // The left shift is applied to the weights and the bias, which must stay in range;
        // the kernel adds the round without saturation (exact while no overflow can occur).
        if (127i64 << cq.lshift) > i16::MAX as i64
            || i32::try_from((cq.bias as i64) << cq.lshift).is_err()
            || cq.multiplier < 0
            || cq.round.unsigned_abs() > 1 << 30
        {
            return None;
        }
        for ky in 0..geom.k_h {
            for kx in 0..geom.k_w {
                let t = (ky * geom.k_w + kx) as usize;
                wide[ch * per + dw::weight_slot(&geom, ky, kx)] =
                    ((w(t, ch)? as i32) << cq.lshift) as i16;
            }
        }
        params.extend([cq.bias << cq.lshift, cq.multiplier, cq.round, cq.rshift]);
        if packed {
            let (bias, multiplier) = packed_stage(&cq, abs == 0, OUTPUT_ZERO_POINT)?;
            compact.extend((0..taps).map(|t| w(t, ch)).collect::<Option<Vec<i8>>>()?);
            compact.extend([cq.lshift as i8, cq.rshift as i8]);
            compact_params.extend([bias, multiplier]);
        }
    }
    let scratch_of = |rows: u32| {
        if packed {
            dw::packed_scratch_bytes(&geom, rows)
        } else {
            dw::scratch_bytes(&geom, rows)
        }
    };
    let tensors = geom.input_elements() + geom.output_elements();
    let band_rows = band_rows_within(&geom, tensors, scratch_room, scratch_of);
    let scratch = scratch_of(band_rows);
    if packed {
        let op = Op::DepthwiseDspPackedI8(DepthwiseDspPackedI8 {
            input,
            output,
            geom,
            weights: pool.push_i8(&compact),
            params: pool.push_i32(&compact_params),
            input_zero_point: q.in_q.zero_point,
            output_zero_point: OUTPUT_ZERO_POINT,
            band_rows,
            scratch_offset: 0,
            scratch_bytes: u32::try_from(scratch).ok()?,
        });
        return Some((op, usize::try_from(scratch).ok()?));
    }
    let op = Op::DepthwiseDspI8(DepthwiseDspI8 {
        input,
        output,
        geom,
        weights: pool.push_i16(&wide),
        params: pool.push_i32(&params),
        input_zero_point: q.in_q.zero_point,
        band_rows,
        scratch_offset: 0,
        scratch_bytes: u32::try_from(scratch).ok()?,
    });
    Some((op, usize::try_from(scratch).ok()?))
}

/// Output rows per depthwise band: enough (at least 64 pixels) to spread the per-band and
/// per-channel setup, within a scratch budget: up to 24 KiB while the layer's input and output
/// (`tensor_bytes`) and scratch stay within 54 KiB, and within `scratch_room` (what the
/// model's activation peak leaves beside this layer's tensors: the band is a speed choice and
/// must not raise the arena); one output row when nothing fits. `scratch_of(rows)` is the
/// scratch of bands of `rows` output rows.
fn band_rows_within(
    geom: &ConvGeometry,
    tensor_bytes: u64,
    scratch_room: Option<u64>,
    scratch_of: impl Fn(u32) -> u64,
) -> u32 {
    let mut band_rows = (geom.out_h.max(1))
        .min(64u32.div_ceil(geom.out_w.max(1)))
        .min(ferrite_kernels::ops::depthwise_dsp::MAX_BAND_ROWS as u32);
    let budget = (54u64 * 1024)
        .saturating_sub(tensor_bytes)
        .min(24 * 1024)
        .min(scratch_room.unwrap_or(u64::MAX))
        .max(scratch_of(1));
    while band_rows > 1 && scratch_of(band_rows) > budget {
        band_rows -= 1;
    }
    band_rows
}

/// The packed form's two words of a channel's stage `cq` (pre-shifted bias, multiplier), whose
/// round term the kernel derives from `rshift` and the zero point. A channel with all-zero
/// weights (`constant`, staged by [`constant_channel`] with its output as the round) gets the
/// bias that yields the same output through the derived round: with `lshift` 1, `rshift` 0 and
/// multiplier `2^30` the stage adds `acc / 4` to the zero point. `None` when neither applies.
fn packed_stage(cq: &ChannelQuant, constant: bool, zero_point: i32) -> Option<(i32, i32)> {
    let derived = ((1i64 << cq.rshift) >> 1) + ((zero_point as i64) << cq.rshift);
    if derived == cq.round as i64 {
        return Some((cq.bias << cq.lshift, cq.multiplier));
    }
    let staged_constant =
        cq.bias == 0 && cq.lshift == 1 && cq.rshift == 0 && cq.multiplier == 1 << 30;
    if !(constant && staged_constant) {
        return None;
    }
    // acc = 4k gives smmlar(acc, 2^30, zp) = zp + k exactly.
    let k = cq.round.checked_sub(zero_point)?;
    Some((k.checked_mul(4)?, cq.multiplier))
}

/// Whether a 32-bit accumulator is exact for a 16x8 filter whose taps are `taps`: every
/// partial sum of `x * w` over int16 inputs stays within `sum |w| * 32768`, which must be
/// below `2^31` (the bias is added in int64 by the output stage, not to the accumulator).
fn sum_fits_i32(taps: impl Iterator<Item = i8>) -> bool {
    taps.map(|w| (w as i64).abs()).sum::<i64>() * 32768 < 1 << 31
}

/// A dense 16x8 convolution (or FULLY_CONNECTED as a 1x1 convolution) as [`ConvGemmI16`], with
/// the arena scratch it needs, or `None` when it is grouped or a 32-bit accumulator could
/// overflow for some output channel (the reference [`ferrite_core::ops::Conv2dI16`] then
/// runs: it accumulates in int64 as TFLM does). With `acc32` (TFLM's int32 path, whose sums
/// wrap at 32 bits themselves) the wrapping `SMLAD` sum is exact for any weights.
#[allow(clippy::too_many_arguments)]
pub fn conv_gemm_i16(
    pool: &mut ConstPool,
    input: TensorId,
    output: TensorId,
    geom: ConvGeometry,
    groups: usize,
    weights: &[i8],
    bias: ConstRef<i64>,
    acc32: bool,
    rq: Requant,
) -> Option<(Op, usize)> {
    let out_c = geom.out_c as usize;
    let k = (geom.k_h * geom.k_w * geom.in_c) as usize;
    if groups != 1 || k == 0 || weights.len() != out_c * k {
        return None;
    }
    if !acc32
        && !weights
            .chunks_exact(k)
            .all(|w| sum_fits_i32(w.iter().copied()))
    {
        return None;
    }
    // The kernel's inner loop takes two pairs of taps at a time.
    let k2 = k.div_ceil(4) * 2;
    // Rows of `k2` words (pairs of taps), zero padded; then each pair of channels' rows
    // interleaved word by word, so the kernel loads both channels' words of a pair of taps
    // with one pointer (an odd last channel keeps its row).
    let mut rows = vec![0i16; out_c * k2 * 2];
    for (dst, w) in rows.chunks_exact_mut(k2 * 2).zip(weights.chunks_exact(k)) {
        for (d, &v) in dst.iter_mut().zip(w) {
            *d = v as i16;
        }
    }
    let mut wide = Vec::with_capacity(rows.len());
    let mut pairs = rows.chunks_exact(k2 * 4);
    for pair in &mut pairs {
        let (a, b) = pair.split_at(k2 * 2);
        for (wa, wb) in a.chunks_exact(2).zip(b.chunks_exact(2)) {
            wide.extend_from_slice(wa);
            wide.extend_from_slice(wb);
        }
    }
    wide.extend_from_slice(pairs.remainder());
    let scratch = ferrite_kernels::ops::dsp16::gemm_scratch_bytes(k2, out_c);
    let op = Op::ConvGemmI16(ConvGemmI16 {
        input,
        output,
        geom,
        weights: pool.push_i16(&wide),
        k2: u32::try_from(k2).ok()?,
        bias,
        acc32,
        rq,
        scratch_offset: 0,
        scratch_bytes: u32::try_from(scratch).ok()?,
    });
    Some((op, scratch))
}

/// A 16x8 depthwise convolution as [`DepthwiseDspI16`] with the arena scratch it needs, or
/// `None` when the kernel does not take it: a depth multiplier other than 1, an odd number of
/// channels, or a channel whose 32-bit accumulator could overflow (see [`sum_fits_i32`]).
#[allow(clippy::too_many_arguments)]
pub fn depthwise_dsp_i16(
    pool: &mut ConstPool,
    input: TensorId,
    output: TensorId,
    geom: ConvGeometry,
    depth_multiplier: usize,
    weights: &[i8],
    bias: ConstRef<i64>,
    rq: Requant,
    scratch_room: Option<u64>,
) -> Option<(Op, usize)> {
    let c = geom.out_c as usize;
    let taps = (geom.k_h * geom.k_w) as usize;
    if depth_multiplier != 1
        || c == 0
        || !c.is_multiple_of(2)
        || geom.in_c as usize != c
        || weights.len() != taps * c
    {
        return None;
    }
    // Weights [1, k_h, k_w, c]: channel ch's taps are every c-th value from ch.
    if !(0..c).all(|ch| sum_fits_i32(weights.iter().skip(ch).step_by(c).copied())) {
        return None;
    }
    let band = ferrite_kernels::ops::dsp16::band_layer(&geom);
    let wide: Vec<i16> = if band {
        // The band kernel's layout: ten values per channel (see `PAIRED_TAPS`).
        let mut wide = vec![0i16; c * 2 * ferrite_kernels::ops::dsp16::PAIRED_WORDS];
        for (ch, dst) in wide.chunks_exact_mut(10).enumerate() {
            for (t, &slot) in ferrite_kernels::ops::dsp16::PAIRED_TAPS.iter().enumerate() {
                dst[slot] = weights[t * c + ch] as i16;
            }
        }
        wide
    } else {
        weights.iter().map(|&w| w as i16).collect()
    };
    // Bands of output rows as for the int8 kernel (the tensors here are int16); layers off
    // the band kernel take one.
    let scratch_of = |rows: u32| ferrite_kernels::ops::dsp16::depthwise_scratch_bytes(&geom, rows);
    let band_rows = match band {
        true => {
            let tensors = 2 * (geom.input_elements() + geom.output_elements());
            band_rows_within(&geom, tensors, scratch_room, scratch_of)
        }
        false => 1,
    };
    let scratch = usize::try_from(scratch_of(band_rows)).ok()?;
    let op = Op::DepthwiseDspI16(DepthwiseDspI16 {
        input,
        output,
        geom,
        weights: pool.push_i16(&wide),
        bias,
        rq,
        band_rows,
        scratch_offset: 0,
        scratch_bytes: u32::try_from(scratch).ok()?,
    });
    Some((op, scratch))
}

/// A dense int8 convolution as [`ConvHeliumI8`], with the arena scratch it needs, or `None`
/// when the Helium kernel does not take it (a grouped convolution, or quantization outside
/// what the kernel entry accepts).
///
/// The kernel is exact for any zero points and activation: the bias folds in
/// `input_offset * sum(w)` modulo `2^32` (the reference's sums wrap the same way), and the
/// output stage is TFLite's `MultiplyByQuantizedMultiplier` itself.
#[allow(clippy::too_many_arguments)]
pub fn conv_helium(
    pool: &mut ConstPool,
    input: TensorId,
    output: TensorId,
    geom: ConvGeometry,
    groups: usize,
    weights: &[i8],
    q: &ConvQuant,
    act_min: i32,
    act_max: i32,
) -> Option<(Op, usize)> {
    let out_c = geom.out_c as usize;
    let k = (geom.k_h * geom.k_w * geom.in_c) as usize;
    if groups != 1
        || k == 0
        || out_c == 0
        || geom.k_h as usize > ferrite_kernels::ops::conv_helium::MAX_K_H
        || !(-128..=127).contains(&q.in_q.zero_point)
    {
        return None;
    }
    let k16 = k.div_ceil(16);
    let n_groups = out_c.div_ceil(4);
    let input_offset = -(q.in_q.zero_point as i64);
    let mut packed = vec![0i8; n_groups * k16 * 64];
    let mut params = vec![0i32; n_groups * GROUP_WORDS];
    for c in 0..out_c {
        let w = weights.get(c * k..(c + 1) * k)?;
        let (g, j) = (c / 4, c % 4);
        for (tap, &v) in w.iter().enumerate() {
            packed[((g * k16 + tap / 16) * 4 + j) * 16 + tap % 16] = v;
        }
        let shift = *q.shift.get(c)?;
        if !(-31..=31).contains(&shift) {
            return None;
        }
        let sum: i64 = w.iter().map(|&v| v as i64).sum();
        let bias = q.bias.as_ref().map_or(Some(0), |b| b.get(c).copied())? as i64;
        let words = &mut params[g * GROUP_WORDS..(g + 1) * GROUP_WORDS];
        // Modulo 2^32, as the reference kernel's wrapping sums.
        words[j] = (bias + input_offset * sum) as i32;
        words[4 + j] = shift.max(0);
        words[8 + j] = *q.multiplier.get(c)?;
        words[12 + j] = shift.min(0);
    }
    let scratch =
        usize::try_from(ferrite_kernels::ops::conv_helium::scratch_bytes(&geom, k16)).ok()?;
    let op = Op::ConvHeliumI8(ConvHeliumI8 {
        input,
        output,
        geom,
        weights: pool.push_i8(&packed),
        k16: k16 as u32,
        params: pool.push_i32(&params),
        input_zero_point: q.in_q.zero_point,
        output_offset: q.out_q.zero_point,
        act_min,
        act_max,
        scratch_offset: 0,
        scratch_bytes: u32::try_from(scratch).ok()?,
    });
    Some((op, scratch))
}

/// The weights of a depthwise convolution with a single input channel (any depth
/// multiplier) as those of the equivalent dense convolution, or `None` for other depthwise
/// convolutions: output channel `ch` filters the one input channel with `w[.., ch]`, so
/// weights `[1, k_h, k_w, c]` become `[c, k_h, k_w, 1]`. Dense kernels (a GEMM over all
/// output channels at once) run such a layer — a model's first layer, typically — several
/// times faster than a depthwise kernel working one channel at a time.
pub fn single_channel_as_dense(
    geom: &ConvGeometry,
    depth_multiplier: usize,
    weights: &[i8],
) -> Option<Vec<i8>> {
    let c = geom.out_c as usize;
    if geom.in_c != 1 || depth_multiplier != c {
        return None;
    }
    let taps = (geom.k_h * geom.k_w) as usize;
    let mut dense = Vec::with_capacity(taps * c);
    for ch in 0..c {
        for t in 0..taps {
            dense.push(*weights.get(t * c + ch)?);
        }
    }
    Some(dense)
}

/// A depthwise convolution as [`DepthwiseHeliumI8`] (3x3, dilation 1, depth multiplier 1,
/// channels a multiple of 16 or dividing 16 with stride 1) with the arena scratch it needs —
/// or, for a single input channel with any depth multiplier, as the equivalent dense
/// [`conv_helium`] — or `None` when the Helium kernels do not take it.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_helium(
    pool: &mut ConstPool,
    input: TensorId,
    output: TensorId,
    geom: ConvGeometry,
    depth_multiplier: usize,
    weights: &[i8],
    q: &ConvQuant,
    act_min: i32,
    act_max: i32,
) -> Option<(Op, usize)> {
    let c = geom.out_c as usize;
    let taps = (geom.k_h * geom.k_w) as usize;
    if let Some(dense) = single_channel_as_dense(&geom, depth_multiplier, weights) {
        return conv_helium(pool, input, output, geom, 1, &dense, q, act_min, act_max);
    }
    use ferrite_kernels::ops::depthwise_helium as dw;
    let int8 = -128..=127;
    // The kernel sums two taps' products in 16 bits, exact while no weight is -128 (TFLite's
    // int8 weights are symmetric, -127..=127).
    if depth_multiplier != 1
        || !dw::supports(&geom)
        || weights.contains(&-128)
        || !int8.contains(&q.in_q.zero_point)
        || !int8.contains(&q.out_q.zero_point)
        || !int8.contains(&act_min)
        || !int8.contains(&act_max)
    {
        return None;
    }
    let input_offset = -(q.in_q.zero_point as i64);
    // Per channel: folded bias, left shift, multiplier, negated right shift.
    let mut stage = Vec::with_capacity(c);
    for ch in 0..c {
        let mut sum = 0i64;
        for t in 0..taps {
            sum += *weights.get(t * c + ch)? as i64;
        }
        let shift = *q.shift.get(ch)?;
        if !(-31..=31).contains(&shift) {
            return None;
        }
        let bias = q.bias.as_ref().map_or(Some(0), |b| b.get(ch).copied())? as i64;
        stage.push([
            (bias + input_offset * sum) as i32,
            shift.max(0),
            *q.multiplier.get(ch)?,
            shift.min(0),
        ]);
    }
    let phases = dw::phases(c);
    let mut packed = vec![0i8; phases * dw::PHASE_WEIGHTS];
    let mut params = vec![0i32; phases * dw::PHASE_WORDS];
    for phase in 0..phases {
        for j in 0..16 {
            let ch = (16 * phase + j) % c;
            for t in 0..taps {
                packed[phase * dw::PHASE_WEIGHTS + t * 16 + j] = *weights.get(t * c + ch)?;
            }
            for (section, &v) in stage[ch].iter().enumerate() {
                params[phase * dw::PHASE_WORDS + section * 16 + dw::lane_of(j)] = v;
            }
        }
    }
    let scratch = usize::try_from(dw::scratch_bytes(&geom)).ok()?;
    let op = Op::DepthwiseHeliumI8(DepthwiseHeliumI8 {
        input,
        output,
        geom,
        weights: pool.push_i8(&packed),
        params: pool.push_i32(&params),
        input_zero_point: q.in_q.zero_point,
        output_offset: q.out_q.zero_point,
        act_min,
        act_max,
        scratch_offset: 0,
        scratch_bytes: u32::try_from(scratch).ok()?,
    });
    Some((op, scratch))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed depthwise stage gives every channel the output of its four-word stage: a
    /// dead channel's constant (any int8 value) through the bias and the derived round, a live
    /// channel's words unchanged.
    #[test]
    fn packed_stages_give_the_staged_outputs() {
        let zp = -128;
        for out in -128..=127 {
            let cq = constant_channel(0, 1 << 30, 0, zp, (-128, 127))
                .map(|c| ChannelQuant { round: out, ..c });
            let cq = cq.unwrap();
            let (bias, m) = packed_stage(&cq, true, zp).unwrap();
            // Weights all zero: the accumulator is the bias; rshift 0, so the round is zp.
            assert_eq!(ferrite_core::ops::output_stage(bias, m, 0, zp) as i32, out);
        }
        let live = channel_quant(1000, 1 << 30, -3, 1 << 20, zp, false).unwrap();
        assert_eq!(
            packed_stage(&live, false, zp),
            Some((1000 << live.lshift, live.multiplier))
        );
        // A round term the kernel cannot derive (another zero point) is not packed.
        assert_eq!(packed_stage(&live, false, 0), None);
    }

    /// Whenever `with_exact_add` sets `EXACT_ADD`, the extreme accumulators `±acc_bound` give
    /// a high-multiply result whose sum with the round term fits 32 bits, so the kernels may
    /// add without saturating (SMMLAR).
    #[test]
    fn exact_add_is_only_set_when_the_add_cannot_overflow() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |lo: i64, hi: i64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            lo + (state % (hi - lo + 1) as u64) as i64
        };
        let (mut exact, mut other) = (0, 0);
        for _ in 0..200_000 {
            let shift = next(-31, 8) as i32;
            let multiplier = next(1 << 30, i32::MAX as i64) as i32;
            let magnitude = next(0, 31);
            let bound = next(0, 1 << magnitude);
            let zero_point = next(-128, 127) as i32;
            let Some(cq) = channel_quant(0, multiplier, shift, bound, zero_point, next(0, 1) == 1)
            else {
                continue;
            };
            let cq = with_exact_add(cq, bound);
            if cq.lshift & ChannelQuant::EXACT_ADD == 0 {
                other += 1;
                continue;
            }
            exact += 1;
            for acc in [-bound, bound] {
                let v = ferrite_core::fixed::smmulr((acc << cq.left_shift()) as i32, multiplier);
                let v = if cq.rounds_ties_away() {
                    v + (v >> 31)
                } else {
                    v
                };
                let sum = v as i64 + cq.round as i64;
                assert!(i32::try_from(sum).is_ok(), "{cq:?} overflows at acc {acc}");
            }
        }
        assert!(exact > 10_000 && other > 50, "{exact} exact, {other} not");
    }
}
