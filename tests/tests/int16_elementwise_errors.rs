//! 16x8 (int16) elementwise operators on hand-built one-op models: the combinations TFLite
//! Micro rejects (a non-zero int16 zero point on MUL, RELU, LOGISTIC or TANH, a LOGISTIC or
//! TANH output scale other than 1/32768) and those TFLM has no int16 kernel for are conversion
//! errors that say why; valid ones convert.

use ferrite_convert::{compile, ConvertError, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const ADD: i32 = 0;
const LOGISTIC: i32 = 14;
const MUL: i32 = 18;
const RELU: i32 = 19;
const SUB: i32 = 41;
const TANH: i32 = 28;
const ABS: i32 = 101;
const RSQRT: i32 = 76;
const SQUARED_DIFFERENCE: i32 = 99;
const MAXIMUM: i32 = 55;
const HARD_SWISH: i32 = 117;
/// `TensorType::INT16`.
const INT16: u8 = 7;

fn i16_tensor(name: &str, scale: f32, zp: i64) -> TensorSpec {
    TensorSpec {
        shape: vec![1, 4],
        dtype: INT16,
        name: name.into(),
        scale: vec![scale],
        zero_point: vec![zp],
        ..Default::default()
    }
}

fn binary(code: i32, zps: [i64; 3]) -> ModelSpec {
    ModelSpec {
        opcodes: vec![code],
        tensors: vec![
            i16_tensor("a", 1e-3, zps[0]),
            i16_tensor("b", 2e-3, zps[1]),
            i16_tensor("y", 3e-3, zps[2]),
        ],
        ops: vec![OpSpec::new(0, &[0, 1], &[2])],
        inputs: vec![0, 1],
        outputs: vec![2],
        buffers: vec![vec![]],
        ..Default::default()
    }
}

fn unary(code: i32, zps: [i64; 2]) -> ModelSpec {
    ModelSpec {
        opcodes: vec![code],
        tensors: vec![i16_tensor("x", 1e-3, zps[0]), i16_tensor("y", 1e-3, zps[1])],
        ops: vec![OpSpec::new(0, &[0], &[1])],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![vec![]],
        ..Default::default()
    }
}

fn error(spec: &ModelSpec) -> String {
    let e: ConvertError = compile(&spec.build(), &Options::default()).expect_err("an error");
    e.to_string()
}

#[test]
fn valid_int16_add_sub_mul_relu_convert() {
    for code in [ADD, SUB, MUL] {
        compile(&binary(code, [0, 0, 0]).build(), &Options::default()).unwrap();
    }
    // TFLM's int16 ADD and SUB accept zero points (the general rescaling path).
    compile(&binary(ADD, [3, -2, 1]).build(), &Options::default()).unwrap();
    compile(&unary(RELU, [0, 0]).build(), &Options::default()).unwrap();
}

#[test]
fn int16_mul_with_a_zero_point_is_a_conversion_error() {
    for (k, zps) in [[5, 0, 0], [0, -1, 0], [0, 0, 7]].into_iter().enumerate() {
        let e = error(&binary(MUL, zps));
        assert!(e.contains("MUL"), "{e}");
        assert!(e.contains("int16 MUL needs zero point 0"), "{e}");
        assert!(e.contains(&format!("found {}", zps[k])), "{e}");
    }
}

#[test]
fn int16_relu_with_a_zero_point_is_a_conversion_error() {
    let e = error(&unary(RELU, [0, 4]));
    assert!(e.contains("int16 RELU needs zero point 0"), "{e}");
    assert!(e.contains("output"), "{e}");
}

#[test]
fn int16_functions_without_a_tflm_kernel_say_why() {
    let e = error(&unary(HARD_SWISH, [0, 0]));
    assert!(e.contains("TFLite Micro has no int16 kernel"), "{e}");
}

/// A one-op int16 LOGISTIC or TANH model with the given input and output quantization.
fn sigmoid(code: i32, input: (f32, i64), output: (f32, i64)) -> ModelSpec {
    let mut spec = unary(code, [input.1, output.1]);
    spec.tensors[0].scale = vec![input.0];
    spec.tensors[1].scale = vec![output.0];
    spec
}

#[test]
fn int16_logistic_and_tanh_check_tflm_quantization() {
    let q15 = 1.0 / 32768.0;
    for code in [LOGISTIC, TANH] {
        let name = if code == LOGISTIC { "LOGISTIC" } else { "TANH" };
        compile(
            &sigmoid(code, (1e-3, 0), (q15, 0)).build(),
            &Options::default(),
        )
        .unwrap();
        let e = error(&sigmoid(code, (1e-3, 0), (1e-3, 0)));
        assert!(e.contains(name), "{e}");
        assert!(e.contains("output needs scale 1/32768"), "{e}");
        assert!(e.contains("found 0.001"), "{e}");
        let e = error(&sigmoid(code, (1e-3, 3), (q15, 0)));
        assert!(e.contains("need zero point 0"), "{e}");
        assert!(e.contains("found 3 and 0"), "{e}");
        // So large a scale that TFLM's input rescale overflows int32.
        let e = error(&sigmoid(code, (50.0, 0), (q15, 0)));
        assert!(e.contains("input scale 50"), "{e}");
    }
}

#[test]
fn int16_abs_rsqrt_squared_difference_need_zero_points_0() {
    for code in [ABS, RSQRT] {
        compile(&unary(code, [0, 0]).build(), &Options::default()).unwrap();
        let e = error(&unary(code, [0, 2]));
        assert!(e.contains("need zero point 0"), "{e}");
        assert!(e.contains("found 0 and 2"), "{e}");
    }
    compile(
        &binary(SQUARED_DIFFERENCE, [0, 0, 0]).build(),
        &Options::default(),
    )
    .unwrap();
    let e = error(&binary(SQUARED_DIFFERENCE, [0, 4, 0]));
    assert!(
        e.contains("int16 SQUARED_DIFFERENCE needs zero point 0"),
        "{e}"
    );
    assert!(e.contains("found 0, 4 and 0"), "{e}");
    // MAXIMUM compares the stored values whatever the quantization, as TFLM does.
    compile(&binary(MAXIMUM, [3, 0, 1]).build(), &Options::default()).unwrap();
}
