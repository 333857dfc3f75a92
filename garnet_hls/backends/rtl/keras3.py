"""A Keras 3 / HGQ2 model as one da4ml trace.

da4ml's own HGQ2 support (the ``keras`` tracer plugin that hgq2 installs, ``hgq._dais_tracer``) walks the model
and traces every HGQ2 layer (QDense, QEinsumDense, their quantizers and activations); our graph layers
(``garnet_hls.keras3``) are added to its registry and traced by the very traces of the Keras 2 layers
(``garnet.py``, ``gravnet.py``), through :class:`GraphView`: the Keras 3 layer as those traces read a Keras 2
one (one fixed-point type per quantization point, the weights as the layer quantizes them).

What the firmware cannot do is refused here, naming the layer and the point: a data quantizer (input, feature,
distance, aggregate, ...) with another rounding than RND_CONV or overflow than SAT, with per-element
widths, or with a scaler/affine. Weights are constants, so any HGQ2 weight quantizer (any mode, trainable
per-weight widths) is exact: the trace gets the quantized values and a type that holds them all.
"""

from __future__ import annotations

import numpy as np

from garnet_hls.backends.rtl import common as C
from garnet_hls.backends.rtl.model import EMULATOR_BITS, RTLTrace, max_wire_bits
from garnet_hls.core import exactness as why
from garnet_hls.core.fixed import FixedType, parse_spec
from garnet_hls.core.semantics import DEFAULT_QUANTIZERS
from garnet_hls.errors import ToolFailure, UserError

WEIGHT_POINTS = ("kernel", "bias")


def _kif(quantizer):
    from keras import ops

    return [np.asarray(ops.convert_to_numpy(v)).astype(np.int64) for v in quantizer.quantizer.kif]


def _type_of(k, i, f, what) -> FixedType:
    width, integer = int(k + i + f), int(k + i)
    if width < 1:
        raise UserError(f"{what}: HGQ2 gives it {width} bits; the firmware needs at least 1")
    return FixedType(width, integer, signed=bool(k))


def point_type(layer, point) -> FixedType | None:
    """The one fixed-point type of ``point`` in ``layer`` that the firmware can use, or UserError saying why not."""
    from garnet_hls.keras3.quantizers import is_exact_mode

    cfg = layer.q_configs[point]
    if cfg is None:
        return None
    what = f"layer {layer.name}: {point}_quantizer"
    if point in layer.table_types and point not in ("distance", "preactivation"):
        return layer.table_types[point]  # table outputs: checked when the layer was made
    sites = [s for s, p in layer.sites().items() if p == point]
    kifs = [_kif(layer.site_quantizer(s)) for s in sites]
    if not kifs:  # a point this layer's options do not use (preactivation without tanh, ...): any type
        return parse_spec(DEFAULT_QUANTIZERS[point])
    if point in WEIGHT_POINTS:  # constants: a type that holds every quantized weight
        k, i, f = (max(int(a.max()) for a in arrs) for arrs in zip(*kifs))
        return _type_of(k, i, max(f, 1 - k - i), what)
    if cfg.get("overflow_mode") is not None and not is_exact_mode(cfg):
        raise UserError(f"{what}: round_mode={cfg.get('round_mode')}, overflow_mode={cfg.get('overflow_mode')}; "
                        "the firmware rounds half to even and saturates (give RND_CONV, SAT): not bit-exact, refused")
    if cfg.q_type not in ("kif", "kbi") or cfg.scaler is not None or cfg.affine is not None:
        raise UserError(f"{what}: the firmware needs a plain fixed-point quantizer (kif/kbi, no scaler or affine)")
    flat = {tuple(int(a.flat[0]) for a in arrs) for arrs in kifs}
    uniform = all(np.all(a == a.flat[0]) for arrs in kifs for a in arrs)
    if len(flat) != 1 or not uniform:
        raise UserError(f"{what}: per-element (or per-place) widths; the RTL backend has one type per "
                        "quantization point of a graph layer (per-element widths: weights only, for now)")
    k, i, f = flat.pop()
    if point in layer.table_types:  # a table index: the table was built for the config's type
        t = _type_of(k, i, f, what)
        if t != layer.table_types[point]:
            raise UserError(f"{what}: its width changed since the table was built ({t} vs {layer.table_types[point]})")
    return _type_of(k, i, f, what)


def holding_type(values) -> FixedType:
    """The narrowest signed fixed-point type that holds every one of ``values`` exactly (float64 values of
    fixed-point weights)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(v)):
        raise UserError("a quantized weight is not finite")
    f = 0
    while f < 64 and np.any(np.ldexp(v, f) != np.round(np.ldexp(v, f))):
        f += 1
    if f >= 64:
        raise UserError("a quantized weight is not a fixed-point value of at most 64 fraction bits")
    integer = 1  # sign bit: [-2^(I-1), 2^(I-1) - 2^-f]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    while lo < -2.0 ** (integer - 1) or hi > 2.0 ** (integer - 1) - 2.0 ** -f:
        integer += 1
    integer = integer if integer + f >= 2 else 2 - f
    return FixedType(integer + f, integer, signed=True)


class GraphView:
    """A ``garnet_hls.keras3`` layer as the RTL traces read a Keras 2 ``garnet_hls.layers`` one."""

    def __init__(self, layer):
        from keras import ops

        self._layer = layer
        self.types = {p: point_type(layer, p) for p in layer.POINTS}
        n_blocks = getattr(layer, "n_blocks", 1)
        self._weights = []
        for b in range(n_blocks):
            pre = layer._prefix(b) if hasattr(layer, "_prefix") else ""
            raw = layer.block_weights(b)
            qw = {}
            for name, v in raw.items():
                q = layer.site_quantizer(f"{pre}{name}")
                x = ops.convert_to_tensor(np.asarray(v, dtype=np.float64), dtype="float64")
                qw[name] = np.asarray(ops.convert_to_numpy(q(x, training=False)), dtype=np.float64) if q else v
            self._weights.append(qw)
        # the weights are constants the trace rounds to their point's type again: that type must hold every
        # quantized weight exactly. HGQ2's kif does not always bound them (a kbi kernel with per-weight
        # widths, WRAP and RND gave -1.0625 under a kif of i=0), so the type is taken from the values.
        for point in WEIGHT_POINTS:
            vals = [v for qw in self._weights for n, v in qw.items() if n.endswith(point)]
            if self.types.get(point) is not None and vals:
                self.types[point] = holding_type(np.concatenate([np.ravel(v) for v in vals]))

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
            return mod.trace_layer(GraphView(self.op), x, nvtx)

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
        return trace_keras3_model(model, latency_cutoff)
    from garnet_hls.backends.rtl.model import trace_model

    return trace_model(model, latency_cutoff=latency_cutoff, multipliers=multipliers)


def trace_keras3_model(model, latency_cutoff: float = -1.0) -> RTLTrace:
    """Trace a Keras 3 model of garnet_hls.keras3 graph layers and HGQ2 heads (see the module docstring)."""
    from da4ml.converter import trace_model
    from da4ml.trace import HWConfig

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
    return RTLTrace(comb=comb, inputs=in_meta, outputs=out_meta, n_vertices=V, input_vars=inp,
                    not_bit_exact=not_exact)
