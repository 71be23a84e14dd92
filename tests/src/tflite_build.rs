//! A tiny TFLite writer for hand-made test models (hostile ones included): tensors, operator
//! codes, operators with raw option tables and buffers, assembled with the `flatbuffers`
//! crate's builder.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

/// A tensor to write.
#[derive(Clone, Debug, Default)]
pub struct TensorSpec {
    /// Shape.
    pub shape: Vec<i32>,
    /// `TensorType` code (9 = INT8, 0 = FLOAT32, 2 = INT32).
    pub dtype: u8,
    /// Buffer index (0 = none).
    pub buffer: u32,
    /// Name.
    pub name: String,
    /// Per-tensor or per-channel scales.
    pub scale: Vec<f32>,
    /// Zero points.
    pub zero_point: Vec<i64>,
    /// Quantized dimension.
    pub quantized_dimension: i32,
    /// Marked as a variable (stateful) tensor.
    pub is_variable: bool,
    /// Carries an (empty) `sparsity` table.
    pub sparse: bool,
    /// Carries custom quantization `details` (a union member of type 1).
    pub quant_details: bool,
}

/// An operator to write.
#[derive(Clone, Debug, Default)]
pub struct OpSpec {
    /// Index into the operator codes.
    pub opcode_index: u32,
    /// Input tensors (-1: omitted).
    pub inputs: Vec<i32>,
    /// Output tensors.
    pub outputs: Vec<i32>,
    /// `BuiltinOptions` type and `(slot, i32 value)` fields of its table.
    pub options: Option<(u8, Vec<(u16, i32)>)>,
}

impl OpSpec {
    /// Operator code `opcode_index` reading `inputs` and writing `outputs`, without options.
    pub fn new(opcode_index: u32, inputs: &[i32], outputs: &[i32]) -> Self {
        OpSpec {
            opcode_index,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            options: None,
        }
    }

    /// The same operator with a `BuiltinOptions` table of type `ty` holding `fields`
    /// (`(slot, value)`; byte-sized fields read the value's low byte, float fields its bits).
    pub fn with_options(mut self, ty: u8, fields: &[(u16, i32)]) -> Self {
        self.options = Some((ty, fields.to_vec()));
        self
    }
}

/// A model to write.
#[derive(Clone, Debug, Default)]
pub struct ModelSpec {
    /// Builtin codes of the operator codes.
    pub opcodes: Vec<i32>,
    /// Tensors.
    pub tensors: Vec<TensorSpec>,
    /// Operators.
    pub ops: Vec<OpSpec>,
    /// Graph inputs.
    pub inputs: Vec<i32>,
    /// Graph outputs.
    pub outputs: Vec<i32>,
    /// Buffers (index 0 should stay empty).
    pub buffers: Vec<Vec<u8>>,
    /// Schema version written (`None`: 3).
    pub version: Option<u32>,
    /// How many copies of the subgraph to write (`None`: 1; `Some(0)`: an empty list).
    pub subgraph_count: Option<usize>,
    /// `custom_code` strings, by operator code index.
    pub custom_codes: Vec<(usize, String)>,
    /// `custom_options` bytes, by operator index.
    pub custom_options: Vec<(usize, Vec<u8>)>,
    /// Buffers whose data lies outside the flatbuffer: `(buffer index, offset, size)`.
    pub external_buffers: Vec<(usize, u64, u64)>,
}

impl TensorSpec {
    /// A float32 tensor.
    pub fn f32(name: &str, shape: &[i32]) -> Self {
        TensorSpec {
            shape: shape.to_vec(),
            dtype: 0,
            name: name.into(),
            ..Default::default()
        }
    }

    /// An int32 tensor (biases, shape and axis operands).
    pub fn i32(name: &str, shape: &[i32]) -> Self {
        TensorSpec {
            shape: shape.to_vec(),
            dtype: 2,
            name: name.into(),
            ..Default::default()
        }
    }

    /// An int8 tensor with one symmetric scale per slice along `axis`.
    pub fn i8_per_channel(name: &str, shape: &[i32], scales: &[f32], axis: i32) -> Self {
        TensorSpec {
            shape: shape.to_vec(),
            dtype: 9,
            name: name.into(),
            scale: scales.to_vec(),
            zero_point: vec![0; scales.len()],
            quantized_dimension: axis,
            ..Default::default()
        }
    }

