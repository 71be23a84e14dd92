//! The README's "Supported operators" table stays true: every operator the converter accepts
//! has a row, and each int8/f32 × portable/x86 cell says ✓ exactly when the golden models
//! (`tests/data/ops`, `tests/data/families`) show it: a model of that type containing the
//! operator converts (portable), and converted for this CPU's fastest x86 kernel set one of its
//! layers runs an `arch::x86` entry (x86). The Cortex-M DSP and Helium cells say ✓ exactly
//! when converting a golden model for that target (`Options::target`) lowers one of the
//! operator's layers to that target's kernels (the same lowering the firmware gets; the
//! kernels' assembly is tested in QEMU). Operators no golden contains (the converter never
//! emits them standalone, or TFLM has no kernel) are observed on hand-built one-op models.

use ferrite_convert::kernels::{self, Isa};
use ferrite_convert::lower::SUPPORTED_OPS;
use ferrite_convert::{compile, Options, Target};
use ferrite_tests::repo_root;
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};
use std::collections::{BTreeMap, BTreeSet};

const COLUMNS: [&str; 9] = [
    "int8 portable",
    "int8 Cortex-M DSP",
    "int8 Helium",
    "int8 x86",
    "f32 portable",
    "f32 Cortex-M DSP",
    "f32 Helium",
    "f32 x86",
    "other types",
];

