//! Data movement: RESHAPE-likes (aliases), CONCATENATION, PAD/PADV2.

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn reshape(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        if cx.op.outputs.len() != 1 || cx.op.inputs.is_empty() {
            return Err(cx.err("expects one data input and one output"));
        }
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.type_code != output.type_code {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!(
                    "has {} elements, the input {}",
                    output.num_elements(),
                    input.num_elements()
                ),
            ));
        }
        cx.dtype(input, "input")?;
        let src = self.operand(cx, input)?;
        let _ = src;
        self.id(output.index)?;
        // No layer: the output shares the input's memory.
        self.aliases.push((output.index, input.index));
        Ok(())
    }

    pub(super) fn concat(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        if cx.op.inputs.is_empty() || cx.op.outputs.len() != 1 {
            return Err(cx.err("expects at least one input and one output"));
        }
        let output = cx.output(0)?;
        let (axis, act) = options::concatenation(cx.op.options)?;
        if cx.activation(act)? != FusedActivation::None {
            return Err(cx.unsupported("fused activation on CONCATENATION"));
        }
        let rank = output.shape.len() as i32;
        let axis = if axis < 0 { axis + rank } else { axis };
        if axis < 0 || axis >= rank {
            return Err(cx.err(format!("axis {axis} out of range for rank {rank}")));
        }
        let axis = axis as usize;
        let dtype = cx.dtype(output, "output")?;
        let elem = dtype.size_bytes();
        // TFLM copies int8 and int16 bytes without rescaling (its int16 Prepare does not even
        // read the scales), so differing quantization would silently change values.
        let out_q = if matches!(dtype, DType::I8 | DType::I16) {
            Some(cx.qparams(output, "output")?)
        } else {
            None
        };
        let mut ids = Vec::new();
        let mut chunks = Vec::new();
        let mut axis_total = 0usize;
        for k in 0..cx.op.inputs.len() {
            let t = cx.input(k)?;
            if t.dtype != Some(dtype) || t.shape.len() != output.shape.len() {
                return Err(cx.tensor_msg(
                    t,
                    "input",
                    format!(
                        "must have the output's type and rank ({})",
                        output.describe()
                    ),
                ));
            }
            for (d, (&a, &b)) in t.shape.iter().zip(&output.shape).enumerate() {
                if d != axis && a != b {
                    return Err(cx.tensor_msg(
                        t,
                        "input",
                        format!("dimension {d} differs from the output's"),
                    ));
                }
            }
            if let Some(oq) = out_q {
                let q = cx.qparams(t, "input")?;
                if q != oq {
                    return Err(cx.unsupported(format!(
                        "input tensor #{} '{}' quantized differently from the output (scale {} zp {} vs {} {}); TFLite Micro copies bytes without rescaling",
                        t.index, t.name, q.scale, q.zero_point, oq.scale, oq.zero_point
                    )));
                }
            }
            axis_total += t.shape[axis];
            chunks.push(u32_of(t.shape[axis..].iter().product::<usize>() * elem));
            ids.push(self.operand(cx, t)?.0);
        }
        if axis_total != output.shape[axis] {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!(
                    "axis {axis} has size {} but the inputs add up to {axis_total}",
                    output.shape[axis]
                ),
            ));
        }
        let outer = u32_of(output.shape[..axis].iter().product());
        let oi = self.id(output.index)?;
        let op = Op::Concat(Concat {
            inputs: self.pool.push_u16(&ids),
            chunk_bytes: self.pool.push_u32(&chunks),
            output: oi,
            outer,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    pub(super) fn pad(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, paddings, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let rank = input.shape.len();
        if rank > 4 {
            return Err(cx.unsupported("padding tensors of rank above 4"));
        }
        let p = cx.const_ints(paddings, "paddings")?;
        if p.len() != 2 * rank {
            return Err(cx.tensor_msg(paddings, "paddings", format!("expected shape [{rank}, 2]")));
        }
        let dtype = cx.dtype(input, "input")?;
        if output.dtype != Some(dtype) {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        let mut in_dims = [1u32; 4];
        let mut before = [0u32; 4];
        let mut after = [0u32; 4];
        let off = 4 - rank;
        for d in 0..rank {
            let (b, a) = (p[2 * d], p[2 * d + 1]);
            if b < 0 || a < 0 || b > 1 << 20 || a > 1 << 20 {
                return Err(cx.tensor_msg(
                    paddings,
                    "paddings",
                    format!("padding ({b}, {a}) of dimension {d} out of range"),
                ));
            }
            let expected = input.shape[d] + b as usize + a as usize;
            if output.shape.get(d) != Some(&expected) || output.shape.len() != rank {
                return Err(cx.tensor_msg(
                    output,
                    "output",
                    format!("dimension {d} should be {expected}"),
                ));
            }
            in_dims[off + d] = u32_of(input.shape[d]);
            before[off + d] = b as u32;
            after[off + d] = a as u32;
        }
        let mut value = [0u8; 4];
        if let Some(cv) = cx.opt_input(2) {
            let data = cv
                .data
                .as_deref()
                .ok_or_else(|| cx.unsupported("non-constant padding value"))?;
            if cv.type_code != input.type_code || data.len() != dtype.size_bytes() {
                return Err(cx.tensor_msg(
                    cv,
                    "constant_values",
                    "must be a scalar of the input's type",
                ));
            }
            value[..data.len()].copy_from_slice(data);
        } else if dtype == DType::I8 {
            value[0] = cx.qparams(output, "output")?.zero_point as i8 as u8;
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let op = Op::Pad(Pad {
            input: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            in_dims,
            before,
            after,
            value,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }
}
