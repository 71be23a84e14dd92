//! Malformed and unsupported models end in an error that names the byte offset, the operator
//! or the tensor at fault — never a panic.

use ferrite_convert::{compile, ConvertError, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};
use ferrite_tests::*;

fn convert_err(bytes: &[u8]) -> ConvertError {
    compile(bytes, &Options::default()).expect_err("expected an error")
}

#[test]
fn a_hand_built_model_converts_and_runs() {
    // RELU (code 19) on int8 [1, 4]: proves the builder writes what the reader expects.
    let c = compile(&ModelSpec::unary(19).build(), &Options::default()).unwrap();
    let mut arena = c.new_arena();
    let out: &[i8] = c
        .model()
        .run(arena.as_mut_slice(), &[-3i8, -1, 0, 5])
        .unwrap();
    assert_eq!(out, &[0, 0, 0, 5]);
}

#[test]
fn every_truncation_is_an_error_naming_a_byte_offset() {
    let bytes = std::fs::read(repo_root().join("tests/data/ops/conv2d_1x1_int8.tflite")).unwrap();
    for len in 0..bytes.len() {
        match compile(&bytes[..len], &Options::default()) {
            Err(ConvertError::Read(e)) => {
                assert!(e.to_string().contains("byte offset"), "{len}: {e}")
            }
            Err(e) => panic!("truncated to {len} bytes: unexpected error kind {e}"),
            Ok(_) => panic!("truncated to {len} bytes: accepted"),
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let bytes =
        std::fs::read(repo_root().join("tests/data/ops/dwconv_3x3_dil2_same_int8.tflite")).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % b.len();
            b[i] ^= 1 << (next() % 8);
        }
        match compile(&b, &Options::default()) {
            Ok(c) => {
                // Whatever converts must also run without panicking.
                let mut arena = c.new_arena();
                let _ = c.model().invoke(arena.as_mut_slice());
                ok += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1;
            }
        }
    }
    println!("{ok} mutants converted, {err} rejected");
}

#[test]
fn unsupported_operator_is_named_with_the_supported_list() {
    // HASHTABLE_LOOKUP (code 10): not a TensorFlow Lite Micro kernel, so not Ferrite's.
    let e = convert_err(&ModelSpec::unary(10).build()).to_string();
    assert!(
        e.starts_with("operator #0 (HASHTABLE_LOOKUP) is not supported"),
        "{e}"
    );
    assert!(e.contains("CONV_2D") && e.contains("SOFTMAX"), "{e}");
}

#[test]
fn bad_indices_and_shapes_name_the_operator_or_tensor() {
    let mut m = ModelSpec::unary(19);
    m.ops[0].inputs = vec![7];
    assert_eq!(
        convert_err(&m.build()).to_string(),
        "operator #0 (RELU): input 0 is tensor index 7, out of range (2 tensors)"
    );

    let mut m = ModelSpec::unary(19);
    m.tensors[1].shape = vec![1, -4];
    let e = convert_err(&m.build()).to_string();
    assert!(e.starts_with("tensor #1 'y': dimension -4"), "{e}");

    let mut m = ModelSpec::unary(19);
    m.tensors[1].shape = vec![1, 5];
    let e = convert_err(&m.build()).to_string();
    assert!(
        e.starts_with("operator #0 (RELU): output tensor #1 'y' int8[1,5]"),
        "{e}"
    );

    let mut m = ModelSpec::unary(19);
    m.tensors[0].scale = vec![0.0];
    let e = convert_err(&m.build()).to_string();
    assert!(e.starts_with("tensor #0 'x': quantization scale 0"), "{e}");

    // A tensor read before it is written (here: the op reads its own output).
    let mut m = ModelSpec::unary(19);
    m.tensors.push(TensorSpec::i8("z", &[1, 4], 0.1, 0));
    m.ops = vec![
        OpSpec {
            opcode_index: 0,
            inputs: vec![2],
            outputs: vec![1],
            options: None,
        },
        OpSpec {
            opcode_index: 0,
            inputs: vec![1],
            outputs: vec![2],
            options: None,
        },
    ];
    let e = convert_err(&m.build()).to_string();
    assert!(e.contains("read before any operator writes it"), "{e}");
}

#[test]
fn a_constant_larger_than_any_flash_is_refused_before_it_is_computed() {
    // ZEROS_LIKE (code 93) folds from its input's shape alone; a 512 MiB int8 shape (below the
    // 1 GiB tensor limit) once made the folder allocate 4 GiB (found by the fuzz smoke test).
    let mut m = ModelSpec::unary(93);
    for t in &mut m.tensors {
        t.shape = vec![1 << 29];
    }
    let e = convert_err(&m.build()).to_string();
    assert!(
        e.starts_with("operator #0 (ZEROS_LIKE): while evaluating it at conversion time")
            && e.contains("536870912-byte constant"),
        "{e}"
    );
}
