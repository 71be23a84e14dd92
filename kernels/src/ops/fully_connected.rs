//! FULLY_CONNECTED: `out[b, o] = act(sum_i w[o, i] * in[b, i] + bias[o])`, int8 and f32.
//!
//! The int8 reference follows TFLite Micro's dispatch: with a single multiplier (per-tensor
//! weights) it is `reference_integer_ops::FullyConnected`, which adds `weights_offset` to every
//! weight; with one multiplier per output feature it is `FullyConnectedPerChannel`, which does
//! not (the quantization spec makes per-channel weights symmetric). The f32 reference is
//! `reference_ops::FullyConnected`: products summed in input order from 0, then bias, then clamp.

use crate::ops::conv::{check_requant_i16, clamp_f32, requant_i16};
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{FullyConnectedF32, FullyConnectedI16, FullyConnectedI8, Op};
use ferrite_core::{Ctx, Result};

/// Kernel entry for [`Op::FullyConnectedI8`] (portable reference path).
pub fn run_fully_connected_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    crate::util::forward_static!(ctx, op, FullyConnectedI8);
    run_fully_connected_i8_with(ctx, op, fully_connected_checked)
}

/// A fully connected layer whose constants and activations have been checked against its
/// parameters ([`run_fully_connected_i8_with`]).
pub(crate) struct Fc<'a> {
    pub p: &'a FullyConnectedI8,
    pub input: &'a [i8],
    pub weights: &'a [i8],
    pub bias: &'a [i32],
    pub multiplier: &'a [i32],
    pub shift: &'a [i32],
    pub output: &'a mut [i8],
}

impl Fc<'_> {
    /// Whether the input and (per-tensor) weights offsets lie within ±128, so that an offset
    /// plus an int8 fits the 16-bit lanes of the SIMD paths.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub(crate) fn small_offsets(&self) -> bool {
        let small = |o: i32| (-128..=128).contains(&o);
        let weights_offset = if self.multiplier.len() == 1 {
            self.p.weights_offset
        } else {
            0
        };
        small(self.p.rq.input_offset) && small(weights_offset)
    }
}

/// The portable kernel on a checked layer.
pub(crate) fn fully_connected_checked(f: Fc<'_>) {
    fully_connected_i8(
        f.p,
        f.input,
        f.weights,
        f.bias,
        f.multiplier,
        f.shift,
        f.output,
    );
}

/// [`run_fully_connected_i8`]'s checks, then `kernel` on the checked layer.
pub(crate) fn run_fully_connected_i8_with(
    ctx: &mut Ctx<'_>,
    op: &Op,
    kernel: impl FnOnce(Fc<'_>),
) -> Result<()> {
    let p = expect_op!(ctx, op, FullyConnectedI8);
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_fc_constants(ctx, p.in_depth, p.out_depth, weights.len(), bias.len())?;
    let per_tensor = multiplier.len() == 1;
    if multiplier.len() != shift.len() || !(per_tensor || multiplier.len() == p.out_depth as usize)
    {
        return Err(ctx.error("need one multiplier and shift, or one per output feature"));
    }
    // A right shift beyond 31 is meaningless and would trip the rounding divide's
    // precondition; no converter emits one.
    if shift.iter().any(|s| !(-31..=31).contains(s)) {
        return Err(ctx.error("requantization shift out of range"));
    }
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_activations(
        layer,
        p.batches,
        p.in_depth,
        p.out_depth,
        input.len(),
        output.len(),
    )?;
    kernel(Fc {
        p,
        input,
        weights,
        bias,
        multiplier,
        shift,
        output,
    });
    Ok(())
}

/// Kernel entry for [`Op::FullyConnectedF32`].
pub fn run_fully_connected_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, FullyConnectedF32);
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let layer = ctx.layer;
    check_fc_constants(ctx, p.in_depth, p.out_depth, weights.len(), bias.len())?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_activations(
        layer,
        p.batches,
        p.in_depth,
        p.out_depth,
        input.len(),
        output.len(),
    )?;
    fully_connected_f32(p, input, weights, bias, output);
    Ok(())
}

