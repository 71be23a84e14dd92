//! RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR.

use super::*;

/// One output row's (or column's) taps for a float RESIZE_BILINEAR, as TFLM's
/// `ComputeInterpolationValues`: `(y0, y1, input_y - y0)` in single precision.
fn bilinear_tap_f32(
    out: u32,
    scale: f32,
    half_pixel_centers: bool,
    in_size: u32,
) -> (i64, i64, f32) {
    let value = out as f32;
    let scaled = if half_pixel_centers {
        (value + 0.5) * scale - 0.5
    } else {
        value * scale
    };
    let lower = (scaled.floor() as i32).max(0);
    let upper = (scaled.ceil() as i32).min(in_size as i32 - 1);
    (lower as i64, upper as i64, scaled - lower as f32)
}

/// TFLM's float scale of one axis: `in / out`, or `(in - 1) / (out - 1)` with
/// `align_corners` and more than one output.
fn bilinear_scale_f32(in_size: u32, out_size: u32, align_corners: bool) -> f32 {
    if align_corners && out_size > 1 {
        (in_size - 1) as f32 / (out_size - 1) as f32
    } else {
        in_size as f32 / out_size as f32
    }
}

/// One output row's (or column's) taps for an int8 RESIZE_BILINEAR, as TFLM's
/// `ComputeInterpolationValuesInteger`: `(y0, y1, input_y - 1024 y0)` with `input_y` in steps
/// of 1/1024 (C++ truncating division, wrapping `int32` products).
fn bilinear_tap_i8(
    out: u32,
    scale_10: i32,
    half_pixel_centers: bool,
    in_size: u32,
) -> (i64, i64, i32) {
    let scaled = if half_pixel_centers {
        (out as i32)
            .wrapping_mul(scale_10)
            .wrapping_add(scale_10 / 2)
            .wrapping_sub(1 << 9)
    } else {
        (out as i32).wrapping_mul(scale_10)
    };
    let lower = (scaled / (1 << 10)).max(0);
    let upper = (scaled.wrapping_add((1 << 10) - 1) / (1 << 10)).min(in_size as i32 - 1);
    (
        lower as i64,
        upper as i64,
        scaled.wrapping_sub(lower.wrapping_mul(1 << 10)),
    )
}

/// TFLM's integer scale of one axis in steps of 1/1024, rounded to nearest.
fn bilinear_scale_10(in_size: u32, out_size: u32, align_corners: bool) -> i32 {
    let (i, o) = if align_corners && out_size > 1 {
        (in_size as i64 - 1, out_size as i64 - 1)
    } else {
        (in_size as i64, out_size as i64)
    };
    (((1 << 10) * i + o / 2) / o) as i32
}

impl<'g, 'a> Lowerer<'g, 'a> {
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

