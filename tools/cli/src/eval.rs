//! `ferrite eval`: a classifier's accuracy over a labelled set of samples, its confusion
//! matrix, and how often it agrees with a reference (a float twin of the model, or outputs
//! that TFLM or LiteRT computed).
//!
//! The first output of the model holds the class scores; a sample's prediction is the index
//! of its highest score (the lowest such index on a tie, as `sim --labels` does).

use crate::plot;
use ferrite_convert::npy::{self, Array, Data};
use ferrite_convert::{host, Compiled};
use ferrite_core::{DType, Tensor};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

/// Where the labelled samples come from.
pub enum Samples<'a> {
    /// Samples stacked on a leading axis and one integer label per sample (`.npy` files).
    Arrays {
        /// The samples.
        input: &'a Path,
        /// The labels.
        labels: &'a Path,
    },
    /// A folder of PNG images, one subfolder per class named by its index (see
    /// [`read_image_folder`]).
    Images(&'a Path),
}

/// What `ferrite eval` was asked to do.
pub struct EvalRequest<'a> {
    /// The model to evaluate.
    pub model: &'a Path,
    /// The labelled samples.
    pub samples: Samples<'a>,
    /// Also report top-k accuracy for this k.
    pub top: Option<usize>,
    /// A model to compare predictions with (typically the float model the int8 one was
    /// quantized from).
    pub reference: Option<&'a Path>,
    /// Outputs of the model computed elsewhere (TFLM, LiteRT), stacked like `ferrite run`'s.
    pub expected: Option<&'a Path>,
    /// Print one JSON object instead of text.
    pub json: bool,
    /// Where to draw the confusion matrix as SVG.
    pub confusion_svg: Option<&'a Path>,
    /// Worker threads.
    pub threads: usize,
    /// Run the model on this board (`qemu-m4`, a serial port) instead of here; the reference
    /// still runs here.
    pub device: Option<&'a str>,
    /// Board crates for an emulated `device`.
    pub targets_dir: Option<std::path::PathBuf>,
}

/// Index of the highest score; the lowest index among equal highest scores.
pub fn argmax(scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

/// Whether `label` is among the `k` highest scores, ranking equal scores by index (lower
/// first), so that `k = 1` agrees with [`argmax`].
pub fn in_top_k(scores: &[f64], label: usize, k: usize) -> bool {
    let Some(&own) = scores.get(label) else {
        return false;
    };
    // Counting those ranked above the label is O(classes), where sorting would not be.
    let ahead = scores
        .iter()
        .enumerate()
        .filter(|&(i, &s)| s > own || (s == own && i < label))
        .count();
    ahead < k
}

/// Counts of (label, prediction) pairs: row = true label, column = predicted class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    classes: usize,
    counts: Vec<u64>,
}

impl Confusion {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Confusion {
        Confusion {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// Number of classes (rows and columns).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Records one sample; both must be below [`Confusion::classes`].
    pub fn add(&mut self, label: usize, predicted: usize) {
        self.counts[label * self.classes + predicted] += 1;
    }

    /// Samples with this label predicted as that class.
    pub fn count(&self, label: usize, predicted: usize) -> u64 {
        self.counts[label * self.classes + predicted]
    }

    /// All samples recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Samples predicted as their label (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// Samples whose label is `label` (a row's sum).
    pub fn with_label(&self, label: usize) -> u64 {
        (0..self.classes).map(|p| self.count(label, p)).sum()
    }

    /// Samples predicted as `class` (a column's sum).
    pub fn predicted_as(&self, class: usize) -> u64 {
        (0..self.classes).map(|l| self.count(l, class)).sum()
    }

    /// The rows, for printing and JSON.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts
            .chunks(self.classes.max(1))
            .map(<[u64]>::to_vec)
            .collect()
    }
}

/// `part / whole`, 0 for an empty whole (an empty set has no accuracy to speak of, and JSON
/// has no NaN).
pub fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// How far two sets of class scores for the same samples agree.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Samples compared.
    pub samples: usize,
    /// Samples whose argmax is the same on both sides.
    pub argmax_agree: usize,
    /// Samples whose raw outputs are identical element by element.
    pub exact_matches: usize,
    /// Largest absolute difference between corresponding dequantized scores.
    pub max_abs_diff: f64,
}

