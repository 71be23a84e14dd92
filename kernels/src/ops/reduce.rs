//! Reductions over any set of axes (SUM, MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_ALL), ARG_MAX /
//! ARG_MIN and CUMSUM, for the types TFLite Micro accepts: float32 and int8 (REDUCE_ALL:
//! bool).
//!
//! **Reductions** follow TFLM's `reference_ops::ReduceGeneric`, `Mean` and
//! `QuantizedMeanOrSum`: TFLM walks the input in row-major order and folds each element into
//! its output, so every output meets its inputs in row-major order of the reduced axes. The
//! walk here visits outputs one run of at most [`CHUNK`] at a time (accumulators on the
//! stack, no scratch) and, for each run, every reduced position in row-major order, adding a
//! contiguous row of the run's width: the same order per output, so float sums round
//! identically.
//!
//! * float SUM starts from `0.0`; MEAN divides that sum by `n as f32` (`n` the number of
//!   reduced elements; no element leaves 0); MAX starts from `f32::MIN` and takes `x` when
//!   `x > current`, MIN from `f32::MAX` when `x < current` (so NaNs are skipped, as in TFLM);
//! * int8 MAX/MIN likewise from -128 / 127; int8 SUM and MEAN requantize the wrapping `i32`
//!   sum (see [`ReduceI8Fn::Requantize`]), TFLM giving zeros when nothing is reduced; int16
//!   (16x8) SUM and MEAN are the same arithmetic clamped to int16 (TFLM's template);
//! * REDUCE_ALL is a logical AND from `true`.
//!
//! **ARG_MAX / ARG_MIN** follow `reference_ops::ArgMinMax`: index 0 first, then a strictly
//! greater (smaller) value takes over, so the first extreme wins ties and NaNs never win.
//!
//! **CUMSUM** follows `reference_ops::CumSum`: float sums run from `0.0` along the axis (from
//! its end when `reverse`); int8 uses the rescaling of [`CumSumI8`], including TFLM's start
//! value.

use crate::ops::pool::QuantInt;
use crate::util::{check_len, expect_op, product};
use ferrite_core::fixed::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp,
};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{
    ArgMinMax, CumSumF32, CumSumGeom, CumSumI8, Op, ReduceAll, ReduceAxes, ReduceF32, ReduceFn,
    ReduceI8, ReduceI8Fn, REDUCE_RANK,
};
use ferrite_core::{Ctx, DType, Error, Result};

/// Outputs accumulated at once: their sums live on the stack.
const CHUNK: usize = 32;

/// One axis of a walk: its size and its stride in elements.
#[derive(Debug, Clone, Copy, Default)]
struct Axis {
    size: usize,
    stride: usize,
}

/// The kept and the reduced axes of a [`ReduceAxes`] with their input strides.
#[derive(Debug)]
struct Walk {
    kept: [Axis; REDUCE_RANK],
    n_kept: usize,
    red: [Axis; REDUCE_RANK],
    n_red: usize,
    inner: usize,
}

impl Walk {
    /// The walk of `a`; `None` if the input's size overflows `usize`.
    fn new(a: &ReduceAxes) -> Option<Walk> {
        let mut w = Walk {
            kept: [Axis::default(); REDUCE_RANK],
            n_kept: 0,
            red: [Axis::default(); REDUCE_RANK],
            n_red: 0,
            inner: a.inner as usize,
        };
        let mut stride = w.inner;
        // Axes from the innermost out, so each stride is the product of the ones after it;
        // the lists are filled back to front to keep the axes' order.
        let (mut k, mut r) = (REDUCE_RANK, REDUCE_RANK);
        for (&size, &reduced) in a.dims.iter().zip(&a.reduced).rev() {
            let axis = Axis {
                size: size as usize,
                stride,
            };
            if reduced {
                r -= 1;
                *w.red.get_mut(r)? = axis;
            } else {
                k -= 1;
                *w.kept.get_mut(k)? = axis;
            }
            stride = stride.checked_mul(size as usize)?;
        }
        w.kept.rotate_left(k);
        w.red.rotate_left(r);
        w.n_kept = REDUCE_RANK - k;
        w.n_red = REDUCE_RANK - r;
        Some(w)
    }

    fn kept(&self) -> &[Axis] {
        self.kept.get(..self.n_kept).unwrap_or(&[])
    }

    fn red(&self) -> &[Axis] {
        self.red.get(..self.n_red).unwrap_or(&[])
    }
}

/// Element offsets of every index of `axes` in row-major order (one offset, 0, for no axes;
/// none if an axis is empty).
struct Odometer<'a> {
    axes: &'a [Axis],
    idx: [usize; REDUCE_RANK],
    offset: usize,
    done: bool,
}

