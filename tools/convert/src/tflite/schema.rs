//! Typed accessors for the subset of the TFLite schema (`schema.fbs`) that Ferrite reads,
//! and the matching `flatbuffers` verifier.
//!
//! Field numbers below are the vtable offsets of `schema.fbs` (field id `n` is at `4 + 2n`).

use super::flatbuf::{ReadError, ReadResult, Table};
use flatbuffers::{
    ForwardsUOffset, InvalidFlatbuffer, Vector, Verifiable, Verifier, VerifierOptions,
};

/// TFLite `TensorType` codes Ferrite knows by name.
pub mod tensor_type {
    /// `FLOAT32`
    pub const FLOAT32: u8 = 0;
    /// `FLOAT16`
    pub const FLOAT16: u8 = 1;
    /// `INT32`
    pub const INT32: u8 = 2;
    /// `UINT8`
    pub const UINT8: u8 = 3;
    /// `INT64`
    pub const INT64: u8 = 4;
    /// `BOOL`
    pub const BOOL: u8 = 6;
    /// `INT16`
    pub const INT16: u8 = 7;
    /// `INT8`
    pub const INT8: u8 = 9;
    /// `UINT64`
    pub const UINT64: u8 = 12;
    /// `RESOURCE`: a resource variable's handle (`VAR_HANDLE`'s output).
    pub const RESOURCE: u8 = 13;
    /// `UINT32`
    pub const UINT32: u8 = 15;

    /// The schema's name for a type code.
    pub fn name(code: u8) -> &'static str {
        const NAMES: [&str; 21] = [
            "FLOAT32",
            "FLOAT16",
            "INT32",
            "UINT8",
            "INT64",
            "STRING",
            "BOOL",
            "INT16",
            "COMPLEX64",
            "INT8",
            "FLOAT64",
            "COMPLEX128",
            "UINT64",
            "RESOURCE",
            "VARIANT",
            "UINT32",
            "UINT16",
            "INT4",
            "BFLOAT16",
            "INT2",
            "UINT4",
        ];
        NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
    }
}

/// A whole `.tflite` file, read into plain Rust values (constant buffers stay borrowed).
#[derive(Debug, Clone)]
pub struct TfModel<'a> {
    /// Schema version (3 for every current file).
    pub version: u32,
    /// Free-text description written by the converter that produced the file.
    pub description: Option<String>,
    /// Operator codes, indexed by `TfOperator::opcode_index`.
    pub operator_codes: Vec<OperatorCode>,
    /// Subgraphs; the first is the main graph.
    pub subgraphs: Vec<SubGraph<'a>>,
    /// Constant buffers, indexed by `TfTensor::buffer`.
    pub buffers: Vec<BufferData<'a>>,
}

/// An operator code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorCode {
    /// The builtin operator (the larger of `builtin_code` and `deprecated_builtin_code`, as
    /// TFLite's `GetBuiltinCode` does).
    pub builtin: i32,
    /// Name of a custom operator.
    pub custom: Option<String>,
    /// Operator version.
    pub version: i32,
}

/// A subgraph.
#[derive(Debug, Clone)]
pub struct SubGraph<'a> {
    /// Tensors.
    pub tensors: Vec<TfTensor>,
    /// Input tensor indices.
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    /// Operators in execution order.
    pub operators: Vec<TfOperator<'a>>,
    /// Name.
    pub name: Option<String>,
}

/// A tensor.
#[derive(Debug, Clone)]
pub struct TfTensor {
    /// Shape (may be absent for scalars).
    pub shape: Vec<i32>,
    /// `TensorType` code.
    pub dtype: u8,
    /// Index of its constant buffer (0: none).
    pub buffer: u32,
    /// Name.
    pub name: String,
    /// Quantization parameters, if any.
    pub quant: Option<TfQuant>,
    /// A variable (stateful) tensor.
    pub is_variable: bool,
    /// Stored in a sparse format.
    pub sparse: bool,
    /// `shape_signature`: the shape with `-1` for dimensions unknown when the model was
    /// converted (an unknown batch); empty when the file has none.
    pub signature: Vec<i32>,
    /// Byte offset of the tensor table in the file.
    pub pos: usize,
}

