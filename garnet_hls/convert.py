"""Keras model -> hls4ml project with our GarNet/GravNet kernels (``garnet-hls convert``).

The conversion is bit-exact by construction where the model is quantized: every type of the firmware
is derived from the Keras quantizers. Where that cannot be guaranteed (a float layer, a QKeras
``quantized_relu`` fed by values with more significant bits than its float32 cast keeps, a config
Precision that drops bits of a derived type), the converter prints a warning naming the layer and the
reason, and writes ``bit_exact: false`` with the reasons into ``garnet_project.json``.

* Our graph layers take their types from their quantizers (``garnet_hls.hls``).
* ``QDense`` gets its weight and bias types from its quantizers, and an accumulator/result type wide
  enough to hold its exact sum (the Keras model, run in float64, loses nothing there either). On a
  per-vertex input hls4ml turns it into a pointwise ``Conv1D`` of the same name, which takes the same
  config entry; its weights are quantized before hls4ml copies them (``garnet_hls.hls.dense``).
* ``QActivation`` rounds (``AP_RND_CONV``) and saturates to its quantizer's type, as QKeras does.
* The features input takes the first graph layer's input type, the nvtx input an unsigned integer
  wide enough for ``V``.

The project is written to a temporary directory next to the target and renamed into place at the end,
so an interrupted conversion leaves no half-written project.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import yaml

from garnet_hls import paths
from garnet_hls.errors import UserError
from garnet_hls.paths import check_replaceable_dir, claim_dir, publish_dir, release_claim
from garnet_hls.quant import FixedType, parse_spec

META_FILE = "garnet_project.json"
BATCH_BRIDGE = "garnet_batch.cpp"

TOP_KEYS = {
    "OutputDir": "directory of the generated project",
    "ProjectName": "name of the HLS top function (default myproject)",
    "Part": "FPGA part, e.g. xcku115-flvb2104-2-i",
    "ClockPeriod": "clock period in ns",
    "ClockUncertainty": "clock uncertainty (e.g. '12.5%')",
    "Backend": "Vivado, Vitis or RTL",
    "LatencyCutoff": "RTL backend: the most delay (da4ml units, ~ns) per pipeline stage (default: ClockPeriod)",
    "IOType": "io_parallel (the only one our graph kernels support)",
    "HLSConfig": "Model / LayerName / LayerType settings",
    "KerasModel": "ignored (the model is given on the command line)",
    "Version": "project version string",
}
HLS_KEYS = {"Model", "LayerName", "LayerType"}
MODEL_KEYS = {"Precision", "ReuseFactor", "Strategy", "BramFactor", "TraceOutput", "PipelineStyle", "PipelineInterval"}
LAYER_KEYS = {"Precision", "ReuseFactor", "Strategy", "Trace"}
GRAPH_PRECISION_KEYS = ("input", "kernel", "bias", "distance", "edge_weight", "feature", "reciprocal", "aggregate",
                        "preactivation", "output", "result", "coordinate")
DENSE_PRECISION_KEYS = ("weight", "bias", "accum", "result")
BACKENDS = ("Vivado", "Vitis", "RTL")  # RTL: fully parallel Verilog through da4ml (garnet_hls/rtl)

SUPPORTED = ("InputLayer", "GarNet", "GarNetStack", "GravNet", "QDense", "Dense", "QActivation", "Activation",
             "Dropout")


# ------------------------------------------------------------------------------------------------
# Inputs: model and config
# ------------------------------------------------------------------------------------------------
def _saved_keras_version(p: Path) -> str | None:
    """The Keras version a .keras (zip: metadata.json) or .h5 (root attribute) file was saved with, if it says."""
    import zipfile

    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                if "metadata.json" in z.namelist():
                    return str(json.loads(z.read("metadata.json")).get("keras_version") or "") or None
            return None
        import h5py

        with h5py.File(p, "r") as f:
            v = f.attrs.get("keras_version")
        return (v.decode() if isinstance(v, bytes) else str(v)) if v is not None else None
    except Exception:  # noqa: BLE001 - unreadable files are reported by the loader itself
        return None


def load_keras_model(path):
    """Load a .keras / .h5 model with our layers and QKeras' registered."""
    import garnet_hls  # noqa: F401  (registers our layers)

    p = Path(path)
    if not p.exists():
        raise UserError(f"model file {path} does not exist")
    if p.is_dir():
        raise UserError(f"model path {path} is a directory, expected a .keras or .h5 file")
    version = _saved_keras_version(p)
    if version and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 3:
        raise UserError(f"{path} is a Keras 3 model (saved with Keras {version}); garnet-hls reads tf_keras (Keras 2) "
                        "models: build and save it with tf_keras / QKeras (TF_USE_LEGACY_KERAS=1)")
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    objects = {}
    _add_supported_quantized_objects(objects)
    try:
        return keras.models.load_model(str(p), custom_objects=objects, compile=False)
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the user's file problem
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot load model {path}: {first}") from None


