//! Conversion-time evaluation of the plumbing a converter leaves in a graph.
//!
//! TensorFlow's converter keeps shape arithmetic for a Keras model with an unknown batch:
//! `Flatten` becomes `SHAPE → STRIDED_SLICE → PACK → RESHAPE`, and similar chains compute
//! `RESHAPE` targets, `FILL` dimensions or `BROADCAST_TO` shapes. Once the batch is fixed
//! ([`crate::graph::Graph::build_with_batch`]), every such operator depends only on constants
//! and static shapes, so the converter computes it here, stores its result as a constant and
//! drops the operator: the device graph is the same as for a model built with a fixed batch.
//!
//! An operator folds when its result is a function of constant inputs only (SHAPE and
//! ZEROS_LIKE need only their input's static shape) and it is one of
//! [`FOLDABLE`]. Byte-moving operators reuse the kernels' own reference functions on the
//! host; integer arithmetic is exact in `i64` and wraps to the output type as the kernels'
//! `int32` arithmetic does.

use crate::error::{ConvertError, Result};
use crate::graph::{GOp, Graph};
use crate::lower::shuffle::{broadcast_strides, dims6, strided_window};
use crate::tflite::opcodes as oc;
use crate::tflite::schema::{options, tensor_type};
use ferrite_core::ops::{BroadcastTo, Gather, StridedSlice, Transpose, MOVE_RANK};
use ferrite_core::{DType, TensorId};
use ferrite_kernels::ops::movement;
use std::borrow::Cow;

/// Operators the converter evaluates when their inputs are constant.
pub const FOLDABLE: &[&str] = &[
    "ADD",
    "BROADCAST_ARGS",
    "BROADCAST_TO",
    "CAST",
    "CONCATENATION",
    "DEQUANTIZE",
    "DIV",
    "EXPAND_DIMS",
    "FILL",
    "FLOOR_DIV",
    "FLOOR_MOD",
    "GATHER",
    "MAXIMUM",
    "MINIMUM",
    "MUL",
    "PACK",
    "RANGE",
    "REDUCE_PROD",
    "RESHAPE",
    "SHAPE",
    "SLICE",
    "SQUEEZE",
    "STRIDED_SLICE",
    "SUB",
    "SUM",
    "TRANSPOSE",
    "UNPACK",
    "ZEROS_LIKE",
];

/// Rewrites every `SPACE_TO_BATCH_ND → CONV_2D|DEPTHWISE_CONV_2D → BATCH_TO_SPACE_ND` chain
/// (how TensorFlow expresses a dilated convolution when the batch is unknown) as one dilated
/// convolution with explicit leading padding; returns how many were rewritten.
///
/// The chain computes exactly that convolution: the padded input's rows `y + k * block` are
/// the rows a stride-1 VALID convolution of sub-image `y mod block` reads, and the padding
/// SPACE_TO_BATCH_ND adds holds the zero point (int8) or 0, which is what the convolution's
/// own padding taps contribute. It applies only where nothing else reads the intermediate
/// tensors, the convolution has stride 1, dilation 1 and VALID padding, the block is 2-D
/// and positive, the leading crop does not exceed the leading padding, and the quantization
/// is carried unchanged through the byte-moving ends.
pub fn rewrite_dilated_convs(g: &mut Graph<'_>) -> usize {
    let mut readers = vec![0usize; g.tensors.len()];
    for op in &g.ops {
        for &i in op.inputs.iter().flatten() {
            readers[i] += 1;
        }
    }
    for &o in &g.outputs {
        readers[o] += 1;
    }
    let mut remove = vec![false; g.ops.len()];
    let mut rewritten = 0;
    for s in 0..g.ops.len() {
        let Some((c, b, dilated, x, y)) = dilated_chain(g, s, &readers) else {
            continue;
        };
        if remove[s] || remove[c] || remove[b] {
            continue;
        }
        let note = format!(
            "#{} SPACE_TO_BATCH_ND, #{} {}, #{} BATCH_TO_SPACE_ND: one convolution with dilation {:?}",
            g.ops[s].index, g.ops[c].index, g.ops[c].name, g.ops[b].index, dilated.dilation
        );
        g.folded.push(note);
        let conv = &mut g.ops[c];
        conv.inputs[0] = Some(x);
        conv.outputs = vec![y];
        conv.dilated = Some(dilated);
        remove[s] = true;
        remove[b] = true;
        rewritten += 1;
    }
    let mut k = 0;
    g.ops.retain(|_| {
        k += 1;
        !remove[k - 1]
    });
    rewritten
}

