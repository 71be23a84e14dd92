//! UNIDIRECTIONAL_SEQUENCE_LSTM: TFLite Micro's `UnidirectionalSequenceLstmPrepare`
//! (`lstm_eval_common.cc`), done once on the host. TFLM runs the standard LSTM only (all four
//! gates, no CIFG, no peephole, no projection, no layer norm), batch- or time-major, with an
//! optional cell clip, a TANH cell gate, in float32, int8 (int8 weights, int16 cell state,
//! int32 bias) and 16x8 (int16 activations, int8 weights, int16 cell state, int64 bias); every
//! other form is refused here, naming the option or tensor. The hidden (input 18) and cell
//! (input 19) states, variable tensors, get slots in the model's state region.

use super::*;

/// TFLite's LSTM input tensor indices (`lstm_shared.h`).
const INPUT_WEIGHTS: [usize; 4] = [1, 2, 3, 4];
const RECURRENT_WEIGHTS: [usize; 4] = [5, 6, 7, 8];
const PEEPHOLE: [(usize, &str); 3] = [
    (9, "cell_to_input_weights (peephole)"),
    (10, "cell_to_forget_weights (peephole)"),
    (11, "cell_to_output_weights (peephole)"),
];
const BIASES: [usize; 4] = [12, 13, 14, 15];
const PROJECTION: [(usize, &str); 2] = [
    (16, "projection_weights (projection)"),
    (17, "projection_bias (projection)"),
];
const HIDDEN: usize = 18;
const CELL: usize = 19;
const LAYER_NORM: [(usize, &str); 4] = [
    (20, "input_layer_norm_coefficients (layer norm)"),
    (21, "forget_layer_norm_coefficients (layer norm)"),
    (22, "cell_layer_norm_coefficients (layer norm)"),
    (23, "output_layer_norm_coefficients (layer norm)"),
];

/// `2^-12`: the scale of the gates' fully connected outputs (Q3.12), as TFLM's float.
const GATE_SCALE: f32 = 1.0 / 4096.0;
/// `2^-15`: the scale of the gates' activations (Q0.15).
const ACT_SCALE: f32 = 1.0 / 32768.0;

/// Sum of each row of `w` (`[rows, cols]`), widened.
fn row_sums(w: &[i8], cols: usize) -> Vec<i64> {
    w.chunks_exact(cols.max(1))
        .map(|r| r.iter().map(|&v| v as i64).sum())
        .collect()
}

