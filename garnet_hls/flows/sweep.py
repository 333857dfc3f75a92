"""Design-space sweeps on Dask: ``garnet-hls sweep MODEL -c CONFIG --reuse 8,16,32 --precision model,w6 -o DIR``.

One *point* per combination of reuse factor x precision x backend. Each point, on a Dask worker:

1. builds the point's Keras model: the model as given (``model``) or a re-quantized clone of it
   (``wN`` / ``aM`` / ``wNaM``, see :func:`parse_precision`);
2. converts it (:func:`garnet_hls.flows.convert.convert`) with ``ReuseFactor = R`` on every GarNet/GravNet layer;
3. builds the C simulation and checks it bit for bit against *that* Keras model on the events
   (:func:`garnet_hls.flows.compare.compare`);
4. computes the physics metric of the firmware's outputs on the events: the AUC of the class output
   against ``label``, and the energy response/resolution of the ``energy`` output against ``energy``;
5. estimates latency, interval and resources (HLS backend; every figure labelled ``estimated_``) and,
   with ``--synth vivado``, runs C synthesis through ``garnet-hls synth`` and reads its report.

What ``--precision`` varies
---------------------------
A precision token re-quantizes the model *after training*: the float weights stay as they are and the
QKeras quantizers are replaced in a clone of the model (``to_json`` -> edit -> ``model_from_json`` ->
``set_weights``). ``wN`` gives every weight quantizer (``kernel_quantizer`` and ``bias_quantizer`` of the
QDense and GarNet/GravNet layers) ``N`` bits, keeping its integer bits and options, so
``quantized_bits(8,0,alpha=1)`` becomes ``quantized_bits(6,0,alpha=1)`` for ``w6``. ``aM`` gives every
``QActivation`` quantizer ``M`` bits with its integer bits kept (``quantized_relu(10,4)`` ->
``quantized_relu(8,4)`` for ``a8``). ``model`` keeps the model as trained. The firmware's types are then
derived from the new quantizers by the converter, and bit-exactness is checked against the
re-quantized Keras model, so a point is labelled bit-exact only when its firmware equals that model.
The hls4ml ``Model.Precision`` is *not* swept: our converter derives every type from the quantizers,
so it would either change nothing or break bit-exactness. No retraining happens: the physics metric
shows what post-training re-quantization costs.

Resuming
--------
Each point's result is written atomically to ``DIR/points/<key>.json`` as soon as it arrives. The key
is a SHA-256 of the model file's bytes, the config, the point's parameters, the events and the tool
versions (garnet-hls sources, hls4ml, QKeras, TensorFlow, g++, the synthesis tool). Running the same
command again skips every point whose file exists (failed points too, unless ``--retry-failed``), so
Ctrl-C loses only the points in flight. ``DIR/results.json`` is rewritten after every point.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from garnet_hls.backends import registry
from garnet_hls.errors import ToolNotFoundError, UserError
from garnet_hls.flows.sweep_report import (DEFAULT_OBJECTIVES, OBJECTIVES, _atomic_write, _one_line,  # noqa: F401
                                           format_table, keeps_physics, pareto_keys, parse_objectives,
                                           parse_tolerance, point_label, recommend, summarize, sweep_figure,
                                           write_html, write_plot)
from garnet_hls.flows.sweep_physics import float_model, keras_outputs, physics_metrics, reference_physics  # noqa: F401
from garnet_hls.flows.sweep_quiet import WORKER_ENV, captured_output, quiet_libraries, read_log

SYNTH_TOOLS = ("none",) + registry.TOOLS  # and every spelling registry.tool_name takes (vivado = hls)
DEFAULT_EVENTS = 1000
DEFAULT_WORKERS = 2
DEFAULT_TOLERANCE = "0.005"  # --max-auc-loss and --max-resolution-loss: absolute, against the unswept model
DATA_SEED = 12345  # seed of the built-in calorimeter events when --data is not given
RESULTS = "results.json"
PLOT = "sweep.png"
PAGE = "sweep.html"
LOGS = "logs"  # SWEEP_DIR/logs/<key>.log: everything a point's worker printed

#: Resources of a few parts (LUT, FF, DSP, 18 Kb block RAM), drawn as the device's capacity. The
#: xc7z020, xc7z030, xczu9eg, xczu49dr, xcu55c and xcu250 rows are the "Available" rows of Vivado/Vitis
#: HLS C-synthesis reports for those parts; xcku115 and xcvu9p are from AMD's UltraScale / UltraScale+
#: product tables (DS890). For another part, give ``--capacity LUT,DSP``.
DEVICE_CAPACITY = {
    "xc7z020": {"lut": 53200, "ff": 106400, "dsp": 220, "bram_18k": 280},
    "xc7z030": {"lut": 78600, "ff": 157200, "dsp": 400, "bram_18k": 530},
    "xczu9eg": {"lut": 274080, "ff": 548160, "dsp": 2520, "bram_18k": 1824},
    "xczu49dr": {"lut": 425280, "ff": 850560, "dsp": 4272, "bram_18k": 2160},
    "xcku115": {"lut": 663360, "ff": 1326720, "dsp": 5520, "bram_18k": 4320},
    "xcvu9p": {"lut": 1182240, "ff": 2364480, "dsp": 6840, "bram_18k": 4320},
    "xcu55c": {"lut": 1303680, "ff": 2607360, "dsp": 9024, "bram_18k": 4032},
    "xcu250": {"lut": 1728000, "ff": 3456000, "dsp": 12288, "bram_18k": 5376},
    "xcvu13p": {"lut": 1728000, "ff": 3456000, "dsp": 12288, "bram_18k": 5376},  # the xcu250's device
}


# ------------------------------------------------------------------------------------------------
# Points
# ------------------------------------------------------------------------------------------------
_PREC_RE = re.compile(r"^(?:w(\d+))?(?:a(\d+))?$")


def parse_precision(token: str) -> dict[str, int | None] | None:
    """``model`` -> None (as trained); ``wN``, ``N``, ``aM``, ``wNaM`` -> {'weight': N, 'activation': M}."""
    t = str(token).strip().lower()
    if t in ("model", "keep", ""):
        return None
    if t.isdigit():
        t = f"w{t}"
    m = _PREC_RE.match(t)
    if not m or not (m.group(1) or m.group(2)):
        raise UserError(f"precision {token!r} is not one of: model, wN (weight bits), aM (activation bits), wNaM")
    w, a = (int(g) if g else None for g in m.groups())
    for name, v in (("weight", w), ("activation", a)):
        if v is not None and not 2 <= v <= 32:
            raise UserError(f"precision {token!r}: {name} bits must be in [2, 32]")
    return {"weight": w, "activation": a}


def canonical_precision(token: str) -> str:
    p = parse_precision(token)
    if p is None:
        return "model"
    return "".join(f"{k[0]}{v}" for k, v in p.items() if v is not None)


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{what} takes comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise UserError(f"{what} takes positive integers, got {text!r}")
    return list(dict.fromkeys(values))


def make_points(reuse, precision=("model",), backend=(registry.DEFAULT,), synth="none") -> list[dict[str, Any]]:
    """Every combination, in a stable order: [{'reuse': R, 'precision': P, 'backend': B, 'synth': S}].

    ``synth`` applies to the backends that take that tool; the others' points are estimated (``none``),
    so ``--backend vivado,rtl --synth yosys`` synthesizes the rtl points with Yosys and estimates the HLS
    ones. A tool that no backend of the sweep takes is one line."""
    backend = list(dict.fromkeys(registry.backend_name(b) for b in backend))  # hls = vivado, RTL = rtl, ...
    synth = "none" if str(synth).strip().lower() == "none" else registry.tool_name(synth)
    takes = {b: synth == "none" or synth in registry.get_backend(b).synth_tools for b in backend}
    if not any(takes.values()):
        b = backend[0]
        tools = ", ".join(registry.get_backend(b).synth_tools)
        raise UserError(f"--synth {synth} does not apply to the {' or '.join(backend)} backend (it is synthesized "
                        f"with {tools})")
    precs = list(dict.fromkeys(canonical_precision(p) for p in precision))
    return [{"reuse": int(r), "precision": p, "backend": b, "synth": synth if takes[b] else "none"}
            for b, p, r in itertools.product(backend, precs, reuse)]


# ------------------------------------------------------------------------------------------------
# Content hash
# ------------------------------------------------------------------------------------------------
#: Sources that only render results (table, plot, page): a change to them does not redo any point.
_RENDERING_ONLY = ("sweep_report.py",)


def _package_digest() -> str:
    """SHA-256 of garnet-hls' own sources, kernels and templates: a changed kernel is a new tool version.
    The report's renderer (:data:`_RENDERING_ONLY`) is left out: it reads results, it makes none."""
    from garnet_hls.resources import firmware_dir, templates_dir

    pkg = Path(__file__).resolve().parent
    files = sorted(pkg.rglob("*.py"))
    for d in (firmware_dir(), templates_dir()):
        files += sorted(p for p in d.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        if "__pycache__" in f.parts or (f.name in _RENDERING_ONLY and f.parent.name == "flows"):
            continue
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0] if out else "unknown"


