//! RESIZE_NEAREST_NEIGHBOR: nearest-neighbour up- or down-sampling of NHWC height and width,
//! any element type.
//!
//! TFLite Micro picks each output row's and column's source with float arithmetic
//! (`GetNearestNeighbor`) and copies `channels` elements; it never requantizes int8 data. The
//! converter runs [`nearest_neighbor_index`] once per output row and column and stores the
//! results, so the device does no float math, and [`run_resize_nearest`] only copies.

use crate::util::{check_len, expect_op, product};
use ferrite_core::ops::{Op, ResizeNearest};
use ferrite_core::{Ctx, Result};

/// TFLM's `GetNearestNeighbor`: the input index output index `out` reads when resizing
/// `in_size` to `out_size`, in `f32` exactly as TFLM computes it (scale `in / out`, or
/// `(in - 1) / (out - 1)` with `align_corners`; `+ 0.5` before scaling with
/// `half_pixel_centers`; rounded half away from zero with `align_corners`, else floored;
/// clamped to `[0, in_size - 1]`). `in_size` and `out_size` must be positive.
pub fn nearest_neighbor_index(
    out: u32,
    in_size: u32,
    out_size: u32,
    align_corners: bool,
    half_pixel_centers: bool,
) -> u32 {
    let scale = if align_corners && out_size > 1 {
        (in_size as i64 - 1) as f32 / (out_size as i64 - 1) as f32
    } else {
        in_size as f32 / out_size as f32
    };
    let offset = if half_pixel_centers { 0.5f32 } else { 0.0 };
    let pos = (out as f32 + offset) * scale;
    let index = if align_corners {
        libm::roundf(pos)
    } else {
        libm::floorf(pos)
    };
    // `as` saturates (and maps NaN to 0) where C++'s cast would be undefined.
    let index = (index as i64).min(in_size as i64 - 1).max(0);
    index as u32
}

/// Kernel entry for [`Op::ResizeNearest`]: checks the tables and sizes, then copies.
pub fn run_resize_nearest(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ResizeNearest);
    let rows = ctx.consts(p.src_rows)?;
    let cols = ctx.consts(p.src_cols)?;
    let layer = ctx.layer;
    if rows.iter().any(|&r| r >= p.in_h) || cols.iter().any(|&c| c >= p.in_w) {
        return Err(ctx.error("resize source index outside the input"));
    }
    let (out_h, out_w) = (rows.len() as u32, cols.len() as u32);
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    check_len(
        layer,
        input.len() as u64,
        product(&[p.batches, p.in_h, p.in_w, p.channels, p.elem_bytes]),
        "input size does not match the resize geometry",
    )?;
    check_len(
        layer,
        output.len() as u64,
        product(&[p.batches, out_h, out_w, p.channels, p.elem_bytes]),
        "output size does not match the resize geometry",
    )?;
    resize_nearest(p, rows, cols, input, output);
    Ok(())
}

/// Reference nearest-neighbour resize (TFLM `reference_ops::ResizeNearestNeighbor`) on raw
/// bytes: output pixel `(b, y, x)` is input pixel `(b, rows[y], cols[x])`.
///
/// Slices must match `p` (the kernel entry checks): `input` holds
/// `batches * in_h * in_w * channels * elem_bytes` bytes, `output`
/// `batches * rows.len() * cols.len() * channels * elem_bytes`, and every `rows` entry is
/// below `in_h`, every `cols` entry below `in_w`.
pub fn resize_nearest(
    p: &ResizeNearest,
    rows: &[u32],
    cols: &[u32],
    input: &[u8],
    output: &mut [u8],
) {
    let pixel = p.channels as usize * p.elem_bytes as usize;
    let (in_h, in_w) = (p.in_h as usize, p.in_w as usize);
    if pixel == 0 {
        return;
    }
    let mut out_pixels = output.chunks_exact_mut(pixel);
    for b in 0..p.batches as usize {
        for &iy in rows {
            for &ix in cols {
                let start = ((b * in_h + iy as usize) * in_w + ix as usize) * pixel;
                // With the checked sizes both always exist; `get` keeps a mismatched direct
                // call from panicking.
                if let (Some(src), Some(dst)) = (input.get(start..start + pixel), out_pixels.next())
                {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::{Arena, ConstRef, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    fn indices<const N: usize>(in_size: u32, align: bool, half: bool) -> [u32; N] {
        core::array::from_fn(|i| nearest_neighbor_index(i as u32, in_size, N as u32, align, half))
    }

    #[test]
    fn source_indices_follow_tflm() {
        // 2x upsampling: every mode repeats each input twice.
        assert_eq!(indices::<8>(4, false, true), [0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(indices::<8>(4, false, false), [0, 0, 1, 1, 2, 2, 3, 3]);
        // 3 -> 5: floor(i * 0.6) vs floor((i + 0.5) * 0.6).
        assert_eq!(indices::<5>(3, false, false), [0, 0, 1, 1, 2]);
        assert_eq!(indices::<5>(3, false, true), [0, 0, 1, 2, 2]);
        // align_corners: round(i * 2 / 4) rounds 0.5 and 1.5 away from zero.
        assert_eq!(indices::<5>(3, true, false), [0, 1, 1, 2, 2]);
        // Downsampling 5 -> 2 with half-pixel centres: floor(1.25), floor(3.75).
        assert_eq!(indices::<2>(5, false, true), [1, 3]);
        // A single output with align_corners uses in / out, not (in - 1) / 0.
        assert_eq!(indices::<1>(4, true, false), [0]);
    }

    /// [1,2,2,1] int8 (values 1..4) resized to [1, rows.len(), cols.len(), 1].
    fn run_model(rows: &[u32], cols: &[u32], out_elems: u32) -> ferrite_core::Result<[i8; 6]> {
        let tensor = |offset, dims: &[u32]| Tensor {
            offset,
            dtype: DType::I8,
            shape: Shape::new(dims),
            scale: 0.5,
            zero_point: 0,
        };
        let tensors = [tensor(0, &[1, 2, 2, 1]), tensor(16, &[1, out_elems])];
        let mut consts = Arena::<32>::new();
        let c = consts.as_mut_slice();
        for (i, v) in rows.iter().chain(cols).enumerate() {
            c[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        let layers = [Layer {
            op: Op::ResizeNearest(ResizeNearest {
                input: TensorId(0),
                output: TensorId(1),
                elem_bytes: 1,
                batches: 1,
                in_h: 2,
                in_w: 2,
                channels: 1,
                src_rows: ConstRef::new(0, rows.len() as u32),
                src_cols: ConstRef::new(4 * rows.len() as u32, cols.len() as u32),
            }),
            kernel: run_resize_nearest,
            name: "RESIZE_NEAREST_NEIGHBOR",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: consts.as_mut_slice(),
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        model.set_input(arena.as_mut_slice(), 0, &[1i8, 2, 3, 4])?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[i8] = model.output(arena.as_mut_slice(), 0)?;
        let mut result = [0i8; 6];
        result[..out.len()].copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn kernel_entry_runs_in_a_model() {
        // 2x2 -> 2x3 with columns [0, 0, 1].
        assert_eq!(
            run_model(&[0, 1], &[0, 0, 1], 6).unwrap(),
            [1, 1, 2, 3, 3, 4]
        );
        // A table entry past the input is refused before anything is copied.
        assert_eq!(
            run_model(&[0, 2], &[0, 0, 1], 6).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "resize source index outside the input"
            }
        );
        // So is an output that does not match the tables.
        assert_eq!(
            run_model(&[0, 1], &[0, 0, 1], 5).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "output size does not match the resize geometry"
            }
        );
    }
}
