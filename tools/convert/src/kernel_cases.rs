//! Random single-layer cases for testing fast kernels against the reference kernels.
//!
//! Each case is one convolution with random geometry, weights, quantization and input, lowered
//! twice: as the portable reference operator and as the fast operator a target uses. The host
//! property tests run both through the portable code; the QEMU kernel-check firmware
//! (`targets/qemu-kernel-check`) embeds the cases and runs both on the emulated chip, so the
//! assembly is compared with the reference there.

use crate::consts::ConstPool;
use crate::lower::ConvQuant;
use crate::lower_dsp;
use ferrite_core::ops::{
    Conv2dI16, Conv2dI8, ConvGeometry, DepthwiseConv2dI16, DepthwiseConv2dI8, Op, Requant,
};
use ferrite_core::quant::{quantize_multiplier, QParams};
use ferrite_core::{DType, Shape, Tensor, TensorId};

/// One test layer: the reference and the fast operator over the same tensors and constants.
#[derive(Debug, Clone)]
pub struct KernelCase {
    /// What the case is (kind and geometry).
    pub name: String,
    /// Tensors: 0 input, 1 output, both int8 or both int16; offsets leave room for scratch
    /// at the end.
    pub tensors: [Tensor; 2],
    /// The reference operator.
    pub reference: Op,
    /// The fast operator.
    pub fast: Op,
    /// The constant blob both operators reference.
    pub consts: Vec<u8>,
    /// The input tensor's bytes (little-endian values).
    pub input: Vec<u8>,
    /// Arena bytes the case needs (input, output and scratch).
    pub arena_bytes: usize,
}

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    /// A value in `[lo, hi)`.
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

fn align16(n: usize) -> usize {
    n.div_ceil(16) * 16
}

fn geometry(rng: &mut Rng, depthwise: bool) -> ConvGeometry {
    let k = if depthwise {
        3
    } else {
        [1, 1, 3, 3, 5, 2][rng.range(0, 5) as usize]
    };
    let (k_h, k_w) = if rng.range(0, 4) == 0 && !depthwise {
        (k, rng.range(1, 3) as u32)
    } else {
        (k, k)
    };
    let stride = rng.range(1, 2) as u32;
    let dilation = if !depthwise && rng.range(0, 5) == 0 {
        2
    } else {
        1
    };
    let in_c = if depthwise {
        4 * rng.range(1, 16) as u32
    } else {
        rng.range(1, 40) as u32
    };
    let out_c = if depthwise {
        in_c
    } else {
        rng.range(1, 24) as u32
    };
    let in_h = rng.range(k_h as i64 * dilation as i64, 13) as u32;
    let in_w = rng.range(k_w as i64 * dilation as i64, 13) as u32;
    let same = rng.range(0, 1) == 1;
    let size = |inp: u32, k: u32| {
        let eff = (k - 1) * dilation + 1;
        let out = if same {
            inp.div_ceil(stride)
        } else {
            (inp - eff) / stride + 1
        };
        let pad = (((out - 1) * stride + eff) as i64 - inp as i64).max(0) as u32 / 2;
        (out, pad)
    };
    let (out_h, pad_top) = size(in_h, k_h);
    let (out_w, pad_left) = size(in_w, k_w);
    ConvGeometry {
        batches: 1,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        k_h,
        k_w,
        stride_h: stride,
        stride_w: stride,
        dilation_h: dilation,
        dilation_w: dilation,
        pad_top,
        pad_left,
    }
}

/// A random convolution (`depthwise` or dense) that the DSP lowering accepts, or `None` when
/// the random parameters fall outside what it takes (the caller draws again).
pub fn dsp_case(rng: &mut Rng, depthwise: bool) -> Option<KernelCase> {
    gemm_case(rng, depthwise, false)
}

/// A random convolution as the no-DSP lowering gives it (`Target::CortexMNoDsp`: the same
/// operators as [`dsp_case`], the dense one with channel pairs of int8 weights), or `None`
/// when the lowering does not take it.
pub fn nodsp_case(rng: &mut Rng, depthwise: bool) -> Option<KernelCase> {
    gemm_case(rng, depthwise, true)
}

