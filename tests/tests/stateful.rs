//! Stateful models call after call (`tests/data/stateful`, produced by
//! `tools/goldens/gen_svdf_goldens.py` on one TensorFlow Lite Micro interpreter per case): the
//! SVDF activation state lives in the model's state region, carries from one invocation to the
//! next, and `reset_state` restarts the sequence exactly as TFLM's `ResetVariableTensors`;
//! int8 outputs equal TFLM's byte for byte, float within 1e-5 relative, at every call.

use ferrite_convert::host::{run_model, run_model_stateful};
use ferrite_convert::npy::Data;
use ferrite_core::{Error, NoHook};
use ferrite_tests::*;
use std::path::PathBuf;

struct Case {
    name: String,
    calls: usize,
    reset_before: Vec<usize>,
    tflite: PathBuf,
    inputs: ferrite_convert::npy::Array,
    outputs: ferrite_convert::npy::Array,
}

fn cases() -> Vec<Case> {
    let dir = repo_root().join("tests/data/stateful");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    index["cases"]
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
    let expected = &case.outputs.data;
    let per = expected.len() / case.calls;
    let got = Data::from_bytes(expected.dtype(), got);
    if got.len() != per {
        return Some(format!("call {k}: {} elements, expected {per}", got.len()));
    }
    // `got` holds one call: compare it element by element with call `k` of the goldens.
    (0..per).find_map(|i| {
        let (a, b) = (got.get_f64(i), expected.get_f64(k * per + i));
        let ok = match expected {
            Data::F32(_) => (a - b).abs() <= 1e-5 * a.abs().max(b.abs()) || a == b,
            _ => a == b,
        };
        (!ok).then(|| format!("call {k}, element {i}: got {a}, expected {b}"))
    })
}

#[test]
fn svdf_cases_match_tflite_micro_call_after_call_with_reset() {
    let cases = cases();
    assert!(cases.len() >= 6, "expected the SVDF golden set");
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

/// The goldens depend on the carried state: a fresh state for every call (what `ferrite run`
/// does without `--stream`) reproduces only the calls that start a sequence.
#[test]
fn svdf_goldens_need_the_carried_state() {
    for case in cases() {
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
