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
json.dump(checks, open(os.path.join(out_dir, "keras3_checks.json"), "w"))
