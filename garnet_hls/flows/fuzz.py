"""Randomized architectures: convert, C-simulate and compare with Keras (``make fuzz N=200``).

Each case is drawn from ``numpy.random.default_rng([seed, index])``, so any case is reproduced on its own
with ``python -m garnet_hls.flows.fuzz --seed S --case I``. A case is a model over every option of our graph
layers - GarNet (simplified or full), GarNetStack, GravNet (l1/l2, k), collapse none/mean/sum/max,
mean by V or nvtx, linear/relu/tanh outputs, chains of graph layers - with 4..16-bit quantizers at
random quantization points, per-vertex or per-event QDense/QActivation heads, random reuse factors
dividing V, and now and then a float layer. Its events are edge cases (nvtx = 0, 1, k, V-1, V, padding
slots filled with garbage, duplicated vertices, feature values at and just beyond the input quantizer's
limits and on its rounding ties) followed by built-in calorimeter events (``garnet_hls.physics.data``).

Every case is converted (``garnet_hls.flows.convert``), run in the default C simulation - exactly the
synthesized code - and compared bit for bit with the float64 Keras model (``garnet_hls.flows.compare``).
A case the converter labels bit-exact must be 100% identical; a case labelled not bit-exact (float
layers, a float32-rounding QKeras activation, ...) is reported with its reasons and its measured
agreement; a case the converter refuses (e.g. types wider than the kernels hold) is reported with
the message.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from garnet_hls.flows import fuzz_keras3
# the cases (drawing, description, events, results) live in fuzz_cases; their names stay importable from here
from garnet_hls.flows.fuzz_cases import (_agreement, _rtl, _rtl_compare, _run_folded, foldable,  # noqa: F401
                                        keras_reference)  # shared with fuzz_keras3
from garnet_hls.flows.fuzz_cases import (N_FEATURES, RTL_LATENCY_CUTOFF, VERILATOR_SHARE, WIDE_POINTS, CaseResult,  # noqa: F401
                                         _any_q, _divisors, _graph_layer, _graph_quantizers, _relu_q, _short,
                                         _signed_q, _unsigned_q, _widen_quantizers, draw_case, hls_config,
                                         make_events)
from garnet_hls.flows.fuzz_cases import describe as describe_keras2


def describe(case: dict) -> str:
    """A compact one-line architecture (a Keras 2 or a Keras 3 case)."""
    return fuzz_keras3.describe(case) if case.get("keras") == 3 else describe_keras2(case)


# ------------------------------------------------------------------------------------------------
# Building the model and its events
# ------------------------------------------------------------------------------------------------
def build_model(case: dict):
    """The tf_keras model of a case, with random (seeded) weights and non-zero biases."""
    import garnet_hls  # noqa: F401
    import tf_keras as keras
    from qkeras import QActivation, QDense

    from garnet_hls.layers import GarNet, GarNetStack, GravNet

    keras.utils.set_random_seed(int(case["seed"]) * 100003 + int(case["index"]))
    V = case["V"]
    features = keras.Input((V, N_FEATURES), name="features")
    nvtx = keras.Input((1,), dtype="int32", name="nvtx")
    x = features
    for i, g in enumerate(case["graph"]):
        common = dict(collapse=g["collapse"], mean_by_nvert=g["mean_by_nvert"],
                      output_activation=g["output_activation"], name=f"graph{i}")
        if not g.get("float"):
            common.update(quantized=True, **g["quantizers"])
        if g["kind"] == "GarNet":
            layer = GarNet(g["n_aggregators"], g["n_filters"], g["n_propagate"], simplified=g["simplified"], **common)
        elif g["kind"] == "GarNetStack":
            layer = GarNetStack(g["n_aggregators"], g["n_filters"], g["n_propagate"], simplified=g["simplified"],
                                **common)
        else:
            layer = GravNet(g["n_dimensions"], g["n_filters"], g["n_propagate"], g["n_neighbours"],
                            distance=g["distance"], potential_scale=g["potential_scale"], **common)
        x = layer([x, nvtx])
    for i, h in enumerate(case["head"]):
        if h["kind"] == "QDense":
            x = QDense(h["units"], kernel_quantizer=h["kernel_quantizer"], bias_quantizer=h["bias_quantizer"],
                       use_bias=h["use_bias"], name=f"dense{i}")(x)
        elif h["kind"] == "QActivation":
            x = QActivation(h["activation"], name=f"act{i}")(x)
        elif h["kind"] == "Dense":
            x = keras.layers.Dense(h["units"], name=f"fdense{i}")(x)
        else:
            x = keras.layers.Activation("relu", name=f"frelu{i}")(x)
    model = keras.Model([features, nvtx], x)
    rng = np.random.default_rng([case["seed"], case["index"], 1])
    for w in model.weights:
        if "bias" in w.name:
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape))
    return model




def run_case(case: dict, n_events: int = 400, workdir=None, keep=False) -> CaseResult:
    """Convert, C-simulate and compare one case (an RTL case: trace, emulate and compare)."""
    from garnet_hls.backends import registry

    if registry.get_backend(case.get("backend") or registry.DEFAULT).family == "rtl":
        return run_rtl_case(case, n_events)
    from garnet_hls.errors import ToolFailure, UserError
    from garnet_hls.flows.compare import compare
    from garnet_hls.flows.convert import convert
    from garnet_hls.project import read_meta

    t0 = time.time()
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="garnet-fuzz-"))
    prj_dir = base / f"case_{case['seed']}_{case['index']}"
    ours = not prj_dir.exists()  # removed afterwards only if this case wrote it (never a directory found there)
    res = CaseResult(case, "ERROR")
    try:
        import tf_keras as keras

        keras.backend.clear_session()  # many cases in one process: do not let the graph grow
        try:
            model = build_model(case)
            prj = convert(None, None, prj_dir, force=True, overrides=hls_config(case), model=model)
            ours = True  # convert --force replaced it: a project garnet-hls wrote
        except UserError as e:  # a refusal; a tool's own failure (ToolFailure) is a defect: ERROR
            res.status, res.message = ("ERROR" if isinstance(e, ToolFailure) else "refused"), str(e)
            return res
        meta = read_meta(prj)
        res.labelled_exact = bool(meta["bit_exact"])
        res.reasons = [f"{r['layer']}: {r['reason']}" for r in meta.get("not_bit_exact", [])]
        first = model.get_layer("graph0")
        data = make_events(case, n_events, first.types.get("input") if first.quantized else None)
        r = compare(model, prj, data)
        res.n_events = r.n_events
        res.identical = min(o.identical_fraction for o in r.outputs)
        res.max_lsb = r.max_lsb()
        if r.divergence:
            res.divergence = f"{r.divergence.layer} ({100 * r.divergence.identical_fraction:.2f}%)"
        if res.labelled_exact:
            res.status = "ok" if r.bit_exact else "FAIL"
        else:
            res.status = "flagged"
    except Exception as e:  # noqa: BLE001 - a fuzzer reports every crash as a failure of that case
        res.status, res.message = "ERROR", f"{type(e).__name__}: {e}"
        res.message += "\n" + traceback.format_exc(limit=6)
    finally:
        res.seconds = time.time() - t0
        if not keep and ours:
            shutil.rmtree(prj_dir, ignore_errors=True)
            if not workdir:
                shutil.rmtree(base, ignore_errors=True)
    return res


def rtl_divergence(model, data) -> str:
    """The first layer (in model order) whose traced output differs from the Keras layer's, with its
    agreement: each prefix of the model is traced and emulated on its own."""
    import tf_keras as keras

    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        sub = keras.Model(model.inputs, layer.output)
        rt = _rtl().trace(sub, latency_cutoff=RTL_LATENCY_CUTOFF)
        ident, _ = _rtl_compare(rt, sub, data)
        if ident < 1.0:
            return f"{layer.name} ({100 * ident:.2f}%)"
    return ""


def exact_relu_variant(case: dict) -> dict | None:
    """The case with every QActivation(quantized_relu(b,i)) replaced by quantized_bits(b,i,keep_negative=0),
    the same function without QKeras' float32 cast (None when there is none)."""
    import copy

    from garnet_hls.core.fixed import parse_spec

    alt = copy.deepcopy(case)
    n = 0
    for h in alt["head"]:
        if h["kind"] == "QActivation" and str(h["activation"]).startswith("quantized_relu"):
            t = parse_spec(h["activation"])
            h["activation"] = f"quantized_bits({t.width},{t.integer},keep_negative=0,alpha=1)"
            n += 1
    return alt if n else None


