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

from garnet_hls.errors import UserError


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


# ------------------------------------------------------------------------------------------------
# Objectives: what the Pareto front is taken over
# ------------------------------------------------------------------------------------------------
#: name -> (which way is better, how the table and plot call it)
OBJECTIVES = {
    "latency": ("min", "latency"),
    "interval": ("min", "interval"),
    "lut": ("min", "LUT"),
    "dsp": ("min", "DSP"),
    "ff": ("min", "FF"),
    "bram": ("min", "BRAM18"),
    "auc": ("max", "AUC"),
    "resolution": ("min", "E res."),
}
DEFAULT_OBJECTIVES = ("latency", "interval", "lut", "dsp", "auc", "resolution")
_ALIASES = {"res": "resolution", "energy_resolution": "resolution", "eres": "resolution", "bram_18k": "bram",
            "bram18": "bram", "ii": "interval"}


def parse_objectives(text) -> tuple[str, ...]:
    """``latency,lut,auc`` -> ('latency', 'lut', 'auc'); an unknown name is one line."""
    names = [_ALIASES.get(t.strip().lower(), t.strip().lower()) for t in str(text).split(",") if t.strip()]
    bad = [n for n in names if n not in OBJECTIVES]
    if bad or not names:
        what = f"unknown objective {', '.join(repr(b) for b in bad)}" if bad else "no objective given"
        raise UserError(f"--objectives: {what}; valid: {', '.join(OBJECTIVES)} (comma-separated)")
    return tuple(dict.fromkeys(names))


def objective_values(r: dict) -> dict[str, Any]:
    """A point's value of every objective (None where it has none)."""
    f, ph = figures(r) or {}, r.get("physics") or {}
    return {"latency": f.get("latency"), "interval": f.get("interval"), "lut": f.get("lut"), "dsp": f.get("dsp"),
            "ff": f.get("ff"), "bram": f.get("bram_18k"), "auc": ph.get("auc"),
            "resolution": ph.get("energy_resolution")}


def front_objectives(points: list[dict], objectives=DEFAULT_OBJECTIVES) -> list[str]:
    """The objectives some finished point has a value of (a model without an energy output has no resolution)."""
    vals = [objective_values(r) for r in points if r.get("status") == "ok"]
    return [o for o in objectives if any(v.get(o) is not None for v in vals)]


def pareto_keys(points: list[dict], objectives=DEFAULT_OBJECTIVES) -> list[str]:
    """Points with status ok that no other ok point beats on every one of ``objectives`` (AUC higher is better,
    every other figure lower)."""
    used = front_objectives(points, objectives)
    items = []
    for r in points:
        if r.get("status") != "ok":
            continue
        v = objective_values(r)
        if used and all(v[o] is not None for o in used):
            items.append((r["key"], tuple(-v[o] if OBJECTIVES[o][0] == "max" else v[o] for o in used)))
    return pareto_front(items)


# ------------------------------------------------------------------------------------------------
# Acceptance: which points keep the physics, and the cheapest of them
# ------------------------------------------------------------------------------------------------
PHYSICS = {"auc": ("AUC", "max"), "resolution": ("E res.", "min")}


