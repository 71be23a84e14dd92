//! Data movement, generic over the element size: TRANSPOSE, strided windows (STRIDED_SLICE,
//! SLICE, SPLIT, SPLIT_V, UNPACK, REVERSE_V2), GATHER, GATHER_ND, BROADCAST_TO/FILL,
//! MIRROR_PAD, SELECT_V2 and DYNAMIC_UPDATE_SLICE.
//!
//! None of these computes on values, so one byte-moving kernel serves int8, int16, int32,
//! int64, float32 and bool; the converter has checked the quantization (TFLM copies int8
//! bytes without rescaling as well). Every entry checks sizes and every offset it will use
//! first, so the copy loops cannot fail; they still go through `get`, never indexing.
//!
//! Every walk goes over the output in order with an odometer over [`MOVE_RANK`] axes whose
//! input offset moves by precomputed byte steps (no multiplication per element), and copies
//! contiguous runs of the innermost axis with `copy_from_slice`.

use crate::util::{check_len, expect_op};
use ferrite_core::ops::{
    BroadcastTo, DynamicUpdateSlice, Gather, GatherNd, MirrorPad, Op, Select, StridedSlice,
    Transpose, MOVE_RANK,
};
use ferrite_core::{Ctx, DType, Error, Result};

/// Product of `dims` in `u64` (saturating: no buffer has `u64::MAX` bytes).
fn product(dims: &[u32]) -> u64 {
    dims.iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
}

