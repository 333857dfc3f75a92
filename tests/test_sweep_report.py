"""The sweep's verdicts on real result records: the Pareto front with the physics objectives, which points keep
the physics, the recommendation, --objectives, and the plot's axes.

``tests/data/sweep/garnet_rtl_v16_results.json`` is the ``results.json`` of a real sweep (the trained
``garnet_rtl_v32`` preset at V=16, benchmarks/rtl_models/garnet_rtl_v32-v16; reuse x precision model/w6/w4 x
the vivado backend, estimated, and the rtl backend, synthesized by Yosys; see benchmarks/sweep_physics.md).
The tests recompute every verdict from the records with plain comparisons, not with the code under test.
"""

import copy
import json
from pathlib import Path

import pytest

from garnet_hls.errors import UserError
from garnet_hls.flows import sweep_report as R

DATA = Path(__file__).parent / "data" / "sweep" / "garnet_rtl_v16_results.json"
RESOURCES = ("latency", "interval", "lut", "dsp")


@pytest.fixture
def res():
    return R.summarize(json.loads(DATA.read_text()))


def ok_points(res):
    return [r for r in res["points"] if r["status"] == "ok" and R.figures(r)]


def vec(r, objectives):
    v = R.objective_values(r)
    return tuple(-v[o] if o == "auc" else v[o] for o in objectives)


def dominated(a, b):  # b dominates a (all minimised)
    return all(y <= x for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b))


def brute_front(points, objectives):
    return {r["key"] for r in points
            if not any(dominated(vec(r, objectives), vec(o, objectives)) for o in points if o is not r)}


def label(r):
    return R.point_label(r["params"])


def test_the_record_is_a_real_sweep(res):
    s = res["sweep"]
    assert s["n_done"] == s["n_points"] == len(res["points"]) >= 8
    assert {r["params"]["backend"] for r in res["points"]} == {"vivado", "rtl"}
    assert {r["params"]["precision"] for r in res["points"]} >= {"model", "w4"}
    assert any(r["synthesis"] and r["synthesis"]["tool"].startswith("Yosys") for r in res["points"])
    assert all(r["bit_exact"] for r in res["points"])
    # a point at the model's own precision is bit-exact, so its physics is the unswept model's, exactly
    ref = s["reference"]["model"]
    for r in res["points"]:
        if r["params"]["precision"] == "model":
            assert r["physics"]["auc"] == ref["auc"]
            assert r["physics"]["energy_resolution"] == ref["energy_resolution"]


def test_front_includes_the_physics(res):
    pts = ok_points(res)
    full = set(res["pareto"])
    assert res["objectives"] == list(R.DEFAULT_OBJECTIVES)
    assert full == brute_front(pts, R.DEFAULT_OBJECTIVES)
    resources_only = set(R.pareto_keys(res["points"], RESOURCES))
    assert resources_only == brute_front(pts, RESOURCES)
    # the case: a point a cheaper re-quantized point beats on resources, kept for its physics
    gained = full - resources_only
    assert gained
    by_key = {r["key"]: r for r in pts}
    for g in gained:
        beaters = [o for o in pts if dominated(vec(by_key[g], RESOURCES), vec(o, RESOURCES))]
        assert beaters
        for o in beaters:
            gv, ov = R.objective_values(by_key[g]), R.objective_values(o)
            assert gv["auc"] > ov["auc"] or gv["resolution"] < ov["resolution"], (label(by_key[g]), label(o))
    # and the front is in the table
    table = R.format_table(res)
    assert "Pareto front over latency, interval, LUT, DSP, AUC (higher is better), E res." in table


def test_objectives_pick_the_front(res):
    assert R.parse_objectives("lut, AUC,res") == ("lut", "auc", "resolution")
    for bad, name in (("lut,speed", "'speed'"), ("", "no objective")):
        with pytest.raises(UserError) as e:
            R.parse_objectives(bad)
        assert name in str(e.value) and "\n" not in str(e.value) and "valid: latency, interval" in str(e.value)
    two = R.summarize(copy.deepcopy(res), ("lut", "auc"))
    assert two["objectives"] == ["lut", "auc"]
    assert set(two["pareto"]) == brute_front(ok_points(res), ("lut", "auc"))
    assert "Pareto front over LUT, AUC (higher is better);" in R.format_table(two)


