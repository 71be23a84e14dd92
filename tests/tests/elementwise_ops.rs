//! The elementwise operators (unary math, CAST, binary arithmetic, comparisons, logical
//! operators, PRELU, ADD_N, integer QUANTIZE) on hand-built one-op models: the types TFLite
//! Micro's kernels reject are conversion errors naming the operator, its index and the types;
//! a few of TFLM's quirks (int32 ADD ignores its fused activation, int8 MAXIMUM keeps raw
//! bytes) run as TFLM runs them.

use ferrite_convert::npy::{Array, Data};
use ferrite_convert::{compile, host, ConvertError, Options};
use ferrite_core::DType;
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const ADD: i32 = 0;
const CAST: i32 = 53;
const MAXIMUM: i32 = 55;
const LESS: i32 = 58;
const NEG: i32 = 59;
const PRELU: i32 = 54;
const LOGICAL_AND: i32 = 86;
const QUANTIZE: i32 = 114;
const ADD_N: i32 = 106;
/// `BuiltinOptions` code of `AddOptions`.
const ADD_OPTIONS: u8 = 11;

/// `TensorType` codes.
const FLOAT32: u8 = 0;
const INT32: u8 = 2;
const INT64: u8 = 4;
const BOOL: u8 = 6;
const INT8: u8 = 9;

fn tensor(name: &str, shape: &[i32], dtype: u8) -> TensorSpec {
    let mut t = TensorSpec {
        shape: shape.to_vec(),
        dtype,
        name: name.into(),
        ..Default::default()
    };
    if dtype == INT8 {
        t.scale = vec![0.1];
        t.zero_point = vec![0];
    }
    t
}

/// A one-operator model of `code` over activation tensors `ins` (all graph inputs) into `out`.
fn one_op(code: i32, ins: &[TensorSpec], out: TensorSpec) -> ModelSpec {
    let mut tensors = ins.to_vec();
    tensors.push(out);
    let n = ins.len() as i32;
    ModelSpec {
        opcodes: vec![code],
        tensors,
        ops: vec![OpSpec::new(0, &(0..n).collect::<Vec<_>>(), &[n])],
        inputs: (0..n).collect(),
        outputs: vec![n],
        buffers: vec![vec![]],
        ..Default::default()
    }
}

fn error(spec: &ModelSpec) -> String {
    let e: ConvertError = compile(&spec.build(), &Options::default()).expect_err("an error");
    e.to_string()
}

/// Asserts that converting `spec` fails naming operator 0 `op` and mentioning every `words`.
fn assert_refused(spec: &ModelSpec, op: &str, words: &[&str]) {
    let e = error(spec);
    assert!(e.contains(op) && e.contains('0'), "{e}");
    for w in words {
        assert!(e.contains(w), "`{w}` missing from: {e}");
    }
}

fn run(spec: &ModelSpec, inputs: &[(DType, Vec<u8>, Vec<usize>)]) -> Vec<u8> {
    let c = compile(&spec.build(), &Options::default()).unwrap();
    let arrays: Vec<Array> = inputs
        .iter()
        .map(|(t, bytes, shape)| Array {
            shape: shape.clone(),
            data: Data::from_bytes(*t, bytes),
        })
        .collect();
    let mut arena = c.new_arena();
    let out = host::run_one(
        &c,
        arena.as_mut_slice(),
        &arrays,
        0,
        &mut ferrite_core::NoHook,
    )
    .unwrap();
    out[0].clone()
}