/// Compares `a` and `b`, each `samples` rows of `classes` scores. `raw_a`/`raw_b` are the
/// values as stored (for exact matching); `real_a`/`real_b` are dequantized (for the
/// difference).
pub fn agreement(
    raw_a: &[f64],
    raw_b: &[f64],
    real_a: &[f64],
    real_b: &[f64],
    classes: usize,
) -> Agreement {
    let classes = classes.max(1);
    let samples = raw_a.len() / classes;
    let mut out = Agreement {
        samples,
        argmax_agree: 0,
        exact_matches: 0,
        max_abs_diff: 0.0,
    };
    for s in 0..samples {
        let row = s * classes..(s + 1) * classes;
        if argmax(&raw_a[row.clone()]) == argmax(&raw_b[row.clone()]) {
            out.argmax_agree += 1;
        }
        if raw_a[row.clone()] == raw_b[row.clone()] {
            out.exact_matches += 1;
        }
        for (x, y) in real_a[row.clone()].iter().zip(&real_b[row]) {
            out.max_abs_diff = out.max_abs_diff.max((x - y).abs());
        }
    }
    out
}

/// The real value a stored element stands for under the tensor's quantization.
fn dequantize(raw: f64, t: &Tensor) -> f64 {
    if t.dtype == DType::F32 || t.scale == 0.0 {
        raw
    } else {
        (raw - t.zero_point as f64) * t.scale as f64
    }
}

fn quantized_range(dtype: DType) -> Option<(f32, f32)> {
    match dtype {
        DType::I8 => Some((i8::MIN as f32, i8::MAX as f32)),
        DType::U8 => Some((0.0, u8::MAX as f32)),
        DType::I16 => Some((i16::MIN as f32, i16::MAX as f32)),
        _ => None,
    }
}

/// Real values quantized for `target`: round half to even (as numpy and the TFLite
/// converter's tooling do), then saturate to the type's range.
fn quantize(real: &[f32], target: &Tensor) -> Result<Data, String> {
    let Some((lo, hi)) = quantized_range(target.dtype).filter(|_| target.scale != 0.0) else {
        return Err(format!(
            "the model takes {} input without a scale: cannot quantize samples for it",
            target.dtype
        ));
    };
    let q = real
        .iter()
        .map(|&f| ((f / target.scale).round_ties_even() + target.zero_point as f32).clamp(lo, hi));
    Ok(match target.dtype {
        DType::I8 => Data::I8(q.map(|f| f as i8).collect()),
        DType::U8 => Data::U8(q.map(|f| f as u8).collect()),
        _ => Data::I16(q.map(|f| f as i16).collect()),
    })
}

