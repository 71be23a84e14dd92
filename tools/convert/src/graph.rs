//! The graph IR: a validated view of the TFLite main subgraph.
//!
//! Building it checks everything that does not depend on an operator's semantics: every
//! index is in range, constant buffers have the size their shape says, quantization arrays
//! are consistent, and the operators form a valid schedule (every tensor is written at most
//! once, before it is read — which also rules out cycles).

use crate::error::{ConvertError, Result};
use crate::tflite::flatbuf::Table;
use crate::tflite::opcodes;
use crate::tflite::schema::{tensor_type, TfModel};
use ferrite_core::DType;
use std::borrow::Cow;

/// Largest tensor (in bytes) the converter accepts: far beyond any microcontroller, small
/// enough that hostile shapes cannot make the host allocate without bound.
pub const MAX_TENSOR_BYTES: usize = 1 << 30;

/// Quantization of a tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Quant {
    /// One scale, or one per slice along `axis`.
    pub scales: Vec<f32>,
    /// Zero points, parallel to `scales`.
    pub zero_points: Vec<i32>,
    /// Axis of per-channel quantization.
    pub axis: usize,
}

impl Quant {
    /// True for per-channel quantization (more than one scale).
    pub fn per_channel(&self) -> bool {
        self.scales.len() > 1
    }
}

/// A tensor of the graph.
#[derive(Debug, Clone)]
pub struct GTensor<'a> {
    /// Index in the TFLite subgraph.
    pub index: usize,
    /// Name from the file.
    pub name: String,
    /// Element type, if Ferrite has one for it.
    pub dtype: Option<DType>,
    /// TFLite `TensorType` code.
    pub type_code: u8,
    /// Shape (empty for scalars).
    pub shape: Vec<usize>,
    /// Quantization, if the tensor has any scale.
    pub quant: Option<Quant>,
    /// Constant data, if the tensor has a non-empty buffer (borrowed from the file) or the
    /// converter computed it (owned: a folded operator's result).
    pub data: Option<Cow<'a, [u8]>>,
    /// Byte offset of the constant data (or of the tensor table) in the file.
    pub file_offset: usize,
    /// A variable (stateful) tensor: it lives in the model's persistent state region, not
    /// the arena, and keeps its value from one inference to the next.
    pub is_variable: bool,
}

impl GTensor<'_> {
    /// Number of elements.
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// The constant data, or nothing for an activation.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or(&[])
    }

    /// True for constants (weights, biases, shape operands).
    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }

    /// Per-tensor scale and zero point, if quantized.
    pub fn qparams(&self) -> Option<ferrite_core::quant::QParams> {
        let q = self.quant.as_ref()?;
        Some(ferrite_core::quant::QParams {
            scale: *q.scales.first()?,
            zero_point: *q.zero_points.first()?,
        })
    }

    /// Human-readable type and shape, e.g. `int8[1,96,96,3]`.
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let ty = self.dtype.map_or_else(
            || tensor_type::name(self.type_code).to_lowercase(),
            |d| d.name().to_string(),
        );
        format!("{ty}[{}]", dims.join(","))
    }
}

/// An operator of the graph.
#[derive(Debug, Clone)]
pub struct GOp<'a> {
    /// Index in execution order.
    pub index: usize,
    /// Builtin operator code.
    pub code: i32,
    /// Operator name (`CONV_2D`, or the custom code's name).
    pub name: String,
    /// Operator version.
    pub version: i32,
    /// Input tensor indices (`None` for an omitted optional input).
    pub inputs: Vec<Option<usize>>,
    /// Output tensor indices.
    pub outputs: Vec<usize>,
    /// `BuiltinOptions` type code.
    pub options_type: u8,
    /// `BuiltinOptions` table.
    pub options: Option<Table<'a>>,
    /// A custom operator's custom code (`TFLite_Detection_PostProcess`); `None` for builtins.
    pub custom_code: Option<String>,
    /// The custom options' bytes (a FlexBuffer for TFLite's custom operators; empty if none).
    pub custom_options: &'a [u8],
    /// For a convolution the converter rewrote from `SPACE_TO_BATCH_ND → conv →
    /// BATCH_TO_SPACE_ND` ([`crate::fold`]): the dilation and explicit padding that replace
    /// the options' (stride 1, dilation 1, VALID).
    pub dilated: Option<Dilated>,
}

