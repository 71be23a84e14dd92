//! The `ferrite` command end to end: each subcommand on the bundled model (and the shared
//! VWW model when present), and bad input ending in exit code 1 with a message, never a
//! panic (exit code 101).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args)
        .output()
        .expect("running ferrite")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn digits() -> (String, String, String) {
    let r = root();
    (
        r.join("models/digits_mobilenet.tflite")
            .display()
            .to_string(),
        r.join("models/samples/digits_samples.inputs.npy")
            .display()
            .to_string(),
        r.join("models/samples/digits_samples.outputs.npy")
            .display()
            .to_string(),
    )
}

fn tmp(name: &str) -> String {
    ferrite_tests::temp_file("cli", name)
}

fn text(o: &Output) -> String {
    ferrite_tests::output_text(o)
}

#[test]
fn run_then_verify_reproduces_the_goldens() {
    let (model, input, expected) = digits();
    let out = tmp("digits.out.npy");
    let o = ferrite(&[
        "run",
        &model,
        "--input",
        &input,
        "--output",
        &out,
        "--threads",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (got, want) = (
        ferrite_convert::npy::read(Path::new(&out)).unwrap(),
        ferrite_convert::npy::read(Path::new(&expected)).unwrap(),
    );
    assert_eq!(
        got, want,
        "run output (shape, type and values) differs from the goldens"
    );
    let o = ferrite(&["verify", &model, "--input", &input, "--expected", &expected]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("10 of 10 samples match"), "{}", text(&o));
}

#[test]
fn verify_fails_and_names_the_first_mismatch() {
    let (model, input, expected) = digits();
    let mut bytes = std::fs::read(&expected).unwrap();
    let last = bytes.len() - 1;
    bytes[last] = bytes[last].wrapping_add(1); // last element of the last sample
    let bad = tmp("digits.bad.npy");
    std::fs::write(&bad, bytes).unwrap();
    let o = ferrite(&["verify", &model, "--input", &input, "--expected", &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("sample 9: MISMATCH in output 0 at index 9"),
        "{}",
        text(&o)
    );
}

#[test]
fn inspect_json_reports_totals_and_layers() {
    let (model, _, _) = digits();
    let o = ferrite(&["inspect", &model, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["macs"], 1_075_456);
    assert!(v["arena_bytes"].as_u64().unwrap() >= v["arena_lower_bound"].as_u64().unwrap());
    assert!(v["weight_bytes"].as_u64().unwrap() > 35_000);
    assert_eq!(v["layers"].as_array().unwrap().len(), 14);
    assert_eq!(v["layers"][0]["op"], "CONV_2D");
    let o = ferrite(&["inspect", &model]);
    assert!(text(&o).contains("run_depthwise_conv2d_i8"), "{}", text(&o));
}

#[test]
fn inspect_vww_arena_is_under_60k() {
    let shared = std::env::var_os("FERRITE_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/models"));
    let m = shared.join("vww_96_int8/vww_96_int8.tflite");
    if !m.is_file() {
        ferrite_tests::skip(&format!("{} not found", m.display()));
        return;
    }
    let o = ferrite(&["inspect", m.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let arena = v["arena_bytes"].as_u64().unwrap();
    assert!(arena <= 60_000, "arena {arena}");
    assert_eq!(v["macs"], 7_489_664);
}

/// `--int8-weights` reaches the conversion: on the DSP target the bundled model's dense
/// convolutions keep int8 weights (their 16-bit copies gone from the constants and the flash
/// estimate), an operator list picks layers, and a malformed list is an error.
#[test]
fn int8_weights_flag_halves_the_dsp_gemm_weights() {
    let (model, _, _) = digits();
    let inspect = |layers: &str| {
        let o = ferrite(&[
            "inspect",
            &model,
            "--target",
            "cortex-m-dsp",
            "--json",
            "--int8-weights",
            layers,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let n = |k: &str| v[k].as_u64().unwrap();
        (n("weight_bytes"), n("flash_bytes"))
    };
    let (wide, wide_flash) = inspect("none");
    let (narrow, narrow_flash) = inspect("all");
    assert!(narrow < wide, "{narrow} vs {wide}");
    assert_eq!(wide - narrow, wide_flash - narrow_flash);
    assert!(wide_flash > wide, "the flash estimate adds code and tables");
    let (first, _) = inspect("0");
    assert!(
        narrow < first && first < wide,
        "{narrow} < {first} < {wide}"
    );
    let o = ferrite(&["inspect", &model, "--int8-weights", "1,x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not an operator index"), "{}", text(&o));
}

/// The bundled digits model's arena per kernel set: the live-tensor bound with the portable
/// kernels, and with the DSP/no-DSP kernels no more than one-row depthwise bands add (their
/// bands fill only what the activation peak leaves free; they once took 29,824 B).
#[test]
fn digits_arena_per_kernel_set() {
    let (model, _, _) = digits();
    for (target, want) in [
        ("portable", 12_288),
        ("cortex-m-dsp", 13_696),
        ("cortex-m-nodsp", 13_696),
        ("helium", 12_496),
    ] {
        let o = ferrite(&["--target", target, "inspect", &model, "--json"]);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["arena_bytes"], want, "{target}");
    }
}

#[test]
fn convert_writes_a_module() {
    let (model, _, _) = digits();
    let out = tmp("digits.rs");
    let o = ferrite(&["convert", &model, "-o", &out]);
    assert!(o.status.success(), "{}", text(&o));
    let src = std::fs::read_to_string(&out).unwrap();
    assert!(src.contains("pub static MODEL: ferrite_core::Model<'static>"));
    assert!(src.contains("pub const ARENA_BYTES: usize"));
    assert!(src.contains("ferrite_kernels::ops::conv::run_conv2d_i8"));
}

#[test]
fn bad_input_exits_1_with_a_message() {
    let (model, input, _) = digits();
    let bytes = std::fs::read(&model).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            bytes[..bytes.len() / 3].to_vec(),
            "byte offset",
        ),
        ("empty", Vec::new(), "byte offset 0"),
        ("not-tflite", b"this is not a model at all".to_vec(), "TFL3"),
    ];
    for (name, data, needle) in cases {
        let path = tmp(&format!("{name}.tflite"));
        std::fs::write(&path, data).unwrap();
        for args in [
            vec!["inspect", path.as_str()],
            vec!["convert", path.as_str(), "-o", "/dev/null"],
        ] {
            let o = ferrite(&args);
            assert_eq!(o.status.code(), Some(1), "{name} {args:?}: {}", text(&o));
            assert!(text(&o).contains(needle), "{name}: {}", text(&o));
            assert!(!text(&o).contains("panicked"), "{name}: {}", text(&o));
        }
    }
    // Missing files and wrong input arrays are errors too.
    let o = ferrite(&["inspect", "/nonexistent/model.tflite"]);
    assert_eq!(o.status.code(), Some(1));
    let o = ferrite(&["run", &model, "--input", &model, "--output", &tmp("x.npy")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let float_input = root().join("tests/data/ops/softmax_1x10_f32.inputs.npy");
    let o = ferrite(&[
        "run",
        &model,
        "--input",
        float_input.to_str().unwrap(),
        "--output",
        &tmp("x.npy"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("float32 but the model's input 0 is int8"),
        "{}",
        text(&o)
    );
    let _ = input;
}

/// `--max-arena`: the bundled model fits 9,000 B (its layer-by-layer floor is 12,288 B) by
/// running a prefix in bands, outputs still exact; a budget no
/// plan meets is refused with the smallest arena reached, and exit code 1.
#[test]
fn an_arena_budget_is_met_exactly_or_refused_with_the_smallest_arena() {
    let (model, input, expected) = digits();
    let o = ferrite(&["--max-arena", "9000", "inspect", &model, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let arena = v["arena_bytes"].as_u64().unwrap();
    assert!(arena <= 9000, "arena {arena}");
    assert_eq!(v["layerwise_lower_bound"], 12_288);
    let in_place = v["input_in_place"].as_bool().unwrap();
    let bands = v["patch"]["bands"].as_array().unwrap();
    assert!(bands.len() >= 2, "{}", v["patch"]);
    // Recomputed rows cost MACs: more than the unsplit 1,075,456, reported per layer too.
    let macs = v["macs"].as_u64().unwrap();
    let layer_macs: u64 = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["macs"].as_u64().unwrap())
        .sum();
    assert!(
        macs > 1_075_456 && macs == layer_macs,
        "{macs} {layer_macs}"
    );
    let o = ferrite(&[
        "verify",
        "--max-arena",
        "9000",
        &model,
        "--input",
        &input,
        "--expected",
        &expected,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("10 of 10 samples match"), "{}", text(&o));
    let o = ferrite(&["--max-arena", "4000", "inspect", &model]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "no plan fits an arena of 4000 bytes: the smallest the converter reached is 8192 bytes"
        ),
        "{}",
        text(&o)
    );
    // The emitted module says whether the input is read in place.
    let out = tmp("digits_budget.rs");
    let o = ferrite(&["--max-arena", "9000", "convert", &model, "-o", &out]);
    assert!(o.status.success(), "{}", text(&o));
    let module = std::fs::read_to_string(&out).unwrap();
    assert!(module.contains(&format!("pub const INPUT_IN_PLACE: bool = {in_place};")));
}

/// `run --stream` carries an SVDF's activation state from sample to sample as TFLM's
/// interpreter does call after call (the goldens reset before call 5, so calls 0..5 are one
/// sequence); plain `run` starts every sample from a fresh state. `inspect` reports the state
/// region beside the arena.
#[test]
fn run_stream_carries_the_state_and_inspect_reports_it() {
    let dir = root().join("tests/data/stateful");
    let model = dir
        .join("svdf_int8_rank2_batch2.tflite")
        .display()
        .to_string();
    let input = dir
        .join("svdf_int8_rank2_batch2.inputs.npy")
        .display()
        .to_string();
    let golden =
        ferrite_convert::npy::read(&dir.join("svdf_int8_rank2_batch2.outputs.npy")).unwrap();
    let per = golden.data.len() / golden.shape[0];
    let sequence = 5 * per;
    let mut rows = Vec::new();
    for (name, extra) in [("stream", &["--stream"][..]), ("fresh", &[][..])] {
        let out = tmp(&format!("svdf.{name}.npy"));
        let mut args = vec!["run", model.as_str(), "--input", &input, "--output", &out];
        args.extend_from_slice(extra);
        let o = ferrite(&args);
        assert!(o.status.success(), "{}", text(&o));
        let got = ferrite_convert::npy::read(Path::new(&out)).unwrap();
        assert_eq!(got.shape, golden.shape);
        rows.push(got.data.bytes(0, sequence));
    }
    let want = golden.data.bytes(0, sequence);
    assert_eq!(rows[0], want, "--stream differs from TFLM call after call");
    assert_eq!(
        rows[1][..per],
        want[..per],
        "a fresh state is TFLM's first call"
    );
    assert_ne!(rows[1], want, "without --stream every sample starts afresh");

    let o = ferrite(&["inspect", "--json", &model]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // int16 [2, 24]: 96 bytes, one slot.
    assert_eq!(v["state_bytes"], 96);
    assert_eq!(v["state"][0]["dtype"], "int16");
    let o = ferrite(&["inspect", &model]);
    assert!(
        text(&o).contains("state                             96 bytes"),
        "{}",
        text(&o)
    );
}

/// `run --stream` on micro_speech's audio preprocessor (TFLM's signal ops, a noise estimate
/// carried from frame to frame) writes exactly TFLM's features for the four recordings: a
/// `[49, 40]` array holding the same row-major bytes as the golden's `[1, 1960]` (the
/// classifier's input), one row per frame; with `--output-shape 1,1960`, a file of exactly
/// the golden's bytes.
#[test]
fn run_stream_gives_the_audio_preprocessors_features() {
    let shared = std::env::var_os("FERRITE_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/models"));
    let dir = shared.join("micro_speech_e2e");
    let model = dir.join("audio_preprocessor_int8.tflite");
    if !model.is_file() {
        ferrite_tests::skip(&format!("{} not found", model.display()));
        return;
    }
    let model = model.display().to_string();
    for rec in ["yes", "no", "silence", "noise"] {
        let input = dir.join(format!("{rec}.frames.npy")).display().to_string();
        let out = tmp(&format!("audio_preprocessor.{rec}.npy"));
        let o = ferrite(&[
            "run", &model, "--stream", "--input", &input, "--output", &out,
        ]);
        assert!(o.status.success(), "{rec}: {}", text(&o));
        let got = ferrite_convert::npy::read(Path::new(&out)).unwrap();
        let want = ferrite_convert::npy::read(&dir.join(format!("{rec}.features.npy"))).unwrap();
        assert_eq!(got.shape, [49, 40], "{rec}");
        assert_eq!(want.shape, [1, 1960], "{rec}");
        assert_eq!(got.data, want.data, "{rec}: features differ from TFLM's");
        let o = ferrite(&[
            "run",
            &model,
            "--stream",
            "--output-shape",
            "1,1960",
            "--input",
            &input,
            "--output",
            &out,
        ]);
        assert!(o.status.success(), "{rec}: {}", text(&o));
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(dir.join(format!("{rec}.features.npy"))).unwrap(),
            "{rec}: the file is not {rec}.features.npy"
        );
    }
}
