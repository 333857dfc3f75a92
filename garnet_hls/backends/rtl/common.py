"""What every RTL trace shares: fixed-point types, rounding, tables and nvtx masking on da4ml variables.

The traces work on da4ml ``FixedVariableArray`` objects: symbolic fixed-point values whose every
operation (addition, constant-matrix product, variable product, comparison, table lookup, mux) becomes
a piece of logic. A trace here does exactly what the Keras layer does in float64 (``docs/quantization.md``):
sums and products are exact, and values are rounded only at the layer's quantization points, with
round-half-to-even and saturation (``AP_RND_CONV, AP_SAT``).

da4ml rounds only by truncation or half-up; :func:`quantize` builds round-half-to-even from them:
``round_even(x) = trunc(x + LSB/2 - ulp + ulp * lsb_bit(x))``, where ``ulp`` is the finest step of ``x``
and ``lsb_bit(x)`` is the bit of ``x`` with the weight of the target LSB. A tie (remainder exactly LSB/2)
then rounds up only when that bit is 1, i.e. to the even neighbour; every other remainder rounds to the
nearest. Saturation is decided on the unrounded value in parallel, so a quantization point is two adder
delays deep.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.core.exactness import float_layer_reason
from garnet_hls.core.fixed import FixedType
from garnet_hls.core.quantize import quantize_np, values_by_code

# A trace imports da4ml lazily: `garnet-hls` without the RTL backend never needs it.


def da():
    try:
        import da4ml.trace as trace  # noqa: F401
    except ImportError:  # pragma: no cover - da4ml is a dependency of the package
        raise UserError("the RTL backend needs da4ml: pip install da4ml") from None
    return trace


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without sign, fraction bits) of a FixedType."""
    return (1, t.integer - 1, t.frac) if t.signed else (0, t.integer, t.frac)


def input_array(shape, t: FixedType, hwconf):
    """A trace input of ``shape`` whose every element takes every value of type ``t``."""
    trace = da()
    k, i, f = kif(t)
    return trace.FixedVariableArray.from_kif(np.full(shape, k), np.full(shape, i), np.full(shape, f), hwconf=hwconf)


def integer_input(shape, n_max: int, hwconf):
    """A trace input of unsigned integers 0..n_max (nvtx)."""
    trace = da()
    return trace.FixedVariableArray.from_lhs(np.zeros(shape), np.full(shape, float(n_max)), np.ones(shape),
                                             hwconf=hwconf)


def _step(v) -> float:
    return float(v.step)


def _quantize_var(v, t: FixedType):
    """Round one da4ml variable (or Python number) half to even and saturate it to ``t``.

    Two adder delays deep: the rounding is one addition (:func:`_round_half_even`) while the saturation
    flags compare the unrounded value with constants (``Q(x) > max`` iff ``x >= max + LSB/2``, because
    the all-ones code of ``max`` is odd and a tie there rounds up; ``Q(x) < min`` iff ``x < min - LSB/2``,
    because ``min``'s code is even); one mux then picks the rounded value or the saturation constant.
    """
    from da4ml.trace import FixedVariable

    if not isinstance(v, FixedVariable):
        return float(quantize_np(float(v), t))
    if t.relu:
        v = v.relu() if v.low < 0 else v
    if v.low == v.high:
        return float(quantize_np(float(v.low), t))
    k, i, f = kif(t)
    lsb, lo, hi = float(t.lsb), float(t.min), float(t.max)
    if k and float(v.low) >= 0:
        # a value that is never negative stays non-negative in a signed type: wrap it into the type's
        # non-negative half (the same bits, without the sign), so the result's interval says so too.
        # Otherwise the saturating mux below spans [min, max] of the type, and whatever reads the value
        # (a table, a sort key) must cover negative values it never sees.
        k, lo = 0, 0.0
    r = v
    if v.step < t.lsb:
        # da4ml keeps a power-of-two factor on a wire (a shift costs nothing); round on the unscaled
        # wire, where the factor is 1 (rounding half to even is symmetric, so a negative factor is fine)
        fac = float(v._factor)
        u = v * (1.0 / fac) if fac != 1.0 else v
        u = _round_half_even(u, lsb / abs(fac))
        r = u * fac if fac != 1.0 else u
    can_over = float(v.high) >= hi + lsb / 2
    can_under = float(v.low) < lo - lsb / 2
    if not can_over and not can_under:
        return r.quantize(k, i, f, "WRAP", "TRN")  # in range: exact
    if can_under and lo == 0.0:  # unsigned: below zero saturates to 0, which is a ReLU
        r, can_under = r.relu(), False
        if not can_over:
            return r.quantize(k, i, f, "WRAP", "TRN")
    y = pos(r.quantize(k, i, f, "WRAP", "TRN"))
    over = _at_least(v, hi + lsb / 2) if can_over else None
    under = ~_at_least(v, lo - lsb / 2) if can_under else None
    if over is not None and under is not None:
        return mux(over | under, mux(under, lo, hi), y)
    if over is not None:
        return mux(over, hi, y)
    return mux(under, lo, y)


