//! ADD, SUB and MUL: int8 ADD and MUL with TFLite's requantization; every float binary
//! operator (ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD,
//! PRELU) with a fused clamp; and the numpy-style broadcasting (up to [`BROADCAST_RANK`] axes)
//! that every binary elementwise kernel shares ([`broadcast_for`], [`apply_binary`]).
//!
//! The per-element arithmetic follows TFLite Micro's reference kernels
//! (`reference_integer_ops::AddFunc`, `reference_integer_ops::MulElementwise`,
//! `reference_ops::Add/Sub/Mul/Div`, `MaximumMinimumBroadcastSlow`, `FloorDiv`, `FloorMod`,
//! `BroadcastPrelu4DSlowFloat` for float). TFLM evaluates a broadcast through a separate loop
//! nest (`BroadcastBinaryOpSimple`) but with the very same per-element function, so here both
//! paths share one function and differ only in how they index the inputs.
//!
//! The `prepare_*` functions compute, on the host, the integer parameters TFLM's `Prepare`
//! computes (`CalculateOpDataAdd`, `CalculateOpDataMul`), in the same precision (the scales
//! are widened to `f64` exactly where TFLM widens them), so the converter and the tests share
//! one definition.

use crate::ops::conv::clamp_f32;
use crate::util::{check_len, expect_op};
use ferrite_core::fixed::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_smaller_than_one_exp,
};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{AddI8, BinaryF32, BinaryKind, Broadcast, MulI8, Op, BROADCAST_RANK};
use ferrite_core::quant::{activation_range_i8, quantize_multiplier, FusedActivation, QParams};
use ferrite_core::{Ctx, Error, Result, TensorId, MAX_RANK};

/// Headroom TFLM gives int8 ADD inputs before rescaling (`left_shift = 20`): a difference of
/// one quantization step stays representable after both inputs are brought to a common scale.
pub const ADD_I8_LEFT_SHIFT: i32 = 20;

/// A valid int8 tensor quantization: positive finite scale, zero point inside int8.
fn valid_i8(q: QParams) -> bool {
    q.scale.is_finite() && q.scale > 0.0 && (-128..=127).contains(&q.zero_point)
}

/// TFLite `QuantizeMultiplierSmallerThanOneExp`: requires `0 < m < 1` and yields a shift
/// `<= 0`; `None` where TFLite's `TFLITE_CHECK`s would abort.
pub fn quantize_multiplier_smaller_than_one(m: f64) -> Option<(i32, i32)> {
    if !(m > 0.0 && m < 1.0) {
        return None;
    }
    let (q, shift) = quantize_multiplier(m)?;
    (shift <= 0).then_some((q, shift))
}

/// Int8 ADD layer parameters: the given tensors, output length and broadcast, plus the
/// numbers TFLM's `CalculateOpDataAdd` derives from the quantization:
///
/// * `twice_max_input_scale = 2 * (max(qa.scale, qb.scale) as f64)` (the maximum is taken in
///   `f32`, then widened);
/// * input multipliers `scale as f64 / twice_max_input_scale` and output multiplier
///   `twice_max_input_scale / (2^20 * qo.scale as f64)`, each through
///   `QuantizeMultiplierSmallerThanOneExp`; `left_shift` is [`ADD_I8_LEFT_SHIFT`];
/// * the clamp of `act` through `CalculateActivationRangeQuantized`.
///
/// `None` when TFLM would reject the layer: a scale that is not positive and finite, a zero
/// point outside int8, or an output multiplier not below 1 (an output scale below
/// `2 * max_input_scale / 2^20`).
#[allow(clippy::too_many_arguments)]
pub fn prepare_add_i8(
    a: TensorId,
    b: TensorId,
    output: TensorId,
    len: u32,
    broadcast: Option<Broadcast>,
    qa: QParams,
    qb: QParams,
    qo: QParams,
    act: FusedActivation,
) -> Option<AddI8> {
    if !(valid_i8(qa) && valid_i8(qb) && valid_i8(qo)) {
        return None;
    }
    let twice_max_input_scale = 2.0 * (qa.scale.max(qb.scale) as f64);
    let real_a = qa.scale as f64 / twice_max_input_scale;
    let real_b = qb.scale as f64 / twice_max_input_scale;
    let real_out = twice_max_input_scale / ((1i64 << ADD_I8_LEFT_SHIFT) as f64 * qo.scale as f64);
    let (a_multiplier, a_shift) = quantize_multiplier_smaller_than_one(real_a)?;
    let (b_multiplier, b_shift) = quantize_multiplier_smaller_than_one(real_b)?;
    let (out_multiplier, out_shift) = quantize_multiplier_smaller_than_one(real_out)?;
    let (act_min, act_max) = activation_range_i8(act, qo)?;
    Some(AddI8 {
        subtract: false,
        a,
        b,
        output,
        len,
        broadcast,
        a_offset: -qa.zero_point,
        b_offset: -qb.zero_point,
        left_shift: ADD_I8_LEFT_SHIFT,
        a_multiplier,
        a_shift,
        b_multiplier,
        b_shift,
        out_multiplier,
        out_shift,
        output_offset: qo.zero_point,
        act_min,
        act_max,
        scratch_offset: 0,
        tables: false,
    })
}

/// Int8 MUL layer parameters: the given tensors, output length and broadcast, plus the numbers
/// TFLM's `CalculateOpDataMul` derives: `QuantizeMultiplier(qa.scale as f64 * qb.scale as f64
/// / qo.scale as f64)` and the output clamp of `act`.
///
/// `None` for a scale that is not positive and finite, a zero point outside int8, or a
/// multiplier too large to quantize.
#[allow(clippy::too_many_arguments)]
pub fn prepare_mul_i8(
    a: TensorId,
    b: TensorId,
    output: TensorId,
    len: u32,
    broadcast: Option<Broadcast>,
    qa: QParams,
    qb: QParams,
    qo: QParams,
    act: FusedActivation,
) -> Option<MulI8> {
    if !(valid_i8(qa) && valid_i8(qb) && valid_i8(qo)) {
        return None;
    }
    let real = qa.scale as f64 * qb.scale as f64 / qo.scale as f64;
    let (out_multiplier, out_shift) = quantize_multiplier(real)?;
    let (act_min, act_max) = activation_range_i8(act, qo)?;
    Some(MulI8 {
        a,
        b,
        output,
        len,
        broadcast,
        a_offset: -qa.zero_point,
        b_offset: -qb.zero_point,
        out_multiplier,
        out_shift,
        output_offset: qo.zero_point,
        act_min,
        act_max,
    })
}

/// How two input shapes broadcast, numpy style (shapes aligned on their last axis; an axis of
/// 1 repeats).
///
/// * `Some(None)`: the shapes are equal once padded on the left with 1s, so the op runs
///   element by element (TFLM's `ProcessBroadcastShapes` also takes its non-broadcast path
///   then).
/// * `Some(Some(b))`: `b` describes the broadcast in at most [`BROADCAST_RANK`] axes. Axes of
///   extent 1 are dropped and neighbouring axes that broadcast the same way are merged (as
///   TFLM's `BroadcastBinaryOpSimple` fuses its loops), so the kernel runs as few loops as
///   the shapes allow.
/// * `None`: the shapes are incompatible (an axis differs and neither is 1) or have more than
///   [`MAX_RANK`] dimensions.
// Bounds: `rank <= MAX_RANK` (checked first) bounds `i`, both shapes' lengths and `n_loops`
// below the arrays' `MAX_RANK` (one loop at most per axis), and `MAX_RANK == BROADCAST_RANK`
// bounds `BROADCAST_RANK - 1 - k`.
#[allow(clippy::indexing_slicing)]
pub fn broadcast_for(a_dims: &[u32], b_dims: &[u32]) -> Option<Option<Broadcast>> {
    let rank = a_dims.len().max(b_dims.len());
    if rank > MAX_RANK {
        return None;
    }
    // Left-pad both shapes with 1s to the common rank.
    let mut ea = [1u32; MAX_RANK];
    let mut eb = [1u32; MAX_RANK];
    ea[rank - a_dims.len()..rank].copy_from_slice(a_dims);
    eb[rank - b_dims.len()..rank].copy_from_slice(b_dims);
    let mut out = [1u32; MAX_RANK];
    for i in 0..rank {
        out[i] = match (ea[i], eb[i]) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    if ea[..rank] == eb[..rank] {
        return Some(None);
    }
    if out[..rank].contains(&0) {
        // Nothing to compute: an empty output.
        let mut out_dims = [1u32; BROADCAST_RANK];
        out_dims[BROADCAST_RANK - 1] = 0;
        return Some(Some(Broadcast {
            out_dims,
            a_strides: [0; BROADCAST_RANK],
            b_strides: [0; BROADCAST_RANK],
        }));
    }
    // Loops from the innermost outwards: (extent, a stride, b stride).
    let mut loops = [(1u32, 0u32, 0u32); MAX_RANK];
    let mut n_loops = 0usize;
    let (mut a_acc, mut b_acc) = (1u64, 1u64);
    for i in (0..rank).rev() {
        let extent = out[i];
        if extent == 1 {
            continue;
        }
        let a_stride = if ea[i] == 1 { 0 } else { a_acc };
        let b_stride = if eb[i] == 1 { 0 } else { b_acc };
        a_acc = a_acc.checked_mul(ea[i] as u64)?;
        b_acc = b_acc.checked_mul(eb[i] as u64)?;
        let a_stride = u32::try_from(a_stride).ok()?;
        let b_stride = u32::try_from(b_stride).ok()?;
        // Merge with the loop inside it when both inputs continue it contiguously (or both
        // keep repeating).
        if n_loops > 0 {
            let (inner_extent, inner_a, inner_b) = loops[n_loops - 1];
            let continues = |stride: u32, inner: u32| {
                if inner == 0 {
                    stride == 0
                } else {
                    stride as u64 == inner as u64 * inner_extent as u64
                }
            };
            if continues(a_stride, inner_a) && continues(b_stride, inner_b) {
                let merged = inner_extent.checked_mul(extent)?;
                loops[n_loops - 1] = (merged, inner_a, inner_b);
                continue;
            }
        }
        loops[n_loops] = (extent, a_stride, b_stride);
        n_loops += 1;
    }
    let mut bc = Broadcast {
        out_dims: [1; BROADCAST_RANK],
        a_strides: [0; BROADCAST_RANK],
        b_strides: [0; BROADCAST_RANK],
    };
    for (k, &(extent, sa, sb)) in loops[..n_loops].iter().enumerate() {
        bc.out_dims[BROADCAST_RANK - 1 - k] = extent;
        bc.a_strides[BROADCAST_RANK - 1 - k] = sa;
        bc.b_strides[BROADCAST_RANK - 1 - k] = sb;
    }
    Some(Some(bc))
}

/// Checks that the operand slices fit the layer's length and broadcast, so that
/// [`apply_binary`] cannot index out of bounds.
pub(crate) fn check_operands(
    layer: u16,
    len: u32,
    broadcast: Option<&Broadcast>,
    a: usize,
    b: usize,
    out: usize,
) -> Result<()> {
    let err = |reason| Error::InvalidLayer { layer, reason };
    check_len(
        layer,
        out as u64,
        len as u64,
        "output size does not match the layer",
    )?;
    let Some(bc) = broadcast else {
        if a != out || b != out {
            return Err(err("inputs and output differ in size without a broadcast"));
        }
        return Ok(());
    };
    // Saturating: six `u32` factors can exceed `u64`, and no real length matches then.
    let total = bc
        .out_dims
        .iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d as u64));
    check_len(
        layer,
        total,
        len as u64,
        "broadcast shape does not match the output",
    )?;
    if total == 0 {
        return Ok(());
    }
    // The largest index each input is read at must lie inside it.
    let last_index = |strides: &[u32; BROADCAST_RANK]| {
        bc.out_dims
            .iter()
            .zip(strides)
            .try_fold(0u64, |acc, (&d, &s)| {
                acc.checked_add((d as u64 - 1).checked_mul(s as u64)?)
            })
    };
    let fits = |strides: &[u32; BROADCAST_RANK], size: usize| {
        last_index(strides).is_some_and(|last| last < size as u64)
    };
    if !fits(&bc.a_strides, a) || !fits(&bc.b_strides, b) {
        return Err(err("broadcast strides read outside an input"));
    }
    Ok(())
}

