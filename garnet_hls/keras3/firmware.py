"""What the firmware of either backend takes from a ``garnet_hls.keras3`` layer: one fixed-point type per
quantization point, and the weights as the layer quantizes them.

Weights are constants, so any HGQ2 weight quantizer (any mode, trainable per-weight widths) is exact: the
firmware gets the quantized values and a type that holds them all. A data quantizer (input, feature,
distance, aggregate, ...) must be what the kernels do at a rounding point: one width for the whole tensor,
round half to even (``RND_CONV``) and saturation (``SAT``), no scaler/affine. Anything else is refused in one
line naming the layer and the point (:func:`point_type`).
"""

from __future__ import annotations

import numpy as np

from garnet_hls.core.fixed import FixedType, parse_spec
from garnet_hls.core.semantics import DEFAULT_QUANTIZERS
from garnet_hls.errors import UserError
from garnet_hls.keras3.quantizers import WEIGHT_POINTS, is_exact_mode

WEIGHT_NAMES = ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias")


def _kif(quantizer):
    from keras import ops

    return [np.asarray(ops.convert_to_numpy(v)).astype(np.int64) for v in quantizer.quantizer.kif]


def _type_of(k, i, f, what) -> FixedType:
    width, integer = int(k + i + f), int(k + i)
    if width < 1:
        raise UserError(f"{what}: HGQ2 gives it {width} bits; the firmware needs at least 1")
    return FixedType(width, integer, signed=bool(k))


def point_type(layer, point) -> FixedType | None:
    """The one fixed-point type of ``point`` in ``layer`` that the firmware can use (None: the layer is not
    quantized), or UserError saying why not."""
    cfg = layer.q_configs[point]
    if cfg is None:
        return None
    what = f"layer {layer.name}: {point}_quantizer"
    if point in layer.table_types and point not in ("distance", "preactivation"):
        return layer.table_types[point]  # table outputs: checked when the layer was made
    sites = [s for s, p in layer.sites().items() if p == point]
    kifs = [_kif(layer.site_quantizer(s)) for s in sites]
    if not kifs:  # a point this layer's options do not use (preactivation without tanh, ...): any type
        return parse_spec(DEFAULT_QUANTIZERS[point])
    if point in WEIGHT_POINTS:  # constants: a type that holds every quantized weight
        k, i, f = (max(int(a.max()) for a in arrs) for arrs in zip(*kifs))
        return _type_of(k, i, max(f, 1 - k - i), what)
    if cfg.get("overflow_mode") is not None and not is_exact_mode(cfg):
        raise UserError(f"{what}: round_mode={cfg.get('round_mode')}, overflow_mode={cfg.get('overflow_mode')}; "
                        "the firmware rounds half to even and saturates (give RND_CONV, SAT): not bit-exact, refused")
    if cfg.q_type not in ("kif", "kbi") or cfg.scaler is not None or cfg.affine is not None:
        raise UserError(f"{what}: the firmware needs a plain fixed-point quantizer (kif/kbi, no scaler or affine)")
    flat = {tuple(int(a.flat[0]) for a in arrs) for arrs in kifs}
    uniform = all(np.all(a == a.flat[0]) for arrs in kifs for a in arrs)
    if len(flat) != 1 or not uniform:
        raise UserError(f"{what}: per-element (or per-place) widths; the firmware has one type per "
                        "quantization point of a graph layer (per-element widths: weights only, for now)")
    k, i, f = flat.pop()
    if point in layer.table_types:  # a table index: the table was built for the config's type
        t = _type_of(k, i, f, what)
        if t != layer.table_types[point]:
            raise UserError(f"{what}: its width changed since the table was built ({t} vs {layer.table_types[point]})")
    return _type_of(k, i, f, what)


def point_types(layer) -> dict:
    """{point: FixedType or None} of every quantization point of ``layer`` (see :func:`point_type`).

    The weights are constants the firmware rounds to their point's type again: that type must hold every
    quantized weight exactly. HGQ2's kif does not always bound them (a kbi kernel with per-weight widths, WRAP
    and RND gave -1.0625 under a kif of i=0), so the weight points' types are taken from the values."""
    types = {p: point_type(layer, p) for p in layer.POINTS}
    weights = quantized_weights(layer)
    for point in WEIGHT_POINTS:
        vals = [v for qw in weights for n, v in qw.items() if n.endswith(point)]
        if types.get(point) is not None and vals:
            types[point] = holding_type(np.concatenate([np.ravel(v) for v in vals]))
    return types

def holding_type(values) -> FixedType:
    """The narrowest signed fixed-point type that holds every one of ``values`` exactly (float64 values of
    fixed-point weights)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(v)):
        raise UserError("a quantized weight is not finite")
    f = 0
    while f < 64 and np.any(np.ldexp(v, f) != np.round(np.ldexp(v, f))):
        f += 1
    if f >= 64:
        raise UserError("a quantized weight is not a fixed-point value of at most 64 fraction bits")
    integer = 1  # sign bit: [-2^(I-1), 2^(I-1) - 2^-f]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    while lo < -2.0 ** (integer - 1) or hi > 2.0 ** (integer - 1) - 2.0 ** -f:
        integer += 1
    integer = integer if integer + f >= 2 else 2 - f
    return FixedType(integer + f, integer, signed=True)



def quantized_weights(layer) -> list[dict]:
    """Per block, {S_kernel, ..., O_bias: float64 array} as the layer's weight quantizers round them."""
    from keras import ops

    out = []
    for b in range(getattr(layer, "n_blocks", 1)):
        pre = layer._prefix(b) if hasattr(layer, "_prefix") else ""
        qw = {}
        for name, v in layer.block_weights(b).items():
            q = layer.site_quantizer(f"{pre}{name}")
            x = ops.convert_to_tensor(np.asarray(v, dtype=np.float64), dtype="float64")
            qw[name] = np.asarray(ops.convert_to_numpy(q(x, training=False)), dtype=np.float64) if q else \
                np.asarray(v, dtype=np.float64)
        out.append(qw)
    return out
