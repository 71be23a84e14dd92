//! The keyword-spotting firmware (`targets/qemu-m4-keyword`) on the emulated Cortex-M4: the four
//! recordings of TFLite Micro's micro_speech example (`../shared/models/micro_speech_e2e`),
//! streamed as raw 16 kHz PCM through the audio preprocessor model and the classifier, get the
//! labels and the scores TFLM gives them (`expected.json`, computed by TFLM's reference kernels
//! as the example's `evaluate.py` does). Prints the instructions each second of audio takes
//! (docs/performance.md records them, from `scripts/keyword-demo.sh`).

use ferrite_tests::*;
use std::process::Command;

/// One line of the firmware's report.
#[derive(Debug)]
struct Detection {
    recording: String,
    label: String,
    scores: Vec<i64>,
    frames: u64,
    instructions: u64,
    audio_ms: u64,
}

fn parse(line: &str) -> Option<Detection> {
    let w: Vec<&str> = line.split_whitespace().collect();
    if w.first() != Some(&"keyword") || w.len() < 16 {
        return None;
    }
    let num = |k: usize| w.get(k)?.parse::<i64>().ok();
    let field = |name: &str| {
        let k = w.iter().position(|x| *x == name)?;
        num(k + 1)
    };
    Some(Detection {
        recording: w[1].to_string(),
        label: w[2].to_string(),
        scores: (4..8).map(num).collect::<Option<Vec<_>>>()?,
        frames: field("frames")? as u64,
        instructions: (field("preprocess_instructions")? + field("classify_instructions")?) as u64,
        audio_ms: field("audio_ms")? as u64,
    })
}

#[test]
fn the_keyword_firmware_labels_the_four_recordings_as_tflite_micro_does() {
    let Some(shared) = shared_models_dir() else {
        return;
    };
    if !qemu_available() {
        return;
    }
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("micro_speech_e2e/expected.json")).unwrap(),
    )
    .unwrap();
    let out = Command::new("cargo")
        .args(["run", "--release", "--locked", "-q"])
        .current_dir(repo_root().join("targets/qemu-m4-keyword"))
        .env("FERRITE_SHARED_MODELS", &shared)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("FERRITE_KWS_AUDIO")
        .output()
        .expect("running cargo");
    let text = output_text(&out);
    assert!(out.status.success(), "the firmware failed:\n{text}");
    let found: Vec<Detection> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(parse)
        .collect();
    assert_eq!(found.len(), 4, "expected four detections in:\n{text}");
    for d in &found {
        let rec = d.recording.trim_end_matches("_1000ms");
        let want = &expected["recordings"][rec];
        assert_eq!(d.label, want["predicted"].as_str().unwrap(), "{rec}");
        let scores: Vec<i64> = want["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(d.scores, scores, "{rec}: scores");
        assert_eq!(
            d.frames, 49,
            "{rec}: frames of 30 ms every 20 ms in one second"
        );
        assert_eq!(d.audio_ms, 1000);
        // Real time at 64 MHz: 64 M instructions per second of audio.
        println!(
            "{rec}: {} instructions per second of audio = {:.2}% of a 64 MHz Cortex-M4",
            d.instructions,
            d.instructions as f64 / 64e6 * 100.0
        );
        assert!(d.instructions > 0 && d.instructions < 64_000_000, "{rec}");
    }
}