/// `x` converted to what `target` (a model input) takes; `source` is the input of the other
/// model, whose quantization quantized samples carry when `target` cannot tell.
///
/// - samples of `target`'s type are taken as they are, unless `source` has that type too
///   with another scale or zero point (two quantized models compared): then they are
///   dequantized with `source`'s parameters and quantized again with `target`'s;
/// - float samples are quantized with `target`'s scale and zero point;
/// - quantized samples for a float input are dequantized with `source`'s.
pub fn adapt_input(x: &Array, target: &Tensor, source: Option<&Tensor>) -> Result<Array, String> {
    let have = x.data.dtype();
    // The source's quantization, when the samples are in its type and it has one.
    let source =
        source.filter(|s| s.dtype == have && s.scale != 0.0 && quantized_range(have).is_some());
    let dequantized = |src: &Tensor| -> Vec<f32> {
        (0..x.data.len())
            .map(|i| dequantize(x.data.get_f64(i), src) as f32)
            .collect()
    };
    let data = if have == target.dtype {
        match source {
            Some(src) if (src.scale, src.zero_point) != (target.scale, target.zero_point) => {
                quantize(&dequantized(src), target)?
            }
            _ => return Ok(x.clone()),
        }
    } else if let (Data::F32(v), Some(_)) = (&x.data, quantized_range(target.dtype)) {
        quantize(v, target)?
    } else if target.dtype == DType::F32 {
        let Some(src) = source else {
            return Err(format!(
                "the samples are {have} but the model takes float32, and no {have} model input gives the scale and zero point to dequantize them"
            ));
        };
        Data::F32(dequantized(src))
    } else {
        return Err(format!(
            "the samples are {have} but the model takes {}",
            target.dtype
        ));
    };
    Ok(Array {
        shape: x.shape.clone(),
        data,
    })
}

/// Integer class labels, one per sample.
fn read_labels(path: &Path, samples: usize, classes: usize) -> Result<Vec<usize>, String> {
    let a = npy::read(path)?;
    if matches!(a.data, Data::F32(_)) {
        return Err(format!(
            "{}: labels must be integers, not float32",
            path.display()
        ));
    }
    let values: Vec<f64> = (0..a.data.len()).map(|i| a.data.get_f64(i)).collect();
    checked_labels(&values, samples, classes, path)
}

