#!/usr/bin/env python3
"""Benchmark: garnet-hls C simulation (GarNet beside hls4ml's contrib GarNet; GravNet at V = 64, 128, 256).

Run by hand or with ``make bench`` (not a test). For every case it measures

* build: wall time of the g++ build of the C simulation library (ours: ``garnet_hls.backends.hls.csim.build`` on a
  project without a ``build/`` directory; hls4ml: ``ModelGraph._compile()``, i.e. its ``build_lib.sh``);
* the CPU time and the peak memory (max RSS, the biggest compiler process) of every g++ call, taken
  with ``getrusage(RUSAGE_CHILDREN)`` by a ``g++`` wrapper put first on PATH;
* C-simulation throughput in events/s on the same random events (features ~ N(0,1), nvtx uniform in
  [1, V]), best of ``--repeats`` runs, build excluded. hls4ml: ``hls_model.predict`` (what a user gets)
  and, separately, the raw per-event ctypes call.

GravNet cases (``gravnet_v<V>`` and ``gravnet_v<V>_fast``): the preset ``gravnet_paper`` (two GravNet blocks,
S=4, P=(8,16), filters (16,16), k=8, dense (16,8), quantized) at n_vertices = V, converted with
``configs/gravnet_paper.yml`` (reuse factor 32 on both GravNet layers), run on the built-in calorimeter events
(``garnet_hls.physics.data.generate_calo``) in both C-simulation modes: the default (the synthesized code, ap_int
containers) and ``fast`` (``CSim(prj, fast=True)``: 64-bit integer containers). Every case is checked bit for bit
against the float64 Keras model (``garnet_hls.flows.compare``), and the top-k selection network's size
(``topk_network_cost(V, k)``) is recorded.

Each case runs in its own Python process. Results go to ``benchmarks/results.md`` and ``results.json``; cases
not run this time are kept from the previous ``results.json`` with their own date (``--fresh`` drops them).
Other processes on the machine make the timings noisy: the load average is recorded with each case.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
V = 128
N_FEATURES = 4
SEED = 1234
PART = "xcku115-flvb2104-2-i"
CLOCK = 5
GARNET_RF = 32
HLS4ML_PRECISION = "ap_fixed<16,6>"
HLS4ML_NVTX_PRECISION = "ap_uint<16>"  # the Keras input is uint16
STACK = dict(n_aggregators=[4, 4, 8], n_filters=[8, 8, 16], n_propagate=[8, 8, 16])
SINGLE = dict(n_aggregators=4, n_filters=16, n_propagate=16)
Q8 = "quantized_bits(8,0,alpha=1)"
QACT = "quantized_relu(10,4)"

# case -> (row label, implementation, hls4ml counterpart for the ratio)
CASES = {
    "ours_paper": ("paper model: GarNetStack + dense head (2 outputs)", "garnet-hls", "hls4ml_stack"),
    "ours_stack": ("GarNetStack [4,4,8]/[8,8,16]/[8,8,16]", "garnet-hls", "hls4ml_stack"),
    "hls4ml_stack": ("GarNetStack [4,4,8]/[8,8,16]/[8,8,16]", "hls4ml", None),
    "ours_single": ("GarNet(4,16,16)", "garnet-hls", "hls4ml_single"),
    "hls4ml_single": ("GarNet(4,16,16)", "hls4ml", None),
}
TARGET_BUILD_S = 15.0
TARGET_PEAK_MIB = 1024.0

# GravNet: case -> (V, fast C-sim mode)
GRAVNET_PRESET = "gravnet_paper"
GRAVNET_VERTICES = (64, 128, 256)
GRAVNET_CASES = {f"gravnet_v{v}{'_fast' if fast else ''}": (v, fast) for v in GRAVNET_VERTICES for fast in (False, True)}
GRAVNET_RF = {64: 32, 128: 32, 256: 32}  # reuse factor of both GravNet layers (must divide V)
GRAVNET_LAYERS = ("gravnet1", "gravnet2")
GRAVNET_BIAS_RANGE = 0.5  # Glorot kernels as initialised (seeded) + uniform(-0.5, 0.5) biases, as the tests do
GRAVNET_TARGET = {"n_vertices": 128, "build_s": 60.0, "peak_mib": 2048.0, "events_per_s": 1000.0}
ALL_CASES = list(CASES) + list(GRAVNET_CASES)
GROUPS = {"garnet": list(CASES), "gravnet": list(GRAVNET_CASES), "all": ALL_CASES}
REFERENCE = {"hls4ml_single": 9400.0, "hls4ml_stack": 1400.0}  # events/s measured elsewhere (2 cores)

GXX_WRAPPER = """#!{python} -S
import json, os, resource, subprocess, sys, time
t0 = time.time()
rc = subprocess.call([{real!r}] + sys.argv[1:])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
rec = {{"args": sys.argv[1:], "wall_s": time.time() - t0, "cpu_s": ru.ru_utime + ru.ru_stime,
        "maxrss_kib": ru.ru_maxrss, "rc": rc, "start": t0}}
