"""Multipliers: dsp | packed | lut | auto (issue #19): two products sharing an operand in one DSP48E2, products
in fabric, and the least-LUT choice under a DSP budget; exact in da4ml's emulator and in Verilator."""

import itertools
import json

import numpy as np
import pytest
import tf_keras as keras
import yaml

from garnet_hls.backends.rtl import common as C
from garnet_hls.errors import UserError

RNG = np.random.default_rng(19)

# (keep_negative, integer bits, fraction bits) of (shared s, o1, o2): signed and unsigned, narrow and wide,
# fractional and coarse grids; the last two are too wide to share a 27 x 18 DSP
PACK_CASES = [((0, 0, 8), (1, 3, 4), (1, 3, 4)), ((1, 0, 7), (1, 3, 4), (1, 3, 4)), ((0, 0, 8), (0, 3, 4), (1, 3, 4)),
              ((1, 8, 0), (1, 4, 3), (1, 2, 5)), ((0, 0, 8), (1, 3, 4), (0, 0, 8)), ((1, 2, 6), (1, -2, 10), (1, 5, -2)),
              ((1, 16, 0), (1, 3, 0), (1, 3, 0)), ((0, 0, 8), (1, 10, -3), (1, 3, 4)), ((0, 1, 0), (0, 1, 0), (1, 0, 1)),
              ((0, 0, 8), (1, 20, -5), (1, 20, -5)), ((1, 17, 0), (1, 4, 0), (1, 4, 0))]
LUT_CASES = [((0, 0, 8), (1, 3, 4)), ((1, 3, 4), (1, 3, 4)), ((1, 0, 0), (1, 7, 0)), ((0, 4, 0), (0, 9, 2)),
             ((1, 12, 3), (0, 0, 8)), ((1, 20, -5), (0, 0, 8))]


def _values(k, i, f, n):
    """Every extreme of a (k, i, f) grid and n random points of it."""
    lo, hi, step = (-2.0 ** i if k else 0.0), 2.0 ** i - 2.0 ** -f, 2.0 ** -f
    ext = np.array([lo, hi, 0.0, lo + step, hi - step, -step if k else step])
    return ext, RNG.integers(0, int(round((hi - lo) / step)) + 1, n) * step + lo


def _inputs(kifs, hw):
    from da4ml.trace import FixedVariableArray

    k, i, f = (np.array(c) for c in zip(*kifs))
    return FixedVariableArray.from_kif(k, i, f, hwconf=hw)


def _grid(kifs, n=300):
    """Operand rows: every combination of the extremes, then random rows."""
    parts = [_values(*kif, n) for kif in kifs]
    ext = np.array(list(itertools.product(*(p[0] for p in parts))))
    return np.concatenate([ext, np.stack([p[1] for p in parts], axis=1)])


def _traced(mode, build):
    pol = C.MultPolicy()
    pol.mode, pol.record = mode, True
    old = C.set_policy(pol)
    try:
        return build(), pol
    finally:
        C.set_policy(old)


@pytest.mark.parametrize("kifs", PACK_CASES)
def test_packed_pair_is_exact_in_the_emulator(kifs):
    from da4ml.trace import HWConfig, comb_trace

    inp = _inputs(kifs, HWConfig(1, -1, 5.0))
    s, o1, o2 = inp._vars
    outs, pol = _traced("packed", lambda: C.shared_products(s, [o1, o2]))
    comb = comb_trace(inp, np.array(outs))
    fits = C.pack_plan(s, o1, o2) is not None
    assert C.dsp_count(comb) == (1 if fits else 2)
    assert [site["products"] for site in pol.sites] == ([2] if fits else [1, 1])
    x = _grid(kifs)
    y = comb.predict(x)
    np.testing.assert_array_equal(y[:, 0], x[:, 0] * x[:, 1])
    np.testing.assert_array_equal(y[:, 1], x[:, 0] * x[:, 2])


