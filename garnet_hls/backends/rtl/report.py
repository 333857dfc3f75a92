"""``garnet-hls report`` on an RTL project: the schedule written by ``convert`` (latency, interval, lanes, the
DSP slices traced and da4ml's LUT estimate: known before any synthesis), then our Yosys report (``synth --tool
yosys``) and Vivado's own reports (da4ml's ``build_vivado_prj.tcl``), each in its own labelled section."""

from __future__ import annotations

import json

from garnet_hls.errors import UserError
from garnet_hls.project import read_meta


def schedule_of(meta: dict) -> dict:
    """What ``convert`` knows of the design before synthesis (from ``garnet_project.json``)."""
    keys = ("latency_cycles", "interval_cycles", "clock_period_ns", "folded", "reuse_factor", "lanes", "groups",
            "dsp_slices", "estimated_luts", "folded_depths", "part")
    return {k: meta[k] for k in keys if meta.get(k) is not None}


def format_schedule(sch: dict) -> str:
    lat, ii, clk = sch.get("latency_cycles"), sch.get("interval_cycles", 1), sch.get("clock_period_ns")
    if sch.get("folded"):
        how = (f"folded: ReuseFactor {sch['reuse_factor']}, {sch['lanes']} lanes x {sch['groups']} groups "
               "per event")
    else:
        how = "fully parallel"
    lines = [f"Schedule (exact, from the generated RTL; {how}):"]
    if lat is not None:
        ns = f" = {lat * clk:,.0f} ns at {clk} ns" if clk else ""
        lines.append(f"  latency  {lat:>8,} cycles{ns} (the clock is the schedule's assumption, not a timing result)")
    lines.append(f"  interval {ii:>8,} cycles" + (f" = {ii * clk:,.0f} ns" if clk else ""))
    if sch.get("folded_depths"):
        lines.append("  modules  " + ", ".join(f"{k} {v}" for k, v in sch["folded_depths"].items()) + " stages")
    if "dsp_slices" in sch:
        lines.append(f"  DSP48E2  {sch['dsp_slices']:>8,} (one per variable product, counted on the trace)")
    if "estimated_luts" in sch:
        lines.append(f"  LUT      {round(sch['estimated_luts']):>8,} ESTIMATE (da4ml's cost model; products as DSPs "
                     "are not in it)")
    return "\n".join(lines) + "\n"


def run_report(project, args) -> int:
    """An RTL project: our Yosys report (``synth --tool yosys``) and Vivado's own reports (da4ml's
    ``build_vivado_prj.tcl``), each in its own labelled section."""
    from garnet_hls.paths import write_output
    from garnet_hls.backends.rtl import vivado
    from garnet_hls.backends.rtl.yosys import format_report, load_report as load_yosys

    meta = read_meta(project)
    for opt in ("html", "estimate"):
        if getattr(args, opt, None):
            raise UserError(f"--{opt} is for hls4ml projects; {project} is an RTL project "
                            "(report prints its Yosys and Vivado reports)")
    yosys = load_yosys(project)
    viv = vivado.load_report(project, meta)
    sch = schedule_of(meta)
    print(format_schedule(sch), end="")
    if yosys is None and viv is None:
        name = meta["project_name"]
        print(f"No synthesis reports yet: run garnet-hls synth {project} --tool yosys, or Vivado (vivado -mode "
              f"batch -source build_vivado_prj.tcl in the project, which writes "
              f"output_{name}/reports/{name}_post_route_util.rpt and _timing.rpt).")
    if yosys is not None:
        print(format_report(yosys), end="")
    if viv is not None:
        print(vivado.format_report(viv), end="")
    text = format_breakdown(meta, yosys)
    if text:
        print(text, end="")
    vs = None
    if getattr(args, "hls_estimate", None) is not None:
        vs = vs_hls(project, meta, args.vs_hls, args.hls_estimate, args.hls_meta)
        print(format_vs_hls(vs), end="")
    if getattr(args, "json", None):
        doc = {"backend": "rtl", "project_dir": str(project), "project_name": meta["project_name"],
               "schedule": sch, "breakdown": meta.get("breakdown"), "stage_depths": meta.get("stage_depths"),
               "multipliers": meta.get("multipliers"), "yosys": yosys,
               "vivado": vivado.to_json(viv) if viv is not None else None, "vs_hls": vs}
        write_output(args.json, json.dumps(doc, indent=2) + "\n", "--json output")
    return 0


