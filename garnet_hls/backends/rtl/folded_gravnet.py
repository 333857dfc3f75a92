"""A folded (time-multiplexed) GravNet for the RTL backend: the planner, a Python emulator and the static
schedule (issue #18; the Verilog is ``folded_rtl``, which writes both folded designs).

A model of B chained GravNet blocks (each fed by the one before, the last one optionally collapsed, then a
dense head) becomes 2B + 1 da4ml modules, run once per group of an event's vertex slots:

* **pass 0** (the prep, ``Lp`` lanes, ``Gp = ceil(V / Lp)`` groups; ``Lp = min(V, 4 L)`` by default):
  block 0's per-vertex half, ``x`` quantized to the input type, the coordinates ``s`` and the
  features ``f`` of each vertex.
* **pass p = 1..B** (L query lanes, ``G = ceil(V / L)`` groups): block p-1 for the lanes' query vertices
  ``i = g L + l``, in two modules. The **select** module (``plan.aggs[p-1]``) takes each lane's ``s``, every
  vertex's ``s`` (the event's register file) and the candidate bits ``cand[l][j] = (j < nvtx) and (j != i)``;
  it computes the V distances, the keys and the top-k (tree merge, ``gravnet.top_k``) and puts out per slot
  the edge weight ``w`` and the neighbour's index ``j``. The top gathers those neighbours' features from its
  feature memory (the emulator: by numpy indexing). The **aggregate** module (``plan.passes[p]``) takes the
  gathered features ``fg`` (L, k, P), ``w``, the lanes' ``x``, ``valid = i < nvtx`` and ``nvtx``; it computes the
  products, the aggregates and the output transform (``gravnet.aggregate`` / ``output_transform``: the very
  helpers of the fully parallel trace, so the rounding points are the same), masks the output, and then either
  block p's per-vertex half (``x``, ``s``, ``f`` of the next block, p < B) or (p = B) the per-lane head
  (collapse None) or the L-way part of the collapse (``ysum`` / ``ymax``) as the folded GarNet's last pass does.
* **tail** (collapse sum/mean/max): the collapse's rounding and the dense head, once per event
  (``folded._tail``).

Between passes the per-vertex outputs of every group are collected; once an event's last group is out, the
whole event is latched into the next pass's register file (held for one interval, while the next event's
groups are collected), so the blocks of successive events overlap: the interval is ``G``. The features go
group by group into the feature memory of ``schedule()['feature_buffers']`` event buffers instead.
"""

from __future__ import annotations

import math
import time

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.backends.rtl import common as C
from garnet_hls.backends.rtl import folded as F

RF_GLUE = 1  # the register file between passes (latched with the last group's outputs)
GATHER_GLUE = 1  # the gather: the feature memory's registered read between a query pass's two modules
# the prep's default lanes per query lane: the prep is ~1/10 of a query lane's logic per vertex, and fully parallel
# (V lanes) it was the largest module at V=64 (da4ml's estimate, benchmarks/rtl_folded_gravnet.md); 4 L lanes cost
# G/4 - 1 cycles of latency and a quarter of the interval
PREP_LANES_PER_LANE = 4


def _union(q: np.ndarray) -> np.ndarray:
    """One interval covering every lane's: q (L, n, 3) -> (n, 3)."""
    return np.stack([q[..., 0].min(axis=0), q[..., 1].max(axis=0), q[..., 2].min(axis=0)], axis=-1)


def _chain(model):
    """The model's GravNet layers (a chain fed by the model's features, each sharing the nvtx input) and
    the head after the last; anything else is refused in one line naming the layer."""
    kinds = [(layer, type(layer).__name__) for layer in model.layers]
    graph = [layer for layer, k in kinds if k == "GravNet"]
    nvtx_in = [t for t in model.inputs if t is not graph[0].input[0]]
    prev = None
    for layer in graph:
        feats, nv = layer.input
        if prev is not None and feats is not prev.output:
            raise UserError(f"layer {layer.name} (GravNet): the folded RTL backend takes GravNet blocks chained "
                            "directly (each fed by the one before)")
        if prev is None and not any(feats is t for t in model.inputs):
            raise UserError(f"layer {layer.name} (GravNet): the folded RTL backend needs the first GravNet block "
                            "fed by the model's features input")
        if not any(nv is t for t in nvtx_in):
            raise UserError(f"layer {layer.name} (GravNet): the folded RTL backend needs nvtx from the model's "
                            "nvtx input")
        if prev is not None and prev.collapse is not None:
            raise UserError(f"layer {prev.name} (GravNet): only the last GravNet block of a folded chain may "
                            "collapse")
        prev = layer
    after = False
    heads = F.head_kinds(model)
    for other, kind in kinds:
        if other is graph[-1]:
            after = True
        elif kind in ("InputLayer", "GravNet"):
            continue
        elif not after or kind not in heads:
            raise UserError(f"layer {other.name} ({kind}): the folded RTL backend takes GravNet blocks, then only "
                            f"{', '.join(heads)} after the last one")
    graph = [F.view(model, layer) for layer in graph]  # a Keras 3 layer as the traces read it
    for layer in graph:
        C.check_quantized(layer)
    return graph


