#!/usr/bin/env python3
"""Train, quantize and export Ferrite's bundled demo model: a tiny MobileNet-style
digit classifier on scikit-learn's bundled `load_digits` data (no download).

One command regenerates everything (run from the repository root or anywhere):

    /work/venv/bin/python models/train/train_digits.py

Outputs (paths relative to `models/`):
    digits_mobilenet.tflite                full-integer int8 model (int8 in / int8 out)
    samples/digits_samples.inputs.npy      int8 [N, 1, 32, 32, 1], already quantized
    samples/digits_samples.labels.npy      int32 [N] true labels
    samples/digits_samples.outputs.npy     int8 [N, 1, 10] TFLM reference outputs (golden)
    samples/digits_samples.json            labels, predictions, quant params, summary

The held-out test split (stratified 20 %) is never used for training, model selection
or quantization calibration; it is only used for the accuracy figures at the end.
"""

import os

# Must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")

import hashlib
import json
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras
from keras import layers
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------
SEED = 1234
IMG = 32  # model input is IMG x IMG x 1
TEST_FRACTION = 0.2
EPOCHS = 60
BATCH = 64
LR = 3e-3
WEIGHT_DECAY = 1e-4
MAX_SHIFT = 2  # augmentation: integer shifts of up to +-2 px at 32x32 (= 1/2 source px)
N_CALIB = 500  # representative-dataset size (training images only)

MODELS_DIR = Path(__file__).resolve().parent.parent
TFLITE_PATH = MODELS_DIR / "digits_mobilenet.tflite"
SAMPLES_DIR = MODELS_DIR / "samples"
SAMPLE_STEM = "digits_samples"

# MobileNet-style body: (depthwise stride, pointwise output channels) per
# depthwise-separable block, after a 3x3 stride-2 stem CONV_2D with STEM_CH channels.
STEM_CH = 16
BLOCKS = [(1, 32), (2, 64), (1, 64), (2, 128), (1, 128)]
NUM_CLASSES = 10


def set_determinism():
    random.seed(SEED)
    np.random.seed(SEED)
    keras.utils.set_random_seed(SEED)  # python, numpy and TF seeds
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(2)


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
def preprocess(images_8x8):
    """uint 0..16 8x8 images -> float32 [N, 32, 32, 1] in [0, 1].

    Pixel / 16, then bilinear upscale 8x8 -> 32x32 with tf.image.resize defaults
    (half-pixel centres, no antialiasing). This is exactly what a device-side
    preprocessor must reproduce before quantizing with the model's input params.
    """
    x = images_8x8.astype(np.float32)[..., None] / 16.0
    x = tf.image.resize(x, (IMG, IMG), method="bilinear").numpy()
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def load_split():
    digits = load_digits()
    images, labels = digits.images, digits.target.astype(np.int32)
    idx = np.arange(len(labels))
    idx_train, idx_test = train_test_split(
        idx, test_size=TEST_FRACTION, stratify=labels, random_state=SEED, shuffle=True
    )
    x = preprocess(images)
    return (x[idx_train], labels[idx_train], idx_train), (x[idx_test], labels[idx_test], idx_test)


def augment(x, rng):
    """Random integer shifts in [-MAX_SHIFT, MAX_SHIFT] on both axes, zero fill."""
    n = x.shape[0]
    p = MAX_SHIFT
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    dy = rng.integers(0, 2 * p + 1, size=n)
    dx = rng.integers(0, 2 * p + 1, size=n)
    out = np.empty_like(x)
    for i in range(n):
        out[i] = padded[i, dy[i] : dy[i] + IMG, dx[i] : dx[i] + IMG]
    return out


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------
def build_model(batch_size=None):
    """batch_size=None for training; 1 for export, so that every shape in the .tflite is
    static (a dynamic batch makes Flatten lower to SHAPE/STRIDED_SLICE/PACK + RESHAPE)."""
    reg = keras.regularizers.l2(WEIGHT_DECAY)
    inp = keras.Input(shape=(IMG, IMG, 1), batch_size=batch_size, name="input")
    # Stem: 3x3 stride-2 conv (no bias; BatchNorm is folded by the converter) + ReLU6.
    x = layers.Conv2D(STEM_CH, 3, strides=2, padding="same", use_bias=False,
                      kernel_regularizer=reg, name="stem_conv")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu6")(x)
    for i, (stride, ch) in enumerate(BLOCKS, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   name=f"b{i}_dw")(x)
        x = layers.BatchNormalization(name=f"b{i}_dw_bn")(x)
        x = layers.ReLU(6.0, name=f"b{i}_dw_relu6")(x)
        x = layers.Conv2D(ch, 1, padding="same", use_bias=False,
                          kernel_regularizer=reg, name=f"b{i}_pw")(x)
        x = layers.BatchNormalization(name=f"b{i}_pw_bn")(x)
        x = layers.ReLU(6.0, name=f"b{i}_pw_relu6")(x)
    # Global average pooling as a full-spatial AveragePooling2D (-> AVERAGE_POOL_2D) and
    # Flatten (-> RESHAPE), like TFLM's person_detect.
    spatial = x.shape[1]
    x = layers.AveragePooling2D(pool_size=(spatial, spatial), name="gap")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.2, seed=SEED, name="dropout")(x)
    x = layers.Dense(NUM_CLASSES, kernel_regularizer=reg, name="classifier")(x)
    out = layers.Softmax(name="softmax")(x)
    return keras.Model(inp, out, name="digits_mobilenet")