/// Quantization parameters.
#[derive(Debug, Clone, Default)]
pub struct TfQuant {
    /// Scales (one, or one per channel).
    pub scale: Vec<f32>,
    /// Zero points, parallel to `scale`.
    pub zero_point: Vec<i64>,
    /// Axis of per-channel quantization.
    pub quantized_dimension: i32,
    /// Custom quantization details present (unsupported).
    pub has_details: bool,
}

/// An operator.
#[derive(Debug, Clone)]
pub struct TfOperator<'a> {
    /// Index into `TfModel::operator_codes`.
    pub opcode_index: u32,
    /// Input tensor indices (-1: optional input absent).
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    /// `BuiltinOptions` union type.
    pub options_type: u8,
    /// The options table, read with the accessors in [`options`].
    pub options: Option<Table<'a>>,
    /// Custom (flexbuffer) options present.
    pub has_custom_options: bool,
    /// The custom options' bytes (a FlexBuffer for TFLite's custom operators; empty if none).
    pub custom_options: &'a [u8],
    /// Byte offset of the operator table in the file.
    pub pos: usize,
}

/// A constant buffer.
#[derive(Debug, Clone, Copy)]
pub struct BufferData<'a> {
    /// The bytes (empty for activation tensors).
    pub data: &'a [u8],
    /// Byte offset of the data in the file.
    pub pos: usize,
    /// The data lives outside the flatbuffer (`offset`/`size` fields; files > 2 GB).
    pub external: bool,
}

impl std::fmt::Debug for Table<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table@{}", self.pos())
    }
}

/// Verifies `buf` as a TFLite model with the `flatbuffers` verifier, then reads it.
pub fn read(buf: &[u8]) -> Result<TfModel<'_>, ReadError> {
    verify(buf)?;
    read_model(buf)
}

/// Runs the `flatbuffers` verifier over every table and vector Ferrite reads.
pub fn verify(buf: &[u8]) -> Result<(), ReadError> {
    if buf.len() < 8 {
        return Err(ReadError {
            offset: 0,
            what: format!("file is {} bytes, too short to be a flatbuffer", buf.len()),
        });
    }
    if buf.get(4..8) != Some(b"TFL3") {
        return Err(ReadError {
            offset: 4,
            what: "missing the TFLite file identifier \"TFL3\"".into(),
        });
    }
    let opts = VerifierOptions {
        max_depth: 64,
        max_tables: 1 << 20,
        max_apparent_size: 1 << 31,
        ignore_missing_null_terminator: true,
    };
    let mut v = Verifier::new(&opts, buf);
    <ForwardsUOffset<ModelV>>::run_verifier(&mut v, 0).map_err(|e| verifier_error(&e))
}

fn verifier_error(e: &InvalidFlatbuffer) -> ReadError {
    use InvalidFlatbuffer::*;
    let offset = match e {
        RangeOutOfBounds { range, .. }
        | Utf8Error { range, .. }
        | MissingNullTerminator { range, .. } => range.start,
        Unaligned { position, .. } | SignedOffsetOutOfBounds { position, .. } => *position,
        // No position of their own: the innermost table or vector on the error's path.
        MissingRequiredField { error_trace, .. } | InconsistentUnion { error_trace, .. } => {
            error_trace.as_ref().first().map_or(0, |d| match d {
                flatbuffers::ErrorTraceDetail::VectorElement { position, .. }
                | flatbuffers::ErrorTraceDetail::TableField { position, .. }
                | flatbuffers::ErrorTraceDetail::UnionVariant { position, .. } => *position,
            })
        }
        // Limits on the whole file (depth, table count, size): no single offset is at fault.
        _ => 0,
    };
    let text = e.to_string();
    let what = text
        .lines()
        .next()
        .unwrap_or("invalid flatbuffer")
        .trim_end_matches('.')
        .to_string();
    let trace: Vec<&str> = text
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let what = if trace.is_empty() {
        what
    } else {
        format!("{what} ({})", trace.join(", "))
    };
    ReadError {
        offset,
        what: format!("flatbuffer verification failed: {what}"),
    }
}

