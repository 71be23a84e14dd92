//! Resource variables call after call (`tests/data/variables`, produced by
//! `tools/goldens/gen_variable_goldens.py` with TensorFlow Lite Micro): models TensorFlow's
//! converter wrote with VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE and a CALL_ONCE
//! initialisation subgraph (two subgraphs), float and int8. The variables live in the state
//! region, start from their initial values, carry from call to call, and `reset_state` gives
//! the initial values back (a fresh TFLM interpreter's state; see docs/tflm-deviations.md for
//! TFLM's own `Reset`). int8 outputs equal TFLM's byte for byte, float within 1e-5 relative.

use ferrite_convert::host::{run_model, run_model_stateful};
use ferrite_convert::npy::Array;
use ferrite_core::NoHook;
use ferrite_tests::*;
use std::path::PathBuf;

struct Case {
    name: String,
    calls: usize,
    reset_before: Vec<usize>,
    tflite: PathBuf,
    inputs: Array,
    outputs: Array,
}

fn dir() -> PathBuf {
    repo_root().join("tests/data/variables")
}

fn index(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cases() -> Vec<Case> {
    let dir = dir();
    index(dir.join("index.json"))["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            Case {
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

/// Every case on every target: the outputs of a carried state equal TFLM's at every call,
/// resets included; a fresh state for every call (`ferrite run` without `--stream`)
/// reproduces only the calls that start a sequence, so the goldens do test the carried state.
#[test]
fn resource_variable_models_match_tflite_micro_call_after_call() {
    let cases = cases();
    assert!(
        cases.len() >= 4,
        "expected the resource-variable golden set"
    );
    let mut failures = Vec::new();
    for case in &cases {
        for target in TARGETS {
            let c = convert_for(&case.tflite, target);
            let model = c.model();
            assert!(c.state_bytes > 0, "{}: no state region", case.name);
            assert!(
                model.state.slots.iter().any(|s| !s.init.is_empty()),
                "{}: no variable starts from a CALL_ONCE value",
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
        // Fresh state per call.
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
            let m = mismatch(case, k, &got[0]);
            if k == 0 || case.reset_before.contains(&k) {
                assert_eq!(m, None, "{}: a fresh state starts a sequence", case.name);
            } else {
                differs |= m.is_some();
            }
        }
        assert!(differs, "{}: no call depended on the variables", case.name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The state report names each variable by its shared name, and the variables start from
/// the initial values the CALL_ONCE subgraph assigns (`smoother_f32`: `total` starts at
/// `[0.5, -1, 2, 0]`, `count` at 1).
#[test]
fn variables_are_reported_by_name_and_start_from_their_initial_values() {
    let c = convert(&dir().join("smoother_f32.tflite"));
    let names: Vec<&str> = c.report.state.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Variable", "Variable_1"]);
    let model = c.model();
    let mut state = c.new_state();
    state.as_mut_slice().fill(0xee);
    model.reset_state(state.as_mut_slice()).unwrap();
    let mut value = |k: usize| -> Vec<f32> {
        let s = model.state.slots[k];
        state.as_mut_slice()[s.offset as usize..(s.offset + s.bytes) as usize]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    assert_eq!(value(0), [1.0], "count");
    assert_eq!(value(1), [0.5, -1.0, 2.0, 0.0], "total");
}

/// Resource-variable models the converter refuses (`tests/data/variables/invalid`: edits of
/// `smoother_f32`): an initialisation subgraph that computes, a CALL_ONCE naming no subgraph,
/// and one that runs after its variable was used. Each error names what is wrong.
#[test]
fn unsupported_resource_variable_models_are_errors_that_say_why() {
    let dir = dir().join("invalid");
    let cases = index(dir.join("index.json"));
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let e = ferrite_convert::compile(&bytes, &ferrite_convert::Options::default())
            .err()
            .unwrap_or_else(|| panic!("{file}: converted"))
            .to_string();
        for word in case["words"].as_array().unwrap() {
            let word = word.as_str().unwrap();
            assert!(e.contains(word), "{file}: {word:?} missing from: {e}");
        }
    }
}

/// Every stateful model reports every slot of its state region, by name (the resource
/// variables, SVDF, LSTM, CIRCULAR_BUFFER and signal-op goldens).
#[test]
fn every_state_slot_is_reported() {
    let mut checked = 0;
    for dir in ["stateful", "lstm", "variables", "circular_buffer", "signal"] {
        let dir = repo_root().join("tests/data").join(dir);
        let files = std::fs::read_dir(&dir).unwrap();
        for f in files.flatten().map(|e| e.path()) {
            if f.extension().is_none_or(|e| e != "tflite") {
                continue;
            }
            let c = convert(&f);
            assert_eq!(
                c.report.state.len(),
                c.state_slots.len(),
                "{}: slots missing from the report",
                f.display()
            );
            assert!(c.report.state.iter().all(|s| !s.name.is_empty()));
            checked += usize::from(!c.state_slots.is_empty());
        }
    }
    assert!(checked >= 30, "only {checked} stateful models");
}
