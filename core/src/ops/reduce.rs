//! Parameters of the reductions (SUM, MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_ALL), ARG_MAX /
//! ARG_MIN and CUMSUM.
//!
//! A reduction over any set of axes is described by [`ReduceAxes`]: the converter drops axes of
//! size 1, merges neighbouring axes that are both reduced or both kept, and folds the trailing
//! kept axes into one contiguous `inner` run, so the kernel walks at most [`REDUCE_RANK`] axes
//! and always adds whole rows of `inner` values. Every output sums (or compares) its inputs in
//! row-major order of the reduced axes, the order TFLite Micro's `Reduce` visits them in, so
//! float sums round the same way.

use crate::model::TensorId;
use crate::DType;

/// Number of axes a [`ReduceAxes`] describes (above its contiguous `inner` run).
pub const REDUCE_RANK: usize = 6;

/// How a reduction walks its input: the input is `dims` (row-major, padded on the left with
/// kept axes of size 1) times a contiguous run of `inner` elements; the output is the kept
/// axes of `dims` (in order) times `inner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReduceAxes {
    /// The axes above the trailing kept run.
    pub dims: [u32; REDUCE_RANK],
    /// Which of `dims` are reduced.
    pub reduced: [bool; REDUCE_RANK],
    /// Product of the trailing kept axes (1 when the last axis is reduced).
    pub inner: u32,
}

/// A float reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ReduceFn {
    /// SUM: single-precision sum from `0.0`.
    Sum,
    /// MEAN: the sum divided by the number of reduced elements.
    Mean,
    /// REDUCE_MAX: the largest value (from `f32::MIN`; NaNs never win a comparison).
    Max,
    /// REDUCE_MIN: the smallest value (from `f32::MAX`).
    Min,
}

/// Float SUM, MEAN, REDUCE_MAX or REDUCE_MIN over any axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReduceF32 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// The walk.
    pub axes: ReduceAxes,
    /// The reduction.
    pub func: ReduceFn,
}

/// An int8 reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ReduceI8Fn {
    /// REDUCE_MAX (input and output share their quantization, as TFLM requires).
    Max,
    /// REDUCE_MIN (likewise).
    Min,
    /// SUM and MEAN (TFLM's `QuantizedMeanOrSum`): each output is
    /// `clamp(MultiplyByQuantizedMultiplier(sum - input_zero_point * n, multiplier, shift)
    /// + output_zero_point)`, the sum wrapping in `i32`; MEAN has `1 / n` folded into the
    /// multiplier by the converter. No reduced element (`n == 0`) gives zeros.
    Requantize {
        /// Input zero point.
        input_zero_point: i32,
        /// Output zero point.
        output_zero_point: i32,
        /// Q0.31 multiplier.
        multiplier: i32,
        /// Its shift (positive: left), in `-31..=31`.
        shift: i32,
    },
}

/// Int8 SUM, MEAN, REDUCE_MAX or REDUCE_MIN over any axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReduceI8 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// The walk.
    pub axes: ReduceAxes,
    /// The reduction.
    pub func: ReduceI8Fn,
}

/// REDUCE_ALL over any axes (bool in and out: logical AND from `true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReduceAll {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// The walk.
    pub axes: ReduceAxes,
}

/// ARG_MAX / ARG_MIN along one axis, the input viewed as `[outer, axis_size, inner]` and the
/// int32 output as `[outer, inner]`. The first extreme wins ties (TFLM compares with a strict
/// `>` / `<`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ArgMinMax {
    /// Input tensor ([`DType::F32`] or [`DType::I8`]).
    pub input: TensorId,
    /// Output tensor (int32 indices).
    pub output: TensorId,
    /// Element type of the input.
    pub input_type: DType,
    /// ARG_MAX (else ARG_MIN).
    pub max: bool,
    /// Product of the axes before the reduced one.
    pub outer: u32,
    /// Size of the reduced axis (at least 1).
    pub axis_size: u32,
    /// Product of the axes after the reduced one.
    pub inner: u32,
}

/// Shape and direction of a CUMSUM: the tensor viewed as `[outer, depth, inner]`, summed
/// along `depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CumSumGeom {
    /// Product of the axes before the summed one.
    pub outer: u32,
    /// Size of the summed axis.
    pub depth: u32,
    /// Product of the axes after the summed one.
    pub inner: u32,
    /// Each output excludes its own input (the first output is 0).
    pub exclusive: bool,
    /// Sum from the end of the axis.
    pub reverse: bool,
}

/// Float CUMSUM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CumSumF32 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (the input's shape).
    pub output: TensorId,
    /// Shape and direction.
    pub geom: CumSumGeom,
}

/// Int8 CUMSUM, TFLM's ADD-style arithmetic: each input `x` becomes
/// `MultiplyByQuantizedMultiplierSmallerThanOneExp((x + input_offset) << left_shift,
/// input_multiplier, input_shift)`, the running sum of those (wrapping in `i32`) is brought to
/// the output with `output_multiplier` / `output_shift`, plus `output_offset`, clamped.
///
/// Like TFLM, the running sum starts at the rescaled `input_offset` (what an input of 0
/// contributes), not at zero, so a non-zero input zero point shifts every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CumSumI8 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (the input's shape).
    pub output: TensorId,
    /// Shape and direction.
    pub geom: CumSumGeom,
    /// Negated input zero point.
    pub input_offset: i32,
    /// Headroom shift applied to every input (20).
    pub left_shift: i32,
    /// Input multiplier (Q0.31).
    pub input_multiplier: i32,
    /// Input shift (`<= 0`).
    pub input_shift: i32,
    /// Output multiplier (Q0.31).
    pub output_multiplier: i32,
    /// Output shift (`<= 0`).
    pub output_shift: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
}