/// The chain starting at operator `s`, if it is one [`rewrite_dilated_convs`] rewrites:
/// `(conv op, batch-to-space op, dilation, conv input, chain output)`.
fn dilated_chain(
    g: &Graph<'_>,
    s: usize,
    readers: &[usize],
) -> Option<(usize, usize, crate::graph::Dilated, usize, usize)> {
    let s2b = &g.ops[s];
    if s2b.code != oc::SPACE_TO_BATCH_ND {
        return None;
    }
    let (x, block_t, pads_t) = (
        s2b.inputs.first()?.as_ref()?,
        s2b.inputs.get(1)?.as_ref()?,
        s2b.inputs.get(2)?.as_ref()?,
    );
    let t1 = *s2b.outputs.first()?;
    let block = ints(g, *block_t)?;
    let pads = ints(g, *pads_t)?;
    let (c, conv) = g
        .ops
        .iter()
        .enumerate()
        .skip(s + 1)
        .find(|(_, o)| o.inputs.first() == Some(&Some(t1)))?;
    if readers[t1] != 1 || !matches!(conv.code, oc::CONV_2D | oc::DEPTHWISE_CONV_2D) {
        return None;
    }
    let t2 = *conv.outputs.first()?;
    let (b, b2s) = g
        .ops
        .iter()
        .enumerate()
        .skip(c + 1)
        .find(|(_, o)| o.inputs.first() == Some(&Some(t2)))?;
    if readers[t2] != 1 || b2s.code != oc::BATCH_TO_SPACE_ND {
        return None;
    }
    let crops = ints(g, *b2s.inputs.get(2)?.as_ref()?)?;
    if ints(g, *b2s.inputs.get(1)?.as_ref()?)? != block {
        return None;
    }
    let (&[bh, bw], &[pt, _, pl, _], &[ct, _, cl, _]) =
        (block.as_slice(), pads.as_slice(), crops.as_slice())
    else {
        return None;
    };
    // Options: CONV_2D (padding, stride_w, stride_h, act, dil_w, dil_h) and DEPTHWISE
    // (padding, stride_w, stride_h, multiplier, act, dil_w, dil_h) put padding and strides
    // first; the dilations follow at fields 4/5 or 5/6.
    let o = conv.options;
    let dil_field = if conv.code == oc::CONV_2D { 4 } else { 5 };
    let valid = options::byte(o, 0, 0).ok()? == options::PADDING_VALID;
    let strides = (options::int(o, 1, 0).ok()?, options::int(o, 2, 0).ok()?);
    let dils = (
        options::int(o, dil_field, 1).ok()?,
        options::int(o, dil_field + 1, 1).ok()?,
    );
    if !valid || strides != (1, 1) || dils != (1, 1) || bh < 1 || bw < 1 || pt < ct || pl < cl {
        return None;
    }
    let y = *b2s.outputs.first()?;
    let (tx, ty) = (&g.tensors[*x], &g.tensors[y]);
    if g.tensors[t1].quant != tx.quant || g.tensors[t2].quant != ty.quant || tx.shape.len() != 4 {
        return None;
    }
    let dilated = crate::graph::Dilated {
        dilation: (i32::try_from(bh).ok()?, i32::try_from(bw).ok()?),
        pad: (
            usize::try_from(pt - ct).ok()?,
            usize::try_from(pl - cl).ok()?,
        ),
    };
    Some((c, b, dilated, *x, y))
}

