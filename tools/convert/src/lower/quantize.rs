//! QUANTIZE and DEQUANTIZE: the type edges of a model.

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn quantize(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::F32, DType::I16) => {
                let qo = cx.qparams(output, "output")?;
                self.push(
                    cx,
                    Op::QuantizeF32I16(QuantizeF32I16 {
                        input: ii,
                        output: oi,
                        scale: qo.scale,
                        zero_point: qo.zero_point,
                    }),
                    0,
                    0,
                );
            }
            (DType::F32, DType::I8) => {
                let qo = cx.qparams(output, "output")?;
                self.push(
                    cx,
                    Op::QuantizeF32(QuantizeF32 {
                        input: ii,
                        output: oi,
                        scale: qo.scale,
                        zero_point: qo.zero_point,
                    }),
                    0,
                    0,
                );
            }
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let table = k::lut::requantize_table(qi, qo)
                    .ok_or_else(|| cx.err("unrepresentable requantization"))?;
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
            (from, to)
                if matches!(
                    (from, to),
                    (DType::I8, DType::I32)
                        | (DType::I32, DType::I8)
                        | (DType::I8, DType::I16)
                        | (DType::I16, DType::I8)
                        | (DType::I16, DType::I16)
                        | (DType::I16, DType::I32)
                        | (DType::I32, DType::I16)
                ) =>
            {
                // Integer to integer: TFLM's `Requantize` template (its int16 pairs are the
                // same arithmetic with another clamp, so the generic kernel takes them too).
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let (multiplier, shift) = quantize_multiplier(qi.scale as f64 / qo.scale as f64)
                    .filter(|_| qi.scale > 0.0 && qo.scale > 0.0)
                    .ok_or_else(|| cx.err("unrepresentable requantization"))?;
                self.push(
                    cx,
                    Op::Requantize(Requantize {
                        input: ii,
                        output: oi,
                        from,
                        to,
                        multiplier,
                        shift,
                        input_zero_point: qi.zero_point,
                        output_zero_point: qo.zero_point,
                    }),
                    0,
                    0,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "{a} → {b}; supported: float32 → int8, float32 → int16, int8 → int8, int8 → int32, int32 → int8, int8 → int16, int16 → int8, int16 → int16, int16 → int32, int32 → int16"
                )))
            }
        }
        Ok(())
    }

    pub(super) fn dequantize(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::F32) => {
                let qi = cx.qparams(input, "input")?;
                let table = self.pool.push_f32(&k::lut::dequantize_table(qi));
                let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
                self.push(
                    cx,
                    Op::DequantizeI8(DequantizeI8 {
                        input: ii,
                        output: oi,
                        table,
                    }),
                    0,
                    1024,
                );
            }
            (DType::I16, DType::F32) => {
                let qi = cx.qparams(input, "input")?;
                let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
                self.push(
                    cx,
                    Op::DequantizeI16(DequantizeI16 {
                        input: ii,
                        output: oi,
                        scale: qi.scale,
                        zero_point: qi.zero_point,
                    }),
                    0,
                    0,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "{a} → {b}; supported: int8 → float32, int16 → float32"
                )))
            }
        }
        Ok(())
    }
}
