"""The input tour: every command, driven through the real command line, over a table of bad inputs.

Each bad input must end in a non-zero exit, exactly one line on stderr starting with
``garnet-hls: error:``, no traceback, and nothing half-written left behind. Config values are fuzzed
with values of the wrong type at every key. Where a real exit or signal matters (SIGTERM, two runs at
once) the tests start real processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from garnet_hls.cli import main
from garnet_hls.config import validate_config
from garnet_hls.project import META_FILE
from garnet_hls.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def run(argv, capsys):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        rc = e.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_one_line_error(rc, err, *fragments):
    assert rc not in (0, None), f"exit {rc}, stderr {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("garnet-hls: error: "), lines[0]
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"
    return lines[0]


def snapshot(directory: Path) -> dict[str, int]:
    """Every file and directory under ``directory`` (hidden ones included) with its size."""
    return {str(p.relative_to(directory)): (p.stat().st_size if p.is_file() else -1)
            for p in sorted(directory.rglob("*"))}


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ------------------------------------------------------------------------------------------------
# fixtures: one project (the paper model, shared with the other test modules), small files
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tour(preset_project, calo_events, tmp_path_factory):
    from garnet_hls.physics.data import save_npz
    from garnet_hls.models.build import build_preset_model

    model, model_path, prj, sim = preset_project("garnet_paper")
    d = tmp_path_factory.mktemp("tour")
    events = calo_events(128, 30)
    save_npz(d / "events.npz", events)
    save_npz(d / "zero.npz", {k: (v[:0] if isinstance(v, np.ndarray) and v.ndim and len(v) == 30 else v)
                              for k, v in events.items()})
    save_npz(d / "v64.npz", calo_events(64, 10))
    other = build_preset_model("gravnet_v64_l1")
    other.save(d / "v64.keras")
    (d / "a_file").write_text("not a directory\n")
    corrupt = d / "corrupt_prj"
    corrupt.mkdir()
    (corrupt / META_FILE).write_text("{ this is not json")
    listy = d / "listy_prj"
    listy.mkdir()
    (listy / META_FILE).write_text("[1, 2, 3]")
    return dict(dir=d, model=model, model_path=Path(model_path), prj=Path(prj), sim=sim,
                events=d / "events.npz", zero=d / "zero.npz", v64=d / "v64.npz", v64_model=d / "v64.keras",
                a_file=d / "a_file", corrupt=corrupt, listy=listy)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """A working directory with a file of the user's in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("the user's own file\n")
    return tmp_path


# A read-only place even for root: /proc refuses new files.
READ_ONLY = "/proc/garnet-hls-test/out"


