"""A whole Keras model as one da4ml trace: inputs ``features`` (V, F) and ``nvtx``, every output flattened.

The model's layers are traced in order (a functional model lists them topologically), each by the trace
that lives beside its HLS glue (``garnet.py``, ``gravnet.py``, ``dense.py``). The result is a
:class:`RTLTrace`: da4ml's combinational logic plus what csim/compare need to feed it and read it.
"""

from __future__ import annotations

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


def trace_model(model, latency_cutoff: float = -1.0) -> RTLTrace:
    """Trace ``model`` (a quantized GarNet/GravNet model) into da4ml combinational logic.

    ``latency_cutoff`` (da4ml delay units per pipeline stage; our RTL projects use the clock period in ns,
    one unit being about one adder) schedules each operation for the pipeline: operations that would cross
    a stage boundary start at it, and variable products take whole DSP stages (``common.vmul``). It changes
    no value: the emulator's outputs are the same for any cutoff.
    """
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
            with _layer_errors(layer):
                y = mod.trace_layer(layer, x, n)
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
        comb = trace.comb_trace(inp, out)
    except Exception as e:  # noqa: BLE001 - da4ml's own failure, not the user's: one line, not a traceback
        raise ToolFailure(f"the RTL trace of the model failed inside da4ml ({_first_line(e)}); please report it "
                        "with the model") from None
    reason = why.emulator_width_reason(max_wire_bits(comb), EMULATOR_BITS)
    if reason:
        not_exact.append({"layer": model.layers[-1].name, "reason": reason})
    return RTLTrace(comb=comb, inputs=in_meta, outputs=out_meta, n_vertices=V, input_vars=inp,
                    not_bit_exact=not_exact)


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