fn gemm_case(rng: &mut Rng, depthwise: bool, nodsp: bool) -> Option<KernelCase> {
    let g = geometry(rng, depthwise);
    let taps = (g.k_h * g.k_w) as usize;
    let n_weights = if depthwise {
        taps * g.out_c as usize
    } else {
        g.out_c as usize * taps * g.in_c as usize
    };
    // Now and then (dense only) tiny weights and a large effective scale (300..3000): the
    // output stage then shifts left by more than 16-bit weights can absorb, which exercises
    // the GEMM with 8-bit weights.
    let large_scale = !depthwise && rng.range(0, 4) == 0;
    let w_max = if large_scale { 2 } else { 127 };
    let mut weights: Vec<i8> = (0..n_weights)
        .map(|_| rng.range(-w_max, w_max) as i8)
        .collect();
    // Now and then (depthwise) a dead channel, all weights zero: its output is a constant
    // the lowering stages apart (and the packed form re-expresses through its bias).
    if depthwise && rng.range(0, 3) == 0 {
        let dead = rng.range(0, g.out_c as i64 - 1) as usize;
        for t in 0..taps {
            weights[t * g.out_c as usize + dead] = 0;
        }
    }
    let b_max = if large_scale { 100 } else { 20_000 };
    let bias: Vec<i32> = (0..g.out_c)
        .map(|_| rng.range(-b_max, b_max) as i32)
        .collect();
    let in_q = QParams {
        scale: rng.float(0.005, 0.05) as f32,
        zero_point: rng.range(-128, 127) as i32,
    };
    // The DSP kernels take layers that clamp the whole int8 range; a dense convolution with
    // any output zero point (rounding negative ties away from zero), a depthwise one only
    // with -128.
    let out_zero_point = if !depthwise && rng.range(0, 1) == 1 {
        rng.range(-128, 127) as i32
    } else {
        -128
    };
    let out_q = QParams {
        scale: rng.float(0.02, 0.5) as f32,
        zero_point: out_zero_point,
    };
    let (mut multiplier, mut shift) = (Vec::new(), Vec::new());
    for _ in 0..g.out_c {
        let effective = if large_scale {
            rng.float(300.0, 3000.0)
        } else {
            in_q.scale as f64 * rng.float(0.001, 0.02) / out_q.scale as f64
        };
        let (m, s) = quantize_multiplier(effective)?;
        multiplier.push(m);
        shift.push(s);
    }
    let q = ConvQuant {
        bias: Some(bias.clone()),
        multiplier: multiplier.clone(),
        shift: shift.clone(),
        in_q,
        out_q,
    };
    let mut pool = ConstPool::default();
    let (input_id, output_id) = (TensorId(0), TensorId(1));
    let (fast, scratch) = if depthwise {
        // Half the cases with no room beside the tensors: bands of one output row, as a
        // model whose peak is elsewhere gets.
        let room = (rng.range(0, 1) == 0).then_some(0);
        // Half of them from the packed constants a flash budget picks.
        let packed = rng.range(0, 1) == 1;
        lower_dsp::depthwise(
            &mut pool, input_id, output_id, g, 1, &weights, &q, -128, 127, room, packed,
        )?
    } else {
        // Half the DSP layers keep int8 weights (`Options::int8_weights`) even where the
        // 16-bit layout fits, so the int8 kernel meets every weight range and shape too.
        let int8 = !nodsp && rng.range(0, 1) == 1;
        lower_dsp::conv_gemm(
            &mut pool, input_id, output_id, g, 1, &weights, &q, -128, 127, nodsp, int8,
        )?
    };
    let name = format!(
        "{} {}x{}x{} -> {}x{}x{}, {}x{} kernel, stride {}, dilation {}, pad {}/{}, output zero point {}",
        if depthwise { "depthwise" } else { "conv" },
        g.in_h,
        g.in_w,
        g.in_c,
        g.out_h,
        g.out_w,
        g.out_c,
        g.k_h,
        g.k_w,
        g.stride_h,
        g.dilation_h,
        g.pad_top,
        g.pad_left,
        out_zero_point
    );
    Some(finish_case(
        rng,
        name,
        pool,
        g,
        (depthwise).then_some(1),
        &weights,
        &q,
        (-128, 127),
        (fast, scratch),
    ))
}

