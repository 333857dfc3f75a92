"""Lookup tables shared by the Keras layers and the firmware.

Each table is computed here once, in float64, and quantized to its output type. The Keras layers
gather from these arrays; the firmware generator writes the very same numbers into a C++ header as
constants (``garnet_hls.hls.writer``). So C simulation, synthesis and Keras read the same values.

A table is indexed by the raw two's complement bit pattern of its (quantized) input, which is what
``x.range()`` gives in ap_fixed: no arithmetic is needed to form the index in hardware.
"""

from __future__ import annotations

import numpy as np

from garnet_hls.quant import FixedType, quantize_np

MAX_TABLE_BITS = 18


def _check(t: FixedType, what: str):
    from garnet_hls.errors import UserError

    if t.width > MAX_TABLE_BITS:
        raise UserError(
            f"{what} type {t} is {t.width} bits wide: a lookup table indexed by it would have 2^{t.width} "
            f"entries (at most {MAX_TABLE_BITS} bits supported)"
        )


def exp_neg_square_table(index_t: FixedType, out_t: FixedType) -> np.ndarray:
    """GarNet edge weight: ``Q_out(exp(-d^2))`` for every value ``d`` of ``index_t``."""
    _check(index_t, "distance")
    d = index_t.codes()
    return quantize_np(np.exp(-d * d), out_t)


def exp_neg_scaled_table(index_t: FixedType, out_t: FixedType, scale: float) -> np.ndarray:
    """GravNet edge weight: ``Q_out(exp(-scale * d))`` for every value ``d`` of ``index_t``."""
    _check(index_t, "distance")
    d = index_t.codes()
    return quantize_np(np.exp(-float(scale) * d), out_t)


def tanh_table(index_t: FixedType, out_t: FixedType) -> np.ndarray:
    """``Q_out(tanh(x))`` for every value ``x`` of ``index_t``."""
    _check(index_t, "pre-activation")
    return quantize_np(np.tanh(index_t.codes()), out_t)


def reciprocal_table(n_max: int, out_t: FixedType) -> np.ndarray:
    """``Q_out(1/n)`` for n = 0..n_max, with the entry for n = 0 set to 0 (a mean over nothing is 0)."""
    n = np.arange(n_max + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        r = np.where(n > 0, 1.0 / np.maximum(n, 1.0), 0.0)
    return quantize_np(r, out_t)
