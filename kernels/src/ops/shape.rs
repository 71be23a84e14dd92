//! CONCATENATION, PAD and plain copies: pure data movement, any element type.
//!
//! None of these requantize. TFLite Micro copies int8 data as raw bytes too, and refuses
//! (in `Prepare`) int8 concatenations whose inputs are not quantized like the output; for PAD it
//! fills with the output zero point (int8) or `0` unless a constant is given. The converter
//! resolves those choices into the [`Pad`] value bytes.

use crate::util::{check_len, expect_op};
use ferrite_core::ops::{Op, Pad};
use ferrite_core::{Ctx, Result, TensorId};

/// Copies one concatenation input into its column of the output (TFLM
/// `reference_ops::Concatenation`, one input at a time).
///
/// The output is `outer` rows of `row` bytes; the input is `outer` rows of `chunk` bytes that
/// land at byte `offset` of each output row. Requires `offset + chunk <= row`,
/// `input.len() == outer * chunk` and `output.len() == outer * row`.
pub fn concat_part(input: &[u8], chunk: usize, row: usize, offset: usize, output: &mut [u8]) {
    let Some(end) = offset.checked_add(chunk) else {
        return;
    };
    if chunk == 0 || row == 0 {
        return;
    }
    for (src, dst) in input.chunks_exact(chunk).zip(output.chunks_exact_mut(row)) {
        if let Some(dst) = dst.get_mut(offset..end) {
            dst.copy_from_slice(src);
        }
    }
}

/// Kernel entry for [`Op::Concat`]: copies every input's chunk of each outer step, in input
/// order, into the output.
pub fn run_concat(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Concat);
    let ids = ctx.consts(p.inputs)?;
    let chunks = ctx.consts(p.chunk_bytes)?;
    if ids.len() != chunks.len() {
        return Err(ctx.error("need one chunk size per concatenation input"));
    }
    let layer = ctx.layer;
    // Saturating: no real output is 2^64 bytes long, so a saturated size fails the check.
    let row = chunks
        .iter()
        .fold(0u64, |acc, &c| acc.saturating_add(c as u64));
    let outer = p.outer as u64;
    let (inputs, output) = ctx.split(p.output)?;
    check_len(
        layer,
        output.len() as u64,
        outer.saturating_mul(row),
        "output size does not match the concatenation",
    )?;
    // Both sizes fit in usize: `row * outer` is the output's length (or `outer` is 0, in which
    // case nothing is copied).
    let row_bytes = row as usize;
    let mut offset = 0usize;
    for (&id, &chunk) in ids.iter().zip(chunks) {
        let input = inputs.bytes(TensorId(id))?;
        check_len(
            layer,
            input.len() as u64,
            outer * chunk as u64,
            "input size does not match its chunk",
        )?;
        concat_part(input, chunk as usize, row_bytes, offset, output);
        offset += chunk as usize;
    }
    Ok(())
}

/// The output shape of a [`Pad`], or `None` if it overflows `u32`.
fn padded_dims(p: &Pad) -> Option<[u32; 4]> {
    let mut out = [0u32; 4];
    let sides = p.in_dims.iter().zip(&p.before).zip(&p.after);
    for (o, ((&d, &before), &after)) in out.iter_mut().zip(sides) {
        *o = d.checked_add(before)?.checked_add(after)?;
    }
    Some(out)
}

/// Number of elements of a 4-D shape, in `u64` (cannot overflow: four `u32` factors would,
/// so the product saturates, which no real buffer matches).
fn elements(dims: &[u32; 4]) -> u64 {
    dims.iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
}

/// Fills `dst` with copies of the element `value`.
#[inline]
fn fill(dst: &mut [u8], value: &[u8]) {
    if let [byte] = *value {
        dst.fill(byte);
        return;
    }
    if value.is_empty() {
        return;
    }
    for d in dst.chunks_exact_mut(value.len()) {
        d.copy_from_slice(value);
    }
}

