"""The folded RTL GarNet (garnet_hls/backends/rtl/folded.py, issue #18 stage 0): its modules, run group by group
with exact accumulators, give the float64 Keras model's values and the fully parallel trace's, bit for bit.

Small GarNet / GarNetStack models over every option (simplified or full, mean by V or nvtx, collapse
none/sum/mean/max, linear/relu/tanh, 1-3 blocks, with and without a dense head), with L lanes dividing V
and not (padding slots), on the fuzzer's edge-case events (nvtx 0, 1, V among them); fuzz cases with
random quantizers; the garnet_rtl_v32 preset architecture at V=16, L=4.
"""

import math

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.errors import UserError
from garnet_hls.flows import fuzz
from garnet_hls.backends.rtl import folded as F
from garnet_hls.backends.rtl.model import emulate, trace_model

CUTOFF = 5.0  # as convert pipelines: DSP products in whole stages; values do not depend on it
HEAD = [{"kind": "QDense", "units": 3, "kernel_quantizer": "quantized_bits(8,1,alpha=1)",
         "bias_quantizer": "quantized_bits(8,2,alpha=1)", "use_bias": True},
        {"kind": "QActivation", "activation": "quantized_relu(8,3)"},
        {"kind": "QDense", "units": 2, "kernel_quantizer": "quantized_bits(8,1,alpha=1)",
         "bias_quantizer": "quantized_bits(8,2,alpha=1)", "use_bias": True}]


def case(index, V, kind, A, Fo, P, simplified, act, collapse, mbn, head):
    stack = kind == "GarNetStack"
    return {"seed": 18, "index": index, "V": V, "reuse_factor": 1, "backend": "RTL", "model_level_reuse": False,
            "graph": [{"kind": kind, "collapse": collapse, "mean_by_nvert": mbn, "output_activation": act,
                       "quantizers": {}, "n_aggregators": A if stack else A[0], "n_filters": Fo if stack else Fo[0],
                       "n_propagate": P if stack else P[0], "simplified": simplified}],
            "head": HEAD if head else []}


# (case, lanes): every option at least once, lanes dividing V and not
CASES = [
    (case(0, 8, "GarNet", [2], [3], [2], True, "linear", "mean", False, False), 4),
    (case(1, 12, "GarNet", [3], [2], [3], False, "relu", "max", True, True), 5),
    (case(2, 6, "GarNetStack", [2, 3], [3, 2], [2, 3], True, "tanh", "sum", True, True), 4),
    (case(3, 16, "GarNetStack", [2, 2, 3], [3, 2, 4], [2, 3, 2], False, "tanh", None, False, False), 4),
    (case(4, 10, "GarNetStack", [3, 1], [2, 3], [4, 2], False, "linear", "mean", True, True), 3),
    (case(5, 4, "GarNetStack", [1, 2, 2], [2, 2, 3], [3, 1, 2], True, "relu", None, True, True), 1),
    (case(6, 9, "GarNet", [2], [4], [3], True, "tanh", "max", False, False), 9),
    (case(7, 16, "GarNetStack", [2, 3], [3, 3], [3, 2], False, "relu", "sum", False, False), 3),
]


def folded_vs_references(model, data, lanes, keras_exact=True):
    plan = F.plan_folded(model, lanes, latency_cutoff=CUTOFF)
    got = F.emulate(plan, data)
    rt = trace_model(model, latency_cutoff=CUTOFF)
    par = emulate(rt, data)
    assert plan.not_bit_exact == rt.not_bit_exact
    assert len(got) == len(par)
    for g, p in zip(got, par):
        assert g.shape == p.shape
        assert np.array_equal(g, p), f"folded vs parallel: {np.sum(g != p)} of {g.size} values differ"
    if keras_exact:
        assert rt.not_bit_exact == []
        for g, r in zip(got, keras_reference(model, plan.layer, data)):
            r = np.asarray(r, dtype=np.float64).reshape(g.shape)
            assert np.array_equal(g, r), f"folded vs Keras: {np.sum(g != r)} of {g.size} values differ"
    return plan