/// A random 16x8 convolution (`depthwise` or dense) that the 16x8 DSP lowering
/// (`lower_dsp::conv_gemm_i16`, `lower_dsp::depthwise_dsp_i16`) takes, or `None` when it does
/// not (the caller draws again). Inputs span the whole int16 range; weights are now and then
/// large enough that the 32-bit accumulator bound fails and the lowering declines (those draws
/// return `None`, so the accepted cases include layers close to the bound); biases reach far
/// beyond 32 bits; the fused activation is random, and a few dense cases take TFLM's int32
/// bias path (`acc32`), whose sums wrap.
pub fn dsp16_case(rng: &mut Rng, depthwise: bool) -> Option<KernelCase> {
    let g = if depthwise {
        // Any filter size, stride and dilation; an even number of channels. Half the draws
        // are the 3x3 filters with dilation 1 that the band kernel takes.
        let band = rng.range(0, 1) == 0;
        let k = match band {
            true => (3, 3),
            false => (rng.range(1, 5) as u32, rng.range(1, 5) as u32),
        };
        let stride = (rng.range(1, 3) as u32, rng.range(1, 2) as u32);
        let dilation = if band { 1 } else { rng.range(1, 2) as u32 };
        let c = 2 * rng.range(1, 20) as u32;
        sized(rng, k, stride, dilation, c, c, 13)
    } else {
        geometry(rng, false)
    };
    let taps = (g.k_h * g.k_w) as usize;
    let n_weights = if depthwise {
        taps * g.out_c as usize
    } else {
        g.out_c as usize * taps * g.in_c as usize
    };
    // Mode 0: weights of magnitude 127 or 128 only, which puts layers of about 512 taps
    // right at the accumulator bound (some just inside, some declined).
    let w_max = [0, 127, 127, 60, 8][rng.range(0, 4) as usize];
    let weights: Vec<i8> = (0..n_weights)
        .map(|_| match w_max {
            0 => [-128, -127, 127][rng.range(0, 2) as usize],
            m => rng.range(-m, m) as i8,
        })
        .collect();
    let acc32 = !depthwise && rng.range(0, 5) == 0;
    // Biases within 32 bits take the kernels' fast output stage, larger ones the int64 one;
    // biases at the edge of the 32-bit range make sums whose add overflows, which the fast
    // stage must notice (the assembly GEMM then computes the block again).
    let mode = rng.range(0, 2);
    let b_max: i64 = match (acc32, mode) {
        (true, _) => 1 << 31,
        (false, 0) => 1 << 24,
        (false, 1) => 1 << 40,
        (false, _) => 1 << 20,
    };
    let bias: Vec<i64> = (0..g.out_c)
        .map(|_| match (acc32, mode, rng.range(-b_max, b_max - 1)) {
            (false, 2, b) if b < 0 => i32::MIN as i64 - b,
            (false, 2, b) => i32::MAX as i64 - b,
            (_, _, b) => b,
        })
        .collect();
    let (mut multiplier, mut shift) = (Vec::new(), Vec::new());
    // Half the layers keep every scale within 2^-16..2^-3, so that every channel's output
    // stage is one `SMMULR` (the form the dense assembly GEMM takes, only when all channels
    // have it); the others reach far below and above 1 (shifts -31..=7 as TFLM allows).
    let scales = if rng.range(0, 1) == 0 {
        (-16.0, -3.0)
    } else {
        (-24.0, 2.0)
    };
    for _ in 0..g.out_c {
        let effective = 2f64.powf(rng.float(scales.0, scales.1));
        let (m, s) = quantize_multiplier(effective)?;
        if !(-31..=7).contains(&s) {
            return None;
        }
        multiplier.push(m);
        shift.push(s);
    }
    // The whole range, a ReLU-like low bound of 0 (the GEMM assembly's `USAT` form), or any.
    let act = match rng.range(0, 2) {
        0 => (-32768, 32767),
        1 => (0, rng.range(0, 32767) as i32),
        _ => (rng.range(-32768, 0) as i32, rng.range(0, 32767) as i32),
    };
    let mut pool = ConstPool::default();
    let rq = Requant {
        multiplier: pool.push_i32(&multiplier),
        shift: pool.push_i32(&shift),
        input_offset: 0,
        output_offset: 0,
        act_min: act.0,
        act_max: act.1,
    };
    let b = if rng.range(0, 7) == 0 {
        ferrite_core::ConstRef::EMPTY
    } else {
        pool.push_i64(&bias)
    };
    let (input_id, output_id) = (TensorId(0), TensorId(1));
    let (mut fast, scratch) = if depthwise {
        lower_dsp::depthwise_dsp_i16(&mut pool, input_id, output_id, g, 1, &weights, b, rq, None)?
    } else {
        lower_dsp::conv_gemm_i16(&mut pool, input_id, output_id, g, 1, &weights, b, acc32, rq)?
    };
    let w = pool.push_i8(&weights);
    let reference = if depthwise {
        Op::DepthwiseConv2dI16(DepthwiseConv2dI16 {
            input: input_id,
            output: output_id,
            geom: g,
            depth_multiplier: 1,
            weights: w,
            bias: b,
            rq,
        })
    } else {
        Op::Conv2dI16(Conv2dI16 {
            input: input_id,
            output: output_id,
            geom: g,
            groups: 1,
            weights: w,
            bias: b,
            acc32,
            rq,
        })
    };
    let name = format!(
        "16x8 {} {}x{}x{} -> {}x{}x{}, {}x{} kernel, stride {}, dilation {}, pad {}/{}, weights to {}{}",
        if depthwise { "depthwise" } else { "conv" },
        g.in_h,
        g.in_w,
        g.in_c,
        g.out_h,
        g.out_w,
        g.out_c,
        g.k_h,
        g.k_w,
        g.stride_h,
        g.dilation_h,
        g.pad_top,
        g.pad_left,
        if w_max == 0 { 128 } else { w_max },
        if acc32 { ", int32 bias path" } else { "" },
    );
    let in_len = g.input_elements() as usize;
    let out_len = g.output_elements() as usize;
    // Extreme values now and then, the rest anywhere in the int16 range.
    let input: Vec<u8> = (0..in_len)
        .flat_map(|_| {
            let v = match rng.range(0, 9) {
                0 => -32768,
                1 => 32767,
                _ => rng.range(-32768, 32767) as i16,
            };
            v.to_le_bytes()
        })
        .collect();
    let out_at = align16(in_len * 2);
    let scratch_at = align16(out_at + out_len * 2);
    match &mut fast {
        Op::ConvGemmI16(c) => c.scratch_offset = scratch_at as u32,
        Op::DepthwiseDspI16(d) => d.scratch_offset = scratch_at as u32,
        _ => {}
    }
    let t = |offset: usize, dims: [u32; 4]| Tensor {
        offset: offset as u32,
        dtype: DType::I16,
        shape: Shape::new(&dims),
        scale: 1.0,
        zero_point: 0,
    };
    Some(KernelCase {
        name,
        tensors: [
            t(0, [1, g.in_h, g.in_w, g.in_c]),
            t(out_at, [1, g.out_h, g.out_w, g.out_c]),
        ],
        reference,
        fast,
        consts: pool.bytes().to_vec(),
        input,
        arena_bytes: align16(scratch_at + scratch),
    })
}

