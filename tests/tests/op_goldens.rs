//! Single-operator golden vectors (`tests/data/ops`, produced by
//! `tools/goldens/gen_op_goldens.py` through TensorFlow Lite Micro's reference kernels): every
//! case converts and reproduces TFLM's outputs, int8 exactly and float within 1e-5 relative.

use ferrite_convert::host;
use ferrite_tests::*;

#[test]
fn every_single_op_case_matches_tflite_micro() {
    let dir = repo_root().join("tests/data/ops");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let cases = index["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 100,
        "expected the full golden set, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut ops_seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let file = |v: &serde_json::Value| dir.join(v["file"].as_str().unwrap());
        let c = convert(&dir.join(case["file"].as_str().unwrap()));
        let inputs: Vec<_> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| load(&file(i)))
            .collect();
        let outputs = match host::run_all(&c, &inputs, 1) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (k, o) in case["outputs"].as_array().unwrap().iter().enumerate() {
            let bad = compare(&outputs[k], &load(&file(o)), 1e-5);
            if !bad.is_empty() {
                failures.push(format!(
                    "{name} ({}): {}",
                    case["description"].as_str().unwrap_or(""),
                    bad.join("; ")
                ));
            }
        }
        for op in case["ops"].as_array().unwrap() {
            ops_seen.insert(op.as_str().unwrap().to_string());
        }
    }
    println!("{} cases; operators covered: {ops_seen:?}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from TFLite Micro:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
