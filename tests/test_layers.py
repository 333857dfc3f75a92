"""Keras layers (garnet_hls.layers) against the independent float64 NumPy reference (reference.py).

Quantized mode must agree bit for bit (assert_array_equal); float mode within a tolerance (the layer
is run in float64 where the tolerance is tight). Every batch mixes edge cases of nvtx (0, 1, fewer
than k + 1, V, something in between) and puts large garbage in the padding slots.
"""

import garnet_hls  # noqa: F401  -- must come first: sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads
from garnet_hls import GarNet, GarNetStack, GravNet

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import reference as ref

F64_TOL = dict(rtol=1e-9, atol=1e-12)
F32_TOL = dict(rtol=1e-5, atol=1e-5)

COLLAPSES = [None, "mean", "sum", "max"]
ACTIVATIONS = ["linear", "relu", "tanh"]

# A complete non-default set of fixed-point types, with a quantized_relu output.
GARNET_CUSTOM = {
    "input": "quantized_bits(12,3)",
    "kernel": "quantized_bits(6,0,alpha=1)",
    "bias": "quantized_bits(10,2)",
    "distance": "quantized_bits(10,2)",
    "edge_weight": "quantized_bits(8,0,keep_negative=0)",   # max 1 - 2^-8: exp(0) saturates
    "feature": "quantized_bits(14,4)",
    "reciprocal": "quantized_bits(14,0,keep_negative=0)",
    "aggregate": "quantized_bits(12,3)",
    "preactivation": "quantized_bits(10,2)",
    "output": "quantized_relu(12,3)",
}
GRAVNET_CUSTOM = dict(GARNET_CUSTOM, coordinate="quantized_bits(10,2)",
                      distance="quantized_bits(10,3,keep_negative=0)")


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------

def make_inputs(rng, nvtx, V, F, *, scale=1.0, garbage=1e3, dtype=np.float32, dyadic=False):
    """x (B, V, F) with garbage in the padding slots, nvtx (B, 1) int32."""
    nvtx = np.asarray(nvtx, dtype=np.int32)
    x = rng.normal(0.0, scale, size=(len(nvtx), V, F))
    if dyadic:  # exactly representable, so sums and products are exact in float64
        x = np.round(x * 16) / 16
    pad = np.arange(V)[None, :] >= nvtx[:, None]
    x[pad] = rng.uniform(-garbage, garbage, size=(int(pad.sum()), F))
    return x.astype(dtype), nvtx.reshape(-1, 1)


def with_saturating_inputs(x, nvtx):
    """Put a few out-of-range values into valid slots so that the input quantizer saturates."""
    x = x.copy()
    for b, n in enumerate(nvtx.reshape(-1)):
        if n >= 4:
            x[b, 1, 0] = 100.0
            x[b, 2, -1] = -75.5
    return x


def call(layer, x, nvtx):
    return layer([tf.constant(x), tf.constant(nvtx, dtype=tf.int32)]).numpy()


def randomize(layer, rng, scale=1.0, dyadic=False):
    """Random weights of realistic scale for every trainable variable (kernels and biases)."""
    for v in layer.trainable_weights:
        val = rng.uniform(-scale, scale, size=tuple(v.shape))
        if dyadic:
            val = np.round(val * 128) / 128
        v.assign(val.astype(v.dtype.as_numpy_dtype))


def build(layer, rng, x, nvtx, **rand_kwargs):
    call(layer, x, nvtx)  # builds the layer
    randomize(layer, rng, **rand_kwargs)
    return layer


def block_weights(layer, n_blocks=1):
    out = []
    for b in range(n_blocks):
        w = layer.block_weights(b)
        out.append({k: np.asarray(v, dtype=np.float64) for k, v in w.items()})
    return out


def quantizer_kwargs(specs):
    return {f"{k}_quantizer": v for k, v in (specs or {}).items()}


def assert_specs_equivalent(got, want):
    """layer.quantizer_specs() against the reference's reading of the docs (same fixed-point types)."""
    assert set(got) == set(want), (sorted(got), sorted(want))
    for point in want:
        g, w = got[point], want[point]
        if w is None:
            assert g is None, (point, g)
        else:
            assert g is not None, point
            assert ref.parse_spec(g) == ref.parse_spec(w), (point, g, w)


