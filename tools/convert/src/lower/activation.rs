//! Activations and SOFTMAX: int8 lookup tables, int16 arithmetic and float kinds.

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn softmax(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.shape != output.shape || input.shape.is_empty() {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("must have the input's shape {:?}", input.shape),
            ));
        }
        let beta = options::softmax_beta(cx.op.options)?;
        let depth = *input.shape.last().unwrap_or(&1);
        let outer = input.num_elements().checked_div(depth).unwrap_or(0);
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                if out_q.zero_point != -128 || (out_q.scale - 1.0 / 256.0).abs() > 0.001 / 256.0 {
                    return Err(cx.tensor_msg(output, "output", format!(
                        "int8 softmax output must have scale 1/256 and zero point -128 (TFLite Micro's requirement), found {} and {}",
                        out_q.scale, out_q.zero_point
                    )));
                }
                let (input_multiplier, input_left_shift, diff_min) =
                    k::softmax::prepare_softmax_i8(beta, in_q.scale).ok_or_else(|| {
                        cx.err(format!(
                            "beta {beta} with input scale {} gives an unrepresentable multiplier",
                            in_q.scale
                        ))
                    })?;
                let op = Op::SoftmaxI8(SoftmaxI8 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    depth: u32_of(depth),
                    input_multiplier,
                    input_left_shift,
                    diff_min,
                });
                self.push(cx, op, 0, 0);
            }
            (DType::F32, DType::F32) => {
                let op = Op::SoftmaxF32(SoftmaxF32 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    depth: u32_of(depth),
                    beta,
                });
                self.push(cx, op, 0, 0);
            }
            (DType::I16, DType::I16) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                // TFLM's Prepare: output zero point 0 and scale 1/32768 (to 0.1%).
                if out_q.zero_point != 0 || (out_q.scale - 1.0 / 32768.0).abs() > 0.001 / 32768.0 {
                    return Err(cx.tensor_msg(output, "output", format!(
                        "int16 softmax output must have scale 1/32768 and zero point 0 (TFLite Micro's requirement), found {} and {}",
                        out_q.scale, out_q.zero_point
                    )));
                }
                let (input_multiplier, input_left_shift) =
                    k::softmax16::prepare_softmax_i16(beta, in_q.scale).ok_or_else(|| {
                        cx.err(format!(
                            "beta {beta} with input scale {} gives an unrepresentable multiplier",
                            in_q.scale
                        ))
                    })?;
                let (exp, recip) = k::softmax16::softmax_i16_luts();
                let exp_lut = self.pool.push_i16(&exp);
                let one_over_one_plus_x_lut = self.pool.push_i16(&recip);
                let op = Op::SoftmaxI16(SoftmaxI16 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    depth: u32_of(depth),
                    input_multiplier,
                    input_left_shift,
                    exp_lut,
                    one_over_one_plus_x_lut,
                });
                self.push(cx, op, 0, 4 * k::softmax16::SOFTMAX16_LUT_LEN);
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8 and float32"
                )))
            }
        }
        Ok(())
    }

    pub(super) fn unary(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let table = match cx.op.code {
                    oc::LOGISTIC => k::lut::logistic_table(qi, qo),
                    oc::TANH => k::lut::tanh_table(qi, qo),
                    oc::RELU => k::lut::relu_table(qi, qo),
                    oc::RELU6 => k::lut::relu6_table(qi, qo),
                    oc::RELU_N1_TO_1 => k::lut::relu_n1_to_1_table(qi, qo),
                    oc::HARD_SWISH => k::lut::hard_swish_table(qi, qo),
                    _ => k::lut::leaky_relu_table(options::leaky_relu_alpha(cx.op.options)?, qi, qo),
                }
                .ok_or_else(|| cx.err(format!(
                    "quantization (input scale {} zp {}, output scale {} zp {}) not accepted by the int8 kernel",
                    qi.scale, qi.zero_point, qo.scale, qo.zero_point
                )))?;
                let table = self.pool.push_i8(&table);
                self.push(
                    cx,
                    Op::LutI8(LutI8 {
                        input: ii,
                        output: oi,
                        table,
                    }),
                    0,
                    256,
                );
            }
            (DType::I16, DType::I16) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let built = match cx.op.code {
                    oc::RELU => {
                        for (t, q, what) in [(input, qi, "input"), (output, qo, "output")] {
                            if q.zero_point != 0 {
                                return Err(cx.tensor_msg(t, what, format!(
                                    "int16 RELU needs zero point 0 (TFLite Micro's requirement), found {}",
                                    q.zero_point
                                )));
                            }
                        }
                        k::act16::relu_params_i16(qi, qo)
                    }
                    oc::RELU6 => k::act16::relu6_params_i16(qi),
                    oc::LEAKY_RELU => k::act16::leaky_relu_params_i16(
                        options::leaky_relu_alpha(cx.op.options)?,
                        qi,
                        qo,
                    ),
                    oc::HARD_SWISH | oc::RELU_N1_TO_1 => {
                        return Err(cx.unsupported(
                            "int16 (16x8) input and output: TFLite Micro has no int16 kernel for it (float32 and int8 only)",
                        ))
                    }
                    _ => {
                        let params = if cx.op.code == oc::LOGISTIC {
                            k::act16::logistic_params_i16(qi, qo)
                        } else {
                            k::act16::tanh_params_i16(qi, qo)
                        };
                        let why = match params {
                            Ok(kind) => return self.push_act_i16(cx, ii, oi, kind),
                            Err(k::act16::SigmoidParamsError::ZeroPoint) => format!(
                                "int16 input and output need zero point 0 (TFLite Micro's requirement), found {} and {}",
                                qi.zero_point, qo.zero_point
                            ),
                            Err(k::act16::SigmoidParamsError::OutputScale) => format!(
                                "int16 output needs scale 1/32768 (TFLite Micro's requirement), found {}",
                                qo.scale
                            ),
                            Err(k::act16::SigmoidParamsError::InputScale) => format!(
                                "int16 input scale {} is not positive and finite, or so large that TFLite Micro's input rescale overflows",
                                qi.scale
                            ),
                        };
                        return Err(cx.err(why));
                    }
                };
                let kind = built.ok_or_else(|| cx.err(format!(
                    "quantization (input scale {} zp {}, output scale {} zp {}) not accepted by the int16 kernel",
                    qi.scale, qi.zero_point, qo.scale, qo.zero_point
                )))?;
                self.push_act_i16(cx, ii, oi, kind)?;
            }
            (DType::F32, DType::F32) => {
                let kind = match cx.op.code {
                    oc::LOGISTIC => UnaryKind::Logistic,
                    oc::TANH => UnaryKind::Tanh,
                    oc::RELU => UnaryKind::Relu,
                    oc::RELU6 => UnaryKind::Relu6,
                    oc::RELU_N1_TO_1 => UnaryKind::ReluN1To1,
                    oc::HARD_SWISH => UnaryKind::HardSwish,
                    _ => UnaryKind::LeakyRelu(options::leaky_relu_alpha(cx.op.options)?),
                };
                self.push(
                    cx,
                    Op::UnaryF32(UnaryF32 {
                        input: ii,
                        output: oi,
                        kind,
                    }),
                    0,
                    0,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8, float32 and (RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH) int16"
                )))
            }
        }
        Ok(())
    }

    /// Pushes an int16 activation layer (its parameters are a few words; LOGISTIC and TANH
    /// share the kernel crate's 512-byte sigmoid table, counted with the code).
    fn push_act_i16(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        input: TensorId,
        output: TensorId,
        kind: ActI16Kind,
    ) -> Result<()> {
        self.push(
            cx,
            Op::ActI16(ActI16 {
                input,
                output,
                kind,
            }),
            0,
            0,
        );
        Ok(())
    }
}
