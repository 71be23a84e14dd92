//! Row normalizations over the last axis: LOG_SOFTMAX and L2_NORMALIZATION (float32 and
//! int8, as TFLM's kernels accept).

use super::*;

/// `(outer, depth)` of a tensor normalized along its last axis.
fn rows_of(shape: &[usize]) -> (u32, u32) {
    let depth = shape.last().copied().unwrap_or(1);
    let outer = shape[..shape.len().saturating_sub(1)].iter().product();
    (u32_of(outer), u32_of(depth))
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// Checks a row normalization's operands: one input, one output of the same shape and a
    /// rank of at least 1 (at most `max_rank`).
    fn row_operands(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        max_rank: usize,
    ) -> Result<(&'g GTensor<'a>, &'g GTensor<'a>)> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.shape.is_empty() || input.shape.len() > max_rank {
            return Err(cx.unsupported(format!(
                "input rank {}; TFLM supports ranks 1 to {max_rank}",
                input.shape.len()
            )));
        }
        if output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape"));
        }
        Ok((input, output))
    }

    /// LOG_SOFTMAX; int8 as TFLM's `CalculateOpData` (output scale 16/256, zero point 127,
    /// beta 1, Q5.26 differences).
    pub(super) fn log_softmax(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let (input, output) = self.row_operands(cx, ferrite_core::model::MAX_RANK)?;
        let (outer, depth) = rows_of(&input.shape);
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::F32, DType::F32) => {
                let op = LogSoftmaxF32 {
                    input: ii,
                    output: oi,
                    outer,
                    depth,
                };
                self.push(cx, Op::LogSoftmaxF32(op), 0, 0);
            }
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                if qo.scale != 16.0 / 256.0 || qo.zero_point != 127 {
                    return Err(cx.tensor_msg(
                        output,
                        "output",
                        format!(
                            "int8 LOG_SOFTMAX output must have scale 16/256 and zero point 127 \
                             (TFLM's requirement), found {} and {}",
                            qo.scale, qo.zero_point
                        ),
                    ));
                }
                let bad = || {
                    cx.unsupported(format!(
                        "input scale {} gives multipliers TFLM's PreprocessLogSoftmaxScalingExp rejects",
                        qi.scale
                    ))
                };
                let (input_multiplier, input_left_shift, diff_min) =
                    k::softmax::prepare_softmax_i8(1.0, qi.scale).ok_or_else(bad)?;
                // The inverse scaling, through QuantizeMultiplierSmallerThanOneExp.
                let real = (1i64 << (31 - input_left_shift)) as f64 / input_multiplier as f64;
                if !(real > 0.0 && real < 1.0) {
                    return Err(bad());
                }
                let (reverse_scaling_divisor, reverse_left_shift) = quantize_multiplier(real)
                    .filter(|&(_, s)| s <= 0)
                    .ok_or_else(bad)?;
                let op = LogSoftmaxI8 {
                    input: ii,
                    output: oi,
                    outer,
                    depth,
                    input_multiplier,
                    input_left_shift,
                    reverse_scaling_divisor,
                    reverse_scaling_right_shift: -reverse_left_shift,
                    diff_min,
                };
                self.push(cx, Op::LogSoftmaxI8(op), 0, 0);
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; TFLM supports int8 and float32"
                )))
            }
        }
        Ok(())
    }

    /// L2_NORMALIZATION: rank at most 4 and no fused activation, as TFLM's `Prepare` checks.
    pub(super) fn l2_normalization(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let (input, output) = self.row_operands(cx, 4)?;
        // L2NormOptions: fused_activation_function (field 0).
        let act = options::byte(cx.op.options, 0, 0)?;
        if act != 0 {
            return Err(cx.unsupported(format!("fused activation {act}; TFLM supports none")));
        }
        let (outer, depth) = rows_of(&input.shape);
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::F32, DType::F32) => {
                let op = L2NormF32 {
                    input: ii,
                    output: oi,
                    outer,
                    depth,
                };
                self.push(cx, Op::L2NormF32(op), 0, 0);
            }
            (DType::I8, DType::I8) => {
                let qi = cx.qparams(input, "input")?;
                let op = L2NormI8 {
                    input: ii,
                    output: oi,
                    outer,
                    depth,
                    input_zero_point: qi.zero_point,
                };
                self.push(cx, Op::L2NormI8(op), 0, 0);
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; TFLM supports int8 and float32"
                )))
            }
        }
        Ok(())
    }
}
