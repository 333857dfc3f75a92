"""One vocabulary (issue #17): backend and tool names are case-insensitive and the same in every command and
config key, the old spellings keep working, and a flag that does not apply to a project's backend is refused
in one line instead of being ignored. Real tiny projects of each backend, through the real command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.backends import registry
from garnet_hls.cli import main
from garnet_hls.errors import UserError
from garnet_hls.project import META_FILE

V = 4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from garnet_hls.models.build import build_garnet_model
    from garnet_hls.physics.data import generate_calo, save_npz

    d = tmp_path_factory.mktemp("vocab")
    keras.utils.set_random_seed(5)
    model = build_garnet_model(n_vertices=V, n_features=4, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=True)
    model.save(d / "model.keras")
    save_npz(d / "events.npz", generate_calo(12, n_vertices=V, seed=6))
    return d


def _cli(argv, capsys):
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def _one_line(rc, err, *fragments):
    lines = err.strip().splitlines()
    assert rc != 0 and len(lines) == 1, err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.mark.parametrize("name,canonical", [("vivado", "vivado"), ("Vivado", "vivado"), ("VIVADO", "vivado"),
                                            ("hls", "vivado"), ("Vitis", "vitis"), ("vitis", "vitis"),
                                            ("RTL", "rtl"), ("rtl", "rtl"), ("Rtl", "rtl"), (" rtl ", "rtl"),
                                            ("VivadoAccelerator", "vivado")])
def test_backend_names_are_case_insensitive(name, canonical):
    assert registry.get_backend(name).name == canonical


@pytest.mark.parametrize("name,canonical", [("hls", "hls"), ("HLS", "hls"), ("vivado", "hls"), ("Vitis", "hls"),
                                            ("vivado_hls", "hls"), ("vitis_hls", "hls"), ("yosys", "yosys"),
                                            ("Yosys", "yosys")])
def test_tool_names_are_case_insensitive(name, canonical):
    assert registry.tool_name(name) == canonical


@pytest.mark.parametrize("bad", ["quartus", "", "vivado hls", None, 3])
def test_unknown_backend_is_one_line_naming_the_valid_ones(bad):
    with pytest.raises(UserError, match="vivado, vitis, rtl"):
        registry.get_backend(bad)


@pytest.mark.parametrize("spelling", ["RTL", "rtl", "Rtl"])
def test_convert_backend_any_case_and_the_config_key_too(tiny, tmp_path, capsys, spelling):
    rc, out, err = _cli(["convert", tiny / "model.keras", "--backend", spelling, "-o", tmp_path / "a"], capsys)
    assert rc == 0, err
    assert json.loads((tmp_path / "a" / META_FILE).read_text())["backend"] == "rtl"
    assert "wrote rtl project" in out
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"Backend: {spelling}\n")
    rc, out, err = _cli(["convert", tiny / "model.keras", "-c", cfg, "-o", tmp_path / "b"], capsys)
    assert rc == 0 and json.loads((tmp_path / "b" / META_FILE).read_text())["backend"] == "rtl", err


def test_convert_refuses_an_unknown_backend_before_reading_anything(tiny, tmp_path, capsys):
    rc, _, err = _cli(["convert", tmp_path / "missing.keras", "--backend", "quartus", "-o", tmp_path / "p"], capsys)
    _one_line(rc, err, "--backend 'quartus' is not one of vivado, vitis, rtl")
    cfg = tmp_path / "c.yml"
    cfg.write_text("Backend: Quartus\n")
    rc, _, err = _cli(["convert", tiny / "model.keras", "-c", cfg, "-o", tmp_path / "p"], capsys)
    _one_line(rc, err, "Backend 'Quartus' is not one of")
    assert not (tmp_path / "p").exists()


@pytest.fixture(scope="module")
def projects(tiny, tmp_path_factory):
    d = tmp_path_factory.mktemp("vocab-prj")
    for b in ("rtl", "vivado"):
        assert main(["convert", str(tiny / "model.keras"), "--backend", b, "-o", str(d / b)]) == 0
    return d


@pytest.mark.parametrize("argv,fragments", [
    (["csim", "{rtl}", "--data", "{events}", "--fast"], ["--fast does not apply", "rtl project", "--verilator"]),
    (["compare", "{model}", "{rtl}", "--data", "{events}", "--fast"], ["--fast does not apply", "rtl project"]),
    (["csim", "{vivado}", "--data", "{events}", "--verilator"], ["--verilator does not apply", "vivado project"]),
    (["compare", "{model}", "{vivado}", "--data", "{events}", "--verilator"], ["--verilator does not apply"]),
    (["synth", "{rtl}", "--cosim"], ["--cosim does not apply", "rtl project"]),
    (["synth", "{rtl}", "--tool", "hls"], ["--tool hls does not apply", "rtl project", "yosys"]),
    (["synth", "{vivado}", "--tool", "yosys"], ["--tool yosys does not apply", "vivado project", "hls"]),
    (["synth", "{vivado}", "--tool", "quartus"], ["synthesis tool 'quartus' is not one of hls, yosys"]),
    (["report", "{rtl}", "--estimate"], ["--estimate is for hls4ml projects"]),
    (["estimate", "{rtl}"], ["estimate is for HLS projects", "rtl project"]),
])
def test_a_flag_that_does_not_apply_is_refused(projects, tiny, capsys, argv, fragments):
    names = {"rtl": projects / "rtl", "vivado": projects / "vivado", "events": tiny / "events.npz",
             "model": tiny / "model.keras"}
    before = {p: sorted(q.name for q in (projects / p).rglob("*")) for p in ("rtl", "vivado")}
    rc, _, err = _cli([a.format(**names) for a in argv], capsys)
    _one_line(rc, err, *fragments)
    assert {p: sorted(q.name for q in (projects / p).rglob("*")) for p in ("rtl", "vivado")} == before


@pytest.mark.parametrize("key,value,backend,fragment", [
    ("LatencyCutoff", 4.0, "vivado", "LatencyCutoff is for the rtl backend"),
    ("ClockUncertainty", "12.5%", "rtl", "ClockUncertainty is for the HLS backends"),
])
def test_a_config_key_of_the_other_backend_is_refused(tiny, tmp_path, capsys, key, value, backend, fragment):
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"Backend: {backend}\n{key}: {json.dumps(value)}\n")
    rc, _, err = _cli(["convert", tiny / "model.keras", "-c", cfg, "-o", tmp_path / "p"], capsys)
    _one_line(rc, err, fragment)
    assert not (tmp_path / "p").exists()


def test_old_project_spellings_are_read(projects, tmp_path):
    """Projects written before the rename say RTL / Vivado: the registry reads them."""
    import shutil

    for b, old in (("rtl", "RTL"), ("vivado", "Vivado")):
        prj = tmp_path / b
        shutil.copytree(projects / b, prj)
        meta = json.loads((prj / META_FILE).read_text())
        meta["backend"] = old
        (prj / META_FILE).write_text(json.dumps(meta))
        assert registry.backend_of(prj).name == b


def test_sweep_takes_every_spelling(tmp_path):
    from garnet_hls.flows.sweep import make_points

    pts = make_points([1], ["model"], ["hls", "RTL", "Vitis"], "none")
    assert [p["backend"] for p in pts] == ["vivado", "rtl", "vitis"]
    assert {p["synth"] for p in make_points([1], ["model"], ["rtl"], "Yosys")} == {"yosys"}
    assert {p["synth"] for p in make_points([1], ["model"], ["hls"], "vivado")} == {"hls"}
    with pytest.raises(UserError, match="--synth yosys does not apply to the vivado backend"):
        make_points([1], ["model"], ["hls"], "yosys")
    with pytest.raises(UserError, match="--synth hls does not apply to the rtl backend"):
        make_points([1], ["model"], ["rtl"], "vivado")


def test_registry_lookups_cover_every_backend():
    assert [b.name for b in registry.all_backends()] == list(registry.NAMES) == ["vivado", "vitis", "rtl"]
    for b in registry.all_backends():
        assert b.synth_tools and all(t in registry.TOOLS for t in b.synth_tools)
        assert registry.get_backend(b.name) is b
    assert np.all([registry.backend_name(n.upper()) == n for n in registry.NAMES])


def test_rtl_reuse_factor_per_layer_is_used_or_refused_never_ignored(tiny, tmp_path, capsys):
    """On the rtl backend a graph layer's own ReuseFactor folds it as the model-level one does; a dense layer's
    ReuseFactor (the head stays fully parallel) and differing graph-layer factors are refused in one line."""
    model = keras.models.load_model(tiny / "model.keras", compile=False)
    graph = next(lay.name for lay in model.layers if type(lay).__name__ in ("GarNet", "GarNetStack"))
    dense = next(lay.name for lay in model.layers if type(lay).__name__ == "QDense")
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"Backend: rtl\nHLSConfig:\n  LayerName:\n    {graph}:\n      ReuseFactor: 2\n")
    rc, out, err = _cli(["convert", tiny / "model.keras", "-c", cfg, "-o", tmp_path / "f"], capsys)
    assert rc == 0, err
    meta = json.loads((tmp_path / "f" / META_FILE).read_text())
    assert meta.get("folded") and meta["lanes"] == V // 2 and meta["interval_cycles"] == 2
    cfg.write_text(f"Backend: rtl\nHLSConfig:\n  LayerName:\n    {dense}:\n      ReuseFactor: 2\n")
    rc, _, err = _cli(["convert", tiny / "model.keras", "-c", cfg, "-o", tmp_path / "g"], capsys)
    _one_line(rc, err, f"HLSConfig.LayerName.{dense}.ReuseFactor = 2 does not apply to the rtl backend")
    assert not (tmp_path / "g").exists()