def _at_least(v, c: float):
    """A 0/1 variable: 1 when ``v >= c`` (a constant comparison: no adder delay in da4ml's model).

    Compared on the unscaled wire ``u = v / factor`` (da4ml 0.6 read wrong sign bits of wires that carry a
    power-of-two factor), against a threshold halfway between two of its grid points, so the difference
    is never zero and its sign bit alone decides.
    """
    fac = float(v._factor)
    u = v * (1.0 / fac) if fac != 1.0 else v
    step = float(u.step)
    t = c / fac  # v >= c  <=>  u >= t (fac > 0)  or  u <= t (fac < 0)
    if fac > 0:
        mid = math.ceil(t / step) * step - step / 2  # u >= t  <=>  u > mid
        return ~(u - mid).is_negative()
    mid = math.floor(t / step) * step + step / 2  # u <= t  <=>  u < mid
    return (u - mid).is_negative()


def _round_half_even(u, grid: float):
    """u (factor 1) rounded half to even onto multiples of ``grid`` (a power of two), in one addition.

    With ``ulp`` the step of ``u`` and ``bit`` the bit of ``u`` with weight ``grid``:
    ``round_even(u) = trunc(u + grid/2 - ulp + bit * ulp)``. A remainder below ``grid/2`` stays below
    ``grid``, one above it reaches ``grid``, and a tie (remainder exactly ``grid/2``) reaches it only when
    ``bit`` is 1, i.e. rounds to the even neighbour. (``+ grid/2 - ulp`` is a constant; only the 1-bit
    ``bit * ulp`` needs an adder.)
    """
    fg = -int(math.log2(grid))
    ulp = float(u.step)
    bit = u.quantize(0, -fg + 1, fg, "WRAP", "TRN")  # the bit of weight `grid`: 0 or grid
    u = (u + bit * (ulp / grid)) + (grid / 2 - ulp)
    uk, ui, _ = u.kif
    # exact truncation onto the grid. The integer bits must hold the grid step itself: a range inside
    # (-grid, grid) (a value smaller than one output LSB) truncates to -grid or 0, and with fewer integer
    # bits than log2(grid) da4ml's WRAP folds -grid onto 0
    return u.quantize(uk, max(int(ui), -fg), fg, "WRAP", "TRN")


def quantize(x, t: FixedType | None):
    """Keras' ``Q(x)`` (round half to even, saturate) of every element of a FixedVariableArray."""
    if t is None:
        return x
    trace = da()
    flat = np.asarray(x._vars if isinstance(x, trace.FixedVariableArray) else x, dtype=object)
    out = np.empty(flat.shape, dtype=object)
    for idx, v in np.ndenumerate(flat):
        out[idx] = _quantize_var(v, t)
    return tag(trace.FixedVariableArray(out, hwconf=_hwconf_of(x)), "quantization")


def _hwconf_of(x):
    trace = da()
    if isinstance(x, trace.FixedVariableArray):
        return x.hwconf
    for v in np.ravel(np.asarray(x, dtype=object)):
        if isinstance(v, trace.FixedVariable):
            return v.hwconf
    raise ValueError("no variable to take the hardware configuration from")


def cmul(v, c: float):
    """``v * c`` for a constant ``c`` on the quantization grid: a sum of shifted copies of ``v``.

    The canonical signed digits of ``c`` give the shifts. (da4ml's own constant product re-wraps the
    partial sums, which came out wrong here for some negative-scaled inputs.)
    """
    from da4ml.trace import FixedVariable

    c = float(c)
    if not isinstance(v, FixedVariable) or c == 0.0 or v.low == v.high:
        return (float(v.low) if isinstance(v, FixedVariable) else float(v)) * c
    m, e = math.frexp(c)  # c = m * 2^e, 0.5 <= |m| < 1
    n = int(m * (1 << 53))
    shift = e - 53
    while n % 2 == 0:
        n //= 2
        shift += 1
    digits = []
    pos = 0
    while n != 0:  # non-adjacent form
        if n & 1:
            d = 2 - (n & 3)
            n -= d
            digits.append((d, pos))
        n >>= 1
        pos += 1
    out = None
    for d, p in digits:
        term = v * (d * 2.0 ** (p + shift))
        out = term if out is None else out + term
    return out


