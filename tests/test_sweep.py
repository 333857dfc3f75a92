"""garnet-hls sweep on a real Dask LocalCluster (2 worker processes, nothing mocked).

A small quantized GarNet (V=16) is swept over four points, each converted, C-simulated and compared
with its Keras model on 60 built-in calorimeter events, and estimated:

* R=4, model precision: a normal point;
* R=8, w6: the weights re-quantized to 6 bits (still bit-exact against the re-quantized model);
* R=5: does not divide V=16, fails in the conversion;
* R=4 with --synth vivado: vivado_hls is not installed here, so the point fails with the synth
  driver's one-line "not found" message.

The sweep is then resumed: finished points (failed ones too) are not redone, a missing one is.
"""

import json
import logging
import math

import numpy as np
import pytest

from garnet_hls.flows import sweep as S
from garnet_hls.errors import UserError

EVENTS = 60
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    import tf_keras as keras

    from garnet_hls.models.build import build_garnet_model

    keras.utils.set_random_seed(3)
    model = build_garnet_model(n_vertices=16, aggregators=(2, 4), filters=(4, 8), propagate=(4, 8), dense=(8,),
                               quantized=True, weight_bits=8)
    rng = np.random.default_rng(1)
    for w in model.weights:  # non-zero biases, so that every bias path is exercised
        if "bias" in w.name:
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape))
    d = tmp_path_factory.mktemp("sweep_model")
    path = d / "small.keras"
    model.save(path)
    cfg = d / "small.yml"
    cfg.write_text("Backend: Vivado\nPart: xcku115-flvb2104-2-i\nClockPeriod: 5\nIOType: io_parallel\n"
                   "HLSConfig:\n  Model:\n    Precision: ap_fixed<16,6>\n    ReuseFactor: 1\n")
    return path, cfg


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    # the workers' PATH has g++ but no vivado_hls, whatever else this machine has installed
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit=0, silence_logs=logging.ERROR, env={"PATH": "/usr/bin:/bin"})
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


POINTS = [
    {"reuse": 4, "precision": "model", "backend": "hls", "synth": "none"},
    {"reuse": 8, "precision": "w6", "backend": "hls", "synth": "none"},
    {"reuse": 5, "precision": "model", "backend": "hls", "synth": "none"},
    {"reuse": 4, "precision": "model", "backend": "hls", "synth": "vivado"},
]


def _sweep(small_model, out):
    path, cfg = small_model
    return S.Sweep(path, cfg, out, POINTS, events=EVENTS)