def _prep_pass(ctx):
    from garnet_hls.backends.rtl import gravnet as GV

    layer, Lp, hw = ctx["layers"][0], ctx["Lp"], ctx["hw"]
    m = F._Builder(f"{layer.name}_prep", hw)
    x = m.given("x", C.input_array((Lp, ctx["n_features"]), layer.types["input"], hw))
    x, s, f = GV.prep(layer, x)
    m.out("x", x)
    m.out("s", s)
    m.out("f", f)
    return m.build(ctx["cutoff"])


def _select_pass(ctx, p):
    """Pass p's first module: block p-1's L query lanes up to the neighbour selection; per lane and slot the
    edge weight ``w`` and the neighbour's index ``j`` (the features are gathered outside, from the indices)."""
    from garnet_hls.backends.rtl import gravnet as GV

    layers, L, V, hw = ctx["layers"], ctx["L"], ctx["V"], ctx["hw"]
    layer, prev = layers[p - 1], ctx["passes"][p - 1]
    m = F._Builder(f"{layer.name}_sel{p}", hw)
    qs = _union(prev.qints("s"))
    S_all = m.port("S", np.broadcast_to(qs, (V, *qs.shape)).copy())
    sq = m.port("sq", np.broadcast_to(qs, (L, *qs.shape)).copy())
    cand = m.given("cand", C.integer_input((L, V), 1, hw))
    K = GV._Consts(layer)
    ws, js = [], []
    for lane in range(L):
        _, w, j = GV.select(layer, GV.lane_keys(layer, sq, S_all, cand, lane, K), K)
        ws.append([0.0 if v is None else v for v in w])  # the padding key: weight 0, any index
        js.append([0.0 if v is None else v for v in j])
    m.out("w", np.array(ws, dtype=object))
    m.out("j", np.array(js, dtype=object))
    return m.build(ctx["cutoff"])


def _query_pass(ctx, p):
    """Pass p's second module: block p-1's aggregation for the L lanes from the weights of its select module
    and the gathered features, then block p's per-vertex half (or the last block's outputs)."""
    from garnet_hls.backends.rtl import gravnet as GV

    layers, L, hw = ctx["layers"], ctx["L"], ctx["hw"]
    layer, prev, sel = layers[p - 1], ctx["passes"][p - 1], ctx["selects"][p - 1]
    m = F._Builder(f"{layer.name}_pass{p}", hw)
    qx, qf = _union(prev.qints("x")), _union(prev.qints("f"))
    k = layer.n_neighbours
    fg = m.port("fg", np.broadcast_to(qf, (L, k, *qf.shape)).copy())
    w = m.port("w", sel.qints("w"))
    x = m.port("xq", np.broadcast_to(qx, (L, *qx.shape)).copy())
    valid = m.given("valid", C.integer_input((L,), 1, hw))
    nvtx = m.given("nvtx", C.integer_input((1,), ctx["V"], hw))
    y = GV.lane_aggregate(layer, x, w, fg, valid, nvtx)
    if p < len(layers):
        xn, s, f = GV.prep(layers[p], y)
        m.out("x", xn)
        m.out("s", s)
        m.out("f", f)
    else:
        F._last_pass_outputs(ctx, m, y, valid)
    return m.build(ctx["cutoff"])