with open(os.environ["GARNET_BENCH_GXX_LOG"], "a") as f:
    f.write(json.dumps(rec) + "\\n")
sys.exit(rc)
"""


# ------------------------------------------------------------------------------------------------
# Worker side (one case per process)
# ------------------------------------------------------------------------------------------------
def make_events(n):
    import numpy as np

    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(n, V, N_FEATURES))
    nvtx = rng.integers(1, V + 1, size=(n, 1))
    return features, nvtx


def randomize(model):
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    model.set_weights([rng.uniform(-1, 1, size=w.shape).astype(w.dtype) for w in model.get_weights()])


def ours_model(kind):
    import tf_keras as keras
    from qkeras import QActivation, QDense

    from garnet_hls import GarNet, GarNetStack

    features = keras.Input((V, N_FEATURES), name="features")
    nvtx = keras.Input((1,), dtype="int32", name="nvtx")
    if kind == "single":
        x = GarNet(**SINGLE, simplified=True, collapse="mean", quantized=True, name="garnet")([features, nvtx])
        outputs = [x]
    else:
        x = GarNetStack(**STACK, simplified=True, collapse="mean", quantized=True, name="garnet")([features, nvtx])
        outputs = [x]
        if kind == "paper":
            for i, units in enumerate((16, 8), start=1):
                x = QDense(units, kernel_quantizer=Q8, bias_quantizer=Q8, name=f"dense{i}")(x)
                x = QActivation(QACT, name=f"act{i}")(x)
            outputs = [QDense(1, kernel_quantizer=Q8, bias_quantizer=Q8, name=head)(x)
                       for head in ("class_logit", "energy")]
    model = keras.Model([features, nvtx], outputs, name=f"ours_{kind}")
    randomize(model)
    return model


def hls4ml_model(kind):
    import tf_keras as keras
    from hls4ml.contrib.garnet import GarNet, GarNetStack

    x = keras.Input((V, N_FEATURES), name="features")
    n = keras.Input((1,), dtype="uint16", name="nvtx")
    common = dict(simplified=True, collapse="mean", input_format="xn", output_activation=None, name="garnet")
    if kind == "single":
        y = GarNet(**SINGLE, quantize_transforms=False, **common)([x, n])
    else:
        # hls4ml's GarNetStack tests `quantize_transforms is not None`: False would build quantized
        # transforms with total_bits=None and fail, so the unquantized stack needs None.
        y = GarNetStack(**STACK, quantize_transforms=None, **common)([x, n])
    model = keras.Model([x, n], y, name=f"hls4ml_{kind}")
    randomize(model)
    return model


def best_rate(fn, n, repeats):
    """Best-of-``repeats`` rates: (events per wall second, events per CPU second of this process, runs)."""
    runs = []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - w0, time.process_time() - c0))
    return n / min(w for w, _ in runs), n / min(c for _, c in runs), runs


def measure(res, key, fn_for, data_for, n, repeats):
    """Throughput on the random events and on the same events with every vertex valid (nvtx = V)."""
    res[f"{key}events_per_s"], res[f"{key}events_per_cpu_s"], res[f"{key}runs"] = best_rate(
        fn_for(data_for(False)), n, repeats)
    res[f"{key}full_events_per_s"], res[f"{key}full_events_per_cpu_s"], res[f"{key}full_runs"] = best_rate(
        fn_for(data_for(True)), n, repeats)


def gravnet_model(n_vertices):
    import numpy as np
    import tf_keras as keras

    from garnet_hls.models.build import build_preset_model

    keras.utils.set_random_seed(SEED)
    model = build_preset_model(GRAVNET_PRESET, n_vertices=n_vertices)
    rng = np.random.default_rng(SEED + 1)
    for w in model.weights:
        if "bias" in w.name:
            w.assign(rng.uniform(-GRAVNET_BIAS_RANGE, GRAVNET_BIAS_RANGE, size=w.shape))
    return model


def gravnet_worker(case, args, res, work):
    import numpy as np

    from garnet_hls.flows.compare import compare
    from garnet_hls.flows.convert import convert
    from garnet_hls.config import load_config
    from garnet_hls.backends.hls.csim import CSim, _cflags, build
    from garnet_hls.physics.data import generate_calo
    from garnet_hls.backends.hls.gravnet import full_sort_cost, topk_network_cost
    from garnet_hls.models.presets import config_path, preset

    n_vertices, fast = GRAVNET_CASES[case]
    k = preset(GRAVNET_PRESET)["k"]
    rf = GRAVNET_RF[n_vertices]
    data = generate_calo(args.events, n_vertices=n_vertices, seed=SEED)
    events = {"features": data["features"], "nvtx": data["nvtx"]}
    full = {"features": data["features"], "nvtx": np.full_like(data["nvtx"], n_vertices)}
    model = gravnet_model(n_vertices)
    cfg_file = config_path(GRAVNET_PRESET)
    hls_cfg = load_config(cfg_file)["HLSConfig"]
    for name in GRAVNET_LAYERS:
        hls_cfg.setdefault("LayerName", {}).setdefault(name, {})["ReuseFactor"] = rf
    t0 = time.perf_counter()
    prj = convert(None, cfg_file, str(work), force=True, overrides={"HLSConfig": hls_cfg}, model=model)
    res["convert_s"] = time.perf_counter() - t0
    shutil.rmtree(prj / "build", ignore_errors=True)
    log_mark = _log_mark()
    t0 = time.perf_counter()
    res["source"] = source_state(build(prj, fast=fast))
    res["build_s"] = time.perf_counter() - t0
    res["gxx"] = _log_since(log_mark)
    res["cflags"] = " ".join(_cflags(fast))
    sim = CSim(prj, fast=fast)  # the library is built: this only loads it
    measure(res, "", lambda d: (lambda: sim.run(d)), lambda f: full if f else events, args.events, args.repeats)
    n_chk = min(args.check_events, args.events)
    r = compare(model, prj, {"features": events["features"][:n_chk], "nvtx": events["nvtx"][:n_chk]}, sim=sim)
    res["check"] = {"events": n_chk, "bit_exact": r.bit_exact, "max_lsb": r.max_lsb()}
    comparators, stages = topk_network_cost(n_vertices, k)
    sort_c, sort_s = full_sort_cost(n_vertices)
    res["gravnet"] = {"preset": GRAVNET_PRESET, "n_vertices": n_vertices, "fast": fast, "k": k, "reuse_factor": rf,
                      "config": str(cfg_file.relative_to(REPO)), "hls_config": hls_cfg,
                      "data": f"generate_calo({args.events}, n_vertices={n_vertices}, seed={SEED})",
                      "mean_nvtx": float(np.mean(data["nvtx"])),
                      "topk_comparators": comparators, "topk_stages": stages,
                      "full_sort_comparators": sort_c, "full_sort_stages": sort_s}


def worker(case, args):
    import garnet_hls  # noqa: F401, I001  (first: the Keras-2 environment)
    import numpy as np

    if case in GRAVNET_CASES:
        work = Path(args.workdir) / case
        if work.exists():
            shutil.rmtree(work)
        res = {"case": case, "events": args.events, "repeats": args.repeats, "load_before": os.getloadavg(),
               "measured": _now()}
        gravnet_worker(case, args, res, work)
        res["load_after"] = os.getloadavg()
        Path(args.result).write_text(json.dumps(res, indent=2))
        return 0

    impl, kind = case.split("_", 1)
    work = Path(args.workdir) / case
    if work.exists():
        shutil.rmtree(work)
    features, nvtx = make_events(args.events)
    full_nvtx = np.full_like(nvtx, V)
    res = {"case": case, "events": args.events, "repeats": args.repeats, "load_before": os.getloadavg(),
           "measured": _now()}

    if impl == "ours":
        from garnet_hls.flows.compare import compare
        from garnet_hls.flows.convert import convert
        from garnet_hls.backends.hls.csim import CSim, _cflags, build

        model = ours_model(kind)
        cfg = {"Part": PART, "ClockPeriod": CLOCK,
               "HLSConfig": {"Model": {"ReuseFactor": 1}, "LayerName": {"garnet": {"ReuseFactor": GARNET_RF}}}}
        t0 = time.perf_counter()
        prj = convert(None, None, str(work), force=True, overrides=cfg, model=model)
        res["convert_s"] = time.perf_counter() - t0
        shutil.rmtree(prj / "build", ignore_errors=True)
        log_mark = _log_mark()
        t0 = time.perf_counter()
        res["source"] = source_state(build(prj))
        res["build_s"] = time.perf_counter() - t0
        res["gxx"] = _log_since(log_mark)
        res["cflags"] = " ".join(_cflags())
        sim = CSim(prj)  # the library is built: this only loads it
        measure(res, "", lambda d: (lambda: sim.run(d)),
                lambda full: {"features": features, "nvtx": full_nvtx if full else nvtx}, args.events, args.repeats)
        n_chk = min(args.check_events, args.events)
        r = compare(model, prj, {"features": features[:n_chk], "nvtx": nvtx[:n_chk]}, sim=sim)
        res["check"] = {"events": n_chk, "bit_exact": r.bit_exact, "max_lsb": r.max_lsb()}
    else:
        import hls4ml

        model = hls4ml_model(kind)
        cfg = hls4ml.converters.create_config(output_dir=str(work), project_name="myproject", backend="Vivado",
                                              io_type="io_parallel", part=PART, clock_period=CLOCK)
        cfg["KerasModel"] = model
        cfg["HLSConfig"] = {"Model": {"Precision": args.hls4ml_precision, "ReuseFactor": 1, "Strategy": "Latency"},
                            # nvtx must be an integer type: at the model precision (ap_fixed<16,6>) an nvtx
                            # >= 32 wraps, and hls4ml's kernel then stops early (fast, but wrong outputs).
                            "LayerName": {"garnet": {"ReuseFactor": GARNET_RF},
                                          "nvtx": {"Precision": HLS4ML_NVTX_PRECISION}}}
        t0 = time.perf_counter()
        hm = hls4ml.converters.keras_v2_to_hls(cfg)  # Keras-2 path: tf_keras model, contrib GarNet handler
        hm.write()
        res["convert_s"] = time.perf_counter() - t0
        log_mark = _log_mark()
        t0 = time.perf_counter()
        getattr(hm, "_compile", hm.compile)()  # build_lib.sh + dlopen (compile() would also re-write)
        res["build_s"] = time.perf_counter() - t0
        res["source"] = source_state()
        res["gxx"] = _log_since(log_mark)
        res["cflags"] = "build_lib.sh: -O3 -fPIC -std=c++23|c++11 [-fno-gnu-unique]"
        nf = np.ascontiguousarray(nvtx, dtype=np.float64)
        xs = [np.ascontiguousarray(features), nf]
        xs_full = [xs[0], np.ascontiguousarray(full_nvtx, dtype=np.float64)]
        measure(res, "", lambda d: (lambda: hm.predict(d)), lambda full: xs_full if full else xs,
                args.events, args.repeats)

        fn, _ = hm._get_top_function(xs)
        outs = [np.zeros(v.size(), dtype=np.float64) for v in hm.get_output_variables()]

        def raw(d):
            def run():
                for i in range(args.events):
                    fn(d[0][i], d[1][i], *outs)
            return run

        measure(res, "raw_", raw, lambda full: xs_full if full else xs, args.events, args.repeats)
        n_chk = min(args.check_events, args.events)
        y_hls = np.asarray(hm.predict([xs[0][:n_chk], nf[:n_chk]])).reshape(n_chk, -1)
        y_k = np.asarray(model.predict([features[:n_chk], nvtx[:n_chk].astype("uint16")], verbose=0))
        y_k = y_k.reshape(n_chk, -1)
        res["check"] = {"events": n_chk, "max_abs_diff_vs_keras": float(np.abs(y_hls - y_k).max()),
                        "max_abs_keras": float(np.abs(y_k).max())}
    res["load_after"] = os.getloadavg()
    Path(args.result).write_text(json.dumps(res, indent=2))
    return 0


def source_state(lib=None):
    """What code a case ran: HEAD, the files changed against it (the tree may be edited while this runs) and the
    C-sim library name (its hash covers the project's firmware sources and the g++ flags)."""
    def out(*cmd):
        try:
            return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=REPO).stdout
        except OSError:
            return ""

    dirty = [line[3:] for line in out("status", "--porcelain").splitlines()
             if line[3:].startswith(("firmware/", "garnet_hls/", "templates/"))]
    return {"head": out("rev-parse", "--short", "HEAD").strip(), "changed_files": dirty,
            "csim_lib": Path(lib).name if lib else None}


