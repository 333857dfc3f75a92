"""A folded (time-multiplexed) GarNet / GarNetStack for the RTL backend: the planner, a Python emulator and
the static schedule (issue #18, stage 0; the Verilog is ``folded_rtl``).

With L lanes, an event's V vertex slots go through the design L at a time, in ``G = ceil(V / L)`` groups
(slot ``i = g L + l`` is lane l of group g; the slots past V are padding, masked like any ``i >= nvtx``).
A layer of B blocks becomes da4ml modules, each traced with the very helpers of the parallel trace
(``garnet.input_pass`` / ``aggregate`` / ``output_pass``, ``common``, ``model.trace_head_layer``), so the
rounding points are the same:

* **passes** ``p = 0..B``, one module each, L lane copies, run once per group. Pass p computes block p-1's
  output half (``y = Q_out(act(sum_a w_a hw_a ...))``) and block p's input half (``w`` masked by the lane's
  ``valid`` input, the products ``w_a g_c``, their L-way sum ``psum`` and, in full mode, their L-way max over
  valid lanes ``gmax``). Pass 0 has only the input half, pass B only the output half: ``y`` masked to 0 on
  padding, then per lane the head (collapse None) or the L-way ``ysum`` / ``ymax`` (collapse sum/mean, max).
  Per-vertex state goes from pass p to pass p+1: ``w`` and, in full mode, ``x`` (block p's input).
* **aggs** ``b = 0..B-1``, once per event: ``hw_a = h_a W_O[a]`` from the exact sum ``S`` of block b's
  ``psum`` over the groups (and the max ``M`` of the ``gmax``), ``mean = Q_agg(S r)``, r = 1/V or 1/nvtx.
* **tail**, once per event (collapse sum/mean/max): the collapse's rounding and the dense head, fully
  parallel.

A module's inputs are declared with the exact intervals its producer gives (``comb.out_qint``; G times the
per-group interval for a sum over groups), so values pass bit for bit; an input its producer holds constant
is that constant, not a wire. The glue between modules (accumulators, running max, delay lines, the
broadcast of ``hw``) is the emulator here and the generated top in ``folded_rtl``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.backends.rtl import common as C

FOLDED_KINDS = ("GarNet", "GarNetStack")
HEAD_KINDS = ("QDense", "QActivation", "Dropout")
EXACT_BITS = 53  # the emulator's accumulators are float64 sums of dyadic values: exact within 53 bits

# glue registers of the schedule (see :func:`schedule`)
PASS_GLUE = 1  # the register between a module's output and whatever takes it
BARRIER_GLUE = 3  # accumulator, snapshot, the register into the once-per-event module
OUTPUT_GLUE = 1  # collapse None: the register holding all the groups' per-lane outputs


@dataclass
class Module:
    """One da4ml module: its ports in the order of the traced logic's flat inputs and outputs."""
    name: str
    comb: object
    inputs: list  # [(port, shape)], each port's elements row-major
    outputs: list  # [(port, shape)]
    live: np.ndarray  # per flat input element: a wire (False: a constant of its producer, not an input)
    pipe: object = None
    op_kinds: list | None = None  # what each op of comb implements (common.KINDS), when the trace recorded it

    @property
    def depth(self) -> int:
        """Pipeline stages (clock cycles) of the module: ``len(pipe.solutions)``."""
        return len(self.pipe.solutions) if self.pipe is not None else 0

    def qints(self, port: str) -> np.ndarray:
        """(low, high, step) of every element of an output port: array (*shape, 3)."""
        q = _out_qints(self.comb)
        off = 0
        for name, shape in self.outputs:
            n = int(np.prod(shape))
            if name == port:
                return q[off:off + n].reshape(*shape, 3)
            off += n
        raise KeyError(port)

    def run(self, feed: dict) -> dict:
        """Every output port for a batch of rows: ``feed[port]`` is (n, *shape) for each input port."""
        n = len(next(iter(feed.values())))
        cols = [np.asarray(feed[name], dtype=np.float64).reshape(n, -1) for name, _ in self.inputs]
        flat = np.concatenate(cols, axis=1)[:, self.live] if cols else np.zeros((n, 0))
        out = np.asarray(self.comb.predict(np.ascontiguousarray(flat)), dtype=np.float64)
        res, off = {}, 0
        for name, shape in self.outputs:
            k = int(np.prod(shape))
            res[name] = out[:, off:off + k].reshape(n, *shape)
            off += k
        return res