def cmul_array(x, c: float):
    trace = da()
    flat = np.asarray(x._vars, dtype=object)
    out = np.empty(flat.shape, dtype=object)
    for idx, v in np.ndenumerate(flat):
        out[idx] = cmul(v, c)
    return tag(trace.FixedVariableArray(out, hwconf=x.hwconf), "constant matrices")


# A variable x variable product is one DSP48E2 (signed 27 x 18 multiplier) when its operands fit, else a
# cascade of them. da4ml prices every product as a shift-and-add chain (one adder delay per operand bit);
# the RTL writes ``a * b``, which synthesis maps onto DSP slices, so the pipeline is scheduled for that:
# the product's operands are registered at a stage boundary and the product fills whole stages
# (DSP_STAGES for one slice, one more for a cascade); a constant added to it in the same stage (da4ml's
# delay model prices a constant add at 0) is the slice's post-adder, P = A*B + C. At 200 MHz one stage is 5 ns, against ~2.5-3.5 ns
# through an UltraScale+ DSP48E2 without its M register; this is a design assumption that only Vivado's
# timing report can confirm (docs/rtl.md).
DSP_A_BITS, DSP_B_BITS = 27, 18
DSP_STAGES = 1


def _signed_width(v) -> int:
    k, i, f = v.kif
    return int(k) + int(i) + int(f) + (0 if k else 1)  # an unsigned operand needs a zero sign bit


def dsp_slices(v0, v1) -> int:
    """DSP48E2 slices for the product of two variables (tiled 27 x 18 partial products)."""
    a, b = sorted((_signed_width(v0), _signed_width(v1)), reverse=True)
    if a <= DSP_A_BITS and b <= DSP_B_BITS:
        return 1
    return math.ceil((a - 1) / (DSP_A_BITS - 1)) * math.ceil((b - 1) / (DSP_B_BITS - 1))


# How a variable x variable product is built (``Multipliers`` in the config, docs/rtl.md):
#   dsp    one DSP48E2 per product (a cascade when wider than 27 x 18);
#   packed two products that share an operand in one DSP48E2 where the widths allow (AMD WP486), else dsp;
#   lut    in fabric: the partial products of the narrower operand summed as a tree (multiplier_lut.v);
#   auto   packed, then the products of least LUT cost moved to fabric until the design's DSPs fit DSPBudget.
MULTIPLIERS = ("dsp", "packed", "lut", "auto")


class MultPolicy:
    """The multiplier choice of the layer being traced, and the record of every product site.

    A site is one DSP's worth of products (a single product, or a packed pair), numbered in trace order
    (deterministic). ``auto`` traces twice: the first pass (as ``packed``) records each site's DSP slices and
    the LUT cost of building its products in fabric; ``lut_sites`` then names the sites built in fabric.
    """

    def __init__(self):
        self.mode = "dsp"
        self.lut_sites: set[int] = set()
        self.sites: list[dict] = []  # {"site", "layer", "mode", "dsps", "lut_cost", "products"}
        self.layer = None
        self.record = False  # the module's default policy (dsp) keeps no record
        self.tags: dict = {}  # da4ml variable id -> what it implements (KINDS); recorded with the sites

    def new_site(self, dsps: int, lut_cost: float, products: int) -> str:
        """Register the next site; returns how it is built: "dsp" or "lut"."""
        i = len(self.sites)  # (only a recording policy numbers sites: auto needs one)
        if self.mode == "lut" or (self.mode == "auto" and i in self.lut_sites):
            kind = "lut"
        else:
            kind = "dsp"
        if not self.record:
            return kind
        self.sites.append({"site": i, "layer": self.layer, "mode": self.mode, "kind": kind, "dsps": dsps,
                           "lut_cost": lut_cost, "products": products})
        return kind


_POLICY = MultPolicy()

# What each piece of traced logic implements, for the resource breakdown of `report` (issue #19). A trace
# helper tags the new logic of its result (every ancestor not yet tagged); logic left untagged is "other".
KINDS = ("inputs", "variable products", "constant matrices", "tables", "comparators and top-k", "accumulators",
         "quantization", "masking (nvtx)", "distances", "other")


