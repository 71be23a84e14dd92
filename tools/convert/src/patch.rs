//! Patch-based execution of a network prefix: the first operators run band by band instead
//! of layer by layer, so the large early activations never exist whole.
//!
//! MCUNetV2 showed that the activation-heavy first layers of a CNN can run patch by patch,
//! each patch computing only the receptive field it needs; its implementation pads the
//! patched input once, which changes the results at patch borders. Here a *band* is a range
//! of output rows of the prefix's last tensor (full width, so only rows overlap). Walking the
//! prefix backwards gives every tensor's rows the band needs (stride, dilation, kernel and
//! padding in the whole tensor's coordinates); walking it forwards, each operator becomes one
//! operator per band on band-sized tensors, with an explicit top padding that is the whole
//! layer's padding where the band touches the top edge and zero elsewhere. Rows a band needs
//! from a neighbour are recomputed, never padded, so every output equals the unsplit
//! network's bit for bit.
//!
//! Bands are plain graph operators on plain tensors: the kernels, the lowering and the arena
//! planner need nothing new. The band outputs of the prefix's last tensor, and the bands of
//! the prefix's input a band reads, are *views*: rows of the whole tensor at a byte offset
//! ([`View`]), since rows of an NHWC tensor are contiguous.

use crate::error::{ConvertError, Result};
use crate::graph::{Dilated, GOp, GTensor, Graph, View};
use crate::lower::out_size_and_padding;
use crate::tflite::opcodes as oc;
use crate::tflite::schema::options;
use serde::Serialize;
use std::collections::HashMap;

/// How an operator's output rows map to its input rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowMap {
    /// Output row `y` reads input rows `y * stride - pad + k * dilation` for `k < kernel`.
    Window {
        kernel: usize,
        stride: usize,
        dilation: usize,
        pad_top: usize,
        pad_left: usize,
        dilation_w: i32,
    },
    /// Output row `y` reads input row `y` of every input (same shapes).
    Elementwise,
}

/// A prefix of the graph that can run in bands: operators `0..end`, reading the tensor
/// `input` and producing the tensor `output` the rest of the graph reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prefix {
    /// Number of operators in the prefix (the first `end` in execution order).
    pub end: usize,
    /// The prefix's activation input (a graph input).
    pub input: usize,
    /// The one tensor of the prefix read after it.
    pub output: usize,
    /// Rows of `output`: the most bands there can be.
    pub rows: usize,
}

/// What a patched conversion did, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchReport {
    /// TFLite operator indices of the prefix.
    pub prefix_ops: Vec<usize>,
    /// Name of the tensor the prefix produces (where layer-by-layer execution resumes).
    pub split_tensor: String,
    /// Shape of that tensor.
    pub split_shape: Vec<usize>,
    /// The bands: `[first row, end row)` of the split tensor.
    pub bands: Vec<(usize, usize)>,
    /// Multiply-accumulates of the prefix unsplit, and split (recomputed rows included).
    pub prefix_macs: (u64, u64),
}