def format_breakdown(meta: dict, yosys: dict | None) -> str:
    """Where the logic goes: the trace's breakdown (``model.breakdown``) and what Yosys measured of the parts
    it kept as modules (the table ROMs); empty for a project converted before the breakdown existed."""
    rows = meta.get("breakdown")
    if not rows:
        return ""
    lines = ["Where the logic goes (from the trace, before synthesis: da4ml's LUT estimate, DSP48E2 slices, "
             "pipeline-register bits):",
             f"  {'implements':<24}{'LUT est.':>10}{'DSP':>7}{'reg bits':>10}"]
    tot = {"lut_estimate": 0, "dsp": 0, "reg_bits": 0}
    for kind, r in sorted(rows.items(), key=lambda kv: -kv[1]["lut_estimate"]):
        if not (r["lut_estimate"] or r["dsp"] or r["reg_bits"]):
            continue  # constants and wiring only
        extra = f"   ({r['lut_products']:,} products in fabric)" if r.get("lut_products") else ""
        lines.append(f"  {kind:<24}{r['lut_estimate']:>10,}{r['dsp']:>7,}{r['reg_bits']:>10,}{extra}")
        for k in tot:
            tot[k] += r[k]
    lines.append(f"  {'total':<24}{tot['lut_estimate']:>10,}{tot['dsp']:>7,}{tot['reg_bits']:>10,}")
    mods = [m for m in meta.get("folded_modules") or [] if m.get("breakdown")]
    if meta.get("folded") and mods:
        lines.append("  folded: the modules' logic, each module once (its lanes inside it); the generated top's glue "
                     "(accumulators over the groups, delay lines, register files) is not in these figures")
        for m in mods:
            parts = sorted(((k, v["lut_estimate"]) for k, v in m["breakdown"].items() if v["lut_estimate"]),
                           key=lambda kv: -kv[1])
            lines.append(f"    {m['module']:<22}{round(m['lut_da4ml_est']):>10,}  "
                         + ", ".join(f"{k} {v:,}" for k, v in parts[:3]))
    m = meta.get("multipliers") or {}
    if m:
        per = "; ".join(f"{name}: {e['mode']} ({e['dsp']} on DSPs, {e['packed_pairs']} packed pairs, {e['lut']} in "
                        "fabric)" for name, e in (m.get("layers") or {}).items())
        budget = f", DSPBudget {m['dsp_budget']}" if m.get("dsp_budget") is not None else ""
        lines.append(f"  multipliers{budget}: {per or 'none'}")
    depths = meta.get("stage_depths")
    if depths:
        lines.append(f"  scheduled depth per stage (da4ml units, ~1 adder each; a schedule, not a timing result): "
                     f"{', '.join(f'{d:g}' for d in depths)} of {meta.get('latency_cutoff')}")
    if yosys is not None:
        s = yosys["summary"]
        kept = yosys.get("modules") or {}
        tab = sum(v["LUT"] * v["instances"] for k, v in kept.items() if "lookup_table" in k)
        n_tab = sum(v["instances"] for k, v in kept.items() if "lookup_table" in k)
        lines.append(f"  Yosys: tables {tab:,} LUT ({n_tab} ROM instances, kept as modules: measured); the rest "
                     f"is flattened: {s['LUT'] - tab:,} LUT, not attributable; {s['FF']:,} FF, all pipeline "
                     f"registers (the design has no other state); {s['DSP']:,} DSP, all variable products")
    return "\n".join(lines) + "\n"


GRAPH_KINDS = ("GarNet", "GarNetStack", "GravNet")


def _same_model(a: str | None, b: str | None) -> bool:
    import hashlib
    from pathlib import Path

    if not a or not b:
        return False
    pa, pb = Path(a), Path(b)
    if pa.resolve() == pb.resolve():
        return True
    if pa.is_file() and pb.is_file():
        return hashlib.sha256(pa.read_bytes()).digest() == hashlib.sha256(pb.read_bytes()).digest()
    return False


