//! 16x8 convolutions (int16 activations, int8 weights) on hand-built one-op models: one
//! converts and computes TFLM's int64 arithmetic; the combinations TFLM's int16 kernels cannot
//! run correctly (a non-zero int16 zero point, int16 weights, a bias type the kernel does not
//! read) are conversion errors that say why.

use ferrite_convert::npy::{Array, Data};
use ferrite_convert::{compile, host, Options};
use ferrite_core::DType;
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const CONV_2D: i32 = 3;
const DEPTHWISE_CONV_2D: i32 = 4;
const CONV_2D_OPTIONS: u8 = 1;
const DEPTHWISE_CONV_2D_OPTIONS: u8 = 2;
const INT16: u8 = 7;
const INT8: u8 = 9;
const INT32: u8 = 2;
const INT64: u8 = 4;

fn tensor(name: &str, shape: &[i32], dtype: u8, buffer: u32, scale: f32, zp: i64) -> TensorSpec {
    TensorSpec {
        shape: shape.to_vec(),
        dtype,
        buffer,
        name: name.into(),
        scale: vec![scale],
        zero_point: vec![zp],
        ..Default::default()
    }
}

/// A 1x1 CONV_2D (or DEPTHWISE_CONV_2D) on a `[1, 2, 2, 1]` int16 input: weight 3 (scale 0.5
/// in the filter's type), a bias of `bias_type` holding 10 (scale 0.5 * input scale), input and
/// output scale 1/1024 and the given zero points.
fn conv(code: i32, in_zp: i64, out_zp: i64, filter_type: u8, bias_type: u8) -> ModelSpec {
    let weights: Vec<u8> = match filter_type {
        INT16 => 3i16.to_le_bytes().to_vec(),
        _ => vec![3u8],
    };
    let bias: Vec<u8> = match bias_type {
        INT64 => 10i64.to_le_bytes().to_vec(),
        _ => 10i32.to_le_bytes().to_vec(),
    };
    let s = 1.0 / 1024.0;
    let options = if code == CONV_2D {
        (CONV_2D_OPTIONS, vec![(4, 1), (6, 1), (8, 1)])
    } else {
        (
            DEPTHWISE_CONV_2D_OPTIONS,
            vec![(4, 1), (6, 1), (8, 1), (10, 1)],
        )
    };
    ModelSpec {
        opcodes: vec![code],
        tensors: vec![
            tensor("x", &[1, 2, 2, 1], INT16, 0, s, in_zp),
            tensor("y", &[1, 2, 2, 1], INT16, 0, s, out_zp),
            tensor("filter", &[1, 1, 1, 1], filter_type, 1, 0.5, 0),
            tensor("bias", &[1], bias_type, 2, 0.5 * s, 0),
        ],
        ops: vec![OpSpec {
            opcode_index: 0,
            inputs: vec![0, 2, 3],
            outputs: vec![1],
            options: Some(options),
        }],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![vec![], weights, bias],
        ..Default::default()
    }
}

fn error(spec: &ModelSpec) -> String {
    compile(&spec.build(), &Options::default())
        .expect_err("a conversion error")
        .to_string()
}

#[test]
fn a_16x8_conv_converts_and_runs_the_int64_arithmetic() {
    // y = 0.5 * (3 * x + 10) in int16 steps: the int64 requantization with multiplier 0.5.
    let c = compile(
        &conv(CONV_2D, 0, 0, INT8, INT64).build(),
        &Options::default(),
    )
    .unwrap();
    let x: [i16; 4] = [1, -1, 101, -32768];
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let input = Array {
        shape: vec![1, 2, 2, 1],
        data: Data::from_bytes(DType::I16, &bytes),
    };
    let mut arena = c.new_arena();
    let out = host::run_one(
        &c,
        arena.as_mut_slice(),
        &[input],
        0,
        &mut ferrite_core::NoHook,
    )
    .unwrap();
    let y: Vec<i16> = out[0]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // (3 + 10) / 2 = 6.5 -> 7; (-3 + 10) / 2 = 3.5 -> 4; (303 + 10) / 2 = 156.5 -> 157;
    // (-98304 + 10) / 2 = -49147 -> clamped to -32768.
    assert_eq!(y, [7, 4, 157, -32768]);
}

#[test]
fn a_non_zero_int16_zero_point_is_refused() {
    for code in [CONV_2D, DEPTHWISE_CONV_2D] {
        let e = error(&conv(code, 3, 0, INT8, INT64));
        assert!(
            e.contains("input") && e.contains("zero point 0") && e.contains("found 3"),
            "{e}"
        );
        let e = error(&conv(code, 0, -2, INT8, INT64));
        assert!(
            e.contains("output") && e.contains("zero point 0") && e.contains("found -2"),
            "{e}"
        );
    }
}

#[test]
fn int16_weights_are_refused() {
    for (code, name) in [
        (CONV_2D, "CONV_2D"),
        (DEPTHWISE_CONV_2D, "DEPTHWISE_CONV_2D"),
    ] {
        let e = error(&conv(code, 0, 0, INT16, INT64));
        assert!(
            e.contains(name) && e.contains("int8 weights") && e.contains("filter"),
            "{e}"
        );
    }
}

#[test]
fn a_bias_type_the_kernel_does_not_read_is_refused() {
    // TFLM's int16 DEPTHWISE_CONV_2D reads the bias buffer as int64 whatever its type.
    let e = error(&conv(DEPTHWISE_CONV_2D, 0, 0, INT8, INT32));
    assert!(e.contains("bias") && e.contains("int64"), "{e}");
    // CONV_2D has an int32-bias path: it converts.
    compile(
        &conv(CONV_2D, 0, 0, INT8, INT32).build(),
        &Options::default(),
    )
    .unwrap();
}

#[test]
fn a_requantization_scale_of_128_or_more_is_refused() {
    // TFLM's int64 requantization takes shifts below 8, i.e. input_scale * filter_scale /
    // output_scale below 2^7 (found by the converter fuzzer: the kernel refused at run time).
    for code in [CONV_2D, DEPTHWISE_CONV_2D] {
        let mut spec = conv(code, 0, 0, INT8, INT64);
        spec.tensors[1].scale = vec![1.0 / 1024.0 / 300.0]; // 0.5 / (1/300) = 150
        let e = error(&spec);
        assert!(e.contains("needs it below 2^7"), "{e}");
        assert!(e.contains("channel 0"), "{e}");
        // Just below the bound still converts.
        spec.tensors[1].scale = vec![1.0 / 1024.0 / 250.0]; // 125
        compile(&spec.build(), &Options::default()).unwrap();
    }
}