def tag(x, kind: str):
    """Tag the not yet tagged logic behind ``x`` (a variable, an array or a list of them) as ``kind``; returns
    ``x``. Only a recording policy (``trace_model``'s) keeps tags."""
    from da4ml.trace import FixedVariable

    tags = _POLICY.tags if _POLICY.record else None
    if tags is None:
        return x
    trace = da()
    vals = x._vars if isinstance(x, trace.FixedVariableArray) else x
    stack = [v for v in np.ravel(np.asarray(vals, dtype=object)) if isinstance(v, FixedVariable)]
    while stack:
        v = stack.pop()
        if v.id in tags:
            continue
        tags[v.id] = kind
        stack.extend(u for u in (v._from or ()) if isinstance(u, FixedVariable) and u.id not in tags)
    return x


def policy() -> MultPolicy:
    return _POLICY


def set_policy(p: MultPolicy | None) -> MultPolicy:
    """Install ``p`` (a fresh dsp policy for None); returns the previous one."""
    global _POLICY
    old, _POLICY = _POLICY, (p if p is not None else MultPolicy())
    return old


def _product_interval(a, b):
    if a is b:
        lo, hi = a.low * a.low, a.high * a.high
        return (min(lo, hi, 0), max(lo, hi, 0)) if a.low < 0 < a.high else (min(lo, hi), max(lo, hi))
    c = (a.high * b.low, a.low * b.high, a.high * b.high, a.low * b.low)
    return min(c), max(c)


def lut_mult_shape(a, b) -> tuple[int, int]:
    """(partial products, their width) of a fabric multiplier: one partial product per bit of the narrower
    operand (two's complement: the sign bit's is subtracted), each as wide as the other operand."""
    wa, wb = _signed_width(a), _signed_width(b)
    return min(wa, wb), max(wa, wb)


def lut_mult_cost(a, b) -> float:
    """da4ml-style LUT estimate of a fabric product (``multiplier_lut.v``): n rows, each an adder of m + 2
    bits on a carry chain with the partial product ANDed into its LUTs. An estimate, before synthesis."""
    n, m = lut_mult_shape(a, b)
    return float(n * (m + 2))


def lut_mult_depth(a, b) -> int:
    """Delay of a fabric product in da4ml units (one unit ~ one adder, ~1 ns with routing): the n rows of the
    array each wait for the lowest bits of the row before (one LUT and a short carry, ~0.5 unit), and the
    last row's carry chain runs its width: ceil(n / 2) + 1 units."""
    n, _ = lut_mult_shape(a, b)
    return int(math.ceil(n / 2)) + 1


def vmul(a, b):
    """``a * b`` of two da4ml variables (or numbers), as the current :class:`MultPolicy` builds it.

    The value is exactly da4ml's product (the same interval, step and scale factor); only its cost and
    latency differ. A DSP product: no LUT cost, and latency ``ceil(t / c) * c + stages * c`` for operands
    ready at ``t`` and a stage delay ``c`` (the hardware configuration's latency cutoff). A fabric product
    (``lut``): :func:`lut_mult_cost` LUTs and :func:`lut_mult_depth` units, starting at the next stage
    boundary when it would cross one. Without a cutoff (purely combinational tracing) da4ml's own model
    applies, and no site is recorded.
    """
    from da4ml.trace import FixedVariable

    if not (isinstance(a, FixedVariable) and isinstance(b, FixedVariable)) or a.low == a.high or b.low == b.high:
        return a * b
    cut = float(a.hwconf.latency_cutoff)
    if cut <= 0:
        return a * b
    kind = _POLICY.new_site(dsp_slices(a, b), lut_mult_cost(a, b), 1)
    return tag(_dsp_mul(a, b) if kind == "dsp" else _lut_mul(a, b), "variable products")


def _dsp_mul(a, b):
    from da4ml.trace import FixedVariable

    cut = float(a.hwconf.latency_cutoff)
    low, high = _product_interval(a, b)
    stages = DSP_STAGES if dsp_slices(a, b) == 1 else DSP_STAGES + 1
    start = math.ceil(max(a.latency, b.latency) / cut - 1e-9) * cut
    return FixedVariable(low, high, a.step * b.step, _from=(a, b), hwconf=a.hwconf, _factor=a._factor * b._factor,
                         opr="vmul", latency=start + stages * cut, cost=0.0)