/// Validates weights and bias against the layer's depths.
pub(crate) fn check_fc_constants(
    ctx: &Ctx<'_>,
    in_depth: u32,
    out_depth: u32,
    weights: usize,
    bias: usize,
) -> Result<()> {
    check_len(
        ctx.layer,
        weights as u64,
        in_depth as u64 * out_depth as u64,
        "weights do not match the layer's depths",
    )?;
    if bias != 0 && bias != out_depth as usize {
        return Err(ctx.error("bias length is not the number of output features"));
    }
    Ok(())
}

/// Checks the input is `[batches, in_depth]` and the output `[batches, out_depth]`.
pub(crate) fn check_activations(
    layer: u16,
    batches: u32,
    in_depth: u32,
    out_depth: u32,
    input: usize,
    output: usize,
) -> Result<()> {
    check_len(
        layer,
        input as u64,
        batches as u64 * in_depth as u64,
        "input size is not batches times the input depth",
    )?;
    check_len(
        layer,
        output as u64,
        batches as u64 * out_depth as u64,
        "output size is not batches times the output depth",
    )
}

/// Reference int8 fully connected layer (TFLM `reference_integer_ops::FullyConnected`, or
/// `FullyConnectedPerChannel` when `multiplier` has more than one entry).
///
/// Slices must match `p` (the kernel entry checks): `weights` is `[out_depth, in_depth]`,
/// `bias` is empty or per output feature, and `multiplier`/`shift` have either one entry
/// (per-tensor) or `out_depth` entries (per-channel). In the per-channel case
/// `p.weights_offset` is ignored, as TFLM ignores it. The accumulator wraps on overflow as
/// TFLM's does on its targets.
pub fn fully_connected_i8(
    p: &FullyConnectedI8,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    multiplier: &[i32],
    shift: &[i32],
    output: &mut [i8],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let (in_depth, out_depth) = (p.in_depth as usize, p.out_depth as usize);
        // TFLM selects the per-channel kernel exactly when the weights carry several scales.
        let per_channel = multiplier.len() > 1;
        let weights_offset = if per_channel { 0 } else { p.weights_offset };
        let rq = &p.rq;
        for b in 0..p.batches as usize {
            let x = input.get(b * in_depth..(b + 1) * in_depth)?;
            for oc in 0..out_depth {
                let w = weights.get(oc * in_depth..(oc + 1) * in_depth)?;
                let mut acc: i32 = 0;
                for (&xv, &wv) in x.iter().zip(w) {
                    let wv = (wv as i32).wrapping_add(weights_offset);
                    let xv = (xv as i32).wrapping_add(rq.input_offset);
                    acc = acc.wrapping_add(wv.wrapping_mul(xv));
                }
                if let Some(&bv) = bias.get(oc) {
                    acc = acc.wrapping_add(bv);
                }
                let q = if per_channel { oc } else { 0 };
                let v = multiply_by_quantized_multiplier(acc, *multiplier.get(q)?, *shift.get(q)?)
                    .wrapping_add(rq.output_offset);
                // max then min, as TFLM: never panics, even if act_min > act_max.
                *output.get_mut(b * out_depth + oc)? = v.max(rq.act_min).min(rq.act_max) as i8;
            }
        }
        Some(())
    })();
}

/// Reference f32 fully connected layer (TFLM `reference_ops::FullyConnected`): products summed
/// in input order starting from 0, then the bias, then the clamp.
///
/// Slices must match `p` (the kernel entry checks); `bias` is empty or per output feature.
pub fn fully_connected_f32(
    p: &FullyConnectedF32,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    output: &mut [f32],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let (in_depth, out_depth) = (p.in_depth as usize, p.out_depth as usize);
        for b in 0..p.batches as usize {
            let x = input.get(b * in_depth..(b + 1) * in_depth)?;
            for oc in 0..out_depth {
                let w = weights.get(oc * in_depth..(oc + 1) * in_depth)?;
                let mut total = 0.0f32;
                for (&xv, &wv) in x.iter().zip(w) {
                    total += xv * wv;
                }
                let bias_value = bias.get(oc).copied().unwrap_or(0.0);
                *output.get_mut(b * out_depth + oc)? =
                    clamp_f32(total + bias_value, p.act_min, p.act_max);
            }
        }
        Some(())
    })();
}

/// Kernel entry for [`Op::FullyConnectedI16`] (portable reference path).
pub fn run_fully_connected_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_fully_connected_i16_with(ctx, op, fully_connected_i16)
}

