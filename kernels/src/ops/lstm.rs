//! UNIDIRECTIONAL_SEQUENCE_LSTM, float32, int8 and 16x8, bit-exact with TensorFlow Lite
//! Micro's reference kernel (`lstm_eval.h`, `lstm_eval.cc`).
//!
//! Each time step computes, for every batch row, the four gates `act(FC(x) + FC(h))` (sigmoid,
//! tanh for the cell gate), updates the cell state `c = f·c + i·g` (clipped when a cell clip
//! is set) and the hidden state `h = tanh(c)·o`, and writes `h` to the step's output row.
//!
//! Integer path (TFLM's `EvalLstm<int8_t|int16_t, int8_t, int16_t, int32_t|int64_t>`): each
//! gate's two fully connected layers requantize separately into Q3.12 int16 (the converter
//! folded the zero points into their biases), their sum saturates to int16, then TFLM's int16
//! sigmoid and tanh (the 3/4-scaled table interpolation of `act16`); the three element-wise
//! products requantize with the multipliers TFLM's `CreateInterGateMulParams` gives, the
//! cell state's tanh rescales by its power-of-two scale as TFLM's `lstm_internal::Tanh` does.
//!
//! All of this is element-wise once the matmuls are done, so the kernel computes unit by unit
//! without TFLM's four scratch buffers: the new hidden row is written straight into the output
//! row of the step (TFLM copies it there) and copied into the hidden state after the row, so
//! that every gate of the row reads the previous hidden state.

use crate::ops::act16::{logistic_i16, rescale, tanh_i16};
use crate::ops::conv::multiply_by_quantized_multiplier_i64;
use crate::ops::unary_f32::logistic_f32;
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{
    LstmF32, LstmGeometry, LstmInt, Op, LSTM_CELL_GATE, LSTM_FORGET_GATE, LSTM_INPUT_GATE,
    LSTM_OUTPUT_GATE,
};
use ferrite_core::{Ctx, Error, Result};

