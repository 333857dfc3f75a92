"""The fuzzer's cases: drawing a random architecture, its one-line description, its events, its HLS config
and its result (``garnet_hls.flows.fuzz`` runs them; ``garnet_hls.flows.fuzz_keras3`` makes them Keras 3).
No TensorFlow at import."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import numpy as np

N_FEATURES = 4  # the calorimeter events' features


# ------------------------------------------------------------------------------------------------
# Drawing a case
# ------------------------------------------------------------------------------------------------
def _signed_q(rng, lo_bits=4, hi_bits=16, max_int=6, min_int=0):
    b = int(rng.integers(lo_bits, hi_bits + 1))
    i = int(rng.integers(min_int, max(min_int, min(b - 2, max_int)) + 1))
    return f"quantized_bits({b},{i},alpha=1)"


def _unsigned_q(rng, lo_bits=4, hi_bits=16, ints=(0, 1)):
    b = int(rng.integers(lo_bits, hi_bits + 1))
    i = int(rng.choice([v for v in ints if v <= b]))
    return f"quantized_bits({b},{i},keep_negative=0,alpha=1)"


def _relu_q(rng, lo_bits=4, hi_bits=16, max_int=6):
    b = int(rng.integers(lo_bits, hi_bits + 1))
    i = int(rng.integers(0, min(b, max_int) + 1))
    return f"quantized_relu({b},{i})"


def _graph_quantizers(rng, kind: str, first: bool) -> dict:
    """Random quantizers at a random subset of the layer's points (the rest take the defaults)."""
    if rng.random() < 0.35:
        return {}
    q = {}
    pts = {
        "kernel": lambda: _signed_q(rng, 4, 12, 1),
        "bias": lambda: _signed_q(rng, 4, 12, 2),
        "distance": (lambda: _unsigned_q(rng, 4, 14, (2, 3, 4))) if kind == "GravNet" else (lambda: _signed_q(rng, 4, 14, 4, 1)),
        "edge_weight": lambda: _unsigned_q(rng, 4, 12, (0, 1)),
        "feature": lambda: _signed_q(rng, 6, 16, 6, 2),
        "reciprocal": lambda: _unsigned_q(rng, 4, 16, (0, 1)),
        "aggregate": lambda: _signed_q(rng, 6, 16, 6, 2),
        "preactivation": lambda: _signed_q(rng, 4, 12, 4, 1),
        "output": (lambda: _relu_q(rng, 6, 16, 6)) if rng.random() < 0.3 else (lambda: _signed_q(rng, 6, 16, 6, 2)),
    }
    if kind == "GravNet":
        pts["coordinate"] = lambda: _signed_q(rng, 4, 16, 4, 1)
    if first:
        pts["input"] = lambda: _signed_q(rng, 6, 16, 6, 1)
    for p, make in pts.items():
        if rng.random() < 0.5:
            q[f"{p}_quantizer"] = make()
    return q


def _graph_layer(rng, V: int, last: bool, first: bool) -> dict:
    kind = str(rng.choice(["GarNet", "GarNetStack", "GravNet"]))
    collapse = str(rng.choice(["none", "mean", "sum", "max"])) if last else "none"
    spec = {
        "kind": kind,
        "collapse": None if collapse == "none" else collapse,
        "mean_by_nvert": bool(rng.random() < 0.5),
        "output_activation": str(rng.choice(["linear", "relu", "tanh"])),
        "quantizers": _graph_quantizers(rng, kind, first),
    }
    if kind == "GarNet":
        spec.update(n_aggregators=int(rng.integers(1, 5)), n_filters=int(rng.integers(1, 9)),
                    n_propagate=int(rng.integers(1, 9)), simplified=bool(rng.random() < 0.5))
    elif kind == "GarNetStack":
        nb = int(rng.integers(1, 4))
        spec.update(n_aggregators=[int(v) for v in rng.integers(1, 5, nb)],
                    n_filters=[int(v) for v in rng.integers(1, 9, nb)],
                    n_propagate=[int(v) for v in rng.integers(1, 9, nb)], simplified=bool(rng.random() < 0.5))
    else:
        spec.update(n_dimensions=int(rng.integers(1, 5)), n_filters=int(rng.integers(1, 9)),
                    n_propagate=int(rng.integers(1, 9)), n_neighbours=int(rng.integers(1, min(V - 1, 16) + 1)),
                    distance=str(rng.choice(["l2", "l1"])), potential_scale=float(rng.choice([0.5, 1.0, 2.0, 10.0])))
    return spec


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# Quantization points the RTL draws may give any narrow type (issue #18: a signed distance type of a few
# bits crashed the converter inside da4ml, and the default draws never made one).
WIDE_POINTS = ("input", "kernel", "bias", "coordinate", "distance", "edge_weight", "feature", "aggregate",
               "preactivation", "output")


