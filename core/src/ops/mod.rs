//! Operator parameters, fully resolved at conversion time.
//!
//! Each variant of [`Op`] carries what its kernel needs and nothing to compute: tensor ids,
//! geometry, constant references, requantization multipliers and shifts, clamp ranges.
//! Integer parameters follow TFLite's conventions: `input_offset` is the *negated* input zero
//! point, `output_offset` the output zero point, `act_min..=act_max` the fused activation's
//! clamp range in the output's quantized domain.

use crate::model::{ConstRef, TensorId};

mod elementwise;
mod movement;
pub use elementwise::*;
pub use movement::*;
mod reduce;
pub use reduce::*;
mod matmul;
pub use matmul::*;
mod normalize;
pub use normalize::*;
mod spatial;
pub use spatial::*;
mod detection;
pub use detection::*;
mod svdf;
pub use svdf::*;
mod signal;
pub use signal::*;
mod variable;
pub use variable::*;
mod circular_buffer;
pub use circular_buffer::*;
mod lstm;
pub use lstm::*;

/// Geometry shared by 2-D convolutions (NHWC activations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConvGeometry {
    /// Batch size.
    pub batches: u32,
    /// Input height.
    pub in_h: u32,
    /// Input width.
    pub in_w: u32,
    /// Input channels.
    pub in_c: u32,
    /// Output height.
    pub out_h: u32,
    /// Output width.
    pub out_w: u32,
    /// Output channels.
    pub out_c: u32,
    /// Kernel height.
    pub k_h: u32,
    /// Kernel width.
    pub k_w: u32,
    /// Vertical stride.
    pub stride_h: u32,
    /// Horizontal stride.
    pub stride_w: u32,
    /// Vertical dilation.
    pub dilation_h: u32,
    /// Horizontal dilation.
    pub dilation_w: u32,
    /// Rows of implicit zero padding above the input.
    pub pad_top: u32,
    /// Columns of implicit zero padding left of the input.
    pub pad_left: u32,
}

impl ConvGeometry {
    /// Multiply-accumulates per output element for a dense convolution over `in_c_per_group`.
    pub const fn macs_per_output(&self, in_c_per_group: u32) -> u64 {
        self.k_h as u64 * self.k_w as u64 * in_c_per_group as u64
    }

    /// Number of output elements.
    pub const fn output_elements(&self) -> u64 {
        self.batches as u64 * self.out_h as u64 * self.out_w as u64 * self.out_c as u64
    }

    /// Number of input elements.
    pub const fn input_elements(&self) -> u64 {
        self.batches as u64 * self.in_h as u64 * self.in_w as u64 * self.in_c as u64
    }
}

/// Int8 quantized output stage shared by conv, depthwise conv and fully connected layers.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Requant {
    /// Per-output-channel (or a single, per-tensor) Q0.31 multipliers.
    pub multiplier: ConstRef<i32>,
    /// Shifts matching `multiplier` (positive: left).
    pub shift: ConstRef<i32>,
    /// Negated input zero point.
    pub input_offset: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp (fused activation), quantized.
    pub act_min: i32,
    /// Upper clamp (fused activation), quantized.
    pub act_max: i32,
}

/// Int8 2-D convolution, weights OHWI with per-channel (or per-tensor) scales.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Conv2dI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Number of groups (`in_c / groups` input channels per filter); 1 for a dense conv.
    pub groups: u32,
    /// Weights, `[out_c, k_h, k_w, in_c / groups]`.
    pub weights: ConstRef<i8>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<i32>,
    /// Output stage.
    pub rq: Requant,
}

/// Int8 2-D convolution whose constants the converter also laid out for the host's SIMD
/// kernels (`ferrite_kernels::arch`): the host asks for it; firmware code never contains it.
///
/// `conv` stays complete and valid, so the portable kernel runs it unchanged. The packed form
/// feeds activations as unsigned bytes `x + 128` into 4-wide byte dot products (x86 VNNI
/// `vpdpbusd`, or 16-bit multiply-adds where that is missing), so the input offset moves into
/// the bias: `folded_bias[oc] = bias[oc] + (input_offset - 128) * sum(weights[oc])`, and
/// padding taps read the input zero point. Only dense (`groups == 1`) convolutions are packed.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Conv2dI8Packed {
    /// The convolution as the portable kernel runs it.
    pub conv: Conv2dI8,
    /// Weights in blocks of 16 output channels: `[ceil(out_c / 16)][k_h * R][16][4]` with
    /// each kernel row's `k_w * in_c` taps, in `(kx, ic)` order, zero padded to `4 * R` (`R =
    /// ceil(k_w * in_c / 4)`), and zeros past `out_c`.
    pub packed_weights: ConstRef<i8>,
    /// The folded bias, `ceil(out_c / 16) * 16` entries (zeros past `out_c`).
    pub folded_bias: ConstRef<i32>,
}

/// Float 2-D convolution.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Conv2dF32 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Number of groups.
    pub groups: u32,
    /// Weights, `[out_c, k_h, k_w, in_c / groups]`.
    pub weights: ConstRef<f32>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<f32>,
    /// Lower clamp of the fused activation.
    pub act_min: f32,
    /// Upper clamp of the fused activation.
    pub act_max: f32,
}

/// Float 2-D convolution whose weights the converter also laid out for the host's SIMD kernels
/// (`ferrite_kernels::arch`), as [`Conv2dI8Packed`] is for int8: host runs only.
///
/// `conv` stays complete and valid, so the portable kernel runs it unchanged. Only dense
/// (`groups == 1`) convolutions with finite weights are packed.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Conv2dF32Packed {
    /// The convolution as the portable kernel runs it.
    pub conv: Conv2dF32,
    /// Weights in blocks of 16 output channels: `[ceil(out_c / 16)][K][16]` with
    /// `K = k_h * k_w * in_c` in `(ky, kx, ic)` order, zero past `out_c`.
    pub packed_weights: ConstRef<f32>,
}

/// Int8 depthwise convolution; `out_c == in_c * depth_multiplier`, weights `[1, k_h, k_w, out_c]`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseConv2dI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Output channels per input channel.
    pub depth_multiplier: u32,
    /// Weights, `[1, k_h, k_w, out_c]`.
    pub weights: ConstRef<i8>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<i32>,
    /// Output stage.
    pub rq: Requant,
}

/// Int8 DEPTHWISE_CONV_2D run in place (depth multiplier 1, batch 1): the output overwrites
/// the bytes of its input, which no later layer reads, so the two never need the arena at
/// once. Row by row, the input rows the current output row reads are kept in a scratch
/// window (`(k_h - 1) * dilation_h + 1` input rows, loaded as each row enters it), the row is
/// computed by the reference kernel into a one-row scratch and copied over the input. The
/// converter takes this form only where each input row enters the window before any output
/// row overwrites it, so every output equals [`DepthwiseConv2dI8`]'s.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseInPlaceI8 {
    /// The convolution; its output tensor starts at its input tensor's arena offset.
    pub dw: DepthwiseConv2dI8,
    /// Arena offset of the scratch: the window of input rows, then one output row.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// Float depthwise convolution.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseConv2dF32 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Output channels per input channel.
    pub depth_multiplier: u32,
    /// Weights, `[1, k_h, k_w, out_c]`.
    pub weights: ConstRef<f32>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<f32>,
    /// Lower clamp of the fused activation.
    pub act_min: f32,
    /// Upper clamp of the fused activation.
    pub act_max: f32,
}

