//! Parameters of the elementwise operators beyond float arithmetic ([`super::BinaryF32`]) and
//! int8 ADD/MUL ([`super::AddI8`], [`super::MulI8`]): integer and bool arithmetic on raw
//! values, comparisons, quantized DIV / SQUARED_DIFFERENCE / PRELU, ADD_N, CAST and
//! integer requantization.
//!
//! Quantized operators name their activation type (`elem`) rather than fixing int8: TFLM's
//! int16 kernels run the same arithmetic on wider values, so one kernel, generic over the
//! element type, serves both. Every multiplier, shift, offset and clamp is precomputed by the
//! converter exactly as TFLM's `Prepare` computes it.

use super::Broadcast;
use crate::model::{ConstRef, TensorId};
use crate::DType;

/// Which [`IntBinary`] operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum IntBinaryKind {
    /// `a + b`, wrapping (ADD).
    Add,
    /// `a - b`, wrapping (SUB).
    Sub,
    /// `a * b`, wrapping (MUL).
    Mul,
    /// `a / b` truncated toward zero (DIV); a zero divisor fails the layer.
    Div,
    /// `a > b ? a : b` (MAXIMUM).
    Maximum,
    /// `a < b ? a : b` (MINIMUM).
    Minimum,
    /// `(a - b) * (a - b)`, wrapping (SQUARED_DIFFERENCE).
    SquaredDifference,
    /// `a && b` on bools (LOGICAL_AND).
    LogicalAnd,
    /// `a || b` on bools (LOGICAL_OR).
    LogicalOr,
}

/// A binary operator on raw (unquantized) values of one integer or bool type, broadcast:
/// int32 ADD/SUB/MUL/DIV/SQUARED_DIFFERENCE, MAXIMUM/MINIMUM of int8 (TFLM compares the
/// stored bytes, whatever the quantization), int32 and int64, and LOGICAL_AND/LOGICAL_OR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IntBinary {
    /// First input.
    pub a: TensorId,
    /// Second input.
    pub b: TensorId,
    /// Output (same type as the inputs).
    pub output: TensorId,
    /// Element type: [`DType::I8`], [`DType::I32`], [`DType::I64`] or [`DType::Bool`].
    pub elem: DType,
    /// Which operation.
    pub kind: IntBinaryKind,
    /// Number of output elements.
    pub len: u32,
    /// `None` when both inputs have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// Lower clamp of the result (the fused activation of int32 SUB/MUL/DIV; the type's
    /// whole range otherwise).
    pub act_min: i64,
    /// Upper clamp of the result.
    pub act_max: i64,
}

/// Which comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum CompareKind {
    /// `a == b`
    Equal,
    /// `a != b`
    NotEqual,
    /// `a < b`
    Less,
    /// `a <= b`
    LessEqual,
    /// `a > b`
    Greater,
    /// `a >= b`
    GreaterEqual,
}

/// How a quantized comparison brings both inputs to a common scale (TFLM
/// `ComparisonsPrepare`): `x -> MultiplyByQuantizedMultiplierSmallerThanOneExp((x + offset)
/// << left_shift, multiplier, shift)`, with each input's own scale as the multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CompareRescale {
    /// Headroom shift (8).
    pub left_shift: i32,
    /// Negated zero point of `a`.
    pub a_offset: i32,
    /// Q0.31 multiplier of `a` (its scale).
    pub a_multiplier: i32,
    /// Shift of `a` (<= 0).
    pub a_shift: i32,
    /// Negated zero point of `b`.
    pub b_offset: i32,
    /// Q0.31 multiplier of `b`.
    pub b_multiplier: i32,
    /// Shift of `b` (<= 0).
    pub b_shift: i32,
}

/// A comparison with a bool output, broadcast. Float, int32, int64 and bool inputs compare
/// raw; quantized inputs (int8) compare after [`CompareRescale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Compare {
    /// First input.
    pub a: TensorId,
    /// Second input.
    pub b: TensorId,
    /// Output (bool).
    pub output: TensorId,
    /// Type of both inputs.
    pub elem: DType,
    /// Which comparison.
    pub kind: CompareKind,
    /// Number of output elements.
    pub len: u32,
    /// `None` when both inputs have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// For quantized inputs, the rescaling to a common scale; `None` compares raw values.
    pub rescale: Option<CompareRescale>,
}

