#!/usr/bin/env python3
"""Generate Ferrite's single-operator golden vectors (tests/data/ops).

Each case is a tiny TensorFlow graph (one operator, or a few where the operator
cannot stand alone) converted with tf.lite.TFLiteConverter, in one or more variants:
int8 (full-integer quantization), f32, and for the families of op_cases_typed.py also
int32 / int64 / bool / int16 (the graph built in that type), then run on seeded inputs
through TensorFlow Lite Micro's Python interpreter (the reference kernels that Ferrite
must match: bit-exactly, float32 within 1e-5 relative). For every case
<case> = <family>_<variant> it writes

    tests/data/ops/<case>.tflite
    tests/data/ops/<case>.inputs.npy        (models with one input)
    tests/data/ops/<case>.inputs.<k>.npy    (models with several inputs, k = model input index)
    tests/data/ops/<case>.outputs.npy       (TFLM outputs; .outputs.<k>.npy for several outputs)
    tests/data/ops/index.json               (one entry per case, and the variants TFLM refused)

and refreshes the case and refusal tables in tools/goldens/README.md.

Arrays are stacked as [N, *tensor_shape] where tensor_shape is the full model
tensor shape including its batch dimension (the convention of
shared/models/*/*.inputs.npy), in the model tensor's dtype.

Everything is seeded: running it twice gives byte-identical files.

    /work/venv/bin/python tools/goldens/gen_op_goldens.py            # regenerate all
    /work/venv/bin/python tools/goldens/gen_op_goldens.py --check    # verify committed files
    /work/venv/bin/python tools/goldens/gen_op_goldens.py --only pool  # subset (dev only)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import (  # noqa: E402
    schema_py_generated as fb,
)

try:  # LiteRT reference kernels: only used to annotate index.json.
    from ai_edge_litert import interpreter as litert
except ImportError:  # pragma: no cover
    litert = None

import flatbuffers  # noqa: E402  (comes with tensorflow)

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "ops"
REP_SAMPLES = 32  # representative dataset size for calibration
ARENA = 1 << 20

BUILTIN_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
ACT_NAMES = {v: k for k, v in vars(fb.ActivationFunctionType).items() if not k.startswith("_")}
PAD_NAMES = {v: k for k, v in vars(fb.Padding).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
NP_TYPES = {"INT8": np.int8, "FLOAT32": np.float32, "INT32": np.int32, "INT16": np.int16,
            "UINT8": np.uint8, "INT64": np.int64, "BOOL": np.bool_}

# Variants: the suffix of a case name and the type the graph is built in.
#   int8  - full-integer quantized model (inputs quantized from float samples), except in families
#           with raw_int=True (CAST), where it is a plain int8 tensor without quantization
#   f32   - float32 model
#   int32, int64, bool, int16 - the graph's data inputs have that type (no quantization)
#   16x8  - TFLite's 16x8 quantization: int16 activations (zero point 0), int8 weights, int64
#           bias for conv/FC (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)
VARIANT_DTYPE = {"int8": "int8", "f32": "float32", "int32": "int32", "int64": "int64",
                 "bool": "bool", "int16": "int16", "16x8": "int16"}
QUANTIZED_VARIANTS = ("int8", "16x8")
TENSOR_TYPE = {"int8": "INT8", "float32": "FLOAT32", "int32": "INT32", "int64": "INT64",
               "bool": "BOOL", "int16": "INT16"}
TF_TYPES = {"float32": tf.float32, "int8": tf.int8, "int16": tf.int16, "int32": tf.int32,
            "int64": tf.int64, "bool": tf.bool}


# ----------------------------------------------------------------------------
# Case description
# ----------------------------------------------------------------------------

@dataclass
class Inp:
    name: str
    shape: tuple
    lo: float  # float samples: uniform in [lo, hi]
    hi: float
    # None: the input follows the variant (float for int8/f32, else the variant's type);
    # "int32" / "int64" / "bool" / ...: always that type (indices, conditions), drawn from
    # the integers [ilo, ihi] (default [lo, hi]) or, for bool, True with probability p_true
    dtype: str | None = None
    ilo: int | None = None
    ihi: int | None = None


@dataclass
class Family:
    """One graph, emitted as <name>_<variant> cases (variants: see VARIANT_DTYPE)."""

    name: str
    desc: str
    inputs: list  # list[Inp], in model input order
    fn: Callable  # fn(rng) -> python callable on tf tensors (weights drawn from rng)
    variants: tuple = ("int8", "f32")
    n: int = 4
    enumerate_int8: bool = False  # int8: sample 0 holds all 256 int8 values
    enumerate_int16: bool = False  # int16 (32768-element input): samples 0 and 1 hold every
    #                                even and every odd int16 value
    float_io: bool = False  # int8 variant keeps float input/output (QUANTIZE/DEQUANTIZE)
    edit: Callable | None = None  # edit(model: fb.ModelT, variant) -> note str (or None: unedited)
    edit_note: str = ""  # note for models made by build (hand-built from a converted model)
    ref: Callable | None = None  # numpy float reference, if TF cannot run the graph eagerly
    converter_opts: dict = field(default_factory=dict)
    int8_desc: str = ""  # extra description for the int8 variant
    lsb_tol: float = 4.0  # int8 sanity check vs float graph, in output LSBs
    hunt_litert_diff: int = 0  # int8: append up to this many samples where TFLM != LiteRT reference
    tflm_quirk: str = ""  # known TFLM deviation from the float graph (int8): check is informational
    # --- typed variants (families added for int32/int64/bool and friends) ---
    op: str | None = None  # the operator under test: must be in the model, fed a runtime input
    #                        of the variant's type (fail loudly otherwise)
    expect_ops: tuple | None = None  # exact op list of the model (default: (op,))
    irange: tuple = (-100, 100)  # integer samples of variant-typed inputs (int32/int64)
    irange64: tuple | None = None  # int64 variant (default: irange)
    float_step: float = 0.0  # round float samples to multiples of this (ties for compare/max)
    p_true: float = 0.5  # bool samples
    raw_int: bool = False  # int8/int16 variants are plain integer tensors (CAST), not quantized
    build: Callable | None = None  # build(fam, variant) -> .tflite bytes, instead of convert()
    sample_fix: Callable | None = None  # sample_fix(variant, xs) -> name of sample 0, edits xs
    # int8 variants with exact (bool/int) outputs: ambiguous(xs, scales) -> mask of output elements
    # where TFLM's fixed-point result may legitimately differ from TF's float one (near ties)
    ambiguous: Callable | None = None


FAMILIES: list[Family] = []


def family(**kw):
    FAMILIES.append(Family(**kw))


def seed_of(name: str, salt: int) -> int:
    return zlib.crc32(name.encode()) * 16 + salt


# ----------------------------------------------------------------------------
# Weight helpers (deterministic: every draw comes from the family's rng)
# ----------------------------------------------------------------------------

def conv_w(rng, kh, kw, cin, cout):
    """HWIO conv weights with deliberately different per-output-channel ranges."""
    w = rng.normal(size=(kh, kw, cin, cout)) / np.sqrt(kh * kw * cin)
    w *= rng.uniform(0.25, 2.0, size=cout)
    return w.astype(np.float32)


def dw_w(rng, kh, kw, cin, mult):
    w = rng.normal(size=(kh, kw, cin, mult)) / np.sqrt(kh * kw)
    w *= rng.uniform(0.25, 2.0, size=(cin, mult))
    return w.astype(np.float32)


def fc_w(rng, nin, nout):
    w = rng.normal(size=(nin, nout)) / np.sqrt(nin)
    w *= rng.uniform(0.25, 2.0, size=nout)
    return w.astype(np.float32)


def bias(rng, n, scale=0.3):
    return rng.uniform(-scale, scale, size=n).astype(np.float32)


ACTS = {
    "NONE": lambda x: x,
    "RELU": tf.nn.relu,
    "RELU6": tf.nn.relu6,
    "RELU_N1_TO_1": lambda x: tf.clip_by_value(x, -1.0, 1.0),
}


# ----------------------------------------------------------------------------
# Case list
# ----------------------------------------------------------------------------

def conv_family(name, desc, in_shape, cout, k, stride=(1, 1), pad="SAME", dil=1, act="NONE",
                use_bias=True, groups=1, lo=-1.0, hi=1.0, **kw):
    kh, kw_ = (k, k) if isinstance(k, int) else k
    cin = in_shape[-1]

    def fn(rng):
        w = conv_w(rng, kh, kw_, cin // groups, cout)
        b = bias(rng, cout)

        def f(x):
            y = tf.nn.conv2d(x, w, strides=[1, *stride, 1], padding=pad, dilations=dil)
            if use_bias:
                y = y + b
            return ACTS[act](y)
        return f

    ref = None
    if groups > 1:
        def grouped_ref(rng, x):
            w = conv_w(rng, kh, kw_, cin // groups, cout)
            b = bias(rng, cout)
            cg, og = cin // groups, cout // groups
            ys = [tf.nn.conv2d(x[..., g * cg:(g + 1) * cg], w[..., g * og:(g + 1) * og],
                               strides=[1, *stride, 1], padding=pad, dilations=dil)
                  for g in range(groups)]
            y = tf.concat(ys, axis=-1)
            if use_bias:
                y = y + b
            return ACTS[act](y).numpy()
        ref = grouped_ref
    family(name=name, desc=desc, inputs=[Inp("x", (1, *in_shape), lo, hi)], fn=fn, ref=ref, **kw)


def dw_family(name, desc, in_shape, k=3, mult=1, stride=1, pad="SAME", dil=1, act="NONE", **kw):
    cin = in_shape[-1]

    def fn(rng):
        w = dw_w(rng, k, k, cin, mult)
        b = bias(rng, cin * mult)

        def f(x):
            y = tf.nn.depthwise_conv2d(x, w, strides=[1, stride, stride, 1], padding=pad,
                                       dilations=[dil, dil])
            return ACTS[act](y + b)
        return f
    family(name=name, desc=desc, inputs=[Inp("x", (1, *in_shape), -1.0, 1.0)], fn=fn, **kw)


def pool_family(kind, name, desc, in_shape, win, stride, pad, **kw):
    op = tf.nn.avg_pool2d if kind == "avg" else tf.nn.max_pool2d

    def fn(rng):
        return lambda x: op(x, ksize=win, strides=stride, padding=pad)
    family(name=name, desc=desc, inputs=[Inp("x", (1, *in_shape), -2.0, 2.0)], fn=fn, **kw)


def unary_family(op_name, tag, fn_tf, ranges, f32_range, desc, quirk=""):
    """int8 variants at several input ranges (+ all 256 int8 values), one f32 variant."""
    for i, (lo, hi) in enumerate(ranges):
        family(name=f"{op_name}_r{i}_{tag(lo)}_{tag(hi)}",
               desc=f"{desc}; int8 input range [{lo}, {hi}], sample 0 enumerates all 256 int8 values"
               + (f". TFLM QUIRK: {quirk}" if quirk else ""),
               inputs=[Inp("x", (1, 8, 8, 4), lo, hi)], fn=lambda rng, f=fn_tf: f,
               variants=("int8",), enumerate_int8=True, tflm_quirk=quirk)
    lo, hi = f32_range
    family(name=op_name, desc=f"{desc}; f32, sample 0 is a linspace over [{1.5 * lo}, {1.5 * hi}]",
           inputs=[Inp("x", (1, 8, 8, 4), lo, hi)], fn=lambda rng, f=fn_tf: f,
           variants=("f32",), enumerate_int8=True)


def _num_tag(v):
    s = f"{v:g}".replace("-", "m").replace(".", "p")
    return s


def build_families():
    FAMILIES.clear()
    # ---------------- CONV_2D ----------------
    conv_family("conv2d_3x3_s1_same_relu", "CONV_2D 3x3 stride 1 SAME, fused RELU, 8x8x3 -> 8x8x4",
                (8, 8, 3), 4, 3, act="RELU", variants=("int8", "f32", "16x8"))
    conv_family("conv2d_3x3_s2_valid", "CONV_2D 3x3 stride 2 VALID, no activation, 9x9x3 -> 4x4x4",
                (9, 9, 3), 4, 3, stride=(2, 2), pad="VALID", variants=("int8", "f32", "16x8"))
    conv_family("conv2d_3x3_s2_same_even", "CONV_2D 3x3 stride 2 SAME on even 8x8 input "
                "(asymmetric padding: 0 before, 1 after), 8x8x3 -> 4x4x5", (8, 8, 3), 5, 3,
                stride=(2, 2), pad="SAME")
    conv_family("conv2d_5x5_dil2_same_relu6", "CONV_2D 5x5 dilation 2 SAME, fused RELU6, "
                "12x12x2 -> 12x12x3", (12, 12, 2), 3, 5, dil=2, act="RELU6")
    conv_family("conv2d_1x1", "CONV_2D 1x1 (pointwise), no activation, 8x8x8 -> 8x8x4",
                (8, 8, 8), 4, 1)
    conv_family("conv2d_1x1_relu6", "CONV_2D 1x1 (pointwise), fused RELU6, 6x6x6 -> 6x6x8",
                (6, 6, 6), 8, 1, act="RELU6")
    conv_family("conv2d_1x3_s1x2_same_relu", "CONV_2D non-square 1x3 kernel, strides (1,2), SAME, "
                "fused RELU, 1-D style on [1,1,16,4] -> [1,1,8,6]", (1, 16, 4), 6, (1, 3),
                stride=(1, 2), act="RELU")
    conv_family("conv2d_3x1_s2x1_valid", "CONV_2D non-square 3x1 kernel, strides (2,1), VALID, "
                "7x5x3 -> 3x5x4", (7, 5, 3), 4, (3, 1), stride=(2, 1), pad="VALID")
    conv_family("conv2d_3x3_relu_n1_to_1", "CONV_2D 3x3 SAME followed by clip(-1,1), which the "
                "converter fuses as RELU_N1_TO_1", (8, 8, 3), 4, 3, act="RELU_N1_TO_1", hi=2.0, lo=-2.0)
    conv_family("conv2d_grouped_g2", "Grouped conv (groups=2, as Keras Conv2D(groups=2) lowers to "
                "tf.nn.conv2d with a [3,3,2,4] filter on a 4-channel input): the converter emits a "
                "single CONV_2D whose filter has input-depth 2 = C_in / groups", (8, 8, 4), 4, 3)
    conv_family("conv2d_nobias", "CONV_2D 3x3 SAME without bias in the graph (the converter still "
                "adds an all-zero bias tensor; see ops/operators)", (8, 8, 3), 4, 3, use_bias=False)

    def drop_bias(model, variant):
        sg = model.subgraphs[0]
        for op in sg.operators:
            if op_name(model, op) == "CONV_2D":
                op.inputs = np.array([op.inputs[0], op.inputs[1], -1], dtype=np.int32)
        return "bias input of CONV_2D replaced by -1 (optional input absent)"
    conv_family("conv2d_bias_absent", "CONV_2D 3x3 SAME whose optional bias input is absent "
                "(index -1; hand-edited from the converter's zero-bias model, the converter never "
                "emits this for conv)", (8, 8, 3), 4, 3, use_bias=False, edit=drop_bias,
                variants=("int8", "f32", "16x8"))

    def bias_to_int32(model, variant):
        sg = model.subgraphs[0]
        for op in sg.operators:
            if op_name(model, op) == "CONV_2D":
                t = sg.tensors[op.inputs[2]]
                buf = model.buffers[t.buffer]
                b64 = np.frombuffer(bytes(bytearray(buf.data)), dtype="<i8")
                buf.data = np.frombuffer(b64.astype("<i4").tobytes(), dtype=np.uint8)
                t.type = 2  # INT32
        return "16x8 CONV_2D bias rewritten from int64 to int32 (TFLM's int32-accumulator path)"
    conv_family("conv2d_bias_int32", "16x8 CONV_2D 3x3 SAME whose int64 bias was hand-edited to "
                "int32 (same values): TFLM then accumulates in int32 and requantizes with the "
                "int32 MultiplyByQuantizedMultiplier", (8, 8, 3), 4, 3, variants=("16x8",),
                edit=bias_to_int32)

    # ---------------- DEPTHWISE_CONV_2D ----------------
    dw_family("dwconv_3x3_s1_same_dm1_relu6", "DEPTHWISE_CONV_2D 3x3 stride 1 SAME, depth multiplier 1, "
              "fused RELU6, 8x8x4", (8, 8, 4), act="RELU6")
    dw_family("dwconv_3x3_s2_same_dm1_relu", "DEPTHWISE_CONV_2D 3x3 stride 2 SAME on even 8x8 input, "
              "depth multiplier 1, fused RELU, 8x8x4 -> 4x4x4", (8, 8, 4), stride=2, act="RELU",
              variants=("int8", "f32", "16x8"))
    dw_family("dwconv_3x3_s2_valid_dm1", "DEPTHWISE_CONV_2D 3x3 stride 2 VALID, depth multiplier 1, "
              "9x9x3 -> 4x4x3", (9, 9, 3), stride=2, pad="VALID")
    dw_family("dwconv_3x3_dm2", "DEPTHWISE_CONV_2D 3x3 stride 1 SAME, depth multiplier 2, 8x8x3 -> 8x8x6",
              (8, 8, 3), mult=2, variants=("int8", "f32", "16x8"))
    dw_family("dwconv_3x3_dm8_1ch_relu6", "DEPTHWISE_CONV_2D 3x3 SAME, depth multiplier 8 on a "
              "1-channel input (like person_detect's first layer), fused RELU6, 8x8x1 -> 8x8x8",
              (8, 8, 1), mult=8, act="RELU6")
    dw_family("dwconv_3x3_dil2_same", "DEPTHWISE_CONV_2D 3x3 dilation 2 SAME, depth multiplier 1, "
              "12x12x2", (12, 12, 2), dil=2)

    # ---------------- FULLY_CONNECTED ----------------
    def fc_fn(nin, nout, use_bias=True, act="NONE", keep=False):
        def fn(rng):
            w = fc_w(rng, nin, nout)
            b = bias(rng, nout)

            def f(x):
                y = tf.tensordot(x, w, axes=1) if keep else tf.matmul(x, w)
                if use_bias:
                    y = y + b
                return ACTS[act](y)
            return f
        return fn
    family(name="fc_bias_relu", hunt_litert_diff=2, desc="FULLY_CONNECTED [1,20] -> [1,8] with bias, fused RELU",
           inputs=[Inp("x", (1, 20), -1.0, 1.0)], fn=fc_fn(20, 8, act="RELU"), n=6,
           variants=("int8", "f32", "16x8"))
    family(name="fc_nobias", hunt_litert_diff=2, desc="FULLY_CONNECTED [1,20] -> [1,6] without bias (bias input is -1)",
           inputs=[Inp("x", (1, 20), -1.0, 1.0)], fn=fc_fn(20, 6, use_bias=False), n=6)
    family(name="fc_batch3", hunt_litert_diff=2, desc="FULLY_CONNECTED with batch 3: [3,20] -> [3,5], with bias",
           inputs=[Inp("x", (3, 20), -1.0, 1.0)], fn=fc_fn(20, 5), n=6,
           variants=("int8", "f32", "16x8"))
    family(name="fc_keep_num_dims", hunt_litert_diff=2, desc="FULLY_CONNECTED on a 3-D input [1,4,20] -> [1,4,6] "
           "(keep_num_dims = true), with bias", inputs=[Inp("x", (1, 4, 20), -1.0, 1.0)],
           fn=fc_fn(20, 6, keep=True))
    family(name="fc_per_tensor_relu6", hunt_litert_diff=2, desc="FULLY_CONNECTED [1,24] -> [1,10] with bias and fused RELU6, "
           "weights quantized per-tensor (converter flag "
           "_experimental_disable_per_channel_quantization_for_dense_layers, like older converters)",
           inputs=[Inp("x", (1, 24), -1.0, 1.0)], fn=fc_fn(24, 10, act="RELU6"),
           variants=("int8", "16x8"),
           converter_opts={"_experimental_disable_per_channel_quantization_for_dense_layers": True})

    # ---------------- TRANSPOSE_CONV ----------------
    def tconv_fn(cin, cout, k, stride, pad, out_hw):
        def fn(rng):
            w = conv_w(rng, k, k, cout, cin)  # conv2d_transpose filters are [kh, kw, out, in]

            def f(x):
                return tf.nn.conv2d_transpose(x, w, output_shape=[1, *out_hw, cout],
                                              strides=[1, stride, stride, 1], padding=pad)
            return f
        return fn
    family(name="tconv_3x3_s2_same", desc="TRANSPOSE_CONV 3x3 stride 2 SAME, no bias, "
           "4x4x3 -> 8x8x4", inputs=[Inp("x", (1, 4, 4, 3), -1.0, 1.0)],
           fn=tconv_fn(3, 4, 3, 2, "SAME", (8, 8)), variants=("16x8",))
    family(name="tconv_2x2_s1_valid", desc="TRANSPOSE_CONV 2x2 stride 1 VALID, no bias, "
           "5x5x2 -> 6x6x3", inputs=[Inp("x", (1, 5, 5, 2), -1.0, 1.0)],
           fn=tconv_fn(2, 3, 2, 1, "VALID", (6, 6)), variants=("16x8",))

    def mlp(rng):
        w1, b1 = fc_w(rng, 16, 12), bias(rng, 12)
        w2, b2 = fc_w(rng, 12, 8), bias(rng, 8)
        w3, b3 = fc_w(rng, 8, 4) * 3.0, bias(rng, 4)
        return lambda x: tf.nn.softmax(
            tf.matmul(tf.nn.relu(tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2), w3) + b3)
    family(name="mlp3_softmax", hunt_litert_diff=2, desc="MLP chain: FULLY_CONNECTED 16->12 RELU, 12->8 RELU, 8->4, SOFTMAX",
           inputs=[Inp("x", (1, 16), -1.0, 1.0)], fn=mlp, n=6, lsb_tol=8.0)

    # ---------------- pooling ----------------
    for kind, op in (("avg", "AVERAGE_POOL_2D"), ("max", "MAX_POOL_2D")):
        pool_family(kind, f"{kind}pool_3x3_s2_same_9x9", f"{op} 3x3 stride 2 SAME, 9x9x3 -> 5x5x3",
                    (9, 9, 3), 3, 2, "SAME", variants=("int8", "f32", "16x8"))
        pool_family(kind, f"{kind}pool_3x3_s2_valid_9x9", f"{op} 3x3 stride 2 VALID, 9x9x3 -> 4x4x3",
                    (9, 9, 3), 3, 2, "VALID", variants=("int8", "f32", "16x8"))
        pool_family(kind, f"{kind}pool_2x2_s2_same_7x7", f"{op} 2x2 stride 2 SAME on odd 7x7 "
                    "(last window half padded), 7x7x4 -> 4x4x4", (7, 7, 4), 2, 2, "SAME")
        pool_family(kind, f"{kind}pool_2x2_s2_valid_7x7", f"{op} 2x2 stride 2 VALID on odd 7x7 "
                    "(last row/column dropped), 7x7x4 -> 3x3x4", (7, 7, 4), 2, 2, "VALID")
        pool_family(kind, f"{kind}pool_global_7x7", f"{op} with a 7x7 window covering the whole "
                    "7x7x5 input, VALID -> 1x1x5", (7, 7, 5), 7, 1, "VALID")
        pool_family(kind, f"{kind}pool_3x2_s1x2_same_6x5", f"{op} non-square 3x2 window, strides "
                    "(1,2), SAME, 6x5x2 -> 6x3x2", (6, 5, 2), (3, 2), (1, 2), "SAME")

    # ---------------- SOFTMAX ----------------
    family(name="softmax_1x10", desc="SOFTMAX on [1,10], beta 1",
           inputs=[Inp("x", (1, 10), -4.0, 4.0)], fn=lambda rng: tf.nn.softmax, n=5)
    family(name="softmax_2x5", desc="SOFTMAX on [2,5] (two rows), beta 1",
           inputs=[Inp("x", (2, 5), -6.0, 3.0)], fn=lambda rng: tf.nn.softmax, n=5,
           variants=("int8", "f32", "16x8"))

    def set_beta(model, variant):
        for op in model.subgraphs[0].operators:
            if op_name(model, op) == "SOFTMAX":
                op.builtinOptions.beta = 0.5
        return "SOFTMAX beta set to 0.5 in the flatbuffer (the converter always writes beta=1)"
    family(name="softmax_beta0p5_1x10", desc="SOFTMAX on [1,10] with beta = 0.5 (hand-edited: "
           "the converter keeps softmax(x*b) as MUL + SOFTMAX(beta=1))",
           inputs=[Inp("x", (1, 10), -8.0, 8.0)], fn=lambda rng: tf.nn.softmax, n=5,
           variants=("int8", "f32", "16x8"), edit=set_beta, ref=lambda rng, x: tf.nn.softmax(0.5 * x).numpy())
    family(name="softmax_1x4x4x6", desc="SOFTMAX on a 4-D [1,4,4,6] tensor (over the last axis)",
           inputs=[Inp("x", (1, 4, 4, 6), -3.0, 5.0)], fn=lambda rng: tf.nn.softmax, n=3)

    # ---------------- RESHAPE ----------------
    family(name="reshape_4d_to_2d", desc="RESHAPE [1,4,4,3] -> [1,48]", variants=("int8", "f32", "16x8"),
           inputs=[Inp("x", (1, 4, 4, 3), -1.0, 1.0)], fn=lambda rng: lambda x: tf.reshape(x, [1, 48]))
    family(name="reshape_2d_to_4d", desc="RESHAPE [1,48] -> [1,2,8,3]",
           inputs=[Inp("x", (1, 48), -3.0, 1.0)], fn=lambda rng: lambda x: tf.reshape(x, [1, 2, 8, 3]))

    # ---------------- elementwise binary ----------------
    two = lambda op: (lambda rng: op)  # noqa: E731
    family(name="add_same_shape", desc="ADD of two [1,8,8,4] tensors with different ranges",
           inputs=[Inp("a", (1, 8, 8, 4), -1.0, 1.0), Inp("b", (1, 8, 8, 4), -4.0, 3.0)],
           op="ADD", variants=("int8", "f32", "int32", "int64", "16x8"),
           fn=two(lambda a, b: a + b))
    family(name="add_broadcast_c", desc="ADD with broadcast [1,1,1,6] + [1,6,6,6]",
           inputs=[Inp("a", (1, 1, 1, 6), -2.0, 2.0), Inp("b", (1, 6, 6, 6), -1.0, 1.0)],
           op="ADD", variants=("int8", "f32", "int32", "16x8"),
           fn=two(lambda a, b: a + b))
    family(name="add_relu", desc="ADD of two [1,6,6,4] tensors with fused RELU",
           inputs=[Inp("a", (1, 6, 6, 4), -2.0, 2.0), Inp("b", (1, 6, 6, 4), -1.0, 3.0)],
           variants=("int8", "f32", "16x8"), fn=two(lambda a, b: tf.nn.relu(a + b)))
    family(name="mul_same_shape", desc="MUL of two [1,6,6,4] tensors",
           inputs=[Inp("a", (1, 6, 6, 4), -2.0, 2.0), Inp("b", (1, 6, 6, 4), -1.0, 3.0)],
           op="MUL", variants=("int8", "f32", "int32", "int64", "16x8"),
           fn=two(lambda a, b: a * b))
    family(name="mul_se_broadcast", desc="MUL SENet-style broadcast: [1,1,1,8] gate in [0,1] * [1,6,6,8]",
           inputs=[Inp("s", (1, 1, 1, 8), 0.0, 1.0), Inp("x", (1, 6, 6, 8), -3.0, 3.0)],
           op="MUL", variants=("int8", "f32", "int32", "16x8"),
           fn=two(lambda s, x: s * x))
    family(name="sub_same_shape", desc="SUB of two [1,6,6,4] tensors (a - b)",
           inputs=[Inp("a", (1, 6, 6, 4), -2.0, 2.0), Inp("b", (1, 6, 6, 4), -1.0, 3.0)],
           op="SUB", variants=("int8", "f32", "int32", "int64", "16x8"),
           fn=two(lambda a, b: a - b))
    family(name="sub_broadcast_c", desc="SUB with broadcast [1,5,5,3] - [1,1,1,3]",
           inputs=[Inp("a", (1, 5, 5, 3), -1.0, 1.0), Inp("b", (1, 1, 1, 3), -2.0, 0.5)],
           op="SUB", variants=("int8", "f32", "int32", "16x8"),
           fn=two(lambda a, b: a - b))

    # ---------------- CONCATENATION ----------------
    family(name="concat_axis3_3in", desc="CONCATENATION of 3 inputs on axis 3: [1,4,4,2] ++ [1,4,4,3] "
           "++ [1,4,4,1] (int8: the converter gives all inputs and the output one shared scale)",
           inputs=[Inp("a", (1, 4, 4, 2), -1.0, 1.0), Inp("b", (1, 4, 4, 3), -4.0, 4.0),
                   Inp("c", (1, 4, 4, 1), 0.0, 2.0)], variants=("int8", "f32", "16x8"),
           fn=lambda rng: lambda a, b, c: tf.concat([a, b, c], axis=3))
    family(name="concat_axis1", desc="CONCATENATION on axis 1: [1,2,4,3] ++ [1,3,4,3]",
           inputs=[Inp("a", (1, 2, 4, 3), -2.0, 2.0), Inp("b", (1, 3, 4, 3), -2.0, 2.0)], variants=("int8", "f32", "16x8"),
           fn=lambda rng: lambda a, b: tf.concat([a, b], axis=1))
    family(name="concat_tanh_requant", desc="TANH feeding CONCATENATION with a wider-range input: "
           "the int8 converter inserts an int8->int8 QUANTIZE (requantization) after TANH",
           inputs=[Inp("a", (1, 4, 4, 2), -3.0, 3.0), Inp("b", (1, 4, 4, 3), -6.0, 6.0)],
           fn=lambda rng: lambda a, b: tf.concat([tf.nn.tanh(a), b], axis=3))

    # ---------------- PAD ----------------
    family(name="pad_asym_4d", desc="PAD [1,5,6,3] with paddings [[0,0],[1,2],[0,3],[0,0]] "
           "(asymmetric, int8 pads with the zero point)",
           inputs=[Inp("x", (1, 5, 6, 3), -1.0, 2.0)], variants=("int8", "f32", "16x8"),
           fn=lambda rng: lambda x: tf.pad(x, [[0, 0], [1, 2], [0, 3], [0, 0]]))
    family(name="pad_hwc", desc="PAD [1,4,4,2] with paddings [[0,0],[2,1],[1,0],[1,2]] (also pads channels)",
           inputs=[Inp("x", (1, 4, 4, 2), 0.5, 3.0)],
           fn=lambda rng: lambda x: tf.pad(x, [[0, 0], [2, 1], [1, 0], [1, 2]]))

    # ---------------- PADV2 / RESIZE_NEAREST_NEIGHBOR ----------------
    def padv2_int16_value(model, variant):
        # TF's 16x8 converter leaves PADV2's constant value in float32, which TFLM's
        # PadPrepare refuses (input and constant types must match): quantize it to int16 with
        # the output's parameters, as the int8 converter does for int8.
        if variant != "16x8":
            return None
        sg = model.subgraphs[0]
        (op,) = [o for o in sg.operators if op_name(model, o) == "PADV2"]
        cv, out = sg.tensors[op.inputs[2]], sg.tensors[op.outputs[0]]
        if cv.type != fb.TensorType.FLOAT32:
            return None
        value = float(np.frombuffer(bytes(bytearray(model.buffers[cv.buffer].data)), np.float32)[0])
        q = int(np.clip(round(value / out.quantization.scale[0]), -32768, 32767))
        model.buffers[cv.buffer].data = np.frombuffer(np.array([q], np.int16).tobytes(), np.uint8)
        cv.type = fb.TensorType.INT16
        cv.quantization = copy.deepcopy(out.quantization)
        return (f"PADV2 constant value {value} re-typed from float32 to int16 ({q}, the output's "
                "scale and zero point): TF's 16x8 converter leaves it float, which TFLM refuses")
    family(name="padv2_const", desc="PADV2 [1,4,5,3] with paddings [[0,0],[1,2],[2,0],[0,1]] and "
           "constant value 0.75 (quantized with the output's parameters)",
           inputs=[Inp("x", (1, 4, 5, 3), -1.0, 2.0)], op="PADV2", variants=("int8", "f32", "16x8"),
           edit=padv2_int16_value,
           fn=lambda rng: lambda x: tf.pad(x, [[0, 0], [1, 2], [2, 0], [0, 1]], constant_values=0.75))
    family(name="resize_nearest_up", desc="RESIZE_NEAREST_NEIGHBOR [1,3,4,2] -> size [7,6] "
           "(constant size, no align_corners / half_pixel_centers)",
           inputs=[Inp("x", (1, 3, 4, 2), -2.0, 2.0)], op="RESIZE_NEAREST_NEIGHBOR",
           variants=("int8", "f32", "16x8"),
           fn=lambda rng: lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [7, 6]))
    family(name="resize_nearest_half_pixel", desc="RESIZE_NEAREST_NEIGHBOR [1,5,6,3] -> size [3,4] "
           "(half_pixel_centers)",
           inputs=[Inp("x", (1, 5, 6, 3), -2.0, 2.0)], op="RESIZE_NEAREST_NEIGHBOR",
           variants=("int8", "f32", "16x8"),
           fn=lambda rng: lambda x: tf.compat.v1.image.resize_nearest_neighbor(
               x, [3, 4], half_pixel_centers=True))

    # ---------------- MEAN ----------------
    for axes, kd, shape in (([1, 2], True, (1, 6, 6, 4)), ([1, 2], False, (1, 6, 6, 4)),
                            ([1], False, (1, 5, 6, 4)), ([3], True, (1, 5, 6, 4)),
                            ([2], True, (1, 5, 6, 4))):
        name = f"mean_axis{''.join(map(str, axes))}_{'keep' if kd else 'nokeep'}"
        family(name=name, desc=f"MEAN over axes {axes} keepdims={kd} on {list(shape)}",
               inputs=[Inp("x", shape, -1.0, 2.0)],
               variants=("int8", "f32", "16x8") if shape == (1, 6, 6, 4) or axes == [1] else ("int8", "f32"),
               fn=lambda rng, a=axes, k=kd: lambda x: tf.reduce_mean(x, axis=a, keepdims=k))

    family(name="mean_axis02_keep", desc="MEAN over the non-contiguous axes [0, 2] keepdims=True on "
           "[2,4,3,5] (Ferrite's general reduction walk rather than the contiguous MEAN layer)",
           inputs=[Inp("x", (2, 4, 3, 5), -1.0, 2.0)], variants=("int8", "f32", "16x8"),
           fn=lambda rng: lambda x: tf.reduce_mean(x, axis=[0, 2], keepdims=True))

    def mean_same_quant(model, variant):
        sg = model.subgraphs[0]
        (op,) = sg.operators
        qi = sg.tensors[op.inputs[0]].quantization
        qo = sg.tensors[op.outputs[0]].quantization
        qo.scale, qo.zeroPoint = list(qi.scale), list(qi.zeroPoint)
        return "MEAN output quantization set equal to the input's (TFLM takes a different int8 path then)"
    family(name="mean_axis12_keep_samequant", desc="MEAN over axes [1,2] keepdims=True on [1,6,6,4] with "
           "output scale/zero point equal to the input's (hand-edited; the converter usually picks a new "
           "output scale, TFLM's int8 MEAN has a separate code path for equal quantization)",
           inputs=[Inp("x", (1, 6, 6, 4), -1.0, 2.0)], variants=("int8", "16x8"), edit=mean_same_quant,
           fn=lambda rng: lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True))

    # ---------------- unary activations ----------------
    hswish = lambda x: x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)  # noqa: E731
    unary_family("logistic", _num_tag, tf.nn.sigmoid, [(-8.0, 8.0), (-3.0, 5.0), (-1.0, 1.0)],
                 (-8.0, 8.0), "LOGISTIC (sigmoid) applied to the model input")
    unary_family("tanh", _num_tag, tf.nn.tanh, [(-4.0, 4.0), (-1.0, 3.0), (-8.0, 2.0)],
                 (-4.0, 4.0), "TANH applied to the model input")
    unary_family("relu", _num_tag, tf.nn.relu, [(-4.0, 4.0), (-1.0, 7.0), (-10.0, 2.0)],
                 (-4.0, 4.0), "RELU applied to the model input")
    unary_family("relu6", _num_tag, tf.nn.relu6, [(-4.0, 8.0), (-1.0, 3.0), (-8.0, 10.0)],
                 (-4.0, 8.0), "RELU6 applied to the model input",
                 quirk="TFLM's int8 RELU6 clamps the raw int8 values to [zp_in, quantize_in(6)] and "
                       "copies them to the output WITHOUT requantizing to the output scale/zero point "
                       "(it assumes in/out quantization are equal, which the converter does not "
                       "guarantee); LiteRT requantizes, so LiteRT and the float graph differ here")
    unary_family("hard_swish", _num_tag, hswish, [(-4.0, 4.0), (-6.0, 6.0), (-3.0, 8.0)],
                 (-6.0, 6.0), "HARD_SWISH (x*relu6(x+3)/6, fused by the converter) on the model input")
    unary_family("leaky_relu", _num_tag, lambda x: tf.nn.leaky_relu(x, alpha=0.2),
                 [(-4.0, 4.0), (-1.0, 7.0), (-10.0, 2.0)], (-4.0, 4.0),
                 "LEAKY_RELU alpha 0.2 applied to the model input")

    # 16x8 (int16 activations): one range inside the op's interesting region, one that
    # saturates (RELU6 past 6, the int16 output range past the input's).
    for act_name, f, ranges in (
            ("relu", tf.nn.relu, [(-3.0, 5.0), (-12.0, 3.0)]),
            ("relu6", tf.nn.relu6, [(-2.0, 5.0), (-8.0, 10.0)]),
            ("leaky_relu", lambda x: tf.nn.leaky_relu(x, alpha=0.2), [(-3.0, 4.0), (-10.0, 2.0)])):
        for i, (lo, hi) in enumerate(ranges):
            family(name=f"{act_name}16_r{i}_{_num_tag(lo)}_{_num_tag(hi)}",
                   desc=f"{act_name.upper()} in 16x8 (int16 in/out), input range [{lo}, {hi}]",
                   inputs=[Inp("x", (1, 8, 8, 4), lo, hi)], fn=lambda rng, f=f: f,
                   variants=("16x8",),
                   tflm_quirk=("TFLM's int16 RELU6 clamps the raw int16 values to [zp_in, "
                               "quantize_in(6)] and copies them WITHOUT requantizing to the "
                               "output scale (as for int8)") if act_name == "relu6" else "")

    # LOGISTIC and TANH in 16x8: every int16 input (even codes in sample 0, odd in sample 1),
    # at the converter's own (non power-of-two) input scale over a range that saturates, and
    # at the input scales TFLM treats as powers of two (2^-12; also 2^-11 for TANH), set by
    # hand since the converter's max/32767 scales never are.
    def input_scale(scale):
        def edit(model, variant):
            sg = model.subgraphs[0]
            (op,) = sg.operators
            t = sg.tensors[op.inputs[0]]
            assert list(op.inputs) == list(sg.inputs), "the op must read the model input"
            t.quantization.scale = [scale]
            return f"input scale set to {scale!r} (TFLM's power-of-two path)"
        return edit
    for act_name, f, rng_range, pots in (("logistic", tf.nn.sigmoid, (-12.0, 12.0), (12,)),
                                         ("tanh", tf.nn.tanh, (-6.0, 6.0), (12, 11))):
        lo, hi = rng_range
        common = dict(inputs=[Inp("x", (1, 128, 128, 2), lo, hi)], fn=lambda rng, f=f: f,
                      variants=("16x8",), n=2, enumerate_int16=True)
        family(name=f"{act_name}16_{_num_tag(lo)}_{_num_tag(hi)}",
               desc=f"{act_name.upper()} in 16x8 (int16 in/out) at the converter's input scale for "
                    f"[{lo}, {hi}]; samples 0 and 1 enumerate every int16 value", **common)
        for k in pots:
            family(name=f"{act_name}16_pot{k}",
                   desc=f"{act_name.upper()} in 16x8 with input scale 2^-{k} (TFLM's power-of-two path); "
                        f"samples 0 and 1 enumerate every int16 value", edit=input_scale(2.0 ** -k),
                   **common)

    # ---------------- QUANTIZE / DEQUANTIZE ----------------
    def c1x1(rng):
        w = conv_w(rng, 1, 1, 3, 4)
        b = bias(rng, 4)
        return lambda x: tf.nn.conv2d(x, w, 1, "SAME") + b
    family(name="qdq_conv1x1_float_io", desc="int8 model with float32 input/output: QUANTIZE (f32->int8), "
           "CONV_2D 1x1, DEQUANTIZE (int8->f32)",
           inputs=[Inp("x", (1, 6, 6, 3), -2.0, 2.0)], fn=c1x1, variants=("int8",), float_io=True)
    family(name="qdq_logistic_float_io", desc="int8 model with float32 input/output: QUANTIZE, LOGISTIC, "
           "DEQUANTIZE; float samples go past the calibration range [-5,5] to hit saturation",
           inputs=[Inp("x", (1, 4, 16), -5.0, 5.0)], fn=lambda rng: tf.nn.sigmoid,
           variants=("int8",), float_io=True)

    def to_requant(out_scale, out_zp):
        def edit(model, variant):
            sg = model.subgraphs[0]
            (op,) = sg.operators
            code = fb.OperatorCodeT()
            code.builtinCode = fb.BuiltinOperator.QUANTIZE
            code.deprecatedBuiltinCode = fb.BuiltinOperator.QUANTIZE
            code.version = 1
            model.operatorCodes = [code]
            op.opcodeIndex = 0
            op.builtinOptionsType = fb.BuiltinOptions.QuantizeOptions
            op.builtinOptions = fb.QuantizeOptionsT()
            q = sg.tensors[op.outputs[0]].quantization
            q.scale = [out_scale]
            q.zeroPoint = [out_zp]
            return (f"RELU op replaced by QUANTIZE; output quantization set to scale {out_scale}, "
                    f"zero point {out_zp}")
        return edit
    family(name="quantize_requant_narrow", desc="int8 -> int8 QUANTIZE (requantization) to a finer scale "
           "(0.02, zp 10): values outside the new range saturate; sample 0 enumerates all 256 int8 values "
           "(hand-edited from a RELU model)",
           inputs=[Inp("x", (1, 8, 8, 4), -4.0, 8.0)], fn=lambda rng: tf.nn.relu,
           variants=("int8",), enumerate_int8=True, edit=to_requant(0.02, 10),
           ref=lambda rng, x: np.clip(x, (-128 - 10) * 0.02, (127 - 10) * 0.02))
    family(name="quantize_requant_wide", desc="int8 -> int8 QUANTIZE (requantization) to a coarser scale "
           "(0.1173, zp -37); sample 0 enumerates all 256 int8 values (hand-edited from a RELU model)",
           inputs=[Inp("x", (1, 8, 8, 4), -3.0, 5.0)], fn=lambda rng: tf.nn.relu,
           variants=("int8",), enumerate_int8=True, edit=to_requant(0.1173, -37),
           ref=lambda rng, x: np.clip(x, (-128 + 37) * 0.1173, (127 + 37) * 0.1173))

    # ---------------- mixed int8 / int16 graph ----------------
    def int16_island(model, variant):
        # int8 CONV_2D -> AVERAGE_POOL_2D becomes CONV_2D -> QUANTIZE (int8 -> int16) ->
        # AVERAGE_POOL_2D in int16 -> QUANTIZE (int16 -> int8): the int16 tensors get the int8
        # scale / 128 and zero point 0 (16x8 style; / 128, not / 256, so that the int8 range
        # with its zero point of -128 after RELU still fits in int16).
        sg = model.subgraphs[0]
        (k,) = [j for j, o in enumerate(sg.operators) if op_name(model, o) == "AVERAGE_POOL_2D"]
        pool = sg.operators[k]
        t_in, t_out = sg.tensors[pool.inputs[0]], sg.tensors[pool.outputs[0]]
        qcodes = [j for j, c in enumerate(model.operatorCodes)
                  if max(c.builtinCode, c.deprecatedBuiltinCode) == fb.BuiltinOperator.QUANTIZE]
        if qcodes:
            qcode = qcodes[0]
        else:
            c = fb.OperatorCodeT()
            c.builtinCode = c.deprecatedBuiltinCode = fb.BuiltinOperator.QUANTIZE
            c.version = 1
            model.operatorCodes.append(c)
            qcode = len(model.operatorCodes) - 1

        def int16_twin(t, name):
            u = copy.deepcopy(t)
            u.name = name.encode()
            u.type = fb.TensorType.INT16
            u.quantization.scale = [t.quantization.scale[0] / 128.0]
            u.quantization.zeroPoint = [0]
            u.buffer = 0  # runtime tensor, no data
            sg.tensors.append(u)
            return len(sg.tensors) - 1
        a16 = int16_twin(t_in, "pool_in_int16")
        b16 = int16_twin(t_out, "pool_out_int16")

        def quantize(src, dst):
            q = fb.OperatorT()
            q.opcodeIndex, q.inputs, q.outputs = qcode, [src], [dst]
            return q
        q_in, q_out = quantize(pool.inputs[0], a16), quantize(b16, pool.outputs[0])
        pool.inputs, pool.outputs = [a16], [b16]
        sg.operators[k:k + 1] = [q_in, pool, q_out]
        return ("AVERAGE_POOL_2D moved to int16 between two QUANTIZE ops (int8 -> int16 -> int8, "
                "int16 scales = int8 scales / 128, zero point 0)")
    w_mix = lambda rng: conv_w(rng, 3, 3, 3, 6)  # noqa: E731

    def mixed_fn(rng):
        w, b = w_mix(rng), bias(rng, 6)
        return lambda x: tf.nn.avg_pool2d(tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + b), 3, 2, "SAME")
    family(name="mixed_conv_int16_avgpool", desc="Mixed int8/int16 graph: int8 CONV_2D 3x3 RELU on "
           "[1,8,8,3] -> QUANTIZE to int16 -> AVERAGE_POOL_2D 3x3 stride 2 SAME in int16 -> QUANTIZE "
           "back to int8 (hand-edited from the int8 model)",
           inputs=[Inp("x", (1, 8, 8, 3), -1.0, 1.0)], variants=("int8",), edit=int16_island,
           op="CONV_2D", expect_ops=("CONV_2D", "QUANTIZE", "AVERAGE_POOL_2D", "QUANTIZE"),
           fn=mixed_fn)

    # ---------------- data movement, reductions, comparisons, casts, ... (typed variants) ----
    import op_cases_typed  # tools/goldens (the script's directory is on sys.path)
    op_cases_typed.add(sys.modules[__name__])

    # Every family below also gets a 16x8 case: converting each int8 family in 16x8 mode and
    # running it in TFLM showed TFLM's int16 kernels run these. (The others: TF's converter
    # refuses 16x8 for the op, e.g. comparisons, DIV, ARG_MAX, SELECT_V2, PRELU, CUMSUM; or
    # TFLM refuses int16, e.g. GATHER, GATHER_ND, REDUCE_MAX/MIN; or the case is int8-specific.)
    for fam in FAMILIES:
        if fam.name in ALSO_16X8 and "16x8" not in fam.variants:
            fam.variants = (*fam.variants, "16x8")


ALSO_16X8 = {
    "conv2d_3x3_s2_same_even", "conv2d_5x5_dil2_same_relu6", "conv2d_1x1", "conv2d_1x1_relu6",
    "conv2d_1x3_s1x2_same_relu", "conv2d_3x1_s2x1_valid", "conv2d_3x3_relu_n1_to_1",
    "conv2d_grouped_g2", "conv2d_nobias", "dwconv_3x3_s1_same_dm1_relu6",
    "dwconv_3x3_s2_valid_dm1", "dwconv_3x3_dm8_1ch_relu6", "dwconv_3x3_dil2_same", "fc_nobias",
    "fc_keep_num_dims", "mlp3_softmax", "avgpool_2x2_s2_same_7x7", "avgpool_2x2_s2_valid_7x7",
    "avgpool_global_7x7", "avgpool_3x2_s1x2_same_6x5", "maxpool_2x2_s2_same_7x7",
    "maxpool_2x2_s2_valid_7x7", "maxpool_global_7x7", "maxpool_3x2_s1x2_same_6x5", "softmax_1x10",
    "softmax_1x4x4x6", "reshape_2d_to_4d", "concat_tanh_requant", "pad_hwc", "mean_axis3_keep",
    "mean_axis2_keep", "logistic_r0_m8_8", "logistic_r1_m3_5", "logistic_r2_m1_1", "tanh_r0_m4_4",
    "tanh_r1_m1_3", "tanh_r2_m8_2", "relu_r0_m4_4", "relu_r1_m1_7", "relu_r2_m10_2",
    "relu6_r0_m4_8", "relu6_r1_m1_3", "relu6_r2_m8_10", "leaky_relu_r0_m4_4", "leaky_relu_r1_m1_7",
    "leaky_relu_r2_m10_2", "quantize_requant_narrow", "quantize_requant_wide", "transpose_2d",
    "transpose_3102", "transpose_5d", "strided_slice_shrink", "strided_slice_ellipsis",
    "strided_slice_ellipsis_mask", "strided_slice_new_axis", "strided_slice_negative_idx",
    "strided_slice_2d_stride3", "slice_4d", "slice_size_minus1", "slice_begin_int64", "slice_2d",
    "split_axis2_3way", "split_axis_last_2way", "split_axis0_2way", "split_v_1_3_2",
    "split_v_minus1", "unpack_axis1", "unpack_axis0", "unpack_axis_last", "sum_axis3_nokeep",
    "sum_axis1_2_3_nokeep", "sum_axism1_keep", "bmm_2x3x4_2x4x5", "bmm_adj_x", "bmm_adj_y",
    "bmm_adj_xy", "bmm_bcast_batch", "bmm_bcast_rank", "bmm_2d", "add_bcast_213_141", "add_scalar",
    "sub_bcast_213_141", "sub_scalar", "mul_bcast_213_141", "mul_scalar", "maximum_same_shape",
    "maximum_bcast_c", "maximum_bcast_213_141", "maximum_scalar", "minimum_same_shape",
    "minimum_bcast_c", "minimum_bcast_213_141", "minimum_scalar", "squared_difference_same_shape",
    "squared_difference_bcast_c", "squared_difference_bcast_213_141", "squared_difference_scalar",
    "abs", "abs_r1", "rsqrt", "reverse_v2_axis2", "reverse_v2_axes12", "reverse_v2_2d_axis0",
    "broadcast_to_4x1_to_2x4x3", "broadcast_to_1x3_to_2x4x3", "broadcast_to_scalar",
    "broadcast_to_4d", "cast_to_f32", "cast_to_int32", "cast_to_bool",
}


# ----------------------------------------------------------------------------
# Flatbuffer helpers
# ----------------------------------------------------------------------------

def load_model(buf: bytes) -> fb.ModelT:
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(buf, 0))


def pack_model(model: fb.ModelT) -> bytes:
    b = flatbuffers.Builder(4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def op_name(model, op) -> str:
    oc = model.operatorCodes[op.opcodeIndex]
    return BUILTIN_NAMES[max(oc.builtinCode, oc.deprecatedBuiltinCode)]


def _jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def op_options(op) -> dict:
    o = op.builtinOptions
    if o is None:
        return {}
    out = {}
    for k, v in vars(o).items():
        if v is None:
            continue
        if k == "fusedActivationFunction":
            v = ACT_NAMES[v]
        elif k == "padding":
            v = PAD_NAMES[v]
        elif k == "quantizedBiasType":
            if v == 0:  # 0 = not set
                continue
            v = TYPE_NAMES[v]
        elif isinstance(v, float):
            v = float(np.float32(v))
        out[k] = _jsonable(v)
    return out


def quant_dict(t) -> dict | None:
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    return {"scale": [float(s) for s in q.scale], "zero_point": [int(z) for z in q.zeroPoint],
            "quantized_dimension": int(q.quantizedDimension)}


def tensor_desc(sg, idx) -> dict:
    t = sg.tensors[idx]
    # A scalar (PADV2's constant value in 16x8 models, EXPAND_DIMS' axis) may carry no shape vector.
    shape = [] if t.shape is None else [int(s) for s in t.shape]
    d = {"name": t.name.decode(), "shape": shape, "dtype": TYPE_NAMES[t.type]}
    q = quant_dict(t)
    if q is not None:
        d["quant"] = q
    return d


def describe_ops(model) -> list:
    sg = model.subgraphs[0]
    ops = []
    for op in sg.operators:
        ins = []
        for i in op.inputs:
            if i < 0:
                ins.append(None)
                continue
            d = tensor_desc(sg, i)
            t = sg.tensors[i]
            d["const"] = bool(model.buffers[t.buffer].data is not None
                              and len(model.buffers[t.buffer].data) > 0)
            if d.get("quant") and len(d["quant"]["scale"]) > 1:
                d["quant"] = {"per_channel": len(d["quant"]["scale"]),
                              "quantized_dimension": d["quant"]["quantized_dimension"]}
            ins.append(d)
        ops.append({"op": op_name(model, op), "options": op_options(op),
                    "inputs": ins, "outputs": [tensor_desc(sg, i) for i in op.outputs]})
    return ops


def set_opcode(model, op, code: int):
    """Point op at builtin operator `code`, adding an operator code to the model if needed."""
    for k, oc in enumerate(model.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
            op.opcodeIndex = k
            return
    oc = fb.OperatorCodeT()
    oc.builtinCode = code
    oc.deprecatedBuiltinCode = min(code, fb.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    oc.version = 1
    model.operatorCodes.append(oc)
    op.opcodeIndex = len(model.operatorCodes) - 1


def prune_model(model):
    """After an edit: drop the operator codes and tensors nothing uses any more."""
    sg = model.subgraphs[0]
    codes = sorted({op.opcodeIndex for op in sg.operators})
    cmap = {o: k for k, o in enumerate(codes)}
    model.operatorCodes = [model.operatorCodes[o] for o in codes]
    used = {int(i) for i in sg.inputs} | {int(i) for i in sg.outputs}
    for op in sg.operators:
        op.opcodeIndex = cmap[op.opcodeIndex]
        used |= {int(i) for i in op.inputs if i >= 0} | {int(i) for i in op.outputs}
    keep = sorted(used)
    tmap = {o: k for k, o in enumerate(keep)}
    sg.tensors = [sg.tensors[o] for o in keep]

    def remap(arr):
        return np.array([tmap[int(i)] if i >= 0 else -1 for i in arr], dtype=np.int32)
    sg.inputs, sg.outputs = remap(sg.inputs), remap(sg.outputs)
    for op in sg.operators:
        op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
    for sd in model.signatureDefs or []:
        for tm in list(sd.inputs or []) + list(sd.outputs or []):
            tm.tensorIndex = tmap[tm.tensorIndex]


def set_quant(t, scale: float, zero_point: int):
    q = fb.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = [float(scale)], [int(zero_point)], 0
    t.quantization = q


def copy_quant(dst, src):
    set_quant(dst, src.quantization.scale[0], src.quantization.zeroPoint[0])


def strip_qdq(target: str, same_quant: str = ""):
    """Edit for int8 variants whose operator the converter keeps in float between a DEQUANTIZE
    and a QUANTIZE although TFLM has an int8 kernel: the operator then reads the int8 model
    inputs and writes the int8 model output directly. same_quant = "inputs": every int8 input
    gets input 0's quantization (the kernel requires it); "all": the output too (kernels that
    copy raw int8 values)."""
    def edit(model, variant):
        if variant != "int8":
            return None
        sg = model.subgraphs[0]
        ops = list(sg.operators)
        (t,) = [o for o in ops if op_name(model, o) == target]
        producer = {int(o.outputs[0]): o for o in ops}
        drop = []
        new_in = []
        for i in t.inputs:
            p = producer.get(int(i))
            if p is not None and op_name(model, p) == "DEQUANTIZE":
                new_in.append(int(p.inputs[0]))
                drop.append(p)
            else:
                new_in.append(int(i))
        t.inputs = np.array(new_in, dtype=np.int32)
        consumers = [o for o in ops if int(t.outputs[0]) in [int(x) for x in o.inputs]]
        if len(consumers) == 1 and op_name(model, consumers[0]) == "QUANTIZE":
            t.outputs = np.array([int(consumers[0].outputs[0])], dtype=np.int32)
            drop.append(consumers[0])
        if not drop:
            raise RuntimeError(f"strip_qdq: no DEQUANTIZE/QUANTIZE around {target}")
        sg.operators = [o for o in ops if all(o is not d for d in drop)]
        note = (f"the converter wraps int8 {target} in DEQUANTIZE/QUANTIZE (runs it in float); "
                f"those were removed so {target} reads and writes the int8 tensors")
        if same_quant:
            ins = [sg.tensors[i] for i in t.inputs
                   if i >= 0 and sg.tensors[i].type == fb.TensorType.INT8]
            targets = ins[1:] + ([sg.tensors[t.outputs[0]]] if same_quant == "all" else [])
            for x in targets:
                copy_quant(x, ins[0])
            note += (", with every int8 input's quantization set to input 0's" if same_quant == "inputs"
                     else ", with all int8 inputs and the output quantized like input 0")
        prune_model(model)
        return note
    return edit


def compose(*edits):
    """Several edits in a row; the notes joined."""
    def edit(model, variant):
        notes = [n for n in (e(model, variant) for e in edits) if n]
        return "; ".join(notes) or None
    return edit


def set_output_quant(scale_factor: float, zero_point: int, variants=("int8",)):
    """Edit: the model output's scale multiplied by scale_factor, its zero point set."""
    def edit(model, variant):
        if variant not in variants:
            return None
        sg = model.subgraphs[0]
        t = sg.tensors[sg.outputs[0]]
        set_quant(t, t.quantization.scale[0] * scale_factor, zero_point)
        return f"output quantization set to scale x{scale_factor}, zero point {zero_point}"
    return edit


