"""A Keras 3 / HGQ2 model in hls4ml: hls4ml 1.3's Keras 3 parser, with our graph layers added to it.

hls4ml's own Keras 3 parser (``hls4ml.converters.keras_v3_to_hls.parse_keras_v3_model``) walks the model; its
HGQ2 handlers turn ``QDense``, ``QEinsumDense``, ``QActivation``, ... into hls4ml layers plus a
``FixedPointQuantizer`` per HGQ2 quantizer, and its ``BitExact`` pass (forced on here) gives every one of them
the exact type its inputs and quantizers imply. Our layers enter that route in two places:

* a Keras 3 layer handler per class (registered with hls4ml's ``KerasV3LayerHandler`` registry under the
  layer's ``module.class``) builds the *same* hls4ml IR layer as the Keras 2 handler
  (``garnet_hls.backends.hls.garnet`` / ``gravnet``: same attributes, same config/function templates, same
  C++ kernels): it hands that handler the Keras 3 layer's options, one fixed-point type per quantization
  point (``garnet_hls.keras3.firmware.point_type``, which refuses what the firmware cannot do) and the
  weights as the layer's HGQ2 quantizers round them;
* the ``BitExact`` pass learns what our layers produce (their output type; ``_produce_kif``) and leaves
  their own, already exact, types alone (``register_precision``).

The model inputs that feed graph layers are "trusted" hls4ml inputs of the graph layer's input type (the
features) and of an unsigned integer wide enough for V (nvtx). A layer the route cannot convert exactly is
refused before hls4ml runs, naming it (:func:`check_model`).
"""

from __future__ import annotations

import math

import numpy as np

from garnet_hls.errors import UserError

GRAPH_CLASSES = ("GarNet", "GarNetStack", "GravNet")
#: Keras (not HGQ2) layers that only move values: hls4ml's own handlers convert them exactly
PLAIN_LAYERS = ("InputLayer", "Reshape", "Flatten")
EXACT_ACTIVATIONS = ("linear", "relu")
#: the fraction bits our layers report to hls4ml's BitExact pass (see register(): produce_kif)
PRODUCE_FRAC = 24

_registered = False


def is_graph_layer(layer) -> bool:
    return type(layer).__module__.startswith("garnet_hls.keras3") and type(layer).__name__ in GRAPH_CLASSES


def _uint_bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n + 1)))


def _activation_name(layer) -> str | None:
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", str(act))


def check_model(model) -> dict:
    """Refuse (one line naming the layer) what the Keras 3 route cannot convert bit-exactly; returns
    ``{input name: ("features", FixedType) | ("nvtx", V)}`` for the model inputs that feed graph layers."""
    from hls4ml.converters.keras_v3 import layer_handlers

    from garnet_hls.keras3.firmware import point_type

    graph = [layer for layer in model.layers if is_graph_layer(layer)]
    if not graph:
        raise UserError("the model has no GarNet/GravNet layer (garnet_hls.keras3)")
    for layer in model.layers:
        kind = type(layer).__name__
        key = f"{type(layer).__module__}.{kind}"
        if is_graph_layer(layer) or kind == "InputLayer":
            continue
        if kind in PLAIN_LAYERS and key in layer_handlers:
            continue
        if not type(layer).__module__.startswith("hgq.") or key not in layer_handlers:
            raise UserError(f"layer {layer.name!r} ({kind}) has no bit-exact HLS conversion: a Keras 3 model may "
                            "hold garnet_hls.keras3 graph layers, HGQ2 layers hls4ml converts (QDense, QEinsumDense, "
                            "QActivation, ...) and Reshape/Flatten")
        act = _activation_name(layer)
        if act is not None and act not in EXACT_ACTIVATIONS:
            raise UserError(f"layer {layer.name!r} ({kind}): activation {act!r} is a float function in hls4ml, "
                            f"not bit-exact; use {' or '.join(EXACT_ACTIVATIONS)}")
    inputs = {t.name: input_layer_name(t) for t in model.inputs}  # tensor name -> InputLayer name
    feeds = {}
    for layer in graph:
        if len(layer._inbound_nodes) != 1:
            raise UserError(f"layer {layer.name!r} is called more than once; the HLS backend converts one call")
        feats, nvtx = layer._inbound_nodes[0].arguments.args[0]
        t_in = point_type(layer, "input")
        if t_in is None:
            raise UserError(f"layer {layer.name!r}: the HLS backend needs a quantized graph layer (quantized=True "
                            "or explicit quantizers)")
        if feats.name in inputs:
            name = inputs[feats.name]
            old = feeds.setdefault(name, ("features", t_in))
            if old != ("features", t_in):
                raise UserError(f"input {name!r} feeds graph layers with different input types ({old[1]} and "
                                f"{t_in} for {layer.name!r}); give them the same input_quantizer")
        if nvtx.name not in inputs:
            raise UserError(f"layer {layer.name!r}: its nvtx must be a model input of shape (1,)")
        old = feeds.setdefault(inputs[nvtx.name], ("nvtx", layer.n_vertices))
        if old != ("nvtx", layer.n_vertices):
            raise UserError(f"input {inputs[nvtx.name]!r} is the nvtx of graph layers with different V and features")
    for name in inputs.values():
        if name not in feeds:
            raise UserError(f"model input {name!r} feeds no graph layer's features and is not an nvtx input: the "
                            "HLS backend types model inputs by the graph layers they feed")
    return feeds