@dataclass
class FoldedPlan:
    """A GarNet/GarNetStack model split into folded modules (:func:`plan_folded`)."""
    layer: object
    n_vertices: int
    lanes: int
    groups: int
    passes: list  # B + 1 Modules
    aggs: list  # B Modules
    tail: Module | None  # None for collapse None (the head runs per lane in the last pass)
    inputs: list  # like RTLTrace.inputs: [{"keras_name", "shape", "kind", "type"}]
    outputs: list  # [{"keras_name", "shape"}]
    not_bit_exact: list = field(default_factory=list)
    trace_seconds: float = 0.0
    kind: str = "GarNet"  # "GravNet": folded_gravnet's plan (pass 0 is the prep; aggs: the select modules)
    prep_lanes: int = 0  # GravNet: the prep's lanes and groups
    prep_groups: int = 1
    multipliers: dict = field(default_factory=dict)  # how its products are built (folding.plan; like RTLTrace's)

    @property
    def modules(self) -> list:
        if self.kind == "GravNet":  # aggs: the query passes' select modules (folded_gravnet)
            mods = [self.passes[0]]
            for sel, mod in zip(self.aggs, self.passes[1:]):
                mods += [sel, mod]
            return mods + ([self.tail] if self.tail is not None else [])
        mods = [self.passes[0]]
        for b, agg in enumerate(self.aggs):
            mods += [agg, self.passes[b + 1]]
        return mods + ([self.tail] if self.tail is not None else [])


def _out_qints(comb) -> np.ndarray:
    """(low, high, step) of each output of a CombLogic: (n_out, 3); an output without an op is 0."""
    q = np.empty((len(comb.out_idxs), 3))
    for i, (idx, qi) in enumerate(zip(comb.out_idxs, comb.out_qint)):
        q[i] = (0.0, 0.0, 1.0) if idx < 0 else (float(qi.min), float(qi.max), float(qi.step))
    return q


def _declare(q: np.ndarray, hw):
    """Input variables with the intervals ``q`` (*shape, 3); a constant interval is the constant itself.
    Returns (FixedVariableArray, live mask of the flat elements)."""
    from da4ml.trace import FixedVariable

    trace = C.da()
    shape = q.shape[:-1]
    out = np.empty(shape, dtype=object)
    live = np.zeros(int(np.prod(shape)), dtype=bool)
    for n, idx in enumerate(np.ndindex(*shape)):
        lo, hi, step = (float(v) for v in q[idx])
        if lo == hi:
            out[idx] = lo
        else:
            out[idx] = FixedVariable(lo, hi, step, hwconf=hw)
            live[n] = True
    return trace.FixedVariableArray(out, hwconf=hw), live


def _interval(low, high, step, shape) -> np.ndarray:
    q = np.empty((*shape, 3))
    q[..., 0], q[..., 1], q[..., 2] = low, high, step
    return q


def _sum_qints(q: np.ndarray, groups: int) -> np.ndarray:
    """The interval of a sum of ``groups`` values of interval ``q``, checked to be exact in float64."""
    s = q.copy()
    s[..., 0] *= groups
    s[..., 1] *= groups
    bits = np.log2(np.maximum(np.abs(s[..., 0]), np.abs(s[..., 1])) / s[..., 2] + 1)
    if np.any(bits > EXACT_BITS):
        raise UserError(f"a folded accumulator needs {int(np.ceil(np.max(bits)))} bits, beyond the {EXACT_BITS} "
                        "the emulator adds exactly: use narrower quantizers")
    return s


