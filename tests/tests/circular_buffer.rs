//! CIRCULAR_BUFFER call after call (`tests/data/circular_buffer`, produced by
//! `tools/goldens/gen_circular_buffer_goldens.py` with TensorFlow Lite Micro): at every call
//! the layer ends the invocation early exactly when TFLM does (`Error::Aborted`, TFLM's
//! `kTfLiteAbort`; strides from the options and TFLM's guess without them), and the buffer
//! holds TFLM's bytes in every slot a call has written (TFLM leaves the others uninitialised;
//! Ferrite starts them at the zero point).

use ferrite_core::Error;
use ferrite_tests::*;

#[test]
fn circular_buffers_match_tflite_micro_call_after_call() {
    let dir = repo_root().join("tests/data/circular_buffer");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let cases = index["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    let mut checked = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let inputs = load(&dir.join(format!("{name}.inputs.npy")));
        let outputs = load(&dir.join(format!("{name}.outputs.npy")));
        let frame = case["frame_bytes"].as_u64().unwrap() as usize;
        let aborted: Vec<bool> = case["aborted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect();
        for target in TARGETS {
            let c = convert_for(&dir.join(format!("{name}.tflite")), target);
            let model = c.model();
            let mut arena = c.new_arena();
            let mut state = c.new_state();
            model.reset_state(state.as_mut_slice()).unwrap();
            let per_out = outputs.data.len() / aborted.len();
            for (k, &tflm_aborted) in aborted.iter().enumerate() {
                let x = inputs.data.bytes(k * frame, frame);
                model.set_input_bytes(arena.as_mut_slice(), 0, &x).unwrap();
                let r = model.invoke_stateful(arena.as_mut_slice(), state.as_mut_slice());
                match r {
                    Ok(()) => assert!(!tflm_aborted, "{name} call {k}: TFLM ended early"),
                    Err(Error::Aborted { layer: 0 }) => {
                        assert!(tflm_aborted, "{name} call {k}: TFLM ran on")
                    }
                    Err(e) => panic!("{name} call {k}: {e}"),
                }
                let got = model.output_bytes(arena.as_slice(), 0).unwrap();
                let expected = outputs.data.bytes(k * per_out, per_out);
                // Call k has written the last k + 1 frames.
                let from = per_out.saturating_sub((k + 1) * frame);
                assert_eq!(
                    &got[from..],
                    &expected[from..],
                    "{name} ({target:?}) call {k}"
                );
                // The slots not yet written hold the zero point (-3).
                assert!(
                    got[..from].iter().all(|&b| b as i8 == -3),
                    "{name} call {k}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 100, "checked {checked} calls");
}
