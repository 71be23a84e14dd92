//! Data movement by index, generic over the element size (`kernels::ops::movement`):
//! TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, PACK, GATHER, GATHER_ND,
//! EMBEDDING_LOOKUP, REVERSE_V2, SPACE_TO_DEPTH, DEPTH_TO_SPACE, BROADCAST_TO, FILL,
//! MIRROR_PAD, SELECT_V2 and DYNAMIC_UPDATE_SLICE.
//!
//! Everything that depends only on shapes and constant operands (permutations, slice
//! windows, split sizes, gather geometry, broadcast strides) is resolved here, as TFLM's
//! `Prepare` does; the kernels only move bytes. These operators copy int8 data without
//! rescaling in TFLM as well, so the output's quantization is the input's by construction.

use super::*;
use ferrite_core::ops::MOVE_RANK;

/// `dims` padded on the left with 1s to [`MOVE_RANK`] axes, or `None` above that rank.
pub(crate) fn dims6(dims: &[usize]) -> Option<[u32; MOVE_RANK]> {
    if dims.len() > MOVE_RANK {
        return None;
    }
    let mut out = [1u32; MOVE_RANK];
    for (o, &d) in out[MOVE_RANK - dims.len()..].iter_mut().zip(dims) {
        *o = u32::try_from(d).ok()?;
    }
    Some(out)
}

/// Row-major strides (in elements) of `dims`.
fn strides_of(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; dims.len()];
    for k in (0..dims.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1] * dims[k + 1];
    }
    s
}

/// Broadcast strides of an input of shape `dims` read over `out` (both right-aligned, padded
/// to [`MOVE_RANK`]): its own strides, 0 along axes where it has size 1. `None` if the shapes
/// do not broadcast.
pub(crate) fn broadcast_strides(dims: &[usize], out: &[usize]) -> Option<[u32; MOVE_RANK]> {
    if dims.len() > out.len() || out.len() > MOVE_RANK {
        return None;
    }
    let own = strides_of(dims);
    let mut s = [0u32; MOVE_RANK];
    let shift = MOVE_RANK - dims.len();
    let out_shift = out.len() - dims.len();
    for (k, (&d, &st)) in dims.iter().zip(&own).enumerate() {
        let o = out[out_shift + k];
        if d == o {
            s[shift + k] = u32::try_from(st).ok()?;
        } else if d != 1 {
            return None;
        }
    }
    Some(s)
}

/// A negative axis counted from the end, checked against `rank`.
fn norm_axis(cx: &OpCx<'_, '_, '_>, axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return Err(cx.err(format!("axis {axis} out of range for rank {rank}")));
    }
    Ok(a as usize)
}

impl<'g, 'a> Lowerer<'g, 'a> {
    /// The element type shared by `input` and `output` (any type Ferrite has), the output's
    /// type checked.
    fn moved_type(
        &self,
        cx: &OpCx<'_, '_, '_>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
    ) -> Result<DType> {
        let dtype = cx.dtype(input, "input")?;
        if output.type_code != input.type_code {
            return Err(cx.tensor_msg(output, "output", "must have the input's type"));
        }
        Ok(dtype)
    }

    /// `t`'s shape padded to [`MOVE_RANK`] axes, or an unsupported-rank error.
    fn dims6_of(&self, cx: &OpCx<'_, '_, '_>, t: &GTensor<'_>, what: &str) -> Result<[u32; 6]> {
        dims6(&t.shape).ok_or_else(|| {
            cx.unsupported(format!(
                "{what} tensor #{} '{}' has rank {}; at most {MOVE_RANK} is supported",
                t.index,
                t.name,
                t.shape.len()
            ))
        })
    }

    /// Checks that `output` has `shape`.
    fn expect_shape(
        &self,
        cx: &OpCx<'_, '_, '_>,
        output: &GTensor<'_>,
        shape: &[usize],
    ) -> Result<()> {
        if output.shape != shape {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {shape:?}")));
        }
        Ok(())
    }

