//! RAM budgets on real models (`Options::max_arena`, [`ferrite_convert::budget`]): the
//! converter picks the fastest plan whose arena fits (a patch-based prefix, the input read in
//! place), every plan it picks reproduces TFLite Micro's goldens byte for byte, and a budget
//! nothing reaches fails naming the smallest arena reached and its plan.
//!
//! Conversions use the portable kernel set (`KernelSet::PORTABLE`, `Options::default`), as
//! generated code does, for the portable and the Cortex-M DSP layouts. A conversion's arena
//! does not depend on the budget (the budget only chooses among plans), so "fits budget B" is
//! monotonic in B and [`smallest_plan`] finds the true minimum by descent.
//!
//! Figures at the time of writing (printed by the tests, `--nocapture`):
//!
//! | model | target | budget | arena | plan | MACs over unconstrained |
//! |---|---|---|---|---|---|
//! | mobilenet_v2_160_int8 | portable / DSP | L/4 = 96,000 (L = 384,000) | 96,000 / 91,520 | prefix through #9 in 7 bands, input in place | +19.9% (18,134,080 -> 21,736,000) |
//! | mobilenet_v2_160_int8 | portable, DSP | smallest reachable | 77,440 | prefix through #12 in 10 bands, input in place, depthwise layers in place | +43.2% (25,967,680) |
//! | vww_96_int8 | portable / DSP | 28,000 | 26,496 / 27,456 | prefix through #7 in 4 bands, input in place | +9.6% |
//! | person_detect | portable / DSP | 28,000 | 26,496 / 27,456 | prefix through #7 in 4 bands, input in place | +7.4% |
//! | resnet8_int8 | DSP | smallest reachable (unconstrained 50,944) | 23,808 | prefix through #7 in 15 bands, input in place | +128.6% (28,578,944) |
//!
//! The DSP depthwise kernel needs at least one output row of scratch (23,616 B for
//! mobilenet_v2_160_int8's banded 80-wide, 48-channel stride-2 depthwise), which alone kept its
//! smallest arena at 101,056 B; in-place depthwise layers ([`ferrite_convert::inplace`]) and
//! the planner's second pass ([`ferrite_convert::graph::Graph::scratch_within_peak`], the
//! portable kernel where the scratch does not fit) take it lower.

use ferrite_convert::npy::Array;
use ferrite_convert::{compile, host, Compiled, ConvertError, Options, Target};
use ferrite_tests::*;
use std::path::Path;

const BUDGET_TARGETS: [Target; 2] = [Target::Portable, Target::CortexMDsp];

fn options(target: Target, max_arena: Option<usize>) -> Options {
    Options {
        target,
        max_arena,
        ..Options::default()
    }
}

fn convert_budget(
    bytes: &[u8],
    target: Target,
    max_arena: Option<usize>,
) -> Result<Compiled, ConvertError> {
    compile(bytes, &options(target, max_arena))
}

/// Runs every sample of `inputs` and asserts the output equals `expected` byte for byte.
fn assert_exact(what: &str, c: &Compiled, inputs: &Array, expected: &Array) {
    let out =
        host::run_all(c, std::slice::from_ref(inputs), 2).unwrap_or_else(|e| panic!("{what}: {e}"));
    let bad = compare(&out[0], expected, 0.0);
    assert!(
        bad.is_empty(),
        "{what}: {} of {} samples differ from the TFLM goldens: {bad:?}",
        bad.len(),
        expected.shape[0]
    );
}

fn describe(c: &Compiled) -> String {
    let patch = c.report.patch.as_ref().map_or("no patch".to_string(), |p| {
        format!(
            "prefix of {} operators (through #{}) in {} bands",
            p.prefix_ops.len(),
            p.prefix_ops.last().copied().unwrap_or(0),
            p.bands.len()
        )
    });
    format!(
        "arena {} B, {} MACs, {patch}, input in place: {}",
        c.arena_bytes, c.report.macs, c.report.input_in_place
    )
}