/// The rest of a kernel case once the fast operator is lowered: the reference operator
/// (`DEPTHWISE_CONV_2D` with `depth_multiplier`, else `CONV_2D`) over the same weights and
/// requantization, a random input, and the arena layout (input, output, then the fast
/// operator's `scratch` bytes).
#[allow(clippy::too_many_arguments)]
fn finish_case(
    rng: &mut Rng,
    name: String,
    mut pool: ConstPool,
    g: ConvGeometry,
    depth_multiplier: Option<u32>,
    weights: &[i8],
    q: &ConvQuant,
    (act_min, act_max): (i32, i32),
    (mut fast, scratch): (Op, usize),
) -> KernelCase {
    let rq = Requant {
        multiplier: pool.push_i32(&q.multiplier),
        shift: pool.push_i32(&q.shift),
        input_offset: -q.in_q.zero_point,
        output_offset: q.out_q.zero_point,
        act_min,
        act_max,
    };
    let w = pool.push_i8(weights);
    let b = pool.push_i32(q.bias.as_deref().unwrap_or(&[]));
    let (input_id, output_id) = (TensorId(0), TensorId(1));
    let reference = match depth_multiplier {
        Some(depth_multiplier) => Op::DepthwiseConv2dI8(DepthwiseConv2dI8 {
            input: input_id,
            output: output_id,
            geom: g,
            depth_multiplier,
            weights: w,
            bias: b,
            rq,
        }),
        None => Op::Conv2dI8(Conv2dI8 {
            input: input_id,
            output: output_id,
            geom: g,
            groups: 1,
            weights: w,
            bias: b,
            rq,
        }),
    };
    let in_len = g.input_elements() as usize;
    let out_len = g.output_elements() as usize;
    let input: Vec<u8> = (0..in_len).map(|_| rng.range(-128, 127) as u8).collect();
    let out_at = align16(in_len);
    let scratch_at = align16(out_at + out_len);
    match &mut fast {
        Op::ConvGemmI8(c) => c.scratch_offset = scratch_at as u32,
        Op::DepthwiseDspI8(d) => d.scratch_offset = scratch_at as u32,
        Op::DepthwiseDspPackedI8(d) => d.scratch_offset = scratch_at as u32,
        Op::ConvHeliumI8(c) => c.scratch_offset = scratch_at as u32,
        Op::DepthwiseHeliumI8(d) => d.scratch_offset = scratch_at as u32,
        Op::ConvGemmI16(c) => c.scratch_offset = scratch_at as u32,
        Op::DepthwiseDspI16(d) => d.scratch_offset = scratch_at as u32,
        _ => {}
    }
    let t = |offset: usize, dims: [u32; 4]| Tensor {
        offset: offset as u32,
        dtype: DType::I8,
        shape: Shape::new(&dims),
        scale: 1.0,
        zero_point: 0,
    };
    KernelCase {
        name,
        tensors: [
            t(0, [1, g.in_h, g.in_w, g.in_c]),
            t(out_at, [1, g.out_h, g.out_w, g.out_c]),
        ],
        reference,
        fast,
        consts: pool.bytes().to_vec(),
        input,
        arena_bytes: align16(scratch_at + scratch),
    }
}

/// A convolution geometry of `k_h x k_w` taps with the given strides, dilation and channels,
/// a random input size that fits the filter, and random "same" or "valid" padding.
#[allow(clippy::too_many_arguments)]
fn sized(
    rng: &mut Rng,
    (k_h, k_w): (u32, u32),
    (stride_h, stride_w): (u32, u32),
    dilation: u32,
    in_c: u32,
    out_c: u32,
    max_size: i64,
) -> ConvGeometry {
    let in_h = rng.range(((k_h - 1) * dilation + 1) as i64, max_size) as u32;
    let in_w = rng.range(((k_w - 1) * dilation + 1) as i64, max_size) as u32;
    let same = rng.range(0, 1) == 1;
    let size = |inp: u32, k: u32, stride: u32| {
        let eff = (k - 1) * dilation + 1;
        let out = if same {
            inp.div_ceil(stride)
        } else {
            (inp - eff) / stride + 1
        };
        let pad = (((out - 1) * stride + eff) as i64 - inp as i64).max(0) as u32 / 2;
        (out, pad)
    };
    let (out_h, pad_top) = size(in_h, k_h, stride_h);
    let (out_w, pad_left) = size(in_w, k_w, stride_w);
    ConvGeometry {
        batches: 1,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        k_h,
        k_w,
        stride_h,
        stride_w,
        dilation_h: dilation,
        dilation_w: dilation,
        pad_top,
        pad_left,
    }
}

