#!/usr/bin/env python3
"""Single-operator goldens for TFLite Micro's signal library ops (`tests/data/signal`).

The `tflite_micro` package ships no Python builders for the signal ops, so each case's
`.tflite` is written directly with the flatbuffers object API: the model's non-constant
inputs -> one `Signal*` custom operator (options as a FlexBuffer map, as TensorFlow's signal
ops write them) -> all its outputs. Every case runs on ONE TFLM interpreter (`tflite_micro`
Python runtime, the reference kernels, which register the signal ops) call after call, reset
before call 0 and before each call in `reset_before` (TFLM's `Reset`, which zeroes spectral
subtraction's noise estimate), so state carries between calls as on a device.

Files per case: `<case>.tflite`, `<case>.in<k>.npy` (`[calls, *shape]` of model input k) and
`<case>.out<k>.npy` (`[calls, *shape]` of TFLM's output k); `index.json` lists the cases. All
outputs are integers and must match exactly; `valid` (if present) is the half-open range of
an output's elements TFLM writes (SignalEnergy leaves the bins outside start..end unwritten);
`compare_if` (if present) maps an output to the bool output that says whether TFLM wrote it
that call (the framer's and stacker's frames are unwritten while their valid flag is false).

Run: /tmp/tfenv/bin/python tools/goldens/gen_signal_goldens.py
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402
from flatbuffers import flexbuffers  # noqa: E402
from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import (  # noqa: E402
    schema_py_generated as fb,
)

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "data" / "signal"
PREPROCESSOR = REPO.parent / "shared" / "models" / "micro_speech_e2e" / "audio_preprocessor_int8.tflite"
ARENA = 1 << 16

TT = fb.TensorType
# Each op's element types, as README's operator table lists them (`variant` in index.json).
TYPES = {
    "SignalWindow": "int16", "SignalFftAutoScale": "int16", "SignalRfft": "int16",
    "SignalEnergy": "int16 → uint32", "SignalFilterBank": "uint32 → uint64",
    "SignalFilterBankSquareRoot": "uint64 → uint32", "SignalFilterBankSpectralSubtraction": "uint32",
    "SignalPCAN": "uint32", "SignalFilterBankLog": "uint32 → int16",
    "SignalIrfft": "int16", "SignalFramer": "int16", "SignalStacker": "int16",
    "SignalOverlapAdd": "int16", "SignalDelay": "int16",
}
NP = {TT.INT16: np.int16, TT.INT32: np.int32, TT.UINT32: np.uint32, TT.UINT64: np.uint64}


def preprocessor_consts() -> dict[str, np.ndarray]:
    """The micro_speech preprocessor's filter bank tables and PCAN gain table, by tensor name
    (realistic tables for the filter bank and PCAN cases)."""
    m = fb.ModelT.InitFromPackedBuf(PREPROCESSOR.read_bytes(), 0)
    out = {}
    for t in m.subgraphs[0].tensors:
        data = m.buffers[t.buffer].data
        if data is not None and len(data) and t.type == TT.INT16:
            out[t.name.decode()] = np.frombuffer(bytes(bytearray(data)), dtype=np.int16).copy()
    return out


def build(op_name: str, options: dict, inputs: list, outputs: list) -> bytes:
    """inputs: (name, shape, type, const array or None); outputs: (name, shape, type)."""
    buffers = [fb.BufferT()]
    tensors, op_inputs, graph_inputs = [], [], []
    for name, shape, ttype, const in inputs:
        bt = fb.BufferT()
        if const is not None:
            bt.data = list(np.ascontiguousarray(const).tobytes())
        buffers.append(bt)
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), ttype, len(buffers) - 1
        tensors.append(t)
        op_inputs.append(len(tensors) - 1)
        if const is None:
            graph_inputs.append(len(tensors) - 1)
    outs = []
    for name, shape, ttype in outputs:
        buffers.append(fb.BufferT())
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), ttype, len(buffers) - 1
        tensors.append(t)
        outs.append(len(tensors) - 1)
    op = fb.OperatorT()
    op.opcodeIndex = 0
    op.inputs, op.outputs = op_inputs, outs
    op.customOptions = list(flexbuffers.Dumps(options))
    op.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS
    sg = fb.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, graph_inputs, outs, [op]
    sg.name = b"main"
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
    code.customCode = op_name.encode()
    code.version = 1
    model = fb.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [sg]
    model.buffers = buffers
    model.description = b"Ferrite signal golden (tools/goldens/gen_signal_goldens.py)"
    b = flatbuffers.Builder(4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def i16(rng, shape, lo=-32768, hi=32768):
    return rng.integers(lo, hi, size=shape, dtype=np.int16)


def u32(rng, shape, hi=1 << 32):
    return rng.integers(0, hi, size=shape, dtype=np.uint64).astype(np.uint32)


def cases(consts):
    c = []
    # --- SignalWindow ---
    for name, shape, n, shift, amp in [
        ("window_16_shift12", [16], 16, 12, 32768),
        ("window_3x8_shift0_saturating", [3, 8], 8, 0, 32768),
        ("window_1x32_shift15", [1, 32], 32, 15, 4000),
    ]:
        def gen(rng, k, shape=shape, amp=amp):
            return [i16(rng, shape, -amp, amp)]
        w = i16(np.random.default_rng(len(c)), [n], 0, 4096 if shift else 200)
        c.append(dict(name=name, op="SignalWindow", options={"shift": shift},
                      inputs=[("input", shape, TT.INT16, None), ("weights", [n], TT.INT16, w)],
                      outputs=[("output", shape, TT.INT16)], calls=3, gen=gen))
    # --- SignalFftAutoScale: zeros, tiny, -32768 inside, full scale, one small value ---
    def gen_fas(rng, k):
        x = [np.zeros(32, np.int16), i16(rng, [32], -3, 4), i16(rng, [32], -100, 100),
             i16(rng, [32]), np.full(32, 1, np.int16)][k]
        if k == 2:
            x[7] = -32768
        return [x]
    c.append(dict(name="fft_auto_scale_32", op="SignalFftAutoScale", options={},
                  inputs=[("input", [32], TT.INT16, None)],
                  outputs=[("output", [32], TT.INT16), ("scale_bits", [], TT.INT32)],
                  calls=5, gen=gen_fas))
    # --- SignalRfft (int16) ---
    for name, in_shape, fft, amp in [
        ("rfft_480_in_512", [480], 512, 32768),
        ("rfft_64_in_64_small", [64], 64, 300),
        ("rfft_2x5_in_8", [2, 5], 8, 32768),
        ("rfft_100_in_128", [100], 128, 20000),
        ("rfft_4_in_4", [4], 4, 32768),
    ]:
        def gen(rng, k, in_shape=in_shape, amp=amp):
            return [i16(rng, in_shape, -amp, amp)]
        out_shape = in_shape[:-1] + [fft + 2]
        c.append(dict(name=name, op="SignalRfft", options={"T": int(TT.INT16), "fft_length": fft},
                      inputs=[("input", in_shape, TT.INT16, None)],
                      outputs=[("output", out_shape, TT.INT16)], calls=3, gen=gen))
    # --- SignalEnergy ---
    for name, n, start, end in [("energy_257_5_241", 257, 5, 241), ("energy_9_full", 9, 0, 9)]:
        def gen(rng, k, n=n):
            x = i16(rng, [2 * n])
            if k == 0:
                x[:4] = -32768  # the int32 sum overflows to 2^31
            return [x]
        c.append(dict(name=name, op="SignalEnergy", options={"end_index": end, "start_index": start},
                      inputs=[("input", [2 * n], TT.INT16, None)],
                      outputs=[("output", [n], TT.UINT32)], calls=3, gen=gen,
                      valid=[[start, end]]))
    # --- SignalFilterBank: micro_speech's 40-channel tables, and a small random bank ---
    # In the preprocessor's operand order: weights, unweights, channel frequency starts,
    # channel weight starts, channel widths.
    names = ["signal_filter_bank/Const", "signal_filter_bank/Const_1", "signal_filter_bank/Const_2",
             "signal_filter_bank/Const_3", "signal_filter_bank/Const_4"]
    tables = [consts[n] for n in names]
    def gen_fb(rng, k, n=257):
        return [u32(rng, [n], [1 << 32, 1 << 20, 1 << 31][k])]
    c.append(dict(name="filter_bank_40_micro_speech", op="SignalFilterBank", options={"num_channels": 40},
                  inputs=[("input", [257], TT.UINT32, None)] + [
                      (f"table{k}", [len(t)], TT.INT16, t) for k, t in enumerate(tables)],
                  outputs=[("output", [40], TT.UINT64)], calls=3, gen=gen_fb))
    rng0 = np.random.default_rng(77)
    ch = 4
    widths = np.array([2, 3, 1, 4, 2], np.int16)
    fstarts = np.array([0, 1, 3, 4, 7], np.int16)
    wstarts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int16)
    weights = rng0.integers(-4096, 4097, size=int(widths.sum()), dtype=np.int16)
    unweights = (4096 - weights).astype(np.int16)
    def gen_fb2(rng, k):
        return [u32(rng, [10])]
    c.append(dict(name="filter_bank_4_signed_weights", op="SignalFilterBank", options={"num_channels": ch},
                  inputs=[("input", [10], TT.UINT32, None)] + [
                      (f"table{k}", [len(t)], TT.INT16, t)
                      for k, t in enumerate([weights, unweights, fstarts, wstarts, widths])],
                  outputs=[("output", [ch], TT.UINT64)], calls=3, gen=gen_fb2))
    # --- SignalFilterBankSquareRoot: small, near 2^32, huge values; shifts 0, 3, 14 ---
    def gen_sqrt(rng, k):
        x = np.concatenate([
            rng.integers(0, 1 << 16, size=4, dtype=np.uint64),
            np.array([0, 1, 2, 3, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, (1 << 64) - 1], np.uint64),
            rng.integers(0, 1 << 63, size=4, dtype=np.uint64) * np.uint64(2),
        ])
        return [x, np.array([0, 3, 14][k], np.int32)]
    c.append(dict(name="filter_bank_square_root_16", op="SignalFilterBankSquareRoot", options={},
                  inputs=[("input", [16], TT.UINT64, None), ("scale_bits", [], TT.INT32, None)],
                  outputs=[("output", [16], TT.UINT32)], calls=3, gen=gen_sqrt))
    # --- SignalFilterBankSpectralSubtraction (stateful) ---
    ss_micro = {"alternate_one_minus_smoothing": 15401, "alternate_smoothing": 983, "clamping": False,
                "min_signal_remaining": 819, "num_channels": 40, "one_minus_smoothing": 15975,
                "smoothing": 409, "smoothing_bits": 10, "spectral_subtraction_bits": 14}
    ss_clamp = {"alternate_one_minus_smoothing": 200, "alternate_smoothing": 56, "clamping": True,
                "min_signal_remaining": 30, "num_channels": 6, "one_minus_smoothing": 128,
                "smoothing": 128, "smoothing_bits": 3, "spectral_subtraction_bits": 8}
    for name, opts, hi in [("spectral_subtraction_40_micro_speech", ss_micro, 1 << 12),
                           ("spectral_subtraction_6_clamping", ss_clamp, 1 << 20)]:
        n = opts["num_channels"]
        def gen(rng, k, n=n, hi=hi):
            # Loud then quiet frames, so the estimate rises above the signal (clamping).
            return [u32(rng, [n], hi if k % 4 < 2 else hi >> 6)]
        c.append(dict(name=name, op="SignalFilterBankSpectralSubtraction", options=opts,
                      inputs=[("input", [n], TT.UINT32, None)],
                      outputs=[("output", [n], TT.UINT32), ("noise_estimate", [n], TT.UINT32)],
                      calls=8, reset_before=[5], gen=gen))
    # --- SignalPCAN: micro_speech's gain table, and a random one (wrapping arithmetic) ---
    lut = consts["signal_pcan/Const"]
    rand_lut = np.random.default_rng(5).integers(-32768, 32768, size=125, dtype=np.int16)
    for name, table, shift, hi in [("pcan_40_micro_speech", lut, 6, 1 << 16),
                                   ("pcan_12_random_lut", rand_lut, 10, 1 << 32)]:
        n = 40 if table is lut else 12
        def gen(rng, k, n=n, hi=hi):
            noise = u32(rng, [n], [hi, 1 << 8, 1 << 32][k])
            noise[:3] = [0, 1, 2]
            return [u32(rng, [n], hi), noise]
        c.append(dict(name=name, op="SignalPCAN", options={"snr_shift": shift},
                      inputs=[("input", [n], TT.UINT32, None), ("noise_estimate", [n], TT.UINT32, None),
                              ("gain_lut", [125], TT.INT16, table)],
                      outputs=[("output", [n], TT.UINT32)], calls=3, gen=gen))
    # --- SignalFilterBankLog ---
    for name, bits, scale in [("filter_bank_log_micro_speech", 3, 64), ("filter_bank_log_0_1600", 0, 1600),
                              ("filter_bank_log_10_30000", 10, 30000)]:
        def gen(rng, k):
            x = u32(rng, [24], [1 << 32, 1 << 12, 1 << 22][k])
            x[:4] = [0, 1, 2, 3]
            return [x]
        c.append(dict(name=name, op="SignalFilterBankLog",
                      options={"input_correction_bits": bits, "output_scale": scale},
                      inputs=[("input", [24], TT.UINT32, None)],
                      outputs=[("output", [24], TT.INT16)], calls=3, gen=gen))
    # --- SignalIrfft (int16): full-scale, small and long-input frames ---
    for name, in_shape, fft, amp in [
        ("irfft_512", [514], 512, 32768),
        ("irfft_2x66_64", [2, 66], 64, 32768),
        ("irfft_10_8_small", [10], 8, 300),
        ("irfft_6_4", [6], 4, 32768),
        ("irfft_2x20_16_long_input", [2, 20], 16, 20000),
    ]:
        def gen(rng, k, in_shape=in_shape, amp=amp):
            return [i16(rng, in_shape, -amp, amp)]
        out_shape = in_shape[:-1] + [fft]
        c.append(dict(name=name, op="SignalIrfft", options={"T": int(TT.INT16), "fft_length": fft},
                      inputs=[("input", in_shape, TT.INT16, None)],
                      outputs=[("output", out_shape, TT.INT16)], calls=3, gen=gen))
    # --- SignalFramer (stateful; valid flag) ---
    for name, in_shape, size, step, prefill in [
        ("framer_400_160_prefill", [160], 400, 160, True),
        ("framer_2x6_5_2", [2, 6], 5, 2, False),
        ("framer_8_3_4", [8], 3, 4, False),
        ("framer_4_4_prefill", [4], 4, 4, True),
        ("framer_9_7_3", [9], 7, 3, False),
    ]:
        def gen(rng, k, in_shape=in_shape):
            return [i16(rng, in_shape)]
        n_frames = in_shape[-1] // step
        c.append(dict(name=name, op="SignalFramer",
                      options={"frame_size": size, "frame_step": step, "prefill": prefill},
                      inputs=[("input", in_shape, TT.INT16, None)],
                      outputs=[("output", in_shape[:-1] + [n_frames, size], TT.INT16),
                               ("output_valid", [], TT.BOOL)],
                      calls=7, reset_before=[4], gen=gen, compare_if={0: 1}))
    # --- SignalStacker (stateful; valid flag) ---
    for name, nc, left, right, step in [
        ("stacker_4_l2_r1_s1", 4, 2, 1, 1),
        ("stacker_3_l0_r2_s2", 3, 0, 2, 2),
        ("stacker_5_l1_r0_s2", 5, 1, 0, 2),
        ("stacker_2_l3_r3_s3", 2, 3, 3, 3),
    ]:
        def gen(rng, k, nc=nc):
            return [i16(rng, [nc])]
        c.append(dict(name=name, op="SignalStacker",
                      options={"num_channels": nc, "stacker_left_context": left,
                               "stacker_right_context": right, "stacker_step": step},
                      inputs=[("input", [nc], TT.INT16, None)],
                      outputs=[("output", [nc * (left + right + 1)], TT.INT16),
                               ("output_valid", [], TT.BOOL)],
                      calls=10, reset_before=[6], gen=gen, compare_if={0: 1}))
    # --- SignalOverlapAdd (stateful): int16 (saturating) and float32 ---
    for name, in_shape, step, ttype in [
        ("overlap_add_3x8_4_int16", [3, 8], 4, TT.INT16),
        ("overlap_add_2x2x6_3_int16", [2, 2, 6], 3, TT.INT16),
        ("overlap_add_1x5_5_int16", [1, 5], 5, TT.INT16),
        ("overlap_add_4x16_8_float32", [4, 16], 8, TT.FLOAT32),
        ("overlap_add_2x3x4_1_float32", [2, 3, 4], 1, TT.FLOAT32),
    ]:
        def gen(rng, k, in_shape=in_shape, ttype=ttype):
            if ttype == TT.FLOAT32:
                return [rng.standard_normal(in_shape).astype(np.float32)]
            return [i16(rng, in_shape)]
        out_shape = in_shape[:-2] + [in_shape[-2] * step]
        c.append(dict(name=name, op="SignalOverlapAdd", options={"T": int(ttype), "frame_step": step},
                      inputs=[("input", in_shape, ttype, None)],
                      outputs=[("output", out_shape, ttype)], calls=5, reset_before=[3], gen=gen,
                      variant="float32" if ttype == TT.FLOAT32 else "int16"))
    # --- SignalDelay (stateful) ---
    for name, in_shape, delay in [
        ("delay_8_3", [8], 3),
        ("delay_2x4_6", [2, 4], 6),
        ("delay_5_0", [5], 0),
        ("delay_3x5_5", [3, 5], 5),
    ]:
        def gen(rng, k, in_shape=in_shape):
            return [i16(rng, in_shape)]
        c.append(dict(name=name, op="SignalDelay", options={"delay_length": delay},
                      inputs=[("input", in_shape, TT.INT16, None)],
                      outputs=[("output", in_shape, TT.INT16)], calls=5, reset_before=[3], gen=gen))
    # --- SignalIrfft (float32) ---
    for name, in_shape, fft in [("irfft_258_256_float32", [258], 256),
                                ("irfft_3x10_8_float32", [3, 10], 8),
                                ("irfft_2x34_32_float32", [2, 34], 32)]:
        def gen(rng, k, in_shape=in_shape):
            return [rng.standard_normal(in_shape).astype(np.float32)]
        c.append(dict(name=name, op="SignalIrfft", options={"T": int(TT.FLOAT32), "fft_length": fft},
                      inputs=[("input", in_shape, TT.FLOAT32, None)],
                      outputs=[("output", in_shape[:-1] + [fft], TT.FLOAT32)], calls=3, gen=gen,
                      variant="float32"))
    return c


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    index = []
    for k, case in enumerate(cases(preprocessor_consts())):
        model = build(case["op"], case["options"], case["inputs"], case["outputs"])
        rng = np.random.default_rng(4200 + k)
        calls, reset_before = case["calls"], case.get("reset_before", [])
        interp = tflm_runtime.Interpreter.from_bytes(model, arena_size=ARENA)
        interp.reset()
        ins, outs = [], []
        for call in range(calls):
            if call in reset_before:
                interp.reset()
            xs = case["gen"](rng, call)
            for j, x in enumerate(xs):
                interp.set_input(x, j)
            interp.invoke()
            ins.append(xs)
            outs.append([np.array(interp.get_output(j), copy=True) for j in range(len(case["outputs"]))])
        name = case["name"]
        (OUT_DIR / f"{name}.tflite").write_bytes(model)
        for j in range(len(ins[0])):
            np.save(OUT_DIR / f"{name}.in{j}.npy", np.stack([x[j] for x in ins]))
        for j in range(len(outs[0])):
            np.save(OUT_DIR / f"{name}.out{j}.npy", np.stack([y[j] for y in outs]))
        entry = {"name": name, "op": case["op"], "ops": [case["op"]], "file": f"{name}.tflite",
                 "variant": case.get("variant", TYPES[case["op"]]), "options": case["options"], "calls": calls,
                 "reset_before": reset_before, "inputs": len(ins[0]), "outputs": len(outs[0]),
                 "sha256": hashlib.sha256(model).hexdigest()}
        if "valid" in case:
            entry["valid"] = case["valid"]
        if "compare_if" in case:
            entry["compare_if"] = {str(k): v for k, v in case["compare_if"].items()}
        index.append(entry)
        print(name, [y.reshape(-1)[:4].tolist() for y in outs[0]])
    from importlib.metadata import version
    versions = {p: version(p) for p in ("tflite_micro", "numpy", "flatbuffers")}
    (OUT_DIR / "index.json").write_text(json.dumps({
        "generator": "tools/goldens/gen_signal_goldens.py",
        "tolerance": "exact",
        "versions": versions,
        "cases": index,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
