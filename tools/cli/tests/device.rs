//! `ferrite run|verify --device qemu-m4` (and `qemu-m3`) end to end: the runner firmware built
//! with each model, booted in QEMU, every sample streamed over the emulated UART and the outputs
//! compared with TFLite Micro's goldens; and a link that corrupts bytes in both directions, whose
//! frames are caught and resent. Needs `qemu-system-arm` and the thumb targets; prints SKIPPED
//! without them or without `../shared/models`.

use ferrite_tests::{qemu_available, shared_model, shared_models_dir, SHARED_MODELS};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `ferrite` with `args`, then each path after its flag (none for an empty flag).
fn ferrite(args: &[&str], paths: &[(&str, &Path)], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrite"));
    cmd.args(args);
    for (flag, path) in paths {
        if !flag.is_empty() {
            cmd.arg(flag);
        }
        cmd.arg(path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running ferrite")
}

fn samples_in(npy: &Path) -> usize {
    ferrite_convert::npy::read(npy).unwrap().shape[0]
}

/// Checks a `verify --device` run passed every one of `n` samples, each with a positive
/// instruction count; returns the mean instructions per inference.
fn check_verified(what: &str, o: &Output, n: usize) -> u64 {
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(&format!("{n} of {n} samples match")),
        "{what}: {stdout}"
    );
    let counts: Vec<u64> = stdout
        .lines()
        .filter(|l| l.starts_with("sample ") && l.contains(": ok ("))
        .map(|l| {
            let inner = l.split(": ok (").nth(1).unwrap();
            let (count, unit) = inner.split_once(' ').unwrap();
            assert_eq!(unit, "instructions)", "{what}: {l}");
            count.parse().unwrap()
        })
        .collect();
    assert_eq!(counts.len(), n, "{what}: {stdout}");
    assert!(counts.iter().all(|&c| c > 0), "{what}: {counts:?}");
    counts.iter().sum::<u64>() / n as u64
}

#[test]
fn verify_on_qemu_m4_matches_the_goldens_for_every_shared_model() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    if !qemu_available() {
        return;
    }
    // Two models at a time: one's firmware builds (builds of a board take turns under its
    // lock) while the other's runs in QEMU.
    let all = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(name) = SHARED_MODELS.get(k) else {
                    return;
                };
                let m = shared_model(&dir, name);
                let started = Instant::now();
                let o = ferrite(
                    &["verify", "--device", "qemu-m4"],
                    &[
                        ("", &m.tflite),
                        ("--input", &m.inputs),
                        ("--expected", &m.outputs),
                    ],
                    &[],
                );
                let n = samples_in(&m.inputs);
                let mean = check_verified(name, &o, n);
                println!(
                    "{name}: {n} samples exact on qemu-m4, {mean} instructions/inference, {:.1} s (build + run)",
                    started.elapsed().as_secs_f64()
                );
            });
        }
    });
    println!(
        "{} models in {:.1} s",
        SHARED_MODELS.len(),
        all.elapsed().as_secs_f64()
    );
}

#[test]
fn corrupted_frames_on_the_wire_are_resent_and_results_stay_exact() {
    if !qemu_available() {
        return;
    }
    let r = root();
    let inputs = r.join("models/samples/digits_samples.inputs.npy");
    // Flip a bit in every 4001st byte sent and every 157th byte received: about one frame in
    // five of the inputs, one reply in eight.
    let o = ferrite(
        &["verify", "--device", "qemu-m4"],
        &[
            ("", &r.join("models/digits_mobilenet.tflite")),
            ("--input", &inputs),
            (
                "--expected",
                &r.join("models/samples/digits_samples.outputs.npy"),
            ),
        ],
        &[("FERRITE_LINK_FAULTS", "4001,157")],
    );
    check_verified("digits with faults", &o, samples_in(&inputs));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("link: ") && l.contains("requests resent"))
        .unwrap_or_else(|| panic!("no resend report: {stderr}"));
    let number = |after: &str| -> usize {
        let before = line.split(after).next().unwrap();
        let word = before.split_whitespace().last().unwrap();
        word.parse().unwrap()
    };
    let resent = number(" requests resent");
    let flipped = number(" bits flipped");
    assert!(flipped > 0 && resent > 0, "{line}");
    println!("{line}");

    // A link that corrupts nearly every frame is reported, not silently wrong.
    let o = ferrite(
        &["run", "--device", "qemu-m4"],
        &[
            ("", &r.join("models/digits_mobilenet.tflite")),
            ("--input", &inputs),
        ],
        &[("FERRITE_LINK_FAULTS", "5,0")],
    );
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("no intact reply"), "{stderr}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("sample 0"));
}