/// Applies `f` element by element, or along a broadcast: `out[o] = f(a[ia(o)], b[ib(o)])`.
/// Slices must satisfy [`check_operands`]; inputs and output may have different types (a
/// comparison writes bools).
///
/// The broadcast walk goes over the output in order, one innermost row at a time, with an
/// odometer over the outer axes that moves both input offsets by their strides (no
/// multiplication per element).
///
/// `check_operands` verified that the largest index each input is read at, the sum of
/// `(extent - 1) * stride` over the axes, lies inside it; the odometer keeps every axis index
/// below its extent, so `a0 + i * sa[last]` and `b0 + i * sb[last]` never exceed that sum.
/// The reads are checked all the same, so that no panic path is linked: should one fall
/// outside its input (it cannot, past `check_operands`), the walk stops there.
// Bounds: the odometer's indices `k < LAST` index `[_; BROADCAST_RANK]` arrays (the optimiser
// proves it: `targets/panic-free-check` links).
#[allow(clippy::indexing_slicing)]
#[inline(always)]
pub(crate) fn apply_binary<A: Copy, B: Copy, O, F: FnMut(A, B) -> O>(
    broadcast: Option<&Broadcast>,
    a: &[A],
    b: &[B],
    out: &mut [O],
    mut f: F,
) {
    let Some(bc) = broadcast else {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
        return;
    };
    const LAST: usize = BROADCAST_RANK - 1;
    let d = bc.out_dims.map(|x| x as usize);
    let sa = bc.a_strides.map(|x| x as usize);
    let sb = bc.b_strides.map(|x| x as usize);
    let (ia, ib) = (sa[LAST], sb[LAST]);
    let mut idx = [0usize; LAST];
    let (mut a0, mut b0) = (0usize, 0usize);
    for row in out.chunks_exact_mut(d[LAST].max(1)) {
        match (ia, ib) {
            // The common shapes get loops the compiler can vectorise.
            (1, 0) => {
                let (Some(&y), Some(a)) = (b.get(b0), a.get(a0..)) else {
                    return;
                };
                for (o, &x) in row.iter_mut().zip(a) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let (Some(&x), Some(b)) = (a.get(a0), b.get(b0..)) else {
                    return;
                };
                for (o, &y) in row.iter_mut().zip(b) {
                    *o = f(x, y);
                }
            }
            _ => {
                for (i, o) in row.iter_mut().enumerate() {
                    let (Some(&x), Some(&y)) = (a.get(a0 + i * ia), b.get(b0 + i * ib)) else {
                        return;
                    };
                    *o = f(x, y);
                }
            }
        }
        // Advance the odometer over the outer axes.
        let mut k = LAST;
        while k > 0 {
            k -= 1;
            idx[k] += 1;
            a0 += sa[k];
            b0 += sb[k];
            if idx[k] < d[k] {
                break;
            }
            a0 -= sa[k] * d[k];
            b0 -= sb[k] * d[k];
            idx[k] = 0;
        }
    }
}

/// One quantized ADD/SUB element on values widened to `i32` (TFLM
/// `reference_integer_ops::AddFunc`, the same for int8 and int16): both inputs are shifted left
/// by `left_shift`, rescaled to the common scale, summed, rescaled to the output and clamped
/// to the activation range (which lies within the output type).
#[inline(always)]
fn add_element(p: &AddI8, x: i32, y: i32) -> i32 {
    let shift = p.left_shift as u32;
    let a = p.a_offset.wrapping_add(x).wrapping_shl(shift);
    let b = p.b_offset.wrapping_add(y).wrapping_shl(shift);
    let a = multiply_by_quantized_multiplier_smaller_than_one_exp(a, p.a_multiplier, p.a_shift);
    let b = multiply_by_quantized_multiplier_smaller_than_one_exp(b, p.b_multiplier, p.b_shift);
    let sum = if p.subtract {
        a.wrapping_sub(b)
    } else {
        a.wrapping_add(b)
    };
    let raw =
        multiply_by_quantized_multiplier_smaller_than_one_exp(sum, p.out_multiplier, p.out_shift)
            .wrapping_add(p.output_offset);
    raw.max(p.act_min).min(p.act_max)
}

/// One quantized MUL element on values widened to `i32` (TFLM
/// `reference_integer_ops::MulElementwise`; an int16 product fits an int32, at most `2^30`).
#[inline(always)]
fn mul_element(p: &MulI8, x: i32, y: i32) -> i32 {
    let a = p.a_offset.wrapping_add(x);
    let b = p.b_offset.wrapping_add(y);
    let raw = multiply_by_quantized_multiplier(a.wrapping_mul(b), p.out_multiplier, p.out_shift)
        .wrapping_add(p.output_offset);
    raw.max(p.act_min).min(p.act_max)
}

/// One int8 ADD/SUB element ([`add_element`]; the clamp is within int8).
#[inline(always)]
pub fn add_element_i8(p: &AddI8, x: i8, y: i8) -> i8 {
    add_element(p, x as i32, y as i32) as i8
}

/// One int8 MUL element ([`mul_element`]; the clamp is within int8).
#[inline(always)]
pub fn mul_element_i8(p: &MulI8, x: i8, y: i8) -> i8 {
    mul_element(p, x as i32, y as i32) as i8
}

/// One rescaling step of [`AddRescale`]: `RoundingDivideByPOT(srdhm(x, multiplier), exp)` in
/// 32-bit arithmetic.
#[derive(Debug, Clone, Copy)]
struct Rescale {
    multiplier: i32,
    exponent: u32,
    half: i32,
    /// `-1` when `exponent >= 1` (negative ties then round away from zero), else 0.
    tie_mask: i32,
}

impl Rescale {
    fn new(multiplier: i32, shift: i32) -> Option<Self> {
        let exponent = u32::try_from(shift.checked_neg()?)
            .ok()
            .filter(|&e| e <= 31)?;
        Some(Rescale {
            multiplier,
            exponent,
            half: ((1i64 << exponent) >> 1) as i32,
            tie_mask: if exponent == 0 { 0 } else { -1 },
        })
    }

    /// `x2` is `2x`: `smmulr(2x, m)` equals `srdhm(x, m)` without the 64-bit rounding fix-ups,
    /// and `(v + half + sign(v)) >> e` equals `RoundingDivideByPOT(v, e)` for `e >= 1`.
    #[inline(always)]
    fn apply(&self, x2: i32) -> i32 {
        let v = crate::arch::smmulr(x2, self.multiplier);
        (v + self.half + ((v >> 31) & self.tie_mask)) >> self.exponent
    }
}

/// int8 ADD/SUB's per-element arithmetic in 32-bit operations only (one `SMMULR` per
/// rescale on a Cortex-M4, no 64-bit rounding fix-ups): equal to [`add_element_i8`] for every
/// input pair whenever [`AddRescale::new`] accepts the parameters, which it does for every
/// layer TFLite's converter produces (inputs shifted left by 20 leave ample headroom).
#[derive(Debug, Clone, Copy)]
pub struct AddRescale {
    a_offset: i32,
    b_offset: i32,
    /// `left_shift + 1`: the inputs, doubled for `smmulr`.
    input_shift: u32,
    a: Rescale,
    b: Rescale,
    out: Rescale,
    subtract: bool,
    output_offset: i32,
    act_min: i32,
    act_max: i32,
    /// Every input's rescaled term, doubled, fits 32 bits: the tables of
    /// [`AddRescale::fill_tables`] can hold them.
    doubled_terms_fit: bool,
}

/// Bytes of int8 ADD/SUB scratch for [`AddRescale::fill_tables`]: 256 `i32` per input.
pub const ADD_TABLE_BYTES: usize = AddI8::TABLE_BYTES as usize;

/// Elements from which the Cortex-M conversions give an int8 ADD/SUB its tables: filling the
/// 512 entries (three high multiplies each, once per run) costs about what 300 elements save.
pub const ADD_TABLE_MIN_LEN: u32 = 1024;

impl AddRescale {
    /// The 32-bit form of int8 `p`, or `None` when some value could overflow it (see
    /// [`AddRescale::for_inputs`]).
    pub fn new(p: &AddI8) -> Option<Self> {
        Self::for_inputs(p, i8::MIN as i32, i8::MAX as i32)
    }

    /// The 32-bit form of `p` for inputs in `lo..=hi`, or `None` when some value could
    /// overflow it: every doubled intermediate must fit in 32 bits, and multipliers must be
    /// non-negative (so no high multiply saturates). Each rescale is monotonic in its input,
    /// so the extremes of the scaled inputs and of their sum come from the inputs' extremes,
    /// worked out exactly with TFLite's arithmetic.
    pub fn for_inputs(p: &AddI8, lo: i32, hi: i32) -> Option<Self> {
        let shift = u32::try_from(p.left_shift).ok().filter(|&s| s <= 30)?;
        if p.a_multiplier < 0 || p.b_multiplier < 0 || p.out_multiplier < 0 || lo > hi {
            return None;
        }
        let fits = |v: i64| i32::try_from(v).is_ok();
        // One input's scaled extremes, after checking its doubled shifted values fit.
        let scaled = |offset: i32, multiplier: i32, exponent: i32| -> Option<(i64, i64)> {
            let ends = [lo as i64 + offset as i64, hi as i64 + offset as i64];
            if !ends.iter().all(|&v| fits(v << (shift + 1))) {
                return None;
            }
            let [min, max] = ends.map(|v| {
                multiply_by_quantized_multiplier_smaller_than_one_exp(
                    (v << shift) as i32,
                    multiplier,
                    exponent,
                ) as i64
            });
            Some((min, max))
        };
        let (a_min, a_max) = scaled(p.a_offset, p.a_multiplier, p.a_shift)?;
        let (b_min, b_max) = scaled(p.b_offset, p.b_multiplier, p.b_shift)?;
        let (sum_min, sum_max) = if p.subtract {
            (a_min - b_max, a_max - b_min)
        } else {
            (a_min + b_min, a_max + b_max)
        };
        if !fits(2 * sum_min) || !fits(2 * sum_max) {
            return None;
        }
        let doubled_terms_fit = [a_min, a_max, b_min, b_max].iter().all(|&v| fits(2 * v));
        Some(AddRescale {
            a_offset: p.a_offset,
            b_offset: p.b_offset,
            input_shift: shift + 1,
            a: Rescale::new(p.a_multiplier, p.a_shift)?,
            b: Rescale::new(p.b_multiplier, p.b_shift)?,
            out: Rescale::new(p.out_multiplier, p.out_shift)?,
            subtract: p.subtract,
            output_offset: p.output_offset,
            act_min: p.act_min,
            act_max: p.act_max,
            doubled_terms_fit,
        })
    }