/// The row map of a band-able operator, or `None` for any other.
fn row_map(g: &Graph<'_>, op: &GOp<'_>) -> Option<RowMap> {
    let act_inputs: Vec<usize> = op
        .inputs
        .iter()
        .flatten()
        .copied()
        .filter(|&t| !g.tensors[t].is_const())
        .collect();
    let out = *op.outputs.first()?;
    if op.outputs.len() != 1 || g.tensors[out].shape.len() != 4 || g.tensors[out].shape[0] != 1 {
        return None;
    }
    let input = g.tensors.get(*act_inputs.first()?)?;
    if input.shape.len() != 4 || input.shape[0] != 1 {
        return None;
    }
    let window = |k_h: usize, k_w: usize, s: (i32, i32), d: (i32, i32), padding: u8| {
        let (d_h, d_w) = op.dilated.map_or(d, |x| x.dilation);
        let (sh, sw, dh) = (
            usize::try_from(s.0).ok().filter(|&v| v > 0)?,
            usize::try_from(s.1).ok().filter(|&v| v > 0)?,
            usize::try_from(d_h).ok().filter(|&v| v > 0)?,
        );
        let dw = usize::try_from(d_w).ok().filter(|&v| v > 0)?;
        let (pt, pl) = match op.dilated {
            Some(x) => x.pad,
            None => (
                out_size_and_padding(padding, input.shape[1], k_h, sh, dh)?.1,
                out_size_and_padding(padding, input.shape[2], k_w, sw, dw)?.1,
            ),
        };
        (act_inputs.len() == 1).then_some(RowMap::Window {
            kernel: k_h,
            stride: sh,
            dilation: dh,
            pad_top: pt,
            pad_left: pl,
            dilation_w: d_w,
        })
    };
    match op.code {
        oc::CONV_2D => {
            let o = options::conv2d(op.options).ok()?;
            let f = g.tensors.get((*op.inputs.get(1)?)?)?;
            (f.shape.len() == 4).then_some(())?;
            window(
                f.shape[1],
                f.shape[2],
                (o.stride_h, o.stride_w),
                (o.dilation_h, o.dilation_w),
                o.padding,
            )
        }
        oc::DEPTHWISE_CONV_2D => {
            let o = options::depthwise_conv2d(op.options).ok()?;
            let f = g.tensors.get((*op.inputs.get(1)?)?)?;
            (f.shape.len() == 4).then_some(())?;
            window(
                f.shape[1],
                f.shape[2],
                (o.stride_h, o.stride_w),
                (o.dilation_h, o.dilation_w),
                o.padding,
            )
        }
        oc::AVERAGE_POOL_2D | oc::MAX_POOL_2D => {
            let o = options::pool2d(op.options).ok()?;
            let (fh, fw) = (
                usize::try_from(o.filter_h).ok()?,
                usize::try_from(o.filter_w).ok()?,
            );
            window(fh, fw, (o.stride_h, o.stride_w), (1, 1), o.padding)
        }
        oc::ADD
        | oc::SUB
        | oc::MUL
        | oc::RELU
        | oc::RELU6
        | oc::RELU_N1_TO_1
        | oc::LOGISTIC
        | oc::TANH
        | oc::HARD_SWISH
        | oc::LEAKY_RELU
        | oc::QUANTIZE
        | oc::DEQUANTIZE => {
            // Only operands of the output's own shape: a band of the output reads the same
            // band of each of them (no broadcasting, no constant operand).
            let same = op.inputs.iter().all(|t| {
                t.is_some_and(|t| {
                    !g.tensors[t].is_const() && g.tensors[t].shape == g.tensors[out].shape
                })
            });
            (same && !act_inputs.is_empty()).then_some(RowMap::Elementwise)
        }
        _ => None,
    }
}

/// Every prefix of `g` that can run in bands, shortest first.
pub fn prefixes(g: &Graph<'_>) -> Vec<Prefix> {
    let mut out = Vec::new();
    // Readers of each tensor (operator positions).
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); g.tensors.len()];
    for (k, op) in g.ops.iter().enumerate() {
        for &t in op.inputs.iter().flatten() {
            readers[t].push(k);
        }
    }
    let mut produced = vec![false; g.tensors.len()];
    let mut input = None;
    for end in 1..=g.ops.len() {
        let op = &g.ops[end - 1];
        if row_map(g, op).is_none() {
            break;
        }
        for &t in op.inputs.iter().flatten() {
            if g.tensors[t].is_const() || produced[t] {
                continue;
            }
            // An activation from outside the prefix: it must be the graph input, and only one.
            if !g.inputs.contains(&t) || input.is_some_and(|i| i != t) {
                return out;
            }
            input = Some(t);
        }
        for &t in &op.outputs {
            produced[t] = true;
        }
        let Some(input) = input else { continue };
        // Exactly one produced tensor may be read after the prefix (or be a graph output).
        let escaping: Vec<usize> = (0..g.tensors.len())
            .filter(|&t| produced[t])
            .filter(|&t| g.outputs.contains(&t) || readers[t].iter().any(|&r| r >= end))
            .collect();
        if let [t] = escaping[..] {
            let inside = readers[t].iter().any(|&r| r < end);
            if !inside && !g.outputs.contains(&t) && !g.outputs.contains(&input) {
                out.push(Prefix {
                    end,
                    input,
                    output: t,
                    rows: g.tensors[t].shape[1],
                });
            }
        }
    }
    out
}

