//! SVDF, int8 (int16 or int8 state) and f32, bit-exact with TensorFlow Lite Micro's reference
//! (`kernels/svdf_common.cc`).
//!
//! Each call first shifts every filter's window of `memory` past activations one frame
//! older (the whole state moves one element to the front, exactly as TFLM does, so the oldest
//! frame of filter `f` receives the newest of filter `f - 1` and is overwritten next), then
//! writes the feature matmul of the new input frame into the newest slot of each filter.
//! The output of unit `u` is its bias plus, for each of its `rank` filters, the dot product of
//! the filter's window with its time weights; int8 requantizes twice (feature dot product into
//! the state's scale, saturated to int16; the sum into the output's, saturated to int8), float
//! applies the fused activation. The int8 path applies no fused activation: TFLM's integer
//! kernel ignores it.
//!
//! The sums are formed in TFLM's order (each filter's time dot product from zero, then added to
//! the bias filter by filter), so float results match too; TFLM's two int32 scratch buffers
//! are not needed because those sums are formed where they are used.

use crate::ops::conv::clamp_f32;
use crate::util::{check_len, expect_op};
use core::cell::Cell;
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, SvdfF32, SvdfGeometry, SvdfInt};
use ferrite_core::{Ctx, Error, Result};

/// Moves every element of `state` one place to the front (the last keeps its value; the
/// caller overwrites the newest frames).
fn shift_state<T: Copy>(state: &mut [T]) {
    let cells = Cell::from_mut(state).as_slice_of_cells();
    for pair in cells.windows(2) {
        if let [older, newer] = pair {
            older.set(newer.get());
        }
    }
}

/// The sizes as `usize`: `(batches, input_size, filters, rank, memory, units)`.
fn dims(g: &SvdfGeometry) -> (usize, usize, usize, usize, usize, usize) {
    (
        g.batches as usize,
        g.input_size as usize,
        g.filters as usize,
        g.rank as usize,
        g.memory as usize,
        g.units() as usize,
    )
}

/// Checks the geometry and every slice length against it; `bias` may be empty.
#[allow(clippy::too_many_arguments)]
fn check_svdf(
    layer: u16,
    g: &SvdfGeometry,
    input: usize,
    output: usize,
    weights_feature: usize,
    weights_time: usize,
    bias: usize,
    state: usize,
) -> Result<()> {
    let err = |reason| Error::InvalidLayer { layer, reason };
    if g.batches == 0 || g.input_size == 0 || g.filters == 0 || g.rank == 0 || g.memory == 0 {
        return Err(err("SVDF with an empty dimension"));
    }
    if !g.filters.is_multiple_of(g.rank) {
        return Err(err("SVDF filters are not a multiple of the rank"));
    }
    let (b, i, f, _, m, u) = dims(g);
    let prod = |x: usize, y: usize| (x as u64).saturating_mul(y as u64);
    let l = layer;
    check_len(
        l,
        input as u64,
        prod(b, i),
        "SVDF input does not match its geometry",
    )?;
    check_len(
        l,
        output as u64,
        prod(b, u),
        "SVDF output does not match its geometry",
    )?;
    check_len(
        l,
        weights_feature as u64,
        prod(f, i),
        "SVDF feature weights do not match",
    )?;
    check_len(
        l,
        weights_time as u64,
        prod(f, m),
        "SVDF time weights do not match",
    )?;
    check_len(
        l,
        state as u64,
        g.state_elements(),
        "SVDF state does not match",
    )?;
    if bias != 0 && bias != u {
        return Err(err("SVDF bias length is not the number of units"));
    }
    Ok(())
}

/// The integer type of an int8 SVDF's time weights and activation state: int16 (TFLM's
/// usual form) or int8.
pub trait SvdfState: bytemuck::Pod + Into<i32> {
    /// Smallest value.
    const MIN: i32;
    /// Largest value.
    const MAX: i32;
    /// `v`, already clamped to `MIN..=MAX`, in this type.
    fn narrow(v: i32) -> Self;
}

impl SvdfState for i16 {
    const MIN: i32 = i16::MIN as i32;
    const MAX: i32 = i16::MAX as i32;
    fn narrow(v: i32) -> Self {
        v as i16
    }
}

impl SvdfState for i8 {
    const MIN: i32 = i8::MIN as i32;
    const MAX: i32 = i8::MAX as i32;
    fn narrow(v: i32) -> Self {
        v as i8
    }
}

