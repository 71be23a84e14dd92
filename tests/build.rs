//! Converts the bundled model, every single-op and model-family golden model and (when
//! present) every shared model into Rust modules, exactly as a firmware's `build.rs` would, so
//! the tests can check that the *generated code* compiles and reproduces the goldens.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn ident(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=FERRITE_SHARED_MODELS");
    println!("cargo:rerun-if-changed=build.rs");

    let mut models: Vec<(String, PathBuf)> = vec![(
        "digits_mobilenet".into(),
        root.join("models/digits_mobilenet.tflite"),
    )];
    let ops = root.join("tests/data/ops");
    println!("cargo:rerun-if-changed={}", ops.display());
    let mut op_files: Vec<PathBuf> = std::fs::read_dir(&ops)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    op_files.sort();
    for p in op_files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
    {
        models.push((
            format!("op_{}", p.file_stem().unwrap().to_string_lossy()),
            p,
        ));
    }
    for (dir, prefix) in [
        ("tests/data/families", "fam_"),
        ("tests/data/models", "usr_"),
        ("tests/data/stateful", "st_"),
        ("tests/data/signal", "sig_"),
        ("tests/data/variables", "var_"),
        ("tests/data/lstm", "st_"),
    ] {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for p in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        {
            models.push((
                format!("{prefix}{}", p.file_stem().unwrap().to_string_lossy()),
                p,
            ));
        }
    }
    let shared = std::env::var_os("FERRITE_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/models"));
    // micro_speech's audio preprocessor (TFLM's signal ops, stateful): `tests/audio_frontend.rs`.
    let e2e = shared.join("micro_speech_e2e/audio_preprocessor_int8.tflite");
    if e2e.is_file() {
        models.push(("e2e_audio_preprocessor".to_string(), e2e));
    }
    for name in ferrite_names() {
        let p = shared.join(name).join(format!("{name}.tflite"));
        if p.is_file() {
            models.push((format!("shared_{name}"), p));
        }
    }

    let mut registry = String::from("/// Every emitted model: (name, source file, model).\npub static EMITTED: &[(&str, &str, &ferrite_core::Model<'static>)] = &[\n");
    let mut modules = String::new();
    // A model the converter rejects is reported by the `emitted_code` test (listing every
    // one), rather than failing the build of every test.
    let mut failed = String::from("/// Models that did not convert: (name, error).\npub static FAILED: &[(&str, &str)] = &[\n");
    for (name, path) in &models {
        let id = ident(name);
        let file = format!("{id}.rs");
        if let Err(e) = ferrite_convert::Builder::new(path)
            .file_name(&file)
            .emit_to_out_dir()
        {
            let _ = writeln!(failed, "    ({name:?}, {:?}),", e.to_string());
            continue;
        }
        let _ = writeln!(
            modules,
            "pub mod {id} {{ include!(concat!(env!(\"OUT_DIR\"), \"/{file}\")); }}"
        );
        let _ = writeln!(
            registry,
            "    ({name:?}, {:?}, &{id}::MODEL),",
            path.display().to_string()
        );
    }
    registry.push_str("];\n");
    failed.push_str("];\n");
    std::fs::write(out.join("emitted.rs"), modules + &registry + &failed).unwrap();
}

fn ferrite_names() -> [&'static str; 8] {
    [
        "hello_world_int8",
        "hello_world_float",
        "micro_speech_int8",
        "person_detect",
        "resnet8_int8",
        "resnet8_float",
        "vww_96_int8",
        "vww_96_float",
    ]
}
