//! Criterion benchmarks of the int8 kernels on layer shapes from the shared models, for every
//! kernel set this CPU runs (`cargo bench -p ferrite-mcu-kernels`).
//!
//! Each benchmark runs one layer through the same executor a model uses (a one-layer
//! [`Model`]), so the entry's checks are included, as they are in a real inference.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrite_core::ops::{
    AddI8, Conv2dI8, Conv2dI8Packed, ConvGeometry, DepthwiseConv2dI8, FullyConnectedI8, Requant,
};
use ferrite_core::{ConstRef, DType, Layer, Model, Op, Shape, Tensor, TensorId};
use ferrite_kernels::arch::pack::{pack_conv2d_i8, packed_conv_lens};
use ferrite_kernels::registry::{kernel_for_set, Isa, KernelSet};
use std::hint::black_box;

/// The kernel sets this CPU runs.
fn sets() -> Vec<KernelSet> {
    let mut isas = vec![Isa::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("sse4.1") {
            isas.push(Isa::Sse41);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            isas.push(Isa::Avx2);
        }
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
        {
            isas.push(Isa::Avx512Vnni);
        }
    }
    #[cfg(target_arch = "aarch64")]
    isas.push(Isa::Neon);
    // SAFETY: each instruction set was detected above.
    isas.into_iter()
        .map(|i| unsafe { KernelSet::new_unchecked(i) })
        .collect()
}

/// Deterministic pseudo-random bytes.
fn bytes(n: usize, seed: u64) -> Vec<i8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as i8
        })
        .collect()
}

/// A 16-byte aligned constant blob being filled.
#[derive(Default)]
struct Blob(Vec<u8>);

impl Blob {
    fn push<T: bytemuck::Pod>(&mut self, v: &[T]) -> ConstRef<T> {
        while !self.0.len().is_multiple_of(16) {
            self.0.push(0);
        }
        let off = self.0.len() as u32;
        self.0.extend_from_slice(bytemuck::cast_slice(v));
        ConstRef::new(off, v.len() as u32)
    }
    fn aligned(&self) -> Vec<u128> {
        let mut w = vec![0u128; self.0.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut w)[..self.0.len()].copy_from_slice(&self.0);
        w
    }
}

/// A one-layer model: tensors at 0 (`a`), `a`-size rounded up (`b`, optional) and after
/// them (output).
struct OneLayer {
    tensors: Vec<Tensor>,
    consts: Vec<u128>,
    consts_len: usize,
    op: Op,
    arena: Vec<u128>,
    arena_bytes: usize,
}

fn tensor(offset: usize, dims: &[u32]) -> Tensor {
    Tensor {
        offset: offset as u32,
        dtype: DType::I8,
        shape: Shape::new(dims),
        scale: 1.0,
        zero_point: 0,
    }
}

impl OneLayer {
    fn new(inputs: &[&[u32]], output: &[u32], blob: &Blob, op: Op) -> OneLayer {
        let mut tensors = Vec::new();
        let mut at = 0usize;
        for dims in inputs.iter().chain([&output]) {
            tensors.push(tensor(at, dims));
            at += (dims.iter().product::<u32>() as usize).div_ceil(16) * 16;
        }
        OneLayer {
            tensors,
            consts: blob.aligned(),
            consts_len: blob.0.len(),
            op,
            arena: vec![0u128; at.div_ceil(16)],
            arena_bytes: at,
        }
    }

    fn bench(&mut self, c: &mut Criterion, group: &str, macs: u64) {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(macs.max(1)));
        for set in sets() {
            let entry = kernel_for_set(&self.op, set);
            let layers = [Layer {
                op: self.op,
                kernel: entry.run,
                name: "BENCH",
            }];
            let inputs: Vec<TensorId> = (0..self.tensors.len() as u16 - 1).map(TensorId).collect();
            let model = Model {
                tensors: &self.tensors,
                layers: &layers,
                consts: &bytemuck::cast_slice(&self.consts)[..self.consts_len],
                inputs: &inputs,
                outputs: &[TensorId(self.tensors.len() as u16 - 1)],
                arena_bytes: self.arena_bytes,
                state: ferrite_core::StatePlan::NONE,
            };
            let arena = bytemuck::cast_slice_mut::<u128, u8>(&mut self.arena);
            for (i, t) in self.tensors.iter().enumerate().take(inputs.len()) {
                let data: Vec<u8> = bytes(t.size_bytes(), i as u64 + 7)
                    .into_iter()
                    .map(|b| b as u8)
                    .collect();
                model.set_input_bytes(arena, i, &data).expect("input");
            }
            g.bench_function(BenchmarkId::from_parameter(set.isa()), |b| {
                b.iter(|| model.invoke(black_box(&mut *arena)).expect("invoke"))
            });
        }
        g.finish();
    }
}

fn requant(blob: &mut Blob, channels: usize) -> Requant {
    let mult: Vec<i32> = (0..channels)
        .map(|i| (1 << 30) + (i as i32) * 7919)
        .collect();
    let shift: Vec<i32> = (0..channels).map(|i| -7 - (i % 3) as i32).collect();
    Requant {
        multiplier: blob.push(&mult),
        shift: blob.push(&shift),
        input_offset: 5,
        output_offset: -3,
        act_min: -128,
        act_max: 127,
    }
}

