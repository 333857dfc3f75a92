"""10,000 calorimeter events through the garnet_rtl_v32 preset: da4ml emulator vs float64 Keras, bit for bit."""
import garnet_hls, time, numpy as np, tf_keras as keras
from garnet_hls.presets import build_preset_model
from garnet_hls.data import generate_calo
from garnet_hls.rtl.model import trace_model, emulate
from garnet_hls.compare import keras_float64, keras_float64_clone
from garnet_hls.quant import quantize_np
keras.utils.set_random_seed(7)
m = build_preset_model("garnet_rtl_v32")
rng = np.random.default_rng(7)
for w in m.weights:
    if "bias" in w.name: w.assign(rng.uniform(-0.5, 0.5, w.shape))
t0 = time.time(); rt = trace_model(m); t1 = time.time()
d = generate_calo(10000, n_vertices=32, seed=11)
nv = d["nvtx"].copy(); nv[::4, 0] = rng.integers(0, 33, len(nv[::4])); d["nvtx"] = nv
got = emulate(rt, d); t2 = time.time()
xq = quantize_np(d["features"], m.get_layer("garnet").types["input"])
with keras_float64():
    ref = keras_float64_clone(m).predict([xq, d["nvtx"]], verbose=0, batch_size=500)
for g, r in zip(got, ref):
    r = r.reshape(g.shape); print("identical", np.mean(g == r) * 100, "% of", g.size, "max diff", np.abs(g - r).max())
print("trace", round(t1 - t0, 1), "s, emulate 10k", round(t2 - t1, 1), "s")
