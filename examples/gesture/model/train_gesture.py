#!/usr/bin/env python3
"""Train and export the gesture example's classifier: a small 1-D CNN over a window of
3-axis accelerometer readings (idle, shake, circle), on synthetic motion (no download).

    /tmp/tfenv/bin/python examples/gesture/model/train_gesture.py

Readings are what a LIS3DH gives at +-2 g in high-resolution mode: 12-bit values in the top
of an int16, 1 mg per digit after `>> 4`; the model takes them in g. Outputs beside this
script: gesture_int8.tflite (int8 in/out), gesture_f32.tflite (its float twin),
windows.inputs.npy (int8, quantized), windows.labels.npy (int32).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
import random
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras
from keras import layers

SEED = 7
WINDOW = 64  # samples at 50 Hz: 1.28 s
CLASSES = ["idle", "shake", "circle"]
OUT = Path(__file__).resolve().parent
random.seed(SEED)
np.random.seed(SEED)
tf.random.set_seed(SEED)


def window(kind: int, rng: np.random.Generator) -> np.ndarray:
    """One [WINDOW, 3] window in g: gravity on a random tilt, noise, and the gesture."""
    t = np.arange(WINDOW) / 50.0
    tilt = rng.normal(0, 0.3, 3)
    g = np.array([0.0, 0.0, 1.0]) + tilt
    g = g / np.linalg.norm(g)
    w = np.tile(g, (WINDOW, 1)) + rng.normal(0, 0.02, (WINDOW, 3))
    if kind == 1:  # shake: fast oscillation along one random horizontal axis
        f = rng.uniform(4, 8)
        axis = rng.integers(0, 2)
        w[:, axis] += rng.uniform(0.6, 1.4) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
    elif kind == 2:  # circle: slow rotation in the horizontal plane
        f = rng.uniform(0.8, 1.6)
        a = rng.uniform(0.3, 0.7)
        ph = rng.uniform(0, 6.3)
        w[:, 0] += a * np.cos(2 * np.pi * f * t + ph)
        w[:, 1] += a * np.sin(2 * np.pi * f * t + ph)
    # What the sensor can report: +-2 g, 1 mg resolution.
    return np.clip(np.round(w * 1000) / 1000, -2.0, 1.999)


def dataset(n: int, rng: np.random.Generator):
    y = rng.integers(0, len(CLASSES), n)
    x = np.stack([window(int(k), rng) for k in y]).astype(np.float32)
    return x, y.astype(np.int32)


rng = np.random.default_rng(SEED)
x_train, y_train = dataset(3000, rng)
x_test, y_test = dataset(300, rng)

model = keras.Sequential(
    [
        keras.Input((WINDOW, 3)),
        layers.Conv1D(8, 5, strides=2, padding="same", activation="relu"),
        layers.Conv1D(16, 5, strides=2, padding="same", activation="relu"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(len(CLASSES), activation="softmax"),
    ]
)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=12, batch_size=64, verbose=0)
print("float test accuracy", model.evaluate(x_test, y_test, verbose=0)[1])

converter = tf.lite.TFLiteConverter.from_keras_model(model)
(OUT / "gesture_f32.tflite").write_bytes(converter.convert())

converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([x[None]] for x in x_train[:200])
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = tf.int8
converter.inference_output_type = tf.int8
int8 = converter.convert()
(OUT / "gesture_int8.tflite").write_bytes(int8)

interp = tf.lite.Interpreter(model_content=int8)
scale, zp = interp.get_input_details()[0]["quantization"]
q = np.clip(np.round(x_test / scale) + zp, -128, 127).astype(np.int8)
np.save(OUT / "windows.inputs.npy", q[:, None])
np.save(OUT / "windows.labels.npy", y_test)
print("input scale", scale, "zero point", zp, "windows", len(q))
