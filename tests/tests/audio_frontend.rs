//! micro_speech's audio preprocessor (`../shared/models/micro_speech_e2e`, TFLM's signal ops
//! plus int32 builtins) run as a device runs it: one 30 ms frame per call, the spectral
//! subtraction's noise estimate carried from frame to frame, the state reset only before a
//! recording's first frame. The 49 frames' features of each recording (yes, no, silence,
//! noise) equal TFLM's `<rec>.features.npy` byte for byte (`ferrite run --stream`
//! is checked on them in `tools/cli/tests/cli.rs`).

use ferrite_convert::consts::AlignedBytes;
use ferrite_convert::host::run_model_stateful;
use ferrite_convert::npy::Data;
use ferrite_core::NoHook;
use ferrite_tests::*;

const RECORDINGS: [&str; 4] = ["yes", "no", "silence", "noise"];

/// Runs the preprocessor `model` over each recording's 49 frames on one state (reset before
/// the first frame) and checks the features against TFLM's.
fn check_recordings(dir: &std::path::Path, model: &ferrite_core::Model<'_>, what: &str) {
    let mut arena = AlignedBytes::new(&vec![0u8; model.arena_bytes]);
    let mut state = AlignedBytes::new(&vec![0xa5u8; model.state.bytes]);
    for rec in RECORDINGS {
        let frames = load(&dir.join(format!("{rec}.frames.npy")));
        let expected = load(&dir.join(format!("{rec}.features.npy")));
        assert_eq!(frames.shape, [49, 1, 480], "{rec}");
        assert_eq!(expected.shape, [1, 1960], "{rec}");
        let Data::I8(expected) = expected.data else {
            panic!("{rec}: features are not int8");
        };
        model.reset_state(state.as_mut_slice()).unwrap();
        let mut got = Vec::new();
        for k in 0..49 {
            let out = run_model_stateful(
                model,
                arena.as_mut_slice(),
                state.as_mut_slice(),
                std::slice::from_ref(&frames),
                k,
                &mut NoHook,
            )
            .unwrap_or_else(|e| panic!("{what} {rec} frame {k}: {e}"));
            got.extend(out[0].iter().map(|&b| b as i8));
        }
        assert_eq!(got.len(), expected.len(), "{what} {rec}");
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert_eq!(
            first,
            None,
            "{what} {rec}: first differing feature (frame {:?})",
            first.map(|i| i / 40)
        );
    }
}

#[test]
fn preprocessor_features_equal_tflite_micro_frame_after_frame() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let dir = dir.join("micro_speech_e2e");
    for target in TARGETS {
        let c = convert_for(&dir.join("audio_preprocessor_int8.tflite"), target);
        assert_eq!(c.state_bytes, 160, "the noise estimate: 40 uint32");
        check_recordings(&dir, &c.model(), &format!("{target:?}"));
    }
}

/// The Rust a firmware's `build.rs` gets (`tests/build.rs` emits it), run the same way.
#[test]
fn emitted_preprocessor_features_equal_tflite_micro() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let (_, _, model) = emitted::EMITTED
        .iter()
        .find(|(n, _, _)| *n == "e2e_audio_preprocessor")
        .expect("tests/build.rs emits the preprocessor when the shared models are present");
    assert_eq!(model.state.bytes, 160);
    check_recordings(&dir.join("micro_speech_e2e"), model, "emitted");
}
