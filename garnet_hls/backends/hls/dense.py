"""hls4ml glue for the QKeras layers around our graph layers: QDense on any rank, QActivation.

hls4ml quantizes a ``QDense``'s weights with the QKeras quantizer when it builds a ``Dense`` layer. A
``QDense`` on a per-vertex output ((B, V, F) in, a graph layer without collapse before it) is turned by
hls4ml's ``ReplaceMultidimensionalDenseWithConv`` into a (pointwise) ``Conv1D`` of the same name, and
that copy keeps the raw float weights and drops the quantizers: ``ap_fixed`` would then *truncate* the
float weights instead of taking the values Keras multiplies with.

:func:`quantize_dense_weights` therefore writes the exactly quantized weights and biases (round half to
even, saturate: ``garnet_hls.core.fixed``) into the parsed layer list before hls4ml builds its graph. Every
layer hls4ml makes from it - ``Dense``, ``Conv1D``, ``PointwiseConv1D`` - then holds the values Keras
uses, and takes its weight/bias/accum/result types from the config entry of the same name, which
``garnet_hls.models.exactness.derive_precisions`` fills with the quantizers' types and the exact accumulator.
(For a 2-D ``Dense``, hls4ml's own quantizer call on already quantized values changes nothing.)
"""

from __future__ import annotations

import numpy as np

from garnet_hls.core.fixed import parse_spec
from garnet_hls.core.quantize import quantize_np

DENSE_CLASSES = ("QDense",)


def quantize_dense_weights(layer_list: list, model) -> None:
    """Round the weights/biases of every QDense in hls4ml's parsed ``layer_list`` as QKeras does."""
    by_name = {layer.name: layer for layer in model.layers}
    for entry in layer_list:
        if entry.get("class_name") not in DENSE_CLASSES:
            continue
        layer = by_name.get(entry.get("name"))
        if layer is None:
            continue
        for key, attr in (("weight_data", "kernel_quantizer_internal"), ("bias_data", "bias_quantizer_internal")):
            q = getattr(layer, attr, None)
            if q is None or entry.get(key) is None:
                continue
            t = parse_spec(q)
            if t is not None:
                entry[key] = quantize_np(np.asarray(entry[key], dtype=np.float64), t)


