"""What makes a converted model bit-exact: the fixed-point type of every layer's output, derived from the
Keras quantizers, and the reason for every layer that cannot be exact (both backends report the same).

``derive_precisions(model, cfg)`` returns the per-layer hls4ml precisions (LayerName entries) and ``info``:
per layer its type, whether it (and everything before it) is exact, its output type and, for the layer that
causes an inexact result, the reason (its text from ``garnet_hls.core.exactness``, which the RTL backend
uses too).
"""

from __future__ import annotations

import json
import math

from garnet_hls.core import exactness as why
from garnet_hls.core.fixed import FixedType, parse_spec
from garnet_hls.errors import UserError


SUPPORTED = ("InputLayer", "GarNet", "GarNetStack", "GravNet", "QDense", "Dense", "QActivation", "Activation",
             "Dropout")


def _quantizer_type(q) -> FixedType | None:
    if q is None:
        return None
    try:
        return parse_spec(q)
    except UserError:
        raise
    except Exception:  # noqa: BLE001
        return None


def _uint_bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n + 1)))


def derive_precisions(model, cfg: dict) -> tuple[dict, dict]:
    """Per-layer hls4ml precisions (LayerName entries) and a report of which layers are bit-exact.

    Returns ``(layer_precisions, info)``; ``info[name]`` = {'type': class, 'exact': bool, 'output': FixedType,
    'reason': why the layer is not bit-exact, or None}. A layer fed by a layer that is not exact is not
    exact either, but only the layer that causes it carries a ``reason``.
    """
    from garnet_hls.core.fixed import exact_product_type, exact_sum_type

    from garnet_hls.layers.common import QuantizedGraphLayer

    arch = json.loads(model.to_json())["config"]["layers"]
    by_name = {layer.name: layer for layer in model.layers}
    inbound = {}
    for entry in arch:
        nodes = entry.get("inbound_nodes") or []
        inbound[entry["config"]["name"]] = [n[0] for n in nodes[0]] if nodes else []

    out_t: dict[str, FixedType | None] = {}
    info: dict[str, dict] = {}
    prec: dict[str, dict] = {}
    upstream_ok: dict[str, bool] = {}  # every layer up to and including this one is exact

    def record(name, kind, exact, output, reason=None, **extra):
        srcs = [s for s in inbound.get(name, []) if s in info]
        upstream_ok[name] = bool(exact) and all(upstream_ok.get(s, True) for s in srcs)
        info[name] = {"type": kind, "exact": upstream_ok[name], "output": output,
                      "reason": None if exact else reason, **extra}

    # Input layers take their type from their consumers.
    for entry in arch:
        name = entry["config"]["name"]
        layer = by_name[name]
        kind = type(layer).__name__
        if kind not in SUPPORTED:
            raise UserError(f"layer {name!r} of type {kind} is not supported; supported types: {', '.join(SUPPORTED)}")
        if isinstance(layer, QuantizedGraphLayer):
            feat, nv = inbound[name][:2]
            V = layer.n_vertices
            if feat in by_name and type(by_name[feat]).__name__ == "InputLayer":
                t_in = layer.types.get("input") or parse_spec("quantized_bits(16,5,alpha=1)")
                if out_t.get(feat) not in (None, t_in):
                    raise UserError(f"input {feat!r} feeds graph layers with different input types ({out_t[feat]} "
                                    f"and {t_in} for {name!r}); give them the same input_quantizer")
                out_t[feat] = t_in
                prec[feat] = {"Precision": t_in.hls4ml_precision()}
                record(feat, "InputLayer", True, t_in)
            if nv in by_name and type(by_name[nv]).__name__ == "InputLayer":
                prec[nv] = {"Precision": f"uint<{_uint_bits(V)}>"}
                out_t[nv] = None
                record(nv, "InputLayer", True, None, nvtx=True, n_vertices=V)
            t_out = layer.types.get("output") or parse_spec("quantized_bits(16,5,alpha=1)")
            out_t[name] = t_out
            record(name, kind, layer.quantized, t_out, why.float_layer_reason("graph layer"))
        elif kind == "InputLayer":
            continue
        elif kind in ("QDense", "Dense"):
            src = inbound[name][0]
            t_x = out_t.get(src)
            t_w = _quantizer_type(getattr(layer, "kernel_quantizer_internal", None)) if kind == "QDense" else None
            t_b = _quantizer_type(getattr(layer, "bias_quantizer_internal", None)) if kind == "QDense" else None
            act = layer.get_config().get("activation", "linear")
            act_name = act if isinstance(act, str) or act is None else None
            # QDense(activation='quantized_relu(...)' / 'quantized_bits(...)'): hls4ml splits it off into
            # '<name>_<quantizer class>', a QActivation; Keras' QDense output is the activation's output.
            act_q, act_layer = None, None
            if isinstance(act, dict):
                act_name = str(act.get("class_name"))
                if act_name in ("quantized_relu", "quantized_bits"):
                    act_q, act_layer = _quantizer_type(act), f"{name}_{act_name}"
                    act_name = "linear"
            reason = None
            if kind == "Dense":
                reason = why.float_layer_reason("Dense")
            elif t_x is None:
                reason = _not_fixed_reason(src, upstream_ok)
            elif t_w is None:
                reason = why.missing_quantizer_reason("kernel")
            elif layer.use_bias and t_b is None:
                reason = why.missing_quantizer_reason("bias")
            elif act_name not in ("linear", None):
                reason = why.dense_activation_reason(act)
            acc = None
            if reason is None and t_x is not None:  # a float input is reported where it arises
                n_in = int(layer.kernel.shape[0])
                terms = [(exact_product_type(t_x, t_w), n_in)] + ([(t_b, 1)] if layer.use_bias else [])
                acc = exact_sum_type(terms)
                p = {"weight": _exact_prec(t_w), "accum": _exact_prec(acc), "result": _exact_prec(acc)}
                if layer.use_bias:
                    p["bias"] = _exact_prec(t_b)
                prec[name] = {"Precision": p}
                # hls4ml splits the (linear) activation off into '<name>_linear': it must not round either
                prec[f"{name}_linear"] = {"Precision": {"result": _exact_prec(acc)}}
                reason = why.float64_sum_reason(acc.width, acc)
                if reason is None and act_q is not None:
                    prec[act_layer] = {"Precision": {"result": act_q.hls4ml_precision()}}
                    if act_q.relu:
                        reason = float32_rounding_reason(acc, act_q, f"{name}'s sum")
            out_t[name] = act_q if act_q is not None else acc
            record(name, kind, reason is None and acc is not None, out_t[name], reason)
        elif kind == "QActivation":
            q = layer.get_config()["activation"]
            t = _quantizer_type(q) if ("quantized_bits" in str(q) or "quantized_relu" in str(q)) else None
            if t is None:
                raise UserError(f"layer {name!r}: QActivation {q!r} is not supported; use quantized_relu(...) "
                                "or quantized_bits(...)")
            prec[name] = {"Precision": {"result": t.hls4ml_precision()}}
            src = inbound[name][0]
            t_x = out_t.get(src)
            if t_x is None:
                reason = _not_fixed_reason(src, upstream_ok)
            else:
                reason = float32_rounding_reason(t_x, t, src) if t.relu else None
            out_t[name] = t
            record(name, kind, reason is None and t_x is not None, t, reason)
        elif kind == "Activation":
            act = layer.get_config()["activation"]
            if act not in ("relu", "linear"):
                raise UserError(f"layer {name!r}: Activation {act!r} is not supported; supported: relu, linear")
            out_t[name] = None
            record(name, kind, False, None, why.float_layer_reason("Activation"))
        elif kind == "Dropout":
            out_t[name] = out_t.get(inbound[name][0])
            record(name, kind, True, out_t[name])
    _check_precision_overrides(model, cfg, prec, info)
    return prec, info