def tool_versions(synth: str = "none") -> dict[str, str]:
    from importlib import metadata

    import garnet_hls

    v = {"garnet-hls": garnet_hls.__version__, "garnet-hls-sources": _package_digest()}
    for dist in ("hls4ml", "qkeras", "tensorflow", "tf_keras"):
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v[dist] = "absent"
    v["g++"] = _first_line(["g++", "--version"]) if shutil.which("g++") else "absent"
    if synth != "none":
        for b in registry.all_backends():
            if synth in b.synth_tools:
                v.update(b.tool_versions(synth))
    return v


def _hash_json(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def data_digest(data: dict) -> str:
    import numpy as np

    h = hashlib.sha256()
    for k in sorted(data):
        v = data[k]
        if isinstance(v, np.ndarray):
            h.update(k.encode())
            h.update(str(v.dtype).encode())
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()[:16]


def point_key(model_sha: str, config: dict, params: dict, data_sha: str, versions: dict) -> str:
    return _hash_json({"model": model_sha, "config": config, "point": params, "data": data_sha,
                       "tools": versions})[:20]


# ------------------------------------------------------------------------------------------------
# Re-quantizing a model (what --precision varies)
# ------------------------------------------------------------------------------------------------
_SPEC_RE = re.compile(r"^\s*(quantized_bits|quantized_relu)\s*\(\s*(\d+)\s*(,.*)?\)\s*$")


def _with_bits(q, bits: int):
    """The same quantizer (string spec or serialized dict) with ``bits`` total bits."""
    if isinstance(q, str):
        m = _SPEC_RE.match(q)
        if not m:
            raise UserError(f"cannot re-quantize quantizer {q!r}: only quantized_bits / quantized_relu are supported")
        return f"{m.group(1)}({bits}{m.group(3) or ''})"
    if isinstance(q, dict) and q.get("class_name") in ("quantized_bits", "quantized_relu"):
        q = copy.deepcopy(q)
        q["config"]["bits"] = bits
        return q
    raise UserError(f"cannot re-quantize quantizer {q!r}: only quantized_bits / quantized_relu are supported")


def requantize(model, precision: str):
    """The model with its weight (``wN``) and/or activation (``aM``) quantizers set to N / M bits, same
    float weights (see the module docstring). ``model`` returns the model itself. Raises UserError when
    the precision changes nothing in this model (it has no such quantizer)."""
    spec = parse_precision(precision)
    if spec is None:
        return model
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    arch = json.loads(model.to_json())
    changed = {"weight": 0, "activation": 0}
    for entry in arch["config"]["layers"]:
        cfg, cls = entry["config"], entry["class_name"]
        if spec["weight"] is not None:
            for key in ("kernel_quantizer", "bias_quantizer"):
                if cfg.get(key) is not None:
                    cfg[key] = _with_bits(cfg[key], spec["weight"])
                    changed["weight"] += 1
        if spec["activation"] is not None and cls == "QActivation":
            cfg["activation"] = _with_bits(cfg["activation"], spec["activation"])
            changed["activation"] += 1
    for what, n in changed.items():
        if spec[what] is not None and n == 0:
            raise UserError(f"precision {precision!r}: the model has no {what} quantizer to re-quantize")
    objects = {}
    _add_supported_quantized_objects(objects)
    clone = keras.models.model_from_json(json.dumps(arch), custom_objects=objects)
    clone.set_weights(model.get_weights())
    return clone


def graph_layers(model) -> dict[str, int]:
    """GarNet/GravNet layers of the model -> their number of vertices V."""
    from garnet_hls.layers.common import QuantizedGraphLayer

    return {layer.name: layer.n_vertices for layer in model.layers if isinstance(layer, QuantizedGraphLayer)}


def point_config(config: dict, layers, reuse: int) -> dict:
    """The config with ``ReuseFactor = reuse`` on every GarNet/GravNet layer (other layers as configured)."""
    cfg = copy.deepcopy(config)
    hls = cfg.setdefault("HLSConfig", {}) or {}
    cfg["HLSConfig"] = hls
    names = hls.setdefault("LayerName", {}) or {}
    hls["LayerName"] = names
    for name in layers:
        names[name] = dict(names.get(name) or {}, ReuseFactor=int(reuse))
    return cfg


# ------------------------------------------------------------------------------------------------
# One point (runs on a worker; needs only garnet-hls installed)
# ------------------------------------------------------------------------------------------------
def _synthesize(project: Path, tool: str) -> dict[str, Any]:
    """Synthesis of one point by its backend; raises UserError / ToolNotFoundError (one line) when it cannot run."""
    with open(project / "sweep_synth.out", "w") as log:
        return registry.backend_of(project).synth_point(project, tool, log)


@functools.lru_cache(maxsize=None)
def _worker_versions(synth: str) -> dict[str, str]:
    return tool_versions(synth)


def _warm() -> dict[str, Any]:
    """Import the heavy modules once per worker, so that the first point does not pay for it, with the
    libraries' chatter muted and whatever is still printed kept as the worker's start-up log."""
    t0 = time.perf_counter()
    fd, log = tempfile.mkstemp(prefix="garnet-sweep-warm-", suffix=".log")
    os.close(fd)
    try:
        with captured_output(log):
            quiet_libraries()
            import garnet_hls  # noqa: F401
            import garnet_hls.flows.compare  # noqa: F401
            import garnet_hls.flows.convert  # noqa: F401
            import garnet_hls.models.build  # noqa: F401
            import hls4ml  # noqa: F401

            quiet_libraries()  # absl is imported now
        return {"seconds": time.perf_counter() - t0, "log": read_log(log)}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(log)


_POINT_LOCK = threading.Lock()


def run_point(shared: dict, params: dict, key: str, project_dir: str | None = None) -> dict[str, Any]:
    """Convert, check, measure one point. Never raises: a failure is recorded as one line with its stage.

    ``shared``: {'model_bytes', 'model_suffix', 'config', 'data'}; ``project_dir``: where to keep the
    project (a temporary directory, removed afterwards, when None). Points in one process run one at a
    time (Keras' floatx, which the comparison switches to float64, is process-wide). Everything the
    point prints (file descriptors 1 and 2 included) is returned as ``log``, not shown."""
    with _POINT_LOCK:
        fd, log = tempfile.mkstemp(prefix="garnet-sweep-point-", suffix=".log")
        os.close(fd)
        try:
            with captured_output(log):
                quiet_libraries()
                res = _run_point(shared, params, key, project_dir)
            res["log"] = read_log(log)  # the client writes it to SWEEP_DIR/logs/<key>.log
            return res
        finally:
            with contextlib.suppress(OSError):
                os.unlink(log)


def _run_point(shared: dict, params: dict, key: str, project_dir: str | None) -> dict[str, Any]:
    import platform
    import resource

    def cpu():
        return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))

    t_start = time.time()
    t0 = time.perf_counter()
    cpu0 = cpu()
    stage_seconds: dict[str, float] = {}
    t_stage = [t0]
    stage = "setup"

    def enter(name):  # the point's current stage (named on failure) and the wall time of each stage
        nonlocal stage
        now = time.perf_counter()
        stage_seconds[stage] = round(stage_seconds.get(stage, 0.0) + now - t_stage[0], 3)
        t_stage[0] = now
        stage = name

    res: dict[str, Any] = {"key": key, "params": dict(params), "status": "ok", "stage": None, "error": None,
                           "bit_exact": None, "compare": None, "physics": None, "estimate": None, "synthesis": None,
                           "worker": f"{platform.node()}:{os.getpid()}", "project": None}
    tmp = tempfile.mkdtemp(prefix="garnet-sweep-")
    try:
        from garnet_hls.flows.compare import compare
        from garnet_hls.flows.convert import convert
        from garnet_hls.models.io import load_keras_model

        src = Path(tmp) / f"model{shared['model_suffix']}"
        src.write_bytes(shared["model_bytes"])
        enter("precision")
        model = load_keras_model(src)
        model = requantize(model, params["precision"])
        layers = graph_layers(model)
        if not layers:
            raise UserError("the model has no GarNet/GravNet layer to set the reuse factor of")
        work = Path(project_dir) if project_dir else Path(tmp) / "point"
        work.mkdir(parents=True, exist_ok=True)
        model_path = work / "model.keras"
        model.save(model_path)  # the Keras model this point's firmware is checked against
        enter("convert")
        impl = registry.get_backend(params["backend"])
        cfg = point_config(shared["config"], layers, params["reuse"])
        prj = convert(model_path, None, work / "project", backend=impl.name, force=True, overrides=cfg, model=model)
        res["project"] = str(prj) if project_dir else None
        if params["synth"] != "none":
            enter("synth")
            impl.check_tool(prj, params["synth"])  # a missing tool fails the point now, not after the C-sim
        data = shared["data"]
        enter("csim_build")
        sim = impl.simulator(prj)  # the C simulation, or da4ml's bit-exact emulator of the generated circuit
        enter("compare")
        cmp = compare(model, prj, data, sim=sim)
        res["compare"] = cmp.to_dict()
        res["bit_exact"] = bool(cmp.bit_exact)
        enter("physics")
        outputs, _ = sim.run(data)
        res["physics"] = physics_metrics(outputs, data)
        enter("estimate")
        res["estimate"] = impl.estimate_summary(prj)  # None for a backend without an estimate
        if params["synth"] != "none":
            enter("synth")
            res["synthesis"] = _synthesize(prj, params["synth"])
        if not res["bit_exact"]:
            res["status"] = "not-bit-exact"
    except UserError as e:  # includes ToolNotFoundError
        res.update(status="error", stage=stage, error=_one_line(e))
    except Exception as e:  # noqa: BLE001 - a bug or a tool crash in one point must not stop the sweep
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        res.update(status="error", stage=stage, error=_one_line(f"{type(e).__name__}: {first}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            import tf_keras as keras

            keras.backend.clear_session()
        except Exception:  # noqa: BLE001
            pass
    enter("done")
    res["seconds"] = round(time.perf_counter() - t0, 3)
    res["cpu_seconds"] = round(cpu() - cpu0, 3)  # this process and its children (g++), both modes alike
    res["stage_seconds"] = stage_seconds
    res["t_start"], res["t_end"] = t_start, time.time()
    res["tool_versions"] = _worker_versions(params["synth"])  # the worker's own, for the record
    return res


# ------------------------------------------------------------------------------------------------
# The sweep (client side)
# ------------------------------------------------------------------------------------------------
def load_events_for(model, data_path: str | None, n_events: int) -> tuple[dict, str]:
    """The first ``n_events`` events of ``data_path``, or built-in calorimeter events for the model's V."""
    import numpy as np

    if n_events < 1:
        raise UserError(f"--events must be >= 1, got {n_events}")
    if data_path:
        from garnet_hls.physics.data import load_npz

        data = load_npz(data_path)
        source = str(data_path)
    else:
        from garnet_hls.physics.data import generate_calo

        vs = set(graph_layers(model).values()) or {int(model.inputs[0].shape[1])}
        data = generate_calo(n_events, n_vertices=max(vs), seed=DATA_SEED)
        source = f"built-in calorimeter events (garnet_hls.physics.data.generate_calo, seed {DATA_SEED})"
    n = len(data["nvtx"])
    data = {k: (v[:n_events] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == n else v)
            for k, v in data.items()}
    return data, source


SWEEP_MARKERS = (RESULTS, "points", "projects")


def check_sweep_dir(out_dir) -> Path:
    """A sweep directory is created, or resumed; it is written into, never replaced. So that its files
    (results.json, sweep.png, sweep.html, points/, projects/) never overwrite a user's own, an existing
    directory must be empty or a sweep's (one of :data:`SWEEP_MARKERS`). One line otherwise."""
    from garnet_hls.paths import check_output_dir

    out = check_output_dir(out_dir, "sweep directory")
    if out.is_dir() and any(out.iterdir()) and not any((out / m).exists() for m in SWEEP_MARKERS):
        raise UserError(f"sweep directory {out_dir} is not empty and not a garnet-hls sweep (no "
                        f"{' or '.join(SWEEP_MARKERS)}); choose a new or empty directory")
    return out


class Sweep:
    """A sweep directory: its points, their results, and running the missing ones on Dask."""

    def __init__(self, model_path, config_path, out_dir, points: list[dict], events=DEFAULT_EVENTS, data=None,
                 capacity: dict | None = None, objectives=DEFAULT_OBJECTIVES, tolerances: dict | None = None):
        """``objectives``: what the Pareto front is taken over (:data:`OBJECTIVES`); ``tolerances``:
        {'auc': spec, 'resolution': spec} (:func:`parse_tolerance`; default :data:`DEFAULT_TOLERANCE` each),
        how much AUC / energy resolution a point may lose against the unswept model and still keep the
        physics."""
        from garnet_hls.models.io import load_keras_model
        from garnet_hls.config import load_config, validate_config

        self.out = check_sweep_dir(out_dir)  # before the model and data are read
        self.model_path = Path(model_path)
        self.model = load_keras_model(model_path)
        self.config = load_config(config_path) if config_path else {}
        validate_config(self.config, self.model)
        if not graph_layers(self.model):
            raise UserError(f"{model_path} has no GarNet/GravNet layer: there is no reuse factor to sweep")
        self.points = points
        self.data, self.data_source = load_events_for(self.model, data, events)
        self.model_bytes = self.model_path.read_bytes()
        self.model_sha = hashlib.sha256(self.model_bytes).hexdigest()
        synth = next((p["synth"] for p in points if p["synth"] != "none"), "none")
        self.versions = tool_versions(synth)
        self.data_sha = data_digest(self.data)
        self.keys = [point_key(self.model_sha, self.config, p, self.data_sha, self.versions) for p in points]
        part = str(self.config.get("Part", ""))
        self.capacity = capacity or next((c for prefix, c in DEVICE_CAPACITY.items()
                                          if part.lower().startswith(prefix)), None)
        self.part = part or None
        self.objectives = tuple(objectives)
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad or not self.objectives:
            raise UserError(f"objectives {bad or '()'}: valid are {', '.join(OBJECTIVES)}")
        default = parse_tolerance(DEFAULT_TOLERANCE, "tolerance")
        self.tolerances = {"auc": default, "resolution": default} if tolerances is None else dict(tolerances)
        self.reference: dict | None = None  # the unswept and float model's physics, see reference_physics

    # -- files -----------------------------------------------------------------------------------
    def point_file(self, key: str) -> Path:
        return self.out / "points" / f"{key}.json"

    def load_done(self, retry_failed=False) -> dict[str, dict]:
        done = {}
        for key in self.keys:
            f = self.point_file(key)
            if f.is_file():
                try:
                    r = json.loads(f.read_text())
                except (OSError, json.JSONDecodeError):
                    continue  # unreadable: redo
                if retry_failed and r.get("status") == "error":
                    continue
                done[key] = r
        return done

    def log_file(self, key: str) -> Path:
        return self.out / LOGS / f"{key}.log"

    def compute_reference(self) -> dict:
        if self.reference is None:
            self.reference = reference_physics(self.model, self.data)
        return self.reference

    def results(self, done: dict[str, dict], interrupted=False, wall=None, warmup=None) -> dict[str, Any]:
        points = [done[k] for k in self.keys if k in done]
        res = {
            "sweep": {
                "model": str(self.model_path), "model_sha256": self.model_sha, "config": self.config,
                "part": self.part, "capacity": self.capacity, "events": len(self.data["nvtx"]),
                "data": self.data_source, "data_sha256": self.data_sha, "tool_versions": self.versions,
                "n_points": len(self.keys), "n_done": len(points), "interrupted": interrupted,
                "wall_seconds": wall, "worker_warmup_seconds": warmup,
                "pending": [p for k, p in zip(self.keys, self.points) if k not in done],
                "reference": self.reference, "tolerances": self.tolerances,
            },
            "points": points,
        }
        return summarize(res, self.objectives)  # Pareto front, who keeps the physics, the recommendation

    def write_results(self, done, **kw) -> dict[str, Any]:
        res = self.results(done, **kw)
        _atomic_write(self.out / RESULTS, json.dumps(res, indent=2, default=str) + "\n")
        return res

    # -- running ---------------------------------------------------------------------------------
    def run(self, client=None, scheduler=None, workers=DEFAULT_WORKERS, retry_failed=False, progress=True,
            keep_projects=None) -> dict[str, Any]:
        """Run the missing points on ``client`` (or a LocalCluster / ``scheduler``); returns the results.

        A run that fails before it wrote anything (no cluster, say) leaves no new sweep directory."""
        from garnet_hls.paths import claim_dir, release_claim

        claimed = claim_dir(self.out)
        try:
            return self._run(client, scheduler, workers, retry_failed, progress, keep_projects)
        except BaseException:
            release_claim(self.out, claimed)  # only if it is still empty
            raise

    def _run(self, client, scheduler, workers, retry_failed, progress, keep_projects) -> dict[str, Any]:
        done = self.load_done(retry_failed)
        todo = [(k, p) for k, p in zip(self.keys, self.points) if k not in done]
        t0 = time.perf_counter()
        warmup = None
        if not todo:
            self.compute_reference()
            return self.write_results(done, wall=0.0)
        own = None
        if client is None:
            client, own = connect(scheduler, workers)
        local = own is not None and own[1] is not None if keep_projects is None else keep_projects
        bar = None
        futures = []
        meta: dict[str, tuple[str, dict]] = {}
        try:
            try:
                warm = client.run(_warm)
            except Exception as e:  # noqa: BLE001 - e.g. a remote worker without garnet-hls
                raise UserError(f"the Dask workers cannot run garnet-hls: {type(e).__name__}: {_one_line(e)}") \
                    from None
            warmup = max((w["seconds"] for w in warm.values()), default=0.0)
            for i, w in enumerate(warm.values()):
                if w["log"].strip():
                    _atomic_write(self.out / LOGS / f"worker-{i}-startup.log", w["log"])
            shared, = client.scatter([{"model_bytes": self.model_bytes, "model_suffix": self.model_path.suffix,
                                       "config": self.config, "data": self.data}], broadcast=True)
            run_id = uuid.uuid4().hex[:8]
            for key, params in todo:
                prj = str((self.out / "projects" / key).resolve()) if local else None
                fut = client.submit(run_point, shared, params, key, prj, key=f"garnet-sweep-{key}-{run_id}",
                                    pure=False)
                futures.append(fut)
                meta[fut.key] = (key, params)
            self.compute_reference()  # while the workers start on the points
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=len(self.keys), initial=len(done), unit="point", desc="sweep")
            from distributed import as_completed

            for fut in as_completed(futures):
                try:
                    r = fut.result()
                except Exception as e:  # noqa: BLE001 - the worker died (killed, out of memory): record it
                    key, params = meta[fut.key]
                    r = {"key": key, "params": dict(params), "status": "error", "stage": "worker",
                         "error": _one_line(f"{type(e).__name__}: {e}"), "seconds": None}
                r["client_received"] = time.time()
                log = r.pop("log", None)
                if log is not None:  # every point run has its log, empty when it printed nothing
                    _atomic_write(self.log_file(r["key"]), log)
                    r["log_file"] = f"{LOGS}/{r['key']}.log"
                if r["stage"] != "worker":  # a lost worker is no property of the point: redo it next time
                    _atomic_write(self.point_file(r["key"]), json.dumps(r, indent=2, default=str) + "\n")
                done[r["key"]] = r
                self.write_results(done, wall=round(time.perf_counter() - t0, 3), warmup=warmup)
                if bar:
                    bar.update(1)
                    if r["status"] != "ok":
                        bar.write(f"  {point_label(r['params'])}: {r['status']}"
                                  + (f" ({r['stage']}): {r['error']}" if r["error"] else "")
                                  + (f" [log: {self.out / r['log_file']}]" if r.get("log_file") else ""))
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            self.write_results(done, interrupted=True, wall=round(time.perf_counter() - t0, 3), warmup=warmup)
            raise
        finally:
            if bar:
                bar.close()
            if own is not None:
                disconnect(*own)
        return self.write_results(done, wall=round(time.perf_counter() - t0, 3), warmup=warmup)


def connect(scheduler=None, workers=DEFAULT_WORKERS):
    """(client, (client, cluster)): a running cluster at ``scheduler`` (or dask config ``scheduler-address``),
    else a LocalCluster of ``workers`` processes with one thread each."""
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or dask.config.get("scheduler-address", None)
    if address:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise UserError(f"cannot connect to the Dask scheduler at {address}: {_one_line(e)}") from None
        return client, (client, None)
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    for name in ("distributed", "distributed.nanny", "distributed.scheduler"):  # the terminal is for the table
        logging.getLogger(name).setLevel(logging.ERROR)
    import warnings

    with warnings.catch_warnings():  # the scheduler's HTTP server moving off a busy port 8787 is no problem
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit=0, silence_logs=logging.ERROR, env=dict(WORKER_ENV))
    client = Client(cluster)
    return client, (client, cluster)


