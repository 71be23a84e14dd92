#!/usr/bin/env python3
"""Resource-variable goldens (`tests/data/variables`), call after call, from TFLite Micro.

Each case is a `tf.Module` whose state lives in `tf.Variable`s, converted by TensorFlow's
TFLiteConverter with `experimental_enable_resource_variables`: the file holds VAR_HANDLE,
READ_VARIABLE and ASSIGN_VARIABLE in the main subgraph and a CALL_ONCE whose initialisation
subgraph assigns the variables' initial values (two subgraphs). int8 cases are full-integer
post-training quantized (a representative dataset of random inputs).

Every case runs `CALLS` calls on ONE TFLM interpreter (`tflite_micro` Python runtime, the
reference kernels): the variables carry from one call to the next. Before each call in
`reset_before` the goldens continue on a FRESH interpreter, not on `Interpreter.reset()`:
TFLM's `MicroInterpreter::Reset` promises "the state ... when the interpreter is first
created" but zeroes the variables and leaves CALL_ONCE marked as run, so a reset TFLM never
re-initialises them (docs/tflm-deviations.md); Ferrite's `reset_state` restores the initial
values, as a fresh interpreter has them. `tflm_reset_differs` in index.json records, per case,
whether TFLM's own reset would have given other outputs (computed here, for the record).

Files per case: `<case>.tflite`, `<case>.inputs.npy` (`[calls, *input_shape]`),
`<case>.outputs.npy` (`[calls, *output_shape]`); `index.json` lists them. `invalid/` holds
edits of `smoother_f32` the converter must refuse with an error naming what is wrong
(`invalid/index.json`: file and the words the error must contain).

Run: /tmp/tfenv/bin/python tools/goldens/gen_variable_goldens.py
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "variables"
ARENA = 1 << 16
CALLS = 8
RESET_BEFORE = [5]


class Smoother(tf.Module):
    """Exponential smoothing and a call counter: two variables, one with a non-zero start."""

    def __init__(self):
        self.total = tf.Variable(tf.constant([[0.5, -1.0, 2.0, 0.0]], tf.float32))
        self.count = tf.Variable(tf.ones([1, 1], tf.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def __call__(self, x):
        self.total.assign(self.total * 0.75 + x)
        self.count.assign_add(tf.ones([1, 1]))
        return self.total / self.count


class StreamingConv(tf.Module):
    """A streaming 1-D convolution: the last `window - 1` frames live in a variable, each call
    appends one frame, convolves the window with a dense layer and slides it (what a
    streaming keyword-spotting model does between calls)."""

    def __init__(self, features=6, window=4, units=5, seed=3):
        rng = np.random.default_rng(seed)
        self.window = window
        self.buffer = tf.Variable(
            tf.constant(rng.uniform(-0.5, 0.5, [1, window - 1, features]).astype(np.float32)))
        self.kernel = tf.constant(rng.uniform(-1, 1, [window * features, units]).astype(np.float32))
        self.bias = tf.constant(rng.uniform(-0.2, 0.2, [units]).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 1, 6], tf.float32)])
    def __call__(self, x):
        frames = tf.concat([self.buffer, x], axis=1)
        self.buffer.assign(frames[:, 1:, :])
        flat = tf.reshape(frames, [1, -1])
        return tf.nn.relu(tf.matmul(flat, self.kernel) + self.bias)


CASES = [
    dict(name="smoother_f32", module=Smoother, shape=[1, 4], int8=False),
    dict(name="streaming_conv_f32", module=StreamingConv, shape=[1, 1, 6], int8=False),
    dict(name="streaming_conv_int8", module=StreamingConv, shape=[1, 1, 6], int8=True),
    dict(name="smoother_int8", module=Smoother, shape=[1, 4], int8=True),
]


def convert(case: dict) -> bytes:
    m = case["module"]()
    fn = m.__call__.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], m)
    conv.experimental_enable_resource_variables = True
    if case["int8"]:
        rng = np.random.default_rng(7)

        def rep():
            for _ in range(64):
                yield [rng.uniform(-2, 2, case["shape"]).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def op_names(model: bytes) -> list[str]:
    """The builtin operators of every subgraph, sorted."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    m = fb.ModelT.InitFromPackedBuf(model, 0)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    return sorted({names[codes[op.opcodeIndex]] for sg in m.subgraphs for op in sg.operators})


