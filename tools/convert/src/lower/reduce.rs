//! Reductions: MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_ALL over any constant axes;
//! ARG_MAX, ARG_MIN; CUMSUM.
//!
//! Types are TFLM's (checked against the `tflite_micro` runtime): MEAN, SUM, REDUCE_MAX,
//! REDUCE_MIN, ARG_MAX, ARG_MIN and CUMSUM take float32 and int8, MEAN and SUM also int16
//! (16x8, zero point 0), REDUCE_ALL bool; every axis
//! operand must be an int32 constant; ARG_MAX / ARG_MIN write int32 only. TFLM has no
//! REDUCE_PROD or REDUCE_ANY kernel, so neither is registered.
//!
//! MEAN over one contiguous block of axes keeps its dedicated layer (`MeanI8` / `MeanI16` /
//! `MeanF32`);
//! any other axis set, and every other reduction, becomes a `Reduce*` layer whose walk
//! ([`ReduceAxes`]) is resolved here.

use super::*;
use ferrite_core::ops::REDUCE_RANK;

/// The axes of a reduction's constant int32 `axes_t` resolved against `rank` as TFLM's
/// `ResolveAxis` does: negative axes count from the end, duplicates are dropped. Sorted.
fn resolve_axes(cx: &OpCx<'_, '_, '_>, axes_t: &GTensor<'_>, rank: usize) -> Result<Vec<usize>> {
    if axes_t.type_code != crate::tflite::schema::tensor_type::INT32 {
        return Err(cx.tensor_msg(axes_t, "axis", "must be int32 (TFLM rejects other types)"));
    }
    let mut axes = Vec::new();
    for a in cx.const_ints(axes_t, "axis")? {
        let r = rank as i64;
        let resolved = if a < 0 { a + r } else { a };
        if rank > 0 && !(0..r).contains(&resolved) {
            return Err(cx.tensor_msg(
                axes_t,
                "axis",
                format!("axis {a} out of range for rank {rank}"),
            ));
        }
        // TFLM ignores the axes of a scalar input.
        if rank > 0 && !axes.contains(&(resolved as usize)) {
            axes.push(resolved as usize);
        }
    }
    axes.sort_unstable();
    Ok(axes)
}

/// The walk of a reduction of `shape` over `axes` (see [`ReduceAxes`]): axes of size 1 are
/// dropped, neighbours of the same kind merged, the trailing kept axes folded into `inner`.
/// `None` if more than [`REDUCE_RANK`] groups remain or a size overflows `u32`.
pub(crate) fn reduce_axes(shape: &[usize], axes: &[usize]) -> Option<ReduceAxes> {
    let mut groups: Vec<(u64, bool)> = Vec::new();
    for (k, &d) in shape.iter().enumerate() {
        if d == 1 {
            continue;
        }
        let reduced = axes.contains(&k);
        match groups.last_mut() {
            Some((size, r)) if *r == reduced => *size = size.checked_mul(d as u64)?,
            _ => groups.push((d as u64, reduced)),
        }
    }
    let mut inner = 1u64;
    if let Some(&(size, false)) = groups.last() {
        inner = size;
        groups.pop();
    }
    if groups.len() > REDUCE_RANK {
        return None;
    }
    let mut dims = [1u32; REDUCE_RANK];
    let mut reduced = [false; REDUCE_RANK];
    let pad = REDUCE_RANK - groups.len();
    for (k, &(size, r)) in groups.iter().enumerate() {
        dims[pad + k] = u32::try_from(size).ok()?;
        reduced[pad + k] = r;
    }
    Some(ReduceAxes {
        dims,
        reduced,
        inner: u32::try_from(inner).ok()?,
    })
}

/// TFLite `QuantizeMultiplierSmallerThanOneExp`: `None` unless `0 < m < 1` (where TFLM's
/// checks would abort).
fn quantize_multiplier_below_one(m: f64) -> Option<(i32, i32)> {
    if !(m > 0.0 && m < 1.0) {
        return None;
    }
    let (q, shift) = quantize_multiplier(m)?;
    (shift <= 0).then_some((q, shift))
}

