//! Tests of the 16x8 (int16 activation, int8 weight) kernels: the int64
//! `MultiplyByQuantizedMultiplier` on hand-computed values, and each kernel against a
//! straightforward reference on random small layers (sums in i64, requantization in i128).

extern crate std;
use std::vec;
use std::vec::Vec;

use crate::ops::conv::{conv2d_i16, multiply_by_quantized_multiplier_i64};
use crate::ops::depthwise::depthwise_conv2d_i16;
use crate::ops::fully_connected::fully_connected_i16;
use crate::ops::transpose_conv::transpose_conv2d_i16;
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::ops::{
    Conv2dI16, ConvGeometry, DepthwiseConv2dI16, FullyConnectedI16, Requant, TransposeConv2dI16,
};
use ferrite_core::{ConstRef, TensorId};
use proptest::prelude::*;

/// TFLM's int64 requantization restated with an i128 product, as the oracle.
fn mbqm64_ref(x: i64, m: i32, shift: i32) -> i32 {
    let reduced: i128 = if m < 0x7FFF_0000 {
        (m as i128 + 32768) / 65536
    } else {
        0x7FFF
    };
    let ts = 15 - shift;
    let v = (x as i128 * reduced + (1i128 << (ts - 1))) >> ts;
    v as i32
}

#[test]
fn mbqm64_rounds_half_up_once() {
    // 0.5 exactly: reduced multiplier 16384, shift 15.
    let half = 1 << 30;
    assert_eq!(multiply_by_quantized_multiplier_i64(1000, half, 0), 500);
    assert_eq!(multiply_by_quantized_multiplier_i64(1001, half, 0), 501);
    // Negative ties round toward +infinity.
    assert_eq!(multiply_by_quantized_multiplier_i64(-1001, half, 0), -500);
    // The 16-bit reduced multiplier loses precision the int32 path keeps: 0x4000_8000
    // rounds up to 0x4001 / 2^15, so 2^20 * m differs from the int32 path's result.
    let m = 0x4000_8000;
    assert_eq!(
        multiply_by_quantized_multiplier_i64(1 << 20, m, 0),
        0x4001 << 5
    );
    assert_eq!(multiply_by_quantized_multiplier(1 << 20, m, 0), 0x8_0010);
    // A multiplier within 2^15 of 2^31 saturates to 0x7FFF instead of overflowing.
    assert_eq!(
        multiply_by_quantized_multiplier_i64(1 << 20, i32::MAX, -1),
        mbqm64_ref(1 << 20, i32::MAX, -1)
    );
    assert_eq!(
        multiply_by_quantized_multiplier_i64(1 << 20, i32::MAX, -1),
        0x7FFF << 4
    );
}

