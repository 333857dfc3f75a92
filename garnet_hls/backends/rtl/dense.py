"""QDense and QActivation as da4ml traces (the model's dense head).

``QDense``: ``x Q_k(W) + Q_b(b)``, exact (the Keras model computes it exactly in float64); da4ml makes
the constant-matrix product an adder graph. ``QActivation``: round half to even and saturate to the
quantizer's type (``quantized_relu`` maps negative values to 0 first), as QKeras does.

Two things the float64 Keras model itself does not compute exactly, and which the trace (exact) therefore
cannot match on every input; they are labelled not bit-exact, with the reason in the HLS converter's words
(``garnet_hls.core.exactness``): a ``quantized_relu`` fed by values with more than 24 significant bits (QKeras
rounds a float32 copy of its input), and a QDense whose sum needs more than the 53 bits of a float64.
"""

from __future__ import annotations

import math

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.core import exactness as why
from garnet_hls.core.fixed import parse_spec
from garnet_hls.backends.rtl import common as C


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


def _bound_and_step(v) -> tuple[float, float] | None:
    """(max |value|, step) of a variable or constant; None for the constant 0."""
    from da4ml.trace import FixedVariable

    if isinstance(v, FixedVariable) and v.low != v.high:
        return max(abs(float(v.low)), abs(float(v.high))), float(v.step)
    c = float(v.low if isinstance(v, FixedVariable) else v)
    if c == 0.0:
        return None
    m, e = math.frexp(c)
    n = int(abs(m) * (1 << 53))
    return abs(c), math.ldexp(n & -n, e - 53)  # the constant's lowest set bit


def dense_reason(layer, x) -> str | None:
    """Why Keras' float64 sum of this QDense can be inexact (a partial sum beyond 53 bits), or None.

    Every term and partial sum is a multiple of (finest input step) x (kernel LSB) (and of the bias LSB),
    and at most sum_i max|x_i| |w_ij| + |b_j| in magnitude; float64 holds it exactly within 53 bits.
    """
    tk, tb = _spec(layer, "kernel_quantizer"), _spec(layer, "bias_quantizer")
    kernel = np.abs(C.weights(layer.kernel.numpy(), tk))
    bias = np.abs(C.weights(layer.bias.numpy(), tb)) if layer.use_bias else np.zeros(kernel.shape[1])
    rows = np.asarray(x._vars, dtype=object).reshape(-1, kernel.shape[0])
    worst = 0
    for row in rows:
        bs = [_bound_and_step(v) for v in row]
        steps = [b[1] for b in bs if b]
        if not steps:
            continue
        step = min(steps) * float(tk.lsb)
        if layer.use_bias:
            step = min(step, float(tb.lsb))
        mag = np.array([b[0] if b else 0.0 for b in bs])
        total = float(np.max(mag @ kernel + bias))
        if total > 0:
            worst = max(worst, math.ceil(math.log2(total / step + 1)))
    return why.float64_sum_reason(worst)


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
    if t.relu:  # QKeras rounds a float32 copy: for a constant the trace can do the same
        x = _float32_constants(x)
    return C.quantize(x, t)


def _float32_constants(x):
    from da4ml.trace import FixedVariable

    trace = C.da()
    vals = np.asarray(x._vars, dtype=object).copy()
    for idx, v in np.ndenumerate(vals):
        if not isinstance(v, FixedVariable):
            vals[idx] = float(np.float32(v))
        elif v.low == v.high:
            vals[idx] = float(np.float32(float(v.low)))
    return trace.FixedVariableArray(vals, hwconf=x.hwconf)


def activation_reason(layer, x, src: str) -> str | None:
    """Why QKeras' ``quantized_relu`` can round this input differently from the exact trace, or None.

    ``quantized_relu`` casts its input to float32 (24 significant bits) before it rounds, even in a float64
    model. Values at or above ``2**integer`` saturate either way (the cast is monotone and ``2**integer`` is a
    float32), values <= 0 become 0 either way; a value in between with more than 24 significant bits can be
    cast onto a rounding tie. The significant bits come from each input wire's range and step.
    """
    spec = layer.get_config().get("activation")
    try:
        t = parse_spec(spec)
    except UserError:
        return None
    if t is None or not t.relu:
        return None
    bits = 0
    for v in np.ravel(np.asarray(x._vars, dtype=object)):
        b = _bound_and_step(v)
        if b is None or float(v.high) <= 0:
            continue
        top = min(float(v.high), 2.0 ** t.integer)
        bits = max(bits, int(math.floor(top / b[1])).bit_length())
    return why.float32_rounding_reason(src, bits, t)