/// Int8 fully connected layer: `out[b, o] = sum_i w[o, i] * in[b, i] + bias[o]`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FullyConnectedI8 {
    /// Input tensor, viewed as `[batches, in_depth]`.
    pub input: TensorId,
    /// Output tensor, `[batches, out_depth]`.
    pub output: TensorId,
    /// Rows of the input.
    pub batches: u32,
    /// Input features (accumulation depth).
    pub in_depth: u32,
    /// Output features.
    pub out_depth: u32,
    /// Weights, `[out_depth, in_depth]`.
    pub weights: ConstRef<i8>,
    /// Negated weight zero point (0 for symmetric weights).
    pub weights_offset: i32,
    /// Bias per output feature (empty for none).
    pub bias: ConstRef<i32>,
    /// Output stage (`multiplier` has 1 or `out_depth` entries).
    pub rq: Requant,
}

/// Float fully connected layer.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FullyConnectedF32 {
    /// Input tensor, viewed as `[batches, in_depth]`.
    pub input: TensorId,
    /// Output tensor, `[batches, out_depth]`.
    pub output: TensorId,
    /// Rows of the input.
    pub batches: u32,
    /// Input features.
    pub in_depth: u32,
    /// Output features.
    pub out_depth: u32,
    /// Weights, `[out_depth, in_depth]`.
    pub weights: ConstRef<f32>,
    /// Bias per output feature (empty for none).
    pub bias: ConstRef<f32>,
    /// Lower clamp of the fused activation.
    pub act_min: f32,
    /// Upper clamp of the fused activation.
    pub act_max: f32,
}

/// Which reduction a pooling layer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum PoolKind {
    /// Maximum over the window.
    Max,
    /// Mean over the part of the window inside the input.
    Average,
}

/// Geometry of a 2-D pooling layer (NHWC, channels preserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PoolGeometry {
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
    /// Window height.
    pub filter_h: u32,
    /// Window width.
    pub filter_w: u32,
    /// Vertical stride.
    pub stride_h: u32,
    /// Horizontal stride.
    pub stride_w: u32,
    /// Padding rows above.
    pub pad_top: u32,
    /// Padding columns left.
    pub pad_left: u32,
}

/// Int8 max or average pooling (input and output share quantization).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PoolI8 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Max or average.
    pub kind: PoolKind,
    /// Window and shapes.
    pub geom: PoolGeometry,
    /// Lower clamp.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
}

/// Float max or average pooling.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PoolF32 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Max or average.
    pub kind: PoolKind,
    /// Window and shapes.
    pub geom: PoolGeometry,
    /// Lower clamp.
    pub act_min: f32,
    /// Upper clamp.
    pub act_max: f32,
}

/// Int8 softmax over the last axis (TFLite's fixed-point algorithm).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SoftmaxI8 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor (scale 1/256, zero point -128).
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
    /// `beta * input_scale` as a Q0.31 multiplier...
    pub input_multiplier: i32,
    /// ...and its left shift.
    pub input_left_shift: i32,
    /// Differences below this (in input steps) contribute nothing.
    pub diff_min: i32,
}

/// Float softmax over the last axis.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SoftmaxF32 {
    /// Input tensor.
    pub input: TensorId,
    /// Output tensor.
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
    /// Inverse temperature.
    pub beta: f32,
}

/// Number of axes of a [`Broadcast`]: every tensor rank Ferrite has, so any two broadcastable
/// shapes fit (TFLM's broadcasting binary operators take up to 6 axes, some 8).
pub const BROADCAST_RANK: usize = crate::model::MAX_RANK;

/// How a binary elementwise op maps output positions to its two inputs (row-major, the
/// innermost axis last).
///
/// Strides are in elements; a stride of 0 repeats the input along that axis. The converter
/// merges neighbouring axes that broadcast alike, so unused leading axes have extent 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Broadcast {
    /// Output shape, padded on the left with 1s.
    pub out_dims: [u32; BROADCAST_RANK],
    /// Strides of the first input per output axis.
    pub a_strides: [u32; BROADCAST_RANK],
    /// Strides of the second input per output axis.
    pub b_strides: [u32; BROADCAST_RANK],
}

/// Int8 addition or subtraction (TFLite's rescale-to-common-scale algorithm; SUB differs
/// from ADD only in subtracting the rescaled second operand).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AddI8 {
    /// `a - b` instead of `a + b`.
    pub subtract: bool,
    /// First input.
    pub a: TensorId,
    /// Second input.
    pub b: TensorId,
    /// Output.
    pub output: TensorId,
    /// Number of output elements.
    pub len: u32,
    /// `None` when both inputs have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// Negated zero point of `a`.
    pub a_offset: i32,
    /// Negated zero point of `b`.
    pub b_offset: i32,
    /// Headroom shift applied to both inputs (20 for int8).
    pub left_shift: i32,
    /// Multiplier of `a`.
    pub a_multiplier: i32,
    /// Shift of `a` (<= 0).
    pub a_shift: i32,
    /// Multiplier of `b`.
    pub b_multiplier: i32,
    /// Shift of `b` (<= 0).
    pub b_shift: i32,
    /// Output multiplier.
    pub out_multiplier: i32,
    /// Output shift (<= 0).
    pub out_shift: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
    /// With `tables`, arena offset of the kernel's scratch ([`AddI8::TABLE_BYTES`]), which
    /// the portable kernel fills with two tables of each int8 input value's rescaled term
    /// (doubled, negated for `b` of a SUB) and then spends one high multiply per element
    /// instead of three (the converter asks for it on the Cortex-M targets for layers long
    /// enough to repay the 512 entries).
    pub scratch_offset: u32,
    /// Whether the layer has the table scratch. (A flag and a fixed size rather than a size
    /// field: `AddI8` is the largest operator, and a 32-bit size made every layer-table entry
    /// of every model 8 bytes longer.)
    pub tables: bool,
}

impl AddI8 {
    /// Bytes of the input tables' scratch: 256 `i32` per input.
    pub const TABLE_BYTES: u32 = 2 * 256 * 4;
}

/// Int8 multiplication.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MulI8 {
    /// First input.
    pub a: TensorId,
    /// Second input.
    pub b: TensorId,
    /// Output.
    pub output: TensorId,
    /// Number of output elements.
    pub len: u32,
    /// `None` when both inputs have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// Negated zero point of `a`.
    pub a_offset: i32,
    /// Negated zero point of `b`.
    pub b_offset: i32,
    /// Output multiplier.
    pub out_multiplier: i32,
    /// Output shift.
    pub out_shift: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
}

