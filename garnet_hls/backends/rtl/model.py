"""A whole Keras model as one da4ml trace: inputs ``features`` (V, F) and ``nvtx``, every output flattened.

The model's layers are traced in order (a functional model lists them topologically), each by the trace
that lives beside its HLS glue (``garnet.py``, ``gravnet.py``, ``dense.py``). The result is a
:class:`RTLTrace`: da4ml's combinational logic plus what csim/compare need to feed it and read it.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

from dataclasses import dataclass, field

import numpy as np

from garnet_hls.errors import ToolFailure, UserError
from garnet_hls.core import exactness as why
from garnet_hls.core.fixed import FixedType
from garnet_hls.backends.rtl import common as C

GRAPH = ("GarNet", "GarNetStack", "GravNet")
SUPPORTED = ("InputLayer", "GarNet", "GarNetStack", "GravNet", "QDense", "QActivation", "Dropout")


@dataclass
class RTLTrace:
    comb: object  # da4ml CombLogic
    inputs: list = field(default_factory=list)  # [{"keras_name", "shape", "kind": "features"|"nvtx", "type"}]
    outputs: list = field(default_factory=list)  # [{"keras_name", "shape"}]
    n_vertices: int = 0
    input_vars: object = None  # the flat da4ml input variables (to trace intermediate values)
    # layers where the float64 Keras model itself rounds where the exact trace does not:
    # [{"layer", "reason"}] (dense.activation_reason / dense.dense_reason); empty: bit-exact
    not_bit_exact: list = field(default_factory=list)
    # how the variable products were built: {"layers": {name: {"mode", "dsp", "packed_pairs", "lut"}},
    # "dsp_budget": N or None} (``Multipliers`` / ``DSPBudget``; common.MultPolicy)
    multipliers: dict = field(default_factory=dict)
    # what each op of ``comb`` implements (common.KINDS), for the resource breakdown; None when not recorded
    op_kinds: list | None = None


def _tensor_key(t):
    return id(t)


def _input_types(model):
    """The fixed-point type of each features input: the input quantizer of the graph layer it feeds."""
    types = {}
    for layer in model.layers:
        if type(layer).__name__ in GRAPH:
            feats = layer.input[0]
            t = layer.types.get("input")
            if t is not None:
                types.setdefault(_tensor_key(feats), t)
    return types


EMULATOR_BITS = 64  # da4ml 0.6's emulator computes in 64-bit integers (wrong results beyond, checked at 69)


def max_wire_bits(comb) -> int:
    """The widest intermediate of the traced logic (sign, integer and fraction bits of its value range)."""
    from da4ml.types import minimal_kif

    return max((int(sum(minimal_kif(op.qint))) for op in comb.ops), default=0)


def trace_model(model, latency_cutoff: float = -1.0, multipliers: dict | None = None) -> RTLTrace:
    """Trace ``model`` (a quantized GarNet/GravNet model) into da4ml combinational logic.

    ``latency_cutoff`` (da4ml delay units per pipeline stage; our RTL projects use the clock period in ns,
    one unit being about one adder) schedules each operation for the pipeline: operations that would cross
    a stage boundary start at it, and variable products take whole DSP stages (``common.vmul``). It changes
    no value: the emulator's outputs are the same for any cutoff.

    ``multipliers``: ``{"layers": {graph layer name: "dsp" | "packed" | "lut" | "auto"}, "dsp_budget": N}``
    (``project.multiplier_modes``); a layer not named builds its products on DSPs. ``auto`` layers are traced
    as ``packed`` first; then the product sites of least LUT cost per DSP are moved to fabric and the model
    traced again until the design's DSP slices fit ``dsp_budget``.
    """
    modes = dict((multipliers or {}).get("layers") or {})
    budget = (multipliers or {}).get("dsp_budget")
    rt, pol = traced_with_multipliers(lambda: _trace_once(model, latency_cutoff, modes),
                                      lambda r: C.dsp_count(r.comb), "auto" in modes.values(), budget,
                                      latency_cutoff)
    rt.multipliers = _multiplier_summary(pol, modes, budget)
    return rt


def traced_with_multipliers(run, count_dsps, auto: bool, budget, latency_cutoff: float):
    """``run()`` (a trace: the parallel model's, or a folded plan's modules) under a recording multiplier
    policy; returns (its result, the policy). ``run`` sets the policy's mode per graph layer (``C.policy()``).
    With ``auto``: the product sites of least LUT cost per DSP are moved to fabric and ``run`` traced again
    until ``count_dsps(result)`` fits ``budget``."""
    lut_sites: set[int] = set()
    rt, pol = _trace_with(run, lut_sites)
    if auto and latency_cutoff > 0:
        for _ in range(6):
            excess = count_dsps(rt) - int(budget)
            if excess <= 0:
                break
            movable = sorted((s for s in pol.sites if s["mode"] == "auto" and s["kind"] == "dsp" and s["dsps"] > 0),
                             key=lambda s: (s["lut_cost"] / s["dsps"], s["site"]))
            if not movable:
                fixed = count_dsps(rt)
                raise UserError(f"DSPBudget {budget} cannot be met: the products left on DSPs need {fixed} DSP48E2 "
                                "slices with every product of the Multipliers: auto layers already in fabric (raise "
                                "DSPBudget, or set Multipliers: lut or auto on more layers)")
            saved = 0
            for s in movable:
                if saved >= excess:
                    break
                lut_sites.add(s["site"])
                saved += s["dsps"]
            rt, pol = _trace_with(run, lut_sites)
    return rt, pol


def _trace_with(run, lut_sites: set):
    pol = C.MultPolicy()
    pol.record = True
    pol.lut_sites = set(lut_sites)
    old = C.set_policy(pol)
    try:
        rt = run()
    finally:
        C.set_policy(old)
    return rt, pol


def _multiplier_summary(pol, modes: dict, budget) -> dict:
    layers = {}
    for s in pol.sites:
        e = layers.setdefault(s["layer"], {"mode": modes.get(s["layer"], "dsp"), "dsp": 0, "packed_pairs": 0,
                                           "lut": 0})
        if s["kind"] == "lut":
            e["lut"] += s["products"]
        elif s["products"] == 2:
            e["packed_pairs"] += 1
        else:
            e["dsp"] += 1
    return {"layers": layers, "dsp_budget": budget}


def _trace_once(model, latency_cutoff: float, modes: dict) -> RTLTrace:
    from garnet_hls.backends.rtl import garnet as G
    from garnet_hls.backends.rtl import gravnet as GV

    trace = C.da()
    from da4ml.trace import HWConfig

    hw = HWConfig(1, -1, float(latency_cutoff))
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in SUPPORTED:
            float_layer = f": {why.float_layer_reason(kind)}" if kind in ("Dense", "Activation") else ""
            raise UserError(f"layer {layer.name} ({kind}) is not supported by the RTL backend; supported: "
                            f"{', '.join(SUPPORTED[1:])} (all quantized){float_layer}")
    feat_types = _input_types(model)
    graph_layers = [layer for layer in model.layers if type(layer).__name__ in GRAPH]
    if not graph_layers:
        raise UserError("the model has no GarNet/GravNet layer")
    V = graph_layers[0].n_vertices

    values = {}
    not_exact = []
    in_vars, in_meta = [], []
    nvtx_var = None
    for t in model.inputs:
        name = t.name.split(":")[0].split("/")[0]
        shape = tuple(int(s) for s in t.shape[1:])
        key = _tensor_key(t)
        if key in feat_types:
            ft: FixedType = feat_types[key]
            arr = C.input_array(shape, ft, hw)
            in_meta.append({"keras_name": name, "shape": list(shape), "kind": "features", "type": ft.spec()})
        else:
            if int(np.prod(shape)) != 1:
                raise UserError(f"model input {name} {shape} feeds no graph layer's features and is not an nvtx "
                                f"input of shape (1,)")
            arr = C.integer_input(shape, V, hw)
            nvtx_var = arr
            in_meta.append({"keras_name": name, "shape": list(shape), "kind": "nvtx", "type": f"uint0..{V}"})
        values[key] = arr
        C.tag(arr, "inputs")
        in_vars.append(arr)

    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind in GRAPH:
            feats, nv = layer.input
            x = values[_tensor_key(feats)]
            n = values[_tensor_key(nv)]
            mod = G if kind in ("GarNet", "GarNetStack") else GV
            pol = C.policy()
            pol.layer, pol.mode = layer.name, modes.get(layer.name, "dsp")
            with _layer_errors(layer):
                y = mod.trace_layer(layer, x, n)
            pol.layer, pol.mode = None, "dsp"
        else:
            y = trace_head_layer(layer, values[_tensor_key(layer.input)], not_exact)
        values[_tensor_key(layer.output)] = y

    out_vars, out_meta = [], []
    for t, name in zip(model.outputs, model.output_names):
        y = values[_tensor_key(t)]
        out_vars.append(y)
        out_meta.append({"keras_name": name, "shape": [int(s) for s in t.shape[1:]]})

    inp = np.concatenate([np.ravel(v._vars) for v in in_vars])
    out = np.concatenate([np.ravel(v._vars) for v in out_vars])
    try:
        from da4ml.trace import FixedVariable

        out = np.array([v if isinstance(v, FixedVariable) else FixedVariable.from_const(v, hw, 1) for v in out],
                       dtype=object)
        comb = trace.comb_trace(inp, out)
    except Exception as e:  # noqa: BLE001 - da4ml's own failure, not the user's: one line, not a traceback
        raise ToolFailure(f"the RTL trace of the model failed inside da4ml ({_first_line(e)}); please report it "
                        "with the model") from None
    reason = why.emulator_width_reason(max_wire_bits(comb), EMULATOR_BITS)
    if reason:
        not_exact.append({"layer": model.layers[-1].name, "reason": reason})
    return RTLTrace(comb=comb, inputs=in_meta, outputs=out_meta, n_vertices=V, input_vars=inp,
                    not_bit_exact=not_exact, op_kinds=_op_kinds(inp, out, comb))


def _op_kinds(inp, out, comb) -> list | None:
    """What each op of ``comb`` implements, from the tags the trace helpers left (``common.tag``).

    da4ml numbers the ops in the order of ``gather_variables`` and then drops the inputs nothing reads;
    the same order is rebuilt here. None when the trace kept no tags or the orders do not match."""
    tags = C.policy().tags
    if not tags:
        return None
    from da4ml.trace.tracer import gather_variables

    variables, _ = gather_variables(list(inp), list(out))
    read = {u.id for v in variables for u in (v._from or ())} | {v.id for v in out}
    in_ids = {v.id for v in inp}
    kept = [v for v in variables if v.id not in in_ids or v.id in read]
    if len(kept) != len(comb.ops):
        return None
    kinds = []
    for v in kept:
        kinds.append("inputs" if v.id in in_ids else tags.get(v.id, "other"))
    return kinds


def breakdown(rt: RTLTrace, cutoff: float) -> dict | None:
    """LUT (da4ml's estimate), DSP48E2 slices and pipeline-register bits of the traced design by what they
    implement (``common.KINDS``). Register bits: a value produced in stage s and last read in stage t (or at
    the output) is held in t - s registers of its width (da4ml's stage of an op: floor(latency / cutoff));
    estimates from the trace, before synthesis."""
    if rt.op_kinds is None:
        return None
    from da4ml.types import minimal_kif

    comb = rt.comb
    ops = comb.ops

    def stage(op):
        return math.floor(float(op.latency) / (cutoff + 1e-9)) if cutoff > 0 else 0

    last = [stage(op) for op in ops]
    for op in ops:
        refs = [op.id0, op.id1] + ([op.data & 0xFFFFFFFF] if abs(op.opcode) == 6 else [])
        for r in refs:
            if r >= 0 and op.opcode != -1:
                last[r] = max(last[r], stage(op))
    n_stages = max((stage(ops[i]) for i in comb.out_idxs if i >= 0), default=0) + 1
    for i in comb.out_idxs:
        if i >= 0:
            last[i] = n_stages  # held to the output register
    rows = {k: {"ops": 0, "lut_estimate": 0.0, "dsp": 0, "reg_bits": 0, "lut_products": 0} for k in C.KINDS}
    for j, (op, kind) in enumerate(zip(ops, rt.op_kinds)):
        r = rows[kind]
        r["ops"] += 1
        r["lut_estimate"] += float(op.cost)
        width = int(sum(minimal_kif(op.qint)))
        r["reg_bits"] += width * (last[j] - stage(op) + (1 if op.opcode == -1 else 0))
        if op.opcode == 7:
            if op.cost > 0:
                r["lut_products"] += 1
            else:
                r["dsp"] += C.dsp_slices(C._QW(comb.ops[op.id0].qint), C._QW(comb.ops[op.id1].qint))
    out = {k: {**v, "lut_estimate": round(v["lut_estimate"])} for k, v in rows.items() if v["ops"]}
    return out


def trace_head_layer(layer, x, not_exact: list):
    """A QDense, QActivation or Dropout on x (any shape: it acts on the last axis); a reason why Keras'
    float64 value can differ is appended to ``not_exact``."""
    from garnet_hls.backends.rtl import dense as D

    kind = type(layer).__name__
    reason = None
    with _layer_errors(layer):
        if kind == "QDense":
            y = D.trace_dense(layer, x)
            reason = D.dense_reason(layer, x)
        elif kind == "QActivation":
            y = D.trace_activation(layer, x)
            reason = D.activation_reason(layer, x, layer.input.name.split("/")[0])
        else:  # Dropout
            y = x
    if reason:
        not_exact.append({"layer": layer.name, "reason": reason})
    return y


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:300]}" if text else type(e).__name__


@contextmanager
def _layer_errors(layer):
    """A failure inside da4ml while tracing ``layer`` reaches the user as one line naming the layer."""
    try:
        yield
    except (UserError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - an assertion or error of da4ml's: name where it happened
        raise ToolFailure(f"layer {layer.name!r} ({type(layer).__name__}): the RTL trace failed inside da4ml "
                        f"({_first_line(e)}); please report it with the model") from None


def pack_inputs(rt_inputs: list, arrays: list) -> np.ndarray:
    """Concatenate the (already quantized) input arrays, one row per event, in the trace's input order."""
    cols = [np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in arrays]
    return np.concatenate(cols, axis=1)


def unpack_outputs(rt_outputs: list, flat: np.ndarray) -> list:
    outs, off = [], 0
    for o in rt_outputs:
        n = int(np.prod(o["shape"]))
        outs.append(flat[:, off:off + n].reshape((-1, *o["shape"])))
        off += n
    return outs


def input_arrays(rt: RTLTrace, data: dict) -> list:
    """The trace's inputs from an events dict (``features`` float, ``nvtx`` int): features rounded to the
    input type (what the hardware port carries), nvtx as it is."""
    from garnet_hls.core.semantics import check_nvtx_np
    from garnet_hls.core.fixed import parse_spec
    from garnet_hls.core.quantize import quantize_np

    arrays = []
    for spec in rt.inputs:
        if spec["kind"] == "nvtx":
            if "nvtx" not in data:
                raise UserError("the data has no 'nvtx' array, which the model's nvtx input needs")
            arrays.append(check_nvtx_np(data["nvtx"], rt.n_vertices).astype(np.float64))
        else:
            key = spec["keras_name"] if spec["keras_name"] in data else "features"
            if key not in data:
                raise UserError(f"the data has no {key!r} array")
            x = np.asarray(data[key], dtype=np.float64)
            if list(x.shape[1:]) != spec["shape"]:
                raise UserError(f"{key} has shape {x.shape[1:]}, the model expects {tuple(spec['shape'])}")
            arrays.append(quantize_np(x, parse_spec(spec["type"])))
    return arrays


def emulate(rt: RTLTrace, data: dict, n_threads: int = 1) -> list:
    """Run da4ml's bit-exact emulator of the traced logic on an events dict; one array per model output."""
    arrays = input_arrays(rt, data)
    flat = rt.comb.predict(pack_inputs(rt.inputs, arrays), n_threads=n_threads)
    return unpack_outputs(rt.outputs, np.asarray(flat, dtype=np.float64))


def stage_depths(rt: RTLTrace, cutoff: float) -> list[float]:
    """The scheduled logic depth of each pipeline stage in da4ml delay units (about one adder each): the
    latest op of the stage, from the stage's start. A schedule property, not a timing result."""
    if cutoff <= 0:
        return []
    depth: dict[int, float] = {}
    for op in rt.comb.ops:
        s = math.floor(float(op.latency) / (cutoff + 1e-9))
        depth[s] = max(depth.get(s, 0.0), float(op.latency) - s * cutoff)
    return [round(depth.get(s, 0.0), 2) for s in range(max(depth, default=-1) + 1)]