def _now():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _log_path():
    return Path(os.environ["GARNET_BENCH_GXX_LOG"])


def _log_mark():
    p = _log_path()
    return len(p.read_text().splitlines()) if p.exists() else 0


def _log_since(mark):
    p = _log_path()
    lines = p.read_text().splitlines()[mark:] if p.exists() else []
    recs = [json.loads(s) for s in lines]
    for r in recs:
        a = r.pop("args")
        if "-c" in a:
            r["what"] = "compile " + Path(a[a.index("-c") + 1]).name
        elif "-shared" in a:
            r["what"] = "link"
        elif "-fsyntax-only" in a:
            r["what"] = "flag probe"
        else:
            r["what"] = " ".join(a)[:80]
    return recs


# ------------------------------------------------------------------------------------------------
# Driver side
# ------------------------------------------------------------------------------------------------
def machine_info():
    cpu = ""
    mem = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout.strip()
        except OSError:
            return ""

    commit = out(["git", "rev-parse", "--short", "HEAD"])
    if out(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    try:
        from importlib.metadata import version
        hls4ml_version = version("hls4ml")
    except Exception:  # noqa: BLE001
        hls4ml_version = "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "platform": platform.platform(),
            "gxx": out(["g++", "--version"]).splitlines()[0] if shutil.which("g++") else "",
            "python": platform.python_version(), "hls4ml": hls4ml_version, "garnet_hls_commit": commit}


