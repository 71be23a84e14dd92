//! In-place depthwise convolutions: where the output may overwrite its own input.
//!
//! A depthwise convolution reads each input channel only for the same output channel, and
//! output row `y` reads input rows `y * stride - pad + k * dilation`. Run row by row with the
//! rows of the current window kept in a small scratch (`ferrite_core::ops::DepthwiseInPlaceI8`),
//! it can write output row `y` over the input's first bytes as long as every input row has
//! entered the window (been copied) before an output row's bytes cover it. Then input and
//! output share one buffer and the layer needs `max(input, output)` bytes instead of their sum
//! (TinyEngine's in-place depthwise, here with TFLite's exact arithmetic). This module finds
//! the layers where that holds and the input is read by no one else.

use crate::graph::{Graph, View};
use crate::tflite::opcodes as oc;
use crate::tflite::schema::options;

/// True when the operator at `pos` in `g` may run in place: an int8 DEPTHWISE_CONV_2D with
/// depth multiplier 1 and batch 1, whose input is an activation read by this operator only
/// (not a graph input or output, not a view or viewed), and whose rows all enter the window
/// before an output row overwrites them.
pub fn eligible(g: &Graph<'_>, pos: usize, readers: &[usize]) -> bool {
    let Some(op) = g.ops.get(pos) else {
        return false;
    };
    if op.code != oc::DEPTHWISE_CONV_2D || op.outputs.len() != 1 {
        return false;
    }
    let (Some(Some(input)), Some(Some(filter))) = (op.inputs.first(), op.inputs.get(1)) else {
        return false;
    };
    let (input, filter, output) = (*input, *filter, op.outputs[0]);
    let (ti, tf, to) = (&g.tensors[input], &g.tensors[filter], &g.tensors[output]);
    let int8 = |t: &crate::graph::GTensor<'_>| t.dtype == Some(ferrite_core::DType::I8);
    if !(int8(ti) && int8(to) && int8(tf))
        || ti.is_const()
        || ti.shape.len() != 4
        || to.shape.len() != 4
        || tf.shape.len() != 4
        || ti.shape[0] != 1
        || ti.shape[3] != to.shape[3]
        || readers.get(input).copied() != Some(1)
        || g.inputs.contains(&input)
        || g.outputs.contains(&input)
        || g.outputs.contains(&output)
        || g.views.iter().any(|v| {
            [v.tensor, v.parent].contains(&input) || [v.tensor, v.parent].contains(&output)
        })
    {
        return false;
    }
    let Ok(o) = options::depthwise_conv2d(op.options) else {
        return false;
    };
    let k_h = tf.shape[1];
    let dil = op.dilated.map_or(o.dilation_h, |d| d.dilation.0);
    let (Ok(stride), Ok(dil)) = (usize::try_from(o.stride_h), usize::try_from(dil)) else {
        return false;
    };
    if stride == 0 || dil == 0 || k_h == 0 {
        return false;
    }
    let pad = match op.dilated {
        Some(d) => d.pad.0,
        None => {
            match crate::lower::out_size_and_padding(o.padding, ti.shape[1], k_h, stride, dil) {
                Some((_, p)) => p,
                None => return false,
            }
        }
    };
    rows_enter_before_overwrite(
        ti.shape[1],
        to.shape[1],
        ti.shape[2] * ti.shape[3],
        to.shape[2] * to.shape[3],
        (k_h - 1) * dil + 1,
        stride,
        pad,
    )
}

/// The kernel's safety condition: input row `r` is copied into the window when output row
/// `ceil((r + pad + 1 - span) / stride)` starts and first overwritten by the first output row
/// whose bytes reach it; the first must not come after the second. Rows no window reads never
/// matter.
fn rows_enter_before_overwrite(
    in_h: usize,
    out_h: usize,
    in_row: usize,
    out_row: usize,
    span: usize,
    stride: usize,
    pad: usize,
) -> bool {
    if in_row == 0 || out_row == 0 {
        return false;
    }
    (0..in_h).all(|r| {
        // Output rows whose window holds row r: oy * stride - pad <= r < oy * stride - pad + span.
        let enter = (r + pad + 1).saturating_sub(span).div_ceil(stride);
        if enter >= out_h || enter * stride > r + pad {
            return true; // no output row reads it
        }
        // First output row whose bytes [oy * out_row, (oy + 1) * out_row) meet the row's bytes.
        let overwrite = (r * in_row) / out_row;
        overwrite >= out_h || enter <= overwrite
    })
}

/// How many operators read each tensor of `g`.
pub fn readers(g: &Graph<'_>) -> Vec<usize> {
    let mut n = vec![0usize; g.tensors.len()];
    for op in &g.ops {
        for &t in op.inputs.iter().flatten() {
            n[t] += 1;
        }
    }
    n
}

/// Positions in `g.ops` of the depthwise convolutions that may run in place.
pub fn candidates(g: &Graph<'_>) -> Vec<usize> {
    let r = readers(g);
    (0..g.ops.len()).filter(|&p| eligible(g, p, &r)).collect()
}

/// Makes the output of each operator at `positions` a view of its input (same bytes, offset
/// 0): the arena then gives them one buffer, as running them in place needs.
pub fn merge_views(g: &mut Graph<'_>, positions: &[usize]) {
    for &p in positions {
        let op = &g.ops[p];
        if let (Some(Some(input)), Some(&output)) = (op.inputs.first(), op.outputs.first()) {
            let v = View {
                tensor: output,
                parent: *input,
                byte_offset: 0,
            };
            g.views.push(v);
        }
    }
}

/// The fewest in-place candidates (in execution order) that bring every step where one runs
/// down to `limit` activation bytes or below: each chosen where the bytes alive still exceed
/// the limit. In-place layers run a slower kernel, so a budget takes only those it needs.
pub fn needed(g: &Graph<'_>, input_in_place: bool, limit: usize) -> Vec<usize> {
    let all = candidates(g);
    let mut chosen: Vec<usize> = Vec::new();
    loop {
        let mut merged = g.clone();
        merge_views(&mut merged, &chosen);
        let live =
            crate::patch::live_steps(&merged, input_in_place, ferrite_core::arena::ARENA_ALIGN);
        let next = all
            .iter()
            .copied()
            .find(|p| !chosen.contains(p) && live.get(*p).is_some_and(|&b| b > limit));
        match next {
            Some(p) => chosen.push(p),
            None => return chosen,
        }
    }
}
