//! `ferrite eval` and `ferrite inspect --plot` end to end. Every number `eval` reports is
//! recomputed here from `ferrite run`'s outputs and the label files, and the drawings are
//! checked against the plan `inspect --json` reports.

use ferrite_convert::npy::{self, Array, Data};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .args(args)
        .output()
        .expect("running ferrite")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_model(name: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("FERRITE_SHARED_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/models"));
    let dir = shared.join(name);
    if dir.join(format!("{name}.tflite")).is_file() {
        Some(dir)
    } else {
        ferrite_tests::skip(&format!("{} not found", dir.display()));
        None
    }
}

fn tmp(name: &str) -> String {
    ferrite_tests::temp_file("eval", name)
}

fn text(o: &Output) -> String {
    ferrite_tests::output_text(o)
}

fn path(p: PathBuf) -> String {
    p.display().to_string()
}

struct Digits {
    model: String,
    inputs: String,
    labels: String,
    goldens: String,
    /// The float twin (models/train/float_twin.py).
    float_model: String,
}

fn digits() -> Digits {
    let r = root();
    Digits {
        model: path(r.join("models/digits_mobilenet.tflite")),
        inputs: path(r.join("models/samples/digits_samples.inputs.npy")),
        labels: path(r.join("models/samples/digits_samples.labels.npy")),
        goldens: path(r.join("models/samples/digits_samples.outputs.npy")),
        float_model: path(r.join("models/digits_mobilenet_float.tflite")),
    }
}

/// The digits model's input scale and zero point, as its training script recorded them.
fn digits_input_quant() -> (f64, f64) {
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("models/samples/digits_samples.json")).unwrap(),
    )
    .unwrap();
    let quant = &summary["inputs"][0]["quant"];
    (
        quant["scale"][0].as_f64().unwrap(),
        quant["zero_point"][0].as_f64().unwrap(),
    )
}

fn values(a: &Array) -> Vec<f64> {
    (0..a.data.len()).map(|i| a.data.get_f64(i)).collect()
}

