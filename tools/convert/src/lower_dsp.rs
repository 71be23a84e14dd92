//! Lowering for the Cortex-M DSP kernels: the same layers as the portable lowering, with
//! constants laid out for `SMLAD`/`SXTB16` and the input offset folded into the bias.
//!
//! A layer is only given to the DSP kernels when their fast output stage is exact for it (see
//! `ferrite_core::ops::ChannelQuant`): output zero point -128, clamp = the whole int8 range,
//! shifts and rounding constants that fit, and accumulators that provably stay below `2^31`
//! after the left shift. Anything else keeps the portable kernel.

use crate::consts::ConstPool;
use crate::lower::ConvQuant;
use ferrite_core::ops::{ChannelQuant, ConvGemmI8, ConvGeometry, DepthwiseDspI8, Op};
use ferrite_core::TensorId;
use ferrite_kernels::ops::gemm::scratch_bytes;

/// Which kernels a conversion targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// The portable kernels (any CPU, and the host).
    #[default]
    Portable,
    /// Cortex-M with the DSP extension (M4, M7, M33, M55): GEMM convolutions and DSP
    /// depthwise convolutions where they are exact.
    CortexMDsp,
}

impl Target {
    /// Parses `portable`, `cortex-m-dsp` (aliases `cortex-m4`, `cortex-m7`, `cortex-m55`).
    pub fn from_name(name: &str) -> Option<Target> {
        match name {
            "portable" | "cortex-m3" | "cortex-m0" => Some(Target::Portable),
            "cortex-m-dsp" | "cortex-m4" | "cortex-m7" | "cortex-m33" | "cortex-m55" => {
                Some(Target::CortexMDsp)
            }
            _ => None,
        }
    }
}

/// The fast output stage of one channel, if it is exact for it. `acc_bound` bounds `|acc|`.
fn channel_quant(bias: i64, multiplier: i32, shift: i32, acc_bound: i64) -> Option<ChannelQuant> {
    let lshift = shift.max(0) + 1;
    let rshift = (-shift).max(0);
    if lshift > 31 || rshift > 31 {
        return None;
    }
    // The accumulator, shifted left by `lshift`, must not overflow (smmulr(2a) == srdhm(a)).
    if acc_bound.checked_shl(lshift as u32)? >= 1 << 31 {
        return None;
    }
    let round = ((1i64 << rshift) >> 1) - (128i64 << rshift);
    Some(ChannelQuant {
        bias: i32::try_from(bias).ok()?,
        multiplier,
        lshift,
        rshift,
        round: i32::try_from(round).ok()?,
    })
}

/// The output stage of a channel whose weights are all zero: its output is the constant
/// TFLite computes from the bias alone, which can exceed the fast stage's range (converters
/// park dead channels' biases near `2^30`). Stage it as `acc = 0` and `round = output`.
fn constant_channel(bias: i64, multiplier: i32, shift: i32) -> Option<ChannelQuant> {
    let v = ferrite_core::fixed::multiply_by_quantized_multiplier(
        i32::try_from(bias).ok()?,
        multiplier,
        shift,
    );
    let out = v.saturating_sub(128).clamp(-128, 127);
    Some(ChannelQuant {
        bias: 0,
        multiplier: 1 << 30,
        lshift: 1,
        rshift: 0,
        round: out,
    })
}

/// Whether the fast output stage applies to the layer's output at all.
fn relu_stage(q: &ConvQuant, act_min: i32, act_max: i32) -> bool {
    q.out_q.zero_point == -128 && act_min == -128 && act_max == 127
}

