//! RESIZE_NEAREST_NEIGHBOR.

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    /// RESIZE_NEAREST_NEIGHBOR: the source row and column of every output row and column are
    /// computed here with TFLM's float arithmetic; the layer only copies.
    /// RESIZE_NEAREST_NEIGHBOR: the source row and column of every output row and column are
    /// computed here with TFLM's float arithmetic; the layer only copies.
    pub(super) fn resize_nearest(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, size_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        cx.rank(input, "input", 4)?;
        cx.rank(output, "output", 4)?;
        // ResizeNearestNeighborOptions: align_corners (slot 4), half_pixel_centers (slot 6).
        let (align_corners, half_pixel_centers) = match cx.op.options {
            Some(t) => (t.bool(4, false)?, t.bool(6, false)?),
            None => (false, false),
        };
        let size = cx.const_ints(size_t, "size")?;
        let (n, in_h, in_w, c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (out_h, out_w) = (output.shape[1], output.shape[2]);
        if size.len() != 2 || size[0] != out_h as i64 || size[1] != out_w as i64 {
            return Err(cx.tensor_msg(
                size_t,
                "size",
                format!("{size:?} is not the output's height and width [{out_h}, {out_w}]"),
            ));
        }
        if output.shape[0] != n || output.shape[3] != c {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("must keep the input's batch {n} and channels {c}"),
            ));
        }
        if in_h == 0 || in_w == 0 || out_h == 0 || out_w == 0 {
            return Err(cx.err("empty input or output image"));
        }
        let dtype = cx.dtype(input, "input")?;
        if output.dtype != Some(dtype) {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        if dtype == DType::I8 && cx.qparams(input, "input")? != cx.qparams(output, "output")? {
            self.warnings.push(format!(
                "operator #{} ({}): input and output quantization differ; like TFLite Micro, values are not rescaled",
                cx.op.index, cx.op.name
            ));
        }
        let (in_h, in_w, out_h, out_w) = (u32_of(in_h), u32_of(in_w), u32_of(out_h), u32_of(out_w));
        let index = |out, in_size, out_size| {
            k::resize::nearest_neighbor_index(
                out,
                in_size,
                out_size,
                align_corners,
                half_pixel_centers,
            )
        };
        let rows: Vec<u32> = (0..out_h).map(|y| index(y, in_h, out_h)).collect();
        let cols: Vec<u32> = (0..out_w).map(|x| index(x, in_w, out_w)).collect();
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let op = Op::ResizeNearest(ResizeNearest {
            input: ii,
            output: oi,
            elem_bytes: u32_of(dtype.size_bytes()),
            batches: u32_of(n),
            in_h,
            in_w,
            channels: u32_of(c),
            src_rows: self.pool.push_u32(&rows),
            src_cols: self.pool.push_u32(&cols),
        });
        self.push(cx, op, 0, 4 * (rows.len() + cols.len()));
        Ok(())
    }
}
