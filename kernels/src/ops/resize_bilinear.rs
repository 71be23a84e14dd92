//! RESIZE_BILINEAR, float32 and int8 (TFLM `reference_ops::ResizeBilinear` and
//! `ResizeBilinearInteger`).
//!
//! The converter resolves every output row's and column's two source taps and fraction with
//! TFLM's arithmetic (`align_corners`, `half_pixel_centers`; single precision for float,
//! steps of 1/1024 for int8), so the kernel only blends: float in TFLM's left-to-right order,
//! int8 with 64-bit products rounded half away from zero at `2^20` and narrowed like TFLM's
//! `static_cast` (half-pixel extrapolation before the first row can leave the int8 range; TFLM
//! wraps there too).

use crate::util::{check_len, expect_op, product};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{BilinearGeom, Op};
use ferrite_core::{ConstRef, Ctx, Error, Result};

/// The taps and fractions of a resize, checked against its geometry.
struct Taps<'r, W> {
    rows: &'r [u32],
    cols: &'r [u32],
    row_frac: &'r [W],
    col_frac: &'r [W],
}

impl<'r, W: bytemuck::Pod> Taps<'r, W> {
    /// Reads the constants and checks that every tap lies in the image.
    fn load(
        ctx: &Ctx<'r>,
        g: &BilinearGeom,
        row_frac: ConstRef<W>,
        col_frac: ConstRef<W>,
    ) -> Result<Self> {
        let t = Taps {
            rows: ctx.consts(g.rows)?,
            cols: ctx.consts(g.cols)?,
            row_frac: ctx.consts(row_frac)?,
            col_frac: ctx.consts(col_frac)?,
        };
        let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
        if t.rows.len() != 2 * out_h
            || t.cols.len() != 2 * out_w
            || t.row_frac.len() != out_h
            || t.col_frac.len() != out_w
        {
            return Err(ctx.error("resize taps do not match the output size"));
        }
        if t.rows.iter().any(|&y| y >= g.in_h) || t.cols.iter().any(|&x| x >= g.in_w) {
            return Err(ctx.error("resize tap outside the input image"));
        }
        Ok(t)
    }
}

/// The `ch` elements of pixel `(y, x)` of an image `in_w` pixels wide.
fn pixel<T>(img: &[T], in_w: usize, ch: usize, y: u32, x: u32) -> Option<&[T]> {
    let at = (y as usize)
        .checked_mul(in_w)?
        .checked_add(x as usize)?
        .checked_mul(ch)?;
    img.get(at..at.checked_add(ch)?)
}

/// Walks every output pixel with its four source pixels: `blend(out, v00, v10, v01, v11,
/// row_frac, col_frac)` writes one output pixel (`channels` elements) from the pixels at
/// `(y0, x0)`, `(y1, x0)`, `(y0, x1)`, `(y1, x1)`.
///
/// Returns `false` (having written a prefix) if a tap leaves the input or the slices do not
/// match the geometry; the entries check both first.
fn walk<T: Copy, W: Copy>(
    g: &BilinearGeom,
    taps: &Taps<'_, W>,
    input: &[T],
    output: &mut [T],
    mut blend: impl FnMut(&mut [T], [&[T]; 4], W, W),
) -> bool {
    let ch = g.channels as usize;
    let (in_h, in_w) = (g.in_h as usize, g.in_w as usize);
    let image = in_h.saturating_mul(in_w).saturating_mul(ch);
    let out_image = (g.out_h as usize)
        .saturating_mul(g.out_w as usize)
        .saturating_mul(ch);
    // Non-zero sizes as `NonZeroUsize`, so that the optimiser drops `chunks_exact`'s
    // zero-size panic.
    let (Some(ch_nz), Some(image), Some(out_image)) = (
        core::num::NonZeroUsize::new(ch),
        core::num::NonZeroUsize::new(image),
        core::num::NonZeroUsize::new(out_image),
    ) else {
        return true;
    };
    let mut out_images = output.chunks_exact_mut(out_image.get());
    for img in input.chunks_exact(image.get()).take(g.batches as usize) {
        let Some(out_img) = out_images.next() else {
            break;
        };
        let mut out_pixels = out_img.chunks_exact_mut(ch_nz.get());
        for (ys, &fy) in taps.rows.chunks_exact(2).zip(taps.row_frac) {
            let [y0, y1] = [ys.first(), ys.get(1)].map(|v| v.copied().unwrap_or(u32::MAX));
            for (xs, &fx) in taps.cols.chunks_exact(2).zip(taps.col_frac) {
                let [x0, x1] = [xs.first(), xs.get(1)].map(|v| v.copied().unwrap_or(u32::MAX));
                let (Some(o), Some(v00), Some(v10), Some(v01), Some(v11)) = (
                    out_pixels.next(),
                    pixel(img, in_w, ch, y0, x0),
                    pixel(img, in_w, ch, y1, x0),
                    pixel(img, in_w, ch, y0, x1),
                    pixel(img, in_w, ch, y1, x1),
                ) else {
                    return false;
                };
                blend(o, [v00, v10, v01, v11], fy, fx);
            }
        }
    }
    true
}

/// Reference float RESIZE_BILINEAR (see [`Op::ResizeBilinearF32`]).
fn resize_bilinear_f32(
    g: &BilinearGeom,
    taps: &Taps<'_, f32>,
    input: &[f32],
    output: &mut [f32],
) -> bool {
    walk(
        g,
        taps,
        input,
        output,
        |out, [v00, v10, v01, v11], dy, dx| {
            let px = v00.iter().zip(v10).zip(v01).zip(v11);
            for (o, (((&a, &b), &c), &d)) in out.iter_mut().zip(px) {
                // TFLM adds a rounding offset of 0.0 for float (it also turns -0.0 into 0.0).
                *o = a * (1.0 - dy) * (1.0 - dx)
                    + b * dy * (1.0 - dx)
                    + c * (1.0 - dy) * dx
                    + d * dy * dx
                    + 0.0;
            }
        },
    )
}

