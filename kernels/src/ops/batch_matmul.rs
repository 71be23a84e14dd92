//! BATCH_MATMUL, float32, int8 and int16 (TFLM `reference_ops::BatchMatMul`).
//!
//! TFLM transposes the right operand (and, with `adj_x`, the left one) into persistent
//! buffers so its loops read both along the dot product. Here the loops follow the stored
//! layout instead, so nothing is copied:
//!
//! * right matrices stored `[depth, cols]` (the usual, no `adj_y`): for each output row and
//!   run of at most [`CHUNK`] columns, the run's accumulators (on the stack) take one
//!   contiguous row of the right matrix per `k`;
//! * right matrices stored `[cols, depth]` (`adj_y`): one dot product per output along a
//!   contiguous row of the right matrix.
//!
//! Either way each output adds its products in order of `k` starting from zero, as TFLM
//! does, so float results are bit-identical; the left element of each product is read at
//! `[i, k]` or (with `adj_x`) `[k, i]`.
//!
//! Int8 follows TFLM's `BatchMatMul<int8_t, int32_t>` with FULLY_CONNECTED's output stage
//! (see [`BatchMatMulI8`]), int16 its `BatchMatMul<int16_t, int64_t>` (see [`BatchMatMulI16`]).

use super::conv::multiply_by_quantized_multiplier_i64;
use crate::util::{check_len, expect_op, product};
use ferrite_core::fixed::multiply_by_quantized_multiplier;
use ferrite_core::model::{cast_out, Inputs};
use ferrite_core::ops::{
    BatchMatMulF32, BatchMatMulI16, BatchMatMulI8, MatMulGeom, MatrixSource, Op, MATMUL_BATCH_AXES,
};
use ferrite_core::{Ctx, Error, Result, TensorId};

/// Output columns accumulated at once (their sums live on the stack).
const CHUNK: usize = 32;

/// Runs every matrix product of `g`: `mac(acc, lhs, rhs)` folds one product into an
/// accumulator started at `zero`, `finish` turns the accumulator into the output.
///
/// Returns `false` (having written a prefix) if a matrix lies outside its operand or the
/// output does not hold `product(batch) * rows * cols` elements; the entries check both.
///
/// `lm` holds `rows * depth` and `rm` `cols * depth` elements; every index is `i * depth + k`
/// or `k * rows + i` with `i < rows`, `k < depth`, or `j * depth + k` / `k * cols + j` with
/// `j < cols`, so it is below those lengths. They are read with `get` all the same (`false`
/// should one not be), so that no panic path is linked.
fn matmul<T: Copy, A: Copy>(
    g: &MatMulGeom,
    lhs: &[T],
    rhs: &[T],
    output: &mut [T],
    zero: A,
    mac: impl Fn(A, T, T) -> A,
    finish: impl Fn(A) -> T,
) -> bool {
    matmul_checked(g, lhs, rhs, output, zero, mac, finish).is_some()
}

