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
    if getattr(args, "json", None):
        doc = {"backend": "rtl", "project_dir": str(project), "project_name": meta["project_name"],
               "schedule": sch, "breakdown": meta.get("breakdown"), "stage_depths": meta.get("stage_depths"),
               "multipliers": meta.get("multipliers"), "yosys": yosys,
               "vivado": vivado.to_json(viv) if viv is not None else None}
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
