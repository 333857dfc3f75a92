"""Keras model -> hls4ml project with our GarNet/GravNet kernels (``garnet-hls convert``).

The conversion is bit-exact by construction where the model is quantized: every type of the firmware
is derived from the Keras quantizers.

* Our graph layers take their types from their quantizers (``garnet_hls.hls``).
* ``QDense`` gets its weight and bias types from its quantizers, and an accumulator/result type wide
  enough to hold its exact sum (the Keras model, run in float64, loses nothing there either).
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
import tempfile
from pathlib import Path

import yaml

from garnet_hls.errors import UserError
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
def load_keras_model(path):
    """Load a .keras / .h5 model with our layers and QKeras' registered."""
    import garnet_hls  # noqa: F401  (registers our layers)

    p = Path(path)
    if not p.exists():
        raise UserError(f"model file {path} does not exist")
    if p.is_dir():
        raise UserError(f"model path {path} is a directory, expected a .keras or .h5 file")
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
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"config {path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(cfg, dict):
        raise UserError(f"config {path} must be a YAML mapping of hls4ml keys (OutputDir, Part, HLSConfig, ...)")
    return cfg


def _check_keys(found: dict, valid, where: str):
    bad = sorted(set(found) - set(valid))
    if bad:
        raise UserError(f"unknown key {bad[0]!r} in {where}; valid keys: {', '.join(sorted(valid))}")


