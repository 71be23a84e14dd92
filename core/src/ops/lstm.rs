//! UNIDIRECTIONAL_SEQUENCE_LSTM: a long short-term memory layer over a sequence, as TFLite
//! Micro's kernel (`unidirectional_sequence_lstm.cc`, `lstm_eval.h`) runs it: four gates
//! (input, forget, cell, output), each `activation(FC(input) + FC(hidden))`, no peephole, no
//! projection, no layer norm. The hidden (output) state and the cell state are variable
//! tensors kept in the model's state region ([`crate::StatePlan`]), carried from one call to
//! the next.

use crate::model::{ConstRef, TensorId};

/// The gates in the order the kernel stores them (TFLite's tensor order).
pub const LSTM_GATES: [&str; 4] = ["input", "forget", "cell", "output"];

/// Index of the input gate in the `gates` arrays.
pub const LSTM_INPUT_GATE: usize = 0;
/// Index of the forget gate.
pub const LSTM_FORGET_GATE: usize = 1;
/// Index of the cell gate.
pub const LSTM_CELL_GATE: usize = 2;
/// Index of the output gate.
pub const LSTM_OUTPUT_GATE: usize = 3;

/// Sizes of an LSTM (TFLM's `LstmSizeInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LstmGeometry {
    /// Batch size.
    pub batches: u32,
    /// Time steps per call.
    pub steps: u32,
    /// Features per input frame.
    pub input_size: u32,
    /// Units: the size of the hidden and cell state per batch.
    pub units: u32,
    /// Input and output are `[steps, batches, ...]` (else `[batches, steps, ...]`).
    pub time_major: bool,
}

impl LstmGeometry {
    /// Elements of each state (hidden and cell): `batches * units`.
    pub const fn state_elements(&self) -> u64 {
        self.batches as u64 * self.units as u64
    }

    /// Elements of the input: `batches * steps * input_size`.
    pub const fn input_elements(&self) -> u64 {
        self.batches as u64 * self.steps as u64 * self.input_size as u64
    }

    /// Elements of the output: `batches * steps * units`.
    pub const fn output_elements(&self) -> u64 {
        self.batches as u64 * self.steps as u64 * self.units as u64
    }

    /// Multiply-accumulates per call: four gates, each an input and a recurrent matmul.
    pub const fn macs(&self) -> u64 {
        4 * self.batches as u64
            * self.steps as u64
            * self.units as u64
            * (self.input_size as u64 + self.units as u64)
    }
}

/// Integer LSTM, TFLM's `EvalLstm<ActivationType, int8_t, int16_t, BiasType>`: int8 weights,
/// int16 gates and cell state; int8 activations with int32 bias ([`LstmI8`]) or int16
/// activations with int64 bias ([`LstmI16`], "16x8").
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LstmInt<B> {
    /// Input `[batches, steps, input_size]` (or time-major).
    pub input: TensorId,
    /// Output `[batches, steps, units]` (or time-major): the hidden state after each step.
    pub output: TensorId,
    /// State slot of the hidden (output) state, `[batches, units]` of the activation type.
    pub hidden: u16,
    /// State slot of the cell state, int16 `[batches, units]`.
    pub cell: u16,
    /// Sizes.
    pub geom: LstmGeometry,
    /// The gates' weights (gate order input, forget, cell, output): the input weights
    /// `[4, units, input_size]`, then the recurrent weights `[4, units, units]`.
    pub weights: ConstRef<i8>,
    /// The gates' biases: per gate and unit the input bias plus `-input_zero_point *
    /// sum(input weights row)` `[4, units]`, then `-hidden_zero_point * sum(recurrent weights
    /// row)` `[4, units]` (the zero points folded in).
    pub bias: ConstRef<B>,
    /// Per gate: the Q0.31 multiplier and shift of `input_scale * input_weights_scale /
    /// 2^-12` and of `hidden_scale * recurrent_weights_scale / 2^-12` (the fully connected
    /// outputs in Q3.12), `[4, 4]`: `(input multiplier, input shift, recurrent multiplier,
    /// recurrent shift)`.
    pub gate_rescale: ConstRef<i32>,
    /// Multiplier of the forget gate times the cell state (`2^-15`, into the cell's scale).
    pub forget_multiplier: i32,
    /// Its shift.
    pub forget_shift: i32,
    /// Multiplier of the input gate times the cell gate (`2^-30 / cell_scale`).
    pub input_multiplier: i32,
    /// Its shift.
    pub input_shift: i32,
    /// Multiplier of `tanh(cell) * output gate` into the hidden state's scale
    /// (`2^-30 / hidden_scale`).
    pub hidden_multiplier: i32,
    /// Its shift.
    pub hidden_shift: i32,
    /// Hidden state zero point.
    pub hidden_zero_point: i32,
    /// Input rescale of the int16 tanh of the cell state (TFLM's `Tanh` with the cell
    /// state's power-of-two scale): `(x * tanh_multiplier + round) >> tanh_shift`.
    pub tanh_multiplier: i32,
    /// Its right shift.
    pub tanh_shift: i32,
    /// Whether the cell state is clipped (TFLM: a cell clip above 0).
    pub clip: bool,
    /// The cell clip in the cell state's scale, truncated to int16 as TFLM does: the cell
    /// state is clamped to `-cell_clip..=cell_clip` after each update when `clip` is set.
    pub cell_clip: i16,
}

/// Int8 LSTM (int8 activations, int32 bias).
pub type LstmI8 = LstmInt<i32>;

/// 16x8 LSTM (int16 activations, int64 bias).
pub type LstmI16 = LstmInt<i64>;

/// Float LSTM.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LstmF32 {
    /// Input `[batches, steps, input_size]` (or time-major).
    pub input: TensorId,
    /// Output `[batches, steps, units]` (or time-major).
    pub output: TensorId,
    /// State slot of the hidden state, float `[batches, units]`.
    pub hidden: u16,
    /// State slot of the cell state, float `[batches, units]`.
    pub cell: u16,
    /// Sizes.
    pub geom: LstmGeometry,
    /// The gates' weights as in [`LstmInt::weights`]: `[4, units, input_size]` then
    /// `[4, units, units]`.
    pub weights: ConstRef<f32>,
    /// The gates' biases `[4, units]`.
    pub bias: ConstRef<f32>,
    /// Cell clip (0: none).
    pub cell_clip: f32,
}
