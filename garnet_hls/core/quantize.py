"""Exact fixed-point rounding in NumPy and TensorFlow (the types are :mod:`garnet_hls.core.fixed`).

``Q(x) = clip(round_half_to_even(x / LSB), qmin, qmax) * LSB`` — QKeras' ``quantized_bits`` with
``alpha=1``, and ap_fixed's ``AP_RND_CONV, AP_SAT``. The TensorFlow version is exact in the forward pass
(unlike ``x + stop_gradient(xq - x)``, which can be off by an ulp) and passes gradients straight through.
"""

from __future__ import annotations

import math

import numpy as np

from garnet_hls.core.fixed import FixedType

__all__ = ["code_np", "quantize_np", "values_by_code", "quantize_tf", "table_index_tf", "table_index_ops"]


def code_np(x, t: FixedType):
    """Integer code (value / LSB) after rounding half to even and saturating."""
    x = np.asarray(x, dtype=np.float64)
    if t.relu:
        x = np.maximum(x, 0.0)
    return np.clip(np.round(np.ldexp(x, t.frac)), t.code_min, t.code_max)


def quantize_np(x, t: FixedType | None):
    """Round half to even and saturate (float64); ``t`` None: no rounding."""
    if t is None:
        return np.asarray(x, dtype=np.float64)
    return np.ldexp(code_np(x, t), -t.frac)


def values_by_code(t: FixedType):
    """All representable values of ``t``, indexed by their raw (two's complement) bit pattern."""
    n = 1 << t.width
    raw = np.arange(n, dtype=np.int64)
    if t.signed:
        raw = np.where(raw >= n // 2, raw - n, raw)
    return np.ldexp(raw.astype(np.float64), -t.frac)


# ----------------------------------------------------------------------------------------------
# TensorFlow side (imported lazily so that data generation etc. do not pull TensorFlow in).
# ----------------------------------------------------------------------------------------------
def quantize_tf(x, t: FixedType | None):
    """Exact fixed-point rounding of a float64 tensor with a straight-through gradient."""
    if t is None:
        return x
    import tensorflow as tf

    if t.relu:
        x = tf.nn.relu(x)
    scale_up = math.ldexp(1.0, t.frac)
    scale_down = math.ldexp(1.0, -t.frac)
    lo, hi = float(t.code_min), float(t.code_max)

    @tf.custom_gradient
    def _q(v):
        y = tf.clip_by_value(tf.round(v * scale_up), lo, hi) * scale_down

        def grad(dy):
            return dy

        return y, grad

    return _q(x)


def table_index_tf(x, t: FixedType):
    """Raw two's complement bit pattern of an already-quantized tensor: the firmware's table index."""
    import tensorflow as tf

    code = tf.cast(tf.round(x * math.ldexp(1.0, t.frac)), tf.int64)
    return tf.math.floormod(code, 1 << t.width)


def table_index_ops(x, t: FixedType):
    """:func:`table_index_tf` in ``keras.ops`` (Keras 3, any backend): the raw bits of a quantized tensor."""
    from keras import ops

    code = ops.cast(ops.round(x * math.ldexp(1.0, t.frac)), "int64")
    return ops.mod(code, 1 << t.width)