    /// Pushes a layer that writes only `output` (one of several layers of one operator).
    fn push_one_output(&mut self, cx: &OpCx<'_, '_, '_>, op: Op, output: usize) {
        self.push(cx, op, 0, 0);
        if let Some(l) = self.layers.last_mut() {
            l.outputs = vec![output];
        }
    }

    /// Pushes a strided window of `input` into `output` (already shape-checked).
    fn push_window(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
        window: (&[usize], &[usize], &[i64]),
    ) -> Result<()> {
        let (out_dims, start, stride) = window;
        let dtype = self.moved_type(cx, input, output)?;
        let in_dims = self.dims6_of(cx, input, "input")?;
        let pad = MOVE_RANK - input.shape.len();
        let mut s6 = [0u32; MOVE_RANK];
        let mut st6 = [1i32; MOVE_RANK];
        for k in 0..start.len() {
            s6[pad + k] = u32_of(start[k]);
            st6[pad + k] = i32::try_from(stride[k]).map_err(|_| cx.err("stride out of range"))?;
        }
        let o6 = dims6(out_dims).ok_or_else(|| cx.unsupported("rank above 6"))?;
        let mut o = [1u32; MOVE_RANK];
        o[pad..].copy_from_slice(&o6[MOVE_RANK - out_dims.len()..]);
        let ii = self.operand(cx, input)?;
        let oi = self.id(output.index)?;
        let op = Op::StridedSlice(StridedSlice {
            input: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            in_dims,
            out_dims: o,
            start: s6,
            stride: st6,
        });
        self.push_one_output(cx, op, output.index);
        Ok(())
    }

    /// Pushes a transpose of `input` viewed as `view` (row-major, same element count) by
    /// `perm` into `output`.
    fn push_transpose(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        input: &GTensor<'_>,
        output: &GTensor<'_>,
        view: &[usize],
        perm: &[usize],
    ) -> Result<()> {
        let dtype = self.moved_type(cx, input, output)?;
        let in_dims = dims6(view).ok_or_else(|| cx.unsupported("rank above 6"))?;
        let pad = MOVE_RANK - view.len();
        let mut p6 = [0u8; MOVE_RANK];
        for (k, p) in p6.iter_mut().enumerate() {
            *p = if k < pad {
                k as u8
            } else {
                (perm[k - pad] + pad) as u8
            };
        }
        let ii = self.operand(cx, input)?;
        let oi = self.id(output.index)?;
        let op = Op::Transpose(Transpose {
            input: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            in_dims,
            perm: p6,
        });
        self.push_one_output(cx, op, output.index);
        Ok(())
    }

    /// SHAPE, ZEROS_LIKE, BROADCAST_ARGS: results of static shapes and constants, which
    /// [`crate::fold`] computes before lowering; one reaching here had run-time inputs.
    pub(super) fn folded_only(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        Err(cx.unsupported(
            "its inputs are computed at run time; Ferrite evaluates this operator at \
             conversion time, from constants and static shapes only",
        ))
    }

    /// TRANSPOSE: the permutation is a constant (TFLM requires it too).
    pub(super) fn transpose(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, perm_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let rank = input.shape.len();
        let perm = cx.const_ints(perm_t, "perm")?;
        let mut seen = vec![false; rank];
        let mut p = Vec::with_capacity(rank);
        for &a in &perm {
            let a = norm_axis(cx, a, rank)?;
            if std::mem::replace(&mut seen[a], true) {
                return Err(cx.tensor_msg(perm_t, "perm", "is not a permutation"));
            }
            p.push(a);
        }
        if p.len() != rank {
            return Err(cx.tensor_msg(perm_t, "perm", format!("needs {rank} entries")));
        }
        let out: Vec<usize> = p.iter().map(|&a| input.shape[a]).collect();
        self.expect_shape(cx, output, &out)?;
        self.push_transpose(cx, input, output, &input.shape.clone(), &p)
    }

