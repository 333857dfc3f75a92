"""``garnet-hls estimate PROJECT``: latency, interval and DSP / LUT / FF / BRAM of a generated project,
without any vendor tool. Every number here is an ESTIMATE, not a synthesis result.

The estimate is derived from the files of the generated project only (``garnet_project.json``,
``hls4ml_config.yml``, ``firmware/parameters.h``, ``firmware/defines.h``, ``firmware/<top>.cpp``): loop
structure of our kernels (``firmware/garnet.h``, ``firmware/gravnet.h``, ``graph_collapse``), reuse
factors, the top function's pipeline pragma and the widths of every type. It imports neither hls4ml nor
TensorFlow and runs in milliseconds. The command (``garnet_hls.flows.estimate``) asks the project's backend
(``garnet_hls.backends.registry``), whose HLS backends call :func:`estimate_project`. The model, its assumptions and its measured error against every
real report we have are in ``docs/estimate.md``; :func:`calibration_table` recomputes that comparison.

Model in brief (numbers per family in :data:`FAMILIES`):

* A multiplication goes to DSP blocks when both operands are wider than :data:`LUT_MULT_MAX_BITS` bits
  (one DSP48 for <= 27x18 / 25x18 signed, more for wider operands), else to LUTs. Multiplying by a power
  of two is free.
* Latency of a pipelined region = (trip count - 1) x II + depth, where depth counts multiplier pipeline
  stages and adder-tree levels per clock (family dependent), table reads 1 cycle. II is 1 unless a
  table (a ROM with 2 ports, indexed by data) is read more than twice per iteration. When II > 1 the
  operators are shared over the II cycles.
* A top function with ``#pragma HLS PIPELINE`` (hls4ml's io_parallel default) unrolls every loop below
  it, our kernels' reuse-factor loops included: the kernels are then estimated fully unrolled.
* LUT = adders (1 LUT per bit), comparators, muxes, LUT multipliers (~0.25 w_a w_b for constant,
  ~0.5 w_a w_b for variable operands); FF = (family factor) x sum of operator output bits + storage.
  BRAM = ROM tables larger than 1 kbit, counted in 18 Kb blocks by aspect ratio.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError

# The estimator by concern (this module: estimate_project, the output and the R sweep; all names of the
# others are re-exported here; the command is garnet_hls.flows.estimate):
#   estimate_model        types, device families, operators, regions, table costs, scheduling, Dense
#   estimate_files        reading a project's files (config structs, top function, table pragmas)
#   estimate_kernels      the regions of every GarNet / GravNet kernel function
#   estimate_calibration  the comparison with real reports (docs/estimate.md, "Calibration")
#   estimate_report       `garnet-hls report PROJECT --estimate`
from garnet_hls.estimate.calibration import *  # noqa: F401,F403,E402  (calibration_table, ...)
from garnet_hls.estimate.calibration import _rel, default_reports_dir  # noqa: F401,E402
from garnet_hls.estimate.files import *  # noqa: F401,F403,E402  (load_project, Project, Struct, ...)
from garnet_hls.estimate.files import _TABLE_ARGS, _kernel_tables, _Types  # noqa: F401,E402
from garnet_hls.estimate.kernels import *  # noqa: F401,F403,E402  (garnet_regions, gravnet_regions, ...)
from garnet_hls.estimate.kernels import _merge, _recip_constant_is_power_of_two  # noqa: F401,E402
from garnet_hls.estimate.model import *  # noqa: F401,F403,E402  (FixedType, Device, Ops, Region, ...)
from garnet_hls.estimate.model import (  # noqa: F401,E402
    _bits, _grid, _levels, _mux_lut, _reads_list, _schedule_regions, _signed_width)

_ELEMENTWISE = {"relu", "linear", "leaky_relu", "thresholded_relu", "hard_sigmoid", "hard_tanh", "binary_tanh",
                "ternary_tanh", "prelu"}
_TABLE_ACTS = {"sigmoid", "tanh", "softmax", "softplus", "softsign", "elu", "selu"}


@dataclass
class LayerEstimate:
    name: str
    kind: str
    function: str
    reuse_factor: int | None
    latency: int
    interval: int
    dsp: int
    lut: int
    ff: int
    bram_18k: int
    multiplications: int = 0
    dsp_multiplications: int = 0
    regions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernel: bool = False
    modelled: bool = True

    def to_json(self, clock_ns: float) -> dict[str, Any]:
        return {
            "estimated_layer": self.name,
            "estimated_kind": self.kind,
            "estimated_functions": self.function,
            "estimated_reuse_factor": self.reuse_factor,
            "estimated_latency_cycles_min": self.latency,
            "estimated_latency_cycles_max": self.latency,
            "estimated_latency_ns_min": round(self.latency * clock_ns, 3),
            "estimated_latency_ns_max": round(self.latency * clock_ns, 3),
            "estimated_interval_cycles": self.interval,
            "estimated_dsp": self.dsp,
            "estimated_lut": self.lut,
            "estimated_ff": self.ff,
            "estimated_bram_18k": self.bram_18k,
            "estimated_multiplications": self.multiplications,
            "estimated_dsp_multiplications": self.dsp_multiplications,
            "estimated_regions": [{f"estimated_{k}": v for k, v in r.items()} for r in self.regions],
            "estimated_modelled": self.modelled,
            "estimated_notes": list(self.notes),
        }


# ------------------------------------------------------------------------------------------------
# Scheduling and totals
# ------------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    project: str
    part: str
    family: str
    family_calibrated: bool
    clock_ns: float
    top_pragma: str
    top_ii: int
    io_type: str
    layers: list[LayerEstimate]
    latency: int
    interval: int
    dsp: int
    lut: int
    ff: int
    bram_18k: int
    tables: list[dict[str, Any]]
    notes: list[str]
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "estimated_banner": BANNER,
            "estimated_model": MODEL_NAME,
            "estimated_project": self.project,
            "estimated_part": self.part,
            "estimated_device_family": self.family,
            "estimated_device_family_calibrated": self.family_calibrated,
            "estimated_clock_ns": self.clock_ns,
            "estimated_top_pragma": self.top_pragma,
            "estimated_top_ii": self.top_ii,
            "estimated_io_type": self.io_type,
            "estimated_latency_depends_on_nvtx": False,
            "estimated_layers": [l.to_json(self.clock_ns) for l in self.layers],
            "estimated_tables": [{f"estimated_{k}": v for k, v in t.items()} for t in self.tables],
            "estimated_total": {
                "estimated_latency_cycles_min": self.latency,
                "estimated_latency_cycles_max": self.latency,
                "estimated_latency_ns_min": round(self.latency * self.clock_ns, 3),
                "estimated_latency_ns_max": round(self.latency * self.clock_ns, 3),
                "estimated_interval_cycles": self.interval,
                "estimated_dsp": self.dsp,
                "estimated_lut": self.lut,
                "estimated_ff": self.ff,
                "estimated_bram_18k": self.bram_18k,
            },
            "estimated_notes": list(self.notes),
        }


def estimate_project(project_dir: str | Path, reuse: dict[str, int] | int | None = None,
                     loops: str = "auto", table_ports: int | None = TABLE_PORTS) -> Estimate:
    """Estimate a garnet-hls project from its files.

    reuse: override the reuse factor of the GarNet/GravNet layers (an int for all, or {layer: R}).
    loops: "auto" (from the top function's pragma: PIPELINE unrolls the kernels' loops), "honoured"
      (as under a DATAFLOW top: the kernels' reuse-factor loops are kept) or "unrolled".
    table_ports: read ports of a data-indexed table (None: unlimited, i.e. replicated tables).
    """
    t0 = time.perf_counter()
    prj = load_project(project_dir)
    dev = device_for(prj.part, prj.clock_ns, prj.uncertainty_ns)
    ty = _Types(prj)
    unrolled = prj.top_pragma == "pipeline" if loops == "auto" else loops == "unrolled"
    kinds = {n: (d or {}).get("type", "") for n, d in (prj.meta.get("layers") or {}).items()}
    notes: list[str] = []
    if prj.io_type != "io_parallel":
        notes.append(f"IOType is {prj.io_type}; the model is for io_parallel projects")

    layers: dict[str, LayerEstimate] = {}
    order: list[str] = []
    table_reads: dict[str, int] = {}
    table_users: dict[str, set[str]] = {}
    table_sites: dict[tuple[str, str], int] = {}  # (layer, table) -> read sites (copies of a logic table)
    prev_out: FixedType | None = None
    kernel_count = 0

    def layer_of(call: Call, struct: Struct | None) -> LayerEstimate:
        name = (struct.layer if struct and struct.layer else None) or call.comment or call.func
        if name not in layers:
            layers[name] = LayerEstimate(name, kinds.get(name, call.func), call.func, None, 0, 1, 0, 0, 0, 0)
            order.append(name)
        le = layers[name]
        if call.func not in le.function.split("+"):
            le.function += "+" + call.func
        return le

    def ports_of(name: str) -> int | None:
        t = prj.tables.get(name)
        if table_ports is None or (t is not None and t.impl in ("logic", "rom_np")):
            return None
        return table_ports

    def add_kernel(le: LayerEstimate, cfg_name: str, regions: list[Region], tabs: dict[str, str]) -> tuple[int, int]:
        ports = {t: ports_of(t) for r in regions for t in r.reads}
        lat, dsp, lut, ff, ii, reads, sites, details = _schedule_regions(regions, dev, unrolled, ports)
        for t, n in reads.items():
            table_reads[t] = table_reads.get(t, 0) + n
            table_users.setdefault(t, set()).add(le.name)
        for t, n in sites.items():
            key = (le.name, t)
            table_sites[key] = table_sites.get(key, 0) + n
        call_latency = lat + (0 if unrolled else 1)  # + call handshake
        le.latency += call_latency
        # each kernel function is a process of the DATAFLOW top: the layer's interval is its slowest one
        le.interval = max(le.interval, ii if unrolled else call_latency)
        le.dsp, le.lut, le.ff = le.dsp + dsp, le.lut + lut, le.ff + ff
        le.multiplications += sum(r.ops.n_mult * r.iterations for r in regions)
        le.dsp_multiplications += sum(r.ops.n_dsp_mult * r.iterations for r in regions)
        le.regions += [dict(call=cfg_name, **d) for d in details]
        if unrolled and ii > 1:
            reads_txt = ", ".join(f"{t}: {n}" for t, n in reads.items())
            le.notes.append(f"{cfg_name}: II {ii} set by table ports ({reads_txt} reads per call, "
                            f"{table_ports} ports); operators shared over the II")
        for d in ([] if unrolled else details):
            if d["ii"] > 1:
                reads_txt = ", ".join(f"{t['estimated_table']}: {t['estimated_reads']}" for t in d["table_reads"])
                le.notes.append(f"{cfg_name} {d['region']}: II {d['ii']} set by table ports ({reads_txt} reads "
                                f"per iteration, {table_ports} ports)")
        return call_latency, ii

    for call in prj.calls:
        cfg_names = [a.split("::")[-1] for a in call.targs if a.split("::")[-1] in prj.structs]
        if call.func in GARNET_PASSES:
            cfg_names = [a.split("::")[-1] for a in call.targs if a.split("::")[-1].endswith(tuple(
                f"_b{b}" for b in range(64)))] or cfg_names
        cfg_name = cfg_names[0] if cfg_names else (call.targs[-1].split("::")[-1] if call.targs else "")
        s = prj.structs.get(cfg_name)
        le = layer_of(call, s)
        if s is None:
            le.modelled = False
            le.notes.append(f"{call.ns}::{call.func}: config {cfg_name!r} not found in parameters.h; not modelled")
            continue
        if call.func in KERNEL_FUNCS:
            if call.func in ("garnet_in", "gravnet_in"):
                kernel_count += 1
            le.kernel = True
            R0 = s.consts.get("reuse_factor", 1)
            V = s.consts["n_vertices"]
            R = reuse.get(le.name, R0) if isinstance(reuse, dict) else (reuse or R0)
            if V % R:
                raise UserError(f"reuse factor {R} does not divide n_vertices = {V} of layer {le.name}")
            le.reuse_factor = R
            tabs = _kernel_tables(call)
            if call.func in GRAVNET_PASSES:
                both = gravnet_regions(s, ty, dev, 1 if unrolled else R, (tabs.get("exp", "exp_table"),
                                       tabs.get("recip", "recip_table"), tabs.get("tanh", "tanh_table")))
                regions = [both[0]] if call.func == "gravnet_in" else [both[1]]
            else:
                cfgs = [prj.structs[n] for n in cfg_names]
                collapse = next((prj.structs[a.split("::")[-1]] for a in call.targs
                                 if a.split("::")[-1].endswith("_collapse") and a.split("::")[-1] in prj.structs), None)
                regions = garnet_pass_regions(call.func, cfgs, ty, dev, 1 if unrolled else R, tabs, collapse)
            add_kernel(le, "+".join(cfg_names), regions, tabs)
            prev_out = ty.member(prj.structs[cfg_names[-1]], "output_t")
        elif call.func == "graph_collapse":
            in_t = ty.resolve(call.targs[0]) if call.targs else prev_out
            regions = collapse_regions(s, ty, dev, True, in_t, call.args[-1] if call.args else "recip_table")
            add_kernel(le, cfg_name, regions, {})
        elif call.func == "dense":
            c = s.consts
            R = int(c.get("reuse_factor", 1))
            strategy = str(c.get("strategy", "nnet::latency")).split("::")[-1]
            t_in = ty.resolve(call.targs[0]) or FixedType(16, 6, True)
            t_w = ty.member(s, "weight_t")
            t_acc = ty.member(s, "accum_t")
            d = dense_estimate(c["n_in"], c["n_out"], R, t_in, t_w, t_acc, dev, c.get("n_nonzeros"), strategy)
            le.reuse_factor = R
            le.latency += d["latency"]
            le.interval = max(le.interval, d["interval"])
            le.dsp, le.lut, le.ff = le.dsp + d["dsp"], le.lut + d["lut"], le.ff + d["ff"]
            le.multiplications += d["multiplications"]
            le.dsp_multiplications += d["dsp_multiplications"]
            if c.get("store_weights_in_bram"):
                le.bram_18k += rom_bram18(c["n_in"] * c["n_out"] // max(1, R), t_w.width * R)
        elif call.func in _ELEMENTWISE or call.func in _TABLE_ACTS or call.func == "normalize":
            c = s.consts
            n = int(c.get("n_in", 1))
            t_in = ty.resolve(call.targs[0]) if call.targs else None
            t_out = ty.resolve(call.targs[1]) if len(call.targs) > 1 else None
            w = (t_out or t_in or FixedType(16, 6, True)).width
            o = Ops()
            reads = 0
            if call.func in _TABLE_ACTS:
                o.rnd(n, w)
                reads = n
                tab_t = ty.member(s, "table_t", FixedType(18, 8, True))
                size = int(c.get("table_size", c.get("exp_table_size", 1024)))
                le.bram_18k += rom_bram18(size, tab_t.width) * (2 if call.func == "softmax" else 1)
                le.lut += rom_lut(size, tab_t.width)
            elif call.func == "normalize":
                o.mul(n, t_in or FixedType(16, 6, True), ty.member(s, "scale_t"), dev, const=True)
                o.add(n, w)
            elif call.func == "leaky_relu":
                o.mul(n, t_in or FixedType(16, 6, True), FixedType(16, 6, True), dev, const=True)
                o.cmp_mux(n, w)
            elif call.func == "linear":
                o.rnd(n, w)
            else:
                o.cmp_mux(n, w)
            ii = max(1, math.ceil(reads / table_ports)) if (reads and table_ports) else 1
            dsp, lut, ff = o.resources(ii, dev)
            le.latency += max(dev.act_cycles, 1 if reads else 0) + (ii - 1)
            le.interval = max(le.interval, ii)
            le.dsp, le.lut, le.ff = le.dsp + dsp, le.lut + lut, le.ff + ff
            if ii > 1:
                le.notes.append(f"{call.func}: {reads} table reads per call on {table_ports} ports: II {ii}")
        else:
            le.modelled = False
            le.notes.append(f"{call.ns}::{call.func} is not modelled (counted as 0)")

    # Tables of our kernels (docs/estimate.md, "Tables"): a ROM is one copy per distinct array in the top
    # function (2 ports); a logic table is one copy per read site; a replicated ROM (rom_np) one copy per
    # two read sites.
    tables_out = []
    for name, t in prj.tables.items():
        if t.depth <= 1 or name not in table_users:
            continue
        users = sorted(table_users[name])
        if t.impl == "logic" or t.impl == "rom_np":
            per_layer = {u: table_sites.get((u, name), 0) for u in users}
            sites = sum(per_layer.values())
            if t.impl == "logic":
                copies = sites
                b, lr = 0, sites * logic_table_lut(t.depth, t.width)
                for u in users:
                    layers[u].lut += per_layer[u] * logic_table_lut(t.depth, t.width)
            else:
                copies = sum(math.ceil(n / 2) for n in per_layer.values())
                b = copies * rom_bram18(t.depth, t.width)
                lr = copies * rom_lut(t.depth, t.width)
                for u in users:
                    layers[u].bram_18k += math.ceil(per_layer[u] / 2) * rom_bram18(t.depth, t.width)
                    layers[u].lut += math.ceil(per_layer[u] / 2) * rom_lut(t.depth, t.width)
        else:
            copies = 1
            b = rom_bram18(t.depth, t.width)
            lr = rom_lut(t.depth, t.width)
            share = max(1, len(users))
            for u in users:  # attribute the ROM to the layers that read it
                layers[u].bram_18k += b // share + (1 if users.index(u) < b % share else 0)
                layers[u].lut += lr // share
        tables_out.append(dict(table=name, depth=t.depth, width=t.width, implementation=t.impl, copies=copies,
                               bram_18k=b, lut=lr, reads_per_inference=table_reads.get(name, 0), layers=users))

    est_layers = [layers[n] for n in order]
    io_cycles = 1  # ap_vld input/output registers of the top function
    latency = sum(l.latency for l in est_layers) + io_cycles
    if prj.top_pragma == "pipeline":
        interval = max([prj.top_ii] + [l.interval for l in est_layers])
        for name, n in table_reads.items():
            p = ports_of(name)
            if p and len(table_users.get(name, ())) and n:
                interval = max(interval, math.ceil(n / p))
    elif prj.top_pragma == "dataflow":
        # every kernel function and hls4ml layer is a process; a new inference enters when the slowest is free
        interval = max([1] + [l.interval for l in est_layers])
    else:
        interval = latency + 1

    if kernel_count and unrolled and loops == "auto":
        notes.append(
            f"{prj.name}.cpp pipelines the top function (#pragma HLS PIPELINE): HLS unrolls every loop below a "
            "pipelined function (UG1399 'Function Pipelining'), so the GarNet/GravNet reuse-factor loops are "
            "estimated fully unrolled and the reuse factor does not reduce their resources. A DATAFLOW top "
            "(hls4ml PipelineStyle: dataflow) keeps them; see the --plot sweep")
    if any(t["implementation"] == "rom" and t["reads_per_inference"] > (table_ports or 10**9) for t in tables_out):
        notes.append(
            "data-indexed tables are ROMs with %s read ports: their reads per iteration set the II of the kernel "
            "loops (shown per region); replicating the tables per vertex lane would remove this bound" % table_ports)
    if not dev.calibrated:
        notes.append(f"device family {dev.family} ({prj.part}) has no calibration report: its pipeline-stage and "
                     "FF factors are interpolated between 7-series and UltraScale+ (docs/estimate.md)")
    if kernel_count:
        notes.append("GarNet/GravNet kernel figures are structurally derived and uncalibrated against synthesis "
                     "(no synthesis report of these kernels exists)")
    notes.append("latency does not depend on nvtx: every loop of the kernels has static bounds and in hardware "
                 "padding vertices go through the same datapath, selected away by multiplexers, so minimum = maximum")
    est = Estimate(
        project=str(prj.path), part=prj.part, family=dev.family, family_calibrated=dev.calibrated,
        clock_ns=prj.clock_ns, top_pragma=prj.top_pragma + (f" II={prj.top_ii}" if prj.top_pragma == "pipeline" else ""),
        top_ii=prj.top_ii, io_type=prj.io_type, layers=est_layers, latency=latency, interval=interval,
        dsp=sum(l.dsp for l in est_layers), lut=sum(l.lut for l in est_layers), ff=sum(l.ff for l in est_layers),
        bram_18k=sum(l.bram_18k for l in est_layers), tables=tables_out, notes=notes,
    )
    est.seconds = time.perf_counter() - t0
    return est


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------


def format_estimate(est: Estimate) -> str:
    lines = [
        f"{BANNER}",
        f"  {MODEL_NAME}",
        f"  project {est.project}",
        f"  part {est.part} ({est.family}{'' if est.family_calibrated else ', uncalibrated family'}), "
        f"clock {est.clock_ns:g} ns, top {est.top_pragma}, {est.io_type}",
        "",
    ]
    headers = ["layer", "kind", "R", "est. latency [cycles]", "est. interval", "est. DSP", "est. LUT", "est. FF",
               "est. BRAM_18K"]
    rows = []
    for l in est.layers:
        rows.append([l.name, l.kind, "-" if l.reuse_factor is None else str(l.reuse_factor), str(l.latency),
                     str(l.interval), str(l.dsp), str(l.lut), str(l.ff), str(l.bram_18k)])
    rows.append(["total (estimate)", "", "", str(est.latency), str(est.interval), str(est.dsp), str(est.lut),
                 str(est.ff), str(est.bram_18k)])
    lines += _grid(headers, rows)
    ns = est.latency * est.clock_ns
    lines += [
        "",
        f"  estimated latency: min {est.latency} / max {est.latency} cycles over nvtx "
        f"(min {ns:g} / max {ns:g} ns at {est.clock_ns:g} ns); estimated interval {est.interval} cycles",
    ]
    for t in est.tables:
        how = {"logic": "logic, one copy per read site", "rom_np": "replicated ROM, one copy per 2 read sites",
               "rom": "one ROM, 2 ports"}.get(t.get("implementation", "rom"), "")
        lines.append(f"  table {t['table']}: {t['depth']} x {t['width']} bits, {how}: {t.get('copies', 1)} "
                     f"cop{'y' if t.get('copies', 1) == 1 else 'ies'} -> est. {t['bram_18k']} BRAM_18K, "
                     f"{t['lut']} LUT; {t['reads_per_inference']} reads per inference")
    for l in est.layers:
        for n in l.notes:
            lines.append(f"  note [{l.name}]: {n}")
    for n in est.notes:
        lines.append(f"  note: {n}")
    lines.append(f"  ({BANNER}; computed in {est.seconds * 1000:.0f} ms)")
    return "\n".join(lines) + "\n"


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def reuse_sweep(project_dir: str | Path, reuse_factors: list[int] | None = None,
                table_ports: int | None = TABLE_PORTS) -> dict[str, Any]:
    """Estimated latency (cycles) and DSP of each GarNet/GravNet layer versus its reuse factor, with the
    kernels' loops honoured (as under a DATAFLOW top), plus the as-generated value."""
    prj = load_project(project_dir)
    kernel_layers: dict[str, int] = {}
    for call in prj.calls:
        if call.func in ("garnet_in", "gravnet_in"):
            s = prj.structs.get(call.targs[-1].split("::")[-1]) if call.targs else None
            if s is not None:
                name = s.layer or call.comment or call.func
                kernel_layers.setdefault(name, s.consts["n_vertices"])
    if not kernel_layers:
        raise UserError(f"{prj.path} has no GarNet/GravNet layer to sweep")
    as_generated = estimate_project(project_dir, table_ports=table_ports)
    gen = {l.name: l for l in as_generated.layers}
    out: dict[str, Any] = {"estimated_layers": [], "estimated_top_pragma": as_generated.top_pragma}
    for name, V in kernel_layers.items():
        rs = reuse_factors or divisors(V)
        bad = [r for r in rs if r <= 0 or V % r]
        if bad:
            raise UserError(f"reuse factor(s) {', '.join(map(str, bad))} do not divide n_vertices = {V} of layer {name}")
        lat, dsp, lut = [], [], []
        for r in rs:
            e = estimate_project(project_dir, reuse={name: r}, loops="honoured", table_ports=table_ports)
            le = next(l for l in e.layers if l.name == name)
            lat.append(le.latency)
            dsp.append(le.dsp)
            lut.append(le.lut)
        out["estimated_layers"].append({
            "estimated_layer": name,
            "estimated_reuse_factors": list(rs),
            "estimated_latency_cycles": lat,
            "estimated_dsp": dsp,
            "estimated_lut": lut,
            "estimated_as_generated_latency_cycles": gen[name].latency,
            "estimated_as_generated_dsp": gen[name].dsp,
            "estimated_as_generated_lut": gen[name].lut,
            "estimated_as_generated_reuse_factor": gen[name].reuse_factor,
        })
    return out


def plot_format(path) -> str:
    """The image format of a --plot file name (its suffix, png when none); UserError if matplotlib has none such."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = Path(path).suffix[1:].lower() or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise UserError(f"--plot {path}: unknown image format {fmt!r}; use one of {', '.join(sorted(supported))}")
    return fmt


def write_plot(project_dir: str | Path, path: str | Path, reuse_factors: list[int] | None = None) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fmt = plot_format(path)
    sweep = reuse_sweep(project_dir, reuse_factors)
    pipelined = str(sweep["estimated_top_pragma"]).startswith("pipeline")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    panels = (("estimated_latency_cycles", "estimated_as_generated_latency_cycles", "estimated latency [cycles]"),
              ("estimated_dsp", "estimated_as_generated_dsp", "estimated DSP"),
              ("estimated_lut", "estimated_as_generated_lut", "estimated LUT"))
    for d in sweep["estimated_layers"]:
        name, rs = d["estimated_layer"], d["estimated_reuse_factors"]
        color = None
        for ax, (key, gen_key, _) in zip(axes, panels):
            line, = ax.plot(rs, d[key], "o-", color=color, label=f"{name}: loops kept (DATAFLOW top)")
            color = line.get_color()
            if pipelined:
                ax.axhline(d[gen_key], ls="--", color=color, label=f"{name}: as generated (PIPELINE top, unrolled)")
    for ax, (_, _, what) in zip(axes, panels):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("reuse factor R")
        ax.set_ylabel(what)
        ax.grid(True, alpha=0.3)
    axes[0].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{BANNER}: GarNet/GravNet layers vs reuse factor", fontsize=10)
    fig.tight_layout()
    from garnet_hls.paths import write_output

    try:
        write_output(path, lambda f: fig.savefig(f, dpi=100, format=fmt), "--plot output", binary=True)
    finally:
        plt.close(fig)
    return sweep
