//! Int8 MAX_POOL_2D / AVERAGE_POOL_2D with the channels innermost, so the compiler
//! vectorizes the window sums with the instruction set of the calling function.
//!
//! Bit-exact with [`pool_i8`]: the same wrapping 32-bit sums and maxima, and the average's
//! rounding division `(sum ± count / 2) / count` truncated toward zero computed in `f64`,
//! which is exact here: the numerator is below 2^32 in magnitude, so the correctly rounded
//! quotient is within `2^-21 / count` of the true one while a non-integer quotient is at least
//! `1 / count` away from the next integer.

use crate::ops::pool::{check_activations, check_pool_geometry, clip, empty_window, pool_i8};
use crate::util::expect_op;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, PoolI8, PoolKind};
use ferrite_core::{Ctx, Result};

/// Most channels the fast path keeps sums for (on the stack).
const MAX_CHANNELS: usize = 2048;

/// Kernel entry for [`Op::PoolI8`] on AVX-512.
pub(crate) fn run_pool_i8_avx512(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx512Vnni` (see the module docs).
    run(ctx, op, |p, i, o| unsafe { pool_avx512(p, i, o) })
}
/// Kernel entry for [`Op::PoolI8`] on AVX2.
pub(crate) fn run_pool_i8_avx2(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Avx2` (see the module docs).
    run(ctx, op, |p, i, o| unsafe { pool_avx2(p, i, o) })
}
/// Kernel entry for [`Op::PoolI8`] on SSE4.1.
pub(crate) fn run_pool_i8_sse41(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    // SAFETY: this entry is handed out only for `Isa::Sse41` (see the module docs).
    run(ctx, op, |p, i, o| unsafe { pool_sse41(p, i, o) })
}

fn run(ctx: &mut Ctx<'_>, op: &Op, fast: fn(&PoolI8, &[i8], &mut [i8]) -> bool) -> Result<()> {
    let p = expect_op!(ctx, op, PoolI8);
    let layer = ctx.layer;
    check_pool_geometry(ctx, &p.geom)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i8] = inputs.get(p.input)?;
    let output: &mut [i8] = cast_out(layer, out)?;
    check_activations(layer, &p.geom, input.len(), output.len())?;
    let ok = if p.geom.channels as usize <= MAX_CHANNELS {
        fast(p, input, output)
    } else {
        pool_i8(p, input, output)
    };
    if !ok {
        return Err(empty_window(layer));
    }
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn pool_avx512(p: &PoolI8, input: &[i8], output: &mut [i8]) -> bool {
    pool(p, input, output)
}
#[target_feature(enable = "avx2,fma")]
unsafe fn pool_avx2(p: &PoolI8, input: &[i8], output: &mut [i8]) -> bool {
    pool(p, input, output)
}
#[target_feature(enable = "sse4.1")]
unsafe fn pool_sse41(p: &PoolI8, input: &[i8], output: &mut [i8]) -> bool {
    pool(p, input, output)
}

