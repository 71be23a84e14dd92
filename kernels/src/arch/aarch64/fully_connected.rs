//! Int8 FULLY_CONNECTED on NEON: 16-bit `x + input_offset` times `w + weights_offset`
//! (both within ±256 when the offsets are int8 zero points, so every product fits 32 bits),
//! widening multiply-accumulate into 32-bit lanes, then the reference requantization.

use crate::ops::fully_connected::{fully_connected_checked, run_fully_connected_i8_with};
use core::arch::aarch64::*;
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::ops::Op;
use ferrite_core::{Ctx, Result};

/// Kernel entry for [`Op::FullyConnectedI8`] on NEON.
pub(crate) fn run_fully_connected_i8_neon(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    run_fully_connected_i8_with(ctx, op, |f| {
        if !f.small_offsets() {
            return fully_connected_checked(f);
        }
        let p = f.p;
        let per_tensor = f.multiplier.len() == 1;
        let weights_offset = if per_tensor { p.weights_offset } else { 0 };
        let (depth, out_depth) = (p.in_depth as usize, p.out_depth as usize);
        let rq = &p.rq;
        for b in 0..p.batches as usize {
            let xs = &f.input[b * depth..(b + 1) * depth];
            for oc in 0..out_depth {
                let ws = &f.weights[oc * depth..(oc + 1) * depth];
                // SAFETY: NEON is part of every aarch64 target (the `neon` target feature is
                // on by default); the loads read elements k..k + 8 of rows of `depth` elements.
                let mut dot = unsafe { dot_neon(xs, ws, rq.input_offset, weights_offset) };
                if let Some(&bv) = f.bias.get(oc) {
                    dot = dot.wrapping_add(bv);
                }
                let q = if per_tensor { 0 } else { oc };
                let v = multiply_by_quantized_multiplier(dot, f.multiplier[q], f.shift[q])
                    .wrapping_add(rq.output_offset);
                f.output[b * out_depth + oc] = v.max(rq.act_min).min(rq.act_max) as i8;
            }
        }
    })
}

/// `sum (x + xo) * (w + wo)` with wrap-around, 8 elements per step.
///
/// # Safety
/// NEON; `xs` and `ws` of equal length.
#[target_feature(enable = "neon")]
unsafe fn dot_neon(xs: &[i8], ws: &[i8], xo: i32, wo: i32) -> i32 {
    let n = xs.len().min(ws.len());
    let (xo16, wo16) = (vdupq_n_s16(xo as i16), vdupq_n_s16(wo as i16));
    let mut acc = vdupq_n_s32(0);
    let mut k = 0;
    while k + 8 <= n {
        let x = vaddq_s16(vmovl_s8(vld1_s8(xs.as_ptr().add(k))), xo16);
        let w = vaddq_s16(vmovl_s8(vld1_s8(ws.as_ptr().add(k))), wo16);
        acc = vmlal_s16(acc, vget_low_s16(x), vget_low_s16(w));
        acc = vmlal_high_s16(acc, x, w);
        k += 8;
    }
    let mut dot = vaddvq_s32(acc);
    for (&x, &w) in xs[k..n].iter().zip(&ws[k..n]) {
        dot = dot.wrapping_add((x as i32 + xo).wrapping_mul(w as i32 + wo));
    }
    dot
}