/// Which float binary operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum BinaryKind {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b` (DIV)
    Div,
    /// `a > b ? a : b` (MAXIMUM; NaN only when `b` is NaN, as TFLM)
    Maximum,
    /// `a < b ? a : b` (MINIMUM)
    Minimum,
    /// `(a - b) * (a - b)` (SQUARED_DIFFERENCE)
    SquaredDifference,
    /// `floor(a / b)`, the quotient in `f64` (FLOOR_DIV; a zero divisor fails the layer)
    FloorDiv,
    /// `fmod(a, b)` moved to `b`'s sign (FLOOR_MOD)
    FloorMod,
    /// `a >= 0 ? a : a * b` (PRELU, `b` the alpha)
    Prelu,
}

/// Float binary elementwise operation with a fused clamp (the whole `f32` range, or infinite
/// bounds for the operators TFLM does not clamp).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BinaryF32 {
    /// First input.
    pub a: TensorId,
    /// Second input.
    pub b: TensorId,
    /// Output.
    pub output: TensorId,
    /// Which operation.
    pub kind: BinaryKind,
    /// Number of output elements.
    pub len: u32,
    /// `None` when both inputs have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// Lower clamp.
    pub act_min: f32,
    /// Upper clamp.
    pub act_max: f32,
}

/// Concatenation along one axis, as byte copies (inputs share the output's quantization).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Concat {
    /// Input tensor ids (as `u16`).
    pub inputs: ConstRef<u16>,
    /// Bytes each input contributes per outer step, parallel to `inputs`.
    pub chunk_bytes: ConstRef<u32>,
    /// Output.
    pub output: TensorId,
    /// Product of the dimensions before the axis.
    pub outer: u32,
}

/// Constant padding of a tensor of up to 4 dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Pad {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Input shape, padded on the left to rank 4.
    pub in_dims: [u32; 4],
    /// Elements added before each axis.
    pub before: [u32; 4],
    /// Elements added after each axis.
    pub after: [u32; 4],
    /// The padding element's bytes (little endian; the low `elem_bytes` are used).
    pub value: [u8; 4],
}

/// A byte copy (RESHAPE when the planner could not alias input and output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Copy {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
}

/// Int8 mean over a contiguous block of axes: the input is `[outer, reduced, inner]`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MeanI8 {
    /// Input.
    pub input: TensorId,
    /// Output, `[outer, inner]` elements.
    pub output: TensorId,
    /// Product of the axes before the reduced ones.
    pub outer: u32,
    /// Product of the reduced axes.
    pub reduced: u32,
    /// Product of the axes after the reduced ones.
    pub inner: u32,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q0.31 multiplier taking `sum - input_zero_point * reduced` to the output scale:
    /// `QuantizeMultiplier(input_scale / output_scale)` with `1 / reduced` folded in the way
    /// TFLM's `QuantizedMeanOrSum` folds it (see `ferrite_kernels::ops::mean`).
    pub multiplier: i32,
    /// Exponent of `multiplier` (positive: left shift), in `-31..=31`.
    pub shift: i32,
}

/// Float mean over a contiguous block of axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MeanF32 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Product of the axes before the reduced ones.
    pub outer: u32,
    /// Product of the reduced axes.
    pub reduced: u32,
    /// Product of the axes after the reduced ones.
    pub inner: u32,
}

/// Any int8 → int8 elementwise function, as a 256-entry table computed by the converter
/// from TFLite's reference arithmetic (LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU, RELU6,
/// requantizing QUANTIZE, ...). Exact by construction and one load per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LutI8 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// `table[x as u8]` is the output for input `x`.
    pub table: ConstRef<i8>,
}

/// Int8 → f32 DEQUANTIZE as a 256-entry table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DequantizeI8 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// `table[x as u8]` is the output for input `x`.
    pub table: ConstRef<f32>,
}

/// f32 → int16 QUANTIZE: [`QuantizeF32`] clamped to the int16 range.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QuantizeF32I16 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Output scale.
    pub scale: f32,
    /// Output zero point.
    pub zero_point: i32,
}

/// int16 → f32 DEQUANTIZE: `(x - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DequantizeI16 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Input scale.
    pub scale: f32,
    /// Input zero point.
    pub zero_point: i32,
}

/// f32 → int8 QUANTIZE: `clamp(round(x / scale) + zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QuantizeF32 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Output scale.
    pub scale: f32,
    /// Output zero point.
    pub zero_point: i32,
}

/// Which float elementwise function.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UnaryKind {
    /// `max(x, 0)`
    Relu,
    /// `clamp(x, 0, 6)`
    Relu6,
    /// `clamp(x, -1, 1)`
    ReluN1To1,
    /// `1 / (1 + exp(-x))`
    Logistic,
    /// `tanh(x)`
    Tanh,
    /// `x * relu6(x + 3) / 6`
    HardSwish,
    /// `x` if positive, else `alpha * x`
    LeakyRelu(f32),
    /// `|x|` (ABS)
    Abs,
    /// `-x` (NEG)
    Neg,
    /// `sqrt(x)` (SQRT)
    Sqrt,
    /// `1 / sqrt(x)` (RSQRT)
    Rsqrt,
    /// `x * x` (SQUARE)
    Square,
    /// `exp(x)` (EXP)
    Exp,
    /// `log(x)` (LOG)
    Log,
    /// `sin(x)` (SIN)
    Sin,
    /// `cos(x)` (COS)
    Cos,
    /// `floor(x)` (FLOOR)
    Floor,
    /// `ceil(x)` (CEIL)
    Ceil,
    /// `x` rounded half to even (ROUND)
    Round,
    /// `x < 0 ? expm1(x) : x` (ELU)
    Elu,
}

/// Float elementwise function.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UnaryF32 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Which function.
    pub kind: UnaryKind,
}

/// Copies constant bytes into an arena tensor, for operators whose kernels read all their
/// operands from the arena (a constant operand of ADD, MUL or CONCATENATION, for instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LoadConst {
    /// The constant's bytes.
    pub data: ConstRef<u8>,
    /// The arena tensor to fill.
    pub output: TensorId,
}

/// Int8 transposed convolution (TRANSPOSE_CONV), weights `[out_c, k_h, k_w, in_c]` with
/// per-channel (or per-tensor) scales.
///
/// In `geom`, `in_*` describe the op's input (the smaller map) and `out_*` its output; the
/// padding is what TFLM computes for the *forward* convolution from the output to the input,
/// so output position `o` receives input position `i` through filter tap `k` when
/// `o == i * stride + k - pad`. Dilation is always 1.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TransposeConv2dI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides and padding (dilations 1).
    pub geom: ConvGeometry,
    /// Weights, `[out_c, k_h, k_w, in_c]`.
    pub weights: ConstRef<i8>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<i32>,
    /// Output stage.
    pub rq: Requant,
}

