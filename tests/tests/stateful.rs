//! Stateful models call after call (`tests/data/stateful`, produced by
//! `tools/goldens/gen_svdf_goldens.py`, and `tests/data/lstm`, by
//! `tools/goldens/gen_lstm_goldens.py`, on one TensorFlow Lite Micro interpreter per case): the
//! SVDF activation state and the LSTM hidden and cell states live in the model's state region,
//! carry from one invocation to the next, and `reset_state` restarts the sequence exactly as
//! TFLM's `ResetVariableTensors`; integer outputs equal TFLM's byte for byte, float within
//! 1e-5 relative, at every call.

use ferrite_convert::host::{run_model, run_model_stateful};
use ferrite_core::{Error, NoHook};
use ferrite_tests::*;
use std::path::PathBuf;

struct Case {
    name: String,
    state_dtype: String,
    calls: usize,
    reset_before: Vec<usize>,
    tflite: PathBuf,
    inputs: ferrite_convert::npy::Array,
    outputs: ferrite_convert::npy::Array,
}

/// The SVDF cases.
fn cases() -> Vec<Case> {
    cases_in("tests/data/stateful")
}

/// The cases listed in `<dir>/index.json`.
fn cases_in(dir: &str) -> Vec<Case> {
    let dir = repo_root().join(dir);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            Case {
                state_dtype: c["state_dtype"].as_str().unwrap_or_default().to_string(),
                calls: c["calls"].as_u64().unwrap() as usize,
                reset_before: c["reset_before"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect(),
                tflite: dir.join(format!("{name}.tflite")),
                inputs: load(&dir.join(format!("{name}.inputs.npy"))),
                outputs: load(&dir.join(format!("{name}.outputs.npy"))),
                name,
            }
        })
        .collect()
}

/// Where call `k`'s output disagrees with TFLM's, if it does.
fn mismatch(case: &Case, k: usize, got: &[u8]) -> Option<String> {
    call_mismatch(&case.outputs, case.calls, k, got)
}

