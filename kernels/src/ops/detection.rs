//! TFLite_Detection_PostProcess (TFLite's custom operator for SSD models): decodes center-size
//! box encodings against anchors, then selects boxes by non-max suppression (NMS), exactly as
//! TFLite Micro's `detection_postprocess.cc` (float32 inputs only, as TFLM).
//!
//! Bit-exactness lives in the details this module reproduces on purpose:
//!
//! * decoding computes in `f64` (as TFLM's casts do) and rounds to `f32` where TFLM does;
//! * `std::max`/`std::min` in the intersection-over-union keep their first operand on ties and
//!   NaN ([`cmax`], [`cmin`]), unlike `f32::max`;
//! * the score sort before NMS is stable (TFLM's merge sort): equal scores keep anchor order;
//! * the partial sorts (each box's best classes in fast NMS, the running top detections in
//!   regular NMS) order by score, then lower index first, and run libstdc++'s
//!   `std::partial_sort` (heap select, then heap sort) step for step ([`partial_argsort`]), so
//!   that even NaN scores, for which that comparison is no order, come out as in TFLM;
//! * fast NMS writes selected box `i`'s `c`-th class at entry `row_stride * i + c` and counts
//!   the boxes. With one class per box that is TFLM exactly (`row_stride` 1). With several,
//!   TFLM's loop advances its output index per class *and* multiplies it by the classes per
//!   box (entries `k * (k * i + c) + c`, count `k` times the boxes), writing past outputs of
//!   the shape TFLite gives them; Ferrite follows LiteRT's reference kernel there instead
//!   (`row_stride` = `max_classes_per_detection`), as the project's goldens do
//!   (`docs/tflm-deviations.md`). Entries left unwritten (past the count) hold whatever the
//!   arena held in TFLM; here they are zero.
//!
//! All buffers live in the layer's arena scratch ([`scratch_bytes`] at conversion).

use crate::util::expect_op;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{DetectionPostprocess, Op};
use ferrite_core::{Ctx, Error, Result};

/// Sizes, in elements, of the scratch buffers of one layer (see [`scratch_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Boxes (anchors).
    n: usize,
    /// Fast NMS: one box's class order (`num_classes`); regular NMS: 0.
    class_order: usize,
    /// Regular NMS: candidates kept across classes (`max_detections + n`); fast NMS: 0.
    candidates: usize,
    /// Regular NMS: the running top detections (`max_detections`); fast NMS: 0.
    top: usize,
}

impl Layout {
    fn of(num_boxes: u32, num_classes: u32, max_detections: u32, regular: bool) -> Layout {
        let n = num_boxes as usize;
        let max_det = max_detections as usize;
        if regular {
            Layout {
                n,
                class_order: 0,
                candidates: max_det.saturating_add(n),
                top: max_det,
            }
        } else {
            Layout {
                n,
                class_order: num_classes as usize,
                candidates: 0,
                top: 0,
            }
        }
    }

    /// Total bytes: 4-byte words first, then one byte per box (the active flags).
    fn bytes(&self) -> Option<usize> {
        // decoded (4n) + scores, keep_scores, keep_indices, sorted, merge, selected (n each).
        let words = self
            .n
            .checked_mul(10)?
            .checked_add(self.class_order)?
            .checked_add(self.candidates.checked_mul(3)?)?
            .checked_add(self.top)?;
        words.checked_mul(4)?.checked_add(self.n)
    }
}

/// Arena scratch bytes the kernel needs for a layer with these parameters, or `None` if the
/// size overflows.
pub fn scratch_bytes(
    num_boxes: u32,
    num_classes: u32,
    max_detections: u32,
    regular_nms: bool,
) -> Option<usize> {
    Layout::of(num_boxes, num_classes, max_detections, regular_nms).bytes()
}

/// The scratch buffers, carved from the layer's scratch bytes.
struct Scratch<'s> {
    /// Decoded boxes `(ymin, xmin, ymax, xmax)`, 4 per box.
    decoded: &'s mut [f32],
    /// Scores NMS runs on: one class's (regular) or each box's best (fast).
    scores: &'s mut [f32],
    /// Scores at or above the threshold, and their boxes.
    keep_scores: &'s mut [f32],
    keep_indices: &'s mut [u32],
    /// Positions in `keep_*` by decreasing score, and the merge sort's buffer.
    sorted: &'s mut [u32],
    merge: &'s mut [u32],
    /// Boxes NMS selected, best first.
    selected: &'s mut [u32],
    /// Still a candidate, per position in `sorted`.
    active: &'s mut [u8],
    /// Fast NMS: one box's classes by decreasing score.
    class_order: &'s mut [u32],
    /// Regular NMS: candidate detections (`anchor * classes_with_background + class`), their
    /// scores, their order and the scores reordered.
    cand_index: &'s mut [u32],
    cand_score: &'s mut [f32],
    cand_order: &'s mut [u32],
    top_score: &'s mut [f32],
}

/// Takes `n` words off the front of `rest` as a typed slice.
fn take_words<'s, T: bytemuck::Pod>(rest: &mut &'s mut [u8], n: usize) -> Option<&'s mut [T]> {
    let (head, tail) = core::mem::take(rest).split_at_mut_checked(n.checked_mul(4)?)?;
    *rest = tail;
    bytemuck::try_cast_slice_mut(head).ok()
}

