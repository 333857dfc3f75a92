"""Independent float64 NumPy reference of GarNet, GarNet stack and GravNet.

Written from ``docs/layers.md`` (what the layers compute) and ``docs/quantization.md`` (where a
quantized layer rounds and saturates), *not* from the Keras code, so that the tests compare two
independent readings of the same documents.

Everything is float64. Sums and products between quantization points are exact in float64 for the
supported types (see quantization.md), so the quantized reference is bit-exact by construction.
Quantizers are given as QKeras spec strings (or None = no rounding) and parsed here; a table lookup
(exp, 1/n, tanh) is the function computed in float64 and then quantized, which is by definition what
the firmware table holds.

Shapes: ``x`` (B, V, F_in), ``nvtx`` (B,) or (B, 1) integers. Weights are the raw float arrays of
``layer.block_weights(b)``: dicts with 'S_kernel', 'S_bias', 'P_kernel', 'P_bias', 'O_kernel',
'O_bias'.
"""

import ast
import re

import numpy as np

# ---------------------------------------------------------------------------------------------------
# Quantizer specs (quantization.md, "Fixed-point types" and "Defaults")
# ---------------------------------------------------------------------------------------------------

GARNET_POINTS = ("input", "kernel", "bias", "distance", "edge_weight", "feature", "reciprocal",
                 "aggregate", "preactivation", "output")
GRAVNET_POINTS = GARNET_POINTS + ("coordinate",)

_COMMON_DEFAULTS = {
    "input": "quantized_bits(16,5)",
    "kernel": "quantized_bits(8,0,alpha=1)",
    "bias": "quantized_bits(8,0,alpha=1)",
    "edge_weight": "quantized_bits(10,1,keep_negative=0)",
    "feature": "quantized_bits(16,5)",
    "reciprocal": "quantized_bits(18,1,keep_negative=0)",
    "aggregate": "quantized_bits(16,5)",
    "preactivation": "quantized_bits(12,3)",
    "output": "quantized_bits(16,5)",
}
GARNET_DEFAULTS = dict(_COMMON_DEFAULTS, distance="quantized_bits(12,3)")
GRAVNET_DEFAULTS = dict(_COMMON_DEFAULTS, distance="quantized_bits(12,4,keep_negative=0)",
                        coordinate="quantized_bits(12,3)")

_POSITIONAL = {
    "quantized_bits": ("bits", "integer", "symmetric", "keep_negative", "alpha",
                       "use_stochastic_rounding"),
    "quantized_relu": ("bits", "integer", "use_sigmoid", "negative_slope", "use_stochastic_rounding"),
}
# Arguments that do not change the fixed-point type, with the only values accepted.
_HARMLESS = {"use_ste": None, "qnoise_factor": (1, 1.0), "is_quantized_clip": None,
             "var_name": None, "use_variables": (False, 0), "scale_axis": (None,),
             "relu_upper_bound": (None,)}


class SpecError(ValueError):
    """A spec string that is not a supported fixed-point type."""


def _literal(text):
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # e.g. alpha=auto_po2 without quotes: returned as the bare word


def parse_spec(spec):
    """Parse a QKeras spec string into (bits, integer, signed, relu). Rejects non fixed-point types."""
    m = re.fullmatch(r"\s*(quantized_bits|quantized_relu)\s*\((.*)\)\s*", spec)
    if not m:
        raise SpecError(f"unsupported quantizer spec {spec!r}")
    name, body = m.group(1), m.group(2)
    args = {}
    parts = [p for p in body.split(",") if p.strip()]
    for pos, part in enumerate(parts):
        if "=" in part:
            key, val = part.split("=", 1)
            args[key.strip()] = _literal(val)
        else:
            if "=" in ",".join(parts[:pos]):
                raise SpecError(f"positional argument after keyword in {spec!r}")
            args[_POSITIONAL[name][pos]] = _literal(part)
    bits = int(args.pop("bits", 8))
    integer = int(args.pop("integer", 0))
    if name == "quantized_bits":
        signed = bool(args.pop("keep_negative", True))
        if args.pop("symmetric", 0):
            raise SpecError(f"symmetric quantizer is not a fixed-point type: {spec!r}")
        alpha = args.pop("alpha", None)
        if alpha is not None and alpha != 1:
            raise SpecError(f"alpha must be 1 or absent: {spec!r}")
        relu = False
    else:
        signed = False
        relu = True
        if args.pop("use_sigmoid", 0) or args.pop("negative_slope", 0.0):
            raise SpecError(f"only the plain quantized_relu is supported: {spec!r}")
    if args.pop("use_stochastic_rounding", False):
        raise SpecError(f"stochastic rounding is not supported: {spec!r}")
    for key, val in args.items():
        if key not in _HARMLESS or (_HARMLESS[key] is not None and val not in _HARMLESS[key]):
            raise SpecError(f"unsupported argument {key}={val!r} in {spec!r}")
    return bits, integer, signed, relu