/// [`matmul`], `None` for `false`.
fn matmul_checked<T: Copy, A: Copy>(
    g: &MatMulGeom,
    lhs: &[T],
    rhs: &[T],
    output: &mut [T],
    zero: A,
    mac: impl Fn(A, T, T) -> A,
    finish: impl Fn(A) -> T,
) -> Option<()> {
    let (rows, cols, depth) = (g.rows as usize, g.cols as usize, g.depth as usize);
    // Saturating: on 32-bit targets a corrupted geometry must fail the `get`s below, not
    // overflow.
    let lhs_size = rows.saturating_mul(depth);
    let rhs_size = cols.saturating_mul(depth);
    let out_size = rows.saturating_mul(cols);
    let batches = product(&g.batch);
    if out_size == 0 || batches == 0 {
        return output.is_empty().then_some(());
    }
    if cols == 0 {
        return None;
    }
    let mut outs = output.chunks_exact_mut(out_size);
    let mut idx = [0usize; MATMUL_BATCH_AXES];
    for _ in 0..batches {
        let offset = |step: &[u32; MATMUL_BATCH_AXES]| -> usize {
            (idx.iter().zip(step))
                .map(|(&i, &s)| i.saturating_mul(s as usize))
                .fold(0usize, usize::saturating_add)
        };
        let (lo, ro) = (offset(&g.lhs_step), offset(&g.rhs_step));
        let (Some(lm), Some(rm), Some(om)) = (
            lhs.get(lo..lo.saturating_add(lhs_size)),
            rhs.get(ro..ro.saturating_add(rhs_size)),
            outs.next(),
        ) else {
            return None;
        };
        let l_at = |i: usize, k: usize| {
            if g.adj_x {
                lm.get(k * rows + i).copied()
            } else {
                lm.get(i * depth + k).copied()
            }
        };
        for (i, out_row) in om.chunks_exact_mut(cols).enumerate() {
            if g.adj_y {
                for (j, o) in out_row.iter_mut().enumerate() {
                    let r_row = rm.get(j * depth..(j + 1) * depth)?;
                    let mut acc = zero;
                    for (k, &r) in r_row.iter().enumerate() {
                        acc = mac(acc, l_at(i, k)?, r);
                    }
                    *o = finish(acc);
                }
            } else {
                for (c, out_run) in out_row.chunks_mut(CHUNK).enumerate() {
                    let j0 = c * CHUNK;
                    let width = out_run.len();
                    let mut acc = [zero; CHUNK];
                    let acc = acc.get_mut(..width)?;
                    for k in 0..depth {
                        let l = l_at(i, k)?;
                        let r_run = rm.get(k * cols + j0..k * cols + j0 + width)?;
                        for (a, &r) in acc.iter_mut().zip(r_run) {
                            *a = mac(*a, l, r);
                        }
                    }
                    for (o, &a) in out_run.iter_mut().zip(acc.iter()) {
                        *o = finish(a);
                    }
                }
            }
        }
        // Next batch index, last axis fastest.
        for (i, &n) in idx.iter_mut().zip(&g.batch).rev() {
            *i += 1;
            if *i < n as usize {
                break;
            }
            *i = 0;
        }
    }
    Some(())
}

/// Reference float BATCH_MATMUL.
pub fn batch_matmul_f32(p: &BatchMatMulF32, lhs: &[f32], rhs: &[f32], output: &mut [f32]) -> bool {
    matmul(
        &p.geom,
        lhs,
        rhs,
        output,
        0.0f32,
        |a, l, r| a + l * r,
        |a| a,
    )
}

/// Reference int8 BATCH_MATMUL (see [`BatchMatMulI8`]).
pub fn batch_matmul_i8(p: &BatchMatMulI8, lhs: &[i8], rhs: &[i8], output: &mut [i8]) -> bool {
    let (lo, ro) = (p.lhs_offset, p.rhs_offset);
    matmul(
        &p.geom,
        lhs,
        rhs,
        output,
        0i32,
        |a, l, r| a.wrapping_add((l as i32 + lo).wrapping_mul(r as i32 + ro)),
        |a| {
            let v = multiply_by_quantized_multiplier(a, p.multiplier, p.shift)
                .wrapping_add(p.output_offset);
            v.clamp(i8::MIN as i32, i8::MAX as i32) as i8
        },
    )
}

/// Reference int16 BATCH_MATMUL (see [`BatchMatMulI16`]).
pub fn batch_matmul_i16(p: &BatchMatMulI16, lhs: &[i16], rhs: &[i16], output: &mut [i16]) -> bool {
    matmul(
        &p.geom,
        lhs,
        rhs,
        output,
        0i64,
        // |l * r| <= 2^30: an i64 sum of them cannot overflow for any realistic depth.
        |a, l, r| a.wrapping_add(l as i64 * r as i64),
        |a| {
            multiply_by_quantized_multiplier_i64(a, p.multiplier, p.shift)
                .clamp(i16::MIN as i32, i16::MAX as i32) as i16
        },
    )
}