    /// The same tensor backed by buffer `buffer`.
    pub fn in_buffer(mut self, buffer: u32) -> Self {
        self.buffer = buffer;
        self
    }

    /// An int8 activation with per-tensor quantization.
    pub fn i8(name: &str, shape: &[i32], scale: f32, zp: i64) -> Self {
        TensorSpec {
            shape: shape.to_vec(),
            dtype: 9,
            name: name.into(),
            scale: vec![scale],
            zero_point: vec![zp],
            ..Default::default()
        }
    }
}

impl ModelSpec {
    /// Serializes the model.
    pub fn build(&self) -> Vec<u8> {
        let mut b = FlatBufferBuilder::new();
        let codes: Vec<WIPOffset<_>> = self
            .opcodes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let custom = self
                    .custom_codes
                    .iter()
                    .find(|(k, _)| *k == i)
                    .map(|(_, name)| b.create_string(name));
                let t = b.start_table();
                b.push_slot::<i8>(4, c.clamp(0, 127) as i8, 0);
                if let Some(custom) = custom {
                    b.push_slot_always(6, custom);
                }
                b.push_slot::<i32>(8, 1, 0);
                b.push_slot::<i32>(10, c, 0);
                b.end_table(t)
            })
            .collect();
        let codes = b.create_vector(&codes);
        let tensors: Vec<WIPOffset<_>> = self
            .tensors
            .iter()
            .map(|t| {
                let shape = b.create_vector(&t.shape);
                let name = b.create_string(&t.name);
                let quant = if t.scale.is_empty() && !t.quant_details {
                    None
                } else {
                    let scale = b.create_vector(&t.scale);
                    let zp = b.create_vector(&t.zero_point);
                    let details = t.quant_details.then(|| {
                        let d = b.start_table();
                        b.end_table(d)
                    });
                    let q = b.start_table();
                    b.push_slot_always(8, scale);
                    b.push_slot_always(10, zp);
                    if let Some(d) = details {
                        b.push_slot::<u8>(12, 1, 0);
                        b.push_slot_always(14, d);
                    }
                    b.push_slot::<i32>(16, t.quantized_dimension, 0);
                    Some(b.end_table(q))
                };
                let sparsity = t.sparse.then(|| {
                    let sp = b.start_table();
                    b.end_table(sp)
                });
                let s = b.start_table();
                b.push_slot_always(4, shape);
                b.push_slot::<u8>(6, t.dtype, 0);
                b.push_slot::<u32>(8, t.buffer, 0);
                b.push_slot_always(10, name);
                if let Some(q) = quant {
                    b.push_slot_always(12, q);
                }
                b.push_slot::<bool>(14, t.is_variable, false);
                if let Some(sp) = sparsity {
                    b.push_slot_always(16, sp);
                }
                b.end_table(s)
            })
            .collect();
        let tensors = b.create_vector(&tensors);
        let ops: Vec<WIPOffset<_>> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let custom_options = self
                    .custom_options
                    .iter()
                    .find(|(k, _)| *k == i)
                    .map(|(_, bytes)| b.create_vector(bytes));
                let inputs = b.create_vector(&o.inputs);
                let outputs = b.create_vector(&o.outputs);
                let options = o.options.as_ref().map(|(ty, fields)| {
                    let t = b.start_table();
                    for &(slot, v) in fields {
                        b.push_slot_always::<i32>(slot, v);
                    }
                    (*ty, b.end_table(t))
                });
                let s = b.start_table();
                b.push_slot::<u32>(4, o.opcode_index, 0);
                b.push_slot_always(6, inputs);
                b.push_slot_always(8, outputs);
                if let Some((ty, t)) = options {
                    b.push_slot::<u8>(10, ty, 0);
                    b.push_slot_always(12, t);
                }
                if let Some(c) = custom_options {
                    b.push_slot_always(14, c);
                }
                b.end_table(s)
            })
            .collect();
        let ops = b.create_vector(&ops);
        let inputs = b.create_vector(&self.inputs);
        let outputs = b.create_vector(&self.outputs);
        let sg = b.start_table();
        b.push_slot_always(4, tensors);
        b.push_slot_always(6, inputs);
        b.push_slot_always(8, outputs);
        b.push_slot_always(10, ops);
        let sg = b.end_table(sg);
        let sgs = b.create_vector(&vec![sg; self.subgraph_count.unwrap_or(1)]);
        let buffers: Vec<WIPOffset<_>> = self
            .buffers
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let data = (!d.is_empty()).then(|| b.create_vector(d));
                let external = self.external_buffers.iter().find(|(k, _, _)| *k == i);
                let t = b.start_table();
                if let Some(data) = data {
                    b.push_slot_always(4, data);
                }
                if let Some(&(_, offset, size)) = external {
                    b.push_slot_always::<u64>(6, offset);
                    b.push_slot_always::<u64>(8, size);
                }
                b.end_table(t)
            })
            .collect();
        let buffers = b.create_vector(&buffers);
        let m = b.start_table();
        b.push_slot::<u32>(4, self.version.unwrap_or(3), 0);
        b.push_slot_always(6, codes);
        b.push_slot_always(8, sgs);
        b.push_slot_always(12, buffers);
        let m = b.end_table(m);
        b.finish(m, Some("TFL3"));
        b.finished_data().to_vec()
    }

    /// A one-operator model: int8 `[1, 4]` → op `code` → int8 `[1, 4]`.
    pub fn unary(code: i32) -> ModelSpec {
        ModelSpec {
            opcodes: vec![code],
            tensors: vec![
                TensorSpec::i8("x", &[1, 4], 0.1, 0),
                TensorSpec::i8("y", &[1, 4], 0.1, 0),
            ],
            ops: vec![OpSpec {
                opcode_index: 0,
                inputs: vec![0],
                outputs: vec![1],
                options: None,
            }],
            inputs: vec![0],
            outputs: vec![1],
            buffers: vec![vec![]],
            ..Default::default()
        }
    }

    /// Adds a constant tensor backed by a new buffer holding `data`; returns its index.
    pub fn push_const(&mut self, tensor: TensorSpec, data: Vec<u8>) -> i32 {
        if self.buffers.is_empty() {
            self.buffers.push(vec![]);
        }
        self.buffers.push(data);
        let buffer = (self.buffers.len() - 1) as u32;
        self.tensors.push(tensor.in_buffer(buffer));
        (self.tensors.len() - 1) as i32
    }

    /// Adds an activation tensor; returns its index.
    pub fn push_tensor(&mut self, tensor: TensorSpec) -> i32 {
        self.tensors.push(tensor);
        (self.tensors.len() - 1) as i32
    }
}