def _not_fixed_reason(src: str, upstream_ok: dict) -> str | None:
    """The reason for a layer fed by a non-fixed-point value: None when ``src`` is already reported."""
    if not upstream_ok.get(src, True):
        return None  # a consequence of the layer named before it
    return why.float_input_reason(src)


def _check_precision_overrides(model, cfg: dict, derived: dict, info: dict):
    """A config Precision that does not hold every value of the derived exact type makes a layer inexact."""

    user = (cfg.get("HLSConfig") or {}).get("LayerName") or {}
    by_name = {layer.name: layer for layer in model.layers}
    for lname, lcfg in user.items():
        up = (lcfg or {}).get("Precision") if isinstance(lcfg, dict) else None
        if up is None:
            continue
        reason = override_reason(by_name.get(lname), lname, up, derived)
        if reason and lname in info:
            info[lname]["exact"] = False
            info[lname]["reason"] = reason if not info[lname].get("reason") else info[lname]["reason"] + "; " + reason


def not_exact_reasons(info: dict) -> list[tuple[str, str]]:
    """(layer, reason) for every layer that makes the conversion not bit-exact, in model order."""
    return [(n, i["reason"]) for n, i in info.items() if i.get("reason")]


def _exact_prec(t: FixedType) -> str:
    return f"{'fixed' if t.signed else 'ufixed'}<{t.width},{t.integer}>"