/// An integer LSTM's activation type (int8 or int16) and its accumulator (int32 or int64,
/// TFLM's bias type).
pub trait LstmActivation: bytemuck::Pod + Into<i32> {
    /// The fully connected accumulator and bias type.
    type Acc: bytemuck::Pod + Default;
    /// Smallest value.
    const MIN: i32;
    /// Largest value.
    const MAX: i32;
    /// `v`, already clamped to `MIN..=MAX`.
    fn narrow(v: i32) -> Self;
    /// `acc + w * x` (the product formed in 32 bits, as TFLM).
    fn mac(acc: Self::Acc, w: i8, x: i32) -> Self::Acc;
    /// `acc + b`.
    fn add(acc: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// TFLM's `MultiplyByQuantizedMultiplier` for this accumulator.
    fn requant(acc: Self::Acc, multiplier: i32, shift: i32) -> i32;
    /// Whether `shift` is one the requantization accepts.
    fn shift_ok(shift: i32) -> bool;
}

impl LstmActivation for i8 {
    type Acc = i32;
    const MIN: i32 = i8::MIN as i32;
    const MAX: i32 = i8::MAX as i32;
    fn narrow(v: i32) -> Self {
        v as i8
    }
    #[inline(always)]
    fn mac(acc: i32, w: i8, x: i32) -> i32 {
        acc.wrapping_add(i32::from(w).wrapping_mul(x))
    }
    #[inline(always)]
    fn add(acc: i32, b: i32) -> i32 {
        acc.wrapping_add(b)
    }
    #[inline(always)]
    fn requant(acc: i32, multiplier: i32, shift: i32) -> i32 {
        multiply_by_quantized_multiplier(acc, multiplier, shift)
    }
    fn shift_ok(shift: i32) -> bool {
        (-31..=31).contains(&shift)
    }
}

impl LstmActivation for i16 {
    type Acc = i64;
    const MIN: i32 = i16::MIN as i32;
    const MAX: i32 = i16::MAX as i32;
    fn narrow(v: i32) -> Self {
        v as i16
    }
    #[inline(always)]
    fn mac(acc: i64, w: i8, x: i32) -> i64 {
        acc.wrapping_add(i64::from(i32::from(w).wrapping_mul(x)))
    }
    #[inline(always)]
    fn add(acc: i64, b: i64) -> i64 {
        acc.wrapping_add(b)
    }
    #[inline(always)]
    fn requant(acc: i64, multiplier: i32, shift: i32) -> i32 {
        multiply_by_quantized_multiplier_i64(acc, multiplier, shift)
    }
    fn shift_ok(shift: i32) -> bool {
        (-31..=7).contains(&shift)
    }
}

/// The sizes as `usize`: `(batches, steps, input_size, units)`.
fn dims(g: &LstmGeometry) -> (usize, usize, usize, usize) {
    (
        g.batches as usize,
        g.steps as usize,
        g.input_size as usize,
        g.units as usize,
    )
}

/// Checks the geometry and the input, output and state lengths against it.
fn check_lstm(
    layer: u16,
    g: &LstmGeometry,
    input: usize,
    output: usize,
    hidden: usize,
    cell: usize,
) -> Result<()> {
    if g.batches == 0 || g.steps == 0 || g.input_size == 0 || g.units == 0 {
        return Err(Error::InvalidLayer {
            layer,
            reason: "LSTM with an empty dimension",
        });
    }
    let l = layer;
    check_len(
        l,
        input as u64,
        g.input_elements(),
        "LSTM input does not match",
    )?;
    check_len(
        l,
        output as u64,
        g.output_elements(),
        "LSTM output does not match",
    )?;
    check_len(
        l,
        hidden as u64,
        g.state_elements(),
        "LSTM hidden state does not match",
    )?;
    check_len(
        l,
        cell as u64,
        g.state_elements(),
        "LSTM cell state does not match",
    )
}

/// Element offsets of step `t` of batch `b`: `(input row, output row)`.
fn rows(g: &LstmGeometry, b: usize, t: usize) -> (usize, usize) {
    let (batches, steps, i_n, u_n) = dims(g);
    let frame = if g.time_major {
        t * batches + b
    } else {
        b * steps + t
    };
    (frame * i_n, frame * u_n)
}

/// Kernel entry for [`Op::LstmI8`].
pub fn run_lstm_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LstmI8);
    run_lstm_int::<i8>(ctx, p)
}

/// Kernel entry for [`Op::LstmI16`].
pub fn run_lstm_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LstmI16);
    run_lstm_int::<i16>(ctx, p)
}

/// One integer gate's constants, sliced out of [`LstmInt`]'s packed arrays.
pub struct GateData<'r, B> {
    /// Input weights `[units, input_size]`.
    pub input_weights: &'r [i8],
    /// Recurrent weights `[units, units]`.
    pub recurrent_weights: &'r [i8],
    /// Input bias (zero point folded in) `[units]`.
    pub input_bias: &'r [B],
    /// Recurrent bias (zero point folded in) `[units]`.
    pub recurrent_bias: &'r [B],
    /// Input fully connected multiplier and shift.
    pub input_rescale: (i32, i32),
    /// Recurrent fully connected multiplier and shift.
    pub recurrent_rescale: (i32, i32),
}

/// One gate's slices: input weights, recurrent weights, input bias, recurrent bias.
type GateSlices<'r, W, B> = (&'r [W], &'r [W], &'r [B], &'r [B]);

