"""A Keras 3 / HGQ2 model as one da4ml trace.

da4ml's own HGQ2 support (the ``keras`` tracer plugin that hgq2 installs, ``hgq._dais_tracer``) walks the model
and traces every HGQ2 layer (QDense, QEinsumDense, their quantizers and activations); our graph layers
(``garnet_hls.keras3``) are added to its registry and traced by the very traces of the Keras 2 layers
(``garnet.py``, ``gravnet.py``), through :class:`GraphView`: the Keras 3 layer as those traces read a Keras 2
one (one fixed-point type per quantization point, the weights as the layer quantizes them).

What the firmware cannot do is refused, naming the layer and the point (``garnet_hls.keras3.firmware``, shared
with the HLS backend): a data quantizer (input, feature, distance, aggregate, ...) with another rounding than
RND_CONV or overflow than SAT, with per-element widths, or with a scaler/affine. Weights are constants, so any
HGQ2 weight quantizer (any mode, trainable per-weight widths) is exact: the trace gets the quantized values and
a type that holds them all.
"""

from __future__ import annotations

import numpy as np

from garnet_hls.backends.rtl import common as C
from garnet_hls.backends.rtl.model import EMULATOR_BITS, RTLTrace, max_wire_bits
from garnet_hls.core import exactness as why
from garnet_hls.errors import ToolFailure, UserError
from garnet_hls.keras3.firmware import point_type, point_types, quantized_weights



class GraphView:
    """A ``garnet_hls.keras3`` layer as the RTL traces read a Keras 2 ``garnet_hls.layers`` one."""

    def __init__(self, layer):
        self._layer = layer
        self.types = point_types(layer)
        self._weights = quantized_weights(layer)

    def block_weights(self, b):
        return self._weights[b]

    def __getattr__(self, name):
        return getattr(self._layer, name)


_REGISTERED = False


def _register_graph_layers():
    """Add our layers to da4ml's HGQ2 tracer registry (hgq._dais_tracer), once."""
    global _REGISTERED
    if _REGISTERED:
        return
    from hgq._dais_tracer.layers._base import ReplayOperationBase

    from garnet_hls.backends.rtl import garnet as G
    from garnet_hls.backends.rtl import gravnet as GV
    from garnet_hls.keras3 import GarNet, GarNetStack, GravNet

    class ReplayGraphLayer(ReplayOperationBase):  # noqa: F841  (the metaclass registers it)
        handles = (GarNet, GarNetStack, GravNet)

        def call(self, inputs, **kwargs):
            x, nvtx = inputs
            mod = GV if isinstance(self.op, GravNet) else G
            pol = C.policy()  # the products' sites and the logic's tags are the layer's (resource breakdown)
            pol.layer, pol.mode = self.op.name, "dsp"
            try:
                return mod.trace_layer(GraphView(self.op), x, nvtx)
            finally:
                pol.layer = None

    _REGISTERED = True


DA4ML_ROUNDINGS = ("TRN", "RND")  # what da4ml's quantize builds (FixedVariable.quantize)


def check_hgq_data_quantizers(model, graph_layers) -> None:
    """Refuse, naming the layer, an HGQ2 data quantizer (a layer's input or output quantizer, a Quantizer
    layer) that rounds in a way da4ml's HGQ2 tracer cannot build: it asserts TRN or RND (RND_CONV is ours,
    in the graph layers' own traces). Weights are constants: their quantizers may round any way."""
    from hgq.layers import QLayerBase
    from hgq.layers.core.base import MultipleQuantizers
    from hgq.quantizer import Quantizer

    for layer in model.layers:
        if layer in graph_layers:
            continue
        found = []
        if isinstance(layer, Quantizer):
            found.append(("quantizer", layer))
        elif isinstance(layer, QLayerBase):
            for what, on in (("input", layer.enable_iq), ("output", layer.enable_oq)):
                q = getattr(layer, "iq" if what == "input" else "oq") if on else None
                qs = q.quantizers if isinstance(q, MultipleQuantizers) else (q,) if q is not None else ()
                found += [(f"{what} quantizer", x) for x in qs]
        for what, q in found:
            mode = str(getattr(q.quantizer, "round_mode", "TRN")).upper()
            if mode not in DA4ML_ROUNDINGS:
                raise UserError(f"layer {layer.name}: its {what} rounds {mode}; da4ml's HGQ2 tracer builds "
                                f"{' or '.join(DA4ML_ROUNDINGS)} only (give round_mode='RND' or 'TRN')")


