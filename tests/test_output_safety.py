"""Output safety: one path for every command that writes, and every backend (garnet_hls/paths.py).

``convert --force`` replaces only a previous garnet-hls project (of any backend), never a directory of the
user's, the working directory or one of its parents, or the directory holding the model or config; a
conversion that fails leaves no new directory, no ``.partial`` temporary, and the project it was to replace
untouched; a new project's files follow the umask. The same rules for the other commands that write:
each checks its output before the slow work, writes atomically, and never replaces a user's directory.

Everything runs the real command line (garnet_hls.cli.main) on a tiny GarNet model (V = 4).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.cli import main
from garnet_hls.project import META_FILE

V = 4
BACKENDS = ["rtl", "vivado"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny GarNet model, its events, and a pristine project of each backend to copy."""
    from garnet_hls.models.build import build_garnet_model
    from garnet_hls.physics.data import generate_calo, save_npz

    d = tmp_path_factory.mktemp("safety")
    keras.utils.set_random_seed(1)
    model = build_garnet_model(n_vertices=V, n_features=4, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=True, output_activation="tanh")
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape))
    model.save(d / "model.keras")
    save_npz(d / "events.npz", generate_calo(10, n_vertices=V, seed=3))
    for b in BACKENDS:
        assert main(["convert", str(d / "model.keras"), "--backend", b, "-o", str(d / f"prj_{b}")]) == 0
    return d


