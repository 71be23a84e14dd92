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
}

impl TensorSpec {
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
            .map(|&c| {
                let t = b.start_table();
                b.push_slot::<i8>(4, c.clamp(0, 127) as i8, 0);
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
                let quant = if t.scale.is_empty() {
                    None
                } else {
                    let scale = b.create_vector(&t.scale);
                    let zp = b.create_vector(&t.zero_point);
                    let q = b.start_table();
                    b.push_slot_always(8, scale);
                    b.push_slot_always(10, zp);
                    b.push_slot::<i32>(16, t.quantized_dimension, 0);
                    Some(b.end_table(q))
                };
                let s = b.start_table();
                b.push_slot_always(4, shape);
                b.push_slot::<u8>(6, t.dtype, 0);
                b.push_slot::<u32>(8, t.buffer, 0);
                b.push_slot_always(10, name);
                if let Some(q) = quant {
                    b.push_slot_always(12, q);
                }
                b.end_table(s)
            })
            .collect();
        let tensors = b.create_vector(&tensors);
        let ops: Vec<WIPOffset<_>> = self
            .ops
            .iter()
            .map(|o| {
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
        let sgs = b.create_vector(&[sg]);
        let buffers: Vec<WIPOffset<_>> = self
            .buffers
            .iter()
            .map(|d| {
                let data = (!d.is_empty()).then(|| b.create_vector(d));
                let t = b.start_table();
                if let Some(data) = data {
                    b.push_slot_always(4, data);
                }
                b.end_table(t)
            })
            .collect();
        let buffers = b.create_vector(&buffers);
        let m = b.start_table();
        b.push_slot::<u32>(4, 3, 0);
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
        }
    }
}