def disconnect(client, cluster):
    client.close()
    if cluster is not None:
        cluster.close()


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def add_cli(subparsers):
    p = subparsers.add_parser(
        "sweep", help="design-space sweep (reuse factor x precision) on Dask: bit-exactness, physics, resources",
        description="Convert, check and estimate (or synthesize) one point per combination of reuse factor and "
                    "precision, on a Dask cluster. Finished points are kept and not redone.")
    p.add_argument("model", help="the Keras model file (.keras or .h5)")
    p.add_argument("-c", "--config", help="hls4ml-style YAML config (configs/NAME.yml)")
    p.add_argument("-o", "--output", required=True, metavar="SWEEP_DIR", help="sweep directory (created or resumed)")
    p.add_argument("--reuse", required=True, metavar="R1,R2,...",
                   help="reuse factors of the GarNet/GravNet layers (each must divide V)")
    p.add_argument("--precision", default="model", metavar="P1,P2,...",
                   help="'model' (as trained), wN (weight quantizers to N bits), aM (QActivation quantizers to M "
                        "bits) or wNaM; integer bits kept, no retraining (default: model)")
    p.add_argument("--backend", default=registry.DEFAULT, metavar="|".join(registry.NAMES),
                   help="backend(s), comma-separated, case-insensitive (hls = vivado; default vivado)")
    p.add_argument("--synth", default="none", metavar="|".join(SYNTH_TOOLS),
                   help="also synthesize the points of the backends that take the tool: hls (= vivado: Vivado/Vitis HLS) "
                        "or yosys (rtl); the other backends' points are estimated; default none")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://host:8786 (default: dask config "
                        "'scheduler-address', else a LocalCluster)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="LocalCluster worker processes (default 2)")
    p.add_argument("-n", "--events", type=int, default=DEFAULT_EVENTS,
                   help=f"events for the bit-exactness check and the physics metric (default {DEFAULT_EVENTS})")
    p.add_argument("--data", help="events (.npz, garnet-hls data schema); default: built-in calorimeter events")
    p.add_argument("--capacity", metavar="LUT,DSP", help="device capacity to draw when the part is not known")
    p.add_argument("--objectives", default=",".join(DEFAULT_OBJECTIVES), metavar="O1,O2,...",
                   help=f"what the Pareto front is taken over, from {', '.join(OBJECTIVES)} (AUC higher is better, "
                        f"the rest lower; default {','.join(DEFAULT_OBJECTIVES)})")
    p.add_argument("--max-auc-loss", default=DEFAULT_TOLERANCE, metavar="LOSS",
                   help="a point keeps the physics if its AUC is at most LOSS below the unswept model's on the same "
                        f"events: a number (0.005), a percentage (1%%) or none (default {DEFAULT_TOLERANCE})")
    p.add_argument("--max-resolution-loss", default=DEFAULT_TOLERANCE, metavar="LOSS",
                   help="... and its energy resolution at most LOSS above the unswept model's (number, percentage "
                        f"or none; default {DEFAULT_TOLERANCE})")
    p.add_argument("--retry-failed", action="store_true", help="redo points that failed before")
    p.add_argument("--html", action="store_true", help=f"also write SWEEP_DIR/{PAGE}")
    p.set_defaults(func=run_sweep_cli)