def assert_output(got, want, nvtx, *, exact, tol=F64_TOL, per_vertex=True):
    assert got.shape == want.shape, (got.shape, want.shape)
    got64 = np.asarray(got, dtype=np.float64)
    assert np.all(np.isfinite(got64))
    if per_vertex:
        V = got.shape[1]
        pad = np.arange(V)[None, :] >= nvtx.reshape(-1)[:, None]
        assert np.all(got64[pad] == 0.0), "padding rows of the per-vertex output must be exactly 0"
    if exact:
        np.testing.assert_array_equal(got64, want)
    else:
        np.testing.assert_allclose(got64, want, **tol)


def assert_nontrivial(want, nvtx, per_vertex=True):
    """Guard against vacuous comparisons: the reference output must not be (almost) all zeros."""
    if per_vertex:
        V = want.shape[1]
        valid = np.arange(V)[None, :] < nvtx.reshape(-1)[:, None]
        vals = want[valid]
    else:
        vals = want[nvtx.reshape(-1) > 0]
    assert vals.size and np.count_nonzero(vals) > 0.3 * vals.size


# ---------------------------------------------------------------------------------------------------
# the reference itself: the fixed-point types of quantization.md
# ---------------------------------------------------------------------------------------------------

def test_reference_quantizer_types():
    q = ref.Quantizer("quantized_bits(8,0,alpha=1)")  # ap_fixed<8,1>
    assert (q.lsb, q.min_value, q.max_value) == (2.0 ** -7, -1.0, 1.0 - 2.0 ** -7)
    np.testing.assert_array_equal(
        q([0.5 + 2.0 ** -8, 0.5 + 3 * 2.0 ** -8, -2.0 ** -8, 5.0, -5.0, 1.0]),
        [0.5, 0.5 + 2 * 2.0 ** -7, -0.0, 1 - 2.0 ** -7, -1.0, 1 - 2.0 ** -7])  # half to even, AP_SAT
    q = ref.Quantizer("quantized_bits(12,4,keep_negative=0)")  # ap_ufixed<12,4>
    assert (q.lsb, q.min_value, q.max_value) == (2.0 ** -8, 0.0, 16.0 - 2.0 ** -8)
    np.testing.assert_array_equal(q([-1.0, 20.0, 2.0 ** -9]), [0.0, 16.0 - 2.0 ** -8, 0.0])
    q = ref.Quantizer("quantized_relu(6,2)")  # ap_ufixed<6,2>
    assert (q.lsb, q.max_value) == (2.0 ** -4, 4.0 - 2.0 ** -4)
    np.testing.assert_array_equal(q([-3.0, 1.03125, 1.09375, 9.0]), [0.0, 1.0, 1.125, 4.0 - 2.0 ** -4])
    q = ref.Quantizer("quantized_bits(16, 5, keep_negative=True)")  # ap_fixed<16,6>
    assert (q.lsb, q.min_value, q.max_value) == (2.0 ** -10, -32.0, 32.0 - 2.0 ** -10)
    for bad in ["quantized_bits(8,0,alpha='auto_po2')", "quantized_bits(8,0,symmetric=1)",
                "quantized_po2(4)", "quantized_bits(8,0,use_stochastic_rounding=True)"]:
        with pytest.raises(ref.SpecError):
            ref.Quantizer(bad)


def set_weights_by_name(layer, weights):
    """Assign {'S_kernel': ..., ...} to the single-block layer's variables of those names."""
    for key, val in weights.items():
        match = [v for v in layer.trainable_weights if v.name.split("/")[-1].split(":")[0] == key]
        assert len(match) == 1, (key, [v.name for v in layer.trainable_weights])
        match[0].assign(np.asarray(val, dtype=match[0].dtype.as_numpy_dtype))
    for key, val in layer.block_weights(0).items():
        np.testing.assert_array_equal(val, weights[key])