#[test]
fn svdf_cases_match_tflite_micro_call_after_call_with_reset() {
    let cases = cases();
    assert!(cases.len() >= 7, "expected the SVDF golden set");
    let mut failures = Vec::new();
    for case in &cases {
        for target in TARGETS {
            let c = convert_for(&case.tflite, target);
            let model = c.model();
            assert!(c.state_bytes > 0, "{}: no state region", case.name);
            assert_eq!(c.report.state_bytes, c.state_bytes);
            assert_eq!(
                model.state.slots.len(),
                1,
                "{}: one variable tensor",
                case.name
            );
            // TFLM resets an int8 variable to its zero point (-5 in the int8-state case),
            // anything else to zero.
            let fill = if case.state_dtype == "int8" {
                -5i8 as u8
            } else {
                0
            };
            assert_eq!(
                model.state.slots[0].fill, fill,
                "{}: reset value",
                case.name
            );
            let mut arena = c.new_arena();
            let mut state = c.new_state();
            for k in 0..case.calls {
                if case.reset_before.contains(&k) {
                    model.reset_state(state.as_mut_slice()).unwrap();
                }
                let got = run_model_stateful(
                    &model,
                    arena.as_mut_slice(),
                    state.as_mut_slice(),
                    std::slice::from_ref(&case.inputs),
                    k,
                    &mut NoHook,
                )
                .unwrap_or_else(|e| panic!("{} call {k}: {e}", case.name));
                if let Some(m) = mismatch(case, k, &got[0]) {
                    failures.push(format!("{} ({target:?}): {m}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every LSTM case (float32, int8, 16x8; batch- and time-major, batch 1 and 2, with and
/// without cell clip, return_sequences on and off, and the classifier) on every target: the
/// hidden and cell states take two slots, and each call equals TFLM's.
#[test]
fn lstm_cases_match_tflite_micro_call_after_call_with_reset() {
    let cases = cases_in("tests/data/lstm");
    assert!(cases.len() >= 15, "expected the LSTM golden set");
    let mut failures = Vec::new();
    for case in &cases {
        for target in TARGETS {
            let c = convert_for(&case.tflite, target);
            let model = c.model();
            assert_eq!(
                model.state.slots.len(),
                2,
                "{}: hidden and cell states",
                case.name
            );
            let mut arena = c.new_arena();
            let mut state = c.new_state();
            model.reset_state(state.as_mut_slice()).unwrap();
            for k in 0..case.calls {
                if case.reset_before.contains(&k) {
                    model.reset_state(state.as_mut_slice()).unwrap();
                }
                let got = run_model_stateful(
                    &model,
                    arena.as_mut_slice(),
                    state.as_mut_slice(),
                    std::slice::from_ref(&case.inputs),
                    k,
                    &mut NoHook,
                )
                .unwrap_or_else(|e| panic!("{} call {k}: {e}", case.name));
                if let Some(m) = mismatch(case, k, &got[0]) {
                    failures.push(format!("{} ({target:?}): {m}", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The goldens depend on the carried state: a fresh state for every call (what `ferrite run`
/// does without `--stream`) reproduces only the calls that start a sequence.
#[test]
fn svdf_and_lstm_goldens_need_the_carried_state() {
    for case in cases().into_iter().chain(cases_in("tests/data/lstm")) {
        let c = convert(&case.tflite);
        let model = c.model();
        let mut arena = c.new_arena();
        let mut differs = false;
        for k in 0..case.calls {
            let got = run_model(
                &model,
                arena.as_mut_slice(),
                std::slice::from_ref(&case.inputs),
                k,
                &mut NoHook,
            )
            .unwrap();
            let starts_sequence = k == 0 || case.reset_before.contains(&k);
            let m = mismatch(&case, k, &got[0]);
            if starts_sequence {
                assert_eq!(
                    m, None,
                    "{}: a fresh state is TFLM's state after a reset",
                    case.name
                );
            } else {
                differs |= m.is_some();
            }
        }
        assert!(differs, "{}: no call depended on the state", case.name);
    }
}

#[test]
fn a_stateful_model_refuses_to_run_without_its_state() {
    let case = &cases()[0];
    let c = convert(&case.tflite);
    let model = c.model();
    let mut arena = c.new_arena();
    let input = vec![0i8; model.input_tensor(0).unwrap().num_elements()];
    assert_eq!(
        model.run(arena.as_mut_slice(), &input).unwrap_err(),
        Error::StateTooSmall {
            required: c.state_bytes,
            actual: 0
        }
    );
    let mut short = vec![0u8; c.state_bytes - 1];
    assert!(matches!(
        model.reset_state(&mut short),
        Err(Error::StateTooSmall { .. })
    ));
    // A slot planned outside the region is an error, never a panic.
    let mut slots = c.state_slots.clone();
    slots[0].offset = c.state_bytes as u32;
    let bad = ferrite_core::Model {
        state: ferrite_core::StatePlan {
            bytes: c.state_bytes,
            slots: &slots,
        },
        ..model
    };
    let mut state = c.new_state();
    assert!(matches!(
        bad.reset_state(state.as_mut_slice()),
        Err(Error::InvalidModel { .. })
    ));
    assert!(matches!(
        bad.run_stateful(arena.as_mut_slice(), state.as_mut_slice(), &input),
        Err(Error::InvalidLayer { .. })
    ));
}

use ferrite_convert::{compile, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const SVDF: i32 = 27;
const ADD: i32 = 0;
const SVDF_OPTIONS: u8 = 6;

fn tensor(name: &str, shape: &[i32], dtype: u8, buffer: u32) -> TensorSpec {
    TensorSpec {
        shape: shape.to_vec(),
        dtype,
        buffer,
        name: name.into(),
        ..Default::default()
    }
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A float SVDF `[1, 3]` -> `[1, 2]`: 2 filters of rank 1, memory 4, the activation state of
/// type `state_dtype` (0 = FLOAT32).
fn float_svdf(state_dtype: u8) -> ModelSpec {
    let mut state = tensor("activation_state", &[1, 8], state_dtype, 0);
    state.is_variable = true;
    ModelSpec {
        opcodes: vec![SVDF],
        tensors: vec![
            tensor("x", &[1, 3], 0, 0),
            tensor("weights_feature", &[2, 3], 0, 1),
            tensor("weights_time", &[2, 4], 0, 2),
            tensor("bias", &[2], 0, 3),
            state,
            tensor("y", &[1, 2], 0, 0),
        ],
        ops: vec![OpSpec::new(0, &[0, 1, 2, 3, 4], &[5]).with_options(SVDF_OPTIONS, &[(4, 1)])],
        inputs: vec![0],
        outputs: vec![5],
        buffers: vec![
            vec![],
            le_f32(&[1.0, 0.5, -1.0, 0.25, 2.0, 1.0]),
            le_f32(&[0.1, 0.2, 0.3, 0.4, -0.5, 0.5, -0.5, 1.0]),
            le_f32(&[0.5, -0.25]),
        ],
        ..Default::default()
    }
}

/// A hand-built SVDF converts with its state region planned (float `[1, 8]`: 32 bytes), and
/// its newest-frame time weight shows the input of the current call while the older ones show
/// the earlier calls' (the window slides one frame per call).
#[test]
fn a_hand_built_svdf_plans_its_state_and_slides_its_window() {
    let c = compile(&float_svdf(0).build(), &Options::default()).unwrap();
    assert_eq!(c.state_bytes, 32);
    assert_eq!(c.report.state[0].name, "activation_state");
    let model = c.model();
    let mut arena = c.new_arena();
    let mut state = c.new_state();
    let mut outs = Vec::new();
    for x in [[1.0f32, 0.0, 0.0], [0.0; 3], [0.0; 3]] {
        let y: &[f32] = model
            .run_stateful(arena.as_mut_slice(), state.as_mut_slice(), &x)
            .unwrap();
        outs.push(y.to_vec());
    }
    // Filter 0 sees x[0] * 1.0 = 1 at call 0; unit 0 = bias 0.5 + 1 * (time weight of the
    // frame's slot: newest 0.4, then 0.3, then 0.2). Filter 1 sees x[0] * 0.25.
    let expect = |w0: f32, w1: f32| [0.5 + w0, -0.25 + 0.25 * w1];
    assert_eq!(outs[0], expect(0.4, 1.0));
    assert_eq!(outs[1], expect(0.3, -0.5));
    assert_eq!(outs[2], expect(0.2, 0.5));
}

#[test]
fn svdf_type_errors_name_the_operator_tensors_and_types() {
    // An int16 activation state in an otherwise float SVDF: TFLM's Prepare refuses it too.
    let e = compile(&float_svdf(7).build(), &Options::default())
        .unwrap_err()
        .to_string();
    for word in [
        "SVDF",
        "activation_state",
        "int16",
        "weights_time",
        "float32",
    ] {
        assert!(e.contains(word), "{word:?} missing from: {e}");
    }
}

#[test]
fn a_variable_tensor_outside_svdf_is_an_error_naming_it() {
    let mut v = tensor("accumulator", &[1, 3], 0, 0);
    v.is_variable = true;
    let spec = ModelSpec {
        opcodes: vec![ADD],
        tensors: vec![tensor("x", &[1, 3], 0, 0), v, tensor("y", &[1, 3], 0, 0)],
        ops: vec![OpSpec::new(0, &[0, 1], &[2])],
        inputs: vec![0],
        outputs: vec![2],
        buffers: vec![vec![]],
        ..Default::default()
    };
    let e = compile(&spec.build(), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("accumulator") && e.contains("variable"),
        "unexpected error: {e}"
    );
}

const UNIDIRECTIONAL_SEQUENCE_LSTM: i32 = 44;
const LSTM_OPTIONS: u8 = 71;

/// The forms of a hand-built float LSTM (batch 1, 2 steps, 3 features, 2 units) the
/// refusal test varies.
#[derive(Default, Clone, Copy)]
struct LstmVariant {
    /// Inputs 9, 16 or 20 (peephole, projection, layer norm) given a tensor.
    extra_input: Option<usize>,
    /// No input gate (CIFG): inputs 1, 5 and 12 omitted.
    cifg: bool,
    /// The fused activation code (4 = TANH, what TFLM needs).
    activation: i32,
    /// The cell state's type code (0 = FLOAT32).
    cell_dtype: u8,
}

fn float_lstm(v: &LstmVariant) -> ModelSpec {
    let (units, inputs) = (2usize, 3usize);
    let mut spec = ModelSpec {
        opcodes: vec![UNIDIRECTIONAL_SEQUENCE_LSTM],
        buffers: vec![vec![]],
        ..Default::default()
    };
    let x = spec.push_tensor(tensor("x", &[1, 2, inputs as i32], 0, 0));
    let mut op_inputs = vec![x];
    let ramp = |n: usize, k: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7 + k * 3) % 11) as f32 / 10.0 - 0.5)
            .collect()
    };
    for (k, cols) in [inputs, inputs, inputs, inputs, units, units, units, units]
        .into_iter()
        .enumerate()
    {
        let name = format!("w{k}");
        let t = TensorSpec::f32(&name, &[units as i32, cols as i32]);
        op_inputs.push(spec.push_const(t, le_f32(&ramp(units * cols, k))));
    }
    for k in 9..24 {
        let t = match k {
            12..=15 => {
                let t = TensorSpec::f32(&format!("bias{k}"), &[units as i32]);
                spec.push_const(t, le_f32(&ramp(units, k)))
            }
            18 | 19 => {
                let name = if k == 18 {
                    "hidden_state"
                } else {
                    "cell_state"
                };
                let dtype = if k == 19 { v.cell_dtype } else { 0 };
                let mut t = tensor(name, &[1, units as i32], dtype, 0);
                t.is_variable = true;
                if dtype == 7 {
                    t.scale = vec![1.0 / 2048.0];
                    t.zero_point = vec![0];
                }
                spec.push_tensor(t)
            }
            _ if Some(k) == v.extra_input => {
                let t = TensorSpec::f32(&format!("extra{k}"), &[units as i32]);
                spec.push_const(t, le_f32(&ramp(units, k)))
            }
            _ => -1,
        };
        op_inputs.push(t);
    }
    if v.cifg {
        for k in [1, 5, 12] {
            op_inputs[k] = -1;
        }
    }
    let y = spec.push_tensor(tensor("y", &[1, 2, units as i32], 0, 0));
    spec.ops =
        vec![OpSpec::new(0, &op_inputs, &[y]).with_options(LSTM_OPTIONS, &[(4, v.activation)])];
    spec.inputs = vec![x];
    spec.outputs = vec![y];
    spec
}

/// A hand-built float LSTM converts with two state slots (hidden and cell, 8 bytes each,
/// 16-byte aligned, the region rounded up to 32 bytes) and runs; every form TFLite Micro's LSTM kernel refuses is refused at
/// conversion with an error naming the operator, the option or tensor, and the types.
#[test]
fn lstm_forms_tflite_micro_refuses_are_errors_naming_the_option_or_tensor() {
    let ok = LstmVariant {
        activation: 4,
        ..Default::default()
    };
    let c = compile(&float_lstm(&ok).build(), &Options::default()).unwrap();
    let slots: Vec<(u32, u32)> = c.state_slots.iter().map(|s| (s.offset, s.bytes)).collect();
    assert_eq!(slots, [(0, 8), (16, 8)], "hidden then cell state");
    assert_eq!(c.state_bytes, 32);
    let model = c.model();
    let mut arena = c.new_arena();
    let mut state = c.new_state();
    let y: &[f32] = model
        .run_stateful(arena.as_mut_slice(), state.as_mut_slice(), &[0.5f32; 6])
        .unwrap();
    assert!(y.iter().all(|v| v.is_finite() && v.abs() < 1.0) && y.iter().any(|&v| v != 0.0));
    let cases: [(LstmVariant, &[&str]); 6] = [
        (
            LstmVariant {
                extra_input: Some(10),
                ..ok
            },
            &["UNIDIRECTIONAL_SEQUENCE_LSTM", "peephole", "extra10"],
        ),
        (
            LstmVariant {
                extra_input: Some(16),
                ..ok
            },
            &["UNIDIRECTIONAL_SEQUENCE_LSTM", "projection", "extra16"],
        ),
        (
            LstmVariant {
                extra_input: Some(21),
                ..ok
            },
            &["UNIDIRECTIONAL_SEQUENCE_LSTM", "layer norm", "extra21"],
        ),
        (
            LstmVariant { cifg: true, ..ok },
            &["UNIDIRECTIONAL_SEQUENCE_LSTM", "CIFG"],
        ),
        (
            LstmVariant {
                activation: 1,
                ..ok
            },
            &["UNIDIRECTIONAL_SEQUENCE_LSTM", "RELU", "TANH"],
        ),
        (
            LstmVariant {
                cell_dtype: 7,
                ..ok
            },
            &[
                "UNIDIRECTIONAL_SEQUENCE_LSTM",
                "cell_state",
                "int16",
                "float32",
            ],
        ),
    ];
    for (variant, words) in cases {
        let e = compile(&float_lstm(&variant).build(), &Options::default())
            .unwrap_err()
            .to_string();
        for word in words {
            assert!(e.contains(word), "{word:?} missing from: {e}");
        }
    }
}
