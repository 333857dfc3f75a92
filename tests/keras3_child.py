"""Run by tests/test_keras3.py in a fresh Keras 3 process (one process cannot hold Keras 2 and Keras 3).

``python keras3_child.py <dir>``: reads <dir>/cases.json and <dir>/cases.npz (architectures, weights and
inputs written by the Keras 2 side), builds each case with garnet_hls.keras3 and writes its outputs to
<dir>/keras3_out.npz; then checks what only a Keras 3 process can (import order, save/load, trainable
widths) and writes <dir>/keras3_checks.json.
"""

import json
import os
import sys

import keras  # Keras 3 first: the front end must work in a process that imported keras before it

import numpy as np

import garnet_hls.keras3 as g3

out_dir = sys.argv[1]
cases = json.load(open(os.path.join(out_dir, "cases.json")))
arrays = np.load(os.path.join(out_dir, "cases.npz"))
outputs, checks = {}, {"keras_version": keras.__version__,
                       "legacy_env": os.environ.get("TF_USE_LEGACY_KERAS")}
for i, case in enumerate(cases):
    cls = getattr(g3, case["class"])
    layer = cls(**case["kwargs"], name=f"case{i}")
    x, nvtx = arrays[f"{i}_x"], arrays[f"{i}_nvtx"]
    layer([x[:1], nvtx[:1]])  # build
    by_name = {v.name: v for v in layer.weights}
    for wname in case["weights"]:
        by_name[wname].assign(arrays[f"{i}_w_{wname}"])
    outputs[str(i)] = keras.ops.convert_to_numpy(layer([x, nvtx]))
np.savez(os.path.join(out_dir, "keras3_out.npz"), **outputs)

# a saved model loads with no custom_objects and predicts the same
x, nvtx = arrays["0_x"], arrays["0_nvtx"]
inp, nv = keras.Input(x.shape[1:]), keras.Input((1,), dtype="int32")
h = g3.GarNetStack([2, 3], [4, 3], [2, 2], simplified=False, collapse="mean", quantized=True,
                   kernel_quantizer=g3.quantizer_config("quantized_bits(8,0,alpha=1)", "kernel", trainable=True))([inp, nv])
model = keras.Model([inp, nv], keras.layers.Dense(1)(h))
path = os.path.join(out_dir, "k3.keras")
model.save(path)
loaded = keras.models.load_model(path)
checks["load_equal"] = bool(np.array_equal(model.predict([x, nvtx], verbose=0), loaded.predict([x, nvtx], verbose=0)))
checks["loaded_classes"] = sorted({type(layer).__name__ for layer in loaded.layers})

# trainable per-element kernel widths get a gradient through the layer
import tensorflow as tf  # noqa: E402

stack = model.layers[2]
fvars = [v for v in stack.trainable_weights if v.path.endswith("/f")]
with tf.GradientTape() as tape:
    loss = tf.reduce_sum(model([x, nvtx], training=True) ** 2)
grads = tape.gradient(loss, fvars)
checks["width_vars"] = [list(v.shape) for v in fvars]
checks["width_grad_nonzero"] = sum(int(g is not None and bool(np.any(np.asarray(g) != 0))) for g in grads)

# the RTL backend: da4ml's HGQ2 tracer for the QDense head plus our graph traces, against Keras (float64 clone)
from hgq.layers import QDense  # noqa: E402

from garnet_hls.backends.rtl.keras3 import trace_keras3_model  # noqa: E402
from garnet_hls.backends.rtl.model import emulate  # noqa: E402
from garnet_hls.core.fixed import parse_spec  # noqa: E402
from garnet_hls.core.quantize import quantize_np  # noqa: E402
from garnet_hls.errors import UserError  # noqa: E402
from garnet_hls.flows.compare import keras3_float64_clone  # noqa: E402

rtl, rtl_models = [], []
for make in (lambda: g3.GravNet(2, 3, 2, 3, quantized=True, collapse="max", output_activation="tanh"),
             lambda: g3.GarNetStack([2, 2], [3, 3], [2, 2], simplified=False, quantized=True, collapse="mean",
                                    kernel_quantizer=g3.quantizer_config("quantized_bits(6,0,alpha=1)", "kernel",
                                                                         trainable=True))):
    inp, nv = keras.Input(x.shape[1:], name="features"), keras.Input((1,), dtype="int32", name="nvtx")
    m = keras.Model([inp, nv], QDense(2, name="head")(make()([inp, nv])))
    rtl_models.append(m)
    rt = trace_keras3_model(m)
    xq = quantize_np(x, parse_spec(rt.inputs[0]["type"]))
    k = keras3_float64_clone(m).predict([xq, nvtx], verbose=0)
    e = emulate(rt, {"features": x, "nvtx": nvtx})[0]
    rtl.append({"equal": bool(np.array_equal(k, e)), "nonzero": float(np.mean(k != 0)),
                "not_bit_exact": rt.not_bit_exact})
checks["rtl"] = rtl
try:  # a data quantizer the firmware cannot follow (round half up) is refused, naming layer and point
    inp, nv = keras.Input(x.shape[1:]), keras.Input((1,), dtype="int32")
    bad = g3.GarNet(2, 3, 2, quantized=True, name="bad_garnet", feature_quantizer=dict(
        q_type="kif", place="datalane", k0=1, i0=4, f0=10, round_mode="RND", overflow_mode="SAT", trainable=False,
        homogeneous_axis=None, heterogeneous_axis=()))
    trace_keras3_model(keras.Model([inp, nv], bad([inp, nv])))
    checks["refused"] = None
except UserError as err:
    checks["refused"] = str(err)

# folded designs (ReuseFactor R: V / R lanes) of the same two models: emulator and Verilator against Keras
from garnet_hls.flows.compare import compare  # noqa: E402
from garnet_hls.flows.convert import convert  # noqa: E402

folded = []
for j, (m, R) in enumerate(zip(rtl_models, (4, 3))):
    prj = convert(None, None, os.path.join(out_dir, f"fold{j}"), model=m,
                  overrides={"Backend": "rtl", "HLSConfig": {"Model": {"ReuseFactor": R}}})
    meta = json.load(open(os.path.join(prj, "garnet_project.json")))
    data = {"features": x, "nvtx": nvtx}
    emu, ver = compare(m, prj, data), compare(m, prj, data, verilator=True)
    folded.append({"lanes": meta["lanes"], "interval": meta["interval_cycles"], "folded": meta["folded"],
                   "emulator": [emu.bit_exact, emu.simulator, emu.n_events],
                   "verilator": [ver.bit_exact, ver.simulator, ver.n_events], "breakdown": meta["breakdown"] is not None})
checks["folded"] = folded
try:  # a per-vertex HGQ2 head cannot be shared by the lanes: refused in one line
    inp, nv = keras.Input(x.shape[1:]), keras.Input((1,), dtype="int32")
    per_vertex = keras.Model([inp, nv], QDense(2, name="per_vertex_head")(
        g3.GarNet(2, 3, 2, quantized=True, name="pv_garnet")([inp, nv])))
    convert(None, None, os.path.join(out_dir, "fold_refused"), model=per_vertex,
            overrides={"Backend": "rtl", "HLSConfig": {"Model": {"ReuseFactor": 3}}})
    checks["folded_refused"] = None
except UserError as err:
    checks["folded_refused"] = str(err)
checks["folded_refused_left"] = os.path.exists(os.path.join(out_dir, "fold_refused"))
json.dump(checks, open(os.path.join(out_dir, "keras3_checks.json"), "w"))
