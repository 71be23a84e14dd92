//! BATCH_MATMUL (float32, int8 and int16, as TFLM's kernel accepts).
//!
//! TFLM's `BatchMatMulPrepare`, once: operand ranks 2 to 5, batch axes broadcast, the
//! contracted dimensions agree, the output multiplier of `lhs_scale * rhs_scale /
//! output_scale` (the scales multiplied in single precision, as `GetQuantizedConvolutionMultipler`
//! does). A constant operand is read in place from the constant blob; the kernel walks both
//! operands in their stored layout (no transposed copies, no scratch).

use super::*;
use ferrite_core::ops::MATMUL_BATCH_AXES;

/// `shape` extended on the left with 1s to `rank` axes.
fn extended(shape: &[usize], rank: usize) -> Vec<usize> {
    let mut out = vec![1; rank - shape.len()];
    out.extend_from_slice(shape);
    out
}

/// Element steps between consecutive matrices along each batch axis of an operand with the
/// (extended) `batch` dimensions and matrices of `matrix` elements: 0 where the operand has
/// size 1 (TFLM's `extent`), padded on the left to [`MATMUL_BATCH_AXES`].
fn batch_steps(batch: &[usize], matrix: usize) -> [u32; MATMUL_BATCH_AXES] {
    let mut steps = [0u32; MATMUL_BATCH_AXES];
    let mut stride = matrix;
    let pad = MATMUL_BATCH_AXES - batch.len();
    for (k, &d) in batch.iter().enumerate().rev() {
        if d != 1 {
            steps[pad + k] = u32_of(stride);
        }
        stride *= d;
    }
    steps
}

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn batch_matmul(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (lhs, rhs, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        // BatchMatMulOptions: adj_x (field 0), adj_y (field 1), asymmetric_quantize_inputs
        // (field 2, hybrid models only, which TFLM does not run).
        let adj_x = options::byte(cx.op.options, 0, 0)? != 0;
        let adj_y = options::byte(cx.op.options, 1, 0)? != 0;
        for (t, what) in [(lhs, "lhs"), (rhs, "rhs")] {
            if !(2..=5).contains(&t.shape.len()) {
                return Err(cx.unsupported(format!(
                    "{what} tensor #{} '{}' has rank {}; TFLM supports ranks 2 to 5",
                    t.index,
                    t.name,
                    t.shape.len()
                )));
            }
        }
        let rank = lhs.shape.len().max(rhs.shape.len());
        let (ls, rs) = (extended(&lhs.shape, rank), extended(&rhs.shape, rank));
        let (rows, l_depth) = if adj_x {
            (ls[rank - 1], ls[rank - 2])
        } else {
            (ls[rank - 2], ls[rank - 1])
        };
        let (cols, r_depth) = if adj_y {
            (rs[rank - 2], rs[rank - 1])
        } else {
            (rs[rank - 1], rs[rank - 2])
        };
        if l_depth != r_depth {
            return Err(cx.err(format!(
                "contracted dimensions differ: lhs {l_depth}, rhs {r_depth} (adj_x {adj_x}, adj_y {adj_y})"
            )));
        }
        let mut out_shape = Vec::with_capacity(rank);
        for (&l, &r) in ls[..rank - 2].iter().zip(&rs[..rank - 2]) {
            if l != r && l != 1 && r != 1 {
                return Err(cx.err(format!(
                    "batch dimensions {:?} and {:?} do not broadcast",
                    lhs.shape, rhs.shape
                )));
            }
            out_shape.push(if l == 1 { r } else { l });
        }
        out_shape.extend([rows, cols]);
        if output.shape != out_shape {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {out_shape:?}")));
        }
        let mut batch = [1u32; MATMUL_BATCH_AXES];
        let pad = MATMUL_BATCH_AXES - (rank - 2);
        for (b, &d) in batch[pad..].iter_mut().zip(&out_shape[..rank - 2]) {
            *b = u32_of(d);
        }
        let geom = MatMulGeom {
            batch,
            lhs_step: batch_steps(&ls[..rank - 2], rows * l_depth),
            rhs_step: batch_steps(&rs[..rank - 2], cols * r_depth),
            rows: u32_of(rows),
            cols: u32_of(cols),
            depth: u32_of(l_depth),
            adj_x,
            adj_y,
        };
        let macs = (output.num_elements() * l_depth) as u64;
        let types = (
            cx.dtype(lhs, "lhs")?,
            cx.dtype(rhs, "rhs")?,
            cx.dtype(output, "output")?,
        );
        match types {
            (DType::F32, DType::F32, DType::F32) => {
                let (l, lb) = self.matrix(lhs, |p, d| p.push_f32(&as_f32(d)))?;
                let (r, rb) = self.matrix(rhs, |p, d| p.push_f32(&as_f32(d)))?;
                let op = BatchMatMulF32 {
                    lhs: l,
                    rhs: r,
                    output: self.id(output.index)?,
                    geom,
                };
                self.push(cx, Op::BatchMatMulF32(op), macs, lb + rb);
            }
            (DType::I8, DType::I8, DType::I8) => {
                let ql = cx.qparams(lhs, "lhs")?;
                let qr = cx.qparams(rhs, "rhs")?;
                let qo = cx.qparams(output, "output")?;
                let real = (ql.scale * qr.scale) as f64 / qo.scale as f64;
                let (multiplier, shift) = quantize_multiplier(real)
                    .ok_or_else(|| cx.err(format!("multiplier {real} out of range")))?;
                let (l, lb) = self.matrix(lhs, |p, d| p.push_i8(&as_i8(d)))?;
                let (r, rb) = self.matrix(rhs, |p, d| p.push_i8(&as_i8(d)))?;
                let op = BatchMatMulI8 {
                    lhs: l,
                    rhs: r,
                    output: self.id(output.index)?,
                    geom,
                    lhs_offset: -ql.zero_point,
                    rhs_offset: -qr.zero_point,
                    output_offset: qo.zero_point,
                    multiplier,
                    shift,
                };
                self.push(cx, Op::BatchMatMulI8(op), macs, lb + rb);
            }
            (DType::I16, DType::I16, DType::I16) => {
                let ql = cx.qparams(lhs, "lhs")?;
                let qr = cx.qparams(rhs, "rhs")?;
                let qo = cx.qparams(output, "output")?;
                if [ql, qr, qo].iter().any(|q| q.zero_point != 0) {
                    return Err(cx.err(format!(
                        "int16 BATCH_MATMUL needs zero point 0 on lhs, rhs and output (TFLite Micro's requirement), found {}, {} and {}",
                        ql.zero_point, qr.zero_point, qo.zero_point
                    )));
                }
                let real = (ql.scale * qr.scale) as f64 / qo.scale as f64;
                let (multiplier, shift) = quantize_multiplier(real)
                    .filter(|&(_, s)| s <= 7)
                    .ok_or_else(|| cx.err(format!("multiplier {real} out of range")))?;
                let (l, lb) = self.matrix(lhs, |p, d| p.push_i16(&as_i16(d)))?;
                let (r, rb) = self.matrix(rhs, |p, d| p.push_i16(&as_i16(d)))?;
                let op = BatchMatMulI16 {
                    lhs: l,
                    rhs: r,
                    output: self.id(output.index)?,
                    geom,
                    multiplier,
                    shift,
                };
                self.push(cx, Op::BatchMatMulI16(op), macs, lb + rb);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "lhs/rhs/output types {a}/{b}/{c}; supported: float32, int8 or int16 for all three, as TFLM"
                )))
            }
        }
        Ok(())
    }

    /// A matrix operand: a constant goes to the constant pool (through `push`) and is read in
    /// place, an activation is read from the arena. Also the constant's size in bytes.
    fn matrix<T>(
        &mut self,
        t: &GTensor<'_>,
        push: impl FnOnce(&mut crate::consts::ConstPool, &[u8]) -> ConstRef<T>,
    ) -> Result<(MatrixSource<T>, usize)> {
        match t.data.as_deref() {
            Some(d) => Ok((MatrixSource::Const(push(&mut self.pool, d)), d.len())),
            None => Ok((MatrixSource::Tensor(self.id(t.index)?), 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_steps_broadcast_size_one_axes() {
        // [2, 1, 3] batches of 4-element matrices: axis 1 broadcasts.
        assert_eq!(batch_steps(&[2, 1, 3], 4), [12, 0, 4]);
        // Fewer batch axes are padded on the left (and broadcast there).
        assert_eq!(batch_steps(&[5], 6), [0, 0, 6]);
        assert_eq!(batch_steps(&[], 6), [0, 0, 0]);
    }
}