def input_layer_name(tensor) -> str:
    """The name of the InputLayer of a Keras 3 model input (hls4ml names its input layers so)."""
    return tensor._keras_history.operation.name


def _graph_layer_entry(layer, in_tensors) -> dict:
    """The hls4ml layer dict of one of our Keras 3 layers, built by the Keras 2 handler of the same layer."""
    from garnet_hls.backends.hls import garnet, gravnet
    from garnet_hls.core.semantics import GRAVNET_OPTIONS
    from garnet_hls.keras3.firmware import WEIGHT_NAMES, point_types, quantized_weights

    kind = type(layer).__name__
    types = point_types(layer)
    cfg = {"name": layer.name, "collapse": layer.collapse, "mean_by_nvert": layer.mean_by_nvert,
           "output_activation": layer.output_activation, "quantized": True,
           **{f"{p}_quantizer": t for p, t in types.items()}}
    weights = quantized_weights(layer)
    if kind == "GravNet":
        cfg.update({k: getattr(layer, k) for k in GRAVNET_OPTIONS})
        by_key = dict(weights[0])
        module, parse = gravnet, gravnet.parse_gravnet
    else:
        stack = kind == "GarNetStack"
        cfg.update(simplified=layer.simplified,
                   **{k: list(getattr(layer, k)) if stack else getattr(layer, k)[0]
                      for k in ("n_aggregators", "n_filters", "n_propagate")})
        by_key = {f"{layer._prefix(b)}{w}": weights[b][w] for b in range(layer.n_blocks) for w in WEIGHT_NAMES}
        module, parse = garnet, garnet.parse_garnet

    class Reader:
        def get_weights_data(self, layer_name, var_name):
            assert layer_name == layer.name
            return by_key[var_name]

    keras_layer = {"class_name": module.KERAS_CLASSES[kind], "config": cfg}
    shapes = [[None] + [int(s) for s in t.shape[1:]] for t in in_tensors]
    entry, _ = parse(keras_layer, [t.name for t in in_tensors], shapes, Reader())
    return entry


def register():
    """Our layers in hls4ml's Keras 3 parser and in its BitExact pass, once per process."""
    global _registered
    if _registered:
        return
    from hls4ml.converters.keras_v3._base import KerasV3LayerHandler
    from hls4ml.model.optimizer.passes import bit_exact

    from garnet_hls.backends.hls import extension
    from garnet_hls.backends.hls.garnet import GarNetLayer
    from garnet_hls.backends.hls.gravnet import GravNetLayer

    extension.register()

    class GraphLayerHandler(KerasV3LayerHandler):  # noqa: F841  (the metaclass registers it)
        handles = ("garnet_hls.keras3.garnet.GarNet", "garnet_hls.keras3.garnet.GarNetStack",
                   "garnet_hls.keras3.gravnet.GravNet")

        def handle(self, layer, in_tensors, out_tensors):
            return _graph_layer_entry(layer, in_tensors)

    def produce_kif(layer):  # what the layer outputs: its output type, every element
        # The fraction is reported wider than the output type's (the values are exact on any finer grid):
        # hls4ml's BitExact pass types the next FixedPointQuantizer with min(our fraction, its own), and a SAT
        # quantizer whose bound has the finer fraction (1.99975586 for kbi b=13 i=1) then saturated to the
        # coarser one (1.9921875): a silent mismatch (Keras 3 fuzzer, HLS mode, cases 12 and 26). Our own
        # types are kept (keep_own_types); only what hls4ml derives after us sees the wider fraction.
        t = layer.get_attr("point_types")["output"]
        shape = tuple(layer.get_output_variable().shape)
        k = int(t.signed)
        return (np.full(shape, k, dtype=np.int16), np.full(shape, t.integer - k, dtype=np.int16),
                np.full(shape, max(t.frac, PRODUCE_FRAC), dtype=np.int16))

    def keep_own_types(node):  # the layer derived every type of its own (exact by construction)
        return None

    for cls in (GarNetLayer, GravNetLayer):
        bit_exact._produce_kif.register(cls)(produce_kif)
        bit_exact.register_precision.register(cls)(keep_own_types)
    _registered = True