/// A small deterministic generator, so each proptest case is one seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn i16s(&mut self, n: usize) -> Vec<i16> {
        (0..n).map(|_| self.range(-32768, 32767) as i16).collect()
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.range(-127, 127) as i8).collect()
    }
    fn bias(&mut self, n: usize) -> Vec<i64> {
        (0..n).map(|_| self.range(-(1 << 24), 1 << 24)).collect()
    }
    /// Multipliers and shifts that keep outputs roughly within int16 for these sums.
    fn requant(&mut self, n: usize) -> (Vec<i32>, Vec<i32>) {
        let m = (0..n)
            .map(|_| self.range(1 << 30, i32::MAX as i64) as i32)
            .collect();
        let s = (0..n).map(|_| self.range(-14, -6) as i32).collect();
        (m, s)
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

fn clamp16(v: i32, lo: i32, hi: i32) -> i16 {
    v.max(lo).min(hi) as i16
}

#[allow(clippy::too_many_arguments)]
fn geometry(r: &mut Rng, in_c: u32, out_c: u32, dilation: bool) -> ConvGeometry {
    let k_h = r.range(1, 3) as u32;
    let k_w = r.range(1, 3) as u32;
    let (dh, dw) = if dilation {
        (r.range(1, 2) as u32, r.range(1, 2) as u32)
    } else {
        (1, 1)
    };
    ConvGeometry {
        batches: r.range(1, 2) as u32,
        in_h: r.range(1, 6) as u32,
        in_w: r.range(1, 6) as u32,
        in_c,
        out_h: r.range(1, 5) as u32,
        out_w: r.range(1, 5) as u32,
        out_c,
        k_h,
        k_w,
        stride_h: r.range(1, 2) as u32,
        stride_w: r.range(1, 2) as u32,
        dilation_h: dh,
        dilation_w: dw,
        pad_top: r.range(0, k_h as i64 - 1) as u32,
        pad_left: r.range(0, k_w as i64 - 1) as u32,
    }
}

fn len_in(g: &ConvGeometry) -> usize {
    (g.batches * g.in_h * g.in_w * g.in_c) as usize
}
fn len_out(g: &ConvGeometry) -> usize {
    (g.batches * g.out_h * g.out_w * g.out_c) as usize
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv2d_i16_matches_reference(seed in any::<u64>(), acc32 in any::<bool>(), with_bias in any::<bool>()) {
        let mut r = Rng(seed);
        let groups = r.range(1, 2) as u32;
        let in_c = groups * r.range(1, 3) as u32;
        let out_c = groups * r.range(1, 3) as u32;
        let g = geometry(&mut r, in_c, out_c, true);
        let fic = (in_c / groups) as usize;
        let input = r.i16s(len_in(&g));
        let weights = r.i8s(out_c as usize * (g.k_h * g.k_w) as usize * fic);
        let bias = if with_bias { r.bias(out_c as usize) } else { Vec::new() };
        let (mult, shift) = r.requant(out_c as usize);
        let (lo, hi) = (r.range(-32768, 0) as i32, r.range(0, 32767) as i32);
        let p = Conv2dI16 {
            input: TensorId(0), output: TensorId(1), geom: g, groups,
            weights: ConstRef::EMPTY, bias: ConstRef::EMPTY, acc32, rq: rq(lo, hi),
        };
        let mut out = vec![0i16; len_out(&g)];
        conv2d_i16(&p, &input, &weights, &bias, &mult, &shift, &mut out);
        let (ih, iw, oh, ow) = (g.in_h as i64, g.in_w as i64, g.out_h as usize, g.out_w as usize);
        let (kh, kw, oc_n) = (g.k_h as usize, g.k_w as usize, out_c as usize);
        let opg = oc_n / groups as usize;
        for b in 0..g.batches as usize {
            for oy in 0..oh {
                for ox in 0..ow {
                    for oc in 0..oc_n {
                        let mut sum = 0i64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy as i64) * g.stride_h as i64 + (ky as i64) * g.dilation_h as i64 - g.pad_top as i64;
                                let ix = (ox as i64) * g.stride_w as i64 + (kx as i64) * g.dilation_w as i64 - g.pad_left as i64;
                                if iy < 0 || ix < 0 || iy >= ih || ix >= iw { continue; }
                                for c in 0..fic {
                                    let ic = (oc / opg) * fic + c;
                                    let x = input[((b * ih as usize + iy as usize) * iw as usize + ix as usize) * in_c as usize + ic];
                                    let w = weights[((oc * kh + ky) * kw + kx) * fic + c];
                                    sum += x as i64 * w as i64;
                                }
                            }
                        }
                        let bv = bias.get(oc).copied().unwrap_or(0);
                        let v = if acc32 {
                            multiply_by_quantized_multiplier((sum as i32).wrapping_add(bv as i32), mult[oc], shift[oc])
                        } else {
                            mbqm64_ref(sum + bv, mult[oc], shift[oc])
                        };
                        let got = out[((b * oh + oy) * ow + ox) * oc_n + oc];
                        prop_assert_eq!(got, clamp16(v, lo, hi));
                    }
                }
            }
        }
    }

    #[test]
    fn depthwise_i16_matches_reference(seed in any::<u64>(), with_bias in any::<bool>()) {
        let mut r = Rng(seed);
        let in_c = r.range(1, 3) as u32;
        let dm = r.range(1, 3) as u32;
        let out_c = in_c * dm;
        let g = geometry(&mut r, in_c, out_c, true);
        let input = r.i16s(len_in(&g));
        let weights = r.i8s((g.k_h * g.k_w * out_c) as usize);
        let bias = if with_bias { r.bias(out_c as usize) } else { Vec::new() };
        let (mult, shift) = r.requant(out_c as usize);
        let (lo, hi) = (r.range(-32768, 0) as i32, r.range(0, 32767) as i32);
        let p = DepthwiseConv2dI16 {
            input: TensorId(0), output: TensorId(1), geom: g, depth_multiplier: dm,
            weights: ConstRef::EMPTY, bias: ConstRef::EMPTY, rq: rq(lo, hi),
        };
        let mut out = vec![0i16; len_out(&g)];
        depthwise_conv2d_i16(&p, &input, &weights, &bias, &mult, &shift, &mut out);
        let (ih, iw, oh, ow) = (g.in_h as i64, g.in_w as i64, g.out_h as usize, g.out_w as usize);
        let (kh, kw, oc_n) = (g.k_h as usize, g.k_w as usize, out_c as usize);
        for b in 0..g.batches as usize {
            for oy in 0..oh {
                for ox in 0..ow {
                    for oc in 0..oc_n {
                        let ic = oc / dm as usize;
                        let mut sum = 0i64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy as i64) * g.stride_h as i64 + (ky as i64) * g.dilation_h as i64 - g.pad_top as i64;
                                let ix = (ox as i64) * g.stride_w as i64 + (kx as i64) * g.dilation_w as i64 - g.pad_left as i64;
                                if iy < 0 || ix < 0 || iy >= ih || ix >= iw { continue; }
                                let x = input[((b * ih as usize + iy as usize) * iw as usize + ix as usize) * in_c as usize + ic];
                                sum += x as i64 * weights[(ky * kw + kx) * oc_n + oc] as i64;
                            }
                        }
                        let v = mbqm64_ref(sum + bias.get(oc).copied().unwrap_or(0), mult[oc], shift[oc]);
                        prop_assert_eq!(out[((b * oh + oy) * ow + ox) * oc_n + oc], clamp16(v, lo, hi));
                    }
                }
            }
        }
    }

    #[test]
    fn fully_connected_i16_matches_reference(seed in any::<u64>(), per_channel in any::<bool>(), with_bias in any::<bool>()) {
        let mut r = Rng(seed);
        let (batches, ind, outd) = (r.range(1, 3) as usize, r.range(1, 40) as usize, r.range(1, 6) as usize);
        let input = r.i16s(batches * ind);
        let weights = r.i8s(outd * ind);
        let bias = if with_bias { r.bias(outd) } else { Vec::new() };
        let (mult, shift) = r.requant(if per_channel { outd } else { 1 });
        // The per-tensor kernel adds the weights' offset; the per-channel one ignores it.
        let weights_offset = r.range(-3, 3) as i32;
        let (lo, hi) = (r.range(-32768, 0) as i32, r.range(0, 32767) as i32);
        let p = FullyConnectedI16 {
            input: TensorId(0), output: TensorId(1), batches: batches as u32,
            in_depth: ind as u32, out_depth: outd as u32, weights: ConstRef::EMPTY,
            weights_offset, bias: ConstRef::EMPTY, rq: rq(lo, hi),
        };
        let mut out = vec![0i16; batches * outd];
        fully_connected_i16(&p, &input, &weights, &bias, &mult, &shift, &mut out);
        // One multiplier (per-channel with one row, too) is TFLM's per-tensor kernel.
        let wo = if mult.len() > 1 { 0 } else { weights_offset as i64 };
        let per_channel = mult.len() > 1;
        for b in 0..batches {
            for o in 0..outd {
                let sum: i64 = (0..ind)
                    .map(|i| (weights[o * ind + i] as i64 + wo) * input[b * ind + i] as i64)
                    .sum();
                let q = if per_channel { o } else { 0 };
                let v = mbqm64_ref(sum + bias.get(o).copied().unwrap_or(0), mult[q], shift[q]);
                prop_assert_eq!(out[b * outd + o], clamp16(v, lo, hi));
            }
        }
    }

    #[test]
    fn transpose_conv_i16_matches_scatter(seed in any::<u64>(), with_bias in any::<bool>()) {
        let mut r = Rng(seed);
        let (in_c, out_c) = (r.range(1, 3) as u32, r.range(1, 3) as u32);
        let g = geometry(&mut r, in_c, out_c, false);
        let input = r.i16s(len_in(&g));
        let weights = r.i8s((out_c * g.k_h * g.k_w * in_c) as usize);
        let bias = if with_bias { r.bias(out_c as usize) } else { Vec::new() };
        let (mult, shift) = r.requant(out_c as usize);
        let (lo, hi) = (r.range(-32768, 0) as i32, r.range(0, 32767) as i32);
        let p = TransposeConv2dI16 {
            input: TensorId(0), output: TensorId(1), geom: g,
            weights: ConstRef::EMPTY, bias: ConstRef::EMPTY, rq: rq(lo, hi),
        };
        let mut out = vec![0i16; len_out(&g)];
        transpose_conv2d_i16(&p, &input, &weights, &bias, &mult, &shift, &mut out);
        // TFLM's formulation: every input element scatters into an int64 scratch.
        let (ih, iw, oh, ow) = (g.in_h as usize, g.in_w as usize, g.out_h as i64, g.out_w as i64);
        let (kh, kw, ic_n, oc_n) = (g.k_h as usize, g.k_w as usize, in_c as usize, out_c as usize);
        let mut scratch = vec![0i64; len_out(&g)];
        for b in 0..g.batches as usize {
            for iy in 0..ih {
                for ix in 0..iw {
                    for ic in 0..ic_n {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * g.stride_h as usize + ky) as i64 - g.pad_top as i64;
                                let ox = (ix * g.stride_w as usize + kx) as i64 - g.pad_left as i64;
                                if oy < 0 || ox < 0 || oy >= oh || ox >= ow { continue; }
                                for oc in 0..oc_n {
                                    let x = input[((b * ih + iy) * iw + ix) * ic_n + ic] as i64;
                                    let w = weights[((oc * kh + ky) * kw + kx) * ic_n + ic] as i64;
                                    scratch[((b * oh as usize + oy as usize) * ow as usize + ox as usize) * oc_n + oc] += x * w;
                                }
                            }
                        }
                    }
                }
            }
        }
        for (i, (&s, &got)) in scratch.iter().zip(&out).enumerate() {
            let oc = i % oc_n;
            let v = mbqm64_ref(s + bias.get(oc).copied().unwrap_or(0), mult[oc], shift[oc]);
            prop_assert_eq!(got, clamp16(v, lo, hi));
        }
    }
}
