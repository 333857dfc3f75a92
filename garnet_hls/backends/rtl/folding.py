"""The folded RTL designs (issue #18): which planner, emulator and schedule a model or a plan takes.

GarNet / GarNetStack: :mod:`garnet_hls.backends.rtl.folded`; chained GravNet blocks:
:mod:`garnet_hls.backends.rtl.folded_gravnet`. The Verilog of both is :mod:`garnet_hls.backends.rtl.folded_rtl`.
"""

from __future__ import annotations

from garnet_hls.backends.rtl import folded as F
from garnet_hls.backends.rtl import folded_gravnet as FG


def plan(model, lanes: int, latency_cutoff: float = 5.0):
    """The folded plan of ``model`` with ``lanes`` lanes (a UserError naming what cannot be folded)."""
    if type(F._graph_layer(model)).__name__ == "GravNet":
        return FG.plan_gravnet(model, lanes, latency_cutoff)
    return F.plan_folded(model, lanes, latency_cutoff)


def emulate(plan, data: dict) -> list:
    return FG.emulate(plan, data) if plan.kind == "GravNet" else F.emulate(plan, data)


def schedule(plan) -> dict:
    return FG.schedule(plan) if plan.kind == "GravNet" else F.schedule(plan)