# ------------------------------------------------------------------------------------------------
# The table: (id, argv builder, fragments of the message)
# ------------------------------------------------------------------------------------------------
def _cases():
    T = "{T}"  # replaced by the tour directory
    return [
        # data
        ("data-n-0", ["data", "calo", "-n", "0", "-o", "x.npz"], ["--events"]),
        ("data-n-negative", ["data", "calo", "-n", "-5", "-o", "x.npz"], ["--events"]),
        ("data-n-huge", ["data", "calo", "-n", "1000000000", "-o", "x.npz"], ["GiB", "at most"]),
        ("data-circles-n-huge", ["data", "circles", "-n", "4000000000", "-o", "x.npz"], ["GiB"]),
        ("data-n-not-int", ["data", "calo", "-n", "many", "-o", "x.npz"], ["invalid int"]),
        ("data-vertices-0", ["data", "calo", "--vertices", "0", "-o", "x.npz"], ["--vertices"]),
        ("data-seed-negative", ["data", "calo", "-n", "5", "--seed", "-1", "-o", "x.npz"], ["seed"]),
        ("data-o-directory", ["data", "calo", "-n", "5", "-o", "."], ["is a directory"]),
        ("data-o-under-file", ["data", "calo", "-n", "5", "-o", f"{T}/a_file/x.npz"], ["not a directory"]),
        ("data-o-read-only", ["data", "calo", "-n", "5", "-o", READ_ONLY], ["cannot write"]),
        ("data-o-empty", ["data", "circles", "-n", "5", "-o", ""], ["empty"]),
        ("data-no-kind", ["data"], []),
        # train (all refused before any training)
        ("train-epochs-0", ["train", "--epochs", "0", "-o", "run"], ["epochs"]),
        ("train-batch-0", ["train", "--batch-size", "0", "-o", "run"], ["batch size"]),
        ("train-events-0", ["train", "-n", "0", "-o", "run"], ["number of events"]),
        ("train-bits-0", ["train", "--quantized", "--bits", "0", "-o", "run"], ["weight bits"]),
        ("train-model-unknown", ["train", "--model", "mlp", "-o", "run"], ["invalid choice"]),
        ("train-data-missing", ["train", "--data", "nope.npz", "-o", "run"], ["no such file"]),
        ("train-data-zero-events", ["train", "--data", f"{T}/zero.npz", "-o", "run"], []),
        ("train-o-file", ["train", "-o", "notes.txt"], ["not a directory"]),
        ("train-o-under-file", ["train", "-o", f"{T}/a_file/run"], ["not a directory"]),
        ("train-o-read-only", ["train", "-o", READ_ONLY], ["cannot write"]),
        ("train-o-nonempty", ["train", "-o", "."], ["--force"]),
        ("train-force-cwd", ["train", "-o", ".", "--force"], ["working directory"]),
        ("train-force-parent", ["train", "-o", "..", "--force"], ["working directory"]),
        ("train-force-data-dir", ["train", "--data", f"{T}/events.npz", "-o", T, "--force"], ["input file"]),
        # convert (argument and output checks; config values are fuzzed below)
        ("convert-model-missing", ["convert", "nope.keras", "-o", "prj"], ["does not exist"]),
        ("convert-model-garbage", ["convert", "notes.txt", "-o", "prj"], ["cannot load model"]),
        ("convert-config-missing", ["convert", "{M}", "-c", "nope.yml", "-o", "prj"], ["does not exist"]),
        ("convert-force-cwd", ["convert", "{M}", "-o", ".", "--force"], ["working directory"]),
        ("convert-force-parent", ["convert", "{M}", "-o", "..", "--force"], ["working directory"]),
        ("convert-force-model-dir", ["convert", "{M}", "-o", "{MD}", "--force"], ["input file"]),
        ("convert-force-not-ours", ["convert", "{M}", "-o", T, "--force"], ["not a garnet-hls project"]),
        ("convert-exists", ["convert", "{M}", "-o", "{P}"], ["exists", "--force"]),
        ("convert-o-file", ["convert", "{M}", "-o", "notes.txt"], ["not a directory"]),
        ("convert-o-under-file", ["convert", "{M}", "-o", f"{T}/a_file/prj"], ["not a directory"]),
        ("convert-o-read-only", ["convert", "{M}", "-o", READ_ONLY], ["cannot"]),
        ("convert-rf-0", ["convert", "{M}", "--reuse-factor", "0", "-o", "prj"], ["--reuse-factor"]),
        ("convert-rf-not-divisor", ["convert", "{M}", "--reuse-factor", "3", "-o", "prj"], ["does not divide"]),
        ("convert-clock-nan", ["convert", "{M}", "--clock-period", "nan", "-o", "prj"], ["ClockPeriod"]),
        ("convert-clock-negative", ["convert", "{M}", "--clock-period", "-5", "-o", "prj"], ["ClockPeriod"]),
        ("convert-clock-zero", ["convert", "{M}", "--clock-period", "0", "-o", "prj"], ["ClockPeriod"]),
        ("convert-part-empty", ["convert", "{M}", "--part", "", "-o", "prj"], ["Part"]),
        ("convert-part-unknown", ["convert", "{M}", "--part", "my fpga", "-o", "prj"], ["Part"]),
        # csim
        ("csim-project-missing", ["csim", "nope", "--data", "{E}"], ["does not exist"]),
        ("csim-project-file", ["csim", "notes.txt", "--data", "{E}"], []),
        ("csim-not-a-project", ["csim", ".", "--data", "{E}"], ["not a garnet-hls project"]),
        ("csim-corrupt-meta", ["csim", f"{T}/corrupt_prj", "--data", "{E}"], ["corrupt"]),
        ("csim-meta-not-object", ["csim", f"{T}/listy_prj", "--data", "{E}"], ["corrupt"]),
        ("csim-data-missing", ["csim", "{P}", "--data", "nope.npz"], ["no such file"]),
        ("csim-data-garbage", ["csim", "{P}", "--data", "notes.txt"], ["not an .npz"]),
        ("csim-zero-events", ["csim", "{P}", "--data", f"{T}/zero.npz"], ["no events"]),
        ("csim-wrong-V", ["csim", "{P}", "--data", f"{T}/v64.npz"], ["shape"]),
        ("csim-n-0", ["csim", "{P}", "--data", "{E}", "-n", "0"], ["--events"]),
        ("csim-o-directory", ["csim", "{P}", "--data", "{E}", "-o", "."], ["is a directory"]),
        ("csim-o-under-file", ["csim", "{P}", "--data", "{E}", "-o", f"{T}/a_file/o.npz"], ["not a directory"]),
        ("csim-o-read-only", ["csim", "{P}", "--data", "{E}", "-o", READ_ONLY], ["cannot write"]),
        # compare
        ("compare-tolerance-nan", ["compare", "{M}", "{P}", "--data", "{E}", "--tolerance", "nan"], ["--tolerance"]),
        ("compare-tolerance-inf", ["compare", "{M}", "{P}", "--data", "{E}", "--tolerance", "inf"], ["--tolerance"]),
        ("compare-tolerance-negative", ["compare", "{M}", "{P}", "--data", "{E}", "--tolerance", "-1"],
         ["--tolerance"]),
        ("compare-json-directory", ["compare", "{M}", "{P}", "--data", "{E}", "--json", "."], ["is a directory"]),
        ("compare-json-under-file", ["compare", "{M}", "{P}", "--data", "{E}", "--json", f"{T}/a_file/c.json"],
         ["not a directory"]),
        ("compare-json-read-only", ["compare", "{M}", "{P}", "--data", "{E}", "--json", READ_ONLY],
         ["cannot write"]),
        ("compare-model-other-V", ["compare", f"{T}/v64.keras", "{P}", "--data", "{E}"], ["converted"]),
        ("compare-zero-events", ["compare", "{M}", "{P}", "--data", f"{T}/zero.npz"], ["no events"]),
        ("compare-corrupt-meta", ["compare", "{M}", f"{T}/corrupt_prj", "--data", "{E}"], ["corrupt"]),
        ("compare-data-other-V", ["compare", "{M}", "{P}", "--data", f"{T}/v64.npz"], ["shape"]),
        ("compare-model-missing", ["compare", "nope.keras", "{P}", "--data", "{E}"], ["does not exist"]),
        # synth
        ("synth-project-missing", ["synth", "nope"], ["nope", "does not exist"]),
        ("synth-not-hls4ml", ["synth", "."], ["build_prj.tcl"]),
        # report
        ("report-project-missing", ["report", "nope"], []),
        ("report-json-directory", ["report", "{P}", "--json", "."], ["is a directory"]),
        ("report-json-under-file", ["report", "{P}", "--json", f"{T}/a_file/r.json"], ["not a directory"]),
        ("report-html-read-only", ["report", "{P}", "--html", READ_ONLY], ["cannot write"]),
        ("report-no-reports", ["report", "{P}"], ["no HLS reports"]),
        # estimate
        ("estimate-project-missing", ["estimate", "nope"], ["nope", "does not exist"]),
        ("estimate-not-a-project", ["estimate", "."], ["not a garnet-hls project"]),
        # the project's backend is read from garnet_project.json first: the project contract's one line
        ("estimate-corrupt-meta", ["estimate", f"{T}/corrupt_prj"], ["garnet_project.json is corrupt"]),
        ("estimate-json-under-file", ["estimate", "{P}", "--json", f"{T}/a_file/e.json"], ["not a directory"]),
        ("estimate-plot-directory", ["estimate", "{P}", "--plot", "."], ["is a directory"]),
        ("estimate-plot-read-only", ["estimate", "{P}", "--plot", READ_ONLY + ".png"], ["cannot write"]),
        ("estimate-plot-format", ["estimate", "{P}", "--plot", "plot.xyz"], ["image format"]),
        ("estimate-reuse-junk", ["estimate", "{P}", "--reuse", "a,b"], []),
        # demo (refused before training)
        ("demo-test-events-0", ["demo", "--test-events", "0"], ["--test-events"]),
        ("demo-epochs-0", ["demo", "--epochs", "0"], ["--epochs"]),
        ("demo-preset-unknown", ["demo", "--preset", "nope"], ["unknown preset"]),
        ("demo-project-cwd", ["demo", "--project", "."], ["working directory"]),
        ("demo-project-not-ours", ["demo", "--project", T], ["not a garnet-hls project"]),
        ("demo-project-file", ["demo", "--project", "notes.txt"], ["not a directory"]),
        ("demo-output-under-file", ["demo", "--output", f"{T}/a_file/runs"], ["not a directory"]),
        ("demo-output-in-project", ["demo", "--project", "prj", "--output", "prj/runs"], ["inside --project"]),
    ]