impl<'s> Scratch<'s> {
    fn carve(bytes: &'s mut [u8], l: &Layout) -> Option<Scratch<'s>> {
        let mut rest = bytes;
        let n = l.n;
        let decoded = take_words(&mut rest, n.checked_mul(4)?)?;
        let scores = take_words(&mut rest, n)?;
        let keep_scores = take_words(&mut rest, n)?;
        let keep_indices = take_words(&mut rest, n)?;
        let sorted = take_words(&mut rest, n)?;
        let merge = take_words(&mut rest, n)?;
        let selected = take_words(&mut rest, n)?;
        let class_order = take_words(&mut rest, l.class_order)?;
        let cand_index = take_words(&mut rest, l.candidates)?;
        let cand_score = take_words(&mut rest, l.candidates)?;
        let cand_order = take_words(&mut rest, l.candidates)?;
        let top_score = take_words(&mut rest, l.top)?;
        let active = rest.get_mut(..n)?;
        Some(Scratch {
            decoded,
            scores,
            keep_scores,
            keep_indices,
            sorted,
            merge,
            selected,
            active,
            class_order,
            cand_index,
            cand_score,
            cand_order,
            top_score,
        })
    }
}

/// The four outputs, as f32.
pub struct DetectionOutputs<'o> {
    /// Boxes `(ymin, xmin, ymax, xmax)`, 4 values per detection.
    pub boxes: &'o mut [f32],
    /// Class per detection.
    pub classes: &'o mut [f32],
    /// Score per detection.
    pub scores: &'o mut [f32],
    /// The number of detections (first value).
    pub num_detections: &'o mut [f32],
}

/// Kernel entry for [`Op::DetectionPostprocess`].
pub fn run_detection_postprocess(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, DetectionPostprocess);
    let layer = ctx.layer;
    let anchors = ctx.consts(p.anchors)?;
    let (inputs, [boxes, classes, scores, num], scratch) = ctx.split_outputs(
        [p.boxes, p.classes, p.scores, p.num_detections],
        p.scratch_offset,
        p.scratch_bytes,
    )?;
    let encodings = inputs.get::<f32>(p.box_encodings)?;
    let class_scores = inputs.get::<f32>(p.class_predictions)?;
    let out = DetectionOutputs {
        boxes: cast_out(layer, boxes)?,
        classes: cast_out(layer, classes)?,
        scores: cast_out(layer, scores)?,
        num_detections: cast_out(layer, num)?,
    };
    detection_postprocess(p, encodings, class_scores, anchors, out, scratch).map_err(|reason| {
        // An empty decoded box comes from the data (the encodings), not the model.
        if reason == EMPTY_BOX {
            Error::InvalidData { layer, reason }
        } else {
            Error::InvalidLayer { layer, reason }
        }
    })
}

/// Why a decoding fails when the box encodings make a box empty (TFLM refuses it too).
const EMPTY_BOX: &str = "an empty decoded detection box (TFLM refuses it)";

/// `std::max<float>`: `b` only if `a < b`, so a NaN `a` (or `b`) gives `a`.
#[inline]
fn cmax(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

/// `std::min<float>`: `b` only if `b < a`.
#[inline]
fn cmin(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// Box `i` of `decoded` as `[ymin, xmin, ymax, xmax]` (zeros if out of range, which the
/// callers' index checks rule out).
#[inline]
fn corners(decoded: &[f32], i: usize) -> [f32; 4] {
    i.checked_mul(4)
        .and_then(|s| decoded.get(s..s.checked_add(4)?))
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0.0; 4])
}

/// Decodes box `i`: TFLM's arithmetic, in `f64` from the `f32` inputs, each of the centre and
/// half-size rounded to `f32`, then the corners in `f32`.
fn decode(encoding: &[f32], anchor: &[f32], scale: &[f32; 4]) -> [f32; 4] {
    let e = |k: usize| encoding.get(k).copied().unwrap_or(0.0) as f64;
    let a = |k: usize| anchor.get(k).copied().unwrap_or(0.0) as f64;
    let [sy, sx, sh, sw] = scale.map(|s| s as f64);
    let ycenter = (e(0) / sy * a(2) + a(0)) as f32;
    let xcenter = (e(1) / sx * a(3) + a(1)) as f32;
    let half_h = (0.5 * libm::exp(e(2) / sh) * a(2)) as f32;
    let half_w = (0.5 * libm::exp(e(3) / sw) * a(3)) as f32;
    [
        ycenter - half_h,
        xcenter - half_w,
        ycenter + half_h,
        xcenter + half_w,
    ]
}

/// Intersection over union of decoded boxes `i` and `j`, as TFLM computes it (0 when either
/// box has no positive area).
pub fn intersection_over_union(decoded: &[f32], i: usize, j: usize) -> f32 {
    let [iy0, ix0, iy1, ix1] = corners(decoded, i);
    let [jy0, jx0, jy1, jx1] = corners(decoded, j);
    let area_i = (iy1 - iy0) * (ix1 - ix0);
    let area_j = (jy1 - jy0) * (jx1 - jx0);
    if area_i <= 0.0 || area_j <= 0.0 {
        return 0.0;
    }
    let ymin = cmax(iy0, jy0);
    let xmin = cmax(ix0, jx0);
    let ymax = cmin(iy1, jy1);
    let xmax = cmin(ix1, jx1);
    let intersection = cmax(ymax - ymin, 0.0) * cmax(xmax - xmin, 0.0);
    intersection / (area_i + area_j - intersection)
}