class _Builder:
    """Collects one module's ports while it is traced."""

    def __init__(self, name, hw):
        self.name, self.hw = name, hw
        self.in_ports, self.in_vars, self.lives, self.out_ports, self.out_vars = [], [], [], [], []

    def port(self, name, q):
        arr, live = _declare(q, self.hw)
        self._add(name, arr, live)
        return arr

    def _add(self, name, arr, live):
        self.in_ports.append((name, tuple(arr.shape)))
        self.in_vars.append(np.ravel(arr._vars)[live])
        self.lives.append(live)

    def given(self, name, arr):
        """An input declared by the caller (every element a wire)."""
        self._add(name, arr, np.ones(np.asarray(arr._vars).size, dtype=bool))
        return arr

    def out(self, name, arr):
        vals = np.asarray(arr._vars if hasattr(arr, "_vars") else arr, dtype=object)
        self.out_ports.append((name, tuple(vals.shape)))
        self.out_vars.append(np.ravel(vals))

    def build(self, cutoff: float) -> Module:
        from types import SimpleNamespace

        from garnet_hls.backends.rtl.model import _first_line
        from garnet_hls.backends.rtl.project import pipeline

        from da4ml.trace import FixedVariable

        from garnet_hls.backends.rtl.model import _op_kinds

        trace = C.da()
        inp = list(np.concatenate(self.in_vars)) if self.in_vars else []
        out = [v if isinstance(v, FixedVariable) else FixedVariable.from_const(v, self.hw, 1)
               for v in np.concatenate(self.out_vars)]  # as comb_trace would; kept for the op kinds
        try:
            comb = trace.comb_trace(inp, out)
        except Exception as e:  # noqa: BLE001 - da4ml's own failure: one line naming the module
            raise UserError(f"the folded module {self.name} failed to trace inside da4ml ({_first_line(e)}); "
                            "please report it with the model") from None
        pipe = pipeline(SimpleNamespace(comb=comb), cutoff)
        return Module(self.name, comb, self.in_ports, self.out_ports, np.concatenate(self.lives), pipe,
                      op_kinds=_op_kinds(inp, out, comb))


# ------------------------------------------------------------------------------------------------
# The planner
# ------------------------------------------------------------------------------------------------
KERAS3_HEAD_KINDS = ("QDense", "Dropout")  # Keras 3 / HGQ2 layers a folded design takes after the graph layer


def is_keras3(model) -> bool:
    return type(model).__module__.split(".")[0] == "keras"


def head_kinds(model) -> tuple:
    return KERAS3_HEAD_KINDS if is_keras3(model) else HEAD_KINDS


def view(model, layer):
    """The graph layer as the traces read it: a Keras 3 one through ``keras3.GraphView`` (one fixed-point type
    per point, the weights as HGQ2 quantizes them; what the firmware cannot do is refused naming the layer)."""
    if not is_keras3(model):
        return layer
    from garnet_hls.backends.rtl.keras3 import GraphView, check_hgq_data_quantizers

    check_hgq_data_quantizers(model, [x for x in model.layers if type(x).__name__ in FOLDED_KINDS + ("GravNet",)])
    return GraphView(layer)


def check_keras3_head(model, last, lanes: int):
    """A Keras 3 head per lane (collapse None) would need per-vertex HGQ2 widths split over the lanes:
    refused in one line; a head after a collapse reads one event's values, as in the parallel design."""
    if is_keras3(model) and last.collapse is None and lanes < last.n_vertices:
        raise UserError(f"layer {last.name}: a folded Keras 3 design needs the graph layer to collapse (sum, mean "
                        "or max): its HGQ2 head per vertex has per-vertex widths the lanes cannot share; use "
                        "ReuseFactor 1")


def _graph_layer(model):
    """The model's one GarNet/GarNetStack layer, fed by model inputs; every other layer is head after it."""
    kinds = [(layer, type(layer).__name__) for layer in model.layers]
    graph = [layer for layer, k in kinds if k in FOLDED_KINDS + ("GravNet",)]
    if graph and all(type(g).__name__ == "GravNet" for g in graph):
        return graph[0]  # folded_gravnet checks the chain
    heads = head_kinds(model)
    if len(graph) != 1 or type(graph[0]).__name__ not in FOLDED_KINDS:
        names = ", ".join(f"{g.name} ({type(g).__name__})" for g in graph) or "none"
        raise UserError(f"the folded RTL backend takes one GarNet or GarNetStack layer, or a chain of GravNet "
                        f"blocks (and a dense head after it); the model's graph layers: {names}")
    layer = graph[0]
    after = False
    for other, kind in kinds:
        if other is layer:
            after = True
        elif kind != "InputLayer" and (not after or kind not in heads):
            raise UserError(f"layer {other.name} ({kind}): the folded RTL backend takes only "
                            f"{', '.join(heads)} after the graph layer")
    layer = view(model, layer)
    C.check_quantized(layer)
    return layer


