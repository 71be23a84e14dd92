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
fn int8_weights_shrink_the_conv_constants_and_portable_conversions_report_flash_too() {
    let Some(dir) = ferrite_tests::shared_models_dir() else {
        return;
    };
    let wide = estimate(&dir, "vww_96_int8", Target::CortexMDsp, Int8Weights::None);
    let narrow = estimate(&dir, "vww_96_int8", Target::CortexMDsp, Int8Weights::All);
    // The dense convolutions' weights (196,480 bytes as int8) are stored once instead of
    // twice, and the 1,240 depthwise channels take 19 bytes each instead of 36 (21,080).
    assert!(
        (215_000..220_000).contains(&(wide - narrow)),
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

/// The layouts the flash choice makes run exactly: vww_96_int8 converted for the DSP target
/// with every, none and some convolutions on int8 weights (dense: the int8 GEMM; depthwise:
/// the packed constants widened when the layer runs) gives the TFLite Micro
/// outputs on every shared sample (run here by the DSP kernels' portable twins; `ferrite sim`
/// runs the assembly on qemu-m4).
#[test]
fn every_int8_weight_choice_is_exact_on_vww() {
    let Some(dir) = ferrite_tests::shared_models_dir() else {
        return;
    };
    let d = dir.join("vww_96_int8");
    let bytes = std::fs::read(d.join("vww_96_int8.tflite")).unwrap();
    let inputs = ferrite_convert::npy::read(&d.join("vww_96_int8.inputs.npy")).unwrap();
    let expected = ferrite_convert::npy::read(&d.join("vww_96_int8.outputs.npy")).unwrap();
    for int8 in [
        Int8Weights::None,
        Int8Weights::All,
        Int8Weights::Ops(vec![0, 1, 2, 12, 25, 26]),
    ] {
        let options = Options {
            target: Target::CortexMDsp,
            int8_weights: int8.clone(),
            ..Options::default()
        };
        let c = compile(&bytes, &options).unwrap();
        let got = ferrite_convert::host::run_all(&c, std::slice::from_ref(&inputs), 2).unwrap();
        assert_eq!(got[0].shape, expected.shape, "{int8}");
        let n = expected.data.len();
        assert_eq!(
            ferrite_convert::host::first_mismatch(&got[0].data, &expected.data, 0, n, 0.0),
            None,
            "int8 weights {int8}"
        );
    }
}
