//! Converts the two models of the keyword spotter (TFLite Micro's micro_speech example: the
//! int8 audio preprocessor and the classifier) and embeds the recordings to stream, from
//! `../shared/models` (`FERRITE_SHARED_MODELS` to look elsewhere).
//!
//! `FERRITE_KWS_AUDIO`: the recordings, separated like `PATH`: 16 kHz mono 16-bit `.wav` files
//! or 1-D int16 `.npy` arrays (default: the example's four one-second recordings, "yes", "no",
//! silence and noise). They go in memory outside the emulated chip's flash, as the QEMU boards'
//! test samples do: on a device the audio comes from a microphone.
use ferrite_convert::npy;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    std::env::var_os("FERRITE_SHARED_MODELS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models"),
        PathBuf::from,
    )
}

/// The samples of a 16 kHz mono 16-bit PCM WAV file.
fn read_wav(path: &Path) -> Vec<i16> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "{}: not a RIFF/WAVE file",
        path.display()
    );
    let (mut at, mut format_ok, mut data) = (12, false, None);
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &b[at + 8..(at + 8 + len).min(b.len())];
        if id == b"fmt " && body.len() >= 16 {
            let u16_at = |k: usize| u16::from_le_bytes([body[k], body[k + 1]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
            format_ok = u16_at(0) == 1 && u16_at(2) == 1 && rate == 16_000 && u16_at(14) == 16;
        } else if id == b"data" {
            data = Some(body);
        }
        at += 8 + len + (len & 1);
    }
    assert!(
        format_ok,
        "{}: the keyword spotter takes 16 kHz mono 16-bit PCM",
        path.display()
    );
    let data = data.unwrap_or_else(|| panic!("{}: no data chunk", path.display()));
    data.chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect()
}

fn read_audio(path: &Path) -> Vec<i16> {
    if path.extension().is_some_and(|e| e == "wav") {
        return read_wav(path);
    }
    let a = npy::read(path).unwrap_or_else(|e| panic!("{e}"));
    match a.data {
        npy::Data::I16(v) => v,
        other => panic!(
            "{}: int16 samples expected, found {}",
            path.display(),
            other.dtype()
        ),
    }
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=FERRITE_SHARED_MODELS");
    println!("cargo:rerun-if-env-changed=FERRITE_KWS_AUDIO");
    let shared = shared();
    let e2e = shared.join("micro_speech_e2e");
    for (name, path) in [
        ("preprocessor", e2e.join("audio_preprocessor_int8.tflite")),
        (
            "classifier",
            shared.join("micro_speech_int8/micro_speech_int8.tflite"),
        ),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
        ferrite_convert::Builder::new(&path)
            .target(ferrite_convert::Target::CortexMDsp)
            .emit_to(&out.join(format!("{name}.rs")))
            .unwrap_or_else(|e| panic!("converting {}: {e}", path.display()));
    }

    let audio: Vec<PathBuf> = match std::env::var_os("FERRITE_KWS_AUDIO") {
        Some(v) => std::env::split_paths(&v).collect(),
        None => ["yes", "no", "silence", "noise"]
            .iter()
            .map(|r| e2e.join(format!("{r}_1000ms.wav")))
            .collect(),
    };
    let mut pcm: Vec<i16> = Vec::new();
    let mut table = String::new();
    for path in &audio {
        println!("cargo:rerun-if-changed={}", path.display());
        let samples = read_audio(path);
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let _ = writeln!(
            table,
            "    Recording {{ name: {name:?}, start: {}, len: {} }},",
            pcm.len(),
            samples.len()
        );
        pcm.extend(samples);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/// The recordings' samples, one after another ({} samples).\n#[link_section = \".ferrite_samples\"]\n#[used]\npub static PCM: [i16; {}] = [{}];",
        pcm.len(),
        pcm.len(),
        pcm.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
    );
    let _ = writeln!(
        s,
        "/// Each recording's place in [`PCM`].\npub static RECORDINGS: [Recording; {}] = [\n{table}];",
        audio.len()
    );
    std::fs::write(out.join("audio.rs"), s).expect("writing audio.rs");
    std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copying memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
