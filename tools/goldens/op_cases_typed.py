"""Single-operator golden families beyond int8/f32 arithmetic: data movement, reductions,
comparisons, logic, casts and the other operators TFLM has kernels for, in every type TFLM's
reference kernel accepts among int8 (quantized), float32, int32, int64 and bool (plus int16 for
QUANTIZE/DEQUANTIZE pairs).

Imported by gen_op_goldens.py, which passes itself as `g` (so this module works whether the
generator runs as a script or is imported). Which variants each family tries follows TFLM's
kernels (tensorflow/lite/micro/kernels/*.cc); variants TFLM refuses at runtime are tried in one
family per operator so that `refused_by_tflm` in index.json records them, with TFLM's message.
Variants the TFLite converter itself cannot produce (the TFLite builtin has no such type, e.g.
int64 SPLIT or int32 BATCH_MATMUL: "neither a custom op nor a flex op") are not listed.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

ALL5 = ("f32", "int8", "int32", "int64", "bool")
WIDE64 = (-(2 ** 40), 2 ** 40)  # int64 samples of data-movement ops: beyond the int32 range
S4 = (1, 4, 5, 3)  # the usual 4-D data input


def _fixed(fn):
    """fn(rng) for graphs without weights."""
    return lambda rng: fn


def add(g):
    F, I = g.family, g.Inp

    def fam(name, desc, inputs, fn, variants=("f32", "int8"), **kw):
        F(name=name, desc=desc, inputs=inputs, fn=_fixed(fn), variants=variants, **kw)

    # ------------------------------------------------------------------ TRANSPOSE
    fam("transpose_0213", "TRANSPOSE [1,4,5,3] perm [0,2,1,3] (constant perm, runtime data)",
        [I("x", S4, -2.0, 2.0)], lambda x: tf.transpose(x, [0, 2, 1, 3]),
        variants=ALL5 + ("16x8",), op="TRANSPOSE", irange64=WIDE64)
    fam("transpose_2d", "TRANSPOSE [6,5] perm [1,0]", [I("x", (6, 5), -2.0, 2.0)],
        lambda x: tf.transpose(x), op="TRANSPOSE")
    fam("transpose_3102", "TRANSPOSE [2,3,4,5] perm [3,1,0,2] (no unit dimension)",
        [I("x", (2, 3, 4, 5), -1.0, 3.0)], lambda x: tf.transpose(x, [3, 1, 0, 2]), op="TRANSPOSE")
    fam("transpose_5d", "TRANSPOSE 5-D [1,2,3,2,4] perm [0,4,2,1,3]",
        [I("x", (1, 2, 3, 2, 4), -2.0, 2.0)], lambda x: tf.transpose(x, [0, 4, 2, 1, 3]),
        op="TRANSPOSE")

    # ------------------------------------------------------------------ STRIDED_SLICE
    x56 = (1, 5, 6, 4)
    fam("strided_slice_begin_end_mask", "STRIDED_SLICE x[:, 1:4, :5:2, 1:] on [1,5,6,4] "
        "(begin_mask/end_mask from the open ends, stride 2)", [I("x", x56, -2.0, 2.0)],
        lambda x: x[:, 1:4, :5:2, 1:], variants=ALL5 + ("16x8",), op="STRIDED_SLICE", irange64=WIDE64)
    fam("strided_slice_neg_stride", "STRIDED_SLICE x[:, ::-1, 4:0:-2, :] on [1,5,6,4] "
        "(negative strides, reversed full axis)", [I("x", x56, -2.0, 2.0)],
        lambda x: x[:, ::-1, 4:0:-2, :], variants=("f32", "int8", "int32", "16x8"), op="STRIDED_SLICE")
    fam("strided_slice_shrink", "STRIDED_SLICE x[0, 2, :, 1:3] on [1,5,6,4] -> [6,2] "
        "(shrink_axis_mask on axes 0 and 1)", [I("x", x56, -2.0, 2.0)],
        lambda x: x[0, 2, :, 1:3], variants=("f32", "int8", "int32", "bool"), op="STRIDED_SLICE")
    fam("strided_slice_ellipsis", "STRIDED_SLICE x[..., 1:3] on [1,5,6,4] (ellipsis; see "
        "operators[].options for how the converter encodes it)", [I("x", x56, -2.0, 2.0)],
        lambda x: x[..., 1:3], op="STRIDED_SLICE")
    def set_ellipsis(model, variant):
        (op,) = model.subgraphs[0].operators
        if op.builtinOptions.beginMask & 1 == 0 or op.builtinOptions.endMask & 1 == 0:
            raise RuntimeError("expected begin/end mask bit 0 (full axis 0)")
        op.builtinOptions.ellipsisMask = 1
        return ("ellipsis_mask set to 1 on the converter's dense begin/end/strides (axis 0 is already "
                "a full range, so TF's meaning is unchanged; TFLM's kernel forces ellipsis_mask to 0)")
    fam("strided_slice_ellipsis_mask", "STRIDED_SLICE x[..., 1:3] on [1,5,6,4] with ellipsis_mask = 1 in "
        "the flatbuffer (hand-edited; the converter expands ellipses into begin/end masks)",
        [I("x", x56, -2.0, 2.0)], lambda x: x[..., 1:3], op="STRIDED_SLICE", edit=set_ellipsis)
    fam("strided_slice_new_axis", "STRIDED_SLICE x[1:4, tf.newaxis, ::2] on [5,6] -> [3,1,3] "
        "(new axis; see ops/operators for how the converter encodes it)",
        [I("x", (5, 6), -2.0, 2.0)], lambda x: x[1:4, tf.newaxis, ::2], op="STRIDED_SLICE",
        expect_ops=("RESHAPE", "STRIDED_SLICE"))
    fam("strided_slice_negative_idx", "STRIDED_SLICE x[:, -3:-1, -1:-5:-1, :] on [1,5,6,4] "
        "(negative begin/end indices, negative stride)", [I("x", x56, -2.0, 2.0)],
        lambda x: x[:, -3:-1, -1:-5:-1, :], op="STRIDED_SLICE")
    fam("strided_slice_2d_stride3", "STRIDED_SLICE x[1::3, -2::-3] on [7,9] (strides 3 and -3)",
        [I("x", (7, 9), -2.0, 2.0)], lambda x: x[1::3, -2::-3], op="STRIDED_SLICE")

    # ------------------------------------------------------------------ SLICE
    fam("slice_4d", "SLICE [1,5,6,4] begin [0,1,2,1] size [1,3,3,2] (constant begin/size)",
        [I("x", x56, -2.0, 2.0)], lambda x: tf.slice(x, [0, 1, 2, 1], [1, 3, 3, 2]),
        variants=ALL5, op="SLICE", irange64=WIDE64)
    fam("slice_size_minus1", "SLICE [1,5,6,4] begin [0,2,0,1] size [-1,-1,3,-1] (size -1 = to the end)",
        [I("x", x56, -2.0, 2.0)], lambda x: tf.slice(x, [0, 2, 0, 1], [-1, -1, 3, -1]), op="SLICE")
    fam("slice_begin_int64", "SLICE [1,5,6,4] with int64 begin [0,1,1,0] / size [1,4,4,3]",
        [I("x", x56, -2.0, 2.0)],
        lambda x: tf.slice(x, tf.constant([0, 1, 1, 0], tf.int64), tf.constant([1, 4, 4, 3], tf.int64)),
        op="SLICE")
    fam("slice_2d", "SLICE [6,5] begin [1,1] size [4,3]", [I("x", (6, 5), -2.0, 2.0)],
        lambda x: tf.slice(x, [1, 1], [4, 3]), op="SLICE")

    # ------------------------------------------------------------------ GATHER / GATHER_ND
    fam("gather_axis1", "GATHER axis 1: params [1,5,4,3] (runtime), int32 indices [3] (runtime, in [0,4])",
        [I("x", (1, 5, 4, 3), -2.0, 2.0), I("idx", (3,), 0, 4, dtype="int32")],
        lambda x, i: tf.gather(x, i, axis=1), variants=ALL5, op="GATHER", irange64=WIDE64)
    fam("gather_axis0_idx2d", "GATHER axis 0: params [6,4], int32 indices [2,3] (in [0,5]) -> [2,3,4]",
        [I("x", (6, 4), -2.0, 2.0), I("idx", (2, 3), 0, 5, dtype="int32")],
        lambda x, i: tf.gather(x, i, axis=0), op="GATHER")
    fam("gather_axis_last", "GATHER on the last axis: params [2,3,7], int32 indices [4] (in [0,6])",
        [I("x", (2, 3, 7), -2.0, 2.0), I("idx", (4,), 0, 6, dtype="int32")],
        lambda x, i: tf.gather(x, i, axis=-1), op="GATHER")
    fam("gather_batch_dims1", "GATHER axis 1 with batch_dims 1: params [2,5,3], int32 indices [2,4] "
        "(in [0,4]) -> [2,4,3]", [I("x", (2, 5, 3), -2.0, 2.0), I("idx", (2, 4), 0, 4, dtype="int32")],
        lambda x, i: tf.gather(x, i, axis=1, batch_dims=1), op="GATHER")
    fam("gather_idx_int64", "GATHER axis 1: params [1,5,4,3], int64 indices [3] (in [0,4])",
        [I("x", (1, 5, 4, 3), -2.0, 2.0), I("idx", (3,), 0, 4, dtype="int64")],
        lambda x, i: tf.gather(x, i, axis=1), op="GATHER")
    fam("gather_nd_slices", "GATHER_ND params [4,5,3], int32 indices [3,2] (in [0,3]) -> [3,3] rows",
        [I("x", (4, 5, 3), -2.0, 2.0), I("idx", (3, 2), 0, 3, dtype="int32")],
        lambda x, i: tf.gather_nd(x, i), variants=ALL5, op="GATHER_ND", irange64=WIDE64)
    fam("gather_nd_elements", "GATHER_ND params [3,4], int32 indices [5,2] (in [0,2]) -> 5 elements",
        [I("x", (3, 4), -2.0, 2.0), I("idx", (5, 2), 0, 2, dtype="int32")],
        lambda x, i: tf.gather_nd(x, i), op="GATHER_ND")
    fam("gather_nd_3d_idx", "GATHER_ND params [3,4,4,2], int32 indices [2,2,3] (in [0,2]) -> [2,2,2]",
        [I("x", (3, 4, 4, 2), -2.0, 2.0), I("idx", (2, 2, 3), 0, 2, dtype="int32")],
        lambda x, i: tf.gather_nd(x, i), op="GATHER_ND")
    fam("gather_nd_idx_int64", "GATHER_ND params [4,5,3], int64 indices [3,2] (in [0,3])",
        [I("x", (4, 5, 3), -2.0, 2.0), I("idx", (3, 2), 0, 3, dtype="int64")],
        lambda x, i: tf.gather_nd(x, i), op="GATHER_ND")

    # ------------------------------------------------------------------ SPLIT / SPLIT_V / PACK / UNPACK
    fam("split_axis2_3way", "SPLIT [1,4,6,3] into 3 along axis 2 (3 outputs [1,4,2,3])",
        [I("x", (1, 4, 6, 3), -2.0, 2.0)], lambda x: tf.split(x, 3, axis=2),
        variants=("f32", "int8", "int32"), op="SPLIT")
    fam("split_axis_last_2way", "SPLIT [2,6] into 2 along axis -1", [I("x", (2, 6), -2.0, 2.0)],
        lambda x: tf.split(x, 2, axis=-1), op="SPLIT")
    fam("split_axis0_2way", "SPLIT [4,3] into 2 along axis 0", [I("x", (4, 3), -2.0, 2.0)],
        lambda x: tf.split(x, 2, axis=0), op="SPLIT")
    fam("split_v_1_3_2", "SPLIT_V [1,4,6,3] sizes [1,3,2] along axis 2 (3 outputs)",
        [I("x", (1, 4, 6, 3), -2.0, 2.0)], lambda x: tf.split(x, [1, 3, 2], axis=2),
        variants=("f32", "int8", "int32", "int64"), op="SPLIT_V", irange64=WIDE64)
    fam("split_v_minus1", "SPLIT_V [2,5,3] sizes [2,-1] along axis 1 (-1 = the rest)",
        [I("x", (2, 5, 3), -2.0, 2.0)], lambda x: tf.split(x, [2, -1], axis=1), op="SPLIT_V")
    fam("pack_axis1_3in", "PACK three [2,3] inputs along axis 1 -> [2,3,3]",
        [I("a", (2, 3), -2.0, 2.0), I("b", (2, 3), -2.0, 2.0), I("c", (2, 3), -2.0, 2.0)],
        lambda a, b, c: tf.stack([a, b, c], axis=1), variants=("f32", "int8", "int32", "int64"),
        op="PACK", irange64=WIDE64)
    fam("pack_axis0", "PACK two [3,4] inputs along axis 0 -> [2,3,4]",
        [I("a", (3, 4), -2.0, 2.0), I("b", (3, 4), -2.0, 2.0)],
        lambda a, b: tf.stack([a, b], axis=0), op="PACK")
    fam("pack_axis_last", "PACK two [2,3] inputs along axis -1 -> [2,3,2]",
        [I("a", (2, 3), -2.0, 2.0), I("b", (2, 3), -2.0, 2.0)],
        lambda a, b: tf.stack([a, b], axis=-1), op="PACK")
    fam("unpack_axis1", "UNPACK [2,3,4] along axis 1 (3 outputs [2,4])", [I("x", (2, 3, 4), -2.0, 2.0)],
        lambda x: tf.unstack(x, axis=1), variants=("f32", "int8", "int32", "bool"), op="UNPACK")
    fam("unpack_axis0", "UNPACK [3,4] along axis 0 (3 outputs [4])", [I("x", (3, 4), -2.0, 2.0)],
        lambda x: tf.unstack(x, axis=0), op="UNPACK")
    fam("unpack_axis_last", "UNPACK [2,3,2] along axis -1 (2 outputs [2,3])",
        [I("x", (2, 3, 2), -2.0, 2.0)], lambda x: tf.unstack(x, axis=-1), op="UNPACK")

    # ------------------------------------------------------------------ REDUCE_MAX / REDUCE_MIN / SUM
    for op, tfop, short in (("REDUCE_MAX", tf.reduce_max, "reduce_max"),
                            ("REDUCE_MIN", tf.reduce_min, "reduce_min"), ("SUM", tf.reduce_sum, "sum")):
        for k, (axes, kd, shape) in enumerate((([1], True, (1, 5, 6, 4)), ([1, 2], False, (1, 5, 6, 4)),
                                               ([3], False, (1, 5, 6, 4)), ([1, 2, 3], False, (1, 5, 6, 4)),
                                               ([0, 2], True, (3, 4, 5)), ([-1], True, (2, 3, 5)))):
            tag = "_".join("m1" if a < 0 else str(a) for a in axes)
            fam(f"{short}_axis{tag}_{'keep' if kd else 'nokeep'}",
                f"{op} over axes {axes} keepdims={kd} on {list(shape)} (constant axes)",
                [I("x", shape, -2.0, 2.0)],
                (lambda a, kd_, f: lambda x: f(x, axis=a, keepdims=kd_))(axes, kd, tfop),
                variants=(("f32", "int8", "int32", "int64") if k == 0 else ("f32", "int8"))
                + (("16x8",) if short == "sum" and k in (0, 1, 4) else ()), op=op,
                irange=(-100, 100))
    for axes, kd in (([1], False), ([1, 2], True), ([3], True), ([0, 1, 2, 3], False)):
        tag = "".join(map(str, axes))
        fam(f"reduce_all_axis{tag}_{'keep' if kd else 'nokeep'}",
            f"REDUCE_ALL (logical and) over axes {axes} keepdims={kd} on bool [1,3,4,3] "
            "(inputs True with probability 0.85)",
            [I("x", (1, 3, 4, 3), 0, 1)], (lambda a, kd_: lambda x: tf.reduce_all(x, axis=a, keepdims=kd_))(axes, kd),
            variants=("bool",), op="REDUCE_ALL", p_true=0.85)

    # ------------------------------------------------------------------ ARG_MAX / ARG_MIN
    for op, tfop, short in (("ARG_MAX", tf.argmax, "argmax"), ("ARG_MIN", tf.argmin, "argmin")):
        fam(f"{short}_axis3_out32", f"{op} over axis 3 of [1,4,5,6], int32 output (float samples on a "
            "0.25 grid, so ties occur: the first index wins)", [I("x", (1, 4, 5, 6), -2.0, 2.0)],
            (lambda f: lambda x: f(x, axis=3, output_type=tf.int32))(tfop),
            variants=("f32", "int8", "int32"), op=op, float_step=0.25, irange=(-5, 5))
        fam(f"{short}_axis1_out32", f"{op} over axis 1 of [2,5,3], int32 output",
            [I("x", (2, 5, 3), -2.0, 2.0)], (lambda f: lambda x: f(x, axis=1, output_type=tf.int32))(tfop),
            op=op, float_step=0.25)
        fam(f"{short}_axis3_out64", f"{op} over axis 3 of [1,4,5,6], int64 output",
            [I("x", (1, 4, 5, 6), -2.0, 2.0)], (lambda f: lambda x: f(x, axis=3, output_type=tf.int64))(tfop),
            op=op, float_step=0.25)

    # ------------------------------------------------------------------ BATCH_MATMUL
    for name, sa, sb, kw, desc in (
            ("bmm_2x3x4_2x4x5", (2, 3, 4), (2, 4, 5), {}, "[2,3,4] x [2,4,5]"),
            ("bmm_adj_x", (2, 4, 3), (2, 4, 5), {"adjoint_a": True}, "adj_x: [2,4,3]^T x [2,4,5]"),
            ("bmm_adj_y", (2, 3, 4), (2, 5, 4), {"adjoint_b": True}, "adj_y: [2,3,4] x [2,5,4]^T"),
            ("bmm_adj_xy", (2, 4, 3), (2, 5, 4), {"adjoint_a": True, "adjoint_b": True},
             "adj_x and adj_y: [2,4,3]^T x [2,5,4]^T"),
            ("bmm_bcast_batch", (2, 1, 3, 4), (1, 3, 4, 5), {}, "broadcast batch: [2,1,3,4] x [1,3,4,5] -> [2,3,3,5]"),
            ("bmm_bcast_rank", (3, 4), (2, 4, 5), {}, "broadcast rank: [3,4] x [2,4,5] -> [2,3,5]"),
            ("bmm_2d", (3, 4), (4, 5), {}, "2-D [3,4] x [4,5]")):
        fam(name, f"BATCH_MATMUL {desc}, both operands runtime inputs",
            [I("a", sa, -1.0, 1.0), I("b", sb, -1.0, 1.0)],
            (lambda k: lambda a, b: tf.matmul(a, b, **k))(kw), op="BATCH_MATMUL")

    # ------------------------------------------------------------------ elementwise binary
    shapes = {
        "same_shape": ((1, 4, 4, 3), (1, 4, 4, 3), "[1,4,4,3] op [1,4,4,3]"),
        "bcast_c": ((1, 4, 4, 3), (1, 1, 1, 3), "broadcast [1,4,4,3] op [1,1,1,3]"),
        "bcast_213_141": ((2, 1, 3), (1, 4, 1), "broadcast [2,1,3] op [1,4,1] -> [2,4,3]"),
        "scalar": ((1, 4, 4, 3), (), "[1,4,4,3] op scalar []"),
    }

    def binary(short, op, f, variants_by_shape, ra=(-2.0, 2.0), rb=(-2.0, 2.0), ib=(None, None),
               extra="", **kw):
        """One family per broadcast shape; ib: integer range of b in int variants (divisors)."""
        for tag, (sa, sb, d) in shapes.items():
            vs = variants_by_shape.get(tag)
            if vs:
                fam(f"{short}_{tag}", f"{op} {d}{extra}", [I("a", sa, *ra), I("b", sb, *rb, ilo=ib[0], ihi=ib[1])],
                    f, variants=vs, op=op, **kw)

    # ADD/SUB/MUL: int32 (and int64, refused) variants of the existing families are added in
    # build_families; here the broadcast shapes missing so far.
    for short, op, f in (("add", "ADD", lambda a, b: a + b), ("sub", "SUB", lambda a, b: a - b),
                         ("mul", "MUL", lambda a, b: a * b)):
        binary(short, op, f, {"bcast_213_141": ("f32", "int8", "int32"),
                              "scalar": ("f32", "int8", "int32")})
    mm = ("f32", "int8", "int32", "int64")
    for short, op, f in (("maximum", "MAXIMUM", tf.maximum), ("minimum", "MINIMUM", tf.minimum)):
        binary(short, op, f, {"same_shape": mm, "bcast_c": ("f32", "int8", "int32"),
                              "bcast_213_141": ("f32", "int8", "int32"), "scalar": ("f32", "int8", "int32")},
               extra=" (float samples on a 0.25 grid: ties)", float_step=0.25, irange=(-20, 20),
               irange64=WIDE64)
    div_quirk = ("TFLM's int8 DIV (reference_ops::Div) gets an element wrong when the numerator's "
                 "offset value q_a - zp_a is -1 (CountLeadingSignBits(-1) = 31, and -1 shifted left by "
                 "31 overflows): that element saturates (e.g. -128) instead of being ~0; LiteRT's "
                 "reference kernel does the same")
    binary("div", "DIV", lambda a, b: tf.math.divide(a, b) if a.dtype.is_floating else tf.raw_ops.Div(x=a, y=b),
           {"same_shape": ("f32", "int8", "int32"), "bcast_213_141": ("f32", "int8"), "scalar": ("f32", "int8")},
           rb=(0.5, 2.5), ib=(1, 9), extra=", divisor in [0.5, 2.5] (int32: integers in [1, 9])",
           tflm_quirk=div_quirk)
    F(name="div_bcast_c", desc="DIV broadcast [1,4,4,3] / [1,1,1,3], negative divisor in [-2.5, -0.5]",
      inputs=[I("a", (1, 4, 4, 3), -2.0, 2.0), I("b", (1, 1, 1, 3), -2.5, -0.5)],
      fn=_fixed(lambda a, b: a / b), op="DIV", tflm_quirk=div_quirk)
    binary("squared_difference", "SQUARED_DIFFERENCE", tf.math.squared_difference,
           {"same_shape": ("f32", "int8", "int32"), "bcast_c": ("f32", "int8", "int32"),
            "bcast_213_141": ("f32", "int8"), "scalar": ("f32", "int8")}, irange=(-1000, 1000))
    for short, op, f in (("floor_div", "FLOOR_DIV", tf.math.floordiv), ("floor_mod", "FLOOR_MOD", tf.math.floormod)):
        binary(short, op, f, {"same_shape": ("f32", "int8", "int32") + (("int64",) if op == "FLOOR_MOD" else ()),
                              "bcast_213_141": ("f32",), "scalar": ("f32",)},
               ra=(-6.0, 6.0), rb=(0.5, 2.5), ib=(1, 9), extra=", divisor in [0.5, 2.5] (integers: [1, 9])",
               edit=g.strip_qdq(op), int8_desc="int8: hand-edited, see hand_edited")
        F(name=f"{short}_bcast_c", desc=f"{op} broadcast [1,4,4,3] op [1,1,1,3], negative divisor in [-2.5, -0.5]",
          inputs=[I("a", (1, 4, 4, 3), -6.0, 6.0), I("b", (1, 1, 1, 3), -2.5, -0.5)], fn=_fixed(f), op=op,
          variants=("f32",))

    # ------------------------------------------------------------------ comparisons
    cmp_ops = (("equal", "EQUAL", tf.equal), ("not_equal", "NOT_EQUAL", tf.not_equal),
               ("less", "LESS", tf.less), ("less_equal", "LESS_EQUAL", tf.less_equal),
               ("greater", "GREATER", tf.greater), ("greater_equal", "GREATER_EQUAL", tf.greater_equal))
    def near_tie(xs, scales):
        """int8: TFLM compares rescaled fixed-point values, so operands closer than a quantization
        step may compare equal although their dequantized floats differ (and vice versa)."""
        a, b = (np.asarray(x, np.float64) for x in xs)
        return np.stack([np.abs(a[k] - b[k]) <= max(scales) for k in range(len(a))])

    for short, op, f in cmp_ops:
        eq = op in ("EQUAL", "NOT_EQUAL")
        kw = {"edit": g.strip_qdq(op)} if op == "NOT_EQUAL" else {}
        kw["ambiguous"] = near_tie
        binary(short, op, f, {"same_shape": ("f32", "int8", "int32", "int64") + (("bool",) if eq else ()),
                              "bcast_c": ("f32", "int8", "int32"), "bcast_213_141": ("f32", "int8"),
                              "scalar": ("f32", "int8")},
               extra=" -> bool (float samples on a 0.5 grid and integers in [-4, 4]: ties)",
               float_step=0.5, irange=(-4, 4), **kw)
    for short, op, f in (("logical_and", "LOGICAL_AND", tf.logical_and), ("logical_or", "LOGICAL_OR", tf.logical_or)):
        fam(f"{short}_same_shape", f"{op} of two bool [1,4,4,3]",
            [I("a", (1, 4, 4, 3), 0, 1), I("b", (1, 4, 4, 3), 0, 1)], f, variants=("bool",), op=op)
        fam(f"{short}_bcast_213_141", f"{op} broadcast bool [2,1,3] op [1,4,1]",
            [I("a", (2, 1, 3), 0, 1), I("b", (1, 4, 1), 0, 1)], f, variants=("bool",), op=op)
    fam("logical_not", "LOGICAL_NOT of bool [1,4,4,3]", [I("x", (1, 4, 4, 3), 0, 1)], tf.logical_not,
        variants=("bool",), op="LOGICAL_NOT")

    # ------------------------------------------------------------------ SELECT_V2
    fam("select_v2_bcast", "SELECT_V2 (tf.where) with broadcasting: bool condition [1,4,1], x [2,4,3], "
        "y [2,1,3] -> [2,4,3]",
        [I("c", (1, 4, 1), 0, 1, dtype="bool"), I("x", (2, 4, 3), -2.0, 2.0), I("y", (2, 1, 3), -2.0, 2.0)],
        lambda c, x, y: tf.where(c, x, y), variants=ALL5, op="SELECT_V2", irange64=WIDE64)
    fam("select_v2_scalar_cond", "SELECT_V2 with a scalar bool condition [], x and y [2,3]",
        [I("c", (), 0, 1, dtype="bool"), I("x", (2, 3), -2.0, 2.0), I("y", (2, 3), -2.0, 2.0)],
        lambda c, x, y: tf.where(c, x, y), op="SELECT_V2", n=6)
    fam("select_v2_bcast_xy", "SELECT_V2 with condition [2,4,3], x [4,3], y [1,1,3]",
        [I("c", (2, 4, 3), 0, 1, dtype="bool"), I("x", (4, 3), -2.0, 2.0), I("y", (1, 1, 3), -2.0, 2.0)],
        lambda c, x, y: tf.where(c, x, y), op="SELECT_V2")

    # ------------------------------------------------------------------ unary math
    u = (1, 8, 8, 4)  # 256 elements: the int8 variants' sample 0 holds all 256 int8 values

    def unary(name, op, f, lo, hi, variants=("f32",), desc="", **kw):
        fam(name, f"{op} on [1,8,8,4], input range [{lo}, {hi}]{desc}", [I("x", u, lo, hi)], f,
            variants=variants, op=op, enumerate_int8=True, **kw)

    unary("abs", "ABS", tf.abs, -4.0, 3.0, variants=("f32", "int8", "int32"))
    unary("abs_r1", "ABS", tf.abs, -1.0, 5.0, variants=("int8",), desc=" (output scale differs from the input's)")
    # int8 variants marked `wrapped`: the converter keeps the operator in float between DEQUANTIZE and
    # QUANTIZE; hand-edited so the operator gets the int8 tensors, which TFLM's float-only kernels refuse
    wrapped = {"variants": ("f32", "int8"), "int8_desc": "int8: hand-edited, see hand_edited"}
    unary("neg", "NEG", tf.negative, -4.0, 3.0, variants=("f32", "int8", "int32", "int64"),
          edit=g.strip_qdq("NEG"))
    unary("sqrt", "SQRT", tf.sqrt, 0.0, 9.0, variants=("f32", "int8"))
    unary("rsqrt", "RSQRT", tf.math.rsqrt, 0.05, 4.0, variants=("f32", "int8"),
          desc=" (int8: zero point -128, so every int8 value is >= 0; raw -128 is 0 -> max output)")
    unary("square", "SQUARE", tf.square, -3.0, 3.0, edit=g.strip_qdq("SQUARE"), **wrapped)
    unary("exp", "EXP", tf.exp, -4.0, 3.0, variants=("f32", "int8"))
    unary("log", "LOG", tf.math.log, 0.01, 10.0, variants=("f32", "int8"))
    unary("sin", "SIN", tf.sin, -6.0, 6.0, edit=g.strip_qdq("SIN"), **wrapped)
    unary("cos", "COS", tf.cos, -6.0, 6.0, edit=g.strip_qdq("COS"), **wrapped)

    def halves(variant, xs):
        xs[0][0] = (np.arange(256, dtype=np.float32) * 0.25 - 32.0).reshape(u)
        return "quarter_steps_m32_to_31p75"
    for short, op, f in (("floor", "FLOOR", tf.floor), ("ceil", "CEIL", tf.math.ceil), ("round", "ROUND", tf.round)):
        fam(short, f"{op} on [1,8,8,4]; sample 0 is -32..31.75 in steps of 0.25 (exact halves: "
            "ROUND is half to even), the others uniform in [-4, 4]", [I("x", u, -4.0, 4.0)], f,
            op=op, sample_fix=halves, edit=g.strip_qdq(op), **wrapped)

    # ------------------------------------------------------------------ activations and normalizations
    unary("elu", "ELU", tf.nn.elu, -4.0, 3.0, variants=("f32", "int8"), edit=g.strip_qdq("ELU"))
    for name, alpha, desc in (("prelu_alpha_c", [[[0.1, 0.25, -0.3]]], "per-channel alpha [1,1,3] = "
                               "[0.1, 0.25, -0.3] (constant)"),
                              ("prelu_alpha_hwc", None, "alpha [4,4,3] drawn from [-0.5, 1.5] (constant)")):
        def prelu_fn(rng, alpha=alpha):
            a = (np.array(alpha, np.float32) if alpha is not None
                 else rng.uniform(-0.5, 1.5, size=(4, 4, 3)).astype(np.float32))
            return lambda x: tf.nn.relu(x) + (-a) * tf.nn.relu(-x)
        F(name=name, desc=f"PRELU on [1,4,4,3], {desc}; the converter fuses relu(x) - alpha*relu(-x)",
          inputs=[I("x", (1, 4, 4, 3), -3.0, 3.0)], fn=prelu_fn, op="PRELU")
    for name, shape in (("log_softmax_1x10", (1, 10)), ("log_softmax_2x5", (2, 5)),
                        ("log_softmax_1x4x4x6", (1, 4, 4, 6))):
        fam(name, f"LOG_SOFTMAX on {list(shape)} (last axis)", [I("x", shape, -4.0, 4.0)],
            tf.nn.log_softmax, op="LOG_SOFTMAX", n=5)
    for name, shape in (("l2norm_1x10", (1, 10)), ("l2norm_1x4x4x6", (1, 4, 4, 6))):
        fam(name, f"L2_NORMALIZATION on {list(shape)} (last axis)", [I("x", shape, -3.0, 3.0)],
            lambda x: tf.math.l2_normalize(x, axis=-1), op="L2_NORMALIZATION")
    for name, shape, k, s, pad, vs in (("l2pool_2x2_s2_valid", (1, 4, 6, 3), 2, 2, "VALID", ("f32", "int8")),
                                       ("l2pool_3x3_s1_same", (1, 5, 5, 2), 3, 1, "SAME", ("f32",))):
        F(name=name, desc=f"L2_POOL_2D {k}x{k} stride {s} {pad} on {list(shape)} (hand-edited from "
          "AVERAGE_POOL_2D: the converter lowers l2 pooling to SQUARE/AVERAGE_POOL_2D/SQRT)",
          inputs=[I("x", shape, -3.0, 3.0)], variants=vs, op="L2_POOL_2D",
          fn=(lambda k_, s_, p_: lambda rng: lambda x: tf.nn.avg_pool2d(x, k_, s_, p_))(k, s, pad),
          ref=(lambda k_, s_, p_: lambda rng, x: tf.sqrt(tf.nn.avg_pool2d(x * x, k_, s_, p_)).numpy())(k, s, pad),
          edit=g.replace_op("AVERAGE_POOL_2D", "L2_POOL_2D", keep_options=True))

    # ------------------------------------------------------------------ space/depth/batch
    fam("space_to_depth_b2", "SPACE_TO_DEPTH block 2 on [1,4,6,3] -> [1,2,3,12]",
        [I("x", (1, 4, 6, 3), -2.0, 2.0)], lambda x: tf.nn.space_to_depth(x, 2),
        variants=("f32", "int8", "int32", "int64"), op="SPACE_TO_DEPTH", irange64=WIDE64)
    fam("space_to_depth_b3", "SPACE_TO_DEPTH block 3 on [1,6,3,2] -> [1,2,1,18]",
        [I("x", (1, 6, 3, 2), -2.0, 2.0)], lambda x: tf.nn.space_to_depth(x, 3), op="SPACE_TO_DEPTH")
    fam("depth_to_space_b2", "DEPTH_TO_SPACE block 2 on [1,2,3,8] -> [1,4,6,2]",
        [I("x", (1, 2, 3, 8), -2.0, 2.0)], lambda x: tf.nn.depth_to_space(x, 2),
        variants=("f32", "int8", "int32", "int64"), op="DEPTH_TO_SPACE", irange64=WIDE64)
    fam("depth_to_space_b3", "DEPTH_TO_SPACE block 3 on [1,2,2,9] -> [1,6,6,1]",
        [I("x", (1, 2, 2, 9), -2.0, 2.0)], lambda x: tf.nn.depth_to_space(x, 3), op="DEPTH_TO_SPACE")
    fam("space_to_batch_nd_2x2", "SPACE_TO_BATCH_ND block [2,2], no padding: [1,4,4,3] -> [4,2,2,3]",
        [I("x", (1, 4, 4, 3), -2.0, 2.0)], lambda x: tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]]),
        variants=("f32", "int8", "int32", "int64"), op="SPACE_TO_BATCH_ND", irange64=WIDE64)
    fam("space_to_batch_nd_pad", "SPACE_TO_BATCH_ND block [2,2], paddings [[1,1],[0,2]]: [1,4,4,3] -> [4,3,3,3]",
        [I("x", (1, 4, 4, 3), -2.0, 2.0)], lambda x: tf.space_to_batch_nd(x, [2, 2], [[1, 1], [0, 2]]),
        op="SPACE_TO_BATCH_ND")
    fam("space_to_batch_nd_3d", "SPACE_TO_BATCH_ND 3-D: block [2], paddings [[1,1]]: [1,6,3] -> [2,4,3]",
        [I("x", (1, 6, 3), -2.0, 2.0)], lambda x: tf.space_to_batch_nd(x, [2], [[1, 1]]), op="SPACE_TO_BATCH_ND")
    fam("space_to_batch_nd_batch2", "SPACE_TO_BATCH_ND block [2,3] on batch 2: [2,4,6,1] -> [12,2,2,1]",
        [I("x", (2, 4, 6, 1), -2.0, 2.0)], lambda x: tf.space_to_batch_nd(x, [2, 3], [[0, 0], [0, 0]]),
        op="SPACE_TO_BATCH_ND")
    fam("batch_to_space_nd_2x2", "BATCH_TO_SPACE_ND block [2,2], no crops: [4,2,2,3] -> [1,4,4,3]",
        [I("x", (4, 2, 2, 3), -2.0, 2.0)], lambda x: tf.batch_to_space(x, [2, 2], [[0, 0], [0, 0]]),
        variants=("f32", "int8", "int32", "int64"), op="BATCH_TO_SPACE_ND", irange64=WIDE64)
    fam("batch_to_space_nd_crop", "BATCH_TO_SPACE_ND block [2,2], crops [[1,0],[0,1]]: [4,2,3,3] -> [1,3,5,3]",
        [I("x", (4, 2, 3, 3), -2.0, 2.0)], lambda x: tf.batch_to_space(x, [2, 2], [[1, 0], [0, 1]]),
        op="BATCH_TO_SPACE_ND")
    fam("batch_to_space_nd_3d", "BATCH_TO_SPACE_ND 3-D: block [2], crops [[1,0]]: [2,3,3] -> [1,5,3]",
        [I("x", (2, 3, 3), -2.0, 2.0)], lambda x: tf.batch_to_space(x, [2], [[1, 0]]), op="BATCH_TO_SPACE_ND")

    # ------------------------------------------------------------------ MIRROR_PAD
    fam("mirror_pad_reflect", "MIRROR_PAD REFLECT [1,4,5,3] paddings [[0,0],[1,2],[2,1],[0,0]]",
        [I("x", (1, 4, 5, 3), -2.0, 2.0)], lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="REFLECT"),
        variants=("f32", "int8", "int32", "int64"), op="MIRROR_PAD", irange64=WIDE64)
    fam("mirror_pad_symmetric", "MIRROR_PAD SYMMETRIC [1,4,5,3] paddings [[0,0],[1,2],[2,1],[0,0]]",
        [I("x", (1, 4, 5, 3), -2.0, 2.0)], lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="SYMMETRIC"),
        op="MIRROR_PAD")
    fam("mirror_pad_symmetric_2d_full", "MIRROR_PAD SYMMETRIC [4,5] paddings [[4,1],[0,5]] (padding "
        "as large as the dimension)", [I("x", (4, 5), -2.0, 2.0)],
        lambda x: tf.pad(x, [[4, 1], [0, 5]], mode="SYMMETRIC"), op="MIRROR_PAD")
    fam("mirror_pad_reflect_2d_max", "MIRROR_PAD REFLECT [4,5] paddings [[3,2],[4,0]] (padding "
        "dimension - 1)", [I("x", (4, 5), -2.0, 2.0)],
        lambda x: tf.pad(x, [[3, 2], [4, 0]], mode="REFLECT"), op="MIRROR_PAD")

    # ------------------------------------------------------------------ RESIZE_BILINEAR
    rb = tf.compat.v1.image.resize_bilinear
    ac, hp = {"align_corners": True}, {"half_pixel_centers": True}
    for name, shape, size, kw in (("resize_bilinear_up", (1, 4, 4, 3), [7, 6], {}),
                                  ("resize_bilinear_up_align_corners", (1, 4, 4, 3), [7, 6], ac),
                                  ("resize_bilinear_up_half_pixel", (1, 4, 4, 3), [7, 6], hp),
                                  ("resize_bilinear_down_half_pixel", (1, 6, 8, 2), [3, 5], hp),
                                  ("resize_bilinear_down_align_corners", (1, 6, 8, 2), [4, 3], ac),
                                  ("resize_bilinear_2x", (1, 3, 5, 2), [6, 10], {})):
        flags = ", ".join(f"{k}=True" for k in kw) or "align_corners=False, half_pixel_centers=False"
        fam(name, f"RESIZE_BILINEAR {list(shape)} -> size {size} ({flags}; constant size)",
            [I("x", shape, -2.0, 2.0)], (lambda s_, k_: lambda x: rb(x, s_, **k_))(size, kw), op="RESIZE_BILINEAR")

    # ------------------------------------------------------------------ ADD_N / CUMSUM / REVERSE_V2
    add_n_quirk = ("TFLM's int8 ADD_N (reference_ops::AddN) starts its accumulator at the input offset "
                   "-zp_in instead of 0, so the output is off by -zp_in * s_in / s_out (the converter gives "
                   "inputs and output one quantization, so by -zp_in LSB)")
    fam("add_n_3in", "ADD_N of three [1,4,4,3]", [I("a", (1, 4, 4, 3), -2.0, 2.0), I("b", (1, 4, 4, 3), -2.0, 2.0),
                                                 I("c", (1, 4, 4, 3), -2.0, 2.0)],
        lambda a, b, c: tf.add_n([a, b, c]), variants=("f32", "int8", "int32"), op="ADD_N",
        edit=g.strip_qdq("ADD_N", same_quant="inputs"), tflm_quirk=add_n_quirk)
    fam("add_n_2in", "ADD_N of two [2,5]", [I("a", (2, 5), -1.0, 3.0), I("b", (2, 5), -1.0, 3.0)],
        lambda a, b: tf.add_n([a, b]), op="ADD_N", edit=g.strip_qdq("ADD_N", same_quant="inputs"),
        tflm_quirk=add_n_quirk)
    fam("add_n_2in_requant", "ADD_N of two [2,5] whose output quantization differs from the inputs' "
        "(hand-edited: scale x1.7, zero point 10)", [I("a", (2, 5), -1.0, 3.0), I("b", (2, 5), -1.0, 3.0)],
        lambda a, b: tf.add_n([a, b]), variants=("int8",), op="ADD_N", tflm_quirk=add_n_quirk,
        edit=g.compose(g.strip_qdq("ADD_N", same_quant="inputs"), g.set_output_quant(1.7, 10)))
    for name, axis, ex, rev, vs in (("cumsum_axis2", 2, False, False, ("f32", "int8", "int32", "int64")),
                                    ("cumsum_exclusive", 1, True, False, ("f32", "int8")),
                                    ("cumsum_reverse", 3, False, True, ("f32", "int8")),
                                    ("cumsum_exclusive_reverse", -1, True, True, ("f32", "int8"))):
        fam(name, f"CUMSUM on [1,4,5,3] axis {axis} (constant), exclusive={ex}, reverse={rev}",
            [I("x", (1, 4, 5, 3), -2.0, 2.0)],
            (lambda a, e, r: lambda x: tf.cumsum(x, axis=a, exclusive=e, reverse=r))(axis, ex, rev),
            variants=vs, op="CUMSUM", edit=g.strip_qdq("CUMSUM"))
    fam("reverse_v2_axis2", "REVERSE_V2 [1,4,5,3] along axis 2", [I("x", (1, 4, 5, 3), -2.0, 2.0)],
        lambda x: tf.reverse(x, [2]), variants=ALL5, op="REVERSE_V2", irange64=WIDE64)
    fam("reverse_v2_axes12", "REVERSE_V2 [1,4,5,3] along axes [1,2]", [I("x", (1, 4, 5, 3), -2.0, 2.0)],
        lambda x: tf.reverse(x, [1, 2]), op="REVERSE_V2")
    fam("reverse_v2_2d_axis0", "REVERSE_V2 [5,4] along axis 0", [I("x", (5, 4), -2.0, 2.0)],
        lambda x: tf.reverse(x, [0]), op="REVERSE_V2")

    # ------------------------------------------------------------------ EMBEDDING_LOOKUP
    for name, vshape, ids in (("embedding_lookup_6x4", (6, 4), 5), ("embedding_lookup_5x2x3", (5, 2, 3), 4)):
        F(name=name, desc=f"EMBEDDING_LOOKUP: int32 ids [{ids}] (runtime, in [0,{vshape[0] - 1}]) into "
          f"values {list(vshape)} (runtime); hand-edited from GATHER axis 0 (the converter emits GATHER)",
          inputs=[I("v", vshape, -2.0, 2.0), I("ids", (ids,), 0, vshape[0] - 1, dtype="int32")],
          fn=_fixed(lambda v, i: tf.gather(v, i)), op="EMBEDDING_LOOKUP",
          edit=g.replace_op("GATHER", "EMBEDDING_LOOKUP", perm=(1, 0), note="inputs swapped to (ids, values)"))

    def hybrid(model, variant):
        sg = model.subgraphs[0]
        (op,) = sg.operators
        v, out = sg.tensors[op.inputs[1]], sg.tensors[op.outputs[0]]
        g.set_quant(v, v.quantization.scale[0], 0)
        out.type, out.quantization = g.fb.TensorType.FLOAT32, None
        return "values zero point set to 0 and the output made float32 (TFLM's hybrid path dequantizes rows)"
    F(name="embedding_lookup_hybrid", desc="EMBEDDING_LOOKUP with int8 values [6,4] (zero point 0) and a "
      "float32 output (hybrid: rows dequantized with the values' scale); int32 ids [5] in [0,5]",
      inputs=[I("v", (6, 4), -2.0, 2.0), I("ids", (5,), 0, 5, dtype="int32")],
      fn=_fixed(lambda v, i: tf.gather(v, i)), op="EMBEDDING_LOOKUP", variants=("int8",),
      edit=g.compose(g.replace_op("GATHER", "EMBEDDING_LOOKUP", perm=(1, 0), note="inputs swapped to (ids, values)"),
                     hybrid))

    # ------------------------------------------------------------------ DYNAMIC_UPDATE_SLICE
    dus = xla.dynamic_update_slice
    fam("dynamic_update_slice_4d", "DYNAMIC_UPDATE_SLICE operand [1,5,6,3], update [1,2,3,3], runtime int32 "
        "start indices [4] in [0,3] (clamped to operand - update, as XLA)",
        [I("x", (1, 5, 6, 3), -2.0, 2.0), I("u", (1, 2, 3, 3), -2.0, 2.0), I("i", (4,), 0, 3, dtype="int32")],
        dus, variants=ALL5, op="DYNAMIC_UPDATE_SLICE", irange64=WIDE64,
        edit=g.strip_qdq("DYNAMIC_UPDATE_SLICE", same_quant="all"))
    fam("dynamic_update_slice_idx_int64", "DYNAMIC_UPDATE_SLICE operand [1,5,6,3], update [1,2,3,3], runtime "
        "int64 start indices [4] in [0,3]",
        [I("x", (1, 5, 6, 3), -2.0, 2.0), I("u", (1, 2, 3, 3), -2.0, 2.0), I("i", (4,), 0, 3, dtype="int64")],
        dus, op="DYNAMIC_UPDATE_SLICE", edit=g.strip_qdq("DYNAMIC_UPDATE_SLICE", same_quant="all"))
    fam("dynamic_update_slice_2d_clamp", "DYNAMIC_UPDATE_SLICE operand [6,5], update [2,2], runtime int32 "
        "start indices [2] in [-3,7] (negative and too large: clamped)",
        [I("x", (6, 5), -2.0, 2.0), I("u", (2, 2), -2.0, 2.0), I("i", (2,), -3, 7, dtype="int32")],
        dus, op="DYNAMIC_UPDATE_SLICE", n=6, edit=g.strip_qdq("DYNAMIC_UPDATE_SLICE", same_quant="all"))

    # ------------------------------------------------------------------ FILL / ZEROS_LIKE / BROADCAST_TO
    fam("fill_2x3", "FILL constant dims [2,3] with a runtime scalar value", [I("v", (), -2.0, 2.0)],
        lambda v: tf.fill([2, 3], v), variants=ALL5, op="FILL", irange64=WIDE64, n=6)
    fam("fill_4d", "FILL constant dims [1,3,4,2] with a runtime scalar value", [I("v", (), -2.0, 2.0)],
        lambda v: tf.fill([1, 3, 4, 2], v), variants=("f32", "int8", "int32"), op="FILL")

    def zeros_edit(model, variant):
        note = g.replace_op("ABS" if variant in ("f32", "int8") else "NEG", "ZEROS_LIKE",
                            note="the converter folds zeros_like of a static shape to a constant")(model, variant)
        if variant == "int8":
            sg = model.subgraphs[0]
            t = sg.tensors[sg.operators[0].outputs[0]]
            g.set_quant(t, sg.tensors[sg.operators[0].inputs[0]].quantization.scale[0], 0)
            note += "; output zero point set to 0 (TFLM writes raw zeros whatever the zero point)"
        return note
    F(name="zeros_like", desc="ZEROS_LIKE of a runtime [1,4,4,3] (hand-edited from ABS / NEG)",
      inputs=[I("x", (1, 4, 4, 3), -2.0, 2.0)],
      fn=_fixed(lambda x: tf.abs(x) if x.dtype in (tf.float32,) else tf.negative(x)),
      ref=lambda rng, x: np.zeros_like(x, dtype=np.float32 if x.dtype == np.float32 else x.dtype),
      variants=("f32", "int8", "int32", "int64"), op="ZEROS_LIKE", edit=zeros_edit)
    fam("broadcast_to_4x1_to_2x4x3", "BROADCAST_TO [4,1] -> [2,4,3] (constant shape)",
        [I("x", (4, 1), -2.0, 2.0)], lambda x: tf.broadcast_to(x, [2, 4, 3]), variants=ALL5,
        op="BROADCAST_TO", irange64=WIDE64)
    fam("broadcast_to_1x3_to_2x4x3", "BROADCAST_TO [1,3] -> [2,4,3]", [I("x", (1, 3), -2.0, 2.0)],
        lambda x: tf.broadcast_to(x, [2, 4, 3]), op="BROADCAST_TO")
    fam("broadcast_to_scalar", "BROADCAST_TO scalar [] -> [2,3]", [I("x", (), -2.0, 2.0)],
        lambda x: tf.broadcast_to(x, [2, 3]), op="BROADCAST_TO", n=6)
    fam("broadcast_to_4d", "BROADCAST_TO [1,1,4,1] -> [2,3,4,5]", [I("x", (1, 1, 4, 1), -2.0, 2.0)],
        lambda x: tf.broadcast_to(x, [2, 3, 4, 5]), op="BROADCAST_TO")

    # ------------------------------------------------------------------ CAST
    for dst, tdst, srcs, lo, hi, irange in (
            ("f32", tf.float32, ("int8", "int32", "bool", "int64"), -100.0, 100.0, (-100000, 100000)),
            ("int8", tf.int8, ("f32", "int32", "bool", "int64"), -127.9, 127.9, (-300, 300)),
            ("int32", tf.int32, ("f32", "int8", "bool", "int64"), -1000.9, 1000.9, (-100000, 100000)),
            ("bool", tf.bool, ("f32", "int8", "int32", "int64"), -2.0, 2.0, (-2, 2)),
            ("int64", tf.int64, ("f32", "int8", "int32", "bool"), -1000.9, 1000.9, (-100000, 100000))):
        what = {"f32": "", "int8": " (int32 sources beyond the int8 range wrap)", "int32": "",
                "bool": " (non-zero -> true; float samples on a 0.5 grid, so zeros occur)",
                "int64": ""}[dst]
        fam(f"cast_to_{dst}", f"CAST to {g.VARIANT_DTYPE[dst]} from the variant's type (plain int8, no "
            f"quantization){what}; float sources truncate toward zero",
            [I("x", (1, 4, 4, 3), lo, hi)], (lambda t: lambda x: tf.cast(x, t))(tdst),
            variants=srcs, op="CAST", raw_int=True, irange=irange, irange64=irange,
            float_step=0.5 if dst == "bool" else 0.0)

    # ------------------------------------------------------------------ QUANTIZE / DEQUANTIZE pairs
    TT = g.fb.TensorType
    ttype = {"f32": TT.FLOAT32, "int8": TT.INT8, "int16": TT.INT16, "int32": TT.INT32}
    # (family, variant) -> (input quantization or None, output type, output quantization or None)
    qspec = {
        ("dequantize", "int8"): ((0.05, -3), "f32", None),
        ("dequantize", "int16"): ((0.0002, 0), "f32", None),
        ("quantize_to_int8", "f32"): (None, "int8", (0.04, 5)),
        ("quantize_to_int8", "int16"): ((0.0002, 0), "int8", (0.05, -3)),
        ("quantize_to_int8", "int32"): ((0.0001, 0), "int8", (0.05, -3)),
        ("quantize_to_int16", "f32"): (None, "int16", (1 / 4096, 0)),
        ("quantize_to_int16", "int8"): ((0.05, -3), "int16", (0.0005, 0)),
        ("quantize_to_int16", "int16"): ((0.0002, 0), "int16", (0.00035, 0)),
        ("quantize_to_int32", "int8"): ((0.05, -3), "int32", (0.001, 0)),
        ("quantize_to_int32", "int16"): ((0.0002, 0), "int32", (0.00005, 0)),
    }

    def qdq_build(fam_, variant):
        in_q, out_t, out_q = qspec[(fam_.name, variant)]
        code = "DEQUANTIZE" if fam_.name == "dequantize" else "QUANTIZE"
        base = g.Family(name=fam_.name, desc="", inputs=[I("x", u, -1.0, 1.0)], fn=_fixed(tf.nn.relu),
                        variants=("f32",))
        model = g.load_model(g.convert(base, "f32", False))
        sg = model.subgraphs[0]
        (op,) = sg.operators
        g.set_opcode(model, op, getattr(g.fb.BuiltinOperator, code))
        op.builtinOptionsType = getattr(g.fb.BuiltinOptions, code.capitalize() + "Options")
        op.builtinOptions = getattr(g.fb, code.capitalize() + "OptionsT")()
        tin, tout = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
        tin.type, tout.type = ttype[variant], ttype[out_t]
        if in_q:
            g.set_quant(tin, *in_q)
        if out_q:
            g.set_quant(tout, *out_q)
        g.prune_model(model)
        return g.pack_model(model)

    def qdq_fix(variant, xs):
        if variant == "f32":  # reach 50% beyond the output's range: saturation
            xs[0][0] = np.linspace(-12.0, 12.0, 256, dtype=np.float32).reshape(u)
            return "linspace_m12_12"
        if variant == "int16":
            xs[0][0] = np.linspace(-32768, 32767, 256).round().astype(np.int16).reshape(u)
            return "linspace_full_int16_range"
        return "random_0"
    ident = lambda rng, x: np.asarray(x, np.float32)  # noqa: E731
    qdesc = {"dequantize": "DEQUANTIZE to float32 from int8 (scale 0.05, zero point -3; sample 0 holds all "
                           "256 values) / int16 (scale 0.0002, zero point 0)",
             "quantize_to_int8": "QUANTIZE to int8 (out scale 0.04 zp 5 from float32; 0.05 / -3 from int16 "
                                 "scale 0.0002 and from int32 scale 0.0001): requantization with saturation",
             "quantize_to_int16": "QUANTIZE to int16 (zero point 0): from float32 (scale 1/4096), from int8 "
                                  "(0.05 / -3 -> 0.0005), from int16 (0.0002 -> 0.00035)",
             "quantize_to_int32": "QUANTIZE (requantize) to int32: from int8 (0.05 / -3 -> 0.001 / 0), "
                                  "from int16 (0.0002 -> 0.00005 / 0)"}
    for name, vs in (("dequantize", ("int8", "int16")), ("quantize_to_int8", ("f32", "int16", "int32")),
                     ("quantize_to_int16", ("f32", "int8", "int16")), ("quantize_to_int32", ("int8", "int16"))):
        F(name=name, desc=qdesc[name] + "; a single-operator model (a converted RELU model retyped "
          "and re-coded)", inputs=[I("x", u, -6.0, 4.0)], fn=_fixed(tf.identity), ref=ident,
          variants=vs, op="DEQUANTIZE" if name == "dequantize" else "QUANTIZE", raw_int=True,
          irange=(-70000, 70000), enumerate_int8=True, build=qdq_build, sample_fix=qdq_fix,
          lsb_tol=1.0, edit_note="built from a converted float RELU model: operator code, tensor types "
          "and quantization set by hand (the converter makes no standalone QUANTIZE/DEQUANTIZE of these types)")