/// Verifies any table structurally (fields we read from it are bounds-checked on access).
struct AnyTableV;
impl Verifiable for AnyTableV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?.finish();
        Ok(())
    }
}

struct ModelV;
impl Verifiable for ModelV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("version", 4, false)?
            .visit_field::<ForwardsUOffset<Vector<ForwardsUOffset<OperatorCodeV>>>>(
                "operator_codes",
                6,
                false,
            )?
            .visit_field::<ForwardsUOffset<Vector<ForwardsUOffset<SubGraphV>>>>(
                "subgraphs",
                8,
                false,
            )?
            .visit_field::<ForwardsUOffset<&str>>("description", 10, false)?
            .visit_field::<ForwardsUOffset<Vector<ForwardsUOffset<BufferV>>>>("buffers", 12, false)?
            .finish();
        Ok(())
    }
}

struct OperatorCodeV;
impl Verifiable for OperatorCodeV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<i8>("deprecated_builtin_code", 4, false)?
            .visit_field::<ForwardsUOffset<&str>>("custom_code", 6, false)?
            .visit_field::<i32>("version", 8, false)?
            .visit_field::<i32>("builtin_code", 10, false)?
            .finish();
        Ok(())
    }
}

struct SubGraphV;
impl Verifiable for SubGraphV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<ForwardsUOffset<TensorV>>>>("tensors", 4, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("inputs", 6, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("outputs", 8, false)?
            .visit_field::<ForwardsUOffset<Vector<ForwardsUOffset<OperatorV>>>>(
                "operators",
                10,
                false,
            )?
            .visit_field::<ForwardsUOffset<&str>>("name", 12, false)?
            .finish();
        Ok(())
    }
}

struct TensorV;
impl Verifiable for TensorV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("shape", 4, false)?
            .visit_field::<i8>("type", 6, false)?
            .visit_field::<u32>("buffer", 8, false)?
            .visit_field::<ForwardsUOffset<&str>>("name", 10, false)?
            .visit_field::<ForwardsUOffset<QuantizationV>>("quantization", 12, false)?
            .visit_field::<bool>("is_variable", 14, false)?
            .visit_field::<ForwardsUOffset<AnyTableV>>("sparsity", 16, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("shape_signature", 18, false)?
            .finish();
        Ok(())
    }
}

struct QuantizationV;
impl Verifiable for QuantizationV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("min", 4, false)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("max", 6, false)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("scale", 8, false)?
            .visit_field::<ForwardsUOffset<Vector<i64>>>("zero_point", 10, false)?
            .visit_union::<u8, _>("details_type", 12, "details", 14, false, |_, v, pos| {
                <ForwardsUOffset<AnyTableV>>::run_verifier(v, pos)
            })?
            .visit_field::<i32>("quantized_dimension", 16, false)?
            .finish();
        Ok(())
    }
}

struct OperatorV;
impl Verifiable for OperatorV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("opcode_index", 4, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("inputs", 6, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("outputs", 8, false)?
            .visit_union::<u8, _>(
                "builtin_options_type",
                10,
                "builtin_options",
                12,
                false,
                |_, v, pos| <ForwardsUOffset<AnyTableV>>::run_verifier(v, pos),
            )?
            .visit_field::<ForwardsUOffset<Vector<u8>>>("custom_options", 14, false)?
            .finish();
        Ok(())
    }
}

struct BufferV;
impl Verifiable for BufferV {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<u8>>>("data", 4, false)?
            .visit_field::<u64>("offset", 6, false)?
            .visit_field::<u64>("size", 8, false)?
            .finish();
        Ok(())
    }
}

