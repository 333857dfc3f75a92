"""RTL backend (garnet_hls/rtl): the da4ml trace of a model computes the Keras model's values bit for bit.

Small models (V = 8..16) on edge-case events (nvtx 0, 1, V; duplicated vertices; saturating inputs) and
on the built-in calorimeter events, compared with the float64 Keras model.
"""

import numpy as np
import pytest
import tf_keras as keras

from garnet_hls.flows.compare import keras_float64, keras_float64_clone
from garnet_hls.errors import UserError
from garnet_hls.models.build import build_garnet_model
from garnet_hls.backends.rtl.model import emulate, trace_model
from conftest import wide_relu_model


def edge_events(V, F, n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2.0, (n, V, F))
    x[: n // 4] *= 20  # saturate the input / intermediate types
    nv = rng.integers(0, V + 1, n)
    nv[:6] = [0, 1, V, V, 2, V - 1]
    x[2] = x[2][0]  # every vertex the same: ties everywhere
    x[3, 1::2] = x[3, 0::2]  # pairs of duplicates
    return {"features": x, "nvtx": nv[:, None].astype(np.int32)}


def keras_outputs(model, data):
    from garnet_hls.core.quantize import quantize_np

    graph = [layer for layer in model.layers if hasattr(layer, "types")][0]
    xq = quantize_np(data["features"], graph.types["input"])
    with keras_float64():
        out = keras_float64_clone(model).predict([xq, data["nvtx"]], verbose=0, batch_size=256)
    return out if isinstance(out, list) else [out]


def assert_bit_exact(model, data, latency_cutoff=5.0):
    # traced as convert schedules it (5 ns stages: DSP products, stage-aligned operations); the values
    # do not depend on the schedule
    rt = trace_model(model, latency_cutoff=latency_cutoff)
    got = emulate(rt, data)
    ref = keras_outputs(model, data)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        r = np.asarray(r, dtype=np.float64).reshape(g.shape)
        assert np.array_equal(g, r), f"{np.sum(g != r)} of {g.size} values differ, max {np.max(np.abs(g - r))}"
    return rt


def randomise(model, seed, scale=0.6):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, scale, w.shape))


GARNET_CASES = [
    # simplified, activation, collapse, mean_by_nvert
    (True, "linear", "mean", False),
    (True, "relu", "sum", True),
    (True, "tanh", "max", False),
    (False, "linear", "max", True),
    (False, "tanh", "mean", True),
    (False, "relu", "sum", False),
]


@pytest.mark.parametrize("simplified,act,collapse,mbn", GARNET_CASES)
def test_garnet_stack_model_bit_exact_on_edge_events(simplified, act, collapse, mbn):
    keras.utils.set_random_seed(3)
    V = 8
    model = build_garnet_model(n_vertices=V, n_features=3, aggregators=(2, 3), filters=(3, 2), propagate=(2, 3),
                               dense=(4,), quantized=True, simplified=simplified, output_activation=act,
                               collapse=collapse, mean_by_nvert=mbn)
    randomise(model, 11)
    assert_bit_exact(model, edge_events(V, 3))


def test_garnet_model_bit_exact_on_calorimeter_events(calo_events):
    keras.utils.set_random_seed(5)
    V = 16
    model = build_garnet_model(n_vertices=V, n_features=4, aggregators=(4,), filters=(4,), propagate=(4,),
                               dense=(8,), quantized=True)
    randomise(model, 5, 0.4)
    data = dict(calo_events(V, 300))
    # the events fill all 16 slots: cut half of them short, so that real hits sit in padding slots
    nv = data["nvtx"].copy()
    nv[::2, 0] = np.random.default_rng(0).integers(0, V, len(nv[::2]))
    data["nvtx"] = nv
    rt = assert_bit_exact(model, data)
    assert [o["keras_name"] for o in rt.outputs] == ["class_logit", "energy"]
    assert [i["kind"] for i in rt.inputs] == ["features", "nvtx"]


