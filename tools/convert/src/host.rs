//! Running converted models on the host: batches of samples from `.npy` arrays, in
//! parallel, and comparisons with golden outputs.

use crate::compile::Compiled;
use crate::npy::{Array, Data};
use ferrite_core::{LayerHook, Model, Tensor};

/// Checks `inputs` against `c`'s inputs (one array per model input, in order; the leading
/// axis counts samples and the rest holds exactly one input tensor) and returns the number
/// of samples.
pub fn samples(c: &Compiled, inputs: &[Array]) -> Result<usize, String> {
    if inputs.len() != c.inputs.len() {
        return Err(format!(
            "the model has {} inputs, {} arrays given",
            c.inputs.len(),
            inputs.len()
        ));
    }
    let mut n = None;
    for (i, input) in inputs.iter().enumerate() {
        let t = c.input(i).ok_or("missing input tensor")?;
        if input.data.dtype() != t.dtype {
            return Err(format!(
                "input array {i} is {} but the model's input {i} is {}",
                input.data.dtype(),
                t.dtype
            ));
        }
        let per = t.num_elements();
        let rest: usize = input.shape.iter().skip(1).product();
        if input.shape.is_empty() || rest != per {
            return Err(format!(
                "input array {i} has shape {:?}; expected [N, ...] with {} elements per sample (model input {:?})",
                input.shape,
                per,
                t.shape.dims()
            ));
        }
        if *n.get_or_insert(input.shape[0]) != input.shape[0] {
            return Err("input arrays hold different numbers of samples".into());
        }
    }
    n.ok_or_else(|| "the model has no input".to_string())
}

/// Runs sample `k` of `inputs` and returns the bytes of every output.
pub fn run_one<H: LayerHook>(
    c: &Compiled,
    arena: &mut [u8],
    inputs: &[Array],
    k: usize,
    hook: &mut H,
) -> Result<Vec<Vec<u8>>, String> {
    run_model(&c.model(), arena, inputs, k, hook)
}

/// Runs sample `k` of `inputs` through any [`Model`] (converted on the host or emitted as
/// Rust) and returns the bytes of every output. A model with variable tensors runs from a
/// fresh state ([`Model::reset_state`]): each sample is a sequence of its own
/// ([`run_model_stateful`] carries the state instead).
pub fn run_model<H: LayerHook>(
    model: &Model<'_>,
    arena: &mut [u8],
    inputs: &[Array],
    k: usize,
    hook: &mut H,
) -> Result<Vec<Vec<u8>>, String> {
    let mut state = crate::consts::AlignedBytes::new(&vec![0u8; model.state.bytes]);
    model
        .reset_state(state.as_mut_slice())
        .map_err(|e| e.to_string())?;
    run_model_stateful(model, arena, state.as_mut_slice(), inputs, k, hook)
}