def test_hand_computed_garnet():
    """Simplified GarNet with A = P = F_in = F_out = 1 and identity weights: d_i = x_i,
    w_i = exp(-x_i^2), f_i = x_i, m = sum_i w_i x_i / V, y_i = w_i m (padding excluded)."""
    V = 5
    xs = np.array([0.5, -1.0, 2.0, 7.0, -3.0])  # slots 3, 4 are padding (nvtx = 3)
    x = xs.reshape(1, V, 1)
    nv = np.array([[3]], dtype=np.int32)
    wts = {"S_kernel": [[1.0]], "S_bias": [0.0], "P_kernel": [[1.0]], "P_bias": [0.0],
           "O_kernel": [[1.0]], "O_bias": [0.0]}
    w = np.exp(-xs[:3] ** 2)
    for mean_by_nvert, N in [(False, V), (True, 3)]:
        m = np.sum(w * xs[:3]) / N
        expected = np.concatenate([w * m, [0.0, 0.0]]).reshape(1, V, 1)
        np.testing.assert_allclose(ref.garnet(x, nv, {k: np.array(v) for k, v in wts.items()},
                                              mean_by_nvert=mean_by_nvert), expected, rtol=1e-14)
        layer = GarNet(1, 1, 1, mean_by_nvert=mean_by_nvert, dtype="float64")
        call(layer, x, nv)
        set_weights_by_name(layer, wts)
        assert_output(call(layer, x, nv), expected, nv, exact=False)


def test_hand_computed_gravnet():
    """GravNet on a line (S = P = F_in = 1, identity weights), l1, k = 2, potential 1:
    x = [0, 1, 3 | 10 padding]. Vertex 0: neighbours 1 (d 1), 2 (d 3); vertex 1: 0 (d 1), 2 (d 2);
    vertex 2: 1 (d 2), 0 (d 3). O_kernel picks [x, mean, max] with weights [0, 1, 10]."""
    V = 4
    x = np.array([0.0, 1.0, 3.0, 10.0]).reshape(1, V, 1)
    nv = np.array([[3]], dtype=np.int32)
    wts = {"S_kernel": [[1.0]], "S_bias": [0.0], "P_kernel": [[1.0]], "P_bias": [0.0],
           "O_kernel": [[0.0], [1.0], [10.0]], "O_bias": [0.0]}
    e = np.exp
    prods = {0: [e(-1) * 1, e(-3) * 3], 1: [e(-1) * 0, e(-2) * 3], 2: [e(-2) * 1, e(-3) * 0]}
    expected = np.zeros((1, V, 1))
    for i, p in prods.items():
        expected[0, i, 0] = sum(p) / 2 + 10 * max(p)
    got_ref = ref.gravnet(x, nv, {k: np.array(v) for k, v in wts.items()}, n_neighbours=2,
                          distance="l1", potential_scale=1.0)
    np.testing.assert_allclose(got_ref, expected, rtol=1e-14)
    # k = 3 with only two other valid vertices: one empty slot, divisor stays 3
    expected3 = expected.copy()
    for i, p in prods.items():
        expected3[0, i, 0] = sum(p) / 3 + 10 * max(p)
    got_ref3 = ref.gravnet(x, nv, {k: np.array(v) for k, v in wts.items()}, n_neighbours=3,
                           distance="l1", potential_scale=1.0)
    np.testing.assert_allclose(got_ref3, expected3, rtol=1e-14)
    for k, want in [(2, expected), (3, expected3)]:
        layer = GravNet(1, 1, 1, k, distance="l1", potential_scale=1.0, dtype="float64")
        call(layer, x, nv)
        set_weights_by_name(layer, wts)
        assert_output(call(layer, x, nv), want, nv, exact=False)


# ---------------------------------------------------------------------------------------------------
# quantizer specs and defaults
# ---------------------------------------------------------------------------------------------------

def test_quantizer_spec_defaults():
    assert_specs_equivalent(GarNet(4, 8, 4, quantized=True).quantizer_specs(),
                            ref.resolve_specs("garnet", True))
    assert_specs_equivalent(GarNetStack([4, 4], [8, 8], [4, 4], quantized=True).quantizer_specs(),
                            ref.resolve_specs("garnet", True))
    assert_specs_equivalent(GravNet(3, 8, 4, 4, quantized=True).quantizer_specs(),
                            ref.resolve_specs("gravnet", True))
    assert_specs_equivalent(GarNet(4, 8, 4).quantizer_specs(), ref.resolve_specs("garnet", False))
    assert_specs_equivalent(GravNet(3, 8, 4, 4).quantizer_specs(), ref.resolve_specs("gravnet", False))
    # an explicit quantizer wins over the default
    lay = GarNet(4, 8, 4, quantized=True, output_quantizer="quantized_relu(12,3)",
                 distance_quantizer="quantized_bits(10,2)")
    assert_specs_equivalent(lay.quantizer_specs(), ref.resolve_specs(
        "garnet", True, output="quantized_relu(12,3)", distance="quantized_bits(10,2)"))
    lay = GravNet(3, 8, 4, 4, quantized=True, **quantizer_kwargs(GRAVNET_CUSTOM))
    assert_specs_equivalent(lay.quantizer_specs(), ref.resolve_specs("gravnet", True, **GRAVNET_CUSTOM))