impl<'a> Odometer<'a> {
    fn new(axes: &'a [Axis]) -> Self {
        Odometer {
            axes,
            idx: [0; REDUCE_RANK],
            offset: 0,
            done: axes.iter().any(|a| a.size == 0),
        }
    }
}

impl Iterator for Odometer<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.done {
            return None;
        }
        let current = self.offset;
        let n = self.axes.len().min(REDUCE_RANK);
        self.done = true;
        if let Some(idx) = self.idx.get_mut(..n) {
            for (i, a) in idx.iter_mut().zip(self.axes).rev() {
                *i += 1;
                self.offset = self.offset.wrapping_add(a.stride);
                if *i < a.size {
                    self.done = false;
                    break;
                }
                self.offset = self.offset.wrapping_sub(a.stride.wrapping_mul(a.size));
                *i = 0;
            }
        }
        Some(current)
    }
}

/// Folds every input of each output with `add`, starting from `init`, then hands each run of
/// finished accumulators to `finish(accumulators, outputs)`.
///
/// Returns `false` (having written a prefix) unless `input` holds `product(dims) * inner`
/// and `output` `product(kept dims) * inner` elements, which the entries check first.
fn reduce_walk<T: Copy, A: Copy>(
    w: &Walk,
    input: &[T],
    output: &mut [T],
    init: A,
    add: impl Fn(A, T) -> A,
    mut finish: impl FnMut(&[A], &mut [T]),
) -> bool {
    if w.inner == 0 {
        return true;
    }
    let mut rows = output.chunks_exact_mut(w.inner);
    for base in Odometer::new(w.kept()) {
        let Some(out_row) = rows.next() else {
            return false;
        };
        for (c, out_run) in out_row.chunks_mut(CHUNK).enumerate() {
            let start = base + c * CHUNK;
            let width = out_run.len();
            let mut acc = [init; CHUNK];
            let Some(acc) = acc.get_mut(..width) else {
                return false;
            };
            for offset in Odometer::new(w.red()) {
                let at = start + offset;
                let Some(row) = input.get(at..at + width) else {
                    return false;
                };
                for (a, &x) in acc.iter_mut().zip(row) {
                    *a = add(*a, x);
                }
            }
            finish(acc, out_run);
        }
    }
    rows.next().is_none()
}

/// Number of reduced elements per output.
fn reduced_count(a: &ReduceAxes) -> u64 {
    let dims = a.dims.iter().zip(&a.reduced);
    dims.filter(|(_, &r)| r)
        .fold(1u64, |acc, (&d, _)| acc.saturating_mul(d as u64))
}

/// Reference float reduction (see the module documentation). Slices as [`reduce_walk`]
/// requires; returns `false` otherwise.
pub fn reduce_f32(p: &ReduceF32, input: &[f32], output: &mut [f32]) -> bool {
    let Some(w) = Walk::new(&p.axes) else {
        return false;
    };
    let copy = |acc: &[f32], out: &mut [f32]| out.copy_from_slice(acc);
    match p.func {
        ReduceFn::Sum => reduce_walk(&w, input, output, 0.0f32, |a, x| a + x, copy),
        ReduceFn::Mean => {
            let n = reduced_count(&p.axes);
            let count = n as f32;
            reduce_walk(
                &w,
                input,
                output,
                0.0f32,
                |a, x| a + x,
                |acc, out| {
                    for (o, &sum) in out.iter_mut().zip(acc) {
                        // TFLM leaves its zeroed output when nothing is reduced.
                        *o = if n == 0 { 0.0 } else { sum / count };
                    }
                },
            )
        }
        ReduceFn::Max => reduce_walk(
            &w,
            input,
            output,
            f32::MIN,
            |a, x| if x > a { x } else { a },
            copy,
        ),
        ReduceFn::Min => reduce_walk(
            &w,
            input,
            output,
            f32::MAX,
            |a, x| if x < a { x } else { a },
            copy,
        ),
    }
}

/// Reference int8 reduction (see the module documentation). Slices as [`reduce_walk`]
/// requires; returns `false` otherwise.
pub fn reduce_i8(p: &ReduceI8, input: &[i8], output: &mut [i8]) -> bool {
    reduce_int(p, input, output)
}