def _lut_mul(a, b):
    """A fabric product: the same da4ml product op (the emulator is unchanged), with a LUT cost (> 0, which
    is how the Verilog writer tells it from a DSP product: ``mark_lut_multipliers``) and a tree's delay."""
    from da4ml.trace import FixedVariable

    cut = float(a.hwconf.latency_cutoff)
    low, high = _product_interval(a, b)
    d = lut_mult_depth(a, b)
    t = max(a.latency, b.latency)
    if d >= cut:  # a tree deeper than a stage fills whole stages, as a DSP cascade does
        lat = math.ceil(t / cut - 1e-9) * cut + math.ceil(d / cut - 1e-9) * cut
    elif math.floor(t / cut + 1e-9) != math.floor((t + d) / cut - 1e-9):  # would cross a boundary: start at it
        lat = math.ceil(t / cut - 1e-9) * cut + d
    else:
        lat = t + d
    return FixedVariable(low, high, a.step * b.step, _from=(a, b), hwconf=a.hwconf, _factor=a._factor * b._factor,
                         opr="vmul", latency=lat, cost=lut_mult_cost(a, b))


def _pow2(x: float) -> int:
    e = math.log2(x)
    assert e == int(e), x
    return int(e)


def _kif_of(low: float, high: float, step: float):
    from da4ml.types import QInterval, minimal_kif

    k, i, f = minimal_kif(QInterval(float(low), float(high), float(step)))
    return int(k), int(i), int(f)


def pack_plan(s, o1, o2):
    """How ``s * o1`` and ``s * o2`` share one DSP48E2 (AMD WP486), or None when the widths do not allow it.

    With ``u`` the step of ``s * o2``, its product lies in ``[-2^(K-1) u, 2^(K-1) u)`` (``[0, 2^K u)`` when
    never negative). The packed operand ``X = o1 * M + o2``, ``M = 2^K * step(o2) / step(o1)``, puts
    ``o1`` K bits above ``o2``; then ``P = X * s + C`` (``C = 2^(K-1) u`` for a signed low product: the
    DSP's post-adder) holds ``s*o2 + C`` in its low K bits, in ``[0, 2^K u)``, with no borrow into the
    upper bits, which are exactly ``s * o1 * M``. X must fit the 27-bit port and ``s`` the 18-bit one
    (or the other way round); P (45 bits) then fits the 48-bit accumulator.
    """
    lo2, hi2 = (float(v) for v in _product_interval(s, o2))
    u = float(s.step) * float(o2.step)
    signed = lo2 < 0
    K = 1
    while True:
        if (signed and lo2 >= -(2.0 ** (K - 1)) * u and hi2 < 2.0 ** (K - 1) * u) or \
                (not signed and hi2 < 2.0 ** K * u):
            break
        K += 1
    M = 2.0 ** K * float(o2.step) / float(o1.step)
    xlo = min(float(o1.low) * M, float(o1.high) * M) + float(o2.low)
    xhi = max(float(o1.low) * M, float(o1.high) * M) + float(o2.high)
    kx = _kif_of(xlo, xhi, float(o2.step))
    wx = kx[0] + kx[1] + kx[2] + (0 if kx[0] else 1)
    ws = _signed_width(s)
    fits = (wx <= DSP_A_BITS and ws <= DSP_B_BITS) or (wx <= DSP_B_BITS and ws <= DSP_A_BITS)
    if not fits:
        return None
    return {"K": K, "M": M, "u": u, "signed": signed, "x_bits": wx}


def _packed_pair(s, o1, o2, plan, xcache: dict):
    """``(s * o1, s * o2)`` from one DSP product (see :func:`pack_plan`), exact for every operand value."""
    K, M, u = plan["K"], plan["M"], plan["u"]
    key = (id(o1), id(o2), K)
    if key not in xcache:  # X is shared by every product of the pair's operands with another s
        xcache[key] = (o1 * M + o2, o1, o2)  # keep o1/o2 alive so their ids stay unique
    X = xcache[key][0]
    P = _dsp_mul(X, s)
    C = 2.0 ** (K - 1) * u if plan["signed"] else 0.0
    if C:
        P = P + C  # the DSP's post-adder (a constant: no delay in the schedule)
    fac = float(P._factor)
    Pu = P * (1.0 / fac) if fac != 1.0 else P  # work on the unscaled wire (factor 1): see _at_least
    uu = u / abs(fac)
    fl = -_pow2(uu)  # fraction bits of the product grid (unscaled)
    kP, iP, _ = Pu.kif
    hi = Pu.quantize(int(kP), int(iP), fl - K, "WRAP", "TRN")  # the upper field: floor(P / 2^K u) 2^K u
    lo = Pu.quantize(0, K - fl, fl, "WRAP", "TRN")  # the low K bits: s*o2 + C, in [0, 2^K u)
    if fac != 1.0:
        hi, lo = hi * fac, lo * fac
    p1 = hi * (1.0 / M)
    if C:
        lo = lo - C
    lo1, hi1 = _product_interval(s, o1)
    lo2, hi2 = _product_interval(s, o2)
    p1 = p1.quantize(*_kif_of(lo1, hi1, float(s.step) * float(o1.step)), "WRAP", "TRN")
    p2 = lo.quantize(*_kif_of(lo2, hi2, u), "WRAP", "TRN")
    return p1, p2


