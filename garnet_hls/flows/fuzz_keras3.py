"""The fuzzer's Keras 3 mode (``python -m garnet_hls.flows.fuzz --keras 3``): random Keras 3 / HGQ2 models.

A case is drawn as in ``garnet_hls.flows.fuzz`` (every option of docs/layers.md: GarNet simplified or full,
GarNetStack, GravNet l1/l2 and k, collapse none/mean/sum/max, mean by V or nvtx, linear/relu/tanh, chains
of graph layers; narrow and negative-integer types) from a stream of its own (``[seed, index, 30]``), then
made Keras 3: the layers are ``garnet_hls.keras3``'s, and their quantization points take, besides the QKeras
spec strings, HGQ2 configs: fixed ``kif`` / ``kbi`` types, per-weight trainable widths of any rounding and
overflow for the kernels and biases (their widths are then set to random values per weight), and now and
then a data point the firmware cannot follow (per-element widths, another rounding or overflow) that the
converter must refuse in one line. The head is HGQ2 ``QDense`` layers (per vertex or per event, with or
without a relu and a bias) whose input, kernel and bias quantizers are fixed types or HGQ2's own trainable
configs with per-element widths (RND/TRN, SAT/WRAP), set to random values.

Each case goes to the backend through the registry: the RTL backend traces it and da4ml's emulator runs the
traced logic; an HLS backend converts it (today it refuses a Keras 3 model in one line: the case is
``refused``) and, once it takes Keras 3 models, C-simulates it. The outputs are compared bit for bit with
the float64 Keras 3 model; a case the converter labels bit-exact must be identical, else it fails, with the
first differing layer named (RTL: each prefix of the model traced on its own).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from garnet_hls.flows import fuzz_cases as F

ROUNDINGS = ("RND", "RND_CONV", "TRN")
HEAD_ROUNDINGS = ("RND", "TRN")
OVERFLOWS_WEIGHT = ("SAT", "SAT_SYM", "WRAP")
OVERFLOWS_DATA = ("SAT", "WRAP")
DATA_POINTS = ("input", "coordinate", "distance", "edge_weight", "feature", "reciprocal", "aggregate",
               "preactivation", "output")
TABLE_POINTS = ("distance", "edge_weight", "reciprocal")  # and with tanh: preactivation, output


# ------------------------------------------------------------------------------------------------
# Drawing a case
# ------------------------------------------------------------------------------------------------
def _fixed_cfg(spec: str, rng) -> dict:
    """A QKeras spec as the equivalent fixed HGQ2 config (kif or kbi; RND_CONV, SAT: what the firmware does)."""
    from garnet_hls.core.fixed import parse_spec

    t = parse_spec(spec)
    k = 1 if t.signed and not t.relu else 0
    i = t.integer - k
    cfg = {"place": "datalane", "k0": k, "round_mode": "RND_CONV", "overflow_mode": "SAT", "trainable": False,
           "homogeneous_axis": None, "heterogeneous_axis": []}
    if rng.random() < 0.5:
        cfg.update(q_type="kif", i0=i, f0=t.width - k - i)
    else:
        cfg.update(q_type="kbi", b0=t.width - k, i0=i)
    return cfg


def _weight_cfg(rng, place: str) -> dict:
    """A per-weight trainable HGQ2 config, any rounding and overflow (weights are constants: all exact)."""
    q_type = str(rng.choice(["kif", "kbi"]))
    i0, f0 = int(rng.integers(-1, 3)), int(rng.integers(2, 9))
    cfg = {"q_type": q_type, "place": place, "k0": 1, "round_mode": str(rng.choice(ROUNDINGS)),
           "overflow_mode": str(rng.choice(OVERFLOWS_WEIGHT)), "trainable": True, "homogeneous_axis": [],
           "heterogeneous_axis": None}
    if q_type == "kif":
        cfg.update(i0=i0, f0=f0)
    else:
        cfg.update(b0=i0 + f0, i0=i0)
    return cfg


def _data_cfg(rng, roundings=ROUNDINGS) -> dict:
    """An HGQ2 data config of its own: per-element trainable widths (``kif``), any rounding and overflow."""
    return {"q_type": "kif", "place": "datalane", "k0": 1, "i0": int(rng.integers(1, 5)),
            "f0": int(rng.integers(2, 9)), "round_mode": str(rng.choice(roundings)),
            "overflow_mode": str(rng.choice(OVERFLOWS_DATA)), "trainable": True, "homogeneous_axis": [0],
            "heterogeneous_axis": None}


def _keras3_quantizers(g: dict, rng) -> None:
    """Turn some of a graph layer's QKeras specs into HGQ2 configs (in place)."""
    from garnet_hls.core.semantics import DEFAULT_QUANTIZERS

    q = g["quantizers"]
    for p in ("kernel", "bias"):
        if rng.random() < 0.5:
            q[f"{p}_quantizer"] = _weight_cfg(rng, "weight" if p == "kernel" else "bias")
    for key, spec in list(q.items()):
        if isinstance(spec, str) and rng.random() < 0.4:
            q[key] = _fixed_cfg(spec, rng)
    if rng.random() < 0.08:  # a data point the firmware cannot follow: the converter must refuse it
        tables = TABLE_POINTS + (("preactivation", "output") if g["output_activation"] == "tanh" else ())
        free = [p for p in DATA_POINTS if p not in tables and (p != "coordinate" or g["kind"] == "GravNet")]
        p = str(rng.choice(free))
        if rng.random() < 0.5:
            q[f"{p}_quantizer"] = _data_cfg(rng)
        else:
            cfg = _fixed_cfg(q.get(f"{p}_quantizer") if isinstance(q.get(f"{p}_quantizer"), str)
                             else DEFAULT_QUANTIZERS[p], rng)
            cfg.update(round_mode="RND", overflow_mode="SAT") if rng.random() < 0.5 else \
                cfg.update(round_mode="RND_CONV", overflow_mode="WRAP")
            q[f"{p}_quantizer"] = cfg