def plan_gravnet(model, lanes: int, latency_cutoff: float = 5.0, prep_lanes: int | None = None):
    """Split ``model`` (chained GravNet blocks, then a dense head) into da4ml modules of ``lanes`` query lanes
    (and ``prep_lanes`` for block 0's per-vertex half; default ``min(V, 4 lanes)``), each traced and
    pipelined at ``latency_cutoff`` as ``convert`` does."""
    from da4ml.trace import HWConfig

    from garnet_hls.backends.rtl.model import _layer_errors

    t0 = time.perf_counter()
    layers = _chain(model)
    V = layers[0].n_vertices
    if not 1 <= int(lanes) <= V:
        raise UserError(f"lanes must be 1..{V} (the layer's vertices), got {lanes}")
    Lp = min(V, PREP_LANES_PER_LANE * int(lanes)) if prep_lanes is None else int(prep_lanes)
    L = int(lanes)
    if not L <= Lp <= V:
        raise UserError(f"prep lanes must be {L}..{V} (at least the query lanes), got {prep_lanes}")
    last = layers[-1]
    F.check_keras3_head(model, last, L)
    ctx = {"model": model, "layer": last, "layers": layers, "L": L, "Lp": Lp, "V": V, "G": math.ceil(V / L),
           "cutoff": float(latency_cutoff), "hw": HWConfig(1, -1, float(latency_cutoff)), "passes": [],
           "not_exact": [], "n_features": int(layers[0].input[0].shape[-1]), "selects": []}
    with _layer_errors(layers[0]):
        ctx["passes"].append(_prep_pass(ctx))
    for p in range(1, len(layers) + 1):
        with _layer_errors(layers[p - 1]):
            ctx["selects"].append(_select_pass(ctx, p))
            ctx["passes"].append(_query_pass(ctx, p))
    with _layer_errors(last):
        tail = F._tail(ctx) if last.collapse is not None else None
    ins, outs = F._model_io(model, layers[0])
    return F.FoldedPlan(last, V, L, ctx["G"], ctx["passes"], ctx["selects"], tail, ins, outs, ctx["not_exact"],
                        time.perf_counter() - t0, "GravNet", Lp, math.ceil(V / Lp))


# ------------------------------------------------------------------------------------------------
# The emulator
# ------------------------------------------------------------------------------------------------
def cand_bits(V: int, slots: np.ndarray, nvtx: np.ndarray) -> np.ndarray:
    """(n, len(slots), V) 0/1: vertex j is a candidate neighbour of slot i (j < nvtx and j != i)."""
    j = np.arange(V)
    return ((j[None, None, :] < nvtx[:, None, None]) & (j[None, None, :] != slots[None, :, None])).astype(np.float64)


def emulate(plan, data: dict) -> list:
    """The folded GravNet's outputs for an events dict (``features``, ``nvtx``), one array per model output."""
    from garnet_hls.backends.rtl.model import input_arrays

    arrays = input_arrays(plan, data)
    kinds = [spec["kind"] for spec in plan.inputs]
    feats = arrays[kinds.index("features")]
    nvtx = arrays[kinds.index("nvtx")].reshape(-1).astype(np.int64)
    n, V, L, Lp = len(feats), plan.n_vertices, plan.lanes, plan.prep_lanes
    nv = nvtx.reshape(n, 1).astype(np.float64)
    # pass 0: the prep, Lp lanes over its groups (slots past V: zeros)
    x = np.zeros((n, plan.prep_groups * Lp, feats.shape[2]))
    x[:, :V] = feats
    rf = {}
    for g in range(plan.prep_groups):
        res = plan.passes[0].run({"x": x[:, g * Lp:(g + 1) * Lp]})
        for k, v in res.items():
            rf.setdefault(k, []).append(v)
    rf = {k: np.concatenate(v, axis=1)[:, :V] for k, v in rf.items()}
    slots = plan.groups * L
    pad = {k: np.concatenate([v, np.zeros((n, slots - V, *v.shape[2:]))], axis=1) for k, v in rf.items()}
    for p in range(1, len(plan.passes)):
        mod = plan.passes[p]
        nxt, acc, mx = {}, {}, {}
        for g in range(plan.groups):
            sl = slice(g * L, (g + 1) * L)
            idx = np.arange(g * L, (g + 1) * L)
            sel = plan.aggs[p - 1].run({"S": rf["s"], "sq": pad["s"][:, sl], "cand": cand_bits(V, idx, nvtx)})
            j = sel["j"].astype(np.int64)  # (n, L, k): the gather, as the top's feature memory reads it
            fg = rf["f"][np.arange(n)[:, None, None], j]
            feed = {"fg": fg, "w": sel["w"], "xq": pad["x"][:, sl],
                    "valid": (idx[None, :] < nvtx[:, None]).astype(np.float64), "nvtx": nv}
            res = mod.run(feed)
            for k, v in res.items():
                if k == "ysum":
                    acc[k] = v if g == 0 else acc[k] + v
                elif k == "ymax":
                    on = (g * L < nvtx).reshape(-1, *([1] * (v.ndim - 1)))
                    mx[k] = v if g == 0 else np.where(on, np.maximum(mx[k], v), mx[k])
                else:
                    nxt.setdefault(k, []).append(v)
        for k, v in acc.items():
            F._check_exact(v, F._sum_qints(mod.qints(k), plan.groups))
        per_vertex = {k: np.concatenate(v, axis=1) for k, v in nxt.items()}
        if p < len(plan.passes) - 1:  # the next pass's register file; its lanes past V get zeros
            rf = {k: v[:, :V] for k, v in per_vertex.items()}
            pad = {k: np.concatenate([v, np.zeros((n, slots - V, *v.shape[2:]))], axis=1) for k, v in rf.items()}
    if plan.tail is None:
        return [per_vertex[f"out{k}"][:, :V] for k in range(len(plan.outputs))]
    res = plan.tail.run({"acc": mx["ymax"] if "ymax" in mx else acc["ysum"], "nvtx": nv})
    return [res[f"out{k}"].reshape(n, *o["shape"]) for k, o in enumerate(plan.outputs)]