/// Which [`QuantBinary`] operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum QuantBinaryKind {
    /// DIV: `(a + a_offset) / (b + b_offset)` by TFLM's reciprocal arithmetic, rescaled by
    /// `out_multiplier`/`out_shift` (`left_shift` and the input multipliers are unused).
    Div,
    /// SQUARED_DIFFERENCE: both inputs rescaled to a common scale as in ADD (`left_shift`,
    /// input multipliers), their difference squared and rescaled to the output.
    SquaredDifference,
}

/// Quantized DIV or SQUARED_DIFFERENCE, broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct QuantBinary {
    /// First input.
    pub a: TensorId,
    /// Second input.
    pub b: TensorId,
    /// Output.
    pub output: TensorId,
    /// Type of inputs and output ([`DType::I8`]).
    pub elem: DType,
    /// Which operation.
    pub kind: QuantBinaryKind,
    /// Number of output elements.
    pub len: u32,
    /// `None` when both inputs have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// Negated zero point of `a`.
    pub a_offset: i32,
    /// Negated zero point of `b`.
    pub b_offset: i32,
    /// Headroom shift of both inputs before rescaling.
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
    /// Output shift.
    pub out_shift: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp (fused activation), quantized.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
}

/// Quantized PRELU (TFLM `BroadcastPrelu4DSlow`): inputs at or above the zero point are
/// rescaled by `pos_*`, the others multiplied by their (int8) alpha and rescaled by `neg_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PreluQ {
    /// Input.
    pub input: TensorId,
    /// Alpha (int8), broadcast against the input.
    pub alpha: TensorId,
    /// Output.
    pub output: TensorId,
    /// Type of the input and output ([`DType::I8`]).
    pub elem: DType,
    /// Number of output elements.
    pub len: u32,
    /// `None` when input and alpha have the output's shape.
    pub broadcast: Option<Broadcast>,
    /// Negated input zero point.
    pub input_offset: i32,
    /// Negated alpha zero point.
    pub alpha_offset: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Multiplier of non-negative inputs (`input_scale / output_scale`).
    pub pos_multiplier: i32,
    /// Its shift.
    pub pos_shift: i32,
    /// Multiplier of negative inputs (`input_scale * alpha_scale / output_scale`).
    pub neg_multiplier: i32,
    /// Its shift.
    pub neg_shift: i32,
}

/// The rescaling of int8 ADD_N (TFLM `add_n.cc`): every input is brought to twice its scale
/// with 20 bits of headroom, summed, and rescaled to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AddNQuant {
    /// Negated zero point shared by every input.
    pub input_offset: i32,
    /// Headroom shift (20).
    pub left_shift: i32,
    /// Input multiplier.
    pub input_multiplier: i32,
    /// Input shift (<= 0).
    pub input_shift: i32,
    /// Output multiplier.
    pub output_multiplier: i32,
    /// Output shift (<= 0).
    pub output_shift: i32,
    /// Output zero point.
    pub output_offset: i32,
    /// Lower clamp.
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
}

/// ADD_N: the elementwise sum of inputs that all have the output's shape and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AddN {
    /// Input tensor ids (as `u16`), in the operator's order.
    pub inputs: ConstRef<u16>,
    /// Output.
    pub output: TensorId,
    /// Element type: [`DType::F32`] or [`DType::I8`].
    pub elem: DType,
    /// Elements of every input and of the output.
    pub len: u32,
    /// For int8, the rescaling; `None` for float.
    pub quant: Option<AddNQuant>,
}

/// CAST: every element converted to another type as C++'s `static_cast` does in TFLM
/// (integers wrap, floats truncate toward zero and saturate with NaN becoming 0, anything
/// non-zero becomes `true`); quantization is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Cast {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Input type.
    pub from: DType,
    /// Output type.
    pub to: DType,
}

/// QUANTIZE between integer types (TFLM `reference_ops::Requantize`):
/// `clamp(MultiplyByQuantizedMultiplier(x - input_zero_point, multiplier, shift) +
/// output_zero_point)` to the output type's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Requantize {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Input type ([`DType::I8`] or [`DType::I32`]).
    pub from: DType,
    /// Output type ([`DType::I32`] or [`DType::I8`]).
    pub to: DType,
    /// Q0.31 multiplier of `input_scale / output_scale`.
    pub multiplier: i32,
    /// Its shift.
    pub shift: i32,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
}

/// An int16 → int16 activation (16x8 RELU, RELU6, LEAKY_RELU), computed per element with
/// TFLM's int16 arithmetic from parameters the converter derives (no table: a 65536-entry one
/// would cost 128 KiB of flash per layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ActI16 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// The function and its fixed-point parameters.
    pub kind: ActI16Kind,
}