def _capacity_arg(text):
    if not text:
        return None
    vals = _int_list(text, "--capacity")
    if len(vals) != 2:
        raise UserError(f"--capacity takes LUT,DSP, got {text!r}")
    return {"lut": vals[0], "dsp": vals[1]}


def run_sweep_cli(args) -> int:
    reuse = _int_list(args.reuse, "--reuse")
    objectives = parse_objectives(args.objectives)
    tolerances = {"auc": parse_tolerance(args.max_auc_loss, "--max-auc-loss"),
                  "resolution": parse_tolerance(args.max_resolution_loss, "--max-resolution-loss")}
    precisions = [t for t in args.precision.split(",") if t.strip()] or ["model"]
    backends = [t.strip() for t in args.backend.split(",") if t.strip()]
    points = make_points(reuse, precisions, backends, args.synth)
    sweep = Sweep(args.model, args.config, args.output, points, events=args.events, data=args.data,
                  capacity=_capacity_arg(args.capacity), objectives=objectives, tolerances=tolerances)
    quiet_libraries()  # this process evaluates the unswept and the float model
    done_before = len(sweep.load_done(args.retry_failed))
    print(f"sweep: {len(points)} point{'s' if len(points) != 1 else ''} ({done_before} already done) in "
          f"{args.output}", flush=True)
    try:
        res = sweep.run(scheduler=args.scheduler, workers=args.workers, retry_failed=args.retry_failed)
    except KeyboardInterrupt:
        n = len(sweep.load_done())
        sys.stderr.write(f"garnet-hls: sweep interrupted; {n} of {len(points)} points are kept in {args.output}; "
                         "run the same command again to finish\n")
        return 130
    table = format_table(res).splitlines()
    print("\n".join(table[:-1]))  # the recommendation comes last, after the files
    plot = write_plot(res, sweep.out / PLOT)
    print(f"wrote {sweep.out / RESULTS} and {plot}; each point's output in {sweep.out / LOGS}")
    if args.html:
        print(f"wrote {write_html(res, sweep.out / PAGE, plot)}")
    print(table[-1])
    failed = [r for r in res["points"] if r["status"] != "ok"]
    return 1 if failed else 0
