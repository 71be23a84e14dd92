#!/usr/bin/env python3
"""Rebuild a float twin of the bundled int8 digits model from its own weights, for
`ferrite eval --reference` (int8-vs-float agreement):

    /tmp/tfenv/bin/python models/train/float_twin.py   # writes models/digits_mobilenet_float.tflite

The training run that produced `digits_mobilenet.tflite` kept no float model, and retraining
would not reproduce the int8 bytes (see requirements.txt). So the twin is the same network
(`train_digits.build_model`'s layers with BatchNorm folded, as the converter folded them)
carrying the int8 model's weights and biases dequantized: it differs from the int8 model only
by the quantization of activations, which is what the agreement then measures.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras
from keras import layers
from ai_edge_litert.interpreter import Interpreter, OpResolverType

MODELS = Path(__file__).resolve().parents[1]
INT8 = MODELS / "digits_mobilenet.tflite"
OUT = MODELS / "digits_mobilenet_float.tflite"


def dequantized(it, details, index, axis):
    """A constant tensor's real values, per channel along `axis` where the model says so."""
    d = details[index]
    q = it.get_tensor(index).astype(np.float64)
    p = d["quantization_parameters"]
    scales, zps = p["scales"], p["zero_points"]
    shape = [1] * q.ndim
    if len(scales) > 1:
        shape[axis] = len(scales)
    return ((q - zps.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def main():
    # No delegate: its pseudo-op would hide the model's operators.
    it = Interpreter(model_path=str(INT8), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    details = {d["index"]: d for d in it.get_tensor_details()}
    ops = it._get_ops_details()
    inp_shape = details[ops[0]["inputs"][0]]["shape"]
    x = inp = keras.Input(shape=tuple(inp_shape[1:]), batch_size=1, name="input")
    weights = []
    for op in ops:
        name, ins, outs = op["op_name"], op["inputs"], op["outputs"]
        in_hw = details[ins[0]]["shape"][1] if len(details[ins[0]]["shape"]) == 4 else None
        out_shape = details[outs[0]]["shape"]
        if name == "CONV_2D":
            w = dequantized(it, details, ins[1], 0)  # [out, kh, kw, in]
            b = dequantized(it, details, ins[2], 0)
            stride = int(in_hw // out_shape[1])
            x = layers.Conv2D(int(w.shape[0]), tuple(int(k) for k in w.shape[1:3]), strides=stride, padding="same",
                              activation=lambda t: tf.nn.relu6(t))(x)
            weights.append([w.transpose(1, 2, 3, 0), b])
        elif name == "DEPTHWISE_CONV_2D":
            w = dequantized(it, details, ins[1], 3)  # [1, kh, kw, ch]
            b = dequantized(it, details, ins[2], 0)
            stride = int(in_hw // out_shape[1])
            x = layers.DepthwiseConv2D(tuple(int(k) for k in w.shape[1:3]), strides=stride, padding="same",
                                       activation=lambda t: tf.nn.relu6(t))(x)
            weights.append([w.transpose(1, 2, 3, 0), b])
        elif name == "AVERAGE_POOL_2D":
            x = layers.AveragePooling2D(pool_size=int(in_hw))(x)
        elif name == "FULLY_CONNECTED":
            w = dequantized(it, details, ins[1], 0)  # [out, in]
            b = dequantized(it, details, ins[2], 0)
            x = layers.Dense(int(w.shape[0]))(layers.Flatten()(x))
            weights.append([w.T, b])
        elif name == "SOFTMAX":
            x = layers.Softmax()(x)
        elif name == "RESHAPE":
            continue
        else:
            raise SystemExit(f"{name}: not in the digits model's layers")
    model = keras.Model(inp, x)
    with_weights = [l for l in model.layers if l.get_weights()]
    assert len(with_weights) == len(weights)
    for layer, w in zip(with_weights, weights):
        layer.set_weights(w)
    OUT.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