/// `(op, dtype)` pairs seen in the goldens: converted at all, run by an x86 entry, and
/// lowered to the Cortex-M DSP and Helium kernels.
#[derive(Default)]
struct Seen {
    portable: BTreeSet<(String, &'static str)>,
    x86: BTreeSet<(String, &'static str)>,
    dsp: BTreeSet<(String, &'static str)>,
    helium: BTreeSet<(String, &'static str)>,
    /// Other element types (golden variants `int32`, `int64`, `bool`, …) per operator.
    other: BTreeMap<String, BTreeSet<String>>,
}

/// Kernel modules of the Cortex-M DSP and Helium targets (the ops they lower to).
const DSP_KERNELS: [&str; 2] = ["::ops::gemm::", "::ops::depthwise_dsp::"];
const HELIUM_KERNELS: [&str; 2] = ["::ops::conv_helium::", "::ops::depthwise_helium::"];

/// Records the operators of `bytes` that the DSP and Helium targets lower to their kernels.
fn observe_targets(bytes: &[u8], dtype: &'static str, seen: &mut Seen) {
    for (target, kernels, set) in [
        (Target::CortexMDsp, DSP_KERNELS, &mut seen.dsp),
        (Target::Helium, HELIUM_KERNELS, &mut seen.helium),
    ] {
        let options = Options {
            target,
            ..Options::default()
        };
        let c = compile(bytes, &options).unwrap();
        for l in &c.report.layers {
            if kernels.iter().any(|k| l.kernel.contains(k)) {
                set.insert((l.op.clone(), dtype));
            }
        }
    }
}

/// One-operator models (`[1, 4]`-ish, int8 and f32) of the operators no golden contains:
/// `(operator, dtype, model)`.
fn hand_built() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let tensor = |name: &str, shape: &[i32], int8: bool, buffer: u32| TensorSpec {
        shape: shape.to_vec(),
        dtype: if int8 { 9 } else { 0 },
        buffer,
        name: name.into(),
        scale: if int8 { vec![0.1] } else { vec![] },
        zero_point: if int8 { vec![0] } else { vec![] },
        ..Default::default()
    };
    let int32 = |name: &str, shape: &[i32], buffer: u32| TensorSpec {
        shape: shape.to_vec(),
        dtype: 2,
        buffer,
        name: name.into(),
        ..Default::default()
    };
    let le = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut out = Vec::new();
    for int8 in [true, false] {
        let dtype = if int8 { "int8" } else { "f32" };
        let model = |code: i32, tensors: Vec<TensorSpec>, inputs: &[i32], buffers| ModelSpec {
            opcodes: vec![code],
            tensors,
            ops: vec![OpSpec {
                opcode_index: 0,
                inputs: inputs.to_vec(),
                outputs: vec![1],
                options: None,
            }],
            inputs: vec![0],
            outputs: vec![1],
            buffers,
            ..Default::default()
        };
        // RELU_N1_TO_1 (20): TFLM has no kernel, so no golden exists.
        let m = model(
            20,
            vec![tensor("x", &[1, 4], int8, 0), tensor("y", &[1, 4], int8, 0)],
            &[0],
            vec![vec![]],
        );
        out.push(("RELU_N1_TO_1", dtype, m.build()));
        // SQUEEZE (43) [1, 1, 4] -> [1, 4].
        let m = model(
            43,
            vec![
                tensor("x", &[1, 1, 4], int8, 0),
                tensor("y", &[1, 4], int8, 0),
            ],
            &[0],
            vec![vec![]],
        );
        out.push(("SQUEEZE", dtype, m.build()));
        // EXPAND_DIMS (70) [1, 4] -> [1, 1, 4], axis 1.
        let m = model(
            70,
            vec![
                tensor("x", &[1, 4], int8, 0),
                tensor("y", &[1, 1, 4], int8, 0),
                int32("axis", &[], 1),
            ],
            &[0, 2],
            vec![vec![], le(&[1])],
        );
        out.push(("EXPAND_DIMS", dtype, m.build()));
        // PADV2 (60) [1, 4] -> [1, 6] with an explicit padding value.
        let value = if int8 {
            vec![3u8]
        } else {
            1.5f32.to_le_bytes().to_vec()
        };
        let m = model(
            60,
            vec![
                tensor("x", &[1, 4], int8, 0),
                tensor("y", &[1, 6], int8, 0),
                int32("paddings", &[2, 2], 1),
                tensor("value", &[], int8, 2),
            ],
            &[0, 2, 3],
            vec![vec![], le(&[0, 0, 1, 1]), value],
        );
        out.push(("PADV2", dtype, m.build()));
    }
    out
}

fn observe(x86: Option<Options>) -> Seen {
    let mut seen = Seen::default();
    for (op, dtype, bytes) in hand_built() {
        compile(&bytes, &Options::default()).unwrap_or_else(|e| panic!("{op} {dtype}: {e}"));
        seen.portable.insert((op.to_string(), dtype));
        if let Some(options) = &x86 {
            let c = compile(&bytes, options).unwrap();
            if c.report
                .layers
                .iter()
                .any(|l| l.kernel.contains("::arch::x86::"))
            {
                seen.x86.insert((op.to_string(), dtype));
            }
        }
    }
    for dir in [
        "tests/data/ops",
        "tests/data/families",
        "tests/data/models",
        "tests/data/stateful",
        "tests/data/signal",
        "tests/data/variables",
        "tests/data/circular_buffer",
        "tests/data/lstm",
    ] {
        let dir = repo_root().join(dir);
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap())
                .unwrap();
        for case in index["cases"].as_array().unwrap() {
            // Whole models (`tests/data/models`) record their activation type instead of a
            // variant; their int16 ones are 16x8 (int8 weights), the only int16 models
            // `gen_model_goldens.py` makes.
            let variant = match (case["variant"].as_str(), case["dtype"].as_str()) {
                (Some(v), _) => v,
                (None, Some("int16")) => "16x8",
                (None, Some(d)) => d,
                (None, None) => "f32",
            };
            let dtype = match variant {
                "int8" => "int8",
                "f32" | "float32" => "f32",
                other => {
                    for op in case["ops"].as_array().unwrap() {
                        seen.other
                            .entry(op.as_str().unwrap().to_string())
                            .or_default()
                            .insert(other.to_string());
                    }
                    continue;
                }
            };
            for op in case["ops"].as_array().unwrap() {
                seen.portable
                    .insert((op.as_str().unwrap().to_string(), dtype));
            }
            let bytes = std::fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
            observe_targets(&bytes, dtype, &mut seen);
            let Some(options) = &x86 else { continue };
            let c = compile(&bytes, options).unwrap();
            for l in &c.report.layers {
                if l.kernel.contains("::arch::x86::") {
                    seen.x86.insert((l.op.clone(), dtype));
                }
            }
        }
    }
    seen
}

/// The table rows of the README's "Supported operators" section: operator → cells.
fn readme_table() -> BTreeMap<String, Vec<String>> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Supported operators")
        .nth(1)
        .expect("README.md has a '## Supported operators' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rows = BTreeMap::new();
    let mut header_seen = false;
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        if !header_seen {
            assert_eq!(cells[1..], COLUMNS, "README table header");
            header_seen = true;
            continue;
        }
        if cells[0].starts_with("---") {
            continue;
        }
        rows.insert(cells[0].trim_matches('`').to_string(), cells[1..].to_vec());
    }
    rows
}

#[test]
fn readme_operator_table_matches_the_code() {
    // The x86 kernel set of this CPU, if it has one.
    let x86 = [Isa::Avx512Vnni, Isa::Avx2, Isa::Sse41]
        .into_iter()
        .find_map(kernels::for_isa)
        .map(|kernels| Options {
            kernels,
            ..Options::default()
        });
    if x86.is_none() {
        println!("SKIPPED (x86 columns only): this CPU has no x86 fast kernel set");
    }
    let seen = observe(x86.clone());
    let table = readme_table();
    let mut problems = Vec::new();
    let mut expected_rows = Vec::new();
    for &op in SUPPORTED_OPS {
        let mark = |set: &BTreeSet<(String, &str)>, dtype| {
            if set.contains(&(op.to_string(), dtype)) {
                "✓"
            } else {
                "—"
            }
        };
        let expected = [
            Some(mark(&seen.portable, "int8")),
            Some(mark(&seen.dsp, "int8")),
            Some(mark(&seen.helium, "int8")),
            x86.as_ref().map(|_| mark(&seen.x86, "int8")),
            Some(mark(&seen.portable, "f32")),
            Some(mark(&seen.dsp, "f32")),
            Some(mark(&seen.helium, "f32")),
            x86.as_ref().map(|_| mark(&seen.x86, "f32")),
        ];
        let other = seen.other.get(op).map_or_else(
            || "—".to_string(),
            |types| types.iter().cloned().collect::<Vec<_>>().join(", "),
        );
        expected_rows.push(format!(
            "| `{op}` | {} | {other} |",
            expected.map(|e| e.unwrap_or("?")).join(" | ")
        ));
        let Some(cells) = table.get(op) else {
            problems.push(format!("{op}: no row"));
            continue;
        };
        for (k, e) in expected.iter().enumerate() {
            let Some(e) = e else { continue };
            let cell = cells.get(k).map(String::as_str).unwrap_or("");
            if !cell.starts_with(e) {
                problems.push(format!(
                    "{op} / {}: README says {cell:?}, code says {e}",
                    COLUMNS[k]
                ));
            }
        }
        let cell = cells.get(8).map(String::as_str).unwrap_or("");
        if !cell.starts_with(other.as_str()) {
            problems.push(format!(
                "{op} / other types: README says {cell:?}, goldens show {other}"
            ));
        }
    }
    for op in table.keys() {
        if !SUPPORTED_OPS.contains(&op.as_str()) {
            problems.push(format!("{op}: in the README but not in SUPPORTED_OPS"));
        }
    }
    assert!(
        problems.is_empty(),
        "README.md 'Supported operators' is out of date:\n{}\n\nrows the code supports \
         (? = not observable here; a footnote may follow a mark):\n{}",
        problems.join("\n"),
        expected_rows.join("\n")
    );
}
