"""garnet-hls estimate: the structural latency / resource model (docs/estimate.md).

Projects are converted once per session (conversion writes files only, no C++ build). The calibration
reports live in tests/data/vivado-reports (see PROVENANCE.md there).
"""

import ast
import copy
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from garnet_hls import estimate as E
from garnet_hls.errors import UserError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "tests" / "data" / "vivado-reports"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _convert(tmp, name, simplified=True, wide=True, reuse=4, pipeline_style=None):
    """A small GarNet model (V=16) converted with 16-bit kernels and 14-bit edge weights (so that the
    multiplications are wide enough for DSPs)."""
    from garnet_hls.flows.convert import convert
    from garnet_hls.models.build import build_model

    model = build_model("garnet", n_vertices=16, n_features=4, aggregators=(2, 4), filters=(4, 4), propagate=(4, 8),
                        dense=(8,), simplified=simplified)
    path = tmp / f"{name}.keras"
    model.save(path)
    layer = {"ReuseFactor": reuse}
    if wide:
        layer["Precision"] = {"kernel": "fixed<16,4>", "edge_weight": "ufixed<14,1>"}
    cfg = {"Backend": "Vivado", "Part": "xcku115-flvb2104-2-i", "ClockPeriod": 5, "IOType": "io_parallel",
           "HLSConfig": {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency"},
                         "LayerName": {"garnet": layer}}}
    if pipeline_style:
        cfg["HLSConfig"]["Model"]["PipelineStyle"] = pipeline_style
    (tmp / f"{name}.yml").write_text(yaml.safe_dump(cfg))
    return convert(path, tmp / f"{name}.yml", tmp / name)


@pytest.fixture(scope="session")
def small_project(tmp_path_factory):
    return _convert(tmp_path_factory.mktemp("est_small"), "simplified")


@pytest.fixture(scope="session")
def pipelined_top_project(tmp_path_factory):
    """The same small model with hls4ml's PIPELINE top (PipelineStyle: pipeline) instead of our DATAFLOW."""
    return _convert(tmp_path_factory.mktemp("est_pipe"), "simplified", pipeline_style="pipeline")


@pytest.fixture(scope="session")
def full_project(tmp_path_factory):
    return _convert(tmp_path_factory.mktemp("est_full"), "full", simplified=False)


@pytest.fixture(scope="session")
def paper_project(tmp_path_factory):
    from garnet_hls.flows.convert import convert
    from garnet_hls.models.build import build_preset_model
    from garnet_hls.models.presets import config_path

    d = tmp_path_factory.mktemp("est_paper")
    model = build_preset_model("garnet_paper")
    model.save(d / "model.keras")
    return convert(d / "model.keras", config_path("garnet_paper"), d / "prj")


def _kernel(est):
    return next(l for l in est.layers if l.kernel)


# ------------------------------------------------------------------------------------------------
# Reading the project
# ------------------------------------------------------------------------------------------------


def test_project_is_read_from_its_files(small_project):
    prj = E.load_project(small_project)
    assert prj.top_pragma == "dataflow"  # garnet-hls' default top, so that the kernels' reuse factor counts
    assert prj.part == "xcku115-flvb2104-2-i" and prj.clock_ns == 5
    funcs = [c.func for c in prj.calls]
    # one function per vertex pass: VertexIn of block 0, VertexOut of 0 fused with VertexIn of 1, then
    # VertexOut of the last block with the collapse accumulated in it; each block's aggregators between
    assert funcs[:5] == ["garnet_in", "garnet_agg", "garnet_mid", "garnet_agg", "garnet_out_collapse"]
    assert "dense" in funcs and "relu" in funcs
    s = prj.structs["config3_b1"]
    assert s.layer == "garnet"
    assert (s.consts["n_in"], s.consts["n_aggregators"], s.consts["n_propagate"], s.consts["reuse_factor"]) == (4, 4, 8, 4)
    ty = E._Types(prj)
    assert ty.member(s, "kernel_t") == E.FixedType(16, 4, True)
    assert ty.member(s, "edge_weight_t") == E.FixedType(14, 1, False)
    assert ty.resolve("config3_b0::output_t") == E.FixedType(16, 6, True)
    # the compact exp table (exp(-d^2) over |d|), partitioned completely in the top: logic, a copy per read
    exp = prj.tables["t3_exp"]
    assert 64 < exp.depth <= 1024 and exp.width == 14 and exp.impl == "logic"