# ---------------------------------------------------------------------------------------------------
# GarNet
# ---------------------------------------------------------------------------------------------------

def run_garnet(seed, *, simplified=True, collapse=None, mean_by_nvert=False, activation="linear",
               quantized=False, specs=None, V=16, F=5, A=4, P=3, F_out=6, nvtx=None,
               dtype="float64", saturate=False):
    rng = np.random.default_rng(seed)
    nvtx = [V, 0, 1, 3, V // 2 + 1] if nvtx is None else nvtx
    x, nv = make_inputs(rng, nvtx, V, F, dtype=np.float32 if quantized else dtype)
    if saturate:
        x = with_saturating_inputs(x, nv)
    kwargs = {} if quantized else {"dtype": dtype}
    layer = GarNet(A, F_out, P, simplified=simplified, collapse=collapse, mean_by_nvert=mean_by_nvert,
                   output_activation=activation, quantized=quantized, **quantizer_kwargs(specs),
                   **kwargs)
    build(layer, rng, x, nv)
    got = call(layer, x, nv)
    ref_specs = ref.resolve_specs("garnet", quantized, **(specs or {}))
    want = ref.garnet(x, nv, block_weights(layer)[0], simplified=simplified, collapse_mode=collapse,
                      mean_by_nvert=mean_by_nvert, activation=activation, specs=ref_specs)
    return got, want, nv


@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "full"])
@pytest.mark.parametrize("collapse", COLLAPSES)
@pytest.mark.parametrize("mean_by_nvert", [False, True], ids=["meanV", "meanN"])
def test_garnet_float(simplified, collapse, mean_by_nvert):
    got, want, nv = run_garnet(1, simplified=simplified, collapse=collapse, mean_by_nvert=mean_by_nvert)
    assert_output(got, want, nv, exact=False, per_vertex=collapse is None)
    assert_nontrivial(want, nv, per_vertex=collapse is None)


@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "full"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_garnet_float_activations(simplified, activation):
    got, want, nv = run_garnet(2, simplified=simplified, activation=activation, V=100, F=4,
                               nvtx=[100, 37, 1, 0])
    assert_output(got, want, nv, exact=False)


def test_garnet_float32():
    got, want, nv = run_garnet(3, simplified=False, dtype="float32", activation="tanh")
    assert got.dtype == np.float32
    assert_output(got, want, nv, exact=False, tol=F32_TOL)


@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "full"])
@pytest.mark.parametrize("collapse", COLLAPSES)
@pytest.mark.parametrize("mean_by_nvert", [False, True], ids=["meanV", "meanN"])
def test_garnet_quantized(simplified, collapse, mean_by_nvert):
    got, want, nv = run_garnet(4, simplified=simplified, collapse=collapse, mean_by_nvert=mean_by_nvert,
                               quantized=True, saturate=True)
    assert got.dtype == np.float32
    assert_output(got, want, nv, exact=True, per_vertex=collapse is None)
    assert_nontrivial(want, nv, per_vertex=collapse is None)


@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "full"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_garnet_quantized_activations(simplified, activation):
    got, want, nv = run_garnet(5, simplified=simplified, activation=activation, quantized=True,
                               V=100, F=4, nvtx=[100, 37, 1, 0, 99])
    assert_output(got, want, nv, exact=True)
    if activation != "relu":
        assert_nontrivial(want, nv)


@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "full"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("collapse", [None, "mean"])
def test_garnet_quantized_custom_specs(simplified, activation, collapse):
    got, want, nv = run_garnet(6, simplified=simplified, activation=activation, collapse=collapse,
                               quantized=True, specs=GARNET_CUSTOM, saturate=True, V=24)
    assert_output(got, want, nv, exact=True, per_vertex=collapse is None)
    assert np.all(want >= 0)  # quantized_relu output


