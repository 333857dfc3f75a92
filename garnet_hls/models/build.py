"""Paper-like GarNet / GravNet models for the built-in calorimeter data (Iiyama et al., arXiv:2008.03601).

Every model is a functional ``tf_keras`` model with

* two inputs: ``features`` (V, F) float32 (hit features, padding rows after the first ``nvtx``) and
  ``nvtx`` (1,) int32 (the number of valid hits);
* two outputs: ``class_logit`` (1 unit), the electron (0) vs pion (1) logit -- there is *no* sigmoid in
  the model, so that the firmware reproduces the model bit for bit; apply ``sigmoid`` outside -- and
  ``energy`` (1 unit), the regressed true energy divided by :data:`ENERGY_SCALE` (GeV).

Layout (layer names in quotes)::

    GarNet:  'garnet' (GarNetStack, collapse='mean')                   -> head
    GravNet: 'gravnet1' ... 'gravnetN' (GravNet; last collapse='mean')  -> head
    head:    'dense1' -> 'relu1' -> 'dense2' -> 'relu2' -> 'class_logit' (Dense(1))
                                                        \\-> 'energy'      (Dense(1))

Float mode (``quantized=False``) uses ``Dense`` and separate ``Activation('relu')`` layers. Quantized mode
uses QKeras: ``QDense`` with ``kernel_quantizer = bias_quantizer = quantized_bits(weight_bits, 0, alpha=1)``
(``ap_fixed<weight_bits, 1>``, weights in [-1, 1)), ``QActivation('quantized_relu(activation_bits,
activation_int_bits)')`` for the ReLUs (default ``quantized_relu(10,4)`` = ``ap_ufixed<10,4>``: range
[0, 16), LSB 1/64 -- the head's activations stay well below 16), and the graph layers with
``quantized=True`` (their defaults, docs/quantization.md) except that their kernel/bias quantizers also
use ``weight_bits``. The two output ``QDense`` layers have no output quantizer.

Once tf_keras is imported after ``import garnet_hls``, the QKeras layers and quantizers are registered with
Keras' serialization (``garnet_hls._env``), so a saved quantized model loads with
``tf_keras.models.load_model`` without ``custom_objects``.
"""

from __future__ import annotations

import garnet_hls  # noqa: F401  -- sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads

import tf_keras as keras

from garnet_hls._env import register_keras_objects
from garnet_hls.errors import UserError
from garnet_hls.layers import GarNetStack, GravNet
# the checks and quantizer specs both builders (Keras 2 here, Keras 3 in build_keras3) share
from garnet_hls.models.checks import _check_bits, _int_tuple, relu_quantizer, weight_quantizer  # noqa: F401
# ENERGY_SCALE: the ``energy`` output regresses ``true energy [GeV] / ENERGY_SCALE``; KINDS: the model kinds
# accepted by build_model; OUTPUTS: the names of the two outputs, in order. They live in garnet_hls.models.presets,
# which imports no TensorFlow (the command line needs them to build its parser).
from garnet_hls.models.presets import ENERGY_SCALE, KINDS, OUTPUTS, preset  # noqa: F401


def register_qkeras_objects():
    """Make our layers and QKeras layers/quantizers known to Keras' serialization (idempotent; done already
    when tf_keras was imported after garnet_hls)."""
    register_keras_objects()


register_qkeras_objects()


def _inputs(n_vertices, n_features):
    if isinstance(n_vertices, bool) or not isinstance(n_vertices, int) or n_vertices < 1:
        raise UserError(f"n_vertices must be a positive integer, got {n_vertices!r}")
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise UserError(f"n_features must be a positive integer, got {n_features!r}")
    features = keras.Input(shape=(n_vertices, n_features), dtype="float32", name="features")
    nvtx = keras.Input(shape=(1,), dtype="int32", name="nvtx")
    return features, nvtx


def _graph_quantizers(quantized, weight_bits):
    if not quantized:
        return {}
    q = weight_quantizer(weight_bits)
    return {"kernel_quantizer": q, "bias_quantizer": q}


def _head(x, dense, quantized, weight_bits, activation_bits, activation_int_bits):
    """dense1 -> relu1 -> ... -> the two Dense(1) heads 'class_logit' and 'energy'."""
    dense = _int_tuple("dense", dense)
    if quantized:
        from qkeras import QActivation, QDense

        wq = weight_quantizer(weight_bits)
        aq = relu_quantizer(activation_bits, activation_int_bits)

        def make_dense(units, name):
            return QDense(units, kernel_quantizer=wq, bias_quantizer=wq, kernel_initializer="glorot_uniform",
                          name=name)

        def make_relu(name):
            return QActivation(aq, name=name)
    else:
        def make_dense(units, name):
            return keras.layers.Dense(units, name=name)

        def make_relu(name):
            return keras.layers.Activation("relu", name=name)

    for i, units in enumerate(dense, start=1):
        x = make_dense(units, f"dense{i}")(x)
        x = make_relu(f"relu{i}")(x)
    logit = make_dense(1, "class_logit")(x)
    energy = make_dense(1, "energy")(x)
    return logit, energy


