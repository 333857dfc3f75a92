"""The Verilog of the folded RTL GarNet (garnet_hls/backends/rtl/folded_rtl.py, issue #18 stage 1), built in
Verilator: events streamed back to back and with random gaps come out equal, bit for bit, to the folded
emulator's and the float64 Keras model's values, each after exactly ``schedule()['latency']`` clocks.

Small GarNet / GarNetStack models with a QDense head, covering simplified and full mode, mean by V and by
nvtx, collapse None / mean / max, lanes dividing V and not (padding slots), one group per event (L = V);
~200 events each, nvtx 0, 1 and V among them.
"""

import numpy as np
import pytest

from garnet_hls.flows import fuzz
from garnet_hls.backends.rtl import folded as F
from garnet_hls.backends.rtl import folded_rtl as R
from test_rtl_folded import CUTOFF, case, events, keras_reference

# (case, lanes): simplified/full, mean by V/nvtx, collapse mean/max/None, a QDense head in each
CASES = [
    (case(10, 8, "GarNet", [2], [3], [2], True, "linear", "mean", False, True), 4),
    (case(11, 12, "GarNet", [3], [2], [3], False, "relu", "max", True, True), 4),
    (case(12, 8, "GarNetStack", [2, 2], [3, 2], [2, 3], False, "tanh", None, False, True), 2),
    (case(13, 10, "GarNetStack", [2, 1], [2, 3], [3, 2], True, "relu", "mean", True, True), 3),
    (case(14, 4, "GarNet", [2], [2], [2], False, "linear", "mean", True, True), 4),
]


@pytest.fixture(scope="module", params=CASES, ids=[f"{c['index']}-{fuzz.describe(c)}-L{L}" for c, L in CASES])
def built(request, tmp_path_factory):
    c, lanes = request.param
    model = fuzz.build_model(c)
    plan = F.plan_folded(model, lanes, latency_cutoff=CUTOFF)
    sim = R.FoldedVerilator(plan, tmp_path_factory.mktemp(f"folded{c['index']}"))
    print(f"case {c['index']}: Verilator build {sim.build_seconds:.1f} s")
    data = events(c, 200)
    return c, model, plan, sim, data


def check(built, gaps):
    c, model, plan, sim, data = built
    got, lat = sim.run(data, gaps)
    assert np.all(lat == F.schedule(plan)["latency"]), f"latencies {sorted(set(lat.tolist()))}"
    emu = F.emulate(plan, data)
    ref = keras_reference(model, plan.layer, data)
    assert len(got) == len(emu) == len(ref)
    for g, e, r in zip(got, emu, ref):
        assert g.shape == e.shape
        assert np.array_equal(g, e), f"Verilog vs folded emulator: {np.sum(g != e)} of {g.size} values differ"
        r = np.asarray(r, dtype=np.float64).reshape(g.shape)
        assert np.array_equal(g, r), f"Verilog vs Keras: {np.sum(g != r)} of {g.size} values differ"
    assert np.any(emu[0] != 0)


def test_folded_verilog_back_to_back(built):
    check(built, None)


def test_folded_verilog_with_gaps(built):
    c, model, plan, sim, data = built
    n = len(data["nvtx"])
    rng = np.random.default_rng(c["index"])
    gaps = rng.integers(0, 4, n)
    gaps[rng.random(n) < 0.05] = F.schedule(plan)["latency"] + 2  # the pipeline drained now and then
    check(built, gaps)


def test_folded_top_follows_the_schedule(tmp_path):
    c, lanes = CASES[2]
    plan = F.plan_folded(fuzz.build_model(c), lanes, latency_cutoff=CUTOFF)
    layout = R.write_folded(plan, tmp_path, "gn")
    s = F.schedule(plan)
    top = (tmp_path / "src" / "gn.v").read_text()
    assert layout["schedule"] == s and f"sr_v[{s['latency']}]" in top
    for p, st in enumerate(s["pass_start"][1:], 1):
        assert f"sr_v[{st}]" in top and f"dl_w{p} [0:{s['delay_lines'][p - 1] - 1}]" in top
    assert s["latency"] == s["pass_start"][-1] + s["groups"] - 1 + plan.passes[-1].depth + F.PASS_GLUE + \
        F.OUTPUT_GLUE
    for m in plan.modules:
        assert (tmp_path / "src" / f"gn_{m.name}.v").exists()