def test_garnet_full_max_over_valid_only():
    """With one valid vertex the max aggregate is that vertex's (possibly negative) product; padding
    (whose products are 0) must not take part. Checks the case is sensitive to it."""
    got, want, nv = run_garnet(7, simplified=False, quantized=True, nvtx=[1, 2, 1], V=8)
    assert_output(got, want, nv, exact=True)
    got_f, want_f, nv_f = run_garnet(7, simplified=False, nvtx=[1, 2, 1], V=8)
    assert_output(got_f, want_f, nv_f, exact=False)


# ---------------------------------------------------------------------------------------------------
# GarNet stack
# ---------------------------------------------------------------------------------------------------

STACK = dict(n_aggregators=[4, 4, 8], n_filters=[8, 8, 16], n_propagate=[8, 8, 16])


def run_stack(seed, *, simplified=True, collapse=None, mean_by_nvert=False, activation="linear",
              quantized=False, specs=None, V=20, F=5, nvtx=None):
    rng = np.random.default_rng(seed)
    nvtx = [V, 0, 1, 3, 11] if nvtx is None else nvtx
    x, nv = make_inputs(rng, nvtx, V, F, dtype=np.float32 if quantized else np.float64)
    kwargs = {} if quantized else {"dtype": "float64"}
    layer = GarNetStack(**STACK, simplified=simplified, collapse=collapse, mean_by_nvert=mean_by_nvert,
                        output_activation=activation, quantized=quantized, **quantizer_kwargs(specs),
                        **kwargs)
    # smaller weights keep three blocks in a sensible range
    build(layer, rng, x, nv, scale=0.5)
    got = call(layer, x, nv)
    ref_specs = ref.resolve_specs("garnet", quantized, **(specs or {}))
    blocks = block_weights(layer, 3)
    for b, (A, Fo, P) in enumerate(zip(*STACK.values())):
        assert blocks[b]["S_kernel"].shape[1] == A and blocks[b]["P_kernel"].shape[1] == P
        assert blocks[b]["O_kernel"].shape[1] == Fo
    want = ref.garnet(x, nv, blocks, simplified=simplified, collapse_mode=collapse,
                      mean_by_nvert=mean_by_nvert, activation=activation, specs=ref_specs)
    return got, want, nv


@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "full"])
@pytest.mark.parametrize("collapse,mean_by_nvert,activation",
                         [(None, False, "relu"), ("mean", True, "tanh"), ("max", False, "linear")])
@pytest.mark.parametrize("quantized", [False, True], ids=["float", "quantized"])
def test_garnet_stack(simplified, collapse, mean_by_nvert, activation, quantized):
    got, want, nv = run_stack(8, simplified=simplified, collapse=collapse, mean_by_nvert=mean_by_nvert,
                              activation=activation, quantized=quantized)
    assert_output(got, want, nv, exact=quantized, per_vertex=collapse is None)
    assert_nontrivial(want, nv, per_vertex=collapse is None)


def test_garnet_stack_custom_specs():
    got, want, nv = run_stack(9, collapse="sum", activation="relu", quantized=True, specs=GARNET_CUSTOM)
    assert_output(got, want, nv, exact=True, per_vertex=False)


# ---------------------------------------------------------------------------------------------------
# GravNet
# ---------------------------------------------------------------------------------------------------

