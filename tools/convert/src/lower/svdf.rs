//! SVDF: TFLite Micro's `PrepareSvdf` (`kernels/svdf_common.cc`), done once on the host. The
//! activation state (input 4, a variable tensor) gets a slot in the model's state region.

use super::*;
use ferrite_core::quant::activation_range_f32;

/// The integer SVDF's parameters but its time weights: what `PrepareSvdf` computes.
struct SvdfQuant {
    weights_feature: ConstRef<i8>,
    bias: ConstRef<i32>,
    input_zero_point: i32,
    state_zero_point: i32,
    output_zero_point: i32,
    multiplier_1: i32,
    shift_1: i32,
    multiplier_2: i32,
    shift_2: i32,
}

impl SvdfQuant {
    fn params<T>(
        self,
        input: TensorId,
        output: TensorId,
        state: u16,
        geom: SvdfGeometry,
        weights_time: ConstRef<T>,
    ) -> SvdfInt<T> {
        SvdfInt {
            input,
            output,
            state,
            geom,
            weights_feature: self.weights_feature,
            weights_time,
            bias: self.bias,
            input_zero_point: self.input_zero_point,
            state_zero_point: self.state_zero_point,
            output_zero_point: self.output_zero_point,
            multiplier_1: self.multiplier_1,
            shift_1: self.shift_1,
            multiplier_2: self.multiplier_2,
            shift_2: self.shift_2,
        }
    }
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// The integer SVDF's requantization (`[input, weights_feature, weights_time, state,
    /// output]`): both effective scales formed in single precision then widened, as TFLM
    /// does, and the bias scale checked against `state_scale * weights_time_scale`.
    fn svdf_quant(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        [input, wf, wt, state, output]: [&GTensor<'_>; 5],
        bias: Option<&GTensor<'_>>,
    ) -> Result<SvdfQuant> {
        let in_q = cx.qparams(input, "input")?;
        let wf_q = cx.qparams(wf, "weights_feature")?;
        let wt_q = cx.qparams(wt, "weights_time")?;
        let state_q = cx.qparams(state, "activation state")?;
        let out_q = cx.qparams(output, "output")?;
        let scale_1 = (in_q.scale * wf_q.scale / state_q.scale) as f64;
        let scale_2 = (state_q.scale * wt_q.scale / out_q.scale) as f64;
        if let Some(b) = bias {
            let bias_q = cx.qparams(b, "bias")?;
            let expected = (state_q.scale * wt_q.scale) as f64;
            if (bias_q.scale as f64 - expected).abs() >= 1e-5 {
                return Err(cx.tensor_msg(
                    b,
                    "bias",
                    format!(
                        "scale {} is not the activation state's scale times the time weights' ({expected})",
                        bias_q.scale
                    ),
                ));
            }
        }
        let q = |m: f64, what: &str| {
            quantize_multiplier(m)
                .ok_or_else(|| cx.err(format!("{what} scale {m} cannot be represented")))
        };
        let (multiplier_1, shift_1) = q(scale_1, "feature")?;
        let (multiplier_2, shift_2) = q(scale_2, "output")?;
        Ok(SvdfQuant {
            weights_feature: self.pool.push_i8(&as_i8(wf.bytes())),
            bias: match bias {
                Some(b) => self.pool.push_i32(&as_i32(b.bytes())),
                None => ConstRef::EMPTY,
            },
            input_zero_point: in_q.zero_point,
            state_zero_point: state_q.zero_point,
            output_zero_point: out_q.zero_point,
            multiplier_1,
            shift_1,
            multiplier_2,
            shift_2,
        })
    }

    pub(super) fn svdf(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(5, 5, 1)?;
        let (input, wf, wt, bias, state, output) = (
            cx.input(0)?,
            cx.input(1)?,
            cx.input(2)?,
            cx.opt_input(3),
            cx.input(4)?,
            cx.output(0)?,
        );
        let o = options::svdf(cx.op.options)?;
        cx.rank(input, "input", 2)?;
        cx.rank(wf, "weights_feature", 2)?;
        cx.rank(wt, "weights_time", 2)?;
        cx.rank(state, "activation state", 2)?;
        cx.rank(output, "output", 2)?;
        for (t, what) in [(wf, "weights_feature"), (wt, "weights_time")] {
            if !t.is_const() {
                return Err(cx.unsupported(format!(
                    "{what} tensor #{} '{}' must be a constant",
                    t.index, t.name
                )));
            }
        }
        if let Some(b) = bias.filter(|b| !b.is_const()) {
            return Err(cx.unsupported(format!(
                "bias tensor #{} '{}' must be a constant",
                b.index, b.name
            )));
        }
        let (batches, input_size) = (input.shape[0], input.shape[1]);
        let filters = wf.shape[0];
        let memory = wt.shape[1];
        let rank = usize::try_from(o.rank)
            .ok()
            .filter(|&r| r > 0 && filters % r == 0)
            .ok_or_else(|| {
                cx.err(format!(
                    "rank {} does not divide the {filters} filters",
                    o.rank
                ))
            })?;
        let units = filters / rank;
        if wf.shape[1] != input_size {
            return Err(cx.tensor_msg(
                wf,
                "weights_feature",
                format!("expected [{filters}, {input_size}]"),
            ));
        }
        if wt.shape[0] != filters || memory == 0 {
            return Err(cx.tensor_msg(
                wt,
                "weights_time",
                format!("expected [{filters}, memory > 0]"),
            ));
        }
        if let Some(b) = bias.filter(|b| b.num_elements() != units) {
            return Err(cx.tensor_msg(b, "bias", format!("expected {units} elements")));
        }
        if state.shape != [batches, memory * filters] {
            return Err(cx.tensor_msg(
                state,
                "activation state",
                format!("expected [{batches}, {}]", memory * filters),
            ));
        }
        if output.shape != [batches, units] {
            return Err(cx.tensor_msg(output, "output", format!("expected [{batches}, {units}]")));
        }
        let geom = SvdfGeometry {
            batches: u32_of(batches),
            input_size: u32_of(input_size),
            filters: u32_of(filters),
            rank: u32_of(rank),
            memory: u32_of(memory),
        };
        let types = (
            cx.dtype(input, "input")?,
            cx.dtype(wf, "weights_feature")?,
            cx.dtype(wt, "weights_time")?,
            bias.map(|b| cx.dtype(b, "bias")).transpose()?,
            cx.dtype(state, "activation state")?,
            cx.dtype(output, "output")?,
        );
        let slot = self.state_slot(cx, state, "activation state")?;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let param_bytes = wf.bytes().len() + wt.bytes().len() + bias.map_or(0, |b| b.bytes().len());
        let op = match types {
            (DType::I8, DType::I8, DType::I16, None | Some(DType::I32), DType::I16, DType::I8) => {
                let q = self.svdf_quant(cx, [input, wf, wt, state, output], bias)?;
                let weights_time = self.pool.push_i16(&as_i16(wt.bytes()));
                Op::SvdfI8(q.params(ii, oi, slot, geom, weights_time))
            }
            (DType::I8, DType::I8, DType::I8, None | Some(DType::I32), DType::I8, DType::I8) => {
                let q = self.svdf_quant(cx, [input, wf, wt, state, output], bias)?;
                let weights_time = self.pool.push_i8(&as_i8(wt.bytes()));
                Op::SvdfI8S8(q.params(ii, oi, slot, geom, weights_time))
            }
            (
                DType::F32,
                DType::F32,
                DType::F32,
                None | Some(DType::F32),
                DType::F32,
                DType::F32,
            ) => {
                let act = cx.activation(o.activation)?;
                let (act_min, act_max) = activation_range_f32(act);
                let weights_feature = self.pool.push_f32(&as_f32(wf.bytes()));
                let weights_time = self.pool.push_f32(&as_f32(wt.bytes()));
                let bias = match bias {
                    Some(b) => self.pool.push_f32(&as_f32(b.bytes())),
                    None => ConstRef::EMPTY,
                };
                Op::SvdfF32(SvdfF32 {
                    input: ii,
                    output: oi,
                    state: slot,
                    geom,
                    weights_feature,
                    weights_time,
                    bias,
                    act_min,
                    act_max,
                })
            }
            (i, f, t, b, s, out) => {
                let b = b.map_or("none".to_string(), |b| b.name().to_string());
                return Err(cx.unsupported(format!(
                    "input {} '{}', weights_feature {} '{}', weights_time {} '{}', bias {b}, activation state {} '{}', output {} '{}': supported are int8 input, feature weights and output with int32 bias and int16 (or int8) time weights and activation state (TFLM's integer path), and all float32",
                    i.name(), input.name, f.name(), wf.name, t.name(), wt.name, s.name(), state.name, out.name(), output.name
                )));
            }
        };
        let macs = geom.macs();
        self.push(cx, op, macs, param_bytes);
        Ok(())
    }
}