/// [`pool_i8`] with the channel loop innermost; `channels <= MAX_CHANNELS` and slices as
/// the kernel entry checks them.
#[inline(always)]
fn pool(p: &PoolI8, input: &[i8], output: &mut [i8]) -> bool {
    let g = &p.geom;
    let (in_h, in_w, ch) = (g.in_h as usize, g.in_w as usize, g.channels as usize);
    let (out_h, out_w) = (g.out_h as usize, g.out_w as usize);
    let mut acc = [0i32; MAX_CHANNELS];
    let acc = &mut acc[..ch];
    for b in 0..g.batches as usize {
        for oy in 0..out_h {
            let rows = clip(oy, g.stride_h, g.pad_top, g.filter_h, g.in_h);
            for ox in 0..out_w {
                let cols = clip(ox, g.stride_w, g.pad_left, g.filter_w, g.in_w);
                let out = &mut output[((b * out_h + oy) * out_w + ox) * ch..][..ch];
                match p.kind {
                    PoolKind::Max => {
                        acc.fill(i8::MIN as i32);
                        for iy in rows.clone() {
                            for ix in cols.clone() {
                                let src = &input[((b * in_h + iy) * in_w + ix) * ch..][..ch];
                                for (a, &x) in acc.iter_mut().zip(src) {
                                    *a = (*a).max(x as i32);
                                }
                            }
                        }
                        let (lo, hi) = (p.act_min as i8, p.act_max as i8);
                        for (o, &a) in out.iter_mut().zip(acc.iter()) {
                            *o = (a as i8).max(lo).min(hi);
                        }
                    }
                    PoolKind::Average => {
                        let count = (rows.len() * cols.len()) as i64;
                        if count == 0 {
                            return false;
                        }
                        acc.fill(0);
                        for iy in rows.clone() {
                            for ix in cols.clone() {
                                let src = &input[((b * in_h + iy) * in_w + ix) * ch..][..ch];
                                for (a, &x) in acc.iter_mut().zip(src) {
                                    *a = a.wrapping_add(x as i32);
                                }
                            }
                        }
                        let (half, div) = (count / 2, count as f64);
                        let (lo, hi) = (p.act_min as i64, p.act_max as i64);
                        for (o, &a) in out.iter_mut().zip(acc.iter()) {
                            let a = a as i64;
                            let n = if a > 0 { a + half } else { a - half };
                            let avg = (n as f64 / div) as i64;
                            *o = avg.max(lo).min(hi) as i8;
                        }
                    }
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::x86::testing::{isas, Rng};
    use crate::arch::Isa;
    use ferrite_core::ops::PoolGeometry;
    use ferrite_core::TensorId;
    use proptest::prelude::*;
    extern crate std;
    use std::vec::Vec;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn pool_is_bit_exact(
            (batches, in_h, in_w, ch) in (1u32..3, 1u32..10, 1u32..10, 1u32..70),
            (fh, fw, sh, sw, pt, pl) in (1u32..5, 1u32..5, 1u32..3, 1u32..3, 0u32..2, 0u32..2),
            (amin, amax, max) in (-128i32..0, 0i32..128, any::<bool>()),
            seed in any::<u64>(),
        ) {
            let out_h = (in_h + 2 * pt).saturating_sub(fh) / sh + 1;
            let out_w = (in_w + 2 * pl).saturating_sub(fw) / sw + 1;
            let p = PoolI8 {
                input: TensorId(0), output: TensorId(1),
                kind: if max { PoolKind::Max } else { PoolKind::Average },
                geom: PoolGeometry { batches, in_h, in_w, channels: ch, out_h, out_w,
                    filter_h: fh, filter_w: fw, stride_h: sh, stride_w: sw, pad_top: pt, pad_left: pl },
                act_min: amin, act_max: amax,
            };
            let mut rng = Rng(seed | 1);
            let input: Vec<i8> = (0..batches * in_h * in_w * ch).map(|_| rng.next() as i8).collect();
            let n_out = (batches * out_h * out_w * ch) as usize;
            let mut want = std::vec![0i8; n_out];
            let ok = pool_i8(&p, &input, &mut want);
            for isa in isas() {
                let mut got = std::vec![0i8; n_out];
                // SAFETY: `isas()` lists only instruction sets this CPU has.
                let got_ok = unsafe {
                    match isa {
                        Isa::Avx512Vnni => pool_avx512(&p, &input, &mut got),
                        Isa::Avx2 => pool_avx2(&p, &input, &mut got),
                        Isa::Sse41 => pool_sse41(&p, &input, &mut got),
                        _ => unreachable!(),
                    }
                };
                prop_assert_eq!(got_ok, ok);
                if ok {
                    prop_assert_eq!(&got, &want, "{}", isa);
                }
            }
        }
    }
}
