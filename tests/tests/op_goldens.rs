//! Single-operator golden vectors (`tests/data/ops`, produced by
//! `tools/goldens/gen_op_goldens.py` through TensorFlow Lite Micro's reference kernels): every
//! case converts and reproduces TFLM's outputs, integers and bool exactly, float within 1e-5
//! relative.

use ferrite_convert::Options;
use ferrite_tests::*;

#[test]
fn every_single_op_case_matches_tflite_micro() {
    let options = Options::host().unwrap_or_else(|e| panic!("{e}"));
    let (cases, ops) = check_golden_dir(&repo_root().join("tests/data/ops"), &options);
    assert!(
        cases >= 100,
        "expected the full golden set, found {cases} cases"
    );
    println!("{cases} cases; operators covered: {ops:?}");
}