/// A random convolution (`depthwise` or dense) that the Helium lowering
/// (`lower_dsp::conv_helium`, `lower_dsp::depthwise_helium`) takes, with random zero points,
/// fused activations, biases (sometimes near the `i32` limits, to exercise the wrapping sums)
/// and scales (sometimes with left shifts, to exercise saturation), or `None` when the random
/// parameters fall outside what it takes (the caller draws again).
pub fn helium_case(rng: &mut Rng, depthwise: bool) -> Option<KernelCase> {
    let mut depth_multiplier = 1;
    let g = if depthwise {
        match rng.range(0, 3) {
            // 16 channels per chunk, either stride.
            0 | 1 => {
                let c = 16 * rng.range(1, 4) as u32;
                let (sh, sw) = (rng.range(1, 2) as u32, rng.range(1, 2) as u32);
                sized(rng, (3, 3), (sh, sw), 1, c, c, 13)
            }
            // Several pixels per chunk.
            2 => {
                let c = [1, 2, 4, 8][rng.range(0, 3) as usize];
                let sh = rng.range(1, 2) as u32;
                sized(rng, (3, 3), (sh, 1), 1, c, c, 13)
            }
            // One input channel: lowered as a dense convolution.
            _ => {
                depth_multiplier = rng.range(1, 12) as u32;
                let k = [1, 2, 3, 5][rng.range(0, 3) as usize];
                let s = rng.range(1, 2) as u32;
                let d = if rng.range(0, 4) == 0 { 2 } else { 1 };
                sized(rng, (k, k), (s, s), d, 1, depth_multiplier, 13)
            }
        }
    } else if rng.range(0, 3) == 0 {
        // Pointwise over whole vectors: read in place.
        let in_c = 16 * rng.range(1, 8) as u32;
        let out_c = rng.range(1, 40) as u32;
        sized(rng, (1, 1), (1, 1), 1, in_c, out_c, 9)
    } else {
        geometry(rng, false)
    };
    let taps = (g.k_h * g.k_w) as usize;
    let n_weights = if depthwise {
        taps * g.out_c as usize
    } else {
        g.out_c as usize * taps * g.in_c as usize
    };
    // Dense convolutions take any weight; depthwise ones only -127..=127 (TFLite's range).
    let lowest = if depthwise && depth_multiplier == 1 {
        -127
    } else {
        -128
    };
    let weights: Vec<i8> = (0..n_weights)
        .map(|_| rng.range(lowest, 127) as i8)
        .collect();
    let huge = rng.range(0, 7) == 0;
    let bias: Vec<i32> = (0..g.out_c)
        .map(|_| {
            if huge {
                rng.range(i32::MIN as i64, i32::MAX as i64) as i32
            } else {
                rng.range(-20_000, 20_000) as i32
            }
        })
        .collect();
    let in_q = QParams {
        scale: rng.float(0.005, 0.05) as f32,
        zero_point: rng.range(-128, 127) as i32,
    };
    let out_zp = rng.range(-128, 127) as i32;
    let out_q = QParams {
        // Now and then an output scale that makes the effective multiplier exceed 1.
        scale: if rng.range(0, 5) == 0 {
            rng.float(0.000_001, 0.000_1)
        } else {
            rng.float(0.02, 0.5)
        } as f32,
        zero_point: out_zp,
    };
    let (act_min, act_max) = match rng.range(0, 3) {
        0 => (-128, 127),
        1 => (out_zp, 127),
        2 => (out_zp, (out_zp + rng.range(1, 60) as i32).min(127)),
        _ => {
            let (a, b) = (rng.range(-128, 127) as i32, rng.range(-128, 127) as i32);
            (a.min(b), a.max(b))
        }
    };
    let (mut multiplier, mut shift) = (Vec::new(), Vec::new());
    for _ in 0..g.out_c {
        let w_scale = rng.float(0.001, 0.02);
        let (m, s) = quantize_multiplier(in_q.scale as f64 * w_scale / out_q.scale as f64)?;
        multiplier.push(m);
        shift.push(s);
    }
    let q = ConvQuant {
        bias: Some(bias.clone()),
        multiplier: multiplier.clone(),
        shift: shift.clone(),
        in_q,
        out_q,
    };
    let mut pool = ConstPool::default();
    let (input_id, output_id) = (TensorId(0), TensorId(1));
    let (fast, scratch) = if depthwise {
        lower_dsp::depthwise_helium(
            &mut pool,
            input_id,
            output_id,
            g,
            depth_multiplier as usize,
            &weights,
            &q,
            act_min,
            act_max,
        )?
    } else {
        lower_dsp::conv_helium(
            &mut pool, input_id, output_id, g, 1, &weights, &q, act_min, act_max,
        )?
    };
    let name = format!(
        "helium {} {}x{}x{} -> {}x{}x{}, {}x{} kernel, stride {}x{}, dilation {}, pad {}/{}, zp {}/{}, clamp {}..{}",
        if depthwise { "depthwise" } else { "conv" },
        g.in_h,
        g.in_w,
        g.in_c,
        g.out_h,
        g.out_w,
        g.out_c,
        g.k_h,
        g.k_w,
        g.stride_h,
        g.stride_w,
        g.dilation_h,
        g.pad_top,
        g.pad_left,
        in_q.zero_point,
        out_zp,
        act_min,
        act_max
    );
    Some(finish_case(
        rng,
        name,
        pool,
        g,
        depthwise.then_some(depth_multiplier),
        &weights,
        &q,
        (act_min, act_max),
        (fast, scratch),
    ))
}