def summarize(res):
    compiles = [r for r in res["gxx"] if r["what"] != "flag probe"]
    res["peak_mib"] = max((r["maxrss_kib"] for r in res["gxx"]), default=0) / 1024
    res["gxx_cpu_s"] = sum(r["cpu_s"] for r in compiles)
    res["slowest_tu"] = max((r for r in compiles if r["what"].startswith("compile")), key=lambda r: r["cpu_s"],
                            default=None)
    return res


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def _load_range(rs):
    loads = [x for r in rs for x in (r["load_before"][0], r["load_after"][0])]
    return (min(loads), max(loads)) if loads else (0.0, 0.0)


def _dates(rs):
    d = sorted({r.get("measured", "?")[:16].replace("T", " ") for r in rs})
    return d[0] if len(d) == 1 else f"{d[0]} – {d[-1]}"


def _code_line(rs):
    srcs = [r["source"] for r in rs if r.get("source")]
    if not srcs:
        return []
    heads = sorted({x["head"] for x in srcs})
    changed = sorted({f for x in srcs for f in x["changed_files"]})
    return [f"- code: garnet-hls HEAD {', '.join(heads)}"
            + (f", with uncommitted changes to {', '.join(changed)}" if changed else ", no uncommitted changes")
            + " (per case in results.json: `source`)"]