/// The signature of the 16x8 fully connected kernels ([`fully_connected_i16`] and the fast
/// paths).
pub(crate) type FullyConnectedI16Kernel =
    fn(&FullyConnectedI16, &[i16], &[i8], &[i64], &[i32], &[i32], &mut [i16]);

/// Checks a [`Op::FullyConnectedI16`] layer's constants and activations, then runs `kernel`
/// on them: the fast paths share the reference entry's checks.
pub(crate) fn run_fully_connected_i16_with(
    ctx: &mut Ctx<'_>,
    op: &Op,
    kernel: FullyConnectedI16Kernel,
) -> Result<()> {
    let p = expect_op!(ctx, op, FullyConnectedI16);
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let multiplier = ctx.consts(p.rq.multiplier)?;
    let shift = ctx.consts(p.rq.shift)?;
    let layer = ctx.layer;
    check_fc_constants(ctx, p.in_depth, p.out_depth, weights.len(), bias.len())?;
    let channels = if multiplier.len() == 1 {
        1
    } else {
        p.out_depth as usize
    };
    check_requant_i16(layer, channels, multiplier, shift)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_activations(
        layer,
        p.batches,
        p.in_depth,
        p.out_depth,
        input.len(),
        output.len(),
    )?;
    kernel(p, input, weights, bias, multiplier, shift, output);
    Ok(())
}

