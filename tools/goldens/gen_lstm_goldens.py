#!/usr/bin/env python3
"""UNIDIRECTIONAL_SEQUENCE_LSTM goldens (`tests/data/lstm`), call after call, from TFLite Micro.

Keras `LSTM` layers (the Keras 2 implementation, `tf_keras`: its LSTM is what TensorFlow's
converter fuses into one UNIDIRECTIONAL_SEQUENCE_LSTM; Keras 3's becomes a WHILE loop) with a
fixed batch size, converted by TFLiteConverter as float32, int8 (full-integer post-training
quantization with a representative dataset: int8 activations and weights, int16 cell state) and
16x8 (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8: int16 activations, int8
weights, int16 cell state). The converter always writes batch-major input, a TANH cell
activation and cell_clip 10, and refuses to quantize UNIDIRECTIONAL_SEQUENCE_LSTM to 16x8
("not yet supported"); the cases marked `edit` change the converted flatbuffer with the
object API for what it cannot emit: time-major layout (the input and output shapes transposed
to [time, batch, ...]), another cell clip (0 = none, or a small one that clips), as TFLM's own
tests build such models, and 16x8 (`to16x8`): the int8 model's input, hidden state and
output become int16 (zero point 0, a scale covering the int8 range) and its int32 biases int64
in the new input scale times the weights' scale; weights and cell state stay as quantized.

Each case runs on ONE TFLM interpreter (`tflite_micro` Python runtime, reference kernels),
sample after sample, so the hidden and cell states (variable tensors) carry from one call to the
next; before the calls in `reset_before` the interpreter is reset (TFLM's
`ResetVariableTensors`), and before the first one.

Plus a whole model: a small LSTM classifier (Input(batch 1, 20 steps, 8 features) ->
LSTM(16) -> Dense(4) -> softmax), trained briefly on synthetic sequences, float32 and int8.

Files per case: `<case>.tflite`, `<case>.inputs.npy` (`[calls, *input_shape]`),
`<case>.outputs.npy` (`[calls, *output_shape]`, TFLM's); `index.json` lists them. Integer
outputs must match exactly, float32 within 1e-5 relative.

Run: PYTHONPATH=/tmp/tfk TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tools/goldens/gen_lstm_goldens.py
(with tf_keras 2.21 installed in /tmp/tfk: pip install --no-deps --target /tmp/tfk tf_keras~=2.21.0)
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import (  # noqa: E402
    schema_py_generated as fb,
)

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "lstm"
ARENA = 1 << 18
CALLS = 6
RESET_BEFORE = [4]
LSTM_CODE = 44

# name, quant, units, time steps, input size, batch, return_sequences, edits
CASES = [
    dict(name="lstm_f32_u4_t5_i3", quant="float32", units=4, steps=5, inputs=3, batch=1, seq=True),
    dict(name="lstm_f32_u8_t3_i5_b2_last", quant="float32", units=8, steps=3, inputs=5, batch=2, seq=False),
    dict(name="lstm_f32_u6_t4_i3_b2_timemajor", quant="float32", units=6, steps=4, inputs=3, batch=2, seq=True,
         edit={"time_major": True}),
    dict(name="lstm_f32_u5_t6_i2_clip", quant="float32", units=5, steps=6, inputs=2, batch=1, seq=True,
         edit={"cell_clip": 0.3}, scale_in=3.0),
    dict(name="lstm_f32_u3_t4_i4_noclip", quant="float32", units=3, steps=4, inputs=4, batch=1, seq=True,
         edit={"cell_clip": 0.0}, scale_in=4.0),
    dict(name="lstm_int8_u4_t5_i3", quant="int8", units=4, steps=5, inputs=3, batch=1, seq=True),
    dict(name="lstm_int8_u8_t3_i5_b2_last", quant="int8", units=8, steps=3, inputs=5, batch=2, seq=False),
    dict(name="lstm_int8_u12_t6_i6", quant="int8", units=12, steps=6, inputs=6, batch=1, seq=True),
    dict(name="lstm_int8_u6_t4_i3_b2_timemajor", quant="int8", units=6, steps=4, inputs=3, batch=2, seq=True,
         edit={"time_major": True}),
    dict(name="lstm_int8_u5_t6_i2_clip", quant="int8", units=5, steps=6, inputs=2, batch=1, seq=True,
         edit={"cell_clip": 0.3}, scale_in=3.0),
    dict(name="lstm_int8_u3_t4_i4_noclip", quant="int8", units=3, steps=4, inputs=4, batch=1, seq=True,
         edit={"cell_clip": 0.0}, scale_in=4.0),
    dict(name="lstm_16x8_u4_t5_i3", quant="16x8", units=4, steps=5, inputs=3, batch=1, seq=True,
         edit={"to16x8": True}),
    dict(name="lstm_16x8_u8_t3_i5_b2", quant="16x8", units=8, steps=3, inputs=5, batch=2, seq=True,
         edit={"to16x8": True}),
    dict(name="lstm_16x8_u6_t4_i3_b2_timemajor", quant="16x8", units=6, steps=4, inputs=3, batch=2, seq=True,
         edit={"time_major": True, "to16x8": True}),
    dict(name="lstm_16x8_u5_t6_i2_clip", quant="16x8", units=5, steps=6, inputs=2, batch=1, seq=True,
         edit={"cell_clip": 0.3, "to16x8": True}, scale_in=3.0),
]

CLASSIFIER = [
    dict(name="lstm_classifier_f32", quant="float32"),
    dict(name="lstm_classifier_int8", quant="int8"),
]


def keras_lstm(case: dict, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(case["steps"], case["inputs"]), batch_size=case["batch"])
    layer = keras.layers.LSTM(case["units"], return_sequences=case["seq"],
                              bias_initializer="random_normal", unit_forget_bias=False)
    out = layer(inp)
    model = keras.Model(inp, out)
    # Larger weights than Glorot's, so that the gates leave their linear range.
    k, r, b = layer.get_weights()
    layer.set_weights([k * 2.0, r * 2.0, b])
    return model


def classifier(seed: int):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    steps, feats, classes = 20, 8, 4
    n = 512
    y = rng.integers(0, classes, size=n)
    x = rng.standard_normal((n, steps, feats)).astype(np.float32) * 0.5
    t = np.linspace(0, 1, steps, dtype=np.float32)
    for k in range(n):
        # class c: a ramp on feature 2c (rising for even, bump in the middle for odd)
        c = y[k]
        x[k, :, 2 * c] += (t if c % 2 == 0 else np.exp(-((t - 0.5) ** 2) / 0.02)) * 2.0
    inp = keras.Input(shape=(steps, feats), batch_size=1)
    h = keras.layers.LSTM(16)(inp)
    out = keras.layers.Dense(classes, activation="softmax")(h)
    model = keras.Model(inp, out)
    # Train a batch-free twin, then copy its weights into the batch-1 model.
    tin = keras.Input(shape=(steps, feats))
    tl = keras.layers.LSTM(16)
    td = keras.layers.Dense(classes, activation="softmax")
    twin = keras.Model(tin, td(tl(tin)))
    twin.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    hist = twin.fit(x, y, epochs=6, batch_size=32, verbose=0)
    model.set_weights(twin.get_weights())
    return model, x, float(hist.history["accuracy"][-1])


def convert(model: keras.Model, quant: str, rep: np.ndarray) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if quant != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]

        def gen():
            for k in range(len(rep)):
                yield [rep[k:k + 1].reshape((1,) + rep.shape[1:]) if rep.shape[0] != 1 else rep]

        batch = model.inputs[0].shape[0]

        def gen_b():
            for k in range(0, len(rep) - batch + 1, batch):
                yield [rep[k:k + batch]]

        conv.representative_dataset = gen_b
        if quant in ("int8", "16x8"):  # 16x8: from the int8 model, see edit()
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        else:
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            conv.inference_input_type = tf.int16
            conv.inference_output_type = tf.int16
    return conv.convert()


def edit(data: bytes, changes: dict) -> bytes:
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    sg = m.subgraphs[0]
    lstm_ops = [op for op in sg.operators if m.operatorCodes[op.opcodeIndex].builtinCode == LSTM_CODE]
    assert len(lstm_ops) == 1, "expected one fused LSTM"
    op = lstm_ops[0]
    o = op.builtinOptions
    assert len(op.inputs) == 24
    if "cell_clip" in changes:
        o.cellClip = float(changes["cell_clip"])
    if changes.get("to16x8"):
        assert len(sg.operators) == 1, "16x8 edit needs the LSTM alone"
        old_in = sg.tensors[op.inputs[0]].quantization.scale[0]
        for k in (op.inputs[0], op.inputs[18], op.outputs[0]):
            t = sg.tensors[k]
            q = t.quantization
            lo = (-128 - q.zeroPoint[0]) * q.scale[0]
            hi = (127 - q.zeroPoint[0]) * q.scale[0]
            q.scale = [float(np.float32(max(-lo, hi) / 32767.0))]
            q.zeroPoint = [0]
            t.type = fb.TensorType.INT16
        new_in = sg.tensors[op.inputs[0]].quantization.scale[0]
        for k in sorted(set(op.inputs[12:16])):
            t = sg.tensors[k]
            buf = m.buffers[t.buffer]
            old = np.frombuffer(bytes(bytearray(buf.data)), dtype=np.int32).astype(np.float64)
            scale_old = t.quantization.scale[0]
            scale_new = float(np.float32(scale_old * new_in / old_in))
            new = np.round(old * scale_old / scale_new).astype(np.int64)
            buf.data = list(new.tobytes())
            t.quantization.scale = [scale_new]
            t.quantization.zeroPoint = [0]
            t.type = fb.TensorType.INT64
    if changes.get("time_major"):
        assert len(sg.operators) == 1, "time-major edit needs the LSTM alone"
        o.timeMajor = True
        for t in (sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]):
            s = list(t.shape)
            t.shape = [s[1], s[0], s[2]]
            if t.shapeSignature is not None:
                t.shapeSignature = [s[1], s[0], s[2]]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def lstm_ops(data: bytes) -> list[str]:
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    return [names.get(max(m.operatorCodes[op.opcodeIndex].builtinCode,
                          m.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode), "?")
            for op in m.subgraphs[0].operators]


def quantize_input(x: np.ndarray, interp, dtype) -> np.ndarray:
    d = interp.get_input_details(0)
    scale, zp = d["quantization_parameters"]["scales"][0], d["quantization_parameters"]["zero_points"][0]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def run_case(name: str, data: bytes, xs_float: np.ndarray, quant: str, meta: dict, index: list):
    interp = tflm_runtime.Interpreter.from_bytes(data, arena_size=ARENA)
    if quant == "float32":
        xs = xs_float.astype(np.float32)
    else:
        xs = quantize_input(xs_float, interp, np.int8 if quant == "int8" else np.int16)
    interp.reset()
    outs = []
    for c in range(CALLS):
        if c in RESET_BEFORE:
            interp.reset()
        interp.set_input(xs[c], 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), copy=True))
    ys = np.stack(outs)
    (OUT_DIR / f"{name}.tflite").write_bytes(data)
    np.save(OUT_DIR / f"{name}.inputs.npy", xs)
    np.save(OUT_DIR / f"{name}.outputs.npy", ys)
    index.append({
        "name": name,
        "file": f"{name}.tflite",
        "ops": lstm_ops(data),
        "dtype": str(ys.dtype),
        "calls": CALLS,
        "reset_before": RESET_BEFORE,
        **meta,
        "sha256": hashlib.sha256(data).hexdigest(),
    })
    print(name, lstm_ops(data), ys.reshape(CALLS, -1)[:, :4].tolist())


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    index = []
    for k, case in enumerate(CASES):
        seed = 4100 + k
        rng = np.random.default_rng(seed)
        model = keras_lstm(case, seed)
        b, t, i = case["batch"], case["steps"], case["inputs"]
        scale_in = case.get("scale_in", 1.5)
        rep = rng.standard_normal((64 * b, t, i)).astype(np.float32) * scale_in
        data = convert(model, case["quant"], rep)
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in lstm_ops(data), lstm_ops(data)
        xs = rng.standard_normal((CALLS, b, t, i)).astype(np.float32) * scale_in
        changes = case.get("edit", {})
        if changes:
            data = edit(data, changes)
            if changes.get("time_major"):
                xs = np.ascontiguousarray(xs.transpose(0, 2, 1, 3))
        meta = {k2: case[k2] for k2 in ("quant", "units", "steps", "inputs", "batch")}
        meta["return_sequences"] = case["seq"]
        meta["edit"] = changes
        run_case(case["name"], data, xs, case["quant"], meta, index)
    for k, case in enumerate(CLASSIFIER):
        model, x, acc = classifier(4200)
        data = convert(model, case["quant"], x[:128])
        xs = x[200:200 + CALLS].reshape(CALLS, 1, 20, 8)
        meta = {"quant": case["quant"], "units": 16, "steps": 20, "inputs": 8, "batch": 1,
                "return_sequences": False, "edit": {}, "classifier_train_accuracy": round(acc, 3)}
        run_case(case["name"], data, xs, case["quant"], meta, index)
    from importlib.metadata import version
    versions = {p: version(p) for p in ("tflite_micro", "tensorflow", "tf_keras", "numpy", "flatbuffers")}
    (OUT_DIR / "index.json").write_text(json.dumps({
        "generator": "tools/goldens/gen_lstm_goldens.py",
        "tolerance": {"int8": "exact", "int16": "exact", "float32": "1e-5 relative"},
        "versions": versions,
        "cases": index,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