def run_gravnet(seed, *, distance="l2", k=4, collapse=None, mean_by_nvert=False, activation="linear",
                quantized=False, specs=None, V=16, F=4, S=3, P=4, F_out=5, potential_scale=None,
                nvtx=None, x=None, dtype="float64", dyadic=False, scale=0.5, saturate=False):
    rng = np.random.default_rng(seed)
    if x is None:
        nvtx = [V, 0, 1, 3, k, k + 1, V // 2 + 1] if nvtx is None else nvtx
        x, nv = make_inputs(rng, nvtx, V, F, scale=scale, dyadic=dyadic,
                            dtype=np.float32 if quantized else dtype)
    else:
        V, F = x.shape[1:]
        nv = np.asarray(nvtx, dtype=np.int32).reshape(-1, 1)
    if saturate:
        x = with_saturating_inputs(x, nv)
    kwargs = {} if quantized else {"dtype": dtype}
    if potential_scale is not None:
        kwargs["potential_scale"] = potential_scale
    layer = GravNet(S, F_out, P, k, distance=distance, collapse=collapse, mean_by_nvert=mean_by_nvert,
                    output_activation=activation, quantized=quantized, **quantizer_kwargs(specs),
                    **kwargs)
    build(layer, rng, x, nv, dyadic=dyadic)
    got = call(layer, x, nv)
    ref_specs = ref.resolve_specs("gravnet", quantized, **(specs or {}))
    wts = block_weights(layer)[0]
    assert wts["S_kernel"].shape == (F, S) and wts["P_kernel"].shape == (F, P)
    assert wts["O_kernel"].shape == (F + 2 * P, F_out)
    ref_kwargs = dict(n_neighbours=k, distance=distance, collapse_mode=collapse,
                      mean_by_nvert=mean_by_nvert, activation=activation, specs=ref_specs)
    if potential_scale is not None:
        ref_kwargs["potential_scale"] = potential_scale
    want = ref.gravnet(x, nv, wts, **ref_kwargs)
    return got, want, nv, (x, wts, ref_kwargs)


@pytest.mark.parametrize("distance", ["l2", "l1"])
@pytest.mark.parametrize("k", [4, 8])
@pytest.mark.parametrize("collapse", COLLAPSES)
def test_gravnet_float(distance, k, collapse):
    got, want, nv, _ = run_gravnet(10, distance=distance, k=k, collapse=collapse,
                                   mean_by_nvert=collapse == "mean")
    assert_output(got, want, nv, exact=False, per_vertex=collapse is None)
    assert_nontrivial(want, nv, per_vertex=collapse is None)


@pytest.mark.parametrize("distance", ["l2", "l1"])
@pytest.mark.parametrize("k", [4, 8])
@pytest.mark.parametrize("collapse", COLLAPSES)
def test_gravnet_quantized(distance, k, collapse):
    got, want, nv, _ = run_gravnet(11, distance=distance, k=k, collapse=collapse, quantized=True,
                                   mean_by_nvert=collapse == "mean", saturate=True)
    assert got.dtype == np.float32
    assert_output(got, want, nv, exact=True, per_vertex=collapse is None)
    assert_nontrivial(want, nv, per_vertex=collapse is None)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("quantized", [False, True], ids=["float", "quantized"])
def test_gravnet_activations_V100(activation, quantized):
    got, want, nv, _ = run_gravnet(12, activation=activation, quantized=quantized, V=100, k=8,
                                   nvtx=[100, 0, 1, 5, 9, 63], potential_scale=2.0)
    assert_output(got, want, nv, exact=quantized)
    if activation != "relu":
        assert_nontrivial(want, nv)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("distance", ["l2", "l1"])
def test_gravnet_quantized_custom_specs(activation, distance):
    got, want, nv, _ = run_gravnet(13, activation=activation, distance=distance, quantized=True,
                                   specs=GRAVNET_CUSTOM, saturate=True, V=20, k=4)
    assert_output(got, want, nv, exact=True)
    assert np.all(want >= 0)


@pytest.mark.parametrize("distance", ["l2", "l1"])
def test_gravnet_quantized_distance_saturation(distance):
    """Spread-out points and a small potential: distances reach the top of the distance type
    (default ap_ufixed<12,4>: saturates at 16 - 2^-8) and still carry weight (exp(-0.25 * 16) > 0)."""
    got, want, nv, _ = run_gravnet(24, distance=distance, k=8, quantized=True, V=30, scale=3.0,
                                   potential_scale=0.25, nvtx=[30, 17, 5])
    assert_output(got, want, nv, exact=True)
    assert_nontrivial(want, nv)


def test_gravnet_float32():
    got, want, nv, _ = run_gravnet(14, dtype="float32", dyadic=True, distance="l1")
    assert got.dtype == np.float32
    assert_output(got, want, nv, exact=False, tol=F32_TOL)


def _tie_sensitive(got, want, nv, extra):
    """The reference with the opposite tie-break must differ somewhere: the case really has ties
    between neighbours of different features."""
    x, wts, ref_kwargs = extra
    other = ref.gravnet(x, nv, wts, prefer_high_index=True, **ref_kwargs)
    assert not np.array_equal(other, want), "test case has no output-relevant ties"


def test_gravnet_ties_float_mirror_points():
    """Exact ties in float64: vertices at c + delta and c - delta (dyadic values, weights dyadic) are
    equally far from a vertex at c but carry different features; the lower index must win."""
    rng = np.random.default_rng(15)
    V, F = 12, 4
    x = np.zeros((2, V, F))
    c = np.round(rng.normal(0, 0.5, F) * 16) / 16
    for b in range(2):
        x[b] = np.round(rng.normal(0, 0.5, (V, F)) * 16) / 16
        x[b, 0] = c
        deltas = [np.array([0.25, -0.125, 0.0, 0.0625]), np.array([0.0, 0.125, 0.375, -0.125])]
        # slots chosen so that the + and - partner come in different index orders
        for (lo, hi), delta in zip([(2, 7), (9, 4)], deltas):
            x[b, lo] = c + delta
            x[b, hi] = c - delta
    # pad the second graph with garbage
    x[1, 10:] = 777.0
    for distance in ["l2", "l1"]:
        got, want, nv, extra = run_gravnet(15, x=x, nvtx=[V, 10], k=3, distance=distance,
                                           dyadic=True, potential_scale=1.0)
        assert_output(got, want, nv, exact=False)
        _tie_sensitive(got, want, nv, extra)


def test_gravnet_ties_quantized():
    """Quantized distances tie often (LSB 2^-8, saturation at 16); the lower index must win."""
    got, want, nv, extra = run_gravnet(16, quantized=True, V=40, k=8, nvtx=[40, 29, 0], scale=0.3,
                                       S=2)
    assert_output(got, want, nv, exact=True)
    _tie_sensitive(got, want, nv, extra)


@pytest.mark.parametrize("quantized", [False, True], ids=["float", "quantized"])
def test_gravnet_duplicate_points(quantized):
    """Copies of a vertex's features in several slots: distances tie exactly (0 to each other)."""
    rng = np.random.default_rng(17)
    V, F = 16, 4
    x, _ = make_inputs(rng, [V, 13], V, F, scale=0.5, dyadic=True)
    x = x.astype(np.float64)
    for b in range(2):
        x[b, [3, 6, 9, 10]] = x[b, 1]       # four copies of vertex 1 (five identical points)
        x[b, [7, 12]] = x[b, 0]
    got, want, nv, extra = run_gravnet(17, x=x.astype(np.float32 if quantized else np.float64),
                                       nvtx=[V, 13], k=4, quantized=quantized, dyadic=not quantized)
    assert_output(got, want, nv, exact=quantized)
    # vertex 1's neighbours are its lowest-index copies
    _, nbrs = ref.gravnet(extra[0], nv, extra[1], return_neighbours=True, **extra[2])
    assert list(nbrs[0][1]) == [3, 6, 9, 10]
    assert list(nbrs[0][10]) == [1, 3, 6, 9]


def test_gravnet_max_over_filled_slots_only():
    """nvtx = 2 with k = 8: one filled slot, seven empty. The max is the one product, even when it is
    negative, not 0 from an empty slot."""
    for quantized in (False, True):
        got, want, nv, _ = run_gravnet(18, k=8, quantized=quantized, nvtx=[2, 2, 2, 3], V=10)
        assert_output(got, want, nv, exact=quantized)


# ---------------------------------------------------------------------------------------------------
# padding: contents never matter
# ---------------------------------------------------------------------------------------------------

def _layers_for_padding():
    return [
        ("garnet-simplified", lambda **kw: GarNet(4, 6, 3, **kw)),
        ("garnet-full", lambda **kw: GarNet(4, 6, 3, simplified=False, **kw)),
        ("stack-full", lambda **kw: GarNetStack([4, 4], [6, 6], [3, 3], simplified=False, **kw)),
        ("gravnet", lambda **kw: GravNet(3, 6, 4, 4, **kw)),
    ]


@pytest.mark.parametrize("name", [n for n, _ in _layers_for_padding()])
@pytest.mark.parametrize("quantized", [False, True], ids=["float", "quantized"])
def test_padding_contents_do_not_matter(name, quantized):
    factory = dict(_layers_for_padding())[name]
    rng = np.random.default_rng(19)
    V, F = 12, 5
    nvtx = [7, 0, 1, 12, 3]
    dtype = np.float32 if quantized else np.float64
    x1, nv = make_inputs(rng, nvtx, V, F, garbage=1e3, dtype=dtype)
    x2 = x1.copy()
    pad = np.arange(V)[None, :] >= nv.reshape(-1)[:, None]
    x2[pad] = rng.uniform(-1e5 if quantized else -30.0, 1e5 if quantized else 30.0,
                          size=(int(pad.sum()), F)).astype(dtype)
    x3 = x1.copy()
    x3[pad] = 0.0
    for collapse in [None, "mean", "max"]:
        kw = dict(collapse=collapse, mean_by_nvert=True, quantized=quantized)
        if not quantized:
            kw["dtype"] = "float64"
        layer = factory(**kw)
        build(layer, rng, x1, nv, scale=0.5)
        y1, y2, y3 = (call(layer, xx, nv) for xx in (x1, x2, x3))
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(y1, y3)
        if collapse is None:
            assert np.all(y1[pad] == 0.0)


# ---------------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n, _ in _layers_for_padding()])
def test_gradients_flow_quantized(name):
    factory = dict(_layers_for_padding())[name]
    rng = np.random.default_rng(20)
    x, nv = make_inputs(rng, [12, 9, 5], 12, 5, scale=0.7)
    layer = factory(quantized=True, collapse="mean")
    build(layer, rng, x, nv, scale=0.5)
    target = tf.constant(rng.normal(size=(3, 6)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        out = layer([tf.constant(x), tf.constant(nv)])
        loss = tf.reduce_sum(tf.cast(out, tf.float32) * target)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == len(layer.trainable_weights) > 0
    kernels = 0
    for v, g in zip(layer.trainable_weights, grads):
        assert g is not None, f"no gradient for {v.name}"
        assert np.all(np.isfinite(g.numpy())), v.name
        if "kernel" in v.name:
            kernels += 1
            assert np.any(g.numpy() != 0), f"all-zero gradient for {v.name}"
    assert kernels >= 3


# ---------------------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n, _ in _layers_for_padding()])
@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_save_load_round_trip(name, fmt, tmp_path):
    factory = dict(_layers_for_padding())[name]
    rng = np.random.default_rng(21)
    V, F = 12, 5
    x, nv = make_inputs(rng, [12, 0, 7, 2], V, F)
    xin = keras.Input(shape=(V, F), name="x")
    nin = keras.Input(shape=(1,), dtype="int32", name="nvtx")
    layer = factory(quantized=True, collapse=None, output_activation="tanh",
                    output_quantizer="quantized_relu(12,3)", feature_quantizer="quantized_bits(14,4)")
    model = keras.Model([xin, nin], layer([xin, nin]))
    randomize(layer, rng, scale=0.8)
    y0 = model([tf.constant(x), tf.constant(nv)]).numpy()
    path = tmp_path / f"model.{fmt}"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: importing garnet_hls registers them
    y1 = loaded([tf.constant(x), tf.constant(nv)]).numpy()
    np.testing.assert_array_equal(y0, y1)
    y2 = loaded.predict([x, nv], verbose=0)  # graph mode
    np.testing.assert_array_equal(y0, y2)
    new_layer = [lay for lay in loaded.layers if type(lay) is type(layer)][0]
    assert new_layer.quantizer_specs() == layer.quantizer_specs()
    assert np.count_nonzero(y0) > 0


# ---------------------------------------------------------------------------------------------------
# input errors
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n, _ in _layers_for_padding()])
@pytest.mark.parametrize("bad", [-1, 13])
def test_nvtx_out_of_range_raises(name, bad):
    factory = dict(_layers_for_padding())[name]
    rng = np.random.default_rng(22)
    x, nv = make_inputs(rng, [12, 5], 12, 5)
    layer = factory()
    call(layer, x, nv)
    nv_bad = nv.copy()
    nv_bad[1, 0] = bad
    with pytest.raises(NVTX_ERRORS, match="nvtx"):
        call(layer, x, nv_bad)


# The layer checks nvtx in the graph (tf.debugging asserts): InvalidArgumentError in an eager call.
NVTX_ERRORS = (garnet_hls.UserError, tf.errors.InvalidArgumentError)


@pytest.mark.parametrize("bad", ["quantized_bits(8,0,alpha='auto_po2')", "quantized_bits(8,0,symmetric=1)",
                                 "quantized_po2(4)"])
def test_unsupported_quantizer_rejected(bad):
    with pytest.raises(garnet_hls.UserError):
        layer = GarNet(4, 6, 3, quantized=True, kernel_quantizer=bad)
        rng = np.random.default_rng(23)
        x, nv = make_inputs(rng, [4], 6, 5)
        call(layer, x, nv)