def test_lut_products_schedule_and_cost():
    from da4ml.trace import HWConfig, comb_trace

    inp = _inputs([(0, 0, 8), (1, 3, 4), (1, 12, 3)], HWConfig(1, -1, 5.0))
    a, b, c = inp._vars
    (p, q), _ = _traced("lut", lambda: (C.vmul(a, b), C.vmul(a, c)))
    # 9 x 8 bits: 8 rows, 4 + 1 units: a whole stage; 9 x 16: 9 rows, 5 + 1 units: two whole stages
    assert C.lut_mult_depth(a, b) == 5 and float(p.latency) == 5.0
    assert C.lut_mult_depth(a, c) == 6 and float(q.latency) == 10.0
    comb = comb_trace(inp, np.array([p, q]))
    assert C.dsp_count(comb) == 0
    assert sorted(op.cost for op in comb.ops if op.opcode == 7) == [8.0 * 11, 9.0 * 18]


def test_packed_and_lut_products_are_exact_in_verilator(tmp_path):
    """One design with the PACK_CASES pairs and the LUT_CASES products in fabric, written as the RTL backend
    writes it, compiled by Verilator and run on the extremes and random operands. (da4ml's Verilator binder
    moves every output through one fixed-point format of at most 32 bits, so the cases with 16 or more
    integer bits, checked in the emulator above, are left out.)"""
    from da4ml.codegen import RTLModel
    from da4ml.trace import HWConfig, comb_trace

    from garnet_hls.backends.rtl.project import mark_lut_multipliers, pipeline
    from garnet_hls.backends.rtl.sim import verilator_model

    PACK_CASES = [c for c in globals()["PACK_CASES"] if all(k[1] <= 12 for k in c)]
    LUT_CASES = [c for c in globals()["LUT_CASES"] if all(k[1] <= 12 for k in c)]
    assert len(PACK_CASES) == 8 and len(LUT_CASES) == 5

    kifs = [k for case in PACK_CASES for k in case] + [k for case in LUT_CASES for k in case]
    inp = _inputs(kifs, HWConfig(1, -1, 5.0))
    v = list(inp._vars)
    n_pack = 3 * len(PACK_CASES)

    def build():
        outs = []
        for j in range(len(PACK_CASES)):
            s, o1, o2 = v[3 * j: 3 * j + 3]
            outs += C.shared_products(s, [o1, o2])
        C.policy().mode = "lut"
        for j in range(len(LUT_CASES)):
            outs.append(C.vmul(v[n_pack + 2 * j], v[n_pack + 2 * j + 1]))
        return outs

    outs, _ = _traced("packed", build)
    comb = comb_trace(inp, np.array(outs))

    class RT:
        pass

    rt = RT()
    rt.comb = comb
    pipe = pipeline(rt, 5.0)
    RTLModel(pipe, "mt", tmp_path, flavor="verilog", latency_cutoff=5.0, part_name="xcvu13p-flga2577-2-e",
             clock_period=5.0).write()
    assert mark_lut_multipliers(pipe, tmp_path, "mt") == len(LUT_CASES)
    cols = [_values(*k, 400) for k in kifs]
    x = np.concatenate([np.stack([np.resize(c[0], 24) for c in cols], axis=1),  # extremes, cycled
                        np.stack([c[1] for c in cols], axis=1)])
    for j in range(len(PACK_CASES)):  # every extreme combination of each packed case
        ext = np.array(list(itertools.product(*(cols[3 * j + t][0] for t in range(3)))))
        block = np.tile(x[:1], (len(ext), 1))
        block[:, 3 * j: 3 * j + 3] = ext
        x = np.concatenate([x, block])
    want = []
    for j in range(len(PACK_CASES)):
        want += [x[:, 3 * j] * x[:, 3 * j + 1], x[:, 3 * j] * x[:, 3 * j + 2]]
    for j in range(len(LUT_CASES)):
        want.append(x[:, n_pack + 2 * j] * x[:, n_pack + 2 * j + 1])
    want = np.stack(want, axis=1)
    np.testing.assert_array_equal(comb.predict(x), want)
    got = verilator_model(pipe, "mt", tmp_path, "xcvu13p-flga2577-2-e", 5.0).predict(x)
    np.testing.assert_array_equal(np.asarray(got, dtype=np.float64), want)