/// `[lo, hi)` rows; empty when `lo >= hi`.
type Rows = (usize, usize);

fn hull(a: Option<Rows>, b: Rows) -> Rows {
    a.map_or(b, |a| (a.0.min(b.0), a.1.max(b.1)))
}

/// Input rows output rows `rows` of an operator with row map `m` read, clipped to `in_h`.
fn input_rows(m: RowMap, rows: Rows, in_h: usize) -> Rows {
    match m {
        RowMap::Elementwise => rows,
        RowMap::Window {
            kernel,
            stride,
            dilation,
            pad_top,
            ..
        } => {
            let first = (rows.0 * stride).saturating_sub(pad_top);
            let last =
                ((rows.1 - 1) * stride + (kernel - 1) * dilation + 1).saturating_sub(pad_top);
            (first.min(in_h), last.min(in_h))
        }
    }
}

/// Splits `0..rows` into `bands` ranges as equal as possible.
pub fn band_rows(rows: usize, bands: usize) -> Vec<Rows> {
    let bands = bands.clamp(1, rows.max(1));
    (0..bands)
        .map(|b| (rows * b / bands, rows * (b + 1) / bands))
        .collect()
}

/// Bytes of one row of 4-D tensor `t`.
fn row_bytes(t: &GTensor<'_>) -> usize {
    t.shape[2] * t.shape[3] * t.dtype.map_or(1, |d| d.size_bytes())
}