fn read_model(buf: &[u8]) -> ReadResult<TfModel<'_>> {
    let root = Table::root(buf)?;
    let version = root.u32(4, 0)?;
    let mut operator_codes = Vec::new();
    if let Some(codes) = root.vector(6)? {
        for i in 0..codes.len() {
            let t = codes.table(i)?;
            let deprecated = t.u8(4, 0)? as i8 as i32;
            let builtin = t.i32(10, 0)?;
            operator_codes.push(OperatorCode {
                builtin: builtin.max(deprecated),
                custom: t.string(6)?,
                version: t.i32(8, 1)?,
            });
        }
    }
    let mut subgraphs = Vec::new();
    if let Some(sgs) = root.vector(8)? {
        for i in 0..sgs.len() {
            subgraphs.push(read_subgraph(sgs.table(i)?)?);
        }
    }
    let mut buffers = Vec::new();
    if let Some(bufs) = root.vector(12)? {
        for i in 0..bufs.len() {
            let t = bufs.table(i)?;
            let (data, pos) = match t.vector(4)? {
                Some(v) => (v.raw_bytes(1)?, v.pos()),
                None => (&[][..], t.pos()),
            };
            let external = t.u64(6, 0)? > 1 || t.u64(8, 0)? > 0;
            buffers.push(BufferData {
                data,
                pos,
                external,
            });
        }
    }
    Ok(TfModel {
        version,
        description: root.string(10)?,
        operator_codes,
        subgraphs,
        buffers,
    })
}