def validate_config(cfg: dict, model=None):
    _check_keys(cfg, TOP_KEYS, "the config")
    if cfg.get("Backend", "Vivado") not in BACKENDS:
        raise UserError(f"Backend {cfg['Backend']!r} is not supported; valid: {', '.join(BACKENDS)}")
    if cfg.get("IOType", "io_parallel") != "io_parallel":
        raise UserError(f"IOType {cfg['IOType']!r} is not supported; valid: io_parallel")
    hls = cfg.get("HLSConfig") or {}
    if not isinstance(hls, dict):
        raise UserError("HLSConfig must be a mapping with Model / LayerName / LayerType")
    _check_keys(hls, HLS_KEYS, "HLSConfig")
    _check_keys(hls.get("Model") or {}, MODEL_KEYS, "HLSConfig.Model")
    layer_cfgs = hls.get("LayerName") or {}
    names = {layer.name: type(layer).__name__ for layer in model.layers} if model is not None else None
    for lname, lcfg in layer_cfgs.items():
        if names is not None and lname not in names:
            raise UserError(f"HLSConfig.LayerName has {lname!r}, which is not a layer of the model; "
                            f"layers: {', '.join(names)}")
        _check_keys(lcfg or {}, LAYER_KEYS, f"HLSConfig.LayerName.{lname}")
        prec = (lcfg or {}).get("Precision")
        if isinstance(prec, dict) and names is not None:
            kind = names[lname]
            valid = GRAPH_PRECISION_KEYS if kind in ("GarNet", "GarNetStack", "GravNet") else DENSE_PRECISION_KEYS
            if kind in ("GarNet", "GarNetStack", "GravNet", "QDense", "Dense"):
                _check_keys(prec, valid, f"HLSConfig.LayerName.{lname}.Precision")
    rf = (hls.get("Model") or {}).get("ReuseFactor", 1)
    if not isinstance(rf, int) or rf < 1:
        raise UserError(f"HLSConfig.Model.ReuseFactor must be a positive integer, got {rf!r}")


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

    Returns ``(layer_precisions, info)``; ``info[name]`` = {'type': class, 'exact': bool, 'output': FixedType}.
    """
    from garnet_hls.hls.common import exact_accum, product

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
                info[feat] = {"type": "InputLayer", "exact": True, "output": t_in}
            if nv in by_name and type(by_name[nv]).__name__ == "InputLayer":
                prec[nv] = {"Precision": f"uint<{_uint_bits(V)}>"}
                out_t[nv] = None
                info[nv] = {"type": "InputLayer", "exact": True, "output": None, "nvtx": True, "n_vertices": V}
            t_out = layer.types.get("output") or parse_spec("quantized_bits(16,5,alpha=1)")
            out_t[name] = t_out
            info[name] = {"type": kind, "exact": layer.quantized, "output": t_out}
        elif kind == "InputLayer":
            continue
        elif kind in ("QDense", "Dense"):
            src = inbound[name][0]
            t_x = out_t.get(src)
            t_w = _quantizer_type(getattr(layer, "kernel_quantizer_internal", None)) if kind == "QDense" else None
            t_b = _quantizer_type(getattr(layer, "bias_quantizer_internal", None)) if kind == "QDense" else None
            act = layer.get_config().get("activation", "linear")
            act_name = act if isinstance(act, str) else None
            exact = t_x is not None and t_w is not None and (t_b is not None or not layer.use_bias) \
                and act_name in ("linear", None)
            if exact:
                n_in = int(layer.kernel.shape[0])
                terms = [(product(t_x, t_w), n_in)] + ([(t_b, 1)] if layer.use_bias else [])
                acc = exact_accum(terms)
                p = {"weight": _exact_prec(t_w), "accum": _exact_prec(acc), "result": _exact_prec(acc)}
                if layer.use_bias:
                    p["bias"] = _exact_prec(t_b)
                prec[name] = {"Precision": p}
                # hls4ml splits the (linear) activation off into '<name>_linear': it must not round either
                prec[f"{name}_linear"] = {"Precision": {"result": _exact_prec(acc)}}
                out_t[name] = acc
            else:
                out_t[name] = None
            info[name] = {"type": kind, "exact": exact, "output": out_t[name]}
        elif kind == "QActivation":
            q = layer.get_config()["activation"]
            t = _quantizer_type(q) if ("quantized_bits" in str(q) or "quantized_relu" in str(q)) else None
            if t is None:
                raise UserError(f"layer {name!r}: QActivation {q!r} is not supported; use quantized_relu(...) "
                                "or quantized_bits(...)")
            prec[name] = {"Precision": {"result": t.hls4ml_precision()}}
            out_t[name] = t
            info[name] = {"type": kind, "exact": out_t.get(inbound[name][0]) is not None, "output": t}
        elif kind == "Activation":
            act = layer.get_config()["activation"]
            if act not in ("relu", "linear"):
                raise UserError(f"layer {name!r}: Activation {act!r} is not supported; supported: relu, linear")
            out_t[name] = None
            info[name] = {"type": kind, "exact": False, "output": None}
        elif kind == "Dropout":
            out_t[name] = out_t.get(inbound[name][0])
    return prec, info


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
        model = load_keras_model(model_path)
    validate_config(cfg, model)
    if cfg.get("Backend") == "RTL":
        from garnet_hls.rtl.project import convert_rtl

        return convert_rtl(model, cfg, output_dir, force, model_path)
    out = Path(output_dir or cfg.get("OutputDir") or "vivado_projects/" + cfg.get("ProjectName", "myproject"))
    if out.exists() and not force:
        raise UserError(f"output directory {out} exists; use --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        hls_model = to_hls_model(model, cfg, str(tmp))
        hls_model.write()
        _write_extras(hls_model, model, cfg, tmp, model_path)
        _relocate_config(tmp, out)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
                       **({"nvtx": True, "n_vertices": i["n_vertices"]} if i.get("nvtx") else {})}
                   for n, i in info.items()},
        "bit_exact": all(i["exact"] for i in info.values()),
    }
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
    exact = "bit-exact by construction" if meta["bit_exact"] else "NOT bit-exact (float layers present)"
    if meta["backend"] == "RTL":
        exact += f"; {meta['latency_cycles']} cycles at {meta['clock_period_ns']} ns, interval 1"
    print(f"wrote {meta['backend']} project {out} ({meta['project_name']}; {exact})")
    return 0