/// Copies `out_dims` elements from `input` into `output` (in output order), the input offset
/// starting at `start` bytes and moving by `step[k]` bytes per step of output axis `k`.
///
/// Axes of size 1 are dropped and neighbours the input walks contiguously are merged first,
/// so that a transpose or slice runs as few, long inner loops: a contiguous innermost run is
/// one `copy_from_slice`; otherwise the two innermost axes form a block whose input window is
/// checked once and which is copied with the longer axis innermost.
///
/// Requires `output.len() == product(out_dims) * eb` and every visited input offset to lie in
/// `input` (the entries check both); returns `false` (having copied a prefix) otherwise.
fn walk_copy(
    input: &[u8],
    output: &mut [u8],
    eb: usize,
    out_dims: &[u32; MOVE_RANK],
    start: i64,
    step: &[i64; MOVE_RANK],
) -> bool {
    if output.is_empty() || eb == 0 {
        return true;
    }
    // Coalesce: right-aligned axes of size > 1, merging an axis into its outer neighbour when
    // the neighbour's step is exactly one whole run of it.
    let mut dims = [1usize; MOVE_RANK];
    let mut steps = [0i64; MOVE_RANK];
    let mut n = 0usize;
    for (&d, &s) in out_dims.iter().zip(step) {
        let d = d as usize;
        if d == 1 {
            continue;
        }
        match n
            .checked_sub(1)
            .and_then(|last| Some((last, *steps.get(last)?)))
        {
            Some((last, prev)) if prev == s * d as i64 => {
                if let (Some(dl), Some(sl)) = (dims.get_mut(last), steps.get_mut(last)) {
                    *dl *= d;
                    *sl = s;
                }
            }
            _ => {
                if let (Some(dn), Some(sn)) = (dims.get_mut(n), steps.get_mut(n)) {
                    *dn = d;
                    *sn = s;
                }
                n += 1;
            }
        }
    }
    // Right-align the `n` collected axes (at least two, padding with size-1 axes in front).
    let n = n.max(2);
    let mut d = [1usize; MOVE_RANK];
    let mut st = [0i64; MOVE_RANK];
    for k in 0..n {
        if let (Some(dd), Some(ss), Some(&a), Some(&b)) = (
            d.get_mut(MOVE_RANK - n + k),
            st.get_mut(MOVE_RANK - n + k),
            dims.get(k),
            steps.get(k),
        ) {
            *dd = a;
            *ss = b;
        }
    }
    let [o0, o1, o2, o3, d_a, d_b] = d;
    let [s0, s1, s2, s3, s_a, s_b] = st;
    let contiguous = s_b == eb as i64;
    // One unit of work: a contiguous run of `d_b` elements (repeated `d_a` times by the
    // block loop below), or a `d_a` x `d_b` block.
    let block_bytes = d_a * d_b * eb;
    let mut blocks = output.chunks_exact_mut(block_bytes.max(1));
    for i0 in 0..o0 {
        for i1 in 0..o1 {
            for i2 in 0..o2 {
                for i3 in 0..o3 {
                    let base =
                        start + i0 as i64 * s0 + i1 as i64 * s1 + i2 as i64 * s2 + i3 as i64 * s3;
                    let Some(dst) = blocks.next() else {
                        return true;
                    };
                    let ok = if contiguous {
                        copy_runs(input, dst, d_b * eb, base, s_a)
                    } else {
                        match eb {
                            1 => copy_block::<1>(input, dst, base, (d_a, s_a), (d_b, s_b)),
                            2 => copy_block::<2>(input, dst, base, (d_a, s_a), (d_b, s_b)),
                            4 => copy_block::<4>(input, dst, base, (d_a, s_a), (d_b, s_b)),
                            _ => copy_block::<8>(input, dst, base, (d_a, s_a), (d_b, s_b)),
                        }
                    };
                    if !ok {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Copies `dst.len() / run` contiguous runs of `run` bytes from `input` at byte offsets
/// `base, base + step, ...` into consecutive runs of `dst`.
///
/// Short runs of 1, 2, 4, 8 or 16 bytes are copied as fixed-size arrays from a window checked
/// once (a load and a store or two, not a `memcpy` call per run, which costs more than an
/// 8-byte run itself); longer runs are one checked `copy_from_slice` each.
#[inline(never)]
fn copy_runs(input: &[u8], dst: &mut [u8], run: usize, base: i64, step: i64) -> bool {
    match run {
        1 => copy_short_runs::<1>(input, dst, base, step),
        2 => copy_short_runs::<2>(input, dst, base, step),
        4 => copy_short_runs::<4>(input, dst, base, step),
        8 => copy_short_runs::<8>(input, dst, base, step),
        16 => copy_short_runs::<16>(input, dst, base, step),
        _ => {
            let mut at = base;
            for d in dst.chunks_exact_mut(run.max(1)) {
                // `d.len()` is `run`: said so that the copy's length check folds away.
                let Some(src) = usize::try_from(at)
                    .ok()
                    .and_then(|a| input.get(a..a.checked_add(d.len())?))
                else {
                    return false;
                };
                d.copy_from_slice(src);
                at += step;
            }
            true
        }
    }
}

/// [`copy_runs`] for runs of `R` bytes: the window every run reads is checked once, offsets
/// within it are `usize` (wrapping for a negative step).
fn copy_short_runs<const R: usize>(input: &[u8], dst: &mut [u8], base: i64, step: i64) -> bool {
    let (runs, rest) = dst.as_chunks_mut::<R>();
    if runs.is_empty() || !rest.is_empty() {
        return rest.is_empty();
    }
    let last = base + (runs.len() - 1) as i64 * step;
    let (Ok(lo), Ok(hi)) = (
        usize::try_from(base.min(last)),
        usize::try_from(base.max(last)),
    ) else {
        return false;
    };
    let Some(window) = hi.checked_add(R).and_then(|end| input.get(lo..end)) else {
        return false;
    };
    let mut at = (base - lo as i64) as usize;
    let step = step as isize as usize;
    for d in runs {
        let Some(src) = at.checked_add(R).and_then(|end| window.get(at..end)) else {
            return false;
        };
        d.copy_from_slice(src);
        at = at.wrapping_add(step);
    }
    true
}

/// A byte transpose: `dst[a][b] = src[a + b * row]` for `a < d_a`, `b < d_b` (`dst` holds
/// `d_a * d_b` bytes, row `a` contiguous). Four input rows at a time: the inner loop reads one
/// byte of each and writes the four as one word, so each byte costs a load, a merge and a
/// quarter of a store and of the loop, not a strided walk of its own.
///
/// Returns `false` unless `src` holds the `(d_b - 1) * row + d_a` bytes read.
fn transpose_bytes(src: &[u8], row: usize, d_a: usize, d_b: usize, dst: &mut [u8]) -> bool {
    if d_a == 0 || d_b == 0 {
        return true;
    }
    if dst.len() != d_a * d_b {
        return false;
    }
    let input_row = |b: usize| {
        b.checked_mul(row)
            .and_then(|at| src.get(at..at.checked_add(d_a)?))
    };
    let full = d_b - d_b % 4;
    for b0 in (0..full).step_by(4) {
        let (Some(r0), Some(r1), Some(r2), Some(r3)) = (
            input_row(b0),
            input_row(b0 + 1),
            input_row(b0 + 2),
            input_row(b0 + 3),
        ) else {
            return false;
        };
        let columns = r0.iter().zip(r1).zip(r2).zip(r3);
        for (out, (((&x0, &x1), &x2), &x3)) in dst.chunks_exact_mut(d_b).zip(columns) {
            let Some(word) = out.get_mut(b0..b0 + 4) else {
                return false;
            };
            word.copy_from_slice(&[x0, x1, x2, x3]);
        }
    }
    for b in full..d_b {
        let Some(r) = input_row(b) else {
            return false;
        };
        for (out, &x) in dst.chunks_exact_mut(d_b).zip(r) {
            let Some(o) = out.get_mut(b) else {
                return false;
            };
            *o = x;
        }
    }
    true
}

/// Copies a block of `N`-byte elements, `dst[a][b] = input[base + a * s_a + b * s_b]`, after
/// checking once that the block's input window lies in `input`. The longer axis runs
/// innermost (a transpose's short innermost output axis would otherwise cost a loop set-up
/// per element or two).
fn copy_block<const N: usize>(
    input: &[u8],
    dst: &mut [u8],
    base: i64,
    (d_a, s_a): (usize, i64),
    (d_b, s_b): (usize, i64),
) -> bool {
    if d_a == 0 || d_b == 0 {
        return true;
    }
    let corners = [
        base,
        base + (d_a as i64 - 1) * s_a,
        base + (d_b as i64 - 1) * s_b,
        base + (d_a as i64 - 1) * s_a + (d_b as i64 - 1) * s_b,
    ];
    let (lo, hi) = corners
        .iter()
        .fold((i64::MAX, i64::MIN), |(l, h), &c| (l.min(c), h.max(c)));
    let (Ok(lo), Ok(hi)) = (usize::try_from(lo), usize::try_from(hi)) else {
        return false;
    };
    let Some(window) = hi.checked_add(N).and_then(|end| input.get(lo..end)) else {
        return false;
    };
    // Offsets relative to the window (all in range, as checked above).
    let origin = base - lo as i64;
    // A byte transpose (axis `a` contiguous in the input, `b` in the output) of at least four
    // rows: word stores of four input rows at a time.
    if N == 1 && s_a == 1 && s_b > 0 && d_a >= 4 && d_b >= 4 {
        let (Ok(first), Ok(row)) = (usize::try_from(origin), usize::try_from(s_b)) else {
            return false;
        };
        return window
            .get(first..)
            .is_some_and(|w| transpose_bytes(w, row, d_a, d_b, dst));
    }
    let (outer, inner, s_outer, s_inner, out_outer, out_inner) = if d_b >= d_a {
        (d_a, d_b, s_a, s_b, d_b * N, N)
    } else {
        (d_b, d_a, s_b, s_a, N, d_b * N)
    };
    for i in 0..outer {
        let first = origin + i as i64 * s_outer;
        let last = first + (inner as i64 - 1) * s_inner;
        let (Ok(lo), Ok(hi)) = (
            usize::try_from(first.min(last)),
            usize::try_from(first.max(last)),
        ) else {
            return false;
        };
        // This run's input, checked once; its elements are every `k`-th `N`-byte chunk.
        let Some(src) = hi.checked_add(N).and_then(|end| window.get(lo..end)) else {
            return false;
        };
        let Some(out) = dst.get_mut(i * out_outer..) else {
            return false;
        };
        let k = s_inner.unsigned_abs() as usize;
        if !copy_strided::<N>(src, k, s_inner < 0, out, out_inner, inner) {
            return false;
        }
    }
    true
}

/// Copies `count` elements of `N` bytes: element `j` of `src` at byte `j * k` (from the end
/// of `src` backwards when `reverse`) to byte `j * out_step` of `dst` (`k` and `out_step`
/// multiples of `N`). A function of its own, not inlined, so that the loop keeps its few
/// values in registers; elements are `[u8; N]` so each access is one bounds comparison.
#[inline(never)]
fn copy_strided<const N: usize>(
    src: &[u8],
    k: usize,
    reverse: bool,
    dst: &mut [u8],
    out_step: usize,
    count: usize,
) -> bool {
    let (src, _) = src.as_chunks::<N>();
    let (dst, _) = dst.as_chunks_mut::<N>();
    let (k, out_step) = (k / N, out_step / N);
    let Some(mut at) = (if reverse {
        src.len().checked_sub(1)
    } else {
        Some(0)
    }) else {
        return false;
    };
    let mut o = 0usize;
    if reverse {
        for _ in 0..count {
            let Some(v) = src.get(at) else {
                return false;
            };
            let Some(d) = dst.get_mut(o) else {
                return false;
            };
            *d = *v;
            o += out_step;
            at = at.wrapping_sub(k);
        }
    } else {
        // Forward: the destination side as an iterator (one comparison per element fewer).
        for d in dst.iter_mut().step_by(out_step.max(1)).take(count) {
            let Some(v) = src.get(at) else {
                return false;
            };
            *d = *v;
            at += k;
        }
    }
    true
}

/// Row-major element strides of `dims`.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array.
#[allow(clippy::indexing_slicing)]
fn strides_of(dims: &[u32; MOVE_RANK]) -> [i64; MOVE_RANK] {
    let mut s = [1i64; MOVE_RANK];
    for k in (0..MOVE_RANK - 1).rev() {
        s[k] = s[k + 1] * dims[k + 1] as i64;
    }
    s
}

/// `Err` unless `elem_bytes` is a supported element size.
fn check_elem(ctx: &Ctx<'_>, elem_bytes: u32) -> Result<usize> {
    match elem_bytes {
        1 | 2 | 4 | 8 => Ok(elem_bytes as usize),
        _ => Err(ctx.error("unsupported element size")),
    }
}

/// Reference TRANSPOSE (TFLM `reference_ops::Transpose`): `out[o] = in[o permuted back]`.
///
/// Requires `input.len() == product(in_dims) * eb` and the output as long (the entry checks);
/// returns `false` otherwise.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array (`perm` entries are
// reduced modulo `MOVE_RANK`; the entry checked they form a permutation).
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
pub fn transpose(p: &Transpose, input: &[u8], output: &mut [u8]) -> bool {
    let eb = p.elem_bytes as usize;
    let in_strides = strides_of(&p.in_dims);
    let mut out_dims = [1u32; MOVE_RANK];
    let mut step = [0i64; MOVE_RANK];
    for k in 0..MOVE_RANK {
        let src = p.perm[k] as usize % MOVE_RANK;
        out_dims[k] = p.in_dims[src];
        step[k] = in_strides[src] * eb as i64;
    }
    walk_copy(input, output, eb, &out_dims, 0, &step)
}

/// `Err` unless `perm` is a permutation of `0..MOVE_RANK`.
fn check_perm(ctx: &Ctx<'_>, perm: &[u8; MOVE_RANK]) -> Result<()> {
    let mut seen = [false; MOVE_RANK];
    for &a in perm {
        match seen.get_mut(a as usize) {
            Some(s) if !*s => *s = true,
            _ => return Err(ctx.error("transpose permutation is not a permutation")),
        }
    }
    Ok(())
}

/// Kernel entry for [`Op::Transpose`].
pub fn run_transpose(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Transpose);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    check_perm(ctx, &p.perm)?;
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let n = product(&p.in_dims).saturating_mul(eb);
    check_len(layer, input.len() as u64, n, "transpose input size")?;
    check_len(layer, output.len() as u64, n, "transpose output size")?;
    if !transpose(p, input, output) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "transpose outside its input",
        });
    }
    Ok(())
}

/// Reference strided window (TFLM `reference_ops::StridedSlice` once its begin/end/masks are
/// resolved, which the converter does): `out[o] = in[start + o * stride]`.
///
/// Returns `false` unless every read lies in `input` and the output has
/// `product(out_dims) * eb` bytes (the entry checks this first).
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array.
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
pub fn strided_slice(p: &StridedSlice, input: &[u8], output: &mut [u8]) -> bool {
    let eb = p.elem_bytes as usize;
    let in_strides = strides_of(&p.in_dims);
    let mut start = 0i64;
    let mut step = [0i64; MOVE_RANK];
    for k in 0..MOVE_RANK {
        start += p.start[k] as i64 * in_strides[k] * eb as i64;
        step[k] = p.stride[k] as i64 * in_strides[k] * eb as i64;
    }
    walk_copy(input, output, eb, &p.out_dims, start, &step)
}

/// `Err` unless every index a strided window visits lies inside the input.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array.
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
fn check_window(
    ctx: &Ctx<'_>,
    in_dims: &[u32; MOVE_RANK],
    out_dims: &[u32; MOVE_RANK],
    start: &[u32; MOVE_RANK],
    stride: &[i32; MOVE_RANK],
) -> Result<()> {
    if out_dims.contains(&0) {
        return Ok(());
    }
    for k in 0..MOVE_RANK {
        let last = start[k] as i64 + (out_dims[k] as i64 - 1) * stride[k] as i64;
        if start[k] >= in_dims[k] || last < 0 || last >= in_dims[k] as i64 {
            return Err(ctx.error("slice window outside its input"));
        }
    }
    Ok(())
}

/// Kernel entry for [`Op::StridedSlice`].
pub fn run_strided_slice(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, StridedSlice);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    check_window(ctx, &p.in_dims, &p.out_dims, &p.start, &p.stride)?;
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let n_in = product(&p.in_dims).saturating_mul(eb);
    let n_out = product(&p.out_dims).saturating_mul(eb);
    check_len(layer, input.len() as u64, n_in, "slice input size")?;
    check_len(layer, output.len() as u64, n_out, "slice output size")?;
    if !strided_slice(p, input, output) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "slice window outside its input",
        });
    }
    Ok(())
}

