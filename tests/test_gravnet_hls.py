"""GravNet firmware (firmware/gravnet.h, garnet_hls/backends/hls/gravnet.py): the C simulation equals the Keras model
bit for bit.

Building a C simulation is the slow part, so few projects are built, once per session, each with many
GravNet layers side by side (one output each): V = 16 (l2/l1, every collapse and activation, k = 1, 4, 5, 8,
15, reuse factors, custom quantizers, a tie-breaking layer), V = 20 (not a power of two) and a two-block
model with a QDense head at V = 100. The events mix nvtx = 0, 1, <= k, V - 1, V and random values, with
garbage in the padding slots, duplicated vertices and exactly tied distances.
"""

import garnet_hls  # noqa: F401  -- must come first: sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads


import numpy as np
import pytest
import tf_keras as keras
import yaml

import reference as ref
from garnet_hls import GravNet
from garnet_hls.errors import UserError
from garnet_hls.backends.hls.gravnet import full_sort_cost, topk_network_cost, topk_network_plan

# Non-default fixed-point types: a signed distance, a quantized_relu output, and coordinates with more
# fractional bits than the dense sum (rounding *up* the binary point). The input type stays the default:
# the layers of a model share the features input, which the converter gives one type.
CUSTOM = {
    "kernel": "quantized_bits(6,0,alpha=1)",
    "bias": "quantized_bits(10,2)",
    "coordinate": "quantized_bits(20,2)",
    "distance": "quantized_bits(11,3)",
    "edge_weight": "quantized_bits(8,0,keep_negative=0)",
    "feature": "quantized_bits(14,4)",
    "reciprocal": "quantized_bits(14,0,keep_negative=0)",
    "aggregate": "quantized_bits(12,3)",
    "preactivation": "quantized_bits(10,2)",
    "output": "quantized_relu(12,3)",
}

# name: (S, F_out, P, k, keyword arguments); every layer reads the same features and nvtx.
V16_LAYERS = {
    "l2_linear_k4": (3, 5, 4, 4, dict(potential_scale=1.0)),
    "l1_relu_k8": (2, 4, 3, 8, dict(distance="l1", output_activation="relu", potential_scale=2.0)),
    "l2_tanh_mean_k8": (3, 4, 4, 8, dict(collapse="mean", output_activation="tanh")),
    "l1_max_k4": (2, 3, 5, 4, dict(distance="l1", collapse="max", potential_scale=1.0)),
    "l2_sum_k5": (3, 3, 3, 5, dict(collapse="sum", output_activation="relu", potential_scale=1.0)),
    "l2_nvert_mean_k1": (2, 3, 2, 1, dict(collapse="mean", mean_by_nvert=True, potential_scale=1.0)),
    "l1_k15": (2, 4, 3, 15, dict(distance="l1", potential_scale=0.5)),
    "custom_l2_k3": (2, 4, 3, 3, dict(output_activation="tanh", potential_scale=1.0,
                                      **{f"{p}_quantizer": s for p, s in CUSTOM.items()})),
    "ties_k4": (2, 4, 4, 4, dict(potential_scale=1.0)),
}
V16_REUSE = {"l2_linear_k4": 4, "l1_max_k4": 16, "l2_tanh_mean_k8": 2}

V20_LAYERS = {
    "l2_k8": (3, 4, 4, 8, dict(potential_scale=1.0)),
    "l1_mean_relu_k5": (2, 3, 4, 5, dict(distance="l1", collapse="mean", output_activation="relu")),
    "l2_max_tanh_k4": (4, 3, 3, 4, dict(collapse="max", output_activation="tanh", potential_scale=2.0)),
}

N_FEATURES = 3


# ---------------------------------------------------------------------------------------------------
# models, data and built projects
# ---------------------------------------------------------------------------------------------------

def randomise_biases(model, rng):
    for w in model.weights:
        if "bias" in w.name:
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape))


