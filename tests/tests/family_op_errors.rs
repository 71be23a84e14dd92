//! The operators added for the model families (TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR), on
//! hand-built one-op models: a valid one converts and computes what TFLM would, and each
//! malformed variant is a conversion error naming the operator and what is wrong, never a
//! panic.

use ferrite_convert::{compile, host, ConvertError, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const TRANSPOSE_CONV: i32 = 67;
const RESIZE_NEAREST_NEIGHBOR: i32 = 97;
/// `BuiltinOptions` union codes.
const TRANSPOSE_CONV_OPTIONS: u8 = 49;
const RESIZE_NEAREST_NEIGHBOR_OPTIONS: u8 = 74;

fn f32_tensor(name: &str, shape: &[i32], buffer: u32) -> TensorSpec {
    TensorSpec {
        shape: shape.to_vec(),
        dtype: 0,
        buffer,
        name: name.into(),
        ..Default::default()
    }
}

fn i32_tensor(name: &str, shape: &[i32], buffer: u32) -> TensorSpec {
    TensorSpec {
        shape: shape.to_vec(),
        dtype: 2,
        buffer,
        name: name.into(),
        ..Default::default()
    }
}

fn le_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Float TRANSPOSE_CONV `[1, 2, 2, 1]` → `[1, out, out, 1]` with a 2x2 filter
/// `[1, -2; 3, 0.5]`, bias -1, stride 2, VALID padding (`padding` 1) and a fused RELU.
fn transpose_conv(out: i32, declared: [i32; 4], padding: i32, stride: i32) -> ModelSpec {
    ModelSpec {
        opcodes: vec![TRANSPOSE_CONV],
        tensors: vec![
            f32_tensor("x", &[1, 2, 2, 1], 0),
            f32_tensor("y", &[1, out, out, 1], 0),
            i32_tensor("output_shape", &[4], 1),
            f32_tensor("filter", &[1, 2, 2, 1], 2),
            f32_tensor("bias", &[1], 3),
        ],
        ops: vec![OpSpec {
            opcode_index: 0,
            inputs: vec![2, 3, 0, 4],
            outputs: vec![1],
            // padding, stride_w, stride_h, fused activation (1 = RELU)
            options: Some((
                TRANSPOSE_CONV_OPTIONS,
                vec![(4, padding), (6, stride), (8, stride), (10, 1)],
            )),
        }],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![
            vec![],
            le_i32(&declared),
            le_f32(&[1.0, -2.0, 3.0, 0.5]),
            le_f32(&[-1.0]),
        ],
        ..Default::default()
    }
}

/// Float RESIZE_NEAREST_NEIGHBOR `[1, 2, 2, 1]` → `[1, 3, 4, 1]` with `size` and the given
/// `half_pixel_centers`.
fn resize(size: &[i32], half_pixel_centers: bool) -> ModelSpec {
    ModelSpec {
        opcodes: vec![RESIZE_NEAREST_NEIGHBOR],
        tensors: vec![
            f32_tensor("x", &[1, 2, 2, 1], 0),
            f32_tensor("y", &[1, 3, 4, 1], 0),
            i32_tensor("size", &[size.len() as i32], 1),
        ],
        ops: vec![OpSpec {
            opcode_index: 0,
            inputs: vec![0, 2],
            outputs: vec![1],
            options: Some((
                RESIZE_NEAREST_NEIGHBOR_OPTIONS,
                vec![(4, 0), (6, half_pixel_centers as i32)],
            )),
        }],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![vec![], le_i32(size)],
        ..Default::default()
    }
}

fn run_f32(spec: &ModelSpec, input: &[f32]) -> Vec<f32> {
    let c = compile(&spec.build(), &Options::default()).unwrap();
    let bytes: Vec<u8> = input.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut arena = c.new_arena();
    let inputs = [ferrite_convert::npy::Array {
        shape: vec![1, 1, 2, 2, 1],
        data: ferrite_convert::npy::Data::from_bytes(ferrite_core::DType::F32, &bytes),
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
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn error(spec: &ModelSpec) -> String {
    let e: ConvertError = compile(&spec.build(), &Options::default()).expect_err("an error");
    e.to_string()
}

#[test]
fn a_valid_transpose_conv_converts_and_runs() {
    let y = run_f32(
        &transpose_conv(4, [1, 4, 4, 1], 1, 2),
        &[1.0, 2.0, 0.0, -1.0],
    );
    // Each input x paints x * [1, -2; 3, 0.5] - 1 into its 2x2 block, then RELU.
    #[rustfmt::skip]
    let expected = [
        0.0, 0.0, 1.0, 0.0,
        2.0, 0.0, 5.0, 0.0,
        0.0, 0.0, 0.0, 1.0,
        0.0, 0.0, 0.0, 0.0,
    ];
    assert_eq!(y, expected);
}

#[test]
fn malformed_transpose_convs_are_errors_naming_the_operator() {
    let cases = [
        // output_shape disagrees with the output tensor
        (transpose_conv(4, [1, 5, 4, 1], 1, 2), "output_shape"),
        // a zero stride
        (
            transpose_conv(4, [1, 4, 4, 1], 1, 0),
            "strides must be positive",
        ),
        // an unknown padding code
        (transpose_conv(4, [1, 4, 4, 1], 7, 2), "padding code 7"),
        // the output does not map back to the 2x2 input (5x5 VALID with stride 2 gives 2x2, but
        // 6x6 gives 3x3)
        (transpose_conv(6, [1, 6, 6, 1], 1, 2), "not the input's 2x2"),
    ];
    for (spec, needle) in cases {
        let e = error(&spec);
        assert!(
            e.starts_with("operator #0 (TRANSPOSE_CONV)") && e.contains(needle),
            "{e}"
        );
    }
    // The filter's input channels must be the input's.
    let mut spec = transpose_conv(4, [1, 4, 4, 1], 1, 2);
    spec.tensors[3].shape = vec![1, 2, 1, 2];
    let e = error(&spec);
    assert!(e.contains("TRANSPOSE_CONV") && e.contains("filter"), "{e}");
    // An output_shape that is neither constant nor computed is refused (by the graph check,
    // before lowering).
    let mut spec = transpose_conv(4, [1, 4, 4, 1], 1, 2);
    spec.tensors[2].buffer = 0;
    let e = error(&spec);
    assert!(
        e.starts_with("operator #0 (TRANSPOSE_CONV)") && e.contains("'output_shape'"),
        "{e}"
    );
}

#[test]
fn a_valid_resize_converts_and_follows_tflm_indexing() {
    // 2x2 -> 3x4, no half-pixel centres: rows floor(y * 2/3) = 0, 0, 1; columns
    // floor(x * 0.5) = 0, 0, 1, 1.
    let y = run_f32(&resize(&[3, 4], false), &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(y, [1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4.]);
    // Half-pixel centres: rows floor((y + 0.5) * 2/3) = 0, 1, 1.
    let y = run_f32(&resize(&[3, 4], true), &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(y, [1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]);
}

#[test]
fn malformed_resizes_are_errors_naming_the_operator() {
    for (spec, needle) in [
        (
            resize(&[3, 5], false),
            "is not the output's height and width",
        ),
        (resize(&[3], false), "is not the output's height and width"),
    ] {
        let e = error(&spec);
        assert!(
            e.starts_with("operator #0 (RESIZE_NEAREST_NEIGHBOR)") && e.contains(needle),
            "{e}"
        );
    }
    // Channels must be kept.
    let mut spec = resize(&[3, 4], false);
    spec.tensors[1].shape = vec![1, 3, 4, 2];
    let e = error(&spec);
    assert!(
        e.contains("RESIZE_NEAREST_NEIGHBOR") && e.contains("channels"),
        "{e}"
    );
    // An empty input image.
    let mut spec = resize(&[3, 4], false);
    spec.tensors[0].shape = vec![1, 0, 2, 1];
    let e = error(&spec);
    assert!(e.contains("RESIZE_NEAREST_NEIGHBOR"), "{e}");
}
