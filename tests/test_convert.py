"""GarNet to firmware: conversion, C simulation and bit-exact comparison with Keras (issue: GarNet to firmware)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

import garnet_hls
from garnet_hls.cli import main
from garnet_hls.flows.compare import compare, keras_float64, keras_float64_clone
from garnet_hls.flows.convert import convert
from garnet_hls.config import load_config, validate_config
from garnet_hls.project import META_FILE
from garnet_hls.errors import UserError
from garnet_hls.layers import GarNet

GARNET_PRESETS = ["garnet_paper", "garnet_full_max", "garnet_v100_nvtx"]
N_EVENTS = 300


@pytest.mark.parametrize("name", GARNET_PRESETS)
def test_canonical_config_is_bit_exact_on_calorimeter_events(name, preset_project, calo_events):
    model, _, prj, sim = preset_project(name)
    V = model.inputs[0].shape[1]
    data = calo_events(V, N_EVENTS)
    assert data["nvtx"].min() < V  # padding present: masking is exercised
    r = compare(model, prj, data, sim=sim)
    for o in r.outputs:
        assert o.identical_fraction == 1.0, (name, o)
        assert o.max_lsb_diff == 0.0
    assert r.bit_exact and r.divergence is None
    # the outputs are not trivially constant
    out, _ = sim.run(data)
    assert np.std(out["class_logit"]) > 0 and np.std(out["energy"]) > 0


def test_paper_project_layout_and_settings(preset_project):
    model, _, prj, _ = preset_project("garnet_paper")
    for f in ("build_prj.tcl", "firmware/myproject.cpp", "firmware/nnet_utils/garnet.h",
              "firmware/nnet_utils/garnet_common.h", "firmware/parameters.h", "hls4ml_config.yml", META_FILE):
        assert (prj / f).is_file(), f
    cfg = (prj / "hls4ml_config.yml").read_text()
    assert "xcku115-flvb2104-2-i" in cfg and str(prj.resolve()) in cfg and ".partial-" not in cfg
    params = (prj / "firmware" / "parameters.h").read_text()
    assert "static const unsigned reuse_factor = 32;" in params
    # one code path for C simulation and synthesis: no __SYNTHESIS__ fork in our kernels
    for f in ("garnet.h", "garnet_common.h"):
        assert "__SYNTHESIS__" not in (prj / "firmware" / "nnet_utils" / f).read_text()
    meta = json.loads((prj / META_FILE).read_text())
    assert meta["bit_exact"] is True
    assert [o["keras_name"] for o in meta["outputs"]] == ["class_logit", "energy"]


def test_tables_in_firmware_are_the_python_tables(preset_project):
    """The exp table written into the firmware is garnet_hls.core.tables' table in its compact form (exp(-d^2)
    is even: indexed by min(|d|, N-1)), which gives exactly the Python number for every distance code,
    and small enough to be built as logic, one copy per read (partitioned completely in the top)."""
    from garnet_hls.core import tables
    from garnet_hls.core.fixed import parse_spec

    model, _, prj, _ = preset_project("garnet_paper")
    layer = model.get_layer("garnet")
    specs = layer.quantizer_specs()
    d_t = parse_spec(specs["distance"])
    expected = tables.exp_neg_square_table(d_t, parse_spec(specs["edge_weight"]))
    (hdr,) = [p for p in (prj / "firmware" / "weights").glob("t*_exp.h")]
    text = hdr.read_text()
    values = np.array([float(v) for v in text[text.index("{") + 1:text.rindex("}")].split(",")])
    assert len(values) < len(expected) // 4
    np.testing.assert_array_equal(tables.expand_table(tables.FOLD_EVEN, values, d_t), expected)
    params = (prj / "firmware" / "parameters.h").read_text()
    assert f"exp_table_size = {len(values)};" in params and f"exp_fold = {tables.FOLD_EVEN};" in params
    top = (prj / "firmware" / "myproject.cpp").read_text()
    assert f"#pragma HLS ARRAY_PARTITION variable={hdr.stem} complete dim=1" in top


def test_compact_tables_fall_back_to_the_full_table():
    """A fold is used only when it reproduces every entry: tanh into a signed output whose +1 saturates
    but whose -1 does not is not odd, so its full table is kept."""
    from garnet_hls.core import tables
    from garnet_hls.core.fixed import FixedType

    x_t = FixedType(12, 4, True)
    wide = tables.tanh_table(x_t, FixedType(16, 6, True))
    mode, t = tables.compact_table(wide, x_t, "odd")
    assert mode == tables.FOLD_ODD and len(t) < 2048
    np.testing.assert_array_equal(tables.expand_table(mode, t, x_t), wide)
    narrow = tables.tanh_table(x_t, FixedType(8, 1, True))
    mode, t = tables.compact_table(narrow, x_t, "odd")
    assert mode == tables.FOLD_NONE
    np.testing.assert_array_equal(t, narrow)


def test_compare_names_the_diverging_layer(preset_project, calo_events, tmp_path):
    """A project converted with a coarser GarNet output type than the model's must fail, naming 'garnet'."""
    model, path, _, _ = preset_project("garnet_paper")
    cfg = load_config(garnet_hls.models.presets.config_path("garnet_paper"))
    cfg["HLSConfig"]["LayerName"]["garnet"]["Precision"] = {"aggregate": "ap_fixed<10,6>"}
    prj = convert(path, None, tmp_path / "prj", overrides=cfg)
    r = compare(model, prj, calo_events(128, 100))
    assert not r.bit_exact
    assert r.divergence is not None and r.divergence.layer == "garnet"
    assert r.divergence.max_lsb_diff >= 1