/// Dilation and explicit leading padding of a rewritten convolution (see [`GOp::dilated`]);
/// the output shape is the operator's output tensor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dilated {
    /// `(height, width)` dilation: the block shape of the removed SPACE_TO_BATCH_ND.
    pub dilation: (i32, i32),
    /// `(top, left)` padding: SPACE_TO_BATCH_ND's leading padding less BATCH_TO_SPACE_ND's
    /// leading crop.
    pub pad: (usize, usize),
}

/// The validated main subgraph.
#[derive(Debug, Clone)]
pub struct Graph<'a> {
    /// Tensors, indexed as in the file.
    pub tensors: Vec<GTensor<'a>>,
    /// Operators in execution order.
    pub ops: Vec<GOp<'a>>,
    /// Graph input tensors.
    pub inputs: Vec<usize>,
    /// Graph output tensors.
    pub outputs: Vec<usize>,
    /// Things accepted with a caveat.
    pub warnings: Vec<String>,
    /// What [`crate::fold`] did to the graph, one line per operator folded or rewritten.
    pub folded: Vec<String>,
    /// Tensors that are rows of another tensor ([`crate::patch`]), in creation order.
    pub views: Vec<View>,
    /// Input 0 is read in place from the caller's buffer instead of being copied into the
    /// arena (chosen to fit a RAM budget; see `ferrite_core::Model::input_in_place`).
    pub input_in_place: bool,
    /// Positions in `ops` of the depthwise convolutions that run in place ([`crate::inplace`]).
    pub in_place_ops: Vec<usize>,
    /// Kernels whose scratch is a speed choice never take more than the activation peak
    /// leaves: a Cortex-M DSP depthwise convolution that needs more even for one row runs on
    /// the portable kernel instead (no scratch). Set by [`crate::budget`] when no plan fits
    /// its budget otherwise.
    pub scratch_within_peak: bool,
    /// Resource variables: the variable each handle tensor names and the initial values
    /// `CALL_ONCE` subgraphs give them ([`crate::resource`]).
    pub resources: crate::resource::Resources<'a>,
}

/// A tensor whose bytes are a contiguous part of another's: rows of an NHWC tensor, which a
/// band of a patch-executed prefix reads or writes ([`crate::patch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The view (a tensor of the graph with its own shape).
    pub tensor: usize,
    /// The tensor it is part of (itself possibly a view).
    pub parent: usize,
    /// Where the view starts in the parent, in bytes.
    pub byte_offset: usize,
}

impl Graph<'_> {
    /// For every tensor, the tensor whose bytes it lies in: itself, or for a view the root of
    /// its chain of parents.
    pub fn view_roots(&self) -> Vec<usize> {
        let mut root: Vec<usize> = (0..self.tensors.len()).collect();
        // Views are created after their parents, so one pass in creation order resolves chains.
        for v in &self.views {
            root[v.tensor] = root[v.parent];
        }
        root
    }

    /// Byte offset of every tensor within its root ([`Graph::view_roots`]).
    pub fn view_offsets(&self) -> Vec<usize> {
        let mut offset = vec![0usize; self.tensors.len()];
        for v in &self.views {
            offset[v.tensor] = offset[v.parent] + v.byte_offset;
        }
        offset
    }
}

fn tensor_err(
    t: &crate::tflite::schema::TfTensor,
    index: usize,
    message: impl Into<String>,
) -> ConvertError {
    ConvertError::Tensor {
        index,
        name: t.name.clone(),
        message: message.into(),
    }
}

fn dtype_of(code: u8) -> Option<DType> {
    match code {
        tensor_type::FLOAT32 => Some(DType::F32),
        tensor_type::INT8 => Some(DType::I8),
        tensor_type::UINT8 => Some(DType::U8),
        tensor_type::INT16 => Some(DType::I16),
        tensor_type::INT32 => Some(DType::I32),
        tensor_type::INT64 => Some(DType::I64),
        tensor_type::BOOL => Some(DType::Bool),
        tensor_type::UINT32 => Some(DType::U32),
        tensor_type::UINT64 => Some(DType::U64),
        _ => None,
    }
}

