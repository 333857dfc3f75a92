"""Quantization points of the Keras 3 layers: HGQ2 quantizer configs, and the fixed-point type they denote.

A point (``<point>_quantizer`` of docs/quantization.md) takes an HGQ2 ``QuantizerConfig`` (or its keyword
arguments as a dict, or its serialized form), or, for convenience, a QKeras spec string / ``FixedType``:
``"quantized_bits(b,i)"`` becomes the fixed HGQ2 quantizer ``kif`` with k=1, i=i, f=b-1-i, rounding
``RND_CONV`` and overflow ``SAT`` — the rounding of the Keras 2 layers and of the firmware.

HGQ2's KIF parametrisation: values in ``[-k 2^i, 2^i - 2^-f]``, width ``k+i+f``, i.e. ``FixedType(k+i+f, k+i,
signed=k)``; KBI: width ``k+b``, integer bits ``k+i``.
"""

from __future__ import annotations

import numbers

import keras
from hgq.quantizer import Quantizer, QuantizerConfig

from garnet_hls.core.fixed import FixedType, parse_spec
from garnet_hls.errors import UserError

# what the firmware does at a rounding point (ap_fixed AP_RND_CONV, AP_SAT)
EXACT_ROUND, EXACT_OVERFLOW = "RND_CONV", "SAT"
WEIGHT_POINTS = ("kernel", "bias")


def quantizer_config(spec, point: str = "", trainable: bool = False) -> QuantizerConfig:
    """The HGQ2 QuantizerConfig of a point's spec (see the module docstring).

    A spec string / FixedType gives a fixed quantizer (one width for the whole tensor) unless ``trainable``:
    then the widths start there and train per element (per weight for kernel/bias; per vertex and feature,
    shared over the batch, for data)."""
    if isinstance(spec, QuantizerConfig):
        return spec
    if isinstance(spec, dict):
        if "class_name" in spec:
            return keras.saving.deserialize_keras_object(spec)
        return QuantizerConfig(**spec)
    t = spec if isinstance(spec, FixedType) else parse_spec(spec)
    k = 1 if t.signed else 0
    place = "weight" if point in WEIGHT_POINTS else "datalane"
    kw = dict(k0=k, i0=t.integer - k, f0=t.frac, round_mode=EXACT_ROUND, overflow_mode=EXACT_OVERFLOW)
    if trainable:
        kw.update(homogeneous_axis=() if place == "weight" else (0,), trainable=True)
    else:
        kw.update(homogeneous_axis=None, heterogeneous_axis=(), trainable=False, ir=None, fr=None)
    return QuantizerConfig("kif", place, **kw)


def make_quantizer(config: QuantizerConfig, name: str, shape) -> Quantizer:
    """An HGQ2 Quantizer computing in float64 (the layers' exact arithmetic), built for ``shape``."""
    q = Quantizer(config, dtype="float64", name=name)
    q.quantizer.dtype_policy = "float64"  # its k, i, f variables: a float32 width against float64 data fails
    q.build(tuple(shape))
    for v in q.weights:  # HGQ2's width regularisers on float64 widths: the model's float32 loss sums them
        if v.regularizer is not None and not isinstance(v.regularizer, _Float32Loss):
            v.regularizer = _Float32Loss(v.regularizer)
    return q


class _Float32Loss:
    """A regulariser whose loss is cast to float32 (Keras adds every loss of a model into one float32 sum)."""

    def __init__(self, regularizer):
        self.regularizer = regularizer

    def __call__(self, x):
        return keras.ops.cast(self.regularizer(x), "float32")


def is_exact_mode(config: QuantizerConfig) -> bool:
    return (config.get("round_mode", "").upper() == EXACT_ROUND
            and config.get("overflow_mode", "").upper() == EXACT_OVERFLOW)


def config_fixed_type(config: QuantizerConfig, what: str) -> FixedType:
    """The single fixed-point type of a fixed (non-trainable, scalar-width) config: lookup tables need one.

    Raises UserError naming ``what`` when the config cannot give one."""
    if config.q_type not in ("kif", "kbi"):
        raise UserError(f"{what}: needs a fixed-point HGQ2 quantizer (q_type 'kif' or 'kbi'), got {config.q_type!r}")
    if config.scaler is not None or config.affine is not None:
        raise UserError(f"{what}: a lookup table needs a plain fixed-point type: no scaler or affine")
    if config.get("trainable", True):
        raise UserError(f"{what}: a lookup table is indexed by or holds this type, so its width must be fixed: "
                        "give a QuantizerConfig with trainable=False")
    hetero = config.get("heterogeneous_axis")
    if config.get("bw_mapper") is not None or hetero is None or tuple(hetero) != ():
        raise UserError(f"{what}: a lookup table needs one width for the whole tensor: give "
                        "homogeneous_axis=None, heterogeneous_axis=()")
    names = ("k0", "i0", "f0") if config.q_type == "kif" else ("k0", "b0", "i0")
    vals = [config.get(n) for n in names]
    if not all(isinstance(v, (numbers.Number, bool)) for v in vals):
        raise UserError(f"{what}: a lookup table needs numeric {', '.join(names)}, got {vals}")
    if config.q_type == "kif":
        k, i, f = (int(v) for v in vals)
        width, integer = k + i + f, k + i
    else:
        k, b, i = (int(v) for v in vals)
        width, integer = k + b, k + i
    if width < 1:
        raise UserError(f"{what}: width k+i+f = {width} bits; a table needs at least 1")
    return FixedType(width, integer, signed=bool(k))