/// Rust source embedding `cases` for a QEMU kernel-check firmware: `ARENA_BYTES` (the largest
/// case's arena) and `CASES: [Case; N]`, where the firmware defines `Case` with the fields
/// `name, consts, input, tensors, reference, fast, arena_bytes`. With `data_section`, every
/// case's data (constants, input, tensors, both operators and the case table) goes to that
/// linker section, so the chip's flash holds only the program: the operator descriptors alone
/// are ~150 B per operator, 90 KB for the Cortex-M55's 300 cases.
pub fn cases_module(cases: &[KernelCase], data_section: Option<&str>) -> String {
    fn lit<T: serde::Serialize + ?Sized>(value: &T) -> String {
        crate::rustlit::to_rust(value).unwrap_or_else(|e| panic!("{e}"))
    }
    use std::fmt::Write;
    let attr = data_section.map_or(String::new(), |s| format!("#[link_section = \"{s}\"]\n"));
    let mut s = String::new();
    let max_arena = cases.iter().map(|c| c.arena_bytes).max().unwrap_or(16);
    let _ = writeln!(s, "pub const ARENA_BYTES: usize = {max_arena};");
    for (i, c) in cases.iter().enumerate() {
        let consts = crate::emit::byte_string(&c.consts);
        let input = &c.input;
        let _ = writeln!(
            s,
            "{attr}static CONSTS_{i}: ferrite_core::arena::Aligned<[u8; {}]> = ferrite_core::arena::Aligned(*b\"{consts}\");",
            c.consts.len()
        );
        let _ = writeln!(
            s,
            "{attr}static INPUT_{i}: [u8; {}] = *b\"{}\";",
            input.len(),
            crate::emit::byte_string(input)
        );
        let _ = writeln!(
            s,
            "{attr}static TENSORS_{i}: [ferrite_core::Tensor; 2] = [{}, {}];",
            lit(&c.tensors[0]),
            lit(&c.tensors[1])
        );
        let _ = writeln!(
            s,
            "{attr}static REFERENCE_{i}: ferrite_core::Op = {};",
            lit(&c.reference)
        );
        let _ = writeln!(
            s,
            "{attr}static FAST_{i}: ferrite_core::Op = {};",
            lit(&c.fast)
        );
    }
    let _ = writeln!(s, "{attr}pub static CASES: [Case; {}] = [", cases.len());
    for (i, c) in cases.iter().enumerate() {
        let _ = writeln!(
            s,
            "    Case {{ name: {:?}, consts: &CONSTS_{i}.0, input: &INPUT_{i}, tensors: &TENSORS_{i}, reference: &REFERENCE_{i}, fast: &FAST_{i}, arena_bytes: {} }},",
            c.name, c.arena_bytes
        );
    }
    s.push_str("];\n");
    s
}

/// The QEMU kernel check's cases (`targets/qemu-kernel-check` embeds them): `int8` int8 cases
/// from [`dsp_case`] (dense and depthwise by turns), then a third as many 16x8 ones from
/// [`dsp16_case`] (likewise), each from its fixed seed.
pub fn qemu_check_cases(int8: usize) -> Vec<KernelCase> {
    let mut rng = Rng(0xfe44_17e5);
    let mut cases = Vec::new();
    while cases.len() < int8 {
        if let Some(c) = dsp_case(&mut rng, cases.len() % 2 == 1) {
            cases.push(c);
        }
    }
    let mut rng = Rng(0x1608_17e6);
    let wanted16 = int8 + int8 / 3;
    while cases.len() < wanted16 {
        if let Some(c) = dsp16_case(&mut rng, cases.len() % 2 == 1) {
            cases.push(c);
        }
    }
    cases
}

