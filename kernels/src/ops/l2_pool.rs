//! L2_POOL_2D, float32 (TFLM has no quantized L2 pooling).
//!
//! TFLM's `reference_ops::L2Pool`: each window is clipped to the image like the other
//! poolings (see [`crate::ops::pool`]), its taps' squares are summed in `(y, x)` order from
//! `0.0`, divided by the number of taps, and `sqrtf` of that is clamped to the fused
//! activation's range. A window with no tap inside the image gives `sqrt(0 / 0)`, a NaN, as
//! in TFLM (SAME and VALID padding never produce one).

use crate::ops::conv::clamp_f32;
use crate::ops::pool::{check_activations, check_pool_geometry, clip};
use crate::util::expect_op;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{L2PoolF32, Op};
use ferrite_core::{Ctx, Result};

/// Reference float L2 pooling. Slices must match `p.geom` (the entry checks).
pub fn l2_pool_f32(p: &L2PoolF32, input: &[f32], output: &mut [f32]) {
    // Every slice and index is checked (a failed one stops the loops: past the
    // entry's checks none can fail), so that no panic path is linked.
    let _ = (|| -> Option<()> {
        let g = &p.geom;
        let (in_h, in_w, ch) = (g.in_h as usize, g.in_w as usize, g.channels as usize);
        let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
        for b in 0..g.batches as usize {
            for oy in 0..out_h {
                let rows = clip(oy, g.stride_h, g.pad_top, g.filter_h, g.in_h);
                for ox in 0..out_w {
                    let cols = clip(ox, g.stride_w, g.pad_left, g.filter_w, g.in_w);
                    let out_base = ((b * out_h + oy) * out_w + ox) * ch;
                    let count = ((rows.end - rows.start) * (cols.end - cols.start)) as f32;
                    for c in 0..ch {
                        let mut sum_squares = 0.0f32;
                        for iy in rows.clone() {
                            for ix in cols.clone() {
                                let v = *input.get(((b * in_h + iy) * in_w + ix) * ch + c)?;
                                sum_squares += v * v;
                            }
                        }
                        let value = libm::sqrtf(sum_squares / count);
                        *output.get_mut(out_base + c)? = clamp_f32(value, p.act_min, p.act_max);
                    }
                }
            }
        }
        Some(())
    })();
}

/// Kernel entry for [`Op::L2PoolF32`].
pub fn run_l2_pool_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, L2PoolF32);
    let layer = ctx.layer;
    check_pool_geometry(ctx, &p.geom)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_activations(layer, &p.geom, input.len(), output.len())?;
    l2_pool_f32(p, input, output);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::PoolGeometry;
    use ferrite_core::TensorId;

    #[test]
    fn root_mean_square_over_clipped_windows() {
        // 1x2x2x1 image, 2x2 window, stride 1, one row and column of padding before: the
        // first window holds only the top-left tap, the last one all four.
        let geom = PoolGeometry {
            batches: 1,
            in_h: 2,
            in_w: 2,
            channels: 1,
            out_h: 2,
            out_w: 2,
            filter_h: 2,
            filter_w: 2,
            stride_h: 1,
            stride_w: 1,
            pad_top: 1,
            pad_left: 1,
        };
        let p = L2PoolF32 {
            input: TensorId(0),
            output: TensorId(1),
            geom,
            act_min: f32::MIN,
            act_max: 4.0,
        };
        let mut out = [0f32; 4];
        l2_pool_f32(&p, &[3.0, -4.0, 0.0, 12.0], &mut out);
        let all = libm::sqrtf((9.0f32 + 16.0 + 0.0 + 144.0) / 4.0);
        assert_eq!(
            out,
            [
                3.0,
                libm::sqrtf(25.0 / 2.0),
                libm::sqrtf(9.0 / 2.0),
                all.min(4.0)
            ]
        );
    }
}
