"""Run by tests/test_keras3_flows.py in a fresh process: the fuzzer's Keras 3 mode and a trained Keras 3 model.

``python keras3_flows_child.py <dir>``: <dir>/run holds a model trained by ``garnet-hls train --keras 3``.
First thing, the fuzzer's command line with ``--keras 3`` (it must make this process a Keras 3 one); then the
trained model is loaded with no custom_objects, converted with the RTL backend and compared; a few fuzz
cases run, one through an HLS backend, and one with a broken emulator. Writes <dir>/checks.json.
"""

import json
import os
import sys

out = sys.argv[1]
checks = {}

from garnet_hls.flows import fuzz  # noqa: E402

checks["fuzz_rc"] = fuzz.main(["--keras", "3", "--backend", "rtl", "--case", "8", "--events", "60",
                               "-o", os.path.join(out, "fuzz.md")])
import keras  # noqa: E402

checks["keras_version"] = keras.__version__
checks["legacy_env"] = os.environ.get("TF_USE_LEGACY_KERAS")

# the trained model: loads without custom_objects, per-element widths, RTL conversion bit-exact
import numpy as np  # noqa: E402

import garnet_hls.keras3  # noqa: E402,F401
from garnet_hls.flows.compare import compare  # noqa: E402
from garnet_hls.flows.convert import convert  # noqa: E402
from garnet_hls.physics.data import generate_calo  # noqa: E402

model = keras.models.load_model(os.path.join(out, "run", "model.keras"))
checks["classes"] = sorted({type(layer).__name__ for layer in model.layers})
grav = model.get_layer("gravnet1")
f = np.asarray(keras.ops.convert_to_numpy(grav.site_quantizer("S_kernel").quantizer._f))
checks["kernel_width_shape"] = list(f.shape)
checks["enable_ebops"] = bool(grav.enable_ebops)
data = generate_calo(120, n_vertices=model.inputs[0].shape[1], seed=5)
prj = convert(None, None, os.path.join(out, "prj"), overrides={"Backend": "rtl"}, model=model)
r = compare(model, prj, data)
checks["trained_bit_exact"] = r.bit_exact
meta = json.loads(open(os.path.join(prj, "garnet_project.json")).read())
checks["breakdown"] = meta["breakdown"]  # the resource breakdown of a Keras 3 project (report)
checks["estimated_luts"], checks["dsp_slices"] = meta["estimated_luts"], meta["dsp_slices"]
checks["multipliers"] = meta["multipliers"]
checks["trained_nonzero"] = float(np.mean(keras.ops.convert_to_numpy(model.predict(
    [data["features"], data["nvtx"]], verbose=0)[0]) != 0))

# the preset GarNet built for Keras 3 with beta0: EBOPs of our layer and of the heads
from garnet_hls.models.build_keras3 import build_preset_model  # noqa: E402

m = build_preset_model("garnet_rtl_v32", beta0=1e-6)
ebops = {"garnet": float(keras.ops.convert_to_numpy(m.get_layer("garnet")._compute_ebops((1, 32, 4), (1, 1)))),
         "dense1": float(keras.ops.convert_to_numpy(m.get_layer("dense1")._compute_ebops((1, 8))))}
checks["preset_ebops"] = ebops

# fuzz cases: exact ones, a refused one, one through an HLS backend, one with a broken emulator
from garnet_hls.backends import registry  # noqa: E402
from garnet_hls.flows import fuzz_keras3 as K  # noqa: E402

cases = {}
# 11: a kbi kernel with per-weight widths, RND, WRAP held -1.0625 (saturated once); 47, 56: muxes with a
# constant on wires with factors down to 2^-71 (a table lookup failed in da4ml, its emulator refused a mux)
for i in (6, 9, 11, 47, 56):
    res = K.run_case(K.draw_case(2026, i, "rtl"), 60)
    cases[str(i)] = {"status": res.status, "identical": res.identical, "message": res.message}
# 11 on an HLS backend: a 25-bit QDense sum, 1 LSB off while the float64 reference let HGQ2's quantizers
# compute in float32 (the firmware was right)
res = K.run_case(K.draw_case(2026, 11, "vivado"), 60)
cases["hls"] = {"status": res.status, "identical": res.identical, "message": res.message}
# 12 on an HLS backend: the SAT input quantizer of the QDense after a GarNet, typed by hls4ml with the
# GarNet's coarser fraction, saturated to 2 - 2^-7 instead of 2 - 2^-12 (86.8 % identical)
res = K.run_case(K.draw_case(2026, 12, "vivado"), 60)
cases["hls12"] = {"status": res.status, "identical": res.identical, "message": res.message}
checks["cases"] = cases

rtl = registry.get_backend("rtl")
real = rtl.emulate


def broken(trace, data):  # one output value one LSB off
    outs = [np.array(o, dtype=np.float64) for o in real(trace, data)]
    lsb = (rtl.output_lsbs(trace) or [1.0])[0]
    outs[0].reshape(len(outs[0]), -1)[3, 0] += lsb
    return outs


rtl.emulate = broken
try:
    res = K.run_case(K.draw_case(2026, 8, "rtl"), 60)
finally:
    rtl.emulate = real
checks["broken"] = {"status": res.status, "divergence": res.divergence, "max_lsb": res.max_lsb}
json.dump(checks, open(os.path.join(out, "checks.json"), "w"))
