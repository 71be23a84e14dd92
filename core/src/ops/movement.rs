//! Parameters of the data-movement operators: generic over the element size, never over the
//! element type, since they only move bytes (int8 data keeps its quantization, which the
//! converter checks).
//!
//! Shapes are padded on the left with 1s to [`MOVE_RANK`] axes, so one kernel serves every
//! rank. Several TFLite operators share one kernel: a [`StridedSlice`] is also SLICE, one
//! output of SPLIT/SPLIT_V/UNPACK and REVERSE_V2; a [`Transpose`] is also SPACE_TO_DEPTH and
//! DEPTH_TO_SPACE; a [`Gather`] is also EMBEDDING_LOOKUP. (SPACE_TO_BATCH_ND and
//! BATCH_TO_SPACE_ND have their own pixel-moving kernels, [`super::SpaceToBatch`].)

use crate::model::{ConstRef, TensorId};
use crate::DType;

/// Number of axes every data-movement shape is padded to.
pub const MOVE_RANK: usize = 6;

/// Permutes the axes of a tensor: output axis `k` is input axis `perm[k]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Transpose {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element (1, 2, 4 or 8).
    pub elem_bytes: u32,
    /// Input shape, padded on the left with 1s.
    pub in_dims: [u32; MOVE_RANK],
    /// The permutation, a rearrangement of `0..MOVE_RANK`.
    pub perm: [u8; MOVE_RANK],
}

/// A strided window of a tensor: `out[o] = in[start + o * stride]` on every axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StridedSlice {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element (1, 2, 4 or 8).
    pub elem_bytes: u32,
    /// Input shape, padded on the left with 1s.
    pub in_dims: [u32; MOVE_RANK],
    /// Output shape, padded on the left with 1s.
    pub out_dims: [u32; MOVE_RANK],
    /// Input index of output index 0, per axis.
    pub start: [u32; MOVE_RANK],
    /// Input step per output step, per axis (negative: backwards).
    pub stride: [i32; MOVE_RANK],
}

/// GATHER (and EMBEDDING_LOOKUP): with `params` viewed as `[batch, outer, axis, inner]` and
/// `indices` as `[batch, coords]`, `out[b, o, c, i] = params[b, o, indices[b, c], i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Gather {
    /// The tensor gathered from.
    pub params: TensorId,
    /// The indices (int32 or int64).
    pub indices: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element of `params` and the output.
    pub elem_bytes: u32,
    /// Type of `indices`: [`DType::I32`] or [`DType::I64`].
    pub index_type: DType,
    /// Product of the `batch_dims` leading axes.
    pub batch: u32,
    /// Product of the axes between the batch axes and the gather axis.
    pub outer: u32,
    /// Size of the gather axis (indices must lie in `0..axis_size`).
    pub axis_size: u32,
    /// Product of the axes after the gather axis (elements per gathered slice).
    pub inner: u32,
    /// Indices per batch.
    pub coords: u32,
    /// Empty, or (EMBEDDING_LOOKUP of an int8 table into float32, TFLM's hybrid path) the
    /// float value of each int8 byte, indexed by the byte as `u8`: the output then holds
    /// `dequant[params byte]` as float32 (4 bytes) per gathered element.
    pub dequant: ConstRef<f32>,
}

/// GATHER_ND: each of the `lookups` index vectors of `depth` components selects a slice of
/// `slice` elements of `params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GatherNd {
    /// The tensor gathered from.
    pub params: TensorId,
    /// The index vectors, `[lookups, depth]` (int32 or int64).
    pub indices: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element of `params` and the output.
    pub elem_bytes: u32,
    /// Type of `indices`: [`DType::I32`] or [`DType::I64`].
    pub index_type: DType,
    /// Number of index vectors.
    pub lookups: u32,
    /// Components per index vector (at most [`MOVE_RANK`]).
    pub depth: u32,
    /// The first `depth` dimensions of `params` (unused entries 1).
    pub dims: [u32; MOVE_RANK],
    /// Elements per selected slice (product of the remaining dimensions).
    pub slice: u32,
}

/// BROADCAST_TO and FILL: `out[o] = in[sum(o[k] * in_strides[k])]`, a stride of 0 repeating
/// the input along that axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BroadcastTo {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Output shape, padded on the left with 1s.
    pub out_dims: [u32; MOVE_RANK],
    /// Input strides (in elements) per output axis.
    pub in_strides: [u32; MOVE_RANK],
}

/// MIRROR_PAD: padding that reflects the tensor at its edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MirrorPad {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Input shape, padded on the left with 1s.
    pub in_dims: [u32; MOVE_RANK],
    /// Elements added before each axis.
    pub before: [u32; MOVE_RANK],
    /// Elements added after each axis.
    pub after: [u32; MOVE_RANK],
    /// SYMMETRIC repeats the edge element, REFLECT does not.
    pub symmetric: bool,
}

/// SELECT_V2 (and SELECT): `out[o] = cond[o] ? a[o] : b[o]` with broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Select {
    /// The condition (bool).
    pub cond: TensorId,
    /// Taken where the condition holds.
    pub a: TensorId,
    /// Taken elsewhere.
    pub b: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element of `a`, `b` and the output.
    pub elem_bytes: u32,
    /// Output shape, padded on the left with 1s.
    pub out_dims: [u32; MOVE_RANK],
    /// Strides (elements) of `cond`, `a` and `b` per output axis; 0 broadcasts.
    pub strides: [[u32; MOVE_RANK]; 3],
}

/// DYNAMIC_UPDATE_SLICE: the output is `operand` with the window at the run-time start
/// indices (clamped so the window fits, as TFLite does) replaced by `update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DynamicUpdateSlice {
    /// The tensor updated.
    pub operand: TensorId,
    /// The values written.
    pub update: TensorId,
    /// Start index per axis (int32 or int64, one per axis of `operand`).
    pub start: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Type of `start`: [`DType::I32`] or [`DType::I64`].
    pub index_type: DType,
    /// Rank of `operand` (entries of `start`).
    pub rank: u32,
    /// Shape of `operand`, padded on the left with 1s.
    pub dims: [u32; MOVE_RANK],
    /// Shape of `update`, padded on the left with 1s.
    pub update_dims: [u32; MOVE_RANK],
}
