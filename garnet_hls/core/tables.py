"""Lookup tables shared by the Keras layers and the firmware.

Each table is computed here once, in float64, and quantized to its output type. The Keras layers
gather from these arrays; the firmware generator writes the very same numbers into a C++ header as
constants (``garnet_hls.backends.hls.writer``). So C simulation, synthesis and Keras read the same values.

A table is indexed by the raw two's complement bit pattern of its (quantized) input, which is what
``x.range()`` gives in ap_fixed: no arithmetic is needed to form the index in hardware.
"""

from __future__ import annotations

import numpy as np

from garnet_hls.core.fixed import FixedType
from garnet_hls.core.quantize import quantize_np, values_by_code

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
    d = values_by_code(index_t)
    return quantize_np(np.exp(-d * d), out_t)


def exp_neg_scaled_table(index_t: FixedType, out_t: FixedType, scale: float) -> np.ndarray:
    """GravNet edge weight: ``Q_out(exp(-scale * d))`` for every value ``d`` of ``index_t``."""
    _check(index_t, "distance")
    d = values_by_code(index_t)
    return quantize_np(np.exp(-float(scale) * d), out_t)


def tanh_table(index_t: FixedType, out_t: FixedType) -> np.ndarray:
    """``Q_out(tanh(x))`` for every value ``x`` of ``index_t``."""
    _check(index_t, "pre-activation")
    return quantize_np(np.tanh(values_by_code(index_t)), out_t)


def reciprocal_table(n_max: int, out_t: FixedType) -> np.ndarray:
    """``Q_out(1/n)`` for n = 0..n_max, with the entry for n = 0 set to 0 (a mean over nothing is 0)."""
    n = np.arange(n_max + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        r = np.where(n > 0, 1.0 / np.maximum(n, 1.0), 0.0)
    return quantize_np(r, out_t)


# ------------------------------------------------------------------------------------------------
# Compact tables for the firmware (docs/estimate.md, "Tables per lane")
# ------------------------------------------------------------------------------------------------

# How the firmware indexes a compact table (the config's <name>_fold; firmware/fixed_codes.h, fold_index):
FOLD_NONE = 0  # table[raw bits of the code]: the full table
FOLD_EVEN = 1  # table[min(|c|, N-1)]: f(-x) = f(x) (GarNet's exp(-d^2))
FOLD_ODD = 2  # sign(c) * table[min(|c|, N-1)]: f(-x) = -f(x) (tanh)
FOLD_CLAMP = 3  # table[min(c, N-1)]: an unsigned index whose table ends in a constant run (GravNet's exp)

# A compact table of at most this many entries is built as logic: the firmware partitions it completely
# (one constant per entry), so every read is its own multiplexer over constants, which logic synthesis
# reduces to LUTs: each vertex lane has its own copy and no port limit. Bigger tables stay ROMs, one
# copy per two reads per clock (multi-port ROM). 1024 is also the largest array HLS partitions
# completely without a size override.
LOGIC_TABLE_MAX_ENTRIES = 1024


def expand_table(mode: int, table: np.ndarray, index_t: FixedType) -> np.ndarray:
    """The full table (indexed by raw bits) a compact table stands for."""
    n = 1 << index_t.width
    raw = np.arange(n, dtype=np.int64)
    c = np.where(raw >= n // 2, raw - n, raw) if index_t.signed else raw
    last = len(table) - 1
    if mode == FOLD_NONE:
        return table[raw]
    if mode == FOLD_CLAMP:
        return table[np.minimum(c, last)]
    mag = table[np.minimum(np.abs(c), last)]
    return np.where(c < 0, -mag, mag) if mode == FOLD_ODD else mag


def compact_table(full: np.ndarray, index_t: FixedType, symmetry: str) -> tuple[int, np.ndarray]:
    """(fold mode, compact table) of a table indexed by the raw bits of ``index_t`` codes.

    symmetry: "even", "odd" (signed index) or "clamp" (unsigned index). The compact table keeps the
    entries up to the point from which the function is constant (for |c| or c); the fold is used only
    when it reproduces every entry of the full table exactly (checked here), otherwise the full table is
    returned with FOLD_NONE. Either way the firmware reads exactly the numbers of ``full``.
    """
    full = np.asarray(full, dtype=np.float64)
    n = 1 << index_t.width
    if len(full) != n:
        return FOLD_NONE, full
    raw = np.arange(n, dtype=np.int64)
    c = np.where(raw >= n // 2, raw - n, raw) if index_t.signed else raw
    if symmetry in ("even", "odd") and index_t.signed:
        mode = FOLD_EVEN if symmetry == "even" else FOLD_ODD
        half = full[: n // 2]  # the codes 0 .. 2^(W-1) - 1, in order
    elif symmetry == "clamp" and not index_t.signed:
        mode = FOLD_CLAMP
        half = full
    else:
        return FOLD_NONE, full
    # keep up to the first entry from which the rest of `half` is constant
    tail = len(half) - 1
    while tail > 0 and half[tail - 1] == half[-1]:
        tail -= 1
    table = half[: tail + 1].copy()
    del c
    if not np.array_equal(expand_table(mode, table, index_t), full):
        return FOLD_NONE, full
    return mode, table


def table_is_logic(depth: int) -> bool:
    """Is a compact table of `depth` entries built as logic (else a replicated ROM)?"""
    return depth <= LOGIC_TABLE_MAX_ENTRIES
