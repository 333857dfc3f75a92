"""Why a converted model cannot be bit-exact: every reason, in one wording for both backends.

The HLS backend (``garnet_hls.models.exactness.derive_precisions``) and the RTL trace
(``garnet_hls.backends.rtl``) each decide *whether* a layer is exact in their own way (from the layer's
types, or from the ranges of the traced wires); the text the user reads comes from here. A function that
also takes the number that decides (significant bits, a width) returns None when that number is fine.
"""

from __future__ import annotations

FLOAT32_SIGNIFICANT_BITS = 24  # QKeras' quantized_relu rounds a float32 copy of its input
FLOAT64_SIGNIFICANT_BITS = 53  # the Keras model computes in float64

# a float layer of each kind: what makes it inexact and what to use instead
_FLOAT_LAYERS = {
    "graph layer": "float graph layer (quantized=False): it does not round where the firmware does",
    "Dense": "float Dense: its weights are not quantized (use QDense with kernel/bias quantizers)",
    "Activation": "float Activation: it does not round (use QActivation)",
}
_FLOAT_WEIGHTS = {"kernel": "weights", "bias": "biases"}


def _plain(t) -> str:
    return f"{'ap_fixed' if t.signed else 'ap_ufixed'}<{t.width},{t.integer}>"


def float_layer_reason(kind: str) -> str:
    """A layer that computes in float: ``kind`` is "graph layer", "Dense" or "Activation"."""
    return _FLOAT_LAYERS[kind]


def missing_quantizer_reason(which: str) -> str:
    """A QDense without its ``which`` ("kernel" or "bias") quantizer."""
    return f"QDense without {which}_quantizer: its {_FLOAT_WEIGHTS[which]} are floats"


def dense_activation_reason(activation) -> str:
    """A QDense with an activation other than a quantizer or linear."""
    return f"QDense activation {activation!r} is not bit-exact; use activation=None and a separate QActivation"


def float_input_reason(src: str) -> str:
    """A layer fed by a value that is not fixed point (where the float value does not come from a layer that
    is already reported)."""
    return f"its input {src!r} is not a fixed-point value"


def float32_rounding_reason(src: str, bits: int, t_q, t_in=None) -> str | None:
    """QKeras' ``quantized_relu`` (type ``t_q``) fed by ``src`` with values of up to ``bits`` significant bits
    (of type ``t_in`` when it is known); None when float32 holds them.

    ``quantized_relu.__call__`` casts its input to float32 (24 significant bits) before rounding, even in a
    float64 model; beyond that the cast can land exactly on a rounding tie of ``t_q`` and half-to-even may
    then go the other way than for the exact value.
    """
    if bits <= FLOAT32_SIGNIFICANT_BITS:
        return None
    alt = f"quantized_bits({t_q.width},{t_q.integer},keep_negative=0,alpha=1)"
    typed = f" ({_plain(t_in)})" if t_in is not None else ""
    return (f"QKeras' quantized_relu rounds a float32 copy of its input, and {src!r}{typed} gives it values with up "
            f"to {bits} significant bits (float32 carries {FLOAT32_SIGNIFICANT_BITS}), so Keras can round "
            f"differently from the exact firmware; use QActivation('{alt}'), the same function without the float32 "
            "cast, or narrower quantizers before it")


def float64_sum_reason(bits: int, t=None) -> str | None:
    """A QDense whose exact sum needs ``bits`` significant bits (its exact type ``t`` when known); None when
    float64 holds them."""
    if bits <= FLOAT64_SIGNIFICANT_BITS:
        return None
    typed = f" ({t})" if t is not None else ""
    return (f"its exact sum needs up to {bits} significant bits{typed}; Keras computes it in float64, which carries "
            f"{FLOAT64_SIGNIFICANT_BITS}, so Keras rounds where the exact firmware does not: use narrower quantizers")


def emulator_width_reason(width: int, emulator_bits: int) -> str | None:
    """A traced intermediate of ``width`` bits against an emulator computing in ``emulator_bits``-bit integers."""
    if width <= emulator_bits:
        return None
    return (f"the traced logic has a {width}-bit intermediate; da4ml's emulator (csim/compare) computes in "
            f"{emulator_bits}-bit integers and float64 Keras carries {FLOAT64_SIGNIFICANT_BITS} bits: use narrower "
            "quantizers")