def train(model, x_train, y_train):
    steps_per_epoch = int(np.ceil(len(x_train) / BATCH))
    schedule = keras.optimizers.schedules.CosineDecay(
        LR, decay_steps=EPOCHS * steps_per_epoch, alpha=0.01,
        warmup_target=None, warmup_steps=0)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(SEED)
    for epoch in range(EPOCHS):
        xa = augment(x_train, rng)
        perm = rng.permutation(len(xa))
        hist = model.fit(xa[perm], y_train[perm], batch_size=BATCH, epochs=epoch + 1,
                         initial_epoch=epoch, shuffle=False, verbose=0)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"  epoch {epoch + 1:3d}/{EPOCHS}: loss {hist.history['loss'][-1]:.4f} "
                  f"train-acc(aug) {hist.history['accuracy'][-1]:.4f}", flush=True)


# ---------------------------------------------------------------------------------------
# Conversion and analysis
# ---------------------------------------------------------------------------------------
def convert(trained, x_train):
    model = build_model(batch_size=1)  # same layers, static batch 1
    model.set_weights(trained.get_weights())
    calib = x_train[:N_CALIB]  # training images only, un-augmented, fixed order

    def representative_dataset():
        for i in range(len(calib)):
            yield [calib[i : i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def analyse(tflite_bytes):
    """Op list, MACs and constant (weight + bias) bytes, parsed from the flatbuffer.

    MACs: CONV_2D = out_elems * kh * kw * cin, DEPTHWISE_CONV_2D = out_elems * kh * kw,
    FULLY_CONNECTED = out_elems * in_features (same convention as /work/shared/models).
    Weight bytes: every constant tensor that an operator reads (weights, biases, shape
    operands).
    """
    from tensorflow.lite.python import schema_py_generated as S

    builtin = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
    ttype = {v: k for k, v in vars(S.TensorType).items() if not k.startswith("_")}
    itemsize = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "INT64": 8,
                "FLOAT16": 2, "FLOAT32": 4}
    m = S.ModelT.InitFromObj(S.Model.GetRootAsModel(tflite_bytes, 0))
    assert len(m.subgraphs) == 1
    g = m.subgraphs[0]
    produced = {o for op in g.operators for o in op.outputs.tolist()}
    graph_inputs = set(g.inputs.tolist())
    const, ops, layers_info, macs = set(), [], [], 0
    for op in g.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        name = builtin[max(oc.builtinCode, oc.deprecatedBuiltinCode)]
        ops.append(name)
        for i in op.inputs.tolist():
            if i >= 0 and i not in produced and i not in graph_inputs:
                const.add(i)
        in_shape = g.tensors[op.inputs[0]].shape.tolist()
        out_shape = g.tensors[op.outputs[0]].shape.tolist()
        n_out = int(np.prod(out_shape))
        op_macs, w_shape = 0, None
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w_shape = g.tensors[op.inputs[1]].shape.tolist()
            if name == "CONV_2D":
                op_macs = n_out * w_shape[1] * w_shape[2] * w_shape[3]
            elif name == "DEPTHWISE_CONV_2D":
                op_macs = n_out * w_shape[1] * w_shape[2]
            else:
                op_macs = n_out * w_shape[1]
        macs += op_macs
        layers_info.append({"op": name, "input": in_shape, "output": out_shape,
                            "weights": w_shape, "macs": op_macs})
    # Peak live activation bytes for this single-chain graph: the largest input + output
    # pair of any operator (activations are int8 = 1 byte per element).
    peak = max(int(np.prod(l["input"])) + int(np.prod(l["output"])) for l in layers_info)
    tensor_types = sorted({ttype[t.type] for t in g.tensors})
    weight_bytes = sum(int(np.prod(g.tensors[i].shape.tolist())) * itemsize[ttype[g.tensors[i].type]]
                       for i in const)
    return {"ops": ops, "macs": macs, "weight_bytes": weight_bytes,
            "peak_live_activation_bytes": peak, "tensor_types": tensor_types, "layers": layers_info}


def io_quant(tflite_bytes):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    (i,), (o,) = it.get_input_details(), it.get_output_details()

    def q(d):
        return {"name": d["name"], "shape": d["shape"].tolist(), "dtype": np.dtype(d["dtype"]).name.upper(),
                "quant": {"scale": d["quantization_parameters"]["scales"].tolist(),
                          "zero_point": d["quantization_parameters"]["zero_points"].tolist(),
                          "quantized_dimension": int(d["quantization_parameters"]["quantized_dimension"])}}

    return q(i), q(o)


def quantize_input(x, scale, zero_point):
    """float [0,1] images -> int8 (round half to even, as numpy does), clamped."""
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def run_tflm(tflite_bytes, xq):
    """Run int8 inputs [N, 1, 32, 32, 1] through the TFLM reference kernels."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(tflite_bytes)
    outs = []
    for sample in xq:
        interp.set_input(sample, 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), dtype=np.int8).copy())
    return np.stack(outs)


def run_litert(tflite_bytes, xq):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=tflite_bytes,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for sample in xq:
        it.set_tensor(i, sample)
        it.invoke()
        outs.append(it.get_tensor(o).copy())
    return np.stack(outs)


# ---------------------------------------------------------------------------------------
def main():
    set_determinism()
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, numpy {np.__version__}")

    (x_train, y_train, idx_train), (x_test, y_test, idx_test) = load_split()
    print(f"data: load_digits, {len(y_train) + len(y_test)} images -> train {len(y_train)}, "
          f"held-out test {len(y_test)} (stratified {TEST_FRACTION:.0%}, seed {SEED})")
    assert not set(idx_train) & set(idx_test)

    model = build_model()
    model.summary(line_length=100)
    print(f"training {EPOCHS} epochs ...", flush=True)
    train(model, x_train, y_train)

    float_pred = model.predict(x_test, batch_size=256, verbose=0).argmax(axis=1)
    float_acc = float((float_pred == y_test).mean())
    print(f"float Keras held-out accuracy: {float_acc:.4f} "
          f"({int((float_pred == y_test).sum())}/{len(y_test)})")

    tflite_bytes = convert(model, x_train)
    TFLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    TFLITE_PATH.write_bytes(tflite_bytes)
    sha = hashlib.sha256(tflite_bytes).hexdigest()
    print(f"wrote {TFLITE_PATH} ({len(tflite_bytes)} bytes, sha256 {sha})")

    print("--- tf.lite.experimental.Analyzer ---")
    tf.lite.experimental.Analyzer.analyze(model_content=tflite_bytes)
    print("-------------------------------------")

    info = analyse(tflite_bytes)
    op_counts = dict(sorted(Counter(info["ops"]).items()))
    allowed = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MEAN", "RESHAPE",
               "FULLY_CONNECTED", "SOFTMAX"}
    bad = set(op_counts) - allowed
    assert not bad, f"unexpected ops: {bad}"
    assert "FLOAT32" not in info["tensor_types"], f"float tensors present: {info['tensor_types']}"
    print("op sequence:", " -> ".join(info["ops"]))
    print("op counts:", op_counts)
    print("tensor types:", info["tensor_types"])
    print(f"{'op':<18} {'input':<18} {'output':<18} {'weights':<18} {'MACs':>9}")
    for layer in info["layers"]:
        print(f"{layer['op']:<18} {str(layer['input']):<18} {str(layer['output']):<18} "
              f"{str(layer['weights'] or ''):<18} {layer['macs']:>9}")
    print(f"MACs: {info['macs']}  weight bytes (weights + biases + shape consts): "
          f"{info['weight_bytes']}  peak live activations: {info['peak_live_activation_bytes']} B")

    inp_q, out_q = io_quant(tflite_bytes)
    in_scale, in_zp = inp_q["quant"]["scale"][0], inp_q["quant"]["zero_point"][0]
    out_scale, out_zp = out_q["quant"]["scale"][0], out_q["quant"]["zero_point"][0]
    print(f"input  quant: scale {in_scale!r} zero_point {in_zp} shape {inp_q['shape']}")
    print(f"output quant: scale {out_scale!r} zero_point {out_zp} shape {out_q['shape']}")

    # Held-out accuracy of the int8 model on the TFLM reference kernels. Inputs are
    # stacked on a leading axis with the model's batch-1 shape: [N, 1, 32, 32, 1].
    xq_test = quantize_input(x_test, in_scale, in_zp)[:, None]
    tflm_out = run_tflm(tflite_bytes, xq_test)  # [N, 1, 10] int8
    tflm_pred = tflm_out[:, 0, :].astype(np.int32).argmax(axis=1)
    tflm_acc = float((tflm_pred == y_test).mean())
    litert_out = run_litert(tflite_bytes, xq_test)
    litert_pred = litert_out[:, 0, :].astype(np.int32).argmax(axis=1)
    litert_acc = float((litert_pred == y_test).mean())
    n_diff = int((litert_out != tflm_out).any(axis=(1, 2)).sum())
    print(f"int8 TFLM held-out accuracy:   {tflm_acc:.4f} "
          f"({int((tflm_pred == y_test).sum())}/{len(y_test)})")
    print(f"int8 LiteRT (reference kernels) held-out accuracy: {litert_acc:.4f}; "
          f"test samples where LiteRT int8 output differs from TFLM: {n_diff}")
    print(f"float Keras held-out accuracy: {float_acc:.4f}")
    assert tflm_acc >= 0.95, "int8 TFLM accuracy below 95 %"

    # Demo/test samples, one per class in class order: the held-out image of that class
    # that the int8 model classifies correctly with the LEAST confidence (lowest top int8
    # output, then highest runner-up, then first in test order). Most held-out outputs
    # saturate at 127/-128, which would make weak goldens; these exercise the softmax.
    top = tflm_out[:, 0, :].astype(np.int32)
    top_sorted = np.sort(top, axis=1)
    pick = []
    for c in range(NUM_CLASSES):
        cand = np.flatnonzero((y_test == c) & (tflm_pred == c))
        order = np.lexsort((cand, -top_sorted[cand, -2], top_sorted[cand, -1]))
        pick.append(int(cand[order[0]]))
    s_inputs = xq_test[pick]  # int8 [10, 1, 32, 32, 1]
    s_labels = y_test[pick].astype(np.int32)
    s_outputs = run_tflm(tflite_bytes, s_inputs)  # golden, int8 [10, 1, 10]
    assert np.array_equal(s_outputs, tflm_out[pick])
    s_pred = s_outputs[:, 0, :].astype(np.int32).argmax(axis=1)
    SAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    np.save(SAMPLES_DIR / f"{SAMPLE_STEM}.inputs.npy", s_inputs)
    np.save(SAMPLES_DIR / f"{SAMPLE_STEM}.labels.npy", s_labels)
    np.save(SAMPLES_DIR / f"{SAMPLE_STEM}.outputs.npy", s_outputs)

    summary = {
        "name": "digits_mobilenet",
        "file": TFLITE_PATH.name,
        "bytes": len(tflite_bytes),
        "sha256": sha,
        "generated_by": "models/train/train_digits.py",
        "data": "sklearn.datasets.load_digits (copy of the UCI Optical Recognition of "
                "Handwritten Digits test set), stratified 80/20 split, seed %d" % SEED,
        "preprocessing": "pixel/16 -> bilinear resize 8x8->32x32 (tf.image.resize, half-pixel "
                         "centres, no antialias) -> q = clip(round(x/scale)+zero_point, -128, 127)",
        "ops": op_counts,
        "macs": info["macs"],
        "weight_bytes": info["weight_bytes"],
        "peak_live_activation_bytes": info["peak_live_activation_bytes"],
        "inputs": [inp_q],
        "outputs": [out_q],
        "accuracy_heldout": {"int8_tflm": tflm_acc, "int8_litert_ref": litert_acc,
                             "float_keras": float_acc, "n_test": int(len(y_test))},
        "samples_layout": {"inputs": f"{SAMPLE_STEM}.inputs.npy int8 {list(s_inputs.shape)}",
                           "labels": f"{SAMPLE_STEM}.labels.npy int32 {list(s_labels.shape)}",
                           "outputs": f"{SAMPLE_STEM}.outputs.npy int8 {list(s_outputs.shape)}"},
        "sample_selection": "one per class, class order: the correctly classified held-out "
                            "image with the lowest top TFLM int8 output (least confident)",
        "samples": [f"digits_{int(idx_test[p])}_label_{int(y_test[p])}" for p in pick],
        "sample_dataset_indices": [int(idx_test[p]) for p in pick],  # into load_digits()
        "labels": s_labels.tolist(),
        "predictions_tflm": s_pred.tolist(),
        "golden": f"{SAMPLE_STEM}.outputs.npy (TFLM reference kernels, tflite-micro PyPI)",
        "outputs_per_sample": s_outputs[:, 0, :].tolist(),
    }
    (SAMPLES_DIR / f"{SAMPLE_STEM}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"samples: labels {s_labels.tolist()} TFLM predictions {s_pred.tolist()} "
          f"-> {SAMPLES_DIR}/{SAMPLE_STEM}.*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