/// TFLM's partial-sort order on indices into `values`: `a` before `b` when its value is
/// larger, or the values are not ordered (equal, or a NaN) and `a` is the lower index.
#[inline]
fn before(values: &[f32], a: u32, b: u32) -> bool {
    let va = values.get(a as usize).copied().unwrap_or(0.0);
    let vb = values.get(b as usize).copied().unwrap_or(0.0);
    // `!(va < vb)`, spelled so that NaN (unordered) counts as not less.
    vb < va || (va.partial_cmp(&vb) != Some(core::cmp::Ordering::Less) && a < b)
}

/// libstdc++'s `__adjust_heap`: sifts the hole at `hole` down to a leaf, then pushes `value`
/// back up (`__push_heap`), on the max-heap `v[..len]` ordered by `less`.
///
/// Callers pass `len <= v.len()` and `hole < len`; every index read or written is a child
/// `< len` (checked by the loop conditions) or a parent of an index `< len`. The accesses are
/// checked all the same (the heap is left as is should one fail), so that no panic path is
/// linked.
fn adjust_heap(
    v: &mut [u32],
    hole: usize,
    len: usize,
    value: u32,
    less: &impl Fn(u32, u32) -> bool,
) {
    let _ = adjust_heap_checked(v, hole, len, value, less);
}

fn adjust_heap_checked(
    v: &mut [u32],
    hole: usize,
    len: usize,
    value: u32,
    less: &impl Fn(u32, u32) -> bool,
) -> Option<()> {
    let top = hole;
    let mut hole = hole;
    let mut second = 2 * hole + 2;
    while second < len {
        if less(*v.get(second)?, *v.get(second - 1)?) {
            second -= 1;
        }
        *v.get_mut(hole)? = *v.get(second)?;
        hole = second;
        second = 2 * (second + 1);
    }
    if second == len {
        *v.get_mut(hole)? = *v.get(second - 1)?;
        hole = second - 1;
    }
    while hole > top {
        let parent = (hole - 1) / 2;
        if !less(*v.get(parent)?, value) {
            break;
        }
        *v.get_mut(hole)? = *v.get(parent)?;
        hole = parent;
    }
    *v.get_mut(hole)? = value;
    Some(())
}

/// libstdc++'s `__pop_heap(first, first + len, first + result)`: moves the heap's top to
/// `result` and re-heaps `v[..len]` with `v[result]`'s old value.
/// Callers pass `len <= v.len()`, `result < v.len()` and `len >= 1` (checked all the same).
fn pop_heap(v: &mut [u32], len: usize, result: usize, less: &impl Fn(u32, u32) -> bool) {
    let (Some(&value), Some(&top)) = (v.get(result), v.first()) else {
        return;
    };
    if let Some(r) = v.get_mut(result) {
        *r = top;
    }
    adjust_heap(v, 0, len, value, less);
}

/// `std::iota` then `std::partial_sort(order, order + k, order + len)` as libstdc++ runs it
/// (heap select, then heap sort) with TFLM's comparator ([`before`]): `order[..k]` gets the
/// indices of `values`' `k` largest, largest first, ties to the lower index.
///
/// For scores without NaNs the order is total, so any partial sort gives this result; the
/// step-for-step heap keeps NaN scores where TFLM puts them too.
///
/// `len = values.len() <= order.len()` (checked), `k <= len` (clamped), and the heap helpers'
/// preconditions hold: `make` heaps `order[..k]` from parents `< k`, the selection reads
/// `order[i]` for `i < len` and pops into `k >= 1` entries (reads checked all the same).
pub fn partial_argsort(values: &[f32], k: usize, order: &mut [u32]) {
    let len = values.len();
    if order.len() < len {
        return;
    }
    for (i, o) in order.iter_mut().take(len).enumerate() {
        *o = i as u32;
    }
    let k = k.min(len);
    if k == 0 {
        return;
    }
    // `less(a, b)`: `b` comes first, so the heap's top is the last of the kept `k`.
    let less = |a: u32, b: u32| before(values, a, b);
    if k >= 2 {
        let mut parent = (k - 2) / 2;
        loop {
            let Some(&value) = order.get(parent) else {
                return;
            };
            adjust_heap(order, parent, k, value, &less);
            if parent == 0 {
                break;
            }
            parent -= 1;
        }
    }
    for i in k..len {
        let (Some(&a), Some(&top)) = (order.get(i), order.first()) else {
            return;
        };
        if less(a, top) {
            pop_heap(order, k, i, &less);
        }
    }
    let mut last = k;
    while last > 1 {
        last -= 1;
        pop_heap(order, last, last, &less);
    }
}

/// Stable sort of `order[..values.len()]` (set to `0..len` first) by decreasing value: what
/// TFLM's merge sort yields (values here are never NaN: only scores at or above the threshold
/// are sorted). Bottom-up merge sort through `tmp`.
fn stable_argsort_desc(values: &[f32], order: &mut [u32], tmp: &mut [u32]) {
    let len = values.len();
    let (Some(order), Some(tmp)) = (order.get_mut(..len), tmp.get_mut(..len)) else {
        return;
    };
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u32;
    }
    let value = |i: u32| values.get(i as usize).copied().unwrap_or(0.0);
    let mut width = 1usize;
    while width < len {
        // `max(2)`: `2 * width >= 2` already, said so that `chunks` links no panic.
        let run = width.saturating_mul(2).max(2);
        for (src, dst) in order.chunks(run).zip(tmp.chunks_mut(run)) {
            let (left, right) = src.split_at(width.min(src.len()));
            let (mut l, mut r) = (left.iter().peekable(), right.iter().peekable());
            for d in dst.iter_mut() {
                // Take from the right only if strictly larger: equal values keep their order.
                let take_right = match (l.peek(), r.peek()) {
                    (Some(&&a), Some(&&b)) => value(b) > value(a),
                    (None, _) => true,
                    _ => false,
                };
                let next = if take_right { r.next() } else { l.next() };
                *d = next.copied().unwrap_or(0);
            }
        }
        order.copy_from_slice(tmp);
        width = width.saturating_mul(2);
    }
}