def _behind_the_label(case: dict, n_events: int) -> str:
    """'' when the exact-relu variant of a flagged case is identical (or still labelled), else what differs."""
    alt = exact_relu_variant(case)
    if alt is None:
        return ""
    model = build_model(alt)
    rt = _rtl().trace(model, latency_cutoff=RTL_LATENCY_CUTOFF)
    if rt.not_bit_exact:
        return ""
    data = make_events(alt, n_events, model.get_layer("graph0").types.get("input"))
    ident, _ = _rtl_compare(rt, model, data)
    if ident == 1.0:
        return ""
    return f"with exact relu quantizers: {rtl_divergence(model, data) or f'{100 * ident:.2f}%'}"


def run_rtl_case(case: dict, n_events: int = 400) -> CaseResult:
    """Trace one case for the RTL backend (``latency_cutoff=5``), run da4ml's bit-exact emulator of the
    traced logic and compare it with the float64 Keras model bit for bit. A UserError of the trace is a
    refusal; anything else that goes wrong, or any differing value, is a failure."""
    from garnet_hls.errors import ToolFailure, UserError

    t0 = time.time()
    res = CaseResult(case, "ERROR")
    try:
        import tf_keras as keras

        keras.backend.clear_session()
        model = build_model(case)
        try:
            rt = _rtl().trace(model, latency_cutoff=RTL_LATENCY_CUTOFF)
        except UserError as e:  # a refusal; a tool's own failure (ToolFailure) is a defect: ERROR
            res.status, res.message = ("ERROR" if isinstance(e, ToolFailure) else "refused"), str(e)
            return res
        res.labelled_exact = not rt.not_bit_exact  # what `convert --backend RTL` labels
        res.reasons = [f"{e['layer']}: {e['reason']}" for e in rt.not_bit_exact]
        first = model.get_layer("graph0")
        data = make_events(case, n_events, first.types.get("input"))
        res.n_events = len(data["features"])
        res.identical, res.max_lsb = _rtl_compare(rt, model, data)
        if not res.labelled_exact:
            res.status = "flagged"
            if res.identical < 1.0:
                # look behind the label: with every quantized_relu replaced by the same function without
                # QKeras' float32 cast, a model labelled exact must be identical (case 159 hid a defect)
                behind = _behind_the_label(case, n_events)
                if behind:
                    res.status, res.divergence = "FAIL", behind
        elif res.identical == 1.0:
            res.status = "ok"
        else:
            res.status = "FAIL"
            res.divergence = rtl_divergence(model, data)
        _run_folded(case, model, data, res)
    except Exception as e:  # noqa: BLE001 - a fuzzer reports every crash as a failure of that case
        res.status, res.message = "ERROR", f"{type(e).__name__}: {e}"
        res.message += "\n" + traceback.format_exc(limit=6)
    finally:
        res.seconds = time.time() - t0
    return res


