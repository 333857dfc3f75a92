"""Vivado's own reports of an RTL project, when the user has built it with Vivado.

``vivado -mode batch -source build_vivado_prj.tcl`` (da4ml's script, written by ``convert --backend RTL``)
writes its reports to ``PRJ/output_<name>/reports/``:

* ``<name>_post_synth_util.rpt`` / ``<name>_post_synth_timing.rpt`` after ``synth_design``;
* ``<name>_post_place_util.rpt`` (hierarchical) / ``<name>_post_place_timing.rpt`` after placement;
* ``<name>_post_route_util.rpt`` / ``<name>_post_route_timing.rpt`` after ``route_design`` (plus power,
  DRC, clock utilisation and a path list, which are not read here).

``garnet-hls report PRJ`` reads the utilisation and timing summary of the latest stage present (post-route,
else post-synth) with the parsers of :mod:`garnet_hls.toolchain.vivado`, and prints them labelled with the Vivado
version and the stage. The one derived number is fmax = 1000 / (period - WNS).
"""

from __future__ import annotations

import re
from pathlib import Path

from garnet_hls.errors import UserError
from garnet_hls.toolchain.tables import fmt_pct, percent
from garnet_hls.toolchain.vivado import parse_timing_summary_rpt, parse_utilization_rpt, vivado_version

# (label, file stem) from the latest stage to the earliest; post-place is left out: da4ml writes its
# utilisation hierarchically (a per-instance table, not the device summary).
STAGES = (("post-route", "post_route"), ("post-synth", "post_synth"))

# rows printed: (label, site types of UltraScale / 7-series reports), the first found is used
ROWS = (
    ("LUT", ("CLB LUTs", "Slice LUTs")),
    ("  as logic", ("LUT as Logic",)),
    ("  as memory", ("LUT as Memory",)),
    ("FF", ("CLB Registers", "Slice Registers")),
    ("CARRY", ("CARRY8", "CARRY4")),
    ("DSP", ("DSPs",)),
    ("BRAM tile", ("Block RAM Tile",)),
    ("URAM", ("URAM",)),
)


def reports_dir(project, name: str) -> Path:
    return Path(project) / f"output_{name}" / "reports"


def find_reports(project, name: str) -> dict | None:
    """The report files of the latest stage that has any: {"stage", "util", "timing", "other_stages"}."""
    d = reports_dir(project, name)
    found = []
    for label, stem in STAGES:
        util, timing = d / f"{name}_{stem}_util.rpt", d / f"{name}_{stem}_timing.rpt"
        files = {"util": str(util) if util.is_file() else None, "timing": str(timing) if timing.is_file() else None}
        if files["util"] or files["timing"]:
            found.append({"stage": label, **files})
    if not found:
        return None
    return {**found[0], "other_stages": [f["stage"] for f in found[1:]]}


def _read(parse, path):
    if path is None:
        return None, None
    try:
        return parse(path), None
    except UserError as e:  # truncated, or another kind of file (undecodable bytes are replaced on reading)
        return None, str(e)


def load_report(project, meta: dict) -> dict | None:
    """Parse the Vivado reports of an RTL project (None when there are none). An unreadable file does not
    stop the others: its "error" says why."""
    name = meta["project_name"]
    files = find_reports(project, name)
    if files is None:
        return None
    util, util_err = _read(parse_utilization_rpt, files["util"])
    timing, timing_err = _read(parse_timing_summary_rpt, files["timing"])
    first = util or timing
    return {
        "tool": "vivado",
        "version": vivado_version(first.tool_version) if first else None,
        "stage": files["stage"],
        "other_stages": files["other_stages"],
        "files": {"util": files["util"], "timing": files["timing"]},
        "utilization": util,
        "utilization_error": util_err,
        "timing": timing,
        "timing_error": timing_err,
        "project_name": name,
        "part": meta.get("part"),
        "latency_cycles": meta.get("latency_cycles"),
        "interval_cycles": meta.get("interval_cycles", 1),
    }


def to_json(rep: dict) -> dict:
    out = dict(rep)
    out["utilization"] = rep["utilization"].to_dict() if rep["utilization"] else None
    out["timing"] = rep["timing"].to_dict() if rep["timing"] else None
    if rep["utilization"]:
        out["summary"] = {label.strip(): _entry_dict(rep["utilization"], names) for label, names in ROWS
                          if _entry(rep["utilization"], names) is not None}
    return out


def _entry(util, names):
    for n in names:
        if n in util.entries:
            return util.entries[n]
    return None