def run(model: bytes, xs: np.ndarray, fresh_at: list[int], use_reset: bool) -> np.ndarray:
    interp = tflm_runtime.Interpreter.from_bytes(model, arena_size=ARENA)
    outs = []
    for c in range(len(xs)):
        if c in fresh_at:
            if use_reset:
                interp.reset()
            else:
                interp = tflm_runtime.Interpreter.from_bytes(model, arena_size=ARENA)
        interp.set_input(xs[c], 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), copy=True))
    return np.stack(outs)


def invalid_models(model: bytes) -> list[dict]:
    """Edits of a converted resource-variable model, each one thing the converter refuses."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    import flatbuffers

    def edited(edit) -> bytes:
        m = fb.ModelT.InitFromPackedBuf(model, 0)
        edit(m)
        b = flatbuffers.Builder(4096)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    def code_index(m, builtin):
        return next(i for i, c in enumerate(m.operatorCodes)
                    if max(c.builtinCode, c.deprecatedBuiltinCode) == builtin)

    def init_computes(m):
        # The init subgraph's second ASSIGN_VARIABLE becomes a MUL of its two inputs.
        op = m.subgraphs[1].operators[3]
        op.opcodeIndex = code_index(m, fb.BuiltinOperator.MUL)
        op.outputs = [op.inputs[0]]

    def call_once_out_of_range(m):
        m.subgraphs[0].operators[0].builtinOptions.initSubgraphIndex = 7

    def call_once_after_use(m):
        ops = m.subgraphs[0].operators
        ops.insert(4, ops.pop(0))  # CALL_ONCE after the first READ_VARIABLE

    cases = [
        dict(file="init_computes.tflite", edit=init_computes,
             words=["CALL_ONCE", "initialisation subgraph #1", "MUL", "not supported"]),
        dict(file="call_once_out_of_range.tflite", edit=call_once_out_of_range,
             words=["CALL_ONCE", "init_subgraph_index 7", "2"]),
        dict(file="call_once_after_use.tflite", edit=call_once_after_use,
             words=["CALL_ONCE", "after operator", "Variable"]),
    ]
    return [dict(file=c["file"], words=c["words"], data=edited(c["edit"])) for c in cases]


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    index = []
    for k, case in enumerate(CASES):
        tf.random.set_seed(k)
        model = convert(case)
        rng = np.random.default_rng(1300 + k)
        if case["int8"]:
            xs = rng.integers(-128, 128, size=[CALLS] + case["shape"], dtype=np.int8)
        else:
            xs = rng.uniform(-2, 2, [CALLS] + case["shape"]).astype(np.float32)
        ys = run(model, xs, RESET_BEFORE, use_reset=False)
        with_tflm_reset = run(model, xs, RESET_BEFORE, use_reset=True)
        name = case["name"]
        (OUT_DIR / f"{name}.tflite").write_bytes(model)
        np.save(OUT_DIR / f"{name}.inputs.npy", xs)
        np.save(OUT_DIR / f"{name}.outputs.npy", ys)
        index.append({
            "name": name,
            "file": f"{name}.tflite",
            "ops": op_names(model),
            "dtype": "int8" if case["int8"] else "float32",
            "calls": CALLS,
            "reset_before": RESET_BEFORE,
            "tflm_reset_differs": bool(not np.array_equal(ys, with_tflm_reset)),
            "sha256": hashlib.sha256(model).hexdigest(),
        })
        print(name, ys.reshape(CALLS, -1)[:, :3].tolist())
    bad_dir = OUT_DIR / "invalid"
    bad_dir.mkdir(exist_ok=True)
    bad = invalid_models((OUT_DIR / "smoother_f32.tflite").read_bytes())
    for b in bad:
        (bad_dir / b["file"]).write_bytes(b["data"])
    (bad_dir / "index.json").write_text(json.dumps(
        {"cases": [{"file": b["file"], "words": b["words"]} for b in bad]}, indent=1) + "\n")
    from importlib.metadata import version
    versions = {p: version(p) for p in ("tflite_micro", "tensorflow", "numpy")}
    (OUT_DIR / "index.json").write_text(json.dumps({
        "generator": "tools/goldens/gen_variable_goldens.py",
        "tolerance": {"int8": "exact", "float32": "1e-5 relative"},
        "versions": versions,
        "cases": index,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
