//! Pooling: AVERAGE_POOL_2D, MAX_POOL_2D (int8, int16 16x8, float32), L2_POOL_2D.

use super::*;

/// The operands, window geometry (TFLM's `ComputePaddingHeightWidth`) and fused activation of
/// a 2-D pooling, the output shape checked.
fn pool_geometry<'g, 'a>(
    cx: &OpCx<'_, 'g, 'a>,
) -> Result<(
    &'g GTensor<'a>,
    &'g GTensor<'a>,
    PoolGeometry,
    FusedActivation,
)> {
    cx.arity(1, 1, 1)?;
    let (input, output) = (cx.input(0)?, cx.output(0)?);
    cx.rank(input, "input", 4)?;
    cx.rank(output, "output", 4)?;
    let o = options::pool2d(cx.op.options)?;
    let (Some(fh), Some(fw), Some(sh), Some(sw)) = (
        positive(o.filter_h),
        positive(o.filter_w),
        positive(o.stride_h),
        positive(o.stride_w),
    ) else {
        return Err(cx.err(format!(
            "window {}x{} and strides ({}, {}) must be positive",
            o.filter_h, o.filter_w, o.stride_h, o.stride_w
        )));
    };
    let (n, in_h, in_w, c) = (
        input.shape[0],
        input.shape[1],
        input.shape[2],
        input.shape[3],
    );
    let sizes = match cx.op.dilated {
        // A band of a patch-executed prefix (`crate::patch`): explicit leading padding, the
        // output shape the band's.
        Some(d) => (
            Some((output.shape[1], d.pad.0)),
            Some((output.shape[2], d.pad.1)),
        ),
        None => (
            out_size_and_padding(o.padding, in_h, fh, sh, 1),
            out_size_and_padding(o.padding, in_w, fw, sw, 1),
        ),
    };
    let (Some((oh, pt)), Some((ow, pl))) = sizes else {
        return Err(cx.err(format!(
            "padding code {} invalid or window larger than the input",
            o.padding
        )));
    };
    if output.shape != [n, oh, ow, c] {
        return Err(cx.tensor_msg(
            output,
            "output",
            format!("expected shape {:?}", [n, oh, ow, c]),
        ));
    }
    let geom = PoolGeometry {
        batches: u32_of(n),
        in_h: u32_of(in_h),
        in_w: u32_of(in_w),
        channels: u32_of(c),
        out_h: u32_of(oh),
        out_w: u32_of(ow),
        filter_h: u32_of(fh),
        filter_w: u32_of(fw),
        stride_h: u32_of(sh),
        stride_w: u32_of(sw),
        pad_top: u32_of(pt),
        pad_left: u32_of(pl),
    };
    Ok((input, output, geom, cx.activation(o.activation)?))
}

/// The quantization of the int16 tensor `t`, which must have zero point 0: Ferrite runs
/// int16 activations only as TFLite's 16x8 scheme quantizes them (symmetric).
pub(super) fn int16_zero_point_0(
    cx: &OpCx<'_, '_, '_>,
    t: &GTensor<'_>,
    what: &str,
) -> Result<QParams> {
    let q = cx.qparams(t, what)?;
    if q.zero_point != 0 {
        return Err(cx.unsupported(format!(
            "int16 {what} tensor #{} '{}' has zero point {}; int16 (16x8) activations must \
             have zero point 0",
            t.index, t.name, q.zero_point
        )));
    }
    Ok(q)
}

/// TFLite's `CalculateActivationRangeQuantized` for an int16 output: the fused activation's
/// bounds quantized with the output's parameters, within int16.
pub(super) fn activation_range_i16(
    cx: &OpCx<'_, '_, '_>,
    act: FusedActivation,
    out: QParams,
) -> Result<(i32, i32)> {
    let (qmin, qmax) = (i16::MIN as i32, i16::MAX as i32);
    let q = |f: f32| {
        ferrite_core::quant::quantize_f32(f, out.scale, out.zero_point)
            .ok_or_else(|| cx.err("fused activation range overflows the output quantization"))
    };
    Ok(match act {
        FusedActivation::None => (qmin, qmax),
        FusedActivation::Relu => (qmin.max(q(0.0)?), qmax),
        FusedActivation::Relu6 => (qmin.max(q(0.0)?), qmax.min(q(6.0)?)),
        FusedActivation::ReluN1To1 => (qmin.max(q(-1.0)?), qmax.min(q(1.0)?)),
    })
}

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn pool(&mut self, cx: &OpCx<'_, 'g, 'a>, kind: PoolKind) -> Result<()> {
        let (input, output, geom, act) = pool_geometry(cx)?;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                if in_q != out_q {
                    self.warnings.push(format!(
                        "operator #{} ({}): input and output quantization differ; like TFLite Micro, values are not rescaled",
                        cx.op.index, cx.op.name
                    ));
                }
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                self.push(
                    cx,
                    Op::PoolI8(PoolI8 {
                        input: ii,
                        output: oi,
                        kind,
                        geom,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (DType::I16, DType::I16) => {
                let in_q = int16_zero_point_0(cx, input, "input")?;
                let out_q = int16_zero_point_0(cx, output, "output")?;
                if in_q != out_q {
                    self.warnings.push(format!(
                        "operator #{} ({}): input and output quantization differ; like TFLite Micro, values are not rescaled",
                        cx.op.index, cx.op.name
                    ));
                }
                let (act_min, act_max) = activation_range_i16(cx, act, out_q)?;
                self.push(
                    cx,
                    Op::PoolI16(PoolI8 {
                        input: ii,
                        output: oi,
                        kind,
                        geom,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (DType::F32, DType::F32) => {
                let (act_min, act_max) = activation_range_f32(act);
                self.push(
                    cx,
                    Op::PoolF32(PoolF32 {
                        input: ii,
                        output: oi,
                        kind,
                        geom,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8, int16 (16x8) and float32"
                )))
            }
        }
        Ok(())
    }

    /// L2_POOL_2D: float32 only (TFLM has no quantized L2 pooling).
    pub(super) fn l2_pool(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let (input, output, geom, act) = pool_geometry(cx)?;
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::F32, DType::F32) => {}
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; TFLM supports float32 only"
                )))
            }
        }
        let (act_min, act_max) = activation_range_f32(act);
        let op = L2PoolF32 {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            geom,
            act_min,
            act_max,
        };
        self.push(cx, Op::L2PoolF32(op), 0, 0);
        Ok(())
    }
}