class Quantizer:
    """Q(x) = clip(round_half_to_even(x / LSB), qmin, qmax) * LSB  (AP_RND_CONV, AP_SAT)."""

    def __init__(self, spec):
        self.spec = spec
        self.bits, self.integer, self.signed, self.relu = parse_spec(spec)
        if self.signed:  # ap_fixed<b, i+1>
            self.lsb = 2.0 ** -(self.bits - 1 - self.integer)
            self.qmin, self.qmax = -(2.0 ** (self.bits - 1)), 2.0 ** (self.bits - 1) - 1
        else:  # ap_ufixed<b, i>
            self.lsb = 2.0 ** -(self.bits - self.integer)
            self.qmin, self.qmax = 0.0, 2.0 ** self.bits - 1

    @property
    def min_value(self):
        return self.qmin * self.lsb

    @property
    def max_value(self):
        return self.qmax * self.lsb

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        if self.relu:
            x = np.maximum(x, 0.0)
        return np.clip(np.round(x / self.lsb), self.qmin, self.qmax) * self.lsb

    def __repr__(self):
        return f"Quantizer({self.spec!r})"


def identity(x):
    return np.asarray(x, dtype=np.float64)


def make_quantizers(specs):
    """{point: spec or None} -> {point: callable}; None means no rounding."""
    return {k: (identity if v is None else Quantizer(v)) for k, v in specs.items()}


def resolve_specs(kind, quantized, **overrides):
    """The specs a layer uses: quantization.md defaults when ``quantized``, explicit ones win."""
    points = GRAVNET_POINTS if kind == "gravnet" else GARNET_POINTS
    defaults = GRAVNET_DEFAULTS if kind == "gravnet" else GARNET_DEFAULTS
    unknown = set(overrides) - set(points)
    if unknown:
        raise KeyError(f"unknown quantization points {sorted(unknown)}")
    specs = {p: (defaults[p] if quantized else None) for p in points}
    for p, s in overrides.items():
        if s is not None:
            specs[p] = s
    return specs


# ---------------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------------

def _nvtx(nvtx, V):
    n = np.asarray(nvtx).reshape(-1).astype(np.int64)
    if np.any(n < 0) or np.any(n > V):
        raise ValueError(f"nvtx out of range [0, {V}]: {n}")
    return n


def _mask(n, V):
    return (np.arange(V)[None, :] < n[:, None]).astype(np.float64)  # (B, V)


def _reciprocal(N, q_recip):
    """r = Q_recip(1/N) per graph, 0 where N = 0 (table lookup by N)."""
    N = np.asarray(N, dtype=np.float64)
    r = np.zeros_like(N)
    nz = N > 0
    r[nz] = q_recip(1.0 / N[nz])
    return r


def _activation(pre, activation, q):
    if activation == "linear":
        return q["output"](pre)
    if activation == "relu":
        return q["output"](np.maximum(pre, 0.0))
    if activation == "tanh":
        return q["output"](np.tanh(q["preactivation"](pre)))
    raise ValueError(f"unknown activation {activation!r}")


def _dense(x, kernel, bias, q):
    return x @ q["kernel"](kernel) + q["bias"](bias)


def collapse(y, n, mode, mean_by_nvert, q):
    """Collapse (quantization.md, 'Collapse'). y (B, V, F) with padding rows 0."""
    B, V, _ = y.shape
    if mode is None or mode == "none":
        return y
    if mode == "sum":
        return q["output"](y.sum(axis=1))
    if mode == "mean":
        N = n if mean_by_nvert else np.full(B, V)
        r = _reciprocal(N, q["reciprocal"])
        return q["output"](y.sum(axis=1) * r[:, None])
    if mode == "max":
        valid = _mask(n, V)[..., None] > 0
        out = np.where(valid, y, -np.inf).max(axis=1)
        return np.where(n[:, None] > 0, out, 0.0)
    raise ValueError(f"unknown collapse {mode!r}")


# ---------------------------------------------------------------------------------------------------
# GarNet
# ---------------------------------------------------------------------------------------------------