def side_by_side_model(V, layers, seed):
    """One GravNet layer per entry of ``layers``, all on the same inputs, one output each."""
    keras.utils.set_random_seed(seed)
    features = keras.Input((V, N_FEATURES), name="features")
    nvtx = keras.Input((1,), dtype="int32", name="nvtx")
    outs = []
    for name, (S, fo, P, k, kw) in layers.items():
        kw = dict(kw)
        kw.setdefault("quantized", True)
        outs.append(GravNet(S, fo, P, k, name=name, **kw)([features, nvtx]))
    model = keras.Model([features, nvtx], outs)
    randomise_biases(model, np.random.default_rng(seed))
    if "ties_k4" in layers:
        # the learned space ignores feature 0, the propagated features do not: vertices that differ only in
        # feature 0 are at exactly the same place (tied distances) but carry different features
        lay = model.get_layer("ties_k4")
        w = lay.get_weights()
        w[0][0, :] = 0.0
        w[2][0, :] = np.where(np.abs(w[2][0, :]) < 0.25, 0.5, w[2][0, :])
        lay.set_weights(w)
    return model


def two_block_model(V, seed=11):
    """Like the calorimeter model: two GravNet blocks (the second collapses) and a QDense head."""
    from qkeras import QActivation, QDense

    keras.utils.set_random_seed(seed)
    wq = "quantized_bits(8,0,alpha=1)"
    features = keras.Input((V, 4), name="features")
    nvtx = keras.Input((1,), dtype="int32", name="nvtx")
    x = GravNet(4, 16, 8, 8, quantized=True, name="gravnet1")([features, nvtx])
    x = GravNet(4, 16, 16, 8, collapse="mean", quantized=True, name="gravnet2")([x, nvtx])
    x = QDense(16, kernel_quantizer=wq, bias_quantizer=wq, name="dense1")(x)
    x = QActivation("quantized_relu(10,4)", name="relu1")(x)
    x = QDense(8, kernel_quantizer=wq, bias_quantizer=wq, name="dense2")(x)
    x = QActivation("quantized_relu(10,4)", name="relu2")(x)
    logit = QDense(1, kernel_quantizer=wq, bias_quantizer=wq, name="class_logit")(x)
    energy = QDense(1, kernel_quantizer=wq, bias_quantizer=wq, name="energy")(x)
    model = keras.Model([features, nvtx], [logit, energy])
    randomise_biases(model, np.random.default_rng(seed))
    return model