def run(argv, capsys):
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def one_line_error(rc, err, *fragments):
    assert rc not in (0, None), f"exit {rc}, stderr {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("garnet-hls: error: ") and "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def snapshot(directory: Path) -> dict:
    """Every file and directory under ``directory`` (hidden ones too) with its size and modification time."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
            for p in sorted(directory.rglob("*"))}


def project_copy(tiny, backend, dest: Path) -> Path:
    shutil.copytree(tiny / f"prj_{backend}", dest, ignore=shutil.ignore_patterns("build", "obj_dir"))
    return dest


def backend_of(prj: Path) -> str:
    return json.loads((prj / META_FILE).read_text())["backend"]


# ------------------------------------------------------------------------------------------------
# convert --force: what it refuses to replace
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_force_refuses_a_directory_of_user_files(tiny, tmp_path, capsys, backend):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("the user's own work\n")
    (out / "data").mkdir()
    (out / "data" / "x.csv").write_text("1,2\n")
    before, beside = snapshot(tmp_path), sorted(os.listdir(tmp_path))
    rc, _, err = run(["convert", tiny / "model.keras", "--backend", backend, "-o", out, "--force"], capsys)
    one_line_error(rc, err, "refuses to replace", "not a garnet-hls project")
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == beside


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_refuses_the_working_directory_and_its_parents(tiny, tmp_path, capsys, monkeypatch, backend):
    """Even when the working directory is itself a garnet-hls project: -o . and -o .. are refused."""
    prj = project_copy(tiny, backend, tmp_path / "prj")
    (prj / "sub").mkdir()
    before = snapshot(tmp_path)
    monkeypatch.chdir(prj)
    rc, _, err = run(["convert", tiny / "model.keras", "--backend", backend, "-o", ".", "--force"], capsys)
    one_line_error(rc, err, "working directory")
    monkeypatch.chdir(prj / "sub")
    rc, _, err = run(["convert", tiny / "model.keras", "--backend", backend, "-o", "..", "--force"], capsys)
    one_line_error(rc, err, "working directory")
    rc, _, err = run(["convert", tiny / "model.keras", "--backend", backend, "-o", tmp_path, "--force"], capsys)
    one_line_error(rc, err, "working directory")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_force_refuses_the_directory_holding_the_model_or_config(tiny, tmp_path, capsys, backend):
    prj = project_copy(tiny, backend, tmp_path / "prj")  # a project of ours: only the input rule protects it
    shutil.copy(tiny / "model.keras", prj / "model.keras")
    before = snapshot(tmp_path)
    rc, _, err = run(["convert", prj / "model.keras", "--backend", backend, "-o", prj, "--force"], capsys)
    one_line_error(rc, err, "input file", "model.keras")
    (prj / "model.keras").unlink()
    (prj / "cfg.yml").write_text("ClockPeriod: 5\n")
    before = snapshot(tmp_path)
    rc, _, err = run(["convert", tiny / "model.keras", "-c", prj / "cfg.yml", "--backend", backend, "-o", prj,
                      "--force"], capsys)
    one_line_error(rc, err, "input file", "cfg.yml")
    rc, _, err = run(["convert", tiny / "model.keras", "-c", prj / "cfg.yml", "--backend", backend, "-o",
                      tmp_path, "--force"], capsys)  # a parent of the config's directory
    one_line_error(rc, err, "input file", "cfg.yml")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------------
# convert --force: what it replaces, whole, of either backend
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("old,new", [(a, b) for a in BACKENDS for b in BACKENDS])
def test_force_replaces_a_previous_project_of_either_backend(tiny, tmp_path, capsys, old, new):
    out = project_copy(tiny, old, tmp_path / "prj")
    (out / "stale.txt").write_text("from an older conversion")
    rc, _, err = run(["convert", tiny / "model.keras", "--backend", new, "-o", out, "--force"], capsys)
    assert rc == 0, err
    assert backend_of(out) == new and not (out / "stale.txt").exists()
    assert (out / ("model/comb.json" if new == "rtl" else "firmware/myproject.cpp")).is_file()
    assert not (out / ("firmware" if new == "rtl" else "model")).exists()  # nothing of the old one is left
    assert os.listdir(tmp_path) == ["prj"]  # no temporary or old copy beside it
    for p in out.rglob("*"):  # nothing refers to the temporary directory it was written in
        if p.is_file() and p.stat().st_size < 2_000_000:
            assert b".partial-" not in p.read_bytes(), p


@pytest.mark.parametrize("backend", BACKENDS)
def test_output_is_refused_before_the_model_is_read(tmp_path, capsys, backend):
    """The model does not exist: the output directory (a user's) is the error, found first."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    rc, _, err = run(["convert", tmp_path / "nope.keras", "--backend", backend, "-o", out, "--force"], capsys)
    one_line_error(rc, err, "not a garnet-hls project")


# ------------------------------------------------------------------------------------------------
# a conversion that fails leaves nothing new, and what it was to replace untouched
# ------------------------------------------------------------------------------------------------
def _inject_failure(monkeypatch, backend):
    """An exception raised by the backend's own convert, after it wrote most of the project."""
    if backend == "rtl":
        import garnet_hls.backends.rtl.project as target

        name = "project_meta"  # after da4ml wrote the Verilog and the traced logic
    else:
        import garnet_hls.backends.hls.convert as target

        name = "_write_extras"  # after hls4ml wrote the firmware

    def boom(*a, **k):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(target, name, boom)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_failing_backend_convert_leaves_nothing(tiny, tmp_path, capsys, monkeypatch, backend, existing):
    out = tmp_path / "prj"
    if existing:
        project_copy(tiny, "vivado" if backend == "rtl" else "rtl", out)  # the other backend's project
    before = snapshot(tmp_path)
    _inject_failure(monkeypatch, backend)
    with pytest.raises(RuntimeError, match="injected failure"):
        main(["convert", str(tiny / "model.keras"), "--backend", backend, "-o", str(out), "--force"])
    assert snapshot(tmp_path) == before  # no .partial, no placeholder, the old project as it was
    assert not any(".partial-" in p.name or ".old-" in p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_config_error_after_the_model_loaded_leaves_nothing(tiny, tmp_path, capsys, backend, existing):
    cfg = tmp_path / "cfg.yml"
    cfg.write_text("HLSConfig:\n  LayerName:\n    no_such_layer:\n      Precision: ap_fixed<8,3>\n")
    out = tmp_path / "prj"
    if existing:
        project_copy(tiny, backend, out)
    before = snapshot(tmp_path)
    rc, _, err = run(["convert", tiny / "model.keras", "-c", cfg, "--backend", backend, "-o", out, "--force"],
                     capsys)
    one_line_error(rc, err, "no_such_layer", "not a layer of the model")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------------------
# permissions follow the umask, also of the files a backend copies from an installation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_project_permissions_follow_the_umask(tiny, tmp_path, capsys, backend):
    out = tmp_path / "prj"
    old = os.umask(0o027)
    try:
        rc, _, err = run(["convert", tiny / "model.keras", "--backend", backend, "-o", out], capsys)
    finally:
        os.umask(old)
    assert rc == 0, err
    named = {"rtl": ["src", "src/memfiles", "src/static", "model", "garnet_project.json", "src/myproject.v",
                     "model/comb.json", "model/pipeline.json", "build_vivado_prj.tcl"],
             "vivado": ["firmware", "firmware/ap_types", "firmware/weights", "garnet_project.json",
                        "firmware/myproject.cpp", "garnet_batch.cpp", "build_prj.tcl", "firmware/ap_types/ap_int.h"]}
    assert (out.stat().st_mode & 0o777) == 0o750
    for rel in named[backend]:
        p = out / rel
        assert (p.stat().st_mode & 0o777) == (0o750 if p.is_dir() else 0o640), (rel, oct(p.stat().st_mode))
    for p in out.rglob("*"):  # nothing readable by others, nothing group-writable
        if not p.is_symlink():
            assert p.stat().st_mode & 0o027 == 0, (p, oct(p.stat().st_mode))


# ------------------------------------------------------------------------------------------------
# The other commands that write
# ------------------------------------------------------------------------------------------------
def test_data_failing_write_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    """data -o writes through a temporary file: a failure while writing leaves the old file as it was."""
    out = tmp_path / "events.npz"
    out.write_bytes(b"the user's earlier events")

    def boom(*a, **k):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(np, "savez", boom)
    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        main(["data", "circles", "-n", "3", "-o", str(out)])
    assert out.read_bytes() == b"the user's earlier events"
    assert os.listdir(tmp_path) == ["events.npz"]


def test_train_force_refuses_a_directory_of_user_files(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's own file\n")
    before = snapshot(tmp_path)
    rc, _, err = run(["train", "--vertices", "4", "-n", "20", "--epochs", "1", "-o", out, "--force"], capsys)
    one_line_error(rc, err, "refuses to replace", "not a garnet-hls training run")
    assert snapshot(tmp_path) == before


def test_failing_training_leaves_no_directory(tmp_path, capsys, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(keras.Model, "fit", boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        main(["train", "--vertices", "4", "-n", "20", "--epochs", "1", "-q", "-o", str(tmp_path / "run")])
    assert os.listdir(tmp_path) == []  # no run, no .run.tmp-


def test_sweep_refuses_a_directory_of_user_files_before_reading_anything(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.txt").write_text("the user's own results\n")
    before = snapshot(tmp_path)
    # the model does not exist: the sweep directory is refused first
    rc, _, err = run(["sweep", tmp_path / "nope.keras", "--reuse", "1", "-o", out], capsys)
    one_line_error(rc, err, "not a garnet-hls sweep", str(out))
    assert snapshot(tmp_path) == before
    rc, _, err = run(["sweep", tmp_path / "nope.keras", "--reuse", "1", "-o", out / "results.txt"], capsys)
    one_line_error(rc, err, "not a directory")


def test_sweep_that_fails_to_start_leaves_no_directory(tiny, tmp_path, capsys):
    rc, _, err = run(["sweep", tiny / "model.keras", "--reuse", "1", "-n", "5", "--workers", "0",
                      "-o", tmp_path / "sweep"], capsys)
    one_line_error(rc, err, "--workers")
    assert os.listdir(tmp_path) == []


def test_sweep_writes_its_files_atomically_with_the_umask(tmp_path):
    from garnet_hls.flows.sweep_report import _atomic_write, write_plot

    old = os.umask(0o027)
    try:
        _atomic_write(tmp_path / "s" / "results.json", "{}\n")
        res = {"sweep": {"model": "m.keras", "capacity": None}, "points": []}
        write_plot(res, tmp_path / "s" / "sweep.png")
    finally:
        os.umask(old)
    assert sorted(os.listdir(tmp_path / "s")) == ["results.json", "sweep.png"]  # no temporaries
    for name in ("results.json", "sweep.png"):
        assert (tmp_path / "s" / name).stat().st_mode & 0o777 == 0o640, name


@pytest.fixture(scope="module")
def other_v_events(tiny):
    from garnet_hls.physics.data import generate_calo, save_npz

    save_npz(tiny / "v8.npz", generate_calo(5, n_vertices=8, seed=4))
    return tiny / "v8.npz"


@pytest.mark.parametrize("backend", BACKENDS)
def test_failing_csim_and_compare_write_nothing(tiny, other_v_events, tmp_path, capsys, backend):
    """The events do not fit the project (V = 8, not 4): found after the simulator is built; no -o / --json file,
    not even its directory."""
    prj = tiny / f"prj_{backend}"
    rc, _, err = run(["csim", prj, "--data", other_v_events, "-o", tmp_path / "sub" / "out.npz"], capsys)
    one_line_error(rc, err, "shape")
    rc, _, err = run(["compare", tiny / "model.keras", prj, "--data", other_v_events, "--json",
                      tmp_path / "sub" / "c.json"], capsys)
    one_line_error(rc, err, "shape")
    assert os.listdir(tmp_path) == []


def test_report_json_of_an_rtl_project(tiny, tmp_path, capsys):
    """A refused flag: one line and no file; no synthesis yet: the schedule alone; with a Yosys report: the JSON,
    with the umask's mode."""
    prj = project_copy(tiny, "rtl", tmp_path / "prj")
    rc, _, err = run(["report", prj, "--html", tmp_path / "r.html"], capsys)
    one_line_error(rc, err, "--html")
    assert sorted(os.listdir(tmp_path)) == ["prj"]
    rc, out, err = run(["report", prj, "--json", tmp_path / "s.json"], capsys)
    assert rc == 0 and "No synthesis reports yet" in out, err
    doc = json.loads((tmp_path / "s.json").read_text())
    meta = json.loads((prj / "garnet_project.json").read_text())
    assert doc["yosys"] is None and doc["schedule"]["latency_cycles"] == meta["latency_cycles"]
    (tmp_path / "s.json").unlink()
    summary = {"LUT": 10, "LUT_by_size": {"LUT6": 10}, "FF": 5, "CARRY": 0, "DSP": 0, "BRAM": 0, "MUXF": 0,
               "MUXF_by_size": {}}
    (prj / "synth").mkdir()
    (prj / "synth" / "yosys_report.json").write_text(json.dumps(
        {"label": "Yosys, before place and route", "family": "xcup", "summary": summary, "seconds": 1.0,
         "latency_cycles": 11, "interval_cycles": 1, "clock_period_ns": 5.0}))
    old = os.umask(0o027)
    try:
        rc, out, err = run(["report", prj, "--json", tmp_path / "r.json"], capsys)
    finally:
        os.umask(old)
    assert rc == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["yosys"]["summary"]["LUT"] == 10
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["prj", "r.json"]


def test_estimate_of_an_rtl_project_writes_nothing(tiny, tmp_path, capsys):
    rc, _, err = run(["estimate", tiny / "prj_rtl", "--json", tmp_path / "e.json", "--plot", tmp_path / "e.png"],
                     capsys)
    one_line_error(rc, err, "HLS projects")
    assert os.listdir(tmp_path) == []


def test_demo_refuses_a_users_run_directory_before_anything(tmp_path, capsys, monkeypatch):
    """demo replaces OUTPUT/PRESET (a training run): a directory of the user's there is refused, and nothing
    (events file, project) is written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "garnet_paper").mkdir(parents=True)
    (tmp_path / "runs" / "garnet_paper" / "notes.txt").write_text("the user's own file\n")
    before = snapshot(tmp_path)
    rc, _, err = run(["demo", "--output", "runs", "--project", "prj"], capsys)
    one_line_error(rc, err, "not a garnet-hls training run")
    assert snapshot(tmp_path) == before


def test_failing_demo_leaves_no_new_directory(tmp_path, capsys, monkeypatch):
    import garnet_hls.physics.train as train

    def boom(*a, **k):
        raise RuntimeError("injected failure")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(train, "train", boom)  # after the demo wrote its test events
    with pytest.raises(RuntimeError, match="injected failure"):
        main(["demo", "--output", "runs/demo", "--project", "prj", "--test-events", "5", "--quiet"])
    assert os.listdir(tmp_path) == []