# -- the config, on a small GarNet block


def _block(V=4):
    from garnet_hls.layers import GarNet

    q8 = "quantized_bits(8,3,alpha=1)"
    keras.utils.set_random_seed(1)
    fi = keras.Input((V, 4), name="features")
    ni = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(4, 4, 4, simplified=True, collapse=None, name="g", input_quantizer=q8,
               kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
               distance_quantizer="quantized_bits(8,2,alpha=1)",
               edge_weight_quantizer="quantized_bits(8,0,keep_negative=0,alpha=1)", feature_quantizer=q8,
               reciprocal_quantizer="quantized_bits(8,0,keep_negative=0,alpha=1)", aggregate_quantizer=q8,
               preactivation_quantizer=q8, output_quantizer=q8)([fi, ni])
    return keras.Model([fi, ni], y)


@pytest.fixture(scope="module")
def block4():
    return _block(4)


def _events(V, n=200):
    x = RNG.normal(0, 2, (n, V, 4))
    x[:10] = 50.0
    x[10:20] = -50.0
    return {"features": x, "nvtx": RNG.integers(0, V + 1, (n, 1))}


def test_every_choice_gives_the_same_exact_outputs(block4):
    from garnet_hls.backends.rtl.model import emulate, trace_model

    data = _events(4)
    got = {}
    for mode, budget in [("dsp", None), ("packed", None), ("lut", None), ("auto", 40), ("auto", 0)]:
        rt = trace_model(block4, 5.0, {"layers": {"g": mode}, "dsp_budget": budget})
        got[(mode, budget)] = (C.dsp_count(rt.comb), float(rt.comb.cost), emulate(rt, data)[0], rt.multipliers)
    ref = got[("dsp", None)][2]
    for key, (dsps, cost, y, summ) in got.items():
        np.testing.assert_array_equal(y, ref, err_msg=str(key))
    # V=4, A=P=F_out=4: 64 input products (8 x 8 bits: packable) and 64 output ones (8 x ~16 bits: not)
    assert got[("dsp", None)][0] == 128
    assert got[("packed", None)][0] == 96 and got[("packed", None)][3]["layers"]["g"]["packed_pairs"] == 32
    assert got[("lut", None)][0] == 0 and got[("lut", None)][3]["layers"]["g"]["lut"] == 128
    assert got[("auto", 40)][0] <= 40 and got[("auto", 0)][0] == 0
    # auto moves the least LUT cost: never more than all-fabric, more than packed
    assert got[("packed", None)][1] < got[("auto", 40)][1] <= got[("lut", None)][1]


def _convert(model, tmp_path, hls, backend="rtl", name="prj"):
    from garnet_hls.flows.convert import convert

    path = tmp_path / "m.keras"
    if not path.exists():
        model.save(path)
    (tmp_path / "c.yml").write_text(yaml.safe_dump({"HLSConfig": hls}))
    return convert(str(path), str(tmp_path / "c.yml"), tmp_path / name, backend=backend, force=True, model=model)


@pytest.mark.parametrize("hls, message", [
    ({"Model": {"Multipliers": "fast"}}, "HLSConfig.Model.Multipliers must be one of dsp, packed, lut, auto, got"),
    ({"LayerName": {"g": {"Multipliers": 2}}}, "HLSConfig.LayerName.g.Multipliers must be one of"),
    ({"Model": {"Multipliers": "auto", "DSPBudget": -1}}, "HLSConfig.Model.DSPBudget must be a whole number"),
    ({"Model": {"Multipliers": "auto"}}, "Multipliers: auto needs HLSConfig.Model.DSPBudget"),
    ({"Model": {"DSPBudget": 10}}, "DSPBudget applies only with Multipliers: auto"),
    ({"LayerName": {"g": {"DSPBudget": 10}}}, "unknown key 'DSPBudget' in HLSConfig.LayerName.g"),
])
def test_bad_multiplier_settings_are_refused_in_one_line(block4, tmp_path, hls, message):
    with pytest.raises(UserError) as e:
        _convert(block4, tmp_path, hls)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "prj").exists()