#[test]
fn run_on_qemu_m4_reports_outputs_and_instructions() {
    if !qemu_available() {
        return;
    }
    let r = root();
    let inputs = r.join("models/samples/digits_samples.inputs.npy");
    let out = std::env::temp_dir().join(format!("ferrite-device-run-{}.npy", std::process::id()));
    let o = ferrite(
        &["run", "--device", "qemu-m4"],
        &[
            ("", &r.join("models/digits_mobilenet.tflite")),
            ("--input", &inputs),
            ("--output", &out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = ferrite_convert::npy::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let want =
        ferrite_convert::npy::read(&r.join("models/samples/digits_samples.outputs.npy")).unwrap();
    assert_eq!(got, want);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let n = samples_in(&inputs);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains(" instructions, outputs ["))
            .count(),
        n,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{n} samples on qemu-m4")),
        "{stdout}"
    );
}

#[test]
fn verify_on_qemu_m3_runs_the_no_dsp_runner() {
    if !qemu_available() {
        return;
    }
    let r = root();
    let inputs = r.join("models/samples/digits_samples.inputs.npy");
    let o = ferrite(
        &["verify", "--device", "qemu-m3"],
        &[
            ("", &r.join("models/digits_mobilenet.tflite")),
            ("--input", &inputs),
            (
                "--expected",
                &r.join("models/samples/digits_samples.outputs.npy"),
            ),
        ],
        &[],
    );
    let mean = check_verified("digits on qemu-m3", &o, samples_in(&inputs));
    println!("digits on qemu-m3: {mean} instructions/inference");
}

/// A stateful model through the runner firmware: the board keeps the SVDF's state in its
/// `STATE_BYTES` region and resets it before every sample, so `run --device` writes what
/// `run` (a fresh state per sample) writes on the host, and the first sample is TFLM's.
#[test]
fn a_stateful_model_runs_on_the_runner_firmware_from_a_fresh_state_per_sample() {
    if !qemu_available() {
        ferrite_tests::skip("qemu-system-arm not available");
        return;
    }
    let dir = root().join("tests/data/stateful");
    let model = dir.join("svdf_int8_rank1.tflite");
    let input = dir.join("svdf_int8_rank1.inputs.npy");
    let on_board = std::path::PathBuf::from(ferrite_tests::temp_file("device", "svdf.board.npy"));
    let on_host = std::path::PathBuf::from(ferrite_tests::temp_file("device", "svdf.host.npy"));
    for (out, device) in [(&on_board, true), (&on_host, false)] {
        let args: &[&str] = if device {
            &["run", "--device", "qemu-m4"]
        } else {
            &["run"]
        };
        let o = ferrite(
            args,
            &[("", &model), ("--input", &input), ("--output", out)],
            &[],
        );
        assert!(o.status.success(), "{}", ferrite_tests::output_text(&o));
    }
    let board = ferrite_convert::npy::read(&on_board).unwrap();
    let host = ferrite_convert::npy::read(&on_host).unwrap();
    assert_eq!(
        board, host,
        "the runner's fresh-state outputs differ from the host's"
    );
    let golden = ferrite_convert::npy::read(&dir.join("svdf_int8_rank1.outputs.npy")).unwrap();
    let per = golden.data.len() / golden.shape[0];
    assert_eq!(board.data.bytes(0, per), golden.data.bytes(0, per));
}
