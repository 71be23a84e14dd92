//! Criterion benchmarks of whole models, one inference on one thread, for every kernel set
//! this CPU runs (`cargo bench -p ferrite-mcu-convert --bench models`).
//!
//! Uses the shared models (`../shared/models`, or `FERRITE_SHARED_MODELS`) that are present;
//! `ferrite bench` measures the same thing from the command line, and
//! `tools/bench/compare.py` compares it with LiteRT and tract.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrite_convert::{compile, kernels, npy, Options};
use std::hint::black_box;
use std::path::PathBuf;

const MODELS: [&str; 4] = [
    "vww_96_int8",
    "resnet8_int8",
    "vww_96_float",
    "resnet8_float",
];

fn models(c: &mut Criterion) {
    let dir = std::env::var_os("FERRITE_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models")
        });
    for name in MODELS {
        let d = dir.join(name);
        let Ok(bytes) = std::fs::read(d.join(format!("{name}.tflite"))) else {
            eprintln!("skipping {name}: not found under {}", dir.display());
            continue;
        };
        let inputs = npy::read(&d.join(format!("{name}.inputs.npy"))).expect("inputs");
        let mut group = c.benchmark_group(name);
        for isa in kernels::supported() {
            let options = Options {
                kernels: kernels::for_isa(isa).expect("supported"),
                ..Options::default()
            };
            let compiled = compile(&bytes, &options).expect("converts");
            group.throughput(Throughput::Elements(compiled.report.macs));
            let model = compiled.model();
            let mut arena = compiled.new_arena();
            let per = compiled.input(0).expect("input").num_elements();
            model
                .set_input_bytes(arena.as_mut_slice(), 0, &inputs.data.bytes(0, per))
                .expect("input");
            group.bench_function(BenchmarkId::from_parameter(isa), |b| {
                b.iter(|| {
                    model
                        .invoke(black_box(arena.as_mut_slice()))
                        .expect("invoke")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, models);
criterion_main!(benches);
