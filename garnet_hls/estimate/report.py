"""``garnet-hls report PROJECT --estimate``: a real synthesis report beside our estimate, with ratios.

The first user who runs Vivado/Vitis HLS on a generated project shows us, in one table, how far the
structural estimate (``garnet_hls.estimate``, docs/estimate.md) is from the tool: latency, interval and
resources as C synthesis reports them for the top function, our estimate of the same quantities, and
estimate / synthesis. The synthesis numbers are read from the report files (``garnet_hls.toolchain.hls``);
nothing here invents a synthesis number: a quantity the report does not give is shown as "-".
"""

from __future__ import annotations

from typing import Any

import garnet_hls.estimate as E

# (label, estimate attribute, synthesis report attribute or resource key)
QUANTITIES = (
    ("latency [cycles]", "latency", "latency_worst"),
    ("interval [cycles]", "interval", "interval_max"),
    ("DSP", "dsp", "DSP"),
    ("LUT", "lut", "LUT"),
    ("FF", "ff", "FF"),
    ("BRAM_18K", "bram_18k", "BRAM_18K"),
)


def comparison_rows(est: E.Estimate, csynth) -> list[dict[str, Any]]:
    """One row per quantity: the synthesis value (None when the report lacks it), the estimate and
    estimate / synthesis (None when undefined)."""
    rows = []
    for label, est_attr, syn_key in QUANTITIES:
        e = getattr(est, est_attr)
        if csynth is None:
            s = None
        elif hasattr(csynth, syn_key):
            s = getattr(csynth, syn_key)
        else:
            s = csynth.resources.get(syn_key)
        ratio = (e / s) if (s not in (None, 0)) else None
        rows.append(dict(quantity=label, synthesis=s, estimate=e, ratio=ratio))
    return rows


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3g}"
    return f"{int(v):,}"


def format_comparison(est: E.Estimate, csynth) -> str:
    rows = comparison_rows(est, csynth)
    src = ", ".join(csynth.sources) if csynth is not None and csynth.sources else "-"
    lines = [f"Synthesis report vs {E.BANNER}"]
    if csynth is not None:
        tool = " ".join(x for x in (csynth.tool, csynth.version) if x)
        lines.append(f"  synthesis: {tool or 'HLS'} C synthesis of {csynth.top or '?'} on {csynth.part or '?'} "
                     f"({src})")
        if csynth.part and est.part and csynth.part.split("-")[0] != est.part.split("-")[0]:
            lines.append(f"  note: the report's part {csynth.part} is not the project's {est.part}")
    else:
        lines.append("  no C-synthesis report in the project (run garnet-hls synth): estimate only")
    lines.append(f"  estimate: {E.MODEL_NAME}, {est.part}, {est.clock_ns:g} ns, top {est.top_pragma}")
    lines.append("")
    table = [[r["quantity"], _fmt(r["synthesis"]), _fmt(r["estimate"]),
              "-" if r["ratio"] is None else f"{r['ratio']:.2f}"] for r in rows]
    lines += E._grid(["quantity", "synthesis (report)", "estimate", "estimate / synthesis"], table)
    return "\n".join(lines) + "\n\n"