/// Folds every foldable operator of `g`, in order (a folded result can make its consumers
/// foldable), removing it from `g.ops`; returns how many were folded.
pub fn fold(g: &mut Graph<'_>) -> Result<usize> {
    let ops = std::mem::take(&mut g.ops);
    let mut kept = Vec::with_capacity(ops.len());
    let mut folded = 0;
    for op in ops {
        match try_fold(g, &op) {
            Ok(Some(results)) => {
                for (out, data) in op.outputs.iter().zip(results) {
                    g.tensors[*out].data = Some(Cow::Owned(data));
                }
                g.folded.push(format!(
                    "#{} {}: evaluated at conversion",
                    op.index, op.name
                ));
                folded += 1;
            }
            Ok(None) => kept.push(op),
            Err(message) => {
                return Err(ConvertError::Operator {
                    index: op.index,
                    op: op.name.clone(),
                    message: format!("while evaluating it at conversion time: {message}"),
                })
            }
        }
    }
    g.ops = kept;
    Ok(folded)
}

/// A constant integer tensor's values (any integer or bool type).
fn ints(g: &Graph<'_>, i: usize) -> Option<Vec<i64>> {
    let t = &g.tensors[i];
    let d = t.data.as_deref()?;
    Some(match t.type_code {
        tensor_type::INT32 => d
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
            .collect(),
        tensor_type::INT64 => d
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        tensor_type::INT8 => d.iter().map(|&b| b as i8 as i64).collect(),
        tensor_type::UINT8 | tensor_type::BOOL => d.iter().map(|&b| b as i64).collect(),
        tensor_type::INT16 => d
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
            .collect(),
        _ => return None,
    })
}

/// `values` as little-endian bytes of integer type `code` (wrapping, as a C cast does).
fn int_bytes(code: u8, values: &[i64]) -> Option<Vec<u8>> {
    Some(match code {
        tensor_type::INT32 => values
            .iter()
            .flat_map(|&v| (v as i32).to_le_bytes())
            .collect(),
        tensor_type::INT64 => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        tensor_type::INT8 | tensor_type::UINT8 => values.iter().map(|&v| v as u8).collect(),
        tensor_type::BOOL => values.iter().map(|&v| u8::from(v != 0)).collect(),
        tensor_type::INT16 => values
            .iter()
            .flat_map(|&v| (v as i16).to_le_bytes())
            .collect(),
        _ => return None,
    })
}

