//! Lowering: each TFLite operator becomes a layer with every parameter precomputed.
//!
//! This is where TFLite Micro's `Prepare` functions happen, once, on the host: requantization
//! multipliers and shifts (in the same float/double precision TFLM uses), activation clamp
//! ranges, padding, lookup tables for elementwise int8 functions. RESHAPE-like operators
//! become aliases (no layer at all).

use crate::consts::ConstPool;
use crate::error::{ConvertError, Result};
use crate::graph::{GOp, GTensor, Graph};
use crate::lower_dsp::{self, Target};
use crate::tflite::opcodes as oc;
use crate::tflite::schema::options;
use ferrite_core::ops::*;
use ferrite_core::quant::{
    activation_range_f32, activation_range_i8, quantize_multiplier, FusedActivation, QParams,
};
use ferrite_core::{ConstRef, DType, TensorId};
use ferrite_kernels::ops as k;

/// A lowered layer with what the tools report about it.
#[derive(Debug, Clone)]
pub struct LoweredLayer {
    /// The runtime parameters.
    pub op: Op,
    /// TFLite operator name (`CONV_2D`).
    pub name: String,
    /// Index of the TFLite operator it came from.
    pub source_op: usize,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Bytes of constants (weights, biases, tables) this layer owns.
    pub param_bytes: usize,
    /// TFLite tensor indices read.
    pub inputs: Vec<usize>,
    /// TFLite tensor indices written.
    pub outputs: Vec<usize>,
    /// Arena scratch the kernel needs while the layer runs (bytes; 0 for none).
    pub scratch_bytes: usize,
}

/// Requantization values of an int8 convolution, before they go to the constant pool.
pub struct ConvQuant {
    /// Bias per output channel, if the layer has one.
    pub bias: Option<Vec<i32>>,
    /// Q0.31 multiplier per output channel.
    pub multiplier: Vec<i32>,
    /// Shift per output channel (positive: left).
    pub shift: Vec<i32>,
    /// Input quantization.
    pub in_q: QParams,
    /// Output quantization.
    pub out_q: QParams,
}

/// The result of lowering a graph.
#[derive(Debug)]
pub struct Lowered {
    /// Layers in execution order.
    pub layers: Vec<LoweredLayer>,
    /// Activation tensors: TFLite index of each [`TensorId`].
    pub tensors: Vec<usize>,
    /// `(alias, target)`: tensor `alias` shares the memory of `target` (RESHAPE and friends).
    pub aliases: Vec<(usize, usize)>,
    /// The constant blob.
    pub pool: ConstPool,
    /// Things accepted with a caveat.
    pub warnings: Vec<String>,
}

/// Operators Ferrite converts, for error messages.
pub const SUPPORTED_OPS: &[&str] = &[
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEQUANTIZE",
    "EXPAND_DIMS",
    "FULLY_CONNECTED",
    "HARD_SWISH",
    "LEAKY_RELU",
    "LOGISTIC",
    "MAX_POOL_2D",
    "MEAN",
    "MUL",
    "PAD",
    "PADV2",
    "QUANTIZE",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RESHAPE",
    "RESIZE_NEAREST_NEIGHBOR",
    "SOFTMAX",
    "SQUEEZE",
    "SUB",
    "TANH",
    "TRANSPOSE_CONV",
];

struct Lowerer<'g, 'a> {
    g: &'g Graph<'a>,
    target: Target,
    pool: ConstPool,
    ids: Vec<Option<TensorId>>,
    tensors: Vec<usize>,
    aliases: Vec<(usize, usize)>,
    layers: Vec<LoweredLayer>,
    warnings: Vec<String>,
}

/// Lowers every operator of `g`.
pub fn lower(g: &Graph<'_>, target: Target) -> Result<Lowered> {
    let mut l = Lowerer {
        g,
        target,
        pool: ConstPool::default(),
        ids: vec![None; g.tensors.len()],
        tensors: Vec::new(),
        aliases: Vec::new(),
        layers: Vec::new(),
        warnings: Vec::new(),
    };
    for &i in &g.inputs {
        l.id(i)?;
    }
    for op in &g.ops {
        // Options tables are read lazily, here: a malformed one names its operator too.
        l.lower_op(op).map_err(|e| match e {
            ConvertError::Read(r) => ConvertError::Operator {
                index: op.index,
                op: op.name.clone(),
                message: format!("malformed options: {r}"),
            },
            e => e,
        })?;
    }
    for &o in &g.outputs {
        l.id(o)?;
    }
    Ok(Lowered {
        layers: l.layers,
        tensors: l.tensors,
        aliases: l.aliases,
        pool: l.pool,
        warnings: l.warnings,
    })
}

/// Context for one operator: its graph entry and error helpers.
struct OpCx<'o, 'g, 'a> {
    op: &'o GOp<'a>,
    g: &'g Graph<'a>,
}

impl<'o, 'g, 'a> OpCx<'o, 'g, 'a> {
    fn err(&self, message: impl Into<String>) -> ConvertError {
        ConvertError::Operator {
            index: self.op.index,
            op: self.op.name.clone(),
            message: message.into(),
        }
    }
    fn unsupported(&self, message: impl Into<String>) -> ConvertError {
        ConvertError::Unsupported {
            index: self.op.index,
            op: self.op.name.clone(),
            message: message.into(),
        }
    }
    /// Required input `k`.
    fn input(&self, k: usize) -> Result<&'g GTensor<'a>> {
        match self.op.inputs.get(k) {
            Some(Some(i)) => Ok(&self.g.tensors[*i]),
            Some(None) => Err(self.err(format!("required input {k} is omitted"))),
            None => Err(self.err(format!(
                "expected at least {} inputs, found {}",
                k + 1,
                self.op.inputs.len()
            ))),
        }
    }
    /// Optional input `k`.
    fn opt_input(&self, k: usize) -> Option<&'g GTensor<'a>> {
        self.op
            .inputs
            .get(k)
            .copied()
            .flatten()
            .map(|i| &self.g.tensors[i])
    }
    fn output(&self, k: usize) -> Result<&'g GTensor<'a>> {
        match self.op.outputs.get(k) {
            Some(&i) => Ok(&self.g.tensors[i]),
            None => Err(self.err(format!(
                "expected at least {} outputs, found {}",
                k + 1,
                self.op.outputs.len()
            ))),
        }
    }
    fn arity(&self, min_in: usize, max_in: usize, outs: usize) -> Result<()> {
        let n = self.op.inputs.len();
        if n < min_in || n > max_in {
            return Err(self.err(format!("has {n} inputs, expected {min_in}..={max_in}")));
        }
        if self.op.outputs.len() != outs {
            return Err(self.err(format!(
                "has {} outputs, expected {outs}",
                self.op.outputs.len()
            )));
        }
        Ok(())
    }
    fn tensor_msg(
        &self,
        t: &GTensor<'_>,
        what: &str,
        message: impl std::fmt::Display,
    ) -> ConvertError {
        self.err(format!(
            "{what} tensor #{} '{}' {}: {message}",
            t.index,
            t.name,
            t.describe()
        ))
    }
    fn dtype(&self, t: &GTensor<'_>, what: &str) -> Result<DType> {
        t.dtype.ok_or_else(|| {
            self.unsupported(format!(
                "{what} tensor #{} '{}' has type {}",
                t.index,
                t.name,
                crate::tflite::schema::tensor_type::name(t.type_code)
            ))
        })
    }
    fn rank(&self, t: &GTensor<'_>, what: &str, rank: usize) -> Result<()> {
        if t.shape.len() != rank {
            return Err(self.tensor_msg(t, what, format!("expected rank {rank}")));
        }
        Ok(())
    }
    fn qparams(&self, t: &GTensor<'_>, what: &str) -> Result<QParams> {
        let q = t.quant.as_ref().ok_or_else(|| {
            self.tensor_msg(t, what, "int8 tensor without quantization parameters")
        })?;
        if q.per_channel() {
            return Err(self.tensor_msg(
                t,
                what,
                "per-channel quantization is only supported for weights",
            ));
        }
        let qp = QParams {
            scale: q.scales[0],
            zero_point: q.zero_points[0],
        };
        if t.dtype == Some(DType::I8) && !(-128..=127).contains(&qp.zero_point) {
            return Err(self.tensor_msg(
                t,
                what,
                format!("zero point {} outside the int8 range", qp.zero_point),
            ));
        }
        Ok(qp)
    }
    fn activation(&self, code: u8) -> Result<FusedActivation> {
        Ok(match code {
            0 => FusedActivation::None,
            1 => FusedActivation::Relu,
            2 => FusedActivation::ReluN1To1,
            3 => FusedActivation::Relu6,
            4 => return Err(self.unsupported("fused TANH activation")),
            5 => return Err(self.unsupported("fused SIGN_BIT activation")),
            c => return Err(self.err(format!("unknown fused activation code {c}"))),
        })
    }
    fn act_i8(&self, act: FusedActivation, out: QParams) -> Result<(i32, i32)> {
        activation_range_i8(act, out)
            .ok_or_else(|| self.err("fused activation range overflows the output quantization"))
    }
    /// Constant data of `t` as little-endian i32 values (INT32 or INT64 tensors).
    fn const_ints(&self, t: &GTensor<'_>, what: &str) -> Result<Vec<i64>> {
        let data = t.data.ok_or_else(|| {
            self.unsupported(format!(
                "{what} tensor #{} '{}' must be a constant",
                t.index, t.name
            ))
        })?;
        match t.type_code {
            2 => Ok(data
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect()),
            4 => Ok(data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()),
            _ => Err(self.tensor_msg(t, what, "expected an INT32 or INT64 constant")),
        }
    }
}

