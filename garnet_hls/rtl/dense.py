"""QDense and QActivation as da4ml traces (the model's dense head).

``QDense``: ``x Q_k(W) + Q_b(b)``, exact (the Keras model computes it exactly in float64); da4ml makes
the constant-matrix product an adder graph. ``QActivation``: round half to even and saturate to the
quantizer's type (``quantized_relu`` maps negative values to 0 first), as QKeras does.
"""

from __future__ import annotations

from garnet_hls.errors import UserError
from garnet_hls.quant import parse_spec
from garnet_hls.rtl import common as C


def _spec(layer, key):
    spec = layer.get_config().get(key)
    if spec is None:
        return None
    return parse_spec(spec)


def trace_dense(layer, x):
    act = layer.get_config().get("activation", "linear")
    if act not in ("linear", None):
        raise UserError(f"layer {layer.name}: QDense with activation {act!r} is not supported by the RTL backend; "
                        f"use a separate QActivation")
    tk, tb = _spec(layer, "kernel_quantizer"), _spec(layer, "bias_quantizer")
    if tk is None or (layer.use_bias and tb is None):
        raise UserError(f"layer {layer.name}: the RTL backend needs kernel and bias quantizers on QDense")
    kernel = C.weights(layer.kernel.numpy(), tk)
    bias = C.weights(layer.bias.numpy(), tb) if layer.use_bias else 0.0 * kernel[0]
    return C.dense(x, kernel, bias)


def trace_activation(layer, x):
    spec = layer.get_config().get("activation")
    if isinstance(spec, str) and spec in ("linear",):
        return x
    try:
        t = parse_spec(spec)
    except UserError as e:
        raise UserError(f"layer {layer.name}: {e}") from None
    if t is None:
        return x
    return C.quantize(x, t)