# ------------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------------
def _family(name: str) -> str:
    """The fuzzer's mode for a backend named any way the registry knows: hls or rtl."""
    from garnet_hls.backends import registry
    from garnet_hls.errors import UserError

    try:
        return registry.get_backend(name, "--backend").family
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def markdown(results: list[CaseResult], seed: int, n_events: int, elapsed: float, backend: str = "hls",
             command: str | None = None) -> str:
    n = len(results)
    exact = [r for r in results if r.labelled_exact]
    identical = [r for r in exact if r.status == "ok"]
    flagged = [r for r in results if r.status == "flagged"]
    refused = [r for r in results if r.status == "refused"]
    failed = [r for r in results if r.failed]
    keras3 = any(r.case.get("keras") == 3 for r in results)
    if keras3:
        cmd = command or f"python -m garnet_hls.flows.fuzz --keras 3 --backend {backend} -n {n} --seed {seed}"
        intro = [
            f"# Randomized Keras 3 / HGQ2 architectures: {backend.upper()} backend vs Keras 3",
            "",
            f"`{cmd}`, {elapsed / 60:.1f} min on this machine. Each case (garnet_hls/flows/fuzz_keras3.py): a "
            "random model of garnet_hls.keras3 graph layers (HGQ2 quantizers: fixed kif/kbi types, per-weight "
            "trainable widths of any rounding and overflow set to random values, now and then a data point the "
            "firmware cannot follow) and HGQ2 QDense heads (per-element input, kernel and bias widths), sent to "
            "the backend through the registry. RTL: traced (`trace(model, latency_cutoff="
            f"{RTL_LATENCY_CUTOFF:g})`), run in da4ml's bit-exact emulator of the traced logic and compared bit for "
            "bit with the float64 Keras 3 model on edge-case + calorimeter events; on a mismatch each prefix of "
            "the model is traced on its own and the first differing layer is named. HLS: converted through "
            "hls4ml 1.3's Keras 3 parser and our layer handlers (garnet_hls/backends/hls/keras3.py), "
            "C-simulated and compared bit for bit with the same float64 model.",
            "",
        ]
    elif backend == "rtl":
        cmd = command or f"python -m garnet_hls.flows.fuzz --backend rtl -n {n} --seed {seed} --events {n_events}"
        intro = [
            "# Randomized architectures: RTL (da4ml emulator) vs Keras",
            "",
            f"`{cmd}` (`make fuzz BACKEND=rtl N={n}`), {elapsed / 60:.1f} min on this machine. Each case: trace "
            f"the model for the RTL backend (`trace_model(model, latency_cutoff={RTL_LATENCY_CUTOFF:g})`), run "
            "da4ml's bit-exact emulator of the traced logic (the logic the Verilog is written from) and compare "
            "bit for bit with the float64 Keras model on edge-case + calorimeter events (features rounded to the "
            "first graph layer's input type, as the RTL port carries them). On a mismatch, each prefix of the "
            "model is traced on its own and the first differing layer is named.",
            "",
        ]
    else:
        cmd = command or f"python -m garnet_hls.flows.fuzz -n {n} --seed {seed} --events {n_events}"
        intro = [
            "# Randomized architectures: C simulation vs Keras",
            "",
            f"`{cmd}` (`make fuzz N={n}`), "
            f"{elapsed / 60:.1f} min on this machine. Each case: convert, default C simulation (the synthesized code), "
            "compare bit for bit with the float64 Keras model on edge-case + calorimeter events.",
            "",
        ]
    lines = intro + [
        f"* cases: {n}",
        f"* labelled bit-exact by the {'RTL trace' if backend == 'rtl' else 'converter'}: {len(exact)}, "
        f"of which 100% identical: {len(identical)}",
        f"* labelled not bit-exact (reason printed at conversion): {len(flagged)}",
        f"* refused by the converter (one-line error): {len(refused)}",
        f"* failures (labelled exact but different, or a crash): {len(failed)}",
        "",
    ]
    if backend == "rtl" and not keras3:
        folded = [r for r in results if r.folded and r.folded != "-"]
        fold_ok = [r for r in folded if r.folded.endswith(": 100.00%")]
        lines.insert(len(lines) - 1, f"* folded designs run (one GarNet/GarNetStack layer or chained GravNet blocks, L lanes drawn per case): "
                     f"{len(folded)}, of which 100% identical: {len(fold_ok)}")
        lines += ["| case | V | R | architecture | label | events | % identical | max LSB | folded | status |",
                  "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | --- |"]
    else:
        lines += ["| case | V | R | architecture | label | events | % identical | max LSB | status |",
                  "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | --- |"]
    for r in results:
        c = r.case
        label = {True: "exact", False: "not exact", None: "-"}[r.labelled_exact]
        ident = f"{100 * r.identical:.2f}" if r.identical is not None else "-"
        lsb = f"{r.max_lsb:g}" if r.max_lsb is not None else "-"
        status = r.status
        if r.status == "refused":
            status += ": " + r.message.replace("|", "/")[:120]
        elif r.status == "flagged":
            status += ": " + "; ".join(x.split(":")[0] for x in r.reasons)
        elif r.failed:
            # an HLS mismatch has no divergence (no per-layer C simulation) and no message: the numbers say it
            why = r.divergence or (r.message.splitlines() or [""])[0][:120]
            status += (": " + why.replace("|", "/")) if why else ""
        fold = f" {r.folded.replace('|', '/')[:80] or '-'} |" if backend == "rtl" else ""
        lines.append(f"| {c['seed']}:{c['index']} | {c['V']} | {c['reuse_factor']} | {describe(c)} | {label} | "
                     f"{r.n_events} | {ident} | {lsb} |{fold} {status} |")
    reasons = [(r, x) for r in results for x in r.reasons]
    if reasons:
        lines += ["", "## Why cases were labelled not bit-exact", ""]
        lines += [f"* {r.case['seed']}:{r.case['index']} {x}" for r, x in reasons]
    lines += ["", "Architecture: graph layers (A aggregators / S dimensions, F filters, P propagated, k neighbours, "
              "output activation, collapse, `nvtx` = mean by nvtx, `Nq` = N non-default quantizers) then the head; "
              "quantizers as s/u/r (signed, unsigned, relu) width.integer-bits of the ap type.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m garnet_hls.flows.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("-n", "--cases", type=int, default=20, help="number of cases (default 20)")
    p.add_argument("--seed", type=int, default=2026, help="run seed (default 2026)")
    p.add_argument("--case", type=int, help="run only this case index")
    p.add_argument("--start", type=int, default=0, help="first case index (default 0)")
    p.add_argument("--events", type=int, default=400, help="events per case (default 400)")
    p.add_argument("-o", "--output", help="write the markdown table here (and a .json next to it)")
    p.add_argument("--keep", help="keep the projects in this directory")
    p.add_argument("--backend", type=_family, default="hls", metavar="hls|rtl",
                   help="hls (= vivado, vitis): convert and C-simulate (default); rtl: trace for the RTL backend "
                        "and run da4ml's emulator of the traced logic (case-insensitive)")
    p.add_argument("--keras", type=int, choices=(2, 3), default=2,
                   help="2: tf_keras / QKeras models (default); 3: Keras 3 / HGQ2 models (garnet_hls.keras3; "
                        "garnet_hls/flows/fuzz_keras3.py)")
    args = p.parse_args(argv)
    import garnet_hls  # noqa: F401

    draw, run = draw_case, run_case
    if args.keras == 3:
        import garnet_hls.keras3  # noqa: F401  (before TensorFlow: this process is a Keras 3 one)

        draw, run = fuzz_keras3.draw_case, fuzz_keras3.run_case
    indices = [args.case] if args.case is not None else list(range(args.start, args.start + args.cases))
    results = []
    t0 = time.time()
    for i in indices:
        case = draw(args.seed, i, args.backend)
        r = run(case, args.events, workdir=args.keep, keep=bool(args.keep))
        results.append(r)
        ident = f"{100 * r.identical:.2f}%" if r.identical is not None else "-"
        print(f"[{len(results)}/{len(indices)}] {args.seed}:{i} {r.status:8s} {ident:>8s} "
              f"{r.seconds:5.1f}s  V={case['V']} R={case['reuse_factor']} {describe(case)}", flush=True)
        if r.failed or r.status == "refused":
            print("    " + (r.message or r.divergence).replace("\n", "\n    "), flush=True)
        if args.output:
            _write(args.output, results, args.seed, args.events, time.time() - t0, args.backend,
                   _command(argv))
    failed = [r for r in results if r.failed]
    n_exact = sum(1 for r in results if r.labelled_exact)
    print(f"{len(results)} cases: {n_exact} labelled bit-exact, {sum(r.status == 'ok' for r in results)} of them "
          f"100% identical; {sum(r.status == 'flagged' for r in results)} labelled not bit-exact; "
          f"{sum(r.status == 'refused' for r in results)} refused; {len(failed)} failures")
    return 1 if failed else 0


def _command(argv) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python -m garnet_hls.flows.fuzz", *args])


def _write(path, results, seed, n_events, elapsed, backend="hls", command=None):
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(results, seed, n_events, elapsed, backend, command))
    rows = [{"case": r.case, "status": r.status, "labelled_exact": r.labelled_exact, "identical": r.identical,
             "max_lsb": r.max_lsb, "n_events": r.n_events, "reasons": r.reasons, "message": r.message,
             "divergence": r.divergence, "seconds": round(r.seconds, 1)} for r in results]
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
