"""Keras model -> hls4ml project with our GarNet/GravNet kernels: the HLS backends' ``convert``.

The conversion is bit-exact by construction where the model is quantized: every type of the firmware
is derived from the Keras quantizers (``garnet_hls.models.exactness``). Where that cannot be guaranteed (a
float layer, a QKeras ``quantized_relu`` fed by values with more significant bits than its float32 cast
keeps, a config Precision that drops bits of a derived type), the converter prints a warning naming the
layer and the reason, and writes ``bit_exact: false`` with the reasons into ``garnet_project.json``.

* Our graph layers take their types from their quantizers (``garnet_hls.backends.hls.garnet`` / ``gravnet``).
* ``QDense`` gets its weight and bias types from its quantizers, and an accumulator/result type wide
  enough to hold its exact sum (the Keras model, run in float64, loses nothing there either). On a
  per-vertex input hls4ml turns it into a pointwise ``Conv1D`` of the same name, which takes the same
  config entry; its weights are quantized before hls4ml copies them (``garnet_hls.backends.hls.dense``).
* ``QActivation`` rounds (``AP_RND_CONV``) and saturates to its quantizer's type, as QKeras does.
* The features input takes the first graph layer's input type, the nvtx input an unsigned integer
  wide enough for ``V``.

The flow (``garnet_hls.flows.convert``) gives :func:`write_project` an empty temporary directory and
publishes it when it is complete.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from garnet_hls.models.exactness import derive_precisions, not_exact_reasons


BATCH_BRIDGE = "garnet_batch.cpp"


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
    """An hls4ml ModelGraph of ``model``: a Keras 2 model parsed by hls4ml's Keras 2 converter, a Keras 3 one by
    its Keras 3 converter (``garnet_hls.backends.hls.keras3``), with our layers registered in both."""
    import hls4ml
    from hls4ml.model import ModelGraph

    from garnet_hls.backends.hls import extension as glue
    from garnet_hls.models.io import is_keras3_model

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
    config["TraceOutput"] = True  # trace hooks cost nothing until enabled; compare uses them
    if is_keras3_model(model):
        from garnet_hls.backends.hls import keras3

        layer_list, inputs, outputs, feeds = keras3.parse_model(model, cfg)
        config["HLSConfig"] = keras3.hls_config(model, cfg, feeds)
        hls_model = ModelGraph.from_layer_list(config, layer_list, inputs, outputs)
        hls_model.garnet_keras3_feeds = feeds
        return hls_model

    from hls4ml.converters.keras_v2_to_hls import KerasModelReader, parse_keras_model

    from garnet_hls.backends.hls.dense import quantize_dense_weights

    config["HLSConfig"] = build_hls_config(model, cfg)
    config["HLSConfig"]["Model"]["BitExact"] = None

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


def _relocate_config(tmp: Path, out: Path):
    """hls4ml records OutputDir in hls4ml_config.yml: point it at the final place, not the temp dir."""
    p = tmp / "hls4ml_config.yml"
    if p.exists():
        text = p.read_text().replace(str(tmp), str(out.resolve()))
        p.write_text(text)


def _write_extras(hls_model, model, cfg, prj: Path, model_path):
    """Metadata for csim/compare, and the batch bridge that runs many events per library call."""
    from garnet_hls.backends.hls.bridge import write_batch_bridge

    feeds = getattr(hls_model, "garnet_keras3_feeds", None)
    if feeds is not None:  # a Keras 3 model: every layer exact, or refused (garnet_hls.backends.hls.keras3)
        from garnet_hls.backends.hls.keras3 import input_layer_name, layer_info

        info = layer_info(model, hls_model, feeds)
        keras_inputs = [input_layer_name(t) for t in model.inputs]
    else:
        _, info = derive_precisions(model, cfg)
        keras_inputs = [t.name.split(":")[0].split("/")[0] for t in model.inputs]
    inputs = [v for v in hls_model.get_input_variables()]
    outputs = [v for v in hls_model.get_output_variables()]
    keras_outputs = list(model.output_names)
    traced = []
    for layer in hls_model.get_layers():
        if layer.get_attr("trace", False) and layer.get_attr("function_cpp", None):
            var = layer.get_output_variable()
            traced.append({"name": layer.name, "size": int(var.size()), "type": str(var.type.precision)})
    meta = {
        "garnet_hls_version": _version(),
        "project_name": hls_model.config.get_project_name(),
        "backend": cfg.get("Backend", "Vivado").lower(),
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
    write_batch_bridge(prj, meta)
    return meta


def _version():
    import garnet_hls

    return garnet_hls.__version__


def write_project(model, cfg: dict, tmp: Path, out: Path, model_path=None) -> dict:
    """Write the hls4ml project of ``model`` into ``tmp`` (to be published as ``out``); returns its
    metadata, which the flow writes as ``garnet_project.json``."""
    hls_model = to_hls_model(model, cfg, str(tmp))
    hls_model.write()
    meta = _write_extras(hls_model, model, cfg, tmp, model_path)
    _relocate_config(tmp, out)
    return meta
