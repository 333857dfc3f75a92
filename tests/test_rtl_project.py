"""convert --backend RTL, then csim / compare (da4ml emulator and Verilator) and synth --tool yosys.

One tiny GarNet model (V = 4) is converted once per session; Yosys synthesizes it (the smallest case: a few
minutes on 2 cores) and Verilator compiles it once.
"""

import json

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.cli import main
from garnet_hls.errors import UserError

V = 4


@pytest.fixture(scope="session")
def rtl_project(tmp_path_factory):
    from garnet_hls.physics.data import generate_calo, save_npz
    from garnet_hls.models.build import build_garnet_model

    keras.utils.set_random_seed(1)
    d = tmp_path_factory.mktemp("rtl")
    model = build_garnet_model(n_vertices=V, n_features=4, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=True, output_activation="tanh")
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape))
    model.save(d / "model.keras")
    data = generate_calo(120, n_vertices=V, seed=3)
    data["nvtx"][::3] = rng.integers(0, V + 1, (len(data["nvtx"][::3]), 1))  # padding and empty events
    save_npz(d / "events.npz", data)
    rc = main(["convert", str(d / "model.keras"), "--backend", "RTL", "-o", str(d / "prj")])
    assert rc == 0
    return model, d / "model.keras", d / "prj", d / "events.npz", data


def test_convert_writes_a_verilog_project(rtl_project):
    _, _, prj, _, _ = rtl_project
    meta = json.loads((prj / "garnet_project.json").read_text())
    assert meta["backend"] == "rtl" and meta["interval_cycles"] == 1
    assert meta["latency_cycles"] >= 2
    name = meta["project_name"]
    for f in (f"src/{name}.v", f"src/{name}_stage0.v", f"src/{name}.xdc", "build_vivado_prj.tcl", "model/comb.json",
              "model/pipeline.json"):
        assert (prj / f).is_file(), f
    assert len(list((prj / "src" / "memfiles").glob("*.mem"))) >= 1  # the exp and tanh tables as ROMs
    top = (prj / f"src/{name}.v").read_text()
    assert f"module {name}" in top


def test_csim_and_compare_with_the_emulator(rtl_project, tmp_path, capsys):
    model, model_path, prj, events, data = rtl_project
    from garnet_hls.flows.compare import compare

    r = compare(model, prj, data)
    assert r.bit_exact and r.n_events == 120
    assert main(["csim", str(prj), "--data", str(events), "-o", str(tmp_path / "out.npz")]) == 0
    out = np.load(tmp_path / "out.npz")
    assert out["energy"].shape == (120, 1)
    assert main(["compare", str(model_path), str(prj), "--data", str(events)]) == 0
    printed = capsys.readouterr().out
    assert "BIT-EXACT" in printed and "da4ml emulator of the RTL vs Keras" in printed


def test_compare_runs_the_verilog_in_verilator(rtl_project):
    model, _, prj, _, data = rtl_project
    from garnet_hls.flows.compare import compare

    r = compare(model, prj, data, verilator=True)
    assert r.simulator.startswith("Verilator")
    assert r.bit_exact
    assert list((prj / "sim").glob("lib*_wrapper_*.so"))


