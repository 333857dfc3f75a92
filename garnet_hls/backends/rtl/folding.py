"""The folded RTL designs (issue #18): which planner, emulator and schedule a model or a plan takes.

GarNet / GarNetStack: :mod:`garnet_hls.backends.rtl.folded`; chained GravNet blocks:
:mod:`garnet_hls.backends.rtl.folded_gravnet`. The Verilog of both is :mod:`garnet_hls.backends.rtl.folded_rtl`.
"""

from __future__ import annotations

from garnet_hls.backends.rtl import folded as F
from garnet_hls.backends.rtl import folded_gravnet as FG


def plan(model, lanes: int, latency_cutoff: float = 5.0, multipliers: dict | None = None):
    """The folded plan of ``model`` with ``lanes`` lanes (a UserError naming what cannot be folded).

    ``multipliers`` (``project.multiplier_modes``): how the variable products of the graph layers are built,
    as in the fully parallel design (``model.trace_model``); the lane, aggregation and tail modules are traced
    under that policy, and ``auto`` keeps the DSP48E2 slices of all the modules (the hardware: every module
    exists once) within ``dsp_budget``. A folded design builds every graph layer's products one way."""
    from garnet_hls.errors import UserError
    from garnet_hls.backends.rtl import common as C
    from garnet_hls.backends.rtl.model import _multiplier_summary, traced_with_multipliers

    gravnet = type(F._graph_layer(model)).__name__ == "GravNet"
    modes = dict((multipliers or {}).get("layers") or {})
    budget = (multipliers or {}).get("dsp_budget")
    if len(set(modes.values())) > 1:
        listed = ", ".join(f"{n}: {m}" for n, m in modes.items())
        raise UserError(f"a folded design builds the products of all its graph layers one way; the config gives "
                        f"Multipliers {listed}")
    mode = next(iter(modes.values()), "dsp")
    if mode != "dsp" and F.is_keras3(model):
        raise UserError("Multipliers other than dsp are not built for Keras 3 models yet")
    label = ", ".join(modes) or F._graph_layer(model).name

    def raw():
        if gravnet:
            return FG.plan_gravnet(model, lanes, latency_cutoff)
        return F.plan_folded(model, lanes, latency_cutoff)

    def run():
        pol = C.policy()
        pol.layer, pol.mode = label, mode
        return raw()

    # traced under a recording policy for every mode (dsp too): the modules' logic is tagged by what it
    # implements, for report's breakdown, and the products are counted per layer
    p, pol = traced_with_multipliers(run, lambda pl: sum(C.dsp_count(m.comb) for m in pl.modules),
                                     mode == "auto", budget, latency_cutoff)
    p.multipliers = _multiplier_summary(pol, {label: mode}, budget)
    return p


def emulate(plan, data: dict) -> list:
    return FG.emulate(plan, data) if plan.kind == "GravNet" else F.emulate(plan, data)


def schedule(plan) -> dict:
    return FG.schedule(plan) if plan.kind == "GravNet" else F.schedule(plan)
