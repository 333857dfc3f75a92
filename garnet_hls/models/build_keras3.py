"""The models of :mod:`garnet_hls.models.build` for Keras 3: ``garnet_hls.keras3`` graph layers and HGQ2 heads.

Same inputs (``features`` (V, F), ``nvtx`` (1,) int32), outputs (``class_logit``, ``energy``), layer names of
the graph layers (``'garnet'``; ``'gravnet1'``...) and arguments (the presets build with it). The head is HGQ2
``QDense`` layers: ``'dense1'``... (ReLU inside) -> ``'class_logit'``, ``'energy'``. Quantized mode:

* graph layers with ``quantized=True``, kernel and bias quantizers ``quantized_bits(weight_bits, 0)``;
* each ``QDense``: kernel and bias ``kif`` k=1, i=0, f=weight_bits-1; input quantizer the type of what it
  reads (the graph layer's output point, or ``quantized_relu(activation_bits, activation_int_bits)`` after a
  ReLU), rounding ``RND`` (what da4ml's HGQ2 tracer builds; the first one rounds nothing: its input already
  has that type) and ``SAT``.

``beta0`` (HGQ2's name: the weight of the EBOPs resource loss) makes every width above trainable per element
(per weight; data: per vertex and feature) from those starting types, and turns on HGQ2's EBOPs resource
regularisation of every layer, ours included (``loss += beta0 * EBOPs``). The data points of the graph layers
keep one width each (the RTL backend takes per-element widths for weights only).

Float mode (``quantized=False``): unquantized graph layers, and the ``QDense`` layers without quantizers
(HGQ2's ``enable_iq=False`` and float kernel configs are not needed: plain ``keras.layers.Dense``).
"""

from __future__ import annotations

import garnet_hls.keras3 as g3  # noqa: F401  -- first: makes this process a Keras 3 one

import keras
from hgq.layers import QDense
from hgq.quantizer import QuantizerConfig

from garnet_hls.core.fixed import parse_spec
from garnet_hls.core.semantics import DEFAULT_QUANTIZERS
from garnet_hls.errors import UserError
from garnet_hls.models.checks import _check_bits, _int_tuple, relu_quantizer, weight_quantizer
from garnet_hls.models.presets import KINDS, preset


def _beta(beta0):
    if beta0 is None:
        return None
    try:
        b = float(beta0)
    except (TypeError, ValueError):
        raise UserError(f"beta0 must be a number >= 0, got {beta0!r}") from None
    if not b >= 0 or b == float("inf"):
        raise UserError(f"beta0 must be a number >= 0, got {beta0!r}")
    return b


def _data_config(spec, trainable):
    """An HGQ2 input quantizer of type ``spec``: RND, SAT; per vertex and feature trainable widths."""
    t = parse_spec(spec)
    k = 1 if t.signed and not t.relu else 0
    kw = dict(k0=k, i0=t.integer - k, f0=t.width - t.integer, round_mode="RND", overflow_mode="SAT")
    if trainable:
        kw.update(trainable=True, homogeneous_axis=(0,))
    else:
        kw.update(trainable=False, homogeneous_axis=None, heterogeneous_axis=(), ir=None, fr=None)
    return QuantizerConfig("kif", "datalane", **kw)


def _layer_kw(quantized, beta0):
    if not quantized:
        return {}
    return {"enable_ebops": beta0 is not None, "beta0": beta0 if beta0 is not None else 0.0}


def _graph_quantizers(quantized, weight_bits, beta0):
    if not quantized:
        return {}
    q = weight_quantizer(weight_bits)
    train = beta0 is not None
    return {"kernel_quantizer": g3.quantizer_config(q, "kernel", trainable=train),
            "bias_quantizer": g3.quantizer_config(q, "bias", trainable=train), **_layer_kw(True, beta0)}


def _head(x, dense, quantized, weight_bits, activation_bits, activation_int_bits, beta0):
    dense = _int_tuple("dense", dense)
    train = beta0 is not None
    spec_in = DEFAULT_QUANTIZERS["output"]

    def make_dense(units, name, relu):
        act = "relu" if relu else None
        if not quantized:
            return keras.layers.Dense(units, activation=act, name=name)
        wq = weight_quantizer(weight_bits)
        return QDense(units, activation=act, name=name, iq_conf=_data_config(spec_in, train),
                      kq_conf=g3.quantizer_config(wq, "kernel", trainable=train),
                      bq_conf=g3.quantizer_config(wq, "bias", trainable=train), **_layer_kw(True, beta0))

    for i, units in enumerate(dense, start=1):
        x = make_dense(units, f"dense{i}", True)(x)
        spec_in = relu_quantizer(activation_bits, activation_int_bits)
    return make_dense(1, "class_logit", False)(x), make_dense(1, "energy", False)(x)


def _inputs(n_vertices, n_features):
    for name, v in (("n_vertices", n_vertices), ("n_features", n_features)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"{name} must be a positive integer, got {v!r}")
    return (keras.Input(shape=(n_vertices, n_features), dtype="float32", name="features"),
            keras.Input(shape=(1,), dtype="int32", name="nvtx"))


