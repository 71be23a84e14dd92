#!/usr/bin/env python3
"""Stateful SVDF goldens (`tests/data/stateful`), call after call, from TFLite Micro.

TensorFlow has no Keras SVDF layer and its converter never emits SVDF, so each case's `.tflite`
is written directly with the flatbuffers object API (as TFLM's own SVDF tests build their
models): input -> SVDF (weights_feature, weights_time, optional bias, a variable activation
state) -> output. Every case is run on ONE TFLM interpreter (`tflite_micro` Python runtime, the
reference kernels), sample after sample, so the activation state carries from one call to the
next; before the calls listed in `reset_before` the interpreter is reset
(`Interpreter.reset()`, TFLM's `ResetVariableTensors`). The interpreter is also reset before
the first call, which is what a Ferrite caller does with `Model::reset_state`.

Files per case: `<case>.tflite`, `<case>.inputs.npy` (`[calls, *input_shape]`) and
`<case>.outputs.npy` (`[calls, *output_shape]`, TFLM's outputs); `index.json` lists the cases
with their `reset_before`, dtype and tolerance. int8 outputs must match exactly, float32
within 1e-5 relative.

Run: /tmp/tfenv/bin/python tools/goldens/gen_svdf_goldens.py
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import (  # noqa: E402
    schema_py_generated as fb,
)

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "stateful"
ARENA = 1 << 16
CALLS = 8
RESET_BEFORE = [5]  # a reset in the middle of the run, then the sequence starts again


def tensor(name, shape, ttype, buffer, scale=None, zp=None, variable=False):
    t = fb.TensorT()
    t.name = name.encode()
    t.shape = list(shape)
    t.type = ttype
    t.buffer = buffer
    t.isVariable = variable
    if scale is not None:
        q = fb.QuantizationParametersT()
        q.scale = [float(scale)]
        q.zeroPoint = [int(zp)]
        t.quantization = q
    return t


def build(case: dict, rng: np.random.Generator) -> bytes:
    b, i, f, m, rank = case["batches"], case["input_size"], case["filters"], case["memory"], case["rank"]
    u = f // rank
    q = case["int8"]
    buffers = [fb.BufferT()]  # buffer 0: empty, by convention

    def buf(arr: np.ndarray | None) -> int:
        bt = fb.BufferT()
        if arr is not None:
            bt.data = list(np.ascontiguousarray(arr).tobytes())
        buffers.append(bt)
        return len(buffers) - 1

    tensors = []
    if q:
        s = case["scales"]
        wf = rng.integers(-127, 128, size=(f, i), dtype=np.int8)
        state8 = case.get("state8", False)
        if state8:
            wt = rng.integers(-127, 128, size=(f, m), dtype=np.int8)
        else:
            wt = rng.integers(-20000, 20001, size=(f, m), dtype=np.int16)
        bias_scale = np.float32(s["state"]) * np.float32(s["wt"])
        tensors.append(tensor("input", [b, i], fb.TensorType.INT8, buf(None), s["in"], s["in_zp"]))
        tensors.append(tensor("weights_feature", [f, i], fb.TensorType.INT8, buf(wf), s["wf"], 0))
        st_type = fb.TensorType.INT8 if state8 else fb.TensorType.INT16
        tensors.append(tensor("weights_time", [f, m], st_type, buf(wt), s["wt"], 0))
        if case["bias"]:
            r = case.get("bias_range", 1 << 20)
            bias = rng.integers(-r, r, size=(u,), dtype=np.int32)
            if case["bias"] == "zero":
                bias[:] = 0
            tensors.append(tensor("bias", [u], fb.TensorType.INT32, buf(bias), bias_scale, 0))
        tensors.append(tensor("activation_state", [b, m * f], st_type, buf(None),
                              s["state"], s.get("state_zp", 0), variable=True))
        tensors.append(tensor("output", [b, u], fb.TensorType.INT8, buf(None), s["out"], s["out_zp"]))
    else:
        wf = rng.standard_normal((f, i)).astype(np.float32) * 0.5
        wt = rng.standard_normal((f, m)).astype(np.float32) * 0.5
        tensors.append(tensor("input", [b, i], fb.TensorType.FLOAT32, buf(None)))
        tensors.append(tensor("weights_feature", [f, i], fb.TensorType.FLOAT32, buf(wf)))
        tensors.append(tensor("weights_time", [f, m], fb.TensorType.FLOAT32, buf(wt)))
        if case["bias"]:
            bias = rng.standard_normal((u,)).astype(np.float32) * 0.1
            if case["bias"] == "zero":
                bias[:] = 0
            tensors.append(tensor("bias", [u], fb.TensorType.FLOAT32, buf(bias)))
        tensors.append(tensor("activation_state", [b, m * f], fb.TensorType.FLOAT32, buf(None),
                              variable=True))
        tensors.append(tensor("output", [b, u], fb.TensorType.FLOAT32, buf(None)))

    n = len(tensors)
    op = fb.OperatorT()
    op.opcodeIndex = 0
    # Inputs: input, weights_feature, weights_time, bias (-1: absent), activation state.
    op.inputs = [0, 1, 2, 3, 4] if case["bias"] else [0, 1, 2, -1, 3]
    op.outputs = [n - 1]
    op.builtinOptionsType = fb.BuiltinOptions.SVDFOptions
    opts = fb.SVDFOptionsT()
    opts.rank = rank
    opts.fusedActivationFunction = case["activation"]
    op.builtinOptions = opts

    sg = fb.SubGraphT()
    sg.tensors = tensors
    sg.inputs = [0]
    sg.outputs = [n - 1]
    sg.operators = [op]
    sg.name = b"main"

    code = fb.OperatorCodeT()
    code.builtinCode = fb.BuiltinOperator.SVDF
    code.deprecatedBuiltinCode = fb.BuiltinOperator.SVDF
    code.version = 3 if q else 1

    model = fb.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [sg]
    model.buffers = buffers
    model.description = b"Ferrite SVDF golden (tools/goldens/gen_svdf_goldens.py)"
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


INT8_SCALES = {"in": 1 / 64, "in_zp": -3, "wf": 1 / 100, "state": 1 / 2048, "wt": 1 / 16384,
               "out": 0.125, "out_zp": 5}
CASES = [
    dict(name="svdf_int8_rank1", int8=True, batches=1, input_size=8, filters=4, rank=1,
         memory=5, bias=True, activation=fb.ActivationFunctionType.NONE, scales=INT8_SCALES),
    dict(name="svdf_int8_rank2_batch2", int8=True, batches=2, input_size=6, filters=6, rank=2,
         memory=4, bias=True, activation=fb.ActivationFunctionType.NONE,
         scales={**INT8_SCALES, "in_zp": 7, "out": 0.25, "out_zp": -11}),
    dict(name="svdf_int8_relu_rank1", int8=True, batches=1, input_size=5, filters=3, rank=1,
         memory=3, bias=True, activation=fb.ActivationFunctionType.RELU, scales=INT8_SCALES),
    dict(name="svdf_f32_rank1_relu", int8=False, batches=1, input_size=5, filters=3, rank=1,
         memory=4, bias=True, activation=fb.ActivationFunctionType.RELU),
    dict(name="svdf_f32_rank2_nobias", int8=False, batches=2, input_size=4, filters=4, rank=2,
         memory=3, bias=False, activation=fb.ActivationFunctionType.NONE),
    dict(name="svdf_int8_rank2_nobias", int8=True, batches=1, input_size=7, filters=4, rank=2,
         memory=6, bias=False, activation=fb.ActivationFunctionType.NONE, scales=INT8_SCALES),
    dict(name="svdf_f32_rank3_relu6", int8=False, batches=1, input_size=3, filters=6, rank=3,
         memory=5, bias=True, activation=fb.ActivationFunctionType.RELU6),
    # int8 time weights and state (TFLM's EvalInt8SvdfReference), the state with a nonzero
    # zero point: the reset fills it with that zero point, and every frame carries it.
    dict(name="svdf_int8_state8_rank2", int8=True, state8=True, batches=1, input_size=6,
         filters=4, rank=2, memory=5, bias=True, activation=fb.ActivationFunctionType.NONE,
         scales={"in": 1 / 64, "in_zp": 2, "wf": 1 / 100, "state": 1 / 16, "state_zp": -5,
                 "wt": 1 / 64, "out": 0.5, "out_zp": 3}, bias_range=2000),
]


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    index = []
    for k, case in enumerate(CASES):
        rng = np.random.default_rng(1200 + k)
        model = build(case, rng)
        # TFLM cannot run an SVDF without bias (its Prepare reads the absent bias tensor and
        # the process dies), and its no-bias path starts each sum from zero: the golden of a
        # case without bias comes from a twin with an all-zero bias, same weights, same inputs.
        tflm_model = model
        if not case["bias"]:
            tflm_model = build({**case, "bias": "zero"}, np.random.default_rng(1200 + k))
        shape = [case["batches"], case["input_size"]]
        if case["int8"]:
            xs = rng.integers(-128, 128, size=[CALLS] + shape, dtype=np.int8)
        else:
            xs = rng.standard_normal([CALLS] + shape).astype(np.float32) * 2
        interp = tflm_runtime.Interpreter.from_bytes(tflm_model, arena_size=ARENA)
        interp.reset()
        outs = []
        for c in range(CALLS):
            if c in RESET_BEFORE:
                interp.reset()
            interp.set_input(xs[c], 0)
            interp.invoke()
            outs.append(np.array(interp.get_output(0), copy=True))
        ys = np.stack(outs)
        name = case["name"]
        (OUT_DIR / f"{name}.tflite").write_bytes(model)
        np.save(OUT_DIR / f"{name}.inputs.npy", xs)
        np.save(OUT_DIR / f"{name}.outputs.npy", ys)
        index.append({
            "name": name,
            "file": f"{name}.tflite",
            "ops": ["SVDF"],
            "dtype": "int8" if case["int8"] else "float32",
            "calls": CALLS,
            "reset_before": RESET_BEFORE,
            "state_dtype": "int8" if case.get("state8") else ("int16" if case["int8"] else "float32"),
            "rank": case["rank"],
            "batches": case["batches"],
            "memory": case["memory"],
            "bias": case["bias"],
            "golden_from": "this model" if case["bias"] else "a twin with an all-zero bias (TFLM dies on an absent SVDF bias)",
            "activation": case["activation"],
            "sha256": hashlib.sha256(model).hexdigest(),
        })
        print(name, ys.reshape(CALLS, -1)[:, :4].tolist())
    versions = {"tflite_micro": getattr(tflm_runtime, "__version__", None)}
    try:
        from importlib.metadata import version
        versions = {p: version(p) for p in ("tflite_micro", "numpy", "flatbuffers")}
    except Exception:  # pragma: no cover
        pass
    (OUT_DIR / "index.json").write_text(json.dumps({
        "generator": "tools/goldens/gen_svdf_goldens.py",
        "tolerance": {"int8": "exact", "float32": "1e-5 relative"},
        "versions": versions,
        "cases": index,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