/// Gate `g`'s slices of the packed `weights` (`[4, u, i]` then `[4, u, u]`) and `bias`
/// (`[4, u]` then `[4, u]`), or `None` if they are too short.
fn gate_slices<'r, W, B>(
    weights: &'r [W],
    bias: &'r [B],
    g: usize,
    i_n: usize,
    u_n: usize,
) -> Option<GateSlices<'r, W, B>> {
    let (wi, wr) = (u_n.checked_mul(i_n)?, u_n.checked_mul(u_n)?);
    let input_weights = weights.get(g * wi..(g + 1) * wi)?;
    let recurrent_weights = weights.get(4 * wi + g * wr..4 * wi + (g + 1) * wr)?;
    let input_bias = bias.get(g * u_n..(g + 1) * u_n)?;
    let recurrent_bias = bias.get((4 + g) * u_n..(5 + g) * u_n).unwrap_or(&[]);
    Some((input_weights, recurrent_weights, input_bias, recurrent_bias))
}

/// The integer entries' checks, then [`lstm_int`].
fn run_lstm_int<A: LstmActivation>(ctx: &mut Ctx<'_>, p: &LstmInt<A::Acc>) -> Result<()> {
    let (_, _, i_n, u_n) = dims(&p.geom);
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let rescale = ctx.consts(p.gate_rescale)?;
    let per_gate = (i_n as u64 + u_n as u64) * u_n as u64;
    if weights.len() as u64 != 4 * per_gate
        || bias.len() as u64 != 8 * u_n as u64
        || rescale.len() != 16
    {
        return Err(ctx.error("LSTM gate constants do not match the geometry"));
    }
    let gate = |g: usize| -> Option<GateData<'_, A::Acc>> {
        let (input_weights, recurrent_weights, input_bias, recurrent_bias) =
            gate_slices(weights, bias, g, i_n, u_n)?;
        let r = rescale.get(4 * g..4 * g + 4)?;
        let (im, is, rm, rs) = (*r.first()?, *r.get(1)?, *r.get(2)?, *r.get(3)?);
        (A::shift_ok(is) && A::shift_ok(rs)).then_some(GateData {
            input_weights,
            recurrent_weights,
            input_bias,
            recurrent_bias,
            input_rescale: (im, is),
            recurrent_rescale: (rm, rs),
        })
    };
    let (Some(g0), Some(g1), Some(g2), Some(g3)) = (gate(0), gate(1), gate(2), gate(3)) else {
        return Err(ctx.error("LSTM gate constants or shifts out of range"));
    };
    let shifts = [p.forget_shift, p.input_shift, p.hidden_shift];
    if shifts.iter().any(|s| !(-31..=31).contains(s)) || !(0..=31).contains(&p.tanh_shift) {
        return Err(ctx.error("requantization shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out, hidden, cell) = ctx.split_with_two_states(p.output, p.hidden, p.cell)?;
    let input: &[A] = inputs.get(p.input)?;
    let output: &mut [A] = cast_out(layer, out)?;
    let hidden: &mut [A] = cast_out(layer, hidden)?;
    let cell: &mut [i16] = cast_out(layer, cell)?;
    check_lstm(
        layer,
        &p.geom,
        input.len(),
        output.len(),
        hidden.len(),
        cell.len(),
    )?;
    lstm_int(p, [&g0, &g1, &g2, &g3], input, hidden, cell, output);
    Ok(())
}

/// `v` saturated to int16.
#[inline(always)]
fn sat16(v: i32) -> i32 {
    v.clamp(i16::MIN as i32, i16::MAX as i32)
}

/// One gate's Q3.12 pre-activation for unit `j`: both fully connected layers requantized to
/// int16 and their saturated sum (TFLM's `CalculateLstmGate` before the activation).
#[inline(always)]
fn gate_pre<A: LstmActivation>(
    d: &GateData<'_, A::Acc>,
    j: usize,
    x: &[A],
    h: &[A],
) -> Option<i32> {
    let (i_n, u_n) = (x.len(), h.len());
    let w = d.input_weights.get(j * i_n..(j + 1) * i_n)?;
    let mut acc = A::Acc::default();
    for (&wv, &xv) in w.iter().zip(x) {
        acc = A::mac(acc, wv, xv.into());
    }
    if let Some(&b) = d.input_bias.get(j) {
        acc = A::add(acc, b);
    }
    let from_input = sat16(A::requant(acc, d.input_rescale.0, d.input_rescale.1));
    let w = d.recurrent_weights.get(j * u_n..(j + 1) * u_n)?;
    let mut acc = A::Acc::default();
    for (&wv, &hv) in w.iter().zip(h) {
        acc = A::mac(acc, wv, hv.into());
    }
    if let Some(&b) = d.recurrent_bias.get(j) {
        acc = A::add(acc, b);
    }
    let from_hidden = sat16(A::requant(
        acc,
        d.recurrent_rescale.0,
        d.recurrent_rescale.1,
    ));
    Some(sat16(from_input + from_hidden))
}

/// The integer reference on slices of the lengths [`run_lstm_i8`] checks (`gates` in the
/// order input, forget, cell, output); `hidden` and `cell` are updated. Slices of other
/// lengths stop the computation early rather than index out of bounds.
pub fn lstm_int<A: LstmActivation>(
    p: &LstmInt<A::Acc>,
    gates: [&GateData<'_, A::Acc>; 4],
    input: &[A],
    hidden: &mut [A],
    cell: &mut [i16],
    output: &mut [A],
) {
    let _ = (|| -> Option<()> {
        let (batches, steps, i_n, u_n) = dims(&p.geom);
        let clip = i32::from(p.cell_clip);
        for b in 0..batches {
            let state = b * u_n..(b + 1) * u_n;
            for t in 0..steps {
                let (x_at, o_at) = rows(&p.geom, b, t);
                let x = input.get(x_at..x_at + i_n)?;
                let h = hidden.get(state.clone())?;
                let c_row = cell.get_mut(state.clone())?;
                let o_row = output.get_mut(o_at..o_at + u_n)?;
                for j in 0..u_n {
                    let pre = |k: usize| gate_pre::<A>(gates.get(k)?, j, x, h);
                    // Q3.12 in: the power-of-two rescale of TFLM's int16 sigmoid and tanh is 3.
                    let f = logistic_i16(rescale(pre(LSTM_FORGET_GATE)? as i16, 3, 0));
                    let i = logistic_i16(rescale(pre(LSTM_INPUT_GATE)? as i16, 3, 0));
                    let g = tanh_i16(rescale(pre(LSTM_CELL_GATE)? as i16, 3, 0));
                    let c = c_row.get_mut(j)?;
                    let kept = sat16(multiply_by_quantized_multiplier(
                        i32::from(f) * i32::from(*c),
                        p.forget_multiplier,
                        p.forget_shift,
                    ));
                    let added = sat16(multiply_by_quantized_multiplier(
                        i32::from(i) * i32::from(g),
                        p.input_multiplier,
                        p.input_shift,
                    ));
                    let mut c_new = sat16(kept + added);
                    if p.clip {
                        c_new = c_new.min(clip).max(-clip);
                    }
                    *c = c_new as i16;
                    let o = logistic_i16(rescale(pre(LSTM_OUTPUT_GATE)? as i16, 3, 0));
                    let tc = tanh_i16(rescale(c_new as i16, p.tanh_multiplier, p.tanh_shift));
                    let v = multiply_by_quantized_multiplier(
                        i32::from(tc) * i32::from(o),
                        p.hidden_multiplier,
                        p.hidden_shift,
                    )
                    .wrapping_add(p.hidden_zero_point)
                    .clamp(A::MIN, A::MAX);
                    *o_row.get_mut(j)? = A::narrow(v);
                }
                for (hv, &ov) in hidden.get_mut(state.clone())?.iter_mut().zip(o_row.iter()) {
                    *hv = ov;
                }
            }
        }
        Some(())
    })();
}

/// Kernel entry for [`Op::LstmF32`].
pub fn run_lstm_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LstmF32);
    let (_, _, i_n, u_n) = dims(&p.geom);
    let weights = ctx.consts(p.weights)?;
    let bias = ctx.consts(p.bias)?;
    let per_gate = (i_n as u64 + u_n as u64) * u_n as u64;
    if weights.len() as u64 != 4 * per_gate || bias.len() as u64 != 4 * u_n as u64 {
        return Err(ctx.error("LSTM gate constants do not match the geometry"));
    }
    let gate = |g: usize| gate_slices(weights, bias, g, i_n, u_n).map(|(wi, wr, b, _)| (wi, wr, b));
    let (Some(g0), Some(g1), Some(g2), Some(g3)) = (gate(0), gate(1), gate(2), gate(3)) else {
        return Err(ctx.error("LSTM gate constants do not match the geometry"));
    };
    let gates = [g0, g1, g2, g3];
    let layer = ctx.layer;
    let (inputs, out, hidden, cell) = ctx.split_with_two_states(p.output, p.hidden, p.cell)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    let hidden: &mut [f32] = cast_out(layer, hidden)?;
    let cell: &mut [f32] = cast_out(layer, cell)?;
    check_lstm(
        layer,
        &p.geom,
        input.len(),
        output.len(),
        hidden.len(),
        cell.len(),
    )?;
    lstm_f32(p, gates, input, hidden, cell, output);
    Ok(())
}

/// A float gate's pre-activation for unit `j`: `(Σ x·w + bias) + (Σ h·w_r)`, each sum from
/// zero in TFLM's order.
#[inline(always)]
fn gate_pre_f32(d: (&[f32], &[f32], &[f32]), j: usize, x: &[f32], h: &[f32]) -> Option<f32> {
    let (wi, wr, bias) = d;
    let (i_n, u_n) = (x.len(), h.len());
    let w = wi.get(j * i_n..(j + 1) * i_n)?;
    let from_input =
        w.iter().zip(x).fold(0.0f32, |a, (&w, &x)| a + x * w) + bias.get(j).copied().unwrap_or(0.0);
    let w = wr.get(j * u_n..(j + 1) * u_n)?;
    let from_hidden = w.iter().zip(h).fold(0.0f32, |a, (&w, &h)| a + h * w) + 0.0;
    Some(from_input + from_hidden)
}

/// The float reference on slices laid out as for [`lstm_int`] (`gates` as (input weights,
/// recurrent weights, bias)).
pub fn lstm_f32(
    p: &LstmF32,
    gates: [(&[f32], &[f32], &[f32]); 4],
    input: &[f32],
    hidden: &mut [f32],
    cell: &mut [f32],
    output: &mut [f32],
) {
    let _ = (|| -> Option<()> {
        let (batches, steps, i_n, u_n) = dims(&p.geom);
        let clip = p.cell_clip;
        for b in 0..batches {
            let state = b * u_n..(b + 1) * u_n;
            for t in 0..steps {
                let (x_at, o_at) = rows(&p.geom, b, t);
                let x = input.get(x_at..x_at + i_n)?;
                let h = hidden.get(state.clone())?;
                let c_row = cell.get_mut(state.clone())?;
                let o_row = output.get_mut(o_at..o_at + u_n)?;
                for j in 0..u_n {
                    let pre = |k: usize| gate_pre_f32(*gates.get(k)?, j, x, h);
                    let f = logistic_f32(pre(LSTM_FORGET_GATE)?);
                    let i = logistic_f32(pre(LSTM_INPUT_GATE)?);
                    let g = libm::tanhf(pre(LSTM_CELL_GATE)?);
                    let c = c_row.get_mut(j)?;
                    let mut c_new = f * *c + i * g;
                    if clip > 0.0 {
                        c_new = c_new.min(clip).max(-clip);
                    }
                    *c = c_new;
                    let o = logistic_f32(pre(LSTM_OUTPUT_GATE)?);
                    *o_row.get_mut(j)? = libm::tanhf(c_new) * o;
                }
                for (hv, &ov) in hidden.get_mut(state.clone())?.iter_mut().zip(o_row.iter()) {
                    *hv = ov;
                }
            }
        }
        Some(())
    })();
}