fn read_subgraph(t: Table<'_>) -> ReadResult<SubGraph<'_>> {
    let mut tensors = Vec::new();
    if let Some(ts) = t.vector(4)? {
        for i in 0..ts.len() {
            let tt = ts.table(i)?;
            let quant = match tt.table(12)? {
                Some(q) => Some(TfQuant {
                    scale: q
                        .vector(8)?
                        .map(|v| v.f32s())
                        .transpose()?
                        .unwrap_or_default(),
                    zero_point: q
                        .vector(10)?
                        .map(|v| v.i64s())
                        .transpose()?
                        .unwrap_or_default(),
                    quantized_dimension: q.i32(16, 0)?,
                    has_details: q.u8(12, 0)? != 0,
                }),
                None => None,
            };
            tensors.push(TfTensor {
                shape: tt
                    .vector(4)?
                    .map(|v| v.i32s())
                    .transpose()?
                    .unwrap_or_default(),
                dtype: tt.u8(6, 0)?,
                buffer: tt.u32(8, 0)?,
                name: tt.string(10)?.unwrap_or_default(),
                quant,
                is_variable: tt.bool(14, false)?,
                sparse: tt.table(16)?.is_some(),
                signature: tt
                    .vector(18)?
                    .map(|v| v.i32s())
                    .transpose()?
                    .unwrap_or_default(),
                pos: tt.pos(),
            });
        }
    }
    let mut operators = Vec::new();
    if let Some(ops) = t.vector(10)? {
        for i in 0..ops.len() {
            let o = ops.table(i)?;
            operators.push(TfOperator {
                opcode_index: o.u32(4, 0)?,
                inputs: o
                    .vector(6)?
                    .map(|v| v.i32s())
                    .transpose()?
                    .unwrap_or_default(),
                outputs: o
                    .vector(8)?
                    .map(|v| v.i32s())
                    .transpose()?
                    .unwrap_or_default(),
                options_type: o.u8(10, 0)?,
                options: o.table(12)?,
                has_custom_options: o.vector(14)?.is_some_and(|v| !v.is_empty()),
                custom_options: o
                    .vector(14)?
                    .map(|v| v.raw_bytes(1))
                    .transpose()?
                    .unwrap_or(&[]),
                pos: o.pos(),
            });
        }
    }
    Ok(SubGraph {
        tensors,
        inputs: t
            .vector(6)?
            .map(|v| v.i32s())
            .transpose()?
            .unwrap_or_default(),
        outputs: t
            .vector(8)?
            .map(|v| v.i32s())
            .transpose()?
            .unwrap_or_default(),
        operators,
        name: t.string(12)?,
    })
}

/// Accessors for the `BuiltinOptions` tables Ferrite reads. Each takes the operator's
/// options table (absent tables read as all-defaults, as in TFLite).
pub mod options {
    use super::super::flatbuf::{ReadResult, Table};

    /// `Padding` enum: SAME.
    pub const PADDING_SAME: u8 = 0;
    /// `Padding` enum: VALID.
    pub const PADDING_VALID: u8 = 1;

    fn u8_or(t: Option<Table<'_>>, slot: u16, d: u8) -> ReadResult<u8> {
        t.map_or(Ok(d), |t| t.u8(slot, d))
    }
    fn i32_or(t: Option<Table<'_>>, slot: u16, d: i32) -> ReadResult<i32> {
        t.map_or(Ok(d), |t| t.i32(slot, d))
    }
    fn f32_or(t: Option<Table<'_>>, slot: u16, d: f32) -> ReadResult<f32> {
        t.map_or(Ok(d), |t| t.f32(slot, d))
    }

    /// Integer field `id` (the schema's field number) of an options table, `d` if absent.
    /// For the many one- or two-field option tables that need no struct of their own
    /// (`GatherOptions`, `PackOptions`, `StridedSliceOptions`, …).
    pub fn int(t: Option<Table<'_>>, id: u16, d: i32) -> ReadResult<i32> {
        i32_or(t, 4 + 2 * id, d)
    }
    /// Boolean (or byte-sized enum) field `id` of an options table, `d` if absent.
    pub fn byte(t: Option<Table<'_>>, id: u16, d: u8) -> ReadResult<u8> {
        u8_or(t, 4 + 2 * id, d)
    }
    /// Float field `id` of an options table, `d` if absent.
    pub fn float(t: Option<Table<'_>>, id: u16, d: f32) -> ReadResult<f32> {
        f32_or(t, 4 + 2 * id, d)
    }

    /// `Conv2DOptions`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Conv2D {
        /// SAME or VALID.
        pub padding: u8,
        /// Horizontal stride.
        pub stride_w: i32,
        /// Vertical stride.
        pub stride_h: i32,
        /// `ActivationFunctionType`.
        pub activation: u8,
        /// Horizontal dilation.
        pub dilation_w: i32,
        /// Vertical dilation.
        pub dilation_h: i32,
    }
    /// Reads `Conv2DOptions` (also the layout of `TransposeConvOptions`' first fields).
    pub fn conv2d(t: Option<Table<'_>>) -> ReadResult<Conv2D> {
        Ok(Conv2D {
            padding: u8_or(t, 4, 0)?,
            stride_w: i32_or(t, 6, 0)?,
            stride_h: i32_or(t, 8, 0)?,
            activation: u8_or(t, 10, 0)?,
            dilation_w: i32_or(t, 12, 1)?,
            dilation_h: i32_or(t, 14, 1)?,
        })
    }

    /// `DepthwiseConv2DOptions`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct DepthwiseConv2D {
        /// SAME or VALID.
        pub padding: u8,
        /// Horizontal stride.
        pub stride_w: i32,
        /// Vertical stride.
        pub stride_h: i32,
        /// Output channels per input channel.
        pub depth_multiplier: i32,
        /// `ActivationFunctionType`.
        pub activation: u8,
        /// Horizontal dilation.
        pub dilation_w: i32,
        /// Vertical dilation.
        pub dilation_h: i32,
    }
    /// Reads `DepthwiseConv2DOptions`.
    pub fn depthwise_conv2d(t: Option<Table<'_>>) -> ReadResult<DepthwiseConv2D> {
        Ok(DepthwiseConv2D {
            padding: u8_or(t, 4, 0)?,
            stride_w: i32_or(t, 6, 0)?,
            stride_h: i32_or(t, 8, 0)?,
            depth_multiplier: i32_or(t, 10, 0)?,
            activation: u8_or(t, 12, 0)?,
            dilation_w: i32_or(t, 14, 1)?,
            dilation_h: i32_or(t, 16, 1)?,
        })
    }

    /// `FullyConnectedOptions`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct FullyConnected {
        /// `ActivationFunctionType`.
        pub activation: u8,
        /// `FullyConnectedOptionsWeightsFormat` (0 = DEFAULT).
        pub weights_format: u8,
        /// Keep the input's leading dimensions in the output.
        pub keep_num_dims: bool,
    }
    /// Reads `FullyConnectedOptions`.
    pub fn fully_connected(t: Option<Table<'_>>) -> ReadResult<FullyConnected> {
        Ok(FullyConnected {
            activation: u8_or(t, 4, 0)?,
            weights_format: u8_or(t, 6, 0)?,
            keep_num_dims: u8_or(t, 8, 0)? != 0,
        })
    }

    /// `SVDFOptions`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Svdf {
        /// Filters per output unit.
        pub rank: i32,
        /// `ActivationFunctionType`.
        pub activation: u8,
        /// Hybrid (float input, int8 weights) quantization of the inputs.
        pub asymmetric_quantize_inputs: bool,
    }
    /// Reads `SVDFOptions`.
    pub fn svdf(t: Option<Table<'_>>) -> ReadResult<Svdf> {
        Ok(Svdf {
            rank: i32_or(t, 4, 0)?,
            activation: u8_or(t, 6, 0)?,
            asymmetric_quantize_inputs: u8_or(t, 8, 0)? != 0,
        })
    }

    /// `UnidirectionalSequenceLSTMOptions`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct SequenceLstm {
        /// `ActivationFunctionType` of the cell gate (and, in TFLite, of the cell output).
        pub activation: u8,
        /// Cell state clip (0: none).
        pub cell_clip: f32,
        /// Projection clip (0: none).
        pub proj_clip: f32,
        /// Input and output are `[time, batch, ...]`.
        pub time_major: bool,
        /// Hybrid (float input, int8 weights) quantization of the inputs.
        pub asymmetric_quantize_inputs: bool,
        /// Recurrent weights are diagonal (stored as vectors).
        pub diagonal_recurrent_tensors: bool,
    }
    /// Reads `UnidirectionalSequenceLSTMOptions`.
    pub fn sequence_lstm(t: Option<Table<'_>>) -> ReadResult<SequenceLstm> {
        Ok(SequenceLstm {
            activation: u8_or(t, 4, 0)?,
            cell_clip: f32_or(t, 6, 0.0)?,
            proj_clip: f32_or(t, 8, 0.0)?,
            time_major: u8_or(t, 10, 0)? != 0,
            asymmetric_quantize_inputs: u8_or(t, 12, 0)? != 0,
            diagonal_recurrent_tensors: u8_or(t, 14, 0)? != 0,
        })
    }

    /// `Pool2DOptions`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Pool2D {
        /// SAME or VALID.
        pub padding: u8,
        /// Horizontal stride.
        pub stride_w: i32,
        /// Vertical stride.
        pub stride_h: i32,
        /// Window width.
        pub filter_w: i32,
        /// Window height.
        pub filter_h: i32,
        /// `ActivationFunctionType`.
        pub activation: u8,
    }
    /// Reads `Pool2DOptions`.
    pub fn pool2d(t: Option<Table<'_>>) -> ReadResult<Pool2D> {
        Ok(Pool2D {
            padding: u8_or(t, 4, 0)?,
            stride_w: i32_or(t, 6, 0)?,
            stride_h: i32_or(t, 8, 0)?,
            filter_w: i32_or(t, 10, 0)?,
            filter_h: i32_or(t, 12, 0)?,
            activation: u8_or(t, 14, 0)?,
        })
    }

    /// `SoftmaxOptions.beta`.
    pub fn softmax_beta(t: Option<Table<'_>>) -> ReadResult<f32> {
        f32_or(t, 4, 0.0)
    }

    /// `fused_activation_function` of `AddOptions`, `SubOptions`, `MulOptions` (slot 4).
    pub fn binary_activation(t: Option<Table<'_>>) -> ReadResult<u8> {
        u8_or(t, 4, 0)
    }

    /// `ConcatenationOptions`: (axis, activation).
    pub fn concatenation(t: Option<Table<'_>>) -> ReadResult<(i32, u8)> {
        Ok((i32_or(t, 4, 0)?, u8_or(t, 6, 0)?))
    }

    /// `ReducerOptions.keep_dims`.
    pub fn reducer_keep_dims(t: Option<Table<'_>>) -> ReadResult<bool> {
        Ok(u8_or(t, 4, 0)? != 0)
    }

    /// `LeakyReluOptions.alpha`.
    pub fn leaky_relu_alpha(t: Option<Table<'_>>) -> ReadResult<f32> {
        f32_or(t, 4, 0.0)
    }

    /// `ReshapeOptions.new_shape`, if present.
    pub fn reshape_new_shape(t: Option<Table<'_>>) -> ReadResult<Option<Vec<i32>>> {
        match t {
            Some(t) => t.vector(4)?.map(|v| v.i32s()).transpose(),
            None => Ok(None),
        }
    }
}