def _module_resources(project, meta: dict) -> list:
    """Per folded module: stages, DSP48E2 and da4ml's LUT estimate (``folded.resources``): from the metadata,
    or (a project converted before it recorded them) from the saved plan."""
    if meta.get("folded_modules"):
        return meta["folded_modules"]
    from pathlib import Path

    from garnet_hls.backends.rtl import folded
    from garnet_hls.backends.rtl.folded_rtl import load_plan

    depths = meta.get("folded_depths") or {}  # the saved plan has no pipelines: its stages are the schedule's
    return [{**m, "stages": depths.get(m["module"], m["stages"])}
            for m in folded.resources(load_plan(Path(project) / "model" / "folded"))]


def vs_hls(project, meta: dict, hls_project, est: dict, hls_meta: dict) -> dict:
    """The RTL schedule beside the HLS estimate of the same model and ReuseFactor: totals, and for a folded
    GarNet/GarNetStack region by region (pass p <-> the kernel's vertex loop p, agg b <-> its aggregator loop b,
    tail <-> the collapse and the dense head), with the reasons the two differ."""
    from garnet_hls.backends.rtl.folded import BARRIER_GLUE, PASS_GLUE

    if not _same_model(meta.get("model_file"), hls_meta.get("model_file")):
        raise UserError(f"--vs-hls: {hls_project} was converted from {hls_meta.get('model_file')}, {project} from "
                        f"{meta.get('model_file')}: not the same model")
    layers = est["estimated_layers"]
    graph = [e for e in layers if e["estimated_kind"] in GRAPH_KINDS]
    R = int(meta.get("reuse_factor") or 1)
    hls_R = sorted({int(e["estimated_reuse_factor"] or 1) for e in graph})
    if hls_R != [R]:
        raise UserError(f"--vs-hls: {hls_project} has ReuseFactor {', '.join(map(str, hls_R))} on its graph layers, "
                        f"{project} {R}: convert both with the same ReuseFactor")
    tot = est["estimated_total"]
    lat, ii, G = meta.get("latency_cycles"), meta.get("interval_cycles", 1), meta.get("groups", 1)
    out = {"hls_project": str(hls_project), "reuse_factor": R,
           "rtl": {"latency_cycles": lat, "interval_cycles": ii, "dsp": meta.get("dsp_slices"),
                   "lut_da4ml_estimate": round(meta["estimated_luts"]) if meta.get("estimated_luts") else None},
           "hls_estimate": {"latency_cycles": tot["estimated_latency_cycles_max"],
                            "interval_cycles": tot["estimated_interval_cycles"], "dsp": tot["estimated_dsp"],
                            "lut": tot["estimated_lut"]},
           "regions": [], "why": []}
    regions = [r for e in graph for r in e.get("estimated_regions", [])]
    slowest = max(regions, key=lambda r: r["estimated_latency_cycles"]) if regions else None
    if meta.get("folded") and slowest is not None:
        out["why"].append(
            f"interval: the folded RTL takes a new event every G = V/L = {G} clocks (every module is a free-running "
            f"interval-1 pipeline and the next event's groups follow the last one's directly); the HLS estimate's "
            f"dataflow processes take a new event only after finishing the last, so its interval is its slowest "
            f"process: {slowest['estimated_region']} ({slowest['estimated_trip_count']} iterations + "
            f"{slowest['estimated_depth_cycles']} deep = {slowest['estimated_latency_cycles']} cycles) + 1")
    mods = _module_resources(project, meta) if meta.get("folded") else []
    kinds = [e["estimated_kind"] for e in graph]
    if mods and len(graph) == 1 and kinds[0] != "GravNet" and len(mods) == len(regions):
        for m, r in zip(mods, regions):
            role = m["module"].rsplit("_", 1)[-1]
            if role.startswith("pass"):
                rtl_lat, how = (G - 1) + m["stages"] + PASS_GLUE, f"{G - 1} + {m['stages']} stages + {PASS_GLUE}"
            elif role == "tail":
                rtl_lat, how = m["stages"] + BARRIER_GLUE, f"{m['stages']} stages with the head + {BARRIER_GLUE}"
            else:
                rtl_lat, how = m["stages"] + BARRIER_GLUE, f"{m['stages']} stages + {BARRIER_GLUE}"
            out["regions"].append({
                "rtl_module": m["module"], "rtl_cycles": rtl_lat, "rtl_how": how, "rtl_dsp": m["dsp"],
                "hls_region": r["estimated_region"], "hls_cycles": r["estimated_latency_cycles"],
                "hls_how": f"{r['estimated_trip_count']} iterations + {r['estimated_depth_cycles']} deep",
                "hls_dsp": r["estimated_dsp"]})
        aggs = [x for x in out["regions"] if x["hls_region"] == "Aggregators"]
        if aggs:
            out["why"].append(
                "aggregators: the RTL normalises all of a block's aggregators at once in one module (" +
                ", ".join(f"{x['rtl_cycles']}" for x in aggs) + " cycles); the HLS kernel loops over them, one per "
                "clock (" + ", ".join(f"{x['hls_cycles']}" for x in aggs) + " cycles)")
        deeper = [x for x in out["regions"] if x["hls_region"] != "Aggregators"]
        d_rtl = sum(x["rtl_cycles"] for x in deeper)
        d_hls = sum(x["hls_cycles"] for x in deeper)
        out["why"].append(
            f"vertex loops: {d_rtl} cycles in the RTL against {d_hls} estimated: the same {G} groups per pass; the "
            f"pipeline depths differ (da4ml's stages at latency cutoff {meta.get('latency_cutoff')} against the "
            "estimator's operator latencies at the clock)")
        head = tot["estimated_latency_cycles_max"] - sum(e["estimated_latency_cycles_max"] for e in graph)
        if head > 0:
            out["why"].append(f"the dense head: in the RTL tail module; in HLS {head} cycles of layers of their own")
        dd = [(x["rtl_module"], x["rtl_dsp"], x["hls_dsp"]) for x in out["regions"] if x["rtl_dsp"] != x["hls_dsp"]]
        if dd:
            out["why"].append("DSP48E2: the RTL tiles each traced product by the widths its operands' values can "
                              "take (27 x 18 per slice); the estimate by the HLS kernel's declared operand types, "
                              "and splits a product wider than the ports over two slices (" +
                              ", ".join(f"{n} {a:,} vs {b:,}" for n, a, b in dd) + ")")
    elif mods:
        out["why"].append("region by region: not compared (the RTL modules and the HLS kernel's loops do not "
                          "correspond one to one for this model); totals only")
    return out