/// The smallest arena any plan reaches under `target`: from an arena that fits, tries one
/// byte less until nothing fits (each success returns a plan at most that big). Returns the
/// conversion at the minimum and the error one byte below it.
fn smallest_plan(bytes: &[u8], target: Target, start: usize) -> (Compiled, usize, ConvertError) {
    let mut best = convert_budget(bytes, target, Some(start))
        .unwrap_or_else(|e| panic!("{target:?}: budget {start}: {e}"));
    let mut steps = 0;
    loop {
        let below = best.arena_bytes - 1;
        match convert_budget(bytes, target, Some(below)) {
            Ok(c) => {
                assert!(
                    c.arena_bytes <= below,
                    "{target:?}: budget {below} gave {}",
                    c.arena_bytes
                );
                best = c;
            }
            Err(e) => return (best, steps, e),
        }
        steps += 1;
    }
}

fn user_model(name: &str) -> (Vec<u8>, Array, Array) {
    let dir = repo_root().join("tests/data/models");
    let bytes =
        std::fs::read(dir.join(format!("{name}.tflite"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    (
        bytes,
        load(&dir.join(format!("{name}.inputs.npy"))),
        load(&dir.join(format!("{name}.outputs.npy"))),
    )
}

fn shared(dir: &Path, name: &str) -> (Vec<u8>, Array, Array) {
    let m = shared_model(dir, name);
    let bytes = std::fs::read(&m.tflite).unwrap_or_else(|e| panic!("{name}: {e}"));
    (bytes, load(&m.inputs), load(&m.outputs))
}

fn macs_over(c: &Compiled, free: &Compiled) -> f64 {
    100.0 * (c.report.macs as f64 / free.report.macs as f64 - 1.0)
}

/// The budget error's `smallest` (and its message naming the plan) for a budget nothing fits.
fn budget_error(e: ConvertError, budget: usize, what: &str) -> usize {
    let text = e.to_string();
    match e {
        ConvertError::Budget {
            max_arena,
            smallest,
            plan,
        } => {
            assert_eq!(max_arena, budget, "{what}");
            assert!(smallest > budget, "{what}: {text}");
            assert!(!plan.is_empty() && text.contains(&plan), "{what}: {text}");
            assert!(text.contains(&smallest.to_string()), "{what}: {text}");
            smallest
        }
        other => panic!("{what}: expected a budget error, got {other}"),
    }
}

/// mobilenet_v2_160_int8 (160x160x3, first MobileNetV2 stages): a quarter of the layer-by-layer
/// bound L on both layouts, exact, and the smallest arena each reaches.
#[test]
fn mobilenet_v2_160_fits_a_quarter_of_its_layerwise_bound() {
    let (bytes, inputs, expected) = user_model("mobilenet_v2_160_int8");
    for target in BUDGET_TARGETS {
        let free = convert_budget(&bytes, target, None).unwrap();
        let l = free.report.layerwise_lower_bound;
        let budget = l / 4;
        println!("{target:?} unconstrained: L = {l} B, {}", describe(&free));
        assert_exact(
            &format!("{target:?}, unconstrained"),
            &free,
            &inputs,
            &expected,
        );
        assert!(
            l >= 300_000,
            "L = {l}: the 80x80x48 expansion alone is 307,200 B"
        );
        let c = convert_budget(&bytes, target, Some(budget))
            .unwrap_or_else(|e| panic!("{target:?}, L/4 = {budget}: {e}"));
        let portable_dw = |c: &Compiled| {
            c.report
                .layers
                .iter()
                .filter(|l| l.kernel.ends_with("run_depthwise_conv2d_i8"))
                .count()
        };
        println!(
            "{target:?}, L/4 = {budget}: {} ({:+.1}% MACs; {} portable depthwise layers)",
            describe(&c),
            macs_over(&c, &free),
            portable_dw(&c)
        );
        assert!(c.arena_bytes <= budget, "{target:?}");
        assert!(c.report.patch.is_some(), "L/4 needs a patch-based prefix");
        assert_exact(&format!("{target:?}, L/4"), &c, &inputs, &expected);

        let (min, _, err) = smallest_plan(&bytes, target, c.arena_bytes);
        println!(
            "{target:?}, smallest: {} ({:+.1}% MACs)",
            describe(&min),
            macs_over(&min, &free)
        );
        assert_exact(&format!("{target:?}, smallest"), &min, &inputs, &expected);
        let below = budget_error(err, min.arena_bytes - 1, "below the smallest");
        assert_eq!(below, min.arena_bytes, "the error names the smallest arena");
        if target == Target::CortexMDsp {
            // Within budgets that fit with the DSP depthwise kernels, they stay.
            let roomy = convert_budget(&bytes, target, Some(110_000)).unwrap();
            assert_eq!(portable_dw(&roomy), 0, "{}", describe(&roomy));
        }
    }
}

/// The two 96x96 person detectors (../shared/models) in 28,000 bytes, exact, for at most 20%
/// more multiply-accumulates.
#[test]
fn vww_and_person_detect_fit_28000_bytes() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    for name in ["vww_96_int8", "person_detect"] {
        let (bytes, inputs, expected) = shared(&dir, name);
        for target in BUDGET_TARGETS {
            let free = convert_budget(&bytes, target, None).unwrap();
            let c = convert_budget(&bytes, target, Some(28_000))
                .unwrap_or_else(|e| panic!("{name} {target:?}: {e}"));
            println!(
                "{name} {target:?}: unconstrained arena {} B; in 28,000: {} ({:+.2}% MACs)",
                free.arena_bytes,
                describe(&c),
                macs_over(&c, &free)
            );
            assert!(c.arena_bytes <= 28_000, "{name} {target:?}");
            assert!(
                c.report.macs * 5 <= free.report.macs * 6,
                "{name} {target:?}: {} MACs vs {} unconstrained",
                c.report.macs,
                free.report.macs
            );
            assert_exact(&format!("{name} {target:?}"), &c, &inputs, &expected);
        }
    }
}

/// A flash budget on the DSP layout: vww_96_int8's 16-bit pre-shifted weights make it
/// 512 KB; within 300,000 B (the 1% allowance for the estimate's error included) the planner
/// keeps int8 weights in the fewest layers that fit (the late ones, whose weights are read for
/// the fewest pixels; depthwise layers as packed constants widened when they run), leaves the
/// others and the arena alone, and the outputs stay exact; below anything reachable the error
/// names the least flash reached. (On qemu-m4, `ferrite sim --max-flash 300000` measured
/// 298,268 B of flash at 1.307 instructions and 2.109 estimated cycles per MAC, +1.8% cycles;
/// docs/performance.md.)
#[test]
fn vww_fits_300000_bytes_of_flash_with_int8_weights_where_they_cost_least() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let (bytes, inputs, expected) = shared(&dir, "vww_96_int8");
    let free = convert_budget(&bytes, Target::CortexMDsp, None).unwrap();
    let opts = Options {
        max_flash: Some(300_000),
        ..options(Target::CortexMDsp, None)
    };
    let c = compile(&bytes, &opts).unwrap();
    println!(
        "vww_96_int8 DSP: flash {} -> {} B (estimated), arena {} B",
        free.report.flash_bytes, c.report.flash_bytes, c.arena_bytes
    );
    assert!(free.report.flash_bytes > 500_000);
    assert!(c.report.flash_bytes <= ferrite_convert::budget::usable_flash(300_000));
    let packed = |c: &Compiled| {
        c.report
            .layers
            .iter()
            .filter(|l| l.kernel.ends_with("run_depthwise_dsp_packed_i8"))
            .count()
    };
    assert!(packed(&c) > 0, "{}", describe(&c));
    assert_eq!(c.arena_bytes, free.arena_bytes);
    assert_eq!(c.report.macs, free.report.macs);
    // Not every layer: the first convolutions (48x48 outputs) keep their fast weights.
    let all = Options {
        int8_weights: ferrite_convert::Int8Weights::All,
        ..options(Target::CortexMDsp, None)
    };
    let all = compile(&bytes, &all).unwrap();
    assert!(all.report.flash_bytes < c.report.flash_bytes);
    // A 512 KB part (STM32F411, nRF52832): its board crate's default budget, the flash less
    // 32 KB for the rest of the firmware, fits with fewer layers on int8 weights.
    let part = 512 * 1024 - 32 * 1024;
    let on_part = compile(
        &bytes,
        &Options {
            max_flash: Some(part),
            ..options(Target::CortexMDsp, None)
        },
    )
    .unwrap();
    assert!(on_part.report.flash_bytes <= ferrite_convert::budget::usable_flash(part));
    assert!(on_part.report.flash_bytes > c.report.flash_bytes);
    assert_exact(
        "vww_96_int8 DSP, a 512 KB part",
        &on_part,
        &inputs,
        &expected,
    );
    assert!(packed(&c) < packed(&all), "{}", describe(&c));
    assert_exact(
        "vww_96_int8 DSP, every layer int8",
        &all,
        &inputs,
        &expected,
    );
    assert_exact(
        "vww_96_int8 DSP, 300,000 B of flash",
        &c,
        &inputs,
        &expected,
    );
    let tight = Options {
        max_flash: Some(200_000),
        ..options(Target::CortexMDsp, None)
    };
    match compile(&bytes, &tight) {
        Err(ConvertError::FlashBudget {
            max_flash,
            smallest,
            plan,
        }) => {
            assert_eq!(max_flash, 200_000);
            assert!(smallest > 200_000 && !plan.is_empty(), "{smallest} {plan}");
        }
        other => panic!(
            "expected a flash budget error, got {:?}",
            other.map(|c| c.report.flash_bytes)
        ),
    }
}

/// resnet8_int8's smallest budget on the DSP layout: it converts and is exact there, one byte
/// less fails naming a bigger arena.
#[test]
fn resnet8_smallest_budget() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let (bytes, inputs, expected) = shared(&dir, "resnet8_int8");
    let target = Target::CortexMDsp;
    let free = convert_budget(&bytes, target, None).unwrap();
    // A budget of 1 byte fits nothing; its error names where to start.
    let start = budget_error(
        convert_budget(&bytes, target, Some(1)).unwrap_err(),
        1,
        "resnet8, 1 byte",
    );
    let (min, _, err) = smallest_plan(&bytes, target, start);
    let m = min.arena_bytes;
    println!(
        "resnet8_int8 {target:?}: smallest budget {m} B (unconstrained {} B): {} ({:+.1}% MACs)",
        free.arena_bytes,
        describe(&min),
        macs_over(&min, &free)
    );
    // Converting at exactly that budget gives that plan.
    let at = convert_budget(&bytes, target, Some(m)).unwrap();
    assert!(at.arena_bytes <= m);
    assert_exact(
        "resnet8_int8 at its smallest budget",
        &at,
        &inputs,
        &expected,
    );
    let below = budget_error(err, m - 1, "resnet8, smallest - 1");
    assert!(below > m - 1);
    let again = convert_budget(&bytes, target, Some(m - 1)).unwrap_err();
    assert!(matches!(again, ConvertError::Budget { smallest, .. } if smallest > m - 1));
}

/// A budget below anything reachable fails with the smallest arena reached and its plan.
#[test]
fn an_unreachable_budget_names_the_smallest_arena_and_its_plan() {
    let (bytes, _, _) = user_model("mobilenet_v2_160_int8");
    for target in BUDGET_TARGETS {
        for budget in [0, 4096, 50_000] {
            let e = convert_budget(&bytes, target, Some(budget)).unwrap_err();
            let text = e.to_string();
            let smallest = budget_error(e, budget, &format!("{target:?} {budget}"));
            assert!(
                text.contains("a prefix through operator #") && text.contains(" bands"),
                "{text}"
            );
            println!("{target:?}, {budget} B: {text} (smallest {smallest})");
        }
    }
}
