//! Every model in `../shared/models` converts — for the portable, Cortex-M DSP and Helium
//! layouts — runs on the host with the device's executor and kernels, and reproduces TFLite
//! Micro's golden outputs (int8 exactly, float within 1e-5 relative). The two image models are also compared layer by layer with their
//! intermediate goldens, so a failure names the first wrong layer.

use ferrite_convert::host;
use ferrite_convert::npy;
use ferrite_core::{Layer, LayerHook};
use ferrite_tests::*;
use std::collections::HashMap;

#[test]
fn every_shared_model_matches_its_goldens() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    for name in SHARED_MODELS {
        let m = shared_model(&dir, name);
        let expected = load(&m.outputs);
        for target in TARGETS {
            let c = convert_for(&m.tflite, target);
            let out = host::run_all(&c, &[load(&m.inputs)], 2)
                .unwrap_or_else(|e| panic!("{name} ({target:?}): {e}"));
            let bad = compare(&out[0], &expected, 1e-5);
            assert!(
                bad.is_empty(),
                "{name} converted for {target:?}: {} of {} samples differ: {bad:?}",
                bad.len(),
                expected.shape[0]
            );
            println!(
                "{name} ({target:?}): {} samples exact, arena {} bytes",
                expected.shape[0], c.arena_bytes
            );
        }
    }
}

/// resnet8_int8 converted for the Cortex-M DSP target gives its three ADDs arena scratch for
/// the input tables; run with the microcontrollers' ADD kernel (the host's SIMD one ignores the
/// tables), it reproduces the goldens.
#[test]
fn resnet8_adds_through_tables_match_the_goldens() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let m = shared_model(&dir, "resnet8_int8");
    let mut c = convert_for(&m.tflite, ferrite_convert::Target::CortexMDsp);
    let mut tabled = 0;
    for layer in &mut c.layers {
        if let ferrite_core::Op::AddI8(add) = &layer.op {
            assert!(add.tables, "{add:?}");
            layer.kernel = ferrite_kernels::ops::binary::run_add_i8;
            tabled += 1;
        }
    }
    assert_eq!(tabled, 3);
    let out = host::run_all(&c, &[load(&m.inputs)], 2).unwrap_or_else(|e| panic!("{e}"));
    let expected = load(&m.outputs);
    assert!(compare(&out[0], &expected, 0.0).is_empty());
    // The portable conversion has no tables (its arena is checked at the lower bound below).
    let portable = convert(&m.tflite);
    assert!(portable
        .layers
        .iter()
        .all(|l| !matches!(&l.op, ferrite_core::Op::AddI8(a) if a.tables)));
}

#[test]
fn arena_plans_reach_the_live_tensor_lower_bound() {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    // Peak live activations from ../shared/models/README.md.
    for (name, peak) in [
        ("person_detect", 55_296),
        ("vww_96_int8", 55_296),
        ("resnet8_int8", 49_152),
        ("vww_96_float", 221_184),
    ] {
        let c = convert(&shared_model(&dir, name).tflite);
        assert_eq!(c.report.arena_lower_bound, peak, "{name}: lower bound");
        assert_eq!(c.arena_bytes, peak, "{name}: arena");
    }
    // The bar: at most 60,000 bytes for vww_96_int8 (TFLite Micro needs 103,680).
    let vww = convert(&shared_model(&dir, "vww_96_int8").tflite);
    assert!(vww.arena_bytes <= 60_000);
}

/// Records the bytes every layer writes.
struct Capture<'c> {
    c: &'c ferrite_convert::Compiled,
    outputs: Vec<(usize, usize, Vec<u8>)>,
}

impl LayerHook for Capture<'_> {
    fn after_layer(&mut self, index: usize, _layer: &Layer, arena: &[u8]) {
        for &id in &self.c.report.layers[index].outputs {
            let t = &self.c.tensors[id as usize];
            let bytes = arena[t.offset as usize..t.offset as usize + t.size_bytes()].to_vec();
            self.outputs.push((
                index,
                self.c.report.tensors[id as usize].tflite_index,
                bytes,
            ));
        }
    }
}

fn check_layers(name: &str, samples: &[&str]) {
    let Some(dir) = shared_models_dir() else {
        return;
    };
    let m = shared_model(&dir, name);
    let c = convert(&m.tflite);
    let inputs = load(&m.inputs);
    for (k, sample) in samples.iter().enumerate() {
        let npz = dir.join(name).join(format!("{name}.layers.{sample}.npz"));
        let goldens: HashMap<String, npy::Array> = npy::read_npz(&npz)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .collect();
        let mut arena = c.new_arena();
        let mut cap = Capture {
            c: &c,
            outputs: Vec::new(),
        };
        host::run_one(
            &c,
            arena.as_mut_slice(),
            std::slice::from_ref(&inputs),
            k,
            &mut cap,
        )
        .unwrap();
        let mut compared = 0;
        for (layer, tflite_index, bytes) in &cap.outputs {
            let key = format!("t{tflite_index:03}");
            let Some(g) = goldens.get(&key) else { continue };
            let want = g.data.bytes(0, g.data.len());
            let first_diff = bytes.iter().zip(&want).position(|(a, b)| a != b);
            assert!(
                bytes.len() == want.len() && first_diff.is_none(),
                "{name} sample {sample}: first wrong layer is #{layer} ({}) writing tensor {key}, first differing byte {:?}",
                c.report.layers[*layer].op,
                first_diff
            );
            compared += 1;
        }
        assert!(
            compared + 2 >= c.layers.len(),
            "{name}: only {compared} of {} layers had goldens",
            c.layers.len()
        );
        println!("{name} {sample}: {compared} layer outputs identical to the intermediates");
    }
}

#[test]
fn person_detect_matches_every_intermediate() {
    check_layers("person_detect", &["person_bmp", "no_person_bmp"]);
}

#[test]
fn vww_96_int8_matches_every_intermediate() {
    check_layers("vww_96_int8", &["person_bmp_rgb", "no_person_bmp_rgb"]);
}