def keras_reference(model, layer, data):
    """The float64 Keras model on the features rounded to the graph layer's input type (the RTL input port)."""
    from garnet_hls.core.quantize import quantize_np
    from garnet_hls.flows.compare import keras_float64, keras_float64_clone

    xq = quantize_np(np.asarray(data["features"], dtype=np.float64), layer.types["input"])
    with keras_float64():
        out = keras_float64_clone(model).predict([xq, data["nvtx"]], verbose=0, batch_size=256)
    return out if isinstance(out, list) else [out]


def events(c, n=96):
    data = fuzz.make_events(c, n)
    assert {0, 1, c["V"]} <= set(data["nvtx"].ravel().tolist())
    return data


@pytest.mark.parametrize("c,lanes", CASES, ids=[f"{c['index']}-{fuzz.describe(c)}-L{L}" for c, L in CASES])
def test_folded_matches_keras_and_parallel(c, lanes):
    model = fuzz.build_model(c)
    plan = folded_vs_references(model, events(c), lanes)
    assert plan.groups == math.ceil(c["V"] / lanes)


# fuzz cases (random quantizers) with one GarNet/GarNetStack layer and V <= 16; lanes dividing V or not
FUZZ = [(5, 4), (34, 3), (38, 2), (41, 3), (44, 5), (73, 4), (75, 5), (76, 4)]


@pytest.mark.parametrize("index,lanes", FUZZ)
def test_folded_fuzz_cases(index, lanes):
    c = fuzz.draw_case(0, index, "rtl")
    assert len(c["graph"]) == 1 and c["graph"][0]["kind"] in F.FOLDED_KINDS and c["V"] <= 16
    model = fuzz.build_model(c)
    rt_exact = not trace_model(model, latency_cutoff=CUTOFF).not_bit_exact
    folded_vs_references(model, events(c), lanes, keras_exact=rt_exact)


def test_folded_preset_rtl_v32_at_v16_four_lanes():
    from garnet_hls.models.build import build_preset_model

    keras.utils.set_random_seed(5)
    model = build_preset_model("garnet_rtl_v32", n_vertices=16)
    rng = np.random.default_rng(9)
    for w in model.weights:
        w.assign(rng.normal(0, 0.6, w.shape))
    c = {"seed": 3, "index": 0, "V": 16, "graph": [{"kind": "GarNetStack"}]}
    plan = folded_vs_references(model, events(c, 128), 4)
    s = F.schedule(plan)
    assert s["interval"] == 4 and s["events_in_flight"] == 4


def test_schedule_follows_the_module_depths():
    c, lanes = CASES[2]
    plan = F.plan_folded(fuzz.build_model(c), lanes, latency_cutoff=CUTOFF)
    s = F.schedule(plan)
    G = math.ceil(c["V"] / lanes)
    n_pass = [m.depth for m in plan.passes]
    n_agg = [m.depth for m in plan.aggs]
    assert all(m.depth == len(m.pipe.solutions) > 0 for m in plan.modules)
    B = len(plan.aggs)
    assert s["latency"] == ((B + 1) * (G - 1) + sum(n + 1 for n in n_pass) + sum(n + 3 for n in n_agg)
                            + plan.tail.depth + 3)
    assert s["interval"] == G and s["pass_start"][0] == 0
    assert s["delay_lines"] == [G - 1 + n + 3 for n in n_agg]
    assert [r["module"] for r in F.resources(plan)] == list(s["depths"])


def test_folded_refuses_what_it_cannot_fold():
    model = fuzz.build_model(CASES[0][0])
    with pytest.raises(UserError, match="lanes must be 1..8"):
        F.plan_folded(model, 9)
    two = case(20, 6, "GarNet", [2], [3], [2], True, "linear", None, False, False)
    two["graph"].append({**two["graph"][0], "collapse": "mean"})  # two GarNet layers: not one block stack
    with pytest.raises(UserError, match=r"one GarNet or GarNetStack layer, or a chain of GravNet blocks .*graph0 "
                                        r"\(GarNet\), graph1 \(GarNet\)"):
        F.plan_folded(fuzz.build_model(two), 1)