/// The single axis of an int32 axis operand holding exactly one value, resolved against
/// `rank`.
fn single_axis(cx: &OpCx<'_, '_, '_>, axis_t: &GTensor<'_>, rank: usize) -> Result<usize> {
    if axis_t.type_code != crate::tflite::schema::tensor_type::INT32 {
        return Err(cx.tensor_msg(axis_t, "axis", "must be int32 (TFLM rejects other types)"));
    }
    let v = cx.const_ints(axis_t, "axis")?;
    let [a] = v[..] else {
        return Err(cx.tensor_msg(axis_t, "axis", "must hold exactly one axis"));
    };
    let r = rank as i64;
    let resolved = if a < 0 { a + r } else { a };
    if !(0..r).contains(&resolved) {
        return Err(cx.tensor_msg(
            axis_t,
            "axis",
            format!("axis {a} out of range for rank {rank}"),
        ));
    }
    Ok(resolved as usize)
}

/// `(outer, axis_size, inner)` of `shape` around `axis`.
fn split_at_axis(shape: &[usize], axis: usize) -> (u32, u32, u32) {
    (
        u32_of(shape[..axis].iter().product()),
        u32_of(shape[axis]),
        u32_of(shape[axis + 1..].iter().product()),
    )
}

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn mean(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        self.reduce(cx, ReduceFn::Mean)
    }

    /// MEAN, SUM, REDUCE_MAX and REDUCE_MIN (float32 and int8).
    pub(super) fn reduce(&mut self, cx: &OpCx<'_, 'g, 'a>, func: ReduceFn) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, axes_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let axes = resolve_axes(cx, axes_t, input.shape.len())?;
        let walk = self.reduce_walk(cx, input, output, &axes)?;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let contiguous = k::mean::mean_split(&input.shape, &axes).is_some();
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let bad_multiplier =
                    || cx.err("quantization parameters give an unrepresentable multiplier");
                let func = match func {
                    ReduceFn::Mean if contiguous => {
                        let op = k::mean::prepare_mean_i8(ii, oi, &input.shape, &axes, qi, qo)
                            .ok_or_else(bad_multiplier)?;
                        self.push(cx, Op::MeanI8(op), 0, 0);
                        return Ok(());
                    }
                    ReduceFn::Max | ReduceFn::Min => {
                        // TFLM's EvalMax/EvalMin refuse to rescale.
                        if qi.scale != qo.scale || qi.zero_point != qo.zero_point {
                            return Err(cx.unsupported(format!(
                                "int8 input and output quantization differ ({} vs {}, zero \
                                 points {} vs {}); TFLM requires them equal",
                                qi.scale, qo.scale, qi.zero_point, qo.zero_point
                            )));
                        }
                        if func == ReduceFn::Max {
                            ReduceI8Fn::Max
                        } else {
                            ReduceI8Fn::Min
                        }
                    }
                    ReduceFn::Sum | ReduceFn::Mean => {
                        // TFLM's PrepareMeanOrSumHelper, then (MEAN) QuantizedMeanOrSum's
                        // folding of 1 / n.
                        let (m, s) = quantize_multiplier(qi.scale as f64 / qo.scale as f64)
                            .ok_or_else(bad_multiplier)?;
                        let (multiplier, shift) = if func == ReduceFn::Mean {
                            let dims = walk.dims.iter().zip(&walk.reduced);
                            let n: u64 = dims.filter(|(_, &r)| r).map(|(&d, _)| d as u64).product();
                            k::mean::fold_mean_multiplier(m, s, u32_of(n as usize))
                        } else {
                            (m, s)
                        };
                        ReduceI8Fn::Requantize {
                            input_zero_point: qi.zero_point,
                            output_zero_point: qo.zero_point,
                            multiplier,
                            shift,
                        }
                    }
                };
                let op = ReduceI8 {
                    input: ii,
                    output: oi,
                    axes: walk,
                    func,
                };
                self.push(cx, Op::ReduceI8(op), 0, 0);
            }
            (DType::I16, DType::I16) if matches!(func, ReduceFn::Sum | ReduceFn::Mean) => {
                // TFLM's `QuantizedMeanOrSum<int16_t>`: the int8 arithmetic, int16 clamp.
                let qi = super::pool::int16_zero_point_0(cx, input, "input")?;
                let qo = super::pool::int16_zero_point_0(cx, output, "output")?;
                let bad_multiplier =
                    || cx.err("quantization parameters give an unrepresentable multiplier");
                if func == ReduceFn::Mean && contiguous {
                    let op = k::mean::prepare_mean_i16(ii, oi, &input.shape, &axes, qi, qo)
                        .ok_or_else(bad_multiplier)?;
                    self.push(cx, Op::MeanI16(op), 0, 0);
                    return Ok(());
                }
                let (m, s) = quantize_multiplier(qi.scale as f64 / qo.scale as f64)
                    .ok_or_else(bad_multiplier)?;
                let (multiplier, shift) = if func == ReduceFn::Mean {
                    let dims = walk.dims.iter().zip(&walk.reduced);
                    let n: u64 = dims.filter(|(_, &r)| r).map(|(&d, _)| d as u64).product();
                    k::mean::fold_mean_multiplier(m, s, u32_of(n as usize))
                } else {
                    (m, s)
                };
                let op = ReduceI8 {
                    input: ii,
                    output: oi,
                    axes: walk,
                    func: ReduceI8Fn::Requantize {
                        input_zero_point: 0,
                        output_zero_point: 0,
                        multiplier,
                        shift,
                    },
                };
                self.push(cx, Op::ReduceI16(op), 0, 0);
            }
            (DType::F32, DType::F32) => {
                if func == ReduceFn::Mean && contiguous {
                    let (outer, reduced, inner) = k::mean::mean_split(&input.shape, &axes)
                        .ok_or_else(|| cx.err("MEAN axes overflow"))?;
                    let op = MeanF32 {
                        input: ii,
                        output: oi,
                        outer,
                        reduced,
                        inner,
                    };
                    self.push(cx, Op::MeanF32(op), 0, 0);
                    return Ok(());
                }
                let op = ReduceF32 {
                    input: ii,
                    output: oi,
                    axes: walk,
                    func,
                };
                self.push(cx, Op::ReduceF32(op), 0, 0);
            }
            (a, b) => {
                let supported = if matches!(func, ReduceFn::Sum | ReduceFn::Mean) {
                    "int8, int16 (16x8) and float32"
                } else {
                    "int8 and float32 (TFLM has no int16 variant)"
                };
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: {supported} as TFLM"
                )));
            }
        }
        Ok(())
    }

    /// REDUCE_ALL (bool).
    pub(super) fn reduce_all(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, axes_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let axes = resolve_axes(cx, axes_t, input.shape.len())?;
        let walk = self.reduce_walk(cx, input, output, &axes)?;
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::Bool, DType::Bool) => {}
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; TFLM supports bool only"
                )))
            }
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let op = ReduceAll {
            input: ii,
            output: oi,
            axes: walk,
        };
        self.push(cx, Op::ReduceAll(op), 0, 0);
        Ok(())
    }

    /// The walk of reducing `input` over `axes`, with the output's element count checked
    /// (`keep_dims` only changes the output's shape, not its layout).
    fn reduce_walk(
        &self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
        axes: &[usize],
    ) -> Result<ReduceAxes> {
        let kept: usize = (input.shape.iter().enumerate())
            .filter(|(k, _)| !axes.contains(k))
            .map(|(_, &d)| d)
            .product();
        if output.num_elements() != kept {
            return Err(cx.tensor_msg(output, "output", format!("expected {kept} elements")));
        }
        reduce_axes(&input.shape, axes).ok_or_else(|| {
            cx.unsupported(format!(
                "reducing {} over axes {axes:?} needs more than {REDUCE_RANK} alternating axis groups",
                input.describe()
            ))
        })
    }

    /// ARG_MAX (`max`) and ARG_MIN: float32 or int8 in, int32 out.
    pub(super) fn arg_min_max(&mut self, cx: &OpCx<'_, 'g, 'a>, max: bool) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, axis_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        if input.shape.is_empty() {
            return Err(cx.tensor_msg(input, "input", "must have at least one axis"));
        }
        let axis = single_axis(cx, axis_t, input.shape.len())?;
        let (outer, axis_size, inner) = split_at_axis(&input.shape, axis);
        if axis_size == 0 {
            return Err(cx.tensor_msg(input, "input", format!("axis {axis} is empty")));
        }
        let mut expect = input.shape.clone();
        expect.remove(axis);
        if output.shape != expect {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {expect:?}")));
        }
        let input_type = match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (t @ (DType::F32 | DType::I8), DType::I32) => t,
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; TFLM supports float32 or int8 in, int32 out"
                )))
            }
        };
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let op = ArgMinMax {
            input: ii,
            output: oi,
            input_type,
            max,
            outer,
            axis_size,
            inner,
        };
        self.push(cx, Op::ArgMinMax(op), 0, 0);
        Ok(())
    }

    /// CUMSUM (float32 and int8), TFLM's `CalculateOpData` for the int8 rescaling.
    pub(super) fn cumsum(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, axis_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        if input.shape.is_empty() {
            return Err(cx.tensor_msg(input, "input", "must have at least one axis"));
        }
        if output.shape != input.shape {
            return Err(cx.tensor_msg(output, "output", "must have the input's shape"));
        }
        let axis = single_axis(cx, axis_t, input.shape.len())?;
        let (outer, depth, inner) = split_at_axis(&input.shape, axis);
        // CumsumOptions: exclusive (field 0), reverse (field 1).
        let geom = CumSumGeom {
            outer,
            depth,
            inner,
            exclusive: options::byte(cx.op.options, 0, 0)? != 0,
            reverse: options::byte(cx.op.options, 1, 0)? != 0,
        };
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::F32, DType::F32) => {
                let op = CumSumF32 {
                    input: ii,
                    output: oi,
                    geom,
                };
                self.push(cx, Op::CumSumF32(op), 0, 0);
            }
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                const LEFT_SHIFT: i32 = 20;
                let twice_max_input_scale = 2.0 * qi.scale as f64;
                let real_input = qi.scale as f64 / twice_max_input_scale;
                let real_output =
                    twice_max_input_scale / ((1i64 << LEFT_SHIFT) as f64 * qo.scale as f64);
                let bad = |what: &str, m: f64| {
                    cx.unsupported(format!(
                        "{what} multiplier {m} is not in (0, 1) as TFLM requires"
                    ))
                };
                let (input_multiplier, input_shift) = quantize_multiplier_below_one(real_input)
                    .ok_or_else(|| bad("input", real_input))?;
                let (output_multiplier, output_shift) = quantize_multiplier_below_one(real_output)
                    .ok_or_else(|| bad("output", real_output))?;
                let (act_min, act_max) = cx.act_i8(FusedActivation::None, qo)?;
                let op = CumSumI8 {
                    input: ii,
                    output: oi,
                    geom,
                    input_offset: -qi.zero_point,
                    left_shift: LEFT_SHIFT,
                    input_multiplier,
                    input_shift,
                    output_multiplier,
                    output_shift,
                    output_offset: qo.zero_point,
                    act_min,
                    act_max,
                };
                self.push(cx, Op::CumSumI8(op), 0, 0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_axes_merge_and_fold() {
        // [2, 3, 4, 5] over {1, 2}: kept 2, reduced 12, inner 5.
        let a = reduce_axes(&[2, 3, 4, 5], &[1, 2]).unwrap();
        assert_eq!(a.dims, [1, 1, 1, 1, 2, 12]);
        assert_eq!(a.reduced, [false, false, false, false, false, true]);
        assert_eq!(a.inner, 5);
        // Size-1 axes vanish, so {0, 2} of [2, 1, 3, 4] is one reduced group of 6.
        let a = reduce_axes(&[2, 1, 3, 4], &[0, 2]).unwrap();
        assert_eq!((a.dims[5], a.reduced[5], a.inner), (6, true, 4));
        assert_eq!(&a.dims[..5], &[1; 5]);
        // Alternating groups keep their order; a reduced last axis leaves inner = 1.
        let a = reduce_axes(&[2, 3, 4, 5, 6], &[0, 2, 4]).unwrap();
        assert_eq!(a.dims, [1, 2, 3, 4, 5, 6]);
        assert_eq!(a.reduced, [false, true, false, true, false, true]);
        assert_eq!(a.inner, 1);
        // No axes: everything kept, one inner run.
        let a = reduce_axes(&[2, 3], &[]).unwrap();
        assert_eq!((a.dims, a.inner), ([1; 6], 6));
        // Zero-sized reduced axes stay (the output is then the reduction's start value).
        let a = reduce_axes(&[0, 3], &[0]).unwrap();
        assert_eq!((a.dims[5], a.reduced[5], a.inner), (0, true, 3));
    }
}