/// Rewrites `g` so that `prefix` runs in `bands` bands; the rest of the graph is unchanged.
pub fn apply(g: &mut Graph<'_>, prefix: &Prefix, bands: usize) -> Result<PatchReport> {
    let err = |m: String| ConvertError::Model(format!("patch-based execution: {m}"));
    if prefix.end > g.ops.len() || bands < 1 || bands > prefix.rows {
        return Err(err(format!(
            "{bands} bands of a {}-row tensor after {} operators",
            prefix.rows, prefix.end
        )));
    }
    let ops: Vec<GOp<'_>> = g.ops[..prefix.end].to_vec();
    let maps: Vec<RowMap> = ops
        .iter()
        .map(|op| {
            row_map(g, op).ok_or_else(|| {
                err(format!(
                    "operator #{} {} cannot run in bands",
                    op.index, op.name
                ))
            })
        })
        .collect::<Result<_>>()?;
    let mut new_ops = Vec::new();
    let bands_rows = band_rows(prefix.rows, bands);
    let macs_before: u64 = ops.iter().map(|op| op_macs(g, op)).sum();
    let mut macs_after = 0u64;
    for (b, &band) in bands_rows.iter().enumerate() {
        // Backwards: the rows of every tensor this band needs.
        let mut need: HashMap<usize, Rows> = HashMap::new();
        need.insert(prefix.output, band);
        for (op, &m) in ops.iter().zip(&maps).rev() {
            let Some(&rows) = need.get(&op.outputs[0]) else {
                continue;
            };
            for &t in op.inputs.iter().flatten() {
                if g.tensors[t].is_const() {
                    continue;
                }
                let r = input_rows(m, rows, g.tensors[t].shape[1]);
                need.insert(t, hull(need.get(&t).copied(), r));
            }
        }
        // Forwards: one operator per prefix operator on the band's tensors.
        // Band tensor of each whole tensor: (graph index, its first row).
        let mut band_of: HashMap<usize, (usize, usize)> = HashMap::new();
        band_of.insert(prefix.input, (prefix.input, 0));
        for (op, &m) in ops.iter().zip(&maps) {
            let out = op.outputs[0];
            let Some(&(a, e)) = need.get(&out) else {
                continue;
            };
            if a >= e {
                continue;
            }
            let out_tile = if out == prefix.output {
                view(g, out, a, e - a, a)
            } else {
                let t = band_tensor(g, out, e - a, &format!("band {}", b + 1));
                band_of.insert(out, (t, a));
                t
            };
            let mut inputs = Vec::with_capacity(op.inputs.len());
            let mut pad_top = 0;
            for &t in &op.inputs {
                let Some(t) = t else {
                    inputs.push(None);
                    continue;
                };
                if g.tensors[t].is_const() {
                    inputs.push(Some(t));
                    continue;
                }
                let (tile, first) = band_of.get(&t).copied().ok_or_else(|| {
                    err(format!(
                        "tensor #{t} is read by operator #{} before any band writes it",
                        op.index
                    ))
                })?;
                let hull_end = need.get(&t).map_or(first, |r| r.1);
                let (v0, v1) = match m {
                    RowMap::Elementwise => (a, e),
                    RowMap::Window {
                        stride,
                        pad_top: pt,
                        ..
                    } => {
                        let start = (a * stride).saturating_sub(pt);
                        pad_top = (pt + start).saturating_sub(a * stride);
                        (start, hull_end)
                    }
                };
                if v1 <= v0 {
                    return Err(err(format!(
                        "operator #{} reads no rows of tensor #{t} for band {}",
                        op.index,
                        b + 1
                    )));
                }
                let whole = g.tensors[tile].shape[1];
                let v = if v0 == first && v1 - first == whole {
                    tile
                } else {
                    view(g, tile, v0 - first, v1 - v0, v0)
                };
                inputs.push(Some(v));
            }
            let mut clone = op.clone();
            clone.inputs = inputs;
            clone.outputs = vec![out_tile];
            clone.name = format!("{} (band {}/{})", op.name, b + 1, bands);
            if let RowMap::Window {
                dilation,
                pad_left,
                dilation_w,
                ..
            } = m
            {
                clone.dilated = Some(Dilated {
                    dilation: (dilation as i32, dilation_w),
                    pad: (pad_top, pad_left),
                });
            }
            macs_after += op_macs(g, &clone);
            new_ops.push(clone);
        }
    }
    let rest: Vec<GOp<'_>> = g.ops[prefix.end..].to_vec();
    new_ops.extend(rest);
    g.ops = new_ops;
    Ok(PatchReport {
        prefix_ops: ops.iter().map(|op| op.index).collect(),
        split_tensor: g.tensors[prefix.output].name.clone(),
        split_shape: g.tensors[prefix.output].shape.clone(),
        bands: bands_rows,
        prefix_macs: (macs_before, macs_after),
    })
}

/// A new activation tensor like `of` with `rows` rows.
fn band_tensor(g: &mut Graph<'_>, of: usize, rows: usize, what: &str) -> usize {
    let mut t = g.tensors[of].clone();
    t.index = g.tensors.len();
    t.name = format!("{} ({what})", t.name);
    t.shape[1] = rows;
    g.tensors.push(t);
    g.tensors.len() - 1
}

/// A view of `rows` rows of `parent` from its row `from` (row `global` of the whole tensor).
fn view(g: &mut Graph<'_>, parent: usize, from: usize, rows: usize, global: usize) -> usize {
    let byte_offset = from * row_bytes(&g.tensors[parent]);
    let t = band_tensor(
        g,
        parent,
        rows,
        &format!("rows {global}..{}", global + rows),
    );
    g.views.push(View {
        tensor: t,
        parent,
        byte_offset,
    });
    t
}