def test_per_vertex_garnet_layer_output_and_padding_rows_zero():
    from garnet_hls.layers import GarNet

    V = 8
    fi = keras.Input((V, 3), name="features")
    ni = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(2, 3, 2, simplified=False, quantized=True, output_activation="relu", name="g")([fi, ni])
    model = keras.Model([fi, ni], y)
    randomise(model, 2)
    data = edge_events(V, 3, n=80, seed=4)
    rt = trace_model(model)
    got = emulate(rt, data)[0]
    pad = np.arange(V)[None, :] >= data["nvtx"]
    assert np.all(got[pad] == 0)
    assert_bit_exact(model, data)


def test_float_model_is_refused():
    model = build_garnet_model(n_vertices=8, n_features=3, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=False)
    with pytest.raises(UserError, match="quantized|not supported"):
        trace_model(model)


GRAVNET_CASES = [
    # distance, activation, collapse, mean_by_nvert, V, k
    ("l2", "linear", "mean", False, 8, 3),
    ("l1", "tanh", "max", True, 8, 3),
    ("l2", "relu", "sum", True, 10, 4),
]


@pytest.mark.parametrize("distance,act,collapse,mbn,V,k", GRAVNET_CASES)
def test_gravnet_model_bit_exact_on_edge_events(distance, act, collapse, mbn, V, k):
    """Two GravNet blocks: ties in the distances (duplicates, coarse inputs), saturation, nvtx <= k."""
    from garnet_hls.models.build import build_gravnet_model

    keras.utils.set_random_seed(4)
    model = build_gravnet_model(n_vertices=V, n_features=3, blocks=2, n_dimensions=2, n_filters=(3, 3),
                                n_propagate=(2, 3), k=k, distance=distance, dense=(4,), quantized=True,
                                output_activation=act, collapse=collapse, mean_by_nvert=mbn)
    randomise(model, 1)
    data = edge_events(V, 3, n=300, seed=6)
    data["features"] = np.round(data["features"] * 2) / 2  # coarse: many equal distances
    data["nvtx"][6:9, 0] = [k, k + 1, 3]
    assert_bit_exact(model, data)


def test_gravnet_bit_exact_on_calorimeter_events(calo_events):
    from garnet_hls.models.build import build_gravnet_model

    keras.utils.set_random_seed(8)
    V = 16
    model = build_gravnet_model(n_vertices=V, n_features=4, blocks=1, n_dimensions=3, n_filters=(4,),
                                n_propagate=(4,), k=8, dense=(4,), quantized=True)
    randomise(model, 8, 0.4)
    data = dict(calo_events(V, 200))
    nv = data["nvtx"].copy()
    nv[::2, 0] = np.random.default_rng(1).integers(0, V, len(nv[::2]))
    data["nvtx"] = nv
    assert_bit_exact(model, data)


