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
use ferrite_core::ops::{Conv2dI8, ConvGeometry, DepthwiseConv2dI8, Op, Requant};
use ferrite_core::quant::{quantize_multiplier, QParams};
use ferrite_core::{DType, Shape, Tensor, TensorId};

/// One test layer: the reference and the fast operator over the same tensors and constants.
#[derive(Debug, Clone)]
pub struct KernelCase {
    /// What the case is (kind and geometry).
    pub name: String,
    /// Tensors: 0 input, 1 output, both int8; offsets leave room for scratch at the end.
    pub tensors: [Tensor; 2],
    /// The reference operator.
    pub reference: Op,
    /// The fast operator.
    pub fast: Op,
    /// The constant blob both operators reference.
    pub consts: Vec<u8>,
    /// The input tensor's bytes.
    pub input: Vec<i8>,
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
        4 * rng.range(1, 12) as u32
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
    let g = geometry(rng, depthwise);
    let taps = (g.k_h * g.k_w) as usize;
    let n_weights = if depthwise {
        taps * g.out_c as usize
    } else {
        g.out_c as usize * taps * g.in_c as usize
    };
    let weights: Vec<i8> = (0..n_weights).map(|_| rng.range(-127, 127) as i8).collect();
    let bias: Vec<i32> = (0..g.out_c)
        .map(|_| rng.range(-20_000, 20_000) as i32)
        .collect();
    let in_q = QParams {
        scale: rng.float(0.005, 0.05) as f32,
        zero_point: rng.range(-128, 127) as i32,
    };
    // The DSP kernels take layers whose output zero point is -128 and clamp the full range.
    let out_q = QParams {
        scale: rng.float(0.02, 0.5) as f32,
        zero_point: -128,
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
        lower_dsp::depthwise(
            &mut pool, input_id, output_id, g, 1, &weights, &q, -128, 127,
        )?
    } else {
        lower_dsp::conv_gemm(
            &mut pool, input_id, output_id, g, 1, &weights, &q, -128, 127,
        )?
    };
    let rq = Requant {
        multiplier: pool.push_i32(&multiplier),
        shift: pool.push_i32(&shift),
        input_offset: -in_q.zero_point,
        output_offset: -128,
        act_min: -128,
        act_max: 127,
    };
    let w = pool.push_i8(&weights);
    let b = pool.push_i32(&bias);
    let reference = if depthwise {
        Op::DepthwiseConv2dI8(DepthwiseConv2dI8 {
            input: input_id,
            output: output_id,
            geom: g,
            depth_multiplier: 1,
            weights: w,
            bias: b,
            rq,
        })
    } else {
        Op::Conv2dI8(Conv2dI8 {
            input: input_id,
            output: output_id,
            geom: g,
            groups: 1,
            weights: w,
            bias: b,
            rq,
        })
    };
    let in_len = g.input_elements() as usize;
    let out_len = g.output_elements() as usize;
    let input: Vec<i8> = (0..in_len).map(|_| rng.range(-128, 127) as i8).collect();
    let out_at = align16(in_len);
    let scratch_at = align16(out_at + out_len);
    let mut fast = fast;
    match &mut fast {
        Op::ConvGemmI8(c) => c.scratch_offset = scratch_at as u32,
        Op::DepthwiseDspI8(d) => d.scratch_offset = scratch_at as u32,
        _ => {}
    }
    let t = |offset: usize, dims: [u32; 4]| Tensor {
        offset: offset as u32,
        dtype: DType::I8,
        shape: Shape::new(&dims),
        scale: 1.0,
        zero_point: 0,
    };
    Some(KernelCase {
        name: format!(
            "{} {}x{}x{} -> {}x{}x{}, {}x{} kernel, stride {}, dilation {}, pad {}/{}",
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
            g.pad_left
        ),
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

/// Runs `op` of `case` on the host through the portable kernels; returns the output.
pub fn run(case: &KernelCase, op: &Op) -> Result<Vec<i8>, ferrite_core::Error> {
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
    };
    let mut arena = AlignedBytes::new(&vec![0u8; case.arena_bytes]);
    let out: &[i8] = model.run(arena.as_mut_slice(), &case.input)?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsp_operators_match_the_reference_on_random_layers() {
        let mut rng = Rng(0x5eed_f00d);
        let (mut conv, mut dw) = (0, 0);
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
        }
        assert!(
            conv > 200 && dw > 200,
            "{conv} conv and {dw} depthwise cases"
        );
    }
}
