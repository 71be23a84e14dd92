//! 16x8 (int16 activations) pooling, MEAN / SUM and CONCATENATION on hand-built one-op
//! models: a zero-point-0 model converts and runs; int16 tensors with a non-zero zero point,
//! int16 REDUCE_MAX and int16 concatenation of differently quantized inputs are conversion
//! errors that name the operator, the tensor and the reason. (Bit-exactness against TFLM is
//! the op goldens' job: `*_16x8` cases in `tests/data/ops`.)

use ferrite_convert::{compile, host, ConvertError, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const AVERAGE_POOL_2D: i32 = 1;
const CONCATENATION: i32 = 2;
const MEAN: i32 = 40;
const SUM: i32 = 74;
const REDUCE_MAX: i32 = 82;
/// `BuiltinOptions` union codes.
const POOL2D_OPTIONS: u8 = 5;
const CONCATENATION_OPTIONS: u8 = 10;

fn i16_tensor(name: &str, shape: &[i32], scale: f32, zero_point: i64) -> TensorSpec {
    TensorSpec {
        shape: shape.to_vec(),
        dtype: 7, // INT16
        name: name.into(),
        scale: vec![scale],
        zero_point: vec![zero_point],
        ..Default::default()
    }
}

/// int16 AVERAGE_POOL_2D 2x2 stride 2 VALID on `[1, 2, 4, 1]` with the given zero points.
fn avg_pool(in_zp: i64, out_zp: i64) -> ModelSpec {
    ModelSpec {
        opcodes: vec![AVERAGE_POOL_2D],
        tensors: vec![
            i16_tensor("x", &[1, 2, 4, 1], 0.001, in_zp),
            i16_tensor("y", &[1, 1, 2, 1], 0.001, out_zp),
        ],
        ops: vec![OpSpec {
            opcode_index: 0,
            inputs: vec![0],
            outputs: vec![1],
            // padding (1 = VALID), stride_w, stride_h, filter_w, filter_h
            options: Some((
                POOL2D_OPTIONS,
                vec![(4, 1), (6, 2), (8, 2), (10, 2), (12, 2)],
            )),
        }],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![vec![]],
        ..Default::default()
    }
}

/// int16 `opcode` (MEAN, SUM, REDUCE_MAX) of `[1, 2, 2, 2]` over axes {1, 2} (keep_dims
/// false) with the given zero points.
fn reduce(opcode: i32, in_zp: i64, out_zp: i64) -> ModelSpec {
    ModelSpec {
        opcodes: vec![opcode],
        tensors: vec![
            i16_tensor("x", &[1, 2, 2, 2], 0.002, in_zp),
            i16_tensor("y", &[1, 2], 0.001, out_zp),
            TensorSpec {
                shape: vec![2],
                dtype: 2,
                buffer: 1,
                name: "axes".into(),
                ..Default::default()
            },
        ],
        ops: vec![OpSpec::new(0, &[0, 2], &[1])],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![
            vec![],
            [1i32, 2].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ],
        ..Default::default()
    }
}

/// int16 CONCATENATION of two `[1, 2]` inputs on axis 1 with the given input scales.
fn concat(scale_a: f32, scale_b: f32) -> ModelSpec {
    ModelSpec {
        opcodes: vec![CONCATENATION],
        tensors: vec![
            i16_tensor("a", &[1, 2], scale_a, 0),
            i16_tensor("b", &[1, 2], scale_b, 0),
            i16_tensor("y", &[1, 4], 0.01, 0),
        ],
        ops: vec![OpSpec {
            opcode_index: 0,
            inputs: vec![0, 1],
            outputs: vec![2],
            options: Some((CONCATENATION_OPTIONS, vec![(4, 1)])),
        }],
        inputs: vec![0, 1],
        outputs: vec![2],
        buffers: vec![vec![]],
        ..Default::default()
    }
}

fn run_i16(spec: &ModelSpec, shape: &[usize], input: &[i16]) -> Vec<i16> {
    let c = compile(&spec.build(), &Options::default()).unwrap();
    let bytes: Vec<u8> = input.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut arena = c.new_arena();
    let mut full_shape = vec![1];
    full_shape.extend_from_slice(shape);
    let inputs = [ferrite_convert::npy::Array {
        shape: full_shape,
        data: ferrite_convert::npy::Data::from_bytes(ferrite_core::DType::I16, &bytes),
    }];
    let out = host::run_one(
        &c,
        arena.as_mut_slice(),
        &inputs,
        0,
        &mut ferrite_core::NoHook,
    )
    .unwrap();
    out[0]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn error(spec: &ModelSpec) -> String {
    let e: ConvertError = compile(&spec.build(), &Options::default()).expect_err("an error");
    e.to_string()
}

#[test]
fn int16_average_pool_converts_and_rounds_like_tflm() {
    // Windows {30000, 30001, -5, 7} and {-1, -2, -3, -3}: sums 60003 (past int16) and -9.
    // (60003 + 2) / 4 = 15001; (-9 - 2) / 4 = -2 (truncating).
    let y = run_i16(
        &avg_pool(0, 0),
        &[1, 2, 4, 1],
        &[30000, 30001, -1, -2, -5, 7, -3, -3],
    );
    assert_eq!(y, [15001, -2]);
}

#[test]
fn int16_mean_and_sum_convert_and_run() {
    // Input scale 0.002, output 0.001: each output is twice the mean (MEAN) or twice the sum
    // (SUM) of its channel's four values.
    let x = [100i16, -1, 200, -2, 300, -3, 401, -4];
    let y = run_i16(&reduce(MEAN, 0, 0), &[1, 2, 2, 2], &x);
    // (100 + 200 + 300 + 401) * 2 / 4 = 500.5 rounds up; -10 * 2 / 4 = -5.
    assert_eq!(y, [501, -5]);
    let y = run_i16(&reduce(SUM, 0, 0), &[1, 2, 2, 2], &x);
    assert_eq!(y, [2002, -20]);
}

#[test]
fn int16_tensors_with_non_zero_zero_points_are_conversion_errors() {
    for (spec, op, tensor) in [
        (avg_pool(3, 0), "AVERAGE_POOL_2D", "'x'"),
        (avg_pool(0, -2), "AVERAGE_POOL_2D", "'y'"),
        (reduce(MEAN, 7, 0), "MEAN", "'x'"),
        (reduce(SUM, 0, 1), "SUM", "'y'"),
    ] {
        let e = error(&spec);
        assert!(
            e.contains(op) && e.contains(tensor) && e.contains("zero point 0"),
            "{e}"
        );
    }
}

#[test]
fn int16_reduce_max_and_mixed_scale_concatenation_are_conversion_errors() {
    let e = error(&reduce(REDUCE_MAX, 0, 0));
    assert!(
        e.contains("REDUCE_MAX") && e.contains("int16") && e.contains("int8 and float32"),
        "{e}"
    );
    // Same scales convert (TFLM copies the bytes).
    compile(&concat(0.01, 0.01).build(), &Options::default()).unwrap();
    let e = error(&concat(0.01, 0.02));
    assert!(
        e.contains("CONCATENATION") && e.contains("without rescaling"),
        "{e}"
    );
}