def _entry_dict(util, names):
    e = _entry(util, names)
    return {"site_type": e.site_type, "used": e.used, "available": e.available}


def _n(v) -> str:
    if v is None:
        return "-"
    return f"{v:,}" if float(v).is_integer() else f"{v:,.1f}"


def _part_key(part: str | None) -> str:
    p = re.sub(r"[^a-z0-9]", "", (part or "").lower())
    return p[2:] if p.startswith("xc") else p


def format_report(rep: dict) -> str:
    util, timing = rep["utilization"], rep["timing"]
    cmds = ", ".join(c for c, f in (("report_utilization", rep["files"]["util"]),
                                    ("report_timing_summary", rep["files"]["timing"])) if f)
    version = f"Vivado {rep['version']}" if rep["version"] else "Vivado"
    first = util or timing
    where = f"; device {first.device}" if first and first.device else ""
    lines = [f"{version}, {rep['stage']} ({cmds}{where}):"]
    if rep["other_stages"]:
        lines.append(f"  ({', '.join(rep['other_stages'])} reports are also there; the latest stage is shown)")

    # the reports must be of this project's top and part: say so when they are not
    for r in (util, timing):
        if r is not None and r.design and r.design != rep["project_name"]:
            lines.append(f"  note: {Path(r.source).name} is a report of design '{r.design}', "
                         f"not of this project's top '{rep['project_name']}'")
            break
    dev = first.device if first else None
    if dev and rep["part"] and not (_part_key(dev).startswith(_part_key(rep["part"]))
                                    or _part_key(rep["part"]).startswith(_part_key(dev))):
        lines.append(f"  note: the reports are for device {dev}, the project was converted for {rep['part']}")

    if util is not None:
        lines.append(f"  {'resource':<12}{'used':>12}{'available':>12}{'util':>8}")
        for label, names in ROWS:
            e = _entry(util, names)
            if e is None:
                continue
            label = e.site_type if label == "CARRY" else label  # CARRY8 (UltraScale) or CARRY4 (7-series)
            lines.append(f"  {label:<12}{_n(e.used):>12}{_n(e.available):>12}"
                         f"{fmt_pct(percent(e.used, e.available)) if e.available else '-':>8}")
    elif rep["utilization_error"]:
        lines.append(f"  utilization: unreadable: {rep['utilization_error']}")
    elif rep["files"]["util"] is None:
        lines.append(f"  utilization: no {rep['project_name']}_{rep['stage'].replace('-', '_')}_util.rpt")

    if timing is not None:
        verdict = timing.verdict or "no verdict in the report"
        lines.append(f"  timing: {verdict}")
        for clk in timing.clocks:
            lines.append(f"  clock {clk.name}: period {_ns(clk.period_ns)} ns ({_n(clk.frequency_mhz)} MHz)")
        if not timing.clocks:
            lines.append("  clock: none in the report")
        lines.append(f"  setup: WNS {_ns(timing.wns_ns)} ns, TNS {_ns(timing.tns_ns)} ns, "
                     f"{_n(timing.tns_failing_endpoints)} of {_n(timing.tns_total_endpoints)} endpoints failing")
        lines.append(f"  hold:  WHS {_ns(timing.whs_ns)} ns, THS {_ns(timing.ths_ns)} ns, "
                     f"{_n(timing.ths_failing_endpoints)} of {_n(timing.ths_total_endpoints)} endpoints failing")
        fmax = timing.fmax_mhz()
        clk = timing.clock
        if fmax is not None:
            lines.append(f"  fmax {fmax:.1f} MHz (derived: 1000 / (period {_ns(clk.period_ns)} ns - WNS "
                         f"{_ns(timing.wns_ns)} ns))")
            if rep["latency_cycles"] is not None:
                lines.append(f"Pipeline (exact, from the RTL): {rep['latency_cycles']} cycles, interval "
                             f"{rep['interval_cycles']}: {rep['latency_cycles'] * clk.period_ns:g} ns at the "
                             f"constrained {_ns(clk.period_ns)} ns clock, "
                             f"{rep['latency_cycles'] * (clk.period_ns - timing.wns_ns):.3f} ns at the derived fmax")
        else:
            lines.append("  fmax: - (needs one clock and a WNS in the report)")
    elif rep["timing_error"]:
        lines.append(f"  timing: unreadable: {rep['timing_error']}")
    elif rep["files"]["timing"] is None:
        lines.append(f"  timing: no {rep['project_name']}_{rep['stage'].replace('-', '_')}_timing.rpt")
    return "\n".join(lines) + "\n"


def _ns(v) -> str:
    return "-" if v is None else f"{v:.3f}"