def build_garnet_model(n_vertices=128, n_features=4, aggregators=(4, 4, 8), filters=(8, 8, 16),
                       propagate=(8, 8, 16), dense=(16, 8), quantized=False, weight_bits=8, activation_bits=10,
                       activation_int_bits=4, mean_by_nvert=False, simplified=True, collapse="mean",
                       output_activation="linear", beta0=None, name=None):
    """The Keras 3 GarNet-stack model (see :func:`garnet_hls.models.build.build_garnet_model`)."""
    n = len(_int_tuple("filters", filters))
    aggregators, filters, propagate = (_int_tuple(k, v, n) for k, v in
                                       (("aggregators", aggregators), ("filters", filters), ("propagate", propagate)))
    beta0 = _beta(beta0)
    if beta0 is not None and not quantized:
        raise UserError("beta0 (trainable widths, EBOPs regularisation) needs a quantized model")
    if quantized:
        _check_bits(weight_bits, activation_bits, activation_int_bits)
    if collapse is None:
        raise UserError("the model needs a collapsed graph output: collapse must be 'mean', 'sum' or 'max'")
    features, nvtx = _inputs(n_vertices, n_features)
    x = g3.GarNetStack(list(aggregators), list(filters), list(propagate), simplified=simplified, collapse=collapse,
                       mean_by_nvert=mean_by_nvert, output_activation=output_activation, quantized=bool(quantized),
                       name="garnet", **_graph_quantizers(quantized, weight_bits, beta0))([features, nvtx])
    outputs = _head(x, dense, quantized, weight_bits, activation_bits, activation_int_bits, beta0)
    return keras.Model([features, nvtx], list(outputs), name=name or ("garnet_q" if quantized else "garnet"))


def build_gravnet_model(n_vertices=128, n_features=4, blocks=2, n_dimensions=4, n_filters=(16, 16),
                        n_propagate=(8, 16), k=8, distance="l2", dense=(16, 8), quantized=False, weight_bits=8,
                        activation_bits=10, activation_int_bits=4, mean_by_nvert=False, collapse="mean",
                        output_activation="linear", potential_scale=10.0, beta0=None, name=None):
    """The Keras 3 GravNet model (see :func:`garnet_hls.models.build.build_gravnet_model`)."""
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise UserError(f"blocks must be a positive integer, got {blocks!r}")
    dims = _int_tuple("n_dimensions", n_dimensions, blocks)
    filters = _int_tuple("n_filters", n_filters, blocks)
    propagate = _int_tuple("n_propagate", n_propagate, blocks)
    beta0 = _beta(beta0)
    if beta0 is not None and not quantized:
        raise UserError("beta0 (trainable widths, EBOPs regularisation) needs a quantized model")
    if collapse is None:
        raise UserError("the model needs a collapsed graph output: collapse must be 'mean', 'sum' or 'max'")
    if quantized:
        _check_bits(weight_bits, activation_bits, activation_int_bits)
    features, nvtx = _inputs(n_vertices, n_features)
    x = features
    for b in range(blocks):
        last = b == blocks - 1
        x = g3.GravNet(dims[b], filters[b], propagate[b], int(k), distance=distance, potential_scale=potential_scale,
                       collapse=collapse if last else None, mean_by_nvert=mean_by_nvert,
                       output_activation=output_activation, quantized=bool(quantized), name=f"gravnet{b + 1}",
                       **_graph_quantizers(quantized, weight_bits, beta0))([x, nvtx])
    outputs = _head(x, dense, quantized, weight_bits, activation_bits, activation_int_bits, beta0)
    return keras.Model([features, nvtx], list(outputs), name=name or ("gravnet_q" if quantized else "gravnet"))


_BUILDERS = {"garnet": build_garnet_model, "gravnet": build_gravnet_model}


def build_model(kind, **kw):
    """Build a Keras 3 model of ``kind`` ('garnet' or 'gravnet') with the builder's keyword arguments."""
    try:
        builder = _BUILDERS[kind]
    except (KeyError, TypeError):
        raise UserError(f"unknown model kind {kind!r}; valid: {', '.join(KINDS)}") from None
    try:
        return builder(**kw)
    except TypeError as e:
        if "unexpected keyword" in str(e):
            raise UserError(f"{kind} model: {e}") from None
        raise


def build_preset_model(name: str, **overrides):
    kw = preset(name)
    kw.update(overrides)
    kind = kw.pop("kind")
    return build_model(kind, **kw)


def model_ebops(model) -> float | None:
    """The EBOPs HGQ2 last computed for the model (sum over its layers with ``enable_ebops``; a training step
    computes them), or None when no layer counts them."""
    from hgq.layers import QLayerBase

    layers = [la for la in model._flatten_layers() if isinstance(la, QLayerBase) and la.enable_ebops]
    if not layers:
        return None
    return float(sum(float(keras.ops.convert_to_numpy(la.ebops)) for la in layers))
