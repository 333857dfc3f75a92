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
    if getattr(args, "json", None):
        doc = {"backend": "rtl", "project_dir": str(project), "project_name": meta["project_name"],
               "schedule": sch, "yosys": yosys, "vivado": vivado.to_json(viv) if viv is not None else None}
        write_output(args.json, json.dumps(doc, indent=2) + "\n", "--json output")
    return 0