def test_an_hls_project_refuses_multipliers(block4, tmp_path):
    with pytest.raises(UserError, match=r"^HLSConfig.LayerName.g.Multipliers is for the rtl backend"):
        _convert(block4, tmp_path, {"LayerName": {"g": {"Multipliers": "packed"}}}, backend="vivado")
    assert not (tmp_path / "prj").exists()


def test_multipliers_on_a_dense_layer_are_refused(tmp_path):
    from garnet_hls.models.build import build_garnet_model

    keras.utils.set_random_seed(1)
    model = build_garnet_model(n_vertices=4, n_features=4, aggregators=(2,), filters=(2,), propagate=(2,),
                               dense=(2,), quantized=True)
    dense = next(layer.name for layer in model.layers if type(layer).__name__ == "QDense")
    with pytest.raises(UserError, match=f"HLSConfig.LayerName.{dense}.Multipliers does not apply"):
        _convert(model, tmp_path, {"LayerName": {dense: {"Multipliers": "lut"}}})


def test_auto_project_records_its_choice_and_writes_fabric_multipliers(block4, tmp_path):
    prj = _convert(block4, tmp_path, {"Model": {"Multipliers": "AUTO", "DSPBudget": 50}})
    meta = json.loads((prj / "garnet_project.json").read_text())
    m = meta["multipliers"]
    assert m["default"] == "auto" and m["dsp_budget"] == 50 and meta["dsp_slices"] <= 50
    assert m["layers"]["g"]["mode"] == "auto"
    n_lut = sum(open(p).read().count("multiplier_lut #(") for p in (prj / "src").glob("*_stage*.v"))
    assert n_lut == m["lut_products"] == m["layers"]["g"]["lut"] > 0
    assert (prj / "src" / "static" / "multiplier_lut.v").is_file()


# -- where the logic goes (report)


def test_breakdown_adds_up_to_the_trace_and_the_pipeline(block4, tmp_path):
    prj = _convert(block4, tmp_path, {"Model": {"Multipliers": "auto", "DSPBudget": 60}})
    meta = json.loads((prj / "garnet_project.json").read_text())
    rows = meta["breakdown"]
    assert set(rows) <= set(C.KINDS)
    other = rows.get("other", {"lut_estimate": 0, "dsp": 0, "reg_bits": 0})  # only constants go unattributed
    assert other["lut_estimate"] == other["dsp"] == other["reg_bits"] == 0
    assert sum(r["dsp"] for r in rows.values()) == meta["dsp_slices"] <= 60
    assert sum(r["reg_bits"] for r in rows.values()) == meta["reg_bits"]  # the pipeline's own register count
    assert abs(sum(r["lut_estimate"] for r in rows.values()) - meta["estimated_luts"]) < len(rows)
    prods = rows["variable products"]
    assert prods["lut_products"] == meta["multipliers"]["lut_products"] and prods["lut_estimate"] > 0
    assert rows["tables"]["lut_estimate"] > 0 and rows["constant matrices"]["lut_estimate"] > 0
    assert len(meta["stage_depths"]) == meta["latency_cycles"]
    assert all(0 < d <= meta["latency_cutoff"] for d in meta["stage_depths"])


def test_report_prints_the_breakdown_beside_yosys_kept_modules(block4, tmp_path, capsys):
    from pathlib import Path

    from garnet_hls.backends.rtl.report import format_breakdown
    from garnet_hls.backends.rtl.yosys import kept_modules
    from garnet_hls.toolchain.yosys import parse_stat, summarize

    text = (Path(__file__).parent / "data" / "yosys-stat" / "garnet_v4-rom-yosys0.23.txt").read_text()
    kept = kept_modules(text, "myproject")
    assert kept and all("lookup_table" in k and v["LUT"] > 0 and v["instances"] > 0 for k, v in kept.items())
    summary = summarize(parse_stat(text))
    assert sum(v["LUT"] * v["instances"] for v in kept.values()) < summary["LUT"]
    prj = _convert(block4, tmp_path, {"Model": {"Multipliers": "packed"}})
    meta = json.loads((prj / "garnet_project.json").read_text())
    out = format_breakdown(meta, {"summary": summary, "modules": kept})
    assert "variable products" in out and "g: packed (64 on DSPs, 32 packed pairs, 0 in fabric)" in out
    assert "Yosys: tables" in out and "not a timing result" in out


