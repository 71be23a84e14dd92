//! SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND, generic over the element size (TFLM
//! `reference_ops::SpaceToBatchND` / `BatchToSpaceND`).
//!
//! Both move whole pixels (`depth` contiguous elements) between a `[batch, height, width,
//! depth]` image and its block-interleaved batches; 3-D tensors are `[batch, height, 1,
//! depth]` with a block width of 1, as TFLM extends them. SPACE_TO_BATCH_ND fills the
//! padding with `pad_byte` (TFLM `memset`s it with the output zero point, so int8 padding
//! reads as real zero); BATCH_TO_SPACE_ND skips the cropped input pixels. The entries check
//! sizes and block shapes first; every copy still goes through `get`.

use crate::util::{check_len, expect_op, product};
use ferrite_core::ops::{BatchToSpace, Op, SpaceToBatch};
use ferrite_core::{Ctx, Error, Result};

/// Checks the element size, the block shape and both tensors' byte sizes.
fn check_shapes(
    layer: u16,
    elem_bytes: u32,
    (in_dims, out_dims): (&[u32; 4], &[u32; 4]),
    block: &[u32; 2],
    (input, output): (usize, usize),
) -> Result<()> {
    let err = |reason| Error::InvalidLayer { layer, reason };
    if !matches!(elem_bytes, 1 | 2 | 4 | 8) {
        return Err(err("unsupported element size"));
    }
    if block.contains(&0) {
        return Err(err("zero block size"));
    }
    if in_dims[3] != out_dims[3] {
        return Err(err("input and output depths differ"));
    }
    let eb = elem_bytes as u64;
    check_len(
        layer,
        input as u64,
        product(in_dims).saturating_mul(eb),
        "space/batch input size",
    )?;
    check_len(
        layer,
        output as u64,
        product(out_dims).saturating_mul(eb),
        "space/batch output size",
    )
}

/// Reference SPACE_TO_BATCH_ND on bytes. `None` if a pixel falls outside its buffer (the
/// entry's checks rule it out).
pub fn space_to_batch(p: &SpaceToBatch, input: &[u8], output: &mut [u8]) -> Option<()> {
    let [in_b, in_h, in_w, depth] = p.in_dims.map(|d| d as i64);
    let [_, out_h, out_w, _] = p.out_dims.map(|d| d as i64);
    let [block_h, block_w] = p.block.map(|d| d as i64);
    let px = usize::try_from(depth * p.elem_bytes as i64).ok()?;
    if px == 0 {
        return Some(());
    }
    let mut out_pixels = output.chunks_exact_mut(px);
    for out_b in 0..p.out_dims[0] as i64 {
        let in_batch = out_b.checked_rem(in_b)?;
        let shift = out_b.checked_div(in_b)?;
        let (shift_h, shift_w) = (shift.checked_div(block_w)?, shift.checked_rem(block_w)?);
        for oy in 0..out_h {
            let iy = oy * block_h + shift_h - p.pad_top as i64;
            for ox in 0..out_w {
                let ix = ox * block_w + shift_w - p.pad_left as i64;
                let out = out_pixels.next()?;
                if (0..in_h).contains(&iy) && (0..in_w).contains(&ix) {
                    let at = usize::try_from(((in_batch * in_h + iy) * in_w + ix) * depth).ok()?;
                    let at = at.checked_mul(p.elem_bytes as usize)?;
                    out.copy_from_slice(input.get(at..at.checked_add(px)?)?);
                } else {
                    out.fill(p.pad_byte);
                }
            }
        }
    }
    Some(())
}

/// Reference BATCH_TO_SPACE_ND on bytes. `None` if a pixel falls outside its buffer (the
/// entry's checks rule it out).
pub fn batch_to_space(p: &BatchToSpace, input: &[u8], output: &mut [u8]) -> Option<()> {
    let [_, in_h, in_w, depth] = p.in_dims.map(|d| d as i64);
    let [out_b, out_h, out_w, _] = p.out_dims.map(|d| d as i64);
    let [block_h, block_w] = p.block.map(|d| d as i64);
    let px = usize::try_from(depth * p.elem_bytes as i64).ok()?;
    if px == 0 {
        return Some(());
    }
    let mut in_pixels = input.chunks_exact(px);
    for in_batch in 0..p.in_dims[0] as i64 {
        let out_batch = in_batch.checked_rem(out_b)?;
        let offset = in_batch.checked_div(out_b)?;
        let (off_h, off_w) = (offset.checked_div(block_w)?, offset.checked_rem(block_w)?);
        for iy in 0..in_h {
            let oy = iy * block_h + off_h - p.crop_top as i64;
            for ix in 0..in_w {
                let ox = ix * block_w + off_w - p.crop_left as i64;
                let src = in_pixels.next()?;
                if !((0..out_h).contains(&oy) && (0..out_w).contains(&ox)) {
                    continue;
                }
                let at = usize::try_from(((out_batch * out_h + oy) * out_w + ox) * depth).ok()?;
                let at = at.checked_mul(p.elem_bytes as usize)?;
                output
                    .get_mut(at..at.checked_add(px)?)?
                    .copy_from_slice(src);
            }
        }
    }
    Some(())
}

