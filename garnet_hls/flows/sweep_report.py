"""What a sweep's results look like to a user: the Pareto front, the table, the plot and the page.

Everything here reads the results dictionary of :class:`garnet_hls.flows.sweep.Sweep` (``results.json``) and
nothing else. Latency, interval and resources come from the point's synthesis report when it has one,
else from its estimate, which is then said on every table, axis and page.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any


def _one_line(text) -> str:
    return " ".join(str(text).split())


def point_label(params: dict) -> str:
    return f"R={params['reuse']} {params['precision']} {params['backend']}"


def _atomic_write(path: Path, text: str):
    """The shared atomic writer (umask permissions, a failing write is one line and leaves nothing)."""
    from garnet_hls.paths import write_output

    write_output(path, text, "sweep output")


def figures(r: dict) -> dict[str, Any] | None:
    """Latency, interval, LUT, DSP, FF, BRAM of a point and where they come from (synthesis or estimate)."""
    if r.get("synthesis"):
        s = r["synthesis"]
        return {"source": s.get("tool") or "synthesis", "latency": s.get("latency_cycles"),
                "interval": s.get("interval_cycles"), "lut": s.get("lut"), "dsp": s.get("dsp"), "ff": s.get("ff"),
                "bram_18k": s.get("bram_18k")}
    if r.get("estimate"):
        e = r["estimate"]
        return {"source": "estimate", "latency": e["estimated_latency_cycles_max"],
                "interval": e["estimated_interval_cycles"], "lut": e["estimated_lut"], "dsp": e["estimated_dsp"],
                "ff": e["estimated_ff"], "bram_18k": e["estimated_bram_18k"]}
    return None


def _dominates(a, b) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(items: list[tuple[str, tuple]]) -> list[str]:
    """Keys of the non-dominated items (every coordinate minimised)."""
    return [k for k, v in items if not any(_dominates(w, v) for _, w in items)]


def pareto_keys(points: list[dict], axes=("latency", "interval", "lut", "dsp")) -> list[str]:
    """Points with status ok that no other ok point beats on every one of ``axes``."""
    items = []
    for r in points:
        f = figures(r) if r.get("status") == "ok" else None
        if f and all(f.get(a) is not None for a in axes):
            items.append((r["key"], tuple(f[a] for a in axes)))
    return pareto_front(items)


def _fmt(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def table_rows(res: dict) -> tuple[list[str], list[list[str]]]:
    front = set(res.get("pareto") or [])
    src = {(figures(r) or {}).get("source") for r in res["points"]} - {None}
    tag = "est. " if src == {"estimate"} else ""
    headers = ["R", "precision", "backend", "status", "bit-exact", f"{tag}latency", f"{tag}interval", f"{tag}LUT",
               f"{tag}DSP", f"{tag}FF", f"{tag}BRAM18", "AUC", "E res.", "wall s", "pareto"]
    rows = []
    for r in res["points"]:
        p, f, ph = r["params"], figures(r) or {}, r.get("physics") or {}
        status = r["status"] if r["status"] != "error" else f"error ({r['stage']})"
        rows.append([str(p["reuse"]), p["precision"], p["backend"], status,
                     {True: "yes", False: "NO", None: "-"}[r.get("bit_exact")],
                     _fmt(f.get("latency")), _fmt(f.get("interval")), _fmt(f.get("lut")), _fmt(f.get("dsp")),
                     _fmt(f.get("ff")), _fmt(f.get("bram_18k")), _fmt(ph.get("auc")),
                     _fmt(ph.get("energy_resolution")), f"{r['seconds']:.1f}" if r.get("seconds") is not None else "-",
                     "*" if r["key"] in front else ""])
    return headers, rows


def format_table(res: dict) -> str:
    headers, rows = table_rows(res)
    widths = [max(len(h), *(len(c[i]) for c in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]
    errors = [r for r in res["points"] if r.get("error")]
    for r in errors:
        out.append(f"{point_label(r['params'])}: {r['stage']}: {r['error']}")
    s = res["sweep"]
    src = sorted({(figures(r) or {}).get("source") for r in res["points"]} - {None})
    out.append(f"{s['n_done']} of {s['n_points']} points; latency/interval in clock cycles; figures from: "
               f"{', '.join(src) or 'nothing'}{' (ESTIMATES, not synthesis results)' if src == ['estimate'] else ''}; "
               f"AUC / energy resolution of the firmware outputs on {s['events']} events; * = Pareto front "
               f"(latency, interval, LUT, DSP)")
    return "\n".join(out) + "\n"


def write_plot(res: dict, path) -> Path:
    """Latency and interval against LUT and DSP; the Pareto front of each panel marked, the device's
    capacity (when known) drawn as a vertical line."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r, figures(r)) for r in res["points"] if r["status"] == "ok" and figures(r)]
    est = {f["source"] for _, f in pts} == {"estimate"}
    word = "estimated " if est else ""
    cap = res["sweep"].get("capacity") or {}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for (yk, yl), row in zip((("latency", "latency"), ("interval", "interval")), axes):
        for (xk, xl), ax in zip((("lut", "LUT"), ("dsp", "DSP")), row):
            xy = [(r, f[xk], f[yk]) for r, f in pts if f.get(xk) is not None and f.get(yk) is not None]
            precs = sorted({r["params"]["precision"] for r, _, _ in xy})
            for prec in precs:
                sel = [(x, y, r["params"]["reuse"]) for r, x, y in xy if r["params"]["precision"] == prec]
                ax.scatter([x for x, _, _ in sel], [y for _, y, _ in sel], label=f"precision {prec}", zorder=3)
                for x, y, rf in sel:
                    ax.annotate(f"R{rf}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            front = set(pareto_front([(r["key"], (x, y)) for r, x, y in xy]))
            fp = sorted((x, y) for r, x, y in xy if r["key"] in front)
            if fp:
                ax.plot([x for x, _ in fp], [y for _, y in fp], "k--", lw=1, zorder=2)
                ax.scatter([x for x, _ in fp], [y for _, y in fp], s=140, facecolors="none", edgecolors="k",
                           label="Pareto front", zorder=4)
            if cap.get(xk):
                ax.axvline(cap[xk], color="r", lw=1.5, label=f"{res['sweep'].get('part') or 'device'}: "
                                                              f"{cap[xk]:,} {xl}")
            if xy and min(x for _, x, _ in xy) > 0:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            else:  # symlog keeps a point with 0 DSP on the axis
                ax.set_xscale("symlog", linthresh=1)
                ax.set_xlim(left=0)
            ax.set_xlabel(f"{word}{xl}")
            ax.set_ylabel(f"{word}{yl} [cycles]")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(("ESTIMATE - not a synthesis result. " if est else "") +
                 f"garnet-hls sweep of {Path(res['sweep']['model']).name}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    from garnet_hls.paths import write_output

    try:
        write_output(path, lambda f: fig.savefig(f, dpi=90, format="png"), "sweep plot", binary=True)
    finally:
        plt.close(fig)
    return path


def write_html(res: dict, path, plot: Path | None) -> Path:
    headers, rows = table_rows(res)
    s = res["sweep"]
    img = ""
    if plot and Path(plot).is_file():
        img = f'<img alt="sweep plot" src="data:image/png;base64,{base64.b64encode(Path(plot).read_bytes()).decode()}">'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    errs = "".join(f"<li>{html.escape(point_label(r['params']))} ({html.escape(str(r['stage']))}): "
                   f"{html.escape(r['error'])}</li>" for r in res["points"] if r.get("error"))
    tools = ", ".join(f"{html.escape(k)} {html.escape(str(v))}" for k, v in s["tool_versions"].items())
    src = sorted({(figures(r) or {}).get("source") for r in res["points"]} - {None})
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>garnet-hls sweep</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 8px;text-align:right}}</style></head><body>
<h1>garnet-hls sweep: {html.escape(Path(s['model']).name)}</h1>
<p>{s['n_done']} of {s['n_points']} points; part {html.escape(str(s.get('part')))}; {s['events']} events from
{html.escape(s['data'])}. Figures from: {html.escape(', '.join(src) or 'nothing')}
{'<b>(ESTIMATES, not synthesis results)</b>' if src == ['estimate'] else ''}. Latency and interval in clock cycles.
Bit-exact: the C simulation equals the point's Keras model bit for bit on every event.</p>
<table><tr>{head}</tr>{body}</table>
{f'<h2>Failed points</h2><ul>{errs}</ul>' if errs else ''}
{img}
<p><small>Tools: {tools}</small></p></body></html>
"""
    path = Path(path)
    _atomic_write(path, page)
    return path