def test_vitis_backend_tiny_model_bit_exact(tmp_path):
    keras.utils.set_random_seed(3)
    x = keras.Input((12, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(3, 4, 5, simplified=False, collapse="sum", output_activation="tanh", quantized=True,
               name="garnet")([x, n])
    model = keras.Model([x, n], y)
    model.save(tmp_path / "m.keras")
    prj = convert(tmp_path / "m.keras", None, tmp_path / "prj", backend="Vitis")
    assert json.loads((prj / META_FILE).read_text())["backend"] == "vitis"
    rng = np.random.default_rng(0)
    data = {"features": rng.normal(0, 2, size=(200, 12, 3)).astype("float32"),
            "nvtx": rng.integers(0, 13, size=(200, 1)).astype("int32")}
    data["nvtx"][:3] = [[0], [1], [12]]
    assert compare(model, prj, data).bit_exact


# ------------------------------------------------------------------------------------------------
# Bad input: one clear line, non-zero exit, nothing half-written
# ------------------------------------------------------------------------------------------------
def _small_model_file(tmp_path, extra=None):
    x = keras.Input((8, 2), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(2, 3, 2, collapse="mean", quantized=True, name="garnet")([x, n])
    if extra is not None:
        y = extra(y)
    m = keras.Model([x, n], y)
    p = tmp_path / "small.keras"
    m.save(p)
    return m, p


def _cli(args, capsys):
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    return rc, err


def test_unsupported_layer_is_named(tmp_path, capsys):
    _, p = _small_model_file(tmp_path, extra=keras.layers.Reshape((3, 1), name="odd_reshape"))
    rc, err = _cli(["convert", p, "-o", tmp_path / "prj"], capsys)
    assert rc != 0 and len(err.splitlines()) == 1
    assert "odd_reshape" in err and "Reshape" in err
    assert not (tmp_path / "prj").exists()


def test_bad_config_key_lists_valid_keys(tmp_path, capsys):
    _, p = _small_model_file(tmp_path)
    cfg = tmp_path / "bad.yml"
    cfg.write_text("Part: xcku115-flvb2104-2-i\nHLSConfig:\n  LayerName:\n    garnet:\n      ReuseFactr: 4\n")
    rc, err = _cli(["convert", p, "-c", cfg, "-o", tmp_path / "prj"], capsys)
    assert rc != 0 and len(err.splitlines()) == 1
    assert "ReuseFactr" in err and "ReuseFactor" in err and "Precision" in err
    cfg.write_text("Partt: x\n")
    rc, err = _cli(["convert", p, "-c", cfg, "-o", tmp_path / "prj"], capsys)
    assert rc != 0 and "Partt" in err and "ClockPeriod" in err
    cfg.write_text("HLSConfig: [unclosed\n")
    rc, err = _cli(["convert", p, "-c", cfg, "-o", tmp_path / "prj"], capsys)
    assert rc != 0 and "not valid YAML" in err and len(err.splitlines()) == 1


def test_bad_precision_key_of_graph_layer(tmp_path):
    m, _ = _small_model_file(tmp_path)
    with pytest.raises(UserError, match="distanse.*valid keys.*distance"):
        validate_config({"HLSConfig": {"LayerName": {"garnet": {"Precision": {"distanse": "ap_fixed<8,3>"}}}}}, m)


def test_missing_and_corrupt_model_files(tmp_path, capsys):
    rc, err = _cli(["convert", tmp_path / "nope.keras", "-o", tmp_path / "prj"], capsys)
    assert rc != 0 and "does not exist" in err
    bad = tmp_path / "corrupt.keras"
    bad.write_bytes(b"\x00garbage" * 100)
    rc, err = _cli(["convert", bad, "-o", tmp_path / "prj"], capsys)
    assert rc != 0 and "cannot load model" in err and len(err.splitlines()) == 1


def test_existing_output_refused_without_force(tmp_path, capsys):
    _, p = _small_model_file(tmp_path)
    out = tmp_path / "prj"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, err = _cli(["convert", p, "-o", out], capsys)
    assert rc != 0 and "--force" in err
    assert (out / "keep.txt").read_text() == "mine"
    # --force replaces only a garnet-hls project (or an empty directory): this one is the user's
    rc, err = _cli(["convert", p, "-o", out, "--force"], capsys)
    assert rc != 0 and "not a garnet-hls project" in err
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    rc, _ = _cli(["convert", p, "-o", out, "--force"], capsys)  # empty: replaced
    assert rc == 0 and (out / META_FILE).is_file()
    (out / "stale.txt").write_text("old")
    rc, _ = _cli(["convert", p, "-o", out, "--force"], capsys)  # our project: replaced whole
    assert rc == 0 and (out / META_FILE).is_file() and not (out / "stale.txt").exists()


def test_interrupted_conversion_leaves_nothing(tmp_path, monkeypatch):
    import garnet_hls.backends.hls.convert as conv

    _, p = _small_model_file(tmp_path)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(conv, "_write_extras", boom)
    with pytest.raises(KeyboardInterrupt):
        convert(p, None, tmp_path / "prj")
    assert not (tmp_path / "prj").exists()
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith(".")] == []


def test_reuse_factor_must_divide_vertices(tmp_path):
    _, p = _small_model_file(tmp_path)
    with pytest.raises(UserError, match="ReuseFactor = 3 does not divide the 8 vertices"):
        convert(p, None, tmp_path / "prj", overrides={"HLSConfig": {"LayerName": {"garnet": {"ReuseFactor": 3}}}})
    assert not (tmp_path / "prj").exists()


def test_nvtx_out_of_range_rejected_at_api_boundary(preset_project, calo_events, tmp_path, capsys):
    from garnet_hls.physics.data import save_npz

    _, path, prj, sim = preset_project("garnet_paper")
    data = dict(calo_events(128, 20))
    data["nvtx"] = data["nvtx"].copy()
    data["nvtx"][5, 0] = 129
    with pytest.raises(UserError, match="nvtx out of range: 129"):
        sim.run(data)
    data["nvtx"][5, 0] = -1
    with pytest.raises(UserError, match="nvtx out of range: -1"):
        sim.run(data)
    # and on the command line, as one line; the data file itself is rejected when it is saved or loaded
    ok = dict(calo_events(128, 20))
    save_npz(tmp_path / "ok.npz", ok)
    rc, err = _cli(["csim", prj, "--data", tmp_path / "ok.npz", "-o", tmp_path / "out.npz"], capsys)
    assert rc == 0
    with np.load(tmp_path / "out.npz") as out:
        assert out["class_logit"].shape == (20, 1)


def test_float64_clone_is_what_keras_computes(preset_project, calo_events):
    """The comparison's reference: the float64 clone agrees with the float32 model to float32 precision."""
    model, _, _, _ = preset_project("garnet_paper")
    data = calo_events(128, 50)
    with keras_float64():
        m64 = keras_float64_clone(model)
        y64 = m64.predict([data["features"].astype("float64"), data["nvtx"]], verbose=0)
    y32 = model.predict([data["features"], data["nvtx"]], verbose=0)
    for a, b in zip(y64, y32):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_cli_compare_exit_codes(preset_project, calo_events, tmp_path, capsys):
    from garnet_hls.physics.data import save_npz

    _, path, prj, _ = preset_project("garnet_paper")
    save_npz(tmp_path / "ev.npz", calo_events(128, 60))
    rc = main(["compare", str(path), str(prj), "--data", str(tmp_path / "ev.npz"), "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "BIT-EXACT" in out and "100.0000% bit-identical" in out
    assert json.loads((tmp_path / "c.json").read_text())["bit_exact"] is True


def test_console_script_reports_user_errors_in_one_line(tmp_path):
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "garnet_hls", "csim", str(tmp_path / "nothing"), "--data", "x.npz"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("garnet-hls: error:")
    assert "does not exist" in r.stderr


def test_top_is_dataflow_so_reuse_factor_matters(preset_project):
    """A PIPELINE pragma on the top function would unroll our kernels' reuse-factor loops."""
    _, _, prj, _ = preset_project("garnet_paper")
    top = (prj / "firmware" / "myproject.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top
    assert "#pragma HLS PIPELINE" not in top


def test_fast_csim_equals_synthesis_code(preset_project, calo_events):
    """csim --fast (the GarNet kernel's integer codes in 64-bit integers) gives the very same bits as the
    default build, which runs exactly the code that is synthesized (ap_int codes): full mode with a max
    collapse, and means divided by nvtx at V = 100."""
    from conftest import assert_fast_csim_equals_default

    for name in ("garnet_full_max", "garnet_v100_nvtx"):
        model, _, prj, sim = preset_project(name)
        assert_fast_csim_equals_default(model, prj, sim, calo_events(model.inputs[0].shape[1], N_EVENTS))