@pytest.mark.parametrize("sig", ["KILL", "TERM"])
def test_yosys_stopped_by_a_signal_says_so(rtl_project, tmp_path, monkeypatch, capsys, sig):
    """A Yosys killed (the out-of-memory killer's SIGKILL, or a SIGTERM) is named as such in one line, not by
    the last warning it printed before (a V=128 run stopped with SIGTERM reported "Yosys failed (exit -15):
    Warning: Wire ... is used but has no driver")."""
    import shutil

    _, _, prj, _, _ = rtl_project
    work = tmp_path / "prj"
    shutil.copytree(prj, work)
    fake = tmp_path / "yosys"
    fake.write_text('#!/bin/sh\nif [ "$1" = "-V" ]; then echo "Yosys 0.23 (fake)"; exit 0; fi\n'
                    f'echo "Warning: Wire x is used but has no driver."\nkill -{sig} $$\n')
    fake.chmod(0o755)
    monkeypatch.setenv("GARNET_HLS_YOSYS", str(fake))
    assert main(["synth", str(work), "--tool", "yosys"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"Yosys was stopped by SIG{sig}" in err[0] and "Warning" not in err[0], err
    assert ("out-of-memory" in err[0]) == (sig == "KILL")
    assert not (work / "synth" / "yosys_report.json").exists()


def test_synth_with_yosys_and_report(rtl_project, capsys):
    _, _, prj, _, _ = rtl_project
    assert main(["synth", str(prj), "--tool", "yosys"]) == 0
    rep = json.loads((prj / "synth" / "yosys_report.json").read_text())
    s = rep["summary"]
    assert s["LUT"] > 0 and s["FF"] > 0
    assert sum(s["LUT_by_size"].values()) == s["LUT"]
    assert rep["latency_cycles"] == json.loads((prj / "garnet_project.json").read_text())["latency_cycles"]
    assert "IBUF" not in rep["cells"]  # out of context
    # the logic depth of every pipeline stage (issue #19): one row per stage, the products on DSPs
    depth = rep["logic_depth"]
    assert [(r["module"], r["stage"]) for r in depth["stages"]] == [("", k) for k in range(rep["latency_cycles"])]
    assert any(r["dsp"] == 1 for r in depth["stages"]) and depth["outside"] is None
    assert all(r["levels"] == r["lut"] + r["carry_cells"] + r["muxf"] + r["dsp"] for r in depth["stages"])
    assert depth["worst"]["levels"] == max(r["levels"] for r in depth["stages"]) > 1
    assert not (prj / "synth" / "yosys_netlist.json").exists()  # read, then deleted
    capsys.readouterr()
    assert main(["report", str(prj)]) == 0
    text = capsys.readouterr().out
    assert "Yosys, before place and route" in text and f"{rep['latency_cycles']} cycles" in text
    assert "Logic depth (Yosys mapping, not timing; the schedule assumes 5.0 ns per stage)" in text


def test_estimate_does_not_apply_to_an_rtl_project(rtl_project, capsys):
    """estimate asks the project's backend: the RTL backend says in one line that it does not apply."""
    _, _, prj, _, _ = rtl_project
    capsys.readouterr()
    assert main(["estimate", str(prj)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "estimate is for HLS projects" in captured.err and "is an rtl project" in captured.err


def test_fit_check_from_the_cost_estimate():
    from garnet_hls.backends.rtl.project import fit_check

    with pytest.raises(UserError, match="does not fit xc7z020"):
        fit_check(60000, "xc7z020clg400-1")
    assert "estimate" in fit_check(30000, "xc7z020clg400-1")
    assert fit_check(1000, "xc7z020clg400-1") is None
    assert fit_check(1e9, "some-unknown-part") is None
    # the variable products are DSP48E2 slices: 220 on this part
    with pytest.raises(UserError, match="300 DSP48E2"):
        fit_check(1000, "xc7z020clg400-1", dsps=300)
    assert "DSP48E2" in fit_check(1000, "xc7z020clg400-1", dsps=150)
    assert fit_check(1000, "xc7z020clg400-1", dsps=100) is None


def test_convert_refuses_a_model_that_cannot_fit_the_part(tmp_path, capsys):
    """Fully parallel, the V=16 GarNet stack preset needs 2,048 DSP48E2 slices: convert says so for a
    220-DSP part before any synthesis, in one line, and writes nothing."""
    from garnet_hls.models.build import build_preset_model

    keras.utils.set_random_seed(5)
    model = build_preset_model("garnet_rtl_v32", n_vertices=16)
    model.save(tmp_path / "m.keras")
    capsys.readouterr()
    rc = main(["convert", str(tmp_path / "m.keras"), "--backend", "RTL", "--part", "xc7z020clg400-1", "-o",
               str(tmp_path / "prj")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1
    assert err[0].startswith("garnet-hls: error: the model does not fit xc7z020clg400-1 fully parallel")
    assert "2,048 DSP48E2" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_rtl_backend_folds_with_reuse_factor(rtl_project, tmp_path, capsys):
    """ReuseFactor R > 1: the folded GarNet of ceil(V / R) lanes (folded_rtl), bit-exact in its emulator and in
    Verilator, its latency and interval the schedule's."""
    from garnet_hls.backends.rtl import folded as F
    from garnet_hls.backends.rtl.folded_rtl import load_plan
    from garnet_hls.flows.compare import compare

    model, model_path, _, _, data = rtl_project
    prj = tmp_path / "p"
    capsys.readouterr()
    assert main(["convert", str(model_path), "--backend", "RTL", "--reuse-factor", "2", "-o", str(prj)]) == 0
    assert "interval 2, folded: 2 lanes" in capsys.readouterr().out
    meta = json.loads((prj / "garnet_project.json").read_text())
    assert meta["folded"] is True and meta["lanes"] == 2 and meta["interval_cycles"] == 2
    plan = F.plan_folded(model, 2, latency_cutoff=meta["latency_cutoff"])
    assert meta["latency_cycles"] == F.schedule(plan)["latency"]
    assert load_plan(prj / "model" / "folded").groups == 2
    name = meta["project_name"]
    assert (prj / "src" / f"{name}.v").is_file() and (prj / "build_vivado_prj.tcl").is_file()
    assert "in_feat[*]" in (prj / "src" / f"{name}.xdc").read_text()
    from garnet_hls.backends.rtl.yosys import source_files

    assert all((prj / f).is_file() for f in source_files(meta)) and len(source_files(meta)) > 3
    r = compare(model, prj, data)
    assert r.bit_exact and r.n_events == 120 and r.simulator.startswith("da4ml")
    r = compare(model, prj, data, verilator=True)
    assert r.simulator.startswith("Verilator") and r.bit_exact
    capsys.readouterr()
    assert main(["report", str(prj)]) == 0  # the folded schedule, before any synthesis
    out = capsys.readouterr().out
    assert "folded: ReuseFactor 2, 2 lanes x 2 groups per event" in out
    assert f"  latency  {meta['latency_cycles']:>8,} cycles" in out and "  interval        2 cycles" in out
    # where the folded design's logic goes: every module's ops tagged (none left 'other'), the modules'
    # breakdowns summing to the project's figures, each module listed in the report
    mods, rows = meta["folded_modules"], meta["breakdown"]
    assert rows is not None and "other" not in rows and all("other" not in m["breakdown"] for m in mods)
    assert sum(r["lut_estimate"] for r in rows.values()) == pytest.approx(meta["estimated_luts"], abs=len(mods) * 9)
    assert sum(r["dsp"] for r in rows.values()) == meta["dsp_slices"] > 0
    for m in mods:
        assert sum(v["lut_estimate"] for v in m["breakdown"].values()) == pytest.approx(m["lut_da4ml_est"], abs=9)
    assert {"tables", "constant matrices", "accumulators", "variable products"} <= set(rows)
    assert "folded: the modules' logic, each module once" in out
    assert all(f"    {m['module']:<22}" in out for m in mods)


def test_report_puts_a_folded_schedule_beside_the_hls_estimate(rtl_project, tmp_path, capsys):
    """report --vs-hls: the folded RTL schedule beside garnet-hls estimate's figures of an HLS project of the same
    model and ReuseFactor, region by region (the RTL rows add up to its latency), with the reasons they differ;
    another ReuseFactor, another model or a project that is not HLS is refused in one line."""
    import shutil

    _, model_path, par, _, _ = rtl_project
    rtl, hls = tmp_path / "rtl", tmp_path / "hls"
    assert main(["convert", str(model_path), "--backend", "RTL", "--reuse-factor", "2", "-o", str(rtl)]) == 0
    assert main(["convert", str(model_path), "--backend", "vivado", "--reuse-factor", "2", "-o", str(hls)]) == 0
    capsys.readouterr()
    assert main(["report", str(rtl), "--vs-hls", str(hls), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    meta = json.loads((rtl / "garnet_project.json").read_text())
    vs = json.loads((tmp_path / "r.json").read_text())["vs_hls"]
    assert vs["reuse_factor"] == 2 and vs["rtl"]["latency_cycles"] == meta["latency_cycles"]
    assert [r["rtl_module"].rsplit("_", 1)[-1] for r in vs["regions"]] == ["pass0", "agg0", "pass1", "tail"]
    assert [r["hls_region"] for r in vs["regions"]][:2] == ["VertexIn", "Aggregators"]
    assert sum(r["rtl_cycles"] for r in vs["regions"]) == meta["latency_cycles"]
    assert sum(r["rtl_dsp"] for r in vs["regions"]) == meta["dsp_slices"]
    assert "Beside the HLS estimate of" in out and "every HLS figure an ESTIMATE" in out
    import re

    hls_lat = vs["hls_estimate"]["latency_cycles"]
    assert re.search(rf"^  latency\s+{meta['latency_cycles']}\s+{hls_lat}\s+cycles$", out, re.M), out
    assert "why: interval: the folded RTL" in out
    for other, msg in ((par, "ReuseFactor 2 on its graph layers"), (rtl, "takes an HLS project")):
        assert main(["report", str(other if other is par else rtl), "--vs-hls", str(hls if other is par else rtl)]) == 1
        assert msg in capsys.readouterr().err
    copy = tmp_path / "hls_other"
    shutil.copytree(hls, copy)
    (tmp_path / "other.keras").write_bytes(model_path.read_bytes() + b"x")
    hm = json.loads((copy / "garnet_project.json").read_text())
    (copy / "garnet_project.json").write_text(json.dumps({**hm, "model_file": str(tmp_path / "other.keras")}))
    assert main(["report", str(rtl), "--vs-hls", str(copy)]) == 1
    assert "not the same model" in capsys.readouterr().err


def test_rtl_backend_refuses_a_bad_reuse_factor(tmp_path):
    from garnet_hls.backends.rtl.project import check_rtl_config

    for rf in (0, 2.5, "4"):
        with pytest.raises(UserError, match="ReuseFactor must be a whole number >= 1"):
            check_rtl_config({"HLSConfig": {"Model": {"ReuseFactor": rf}}})


@pytest.mark.parametrize("name", ["gravnet_rtl_v32"])
def test_rtl_preset_config_converts(name, tmp_path, calo_events, capsys):
    """configs/NAME.yml (Backend: RTL) converts its preset; the project is bit-exact in the emulator."""
    from garnet_hls.flows.compare import compare
    from garnet_hls.flows.convert import convert
    from garnet_hls.models.build import build_preset_model
    from garnet_hls.models.presets import config_path

    keras.utils.set_random_seed(9)
    model = build_preset_model(name)
    model.save(tmp_path / "m.keras")
    prj = convert(tmp_path / "m.keras", config_path(name), tmp_path / "prj", model=model)
    meta = json.loads((prj / "garnet_project.json").read_text())
    assert meta["backend"] == "rtl" and meta["project_name"] == "gravnet_rtl" and meta["clock_period_ns"] == 5
    assert "estimate" in capsys.readouterr().out  # the fit warning: a large share of the xcvu13p
    assert compare(model, prj, calo_events(32, 100)).bit_exact


def test_sweep_point_on_the_rtl_backend_with_yosys(rtl_project, tmp_path):
    """A sweep point with --backend rtl --synth yosys: converted through da4ml, checked bit for bit in its
    emulator, and synthesized by Yosys; the point records the Yosys figures and the exact pipeline depth."""
    from garnet_hls.flows import sweep as S

    model, model_path, _, _, data = rtl_project
    shared = {"model_bytes": model_path.read_bytes(), "model_suffix": ".keras", "config": {}, "data": data}
    params = {"reuse": 1, "precision": "model", "backend": "rtl", "synth": "yosys"}
    res = S.run_point(shared, params, "rtl-point", project_dir=str(tmp_path / "point"))
    assert res["status"] == "ok", res.get("error")
    assert res["bit_exact"] is True and res["estimate"] is None
    syn = res["synthesis"]
    assert syn["tool"] == "Yosys, before place and route"
    assert syn["lut"] > 0 and syn["ff"] > 0 and syn["interval_cycles"] == 1
    meta = json.loads((tmp_path / "point" / "project" / "garnet_project.json").read_text())
    assert syn["latency_cycles"] == meta["latency_cycles"]
    assert 0.0 <= res["physics"]["auc"] <= 1.0 and res["physics"]["energy_response"] > 0  # from the RTL outputs


VIVADO_REPORTS = __import__("pathlib").Path(__file__).resolve().parent / "data" / "vivado-rtl-reports"


def _copy_project(prj, dest):
    """The session's RTL project without its build products (Verilator's sim objects, Yosys' synth/)."""
    import shutil

    shutil.copytree(prj, dest, ignore=shutil.ignore_patterns("obj_dir", "*.so", "synth"))
    return json.loads((dest / "garnet_project.json").read_text())["project_name"]


def _add_vivado_reports(dest, name, source, stages=("post_route", "post_synth")):
    """Real Vivado reports (of design 'main', tests/data/vivado-rtl-reports) put where da4ml's
    build_vivado_prj.tcl writes them for this project: output_<name>/reports/<name>_<stage>_<kind>.rpt."""
    import shutil

    d = dest / f"output_{name}" / "reports"
    d.mkdir(parents=True)
    for stage in stages:
        for kind in ("util", "timing"):
            src = VIVADO_REPORTS / source / "output_main" / "reports" / f"main_{stage}_{kind}.rpt"
            if src.is_file():
                shutil.copyfile(src, d / f"{name}_{stage}_{kind}.rpt")
    return d


def test_report_reads_vivados_own_reports(rtl_project, tmp_path, capsys):
    _, _, prj, _, _ = rtl_project
    dest = tmp_path / "prj"
    name = _copy_project(prj, dest)
    _add_vivado_reports(dest, name, "lakeroad-binary-operators")
    meta = json.loads((dest / "garnet_project.json").read_text())
    capsys.readouterr()
    assert main(["report", str(dest), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Schedule (exact, from the generated RTL; fully parallel):")
    lines = out[out.index("Vivado 2021.2"):].splitlines()
    assert lines[0] == "Vivado 2021.2, post-route (report_utilization, report_timing_summary; device xczu3eg-sbva484-1-e):"
    assert "  (post-synth reports are also there; the latest stage is shown)" in lines
    # the test reports are of another design on another part: the report says so
    assert f"is a report of design 'main', not of this project's top '{name}'" in out
    assert f"the reports are for device xczu3eg-sbva484-1-e, the project was converted for {meta['part']}" in out
    assert "  LUT                  493      70,560    0.7%" in lines and "  CARRY8                18       8,820    0.2%" in lines
    assert "  setup: WNS 2.221 ns, TNS 0.000 ns, 0 of 899 endpoints failing" in lines
    assert "  fmax 359.8 MHz (derived: 1000 / (period 5.000 ns - WNS 2.221 ns))" in lines
    n = meta["latency_cycles"]
    assert f"Pipeline (exact, from the RTL): {n} cycles, interval 1: {n * 5.0:g} ns at the constrained" in out
    assert "Yosys" not in out  # no synth/yosys_report.json in this copy
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["backend"] == "rtl" and doc["yosys"] is None
    v = doc["vivado"]
    assert v["version"] == "2021.2" and v["stage"] == "post-route"
    assert v["summary"]["LUT"]["used"] == 493 and v["summary"]["FF"]["available"] == 141120
    assert v["timing"]["wns_ns"] == 2.221 and v["timing"]["met"] is True


def test_report_of_an_rtl_project_with_a_broken_vivado_report(rtl_project, tmp_path, capsys):
    _, _, prj, _, _ = rtl_project
    dest = tmp_path / "prj"
    name = _copy_project(prj, dest)
    d = _add_vivado_reports(dest, name, "lakeroad-inlining", stages=("post_route",))
    timing = d / f"{name}_post_route_timing.rpt"
    timing.write_bytes(timing.read_bytes()[:3000])  # Vivado killed while writing it
    capsys.readouterr()
    assert main(["report", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "  LUT                  753      70,560    1.1%" in out  # the utilization report is whole
    assert f"  timing: unreadable: {timing}: not a Vivado timing summary report" in out
    assert "Traceback" not in out and "fmax" not in out
    (d / f"{name}_post_route_util.rpt").write_bytes(b"\x00\xff garbage")
    assert main(["report", str(dest)]) == 0
    assert "  utilization: unreadable: " in capsys.readouterr().out


def test_report_of_an_rtl_project_without_reports(rtl_project, tmp_path, capsys):
    _, _, prj, _, _ = rtl_project
    dest = tmp_path / "prj"
    _copy_project(prj, dest)
    capsys.readouterr()
    meta = json.loads((dest / "garnet_project.json").read_text())
    assert main(["report", str(dest)]) == 0  # the schedule is known before any synthesis
    out = capsys.readouterr().out
    assert out.startswith("Schedule (exact, from the generated RTL; fully parallel):")
    assert f"  latency  {meta['latency_cycles']:>8,} cycles" in out and "  interval        1 cycles" in out
    assert f"  DSP48E2  {meta['dsp_slices']:>8,}" in out and "ESTIMATE" in out
    assert "No synthesis reports yet" in out and "build_vivado_prj.tcl" in out and "--tool yosys" in out
    assert main(["report", str(dest), "--html", str(tmp_path / "r.html")]) == 1
    assert "--html is for hls4ml projects" in capsys.readouterr().err