def _bit_exact(r):
    c = r.get("check", {})
    return "yes" if c.get("bit_exact") else f"NO ({c.get('max_lsb', float('nan')):.3g} LSB)"


def gravnet_scaling(results):
    """Growth factors per doubling of V and the fitted exponent x (value ~ V^x) from the smallest to the largest V."""
    import math

    out = {}
    for fast in (False, True):
        rows = sorted((GRAVNET_CASES[c][0], r) for c, r in results.items() if c in GRAVNET_CASES
                      and GRAVNET_CASES[c][1] == fast)
        if len(rows) < 2:
            continue
        mode = {}
        for key in ("build_s", "gxx_cpu_s", "peak_mib", "events_per_s", "events_per_cpu_s", "full_events_per_cpu_s"):
            steps = [b[1][key] / a[1][key] for a, b in zip(rows, rows[1:])]
            x = math.log(rows[-1][1][key] / rows[0][1][key]) / math.log(rows[-1][0] / rows[0][0])
            mode[key] = {"n_vertices": [v for v, _ in rows], "step_factors": steps, "exponent": x}
        out["fast" if fast else "default"] = mode
    return out


def write_results(results, info, args, out_dir: Path):
    now = _now()
    lo, hi = _load_range(results.values())
    garnet = {c: r for c, r in results.items() if c in CASES}
    gravnet = {c: r for c, r in results.items() if c in GRAVNET_CASES}
    scaling = gravnet_scaling(gravnet)
    doc = {"date": now, "machine": info, "events": args.events, "repeats": args.repeats,
           "settings": {"n_vertices": V, "n_features": N_FEATURES, "garnet_reuse_factor": GARNET_RF, "part": PART,
                        "clock_period_ns": CLOCK, "hls4ml_precision": args.hls4ml_precision,
                        "hls4ml_nvtx_precision": HLS4ML_NVTX_PRECISION, "seed": SEED},
           "gravnet_settings": {"preset": GRAVNET_PRESET, "n_vertices": list(GRAVNET_VERTICES),
                                "reuse_factor": {str(k): v for k, v in GRAVNET_RF.items()},
                                "config": f"configs/{GRAVNET_PRESET}.yml", "events": "garnet_hls.physics.data.generate_calo",
                                "weights": f"Glorot kernels (keras seed {SEED}), biases uniform(-{GRAVNET_BIAS_RANGE}, "
                                           f"{GRAVNET_BIAS_RANGE})",
                                "targets": GRAVNET_TARGET},
           "load_average_1min": {"min": lo, "max": hi},
           "note": "Other processes may be running on this machine: timings are noisy (best of the repeats is kept "
                   "for throughput; build times are single runs). Each case has its own 'measured' date and load; "
                   "cases not re-run are kept from the previous results.json.",
           "reference_hls4ml_events_per_s": REFERENCE, "gravnet_scaling": scaling, "cases": results}
    (out_dir / "results.json").write_text(json.dumps(doc, indent=2) + "\n")

    rows = ["| model | implementation | build s | g++ CPU s | peak MiB | events/s | events/CPU-s | "
            "events/CPU-s, nvtx=V | hls4ml raw call events/s | ours / hls4ml: events/s, CPU, nvtx=V |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for case, (label, impl, other) in CASES.items():
        r = results.get(case)
        if r is None:
            continue
        ratio_s = "—"
        if other and other in results:
            o = results[other]
            ratio_s = " / ".join(f"{r[k] / o[k]:.2f}×" for k in ("events_per_s", "events_per_cpu_s",
                                                                 "full_events_per_cpu_s"))
            if case == "ours_paper":
                ratio_s += " (vs hls4ml stack, no head)"
        rows.append(f"| {label} | {impl} | {r['build_s']:.1f} | {r['gxx_cpu_s']:.1f} | {r['peak_mib']:.0f} | "
                    f"{r['events_per_s']:,.0f} | {r['events_per_cpu_s']:,.0f} | {r['full_events_per_cpu_s']:,.0f} | "
                    f"{fmt(r.get('raw_events_per_s'), ',.0f')} | {ratio_s} |")
    table = "\n".join(rows) if garnet else ""

    grows = ["| V | C-sim mode | top-k network per query vertex: comparators / stages | build s | g++ CPU s | "
             "peak MiB | events/s | events/CPU-s | events/CPU-s, nvtx=V | bit-exact | load (1 min) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for case, (nv, fast) in GRAVNET_CASES.items():
        r = results.get(case)
        if r is None:
            continue
        g = r["gravnet"]
        grows.append(f"| {nv} | {'fast (int64)' if fast else 'default (ap_int)'} | "
                     f"{g['topk_comparators']:,} / {g['topk_stages']} | {r['build_s']:.1f} | {r['gxx_cpu_s']:.1f} | "
                     f"{r['peak_mib']:.0f} | {r['events_per_s']:,.0f} | {r['events_per_cpu_s']:,.0f} | "
                     f"{r['full_events_per_cpu_s']:,.0f} | {_bit_exact(r)} | "
                     f"{r['load_before'][0]:.1f} – {r['load_after'][0]:.1f} |")
    gtable = "\n".join(grows) if gravnet else ""

    lines = ["# garnet-hls C-simulation benchmark: GarNet (beside hls4ml) and GravNet (V = 64, 128, 256)", "",
             f"- written: {now}",
             f"- machine: {info['nproc']} CPUs, {info['cpu']}, {info['memory']}; {info['gxx']}",
             f"- versions: garnet-hls {info['garnet_hls_commit']}, hls4ml {info['hls4ml']}, "
             f"Python {info['python']}",
             f"- load average (1 min) over all cases: {lo:.2f} – {hi:.2f}. Other processes may be "
             "running: timings are noisy. Each case records its own date and load (results.json: `measured`, "
             "`load_before`, `load_after`).",
             f"- throughput = best of {args.repeats} runs of {args.events} events, build excluded."]
    if garnet:
        glo, ghi = _load_range(garnet.values())
        lines += ["", "## GarNet: garnet-hls vs hls4ml", "",
                  f"- measured {_dates(garnet.values())}, load average (1 min) {glo:.2f} – {ghi:.2f}",
                  *_code_line(garnet.values()),
                  f"- V={V}, {N_FEATURES} features, GarNet reuse factor {GARNET_RF}; random events "
                  f"(features N(0,1), nvtx uniform in [1,{V}]). hls4ml at {args.hls4ml_precision}, its nvtx input at "
                  f"{HLS4ML_NVTX_PRECISION}.",
                  "", table, "",
                  "- build s: wall time of the g++ build (ours: 3 translation units in parallel, then link; hls4ml: "
                  "`build_lib.sh`, 2 units in sequence). g++ CPU s: summed CPU time of the compiles and link "
                  "(less sensitive to load). peak MiB: max RSS of the biggest g++ process.",
                  "- events/s: ours = `CSim.run` (batched library call); hls4ml = `hls_model.predict` (its per-event "
                  "Python loop). events/CPU-s: the same runs divided by the CPU time of the process (best of the "
                  "repeats; far less sensitive to other load than wall time). nvtx=V: the same events with every "
                  "vertex valid (equal work per event for both: hls4ml's kernel stops its vertex loops at nvtx). raw "
                  "call: hls4ml's ctypes top function called per event from Python, wall time.",
                  f"- hls4ml reference numbers measured elsewhere (2 cores): single ~{REFERENCE['hls4ml_single']:,.0f}, "
                  f"stack ~{REFERENCE['hls4ml_stack']:,.0f} events/s, ~6.5 s build, ~375 MiB.",
                  f"- hls4ml's nvtx input is set to {HLS4ML_NVTX_PRECISION}: left at the model precision "
                  "(ap_fixed<16,6>) an nvtx >= 32 wraps, its kernel stops its vertex loops early and the outputs are "
                  "wrong (the Keras check below then shows max |diff| ≈ max |y|)."]
    if gravnet:
        glo, ghi = _load_range(gravnet.values())
        any_r = next(iter(gravnet.values()))
        nvtx_means = ", ".join(f"V={GRAVNET_CASES[c][0]}: {r['gravnet']['mean_nvtx']:.0f}"
                               for c, r in gravnet.items() if not GRAVNET_CASES[c][1])
        lines += ["", "## GravNet: cost against V", "",
                  f"- measured {_dates(gravnet.values())}, load average (1 min) {glo:.2f} – {ghi:.2f}",
                  *_code_line(gravnet.values()),
                  f"- preset `{GRAVNET_PRESET}` (two GravNet blocks, S=4, P=(8,16), filters (16,16), "
                  f"k={any_r['gravnet']['k']}, dense (16,8), quantized) with n_vertices = V, converted with "
                  f"`configs/{GRAVNET_PRESET}.yml`, reuse factor "
                  + ", ".join(f"{GRAVNET_RF[v]} (V={v})" for v in GRAVNET_VERTICES)
                  + " on both GravNet layers; Glorot kernels as initialised (seeded) and uniform(-0.5, 0.5) biases.",
                  f"- events: `generate_calo(n, n_vertices=V, seed={SEED})` (electrons and pions; mean nvtx "
                  f"{nvtx_means or '—'}); nvtx=V: the same events with every slot counted as a vertex (the padding "
                  "slots are zeros), the most work per event.",
                  "- default: `CSim(prj)`, exactly the synthesized code (ap_int containers); fast: "
                  "`CSim(prj, fast=True)` / `garnet-hls csim --fast` (64-bit integer containers). Each mode is its "
                  "own library, built in its own process from a fresh project.",
                  "- top-k network: `garnet_hls.backends.hls.gravnet.topk_network_cost(V, k)`, the selection network of ONE "
                  "query vertex; the layer has V of them (V/R in hardware at reuse factor R).",
                  "- bit-exact: C sim vs the float64 Keras model (`garnet_hls.flows.compare`) on the first "
                  f"{any_r['check']['events']} events.",
                  "", gtable, ""]
        lines += gravnet_scaling_lines(scaling, nvtx_means)
        lines += gravnet_target_lines(gravnet)
    lines += ["", "## Translation units", "",
              "| case | unit | wall s | CPU s | max RSS MiB |", "|---|---|---:|---:|---:|"]
    for case, r in results.items():
        for g in r["gxx"]:
            if g["what"] == "flag probe":
                continue
            lines.append(f"| {case} | {g['what']} | {g['wall_s']:.1f} | {g['cpu_s']:.1f} | "
                         f"{g['maxrss_kib'] / 1024:.0f} |")
    lines += ["", "## Checks", ""]
    for flags in sorted({r["cflags"] for c, r in results.items() if not c.startswith("hls4ml")}):
        lines.append(f"- our g++ flags (garnet_hls.backends.hls.csim._cflags): `{flags}`")
    for case, r in results.items():
        c = r.get("check", {})
        if "bit_exact" in c:
            lines.append(f"- {case}: C sim vs float64 Keras on {c['events']} events: "
                         f"{'bit-exact' if c['bit_exact'] else 'NOT bit-exact, max %.3g LSB' % c['max_lsb']}")
        else:
            lines.append(f"- {case}: hls4ml C sim vs its float Keras layer on {c['events']} events: max |diff| "
                         f"{c['max_abs_diff_vs_keras']:.3g} (max |y| {c['max_abs_keras']:.3g})")
    p = results.get("ours_paper")
    if p:
        ok_t = p["build_s"] <= TARGET_BUILD_S
        ok_m = p["peak_mib"] <= TARGET_PEAK_MIB
        lines.append(f"- paper model build target (<= {TARGET_BUILD_S:.0f} s, <= {TARGET_PEAK_MIB:.0f} MiB): "
                     f"{p['build_s']:.1f} s {'ok' if ok_t else 'OVER'}, {p['peak_mib']:.0f} MiB "
                     f"{'ok' if ok_m else 'OVER'}" + ("" if ok_t else
                                                      f"; slowest unit: {p['slowest_tu']['what']} "
                                                      f"({p['slowest_tu']['cpu_s']:.1f} CPU s)"))
    for mine, theirs in (("ours_single", "hls4ml_single"), ("ours_stack", "hls4ml_stack")):
        if mine in results and theirs in results:
            m, t = results[mine], results[theirs]
            ratio = m["events_per_cpu_s"] / t["events_per_cpu_s"]
            verdict = "ok" if ratio >= 1 else "SLOWER than hls4ml"
            lines.append(f"- throughput target {mine} >= {theirs} (aim 3×), events/CPU-s: {ratio:.2f}× — {verdict} "
                         f"(wall: {m['events_per_s'] / t['events_per_s']:.2f}×; nvtx=V: "
                         f"{m['full_events_per_cpu_s'] / t['full_events_per_cpu_s']:.2f}×)")
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    return "\n\n".join(t for t in (table, gtable) if t)


def gravnet_scaling_lines(scaling, nvtx_means):
    if not scaling:
        return []
    names = {"build_s": "build wall s", "gxx_cpu_s": "g++ CPU s", "peak_mib": "peak MiB",
             "events_per_cpu_s": "events/CPU-s", "full_events_per_cpu_s": "events/CPU-s at nvtx=V"}
    out = ["Scaling (factor per doubling of V, in order; x = fitted exponent, value ∝ V^x, smallest to largest V):", ""]
    for mode, m in scaling.items():
        parts = []
        for key, label in names.items():
            s = m[key]
            parts.append(f"{label} " + ", ".join(f"×{f:.2f}" for f in s["step_factors"]) + f" (x = {s['exponent']:.2f})")
        out.append(f"- {mode}: " + "; ".join(parts))
    flat = all(abs(m[k]["exponent"]) < 0.25 for m in scaling.values() for k in ("gxx_cpu_s", "peak_mib"))
    out += [("- build: g++ time and peak memory do not grow measurably with V (the same templates with other "
             "constants). " if flat else "- build: g++ time or peak memory grows with V (see the factors). ")
            + "Throughput: per event, each valid query vertex computes V distances and runs a top-k network over all "
            "V slots (comparators ∝ V, see the table), so this part costs ∝ nvtx·V, while the input/output "
            "transforms and the aggregation over the k neighbours cost ∝ nvtx. With every slot valid (nvtx = V) the "
            "cost per event therefore grows between V and V² (the nvtx=V exponents above); on the calorimeter "
            f"events nvtx saturates (mean {nvtx_means}), so beyond V=128 the cost grows well below V.", ""]
    return out


def gravnet_target_lines(gravnet):
    t = GRAVNET_TARGET
    out = []
    for case, (nv, fast) in GRAVNET_CASES.items():
        r = gravnet.get(case)
        if r is None or nv != t["n_vertices"]:
            continue
        ok = [r["build_s"] <= t["build_s"], r["peak_mib"] <= t["peak_mib"], r["events_per_s"] >= t["events_per_s"]]
        out.append(f"- target V={nv} ({'fast' if fast else 'default'} mode): build <= {t['build_s']:.0f} s: "
                   f"{r['build_s']:.1f} s {'ok' if ok[0] else 'OVER'}; peak <= {t['peak_mib'] / 1024:.0f} GiB: "
                   f"{r['peak_mib']:.0f} MiB {'ok' if ok[1] else 'OVER'}; >= {t['events_per_s']:,.0f} events/s: "
                   f"{r['events_per_s']:,.0f} (wall), {r['events_per_cpu_s']:,.0f} per CPU-s "
                   f"{'ok' if ok[2] else 'UNDER' + (' (per CPU-s ok: the load)' if r['events_per_cpu_s'] >= t['events_per_s'] else '')}")
    return out


def merge_previous(results, path: Path):
    """The new results plus the previous results.json's other cases (each keeps its own date), in case order."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return results
    merged = {}
    for case in ALL_CASES:
        if case in results:
            merged[case] = results[case]
        elif case in old.get("cases", {}):
            r = old["cases"][case]
            r.setdefault("measured", old.get("date", "?"))
            r.setdefault("events", old.get("events"))
            r.setdefault("repeats", old.get("repeats"))
            merged[case] = r
            print(f"{case}: kept from {path.name} (measured {r['measured']})")
    return merged


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000, help="events per throughput run (default 5000)")
    ap.add_argument("--repeats", type=int, default=3, help="throughput runs per case, best kept (default 3)")
    ap.add_argument("--check-events", type=int, default=200, help="events of the Keras agreement check")
    ap.add_argument("--cases", default="all",
                    help=f"comma-separated cases or groups ({', '.join(GROUPS)}); cases: {', '.join(ALL_CASES)}")
    ap.add_argument("--fresh", action="store_true",
                    help="write only the cases run now (default: keep the others from the previous results.json)")
    ap.add_argument("--out-dir", default=str(HERE), help="where results.md/json go (default benchmarks/)")
    ap.add_argument("--hls4ml-precision", default=HLS4ML_PRECISION,
                    help=f"hls4ml's model precision (default {HLS4ML_PRECISION})")
    ap.add_argument("--keep", action="store_true", help="keep the generated projects (printed at the end)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args)

    cases = []
    for c in (c.strip() for c in args.cases.split(",") if c.strip()):
        for x in GROUPS.get(c, [c]):
            if x not in cases:
                cases.append(x)
    bad = [c for c in cases if c not in ALL_CASES]
    if bad or args.events < 1 or args.repeats < 1:
        ap.error(f"unknown case {bad[0]!r}" if bad else "--events and --repeats must be >= 1")
    real_gxx = shutil.which("g++")
    if real_gxx is None:
        sys.exit("g++ is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="garnet-bench-"))
    wrap = work / "bin"
    wrap.mkdir()
    (wrap / "g++").write_text(GXX_WRAPPER.format(python=sys.executable, real=real_gxx))
    (wrap / "g++").chmod(0o755)
    env = dict(os.environ, PATH=f"{wrap}{os.pathsep}{os.environ.get('PATH', '')}",
               GARNET_BENCH_GXX_LOG=str(work / "gxx.jsonl"), TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
    info = machine_info()
    print(f"{info['nproc']} CPUs ({info['cpu']}), load {os.getloadavg()[0]:.2f}; work dir {work}", flush=True)
    results = {}
    try:
        for case in cases:
            t0 = time.time()
            out = work / f"{case}.json"
            log = work / f"{case}.log"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case, "--workdir", str(work),
                   "--result", str(out), "--events", str(args.events), "--repeats", str(args.repeats),
                   "--check-events", str(args.check_events), "--hls4ml-precision", args.hls4ml_precision]
            with open(log, "w") as f:
                rc = subprocess.call(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
            if rc != 0 or not out.exists():
                print(f"{case}: FAILED (exit {rc}); last lines of {log}:", file=sys.stderr)
                print("\n".join(log.read_text().splitlines()[-25:]), file=sys.stderr)
                continue
            r = summarize(json.loads(out.read_text()))
            results[case] = r
            print(f"{case:14s} build {r['build_s']:5.1f} s  peak {r['peak_mib']:5.0f} MiB  "
                  f"{r['events_per_s']:8,.0f} events/s  {r['events_per_cpu_s']:8,.0f} events/CPU-s  (load {r['load_after'][0]:.2f}; {time.time() - t0:.0f} s)",
                  flush=True)
        if not results:
            return 1
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if not args.fresh:
            results = merge_previous(results, out_dir / "results.json")
        table = write_results(results, info, args, out_dir)
        print()
        print(table)
        print(f"\nwrote {out_dir / 'results.md'} and {out_dir / 'results.json'}")
    finally:
        if args.keep:
            print(f"projects kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if len(results) == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