/// NMS thresholds and limits shared by every run of [`nms_single_class`].
struct Nms {
    score_threshold: f32,
    iou_threshold: f32,
}

/// TFLM's `NonMaxSuppressionSingleClassHelper`: selects up to `max_detections` boxes by
/// decreasing `scores` (those at or above the threshold), dropping each box that overlaps an
/// already selected one by more than the IoU threshold. Writes the selected boxes to
/// `s.selected`, best first; returns how many.
fn nms_single_class(
    nms: &Nms,
    s: &mut Scratch<'_>,
    max_detections: usize,
) -> core::result::Result<usize, &'static str> {
    let err = "detection scratch too small";
    let scores: &[f32] = s.scores;
    let mut kept = 0usize;
    for (i, &v) in scores.iter().enumerate() {
        if v >= nms.score_threshold {
            *s.keep_scores.get_mut(kept).ok_or(err)? = v;
            *s.keep_indices.get_mut(kept).ok_or(err)? = i as u32;
            kept += 1;
        }
    }
    let keep_scores = s.keep_scores.get(..kept).ok_or(err)?;
    stable_argsort_desc(keep_scores, s.sorted, s.merge);
    let sorted = s.sorted.get(..kept).ok_or(err)?;
    let keep = s.keep_indices.get(..kept).ok_or(err)?;
    let active = s.active.get_mut(..kept).ok_or(err)?;
    active.fill(1);
    let output_size = kept.min(max_detections);
    let mut num_active = kept;
    let mut selected = 0usize;
    // Box (anchor) of the `i`-th best kept score.
    let anchor = |i: usize| -> usize {
        sorted
            .get(i)
            .and_then(|&p| keep.get(p as usize))
            .map_or(0, |&a| a as usize)
    };
    for i in 0..kept {
        if num_active == 0 || selected >= output_size {
            break;
        }
        if active.get(i) != Some(&1) {
            continue;
        }
        let a = anchor(i);
        *s.selected.get_mut(selected).ok_or(err)? = a as u32;
        selected += 1;
        if let Some(f) = active.get_mut(i) {
            *f = 0;
        }
        num_active -= 1;
        for j in i + 1..kept {
            if let Some(f) = active.get_mut(j) {
                if *f == 1 && intersection_over_union(s.decoded, a, anchor(j)) > nms.iou_threshold {
                    *f = 0;
                    num_active -= 1;
                }
            }
        }
    }
    Ok(selected)
}

/// The reference TFLite_Detection_PostProcess: decodes the boxes, runs fast or regular NMS
/// and writes the outputs (see the module documentation). `scratch` must hold
/// [`scratch_bytes`] bytes, 4-byte aligned. Errors name what TFLM would refuse (a degenerate
/// decoded box) or what does not match `p`.
pub fn detection_postprocess(
    p: &DetectionPostprocess,
    encodings: &[f32],
    class_scores: &[f32],
    anchors: &[f32],
    out: DetectionOutputs<'_>,
    scratch: &mut [u8],
) -> core::result::Result<(), &'static str> {
    let n = p.num_boxes as usize;
    let coords = p.box_coords as usize;
    let num_classes = p.num_classes as usize;
    let label_offset = p.label_offset as usize;
    let with_background = num_classes + label_offset;
    if coords < 4 || label_offset > 1 {
        return Err("detection parameters out of range");
    }
    if n.checked_mul(coords) != Some(encodings.len())
        || n.checked_mul(with_background) != Some(class_scores.len())
        || n.checked_mul(4) != Some(anchors.len())
    {
        return Err("detection inputs do not match the box and class counts");
    }
    let layout = Layout::of(p.num_boxes, p.num_classes, p.max_detections, p.regular_nms);
    if layout.bytes().is_none_or(|b| b > scratch.len()) {
        return Err("detection scratch too small");
    }
    let mut s = Scratch::carve(scratch, &layout).ok_or("detection scratch misaligned")?;
    let nms = Nms {
        score_threshold: p.score_threshold,
        iou_threshold: p.iou_threshold,
    };
    // TFLM checks the threshold (and the boxes) in each single-class NMS: fast NMS runs one,
    // regular NMS one per class.
    let runs_nms = !p.regular_nms || num_classes > 0;
    if runs_nms && !(nms.iou_threshold > 0.0 && nms.iou_threshold <= 1.0) {
        return Err("detection IoU threshold outside (0, 1]");
    }

    // Walked with `next` rather than `zip`: `Zip::new` of chunk iterators divides by the
    // chunk size out of line, where `coords >= 4` is not known (a division-by-zero panic path).
    let (mut enc, mut anc) = (encodings.chunks_exact(coords), anchors.chunks_exact(4));
    for d in s.decoded.chunks_exact_mut(4) {
        let (Some(e), Some(a)) = (enc.next(), anc.next()) else {
            break;
        };
        for (d, v) in d.iter_mut().zip(decode(e, a, &p.scale)) {
            *d = v;
        }
    }
    if runs_nms
        && s.decoded
            .chunks_exact(4)
            .any(|b| matches!(b, [ymin, xmin, ymax, xmax] if ymin >= ymax || xmin >= xmax))
    {
        return Err(EMPTY_BOX);
    }
    if p.regular_nms {
        regular(p, &nms, &mut s, class_scores, out)
    } else {
        fast(p, &nms, &mut s, class_scores, out)
    }
}