def replace_op(target: str, new: str, perm=None, keep_options=False, note="", variants=None):
    """Edit: the model's `target` operator becomes `new` (inputs reordered by perm); for
    operators the converter never emits standalone."""
    def edit(model, variant):
        if variants is not None and variant not in variants:
            return None
        sg = model.subgraphs[0]
        (op,) = [o for o in sg.operators if op_name(model, o) == target]
        set_opcode(model, op, getattr(fb.BuiltinOperator, new))
        if perm is not None:
            op.inputs = np.array([op.inputs[k] for k in perm], dtype=np.int32)
        if not keep_options:
            op.builtinOptionsType, op.builtinOptions = 0, None
        prune_model(model)
        return f"{target} replaced by {new}" + (f" ({note})" if note else "")
    return edit


# ----------------------------------------------------------------------------
# Conversion and execution
# ----------------------------------------------------------------------------

@contextlib.contextmanager
def quiet(enabled=True):
    """Silence the converter's C++ and Python chatter (fd-level)."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as dn:
        os.dup2(dn.fileno(), 1)
        os.dup2(dn.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def spec_dtype(fam: Family, inp: Inp, variant: str) -> str:
    """Type of a family input in the TF graph ("float32", "int32", ...)."""
    if inp.dtype is not None:
        return inp.dtype
    if variant in QUANTIZED_VARIANTS and not fam.raw_int:
        return "float32"  # quantized by the converter
    return VARIANT_DTYPE[variant]


def is_quantized(fam: Family, variant: str) -> bool:
    return variant in QUANTIZED_VARIANTS and not fam.raw_int


def int_range(fam: Family, inp: Inp, dt: str) -> tuple:
    if inp.ilo is not None:
        return inp.ilo, inp.ihi
    if inp.dtype is not None:
        return int(inp.lo), int(inp.hi)
    if dt == "int64" and fam.irange64 is not None:
        return fam.irange64
    if dt in ("int8", "int16") and fam.raw_int:
        info = np.iinfo(dt)
        return int(info.min), int(info.max)
    return fam.irange


def draw(rng, fam: Family, inp: Inp, variant: str, size) -> np.ndarray:
    """Seeded samples for one input, in the graph's type (floats exactly as before typed inputs
    existed, so older families keep their samples)."""
    dt = spec_dtype(fam, inp, variant)
    if dt == "float32":
        x = rng.uniform(inp.lo, inp.hi, size=size).astype(np.float32)
        if fam.float_step:
            x = (np.round(x / fam.float_step) * fam.float_step).astype(np.float32)
        return x
    if dt == "bool":
        return rng.random(size=size) < fam.p_true
    lo, hi = int_range(fam, inp, dt)
    return rng.integers(lo, hi, size=size, endpoint=True).astype(dt)


def convert(fam: Family, variant: str, verbose: bool) -> bytes:
    rng_w = np.random.default_rng(seed_of(fam.name, 0))
    f = fam.fn(rng_w)
    specs = [tf.TensorSpec(i.shape, TF_TYPES[spec_dtype(fam, i, variant)], name=i.name)
             for i in fam.inputs]
    module = tf.Module()
    module.f = tf.function(f, input_signature=specs)
    cf = module.f.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([cf], module)
    if is_quantized(fam, variant):
        rng_rep = np.random.default_rng(seed_of(fam.name, 1))

        def rep():
            # Keyed by input name: the converter may reorder model inputs, and a positional list
            # would then calibrate input k with the range meant for another input.
            for _ in range(REP_SAMPLES):
                yield {i.name: draw(rng_rep, fam, i, variant, i.shape) for i in fam.inputs}
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        if variant == "16x8":
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        else:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not fam.float_io:
            io_type = tf.int16 if variant == "16x8" else tf.int8
            conv.inference_input_type = io_type
            conv.inference_output_type = io_type
    for k, v in fam.converter_opts.items():
        setattr(conv, k, v)
    with quiet(not verbose):
        return bytes(conv.convert())


def family_samples(fam: Family, variant: str) -> tuple[list[np.ndarray], list[str]]:
    """Samples, one [N, *shape] array per family input, in the graph's type. The float samples
    are shared by the int8 and f32 variants of a family."""
    rng = np.random.default_rng(seed_of(fam.name, 2))
    arrs = [draw(rng, fam, i, variant, (fam.n, *i.shape)) for i in fam.inputs]
    names = [f"random_{k}" for k in range(fam.n)]
    floats = [(a, i) for a, i in zip(arrs, fam.inputs) if a.dtype == np.float32]
    if fam.float_io:
        # widen one sample past the calibration range to exercise QUANTIZE saturation
        for a, i in floats:
            span = i.hi - i.lo
            a[0] = np.linspace(i.lo - 0.5 * span, i.hi + 0.5 * span, a[0].size,
                               dtype=np.float32).reshape(a[0].shape)
        names[0] = "linspace_beyond_calibration_range"
    elif fam.enumerate_int8 and floats:
        for a, i in floats:
            a[0] = np.linspace(1.5 * i.lo, 1.5 * i.hi, a[0].size, dtype=np.float32).reshape(a[0].shape)
        names[0] = "linspace_1p5x_range"
    if fam.sample_fix is not None:
        names[0] = fam.sample_fix(variant, arrs)
    return arrs, names


def quantize(x: np.ndarray, q: dict, dtype=np.int8) -> np.ndarray:
    s, z = q["scale"][0], q["zero_point"][0]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / s) + z, info.min, info.max).astype(dtype)


def dequantize(x: np.ndarray, q: dict | None) -> np.ndarray:
    if q is None or x.dtype == np.float32:
        return x.astype(np.float32)
    return ((x.astype(np.float64) - q["zero_point"][0]) * q["scale"][0]).astype(np.float32)


def run_tflm(buf: bytes, inputs: list[np.ndarray], n: int) -> list[np.ndarray]:
    interp = tflm_runtime.Interpreter.from_bytes(buf, arena_size=ARENA)
    model = load_model(buf)
    n_out = len(model.subgraphs[0].outputs)
    outs = [[] for _ in range(n_out)]
    for s in range(n):
        for k, a in enumerate(inputs):
            interp.set_input(a[s], k)
        interp.invoke()
        for k in range(n_out):
            outs[k].append(np.array(interp.get_output(k), copy=True))
    return [np.stack(o) for o in outs]


def run_litert(buf: bytes, inputs: list[np.ndarray], n: int) -> list[np.ndarray] | None:
    if litert is None:
        return None
    it = litert.Interpreter(model_content=buf,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    sg = load_model(buf).subgraphs[0]
    in_idx = [int(i) for i in sg.inputs]  # model input order, as for TFLM and our files
    outd = sorted(it.get_output_details(), key=lambda d: list(sg.outputs).index(d["index"]))
    outs = [[] for _ in outd]
    for s in range(n):
        for t, a in zip(in_idx, inputs):
            it.set_tensor(t, a[s])
        it.invoke()
        for k, d in enumerate(outd):
            outs[k].append(it.get_tensor(d["index"]).copy())
    return [np.stack(o) for o in outs]


def reference(fam: Family, xs: list[np.ndarray]) -> list[np.ndarray]:
    """The graph's outputs for [N, *shape] inputs (TF eager, or fam.ref), one sample at a time:
    one [N, *shape] array per graph output (float outputs as float32, others in their type)."""
    res = []
    for s in range(len(xs[0])):
        if fam.ref is not None:
            y = fam.ref(np.random.default_rng(seed_of(fam.name, 0)), *[x[s] for x in xs])
        else:
            y = fam.fn(np.random.default_rng(seed_of(fam.name, 0)))(*[tf.constant(x[s]) for x in xs])
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        ys = [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in ys]
        res.append([v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v for v in ys])
    return [np.stack([r[k] for r in res]) for k in range(len(res[0]))]


@contextlib.contextmanager
def captured_output():
    """Capture what C++ code prints to stdout/stderr (fd level); yields a list filled on exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    lines: list = []
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            lines += [ln for ln in tmp.read().decode(errors="replace").splitlines()
                      if ln.strip() and not ln.startswith(("W0000", "I0000", "WARNING: All log"))]