fn le_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn types_tflm_rejects_are_conversion_errors() {
    // MAXIMUM has no bool kernel.
    let m = one_op(
        MAXIMUM,
        &[tensor("a", &[4], BOOL), tensor("b", &[4], BOOL)],
        tensor("y", &[4], BOOL),
    );
    assert_refused(&m, "MAXIMUM", &["bool", "int64"]);
    // Nor is there an int64 CAST.
    let m = one_op(CAST, &[tensor("a", &[4], INT64)], tensor("y", &[4], INT32));
    assert_refused(&m, "CAST", &["int64"]);
    // TFLM reads LOGICAL_AND's inputs as bools whatever they are; Ferrite refuses.
    let m = one_op(
        LOGICAL_AND,
        &[tensor("a", &[4], INT8), tensor("b", &[4], INT8)],
        tensor("y", &[4], INT8),
    );
    assert_refused(&m, "LOGICAL_AND", &["int8", "bool"]);
    // NEG is float only.
    let m = one_op(NEG, &[tensor("a", &[4], INT8)], tensor("y", &[4], INT8));
    assert_refused(&m, "NEG", &["int8", "float32"]);
    // Comparisons write bools.
    let m = one_op(
        LESS,
        &[tensor("a", &[4], FLOAT32), tensor("b", &[4], FLOAT32)],
        tensor("y", &[4], FLOAT32),
    );
    assert_refused(&m, "LESS", &["bool"]);
    // QUANTIZE has no int32 → int32 kernel.
    let mut q = tensor("a", &[4], INT32);
    q.scale = vec![0.5];
    q.zero_point = vec![0];
    let mut r = q.clone();
    r.name = "y".into();
    let m = one_op(QUANTIZE, &[q], r);
    assert_refused(&m, "QUANTIZE", &["int32 → int32"]);
    // ADD_N: float32 and int8 only.
    let m = one_op(
        ADD_N,
        &[tensor("a", &[4], INT32), tensor("b", &[4], INT32)],
        tensor("y", &[4], INT32),
    );
    assert_refused(&m, "ADD_N", &["int32"]);
}

#[test]
fn float_prelu_is_four_dimensional_in_tflm() {
    let m = one_op(
        PRELU,
        &[
            tensor("x", &[2, 1, 2, 1, 2], FLOAT32),
            tensor("alpha", &[2], FLOAT32),
        ],
        tensor("y", &[2, 1, 2, 1, 2], FLOAT32),
    );
    assert_refused(&m, "PRELU", &["rank above 4"]);
    // The int8 kernel broadcasts at any rank.
    let m = one_op(
        PRELU,
        &[
            tensor("x", &[2, 1, 2, 1, 2], INT8),
            tensor("alpha", &[2], INT8),
        ],
        tensor("y", &[2, 1, 2, 1, 2], INT8),
    );
    assert!(compile(&m.build(), &Options::default()).is_ok());
}

#[test]
fn comparison_scales_must_be_below_one() {
    let mut a = tensor("a", &[4], INT8);
    a.scale = vec![1.5];
    let m = one_op(LESS, &[a, tensor("b", &[4], INT8)], tensor("y", &[4], BOOL));
    assert_refused(&m, "LESS", &["1.5"]);
}

#[test]
fn int32_add_ignores_its_fused_activation() {
    let mut m = one_op(
        ADD,
        &[tensor("a", &[4], INT32), tensor("b", &[1], INT32)],
        tensor("y", &[4], INT32),
    );
    // RELU6, which TFLM's int32 ADD does not apply (its SUB, MUL and DIV do).
    m.ops[0] = m.ops[0].clone().with_options(ADD_OPTIONS, &[(4, 3)]);
    let out = run(
        &m,
        &[
            (DType::I32, le_i32(&[-10, 3, 100, i32::MAX]), vec![1, 4]),
            (DType::I32, le_i32(&[1]), vec![1, 1]),
        ],
    );
    assert_eq!(out, le_i32(&[-9, 4, 101, i32::MIN]));
}

#[test]
fn int8_maximum_keeps_raw_bytes_across_quantizations() {
    let mut b = tensor("b", &[3], INT8);
    b.scale = vec![0.5];
    let m = one_op(
        MAXIMUM,
        &[tensor("a", &[3], INT8), b],
        tensor("y", &[3], INT8),
    );
    let c = compile(&m.build(), &Options::default()).unwrap();
    assert!(
        c.report.warnings.iter().any(|w| w.contains("MAXIMUM")),
        "{:?}",
        c.report.warnings
    );
    let out = run(
        &m,
        &[
            (DType::I8, vec![10, 0xf0, 5], vec![1, 3]),
            (DType::I8, vec![9, 0xf1, 6], vec![1, 3]),
        ],
    );
    assert_eq!(out, [10, 0xf1, 6]);
}

#[test]
fn cast_converts_raw_values_between_supported_types() {
    let m = one_op(CAST, &[tensor("a", &[4], FLOAT32)], tensor("y", &[4], INT8));
    let x: Vec<u8> = [200.5f32, -1.9, f32::NAN, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let out = run(&m, &[(DType::F32, x, vec![1, 4])]);
    assert_eq!(out, [127, 0xff, 0, 3]);
}
