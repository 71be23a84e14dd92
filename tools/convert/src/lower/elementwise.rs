//! Binary elementwise arithmetic: ADD, SUB, MUL (int8 rescaling, float clamps, broadcasting).

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn binary(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        if a.shape.len() > 4 || b.shape.len() > 4 {
            return Err(cx.unsupported("operands of rank above 4"));
        }
        let dims = |t: &GTensor<'_>| t.shape.iter().map(|&d| u32_of(d)).collect::<Vec<u32>>();
        let broadcast = k::binary::broadcast_for(&dims(a), &dims(b)).ok_or_else(|| {
            cx.err(format!(
                "shapes {:?} and {:?} do not broadcast",
                a.shape, b.shape
            ))
        })?;
        // NumPy broadcasting: align on the right, a dimension of 1 stretches.
        let rank = a.shape.len().max(b.shape.len());
        let dim = |t: &GTensor<'_>, d: usize| {
            if d + t.shape.len() >= rank {
                t.shape[d + t.shape.len() - rank]
            } else {
                1
            }
        };
        // A dimension of 1 stretches to the other (even to 0, as in NumPy).
        let out_shape: Vec<usize> = (0..rank)
            .map(|d| if dim(a, d) == 1 { dim(b, d) } else { dim(a, d) })
            .collect();
        let _ = &broadcast;
        if output.num_elements() != out_shape.iter().product::<usize>() {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {out_shape:?}")));
        }
        let act_code = options::binary_activation(cx.op.options)?;
        let act = cx.activation(act_code)?;
        let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
        let oi = self.id(output.index)?;
        let len = u32_of(output.num_elements());
        match (
            cx.dtype(a, "input")?,
            cx.dtype(b, "input")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                let (qa, qb, qo) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                    cx.qparams(output, "output")?,
                );
                let op = match cx.op.code {
                    oc::ADD => Op::AddI8(
                        k::binary::prepare_add_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(|| {
                                cx.err("quantization parameters give an unrepresentable multiplier")
                            })?,
                    ),
                    oc::SUB => Op::AddI8(AddI8 {
                        subtract: true,
                        ..k::binary::prepare_add_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(|| {
                                cx.err("quantization parameters give an unrepresentable multiplier")
                            })?
                    }),
                    _ => Op::MulI8(
                        k::binary::prepare_mul_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(|| {
                                cx.err("quantization parameters give an unrepresentable multiplier")
                            })?,
                    ),
                };
                self.push(cx, op, 0, 0);
            }
            (DType::F32, DType::F32, DType::F32) => {
                let kind = match cx.op.code {
                    oc::ADD => BinaryKind::Add,
                    oc::SUB => BinaryKind::Sub,
                    _ => BinaryKind::Mul,
                };
                let (act_min, act_max) = activation_range_f32(act);
                self.push(
                    cx,
                    Op::BinaryF32(BinaryF32 {
                        a: ai,
                        b: bi,
                        output: oi,
                        kind,
                        len,
                        broadcast,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (x, y, z) => {
                return Err(
                    cx.unsupported(format!("types {x}/{y}/{z}; supported: int8 and float32"))
                )
            }
        }
        Ok(())
    }
}
