"""Quiet sweeps: the terminal shows our progress, our table and real problems; what the workers print stays in
SWEEP_DIR/logs.

One real ``garnet-hls sweep`` in a fresh process (its own LocalCluster, one worker process, nothing mocked) on a
tiny quantized GarNet: TensorFlow, tf_keras, QKeras and hls4ml are imported and run in the worker, and
before issue #21 their warnings (compiled metrics, HDF5 legacy, serialize() UserWarnings) reached the terminal.
"""

import json
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from garnet_hls.flows.sweep_quiet import captured_output, quiet_libraries

ROOT = Path(__file__).resolve().parents[1]
NOISE = re.compile(r"warning|absl|tensorflow|hdf5|deprecat|traceback|cuda|oneDNN", re.IGNORECASE)


def test_captured_output_takes_python_native_and_child_output(capfd, tmp_path):
    log = tmp_path / "point.log"
    with captured_output(log):
        print("python stdout")
        sys.stderr.write("python stderr\n")
        os.write(1, b"fd 1\n")
        os.write(2, b"fd 2\n")
        subprocess.run(["sh", "-c", "echo child stdout; echo child stderr >&2"], check=True)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    text = log.read_text()
    for s in ("python stdout", "python stderr", "fd 1", "fd 2", "child stdout", "child stderr"):
        assert s in text, s
    print("after")  # the terminal is back
    assert capfd.readouterr().out == "after\n"


def test_quiet_libraries_mutes_the_known_chatter(capfd, tmp_path):
    import tf_keras as keras
    from qkeras import quantized_bits

    q = quantized_bits(4, 0, alpha=1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        keras.constraints.serialize(q)  # tf_keras: "should only be used for objects of type Constraint"
    assert [w for w in seen if "serialize()" in str(w.message)]  # what a worker printed before #21
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_libraries()
        keras.constraints.serialize(q)
    assert not [w for w in seen if "serialize()" in str(w.message)]
    logging.getLogger("tensorflow").warning("Compiled the loaded model, but ...")
    assert "Compiled" not in capfd.readouterr().err


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import tf_keras as keras

    from garnet_hls.models.build import build_garnet_model

    keras.utils.set_random_seed(5)
    model = build_garnet_model(n_vertices=8, aggregators=(2,), filters=(2,), propagate=(2,), dense=(4,),
                               quantized=True, weight_bits=8)
    rng = np.random.default_rng(6)
    for w in model.weights:
        w.assign(rng.normal(0, 0.4, w.shape))
    d = tmp_path_factory.mktemp("quiet")
    model.save(d / "tiny.h5")  # .h5: the legacy format, whose loading is one of the noisy paths
    return d / "tiny.h5"


def test_sweep_terminal_shows_only_progress_table_and_recommendation(tiny_model, tmp_path):
    out = tmp_path / "sw"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    for var in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL", "PYTHONWARNINGS"):
        env.pop(var, None)  # no help from the environment: the sweep must quiet its workers itself
    r = subprocess.run([sys.executable, "-m", "garnet_hls", "sweep", str(tiny_model), "--reuse", "2",
                        "--precision", "w4", "--backend", "rtl", "--workers", "1", "-n", "40", "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    terminal = r.stdout + r.stderr
    assert r.returncode == 0, terminal
    assert not NOISE.search(terminal), terminal
    lines = r.stdout.splitlines()
    assert lines[0] == f"sweep: 1 point (0 already done) in {out}"
    assert lines[1].split()[:5] == ["R", "precision", "backend", "status", "bit-exact"]
    assert set(lines[2]) == {"-", " "}
    assert lines[3].split()[:5] == ["2", "w4", "rtl", "ok", "yes"]
    assert lines[-1] == "no recommendation: no finished point has resource figures (an rtl point has them with " \
                        "--synth yosys)"
    # stderr: the progress bar and nothing else
    bar = [seg for seg in re.split(r"[\r\n]+", r.stderr) if seg.strip()]
    assert bar and all(seg.startswith("sweep:") for seg in bar), r.stderr
    res = json.loads((out / "results.json").read_text())
    for p in res["points"]:
        assert p["status"] == "ok" and p["log_file"] == f"logs/{p['key']}.log"
        assert (out / p["log_file"]).is_file()
        assert "log" not in json.loads((out / "points" / f"{p['key']}.json").read_text())