# -- folded designs (ReuseFactor > 1): the lane, aggregation and tail modules under the same policy


def test_folded_designs_build_every_choice_exactly():
    """Folded GarNet (8-bit: half its products pack) and a folded chain of two GravNet blocks: every choice gives
    the float64 Keras model's values in the folded emulator; lut uses no DSP, auto stays within its budget."""
    from garnet_hls.backends.rtl import folding
    from test_rtl_folded import CUTOFF, keras_reference
    from test_rtl_folded_gravnet import edge_events, gravnet_model

    garnet = (_block(8), _events(8, 120), 2, ["g"])
    gravnet = (gravnet_model(8, 3, 2, "l2", "relu", "mean", True, 1), edge_events(8, 3), 2, ["gravnet1", "gravnet2"])
    for model, data, lanes, names in (garnet, gravnet):
        ref = keras_reference(model, model.get_layer(names[-1]), data)
        dsps = {}
        for mode, budget in [("dsp", None), ("packed", None), ("lut", None), ("auto", 6)]:
            plan = folding.plan(model, lanes, CUTOFF, {"layers": {n: mode for n in names}, "dsp_budget": budget})
            for g, r in zip(folding.emulate(plan, data), ref):
                np.testing.assert_array_equal(g, np.asarray(r, dtype=np.float64).reshape(g.shape), err_msg=mode)
            dsps[mode] = sum(C.dsp_count(m.comb) for m in plan.modules)
            if mode != "dsp":
                (label, e), = plan.multipliers["layers"].items()
                assert label == ", ".join(names) and e["mode"] == mode
        assert dsps["lut"] == 0 < dsps["auto"] <= 6 < dsps["packed"] <= dsps["dsp"]
        if names == ["g"]:  # the 8 x 8-bit input products of the lanes pack two per DSP
            assert dsps["packed"] < dsps["dsp"] and plan.multipliers["layers"]["g"]["packed_pairs"] > 0


def test_folded_project_with_auto_is_exact_in_verilator(tmp_path):
    """convert with ReuseFactor 4 and Multipliers auto: packed pairs, DSP products and fabric products in the
    lane modules' Verilog, bit-exact against Keras in Verilator."""
    from garnet_hls.flows.compare import compare

    model = _block(8)
    prj = _convert(model, tmp_path, {"Model": {"Multipliers": "auto", "DSPBudget": 20, "ReuseFactor": 4}})
    meta = json.loads((prj / "garnet_project.json").read_text())
    m = meta["multipliers"]["layers"]["g"]
    assert meta["folded"] and meta["dsp_slices"] <= 20
    assert m["packed_pairs"] > 0 and m["lut"] > 0 and m["dsp"] > 0
    n_lut = sum(p.read_text().count("multiplier_lut #(") for p in (prj / "src").glob("*_stage*.v"))
    assert n_lut == meta["multipliers"]["lut_products"] == m["lut"]
    r = compare(model, prj, _events(8, 150), verilator=True)
    assert r.simulator.startswith("Verilator") and r.bit_exact


def test_a_folded_chain_takes_one_choice(tmp_path):
    from test_rtl_folded_gravnet import gravnet_model

    model = gravnet_model(8, 3, 2, "l2", "relu", "mean", True, 1)
    with pytest.raises(UserError) as e:
        _convert(model, tmp_path, {"Model": {"ReuseFactor": 4},
                                   "LayerName": {"gravnet1": {"Multipliers": "lut"}}})
    assert "builds the products of all its graph layers one way" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "prj").exists()
