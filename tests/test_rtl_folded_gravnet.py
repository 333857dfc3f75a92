"""The folded RTL GravNet (garnet_hls/backends/rtl/folded_gravnet.py, issue #18): its modules, run group by group
(the prep, L query lanes per block, the register files between blocks, the collapse accumulated over the
groups), give the float64 Keras model's values and the fully parallel trace's, bit for bit; its Verilog
(folded_rtl) gives them too in Verilator, events streamed back to back and with gaps, each after exactly the
schedule's latency.

Small models: one block and two chained blocks, l2 and l1, linear/relu/tanh, collapse mean (by V, by nvtx) /
sum / max / None with a per-vertex head, lanes dividing V and not (padding lanes), the prep once per event or
in groups; edge-case events (nvtx 0, 1, k, k + 1, V, duplicated vertices: ties in the distances); fuzz cases
with random quantizers.
"""

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.errors import UserError
from garnet_hls.flows import fuzz
from garnet_hls.backends.rtl import folding
from garnet_hls.backends.rtl import folded_rtl as R
from garnet_hls.backends.rtl.folded_gravnet import GATHER_GLUE, RF_GLUE, plan_gravnet
from garnet_hls.backends.rtl.model import emulate, trace_model
from test_rtl_folded import CUTOFF, keras_reference


def gravnet_model(V, k, blocks, distance, act, collapse, mbn, seed):
    from garnet_hls.models.build import build_gravnet_model

    keras.utils.set_random_seed(seed)
    model = build_gravnet_model(n_vertices=V, n_features=4, blocks=blocks, n_dimensions=2,
                                n_filters=(3,) * blocks, n_propagate=(2, 3)[:blocks], k=k, distance=distance,
                                dense=(4,), quantized=True, output_activation=act, collapse=collapse,
                                mean_by_nvert=mbn)
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.6, w.shape))
    return model