/// `ferrite run` on one input, returning the first output.
fn run(model: &str, input: &str, name: &str) -> Array {
    let out = tmp(name);
    let o = ferrite(&["run", model, "--input", input, "--output", &out]);
    assert!(o.status.success(), "{}", text(&o));
    npy::read(Path::new(&out)).unwrap()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The class ranking of one sample: highest score first, equal scores by lower index.
fn ranking(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

/// Checks that `svg` is one `<svg>` element whose tags nest properly; returns it.
fn well_formed(svg: &str) -> &str {
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("an unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap());
        }
        rest = &rest[end + 1..];
        if open.is_empty() {
            assert!(rest.trim().is_empty(), "content after </svg>");
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    svg
}

/// Attribute `name` of a tag's text, as a number.
fn attr(tag: &str, name: &str) -> f64 {
    let key = format!(" {name}=\"");
    let start = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    let len = tag[start..].find('"').unwrap();
    tag[start..start + len].parse().unwrap()
}

fn rects(svg: &str) -> Vec<&str> {
    svg.match_indices("<rect ")
        .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()])
        .collect()
}

#[test]
fn eval_on_digits_agrees_with_run_outputs_and_labels() {
    let d = digits();
    let outputs = run(&d.model, &d.inputs, "digits.out.npy");
    let scores = values(&outputs);
    let labels: Vec<usize> = values(&npy::read(Path::new(&d.labels)).unwrap())
        .into_iter()
        .map(|l| l as usize)
        .collect();
    let goldens = values(&npy::read(Path::new(&d.goldens)).unwrap());
    let (n, classes) = (labels.len(), 10);
    assert_eq!(scores.len(), n * classes);

    // The true labels, then labels moved off by one or two classes on most samples so that
    // the matrix has cells off the diagonal and top-1 and top-3 differ.
    let moved: Vec<usize> = labels
        .iter()
        .enumerate()
        .map(|(s, &l)| (l + s % 3) % classes)
        .collect();
    let moved_file = tmp("digits.moved-labels.npy");
    npy::write(
        Path::new(&moved_file),
        &Array {
            shape: vec![n],
            data: Data::I64(moved.iter().map(|&l| l as i64).collect()),
        },
    )
    .unwrap();
    for (set, labels, label_file) in [("true", &labels, &d.labels), ("moved", &moved, &moved_file)]
    {
        // What the reported numbers must be, from the outputs and labels alone.
        let mut confusion = vec![vec![0u64; classes]; classes];
        let (mut top1, mut top3, mut exact, mut golden_argmax) = (0, 0, 0, 0);
        for (s, &label) in labels.iter().enumerate() {
            let row = &scores[s * classes..(s + 1) * classes];
            let golden = &goldens[s * classes..(s + 1) * classes];
            let order = ranking(row);
            confusion[label][order[0]] += 1;
            top1 += usize::from(order[0] == label);
            top3 += usize::from(order[..3].contains(&label));
            exact += usize::from(row == golden);
            golden_argmax += usize::from(ranking(golden)[0] == order[0]);
        }

        let svg_path = tmp(&format!("digits.{set}.confusion.svg"));
        let v = json(&ferrite(&[
            "eval",
            &d.model,
            "--input",
            &d.inputs,
            "--labels",
            label_file,
            "--top",
            "3",
            "--expected",
            &d.goldens,
            "--json",
            "--confusion-svg",
            &svg_path,
            "--threads",
            "2",
        ]));
        assert_eq!(v["samples"], n);
        assert_eq!(v["classes"], classes);
        assert_eq!(v["correct"], top1);
        assert_eq!(v["accuracy"].as_f64().unwrap(), top1 as f64 / n as f64);
        assert_eq!(v["top_k"]["k"], 3);
        assert_eq!(v["top_k"]["correct"], top3);
        assert_eq!(
            v["top_k"]["accuracy"].as_f64().unwrap(),
            top3 as f64 / n as f64
        );
        let reported: Vec<Vec<u64>> = serde_json::from_value(v["confusion"].clone()).unwrap();
        assert_eq!(reported, confusion);
        assert_eq!(reported.iter().flatten().sum::<u64>(), n as u64);
        let per_class = v["per_class"].as_array().unwrap();
        assert_eq!(per_class.len(), classes);
        for (c, p) in per_class.iter().enumerate() {
            assert_eq!(p["class"], c);
            assert_eq!(p["samples"], confusion[c].iter().sum::<u64>());
            assert_eq!(p["correct"], confusion[c][c]);
            assert_eq!(p["predicted"], confusion.iter().map(|r| r[c]).sum::<u64>());
        }
        assert_eq!(v["expected"]["exact_matches"], exact);
        assert_eq!(v["expected"]["argmax_agree"], golden_argmax);
        // Ferrite is bit-exact with TFLM on the bundled samples, so these are all ten.
        assert_eq!(exact, n);

        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert_eq!(rects(well_formed(&svg)).len(), classes * classes);
        for (label, row) in confusion.iter().enumerate() {
            for (predicted, count) in row.iter().enumerate() {
                assert!(
                    svg.contains(&format!("label {label}, predicted {predicted}: {count}<")),
                    "cell ({label}, {predicted}) should say {count}"
                );
            }
        }
    }
}

#[test]
fn eval_prints_accuracy_confusion_and_agreement() {
    let d = digits();
    // The model as its own reference: every argmax agrees, the outputs are identical.
    let o = ferrite(&[
        "eval",
        &d.model,
        "--input",
        &d.inputs,
        "--labels",
        &d.labels,
        "--reference",
        &d.model,
        "--expected",
        &d.goldens,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("10 samples, 10 classes"), "{out}");
    assert!(out.contains("top-1 accuracy  100.00 % (10 of 10)"), "{out}");
    assert!(
        out.contains("confusion matrix (rows: label, columns: predicted)"),
        "{out}"
    );
    assert!(
        out.contains("argmax agrees on 100.00 % (10 of 10); max abs difference of dequantized outputs 0.000000"),
        "{out}"
    );
    assert!(out.contains("10 of 10 outputs match exactly"), "{out}");
    // Not a terminal: no progress bar characters on stderr.
    assert!(
        String::from_utf8_lossy(&o.stderr).trim().is_empty(),
        "{out}"
    );
}

#[test]
fn float_samples_are_quantized_with_the_input_scale() {
    let d = digits();
    let (scale, zero_point) = digits_input_quant();
    let q = npy::read(Path::new(&d.inputs)).unwrap();
    let real = Array {
        shape: q.shape.clone(),
        data: Data::F32(
            values(&q)
                .iter()
                .map(|&v| ((v - zero_point) * scale) as f32)
                .collect(),
        ),
    };
    let float_inputs = tmp("digits.float-inputs.npy");
    npy::write(Path::new(&float_inputs), &real).unwrap();
    let args = |input: &str| {
        json(&ferrite(&[
            "eval",
            &d.model,
            "--input",
            input,
            "--labels",
            &d.labels,
            "--expected",
            &d.goldens,
            "--json",
        ]))
    };
    let (from_float, from_int8) = (args(&float_inputs), args(&d.inputs));
    // Quantizing the real values gives back the int8 samples, so the outputs are the goldens.
    assert_eq!(from_float["expected"]["exact_matches"], 10);
    assert_eq!(from_float["confusion"], from_int8["confusion"]);
}

#[test]
fn eval_rejects_labels_that_do_not_fit() {
    let d = digits();
    let bad = tmp("digits.bad-labels.npy");
    let labels = Array {
        shape: vec![10],
        data: Data::I32((0..10).map(|i| if i == 4 { 10 } else { i }).collect()),
    };
    npy::write(Path::new(&bad), &labels).unwrap();
    let o = ferrite(&["eval", &d.model, "--input", &d.inputs, "--labels", &bad]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("label 10 of sample 4"), "{}", text(&o));
    let short = tmp("digits.short-labels.npy");
    let labels = Array {
        shape: vec![3],
        data: Data::I32(vec![0, 1, 2]),
    };
    npy::write(Path::new(&short), &labels).unwrap();
    let o = ferrite(&["eval", &d.model, "--input", &d.inputs, "--labels", &short]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("3 labels for 10 samples"), "{}", text(&o));
}

/// The int8 VWW model against its float twin: the float model gets the int8 samples
/// dequantized with the int8 model's input scale and zero point.
#[test]
fn int8_model_against_its_float_reference() {
    // The bundled digits classifier and the float twin rebuilt from its weights
    // (models/train/float_twin.py), then VWW's int8 and float models when ../shared is here.
    let models = root().join("models");
    check_against_float(
        "digits",
        &models.join("digits_mobilenet.tflite"),
        &models.join("digits_mobilenet_float.tflite"),
        &models.join("samples/digits_samples.inputs.npy"),
        &models.join("samples/digits_samples.json"),
        10,
    );
    let (Some(int8_dir), Some(float_dir)) =
        (shared_model("vww_96_int8"), shared_model("vww_96_float"))
    else {
        return;
    };
    check_against_float(
        "vww",
        &int8_dir.join("vww_96_int8.tflite"),
        &float_dir.join("vww_96_float.tflite"),
        &int8_dir.join("vww_96_int8.inputs.npy"),
        &int8_dir.join("vww_96_int8.json"),
        2,
    );
}

/// `eval`'s agreement between an int8 model and its float twin, in both directions, equals
/// the agreement computed here from `ferrite run` outputs (dequantized with the quantization
/// recorded in `summary`).
fn check_against_float(
    name: &str,
    int8_model: &Path,
    float_model: &Path,
    inputs: &Path,
    summary: &Path,
    classes: usize,
) {
    let int8_model = path(int8_model.to_path_buf());
    let float_model = path(float_model.to_path_buf());
    let inputs = path(inputs.to_path_buf());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let q = |v: &Value| {
        (
            v["quant"]["scale"][0].as_f64().unwrap(),
            v["quant"]["zero_point"][0].as_f64().unwrap(),
        )
    };
    let (in_scale, in_zero) = q(&summary["inputs"][0]);
    let (out_scale, out_zero) = q(&summary["outputs"][0]);

    let int8_inputs = npy::read(Path::new(&inputs)).unwrap();
    let real_inputs = Array {
        shape: int8_inputs.shape.clone(),
        data: Data::F32(
            values(&int8_inputs)
                .iter()
                .map(|&v| ((v - in_zero) * in_scale) as f32)
                .collect(),
        ),
    };
    let float_inputs = tmp(&format!("{name}.float-inputs.npy"));
    npy::write(Path::new(&float_inputs), &real_inputs).unwrap();
    let int8_out: Vec<f64> = values(&run(&int8_model, &inputs, &format!("{name}.int8.out.npy")))
        .iter()
        .map(|&v| (v - out_zero) * out_scale)
        .collect();
    let float_out = values(&run(
        &float_model,
        &float_inputs,
        &format!("{name}.float.out.npy"),
    ));
    let n = int8_out.len() / classes;
    let (mut agree, mut max_diff) = (0, 0.0f64);
    let mut float_argmax = Vec::new();
    for s in 0..n {
        let (a, b) = (
            &int8_out[s * classes..(s + 1) * classes],
            &float_out[s * classes..(s + 1) * classes],
        );
        agree += usize::from(ranking(a)[0] == ranking(b)[0]);
        float_argmax.push(ranking(b)[0] as i64);
        for (x, y) in a.iter().zip(b) {
            max_diff = max_diff.max((x - y).abs());
        }
    }
    // The float model's predictions as labels: accuracy is then the agreement too.
    let labels = tmp(&format!("{name}.labels.npy"));
    npy::write(
        Path::new(&labels),
        &Array {
            shape: vec![n],
            data: Data::I64(float_argmax),
        },
    )
    .unwrap();
    for (model, reference, input) in [
        (&int8_model, &float_model, &inputs),
        // The other direction: float samples, quantized for the int8 reference.
        (&float_model, &int8_model, &float_inputs),
    ] {
        let v = json(&ferrite(&[
            "eval",
            model,
            "--input",
            input,
            "--labels",
            &labels,
            "--reference",
            reference,
            "--json",
        ]));
        assert_eq!(v["samples"], n);
        assert_eq!(v["reference"]["argmax_agree"], agree, "{v}");
        let diff = v["reference"]["max_abs_diff"].as_f64().unwrap();
        assert!((diff - max_diff).abs() < 1e-6, "{diff} vs {max_diff}");
        assert!(
            max_diff > 0.0 && max_diff < 0.5,
            "int8 should be close to float: {max_diff}"
        );
        let own = if model == &float_model { n } else { agree };
        assert_eq!(v["correct"], own, "{v}");
    }
}

/// `inspect --plot` draws each planned buffer once, where the plan put it, and boxes whose
/// lifetimes overlap never overlap.
fn check_plan_plot(model: &str, name: &str, target: &str) {
    let svg_path = tmp(name);
    let v = json(&ferrite(&[
        "inspect", model, "--target", target, "--json", "--plot", &svg_path,
    ]));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let boxes = rects(well_formed(&svg));
    let buffers = v["buffers"].as_array().unwrap();
    let arena = v["arena_bytes"].as_u64().unwrap();
    assert!(!buffers.is_empty());
    assert_eq!(boxes.len(), buffers.len(), "one box per planned buffer");
    assert!(svg.contains(&format!("arena {arena} bytes")));

    // Every activation tensor is in exactly one buffer, at that buffer's offset.
    let tensors = v["tensors"].as_array().unwrap();
    let mut seen = vec![0; tensors.len()];
    for b in buffers {
        if let Some(layer) = b["scratch_of_layer"].as_u64() {
            assert!(b["tensors"].as_array().unwrap().is_empty());
            assert_eq!(b["first_layer"], layer);
            assert_eq!(b["last_layer"], layer);
            let title = format!(
                "<title>scratch of layer {layer}: {} bytes at {},",
                b["bytes"], b["offset"]
            );
            assert!(svg.contains(&title), "no {title}");
        }
        for t in b["tensors"].as_array().unwrap() {
            let t = t.as_u64().unwrap() as usize;
            seen[t] += 1;
            assert_eq!(tensors[t]["offset"], b["offset"]);
            assert!(tensors[t]["bytes"].as_u64() <= b["bytes"].as_u64());
        }
    }
    assert!(seen.iter().all(|&k| k == 1), "{seen:?}");

    for (r, b) in boxes.iter().zip(buffers) {
        for key in ["offset", "bytes", "first", "last"] {
            let json_key = match key {
                "first" => "first_layer",
                "last" => "last_layer",
                k => k,
            };
            assert_eq!(
                attr(r, &format!("data-{key}")),
                b[json_key].as_f64().unwrap()
            );
        }
        assert!(b["offset"].as_u64().unwrap() + b["bytes"].as_u64().unwrap() <= arena);
    }
    let geometry = |r: &str| {
        let (x, y) = (attr(r, "x"), attr(r, "y"));
        (x, x + attr(r, "width"), y, y + attr(r, "height"))
    };
    // Coordinates are printed to 0.001 px; adjacent boxes may touch within that.
    let slack = 0.01;
    for i in 0..buffers.len() {
        for j in i + 1..buffers.len() {
            let (a, b) = (&buffers[i], &buffers[j]);
            let u = |v: &Value, k: &str| v[k].as_u64().unwrap();
            let alive_together = u(a, "first_layer") <= u(b, "last_layer")
                && u(b, "first_layer") <= u(a, "last_layer");
            if !alive_together || u(a, "bytes") == 0 || u(b, "bytes") == 0 {
                continue;
            }
            let bytes_apart = u(a, "offset") + u(a, "bytes") <= u(b, "offset")
                || u(b, "offset") + u(b, "bytes") <= u(a, "offset");
            assert!(
                bytes_apart,
                "buffers {i} and {j} share bytes while both alive"
            );
            let ((ax0, ax1, ay0, ay1), (bx0, bx1, by0, by1)) =
                (geometry(boxes[i]), geometry(boxes[j]));
            let overlap_x = ax0 < bx1 - slack && bx0 < ax1 - slack;
            let overlap_y = ay0 < by1 - slack && by0 < ay1 - slack;
            assert!(
                overlap_x,
                "boxes {i} and {j}: lifetimes overlap, columns do not"
            );
            assert!(!overlap_y, "boxes {i} and {j} overlap");
        }
    }
}

#[test]
fn inspect_plot_draws_the_plan_without_overlaps() {
    // The DSP target's kernels take scratch buffers, drawn as boxes of their own.
    for target in ["portable", "cortex-m-dsp"] {
        check_plan_plot(
            &digits().model,
            &format!("digits.{target}.plan.svg"),
            target,
        );
    }
    for name in ["vww_96_int8", "resnet8_int8"] {
        if let Some(dir) = shared_model(name) {
            check_plan_plot(
                &path(dir.join(format!("{name}.tflite"))),
                &format!("{name}.plan.svg"),
                "cortex-m-dsp",
            );
        }
    }
}

#[test]
fn eval_reads_a_folder_of_images() {
    let d = digits();
    let (scale, zero_point) = digits_input_quant();
    let q = npy::read(Path::new(&d.inputs)).unwrap();
    let labels = values(&npy::read(Path::new(&d.labels)).unwrap());
    let n = labels.len();
    // Folders are read in class order: with one sample per class in class order, that is
    // the samples' order, so the outputs line up with the goldens.
    assert!(labels.windows(2).all(|w| w[0] < w[1]), "{labels:?}");

    let dir = PathBuf::from(tmp("digits-images"));
    let _ = std::fs::remove_dir_all(&dir);
    let per = 32 * 32;
    for (s, &label) in labels.iter().enumerate() {
        // The pixel whose p / 255 is the sample's real value.
        let pixels: Vec<u8> = values(&q)[s * per..(s + 1) * per]
            .iter()
            .map(|&v| ((v - zero_point) * scale * 255.0).round() as u8)
            .collect();
        let folder = dir.join(format!("{label}"));
        std::fs::create_dir_all(&folder).unwrap();
        image::GrayImage::from_raw(32, 32, pixels)
            .unwrap()
            .save(folder.join(format!("sample_{s}.png")))
            .unwrap();
    }
    std::fs::write(dir.join("README.txt"), "not a class folder").unwrap();
    std::fs::create_dir_all(dir.join(".thumbnails")).unwrap();
    let dir_arg = path(dir.clone());
    let from_images = json(&ferrite(&[
        "eval",
        &d.model,
        "--images",
        &dir_arg,
        "--expected",
        &d.goldens,
        "--json",
    ]));
    let from_arrays = json(&ferrite(&[
        "eval", &d.model, "--input", &d.inputs, "--labels", &d.labels, "--json",
    ]));
    assert_eq!(from_images["samples"], n);
    assert_eq!(from_images["expected"]["exact_matches"], n);
    assert_eq!(from_images["confusion"], from_arrays["confusion"]);

    // An image of another size, and a folder that is not a class index, are errors.
    let small = PathBuf::from(tmp("digits-images-small"));
    std::fs::create_dir_all(small.join("3")).unwrap();
    image::GrayImage::new(8, 8)
        .save(small.join("3/a.png"))
        .unwrap();
    let o = ferrite(&["eval", &d.model, "--images", &path(small)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("8x8 pixels, but the model takes 32x32"),
        "{}",
        text(&o)
    );
    let named = PathBuf::from(tmp("digits-images-named"));
    std::fs::create_dir_all(named.join("seven")).unwrap();
    let o = ferrite(&["eval", &d.model, "--images", &path(named)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("named by class index"), "{}", text(&o));
    let o = ferrite(&[
        "eval", &d.model, "--images", &dir_arg, "--labels", &d.labels,
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--images with --labels is a usage error"
    );
}

/// `eval --device qemu-m4`: the model runs in the runner firmware, and since the device's
/// kernels are bit-exact with the host's, every number equals the host evaluation's.
#[test]
fn eval_on_the_emulated_board_equals_eval_here() {
    if !ferrite_tests::qemu_available() {
        return;
    }
    let d = digits();
    let args = [
        "eval",
        &d.model,
        "--input",
        &d.inputs,
        "--labels",
        &d.labels,
        "--reference",
        &d.float_model,
        "--json",
    ];
    let here = json(&ferrite(&args));
    let mut on_board = args.to_vec();
    on_board.extend(["--device", "qemu-m4"]);
    let board = json(&ferrite(&on_board));
    for key in ["samples", "correct", "confusion", "reference"] {
        assert_eq!(here[key], board[key], "{key}: {board}");
    }
    assert_eq!(board["device"]["name"], "qemu-m4");
    assert_eq!(board["device"]["unit"], "instructions");
    // The digits model is 1.08 M MACs: at least one instruction per MAC on any kernel set.
    assert!(
        board["device"]["mean_cost"].as_u64().unwrap() > 1_000_000,
        "{board}"
    );
}
