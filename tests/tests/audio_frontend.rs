//! micro_speech's audio preprocessor (`../shared/models/micro_speech_e2e`, TFLM's signal ops
//! plus int32 builtins) run as a device runs it: one 30 ms frame per call, the spectral
//! subtraction's noise estimate carried from frame to frame, the state reset only before a
//! recording's first frame. The 49 frames' features of each recording (yes, no, silence,
//! noise) equal TFLM's `<rec>.features.npy` byte for byte (`ferrite run --stream`
//! is checked on them in `tools/cli/tests/cli.rs`).

use ferrite_convert::host::run_model_stateful;
use ferrite_convert::npy::Data;
use ferrite_core::NoHook;
use ferrite_tests::*;

const RECORDINGS: [&str; 4] = ["yes", "no", "silence", "noise"];

#[test]
fn preprocessor_features_equal_tflite_micro_frame_after_frame() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let dir = dir.join("micro_speech_e2e");
    let c = convert(&dir.join("audio_preprocessor_int8.tflite"));
    assert_eq!(c.state_bytes, 160, "the noise estimate: 40 uint32");
    let model = c.model();
    let mut arena = c.new_arena();
    let mut state = c.new_state();
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
                &model,
                arena.as_mut_slice(),
                state.as_mut_slice(),
                std::slice::from_ref(&frames),
                k,
                &mut NoHook,
            )
            .unwrap_or_else(|e| panic!("{rec} frame {k}: {e}"));
            got.extend(out[0].iter().map(|&b| b as i8));
        }
        let first = got.iter().zip(&expected).position(|(a, b)| a != b);
        assert_eq!(
            first,
            None,
            "{rec}: first differing feature (frame {:?})",
            first.map(|i| i / 40)
        );
        assert_eq!(got.len(), expected.len());
    }
}
