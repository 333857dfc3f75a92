"""The physics a sweep point is judged by, and what it is compared with.

:func:`physics_metrics` turns a point's firmware outputs into the AUC of the class output and the energy
response/resolution of the energy output; :func:`reference_physics` computes the same figures for the
unswept Keras model and for its float version (every quantizer off), so that the table, the plot and the
acceptance (``--max-auc-loss``, ``--max-resolution-loss``) can say what each saving costs.
"""

from __future__ import annotations

import json
from typing import Any

from garnet_hls.flows.sweep_report import _one_line


def physics_metrics(outputs: dict, data: dict) -> dict[str, Any]:
    """AUC of the class output (pion positive) and energy response/resolution of the energy output."""
    import numpy as np

    from garnet_hls.models.build import ENERGY_SCALE
    from garnet_hls.physics.train import roc_auc

    out: dict[str, Any] = {}
    for name, arr in outputs.items():
        a = np.asarray(arr, dtype=np.float64).reshape(len(arr), -1)
        if a.shape[1] != 1:
            continue
        if ("class" in name or "logit" in name) and "label" in data:
            out["auc"] = roc_auc(data["label"], a[:, 0])
            out["auc_output"] = name
        elif "energy" in name and "energy" in data:
            ratio = a[:, 0] * ENERGY_SCALE / np.asarray(data["energy"], dtype=np.float64)
            out["energy_response"] = float(np.mean(ratio))
            out["energy_resolution"] = float(np.std(ratio - 1.0))
            out["energy_output"] = name
    return out


def keras_outputs(model, data: dict, batch_size: int = 256) -> dict[str, Any]:
    """The Keras model's outputs on the events, by output name (integer inputs get ``nvtx``, others
    ``features``)."""
    import numpy as np

    n = len(data["nvtx"])
    xs = []
    for inp in model.inputs:
        if inp.dtype.is_integer:
            xs.append(np.asarray(data["nvtx"]).reshape(n, -1).astype(np.int32))
        else:
            xs.append(np.asarray(data["features"], dtype=inp.dtype.as_numpy_dtype))
    outs = model.predict(xs, batch_size=batch_size, verbose=0)
    return dict(zip(model.output_names, outs if isinstance(outs, list) else [outs]))


def float_model(model):
    """The model with every quantizer off (graph layers ``quantized=False``, QDense quantizers None,
    ``QActivation`` quantized_relu -> relu, quantized_bits -> linear), same float weights: what the
    trained network does before any fixed-point rounding."""
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    arch = json.loads(model.to_json())
    for entry in arch["config"]["layers"]:
        cfg = entry["config"]
        if isinstance(cfg.get("quantized"), bool):
            cfg["quantized"] = False
        for k in list(cfg):
            if k.endswith("_quantizer"):
                cfg[k] = None
        if entry["class_name"] == "QActivation":
            a = cfg.get("activation")
            name = a if isinstance(a, str) else (a or {}).get("class_name", "")
            cfg["activation"] = "relu" if "relu" in str(name) else "linear"
    objects = {}
    _add_supported_quantized_objects(objects)
    clone = keras.models.model_from_json(json.dumps(arch), custom_objects=objects)
    clone.set_weights(model.get_weights())
    return clone


def reference_physics(model, data: dict) -> dict[str, Any]:
    """The physics of the unswept model (the Keras model as given, computed in float64 as the bit-exactness
    check does, so a bit-exact ``model`` point has the same figures) and of its float version
    (:func:`float_model`) on the sweep's events. A model that cannot be evaluated is said in ``*_error``."""
    from garnet_hls.flows.compare import keras_float64, keras_float64_clone

    ref: dict[str, Any] = {"model": None, "float": None}
    try:
        with keras_float64():
            ref["model"] = physics_metrics(keras_outputs(keras_float64_clone(model), data), data)
    except Exception as e:  # noqa: BLE001 - the sweep goes on without a reference
        ref["model_error"] = _one_line(f"{type(e).__name__}: {e}")[:300]
    try:
        ref["float"] = physics_metrics(keras_outputs(float_model(model), data), data)
    except Exception as e:  # noqa: BLE001
        ref["float_error"] = _one_line(f"{type(e).__name__}: {e}")[:300]
    return ref
