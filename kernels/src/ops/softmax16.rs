//! Int16 SOFTMAX (16x8), TFLite Micro's LUT path (`SoftmaxInt16`).
//!
//! TFLM's `Prepare` builds two 513-entry Q0.15 tables with `gen_lut<float, int16_t,
//! int16_t>` (`exp` on `[-10, 0]` and `1 / (1 + x)` on `[0, 1]`); here the converter builds
//! them with [`gen_lut_i16`] (the same `f32` arithmetic) and stores them as constants, and the
//! kernel interpolates in them as TFLM's `generic_int16_table_lookup` does.

use crate::util::{check_len, expect_op};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, SoftmaxI16};
use ferrite_core::quant::quantize_multiplier;
use ferrite_core::{Ctx, Result};

/// Entries of each int16 softmax table: 512 steps plus one for the last slope.
pub const SOFTMAX16_LUT_LEN: usize = 513;

/// TFLite's `TfLiteRound` on `f32`: half away from zero.
fn round_f32(x: f32) -> f32 {
    libm::roundf(x)
}

/// TFLM `gen_lut<float, int16_t, int16_t>` with output range `[-1, 1]`: 512 samples of `f`
/// over `[min, max]` in Q0.15, each biased by half the error the linear interpolation makes at
/// the step's midpoint, plus `f(max)` as the last entry; every value clamped to int16.
pub fn gen_lut_i16(f: impl Fn(f32) -> f32, min: f32, max: f32) -> [i16; SOFTMAX16_LUT_LEN] {
    const STEPS: usize = SOFTMAX16_LUT_LEN - 1;
    let step = (max - min) / STEPS as f32;
    let half_step = step / 2.0;
    // (int16 max - int16 min + 1) / (output_max - output_min) with the output range [-1, 1].
    let scaling_inv = 65536.0f32 / (1.0f32 - (-1.0f32));
    let clamp = |v: f32| v.clamp(i16::MIN as f32, i16::MAX as f32) as i16;
    let mut lut = [0i16; SOFTMAX16_LUT_LEN];
    for (i, slot) in lut.iter_mut().take(STEPS).enumerate() {
        let x = min + i as f32 * step;
        let val = f(x);
        let val_midpoint = f(x + half_step);
        let val_next = f(min + (i + 1) as f32 * step);
        let sample = round_f32(val * scaling_inv);
        let midpoint_interp =
            round_f32((val_next * scaling_inv + round_f32(val * scaling_inv)) / 2.0);
        let midpoint = round_f32(val_midpoint * scaling_inv);
        let bias = round_f32((midpoint_interp - midpoint) / 2.0);
        *slot = clamp(sample - bias);
    }
    if let Some(last) = lut.last_mut() {
        *last = clamp(round_f32(f(max) * scaling_inv));
    }
    lut
}

/// The two tables of TFLM's int16 softmax `Prepare`: `exp` on `[-10, 0]` and `1 / (1 + x)` on
/// `[0, 1]` (both in `f32`, as TFLM's lambdas compute them).
pub fn softmax_i16_luts() -> ([i16; SOFTMAX16_LUT_LEN], [i16; SOFTMAX16_LUT_LEN]) {
    (
        gen_lut_i16(libm::expf, -10.0, 0.0),
        gen_lut_i16(|x| 1.0 / (1.0 + x), 0.0, 1.0),
    )
}

/// TFLM's int16 softmax input rescaling: `QuantizeMultiplier(input_scale * beta / (10 /
/// 65535))` (in double), which maps a difference of `[-65535, 0]` input steps to the exp
/// table's `[-10, 0]`. `None` for a non-finite or unrepresentable multiplier.
pub fn prepare_softmax_i16(beta: f32, input_scale: f32) -> Option<(i32, i32)> {
    let real = input_scale as f64 * beta as f64 / (10.0 / 65535.0);
    if !(real.is_finite() && real > 0.0) {
        return None;
    }
    quantize_multiplier(real)
}

/// TFLM `generic_int16_table_lookup`: the entry at `256 + (value >> 7)` plus the slope to the
/// next entry times the low 7 bits, rounded. Index at most 511, so `index + 1` is in range.
// Bounds: `value >> 7` is in `-256..=255`, so `index` is in `0..=511` and `index + 1` below
// the table's 513 entries.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn table_lookup(value: i16, lut: &[i16; SOFTMAX16_LUT_LEN]) -> i16 {
    let index = (256 + (value as i32 >> 7)) as usize;
    let offset = (value & 0x7f) as i32;
    let base = lut[index];
    let slope = lut[index + 1].wrapping_sub(base) as i32;
    let delta = (slope * offset + 64) >> 7;
    base.wrapping_add(delta as i16)
}

