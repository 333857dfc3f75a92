"""The Keras 3 / HGQ2 layers (garnet_hls.keras3) against the Keras 2 layers (garnet_hls.layers).

Random architectures with several options are built here (Keras 2, QKeras specs), run on inputs with edge
cases of nvtx and garbage in the padding slots, and written out with their weights; a fresh Keras 3 process
(tests/keras3_child.py: one process cannot hold both Keras) builds the same layers with the equivalent fixed
HGQ2 quantizers (RND_CONV, SAT) and the same weights; the outputs must be identical bit for bit. The child
also saves and loads a model without custom_objects and trains per-element widths for one step.
"""

import garnet_hls  # noqa: F401  -- must come first: sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads
from garnet_hls import GarNet, GarNetStack, GravNet

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
V, F_IN, N_CASES = 12, 3, 14


def _random_specs(rng, gravnet):
    """A random complete set of QKeras specs (or None: the defaults)."""
    if rng.random() < 0.3:
        return {}
    w = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    specs = {
        "input": f"quantized_bits({w(10, 16)},{w(2, 5)},alpha=1)",
        "kernel": f"quantized_bits({w(4, 8)},0,alpha=1)",
        "bias": f"quantized_bits({w(6, 10)},{w(0, 2)},alpha=1)",
        "distance": f"quantized_bits({w(8, 12)},{w(2, 3)},alpha=1)",
        "edge_weight": f"quantized_bits({w(6, 10)},1,keep_negative=0,alpha=1)",
        "feature": f"quantized_bits({w(10, 16)},{w(3, 5)},alpha=1)",
        "reciprocal": f"quantized_bits({w(10, 18)},1,keep_negative=0,alpha=1)",
        "aggregate": f"quantized_bits({w(10, 16)},{w(3, 5)},alpha=1)",
        "preactivation": f"quantized_bits({w(8, 12)},3,alpha=1)",
        "output": rng.choice([f"quantized_bits({w(10, 16)},{w(3, 5)},alpha=1)", "quantized_relu(12,3)"]),
    }
    if gravnet:
        specs["coordinate"] = f"quantized_bits({w(8, 12)},{w(2, 3)},alpha=1)"
        specs["distance"] = f"quantized_bits({w(8, 12)},{w(3, 4)},keep_negative=0,alpha=1)"
    return {f"{p}_quantizer": s for p, s in specs.items()}


def _random_case(rng):
    kind = rng.choice(["GarNet", "GarNetStack", "GravNet"])
    common = dict(collapse=rng.choice([None, "mean", "sum", "max"]), mean_by_nvert=bool(rng.random() < 0.5),
                  output_activation=str(rng.choice(["linear", "relu", "tanh"])), quantized=True)
    if kind == "GarNet":
        kw = dict(n_aggregators=int(rng.integers(1, 4)), n_filters=int(rng.integers(1, 5)),
                  n_propagate=int(rng.integers(1, 4)), simplified=bool(rng.random() < 0.5))
    elif kind == "GarNetStack":
        nb = int(rng.integers(2, 4))
        kw = dict(n_aggregators=[int(v) for v in rng.integers(1, 4, nb)],
                  n_filters=[int(v) for v in rng.integers(1, 5, nb)],
                  n_propagate=[int(v) for v in rng.integers(1, 4, nb)], simplified=bool(rng.random() < 0.5))
    else:
        kw = dict(n_dimensions=int(rng.integers(1, 4)), n_filters=int(rng.integers(1, 5)),
                  n_propagate=int(rng.integers(1, 4)), n_neighbours=int(rng.integers(1, 6)),
                  distance=str(rng.choice(["l2", "l1"])), potential_scale=float(rng.choice([10.0, 2.0, 0.5])))
    kw.update(common, collapse=None if common["collapse"] is None else str(common["collapse"]))
    kw.update(_random_specs(rng, kind == "GravNet"))
    return str(kind), kw