/// `(out_size, padding_before)` as TFLite's `ComputeOutSize`/`ComputePaddingWithOffset`.
fn out_size_and_padding(
    padding: u8,
    in_size: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Option<(usize, usize)> {
    let effective = filter
        .checked_sub(1)?
        .checked_mul(dilation)?
        .checked_add(1)?;
    let out = match padding {
        options::PADDING_SAME => in_size.div_ceil(stride),
        options::PADDING_VALID => (in_size + stride).checked_sub(effective)? / stride,
        _ => return None,
    };
    let total = (out.saturating_sub(1) * stride + effective) as i64 - in_size as i64;
    Some((out, (total.max(0) / 2) as usize))
}

fn positive(v: i32) -> Option<usize> {
    (v > 0).then_some(v as usize)
}

fn u32_of(v: usize) -> u32 {
    // Graph building capped tensor sizes at 1 GiB, so every dimension and count fits.
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn as_i8(data: &[u8]) -> Vec<i8> {
    data.iter().map(|&b| b as i8).collect()
}
fn as_i32(data: &[u8]) -> Vec<i32> {
    data.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
fn as_f32(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// The [`TensorId`] of an activation tensor, assigned on first use.
    fn id(&mut self, i: usize) -> Result<TensorId> {
        if let Some(id) = self.ids[i] {
            return Ok(id);
        }
        let t = &self.g.tensors[i];
        if t.is_const() {
            return Err(ConvertError::Tensor {
                index: i,
                name: t.name.clone(),
                message: "constant used where an activation is expected".into(),
            });
        }
        let id = TensorId(
            u16::try_from(self.tensors.len())
                .map_err(|_| ConvertError::Model("more than 65535 activation tensors".into()))?,
        );
        self.ids[i] = Some(id);
        self.tensors.push(i);
        Ok(id)
    }

    /// The [`TensorId`] of an operand that may be a constant: constants are copied into the
    /// arena by a `LoadConst` layer first.
    fn operand(&mut self, cx: &OpCx<'_, '_, '_>, t: &GTensor<'_>) -> Result<TensorId> {
        if !t.is_const() {
            return self.id(t.index);
        }
        if let Some(id) = self.ids[t.index] {
            return Ok(id);
        }
        let id = TensorId(
            u16::try_from(self.tensors.len())
                .map_err(|_| ConvertError::Model("more than 65535 activation tensors".into()))?,
        );
        self.ids[t.index] = Some(id);
        self.tensors.push(t.index);
        let data = self.pool.push_bytes(t.data.unwrap_or(&[]), 4);
        self.layers.push(LoweredLayer {
            op: Op::LoadConst(LoadConst { data, output: id }),
            name: format!("{} (constant operand)", cx.op.name),
            source_op: cx.op.index,
            macs: 0,
            param_bytes: t.data.map_or(0, |d| d.len()),
            inputs: vec![],
            outputs: vec![t.index],
            scratch_bytes: 0,
        });
        Ok(id)
    }

    fn push(&mut self, cx: &OpCx<'_, '_, '_>, op: Op, macs: u64, param_bytes: usize) {
        self.layers.push(LoweredLayer {
            op,
            name: cx.op.name.clone(),
            source_op: cx.op.index,
            macs,
            param_bytes,
            inputs: cx
                .op
                .inputs
                .iter()
                .flatten()
                .copied()
                // Constants a `LoadConst` copied into the arena are read from there, so they
                // must stay alive (unclobbered by this layer's output) until this layer.
                .filter(|&i| !self.g.tensors[i].is_const() || self.ids[i].is_some())
                .collect(),
            outputs: cx.op.outputs.clone(),
            scratch_bytes: 0,
        });
    }

    /// [`Lowerer::push`] for a layer whose kernel needs `scratch` bytes of arena scratch.
    fn push_with_scratch(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        op: Op,
        macs: u64,
        param_bytes: usize,
        scratch: usize,
    ) {
        self.push(cx, op, macs, param_bytes);
        if let Some(l) = self.layers.last_mut() {
            l.scratch_bytes = scratch;
        }
    }

    /// A dense int8 convolution on the target's GEMM kernels, with the arena scratch it needs:
    /// on Helium its GEMM, else (the M55 has the DSP extension too) the DSP GEMM; on the DSP
    /// target the DSP GEMM; `None` on the portable target or when no kernel is exact for it.
    #[allow(clippy::too_many_arguments)]
    fn cortex_m_gemm(
        &mut self,
        input: TensorId,
        output: TensorId,
        geom: ConvGeometry,
        groups: usize,
        weights: &[i8],
        q: &ConvQuant,
        (act_min, act_max): (i32, i32),
    ) -> Option<(Op, usize)> {
        let pool = &mut self.pool;
        let helium = match self.target {
            Target::Portable => return None,
            Target::Helium => lower_dsp::conv_helium(
                pool, input, output, geom, groups, weights, q, act_min, act_max,
            ),
            Target::CortexMDsp => None,
        };
        helium.or_else(|| {
            lower_dsp::conv_gemm(
                pool, input, output, geom, groups, weights, q, act_min, act_max,
            )
        })
    }

    fn lower_op(&mut self, op: &GOp<'a>) -> Result<()> {
        let cx = OpCx { op, g: self.g };
        match op.code {
            oc::CONV_2D => self.conv2d(&cx),
            oc::DEPTHWISE_CONV_2D => self.depthwise(&cx),
            oc::FULLY_CONNECTED => self.fully_connected(&cx),
            oc::AVERAGE_POOL_2D => self.pool(&cx, PoolKind::Average),
            oc::MAX_POOL_2D => self.pool(&cx, PoolKind::Max),
            oc::SOFTMAX => self.softmax(&cx),
            oc::RESHAPE | oc::SQUEEZE | oc::EXPAND_DIMS => self.reshape(&cx),
            oc::ADD | oc::SUB | oc::MUL => self.binary(&cx),
            oc::CONCATENATION => self.concat(&cx),
            oc::PAD | oc::PADV2 => self.pad(&cx),
            oc::MEAN => self.mean(&cx),
            oc::LOGISTIC
            | oc::TANH
            | oc::RELU
            | oc::RELU6
            | oc::RELU_N1_TO_1
            | oc::HARD_SWISH
            | oc::LEAKY_RELU => self.unary(&cx),
            oc::QUANTIZE => self.quantize(&cx),
            oc::DEQUANTIZE => self.dequantize(&cx),
            oc::TRANSPOSE_CONV => self.transpose_conv(&cx),
            oc::RESIZE_NEAREST_NEIGHBOR => self.resize_nearest(&cx),
            _ => Err(cx.unsupported(format!(
                "supported operators are {}",
                SUPPORTED_OPS.join(", ")
            ))),
        }
    }

    fn conv2d(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, filter, bias, output) =
            (cx.input(0)?, cx.input(1)?, cx.opt_input(2), cx.output(0)?);
        let o = options::conv2d(cx.op.options)?;
        for (t, what) in [(input, "input"), (filter, "filter"), (output, "output")] {
            cx.rank(t, what, 4)?;
        }
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant filter"));
        }
        let in_c = input.shape[3];
        let (out_c, k_h, k_w, f_in_c) = (
            filter.shape[0],
            filter.shape[1],
            filter.shape[2],
            filter.shape[3],
        );
        if f_in_c == 0 || in_c == 0 || in_c % f_in_c != 0 {
            return Err(cx.err(format!(
                "filter input channels {f_in_c} do not divide input channels {in_c}"
            )));
        }
        let groups = in_c / f_in_c;
        if out_c % groups != 0 {
            return Err(cx.err(format!(
                "{groups} groups do not divide {out_c} output channels"
            )));
        }
        let geom = self.conv_geometry(
            cx,
            input,
            output,
            (k_h, k_w, out_c),
            (o.stride_h, o.stride_w),
            (o.dilation_h, o.dilation_w),
            o.padding,
        )?;
        let act = cx.activation(o.activation)?;
        let macs = geom.output_elements() * geom.macs_per_output(u32_of(f_in_c));
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                if matches!(self.target, Target::CortexMDsp | Target::Helium) {
                    let q = self.conv_quant_values(cx, input, filter, bias, output, out_c, 0)?;
                    let (act_min, act_max) = cx.act_i8(act, q.out_q)?;
                    let w = as_i8(filter.data.unwrap_or(&[]));
                    let act = (act_min, act_max);
                    if let Some((op, scratch)) =
                        self.cortex_m_gemm(ii, oi, geom, groups, &w, &q, act)
                    {
                        let param_bytes = filter.num_elements() + 20 * out_c;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let (bias, mult, shift, in_q, out_q) =
                    self.conv_requant(cx, input, filter, bias, output, out_c, 0)?;
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                let weights = self.pool.push_i8(&as_i8(filter.data.unwrap_or(&[])));
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let rq = Requant {
                    multiplier: mult,
                    shift,
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let op = Op::Conv2dI8(Conv2dI8 {
                    input: ii,
                    output: oi,
                    geom,
                    groups: u32_of(groups),
                    weights,
                    bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.data.unwrap_or(&[])));
                let bias = self.f32_bias(cx, bias, out_c)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::Conv2dF32(Conv2dF32 {
                    input: ii,
                    output: oi,
                    geom,
                    groups: u32_of(groups),
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/filter/output types {a}/{b}/{c}; supported: int8/int8/int8 and float32"
                )))
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn conv_geometry(
        &self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
        (k_h, k_w, out_c): (usize, usize, usize),
        (stride_h, stride_w): (i32, i32),
        (dil_h, dil_w): (i32, i32),
        padding: u8,
    ) -> Result<ConvGeometry> {
        let (n, in_h, in_w, in_c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (Some(sh), Some(sw)) = (positive(stride_h), positive(stride_w)) else {
            return Err(cx.err(format!(
                "strides must be positive, got ({stride_h}, {stride_w})"
            )));
        };
        let (Some(dh), Some(dw)) = (positive(dil_h), positive(dil_w)) else {
            return Err(cx.err(format!(
                "dilations must be positive, got ({dil_h}, {dil_w})"
            )));
        };
        if k_h == 0 || k_w == 0 {
            return Err(cx.err("empty filter"));
        }
        let (Some((oh, pt)), Some((ow, pl))) = (
            out_size_and_padding(padding, in_h, k_h, sh, dh),
            out_size_and_padding(padding, in_w, k_w, sw, dw),
        ) else {
            return Err(cx.err(format!(
                "padding code {padding} invalid or filter larger than the input"
            )));
        };
        // The kernels compute the farthest tap, `(out - 1) * stride + (k - 1) * dilation`, in
        // `u32`; refuse what would overflow it (or a padding that does not fit) here rather
        // than convert a layer every kernel rejects.
        let reach = |out: usize, s: usize, k: usize, d: usize| {
            out.saturating_sub(1)
                .checked_mul(s)
                .zip((k - 1).checked_mul(d))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|r| r <= u32::MAX as usize)
        };
        if !reach(oh, sh, k_h, dh)
            || !reach(ow, sw, k_w, dw)
            || pt > u32::MAX as usize
            || pl > u32::MAX as usize
        {
            return Err(cx.err(format!(
                "strides ({sh}, {sw}) and dilations ({dh}, {dw}) reach too far for a {k_h}x{k_w} filter"
            )));
        }
        let expected = [n, oh, ow, out_c];
        if output.shape != expected {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected shape {expected:?} from the input, filter, strides and padding"),
            ));
        }
        Ok(ConvGeometry {
            batches: u32_of(n),
            in_h: u32_of(in_h),
            in_w: u32_of(in_w),
            in_c: u32_of(in_c),
            out_h: u32_of(oh),
            out_w: u32_of(ow),
            out_c: u32_of(out_c),
            k_h: u32_of(k_h),
            k_w: u32_of(k_w),
            stride_h: u32_of(sh),
            stride_w: u32_of(sw),
            dilation_h: u32_of(dh),
            dilation_w: u32_of(dw),
            pad_top: u32_of(pt),
            pad_left: u32_of(pl),
        })
    }

    /// Bias and per-channel requantization of an int8 conv/depthwise layer, computed as
    /// TFLM's `PopulateConvolutionQuantizationParams` does (in double precision).
    /// Per-channel requantization of an int8 conv/depthwise layer, computed as TFLM's
    /// `PopulateConvolutionQuantizationParams` does (in double precision), and its bias.
    #[allow(clippy::too_many_arguments)]
    fn conv_quant_values(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        filter: &GTensor<'_>,
        bias: Option<&GTensor<'_>>,
        output: &GTensor<'_>,
        channels: usize,
        channel_axis: usize,
    ) -> Result<ConvQuant> {
        let in_q = cx.qparams(input, "input")?;
        let out_q = cx.qparams(output, "output")?;
        let fq = filter
            .quant
            .as_ref()
            .ok_or_else(|| cx.tensor_msg(filter, "filter", "int8 filter without quantization"))?;
        if fq.per_channel() && (fq.axis != channel_axis || fq.scales.len() != channels) {
            return Err(cx.tensor_msg(filter, "filter", format!(
                "per-channel quantization must have {channels} scales along axis {channel_axis}, found {} along axis {}",
                fq.scales.len(), fq.axis
            )));
        }
        if fq.zero_points.iter().any(|&z| z != 0) {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                "int8 filters must be symmetric (zero point 0)",
            ));
        }
        let mut multiplier = Vec::with_capacity(channels);
        let mut shift = Vec::with_capacity(channels);
        for c in 0..channels {
            let fs = if fq.per_channel() {
                fq.scales[c]
            } else {
                fq.scales[0]
            };
            let real = in_q.scale as f64 * fs as f64 / out_q.scale as f64;
            let (m, s) = quantize_multiplier(real).ok_or_else(|| {
                cx.err(format!(
                    "channel {c}: requantization multiplier {real} out of range"
                ))
            })?;
            multiplier.push(m);
            shift.push(s);
        }
        let bias = self.i32_bias_values(cx, bias, channels)?;
        Ok(ConvQuant {
            bias,
            multiplier,
            shift,
            in_q,
            out_q,
        })
    }

    /// [`Lowerer::conv_quant_values`], with bias, multipliers and shifts in the constant pool.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn conv_requant(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        filter: &GTensor<'_>,
        bias: Option<&GTensor<'_>>,
        output: &GTensor<'_>,
        channels: usize,
        channel_axis: usize,
    ) -> Result<(
        ConstRef<i32>,
        ConstRef<i32>,
        ConstRef<i32>,
        QParams,
        QParams,
    )> {
        let q = self.conv_quant_values(cx, input, filter, bias, output, channels, channel_axis)?;
        let bias = q
            .bias
            .as_deref()
            .map_or(ConstRef::EMPTY, |b| self.pool.push_i32(b));
        Ok((
            bias,
            self.pool.push_i32(&q.multiplier),
            self.pool.push_i32(&q.shift),
            q.in_q,
            q.out_q,
        ))
    }

    fn i32_bias_values(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
    ) -> Result<Option<Vec<i32>>> {
        let Some(b) = bias else {
            return Ok(None);
        };
        let data = b.data.ok_or_else(|| cx.unsupported("non-constant bias"))?;
        if b.dtype != Some(DType::I32) {
            return Err(cx.tensor_msg(b, "bias", "int8 layers need an int32 bias"));
        }
        if b.num_elements() != channels {
            return Err(cx.tensor_msg(b, "bias", format!("expected {channels} elements")));
        }
        Ok(Some(as_i32(data)))
    }

    fn i32_bias(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
    ) -> Result<ConstRef<i32>> {
        Ok(match self.i32_bias_values(cx, bias, channels)? {
            Some(b) => self.pool.push_i32(&b),
            None => ConstRef::EMPTY,
        })
    }

    fn f32_bias(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        bias: Option<&GTensor<'_>>,
        channels: usize,
    ) -> Result<ConstRef<f32>> {
        let Some(b) = bias else {
            return Ok(ConstRef::EMPTY);
        };
        let data = b.data.ok_or_else(|| cx.unsupported("non-constant bias"))?;
        if b.dtype != Some(DType::F32) {
            return Err(cx.tensor_msg(b, "bias", "float layers need a float32 bias"));
        }
        if b.num_elements() != channels {
            return Err(cx.tensor_msg(b, "bias", format!("expected {channels} elements")));
        }
        Ok(self.pool.push_f32(&as_f32(data)))
    }

    fn depthwise(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, filter, bias, output) =
            (cx.input(0)?, cx.input(1)?, cx.opt_input(2), cx.output(0)?);
        let o = options::depthwise_conv2d(cx.op.options)?;
        for (t, what) in [(input, "input"), (filter, "filter"), (output, "output")] {
            cx.rank(t, what, 4)?;
        }
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant filter"));
        }
        let in_c = input.shape[3];
        let (one, k_h, k_w, out_c) = (
            filter.shape[0],
            filter.shape[1],
            filter.shape[2],
            filter.shape[3],
        );
        if one != 1 {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                "depthwise filters have shape [1, H, W, C]",
            ));
        }
        if in_c == 0 || out_c % in_c != 0 {
            return Err(cx.err(format!(
                "output channels {out_c} are not a multiple of input channels {in_c}"
            )));
        }
        let dm = out_c / in_c;
        if o.depth_multiplier as i64 != dm as i64 {
            self.warnings.push(format!(
                "operator #{} (DEPTHWISE_CONV_2D): depth_multiplier option {} disagrees with the shapes ({} → {} channels); using {dm}",
                cx.op.index, o.depth_multiplier, in_c, out_c
            ));
        }
        let geom = self.conv_geometry(
            cx,
            input,
            output,
            (k_h, k_w, out_c),
            (o.stride_h, o.stride_w),
            (o.dilation_h, o.dilation_w),
            o.padding,
        )?;
        let act = cx.activation(o.activation)?;
        let macs = geom.output_elements() * (k_h * k_w) as u64;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                if matches!(self.target, Target::CortexMDsp | Target::Helium) {
                    let q = self.conv_quant_values(cx, input, filter, bias, output, out_c, 3)?;
                    let (act_min, act_max) = cx.act_i8(act, q.out_q)?;
                    let w = as_i8(filter.data.unwrap_or(&[]));
                    // Kernels for particular shapes first, then the general DSP depthwise.
                    let special = match self.target {
                        // One input channel: a dense convolution, all channels at once.
                        Target::CortexMDsp => lower_dsp::single_channel_as_dense(&geom, dm, &w)
                            .and_then(|dense| {
                                self.cortex_m_gemm(ii, oi, geom, 1, &dense, &q, (act_min, act_max))
                            }),
                        Target::Helium => lower_dsp::depthwise_helium(
                            &mut self.pool,
                            ii,
                            oi,
                            geom,
                            dm,
                            &w,
                            &q,
                            act_min,
                            act_max,
                        ),
                        Target::Portable => None,
                    };
                    if let Some((op, scratch)) = special.or_else(|| {
                        lower_dsp::depthwise(
                            &mut self.pool,
                            ii,
                            oi,
                            geom,
                            dm,
                            &w,
                            &q,
                            act_min,
                            act_max,
                        )
                    }) {
                        let param_bytes = 2 * filter.num_elements() + 16 * out_c;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let (bias, mult, shift, in_q, out_q) =
                    self.conv_requant(cx, input, filter, bias, output, out_c, 3)?;
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                let weights = self.pool.push_i8(&as_i8(filter.data.unwrap_or(&[])));
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let rq = Requant {
                    multiplier: mult,
                    shift,
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let op = Op::DepthwiseConv2dI8(DepthwiseConv2dI8 {
                    input: ii,
                    output: oi,
                    geom,
                    depth_multiplier: u32_of(dm),
                    weights,
                    bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.data.unwrap_or(&[])));
                let bias = self.f32_bias(cx, bias, out_c)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::DepthwiseConv2dF32(DepthwiseConv2dF32 {
                    input: ii,
                    output: oi,
                    geom,
                    depth_multiplier: u32_of(dm),
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/filter/output types {a}/{b}/{c}; supported: int8/int8/int8 and float32"
                )))
            }
        }
        Ok(())
    }

    fn fully_connected(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, filter, bias, output) =
            (cx.input(0)?, cx.input(1)?, cx.opt_input(2), cx.output(0)?);
        let o = options::fully_connected(cx.op.options)?;
        if o.weights_format != 0 {
            return Err(cx.unsupported("shuffled weights format"));
        }
        cx.rank(filter, "filter", 2)?;
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant weights"));
        }
        let (out_depth, in_depth) = (filter.shape[0], filter.shape[1]);
        let in_elems = input.num_elements();
        if in_depth == 0 || in_elems % in_depth != 0 {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!(
                    "{in_elems} elements are not a multiple of the weights' {in_depth} columns"
                ),
            ));
        }
        let batches = in_elems / in_depth;
        if output.num_elements() != batches * out_depth {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected {batches}x{out_depth} elements"),
            ));
        }
        let act = cx.activation(o.activation)?;
        let macs = (batches * in_depth * out_depth) as u64;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let (b, ind, outd) = (u32_of(batches), u32_of(in_depth), u32_of(out_depth));
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                let fq = filter.quant.as_ref().ok_or_else(|| {
                    cx.tensor_msg(filter, "filter", "int8 weights without quantization")
                })?;
                let (mut mult, mut shift) = (Vec::new(), Vec::new());
                let weights_offset;
                if fq.per_channel() {
                    if fq.axis != 0
                        || fq.scales.len() != out_depth
                        || fq.zero_points.iter().any(|&z| z != 0)
                    {
                        return Err(cx.tensor_msg(
                            filter,
                            "filter",
                            "per-channel weights need one symmetric scale per output row",
                        ));
                    }
                    weights_offset = 0;
                    for &fs in &fq.scales {
                        let real = in_q.scale as f64 * fs as f64 / out_q.scale as f64;
                        let (m, s) = quantize_multiplier(real)
                            .ok_or_else(|| cx.err(format!("multiplier {real} out of range")))?;
                        mult.push(m);
                        shift.push(s);
                    }
                } else {
                    weights_offset = -fq.zero_points[0];
                    // TFLM's GetQuantizedConvolutionMultipler multiplies the scales in single
                    // precision before widening: keep that rounding.
                    let real = (in_q.scale * fq.scales[0]) as f64 / out_q.scale as f64;
                    let (m, s) = quantize_multiplier(real)
                        .ok_or_else(|| cx.err(format!("multiplier {real} out of range")))?;
                    mult.push(m);
                    shift.push(s);
                }
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                // On the Cortex-M targets, a FULLY_CONNECTED with symmetric weights is a 1x1
                // convolution over a row of `batches` pixels: the GEMM kernels run it. The DSP
                // GEMM widens a block of four input rows first, which costs more than it saves
                // for fewer than four output rows (measured: vww_96_int8's 256 -> 2 layer).
                let gemm_pays = match self.target {
                    Target::CortexMDsp => out_depth >= 4,
                    Target::Helium => true,
                    Target::Portable => false,
                };
                if gemm_pays && weights_offset == 0 {
                    let w = as_i8(filter.data.unwrap_or(&[]));
                    // One multiplier and shift per output row (a per-tensor one repeated).
                    let per_row = |v: &[i32]| -> Vec<i32> {
                        (0..out_depth)
                            .map(|r| v.get(r).or(v.first()).copied().unwrap_or(0))
                            .collect()
                    };
                    let q = ConvQuant {
                        bias: self.i32_bias_values(cx, bias, out_depth)?,
                        multiplier: per_row(&mult),
                        shift: per_row(&shift),
                        in_q,
                        out_q,
                    };
                    let geom = ConvGeometry {
                        batches: 1,
                        in_h: 1,
                        in_w: b,
                        in_c: ind,
                        out_h: 1,
                        out_w: b,
                        out_c: outd,
                        k_h: 1,
                        k_w: 1,
                        stride_h: 1,
                        stride_w: 1,
                        dilation_h: 1,
                        dilation_w: 1,
                        pad_top: 0,
                        pad_left: 0,
                    };
                    let act = (act_min, act_max);
                    if let Some((op, scratch)) = self.cortex_m_gemm(ii, oi, geom, 1, &w, &q, act) {
                        let param_bytes = filter.num_elements() + 20 * out_depth;
                        self.push_with_scratch(cx, op, macs, param_bytes, scratch);
                        return Ok(());
                    }
                }
                let weights = self.pool.push_i8(&as_i8(filter.data.unwrap_or(&[])));
                let bias = self.i32_bias(cx, bias, out_depth)?;
                let rq = Requant {
                    multiplier: self.pool.push_i32(&mult),
                    shift: self.pool.push_i32(&shift),
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let op = Op::FullyConnectedI8(FullyConnectedI8 {
                    input: ii,
                    output: oi,
                    batches: b,
                    in_depth: ind,
                    out_depth: outd,
                    weights,
                    weights_offset,
                    bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.data.unwrap_or(&[])));
                let bias = self.f32_bias(cx, bias, out_depth)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::FullyConnectedF32(FullyConnectedF32 {
                    input: ii,
                    output: oi,
                    batches: b,
                    in_depth: ind,
                    out_depth: outd,
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/weights/output types {a}/{b}/{c}; supported: int8/int8/int8 and float32"
                )))
            }
        }
        Ok(())
    }

    fn pool(&mut self, cx: &OpCx<'_, 'g, 'a>, kind: PoolKind) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        cx.rank(input, "input", 4)?;
        cx.rank(output, "output", 4)?;
        let o = options::pool2d(cx.op.options)?;
        let (Some(fh), Some(fw), Some(sh), Some(sw)) = (
            positive(o.filter_h),
            positive(o.filter_w),
            positive(o.stride_h),
            positive(o.stride_w),
        ) else {
            return Err(cx.err(format!(
                "window {}x{} and strides ({}, {}) must be positive",
                o.filter_h, o.filter_w, o.stride_h, o.stride_w
            )));
        };
        let (n, in_h, in_w, c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (Some((oh, pt)), Some((ow, pl))) = (
            out_size_and_padding(o.padding, in_h, fh, sh, 1),
            out_size_and_padding(o.padding, in_w, fw, sw, 1),
        ) else {
            return Err(cx.err(format!(
                "padding code {} invalid or window larger than the input",
                o.padding
            )));
        };
        if output.shape != [n, oh, ow, c] {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected shape {:?}", [n, oh, ow, c]),
            ));
        }
        let geom = PoolGeometry {
            batches: u32_of(n),
            in_h: u32_of(in_h),
            in_w: u32_of(in_w),
            channels: u32_of(c),
            out_h: u32_of(oh),
            out_w: u32_of(ow),
            filter_h: u32_of(fh),
            filter_w: u32_of(fw),
            stride_h: u32_of(sh),
            stride_w: u32_of(sw),
            pad_top: u32_of(pt),
            pad_left: u32_of(pl),
        };
        let act = cx.activation(o.activation)?;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                if in_q != out_q {
                    self.warnings.push(format!(
                        "operator #{} ({}): input and output quantization differ; like TFLite Micro, values are not rescaled",
                        cx.op.index, cx.op.name
                    ));
                }
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                self.push(
                    cx,
                    Op::PoolI8(PoolI8 {
                        input: ii,
                        output: oi,
                        kind,
                        geom,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (DType::F32, DType::F32) => {
                let (act_min, act_max) = activation_range_f32(act);
                self.push(
                    cx,
                    Op::PoolF32(PoolF32 {
                        input: ii,
                        output: oi,
                        kind,
                        geom,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8 and float32"
                )))
            }
        }
        Ok(())
    }

    fn softmax(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.shape != output.shape || input.shape.is_empty() {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("must have the input's shape {:?}", input.shape),
            ));
        }
        let beta = options::softmax_beta(cx.op.options)?;
        let depth = *input.shape.last().unwrap_or(&1);
        let outer = input.num_elements().checked_div(depth).unwrap_or(0);
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let in_q = cx.qparams(input, "input")?;
                let out_q = cx.qparams(output, "output")?;
                if out_q.zero_point != -128 || (out_q.scale - 1.0 / 256.0).abs() > 0.001 / 256.0 {
                    return Err(cx.tensor_msg(output, "output", format!(
                        "int8 softmax output must have scale 1/256 and zero point -128 (TFLite Micro's requirement), found {} and {}",
                        out_q.scale, out_q.zero_point
                    )));
                }
                let (input_multiplier, input_left_shift, diff_min) =
                    k::softmax::prepare_softmax_i8(beta, in_q.scale).ok_or_else(|| {
                        cx.err(format!(
                            "beta {beta} with input scale {} gives an unrepresentable multiplier",
                            in_q.scale
                        ))
                    })?;
                let op = Op::SoftmaxI8(SoftmaxI8 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    depth: u32_of(depth),
                    input_multiplier,
                    input_left_shift,
                    diff_min,
                });
                self.push(cx, op, 0, 0);
            }
            (DType::F32, DType::F32) => {
                let op = Op::SoftmaxF32(SoftmaxF32 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    depth: u32_of(depth),
                    beta,
                });
                self.push(cx, op, 0, 0);
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8 and float32"
                )))
            }
        }
        Ok(())
    }

    fn reshape(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        if cx.op.outputs.len() != 1 || cx.op.inputs.is_empty() {
            return Err(cx.err("expects one data input and one output"));
        }
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.type_code != output.type_code {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!(
                    "has {} elements, the input {}",
                    output.num_elements(),
                    input.num_elements()
                ),
            ));
        }
        cx.dtype(input, "input")?;
        let src = self.operand(cx, input)?;
        let _ = src;
        self.id(output.index)?;
        // No layer: the output shares the input's memory.
        self.aliases.push((output.index, input.index));
        Ok(())
    }

    fn binary(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        if a.shape.len() > 4 || b.shape.len() > 4 {
            return Err(cx.unsupported("operands of rank above 4"));
        }
        let dims = |t: &GTensor<'_>| t.shape.iter().map(|&d| u32_of(d)).collect::<Vec<u32>>();
        let broadcast = k::binary::broadcast_for(&dims(a), &dims(b)).ok_or_else(|| {
            cx.err(format!(
                "shapes {:?} and {:?} do not broadcast",
                a.shape, b.shape
            ))
        })?;
        // NumPy broadcasting: align on the right, a dimension of 1 stretches.
        let rank = a.shape.len().max(b.shape.len());
        let dim = |t: &GTensor<'_>, d: usize| {
            if d + t.shape.len() >= rank {
                t.shape[d + t.shape.len() - rank]
            } else {
                1
            }
        };
        // A dimension of 1 stretches to the other (even to 0, as in NumPy).
        let out_shape: Vec<usize> = (0..rank)
            .map(|d| if dim(a, d) == 1 { dim(b, d) } else { dim(a, d) })
            .collect();
        let _ = &broadcast;
        if output.num_elements() != out_shape.iter().product::<usize>() {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {out_shape:?}")));
        }
        let act_code = options::binary_activation(cx.op.options)?;
        let act = cx.activation(act_code)?;
        let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
        let oi = self.id(output.index)?;
        let len = u32_of(output.num_elements());
        match (
            cx.dtype(a, "input")?,
            cx.dtype(b, "input")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                let (qa, qb, qo) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                    cx.qparams(output, "output")?,
                );
                let op = match cx.op.code {
                    oc::ADD => Op::AddI8(
                        k::binary::prepare_add_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(|| {
                                cx.err("quantization parameters give an unrepresentable multiplier")
                            })?,
                    ),
                    oc::SUB => Op::AddI8(AddI8 {
                        subtract: true,
                        ..k::binary::prepare_add_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(|| {
                                cx.err("quantization parameters give an unrepresentable multiplier")
                            })?
                    }),
                    _ => Op::MulI8(
                        k::binary::prepare_mul_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(|| {
                                cx.err("quantization parameters give an unrepresentable multiplier")
                            })?,
                    ),
                };
                self.push(cx, op, 0, 0);
            }
            (DType::F32, DType::F32, DType::F32) => {
                let kind = match cx.op.code {
                    oc::ADD => BinaryKind::Add,
                    oc::SUB => BinaryKind::Sub,
                    _ => BinaryKind::Mul,
                };
                let (act_min, act_max) = activation_range_f32(act);
                self.push(
                    cx,
                    Op::BinaryF32(BinaryF32 {
                        a: ai,
                        b: bi,
                        output: oi,
                        kind,
                        len,
                        broadcast,
                        act_min,
                        act_max,
                    }),
                    0,
                    0,
                );
            }
            (x, y, z) => {
                return Err(
                    cx.unsupported(format!("types {x}/{y}/{z}; supported: int8 and float32"))
                )
            }
        }
        Ok(())
    }

    fn concat(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        if cx.op.inputs.is_empty() || cx.op.outputs.len() != 1 {
            return Err(cx.err("expects at least one input and one output"));
        }
        let output = cx.output(0)?;
        let (axis, act) = options::concatenation(cx.op.options)?;
        if cx.activation(act)? != FusedActivation::None {
            return Err(cx.unsupported("fused activation on CONCATENATION"));
        }
        let rank = output.shape.len() as i32;
        let axis = if axis < 0 { axis + rank } else { axis };
        if axis < 0 || axis >= rank {
            return Err(cx.err(format!("axis {axis} out of range for rank {rank}")));
        }
        let axis = axis as usize;
        let dtype = cx.dtype(output, "output")?;
        let elem = dtype.size_bytes();
        let out_q = if dtype == DType::I8 {
            Some(cx.qparams(output, "output")?)
        } else {
            None
        };
        let mut ids = Vec::new();
        let mut chunks = Vec::new();
        let mut axis_total = 0usize;
        for k in 0..cx.op.inputs.len() {
            let t = cx.input(k)?;
            if t.dtype != Some(dtype) || t.shape.len() != output.shape.len() {
                return Err(cx.tensor_msg(
                    t,
                    "input",
                    format!(
                        "must have the output's type and rank ({})",
                        output.describe()
                    ),
                ));
            }
            for (d, (&a, &b)) in t.shape.iter().zip(&output.shape).enumerate() {
                if d != axis && a != b {
                    return Err(cx.tensor_msg(
                        t,
                        "input",
                        format!("dimension {d} differs from the output's"),
                    ));
                }
            }
            if let Some(oq) = out_q {
                let q = cx.qparams(t, "input")?;
                if q != oq {
                    return Err(cx.unsupported(format!(
                        "input tensor #{} '{}' quantized differently from the output (scale {} zp {} vs {} {}); TFLite Micro copies bytes without rescaling",
                        t.index, t.name, q.scale, q.zero_point, oq.scale, oq.zero_point
                    )));
                }
            }
            axis_total += t.shape[axis];
            chunks.push(u32_of(t.shape[axis..].iter().product::<usize>() * elem));
            ids.push(self.operand(cx, t)?.0);
        }
        if axis_total != output.shape[axis] {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!(
                    "axis {axis} has size {} but the inputs add up to {axis_total}",
                    output.shape[axis]
                ),
            ));
        }
        let outer = u32_of(output.shape[..axis].iter().product());
        let oi = self.id(output.index)?;
        let op = Op::Concat(Concat {
            inputs: self.pool.push_u16(&ids),
            chunk_bytes: self.pool.push_u32(&chunks),
            output: oi,
            outer,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    fn pad(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 3, 1)?;
        let (input, paddings, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let rank = input.shape.len();
        if rank > 4 {
            return Err(cx.unsupported("padding tensors of rank above 4"));
        }
        let p = cx.const_ints(paddings, "paddings")?;
        if p.len() != 2 * rank {
            return Err(cx.tensor_msg(paddings, "paddings", format!("expected shape [{rank}, 2]")));
        }
        let dtype = cx.dtype(input, "input")?;
        if output.dtype != Some(dtype) {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        let mut in_dims = [1u32; 4];
        let mut before = [0u32; 4];
        let mut after = [0u32; 4];
        let off = 4 - rank;
        for d in 0..rank {
            let (b, a) = (p[2 * d], p[2 * d + 1]);
            if b < 0 || a < 0 || b > 1 << 20 || a > 1 << 20 {
                return Err(cx.tensor_msg(
                    paddings,
                    "paddings",
                    format!("padding ({b}, {a}) of dimension {d} out of range"),
                ));
            }
            let expected = input.shape[d] + b as usize + a as usize;
            if output.shape.get(d) != Some(&expected) || output.shape.len() != rank {
                return Err(cx.tensor_msg(
                    output,
                    "output",
                    format!("dimension {d} should be {expected}"),
                ));
            }
            in_dims[off + d] = u32_of(input.shape[d]);
            before[off + d] = b as u32;
            after[off + d] = a as u32;
        }
        let mut value = [0u8; 4];
        if let Some(cv) = cx.opt_input(2) {
            let data = cv
                .data
                .ok_or_else(|| cx.unsupported("non-constant padding value"))?;
            if cv.type_code != input.type_code || data.len() != dtype.size_bytes() {
                return Err(cx.tensor_msg(
                    cv,
                    "constant_values",
                    "must be a scalar of the input's type",
                ));
            }
            value[..data.len()].copy_from_slice(data);
        } else if dtype == DType::I8 {
            value[0] = cx.qparams(output, "output")?.zero_point as i8 as u8;
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let op = Op::Pad(Pad {
            input: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            in_dims,
            before,
            after,
            value,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    fn mean(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, axes_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let rank = input.shape.len() as i64;
        let mut axes: Vec<usize> = Vec::new();
        for a in cx.const_ints(axes_t, "axis")? {
            let a = if a < 0 { a + rank } else { a };
            if a < 0 || a >= rank {
                return Err(cx.tensor_msg(
                    axes_t,
                    "axis",
                    format!("axis {a} out of range for rank {rank}"),
                ));
            }
            if !axes.contains(&(a as usize)) {
                axes.push(a as usize);
            }
        }
        axes.sort_unstable();
        if axes.is_empty() {
            return Err(cx.unsupported("MEAN over no axis"));
        }
        if axes.windows(2).any(|w| w[1] != w[0] + 1) {
            return Err(cx.unsupported(format!("MEAN over non-contiguous axes {axes:?}")));
        }
        let (first, last) = (axes[0], axes[axes.len() - 1]);
        let outer: usize = input.shape[..first].iter().product();
        let reduced: usize = input.shape[first..=last].iter().product();
        let inner: usize = input.shape[last + 1..].iter().product();
        if output.num_elements() != outer * inner {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected {} elements", outer * inner),
            ));
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let op = k::mean::prepare_mean_i8(ii, oi, &input.shape, &axes, qi, qo).ok_or_else(
                    || cx.err("quantization parameters give an unrepresentable multiplier"),
                )?;
                self.push(cx, Op::MeanI8(op), 0, 0);
            }
            (DType::F32, DType::F32) => {
                let op = MeanF32 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    reduced: u32_of(reduced),
                    inner: u32_of(inner),
                };
                self.push(cx, Op::MeanF32(op), 0, 0);
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8 and float32"
                )))
            }
        }
        Ok(())
    }

    fn unary(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let table = match cx.op.code {
                    oc::LOGISTIC => k::lut::logistic_table(qi, qo),
                    oc::TANH => k::lut::tanh_table(qi, qo),
                    oc::RELU => k::lut::relu_table(qi, qo),
                    oc::RELU6 => k::lut::relu6_table(qi, qo),
                    oc::RELU_N1_TO_1 => k::lut::relu_n1_to_1_table(qi, qo),
                    oc::HARD_SWISH => k::lut::hard_swish_table(qi, qo),
                    _ => k::lut::leaky_relu_table(options::leaky_relu_alpha(cx.op.options)?, qi, qo),
                }
                .ok_or_else(|| cx.err(format!(
                    "quantization (input scale {} zp {}, output scale {} zp {}) not accepted by the int8 kernel",
                    qi.scale, qi.zero_point, qo.scale, qo.zero_point
                )))?;
                let table = self.pool.push_i8(&table);
                self.push(
                    cx,
                    Op::LutI8(LutI8 {
                        input: ii,
                        output: oi,
                        table,
                    }),
                    0,
                    256,
                );
            }
            (DType::F32, DType::F32) => {
                let kind = match cx.op.code {
                    oc::LOGISTIC => UnaryKind::Logistic,
                    oc::TANH => UnaryKind::Tanh,
                    oc::RELU => UnaryKind::Relu,
                    oc::RELU6 => UnaryKind::Relu6,
                    oc::RELU_N1_TO_1 => UnaryKind::ReluN1To1,
                    oc::HARD_SWISH => UnaryKind::HardSwish,
                    _ => UnaryKind::LeakyRelu(options::leaky_relu_alpha(cx.op.options)?),
                };
                self.push(
                    cx,
                    Op::UnaryF32(UnaryF32 {
                        input: ii,
                        output: oi,
                        kind,
                    }),
                    0,
                    0,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8 and float32"
                )))
            }
        }
        Ok(())
    }

    fn quantize(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::F32, DType::I8) => {
                let qo = cx.qparams(output, "output")?;
                self.push(
                    cx,
                    Op::QuantizeF32(QuantizeF32 {
                        input: ii,
                        output: oi,
                        scale: qo.scale,
                        zero_point: qo.zero_point,
                    }),
                    0,
                    0,
                );
            }
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let table = k::lut::requantize_table(qi, qo)
                    .ok_or_else(|| cx.err("unrepresentable requantization"))?;
                let table = self.pool.push_i8(&table);
                self.push(
                    cx,
                    Op::LutI8(LutI8 {
                        input: ii,
                        output: oi,
                        table,
                    }),
                    0,
                    256,
                );
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "{a} → {b}; supported: float32 → int8 and int8 → int8"
                )))
            }
        }
        Ok(())
    }

    fn dequantize(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        if input.num_elements() != output.num_elements() {
            return Err(cx.tensor_msg(output, "output", "must have as many elements as the input"));
        }
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::F32) => {
                let qi = cx.qparams(input, "input")?;
                let table = self.pool.push_f32(&k::lut::dequantize_table(qi));
                let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
                self.push(
                    cx,
                    Op::DequantizeI8(DequantizeI8 {
                        input: ii,
                        output: oi,
                        table,
                    }),
                    0,
                    1024,
                );
            }
            (a, b) => return Err(cx.unsupported(format!("{a} → {b}; supported: int8 → float32"))),
        }
        Ok(())
    }

    /// TRANSPOSE_CONV: inputs are `output_shape` (a constant TFLM ignores, checked here against
    /// the output), the `[out_c, k_h, k_w, in_c]` filter, the input and an optional bias. The
    /// padding is TFLM's: that of the forward convolution from the output back to the input.
    fn transpose_conv(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 4, 1)?;
        let (shape_t, filter, input, bias, output) = (
            cx.input(0)?,
            cx.input(1)?,
            cx.input(2)?,
            cx.opt_input(3),
            cx.output(0)?,
        );
        // TransposeConvOptions shares Conv2DOptions' first four slots (padding, strides,
        // activation); its slot 5 is not a dilation, so the dilations read here are ignored.
        let o = options::conv2d(cx.op.options)?;
        for (t, what) in [(input, "input"), (filter, "filter"), (output, "output")] {
            cx.rank(t, what, 4)?;
        }
        if !filter.is_const() {
            return Err(cx.unsupported("non-constant filter"));
        }
        let declared = cx.const_ints(shape_t, "output_shape")?;
        if declared.len() != 4
            || declared
                .iter()
                .zip(&output.shape)
                .any(|(&d, &s)| d != s as i64)
        {
            return Err(cx.tensor_msg(
                shape_t,
                "output_shape",
                format!("{declared:?} is not the output's shape {:?}", output.shape),
            ));
        }
        let (n, in_h, in_w, in_c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (out_c, k_h, k_w, f_in_c) = (
            filter.shape[0],
            filter.shape[1],
            filter.shape[2],
            filter.shape[3],
        );
        if f_in_c != in_c || output.shape[3] != out_c || output.shape[0] != n {
            return Err(cx.tensor_msg(
                filter,
                "filter",
                format!(
                    "expected [{}, kh, kw, {in_c}] for input {} and output {}",
                    output.shape[3],
                    input.describe(),
                    output.describe()
                ),
            ));
        }
        let (Some(sh), Some(sw)) = (positive(o.stride_h), positive(o.stride_w)) else {
            return Err(cx.err(format!(
                "strides must be positive, got ({}, {})",
                o.stride_h, o.stride_w
            )));
        };
        if k_h == 0 || k_w == 0 {
            return Err(cx.err("empty filter"));
        }
        let (out_h, out_w) = (output.shape[1], output.shape[2]);
        let (Some((fwd_h, pt)), Some((fwd_w, pl))) = (
            out_size_and_padding(o.padding, out_h, k_h, sh, 1),
            out_size_and_padding(o.padding, out_w, k_w, sw, 1),
        ) else {
            return Err(cx.err(format!(
                "padding code {} invalid or filter larger than the output",
                o.padding
            )));
        };
        if (fwd_h, fwd_w) != (in_h, in_w) {
            return Err(cx.tensor_msg(
                input,
                "input",
                format!(
                    "a {k_h}x{k_w} filter with strides ({sh}, {sw}) and this padding maps the \
                     output's {out_h}x{out_w} to {fwd_h}x{fwd_w}, not the input's {in_h}x{in_w}"
                ),
            ));
        }
        let geom = ConvGeometry {
            batches: u32_of(n),
            in_h: u32_of(in_h),
            in_w: u32_of(in_w),
            in_c: u32_of(in_c),
            out_h: u32_of(out_h),
            out_w: u32_of(out_w),
            out_c: u32_of(out_c),
            k_h: u32_of(k_h),
            k_w: u32_of(k_w),
            stride_h: u32_of(sh),
            stride_w: u32_of(sw),
            dilation_h: 1,
            dilation_w: 1,
            pad_top: u32_of(pt),
            pad_left: u32_of(pl),
        };
        let act = cx.activation(o.activation)?;
        // Every input element meets every tap of every output channel's filter once.
        let macs = geom.input_elements() * (k_h * k_w * out_c) as u64;
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (
            cx.dtype(input, "input")?,
            cx.dtype(filter, "filter")?,
            cx.dtype(output, "output")?,
        ) {
            (DType::I8, DType::I8, DType::I8) => {
                // TFLM quantizes TRANSPOSE_CONV filters along dimension 0 (output channels).
                let (bias, mult, shift, in_q, out_q) =
                    self.conv_requant(cx, input, filter, bias, output, out_c, 0)?;
                let (act_min, act_max) = cx.act_i8(act, out_q)?;
                let weights = self.pool.push_i8(&as_i8(filter.data.unwrap_or(&[])));
                let param_bytes = filter.num_elements() + 4 * bias.len as usize;
                let rq = Requant {
                    multiplier: mult,
                    shift,
                    input_offset: -in_q.zero_point,
                    output_offset: out_q.zero_point,
                    act_min,
                    act_max,
                };
                let op = Op::TransposeConv2dI8(TransposeConv2dI8 {
                    input: ii,
                    output: oi,
                    geom,
                    weights,
                    bias,
                    rq,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (DType::F32, DType::F32, DType::F32) => {
                let weights = self.pool.push_f32(&as_f32(filter.data.unwrap_or(&[])));
                let bias = self.f32_bias(cx, bias, out_c)?;
                let (act_min, act_max) = activation_range_f32(act);
                let param_bytes = 4 * (filter.num_elements() + bias.len as usize);
                let op = Op::TransposeConv2dF32(TransposeConv2dF32 {
                    input: ii,
                    output: oi,
                    geom,
                    weights,
                    bias,
                    act_min,
                    act_max,
                });
                self.push(cx, op, macs, param_bytes);
            }
            (a, b, c) => {
                return Err(cx.unsupported(format!(
                    "input/filter/output types {a}/{b}/{c}; supported: int8/int8/int8 and float32"
                )))
            }
        }
        Ok(())
    }

    /// RESIZE_NEAREST_NEIGHBOR: the source row and column of every output row and column are
    /// computed here with TFLM's float arithmetic; the layer only copies.
    fn resize_nearest(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, size_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        cx.rank(input, "input", 4)?;
        cx.rank(output, "output", 4)?;
        // ResizeNearestNeighborOptions: align_corners (slot 4), half_pixel_centers (slot 6).
        let (align_corners, half_pixel_centers) = match cx.op.options {
            Some(t) => (t.bool(4, false)?, t.bool(6, false)?),
            None => (false, false),
        };
        let size = cx.const_ints(size_t, "size")?;
        let (n, in_h, in_w, c) = (
            input.shape[0],
            input.shape[1],
            input.shape[2],
            input.shape[3],
        );
        let (out_h, out_w) = (output.shape[1], output.shape[2]);
        if size.len() != 2 || size[0] != out_h as i64 || size[1] != out_w as i64 {
            return Err(cx.tensor_msg(
                size_t,
                "size",
                format!("{size:?} is not the output's height and width [{out_h}, {out_w}]"),
            ));
        }
        if output.shape[0] != n || output.shape[3] != c {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("must keep the input's batch {n} and channels {c}"),
            ));
        }
        if in_h == 0 || in_w == 0 || out_h == 0 || out_w == 0 {
            return Err(cx.err("empty input or output image"));
        }
        let dtype = cx.dtype(input, "input")?;
        if output.dtype != Some(dtype) {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        if dtype == DType::I8 && cx.qparams(input, "input")? != cx.qparams(output, "output")? {
            self.warnings.push(format!(
                "operator #{} ({}): input and output quantization differ; like TFLite Micro, values are not rescaled",
                cx.op.index, cx.op.name
            ));
        }
        let (in_h, in_w, out_h, out_w) = (u32_of(in_h), u32_of(in_w), u32_of(out_h), u32_of(out_w));
        let index = |out, in_size, out_size| {
            k::resize::nearest_neighbor_index(
                out,
                in_size,
                out_size,
                align_corners,
                half_pixel_centers,
            )
        };
        let rows: Vec<u32> = (0..out_h).map(|y| index(y, in_h, out_h)).collect();
        let cols: Vec<u32> = (0..out_w).map(|x| index(x, in_w, out_w)).collect();
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        let op = Op::ResizeNearest(ResizeNearest {
            input: ii,
            output: oi,
            elem_bytes: u32_of(dtype.size_bytes()),
            batches: u32_of(n),
            in_h,
            in_w,
            channels: u32_of(c),
            src_rows: self.pool.push_u32(&rows),
            src_cols: self.pool.push_u32(&cols),
        });
        self.push(cx, op, 0, 4 * (rows.len() + cols.len()));
        Ok(())
    }
}