/// The class scores of box `a` (without the background), or nothing if out of range.
fn class_row<'c>(p: &DetectionPostprocess, class_scores: &'c [f32], a: usize) -> &'c [f32] {
    let with_background = (p.num_classes as usize).saturating_add(p.label_offset as usize);
    a.checked_mul(with_background)
        .and_then(|start| {
            class_scores.get(
                start.checked_add(p.label_offset as usize)?..start.checked_add(with_background)?,
            )
        })
        .unwrap_or(&[])
}

/// Fast NMS (TFLM's `NonMaxSuppressionMultiClassFastHelper`): NMS once on each box's best
/// class score, then each selected box's best `classes_per_detection` classes, `row_stride`
/// entries apart (see the module documentation).
fn fast(
    p: &DetectionPostprocess,
    nms: &Nms,
    s: &mut Scratch<'_>,
    class_scores: &[f32],
    out: DetectionOutputs<'_>,
) -> core::result::Result<(), &'static str> {
    let per = p.classes_per_detection as usize;
    if per == 0 || per > p.num_classes as usize || (p.row_stride as usize) < per {
        return Err("detection classes per box out of range");
    }
    for (a, best) in s.scores.iter_mut().enumerate() {
        let scores = class_row(p, class_scores, a);
        partial_argsort(scores, per, s.class_order);
        let top = s.class_order.first().copied().unwrap_or(0);
        *best = scores.get(top as usize).copied().unwrap_or(0.0);
    }
    let selected = nms_single_class(nms, s, p.max_detections as usize)?;
    out.boxes.fill(0.0);
    out.classes.fill(0.0);
    out.scores.fill(0.0);
    out.num_detections.fill(0.0);
    let overrun = "detection written past the end of an output tensor";
    let stride = p.row_stride as usize;
    for (k, &a) in s.selected.get(..selected).unwrap_or(&[]).iter().enumerate() {
        let a = a as usize;
        let scores = class_row(p, class_scores, a);
        // The same sort as above on the same scores: the same classes.
        partial_argsort(scores, per, s.class_order);
        let b = corners(s.decoded, a);
        for (col, &c) in s.class_order.get(..per).unwrap_or(&[]).iter().enumerate() {
            let slot = stride
                .checked_mul(k)
                .and_then(|x| x.checked_add(col))
                .ok_or(overrun)?;
            let at4 = slot.checked_mul(4).ok_or(overrun)?;
            out.boxes
                .get_mut(at4..at4 + 4)
                .ok_or(overrun)?
                .copy_from_slice(&b);
            *out.classes.get_mut(slot).ok_or(overrun)? = c as f32;
            *out.scores.get_mut(slot).ok_or(overrun)? =
                scores.get(c as usize).copied().unwrap_or(0.0);
        }
    }
    *out.num_detections.first_mut().ok_or(overrun)? = selected as f32;
    Ok(())
}