def build_garnet_model(n_vertices=128, n_features=4, aggregators=(4, 4, 8), filters=(8, 8, 16),
                       propagate=(8, 8, 16), dense=(16, 8), quantized=False, weight_bits=8, activation_bits=10,
                       activation_int_bits=4, mean_by_nvert=False, simplified=True, collapse="mean",
                       output_activation="linear", name=None):
    """GarNet-stack model: ``'garnet'`` (GarNetStack) -> dense head -> ``class_logit``, ``energy``.

    ``aggregators``, ``filters`` and ``propagate`` give A, F_out and P of each GarNet block (the paper's
    stack is (4,4,8), (8,8,16), (8,8,16)); ``dense`` the units of the hidden head layers. See the module
    docstring for the quantized variant.
    """
    n = len(_int_tuple("filters", filters))
    aggregators = _int_tuple("aggregators", aggregators, n)
    filters = _int_tuple("filters", filters, n)
    propagate = _int_tuple("propagate", propagate, n)
    if quantized:
        _check_bits(weight_bits, activation_bits, activation_int_bits)
    if collapse is None:
        raise UserError("the model needs a collapsed graph output: collapse must be 'mean', 'sum' or 'max'")
    features, nvtx = _inputs(n_vertices, n_features)
    x = GarNetStack(list(aggregators), list(filters), list(propagate), simplified=simplified, collapse=collapse,
                    mean_by_nvert=mean_by_nvert, output_activation=output_activation, quantized=bool(quantized),
                    name="garnet", **_graph_quantizers(quantized, weight_bits))([features, nvtx])
    outputs = _head(x, dense, quantized, weight_bits, activation_bits, activation_int_bits)
    return keras.Model([features, nvtx], list(outputs),
                       name=name or ("garnet_q" if quantized else "garnet"))


def build_gravnet_model(n_vertices=128, n_features=4, blocks=2, n_dimensions=4, n_filters=(16, 16),
                        n_propagate=(8, 16), k=8, distance="l2", dense=(16, 8), quantized=False, weight_bits=8,
                        activation_bits=10, activation_int_bits=4, mean_by_nvert=False, collapse="mean",
                        output_activation="linear", potential_scale=10.0, name=None):
    """GravNet model: ``blocks`` GravNet layers ``'gravnet1'``... in sequence (only the last collapses)
    -> dense head -> ``class_logit``, ``energy``.

    ``n_dimensions`` (S), ``n_filters`` (F_out) and ``n_propagate`` (P) are an integer (all blocks) or one
    entry per block; ``k`` the number of neighbours (must be < ``n_vertices``).
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise UserError(f"blocks must be a positive integer, got {blocks!r}")
    dims = _int_tuple("n_dimensions", n_dimensions, blocks)
    filters = _int_tuple("n_filters", n_filters, blocks)
    propagate = _int_tuple("n_propagate", n_propagate, blocks)
    if collapse is None:
        raise UserError("the model needs a collapsed graph output: collapse must be 'mean', 'sum' or 'max'")
    if quantized:
        _check_bits(weight_bits, activation_bits, activation_int_bits)
    features, nvtx = _inputs(n_vertices, n_features)
    x = features
    for b in range(blocks):
        last = b == blocks - 1
        x = GravNet(dims[b], filters[b], propagate[b], int(k), distance=distance, potential_scale=potential_scale,
                    collapse=collapse if last else None, mean_by_nvert=mean_by_nvert,
                    output_activation=output_activation, quantized=bool(quantized), name=f"gravnet{b + 1}",
                    **_graph_quantizers(quantized, weight_bits))([x, nvtx])
    outputs = _head(x, dense, quantized, weight_bits, activation_bits, activation_int_bits)
    return keras.Model([features, nvtx], list(outputs),
                       name=name or ("gravnet_q" if quantized else "gravnet"))


_BUILDERS = {"garnet": build_garnet_model, "gravnet": build_gravnet_model}


def build_model(kind, **kw):
    """Build a model of ``kind`` ('garnet' or 'gravnet') with the builder's keyword arguments."""
    try:
        builder = _BUILDERS[kind]
    except (KeyError, TypeError):
        raise UserError(f"unknown model kind {kind!r}; valid: {', '.join(KINDS)}") from None
    try:
        return builder(**kw)
    except TypeError as e:  # an unknown keyword argument
        if "unexpected keyword" in str(e):
            raise UserError(f"{kind} model: {e}") from None
        raise


def build_preset_model(name: str, **overrides):
    """The model of preset ``name`` (garnet_hls.models.presets), with ``overrides`` of its keyword arguments."""
    kw = preset(name)
    kw.update(overrides)
    kind = kw.pop("kind")
    return build_model(kind, **kw)