def shared_products(s, others, xcache: dict | None = None) -> list:
    """``[s * o for o in others]``: products that share the operand ``s``, as the current policy builds them.

    With ``packed`` (and ``auto``), consecutive pairs of ``others`` go into one DSP48E2 where
    :func:`pack_plan` allows; ``xcache`` shares each pair's packed operand between calls with different ``s``.
    """
    from da4ml.trace import FixedVariable

    xcache = {} if xcache is None else xcache

    def var(v):
        return isinstance(v, FixedVariable) and v.low != v.high

    mode = _POLICY.mode
    if mode not in ("packed", "auto") or not var(s) or float(s.hwconf.latency_cutoff) <= 0:
        return [vmul(s, o) for o in others]
    out, i = [], 0
    others = list(others)
    while i < len(others):
        o1 = others[i]
        o2 = others[i + 1] if i + 1 < len(others) else None
        plan = pack_plan(s, o1, o2) if (o2 is not None and var(o1) and var(o2)) else None
        if plan is None:
            out.append(vmul(s, o1))
            i += 1
            continue
        kind = _POLICY.new_site(1, lut_mult_cost(s, o1) + lut_mult_cost(s, o2), 2)
        if kind == "lut":
            out += [_lut_mul(s, o1), _lut_mul(s, o2)]
        else:
            out += list(_packed_pair(s, o1, o2, plan, xcache))
        i += 2
    return tag(out, "variable products")


