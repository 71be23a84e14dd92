//! TFLite Micro's signal library ops one at a time (`tests/data/signal`, produced by
//! `tools/goldens/gen_signal_goldens.py` on one TFLM interpreter per case): each case's
//! outputs equal TFLM's exactly at every call, for every conversion target; the stateful
//! ops (spectral subtraction, framer, stacker, overlap-add, delay) carry their state from
//! call to call and `reset_state` restarts it as TFLM's `Reset` does.

use ferrite_convert::consts::AlignedBytes;
use ferrite_convert::host::run_model_stateful;
use ferrite_convert::npy::{Array, Data};
use ferrite_core::{Model, NoHook};
use ferrite_tests::*;

struct Case {
    name: String,
    op: String,
    calls: usize,
    reset_before: Vec<usize>,
    /// Per output, the element range (per call) TFLM writes, if not all of it.
    valid: Vec<Option<(usize, usize)>>,
    /// Per output, the bool output saying whether TFLM wrote it that call, if it may not.
    compare_if: Vec<Option<usize>>,
    inputs: Vec<Array>,
    outputs: Vec<Array>,
}

fn cases() -> Vec<Case> {
    let dir = repo_root().join("tests/data/signal");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let n = |k: &str| c[k].as_u64().unwrap() as usize;
            let valid = (0..n("outputs"))
                .map(|j| {
                    c["valid"].get(j).map(|r| {
                        (
                            r[0].as_u64().unwrap() as usize,
                            r[1].as_u64().unwrap() as usize,
                        )
                    })
                })
                .collect();
            let compare_if = (0..n("outputs"))
                .map(|j| {
                    c["compare_if"]
                        .get(j.to_string())
                        .map(|v| v.as_u64().unwrap() as usize)
                })
                .collect();
            Case {
                compare_if,
                op: c["op"].as_str().unwrap().to_string(),
                calls: n("calls"),
                reset_before: c["reset_before"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect(),
                valid,
                inputs: (0..n("inputs"))
                    .map(|j| load(&dir.join(format!("{name}.in{j}.npy"))))
                    .collect(),
                outputs: (0..n("outputs"))
                    .map(|j| load(&dir.join(format!("{name}.out{j}.npy"))))
                    .collect(),
                name,
            }
        })
        .collect()
}

/// Runs `case` on `model` call after call (one state, TFLM's resets) and lists where its
/// outputs differ from TFLM's.
fn run_case(case: &Case, model: &Model<'_>, what: &str, failures: &mut Vec<String>) {
    let mut arena = AlignedBytes::new(&vec![0u8; model.arena_bytes]);
    let mut state = AlignedBytes::new(&vec![0xa5u8; model.state.bytes]);
    model.reset_state(state.as_mut_slice()).unwrap();
    for k in 0..case.calls {
        if case.reset_before.contains(&k) {
            model.reset_state(state.as_mut_slice()).unwrap();
        }
        let got = run_model_stateful(
            model,
            arena.as_mut_slice(),
            state.as_mut_slice(),
            &case.inputs,
            k,
            &mut NoHook,
        )
        .unwrap_or_else(|e| panic!("{} call {k}: {e}", case.name));
        for (j, expected) in case.outputs.iter().enumerate() {
            let per = expected.data.len() / case.calls;
            if let Some(flag) = case.compare_if[j] {
                // TFLM left this output unwritten this call (its valid flag is false).
                if case.outputs[flag].data.get_f64(k) == 0.0 {
                    continue;
                }
            }
            let got = Data::from_bytes(expected.data.dtype(), &got[j]);
            assert_eq!(got.len(), per, "{} output {j}: size", case.name);
            let (lo, hi) = case.valid[j].unwrap_or((0, per));
            if let Some(i) =
                (lo..hi).find(|&i| got.get_f64(i) != expected.data.get_f64(k * per + i))
            {
                failures.push(format!(
                    "{} ({what}) call {k} output {j} element {i}: got {}, TFLM {}",
                    case.name,
                    got.get_f64(i),
                    expected.data.get_f64(k * per + i)
                ));
            }
        }
    }
}

