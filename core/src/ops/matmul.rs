//! Parameters of BATCH_MATMUL.
//!
//! `output[b, i, j] = sum_k lhs[b, i, k] * rhs[b, k, j]` over up to three broadcast batch axes
//! (TFLM extends both operands to rank 5). The operands stay in their stored layout — `adj_x`
//! stores the left matrices as `[depth, rows]`, `adj_y` (in TFLite's sense, a transposed
//! right operand) the right ones as `[cols, depth]` — because the kernel picks a loop order
//! for which the innermost loop reads contiguous memory in every layout, so it needs no
//! transposed copy and no scratch.

use crate::model::{ConstRef, TensorId};

/// Batch axes a BATCH_MATMUL broadcasts over (TFLM's rank-5 limit minus the matrix axes).
pub const MATMUL_BATCH_AXES: usize = 3;

/// Where a matrix operand lives: an arena tensor, or a constant read in place.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MatrixSource<T> {
    /// An activation tensor.
    Tensor(TensorId),
    /// A constant of the model, in the tensor's own layout.
    Const(ConstRef<T>),
}

/// Shapes, layouts and batch broadcasting of a BATCH_MATMUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MatMulGeom {
    /// Output batch axes, padded on the left with 1s.
    pub batch: [u32; MATMUL_BATCH_AXES],
    /// Elements between consecutive left matrices along each batch axis (0: broadcast).
    pub lhs_step: [u32; MATMUL_BATCH_AXES],
    /// Elements between consecutive right matrices along each batch axis (0: broadcast).
    pub rhs_step: [u32; MATMUL_BATCH_AXES],
    /// Rows of each output matrix.
    pub rows: u32,
    /// Columns of each output matrix.
    pub cols: u32,
    /// Length of each dot product.
    pub depth: u32,
    /// Left matrices are stored `[depth, rows]` (else `[rows, depth]`).
    pub adj_x: bool,
    /// Right matrices are stored `[cols, depth]` (else `[depth, cols]`).
    pub adj_y: bool,
}

/// Float BATCH_MATMUL: each output sums its products in order of `k` from `0.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchMatMulF32 {
    /// Left operand.
    pub lhs: MatrixSource<f32>,
    /// Right operand.
    pub rhs: MatrixSource<f32>,
    /// Output tensor `[batch..., rows, cols]`.
    pub output: TensorId,
    /// Shapes and layouts.
    pub geom: MatMulGeom,
}

/// Int8 BATCH_MATMUL (TFLM's reference with FULLY_CONNECTED's output stage): each output is
/// `clamp(MultiplyByQuantizedMultiplier(sum_k (lhs + lhs_offset) * (rhs + rhs_offset),
/// multiplier, shift) + output_offset, -128, 127)`, the sum wrapping in `i32`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchMatMulI8 {
    /// Left operand.
    pub lhs: MatrixSource<i8>,
    /// Right operand.
    pub rhs: MatrixSource<i8>,
    /// Output tensor `[batch..., rows, cols]`.
    pub output: TensorId,
    /// Shapes and layouts.
    pub geom: MatMulGeom,
    /// Negated zero point of the left operand.
    pub lhs_offset: i32,
    /// Negated zero point of the right operand.
    pub rhs_offset: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// `lhs_scale * rhs_scale / output_scale` as a Q0.31 multiplier...
    pub multiplier: i32,
    /// ...and its shift (positive: left), in `-31..=31`.
    pub shift: i32,
}

/// Int16 (16x8) BATCH_MATMUL (TFLM's `BatchMatMul<int16_t, int64_t>`): zero points 0 (TFLM
/// requires them), each output `clamp(MultiplyByQuantizedMultiplier(sum_k lhs * rhs,
/// multiplier, shift), -32768, 32767)` with the sum in `i64` and TFLM's int64 requantization.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchMatMulI16 {
    /// Left operand.
    pub lhs: MatrixSource<i16>,
    /// Right operand.
    pub rhs: MatrixSource<i16>,
    /// Output tensor `[batch..., rows, cols]`.
    pub output: TensorId,
    /// Shapes and layouts.
    pub geom: MatMulGeom,
    /// `lhs_scale * rhs_scale / output_scale` as a Q0.31 multiplier...
    pub multiplier: i32,
    /// ...and its shift (positive: left), in `-31..=7` (TFLM's int64 requantization).
    pub shift: i32,
}