def test_gravnet_top_k_selection_orders_by_distance_then_lower_index():
    """The parts of the GravNet trace that are bit-exact: top-k selection with the lower-j tie-break."""
    from da4ml.trace import FixedVariableArray, comb_trace

    from garnet_hls.backends.rtl.gravnet import top_k

    n, k = 11, 5
    x = FixedVariableArray.from_lhs(np.zeros(n), np.full(n, 63.0), np.ones(n))
    keys = [v * 16.0 + float(j) for j, v in enumerate(x._vars)]  # (value, index) keys as in the trace
    sel = top_k(keys, k, 64.0 * 16)
    comb = comb_trace(x._vars, np.array(sel, dtype=object))
    rng = np.random.default_rng(0)
    data = rng.integers(0, 8, (2000, n)).astype(float)  # many ties
    got = comb.predict(data)
    order = np.argsort(data, axis=1, kind="stable")[:, :k]  # ties to the lower index
    assert np.array_equal(got % 16, order)
    assert np.array_equal(got // 16, np.take_along_axis(data, order, axis=1))


QUANT_CASES = [  # (input type, output type): rounding, saturation both ways, unsigned, relu, widening
    ("quantized_bits(10,4,alpha=1)", "quantized_bits(6,2,alpha=1)"),
    ("quantized_bits(10,4,alpha=1)", "quantized_bits(6,2,keep_negative=0,alpha=1)"),
    ("quantized_bits(10,4,alpha=1)", "quantized_relu(6,2)"),
    ("quantized_bits(8,6,alpha=1)", "quantized_bits(6,0,alpha=1)"),
    ("quantized_bits(12,2,alpha=1)", "quantized_bits(12,5,alpha=1)"),
    ("quantized_bits(10,4,keep_negative=0,alpha=1)", "quantized_bits(6,2,alpha=1)"),
    # the whole input range inside one or two output steps (found by the RTL fuzzer, seed 2026 case 86:
    # a GarNetStack feature quantizer quantized_bits(6,4) on a small sum): the rounded value is 0 or one LSB
    ("quantized_bits(8,0,alpha=1)", "quantized_bits(6,4,alpha=1)"),
    ("quantized_bits(8,0,keep_negative=0,alpha=1)", "quantized_bits(6,4,alpha=1)"),
    ("quantized_bits(8,-2,alpha=1)", "quantized_bits(4,4,alpha=1)"),
]


@pytest.mark.parametrize("spec_in,spec_out", QUANT_CASES)
def test_quantization_point_is_exact_and_two_adders_deep(spec_in, spec_out):
    """Q(x) (round half to even, saturate) on every value of the input type, on wires that carry a
    power-of-two or negative scale factor and an offset, equals the Keras quantizer; its depth in da4ml's
    delay model is at most 2 (one rounding adder, one saturation mux)."""
    from da4ml.trace import HWConfig, comb_trace

    from garnet_hls.core.fixed import parse_spec
    from garnet_hls.core.quantize import quantize_np
    from garnet_hls.backends.rtl import common as C

    ti, to = parse_spec(spec_in), parse_spec(spec_out)
    xs = np.arange(ti.min, ti.max + ti.lsb / 2, ti.lsb)
    hw = HWConfig(1, -1, 5.0)
    for fac in (1.0, -1.0, 0.125, -0.25, 4.0, 2.0 ** -10):
        for off in (0.0, 0.375, -3.0):
            x = C.input_array((1,), ti, hw)._vars[0]
            v = x * fac + off
            y = C._quantize_var(v, to)
            ref = quantize_np(xs * fac + off, to)
            if isinstance(y, float):  # the trace proved the result constant
                assert np.all(ref == y)
                continue
            assert y.latency - v.latency <= 2
            got = comb_trace(np.array([x]), np.array([y])).predict(xs[:, None]).ravel()
            assert np.array_equal(got, ref), (fac, off, xs[got != ref][:4], got[got != ref][:4], ref[got != ref][:4])


def test_variable_products_fill_whole_pipeline_stages():
    """Scheduled for DSP48E2 slices: each variable product (da4ml opcode 7) reads registered stage inputs
    and is registered at the stage's output; in its stage it feeds at most wiring and a constant add."""
    from garnet_hls.backends.rtl.common import dsp_count
    from garnet_hls.backends.rtl.project import pipeline

    keras.utils.set_random_seed(3)
    model = build_garnet_model(n_vertices=8, n_features=3, aggregators=(2, 3), filters=(3, 2), propagate=(2, 3),
                               dense=(4,), quantized=True, simplified=False, output_activation="tanh",
                               collapse="mean", mean_by_nvert=True)
    randomise(model, 11)
    rt = trace_model(model, latency_cutoff=5.0)
    pipe = pipeline(rt, 5.0)
    n_mul = 0
    for stage in pipe.solutions:
        ops = stage.ops
        muls = {i for i, op in enumerate(ops) if op.opcode == 7}
        n_mul += len(muls)
        for i in muls:
            assert ops[ops[i].id0].opcode == -1 and ops[ops[i].id1].opcode == -1, "product operand not registered"
            assert i in set(stage.out_idxs), "product not registered"
        # after a product, its stage may only slice it (3), ReLU it (2) or add a constant (4: the DSP's
        # post-adder, P = A*B + C); an input marker's (-1) id0 indexes the stage inputs
        readers = [op for op in ops if op.opcode not in (-1, 2, -2, 3, -3, 4)
                   and (op.id0 in muls or op.id1 in muls or (op.opcode in (6, -6) and (op.data & 0xFFFFFFFF) in muls))]
        assert not readers, "a product feeds logic in its own stage"
    assert n_mul > 0
    # V x A x G aggregation products (+ output products) of both blocks and the nvtx-reciprocal scalings
    assert dsp_count(rt.comb) >= n_mul


def test_quantized_relu_on_a_wide_sum_is_labelled_not_bit_exact(tmp_path, capsys):
    """Found by the RTL fuzzer (seed 2026, case 18: ... > QDense > QAct(quantized_relu(15,2))): QKeras'
    quantized_relu rounds a float32 copy of its input, so the float64 Keras model rounds some 25+-bit sums
    differently from the exact trace; the RTL backend labelled the model bit-exact. It is now labelled (trace,
    project metadata, one warning), as the HLS converter labels it; the exact alternative is not, and is
    bit-exact."""
    from garnet_hls.flows.convert import convert

    model = wide_relu_model("quantized_relu(16,6)", aggregators=2, filters=4, propagate=3, units=8)
    rt = trace_model(model, latency_cutoff=5.0)
    assert [e["layer"] for e in rt.not_bit_exact] == ["act"]
    assert "float32" in rt.not_bit_exact[0]["reason"]
    assert "quantized_bits(16,6,keep_negative=0,alpha=1)" in rt.not_bit_exact[0]["reason"]
    prj = convert(None, None, tmp_path / "prj", overrides={"Backend": "RTL"}, model=model)
    import json

    meta = json.loads((prj / "garnet_project.json").read_text())
    assert meta["bit_exact"] is False and [e["layer"] for e in meta["not_bit_exact"]] == ["act"]
    err = capsys.readouterr().err
    assert err.count("warning: layer 'act' is not bit-exact") == 1
    # the same function without the float32 cast: labelled exact, and it is
    exact = wide_relu_model("quantized_bits(16,6,keep_negative=0,alpha=1)", aggregators=2, filters=4, propagate=3,
                            units=8)
    rt = assert_bit_exact(exact, edge_events(8, 3, n=120, seed=9))
    assert rt.not_bit_exact == []


def test_dense_sum_wider_than_float64_is_labelled_not_bit_exact():
    """Keras sums a QDense in float64: beyond 53 significant bits it rounds, the trace does not."""
    from qkeras import QDense

    from garnet_hls.layers import GarNet

    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    g = GarNet(2, 4, 3, quantized=True, output_quantizer="quantized_bits(24,5,alpha=1)", name="garnet")([x, n])
    q = "quantized_bits(32,0,alpha=1)"
    h = QDense(2, kernel_quantizer=q, bias_quantizer=q, name="dense")(g)
    rt = trace_model(keras.Model([x, n], h))
    assert [e["layer"] for e in rt.not_bit_exact] == ["dense"]
    assert "float64" in rt.not_bit_exact[0]["reason"] and "53" in rt.not_bit_exact[0]["reason"]
    # 8-bit weights on the same 24-bit outputs: 35 bits, exact
    h = QDense(2, kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
               name="dense8")(g)
    assert trace_model(keras.Model([x, n], h)).not_bit_exact == []


@pytest.mark.parametrize("spec", ["quantized_bits(15,0,keep_negative=0,alpha=1)", "quantized_relu(8,1)",
                                  "quantized_bits(6,2,alpha=1)"])
def test_saturation_on_a_wire_with_a_tiny_scale_factor(spec):
    """Found by the RTL fuzzer (seed 2026, case 159: a wide QDense > QActivation(quantized_bits(15,0,
    keep_negative=0)), 6 of 3200 values): da4ml's adder graph left the sum on a 32-bit wire with the scale
    factor 2^-47, and da4ml's mux gave the saturation constant that factor: values above the maximum came
    out 0. Q(x) on such wires (every value of a 32-bit input) equals the Keras quantizer."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    from garnet_hls.core.fixed import parse_spec
    from garnet_hls.core.quantize import quantize_np
    from garnet_hls.backends.rtl import common as C

    to = parse_spec(spec)
    hw = HWConfig(1, -1, 5.0)
    x = FixedVariableArray.from_kif(np.array([1]), np.array([53]), np.array([-22]), hwconf=hw)._vars[0]
    for e in (-47, -40, -30):
        v = x * 2.0 ** e  # values in [-64, 64) with step 2^(-22 + e), factor 2^e on the wire
        assert float(v._factor) == 2.0 ** e
        vals = np.concatenate([np.linspace(-70, 70, 1401), [1.0677, 1.0131, to.max, to.max + to.lsb / 2, -1.0, 63.9]])
        step = 2.0 ** (22 + e)
        vals = np.clip(np.round(vals / step) * step, float(v.low), float(v.high))
        got = comb_trace(np.array([x]), np.array([C._quantize_var(v, to)])).predict((vals / 2.0 ** e)[:, None]).ravel()
        ref = quantize_np(vals, to)
        assert np.array_equal(got, ref), (e, vals[got != ref][:4], got[got != ref][:4])


@pytest.mark.parametrize("e", [0, -30, -40, -47, -56])
@pytest.mark.parametrize("const", [0.0, 0.75, -2.0, 2.0 ** -12 * 3])
def test_mux_with_a_constant_on_a_coarse_unscaled_wire(e, const):
    const *= 2.0 ** e  # on the variable's scale (a saturation bound, 0, a mask)
    """Found by the Keras 3 fuzzer (seed 2026, cases 47, 56, 77: GarNetStack blocks and QDense heads whose
    wires carry factors down to 2^-71): da4ml takes a constant's step from its value, clamped to
    [2^-32, 2^31], and its emulator reads 0 at step 1, so a mux of a variable whose unscaled step is 2^32 or
    coarser with a constant came out a bit finer than its values (the table lookup behind it failed), or
    the emulator refused it (`Unsupported msb_mux shift configuration`). mux() keeps the operands' grid;
    the emulated mux equals numpy's on every value, in both operand orders. (A constant some 2^32 LSBs of
    the variable away from it also comes out wrong in da4ml's emulator, before this fix too; the traces
    mux a value only with bounds of its own type, 0, or a mask.)"""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    from garnet_hls.backends.rtl import common as C

    from fractions import Fraction

    hw = HWConfig(1, -1, 5.0)
    cstep = Fraction(const)
    cstep = 2.0 ** (cstep.numerator & -cstep.numerator).bit_length() / cstep.denominator * 0.5 if const else None
    vals = np.arange(-8, 8, 1 / 16)
    for sh in (0, 36, 46):  # the variable's unscaled step is 2^(sh - 4), its factor 2^(e - sh)
        inp = FixedVariableArray.from_kif(np.array([1, 0]), np.array([3 + sh, 1]), np.array([4 - sh, 0]), hwconf=hw)
        x, sel = inp._vars
        v = x * 2.0 ** (e - sh)  # values [-8, 8) * 2^e, step 2^(e - 4)
        xs = np.stack([np.tile(vals, 2) * 2.0 ** sh, np.repeat([0.0, 1.0], len(vals))], axis=1)
        for order in (0, 1):
            r = C.mux(sel, v, const) if order == 0 else C.mux(sel, const, v)
            want_step = min(float(v.step), cstep) if const else float(v.step)
            assert float(r.step) == want_step, (sh, order, float(r.step), want_step)
            got = comb_trace(inp, np.array([r])).predict(xs).ravel()
            pick = (xs[:, 1] == 1) if order == 0 else (xs[:, 1] == 0)
            want = np.where(pick, np.tile(vals, 2) * 2.0 ** e, const)
            np.testing.assert_array_equal(got, want, err_msg=f"e={e} sh={sh} order={order}")


def test_intermediate_wider_than_the_emulator_is_labelled():
    """da4ml's emulator computes in 64-bit integers: a chain of wide QDense layers (each sum exact, no
    quantizer between them) that needs more is labelled, beside the sums float64 Keras cannot hold."""
    from qkeras import QDense

    from garnet_hls.layers import GarNet
    from garnet_hls.backends.rtl.model import max_wire_bits

    x = keras.Input((4, 2), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(1, 2, 1, quantized=True, collapse="mean", name="garnet")([x, n])
    q = "quantized_bits(16,1,alpha=1)"
    for i in range(4):
        h = QDense(2, kernel_quantizer=q, bias_quantizer=q, name=f"d{i}")(h)
    rt = trace_model(keras.Model([x, n], h))
    assert max_wire_bits(rt.comb) > 64
    reasons = {e["layer"]: e["reason"] for e in rt.not_bit_exact}
    assert "64-bit" in reasons["d3"] and "53" in reasons["d2"]  # d2's sum already needs more than 53 bits
    short = trace_model(keras.Model([x, n], keras.Model([x, n], h).get_layer("d0").output))
    assert max_wire_bits(short.comb) <= 64 and short.not_bit_exact == []