    /// RESIZE_BILINEAR (float32 and int8): every output row's and column's taps and fraction
    /// computed here with TFLM's arithmetic, float or integer as the type selects.
    pub(super) fn resize_bilinear(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, size_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        cx.rank(input, "input", 4)?;
        cx.rank(output, "output", 4)?;
        // ResizeBilinearOptions: align_corners (field 2), half_pixel_centers (field 3);
        // fields 0 and 1 are deprecated.
        let align_corners = options::byte(cx.op.options, 2, 0)? != 0;
        let half_pixel_centers = options::byte(cx.op.options, 3, 0)? != 0;
        if align_corners && half_pixel_centers {
            return Err(cx.err("half_pixel_centers requires align_corners to be false (TFLM)"));
        }
        if size_t.type_code != crate::tflite::schema::tensor_type::INT32 {
            return Err(cx.tensor_msg(size_t, "size", "must be an int32 constant (TFLM)"));
        }
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
        let (in_h, in_w, out_h, out_w) = (u32_of(in_h), u32_of(in_w), u32_of(out_h), u32_of(out_w));
        // Taps as i64 until checked: TFLM reads outside the image where they fall outside it.
        let checked = |taps: &[(i64, i64)], in_size: u32, axis: &str| -> Result<Vec<u32>> {
            let mut out = Vec::with_capacity(2 * taps.len());
            for &(lo, hi) in taps {
                if !(0..in_size as i64).contains(&lo) || !(0..in_size as i64).contains(&hi) {
                    return Err(cx.unsupported(format!(
                        "{axis} tap ({lo}, {hi}) falls outside the input of size {in_size}, \
                         where TFLM would read out of bounds"
                    )));
                }
                out.extend([lo as u32, hi as u32]);
            }
            Ok(out)
        };
        let geom = |pool: &mut crate::consts::ConstPool, rows: &[u32], cols: &[u32]| BilinearGeom {
            batches: u32_of(n),
            in_h,
            in_w,
            channels: u32_of(c),
            out_h,
            out_w,
            rows: pool.push_u32(rows),
            cols: pool.push_u32(cols),
        };
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match dtype {
            DType::F32 => {
                let sy = bilinear_scale_f32(in_h, out_h, align_corners);
                let sx = bilinear_scale_f32(in_w, out_w, align_corners);
                let ys: Vec<_> = (0..out_h)
                    .map(|y| bilinear_tap_f32(y, sy, half_pixel_centers, in_h))
                    .collect();
                let xs: Vec<_> = (0..out_w)
                    .map(|x| bilinear_tap_f32(x, sx, half_pixel_centers, in_w))
                    .collect();
                let rows = checked(
                    &ys.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
                    in_h,
                    "row",
                )?;
                let cols = checked(
                    &xs.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
                    in_w,
                    "column",
                )?;
                let row_frac: Vec<f32> = ys.iter().map(|t| t.2).collect();
                let col_frac: Vec<f32> = xs.iter().map(|t| t.2).collect();
                let op = ResizeBilinearF32 {
                    input: ii,
                    output: oi,
                    geom: geom(&mut self.pool, &rows, &cols),
                    row_frac: self.pool.push_f32(&row_frac),
                    col_frac: self.pool.push_f32(&col_frac),
                };
                let bytes = 4 * (rows.len() + cols.len() + row_frac.len() + col_frac.len());
                self.push(cx, Op::ResizeBilinearF32(op), 0, bytes);
            }
            DType::I8 => {
                if cx.qparams(input, "input")? != cx.qparams(output, "output")? {
                    self.warnings.push(format!(
                        "operator #{} ({}): input and output quantization differ; like TFLite Micro, values are not rescaled",
                        cx.op.index, cx.op.name
                    ));
                }
                let sy = bilinear_scale_10(in_h, out_h, align_corners);
                let sx = bilinear_scale_10(in_w, out_w, align_corners);
                let ys: Vec<_> = (0..out_h)
                    .map(|y| bilinear_tap_i8(y, sy, half_pixel_centers, in_h))
                    .collect();
                let xs: Vec<_> = (0..out_w)
                    .map(|x| bilinear_tap_i8(x, sx, half_pixel_centers, in_w))
                    .collect();
                let rows = checked(
                    &ys.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
                    in_h,
                    "row",
                )?;
                let cols = checked(
                    &xs.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
                    in_w,
                    "column",
                )?;
                let row_frac: Vec<i32> = ys.iter().map(|t| t.2).collect();
                let col_frac: Vec<i32> = xs.iter().map(|t| t.2).collect();
                let op = ResizeBilinearI8 {
                    input: ii,
                    output: oi,
                    geom: geom(&mut self.pool, &rows, &cols),
                    row_frac: self.pool.push_i32(&row_frac),
                    col_frac: self.pool.push_i32(&col_frac),
                };
                let bytes = 4 * (rows.len() + cols.len() + row_frac.len() + col_frac.len());
                self.push(cx, Op::ResizeBilinearI8(op), 0, bytes);
            }
            t => return Err(cx.unsupported(format!("type {t}; TFLM supports float32 and int8"))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_taps_follow_tflm() {
        // 2 -> 4 with half-pixel centres: input_y = (y + 0.5) / 2 - 0.5.
        let s = bilinear_scale_f32(2, 4, false);
        assert_eq!(bilinear_tap_f32(0, s, true, 2), (0, 0, -0.25));
        assert_eq!(bilinear_tap_f32(1, s, true, 2), (0, 1, 0.25));
        assert_eq!(bilinear_tap_f32(3, s, true, 2), (1, 1, 0.25));
        // align_corners maps the corners onto each other: (3 - 1) / (5 - 1).
        let s = bilinear_scale_f32(3, 5, true);
        assert_eq!(bilinear_tap_f32(4, s, false, 3), (2, 2, 0.0));
        assert_eq!(bilinear_tap_f32(1, s, false, 3), (0, 1, 0.5));
    }

    #[test]
    fn integer_taps_follow_tflm() {
        // 2 -> 4: scale 512 (1/1024 steps); half-pixel y = 0 gives 256 - 512 = -256, which
        // truncates to row 0 with a negative weight.
        let s = bilinear_scale_10(2, 4, false);
        assert_eq!(s, 512);
        assert_eq!(bilinear_tap_i8(0, s, true, 2), (0, 0, -256));
        assert_eq!(bilinear_tap_i8(2, s, true, 2), (0, 1, 768));
        // Rounded scale: (1024 * 3 + 3) / 7 = 439.
        assert_eq!(bilinear_scale_10(3, 7, false), 439);
        assert_eq!(bilinear_scale_10(3, 7, true), (1024 * 2 + 3) / 6);
    }
}