impl ModelSpec {
    /// A one-operator TFLite_Detection_PostProcess model (custom code and FlexBuffer
    /// `custom_options`): float32 graph inputs box encodings `[1, n, 4]` (tensor 0) and class
    /// scores `[1, n, classes + 1]` (tensor 1, background first), constant `anchors` (`4 * n`
    /// values, `(y, x, h, w)` per box; tensor 2), and the four float32 outputs `boxes
    /// [1, rows, 4]`, `classes [1, rows]`, `scores [1, rows]`, `num_detections [1]` (tensors
    /// 3 to 6) as graph outputs.
    pub fn detection_postprocess(
        classes: i32,
        anchors: &[f32],
        rows: i32,
        custom_options: Vec<u8>,
    ) -> ModelSpec {
        let n = (anchors.len() / 4) as i32;
        let mut m = ModelSpec {
            opcodes: vec![32],
            custom_codes: vec![(0, "TFLite_Detection_PostProcess".into())],
            custom_options: vec![(0, custom_options)],
            buffers: vec![vec![]],
            ..Default::default()
        };
        m.push_tensor(TensorSpec::f32("box_encodings", &[1, n, 4]));
        m.push_tensor(TensorSpec::f32("class_predictions", &[1, n, classes + 1]));
        let data = anchors.iter().flat_map(|v| v.to_le_bytes()).collect();
        m.push_const(TensorSpec::f32("anchors", &[n, 4]), data);
        m.push_tensor(TensorSpec::f32("detection_boxes", &[1, rows, 4]));
        m.push_tensor(TensorSpec::f32("detection_classes", &[1, rows]));
        m.push_tensor(TensorSpec::f32("detection_scores", &[1, rows]));
        m.push_tensor(TensorSpec::f32("num_detections", &[1]));
        m.ops = vec![OpSpec::new(0, &[0, 1, 2], &[3, 4, 5, 6])];
        m.inputs = vec![0, 1];
        m.outputs = vec![3, 4, 5, 6];
        m
    }
}
