//! The Rust the converter emits compiles (see `build.rs`) and, run through the same executor,
//! reproduces the goldens: the path a firmware takes, checked on the host.

use ferrite_convert::{host, npy};
use ferrite_tests::*;
use std::path::Path;

/// The golden files for an emitted model, if it has any.
fn goldens(name: &str, source: &Path) -> Option<(Vec<npy::Array>, npy::Array)> {
    if let Some(op) = name
        .strip_prefix("op_")
        .or_else(|| name.strip_prefix("fam_"))
        .or_else(|| name.strip_prefix("usr_"))
    {
        let dir = source.parent()?;
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).ok()?).ok()?;
        let case = index["cases"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == op)?;
        let inputs = case["inputs"]
            .as_array()?
            .iter()
            .map(|i| load(&dir.join(i["file"].as_str().unwrap())))
            .collect();
        let output = load(&dir.join(case["outputs"][0]["file"].as_str()?));
        return Some((inputs, output));
    }
    if name == "digits_mobilenet" {
        let s = repo_root().join("models/samples");
        return Some((
            vec![load(&s.join("digits_samples.inputs.npy"))],
            load(&s.join("digits_samples.outputs.npy")),
        ));
    }
    let shared = name.strip_prefix("shared_")?;
    let dir = source.parent()?;
    Some((
        vec![load(&dir.join(format!("{shared}.inputs.npy")))],
        load(&dir.join(format!("{shared}.outputs.npy"))),
    ))
}

#[test]
fn every_golden_model_converts_to_rust() {
    assert!(
        emitted::FAILED.is_empty(),
        "models the converter rejected:\n{}",
        emitted::FAILED
            .iter()
            .map(|(name, e)| format!("{name}: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn emitted_models_reproduce_their_goldens() {
    let mut checked = 0;
    for (name, source, model) in emitted::EMITTED {
        if name.starts_with("st_")
            || name.starts_with("var_")
            || name.starts_with("sig_")
            || name.starts_with("e2e_")
        {
            // Stateful models run call after call: `emitted_stateful_models_...` below,
            // `tests/signal_ops.rs` and `tests/audio_frontend.rs`.
            continue;
        }
        let (inputs, expected) =
            goldens(name, Path::new(source)).unwrap_or_else(|| panic!("{name}: no goldens"));
        let mut arena = ferrite_convert::consts::AlignedBytes::new(&vec![0u8; model.arena_bytes]);
        let n = inputs[0].shape[0];
        let mut bytes = Vec::new();
        for k in 0..n {
            let outs = host::run_model(
                model,
                arena.as_mut_slice(),
                &inputs,
                k,
                &mut ferrite_core::NoHook,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            bytes.extend_from_slice(&outs[0]);
        }
        let got = npy::Array {
            shape: expected.shape.clone(),
            data: npy::Data::from_bytes(expected.data.dtype(), &bytes),
        };
        let bad = compare(&got, &expected, 1e-5);
        assert!(bad.is_empty(), "{name}: {bad:?}");
        checked += 1;
    }
    println!("{checked} emitted models reproduce their goldens");
    assert!(checked > 100);
}

#[test]
fn emitted_model_matches_the_host_conversion() {
    // The generated tables are the converter's tables: same arena, same layers.
    let (_, source, model) = emitted::EMITTED
        .iter()
        .find(|(n, _, _)| *n == "digits_mobilenet")
        .unwrap();
    let c = convert_portable(Path::new(source));
    assert_eq!(model.arena_bytes, c.arena_bytes);
    assert_eq!(model.layers.len(), c.layers.len());
    assert_eq!(model.consts, c.consts.as_slice());
    assert_eq!(model.tensors, &c.tensors[..]);
    for (a, b) in model.layers.iter().zip(&c.layers) {
        assert_eq!(a.op, b.op);
        assert_eq!(a.name, b.name);
    }
}

/// The emitted stateful models (`tests/data/stateful`: SVDF; `tests/data/lstm`: LSTM;
/// `tests/data/variables`: resource variables with `CALL_ONCE` initial values): `STATE_BYTES` and the state slots
/// (initial values included) are the host conversion's, and the generated `MODEL`, run call
/// after call on one state region with the goldens' resets, reproduces TFLM's outputs at
/// every call.
#[test]
fn emitted_stateful_models_match_tflite_micro_call_after_call() {
    let mut checked = 0;
    for (dir, prefix) in [
        ("tests/data/stateful", "st_"),
        ("tests/data/lstm", "st_"),
        ("tests/data/variables", "var_"),
    ] {
        checked += emitted_stateful_dir(&repo_root().join(dir), prefix);
    }
    assert!(
        checked >= 8 + 17 + 4,
        "expected the SVDF, LSTM and resource-variable golden sets, checked {checked}"
    );
}

/// [`emitted_stateful_models_match_tflite_micro_call_after_call`] for the cases of `dir`,
/// emitted as `<prefix><case>`; returns how many it checked.
fn emitted_stateful_dir(dir: &Path, prefix: &str) -> usize {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let mut checked = 0;
    for case in index["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (_, source, model) = emitted::EMITTED
            .iter()
            .find(|(n, _, _)| n.strip_prefix(prefix) == Some(name))
            .unwrap_or_else(|| panic!("{name}: not emitted"));
        let c = convert_portable(Path::new(source));
        assert_eq!(model.state.bytes, c.state_bytes, "{name}: STATE_BYTES");
        assert_eq!(model.state.slots, &c.state_slots[..], "{name}: state slots");
        let input = load(&dir.join(format!("{name}.inputs.npy")));
        let expected = load(&dir.join(format!("{name}.outputs.npy")));
        let resets: Vec<u64> = case["reset_before"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let mut arena = ferrite_convert::consts::AlignedBytes::new(&vec![0u8; model.arena_bytes]);
        let mut state =
            ferrite_convert::consts::AlignedBytes::new(&vec![0xa5u8; model.state.bytes]);
        model.reset_state(state.as_mut_slice()).unwrap();
        let mut bytes = Vec::new();
        for k in 0..input.shape[0] {
            if resets.contains(&(k as u64)) {
                model.reset_state(state.as_mut_slice()).unwrap();
            }
            let outs = host::run_model_stateful(
                model,
                arena.as_mut_slice(),
                state.as_mut_slice(),
                std::slice::from_ref(&input),
                k,
                &mut ferrite_core::NoHook,
            )
            .unwrap_or_else(|e| panic!("{name} call {k}: {e}"));
            bytes.extend_from_slice(&outs[0]);
        }
        let got = npy::Array {
            shape: expected.shape.clone(),
            data: npy::Data::from_bytes(expected.data.dtype(), &bytes),
        };
        let bad = compare(&got, &expected, 1e-5);
        assert!(bad.is_empty(), "{name}: {bad:?}");
        checked += 1;
    }
    checked
}
