"""RTL backend (garnet_hls/rtl): the da4ml trace of a model computes the Keras model's values bit for bit.

Small models (V = 8..16) on edge-case events (nvtx 0, 1, V; duplicated vertices; saturating inputs) and
on the built-in calorimeter events, compared with the float64 Keras model.
"""

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.compare import keras_float64, keras_float64_clone
from garnet_hls.errors import UserError
from garnet_hls.models import build_garnet_model
from garnet_hls.rtl.model import emulate, trace_model


def edge_events(V, F, n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2.0, (n, V, F))
    x[: n // 4] *= 20  # saturate the input / intermediate types
    nv = rng.integers(0, V + 1, n)
    nv[:6] = [0, 1, V, V, 2, V - 1]
    x[2] = x[2][0]  # every vertex the same: ties everywhere
    x[3, 1::2] = x[3, 0::2]  # pairs of duplicates
    return {"features": x, "nvtx": nv[:, None].astype(np.int32)}


def keras_outputs(model, data):
    from garnet_hls.quant import quantize_np

    graph = [layer for layer in model.layers if hasattr(layer, "types")][0]
    xq = quantize_np(data["features"], graph.types["input"])
    with keras_float64():
        out = keras_float64_clone(model).predict([xq, data["nvtx"]], verbose=0, batch_size=256)
    return out if isinstance(out, list) else [out]


def assert_bit_exact(model, data):
    rt = trace_model(model)
    got = emulate(rt, data)
    ref = keras_outputs(model, data)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        r = np.asarray(r, dtype=np.float64).reshape(g.shape)
        assert np.array_equal(g, r), f"{np.sum(g != r)} of {g.size} values differ, max {np.max(np.abs(g - r))}"
    return rt


def randomise(model, seed, scale=0.6):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, scale, w.shape))


GARNET_CASES = [
    # simplified, activation, collapse, mean_by_nvert
    (True, "linear", "mean", False),
    (True, "relu", "sum", True),
    (True, "tanh", "max", False),
    (False, "linear", "max", True),
    (False, "tanh", "mean", True),
    (False, "relu", "sum", False),
]


@pytest.mark.parametrize("simplified,act,collapse,mbn", GARNET_CASES)
def test_garnet_stack_model_bit_exact_on_edge_events(simplified, act, collapse, mbn):
    keras.utils.set_random_seed(3)
    V = 8
    model = build_garnet_model(n_vertices=V, n_features=3, aggregators=(2, 3), filters=(3, 2), propagate=(2, 3),
                               dense=(4,), quantized=True, simplified=simplified, output_activation=act,
                               collapse=collapse, mean_by_nvert=mbn)
    randomise(model, 11)
    assert_bit_exact(model, edge_events(V, 3))


def test_garnet_model_bit_exact_on_calorimeter_events(calo_events):
    keras.utils.set_random_seed(5)
    V = 16
    model = build_garnet_model(n_vertices=V, n_features=4, aggregators=(4,), filters=(4,), propagate=(4,),
                               dense=(8,), quantized=True)
    randomise(model, 5, 0.4)
    data = dict(calo_events(V, 300))
    # the events fill all 16 slots: cut half of them short, so that real hits sit in padding slots
    nv = data["nvtx"].copy()
    nv[::2, 0] = np.random.default_rng(0).integers(0, V, len(nv[::2]))
    data["nvtx"] = nv
    rt = assert_bit_exact(model, data)
    assert [o["keras_name"] for o in rt.outputs] == ["class_logit", "energy"]
    assert [i["kind"] for i in rt.inputs] == ["features", "nvtx"]


def test_per_vertex_garnet_layer_output_and_padding_rows_zero():
    from garnet_hls.layers import GarNet

    V = 8
    fi = keras.Input((V, 3), name="features")
    ni = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(2, 3, 2, simplified=False, quantized=True, output_activation="relu", name="g")([fi, ni])
    model = keras.Model([fi, ni], y)
    randomise(model, 2)
    data = edge_events(V, 3, n=80, seed=4)
    rt = trace_model(model)
    got = emulate(rt, data)[0]
    pad = np.arange(V)[None, :] >= data["nvtx"]
    assert np.all(got[pad] == 0)
    assert_bit_exact(model, data)


def test_float_model_is_refused():
    model = build_garnet_model(n_vertices=8, n_features=3, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=False)
    with pytest.raises(UserError, match="quantized|not supported"):
        trace_model(model)


GRAVNET_CASES = [
    # distance, activation, collapse, mean_by_nvert, V, k
    ("l2", "linear", "mean", False, 8, 3),
    ("l1", "tanh", "max", True, 8, 3),
    ("l2", "relu", "sum", True, 10, 4),
]


@pytest.mark.parametrize("distance,act,collapse,mbn,V,k", GRAVNET_CASES)
def test_gravnet_model_bit_exact_on_edge_events(distance, act, collapse, mbn, V, k):
    """Two GravNet blocks: ties in the distances (duplicates, coarse inputs), saturation, nvtx <= k."""
    from garnet_hls.models import build_gravnet_model

    keras.utils.set_random_seed(4)
    model = build_gravnet_model(n_vertices=V, n_features=3, blocks=2, n_dimensions=2, n_filters=(3, 3),
                                n_propagate=(2, 3), k=k, distance=distance, dense=(4,), quantized=True,
                                output_activation=act, collapse=collapse, mean_by_nvert=mbn)
    randomise(model, 1)
    data = edge_events(V, 3, n=300, seed=6)
    data["features"] = np.round(data["features"] * 2) / 2  # coarse: many equal distances
    data["nvtx"][6:9, 0] = [k, k + 1, 3]
    assert_bit_exact(model, data)


def test_gravnet_bit_exact_on_calorimeter_events(calo_events):
    from garnet_hls.models import build_gravnet_model

    keras.utils.set_random_seed(8)
    V = 16
    model = build_gravnet_model(n_vertices=V, n_features=4, blocks=1, n_dimensions=3, n_filters=(4,),
                                n_propagate=(4,), k=8, dense=(4,), quantized=True)
    randomise(model, 8, 0.4)
    data = dict(calo_events(V, 200))
    nv = data["nvtx"].copy()
    nv[::2, 0] = np.random.default_rng(1).integers(0, V, len(nv[::2]))
    data["nvtx"] = nv
    assert_bit_exact(model, data)


def test_gravnet_top_k_selection_orders_by_distance_then_lower_index():
    """The parts of the GravNet trace that are bit-exact: top-k selection with the lower-j tie-break."""
    from da4ml.trace import FixedVariableArray, comb_trace

    from garnet_hls.rtl.gravnet import top_k

    n, k = 11, 5
    x = FixedVariableArray.from_lhs(np.zeros(n), np.full(n, 63.0), np.ones(n))
    keys = [v * 16.0 + float(j) for j, v in enumerate(x._vars)]  # (value, index) keys as in the trace
    sel = top_k(keys, k, 64.0 * 16)
    comb = comb_trace(x._vars, np.array(sel, dtype=object))
    rng = np.random.default_rng(0)
    data = rng.integers(0, 8, (2000, n)).astype(float)  # many ties
    got = comb.predict(data)
    order = np.argsort(data, axis=1, kind="stable")[:, :k]  # ties to the lower index
    assert np.array_equal(got % 16, order)
    assert np.array_equal(got // 16, np.take_along_axis(data, order, axis=1))
