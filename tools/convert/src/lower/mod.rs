//! Lowering: each TFLite operator becomes a layer with every parameter precomputed.
//!
//! This is where TFLite Micro's `Prepare` functions happen, once, on the host: requantization
//! multipliers and shifts (in the same float/double precision TFLM uses), activation clamp
//! ranges, padding, lookup tables for elementwise int8 functions. RESHAPE-like operators
//! become aliases (no layer at all).

use crate::consts::ConstPool;
use crate::error::{ConvertError, Result};
use crate::flash::Int8Weights;
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
    /// The persistent state region: its slots, in the order layers name them.
    pub state_slots: Vec<ferrite_core::StateSlot>,
    /// TFLite index of each slot's variable tensor (parallel to `state_slots`): for a
    /// resource variable, the tensor that first reads or assigns it.
    pub state_tensors: Vec<usize>,
    /// Each slot's name in reports (parallel to `state_slots`): the variable tensor's, or a
    /// resource variable's shared name.
    pub state_names: Vec<String>,
    /// Bytes of the state region (each slot 16-byte aligned).
    pub state_bytes: usize,
}

mod activation;
mod circular_buffer;
mod conv;
mod detection;
mod elementwise;
mod lstm;
mod math;
mod matmul;
mod movement;
mod normalize;
mod pool;
mod quantize;
mod reduce;
mod resize;
pub(crate) mod shuffle;
mod signal;
mod space_batch;
mod svdf;
mod variable;