/// `values` as class indices, one per sample, each below `classes`; `path` names their
/// source in errors.
fn checked_labels(
    values: &[f64],
    samples: usize,
    classes: usize,
    path: &Path,
) -> Result<Vec<usize>, String> {
    if values.len() != samples {
        return Err(format!(
            "{}: {} labels for {samples} samples",
            path.display(),
            values.len()
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v < 0.0 || v >= classes as f64 {
                Err(format!(
                    "{}: label {v} of sample {i} is not a class of the model's {classes} outputs",
                    path.display()
                ))
            } else {
                Ok(v as usize)
            }
        })
        .collect()
}

/// Samples and labels from a folder of PNG images: `dir/<class index>/*.png`, each folder
/// named by the class index of its images (`0`, `1`, ...), files in name order within
/// it, folders in class order. Other files and hidden folders are ignored.
///
/// Each image must already have the model input's height and width: resizing methods
/// differ (TensorFlow's bilinear resize uses half-pixel centres, others do not), and a
/// silently different resize would show up as lost accuracy. A pixel `p` stands for the real
/// value `p / 255` (the usual `[0, 1]` image input; quantized per model input later);
/// images are read as grey when the input has one channel and as RGB when it has three.
pub fn read_image_folder(dir: &Path, input: &Tensor) -> Result<(Array, Vec<f64>), String> {
    let dims: Vec<usize> = input.shape.dims().iter().map(|&d| d as usize).collect();
    let [.., height, width, channels] = dims[..] else {
        return Err(format!(
            "--images needs a model input of [height, width, channels]; this one is {dims:?}"
        ));
    };
    if dims[..dims.len() - 3].iter().product::<usize>() != 1 || !matches!(channels, 1 | 3) {
        return Err(format!(
            "--images needs a model input of one image with 1 or 3 channels; this one is {dims:?}"
        ));
    }
    let read_dir = |d: &Path| -> Result<Vec<std::path::PathBuf>, String> {
        let mut entries = std::fs::read_dir(d)
            .and_then(|it| {
                it.map(|e| e.map(|e| e.path()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| format!("reading {}: {e}", d.display()))?;
        entries.sort();
        Ok(entries)
    };
    let mut classes: Vec<(usize, std::path::PathBuf)> = Vec::new();
    for path in read_dir(dir)?.into_iter().filter(|p| p.is_dir()) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        // Hidden folders are tools' own (.git, .ipynb_checkpoints), not classes.
        if name.as_deref().is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        match name.as_deref().map(str::parse::<usize>) {
            Some(Ok(class)) => classes.push((class, path)),
            _ => {
                return Err(format!(
                    "{}: image folders are named by class index (0, 1, ...)",
                    path.display()
                ))
            }
        }
    }
    classes.sort();
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (class, folder) in &classes {
        for file in read_dir(folder)? {
            let is_png = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png"));
            if !is_png || !file.is_file() {
                continue;
            }
            let image =
                image::open(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            if (image.width() as usize, image.height() as usize) != (width, height) {
                return Err(format!(
                    "{}: {}x{} pixels, but the model takes {width}x{height}; resize the images as the model's training did",
                    file.display(),
                    image.width(),
                    image.height()
                ));
            }
            let bytes = if channels == 1 {
                image.into_luma8().into_raw()
            } else {
                image.into_rgb8().into_raw()
            };
            pixels.extend(bytes.iter().map(|&p| f32::from(p) / 255.0));
            labels.push(*class as f64);
        }
    }
    if labels.is_empty() {
        return Err(format!(
            "{}: no PNG images in class folders (expected {}/<class index>/*.png)",
            dir.display(),
            dir.display()
        ));
    }
    let mut shape = vec![labels.len()];
    shape.extend(&dims);
    Ok((
        Array {
            shape,
            data: Data::F32(pixels),
        },
        labels,
    ))
}

/// Where the labels are: a `.npy` file still to read, or the class folders' names.
enum LabelSource<'a> {
    File(&'a Path),
    Folders(Vec<f64>, &'a Path),
}

/// The first output of every sample, raw and dequantized, as rows of `classes` values.
struct Scores {
    raw: Vec<f64>,
    real: Vec<f64>,
}

fn scores_of(bytes: &[u8], t: &Tensor) -> Scores {
    let data = Data::from_bytes(t.dtype, bytes);
    let raw: Vec<f64> = (0..data.len()).map(|i| data.get_f64(i)).collect();
    let real = raw.iter().map(|&v| dequantize(v, t)).collect();
    Scores { raw, real }
}

/// The progress bar on stderr, drawn only for a person watching.
fn progress_bar(samples: usize, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(samples as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} samples  {elapsed_precise} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Runs every sample through `model` (and `reference`, when given) on `threads` threads,
/// each with its own arenas; returns the first output's bytes of each, in sample order.
fn run_samples(
    model: &Compiled,
    input: &Array,
    reference: Option<(&Compiled, &Array)>,
    samples: usize,
    threads: usize,
    bar: &indicatif::ProgressBar,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let threads = threads.clamp(1, samples.max(1));
    let chunk = samples.div_ceil(threads).max(1);
    type Chunk = Result<(Vec<u8>, Vec<u8>), String>;
    let chunks: Vec<Chunk> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..samples)
            .step_by(chunk)
            .map(|start| {
                s.spawn(move || -> Chunk {
                    let mut arena = model.new_arena();
                    let mut ref_arena = reference.map(|(r, _)| r.new_arena());
                    let (mut out, mut ref_out) = (Vec::new(), Vec::new());
                    for k in start..(start + chunk).min(samples) {
                        let o = host::run_one(
                            model,
                            arena.as_mut_slice(),
                            std::slice::from_ref(input),
                            k,
                            &mut ferrite_core::NoHook,
                        )
                        .map_err(|e| format!("sample {k}: {e}"))?;
                        out.extend_from_slice(&o[0]);
                        if let (Some((r, r_input)), Some(a)) = (reference, ref_arena.as_mut()) {
                            let o = host::run_one(
                                r,
                                a.as_mut_slice(),
                                std::slice::from_ref(r_input),
                                k,
                                &mut ferrite_core::NoHook,
                            )
                            .map_err(|e| format!("reference, sample {k}: {e}"))?;
                            ref_out.extend_from_slice(&o[0]);
                        }
                        bar.inc(1);
                    }
                    Ok((out, ref_out))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a worker thread panicked".into()))
            })
            .collect()
    });
    let (mut out, mut ref_out) = (Vec::new(), Vec::new());
    for c in chunks {
        let (o, r) = c?;
        out.extend(o);
        ref_out.extend(r);
    }
    Ok((out, ref_out))
}

fn single_input(c: &Compiled, path: &Path) -> Result<Tensor, String> {
    if c.inputs.len() != 1 {
        return Err(format!(
            "{}: eval takes models with one input; this one has {}",
            path.display(),
            c.inputs.len()
        ));
    }
    c.input(0)
        .copied()
        .ok_or_else(|| "missing input tensor".into())
}

fn first_output(c: &Compiled, path: &Path) -> Result<Tensor, String> {
    c.output(0)
        .copied()
        .ok_or_else(|| format!("{}: the model has no output", path.display()))
}

fn percent(part: usize, whole: usize) -> String {
    format!(
        "{:.2} % ({part} of {whole})",
        100.0 * fraction(part as u64, whole as u64)
    )
}

/// `ferrite eval`.
pub fn eval(req: &EvalRequest<'_>) -> Result<ExitCode, String> {
    let model = crate::load(req.model)?;
    let in_t = single_input(&model, req.model)?;
    let out_t = first_output(&model, req.model)?;
    let classes = out_t.num_elements();
    if classes == 0 {
        return Err(format!(
            "{}: the first output is empty",
            req.model.display()
        ));
    }
    let reference = match req.reference {
        Some(path) => {
            let r = crate::load(path)?;
            let r_in = single_input(&r, path)?;
            let r_out = first_output(&r, path)?;
            if r_out.num_elements() != classes {
                return Err(format!(
                    "{}: the reference's first output has {} elements, the model's {classes}",
                    path.display(),
                    r_out.num_elements()
                ));
            }
            Some((r, r_in, r_out, path))
        }
        None => None,
    };
    let (samples_in, labels_from) = match req.samples {
        Samples::Arrays { input, labels } => (npy::read(input)?, LabelSource::File(labels)),
        Samples::Images(dir) => {
            let (a, labels) = read_image_folder(dir, &in_t)?;
            (a, LabelSource::Folders(labels, dir))
        }
    };
    // The samples may be made for either model: each side converts from the other's
    // quantization when its own input type differs.
    // Samples in the model's own type are the model's: the reference's quantization is only
    // for samples the model cannot read as they are.
    let input = adapt_input(
        &samples_in,
        &in_t,
        reference
            .as_ref()
            .map(|(_, r_in, _, _)| r_in)
            .filter(|r_in| r_in.dtype != in_t.dtype),
    )?;
    let n = host::samples(&model, std::slice::from_ref(&input))?;
    let ref_input = match &reference {
        Some((r, r_in, _, path)) => {
            let a = adapt_input(&samples_in, r_in, Some(&in_t))
                .map_err(|e| format!("reference {}: {e}", path.display()))?;
            host::samples(r, std::slice::from_ref(&a))
                .map_err(|e| format!("reference {}: {e}", path.display()))?;
            Some(a)
        }
        None => None,
    };
    let labels = match labels_from {
        LabelSource::File(path) => read_labels(path, n, classes)?,
        LabelSource::Folders(values, dir) => checked_labels(&values, n, classes, dir)?,
    };
    let expected = match req.expected {
        Some(path) => {
            let e = npy::read(path)?;
            if e.data.dtype() != out_t.dtype || e.data.len() != n * classes {
                return Err(format!(
                    "{}: expected {} with {} elements ({n} samples of {classes}), found {} {:?}",
                    path.display(),
                    out_t.dtype,
                    n * classes,
                    e.data.dtype(),
                    e.shape
                ));
            }
            Some((e, path))
        }
        None => None,
    };
    if req.top == Some(0) {
        return Err("--top must be at least 1".into());
    }

    let reference_run = reference
        .as_ref()
        .zip(ref_input.as_ref())
        .map(|((r, ..), a)| (r, a));
    let (out_bytes, ref_bytes, device_cost) = match req.device {
        None => {
            let bar = progress_bar(n, req.json);
            let (out, r) = run_samples(&model, &input, reference_run, n, req.threads, &bar)?;
            bar.finish_and_clear();
            (out, r, None)
        }
        Some(name) => {
            // The model's outputs from the board; the reference's (if any) from here.
            let (_, run) = crate::on_device_arrays(
                req.model,
                name,
                std::slice::from_ref(&input),
                req.targets_dir.clone(),
            )?;
            let first = run.outputs.first().ok_or("the device returned no output")?;
            let out = first.data.bytes(0, first.data.len());
            let r = match reference_run {
                Some((r, a)) => {
                    let bar = progress_bar(n, req.json);
                    let (r_out, _) = run_samples(r, a, None, n, req.threads, &bar)?;
                    bar.finish_and_clear();
                    r_out
                }
                None => Vec::new(),
            };
            let costs: Vec<(u64, &str)> = run.ticks.iter().map(|&t| run.cost(t)).collect();
            let unit = costs.first().map_or("ticks", |c| c.1);
            let mean = costs.iter().map(|c| c.0).sum::<u64>() / costs.len().max(1) as u64;
            (out, r, Some((name.to_string(), mean, unit)))
        }
    };

    let scores = scores_of(&out_bytes, &out_t);
    let mut confusion = Confusion::new(classes);
    let mut top_k_correct = 0;
    for (s, &label) in labels.iter().enumerate() {
        let row = &scores.raw[s * classes..(s + 1) * classes];
        confusion.add(label, argmax(row));
        if req.top.is_some_and(|k| in_top_k(row, label, k)) {
            top_k_correct += 1;
        }
    }
    let ref_agreement = reference.as_ref().map(|(_, _, r_out, path)| {
        let r = scores_of(&ref_bytes, r_out);
        (
            agreement(&scores.raw, &r.raw, &scores.real, &r.real, classes),
            *path,
        )
    });
    let expected_agreement = expected.as_ref().map(|(e, path)| {
        let raw: Vec<f64> = (0..e.data.len()).map(|i| e.data.get_f64(i)).collect();
        let real: Vec<f64> = raw.iter().map(|&v| dequantize(v, &out_t)).collect();
        (
            agreement(&scores.raw, &raw, &scores.real, &real, classes),
            *path,
        )
    });

    if let Some(path) = req.confusion_svg {
        std::fs::write(path, plot::confusion_svg(&confusion))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }

    let correct = confusion.correct();
    if req.json {
        let per_class: Vec<_> = (0..classes)
            .map(|c| {
                serde_json::json!({
                    "class": c,
                    "samples": confusion.with_label(c),
                    "correct": confusion.count(c, c),
                    "predicted": confusion.predicted_as(c),
                })
            })
            .collect();
        let mut v = serde_json::json!({
            "model": req.model.display().to_string(),
            "samples": n,
            "classes": classes,
            "correct": correct,
            "accuracy": fraction(correct, confusion.total()),
            "per_class": per_class,
            "confusion": confusion.rows(),
        });
        if let Some(k) = req.top {
            v["top_k"] = serde_json::json!({
                "k": k,
                "correct": top_k_correct,
                "accuracy": fraction(top_k_correct, n as u64),
            });
        }
        if let Some((a, path)) = &ref_agreement {
            v["reference"] = serde_json::json!({
                "model": path.display().to_string(),
                "argmax_agree": a.argmax_agree,
                "argmax_agreement": fraction(a.argmax_agree as u64, a.samples as u64),
                "max_abs_diff": a.max_abs_diff,
            });
        }
        if let Some((a, path)) = &expected_agreement {
            v["expected"] = serde_json::json!({
                "outputs": path.display().to_string(),
                "exact_matches": a.exact_matches,
                "argmax_agree": a.argmax_agree,
                "argmax_agreement": fraction(a.argmax_agree as u64, a.samples as u64),
                "max_abs_diff": a.max_abs_diff,
            });
        }
        if let Some((name, mean, unit)) = &device_cost {
            v["device"] = serde_json::json!({ "name": name, "mean_cost": mean, "unit": unit });
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }

    println!("{}: {n} samples, {classes} classes", req.model.display());
    if let Some((name, mean, unit)) = &device_cost {
        println!("run on {name}: {mean} {unit} per inference on average");
    }
    println!("top-1 accuracy  {}", percent(correct as usize, n));
    if let Some(k) = req.top {
        println!("top-{k} accuracy  {}", percent(top_k_correct as usize, n));
    }
    println!();
    print!("{}", confusion_table(&confusion));
    if let Some((a, path)) = &ref_agreement {
        println!();
        println!(
            "reference {}: argmax agrees on {}; max abs difference of dequantized outputs {:.6}",
            path.display(),
            percent(a.argmax_agree, a.samples),
            a.max_abs_diff
        );
    }
    if let Some((a, path)) = &expected_agreement {
        println!();
        println!(
            "expected {}: {} of {} outputs match exactly; argmax agrees on {}; max abs difference of dequantized outputs {:.6}",
            path.display(),
            a.exact_matches,
            a.samples,
            percent(a.argmax_agree, a.samples),
            a.max_abs_diff
        );
    }
    if let Some(path) = req.confusion_svg {
        println!();
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The confusion matrix as a text table, with each row's recall.
fn confusion_table(m: &Confusion) -> String {
    let width = m
        .rows()
        .iter()
        .flatten()
        .map(|c| c.to_string().len())
        .chain([m.classes().saturating_sub(1).to_string().len()])
        .max()
        .unwrap_or(1)
        .max(3);
    let mut s = String::from("confusion matrix (rows: label, columns: predicted)\n");
    s.push_str(&format!("{:>width$} ", ""));
    for c in 0..m.classes() {
        s.push_str(&format!(" {c:>width$}"));
    }
    s.push_str("   recall\n");
    for (label, row) in m.rows().iter().enumerate() {
        s.push_str(&format!("{label:>width$} "));
        for c in row {
            s.push_str(&format!(" {c:>width$}"));
        }
        let recall = fraction(m.count(label, label), m.with_label(label));
        if m.with_label(label) == 0 {
            s.push_str("        -\n");
        } else {
            s.push_str(&format!("  {:>6.2} %\n", 100.0 * recall));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_lowest_index_of_a_tie() {
        assert_eq!(argmax(&[1.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[5.0, 5.0, 1.0]), 0);
        assert_eq!(argmax(&[-2.0, 7.0, 7.0]), 1);
        assert_eq!(argmax(&[-128.0; 4]), 0);
    }

    #[test]
    fn top_k_ranks_ties_by_index_and_top_1_is_argmax() {
        let scores = [0.1, 0.5, 0.5, 0.9, 0.0];
        // Ranking: 3, 1, 2, 0, 4.
        assert!(in_top_k(&scores, 3, 1));
        assert!(!in_top_k(&scores, 1, 1));
        assert!(in_top_k(&scores, 1, 2));
        assert!(!in_top_k(&scores, 2, 2));
        assert!(in_top_k(&scores, 2, 3));
        assert!(!in_top_k(&scores, 4, 4));
        assert!(in_top_k(&scores, 4, 5));
        assert!(
            !in_top_k(&scores, 7, 5),
            "a label past the classes is never in"
        );
        for label in 0..scores.len() {
            assert_eq!(in_top_k(&scores, label, 1), argmax(&scores) == label);
        }
    }

    #[test]
    fn confusion_counts_rows_columns_and_diagonal() {
        let mut m = Confusion::new(3);
        let pairs = [(0, 0), (0, 0), (0, 2), (1, 1), (2, 1), (2, 2), (2, 2)];
        for &(label, predicted) in &pairs {
            m.add(label, predicted);
        }
        assert_eq!(m.rows(), vec![vec![2, 0, 1], vec![0, 1, 0], vec![0, 1, 2]]);
        assert_eq!(m.total(), 7);
        assert_eq!(m.correct(), 5);
        assert_eq!(
            (0..3).map(|c| m.with_label(c)).collect::<Vec<_>>(),
            [3, 1, 3]
        );
        assert_eq!(
            (0..3).map(|c| m.predicted_as(c)).collect::<Vec<_>>(),
            [2, 2, 3]
        );
        assert_eq!(fraction(m.correct(), m.total()), 5.0 / 7.0);
        assert_eq!(fraction(0, 0), 0.0);
    }

    #[test]
    fn agreement_counts_argmax_exact_and_largest_difference() {
        // Three samples of two classes: identical; same argmax, values differ; argmax differs.
        let a = [1.0, 0.0, 3.0, 1.0, 0.0, 2.0];
        let b = [1.0, 0.0, 2.5, 1.0, 4.0, 2.0];
        let g = agreement(&a, &b, &a, &b, 2);
        assert_eq!(g.samples, 3);
        assert_eq!(g.argmax_agree, 2);
        assert_eq!(g.exact_matches, 1);
        assert_eq!(g.max_abs_diff, 4.0);
    }

    fn tensor(dtype: DType, scale: f32, zero_point: i32) -> Tensor {
        Tensor {
            offset: 0,
            dtype,
            shape: ferrite_core::Shape::new(&[1, 4]),
            scale,
            zero_point,
        }
    }

    #[test]
    fn float_samples_quantize_and_quantized_samples_dequantize() {
        let int8 = tensor(DType::I8, 0.5, -10);
        let float = tensor(DType::F32, 0.0, 0);
        let x = Array {
            shape: vec![1, 4],
            data: Data::F32(vec![0.25, 0.75, 100.0, -100.0]),
        };
        // 0.25 / 0.5 = 0.5 rounds to 0 and 0.75 / 0.5 = 1.5 to 2 (half to even); then
        // saturation.
        let q = adapt_input(&x, &int8, None).unwrap();
        assert_eq!(q.data, Data::I8(vec![-10, -8, 127, -128]));
        let back = adapt_input(&q, &float, Some(&int8)).unwrap();
        assert_eq!(back.data, Data::F32(vec![0.0, 1.0, 68.5, -59.0]));
        assert!(
            adapt_input(&q, &float, None).is_err(),
            "no scale to dequantize with"
        );
        let same = adapt_input(&q, &int8, Some(&float)).unwrap();
        assert_eq!(same, q);
        assert_eq!(adapt_input(&q, &int8, Some(&int8)).unwrap(), q);
    }

    #[test]
    fn samples_for_one_quantization_are_requantized_for_another() {
        let (from, to) = (tensor(DType::I8, 0.5, -10), tensor(DType::I8, 0.25, 0));
        let x = Array {
            shape: vec![1, 4],
            data: Data::I8(vec![-10, -9, 20, 127]),
        };
        // Real values 0, 0.5, 15, 68.5; at scale 0.25: 0, 2, 60, 274 -> saturates at 127.
        let y = adapt_input(&x, &to, Some(&from)).unwrap();
        assert_eq!(y.data, Data::I8(vec![0, 2, 60, 127]));
        let u8_input = tensor(DType::U8, 0.5, 118);
        let z = adapt_input(&x, &u8_input, Some(&from)).unwrap_err();
        assert!(z.contains("int8 but the model takes uint8"), "{z}");
    }
}