/// Reference constant padding (TFLM `reference_ops::Pad`): every output element inside the
/// input's window is copied from the input, every other one is `p.value`'s low `elem_bytes`
/// bytes.
///
/// Requires `1 <= p.elem_bytes <= 4`, `input.len() == elements(in_dims) * elem_bytes` and
/// `output.len() == elements(in_dims + before + after) * elem_bytes` (the kernel entry
/// checks).
// Bounds: `k` is an axis, 0 to 2, of 4-entry arrays; `p.value` is sliced to at most its 4
// bytes; `rest` is what follows `left` in a row that holds `left + row_in` bytes (its `get`
// succeeded), so it has at least `row_in`.
#[allow(clippy::indexing_slicing)]
pub fn pad(p: &Pad, input: &[u8], output: &mut [u8]) {
    let Some(out_dims) = padded_dims(p) else {
        return;
    };
    // With every output dimension non-zero, products of dimensions below are bounded by the
    // output's length and cannot overflow.
    if output.is_empty() || out_dims.contains(&0) {
        return;
    }
    let eb = p.elem_bytes as usize;
    let value = &p.value[..eb.min(4)];
    let mut id = p.in_dims.map(|d| d as usize);
    let mut before = p.before.map(|d| d as usize);
    let mut after = p.after.map(|d| d as usize);
    // An unpadded innermost axis merges into its outer neighbour (whose padding then counts
    // whole rows of it): rows get longer and fewer, one copy and one fill each. With every
    // output dimension non-zero the merged sizes are bounded by the buffers' lengths.
    for _ in 0..3 {
        if before[3] == 0 && after[3] == 0 {
            let inner = id[3];
            id = [1, id[0], id[1], id[2].saturating_mul(inner)];
            before = [0, before[0], before[1], before[2].saturating_mul(inner)];
            after = [0, after[0], after[1], after[2].saturating_mul(inner)];
        }
    }
    let mut od = id;
    for k in 0..4 {
        od[k] = id[k].saturating_add(before[k]).saturating_add(after[k]);
    }
    let row_out = od[3] * eb;
    let row_in = id[3] * eb;
    let left = before[3] * eb;
    if row_out == 0 {
        return;
    }
    let inside = |o: usize, k: usize| o >= before[k] && o - before[k] < id[k];
    let mut rows = output.chunks_exact_mut(row_out);
    for o0 in 0..od[0] {
        for o1 in 0..od[1] {
            for o2 in 0..od[2] {
                let Some(dst) = rows.next() else {
                    return;
                };
                if !(inside(o0, 0) && inside(o1, 1) && inside(o2, 2)) {
                    fill(dst, value);
                    continue;
                }
                let (i0, i1, i2) = (o0 - before[0], o1 - before[1], o2 - before[2]);
                let start = ((i0 * id[1] + i1) * id[2] + i2) * row_in;
                // `left + row_in <= row_out` by construction of the output shape.
                let (Some(src), Some(mid)) = (
                    input.get(start..start + row_in),
                    dst.get_mut(left..left + row_in),
                ) else {
                    return;
                };
                mid.copy_from_slice(src);
                let Some((head, rest)) = dst.split_at_mut_checked(left) else {
                    return;
                };
                fill(head, value);
                fill(rest.get_mut(row_in..).unwrap_or_default(), value);
            }
        }
    }
}

/// Kernel entry for [`Op::Pad`].
pub fn run_pad(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Pad);
    if !(1..=4).contains(&p.elem_bytes) {
        return Err(ctx.error("padding element size must be 1 to 4 bytes"));
    }
    let out_dims = padded_dims(p).ok_or(ctx.error("padded shape overflows"))?;
    let eb = p.elem_bytes as u64;
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    check_len(
        layer,
        input.len() as u64,
        elements(&p.in_dims).saturating_mul(eb),
        "input size does not match the padding's input shape",
    )?;
    check_len(
        layer,
        output.len() as u64,
        elements(&out_dims).saturating_mul(eb),
        "output size does not match the padded shape",
    )?;
    pad(p, input, output);
    Ok(())
}

