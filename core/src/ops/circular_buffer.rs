//! CIRCULAR_BUFFER, TensorFlow Lite Micro's custom operator for strided streaming
//! convolutions: each invocation appends one frame to a buffer of the last `slots` frames
//! (dropping the oldest) and, every `cycles_max`-th invocation only, lets the rest of the model
//! run. The buffer and the countdown live in the model's state region.

use crate::model::TensorId;

/// CIRCULAR_BUFFER (int8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CircularBuffer {
    /// The new frame `[1, 1, width, depth]`.
    pub input: TensorId,
    /// The buffer's contents after the shift `[1, slots, width, depth]`.
    pub output: TensorId,
    /// The buffer's slot in the state region (`slots * frame_bytes` bytes).
    pub buffer: u16,
    /// The countdown's slot in the state region (one little-endian `i32`, starting from
    /// `cycles_max`).
    pub countdown: u16,
    /// Frames the buffer holds (`output.shape[1]`).
    pub slots: u32,
    /// Bytes per frame (`width * depth`).
    pub frame_bytes: u32,
    /// Invocations per run of the rest of the model (at least 1).
    pub cycles_max: i32,
}
