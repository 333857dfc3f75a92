"""Bit-exact for every model a user can build (issue 8): per-vertex QDense/QActivation heads, the labels of
what cannot be exact, and a few seeded cases of the randomized-architecture generator (garnet_hls/flows/fuzz.py).

The full run is ``make fuzz N=200`` (benchmarks/fuzz_results.md); here only cases that are fast to build.
"""

import garnet_hls  # noqa: F401  -- must come first: sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads

import json
from collections import Counter

import numpy as np
import pytest
import tf_keras as keras
from qkeras import QActivation, QDense

from garnet_hls.flows import fuzz
from garnet_hls.cli import main
from garnet_hls.flows.compare import compare, keras_float64
from garnet_hls.flows.convert import convert
from garnet_hls.project import META_FILE
from garnet_hls.layers import GarNet, GravNet
from garnet_hls.core.fixed import parse_spec
from garnet_hls.core.quantize import quantize_np

from conftest import wide_relu_model  # noqa: E402

W8 = "quantized_bits(8,0,alpha=1)"


def _events(V, n, seed, F=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, size=(n, V, F)).astype("float32")
    nv = rng.integers(0, V + 1, size=(n, 1)).astype("int32")
    nv[:4] = [[0], [1], [V - 1], [V]]
    x[5] = x[5, 0]  # duplicated vertices
    return {"features": x, "nvtx": nv}