def edge_events(V, k, n=96, seed=0):
    """Coarse features (many equal distances), saturating ones, duplicates, and nvtx around 0, 1, k, V."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 2.0, (n, V, 4)) * 2) / 2
    x[: n // 5] *= 20
    x[2] = x[2][0]
    x[3, 1::2] = x[3, 0::2][: V // 2]  # pairs of duplicates
    nv = rng.integers(0, V + 1, n)
    nv[:8] = [0, 1, 2, k, k + 1, V - 1, V, V]
    return {"features": x, "nvtx": nv[:, None].astype(np.int32)}


def check_folded(model, data, lanes, prep_lanes=None, keras_exact=True):
    plan = plan_gravnet(model, lanes, CUTOFF, prep_lanes=prep_lanes)
    got = folding.emulate(plan, data)
    rt = trace_model(model, latency_cutoff=CUTOFF)
    par = emulate(rt, data)
    assert plan.not_bit_exact == rt.not_bit_exact
    for g, p in zip(got, par):
        assert g.shape == p.shape
        assert np.array_equal(g, p), f"folded vs parallel: {np.sum(g != p)} of {g.size} values differ"
    if keras_exact:
        for g, r in zip(got, keras_reference(model, plan.layer, data)):
            r = np.asarray(r, dtype=np.float64).reshape(g.shape)
            assert np.array_equal(g, r), f"folded vs Keras: {np.sum(g != r)} of {g.size} values differ"
    assert np.any(got[0] != 0)
    return plan, got


# (V, k, blocks, distance, activation, collapse, mean_by_nvert, lanes, prep lanes)
CASES = [
    (8, 3, 2, "l2", "relu", "mean", True, 2, 4),
    (10, 4, 1, "l1", "tanh", "max", False, 3, None),
    (12, 3, 1, "l2", "relu", "mean", True, 2, None),
    (16, 5, 2, "l2", "linear", "sum", False, 4, 16),
    (12, 2, 2, "l1", "relu", "mean", False, 5, 6),
]


@pytest.mark.parametrize("V,k,blocks,distance,act,collapse,mbn,lanes,prep", CASES)
def test_folded_gravnet_matches_keras_and_parallel(V, k, blocks, distance, act, collapse, mbn, lanes, prep):
    model = gravnet_model(V, k, blocks, distance, act, collapse, mbn, seed=V + k)
    plan, _ = check_folded(model, edge_events(V, k, seed=V), lanes, prep)
    assert plan.groups == -(-V // lanes) and len(plan.passes) == blocks + 1
    assert plan.prep_lanes == (min(V, 4 * lanes) if prep is None else prep)
    assert plan.prep_groups == -(-V // plan.prep_lanes)


# fuzz cases (random quantizers) of GravNet blocks only, V <= 16: two chained blocks with and without a
# collapse, per-vertex heads (collapse None)
FUZZ = [(7, 5), (15, 3), (27, 2), (89, 5)]


@pytest.mark.parametrize("index,lanes", FUZZ)
def test_folded_gravnet_fuzz_cases(index, lanes):
    c = fuzz.draw_case(0, index, "rtl")
    assert all(g["kind"] == "GravNet" for g in c["graph"]) and c["V"] <= 16
    model = fuzz.build_model(c)
    exact = not trace_model(model, latency_cutoff=CUTOFF).not_bit_exact
    check_folded(model, fuzz.make_events(c, 64), lanes, keras_exact=exact)


def test_gravnet_schedule_follows_the_module_depths():
    V, lanes, prep = 8, 2, 4
    plan = plan_gravnet(gravnet_model(V, 3, 2, "l2", "relu", "mean", True, 1), lanes, CUTOFF, prep_lanes=prep)
    s = folding.schedule(plan)
    G, G0 = V // lanes, V // prep
    # a query pass: its select module, the registered read of the feature memory, its aggregate module
    n = [plan.passes[0].depth] + [sel.depth + 1 + GATHER_GLUE + m.depth for sel, m in zip(plan.aggs, plan.passes[1:])]
    assert s["pass_depths"] == n and GATHER_GLUE == 1
    assert all(m.depth == len(m.pipe.solutions) > 0 for m in plan.modules)
    assert s["pass_start"] == [0, G0 - 1 + n[0] + 1 + RF_GLUE, G0 - 1 + n[0] + n[1] + G - 1 + 2 + 2 * RF_GLUE]
    assert s["latency"] == (G0 - 1) + 2 * (G - 1) + sum(d + 1 for d in n) + 2 * RF_GLUE + plan.tail.depth + 3
    assert s["interval"] == G and s["events_in_flight"] == 3
    assert list(s["depths"]) == [m.name for m in plan.modules] == \
        ["gravnet1_prep", "gravnet1_sel1", "gravnet1_pass1", "gravnet2_sel2", "gravnet2_pass2", "gravnet2_tail"]
    # the select modules put out indices and weights, no features: the gather is the top's memory read
    assert [[n for n, _ in m.outputs] for m in plan.aggs] == [["w", "j"], ["w", "j"]]
    assert [n for n, _ in plan.passes[1].inputs] == ["fg", "w", "xq", "valid", "nvtx"]
    # an event's feature buffer is reused only after its last read (the bound of folded_gravnet.schedule)
    Ns = [m.depth for m in plan.aggs]
    for p, Gs in ((1, G0), (2, G)):
        last_read = s["pass_start"][p] + G - 1 + Ns[p - 1] + 1
        first_overwrite = s["feature_buffers"] * G + s["pass_start"][p] - RF_GLUE - (Gs - 1)
        assert first_overwrite > last_read >= first_overwrite - G


def test_folded_gravnet_refuses_what_it_cannot_fold():
    model = gravnet_model(8, 3, 1, "l2", "relu", "mean", True, 1)
    with pytest.raises(UserError, match="prep lanes must be 4..8"):
        plan_gravnet(model, 4, prep_lanes=2)
    with pytest.raises(UserError, match="lanes must be 1..8"):
        folding.plan(model, 9)
    mixed = fuzz.draw_case(0, 0, "rtl")
    mixed["V"] = 8
    mixed["graph"] = [
        {"kind": "GarNet", "collapse": None, "mean_by_nvert": False, "output_activation": "linear", "quantizers": {},
         "n_aggregators": 2, "n_filters": 3, "n_propagate": 2, "simplified": True},
        {"kind": "GravNet", "collapse": "mean", "mean_by_nvert": False, "output_activation": "linear",
         "quantizers": {}, "n_dimensions": 2, "n_filters": 2, "n_propagate": 2, "n_neighbours": 2,
         "distance": "l2", "potential_scale": 1.0}]
    with pytest.raises(UserError, match=r"graph layers: graph0 \(GarNet\), graph1 \(GravNet\)"):
        folding.plan(fuzz.build_model(mixed), 2)


# ------------------------------------------------------------------------------------------------
# The Verilog in Verilator
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two chained blocks at V=7 on 3 lanes (3 groups, two padding slots), the prep in two groups, collapse
    mean by nvtx. (The per-vertex output path of collapse None is the folded GarNet's, checked in
    test_rtl_folded_verilog; convert + compare --verilator below run another chain.)"""
    V, k = 7, 3
    model = gravnet_model(V, k, 2, "l2", "relu", "mean", True, 8)
    plan = plan_gravnet(model, 3, CUTOFF, prep_lanes=4)
    assert plan.groups == 3 and plan.prep_groups == 2
    data = edge_events(V, k, n=150, seed=3)
    path = tmp_path_factory.mktemp("gfold_chain")
    sim = R.FoldedVerilator(plan, path)
    # the features are gathered from a memory of event buffers by the select modules' indices (150 events
    # stream through its 5 buffers), not by mux trees inside the modules
    top = (path / "src" / "folded.v").read_text()
    nbuf = folding.schedule(plan)["feature_buffers"]
    assert nbuf == 5 and all(f"fmem{p} [0:{nbuf * g - 1}];" in top for p, g in ((1, 2), (2, 3)))
    return model, plan, sim, data