def run_tflm_checked(case: str, buf: bytes, inputs: list[np.ndarray], n: int) -> list[np.ndarray]:
    """run_tflm, turning a refusal (an error, or an 'unsupported' message printed by a kernel that
    then returns OK without writing its output) into TflmRefused with TFLM's own messages."""
    err = None
    with captured_output() as log:
        try:
            outputs = run_tflm(buf, inputs, n)
        except Exception as e:  # noqa: BLE001
            err = e
    # TFLM's FILL prints the type *name pointer* with %d: different on every run
    log = [re.sub(r"(supports float32 for input 1, got )-?\d+", r"\1<a pointer printed with %d>", ln)
           for ln in log]
    msg = " | ".join(dict.fromkeys(log))
    if err is not None:
        raise TflmRefused(case, f"{type(err).__name__}: {err}" + (f" (TFLM log: {msg})" if msg else ""))
    if any("support" in ln.lower() for ln in log):
        raise TflmRefused(case, f"invoke returned OK but TFLM printed: {msg}")
    if log:
        print(f"  {case}: TFLM printed: {msg}", flush=True)
    return outputs


def output_order(case: str, out_desc: list, n_graph_outputs: int) -> list[int]:
    """Graph output index of each model output (the converter may reorder them; its output
    tensors are named '<call>:<graph output index>')."""
    if len(out_desc) == 1:
        return [0]
    order = [int(d["name"].rsplit(":", 1)[1]) for d in out_desc]
    if sorted(order) != list(range(n_graph_outputs)):
        raise RuntimeError(f"{case}: cannot map model outputs {[d['name'] for d in out_desc]}")
    return order


