"""The HLS backend on a Keras 3 / HGQ2 model (issue #20): hls4ml 1.3's Keras 3 parser with our graph layers.

A fresh Keras 3 process (tests/keras3_hls_child.py; this test process is Keras 2) builds one model with
both graph layers and HGQ2 heads (GarNetStack > QDense, GravNet > per-vertex QDense > QEinsumDense), runs
``garnet-hls convert --backend vivado``, ``csim`` and ``compare`` on it, and tries conversions that must be
refused. The C simulation's outputs must equal the float64 Keras model's bit for bit.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    d = tmp_path_factory.mktemp("keras3_hls")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_USE_LEGACY_KERAS", None)  # import garnet_hls set it in this (Keras 2) process
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "keras3_hls_child.py"), str(d)], env=env, cwd=d,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, json.load(open(d / "checks.json")), r.stdout


def test_keras3_model_converts_to_hls_and_csim_is_bit_exact(child):
    d, checks, stdout = child
    assert checks["codes"] == {"convert": 0, "csim": 0, "compare": 0}
    assert "bit-exact by construction" in stdout and "verdict: BIT-EXACT" in stdout
    meta = json.load(open(d / "prj" / "garnet_project.json"))
    assert meta["backend"] == "vivado" and meta["bit_exact"] and meta["not_bit_exact"] == []
    assert meta["layers"]["stack"]["type"] == "GarNetStack" and meta["layers"]["grav"]["type"] == "GravNet"
    assert meta["layers"]["nvtx"]["nvtx"]
    # our kernels, not copies: the project calls the same C++ functions as a Keras 2 project
    top = (d / "prj" / "firmware" / "myproject.cpp").read_text()
    assert "garnet_hls::garnet_out_collapse<" in top and "garnet_hls::gravnet_query<" in top
    keras_out, csim_out = np.load(d / "keras.npz"), np.load(d / "csim.npz")
    assert sorted(keras_out.files) == sorted(csim_out.files) == sorted(checks["outputs"])
    for name in checks["outputs"]:
        k, c = keras_out[name], csim_out[name]
        assert k.shape == c.shape and k.shape[0] == 300
        np.testing.assert_array_equal(c, k, err_msg=name)
        assert np.mean(k != 0) > 0.5 and len(np.unique(k)) > 50, name  # values that can tell a difference
    cmp = json.load(open(d / "cmp.json"))
    assert cmp["bit_exact"] and cmp["n_events"] == 300
    assert all(o["identical_fraction"] == 1.0 for o in cmp["outputs"])


@pytest.mark.parametrize("key, words", [
    ("round_mode", ["layer bad_round", "feature_quantizer", "RND_CONV"]),
    ("per_element", ["layer bad_widths", "aggregate_quantizer", "per-element"]),
    ("float_head", ["'float_dense'", "Dense", "no bit-exact HLS conversion"]),
    ("float_graph", ["'float_grav'", "quantized"]),
    ("precision", ["HLSConfig.LayerName.g.Precision", "HGQ2 quantizers"]),
])
def test_keras3_hls_refusals(child, key, words):
    refused = child[1]["refused"][key]
    assert refused is not None, f"{key} was converted"
    msg = refused["message"]
    assert "\n" not in msg and len(msg) < 300 and all(w in msg for w in words), msg
    assert not refused["left_behind"]