def _head(rng) -> list:
    head = []
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        # the input quantizer is traced by da4ml's HGQ2 tracer: RND or TRN (RND_CONV, now and then, is refused)
        roundings = HEAD_ROUNDINGS if rng.random() < 0.95 else ("RND_CONV",)
        if rng.random() < 0.5:
            iq = dict(_fixed_cfg(F._signed_q(rng, 6, 16, 6, 1), rng), round_mode=str(rng.choice(roundings)))
        else:
            iq = _data_cfg(rng, roundings)
        head.append({"kind": "QDense", "units": int(rng.integers(1, 9)), "use_bias": bool(rng.random() < 0.85),
                     "activation": "relu" if rng.random() < 0.4 else None, "iq": iq,
                     "kq": _weight_cfg(rng, "weight"), "bq": _weight_cfg(rng, "bias")})
    return head


def draw_case(seed: int, index: int, backend: str = "rtl") -> dict:
    """Case ``index`` of the Keras 3 run with ``seed`` (see the module docstring): a JSON-able dict."""
    from garnet_hls.backends import registry

    impl = registry.get_backend(backend)
    rtl = impl.family == "rtl"
    rng = np.random.default_rng([seed, index, 30])
    if rtl:
        V = int(rng.choice([4, 5, 8, 12, 16, 20, 32])) if rng.random() < 0.6 else int(rng.integers(3, 33))
    else:
        V = int(rng.choice([5, 8, 16, 20, 32, 50, 64])) if rng.random() < 0.6 else int(rng.integers(5, 65))
    n_graph = int(rng.choice([1, 1, 1, 2, 2, 3]))
    graph = [F._graph_layer(rng, V, last=(i == n_graph - 1), first=(i == 0)) for i in range(n_graph)]
    if rtl:
        F._widen_quantizers(graph, np.random.default_rng([seed, index, 31]))
    for g in graph:
        _keras3_quantizers(g, rng)
    head = _head(rng)
    R = 1 if rtl else int(rng.choice(F._divisors(V)))
    lanes = verilator = None
    if rtl:  # the fully parallel design, and a folded one of `lanes` lanes (streams of their own: the
        # architectures drawn above are those of the runs before folding)
        lanes = int(np.random.default_rng([seed, index, 39]).integers(1, V))
        verilator = bool(np.random.default_rng([seed, index, 40]).random() < F.VERILATOR_SHARE)
    return {"seed": seed, "index": index, "V": V, "reuse_factor": R, "graph": graph, "head": head,
            "model_level_reuse": False, "backend": impl.name, "keras": 3, "lanes": lanes, "verilator": verilator}


def _short_cfg(q) -> str:
    if isinstance(q, str):
        return F._short(q)
    k = q["k0"]
    bits = f"{q['k0']}.{q['i0']}.{q['f0']}" if q["q_type"] == "kif" else f"{k}.{q['b0']}.{q['i0']}"
    mode = "" if (q["round_mode"], q["overflow_mode"]) == ("RND_CONV", "SAT") else \
        f"/{q['round_mode']}/{q['overflow_mode']}"
    return f"{q['q_type']}{'~' if q['trainable'] else ''}{bits}{mode}"


