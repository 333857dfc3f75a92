"""Corrupt, truncated or partial project files, of every backend, through the real command line.

Each case: a copy of a real tiny project (V = 4) with one file broken; every command that reads that file
(csim, compare, synth, report, estimate) must exit non-zero with exactly one line on stderr that names the
broken file. The cases all fail before any compiler or synthesis tool would run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.cli import main
from garnet_hls.project import META_FILE

V = 4


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """A tiny GarNet model, a few events, and one project of each backend (written by convert)."""
    from garnet_hls.models.build import build_garnet_model
    from garnet_hls.physics.data import generate_calo, save_npz

    d = tmp_path_factory.mktemp("corrupt")
    keras.utils.set_random_seed(1)
    model = build_garnet_model(n_vertices=V, n_features=4, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=True, output_activation="tanh")
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape))
    model.save(d / "model.keras")
    save_npz(d / "events.npz", generate_calo(10, n_vertices=V, seed=3))
    for backend in ("rtl", "vivado"):
        assert main(["convert", str(d / "model.keras"), "--backend", backend, "-o", str(d / backend)]) == 0
    return d


def _cli(argv, capsys):
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    return rc, capsys.readouterr().err


def _edit_meta(change):
    def edit(prj: Path):
        meta = json.loads((prj / META_FILE).read_text())
        change(meta)
        (prj / META_FILE).write_text(json.dumps(meta))
    return edit


def _truncate(rel, keep=300):
    def edit(prj: Path):
        p = prj / rel
        p.write_text(p.read_text()[:keep])
    return edit


def _remove(rel):
    def edit(prj: Path):
        p = prj / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return edit


def _write(rel, text):
    def edit(prj: Path):
        (prj / rel).parent.mkdir(parents=True, exist_ok=True)
        (prj / rel).write_text(text)
    return edit


JSON_BAD = ("is corrupt", "is not valid JSON")  # estimate says the latter

# (id, edit, a fragment of the message besides the file's path)
META_CASES = [
    ("meta-not-json", _write(META_FILE, "{ not json"), JSON_BAD),
    ("meta-truncated", _truncate(META_FILE, 200), JSON_BAD),
    ("meta-empty", _write(META_FILE, ""), JSON_BAD),
    ("meta-missing-keys", _edit_meta(lambda m: (m.pop("outputs"), m.pop("layers"))), "outputs, layers"),
    ("meta-wrong-backend", _edit_meta(lambda m: m.update(backend="quartus")), "quartus"),
    ("meta-backend-not-a-string", _edit_meta(lambda m: m.update(backend=3)), "backend"),
    ("meta-traced-without-size", _edit_meta(lambda m: m.update(traced=[{"name": "garnet"}])), "traced"),
    ("meta-traced-not-objects", _edit_meta(lambda m: m.update(traced=[1, 2])), "traced"),
    ("meta-traced-negative-size", _edit_meta(lambda m: m.update(traced=[{"name": "g", "size": -1}])), "traced"),
    ("meta-layer-not-object", _edit_meta(lambda m: m["layers"].update(nvtx=3)), "layers"),
    ("meta-shape-not-ints", _edit_meta(lambda m: m["inputs"][0].update(shape=["four", 4])), "inputs"),
]


def _commands(backend, d, prj):
    cmds = {
        "csim": ["csim", prj, "--data", d / "events.npz"],
        "compare": ["compare", d / "model.keras", prj, "--data", d / "events.npz"],
        "report": ["report", prj],
    }
    if backend == "rtl":
        cmds["csim-verilator"] = ["csim", prj, "--data", d / "events.npz", "--verilator"]
        cmds["synth"] = ["synth", prj, "--tool", "yosys"]
    else:
        cmds["estimate"] = ["estimate", prj]
    return cmds


def _broken_copy(projects, backend, edit, tmp_path):
    prj = tmp_path / f"{backend}_prj"
    shutil.copytree(projects / backend, prj, ignore=shutil.ignore_patterns("build", "obj_dir"))
    edit(prj)
    return prj


def _check(rc, err, path, *fragments):
    assert rc not in (0, None), err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("garnet-hls: error: ") and "Traceback" not in err
    assert str(path) in lines[0], (str(path), lines[0])
    for f in fragments:  # a tuple: one of them
        assert any(a in lines[0] for a in ((f,) if isinstance(f, str) else f)), (f, lines[0])


@pytest.mark.parametrize("backend", ["rtl", "vivado"])
@pytest.mark.parametrize("edit,fragment", [c[1:] for c in META_CASES], ids=[c[0] for c in META_CASES])
def test_broken_project_metadata_is_one_line_naming_it(projects, tmp_path, capsys, backend, edit, fragment):
    prj = _broken_copy(projects, backend, edit, tmp_path)
    for name, argv in _commands(backend, projects, prj).items():
        rc, err = _cli(argv, capsys)
        _check(rc, err, prj / META_FILE, fragment)
    assert not (prj / "synth").exists() and not (prj / "build").exists()  # refused before any tool ran


def test_metadata_missing(projects, tmp_path, capsys):
    for backend in ("rtl", "vivado"):
        prj = _broken_copy(projects, backend, _remove(META_FILE), tmp_path)
        for name, argv in _commands(backend, projects, prj).items():
            if name in ("synth", "report"):  # these also take hls4ml projects: told what is missing instead
                rc, err = _cli(argv, capsys)
                assert rc != 0 and len(err.strip().splitlines()) == 1, err
                continue
            rc, err = _cli(argv, capsys)
            _check(rc, err, prj, "no garnet_project.json")
        shutil.rmtree(prj)


# RTL project files: (id, edit, file named, commands that read it)
RTL_CASES = [
    ("comb-missing", _remove("model/comb.json"), "model/comb.json", ["csim", "compare"], "missing"),
    ("comb-truncated", _truncate("model/comb.json"), "model/comb.json", ["csim", "compare"], "corrupt"),
    ("pipeline-missing", _remove("model/pipeline.json"), "model/pipeline.json", ["csim-verilator"], "missing"),
    ("pipeline-truncated", _truncate("model/pipeline.json"), "model/pipeline.json", ["csim-verilator"], "corrupt"),
    ("top-verilog-missing", _remove("src/myproject.v"), "src/myproject.v", ["synth"], "missing"),
    ("stage-verilog-missing", _remove("src/myproject_stage1.v"), "src/myproject_stage1.v", ["synth"], "missing"),
    ("src-missing", _remove("src"), "src/myproject.v", ["synth"], "missing"),
    ("memfiles-missing", _remove("src/memfiles"), "src/memfiles", ["synth"], "missing"),
    ("yosys-report-corrupt", _write("synth/yosys_report.json", '{"label": '), "synth/yosys_report.json", ["report"],
     "corrupt"),
    ("yosys-report-partial", _write("synth/yosys_report.json", '{"label": "Yosys", "summary": {"LUT": 1}}'),
     "synth/yosys_report.json", ["report"], "summary.FF"),
]


@pytest.mark.parametrize("edit,rel,commands,fragment", [c[1:] for c in RTL_CASES], ids=[c[0] for c in RTL_CASES])
def test_broken_rtl_project_file_is_one_line_naming_it(projects, tmp_path, capsys, edit, rel, commands, fragment):
    prj = _broken_copy(projects, "rtl", edit, tmp_path)
    before = sorted(p.name for p in (prj / "sim").iterdir())
    all_cmds = _commands("rtl", projects, prj)
    for name in commands:
        rc, err = _cli(all_cmds[name], capsys)
        _check(rc, err, prj / rel, fragment)
    assert sorted(p.name for p in (prj / "sim").iterdir()) == before  # Verilator did not build
    if "synth" in commands:
        assert not (prj / "synth").exists()  # Yosys did not start


HLS_CASES = [
    ("firmware-missing", _remove("firmware/myproject.cpp"), "firmware/myproject.cpp", ["csim", "compare", "estimate"]),
    ("garnet-batch-missing", _remove("garnet_batch.cpp"), "garnet_batch.cpp", ["csim", "compare"]),
    ("bridge-missing", _remove("myproject_bridge.cpp"), "myproject_bridge.cpp", ["csim", "compare"]),
]


@pytest.mark.parametrize("edit,rel,commands", [c[1:] for c in HLS_CASES], ids=[c[0] for c in HLS_CASES])
def test_broken_hls_project_file_is_one_line_naming_it(projects, tmp_path, capsys, edit, rel, commands):
    prj = _broken_copy(projects, "vivado", edit, tmp_path)
    all_cmds = _commands("vivado", projects, prj)
    for name in commands:
        rc, err = _cli(all_cmds[name], capsys)
        _check(rc, err, rel if name == "estimate" else prj / rel, "missing")
    assert not (prj / "build").exists()  # g++ did not start


def test_estimate_names_an_rtl_projects_backend(projects, capsys):
    rc, err = _cli(["estimate", projects / "rtl"], capsys)
    _check(rc, err, projects / "rtl", "estimate is for HLS projects", "is an rtl project")