def _magnitude_bits(t) -> int:
    """Every value of ``t`` has magnitude below 2**this."""
    return t.integer - (1 if t.signed else 0)


def float32_rounding_reason(t_in, t_q, src: str) -> str | None:
    """Why QKeras' ``quantized_relu`` fed by values of type ``t_in`` can differ from exact rounding, or None.

    ``quantized_relu.__call__`` casts its input to float32 before rounding. Rounding to float32 first and then
    to ``t_q`` equals rounding once whenever the cast is the identity on every value that does not saturate:
    values below ``2**t_q.integer`` (larger ones saturate either way - the cast is monotone and
    ``2**integer`` is a float32) with at most 24 significant bits.
    """
    bits = min(_magnitude_bits(t_in), t_q.integer) + t_in.frac
    return why.float32_rounding_reason(src, bits, t_q, t_in)


def _holds(a, b) -> bool:
    """Every value of type ``b`` is a value of type ``a``."""
    return (a.signed or not b.signed) and a.frac >= b.frac and _magnitude_bits(a) >= _magnitude_bits(b)


def _same_rounding_type(user: str, derived: str) -> bool:
    from garnet_hls.core.fixed import parse_precision

    a, b = parse_precision(user, ""), parse_precision(derived, "")
    u = str(user).replace(" ", "").upper()
    rounds = ("RND_CONV" in u and "SAT" in u) or str(user).strip().startswith("quantized_")
    return (a.width, a.integer, a.signed) == (b.width, b.integer, b.signed) and rounds


def override_reason(layer, lname: str, user, derived: dict) -> str | None:
    """Why a config ``Precision`` for ``lname`` breaks bit-exactness, or None if it keeps every value exact."""
    from garnet_hls.errors import UserError
    from garnet_hls.core.fixed import parse_precision
    from garnet_hls.layers.common import QuantizedGraphLayer

    try:
        if isinstance(layer, QuantizedGraphLayer):
            if not isinstance(user, dict):
                return None  # the graph kernels read only the per-point keys
            bad = []
            for key, val in user.items():
                point = "output" if key == "result" else key
                t_der = layer.types.get(point)
                t_user = parse_precision(val, f"layer {lname}")
                if t_der is None or (t_user.width, t_user.integer, t_user.signed) != \
                        (t_der.width, t_der.integer, t_der.signed):
                    bad.append(f"{key}={val} (the model rounds to {t_der if t_der else 'nothing'} there)")
            return f"Precision override {', '.join(bad)}" if bad else None
        d = (derived.get(lname) or {}).get("Precision")
        if d is None:
            return None  # a float layer: not exact anyway
        if isinstance(d, str):  # an input layer: one type
            d = {"result": d}
        # an input or a QActivation rounds to its quantizer's type: the override must be that very type;
        # a dense's weight/bias/accum/result only need to hold the exact values
        rounding = type(layer).__name__ in ("QActivation", "InputLayer")
        bad = []
        for key, val in (user.items() if isinstance(user, dict) else [(k, user) for k in d]):
            if key not in d:
                continue
            if rounding and not _same_rounding_type(val, d[key]):
                bad.append(f"{key}={val} is not the quantizer's type {d[key]}")
            elif not rounding and not _holds(parse_precision(val, f"layer {lname}"), parse_precision(d[key], "")):
                bad.append(f"{key}={val} cannot hold the exact {d[key]}")
        return f"Precision override {', '.join(bad)}" if bad else None
    except UserError:
        return f"Precision override {user!r} is not a fixed-point type"