def describe(case: dict) -> str:
    """A compact one-line architecture (HGQ2 configs as q_type k.i.f or k.b.i, ``~`` = per-element widths)."""
    parts = []
    for g in case["graph"]:
        base = F.describe({"graph": [dict(g, quantizers={})], "head": []})[:-1]
        hgq = [f"{k.replace('_quantizer', '')}={_short_cfg(v)}" for k, v in g["quantizers"].items()
               if isinstance(v, dict)]
        n_str = sum(isinstance(v, str) for v in g["quantizers"].values())
        parts.append(base + (f",{n_str}q" if n_str else "") + (f",{' '.join(hgq)}" if hgq else "") + ")")
    for h in case["head"]:
        parts.append(f"QDense({h['units']}{',relu' if h['activation'] else ''},i={_short_cfg(h['iq'])},"
                     f"k={_short_cfg(h['kq'])}{',b=' + _short_cfg(h['bq']) if h['use_bias'] else ',nobias'})")
    return " > ".join(parts)


# ------------------------------------------------------------------------------------------------
# Building the model and its reference
# ------------------------------------------------------------------------------------------------
def _config(q):
    from hgq.quantizer import QuantizerConfig

    if isinstance(q, str):
        return q
    kw = dict(q)
    for k in ("homogeneous_axis", "heterogeneous_axis"):
        if kw.get(k) is not None:
            kw[k] = tuple(kw[k])
    if not kw["trainable"]:
        kw.update(ir=None, fr=None) if kw["q_type"] == "kif" else kw.update(ir=None, br=None)
    return QuantizerConfig(**kw)


def build_model(case: dict):
    """The Keras 3 model of a case: random (seeded) weights, non-zero biases, random per-element widths."""
    import keras
    from hgq.layers import QDense
    from hgq.quantizer import Quantizer

    import garnet_hls.keras3 as g3

    keras.utils.set_random_seed(int(case["seed"]) * 100003 + int(case["index"]))
    V = case["V"]
    features = keras.Input((V, F.N_FEATURES), name="features")
    nvtx = keras.Input((1,), dtype="int32", name="nvtx")
    x = features
    for i, g in enumerate(case["graph"]):
        common = dict(collapse=g["collapse"], mean_by_nvert=g["mean_by_nvert"], quantized=True,
                      output_activation=g["output_activation"], name=f"graph{i}", enable_ebops=False,
                      **{k: _config(v) for k, v in g["quantizers"].items()})
        if g["kind"] == "GarNet":
            layer = g3.GarNet(g["n_aggregators"], g["n_filters"], g["n_propagate"], simplified=g["simplified"],
                              **common)
        elif g["kind"] == "GarNetStack":
            layer = g3.GarNetStack(g["n_aggregators"], g["n_filters"], g["n_propagate"],
                                   simplified=g["simplified"], **common)
        else:
            layer = g3.GravNet(g["n_dimensions"], g["n_filters"], g["n_propagate"], g["n_neighbours"],
                               distance=g["distance"], potential_scale=g["potential_scale"], **common)
        x = layer([x, nvtx])
    for i, h in enumerate(case["head"]):
        x = QDense(h["units"], use_bias=h["use_bias"], activation=h["activation"], iq_conf=_config(h["iq"]),
                   kq_conf=_config(h["kq"]), bq_conf=_config(h["bq"]) if h["use_bias"] else None,
                   enable_ebops=False, name=f"dense{i}")(x)
    model = keras.Model([features, nvtx], x)
    rng = np.random.default_rng([case["seed"], case["index"], 1])
    for w in model.weights:
        if w.path.endswith("bias") and w.trainable:
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape))
    # per-element widths: each trainable width variable gets random whole-bit offsets
    for layer in model._flatten_layers():
        if not isinstance(layer, Quantizer):
            continue
        for v in layer.quantizer.trainable_weights:
            name = v.path.rsplit("/", 1)[-1]
            if name in ("f", "b", "i") and int(np.prod(v.shape)) > 1:
                lo, hi = (-1, 2) if name == "i" else (-3, 3)
                v.assign(np.asarray(keras.ops.convert_to_numpy(v)) + rng.integers(lo, hi + 1, size=v.shape))
    return model


def input_type(model):
    """The fixed type of the first graph layer's input point (the features' port type), or None."""
    from garnet_hls.errors import UserError
    from garnet_hls.keras3.quantizers import config_fixed_type

    try:
        return config_fixed_type(model.get_layer("graph0").q_configs["input"], "input")
    except UserError:
        return None


def keras3_reference(model, data: dict) -> list:
    """The float64 Keras 3 model's outputs on ``data``, its features rounded to the input type first (as the
    RTL input port carries them; the layer rounds them again: no change)."""
    from garnet_hls.core.quantize import quantize_np
    from garnet_hls.flows.compare import keras3_float64_clone

    x = np.asarray(data["features"], dtype=np.float64)
    t = input_type(model)
    if t is not None:
        x = quantize_np(x, t)
    out = keras3_float64_clone(model).predict([x, data["nvtx"]], verbose=0, batch_size=256)
    return out if isinstance(out, list) else [out]