/// One row of TFLM's `SoftmaxInt16`; `output` doubles as the store of the exp values.
fn softmax_row(
    p: &SoftmaxI16,
    exp_lut: &[i16; SOFTMAX16_LUT_LEN],
    recip_lut: &[i16; SOFTMAX16_LUT_LEN],
    input: &[i16],
    output: &mut [i16],
) {
    let max_in_row = input.iter().copied().max().unwrap_or(i16::MIN);
    let mut sum_of_exps: i32 = 0;
    for (o, &x) in output.iter_mut().zip(input) {
        let diff = x as i32 - max_in_row as i32;
        let scaled = multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift);
        let sym = scaled.saturating_add(32767).clamp(-32768, 32767) as i16;
        let e = table_lookup(sym, exp_lut);
        *o = e;
        sum_of_exps = sum_of_exps.wrapping_add(e as i32);
    }
    // The reciprocal of the sum, normalised: `headroom_plus_one` leading zeros, the sum
    // brought to Q1.14 and recentred for the `1 / (1 + x)` table.
    let headroom_plus_one = (sum_of_exps as u32).leading_zeros();
    let shifted = (((sum_of_exps as i64) << headroom_plus_one.saturating_sub(1)) + (1 << 13)) >> 14;
    let sym_shifted = (shifted as i32).wrapping_add(-((1 << 15) + (1 << 16)));
    let reciprocal = table_lookup(sym_shifted.clamp(-32768, 32767) as i16, recip_lut) as i64;
    let right_shift = 31u32.saturating_sub(headroom_plus_one);
    let round = 1i64 << right_shift.saturating_sub(1);
    for o in output.iter_mut() {
        let result = ((*o as i64 * reciprocal + round) >> right_shift) as i32;
        *o = result.clamp(0, 32767) as i16;
    }
}

/// Reference int16 SOFTMAX: `p.outer` rows of `p.depth` elements (whole rows that fit both
/// slices).
pub fn softmax_i16(
    p: &SoftmaxI16,
    exp_lut: &[i16; SOFTMAX16_LUT_LEN],
    recip_lut: &[i16; SOFTMAX16_LUT_LEN],
    input: &[i16],
    output: &mut [i16],
) {
    let depth = p.depth as usize;
    if depth == 0 {
        return;
    }
    for (row_in, row_out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
        .take(p.outer as usize)
    {
        softmax_row(p, exp_lut, recip_lut, row_in, row_out);
    }
}

/// Kernel entry for [`Op::SoftmaxI16`].
pub fn run_softmax_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SoftmaxI16);
    if !(-31..=31).contains(&p.input_left_shift) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    let exp_lut: &[i16; SOFTMAX16_LUT_LEN] = ctx
        .consts(p.exp_lut)?
        .try_into()
        .map_err(|_| ctx.error("exp table must have 513 entries"))?;
    let recip_lut: &[i16; SOFTMAX16_LUT_LEN] = ctx
        .consts(p.one_over_one_plus_x_lut)?
        .try_into()
        .map_err(|_| ctx.error("reciprocal table must have 513 entries"))?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let elements = p.outer as u64 * p.depth as u64;
    check_len(
        layer,
        input.len() as u64,
        elements,
        "input size does not match rows x depth",
    )?;
    check_len(
        layer,
        output.len() as u64,
        elements,
        "output size does not match rows x depth",
    )?;
    softmax_i16(p, exp_lut, recip_lut, input, output);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use ferrite_core::{ConstRef, TensorId};

    fn params(depth: u32, input_scale: f32, beta: f32) -> SoftmaxI16 {
        let (input_multiplier, input_left_shift) = prepare_softmax_i16(beta, input_scale).unwrap();
        SoftmaxI16 {
            input: TensorId(0),
            output: TensorId(1),
            outer: 1,
            depth,
            input_multiplier,
            input_left_shift,
            exp_lut: ConstRef::new(0, 0),
            one_over_one_plus_x_lut: ConstRef::new(0, 0),
        }
    }

    #[test]
    fn tables_span_their_functions() {
        let (exp, recip) = softmax_i16_luts();
        // exp(0) = 1 saturates Q0.15; exp(-10) is about 1.5 steps.
        assert_eq!(exp[512], 32767);
        assert!((0..=2).contains(&exp[0]));
        // 1 / (1 + 0) saturates, 1 / 2 is 16384.
        assert_eq!(recip[0], 32767);
        assert_eq!(recip[512], 16384);
        assert!(exp.windows(2).all(|w| w[0] <= w[1]));
        assert!(recip.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn rows_sum_to_one_and_follow_the_float_softmax() {
        let (exp, recip) = softmax_i16_luts();
        let scale = 8.0 / 32768.0;
        let p = params(5, scale, 1.0);
        let x = [-4000i16, 0, 1234, 2500, -32768];
        let mut out = [0i16; 5];
        softmax_i16(&p, &exp, &recip, &x, &mut out);
        let reals: [f64; 5] = x.map(|v| libm::exp(v as f64 * scale as f64));
        let total: f64 = reals.iter().sum();
        for (o, r) in out.iter().zip(reals) {
            let want = r / total * 32768.0;
            assert!((*o as f64 - want).abs() < 40.0, "{o} vs {want}");
        }
        let sum: i32 = out.iter().map(|&v| v as i32).sum();
        assert!((sum - 32768).abs() < 64, "{sum}");
    }

    #[test]
    fn equal_inputs_share_the_mass() {
        let (exp, recip) = softmax_i16_luts();
        let p = params(4, 1e-3, 0.5);
        let mut out = [0i16; 4];
        softmax_i16(&p, &exp, &recip, &[7; 4], &mut out);
        assert!(out.iter().all(|&v| (v as i32 - 8192).abs() <= 2), "{out:?}");
    }
}