/// The function of an [`ActI16`] layer, with TFLM's precomputed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ActI16Kind {
    /// RELU (`ReluQuantized`, zero points 0): `clamp(MultiplyByQuantizedMultiplier(x,
    /// multiplier, shift), act_min, 32767)`.
    Relu {
        /// Input-to-output rescale multiplier (Q31).
        multiplier: i32,
        /// Its power-of-two exponent.
        shift: i32,
        /// Lower clamp: `max(-32768, output zero point)`.
        act_min: i32,
    },
    /// RELU6 (`Relu6Quantized`): input codes clamped to `low..=high`, no rescale (TFLM's).
    Relu6 {
        /// The input zero point.
        low: i32,
        /// Six in input codes, clamped to int16.
        high: i32,
    },
    /// LEAKY_RELU (`QuantizeLeakyRelu`): `x - in_zp` rescaled by the identity multiplier where
    /// non-negative, by `|alpha|`'s (negated for a negative alpha) elsewhere, plus `out_zp`.
    LeakyRelu {
        /// Input zero point.
        input_zero_point: i32,
        /// Output zero point.
        output_zero_point: i32,
        /// `input_scale / output_scale` as a Q31 multiplier.
        identity_multiplier: i32,
        /// Its exponent.
        identity_shift: i32,
        /// `|input_scale * alpha / output_scale|` as a Q31 multiplier.
        alpha_multiplier: i32,
        /// Its exponent.
        alpha_shift: i32,
        /// Alpha is negative: the scaled value is negated.
        alpha_negative: bool,
    },
    /// LOGISTIC (TFLM's int16 `Logistic`): the input rescaled to steps of 1/(3·4096)
    /// (`(x · multiplier + round) >> shift`), its magnitude interpolated linearly in a
    /// 256-entry table of the sigmoid, mirrored for negative inputs. Output scale 1/32768,
    /// zero point 0.
    Logistic {
        /// Input rescale multiplier (at most 65535, so the product cannot overflow `i32`).
        multiplier: i32,
        /// Right shift after the multiply, rounding half up (0..=31).
        shift: i32,
    },
    /// ABS (TFLM's quantized int16 `AbsEvalQuantized`, zero points 0): `|x|`, rescaled by
    /// `input_scale / output_scale` when the scales differ, clamped to int16.
    Abs {
        /// The scales differ: rescale by `multiplier`, `shift`.
        rescale: bool,
        /// `input_scale / output_scale` as a Q31 multiplier (unused without `rescale`).
        multiplier: i32,
        /// Its exponent.
        shift: i32,
    },
    /// RSQRT (TFLM's int16 `RsqrtEvalQuantized`, zero points 0): `1/sqrt(x)` by TFLM's
    /// fixed-point inverse square root, rescaled by `1 / (sqrt(input_scale) · output_scale)`;
    /// 0 gives 32767.
    Rsqrt {
        /// The output rescale as a Q31 multiplier.
        multiplier: i32,
        /// Its exponent.
        shift: i32,
    },
    /// TANH (TFLM's int16 `Tanh`): as [`ActI16Kind::Logistic`], through
    /// `tanh(x) = 2·sigmoid(2x) − 1` in the same table.
    Tanh {
        /// Input rescale multiplier (at most 65535).
        multiplier: i32,
        /// Right shift after the multiply, rounding half up (0..=31).
        shift: i32,
    },
}

/// Int16 SOFTMAX over the last axis (TFLM `SoftmaxInt16`): each difference to the row's
/// maximum is rescaled so that `[-65535, 0]` spans `[-10, 0]`, looked up in an `exp` table,
/// and the sum's reciprocal in a `1 / (1 + x)` table; both 513-entry tables are TFLM's
/// `gen_lut`, computed by the converter. Output scale 1/32768, zero point 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SoftmaxI16 {
    /// Input.
    pub input: TensorId,
    /// Output.
    pub output: TensorId,
    /// Number of rows.
    pub outer: u32,
    /// Length of the last axis.
    pub depth: u32,
    /// `input_scale * beta / (10 / 65535)` as a Q0.31 multiplier...
    pub input_multiplier: i32,
    /// ...and its shift.
    pub input_left_shift: i32,
    /// `exp(x)` on `[-10, 0]`, 513 entries in Q0.15.
    pub exp_lut: ConstRef<i16>,
    /// `1 / (1 + x)` on `[0, 1]`, 513 entries in Q0.15.
    pub one_over_one_plus_x_lut: ConstRef<i16>,
}