CASES = _cases()


@pytest.mark.parametrize("argv,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(tour, cwd, capsys, argv, fragments):
    subst = {"{T}": str(tour["dir"]), "{M}": str(tour["model_path"]), "{MD}": str(tour["model_path"].parent),
             "{P}": str(tour["prj"]), "{E}": str(tour["events"])}

    def fill(a):
        for k, v in subst.items():
            a = a.replace(k, v)
        return a

    argv = [fill(a) for a in argv]
    watched = [cwd, tour["dir"], tour["model_path"].parent]
    before = [snapshot(d) for d in watched]
    rc, _, err = run(argv, capsys)
    assert_one_line_error(rc, err, *fragments)
    # nothing written, nothing removed: the working directory, the inputs and the project are as they were
    assert [snapshot(d) for d in watched] == before


# ------------------------------------------------------------------------------------------------
# Config values: every key, values of the wrong type or out of range
# ------------------------------------------------------------------------------------------------
WRONG_TYPES = [True, -1, 0, 2.5, "abc", "", [1, 2], {"a": 1}, None, float("nan")]
# per key: which of WRONG_TYPES are in fact valid there, and more bad values
KEYS = {
    # top level
    ("OutputDir",): dict(valid=["abc"], bad=[]),
    ("ProjectName",): dict(valid=["abc"], bad=["my project", "top;rm", "1top", "int", "naïve"]),
    ("Part",): dict(valid=[], bad=["my fpga", "ep4ce22", "-xc7"]),
    ("ClockPeriod",): dict(valid=[2.5], bad=[float("inf"), "5ns", "5"]),
    ("ClockUncertainty",): dict(valid=[0, 2.5], bad=["lots", "150%", "-1%", 5, 7.0, "x%"]),
    ("Backend",): dict(valid=[], bad=["Quartus", "Vivado HLS"]),
    ("IOType",): dict(valid=[], bad=["io_stream"]),
    ("Version",): dict(valid=[-1, 0, 2.5, "abc", ""], bad=[]),
    ("HLSConfig",): dict(valid=[None], bad=[]),  # an empty HLSConfig means the defaults
    # HLSConfig.Model
    ("HLSConfig", "Model"): dict(valid=[None], bad=[]),
    ("HLSConfig", "Model", "Precision"): dict(valid=[], bad=["fixed<0,0>", "fixed<16>", "fixed<16,6,RND_UP>",
                                                              "ap_fixed<16,6,AP_RND,AP_WRAPAROUND>", "int<-3>",
                                                              "fixed<2000,6>", "fixed<a,b>", "float", "auto",
                                                              {}, {"a": "fixed<8,2>"}]),
    ("HLSConfig", "Model", "ReuseFactor"): dict(valid=[], bad=["4", 3, 2.0]),
    ("HLSConfig", "Model", "Strategy"): dict(valid=[], bad=["fast", "Latent"]),
    ("HLSConfig", "Model", "BramFactor"): dict(valid=[], bad=["1e9"]),
    ("HLSConfig", "Model", "TraceOutput"): dict(valid=[True], bad=["yes", 1]),
    ("HLSConfig", "Model", "PipelineStyle"): dict(valid=[], bad=["fast"]),
    ("HLSConfig", "Model", "PipelineInterval"): dict(valid=[], bad=["1"]),
    # HLSConfig.LayerName
    ("HLSConfig", "LayerName"): dict(valid=[None], bad=[["garnet"]]),
    ("HLSConfig", "LayerName", "garnet"): dict(valid=[None], bad=[]),
    ("HLSConfig", "LayerName", "garnet", "ReuseFactor"): dict(valid=[], bad=["32", 3, 256, 32.0]),
    ("HLSConfig", "LayerName", "garnet", "Precision"): dict(valid=[], bad=["fixed<0,0>", {"kernel": "fixed<0,0>"},
                                                                            {"weight": "fixed<8,2>"}]),
    ("HLSConfig", "LayerName", "garnet", "Strategy"): dict(valid=[], bad=["Fast"]),
    ("HLSConfig", "LayerName", "garnet", "Trace"): dict(valid=[True], bad=["no"]),
    ("HLSConfig", "LayerName", "dense1", "ReuseFactor"): dict(valid=[], bad=[]),
    ("HLSConfig", "LayerName", "dense1", "Precision"): dict(valid=[], bad=[{"kernel": "fixed<8,2>"},
                                                                            {"weight": "fixed<0,1>"}]),
    # HLSConfig.LayerType
    ("HLSConfig", "LayerType"): dict(valid=[None], bad=[]),
    ("HLSConfig", "LayerType", "Dense"): dict(valid=[None], bad=[]),
    ("HLSConfig", "LayerType", "Dense", "ReuseFactor"): dict(valid=[], bad=[]),
    ("HLSConfig", "LayerType", "Dense", "Precision"): dict(valid=[], bad=["fixed<0,0>"]),
}


def _config_with(path, value):
    cfg = {"HLSConfig": {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency"}}}
    node = cfg
    for k in path[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[path[-1]] = value
    return cfg


def _fuzz_cases():
    out = []
    for path, spec in KEYS.items():
        values = [v for v in WRONG_TYPES if not any(v is w or (v == w and type(v) is type(w)) for w in spec["valid"])]
        for v in values + spec["bad"]:
            out.append(pytest.param(path, v, id=f"{'.'.join(path)}={v!r}"))
    return out


@pytest.mark.parametrize("path,value", _fuzz_cases())
def test_config_value_fuzz(tour, cwd, capsys, path, value):
    """A wrong value at any key of the config: one line naming the key, before anything is written."""
    cfg = _config_with(path, value)
    text = yaml.safe_dump(cfg, allow_unicode=True)  # NaN is written as .nan and read back as NaN
    (cwd / "bad.yml").write_text(text, encoding="utf-8")
    before = snapshot(cwd)
    rc, _, err = run(["convert", tour["model_path"], "-c", "bad.yml", "-o", "prj"], capsys)
    line = assert_one_line_error(rc, err)
    key = path[-1] if path[-1] not in ("garnet", "dense1", "Dense") else path[-2]
    assert key in line, line
    assert snapshot(cwd) == before


def test_valid_settings_are_accepted(tour):
    """The checks refuse only what is wrong: hls4ml's spellings of good values pass."""
    model = tour["model"]
    good = {
        "ProjectName": "garnet_top", "Part": "xcvu9p-flga2104-2L-e", "ClockPeriod": 3.3,
        "ClockUncertainty": "12.5%", "Backend": "Vitis", "Version": "1.0.0",
        "HLSConfig": {
            "Model": {"Precision": "ap_fixed<16,6,AP_RND_CONV,AP_SAT>", "ReuseFactor": 4, "Strategy": "resource",
                      "BramFactor": 1000000000, "TraceOutput": False, "PipelineStyle": "dataflow"},
            "LayerName": {"garnet": {"ReuseFactor": 128, "Strategy": "LATENCY",
                                     "Precision": {"output": "fixed<16,6,RND_CONV,SAT>", "kernel": "fixed<8,1>"}},
                          "dense1": {"Precision": {"weight": "fixed<8,1>", "accum": "fixed<24,10>"}}},
            "LayerType": {"Dense": {"ReuseFactor": 2, "Precision": "int<8>"}},
        },
    }
    validate_config(good, model)
    validate_config({"ClockUncertainty": 0.5, "ClockPeriod": 5}, model)
    validate_config({"Part": "xa7a100t-csg324-1Q"}, model)


def test_reuse_factor_checked_against_every_graph_layer(tour):
    """A model-wide ReuseFactor that the graph layer cannot use is refused under its own name."""
    with pytest.raises(UserError, match=r"HLSConfig.Model.ReuseFactor = 48 does not divide the 128 vertices"):
        validate_config({"HLSConfig": {"Model": {"ReuseFactor": 48}}}, tour["model"])
    # a layer's own factor overrides the model's
    validate_config({"HLSConfig": {"Model": {"ReuseFactor": 48}, "LayerName": {"garnet": {"ReuseFactor": 16}}}},
                    tour["model"])


def test_config_file_problems(tour, cwd, capsys):
    m = tour["model_path"]
    cases = {
        "latin1.yml": ("Part: xcku115\n# caf\xe9\n".encode("latin-1"), "not UTF-8"),
        "list.yml": (b"- OutputDir: x\n", "mapping"),
        "yaml.yml": (b"HLSConfig: {Model: [\n", "not valid YAML"),
        "layername_list.yml": (b"HLSConfig:\n  LayerName:\n    - garnet\n", "HLSConfig.LayerName must be a mapping"),
        "int_key.yml": (b"1: 2\n", "unknown key 1"),
        "unknown_layer.yml": (b"HLSConfig:\n  LayerName:\n    nolayer: {ReuseFactor: 2}\n", "not a layer"),
    }
    for name, (content, fragment) in cases.items():
        (cwd / name).write_bytes(content)
        before = snapshot(cwd)
        rc, _, err = run(["convert", m, "-c", name, "-o", "prj"], capsys)
        assert_one_line_error(rc, err, fragment)
        assert snapshot(cwd) == before


# ------------------------------------------------------------------------------------------------
# Estimate: the part and clock come from the project's hls4ml_config.yml, never guessed
# ------------------------------------------------------------------------------------------------
def _project_copy(tour, tmp_path):
    dst = tmp_path / "prj"
    shutil.copytree(tour["prj"], dst, ignore=shutil.ignore_patterns("build"))
    return dst


@pytest.mark.parametrize("edit,fragment", [
    (lambda t: t.replace("xcku115-flvb2104-2-i", "ep4ce22f17c6"), "unknown to the estimator"),
    (lambda t: t.replace("xcku115-flvb2104-2-i", "xc3s500e-4fg320"), "unknown to the estimator"),
    (lambda t: t.replace("Part: xcku115-flvb2104-2-i", "Part: ''"), "names no Part"),
    (lambda t: t.replace("ClockPeriod: 5", "ClockPeriod: -5"), "ClockPeriod"),
    (lambda t: t.replace("ClockPeriod: 5", "ClockPeriod: .nan"), "ClockPeriod"),
    (lambda t: t.replace("ClockUncertainty: 12.5%", "ClockUncertainty: lots"), "ClockUncertainty"),
    (None, "hls4ml_config.yml"),
], ids=["intel-part", "spartan3-part", "empty-part", "negative-clock", "nan-clock", "junk-uncertainty", "missing"])
def test_estimate_refuses_unknown_part_and_bad_clock(tour, tmp_path, capsys, edit, fragment):
    prj = _project_copy(tour, tmp_path)
    cfg = prj / "hls4ml_config.yml"
    if edit is None:
        cfg.unlink()
    else:
        text = cfg.read_text()
        new = edit(text)
        assert new != text, "the edit must change the config"
        cfg.write_text(new)
    rc, out, err = run(["estimate", prj], capsys)
    assert_one_line_error(rc, err, fragment)
    assert out == ""


def test_estimate_writes_outputs_it_was_asked_for(tour, tmp_path, capsys):
    """The shared writer: --json and --plot land, with the user's umask permissions, no temp files left."""
    rc, out, err = run(["estimate", tour["prj"], "--json", tmp_path / "sub" / "e.json", "--plot",
                        tmp_path / "sub" / "e.png"], capsys)
    assert rc == 0, err
    data = json.loads((tmp_path / "sub" / "e.json").read_text())
    assert data["estimated_part"] == "xcku115-flvb2104-2-i"
    assert (tmp_path / "sub" / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["e.json", "e.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "sub" / "e.json").stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------------------------------------------
# --force on a project of ours still works, and replaces it whole
# ------------------------------------------------------------------------------------------------
def _small_model(path):
    import tf_keras as keras

    from garnet_hls.layers import GarNet

    x = keras.Input((8, 2), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(2, 3, 2, collapse="mean", quantized=True, name="garnet")([x, n])
    keras.Model([x, n], y).save(path)
    return path


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    return _small_model(tmp_path_factory.mktemp("small") / "small.keras")


def _umask_mode(directory=False):
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_get_the_users_permissions(cwd, capsys, umask):
    """Data files are written through a temporary file, but end with the mode the umask gives any new file."""
    old = os.umask(umask)
    try:
        rc, _, err = run(["data", "circles", "-n", "3", "-o", "c.npz"], capsys)
        assert rc == 0, err
        assert (cwd / "c.npz").stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(old)


def test_force_replaces_only_our_project(small_model, cwd, capsys):
    rc, _, err = run(["convert", small_model, "-o", "prj"], capsys)
    assert rc == 0, err
    (cwd / "prj" / "stale.txt").write_text("from an older conversion")
    rc, _, err = run(["convert", small_model, "-o", "prj", "--force"], capsys)
    assert rc == 0, err
    assert (cwd / "prj" / META_FILE).is_file() and not (cwd / "prj" / "stale.txt").exists()
    assert sorted(p.name for p in cwd.iterdir()) == ["notes.txt", "prj"]  # no temporary left beside it
    assert (cwd / "prj").stat().st_mode & 0o777 == _umask_mode(directory=True)  # not mkdtemp's 0700
    # the model inside the project directory: --force must not delete its own input
    shutil.copy(small_model, cwd / "prj" / "model.keras")
    rc, _, err = run(["convert", cwd / "prj" / "model.keras", "-o", "prj", "--force"], capsys)
    assert_one_line_error(rc, err, "input file")
    assert (cwd / "prj" / "model.keras").is_file()


# ------------------------------------------------------------------------------------------------
# Races and signals: real processes
# ------------------------------------------------------------------------------------------------
def _garnet_hls(args, cwd, **kw):
    return subprocess.Popen([sys.executable, "-m", "garnet_hls", *map(str, args)], cwd=cwd, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_two_converts_without_force_exactly_one_wins(small_model, tmp_path):
    procs = [_garnet_hls(["convert", small_model, "-o", "prj"], tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 1], results
    loser = next(r for r in results if r[0] == 1)
    assert_one_line_error(1, loser[2], "exists", "--force")
    assert (tmp_path / "prj" / META_FILE).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]


def test_sigterm_during_convert_leaves_nothing(tour, tmp_path):
    """SIGTERM while the project is being written: exit 143, no .prj.partial-*, no placeholder."""
    p = _garnet_hls(["convert", tour["model_path"], "-o", "prj"], tmp_path)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        if any(q.name.startswith(".prj.partial-") for q in tmp_path.iterdir()):
            break
        time.sleep(0.005)
    assert p.poll() is None, "convert finished before the test could interrupt it"
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=120)
    _, err = p.communicate()
    assert rc == 128 + signal.SIGTERM, err
    assert "garnet-hls: terminated" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


SLEEPER = r'''#!{python}
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open({pidfile!r}, "w") as f:
    f.write(f"{{os.getpid()}} {{child.pid}}")
print("INFO: [HLS 200-10] Running synthesis", flush=True)
time.sleep(600)
'''


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_synth_stops_the_whole_tool(tmp_path, sig):
    prj = tmp_path / "prj"
    prj.mkdir()
    (prj / "hls4ml_config.yml").write_text("Backend: Vivado\nProjectName: myproject\n")
    (prj / "build_prj.tcl").write_text("# stand-in\n")
    pidfile = tmp_path / "pids"
    tool = tmp_path / "vivado_hls"
    tool.write_text(SLEEPER.format(python=sys.executable, pidfile=str(pidfile)))
    tool.chmod(0o755)
    env = subprocess_env()
    env["GARNET_HLS_VIVADO_HLS"] = str(tool)
    # a user's Ctrl-C reaches a tool whose SIGINT has its default disposition. An ignored SIGINT is inherited
    # across exec (a shell's background job, or a library in this pytest process: in two full-suite runs the
    # SIGINT case timed out here while it passed alone), and a tool started so rightly keeps ignoring it.
    p = subprocess.Popen([sys.executable, "-m", "garnet_hls", "synth", str(prj)], env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and not (pidfile.is_file() and " " in pidfile.read_text()):
        assert p.poll() is None, p.communicate()
        time.sleep(0.05)
    tool_pid, child_pid = map(int, pidfile.read_text().split())
    assert _alive(tool_pid) and _alive(child_pid)
    p.send_signal(sig)
    rc = p.wait(timeout=60)
    _, err = p.communicate()
    assert rc == 128 + sig, err
    assert "Traceback" not in err
    for _ in range(100):  # the killed processes are reaped by init
        if not (_alive(tool_pid) or _alive(child_pid)):
            break
        time.sleep(0.05)
    assert not _alive(tool_pid) and not _alive(child_pid)
    log = (prj / "synth.log").read_text()
    assert log.rstrip().endswith("# terminated" if sig == signal.SIGTERM else "# interrupted by the user")


def _tiny_project(prj: Path) -> Path:
    """The files csim's build reads, with trivial sources: the race is in the build directory, not in g++."""
    (prj / "firmware").mkdir(parents=True)
    (prj / META_FILE).write_text(json.dumps({"project_name": "tiny", "inputs": [], "outputs": [], "traced": [],
                                             "layers": {}}))
    (prj / "firmware" / "tiny.h").write_text("int tiny(int x);\n")
    (prj / "firmware" / "tiny.cpp").write_text('#include "tiny.h"\nint tiny(int x) { return 2 * x; }\n')
    (prj / "tiny_bridge.cpp").write_text('#include "firmware/tiny.h"\nextern "C" int bridge(int x) { return tiny(x); }\n')
    (prj / "garnet_batch.cpp").write_text('#include "firmware/tiny.h"\n'
                                          'extern "C" int garnet_batch(int n) { return tiny(n) + 1; }\n')
    return prj


def test_two_csim_builds_of_one_unbuilt_project(tmp_path):
    """Two builds of the same project at once (two `garnet-hls csim`): both succeed, one library, no temps."""
    import ctypes

    from garnet_hls.backends.hls.csim import build

    prj = _tiny_project(tmp_path / "prj")
    for _ in range(3):  # a few rounds: the two builds overlap in different phases
        shutil.rmtree(prj / "build", ignore_errors=True)
        results, errors = [], []
        barrier = threading.Barrier(2)

        def one():
            try:
                barrier.wait()
                results.append(build(prj))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(results) == 2 and results[0] == results[1]
        assert [p.name for p in (prj / "build").iterdir()] == [results[0].name]
    assert ctypes.CDLL(str(results[0])).garnet_batch(20) == 41


def test_file_system_errors_and_memory_end_in_one_line(monkeypatch, capsys):
    """What the file system or the machine refuses mid-run (full disk, no memory) is one line, not a traceback."""
    import errno

    import garnet_hls.flows.data as gdata  # the data command, which calls the generator

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "runs/x/model.keras")

    def no_memory(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(gdata, "generate_circles", full_disk)
    rc, _, err = run(["data", "circles", "-n", "5", "-o", "/tmp/never-written.npz"], capsys)
    assert_one_line_error(rc, err, "runs/x/model.keras", "No space left on device")
    monkeypatch.setattr(gdata, "generate_circles", no_memory)
    rc, _, err = run(["data", "circles", "-n", "5", "-o", "/tmp/never-written.npz"], capsys)
    assert_one_line_error(rc, err, "out of memory")
    assert not Path("/tmp/never-written.npz").exists()


def test_sigterm_handler_only_while_a_command_runs(monkeypatch, capsys):
    """main() turns SIGTERM into a clean stop during the command and gives the old handler back after it."""
    import garnet_hls.cli as cli

    before = signal.getsignal(signal.SIGTERM)
    rc, _, _ = run(["data", "circles", "-n", "1", "-o", "/proc/x.npz"], capsys)
    assert rc == 1 and signal.getsignal(signal.SIGTERM) is before
    seen = []

    def command(args):
        seen.append(signal.getsignal(signal.SIGTERM))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # interrupted by the handler
        return 0

    real_parser = cli.build_parser

    def parser_with_command():
        parser = real_parser()
        for action in parser._subparsers._group_actions:
            action.choices["report"].set_defaults(func=command)
        return parser

    monkeypatch.setattr(cli, "build_parser", parser_with_command)
    t0 = time.time()
    rc, _, err = run(["report", "."], capsys)
    assert rc == 128 + signal.SIGTERM and err.strip() == "garnet-hls: terminated" and time.time() - t0 < 20
    assert seen and seen[0] is not before and signal.getsignal(signal.SIGTERM) is before