def test_objectives_flag_refuses_bad_names_in_one_line(capsys, tmp_path):
    from garnet_hls.cli import main

    model = Path(__file__).parents[1] / "benchmarks" / "rtl_models" / "garnet_rtl_v32-v16" / "model.keras"
    for flag, value, msg in (("--objectives", "lut,area", "--objectives: unknown objective 'area'; valid:"),
                             ("--max-auc-loss", "a bit", "--max-auc-loss takes a number"),
                             ("--max-resolution-loss", "-1", "--max-resolution-loss must be a finite number >= 0")):
        rc = main(["sweep", str(model), "--reuse", "4", flag, value, "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert rc == 1 and msg in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_acceptance_marks_who_keeps_the_physics(res):
    ref = res["sweep"]["reference"]["model"]
    tol = res["sweep"]["tolerances"]
    assert tol == {"auc": {"absolute": 0.005}, "resolution": {"absolute": 0.005}}
    for r in res["points"]:
        ph = r["physics"]
        want = ph["auc"] >= ref["auc"] - 0.005 and ph["energy_resolution"] <= ref["energy_resolution"] + 0.005
        assert res["keeps_physics"][r["key"]] is want, label(r)
    keeps = {r["params"]["precision"]: res["keeps_physics"][r["key"]] for r in res["points"]}
    assert keeps["model"] is True and keeps["w4"] is False  # 4-bit weights lose the energy resolution
    rows = {(row[0], row[1], row[2]): row for row in R.table_rows(res)[1]}
    for r in res["points"]:
        p = r["params"]
        assert rows[(str(p["reuse"]), p["precision"], p["backend"])][13] == ("yes" if keeps[p["precision"]] else "NO")
    # looser, relative, or no tolerance
    loose = copy.deepcopy(res)
    loose["sweep"]["tolerances"] = {"auc": R.parse_tolerance("100%", "x"), "resolution": R.parse_tolerance("90%", "x")}
    assert all(R.summarize(loose)["keeps_physics"].values())
    off = copy.deepcopy(res)
    off["sweep"]["tolerances"] = {"auc": None, "resolution": None}
    off = R.summarize(off)
    assert set(off["keeps_physics"].values()) == {None}
    assert off["recommendation"]["key"] is None and off["recommendation"]["line"].startswith("no recommendation")


def test_recommendation_is_the_cheapest_point_that_keeps_the_physics(res):
    cap = res["sweep"]["capacity"]
    assert cap and res["sweep"]["part"].startswith("xcvu13p")
    keepers = [r for r in ok_points(res) if res["keeps_physics"][r["key"]]]

    def share(r):
        f = R.figures(r)
        return max(f[k] / cap[k] for k in ("lut", "dsp", "ff", "bram_18k") if f.get(k) is not None)

    best = min(keepers, key=lambda r: (share(r), R.figures(r)["lut"]))
    rec = res["recommendation"]
    assert rec["key"] == best["key"]
    line = rec["line"]
    assert line.startswith(f"recommendation: {label(best)}: {R.figures(best)['lut']:,} LUT")
    assert f"AUC {best['physics']['auc']:.4f}" in line and f"of the {len(keepers)} of {len(ok_points(res))}" in line
    table = R.format_table(res).splitlines()
    assert table[-1] == line  # the last line of the table
    marked = [row for row in R.table_rows(res)[1] if row[-1].endswith("<")]
    assert len(marked) == 1 and (marked[0][0], marked[0][1], marked[0][2]) == (
        str(best["params"]["reuse"]), best["params"]["precision"], best["params"]["backend"])


def test_no_point_keeps_the_physics_is_said_clearly(res):
    lossy = copy.deepcopy(res)
    lossy["points"] = [r for r in lossy["points"] if r["params"]["precision"] == "w4"]
    lossy = R.summarize(lossy)
    rec = lossy["recommendation"]
    assert rec["key"] is None
    assert rec["line"].startswith("recommendation: NONE - no finished point keeps AUC within 0.005 and E res. "
                                  "within 0.005 of the unswept model")
    assert R.format_table(lossy).splitlines()[-1] == rec["line"]
    assert not any(row[-1].endswith("<") for row in R.table_rows(lossy)[1])


def _labelled_ticks(axis):
    lo, hi = sorted(axis.get_view_interval())
    ticks = [(loc, t.get_text()) for loc, t in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
             if lo <= loc <= hi]
    return [text for _, text in ticks if any(c.isdigit() for c in text)]


def _check_axes(fig):
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel()
        for axis in (ax.xaxis, ax.yaxis):
            assert len(_labelled_ticks(axis)) >= 2, (ax.get_xlabel(), ax.get_ylabel(), axis.axis_name)


def test_plot_panels_have_numbers_references_and_capacity(res):
    import matplotlib.pyplot as plt

    fig = R.sweep_figure(res)
    try:
        _check_axes(fig)
        panels = {(ax.get_xlabel().removeprefix("estimated "), ax.get_ylabel().removeprefix("estimated ")): ax
                  for ax in fig.axes}
        assert set(panels) >= {("LUT", "AUC"), ("LUT", "energy resolution"), ("LUT", "latency [cycles]"),
                               ("LUT", "interval [cycles]"), ("DSP", "AUC")}
        ref = res["sweep"]["reference"]
        for (x, y), ax in panels.items():
            labels = [line.get_label() for line in ax.get_lines()]
            cap = res["sweep"]["capacity"]["lut" if x == "LUT" else "dsp"]
            assert any(lb.endswith(f"{cap:,} {x}") for lb in labels), labels  # the device's capacity
            if y == "AUC":
                assert f"float model: {ref['float']['auc']:.4f}" in labels
                assert f"unswept model: {ref['model']['auc']:.4f}" in labels
                assert any(lb.startswith("worst accepted:") for lb in labels)
    finally:
        plt.close(fig)


def test_plot_axes_are_numbered_within_one_decade(res):
    """LUT counts from 11,164 to 14,000 on a log axis, no device capacity: matplotlib alone puts no
    labelled major tick there."""
    import matplotlib.pyplot as plt

    narrow = copy.deepcopy(res)
    narrow["sweep"]["capacity"] = None
    pts = ok_points(narrow)
    for i, r in enumerate(pts):
        f = r["synthesis"] or r["estimate"]
        key = "lut" if r["synthesis"] else "estimated_lut"
        f[key] = 11_164 + round(i * (14_000 - 11_164) / (len(pts) - 1))
    fig = R.sweep_figure(R.summarize(narrow))
    try:
        _check_axes(fig)
        lut = [ax for ax in fig.axes if ax.get_xlabel().endswith("LUT")][0]
        assert lut.get_xscale() == "log"
    finally:
        plt.close(fig)


def test_html_page_shows_the_same(res, tmp_path):
    png = R.write_plot(res, tmp_path / "sweep.png")
    page = R.write_html(res, tmp_path / "sweep.html", png).read_text()
    assert res["recommendation"]["line"].split(":")[0] in page
    assert "<th>keeps</th>" in page and "float model (quantizers off)" in page
    assert "Pareto front over latency, interval, LUT, DSP, AUC (higher is better), E res." in page
    assert "data:image/png;base64," in page