/// TFLM's `CreateInterGateMulParams` multiplier: `in1 * in2 / out` in double.
fn mul_multiplier(in1: f32, in2: f32, out: f32) -> Option<(i32, i32)> {
    quantize_multiplier(in1 as f64 * in2 as f64 / out as f64)
}

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn sequence_lstm(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(24, 24, 1)?;
        let o = options::sequence_lstm(cx.op.options)?;
        // Variants TFLM's kernel does not run (its Prepare fails on them).
        for (k, what) in PEEPHOLE.iter().chain(&PROJECTION).chain(&LAYER_NORM) {
            if let Some(t) = cx.opt_input(*k) {
                return Err(cx.unsupported(format!(
                    "{what} tensor #{} '{}' is present: TFLite Micro's LSTM supports no peephole, projection or layer norm",
                    t.index, t.name
                )));
            }
        }
        if cx.opt_input(1).is_none() || cx.opt_input(5).is_none() || cx.opt_input(12).is_none() {
            return Err(cx.unsupported(
                "coupled input and forget gates (CIFG: no input gate weights or bias): TFLite Micro's LSTM needs all four gates",
            ));
        }
        if o.activation != 4 {
            return Err(cx.unsupported(format!(
                "fused activation {}: TFLite Micro's LSTM supports only TANH",
                ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"]
                    .get(o.activation as usize)
                    .copied()
                    .unwrap_or("unknown")
            )));
        }
        if o.cell_clip.is_nan() || o.cell_clip < 0.0 {
            return Err(cx.err(format!("cell_clip {} is negative", o.cell_clip)));
        }
        if o.diagonal_recurrent_tensors {
            return Err(cx.unsupported(
                "diagonal_recurrent_tensors: TFLite Micro's LSTM supports only full recurrent weights",
            ));
        }
        let input = cx.input(0)?;
        let hidden = cx.input(HIDDEN)?;
        let cell = cx.input(CELL)?;
        let output = cx.output(0)?;
        let wi: Vec<&GTensor<'_>> = INPUT_WEIGHTS
            .iter()
            .map(|&k| cx.input(k))
            .collect::<Result<_>>()?;
        let wr: Vec<&GTensor<'_>> = RECURRENT_WEIGHTS
            .iter()
            .map(|&k| cx.input(k))
            .collect::<Result<_>>()?;
        let bias: Vec<&GTensor<'_>> = BIASES.iter().map(|&k| cx.input(k)).collect::<Result<_>>()?;
        cx.rank(input, "input", 3)?;
        cx.rank(output, "output", 3)?;
        let (batches, steps) = if o.time_major {
            (input.shape[1], input.shape[0])
        } else {
            (input.shape[0], input.shape[1])
        };
        let input_size = input.shape[2];
        let units = wi[0].shape.first().copied().unwrap_or(0);
        for (gate, (i, r)) in wi.iter().zip(&wr).enumerate() {
            let name = LSTM_GATES[gate];
            if !i.is_const() || !r.is_const() || !bias[gate].is_const() {
                return Err(
                    cx.unsupported(format!("{name} gate weights and bias must be constants"))
                );
            }
            if i.shape != [units, input_size] {
                return Err(cx.tensor_msg(
                    i,
                    &format!("input_to_{name}_weights"),
                    format!("expected [{units}, {input_size}]"),
                ));
            }
            if r.shape != [units, units] {
                return Err(cx.tensor_msg(
                    r,
                    &format!("recurrent_to_{name}_weights"),
                    format!("expected [{units}, {units}]"),
                ));
            }
            if bias[gate].shape != [units] {
                return Err(cx.tensor_msg(
                    bias[gate],
                    &format!("{name}_gate_bias"),
                    format!("expected [{units}]"),
                ));
            }
        }
        for (t, what) in [(hidden, "hidden (output) state"), (cell, "cell state")] {
            if t.num_elements() != batches * units {
                return Err(cx.tensor_msg(
                    t,
                    what,
                    format!("expected {} elements", batches * units),
                ));
            }
        }
        if output.shape != [input.shape[0], input.shape[1], units] {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected [{}, {}, {units}]", input.shape[0], input.shape[1]),
            ));
        }
        if batches == 0 || steps == 0 || input_size == 0 || units == 0 {
            return Err(cx.err("LSTM with an empty dimension"));
        }
        let geom = LstmGeometry {
            batches: u32_of(batches),
            steps: u32_of(steps),
            input_size: u32_of(input_size),
            units: u32_of(units),
            time_major: o.time_major,
        };
        let ti = cx.dtype(input, "input")?;
        let tw = cx.dtype(wi[0], "input_to_input_weights")?;
        let tb = cx.dtype(bias[0], "input_gate_bias")?;
        let th = cx.dtype(hidden, "hidden state")?;
        let tc = cx.dtype(cell, "cell state")?;
        let to = cx.dtype(output, "output")?;
        for t in wi.iter().chain(&wr) {
            if cx.dtype(t, "weights")? != tw {
                return Err(cx.unsupported(format!(
                    "weights tensor #{} '{}' is {}, the input gate's are {}: TFLite Micro needs one weight type",
                    t.index, t.name, cx.dtype(t, "weights")?.name(), tw.name()
                )));
            }
        }
        for t in &bias {
            if cx.dtype(t, "bias")? != tb {
                return Err(cx.unsupported(format!(
                    "bias tensor #{} '{}' is {}, the input gate's is {}: TFLite Micro needs one bias type",
                    t.index, t.name, cx.dtype(t, "bias")?.name(), tb.name()
                )));
            }
        }
        let hidden_slot = self.state_slot(cx, hidden, "hidden (output) state")?;
        let cell_slot = self.state_slot(cx, cell, "cell state")?;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let param_bytes: usize = wi
            .iter()
            .chain(&wr)
            .chain(&bias)
            .map(|t| t.bytes().len())
            .sum();
        let op = match (ti, tw, tb, th, tc, to) {
            (DType::F32, DType::F32, DType::F32, DType::F32, DType::F32, DType::F32) => {
                let mut weights = Vec::new();
                for t in wi.iter().chain(&wr) {
                    weights.extend(as_f32(t.bytes()));
                }
                let mut b = Vec::new();
                for t in &bias {
                    b.extend(as_f32(t.bytes()));
                }
                let weights = self.pool.push_f32(&weights);
                let bias = self.pool.push_f32(&b);
                Op::LstmF32(LstmF32 {
                    input: ii,
                    output: oi,
                    hidden: hidden_slot,
                    cell: cell_slot,
                    geom,
                    weights,
                    bias,
                    cell_clip: o.cell_clip,
                })
            }
            (DType::I8, DType::I8, DType::I32, DType::I8, DType::I16, DType::I8) => {
                let biases: Vec<Vec<i64>> = bias
                    .iter()
                    .map(|b| as_i32(b.bytes()).into_iter().map(i64::from).collect())
                    .collect();
                let p = self.lstm_int(
                    cx,
                    [input, hidden, cell],
                    &wi,
                    &wr,
                    &biases,
                    geom,
                    o.cell_clip,
                    |v| i32::try_from(v).ok(),
                    |pool, v: &[i32]| pool.push_i32(v),
                )?;
                Op::LstmI8(LstmInt {
                    input: ii,
                    output: oi,
                    hidden: hidden_slot,
                    cell: cell_slot,
                    ..p
                })
            }
            (DType::I16, DType::I8, DType::I64, DType::I16, DType::I16, DType::I16) => {
                let biases: Vec<Vec<i64>> = bias
                    .iter()
                    .map(|b| cx.const_ints(b, "bias"))
                    .collect::<Result<_>>()?;
                let p = self.lstm_int(
                    cx,
                    [input, hidden, cell],
                    &wi,
                    &wr,
                    &biases,
                    geom,
                    o.cell_clip,
                    Some,
                    |pool, v: &[i64]| pool.push_i64(v),
                )?;
                Op::LstmI16(LstmInt {
                    input: ii,
                    output: oi,
                    hidden: hidden_slot,
                    cell: cell_slot,
                    ..p
                })
            }
            _ => {
                return Err(cx.unsupported(format!(
                    "input {} '{}', weights {}, bias {}, hidden state {} '{}', cell state {} '{}', output {} '{}': TFLite Micro's LSTM supports float32 throughout, int8 activations with int8 weights, int32 bias and an int16 cell state, and int16 activations with int8 weights, int64 bias and an int16 cell state",
                    ti.name(), input.name, tw.name(), tb.name(), th.name(), hidden.name, tc.name(), cell.name, to.name(), output.name
                )));
            }
        };
        self.push(cx, op, geom.macs(), param_bytes);
        Ok(())
    }

    /// The integer LSTM's parameters (`PrepareGateParametersInteger` and
    /// `CreateLstmCellStateInfo`), with the input and hidden zero points folded into the
    /// biases; tensor ids and slots are filled by the caller.
    #[allow(clippy::too_many_arguments)]
    fn lstm_int<B: std::marker::Copy + Default>(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        [input, hidden, cell]: [&GTensor<'_>; 3],
        wi: &[&GTensor<'_>],
        wr: &[&GTensor<'_>],
        biases: &[Vec<i64>],
        geom: LstmGeometry,
        cell_clip: f32,
        narrow: impl Fn(i64) -> Option<B>,
        push: impl Fn(&mut ConstPool, &[B]) -> ConstRef<B>,
    ) -> Result<LstmInt<B>> {
        let in_q = cx.qparams(input, "input")?;
        let h_q = cx.qparams(hidden, "hidden state")?;
        let c_q = cx.qparams(cell, "cell state")?;
        let (i_n, u_n) = (geom.input_size as usize, geom.units as usize);
        let q = |m: Option<(i32, i32)>, what: &str| {
            m.ok_or_else(|| cx.err(format!("{what} scale cannot be represented")))
        };
        let mut weights: Vec<i8> = Vec::new();
        let mut recurrent: Vec<i8> = Vec::new();
        let mut input_bias: Vec<B> = Vec::new();
        let mut recurrent_bias: Vec<B> = Vec::new();
        let mut rescale: Vec<i32> = Vec::new();
        for g in 0..4 {
            let name = LSTM_GATES[g];
            let wi_q = cx.qparams(wi[g], &format!("input_to_{name}_weights"))?;
            let wr_q = cx.qparams(wr[g], &format!("recurrent_to_{name}_weights"))?;
            for (t, wq) in [(wi[g], wi_q), (wr[g], wr_q)] {
                if wq.zero_point != 0 {
                    return Err(cx.tensor_msg(
                        t,
                        "weights",
                        "zero point must be 0 (symmetric int8 weights)",
                    ));
                }
            }
            // TFLM: GetQuantizedConvolutionMultipler without bias (the product in float).
            let (im, is) = q(
                quantize_multiplier((in_q.scale * wi_q.scale) as f64 / GATE_SCALE as f64),
                "input fully connected",
            )?;
            let (rm, rs) = q(
                quantize_multiplier((h_q.scale * wr_q.scale) as f64 / GATE_SCALE as f64),
                "recurrent fully connected",
            )?;
            rescale.extend([im, is, rm, rs]);
            let w_in = as_i8(wi[g].bytes());
            let w_rec = as_i8(wr[g].bytes());
            let fold = |base: &[i64], w: &[i8], cols: usize, zp: i32| -> Result<Vec<B>> {
                row_sums(w, cols)
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        let v = base.get(j).copied().unwrap_or(0) - zp as i64 * s;
                        narrow(v).ok_or_else(|| {
                            cx.err(format!(
                                "{name} gate bias with the zero point folded in overflows"
                            ))
                        })
                    })
                    .collect()
            };
            input_bias.extend(fold(&biases[g], &w_in, i_n, in_q.zero_point)?);
            recurrent_bias.extend(fold(&[], &w_rec, u_n, h_q.zero_point)?);
            weights.extend(w_in);
            recurrent.extend(w_rec);
        }
        weights.extend(recurrent);
        input_bias.extend(recurrent_bias);
        let weights = self.pool.push_i8(&weights);
        let bias = push(&mut self.pool, &input_bias);
        let gate_rescale = self.pool.push_i32(&rescale);
        if c_q.zero_point != 0 {
            return Err(cx.tensor_msg(cell, "cell state", "zero point must be 0"));
        }
        let (forget_multiplier, forget_shift) = q(
            mul_multiplier(ACT_SCALE, c_q.scale, c_q.scale),
            "forget gate product",
        )?;
        let (input_multiplier, input_shift) = q(
            mul_multiplier(ACT_SCALE, ACT_SCALE, c_q.scale),
            "input gate product",
        )?;
        let (hidden_multiplier, hidden_shift) = q(
            mul_multiplier(ACT_SCALE, ACT_SCALE, h_q.scale),
            "hidden state product",
        )?;
        // TFLM's CheckedLog2 (its result is not checked: the rounded power is used).
        let power = (c_q.scale as f64).log2().round() as i32;
        let left = 12 + power;
        let (tanh_multiplier, tanh_shift) = if left < 0 {
            (3, -left)
        } else {
            (3 << left.min(14), 0)
        };
        if !(-31..=14).contains(&left) {
            return Err(cx.tensor_msg(
                cell,
                "cell state",
                format!("scale 2^{power} is outside the int16 tanh's range"),
            ));
        }
        let cell_clip_q = (cell_clip as f64 / c_q.scale as f64).clamp(-32768.0, 32767.0) as i16;
        Ok(LstmInt {
            input: TensorId(0),
            output: TensorId(0),
            hidden: 0,
            cell: 0,
            geom,
            weights,
            bias,
            gate_rescale,
            forget_multiplier,
            forget_shift,
            input_multiplier,
            input_shift,
            hidden_multiplier,
            hidden_shift,
            hidden_zero_point: h_q.zero_point,
            tanh_multiplier,
            tanh_shift,
            clip: cell_clip > 0.0,
            cell_clip: cell_clip_q,
        })
    }
}