/// An operand resolved before the arena is split: a constant is looked up right away.
enum Operand<'r, T> {
    Const(&'r [T]),
    Tensor(TensorId),
}

impl<'r, T: bytemuck::Pod> Operand<'r, T> {
    fn resolve(ctx: &Ctx<'r>, source: MatrixSource<T>) -> Result<Self> {
        Ok(match source {
            MatrixSource::Const(r) => Operand::Const(ctx.consts(r)?),
            MatrixSource::Tensor(id) => Operand::Tensor(id),
        })
    }

    /// The operand's elements, from the constant blob or the readable arena.
    fn elements<'x>(self, inputs: &Inputs<'x>) -> Result<&'x [T]>
    where
        'r: 'x,
    {
        match self {
            Operand::Const(c) => Ok(c),
            Operand::Tensor(id) => inputs.get(id),
        }
    }
}

/// Checks that every matrix of both operands lies inside them and the output holds exactly
/// the products.
fn check_sizes(layer: u16, g: &MatMulGeom, lhs: usize, rhs: usize, output: usize) -> Result<()> {
    let err = |reason| Error::InvalidLayer { layer, reason };
    let batches = product(&g.batch);
    let (rows, cols, depth) = (g.rows as u64, g.cols as u64, g.depth as u64);
    check_len(
        layer,
        output as u64,
        batches.saturating_mul(rows).saturating_mul(cols),
        "matmul output size does not match batch * rows * cols",
    )?;
    if batches == 0 || rows.saturating_mul(cols) == 0 {
        return Ok(());
    }
    // The farthest matrix each operand is read at, plus one matrix.
    let reach = |step: &[u32; MATMUL_BATCH_AXES], size: u64| {
        let last: u64 = (g.batch.iter().zip(step))
            .map(|(&n, &s)| (n as u64 - 1).saturating_mul(s as u64))
            .fold(0u64, u64::saturating_add);
        last.saturating_add(size)
    };
    if reach(&g.lhs_step, rows.saturating_mul(depth)) > lhs as u64 {
        return Err(err("matmul left operand smaller than its matrices"));
    }
    if reach(&g.rhs_step, cols.saturating_mul(depth)) > rhs as u64 {
        return Err(err("matmul right operand smaller than its matrices"));
    }
    Ok(())
}

/// The body every BATCH_MATMUL entry shares: resolves both operands, checks the sizes and
/// runs `product`, which returns `false` if a matrix lies outside its operand.
fn run_matmul<T: bytemuck::Pod>(
    ctx: &mut Ctx<'_>,
    (lhs, rhs, output): (MatrixSource<T>, MatrixSource<T>, TensorId),
    geom: &MatMulGeom,
    product: impl FnOnce(&[T], &[T], &mut [T]) -> bool,
) -> Result<()> {
    let lhs = Operand::resolve(ctx, lhs)?;
    let rhs = Operand::resolve(ctx, rhs)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(output)?;
    let lhs = lhs.elements(&inputs)?;
    let rhs = rhs.elements(&inputs)?;
    let output: &mut [T] = cast_out(layer, out)?;
    check_sizes(layer, geom, lhs.len(), rhs.len(), output.len())?;
    if !product(lhs, rhs, output) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "matmul outside its operands",
        });
    }
    Ok(())
}

/// Kernel entry for [`Op::BatchMatMulF32`].
pub fn run_batch_matmul_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, BatchMatMulF32);
    run_matmul(ctx, (p.lhs, p.rhs, p.output), &p.geom, |l, r, o| {
        batch_matmul_f32(p, l, r, o)
    })
}