    /// One element of inputs widened to `i32` (within the range the form was made for).
    #[inline(always)]
    fn element_i32(&self, x: i32, y: i32) -> i32 {
        // No overflow below: `for_inputs` bounded every value (debug builds would catch a
        // slip).
        let a = self.a.apply((x + self.a_offset) << self.input_shift);
        let b = self.b.apply((y + self.b_offset) << self.input_shift);
        let sum = if self.subtract { a - b } else { a + b };
        self.finish(sum << 1)
    }

    /// The output of the doubled sum of the two rescaled terms: the output rescale, offset
    /// and clamp.
    #[inline(always)]
    fn finish(&self, sum2: i32) -> i32 {
        let raw = self.out.apply(sum2) + self.output_offset;
        raw.max(self.act_min).min(self.act_max)
    }

    /// Whether [`AddRescale::fill_tables`] applies to these parameters.
    pub fn has_tables(&self) -> bool {
        self.doubled_terms_fit
    }

    /// Fills `ta[v + 128]` with `2 a(v)` and `tb[v + 128]` with `2 b(v)` (`-2 b(v)` for
    /// SUB) for every int8 `v`, the rescaled terms [`AddRescale::element`] adds, so that an
    /// element is `finish(ta[x + 128] + tb[y + 128])`: one high multiply per element instead
    /// of three. `false`, writing nothing, when a doubled term could leave 32 bits (then
    /// the tables cannot hold it).
    pub fn fill_tables(&self, ta: &mut [i32; 256], tb: &mut [i32; 256]) -> bool {
        if !self.doubled_terms_fit {
            return false;
        }
        for (v, (ea, eb)) in (i8::MIN as i32..).zip(ta.iter_mut().zip(tb.iter_mut())) {
            let a = self.a.apply((v + self.a_offset) << self.input_shift);
            let b = self.b.apply((v + self.b_offset) << self.input_shift);
            *ea = a << 1;
            *eb = if self.subtract { -b << 1 } else { b << 1 };
        }
        true
    }

    /// [`AddRescale::table_element`] over operands of one shape.
    ///
    /// Its own loop with the output stage in locals (through `apply_binary` the element
    /// stayed a call; with the stage read through `self`, or with seven stage values live,
    /// the loop reloaded them from the stack at every element). For an output exponent of
    /// at least 1 the output offset joins the rounding term — `((v + half + sign(v)) >> e) +
    /// offset` is `(v + sign(v) + (half + (offset << e))) >> e`, exact while that sum fits
    /// (`|v| <= 2^30`) — and a clamp to the whole int8 range is one `SSAT`: 17 instructions
    /// per element on a Cortex-M4.
    pub fn table_elements(
        &self,
        ta: &[i32; 256],
        tb: &[i32; 256],
        a: &[i8],
        b: &[i8],
        out: &mut [i8],
    ) {
        let s = self.out;
        let (lo, hi) = (self.act_min, self.act_max);
        let round = s.half as i64 + ((self.output_offset as i64) << s.exponent);
        let elements = out.iter_mut().zip(a).zip(b);
        if s.exponent >= 1 && round.unsigned_abs() < (1 << 30) - 1 {
            let (m, e, round) = (s.multiplier, s.exponent, round as i32);
            let rescale = move |x: i8, y: i8| {
                let sum2 = table_sum(ta, tb, x, y);
                let v = crate::arch::smmulr(sum2, m);
                (v + (v >> 31) + round) >> e
            };
            if (lo, hi) == (i8::MIN as i32, i8::MAX as i32) {
                for ((o, &x), &y) in elements {
                    *o = rescale(x, y).clamp(i8::MIN as i32, i8::MAX as i32) as i8;
                }
            } else {
                for ((o, &x), &y) in elements {
                    *o = rescale(x, y).max(lo).min(hi) as i8;
                }
            }
        } else {
            let offset = self.output_offset;
            for ((o, &x), &y) in elements {
                let sum2 = table_sum(ta, tb, x, y);
                *o = (s.apply(sum2) + offset).max(lo).min(hi) as i8;
            }
        }
    }

    /// One element through the tables [`AddRescale::fill_tables`] filled; equal to
    /// [`AddRescale::element`].
    #[inline(always)]
    pub fn table_element(&self, ta: &[i32; 256], tb: &[i32; 256], x: i8, y: i8) -> i8 {
        let sum2 = table_sum(ta, tb, x, y);
        self.finish(sum2) as i8
    }

    /// One element; equal to [`add_element_i8`] with the parameters it was made from.
    #[inline(always)]
    pub fn element(&self, x: i8, y: i8) -> i8 {
        self.element_i32(x as i32, y as i32) as i8
    }

    /// One int16 element; equal to [`add_element_i16`] when made by
    /// [`AddRescale::for_inputs`] over the int16 range.
    #[inline(always)]
    pub fn element_i16(&self, x: i16, y: i16) -> i16 {
        self.element_i32(x as i32, y as i32) as i16
    }
}

/// `ta[x + 128] + tb[y + 128]`: the doubled sum of an element's rescaled terms
/// ([`AddRescale::fill_tables`]; it fits 32 bits, `AddRescale::for_inputs` bounded it).
// Bounds: `v as u8 ^ 0x80` (`v + 128`) is a `u8`, below the tables' 256 entries.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn table_sum(ta: &[i32; 256], tb: &[i32; 256], x: i8, y: i8) -> i32 {
    ta[(x as u8 ^ 0x80) as usize].wrapping_add(tb[(y as u8 ^ 0x80) as usize])
}

/// Reference int8 ADD and SUB (TFLM `reference_integer_ops::Add`, `reference_ops::Sub` and
/// their broadcasting forms), through [`AddRescale`] when it applies.
///
/// Without a broadcast `a`, `b` and `output` have `p.len` elements; with one, they must fit
/// its shape and strides (the kernel entry checks).
pub fn add_i8(p: &AddI8, a: &[i8], b: &[i8], output: &mut [i8]) {
    match AddRescale::new(p) {
        Some(fast) => apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
            fast.element(x, y)
        }),
        None => apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
            add_element_i8(p, x, y)
        }),
    }
}

/// Reference int8 MUL (TFLM `reference_integer_ops::Mul` / `BroadcastMul4DSlow`); slices as
/// for [`add_i8`].
pub fn mul_i8(p: &MulI8, a: &[i8], b: &[i8], output: &mut [i8]) {
    apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
        mul_element_i8(p, x, y)
    });
}

/// Reference float binary operator followed by TFLite's `ActivationFunctionWithMinMax`
/// clamp (the operators without a fused activation get infinite bounds, which keep every
/// value); slices as for [`add_i8`]. Each operator is [`BinaryKind`]'s formula in `f32` as
/// TFLM writes it, so NaNs and infinities come out as there (FLOOR_DIV divides in `f64`, as
/// TFLM's `FloorDiv` does).
pub fn binary_f32(p: &BinaryF32, a: &[f32], b: &[f32], output: &mut [f32]) {
    let (lo, hi) = (p.act_min, p.act_max);
    let bc = p.broadcast.as_ref();
    let clamp = move |v: f32| clamp_f32(v, lo, hi);
    match p.kind {
        BinaryKind::Add => apply_binary(bc, a, b, output, |x, y| clamp(x + y)),
        BinaryKind::Sub => apply_binary(bc, a, b, output, |x, y| clamp(x - y)),
        BinaryKind::Mul => apply_binary(bc, a, b, output, |x, y| clamp(x * y)),
        BinaryKind::Div => apply_binary(bc, a, b, output, |x, y| clamp(x / y)),
        BinaryKind::Maximum => {
            apply_binary(bc, a, b, output, |x, y| clamp(if x > y { x } else { y }))
        }
        BinaryKind::Minimum => {
            apply_binary(bc, a, b, output, |x, y| clamp(if x < y { x } else { y }))
        }
        BinaryKind::SquaredDifference => apply_binary(bc, a, b, output, |x, y| {
            let d = x - y;
            clamp(d * d)
        }),
        BinaryKind::FloorDiv => apply_binary(bc, a, b, output, |x, y| {
            clamp(libm::floor(x as f64 / y as f64) as f32)
        }),
        BinaryKind::FloorMod => apply_binary(bc, a, b, output, |x, y| clamp(floor_mod_f32(x, y))),
        BinaryKind::Prelu => apply_binary(bc, a, b, output, |x, y| {
            clamp(if x >= 0.0 { x } else { x * y })
        }),
    }
}

/// TFLM's float `FloorMod`: `fmod`'s remainder, moved by `b` when its sign differs from `b`'s.
#[inline(always)]
fn floor_mod_f32(x: f32, y: f32) -> f32 {
    let r = fmod_f32(x, y);
    if r != 0.0 && ((y < 0.0) != (r < 0.0)) {
        r + y
    } else {
        r
    }
}

/// C's `fmodf`: `x - n * y` for the integer `n` of `x / y` rounded toward zero, computed
/// exactly (as `fmod` is defined), with `x`'s sign; NaN for a zero `y`, an infinite `x` or a
/// NaN, `x` for an infinite `y`. Equal to `libm::fmodf` (a property test compares them), which
/// it replaces because `libm`'s keeps panic paths the device firmware must not link.
///
/// Subtracts `|y| * 2^k` for `k` from the largest that fits down to 0. Each subtraction is
/// exact: the remainder `r` satisfies `t <= r < 2t` for the multiple `t` it subtracts
/// (Sterbenz), and `t` itself, `|y|` doubled or halved, is exact. At most 277 steps.
pub(crate) fn fmod_f32(x: f32, y: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    if y == 0.0 || x.is_nan() || y.is_nan() || x.is_infinite() {
        return f32::NAN;
    }
    if ax < ay || ay.is_infinite() {
        return x;
    }
    // The largest `|y| * 2^k <= |x|` (doubling to infinity ends the loop too).
    let mut t = ay;
    while t * 2.0 <= ax {
        t *= 2.0;
    }
    let mut r = ax;
    loop {
        // Invariant: `r < 2t`.
        if r >= t {
            r -= t;
        }
        if t == ay {
            break;
        }
        t *= 0.5;
    }
    r.copysign(x)
}

/// Rejects shifts the fixed-point helpers cannot take and an empty clamp range (which would
/// make the clamp meaningless). `smaller_than_one` shifts are exponents of multipliers below 1
/// (`-31..=0`); `general` ones may go either way (`-31..=31`).
pub(crate) fn check_int_params(
    ctx: &Ctx<'_>,
    smaller_than_one: &[i32],
    general: &[i32],
    act_min: i32,
    act_max: i32,
) -> Result<()> {
    let out_of = |shifts: &[i32], range: core::ops::RangeInclusive<i32>| {
        shifts.iter().any(|s| !range.contains(s))
    };
    if out_of(smaller_than_one, -31..=0) || out_of(general, -31..=31) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    if act_min > act_max {
        return Err(ctx.error("activation range is empty"));
    }
    Ok(())
}