/// Index `i` of an int32 or int64 index tensor, widened to `i64`.
#[inline]
fn index_at(indices: &[u8], ty: DType, i: usize) -> Option<i64> {
    match ty {
        DType::I64 => {
            let b = indices.get(i.checked_mul(8)?..i.checked_mul(8)?.checked_add(8)?)?;
            Some(i64::from_le_bytes(b.try_into().ok()?))
        }
        _ => {
            let b = indices.get(i.checked_mul(4)?..i.checked_mul(4)?.checked_add(4)?)?;
            Some(i32::from_le_bytes(b.try_into().ok()?) as i64)
        }
    }
}

/// Bytes per index of an index tensor type, or an error for any other type.
fn index_bytes(ctx: &Ctx<'_>, ty: DType) -> Result<u64> {
    match ty {
        DType::I32 => Ok(4),
        DType::I64 => Ok(8),
        _ => Err(ctx.error("indices must be int32 or int64")),
    }
}

/// Reference GATHER (TFLM `Gather`): `out[b, o, c, :] = params[b, o, indices[b, c], :]`.
///
/// Returns `None` for an index outside `0..axis_size` (TFLM fails the invocation too) or
/// buffers of the wrong size.
pub fn gather(p: &Gather, params: &[u8], indices: &[u8], output: &mut [u8]) -> Option<()> {
    let eb = p.elem_bytes as usize;
    let slice = (p.inner as usize).checked_mul(eb)?;
    if slice == 1 {
        return gather_bytes(p, params, indices, output);
    }
    let axis_bytes = slice.checked_mul(p.axis_size as usize)?;
    let mut out = output.chunks_exact_mut(slice.max(1));
    for b in 0..p.batch as usize {
        for o in 0..p.outer as usize {
            let base = (b * p.outer as usize + o).checked_mul(axis_bytes)?;
            for c in 0..p.coords as usize {
                let i = index_at(indices, p.index_type, b * p.coords as usize + c)?;
                if i < 0 || i >= p.axis_size as i64 {
                    return None;
                }
                let at = base + i as usize * slice;
                let dst = out.next()?;
                let src = params.get(at..at + dst.len())?;
                // A one-element slice of one byte (a gather along the innermost int8 axis) is
                // a byte move, not a `memcpy` call.
                if let ([d], [v]) = (&mut *dst, src) {
                    *d = *v;
                } else {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
    Some(())
}

/// [`gather`] of single bytes (an int8 or bool gather along the innermost axis: a channel
/// permutation or selection), column by column: four gathered columns at a time sweep every
/// row, each row costing four byte loads at offsets fixed for the sweep and one word store,
/// whatever the row's length (a row-by-row walk pays its set-up per row, more than the
/// bytes of a short row).
fn gather_bytes(p: &Gather, params: &[u8], indices: &[u8], output: &mut [u8]) -> Option<()> {
    let (axis, coords, outer) = (p.axis_size as usize, p.coords as usize, p.outer as usize);
    if coords == 0 || output.is_empty() {
        return Some(());
    }
    if axis == 0 {
        return None;
    }
    let ib = if p.index_type == DType::I64 { 8 } else { 4 };
    let (in_batch, out_batch) = (outer.checked_mul(axis)?, outer.checked_mul(coords)?);
    for b in 0..p.batch as usize {
        let at = b.checked_mul(coords)?.checked_mul(ib)?;
        let idx = indices.get(at..at.checked_add(coords.checked_mul(ib)?)?)?;
        let at = b.checked_mul(in_batch)?;
        let rows = params.get(at..at.checked_add(in_batch)?)?;
        let at = b.checked_mul(out_batch)?;
        let out = output.get_mut(at..at.checked_add(out_batch)?)?;
        let mut c = 0;
        while c < coords {
            let n = (coords - c).min(4);
            let mut pick = [0usize; 4];
            for (k, slot) in pick.iter_mut().enumerate().take(n) {
                let i = index_at(idx, p.index_type, c + k)?;
                if i < 0 || i >= axis as i64 {
                    return None;
                }
                *slot = i as usize;
            }
            if n == 4 {
                gather_columns(rows, axis, out, coords, c, pick)?;
            } else {
                for (k, &i) in pick.iter().enumerate().take(n) {
                    for (row, o) in rows.chunks_exact(axis).zip(out.chunks_exact_mut(coords)) {
                        *o.get_mut(c + k)? = *row.get(i)?;
                    }
                }
            }
            c += n;
        }
    }
    Some(())
}

/// `out[r][c..c + 4] = [rows[r][i0], .., rows[r][i3]]` for every row `r` of `axis` bytes
/// (output rows of `coords` bytes). `None` for an index or column outside its row.
fn gather_columns(
    rows: &[u8],
    axis: usize,
    out: &mut [u8],
    coords: usize,
    c: usize,
    [i0, i1, i2, i3]: [usize; 4],
) -> Option<()> {
    for (row, o) in rows.chunks_exact(axis).zip(out.chunks_exact_mut(coords)) {
        let (Some(&x0), Some(&x1), Some(&x2), Some(&x3)) =
            (row.get(i0), row.get(i1), row.get(i2), row.get(i3))
        else {
            return None;
        };
        o.get_mut(c..c.checked_add(4)?)?
            .copy_from_slice(&[x0, x1, x2, x3]);
    }
    Some(())
}

/// [`gather`] of int8 `params` into float32 through `table` (256 values, by byte as `u8`):
/// TFLM's hybrid EMBEDDING_LOOKUP. `None` for an index out of range or wrong sizes.
pub fn gather_dequant(
    p: &Gather,
    table: &[f32],
    params: &[u8],
    indices: &[u8],
    output: &mut [u8],
) -> Option<()> {
    let slice = p.inner as usize;
    let axis_bytes = slice.checked_mul(p.axis_size as usize)?;
    let mut out = output.chunks_exact_mut(4);
    for b in 0..p.batch as usize {
        for o in 0..p.outer as usize {
            let base = (b * p.outer as usize + o).checked_mul(axis_bytes)?;
            for c in 0..p.coords as usize {
                let i = index_at(indices, p.index_type, b * p.coords as usize + c)?;
                if i < 0 || i >= p.axis_size as i64 {
                    return None;
                }
                let at = base + i as usize * slice;
                for &q in params.get(at..at + slice)? {
                    let v = table.get(q as usize)?;
                    out.next()?.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    Some(())
}

/// Kernel entry for [`Op::Gather`].
pub fn run_gather(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Gather);
    let table = ctx.consts(p.dequant)?;
    let hybrid = !table.is_empty();
    if hybrid && (table.len() != 256 || p.elem_bytes != 1) {
        return Err(ctx.error("dequantizing gather needs int8 params and 256 values"));
    }
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    let out_eb = if hybrid { 4 } else { eb };
    let ib = index_bytes(ctx, p.index_type)?;
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let params = inputs.bytes(p.params)?;
    let indices = inputs.bytes(p.indices)?;
    let lead = product(&[p.batch, p.outer]);
    let n_params = product(&[p.axis_size, p.inner]).saturating_mul(lead);
    check_len(
        layer,
        params.len() as u64,
        n_params.saturating_mul(eb),
        "gather params size",
    )?;
    let n_idx = product(&[p.batch, p.coords]);
    check_len(
        layer,
        indices.len() as u64,
        n_idx.saturating_mul(ib),
        "gather indices size",
    )?;
    let n_out = product(&[p.coords, p.inner]).saturating_mul(lead);
    check_len(
        layer,
        output.len() as u64,
        n_out.saturating_mul(out_eb),
        "gather output size",
    )?;
    let done = if hybrid {
        gather_dequant(p, table, params, indices, output)
    } else {
        gather(p, params, indices, output)
    };
    done.ok_or(Error::InvalidData {
        layer,
        reason: "a gather index out of range",
    })
}

/// Reference GATHER_ND (TFLM `GatherNd`): slice `l` of the output is the slice of `params`
/// that index vector `l` selects. `None` for an index outside `params`.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array (`k < depth.min(MOVE_RANK)`).
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
pub fn gather_nd(p: &GatherNd, params: &[u8], indices: &[u8], output: &mut [u8]) -> Option<()> {
    let eb = p.elem_bytes as usize;
    let depth = p.depth as usize;
    let slice = (p.slice as usize).checked_mul(eb)?;
    // Elements (in slices) per unit step of each indexed axis.
    let mut unit = [0usize; MOVE_RANK];
    let mut acc = 1usize;
    for k in (0..depth.min(MOVE_RANK)).rev() {
        unit[k] = acc;
        acc = acc.checked_mul(p.dims[k] as usize)?;
    }
    let mut out = output.chunks_exact_mut(slice.max(1));
    for l in 0..p.lookups as usize {
        let mut at = 0usize;
        for k in 0..depth.min(MOVE_RANK) {
            let i = index_at(indices, p.index_type, l * depth + k)?;
            if i < 0 || i >= p.dims[k] as i64 {
                return None;
            }
            at += i as usize * unit[k];
        }
        let at = at * slice;
        let src = params.get(at..at + slice)?;
        if slice > 0 {
            out.next()?.copy_from_slice(src);
        }
    }
    Some(())
}

/// Kernel entry for [`Op::GatherNd`].
// Bounds: `p.depth <= MOVE_RANK` is checked before `p.dims` is sliced.
#[allow(clippy::indexing_slicing)]
pub fn run_gather_nd(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, GatherNd);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    let ib = index_bytes(ctx, p.index_type)?;
    if p.depth as usize > MOVE_RANK {
        return Err(ctx.error("gather_nd index depth above the supported rank"));
    }
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let params = inputs.bytes(p.params)?;
    let indices = inputs.bytes(p.indices)?;
    let n_params = product(&p.dims[..p.depth as usize]).saturating_mul(p.slice as u64);
    check_len(
        layer,
        params.len() as u64,
        n_params.saturating_mul(eb),
        "gather_nd params size",
    )?;
    let n_idx = product(&[p.lookups, p.depth]);
    check_len(
        layer,
        indices.len() as u64,
        n_idx.saturating_mul(ib),
        "gather_nd indices size",
    )?;
    let n_out = product(&[p.lookups, p.slice]);
    check_len(
        layer,
        output.len() as u64,
        n_out.saturating_mul(eb),
        "gather_nd output size",
    )?;
    gather_nd(p, params, indices, output).ok_or(Error::InvalidData {
        layer,
        reason: "a gather_nd index out of range",
    })
}

/// Reference BROADCAST_TO / FILL: every output element copies the input element its
/// broadcast strides select.
pub fn broadcast_to(p: &BroadcastTo, input: &[u8], output: &mut [u8]) -> bool {
    let eb = p.elem_bytes as usize;
    let step = p.in_strides.map(|s| s as i64 * eb as i64);
    walk_copy(input, output, eb, &p.out_dims, 0, &step)
}

/// Bytes an input read with `strides` over `out_dims` must have (its last element + 1).
fn extent(out_dims: &[u32; MOVE_RANK], strides: &[u32; MOVE_RANK]) -> u64 {
    if out_dims.contains(&0) {
        return 0;
    }
    1 + out_dims
        .iter()
        .zip(strides)
        .map(|(&d, &s)| (d as u64 - 1).saturating_mul(s as u64))
        .fold(0u64, u64::saturating_add)
}

/// Kernel entry for [`Op::BroadcastTo`].
pub fn run_broadcast_to(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, BroadcastTo);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let need = extent(&p.out_dims, &p.in_strides).saturating_mul(eb);
    if (input.len() as u64) < need {
        return Err(Error::InvalidLayer {
            layer,
            reason: "broadcast reads outside its input",
        });
    }
    let n_out = product(&p.out_dims).saturating_mul(eb);
    check_len(layer, output.len() as u64, n_out, "broadcast output size")?;
    if !broadcast_to(p, input, output) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "broadcast reads outside its input",
        });
    }
    Ok(())
}

/// The input index that output index `o` of a mirror-padded axis reads (TFLM
/// `GetInputDimension`): `before` elements mirrored in front, then the input.
fn mirror_index(o: i64, before: i64, size: i64, symmetric: bool) -> i64 {
    let offset = if symmetric { 0 } else { 1 };
    let i = o - before;
    if i < 0 {
        -i - 1 + offset
    } else if i >= size {
        2 * size - i - 1 - offset
    } else {
        i
    }
}

/// Reference MIRROR_PAD: each output element copies the input element its mirrored
/// coordinates select. Returns `false` for a read outside the input (the converter limits the
/// padding so that none happens: at most `size - 1` for REFLECT, `size` for SYMMETRIC).
///
/// Axes inside the innermost padded one are copied whole: a row along the innermost padded
/// axis is its mirrored front, one copy of the input row, and its mirrored back, each element
/// of it a contiguous chunk of the unpadded inner axes.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array (`k < last <
// MOVE_RANK`).
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
pub fn mirror_pad(p: &MirrorPad, input: &[u8], output: &mut [u8]) -> bool {
    if output.is_empty() {
        return true;
    }
    let eb = p.elem_bytes as usize;
    let in_strides = strides_of(&p.in_dims);
    let mut out_dims = [0usize; MOVE_RANK];
    for k in 0..MOVE_RANK {
        out_dims[k] = (p.in_dims[k] + p.before[k] + p.after[k]) as usize;
    }
    let last = (0..MOVE_RANK)
        .rev()
        .find(|&k| p.before[k] != 0 || p.after[k] != 0)
        .unwrap_or(0);
    let chunk = in_strides[last] as usize * eb;
    let (before, n) = (p.before[last] as usize, p.in_dims[last] as usize);
    let total = out_dims[last];
    let mut rows = output.chunks_exact_mut((total * chunk).max(1));
    let mut idx = [0usize; MOVE_RANK];
    loop {
        let Some(row) = rows.next() else {
            return true;
        };
        let mut base = 0i64;
        for k in 0..last {
            let i = mirror_index(
                idx[k] as i64,
                p.before[k] as i64,
                p.in_dims[k] as i64,
                p.symmetric,
            );
            base += i * in_strides[k];
        }
        let Some(src_row) = usize::try_from(base * eb as i64)
            .ok()
            .and_then(|a| input.get(a..a.checked_add(n * chunk)?))
        else {
            return false;
        };
        let Some(mid) = row.get_mut(before * chunk..(before + n) * chunk) else {
            return false;
        };
        mid.copy_from_slice(src_row);
        for o in (0..before).chain(before + n..total) {
            let i = mirror_index(o as i64, before as i64, n as i64, p.symmetric) as usize;
            let (Some(e), Some(src)) = (
                row.get_mut(o * chunk..(o + 1) * chunk),
                src_row.get(i.wrapping_mul(chunk)..i.wrapping_add(1).wrapping_mul(chunk)),
            ) else {
                return false;
            };
            e.copy_from_slice(src);
        }
        let mut k = last;
        loop {
            if k == 0 {
                return true;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < out_dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// Kernel entry for [`Op::MirrorPad`].
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array.
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
pub fn run_mirror_pad(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, MirrorPad);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    let mut out_dims = [0u32; MOVE_RANK];
    for k in 0..MOVE_RANK {
        let limit = p.in_dims[k].saturating_sub(u32::from(!p.symmetric));
        if p.before[k] > limit || p.after[k] > limit {
            return Err(ctx.error("mirror padding larger than the input allows"));
        }
        out_dims[k] = p.in_dims[k] + p.before[k] + p.after[k];
    }
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let n_in = product(&p.in_dims).saturating_mul(eb);
    check_len(layer, input.len() as u64, n_in, "mirror pad input size")?;
    let n_out = product(&out_dims).saturating_mul(eb);
    check_len(layer, output.len() as u64, n_out, "mirror pad output size")?;
    if !mirror_pad(p, input, output) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "mirror pad reads outside its input",
        });
    }
    Ok(())
}

/// Reference SELECT_V2: `out[o] = cond[o] != 0 ? a[o] : b[o]` with broadcast strides.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array (`k < MOVE_RANK`).
#[allow(clippy::indexing_slicing)]
pub fn select(p: &Select, cond: &[u8], a: &[u8], b: &[u8], output: &mut [u8]) -> bool {
    let eb = p.elem_bytes as usize;
    let d = p.out_dims.map(|x| x as usize);
    let mut idx = [0usize; MOVE_RANK];
    let mut at = [0usize; 3];
    for e in output.chunks_exact_mut(eb.max(1)) {
        let take_a = match cond.get(at[0]) {
            Some(&c) => c != 0,
            None => return false,
        };
        let (src, i) = if take_a { (a, at[1]) } else { (b, at[2]) };
        let Some(v) = src.get(i * eb..i * eb + e.len()) else {
            return false;
        };
        e.copy_from_slice(v);
        let mut k = MOVE_RANK;
        while k > 0 {
            k -= 1;
            idx[k] += 1;
            for (t, s) in at.iter_mut().zip(&p.strides) {
                *t += s[k] as usize;
            }
            if idx[k] < d[k] {
                break;
            }
            for (t, s) in at.iter_mut().zip(&p.strides) {
                *t -= s[k] as usize * d[k];
            }
            idx[k] = 0;
        }
    }
    true
}

/// Kernel entry for [`Op::Select`].
pub fn run_select(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Select);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let cond = inputs.bytes(p.cond)?;
    let a = inputs.bytes(p.a)?;
    let b = inputs.bytes(p.b)?;
    let n_out = product(&p.out_dims).saturating_mul(eb);
    check_len(layer, output.len() as u64, n_out, "select output size")?;
    let fits = (cond.len() as u64) >= extent(&p.out_dims, &p.strides[0])
        && (a.len() as u64) >= extent(&p.out_dims, &p.strides[1]).saturating_mul(eb)
        && (b.len() as u64) >= extent(&p.out_dims, &p.strides[2]).saturating_mul(eb);
    if !fits || !select(p, cond, a, b, output) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "select reads outside its inputs",
        });
    }
    Ok(())
}