def load_config(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"config {path} is not UTF-8 text (byte {e.start}): is it a YAML file?") from None
    except OSError as e:
        raise UserError(f"cannot read config {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"config {path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(cfg, dict):
        raise UserError(f"config {path} must be a YAML mapping of hls4ml keys (OutputDir, Part, HLSConfig, ...)")
    return cfg


def _check_keys(found: dict, valid, where: str):
    if not isinstance(found, dict):
        raise UserError(f"{where} must be a mapping of keys ({', '.join(sorted(valid))}), got {found!r}")
    bad = sorted((k for k in found if k not in valid), key=str)
    if bad:
        raise UserError(f"unknown key {bad[0]!r} in {where}; valid keys: {', '.join(sorted(valid))}")


def _check_layer_settings(where: str, settings, v) -> dict:
    """One LayerName / LayerType entry: a mapping of known keys, each value checked by ``validate``."""
    settings = v.check_mapping(where, settings, "a mapping of settings (Precision, ReuseFactor, Strategy, Trace)")
    _check_keys(settings, LAYER_KEYS, where)
    for key, check in v.LAYER_CHECKS.items():
        if key in settings:
            check(f"{where}.{key}", settings[key])
    return settings


def validate_config(cfg: dict, model=None):
    """Refuse, with one line naming the key, any config value that is of the wrong type, out of range or
    unknown (see garnet_hls.validate), and reuse factors the graph kernels cannot use."""
    from garnet_hls import validate as v

    if not isinstance(cfg, dict):
        raise UserError("the config must be a mapping of hls4ml keys (OutputDir, Part, HLSConfig, ...)")
    _check_keys(cfg, TOP_KEYS, "the config")
    for key, check in v.TOP_CHECKS.items():
        if key in cfg:
            check(key, cfg[key])
    if "ClockUncertainty" in cfg:
        v.check_clock_uncertainty("ClockUncertainty", cfg["ClockUncertainty"], cfg.get("ClockPeriod", 5))
    if not isinstance(cfg.get("Backend", "Vivado"), str) or cfg.get("Backend", "Vivado") not in BACKENDS:
        raise UserError(f"Backend {cfg['Backend']!r} is not supported; valid: {', '.join(BACKENDS)}")
    if cfg.get("IOType", "io_parallel") != "io_parallel":
        raise UserError(f"IOType {cfg['IOType']!r} is not supported; valid: io_parallel")
    hls = v.check_mapping("HLSConfig", cfg.get("HLSConfig"), "a mapping with Model / LayerName / LayerType")
    _check_keys(hls, HLS_KEYS, "HLSConfig")
    model_cfg = v.check_mapping("HLSConfig.Model", hls.get("Model"))
    _check_keys(model_cfg, MODEL_KEYS, "HLSConfig.Model")
    for key, check in v.MODEL_CHECKS.items():
        if key in model_cfg:
            check(f"HLSConfig.Model.{key}", model_cfg[key])
    layer_cfgs = v.check_mapping("HLSConfig.LayerName", hls.get("LayerName"), "a mapping of layer name -> settings")
    names = {layer.name: type(layer).__name__ for layer in model.layers} if model is not None else None
    for lname, lcfg in layer_cfgs.items():
        where = f"HLSConfig.LayerName.{lname}"
        if names is not None and lname not in names:
            raise UserError(f"HLSConfig.LayerName has {lname!r}, which is not a layer of the model; "
                            f"layers: {', '.join(names)}")
        lcfg = _check_layer_settings(where, lcfg, v)
        if "Precision" in lcfg:
            valid = None
            if names is not None:
                kind = names[lname]
                if kind in ("GarNet", "GarNetStack", "GravNet"):
                    valid = GRAPH_PRECISION_KEYS
                elif kind in ("QDense", "Dense"):
                    valid = DENSE_PRECISION_KEYS
            v.check_precision(f"{where}.Precision", lcfg["Precision"], valid)
    type_cfgs = v.check_mapping("HLSConfig.LayerType", hls.get("LayerType"), "a mapping of layer type -> settings")
    for tname, tcfg in type_cfgs.items():
        where = f"HLSConfig.LayerType.{tname}"
        tcfg = _check_layer_settings(where, tcfg, v)
        if "Precision" in tcfg:
            v.check_precision(f"{where}.Precision", tcfg["Precision"])
    # the graph kernels process V/R vertices per clock: R must divide V
    if model is not None:
        for layer in model.layers:
            V = getattr(layer, "n_vertices", None)
            if type(layer).__name__ not in ("GarNet", "GarNetStack", "GravNet") or not V:
                continue
            own = (layer_cfgs.get(layer.name) or {}).get("ReuseFactor")
            rf, where = (own, f"HLSConfig.LayerName.{layer.name}.ReuseFactor") if own is not None else \
                (model_cfg.get("ReuseFactor", 1), "HLSConfig.Model.ReuseFactor")
            if V % rf:
                divisors = [d for d in range(1, V + 1) if V % d == 0]
                raise UserError(f"{where} = {rf} does not divide the {V} vertices of layer {layer.name!r}: the "
                                f"graph kernels need R | V; valid: {', '.join(map(str, divisors))}")


# ------------------------------------------------------------------------------------------------
# Types: derive what makes the firmware bit-exact
# ------------------------------------------------------------------------------------------------
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
    from garnet_hls.hls.common import exact_accum, product
    from garnet_hls.hls.dense import float32_rounding_reason

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
            record(name, kind, layer.quantized, t_out, "float graph layer (quantized=False): it does not round "
                   "where the firmware does")
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
                reason = "float Dense: its weights are not quantized (use QDense with kernel/bias quantizers)"
            elif t_x is None:
                reason = _not_fixed_reason(src, upstream_ok)
            elif t_w is None:
                reason = "QDense without kernel_quantizer: its weights are floats"
            elif layer.use_bias and t_b is None:
                reason = "QDense without bias_quantizer: its biases are floats"
            elif act_name not in ("linear", None):
                reason = (f"QDense activation {act!r} is not bit-exact; use activation=None and a separate "
                          "QActivation")
            acc = None
            if reason is None and t_x is not None:  # a float input is reported where it arises
                n_in = int(layer.kernel.shape[0])
                terms = [(product(t_x, t_w), n_in)] + ([(t_b, 1)] if layer.use_bias else [])
                acc = exact_accum(terms)
                p = {"weight": _exact_prec(t_w), "accum": _exact_prec(acc), "result": _exact_prec(acc)}
                if layer.use_bias:
                    p["bias"] = _exact_prec(t_b)
                prec[name] = {"Precision": p}
                # hls4ml splits the (linear) activation off into '<name>_linear': it must not round either
                prec[f"{name}_linear"] = {"Precision": {"result": _exact_prec(acc)}}
                if acc.width > 53:
                    reason = (f"its exact sum needs {acc.width} bits ({acc}); Keras computes it in float64, "
                              "which carries 53: use narrower quantizers")
                elif act_q is not None:
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
            record(name, kind, False, None, "float Activation: it does not round (use QActivation)")
        elif kind == "Dropout":
            out_t[name] = out_t.get(inbound[name][0])
            record(name, kind, True, out_t[name])
    _check_precision_overrides(model, cfg, prec, info)
    return prec, info


def _not_fixed_reason(src: str, upstream_ok: dict) -> str | None:
    """The reason for a layer fed by a non-fixed-point value: None when ``src`` is already reported."""
    if not upstream_ok.get(src, True):
        return None  # a consequence of the layer named before it
    return f"its input {src!r} is not a fixed-point value"


def _check_precision_overrides(model, cfg: dict, derived: dict, info: dict):
    """A config Precision that does not hold every value of the derived exact type makes a layer inexact."""
    from garnet_hls.hls.dense import override_reason

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


# ------------------------------------------------------------------------------------------------
# The conversion
# ------------------------------------------------------------------------------------------------
def build_hls_config(model, cfg: dict) -> dict:
    """hls4ml's HLSConfig: the user's settings over the derived bit-exact precisions, tracing on."""
    hls = cfg.get("HLSConfig") or {}
    model_cfg = dict(hls.get("Model") or {})
    model_cfg.setdefault("Precision", "fixed<16,6>")
    model_cfg.setdefault("ReuseFactor", 1)
    model_cfg.setdefault("Strategy", "Latency")
    # Our graph kernels pipeline their vertex loops by the reuse factor. hls4ml's 'auto' style would put
    # a PIPELINE pragma on the top function for io_parallel, which unrolls every loop below it and makes
    # the reuse factor meaningless: a DATAFLOW top keeps each layer's own pipelining.
    model_cfg.setdefault("PipelineStyle", "dataflow")
    derived, _ = derive_precisions(model, cfg)
    layer_cfg = {}
    names = [layer.name for layer in model.layers]
    names += [n for n in derived if n not in names]  # layers hls4ml creates, e.g. '<dense>_linear'
    for lname in names:
        entry = {"Trace": True}
        d = derived.get(lname, {})
        user = dict((hls.get("LayerName") or {}).get(lname) or {})
        if "Precision" in d:
            p = d["Precision"]
            up = user.pop("Precision", None)
            if isinstance(p, dict) and isinstance(up, dict):
                p = {**p, **up}
            elif up is not None:
                p = up
            entry["Precision"] = p
        entry.update(user)
        layer_cfg[lname] = entry
    out = {"Model": model_cfg, "LayerName": layer_cfg}
    if hls.get("LayerType"):
        out["LayerType"] = hls["LayerType"]
    return out


def to_hls_model(model, cfg: dict, output_dir: str):
    """An hls4ml ModelGraph of ``model``, parsed by hls4ml's Keras-2 converter with our layers registered."""
    import hls4ml
    from hls4ml.converters.keras_v2_to_hls import KerasModelReader, parse_keras_model
    from hls4ml.model import ModelGraph

    from garnet_hls import hls as glue
    from garnet_hls.hls.dense import quantize_dense_weights

    glue.register()
    backend = cfg.get("Backend", "Vivado")
    kwargs = {}
    if "Part" in cfg:
        kwargs["part"] = cfg["Part"]
    if "ClockPeriod" in cfg:
        kwargs["clock_period"] = cfg["ClockPeriod"]
    if "ClockUncertainty" in cfg:
        kwargs["clock_uncertainty"] = cfg["ClockUncertainty"]
    config = hls4ml.converters.create_config(output_dir=output_dir, project_name=cfg.get("ProjectName", "myproject"),
                                             backend=backend, io_type="io_parallel", **kwargs)
    config["KerasModel"] = model
    config["InputData"] = None
    config["OutputPredictions"] = None
    config["HLSConfig"] = build_hls_config(model, cfg)
    config["HLSConfig"]["Model"]["BitExact"] = None
    config["TraceOutput"] = True  # trace hooks cost nothing until enabled; compare uses them

    # Our layers are parsed by our handlers: hls4ml's own (contrib) GarNet handler owns the plain names.
    arch = json.loads(model.to_json())
    mapping = glue.keras_class_map()
    for entry in arch["config"]["layers"]:
        if entry["class_name"] in mapping and type(model.get_layer(entry["config"]["name"])).__module__.startswith(
                "garnet_hls"):
            entry["class_name"] = mapping[entry["class_name"]]
    layer_list, inputs, outputs, _ = parse_keras_model(arch, KerasModelReader(model))
    quantize_dense_weights(layer_list, model)  # also for the Conv1D hls4ml makes of a per-vertex QDense
    return ModelGraph.from_layer_list(config, layer_list, inputs, outputs)


def convert(model_path, config_path=None, output_dir=None, backend=None, force=False, overrides=None,
            model=None) -> Path:
    """Convert a saved Keras model into an hls4ml project directory. Returns the project path."""
    cfg = load_config(config_path) if config_path else {}
    if overrides:
        cfg.update({k: v for k, v in overrides.items() if v is not None})
    if backend:
        cfg["Backend"] = backend
    if model is None:
        validate_config(cfg)  # the config's own values first: no need to load a model to refuse them
        model = load_keras_model(model_path)
    validate_config(cfg, model)
    if cfg.get("Backend") == "RTL":
        from garnet_hls.rtl.project import convert_rtl

        return convert_rtl(model, cfg, output_dir, force, model_path)
    out = Path(output_dir or cfg.get("OutputDir") or "vivado_projects/" + cfg.get("ProjectName", "myproject"))
    inputs = [p for p in (model_path, config_path) if p is not None]
    check_replaceable_dir(out, force, markers=(META_FILE,), inputs=inputs, what="output directory")
    claimed = claim_dir(out)
    if not claimed and not force:  # another run created it since the check
        raise UserError(f"output directory {out} exists; use --force to replace it")
    tmp = None
    try:
        tmp = Path(paths.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # umask, not 0700
        hls_model = to_hls_model(model, cfg, str(tmp))
        hls_model.write()
        _write_extras(hls_model, model, cfg, tmp, model_path)
        _relocate_config(tmp, out)
        publish_dir(tmp, out, claimed)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        release_claim(out, claimed)
        raise
    return out


def _relocate_config(tmp: Path, out: Path):
    """hls4ml records OutputDir in hls4ml_config.yml: point it at the final place, not the temp dir."""
    p = tmp / "hls4ml_config.yml"
    if p.exists():
        text = p.read_text().replace(str(tmp), str(out.resolve()))
        p.write_text(text)


def _write_extras(hls_model, model, cfg, prj: Path, model_path):
    """Metadata for csim/compare, and the batch bridge that runs many events per library call."""
    from garnet_hls.hls.bridge import write_batch_bridge

    _, info = derive_precisions(model, cfg)
    inputs = [v for v in hls_model.get_input_variables()]
    outputs = [v for v in hls_model.get_output_variables()]
    keras_inputs = [t.name.split(":")[0].split("/")[0] for t in model.inputs]
    keras_outputs = list(model.output_names)
    traced = []
    for layer in hls_model.get_layers():
        if layer.get_attr("trace", False) and layer.get_attr("function_cpp", None):
            var = layer.get_output_variable()
            traced.append({"name": layer.name, "size": int(var.size()), "type": str(var.type.precision)})
    meta = {
        "garnet_hls_version": _version(),
        "project_name": hls_model.config.get_project_name(),
        "backend": cfg.get("Backend", "Vivado"),
        "model_file": str(Path(model_path).resolve()) if model_path else None,
        "inputs": [{"name": v.name, "keras_name": kn, "shape": [int(s) for s in v.shape],
                    "type": str(v.type.precision)} for v, kn in zip(inputs, keras_inputs)],
        "outputs": [{"name": v.name, "keras_name": kn, "shape": [int(s) for s in v.shape],
                     "type": str(v.type.precision)} for v, kn in zip(outputs, keras_outputs)],
        "traced": traced,
        "layers": {n: {"type": i["type"], "exact": bool(i["exact"]),
                       "output": str(i["output"]) if i.get("output") is not None else None,
                       **({"reason": i["reason"]} if i.get("reason") else {}),
                       **({"nvtx": True, "n_vertices": i["n_vertices"]} if i.get("nvtx") else {})}
                   for n, i in info.items()},
        "bit_exact": all(i["exact"] for i in info.values()),
        "not_bit_exact": [{"layer": n, "reason": r} for n, r in not_exact_reasons(info)],
    }
    for n, r in not_exact_reasons(info):  # never silent: the user learns at conversion which layer and why
        print(f"garnet-hls: warning: layer {n!r} is not bit-exact: {r}", file=sys.stderr)
    (prj / META_FILE).write_text(json.dumps(meta, indent=2))
    write_batch_bridge(prj, meta)


def _version():
    import garnet_hls

    return garnet_hls.__version__


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def add_cli(subparsers):
    p = subparsers.add_parser("convert", help="convert a Keras model to an hls4ml project with our kernels",
                              description="Convert a trained Keras/QKeras model into a Vivado/Vitis HLS project.")
    p.add_argument("model", help="the model file (.keras or .h5)")
    p.add_argument("-c", "--config", help="hls4ml-style YAML config (configs/NAME.yml)")
    p.add_argument("-o", "--output", help="project directory (default: the config's OutputDir)")
    p.add_argument("--backend", choices=BACKENDS, help="override the config's Backend")
    p.add_argument("--part", help="override the config's Part")
    p.add_argument("--clock-period", type=float, help="override the config's ClockPeriod (ns)")
    p.add_argument("--reuse-factor", type=int, help="override HLSConfig.Model.ReuseFactor")
    p.add_argument("--force", action="store_true", help="replace an existing project directory")
    p.set_defaults(func=run_convert)


def run_convert(args):
    overrides = {"Part": args.part, "ClockPeriod": args.clock_period}
    cfg_path = args.config
    if args.reuse_factor is not None:
        if args.reuse_factor < 1:
            raise UserError(f"--reuse-factor must be >= 1, got {args.reuse_factor}")
        base = load_config(cfg_path) if cfg_path else {}
        base.setdefault("HLSConfig", {}).setdefault("Model", {})["ReuseFactor"] = args.reuse_factor
        overrides = {**base, **{k: v for k, v in overrides.items() if v is not None}}
        cfg_path = None
    out = convert(args.model, cfg_path, args.output, backend=args.backend, force=args.force, overrides=overrides)
    meta = json.loads((out / META_FILE).read_text())
    exact = "bit-exact by construction" if meta["bit_exact"] else \
        f"NOT bit-exact: {', '.join(e['layer'] for e in meta.get('not_bit_exact', [])) or 'see warnings'}"
    if meta["backend"] == "RTL":
        exact += f"; {meta['latency_cycles']} cycles at {meta['clock_period_ns']} ns, interval 1"
    print(f"wrote {meta['backend']} project {out} ({meta['project_name']}; {exact})")
    return 0