/// Byte size of a TFLite element type, for checking constant buffer sizes.
fn type_code_size(code: u8) -> Option<usize> {
    match code {
        0 | 2 | 15 => Some(4),      // FLOAT32, INT32, UINT32
        1 | 7 | 16 | 18 => Some(2), // FLOAT16, INT16, UINT16, BFLOAT16
        3 | 6 | 9 => Some(1),       // UINT8, BOOL, INT8
        4 | 10 | 12 | 8 => Some(8), // INT64, FLOAT64, UINT64, COMPLEX64
        _ => None,
    }
}

impl<'a> Graph<'a> {
    /// Validates the main subgraph of `model`, an unknown batch taken as 1.
    pub fn build(model: &TfModel<'a>) -> Result<Graph<'a>> {
        Self::build_with_batch(model, 1)
    }

    /// Validates the main subgraph of `model`, fixing an unknown batch dimension (`-1` as the
    /// first entry of a tensor's `shape_signature`, which TensorFlow's converter writes for a
    /// Keras model's default `None` batch) to `batch`: every tensor with an unknown batch gets
    /// it, so the static shapes stay consistent and shape arithmetic folds to that batch.
    pub fn build_with_batch(model: &TfModel<'a>, batch: usize) -> Result<Graph<'a>> {
        let mut warnings = Vec::new();
        if model.version != 3 {
            warnings.push(format!(
                "schema version {} (expected 3); reading it as version 3",
                model.version
            ));
        }
        let sg = model
            .subgraphs
            .first()
            .ok_or_else(|| ConvertError::Model("the file has no subgraph".into()))?;

        let mut tensors = Vec::with_capacity(sg.tensors.len());
        // 1-D per-channel tensors whose quantized_dimension is not 0 (person_detect's biases):
        // accepted as TFLite Micro does, reported once.
        let mut axis_quirks: Vec<usize> = Vec::new();
        for (index, t) in sg.tensors.iter().enumerate() {
            let mut shape = Vec::with_capacity(t.shape.len());
            for &d in &t.shape {
                if d < 0 {
                    return Err(tensor_err(
                        t,
                        index,
                        format!(
                            "dimension {d} in shape {:?}: dynamic shapes are not supported",
                            t.shape
                        ),
                    ));
                }
                shape.push(d as usize);
            }
            let unknown_batch =
                t.signature.len() == shape.len() && t.signature.first() == Some(&-1);
            if let (true, Some(first)) = (unknown_batch, shape.first_mut()) {
                *first = batch;
            }
            if shape.len() > ferrite_core::MAX_RANK {
                return Err(tensor_err(
                    t,
                    index,
                    format!(
                        "rank {} exceeds the maximum of {}",
                        shape.len(),
                        ferrite_core::MAX_RANK
                    ),
                ));
            }
            let elems = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            let bytes = elems.and_then(|e| e.checked_mul(type_code_size(t.dtype).unwrap_or(1)));
            let Some(_) = bytes.filter(|&b| b <= MAX_TENSOR_BYTES) else {
                return Err(tensor_err(
                    t,
                    index,
                    format!(
                        "shape {:?} is larger than {} bytes",
                        t.shape, MAX_TENSOR_BYTES
                    ),
                ));
            };
            if t.sparse {
                return Err(tensor_err(t, index, "sparse tensors are not supported"));
            }
            let buffer = model.buffers.get(t.buffer as usize).ok_or_else(|| {
                tensor_err(
                    t,
                    index,
                    format!(
                        "buffer index {} out of range ({} buffers)",
                        t.buffer,
                        model.buffers.len()
                    ),
                )
            })?;
            if buffer.external {
                return Err(tensor_err(t, index, "constant data stored outside the flatbuffer (offset/size buffers) is not supported"));
            }
            // A variable tensor's buffer, if any, is not its value: TFLite Micro resets every
            // variable (to its zero point or zero) before the first invocation.
            let data = (!buffer.data.is_empty() && !t.is_variable).then_some(buffer.data);
            if let Some(d) = data {
                let elem = type_code_size(t.dtype).ok_or_else(|| {
                    tensor_err(
                        t,
                        index,
                        format!(
                            "constant of type {} is not supported",
                            tensor_type::name(t.dtype)
                        ),
                    )
                })?;
                let expected = elems.unwrap_or(0) * elem;
                if d.len() != expected {
                    return Err(tensor_err(t, index, format!(
                        "constant buffer #{} (byte offset {}) holds {} bytes but shape {:?} of {} needs {}",
                        t.buffer, buffer.pos, d.len(), t.shape, tensor_type::name(t.dtype), expected
                    )));
                }
            }
            let quant = match &t.quant {
                Some(q) if !q.scale.is_empty() => {
                    if q.has_details {
                        return Err(tensor_err(
                            t,
                            index,
                            "custom quantization details are not supported",
                        ));
                    }
                    if q.zero_point.len() != q.scale.len() {
                        return Err(tensor_err(
                            t,
                            index,
                            format!(
                                "{} scales but {} zero points",
                                q.scale.len(),
                                q.zero_point.len()
                            ),
                        ));
                    }
                    for &s in &q.scale {
                        if !(s.is_finite() && s > 0.0) {
                            return Err(tensor_err(
                                t,
                                index,
                                format!("quantization scale {s} is not a positive finite number"),
                            ));
                        }
                    }
                    let mut zero_points = Vec::with_capacity(q.zero_point.len());
                    for &z in &q.zero_point {
                        let z = i32::try_from(z).map_err(|_| {
                            tensor_err(t, index, format!("zero point {z} out of range"))
                        })?;
                        zero_points.push(z);
                    }
                    let mut axis = q.quantized_dimension;
                    if q.scale.len() > 1 {
                        if axis < 0 || axis as usize >= shape.len().max(1) {
                            if shape.len() == 1 {
                                axis_quirks.push(index);
                                axis = 0;
                            } else {
                                return Err(tensor_err(
                                    t,
                                    index,
                                    format!(
                                        "quantized_dimension {axis} out of range for rank {}",
                                        shape.len()
                                    ),
                                ));
                            }
                        }
                        let dim = shape.get(axis as usize).copied().unwrap_or(1);
                        if dim != q.scale.len() {
                            return Err(tensor_err(
                                t,
                                index,
                                format!(
                                    "{} per-channel scales but dimension {axis} has size {dim}",
                                    q.scale.len()
                                ),
                            ));
                        }
                    } else if axis != 0 && !(0..shape.len() as i32).contains(&axis) {
                        if shape.len() == 1 || shape.is_empty() {
                            warnings.push(format!(
                                "tensor #{index} '{}': quantized_dimension {axis} out of range for rank {}; ignored (per-tensor quantization)",
                                t.name, shape.len()
                            ));
                        } else {
                            return Err(tensor_err(
                                t,
                                index,
                                format!(
                                    "quantized_dimension {axis} out of range for rank {}",
                                    shape.len()
                                ),
                            ));
                        }
                        axis = 0;
                    }
                    Some(Quant {
                        scales: q.scale.clone(),
                        zero_points,
                        axis: axis.max(0) as usize,
                    })
                }
                _ => None,
            };
            tensors.push(GTensor {
                index,
                name: t.name.clone(),
                dtype: dtype_of(t.dtype),
                type_code: t.dtype,
                shape,
                quant,
                file_offset: if data.is_some() { buffer.pos } else { t.pos },
                data: data.map(Cow::Borrowed),
                is_variable: t.is_variable,
            });
        }

        if !axis_quirks.is_empty() {
            let list: Vec<String> = axis_quirks.iter().map(|i| format!("#{i}")).collect();
            warnings.push(format!(
                "{} 1-D per-channel tensor(s) ({}) have a quantized_dimension beyond their rank; using axis 0, as TFLite Micro does",
                axis_quirks.len(),
                list.join(", ")
            ));
        }
        let n = tensors.len();
        let check_graph_io = |list: &[i32], what: &str| -> Result<Vec<usize>> {
            let mut out = Vec::with_capacity(list.len());
            for &i in list {
                if i < 0 || i as usize >= n {
                    return Err(ConvertError::Model(format!(
                        "graph {what} tensor index {i} out of range ({n} tensors)"
                    )));
                }
                out.push(i as usize);
            }
            Ok(out)
        };
        let inputs = check_graph_io(&sg.inputs, "input")?;
        let outputs = check_graph_io(&sg.outputs, "output")?;
        if inputs.is_empty() || outputs.is_empty() {
            return Err(ConvertError::Model(
                "the graph has no inputs or no outputs".into(),
            ));
        }

        // Schedule check: a tensor is available once it is a constant, a graph input, or the
        // output of an earlier operator.
        let mut written = vec![false; n];
        for &i in &inputs {
            if tensors[i].is_const() {
                return Err(ConvertError::Tensor {
                    index: i,
                    name: tensors[i].name.clone(),
                    message: "a graph input cannot be a constant".into(),
                });
            }
            written[i] = true;
        }
        // A variable tensor holds a value (the state) before any operator runs.
        for (w, t) in written.iter_mut().zip(&tensors) {
            *w |= t.is_variable;
        }
        let mut ops = Vec::with_capacity(sg.operators.len());
        for (index, o) in sg.operators.iter().enumerate() {
            let code = model
                .operator_codes
                .get(o.opcode_index as usize)
                .ok_or_else(|| ConvertError::Operator {
                    index,
                    op: "?".into(),
                    message: format!(
                        "operator code index {} out of range ({} codes)",
                        o.opcode_index,
                        model.operator_codes.len()
                    ),
                })?;
            let name = if code.builtin == opcodes::CUSTOM {
                format!("CUSTOM:{}", code.custom.as_deref().unwrap_or("?"))
            } else {
                opcodes::name(code.builtin).to_string()
            };
            let op_err = |message: String| ConvertError::Operator {
                index,
                op: name.clone(),
                message,
            };
            let mut op_inputs = Vec::with_capacity(o.inputs.len());
            for (k, &i) in o.inputs.iter().enumerate() {
                if i == -1 {
                    op_inputs.push(None);
                    continue;
                }
                if i < 0 || i as usize >= n {
                    return Err(op_err(format!(
                        "input {k} is tensor index {i}, out of range ({n} tensors)"
                    )));
                }
                let i = i as usize;
                if !tensors[i].is_const() && !written[i] {
                    return Err(op_err(format!(
                        "input {k} (tensor #{i} '{}') is read before any operator writes it (operators out of order, or a cycle)",
                        tensors[i].name
                    )));
                }
                op_inputs.push(Some(i));
            }
            let mut op_outputs = Vec::with_capacity(o.outputs.len());
            for (k, &i) in o.outputs.iter().enumerate() {
                if i < 0 || i as usize >= n {
                    return Err(op_err(format!(
                        "output {k} is tensor index {i}, out of range ({n} tensors)"
                    )));
                }
                let i = i as usize;
                if tensors[i].is_const() {
                    return Err(op_err(format!(
                        "output {k} (tensor #{i} '{}') is a constant",
                        tensors[i].name
                    )));
                }
                if written[i] {
                    return Err(op_err(format!(
                        "output {k} (tensor #{i} '{}') is written twice",
                        tensors[i].name
                    )));
                }
                written[i] = true;
                op_outputs.push(i);
            }
            if o.has_custom_options && code.builtin != opcodes::CUSTOM {
                warnings.push(format!(
                    "operator #{index} ({name}): custom options ignored"
                ));
            }
            ops.push(GOp {
                index,
                code: code.builtin,
                name,
                version: code.version,
                inputs: op_inputs,
                outputs: op_outputs,
                options_type: o.options_type,
                options: o.options,
                custom_code: (code.builtin == opcodes::CUSTOM)
                    .then(|| code.custom.clone().unwrap_or_default()),
                custom_options: o.custom_options,
                dilated: None,
            });
        }
        for &o in &outputs {
            if !written[o] && !tensors[o].is_const() {
                return Err(ConvertError::Tensor {
                    index: o,
                    name: tensors[o].name.clone(),
                    message: "graph output is never written".into(),
                });
            }
            if tensors[o].is_const() {
                return Err(ConvertError::Tensor {
                    index: o,
                    name: tensors[o].name.clone(),
                    message: "constant graph outputs are not supported".into(),
                });
            }
        }
        let resources = crate::resource::resolve(model, &ops, n)?;
        let unused = (1..model.subgraphs.len())
            .filter(|k| !resources.init_subgraphs.contains(k))
            .count();
        if unused > 0 {
            warnings.push(format!(
                "the file has {} subgraphs; {unused} of them neither the main graph nor a CALL_ONCE initialisation subgraph, not converted",
                model.subgraphs.len()
            ));
        }
        Ok(Graph {
            tensors,
            ops,
            resources,
            inputs,
            outputs,
            warnings,
            folded: Vec::new(),
            views: Vec::new(),
            input_in_place: false,
            in_place_ops: Vec::new(),
            scratch_within_peak: false,
        })
    }
}