/// Reference int16 reduction: TFLM's `QuantizedMeanOrSum<int16_t>` is the int8 arithmetic
/// with an int16 clamp, so this is [`reduce_i8`] over int16 elements (MAX / MIN included,
/// though TFLM has no int16 REDUCE_MAX / REDUCE_MIN and the converter never emits them).
pub fn reduce_i16(p: &ReduceI8, input: &[i16], output: &mut [i16]) -> bool {
    reduce_int(p, input, output)
}

/// The integer reduction shared by [`reduce_i8`] and [`reduce_i16`].
#[inline(always)]
fn reduce_int<T: QuantInt>(p: &ReduceI8, input: &[T], output: &mut [T]) -> bool {
    let Some(w) = Walk::new(&p.axes) else {
        return false;
    };
    let copy = |acc: &[T], out: &mut [T]| out.copy_from_slice(acc);
    match p.func {
        ReduceI8Fn::Max => reduce_walk(
            &w,
            input,
            output,
            T::LOWEST,
            |a, x| if x > a { x } else { a },
            copy,
        ),
        ReduceI8Fn::Min => reduce_walk(
            &w,
            input,
            output,
            T::HIGHEST,
            |a, x| if x < a { x } else { a },
            copy,
        ),
        ReduceI8Fn::Requantize {
            input_zero_point,
            output_zero_point,
            multiplier,
            shift,
        } => {
            let n = reduced_count(&p.axes);
            // TFLM subtracts `zero_point * n` in 64 bits, then narrows to the i32 sum type.
            let zp_total = (input_zero_point as i64).wrapping_mul(n as i64);
            reduce_walk(
                &w,
                input,
                output,
                0i32,
                |a, x: T| a.wrapping_add(x.into()),
                |acc, out| {
                    for (o, &sum) in out.iter_mut().zip(acc) {
                        if n == 0 {
                            *o = T::narrow(0);
                            continue;
                        }
                        let shifted = (sum as i64).wrapping_sub(zp_total) as i32;
                        let v = multiply_by_quantized_multiplier(shifted, multiplier, shift)
                            .wrapping_add(output_zero_point);
                        *o = T::narrow(v.clamp(T::LOWEST.into(), T::HIGHEST.into()) as i64);
                    }
                },
            )
        }
    }
}

/// Reference REDUCE_ALL on bool bytes (0 or 1; any non-zero byte reads as true). Slices as
/// [`reduce_walk`] requires; returns `false` otherwise.
pub fn reduce_all(p: &ReduceAll, input: &[u8], output: &mut [u8]) -> bool {
    let Some(w) = Walk::new(&p.axes) else {
        return false;
    };
    reduce_walk(
        &w,
        input,
        output,
        true,
        |a, x| a && x != 0,
        |acc, out| {
            for (o, &v) in out.iter_mut().zip(acc) {
                *o = u8::from(v);
            }
        },
    )
}

/// Checks a reduction's input and output lengths against its axes.
fn check_reduce_sizes(layer: u16, a: &ReduceAxes, input: usize, output: usize) -> Result<()> {
    let inner = a.inner as u64;
    check_len(
        layer,
        input as u64,
        product(&a.dims).saturating_mul(inner),
        "reduce input size does not match its axes",
    )?;
    let kept = a.dims.iter().zip(&a.reduced).filter(|(_, &r)| !r);
    let n_out = kept.fold(inner, |acc, (&d, _)| acc.saturating_mul(d as u64));
    check_len(
        layer,
        output as u64,
        n_out,
        "reduce output size does not match its kept axes",
    )
}

/// The error of a walk that left its buffers (the entry checks make it unreachable).
fn walk_error(layer: u16) -> Error {
    Error::InvalidLayer {
        layer,
        reason: "reduction outside its buffers",
    }
}

/// Kernel entry for [`Op::ReduceF32`].
pub fn run_reduce_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ReduceF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_reduce_sizes(layer, &p.axes, input.len(), output.len())?;
    if !reduce_f32(p, input, output) {
        return Err(walk_error(layer));
    }
    Ok(())
}

/// Kernel entry for [`Op::ReduceI8`].
pub fn run_reduce_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ReduceI8);
    if let ReduceI8Fn::Requantize { shift, .. } = p.func {
        if !(-31..=31).contains(&shift) {
            return Err(ctx.error("multiplier shift out of range"));
        }
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_reduce_sizes(layer, &p.axes, input.len(), output.len())?;
    if !reduce_i8(p, input, output) {
        return Err(walk_error(layer));
    }
    Ok(())
}

/// Kernel entry for [`Op::ReduceI16`].
pub fn run_reduce_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ReduceI16);
    if let ReduceI8Fn::Requantize { shift, .. } = p.func {
        if !(-31..=31).contains(&shift) {
            return Err(ctx.error("multiplier shift out of range"));
        }
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_reduce_sizes(layer, &p.axes, input.len(), output.len())?;
    if !reduce_i16(p, input, output) {
        return Err(walk_error(layer));
    }
    Ok(())
}