def test_parse_type():
    assert E.parse_type("ap_fixed<16,6,AP_RND_CONV,AP_SAT>") == E.FixedType(16, 6, True)
    assert E.parse_type("ap_ufixed<18,1>") == E.FixedType(18, 1, False)
    assert E.parse_type("ap_uint<8>") == E.FixedType(8, 8, False)
    assert E.parse_type("garnet_hls::fixed_code<13, 5, true>") == E.FixedType(13, 5, True)
    assert E.parse_type("layer4_t") is None
    # one type and one parser for the whole package: hls4ml's spellings and wide C++ types read the same
    from garnet_hls.core.fixed import FixedType, parse_type
    assert E.FixedType is FixedType and E.parse_type is parse_type
    assert parse_type("fixed<16, 6, RND_CONV, SAT, 0>") == parse_type("nnet::ap_fixed<16,6>") == FixedType(16, 6, True)
    assert parse_type("int<8>").lsb == 1.0 and parse_type("ap_fixed<80,20>").width == 80
    assert parse_type("float") is None


# ------------------------------------------------------------------------------------------------
# Structure-driven behaviour
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ports", [E.TABLE_PORTS, None])
def test_smaller_reuse_factor_is_faster_and_bigger(small_project, ports):
    lat, dsp, lut = [], [], []
    for r in (16, 8, 4, 2, 1):  # decreasing R: more vertices in parallel
        k = _kernel(E.estimate_project(small_project, reuse=r, loops="honoured", table_ports=ports))
        lat.append(k.latency)
        dsp.append(k.dsp)
        lut.append(k.lut)
    assert all(a > b for a, b in zip(lat, lat[1:])), lat
    assert all(a < b for a, b in zip(dsp, dsp[1:])), dsp
    assert all(a < b for a, b in zip(lut, lut[1:])), lut


def test_pipelined_top_unrolls_the_kernel_loops(pipelined_top_project):
    """With hls4ml's pipelined top function the reuse factor of the kernels does not matter."""
    prj = E.load_project(pipelined_top_project)
    assert prj.top_pragma == "pipeline" and prj.top_ii == 1
    gen = [_kernel(E.estimate_project(pipelined_top_project, reuse=r)) for r in (1, 4, 16)]
    assert len({(k.latency, k.dsp, k.lut) for k in gen}) == 1
    unrolled = _kernel(E.estimate_project(pipelined_top_project, loops="unrolled"))
    assert (unrolled.latency, unrolled.dsp) == (gen[0].latency, gen[0].dsp)
    kept = _kernel(E.estimate_project(pipelined_top_project, loops="honoured"))
    assert (kept.latency, kept.dsp) != (gen[0].latency, gen[0].dsp)
    assert any("unrolls every loop" in n for n in E.estimate_project(pipelined_top_project).notes)
    # Strategy Latency: everything in one pipeline; the exp table is logic (a copy per read), so no
    # table port bounds the II: a new event every clock
    assert E.estimate_project(pipelined_top_project).interval == 1


def test_dataflow_top_honours_the_reuse_factor(small_project):
    """Our default DATAFLOW top keeps the kernels' pipelining: the reuse factor changes the estimate."""
    gen = [_kernel(E.estimate_project(small_project, reuse=r)) for r in (1, 4, 16)]
    assert len({(k.latency, k.dsp, k.lut) for k in gen}) == 3
    assert not any("unrolls every loop" in n for n in E.estimate_project(small_project).notes)