/// Float transposed convolution (TRANSPOSE_CONV); see [`TransposeConv2dI8`] for the geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TransposeConv2dF32 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides and padding (dilations 1).
    pub geom: ConvGeometry,
    /// Weights, `[out_c, k_h, k_w, in_c]`.
    pub weights: ConstRef<f32>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<f32>,
    /// Lower clamp of the fused activation.
    pub act_min: f32,
    /// Upper clamp of the fused activation.
    pub act_max: f32,
}

/// 16x8 CONV_2D: int16 activations (zero point 0), int8 per-channel weights (OHWI), as TFLM's
/// int16 `ConvPerChannel`.
///
/// TFLM picks the accumulator from the bias tensor's type: an int64 bias (what the 16x8
/// converter writes), or none, accumulates in int64 and requantizes with the int64
/// `MultiplyByQuantizedMultiplier` (a 16-bit reduced multiplier, one rounding); an int32 bias
/// accumulates in a wrapping int32 and requantizes as int8 layers do (two roundings). The
/// bias is stored widened to int64 either way; `acc32` says which arithmetic applies.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Conv2dI16 {
    /// Input tensor (NHWC, int16).
    pub input: TensorId,
    /// Output tensor (NHWC, int16).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Number of groups (`in_c / groups` input channels per filter); 1 for a dense conv.
    pub groups: u32,
    /// Weights, `[out_c, k_h, k_w, in_c / groups]`.
    pub weights: ConstRef<i8>,
    /// Bias per output channel, widened to int64 (empty for none).
    pub bias: ConstRef<i64>,
    /// TFLM's int32-accumulator path (an int32 bias) instead of the int64 one.
    pub acc32: bool,
    /// Output stage (both offsets 0: 16x8 tensors are symmetric).
    pub rq: Requant,
}

/// 16x8 DEPTHWISE_CONV_2D: int16 activations, int8 per-channel weights `[1, k_h, k_w, out_c]`,
/// int64 accumulator and bias (TFLM's int16 `DepthwiseConvPerChannel`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseConv2dI16 {
    /// Input tensor (NHWC, int16).
    pub input: TensorId,
    /// Output tensor (NHWC, int16).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Output channels per input channel.
    pub depth_multiplier: u32,
    /// Weights, `[1, k_h, k_w, out_c]`.
    pub weights: ConstRef<i8>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<i64>,
    /// Output stage (both offsets 0).
    pub rq: Requant,
}

/// 16x8 FULLY_CONNECTED: int16 activations, int8 weights, int64 accumulator and bias (TFLM's
/// int16 `FullyConnected` / `FullyConnectedPerChannel`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FullyConnectedI16 {
    /// Input tensor, viewed as `[batches, in_depth]`.
    pub input: TensorId,
    /// Output tensor, `[batches, out_depth]`.
    pub output: TensorId,
    /// Rows of the input.
    pub batches: u32,
    /// Input features (accumulation depth).
    pub in_depth: u32,
    /// Output features.
    pub out_depth: u32,
    /// Weights, `[out_depth, in_depth]`.
    pub weights: ConstRef<i8>,
    /// Negated weight zero point (per-tensor weights only; 0 for symmetric weights).
    pub weights_offset: i32,
    /// Bias per output feature (empty for none).
    pub bias: ConstRef<i64>,
    /// Output stage (`multiplier` has 1 or `out_depth` entries; both offsets 0).
    pub rq: Requant,
}

/// 16x8 TRANSPOSE_CONV: int16 activations, int8 per-channel weights `[out_c, k_h, k_w, in_c]`,
/// int64 accumulator and bias (an int16 bias is widened at conversion, as TFLM widens it at
/// run time). Geometry as in [`TransposeConv2dI8`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TransposeConv2dI16 {
    /// Input tensor (NHWC, int16).
    pub input: TensorId,
    /// Output tensor (NHWC, int16).
    pub output: TensorId,
    /// Shapes, strides and padding (dilations 1).
    pub geom: ConvGeometry,
    /// Weights, `[out_c, k_h, k_w, in_c]`.
    pub weights: ConstRef<i8>,
    /// Bias per output channel (empty for none).
    pub bias: ConstRef<i64>,
    /// Output stage (both offsets 0).
    pub rq: Requant,
}

/// RESIZE_NEAREST_NEIGHBOR as row and column gathers (any element type, no requantization).
///
/// The converter evaluates TFLM's `GetNearestNeighbor` (its float arithmetic, `align_corners`
/// and `half_pixel_centers`) once per output row and column, so the device only copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ResizeNearest {
    /// Input, `[batches, in_h, in_w, channels]`.
    pub input: TensorId,
    /// Output, `[batches, out_h, out_w, channels]`.
    pub output: TensorId,
    /// Bytes per element.
    pub elem_bytes: u32,
    /// Batch size.
    pub batches: u32,
    /// Input height.
    pub in_h: u32,
    /// Input width.
    pub in_w: u32,
    /// Channels.
    pub channels: u32,
    /// Input row read by each output row (`out_h` entries, each `< in_h`).
    pub src_rows: ConstRef<u32>,
    /// Input column read by each output column (`out_w` entries, each `< in_w`).
    pub src_cols: ConstRef<u32>,
}

/// Per-output-channel output stage of the DSP kernels, packed as five words so a kernel
/// loads a channel's parameters with one multiple-load:
///
/// `ssat8((fix(smmulr(acc << lshift, multiplier)) +sat round) >> rshift)`
///
/// where `acc` starts at `bias` (the layer's bias with `input_offset * sum(w)` folded in) and
/// `round` is `(1 << rshift) >> 1` plus `zero_point << rshift`. That equals TFLite's
/// `MultiplyByQuantizedMultiplier` (double rounding) plus the zero point and the clamp:
///
/// - `smmulr(2a, m) = floor((2am + 2^31) / 2^32)` is exactly gemmlowp's
///   `SaturatingRoundingDoublingHighMul(a, m)` while `|2a| < 2^31`, which the converter checks
///   from the weights before choosing these kernels;
/// - `(v + half) >> rshift` rounds ties up where `RoundingDivideByPOT` rounds them away from
///   zero, so they differ only for negative `v`. With [`ChannelQuant::ROUND_TIES_AWAY`] set in
///   the `lshift` word, `fix(v) = v + (v >> 31)` (one instruction) makes them equal for every
///   `v` when `rshift >= 1`. Without it `fix(v) = v`, exact when the output zero point is -128
///   and the clamp is the whole int8 range (no activation, or a ReLU/ReLU6 whose bounds
///   saturate, as TFLite's converter produces): negative `v` then clamps to -128 either way.
/// - `+sat` saturates, so a `v` near the int32 limits cannot wrap. With
///   [`ChannelQuant::EXACT_ADD`] set the converter has proved `|v| + |round| < 2^31`, and the
///   add may wrap: the GEMM kernels then fold it into the high multiply (`SMMLAR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChannelQuant {
    /// Bias with the input offset folded in.
    pub bias: i32,
    /// Q0.31 multiplier.
    pub multiplier: i32,
    /// `max(shift, 0) + 1`: left shift applied before the high multiply (bits 0..5; 0 when the
    /// weights are pre-shifted), plus the flags [`ChannelQuant::ROUND_TIES_AWAY`] and
    /// [`ChannelQuant::EXACT_ADD`] when set.
    pub lshift: i32,
    /// `max(-shift, 0)`: rounding right shift after it.
    pub rshift: i32,
    /// `(1 << rshift) >> 1` plus `zero_point << rshift` (the zero point, added before the
    /// shift).
    pub round: i32,
}