def hls_config(model, cfg: dict, feeds: dict) -> dict:
    """hls4ml's HLSConfig of a Keras 3 model: BitExact on, the inputs' types, tracing on, the user's settings."""
    hls = cfg.get("HLSConfig") or {}
    model_cfg = dict(hls.get("Model") or {})
    model_cfg.setdefault("Precision", "fixed<16,6>")
    model_cfg.setdefault("ReuseFactor", 1)
    model_cfg.setdefault("Strategy", "Latency")
    model_cfg.setdefault("PipelineStyle", "dataflow")  # as for Keras 2 (garnet_hls.backends.hls.convert)
    model_cfg["BitExact"] = True
    user = hls.get("LayerName") or {}
    layer_cfg = {}
    for layer in model.layers:
        entry = {"Trace": True, **dict(user.get(layer.name) or {})}
        if layer.name in feeds:
            kind, v = feeds[layer.name]
            entry["Precision"] = v.hls4ml_precision() if kind == "features" else f"uint<{_uint_bits(v)}>"
        layer_cfg[layer.name] = entry
    for name, entry in user.items():
        layer_cfg.setdefault(name, dict(entry or {}))
    out = {"Model": model_cfg, "LayerName": layer_cfg}
    if hls.get("LayerType"):
        out["LayerType"] = hls["LayerType"]
    return out


def check_config(cfg: dict, backend: str) -> None:
    """Settings a Keras 3 model's conversion cannot honour exactly: refused in one line."""
    hls = cfg.get("HLSConfig") or {}
    for name, entry in (hls.get("LayerName") or {}).items():
        if isinstance(entry, dict) and "Precision" in entry:
            raise UserError(f"HLSConfig.LayerName.{name}.Precision: a Keras 3 model's types come from its HGQ2 "
                            f"quantizers (the {backend} backend derives every other one exactly): remove it")
    for name, entry in (hls.get("LayerType") or {}).items():
        if isinstance(entry, dict) and "Precision" in entry:
            raise UserError(f"HLSConfig.LayerType.{name}.Precision: a Keras 3 model's types come from its HGQ2 "
                            f"quantizers (the {backend} backend derives every other one exactly): remove it")


def parse_model(model, cfg: dict):
    """``(layer_list, input names, output names, feeds)`` of a Keras 3 model, from hls4ml's Keras 3 parser."""
    from hls4ml.converters.keras_v3_to_hls import parse_keras_v3_model

    register()
    feeds = check_model(model)
    try:
        layer_list, inputs, outputs, _ = parse_keras_v3_model(model, allow_da_fallback=False, allow_v2_fallback=False)
    except UserError:
        raise
    except (ValueError, AssertionError, KeyError) as e:  # hls4ml's parser: one line
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise UserError(f"hls4ml's Keras 3 parser refused the model: {first}") from None
    for entry in layer_list:
        if entry["name"] in feeds:  # the BitExact pass takes these types as given
            entry["trusted"] = True
    return layer_list, inputs, outputs, feeds


def layer_info(model, hls_model, feeds: dict) -> dict:
    """``garnet_project.json``'s ``layers`` of a Keras 3 model: per Keras layer its type and output type; every
    layer is exact (what is not is refused by :func:`check_model`)."""
    from garnet_hls.keras3.firmware import point_type

    hls_layers = {layer.name: layer for layer in hls_model.get_layers()}
    info = {}
    for layer in model.layers:
        name, kind = layer.name, type(layer).__name__
        entry = {"type": kind, "exact": True, "output": None}
        if name in feeds:
            what, v = feeds[name]
            if what == "nvtx":
                entry.update(nvtx=True, n_vertices=int(v))
            else:
                entry["output"] = str(v)
        elif is_graph_layer(layer):
            entry["output"] = str(point_type(layer, "output"))
        elif name in hls_layers and hls_layers[name].get_output_variable() is not None:
            entry["output"] = str(hls_layers[name].get_output_variable().type.precision)
        info[name] = entry
    return info