def test_dataflow_top_keeps_the_reuse_factor(small_project, tmp_path):
    prj = tmp_path / "df"
    shutil.copytree(small_project, prj)
    top = prj / "firmware" / "myproject.cpp"
    top.write_text(top.read_text().replace("#pragma HLS PIPELINE", "#pragma HLS DATAFLOW"))
    est = E.estimate_project(prj)
    assert est.top_pragma == "dataflow"
    kept = _kernel(E.estimate_project(small_project, loops="honoured"))
    k = _kernel(est)
    assert (k.latency, k.dsp) == (kept.latency, kept.dsp)
    # dataflow: every pass of the kernel is a process; the interval is the slowest one, not the sum
    assert est.interval == max(l.interval for l in est.layers) < k.latency
    passes = [r for r in k.regions if r["region"].startswith("Vertex")]
    assert [r["region"] for r in passes] == ["VertexIn", "VertexOutIn", "VertexOutCollapse"]
    assert est.interval < sum(r["latency_cycles"] for r in passes)


def test_table_ports_bound_the_interval(small_project, tmp_path):
    """Without its partition pragma the exp table is one 2-port ROM: the fused VertexOut/VertexIn pass of
    block 1 then reads V/R x A entries per iteration through 2 ports, and its II grows with V/R. As
    generated (a logic table, one copy per read) every pass runs at II 1."""
    prj = tmp_path / "rom"
    shutil.copytree(small_project, prj)
    top = prj / "firmware" / "myproject.cpp"
    top.write_text(top.read_text().replace("#pragma HLS ARRAY_PARTITION variable=t3_exp complete dim=1", ""))
    assert E.load_project(prj).tables["t3_exp"].impl == "rom"
    s = E.load_project(prj).structs["config3_b1"]  # A = 4
    for r in (1, 4, 16):
        est = E.estimate_project(prj, reuse=r, loops="honoured")
        region = next(x for x in _kernel(est).regions if x["region"] == "VertexOutIn")
        vr = s.consts["n_vertices"] // r
        assert region["ii"] == max(1, -(-vr * 4 // 2))
        gen = E.estimate_project(small_project, reuse=r, loops="honoured")
        assert all(x["ii"] == 1 for x in _kernel(gen).regions)
        (t,) = gen.tables
        assert t["implementation"] == "logic" and t["bram_18k"] == 0
        # one copy per read site: V/R x A reads per clock in each of the two passes that read it
        assert t["copies"] == vr * (2 + 4)


def test_dsp_counts_the_parallel_wide_multiplications(small_project):
    """Pass 1 instantiates V/R x (F (A + P) + A G) multipliers; with 16-bit inputs and kernels and 14-bit
    edge weights each takes one DSP (no table-port bound, so no sharing)."""
    prj = E.load_project(small_project)
    ty = E._Types(prj)
    dev = E.device_for(prj.part, prj.clock_ns)
    base = prj.structs["config3_b0"]

    def pass1_dsp(A, P, R):
        s = copy.deepcopy(base)
        s.consts.update(n_aggregators=A, n_propagate=P, n_g=P, n_h=P)
        region = E.garnet_regions(s, ty, dev, R)[0]
        return region.ops.resources(1, dev)[0]

    F, V = base.consts["n_in"], base.consts["n_vertices"]
    for A, P, R in ((2, 4, 4), (4, 4, 4), (2, 8, 4), (4, 8, 2), (8, 16, 16)):
        assert pass1_dsp(A, P, R) == (V // R) * (F * (A + P) + A * P), (A, P, R)
    assert pass1_dsp(4, 4, 4) > pass1_dsp(2, 4, 4) and pass1_dsp(2, 8, 4) > pass1_dsp(2, 4, 4)


def test_narrow_multiplications_use_no_dsp():
    dev = E.device_for("xcku115-flvb2104-2-i", 5)
    assert E.dsp_per_mult(E.FixedType(16, 6, True), E.FixedType(8, 1, True), dev) == 0
    assert E.dsp_per_mult(E.FixedType(16, 6, True), E.FixedType(16, 6, True), dev) == 1
    assert E.dsp_per_mult(E.FixedType(16, 6, True), E.FixedType(11, 1, True), dev) == 1
    assert E.dsp_per_mult(E.FixedType(35, 16, True), E.FixedType(18, 1, False), dev) > 1  # 19 > 18 bits
    assert E.dsp_per_mult(E.FixedType(35, 16, True), E.FixedType(18, 1, False), dev, const_power_of_two=True) == 0
    assert E.rom_bram18(4096, 10) == 3 and E.rom_bram18(1024, 18) == 1 and E.rom_bram18(16, 16) == 0


def test_full_mode_costs_more_than_simplified(small_project, full_project):
    for loops in ("auto", "honoured"):
        s = _kernel(E.estimate_project(small_project, loops=loops, table_ports=None))
        f = _kernel(E.estimate_project(full_project, loops=loops, table_ports=None))
        assert f.dsp > s.dsp and f.lut > s.lut and f.ff > s.ff and f.latency > s.latency
        assert f.multiplications > s.multiplications


def test_dense_model():
    dev = E.device_for("xcku115-flvb2104-2-i", 5)
    w16, w8 = E.FixedType(16, 6, True), E.FixedType(8, 1, True)
    d1 = E.dense_estimate(16, 8, 1, w16, w16, w16, dev)
    d4 = E.dense_estimate(16, 8, 4, w16, w16, w16, dev)
    assert (d1["dsp"], d4["dsp"]) == (128, 32)
    assert d4["latency"] == d1["latency"] + 3 and d4["interval"] == 4
    assert E.dense_estimate(16, 8, 1, w16, w16, w16, dev, n_nonzeros=100)["dsp"] == 100
    assert E.dense_estimate(16, 8, 1, w16, w8, w16, dev)["dsp"] == 0


_GRAVNET_PARAMETERS = textwrap.dedent("""\
    // gravnet1
    struct config3 {
        static const unsigned n_vertices = 64;
        static const unsigned n_in = 4;
        static const unsigned n_dimensions = 4;
        static const unsigned n_propagate = 8;
        static const unsigned n_neighbours = 8;
        static const unsigned n_z = 20;
        static const unsigned n_out = 16;
        static const bool l1 = false;
        static const unsigned activation = 0;
        static const unsigned reuse_factor = 16;
        static const unsigned n_pad = 64;
        static const unsigned n_block = 8;
        static const unsigned log_block = 3;
        static const unsigned n_levels = 3;
        static const unsigned index_bits = 6;
        static const bool sort_final = false;
        typedef ap_fixed<16,6,AP_RND_CONV,AP_SAT> input_t;
        typedef ap_fixed<8,1> kernel_t;
        typedef ap_ufixed<18,1> recip_t;
        typedef ap_fixed<29,12> pre_t;
        typedef ap_fixed<16,6,AP_RND_CONV,AP_SAT> output_t;
        // code formats (firmware/gravnet.h)
        typedef garnet_hls::fixed_code<16, 6, true> input_c;
        typedef garnet_hls::fixed_code<8, 1, true> kernel_c;
        typedef garnet_hls::fixed_code<12, 4, true> coord_c;
        typedef garnet_hls::fixed_code<16, 6, true> feature_c;
        typedef garnet_hls::fixed_code<12, 4, false> distance_c;
        typedef garnet_hls::fixed_code<10, 1, false> edge_weight_c;
        typedef garnet_hls::fixed_code<13, 5, true> diff_c;
        typedef garnet_hls::fixed_code<26, 10, false> dist_sum_c;
    };
    """)


def test_gravnet_kernel_from_its_config_struct():
    structs = E.parse_parameters(_GRAVNET_PARAMETERS)
    s = structs["config3"]
    assert s.layer == "gravnet1" and s.consts["n_pad"] == 64
    prj = E.Project(Path("."), "myproject", {}, "xcku115-flvb2104-2-i", 5.0, None, "io_parallel", "dataflow", 1,
                    structs, {}, [], {})
    ty, dev = E._Types(prj), E.device_for(prj.part, 5.0)
    from garnet_hls.backends.hls.gravnet import topk_network_cost  # the generator's count (imports hls4ml; tests may)

    assert E.topk_network(64, 8, 3, 3, False) == topk_network_cost(64, 8) == (320, 15)
    lat, dsp = [], []
    for r in (16, 4, 1):
        regions = E.gravnet_regions(s, ty, dev, r)
        assert [x.name for x in regions] == ["VertexIn", "Query"]
        # the squared distances (13 x 13 bits) are the only DSP multiplications: V/R x N x S of them
        assert regions[1].ops.n_dsp_mult == (64 // r) * 64 * 4
        assert regions[1].reads == {"exp_table": (64 // r) * 8}
        latency, d, *_ = E._schedule_regions(regions, dev, False, None)  # None: no table port limit
        lat.append(latency)
        dsp.append(d)
    assert lat[0] > lat[1] > lat[2] and dsp[0] < dsp[1] < dsp[2]
    # l1 distance: no squares, no DSP
    s_l1 = copy.deepcopy(s)
    s_l1.consts["l1"] = True
    assert E.gravnet_regions(s_l1, ty, dev, 4)[1].ops.n_dsp_mult == 0


# ------------------------------------------------------------------------------------------------
# Output: table, JSON, plot, nvtx
# ------------------------------------------------------------------------------------------------


def test_cli_table_json_and_plot(small_project, tmp_path, capsys):
    from garnet_hls.cli import main

    js, png = tmp_path / "e.json", tmp_path / "e.png"
    assert main(["estimate", str(small_project), "--json", str(js), "--plot", str(png), "--reuse", "1,4,16"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(E.BANNER)
    assert "est. latency [cycles]" in out and "est. DSP" in out and "total (estimate)" in out
    for name in ("garnet", "dense1", "relu1", "class_logit", "energy"):
        assert f"\n  {name} " in out
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10000

    data = json.loads(js.read_text())

    def keys(o):
        if isinstance(o, dict):
            for k, v in o.items():
                yield k
                yield from keys(v)
        elif isinstance(o, list):
            for v in o:
                yield from keys(v)

    all_keys = list(keys(data))
    assert len(all_keys) > 50 and all(k.startswith("estimated_") for k in all_keys)
    assert data["estimated_banner"] == E.BANNER
    est = E.estimate_project(small_project)
    assert data["estimated_total"]["estimated_dsp"] == est.dsp == sum(l.dsp for l in est.layers)
    sweep = data["estimated_reuse_sweep"]["estimated_layers"][0]
    assert sweep["estimated_reuse_factors"] == [1, 4, 16]


def test_latency_does_not_depend_on_nvtx(small_project):
    data = E.estimate_project(small_project).to_json()
    assert data["estimated_latency_depends_on_nvtx"] is False
    for entry in data["estimated_layers"] + [data["estimated_total"]]:
        assert entry["estimated_latency_cycles_min"] == entry["estimated_latency_cycles_max"]
    assert any("minimum = maximum" in n for n in data["estimated_notes"])


def test_paper_model_is_estimated_from_files_only(paper_project, tmp_path):
    """The estimate reads the project's text files; it must not import hls4ml, TensorFlow, QKeras or numpy.
    Run it in a fresh interpreter where those imports fail, on a copy holding only the files it reads."""
    prj = tmp_path / "prj"
    (prj / "firmware" / "weights").mkdir(parents=True)
    for f in ("garnet_project.json", "hls4ml_config.yml", "firmware/parameters.h", "firmware/defines.h",
              "firmware/myproject.cpp", "firmware/weights/t3_exp.h", "firmware/weights/t3_recip.h",
              "firmware/weights/t3_tanh.h"):
        shutil.copy(paper_project / f, prj / f)
    code = textwrap.dedent(f"""
        import sys, types, json, time
        for m in ("hls4ml", "tensorflow", "tf_keras", "keras", "qkeras", "numpy", "yaml"):
            sys.modules[m] = None  # any import of these raises ImportError
        pkg = types.ModuleType("garnet_hls")
        pkg.__path__ = [{str(REPO / "garnet_hls")!r}]
        sys.modules["garnet_hls"] = pkg  # skip the package __init__ (it imports TensorFlow)
        from garnet_hls import estimate
        t = time.perf_counter()
        est = estimate.estimate_project({str(prj)!r})
        print(json.dumps(dict(seconds=time.perf_counter() - t, total=est.to_json()["estimated_total"])))
        """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    print(f"garnet_paper estimate took {1000 * result['seconds']:.1f} ms")  # measured, not asserted
    assert result["total"] == E.estimate_project(paper_project).to_json()["estimated_total"]


ESTIMATE_MODULES = ("estimate", "estimate.model", "estimate.files", "estimate.kernels", "estimate.calibration",
                    "estimate.report")


def _estimate_source(name):
    base = REPO / "garnet_hls" / Path(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


@pytest.mark.parametrize("name", ESTIMATE_MODULES)
def test_module_imports_only_light_modules(name):
    tree = ast.parse(_estimate_source(name).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    heavy = {m for m in imported if m.split(".")[0] in ("hls4ml", "tensorflow", "tf_keras", "keras", "qkeras", "numpy")
             or m.startswith("garnet_hls.backends.hls") or m in ("garnet_hls.flows.convert", "garnet_hls.layers")}
    assert not heavy, heavy
    top_level = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in tree.body
                 if isinstance(n, (ast.Import, ast.ImportFrom))}
    assert top_level <= {"__future__", "json", "math", "re", "time", "dataclasses", "pathlib", "typing",
                         "garnet_hls.errors", "garnet_hls.core.fixed"} | {f"garnet_hls.{m}" for m in ESTIMATE_MODULES}, top_level


def test_estimate_is_split_by_concern():
    """architecture.md: no estimator module over ~800 lines."""
    for name in ESTIMATE_MODULES:
        assert len(_estimate_source(name).read_text().splitlines()) < 800, name


def test_paper_model_estimate(paper_project):
    est = E.estimate_project(paper_project)
    k = _kernel(est)
    assert (k.name, k.kind, k.reuse_factor) == ("garnet", "GarNetStack", 32)
    # 8-bit kernels: the products by weights are LUTs; the two products of variables (w g and w hw) are
    # bound to DSPs by garnet.h: V/R in flight per clock, each used R times
    per_event = 128 * (4 * 8 + 8 * 4) + 128 * (4 * 8 + 8 * 4) + 128 * (8 * 16 + 16 * 8)
    assert k.dsp_multiplications == per_event and k.multiplications > per_event
    assert est.dsp >= per_event // 32  # one DSP each, two for a product wider than 27 x 18
    # one compact exp table (675 x 10 bits) read V x A times per block, built as logic: a copy per read
    # site (V/R x A per clock in each block), no block RAM
    (t,) = est.tables
    assert (t["table"], t["implementation"], t["depth"], t["bram_18k"]) == ("t3_exp", "logic", 675, 0)
    assert t["reads_per_inference"] == 128 * 16 and t["copies"] == 4 * 16
    # DATAFLOW top: the interval is the slowest pass (about R clocks), far below the latency
    assert est.interval == max(layer.interval for layer in est.layers)
    assert 32 < est.interval < 64 and est.latency > 4 * 32
    assert est.bram_18k == 0


# ------------------------------------------------------------------------------------------------
# Calibration
# ------------------------------------------------------------------------------------------------


def test_calibration_points_stay_within_their_documented_bounds():
    rows = E.calibration_table(SHARED)
    assert len(rows) >= 50
    quantities = {r["quantity"] for r in rows}
    assert {"latency_cycles", "dsp", "dsp_share_narrow", "lut", "ff", "bram_18k"} <= quantities
    for r in rows:
        assert r["error"] is not None and r["real"] is not None, r
        assert abs(r["error"]) <= r["bound"], r
    # the bounds are the measured maxima (rounded up to 0.01), not looser numbers
    for q, s in E.calibration_summary(rows).items():
        assert E.CALIBRATION_BOUNDS[q] - 0.01 < s["max_abs"] <= E.CALIBRATION_BOUNDS[q], (q, s)


def test_calibration_reads_the_real_reports():
    rows = E.calibration_table(SHARED)
    dense16x5 = {r["quantity"]: r for r in rows if r["layer"] == "Dense 16->5"}
    assert (dense16x5["latency_cycles"]["real"], dense16x5["dsp"]["real"]) == (7, 73)
    assert (dense16x5["latency_cycles"]["estimated"], dense16x5["dsp"]["estimated"]) == (6, 80)
    whole = next(r for r in rows if r["module"] == "myproject (top)")
    assert whole["real"] == 471


def test_calibration_finds_the_reports_of_a_source_checkout():
    """calibration_table() with no directory reads tests/data/vivado-reports of the checkout it runs from."""
    assert E.default_reports_dir() == SHARED
    assert E.calibration_table() == E.calibration_table(SHARED)


def test_documentation_lists_the_calibration():
    doc = (REPO / "docs" / "estimate.md").read_text()
    assert "ESTIMATE" in doc and "uncalibrated" in doc
    for q, bound in E.CALIBRATION_BOUNDS.items():
        assert q in doc
        assert f"{100 * bound:.0f} %" in doc or f"{bound:.2f}" in doc, q


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_errors_for_bad_projects(tmp_path, small_project, capsys):
    from garnet_hls.cli import main
    from garnet_hls.flows.estimate import _parse_reuse_list

    with pytest.raises(UserError, match="missing does not exist"):
        E.estimate_project(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a garnet-hls project"):
        E.estimate_project(tmp_path / "empty")
    broken = tmp_path / "broken"
    shutil.copytree(small_project, broken)
    (broken / "firmware" / "parameters.h").unlink()
    with pytest.raises(UserError, match="parameters.h is missing"):
        E.estimate_project(broken)
    with pytest.raises(UserError, match="does not divide"):
        E.estimate_project(small_project, reuse=3)
    with pytest.raises(UserError, match="do not divide"):
        E.reuse_sweep(small_project, [1, 5])
    with pytest.raises(UserError, match="comma-separated integers"):
        _parse_reuse_list("1,x")

    assert main(["estimate", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a garnet-hls project" in err
    assert main(["estimate", str(small_project), "--plot", str(tmp_path / "p.png"), "--reuse", "3"]) == 1
    assert "do not divide" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# garnet-hls report PROJECT --estimate
# ------------------------------------------------------------------------------------------------

REAL_CSYNTH = REPO / "tests" / "data" / "vivado-reports" / "fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5" / "myproject_csynth.xml"


def test_report_prints_synthesis_beside_the_estimate(small_project, tmp_path, capsys):
    """A real C-synthesis report copied into a project (where garnet-hls synth would leave it) is printed
    beside the project's estimate with estimate / synthesis ratios. (The report is of another design, the
    hls4ml test Dense 16->5 on a 7z020: what is tested is that the numbers are the report's, read by the
    parser, and the estimate's, and the ratios theirs.)"""
    from garnet_hls.cli import main
    from garnet_hls.toolchain.hls_csynth import parse_csynth_xml

    prj = tmp_path / "prj"
    shutil.copytree(small_project, prj)
    rdir = prj / "myproject_prj" / "solution1" / "syn" / "report"
    rdir.mkdir(parents=True)
    shutil.copy(REAL_CSYNTH, rdir / "myproject_csynth.xml")
    assert main(["report", str(prj), "--estimate"]) == 0
    out = capsys.readouterr().out
    real = parse_csynth_xml(REAL_CSYNTH)
    assert (real.latency_worst, real.interval_max, real.resources["DSP"], real.resources["LUT"]) == (10, 8, 73, 2532)
    est = E.estimate_project(prj)
    assert E.BANNER in out and "estimate / synthesis" in out
    table = out.split("estimate / synthesis\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]  # below the rule
    rows = {line.split("  ")[1].strip(): line.split() for line in table}
    assert len(rows) == 6
    assert rows["latency [cycles]"][2:] == ["10", f"{est.latency:,}", f"{est.latency / 10:.2f}"]
    assert rows["interval [cycles]"][2:] == ["8", f"{est.interval:,}", f"{est.interval / 8:.2f}"]
    assert rows["DSP"][1:] == ["73", f"{est.dsp:,}", f"{est.dsp / 73:.2f}"]
    assert rows["LUT"][1:] == ["2,532", f"{est.lut:,}", f"{est.lut / 2532:.2f}"]
    assert rows["BRAM_18K"][1:] == ["0", f"{est.bram_18k:,}", "-"]  # no ratio to 0
    assert "is not the project's xcku115" in out  # the report's part differs from the project's
    # the synthesis summary itself follows
    assert "myproject" in out.split("estimate / synthesis", 1)[1]


def test_report_estimate_without_synthesis_report(small_project, capsys):
    from garnet_hls.cli import main

    assert main(["report", str(small_project), "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "no C-synthesis report" in out and E.BANNER in out