/// Reference DYNAMIC_UPDATE_SLICE (TFLM `DynamicUpdateSlice`): the output is `operand` with
/// `update` written at the start indices, each clamped to `0..=dims - update_dims`.
/// `None` for buffers of the wrong size.
// Bounds: every index is an axis below `MOVE_RANK` into a `[_; MOVE_RANK]` array (`idx` has `MOVE_RANK - 1`
// entries and `k` stays below that in the odometer).
#[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
pub fn dynamic_update_slice(
    p: &DynamicUpdateSlice,
    operand: &[u8],
    update: &[u8],
    start: &[u8],
    output: &mut [u8],
) -> Option<()> {
    let eb = p.elem_bytes as usize;
    if operand.len() != output.len() {
        return None;
    }
    output.copy_from_slice(operand);
    let rank = p.rank as usize;
    let strides = strides_of(&p.dims);
    let mut begin = 0i64;
    for k in 0..MOVE_RANK {
        let s = if k + rank >= MOVE_RANK {
            index_at(start, p.index_type, k + rank - MOVE_RANK)?
        } else {
            0
        };
        let hi = p.dims[k] as i64 - p.update_dims[k] as i64;
        begin += s.clamp(0, hi.max(0)) * strides[k];
    }
    // Write `update` row by row: a strided window of the output, read contiguously.
    let mut step = [0i64; MOVE_RANK];
    for k in 0..MOVE_RANK {
        step[k] = strides[k] * eb as i64;
    }
    let d = p.update_dims.map(|x| x as usize);
    let inner = d[MOVE_RANK - 1] * eb;
    let mut idx = [0usize; MOVE_RANK - 1];
    let mut at = begin * eb as i64;
    if update.is_empty() {
        return Some(());
    }
    for src in update.chunks_exact(inner.max(1)) {
        let a = usize::try_from(at).ok()?;
        output
            .get_mut(a..a.checked_add(src.len())?)?
            .copy_from_slice(src);
        let mut k = MOVE_RANK - 1;
        while k > 0 {
            k -= 1;
            idx[k] += 1;
            at += step[k];
            if idx[k] < d[k] {
                break;
            }
            at -= step[k] * d[k] as i64;
            idx[k] = 0;
        }
    }
    Some(())
}