/// [`run_model`] on the caller's persistent `state` region, which the run reads and updates
/// (reset it with [`Model::reset_state`] before a sequence's first sample). A sample a
/// CIRCULAR_BUFFER ends early ([`ferrite_core::Error::Aborted`]) gives the outputs as that
/// leaves them (the last complete sample's), as TFLite Micro's caller finds them.
pub fn run_model_stateful<H: LayerHook>(
    model: &Model<'_>,
    arena: &mut [u8],
    state: &mut [u8],
    inputs: &[Array],
    k: usize,
    hook: &mut H,
) -> Result<Vec<Vec<u8>>, String> {
    // An input read in place (`Model::input_in_place`) is passed to the run, not copied.
    let mut in_place = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let t: &Tensor = model.input_tensor(i).map_err(|e| e.to_string())?;
        let per = t.num_elements();
        let bytes = input.data.bytes(k * per, per);
        if model.input_in_place(i).map_err(|e| e.to_string())? {
            in_place = bytes;
        } else {
            model
                .set_input_bytes(arena, i, &bytes)
                .map_err(|e| e.to_string())?;
        }
    }
    match model.invoke_stateful_with_hook(arena, state, &in_place, hook) {
        Ok(()) | Err(ferrite_core::Error::Aborted { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    (0..model.outputs.len())
        .map(|i| {
            model
                .output_bytes(arena, i)
                .map(<[u8]>::to_vec)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Runs every sample on `threads` threads; returns each output stacked as
/// `[N, *output_shape]`.
pub fn run_all(c: &Compiled, inputs: &[Array], threads: usize) -> Result<Vec<Array>, String> {
    let n = samples(c, inputs)?;
    let threads = threads.clamp(1, n.max(1));
    let chunk = n.div_ceil(threads).max(1);
    let per_thread: Vec<Result<Vec<Vec<Vec<u8>>>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                s.spawn(move || {
                    let mut arena = c.new_arena();
                    (start..(start + chunk).min(n))
                        .map(|k| {
                            run_one(
                                c,
                                arena.as_mut_slice(),
                                inputs,
                                k,
                                &mut ferrite_core::NoHook,
                            )
                            .map_err(|e| format!("sample {k}: {e}"))
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a worker thread panicked".into()))
            })
            .collect()
    });
    let mut results: Vec<Vec<Vec<u8>>> = Vec::with_capacity(n);
    for r in per_thread {
        results.extend(r?);
    }
    stack_outputs(c, n, &results)
}

/// Runs every sample in order on one state region, reset once before the first sample and
/// carried from each sample to the next (a stream, as a device runs it); returns each output
/// stacked as `[N, *output_shape]`. For a stateless model it equals [`run_all`].
pub fn run_stream(c: &Compiled, inputs: &[Array]) -> Result<Vec<Array>, String> {
    let n = samples(c, inputs)?;
    let model = c.model();
    let mut arena = c.new_arena();
    let mut state = c.new_state();
    let results = (0..n)
        .map(|k| {
            run_model_stateful(
                &model,
                arena.as_mut_slice(),
                state.as_mut_slice(),
                inputs,
                k,
                &mut ferrite_core::NoHook,
            )
            .map_err(|e| format!("sample {k}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    stack_outputs(c, n, &results)
}

/// The outputs of `n` samples (`results[k][i]`: output `i` of sample `k`, bytes) stacked as
/// `[N, *output_shape]` arrays.
fn stack_outputs(c: &Compiled, n: usize, results: &[Vec<Vec<u8>>]) -> Result<Vec<Array>, String> {
    let mut arrays = Vec::with_capacity(c.outputs.len());
    for i in 0..c.outputs.len() {
        let o = c.output(i).ok_or("missing output")?;
        let bytes: Vec<u8> = results.iter().flat_map(|r| r[i].iter().copied()).collect();
        let mut shape = vec![n];
        shape.extend(o.shape.dims().iter().map(|&d| d as usize));
        arrays.push(Array {
            shape,
            data: Data::from_bytes(o.dtype, &bytes),
        });
    }
    Ok(arrays)
}

/// The first element where `got` and `expected` disagree: int8 exactly, float within
/// `rel_tol` relative.
pub fn first_mismatch(
    got: &Data,
    expected: &Data,
    start: usize,
    n: usize,
    rel_tol: f64,
) -> Option<(usize, f64, f64)> {
    for i in start..start + n {
        let (a, b) = (got.get_f64(i), expected.get_f64(i));
        let ok = match got {
            Data::F32(_) => (a - b).abs() <= rel_tol * a.abs().max(b.abs()) || a == b,
            _ => a == b,
        };
        if !ok {
            return Some((i - start, a, b));
        }
    }
    None
}

/// A rough count of the elementary operations one inference of `model` performs:
/// multiply-accumulates for convolutions and fully connected layers, window reads for
/// pooling, plus the largest tensor's element count for every layer.
///
/// Converting never runs a model, so it cannot hang on a hostile one; *running* a model
/// whose file is small but whose shapes are huge (a pooling window of 2^30, say) could take
/// hours. Tools that run untrusted models unattended (the fuzz target, the mutation test)
/// check this first.
pub fn estimated_work(model: &Model<'_>) -> u64 {
    let largest = model
        .tensors
        .iter()
        .map(|t| t.num_elements() as u64)
        .max()
        .unwrap_or(0);
    model.layers.iter().fold(0u64, |acc, l| {
        acc.saturating_add(layer_work(&l.op))
            .saturating_add(largest)
    })
}

/// Operations of the layers whose cost is not proportional to their tensors' sizes.
fn layer_work(op: &ferrite_core::Op) -> u64 {
    use ferrite_core::ops::{ConvGeometry, PoolGeometry};
    use ferrite_core::Op;
    let conv = |g: &ConvGeometry, per_tap: u64| {
        g.output_elements()
            .saturating_mul(g.k_h as u64 * g.k_w as u64)
            .saturating_mul(per_tap)
    };
    let pool = |g: &PoolGeometry| {
        (g.batches as u64 * g.out_h as u64 * g.out_w as u64 * g.channels as u64)
            .saturating_mul(g.filter_h.min(g.in_h) as u64 * g.filter_w.min(g.in_w) as u64)
    };
    let fc = |b: u32, i: u32, o: u32| (b as u64 * i as u64).saturating_mul(o as u64);
    match op {
        Op::Conv2dI8(p) => conv(&p.geom, (p.geom.in_c / p.groups.max(1)) as u64),
        Op::Conv2dF32(p) => conv(&p.geom, (p.geom.in_c / p.groups.max(1)) as u64),
        Op::Conv2dI8Packed(p) => conv(&p.conv.geom, p.conv.geom.in_c as u64),
        Op::Conv2dF32Packed(p) => conv(&p.conv.geom, p.conv.geom.in_c as u64),
        Op::DepthwiseConv2dI8(p) => conv(&p.geom, 1),
        Op::DepthwiseConv2dF32(p) => conv(&p.geom, 1),
        Op::FullyConnectedI8(p) => fc(p.batches, p.in_depth, p.out_depth),
        Op::FullyConnectedF32(p) => fc(p.batches, p.in_depth, p.out_depth),
        Op::PoolI8(p) => pool(&p.geom),
        Op::PoolF32(p) => pool(&p.geom),
        // NMS compares each kept box with the later ones: per class for regular NMS.
        Op::DetectionPostprocess(p) => (p.num_boxes as u64 * p.num_boxes as u64).saturating_mul(
            if p.regular_nms {
                (p.num_classes as u64).max(1)
            } else {
                1
            } + p.num_classes as u64,
        ),
        // Everything else touches each element of its tensors a bounded number of times.
        _ => 0,
    }
}