/// Kernel entry for [`Op::BatchMatMulI8`].
pub fn run_batch_matmul_i8(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, BatchMatMulI8);
    if !(-31..=31).contains(&p.shift) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    run_matmul(ctx, (p.lhs, p.rhs, p.output), &p.geom, |l, r, o| {
        batch_matmul_i8(p, l, r, o)
    })
}

/// Kernel entry for [`Op::BatchMatMulI16`].
pub fn run_batch_matmul_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, BatchMatMulI16);
    if !(-31..=7).contains(&p.shift) {
        return Err(ctx.error("multiplier shift out of range"));
    }
    run_matmul(ctx, (p.lhs, p.rhs, p.output), &p.geom, |l, r, o| {
        batch_matmul_i16(p, l, r, o)
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    extern crate std;
    use super::*;
    use ferrite_core::{Arena, ConstRef, DType, Layer, Model, Shape, Tensor};
    use std::vec;
    use std::vec::Vec;

    fn geom(rows: u32, cols: u32, depth: u32, adj_x: bool, adj_y: bool) -> MatMulGeom {
        MatMulGeom {
            batch: [1, 1, 2],
            lhs_step: [0, 0, rows * depth],
            // The right operand broadcasts over the batch.
            rhs_step: [0, 0, 0],
            rows,
            cols,
            depth,
            adj_x,
            adj_y,
        }
    }

    /// `m` (`r x c`, row-major) transposed.
    fn transposed(m: &[f32], r: usize, c: usize) -> Vec<f32> {
        (0..r * c).map(|n| m[(n % r) * c + n / r]).collect()
    }

    #[test]
    fn every_layout_gives_the_same_products() {
        let (rows, cols, depth) = (3usize, 37usize, 5usize);
        let lhs: Vec<f32> = (0..2 * rows * depth)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let rhs: Vec<f32> = (0..depth * cols).map(|i| (i as f32 * 0.11).cos()).collect();
        // Naive products, k ascending from 0.0 as TFLM sums.
        let mut want = vec![0f32; 2 * rows * cols];
        for b in 0..2 {
            for i in 0..rows {
                for j in 0..cols {
                    let mut acc = 0f32;
                    for k in 0..depth {
                        acc += lhs[b * rows * depth + i * depth + k] * rhs[k * cols + j];
                    }
                    want[b * rows * cols + i * cols + j] = acc;
                }
            }
        }
        let lhs_t: Vec<f32> = lhs
            .chunks(rows * depth)
            .flat_map(|m| transposed(m, rows, depth))
            .collect();
        let rhs_t = transposed(&rhs, depth, cols);
        for (adj_x, adj_y) in [(false, false), (true, false), (false, true), (true, true)] {
            let l = if adj_x { &lhs_t } else { &lhs };
            let r = if adj_y { &rhs_t } else { &rhs };
            let p = BatchMatMulF32 {
                lhs: MatrixSource::Tensor(TensorId(0)),
                rhs: MatrixSource::Tensor(TensorId(1)),
                output: TensorId(2),
                geom: geom(rows as u32, cols as u32, depth as u32, adj_x, adj_y),
            };
            let mut out = vec![0f32; want.len()];
            assert!(batch_matmul_f32(&p, l, r, &mut out));
            assert_eq!(out, want, "adj_x {adj_x} adj_y {adj_y}");
        }
    }

    #[test]
    fn int8_applies_offsets_and_the_output_stage() {
        // [1, 2] x [2, 1] with zero points 1 (lhs) and -2 (rhs): (3-1)(4+2) + (5-1)(-2+2) = 12,
        // times 0.5 (multiplier 2^30, shift 0) = 6, plus output zero point 10.
        let p = BatchMatMulI8 {
            lhs: MatrixSource::Tensor(TensorId(0)),
            rhs: MatrixSource::Tensor(TensorId(1)),
            output: TensorId(2),
            geom: MatMulGeom {
                batch: [1, 1, 1],
                lhs_step: [0; 3],
                rhs_step: [0; 3],
                rows: 1,
                cols: 1,
                depth: 2,
                adj_x: false,
                adj_y: false,
            },
            lhs_offset: -1,
            rhs_offset: 2,
            output_offset: 10,
            multiplier: 1 << 30,
            shift: 0,
        };
        let mut out = [0i8];
        assert!(batch_matmul_i8(&p, &[3, 5], &[4, -2], &mut out));
        assert_eq!(out, [16]);
    }

    fn tensor(offset: u32, dtype: DType, n: u32) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(&[n]),
            scale: 0.0,
            zero_point: 0,
        }
    }

    #[test]
    fn constant_operands_are_read_in_place() {
        // rhs [2, 2] from the constant blob: [[1, 2], [3, 4]].
        let consts: Vec<u8> = [1f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let tensors = [tensor(0, DType::F32, 2), tensor(16, DType::F32, 2)];
        let p = BatchMatMulF32 {
            lhs: MatrixSource::Tensor(TensorId(0)),
            rhs: MatrixSource::Const(ConstRef::new(0, 4)),
            output: TensorId(1),
            geom: MatMulGeom {
                batch: [1, 1, 1],
                lhs_step: [0; 3],
                rhs_step: [0; 3],
                rows: 1,
                cols: 2,
                depth: 2,
                adj_x: false,
                adj_y: false,
            },
        };
        let layers = [Layer {
            op: Op::BatchMatMulF32(p),
            kernel: run_batch_matmul_f32,
            name: "BATCH_MATMUL",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &consts,
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 64,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<64>::new();
        let out: &[f32] = model.run(arena.as_mut_slice(), &[1.0f32, 10.0]).unwrap();
        assert_eq!(out, &[31.0, 42.0]);
    }

    proptest::proptest! {
        /// Arbitrary geometry never panics: the entry runs or reports an invalid layer.
        #[test]
        fn hostile_matmul_never_panics(
            batch in proptest::array::uniform3(proptest::prop_oneof![0u32..3, proptest::num::u32::ANY]),
            lhs_step in proptest::array::uniform3(proptest::prop_oneof![0u32..8, proptest::num::u32::ANY]),
            rhs_step in proptest::array::uniform3(proptest::prop_oneof![0u32..8, proptest::num::u32::ANY]),
            dims in (0u32..5, 0u32..5, proptest::prop_oneof![0u32..5, proptest::num::u32::ANY]),
            adj in (proptest::bool::ANY, proptest::bool::ANY),
            lens in (0u32..24, 0u32..24, 0u32..24),
            shift in -40i32..40,
        ) {
            let tensors = [
                tensor(0, DType::I8, lens.0),
                tensor(32, DType::I8, lens.1),
                tensor(64, DType::I8, lens.2),
            ];
            let p = BatchMatMulI8 {
                lhs: MatrixSource::Tensor(TensorId(0)),
                rhs: MatrixSource::Tensor(TensorId(1)),
                output: TensorId(2),
                geom: MatMulGeom {
                    batch, lhs_step, rhs_step, rows: dims.0, cols: dims.1, depth: dims.2,
                    adj_x: adj.0, adj_y: adj.1,
                },
                lhs_offset: 3,
                rhs_offset: -1,
                output_offset: 0,
                multiplier: 1 << 30,
                shift,
            };
            let layers = [Layer { op: Op::BatchMatMulI8(p), kernel: run_batch_matmul_i8, name: "BATCH_MATMUL" }];
            let model = Model {
                tensors: &tensors,
                layers: &layers,
                consts: &[],
                inputs: &[TensorId(0)],
                outputs: &[TensorId(2)],
                arena_bytes: 128,
                state: ferrite_core::StatePlan::NONE,
            };
            let mut arena = Arena::<128>::new();
            match model.invoke(arena.as_mut_slice()) {
                Ok(()) | Err(Error::InvalidLayer { .. }) => {}
                Err(e) => proptest::prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }
}