# ------------------------------------------------------------------------------------------------
# The static schedule
# ------------------------------------------------------------------------------------------------
def schedule(plan) -> dict:
    """The clock offsets of the folded GravNet; the Verilog generator uses these numbers.

    Clock 0 is the one at which the event is presented and group 0 enters pass 0. A query pass p is two modules,
    the select (``Ns_p`` stages) and the aggregate (``Na_p``), with the gather between them: the select's
    indices are out at ``+ Ns_p + PASS_GLUE``, the feature memory's registered read adds ``GATHER_GLUE``, so the
    pass's depth is ``N_p = Ns_p + PASS_GLUE + GATHER_GLUE + Na_p`` (the prep's: its module's). Group g of pass
    p enters at ``start[p] + g`` and is out at ``start[p] + g + N_p + 1`` (``PASS_GLUE``); in the clock of its
    last group, pass p's outputs of every group are latched into pass p+1's register file (``RF_GLUE``), so

        start[p+1] = start[p] + (G_p - 1) + N_p + PASS_GLUE + RF_GLUE

    (G_0 = the prep's groups, G_p = G for the query passes). The collapse is the folded GarNet's: accumulator,
    snapshot and tail (``BARRIER_GLUE`` + N_tail), or (collapse None) the output register (``OUTPUT_GLUE``):

        latency = (G_0 - 1) + B (G - 1) + sum_p (N_p + 1) + B RF_GLUE + [N_tail + 3 | 1]

    The interval is ``max(G, G_0)`` (= G: the prep has at least as many lanes), and up to B + 1 events are in
    flight, one per pass. Each query pass's features are written into a memory of ``feature_buffers`` event
    buffers group by group as the pass before puts them out (from ``start[p] - RF_GLUE - (G_{p-1} - 1)``) and
    read until ``start[p] + G - 1 + Ns_p + PASS_GLUE``; an event's buffer is reused ``feature_buffers`` events
    later, at least that many intervals on, after its last read.
    """
    G, G0 = plan.groups, plan.prep_groups
    sel = [m.depth for m in plan.aggs]
    n_pass = [plan.passes[0].depth] + [s + F.PASS_GLUE + GATHER_GLUE + m.depth
                                       for s, m in zip(sel, plan.passes[1:])]
    groups = [G0] + [G] * (len(plan.passes) - 1)
    start = [0]
    for p in range(len(plan.passes) - 1):
        start.append(start[p] + groups[p] - 1 + n_pass[p] + F.PASS_GLUE + RF_GLUE)
    done = start[-1] + (G - 1) + n_pass[-1] + F.PASS_GLUE
    latency = done + (plan.tail.depth + F.BARRIER_GLUE if plan.tail is not None else F.OUTPUT_GLUE)
    # event e+n overwrites the buffer from start[p] - RF_GLUE - (G_{p-1} - 1) + n G on: after the last read
    bufs = max([(G + s + F.PASS_GLUE - 1 + gs + RF_GLUE - 1) // G + 1 for s, gs in zip(sel, groups)] or [1])
    return {
        "lanes": plan.lanes, "groups": G, "prep_lanes": plan.prep_lanes, "prep_groups": G0,
        "interval": max(G, G0), "latency": latency,
        "depths": {m.name: m.depth for m in plan.modules},
        "pass_depths": n_pass,
        "pass_start": start,
        "feature_buffers": bufs,
        "events_in_flight": len(plan.passes),
    }