def _model_io(model, layer):
    """(inputs meta like RTLTrace.inputs, outputs meta) of the model."""
    feats = layer.input[0]
    ins = []
    for t in model.inputs:
        name = t.name.split(":")[0].split("/")[0]
        shape = [int(s) for s in t.shape[1:]]
        if t is feats:
            ins.append({"keras_name": name, "shape": shape, "kind": "features", "type": layer.types["input"].spec()})
        else:
            ins.append({"keras_name": name, "shape": shape, "kind": "nvtx", "type": f"uint0..{layer.n_vertices}"})
    names = list(getattr(model, "output_names", None) or [t.name for t in model.outputs])
    outs = [{"keras_name": name, "shape": [int(s) for s in t.shape[1:]]} for t, name in zip(model.outputs, names)]
    return ins, outs


def _trace_keras3_head_layer(layer, x):
    """An HGQ2 head layer on x through da4ml's HGQ2 tracer (the handler the parallel Keras 3 trace uses)."""
    if type(layer).__name__ == "Dropout":
        return x
    from hgq._dais_tracer.layers._base import _registry

    try:
        return _registry[type(layer)](layer)(x)["final"][0]
    except Exception as e:  # noqa: BLE001 - hgq's or da4ml's failure: one line naming the layer
        from garnet_hls.backends.rtl.model import _first_line

        raise UserError(f"layer {layer.name} ({type(layer).__name__}): da4ml's HGQ2 tracer failed on it in the "
                        f"folded design ({_first_line(e)})") from None


def _trace_head(model, layer, y, not_exact):
    """The layers after the graph layer on its (collapsed or per-lane) output y: the model's outputs."""
    from garnet_hls.backends.rtl.model import trace_head_layer

    k3 = is_keras3(model)
    values = {id(layer.output): y}
    for other in model.layers:
        if type(other).__name__ in head_kinds(model):
            x = values[id(other.input)]
            values[id(other.output)] = _trace_keras3_head_layer(other, x) if k3 else \
                trace_head_layer(other, x, not_exact)
    return [values[id(t)] for t in model.outputs]


def _pass(ctx, p):
    """Pass p: block p-1's output half (p > 0), block p's input half (p < B)."""
    from garnet_hls.backends.rtl import garnet as GN

    layer, L, hw = ctx["layer"], ctx["L"], ctx["hw"]
    B = layer.n_blocks

    m = _Builder(f"{layer.name}_pass{p}", hw)
    valid = m.given("valid", C.integer_input((L,), 1, hw))
    if p == 0:
        x = C.quantize(m.given("x", C.input_array((L, layer.block_dims(0)[0]), layer.types["input"], hw)),
                       layer.types["input"])
    else:
        prev = ctx["passes"][p - 1]
        w = m.port("w", prev.qints("w"))
        xs = None
        if not layer.simplified:
            xs = m.port("x", ctx["x_qints"][p - 1])
        hwv = m.port("hw", ctx["aggs"][p - 1].qints("hw"))
        x = GN.output_pass(layer, p - 1, xs, w, hwv)
    if p < B:
        w, prod = GN.input_pass(layer, p, x, valid)
        m.out("w", w)
        if p > 0 and not layer.simplified:
            m.out("x", x)
        m.out("psum", C.tag(np.sum(prod, axis=0), "accumulators"))  # the L-way part of the sum over vertices
        if not layer.simplified:
            m.out("gmax", C.tag(C.masked_max(prod, valid.reshape(L, 1, 1), 0, valid._vars[0]),
                                "comparators and top-k"))
    else:
        _last_pass_outputs(ctx, m, C.tag(C.where(valid.reshape(L, 1), x, 0.0), "masking (nvtx)"), valid)
    return m.build(ctx["cutoff"])