def make_events(V, n_random, seed, F=N_FEATURES, scale=0.6, ties=True):
    """Edge-case events first (nvtx = 0, 1, 2, 3, 4, 5, 8, 9, V-1, V), then random ones. Padding slots hold
    garbage; some events copy vertices (exact ties, identical points) or saturate the input quantizer."""
    rng = np.random.default_rng(seed)
    edge = [0, 1, 2, 3, 4, 5, 8, 9, V - 1, V, V, V]
    nv = np.array(edge + list(rng.integers(0, V + 1, size=n_random)))
    nv[len(edge):len(edge) + n_random // 4] = V  # plenty of full events
    x = rng.normal(0.0, scale, size=(len(nv), V, F))
    for b, n in enumerate(nv):
        if ties and n >= 4 and b % 3 != 2:
            # a group of vertices equal in features 1.. (different feature 0), one exact duplicate
            m = min(n, 6 + b % 3)
            src = rng.integers(0, n)
            grp = rng.choice(n, size=m, replace=False)
            x[b, grp, 1:] = x[b, src, 1:]
            x[b, grp[0]] = x[b, src]
        if b % 7 == 3 and n >= 3:
            x[b, 1, 0] = 100.0  # saturates the input quantizer
            x[b, 2, -1] = -75.5
        x[b, n:] = rng.uniform(-1e3, 1e3, size=(V - n, F))
    return {"features": x, "nvtx": nv.reshape(-1, 1).astype(np.int32)}


@pytest.fixture(scope="session")
def gravnet_project(tmp_path_factory):
    """gravnet_project(name) -> (model, project, csim, events): converted and built once per session."""
    from garnet_hls.flows.convert import convert
    from garnet_hls.backends.hls.csim import CSim

    specs = {
        "v16": (lambda: side_by_side_model(16, V16_LAYERS, 1), V16_REUSE, lambda: make_events(16, 400, 2)),
        "v20": (lambda: side_by_side_model(20, V20_LAYERS, 3), {}, lambda: make_events(20, 300, 4)),
        "two_block": (lambda: two_block_model(100), {"gravnet2": 5},
                      lambda: make_events(100, 300, 6, F=4, scale=1.0)),
    }
    cache = {}

    def get(name):
        if name not in cache:
            make_model, reuse, make_data = specs[name]
            model = make_model()
            d = tmp_path_factory.mktemp(name)
            path = d / "model.keras"
            model.save(path)
            cfg = None
            if reuse:
                cfg = d / "config.yml"
                cfg.write_text(yaml.safe_dump(
                    {"HLSConfig": {"LayerName": {n: {"ReuseFactor": r} for n, r in reuse.items()}}}))
            prj = convert(path, cfg, d / "prj", force=True)
            cache[name] = (model, prj, CSim(prj), make_data())
        return cache[name]

    return get


@pytest.fixture(scope="session")
def comparison(gravnet_project):
    """comparison(name) -> garnet_hls.flows.compare result on the project's events (computed once)."""
    from garnet_hls.flows.compare import compare

    cache = {}

    def get(name):
        if name not in cache:
            model, prj, sim, data = gravnet_project(name)
            cache[name] = compare(model, prj, data, sim=sim)
        return cache[name]

    return get


def keras64(model, data):
    """The model's outputs in float64, as compare computes them: name -> array."""
    from garnet_hls.flows.compare import keras_float64, keras_float64_clone

    with keras_float64():
        m64 = keras_float64_clone(model)
        outs = m64.predict([data["features"].astype(np.float64), data["nvtx"]], verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    return dict(zip(m64.output_names, outs)), m64


def assert_output_exact(result, name):
    out = {o.name: o for o in result.outputs}[name]
    assert out.n_values > 0
    assert out.identical_fraction == 1.0, (name, out, result.divergence)
    assert out.max_abs_diff == 0.0


# ---------------------------------------------------------------------------------------------------
# the selection network (pure Python: the same loops as gravnet_select in firmware/gravnet.h)
# ---------------------------------------------------------------------------------------------------

def emulate_select(keys, V, k):
    """Run the network on a copy of ``keys`` (length N); returns (first k keys after it, comparators, stages)."""
    p = topk_network_plan(V, k)
    N, K, LK, L = p["n_pad"], p["n_block"], p["log_block"], p["n_levels"]
    a = list(keys)
    comps = 0
    stages = 0

    def cmp_swap(i, j, up):
        lo, hi = min(a[i], a[j]), max(a[i], a[j])
        a[i], a[j] = (lo, hi) if up else (hi, lo)

    for ls in range(1, LK + 1):
        for lt in range(LK, 0, -1):
            if lt <= ls:
                t = 1 << (lt - 1)
                stages += 1
                for g in range(0, N, 2 * t):
                    for q in range(t):
                        cmp_swap(g + q, g + q + t, ((g >> ls) & 1) == 0)
                        comps += 1
    for lev in range(1, L + 1):
        nb = (N // K) >> lev
        merge = lev < L or p["sort_final"]
        stages += 1 + (LK if merge else 0)
        for b in range(nb):
            for t in range(K):
                a[b * K + t] = min(a[2 * b * K + t], a[(2 * b + 1) * K + t])
                comps += 1
            if merge:
                for lt in range(LK, 0, -1):
                    t = 1 << (lt - 1)
                    for g in range(b * K, (b + 1) * K, 2 * t):
                        for q in range(t):
                            cmp_swap(g + q, g + q + t, (b & 1) == 0)
                            comps += 1
    return a[:k], comps, stages


@pytest.mark.parametrize("V,k", [(2, 1), (5, 4), (6, 5), (16, 1), (16, 4), (16, 5), (16, 15), (20, 8), (33, 3),
                                 (64, 8), (100, 8), (128, 8), (128, 16)])
def test_selection_network_takes_the_k_smallest_keys(V, k):
    """Keys (empty, d, j) with many equal d: the network's first k keys are those of 'sort by (d, j), take k'
    (as a set: the aggregates do not depend on their order), and the comparator/stage counts are the
    documented ones."""
    rng = np.random.default_rng(V * 1000 + k)
    N = topk_network_plan(V, k)["n_pad"]
    IB = max(1, (N - 1).bit_length())
    EMPTY = 1 << (8 + IB)
    for trial in range(30):
        n = int(rng.integers(0, V + 1))
        i = int(rng.integers(0, max(n, 1)))
        d = rng.integers(0, 4 if trial % 2 else 256, size=N)  # few distinct values: many ties
        keys = [int(d[j]) << IB | j if (j < n and j != i) else EMPTY for j in range(N)]
        got, comps, stages = emulate_select(keys, V, k)
        assert sorted(got) == sorted(keys)[:k]
        assert (comps, stages) == topk_network_cost(V, k)


def test_selection_network_cost():
    assert topk_network_cost(64, 8) == (320, 15)
    assert topk_network_cost(128, 8) == (672, 19)
    assert topk_network_cost(256, 8) == (1376, 23)
    assert full_sort_cost(128) == (1792, 28)
    for V in (32, 64, 128, 256, 512):
        c, s = topk_network_cost(V, 8)
        fc, fs = full_sort_cost(V)
        assert c < fc and s < fs
        # linear in V at fixed k: doubling V doubles the network plus one merge (8 min + 2 x 12 merge)
        assert topk_network_cost(2 * V, 8)[0] == 2 * c + 32
    # V not a power of two costs what its padded size costs
    assert topk_network_cost(100, 8) == topk_network_cost(128, 8)
    with pytest.raises(UserError):
        topk_network_plan(8, 8)


# ---------------------------------------------------------------------------------------------------
# bit-exactness of the C simulation
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(V16_LAYERS))
def test_v16_layers_bit_exact(comparison, name):
    assert_output_exact(comparison("v16"), name)


@pytest.mark.parametrize("name", list(V20_LAYERS))
def test_v20_layers_bit_exact(comparison, name):
    """V = 20 is padded to 32 keys inside the network."""
    assert_output_exact(comparison("v20"), name)


def test_v16_whole_model_bit_exact(comparison):
    r = comparison("v16")
    assert r.bit_exact and r.divergence is None
    assert r.n_events == 412


def test_aggregates_reach_the_outputs(gravnet_project):
    """Guard against a vacuous comparison: for every per-vertex layer, zeroing the output weights of the
    aggregates (mean, max) changes most valid rows, i.e. the neighbours' features reach the outputs."""
    model, _, _, data = gravnet_project("v16")
    n = data["nvtx"].reshape(-1)
    valid = np.arange(16)[None, :] < n[:, None]
    for name, (S, fo, P, k, kw) in V16_LAYERS.items():
        if kw.get("collapse"):
            continue
        lay = model.get_layer(name)
        inputs = [data["features"].astype(np.float32), data["nvtx"]]
        full = lay(inputs).numpy()
        w = lay.get_weights()
        w0 = [a.copy() for a in w]
        w0[4][N_FEATURES:, :] = 0.0
        lay.set_weights(w0)
        try:
            no_agg = lay(inputs).numpy()
        finally:
            lay.set_weights(w)
        changed = np.any(full != no_agg, axis=-1)[valid & (n[:, None] >= 2)]
        assert changed.mean() > 0.5, (name, changed.mean())


def test_ties_go_to_the_lower_index(gravnet_project, comparison):
    """'ties_k4': groups of up to 8 vertices at exactly the same learned-space position but with different
    propagated features, so which tied vertex is a neighbour changes the output. The C simulation equals
    Keras; the reference with the opposite tie-break does not, so the events really test the tie-break."""
    assert_output_exact(comparison("v16"), "ties_k4")
    model, _, _, data = gravnet_project("v16")
    lay = model.get_layer("ties_k4")
    S, fo, P, k, kw = V16_LAYERS["ties_k4"]
    wts = {key: np.asarray(v, dtype=np.float64) for key, v in lay.block_weights().items()}
    kwargs = dict(n_neighbours=k, potential_scale=kw["potential_scale"], specs=ref.resolve_specs("gravnet", True))
    sub = {key: v[:200] for key, v in data.items()}
    x = sub["features"].astype(np.float64)
    keras_out, _ = keras64(model, sub)
    want = ref.gravnet(x, sub["nvtx"], wts, **kwargs)
    np.testing.assert_array_equal(keras_out["ties_k4"], want)
    other = ref.gravnet(x, sub["nvtx"], wts, prefer_high_index=True, **kwargs)
    differs = np.any(other != want, axis=(1, 2))
    assert differs.sum() >= 20, differs.sum()


def test_edge_cases_per_event(gravnet_project):
    """nvtx = 0, 1, ..., V: per event, per output, the C simulation equals Keras; padding rows are 0."""
    model, _, sim, data = gravnet_project("v16")
    sub = {key: v[:12] for key, v in data.items()}
    csim_out, _ = sim.run(sub)
    keras_out, _ = keras64(model, sub)
    n = sub["nvtx"].reshape(-1)
    assert list(n) == [0, 1, 2, 3, 4, 5, 8, 9, 15, 16, 16, 16]
    for name, (S, fo, P, k, kw) in V16_LAYERS.items():
        got, want = csim_out[name], keras_out[name]
        for e in range(len(n)):
            np.testing.assert_array_equal(got[e], want[e], err_msg=f"{name}, event {e} (nvtx {n[e]})")
        if kw.get("collapse") is None:
            pad = np.arange(16)[None, :] >= n[:, None]
            assert np.all(got[pad] == 0.0)
            assert np.count_nonzero(got[n >= 1][..., 0]) > 0
        else:
            assert np.all(got[0] == 0.0)  # no vertices: mean, sum and max are 0


def test_two_block_model_bit_exact(comparison, gravnet_project):
    """Two GravNet blocks (V = 100, S = 4, k = 8; reuse factor 5 on the second) and a QDense head."""
    r = comparison("two_block")
    assert r.n_events == 312
    for name in ("class_logit", "energy"):
        assert_output_exact(r, name)
    model, _, _, data = gravnet_project("two_block")
    keras_out, _ = keras64(model, data)
    assert len(np.unique(keras_out["energy"])) > 100  # not a constant output


def test_fast_csim_equals_synthesis_code(gravnet_project):
    """csim --fast (64-bit integer containers) gives the very same bits as the default build, which runs
    exactly the code that is synthesized (ap_int containers)."""
    from conftest import assert_fast_csim_equals_default

    model, prj, sim, data = gravnet_project("v20")
    assert_fast_csim_equals_default(model, prj, sim, data)


# ---------------------------------------------------------------------------------------------------
# conversion checks (no build)
# ---------------------------------------------------------------------------------------------------

def _convert(model, tmp_path, cfg=None):
    from garnet_hls.flows.convert import convert

    path = tmp_path / "model.keras"
    model.save(path)
    cfg_path = None
    if cfg:
        cfg_path = tmp_path / "config.yml"
        cfg_path.write_text(yaml.safe_dump(cfg))
    return convert(path, cfg_path, tmp_path / "prj", force=True)


def test_generated_config(tmp_path):
    model = side_by_side_model(20, {"g": (3, 4, 4, 5, dict(distance="l1"))}, 5)
    prj = _convert(model, tmp_path)
    params = (prj / "firmware" / "parameters.h").read_text()
    plan = topk_network_plan(20, 5)
    for key in ("n_pad", "n_block", "log_block", "n_levels", "index_bits"):
        assert f"static const unsigned {key} = {plan[key]};" in params
    assert "static const bool sort_final = true;" in params
    assert "static const bool l1 = true;" in params
    # default GravNet distance: ap_ufixed<12,4> (not GarNet's signed one); key = 1 + 12 + 5 bits
    assert "typedef garnet_hls::fixed_code<12, 4, false> distance_c;" in params
    assert "typedef garnet_hls::fixed_code<18, 18, false> key_c;" in params
    top = (prj / "firmware" / "myproject.cpp").read_text()
    assert "garnet_hls::gravnet_in<" in top and "garnet_hls::gravnet_query<" in top


def test_reuse_factor_must_divide_v(tmp_path):
    model = side_by_side_model(16, {"g": (2, 3, 3, 4, {})}, 6)
    with pytest.raises(UserError, match=r"ReuseFactor = 3 does not divide the 16 vertices"):
        _convert(model, tmp_path, {"HLSConfig": {"LayerName": {"g": {"ReuseFactor": 3}}}})


def test_too_wide_types_are_refused(tmp_path):
    model = side_by_side_model(16, {"g": (2, 3, 3, 4, dict(edge_weight_quantizer="quantized_bits(31,1,keep_negative=0)",
                                                           feature_quantizer="quantized_bits(32,8)"))}, 7)
    with pytest.raises(UserError, match="at most 62"):
        _convert(model, tmp_path)
