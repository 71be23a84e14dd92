//! TFLite_Detection_PostProcess end to end: the SSD detector models of `tests/data/models`
//! (`tools/goldens/gen_model_goldens.py`; TFLM's outputs, LiteRT's reference kernels' for two
//! classes per detection, see `docs/tflm-deviations.md`) convert for every target and
//! reproduce all four outputs of every sample; hand-made models check the options, the
//! multi-output layer and the conversion errors.

use ferrite_convert::tflite::flexbuf::{write_map, FlexValue};
use ferrite_convert::{compile, host, ConvertError, Options};
use ferrite_tests::tflite_build::ModelSpec;
use ferrite_tests::*;

const OP: &str = "TFLite_Detection_PostProcess";

/// Every case of `tests/data/models/index.json` that runs the detection operator.
fn detection_cases() -> Vec<serde_json::Value> {
    let dir = repo_root().join("tests/data/models");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    index["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ops"].as_array().unwrap().iter().any(|o| o == OP))
        .cloned()
        .collect()
}

#[test]
fn ssd_detectors_match_their_goldens() {
    let dir = repo_root().join("tests/data/models");
    let cases = detection_cases();
    assert!(
        cases.len() >= 5,
        "expected the ssd_detector goldens, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut bit_exact = (0usize, 0usize);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let file = |v: &serde_json::Value| dir.join(v["file"].as_str().unwrap());
        let inputs: Vec<_> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| load(&file(i)))
            .collect();
        let goldens: Vec<_> = case["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| load(&file(o)))
            .collect();
        assert_eq!(goldens.len(), 4, "{name}: four outputs");
        for target in TARGETS {
            let c = convert_for(&file(case), target);
            let outputs = match host::run_all(&c, &inputs, 2) {
                Ok(o) => o,
                Err(e) => {
                    failures.push(format!("{name} ({target:?}): {e}"));
                    continue;
                }
            };
            // Whole arrays: Ferrite writes zeros past the detections, and the golden files
            // hold zeros there (TFLM leaves those rows unwritten: `valid_rows`).
            for (k, (got, want)) in outputs.iter().zip(&goldens).enumerate() {
                let bad = compare(got, want, 1e-5);
                if !bad.is_empty() {
                    failures.push(format!(
                        "{name} ({target:?}) output {k}: {}",
                        bad.join("; ")
                    ));
                }
                for i in 0..got.data.len() {
                    bit_exact.1 += 1;
                    let same = got.data.get_f64(i).to_bits() == want.data.get_f64(i).to_bits();
                    bit_exact.0 += same as usize;
                }
            }
            // The rows the goldens call valid are the detections: one row each with one class
            // per detection, `max_classes_per_detection` rows each with several (LiteRT).
            let per = case["detection_options"]["max_classes_per_detection"]
                .as_u64()
                .unwrap();
            let rows = case["valid_rows"]["per_sample"].as_array().unwrap();
            for (s, r) in rows.iter().enumerate() {
                let num = outputs[3].data.get_f64(s) as u64;
                if num * per != r.as_u64().unwrap() {
                    failures.push(format!(
                        "{name} ({target:?}) sample {s}: {num} detections, {r} valid rows"
                    ));
                }
            }
        }
    }
    // (The only values not bit-identical are in the LiteRT golden, whose LOGISTIC rounds
    // differently from TFLM's by an ulp.)
    println!(
        "{} detector cases x {} targets; {} of {} output values bit-identical",
        cases.len(),
        TARGETS.len(),
        bit_exact.0,
        bit_exact.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ssd_detectors_emit_rust_with_one_four_output_layer() {
    for case in detection_cases() {
        let path = repo_root()
            .join("tests/data/models")
            .join(case["file"].as_str().unwrap());
        let c = convert_portable(&path);
        let layer = c
            .report
            .layers
            .iter()
            .find(|l| l.op == format!("CUSTOM:{OP}"))
            .expect("a detection layer");
        assert_eq!(layer.outputs.len(), 4);
        assert!(layer
            .kernel
            .ends_with("detection::run_detection_postprocess"));
        let prov = ferrite_convert::emit::Provenance {
            source: "ssd.tflite".into(),
            sha256: String::new(),
        };
        let text = ferrite_convert::emit::emit(&c, &prov).unwrap();
        assert!(
            text.contains("DetectionPostprocess"),
            "emitted code names the op"
        );
    }
}

/// Unit squares centred at `centres` as anchors `(y, x, h, w)`.
fn squares(centres: &[(f32, f32)]) -> Vec<f32> {
    centres
        .iter()
        .flat_map(|&(y, x)| [y, x, 1.0, 1.0])
        .collect()
}

/// Options of a 2-class detector keeping 3 detections, with `extra` overriding or adding.
fn options(extra: &[(&str, FlexValue)]) -> Vec<u8> {
    let mut entries: Vec<(&str, FlexValue)> = vec![
        ("max_detections", FlexValue::Int(3)),
        ("max_classes_per_detection", FlexValue::Int(1)),
        ("nms_score_threshold", FlexValue::Float(0.3)),
        ("nms_iou_threshold", FlexValue::Float(0.5)),
        ("num_classes", FlexValue::Int(2)),
        ("y_scale", FlexValue::Float(10.0)),
        ("x_scale", FlexValue::Float(10.0)),
        ("h_scale", FlexValue::Float(5.0)),
        ("w_scale", FlexValue::Float(5.0)),
    ];
    for (k, v) in extra {
        entries.retain(|(e, _)| e != k);
        if *v != FlexValue::Other(0) {
            entries.push((k, *v));
        }
    }
    write_map(&entries)
}

/// Runs a converted detector on zero box encodings (boxes = anchors) and `scores`.
fn run(m: &ModelSpec, scores: &[f32]) -> Vec<Vec<f32>> {
    let c = compile(&m.build(), &Options::default()).unwrap();
    let model = c.model();
    let mut arena = c.new_arena();
    let arena = arena.as_mut_slice();
    let boxes = vec![0.0f32; model.input_tensor(0).unwrap().num_elements()];
    model.set_input(arena, 0, &boxes).unwrap();
    model.set_input(arena, 1, scores).unwrap();
    model.invoke(arena).unwrap();
    (0..4)
        .map(|i| model.output::<f32>(arena, i).unwrap().to_vec())
        .collect()
}

#[test]
fn one_layer_writes_the_four_outputs_in_both_nms_modes() {
    let anchors = squares(&[(0.0, 0.0), (0.0, 0.25), (5.0, 5.0)]);
    // [background, class 0, class 1]: box 1 overlaps box 0 (IoU 0.6), box 2 is apart.
    let scores = [0.0, 0.9, 0.8, 0.0, 0.7, 0.1, 0.0, 0.2, 0.6];
    let fast = ModelSpec::detection_postprocess(2, &anchors, 3, options(&[]));
    let c = compile(&fast.build(), &Options::default()).unwrap();
    assert_eq!(c.layers.len(), 1, "one layer for the operator, no copies");
    assert_eq!(c.layers[0].name, OP);
    let out = run(&fast, &scores);
    assert_eq!(out[3], [2.0]);
    assert_eq!(out[1], [0.0, 1.0, 0.0]);
    assert_eq!(out[2], [0.9, 0.6, 0.0]);
    assert_eq!(&out[0][..8], &[-0.5, -0.5, 0.5, 0.5, 4.5, 4.5, 5.5, 5.5]);
    // Regular NMS per class: class 0 keeps box 0 (box 1 suppressed), class 1 keeps box 0 and
    // box 2; ranked by score across classes.
    let regular = ModelSpec::detection_postprocess(
        2,
        &anchors,
        3,
        options(&[("use_regular_nms", FlexValue::Bool(true))]),
    );
    let out = run(&regular, &scores);
    assert_eq!(out[3], [3.0]);
    assert_eq!(out[2], [0.9, 0.8, 0.6]);
    assert_eq!(out[1], [0.0, 1.0, 1.0]);
}

fn convert_err(m: &ModelSpec) -> String {
    match compile(&m.build(), &Options::default()) {
        Ok(_) => panic!("converted"),
        Err(e @ (ConvertError::Operator { .. } | ConvertError::Unsupported { .. })) => {
            let s = e.to_string();
            assert!(s.starts_with(&format!("operator #0 (CUSTOM:{OP})")), "{s}");
            s
        }
        Err(e) => panic!("not an operator error: {e}"),
    }
}

#[test]
fn what_tflm_refuses_or_leaves_undefined_is_a_conversion_error() {
    let anchors = squares(&[(0.0, 0.0), (5.0, 5.0)]);
    let good = ModelSpec::detection_postprocess(2, &anchors, 3, options(&[]));
    compile(&good.build(), &Options::default()).unwrap();

    // int8 inputs: TFLM's kernel reads float32 only (its Eval fails).
    let mut m = good.clone();
    m.tensors[0].dtype = 9;
    m.tensors[0].scale = vec![0.1];
    m.tensors[0].zero_point = vec![0];
    let e = convert_err(&m);
    assert!(
        e.contains("box encodings tensor #0") && e.contains("int8"),
        "{e}"
    );

    // Anchors computed at run time.
    let mut m = good.clone();
    m.tensors[2].buffer = 0;
    m.inputs.push(2);
    assert!(convert_err(&m).contains("anchors tensor #2 'anchors' must be a constant"));

    // Malformed or missing options.
    for (bytes, what) in [
        (vec![], "FlexBuffer"),
        (vec![1, 2, 3], "byte width"),
        (vec![0; 16], "byte width 0"),
        (vec![7, 0x04, 1], "not a map"),
        (write_map(&[]), "num_classes 0 does not fit"),
    ] {
        let mut m = good.clone();
        m.custom_options = vec![(0, bytes)];
        let e = convert_err(&m);
        assert!(e.contains(what), "{e}");
    }
    for (extra, what) in [
        (
            ("num_classes", FlexValue::Int(4)),
            "num_classes 4 does not fit 3",
        ),
        (("num_classes", FlexValue::Int(-1)), "num_classes -1"),
        (
            ("nms_iou_threshold", FlexValue::Float(0.0)),
            "nms_iou_threshold 0",
        ),
        (
            ("nms_iou_threshold", FlexValue::Float(1.5)),
            "outside (0, 1]",
        ),
        (("max_detections", FlexValue::Int(-2)), "max_detections -2"),
        (
            ("max_classes_per_detection", FlexValue::Int(0)),
            "must be positive",
        ),
        (
            ("max_detections", FlexValue::Float(f64::NAN)),
            "max_detections",
        ),
    ] {
        let mut m = good.clone();
        m.custom_options = vec![(0, options(&[extra]))];
        let e = convert_err(&m);
        assert!(e.contains(what), "{extra:?}: {e}");
    }
    let mut m = good.clone();
    m.custom_options = vec![(
        0,
        options(&[
            ("use_regular_nms", FlexValue::Bool(true)),
            ("detections_per_class", FlexValue::Int(0)),
        ]),
    )];
    assert!(convert_err(&m).contains("detections_per_class 0 must be positive"));
    // Regular NMS writes max_detections rows: the outputs must hold them.
    let mut m = good.clone();
    m.custom_options = vec![(
        0,
        options(&[
            ("use_regular_nms", FlexValue::Bool(true)),
            ("max_detections", FlexValue::Int(4)),
        ]),
    )];
    assert!(convert_err(&m).contains("the outputs hold 3 detections; up to 4 are written"));
    // Two classes per detection need rows for both (LiteRT's layout).
    let mut m = good.clone();
    m.custom_options = vec![(
        0,
        options(&[("max_classes_per_detection", FlexValue::Int(2))]),
    )];
    assert!(convert_err(&m).contains("up to 4 are written"));
    // Shapes TFLM's Prepare/Eval refuse.
    let mut m = good.clone();
    m.tensors[0].shape = vec![1, 2, 3];
    assert!(convert_err(&m).contains("at least 4 values per box"));
    let mut m = good;
    m.ops[0].outputs.pop();
    m.outputs.pop();
    assert!(convert_err(&m).contains("has 3 outputs, expected 4"));
}

#[test]
fn the_registry_lists_the_custom_operator_by_its_code() {
    assert!(ferrite_convert::lower::SUPPORTED_OPS.contains(&OP));
    // Another custom code is still unsupported, and says which operators are.
    let anchors = squares(&[(0.0, 0.0)]);
    let mut m = ModelSpec::detection_postprocess(2, &anchors, 3, options(&[]));
    m.custom_codes = vec![(0, "TFLite_Detection_PostProcessV2".into())];
    match compile(&m.build(), &Options::default()) {
        Err(ConvertError::Unsupported { op, message, .. }) => {
            assert_eq!(op, "CUSTOM:TFLite_Detection_PostProcessV2");
            assert!(message.contains(OP), "{message}");
        }
        r => panic!("{:?}", r.map(|_| ())),
    }
}