/// A constant float32 tensor's values.
fn floats(g: &Graph<'_>, i: usize) -> Option<Vec<f32>> {
    let t = &g.tensors[i];
    if t.type_code != tensor_type::FLOAT32 {
        return None;
    }
    Some(
        t.data
            .as_deref()?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Largest constant the folder computes: beyond the flash of any microcontroller.
const MAX_FOLDED_BYTES: usize = 16 << 20;

/// Bytes per element of a stored tensor type (1 for the byte-sized and unknown ones).
fn elem_bytes(code: u8) -> usize {
    match code {
        tensor_type::INT64 => 8,
        tensor_type::INT32 | tensor_type::FLOAT32 => 4,
        tensor_type::INT16 | tensor_type::FLOAT16 => 2,
        _ => 1,
    }
}

/// The result of folding `op`: one byte buffer per output, `None` if it does not fold,
/// `Err` for an operator whose constant evaluation is impossible (a broken model).
fn try_fold(g: &Graph<'_>, op: &GOp<'_>) -> std::result::Result<Option<Vec<Vec<u8>>>, String> {
    if !FOLDABLE.contains(&op.name.as_str()) {
        return Ok(None);
    }
    let shape_only = matches!(op.code, oc::SHAPE | oc::ZEROS_LIKE);
    let inputs: Vec<usize> = op.inputs.iter().flatten().copied().collect();
    let all_const = inputs.iter().all(|&i| g.tensors[i].is_const());
    let arity = match op.code {
        oc::STRIDED_SLICE => 4,
        oc::SLICE | oc::RANGE => 3,
        oc::ADD
        | oc::SUB
        | oc::MUL
        | oc::DIV
        | oc::FLOOR_DIV
        | oc::FLOOR_MOD
        | oc::MAXIMUM
        | oc::MINIMUM
        | oc::BROADCAST_ARGS
        | oc::REDUCE_PROD
        | oc::SUM
        | oc::FILL
        | oc::BROADCAST_TO
        | oc::TRANSPOSE
        | oc::GATHER => 2,
        _ => 1,
    };
    // Too few inputs: left to the lowering, whose arity check names the problem.
    if inputs.len() < arity || !(all_const || shape_only) {
        return Ok(None);
    }
    // Every output's type must be one Ferrite knows (its bytes are what lowering reads).
    if op
        .outputs
        .iter()
        .any(|&o| g.tensors[o].dtype.is_none() && g.tensors[o].type_code != tensor_type::FLOAT16)
    {
        return Ok(None);
    }
    // A folded result becomes flash: refuse sizes no microcontroller has before allocating them
    // (hostile shapes would otherwise make the host allocate gigabytes).
    for &o in &op.outputs {
        let bytes = g.tensors[o]
            .num_elements()
            .saturating_mul(elem_bytes(g.tensors[o].type_code));
        if bytes > MAX_FOLDED_BYTES {
            return Err(format!(
                "its output {} would be a {bytes}-byte constant, more than the \
                 {MAX_FOLDED_BYTES} bytes of flash any microcontroller has",
                g.tensors[o].describe(),
            ));
        }
    }
    let out0 = *op.outputs.first().ok_or("no output")?;
    let out = &g.tensors[out0];
    let in0 = inputs[0];
    let input = &g.tensors[in0];
    let elem = elem_bytes;
    let check_len = |data: Vec<u8>, t: usize| -> std::result::Result<Vec<u8>, String> {
        let want = g.tensors[t].num_elements() * elem(g.tensors[t].type_code);
        if data.len() != want {
            return Err(format!(
                "computed {} bytes for output {} but its shape {:?} needs {want}",
                data.len(),
                g.tensors[t].describe(),
                g.tensors[t].shape
            ));
        }
        Ok(data)
    };
    let result: Vec<Vec<u8>> = match op.code {
        oc::SHAPE => {
            let dims: Vec<i64> = input.shape.iter().map(|&d| d as i64).collect();
            vec![int_bytes(out.type_code, &dims).ok_or("SHAPE output must be int32 or int64")?]
        }
        // Zero is all-zero bytes in every type Ferrite stores (0.0f32 included).
        oc::ZEROS_LIKE => vec![vec![0u8; out.num_elements() * elem(out.type_code)]],
        oc::RESHAPE | oc::SQUEEZE | oc::EXPAND_DIMS => vec![input.bytes().to_vec()],
        oc::CAST => vec![cast(g, in0, out.type_code).ok_or("unsupported CAST types")?],
        oc::DEQUANTIZE => vec![dequantize(g, in0).ok_or("unsupported DEQUANTIZE input")?],
        oc::ADD
        | oc::SUB
        | oc::MUL
        | oc::DIV
        | oc::FLOOR_DIV
        | oc::FLOOR_MOD
        | oc::MAXIMUM
        | oc::MINIMUM => {
            // Shape arithmetic is integer; a float or quantized one runs on the device.
            let ty = input.type_code;
            if !matches!(ty, tensor_type::INT32 | tensor_type::INT64)
                || inputs.len() != 2
                || g.tensors[inputs[1]].type_code != ty
            {
                return Ok(None);
            }
            if matches!(op.code, oc::ADD | oc::SUB | oc::MUL | oc::DIV) {
                // A fused activation on integer arithmetic: leave it to the device.
                if options::byte(op.options, 0, 0).map_err(|e| e.to_string())? != 0 {
                    return Ok(None);
                }
            }
            vec![int_binary(g, op.code, inputs[0], inputs[1], out0)?]
        }
        oc::BROADCAST_ARGS => {
            let (a, b) = (
                ints(g, in0).ok_or("non-integer")?,
                ints(g, inputs[1]).ok_or("non-integer")?,
            );
            let n = a.len().max(b.len());
            let at = |v: &[i64], k: usize| {
                if k + v.len() >= n {
                    v[k + v.len() - n]
                } else {
                    1
                }
            };
            let mut r = Vec::with_capacity(n);
            for k in 0..n {
                let (x, y) = (at(&a, k), at(&b, k));
                r.push(if x == 1 {
                    y
                } else if y == 1 || x == y {
                    x
                } else {
                    return Err(format!("shapes {a:?} and {b:?} do not broadcast"));
                });
            }
            vec![int_bytes(out.type_code, &r).ok_or("unsupported type")?]
        }
        oc::RANGE => {
            if inputs.len() != 3 {
                return Ok(None);
            }
            let v = |k: usize| ints(g, inputs[k]).and_then(|x| x.first().copied());
            let (Some(start), Some(limit), Some(delta)) = (v(0), v(1), v(2)) else {
                return Ok(None);
            };
            if delta == 0 {
                return Err("RANGE with delta 0".into());
            }
            let mut r = Vec::new();
            let mut x = start;
            while (delta > 0 && x < limit) || (delta < 0 && x > limit) {
                r.push(x);
                x += delta;
                if r.len() > out.num_elements() {
                    break;
                }
            }
            vec![int_bytes(out.type_code, &r).ok_or("unsupported type")?]
        }
        oc::REDUCE_PROD | oc::SUM => {
            let Some(vals) = ints(g, in0) else {
                return Ok(None);
            };
            let axes = ints(g, inputs[1]).ok_or("non-integer axes")?;
            vec![int_reduce(&input.shape, &vals, &axes, op.code == oc::SUM)
                .and_then(|r| int_bytes(out.type_code, &r))
                .ok_or("bad reduction axes")?]
        }
        oc::FILL => {
            let value = g.tensors[inputs[1]].bytes();
            if value.len() != elem(out.type_code) {
                return Err(format!(
                    "FILL's value has {} bytes where one {}-byte element is needed",
                    value.len(),
                    elem(out.type_code)
                ));
            }
            vec![value.repeat(out.num_elements())]
        }
        oc::BROADCAST_TO => {
            let eb = elem(input.type_code);
            let strides =
                broadcast_strides(&input.shape, &out.shape).ok_or("does not broadcast")?;
            let p = BroadcastTo {
                input: TensorId(0),
                output: TensorId(0),
                elem_bytes: eb as u32,
                out_dims: dims6(&out.shape).ok_or("rank above 6")?,
                in_strides: strides,
            };
            let mut o = vec![0u8; out.num_elements() * eb];
            if !movement::broadcast_to(&p, input.bytes(), &mut o) {
                return Err("broadcast outside its input".into());
            }
            vec![o]
        }
        oc::TRANSPOSE => {
            let perm = ints(g, inputs[1]).ok_or("non-integer perm")?;
            let pad = MOVE_RANK.checked_sub(perm.len()).ok_or("rank above 6")?;
            let mut p6 = [0u8; MOVE_RANK];
            for (k, p) in p6.iter_mut().enumerate() {
                *p = if k < pad {
                    k as u8
                } else {
                    let a = perm[k - pad];
                    if a < 0 || a as usize >= perm.len() {
                        return Err(format!("bad permutation {perm:?}"));
                    }
                    (a as usize + pad) as u8
                };
            }
            let eb = elem(input.type_code);
            let p = Transpose {
                input: TensorId(0),
                output: TensorId(0),
                elem_bytes: eb as u32,
                in_dims: dims6(&input.shape).ok_or("rank above 6")?,
                perm: p6,
            };
            let mut o = vec![0u8; input.num_elements() * eb];
            if !movement::transpose(&p, input.bytes(), &mut o) {
                return Err("transpose outside its input".into());
            }
            vec![o]
        }
        oc::STRIDED_SLICE | oc::SLICE => {
            let rank = input.shape.len();
            let begin = ints(g, inputs[1]).ok_or("non-integer begin")?;
            let (out_dims, start, stride) = if op.code == oc::SLICE {
                let size = ints(g, inputs[2]).ok_or("non-integer size")?;
                if begin.len() != rank || size.len() != rank {
                    return Err("begin/size rank mismatch".into());
                }
                let mut od = Vec::new();
                for k in 0..rank {
                    let n = if size[k] == -1 {
                        input.shape[k] as i64 - begin[k]
                    } else {
                        size[k]
                    };
                    if begin[k] < 0 || n < 0 || begin[k] + n > input.shape[k] as i64 {
                        return Err("slice outside its input".into());
                    }
                    od.push(n as usize);
                }
                (
                    od,
                    begin.iter().map(|&b| b as usize).collect(),
                    vec![1i64; rank],
                )
            } else {
                let end = ints(g, inputs[2]).ok_or("non-integer end")?;
                let strides = ints(g, inputs[3]).ok_or("non-integer strides")?;
                if begin.len() != rank || end.len() != rank || strides.len() != rank {
                    return Err("begin/end/strides rank mismatch".into());
                }
                let o = op.options;
                let masks = (
                    options::int(o, 0, 0).map_err(|e| e.to_string())?,
                    options::int(o, 1, 0).map_err(|e| e.to_string())?,
                    options::int(o, 4, 0).map_err(|e| e.to_string())?,
                    false,
                );
                strided_window(&input.shape, &begin, &end, &strides, masks)?.0
            };
            vec![window(
                input,
                &out_dims,
                &start,
                &stride,
                elem(input.type_code),
            )?]
        }
        oc::GATHER => {
            let axis = options::int(op.options, 0, 0).map_err(|e| e.to_string())? as i64;
            let rank = input.shape.len() as i64;
            let axis = if axis < 0 { axis + rank } else { axis };
            if axis < 0
                || axis >= rank
                || options::int(op.options, 1, 0).map_err(|e| e.to_string())? != 0
            {
                return Ok(None);
            }
            let axis = axis as usize;
            let idx = &g.tensors[inputs[1]];
            let index_type = match idx.type_code {
                tensor_type::INT32 => DType::I32,
                tensor_type::INT64 => DType::I64,
                _ => return Err("indices must be int32 or int64".into()),
            };
            let eb = elem(input.type_code);
            let p = Gather {
                params: TensorId(0),
                indices: TensorId(0),
                output: TensorId(0),
                elem_bytes: eb as u32,
                index_type,
                batch: 1,
                outer: input.shape[..axis].iter().product::<usize>() as u32,
                axis_size: input.shape[axis] as u32,
                inner: input.shape[axis + 1..].iter().product::<usize>() as u32,
                coords: idx.num_elements() as u32,
                dequant: ferrite_core::ConstRef::EMPTY,
            };
            let n = input.num_elements() / input.shape[axis].max(1) * idx.num_elements();
            let mut o = vec![0u8; n * eb];
            movement::gather(&p, input.bytes(), idx.bytes(), &mut o)
                .ok_or("gather index out of range")?;
            vec![o]
        }
        oc::CONCATENATION | oc::PACK => {
            let axis = if op.code == oc::PACK {
                options::int(op.options, 1, 0)
            } else {
                options::int(op.options, 0, 0)
            }
            .map_err(|e| e.to_string())? as i64;
            let rank = out.shape.len() as i64;
            let axis = if axis < 0 { axis + rank } else { axis };
            if axis < 0 || axis >= rank {
                return Err(format!("axis {axis} out of range"));
            }
            let axis = axis as usize;
            let outer: usize = out.shape[..axis].iter().product();
            let parts: Vec<&[u8]> = inputs.iter().map(|&i| g.tensors[i].bytes()).collect();
            let mut o = Vec::with_capacity(out.num_elements() * elem(out.type_code));
            for r in 0..outer {
                for p in &parts {
                    let chunk = p.len() / outer.max(1);
                    o.extend_from_slice(p.get(r * chunk..(r + 1) * chunk).ok_or("bad part")?);
                }
            }
            vec![o]
        }
        oc::UNPACK => {
            let rank = input.shape.len() as i64;
            let axis = options::int(op.options, 1, 0).map_err(|e| e.to_string())? as i64;
            let axis = if axis < 0 { axis + rank } else { axis };
            if axis < 0 || axis >= rank {
                return Err(format!("axis {axis} out of range"));
            }
            let axis = axis as usize;
            let mut outs = Vec::new();
            for k in 0..op.outputs.len() {
                let mut od = input.shape.clone();
                od[axis] = 1;
                let mut start = vec![0usize; input.shape.len()];
                start[axis] = k;
                outs.push(window(
                    input,
                    &od,
                    &start,
                    &vec![1; od.len()],
                    elem(input.type_code),
                )?);
            }
            outs
        }
        _ => return Ok(None),
    };
    if result.len() != op.outputs.len() {
        return Err("wrong number of results".into());
    }
    result
        .into_iter()
        .zip(&op.outputs)
        .map(|(d, &t)| check_len(d, t))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
}

/// The strided window `(out_dims, start, stride)` of a constant, via the kernel's function.
fn window(
    input: &crate::graph::GTensor<'_>,
    out_dims: &[usize],
    start: &[usize],
    stride: &[i64],
    eb: usize,
) -> std::result::Result<Vec<u8>, String> {
    let pad = MOVE_RANK
        .checked_sub(input.shape.len())
        .ok_or("rank above 6")?;
    let mut s6 = [0u32; MOVE_RANK];
    let mut st6 = [1i32; MOVE_RANK];
    let mut o6 = [1u32; MOVE_RANK];
    for k in 0..input.shape.len() {
        s6[pad + k] = start[k] as u32;
        st6[pad + k] = stride[k] as i32;
        o6[pad + k] = out_dims[k] as u32;
    }
    let p = StridedSlice {
        input: TensorId(0),
        output: TensorId(0),
        elem_bytes: eb as u32,
        in_dims: dims6(&input.shape).ok_or("rank above 6")?,
        out_dims: o6,
        start: s6,
        stride: st6,
    };
    let n: usize = out_dims.iter().product();
    let mut o = vec![0u8; n * eb];
    if n > 0 && !movement::strided_slice(&p, input.bytes(), &mut o) {
        return Err("slice outside its input".into());
    }
    Ok(o)
}

/// Integer binary arithmetic with broadcasting, as TFLite's int32/int64 kernels compute it
/// (C division truncates; FLOOR_DIV/FLOOR_MOD round towards negative infinity).
fn int_binary(
    g: &Graph<'_>,
    code: i32,
    a: usize,
    b: usize,
    out: usize,
) -> std::result::Result<Vec<u8>, String> {
    let (ta, tb, to) = (&g.tensors[a], &g.tensors[b], &g.tensors[out]);
    let (va, vb) = (
        ints(g, a).ok_or("non-integer")?,
        ints(g, b).ok_or("non-integer")?,
    );
    let sa = broadcast_strides(&ta.shape, &to.shape).ok_or("operands do not broadcast")?;
    let sb = broadcast_strides(&tb.shape, &to.shape).ok_or("operands do not broadcast")?;
    let od = dims6(&to.shape).ok_or("rank above 6")?;
    let n = to.num_elements();
    let wrap32 = to.type_code == tensor_type::INT32;
    let mut r = Vec::with_capacity(n);
    for flat in 0..n {
        let (mut ia, mut ib, mut rest) = (0usize, 0usize, flat);
        for k in (0..MOVE_RANK).rev() {
            let i = rest % od[k] as usize;
            rest /= od[k] as usize;
            ia += i * sa[k] as usize;
            ib += i * sb[k] as usize;
        }
        let (x, y) = (va[ia], vb[ib]);
        let v = match code {
            oc::ADD => x.wrapping_add(y),
            oc::SUB => x.wrapping_sub(y),
            oc::MUL => x.wrapping_mul(y),
            oc::MAXIMUM => x.max(y),
            oc::MINIMUM => x.min(y),
            _ if y == 0 => return Err("integer division by zero".into()),
            oc::DIV => x.wrapping_div(y),
            oc::FLOOR_DIV => {
                let q = x.wrapping_div(y);
                if x % y != 0 && ((x < 0) != (y < 0)) {
                    q - 1
                } else {
                    q
                }
            }
            _ => {
                let m = x % y;
                if m != 0 && ((m < 0) != (y < 0)) {
                    m + y
                } else {
                    m
                }
            }
        };
        r.push(if wrap32 { v as i32 as i64 } else { v });
    }
    int_bytes(to.type_code, &r).ok_or_else(|| "unsupported type".into())
}

/// Product or sum of `vals` (shape `shape`) over `axes`, keeping the other axes in order.
fn int_reduce(shape: &[usize], vals: &[i64], axes: &[i64], sum: bool) -> Option<Vec<i64>> {
    let rank = shape.len() as i64;
    let mut reduced = vec![false; shape.len()];
    for &a in axes {
        let a = if a < 0 { a + rank } else { a };
        *reduced.get_mut(usize::try_from(a).ok()?)? = true;
    }
    let out_n: usize = shape
        .iter()
        .zip(&reduced)
        .filter(|(_, &r)| !r)
        .map(|(&d, _)| d)
        .product();
    let mut out = vec![if sum { 0i64 } else { 1 }; out_n];
    for (flat, &v) in vals.iter().enumerate() {
        let (mut rest, mut o, mut scale) = (flat, 0usize, 1usize);
        for k in (0..shape.len()).rev() {
            let i = rest % shape[k];
            rest /= shape[k];
            if !reduced[k] {
                o += i * scale;
                scale *= shape[k];
            }
        }
        let slot = out.get_mut(o)?;
        *slot = if sum {
            slot.wrapping_add(v)
        } else {
            slot.wrapping_mul(v)
        };
    }
    Some(out)
}

/// CAST of a constant to type code `to` (C conversions: float → int truncates).
fn cast(g: &Graph<'_>, i: usize, to: u8) -> Option<Vec<u8>> {
    if let Some(f) = floats(g, i) {
        return match to {
            tensor_type::FLOAT32 => Some(g.tensors[i].bytes().to_vec()),
            tensor_type::BOOL => Some(f.iter().map(|&x| u8::from(x != 0.0)).collect()),
            _ => int_bytes(to, &f.iter().map(|&x| x as i64).collect::<Vec<_>>()),
        };
    }
    let v = ints(g, i)?;
    if to == tensor_type::FLOAT32 {
        return Some(v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect());
    }
    int_bytes(to, &v)
}

/// DEQUANTIZE of a constant: float16 → float32 (exact), or int8/int16 with per-tensor or
/// per-channel scale as TFLM's reference (`scale * (q - zero_point)` in double, then float).
fn dequantize(g: &Graph<'_>, i: usize) -> Option<Vec<u8>> {
    let t = &g.tensors[i];
    if t.type_code == tensor_type::FLOAT16 {
        return Some(
            t.bytes()
                .chunks_exact(2)
                .flat_map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])).to_le_bytes())
                .collect(),
        );
    }
    let q = t.quant.as_ref()?;
    let v = ints(g, i)?;
    let channels = q.scales.len().max(1);
    let inner: usize = if q.per_channel() {
        t.shape.get(q.axis + 1..)?.iter().product()
    } else {
        v.len().max(1)
    };
    Some(
        v.iter()
            .enumerate()
            .flat_map(|(k, &x)| {
                let c = if q.per_channel() {
                    (k / inner.max(1)) % channels
                } else {
                    0
                };
                let scale = q.scales.get(c).copied().unwrap_or(1.0) as f64;
                let zp = q.zero_points.get(c).copied().unwrap_or(0) as i64;
                ((scale * (x - zp) as f64) as f32).to_le_bytes()
            })
            .collect(),
    )
}

/// IEEE half to single precision (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let shift = f.leading_zeros() - 21;
            let f = (f << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (f << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0200), 2f32.powi(-15));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    }

    #[test]
    fn integer_reductions_keep_the_other_axes() {
        // [2, 3]: product over axis 1, sum over axis 0.
        let v = [1, 2, 3, 4, 5, 6];
        assert_eq!(int_reduce(&[2, 3], &v, &[1], false), Some(vec![6, 120]));
        assert_eq!(int_reduce(&[2, 3], &v, &[0], true), Some(vec![5, 7, 9]));
        assert_eq!(int_reduce(&[2, 3], &v, &[-1, 0], true), Some(vec![21]));
        assert_eq!(int_reduce(&[2, 3], &v, &[2], true), None);
    }
}