    /// STRIDED_SLICE with TFLM's semantics: constant int32 begin/end/strides, begin/end/
    /// shrink masks; TFLM ignores the ellipsis and new-axis masks and so does this.
    pub(super) fn strided_slice(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(4, 4, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let begin = cx.const_ints(cx.input(1)?, "begin")?;
        let end = cx.const_ints(cx.input(2)?, "end")?;
        let strides = cx.const_ints(cx.input(3)?, "strides")?;
        let o = cx.op.options;
        let begin_mask = options::int(o, 0, 0)?;
        let end_mask = options::int(o, 1, 0)?;
        let shrink_mask = options::int(o, 4, 0)?;
        // TFLM builds its parameters without the `offset` option (nor the ellipsis and
        // new-axis masks), so it is ignored here too.
        let rank = input.shape.len();
        if begin.len() != rank || end.len() != rank || strides.len() != rank {
            return Err(cx.err(format!(
                "begin/end/strides need {rank} entries (the input's rank)"
            )));
        }
        let (window, kept) = strided_window(
            &input.shape,
            &begin,
            &end,
            &strides,
            (begin_mask, end_mask, shrink_mask, false),
        )
        .map_err(|m| cx.err(m))?;
        self.expect_shape(cx, output, &kept)?;
        let (out, start, stride) = window;
        self.push_window(cx, input, output, (&out, &start, &stride))
    }

    /// SLICE: constant begin and size (`-1`: to the end).
    pub(super) fn slice(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 3, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let begin = cx.const_ints(cx.input(1)?, "begin")?;
        let size = cx.const_ints(cx.input(2)?, "size")?;
        let rank = input.shape.len();
        if begin.len() != rank || size.len() != rank {
            return Err(cx.err(format!("begin and size need {rank} entries")));
        }
        let mut out = Vec::with_capacity(rank);
        let mut start = Vec::with_capacity(rank);
        for k in 0..rank {
            let d = input.shape[k] as i64;
            let b = begin[k];
            let n = if size[k] == -1 { d - b } else { size[k] };
            if b < 0 || n < 0 || b + n > d {
                return Err(cx.err(format!(
                    "slice [{b}, {b}+{n}) of axis {k} outside its size {d}"
                )));
            }
            out.push(n as usize);
            start.push(b as usize);
        }
        self.expect_shape(cx, output, &out)?;
        self.push_window(cx, input, output, (&out, &start, &vec![1; rank]))
    }

    /// SPLIT (inputs: axis, tensor) and SPLIT_V (tensor, sizes, axis): one strided window per
    /// output.
    pub(super) fn split(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let split_v = cx.op.code == oc::SPLIT_V;
        let n_out = cx.op.outputs.len();
        cx.arity(
            if split_v { 3 } else { 2 },
            if split_v { 3 } else { 2 },
            n_out.max(1),
        )?;
        let (input, axis_t) = if split_v {
            (cx.input(0)?, cx.input(2)?)
        } else {
            (cx.input(1)?, cx.input(0)?)
        };
        let axis = match cx.const_ints(axis_t, "axis")?.as_slice() {
            [a] => norm_axis(cx, *a, input.shape.len())?,
            _ => return Err(cx.tensor_msg(axis_t, "axis", "must be a scalar")),
        };
        let total = input.shape[axis];
        let sizes: Vec<usize> = if split_v {
            let mut s = cx.const_ints(cx.input(1)?, "size_splits")?;
            if s.len() != n_out {
                return Err(cx.err(format!("{} split sizes for {n_out} outputs", s.len())));
            }
            let unknown: Vec<usize> = (0..s.len()).filter(|&k| s[k] == -1).collect();
            let known: i64 = s.iter().filter(|&&v| v != -1).sum();
            match unknown.as_slice() {
                [] => {}
                [k] => s[*k] = total as i64 - known,
                _ => return Err(cx.err("more than one split size is -1")),
            }
            if s.iter().any(|&v| v < 0) || s.iter().sum::<i64>() != total as i64 {
                return Err(cx.err(format!("split sizes {s:?} do not add up to {total}")));
            }
            s.iter().map(|&v| v as usize).collect()
        } else {
            if n_out == 0 || total % n_out != 0 {
                return Err(cx.err(format!("axis size {total} does not split into {n_out}")));
            }
            vec![total / n_out; n_out]
        };
        let mut at = 0;
        for (k, &n) in sizes.iter().enumerate() {
            let output = cx.output(k)?;
            let mut out = input.shape.clone();
            out[axis] = n;
            self.expect_shape(cx, output, &out)?;
            let mut start = vec![0; out.len()];
            start[axis] = at;
            self.push_window(cx, input, output, (&out, &start, &vec![1; out.len()]))?;
            at += n;
        }
        Ok(())
    }

    /// UNPACK: output `k` is the slice `k` of the axis, with the axis removed.
    pub(super) fn unpack(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let n_out = cx.op.outputs.len();
        cx.arity(1, 1, n_out.max(1))?;
        let input = cx.input(0)?;
        let rank = input.shape.len();
        let axis = norm_axis(cx, options::int(cx.op.options, 1, 0)? as i64, rank)?;
        if input.shape[axis] != n_out {
            return Err(cx.err(format!(
                "axis {axis} has size {} but the operator has {n_out} outputs",
                input.shape[axis]
            )));
        }
        for k in 0..n_out {
            let output = cx.output(k)?;
            let mut kept = input.shape.clone();
            kept.remove(axis);
            self.expect_shape(cx, output, &kept)?;
            let mut out = input.shape.clone();
            out[axis] = 1;
            let mut start = vec![0; rank];
            start[axis] = k;
            self.push_window(cx, input, output, (&out, &start, &vec![1; rank]))?;
        }
        Ok(())
    }

    /// PACK: a concatenation along a new axis (byte copies, as TFLM's).
    pub(super) fn pack(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let n = cx.op.inputs.len();
        cx.arity(1, usize::MAX, 1)?;
        let output = cx.output(0)?;
        let first = cx.input(0)?;
        let rank = first.shape.len() + 1;
        let axis = norm_axis(cx, options::int(cx.op.options, 1, 0)? as i64, rank)?;
        let mut out = first.shape.clone();
        out.insert(axis, n);
        self.expect_shape(cx, output, &out)?;
        let dtype = self.moved_type(cx, first, output)?;
        let chunk = u32_of(first.shape[axis..].iter().product::<usize>() * dtype.size_bytes());
        let mut ids = Vec::with_capacity(n);
        for k in 0..n {
            let t = cx.input(k)?;
            if t.shape != first.shape || t.type_code != first.type_code {
                return Err(cx.tensor_msg(
                    t,
                    "input",
                    "must have the first input's type and shape",
                ));
            }
            ids.push(self.operand(cx, t)?.0);
        }
        let oi = self.id(output.index)?;
        let op = Op::Concat(Concat {
            inputs: self.pool.push_u16(&ids),
            chunk_bytes: self.pool.push_u32(&vec![chunk; n]),
            output: oi,
            outer: u32_of(first.shape[..axis].iter().product()),
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// GATHER (axis and batch_dims options) and EMBEDDING_LOOKUP (TFLM: 1-D int32 ids, then
    /// a float32 or int8 table of rank >= 2: a gather along axis 0, the int8 table either
    /// copied or, into a float32 output, dequantized with its scale and zero point 0).
    pub(super) fn gather(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let lookup = cx.op.code == oc::EMBEDDING_LOOKUP;
        let (params, indices, output) = if lookup {
            (cx.input(1)?, cx.input(0)?, cx.output(0)?)
        } else {
            (cx.input(0)?, cx.input(1)?, cx.output(0)?)
        };
        let index_type = cx.dtype(indices, "indices")?;
        if !matches!(index_type, DType::I32 | DType::I64) {
            return Err(cx.tensor_msg(indices, "indices", "must be int32 or int64"));
        }
        let mut dequant = ConstRef::EMPTY;
        let (axis, batch_dims) = if lookup {
            if index_type != DType::I32 || indices.shape.len() != 1 {
                return Err(cx.tensor_msg(indices, "lookup", "must be a 1-D int32 tensor"));
            }
            if params.shape.len() < 2 {
                return Err(cx.tensor_msg(params, "value", "must have rank 2 or more"));
            }
            let (pt, ot) = (cx.dtype(params, "value")?, cx.dtype(output, "output")?);
            match (pt, ot) {
                (DType::F32, DType::F32) | (DType::I8, DType::I8) => {}
                (DType::I8, DType::F32) => {
                    let q = cx.qparams(params, "value")?;
                    if q.zero_point != 0 {
                        return Err(cx.tensor_msg(params, "value", "needs zero point 0 (TFLM)"));
                    }
                    // TFLM's `Dequantize`: `(q - 0) * scale` in float.
                    let table: Vec<f32> = (0..=255u8).map(|b| (b as i8 as f32) * q.scale).collect();
                    dequant = self.pool.push_f32(&table);
                }
                (a, b) => {
                    return Err(cx.unsupported(format!(
                        "value/output types {a}/{b}; supported: float32/float32, int8/int8, int8/float32"
                    )))
                }
            }
            (0, 0)
        } else {
            let o = cx.op.options;
            (options::int(o, 0, 0)? as i64, options::int(o, 1, 0)? as i64)
        };
        let prank = params.shape.len();
        let axis = norm_axis(cx, axis, prank)?;
        let irank = indices.shape.len() as i64;
        let batch_dims = if batch_dims < 0 {
            batch_dims + irank
        } else {
            batch_dims
        };
        if batch_dims < 0 || batch_dims > irank || batch_dims as usize > axis {
            return Err(cx.err(format!("batch_dims {batch_dims} out of range")));
        }
        let bd = batch_dims as usize;
        if params.shape[..bd] != indices.shape[..bd] {
            return Err(cx.err("params and indices differ in their batch dimensions"));
        }
        let mut out: Vec<usize> = params.shape[..axis].to_vec();
        out.extend_from_slice(&indices.shape[bd..]);
        out.extend_from_slice(&params.shape[axis + 1..]);
        self.expect_shape(cx, output, &out)?;
        let dtype = if dequant.is_empty() {
            self.moved_type(cx, params, output)?
        } else {
            DType::I8
        };
        let prod = |s: &[usize]| u32_of(s.iter().product());
        let pi = self.operand(cx, params)?;
        let ii = self.operand(cx, indices)?;
        let oi = self.id(output.index)?;
        let op = Op::Gather(Gather {
            params: pi,
            indices: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            index_type,
            batch: prod(&params.shape[..bd]),
            outer: prod(&params.shape[bd..axis]),
            axis_size: u32_of(params.shape[axis]),
            inner: prod(&params.shape[axis + 1..]),
            coords: prod(&indices.shape[bd..]),
            dequant,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// GATHER_ND: `indices` is `[..., depth]`.
    pub(super) fn gather_nd(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (params, indices, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let index_type = cx.dtype(indices, "indices")?;
        if !matches!(index_type, DType::I32 | DType::I64) {
            return Err(cx.tensor_msg(indices, "indices", "must be int32 or int64"));
        }
        let depth = *indices
            .shape
            .last()
            .ok_or_else(|| cx.err("scalar indices"))?;
        if depth > params.shape.len() || depth > MOVE_RANK {
            return Err(cx.err(format!("index depth {depth} above the params' rank")));
        }
        let lead = &indices.shape[..indices.shape.len() - 1];
        let mut out = lead.to_vec();
        out.extend_from_slice(&params.shape[depth..]);
        self.expect_shape(cx, output, &out)?;
        let dtype = self.moved_type(cx, params, output)?;
        let mut dims = [1u32; MOVE_RANK];
        for (d, &s) in dims.iter_mut().zip(&params.shape[..depth]) {
            *d = u32_of(s);
        }
        let pi = self.operand(cx, params)?;
        let ii = self.operand(cx, indices)?;
        let oi = self.id(output.index)?;
        let op = Op::GatherNd(GatherNd {
            params: pi,
            indices: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            index_type,
            lookups: u32_of(lead.iter().product()),
            depth: depth as u32,
            dims,
            slice: u32_of(params.shape[depth..].iter().product()),
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// REVERSE_V2: a window walking the reversed axes backwards.
    pub(super) fn reverse(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let rank = input.shape.len();
        let mut start = vec![0usize; rank];
        let mut stride = vec![1i64; rank];
        for a in cx.const_ints(cx.input(1)?, "axis")? {
            let a = norm_axis(cx, a, rank)?;
            start[a] = input.shape[a].saturating_sub(1);
            stride[a] = -1;
        }
        self.expect_shape(cx, output, &input.shape)?;
        let shape = input.shape.clone();
        self.push_window(cx, input, output, (&shape, &start, &stride))
    }

    /// SPACE_TO_DEPTH and DEPTH_TO_SPACE (NHWC, TFLM's DCR order): one transpose of a 6-D
    /// view, `[N, H, b, W, b, C] -> [N, H, W, b, b, C]` or `[N, H, W, b, b, C] -> [N, H, b,
    /// W, b, C]` — the same permutation.
    pub(super) fn space_depth(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        cx.rank(input, "input", 4)?;
        let b = options::int(cx.op.options, 0, 0)?;
        let b = positive(b).ok_or_else(|| cx.err(format!("block size {b} must be positive")))?;
        let &[n, h, w, c] = input.shape.as_slice() else {
            return Err(cx.err("expects a 4-D input"));
        };
        let (view, out) = if cx.op.code == oc::SPACE_TO_DEPTH {
            if h % b != 0 || w % b != 0 {
                return Err(cx.err(format!("height {h} and width {w} must divide by {b}")));
            }
            (
                vec![n, h / b, b, w / b, b, c],
                vec![n, h / b, w / b, b * b * c],
            )
        } else {
            if c % (b * b) != 0 {
                return Err(cx.err(format!("depth {c} must divide by {}", b * b)));
            }
            (
                vec![n, h, w, b, b, c / (b * b)],
                vec![n, h * b, w * b, c / (b * b)],
            )
        };
        self.expect_shape(cx, output, &out)?;
        self.push_transpose(cx, input, output, &view, &[0, 1, 3, 2, 4, 5])
    }

    /// BROADCAST_TO (constant shape) and FILL (constant dims, a run-time scalar value; a
    /// constant value was folded by the converter already).
    pub(super) fn broadcast_to(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let fill = cx.op.code == oc::FILL;
        let (input, shape_t, output) = if fill {
            (cx.input(1)?, cx.input(0)?, cx.output(0)?)
        } else {
            (cx.input(0)?, cx.input(1)?, cx.output(0)?)
        };
        let shape: Vec<usize> = cx
            .const_ints(shape_t, "shape")?
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| cx.err(format!("negative dimension {d}"))))
            .collect::<Result<_>>()?;
        self.expect_shape(cx, output, &shape)?;
        if fill && input.num_elements() != 1 {
            return Err(cx.tensor_msg(input, "value", "must be a scalar"));
        }
        let dtype = self.moved_type(cx, input, output)?;
        let in_strides = broadcast_strides(&input.shape, &shape).ok_or_else(|| {
            cx.err(format!(
                "{} does not broadcast to {shape:?}",
                input.describe()
            ))
        })?;
        let out_dims = self.dims6_of(cx, output, "output")?;
        let ii = self.operand(cx, input)?;
        let oi = self.id(output.index)?;
        let op = Op::BroadcastTo(BroadcastTo {
            input: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            out_dims,
            in_strides,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// MIRROR_PAD: constant paddings, REFLECT (mode 0) or SYMMETRIC (1).
    pub(super) fn mirror_pad(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        let rank = input.shape.len();
        let p = cx.const_ints(cx.input(1)?, "paddings")?;
        if p.len() != 2 * rank {
            return Err(cx.err(format!("paddings need shape [{rank}, 2]")));
        }
        let symmetric = options::byte(cx.op.options, 0, 0)? == 1;
        let dtype = self.moved_type(cx, input, output)?;
        let in_dims = self.dims6_of(cx, input, "input")?;
        let pad = MOVE_RANK - rank;
        let (mut before, mut after) = ([0u32; MOVE_RANK], [0u32; MOVE_RANK]);
        let mut out = Vec::with_capacity(rank);
        for k in 0..rank {
            let (b, a) = (p[2 * k], p[2 * k + 1]);
            let limit = input.shape[k] as i64 - i64::from(!symmetric);
            if b < 0 || a < 0 || b > limit || a > limit {
                return Err(cx.err(format!(
                    "padding ({b}, {a}) of axis {k} exceeds what {} mirroring allows",
                    if symmetric { "SYMMETRIC" } else { "REFLECT" }
                )));
            }
            before[pad + k] = b as u32;
            after[pad + k] = a as u32;
            out.push(input.shape[k] + b as usize + a as usize);
        }
        self.expect_shape(cx, output, &out)?;
        let ii = self.operand(cx, input)?;
        let oi = self.id(output.index)?;
        let op = Op::MirrorPad(MirrorPad {
            input: ii,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            in_dims,
            before,
            after,
            symmetric,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// SELECT_V2: a bool condition choosing between two tensors, broadcast.
    pub(super) fn select(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 3, 1)?;
        let (cond, a, b, output) = (cx.input(0)?, cx.input(1)?, cx.input(2)?, cx.output(0)?);
        if cond.dtype != Some(DType::Bool) {
            return Err(cx.tensor_msg(cond, "condition", "must be bool"));
        }
        let dtype = self.moved_type(cx, a, output)?;
        if b.type_code != a.type_code {
            return Err(cx.tensor_msg(b, "input", "must have the other input's type"));
        }
        let out = &output.shape;
        let strides = [cond, a, b].map(|t| broadcast_strides(&t.shape, out));
        let [Some(sc), Some(sa), Some(sb)] = strides else {
            return Err(cx.err(format!(
                "{}, {} and {} do not broadcast to the output {}",
                cond.describe(),
                a.describe(),
                b.describe(),
                output.describe()
            )));
        };
        let out_dims = self.dims6_of(cx, output, "output")?;
        let ci = self.operand(cx, cond)?;
        let ai = self.operand(cx, a)?;
        let bi = self.operand(cx, b)?;
        let oi = self.id(output.index)?;
        let op = Op::Select(Select {
            cond: ci,
            a: ai,
            b: bi,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            out_dims,
            strides: [sc, sa, sb],
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// DYNAMIC_UPDATE_SLICE: run-time start indices, clamped by the kernel.
    pub(super) fn dynamic_update_slice(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(3, 3, 1)?;
        let (operand, update, start, output) =
            (cx.input(0)?, cx.input(1)?, cx.input(2)?, cx.output(0)?);
        let dtype = self.moved_type(cx, operand, output)?;
        let rank = operand.shape.len();
        if update.type_code != operand.type_code || update.shape.len() != rank {
            return Err(cx.tensor_msg(update, "update", "must have the operand's type and rank"));
        }
        if update.shape.iter().zip(&operand.shape).any(|(u, o)| u > o) {
            return Err(cx.tensor_msg(update, "update", "is larger than the operand"));
        }
        let index_type = cx.dtype(start, "start_indices")?;
        if !matches!(index_type, DType::I32 | DType::I64) || start.num_elements() != rank {
            return Err(cx.tensor_msg(
                start,
                "start_indices",
                format!("must be {rank} int32 or int64 values"),
            ));
        }
        self.expect_shape(cx, output, &operand.shape)?;
        let dims = self.dims6_of(cx, operand, "operand")?;
        let update_dims = self.dims6_of(cx, update, "update")?;
        let (oi_, ui, si) = (
            self.operand(cx, operand)?,
            self.operand(cx, update)?,
            self.operand(cx, start)?,
        );
        let oi = self.id(output.index)?;
        let op = Op::DynamicUpdateSlice(DynamicUpdateSlice {
            operand: oi_,
            update: ui,
            start: si,
            output: oi,
            elem_bytes: dtype.size_bytes() as u32,
            index_type,
            rank: rank as u32,
            dims,
            update_dims,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }
}

/// A resolved strided-slice window `(out_dims, start, stride)` and the output shape with the
/// shrunk axes removed, by TFLM's `StartForAxis`/`StopForAxis` (`strided_slice_logic.h`) and
/// its output-size rule `ceil((stop - start) / stride)`; `masks` is `(begin_mask, end_mask,
/// shrink_axis_mask, offset)`.
#[allow(clippy::type_complexity)]
pub(crate) fn strided_window(
    shape: &[usize],
    begin: &[i64],
    end: &[i64],
    strides: &[i64],
    masks: (i32, i32, i32, bool),
) -> std::result::Result<((Vec<usize>, Vec<usize>, Vec<i64>), Vec<usize>), String> {
    let (begin_mask, end_mask, shrink_mask, offset) = masks;
    let mut out = Vec::new();
    let mut start_v = Vec::new();
    let mut kept = Vec::new();
    for k in 0..shape.len() {
        let size = shape[k] as i64;
        let stride = strides[k];
        if stride == 0 {
            return Err(format!("stride of axis {k} is 0"));
        }
        let bit = 1 << k;
        let clamp = |v: i64| {
            if stride > 0 {
                v.clamp(0, size)
            } else {
                v.clamp(-1, size - 1)
            }
        };
        let (start, stop) = if size == 0 {
            (0, 0)
        } else {
            let mut start = begin[k];
            if begin_mask & bit != 0 {
                start = if stride > 0 {
                    i64::MIN / 4
                } else {
                    i64::MAX / 4
                };
            }
            if start < 0 {
                start += size;
            }
            let start = clamp(start);
            let stop = if shrink_mask & bit != 0 {
                start + 1
            } else {
                let mut stop = end[k];
                if offset {
                    stop += start;
                }
                if end_mask & bit != 0 {
                    stop = if stride > 0 {
                        i64::MAX / 4
                    } else {
                        i64::MIN / 4
                    };
                }
                if stop < 0 {
                    stop += size;
                }
                clamp(stop)
            };
            (start, stop)
        };
        // ceil((stop - start) / stride) for either sign, at least 0.
        let span = stop - start;
        let n = if (span > 0) == (stride > 0) && span != 0 {
            (span.abs() + stride.abs() - 1) / stride.abs()
        } else {
            0
        };
        // A shrunk axis whose start clamped to the end (TFLM would read past the input).
        let last = start + (n - 1) * stride;
        if n > 0 && (start < 0 || start >= size || last < 0 || last >= size) {
            return Err(format!("slice of axis {k} lies outside its size {size}"));
        }
        out.push(n as usize);
        start_v.push(if n > 0 { start as usize } else { 0 });
        if shrink_mask & bit == 0 {
            kept.push(n as usize);
        }
    }
    Ok(((out, start_v, strides.to_vec()), kept))
}