/// Reference 16x8 fully connected layer (TFLM's int16 `reference_integer_ops::FullyConnected`,
/// or `FullyConnectedPerChannel` when `multiplier` has more than one entry, which ignores
/// `weights_offset`): int64 accumulator and bias, the int64 `MultiplyByQuantizedMultiplier`,
/// then the clamp.
pub fn fully_connected_i16(
    p: &FullyConnectedI16,
    input: &[i16],
    weights: &[i8],
    bias: &[i64],
    multiplier: &[i32],
    shift: &[i32],
    output: &mut [i16],
) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let (in_depth, out_depth) = (p.in_depth as usize, p.out_depth as usize);
        let per_channel = multiplier.len() > 1;
        let weights_offset = if per_channel {
            0
        } else {
            p.weights_offset as i64
        };
        for b in 0..p.batches as usize {
            let x = input.get(b * in_depth..(b + 1) * in_depth)?;
            for oc in 0..out_depth {
                let w = weights.get(oc * in_depth..(oc + 1) * in_depth)?;
                let mut acc: i64 = 0;
                for (&xv, &wv) in x.iter().zip(w) {
                    acc = acc.wrapping_add((wv as i64 + weights_offset).wrapping_mul(xv as i64));
                }
                let q = if per_channel { oc } else { 0 };
                let v = requant_i16(
                    acc,
                    bias.get(oc).copied(),
                    false,
                    *multiplier.get(q)?,
                    *shift.get(q)?,
                );
                *output.get_mut(b * out_depth + oc)? = v.max(p.rq.act_min).min(p.rq.act_max) as i16;
            }
        }
        Some(())
    })();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::Requant;
    use ferrite_core::{Arena, ConstRef, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    fn i8_op(weights_offset: i32) -> FullyConnectedI8 {
        FullyConnectedI8 {
            input: TensorId(0),
            output: TensorId(1),
            batches: 2,
            in_depth: 3,
            out_depth: 2,
            weights: ConstRef::EMPTY,
            weights_offset,
            bias: ConstRef::EMPTY,
            rq: Requant {
                multiplier: ConstRef::EMPTY,
                shift: ConstRef::EMPTY,
                input_offset: 2,
                output_offset: 3,
                act_min: -128,
                act_max: 127,
            },
        }
    }

    const WEIGHTS: [i8; 6] = [1, 2, 3, -1, 0, 1];
    const INPUT: [i8; 6] = [0, 1, 2, -2, -2, -2];

    #[test]
    fn int8_per_tensor_applies_weights_offset_over_batches() {
        let p = i8_op(1);
        let mut out = [0i8; 4];
        fully_connected_i8(&p, &INPUT, &WEIGHTS, &[1, -1], &[1 << 30], &[0], &mut out);
        // Weights + 1 = [2, 3, 4], [0, 1, 2]; inputs + 2 = [2, 3, 4], [0, 0, 0].
        // Batch 0: 29 + 1 = 30, 11 - 1 = 10; * 0.5 = 15, 5; + 3.
        // Batch 1: 0 + 1 = 1 → 0.5 → 1; 0 - 1 = -1 → -0.5 → 0: the doubling high multiply
        // rounds ties up (toward +inf), not away from zero; + 3.
        assert_eq!(out, [18, 8, 4, 3]);
    }

    #[test]
    fn int8_per_channel_scales_each_feature_and_ignores_weights_offset() {
        let p = i8_op(1); // ignored, as TFLM's FullyConnectedPerChannel does
        let mut out = [0i8; 4];
        fully_connected_i8(
            &p,
            &INPUT,
            &WEIGHTS,
            &[1, -1],
            &[1 << 30, 1 << 30],
            &[1, 0],
            &mut out,
        );
        // Batch 0: 2 + 6 + 12 + 1 = 21 at scale 1 → 21; -2 + 0 + 4 - 1 = 1 at 0.5 → 1; + 3.
        // Batch 1: 1 at scale 1 → 1; -1 at 0.5 → 0 (ties round up); + 3.
        assert_eq!(out, [24, 4, 4, 3]);
    }

    #[test]
    fn int8_clamps_to_the_activation_range() {
        let mut p = i8_op(0);
        p.rq.act_min = 4;
        p.rq.act_max = 10;
        let mut out = [0i8; 4];
        // Scale 4 (0.5 * 2^3): batch 0 = 20 * 4 + 3, 2 * 4 + 3; batch 1 = 0 * 4 + 3 twice.
        fully_connected_i8(&p, &INPUT, &WEIGHTS, &[], &[1 << 30], &[3], &mut out);
        assert_eq!(out, [10, 10, 4, 4]);
    }

    #[test]
    fn f32_sums_in_order_then_bias_then_clamp() {
        let p = FullyConnectedF32 {
            input: TensorId(0),
            output: TensorId(1),
            batches: 2,
            in_depth: 3,
            out_depth: 2,
            weights: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min: -1.0,
            act_max: 100.0,
        };
        let mut out = [0f32; 4];
        fully_connected_f32(
            &p,
            &[1.0, 2.0, 3.0, -1.0, 0.5, 4.0],
            &[1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
            &[0.5, -0.5],
            &mut out,
        );
        assert_eq!(out, [14.5, 100.0, 12.5, 100.0]);
        // The float sum is not associative: TFLM adds in input order starting from 0.
        let mut one = [0f32; 1];
        let q = FullyConnectedF32 {
            batches: 1,
            out_depth: 1,
            ..p
        };
        let q = FullyConnectedF32 {
            act_min: f32::MIN,
            act_max: f32::MAX,
            ..q
        };
        fully_connected_f32(&q, &[1e8, 1.0, -1e8], &[1.0; 3], &[], &mut one);
        assert_eq!(one[0], 0.0); // (1e8 + 1) rounds back to 1e8
    }

    /// A 16-byte aligned constant blob for test models.
    #[repr(C, align(16))]
    struct Blob([u8; 128]);

    impl Blob {
        fn put<T: bytemuck::Pod>(&mut self, offset: usize, data: &[T]) -> ConstRef<T> {
            let bytes: &[u8] = bytemuck::cast_slice(data);
            self.0[offset..offset + bytes.len()].copy_from_slice(bytes);
            ConstRef::new(offset as u32, data.len() as u32)
        }
    }

    fn tensor(offset: u32, dtype: DType, dims: &[u32]) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(dims),
            scale: 1.0,
            zero_point: 0,
        }
    }

    /// Runs the per-channel int8 layer of the test above through `Model::invoke`, with
    /// `mangle` applied to its parameters first.
    fn run_i8_model(mangle: impl FnOnce(&mut FullyConnectedI8)) -> ferrite_core::Result<[i8; 4]> {
        let mut blob = Blob([0; 128]);
        let mut p = i8_op(0);
        p.weights = blob.put(0, &WEIGHTS);
        p.bias = blob.put(16, &[1i32, -1]);
        p.rq.multiplier = blob.put(32, &[1i32 << 30, 1 << 30]);
        p.rq.shift = blob.put(48, &[1i32, 0]);
        mangle(&mut p);
        let tensors = [
            tensor(0, DType::I8, &[2, 3]),
            tensor(16, DType::I8, &[2, 2]),
        ];
        let layers = [Layer {
            op: Op::FullyConnectedI8(p),
            kernel: run_fully_connected_i8,
            name: "FULLY_CONNECTED",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &blob.0,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        model.set_input(arena.as_mut_slice(), 0, &INPUT)?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[i8] = model.output(arena.as_mut_slice(), 0)?;
        let mut result = [0i8; 4];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn int8_kernel_entry_runs_in_a_model() {
        assert_eq!(run_i8_model(|_| {}), Ok([24, 4, 4, 3]));
        // Per-tensor through the same entry.
        let per_tensor = run_i8_model(|p| {
            p.weights_offset = 1;
            p.rq.multiplier.len = 1;
            p.rq.shift = ConstRef::new(p.rq.shift.offset + 4, 1); // shift 0
        });
        assert_eq!(per_tensor, Ok([18, 8, 4, 3]));
    }

    #[test]
    fn int8_kernel_entry_rejects_wrong_constants() {
        let err = |reason| Error::InvalidLayer { layer: 0, reason };
        assert_eq!(
            run_i8_model(|p| p.weights.len = 5),
            Err(err("weights do not match the layer's depths"))
        );
        assert_eq!(
            run_i8_model(|p| p.bias.len = 1),
            Err(err("bias length is not the number of output features"))
        );
        assert_eq!(
            run_i8_model(|p| p.rq.shift.len = 1),
            Err(err(
                "need one multiplier and shift, or one per output feature"
            ))
        );
        assert_eq!(
            run_i8_model(|p| p.in_depth = 2),
            Err(err("weights do not match the layer's depths"))
        );
        assert_eq!(
            run_i8_model(|p| {
                p.batches = 3;
            }),
            Err(err("input size is not batches times the input depth"))
        );
        assert_eq!(
            run_i8_model(|p| p.weights = ConstRef::new(125, 6)),
            Err(err("constant outside the constant blob"))
        );
    }

    #[test]
    fn int8_hostile_shift_is_an_error_not_a_panic() {
        // Writes i32::MIN over the second shift.
        let mut blob = Blob([0; 128]);
        let shift = blob.put(0, &[0i32, i32::MIN]);
        let mut p = i8_op(0);
        p.weights = blob.put(16, &WEIGHTS);
        p.rq.multiplier = blob.put(32, &[1i32 << 30, 1 << 30]);
        p.rq.shift = shift;
        let tensors = [
            tensor(0, DType::I8, &[2, 3]),
            tensor(16, DType::I8, &[2, 2]),
        ];
        let layers = [Layer {
            op: Op::FullyConnectedI8(p),
            kernel: run_fully_connected_i8,
            name: "FULLY_CONNECTED",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &blob.0,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        assert_eq!(
            model.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "requantization shift out of range"
            })
        );
    }

    #[test]
    fn f32_kernel_entry_runs_in_a_model() {
        let mut blob = Blob([0; 128]);
        let p = FullyConnectedF32 {
            input: TensorId(0),
            output: TensorId(1),
            batches: 1,
            in_depth: 2,
            out_depth: 3,
            weights: blob.put(0, &[1.0f32, 2.0, 3.0, 4.0, -5.0, -6.0]),
            bias: blob.put(32, &[0.5f32, 0.25, 0.125]),
            act_min: -10.0,
            act_max: f32::MAX,
        };
        let tensors = [
            tensor(0, DType::F32, &[1, 2]),
            tensor(16, DType::F32, &[1, 3]),
        ];
        let mut layers = [Layer {
            op: Op::FullyConnectedF32(p),
            kernel: run_fully_connected_f32,
            name: "FULLY_CONNECTED",
        }];
        let mut arena = Arena::<32>::new();
        {
            let model = Model {
                tensors: &tensors,
                layers: &layers,
                consts: &blob.0,
                inputs: &[TensorId(0)],
                outputs: &[TensorId(1)],
                arena_bytes: 32,
                state: ferrite_core::StatePlan::NONE,
            };
            let out = model.run::<f32>(arena.as_mut_slice(), &[1.0, 2.0]);
            assert_eq!(out, Ok(&[5.5f32, 11.25, -10.0][..]));
        }
        // A bias of the wrong length is refused.
        layers[0].op = Op::FullyConnectedF32(FullyConnectedF32 {
            bias: ConstRef::new(32, 2),
            ..p
        });
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &blob.0,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        assert_eq!(
            model.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "bias length is not the number of output features"
            })
        );
    }
}