/// Kernel entry for [`Op::AddI8`].
///
/// With scratch for the input tables ([`AddI8::tables`]), the elements go through
/// them ([`AddRescale::fill_tables`]); otherwise, or when the parameters do not allow them,
/// through [`add_i8`].
pub fn run_add_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    crate::util::forward_static!(ctx, op, AddI8);
    let p = expect_op!(ctx, op, AddI8);
    if !p.tables {
        return run_add_i8_with(ctx, op, add_i8);
    }
    check_add_i8(ctx, p)?;
    let layer = ctx.layer;
    let (inputs, out, scratch) =
        ctx.split_with_scratch(p.output, p.scratch_offset, AddI8::TABLE_BYTES)?;
    let (a, b, output) = add_operands(layer, p, &inputs, out)?;
    let tables = scratch
        .get_mut(..ADD_TABLE_BYTES)
        .and_then(|s| bytemuck::try_cast_slice_mut::<u8, i32>(s).ok())
        .map(|w| w.split_at_mut(256))
        .and_then(|(ta, tb)| {
            let ta: &mut [i32; 256] = ta.try_into().ok()?;
            let tb: &mut [i32; 256] = tb.try_into().ok()?;
            Some((ta, tb))
        });
    if let (Some(fast), Some((ta, tb))) = (AddRescale::new(p), tables) {
        if fast.fill_tables(&mut *ta, &mut *tb) {
            let (ta, tb) = (&*ta, &*tb);
            if p.broadcast.is_none() {
                fast.table_elements(ta, tb, a, b, output);
            } else {
                apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
                    fast.table_element(ta, tb, x, y)
                });
            }
            return Ok(());
        }
    }
    add_i8(p, a, b, output);
    Ok(())
}

/// The parameter checks of an int8 ADD/SUB layer.
fn check_add_i8(ctx: &Ctx<'_>, p: &AddI8) -> Result<()> {
    check_int_params(
        ctx,
        &[p.a_shift, p.b_shift, p.out_shift],
        &[],
        p.act_min,
        p.act_max,
    )?;
    if !(0..=31).contains(&p.left_shift) {
        return Err(ctx.error("left shift out of range"));
    }
    Ok(())
}

/// An int8 ADD/SUB layer's operands, checked against its length and broadcast.
fn add_operands<'x>(
    layer: u16,
    p: &AddI8,
    inputs: &ferrite_core::model::Inputs<'x>,
    out: &'x mut [u8],
) -> Result<(&'x [i8], &'x [i8], &'x mut [i8])> {
    let a: &[i8] = inputs.get(p.a)?;
    let b: &[i8] = inputs.get(p.b)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    Ok((a, b, output))
}

/// [`run_add_i8`]'s checks, then `same_shape` for operands of equal shape (a fast path's
/// loop) or the portable broadcasting kernel.
pub(crate) fn run_add_i8_with(
    ctx: &mut Ctx<'_>,
    op: &Op,
    same_shape: impl FnOnce(&AddI8, &[i8], &[i8], &mut [i8]),
) -> Result<()> {
    let p = expect_op!(ctx, op, AddI8);
    check_add_i8(ctx, p)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let (a, b, output) = add_operands(layer, p, &inputs, out)?;
    if p.broadcast.is_none() {
        same_shape(p, a, b, output);
    } else {
        add_i8(p, a, b, output);
    }
    Ok(())
}

/// Kernel entry for [`Op::MulI8`].
pub fn run_mul_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    crate::util::forward_static!(ctx, op, MulI8);
    run_mul_i8_with(ctx, op, mul_i8)
}

/// [`run_mul_i8`]'s checks, then `same_shape` for operands of equal shape (a fast path's
/// loop) or the portable broadcasting kernel.
pub(crate) fn run_mul_i8_with(
    ctx: &mut Ctx<'_>,
    op: &Op,
    same_shape: impl FnOnce(&MulI8, &[i8], &[i8], &mut [i8]),
) -> Result<()> {
    let p = expect_op!(ctx, op, MulI8);
    check_int_params(ctx, &[], &[p.out_shift], p.act_min, p.act_max)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let a: &[i8] = inputs.get(p.a)?;
    let b: &[i8] = inputs.get(p.b)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    if p.broadcast.is_none() {
        same_shape(p, a, b, output);
    } else {
        mul_i8(p, a, b, output);
    }
    Ok(())
}

/// Headroom TFLM gives int16 ADD/SUB inputs before rescaling (`left_shift = 15`): the
/// widest int16 difference, 65535, shifted by 15 still fits an int32 accumulator.
pub const ADD_I16_LEFT_SHIFT: i32 = 15;

/// A valid int16 tensor quantization: positive finite scale, zero point inside int16.
fn valid_i16(q: QParams) -> bool {
    q.scale.is_finite()
        && q.scale > 0.0
        && (i16::MIN as i32..=i16::MAX as i32).contains(&q.zero_point)
}

/// TFLM `CalculateActivationRangeQuantized` for an int16 output: RELU clamps below at the
/// zero point, RELU6 / RELU_N1_TO_1 at the quantized bounds (`zp + round(v / scale)`, the
/// division in `f32`), all within the int16 range. `None` when a bound overflows `i32`.
pub fn activation_range_i16(act: FusedActivation, out: QParams) -> Option<(i32, i32)> {
    let q = |v: f32| -> Option<i32> {
        let r = libm::roundf(v / out.scale);
        (r >= i32::MIN as f32 && r < i32::MAX as f32)
            .then(|| out.zero_point.saturating_add(r as i32))
    };
    let (lo, hi) = (i16::MIN as i32, i16::MAX as i32);
    Some(match act {
        FusedActivation::None => (lo, hi),
        FusedActivation::Relu => (lo.max(q(0.0)?), hi),
        FusedActivation::Relu6 => (lo.max(q(0.0)?), hi.min(q(6.0)?)),
        FusedActivation::ReluN1To1 => (lo.max(q(-1.0)?), hi.min(q(1.0)?)),
    })
}

/// Int16 ADD or SUB layer parameters (TFLM `CalculateOpDataAdd` / `CalculateOpDataSub` for an
/// int16 output): as [`prepare_add_i8`] with `left_shift` [`ADD_I16_LEFT_SHIFT`], the
/// multipliers in `f64` for both. (Some TFLM sources keep SUB's `twice_max_input_scale` a
/// `float` and divide in `f32`; the TFLM the goldens come from does not: its int16 SUB matches
/// the `f64` multipliers bit for bit and not the `f32` ones.) TFLM accepts any zero point here
/// (it only `DCHECK`s that the offsets lie inside int16).
///
/// `None` when TFLM would reject the layer: a scale that is not positive and finite, a zero
/// point outside int16, or a multiplier not below 1.
#[allow(clippy::too_many_arguments)]
pub fn prepare_add_i16(
    subtract: bool,
    a: TensorId,
    b: TensorId,
    output: TensorId,
    len: u32,
    broadcast: Option<Broadcast>,
    qa: QParams,
    qb: QParams,
    qo: QParams,
    act: FusedActivation,
) -> Option<AddI8> {
    if !(valid_i16(qa) && valid_i16(qb) && valid_i16(qo)) {
        return None;
    }
    let twice_max_input_scale = 2.0 * (qa.scale.max(qb.scale) as f64);
    let real_a = qa.scale as f64 / twice_max_input_scale;
    let real_b = qb.scale as f64 / twice_max_input_scale;
    let real_out = twice_max_input_scale / ((1i64 << ADD_I16_LEFT_SHIFT) as f64 * qo.scale as f64);
    let (a_multiplier, a_shift) = quantize_multiplier_smaller_than_one(real_a)?;
    let (b_multiplier, b_shift) = quantize_multiplier_smaller_than_one(real_b)?;
    let (out_multiplier, out_shift) = quantize_multiplier_smaller_than_one(real_out)?;
    let (act_min, act_max) = activation_range_i16(act, qo)?;
    Some(AddI8 {
        subtract,
        a,
        b,
        output,
        len,
        broadcast,
        a_offset: -qa.zero_point,
        b_offset: -qb.zero_point,
        left_shift: ADD_I16_LEFT_SHIFT,
        a_multiplier,
        a_shift,
        b_multiplier,
        b_shift,
        out_multiplier,
        out_shift,
        output_offset: qo.zero_point,
        act_min,
        act_max,
        scratch_offset: 0,
        tables: false,
    })
}

/// Int16 MUL layer parameters (TFLM `CalculateOpDataMul`): as [`prepare_mul_i8`]. `None` for
/// a bad scale, a multiplier too large to quantize, or a non-zero zero point (TFLM requires
/// all three int16 zero points to be 0).
#[allow(clippy::too_many_arguments)]
pub fn prepare_mul_i16(
    a: TensorId,
    b: TensorId,
    output: TensorId,
    len: u32,
    broadcast: Option<Broadcast>,
    qa: QParams,
    qb: QParams,
    qo: QParams,
    act: FusedActivation,
) -> Option<MulI8> {
    if !(valid_i16(qa) && valid_i16(qb) && valid_i16(qo)) {
        return None;
    }
    if qa.zero_point != 0 || qb.zero_point != 0 || qo.zero_point != 0 {
        return None;
    }
    let real = qa.scale as f64 * qb.scale as f64 / qo.scale as f64;
    let (out_multiplier, out_shift) = quantize_multiplier(real)?;
    let (act_min, act_max) = activation_range_i16(act, qo)?;
    Some(MulI8 {
        a,
        b,
        output,
        len,
        broadcast,
        a_offset: 0,
        b_offset: 0,
        out_multiplier,
        out_shift,
        output_offset: 0,
        act_min,
        act_max,
    })
}

/// One int16 ADD/SUB element (TFLM `AddElementwise` / `SubElementwise` templated on
/// `int16_t`: [`add_element`]; the converter's clamp is within int16).
#[inline(always)]
pub fn add_element_i16(p: &AddI8, x: i16, y: i16) -> i16 {
    add_element(p, x as i32, y as i32) as i16
}

/// One int16 MUL element (TFLM `MulElementwise<int16_t>`: [`mul_element`]).
#[inline(always)]
pub fn mul_element_i16(p: &MulI8, x: i16, y: i16) -> i16 {
    mul_element(p, x as i32, y as i32) as i16
}

/// Reference int16 ADD and SUB, same shape or broadcast, through [`AddRescale`] when it
/// applies; slices as for [`add_i8`].
pub fn add_i16(p: &AddI8, a: &[i16], b: &[i16], output: &mut [i16]) {
    match AddRescale::for_inputs(p, i16::MIN as i32, i16::MAX as i32) {
        Some(fast) => apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
            fast.element_i16(x, y)
        }),
        None => apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
            add_element_i16(p, x, y)
        }),
    }
}