@pytest.fixture(scope="module")
def keras3_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("keras3")
    rng = np.random.default_rng(2026)
    classes = {"GarNet": GarNet, "GarNetStack": GarNetStack, "GravNet": GravNet}
    cases, arrays, expected = [], {}, {}
    nvtx = np.array([[V], [0], [1], [3], [7], [V - 1]], dtype=np.int32)
    for i in range(N_CASES):
        kind, kw = _random_case(rng)
        layer = classes[kind](**kw, name=f"case{i}")
        x = rng.normal(0.0, 1.5, size=(len(nvtx), V, F_IN)).astype(np.float32)
        x[np.arange(V)[None, :] >= nvtx] = 1e3  # padding garbage
        layer([x[:1], nvtx[:1]])
        names = []
        for v in layer.weights:
            name = v.name.split("/")[-1].split(":")[0]
            if name.endswith("bias"):  # non-zero biases, so that they count
                v.assign(rng.normal(0.0, 0.3, size=v.shape).astype(np.float32))
            arrays[f"{i}_w_{name}"] = v.numpy()
            names.append(name)
        arrays[f"{i}_x"], arrays[f"{i}_nvtx"] = x, nvtx
        expected[str(i)] = layer([x, nvtx]).numpy()
        cases.append({"class": kind, "kwargs": kw, "weights": names})
    json.dump(cases, open(d / "cases.json", "w"))
    np.savez(d / "cases.npz", **arrays)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_USE_LEGACY_KERAS", None)  # import garnet_hls set it in this (Keras 2) process
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "keras3_child.py"), str(d)], env=env, cwd=d,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    got = dict(np.load(d / "keras3_out.npz"))
    return cases, expected, got, json.load(open(d / "keras3_checks.json"))


def test_keras3_layers_are_bit_identical_to_keras2(keras3_run):
    cases, expected, got, _ = keras3_run
    kinds = {c["class"] for c in cases}
    assert kinds == {"GarNet", "GarNetStack", "GravNet"}
    assert {c["kwargs"]["output_activation"] for c in cases} == {"linear", "relu", "tanh"}
    for i, case in enumerate(cases):
        np.testing.assert_array_equal(got[str(i)], expected[str(i)], err_msg=json.dumps(case))
    # cases that compute nothing (a relu that is 0 everywhere) would prove nothing: few of them
    assert sum(bool(np.any(expected[str(i)] != 0)) for i in range(len(cases))) >= len(cases) - 2


def test_keras3_process_stays_keras3_and_saved_models_load(keras3_run):
    checks = keras3_run[3]
    assert checks["keras_version"].startswith("3.")
    assert checks["legacy_env"] is None
    assert checks["load_equal"]
    assert "GarNetStack" in checks["loaded_classes"]
    # per-element kernel widths (one per weight) of the 2 blocks x 3 Dense, and they get gradients
    assert len(checks["width_vars"]) == 6 and all(np.prod(s) > 1 for s in checks["width_vars"])
    assert checks["width_grad_nonzero"] >= 3


def test_keras3_models_convert_to_rtl_bit_exactly(keras3_run):
    checks = keras3_run[3]
    assert len(checks["rtl"]) == 2
    for r in checks["rtl"]:
        assert r["equal"] and r["nonzero"] > 0.3 and r["not_bit_exact"] == []
    refused = checks["refused"]
    assert refused and "bad_garnet" in refused and "feature_quantizer" in refused and "RND" in refused


def test_keras3_models_fold_on_the_rtl_backend(keras3_run):
    # ReuseFactor R on a Keras 3 model: the folded design of V / R lanes, bit-exact against the float64 Keras 3
    # model in its emulator and, as Verilog, in Verilator; a per-vertex HGQ2 head is refused in one line
    checks = keras3_run[3]
    assert [(f["lanes"], f["interval"]) for f in checks["folded"]] == [(3, 4), (4, 3)]
    for f in checks["folded"]:
        assert f["folded"] and f["breakdown"]
        assert f["emulator"][0] and f["emulator"][1].startswith("da4ml") and f["emulator"][2] == 6
        assert f["verilator"][0] and f["verilator"][1].startswith("Verilator") and f["verilator"][2] == 6
    refused = checks["folded_refused"]
    assert refused and "pv_garnet" in refused and "collapse" in refused and "\n" not in refused
    assert not checks["folded_refused_left"]

