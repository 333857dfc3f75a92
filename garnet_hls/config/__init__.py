"""The conversion config (hls4ml's YAML keys): loading it, its keys, and every value check.

``load_config`` reads the YAML file (one line for a missing, unreadable or malformed file);
``validate_config`` refuses, in one line naming the key, any value of the wrong type, out of range or
unknown (the value checks are in ``garnet_hls.config.validate``). Which backend a config names, and what
that backend refuses, is the registry's (``garnet_hls.backends.registry``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from garnet_hls.errors import UserError


"""garnet_hls.config."""


TOP_KEYS = {
    "OutputDir": "directory of the generated project",
    "ProjectName": "name of the HLS top function (default myproject)",
    "Part": "FPGA part, e.g. xcku115-flvb2104-2-i",
    "ClockPeriod": "clock period in ns",
    "ClockUncertainty": "clock uncertainty (e.g. '12.5%')",
    "Backend": "vivado, vitis or rtl (case-insensitive; the registry in garnet_hls.backends checks the name)",
    "LatencyCutoff": "RTL backend: the most delay (da4ml units, ~ns) per pipeline stage (default: ClockPeriod)",
    "IOType": "io_parallel (the only one our graph kernels support)",
    "HLSConfig": "Model / LayerName / LayerType settings",
    "KerasModel": "ignored (the model is given on the command line)",
    "Version": "project version string",
}


HLS_KEYS = {"Model", "LayerName", "LayerType"}


MODEL_KEYS = {"Precision", "ReuseFactor", "Strategy", "BramFactor", "TraceOutput", "PipelineStyle", "PipelineInterval",
              "Multipliers", "DSPBudget"}


LAYER_KEYS = {"Precision", "ReuseFactor", "Strategy", "Trace", "Multipliers"}


GRAPH_PRECISION_KEYS = ("input", "kernel", "bias", "distance", "edge_weight", "feature", "reciprocal", "aggregate",
                        "preactivation", "output", "result", "coordinate")


DENSE_PRECISION_KEYS = ("weight", "bias", "accum", "result")


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
    unknown (see garnet_hls.config.validate), and reuse factors the graph kernels cannot use."""
    from garnet_hls.config import validate as v

    if not isinstance(cfg, dict):
        raise UserError("the config must be a mapping of hls4ml keys (OutputDir, Part, HLSConfig, ...)")
    _check_keys(cfg, TOP_KEYS, "the config")
    for key, check in v.TOP_CHECKS.items():
        if key in cfg:
            check(key, cfg[key])
    if "ClockUncertainty" in cfg:
        v.check_clock_uncertainty("ClockUncertainty", cfg["ClockUncertainty"], cfg.get("ClockPeriod", 5))
    if not isinstance(cfg.get("Backend", "vivado"), str):
        raise UserError(f"Backend {cfg['Backend']!r} must be a name: vivado, vitis or rtl")
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