def garnet_block(x, n, wts, q, *, simplified, mean_by_nvert, activation, first):
    """One GarNet block (quantization.md, 'GarNet block'). Returns (B, V, F_out), padding rows 0."""
    x = np.asarray(x, dtype=np.float64)
    B, V, _ = x.shape
    mask = _mask(n, V)                                                   # (B, V)
    xh = q["input"](x) if first else x
    d = q["distance"](_dense(xh, wts["S_kernel"], wts["S_bias"], q))     # (B, V, A)
    w = q["edge_weight"](np.exp(-d * d)) * mask[..., None]               # (B, V, A)
    f = q["feature"](_dense(xh, wts["P_kernel"], wts["P_bias"], q))      # (B, V, P)
    A = w.shape[-1]
    g = f if simplified else np.concatenate([f, w], axis=-1)             # (B, V, G)

    N = n if mean_by_nvert else np.full(B, V)
    r = _reciprocal(N, q["reciprocal"])                                  # (B,)
    wg = w[:, :, :, None] * g[:, :, None, :]                             # (B, V, A, G) exact
    mean = q["aggregate"](wg.sum(axis=1) * r[:, None, None])             # (B, A, G)
    if simplified:
        h = mean
    else:
        valid = mask[:, :, None, None] > 0
        mx = np.where(valid, wg, -np.inf).max(axis=1)                    # (B, A, G)
        mx = np.where(n[:, None, None] > 0, mx, 0.0)
        mx = q["aggregate"](mx)
        h = np.concatenate([mx, mean], axis=-1)                          # (B, A, 2G)
    H = h.shape[-1]
    u = (w[:, :, :, None] * h[:, None, :, :]).reshape(B, V, A * H)       # u_i[a*H + c] = w_ia h_ac
    z = u if simplified else np.concatenate([xh, u, w], axis=-1)
    pre = _dense(z, wts["O_kernel"], wts["O_bias"], q)
    y = _activation(pre, activation, q)
    return y * mask[..., None]


def garnet(x, nvtx, blocks, *, simplified=True, collapse_mode=None, mean_by_nvert=False,
           activation="linear", specs=None):
    """GarNet (one block) or a GarNet stack (several blocks, collapse once at the end).

    ``blocks``: a weight dict or a list of them. ``specs``: {point: spec or None}; None = float mode.
    """
    if isinstance(blocks, dict):
        blocks = [blocks]
    q = make_quantizers(specs if specs is not None else resolve_specs("garnet", False))
    x = np.asarray(x, dtype=np.float64)
    n = _nvtx(nvtx, x.shape[1])
    y = x
    for b, wts in enumerate(blocks):
        y = garnet_block(y, n, wts, q, simplified=simplified, mean_by_nvert=mean_by_nvert,
                         activation=activation, first=(b == 0))
    return collapse(y, n, collapse_mode, mean_by_nvert, q)


# ---------------------------------------------------------------------------------------------------
# GravNet
# ---------------------------------------------------------------------------------------------------

def neighbours(d, i, k, prefer_high_index=False):
    """Neighbours of vertex i from its distance row ``d`` (valid vertices only): the first
    min(k, n-1) j != i in ascending (d_ij, j) order. ``prefer_high_index`` reverses the tie-break
    (only used by the tests to show that a case is sensitive to it)."""
    j = np.arange(len(d))
    tiebreak = -j if prefer_high_index else j
    order = np.lexsort((tiebreak, d))  # primary key d, secondary key j
    order = order[order != i]
    return order[:k]


def gravnet(x, nvtx, wts, *, n_neighbours, distance="l2", potential_scale=10.0, collapse_mode=None,
            mean_by_nvert=False, activation="linear", specs=None, prefer_high_index=False,
            return_neighbours=False):
    """GravNet (layers.md 'GravNet', quantization.md 'GravNet'). Returns (B, V, F_out) or collapsed."""
    q = make_quantizers(specs if specs is not None else resolve_specs("gravnet", False))
    x = np.asarray(x, dtype=np.float64)
    B, V, _ = x.shape
    n = _nvtx(nvtx, V)
    k = n_neighbours
    mask = _mask(n, V)
    xh = q["input"](x)
    s = q["coordinate"](_dense(xh, wts["S_kernel"], wts["S_bias"], q))   # (B, V, S)
    f = q["feature"](_dense(xh, wts["P_kernel"], wts["P_bias"], q))      # (B, V, P)
    P = f.shape[-1]
    r = q["reciprocal"](1.0 / k)
    mean = np.zeros((B, V, P))
    mx = np.zeros((B, V, P))
    nbrs = [[None] * V for _ in range(B)]
    for b in range(B):
        nb = int(n[b])
        sb = s[b, :nb]
        diff = sb[:, None, :] - sb[None, :, :]                           # (nb, nb, S)
        if distance == "l2":
            dd = (diff * diff).sum(axis=-1)
        elif distance == "l1":
            dd = np.abs(diff).sum(axis=-1)
        else:
            raise ValueError(f"unknown distance {distance!r}")
        dd = q["distance"](dd)
        ww = q["edge_weight"](np.exp(-potential_scale * dd))             # table indexed by d
        for i in range(nb):
            js = neighbours(dd[i], i, k, prefer_high_index)
            nbrs[b][i] = js
            if len(js) == 0:
                continue  # mean 0, max 0
            prod = ww[i, js][:, None] * f[b, js]                         # (m, P) exact
            mean[b, i] = q["aggregate"](prod.sum(axis=0) * r)
            mx[b, i] = q["aggregate"](prod.max(axis=0))
    z = np.concatenate([xh, mean, mx], axis=-1)
    pre = _dense(z, wts["O_kernel"], wts["O_bias"], q)
    y = _activation(pre, activation, q) * mask[..., None]
    out = collapse(y, n, collapse_mode, mean_by_nvert, q)
    return (out, nbrs) if return_neighbours else out