impl ChannelQuant {
    /// Words per channel in a packed `[i32]` array.
    pub const WORDS: usize = 5;

    /// The packed words.
    pub const fn to_words(self) -> [i32; 5] {
        [
            self.bias,
            self.multiplier,
            self.lshift,
            self.rshift,
            self.round,
        ]
    }

    /// Flag in the `lshift` word: round negative ties away from zero (see the type's
    /// documentation). Register-specified shifts read only a register's low byte, so the
    /// kernels can shift by the word with the flag set.
    pub const ROUND_TIES_AWAY: i32 = 1 << 8;

    /// Flag in the `lshift` word: `v + round` cannot overflow (see the type's
    /// documentation), so the add needs no saturation.
    pub const EXACT_ADD: i32 = 1 << 9;

    /// Both flags: the bits of the `lshift` word above the shift.
    pub const FLAGS: i32 = Self::ROUND_TIES_AWAY | Self::EXACT_ADD;

    /// The left shift before the high multiply.
    pub const fn left_shift(&self) -> i32 {
        self.lshift & 0xff
    }

    /// Whether negative ties round away from zero ([`ChannelQuant::ROUND_TIES_AWAY`]).
    pub const fn rounds_ties_away(&self) -> bool {
        self.lshift & Self::ROUND_TIES_AWAY != 0
    }

    /// The output stage as the DSP kernels compute it (see the type's documentation).
    #[inline]
    pub fn finish(&self, acc: i32) -> i8 {
        self.finish_with(acc, crate::fixed::smmulr)
    }

    /// [`ChannelQuant::finish`] with the rounded high multiply given: a kernel passes one
    /// equal to [`crate::fixed::smmulr`] that is cheaper on its core (ARMv6-M has no 64-bit
    /// multiply instruction).
    #[inline(always)]
    pub fn finish_with(&self, acc: i32, smmulr: impl Fn(i32, i32) -> i32) -> i8 {
        let v = smmulr(acc.wrapping_shl(self.left_shift() as u32), self.multiplier);
        let v = if self.rounds_ties_away() {
            v.wrapping_add(v >> 31)
        } else {
            v
        };
        let v = if self.lshift & Self::EXACT_ADD != 0 {
            v.wrapping_add(self.round)
        } else {
            v.saturating_add(self.round)
        };
        (v >> (self.rshift & 31)).clamp(-128, 127) as i8
    }

    /// Reads one channel's parameters from packed words (`None` if fewer than five).
    pub fn from_words(w: &[i32]) -> Option<Self> {
        match w {
            [bias, multiplier, lshift, rshift, round, ..] => Some(ChannelQuant {
                bias: *bias,
                multiplier: *multiplier,
                lshift: *lshift,
                rshift: *rshift,
                round: *round,
            }),
            _ => None,
        }
    }
}

/// The DSP kernels' output stage on an already left-shifted accumulator:
/// `ssat8((smmulr(shifted, multiplier) +sat round) >> rshift)` (see [`ChannelQuant`]).
#[inline]
pub fn output_stage(shifted: i32, multiplier: i32, rshift: i32, round: i32) -> i8 {
    let v = crate::fixed::smmulr(shifted, multiplier);
    (v.saturating_add(round) >> (rshift & 31)).clamp(-128, 127) as i8
}

/// Int8 CONV_2D (dense, output zero point -128, clamp = int8 range) lowered for the DSP GEMM
/// kernels: `out[p, c] = stage(bias[c] + sum_k x[p, k] * w[c, k])` over the
/// `k_h * k_w * in_c` taps of each output pixel (see [`ChannelQuant`]). Input pixels are
/// gathered (im2col, padding taps filled with the input zero point) and widened four at a time
/// into an arena scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConvGemmI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Weights `[out_c][k4 * 4]`: each output channel's taps in `(ky, kx, ic)` order,
    /// zero padded to a multiple of 4 — or empty when `weights16` holds them.
    pub weights: ConstRef<i8>,
    /// The same weights widened to 16 bits and pre-shifted left by each channel's left shift
    /// (whose `ChannelQuant::lshift` is then 0, and whose bias is pre-shifted too), each group
    /// of four taps stored `t0, t2, t1, t3`: the two pairs `SXTB16` makes of four input bytes,
    /// so one double load feeds two `SMLAD`s with no widening in the inner loop. Pairs of
    /// output channels `(2j, 2j + 1)` are interleaved word by word (two taps a word): for each
    /// pair of taps, channel `2j`'s word then channel `2j + 1`'s, at `2j * k4 * 4` halfwords,
    /// so that one pointer feeds both channels of the four-pixel, two-channel kernel; an odd
    /// last channel keeps its plain row after the pairs. Costs twice the flash of `weights`;
    /// empty when `weights` is used.
    pub weights16: ConstRef<i16>,
    /// Taps per output pixel, rounded up to a multiple of 4, divided by 4.
    pub k4: u32,
    /// `weights` pre-arranged for the no-DSP kernels: each pair of output channels `(2j,
    /// 2j + 1)` interleaved tap by tap (`w[2j][t], w[2j + 1][t]` at `2j * k4 * 4 + 2t`), so
    /// one pointer feeds both channels; an odd last channel keeps its plain row.
    pub paired: bool,
    /// Output stage per output channel: [`ChannelQuant::WORDS`] words each.
    pub channels: ConstRef<i32>,
    /// Input zero point (the value of padding taps).
    pub input_zero_point: i32,
    /// Arena offset of the kernel's scratch buffer.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// Int8 DEPTHWISE_CONV_2D (depth multiplier 1, channels a multiple of 4, output zero point
/// -128, clamp = int8 range) lowered for the DSP kernels.
///
/// The kernel works on a band of input rows at a time, copied channel-planar into the arena
/// scratch as 16-bit values (`[band row][channel][band_width]`, padding taps holding the input
/// zero point, whose contribution the folded bias cancels), so that two horizontally adjacent
/// taps of one channel are one 32-bit word for `SMLAD`.
///
/// Weights are 16-bit and pre-shifted by each channel's `lshift` (so the accumulator is already
/// `acc << lshift`). Per channel, a 3x3 filter takes 10 values — `w00 w01 w10 w11 w20 w21 w02
/// w12 w22 0` (`wYX`: row Y, column X), the pairs the kernel multiplies — and any other filter
/// its `k_h * k_w` taps in row-major order. `params` holds four words per channel: the
/// pre-shifted folded bias, `multiplier`, `round` and `rshift` (see [`ChannelQuant`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseDspI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding (`in_c == out_c`).
    pub geom: ConvGeometry,
    /// Weights, per channel (see the type's documentation).
    pub weights: ConstRef<i16>,
    /// Output stage, four words per channel.
    pub params: ConstRef<i32>,
    /// Input zero point (the value of padding taps).
    pub input_zero_point: i32,
    /// Output rows computed per band of input rows (at least 1).
    pub band_rows: u32,
    /// Arena offset of the kernel's scratch: the band of 16-bit input rows.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// [`DepthwiseDspI8`] with its constants stored compactly in flash and widened into the arena