/// Reference int16 MUL, same shape or broadcast; slices as for [`add_i8`].
pub fn mul_i16(p: &MulI8, a: &[i16], b: &[i16], output: &mut [i16]) {
    apply_binary(p.broadcast.as_ref(), a, b, output, |x, y| {
        mul_element_i16(p, x, y)
    });
}

/// Rejects an int16 clamp outside int16 (the narrowing in the element functions would then
/// change values).
fn check_i16_clamp(ctx: &Ctx<'_>, act_min: i32, act_max: i32) -> Result<()> {
    let range = i16::MIN as i32..=i16::MAX as i32;
    if !range.contains(&act_min) || !range.contains(&act_max) {
        return Err(ctx.error("activation range outside int16"));
    }
    Ok(())
}

/// Kernel entry for [`Op::AddI16`].
pub fn run_add_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, AddI16);
    check_int_params(
        ctx,
        &[p.a_shift, p.b_shift, p.out_shift],
        &[],
        p.act_min,
        p.act_max,
    )?;
    check_i16_clamp(ctx, p.act_min, p.act_max)?;
    if !(0..=31).contains(&p.left_shift) {
        return Err(ctx.error("left shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let a: &[i16] = inputs.get(p.a)?;
    let b: &[i16] = inputs.get(p.b)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    add_i16(p, a, b, output);
    Ok(())
}

/// Kernel entry for [`Op::MulI16`].
pub fn run_mul_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, MulI16);
    check_int_params(ctx, &[], &[p.out_shift], p.act_min, p.act_max)?;
    check_i16_clamp(ctx, p.act_min, p.act_max)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let a: &[i16] = inputs.get(p.a)?;
    let b: &[i16] = inputs.get(p.b)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    mul_i16(p, a, b, output);
    Ok(())
}

