//! SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND as run-time pixel moves (`kernels::ops::space_batch`),
//! float32 and int8 as TFLM accepts, for 3-D (`[batch, height, depth]`) and 4-D NHWC tensors.
//!
//! TFLM's `Prepare`, once: constant int32 block shape and paddings/crops of the right shapes,
//! a non-zero block dividing the padded image (SPACE_TO_BATCH_ND) or the batch
//! (BATCH_TO_SPACE_ND), non-negative crops, the output shape these give, and for int8 equal
//! input and output quantization; the padding value is the output zero point.

use super::*;

/// A 3-D `[batch, height, depth]` or 4-D NHWC shape as `[batch, height, width, depth]`.
fn nhwc(shape: &[usize]) -> [u32; 4] {
    match *shape {
        [n, h, d] => [u32_of(n), u32_of(h), 1, u32_of(d)],
        [n, h, w, d] => [u32_of(n), u32_of(h), u32_of(w), u32_of(d)],
        _ => [0; 4],
    }
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// The checked operands, element size and, per spatial axis, the block size and the
    /// `(before, after)` paddings or crops.
    #[allow(clippy::type_complexity)]
    fn space_batch_operands(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        pads_name: &str,
    ) -> Result<(
        &'g GTensor<'a>,
        &'g GTensor<'a>,
        u32,
        Vec<i64>,
        Vec<[i64; 2]>,
    )> {
        cx.arity(3, 3, 1)?;
        let (input, block_t, pads_t, output) =
            (cx.input(0)?, cx.input(1)?, cx.input(2)?, cx.output(0)?);
        let rank = input.shape.len();
        if !(3..=4).contains(&rank) || output.shape.len() != rank {
            return Err(cx.unsupported(format!(
                "input rank {rank}, output rank {}; TFLM supports 3-D and 4-D tensors of equal rank",
                output.shape.len()
            )));
        }
        let dtype = cx.dtype(input, "input")?;
        if output.type_code != input.type_code {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        match dtype {
            DType::F32 => {}
            DType::I8 => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                if qi != qo {
                    return Err(cx.unsupported(
                        "int8 input and output quantization differ; TFLM requires them equal",
                    ));
                }
            }
            t => return Err(cx.unsupported(format!("type {t}; TFLM supports float32 and int8"))),
        }
        let spatial = rank - 2;
        let int32 = crate::tflite::schema::tensor_type::INT32;
        if block_t.type_code != int32 || block_t.shape != [spatial] {
            return Err(cx.tensor_msg(
                block_t,
                "block shape",
                format!("must be an int32 constant of shape [{spatial}]"),
            ));
        }
        if pads_t.type_code != int32 || pads_t.shape != [spatial, 2] {
            return Err(cx.tensor_msg(
                pads_t,
                pads_name,
                format!("must be an int32 constant of shape [{spatial}, 2]"),
            ));
        }
        let block = cx.const_ints(block_t, "block shape")?;
        if block.iter().any(|&b| b < 1) {
            return Err(cx.tensor_msg(
                block_t,
                "block shape",
                format!("{block:?} must be positive"),
            ));
        }
        let pads: Vec<[i64; 2]> = cx
            .const_ints(pads_t, pads_name)?
            .chunks_exact(2)
            .map(|p| [p[0], p[1]])
            .collect();
        if pads.iter().flatten().any(|&p| p < 0) {
            return Err(cx.tensor_msg(pads_t, pads_name, format!("{pads:?} must not be negative")));
        }
        Ok((input, output, u32_of(dtype.size_bytes()), block, pads))
    }

    pub(super) fn space_to_batch(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let (input, output, elem_bytes, block, pads) = self.space_batch_operands(cx, "paddings")?;
        let mut expect = input.shape.clone();
        let mut batch = input.shape[0] as i64;
        for (k, (&b, p)) in block.iter().zip(&pads).enumerate() {
            let padded = input.shape[k + 1] as i64 + p[0] + p[1];
            if padded % b != 0 {
                return Err(cx.err(format!(
                    "padded size {padded} of axis {} is not a multiple of the block size {b}",
                    k + 1
                )));
            }
            expect[k + 1] = (padded / b) as usize;
            batch *= b;
        }
        expect[0] = batch as usize;
        if output.shape != expect {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {expect:?}")));
        }
        let pad_byte = match input.dtype {
            // TFLM memsets the padding with the output zero point's low byte.
            Some(DType::I8) => cx.qparams(output, "output")?.zero_point as u8,
            _ => 0,
        };
        let op = SpaceToBatch {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            elem_bytes,
            in_dims: nhwc(&input.shape),
            out_dims: nhwc(&output.shape),
            block: [
                u32_of(block[0] as usize),
                block.get(1).map_or(1, |&b| u32_of(b as usize)),
            ],
            pad_top: u32_of(pads[0][0] as usize),
            pad_left: pads.get(1).map_or(0, |p| u32_of(p[0] as usize)),
            pad_byte,
        };
        self.push(cx, Op::SpaceToBatch(op), 0, 0);
        Ok(())
    }

    pub(super) fn batch_to_space(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let (input, output, elem_bytes, block, crops) = self.space_batch_operands(cx, "crops")?;
        let mut expect = input.shape.clone();
        let mut batch = input.shape[0] as i64;
        for (k, (&b, c)) in block.iter().zip(&crops).enumerate() {
            if batch % b != 0 {
                return Err(cx.err(format!(
                    "batch {batch} is not a multiple of the block size {b}"
                )));
            }
            batch /= b;
            let size = input.shape[k + 1] as i64 * b - c[0] - c[1];
            if size < 0 {
                return Err(cx.err(format!(
                    "crops {c:?} exceed axis {} of size {}",
                    k + 1,
                    size + c[0] + c[1]
                )));
            }
            expect[k + 1] = size as usize;
        }
        expect[0] = batch as usize;
        if output.shape != expect {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {expect:?}")));
        }
        let op = BatchToSpace {
            input: self.id(input.index)?,
            output: self.id(output.index)?,
            elem_bytes,
            in_dims: nhwc(&input.shape),
            out_dims: nhwc(&output.shape),
            block: [
                u32_of(block[0] as usize),
                block.get(1).map_or(1, |&b| u32_of(b as usize)),
            ],
            crop_top: u32_of(crops[0][0] as usize),
            crop_left: crops.get(1).map_or(0, |c| u32_of(c[0] as usize)),
        };
        self.push(cx, Op::BatchToSpace(op), 0, 0);
        Ok(())
    }
}