/// Kernel entry for [`Op::SpaceToBatch`].
pub fn run_space_to_batch(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SpaceToBatch);
    if p.in_dims[0] == 0 && p.out_dims[0] != 0 {
        return Err(ctx.error("space to batch from an empty batch"));
    }
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let sizes = (input.len(), output.len());
    check_shapes(
        layer,
        p.elem_bytes,
        (&p.in_dims, &p.out_dims),
        &p.block,
        sizes,
    )?;
    space_to_batch(p, input, output).ok_or(Error::InvalidLayer {
        layer,
        reason: "space to batch outside its buffers",
    })
}

/// Kernel entry for [`Op::BatchToSpace`].
pub fn run_batch_to_space(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, BatchToSpace);
    if p.out_dims[0] == 0 && p.in_dims[0] != 0 {
        return Err(ctx.error("batch to space into an empty batch"));
    }
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    let sizes = (input.len(), output.len());
    check_shapes(
        layer,
        p.elem_bytes,
        (&p.in_dims, &p.out_dims),
        &p.block,
        sizes,
    )?;
    batch_to_space(p, input, output).ok_or(Error::InvalidLayer {
        layer,
        reason: "batch to space outside its buffers",
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrite_core::TensorId;

    #[test]
    fn space_to_batch_pads_with_the_pad_byte_and_batch_to_space_inverts() {
        // [1, 2, 3, 1] with block [2, 2] and one row of padding above and below, one
        // column on the right: padded 4 x 4, output [4, 2, 2, 1].
        let s2b = SpaceToBatch {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: 1,
            in_dims: [1, 2, 3, 1],
            out_dims: [4, 2, 2, 1],
            block: [2, 2],
            pad_top: 1,
            pad_left: 0,
            pad_byte: 0xF9, // int8 zero point -7
        };
        let input = [1u8, 2, 3, 4, 5, 6];
        let mut out = [0u8; 16];
        space_to_batch(&s2b, &input, &mut out).unwrap();
        const P: u8 = 0xF9;
        // Padded image rows: [P P P P], [1 2 3 P], [4 5 6 P], [P P P P].
        assert_eq!(out, [P, P, 4, 6, P, P, 5, P, 1, 3, P, P, 2, P, P, P]);
        let b2s = BatchToSpace {
            input: TensorId(1),
            output: TensorId(0),
            elem_bytes: 1,
            in_dims: [4, 2, 2, 1],
            out_dims: [1, 2, 3, 1],
            block: [2, 2],
            crop_top: 1,
            crop_left: 0,
        };
        let mut back = [0u8; 6];
        batch_to_space(&b2s, &out, &mut back).unwrap();
        assert_eq!(back, input);
    }

    #[test]
    fn wide_elements_move_whole() {
        // 3-D [1, 4, 1] f32 with block [2]: rows 0, 2 then 1, 3.
        let s2b = SpaceToBatch {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes: 4,
            in_dims: [1, 4, 1, 1],
            out_dims: [2, 2, 1, 1],
            block: [2, 1],
            pad_top: 0,
            pad_left: 0,
            pad_byte: 0,
        };
        let input: [u8; 16] = core::array::from_fn(|i| i as u8);
        let mut out = [0u8; 16];
        space_to_batch(&s2b, &input, &mut out).unwrap();
        assert_eq!(out[..4], input[..4]);
        assert_eq!(out[4..8], input[8..12]);
        assert_eq!(out[8..12], input[4..8]);
        assert_eq!(out[12..], input[12..]);
    }

    proptest::proptest! {
        /// Arbitrary shapes never panic the reference walks: they finish or report `None`.
        #[test]
        fn hostile_shapes_never_panic(
            in_dims in proptest::array::uniform4(0u32..5),
            out_dims in proptest::array::uniform4(0u32..5),
            block in proptest::array::uniform2(1u32..4),
            pads in (0u32..4, 0u32..4),
            eb in proptest::sample::select(&[1u32, 2, 4, 8][..]),
            n_in in 0usize..64,
            n_out in 0usize..64,
        ) {
            let input = [7u8; 64];
            let mut output = [0u8; 64];
            let s2b = SpaceToBatch {
                input: TensorId(0), output: TensorId(1), elem_bytes: eb, in_dims, out_dims,
                block, pad_top: pads.0, pad_left: pads.1, pad_byte: 0,
            };
            let _ = space_to_batch(&s2b, &input[..n_in], &mut output[..n_out]);
            let b2s = BatchToSpace {
                input: TensorId(0), output: TensorId(1), elem_bytes: eb, in_dims, out_dims,
                block, crop_top: pads.0, crop_left: pads.1,
            };
            let _ = batch_to_space(&b2s, &input[..n_in], &mut output[..n_out]);
        }
    }
}