def _any_q(rng, lo_bits=2, hi_bits=10):
    b = int(rng.integers(lo_bits, hi_bits + 1))
    i = int(rng.integers(-2, 8))
    return f"quantized_bits({b},{i},alpha=1)" if rng.random() < 0.5 else \
        f"quantized_bits({b},{i},keep_negative=0,alpha=1)"


def _widen_quantizers(graph: list, rng) -> None:
    """In about half the RTL cases, some points of each graph layer get any narrow type, signed or not, with
    few or negative integer bits (from a stream of their own: the rest of the case is drawn as before)."""
    if rng.random() >= 0.5:
        return
    for i, g in enumerate(graph):
        for p in WIDE_POINTS:
            if p == "input" and i > 0 or p == "coordinate" and g["kind"] != "GravNet":
                continue
            if rng.random() < 0.3:
                g["quantizers"][f"{p}_quantizer"] = _any_q(rng)


def draw_case(seed: int, index: int, backend: str = "hls") -> dict:
    """The architecture and settings of case ``index`` of the run with ``seed``: a JSON-able dict.

    ``backend="rtl"`` draws from the same generator with what the RTL backend takes: V <= 32 (the trace is
    fully parallel, GravNet O(V^2)), no float layers (refused by design), no reuse factor. Its random stream
    is another one (``[seed, index, 7]``), so the HLS cases of a seed stay what they were.
    """
    from garnet_hls.backends import registry

    rtl = registry.get_backend(backend).family == "rtl"
    rng = np.random.default_rng([seed, index, 7] if rtl else [seed, index])
    if rtl:
        V = int(rng.choice([4, 5, 8, 12, 16, 20, 32])) if rng.random() < 0.6 else int(rng.integers(3, 33))
    else:
        V = int(rng.choice([5, 8, 16, 20, 32, 50, 64, 100, 128])) if rng.random() < 0.6 else int(rng.integers(5, 129))
    n_graph = int(rng.choice([1, 1, 1, 2, 2, 3]))
    graph = [_graph_layer(rng, V, last=(i == n_graph - 1), first=(i == 0)) for i in range(n_graph)]
    # float layers now and then: such a model must be labelled not bit-exact, never silently wrong
    float_kind = str(rng.choice(["graph", "dense", "activation"])) if rng.random() < 0.12 else None
    if rtl:
        float_kind = None
    if float_kind == "graph":
        graph[int(rng.integers(0, n_graph))]["float"] = True
    head = []
    n_head = int(rng.choice([0, 1, 1, 2, 2, 3]))
    for i in range(n_head):
        wq = _signed_q(rng, 4, 16, 1)
        bq = _signed_q(rng, 4, 16, 2)
        head.append({"kind": "QDense", "units": int(rng.integers(1, 9)), "kernel_quantizer": wq, "bias_quantizer": bq,
                     "use_bias": bool(rng.random() < 0.85)})
        r = rng.random()
        if r < 0.3:
            head.append({"kind": "QActivation", "activation": _relu_q(rng, 4, 16, 6)})
        elif r < 0.55:
            q = _unsigned_q(rng, 4, 16, (2, 3, 4, 6)) if rng.random() < 0.5 else _signed_q(rng, 4, 16, 6, 1)
            head.append({"kind": "QActivation", "activation": q})
    if float_kind == "dense":
        head.insert(int(rng.integers(0, len(head) + 1)), {"kind": "Dense", "units": int(rng.integers(1, 9))})
    elif float_kind == "activation":
        head.append({"kind": "Activation", "activation": "relu"})
    if rtl:  # the fully parallel design, and a folded one of `lanes` lanes where the model can be folded
        _widen_quantizers(graph, np.random.default_rng([seed, index, 8]))
        lanes = int(np.random.default_rng([seed, index, 9]).integers(1, V))
        verilator = bool(np.random.default_rng([seed, index, 10]).random() < VERILATOR_SHARE)
        return {"seed": seed, "index": index, "V": V, "reuse_factor": 1, "graph": graph, "head": head,
                "model_level_reuse": False, "backend": "rtl", "lanes": lanes, "verilator": verilator}
    R = int(rng.choice(_divisors(V)))
    return {"seed": seed, "index": index, "V": V, "reuse_factor": R, "graph": graph, "head": head,
            "model_level_reuse": bool(rng.random() < 0.3), "backend": "vitis" if rng.random() < 0.2 else "vivado"}