# ------------------------------------------------------------------------------------------------
# Running a case
# ------------------------------------------------------------------------------------------------
def _compare(impl, rt, model, data):
    """(smallest identical fraction over the outputs, max difference in LSBs of the output wires)."""
    return F._agreement(impl.emulate(rt, data), keras3_reference(model, data), impl.output_lsbs(rt))


def divergence(impl, model, data) -> str:
    """The first layer (in model order) whose traced output differs from the Keras 3 layer's: each prefix of
    the model traced and emulated on its own."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        sub = keras.Model(model.inputs, layer.output)
        ident, _ = _compare(impl, impl.trace(sub, latency_cutoff=F.RTL_LATENCY_CUTOFF), sub, data)
        if ident < 1.0:
            return f"{layer.name} ({100 * ident:.2f}%)"
    return ""


def run_case(case: dict, n_events: int = 400, workdir=None, keep=False) -> F.CaseResult:
    """Build a Keras 3 case and run it through its backend (see the module docstring). A UserError of the
    model or the converter is a refusal; anything else that goes wrong, or any differing value of a case
    labelled bit-exact, is a failure."""
    from garnet_hls.backends import registry
    from garnet_hls.errors import ToolFailure, UserError

    t0 = time.time()
    res = F.CaseResult(case, "ERROR")
    impl = registry.get_backend(case["backend"])
    try:
        import keras

        keras.backend.clear_session()
        try:
            model = build_model(case)
            if impl.family == "rtl":
                rt = impl.trace(model, latency_cutoff=F.RTL_LATENCY_CUTOFF)
        except UserError as e:  # a refusal; a tool's own failure (ToolFailure) is a defect: ERROR
            res.status = "ERROR" if isinstance(e, ToolFailure) else "refused"
            res.message = " ".join(str(e).split())
            return res
        data = F.make_events(case, n_events, input_type(model))
        res.n_events = len(data["features"])
        if impl.family == "rtl":
            res.labelled_exact = not rt.not_bit_exact
            res.reasons = [f"{e['layer']}: {e['reason']}" for e in rt.not_bit_exact]
            res.identical, res.max_lsb = _compare(impl, rt, model, data)
            if not res.labelled_exact:
                res.status = "flagged"
            elif res.identical == 1.0:
                res.status = "ok"
            else:
                res.status = "FAIL"
                res.divergence = divergence(impl, model, data)
            F._run_folded(case, model, data, res, keras3_reference)  # a FAIL of its own if it differs
        else:
            _run_hls(case, model, data, res, workdir, keep)
    except Exception as e:  # noqa: BLE001 - a fuzzer reports every crash as a failure of that case
        res.status, res.message = "ERROR", f"{type(e).__name__}: {e}"
        res.message += "\n" + traceback.format_exc(limit=6)
    finally:
        res.seconds = time.time() - t0
    return res


def _run_hls(case, model, data, res, workdir, keep) -> None:
    """Convert with the HLS backend, C-simulate, compare (flows.compare takes Keras 3 models)."""
    from garnet_hls.errors import ToolFailure, UserError
    from garnet_hls.flows.compare import compare
    from garnet_hls.flows.convert import convert
    from garnet_hls.project import read_meta

    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="garnet-fuzz-k3-"))
    prj_dir = base / f"case_{case['seed']}_{case['index']}"
    ours = not prj_dir.exists()  # removed afterwards only if this case wrote it (never a directory found there)
    try:
        try:
            prj = convert(None, None, prj_dir, force=True, overrides=F.hls_config(case), model=model)
            ours = True  # convert --force replaced it: a project garnet-hls wrote
        except UserError as e:
            res.status = "ERROR" if isinstance(e, ToolFailure) else "refused"
            res.message = " ".join(str(e).split())
            return
        meta = read_meta(prj)
        res.labelled_exact = bool(meta["bit_exact"])
        res.reasons = [f"{r['layer']}: {r['reason']}" for r in meta.get("not_bit_exact", [])]
        r = compare(model, prj, data)
        res.identical = min(o.identical_fraction for o in r.outputs)
        res.max_lsb = r.max_lsb()
        res.status = ("ok" if r.bit_exact else "FAIL") if res.labelled_exact else "flagged"
    finally:
        if not keep and ours:
            shutil.rmtree(prj_dir, ignore_errors=True)
            if not workdir:
                shutil.rmtree(base, ignore_errors=True)
