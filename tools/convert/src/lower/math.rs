//! Unary elementwise math and type conversion: ABS, NEG, SQRT, RSQRT, SQUARE, EXP, LOG, SIN,
//! COS, FLOOR, CEIL, ROUND, ELU (float kinds; int8 ABS, RSQRT and ELU as lookup tables; int16
//! ABS and RSQRT computed per element),
//! LOGICAL_NOT (a table on bool bytes) and CAST.

use super::*;

/// Types TFLM's CAST converts between, among Ferrite's (TFLM has no int64 CAST).
const CAST_TYPES: &str = "bool, float32, int8, int16, int32 (and uint32 to or from int32)";

impl<'g, 'a> Lowerer<'g, 'a> {
    /// An elementwise function of one tensor into another of the same type and size.
    pub(super) fn math_unary(&mut self, cx: &OpCx<'_, 'g, 'a>, kind: UnaryKind) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (ti, to) = (cx.dtype(input, "input")?, cx.dtype(output, "output")?);
        // TFLM's int8 kernels: ABS and RSQRT (`elementwise.cc`) and ELU (a table in `elu.cc`).
        let int8 = matches!(kind, UnaryKind::Abs | UnaryKind::Rsqrt | UnaryKind::Elu);
        let supported = match kind {
            UnaryKind::Abs | UnaryKind::Rsqrt => "float32, int8, int16",
            UnaryKind::Elu => "float32, int8",
            _ => "float32",
        };
        if ti != to {
            return Err(cx.unsupported(format!(
                "types {ti}/{to}: input and output must share one type ({supported})"
            )));
        }
        let (ii, oi) = (self.operand(cx, input)?, self.id(output.index)?);
        match ti {
            DType::F32 => {
                let op = Op::UnaryF32(UnaryF32 {
                    input: ii,
                    output: oi,
                    kind,
                });
                self.push(cx, op, 0, 0);
            }
            DType::I8 if int8 => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let table = match kind {
                    UnaryKind::Abs => k::lut_math::abs_table(qi, qo),
                    UnaryKind::Rsqrt => k::lut_math::rsqrt_table(qi, qo),
                    _ => k::lut_math::elu_table(qi, qo),
                }
                .ok_or_else(|| cx.err(format!(
                    "quantization (input scale {} zp {}, output scale {} zp {}) not accepted by the int8 kernel",
                    qi.scale, qi.zero_point, qo.scale, qo.zero_point
                )))?;
                self.push_table(cx, ii, oi, &table);
            }
            DType::I16 if matches!(kind, UnaryKind::Abs | UnaryKind::Rsqrt) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                if qi.zero_point != 0 || qo.zero_point != 0 {
                    return Err(cx.err(format!(
                        "int16 input and output need zero point 0 (TFLite Micro's requirement), found {} and {}",
                        qi.zero_point, qo.zero_point
                    )));
                }
                let built = if kind == UnaryKind::Abs {
                    k::act16::abs_params_i16(qi, qo)
                } else {
                    k::act16::rsqrt_params_i16(qi, qo)
                };
                let kind = built.ok_or_else(|| cx.err(format!(
                    "quantization (input scale {}, output scale {}) not accepted by the int16 kernel",
                    qi.scale, qo.scale
                )))?;
                let op = Op::ActI16(ActI16 {
                    input: ii,
                    output: oi,
                    kind,
                });
                self.push(cx, op, 0, 0);
            }
            t => {
                return Err(cx.unsupported(format!(
                    "type {t}; TFLite Micro's {} supports {supported}",
                    cx.op.name
                )))
            }
        }
        Ok(())
    }

    /// Pushes a 256-entry int8 (or bool) lookup table layer.
    fn push_table(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        input: TensorId,
        output: TensorId,
        table: &[i8; 256],
    ) {
        let table = self.pool.push_i8(table);
        let op = Op::LutI8(LutI8 {
            input,
            output,
            table,
        });
        self.push(cx, op, 0, 256);
    }

    /// LOGICAL_NOT: a table on bool bytes.
    pub(super) fn logical_not(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (ti, to) = (cx.dtype(input, "input")?, cx.dtype(output, "output")?);
        if ti != DType::Bool || to != DType::Bool {
            return Err(cx.unsupported(format!(
                "types {ti}/{to}; TFLite Micro's LOGICAL_NOT supports bool"
            )));
        }
        let (ii, oi) = (self.operand(cx, input)?, self.id(output.index)?);
        self.push_table(cx, ii, oi, &k::lut_math::logical_not_table());
        Ok(())
    }

    /// CAST between bool, float32, int8, int16 and int32 (raw values: quantization is ignored, as
    /// TFLM ignores it).
    pub(super) fn cast(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (from, to) = (cx.dtype(input, "input")?, cx.dtype(output, "output")?);
        let castable = |t: DType| {
            matches!(
                t,
                DType::Bool | DType::F32 | DType::I8 | DType::I16 | DType::I32 | DType::U32
            )
        };
        // uint32 only to and from int32: the pairs TFLM's signal front ends use (and the
        // only ones the goldens check, through micro_speech's preprocessor).
        let u32_pair_ok = match (from, to) {
            (DType::U32, t) | (t, DType::U32) => t == DType::I32,
            _ => true,
        };
        if !castable(from) || !castable(to) || !u32_pair_ok {
            return Err(cx.unsupported(format!(
                "{from} → {to}; TFLite Micro's CAST converts between {CAST_TYPES}"
            )));
        }
        let (ii, oi) = (self.operand(cx, input)?, self.id(output.index)?);
        let op = Op::Cast(Cast {
            input: ii,
            output: oi,
            from,
            to,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }
}