@pytest.fixture(scope="module")
def first_run(small_model, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sw"
    sw = _sweep(small_model, out)
    res = sw.run(client=client, progress=False, keep_projects=True)
    return sw, res


def _by_params(res):
    return {(p["params"]["reuse"], p["params"]["precision"], p["params"]["synth"]): p for p in res["points"]}


def test_sweep_points_are_bit_exact_and_measured(first_run):
    sw, res = first_run
    assert res["sweep"]["n_points"] == 4 and res["sweep"]["n_done"] == 4
    on_disk = json.loads((sw.out / S.RESULTS).read_text())
    assert [p["key"] for p in on_disk["points"]] == sw.keys
    pts = _by_params(res)
    for key in ((4, "model", "none"), (8, "w6", "none")):
        p = pts[key]
        assert p["status"] == "ok", p["error"]
        assert p["bit_exact"] is True
        for o in p["compare"]["outputs"]:
            assert o["identical_fraction"] == 1.0 and o["n_values"] == EVENTS
        e = p["estimate"]
        assert e["estimated_latency_cycles_max"] > 0 and e["estimated_interval_cycles"] > 0 and e["estimated_lut"] > 0
        assert 0.0 <= p["physics"]["auc"] <= 1.0
        assert math.isfinite(p["physics"]["energy_resolution"]) and p["physics"]["energy_resolution"] > 0
        assert p["stage_seconds"]["csim_build"] > 0 and p["cpu_seconds"] > 0
        # the reuse factor reached the firmware
        params_h = (sw.out / "projects" / p["key"] / "project" / "firmware" / "parameters.h").read_text()
        assert f"reuse_factor = {key[0]};" in params_h
    # w6: the point's Keras model really has 6-bit weight quantizers, and its firmware 6-bit weights
    import tf_keras as keras

    w6 = pts[(8, "w6", "none")]
    m = keras.models.load_model(sw.out / "projects" / w6["key"] / "model.keras", compile=False)
    assert m.get_layer("garnet").get_config()["kernel_quantizer"] == "quantized_bits(6,0,alpha=1)"
    assert m.get_layer("dense1").get_config()["kernel_quantizer"]["config"]["bits"] == 6
    assert pts[(4, "model", "none")]["estimate"]["estimated_lut"] != w6["estimate"]["estimated_lut"]
    # the Pareto front is made of finished points
    ok = {p["key"] for p in res["points"] if p["status"] == "ok"}
    assert res["pareto"] and set(res["pareto"]) <= ok


def test_failing_points_record_one_line_and_do_not_stop_the_sweep(first_run):
    sw, res = first_run
    pts = _by_params(res)
    bad = pts[(5, "model", "none")]
    assert bad["status"] == "error" and bad["stage"] == "convert"
    assert "ReuseFactor = 5 does not divide the 16 vertices" in bad["error"]
    viv = pts[(4, "model", "vivado")]
    assert viv["status"] == "error" and viv["stage"] == "synth"
    assert viv["error"].startswith("vivado_hls not found on PATH")
    for p in (bad, viv):
        assert "\n" not in p["error"]
        assert json.loads(sw.point_file(p["key"]).read_text())["error"] == p["error"]
    table = S.format_table(res)
    assert "does not divide the 16 vertices" in table and "ESTIMATES" in table


def test_plot_and_page(first_run):
    sw, res = first_run
    png = S.write_plot(res, sw.out / S.PLOT)
    assert png.read_bytes()[:8] == PNG_MAGIC
    page = S.write_html(res, sw.out / S.PAGE, png).read_text()
    assert "data:image/png;base64," in page and "ESTIMATES" in page and "does not divide" in page


def test_resumed_sweep_does_not_redo_finished_points(first_run, small_model, client):
    sw, res = first_run
    before = {k: sw.point_file(k).read_text() for k in sw.keys}
    again = _sweep(small_model, sw.out)
    assert again.keys == sw.keys  # same content, same keys
    res2 = again.run(client=client, progress=False, keep_projects=True)
    assert {k: again.point_file(k).read_text() for k in again.keys} == before
    assert res2["sweep"]["n_done"] == 4
    # a point lost to an interruption (no result file) is the only one redone
    lost = _by_params(res)[(5, "model", "none")]["key"]
    sw.point_file(lost).unlink()
    res3 = _sweep(small_model, sw.out).run(client=client, progress=False, keep_projects=True)
    redone = {p["key"]: p for p in res3["points"]}
    assert redone[lost]["t_start"] > max(p["t_end"] for p in res["points"])
    for k in sw.keys:
        if k != lost:
            assert sw.point_file(k).read_text() == before[k]


def test_key_changes_with_content(small_model, tmp_path):
    path, cfg = small_model
    data = {"x": np.arange(4)}
    versions = S.tool_versions()
    k = S.point_key("a", {"Part": "x"}, POINTS[0], S.data_digest(data), versions)
    assert k == S.point_key("a", {"Part": "x"}, dict(POINTS[0]), S.data_digest({"x": np.arange(4)}), versions)
    assert k != S.point_key("b", {"Part": "x"}, POINTS[0], S.data_digest(data), versions)
    assert k != S.point_key("a", {"Part": "y"}, POINTS[0], S.data_digest(data), versions)
    assert k != S.point_key("a", {"Part": "x"}, POINTS[1], S.data_digest(data), versions)
    assert k != S.point_key("a", {"Part": "x"}, POINTS[0], S.data_digest({"x": np.arange(5)}), versions)
    assert k != S.point_key("a", {"Part": "x"}, POINTS[0], S.data_digest(data), {**versions, "hls4ml": "0"})


def test_precision_grammar():
    assert S.parse_precision("model") is None
    assert S.parse_precision("6") == {"weight": 6, "activation": None}
    assert S.parse_precision("w6a8") == {"weight": 6, "activation": 8}
    assert S.canonical_precision("a10") == "a10"
    for bad in ("x6", "w1", "w6b2", "w"):
        with pytest.raises(UserError):
            S.parse_precision(bad)
    pts = S.make_points([4, 8], ["model", "6"], ["hls"])
    assert [(p["reuse"], p["precision"]) for p in pts] == [(4, "model"), (8, "model"), (4, "w6"), (8, "w6")]


def test_cli_errors_are_one_line(capsys, small_model, tmp_path):
    from garnet_hls.cli import main

    path, cfg = small_model
    cases = [
        (["--reuse", "4", "--synth", "yosys"], "--synth yosys does not apply to the vivado backend"),
        (["--reuse", "4", "--precision", "q7"], "precision 'q7' is not one of"),
        (["--reuse", "four"], "--reuse takes comma-separated integers"),
        (["--reuse", "4", "--backend", "verilog"], "backend 'verilog' is not one of vivado, vitis, rtl"),
    ]
    for extra, msg in cases:
        rc = main(["sweep", str(path), "-c", str(cfg), "-o", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err
        assert rc == 1 and msg in err and err.count("\n") == 1, err


def test_reference_physics_and_point_logs(first_run):
    sw, res = first_run
    ref = res["sweep"]["reference"]
    model_point = _by_params(res)[(4, "model", "none")]
    # bit-exact firmware of the unswept model: the same AUC and resolution as the Keras model itself
    assert model_point["physics"]["auc"] == ref["model"]["auc"]
    assert model_point["physics"]["energy_resolution"] == ref["model"]["energy_resolution"]
    assert 0.0 <= ref["float"]["auc"] <= 1.0 and ref["float"]["energy_resolution"] > 0
    assert ref["float"] != ref["model"]  # the quantizers are really off in the float model
    assert res["keeps_physics"][model_point["key"]] is True
    assert res["objectives"] == ["latency", "interval", "lut", "dsp", "auc", "resolution"]
    for p in res["points"]:  # every point run has its log in the sweep directory, failed ones too
        assert p["log_file"] == f"logs/{p['key']}.log" and (sw.out / p["log_file"]).is_file()


def test_synth_applies_to_the_backends_that_take_it():
    pts = S.make_points([4], ["model"], ["vivado", "rtl"], "yosys")
    assert [(p["backend"], p["synth"]) for p in pts] == [("vivado", "none"), ("rtl", "yosys")]
    with pytest.raises(UserError, match="--synth yosys does not apply to the vivado or vitis backend"):
        S.make_points([4], ["model"], ["vivado", "vitis"], "yosys")