/// Kernel entry for [`Op::Copy`]: the output becomes a byte copy of the input.
pub fn run_copy(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, Copy);
    let layer = ctx.layer;
    let (inputs, output) = ctx.split(p.output)?;
    let input = inputs.bytes(p.input)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "copy input and output differ in size",
    )?;
    output.copy_from_slice(input);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    extern crate std;
    use ferrite_core::ops::{Concat, Copy as CopyOp};
    use ferrite_core::{Arena, ConstRef, DType, Error, Layer, Model, Shape, Tensor};
    use std::vec::Vec;

    fn tensor(offset: u32, dtype: DType, dims: &[u32]) -> Tensor {
        Tensor {
            offset,
            dtype,
            shape: Shape::new(dims),
            scale: 0.5,
            zero_point: 3,
        }
    }

    /// A constant blob aligned like the converter's.
    #[repr(C, align(16))]
    struct Blob([u8; 32]);

    fn pad_op(elem_bytes: u32, in_dims: [u32; 4], before: [u32; 4], after: [u32; 4]) -> Pad {
        Pad {
            input: TensorId(0),
            output: TensorId(1),
            elem_bytes,
            in_dims,
            before,
            after,
            value: [0xAA, 0xBB, 0xCC, 0xDD],
        }
    }

    #[test]
    fn pad_matches_numpy_semantics() {
        // [2, 3] int8 padded by ((1, 0), (2, 1)) with -1.
        let mut p = pad_op(1, [1, 1, 2, 3], [0, 0, 1, 2], [0, 0, 0, 1]);
        p.value = [0xFF, 0, 0, 0];
        let input = [1u8, 2, 3, 4, 5, 6];
        let mut out = [0u8; 18];
        pad(&p, &input, &mut out);
        #[rustfmt::skip]
        assert_eq!(out, [
            255, 255, 255, 255, 255, 255,
            255, 255, 1, 2, 3, 255,
            255, 255, 4, 5, 6, 255,
        ]);
        // f32 [1, 1, 1, 1] padded on every axis: the value is one element of 4 bytes.
        let p = pad_op(4, [1, 1, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]);
        let mut out = [0u8; 4 * 16];
        pad(&p, &7f32.to_le_bytes(), &mut out);
        for (i, e) in out.chunks_exact(4).enumerate() {
            // Output [2, 2, 2, 2]; the input lands at (1, 0, 1, 0) = index 8 + 2 = 10.
            let expected = if i == 10 {
                7f32.to_le_bytes()
            } else {
                [0xAA, 0xBB, 0xCC, 0xDD]
            };
            assert_eq!(e, expected, "element {i}");
        }
    }

    #[test]
    fn concat_interleaves_chunks() {
        let mut out = [0u8; 10];
        // Two rows of 5 bytes: 2 from the first input, 3 from the second.
        concat_part(&[1, 2, 3, 4], 2, 5, 0, &mut out);
        concat_part(&[5, 6, 7, 8, 9, 10], 3, 5, 2, &mut out);
        assert_eq!(out, [1, 2, 5, 6, 7, 3, 4, 8, 9, 10]);
    }

    // Expected values from TFLM (tflite_micro 0.dev20261023182759, throwaway script
    // /tmp/fv/golden_concat.py): CONCATENATION of int8 [2, 1, 2] and [2, 2, 2] on axis 1.
    #[test]
    fn run_concat_through_a_model() {
        let mut blob = Blob([0; 32]);
        // inputs: tensor ids 0 and 1 (u16) at 0; chunk bytes 2 and 4 (u32) at 16.
        blob.0[0..2].copy_from_slice(&0u16.to_le_bytes());
        blob.0[2..4].copy_from_slice(&1u16.to_le_bytes());
        blob.0[16..20].copy_from_slice(&2u32.to_le_bytes());
        blob.0[20..24].copy_from_slice(&4u32.to_le_bytes());
        let tensors = [
            tensor(0, DType::I8, &[2, 1, 2]),
            tensor(16, DType::I8, &[2, 2, 2]),
            tensor(32, DType::I8, &[2, 3, 2]),
        ];
        let layers = [Layer {
            op: Op::Concat(Concat {
                inputs: ConstRef::new(0, 2),
                chunk_bytes: ConstRef::new(16, 2),
                output: TensorId(2),
                outer: 2,
            }),
            kernel: run_concat,
            name: "CONCATENATION",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &blob.0,
            inputs: &[TensorId(0), TensorId(1)],
            outputs: &[TensorId(2)],
            arena_bytes: 48,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<48>::new();
        let arena = arena.as_mut_slice();
        model.set_input(arena, 0, &[1i8, 2, 3, 4]).unwrap();
        model
            .set_input(arena, 1, &[-1i8, -2, -3, -4, -5, -6, -7, -8])
            .unwrap();
        model.invoke(arena).unwrap();
        assert_eq!(
            model.output::<i8>(arena, 0).unwrap(),
            &[1, 2, -1, -2, -3, -4, 3, 4, -5, -6, -7, -8]
        );
    }

    // Expected values from TFLM (same script): PAD of int8 [1, 2, 2, 1] by
    // ((0, 0), (1, 0), (1, 1), (0, 0)), output zero point 3.
    #[test]
    fn run_pad_through_a_model() {
        let tensors = [
            tensor(0, DType::I8, &[1, 2, 2, 1]),
            tensor(16, DType::I8, &[1, 3, 4, 1]),
        ];
        let mut p = pad_op(1, [1, 2, 2, 1], [0, 1, 1, 0], [0, 0, 1, 0]);
        p.value = [3, 0, 0, 0]; // the output zero point
        let layers = [Layer {
            op: Op::Pad(p),
            kernel: run_pad,
            name: "PAD",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        let out: &[i8] = model.run(arena.as_mut_slice(), &[1i8, 2, -3, -4]).unwrap();
        assert_eq!(out, &[3, 3, 3, 3, 3, 1, 2, 3, 3, -3, -4, 3]);
    }

    #[test]
    fn run_copy_through_a_model() {
        let tensors = [tensor(0, DType::F32, &[2, 2]), tensor(16, DType::F32, &[4])];
        let layers = [Layer {
            op: Op::Copy(CopyOp {
                input: TensorId(0),
                output: TensorId(1),
            }),
            kernel: run_copy,
            name: "RESHAPE",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        let out: &[f32] = model
            .run(arena.as_mut_slice(), &[1.0f32, -2.0, 3.5, 0.0])
            .unwrap();
        assert_eq!(out, &[1.0, -2.0, 3.5, 0.0]);
    }

    #[test]
    fn inconsistent_params_are_errors() {
        let tensors = [
            tensor(0, DType::I8, &[4]),
            tensor(16, DType::I8, &[6]),
            tensor(32, DType::I8, &[3]),
        ];
        let mut blob = Blob([0; 32]);
        blob.0[0..2].copy_from_slice(&0u16.to_le_bytes());
        blob.0[16..20].copy_from_slice(&3u32.to_le_bytes());
        let concat = |inputs, chunk_bytes, outer| {
            Op::Concat(Concat {
                inputs,
                chunk_bytes,
                output: TensorId(1),
                outer,
            })
        };
        let copy = Op::Copy(CopyOp {
            input: TensorId(0),
            output: TensorId(1),
        });
        let cases: [(Op, ferrite_core::KernelFn, &str); 7] = [
            (
                concat(ConstRef::new(0, 1), ConstRef::new(16, 2), 2),
                run_concat,
                "need one chunk size per concatenation input",
            ),
            (
                concat(ConstRef::new(0, 1), ConstRef::new(16, 1), 2),
                run_concat,
                "input size does not match its chunk",
            ),
            (
                concat(ConstRef::new(0, 1), ConstRef::new(16, 1), 3),
                run_concat,
                "output size does not match the concatenation",
            ),
            (
                concat(ConstRef::new(30, 2), ConstRef::new(16, 1), 2),
                run_concat,
                "constant outside the constant blob",
            ),
            (
                Op::Pad(pad_op(1, [1, 1, 1, 4], [0, 0, 0, 1], [0, 0, 0, 0])),
                run_pad,
                "output size does not match the padded shape",
            ),
            (
                Op::Pad(pad_op(0, [1, 1, 1, 4], [0; 4], [0; 4])),
                run_pad,
                "padding element size must be 1 to 4 bytes",
            ),
            (copy, run_copy, "copy input and output differ in size"),
        ];
        for (op, kernel, reason) in cases {
            let layers = [Layer {
                op,
                kernel,
                name: "X",
            }];
            let model = Model {
                tensors: &tensors,
                layers: &layers,
                consts: &blob.0,
                inputs: &[],
                outputs: &[],
                arena_bytes: 48,
                state: ferrite_core::StatePlan::NONE,
            };
            let mut arena = Arena::<48>::new();
            assert_eq!(
                model.invoke(arena.as_mut_slice()),
                Err(Error::InvalidLayer { layer: 0, reason }),
                "{reason}"
            );
        }
    }

    proptest::proptest! {
        /// Constant padding (rows along the innermost padded axis) equals the definition:
        /// an output element inside the input's window copies it, every other is the value.
        #[test]
        fn pad_equals_the_definition(
            in_dims in proptest::array::uniform4(1u32..5),
            before in proptest::array::uniform4(0u32..3),
            after in proptest::array::uniform4(0u32..3),
            eb in 1u32..5,
        ) {
            let mut p = pad_op(eb, in_dims, before, after);
            p.value = [0xE1, 0xE2, 0xE3, 0xE4];
            let eb = eb as usize;
            let od = padded_dims(&p).unwrap().map(|d| d as usize);
            let id = in_dims.map(|d| d as usize);
            let input: Vec<u8> = (0..elements(&in_dims) as usize * eb).map(|i| (i * 7 + 3) as u8).collect();
            let mut out = std::vec![0u8; elements(&padded_dims(&p).unwrap()) as usize * eb];
            pad(&p, &input, &mut out);
            for flat in 0..out.len() / eb {
                let (mut rest, mut at, mut scale, mut inside) = (flat, 0usize, 1usize, true);
                for k in (0..4).rev() {
                    let o = rest % od[k];
                    rest /= od[k];
                    let i = o.wrapping_sub(before[k] as usize);
                    inside &= i < id[k];
                    at = at.wrapping_add(i.wrapping_mul(scale));
                    scale *= id[k];
                }
                let want = if inside { &input[at * eb..at * eb + eb] } else { &p.value[..eb] };
                proptest::prop_assert_eq!(&out[flat * eb..flat * eb + eb], want);
            }
        }

        /// Arbitrary padding parameters never panic: the entry runs or reports an invalid
        /// layer.
        #[test]
        fn hostile_pad_never_panics(
            in_dims in proptest::array::uniform4(proptest::prop_oneof![0u32..4, proptest::num::u32::ANY]),
            before in proptest::array::uniform4(proptest::prop_oneof![0u32..3, proptest::num::u32::ANY]),
            after in proptest::array::uniform4(0u32..3),
            elem_bytes in 0u32..6,
            in_len in 0u32..16,
            out_len in 0u32..16,
        ) {
            let tensors = [
                tensor(0, DType::I8, &[in_len]),
                tensor(16, DType::I8, &[out_len]),
            ];
            let p = Pad { elem_bytes, ..pad_op(1, in_dims, before, after) };
            let layers = [Layer { op: Op::Pad(p), kernel: run_pad, name: "PAD" }];
            let model = Model {
                tensors: &tensors,
                layers: &layers,
                consts: &[],
                inputs: &[],
                outputs: &[],
                arena_bytes: 32,
                state: ferrite_core::StatePlan::NONE,
            };
            let mut arena = Arena::<32>::new();
            match model.invoke(arena.as_mut_slice()) {
                Ok(()) | Err(Error::InvalidLayer { .. }) => {}
                Err(e) => proptest::prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }
}