/// scratch when the layer runs: what a flash budget picks (`Options::int8_weights`), at about
/// 30 instructions per channel per call.
///
/// `weights` holds, per channel, the `k_h * k_w` int8 taps in row-major order, then the
/// channel's `lshift` and `rshift` (`taps + 2` bytes); `params` two words per channel: the
/// folded bias pre-shifted by `lshift`, and the multiplier. The round term is
/// `((1 << rshift) >> 1) + (output_zero_point << rshift)`, as [`ChannelQuant`] forms it. The
/// scratch holds the band of [`DepthwiseDspI8`], then the widened weights (word aligned), then
/// the four-word output stage per channel.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseDspPackedI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding (`in_c == out_c`).
    pub geom: ConvGeometry,
    /// Int8 taps and shifts per channel (see the type's documentation).
    pub weights: ConstRef<i8>,
    /// Pre-shifted folded bias and multiplier per channel.
    pub params: ConstRef<i32>,
    /// Input zero point (the value of padding taps).
    pub input_zero_point: i32,
    /// Output zero point, folded into the round term.
    pub output_zero_point: i32,
    /// Output rows computed per band of input rows (at least 1).
    pub band_rows: u32,
    /// Arena offset of the kernel's scratch: the band, the widened weights, the stage.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// Int8 CONV_2D (dense, any zero points and fused activation) lowered for the Helium (MVE)
/// kernels: a GEMM of im2col rows, two output pixels by four output channels at a time, 16
/// taps per `VMLADAV`.
///
/// Exactly TFLite's arithmetic: the bias has `input_offset * sum(w)` folded in (wrapping, as
/// the reference's sums), padding taps read the input zero point (contributing 0), and the
/// output stage is `MultiplyByQuantizedMultiplier` (`left_shift = max(shift, 0)`,
/// `right_shift = max(-shift, 0)`), then `+sat output_offset` and the clamp.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConvHeliumI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Weights `[ceil(out_c / 4)][k16][4][16]`: per group of four output channels and run of
    /// 16 taps (`(ky, kx, ic)` order), the four channels' taps; zero past the filter size and
    /// past `out_c`.
    pub weights: ConstRef<i8>,
    /// Taps per output pixel (`k_h * k_w * in_c`) divided by 16, rounded up.
    pub k16: u32,
    /// Output stage, 16 words per group of four output channels: the four folded biases,
    /// left shifts, multipliers and negated right shifts (zeros past `out_c`).
    pub params: ConstRef<i32>,
    /// Input zero point (the value of padding taps).
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp (fused activation), quantized.
    pub act_min: i32,
    /// Upper clamp (fused activation), quantized.
    pub act_max: i32,
    /// Arena offset of the kernel's scratch (two im2col rows).
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// Int8 DEPTHWISE_CONV_2D (3x3 filter, dilation 1, depth multiplier 1, any zero points and
/// fused activation inside the int8 range) lowered for the Helium (MVE) kernels: each output
/// row is a run of 16-byte chunks, 16 channels (or, with fewer channels, several pixels) per
/// step. Channels must be a multiple of 16, or divide 16 with a horizontal stride of 1.
///
/// Exactly TFLite's arithmetic for weights in `-127..=127` (the kernel sums two taps' products
/// in 16 bits; the converter only emits this op for such weights): the bias has
/// `input_offset * sum(w)` folded in (wrapping, as the reference's sums), padding taps read the
/// input zero point (contributing 0), and the output stage is `MultiplyByQuantizedMultiplier`,
/// then `+sat output_offset` and the clamp.
///
/// Byte `j` of chunk phase `q` belongs to channel `(16 q + j) % in_c`; there are
/// `max(in_c, 16) / 16` phases. The kernel's four accumulators hold the chunk's bytes
/// `4 i + [0, 2, 1, 3][v]` in lane `i` of accumulator `v`; `params` holds per phase 64 words:
/// four sections (folded biases, left shifts, multipliers, negated right shifts) of four
/// vectors `v` of four lanes `i` in that order.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseHeliumI8 {
    /// Input tensor (NHWC).
    pub input: TensorId,
    /// Output tensor (NHWC).
    pub output: TensorId,
    /// Shapes, strides and padding (`in_c == out_c`, 3x3, dilation 1).
    pub geom: ConvGeometry,
    /// Weights `[phases][9][16]`: per phase, each tap's 16 bytes' weights.
    pub weights: ConstRef<i8>,
    /// Output stage, 64 words per phase.
    pub params: ConstRef<i32>,
    /// Input zero point (the value of padding taps).
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp (fused activation), quantized.
    pub act_min: i32,
    /// Upper clamp (fused activation), quantized.
    pub act_max: i32,
    /// Arena offset of the kernel's scratch: four padded input rows and one chunk.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// 16x8 CONV_2D (dense) or FULLY_CONNECTED (as a 1x1 convolution over a row of `batches`
/// pixels) lowered for the DSP kernels: a GEMM of int16 im2col rows, four output pixels per
/// block, two taps per `SMLAD` with a 32-bit accumulator.
///
/// The int16 activations need no widening, and padding taps read 0 (16x8 tensors are
/// symmetric), so nothing is folded into the bias. The 32-bit sum is TFLM's int64 sum only
/// when it cannot overflow: the converter emits this operator only when
/// `sum_k |w[c, k]| * 32768 < 2^31` for every output channel `c` (or when `acc32` is set,
/// where TFLM's own sum wraps at 32 bits). The bias and the requantization are then exactly
/// [`Conv2dI16`]'s.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConvGemmI16 {
    /// Input tensor (NHWC, int16).
    pub input: TensorId,
    /// Output tensor (NHWC, int16).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding.
    pub geom: ConvGeometry,
    /// Weights widened to 16 bits: each output channel's row of `k2` words (pairs of taps in
    /// `(ky, kx, ic)` order, zero padded), stored by pairs of channels with the two rows
    /// interleaved word by word (channel `2j`'s word `t` at word `2j * k2 + 2t`, channel
    /// `2j + 1`'s next to it); an odd last channel's row follows as it is.
    pub weights: ConstRef<i16>,
    /// Taps per output pixel rounded up to a multiple of 4, divided by 2 (pairs of taps; even).
    pub k2: u32,
    /// Bias per output channel, widened to int64 (empty for none).
    pub bias: ConstRef<i64>,
    /// TFLM's int32-accumulator path (see [`Conv2dI16`]).
    pub acc32: bool,
    /// Output stage (per output channel multiplier and shift; both offsets 0).
    pub rq: Requant,
    /// Arena offset of the kernel's scratch buffer.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// 16x8 DEPTHWISE_CONV_2D (depth multiplier 1, an even number of channels) lowered for the