def check_intended_op(case: str, fam: Family, variant: str, ops: list):
    """The operator under test is really in the model (not replaced, not wrapped in
    DEQUANTIZE/QUANTIZE) and is fed a runtime input of the variant's type."""
    if fam.op is None:
        return
    names = [o["op"] for o in ops]
    expect = list(fam.expect_ops or (fam.op,))
    if names != expect:
        raise RuntimeError(f"{case}: expected ops {expect}, the model has {names}")
    want = TENSOR_TYPE[VARIANT_DTYPE[variant]]
    if not any(i is not None and not i["const"] and i["dtype"] == want
               for o in ops if o["op"] == fam.op for i in o["inputs"]):
        raise RuntimeError(f"{case}: {fam.op} has no runtime {want} input: {ops}")


def io_dtype_of(in_desc: list, out_desc: list) -> str:
    types = {d["dtype"] for d in in_desc + out_desc}
    return types.pop().lower() if len(types) == 1 else "mixed"


TYPE_RANGE = {"INT8": (-128, 127), "INT16": (-32768, 32767), "INT32": (-2**31, 2**31 - 1)}


def gen_case(fam: Family, variant: str, out_dir: Path, verbose: bool) -> dict:
    case = f"{fam.name}_{variant}"
    if fam.build is not None:
        buf = fam.build(fam, variant)
    else:
        buf = convert(fam, variant, verbose)
    edit_note = fam.edit_note or None
    if fam.edit is not None:
        model = load_model(buf)
        note = fam.edit(model, variant)
        if note:
            edit_note = note if edit_note is None else f"{edit_note}; {note}"
            buf = pack_model(model)
    model = load_model(buf)
    sg = model.subgraphs[0]
    in_desc = [tensor_desc(sg, i) for i in sg.inputs]
    out_desc = [tensor_desc(sg, i) for i in sg.outputs]
    ops = describe_ops(model)
    check_intended_op(case, fam, variant, ops)

    # Map model inputs to the family's inputs by name (converter may reorder).
    order = []
    for d in in_desc:
        nm = d["name"].split(":")[0]
        nm = nm[len("serving_default_"):] if nm.startswith("serving_default_") else nm
        matches = [k for k, i in enumerate(fam.inputs) if i.name == nm]
        if len(matches) != 1:
            raise RuntimeError(f"{case}: cannot map model input {d['name']!r} to {fam.inputs}")
        order.append(matches[0])
    if sorted(order) != list(range(len(fam.inputs))):
        raise RuntimeError(f"{case}: bad input mapping {order}")

    fx, sample_names = family_samples(fam, variant)
    model_inputs = []
    enumerated = False
    for d, k in zip(in_desc, order):
        x = fx[k]
        if d["dtype"] in ("INT8", "INT16") and x.dtype == np.float32 and d.get("quant"):
            x = quantize(x, d["quant"], NP_TYPES[d["dtype"]])
        elif x.dtype == np.float32 and d["dtype"] != "FLOAT32":
            raise RuntimeError(f"{case}: float samples for a {d['dtype']} model input")
        else:
            x = x.astype(NP_TYPES[d["dtype"]])
        if d["dtype"] == "INT8" and fam.enumerate_int8:
            x[0] = np.arange(-128, 128, dtype=np.int8).reshape(1, -1).repeat(
                x[0].size // 256, axis=0).reshape(x[0].shape)
            enumerated = True
        if d["dtype"] == "INT16" and fam.enumerate_int16:
            assert x[0].size == 32768 and len(x) >= 2, (case, x.shape)
            every = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
            x[0] = every[0::2].reshape(x[0].shape)
            x[1] = every[1::2].reshape(x[1].shape)
            sample_names[0], sample_names[1] = "even_int16_values", "odd_int16_values"
        assert list(x.shape[1:]) == d["shape"], (case, x.shape, d["shape"])
        model_inputs.append(np.ascontiguousarray(x))
    if enumerated:
        sample_names[0] = "all_256_int8_values"

    n = fam.n
    if variant == "int8" and fam.hunt_litert_diff and litert is not None:
        extra = hunt_litert_diff(fam, buf, in_desc, order)
        model_inputs = [np.concatenate([x, e]) for x, e in zip(model_inputs, extra)]
        sample_names += [f"tflm_differs_from_litert_ref_{j}" for j in range(len(extra[0]))]
        n = len(model_inputs[0])

    outputs = run_tflm_checked(case, buf, model_inputs, n)
    assert len(outputs) == len(out_desc)
    for y, d in zip(outputs, out_desc):
        assert list(y.shape[1:]) == d["shape"], (case, y.shape, d["shape"])
        assert y.dtype == NP_TYPES[d["dtype"]], (case, y.dtype, d["dtype"])

    # --- sanity checks against the TF graph --------------------------------------
    ref_in = [None] * len(fam.inputs)
    for d, k, x in zip(in_desc, order, model_inputs):
        ref_in[k] = dequantize(x, d.get("quant")) if d.get("quant") or x.dtype == np.float32 else x
        if fam.float_io and variant == "int8":  # the model's QUANTIZE saturates
            q = _quantize_out_quant(model, sg.inputs[in_desc.index(d)])
            ref_in[k] = np.clip(ref_in[k], (-128 - q["zero_point"][0]) * q["scale"][0],
                                (127 - q["zero_point"][0]) * q["scale"][0])
    refs = reference(fam, ref_in)
    fidx = output_order(case, out_desc, len(refs))
    amb = None
    if variant == "int8" and fam.ambiguous is not None:
        scales = [0.0] * len(fam.inputs)
        for d, k in zip(in_desc, order):
            scales[k] = d["quant"]["scale"][0] if d.get("quant") else 0.0
        amb = fam.ambiguous(ref_in, scales)
    check = {}
    for y, d, j in zip(outputs, out_desc, fidx):
        check_output(case, fam, variant, model, d, y, refs[j], check, amb)

    # LiteRT reference kernels, for information.
    try:
        lr = run_litert(buf, model_inputs, n)
    except Exception as e:  # noqa: BLE001  (informational only)
        lr = None
        check["litert_ref_error"] = str(e).strip().splitlines()[0]
    if lr is not None:
        differs = np.zeros(n, dtype=bool)
        max_diff = None
        for a, y in zip(lr, outputs):
            if y.dtype == np.float32:
                diff = np.abs(a.astype(np.float64) - y.astype(np.float64))
                tol = 1e-5 * max(np.abs(y).max(), 1e-30)
                d_max = float(f"{diff.max():.3g}")
            else:  # exact, without going through float (int64)
                diff = np.abs(a.astype(np.int64) - y.astype(np.int64))
                tol = 0
                d_max = int(diff.max())
            differs |= diff.reshape(n, -1).max(axis=1) > tol
            max_diff = d_max if max_diff is None else max(max_diff, d_max)
        check["samples_where_litert_ref_differs"] = int(differs.sum())
        check["litert_ref_max_abs_diff"] = max_diff

    # --- write files ------------------------------------------------------------
    (out_dir / f"{case}.tflite").write_bytes(buf)
    if len(model_inputs) == 1:
        in_files = [f"{case}.inputs.npy"]
    else:
        in_files = [f"{case}.inputs.{k}.npy" for k in range(len(model_inputs))]
    for fname, x in zip(in_files, model_inputs):
        np.save(out_dir / fname, x, allow_pickle=False)
    if len(outputs) == 1:
        out_files = [f"{case}.outputs.npy"]
    else:
        out_files = [f"{case}.outputs.{k}.npy" for k in range(len(outputs))]
    for fname, y in zip(out_files, outputs):
        np.save(out_dir / fname, y, allow_pickle=False)

    for d, fname in zip(in_desc, in_files):
        d["file"] = fname
    for d, fname in zip(out_desc, out_files):
        d["file"] = fname
    desc = fam.desc
    if variant == "int8" and fam.int8_desc:
        desc += "; " + fam.int8_desc
    entry = {
        "name": case,
        "family": fam.name,
        "variant": variant,
        "file": f"{case}.tflite",
        "bytes": len(buf),
        "sha256": hashlib.sha256(buf).hexdigest(),
        "dtype": VARIANT_DTYPE[variant],
        "io_dtype": io_dtype_of(in_desc, out_desc),
        "ops": [o["op"] for o in ops],
        "description": desc,
        "num_samples": n,
        "samples": sample_names,
        "inputs": in_desc,
        "outputs": out_desc,
        "operators": ops,
        "hand_edited": edit_note,
        "check": check,
    }
    return entry


def check_output(case: str, fam: Family, variant: str, model, d: dict, y: np.ndarray,
                 ref: np.ndarray, check: dict, ambiguous: np.ndarray | None = None):
    """Compare one model output with the TF graph's; record the result in check (the maximum
    over a case's outputs) and raise if TFLM is further off than expected."""
    q = d.get("quant")
    if d["dtype"] == "FLOAT32" and not (variant == "int8" and fam.float_io):
        err = np.abs(y - ref).max()
        rel = float(err / max(np.abs(ref).max(), 1e-6))
        rel = float(f"{rel:.3g}")
        check["max_rel_err_vs_tf_float"] = max(rel, check.get("max_rel_err_vs_tf_float", 0.0))
        if rel > 1e-4:
            raise RuntimeError(f"{case}: TFLM f32 differs from TF float graph (rel {rel})")
    elif q is not None or d["dtype"] == "FLOAT32":
        yd = dequantize(y, q)
        if q is not None:
            lsb, zp = q["scale"][0], q["zero_point"][0]
            lo, hi = TYPE_RANGE[d["dtype"]]
        else:  # float output of an int8 model: the int8 tensor fed to the final DEQUANTIZE
            lsb, zp = _last_int8_scale(model), _last_int8_zp(model)
            lo, hi = -128, 127
        # outputs saturate where a test sample leaves the calibrated range
        ref = np.clip(ref, (lo - zp) * lsb, (hi - zp) * lsb)
        errs = np.abs(yd - ref) / lsb
        if variant == "16x8":  # the same tolerance in int8-sized steps: 256 int16 LSBs each
            errs = errs / 256
        err = round(float(errs.max()), 2)
        check["max_err_vs_tf_float_lsb"] = max(err, check.get("max_err_vs_tf_float_lsb", 0.0))
        if variant in QUANTIZED_VARIANTS and fam.tflm_quirk:
            check["tflm_quirk"] = "expected: output is not the float result, see description"
            if fam.op is not None:  # typed families: how many elements the quirk hits
                check["elements_over_lsb_tol"] = (check.get("elements_over_lsb_tol", 0)
                                                  + int(np.count_nonzero(errs > fam.lsb_tol)))
        elif err > fam.lsb_tol:
            raise RuntimeError(f"{case}: TFLM output is {err:.2f} LSB off the float graph")
    else:  # integer / bool tensor without quantization: exact
        if ref.shape != y.shape:
            raise RuntimeError(f"{case}: reference shape {ref.shape} != output {y.shape}")
        diff = ref.astype(y.dtype) != y
        bad = int(np.count_nonzero(diff))
        check["elements_differing_from_tf"] = check.get("elements_differing_from_tf", 0) + bad
        if bad and ambiguous is not None:
            # differences only where the dequantized operands are within a quantization step
            amb = np.broadcast_to(ambiguous, y.shape)
            check["near_ties"] = int(np.count_nonzero(amb))
            bad = int(np.count_nonzero(diff & ~amb))
        if bad and fam.tflm_quirk:
            check["tflm_quirk"] = "expected: output is not the TF result, see description"
        elif bad:
            raise RuntimeError(f"{case}: {bad} output elements differ from TF's")


def _last_int8_scale(model) -> float:
    """For float-io int8 models: the scale of the int8 tensor fed to the final DEQUANTIZE."""
    sg = model.subgraphs[0]
    for op in sg.operators:
        if op_name(model, op) == "DEQUANTIZE":
            return quant_dict(sg.tensors[op.inputs[0]])["scale"][0]
    raise RuntimeError("no DEQUANTIZE")


def hunt_litert_diff(fam: Family, buf: bytes, in_desc: list, order: list) -> list[np.ndarray]:
    """Seeded search for inputs where TFLM and LiteRT's reference kernels disagree.

    TFLM's int8 FULLY_CONNECTED requantizes with double rounding, LiteRT's reference with a single
    rounding; they differ by 1 LSB on roughly 0.1% of outputs, which a handful of random samples
    would almost never show. Returns [M, *shape] int8 arrays per model input (M <= wanted)."""
    rng = np.random.default_rng(seed_of(fam.name, 3))
    cands = 2000
    fx = [rng.uniform(i.lo, i.hi, size=(cands, *i.shape)).astype(np.float32) for i in fam.inputs]
    xs = [quantize(fx[k], d["quant"]) for d, k in zip(in_desc, order)]
    yt = run_tflm(buf, xs, cands)[0]
    yl = run_litert(buf, xs, cands)[0]
    hits = np.nonzero((yt != yl).reshape(cands, -1).any(axis=1))[0][:fam.hunt_litert_diff]
    return [x[hits] for x in xs]


def _last_int8_zp(model) -> int:
    sg = model.subgraphs[0]
    for op in sg.operators:
        if op_name(model, op) == "DEQUANTIZE":
            return quant_dict(sg.tensors[op.inputs[0]])["zero_point"][0]
    raise RuntimeError("no DEQUANTIZE")


def _quantize_out_quant(model, tensor_idx) -> dict:
    """Quantization of the QUANTIZE op that consumes float model input tensor_idx."""
    sg = model.subgraphs[0]
    for op in sg.operators:
        if op_name(model, op) == "QUANTIZE" and op.inputs[0] == tensor_idx:
            return quant_dict(sg.tensors[op.outputs[0]])
    raise RuntimeError("no QUANTIZE on model input")


class TflmRefused(Exception):
    pass


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def generate(out_dir: Path, only: str | None, verbose: bool) -> tuple[list, list]:
    build_families()
    entries, refused = [], []
    for fam in FAMILIES:
        for variant in fam.variants:
            case = f"{fam.name}_{variant}"
            if only and only not in case:
                continue
            try:
                e = gen_case(fam, variant, out_dir, verbose)
            except TflmRefused as r:
                print(f"  REFUSED by TFLM: {r.args[0]}: {r.args[1]}", flush=True)
                refused.append({"name": r.args[0], "family": fam.name, "variant": variant,
                                "dtype": VARIANT_DTYPE[variant], "op": fam.op, "error": r.args[1]})
                continue
            entries.append(e)
            print(f"  {case:45s} {'+'.join(e['ops']):40s} {json.dumps(e['check'])}", flush=True)
    return entries, refused


def case_order(name: str) -> int:
    """Position of case `name` in a full regeneration (family order, then variant order)."""
    if not FAMILIES:
        build_families()
    for k, fam in enumerate(FAMILIES):
        for j, variant in enumerate(fam.variants):
            if f"{fam.name}_{variant}" == name:
                return k * 100 + j
    return 1 << 30


def write_index(out_dir: Path, entries: list, refused: list):
    import importlib.metadata as md
    versions = {}
    for p in ("tensorflow", "tflite_micro", "ai-edge-litert", "numpy"):
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    index = {
        "generator": "tools/goldens/gen_op_goldens.py",
        "golden": "outputs.npy = TensorFlow Lite Micro reference kernels (tflite_micro Python interpreter)",
        "stacking": "every .npy is [N, *tensor_shape] with tensor_shape the full model tensor shape "
                    "(batch included), in the model tensor's dtype; multi-input models use "
                    "<case>.inputs.<k>.npy for model input k, multi-output models "
                    "<case>.outputs.<k>.npy for model output k",
        "tolerance": "int8, int16, int32, int64, bool: exact; float32: 1e-5 relative",
        "versions": versions,
        "num_cases": len(entries),
        "refused_by_tflm": refused,
        "cases": entries,
    }
    (out_dir / "index.json").write_text(compact_json(index) + "\n")


README = Path(__file__).resolve().parent / "README.md"
README_BEGIN, README_END = "<!-- cases:begin -->", "<!-- cases:end -->"


def readme_cases(entries: list) -> str:
    """The README's case table (one row per family), generated from the index entries."""
    fams: dict = {}
    for e in entries:
        fams.setdefault(e["family"], []).append(e)
    rows = ["| family | variants | ops in the model | shapes (in -> out) | N | description |",
            "|---|---|---|---|---|---|"]
    for fam, es in fams.items():
        e0 = es[0]
        variants = ", ".join(e["name"][len(fam) + 1:] for e in es)
        ops = " / ".join(dict.fromkeys(" + ".join(e["ops"]) for e in es))
        shapes = (", ".join(str(i["shape"]) for i in e0["inputs"]) + " -> "
                  + ", ".join(str(o["shape"]) for o in e0["outputs"]))
        n = "/".join(str(e["num_samples"]) for e in es)
        desc = e0["description"].replace("|", "\\|")
        rows.append(f"| `{fam}` | {variants} | {ops} | {shapes} | {n} | {desc} |")
    return (f"{README_BEGIN}\n{len(entries)} cases in {len(fams)} families.\n\n"
            + "\n".join(rows) + f"\n{README_END}")


REFUSED_BEGIN, REFUSED_END = "<!-- refused:begin -->", "<!-- refused:end -->"


def refusal_message(error: str) -> str:
    """TFLM's own message from a refused_by_tflm error, without the generic 'Node ... failed'."""
    m = re.search(r"TFLM log: (.*)\)$", error)
    msg = m.group(1) if m else error
    msg = " | ".join(p for p in msg.split(" | ") if not p.startswith("Node ")) or msg
    return msg.replace("|", "\\|")


def readme_refused(refused: list) -> str:
    """The README's table of variants TFLM refused, generated from refused_by_tflm."""
    rows = ["| operator | refused variants (cases) | TFLM's message |", "|---|---|---|"]
    groups: dict = {}
    for r in refused:
        groups.setdefault((r["op"], refusal_message(r["error"])), []).append(r)
    for (op, msg), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[1][0]["name"])):
        cases = ", ".join(f"`{r['name']}`" for r in rs)
        rows.append(f"| {op} | {cases} | {msg} |")
    return (f"{REFUSED_BEGIN}\n{len(refused)} variants refused.\n\n" + "\n".join(rows)
            + f"\n{REFUSED_END}")