# ------------------------------------------------------------------------------------------------
# Per-vertex heads: hls4ml turns a 3-D QDense into a pointwise Conv1D; it must be bit-exact
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def per_vertex_project(tmp_path_factory):
    """The issue's smallest case (GarNet(2, 4, 3) without collapse, then QDense(2), 8-bit weights) and a
    per-vertex chain QDense > QActivation(quantized_relu) > QDense > QActivation(quantized_bits), side by side."""
    keras.utils.set_random_seed(8)
    V = 10
    x = keras.Input((V, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    g = GarNet(2, 4, 3, quantized=True, name="garnet")([x, n])
    small = QDense(2, kernel_quantizer=W8, bias_quantizer=W8, name="dense")(g)
    h = GravNet(2, 5, 3, 3, quantized=True, output_activation="relu", name="gravnet")([x, n])
    h = QDense(6, kernel_quantizer="quantized_bits(6,0,alpha=1)", bias_quantizer=W8, name="pv_dense1")(h)
    h = QActivation("quantized_relu(8,3)", name="pv_relu")(h)
    h = QDense(3, kernel_quantizer="quantized_bits(10,1,alpha=1)", use_bias=False, name="pv_dense2")(h)
    h = QActivation("quantized_bits(9,2,alpha=1)", name="pv_act")(h)
    # the activation given to QDense itself (hls4ml splits it off into '<name>_quantized_relu')
    inner = QDense(4, kernel_quantizer=W8, bias_quantizer=W8, activation="quantized_relu(8,3)", name="inner_relu")(g)
    c = GarNet(2, 3, 3, collapse="mean", quantized=True, name="collapsed")([x, n])
    c = QDense(2, kernel_quantizer=W8, bias_quantizer=W8, activation="quantized_bits(8,2,alpha=1)", name="inner_bits")(c)
    model = keras.Model([x, n], [small, h, inner, c])
    from conftest import randomise_biases

    randomise_biases(model, 8)
    d = tmp_path_factory.mktemp("per_vertex")
    cfg = {"HLSConfig": {"Model": {"ReuseFactor": 1}, "LayerName": {"garnet": {"ReuseFactor": 5},
                                                                     "gravnet": {"ReuseFactor": 2},
                                                                     "collapsed": {"ReuseFactor": 10}}}}
    prj = convert(None, None, d / "prj", overrides=cfg, model=model)
    return model, prj


def test_per_vertex_qdense_and_chain_bit_exact(per_vertex_project):
    """Also QDense(activation=quantizer), per vertex and per event: converted as if it were a QActivation
    (it used to be taken for a linear dense: labelled exact without its activation's type being derived)."""
    model, prj = per_vertex_project
    meta = json.loads((prj / META_FILE).read_text())
    assert meta["bit_exact"] is True and meta["not_bit_exact"] == []
    r = compare(model, prj, _events(10, 300, 1))
    assert len(r.outputs) == 4
    for o in r.outputs:
        assert o.identical_fraction == 1.0 and o.max_lsb_diff == 0.0, o
    assert r.divergence is None


def test_per_vertex_qdense_writes_the_quantized_weights(per_vertex_project):
    """The weights of the Conv1D hls4ml makes of the QDense are the values Keras multiplies with."""
    model, prj = per_vertex_project
    layer = model.get_layer("dense")
    t = parse_spec(W8)
    want = quantize_np(layer.kernel.numpy(), t)
    assert not np.array_equal(want, layer.kernel.numpy())  # rounding matters
    top = (prj / "firmware" / "myproject.cpp").read_text()
    assert "pointwise_conv_1d_cl" in top and "// dense" in top  # hls4ml did turn it into a convolution
    found = False
    for f in (prj / "firmware" / "weights").glob("w*.txt"):
        vals = np.array([float(v) for v in f.read_text().replace("\n", "").split(",") if v.strip()])
        if vals.size == want.size and np.array_equal(np.sort(vals), np.sort(want.ravel())):
            found = True
    assert found


# ------------------------------------------------------------------------------------------------
# quantized_relu rounds a float32 copy: flagged, with the exact alternative
# ------------------------------------------------------------------------------------------------
def test_qkeras_quantized_relu_rounds_a_float32_copy():
    """Why the converter flags it: a value just above a rounding tie, with more than 24 significant bits,
    becomes the tie in float32, and half-to-even then goes down. quantized_bits(keep_negative=0) is the
    same function computed in floatx, so it rounds the exact value."""
    from qkeras.quantizers import quantized_bits, quantized_relu

    t = parse_spec("quantized_relu(16,6)")
    x = np.array([(30810.5) * t.lsb + 2.0 ** -25])  # 26 significant bits
    exact = quantize_np(x, t)
    assert exact[0] == 30811 * t.lsb
    with keras_float64():
        qk_relu = quantized_relu(16, 6)(x).numpy()
        qk_bits = quantized_bits(16, 6, keep_negative=0, alpha=1)(x).numpy()
    assert qk_relu[0] == 30810 * t.lsb  # QKeras' result differs from the exact rounding by 1 LSB
    assert qk_bits[0] == exact[0]


def test_quantized_relu_on_a_wide_accumulator_is_flagged(tmp_path, capsys):
    m = wide_relu_model("quantized_relu(16,6)")
    m.save(tmp_path / "m.keras")
    rc = main(["convert", str(tmp_path / "m.keras"), "-o", str(tmp_path / "prj")])
    cap = capsys.readouterr()
    assert rc == 0
    assert "bit-exact by construction" not in cap.out and "NOT bit-exact: act" in cap.out
    warn = [ln for ln in cap.err.splitlines() if "warning" in ln]
    assert len(warn) == 1 and "'act'" in warn[0] and "float32" in warn[0] and "26 significant bits" in warn[0]
    assert "quantized_bits(16,6,keep_negative=0,alpha=1)" in warn[0]
    meta = json.loads((tmp_path / "prj" / META_FILE).read_text())
    assert meta["bit_exact"] is False and meta["layers"]["act"]["exact"] is False
    assert meta["not_bit_exact"][0]["layer"] == "act"


def test_exact_alternative_and_narrow_accumulators_are_not_flagged(tmp_path, capsys):
    m = wide_relu_model("quantized_bits(16,6,keep_negative=0,alpha=1)")
    prj = convert(None, None, tmp_path / "a", model=m)
    assert json.loads((prj / META_FILE).read_text())["bit_exact"] is True
    # 8-bit weights on 16-bit activations, 8 inputs: the presets' case, 24 significant bits at most
    keras.utils.set_random_seed(5)
    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(4, 8, 8, quantized=True, name="garnet")([x, n])
    h = QDense(4, kernel_quantizer=W8, bias_quantizer=W8, name="dense")(h)
    h = QActivation("quantized_relu(10,4)", name="act")(h)
    prj = convert(None, None, tmp_path / "b", model=keras.Model([x, n], h))
    assert json.loads((prj / META_FILE).read_text())["bit_exact"] is True
    assert "warning" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# Float layers and precision overrides: labelled, never silent
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("what", ["dense", "activation", "graph"])
def test_float_layers_are_labelled_not_bit_exact(tmp_path, capsys, what):
    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(2, 4, 3, collapse="mean", quantized=(what != "graph"), name="garnet")([x, n])
    if what == "dense":
        h = keras.layers.Dense(2, name="float_dense")(h)
    elif what == "activation":
        h = keras.layers.Activation("relu", name="float_relu")(h)
    name = {"dense": "float_dense", "activation": "float_relu", "graph": "garnet"}[what]
    prj = convert(None, None, tmp_path / "prj", model=keras.Model([x, n], h))
    err = capsys.readouterr().err
    meta = json.loads((prj / META_FILE).read_text())
    assert meta["bit_exact"] is False
    assert [e["layer"] for e in meta["not_bit_exact"]] == [name]
    assert f"layer {name!r} is not bit-exact" in err and "float" in err


def test_qdense_after_a_float_dense_is_labelled_not_exact_not_a_crash(tmp_path, capsys):
    """Found by `make fuzz` (seed 2026, case 87: GravNet > Dense(float) > QDense): the QDense fed by the
    float Dense crashed the converter (no input type to derive its accumulator from)."""
    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(2, 4, 3, quantized=True, name="garnet")([x, n])
    h = keras.layers.Dense(3, name="float_dense")(h)
    h = QDense(2, kernel_quantizer=W8, bias_quantizer=W8, name="qdense")(h)
    prj = convert(None, None, tmp_path / "prj", model=keras.Model([x, n], h))
    meta = json.loads((prj / META_FILE).read_text())
    assert meta["bit_exact"] is False
    assert [e["layer"] for e in meta["not_bit_exact"]] == ["float_dense"]  # the cause, not what follows it
    assert meta["layers"]["qdense"]["exact"] is False
    assert "layer 'float_dense' is not bit-exact" in capsys.readouterr().err


def test_precision_override_that_drops_bits_is_flagged(tmp_path, capsys):
    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(2, 4, 3, quantized=True, name="garnet")([x, n])
    h = QDense(3, kernel_quantizer=W8, bias_quantizer=W8, name="dense")(h)
    h = QActivation("quantized_relu(8,3)", name="act")(h)
    model = keras.Model([x, n], h)
    cases = {
        # wider than the exact sum: still exact
        "wide": ({"dense": {"Precision": {"accum": "fixed<40,16>", "result": "fixed<40,16>"}}}, []),
        "narrow_accum": ({"dense": {"Precision": {"accum": "fixed<16,6>"}}}, ["dense"]),
        "narrow_weight": ({"dense": {"Precision": {"weight": "fixed<6,1>"}}}, ["dense"]),
        "graph_point": ({"garnet": {"Precision": {"aggregate": "ap_fixed<10,6>"}}}, ["garnet"]),
        "activation_truncates": ({"act": {"Precision": {"result": "ufixed<8,3>"}}}, ["act"]),
        "activation_same": ({"act": {"Precision": {"result": "ufixed<8,3,RND_CONV,SAT>"}}}, []),
    }
    for label, (layer_cfg, flagged) in cases.items():
        prj = convert(None, None, tmp_path / label, model=model, overrides={"HLSConfig": {"LayerName": layer_cfg}})
        meta = json.loads((prj / META_FILE).read_text())
        assert [e["layer"] for e in meta["not_bit_exact"]] == flagged, label
        assert meta["bit_exact"] is (not flagged), label
        err = capsys.readouterr().err
        for lname in flagged:
            assert f"layer {lname!r} is not bit-exact: Precision override" in err, label


# ------------------------------------------------------------------------------------------------
# The generator
# ------------------------------------------------------------------------------------------------
def test_generator_is_seeded_and_covers_every_option():
    assert fuzz.draw_case(3, 17) == fuzz.draw_case(3, 17)
    assert fuzz.draw_case(3, 17) != fuzz.draw_case(3, 18)
    cases = [fuzz.draw_case(2026, i) for i in range(300)]
    seen = Counter()
    for c in cases:
        assert 5 <= c["V"] <= 128 and c["V"] % c["reuse_factor"] == 0
        seen["chain"] += len(c["graph"]) > 1
        for g in c["graph"]:
            seen[g["kind"]] += 1
            seen[f"collapse={g['collapse']}"] += 1
            seen[f"act={g['output_activation']}"] += 1
            seen[f"nvert={g['mean_by_nvert']}"] += 1
            seen["float graph"] += bool(g.get("float"))
            if g["kind"] != "GravNet":
                seen[f"simplified={g['simplified']}"] += 1
            else:
                seen[f"distance={g['distance']}"] += 1
            for q in g["quantizers"].values():
                seen[f"bits={parse_spec(q).width}"] += 1
        if c["graph"][-1]["collapse"] is None and any(h["kind"] == "QDense" for h in c["head"]):
            seen["per-vertex QDense"] += 1
        for h in c["head"]:
            seen[h["kind"]] += 1
            if h["kind"] == "QDense":
                seen[f"bits={parse_spec(h['kernel_quantizer']).width}"] += 1
        seen["R=V"] += c["reuse_factor"] == c["V"]
        seen["R=1"] += c["reuse_factor"] == 1
    wanted = ["GarNet", "GarNetStack", "GravNet", "chain", "collapse=None", "collapse=mean", "collapse=sum",
              "collapse=max", "act=linear", "act=relu", "act=tanh", "nvert=True", "nvert=False", "simplified=True",
              "simplified=False", "distance=l1", "distance=l2", "float graph", "per-vertex QDense", "QDense",
              "QActivation", "Dense", "Activation", "R=V", "R=1"] + [f"bits={b}" for b in range(4, 17)]
    assert [w for w in wanted if not seen[w]] == []


def test_generator_events_hold_the_edge_cases():
    case = {**fuzz.draw_case(2026, 2), "V": 12}
    case["graph"] = [dict(case["graph"][0], kind="GravNet", n_neighbours=5)]
    t = parse_spec("quantized_bits(10,3,alpha=1)")
    d = fuzz.make_events(case, 120, t)
    nv = set(d["nvtx"].reshape(-1).tolist())
    assert {0, 1, 5, 6, 11, 12} <= nv
    x = d["features"].astype(np.float64)
    assert (x == t.max).any() and (x == t.min).any() and (x == t.max + t.lsb / 2).any()
    assert len(d["features"]) == 120


# Cases of `make fuzz` (seed 2026) that build quickly; every one is converted, C-simulated and compared.
FUZZ_CASES = [(2026, 5), (2026, 3)]


@pytest.mark.parametrize("seed,index", FUZZ_CASES)
def test_fuzz_case(seed, index, tmp_path):
    r = fuzz.run_case(fuzz.draw_case(seed, index), n_events=150, workdir=tmp_path)
    assert r.status in ("ok", "flagged"), (r.status, r.message, r.divergence)
    if r.labelled_exact:
        assert r.identical == 1.0 and r.max_lsb == 0.0
    else:
        assert r.reasons


def test_dense_sum_wider_than_float64_is_flagged(tmp_path, capsys):
    """Keras sums a QDense in float64: beyond 53 significant bits its sum is not exact any more."""
    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(2, 4, 3, quantized=True, output_quantizer="quantized_bits(24,5,alpha=1)", name="garnet")([x, n])
    q = "quantized_bits(32,0,alpha=1)"
    h = QDense(2, kernel_quantizer=q, bias_quantizer=q, name="dense")(h)
    prj = convert(None, None, tmp_path / "prj", model=keras.Model([x, n], h))
    meta = json.loads((prj / META_FILE).read_text())
    assert meta["bit_exact"] is False and [e["layer"] for e in meta["not_bit_exact"]] == ["dense"]
    assert "float64" in meta["not_bit_exact"][0]["reason"] and "53" in meta["not_bit_exact"][0]["reason"]
    assert "layer 'dense' is not bit-exact" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# RTL mode: the same generator, cases the RTL backend takes (quantized, V <= 32, fully parallel)
# ------------------------------------------------------------------------------------------------
def test_rtl_generator_draws_quantized_small_cases_over_every_option():
    assert fuzz.draw_case(3, 17, "rtl") == fuzz.draw_case(3, 17, "rtl")
    assert fuzz.draw_case(3, 17, "rtl") != fuzz.draw_case(3, 17)  # its own stream: HLS cases stay as they were
    cases = [fuzz.draw_case(2026, i, "rtl") for i in range(200)]
    seen = Counter()
    for c in cases:
        assert 3 <= c["V"] <= 32 and c["backend"] == "rtl" and c["reuse_factor"] == 1
        assert not any(g.get("float") for g in c["graph"]) and {h["kind"] for h in c["head"]} <= {"QDense", "QActivation"}
        for g in c["graph"]:
            seen[g["kind"]] += 1
            seen[f"collapse={g['collapse']}"] += 1
            seen[f"act={g['output_activation']}"] += 1
            if g["kind"] == "GravNet":
                seen[f"distance={g['distance']}"] += 1
                seen["k=V-1"] += g["n_neighbours"] == c["V"] - 1
            else:
                seen[f"simplified={g['simplified']}"] += 1
        seen["chain"] += len(c["graph"]) > 1
    wanted = ["GarNet", "GarNetStack", "GravNet", "chain", "collapse=None", "collapse=mean", "collapse=sum",
              "collapse=max", "act=linear", "act=relu", "act=tanh", "simplified=True", "simplified=False",
              "distance=l1", "distance=l2", "k=V-1"]
    assert [w for w in wanted if not seen[w]] == []


# Cases of `make fuzz BACKEND=rtl` (seed 2026) that failed before their fix: 86 (a GarNetStack feature
# quantizer coarser than its sums' range: -LSB wrapped to 0) must be identical; 18 (quantized_relu on a
# 25+-bit QDense sum: Keras rounds a float32 copy) must be labelled not bit-exact, naming the activation.
RTL_FUZZ_CASES = [(2026, 86, "ok"), (2026, 18, "flagged")]


@pytest.mark.parametrize("seed,index,status", RTL_FUZZ_CASES)
def test_rtl_fuzz_case(seed, index, status):
    r = fuzz.run_case(fuzz.draw_case(seed, index, "rtl"), n_events=150)
    assert r.status == status, (r.status, r.message, r.divergence)
    assert r.n_events == 150
    if status == "ok":
        assert r.labelled_exact and r.identical == 1.0 and r.max_lsb == 0.0
    else:
        assert not r.labelled_exact and [x.split(":")[0] for x in r.reasons] == ["act2"]


def test_rtl_fuzz_table_names_the_command(tmp_path):
    r = fuzz.run_case(fuzz.draw_case(2026, 1, "rtl"), n_events=40)
    md = fuzz.markdown([r], 2026, 40, 1.0, "rtl")
    assert "RTL (da4ml emulator) vs Keras" in md and "--backend rtl" in md
    assert "| 2026:1 | 5 |" in md and "| ok |" in md


def test_fuzz_table_takes_a_failure_without_message_or_divergence():
    """An HLS mismatch has neither (found when the Keras 3 HLS run stopped in its table writer, case 11)."""
    case = fuzz.draw_case(2026, 3)
    r = fuzz.CaseResult(case, "FAIL", labelled_exact=True, identical=0.98, max_lsb=1.0, n_events=40)
    md = fuzz.markdown([r], 2026, 40, 1.0, "hls")
    assert f"| {case['seed']}:{case['index']} |" in md and "| FAIL |" in md and "| 98.00 | 1 |" in md
    assert "failures (labelled exact but different, or a crash): 1" in md


def test_rtl_exact_relu_variant_swaps_only_quantized_relu():
    case = fuzz.draw_case(2026, 159, "rtl")
    alt = fuzz.exact_relu_variant(case)
    acts = [(h["activation"], a["activation"]) for h, a in zip(case["head"], alt["head"]) if h["kind"] == "QActivation"]
    assert acts == [("quantized_relu(15,0)", "quantized_bits(15,0,keep_negative=0,alpha=1)")]
    assert [h for h in alt["head"] if h["kind"] != "QActivation"] == [h for h in case["head"] if h["kind"] != "QActivation"]
    assert fuzz.exact_relu_variant(fuzz.draw_case(2026, 1, "rtl")) is None  # no quantized_relu there


# Issue #18: GravNet layers whose distance quantizer is a narrow signed type crashed the RTL converter inside
# da4ml ("Original quantization interval (0.0, 256.0, 1.0) does not cover all values of the variable
# QInterval(min=0.0, max=511.0, ...)"): the saturating quantizer gave a never-negative distance the signed
# type's whole interval, so the keys and the distance code spanned values that never occur and the weight
# table did not cover them. Both cases were found by widened draws (two chained GravNet layers, V=6/7).
_GRAVNET_SIGNED_DISTANCE = {
    "seed": 99, "index": 14, "V": 6, "reuse_factor": 1, "head": [], "model_level_reuse": False, "backend": "RTL",
    "graph": [
        {"kind": "GravNet", "collapse": None, "mean_by_nvert": True, "output_activation": "linear",
         "quantizers": {"distance_quantizer": "quantized_bits(8,1,alpha=1)",
                        "coordinate_quantizer": "quantized_bits(7,5,keep_negative=0,alpha=1)",
                        "input_quantizer": "quantized_bits(4,5,keep_negative=0,alpha=1)",
                        "output_quantizer": "quantized_bits(8,-1,keep_negative=0,alpha=1)"},
         "n_dimensions": 4, "n_filters": 8, "n_propagate": 7, "n_neighbours": 1, "distance": "l1",
         "potential_scale": 1.0},
        {"kind": "GravNet", "collapse": "mean", "mean_by_nvert": True, "output_activation": "relu",
         "quantizers": {"bias_quantizer": "quantized_bits(4,2,alpha=1)", "distance_quantizer": "quantized_bits(3,6,alpha=1)",
                        "feature_quantizer": "quantized_bits(14,6,alpha=1)",
                        "coordinate_quantizer": "quantized_bits(7,5,keep_negative=0,alpha=1)",
                        "output_quantizer": "quantized_bits(2,-1,keep_negative=0,alpha=1)"},
         "n_dimensions": 1, "n_filters": 7, "n_propagate": 2, "n_neighbours": 5, "distance": "l2",
         "potential_scale": 0.5}]}
_GRAVNET_CHAIN = {
    "seed": 99, "index": 6, "V": 7, "reuse_factor": 1, "head": [], "model_level_reuse": False, "backend": "RTL",
    "graph": [
        {"kind": "GravNet", "collapse": None, "mean_by_nvert": False, "output_activation": "relu",
         "quantizers": {"distance_quantizer": "quantized_bits(10,2,keep_negative=0,alpha=1)",
                        "edge_weight_quantizer": "quantized_bits(2,-2,alpha=1)",
                        "aggregate_quantizer": "quantized_bits(9,6,alpha=1)",
                        "preactivation_quantizer": "quantized_bits(11,3,alpha=1)",
                        "input_quantizer": "quantized_bits(3,5,alpha=1)",
                        "feature_quantizer": "quantized_bits(4,3,keep_negative=0,alpha=1)",
                        "output_quantizer": "quantized_bits(6,2,keep_negative=0,alpha=1)",
                        "kernel_quantizer": "quantized_bits(7,5,keep_negative=0,alpha=1)"},
         "n_dimensions": 3, "n_filters": 2, "n_propagate": 1, "n_neighbours": 6, "distance": "l2",
         "potential_scale": 0.5},
        {"kind": "GravNet", "collapse": "sum", "mean_by_nvert": False, "output_activation": "relu",
         "quantizers": {"distance_quantizer": "quantized_bits(5,5,alpha=1)",
                        "feature_quantizer": "quantized_bits(3,-1,alpha=1)"},
         "n_dimensions": 4, "n_filters": 6, "n_propagate": 3, "n_neighbours": 1, "distance": "l2",
         "potential_scale": 1.0}]}


@pytest.mark.parametrize("case", [_GRAVNET_SIGNED_DISTANCE, _GRAVNET_CHAIN], ids=["signed-distance", "chain"])
def test_rtl_gravnet_with_a_signed_distance_type_is_traced_and_exact(case):
    r = fuzz.run_case(case, n_events=120)
    assert r.status == "ok", (r.status, r.message, r.divergence)
    assert r.labelled_exact and r.identical == 1.0 and r.max_lsb == 0.0


def test_a_failure_inside_da4ml_is_one_line_naming_the_layer(monkeypatch):
    from garnet_hls.backends.rtl import gravnet
    from garnet_hls.backends.rtl.model import trace_model
    from garnet_hls.errors import UserError

    def boom(*a, **k):
        raise AssertionError("Original quantization interval (0.0, 16.0, 1.0) does not cover all values\nmore")

    monkeypatch.setattr(gravnet, "trace_layer", boom)
    model = fuzz.build_model(_GRAVNET_CHAIN)
    with pytest.raises(UserError) as e:
        trace_model(model, latency_cutoff=5.0)
    msg = str(e.value)
    assert "\n" not in msg and "layer 'graph0' (GravNet)" in msg and "inside da4ml" in msg
    assert "AssertionError: Original quantization interval (0.0, 16.0, 1.0)" in msg


def test_rtl_mode_traces_and_emulates_through_the_registry():
    """The fuzzer's RTL mode asks the registry's RTL backend to trace and emulate (flows never import a
    backend's insides); a backend without an in-memory trace says so in one line."""
    from garnet_hls.backends import registry
    from garnet_hls.errors import UserError

    case = fuzz.draw_case(2026, 1, "rtl")
    model = fuzz.build_model(case)
    rtl = registry.get_backend("rtl")
    rt = rtl.trace(model, latency_cutoff=fuzz.RTL_LATENCY_CUTOFF)
    assert rt.not_bit_exact == []
    data = fuzz.make_events(case, 30, model.get_layer("graph0").types["input"])
    (got,) = rtl.emulate(rt, data)
    assert got.shape == (30, *model.output_shape[1:])
    lsbs = rtl.output_lsbs(rt)
    assert len(lsbs) == int(np.prod(model.output_shape[1:])) and all(q > 0 for q in lsbs)
    # the emulator is bit-exact on this case: the fuzzer's own comparison agrees
    assert fuzz._rtl_compare(rt, model, data) == (1.0, 0.0)
    with pytest.raises(UserError, match="does not apply to the vivado backend"):
        registry.get_backend("vivado").trace(model)


def test_a_failure_inside_da4ml_is_a_fuzz_error_not_a_refusal(monkeypatch):
    """A one-line da4ml failure is still a defect: the RTL fuzzer counts it as a failure (case 2026:161 of the
    widened draws hits one: a saturating mux on a wire scaled by 2^-43 comes out on a finer grid than its type)."""
    from garnet_hls.backends.rtl import gravnet

    def boom(*a, **k):
        raise AssertionError("inside")

    monkeypatch.setattr(gravnet, "trace_layer", boom)
    r = fuzz.run_case(_GRAVNET_CHAIN, n_events=20)
    assert r.status == "ERROR" and r.failed and "inside da4ml" in r.message


def test_rtl_fuzz_runs_the_folded_design_of_a_foldable_case():
    """A case with one GarNet/GarNetStack layer (or GravNet blocks) is also planned as a folded design of its drawn lanes, run in
    the folded emulator and compared bit for bit; a folded difference on a case labelled exact fails it."""
    case = fuzz.draw_case(2026, 16, "rtl")
    assert fuzz.foldable(case) and case["lanes"] == 2 and case["V"] == 4
    r = fuzz.run_case(case, n_events=60)
    assert r.status == "ok" and r.folded == "2 lanes: 100.00%", (r.status, r.folded, r.message)
    md = fuzz.markdown([r], 2026, 60, 1.0, "rtl")
    assert "| 2 lanes: 100.00% | ok |" in md and "folded designs run" in md
    lanes = [fuzz.draw_case(2026, i, "rtl")["lanes"] for i in range(40)]
    assert all(1 <= L < fuzz.draw_case(2026, i, "rtl")["V"] for i, L in enumerate(lanes)) and len(set(lanes)) > 5


def test_rtl_fuzz_fails_a_case_whose_folded_design_differs(monkeypatch):
    from garnet_hls.backends.rtl import folded

    real = folded.emulate
    monkeypatch.setattr(folded, "emulate", lambda plan, data: [o + 1.0 for o in real(plan, data)])
    r = fuzz.run_case(fuzz.draw_case(2026, 16, "rtl"), n_events=30)
    assert r.status == "FAIL" and "folded 2 lanes: 0.00%" in r.divergence


def test_rtl_fuzz_folds_a_gravnet_case_and_fails_it_when_the_folded_design_differs(monkeypatch):
    """A case of quantized GravNet blocks is folded too (folded_gravnet, through the registry's fold); the same
    case fails when the folded GravNet emulator is off by one LSB-sized step on its outputs."""
    from garnet_hls.backends.rtl import folded_gravnet

    case = fuzz.draw_case(2026, 72, "rtl")
    assert fuzz.foldable(case) and [g["kind"] for g in case["graph"]] == ["GravNet"] and case["lanes"] == 2
    r = fuzz.run_case(case, n_events=40)
    assert r.status == "ok" and r.folded == "2 lanes: 100.00%", (r.status, r.folded, r.message)
    real = folded_gravnet.emulate
    monkeypatch.setattr(folded_gravnet, "emulate", lambda plan, data: [o + 1.0 for o in real(plan, data)])
    r = fuzz.run_case(case, n_events=20)
    assert r.status == "FAIL" and "folded 2 lanes: 0.00%" in r.divergence
    assert not fuzz.foldable({**case, "graph": [{**case["graph"][0], "float": True}]})


def test_rtl_fuzz_writes_every_folded_design_and_runs_some_in_verilator():
    """Every folded case's Verilog is written (the top's glue is not in the emulator: a one-lane GravNet whose
    query module never reads some of its inputs crashed the writer, not the emulator), and a case drawn for it
    is also run in Verilator on the same events."""
    case = {**fuzz.draw_case(2026, 72, "rtl"), "lanes": 1}
    r = fuzz.run_case(case, n_events=30)
    assert r.status == "ok" and r.folded == "1 lanes: 100.00%", (r.status, r.folded, r.message)
    drawn = [fuzz.draw_case(2026, i, "rtl")["verilator"] for i in range(200)]
    assert 10 <= sum(drawn) <= 40
    case = fuzz.draw_case(2026, 14, "rtl")
    assert fuzz.foldable(case) and case["V"] == 4
    r = fuzz.run_case({**case, "verilator": True}, n_events=30)
    assert r.status == "ok" and r.folded == f"{case['lanes']} lanes: 100.00%, Verilator 100.00%", (r.folded, r.message)


def test_fuzz_case_leaves_a_directory_it_did_not_write(tmp_path):
    # a case directory already in the work directory (not a garnet-hls project): convert refuses to replace
    # it, the case is a refusal, and the directory and its file are left as they were
    case = fuzz.draw_case(2026, 0)
    mine = tmp_path / f"case_{case['seed']}_{case['index']}"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    res = fuzz.run_case(case, n_events=8, workdir=tmp_path, keep=False)
    assert res.status == "refused" and "garnet-hls" in res.message
    assert (mine / "notes.txt").read_text() == "mine"