def describe(case: dict) -> str:
    """A compact one-line architecture (a Keras 2 case)."""
    parts = []
    for g in case["graph"]:
        if g["kind"] == "GravNet":
            core = (f"GravNet(S{g['n_dimensions']},F{g['n_filters']},P{g['n_propagate']},k{g['n_neighbours']},"
                    f"{g['distance']}")
        else:
            mode = "simp" if g["simplified"] else "full"
            core = f"{g['kind']}(A{g['n_aggregators']},F{g['n_filters']},P{g['n_propagate']},{mode}"
        core += f",{g['output_activation']},{g['collapse'] or 'none'}{',nvtx' if g['mean_by_nvert'] else ''}"
        core += f",{len(g['quantizers'])}q" if g["quantizers"] else ""
        core += ",FLOAT" if g.get("float") else ""
        parts.append(core + ")")
    for h in case["head"]:
        if h["kind"] == "QDense":
            parts.append(f"QDense({h['units']},{_short(h['kernel_quantizer'])}"
                         f"{'/' + _short(h['bias_quantizer']) if h['use_bias'] else ',nobias'})")
        elif h["kind"] == "QActivation":
            parts.append(f"QAct({_short(h['activation'])})")
        elif h["kind"] == "Dense":
            parts.append(f"Dense({h['units']},FLOAT)")
        else:
            parts.append("Activation(relu,FLOAT)")
    return " > ".join(parts)


def _short(q: str) -> str:
    from garnet_hls.core.fixed import parse_spec

    t = parse_spec(q)
    return f"{'r' if t.relu else ('s' if t.signed else 'u')}{t.width}.{t.integer}"