def readme_with_cases(entries: list, refused: list | None = None) -> str:
    text = README.read_text()
    a, b = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    text = text[:a] + readme_cases(entries) + text[b:]
    if refused is not None:
        a, b = text.index(REFUSED_BEGIN), text.index(REFUSED_END) + len(REFUSED_END)
        text = text[:a] + readme_refused(refused) + text[b:]
    return text


def compact_json(v, ind=0) -> str:
    """Indented JSON; any value whose one-line form fits in 150 chars stays on one line."""
    pad = " " * ind
    one = json.dumps(v)
    if len(one) <= 150 or not isinstance(v, (dict, list)):
        return one
    if isinstance(v, dict):
        items = [f'{pad} {json.dumps(k)}: {compact_json(x, ind + 1)}' for k, x in v.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}" if items else "{}"
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return json.dumps(v)
        items = [f"{pad} {compact_json(x, ind + 1)}" for x in v]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--only", help="generate only cases whose name contains this (no index/cleanup)")
    ap.add_argument("--update-index", action="store_true",
                    help="with --only: merge the regenerated cases into index.json and README")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and compare byte-for-byte with --out")
    ap.add_argument("--verbose", action="store_true", help="show converter output")
    args = ap.parse_args()
    tf.get_logger().setLevel("ERROR")

    if args.check:
        with tempfile.TemporaryDirectory() as td:
            td = Path(td)
            entries, refused = generate(td, None, args.verbose)
            write_index(td, entries, refused)
            a = sorted(p.name for p in td.iterdir())
            b = sorted(p.name for p in args.out.iterdir() if p.name != ".gitattributes")
            bad = sorted(set(a) ^ set(b))
            bad += [n for n in a if n in b and (td / n).read_bytes() != (args.out / n).read_bytes()]
            if readme_with_cases(entries, refused) != README.read_text():
                bad.append("tools/goldens/README.md (case table)")
            if bad:
                print(f"MISMATCH in {len(bad)} files: {bad[:20]}")
                sys.exit(1)
            print(f"OK: {len(a)} files reproduced byte-for-byte")
            return

    args.out.mkdir(parents=True, exist_ok=True)
    if args.only:
        entries, refused = generate(args.out, args.only, args.verbose)
        if not args.update_index:
            print(f"{len(entries)} cases written (index.json not updated without --update-index)")
            return
        # Merge into the committed index: the selected cases' entries (and refusals) replace
        # theirs, every other case keeps its entry; same result as a full regeneration for
        # the selected cases (everything is seeded).
        old = json.loads((args.out / "index.json").read_text())
        sel = lambda c: args.only in c["name"]  # noqa: E731
        entries = sorted([c for c in old["cases"] if not sel(c)] + entries,
                         key=lambda c: case_order(c["name"]))
        refused = sorted([r for r in old["refused_by_tflm"] if not sel(r)] + refused,
                         key=lambda c: case_order(c["name"]))
        write_index(args.out, entries, refused)
        if args.out == OUT_DIR:
            README.write_text(readme_with_cases(entries, refused))
        print(f"{len(entries)} cases in index.json ({args.only!r} regenerated)")
        return
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        entries, refused = generate(td, None, args.verbose)
        write_index(td, entries, refused)
        for p in args.out.iterdir():
            if p.suffix in (".tflite", ".npy", ".json"):
                p.unlink()
        for p in sorted(td.iterdir()):
            shutil.copyfile(p, args.out / p.name)
    if args.out == OUT_DIR:
        README.write_text(readme_with_cases(entries, refused))
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{len(entries)} cases, {len(refused)} refused, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
