#!/usr/bin/env python3
"""Generate Ferrite's whole-model golden vectors (tests/data/models).

Small models "as a user would bring them": Keras models converted with the default
tf.lite.TFLiteConverter settings and NO fixed batch (the Keras input keeps its unknown batch
dimension, so the model's shape_signature has -1 and the converter emits e.g. SHAPE ->
STRIDED_SLICE -> PACK -> RESHAPE for Flatten and SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND
for a dilated conv), a PyTorch CNN exported with litert-torch (float32, and full-integer int8 via
its PT2E quantizer), an SSD-style detector ending in TFLM's custom op TFLite_Detection_PostProcess
(appended to the converted head by editing the flatbuffer), a small self-attention block, and two
16x8 models (int16 activations, int8 weights) beside their int8 twins: a MobileNetV2-style
classifier and a 1-D convolutional audio model; and a MobileNetV2 (alpha 0.35 widths, first four
stages) at 160x160x3 int8, whose large early activations the RAM-budget planner runs in bands.

Every case runs through TensorFlow Lite Micro's Python interpreter several times (fresh interpreter
each time) and through LiteRT's reference kernels. The golden is TFLM's output unless TFLM is shown
to be wrong (its output varies between runs, or it writes outside an output tensor), in which case
the golden is LiteRT's reference-kernel output and the index entry says so ("golden_source") with
the evidence; see docs/tflm-deviations.md. For every case <case> it writes

    tests/data/models/<case>.tflite
    tests/data/models/<case>.inputs.npy          ([N, *input_shape], the model input dtype)
    tests/data/models/<case>.outputs.npy         (one output) or <case>.outputs.<k>.npy (several)
    tests/data/models/index.json                 (one entry per case, as tests/data/ops/index.json)

and refreshes the model table in tools/goldens/README.md. Flatbuffer description, TFLM/LiteRT
execution, quantization helpers and the JSON layout come from gen_op_goldens.py (imported).

Everything is seeded: running it twice gives byte-identical files.

    /tmp/tfenv/bin/python tools/goldens/gen_model_goldens.py            # regenerate all
    /tmp/tfenv/bin/python tools/goldens/gen_model_goldens.py --check    # verify committed files
    /tmp/tfenv/bin/python tools/goldens/gen_model_goldens.py --only ssd --out /tmp/x  # subset (dev)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# torch and litert-torch must be imported BEFORE tensorflow: the other order segfaults
# (both bundle native libraries; observed with torch 2.14.1 / tensorflow 2.21.0).
import torch  # noqa: E402
import litert_torch  # noqa: E402
from litert_torch.quantize import pt2e_quantizer, quant_config  # noqa: E402
from torchao.quantization.pt2e import quantize_pt2e  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_op_goldens as g  # noqa: E402  (sets the TF environment variables before importing TF)

import flatbuffers.flexbuffers as flex  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers as L  # noqa: E402

fb = g.fb
OUT_DIR = g.REPO / "tests" / "data" / "models"
REP_SAMPLES = 24  # representative dataset size for calibration
F32_REL_BOUND = 1e-6  # float32 goldens must be this close (relative) to the float model
TFLM_RUNS = 3  # fresh TFLM interpreters per case, to detect run-to-run variation
README_BEGIN, README_END = "<!-- models:begin -->", "<!-- models:end -->"
DETECTION_OP = "TFLite_Detection_PostProcess"


# ----------------------------------------------------------------------------
# One generated model variant
# ----------------------------------------------------------------------------

@dataclass
class Variant:
    """Everything gen_case needs for one .tflite."""

    name: str  # case name
    family: str
    desc: str
    source: str  # how the model was made
    buf: bytes
    float_inputs: list  # one float32 array [N, *shape] per model input (model input order)
    ref: Callable | None  # ref(list of float [1,...] arrays) -> list of float outputs (model order)
    lo_hi: tuple = (-1.0, 1.0)
    lsb_tol: float = 12.0  # int8 check vs the float reference, in output LSBs
    golden: str = "tflm"  # "tflm" or "litert" (declared; verified against the evidence)
    golden_why: str = ""
    hand_edited: str | None = None
    valid_rows: Callable | None = None  # outputs -> per-sample valid row counts (detection)
    valid_rows_note: str = ""
    extra: dict = field(default_factory=dict)  # extra index keys
    extra_check: dict = field(default_factory=dict)  # extra check keys
    evidence: Callable | None = None  # LiteRT-golden cases: (buf, xs, litert, tflm_runs) -> dict


def seed(name: str, salt: int) -> int:
    return g.seed_of(name, salt)


# ----------------------------------------------------------------------------
# Keras helpers
# ----------------------------------------------------------------------------

def randomize(model: keras.Model, rng: np.random.Generator, qk_gain: float = 1.0):
    """Seeded values for every variable (not Keras' initialisers): He-scaled kernels with a spread
    per output channel, small random biases, non-trivial batch-norm / layer-norm parameters."""
    for layer in model.layers:
        for v in layer.weights:
            shape = tuple(v.shape)
            leaf = v.path.rsplit("/", 1)[-1]
            if leaf in ("kernel", "depthwise_kernel"):
                if isinstance(layer, L.MultiHeadAttention):
                    # query/key/value kernels [d_model, heads, key_dim], output [heads, key_dim, d]
                    fan_in = shape[0] if len(shape) == 3 and "attention_output" not in v.path \
                        else shape[0] * shape[1]
                    w = rng.normal(size=shape) / np.sqrt(fan_in)
                    if "/query/" in v.path or "/key/" in v.path:
                        w *= qk_gain
                else:
                    fan_in = np.prod(shape[:-1]) if leaf == "kernel" else np.prod(shape[:-2])
                    w = rng.normal(size=shape) * np.sqrt(2.0 / max(fan_in, 1))
                    w *= rng.uniform(0.5, 1.5, size=shape[-1])
            elif leaf == "bias":
                w = rng.uniform(-0.2, 0.2, size=shape)
            elif leaf == "gamma":
                w = rng.uniform(0.6, 1.4, size=shape)
            elif leaf == "beta":
                w = rng.uniform(-0.3, 0.3, size=shape)
            elif leaf == "moving_mean":
                w = rng.uniform(-0.3, 0.3, size=shape)
            elif leaf == "moving_variance":
                w = rng.uniform(0.5, 1.5, size=shape)
            else:
                raise RuntimeError(f"no rule to initialise variable {v.path}")
            v.assign(np.asarray(w, dtype=np.float32))


def keras_convert(model: keras.Model, variant: str, family: str, shape: tuple, lo: float,
                  hi: float, int8_output: bool = True) -> bytes:
    """Default converter settings; int8 = full-integer with int8 input (and output); 16x8 =
    TFLite's 16x8 mode (int16 activations, int8 weights) with int16 input and output."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant in ("int8", "16x8"):
        rng = np.random.default_rng(seed(family, 1))

        def rep():
            for _ in range(REP_SAMPLES):
                yield [rng.uniform(lo, hi, size=(1, *shape)).astype(np.float32)]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        if variant == "16x8":
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            conv.inference_input_type = tf.int16
            conv.inference_output_type = tf.int16
        else:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            if int8_output:
                conv.inference_output_type = tf.int8
    with g.quiet():
        return bytes(conv.convert())


def keras_ref(model: keras.Model):
    def ref(xs):
        y = model(xs[0], training=False)
        ys = y if isinstance(y, (list, tuple)) else [y]
        return [np.asarray(t, dtype=np.float32) for t in ys]
    return ref


def float_samples(family: str, shape: tuple, lo: float, hi: float, n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed(family, 2))
    return rng.uniform(lo, hi, size=(n, 1, *shape)).astype(np.float32)


def keras_variants(family, desc, build, shape, lo=-1.0, hi=1.0, batch=None, n=4, qk_gain=1.0,
                   weights_from=None, variants=("int8", "f32"), **kw) -> tuple[list[Variant], keras.Model]:
    keras.backend.clear_session()  # layer (and so tensor) names must not depend on earlier cases
    keras.utils.set_random_seed(seed(family, 9) % (1 << 31))
    x = keras.Input(shape, batch_size=batch, name="x")
    model = keras.Model(x, build(x), name=family)
    if weights_from is None:
        randomize(model, np.random.default_rng(seed(family, 0)), qk_gain=qk_gain)
    else:
        model.set_weights(weights_from.get_weights())
    # the weights/calibration/sample seeds of a "_fixed" twin are its base family's
    base = family[:-len("_fixed")] if family.endswith("_fixed") else family
    xs = float_samples(base, shape, lo, hi, n)
    out = []
    how = {"int8": ", full-integer int8 with int8 input/output)",
           "16x8": ", 16x8: int16 activations, int8 weights, int16 input/output)", "f32": ")"}
    for variant in variants:
        buf = keras_convert(model, variant, base, shape, lo, hi)
        out.append(Variant(name=f"{family}_{variant}", family=family, desc=desc,
                           source="keras (tf.lite.TFLiteConverter.from_keras_model, default settings"
                           + how[variant],
                           buf=buf, float_inputs=[xs], ref=keras_ref(model), lo_hi=(lo, hi),
                           extra={"keras_layers": [type(la).__name__ for la in model.layers[1:]]},
                           **kw))
    return out, model


# ----------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------

def case_flatten_cnn() -> list[Variant]:
    def build(x):
        y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        y = L.MaxPooling2D(2)(y)
        y = L.Conv2D(12, 3, padding="valid", activation="relu")(y)
        y = L.MaxPooling2D(2)(y)
        y = L.Flatten()(y)
        return L.Dense(10, activation="softmax")(y)
    shape = (12, 12, 3)
    desc = ("Keras Sequential-style CNN: Conv2D 3x3 SAME RELU, MaxPool 2, Conv2D 3x3 VALID RELU, "
            "MaxPool 2, Flatten, Dense + softmax; 12x12x3 -> 10")
    dyn, model = keras_variants(
        "keras_flatten_cnn", desc + ". Unknown batch (shape_signature [-1, 12, 12, 3]): Flatten "
        "lowers to SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE (the new shape is computed at run "
        "time from the input's batch)", build, shape, lo=0.0, hi=1.0)
    fixed, _ = keras_variants(
        "keras_flatten_cnn_fixed", desc + ". Same weights, calibration data and samples as "
        "keras_flatten_cnn but a fixed batch of 1 (Input(batch_size=1)): Flatten is a single "
        "RESHAPE with a constant shape", build, shape, lo=0.0, hi=1.0, batch=1,
        weights_from=model)
    _twins(dyn, fixed, "keras_flatten_cnn")
    return dyn + fixed


def _twins(dyn: list, fixed: list, family: str):
    for v in dyn:
        v.extra["fixed_batch_twin"] = v.name.replace(family, family + "_fixed")
    for v in fixed:
        v.extra["unknown_batch_twin"] = v.name.replace(family + "_fixed", family)


def case_global_max_pool() -> list[Variant]:
    def build(x):
        y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        y = L.Conv2D(12, 3, strides=2, padding="same", activation="relu")(y)
        y = L.GlobalMaxPooling2D()(y)
        return L.Dense(5)(y)
    v, _ = keras_variants(
        "keras_global_max_pool", "Keras CNN ending in GlobalMaxPooling2D (REDUCE_MAX over axes "
        "[1, 2]) + Dense logits: Conv2D 3x3 SAME RELU, Conv2D 3x3 stride 2 SAME RELU; unknown "
        "batch; 12x12x3 -> 5", build, (12, 12, 3))
    return v


def case_mobilenet_16x8() -> list[Variant]:
    """A MobileNetV2-style classifier in 16x8 beside its int8 twin (same weights and samples)."""
    def block(y, expand, out, stride):
        cin = y.shape[-1]
        h = L.Conv2D(cin * expand, 1, use_bias=False)(y)
        h = L.BatchNormalization()(h)
        h = L.ReLU(6.0)(h)
        h = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(h)
        h = L.BatchNormalization()(h)
        h = L.ReLU(6.0)(h)
        h = L.Conv2D(out, 1, use_bias=False)(h)
        h = L.BatchNormalization()(h)
        return L.Add()([y, h]) if stride == 1 and cin == out else h

    def build(x):
        y = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = block(y, 1, 8, 1)
        y = block(y, 4, 12, 2)
        y = block(y, 4, 12, 1)
        y = block(y, 4, 16, 2)
        y = block(y, 4, 16, 1)
        y = L.Conv2D(32, 1, use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = L.GlobalAveragePooling2D()(y)
        return L.Dense(10, activation="softmax")(y)
    desc = ("MobileNetV2-style classifier: Conv2D 3x3 s2 + BN + ReLU6, five inverted-residual "
            "blocks (1x1 expand, depthwise 3x3, 1x1 project, residual Add), 1x1 conv to 32, "
            "global average pool, Dense + softmax; 32x32x3 -> 10; 16x8 with its int8 twin")
    out, _ = keras_variants("mobilenet_v2_small", desc, build, (32, 32, 3), lo=0.0, hi=1.0,
                            batch=1, variants=("int8", "16x8"))
    return out


def case_mobilenet_v2_160() -> list[Variant]:
    """A MobileNetV2 (alpha 0.35 widths) at 160x160x3, truncated after the 24-channel stage, as
    a user's Keras model would be: the large early activations the RAM-budget planner bands."""
    def block(y, expand, out, stride):
        cin = y.shape[-1]
        h = y
        if expand != 1:  # as in MobileNetV2: the first block has no expansion convolution
            h = L.Conv2D(cin * expand, 1, use_bias=False)(h)
            h = L.BatchNormalization()(h)
            h = L.ReLU(6.0)(h)
        h = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(h)
        h = L.BatchNormalization()(h)
        h = L.ReLU(6.0)(h)
        h = L.Conv2D(out, 1, use_bias=False)(h)
        h = L.BatchNormalization()(h)
        return L.Add()([y, h]) if stride == 1 and cin == out else h

    def build(x):
        y = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        # (expansion, channels, repeats, first stride): MobileNetV2's first four stages with
        # alpha 0.35 (channels rounded to multiples of 8)
        for t, c, n, s in ((1, 8, 1, 1), (6, 8, 2, 2), (6, 16, 3, 2), (6, 24, 4, 2)):
            for k in range(n):
                y = block(y, t, c, s if k == 0 else 1)
        y = L.Conv2D(128, 1, use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = L.GlobalAveragePooling2D()(y)
        return L.Dense(10, activation="softmax")(y)
    desc = ("MobileNetV2 (alpha 0.35 widths) at 160x160x3: Conv2D 3x3 s2 to 16 + BN + ReLU6, "
            "inverted-residual blocks (1x1 expand x6 + ReLU6, depthwise 3x3 + ReLU6, linear 1x1 "
            "project, residual Add where stride 1 and channels match) in stages of 8 (1 block, no "
            "expansion), 8 (2, s2), 16 (3, s2), 24 (4, s2) channels, then 1x1 conv to 128 + ReLU6, "
            "global average pool, Dense + softmax; 160x160x3 -> 10. Early activations up to "
            "80x80x48 int8: the RAM-budget (patch-based) planner's test case")
    out, _ = keras_variants("mobilenet_v2_160", desc, build, (160, 160, 3), lo=0.0, hi=1.0,
                            batch=1, variants=("int8",))
    return out


def case_audio_conv1d() -> list[Variant]:
    """A 1-D convolutional keyword-spotting-style audio model in 16x8 (and int8)."""
    def build(x):
        y = L.Conv1D(16, 5, strides=2, padding="same", activation="relu")(x)
        y = L.Conv1D(24, 3, padding="same", activation="relu")(y)
        y = L.MaxPooling1D(2)(y)
        y = L.Conv1D(32, 3, padding="same", activation="relu")(y)
        y = L.GlobalAveragePooling1D()(y)
        y = L.Dense(16, activation="relu")(y)
        return L.Dense(4, activation="softmax")(y)
    desc = ("1-D conv audio classifier over 49 frames x 40 filterbank channels: Conv1D 5 s2 "
            "RELU, Conv1D 3 RELU, MaxPool1D 2, Conv1D 3 RELU, global average pool, Dense RELU, "
            "Dense + softmax; 16x8 with its int8 twin")
    out, _ = keras_variants("audio_conv1d", desc, build, (49, 40), lo=-1.0, hi=1.0, batch=1,
                            variants=("int8", "16x8"))
    return out


def litert_runtime_shapes(buf: bytes, xs: list) -> dict:
    """Tensor shapes after LiteRT (reference kernels) prepared and ran sample 0."""
    it = g.litert.Interpreter(model_content=buf,
                              experimental_op_resolver_type=g.litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    sg = g.load_model(buf).subgraphs[0]
    for t, x in zip(sg.inputs, xs):
        it.set_tensor(int(t), x[0])
    it.invoke()
    return {int(d["index"]): [int(s) for s in d["shape"]] for d in it.get_tensor_details()}


def with_runtime_shapes(buf: bytes, xs: list) -> tuple[bytes, list]:
    """The model with every tensor's stored shape replaced by LiteRT's run-time shape."""
    shapes = litert_runtime_shapes(buf, xs)
    model = g.load_model(buf)
    changed = []
    for i, t in enumerate(model.subgraphs[0].tensors):
        if i in shapes and t.shape is not None and [int(s) for s in t.shape] != shapes[i]:
            changed.append({"tensor": t.name.decode(), "stored_shape": [int(s) for s in t.shape],
                            "shape_signature": [int(s) for s in t.shapeSignature],
                            "runtime_shape": shapes[i]})
            t.shape = np.array(shapes[i], dtype=np.int32)
    return g.pack_model(model), changed


def same_outputs(a: list, b: list) -> bool:
    for x, y in zip(a, b):
        tol = 0 if x.dtype == np.int8 else 1e-5 * max(float(np.abs(y).max()), 1e-30)
        if _diff(x, y) > tol:
            return False
    return True


def dilated_evidence(buf, xs, lr, tflm_runs) -> dict:
    fixed, changed = with_runtime_shapes(buf, xs)
    n = len(xs[0])
    runs = [g.run_tflm(fixed, xs, n) for _ in range(2)]
    return {"tensors_whose_stored_shape_is_wrong": changed,
            "tflm_with_litert_runtime_shapes_matches_litert_ref": all(same_outputs(r, lr) for r in runs)}


def case_dilated_conv() -> list[Variant]:
    def build(x):
        y = L.Conv2D(8, 3, dilation_rate=2, padding="same", activation="relu")(x)
        y = L.Conv2D(8, 3, dilation_rate=2, padding="valid", activation="relu")(y)
        y = L.GlobalAveragePooling2D()(y)
        return L.Dense(4)(y)
    why = ("TFLM is wrong on this model. (1) With an unknown batch the converter stores the "
           "SPACE_TO_BATCH_ND / CONV_2D outputs with shape_signature [-1, ...] and a stored shape "
           "whose -1 became 1 (e.g. [1, 8, 8, 3] where the real shape for batch 1 is [4, 8, 8, 3]: "
           "the 2x2 block is folded into the batch). TFLM does not re-derive shapes: it plans the "
           "arena from the stored shapes, SPACE_TO_BATCH_ND writes 4x the allocated bytes (over "
           "other tensors), CONV_2D computes 1 of the 4 batches and BATCH_TO_SPACE_ND reads memory "
           "nobody wrote, so the output is garbage that depends on what the arena held (it can "
           "change between runs). LiteRT resizes the tensors in Prepare and matches Keras. "
           "(2) int8 only: even with the shapes corrected (tensors_whose_stored_shape_is_wrong), "
           "TFLM's int8 SPACE_TO_BATCH_ND pads with 0 instead of the input zero point (its "
           "SpaceToBatchParams.output_offset is never set), so it is still 1 LSB off LiteRT; "
           "LiteRT pads with the zero point, i.e. real 0, as Keras does. The golden equals TFLM's "
           "output for the fixed-batch twin (check.max_abs_diff_vs_fixed_batch_twin)")
    desc = ("Keras Conv2D(dilation_rate=2) SAME RELU and Conv2D(dilation_rate=2) VALID RELU, "
            "GlobalAveragePooling2D (MEAN), Dense logits; 12x12x3 -> 4")
    dyn, model = keras_variants(
        "keras_dilated_conv", desc + ". Unknown batch: the converter lowers each dilated conv to "
        "SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND (+ ADD for bias and RELU). GOLDEN FROM "
        "LiteRT (see golden_source_why / check)", build, (12, 12, 3),
        golden="litert", golden_why=why, evidence=dilated_evidence)
    fixed, _ = keras_variants(
        "keras_dilated_conv_fixed", desc + ". Same weights, calibration data and samples as "
        "keras_dilated_conv but a fixed batch of 1: each dilated conv is one CONV_2D with "
        "dilation factors 2 (TFLM golden)", build, (12, 12, 3), batch=1, weights_from=model)
    _twins(dyn, fixed, "keras_dilated_conv")
    return dyn + fixed


def case_attention() -> list[Variant]:
    def build(x):
        a = L.MultiHeadAttention(num_heads=2, key_dim=8, name="mha")(x, x)
        y = L.Add()([x, a])
        return L.LayerNormalization(epsilon=1e-3)(y)
    v, _ = keras_variants(
        "attention_block", "Self-attention block on a [1, 8, 16] sequence: Keras "
        "MultiHeadAttention (2 heads, key_dim 8: FULLY_CONNECTED q/k/v, RESHAPE, TRANSPOSE, "
        "BATCH_MATMUL, scale MUL, SOFTMAX, BATCH_MATMUL, output FULLY_CONNECTED), residual ADD, "
        "LayerNormalization (MEAN, SQUARED_DIFFERENCE, RSQRT, MUL, ADD; the int8 model keeps a "
        "float NEG between DEQUANTIZE/QUANTIZE); unknown batch", build, (8, 16), qk_gain=2.5,
        lsb_tol=16.0)
    return v


# ---------------- PyTorch ----------------

class TorchCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.avg(torch.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        return self.fc(x)


def case_pytorch_cnn() -> list[Variant]:
    family = "pytorch_cnn"
    torch.manual_seed(seed(family, 9) % (1 << 31))
    m = TorchCNN().eval()
    rng = np.random.default_rng(seed(family, 0))
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                w = mod.weight
                fan_in = int(np.prod(w.shape[1:]))
                a = rng.normal(size=tuple(w.shape)) * np.sqrt(2.0 / fan_in)
                a *= rng.uniform(0.5, 1.5, size=(w.shape[0],) + (1,) * (w.dim() - 1))
                w.copy_(torch.from_numpy(a.astype(np.float32)))
                mod.bias.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, mod.bias.shape).astype(np.float32)))
            elif isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                for t, lo, hi in ((mod.weight, 0.6, 1.4), (mod.bias, -0.3, 0.3),
                                  (mod.running_mean, -0.3, 0.3), (mod.running_var, 0.5, 1.5)):
                    t.copy_(torch.from_numpy(rng.uniform(lo, hi, c).astype(np.float32)))
    shape = (3, 16, 16)
    args = (torch.zeros(1, *shape),)
    xs = float_samples(family, shape, 0.0, 1.0)

    def ref(xin):
        with torch.no_grad():
            return [m(torch.from_numpy(xin[0])).numpy().astype(np.float32)]

    with g.quiet():
        buf_f32 = bytes(litert_torch.convert(m, args).model_content())

    # int8: PT2E static quantization (litert-torch's quantizer, per-channel weights), calibrated on
    # seeded data; litert-torch then emits a full-integer model with int8 input and output.
    ep = torch.export.export(m, args).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    pm = quantize_pt2e.prepare_pt2e(ep, quantizer)
    crng = np.random.default_rng(seed(family, 1))
    with torch.no_grad():
        for _ in range(REP_SAMPLES):
            pm(torch.from_numpy(crng.uniform(0.0, 1.0, (1, *shape)).astype(np.float32)))
    qm = quantize_pt2e.convert_pt2e(pm, fold_quantize=False)
    with g.quiet():
        buf_i8 = bytes(litert_torch.convert(
            qm, args, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer)).model_content())

    desc = ("PyTorch CNN (NCHW [1, 3, 16, 16]): Conv2d 3x3 pad 1 + BatchNorm2d + ReLU, MaxPool2d 2, "
            "Conv2d 3x3 stride 2 pad 1 + BatchNorm2d + ReLU, AvgPool2d 2, flatten, Linear 64 -> 10; "
            "exported with litert-torch: TRANSPOSE NCHW->NHWC at the input, batch norm folded, the "
            "explicit padding of the strided conv kept as PAD + VALID CONV_2D, TRANSPOSE back to "
            "NCHW before the flatten RESHAPE")
    return [
        Variant(name=f"{family}_int8", family=family, desc=desc + "; int8 via litert-torch's PT2E "
                "quantizer (symmetric per-channel weights, HistogramObserver activations)",
                source="pytorch (torch.export + torchao prepare_pt2e/convert_pt2e with "
                "litert_torch PT2EQuantizer, litert_torch.convert(quant_config=...))",
                buf=buf_i8, float_inputs=[xs], ref=ref, lo_hi=(0.0, 1.0)),
        Variant(name=f"{family}_f32", family=family, desc=desc,
                source="pytorch (litert_torch.convert, default settings)",
                buf=buf_f32, float_inputs=[xs], ref=ref, lo_hi=(0.0, 1.0)),
    ]


# ---------------- SSD detector ----------------

SSD_H, SSD_A, SSD_NC = 4, 3, 4  # 4x4 feature map, 3 anchors per cell, 4 classes (+ background)
SSD_LOGIT_GAIN = 8.0
SSD_CLASS_BIAS = [0.0, 0.0, -0.5, -1.0, -1.5]  # background, classes 0..3
SSD_THRESHOLDS = (0.8, 0.45)  # nms_score_threshold, nms_iou_threshold
SSD_SCALES = {"y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}


def ssd_anchors() -> np.ndarray:
    """[48, 4] anchors (ycenter, xcenter, h, w), 3 shapes per cell of a 4x4 grid; boxes of one
    cell overlap each other (IoU up to ~0.58) and their neighbours'."""
    a = []
    for i in range(SSD_H):
        for j in range(SSD_H):
            for h, w in ((0.4, 0.4), (0.55, 0.3), (0.3, 0.55)):
                a.append(((i + 0.5) / SSD_H, (j + 0.5) / SSD_H, h, w))
    return np.array(a, dtype=np.float32)


def detection_options(max_detections, max_classes_per_detection, detections_per_class,
                      use_regular_nms, score_threshold, iou_threshold) -> bytes:
    b = flex.Builder()
    with b.Map():
        b.Int("max_detections", max_detections)
        b.Int("max_classes_per_detection", max_classes_per_detection)
        b.Int("detections_per_class", detections_per_class)
        b.Bool("use_regular_nms", use_regular_nms)
        b.Float("nms_score_threshold", score_threshold)
        b.Float("nms_iou_threshold", iou_threshold)
        b.Int("num_classes", SSD_NC)
        for k, v in SSD_SCALES.items():
            b.Float(k, v)
    return bytes(b.Finish())


def _add_tensor(model, sg, name, shape, ttype, data: bytes | None = None) -> int:
    buf = fb.BufferT()
    if data is not None:
        buf.data = np.frombuffer(data, dtype=np.uint8).copy()
    model.buffers.append(buf)
    t = fb.TensorT()
    t.name = name.encode()
    t.shape = np.array(shape, dtype=np.int32)
    t.type = ttype
    t.buffer = len(model.buffers) - 1
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def append_detection_postprocess(buf: bytes, options: bytes, rows: int) -> bytes:
    """Append TFLite_Detection_PostProcess to a converted head whose two outputs are box encodings
    [1, A, 4] and class scores [1, A, C+1]; the anchors become a constant [A, 4] float input; the
    model's outputs become the op's four float outputs (boxes [1, rows, 4], classes [1, rows],
    scores [1, rows], num_detections [1])."""
    model = g.load_model(buf)
    sg = model.subgraphs[0]
    outs = [int(i) for i in sg.outputs]
    (box,) = [i for i in outs if sg.tensors[i].shape[-1] == 4]
    (score,) = [i for i in outs if sg.tensors[i].shape[-1] == SSD_NC + 1]
    anchors = ssd_anchors()
    anc = _add_tensor(model, sg, "anchors", anchors.shape, fb.TensorType.FLOAT32, anchors.tobytes())
    o = [_add_tensor(model, sg, "detection_boxes", [1, rows, 4], fb.TensorType.FLOAT32),
         _add_tensor(model, sg, "detection_classes", [1, rows], fb.TensorType.FLOAT32),
         _add_tensor(model, sg, "detection_scores", [1, rows], fb.TensorType.FLOAT32),
         _add_tensor(model, sg, "num_detections", [1], fb.TensorType.FLOAT32)]
    code = fb.OperatorCodeT()
    code.builtinCode = fb.BuiltinOperator.CUSTOM
    code.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
    code.customCode = DETECTION_OP.encode()
    code.version = 1
    model.operatorCodes.append(code)
    op = fb.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs = np.array([box, score, anc], dtype=np.int32)
    op.outputs = np.array(o, dtype=np.int32)
    op.customOptions = np.frombuffer(options, dtype=np.uint8).copy()
    op.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS
    sg.operators.append(op)
    sg.outputs = np.array(o, dtype=np.int32)
    return g.pack_model(model)


def case_ssd() -> tuple[list[Variant], list[dict]]:
    family = "ssd_detector"
    shape = (16, 16, 3)

    def build(x):
        y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(y)
        b = L.Conv2D(SSD_A * 4, 3, padding="same", name="box_conv")(y)
        b = L.Reshape((SSD_H * SSD_H * SSD_A, 4), name="box_encodings")(b)
        c = L.Conv2D(SSD_A * (SSD_NC + 1), 3, padding="same", name="class_conv")(y)
        c = L.Reshape((SSD_H * SSD_H * SSD_A, SSD_NC + 1))(c)
        return [b, L.Activation("sigmoid", name="class_scores")(c)]

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed(family, 9) % (1 << 31))
    x = keras.Input(shape, batch_size=1, name="image")
    model = keras.Model(x, build(x), name=family)
    randomize(model, np.random.default_rng(seed(family, 0)))
    # The random head gives small outputs on [0, 1] noise images: widen the class logits (and
    # give each class its own offset, so classes fire at different rates) and the box offsets,
    # so that several anchors of several classes pass the score threshold and overlap.
    cc, bc = model.get_layer("class_conv"), model.get_layer("box_conv")
    cc.kernel.assign(cc.kernel.numpy() * SSD_LOGIT_GAIN)
    cc.bias.assign(np.tile(np.array(SSD_CLASS_BIAS, np.float32), SSD_A))
    bc.kernel.assign(bc.kernel.numpy() * 3.0)
    xs = float_samples(family, shape, 0.0, 1.0)
    heads = {v: keras_convert(model, v, family, shape, 0.0, 1.0, int8_output=False)
             for v in ("int8", "f32")}
    head_int8_out = keras_convert(model, "int8", family, shape, 0.0, 1.0, int8_output=True)

    thr, iou = SSD_THRESHOLDS
    configs = [
        # (suffix, max_det, max_classes_per_detection, detections_per_class, regular, golden)
        ("", 10, 1, 4, False, "tflm"),
        ("_regular_nms", 10, 1, 3, True, "tflm"),
        ("_fast_2cls", 5, 2, 4, False, "litert"),
    ]
    common = (f"SSD-style detector: Conv2D 3x3/2 RELU x2 on a 16x16x3 image -> 4x4x16, box head "
              f"conv -> RESHAPE [1, 48, 4] and class head conv -> LOGISTIC -> RESHAPE [1, 48, 5] "
              f"(background + {SSD_NC} classes), then TFLite_Detection_PostProcess (custom op, "
              f"appended in the flatbuffer) with 48 constant anchors [48, 4] (3 overlapping shapes "
              f"per cell), nms_score_threshold {thr}, nms_iou_threshold {iou}, scales y/x 10, "
              f"h/w 5; outputs boxes [1, R, 4], classes [1, R], scores [1, R], num_detections [1]")
    variants, refused = [], []
    for suffix, max_det, mcpd, dpc, regular, golden in configs:
        opts = detection_options(max_det, mcpd, dpc, regular, thr, iou)
        rows = max_det * mcpd
        nms = (f"regular NMS (use_regular_nms true, detections_per_class {dpc})" if regular else
               f"fast NMS (use_regular_nms false, max_classes_per_detection {mcpd})")
        for variant in (("int8", "f32") if suffix != "_fast_2cls" else ("f32",)):
            buf = append_detection_postprocess(heads[variant], opts, rows)
            note = (f"{DETECTION_OP} appended after conversion: custom options (FlexBuffer map) "
                    f"{flex.Loads(opts)}, anchors as a constant FLOAT32 [48, 4] input, "
                    f"the op's 4 outputs made the model outputs")
            d = common + f"; max_detections {max_det} (R = {rows}), {nms}"
            if variant == "int8":
                d += ("; int8 head (int8 input) with float outputs: the converter's DEQUANTIZE "
                      "ops feed float box encodings / scores to the custom op (TFLM's kernel "
                      "takes FLOAT32 inputs only)")
            why = ""
            if golden == "litert":
                d += ("; GOLDEN FROM LiteRT: TFLM mis-indexes the output rows when "
                      "max_classes_per_detection > 1 (see golden_source)")
                why = ("TFLM's fast-NMS output loop advances its row counter once per (anchor, "
                       "class) AND multiplies it by the classes per anchor, so with "
                       "max_classes_per_detection 2 it writes rows 0, 3, 4, 7, 8, ... past the end "
                       "of the [1, R, 4] / [1, R] outputs (over the neighbouring output tensors) "
                       "and reports num_detections = anchors x classes; LiteRT writes rows 2k, "
                       "2k+1 for the k-th kept anchor and num_detections = kept anchors")
            vrows = _valid_rows_fn(mcpd, golden)
            ev = None
            if golden == "litert":
                def ev(buf, xs, lr, tflm_runs, mcpd=mcpd, rows=rows):
                    n = len(xs[0])
                    raw = g.run_tflm(buf, xs, n)
                    tn = [int(k) for k in raw[3].reshape(n)]
                    return {"output_rows": rows,
                            "tflm_num_detections": tn,
                            "litert_num_detections": [int(k) for k in lr[3].reshape(n)],
                            "tflm_highest_row_written": [mcpd * (c - 1) + mcpd - 1 for c in tn],
                            "tflm_writes_past_output_rows": any(mcpd * c > rows for c in tn)}
            variants.append(Variant(
                name=f"{family}{suffix}_{variant}", family=f"{family}{suffix}", desc=d,
                source="keras head (tf.lite.TFLiteConverter, fixed batch 1) + custom op appended "
                       "with the flatbuffers object API",
                buf=buf, float_inputs=[xs], ref=None, lo_hi=(0.0, 1.0), golden=golden,
                golden_why=why, hand_edited=note, valid_rows=vrows,
                valid_rows_note=_valid_rows_note(regular, mcpd, golden),
                extra={"detection_options": flex.Loads(opts), "anchors_tensor": "anchors",
                       "keras_layers": [type(la).__name__ for la in model.layers[1:]]},
                extra_check={**ssd_head_check(heads[variant], model, xs, variant, thr),
                             **nms_uncapped(heads[variant], xs, mcpd, dpc, regular, thr, iou)},
                evidence=ev))
    # int8 box encodings / scores straight into the custom op: both TFLM and LiteRT refuse.
    buf = append_detection_postprocess(head_int8_out, detection_options(8, 1, 4, False, thr, iou), 8)
    refused.append(try_refused(f"{family}_int8_direct", buf, xs,
                               "int8 box encodings and class scores fed directly (no DEQUANTIZE) "
                               "to TFLite_Detection_PostProcess"))
    return variants, refused


def _valid_rows_fn(mcpd: int, golden: str):
    def f(outs):
        n = outs[3].reshape(len(outs[3]), -1)[:, 0]
        per = mcpd if golden == "litert" else 1  # LiteRT counts anchors, mcpd rows each
        return [int(round(float(k))) * per for k in n]
    return f


def _valid_rows_note(regular: bool, mcpd: int, golden: str) -> str:
    if regular:
        return ("all R rows are written by the kernel (rows >= num_detections are zeros); the "
                "whole arrays are the golden")
    s = ("fast NMS leaves rows >= the written count UNWRITTEN (whatever the arena held; it "
         "differs between TFLM runs); the golden files hold 0 there; compare only the first ")
    if mcpd > 1 and golden == "litert":
        return s + "num_detections * max_classes_per_detection rows (LiteRT: num_detections counts anchors)"
    return s + "num_detections rows of boxes/classes/scores (and num_detections itself)"


def nms_uncapped(head_buf, xs, mcpd, dpc, regular, thr, iou) -> dict:
    """How many detections the same op keeps with max_detections = all anchors (LiteRT reference
    kernels): shows that NMS suppresses boxes and that max_detections caps some samples."""
    na = SSD_H * SSD_H * SSD_A
    opts = detection_options(na, mcpd, na if regular else dpc, regular, thr, iou)
    buf = append_detection_postprocess(head_buf, opts, na * mcpd)
    sg = g.load_model(buf).subgraphs[0]
    ind = g.tensor_desc(sg, sg.inputs[0])
    x = g.quantize(xs, ind["quant"]) if ind["dtype"] == "INT8" else xs
    n = g.run_litert(buf, [x], len(xs))[3].reshape(len(xs))
    return {"detections_if_max_detections_were_" + str(na): [int(k) for k in n]}


def ssd_head_check(head_buf, model, xs, variant, thr) -> dict:
    """The detector's head alone (before the custom op) vs Keras, and how much work NMS does."""
    sg = g.load_model(head_buf).subgraphs[0]
    ind = g.tensor_desc(sg, sg.inputs[0])
    x = g.quantize(xs, ind["quant"]) if variant == "int8" else xs
    outs = g.run_tflm(head_buf, [x], len(xs))
    shapes = [list(sg.tensors[i].shape) for i in sg.outputs]
    box = outs[[s[-1] for s in shapes].index(4)]
    score = outs[[s[-1] for s in shapes].index(SSD_NC + 1)]
    kb, ks = zip(*[[np.asarray(t) for t in model(xs[s], training=False)] for s in range(len(xs))])
    kb, ks = np.stack(kb), np.stack(ks)
    rel = max(float(np.abs(box - kb).max() / np.abs(kb).max()),
              float(np.abs(score - ks).max() / np.abs(ks).max()))
    cands = (score[..., 1:].max(axis=-1) >= thr).reshape(len(xs), -1).sum(axis=1)
    pairs = (score[..., 1:] >= thr).reshape(len(xs), -1).sum(axis=1)
    if variant == "f32":
        if not rel < F32_REL_BOUND:
            raise RuntimeError(f"SSD head: TFLM f32 is {rel} off Keras")
        err = {"head_max_rel_err_vs_keras_below": F32_REL_BOUND}
    else:
        val = max(float(np.abs(box - kb).max()), float(np.abs(score - ks).max()))
        err = {"head_max_abs_err_vs_keras": math.ceil(val * 100) / 100}  # rounded up to 0.01
    return {**err,
            "anchors_with_max_class_score_above_threshold": [int(c) for c in cands],
            "anchor_class_pairs_above_threshold": [int(c) for c in pairs]}


def try_refused(name, buf, xs, what) -> dict:
    sg = g.load_model(buf).subgraphs[0]
    ind = g.tensor_desc(sg, sg.inputs[0])
    x = g.quantize(xs, ind["quant"]) if ind["dtype"] == "INT8" else xs
    rec = {"name": name, "what": what}
    try:
        g.run_tflm(buf, [x], 1)
        rec["error"] = None
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"
    try:
        g.run_litert(buf, [x], 1)
        rec["litert_ref_error"] = None
    except Exception as e:  # noqa: BLE001
        rec["litert_ref_error"] = str(e).strip().splitlines()[0]
    if rec["error"] is None:
        raise RuntimeError(f"{name}: expected TFLM to refuse it")
    rec["note"] = ("TFLM's TFLite_Detection_PostProcess decodes boxes and reads scores as FLOAT32 "
                   "only (Prepare succeeds, Eval returns an error); LiteRT's supports FLOAT32 and "
                   "UINT8, not INT8. An int8 detector must DEQUANTIZE before the custom op.")
    return rec


# ----------------------------------------------------------------------------
# Per-case generation
# ----------------------------------------------------------------------------

def io_desc(sg, idx) -> dict:
    d = g.tensor_desc(sg, idx)
    sig = sg.tensors[idx].shapeSignature
    if sig is not None and len(sig):
        d["shape_signature"] = [int(s) for s in sig]
    return d


def describe(model) -> list:
    ops = g.describe_ops(model)
    sg = model.subgraphs[0]
    for o, op in zip(ops, sg.operators):
        code = model.operatorCodes[op.opcodeIndex]
        if o["op"] == "CUSTOM":
            o["custom_code"] = code.customCode.decode()
            if op.customOptions is not None:
                o["custom_options"] = flex.Loads(bytes(np.asarray(op.customOptions, np.uint8)))
        for t, i in zip(o["inputs"], op.inputs):
            if t is not None:
                sig = sg.tensors[i].shapeSignature
                if sig is not None and len(sig):
                    t["shape_signature"] = [int(s) for s in sig]
        for t, i in zip(o["outputs"], op.outputs):
            sig = sg.tensors[i].shapeSignature
            if sig is not None and len(sig):
                t["shape_signature"] = [int(s) for s in sig]
    return ops


def io_dtype(in_desc: list, out_desc: list) -> str:
    i = "/".join(dict.fromkeys(t["dtype"].lower() for t in in_desc))
    o = "/".join(dict.fromkeys(t["dtype"].lower() for t in out_desc))
    return i if i == o else f"{i} in, {o} out"


def op_names(ops: list) -> list:
    return [o.get("custom_code", o["op"]) for o in ops]


def _mask_rows(outs: list, rows: list) -> list:
    """Zero detection rows at index >= rows[s] (boxes, classes, scores); num_detections as is."""
    res = [o.copy() for o in outs]
    for s, r in enumerate(rows):
        for k in range(3):
            res[k][s, :, r:] = 0
    return res


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def tflm_history_dependent(buf: bytes, xs: list, v: Variant) -> bool:
    """Does TFLM's output for a sample change when the same fresh interpreter first ran another
    sample? (Reading memory it never wrote.)"""
    n = len(xs[0])
    for s in range(n):
        a = g.run_tflm(buf, [x[s:s + 1] for x in xs], 1)
        o = (s + 1) % n
        b = g.run_tflm(buf, [np.concatenate([x[o:o + 1], x[s:s + 1]]) for x in xs], 2)
        if v.valid_rows is not None:
            a = _mask_rows(a, _valid_rows_fn(1, "tflm")(a))
            b = _mask_rows(b, _valid_rows_fn(1, "tflm")(b))
        if any(_diff(p[0], q[1]) != 0 for p, q in zip(a, b)):
            return True
    return False


def gen_case(v: Variant, out_dir: Path) -> dict:
    buf = v.buf
    model = g.load_model(buf)
    sg = model.subgraphs[0]
    in_desc = [io_desc(sg, i) for i in sg.inputs]
    out_desc = [io_desc(sg, i) for i in sg.outputs]
    xs = []
    for d, fx in zip(in_desc, v.float_inputs):
        x = (g.quantize(fx, d["quant"], g.NP_TYPES[d["dtype"]]) if d["dtype"] in ("INT8", "INT16")
             else fx.astype(np.float32))
        assert list(x.shape[1:]) == d["shape"], (v.name, x.shape, d["shape"])
        xs.append(np.ascontiguousarray(x))
    n = len(xs[0])
    # quantized (exact) outputs: int8, and int16 of 16x8 models
    is_int8_out = [d["dtype"] in ("INT8", "INT16") for d in out_desc]

    # --- TFLM, several fresh interpreters ----------------------------------------
    tflm_runs, tflm_error = [], None
    for _ in range(TFLM_RUNS):
        try:
            tflm_runs.append(g.run_tflm(buf, xs, n))
        except Exception as e:  # noqa: BLE001
            tflm_error = f"{type(e).__name__}: {e}"
            break
    if tflm_error is not None:
        raise g.TflmRefused(v.name, tflm_error)
    try:
        lr = g.run_litert(buf, xs, n)
        lr_error = None
    except Exception as e:  # noqa: BLE001
        lr, lr_error = None, str(e).strip().splitlines()[0]

    check = {"tflm_runs": TFLM_RUNS}
    if v.valid_rows is not None:
        # detection outputs: only the rows the kernel writes are defined; zero the others
        tflm_runs = [_mask_rows(r, _valid_rows_fn(1, "tflm")(r)) for r in tflm_runs]
        if lr is not None:
            lr = _mask_rows(lr, v.valid_rows(lr))
    stable = all(_diff(a, b) == 0 for r in tflm_runs[1:] for a, b in zip(r, tflm_runs[0]))
    y_tflm = tflm_runs[0]
    differs = None
    if lr is not None:
        per_sample = np.zeros(n, dtype=bool)
        for a, b, i8 in zip(y_tflm, lr, is_int8_out):
            tol = 0 if i8 else 1e-5 * max(float(np.abs(b).max()), 1e-30)
            per_sample |= np.abs(a.astype(np.float64) - b).reshape(n, -1).max(axis=1) > tol
        differs = int(per_sample.sum())

    ref = None
    if v.ref is not None:
        deq = [g.dequantize(x, d.get("quant")) for x, d in zip(xs, in_desc)]
        refs = [v.ref([a[s] for a in deq]) for s in range(n)]
        ref = [np.stack([r[k] for r in refs]) for k in range(len(out_desc))]
    int8_model_out = any(is_int8_out)
    # The float reference (Keras / TF eager on the CPU) is not bit-reproducible from run to run, so
    # errors are recorded coarsely: int8 rounded up to 0.1 LSB, float32 as a fixed bound.
    err_key = "max_err_vs_float_lsb" if int8_model_out else "max_rel_err_vs_float_below"
    err_tol = v.lsb_tol if int8_model_out else F32_REL_BOUND

    def err_value(e: float) -> float:
        return math.ceil(e * 10) / 10 if int8_model_out else F32_REL_BOUND

    def err_vs_float(outs) -> float:
        errs = []
        for o, r, d in zip(outs, ref, out_desc):
            if d["dtype"] in ("INT8", "INT16"):
                lsb, zp = d["quant"]["scale"][0], d["quant"]["zero_point"][0]
                lo, hi = g.TYPE_RANGE[d["dtype"]]
                rc = np.clip(r, (lo - zp) * lsb, (hi - zp) * lsb)
                # int16 errors in int8-sized steps (256 int16 LSBs), one tolerance for both
                step = lsb * (256 if d["dtype"] == "INT16" else 1)
                errs.append(float(np.abs(g.dequantize(o, d["quant"]) - rc).max() / step))
            else:
                errs.append(float(np.abs(o - r).max() / max(float(np.abs(r).max()), 1e-6)))
        e = max(errs)
        return e if np.isfinite(e) else float("inf")

    if v.golden == "tflm":
        if not stable:
            raise RuntimeError(f"{v.name}: TFLM output varies between runs; golden must not be TFLM")
        y = y_tflm
        check["tflm_identical_across_runs"] = True
        if lr is not None:
            check["samples_where_litert_ref_differs"] = differs
            check["tflm_vs_litert_ref_max_abs_diff"] = [
                (int(d) if i8 else float(f"{d:.3g}"))
                for d, i8 in zip((_diff(a, b) for a, b in zip(y_tflm, lr)), is_int8_out)]
        else:
            check["litert_ref_error"] = lr_error
        if ref is not None:
            e = err_vs_float(y)
            check[err_key] = err_value(e)
            if not e <= err_tol:
                raise RuntimeError(f"{v.name}: TFLM is {e} off the float model (tol {err_tol})")
    else:
        # LiteRT golden. TFLM's wrong output depends on arena contents, so only reproducible
        # facts about it go into the index (the numbers of one run: --evidence, docs).
        if lr is None:
            raise RuntimeError(f"{v.name}: golden declared LiteRT but LiteRT failed: {lr_error}")
        if differs == 0 and stable:
            raise RuntimeError(f"{v.name}: golden declared LiteRT but TFLM agrees with it")
        y = lr
        check["tflm_matches_litert_ref"] = False
        if ref is not None:
            e = err_vs_float(lr)
            check[f"litert_ref_{err_key}"] = err_value(e)
            if not e <= err_tol:
                raise RuntimeError(f"{v.name}: LiteRT is {e} off the float model (tol {err_tol})")
            check["tflm_far_from_float"] = not err_vs_float(y_tflm) <= err_tol
        if v.evidence is not None:
            check.update(v.evidence(buf, xs, lr, tflm_runs))
    if ref is not None:
        check["float_reference"] = v.source.split(" ")[0]
    check.update(v.extra_check)

    # --- write files ----------------------------------------------------------------
    case = v.name
    (out_dir / f"{case}.tflite").write_bytes(buf)
    in_files = ([f"{case}.inputs.npy"] if len(xs) == 1 else
                [f"{case}.inputs.{k}.npy" for k in range(len(xs))])
    out_files = ([f"{case}.outputs.npy"] if len(y) == 1 else
                 [f"{case}.outputs.{k}.npy" for k in range(len(y))])
    for f, x in zip(in_files, xs):
        np.save(out_dir / f, x, allow_pickle=False)
    for f, o, d in zip(out_files, y, out_desc):
        o = np.ascontiguousarray(o.astype(g.NP_TYPES[d["dtype"]]))
        assert list(o.shape[1:]) == d["shape"], (case, o.shape, d["shape"])
        np.save(out_dir / f, o, allow_pickle=False)
    for d, f in zip(in_desc, in_files):
        d["file"] = f
    for d, f in zip(out_desc, out_files):
        d["file"] = f
    ops = describe(model)
    entry = {
        "name": case,
        "family": v.family,
        "file": f"{case}.tflite",
        "bytes": len(buf),
        "sha256": hashlib.sha256(buf).hexdigest(),
        "dtype": ("int8" if any(t["dtype"] == "INT8" for t in in_desc) else
                  "int16" if any(t["dtype"] == "INT16" for t in in_desc) else "float32"),
        "io_dtype": io_dtype(in_desc, out_desc),
        "ops": op_names(ops),
        "description": v.desc,
        "source": v.source,
        "golden_source": "tflm" if v.golden == "tflm" else "litert",
        "golden_source_why": v.golden_why or None,
        "num_samples": n,
        "samples": [f"random_{k}" for k in range(n)],
        "inputs": in_desc,
        "outputs": out_desc,
    }
    if v.valid_rows is not None:
        entry["valid_rows"] = {"per_sample": v.valid_rows(y), "note": v.valid_rows_note}
    entry.update(v.extra)
    entry.update({"operators": ops, "hand_edited": v.hand_edited, "check": check})
    return entry


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

CASES = [
    ("keras_flatten_cnn", case_flatten_cnn),
    ("keras_global_max_pool", case_global_max_pool),
    ("keras_dilated_conv", case_dilated_conv),
    ("pytorch_cnn", case_pytorch_cnn),
    ("ssd_detector", case_ssd),
    ("attention_block", case_attention),
    ("mobilenet_v2_small", case_mobilenet_16x8),
    ("mobilenet_v2_160", case_mobilenet_v2_160),
    ("audio_conv1d", case_audio_conv1d),
]


def generate(out_dir: Path, only: str | None) -> tuple[list, list]:
    entries, refused = [], []
    for name, make in CASES:
        if only and only not in name:
            continue
        made = make()
        variants, ref_cases = made if isinstance(made, tuple) else (made, [])
        refused += ref_cases
        for r in ref_cases:
            print(f"  REFUSED by TFLM: {r['name']}: {r['error']}", flush=True)
        for v in variants:
            try:
                e = gen_case(v, out_dir)
            except g.TflmRefused as r:
                print(f"  REFUSED by TFLM: {r.args[0]}: {r.args[1]}", flush=True)
                refused.append({"name": r.args[0], "error": r.args[1]})
                continue
            entries.append(e)
            print(f"  {e['name']:32s} {e['bytes']:6d} B  golden={e['golden_source']:6s} "
                  f"{' '.join(e['ops'])}\n      {json.dumps(e['check'])}", flush=True)
    # twins: the unknown-batch Flatten model vs its fixed-batch twin
    by_name = {e["name"]: e for e in entries}
    for e in entries:
        twin = by_name.get(e.get("fixed_batch_twin", ""))
        if twin is not None:
            a = [np.load(out_dir / o["file"]) for o in e["outputs"]]
            b = [np.load(out_dir / o["file"]) for o in twin["outputs"]]
            e["check"]["max_abs_diff_vs_fixed_batch_twin"] = max(_diff(x, y) for x, y in zip(a, b))
            e["check"]["same_quantization_as_fixed_batch_twin"] = (
                [t.get("quant") for t in e["inputs"] + e["outputs"]]
                == [t.get("quant") for t in twin["inputs"] + twin["outputs"]])
    return entries, refused


def write_index(out_dir: Path, entries: list, refused: list):
    import importlib.metadata as md
    versions = {}
    for p in ("tensorflow", "keras", "tflite_micro", "ai-edge-litert", "numpy", "flatbuffers",
              "torch", "litert-torch", "torchao"):
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    index = {
        "generator": "tools/goldens/gen_model_goldens.py",
        "golden": "outputs = TensorFlow Lite Micro reference kernels (tflite_micro Python interpreter), "
                  "except cases with golden_source \"litert\" (LiteRT BUILTIN_REF kernels; TFLM shown "
                  "wrong, see golden_source_why and docs/tflm-deviations.md)",
        "stacking": "every .npy is [N, *tensor_shape] with tensor_shape the full model tensor shape "
                    "(batch included), in the model tensor's dtype; <case>.outputs.<k>.npy for model "
                    "output k when a model has several outputs",
        "tolerance": "int8, int16: exact; float32: 1e-5 relative",
        "versions": versions,
        "num_cases": len(entries),
        "golden_from_litert": [e["name"] for e in entries if e["golden_source"] == "litert"],
        "refused_by_tflm": refused,
        "cases": entries,
    }
    (out_dir / "index.json").write_text(g.compact_json(index) + "\n")


def readme_table(entries: list) -> str:
    rows = ["| case | golden | ops in the model | inputs -> outputs | bytes |",
            "|---|---|---|---|---|"]
    for e in entries:
        ops = " + ".join(e["ops"])
        io = (", ".join(f"{i['dtype'].lower()}{i.get('shape_signature', i['shape'])}" for i in e["inputs"])
              + " -> " + ", ".join(f"{o['dtype'].lower()}{o.get('shape_signature', o['shape'])}"
                                   for o in e["outputs"]))
        rows.append(f"| `{e['name']}` | {e['golden_source']} | {ops} | {io} | {e['bytes']} |")
    return (f"{README_BEGIN}\n{len(entries)} cases.\n\n" + "\n".join(rows) + f"\n{README_END}")


def readme_with_models(entries: list) -> str:
    text = g.README.read_text()
    a, b = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    return text[:a] + readme_table(entries) + text[b:]


def evidence(family: str, runs: int = 5):
    """Print, for the cases of one family, what TFLM, LiteRT (reference kernels) and the float
    model give; numbers from TFLM's garbage outputs vary from process to process."""
    (make,) = [mk for name, mk in CASES if family.startswith(name)]
    made = make()
    variants = made[0] if isinstance(made, tuple) else made
    for v in variants:
        if v.family != family:
            continue
        sg = g.load_model(v.buf).subgraphs[0]
        in_desc = [g.tensor_desc(sg, i) for i in sg.inputs]
        out_desc = [g.tensor_desc(sg, i) for i in sg.outputs]
        xs = [g.quantize(fx, d["quant"]) if d["dtype"] == "INT8" else fx
              for fx, d in zip(v.float_inputs, in_desc)]
        n = len(xs[0])
        rep = {"case": v.name}
        tr = [g.run_tflm(v.buf, xs, n) for _ in range(runs)]
        lr = g.run_litert(v.buf, xs, n)
        rep["tflm_vs_litert_max_abs_diff_per_run"] = [
            [float(f"{_diff(a, b):.4g}") for a, b in zip(r, lr)] for r in tr]
        rep["tflm_run_k_vs_run_0_max_abs_diff"] = [
            [float(f"{_diff(a, b):.4g}") for a, b in zip(r, tr[0])] for r in tr[1:]]
        rep["tflm_output_depends_on_earlier_invocations"] = tflm_history_dependent(v.buf, xs, v)
        if v.ref is not None:
            deq = [g.dequantize(x, d.get("quant")) for x, d in zip(xs, in_desc)]
            ref = np.stack([v.ref([a[s] for a in deq])[0] for s in range(n)])
            for name, y in (("litert", lr[0]), ("tflm_run_0", tr[0][0])):
                yd = g.dequantize(y, out_desc[0].get("quant"))
                rep[f"{name}_vs_float_model_max_abs_diff"] = float(f"{float(np.abs(yd - ref).max()):.4g}")
            if out_desc[0].get("quant"):
                rep["output_lsb"] = out_desc[0]["quant"]["scale"][0]
        if v.name.startswith("keras_dilated_conv"):
            fixed, changed = with_runtime_shapes(v.buf, xs)
            rep["tensors_whose_stored_shape_is_wrong"] = [
                (c["tensor"].rsplit("/", 2)[-2:], c["stored_shape"], c["runtime_shape"]) for c in changed]
            tf_fixed = g.run_tflm(fixed, xs, n)
            rep["tflm_with_runtime_shapes_vs_litert_max_abs_diff"] = _diff(tf_fixed[0], lr[0])
            rep["tflm_with_runtime_shapes_samples_differing"] = int(
                (tf_fixed[0] != lr[0]).reshape(n, -1).any(axis=1).sum())
            # the first SPACE_TO_BATCH_ND alone: what does each runtime pad with?
            m = g.load_model(fixed)
            m.subgraphs[0].outputs = np.array([m.subgraphs[0].operators[0].outputs[0]], np.int32)
            b = g.pack_model(m)
            t0, l0 = g.run_tflm(b, xs, 1)[0][0], g.run_litert(b, xs, 1)[0][0]
            rep["space_to_batch_pad_value_tflm_litert"] = [t0.flat[0].item(), l0.flat[0].item()]
            if in_desc[0].get("quant"):
                rep["input_zero_point"] = in_desc[0]["quant"]["zero_point"][0]
                # Same model with the padded tensors' zero point set to 0 (where TFLM's unset pad
                # value and the zero point coincide): do TFLM and LiteRT then agree?
                m = g.load_model(fixed)
                sg2 = m.subgraphs[0]
                for op in sg2.operators:
                    if g.op_name(m, op) == "SPACE_TO_BATCH_ND":
                        for t in (op.inputs[0], op.outputs[0]):
                            sg2.tensors[t].quantization.zeroPoint = [0]
                b = g.pack_model(m)
                rep["zero_point_0_edit_tflm_with_runtime_shapes_vs_litert_max_abs_diff"] = _diff(
                    g.run_tflm(b, xs, n)[0], g.run_litert(b, xs, n)[0])
        if v.name.startswith("ssd_detector_fast_2cls"):
            # the same model with 4x as many output rows: where does TFLM put the detections?
            m = g.load_model(v.buf)
            sg2 = m.subgraphs[0]
            rows = int(sg2.tensors[sg2.outputs[1]].shape[1])
            for t in sg2.outputs[:3]:
                sh = [int(k) for k in sg2.tensors[t].shape]
                sh[1] = 4 * rows
                sg2.tensors[t].shape = np.array(sh, dtype=np.int32)
            b = g.pack_model(m)
            t4, l4 = g.run_tflm(b, xs, 1), g.run_litert(b, xs, 1)
            lsc = {float(k) for k in l4[2][0].ravel()[:int(l4[3].ravel()[0]) * 2]}
            rep["rows_x4_tflm_rows_holding_a_detection_score"] = [
                i for i, k in enumerate(t4[2][0].ravel()) if float(k) in lsc and k != 0]
            rep["rows_x4_litert_rows_holding_a_detection_score"] = [
                i for i, k in enumerate(l4[2][0].ravel()) if float(k) in lsc and k != 0]
            rep["rows_x4_num_detections_tflm_litert"] = [float(t4[3].ravel()[0]), float(l4[3].ravel()[0])]
        print(json.dumps(rep))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--only", help="generate only cases whose family contains this (no index/cleanup)")
    ap.add_argument("--update-index", action="store_true",
                    help="with --only: merge the regenerated cases into index.json and README")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and compare byte-for-byte with --out")
    ap.add_argument("--evidence", metavar="FAMILY",
                    help="print TFLM vs LiteRT vs float evidence for one family, e.g. "
                    "keras_dilated_conv or ssd_detector_fast_2cls; writes nothing")
    args = ap.parse_args()
    tf.get_logger().setLevel("ERROR")
    if args.evidence:
        evidence(args.evidence)
        return

    if args.check:
        with tempfile.TemporaryDirectory() as td:
            td = Path(td)
            entries, refused = generate(td, None)
            write_index(td, entries, refused)
            a = sorted(p.name for p in td.iterdir())
            b = sorted(p.name for p in args.out.iterdir() if p.name != ".gitattributes")
            bad = sorted(set(a) ^ set(b))
            bad += [n for n in a if n in b and (td / n).read_bytes() != (args.out / n).read_bytes()]
            if readme_with_models(entries) != g.README.read_text():
                bad.append("tools/goldens/README.md (model table)")
            if bad:
                print(f"MISMATCH in {len(bad)} files: {bad[:20]}")
                sys.exit(1)
            print(f"OK: {len(a)} files reproduced byte-for-byte")
            return

    args.out.mkdir(parents=True, exist_ok=True)
    if args.only:
        entries, refused = generate(args.out, args.only)
        if not args.update_index:
            print(f"{len(entries)} cases written (index.json not updated without --update-index)")
            return
        # Merge into the committed index (the selected families' entries replace theirs), in
        # the order of a full regeneration.
        old = json.loads((args.out / "index.json").read_text())
        rank = {name: k for k, (name, _) in enumerate(CASES)}

        def order(e):
            fam = e.get("family", e["name"])
            return min((k for n, k in rank.items() if fam.startswith(n)), default=len(CASES))
        entries = sorted([e for e in old["cases"] if args.only not in e.get("family", "")]
                         + entries, key=order)
        refused = [r for r in old["refused_by_tflm"] if args.only not in r["name"]] + refused
        write_index(args.out, entries, refused)
        if args.out == OUT_DIR:
            g.README.write_text(readme_with_models(entries))
        print(f"{len(entries)} cases in index.json ({args.only!r} regenerated)")
        return
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        entries, refused = generate(td, None)
        write_index(td, entries, refused)
        for p in args.out.iterdir():
            if p.suffix in (".tflite", ".npy", ".json"):
                p.unlink()
        for p in sorted(td.iterdir()):
            shutil.copyfile(p, args.out / p.name)
    if args.out == OUT_DIR:
        g.README.write_text(readme_with_models(entries))
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{len(entries)} cases, {len(refused)} refused, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