def vmul_arrays(a, b):
    """Elementwise (broadcast) :func:`vmul` of two object arrays of variables/numbers; an object array."""
    av, bv = np.broadcast_arrays(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    out = np.empty(av.shape, dtype=object)
    for idx in np.ndindex(av.shape):
        out[idx] = vmul(av[idx], bv[idx])
    return out


def dsp_count(comb) -> int:
    """DSP48E2 slices of the traced logic: its variable products (da4ml opcode 7) built on DSPs (cost 0; a
    fabric product has a LUT cost: :func:`_lut_mul`), tiled 27 x 18."""
    n = 0
    for op in comb.ops:
        if op.opcode == 7 and not op.cost > 0:
            a, b = comb.ops[op.id0].qint, comb.ops[op.id1].qint
            n += dsp_slices(_QW(a), _QW(b))
    return n


class _QW:
    """A qint seen as a variable's kif (for dsp_slices on traced ops)."""

    def __init__(self, q):
        from da4ml.types import minimal_kif

        self.kif = minimal_kif(q)


def scale(x, r):
    """``x * r`` for an array ``x`` and a constant or variable scalar ``r`` (the reciprocal of a mean)."""
    if isinstance(r, (float, int, np.floating)):
        return cmul_array(x, float(r))
    trace = da()
    return trace.FixedVariableArray(vmul_arrays(x._vars, r), hwconf=x.hwconf)


def weights(w, t: FixedType | None) -> np.ndarray:
    """Constant weights as the Keras layer uses them: ``Q(w)`` in float64."""
    return quantize_np(np.asarray(w, dtype=np.float64), t)


def lookup(x, table: np.ndarray, index_t: FixedType):
    """``table[raw bits of x]`` for every element, ``x`` already of type ``index_t``.

    The tables of ``garnet_hls.core.tables`` are indexed by the two's complement bit pattern of their
    input; da4ml's lookup takes a table ordered by value over ``[min, max]`` of the index type, and cuts
    it down to the values each variable can really take.
    """
    trace = da()
    order = np.argsort(values_by_code(index_t), kind="stable")
    by_value = np.asarray(table, dtype=np.float64)[order]
    qint = (index_t.min, index_t.max, index_t.lsb)
    flat = np.asarray(x._vars, dtype=object)
    out = np.empty(flat.shape, dtype=object)
    for idx, v in np.ndenumerate(flat):
        if not isinstance(v, trace.FixedVariable):
            out[idx] = float(by_value[int(round((float(v) - index_t.min) / index_t.lsb))])
        elif v.low == v.high:
            out[idx] = float(by_value[int(round((float(v.low) - index_t.min) / index_t.lsb))])
        else:
            out[idx] = v.lookup(by_value, qint)
    return tag(trace.FixedVariableArray(out, hwconf=x.hwconf), "tables")


def where(cond, a, b):
    """Elementwise ``cond ? a : b`` with a 0/1 condition array (broadcast)."""
    trace = da()
    c = np.asarray(cond._vars if isinstance(cond, trace.FixedVariableArray) else cond, dtype=object)
    av = np.asarray(a._vars if isinstance(a, trace.FixedVariableArray) else a, dtype=object)
    bv = np.asarray(b._vars if isinstance(b, trace.FixedVariableArray) else b, dtype=object)
    c, av, bv = np.broadcast_arrays(c, av, bv)
    out = np.empty(c.shape, dtype=object)
    for idx in np.ndindex(c.shape):
        ci = c[idx]
        if not isinstance(ci, trace.FixedVariable) or ci.low == ci.high:
            out[idx] = av[idx] if float(ci if not isinstance(ci, trace.FixedVariable) else ci.low) else bv[idx]
        else:
            out[idx] = mux(ci, av[idx], bv[idx])
    return tag(trace.FixedVariableArray(out, hwconf=_hwconf_of(cond)), "masking (nvtx)")


def pos(v):
    """The same value on a wire with a positive scale factor (da4ml may carry a negation in the factor).

    da4ml's mux and max come out wrong for some mixes of negative-factor variables and constants; every
    mux/max of the traces goes through this first (a negation in logic where one is needed).
    """
    from da4ml.trace import FixedVariable

    if isinstance(v, FixedVariable) and v.low != v.high and v._factor < 0:
        k, i, f = v.kif
        return v.quantize(k, i, f, "WRAP", "TRN", _force_factor_clear=True)
    return v


def mux(sel, a, b):
    """``a`` when the MSB of ``sel`` is 1, else ``b`` (da4ml's msb_mux on positive-factor operands).

    da4ml 0.6 gives a constant operand the scale factor of the variable one; on a wire with a factor far
    from 1 (2^-47 after a wide QDense) the constant then came out as 0 (a saturation to the type's maximum
    read 0; found by the RTL fuzzer). Such a mux runs on the unscaled wire (factor 1) against the unscaled
    constant, and the result is scaled back: a power-of-two factor is wiring, so the logic is the same.

    da4ml takes a constant's step from its value, clamped to [2^-32, 2^31] (and its emulator reads the
    constant 0 at step 1); the mux's step is the finer of its operands', and the emulator can shift only
    one operand, to the left. On an unscaled wire with a step of 2^32 or coarser (a factor of 2^-40, found
    by the Keras 3 fuzzer) the mux then came out finer than the values it can hold (a table lookup behind it
    failed), or the emulator refused a mux with 0. So the constant 0 is given step 1, and a mux finer than
    its operands is cut back to their grid (a wrap that drops zero bits: no logic).
    """
    from da4ml.trace import FixedVariable

    sel, a, b = pos(sel), pos(a), pos(b)
    var = [v for v in (a, b) if isinstance(v, FixedVariable) and v.low != v.high]
    const = [v for v in (a, b) if not (isinstance(v, FixedVariable) and v.low != v.high)]
    if len(var) != 1 or not const:
        return sel.msb_mux(a, b)
    v, c = var[0], const[0]  # one variable, one constant
    fac = float(v._factor)
    u = v * (1.0 / fac) if fac != 1.0 else v
    val = Fraction(float(c.low if isinstance(c, FixedVariable) else c)) / Fraction(fac)
    cu = FixedVariable.from_const(float(val), hwconf=sel.hwconf, _factor=1)
    # the step the mux needs: the variable's, or the constant's finer one (steps are powers of two, but da4ml's
    # Decimal ones are rounded to 28 digits below 2^-60 or so: taken by their exponent)
    grid = Fraction(2) ** round(math.log2(u.step))
    if val == 0:
        cu = cu._with(step=Decimal(1))
    while (val / grid).denominator != 1:
        grid /= 2
    r = sel.msb_mux(u, cu) if a is v else sel.msb_mux(cu, u)
    if round(math.log2(r.step)) < round(math.log2(grid)):
        k, i, _ = r.kif
        r = r.quantize(k, i, -int(math.log2(grid)), "WRAP", "TRN")
    return r * fac if fac != 1.0 else r


def vmax(a, b):
    """max(a, b) of two variables or numbers."""
    from da4ml.trace import FixedVariable

    a, b = pos(a), pos(b)
    if not isinstance(a, FixedVariable) and not isinstance(b, FixedVariable):
        return max(a, b)
    if not isinstance(a, FixedVariable):
        a, b = b, a
    if not isinstance(b, FixedVariable):
        b = float(b)
        if float(a.low) >= b:
            return a
        if float(a.high) <= b:
            return b
        return mux(pos(a - b).is_negative(), b, a)  # da4ml's max_of: its constant has the same clamped step
    if a.low >= b.high:
        return a
    if b.low >= a.high:
        return b
    neg = pos(a - b).is_negative()  # 1 when a < b
    return mux(neg, b, a)


def valid_mask(nvtx, n_vertices: int):
    """(V,) 0/1 variables ``i < nvtx`` from the scalar nvtx variable."""
    trace = da()
    n = nvtx._vars.ravel()[0]
    out = np.empty(n_vertices, dtype=object)
    for i in range(n_vertices):
        out[i] = n > i  # 1 when nvtx > i
    return tag(trace.FixedVariableArray(out, hwconf=nvtx.hwconf), "masking (nvtx)")


# da4ml's constant-matrix solver: hard_dc=0 asks for adder graphs of the least depth (log2 of the terms),
# which here also came out no larger than the default's
CMVM_OPTIONS = {"hard_dc": 0}


def cmatmul(x, kernel):
    """``x @ kernel`` with a constant (already quantized) matrix: an adder graph of least depth."""
    trace = da()
    xa = trace.FixedVariableArray(np.asarray(x._vars, dtype=object), solver_options=CMVM_OPTIONS, hwconf=x.hwconf)
    return tag(xa @ np.asarray(kernel, dtype=np.float64), "constant matrices")


def dense(x, kernel, bias):
    """``x @ kernel + bias`` with constant (already quantized) weights: da4ml builds an adder graph."""
    return tag(cmatmul(x, kernel) + np.asarray(bias, dtype=np.float64), "constant matrices")


def masked_max(values, valid, axis: int, any_valid):
    """Max over ``axis`` of the entries where ``valid`` (0/1, broadcastable); 0 where none is valid.

    The valid entries are a prefix along ``axis`` (vertices ``i < nvtx``), so entry 0 is valid iff any
    is: an invalid entry stands in with entry 0's value, which leaves the max of the valid ones.
    """
    vals = np.moveaxis(np.asarray(values._vars, dtype=object), axis, 0)
    ok = np.moveaxis(np.broadcast_to(np.asarray(valid._vars, dtype=object), np.shape(values._vars)), axis, 0)
    first = vals[0]
    m = first
    for n in range(1, vals.shape[0]):
        cand = where(_arr(ok[n], values), _arr(vals[n], values), _arr(first, values))
        m = np.vectorize(vmax, otypes=[object])(np.asarray(m, dtype=object), cand._vars)
    tag(m, "comparators and top-k")
    return where(any_valid, _arr(m, values), 0.0)


def _arr(a, like):
    trace = da()
    return trace.FixedVariableArray(np.asarray(a, dtype=object), hwconf=like.hwconf)


def reciprocal(n_var_or_int, table: np.ndarray, hwconf):
    """``table[n]`` (garnet_hls.core.tables.reciprocal_table) for a constant n or an integer variable n."""
    trace = da()
    if isinstance(n_var_or_int, (int, np.integer)):
        return float(table[int(n_var_or_int)])
    v = n_var_or_int._vars.ravel()[0]
    lo, hi = int(v.low), int(v.high)
    return tag(v.lookup(np.asarray(table[lo:hi + 1], dtype=np.float64)), "tables")


def activation(pre, act: str, types: dict, layer):
    """The output activation and Q_out of a graph layer (``QuantizedGraphLayer.activation_and_output``)."""
    from garnet_hls.core import tables

    if act == "relu":
        pre = pre.relu()
    elif act == "tanh":
        t_in = types["preactivation"]
        pre = quantize(pre, t_in)
        pre = lookup(pre, tables.tanh_table(t_in, types["output"]), t_in)
    return quantize(pre, types["output"])


def check_quantized(layer):
    if not getattr(layer, "quantized", False):
        raise UserError(f"layer {layer.name}: the RTL backend needs a quantized layer (quantized=True or "
                        f"explicit quantizers); {float_layer_reason('graph layer')}")
    missing = [p for p, t in layer.types.items() if t is None]
    if missing:
        raise UserError(f"layer {layer.name}: quantization point(s) {', '.join(missing)} have no quantizer")