/// Reference int8 RESIZE_BILINEAR (see [`Op::ResizeBilinearI8`]).
fn resize_bilinear_i8(
    g: &BilinearGeom,
    taps: &Taps<'_, i32>,
    input: &[i8],
    output: &mut [i8],
) -> bool {
    const ONE: i64 = 1 << 10;
    walk(
        g,
        taps,
        input,
        output,
        |out, [v00, v10, v01, v11], wy, wx| {
            let (wy, wx) = (wy as i64, wx as i64);
            let px = v00.iter().zip(v10).zip(v01).zip(v11);
            for (o, (((&a, &b), &c), &d)) in out.iter_mut().zip(px) {
                let sum = a as i64 * (ONE - wy) * (ONE - wx)
                    + b as i64 * wy * (ONE - wx)
                    + c as i64 * (ONE - wy) * wx
                    + d as i64 * wy * wx;
                let round = if sum > 0 { 1i64 << 19 } else { -(1i64 << 19) };
                // Truncating division, then TFLM's narrowing `static_cast<int8_t>`.
                *o = ((sum + round) / (1i64 << 20)) as i8;
            }
        },
    )
}

/// Checks a resize's input and output sizes.
fn check_sizes(layer: u16, g: &BilinearGeom, input: usize, output: usize) -> Result<()> {
    check_len(
        layer,
        input as u64,
        product(&[g.batches, g.in_h, g.in_w, g.channels]),
        "resize input size does not match its geometry",
    )?;
    check_len(
        layer,
        output as u64,
        product(&[g.batches, g.out_h, g.out_w, g.channels]),
        "resize output size does not match its geometry",
    )
}

/// The error of a walk that left its buffers (the entry checks make it unreachable).
fn walk_error(layer: u16) -> Error {
    Error::InvalidLayer {
        layer,
        reason: "resize outside its buffers",
    }
}

/// Kernel entry for [`Op::ResizeBilinearF32`].
pub fn run_resize_bilinear_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ResizeBilinearF32);
    let taps = Taps::load(ctx, &p.geom, p.row_frac, p.col_frac)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_sizes(layer, &p.geom, input.len(), output.len())?;
    if !resize_bilinear_f32(&p.geom, &taps, input, output) {
        return Err(walk_error(layer));
    }
    Ok(())
}

/// Kernel entry for [`Op::ResizeBilinearI8`].
pub fn run_resize_bilinear_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ResizeBilinearI8);
    let taps = Taps::load(ctx, &p.geom, p.row_frac, p.col_frac)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_sizes(layer, &p.geom, input.len(), output.len())?;
    if !resize_bilinear_i8(&p.geom, &taps, input, output) {
        return Err(walk_error(layer));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn geom(out_h: u32, out_w: u32) -> BilinearGeom {
        BilinearGeom {
            batches: 1,
            in_h: 2,
            in_w: 2,
            channels: 1,
            out_h,
            out_w,
            rows: ConstRef::EMPTY,
            cols: ConstRef::EMPTY,
        }
    }

    #[test]
    fn int8_rounds_half_away_from_zero_and_wraps_like_a_cast() {
        // One output between rows 0 and 1 (weight 512/1024) on column 0 only.
        let rows = [0u32, 1];
        let cols = [0u32, 0];
        let taps = Taps {
            rows: &rows,
            cols: &cols,
            row_frac: &[512i32],
            col_frac: &[0i32],
        };
        let mut out = [0i8];
        assert!(resize_bilinear_i8(
            &geom(1, 1),
            &taps,
            &[3, 0, 4, 0],
            &mut out
        ));
        assert_eq!(out, [4]); // 3.5 -> 4
        assert!(resize_bilinear_i8(
            &geom(1, 1),
            &taps,
            &[-3, 0, -4, 0],
            &mut out
        ));
        assert_eq!(out, [-4]); // -3.5 -> -4
                               // Half-pixel extrapolation before row 0 (weight -512) can leave int8: TFLM's
                               // `static_cast<int8_t>` wraps 127 * 1.5 - (-128) * 0.5 = 254.5 -> 255 -> -1.
        let taps = Taps {
            row_frac: &[-512i32],
            ..taps
        };
        assert!(resize_bilinear_i8(
            &geom(1, 1),
            &taps,
            &[127, 0, -128, 0],
            &mut out
        ));
        assert_eq!(out, [-1]);
    }

    #[test]
    fn float_blends_in_tflm_order() {
        let rows = [0u32, 1];
        let cols = [0u32, 1];
        let taps = Taps {
            rows: &rows,
            cols: &cols,
            row_frac: &[0.25f32],
            col_frac: &[0.5f32],
        };
        let input = [1.0f32, 2.0, 3.0, 4.0];
        let mut out = [0f32];
        assert!(resize_bilinear_f32(&geom(1, 1), &taps, &input, &mut out));
        let want = 1.0f32 * 0.75 * 0.5 + 3.0 * 0.25 * 0.5 + 2.0 * 0.75 * 0.5 + 4.0 * 0.25 * 0.5;
        assert_eq!(out, [want]);
        // A tap past the image is refused, not read.
        let bad = [0u32, 2];
        let taps = Taps { rows: &bad, ..taps };
        assert!(!resize_bilinear_f32(&geom(1, 1), &taps, &input, &mut out));
    }
}
