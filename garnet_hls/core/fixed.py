"""Fixed-point types from QKeras quantizer specs, and exact rounding in NumPy and TensorFlow.

A quantization point of a layer takes a QKeras spec string such as ``"quantized_bits(8,0,alpha=1)"``.
:class:`FixedType` is the ap_fixed type that the spec denotes (see ``docs/quantization.md``):

* ``quantized_bits(b, i)``                 -> ``ap_fixed<b, i+1>``  (signed)
* ``quantized_bits(b, i, keep_negative=0)`` -> ``ap_ufixed<b, i>``
* ``quantized_relu(b, i)``                 -> ``ap_ufixed<b, i>``, negative inputs map to 0

Quantizing is ``Q(x) = clip(round_half_to_even(x / LSB), qmin, qmax) * LSB`` — QKeras'
``quantized_bits`` with ``alpha=1``, and ap_fixed's ``AP_RND_CONV, AP_SAT``. The TensorFlow version
is exact in the forward pass (unlike ``x + stop_gradient(xq - x)``, which can be off by an ulp) and
passes gradients straight through.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np

from garnet_hls.errors import UserError

__all__ = ["FixedType", "parse_spec", "quantize_np", "code_np", "exact_sum_type", "exact_product_type"]


@dataclass(frozen=True)
class FixedType:
    """An ap_fixed-style type: ``width`` bits, ``integer`` of them left of the point (sign included)."""

    width: int
    integer: int
    signed: bool = True
    relu: bool = False  # quantized_relu: negative inputs map to 0 before rounding

    def __post_init__(self):
        if self.width < 1 or self.width > 64:
            raise UserError(f"fixed-point width must be 1..64, got {self.width}")

    # -- numbers -------------------------------------------------------------------------------
    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return math.ldexp(1.0, -self.frac)

    @property
    def code_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def code_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min(self) -> float:
        return math.ldexp(self.code_min, -self.frac)

    @property
    def max(self) -> float:
        return math.ldexp(self.code_max, -self.frac)

    # -- names ---------------------------------------------------------------------------------
    def ap_type(self, rounding: str = "AP_RND_CONV", saturation: str = "AP_SAT") -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.width},{self.integer},{rounding},{saturation}>"

    def hls4ml_precision(self) -> str:
        """The precision string hls4ml's config understands (``fixed<...>`` / ``ufixed<...>``)."""
        base = "fixed" if self.signed else "ufixed"
        return f"{base}<{self.width},{self.integer},RND_CONV,SAT>"

    def spec(self) -> str:
        """A QKeras spec string denoting this type."""
        if self.relu:
            return f"quantized_relu({self.width},{self.integer})"
        if self.signed:
            return f"quantized_bits({self.width},{self.integer - 1},alpha=1)"
        return f"quantized_bits({self.width},{self.integer},keep_negative=0,alpha=1)"

    def __str__(self) -> str:
        return self.ap_type()

    # -- rounding ------------------------------------------------------------------------------
    def quantize(self, x):
        """Round half to even and saturate (NumPy, float64)."""
        return quantize_np(x, self)

    def codes(self):
        """All representable values, indexed by their raw (two's complement) bit pattern."""
        n = 1 << self.width
        raw = np.arange(n, dtype=np.int64)
        if self.signed:
            raw = np.where(raw >= n // 2, raw - n, raw)
        return np.ldexp(raw.astype(np.float64), -self.frac)


_SPEC_NAMES = ("quantized_bits", "quantized_relu")


def parse_spec(spec) -> FixedType | None:
    """Turn a QKeras quantizer spec (string, dict from get_config, or quantizer object) into a FixedType.

    ``None`` stays ``None`` (no rounding at that point).
    """
    if spec is None or isinstance(spec, FixedType):
        return spec
    name, params = _spec_parts(spec)
    if name not in _SPEC_NAMES:
        raise UserError(f"unsupported quantizer {name!r}: use quantized_bits(...) or quantized_relu(...)")
    bits = int(params.pop("bits", 8))
    integer = int(params.pop("integer", 0))
    alpha = params.pop("alpha", None)
    if alpha not in (None, 1, 1.0):
        raise UserError(f"quantizer {spec!r}: alpha={alpha!r} is not a fixed-point type; use alpha=1")
    if int(params.pop("symmetric", 0)):
        raise UserError(f"quantizer {spec!r}: symmetric=1 is not a fixed-point type; use symmetric=0")
    if params.pop("use_stochastic_rounding", False):
        raise UserError(f"quantizer {spec!r}: stochastic rounding cannot be bit-exact")
    params.pop("use_variables", None)
    params.pop("qnoise_factor", None)
    params.pop("var_name", None)
    params.pop("scale_axis", None)
    params.pop("use_ste", None)
    params.pop("name", None)
    if name == "quantized_relu":
        for k in ("relu_upper_bound", "negative_slope", "use_sigmoid"):
            if params.get(k) not in (None, 0, 0.0):
                raise UserError(f"quantizer {spec!r}: {k} is not supported")
            params.pop(k, None)
        if params:
            raise UserError(f"quantizer {spec!r}: unsupported arguments {sorted(params)}")
        return FixedType(bits, integer, signed=False, relu=True)
    keep_negative = int(params.pop("keep_negative", 1))
    if params:
        raise UserError(f"quantizer {spec!r}: unsupported arguments {sorted(params)}")
    if keep_negative:
        return FixedType(bits, integer + 1, signed=True)
    return FixedType(bits, integer, signed=False)


_ARG_ORDER = {
    "quantized_bits": ["bits", "integer", "symmetric", "keep_negative", "alpha", "use_stochastic_rounding"],
    "quantized_relu": ["bits", "integer", "use_sigmoid", "negative_slope", "use_stochastic_rounding"],
}


def _spec_parts(spec):
    if isinstance(spec, dict):  # Keras/QKeras serialisation: {"class_name": ..., "config": {...}}
        return spec.get("class_name"), dict(spec.get("config", {}))
    if not isinstance(spec, str):
        cfg = getattr(spec, "get_config", None)
        if cfg is None:
            raise UserError(f"cannot read quantizer {spec!r}")
        return type(spec).__name__, dict(cfg())
    try:
        node = ast.parse(spec.strip(), mode="eval").body
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise ValueError
        name = node.func.id
        order = _ARG_ORDER.get(name, [])
        params = {}
        for i, a in enumerate(node.args):
            params[order[i] if i < len(order) else f"arg{i}"] = ast.literal_eval(a)
        for kw in node.keywords:
            params[kw.arg] = ast.literal_eval(kw.value)
    except (SyntaxError, ValueError, IndexError):
        raise UserError(f"cannot parse quantizer spec {spec!r}: expected e.g. 'quantized_bits(8,0,alpha=1)'") from None
    return name, params


def code_np(x, t: FixedType):
    """Integer code (value / LSB) after rounding half to even and saturating."""
    x = np.asarray(x, dtype=np.float64)
    if t.relu:
        x = np.maximum(x, 0.0)
    return np.clip(np.round(np.ldexp(x, t.frac)), t.code_min, t.code_max)


def quantize_np(x, t: FixedType | None):
    if t is None:
        return np.asarray(x, dtype=np.float64)
    return np.ldexp(code_np(x, t), -t.frac)


def exact_product_type(a: FixedType, b: FixedType) -> FixedType:
    """The ap_fixed type that holds every product a*b exactly (what ap_fixed's operator* returns)."""
    signed = a.signed or b.signed
    return FixedType(a.width + b.width, a.integer + b.integer, signed)


def exact_sum_type(terms: list[FixedType] | FixedType, n: int = 1) -> FixedType:
    """A type that holds the sum of ``n`` values of each of ``terms`` exactly."""
    if isinstance(terms, FixedType):
        terms = [terms]
    signed = any(t.signed for t in terms)
    frac = max(t.frac for t in terms)
    # integer bits of the magnitude (without sign) of each term, then grow by log2(count)
    mags = [t.integer - (1 if t.signed else 0) for t in terms]
    total = n * len(terms)
    grow = max(0, math.ceil(math.log2(max(total, 1))))
    integer = max(mags) + grow + (1 if signed else 0)
    return FixedType(integer + frac, integer, signed)


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


def union_type(*types: FixedType) -> FixedType:
    """The smallest type holding every value of each of ``types`` exactly."""
    signed = any(t.signed for t in types)
    frac = max(t.frac for t in types)
    mag = max(t.integer - (1 if t.signed else 0) for t in types)
    integer = mag + (1 if signed else 0)
    return FixedType(integer + frac, integer, signed)


def exact_accum(terms, extra=()) -> FixedType:
    """Exact type for a sum of ``(type, count)`` terms: common LSB, enough integer bits for the worst case."""
    terms = list(terms) + [(t, 1) for t in extra]
    signed = any(t.signed for t, _ in terms)
    frac = max(t.frac for t, _ in terms)
    # worst-case magnitude, in units of 2^0
    bound = sum(n * max(abs(t.min), abs(t.max)) for t, n in terms)
    mag = max(0, int(np.ceil(np.log2(bound + 2.0 ** -frac)))) if bound > 0 else 0
    integer = mag + (1 if signed else 0)
    return FixedType(max(integer + frac, 1), integer, signed)


def product(a: FixedType, b: FixedType) -> FixedType:
    signed = a.signed or b.signed
    # an unsigned operand in a signed product needs one more bit to stay exact
    width = a.width + b.width + (1 if a.signed != b.signed else 0)
    integer = a.integer + b.integer + (1 if a.signed != b.signed else 0)
    return FixedType(width, integer, signed)


def parse_precision(value, where: str) -> FixedType:
    """A precision from the config: 'ap_fixed<16,6>', 'fixed<16,6,RND_CONV,SAT>', 'ufixed<...>' or a QKeras spec."""
    s = str(value).replace(" ", "")
    if s.startswith("quantized_"):
        return parse_spec(s)
    base = s.split("<", 1)[0]
    if base not in ("ap_fixed", "ap_ufixed", "fixed", "ufixed") or not s.endswith(">"):
        raise UserError(f"{where}: precision {value!r} is not a fixed-point type like 'ap_fixed<16,6>'")
    args = s[len(base) + 1:-1].split(",")
    try:
        width, integer = int(args[0]), int(args[1])
    except (ValueError, IndexError):
        raise UserError(f"{where}: cannot read precision {value!r}") from None
    return FixedType(width, integer, signed=base in ("ap_fixed", "fixed"))
