//! SVDF: a rank-limited singular value decomposition filter over a window of past frames
//! (keyword spotting's favourite layer). Its activation state is a variable tensor kept in the
//! model's state region ([`crate::StatePlan`]), not in the arena.

use crate::model::{ConstRef, TensorId};

/// Sizes shared by both SVDF forms (TFLite's names in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SvdfGeometry {
    /// Batch size (`batch_size`).
    pub batches: u32,
    /// Features per input frame (`input_size`).
    pub input_size: u32,
    /// Filters (`num_filters`): `units * rank`.
    pub filters: u32,
    /// Filters summed into one output unit (`rank`).
    pub rank: u32,
    /// Frames each filter remembers (`memory_size`).
    pub memory: u32,
}

impl SvdfGeometry {
    /// Output units per batch (`num_units = num_filters / rank`).
    pub const fn units(&self) -> u32 {
        match self.filters.checked_div(self.rank) {
            Some(units) => units,
            None => 0,
        }
    }

    /// Elements of the activation state: `batches * filters * memory`.
    pub const fn state_elements(&self) -> u64 {
        self.batches as u64 * self.filters as u64 * self.memory as u64
    }

    /// Multiply-accumulates per inference: the feature matmul and the time dot products.
    pub const fn macs(&self) -> u64 {
        self.batches as u64 * self.filters as u64 * (self.input_size as u64 + self.memory as u64)
    }
}

/// Int8 SVDF, TFLite Micro's integer path: int8 input, output and feature weights, int32
/// bias, time weights and activation state of type `T` (int16 in [`SvdfI8`], TFLM's usual
/// form; int8 in [`SvdfI8S8`]), two requantizations (feature dot product into the state's
/// scale, then the time-filtered sum into the output's).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SvdfInt<T> {
    /// Input `[batches, input_size]`.
    pub input: TensorId,
    /// Output `[batches, units]`.
    pub output: TensorId,
    /// The activation state's slot in the model's state region: `T`
    /// `[batches, filters * memory]`, each filter's `memory` frames oldest first.
    pub state: u16,
    /// Sizes.
    pub geom: SvdfGeometry,
    /// Feature weights `[filters, input_size]`.
    pub weights_feature: ConstRef<i8>,
    /// Time weights `[filters, memory]`.
    pub weights_time: ConstRef<T>,
    /// Bias per unit (empty for none).
    pub bias: ConstRef<i32>,
    /// Input zero point (subtracted).
    pub input_zero_point: i32,
    /// Activation state zero point (added to each new frame, subtracted in the time filter).
    pub state_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q0.31 multiplier of `input_scale * weights_feature_scale / state_scale`.
    pub multiplier_1: i32,
    /// Its shift (positive: left).
    pub shift_1: i32,
    /// Q0.31 multiplier of `state_scale * weights_time_scale / output_scale`.
    pub multiplier_2: i32,
    /// Its shift (positive: left).
    pub shift_2: i32,
}

/// Int8 SVDF with int16 time weights and activation state.
pub type SvdfI8 = SvdfInt<i16>;

/// Int8 SVDF with int8 time weights and activation state (TFLM's `EvalInt8SvdfReference`).
pub type SvdfI8S8 = SvdfInt<i8>;

/// Float SVDF.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SvdfF32 {
    /// Input `[batches, input_size]`.
    pub input: TensorId,
    /// Output `[batches, units]`.
    pub output: TensorId,
    /// The activation state's slot in the model's state region: float
    /// `[batches, filters * memory]`.
    pub state: u16,
    /// Sizes.
    pub geom: SvdfGeometry,
    /// Feature weights `[filters, input_size]`.
    pub weights_feature: ConstRef<f32>,
    /// Time weights `[filters, memory]`.
    pub weights_time: ConstRef<f32>,
    /// Bias per unit (empty for none).
    pub bias: ConstRef<f32>,
    /// Lower clamp of the fused activation (`-inf` for none).
    pub act_min: f32,
    /// Upper clamp of the fused activation (`inf` for none).
    pub act_max: f32,
}