def format_vs_hls(vs: dict) -> str:
    r, h = vs["rtl"], vs["hls_estimate"]

    def n(v):
        return "-" if v is None else f"{v:,}"

    lines = [f"Beside the HLS estimate of {vs['hls_project']} (same model, ReuseFactor {vs['reuse_factor']}; the "
             "RTL schedule is exact, every HLS figure an ESTIMATE):",
             f"  {'':<12}{'RTL':>12}{'HLS (ESTIMATE)':>18}",
             f"  {'latency':<12}{n(r['latency_cycles']):>12}{n(h['latency_cycles']):>18}   cycles",
             f"  {'interval':<12}{n(r['interval_cycles']):>12}{n(h['interval_cycles']):>18}   cycles",
             f"  {'DSP48E2':<12}{n(r['dsp']):>12}{n(h['dsp']):>18}",
             f"  {'LUT':<12}{n(r['lut_da4ml_estimate']):>12}{n(h['lut']):>18}   (both estimates: da4ml's / ours)"]
    if vs["regions"]:
        lines.append(f"  {'RTL module':<16}{'cycles':>7}  {'':<32}{'HLS region':<20}{'cycles':>7}  {'':<26}"
                     f"{'DSP RTL/HLS':>12}")
        for x in vs["regions"]:
            lines.append(f"  {x['rtl_module']:<16}{x['rtl_cycles']:>7}  {'(' + x['rtl_how'] + ')':<32}"
                         f"{x['hls_region']:<20}{x['hls_cycles']:>7}  {'(' + x['hls_how'] + ')':<26}"
                         f"{str(x['rtl_dsp']) + '/' + str(x['hls_dsp']):>12}")
    for w in vs["why"]:
        lines.append(f"  why: {w}")
    return "\n".join(lines) + "\n"
