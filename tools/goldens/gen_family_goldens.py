#!/usr/bin/env python3
"""Generate Ferrite's model-family golden vectors (tests/data/families).

Each family is a small Keras model in the style of a classic CNN family (MLP, VGG, ResNet,
Inception, Xception, MobileNet v1/v2, SENet, DenseNet, ResNeXt, 1-D/audio convolution nets,
activation and pooling zoos, dilated/padded convs, a small U-Net) with seeded random weights
(batch-norm statistics included, so folding is exercised). Each is converted with
tf.lite.TFLiteConverter once with full-integer int8 quantization and once as float32 (fixed batch
of 1, so no SHAPE/PACK/STRIDED_SLICE appear), then run on seeded inputs through TensorFlow Lite
Micro's Python interpreter: the reference kernels Ferrite must match (int8 bit-exactly, float32
within 1e-5 relative). For every case <case> = <family>_int8 | <family>_f32 it writes

    tests/data/families/<case>.tflite
    tests/data/families/<case>.inputs.npy      ([N, *input_shape], the model input dtype)
    tests/data/families/<case>.outputs.npy     (TFLM outputs, [N, *output_shape])
    tests/data/families/index.json             (one entry per case, as tests/data/ops/index.json)

and refreshes the family table in tools/goldens/README.md. The conversion, TFLM execution,
index format and JSON layout are shared with gen_op_goldens.py (imported, not copied).

Everything is seeded: running it twice gives byte-identical files.

    /work/venv/bin/python tools/goldens/gen_family_goldens.py            # regenerate all
    /work/venv/bin/python tools/goldens/gen_family_goldens.py --check    # verify committed files
    /work/venv/bin/python tools/goldens/gen_family_goldens.py --only vgg # subset (dev only)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_op_goldens as g  # noqa: E402  (sets the TF environment variables before importing TF)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers as L  # noqa: E402

OUT_DIR = g.REPO / "tests" / "data" / "families"
REP_SAMPLES = 24  # representative dataset size for calibration
README_BEGIN, README_END = "<!-- families:begin -->", "<!-- families:end -->"


@dataclass
class Fam:
    """One Keras model, emitted as <name>_int8 and <name>_f32."""

    name: str
    desc: str
    shape: tuple  # input shape without the batch dimension (the batch is fixed to 1)
    build: Callable  # build(x: keras input) -> keras output tensor
    lo: float = -1.0  # input range (calibration and test samples)
    hi: float = 1.0
    n: int = 4
    lsb_tol: float = 12.0  # int8 sanity check vs the float Keras model, in output LSBs


FAMS: list[Fam] = []


def fam(**kw):
    FAMS.append(Fam(**kw))


# ----------------------------------------------------------------------------
# Weights: every variable drawn from the family's seeded rng (not Keras' initializers), with
# per-output-channel spreads so per-channel quantization matters, and non-trivial batch-norm
# statistics so the converter's folding is exercised.
# ----------------------------------------------------------------------------

def randomize(model: keras.Model, rng: np.random.Generator):
    for layer in model.layers:
        for v in layer.weights:
            shape = tuple(v.shape)
            leaf = v.path.rsplit("/", 1)[-1]
            if leaf in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                if isinstance(layer, L.Conv2DTranspose):
                    # [kh, kw, out, in]: each output sums kh*kw*in/stride^2 taps on average
                    fan_in = shape[0] * shape[1] * shape[3] / np.prod(layer.strides)
                    out_axis = 2
                elif leaf == "depthwise_kernel":
                    fan_in = np.prod(shape[:-2])
                    out_axis = None
                else:
                    fan_in = np.prod(shape[:-1])
                    out_axis = len(shape) - 1
                w = rng.normal(size=shape) * np.sqrt(2.0 / max(fan_in, 1))
                if out_axis is None:
                    w *= rng.uniform(0.5, 1.5, size=shape[-2:])
                else:
                    spread = rng.uniform(0.5, 1.5, size=shape[out_axis])
                    w *= np.expand_dims(spread, tuple(a for a in range(len(shape)) if a != out_axis))
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


# ----------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------

def conv_bn(x, c, k, s=1, act="relu", pad="same", **kw):
    x = L.Conv2D(c, k, strides=s, padding=pad, use_bias=False, **kw)(x)
    x = L.BatchNormalization()(x)
    return L.Activation(act)(x) if act else x


def head(x, classes=10, softmax=True):
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(classes, activation="softmax" if softmax else None)(x)


def up_nearest(x, factor=2):
    # Keras 3's UpSampling2D lowers to RESHAPE + TILE (TILE is not in TFLM); Resizing with
    # nearest interpolation is what lowers to RESIZE_NEAREST_NEIGHBOR.
    h, w = x.shape[1], x.shape[2]
    return L.Resizing(h * factor, w * factor, interpolation="nearest")(x)


def build_families():
    FAMS.clear()

    # ---------------- perceptron / MLP ----------------
    def mlp(x):
        x = L.Dense(24, activation="relu")(x)
        x = L.Dense(16, activation="relu")(x)
        x = L.Dense(10)(x)
        return L.Softmax()(x)
    fam(name="mlp", desc="MLP: FULLY_CONNECTED 32->24 RELU ->16 RELU ->10, SOFTMAX",
        shape=(32,), build=mlp, n=4)

    # ---------------- VGG ----------------
    def vgg(x):
        for c in (8, 16):
            x = L.Conv2D(c, 3, padding="same", activation="relu")(x)
            x = L.Conv2D(c, 3, padding="same", activation="relu")(x)
            x = L.MaxPooling2D(2)(x)
        x = L.Flatten()(x)
        x = L.Dense(32, activation="relu")(x)
        return L.Dense(10, activation="softmax")(x)
    fam(name="vgg", desc="VGG: two stacks of 3x3 CONV_2D RELU pairs + 2x2 MAX_POOL_2D, flatten, "
        "FULLY_CONNECTED RELU, FULLY_CONNECTED + SOFTMAX; 16x16x3", shape=(16, 16, 3), build=vgg,
        lo=0.0, hi=1.0)

    # ---------------- ResNet ----------------
    def resnet(x):
        x = conv_bn(x, 8, 3)
        # identity block
        y = conv_bn(x, 8, 3)
        y = conv_bn(y, 8, 3, act=None)
        x = L.Activation("relu")(L.Add()([x, y]))
        # downsampling block: stride-2 3x3 path, stride-2 1x1 projection shortcut
        y = conv_bn(x, 16, 3, s=2)
        y = conv_bn(y, 16, 3, act=None)
        sc = conv_bn(x, 16, 1, s=2, act=None)
        x = L.Activation("relu")(L.Add()([sc, y]))
        return head(x)
    fam(name="resnet", desc="ResNet: conv-BN-ReLU stem, identity residual block (ADD), "
        "downsampling block with a stride-2 1x1 projection shortcut, global average pool (MEAN), "
        "FULLY_CONNECTED + SOFTMAX; BN folded into the convs; 16x16x3", shape=(16, 16, 3),
        build=resnet)

    # ---------------- Inception ----------------
    def inception_module(x, c1, c3r, c3, c5r, c5, cp):
        b1 = L.Conv2D(c1, 1, activation="relu")(x)
        b3 = L.Conv2D(c3r, 1, activation="relu")(x)
        b3 = L.Conv2D(c3, 3, padding="same", activation="relu")(b3)
        b5 = L.Conv2D(c5r, 1, activation="relu")(x)
        b5 = L.Conv2D(c5, 5, padding="same", activation="relu")(b5)
        bp = L.MaxPooling2D(3, strides=1, padding="same")(x)
        bp = L.Conv2D(cp, 1, activation="relu")(bp)
        return L.Concatenate()([b1, b3, b5, bp])

    def inception(x):
        x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        x = inception_module(x, 4, 4, 6, 2, 4, 4)
        x = L.MaxPooling2D(3, strides=2, padding="valid")(x)  # 15x15 -> 7x7
        x = inception_module(x, 6, 4, 8, 2, 4, 4)
        return head(x)
    fam(name="inception", desc="Inception: two modules of parallel 1x1 / 1x1->3x3 / 1x1->5x5 / "
        "3x3 max-pool->1x1 branches joined by CONCATENATION, 3x3 stride-2 VALID max pool on an odd "
        "15x15 map in between; 15x15x3", shape=(15, 15, 3), build=inception)

    # ---------------- Xception ----------------
    def xception(x):
        x = conv_bn(x, 8, 3, s=2)
        y = L.SeparableConv2D(16, 3, padding="same", use_bias=False)(x)
        y = L.BatchNormalization()(y)
        y = L.Activation("relu")(y)
        y = L.SeparableConv2D(16, 3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.MaxPooling2D(3, strides=2, padding="same")(y)
        sc = conv_bn(x, 16, 1, s=2, act=None)
        x = L.Add()([y, sc])
        x = L.Activation("relu")(x)
        y = L.SeparableConv2D(16, 3, padding="same", activation="relu")(x)
        x = L.Add()([x, y])
        return head(x)
    fam(name="xception", desc="Xception: depthwise separable convs (SeparableConv2D -> "
        "DEPTHWISE_CONV_2D + CONV_2D) with BN, 3x3 stride-2 SAME max pool, residual ADD with a "
        "strided 1x1 conv shortcut; 16x16x3", shape=(16, 16, 3), build=xception)

    # ---------------- MobileNet v1 ----------------
    def mobilenet_v1(x):
        x = conv_bn(x, 8, 3, s=2, act="relu6")
        for c, s in ((16, 1), (24, 2), (24, 1)):
            x = L.DepthwiseConv2D(3, strides=s, padding="same", use_bias=False)(x)
            x = L.BatchNormalization()(x)
            x = L.ReLU(6.0)(x)
            x = conv_bn(x, c, 1, act="relu6")
        return head(x)
    fam(name="mobilenet_v1", desc="MobileNet v1: stride-2 conv stem, three depthwise separable "
        "blocks (3x3 DEPTHWISE_CONV_2D + 1x1 CONV_2D, BN, fused RELU6), one with stride 2; 16x16x3",
        shape=(16, 16, 3), build=mobilenet_v1)

    # ---------------- MobileNet v2 ----------------
    def inverted_residual(x, expand, out, s=1, dm=1):
        cin = x.shape[-1]
        y = conv_bn(x, cin * expand, 1, act="relu6") if expand > 1 else x
        y = L.DepthwiseConv2D(3, strides=s, padding="same", depth_multiplier=dm, use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU(6.0)(y)
        y = conv_bn(y, out, 1, act=None)
        return L.Add()([x, y]) if s == 1 and cin == out else y

    def mobilenet_v2(x):
        x = conv_bn(x, 8, 3, s=2, act="hard_swish")
        x = inverted_residual(x, 1, 8, dm=2)  # depthwise with depth multiplier 2
        x = inverted_residual(x, 3, 12, s=2)
        x = inverted_residual(x, 3, 12)
        x = conv_bn(x, 24, 1, act="hard_swish")
        return head(x)
    fam(name="mobilenet_v2", desc="MobileNet v2: HARD_SWISH stem, inverted residual blocks "
        "(1x1 expand RELU6, 3x3 depthwise, linear 1x1 project, ADD), one depthwise with depth "
        "multiplier 2, HARD_SWISH head conv; 16x16x3", shape=(16, 16, 3), build=mobilenet_v2)

    # ---------------- SENet ----------------
    def se_block(x, r=4):
        c = x.shape[-1]
        s = L.GlobalAveragePooling2D()(x)
        s = L.Dense(c // r, activation="relu")(s)
        s = L.Dense(c, activation="sigmoid")(s)
        s = L.Reshape((1, 1, c))(s)
        return L.Multiply()([x, s])

    def senet(x):
        x = conv_bn(x, 16, 3)
        y = conv_bn(x, 16, 3)
        y = conv_bn(y, 16, 3, act=None)
        y = se_block(y)
        x = L.Activation("relu")(L.Add()([x, y]))
        return head(x)
    fam(name="senet", desc="SENet: residual block with squeeze-and-excitation (global average "
        "pool MEAN -> FULLY_CONNECTED RELU -> FULLY_CONNECTED -> LOGISTIC -> broadcast MUL over "
        "the feature map); 12x12x3", shape=(12, 12, 3), build=senet)

    # ---------------- DenseNet ----------------
    def dense_block(x, layers, growth):
        for _ in range(layers):
            y = L.BatchNormalization()(x)
            y = L.Activation("relu")(y)
            y = L.Conv2D(growth, 3, padding="same")(y)
            x = L.Concatenate()([x, y])
        return x

    def densenet(x):
        x = L.Conv2D(8, 3, padding="same")(x)
        x = dense_block(x, 3, 4)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.Conv2D(12, 1)(x)
        x = L.AveragePooling2D(2)(x)
        x = dense_block(x, 3, 4)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        return head(x)
    fam(name="densenet", desc="DenseNet: two dense blocks of BN-ReLU-3x3 conv layers whose "
        "outputs are chained by CONCATENATION (pre-activation BN stays as MUL + ADD), 1x1 "
        "transition conv and 2x2 average pool; 12x12x3", shape=(12, 12, 3), build=densenet)

    # ---------------- ResNeXt ----------------
    def resnext_block(x, width, groups, out, s=1):
        y = conv_bn(x, width, 1)
        y = conv_bn(y, width, 3, s=s, groups=groups)
        y = conv_bn(y, out, 1, act=None)
        sc = x if s == 1 and x.shape[-1] == out else conv_bn(x, out, 1, s=s, act=None)
        return L.Activation("relu")(L.Add()([sc, y]))

    def resnext(x):
        x = conv_bn(x, 16, 3)
        x = resnext_block(x, 16, 4, 16)
        x = resnext_block(x, 16, 8, 24, s=2)
        return head(x)
    fam(name="resnext", desc="ResNeXt: bottleneck blocks whose 3x3 conv is grouped (cardinality "
        "4 and 8: one CONV_2D whose filter has in_c/groups input channels), identity and "
        "strided projection shortcuts; 12x12x3", shape=(12, 12, 3), build=resnext)

    # ---------------- 1-D convolution (time series) ----------------
    def conv1d_net(x):
        x = L.Conv1D(8, 7, strides=2, padding="same", activation="relu")(x)
        x = L.Conv1D(8, 5, dilation_rate=2, padding="same", activation="relu")(x)
        x = L.MaxPooling1D(3, strides=2, padding="same")(x)
        x = L.Conv1D(16, 3, padding="valid", activation="tanh")(x)
        x = L.AveragePooling1D(2)(x)
        x = L.GlobalAveragePooling1D()(x)
        return L.Dense(5, activation="softmax")(x)
    fam(name="conv1d_timeseries", desc="1-D conv net for time series on [64, 3]: Conv1D k7 "
        "stride 2, k5 dilation 2, max pool 3/2 SAME, k3 VALID + TANH, avg pool 2, global average "
        "pool, FULLY_CONNECTED + SOFTMAX (Conv1D lowers to RESHAPE + CONV_2D on [1, 1, T, C])",
        shape=(64, 3), build=conv1d_net)

    # ---------------- audio (spectrogram) ----------------
    def audio(x):
        x = L.Conv2D(8, (5, 3), strides=(2, 1), padding="same", activation="relu")(x)
        x = L.Conv2D(8, (1, 3), strides=(1, 2), padding="valid", activation="relu")(x)
        x = L.DepthwiseConv2D((3, 1), padding="same", activation="relu")(x)
        x = L.AveragePooling2D((3, 2), strides=(2, 1), padding="same")(x)
        x = L.Conv2D(12, (3, 3), strides=(2, 2), padding="valid", activation="relu")(x)
        x = L.Flatten()(x)
        return L.Dense(6, activation="softmax")(x)
    fam(name="audio_spectrogram", desc="Keyword-spotting style net on a 25x13x1 spectrogram: "
        "non-square kernels (5x3, 1x3, 3x1 depthwise) and strides ((2,1), (1,2)), 3x2 average "
        "pool with strides (2,1) SAME, flatten + FULLY_CONNECTED + SOFTMAX", shape=(25, 13, 1),
        build=audio, lo=0.0, hi=1.0)

    # ---------------- activations ----------------
    def activations(x):
        x = L.Conv2D(8, 3, padding="same")(x)
        x = L.LeakyReLU(0.15)(x)
        x = L.Conv2D(8, 3, padding="same")(x)
        x = L.Activation("swish")(x)
        x = L.DepthwiseConv2D(3, padding="same")(x)
        x = L.Activation("hard_swish")(x)
        x = L.Conv2D(8, 1)(x)
        x = L.Activation("tanh")(x)
        x = L.Conv2D(8, 3, padding="same")(x)
        x = L.Activation("sigmoid")(x)
        x = L.GlobalAveragePooling2D()(x)
        return L.Dense(4, activation="sigmoid")(x)
    fam(name="activations", desc="Activation zoo between convs: LEAKY_RELU (alpha 0.15), swish "
        "(LOGISTIC + MUL), HARD_SWISH, TANH, LOGISTIC, and a sigmoid output; 12x12x3",
        shape=(12, 12, 3), build=activations, lo=-2.0, hi=2.0)

    # ---------------- pooling ----------------
    def pooling(x):
        x = L.Conv2D(6, 3, padding="same", activation="relu")(x)
        a = L.MaxPooling2D(3, strides=2, padding="same")(x)       # 15 -> 8
        b = L.AveragePooling2D(3, strides=2, padding="same")(x)   # 15 -> 8
        x = L.Concatenate()([a, b])
        x = L.Conv2D(8, 1, activation="relu")(x)
        a = L.MaxPooling2D(2, strides=2, padding="valid")(L.Conv2D(4, 2, padding="valid")(x))  # 7 -> 3
        b = L.AveragePooling2D(3, strides=2, padding="valid")(x)  # 8 -> 3
        x = L.Concatenate()([a, b])
        x = L.AveragePooling2D(3, strides=1, padding="valid")(x)  # 3 -> 1
        x = L.Flatten()(x)
        return L.Dense(5)(x)
    fam(name="pooling", desc="Max and average pooling, SAME and VALID, on odd sizes (15x15 -> "
        "8x8 SAME, 7x7 -> 3x3 and 8x8 -> 3x3 VALID, 3x3 global), joined by CONCATENATION; "
        "FULLY_CONNECTED logits; 15x15x3", shape=(15, 15, 3), build=pooling)

    # ---------------- dilation and zero padding ----------------
    def dilated(x):
        x = L.ZeroPadding2D(((1, 2), (2, 1)))(x)
        x = L.Conv2D(8, 3, dilation_rate=2, padding="valid", activation="relu")(x)
        x = L.DepthwiseConv2D(3, dilation_rate=2, padding="same", activation="relu")(x)
        x = L.ZeroPadding2D(1)(x)
        x = L.Conv2D(8, 3, dilation_rate=(1, 3), padding="valid", activation="relu")(x)
        x = L.Conv2D(8, 3, padding="same", use_bias=False)(x)
        return head(x, 4, softmax=False)
    fam(name="dilated_padded", desc="ZeroPadding2D (asymmetric, PAD) before a dilation-2 VALID "
        "conv, dilation-2 SAME depthwise conv, symmetric PAD, dilation (1,3) conv, bias-free "
        "conv; MEAN + FULLY_CONNECTED logits; 14x14x3", shape=(14, 14, 3), build=dilated)

    # ---------------- U-Net ----------------
    def unet(x):
        e1 = L.Conv2D(8, 3, padding="same", activation="relu")(x)           # 16x16x8
        e2 = L.Conv2D(12, 3, padding="same", activation="relu")(L.MaxPooling2D()(e1))  # 8x8
        b = L.Conv2D(16, 3, padding="same", activation="relu")(L.MaxPooling2D()(e2))   # 4x4
        d2 = L.Conv2DTranspose(12, 3, strides=2, padding="same")(b)         # 8x8x12
        d2 = L.Concatenate()([e2, d2])
        d2 = L.Conv2D(12, 3, padding="same", activation="relu")(d2)
        d1 = up_nearest(d2)                                                 # 16x16x12
        d1 = L.Conv2D(8, 3, padding="same", activation="relu")(d1)
        d1 = L.Concatenate()([e1, d1])
        d1 = L.Conv2DTranspose(8, 2, strides=1, padding="valid")(d1)        # 17x17
        d1 = L.Conv2D(8, 2, padding="valid", activation="relu")(d1)         # 16x16
        return L.Conv2D(2, 1, activation="sigmoid")(d1)
    fam(name="unet", desc="Small U-Net: two encoder levels with max pooling, decoder with a "
        "stride-2 SAME TRANSPOSE_CONV and a 2x RESIZE_NEAREST_NEIGHBOR (Keras Resizing, half-pixel "
        "centers), skip CONCATENATIONs, a stride-1 VALID 2x2 TRANSPOSE_CONV, per-pixel sigmoid; "
        "16x16x3 -> 16x16x2", shape=(16, 16, 3), build=unet, n=3,
        # the sigmoid output (scale 1/256) amplifies the pre-activation's int8 error ~4x
        lsb_tol=24.0)


# ----------------------------------------------------------------------------
# Conversion and per-case generation
# ----------------------------------------------------------------------------

def make_model(f: Fam) -> keras.Model:
    keras.utils.set_random_seed(g.seed_of(f.name, 9) % (1 << 31))
    x = keras.Input(f.shape, batch_size=1, name="x")
    model = keras.Model(x, f.build(x), name=f.name)
    randomize(model, np.random.default_rng(g.seed_of(f.name, 0)))
    return model


def convert(f: Fam, model: keras.Model, variant: str, verbose: bool) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant == "int8":
        rng = np.random.default_rng(g.seed_of(f.name, 1))

        def rep():
            for _ in range(REP_SAMPLES):
                yield [rng.uniform(f.lo, f.hi, size=(1, *f.shape)).astype(np.float32)]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    with g.quiet(not verbose):
        return bytes(conv.convert())


def gen_case(f: Fam, model: keras.Model, variant: str, out_dir: Path, verbose: bool) -> dict:
    case = f"{f.name}_{variant}"
    buf = convert(f, model, variant, verbose)
    fb_model = g.load_model(buf)
    sg = fb_model.subgraphs[0]
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise RuntimeError(f"{case}: expected one input and one output")
    in_desc = [g.tensor_desc(sg, i) for i in sg.inputs]
    out_desc = [g.tensor_desc(sg, i) for i in sg.outputs]

    rng = np.random.default_rng(g.seed_of(f.name, 2))
    fx = rng.uniform(f.lo, f.hi, size=(f.n, 1, *f.shape)).astype(np.float32)
    x = g.quantize(fx, in_desc[0]["quant"]) if in_desc[0]["dtype"] == "INT8" else fx
    assert list(x.shape[1:]) == in_desc[0]["shape"], (case, x.shape, in_desc[0]["shape"])
    x = np.ascontiguousarray(x)

    try:
        (y,) = g.run_tflm(buf, [x], f.n)
    except Exception as e:  # TFLM refused the model: report, caller decides
        raise g.TflmRefused(case, f"{type(e).__name__}: {e}") from e
    assert list(y.shape[1:]) == out_desc[0]["shape"]
    assert y.dtype == g.NP_TYPES[out_desc[0]["dtype"]]

    # --- sanity checks against the float Keras model ---------------------------
    xd = g.dequantize(x, in_desc[0].get("quant"))
    ref = np.stack([model(xd[s], training=False).numpy() for s in range(f.n)]).astype(np.float32)
    yd = g.dequantize(y, out_desc[0].get("quant"))
    check = {}
    if variant == "f32":
        rel = float(np.abs(yd - ref).max() / max(np.abs(ref).max(), 1e-6))
        check["max_rel_err_vs_tf_float"] = float(f"{rel:.3g}")
        if rel > 1e-4:
            raise RuntimeError(f"{case}: TFLM f32 differs from the Keras model (rel {rel})")
    else:
        oq = out_desc[0]["quant"]
        lsb, zp = oq["scale"][0], oq["zero_point"][0]
        ref = np.clip(ref, (-128 - zp) * lsb, (127 - zp) * lsb)
        err = float(np.abs(yd - ref).max() / lsb)
        check["max_err_vs_tf_float_lsb"] = round(err, 2)
        if err > f.lsb_tol:
            raise RuntimeError(f"{case}: int8 TFLM output is {err:.2f} LSB off the float model")
    try:
        lr = g.run_litert(buf, [x], f.n)
    except Exception as e:  # noqa: BLE001  (informational only)
        lr = None
        check["litert_ref_error"] = str(e).strip().splitlines()[0]
    if lr is not None:
        diff = np.abs(lr[0].astype(np.float64) - y.astype(np.float64))
        tol = 0 if y.dtype == np.int8 else 1e-5 * max(np.abs(y).max(), 1e-30)
        check["samples_where_litert_ref_differs"] = int((diff.reshape(f.n, -1).max(axis=1) > tol).sum())
        check["litert_ref_max_abs_diff"] = (int(diff.max()) if y.dtype == np.int8
                                            else float(f"{diff.max():.3g}"))

    # --- write files ------------------------------------------------------------
    (out_dir / f"{case}.tflite").write_bytes(buf)
    np.save(out_dir / f"{case}.inputs.npy", x, allow_pickle=False)
    np.save(out_dir / f"{case}.outputs.npy", y, allow_pickle=False)
    in_desc[0]["file"] = f"{case}.inputs.npy"
    out_desc[0]["file"] = f"{case}.outputs.npy"
    ops = g.describe_ops(fb_model)
    return {
        "name": case,
        "family": f.name,
        "file": f"{case}.tflite",
        "bytes": len(buf),
        "sha256": hashlib.sha256(buf).hexdigest(),
        "dtype": "int8" if variant == "int8" else "float32",
        "io_dtype": "int8" if variant == "int8" else "float32",
        "ops": [o["op"] for o in ops],
        "description": f.desc,
        "keras_layers": [type(la).__name__ for la in model.layers[1:]],
        "num_samples": f.n,
        "samples": [f"random_{k}" for k in range(f.n)],
        "inputs": in_desc,
        "outputs": out_desc,
        "operators": ops,
        "hand_edited": None,
        "check": check,
    }


def generate(out_dir: Path, only: str | None, verbose: bool) -> tuple[list, list]:
    build_families()
    entries, refused = [], []
    for f in FAMS:
        if only and only not in f.name:
            continue
        model = make_model(f)
        for variant in ("int8", "f32"):
            try:
                e = gen_case(f, model, variant, out_dir, verbose)
            except g.TflmRefused as r:
                print(f"  REFUSED by TFLM: {r.args[0]}: {r.args[1]}", flush=True)
                refused.append({"name": r.args[0], "error": r.args[1]})
                continue
            entries.append(e)
            ops = sorted(set(e["ops"]))
            print(f"  {e['name']:28s} {len(e['ops']):3d} ops {e['bytes']:7d} B  {','.join(ops)}  "
                  f"{json.dumps(e['check'])}", flush=True)
    return entries, refused


def write_index(out_dir: Path, entries: list, refused: list):
    import importlib.metadata as md
    versions = {}
    for p in ("tensorflow", "keras", "tflite_micro", "ai-edge-litert", "numpy"):
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    index = {
        "generator": "tools/goldens/gen_family_goldens.py",
        "golden": "outputs.npy = TensorFlow Lite Micro reference kernels (tflite_micro Python interpreter)",
        "stacking": "every .npy is [N, *tensor_shape] with tensor_shape the full model tensor shape "
                    "(batch included), in the model tensor's dtype",
        "tolerance": "int8: exact; float32: 1e-5 relative",
        "versions": versions,
        "num_cases": len(entries),
        "refused_by_tflm": refused,
        "cases": entries,
    }
    (out_dir / "index.json").write_text(g.compact_json(index) + "\n")


def readme_with_families(entries: list) -> str:
    """tools/goldens/README.md with its family table regenerated (gen_op_goldens' table format)."""
    table = g.readme_cases(entries)
    table = table.replace(g.README_BEGIN, README_BEGIN).replace(g.README_END, README_END)
    text = g.README.read_text()
    a, b = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    return text[:a] + table + text[b:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--only", help="generate only families whose name contains this (no index/cleanup)")
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
            if readme_with_families(entries) != g.README.read_text():
                bad.append("tools/goldens/README.md (family table)")
            if bad:
                print(f"MISMATCH in {len(bad)} files: {bad[:20]}")
                sys.exit(1)
            print(f"OK: {len(a)} files reproduced byte-for-byte")
            return

    args.out.mkdir(parents=True, exist_ok=True)
    if args.only:
        entries, refused = generate(args.out, args.only, args.verbose)
        print(f"{len(entries)} cases written (index.json not updated with --only)")
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
        g.README.write_text(readme_with_families(entries))
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{len(entries)} cases, {len(refused)} refused, {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