/// Kernel entry for [`Op::SvdfI8`].
pub fn run_svdf_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SvdfI8);
    run_svdf_int(ctx, p)
}

/// Kernel entry for [`Op::SvdfI8S8`].
pub fn run_svdf_i8_s8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SvdfI8S8);
    run_svdf_int(ctx, p)
}

/// The integer entries' checks, then [`svdf_int`].
fn run_svdf_int<S: SvdfState>(ctx: &mut Ctx<'_>, p: &SvdfInt<S>) -> Result<()> {
    let weights_feature = ctx.consts(p.weights_feature)?;
    let weights_time = ctx.consts(p.weights_time)?;
    let bias = ctx.consts(p.bias)?;
    // A right shift beyond 31 is meaningless and would trip the rounding divide's
    // precondition; no converter emits one.
    if !(-31..=31).contains(&p.shift_1) || !(-31..=31).contains(&p.shift_2) {
        return Err(ctx.error("requantization shift out of range"));
    }
    let layer = ctx.layer;
    let (inputs, out, state) = ctx.split_with_state(p.output, p.state)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    let state: &mut [S] = cast_out(layer, state)?;
    check_svdf(
        layer,
        &p.geom,
        input.len(),
        output.len(),
        weights_feature.len(),
        weights_time.len(),
        bias.len(),
        state.len(),
    )?;
    svdf_int(p, input, weights_feature, weights_time, bias, state, output);
    Ok(())
}

/// Kernel entry for [`Op::SvdfF32`].
pub fn run_svdf_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SvdfF32);
    let weights_feature = ctx.consts(p.weights_feature)?;
    let weights_time = ctx.consts(p.weights_time)?;
    let bias = ctx.consts(p.bias)?;
    let layer = ctx.layer;
    let (inputs, out, state) = ctx.split_with_state(p.output, p.state)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    let state: &mut [f32] = cast_out(layer, state)?;
    check_svdf(
        layer,
        &p.geom,
        input.len(),
        output.len(),
        weights_feature.len(),
        weights_time.len(),
        bias.len(),
        state.len(),
    )?;
    svdf_f32(p, input, weights_feature, weights_time, bias, state, output);
    Ok(())
}

/// The integer reference on slices of the lengths [`run_svdf_i8`] checks: `input`
/// `[batches, input_size]`, `weights_feature` `[filters, input_size]`, `weights_time`
/// `[filters, memory]`, `bias` `[units]` or empty, `state` `[batches, filters, memory]`
/// (updated), `output` `[batches, units]`. Slices of other lengths give a shorter, not a
/// wrong-indexed, result; a zero size writes nothing.
pub fn svdf_int<S: SvdfState>(
    p: &SvdfInt<S>,
    input: &[i8],
    weights_feature: &[i8],
    weights_time: &[S],
    bias: &[i32],
    state: &mut [S],
    output: &mut [i8],
) {
    let (_, i_n, f_n, rank, m, u_n) = dims(&p.geom);
    // Products checked non-zero where the optimiser sees them: `chunks_exact` panics on 0.
    let nonzero = |a: usize, b: usize| a.checked_mul(b).filter(|&n| n > 0);
    let (Some(per_batch), Some(per_unit)) = (nonzero(f_n, m), nonzero(m, rank)) else {
        return;
    };
    if i_n == 0 || u_n == 0 || m == 0 {
        return;
    }
    shift_state(state);
    let batches = input
        .chunks_exact(i_n)
        .zip(state.chunks_exact_mut(per_batch))
        .zip(output.chunks_exact_mut(u_n));
    for ((frame, batch_state), out) in batches {
        // Feature matmul into the newest frame of each filter, in the state's scale.
        for (w_row, window) in weights_feature
            .chunks_exact(i_n)
            .zip(batch_state.chunks_exact_mut(m))
        {
            let dot = w_row.iter().zip(frame).fold(0i32, |acc, (&w, &x)| {
                acc.wrapping_add(i32::from(w) * (i32::from(x) - p.input_zero_point))
            });
            let v = multiply_by_quantized_multiplier(dot, p.multiplier_1, p.shift_1)
                .wrapping_add(p.state_zero_point)
                .clamp(S::MIN, S::MAX);
            if let Some(newest) = window.last_mut() {
                *newest = S::narrow(v);
            }
        }
        // Time filtering, reduction over the rank, second requantization.
        let units = weights_time
            .chunks_exact(per_unit)
            .zip(batch_state.chunks_exact(per_unit))
            .zip(out.iter_mut())
            .enumerate();
        for (u, ((w_unit, s_unit), o)) in units {
            let mut acc = bias.get(u).copied().unwrap_or(0);
            for (w_f, s_f) in w_unit.chunks_exact(m).zip(s_unit.chunks_exact(m)) {
                let dot = w_f.iter().zip(s_f).fold(0i32, |a, (&w, &s)| {
                    let (w, s): (i32, i32) = (w.into(), s.into());
                    a.wrapping_add(w.wrapping_mul(s - p.state_zero_point))
                });
                acc = acc.wrapping_add(dot);
            }
            let v = multiply_by_quantized_multiplier(acc, p.multiplier_2, p.shift_2)
                .wrapping_add(p.output_zero_point)
                .clamp(i32::from(i8::MIN), i32::from(i8::MAX));
            *o = v as i8;
        }
    }
}