def check_verilog(built, gaps):
    model, plan, sim, data = built
    got, lat = sim.run(data, gaps)
    assert np.all(lat == folding.schedule(plan)["latency"]), f"latencies {sorted(set(lat.tolist()))}"
    emu = folding.emulate(plan, data)
    ref = keras_reference(model, plan.layer, data)
    for g, e, r in zip(got, emu, ref):
        assert g.shape == e.shape
        assert np.array_equal(g, e), f"Verilog vs folded emulator: {np.sum(g != e)} of {g.size} values differ"
        r = np.asarray(r, dtype=np.float64).reshape(g.shape)
        assert np.array_equal(g, r), f"Verilog vs Keras: {np.sum(g != r)} of {g.size} values differ"
    assert np.any(emu[0] != 0)


def test_folded_gravnet_verilog_back_to_back(built):
    check_verilog(built, None)


def test_folded_gravnet_verilog_with_gaps(built):
    model, plan, sim, data = built
    n = len(data["nvtx"])
    rng = np.random.default_rng(n)
    gaps = rng.integers(0, 4, n)
    gaps[rng.random(n) < 0.05] = folding.schedule(plan)["latency"] + 2
    check_verilog(built, gaps)


def test_convert_folds_a_gravnet_model_and_compare_checks_it(tmp_path, capsys):
    """convert --backend RTL --reuse-factor R on a two-block GravNet model writes the folded design of V / R
    lanes; csim/compare run it in the folded emulator and in Verilator, bit for bit against Keras; the
    project records the schedule's latency and interval."""
    import json

    from garnet_hls.cli import main
    from garnet_hls.flows.compare import compare
    from garnet_hls.physics.data import generate_calo, save_npz

    V, k = 6, 2
    model = gravnet_model(V, k, 2, "l2", "relu", "max", True, 11)
    model.save(tmp_path / "m.keras")
    data = generate_calo(80, n_vertices=V, seed=11)
    data["nvtx"][:40, 0] = np.arange(40) % (V + 1)  # padding and empty events
    save_npz(tmp_path / "ev.npz", data)
    prj = tmp_path / "prj"
    capsys.readouterr()
    assert main(["convert", str(tmp_path / "m.keras"), "--backend", "RTL", "--reuse-factor", "3", "-o", str(prj)]) == 0
    out = capsys.readouterr().out
    meta = json.loads((prj / "garnet_project.json").read_text())
    s = folding.schedule(plan_gravnet(model, 2, meta["latency_cutoff"]))
    assert meta["folded"] and meta["lanes"] == 2 and meta["interval_cycles"] == 3 == s["interval"]
    assert meta["latency_cycles"] == s["latency"] and f"{s['latency']} cycles" in out and "folded: 2 lanes" in out
    assert R.load_plan(prj / "model" / "folded").kind == "GravNet"
    rows = meta["breakdown"]  # the modules' logic by what it implements (report)
    assert {"distances", "comparators and top-k", "constant matrices"} <= set(rows)
    assert sum(r["dsp"] for r in rows.values()) == meta["dsp_slices"]
    assert sum(r["lut_estimate"] for r in rows.values()) == pytest.approx(meta["estimated_luts"],
                                                                        abs=len(meta["folded_modules"]) * 9)
    r = compare(model, prj, data)
    assert r.bit_exact and r.n_events == 80 and r.simulator.startswith("da4ml")
    r = compare(model, prj, data, verilator=True)
    assert r.bit_exact and r.simulator.startswith("Verilator")
    assert main(["csim", str(prj), "--data", str(tmp_path / "ev.npz"), "-o", str(tmp_path / "out.npz")]) == 0


def test_folded_gravnet_refuses_a_layer_between_blocks():
    from qkeras import QDense

    from garnet_hls.layers import GravNet

    f, n = keras.Input((6, 4), name="features"), keras.Input((1,), dtype="int32", name="nvtx")
    x = GravNet(2, 3, 2, 2, quantized=True, name="g1")([f, n])
    x = QDense(3, kernel_quantizer="quantized_bits(8,1,alpha=1)", bias_quantizer="quantized_bits(8,1,alpha=1)",
               name="mid")(x)
    x = GravNet(2, 3, 2, 2, quantized=True, collapse="mean", name="g2")([x, n])
    with pytest.raises(UserError, match=r"^layer g2 \(GravNet\): the folded RTL backend takes GravNet blocks chained "
                                        r"directly"):
        folding.plan(keras.Model([f, n], x), 2)
