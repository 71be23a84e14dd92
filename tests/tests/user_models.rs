//! Whole models as users bring them (`tests/data/models`, from
//! `tools/goldens/gen_model_goldens.py`): Keras models with an unknown batch (Flatten,
//! GlobalMaxPooling2D, dilated convolutions), a PyTorch export, an SSD-style detector and an
//! attention block. Each converts with no option and reproduces its golden (TFLM's outputs,
//! or LiteRT's where TFLM is wrong: see `docs/tflm-deviations.md`) on every target layout.

use ferrite_convert::{compile, Compiled, Options};
use ferrite_tests::*;

fn dir() -> std::path::PathBuf {
    repo_root().join("tests/data/models")
}

#[test]
fn every_user_model_matches_its_golden_on_every_target() {
    for target in TARGETS {
        let options = Options {
            target,
            ..Options::host().unwrap_or_else(|e| panic!("{e}"))
        };
        let (cases, ops) = check_golden_dir(&dir(), &options);
        assert!(
            cases >= 12,
            "expected the user-model set, found {cases} cases"
        );
        println!("{target:?}: {cases} cases; operators: {ops:?}");
    }
}

fn portable(name: &str) -> Compiled {
    let bytes = std::fs::read(dir().join(format!("{name}.tflite"))).unwrap();
    compile(&bytes, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The device sees the same model whether Keras left the batch unknown (SHAPE →
/// STRIDED_SLICE → PACK → RESHAPE in the file) or fixed it: same layers with the same
/// parameters and kernels, same constants, same arena, so the same instructions.
#[test]
fn folded_plumbing_costs_nothing_on_the_device() {
    for (unknown, fixed) in [
        ("keras_flatten_cnn_int8", "keras_flatten_cnn_fixed_int8"),
        ("keras_flatten_cnn_f32", "keras_flatten_cnn_fixed_f32"),
    ] {
        // (The dilated-convolution pair is not such a pair: with an unknown batch TensorFlow
        // keeps the bias as a separate ADD after BATCH_TO_SPACE_ND — a second rounding in
        // int8 that LiteRT computes too — where the fixed-batch model fuses it.)
        let (a, b) = (portable(unknown), portable(fixed));
        let ops = |c: &Compiled| -> Vec<String> {
            c.layers
                .iter()
                .zip(&c.report.layers)
                .map(|(l, r)| format!("{:?} {}", l.op, r.kernel))
                .collect()
        };
        assert_eq!(ops(&a), ops(&b), "{unknown} vs {fixed}: layers differ");
        assert_eq!(
            a.consts.as_slice(),
            b.consts.as_slice(),
            "{unknown} vs {fixed}: constants differ"
        );
        assert_eq!(a.arena_bytes, b.arena_bytes, "{unknown} vs {fixed}: arena");
        let plan = |c: &Compiled| format!("{:?}", c.tensors);
        assert_eq!(plan(&a), plan(&b), "{unknown} vs {fixed}: tensor plan");
    }
}

/// `--batch N` fixes an unknown batch to N: the folded shape arithmetic follows, and every
/// sample of a batch gives what it gives alone.
#[test]
fn an_unknown_batch_can_be_fixed_to_several_samples() {
    let bytes = std::fs::read(dir().join("keras_flatten_cnn_f32.tflite")).unwrap();
    let one = compile(&bytes, &Options::default()).unwrap();
    let four = compile(
        &bytes,
        &Options {
            batch: 4,
            ..Options::default()
        },
    )
    .unwrap();
    let input = load(&dir().join("keras_flatten_cnn_f32.inputs.npy"));
    let n = input.shape[0];
    assert!(n >= 4, "need 4 samples");
    let per = input.data.len() / n;
    let single = ferrite_convert::host::run_all(&one, std::slice::from_ref(&input), 1).unwrap();
    let mut batched_input = input.clone();
    batched_input.shape = vec![
        1,
        4 * input.shape[1],
        input.shape[2],
        input.shape[3],
        input.shape[4],
    ];
    batched_input.data =
        ferrite_convert::npy::Data::from_bytes(input.data.dtype(), &input.data.bytes(0, 4 * per));
    let batched = ferrite_convert::host::run_all(&four, &[batched_input], 1).unwrap();
    let out_per = single[0].data.len() / n;
    for s in 0..4 {
        for i in 0..out_per {
            assert_eq!(
                batched[0].data.get_f64(s * out_per + i),
                single[0].data.get_f64(s * out_per + i),
                "sample {s} element {i}"
            );
        }
    }
    assert_eq!(four.layers.len(), one.layers.len());
}