/// The float reference on slices laid out as for [`svdf_int`].
pub fn svdf_f32(
    p: &SvdfF32,
    input: &[f32],
    weights_feature: &[f32],
    weights_time: &[f32],
    bias: &[f32],
    state: &mut [f32],
    output: &mut [f32],
) {
    let (_, i_n, f_n, rank, m, u_n) = dims(&p.geom);
    // Products checked non-zero where the optimiser sees them: `chunks_exact` panics on 0.
    let nonzero = |a: usize, b: usize| a.checked_mul(b).filter(|&n| n > 0);
    let (Some(per_batch), Some(per_unit)) = (nonzero(f_n, m), nonzero(m, rank)) else {
        return;
    };
    if i_n == 0 || u_n == 0 || m == 0 {
        return;
    }
    shift_state(state);
    let batches = input
        .chunks_exact(i_n)
        .zip(state.chunks_exact_mut(per_batch))
        .zip(output.chunks_exact_mut(u_n));
    for ((frame, batch_state), out) in batches {
        for (w_row, window) in weights_feature
            .chunks_exact(i_n)
            .zip(batch_state.chunks_exact_mut(m))
        {
            let dot = w_row
                .iter()
                .zip(frame)
                .fold(0.0f32, |acc, (&w, &x)| acc + w * x);
            if let Some(newest) = window.last_mut() {
                *newest = dot;
            }
        }
        let units = weights_time
            .chunks_exact(per_unit)
            .zip(batch_state.chunks_exact(per_unit))
            .zip(out.iter_mut())
            .enumerate();
        for (u, ((w_unit, s_unit), o)) in units {
            let mut acc = bias.get(u).copied().unwrap_or(0.0);
            for (w_f, s_f) in w_unit.chunks_exact(m).zip(s_unit.chunks_exact(m)) {
                acc += w_f.iter().zip(s_f).fold(0.0f32, |a, (&w, &s)| a + w * s);
            }
            *o = clamp_f32(acc, p.act_min, p.act_max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ConstRef;
    use ferrite_core::TensorId;
    use std::vec;
    use std::vec::Vec;

    extern crate std;

    /// A small deterministic generator (tests need no crate for it).
    fn lcg(seed: &mut u32) -> i32 {
        *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (*seed >> 8) as i32
    }

    fn geom(batches: u32, input_size: u32, filters: u32, rank: u32, memory: u32) -> SvdfGeometry {
        SvdfGeometry {
            batches,
            input_size,
            filters,
            rank,
            memory,
        }
    }

    /// SVDF written the obvious way: a window of `memory` activations per batch and filter,
    /// oldest first, pushed frame by frame, then the rank-summed time filter.
    struct Windows<T>(Vec<Vec<Vec<T>>>);

    impl<T: Copy> Windows<T> {
        fn push(&mut self, b: usize, f: usize, v: T) {
            let w = &mut self.0[b][f];
            w.remove(0);
            w.push(v);
        }
    }

    #[test]
    fn int8_matches_a_window_per_filter_over_many_calls() {
        let mut seed = 7;
        let g = geom(2, 5, 6, 3, 4);
        let (b_n, i_n, f_n, rank, m, u_n) = dims(&g);
        let wf: Vec<i8> = (0..f_n * i_n).map(|_| lcg(&mut seed) as i8).collect();
        let wt: Vec<i16> = (0..f_n * m).map(|_| lcg(&mut seed) as i16).collect();
        let bias: Vec<i32> = (0..u_n).map(|_| lcg(&mut seed) % 100_000).collect();
        let p = ferrite_core::ops::SvdfI8 {
            input: TensorId(0),
            output: TensorId(1),
            state: 0,
            geom: g,
            weights_feature: ConstRef::EMPTY,
            weights_time: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            input_zero_point: -3,
            state_zero_point: 0,
            output_zero_point: 4,
            multiplier_1: 1_500_000_000,
            shift_1: -3,
            multiplier_2: 1_300_000_000,
            shift_2: -18,
        };
        let mut state = vec![0i16; b_n * f_n * m];
        let mut win = Windows(vec![vec![vec![0i16; m]; f_n]; b_n]);
        for _call in 0..7 {
            let x: Vec<i8> = (0..b_n * i_n).map(|_| lcg(&mut seed) as i8).collect();
            let mut out = vec![0i8; b_n * u_n];
            svdf_int(&p, &x, &wf, &wt, &bias, &mut state, &mut out);
            for b in 0..b_n {
                for f in 0..f_n {
                    let dot: i32 = (0..i_n)
                        .map(|c| wf[f * i_n + c] as i32 * (x[b * i_n + c] as i32 + 3))
                        .sum();
                    let v = multiply_by_quantized_multiplier(dot, p.multiplier_1, p.shift_1);
                    win.push(b, f, v.clamp(-32768, 32767) as i16);
                }
                for u in 0..u_n {
                    let mut acc = bias[u];
                    for f in u * rank..(u + 1) * rank {
                        acc += (0..m)
                            .map(|j| wt[f * m + j] as i32 * win.0[b][f][j] as i32)
                            .sum::<i32>();
                    }
                    let y = multiply_by_quantized_multiplier(acc, p.multiplier_2, p.shift_2) + 4;
                    assert_eq!(out[b * u_n + u], y.clamp(-128, 127) as i8, "b {b} u {u}");
                }
                // The state holds the same windows, filter after filter.
                let flat: Vec<i16> = win.0[b].concat();
                assert_eq!(&state[b * f_n * m..(b + 1) * f_n * m], &flat[..]);
            }
        }
    }

    #[test]
    fn f32_matches_a_window_per_filter_and_clamps() {
        let mut seed = 3;
        let g = geom(1, 3, 4, 2, 3);
        let (_, i_n, f_n, rank, m, u_n) = dims(&g);
        let r = |s: &mut u32| (lcg(s) % 1000) as f32 / 250.0;
        let wf: Vec<f32> = (0..f_n * i_n).map(|_| r(&mut seed)).collect();
        let wt: Vec<f32> = (0..f_n * m).map(|_| r(&mut seed)).collect();
        let p = SvdfF32 {
            input: TensorId(0),
            output: TensorId(1),
            state: 0,
            geom: g,
            weights_feature: ConstRef::EMPTY,
            weights_time: ConstRef::EMPTY,
            bias: ConstRef::EMPTY,
            act_min: 0.0,
            act_max: 6.0,
        };
        let mut state = vec![0f32; f_n * m];
        let mut win = Windows(vec![vec![vec![0f32; m]; f_n]]);
        let mut clamped = 0;
        for _call in 0..6 {
            let x: Vec<f32> = (0..i_n).map(|_| r(&mut seed)).collect();
            let mut out = vec![0f32; u_n];
            // No bias: every sum starts from zero.
            svdf_f32(&p, &x, &wf, &wt, &[], &mut state, &mut out);
            for f in 0..f_n {
                let dot = (0..i_n).fold(0.0f32, |a, c| a + wf[f * i_n + c] * x[c]);
                win.push(0, f, dot);
            }
            for (u, &got) in out.iter().enumerate() {
                let mut acc = 0.0f32;
                for f in u * rank..(u + 1) * rank {
                    acc += (0..m).fold(0.0f32, |a, j| a + wt[f * m + j] * win.0[0][f][j]);
                }
                clamped += usize::from(!(0.0..=6.0).contains(&acc));
                assert_eq!(got, acc.clamp(0.0, 6.0));
            }
        }
        assert!(
            clamped > 0,
            "the test data never reached the activation's clamp"
        );
    }

    #[test]
    fn shift_state_moves_every_element_one_place_forward() {
        let mut s = [1, 2, 3, 4];
        shift_state(&mut s);
        assert_eq!(s, [2, 3, 4, 4]);
        let mut empty: [i16; 0] = [];
        shift_state(&mut empty);
    }
}