/// A dense int8 convolution as [`ConvGemmI8`], with the arena scratch it needs, or `None`
/// when the DSP kernel would not be exact for it.
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
) -> Option<(Op, usize)> {
    if groups != 1 || !relu_stage(q, act_min, act_max) {
        return None;
    }
    let out_c = geom.out_c as usize;
    let k = (geom.k_h * geom.k_w * geom.in_c) as usize;
    // The kernel's inner loop takes eight taps at a time.
    let k4 = k.div_ceil(8) * 2;
    let input_offset = -(q.in_q.zero_point as i64);
    let mut packed = vec![0i8; out_c * k4 * 4];
    let mut words = Vec::with_capacity(out_c * ChannelQuant::WORDS);
    for c in 0..out_c {
        let w = weights.get(c * k..(c + 1) * k)?;
        packed[c * k4 * 4..c * k4 * 4 + k].copy_from_slice(w);
        let sum: i64 = w.iter().map(|&v| v as i64).sum();
        let abs: i64 = w.iter().map(|&v| (v as i64).abs()).sum();
        let bias = q.bias.as_ref().map_or(0, |b| b[c] as i64) + input_offset * sum;
        // Inputs are int8 (padding reads the zero point, also int8): |sum x w| <= 128 sum |w|.
        let bound = 128 * abs + bias.abs();
        let cq = if abs == 0 {
            constant_channel(bias, q.multiplier[c], q.shift[c])?
        } else {
            channel_quant(bias, q.multiplier[c], q.shift[c], bound)?
        };
        words.extend(cq.to_words());
    }
    let scratch = scratch_bytes(k4, out_c);
    let op = Op::ConvGemmI8(ConvGemmI8 {
        input,
        output,
        geom,
        weights: pool.push_i8(&packed),
        k4: k4 as u32,
        channels: pool.push_i32(&words),
        input_zero_point: q.in_q.zero_point,
        scratch_offset: 0,
        scratch_bytes: scratch as u32,
    });
    Some((op, scratch))
}

/// A depthwise convolution (multiplier 1, channels a multiple of 4, at most 49 taps) as
/// [`DepthwiseDspI8`] with the arena scratch it needs, or `None` when the DSP kernel would
/// not be exact for it.
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
) -> Option<(Op, usize)> {
    let c = geom.out_c as usize;
    let taps = (geom.k_h * geom.k_w) as usize;
    if depth_multiplier != 1
        || c % 4 != 0
        || taps > ferrite_kernels::ops::depthwise_dsp::MAX_TAPS
        || !relu_stage(q, act_min, act_max)
    {
        return None;
    }
    let input_offset = -(q.in_q.zero_point as i64);
    // Weights [1, k_h, k_w, c]: tap t, channel ch at t * c + ch.
    let w = |t: usize, ch: usize| weights.get(t * c + ch).copied();
    let mut quants = Vec::with_capacity(c);
    for ch in 0..c {
        let (mut sum, mut abs) = (0i64, 0i64);
        for t in 0..taps {
            let v = w(t, ch)? as i64;
            sum += v;
            abs += v.abs();
        }
        let bias = q.bias.as_ref().map_or(0, |b| b[ch] as i64) + input_offset * sum;
        let cq = if abs == 0 {
            constant_channel(bias, q.multiplier[ch], q.shift[ch])?
        } else {
            channel_quant(bias, q.multiplier[ch], q.shift[ch], 128 * abs + bias.abs())?
        };
        // The left shift is applied to the weights and the bias, which must stay in range.
        if (127i64 << cq.lshift) > i16::MAX as i64
            || i32::try_from((cq.bias as i64) << cq.lshift).is_err()
        {
            return None;
        }
        quants.push(cq);
    }
    let mut wide = Vec::with_capacity(c * taps);
    let mut params = Vec::with_capacity(4 * c);
    for g in (0..c).step_by(4) {
        for t in 0..taps {
            for ch in [g, g + 2, g + 1, g + 3] {
                wide.push(((w(t, ch)? as i32) << quants[ch].lshift) as i16);
            }
        }
        params.extend((g..g + 4).map(|ch| quants[ch].bias << quants[ch].lshift));
        for q in &quants[g..g + 4] {
            params.extend([q.multiplier, q.rshift, q.round]);
        }
    }
    let scratch = taps * c;
    let op = Op::DepthwiseDspI8(DepthwiseDspI8 {
        input,
        output,
        geom,
        weights: pool.push_i16(&wide),
        params: pool.push_i32(&params),
        input_zero_point: q.in_q.zero_point,
        scratch_offset: 0,
        scratch_bytes: scratch as u32,
    });
    Some((op, scratch))
}