/// Kernel entry for [`Op::DynamicUpdateSlice`].
pub fn run_dynamic_update_slice(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DynamicUpdateSlice);
    let eb = check_elem(ctx, p.elem_bytes)? as u64;
    let ib = index_bytes(ctx, p.index_type)?;
    if p.rank as usize > MOVE_RANK || p.update_dims.iter().zip(&p.dims).any(|(u, d)| u > d) {
        return Err(ctx.error("update larger than the operand"));
    }
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let operand = inputs.bytes(p.operand)?;
    let update = inputs.bytes(p.update)?;
    let start = inputs.bytes(p.start)?;
    let n = product(&p.dims).saturating_mul(eb);
    check_len(layer, operand.len() as u64, n, "operand size")?;
    check_len(layer, output.len() as u64, n, "output size")?;
    let n_up = product(&p.update_dims).saturating_mul(eb);
    check_len(layer, update.len() as u64, n_up, "update size")?;
    check_len(
        layer,
        start.len() as u64,
        (p.rank as u64) * ib,
        "start indices size",
    )?;
    dynamic_update_slice(p, operand, update, start, output).ok_or(Error::InvalidLayer {
        layer,
        reason: "dynamic update outside the operand",
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ferrite_core::TensorId;

    fn dims(d: &[u32]) -> [u32; MOVE_RANK] {
        let mut out = [1u32; MOVE_RANK];
        out[MOVE_RANK - d.len()..].copy_from_slice(d);
        out
    }

    #[test]
    fn transpose_swaps_axes() {
        // [2, 3] -> [3, 2]
        let p = Transpose {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: 1,
            in_dims: dims(&[2, 3]),
            perm: [0, 1, 2, 3, 5, 4],
        };
        let input = [1u8, 2, 3, 4, 5, 6];
        let mut out = [0u8; 6];
        assert!(transpose(&p, &input, &mut out));
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn transpose_moves_multibyte_elements() {
        // [2, 2] of u16 -> transposed.
        let p = Transpose {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: 2,
            in_dims: dims(&[2, 2]),
            perm: [0, 1, 2, 3, 5, 4],
        };
        let input = [1u8, 0, 2, 0, 3, 0, 4, 0];
        let mut out = [0u8; 8];
        assert!(transpose(&p, &input, &mut out));
        assert_eq!(out, [1, 0, 3, 0, 2, 0, 4, 0]);
    }

    #[test]
    fn strided_slice_walks_backwards_and_skips() {
        // in [2, 5]; rows 1..=0 backwards, columns 4, 2, 0.
        let p = StridedSlice {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: 1,
            in_dims: dims(&[2, 5]),
            out_dims: dims(&[2, 3]),
            start: [0, 0, 0, 0, 1, 4],
            stride: [1, 1, 1, 1, -1, -2],
        };
        let input = [0u8, 1, 2, 3, 4, 10, 11, 12, 13, 14];
        let mut out = [0u8; 6];
        assert!(strided_slice(&p, &input, &mut out));
        assert_eq!(out, [14, 12, 10, 4, 2, 0]);
    }

    #[test]
    fn gather_rejects_out_of_range_indices() {
        let p = Gather {
            params: TensorId(0),
            indices: TensorId(1),
            output: TensorId(2),
            elem_bytes: 1,
            index_type: DType::I32,
            batch: 1,
            outer: 1,
            axis_size: 3,
            inner: 2,
            coords: 2,
            dequant: ferrite_core::ConstRef::EMPTY,
        };
        let params = [1u8, 2, 3, 4, 5, 6];
        let idx = [2u8, 0, 0, 0, 0, 0, 0, 0];
        let mut out = [0u8; 4];
        assert_eq!(gather(&p, &params, &idx, &mut out), Some(()));
        assert_eq!(out, [5, 6, 1, 2]);
        let bad = [3u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(gather(&p, &params, &bad, &mut out), None);
    }

    #[test]
    fn mirror_pad_reflects_and_repeats() {
        let mut p = MirrorPad {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: 1,
            in_dims: dims(&[3]),
            before: [0; MOVE_RANK],
            after: [0; MOVE_RANK],
            symmetric: false,
        };
        p.before[5] = 2;
        p.after[5] = 2;
        let mut out = [0u8; 7];
        assert!(mirror_pad(&p, &[1, 2, 3], &mut out));
        assert_eq!(out, [3, 2, 1, 2, 3, 2, 1]);
        p.symmetric = true;
        assert!(mirror_pad(&p, &[1, 2, 3], &mut out));
        assert_eq!(out, [2, 1, 1, 2, 3, 3, 2]);
    }

    #[test]
    fn select_broadcasts_the_condition() {
        let p = Select {
            cond: TensorId(0),
            a: TensorId(1),
            b: TensorId(2),
            output: TensorId(3),
            elem_bytes: 1,
            out_dims: dims(&[2, 2]),
            strides: [[0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 2, 1], [0, 0, 0, 0, 2, 1]],
        };
        let mut out = [0u8; 4];
        assert!(select(&p, &[1, 0], &[1, 2, 3, 4], &[5, 6, 7, 8], &mut out));
        assert_eq!(out, [1, 6, 3, 8]);
    }

    extern crate std;
    use std::vec::Vec;

    /// Flat input index of output index `o` (row-major over `out_dims`) of a window, computed
    /// the slow way, from the definition.
    fn naive_window(p: &StridedSlice, eb: usize, input: &[u8]) -> Vec<u8> {
        let n: usize = p.out_dims.iter().map(|&d| d as usize).product();
        let mut out = Vec::new();
        for flat in 0..n {
            let (mut rest, mut at) = (flat, 0i64);
            let mut scale = 1i64;
            for k in (0..MOVE_RANK).rev() {
                let i = (rest % p.out_dims[k] as usize) as i64;
                rest /= p.out_dims[k] as usize;
                at += (p.start[k] as i64 + i * p.stride[k] as i64) * scale;
                scale *= p.in_dims[k] as i64;
            }
            let at = at as usize * eb;
            out.extend_from_slice(&input[at..at + eb]);
        }
        out
    }

    /// Checks [`transpose`] against the definition `out[o] = in[o permuted back]`.
    fn check_transpose(
        in_dims: [u32; MOVE_RANK],
        perm: [u8; MOVE_RANK],
        eb: usize,
    ) -> core::result::Result<(), proptest::test_runner::TestCaseError> {
        let p = Transpose {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: eb as u32,
            in_dims,
            perm,
        };
        let n: usize = in_dims.iter().map(|&d| d as usize).product();
        let input: Vec<u8> = (0..n * eb).map(|i| (i * 13 + 5) as u8).collect();
        let mut out = std::vec![0u8; n * eb];
        proptest::prop_assert!(transpose(&p, &input, &mut out));
        let out_dims: [usize; MOVE_RANK] =
            core::array::from_fn(|k| in_dims[perm[k] as usize] as usize);
        let strides = strides_of(&in_dims);
        for flat in 0..n {
            let (mut rest, mut at) = (flat, 0i64);
            for k in (0..MOVE_RANK).rev() {
                let i = rest % out_dims[k];
                rest /= out_dims[k];
                at += i as i64 * strides[perm[k] as usize];
            }
            let at = at as usize * eb;
            proptest::prop_assert_eq!(&out[flat * eb..flat * eb + eb], &input[at..at + eb]);
        }
        Ok(())
    }

    proptest::proptest! {
        /// Every permutation of every small shape equals the definition
        /// `out[o] = in[o permuted back]`, for every element size.
        #[test]
        fn transpose_equals_the_definition(
            in_dims in proptest::array::uniform6(1u32..5),
            perm in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just([0u8, 1, 2, 3, 4, 5])),
            eb in proptest::sample::select(&[1usize, 2, 4, 8][..]),
        ) {
            check_transpose(in_dims, perm, eb)?;
        }

        /// Larger byte transposes of the three inner axes (the four-rows-at-a-time word path,
        /// with row counts that are and are not multiples of four) equal the definition.
        #[test]
        fn byte_transpose_equals_the_definition(
            inner in proptest::array::uniform3(1u32..14),
            perm in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just([3u8, 4, 5])),
        ) {
            let in_dims = [1, 1, 1, inner[0], inner[1], inner[2]];
            check_transpose(in_dims, [0, 1, 2, perm[0], perm[1], perm[2]], 1)?;
        }

        /// GATHER of bytes (four columns at a time, then the leftover columns) equals the
        /// definition, and rejects an index out of range.
        #[test]
        fn byte_gather_equals_the_definition(
            (batch, outer, axis, coords) in (1u32..3, 1u32..4, 1u32..300, 0u32..20),
            wide in proptest::bool::ANY,
            seed in proptest::num::u32::ANY,
        ) {
            let p = Gather {
                params: TensorId(0),
                indices: TensorId(1),
                output: TensorId(2),
                elem_bytes: 1,
                index_type: if wide { DType::I64 } else { DType::I32 },
                batch,
                outer,
                axis_size: axis,
                inner: 1,
                coords,
                dequant: ferrite_core::ConstRef::EMPTY,
            };
            let (b, o, a, c) = (batch as usize, outer as usize, axis as usize, coords as usize);
            let params: Vec<u8> = (0..b * o * a).map(|i| (i as u32 * 31 + seed) as u8).collect();
            let picks: Vec<i64> = (0..b * c).map(|i| ((i as u32 * 17 + seed) % axis) as i64).collect();
            let encode = |picks: &[i64]| -> Vec<u8> {
                picks.iter().flat_map(|&i| if wide { i.to_le_bytes().to_vec() } else { (i as i32).to_le_bytes().to_vec() }).collect()
            };
            let mut out = std::vec![0u8; b * o * c];
            proptest::prop_assert_eq!(gather(&p, &params, &encode(&picks), &mut out), Some(()));
            for bi in 0..b {
                for oi in 0..o {
                    for ci in 0..c {
                        let want = params[(bi * o + oi) * a + picks[bi * c + ci] as usize];
                        proptest::prop_assert_eq!(out[(bi * o + oi) * c + ci], want);
                    }
                }
            }
            if c > 0 {
                let mut bad = picks.clone();
                let at = (seed as usize) % bad.len();
                bad[at] = if seed % 2 == 0 { axis as i64 } else { -1 };
                proptest::prop_assert_eq!(gather(&p, &params, &encode(&bad), &mut out), None);
            }
        }

        /// MIRROR_PAD (rows along the innermost padded axis, inner axes copied whole) equals
        /// the definition: every output coordinate reads its mirrored input coordinate.
        #[test]
        fn mirror_pad_equals_the_definition(
            in_dims in proptest::array::uniform4(1u32..5),
            pads in proptest::array::uniform4((0u32..5, 0u32..5)),
            symmetric in proptest::bool::ANY,
            eb in proptest::sample::select(&[1usize, 2, 4][..]),
        ) {
            let mut p = MirrorPad {
                input: TensorId(0),
                output: TensorId(1),
                elem_bytes: eb as u32,
                in_dims: dims(&in_dims),
                before: [0; MOVE_RANK],
                after: [0; MOVE_RANK],
                symmetric,
            };
            for k in 0..4 {
                let limit = in_dims[k] - u32::from(!symmetric);
                p.before[k + 2] = pads[k].0.min(limit);
                p.after[k + 2] = pads[k].1.min(limit);
            }
            let n_in: usize = p.in_dims.iter().map(|&d| d as usize).product();
            let input: Vec<u8> = (0..n_in * eb).map(|i| (i * 11 + 1) as u8).collect();
            let out_dims: [usize; MOVE_RANK] = core::array::from_fn(|k| (p.in_dims[k] + p.before[k] + p.after[k]) as usize);
            let n_out: usize = out_dims.iter().product();
            let mut out = std::vec![0u8; n_out * eb];
            proptest::prop_assert!(mirror_pad(&p, &input, &mut out));
            let strides = strides_of(&p.in_dims);
            for flat in 0..n_out {
                let (mut rest, mut at) = (flat, 0i64);
                for k in (0..MOVE_RANK).rev() {
                    let o = (rest % out_dims[k]) as i64;
                    rest /= out_dims[k];
                    at += mirror_index(o, p.before[k] as i64, p.in_dims[k] as i64, symmetric) * strides[k];
                }
                let at = at as usize * eb;
                proptest::prop_assert_eq!(&out[flat * eb..flat * eb + eb], &input[at..at + eb]);
            }
        }

        /// The odometer walk with its checked-once rows equals the definition, for every
        /// element size, forward, backward and broadcast (stride 0) steps.
        #[test]
        fn strided_window_equals_the_definition(
            in_dims in proptest::array::uniform6(1u32..4),
            picks in proptest::array::uniform6((0u32..4, -2i32..3, 1u32..4)),
            eb in proptest::sample::select(&[1usize, 2, 4, 8][..]),
        ) {
            let mut p = StridedSlice {
                input: TensorId(0),
                output: TensorId(1),
                elem_bytes: eb as u32,
                in_dims,
                out_dims: [1; MOVE_RANK],
                start: [0; MOVE_RANK],
                stride: [1; MOVE_RANK],
            };
            for k in 0..MOVE_RANK {
                let (s, st, n) = picks[k];
                let start = s % in_dims[k];
                // The longest run from `start` with step `st` that stays inside the axis.
                let room = match st {
                    0 => n,
                    st if st > 0 => (in_dims[k] - 1 - start) / st as u32 + 1,
                    st => start / (-st) as u32 + 1,
                };
                p.start[k] = start;
                p.stride[k] = st;
                p.out_dims[k] = n.min(room);
            }
            let len = in_dims.iter().map(|&d| d as usize).product::<usize>() * eb;
            let input: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let n: usize = p.out_dims.iter().map(|&d| d as usize).product();
            let mut out = std::vec![0u8; n * eb];
            proptest::prop_assert!(strided_slice(&p, &input, &mut out));
            proptest::prop_assert_eq!(out, naive_window(&p, eb, &input));
        }
    }
}