def is_keras3_model(model) -> bool:
    return type(model).__module__.split(".")[0] == "keras"


def trace_any_model(model, latency_cutoff: float = -1.0, multipliers: dict | None = None) -> RTLTrace:
    """The trace of a Keras 2 (``model.trace_model``) or a Keras 3 model (:func:`trace_keras3_model`).
    ``multipliers`` (``project.multiplier_modes``): a choice other than dsp is for Keras 2 models only yet."""
    if is_keras3_model(model):
        if multipliers and any(m != "dsp" for m in (multipliers.get("layers") or {}).values()):
            raise UserError("Multipliers other than dsp are not built for Keras 3 models yet")
        from garnet_hls.backends.rtl.model import _multiplier_summary, traced_with_multipliers

        rt, pol = traced_with_multipliers(lambda: trace_keras3_model(model, latency_cutoff),
                                          lambda r: C.dsp_count(r.comb), False, None, latency_cutoff)
        rt.multipliers = _multiplier_summary(pol, {}, None)
        return rt
    from garnet_hls.backends.rtl.model import trace_model

    return trace_model(model, latency_cutoff=latency_cutoff, multipliers=multipliers)


def trace_keras3_model(model, latency_cutoff: float = -1.0) -> RTLTrace:
    """Trace a Keras 3 model of garnet_hls.keras3 graph layers and HGQ2 heads (see the module docstring)."""
    from da4ml.converter import trace_model
    from da4ml.trace import FixedVariable, HWConfig

    from garnet_hls.backends.rtl.model import _op_kinds
    from garnet_hls.keras3.common import QGraphLayer

    _register_graph_layers()
    trace = C.da()
    hw = HWConfig(1, -1, float(latency_cutoff))
    graph = [layer for layer in model.layers if isinstance(layer, QGraphLayer)]
    if not graph:
        raise UserError("the model has no GarNet/GravNet layer")
    check_hgq_data_quantizers(model, graph)
    V = graph[0].n_vertices
    feat_types = {}
    for layer in graph:
        feats, _ = layer._inbound_nodes[0].arguments.args[0]
        t = point_type(layer, "input")
        if t is None:
            raise UserError(f"layer {layer.name}: the RTL backend needs a quantized layer (quantized=True or "
                            "explicit quantizers)")
        feat_types.setdefault(feats.name, t)
    in_arrs, in_meta = [], []
    for t in model.inputs:
        shape = tuple(int(s) for s in t.shape[1:])
        if t.name in feat_types:
            ft = feat_types[t.name]
            in_arrs.append(C.input_array(shape, ft, hw))
            in_meta.append({"keras_name": t.name, "shape": list(shape), "kind": "features", "type": ft.spec()})
        elif int(np.prod(shape)) == 1:
            in_arrs.append(C.integer_input(shape, V, hw))
            in_meta.append({"keras_name": t.name, "shape": list(shape), "kind": "nvtx", "type": f"uint0..{V}"})
        else:
            raise UserError(f"model input {t.name} {shape} feeds no graph layer's features and is not an nvtx "
                            "input of shape (1,)")
    try:
        inp, out = trace_model(model, hw, inputs=tuple(in_arrs), framework="keras")
        inp = list(np.ravel(inp))  # comb_trace's order, kept for the breakdown's op kinds
        out = [v if isinstance(v, FixedVariable) else FixedVariable.from_const(v, hw, 1) for v in np.ravel(out)]
        comb = trace.comb_trace(inp, out)
    except (UserError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - da4ml's or hgq's failure: one line
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise ToolFailure(f"the RTL trace of the Keras 3 model failed inside da4ml ({type(e).__name__}: {first}); "
                          "the layer may not be one da4ml's HGQ2 tracer supports") from None
    names = list(getattr(model, "output_names", None) or [t.name for t in model.outputs])
    out_meta = [{"keras_name": n, "shape": [int(s) for s in t.shape[1:]]} for n, t in zip(names, model.outputs)]
    not_exact = []
    reason = why.emulator_width_reason(max_wire_bits(comb), EMULATOR_BITS)
    if reason:
        not_exact.append({"layer": model.layers[-1].name, "reason": reason})
    return RTLTrace(comb=comb, inputs=in_meta, outputs=out_meta, n_vertices=V, input_vars=np.array(inp, dtype=object),
                    not_bit_exact=not_exact, op_kinds=_op_kinds(inp, out, comb))