def _last_pass_outputs(ctx, m, y, valid):
    """The masked outputs y (L, F_out) of the last block: per-lane head, or the L-way collapse part."""
    layer, model = ctx["layer"], ctx["model"]
    if layer.collapse is None:
        for k, v in enumerate(_trace_head(model, layer, y, ctx["not_exact"])):
            m.out(f"out{k}", v)
    elif layer.collapse == "max":
        m.out("ymax", C.tag(C.masked_max(y, valid.reshape(len(valid._vars), 1), 0, valid._vars[0]),
                            "comparators and top-k"))
    else:
        m.out("ysum", C.tag(np.sum(y, axis=0), "accumulators"))


def _agg(ctx, b):
    """Block b's once-per-event module: hw (A, F_out) from the sums S (and maxima M) over the groups."""
    from garnet_hls.backends.rtl import garnet as GN

    layer, hw, src = ctx["layer"], ctx["hw"], ctx["passes"][b]
    m = _Builder(f"{layer.name}_agg{b}", hw)
    S = m.port("S", _sum_qints(src.qints("psum"), ctx["G"]))
    M = None if layer.simplified else m.port("M", src.qints("gmax"))
    nvtx = m.given("nvtx", C.integer_input((1,), layer.n_vertices, hw)) if layer.mean_by_nvert else None
    m.out("hw", GN.aggregate(layer, b, S, M, nvtx))
    return m.build(ctx["cutoff"])


def _tail(ctx):
    """The collapse's rounding (sum, mean) and the dense head, once per event."""
    from garnet_hls.core import tables

    layer, hw, src = ctx["layer"], ctx["hw"], ctx["passes"][-1]
    T = layer.types
    m = _Builder(f"{layer.name}_tail", hw)
    if layer.collapse == "max":
        y = m.port("acc", src.qints("ymax"))
    else:
        acc = m.port("acc", _sum_qints(src.qints("ysum"), ctx["G"]))
        if layer.collapse == "sum":
            y = C.quantize(acc, T["output"])
        else:
            recip_tab = tables.reciprocal_table(layer._n_max, T["reciprocal"])
            nv = m.given("nvtx", C.integer_input((1,), layer.n_vertices, hw)) if layer.mean_by_nvert else None
            r = C.reciprocal(nv if layer.mean_by_nvert else layer.n_vertices, recip_tab, hw)
            y = C.quantize(C.scale(acc, r), T["output"])
    for k, v in enumerate(_trace_head(ctx["model"], layer, y, ctx["not_exact"])):
        m.out(f"out{k}", v)
    return m.build(ctx["cutoff"])