/// Runs `op` of `case` on the host through the portable kernels; returns the output's bytes.
pub fn run(case: &KernelCase, op: &Op) -> Result<Vec<u8>, ferrite_core::Error> {
    use crate::consts::AlignedBytes;
    let consts = AlignedBytes::new(&case.consts);
    let layer = ferrite_core::Layer {
        op: *op,
        kernel: ferrite_kernels::registry::kernel_for(op).run,
        name: "case",
    };
    let model = ferrite_core::Model {
        tensors: &case.tensors,
        layers: std::slice::from_ref(&layer),
        consts: consts.as_slice(),
        inputs: &[TensorId(0)],
        outputs: &[TensorId(1)],
        arena_bytes: case.arena_bytes,
        state: ferrite_core::StatePlan::NONE,
    };
    let mut arena = AlignedBytes::new(&vec![0u8; case.arena_bytes]);
    let arena = arena.as_mut_slice();
    model.set_input_bytes(arena, 0, &case.input)?;
    model.invoke(arena)?;
    Ok(model.output_bytes(arena, 0)?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::ChannelQuant;

    #[test]
    fn helium_operators_match_the_reference_on_random_layers() {
        let mut rng = Rng(0x4e11_0bea);
        let (mut conv, mut dw) = (0, 0);
        for i in 0..800 {
            let depthwise = i % 2 == 1;
            let Some(case) = helium_case(&mut rng, depthwise) else {
                continue;
            };
            let want = run(&case, &case.reference).unwrap();
            let got = run(&case, &case.fast).unwrap();
            assert_eq!(got, want, "{}", case.name);
            if depthwise {
                dw += 1;
            } else {
                conv += 1;
            }
        }
        assert!(
            conv > 300 && dw > 300,
            "{conv} conv and {dw} depthwise cases"
        );
    }

    /// Whether a dense 16x8 case's full blocks take the assembly GEMM on the Cortex-M4 (the
    /// QEMU kernel check's cases): TFLM's int64 path and every channel's output stage one
    /// `SMMULR` (`fast_post` 0 for a bias that fits 32 bits).
    fn gemm_asm_form(consts: &[u8], p: &ferrite_core::ops::ConvGemmI16) -> bool {
        let words = |r: ferrite_core::ConstRef<i32>| -> Vec<i32> {
            consts[r.offset as usize..][..4 * p.geom.out_c as usize]
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let (m, s) = (words(p.rq.multiplier), words(p.rq.shift));
        !p.acc32
            && m.iter().zip(&s).all(|(&m, &s)| {
                ferrite_kernels::ops::dsp16::Stage::new(Some(0), m, s).fast_post == 0
            })
    }

    #[test]
    fn dsp16_operators_match_the_reference_on_random_layers() {
        let mut rng = Rng(0x16_0008);
        let (mut conv, mut dw, mut acc32, mut declined) = (0, 0, 0, 0);
        let (mut asm_form, mut band) = (0, 0);
        for i in 0..1200 {
            let depthwise = i % 2 == 1;
            let Some(case) = dsp16_case(&mut rng, depthwise) else {
                declined += 1;
                continue;
            };
            let want = run(&case, &case.reference).unwrap();
            let got = run(&case, &case.fast).unwrap();
            assert_eq!(got, want, "{}", case.name);
            match &case.fast {
                Op::ConvGemmI16(p) => {
                    conv += 1;
                    acc32 += p.acc32 as u32;
                    asm_form +=
                        (gemm_asm_form(&case.consts, p) && p.geom.out_h * p.geom.out_w >= 4) as u32;
                }
                Op::DepthwiseDspI16(p) => {
                    dw += 1;
                    band += ferrite_kernels::ops::dsp16::band_layer(&p.geom) as u32;
                }
                other => panic!("unexpected fast operator {other:?}"),
            }
        }
        assert!(
            conv > 300 && dw > 300 && acc32 > 30 && declined > 3 && asm_form > 100 && band > 120,
            "{conv} conv and {dw} depthwise cases ({band} on bands), {acc32} on the int32 path, \
             {declined} declined, {asm_form} in the assembly GEMM's form"
        );
    }

    /// The QEMU kernel check (its default 120 int8 cases) meets the 16-bit-weight int8 GEMM
    /// (`gemm4x2_relu_w16` and, for an odd last channel, `gemm4_relu_w16`) in every shape its
    /// assembly branches on: full blocks of four pixels, odd and even channel counts, one
    /// pair of channels and several, `k4` of 2, 4, 6 and more, and both output stages in
    /// pairs of channels.
    #[test]
    fn qemu_check_cases_cover_the_16_bit_weight_gemm() {
        let (mut layers, mut odd, mut one_pair, mut pairs) = (0, 0, 0, 0);
        let mut k4 = [0u32; 4];
        let (mut exact_add, mut general) = (0, 0);
        for case in qemu_check_cases(120) {
            let Op::ConvGemmI8(p) = &case.fast else {
                continue;
            };
            if p.weights16.len == 0 || p.geom.out_h * p.geom.out_w < 4 {
                continue;
            }
            layers += 1;
            let out_c = p.geom.out_c;
            odd += out_c % 2;
            one_pair += (out_c / 2 == 1) as u32;
            pairs += (out_c / 2 > 1) as u32;
            k4[(p.k4 as usize / 2 - 1).min(3)] += 1;
            let bytes = &case.consts[p.channels.offset as usize..][..p.channels.len as usize * 4];
            let words: Vec<i32> = bytes
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            // The stages of the channels in pairs.
            for q in words
                .chunks_exact(ChannelQuant::WORDS)
                .take(out_c as usize & !1)
            {
                match q[2] & ChannelQuant::FLAGS {
                    ChannelQuant::EXACT_ADD => exact_add += 1,
                    _ => general += 1,
                }
            }
        }
        eprintln!(
            "{layers} layers, {odd} odd, {one_pair} one pair, {pairs} pairs, k4 {k4:?}, \
             {exact_add} SMMLAR stages, {general} general"
        );
        assert!(
            layers >= 15
                && odd >= 4
                && layers - odd >= 4
                && one_pair >= 1
                && pairs >= 8
                && k4.iter().all(|&n| n >= 1)
                && exact_add >= 20
                && general >= 20,
            "{layers} layers, {odd} with an odd channel count, {one_pair} with one pair of \
             channels and {pairs} with more, k4 2/4/6/8+: {k4:?}; {exact_add} paired channels \
             with the SMMLAR stage, {general} with the general one"
        );
    }

    #[test]
    fn nodsp_operators_match_the_reference_on_random_layers() {
        let mut rng = Rng(0x0d5b_0e0f);
        let (mut conv, mut dw, mut odd_channels, mut partial) = (0, 0, 0, 0);
        for i in 0..600 {
            let depthwise = i % 2 == 1;
            let Some(case) = nodsp_case(&mut rng, depthwise) else {
                continue;
            };
            let want = run(&case, &case.reference).unwrap();
            let got = run(&case, &case.fast).unwrap();
            assert_eq!(got, want, "{}", case.name);
            match &case.fast {
                Op::ConvGemmI8(p) => {
                    assert!(p.paired && p.weights16.len == 0, "{}", case.name);
                    conv += 1;
                    odd_channels += p.geom.out_c % 2;
                    partial += ((p.geom.out_h * p.geom.out_w) % 4 != 0) as u32;
                }
                Op::DepthwiseDspI8(_) | Op::DepthwiseDspPackedI8(_) => dw += 1,
                other => panic!("unexpected fast operator {other:?}"),
            }
        }
        assert!(
            conv > 200 && dw > 200 && odd_channels > 50 && partial > 100,
            "{conv} conv and {dw} depthwise cases, {odd_channels} with an odd channel count, \
             {partial} with a partial last block"
        );
    }

    #[test]
    fn dsp_operators_match_the_reference_on_random_layers() {
        let mut rng = Rng(0x5eed_f00d);
        let (mut conv, mut dw, mut any_zero_point, mut weights8) = (0, 0, 0, 0);
        // Depthwise layers from the packed constants (`Options::int8_weights`).
        let mut packed = 0;
        // Channels whose output stage is SMMLAR, and those taking the general stage
        // (ties rounded away from zero, or an add that could overflow).
        let (mut exact_add, mut general) = (0, 0);
        for i in 0..600 {
            let depthwise = i % 2 == 1;
            let Some(case) = dsp_case(&mut rng, depthwise) else {
                continue;
            };
            let want = run(&case, &case.reference).unwrap();
            let got = run(&case, &case.fast).unwrap();
            assert_eq!(got, want, "{}", case.name);
            if depthwise {
                dw += 1;
            } else {
                conv += 1;
            }
            if !case.name.ends_with("output zero point -128") {
                any_zero_point += 1;
            }
            if matches!(&case.fast, Op::ConvGemmI8(p) if p.weights16.len == 0) {
                weights8 += 1;
            }
            if matches!(&case.fast, Op::DepthwiseDspPackedI8(_)) {
                packed += 1;
            }
            if let Op::ConvGemmI8(p) = &case.fast {
                let bytes = &case.consts[p.channels.offset as usize..];
                let words: Vec<i32> = bytes[..p.channels.len as usize * 4]
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                let lshift_words = words.chunks_exact(ChannelQuant::WORDS).map(|q| q[2]);
                for w in lshift_words {
                    match w & ChannelQuant::FLAGS {
                        ChannelQuant::EXACT_ADD => exact_add += 1,
                        _ => general += 1,
                    }
                }
            }
        }
        assert!(
            conv > 200 && dw > 200 && any_zero_point > 80 && weights8 > 20,
            "{conv} conv and {dw} depthwise cases, {any_zero_point} with another output zero \
             point, {weights8} with 8-bit weights"
        );
        assert!(
            packed > 80 && dw - packed > 80,
            "{packed} of {dw} depthwise cases from packed constants"
        );
        assert!(
            exact_add > 500 && general > 500,
            "{exact_add} channels with the SMMLAR stage, {general} with the general one"
        );
    }
}
