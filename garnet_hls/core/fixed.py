"""Fixed-point types: read from QKeras quantizer specs and from type strings, and the exact types of sums
and products. Pure Python (no NumPy): the estimator reads the types of C++ code with it. The rounding
itself, in NumPy and TensorFlow, is :mod:`garnet_hls.core.quantize`.

A quantization point of a layer takes a QKeras spec string such as ``"quantized_bits(8,0,alpha=1)"``.
:class:`FixedType` is the ap_fixed type that the spec denotes (see ``docs/quantization.md``):

* ``quantized_bits(b, i)``                 -> ``ap_fixed<b, i+1>``  (signed)
* ``quantized_bits(b, i, keep_negative=0)`` -> ``ap_ufixed<b, i>``
* ``quantized_relu(b, i)``                 -> ``ap_ufixed<b, i>``, negative inputs map to 0

Quantizing is ``Q(x) = clip(round_half_to_even(x / LSB), qmin, qmax) * LSB`` — QKeras'
``quantized_bits`` with ``alpha=1``, and ap_fixed's ``AP_RND_CONV, AP_SAT``.

:func:`parse_type` reads every spelling of a type string: hls4ml's ``fixed<16,6,RND_CONV,SAT>`` /
``ufixed`` / ``int<8>`` / ``uint``, C++'s ``ap_fixed<16,6,AP_RND_CONV,AP_SAT>`` / ``ap_ufixed`` / ``ap_int``
/ ``ap_uint`` (also as ``nnet::...``), our kernels' ``garnet_hls::fixed_code<W,I,S>`` and ``bool``.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import NamedTuple

from garnet_hls.errors import UserError

__all__ = ["FixedType", "MAX_WIDTH", "MODEL_MAX_WIDTH", "parse_spec", "parse_type", "split_type", "parse_precision",
           "exact_product_type", "exact_sum_type", "union_type"]

MAX_WIDTH = 1024  # AP_INT_MAX_W of the ap_types headers: the widest type a C++ type string can name
# The widest type of a model's quantization point or of an exact intermediate (sum, product) of it: the
# kernels compute in 64-bit integer codes. Only the estimator reads wider types (from C++ code).
MODEL_MAX_WIDTH = 64


@dataclass(frozen=True)
class FixedType:
    """An ap_fixed-style type: ``width`` bits, ``integer`` of them left of the point (sign included)."""

    width: int
    integer: int
    signed: bool = True
    relu: bool = False  # quantized_relu: negative inputs map to 0 before rounding

    def __post_init__(self):
        if self.width < 1 or self.width > MAX_WIDTH:
            raise UserError(f"fixed-point width must be 1..{MAX_WIDTH}, got {self.width}")

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


def _check_model_width(width: int):
    if width < 1 or width > MODEL_MAX_WIDTH:
        raise UserError(f"fixed-point width must be 1..{MODEL_MAX_WIDTH}, got {width}")


def _model_type(width: int, integer: int, signed: bool) -> FixedType:
    _check_model_width(width)
    return FixedType(width, integer, signed)


# ----------------------------------------------------------------------------------------------
# QKeras quantizer specs
# ----------------------------------------------------------------------------------------------
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
    _check_model_width(bits)
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


# ----------------------------------------------------------------------------------------------
# Type strings
# ----------------------------------------------------------------------------------------------
_TYPE_RE = re.compile(r"(nnet::|garnet_hls::)?(ap_)?(u?fixed|u?int|fixed_code)<([^<>]*)>")


class TypeName(NamedTuple):
    """A type string taken apart (see :func:`split_type`)."""

    kind: str  # "fixed", "ufixed", "int", "uint", "fixed_code" or "bool"
    args: tuple  # the arguments as written, without whitespace: ("16", "6", "RND_CONV", "SAT")
    hls4ml: bool  # an hls4ml precision string: (ap_)fixed / ufixed / int / uint without a C++ namespace


def split_type(text) -> TypeName | None:
    """The kind and arguments of a type string (whitespace ignored); None if it is not a type string."""
    if not isinstance(text, str):
        return None
    s = "".join(text.split())
    if s == "bool":
        return TypeName("bool", (), False)
    m = _TYPE_RE.fullmatch(s)
    if not m:
        return None
    namespace, ap, kind, args = m.groups()
    if kind == "fixed_code" and (ap or namespace == "nnet::"):
        return None
    return TypeName(kind, tuple(args.split(",")), not namespace and kind != "fixed_code")


def parse_type(text) -> FixedType | None:
    """The FixedType of a type string (every form the module docstring lists; rounding and saturation
    arguments are read past); None if ``text`` is not one (a typedef name, ``float``, ...)."""
    p = split_type(text)
    if p is None:
        return None
    if p.kind == "bool":
        return FixedType(1, 1, False)
    try:
        width = int(p.args[0])
        if p.kind in ("int", "uint"):
            return FixedType(width, width, p.kind == "int")
        integer = int(p.args[1])
        if p.kind == "fixed_code":
            return FixedType(width, integer, p.args[2] in ("true", "1"))
        return FixedType(width, integer, p.kind == "fixed")
    except (IndexError, ValueError):
        return None


def parse_precision(value, where: str) -> FixedType:
    """A precision from the config: 'ap_fixed<16,6>', 'fixed<16,6,RND_CONV,SAT>', 'ufixed<...>' or a QKeras spec."""
    s = str(value).replace(" ", "")
    if s.startswith("quantized_"):
        return parse_spec(s)
    p = split_type(s)
    if p is None or not p.hls4ml or p.kind not in ("fixed", "ufixed"):
        raise UserError(f"{where}: precision {value!r} is not a fixed-point type like 'ap_fixed<16,6>'")
    try:
        width = int(p.args[0])
        int(p.args[1])
    except (ValueError, IndexError):
        raise UserError(f"{where}: cannot read precision {value!r}") from None
    _check_model_width(width)
    return parse_type(s)


# ----------------------------------------------------------------------------------------------
# Exact types of arithmetic (at most MODEL_MAX_WIDTH bits: a UserError beyond)
# ----------------------------------------------------------------------------------------------
def exact_product_type(a: FixedType, b: FixedType) -> FixedType:
    """The type that holds every product a*b exactly."""
    signed = a.signed or b.signed
    # an unsigned operand in a signed product needs one more bit to stay exact
    width = a.width + b.width + (1 if a.signed != b.signed else 0)
    integer = a.integer + b.integer + (1 if a.signed != b.signed else 0)
    return _model_type(width, integer, signed)


def exact_sum_type(terms) -> FixedType:
    """Exact type for a sum of ``(type, count)`` terms: common LSB, enough integer bits for the worst case."""
    terms = list(terms)
    signed = any(t.signed for t, _ in terms)
    frac = max(t.frac for t, _ in terms)
    # worst-case magnitude, in units of 2^0
    bound = sum(n * max(abs(t.min), abs(t.max)) for t, n in terms)
    mag = max(0, math.ceil(math.log2(bound + 2.0 ** -frac))) if bound > 0 else 0
    integer = mag + (1 if signed else 0)
    return _model_type(max(integer + frac, 1), integer, signed)


def union_type(*types: FixedType) -> FixedType:
    """The smallest type holding every value of each of ``types`` exactly."""
    signed = any(t.signed for t in types)
    frac = max(t.frac for t in types)
    mag = max(t.integer - (1 if t.signed else 0) for t in types)
    integer = mag + (1 if signed else 0)
    return _model_type(integer + frac, integer, signed)