#[test]
fn signal_ops_match_tflite_micro_call_after_call() {
    let dir = repo_root().join("tests/data/signal");
    let cases = cases();
    let ops: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.op.as_str()).collect();
    assert_eq!(ops.len(), 14, "one golden set per signal op: {ops:?}");
    let mut failures = Vec::new();
    for case in &cases {
        for target in TARGETS {
            let c = convert_for(&dir.join(format!("{}.tflite", case.name)), target);
            let stateful = matches!(
                case.op.as_str(),
                "SignalFilterBankSpectralSubtraction"
                    | "SignalFramer"
                    | "SignalStacker"
                    | "SignalOverlapAdd"
                    | "SignalDelay"
            );
            // A delay of 0 keeps nothing.
            let keeps = stateful && case.name != "delay_5_0";
            assert_eq!(c.state_bytes > 0, keeps, "{}: state region", case.name);
            run_case(case, &c.model(), &format!("{target:?}"), &mut failures);
        }
        // The emitted Rust (`tests/build.rs`), as a firmware links it.
        let (_, _, model) = emitted::EMITTED
            .iter()
            .find(|(n, _, _)| n.strip_prefix("sig_") == Some(case.name.as_str()))
            .unwrap_or_else(|| panic!("{}: not emitted", case.name));
        run_case(case, model, "emitted", &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

use ferrite_convert::tflite::flexbuf::{write_map, FlexValue};
use ferrite_convert::{compile, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};

const CUSTOM: i32 = 32;

/// One signal op `name` from tensor 0 to tensor 1 (`[n]` of types `from`, `to`).
fn one_op(name: &str, from: u8, to: u8, n: i32, options: &[(&str, FlexValue)]) -> Vec<u8> {
    let t = |name: &str, dtype: u8, shape: &[i32]| TensorSpec {
        shape: shape.to_vec(),
        dtype,
        name: name.into(),
        ..Default::default()
    };
    ModelSpec {
        opcodes: vec![CUSTOM],
        tensors: vec![t("x", from, &[n]), t("y", to, &[n])],
        ops: vec![OpSpec::new(0, &[0], &[1])],
        inputs: vec![0],
        outputs: vec![1],
        buffers: vec![vec![]],
        custom_codes: vec![(0, name.into())],
        custom_options: vec![(0, write_map(options))],
        ..Default::default()
    }
    .build()
}

/// Conversion errors name the operator (index and custom code), the tensor and the types or
/// the option at fault.
#[test]
fn signal_op_errors_name_the_operator_tensor_and_types() {
    let err = |bytes: Vec<u8>| match compile(&bytes, &Options::default()) {
        Ok(_) => panic!("converted"),
        Err(e) => e.to_string(),
    };
    const INT16: u8 = 7;
    const INT32: u8 = 2;
    const UINT32: u8 = 15;
    let range = [
        ("end_index", FlexValue::Int(4)),
        ("start_index", FlexValue::Int(0)),
    ];
    let e = err(one_op("SignalEnergy", INT16, INT32, 8, &range));
    for part in [
        "#0",
        "CUSTOM:SignalEnergy",
        "output",
        "'y'",
        "int32",
        "uint32",
    ] {
        assert!(e.contains(part), "{part:?} missing in: {e}");
    }
    let e = err(one_op(
        "SignalEnergy",
        INT16,
        UINT32,
        8,
        &[("end_index", FlexValue::Int(9))],
    ));
    assert!(e.contains("end_index = 9"), "{e}");
    let fft = |t: i64, len: i64| {
        one_op(
            "SignalRfft",
            INT16,
            INT16,
            8,
            &[
                ("T", FlexValue::Int(t)),
                ("fft_length", FlexValue::Int(len)),
            ],
        )
    };
    let e = err(fft(0, 8));
    assert!(e.contains("only the int16") && e.contains("FLOAT32"), "{e}");
    let e = err(fft(7, 12));
    assert!(
        e.contains("fft_length 12") && e.contains("powers of two"),
        "{e}"
    );
    let e = err(one_op(
        "SignalFilterBankLog",
        UINT32,
        INT16,
        4,
        &[
            ("input_correction_bits", FlexValue::Int(40)),
            ("output_scale", FlexValue::Int(64)),
        ],
    ));
    assert!(e.contains("input_correction_bits = 40"), "{e}");
    let ifft = |t: i64| {
        one_op(
            "SignalIrfft",
            INT16,
            INT16,
            10,
            &[("T", FlexValue::Int(t)), ("fft_length", FlexValue::Int(8))],
        )
    };
    let e = err(ifft(2));
    assert!(
        e.contains("SignalIrfft") && e.contains("only the int16") && e.contains("INT32"),
        "{e}"
    );
    let e = err(one_op(
        "SignalOverlapAdd",
        INT32,
        INT32,
        8,
        &[("T", FlexValue::Int(2)), ("frame_step", FlexValue::Int(4))],
    ));
    assert!(
        e.contains("SignalOverlapAdd") && e.contains("INT32") && e.contains("int16 or float32"),
        "{e}"
    );
    let e = err(one_op(
        "SignalDelay",
        INT16,
        INT32,
        8,
        &[("delay_length", FlexValue::Int(3))],
    ));
    for part in ["CUSTOM:SignalDelay", "output", "'y'", "int32", "int16"] {
        assert!(e.contains(part), "{part:?} missing in: {e}");
    }
    // CAST takes uint32 only to and from int32 (the signal front ends' pairs).
    let cast = |from: u8, to: u8| {
        let t = |name: &str, dtype: u8| TensorSpec {
            shape: vec![4],
            dtype,
            name: name.into(),
            ..Default::default()
        };
        let m = ModelSpec {
            opcodes: vec![53],
            tensors: vec![t("x", from), t("y", to)],
            ops: vec![OpSpec::new(0, &[0], &[1])],
            inputs: vec![0],
            outputs: vec![1],
            buffers: vec![vec![]],
            ..Default::default()
        };
        compile(&m.build(), &Options::default()).map(|_| ())
    };
    assert!(cast(UINT32, INT32).is_ok() && cast(INT32, UINT32).is_ok());
    let e = cast(0, UINT32).unwrap_err().to_string();
    assert!(e.contains("float32 → uint32"), "{e}");
}
