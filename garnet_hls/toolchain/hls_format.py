"""Present the reports of an HLS project (:class:`garnet_hls.toolchain.hls.ProjectReport`): a plain-text table,
JSON, and a self-contained HTML page with plots. What ``garnet-hls report`` and ``garnet-hls synth`` print."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from garnet_hls.toolchain.hls import CosimReport, ProjectReport, ReportFiles
from garnet_hls.toolchain.hls_csynth import RESOURCE_ORDER, ModuleReport, SynthesisReport
from garnet_hls.toolchain.tables import fmt_pct, percent
from garnet_hls.toolchain.vivado import UtilizationReport


def _fmt(v: float | int | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.{digits}f}"
    return str(int(v))


def _fmt_ns(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _fmt_time(ns: float | None) -> str:
    """A time given in ns in the unit Vivado HLS itself would print it in: '50.000 ns', '6.340 us',
    '45.904 s' (not '45904000000.000 ns')."""
    if ns is None:
        return "-"
    for unit, scale in (("ns", 1.0), ("us", 1e3), ("ms", 1e6)):
        if abs(ns) < 1e3 * scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns / 1e9:.3f} s"


#: What a latency the report leaves undefined ('?' in the text report, 'undef' in the XML: a loop whose
#: trip count HLS cannot bound) is printed as.
UNDEFINED = "undefined"


def _grid(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    out = [indent + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    for row in rows:
        out.append(indent + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return out


def _csynth_lines(s: SynthesisReport) -> list[str]:
    what = ", ".join(x for x in (f"{s.tool} {s.version}" if s.tool else s.version, f"top {s.top}" if s.top else None, f"part {s.part}" if s.part else None) if x)
    lines = [f"C synthesis ({what})"]
    lat_rows = []
    for label, which in (("best", "best"), ("average", "avg"), ("worst", "worst")):
        cycles = getattr(s, f"latency_{which}")
        if cycles is None:
            # best and worst are in every report: missing means HLS could not bound them. The average is
            # only in the XML report: left out when the report has none.
            if which != "avg":
                lat_rows.append([f"latency {label}", UNDEFINED, "(not bounded by HLS)"])
            continue
        ns = s.latency_ns(which)
        reported = getattr(s, f"latency_{which}_ns") is not None
        lat_rows.append([f"latency {label}", f"{cycles} cycles", _fmt_time(ns) + ("" if reported else " (cycles x target)")])
    if s.interval_min is not None or s.interval_max is not None:
        lat_rows.append(["interval", f"{_fmt(s.interval_min)} / {_fmt(s.interval_max)} cycles (min / max)", s.pipeline_type or ""])
    lat_rows.append(["clock target", f"{_fmt_ns(s.target_clock_ns)} ns", f"uncertainty {_fmt_ns(s.clock_uncertainty_ns)} ns"])
    lat_rows.append(["clock estimated", f"{_fmt_ns(s.estimated_clock_ns)} ns", ""])
    lines += _grid(["", "", ""], lat_rows)[1:]
    util = s.utilization()
    slr = s.utilization_slr()
    headers = ["resource", "used", "available", "util"] + (["available SLR", "util SLR"] if slr else [])
    rows = []
    for k in s._keys():
        row = [k, _fmt(s.resources.get(k)), _fmt(s.available.get(k)), fmt_pct(util.get(k))]
        if slr:
            row += [_fmt(s.available_slr.get(k)), fmt_pct(slr.get(k))]
        rows.append(row)
    if rows:
        lines += _grid(headers, rows)
    return lines


def _module_lines(modules: list[ModuleReport]) -> list[str]:
    keys = [k for k in RESOURCE_ORDER if any(k in m.resources for m in modules)]
    rows = []
    for m in modules:
        lat = "-" if m.latency_min is None else (str(m.latency_min) if m.latency_min == m.latency_max else f"{m.latency_min}-{m.latency_max}")
        ii = "-" if m.interval_min is None else (str(m.interval_min) if m.interval_min == m.interval_max else f"{m.interval_min}-{m.interval_max}")
        rows.append([("  " * max(m.depth - 1, 0)) + (m.instance or m.module), lat, ii] + [_fmt(m.resources.get(k)) for k in keys])
    return ["Modules"] + _grid(["instance", "latency", "interval"] + keys, rows)


def _cosim_lines(c: CosimReport) -> list[str]:
    lines = [f"Co-simulation: {c.status}" + (f" ({c.simulation_tool})" if c.simulation_tool else "")]
    for r in c.results:
        if r.status.upper() == "NA":
            continue
        lines.append(
            f"  {r.language}: {r.status}, latency min/avg/max {_fmt(r.latency_min)}/{_fmt(r.latency_avg)}/{_fmt(r.latency_max)},"
            f" interval min/avg/max {_fmt(r.interval_min)}/{_fmt(r.interval_avg)}/{_fmt(r.interval_max)}"
        )
    return lines


def _vsynth_lines(v: UtilizationReport) -> list[str]:
    what = ", ".join(x for x in (v.tool_version, f"device {v.device}" if v.device else None, v.design_state) if x)
    rows = [
        [key, _fmt(e.used), _fmt(e.available), fmt_pct(percent(e.used, e.available))]
        for key, e in v.summary().items()
    ]
    return [f"Vivado synthesis ({what})"] + _grid(["resource", "used", "available", "util"], rows)


def format_table(report: ProjectReport | SynthesisReport) -> str:
    """Plain-text summary: latency, interval, clocks, resources with % of the part, cosim, Vivado."""
    if isinstance(report, SynthesisReport):
        report = ProjectReport(project_dir="", files=ReportFiles(project_dir=""), csynth=report)
    lines: list[str] = []
    if report.project_dir:
        lines.append(f"Reports of {report.project_dir}" + (f" (project {report.project_name})" if report.project_name else ""))
    if report.csynth:
        lines += _csynth_lines(report.csynth)
        if report.csynth.modules:
            lines += _module_lines(report.csynth.modules)
    if report.cosim:
        lines += _cosim_lines(report.cosim)
    if report.vsynth:
        lines += _vsynth_lines(report.vsynth)
    return "\n".join(lines) + "\n"


def write_json(report: ProjectReport, path: str | Path) -> None:
    from garnet_hls.paths import write_output

    write_output(path, json.dumps(report.to_dict(), indent=2) + "\n", "--json output")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(report: ProjectReport) -> list[tuple[str, str]]:
    from matplotlib.figure import Figure

    plots = []
    series = []
    if report.csynth:
        util = report.csynth.utilization()
        series.append(("HLS estimate", {k: v for k, v in util.items() if v is not None}))
    if report.vsynth:
        series.append(("Vivado synthesis", {k: percent(e.used, e.available) for k, e in report.vsynth.summary().items() if e.available}))
    series = [(n, s) for n, s in series if s]
    if series:
        keys = list(dict.fromkeys(k for _, s in series for k in s))
        fig = Figure(figsize=(7, 3.5))
        ax = fig.add_subplot()
        width = 0.8 / len(series)
        for j, (label, s) in enumerate(series):
            xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(keys))]
            ax.bar(xs, [s.get(k, 0.0) for k in keys], width=width, label=label)
        ax.axhline(100, color="red", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(keys)), keys)
        ax.set_ylabel("% of part")
        ax.set_title("Resource utilisation")
        ax.legend()
        plots.append(("Resource utilisation (% of part)", _png(fig)))
    mods = report.modules
    if mods:
        names = [m.instance or m.module for m in mods]
        fig = Figure(figsize=(9, 0.35 * len(mods) + 1.5))
        axes = fig.subplots(1, 2, sharey=True)
        axes[0].barh(range(len(mods)), [m.latency_max or 0 for m in mods])
        axes[0].set_yticks(range(len(mods)), [n if len(n) <= 48 else n[:45] + "..." for n in names], fontsize=7)
        axes[0].invert_yaxis()
        axes[0].set_xlabel("latency max (cycles)")
        axes[1].barh(range(len(mods)), [m.resources.get("DSP", 0) for m in mods], color="tab:orange")
        axes[1].set_xlabel("DSP")
        fig.suptitle("Per-module latency and DSP")
        plots.append(("Per-module latency and DSP", _png(fig)))
    return plots


def write_html(report: ProjectReport, path: str | Path) -> None:
    """Self-contained HTML page: the summary table and PNG plots embedded as base64."""
    title = f"garnet-hls report: {report.project_name or report.project_dir}"
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    s = report.csynth
    if s:
        parts.append(f"<h2>C synthesis ({html.escape(' '.join(x for x in (s.tool, s.version) if x))})</h2>")
        parts.append("<table>")
        rows = [("top", s.top), ("part", s.part)]
        for label, which in (("best", "best"), ("average", "avg"), ("worst", "worst")):
            if getattr(s, f"latency_{which}") is not None:
                rows.append((f"latency {label}", f"{getattr(s, f'latency_{which}')} cycles / {_fmt_time(s.latency_ns(which))}"))
            elif which != "avg":
                rows.append((f"latency {label}", UNDEFINED))
        rows += [
            ("interval min / max", f"{_fmt(s.interval_min)} / {_fmt(s.interval_max)} cycles"),
            ("target clock", f"{_fmt_ns(s.target_clock_ns)} ns"),
            ("estimated clock", f"{_fmt_ns(s.estimated_clock_ns)} ns"),
        ]
        parts += [f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v or '-'))}</td></tr>" for k, v in rows]
        parts.append("</table><h3>Resources</h3><table><tr><th>resource</th><th>used</th><th>available</th><th>util</th></tr>")
        util = s.utilization()
        for k in s._keys():
            parts.append(
                f"<tr><td>{k}</td><td>{_fmt(s.resources.get(k))}</td><td>{_fmt(s.available.get(k))}</td><td>{fmt_pct(util.get(k))}</td></tr>"
            )
        parts.append("</table>")
        if s.modules:
            keys = [k for k in RESOURCE_ORDER if any(k in m.resources for m in s.modules)]
            parts.append("<h3>Modules</h3><table><tr><th>instance</th><th>module</th><th>latency min</th><th>latency max</th><th>interval</th>")
            parts += [f"<th>{k}</th>" for k in keys]
            parts.append("</tr>")
            for m in s.modules:
                cells = [m.instance or "", m.module, _fmt(m.latency_min), _fmt(m.latency_max), _fmt(m.interval_max)]
                cells += [_fmt(m.resources.get(k)) for k in keys]
                parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            parts.append("</table>")
    if report.cosim:
        c = report.cosim
        parts.append(f"<h2>Co-simulation: {html.escape(c.status)}</h2><table>")
        parts.append("<tr><th>RTL</th><th>status</th><th>latency min</th><th>avg</th><th>max</th><th>interval min</th><th>avg</th><th>max</th></tr>")
        for r in c.results:
            cells = [r.language, r.status] + [_fmt(getattr(r, a)) for a in ("latency_min", "latency_avg", "latency_max", "interval_min", "interval_avg", "interval_max")]
            parts.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
        parts.append("</table>")
    if report.vsynth:
        v = report.vsynth
        parts.append(f"<h2>Vivado synthesis ({html.escape(v.tool_version or '')})</h2><table>")
        parts.append("<tr><th>resource</th><th>used</th><th>available</th><th>util</th></tr>")
        for key, e in v.summary().items():
            parts.append(f"<tr><td>{key}</td><td>{_fmt(e.used)}</td><td>{_fmt(e.available)}</td><td>{fmt_pct(percent(e.used, e.available))}</td></tr>")
        parts.append("</table>")
    for caption, png in _plots(report):
        parts.append(f'<h2>{html.escape(caption)}</h2><img alt="{html.escape(caption)}" src="data:image/png;base64,{png}">')
    parts.append("<h2>Text summary</h2><pre>" + html.escape(format_table(report)) + "</pre>")
    parts.append("</body></html>")
    from garnet_hls.paths import write_output

    write_output(path, "\n".join(parts) + "\n", "--html output")
