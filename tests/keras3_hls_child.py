"""Run by tests/test_keras3_hls.py in a fresh Keras 3 process (the test process is Keras 2).

``python keras3_hls_child.py <dir>`` writes into <dir>:

* ``model.keras``: one Keras 3 model with both graph layers and HGQ2 heads: a full-mode GarNetStack (mean
  collapse, per-weight trainable kernel widths) > QDense, and a GravNet (tanh, no collapse) > per-vertex
  QDense > QEinsumDense over the vertices; random biases;
* ``events.npz``: events in the garnet-hls data schema (random features, every nvtx from 0 to V);
* ``keras.npz``: the model's outputs on them, computed by the float64 twin of the model;
* ``prj/``, ``csim.npz``, ``cmp.json``: what ``garnet-hls convert --backend vivado``, ``csim -o`` and
  ``compare --json`` write (run through ``garnet_hls.cli.main`` in this process: one TensorFlow start-up);
* ``checks.json``: the commands' exit codes, and the one-line messages of conversions that must be refused, and whether they left
  anything behind.
"""

import json
import os
import sys

import keras  # Keras 3

import numpy as np

import garnet_hls.keras3 as g3
from garnet_hls.errors import UserError

V, F, N = 8, 3, 300
out_dir = sys.argv[1]
keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)

from hgq.layers import QDense, QEinsumDense  # noqa: E402

inp, nv = keras.Input((V, F), name="features"), keras.Input((1,), dtype="int32", name="nvtx")
stack = g3.GarNetStack([2, 2], [3, 3], [2, 2], simplified=False, quantized=True, collapse="mean", name="stack",
                       kernel_quantizer=g3.quantizer_config("quantized_bits(6,0,alpha=1)", "kernel", trainable=True))
grav = g3.GravNet(2, 3, 2, 3, quantized=True, output_activation="tanh", name="grav")
head_a = QDense(2, name="head_stack")(stack([inp, nv]))
h = QDense(2, name="vertex_dense")(grav([inp, nv]))  # (B, V, 2)
head_b = QEinsumDense("bvc,vco->bo", output_shape=2, bias_axes="o", name="head_grav")(h)
model = keras.Model([inp, nv], [head_a, head_b])
for v in model.weights:
    if v.path.endswith("bias"):
        v.assign(rng.normal(0.0, 0.3, size=v.shape))
model.save(os.path.join(out_dir, "model.keras"))

x = rng.normal(0.0, 1.5, size=(N, V, F)).astype(np.float32)
nvtx = (np.arange(N) % (V + 1)).astype(np.int32).reshape(N, 1)
x[np.arange(V)[None, :] >= nvtx] = 0.0
from garnet_hls.physics.data import save_npz  # noqa: E402

save_npz(os.path.join(out_dir, "events.npz"), {"features": x, "nvtx": nvtx, "label": np.zeros(N, np.int32),
                                                "feature_names": np.array(["a", "b", "c"]), "kind": "circles"})
from garnet_hls.flows.compare import keras3_float64_clone  # noqa: E402

m64 = keras3_float64_clone(model)
k = m64.predict([x.astype(np.float64), nvtx], verbose=0)
np.savez(os.path.join(out_dir, "keras.npz"), **dict(zip(m64.output_names, k)))

# the commands, in this process (one TensorFlow start-up): convert, csim, compare
from garnet_hls.cli import main  # noqa: E402

d = lambda name: os.path.join(out_dir, name)  # noqa: E731
codes = {"convert": main(["convert", d("model.keras"), "--backend", "vivado", "-o", d("prj")]),
         "csim": main(["csim", d("prj"), "--data", d("events.npz"), "-o", d("csim.npz")]),
         "compare": main(["compare", d("model.keras"), d("prj"), "--data", d("events.npz"), "--json", d("cmp.json")])}

# conversions that must be refused, in one line naming the layer, leaving nothing behind
from garnet_hls.flows.convert import convert  # noqa: E402

refused = {}


def try_convert(key, m, **kw):
    prj = os.path.join(out_dir, f"refused_{key}")
    try:
        convert(None, None, prj, backend="vivado", model=m, **kw)
        refused[key] = None
    except UserError as e:
        refused[key] = {"message": str(e), "left_behind": os.path.exists(prj)}


def graph_model(layer, head=None):
    i, n = keras.Input((V, F)), keras.Input((1,), dtype="int32")
    y = layer([i, n])
    return keras.Model([i, n], head(y) if head else y)


rnd = dict(q_type="kif", place="datalane", k0=1, i0=4, f0=10, round_mode="RND", overflow_mode="SAT",
           trainable=False, homogeneous_axis=None, heterogeneous_axis=())
try_convert("round_mode", graph_model(g3.GarNet(2, 3, 2, quantized=True, name="bad_round", feature_quantizer=rnd)))
per_element = dict(rnd, round_mode="RND_CONV", trainable=True, homogeneous_axis=(0,), heterogeneous_axis=None)
bad_widths = g3.GravNet(2, 3, 2, 3, quantized=True, name="bad_widths", aggregate_quantizer=per_element)
m = graph_model(bad_widths)
for var in bad_widths.site_quantizer("aggregate_mean").variables:  # widths that trained apart
    if var.path.endswith("/f"):
        var.assign(8.0 + np.arange(int(np.prod(var.shape))).reshape(var.shape) % 3)
try_convert("per_element", m)
try_convert("float_head", graph_model(g3.GarNet(2, 3, 2, quantized=True, collapse="mean"),
                                      keras.layers.Dense(1, name="float_dense")))
try_convert("float_graph", graph_model(g3.GravNet(2, 3, 2, 3, name="float_grav")))
try_convert("precision", graph_model(g3.GarNet(2, 3, 2, quantized=True, name="g")),
            overrides={"HLSConfig": {"LayerName": {"g": {"Precision": {"output": "fixed<8,3>"}}}}})
json.dump({"refused": refused, "outputs": list(m64.output_names), "codes": codes}, open(os.path.join(out_dir, "checks.json"), "w"))