/// The operator registry: every TFLite builtin Ferrite converts and the [`Lowerer`] method (in
/// the operator family's module, `lower/<family>.rs`) that takes it. [`SUPPORTED_OPS`] (for
/// errors and the README table's test) and the dispatch are both derived from this one list,
/// so adding an operator is one line here plus its family module. A string literal names a
/// custom operator (builtin code `CUSTOM`) by its custom code, which is also its name in
/// [`SUPPORTED_OPS`] (the graph calls the operator `CUSTOM:<custom code>`).
macro_rules! registry {
    (@name $name:ident) => { stringify!($name) };
    (@name $name:literal) => { $name };
    (@is $op:expr, $name:ident) => { $op.code == oc::$name };
    (@is $op:expr, $name:literal) => {
        $op.code == oc::CUSTOM && $op.custom_code.as_deref() == Some($name)
    };
    ($($name:tt => $method:ident($($arg:expr),*)),* $(,)?) => {
        /// Operators Ferrite converts, by TFLite name (the registry's order: alphabetical).
        pub const SUPPORTED_OPS: &[&str] = &[$(registry!(@name $name)),*];

        impl<'g, 'a> Lowerer<'g, 'a> {
            /// Runs the registered lowering of `cx`'s operator; `None` for an unregistered one.
            fn dispatch(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Option<Result<()>> {
                $(if registry!(@is cx.op, $name) {
                    return Some(self.$method(cx $(, $arg)*));
                })*
                None
            }
        }
    };
}

registry! {
    "CIRCULAR_BUFFER" => circular_buffer(),
    "SignalEnergy" => signal_energy(),
    "SignalDelay" => signal_delay(),
    "SignalFftAutoScale" => signal_fft_auto_scale(),
    "SignalFilterBank" => signal_filter_bank(),
    "SignalFilterBankLog" => signal_filter_bank_log(),
    "SignalFilterBankSpectralSubtraction" => signal_spectral_subtraction(),
    "SignalFilterBankSquareRoot" => signal_filter_bank_square_root(),
    "SignalFramer" => signal_framer(),
    "SignalIrfft" => signal_irfft(),
    "SignalOverlapAdd" => signal_overlap_add(),
    "SignalPCAN" => signal_pcan(),
    "SignalRfft" => signal_rfft(),
    "SignalStacker" => signal_stacker(),
    "SignalWindow" => signal_window(),
    "TFLite_Detection_PostProcess" => detection_postprocess(),
    ABS => math_unary(UnaryKind::Abs),
    ADD => binary(),
    ADD_N => add_n(),
    ARG_MAX => arg_min_max(true),
    ARG_MIN => arg_min_max(false),
    ASSIGN_VARIABLE => assign_variable(),
    AVERAGE_POOL_2D => pool(PoolKind::Average),
    BATCH_MATMUL => batch_matmul(),
    BATCH_TO_SPACE_ND => batch_to_space(),
    BROADCAST_ARGS => folded_only(),
    BROADCAST_TO => broadcast_to(),
    CALL_ONCE => call_once(),
    CAST => cast(),
    CEIL => math_unary(UnaryKind::Ceil),
    CONCATENATION => concat(),
    CONV_2D => conv2d(),
    COS => math_unary(UnaryKind::Cos),
    CUMSUM => cumsum(),
    DEPTHWISE_CONV_2D => depthwise(),
    DEPTH_TO_SPACE => space_depth(),
    DEQUANTIZE => dequantize(),
    DIV => binary(),
    DYNAMIC_UPDATE_SLICE => dynamic_update_slice(),
    ELU => math_unary(UnaryKind::Elu),
    EMBEDDING_LOOKUP => gather(),
    EQUAL => compare(CompareKind::Equal),
    EXP => math_unary(UnaryKind::Exp),
    EXPAND_DIMS => reshape(),
    FILL => broadcast_to(),
    FLOOR => math_unary(UnaryKind::Floor),
    FLOOR_DIV => floor_div_mod(),
    FLOOR_MOD => floor_div_mod(),
    FULLY_CONNECTED => fully_connected(),
    GATHER => gather(),
    GATHER_ND => gather_nd(),
    GREATER => compare(CompareKind::Greater),
    GREATER_EQUAL => compare(CompareKind::GreaterEqual),
    HARD_SWISH => unary(),
    L2_NORMALIZATION => l2_normalization(),
    L2_POOL_2D => l2_pool(),
    LEAKY_RELU => unary(),
    LESS => compare(CompareKind::Less),
    LESS_EQUAL => compare(CompareKind::LessEqual),
    LOG => math_unary(UnaryKind::Log),
    LOGICAL_AND => logical(IntBinaryKind::LogicalAnd),
    LOGICAL_NOT => logical_not(),
    LOGICAL_OR => logical(IntBinaryKind::LogicalOr),
    LOGISTIC => unary(),
    LOG_SOFTMAX => log_softmax(),
    MAXIMUM => min_max(),
    MAX_POOL_2D => pool(PoolKind::Max),
    MEAN => mean(),
    MINIMUM => min_max(),
    MIRROR_PAD => mirror_pad(),
    MUL => binary(),
    NEG => math_unary(UnaryKind::Neg),
    NOT_EQUAL => compare(CompareKind::NotEqual),
    PACK => pack(),
    PAD => pad(),
    PADV2 => pad(),
    PRELU => prelu(),
    QUANTIZE => quantize(),
    READ_VARIABLE => read_variable(),
    REDUCE_ALL => reduce_all(),
    REDUCE_MAX => reduce(ReduceFn::Max),
    REDUCE_MIN => reduce(ReduceFn::Min),
    RELU => unary(),
    RELU6 => unary(),
    RELU_N1_TO_1 => unary(),
    RESHAPE => reshape(),
    RESIZE_BILINEAR => resize_bilinear(),
    RESIZE_NEAREST_NEIGHBOR => resize_nearest(),
    REVERSE_V2 => reverse(),
    ROUND => math_unary(UnaryKind::Round),
    RSQRT => math_unary(UnaryKind::Rsqrt),
    SELECT_V2 => select(),
    SHAPE => folded_only(),
    SIN => math_unary(UnaryKind::Sin),
    SLICE => slice(),
    SOFTMAX => softmax(),
    SPACE_TO_BATCH_ND => space_to_batch(),
    SPACE_TO_DEPTH => space_depth(),
    SPLIT => split(),
    SPLIT_V => split(),
    SQRT => math_unary(UnaryKind::Sqrt),
    SQUARE => math_unary(UnaryKind::Square),
    SQUARED_DIFFERENCE => squared_difference(),
    SQUEEZE => reshape(),
    STRIDED_SLICE => strided_slice(),
    SUB => binary(),
    SUM => reduce(ReduceFn::Sum),
    SVDF => svdf(),
    TANH => unary(),
    TRANSPOSE => transpose(),
    TRANSPOSE_CONV => transpose_conv(),
    UNIDIRECTIONAL_SEQUENCE_LSTM => sequence_lstm(),
    UNPACK => unpack(),
    VAR_HANDLE => var_handle(),
    ZEROS_LIKE => folded_only(),
}

struct Lowerer<'g, 'a> {
    g: &'g Graph<'a>,
    target: Target,
    pool: ConstPool,
    ids: Vec<Option<TensorId>>,
    tensors: Vec<usize>,
    aliases: Vec<(usize, usize)>,
    layers: Vec<LoweredLayer>,
    warnings: Vec<String>,
    /// Most activation bytes live at once in `g` (the layer-by-layer bound before any kernel
    /// scratch): kernels whose scratch size is a speed choice keep within it.
    activation_peak: u64,
    /// Activation bytes alive while each operator of `g` runs.
    live: Vec<usize>,
    /// Position in `g.ops` of the operator being lowered.
    step: usize,
    /// The layers whose DSP GEMM keeps int8 weights, and whose DSP depthwise convolution its
    /// packed int8 constants ([`crate::Options::int8_weights`]).
    int8_weights: Int8Weights,
    /// The TFLite index of the operator being lowered.
    op_index: usize,
    /// The state region planned so far (see [`Lowered::state_slots`]).
    state_slots: Vec<ferrite_core::StateSlot>,
    /// TFLite index of each slot's variable tensor.
    state_tensors: Vec<usize>,
    /// Each slot's name in reports.
    state_names: Vec<String>,
    /// The state slot of each resource variable ([`Graph::resources`]), once planned.
    variable_slots: Vec<Option<u16>>,
    /// CIRCULAR_BUFFERs so far whose stride TFLite Micro guesses (see `circular_buffer.rs`).
    circular_buffer_guesses: u32,
}

/// Most activation bytes live at once when `g`'s operators run in order: each non-constant
/// tensor lives from the operator writing it (or the start, for a model input) to the last
/// one reading it (or the end, for a model output); views count in their whole tensor and an
/// input read in place not at all.
fn activation_peak(g: &Graph<'_>) -> u64 {
    crate::patch::live_peak(g, g.input_in_place, 1) as u64
}

impl Lowerer<'_, '_> {
    /// Bytes a kernel may use for speed-chosen scratch while the current operator runs: what
    /// the activation peak leaves beside every tensor alive at this step.
    fn scratch_room(&self) -> u64 {
        let live = self.live.get(self.step).copied().unwrap_or(0) as u64;
        self.activation_peak.saturating_sub(live)
    }
}

/// Lowers every operator of `g`.
pub fn lower(g: &Graph<'_>, target: Target, int8_weights: &Int8Weights) -> Result<Lowered> {
    let mut l = Lowerer {
        g,
        target,
        pool: ConstPool::default(),
        ids: vec![None; g.tensors.len()],
        tensors: Vec::new(),
        aliases: Vec::new(),
        layers: Vec::new(),
        warnings: Vec::new(),
        activation_peak: activation_peak(g),
        live: crate::patch::live_steps(g, g.input_in_place, 1),
        step: 0,
        int8_weights: int8_weights.clone(),
        op_index: 0,
        state_slots: Vec::new(),
        state_tensors: Vec::new(),
        state_names: Vec::new(),
        variable_slots: vec![None; g.resources.variables.len()],
        circular_buffer_guesses: 0,
    };
    for &i in &g.inputs {
        l.id(i)?;
    }
    for (step, op) in g.ops.iter().enumerate() {
        l.step = step;
        l.op_index = op.index;
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
        if g.tensors[o].is_const() {
            // An output the converter computed (its operators folded): copied in at the end.
            let source = g.ops.last().map_or(0, |op| op.index);
            l.load_const(&g.tensors[o], "constant model output".into(), source)?;
        } else {
            l.id(o)?;
        }
    }
    let state_bytes = l
        .state_slots
        .iter()
        .map(|s| s.offset as usize + s.bytes as usize)
        .max()
        .unwrap_or(0)
        .next_multiple_of(ferrite_core::arena::ARENA_ALIGN);
    Ok(Lowered {
        layers: l.layers,
        tensors: l.tensors,
        aliases: l.aliases,
        pool: l.pool,
        warnings: l.warnings,
        state_slots: l.state_slots,
        state_tensors: l.state_tensors,
        state_names: l.state_names,
        state_bytes,
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
        let data = t.data.as_deref().ok_or_else(|| {
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
pub(crate) fn out_size_and_padding(
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
fn as_i16(data: &[u8]) -> Vec<i16> {
    data.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
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
        if t.is_variable {
            return Err(ConvertError::Tensor {
                index: i,
                name: t.name.clone(),
                message: "variable (stateful) tensor used as a model input or output, or by an operator that keeps no state (only SVDF's activation state and UNIDIRECTIONAL_SEQUENCE_LSTM's hidden and cell states are supported)".into(),
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
        self.load_const(t, format!("{} (constant operand)", cx.op.name), cx.op.index)
    }

    /// The [`TensorId`] of constant `t` in the arena, copied there by a `LoadConst` layer
    /// (named `name`, reported as part of operator `source_op`) on first use.
    fn load_const(&mut self, t: &GTensor<'_>, name: String, source_op: usize) -> Result<TensorId> {
        if let Some(id) = self.ids[t.index] {
            return Ok(id);
        }
        let id = TensorId(
            u16::try_from(self.tensors.len())
                .map_err(|_| ConvertError::Model("more than 65535 activation tensors".into()))?,
        );
        self.ids[t.index] = Some(id);
        self.tensors.push(t.index);
        let data = self.pool.push_bytes(t.bytes(), 4);
        self.layers.push(LoweredLayer {
            op: Op::LoadConst(LoadConst { data, output: id }),
            name,
            source_op,
            macs: 0,
            param_bytes: t.data.as_ref().map_or(0, |d| d.len()),
            inputs: vec![],
            outputs: vec![t.index],
            scratch_bytes: 0,
        });
        Ok(id)
    }

    /// The state slot of variable tensor `t`, planned on first use: 16-byte aligned after
    /// the slots before it, starting from the value TFLite Micro's `ResetVariableTensors`
    /// gives it (an int8 tensor's zero point, zero for every other type).
    fn state_slot(&mut self, cx: &OpCx<'_, '_, '_>, t: &GTensor<'_>, what: &str) -> Result<u16> {
        if !t.is_variable {
            return Err(cx.tensor_msg(t, what, "must be a variable (stateful) tensor"));
        }
        if let Some(k) = self.state_tensors.iter().position(|&i| i == t.index) {
            return u16::try_from(k).map_err(|_| cx.err("more than 65535 state slots"));
        }
        let elem = cx.dtype(t, what)?.size_bytes();
        let bytes = t.num_elements() * elem;
        let fill = match t.dtype {
            Some(DType::I8) => t.qparams().map_or(0, |q| q.zero_point) as i8 as u8,
            _ => 0,
        };
        let name = t.name.clone();
        self.new_state_slot(
            cx,
            (t.index, name),
            bytes,
            fill,
            ferrite_core::ConstRef::EMPTY,
        )
    }

    /// A new slot of `bytes` bytes in the state region, 16-byte aligned after the slots
    /// before it, starting from `fill` or from `init` (see [`ferrite_core::StateSlot`]);
    /// `tensor` is the TFLite tensor reports describe it by, and the name they give it.
    fn new_state_slot(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        (tensor, name): (usize, String),
        bytes: usize,
        fill: u8,
        init: ferrite_core::ConstRef<u8>,
    ) -> Result<u16> {
        let offset = self
            .state_slots
            .last()
            .map_or(0, |s| s.offset as usize + s.bytes as usize)
            .next_multiple_of(ferrite_core::arena::ARENA_ALIGN);
        let (offset, size) = match (u32::try_from(offset), u32::try_from(bytes)) {
            (Ok(o), Ok(b)) if o.checked_add(b).is_some() => (o, b),
            _ => return Err(cx.err("the state region exceeds 4 GiB")),
        };
        let k = u16::try_from(self.state_slots.len())
            .map_err(|_| cx.err("more than 65535 state slots"))?;
        self.state_slots.push(ferrite_core::StateSlot {
            offset,
            bytes: size,
            fill,
            init,
        });
        self.state_tensors.push(tensor);
        self.state_names.push(name);
        Ok(k)
    }

    /// A state slot of `bytes` bytes for an operator's own persistent buffer (not a variable
    /// tensor), zero after a reset; reported under tensor `t`, the operator output that
    /// shows its contents.
    fn internal_state_slot(
        &mut self,
        cx: &OpCx<'_, '_, '_>,
        t: &GTensor<'_>,
        bytes: usize,
    ) -> Result<u16> {
        let name = t.name.clone();
        self.new_state_slot(cx, (t.index, name), bytes, 0, ConstRef::EMPTY)
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
                // A variable tensor lives in the state region, not the arena: nothing to plan.
                .filter(|&i| !self.g.tensors[i].is_variable)
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
    /// and no-DSP targets the GEMM operator (int8 weights for the no-DSP kernels); `None` on
    /// the portable target or when no kernel is exact for it.
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
            Target::CortexMDsp | Target::CortexMNoDsp => None,
        };
        let nodsp = self.target == Target::CortexMNoDsp;
        let int8 = self.int8_weights.selects(self.op_index);
        helium.or_else(|| {
            lower_dsp::conv_gemm(
                pool, input, output, geom, groups, weights, q, act_min, act_max, nodsp, int8,
            )
        })
    }

    fn lower_op(&mut self, op: &GOp<'a>) -> Result<()> {
        let cx = OpCx { op, g: self.g };
        self.dispatch(&cx).unwrap_or_else(|| {
            Err(cx.unsupported(format!(
                "supported operators are {}",
                SUPPORTED_OPS.join(", ")
            )))
        })
    }
}
