"""hls4ml glue for the QKeras layers around our graph layers: QDense on any rank, QActivation.

hls4ml quantizes a ``QDense``'s weights with the QKeras quantizer when it builds a ``Dense`` layer. A
``QDense`` on a per-vertex output ((B, V, F) in, a graph layer without collapse before it) is turned by
hls4ml's ``ReplaceMultidimensionalDenseWithConv`` into a (pointwise) ``Conv1D`` of the same name, and
that copy keeps the raw float weights and drops the quantizers: ``ap_fixed`` would then *truncate* the
float weights instead of taking the values Keras multiplies with.

:func:`quantize_dense_weights` therefore writes the exactly quantized weights and biases (round half to
even, saturate: ``garnet_hls.quant``) into the parsed layer list before hls4ml builds its graph. Every
layer hls4ml makes from it - ``Dense``, ``Conv1D``, ``PointwiseConv1D`` - then holds the values Keras
uses, and takes its weight/bias/accum/result types from the config entry of the same name, which
``garnet_hls.convert.derive_precisions`` fills with the quantizers' types and the exact accumulator.
(For a 2-D ``Dense``, hls4ml's own quantizer call on already quantized values changes nothing.)
"""

from __future__ import annotations

import numpy as np

from garnet_hls.quant import parse_spec, quantize_np

DENSE_CLASSES = ("QDense",)


def quantize_dense_weights(layer_list: list, model) -> None:
    """Round the weights/biases of every QDense in hls4ml's parsed ``layer_list`` as QKeras does."""
    by_name = {layer.name: layer for layer in model.layers}
    for entry in layer_list:
        if entry.get("class_name") not in DENSE_CLASSES:
            continue
        layer = by_name.get(entry.get("name"))
        if layer is None:
            continue
        for key, attr in (("weight_data", "kernel_quantizer_internal"), ("bias_data", "bias_quantizer_internal")):
            q = getattr(layer, attr, None)
            if q is None or entry.get(key) is None:
                continue
            t = parse_spec(q)
            if t is not None:
                entry[key] = quantize_np(np.asarray(entry[key], dtype=np.float64), t)


FLOAT32_SIGNIFICANT_BITS = 24


def _magnitude_bits(t) -> int:
    """Every value of ``t`` has magnitude below 2**this."""
    return t.integer - (1 if t.signed else 0)


def float32_rounding_reason(t_in, t_q, src: str) -> str | None:
    """Why QKeras' ``quantized_relu`` fed by values of type ``t_in`` can differ from exact rounding, or None.

    ``quantized_relu.__call__`` casts its input to float32 (24 significant bits) before rounding, even in a
    float64 model. Rounding to float32 first and then to ``t_q`` equals rounding once whenever the cast is
    the identity on every value that does not saturate: values below ``2**t_q.integer`` (larger ones
    saturate either way - the cast is monotone and ``2**integer`` is a float32) with at most 24
    significant bits. Beyond that the cast can land exactly on a rounding tie of ``t_q`` and
    half-to-even may then go the other way than for the exact value.
    """
    top = min(_magnitude_bits(t_in), t_q.integer)
    bits = top + t_in.frac
    if bits <= FLOAT32_SIGNIFICANT_BITS:
        return None
    alt = f"quantized_bits({t_q.width},{t_q.integer},keep_negative=0,alpha=1)"
    return (f"QKeras' quantized_relu rounds a float32 copy of its input, and {src!r} ({_plain(t_in)}) gives it values "
            f"with up to {bits} significant bits (float32 carries {FLOAT32_SIGNIFICANT_BITS}), so Keras can "
            f"round differently from the exact firmware; use QActivation('{alt}'), the same function without "
            "the float32 cast, or narrower quantizers before it")


def _plain(t) -> str:
    return f"{'ap_fixed' if t.signed else 'ap_ufixed'}<{t.width},{t.integer}>"


def _holds(a, b) -> bool:
    """Every value of type ``b`` is a value of type ``a``."""
    return (a.signed or not b.signed) and a.frac >= b.frac and _magnitude_bits(a) >= _magnitude_bits(b)


def _same_rounding_type(user: str, derived: str) -> bool:
    from garnet_hls.hls.common import parse_precision

    a, b = parse_precision(user, ""), parse_precision(derived, "")
    u = str(user).replace(" ", "").upper()
    rounds = ("RND_CONV" in u and "SAT" in u) or str(user).strip().startswith("quantized_")
    return (a.width, a.integer, a.signed) == (b.width, b.integer, b.signed) and rounds


def override_reason(layer, lname: str, user, derived: dict) -> str | None:
    """Why a config ``Precision`` for ``lname`` breaks bit-exactness, or None if it keeps every value exact."""
    from garnet_hls.errors import UserError
    from garnet_hls.hls.common import parse_precision
    from garnet_hls.layers.common import QuantizedGraphLayer

    try:
        if isinstance(layer, QuantizedGraphLayer):
            if not isinstance(user, dict):
                return None  # the graph kernels read only the per-point keys
            bad = []
            for key, val in user.items():
                point = "output" if key == "result" else key
                t_der = layer.types.get(point)
                t_user = parse_precision(val, f"layer {lname}")
                if t_der is None or (t_user.width, t_user.integer, t_user.signed) != \
                        (t_der.width, t_der.integer, t_der.signed):
                    bad.append(f"{key}={val} (the model rounds to {t_der if t_der else 'nothing'} there)")
            return f"Precision override {', '.join(bad)}" if bad else None
        d = (derived.get(lname) or {}).get("Precision")
        if d is None:
            return None  # a float layer: not exact anyway
        if isinstance(d, str):  # an input layer: one type
            d = {"result": d}
        # an input or a QActivation rounds to its quantizer's type: the override must be that very type;
        # a dense's weight/bias/accum/result only need to hold the exact values
        rounding = type(layer).__name__ in ("QActivation", "InputLayer")
        bad = []
        for key, val in (user.items() if isinstance(user, dict) else [(k, user) for k in d]):
            if key not in d:
                continue
            if rounding and not _same_rounding_type(val, d[key]):
                bad.append(f"{key}={val} is not the quantizer's type {d[key]}")
            elif not rounding and not _holds(parse_precision(val, f"layer {lname}"), parse_precision(d[key], "")):
                bad.append(f"{key}={val} cannot hold the exact {d[key]}")
        return f"Precision override {', '.join(bad)}" if bad else None
    except UserError:
        return f"Precision override {user!r} is not a fixed-point type"