def plan_folded(model, lanes: int, latency_cutoff: float = 5.0) -> FoldedPlan:
    """Split ``model`` (one GarNet/GarNetStack layer, then a dense head) into da4ml modules of ``lanes``
    lanes (see the module docstring), each traced and pipelined at ``latency_cutoff`` as ``convert`` does."""
    from da4ml.trace import HWConfig

    t0 = time.perf_counter()
    layer = _graph_layer(model)
    if type(layer).__name__ == "GravNet":
        raise UserError("a GravNet model folds through garnet_hls.backends.rtl.folding.plan (folded_gravnet)")
    V = layer.n_vertices
    if not 1 <= int(lanes) <= V:
        raise UserError(f"lanes must be 1..{V} (the layer's vertices), got {lanes}")
    L = int(lanes)
    check_keras3_head(model, layer, L)
    ctx = {"model": model, "layer": layer, "L": L, "G": math.ceil(V / L), "cutoff": float(latency_cutoff),
           "hw": HWConfig(1, -1, float(latency_cutoff)), "passes": [], "aggs": [], "not_exact": [],
           "x_qints": []}
    t_in = layer.types["input"]
    ctx["x_qints"].append(_interval(t_in.min, t_in.max, t_in.lsb, (L, layer.block_dims(0)[0])))
    B = layer.n_blocks
    for p in range(B + 1):
        ctx["passes"].append(_pass(ctx, p))
        if p < B:
            if p > 0 and not layer.simplified:
                ctx["x_qints"].append(ctx["passes"][p].qints("x"))
            ctx["aggs"].append(_agg(ctx, p))
    tail = _tail(ctx) if layer.collapse is not None else None
    ins, outs = _model_io(model, layer)
    return FoldedPlan(layer, V, L, ctx["G"], ctx["passes"], ctx["aggs"], tail, ins, outs, ctx["not_exact"],
                      time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------------
# The emulator: the modules' bit-exact logic (da4ml's interpreter), group by group, and the glue
# ------------------------------------------------------------------------------------------------
def _check_exact(acc: np.ndarray, q: np.ndarray):
    """An accumulator holds multiples of its step inside its declared interval (exact in float64)."""
    codes = acc / q[..., 2]
    assert np.all(codes == np.round(codes)), "a folded accumulator left its grid"
    assert np.all((acc >= q[..., 0]) & (acc <= q[..., 1])), "a folded accumulator left its interval"


def _run_pass(plan, p, state, hw, valid, nvtx):
    """Pass p over the G groups: the per-vertex outputs (w, x, per-lane outputs) and the accumulators."""
    mod, L = plan.passes[p], plan.lanes
    names = [name for name, _ in mod.inputs]
    per_vertex, acc, mx = {}, {}, {}
    for g in range(plan.groups):
        sl = slice(g * L, (g + 1) * L)
        feed = {"valid": valid[:, sl]}
        for name in names:
            if name in ("x", "w"):
                feed[name] = state[name][:, sl]
            elif name == "hw":
                feed[name] = hw
        res = mod.run(feed)
        for name, v in res.items():
            if name in ("psum", "ysum"):
                acc[name] = v if g == 0 else acc[name] + v
            elif name in ("gmax", "ymax"):
                # a running max over the groups with a valid vertex (valid slots are a prefix: lane 0 decides);
                # group 0's value is already 0 when nvtx = 0
                on = (g * L < nvtx).reshape(-1, *([1] * (v.ndim - 1)))
                mx[name] = v if g == 0 else np.where(on, np.maximum(mx[name], v), mx[name])
            else:
                per_vertex.setdefault(name, []).append(v)
    for name, v in acc.items():
        _check_exact(v, _sum_qints(mod.qints(name), plan.groups))
    return {k: np.concatenate(v, axis=1) for k, v in per_vertex.items()}, acc, mx


def emulate(plan: FoldedPlan, data: dict) -> list:
    """The folded design's outputs for an events dict (``features``, ``nvtx``), one array per model output,
    as ``model.emulate`` gives the parallel design's."""
    from garnet_hls.backends.rtl.model import input_arrays

    assert plan.kind == "GarNet", "a GravNet plan: folding.emulate"
    arrays = input_arrays(plan, data)
    kinds = [spec["kind"] for spec in plan.inputs]
    feats = arrays[kinds.index("features")]
    nvtx = arrays[kinds.index("nvtx")].reshape(-1).astype(np.int64)  # a GarNet layer always takes nvtx
    n, V, L = len(feats), plan.n_vertices, plan.lanes
    slots = plan.groups * L
    x = np.zeros((n, slots, feats.shape[2]))
    x[:, :V] = feats
    valid = (np.arange(slots)[None, :] < nvtx[:, None]).astype(np.float64)
    state, hw = {"x": x}, None
    nv = nvtx.reshape(n, 1).astype(np.float64)
    for p in range(len(plan.passes)):
        per_vertex, acc, mx = _run_pass(plan, p, state, hw, valid, nvtx)
        state.update({k: v for k, v in per_vertex.items() if k in ("x", "w")})
        if p < len(plan.aggs):
            feed = {"S": acc["psum"], "nvtx": nv}
            if "gmax" in mx:
                feed["M"] = mx["gmax"]
            hw = plan.aggs[p].run(feed)["hw"]
    if plan.tail is None:
        return [per_vertex[f"out{k}"][:, :V] for k in range(len(plan.outputs))]
    res = plan.tail.run({"acc": mx["ymax"] if "ymax" in mx else acc["ysum"], "nvtx": nv})
    return [res[f"out{k}"].reshape(n, *o["shape"]) for k, o in enumerate(plan.outputs)]


# ------------------------------------------------------------------------------------------------
# The static schedule
# ------------------------------------------------------------------------------------------------
def schedule(plan: FoldedPlan) -> dict:
    """The clock offsets of the folded design; the Verilog generator must use these numbers.

    Every module is a free-running II=1 pipeline of ``N = len(pipe.solutions)`` stages, and every module
    boundary adds ``PASS_GLUE`` = 1 register. Clock 0 is the one at which group 0 of an event enters pass 0;
    group g enters pass p at ``start[p] + g`` and its outputs are registered at ``start[p] + g + N_p + 1``.
    A barrier after pass b (``BARRIER_GLUE`` = 3: the accumulator takes the last group's partial sum, the
    snapshot, the register into agg b) then agg b's N_agg stages give ``hw``, held for one interval, so

        start[b+1] = start[b] + (G - 1) + (N_pass[b] + 1) + (N_agg[b] + 3)

    and block b's per-vertex state (``w``, full mode ``x``) waits in a delay line of
    ``start[b+1] - start[b] - N_pass[b] - 1 = (G - 1) + N_agg[b] + 3`` clocks. The event's outputs are
    complete at (collapse sum/mean/max: accumulator, snapshot, tail input register and its N_tail stages)

        latency = (B + 1)(G - 1) + sum_p (N_pass[p] + 1) + sum_b (N_agg[b] + 3) + [N_tail + 3]

    (collapse None: without the bracket, plus ``OUTPUT_GLUE`` = 1 for the output register that takes the last
    group's per-lane outputs with the earlier groups', collected as they came, and holds them), the design
    note's formula. Clocks count from the one in which the event is presented (``in_valid`` of the folded
    top, ``folded_rtl``) to the one in which its outputs are (``out_valid``). A new event can start every ``interval = G = ceil(V / L)`` clocks, and then up to
    ``B + 1`` events are in flight, one per pass.
    """
    assert plan.kind == "GarNet", "a GravNet plan: folding.schedule"
    G = plan.groups
    n_pass = [m.depth for m in plan.passes]
    n_agg = [m.depth for m in plan.aggs]
    start = [0]
    for b, na in enumerate(n_agg):
        start.append(start[b] + (G - 1) + (n_pass[b] + PASS_GLUE) + (na + BARRIER_GLUE))
    done = start[-1] + (G - 1) + n_pass[-1] + PASS_GLUE
    latency = done + (plan.tail.depth + BARRIER_GLUE if plan.tail is not None else OUTPUT_GLUE)
    return {
        "lanes": plan.lanes, "groups": G, "interval": G, "latency": latency,
        "depths": {m.name: m.depth for m in plan.modules},
        "pass_start": start,
        "delay_lines": [start[b + 1] - start[b] - n_pass[b] - PASS_GLUE for b in range(len(n_agg))],
        "events_in_flight": len(plan.passes),
    }


def resources(plan: FoldedPlan, cutoff: float | None = None) -> list:
    """Per module: pipeline stages, DSP48E2 slices (``common.dsp_count``) and da4ml's LUT estimate
    (``comb.cost``, an estimate before synthesis); with ``cutoff`` (the modules' latency cutoff), also what
    its logic implements (``model.breakdown`` of the module, when its trace recorded the kinds)."""
    from types import SimpleNamespace

    from garnet_hls.backends.rtl.model import breakdown

    rows = []
    for m in plan.modules:
        r = {"module": m.name, "stages": m.depth, "dsp": C.dsp_count(m.comb), "lut_da4ml_est": float(m.comb.cost)}
        kinds = getattr(m, "op_kinds", None)
        if cutoff is not None and kinds is not None:
            r["breakdown"] = breakdown(SimpleNamespace(comb=m.comb, op_kinds=kinds), cutoff)
        rows.append(r)
    return rows


def total_breakdown(rows: list) -> dict | None:
    """The modules' breakdowns (:func:`resources`) summed: each module is built once (its L lanes inside it).
    None when a module has none."""
    if not rows or any(r.get("breakdown") is None for r in rows):
        return None
    out = {}
    for r in rows:
        for kind, v in r["breakdown"].items():
            e = out.setdefault(kind, {k: 0 for k in v})
            for k, x in v.items():
                e[k] = e.get(k, 0) + x
    return out
