//! Parameters of the row normalizations: LOG_SOFTMAX and L2_NORMALIZATION, both over the last
//! axis of a tensor viewed as `[outer, depth]`.

use crate::model::TensorId;

/// Float LOG_SOFTMAX: `x - max - log(sum(exp(x - max)))` per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LogSoftmaxF32 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (the input's shape).
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
}

/// Int8 LOG_SOFTMAX (TFLM's `LogSoftmaxQuantized`; output scale 16/256, zero point 127):
/// differences from the row maximum scaled to Q5.26, gemmlowp's `exp` summed in Q12.19, its
/// fixed-point log, and each output `(diff_q5 - log_sum) / 2^22 + 127`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LogSoftmaxI8 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (the input's shape).
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
    /// `input_scale * 2^26` as a Q0.31 multiplier...
    pub input_multiplier: i32,
    /// ...and its left shift (`1..=31`).
    pub input_left_shift: i32,
    /// The inverse of that scaling as a Q0.31 multiplier...
    pub reverse_scaling_divisor: i32,
    /// ...and its right shift (`0..=31`).
    pub reverse_scaling_right_shift: i32,
    /// Differences below this (in input steps) contribute nothing.
    pub diff_min: i32,
}

/// Float L2_NORMALIZATION: `x / max(sqrt(sum(x^2)), 1e-6)` per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct L2NormF32 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (the input's shape).
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
}

/// Int8 L2_NORMALIZATION (TFLM's `reference_integer_ops::L2Normalization`): the row's sum of
/// squared differences from the zero point gives an inverse square root multiplier
/// (`GetInvSqrtQuantizedMultiplierExp`); each output is the difference times it, in steps of
/// 1/128, clamped to int8, with no output zero point added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct L2NormI8 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (the input's shape).
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
    /// Input zero point.
    pub input_zero_point: i32,
}
