//! The converter's flash estimate (`Report::flash_bytes`) against the flash of the board
//! firmware `ferrite sim --json` measured for the same conversions (the rows
//! `tools/bench/code_sizes.py` commits in `ferrite_convert::code_sizes::MEASURED`, where it
//! also measures the per-kernel code sizes the estimate adds up).

use ferrite_convert::code_sizes::MEASURED;
use ferrite_convert::{compile, Int8Weights, Options, Target};

fn estimate(dir: &std::path::Path, model: &str, target: Target, int8: Int8Weights) -> usize {
    let path = dir.join(model).join(format!("{model}.tflite"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = Options {
        target,
        int8_weights: int8,
        ..Options::default()
    };
    compile(&bytes, &options).unwrap().report.flash_bytes
}

/// Within 5% for every measured build (within 5,000 bytes for the builds under 60 KB, whose
/// flash is mostly the fixed runtime base).
#[test]
fn flash_estimate_is_within_5_percent_of_the_measured_firmware() {
    let Some(dir) = ferrite_tests::shared_models_dir() else {
        return;
    };
    // The pair is among the rows: vww_96_int8 on qemu-m4 (DSP) with 16-bit and with
    // int8 weights, whose flash differs by about 196 KB.
    for int8 in ["none", "all"] {
        assert!(
            MEASURED
                .iter()
                .any(|m| (m.0, m.1, m.2) == ("cortex-m-dsp", "vww_96_int8", int8)),
            "no measured vww_96_int8 row with int8 weights {int8}"
        );
    }
    let mut report = Vec::new();
    for &(target, model, int8, measured) in MEASURED {
        let t = Target::from_name(target).unwrap();
        let est = estimate(&dir, model, t, Int8Weights::parse(int8).unwrap());
        let error = (est as f64 - measured as f64) / measured as f64;
        report.push(format!(
            "{target} {model} int8 weights {int8}: estimate {est}, measured {measured} ({:+.2}%)",
            100.0 * error
        ));
        // The runtime base is one figure per target: a model of a few kilobytes (where 5% is
        // a few hundred bytes) may differ from it by a few kilobytes.
        let off = est.abs_diff(measured);
        assert!(
            error.abs() <= 0.05 || (measured < 60_000 && off <= 5_000),
            "{}",
            report.join("\n")
        );
    }
    println!("{}", report.join("\n"));
}

#[test]
fn int8_weights_halve_the_gemm_weights_and_portable_conversions_report_flash_too() {
    let Some(dir) = ferrite_tests::shared_models_dir() else {
        return;
    };
    let wide = estimate(&dir, "vww_96_int8", Target::CortexMDsp, Int8Weights::None);
    let narrow = estimate(&dir, "vww_96_int8", Target::CortexMDsp, Int8Weights::All);
    // The dense convolutions' weights (196,480 bytes as int8) are stored once instead of twice.
    assert!(
        (190_000..200_000).contains(&(wide - narrow)),
        "{wide} - {narrow}"
    );
    // Only the chosen operators change: #26 (the last pointwise convolution, 256x256) alone.
    let one = estimate(
        &dir,
        "vww_96_int8",
        Target::CortexMDsp,
        Int8Weights::Ops(vec![26]),
    );
    // (Give or take the constant pool's alignment padding.)
    assert!(
        (256 * 256 - 16..=256 * 256 + 16).contains(&(wide - one)),
        "{wide} - {one}"
    );
    let path = dir.join("vww_96_int8/vww_96_int8.tflite");
    let c = compile(&std::fs::read(path).unwrap(), &Options::default()).unwrap();
    assert!(
        c.report.flash_bytes > c.report.weight_bytes + 10_000,
        "{} vs constants {}",
        c.report.flash_bytes,
        c.report.weight_bytes
    );
}