/// Multiply-accumulates of a convolution-like operator from its tensors' shapes (0 for the
/// element-wise ones), as the lowering counts them.
pub(crate) fn op_macs(g: &Graph<'_>, op: &GOp<'_>) -> u64 {
    // An operator without outputs (ASSIGN_VARIABLE, CALL_ONCE) computes nothing.
    let Some(out) = op.outputs.first().and_then(|&o| g.tensors.get(o)) else {
        return 0;
    };
    let elems = out.num_elements() as u64;
    let filter = op.inputs.get(1).copied().flatten().map(|f| &g.tensors[f]);
    match (op.code, filter) {
        (oc::CONV_2D, Some(f)) if f.shape.len() == 4 => {
            elems * (f.shape[1] * f.shape[2] * f.shape[3]) as u64
        }
        (oc::DEPTHWISE_CONV_2D, Some(f)) if f.shape.len() == 4 => {
            elems * (f.shape[1] * f.shape[2]) as u64
        }
        _ => 0,
    }
}

/// Most activation bytes alive at once when `g`'s operators run in order (views counted in
/// their whole tensor, the output of a RESHAPE, SQUEEZE or EXPAND_DIMS in its input, since the
/// lowering makes it an alias, an input read in place not at all), with each tensor rounded up
/// to the arena alignment: the arena no plan of `g` can go below.
pub fn activation_floor(g: &Graph<'_>, input_in_place: bool) -> usize {
    let mut root = g.view_roots();
    for op in &g.ops {
        if !matches!(op.code, oc::RESHAPE | oc::SQUEEZE | oc::EXPAND_DIMS) {
            continue;
        }
        if let ([out], Some(Some(input))) = (&op.outputs[..], op.inputs.first()) {
            if !g.tensors[*input].is_const() {
                root[*out] = root[*input];
            }
        }
    }
    // A view of an alias belongs to the alias's root.
    for t in 0..root.len() {
        root[t] = root[root[t]];
    }
    live_steps_with_roots(g, &root, input_in_place, ferrite_core::arena::ARENA_ALIGN)
        .into_iter()
        .max()
        .unwrap_or(0)
}

/// Most activation bytes alive at once when `g`'s operators run in order (views counted in
/// their whole tensor, every other tensor apart, an input read in place not at all), with
/// tensors rounded up to multiples of `align` bytes (1: exact).
pub(crate) fn live_peak(g: &Graph<'_>, input_in_place: bool, align: usize) -> usize {
    live_steps(g, input_in_place, align)
        .into_iter()
        .max()
        .unwrap_or(0)
}

/// Activation bytes alive while each operator of `g` runs (entry `ops.len()`: after the
/// last), tensors rounded up to multiples of `align` bytes.
pub(crate) fn live_steps(g: &Graph<'_>, input_in_place: bool, align: usize) -> Vec<usize> {
    live_steps_with_roots(g, &g.view_roots(), input_in_place, align)
}

/// [`live_steps`] with tensors sharing memory as `root` says (each tensor's root; only roots
/// count).
fn live_steps_with_roots(
    g: &Graph<'_>,
    root: &[usize],
    input_in_place: bool,
    align: usize,
) -> Vec<usize> {
    let align = |n: usize| n.div_ceil(align) * align;
    let n = g.ops.len();
    let mut live = vec![(usize::MAX, 0usize); g.tensors.len()];
    for &i in &g.inputs {
        live[root[i]].0 = 0;
    }
    for (k, op) in g.ops.iter().enumerate() {
        for &o in &op.outputs {
            live[root[o]].0 = live[root[o]].0.min(k);
            live[root[o]].1 = live[root[o]].1.max(k);
        }
        for &i in op.inputs.iter().flatten() {
            live[root[i]].1 = live[root[i]].1.max(k);
        }
    }
    for &o in &g.outputs {
        live[root[o]].1 = n;
    }
    let mut at = vec![0usize; n + 1];
    for (t, &(first, last)) in live.iter().enumerate() {
        let gt = &g.tensors[t];
        if gt.is_const() || first > last || root[t] != t {
            continue;
        }
        if input_in_place && g.inputs.first() == Some(&t) {
            continue;
        }
        let bytes = align(gt.num_elements() * gt.dtype.map_or(0, |d| d.size_bytes()));
        for b in &mut at[first..=last.min(n)] {
            *b += bytes;
        }
    }
    at
}