#[allow(clippy::too_many_arguments)]
fn conv(
    c: &mut Criterion,
    name: &str,
    (in_hw, in_c): (u32, u32),
    (out_hw, out_c): (u32, u32),
    k: u32,
    stride: u32,
    pad: u32,
) {
    let geom = ConvGeometry {
        batches: 1,
        in_h: in_hw,
        in_w: in_hw,
        in_c,
        out_h: out_hw,
        out_w: out_hw,
        out_c,
        k_h: k,
        k_w: k,
        stride_h: stride,
        stride_w: stride,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad,
        pad_left: pad,
    };
    let mut blob = Blob::default();
    let w = bytes((out_c * k * k * in_c) as usize, 1);
    let bias: Vec<i32> = (0..out_c as i32).map(|i| i * 100 - 800).collect();
    let rq = requant(&mut blob, out_c as usize);
    let p = Conv2dI8 {
        input: TensorId(0),
        output: TensorId(1),
        geom,
        groups: 1,
        weights: blob.push(&w),
        bias: blob.push(&bias),
        rq,
    };
    let (wl, bl) = packed_conv_lens(&geom).expect("sizes");
    let (mut packed, mut folded) = (vec![0i8; wl], vec![0i32; bl]);
    assert!(pack_conv2d_i8(&p, &w, &bias, &mut packed, &mut folded));
    let op = Op::Conv2dI8Packed(Conv2dI8Packed {
        conv: p,
        packed_weights: blob.push(&packed),
        folded_bias: blob.push(&folded),
    });
    let macs = geom.output_elements() * geom.macs_per_output(in_c);
    OneLayer::new(
        &[&[1, in_hw, in_hw, in_c]],
        &[1, out_hw, out_hw, out_c],
        &blob,
        op,
    )
    .bench(c, name, macs);
}

fn depthwise(c: &mut Criterion, name: &str, (in_hw, ch): (u32, u32), out_hw: u32, stride: u32) {
    let geom = ConvGeometry {
        batches: 1,
        in_h: in_hw,
        in_w: in_hw,
        in_c: ch,
        out_h: out_hw,
        out_w: out_hw,
        out_c: ch,
        k_h: 3,
        k_w: 3,
        stride_h: stride,
        stride_w: stride,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: if stride == 1 { 1 } else { 0 },
        pad_left: if stride == 1 { 1 } else { 0 },
    };
    let mut blob = Blob::default();
    let w = bytes((9 * ch) as usize, 2);
    let bias: Vec<i32> = (0..ch as i32).map(|i| i * 10).collect();
    let rq = requant(&mut blob, ch as usize);
    let op = Op::DepthwiseConv2dI8(DepthwiseConv2dI8 {
        input: TensorId(0),
        output: TensorId(1),
        geom,
        depth_multiplier: 1,
        weights: blob.push(&w),
        bias: blob.push(&bias),
        rq,
    });
    let macs = geom.output_elements() * 9;
    OneLayer::new(
        &[&[1, in_hw, in_hw, ch]],
        &[1, out_hw, out_hw, ch],
        &blob,
        op,
    )
    .bench(c, name, macs);
}

fn kernels(c: &mut Criterion) {
    // vww_96_int8 layer 0 (3 channels, stride 2) and resnet8_int8 layer 1 (3x3, 16 channels).
    conv(c, "conv_3x3_s2_96x96x3_to_8", (96, 3), (48, 8), 3, 2, 0);
    conv(c, "conv_3x3_32x32x16_to_16", (32, 16), (32, 16), 3, 1, 1);
    // vww_96_int8 pointwise layers: early (8 -> 16) and late (128 -> 128).
    conv(c, "conv_1x1_48x48x8_to_16", (48, 8), (48, 16), 1, 1, 0);
    conv(c, "conv_1x1_6x6x128_to_128", (6, 128), (6, 128), 1, 1, 0);
    depthwise(c, "depthwise_3x3_48x48x8", (48, 8), 48, 1);
    depthwise(c, "depthwise_3x3_6x6x128", (6, 128), 6, 1);
    depthwise(c, "depthwise_3x3_s2_48x48x16", (48, 16), 24, 2);

    let mut blob = Blob::default();
    let w = bytes(256 * 10, 3);
    let rq = requant(&mut blob, 10);
    let op = Op::FullyConnectedI8(FullyConnectedI8 {
        input: TensorId(0),
        output: TensorId(1),
        batches: 1,
        in_depth: 256,
        out_depth: 10,
        weights: blob.push(&w),
        weights_offset: 0,
        bias: ConstRef::EMPTY,
        rq,
    });
    OneLayer::new(&[&[1, 256]], &[1, 10], &blob, op).bench(c, "fully_connected_256_to_10", 2560);

    let blob = Blob::default();
    let n = 32 * 32 * 16;
    let op = Op::AddI8(AddI8 {
        subtract: false,
        a: TensorId(0),
        b: TensorId(1),
        output: TensorId(2),
        len: n,
        broadcast: None,
        a_offset: 3,
        b_offset: -7,
        left_shift: 20,
        a_multiplier: 1_500_000_000,
        a_shift: -1,
        b_multiplier: 1_200_000_000,
        b_shift: 0,
        out_multiplier: 1_900_000_000,
        out_shift: -19,
        output_offset: -4,
        act_min: -128,
        act_max: 127,
        scratch_offset: 0,
        tables: false,
    });
    OneLayer::new(&[&[n], &[n]], &[n], &blob, op).bench(c, "add_32x32x16", n as u64);
}

criterion_group!(benches, kernels);
criterion_main!(benches);