/// Kernel entry for [`Op::BinaryF32`].
pub fn run_binary_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, BinaryF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let a: &[f32] = inputs.get(p.a)?;
    let b: &[f32] = inputs.get(p.b)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_operands(
        layer,
        p.len,
        p.broadcast.as_ref(),
        a.len(),
        b.len(),
        output.len(),
    )?;
    // TFLM's FLOOR_DIV checks every divisor before computing anything.
    if p.kind == BinaryKind::FloorDiv && b.contains(&0.0) {
        return Err(Error::InvalidData {
            layer,
            reason: "a division by zero",
        });
    }
    binary_f32(p, a, b, output);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    extern crate std;
    use ferrite_core::{Arena, DType, Layer, Model, Shape, Tensor};

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    /// An ADD of tensors 0 and 1 into tensor 2.
    fn add_op(
        qa: QParams,
        qb: QParams,
        qo: QParams,
        act: FusedActivation,
        len: u32,
        broadcast: Option<Broadcast>,
    ) -> Option<AddI8> {
        prepare_add_i8(
            TensorId(0),
            TensorId(1),
            TensorId(2),
            len,
            broadcast,
            qa,
            qb,
            qo,
            act,
        )
    }

    /// A MUL of tensors 0 and 1 into tensor 2.
    fn mul_op(
        qa: QParams,
        qb: QParams,
        qo: QParams,
        act: FusedActivation,
        len: u32,
        broadcast: Option<Broadcast>,
    ) -> Option<MulI8> {
        prepare_mul_i8(
            TensorId(0),
            TensorId(1),
            TensorId(2),
            len,
            broadcast,
            qa,
            qb,
            qo,
            act,
        )
    }

    fn tensor(offset: u32, dtype: DType, dims: &[u32], scale: f32, zero_point: i32) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(dims),
            scale,
            zero_point,
        }
    }

    fn float_op(kind: BinaryKind, (act_min, act_max): (f32, f32)) -> BinaryF32 {
        BinaryF32 {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            kind,
            len: 4,
            broadcast: None,
            act_min,
            act_max,
        }
    }

    /// `kind` of `a` and `b`, element by element.
    fn float(kind: BinaryKind, clamp: (f32, f32), a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        let mut out = [0f32; 4];
        binary_f32(&float_op(kind, clamp), &a, &b, &mut out);
        out
    }

    #[test]
    fn float_operators_follow_tflm_formulas() {
        let none = (f32::MIN, f32::MAX);
        let open = (f32::NEG_INFINITY, f32::INFINITY);
        // DIV by zero: the infinity clamps to the largest float, as TFLM's activation does.
        let d = float(
            BinaryKind::Div,
            none,
            [1.0, -1.0, 6.0, 1.0],
            [0.0, 0.0, 4.0, 3.0],
        );
        assert_eq!(d, [f32::MAX, f32::MIN, 1.5, 1.0 / 3.0]);
        // MAXIMUM is `a > b ? a : b`: a NaN in `a` loses, in `b` wins.
        let m = float(
            BinaryKind::Maximum,
            open,
            [f32::NAN, 1.0, -0.0, 2.0],
            [1.0, f32::NAN, 0.0, -2.0],
        );
        assert_eq!((m[0], m[2], m[3]), (1.0, 0.0, 2.0));
        assert!(m[1].is_nan() && m[2].is_sign_positive());
        let m = float(
            BinaryKind::Minimum,
            open,
            [3.0, -1.0, 0.0, 2.0],
            [2.0, 1.0, -0.0, 2.0],
        );
        assert_eq!(m, [2.0, -1.0, -0.0, 2.0]);
        assert!(m[2].is_sign_negative());
        let sd = float(
            BinaryKind::SquaredDifference,
            open,
            [3.0, -1.0, 0.5, 0.0],
            [1.0; 4],
        );
        assert_eq!(sd, [4.0, 4.0, 0.25, 1.0]);
        let fd = float(
            BinaryKind::FloorDiv,
            open,
            [7.0, -7.0, 7.0, 1.0],
            [2.0, 2.0, -2.0, 3.0],
        );
        assert_eq!(fd, [3.0, -4.0, -4.0, 0.0]);
        let fm = float(
            BinaryKind::FloorMod,
            open,
            [5.0, -5.0, 5.0, 1.0],
            [-3.0, 3.0, 3.0, f32::INFINITY],
        );
        assert_eq!(fm, [-1.0, 1.0, 2.0, 1.0]);
        let p = float(
            BinaryKind::Prelu,
            open,
            [2.0, -2.0, -0.0, -4.0],
            [0.5, 0.5, 0.5, -1.0],
        );
        assert_eq!(p, [2.0, -1.0, -0.0, 4.0]);
    }

    #[test]
    fn float_floor_div_by_zero_fails_the_layer() {
        let tensors = [
            tensor(0, DType::F32, &[4], 0.0, 0),
            tensor(16, DType::F32, &[4], 0.0, 0),
            tensor(32, DType::F32, &[4], 0.0, 0),
        ];
        let layers = [Layer {
            op: Op::BinaryF32(float_op(
                BinaryKind::FloorDiv,
                (f32::NEG_INFINITY, f32::INFINITY),
            )),
            kernel: run_binary_f32,
            name: "FLOOR_DIV",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0), TensorId(1)],
            outputs: &[TensorId(2)],
            arena_bytes: 48,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<48>::new();
        model
            .set_input(arena.as_mut_slice(), 0, &[1.0f32; 4])
            .unwrap();
        model
            .set_input(arena.as_mut_slice(), 1, &[1.0f32, 2.0, -0.0, 4.0])
            .unwrap();
        assert_eq!(
            model.invoke(arena.as_mut_slice()),
            Err(Error::InvalidData {
                layer: 0,
                reason: "a division by zero"
            })
        );
    }

    #[test]
    fn broadcast_shapes() {
        assert_eq!(broadcast_for(&[2, 3], &[2, 3]), Some(None));
        assert_eq!(broadcast_for(&[1, 4], &[4]), Some(None));
        assert_eq!(broadcast_for(&[2, 3], &[4]), None);
        // Channel-wise bias: [1, 2, 2, 3] + [3].
        assert_eq!(
            broadcast_for(&[1, 2, 2, 3], &[3]),
            Some(Some(Broadcast {
                out_dims: [1, 1, 1, 1, 4, 3],
                a_strides: [0, 0, 0, 0, 3, 1],
                b_strides: [0, 0, 0, 0, 0, 1],
            }))
        );
        // Outer product [4, 1] x [1, 5].
        assert_eq!(
            broadcast_for(&[4, 1], &[1, 5]),
            Some(Some(Broadcast {
                out_dims: [1, 1, 1, 1, 4, 5],
                a_strides: [0, 0, 0, 0, 1, 0],
                b_strides: [0, 0, 0, 0, 0, 1],
            }))
        );
        // Scalar against a 6-D tensor collapses to one loop.
        assert_eq!(
            broadcast_for(&[2, 3, 4, 5, 6, 7], &[1]),
            Some(Some(Broadcast {
                out_dims: [1, 1, 1, 1, 1, 5040],
                a_strides: [0, 0, 0, 0, 0, 1],
                b_strides: [0, 0, 0, 0, 0, 0],
            }))
        );
        // Six alternating axes need six loops (TFLM broadcasts them too).
        assert_eq!(
            broadcast_for(&[2, 1, 2, 1, 2, 1], &[1, 2, 1, 2, 1, 2]),
            Some(Some(Broadcast {
                out_dims: [2, 2, 2, 2, 2, 2],
                a_strides: [4, 0, 2, 0, 1, 0],
                b_strides: [0, 4, 0, 2, 0, 1],
            }))
        );
        // Above the largest rank.
        assert_eq!(broadcast_for(&[1, 1, 1, 1, 1, 1, 1], &[1]), None);
    }

    /// The output shape and, per output element, the indices numpy broadcasting reads from
    /// `a` and `b`, computed the slow way to check the strides of `broadcast_for`.
    fn naive_broadcast(a: &[u32], b: &[u32]) -> ([u32; 6], [(usize, usize); 720]) {
        let pad = |d: &[u32]| {
            let mut e = [1u32; 6];
            e[6 - d.len()..].copy_from_slice(d);
            e
        };
        let (ea, eb) = (pad(a), pad(b));
        let out: [u32; 6] = core::array::from_fn(|i| ea[i].max(eb[i]));
        let mut pairs = [(0, 0); 720];
        let total: usize = out.iter().map(|&d| d as usize).product();
        for (flat, pair) in pairs.iter_mut().enumerate().take(total) {
            let mut rem = flat;
            let (mut ia, mut ib, mut sa, mut sb) = (0, 0, 1, 1);
            for k in (0..6).rev() {
                let idx = rem % out[k] as usize;
                rem /= out[k] as usize;
                if ea[k] != 1 {
                    ia += idx * sa;
                }
                if eb[k] != 1 {
                    ib += idx * sb;
                }
                sa *= ea[k] as usize;
                sb *= eb[k] as usize;
            }
            *pair = (ia, ib);
        }
        (out, pairs)
    }

    #[test]
    fn broadcast_strides_match_numpy_indexing() {
        let cases: [(&[u32], &[u32]); 7] = [
            (&[2, 3, 4], &[3, 1]),
            (&[2, 1, 4], &[1, 3, 1]),
            (&[1, 2, 1, 3, 4], &[2, 2, 5, 1, 1]),
            (&[5], &[2, 3, 1]),
            (&[2, 3, 1, 1, 2], &[2, 3, 4, 5, 1]),
            (&[3, 1, 2], &[3, 4, 2]),
            (&[1], &[3, 4, 5]),
        ];
        for (a, b) in cases {
            let bc = broadcast_for(a, b).unwrap().unwrap();
            let (out, pairs) = naive_broadcast(a, b);
            let total: usize = out.iter().map(|&d| d as usize).product();
            let a_len: usize = a.iter().map(|&d| d as usize).product();
            let b_len: usize = b.iter().map(|&d| d as usize).product();
            let av: [usize; 720] = core::array::from_fn(|i| i);
            let bv: [usize; 720] = core::array::from_fn(|i| 1000 + i);
            let mut got = [(0usize, 0usize); 720];
            check_operands(0, total as u32, Some(&bc), a_len, b_len, total).unwrap();
            // Run the real loop on index-valued inputs, packing both indices in one value.
            let mut packed = [0usize; 720];
            apply_binary(
                Some(&bc),
                &av[..a_len],
                &bv[..b_len],
                &mut packed[..total],
                |x, y| x * 10_000 + y,
            );
            for (g, p) in got.iter_mut().zip(&packed[..total]) {
                *g = (p / 10_000, p % 10_000 - 1000);
            }
            assert_eq!(&got[..total], &pairs[..total], "{a:?} x {b:?}");
        }
    }

    #[test]
    fn add_params_follow_tflm_prepare() {
        // Scales 0.5 and 0.25 into 1.0: multipliers 0.5, 0.25 and 2^-20 * 1.0.
        let p = add_op(
            q(0.5, 3),
            q(0.25, -7),
            q(1.0, 5),
            FusedActivation::None,
            4,
            None,
        )
        .unwrap();
        assert_eq!((p.a_multiplier, p.a_shift), (1 << 30, 0));
        assert_eq!((p.b_multiplier, p.b_shift), (1 << 30, -1));
        assert_eq!((p.out_multiplier, p.out_shift), (1 << 30, -19));
        assert_eq!((p.a_offset, p.b_offset, p.output_offset), (-3, 7, 5));
        assert_eq!((p.act_min, p.act_max), (-128, 127));
        let relu = add_op(
            q(0.5, 0),
            q(0.5, 0),
            q(0.1, -20),
            FusedActivation::Relu,
            4,
            None,
        )
        .unwrap();
        assert_eq!((relu.act_min, relu.act_max), (-20, 127));
        // An output scale far below the inputs' makes TFLM's output multiplier >= 1.
        assert_eq!(
            add_op(
                q(1.0, 0),
                q(1.0, 0),
                q(1e-7, 0),
                FusedActivation::None,
                4,
                None
            ),
            None
        );
        assert_eq!(
            add_op(
                q(0.0, 0),
                q(1.0, 0),
                q(1.0, 0),
                FusedActivation::None,
                4,
                None
            ),
            None
        );
        assert_eq!(
            add_op(
                q(1.0, 200),
                q(1.0, 0),
                q(1.0, 0),
                FusedActivation::None,
                4,
                None
            ),
            None
        );
    }

    /// [`AddRescale::table_elements`] over every input pair, `x` major.
    fn table_loop(fast: &AddRescale) -> std::vec::Vec<i8> {
        let (mut ta, mut tb) = ([0i32; 256], [0i32; 256]);
        assert!(fast.fill_tables(&mut ta, &mut tb));
        let value = |i: usize| (i as i32 - 128) as i8;
        let xs: std::vec::Vec<i8> = (0..1 << 16).map(|i| value(i >> 8)).collect();
        let ys: std::vec::Vec<i8> = (0..1 << 16).map(|i| value(i & 255)).collect();
        let mut got = std::vec![0i8; 1 << 16];
        fast.table_elements(&ta, &tb, &xs, &ys, &mut got);
        got
    }

    /// `AddRescale` against TFLM's arithmetic on every input pair, for ADD and SUB layers
    /// over a spread of scales and zero points (including equal scales, a 100x ratio and the
    /// extreme zero points) and every clamp TFLite fuses.
    #[test]
    fn add_rescale_equals_the_reference_on_every_input_pair() {
        let scales = [0.003_921_6, 0.02, 0.039_215_7, 0.1, 0.35];
        let zero_points = [-128, -37, 0, 5, 127];
        let acts = [
            FusedActivation::None,
            FusedActivation::Relu,
            FusedActivation::Relu6,
        ];
        let mut layers = 0;
        for (i, &sa) in scales.iter().enumerate() {
            for (j, &sb) in scales.iter().enumerate() {
                let so = scales[(i + 2 * j) % scales.len()] * 1.3;
                let zp = |k: usize| zero_points[(i + j + k) % zero_points.len()];
                let act = acts[(i + j) % acts.len()];
                let Some(mut p) = add_op(q(sa, zp(0)), q(sb, zp(1)), q(so, zp(2)), act, 1, None)
                else {
                    continue;
                };
                for subtract in [false, true] {
                    p.subtract = subtract;
                    let fast = AddRescale::new(&p).expect("TFLite-style ADD parameters");
                    let (mut ta, mut tb) = ([0i32; 256], [0i32; 256]);
                    assert!(fast.fill_tables(&mut ta, &mut tb), "{p:?}");
                    let mut all = std::vec::Vec::with_capacity(1 << 16);
                    for x in i8::MIN..=i8::MAX {
                        for y in i8::MIN..=i8::MAX {
                            let want = add_element_i8(&p, x, y);
                            all.push(want);
                            assert_eq!(fast.element(x, y), want, "x {x} y {y} {p:?}");
                            assert_eq!(
                                fast.table_element(&ta, &tb, x, y),
                                want,
                                "tables: x {x} y {y} {p:?}"
                            );
                        }
                    }
                    assert_eq!(table_loop(&fast), all, "{p:?}");
                    layers += 1;
                }
            }
        }
        assert!(layers >= 40, "{layers} layers checked");
        // The table loop's other output stages: an output exponent of 0, and an output
        // offset too large to join the rounding term (exponent 25).
        for out_shift in [0, -25] {
            let mut p = add_op(
                q(0.02, 3),
                q(0.05, -7),
                q(0.04, 100),
                FusedActivation::Relu6,
                1,
                None,
            )
            .unwrap();
            p.out_shift = out_shift;
            let fast = AddRescale::new(&p).expect("still 32-bit");
            let all: std::vec::Vec<i8> = (i8::MIN..=i8::MAX)
                .flat_map(|x| (i8::MIN..=i8::MAX).map(move |y| (x, y)))
                .map(|(x, y)| add_element_i8(&p, x, y))
                .collect();
            assert_eq!(table_loop(&fast), all, "{p:?}");
        }
        // Parameters that could overflow 32 bits fall back to the reference arithmetic.
        let mut p = add_op(
            q(0.1, 0),
            q(0.1, 0),
            q(0.1, 0),
            FusedActivation::None,
            1,
            None,
        )
        .unwrap();
        // Left shift 23: the doubled inputs reach exactly -2^31, still 32-bit.
        p.left_shift = 23;
        let fast = AddRescale::new(&p).expect("inputs still fit");
        for x in i8::MIN..=i8::MAX {
            for y in i8::MIN..=i8::MAX {
                assert_eq!(fast.element(x, y), add_element_i8(&p, x, y), "x {x} y {y}");
            }
        }
        p.left_shift = 24;
        assert!(AddRescale::new(&p).is_none());
    }

    #[test]
    fn add_and_mul_elements_by_hand() {
        // Same scale everywhere, zero points 0: ADD is an exact saturating sum.
        let add = add_op(
            q(0.1, 0),
            q(0.1, 0),
            q(0.1, 0),
            FusedActivation::None,
            4,
            None,
        )
        .unwrap();
        let mut out = [0i8; 4];
        add_i8(&add, &[1, -5, 100, -100], &[2, 3, 100, -100], &mut out);
        assert_eq!(out, [3, -2, 127, -128]);
        // MUL: 0.5 * 0.5 / 0.25 = 1, so the product of offset values.
        let mul = mul_op(
            q(0.5, 1),
            q(0.5, -1),
            q(0.25, 2),
            FusedActivation::Relu,
            4,
            None,
        )
        .unwrap();
        assert_eq!((mul.act_min, mul.act_max), (2, 127));
        let mut out = [0i8; 4];
        // (x - 1) * (y + 1) + 2, clamped to [2, 127].
        mul_i8(&mul, &[3, 5, -3, 20], &[1, -2, 0, 20], &mut out);
        assert_eq!(out, [6, 2, 2, 127]);
    }

    // Expected values below come from TFLM itself: single-op int8 models (ADD / MUL with the
    // listed quantization) run with `tflite_micro.runtime.Interpreter` (tflite_micro
    // 0.dev20261023182759), throwaway script /tmp/fv/golden_binary.py.
    const TFLM_X: [i8; 12] = [-128, -77, -31, -1, 0, 1, 2, 45, 63, 64, 99, 127];
    const TFLM_Y: [i8; 12] = [127, 5, -60, -1, 33, -128, 2, -45, 64, 63, -100, 127];

    #[test]
    fn add_matches_tflm() {
        // a: scale 0.0392157, zp -5; b: scale 0.0123, zp 17; out: scale 0.05, zp 3.
        let p = add_op(
            q(0.039_215_7, -5),
            q(0.0123, 17),
            q(0.05, 3),
            FusedActivation::None,
            12,
            None,
        )
        .unwrap();
        let mut out = [0i8; 12];
        add_i8(&p, &TFLM_X, &TFLM_Y, &mut out);
        assert_eq!(out, TFLM_ADD);
    }

    #[test]
    fn add_broadcast_matches_tflm() {
        // [3, 4] + [4] with the quantization of `add_matches_tflm`, Relu6.
        let bc = broadcast_for(&[3, 4], &[4]).unwrap();
        let p = add_op(
            q(0.039_215_7, -5),
            q(0.0123, 17),
            q(0.05, 3),
            FusedActivation::Relu6,
            12,
            bc,
        )
        .unwrap();
        let mut out = [0i8; 12];
        add_i8(&p, &TFLM_X, &TFLM_Y[..4], &mut out);
        assert_eq!(out, TFLM_ADD_BCAST);
    }

    #[test]
    fn mul_matches_tflm() {
        // a: scale 0.0392157, zp -5; b: scale 0.0123, zp 17; out: scale 0.011, zp -9.
        let p = mul_op(
            q(0.039_215_7, -5),
            q(0.0123, 17),
            q(0.011, -9),
            FusedActivation::None,
            12,
            None,
        )
        .unwrap();
        let mut out = [0i8; 12];
        mul_i8(&p, &TFLM_X, &TFLM_Y, &mut out);
        assert_eq!(out, TFLM_MUL);
    }

    const TFLM_ADD: [i8; 12] = [-66, -56, -36, 2, 11, -28, 5, 27, 68, 68, 56, 127];
    const TFLM_ADD_BCAST: [i8; 12] = [3, 3, 3, 3, 34, 5, 3, 38, 83, 54, 66, 102];
    const TFLM_MUL: [i8; 12] = [-128, 29, 79, -12, -5, -47, -14, -128, 127, 127, -128, 127];

    #[test]
    fn float_ops_clamp_and_broadcast() {
        let bc = broadcast_for(&[2, 2], &[2, 1]).unwrap();
        let mut p = BinaryF32 {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            kind: BinaryKind::Sub,
            len: 4,
            broadcast: bc,
            act_min: -1.0,
            act_max: 10.0,
        };
        let mut out = [0f32; 4];
        binary_f32(&p, &[1.0, 2.0, 3.0, 40.0], &[0.5, 5.0], &mut out);
        assert_eq!(out, [0.5, 1.5, -1.0, 10.0]);
        p.kind = BinaryKind::Mul;
        p.broadcast = None;
        p.act_min = f32::MIN;
        p.act_max = f32::MAX;
        binary_f32(
            &p,
            &[1.5, -2.0, 1e30, 3.0],
            &[2.0, 2.0, 1e30, 0.0],
            &mut out,
        );
        // Overflow to infinity is clamped to f32::MAX, as TFLite's clamp does.
        assert_eq!(out, [3.0, -4.0, f32::MAX, 0.0]);
        p.kind = BinaryKind::Add;
        binary_f32(&p, &[0.1, 0.2, -1.0, 0.0], &[0.2, 0.1, 1.0, -0.0], &mut out);
        assert_eq!(out, [0.1f32 + 0.2, 0.2f32 + 0.1, 0.0, 0.0]);
        // As TFLM (checked with tflite_micro, /tmp/fv/probe3.py): NaN passes the Relu6 clamp,
        // infinity is clamped to 6 and -3e38 * 2 to 0.
        p.act_min = 0.0;
        p.act_max = 6.0;
        binary_f32(
            &p,
            &[3e38, f32::NAN, f32::INFINITY, -3e38],
            &[3e38, 1.0, 1.0, -3e38],
            &mut out,
        );
        assert_eq!([out[0], out[2], out[3]], [6.0, 6.0, 0.0]);
        assert!(out[1].is_nan());
    }

    /// A model with one binary layer: inputs at arena bytes 0 and 16, output at 32.
    fn one_layer_model<'a>(tensors: &'a [Tensor; 3], layers: &'a [Layer; 1]) -> Model<'a> {
        Model {
            tensors,
            layers,
            consts: &[],
            inputs: &[TensorId(0), TensorId(1)],
            outputs: &[TensorId(2)],
            arena_bytes: 64,
            state: ferrite_core::StatePlan::NONE,
        }
    }

    #[test]
    fn run_add_i8_through_a_model() {
        let p = add_op(
            q(0.1, 0),
            q(0.1, 0),
            q(0.2, -1),
            FusedActivation::None,
            4,
            broadcast_for(&[4], &[1]).unwrap(),
        )
        .unwrap();
        let tensors = [
            tensor(0, DType::I8, &[4], 0.1, 0),
            tensor(16, DType::I8, &[1], 0.1, 0),
            tensor(32, DType::I8, &[4], 0.2, -1),
        ];
        let layers = [Layer {
            op: Op::AddI8(p),
            kernel: run_add_i8,
            name: "ADD",
        }];
        let model = one_layer_model(&tensors, &layers);
        let mut arena = Arena::<64>::new();
        let arena = arena.as_mut_slice();
        model.set_input(arena, 0, &[10i8, 20, -30, 41]).unwrap();
        model.set_input(arena, 1, &[2i8]).unwrap();
        model.invoke(arena).unwrap();
        // (x + 2) / 2 - 1, rounded half away from zero.
        assert_eq!(model.output::<i8>(arena, 0).unwrap(), &[5, 10, -15, 21]);
    }

    /// With scratch for the tables, the entry's outputs are the reference's, for ADD and
    /// SUB, same-shape and broadcast operands; a misaligned scratch falls back to the
    /// reference arithmetic.
    #[test]
    fn run_add_i8_through_tables_is_the_reference() {
        let len = 300usize;
        let mut rng = 0x2545_f491_u32;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        let x: [i8; 300] = core::array::from_fn(|_| next() as i8);
        let y: [i8; 300] = core::array::from_fn(|_| next() as i8);
        let cases = [
            (
                q(0.05, -3),
                q(0.02, 17),
                q(0.07, -128),
                FusedActivation::Relu,
                None,
            ),
            (
                q(0.1, 0),
                q(0.1, 0),
                q(0.2, -1),
                FusedActivation::None,
                None,
            ),
            (
                q(0.3, 100),
                q(0.01, -90),
                q(0.25, 5),
                FusedActivation::Relu6,
                Some(len),
            ),
        ];
        for (qa, qb, qo, act, bc_len) in cases {
            for subtract in [false, true] {
                // The second operand: whole, or one value broadcast over the first.
                let b_len = if bc_len.is_some() { 1 } else { len };
                let bc = bc_len.and_then(|n| broadcast_for(&[n as u32], &[1]).unwrap());
                let mut p = add_op(qa, qb, qo, act, len as u32, bc).unwrap();
                p.subtract = subtract;
                let mut want = [0i8; 300];
                add_i8(&p, &x, &y[..b_len], &mut want);
                for offset in [1024u32, 1026] {
                    let p = AddI8 {
                        scratch_offset: offset,
                        tables: true,
                        ..p
                    };
                    let tensors = [
                        tensor(0, DType::I8, &[len as u32], qa.scale, qa.zero_point),
                        tensor(320, DType::I8, &[b_len as u32], qb.scale, qb.zero_point),
                        tensor(640, DType::I8, &[len as u32], qo.scale, qo.zero_point),
                    ];
                    let layers = [Layer {
                        op: Op::AddI8(p),
                        kernel: run_add_i8,
                        name: "ADD",
                    }];
                    let model = Model {
                        arena_bytes: 4096,
                        ..one_layer_model(&tensors, &layers)
                    };
                    let mut arena = Arena::<4096>::new();
                    let arena = arena.as_mut_slice();
                    model.set_input(arena, 0, &x).unwrap();
                    model.set_input(arena, 1, &y[..b_len]).unwrap();
                    model.invoke(arena).unwrap();
                    assert_eq!(model.output::<i8>(arena, 0).unwrap(), &want[..], "{p:?}");
                }
            }
        }
    }

    #[test]
    fn run_mul_i8_through_a_model() {
        let p = mul_op(
            q(0.5, 0),
            q(0.5, 0),
            q(0.25, 0),
            FusedActivation::None,
            4,
            None,
        )
        .unwrap();
        let tensors = [
            tensor(0, DType::I8, &[4], 0.5, 0),
            tensor(16, DType::I8, &[4], 0.5, 0),
            tensor(32, DType::I8, &[4], 0.25, 0),
        ];
        let layers = [Layer {
            op: Op::MulI8(p),
            kernel: run_mul_i8,
            name: "MUL",
        }];
        let model = one_layer_model(&tensors, &layers);
        let mut arena = Arena::<64>::new();
        let arena = arena.as_mut_slice();
        model.set_input(arena, 0, &[3i8, -4, 12, 0]).unwrap();
        model.set_input(arena, 1, &[5i8, 6, 11, 9]).unwrap();
        model.invoke(arena).unwrap();
        assert_eq!(model.output::<i8>(arena, 0).unwrap(), &[15, -24, 127, 0]);
    }

    #[test]
    fn run_binary_f32_through_a_model() {
        let p = BinaryF32 {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            kind: BinaryKind::Add,
            len: 2,
            broadcast: None,
            act_min: 0.0,
            act_max: 6.0,
        };
        let tensors = [
            tensor(0, DType::F32, &[2], 0.0, 0),
            tensor(16, DType::F32, &[2], 0.0, 0),
            tensor(32, DType::F32, &[2], 0.0, 0),
        ];
        let layers = [Layer {
            op: Op::BinaryF32(p),
            kernel: run_binary_f32,
            name: "ADD",
        }];
        let model = one_layer_model(&tensors, &layers);
        let mut arena = Arena::<64>::new();
        let arena = arena.as_mut_slice();
        model.set_input(arena, 0, &[1.25f32, 5.0]).unwrap();
        model.set_input(arena, 1, &[-2.0f32, 3.0]).unwrap();
        model.invoke(arena).unwrap();
        assert_eq!(model.output::<f32>(arena, 0).unwrap(), &[0.0, 6.0]);
    }

    #[test]
    fn inconsistent_params_are_errors() {
        let good = add_op(
            q(0.1, 0),
            q(0.1, 0),
            q(0.2, 0),
            FusedActivation::None,
            4,
            None,
        )
        .unwrap();
        let tensors = [
            tensor(0, DType::I8, &[4], 0.1, 0),
            tensor(16, DType::I8, &[4], 0.1, 0),
            tensor(32, DType::I8, &[4], 0.2, 0),
        ];
        let bad_bc = Broadcast {
            out_dims: [1, 1, 1, 1, 1, 4],
            a_strides: [0, 0, 0, 0, 0, 1],
            b_strides: [0, 0, 0, 0, 0, 2], // reads b[6]
        };
        let mut bad_shift = good;
        bad_shift.out_shift = -40;
        let mut bad_act = good;
        bad_act.act_min = 5;
        bad_act.act_max = 4;
        let mut bad_len = good;
        bad_len.len = 5;
        let mut bad_ids = good;
        bad_ids.b = TensorId(9);
        let mut aliased = good;
        aliased.a = TensorId(2);
        let add: ferrite_core::KernelFn = run_add_i8;
        let cases = [
            (
                Op::AddI8(AddI8 {
                    subtract: false,
                    broadcast: Some(bad_bc),
                    ..good
                }),
                add,
                "broadcast strides read outside an input",
            ),
            (Op::AddI8(bad_shift), add, "multiplier shift out of range"),
            (Op::AddI8(bad_act), add, "activation range is empty"),
            (
                Op::AddI8(bad_len),
                add,
                "output size does not match the layer",
            ),
            (Op::AddI8(bad_ids), add, "tensor id out of range"),
            (
                Op::AddI8(aliased),
                add,
                "input tensor overlaps the output or lies outside the arena",
            ),
            (
                Op::AddI8(good),
                run_mul_i8,
                "kernel for MulI8 run on another operator",
            ),
        ];
        for (i, (op, kernel, reason)) in cases.into_iter().enumerate() {
            let layers = [Layer {
                op,
                kernel,
                name: "ADD",
            }];
            let model = one_layer_model(&tensors, &layers);
            let mut arena = Arena::<64>::new();
            assert_eq!(
                model.invoke(arena.as_mut_slice()),
                Err(Error::InvalidLayer { layer: 0, reason }),
                "case {i}"
            );
        }
        // A float layer whose inputs do not match its length.
        let f = BinaryF32 {
            a: TensorId(0),
            b: TensorId(1),
            output: TensorId(2),
            kind: BinaryKind::Mul,
            len: 1,
            broadcast: None,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let ftensors = [
            tensor(0, DType::F32, &[2], 0.0, 0),
            tensor(16, DType::F32, &[1], 0.0, 0),
            tensor(32, DType::F32, &[1], 0.0, 0),
        ];
        let layers = [Layer {
            op: Op::BinaryF32(f),
            kernel: run_binary_f32,
            name: "MUL",
        }];
        let model = one_layer_model(&ftensors, &layers);
        let mut arena = Arena::<64>::new();
        assert_eq!(
            model.invoke(arena.as_mut_slice()),
            Err(Error::InvalidLayer {
                layer: 0,
                reason: "inputs and output differ in size without a broadcast"
            })
        );
    }

    /// `fmod_f32` is `libm::fmodf` bit for bit on the edge cases.
    #[test]
    fn fmod_edges_match_libm() {
        let v = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.5,
            3.0,
            -7.25,
            1e-45,
            -1e-45,
            1.17e-38,
            3.4e38,
            -3.4e38,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN_POSITIVE,
        ];
        for &x in &v {
            for &y in &v {
                let (a, b) = (super::fmod_f32(x, y), libm::fmodf(x, y));
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "fmod({x:e}, {y:e}) = {a:e}, libm {b:e}"
                );
            }
        }
    }

    proptest::proptest! {
        /// `fmod_f32` is `libm::fmodf` bit for bit (NaNs as NaNs).
        #[test]
        fn fmod_matches_libm(x in proptest::num::f32::ANY, y in proptest::num::f32::ANY) {
            let (a, b) = (super::fmod_f32(x, y), libm::fmodf(x, y));
            proptest::prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }

        /// Arbitrary (hostile) parameters never panic: the entry either runs or reports an
        /// invalid layer.
        #[test]
        fn hostile_params_never_panic(
            dims in proptest::array::uniform6(0u32..4),
            a_strides in proptest::array::uniform6(0u32..8),
            b_strides in proptest::array::uniform6(0u32..8),
            len in 0u32..40,
            shifts in proptest::array::uniform4(-40i32..40),
            mults in proptest::array::uniform3(proptest::num::i32::ANY),
            offsets in proptest::array::uniform3(-300i32..300),
            act in (-200i32..200, -200i32..200),
            with_bc: bool,
            scratch in (0u32..3000, proptest::bool::ANY),
        ) {
            let bc = with_bc.then_some(Broadcast { out_dims: dims, a_strides, b_strides });
            let add = AddI8 {
                subtract: false,
                a: TensorId(0),
                b: TensorId(1),
                output: TensorId(2),
                len,
                broadcast: bc,
                a_offset: offsets[0],
                b_offset: offsets[1],
                left_shift: shifts[3],
                a_multiplier: mults[0],
                a_shift: shifts[0],
                b_multiplier: mults[1],
                b_shift: shifts[1],
                out_multiplier: mults[2],
                out_shift: shifts[2],
                output_offset: offsets[2],
                act_min: act.0,
                act_max: act.1,
                scratch_offset: scratch.0,
                tables: scratch.1,
            };
            let mul = MulI8 {
                a: TensorId(0),
                b: TensorId(1),
                output: TensorId(2),
                len,
                broadcast: bc,
                a_offset: offsets[0],
                b_offset: offsets[1],
                out_multiplier: mults[2],
                out_shift: shifts[2],
                output_offset: offsets[2],
                act_min: act.0,
                act_max: act.1,
            };
            let out_dims: &[u32] = &[len];
            let tensors = [
                tensor(0, DType::I8, &[16], 1.0, 0),
                tensor(16, DType::I8, &[7], 1.0, 0),
                tensor(32, DType::I8, out_dims, 1.0, 0),
            ];
            let kernels: [(Op, ferrite_core::KernelFn); 2] =
                [(Op::AddI8(add), run_add_i8), (Op::MulI8(mul), run_mul_i8)];
            for (op, kernel) in kernels {
                let layers = [Layer { op, kernel, name: "X" }];
                let model = Model { arena_bytes: 80, ..one_layer_model(&tensors, &layers) };
                let mut arena = Arena::<80>::new();
                match model.invoke(arena.as_mut_slice()) {
                    Ok(()) | Err(Error::InvalidLayer { .. }) => {}
                    Err(e) => proptest::prop_assert!(false, "unexpected {e:?}"),
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests_i16 {
    use super::*;

    fn q(scale: f32, zero_point: i32) -> QParams {
        QParams { scale, zero_point }
    }

    fn add(subtract: bool, qa: QParams, qb: QParams, qo: QParams, act: FusedActivation) -> AddI8 {
        let id = TensorId;
        prepare_add_i16(subtract, id(0), id(1), id(2), 4, None, qa, qb, qo, act).unwrap()
    }

    /// The real-number result of an int16 ADD/SUB, to compare with the fixed-point one.
    fn real_add(p: &AddI8, qa: QParams, qb: QParams, qo: QParams, x: i16, y: i16) -> f64 {
        let a = (x as f64 - qa.zero_point as f64) * qa.scale as f64;
        let b = (y as f64 - qb.zero_point as f64) * qb.scale as f64;
        let r = if p.subtract { a - b } else { a + b };
        (r / qo.scale as f64 + qo.zero_point as f64).clamp(p.act_min as f64, p.act_max as f64)
    }

    #[test]
    fn add_i16_params_follow_tflm_prepare() {
        let p = add(
            false,
            q(1e-4, 0),
            q(2e-4, 0),
            q(3e-4, 0),
            FusedActivation::None,
        );
        assert_eq!(p.left_shift, 15);
        assert_eq!((p.act_min, p.act_max), (-32768, 32767));
        // b has the larger scale: its multiplier is exactly 1/2.
        assert_eq!((p.b_multiplier, p.b_shift), (1 << 30, 0));
        let p = add(
            true,
            q(1e-4, 0),
            q(1e-4, 0),
            q(1e-3, 0),
            FusedActivation::Relu6,
        );
        assert!(p.subtract);
        assert_eq!((p.act_min, p.act_max), (0, 6000));
        let p = add(
            false,
            q(1e-4, 0),
            q(1e-4, 0),
            q(1e-3, 0),
            FusedActivation::Relu,
        );
        assert_eq!((p.act_min, p.act_max), (0, 32767));
        // Unrepresentable: an output scale far below the inputs'.
        let id = TensorId;
        let none = FusedActivation::None;
        let tiny = q(1e-12, 0);
        let big = q(1.0, 0);
        assert!(
            prepare_add_i16(false, id(0), id(1), id(2), 4, None, big, big, tiny, none).is_none()
        );
        assert!(prepare_add_i16(
            false,
            id(0),
            id(1),
            id(2),
            4,
            None,
            q(1.0, 40000),
            big,
            big,
            none
        )
        .is_none());
    }

    /// The 32-bit form equals TFLM's arithmetic for int16 ADD and SUB layers over a spread of
    /// scales (equal, 1:2, 1:100; the larger input's multiplier exactly 1/2, which takes
    /// the doubled sum to the edge of 32 bits) and the clamps TFLite fuses: every input
    /// against the extremes and neighbours of zero, and random pairs.
    #[test]
    fn add_rescale_equals_the_reference_on_int16_layers() {
        let scales = [3.1e-4, 1.7e-4, 3.1e-6, 1e-3, 6.2e-4];
        let acts = [
            FusedActivation::None,
            FusedActivation::Relu,
            FusedActivation::Relu6,
        ];
        let edges = [i16::MIN, i16::MIN + 1, -1, 0, 1, i16::MAX - 1, i16::MAX];
        let mut rng = 0x0add_1600_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as i16
        };
        let mut layers = 0;
        for (i, &sa) in scales.iter().enumerate() {
            for (j, &sb) in scales.iter().enumerate() {
                let so = scales[(i + 2 * j) % scales.len()] * 1.3;
                let act = acts[(i + j) % acts.len()];
                for subtract in [false, true] {
                    let p = add(subtract, q(sa, 0), q(sb, 0), q(so, 0), act);
                    let fast = AddRescale::for_inputs(&p, -32768, 32767)
                        .expect("TFLite-style int16 ADD parameters");
                    let check = |x: i16, y: i16| {
                        assert_eq!(
                            fast.element_i16(x, y),
                            add_element_i16(&p, x, y),
                            "x {x} y {y} {p:?}"
                        );
                    };
                    for x in i16::MIN..=i16::MAX {
                        for &e in &edges {
                            check(x, e);
                            check(e, x);
                        }
                    }
                    for _ in 0..20_000 {
                        check(next(), next());
                    }
                    layers += 1;
                }
            }
        }
        assert_eq!(layers, 50);
    }

    /// Within one output step of the real result over the whole int16 range (the fixed-point
    /// rounding can at most carry the last bit), and exact where it must be.
    #[test]
    fn add_and_sub_i16_are_close_to_the_real_result() {
        let (qa, qb, qo) = (q(3.1e-4, 0), q(1.7e-4, 0), q(4.4e-4, 0));
        for subtract in [false, true] {
            let p = add(subtract, qa, qb, qo, FusedActivation::None);
            for x in (i16::MIN..=i16::MAX).step_by(257) {
                for y in (i16::MIN..=i16::MAX).step_by(263) {
                    let got = add_element_i16(&p, x, y) as f64;
                    let want = real_add(&p, qa, qb, qo, x, y);
                    assert!(
                        (got - want).abs() <= 1.0,
                        "{x} {y} {subtract}: {got} vs {want}"
                    );
                }
            }
            assert_eq!(add_element_i16(&p, 0, 0), 0);
        }
    }

    #[test]
    fn add_i16_broadcast_matches_elementwise() {
        let (qa, qb, qo) = (q(1e-3, 0), q(2e-3, 0), q(2.5e-3, 0));
        let mut p = add(false, qa, qb, qo, FusedActivation::Relu);
        p.len = 6;
        p.broadcast = broadcast_for(&[2, 3], &[1, 3]).unwrap();
        let a = [100i16, -200, 30000, -30000, 5, 32767];
        let b = [-50i16, 7, 32767];
        let mut out = [0i16; 6];
        add_i16(&p, &a, &b, &mut out);
        for (i, &o) in out.iter().enumerate() {
            assert_eq!(o, add_element_i16(&p, a[i], b[i % 3]));
            assert!(o >= 0, "fused RELU");
        }
    }

    #[test]
    fn mul_i16_follows_tflm_and_refuses_zero_points() {
        let id = TensorId;
        let (qa, qb, qo) = (q(1e-3, 0), q(2e-3, 0), q(1e-4, 0));
        let p = prepare_mul_i16(
            id(0),
            id(1),
            id(2),
            4,
            None,
            qa,
            qb,
            qo,
            FusedActivation::None,
        )
        .unwrap();
        // 0.1 * 0.2 = 0.02 = 200 output steps.
        assert_eq!(mul_element_i16(&p, 100, 100), 200);
        assert_eq!(mul_element_i16(&p, -100, 100), -200);
        // The extreme product (2^30) fits and saturates the output.
        assert_eq!(mul_element_i16(&p, i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(mul_element_i16(&p, i16::MIN, i16::MAX), i16::MIN);
        let mut out = [0i16; 4];
        mul_i16(&p, &[1, 2, 3, 4], &[10, 10, 10, 10], &mut out);
        assert_eq!(out, [0, 0, 1, 1]); // 0.2, 0.4, 0.6, 0.8 steps: rounded
        let none = FusedActivation::None;
        assert!(prepare_mul_i16(id(0), id(1), id(2), 4, None, q(1e-3, 1), qb, qo, none).is_none());
        assert!(prepare_mul_i16(id(0), id(1), id(2), 4, None, qa, qb, q(1e-4, -2), none).is_none());
    }
}