/// Kernel entry for [`Op::ReduceAll`].
pub fn run_reduce_all(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ReduceAll);
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    check_reduce_sizes(layer, &p.axes, input.len(), output.len())?;
    if !reduce_all(p, input, output) {
        return Err(walk_error(layer));
    }
    Ok(())
}

/// Reference ARG_MAX / ARG_MIN over `[outer, axis_size, inner]` into `[outer, inner]`: for
/// each output, index 0 first, then any later value strictly greater (`max`) or smaller takes
/// over. `input` and `output` must hold `outer * axis_size * inner` and `outer * inner`
/// elements with `axis_size >= 1` (the entry checks); extra elements are ignored.
pub fn arg_min_max<T: Copy + PartialOrd>(p: &ArgMinMax, input: &[T], output: &mut [i32]) {
    let (axis, inner) = (p.axis_size as usize, p.inner as usize);
    if axis == 0 || inner == 0 {
        return;
    }
    // `max(1)`: non-zero already (both factors are), said so that no panic path is linked.
    let blocks = input.chunks_exact(axis.saturating_mul(inner).max(1));
    for (block, out_row) in blocks.zip(output.chunks_exact_mut(inner)) {
        let mut rows = block.chunks_exact(inner);
        let Some(first) = rows.next() else {
            return;
        };
        for (c, out_run) in out_row.chunks_mut(CHUNK).enumerate() {
            let start = c * CHUNK;
            let width = out_run.len();
            let Some(first_run) = first.get(start..start + width) else {
                return;
            };
            let mut best: [Option<T>; CHUNK] = [None; CHUNK];
            for (b, &x) in best.iter_mut().zip(first_run) {
                *b = Some(x);
            }
            out_run.fill(0);
            for (i, row) in rows.clone().enumerate() {
                let Some(run) = row.get(start..start + width) else {
                    return;
                };
                for ((o, b), &x) in out_run.iter_mut().zip(best.iter_mut()).zip(run) {
                    let better = match *b {
                        Some(v) if p.max => x > v,
                        Some(v) => x < v,
                        None => false,
                    };
                    if better {
                        *b = Some(x);
                        *o = (i + 1) as i32;
                    }
                }
            }
        }
    }
}