def make_events(case: dict, n_events: int, input_type=None) -> dict:
    """Edge-case events (up to a quarter of them), then built-in calorimeter events."""
    from garnet_hls.physics.data import generate_calo

    V = case["V"]
    rng = np.random.default_rng([case["seed"], case["index"], 2])
    ks = [g["n_neighbours"] for g in case["graph"] if g["kind"] == "GravNet"]
    nv_edge = sorted({0, 1, 2, V - 1, V, *ks, *[min(V, k + 1) for k in ks]} & set(range(V + 1)))
    n_edge = min(n_events, max(len(nv_edge) * 3, n_events // 4))
    lsb = input_type.lsb if input_type is not None else 2.0 ** -10
    lo, hi = (input_type.min, input_type.max) if input_type is not None else (-32.0, 32.0)
    x = np.empty((n_edge, V, N_FEATURES), dtype=np.float64)
    nv = np.empty(n_edge, dtype=np.int32)
    for e in range(n_edge):
        nv[e] = nv_edge[e % len(nv_edge)] if e < 2 * len(nv_edge) else int(rng.integers(0, V + 1))
        style = e % 4
        if style == 0:  # values at and just beyond the input type's limits, and on rounding ties
            pool = np.array([lo, hi, lo - lsb / 2, hi + lsb / 2, hi + 1.0, lo - 1.0, lsb / 2, -lsb / 2, 0.0, 1.5 * lsb])
            x[e] = rng.choice(pool, size=(V, N_FEATURES))
        elif style == 1:  # random values on half-LSB steps (ties everywhere)
            x[e] = np.round(rng.uniform(lo, hi, size=(V, N_FEATURES)) / (lsb / 2)) * (lsb / 2)
        elif style == 2:  # duplicated vertices
            base = rng.normal(0, 0.5 * max(1.0, hi / 4), size=(max(1, V // 3), N_FEATURES))
            x[e] = base[rng.integers(0, len(base), size=V)]
        else:  # small random values, many identical
            x[e] = rng.integers(-3, 4, size=(V, N_FEATURES)) * 0.25
        # garbage in the padding slots: the firmware must ignore it as Keras does
        x[e, nv[e]:] = rng.normal(0, 8.0, size=(V - nv[e], N_FEATURES))
    x = x.astype(np.float32)
    n_calo = n_events - n_edge
    if n_calo > 0:
        calo = generate_calo(n_calo, n_vertices=V, seed=int(rng.integers(0, 2**31)))
        x = np.concatenate([x, calo["features"].astype(np.float32)])
        nv = np.concatenate([nv, calo["nvtx"].reshape(-1).astype(np.int32)])
    return {"features": x, "nvtx": nv.reshape(-1, 1).astype(np.int32)}


def hls_config(case: dict) -> dict:
    R = case["reuse_factor"]
    hls = {"Model": {"Precision": "fixed<16,6>", "ReuseFactor": R if case["model_level_reuse"] else 1,
                     "Strategy": "Latency"},
           "LayerName": {f"graph{i}": {"ReuseFactor": R} for i in range(len(case["graph"]))}}
    return {"Backend": case["backend"], "Part": "xcku115-flvb2104-2-i", "ClockPeriod": 5, "HLSConfig": hls}


# ------------------------------------------------------------------------------------------------
# Running a case
# ------------------------------------------------------------------------------------------------
@dataclass
class CaseResult:
    case: dict
    status: str  # ok | FAIL | flagged | refused | ERROR
    labelled_exact: bool | None = None
    identical: float | None = None  # smallest fraction over the outputs
    max_lsb: float | None = None
    n_events: int = 0
    reasons: list = field(default_factory=list)
    message: str = ""
    divergence: str = ""
    seconds: float = 0.0
    folded: str = ""  # RTL: the folded design's verdict ("L lanes: 100.00%", "refused: ...", "-")

    @property
    def failed(self):
        return self.status in ("FAIL", "ERROR")


RTL_LATENCY_CUTOFF = 5.0  # as `convert --backend RTL` schedules at the default 5 ns clock
VERILATOR_SHARE = 0.125  # RTL mode: the share of foldable cases whose folded Verilog also runs in Verilator


def _agreement(got: list, ref: list, lsbs=None):
    """(smallest identical fraction over the outputs, max difference in LSBs of ``lsbs``, else in units)."""
    steps = np.asarray(lsbs, dtype=np.float64) if lsbs else None
    ident, max_lsb, off = 1.0, 0.0, 0
    for g, r in zip(got, ref):
        g = np.asarray(g, dtype=np.float64).reshape(len(g), -1)
        r = np.asarray(r, dtype=np.float64).reshape(g.shape)
        same = g == r
        ident = min(ident, float(same.mean()) if same.size else 1.0)
        diff = np.abs(g - r)
        if diff.size and diff.max() > 0:
            st = steps[off:off + g.shape[1]] if steps is not None else np.ones(g.shape[1])
            st = np.where(st > 0, st, 1.0)
            max_lsb = max(max_lsb, float((diff / st).max()))
        off += g.shape[1]
    return ident, max_lsb


def _rtl():
    """The RTL backend, which traces a model and emulates the trace in memory (no project written)."""
    from garnet_hls.backends import registry

    return registry.get_backend("rtl")


def keras_reference(model, data: dict) -> list:
    """The float64 Keras model's outputs on ``data``, its features rounded to the first graph layer's input
    type first, as the RTL's input port carries them (the layer rounds them again: no change)."""
    from garnet_hls.flows.compare import keras_float64, keras_float64_clone
    from garnet_hls.core.quantize import quantize_np

    t = model.get_layer("graph0").types["input"]
    xq = quantize_np(np.asarray(data["features"], dtype=np.float64), t)
    with keras_float64():
        m64 = keras_float64_clone(model)
        out = m64.predict([xq, data["nvtx"]], verbose=0, batch_size=256)
    return out if isinstance(out, list) else [out]


def _rtl_compare(rt, model, data, reference=None):
    """(smallest identical fraction over the outputs, max difference in LSBs of the output wires); ``rt`` a
    trace or a folded plan; ``reference(model, data)`` the Keras outputs (default :func:`keras_reference`)."""
    backend = _rtl()
    got = backend.emulate(rt, data)
    ref = (reference or keras_reference)(model, data)
    lsbs = backend.output_lsbs(rt) if hasattr(rt, "comb") else None
    return _agreement(got, ref, lsbs)


def foldable(case: dict) -> bool:
    """Whether the folded RTL design takes the case's architecture: one quantized GarNet or GarNetStack layer,
    or quantized GravNet blocks chained directly (the case's graph layers always are)."""
    graph = case["graph"]
    if any(g.get("float") for g in graph):
        return False
    if len(graph) == 1 and graph[0]["kind"] in ("GarNet", "GarNetStack"):
        return True
    return all(g["kind"] == "GravNet" for g in graph)


def _run_folded(case: dict, model, data: dict, res: CaseResult, reference=None) -> None:
    """The folded design of ``case["lanes"]`` lanes (what ``convert`` builds for ReuseFactor ceil(V/lanes)):
    planned, run in its emulator and compared bit for bit with the same Keras reference (``reference(model,
    data)``, default :func:`keras_reference`). A model labelled bit-exact whose folded outputs differ, or a
    crash, fails the case."""
    reference = reference or keras_reference
    from garnet_hls.errors import ToolFailure, UserError

    lanes = case.get("lanes")
    if not lanes or not foldable(case):
        res.folded = "-"
        return
    try:
        plan = _rtl().fold(model, lanes, latency_cutoff=RTL_LATENCY_CUTOFF)
    except UserError as e:
        if isinstance(e, ToolFailure):
            raise
        res.folded = f"{lanes} lanes: refused: {e}"
        return
    ident, _ = _rtl_compare(plan, model, data, reference)
    res.folded = f"{lanes} lanes: {100 * ident:.2f}%"
    # its Verilog is always written (the writer's glue is not in the emulator); in a drawn share of the cases
    # it is also built and run in Verilator on the same events
    with tempfile.TemporaryDirectory(prefix="garnet-fuzz-fold-") as d:
        vgot = _rtl().write_folded(plan, d, data if case.get("verilator") else None)
    if vgot is not None:
        v_ident, _ = _agreement(vgot, reference(model, data))
        res.folded += f", Verilator {100 * v_ident:.2f}%"
        ident = min(ident, v_ident)
    if ident < 1.0 and res.labelled_exact and not plan.not_bit_exact:
        res.status = "FAIL"
        res.divergence = (res.divergence + "; " if res.divergence else "") + f"folded {res.folded}"
