"""``garnet-hls train --keras 3`` (HGQ2's per-element widths and EBOPs regularisation) and the fuzzer's Keras 3
mode, each in a Keras 3 process of its own (this test process is tf_keras): the command line trains a tiny
GravNet preset with --beta0 and a large learning rate, so that the resource loss visibly narrows the widths;
tests/keras3_flows_child.py then runs the fuzzer's command line with --keras 3, loads, converts and compares
the trained model, and runs fuzz cases (exact, refused, HLS, and one with a broken emulator)."""

import garnet_hls  # noqa: F401  -- must come first: sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from garnet_hls.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_USE_LEGACY_KERAS", None)  # import garnet_hls set it in this (Keras 2) process
    return env


@pytest.fixture(scope="module")
def keras3_flows(tmp_path_factory):
    d = tmp_path_factory.mktemp("k3flows")
    r = subprocess.run([sys.executable, "-m", "garnet_hls", "train", "--keras", "3", "--preset", "gravnet_rtl_v32",
                        "-n", "256", "--epochs", "3", "--batch-size", "32", "--learning-rate", "0.1",
                        "--beta0", "1e-4", "-o", str(d / "run"), "-q"],
                       env=_env(), cwd=d, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((d / "run" / "metrics.json").read_text())
    r2 = subprocess.run([sys.executable, str(ROOT / "tests" / "keras3_flows_child.py"), str(d)], env=_env(),
                        cwd=d, capture_output=True, text=True, timeout=900)
    assert r2.returncode == 0, r2.stderr[-3000:]
    return d, r.stdout, metrics, json.loads((d / "checks.json").read_text())


def test_train_keras3_writes_a_keras3_model_with_ebops(keras3_flows):
    d, stdout, metrics, _ = keras3_flows
    with zipfile.ZipFile(d / "run" / "model.keras") as z:
        assert json.loads(z.read("metadata.json"))["keras_version"].startswith("3.")
    assert metrics["keras_version"] == 3 and metrics["beta0"] == 1e-4 and metrics["quantized"]
    ebops = metrics["history"]["ebops"]
    assert len(ebops) == 3 and metrics["ebops"] == ebops[-1] > 0
    assert ebops[-1] < ebops[0]  # the resource loss narrows the widths
    assert "Keras 3 / HGQ2, beta0 0.0001" in stdout and "EBOPs" in stdout


def test_trained_keras3_model_loads_and_converts_bit_exactly(keras3_flows):
    checks = keras3_flows[3]
    assert checks["keras_version"].startswith("3.") and checks["legacy_env"] is None
    assert {"GravNet", "QDense"} <= set(checks["classes"])
    assert checks["enable_ebops"] and checks["kernel_width_shape"] == [4, 3]  # one width per S weight
    assert checks["trained_bit_exact"] and checks["trained_nonzero"] > 0.5
    assert all(v > 1000 for v in checks["preset_ebops"].values()), checks["preset_ebops"]


def test_keras3_rtl_project_has_the_resource_breakdown(keras3_flows):
    # a Keras 3 project's logic is tagged by what it implements, as a Keras 2 one's (report's breakdown):
    # the GravNet's distances, top-k, constant matrices and products; the HGQ2 heads' logic is 'other'
    checks = keras3_flows[3]
    rows = checks["breakdown"]
    assert rows is not None
    for kind in ("distances", "comparators and top-k", "constant matrices", "variable products", "other"):
        assert rows[kind]["ops"] > 0, kind
    assert sum(r["lut_estimate"] for r in rows.values()) == pytest.approx(checks["estimated_luts"], abs=len(rows))
    assert sum(r["dsp"] for r in rows.values()) == checks["dsp_slices"] > 0
    assert checks["multipliers"]["layers"]["gravnet1"]["dsp"] > 0


def test_keras3_fuzz_mode(keras3_flows):
    d, _, _, checks = keras3_flows
    assert checks["fuzz_rc"] == 0
    table = (d / "fuzz.md").read_text()
    assert "--keras 3" in table and "| 2026:8 |" in table and "| exact |" in table and "| ok |" in table
    cases = checks["cases"]
    assert cases["6"]["status"] == "ok" and cases["6"]["identical"] == 1.0
    assert cases["11"]["status"] == "ok" and cases["11"]["identical"] == 1.0
    for i in ("47", "56"):  # crashed inside da4ml before common.mux kept a constant on the wire's grid
        assert cases[i]["status"] == "ok" and cases[i]["identical"] == 1.0, cases[i]
    assert cases["9"]["status"] == "refused" and "dense1" in cases["9"]["message"]
    assert "\n" not in cases["9"]["message"]
    hls = cases["hls"]  # through the registry and hls4ml 1.3's Keras 3 parser: converted, C-simulated, exact
    assert hls["status"] == "ok" and hls["identical"] == 1.0, hls
    assert cases["hls12"]["status"] == "ok" and cases["hls12"]["identical"] == 1.0, cases["hls12"]


def test_keras3_fuzz_fails_a_case_whose_emulator_is_one_lsb_off(keras3_flows):
    broken = keras3_flows[3]["broken"]
    assert broken["status"] == "FAIL" and broken["max_lsb"] == 1.0
    assert broken["divergence"].startswith("graph0")


def test_beta0_needs_keras3_and_a_quantized_model(tmp_path, capsys):
    assert main(["train", "--beta0", "1e-6", "--quantized", "-o", str(tmp_path / "r")]) != 0
    assert "--beta0" in capsys.readouterr().err
    assert main(["train", "--keras", "3", "--beta0", "1e-6", "--float", "-o", str(tmp_path / "r")]) != 0
    assert not (tmp_path / "r").exists()


def test_rtl_weight_type_holds_every_quantized_weight():
    """The regression of fuzz case 2026:11: HGQ2's kif said i=0 for a kernel holding -1.0625 (kbi, per-weight
    widths, RND, WRAP); the trace re-rounds weights to their type, which saturated it. The type now comes from
    the values."""
    import numpy as np

    from garnet_hls.keras3.firmware import holding_type
    from garnet_hls.core.quantize import quantize_np

    for values in ([-1.0625, 0.5, 0.375], [0.0], [3.75, -0.001953125], [-4.0, 2 ** -12]):
        v = np.asarray(values)
        t = holding_type(v)
        assert t.signed and np.array_equal(quantize_np(v, t), v), (values, t)
    assert holding_type([-1.0625]).integer == 2 and holding_type([-1.0625]).frac == 4