/// Kernel entry for [`Op::ArgMinMax`].
pub fn run_arg_min_max(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ArgMinMax);
    if p.axis_size == 0 {
        return Err(ctx.error("arg min/max over an empty axis"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let output: &mut [i32] = cast_out(layer, out)?;
    let n_in = product(&[p.outer, p.axis_size, p.inner]);
    check_len(
        layer,
        output.len() as u64,
        product(&[p.outer, p.inner]),
        "arg min/max output size does not match outer * inner",
    )?;
    let input_size = "arg min/max input size does not match outer * axis * inner";
    match p.input_type {
        DType::F32 => {
            let input: &[f32] = inputs.get(p.input)?;
            check_len(layer, input.len() as u64, n_in, input_size)?;
            arg_min_max(p, input, output);
        }
        DType::I8 => {
            let input: &[i8] = inputs.get(p.input)?;
            check_len(layer, input.len() as u64, n_in, input_size)?;
            arg_min_max(p, input, output);
        }
        _ => {
            return Err(Error::InvalidLayer {
                layer,
                reason: "arg min/max input must be float32 or int8",
            })
        }
    }
    Ok(())
}

/// Runs a cumulative sum along `depth` of `[outer, depth, inner]`: each input is mapped by
/// `scale`, the running value starts at `init` and grows by `add`, and `emit` turns it into
/// an output (before adding the input when `exclusive`). Slices of `outer * depth * inner`
/// elements (the entries check); extra elements are ignored.
fn cumsum_walk<T: Copy, A: Copy>(
    g: &CumSumGeom,
    input: &[T],
    output: &mut [T],
    init: A,
    scale: impl Fn(T) -> A,
    add: impl Fn(A, A) -> A,
    emit: impl Fn(A) -> T,
) {
    let (depth, inner) = (g.depth as usize, g.inner as usize);
    let block = depth.saturating_mul(inner);
    if block == 0 {
        return;
    }
    for (in_block, out_block) in input
        .chunks_exact(block)
        .zip(output.chunks_exact_mut(block))
    {
        for start in (0..inner).step_by(CHUNK) {
            let width = CHUNK.min(inner - start);
            let mut acc = [init; CHUNK];
            let Some(acc) = acc.get_mut(..width) else {
                return;
            };
            for step in 0..depth {
                let d = if g.reverse { depth - 1 - step } else { step };
                let at = d * inner + start;
                let (Some(src), Some(dst)) = (
                    in_block.get(at..at + width),
                    out_block.get_mut(at..at + width),
                ) else {
                    return;
                };
                for ((a, &x), o) in acc.iter_mut().zip(src).zip(dst) {
                    if g.exclusive {
                        *o = emit(*a);
                        *a = add(*a, scale(x));
                    } else {
                        *a = add(*a, scale(x));
                        *o = emit(*a);
                    }
                }
            }
        }
    }
}

/// Reference float CUMSUM (TFLM `reference_ops::CumSum`).
pub fn cumsum_f32(p: &CumSumF32, input: &[f32], output: &mut [f32]) {
    cumsum_walk(&p.geom, input, output, 0.0f32, |x| x, |a, b| a + b, |a| a);
}

/// Reference int8 CUMSUM (TFLM's quantized `reference_ops::CumSum`, see [`CumSumI8`]).
pub fn cumsum_i8(p: &CumSumI8, input: &[i8], output: &mut [i8]) {
    let scale = |x: i32| {
        let shifted = p
            .input_offset
            .wrapping_add(x)
            .wrapping_shl(p.left_shift as u32);
        multiply_by_quantized_multiplier_smaller_than_one_exp(
            shifted,
            p.input_multiplier,
            p.input_shift,
        )
    };
    let emit = |acc: i32| {
        let raw = multiply_by_quantized_multiplier_smaller_than_one_exp(
            acc,
            p.output_multiplier,
            p.output_shift,
        )
        .wrapping_add(p.output_offset);
        // max then min rather than `clamp`, which panics on an empty range.
        raw.max(p.act_min).min(p.act_max) as i8
    };
    // TFLM starts from the rescaled input offset, what an input value of 0 contributes.
    let init = scale(0);
    cumsum_walk(
        &p.geom,
        input,
        output,
        init,
        |x: i8| scale(x as i32),
        i32::wrapping_add,
        emit,
    );
}

/// Checks a cumulative sum's input and output lengths.
fn check_cumsum_sizes(layer: u16, g: &CumSumGeom, input: usize, output: usize) -> Result<()> {
    let n = product(&[g.outer, g.depth, g.inner]);
    check_len(
        layer,
        input as u64,
        n,
        "cumsum input size does not match its shape",
    )?;
    check_len(
        layer,
        output as u64,
        n,
        "cumsum output size does not match its shape",
    )
}

/// Kernel entry for [`Op::CumSumF32`].
pub fn run_cumsum_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, CumSumF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_cumsum_sizes(layer, &p.geom, input.len(), output.len())?;
    cumsum_f32(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::CumSumI8`].
pub fn run_cumsum_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, CumSumI8);
    if !(0..=30).contains(&p.left_shift)
        || !(-31..=0).contains(&p.input_shift)
        || !(-31..=0).contains(&p.output_shift)
    {
        return Err(ctx.error("cumsum shift out of range"));
    }
    if p.act_min > p.act_max {
        return Err(ctx.error("cumsum clamp range is empty"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_cumsum_sizes(layer, &p.geom, input.len(), output.len())?;
    cumsum_i8(p, input, output);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    extern crate std;
    use super::*;
    use ferrite_core::{Arena, Layer, Model, Shape, Tensor, TensorId};
    use std::vec;
    use std::vec::Vec;

    /// Walk over `dims` (padded) with the given reduced axes and inner run.
    fn axes(dims: &[u32], reduced: &[bool], inner: u32) -> ReduceAxes {
        let mut a = ReduceAxes {
            dims: [1; REDUCE_RANK],
            reduced: [false; REDUCE_RANK],
            inner,
        };
        let pad = REDUCE_RANK - dims.len();
        a.dims[pad..].copy_from_slice(dims);
        a.reduced[pad..].copy_from_slice(reduced);
        a
    }

    /// TFLM's `Reduce`, literally: every input in row-major order folded into the output its
    /// kept indices name.
    fn naive<T: Copy, A: Copy>(
        a: &ReduceAxes,
        input: &[T],
        init: A,
        add: impl Fn(A, T) -> A,
    ) -> Vec<A> {
        let mut full: Vec<(u32, bool)> = a.dims.iter().copied().zip(a.reduced).collect();
        full.push((a.inner, false));
        let n_out: usize = full.iter().filter(|d| !d.1).map(|d| d.0 as usize).product();
        let mut out = vec![init; n_out];
        let mut idx = vec![0u32; full.len()];
        for &x in input {
            let mut o = 0usize;
            for (k, &(d, r)) in full.iter().enumerate() {
                if !r {
                    o = o * d as usize + idx[k] as usize;
                }
            }
            out[o] = add(out[o], x);
            for k in (0..full.len()).rev() {
                idx[k] += 1;
                if idx[k] < full[k].0 {
                    break;
                }
                idx[k] = 0;
            }
        }
        out
    }

    #[test]
    fn walk_matches_tflm_order_bit_for_bit() {
        // Large and small magnitudes mixed, so any change of order changes float bits.
        let cases: [(&[u32], &[bool], u32); 5] = [
            (&[2, 3, 4, 5], &[false, true, false, true], 1),
            (&[3, 7], &[true, false], 40),
            (&[5, 2, 3], &[true, false, true], 3),
            (&[4], &[true], 70),
            (&[2, 3], &[false, false], 2),
        ];
        for (d, r, inner) in cases {
            let a = axes(d, r, inner);
            let n: u32 = d.iter().product::<u32>() * inner;
            let input: Vec<f32> = (0..n)
                .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * if i % 3 == 0 { 1e6 } else { 1e-3 })
                .collect();
            let want = naive(&a, &input, 0.0f32, |s, x| s + x);
            let p = ReduceF32 {
                input: TensorId(0),
                output: TensorId(1),
                axes: a,
                func: ReduceFn::Sum,
            };
            let mut out = vec![0f32; want.len()];
            assert!(reduce_f32(&p, &input, &mut out));
            assert_eq!(
                out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{d:?} {r:?} {inner}"
            );
            let p = ReduceF32 {
                func: ReduceFn::Max,
                ..p
            };
            assert!(reduce_f32(&p, &input, &mut out));
            assert_eq!(
                out,
                naive(&a, &input, f32::MIN, |m, x| if x > m { x } else { m })
            );
        }
    }

    #[test]
    fn float_max_skips_nan_and_mean_of_nothing_is_zero() {
        let a = axes(&[3], &[true], 1);
        let p = ReduceF32 {
            input: TensorId(0),
            output: TensorId(1),
            axes: a,
            func: ReduceFn::Max,
        };
        let mut out = [0f32];
        assert!(reduce_f32(&p, &[f32::NAN, -2.0, f32::NAN], &mut out));
        assert_eq!(out, [-2.0]);
        let p = ReduceF32 {
            axes: axes(&[0], &[true], 2),
            func: ReduceFn::Mean,
            ..p
        };
        let mut out = [7f32; 2];
        assert!(reduce_f32(&p, &[], &mut out));
        assert_eq!(out, [0.0, 0.0]);
        // Max over nothing is TFLM's start value.
        let p = ReduceF32 {
            func: ReduceFn::Max,
            ..p
        };
        assert!(reduce_f32(&p, &[], &mut out));
        assert_eq!(out, [f32::MIN, f32::MIN]);
    }

    #[test]
    fn int8_sum_requantizes_wrapped_sums() {
        // SUM of [2, 3] over axis 1, input zp -3, unit multiplier 0.5 * 2^1.
        let p = ReduceI8 {
            input: TensorId(0),
            output: TensorId(1),
            axes: axes(&[2, 3], &[false, true], 1),
            func: ReduceI8Fn::Requantize {
                input_zero_point: -3,
                output_zero_point: 5,
                multiplier: 1 << 30,
                shift: 1,
            },
        };
        let mut out = [0i8; 2];
        assert!(reduce_i8(&p, &[1, 2, 3, 100, 100, -128], &mut out));
        // (6 + 9) + 5 = 20; (72 + 9) + 5 = 86.
        assert_eq!(out, [20, 86]);
        let mut out = [0i8; 2];
        let p = ReduceI8 {
            func: ReduceI8Fn::Min,
            ..p
        };
        assert!(reduce_i8(&p, &[1, 2, 3, 100, 100, -128], &mut out));
        assert_eq!(out, [1, -128]);
    }

    #[test]
    fn int16_sum_requantizes_and_clamps_to_int16() {
        // SUM of [2, 3] over axis 1, zero points 0 (16x8), multiplier 0.5 * 2^1 = 1.
        let p = ReduceI8 {
            input: TensorId(0),
            output: TensorId(1),
            axes: axes(&[2, 3], &[false, true], 1),
            func: ReduceI8Fn::Requantize {
                input_zero_point: 0,
                output_zero_point: 0,
                multiplier: 1 << 30,
                shift: 1,
            },
        };
        let mut out = [0i16; 2];
        // 1000 + 2000 + 3000 = 6000; 20000 * 2 - 32768 = 7232 (beyond int16 midway, not at
        // the end).
        assert!(reduce_i16(
            &p,
            &[1000, 2000, 3000, 20000, 20000, -32768],
            &mut out
        ));
        assert_eq!(out, [6000, 7232]);
        // Sums past int16 clamp.
        assert!(reduce_i16(
            &p,
            &[20000, 20000, 1, -20000, -20000, -1],
            &mut out
        ));
        assert_eq!(out, [32767, -32768]);
        // Halving (MEAN of 2 folded into the multiplier: 0.5 * 2^0): a negative tie (-1.5)
        // goes up, as SaturatingRoundingDoublingHighMul's nudge makes it.
        let p = ReduceI8 {
            axes: axes(&[2, 2], &[false, true], 1),
            func: ReduceI8Fn::Requantize {
                input_zero_point: 0,
                output_zero_point: 0,
                multiplier: 1 << 30,
                shift: 0,
            },
            ..p
        };
        assert!(reduce_i16(&p, &[30001, 30000, -3, 0], &mut out));
        assert_eq!(out, [30001, -1]);
    }

    #[test]
    fn reduce_all_is_a_logical_and() {
        let p = ReduceAll {
            input: TensorId(0),
            output: TensorId(1),
            axes: axes(&[2, 2], &[true, false], 1),
        };
        let mut out = [9u8; 2];
        assert!(reduce_all(&p, &[1, 0, 1, 1], &mut out));
        assert_eq!(out, [1, 0]);
    }

    #[test]
    fn arg_max_takes_the_first_of_ties() {
        let p = ArgMinMax {
            input: TensorId(0),
            output: TensorId(1),
            input_type: DType::F32,
            max: true,
            outer: 1,
            axis_size: 4,
            inner: 2,
        };
        // Column 0: 1, 3, 3, 2 -> 1; column 1: NaN, 5, 5, 9 -> 0 (nothing beats a NaN start).
        let input = [1.0f32, f32::NAN, 3.0, 5.0, 3.0, 5.0, 2.0, 9.0];
        let mut out = [7i32; 2];
        arg_min_max(&p, &input, &mut out);
        assert_eq!(out, [1, 0]);
        let p = ArgMinMax { max: false, ..p };
        arg_min_max(&p, &[4i8, 4, 4, 4, -1, 4, -1, -2], &mut out);
        assert_eq!(out, [2, 3]);
    }

    #[test]
    fn cumsum_float_directions() {
        let g = CumSumGeom {
            outer: 1,
            depth: 3,
            inner: 2,
            exclusive: false,
            reverse: false,
        };
        let p = CumSumF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom: g,
        };
        let input = [1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0];
        let mut out = [0f32; 6];
        cumsum_f32(&p, &input, &mut out);
        assert_eq!(out, [1.0, 10.0, 3.0, 30.0, 6.0, 60.0]);
        let p = CumSumF32 {
            geom: CumSumGeom {
                exclusive: true,
                reverse: true,
                ..g
            },
            ..p
        };
        cumsum_f32(&p, &input, &mut out);
        assert_eq!(out, [5.0, 50.0, 3.0, 30.0, 0.0, 0.0]);
    }

    // From TFLM (tflite_micro 0.dev20261023182759): int8 CUMSUM of [zp, zp, zp + 10, zp + 10]
    // with input scale 0.1 and output scale 0.2, zp 0: the running sum starts at the rescaled
    // input offset, so a zero point of 10 shifts every output by -5 (throwaway script
    // /tmp/rd/probe_cumsum.py).
    #[test]
    fn cumsum_int8_starts_where_tflm_does() {
        for (zp, exclusive, want) in [
            (0, false, [0i8, 0, 5, 10]),
            (10, false, [-5, -5, 0, 5]),
            (10, true, [-5, -5, -5, 0]),
            (-20, false, [10, 10, 15, 20]),
        ] {
            let p = CumSumI8 {
                input: TensorId(0),
                output: TensorId(1),
                geom: CumSumGeom {
                    outer: 1,
                    depth: 4,
                    inner: 1,
                    exclusive,
                    reverse: false,
                },
                input_offset: -zp,
                left_shift: 20,
                input_multiplier: 1 << 30,
                input_shift: 0,
                // 2 * 0.1 / (2^20 * 0.2) = 2^-20.
                output_multiplier: 1 << 30,
                output_shift: -19,
                output_offset: 0,
                act_min: -128,
                act_max: 127,
            };
            let z = zp as i8;
            let mut out = [0i8; 4];
            cumsum_i8(&p, &[z, z, z + 10, z + 10], &mut out);
            assert_eq!(out, want, "zp {zp} exclusive {exclusive}");
        }
    }

    fn tensor(offset: u32, dtype: DType, n: u32) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(&[n]),
            scale: 0.0,
            zero_point: 0,
        }
    }

    fn invoke(tensors: &[Tensor], op: Op, kernel: ferrite_core::KernelFn) -> Result<()> {
        let layers = [Layer {
            op,
            kernel,
            name: "REDUCE",
        }];
        let model = Model {
            tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 256,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<256>::new();
        model.invoke(arena.as_mut_slice())
    }

    #[test]
    fn entries_check_sizes_and_parameters() {
        let tensors = [tensor(0, DType::F32, 6), tensor(32, DType::F32, 2)];
        let good = ReduceF32 {
            input: TensorId(0),
            output: TensorId(1),
            axes: axes(&[2, 3], &[false, true], 1),
            func: ReduceFn::Sum,
        };
        assert_eq!(
            invoke(&tensors, Op::ReduceF32(good), run_reduce_f32),
            Ok(())
        );
        let wrong = ReduceF32 {
            axes: axes(&[3, 2], &[false, true], 1),
            ..good
        };
        assert!(invoke(&tensors, Op::ReduceF32(wrong), run_reduce_f32).is_err());
        let arg = ArgMinMax {
            input: TensorId(0),
            output: TensorId(1),
            input_type: DType::F32,
            max: true,
            outer: 2,
            axis_size: 0,
            inner: 1,
        };
        assert!(invoke(&tensors, Op::ArgMinMax(arg), run_arg_min_max).is_err());
        assert!(invoke(&tensors, Op::ReduceF32(good), run_cumsum_f32).is_err());
    }

    proptest::proptest! {
        /// Arbitrary reduction parameters never panic: the entries run or report an error.
        #[test]
        fn hostile_reductions_never_panic(
            dims in proptest::array::uniform6(proptest::prop_oneof![0u32..4, proptest::num::u32::ANY]),
            reduced in proptest::array::uniform6(proptest::bool::ANY),
            inner in proptest::prop_oneof![0u32..4, proptest::num::u32::ANY],
            shift in -40i32..40,
            n_in in 0u32..24,
            n_out in 0u32..24,
            geom in (0u32..5, 0u32..5, 0u32..5),
        ) {
            let a = ReduceAxes { dims, reduced, inner };
            let t8 = [tensor(0, DType::I8, n_in), tensor(128, DType::I8, n_out)];
            let tf = [tensor(0, DType::F32, n_in), tensor(128, DType::F32, n_out)];
            let i8op = ReduceI8 {
                input: TensorId(0),
                output: TensorId(1),
                axes: a,
                func: ReduceI8Fn::Requantize {
                    input_zero_point: 3,
                    output_zero_point: -4,
                    multiplier: 1 << 30,
                    shift,
                },
            };
            let _ = invoke(&t8, Op::ReduceI8(i8op), run_reduce_i8);
            let fop = ReduceF32 { input: TensorId(0), output: TensorId(1), axes: a, func: ReduceFn::Mean };
            let _ = invoke(&tf, Op::ReduceF32(fop), run_reduce_f32);
            let all = ReduceAll { input: TensorId(0), output: TensorId(1), axes: a };
            let _ = invoke(&t8, Op::ReduceAll(all), run_reduce_all);
            let arg = ArgMinMax {
                input: TensorId(0),
                output: TensorId(1),
                input_type: DType::I8,
                max: false,
                outer: geom.0,
                axis_size: geom.1,
                inner: geom.2,
            };
            let _ = invoke(&t8, Op::ArgMinMax(arg), run_arg_min_max);
            let g = CumSumGeom { outer: geom.0, depth: geom.1, inner: geom.2, exclusive: true, reverse: true };
            let cs = CumSumI8 {
                input: TensorId(0), output: TensorId(1), geom: g, input_offset: 1, left_shift: 20,
                input_multiplier: 1 << 30, input_shift: shift.min(0), output_multiplier: 1 << 30,
                output_shift: -shift.abs(), output_offset: 0, act_min: -128, act_max: 127,
            };
            let _ = invoke(&t8, Op::CumSumI8(cs), run_cumsum_i8);
            let _ = invoke(&tf, Op::CumSumF32(CumSumF32 { input: TensorId(0), output: TensorId(1), geom: g }), run_cumsum_f32);
        }
    }
}