/// DSP kernels: per output pixel, the taps inside the input are listed once in the arena
/// scratch, then each pair of channels accumulates over them with `SMLABB`/`SMLATT` (one word
/// of input, two channels, against one word of weights) in 32-bit accumulators.
///
/// As for [`ConvGemmI16`], the converter emits it only when `sum_k |w[k, c]| * 32768 < 2^31`
/// for every channel, so the 32-bit sum equals TFLM's int64 one; bias and requantization are
/// [`DepthwiseConv2dI16`]'s.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DepthwiseDspI16 {
    /// Input tensor (NHWC, int16).
    pub input: TensorId,
    /// Output tensor (NHWC, int16).
    pub output: TensorId,
    /// Shapes, strides, dilation and padding (`in_c == out_c`, even).
    pub geom: ConvGeometry,
    /// Weights widened to 16 bits, `[k_h * k_w][out_c]` (TFLite's order); for a layer the band
    /// kernel takes, ten per channel instead (`ferrite_kernels::ops::dsp16::PAIRED_TAPS`).
    pub weights: ConstRef<i16>,
    /// Bias per output channel, widened to int64 (empty for none).
    pub bias: ConstRef<i64>,
    /// Output stage (per channel multiplier and shift; both offsets 0).
    pub rq: Requant,
    /// Output rows per band for a layer the band kernel takes (a 3x3 filter, dilation 1,
    /// horizontal stride 1 or 2: `ferrite_kernels::ops::dsp16::band_layer`), 1 otherwise.
    pub band_rows: u32,
    /// Arena offset of the kernel's scratch: the channels' output stages, then the lists of
    /// taps or the band.
    pub scratch_offset: u32,
    /// Its size in bytes.
    pub scratch_bytes: u32,
}

