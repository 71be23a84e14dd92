//! Model-family golden vectors (`tests/data/families`, produced by
//! `tools/goldens/gen_family_goldens.py` through TensorFlow Lite Micro's reference kernels): one
//! small Keras model per classic CNN family (MLP, VGG, ResNet, Inception, Xception, MobileNet
//! v1/v2, SENet, DenseNet, ResNeXt, 1-D and audio convs, activations, pooling, dilation and
//! padding, U-Net), int8 and float32. Every case converts — for the portable, Cortex-M DSP and
//! Helium layouts — and reproduces TFLM's outputs, int8 exactly and float within 1e-5 relative.

use ferrite_convert::host;
use ferrite_tests::*;
use std::collections::BTreeSet;

/// The families the issue asks for; each must be present in both variants.
const FAMILIES: &[&str] = &[
    "mlp",
    "vgg",
    "resnet",
    "inception",
    "xception",
    "mobilenet_v1",
    "mobilenet_v2",
    "senet",
    "densenet",
    "resnext",
    "conv1d_timeseries",
    "audio_spectrogram",
    "activations",
    "pooling",
    "dilated_padded",
    "unet",
];

fn index() -> (std::path::PathBuf, serde_json::Value) {
    let dir = repo_root().join("tests/data/families");
    let index = serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap())
        .expect("tests/data/families/index.json");
    (dir, index)
}

#[test]
fn every_family_model_matches_tflite_micro() {
    let (dir, index) = index();
    let cases = index["cases"].as_array().unwrap();
    let names: BTreeSet<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for fam in FAMILIES {
        for variant in ["int8", "f32"] {
            assert!(
                names.contains(format!("{fam}_{variant}").as_str()),
                "missing case {fam}_{variant}"
            );
        }
    }
    let mut failures = Vec::new();
    let mut ops_seen = BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let file = |v: &serde_json::Value| dir.join(v["file"].as_str().unwrap());
        let inputs: Vec<_> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| load(&file(i)))
            .collect();
        for target in TARGETS {
            let c = convert_for(&file(case), target);
            let outputs = match host::run_all(&c, &inputs, 2) {
                Ok(o) => o,
                Err(e) => {
                    failures.push(format!("{name} ({target:?}): {e}"));
                    continue;
                }
            };
            for (k, o) in case["outputs"].as_array().unwrap().iter().enumerate() {
                let bad = compare(&outputs[k], &load(&file(o)), 1e-5);
                if !bad.is_empty() {
                    failures.push(format!("{name} ({target:?}): {}", bad.join("; ")));
                }
            }
        }
        for op in case["ops"].as_array().unwrap() {
            ops_seen.insert(op.as_str().unwrap().to_string());
        }
    }
    println!("{} cases; operators covered: {ops_seen:?}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} family cases differ from TFLite Micro:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_families_cover_the_operators_the_issue_names() {
    let (_, index) = index();
    let ops: BTreeSet<&str> = index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["ops"].as_array().unwrap())
        .map(|o| o.as_str().unwrap())
        .collect();
    for op in [
        "FULLY_CONNECTED",
        "SOFTMAX",
        "CONV_2D",
        "MAX_POOL_2D",
        "AVERAGE_POOL_2D",
        "ADD",
        "CONCATENATION",
        "DEPTHWISE_CONV_2D",
        "HARD_SWISH",
        "MEAN",
        "LOGISTIC",
        "MUL",
        "TANH",
        "LEAKY_RELU",
        "PAD",
        "TRANSPOSE_CONV",
        "RESIZE_NEAREST_NEIGHBOR",
    ] {
        assert!(ops.contains(op), "no family model contains {op}");
    }
}

#[test]
fn every_layer_names_its_kernel_and_the_new_ops_get_theirs() {
    // What `ferrite inspect` prints: each layer with the kernel entry that runs it.
    let (dir, _) = index();
    for (case, dtype) in [("unet_int8", "i8"), ("unet_f32", "f32")] {
        let c = convert(&dir.join(format!("{case}.tflite")));
        for l in &c.report.layers {
            assert!(
                l.kernel.starts_with("ferrite_kernels::"),
                "{case} layer {} ({}) has kernel {}",
                l.index,
                l.op,
                l.kernel
            );
        }
        let kernel_of = |op: &str| {
            c.report
                .layers
                .iter()
                .find(|l| l.op == op)
                .map(|l| l.kernel)
                .unwrap_or_else(|| panic!("{case}: no {op} layer"))
        };
        assert_eq!(
            kernel_of("TRANSPOSE_CONV"),
            format!("ferrite_kernels::ops::transpose_conv::run_transpose_conv2d_{dtype}")
        );
        assert_eq!(
            kernel_of("RESIZE_NEAREST_NEIGHBOR"),
            "ferrite_kernels::ops::resize::run_resize_nearest"
        );
    }
}
