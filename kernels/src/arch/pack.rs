//! The packed constant layout of [`ferrite_core::ops::Conv2dI8Packed`], computed by the
//! converter (portable code: it runs wherever the converter runs).
//!
//! Weights go in blocks of 16 output channels; within a block, each step of 4 accumulation
//! indices holds 16 channels × 4 bytes, so one 64-byte load feeds a `vpdpbusd` (16 lanes × 4
//! products), two 32-byte halves feed AVX2, four 16-byte quarters feed SSE4.1 or NEON.
//!
//! The accumulation indices of each kernel row (`k_w * in_c` taps, contiguous in an NHWC input
//! row) are padded with zero weights to a multiple of 4, so a kernel row starts on a step: a
//! direct convolution reads each row's run of the input in place, 4 bytes per step (the up to
//! 3 bytes it reads past a run meet zero weights).

use ferrite_core::ops::{Conv2dF32, Conv2dI8, ConvGeometry};

/// Output channels per packed block.
pub const BLOCK: usize = 16;

/// The 4-deep accumulation steps of one kernel row: `ceil(k_w * in_c / 4)`, or `None` if the
/// size overflows.
pub fn packed_row_k4(g: &ConvGeometry) -> Option<usize> {
    Some((g.k_w as usize).checked_mul(g.in_c as usize)?.div_ceil(4))
}

/// `(blocks, k4)`: the number of 16-channel blocks and of 4-deep accumulation steps
/// (`k_h` rows of [`packed_row_k4`]) of a dense convolution, or `None` if the sizes overflow.
pub fn packed_conv_dims(g: &ConvGeometry) -> Option<(usize, usize)> {
    let k4 = (g.k_h as usize).checked_mul(packed_row_k4(g)?)?;
    // The padded depth must stay addressable in bytes.
    k4.checked_mul(4)?;
    Some(((g.out_c as usize).div_ceil(BLOCK), k4))
}

/// `(weights, bias)`: the lengths of the packed weights (`i8`) and folded bias (`i32`).
pub fn packed_conv_lens(g: &ConvGeometry) -> Option<(usize, usize)> {
    let (blocks, k4) = packed_conv_dims(g)?;
    Some((
        blocks.checked_mul(k4)?.checked_mul(BLOCK * 4)?,
        blocks * BLOCK,
    ))
}

/// Fills `packed` and `folded` (sized by [`packed_conv_lens`]) from a dense convolution's
/// `weights` (`[out_c, k_h, k_w, in_c]`) and `bias` (empty or per output channel).
///
/// Returns `false`, touching nothing, when the convolution is grouped or a slice does not
/// have the length its geometry implies.
pub fn pack_conv2d_i8(
    p: &Conv2dI8,
    weights: &[i8],
    bias: &[i32],
    packed: &mut [i8],
    folded: &mut [i32],
) -> bool {
    let g = &p.geom;
    let (Some((_, k4)), Some((wlen, blen))) = (packed_conv_dims(g), packed_conv_lens(g)) else {
        return false;
    };
    let out_c = g.out_c as usize;
    // No overflow: `packed_conv_dims` checked `k_h * ceil(k_w * in_c / 4) * 4`.
    let run = g.k_w as usize * g.in_c as usize;
    let k = g.k_h as usize * run;
    let row = run.div_ceil(4) * 4;
    if p.groups != 1
        || weights.len() != out_c * k
        || !(bias.is_empty() || bias.len() == out_c)
        || packed.len() != wlen
        || folded.len() != blen
    {
        return false;
    }
    packed.fill(0);
    folded.fill(0);
    // Activations arrive as `x + 128`: sum w * (x + off) = sum w * (x + 128) + (off - 128) * sum w.
    let fold = p.rq.input_offset.wrapping_sub(128);
    for oc in 0..out_c {
        let (block, lane) = (oc / BLOCK, oc % BLOCK);
        let mut sum: i32 = 0;
        for (i, &w) in weights[oc * k..(oc + 1) * k].iter().enumerate() {
            // Tap `i` of kernel row `i / run` goes to index `j` of the row-padded depth.
            let j = i / run * row + i % run;
            packed[(block * k4 + j / 4) * BLOCK * 4 + lane * 4 + j % 4] = w;
            sum = sum.wrapping_add(w as i32);
        }
        folded[oc] = bias
            .get(oc)
            .copied()
            .unwrap_or(0)
            .wrapping_add(fold.wrapping_mul(sum));
    }
    true
}

/// The length of the packed weights (`f32`) of a dense float convolution
/// ([`ferrite_core::ops::Conv2dF32Packed`]): `ceil(out_c / 16) * 16 * K`, or `None` if the
/// size overflows.
pub fn packed_conv_f32_len(g: &ConvGeometry) -> Option<usize> {
    let k = (g.k_h as usize)
        .checked_mul(g.k_w as usize)?
        .checked_mul(g.in_c as usize)?;
    (g.out_c as usize)
        .div_ceil(BLOCK)
        .checked_mul(BLOCK)?
        .checked_mul(k)
}

/// Fills `packed` (sized by [`packed_conv_f32_len`]) from a dense float convolution's
/// `weights` (`[out_c, k_h, k_w, in_c]`): `[block][k][16]`, zero past `out_c`.
///
/// Returns `false`, touching nothing, when the convolution is grouped, a weight is not finite
/// (the SIMD kernels multiply padding taps by zero, which the reference skips: `inf * 0` would
/// differ) or a slice does not have the length its geometry implies.
pub fn pack_conv2d_f32(p: &Conv2dF32, weights: &[f32], packed: &mut [f32]) -> bool {
    let g = &p.geom;
    let Some(len) = packed_conv_f32_len(g) else {
        return false;
    };
    let out_c = g.out_c as usize;
    // No overflow: `packed_conv_f32_len` checked it.
    let k = g.k_h as usize * g.k_w as usize * g.in_c as usize;
    if p.groups != 1
        || weights.len() != out_c * k
        || packed.len() != len
        || weights.iter().any(|w| !w.is_finite())
    {
        return false;
    }
    packed.fill(0.0);
    for (oc, row) in weights.chunks_exact(k.max(1)).enumerate().take(out_c) {
        let (block, lane) = (oc / BLOCK, oc % BLOCK);
        for (i, &w) in row.iter().enumerate() {
            packed[(block * k + i) * BLOCK + lane] = w;
        }
    }
    true
}
