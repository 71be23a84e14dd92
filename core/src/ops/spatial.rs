//! Parameters of spatial operators on NHWC images: L2_POOL_2D, RESIZE_BILINEAR,
//! SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND.

use super::PoolGeometry;
use crate::model::{ConstRef, TensorId};

/// Float L2_POOL_2D: `sqrt(sum(x^2) / taps)` over each window's taps inside the image, then
/// the fused activation's clamp.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct L2PoolF32 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Window and shapes.
    pub geom: PoolGeometry,
    /// Lower clamp.
    pub act_min: f32,
    /// Upper clamp.
    pub act_max: f32,
}

/// Shapes and source taps of a RESIZE_BILINEAR, every coordinate resolved by the converter
/// with TFLM's arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BilinearGeom {
    /// Batch size.
    pub batches: u32,
    /// Input height.
    pub in_h: u32,
    /// Input width.
    pub in_w: u32,
    /// Channels.
    pub channels: u32,
    /// Output height.
    pub out_h: u32,
    /// Output width.
    pub out_w: u32,
    /// The two input rows `(y0, y1)` of each output row: `2 * out_h` entries, each `< in_h`.
    pub rows: ConstRef<u32>,
    /// The two input columns `(x0, x1)` of each output column: `2 * out_w` entries, each
    /// `< in_w`.
    pub cols: ConstRef<u32>,
}

/// Float RESIZE_BILINEAR (TFLM `reference_ops::ResizeBilinear`): with `dy`, `dx` the
/// fractions below, each output is `v00 (1 - dy)(1 - dx) + v10 dy (1 - dx) + v01 (1 - dy) dx
/// + v11 dy dx`, evaluated left to right in single precision.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ResizeBilinearF32 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes and taps.
    pub geom: BilinearGeom,
    /// `input_y - y0` per output row (negative where half-pixel centres fall before row 0).
    pub row_frac: ConstRef<f32>,
    /// `input_x - x0` per output column.
    pub col_frac: ConstRef<f32>,
}

/// Int8 RESIZE_BILINEAR (TFLM `reference_ops::ResizeBilinearInteger`): weights in steps of
/// 1/1024, the four products summed in 64 bits, rounded half away from zero at `2^20` and
/// narrowed to int8 (TFLM's `static_cast`, no clamp).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ResizeBilinearI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes and taps.
    pub geom: BilinearGeom,
    /// `input_y - 1024 * y0` per output row, `input_y` in steps of 1/1024.
    pub row_frac: ConstRef<i32>,
    /// `input_x - 1024 * x0` per output column.
    pub col_frac: ConstRef<i32>,
}

/// SPACE_TO_BATCH_ND on a `[batch, height, width, depth]` image (3-D inputs as
/// `[batch, height, 1, depth]` with a block width of 1): output batch `b` reads input batch
/// `b % in_batch` at the block offset `b / in_batch`; positions in the padding are filled
/// with `pad_byte` (TFLM `memset`s them with the output zero point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SpaceToBatch {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Input `[batch, height, width, depth]`.
    pub in_dims: [u32; 4],
    /// Output `[batch, height, width, depth]`.
    pub out_dims: [u32; 4],
    /// Block height and width.
    pub block: [u32; 2],
    /// Padding rows above the input.
    pub pad_top: u32,
    /// Padding columns left of the input.
    pub pad_left: u32,
    /// The byte every padded element is made of.
    pub pad_byte: u8,
}

/// BATCH_TO_SPACE_ND, the inverse of [`SpaceToBatch`] with crops instead of padding: input
/// batch `b` lands in output batch `b % out_batch` at the block offset `b / out_batch`,
/// shifted up and left by the crops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchToSpace {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Input `[batch, height, width, depth]`.
    pub in_dims: [u32; 4],
    /// Output `[batch, height, width, depth]`.
    pub out_dims: [u32; 4],
    /// Block height and width.
    pub block: [u32; 2],
    /// Rows cropped from the top.
    pub crop_top: u32,
    /// Columns cropped from the left.
    pub crop_left: u32,
}
