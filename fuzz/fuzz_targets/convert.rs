//! Fuzzes the whole conversion pipeline — flatbuffer verification and reading, graph
//! building, lowering, arena planning — on arbitrary bytes, and runs every model that
//! converts once on a zeroed arena, with the portable kernels and again with the fastest
//! kernels this CPU has (the `unsafe` SIMD paths, under AddressSanitizer).
//!
//! A crash is any panic, a hang (libFuzzer `-timeout`), an allocation beyond libFuzzer's
//! `-malloc_limit_mb`/`-rss_limit_mb`, an error that does not name the byte offset, operator
//! or tensor at fault, a converted model that then fails to run, or a fast path whose outputs
//! differ from the portable path's. Float outputs are compared as values: which NaN payload
//! survives an operation and the sign of a zero sum are not specified by IEEE 754 and differ
//! between instruction sets, so every NaN compares equal to every NaN and `-0.0` to `+0.0`.
#![no_main]

use ferrite_convert::{compile, ConvertError, Options};
use ferrite_core::DType;
use libfuzzer_sys::fuzz_target;

/// Converted models run when their arena and estimated work are at most this (running is
/// linear in the work; a small file can describe a model that runs for hours).
const RUN_ARENA_LIMIT: usize = 16 << 20;
const RUN_WORK_LIMIT: u64 = 20_000_000;

fuzz_target!(|data: &[u8]| {
    match compile(data, &Options::default()) {
        Err(e) => check_message(&e),
        Ok(c) => {
            let model = c.model();
            if c.arena_bytes > RUN_ARENA_LIMIT
                || ferrite_convert::host::estimated_work(&model) > RUN_WORK_LIMIT
            {
                return;
            }
            let portable = run(&c);
            let host = Options::host().expect("no FERRITE_KERNELS override while fuzzing");
            let fast = compile(data, &host).expect("converts with the portable kernels");
            assert_eq!(
                run(&fast),
                portable,
                "fast kernels disagree with the portable ones"
            );
        }
    }
});

/// Runs `c` once on a zeroed arena (and a freshly reset state region, for a model with
/// variable tensors) and returns its outputs' bytes, float outputs with every NaN made the
/// canonical quiet NaN and every zero `+0.0`.
fn run(c: &ferrite_convert::Compiled) -> Vec<Vec<u8>> {
    let model = c.model();
    let mut arena = c.new_arena();
    let mut state = c.new_state();
    match model.invoke_stateful(arena.as_mut_slice(), state.as_mut_slice()) {
        // Zeroed inputs may divide by zero or index out of range: a clean, data-dependent
        // error (TFLM fails such an invocation too), not a broken model.
        // A CIRCULAR_BUFFER whose stride has not come round ends the invocation early
        // (TFLM's kTfLiteAbort): the outputs are what the earlier layers left.
        Ok(())
        | Err(ferrite_core::Error::InvalidData { .. } | ferrite_core::Error::Aborted { .. }) => {}
        Err(e) => panic!("the converter accepted a model that fails to run: {e}"),
    }
    (0..model.outputs.len())
        .map(|i| match model.output_bytes(arena.as_mut_slice(), i) {
            Ok(bytes) => match model.output_tensor(i).map(|t| t.dtype) {
                Ok(DType::F32) => canonical_f32(bytes),
                _ => bytes.to_vec(),
            },
            Err(e) => panic!("output {i} of a converted model cannot be read: {e}"),
        })
        .collect()
}

/// `bytes` (little-endian `f32`s) with NaN payloads and zero signs erased.
fn canonical_f32(bytes: &[u8]) -> Vec<u8> {
    bytes
        .chunks_exact(4)
        .flat_map(|b| {
            let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let v = if v.is_nan() {
                f32::NAN
            } else if v == 0.0 {
                0.0
            } else {
                v
            };
            v.to_le_bytes()
        })
        .collect()
}

/// Every conversion error names where the problem is.
fn check_message(e: &ConvertError) {
    let m = e.to_string();
    let named = match e {
        ConvertError::Read(_) => m.contains("byte offset"),
        ConvertError::Tensor { .. } => m.starts_with("tensor #"),
        ConvertError::Operator { .. } | ConvertError::Unsupported { .. } => {
            m.starts_with("operator #")
        }
        ConvertError::Model(_) => ["tensor", "subgraph", "graph", "arena"]
            .iter()
            .any(|w| m.contains(w)),
        _ => false,
    };
    assert!(named, "error does not name where it is: {m:?}");
}