def parse_tolerance(text, flag: str) -> dict | None:
    """``0.005`` -> {'absolute': 0.005}; ``2%`` -> {'relative': 0.02} (of the unswept model's figure);
    ``none`` -> None (not checked)."""
    t = str(text).strip().lower()
    if t in ("none", "off", ""):
        return None
    rel = t.endswith("%")
    try:
        v = float(t[:-1] if rel else t)
    except ValueError:
        raise UserError(f"{flag} takes a number (0.005), a percentage (2%) or none, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise UserError(f"{flag} must be a finite number >= 0, got {text!r}")
    return {"relative": v / 100.0} if rel else {"absolute": v}


def tolerance_text(spec: dict | None) -> str:
    if spec is None:
        return "not checked"
    return f"{spec['relative'] * 100:g}%" if "relative" in spec else f"{spec['absolute']:g}"


def allowed_loss(spec: dict, ref: float) -> float:
    return spec["relative"] * abs(ref) if "relative" in spec else spec["absolute"]


def threshold(name: str, spec: dict | None, ref: float | None) -> float | None:
    """The worst accepted AUC (lowest) or energy resolution (highest), or None when not checked."""
    if spec is None or ref is None:
        return None
    loss = allowed_loss(spec, ref)
    return ref - loss if PHYSICS[name][1] == "max" else ref + loss


def _reference_values(res: dict) -> dict[str, float | None]:
    ref = ((res["sweep"].get("reference") or {}).get("model") or {})
    return {"auc": ref.get("auc"), "resolution": ref.get("energy_resolution")}


def keeps_physics(r: dict, res: dict) -> bool | None:
    """True when the point's AUC and energy resolution are within the tolerances of the unswept model's (on
    the same events), False when one is not; None when nothing can be checked (no tolerance, no reference,
    or the point did not finish with status ok)."""
    if r.get("status") != "ok":
        return None
    tol = res["sweep"].get("tolerances") or {}
    ref = _reference_values(res)
    v = objective_values(r)
    verdicts = []
    for name, (_, better) in PHYSICS.items():
        lim = threshold(name, tol.get(name), ref[name])
        if lim is None or v[name] is None:
            continue
        verdicts.append(v[name] >= lim - 1e-12 if better == "max" else v[name] <= lim + 1e-12)
    return all(verdicts) if verdicts else None


def cost(r: dict, capacity: dict | None) -> tuple:
    """What "cheapest" means: the share of the device's binding resource (max of LUT, DSP, FF, BRAM used /
    available) when the part is known, else the LUT count; ties broken by LUT, DSP, FF, latency, interval."""
    f = figures(r) or {}
    inf = float("inf")
    share = [f[k] / capacity[k] for k in ("lut", "dsp", "ff", "bram_18k")
             if capacity and capacity.get(k) and f.get(k) is not None]
    first = max(share) if share else (f.get("lut") if f.get("lut") is not None else inf)
    return (first,) + tuple(f.get(k) if f.get(k) is not None else inf
                            for k in ("lut", "dsp", "ff", "latency", "interval"))


def _figures_text(f: dict) -> str:
    parts = [f"{f[k]:,} {n}" for k, n in (("lut", "LUT"), ("dsp", "DSP"), ("ff", "FF")) if f.get(k) is not None]
    parts += [f"{n} {f[k]:,}" for k, n in (("latency", "latency"), ("interval", "interval"))
              if f.get(k) is not None]
    src = f.get("source")
    return ", ".join(parts) + (f" ({'ESTIMATE' if src == 'estimate' else src})" if src else "")


def _physics_text(r: dict, ref: dict) -> str:
    v = objective_values(r)
    out = []
    for name, (label, _) in PHYSICS.items():
        if v[name] is not None:
            d = f" ({v[name] - ref[name]:+.4f})" if ref.get(name) is not None else ""
            out.append(f"{label} {v[name]:.4f}{d}")
    return ", ".join(out)


def acceptance_text(res: dict) -> str:
    tol = res["sweep"].get("tolerances") or {}
    ref = _reference_values(res)
    parts = [f"{PHYSICS[n][0]} within {tolerance_text(tol.get(n))}" for n in PHYSICS
             if tol.get(n) is not None and ref[n] is not None]
    refs = ", ".join(f"{PHYSICS[n][0]} {ref[n]:.4f}" for n in PHYSICS if ref[n] is not None)
    return f"{' and '.join(parts)} of the unswept model ({refs})" if parts else ""


def recommend(res: dict) -> dict[str, Any]:
    """{'key': the cheapest point that keeps the physics (or None), 'line': one line saying so}."""
    crit = acceptance_text(res)
    if not crit:
        return {"key": None, "line": "no recommendation: no physics tolerance to check (--max-auc-loss / "
                                     "--max-resolution-loss, and a model with a class or energy output)"}
    cap = res["sweep"].get("capacity")
    ok = [r for r in res["points"] if r.get("status") == "ok" and figures(r)]
    if not ok:
        return {"key": None, "line": "no recommendation: no finished point has resource figures (an rtl point has "
                                     "them with --synth yosys)"}
    keep = [r for r in ok if keeps_physics(r, res)]
    if not keep:
        return {"key": None, "line": f"recommendation: NONE - no finished point keeps {crit}; keep more bits or "
                                     f"loosen --max-auc-loss / --max-resolution-loss"}
    best = min(keep, key=lambda r: cost(r, cap))
    how = "the smallest share of the device" if cap else "the fewest LUTs"
    sources = sorted({figures(r)["source"] for r in keep})
    mixed = f" (comparing {' with '.join(sources)} figures as they are)" if len(sources) > 1 else ""
    return {"key": best["key"],
            "line": f"recommendation: {point_label(best['params'])}: {_figures_text(figures(best))}; "
                    f"{_physics_text(best, _reference_values(res))} - {how} of the {len(keep)} of {len(ok)} "
                    f"points that keep {crit}{mixed}"}


def summarize(res: dict, objectives=DEFAULT_OBJECTIVES) -> dict:
    """Fill in the front, which points keep the physics and the recommendation (from ``res`` alone)."""
    res["objectives"] = front_objectives(res["points"], objectives)
    res["pareto"] = pareto_keys(res["points"], objectives)
    res["keeps_physics"] = {r["key"]: keeps_physics(r, res) for r in res["points"]}
    res["recommendation"] = recommend(res)
    return res


def _fmt(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _objectives_text(res: dict) -> str:
    objs = res.get("objectives") or []
    return ", ".join(OBJECTIVES[o][1] + (" (higher is better)" if OBJECTIVES[o][0] == "max" else "")
                     for o in objs) or "nothing"


def reference_text(res: dict) -> str:
    """The unswept and the float model's physics on the sweep's events, one line."""
    ref = res["sweep"].get("reference") or {}
    out = []
    for name, what in (("model", "unswept model (Keras, as trained)"), ("float", "float model (quantizers off)")):
        ph = ref.get(name) or {}
        vals = [f"{label} {ph[k]:.4f}" for k, label in (("auc", "AUC"), ("energy_resolution", "E res."))
                if ph.get(k) is not None]
        if vals:
            out.append(f"{what}: {', '.join(vals)}")
    if ref.get("float_error"):
        out.append(f"float model: not evaluated ({ref['float_error']})")
    return "; ".join(out)


def table_rows(res: dict) -> tuple[list[str], list[list[str]]]:
    front = set(res.get("pareto") or [])
    keeps = res.get("keeps_physics") or {}
    best = (res.get("recommendation") or {}).get("key")
    src = {(figures(r) or {}).get("source") for r in res["points"]} - {None}
    tag = "est. " if src == {"estimate"} else ""
    headers = ["R", "precision", "backend", "status", "bit-exact", f"{tag}latency", f"{tag}interval", f"{tag}LUT",
               f"{tag}DSP", f"{tag}FF", f"{tag}BRAM18", "AUC", "E res.", "keeps", "wall s", "pareto"]
    rows = []
    for r in res["points"]:
        p, f, ph = r["params"], figures(r) or {}, r.get("physics") or {}
        status = r["status"] if r["status"] != "error" else f"error ({r['stage']})"
        rows.append([str(p["reuse"]), p["precision"], p["backend"], status,
                     {True: "yes", False: "NO", None: "-"}[r.get("bit_exact")],
                     _fmt(f.get("latency")), _fmt(f.get("interval")), _fmt(f.get("lut")), _fmt(f.get("dsp")),
                     _fmt(f.get("ff")), _fmt(f.get("bram_18k")), _fmt(ph.get("auc")),
                     _fmt(ph.get("energy_resolution")), {True: "yes", False: "NO", None: "-"}[keeps.get(r["key"])],
                     f"{r['seconds']:.1f}" if r.get("seconds") is not None else "-",
                     ("*" if r["key"] in front else "") + ("<" if r["key"] == best else "")])
    return headers, rows


def notes(res: dict) -> list[str]:
    """What the table's columns mean, the reference figures and the recommendation (last)."""
    s = res["sweep"]
    src = sorted({(figures(r) or {}).get("source") for r in res["points"]} - {None})
    out = [f"{s['n_done']} of {s['n_points']} points; latency/interval in clock cycles; figures from: "
           f"{', '.join(src) or 'nothing'}{' (ESTIMATES, not synthesis results)' if src == ['estimate'] else ''}; "
           f"AUC / energy resolution of the firmware outputs on {s['events']} events"]
    out.append(f"* = Pareto front over {_objectives_text(res)}; < = recommended")
    crit = acceptance_text(res)
    out.append(f"keeps = {crit}" if crit else "keeps: no physics tolerance checked")
    ref = reference_text(res)
    if ref:
        out.append(f"reference: {ref}")
    out.append((res.get("recommendation") or recommend(res))["line"])
    return out


def format_table(res: dict) -> str:
    headers, rows = table_rows(res)
    widths = [max(len(h), *(len(c[i]) for c in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]
    for r in res["points"]:
        if r.get("error"):
            out.append(f"{point_label(r['params'])}: {r['stage']}: {r['error']}")
    out += notes(res)
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------
# The plot
# ------------------------------------------------------------------------------------------------
_Y_PANELS = (("auc", "AUC"), ("resolution", "energy resolution"), ("latency", "latency [cycles]"),
             ("interval", "interval [cycles]"))
_X_PANELS = (("lut", "LUT"), ("dsp", "DSP"))
_BACKEND_MARKERS = {"vivado": "o", "vitis": "D", "rtl": "s"}


def _tick_text(v, _pos=None) -> str:
    """A tick's number: 0, 12, 0.971, 20k, 1.7M (compact beyond 10,000 so that log-axis labels do not collide)."""
    if v == 0:
        return "0"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.3g}k"
    if abs(v) >= 1 and abs(v - round(v)) < 1e-9 * max(1.0, abs(v)):
        return f"{v:,.0f}"
    return f"{v:.6g}"


def _number_axis(axis, scale: str, lo: float, hi: float):
    """Numbers on every axis: a log axis within less than ~one decade gets evenly spaced, labelled ticks
    (matplotlib would put no major tick there), a wider one labelled 1-2-5 decades; linear axes plain numbers
    (no offset, no scientific notation)."""
    import matplotlib.ticker as mt

    if scale == "linear":
        fmt = mt.ScalarFormatter(useOffset=False)
        fmt.set_scientific(False)
        axis.set_major_formatter(fmt)
        return
    if scale == "log" and hi / lo < 30:
        ticks = [t for t in mt.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
        axis.set_major_locator(mt.FixedLocator(ticks))
    elif scale == "log":
        axis.set_major_locator(mt.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 300 else (1.0,)))
    elif hi <= 30:  # symlog from 0
        axis.set_major_locator(mt.FixedLocator(mt.MaxNLocator(nbins=5, integer=True).tick_values(0, hi)))
    axis.set_major_formatter(mt.FuncFormatter(_tick_text))
    axis.set_minor_formatter(mt.NullFormatter())


def sweep_figure(res: dict):
    """The sweep plot as a matplotlib figure: AUC, energy resolution, latency and interval (rows of panels
    per resource) against LUT and DSP. Marker colour = precision, shape = backend; hollow = loses the
    physics; ringed = on the Pareto front (all objectives); star = the recommendation. The unswept and the
    float model's AUC / resolution, and the worst accepted value, are horizontal lines; the device's
    capacity (when known) a vertical one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r, figures(r)) for r in res["points"] if r["status"] == "ok" and figures(r)]
    est = {f["source"] for _, f in pts} == {"estimate"}
    word = "estimated " if est else ""
    s = res["sweep"]
    cap = s.get("capacity") or {}
    ref = s.get("reference") or {}
    tol = s.get("tolerances") or {}
    front = set(res.get("pareto") or [])
    keeps = res.get("keeps_physics") or {}
    best = (res.get("recommendation") or {}).get("key")
    precs = sorted({r["params"]["precision"] for r, _ in pts}, key=lambda p: (p != "model", p))
    colour = {p: f"C{i % 10}" for i, p in enumerate(precs)}
    fig, axes = plt.subplots(len(_X_PANELS), len(_Y_PANELS), figsize=(19, 9), squeeze=False)
    for (xk, xl), row in zip(_X_PANELS, axes):
        for (yk, yl), ax in zip(_Y_PANELS, row):
            xy = [(r, f[xk], objective_values(r)[yk]) for r, f in pts
                  if f.get(xk) is not None and objective_values(r)[yk] is not None]
            for r, x, y in xy:
                c = colour[r["params"]["precision"]]
                lost = keeps.get(r["key"]) is False
                ax.scatter([x], [y], marker=_BACKEND_MARKERS.get(r["params"]["backend"], "o"), s=42, zorder=3,
                           facecolors="none" if lost else c, edgecolors=c, linewidths=1.4)
                ax.annotate(f"R{r['params']['reuse']}", (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
            fr = [(x, y) for r, x, y in xy if r["key"] in front]
            if fr:
                ax.scatter([x for x, _ in fr], [y for _, y in fr], s=190, facecolors="none", edgecolors="k",
                           linewidths=1.0, zorder=4)
            bx = [(x, y) for r, x, y in xy if r["key"] == best]
            if bx:
                ax.scatter([bx[0][0]], [bx[0][1]], marker="*", s=330, facecolors="gold", edgecolors="k", zorder=5)
            ys = [y for _, _, y in xy]
            if yk in PHYSICS:
                key = "auc" if yk == "auc" else "energy_resolution"
                for name, style, what in (("float", ":", "float model"), ("model", "--", "unswept model")):
                    v = (ref.get(name) or {}).get(key)
                    if v is not None:
                        ax.axhline(v, color="0.35" if name == "float" else "g", ls=style, lw=1.2,
                                   label=f"{what}: {v:.4f}")
                        ys.append(v)
                lim = threshold(yk, tol.get(yk), (ref.get("model") or {}).get(key))
                if lim is not None:
                    ax.axhline(lim, color="r", ls=(0, (1, 3)), lw=1.2,
                               label=f"worst accepted: {lim:.4f} ({tolerance_text(tol.get(yk))})")
                    ys.append(lim)
            xs = [x for _, x, _ in xy]
            if cap.get(xk):
                ax.axvline(cap[xk], color="r", lw=1.5, label=f"{s.get('part') or 'device'}: {cap[xk]:,} {xl}")
                xs.append(cap[xk])
            if xs and min(xs) > 0:
                scale, lo, hi = "log", min(xs) / 1.3, max(xs) * 1.3
                ax.set_xscale("log")
            else:  # symlog keeps a point with 0 DSP on the axis
                scale, lo, hi = "symlog", 0.0, max(max(xs, default=1) * 1.3, 1.0)
                ax.set_xscale("symlog", linthresh=1)
            ax.set_xlim(lo, hi)
            _number_axis(ax.xaxis, scale, lo, hi)
            if ys:
                pad = (max(ys) - min(ys)) * 0.12 or max(abs(max(ys)) * 0.05, 1e-3)
                ax.set_ylim(min(ys) - pad, max(ys) + pad)
            _number_axis(ax.yaxis, "linear", *ax.get_ylim())
            if not xy:
                ax.text(0.5, 0.5, "no point has both figures", ha="center", va="center", transform=ax.transAxes,
                        fontsize=8, color="0.4")
            ax.set_xlabel(f"{word}{xl}")
            ax.set_ylabel(yl if yk in PHYSICS else f"{word}{yl}")
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6.5, loc="best")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color=colour[p], label=f"precision {p}") for p in precs]
    handles += [Line2D([], [], marker=m, ls="", color="0.3", label=b) for b, m in _BACKEND_MARKERS.items()
                if any(r["params"]["backend"] == b for r, _ in pts)]
    handles += [Line2D([], [], marker="o", ls="", mfc="none", mec="0.3", label="loses the physics"),
                Line2D([], [], marker="o", ls="", ms=13, mfc="none", mec="k", label="Pareto front"),
                Line2D([], [], marker="*", ls="", ms=14, mfc="gold", mec="k", label="recommended")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    crit = acceptance_text(res)
    by_backend = {}
    for r, f in pts:
        by_backend.setdefault(f["source"], set()).add(r["params"]["backend"])
    src = "; ".join(f"{', '.join(sorted(b))}: {k}" for k, b in sorted(by_backend.items()))
    title = (("ESTIMATE - not a synthesis result. " if est else "") + f"garnet-hls sweep of {Path(s['model']).name}"
             + (f" on {s['events']} events" if s.get("events") else "")
             + f"; Pareto front over {_objectives_text(res)}" + (f"\nkeeps the physics: {crit}" if crit else "")
             + (f"\nresources and cycles from: {src}" if len(by_backend) > 1 else ""))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def write_plot(res: dict, path) -> Path:
    """:func:`sweep_figure`, written atomically as a PNG."""
    import matplotlib.pyplot as plt

    fig = sweep_figure(res)
    path = Path(path)
    from garnet_hls.paths import write_output

    try:
        write_output(path, lambda f: fig.savefig(f, dpi=80, format="png"), "sweep plot", binary=True)
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
    rec = (res.get("recommendation") or recommend(res))["line"]
    explain = "".join(f"<li>{html.escape(n)}</li>" for n in notes(res)[1:-1])
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>garnet-hls sweep</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 8px;text-align:right}}img{{max-width:100%}}</style></head><body>
<h1>garnet-hls sweep: {html.escape(Path(s['model']).name)}</h1>
<p>{s['n_done']} of {s['n_points']} points; part {html.escape(str(s.get('part')))}; {s['events']} events from
{html.escape(s['data'])}. Figures from: {html.escape(', '.join(src) or 'nothing')}
{'<b>(ESTIMATES, not synthesis results)</b>' if src == ['estimate'] else ''}. Latency and interval in clock cycles.
Bit-exact: the C simulation equals the point's Keras model bit for bit on every event.</p>
<p><b>{html.escape(rec)}</b></p>
<ul>{explain}</ul>
<table><tr>{head}</tr>{body}</table>
{f'<h2>Failed points</h2><ul>{errs}</ul>' if errs else ''}
{img}
<p><small>Tools: {tools}</small></p></body></html>
"""
    path = Path(path)
    _atomic_write(path, page)
    return path