/// A layer's operator and parameters.
///
/// Deliberately exhaustive: `ferrite_kernels::registry` matches on every variant, so adding
/// an operator without a kernel does not compile.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Op {
    /// Int8 CONV_2D.
    Conv2dI8(Conv2dI8),
    /// Int8 CONV_2D with constants packed for the host's SIMD kernels (host runs only).
    Conv2dI8Packed(Conv2dI8Packed),
    /// Float CONV_2D.
    Conv2dF32(Conv2dF32),
    /// Float CONV_2D with weights packed for the host's SIMD kernels (host runs only).
    Conv2dF32Packed(Conv2dF32Packed),
    /// Int8 DEPTHWISE_CONV_2D.
    DepthwiseConv2dI8(DepthwiseConv2dI8),
    /// Int8 CONV_2D as a GEMM for the SIMD/DSP kernels.
    ConvGemmI8(ConvGemmI8),
    /// Int8 DEPTHWISE_CONV_2D with DSP-friendly weights.
    DepthwiseDspI8(DepthwiseDspI8),
    /// Int8 DEPTHWISE_CONV_2D with DSP-friendly weights widened from compact flash constants.
    DepthwiseDspPackedI8(DepthwiseDspPackedI8),
    /// Int8 DEPTHWISE_CONV_2D writing over its input.
    DepthwiseInPlaceI8(DepthwiseInPlaceI8),
    /// Int8 CONV_2D as a GEMM for the Helium kernels.
    ConvHeliumI8(ConvHeliumI8),
    /// 16x8 CONV_2D / FULLY_CONNECTED as a GEMM for the DSP kernels.
    ConvGemmI16(ConvGemmI16),
    /// 16x8 DEPTHWISE_CONV_2D for the DSP kernels.
    DepthwiseDspI16(DepthwiseDspI16),
    /// Int8 DEPTHWISE_CONV_2D for the Helium kernels.
    DepthwiseHeliumI8(DepthwiseHeliumI8),
    /// Float DEPTHWISE_CONV_2D.
    DepthwiseConv2dF32(DepthwiseConv2dF32),
    /// Int8 FULLY_CONNECTED.
    FullyConnectedI8(FullyConnectedI8),
    /// Float FULLY_CONNECTED.
    FullyConnectedF32(FullyConnectedF32),
    /// Int8 MAX_POOL_2D / AVERAGE_POOL_2D.
    PoolI8(PoolI8),
    /// Float MAX_POOL_2D / AVERAGE_POOL_2D.
    PoolF32(PoolF32),
    /// Int8 SOFTMAX.
    SoftmaxI8(SoftmaxI8),
    /// Float SOFTMAX.
    SoftmaxF32(SoftmaxF32),
    /// Int8 ADD.
    AddI8(AddI8),
    /// Int8 MUL.
    MulI8(MulI8),
    /// Float ADD / SUB / MUL / DIV / MAXIMUM / MINIMUM / SQUARED_DIFFERENCE / FLOOR_DIV /
    /// FLOOR_MOD / PRELU.
    BinaryF32(BinaryF32),
    /// CONCATENATION (any type).
    Concat(Concat),
    /// PAD / PADV2 (any type).
    Pad(Pad),
    /// A byte copy (RESHAPE that could not be aliased).
    Copy(Copy),
    /// Int8 MEAN.
    MeanI8(MeanI8),
    /// Float MEAN.
    MeanF32(MeanF32),
    /// Int8 elementwise function by table.
    LutI8(LutI8),
    /// Int8 → f32 DEQUANTIZE.
    DequantizeI8(DequantizeI8),
    /// f32 → int8 QUANTIZE.
    QuantizeF32(QuantizeF32),
    /// Copies a constant into the arena (a constant operand of an op that reads tensors).
    LoadConst(LoadConst),
    /// Float elementwise activation or math function.
    UnaryF32(UnaryF32),
    /// Int8 TRANSPOSE_CONV.
    TransposeConv2dI8(TransposeConv2dI8),
    /// Float TRANSPOSE_CONV.
    TransposeConv2dF32(TransposeConv2dF32),
    /// 16x8 CONV_2D (int16 activations, int8 weights).
    Conv2dI16(Conv2dI16),
    /// 16x8 DEPTHWISE_CONV_2D.
    DepthwiseConv2dI16(DepthwiseConv2dI16),
    /// 16x8 FULLY_CONNECTED.
    FullyConnectedI16(FullyConnectedI16),
    /// 16x8 TRANSPOSE_CONV.
    TransposeConv2dI16(TransposeConv2dI16),
    /// RESIZE_NEAREST_NEIGHBOR (any type).
    ResizeNearest(ResizeNearest),
    /// TRANSPOSE and the axis shuffles other operators lower to.
    Transpose(Transpose),
    /// STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, REVERSE_V2.
    StridedSlice(StridedSlice),
    /// GATHER, EMBEDDING_LOOKUP.
    Gather(Gather),
    /// GATHER_ND.
    GatherNd(GatherNd),
    /// BROADCAST_TO, FILL.
    BroadcastTo(BroadcastTo),
    /// MIRROR_PAD.
    MirrorPad(MirrorPad),
    /// SELECT, SELECT_V2.
    Select(Select),
    /// DYNAMIC_UPDATE_SLICE.
    DynamicUpdateSlice(DynamicUpdateSlice),
    /// Float SUM, MEAN, REDUCE_MAX, REDUCE_MIN over any axes.
    ReduceF32(ReduceF32),
    /// Int8 SUM, MEAN, REDUCE_MAX, REDUCE_MIN over any axes.
    ReduceI8(ReduceI8),
    /// Int16 (16x8) MAX_POOL_2D / AVERAGE_POOL_2D: [`PoolI8`]'s parameters (zero points 0,
    /// clamps in int16) over int16 tensors; TFLM runs the same template for both types.
    PoolI16(PoolI8),
    /// Int16 (16x8) MEAN over a contiguous block of axes: [`MeanI8`]'s parameters, int16
    /// tensors and an int16 output clamp.
    MeanI16(MeanI8),
    /// Int16 (16x8) SUM and MEAN over any axes: [`ReduceI8`]'s parameters (only
    /// [`ReduceI8Fn::Requantize`]; TFLM has no int16 REDUCE_MAX / REDUCE_MIN), int16 tensors.
    ReduceI16(ReduceI8),
    /// REDUCE_ALL (bool).
    ReduceAll(ReduceAll),
    /// ARG_MAX, ARG_MIN.
    ArgMinMax(ArgMinMax),
    /// Float CUMSUM.
    CumSumF32(CumSumF32),
    /// Int8 CUMSUM.
    CumSumI8(CumSumI8),
    /// Float BATCH_MATMUL.
    BatchMatMulF32(BatchMatMulF32),
    /// Int8 BATCH_MATMUL.
    BatchMatMulI8(BatchMatMulI8),
    /// Int16 (16x8) BATCH_MATMUL.
    BatchMatMulI16(BatchMatMulI16),
    /// Float LOG_SOFTMAX.
    LogSoftmaxF32(LogSoftmaxF32),
    /// Int8 LOG_SOFTMAX.
    LogSoftmaxI8(LogSoftmaxI8),
    /// Float L2_NORMALIZATION.
    L2NormF32(L2NormF32),
    /// Int8 L2_NORMALIZATION.
    L2NormI8(L2NormI8),
    /// Float L2_POOL_2D.
    L2PoolF32(L2PoolF32),
    /// Float RESIZE_BILINEAR.
    ResizeBilinearF32(ResizeBilinearF32),
    /// Int8 RESIZE_BILINEAR.
    ResizeBilinearI8(ResizeBilinearI8),
    /// SPACE_TO_BATCH_ND (any element size).
    SpaceToBatch(SpaceToBatch),
    /// BATCH_TO_SPACE_ND (any element size).
    BatchToSpace(BatchToSpace),
    /// TFLite_Detection_PostProcess (custom operator).
    DetectionPostprocess(DetectionPostprocess),
    /// Integer and bool binary arithmetic, MAXIMUM/MINIMUM and logical operators on raw values.
    IntBinary(IntBinary),
    /// EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL.
    Compare(Compare),
    /// Quantized DIV and SQUARED_DIFFERENCE.
    QuantBinary(QuantBinary),
    /// Quantized PRELU.
    PreluQ(PreluQ),
    /// ADD_N.
    AddN(AddN),
    /// CAST.
    Cast(Cast),
    /// QUANTIZE between integer types (int8 → int32, int32 → int8).
    Requantize(Requantize),
    /// QUANTIZE float32 → int16.
    QuantizeF32I16(QuantizeF32I16),
    /// DEQUANTIZE int16 → float32.
    DequantizeI16(DequantizeI16),
    /// Int16 ADD / SUB (16x8): [`AddI8`]'s arithmetic on int16 values (`left_shift` 15).
    AddI16(AddI8),
    /// Int16 MUL (16x8): [`MulI8`]'s arithmetic on int16 values (zero points 0).
    MulI16(MulI8),
    /// Int16 RELU, RELU6 or LEAKY_RELU (16x8), computed per element.
    ActI16(ActI16),
    /// Int16 SOFTMAX (16x8), TFLM's LUT path.
    SoftmaxI16(SoftmaxI16),
    /// Int8 SVDF (int16 state), TFLM's integer path.
    SvdfI8(SvdfI8),
    /// Int8 SVDF with int8 time weights and state.
    SvdfI8S8(SvdfI8S8),
    /// Float SVDF.
    SvdfF32(SvdfF32),
    /// TFLM's `SignalWindow`.
    SignalWindow(SignalWindow),
    /// TFLM's `SignalFftAutoScale`.
    SignalFftAutoScale(SignalFftAutoScale),
    /// TFLM's `SignalRfft` on int16.
    SignalRfftI16(SignalRfftI16),
    /// TFLM's `SignalEnergy`.
    SignalEnergy(SignalEnergy),
    /// TFLM's `SignalFilterBank`.
    SignalFilterBank(SignalFilterBank),
    /// TFLM's `SignalFilterBankSquareRoot`.
    SignalFilterBankSquareRoot(SignalFilterBankSquareRoot),
    /// TFLM's `SignalFilterBankSpectralSubtraction` (stateful).
    SignalSpectralSubtraction(SignalSpectralSubtraction),
    /// TFLM's `SignalPCAN`.
    SignalPcan(SignalPcan),
    /// TFLM's `SignalFilterBankLog`.
    SignalFilterBankLog(SignalFilterBankLog),
    /// TFLM's `SignalIrfft` on int16.
    SignalIrfftI16(SignalIrfftI16),
    /// TFLM's `SignalIrfft` on float32.
    SignalIrfftF32(SignalIrfftF32),
    /// TFLM's `SignalFramer` (stateful).
    SignalFramer(SignalFramer),
    /// TFLM's `SignalStacker` (stateful).
    SignalStacker(SignalStacker),
    /// TFLM's `SignalOverlapAdd` (stateful).
    SignalOverlapAdd(SignalOverlapAdd),
    /// TFLM's `SignalDelay` (stateful).
    SignalDelay(SignalDelay),
    /// READ_VARIABLE: a resource variable's value into a tensor.
    ReadVariable(ReadVariable),
    /// ASSIGN_VARIABLE: a tensor's value into a resource variable.
    AssignVariable(AssignVariable),
    /// CIRCULAR_BUFFER: a frame into a buffer of the last frames, with a stride in time.
    CircularBuffer(CircularBuffer),
    /// Int8 UNIDIRECTIONAL_SEQUENCE_LSTM (int16 cell state), TFLM's integer path.
    LstmI8(LstmI8),
    /// 16x8 UNIDIRECTIONAL_SEQUENCE_LSTM (int16 activations and cell state).
    LstmI16(LstmI16),
    /// Float UNIDIRECTIONAL_SEQUENCE_LSTM.
    LstmF32(LstmF32),
}