/// Regular NMS (TFLM's `NonMaxSuppressionMultiClassRegularHelper`): NMS per class, keeping the
/// best `max_detections` detections across classes as it goes.
fn regular(
    p: &DetectionPostprocess,
    nms: &Nms,
    s: &mut Scratch<'_>,
    class_scores: &[f32],
    out: DetectionOutputs<'_>,
) -> core::result::Result<(), &'static str> {
    let err = "detection scratch too small";
    let num_classes = p.num_classes as usize;
    let label_offset = p.label_offset as usize;
    let with_background = num_classes + label_offset;
    let max_det = p.max_detections as usize;
    if p.detections_per_class == 0 {
        return Err("detections per class must be positive");
    }
    if out.boxes.len() < max_det.saturating_mul(4)
        || out.classes.len() < max_det
        || out.scores.len() < max_det
        || out.num_detections.is_empty()
    {
        return Err("detection outputs smaller than max_detections");
    }
    let mut size = 0usize;
    for col in 0..num_classes {
        let column = class_scores
            .iter()
            .skip(col + label_offset)
            .step_by(with_background.max(1));
        for (d, &v) in s.scores.iter_mut().zip(column) {
            *d = v;
        }
        let selected = nms_single_class(nms, s, p.detections_per_class as usize)?;
        let mut count = size;
        for &a in s.selected.get(..selected).ok_or(err)? {
            let a = a as usize;
            *s.cand_index.get_mut(count).ok_or(err)? =
                (a * with_background + col + label_offset) as u32;
            *s.cand_score.get_mut(count).ok_or(err)? = s.scores.get(a).copied().ok_or(err)?;
            count += 1;
        }
        let keep = count.min(max_det);
        let candidates = s.cand_score.get(..count).ok_or(err)?;
        partial_argsort(candidates, keep, s.cand_order);
        for r in 0..keep {
            let t = s.cand_order.get(r).copied().ok_or(err)? as usize;
            let index = s.cand_index.get(t).copied().ok_or(err)?;
            *s.top_score.get_mut(r).ok_or(err)? = s.cand_score.get(t).copied().ok_or(err)?;
            *s.cand_order.get_mut(r).ok_or(err)? = index;
        }
        s.cand_index
            .get_mut(..keep)
            .ok_or(err)?
            .copy_from_slice(s.cand_order.get(..keep).ok_or(err)?);
        s.cand_score
            .get_mut(..keep)
            .ok_or(err)?
            .copy_from_slice(s.top_score.get(..keep).ok_or(err)?);
        size = keep;
    }
    out.boxes.fill(0.0);
    out.classes.fill(0.0);
    out.scores.fill(0.0);
    out.num_detections.fill(0.0);
    for k in 0..size {
        let index = s.cand_index.get(k).copied().ok_or(err)? as usize;
        let anchor = index.checked_div(with_background).ok_or(err)?;
        let class = index - anchor * with_background - label_offset;
        if let Some(b) = out.boxes.get_mut(4 * k..4 * k + 4) {
            b.copy_from_slice(&corners(s.decoded, anchor));
        }
        if let Some(c) = out.classes.get_mut(k) {
            *c = class as f32;
        }
        if let Some(v) = out.scores.get_mut(k) {
            *v = s.cand_score.get(k).copied().ok_or(err)?;
        }
    }
    if let Some(v) = out.num_detections.first_mut() {
        *v = size as f32;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    extern crate std;
    use super::*;
    use ferrite_core::{ConstRef, TensorId};
    use std::vec;
    use std::vec::Vec;

    const N: f32 = f32::NAN;

    #[test]
    fn partial_argsort_is_libstdcxx_partial_sort() {
        // Expected orders printed by g++/libstdc++'s `std::partial_sort` with TFLM's
        // comparator, for every `k`: ties go to the lower index, and NaNs (no order at all)
        // land where the heap puts them.
        let cases: [(&[f32], &[&[u32]]); 3] = [
            (
                &[0.5, N, 0.7, 0.7, N, 0.1, 0.9, 0.5],
                &[
                    &[6],
                    &[0, 1],
                    &[1, 6, 2],
                    &[1, 6, 0, 2],
                    &[1, 2, 3, 0, 4],
                    &[1, 6, 2, 3, 0, 4],
                    &[1, 6, 2, 3, 0, 4, 7],
                    &[1, 6, 2, 3, 0, 4, 7, 5],
                ],
            ),
            (
                &[0.2; 6],
                &[
                    &[0],
                    &[0, 1],
                    &[0, 1, 2],
                    &[0, 1, 2, 3],
                    &[0, 1, 2, 3, 4],
                    &[0, 1, 2, 3, 4, 5],
                ],
            ),
            (
                &[N, 0.3, 0.9, N, 0.3, 0.9, N, 0.1, 0.95, 0.0, N, 0.3, 0.8],
                &[
                    &[0],
                    &[0, 8],
                    &[0, 8, 2],
                    &[0, 2, 1, 3],
                    &[0, 2, 5, 1, 3],
                    &[0, 8, 2, 1, 3, 5],
                    &[0, 2, 1, 3, 5, 4, 6],
                    &[0, 8, 2, 1, 3, 5, 4, 6],
                    &[0, 8, 2, 1, 3, 5, 4, 6, 12],
                    &[0, 8, 2, 1, 3, 5, 4, 6, 12, 11],
                    &[0, 8, 2, 1, 3, 5, 4, 6, 7, 9, 10],
                    &[0, 2, 1, 3, 8, 5, 4, 6, 12, 7, 9, 10],
                    &[0, 8, 2, 1, 3, 5, 4, 6, 7, 9, 10, 12, 11],
                ],
            ),
        ];
        for (values, expected) in cases {
            for (k, want) in expected.iter().enumerate() {
                let mut order = [0u32; 16];
                partial_argsort(values, k + 1, &mut order);
                assert_eq!(&order[..k + 1], *want, "{values:?}, k = {}", k + 1);
            }
        }
        // Without NaNs: the k largest, largest first, ties to the lower index.
        let v = [
            3.0,
            1.0,
            3.0,
            -0.0,
            0.0,
            7.0,
            f32::NEG_INFINITY,
            f32::INFINITY,
        ];
        let mut order = [0u32; 8];
        partial_argsort(&v, 8, &mut order);
        assert_eq!(order, [7, 5, 0, 2, 1, 3, 4, 6]);
        // A short order buffer or k = 0 leaves it alone; never a panic.
        partial_argsort(&v, 3, &mut order[..2]);
        partial_argsort(&v, 0, &mut order);
        partial_argsort(&[], 4, &mut order);
    }

    #[test]
    fn stable_argsort_keeps_equal_scores_in_order() {
        for len in [0usize, 1, 2, 3, 19, 20, 21, 64, 100] {
            // Few distinct values: many ties, whose order must be the original one.
            let values: Vec<f32> = (0..len).map(|i| ((i * 7919) % 5) as f32 * 0.25).collect();
            let mut order = vec![0u32; len];
            let mut tmp = vec![0u32; len];
            stable_argsort_desc(&values, &mut order, &mut tmp);
            let mut want: Vec<u32> = (0..len as u32).collect();
            want.sort_by(|&a, &b| values[b as usize].total_cmp(&values[a as usize]));
            assert_eq!(order, want, "len {len}");
        }
    }

    #[test]
    fn iou_follows_tflm() {
        let boxes = [
            0.0, 0.0, 1.0, 1.0, // 0: unit square
            0.0, 0.5, 1.0, 1.5, // 1: half overlapping 0
            2.0, 2.0, 3.0, 3.0, // 2: disjoint
            0.0, 0.0, 0.0, 1.0, // 3: no area
            0.0, 0.0, 1.0, 1.0, // 4: same as 0
            N, 0.0, 1.0, 1.0, //   5: NaN corner
        ];
        assert_eq!(intersection_over_union(&boxes, 0, 4), 1.0);
        assert_eq!(intersection_over_union(&boxes, 0, 1), 0.5 / 1.5);
        assert_eq!(intersection_over_union(&boxes, 0, 2), 0.0);
        assert_eq!(intersection_over_union(&boxes, 3, 0), 0.0);
        assert_eq!(intersection_over_union(&boxes, 0, 3), 0.0);
        // A NaN area is not `<= 0`, so TFLM computes on: the IoU is NaN (never `>` a
        // threshold, so the box is never suppressed).
        assert!(intersection_over_union(&boxes, 0, 5).is_nan());
        // `std::max`/`std::min` keep the first operand on NaN: with box 5 first its NaN ymin
        // wins, second it loses, and the IoU differs.
        assert_eq!((cmax(N, 1.0).is_nan(), cmax(1.0, N)), (true, 1.0));
        assert_eq!((cmin(N, 1.0).is_nan(), cmin(1.0, N)), (true, 1.0));
        // Out-of-range boxes read as empty (the callers never pass one).
        assert_eq!(intersection_over_union(&boxes, 0, 99), 0.0);
    }

    #[test]
    fn decoding_computes_in_f64_and_rounds_where_tflm_does() {
        // y/x move the centre by `v / scale * anchor size`; h/w scale the size by exp.
        let b = decode(
            &[1.0, -2.0, 0.0, 2.0f32.ln() * 5.0],
            &[0.5, 0.5, 0.2, 0.4],
            &[10.0, 10.0, 5.0, 5.0],
        );
        let yc = (1.0f64 / 10.0 * 0.2f32 as f64 + 0.5f32 as f64) as f32;
        let xc = (-2.0f64 / 10.0 * 0.4f32 as f64 + 0.5f32 as f64) as f32;
        let hh = (0.5 * 0.2f32 as f64) as f32;
        let hw = (0.5 * libm::exp((2.0f32.ln() * 5.0) as f64 / 5.0) * 0.4f32 as f64) as f32;
        assert_eq!(b, [yc - hh, xc - hw, yc + hh, xc + hw]);
        assert!((hw - 0.4).abs() < 1e-6);
    }

    /// Parameters for `n` boxes of 4 values and `classes` classes after a background.
    fn params(n: u32, classes: u32, max_det: u32, regular: bool) -> DetectionPostprocess {
        DetectionPostprocess {
            box_encodings: TensorId(0),
            class_predictions: TensorId(1),
            anchors: ConstRef::new(0, 4 * n),
            boxes: TensorId(2),
            classes: TensorId(3),
            scores: TensorId(4),
            num_detections: TensorId(5),
            num_boxes: n,
            box_coords: 4,
            num_classes: classes,
            label_offset: 1,
            max_detections: max_det,
            classes_per_detection: 1,
            row_stride: 1,
            detections_per_class: 100,
            score_threshold: 0.3,
            iou_threshold: 0.5,
            scale: [1.0; 4],
            regular_nms: regular,
            scratch_offset: 0,
            scratch_bytes: 0,
        }
    }

    struct Run {
        boxes: Vec<f32>,
        classes: Vec<f32>,
        scores: Vec<f32>,
        num: f32,
    }

    /// Runs the reference on zero encodings (each box is its anchor: `(yc, xc, h, w)`, as
    /// corners `yc ∓ h/2, xc ∓ w/2`) with outputs of `out` entries.
    fn run(
        p: &DetectionPostprocess,
        anchors: &[f32],
        scores: &[f32],
        out: usize,
    ) -> core::result::Result<Run, &'static str> {
        let enc = vec![0.0f32; anchors.len() / 4 * p.box_coords as usize];
        let bytes =
            scratch_bytes(p.num_boxes, p.num_classes, p.max_detections, p.regular_nms).unwrap();
        let mut scratch = vec![0u32; bytes.div_ceil(4)];
        let (mut boxes, mut classes, mut sc, mut num) = (
            vec![-1.0; 4 * out],
            vec![-1.0; out],
            vec![-1.0; out],
            [-1.0f32],
        );
        detection_postprocess(
            p,
            &enc,
            scores,
            anchors,
            DetectionOutputs {
                boxes: &mut boxes,
                classes: &mut classes,
                scores: &mut sc,
                num_detections: &mut num,
            },
            bytemuck::cast_slice_mut(&mut scratch),
        )?;
        Ok(Run {
            boxes,
            classes,
            scores: sc,
            num: num[0],
        })
    }

    /// Anchors `(yc, xc, 1, 1)`: unit squares centred at the given points.
    fn squares(centres: &[(f32, f32)]) -> Vec<f32> {
        centres
            .iter()
            .flat_map(|&(y, x)| [y, x, 1.0, 1.0])
            .collect()
    }

    #[test]
    fn fast_nms_suppresses_overlaps_and_keeps_ties_in_box_order() {
        // Boxes 0 and 1 overlap by IoU 0.6 (> 0.5): the lower score goes. Box 2 ties box 0's
        // score and comes after it; box 3 is below the threshold.
        let anchors = squares(&[(0.0, 0.0), (0.0, 0.25), (5.0, 5.0), (9.0, 9.0)]);
        // [background, class 0, class 1] per box.
        let scores = [
            0.0, 0.9, 0.1, //
            0.0, 0.2, 0.8, //
            0.0, 0.1, 0.9, //
            0.9, 0.2, 0.29,
        ];
        let p = params(4, 2, 3, false);
        let r = run(&p, &anchors, &scores, 3).unwrap();
        assert_eq!(r.num, 2.0);
        assert_eq!(r.classes, [0.0, 1.0, 0.0]);
        assert_eq!(r.scores, [0.9, 0.9, 0.0]);
        assert_eq!(&r.boxes[..8], &[-0.5, -0.5, 0.5, 0.5, 4.5, 4.5, 5.5, 5.5]);
        // Unwritten entries are zero.
        assert_eq!(&r.boxes[8..], &[0.0; 4]);
        // At IoU threshold 0.6 exactly (IoU 0.6 is not `>` it), box 1 survives.
        let iou = intersection_over_union(&[-0.5, -0.5, 0.5, 0.5, -0.5, -0.25, 0.5, 0.75], 0, 1);
        let p = DetectionPostprocess {
            iou_threshold: iou,
            ..p
        };
        let r = run(&p, &anchors, &scores, 3).unwrap();
        assert_eq!((r.num, r.scores), (3.0, vec![0.9, 0.9, 0.8]));
    }

    #[test]
    fn fast_nms_with_several_classes_writes_where_litert_does() {
        let anchors = squares(&[(0.0, 0.0), (5.0, 5.0)]);
        let scores = [0.0, 0.9, 0.5, 0.0, 0.4, 0.8];
        // Both classes of each box, three entries apart (max_classes_per_detection 3 with 2
        // classes: LiteRT strides by the option).
        let p = DetectionPostprocess {
            classes_per_detection: 2,
            row_stride: 3,
            ..params(2, 2, 2, false)
        };
        let r = run(&p, &anchors, &scores, 6).unwrap();
        assert_eq!(r.num, 2.0);
        assert_eq!(r.classes, [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(r.scores, [0.9, 0.5, 0.0, 0.8, 0.4, 0.0]);
        assert_eq!(&r.boxes[12..20], &[4.5, 4.5, 5.5, 5.5, 4.5, 4.5, 5.5, 5.5]);
        // Outputs too small for the layout are an error, never a write past them.
        assert_eq!(
            run(&p, &anchors, &scores, 4).err(),
            Some("detection written past the end of an output tensor")
        );
        // A stride below the classes per box would overwrite entries: refused.
        let p = DetectionPostprocess { row_stride: 1, ..p };
        assert!(run(&p, &anchors, &scores, 6).is_err());
    }

    #[test]
    fn regular_nms_ranks_across_classes_with_ties_to_the_earlier_candidate() {
        // Box 0 scores 0.9 in both classes (no suppression across classes); box 1 overlaps
        // box 0 and is suppressed in class 0 only where box 0 is selected.
        let anchors = squares(&[(0.0, 0.0), (0.0, 0.25), (5.0, 5.0)]);
        let scores = [
            0.0, 0.9, 0.9, //
            0.0, 0.7, 0.1, //
            0.0, 0.6, 0.9,
        ];
        let p = params(3, 2, 4, true);
        let r = run(&p, &anchors, &scores, 4).unwrap();
        assert_eq!(r.num, 4.0);
        // Class 0: boxes 0 (0.9), 2 (0.6); box 1 suppressed. Class 1: boxes 0 and 2 (0.9,
        // after class 0's 0.9: earlier candidates first on ties).
        assert_eq!(r.scores, [0.9, 0.9, 0.9, 0.6]);
        assert_eq!(r.classes, [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(&r.boxes[8..12], &[4.5, 4.5, 5.5, 5.5]);
        // Fewer detections than max_detections: the rest is zero; one per class at most.
        let p = DetectionPostprocess {
            detections_per_class: 1,
            max_detections: 3,
            ..p
        };
        let r = run(&p, &anchors, &scores, 3).unwrap();
        assert_eq!(
            (r.num, r.scores, r.classes),
            (2.0, vec![0.9, 0.9, 0.0], vec![0.0, 1.0, 0.0])
        );
        // Outputs smaller than max_detections are refused (TFLM would overrun them).
        assert!(run(&p, &anchors, &scores, 2).is_err());
    }

    #[test]
    fn degenerate_boxes_and_bad_parameters_are_errors() {
        let anchors = squares(&[(0.0, 0.0), (5.0, 5.0)]);
        let scores = [0.0, 0.9, 0.0, 0.8];
        let p = params(2, 1, 2, false);
        assert!(run(&p, &anchors, &scores, 2).is_ok());
        // A zero-height anchor decodes to an empty box, which TFLM refuses.
        let mut flat = anchors.clone();
        flat[6] = 0.0;
        assert_eq!(run(&p, &flat, &scores, 2).err(), Some(EMPTY_BOX));
        // Regular NMS without classes runs no NMS, so TFLM checks no box.
        let none = DetectionPostprocess {
            num_classes: 0,
            regular_nms: true,
            ..p
        };
        let r = run(&none, &flat, &[0.0, 0.0], 2).unwrap();
        assert_eq!((r.num, r.scores), (0.0, vec![0.0, 0.0]));
        for bad in [
            DetectionPostprocess {
                iou_threshold: 0.0,
                ..p
            },
            DetectionPostprocess {
                iou_threshold: N,
                ..p
            },
            DetectionPostprocess {
                classes_per_detection: 0,
                ..p
            },
            DetectionPostprocess { box_coords: 3, ..p },
            DetectionPostprocess {
                label_offset: 2,
                ..p
            },
        ] {
            assert!(run(&bad, &anchors, &scores, 2).is_err(), "{bad:?}");
        }
        // Inputs that do not match the parameters.
        assert!(run(&p, &anchors[..4], &scores, 2).is_err());
        assert!(run(&p, &anchors, &scores[..3], 2).is_err());
    }
}
