"""The argument checks and quantizer specs of the model builders, shared by the Keras 2 builder
(:mod:`garnet_hls.models.build`, QKeras) and the Keras 3 one (:mod:`garnet_hls.models.build_keras3`, HGQ2).
No TensorFlow here."""

from __future__ import annotations

from garnet_hls.errors import UserError


def weight_quantizer(bits):
    """The kernel/bias quantizer spec of the quantized models: ``ap_fixed<bits, 1>``."""
    return f"quantized_bits({int(bits)},0,alpha=1)"


def relu_quantizer(bits, int_bits):
    """The ReLU quantizer spec of the quantized models: ``ap_ufixed<bits, int_bits>``."""
    return f"quantized_relu({int(bits)},{int(int_bits)})"


def _check_bits(weight_bits, activation_bits, activation_int_bits):
    for name, v, lo in (("weight_bits", weight_bits, 2), ("activation_bits", activation_bits, 2)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= 32:
            raise UserError(f"{name} must be an integer in [{lo}, 32], got {v!r}")
    if isinstance(activation_int_bits, bool) or not isinstance(activation_int_bits, int) \
            or not 0 <= activation_int_bits <= activation_bits:
        raise UserError(f"activation_int_bits must be an integer in [0, activation_bits], got {activation_int_bits!r}")


def _int_tuple(name, value, n=None):
    if isinstance(value, (int,)) and not isinstance(value, bool):
        value = (value,) * (n or 1)
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be an integer or a list of integers, got {value!r}") from None
    if not out or min(out) < 1:
        raise UserError(f"{name} must be positive integers, got {value!r}")
    if n is not None and len(out) != n:
        raise UserError(f"{name} needs {n} entries (one per block), got {value!r}")
    return out
