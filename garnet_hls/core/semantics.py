"""The names and defaults of docs/layers.md that both front ends share (Keras 2 ``garnet_hls.layers`` and
Keras 3 ``garnet_hls.keras3``): options, quantization points, default fixed-point types, block dimensions
and the nvtx check. Pure Python and NumPy, no Keras: either front end imports it without choosing a Keras.
"""

from __future__ import annotations

import numpy as np

from garnet_hls.errors import UserError

COLLAPSE_MODES = (None, "mean", "sum", "max")
ACTIVATIONS = ("linear", "relu", "tanh")
DISTANCES = ("l2", "l1")

GARNET_POINTS = ("input", "kernel", "bias", "distance", "edge_weight", "feature", "reciprocal", "aggregate",
                 "preactivation", "output")
GRAVNET_POINTS = GARNET_POINTS + ("coordinate",)

# Defaults for quantized=True (docs/quantization.md, "Defaults").
DEFAULT_QUANTIZERS = {
    "input": "quantized_bits(16,5,alpha=1)",
    "kernel": "quantized_bits(8,0,alpha=1)",
    "bias": "quantized_bits(8,0,alpha=1)",
    "coordinate": "quantized_bits(12,3,alpha=1)",
    "distance": "quantized_bits(12,3,alpha=1)",
    "edge_weight": "quantized_bits(10,1,keep_negative=0,alpha=1)",
    "feature": "quantized_bits(16,5,alpha=1)",
    "reciprocal": "quantized_bits(18,1,keep_negative=0,alpha=1)",
    "aggregate": "quantized_bits(16,5,alpha=1)",
    "preactivation": "quantized_bits(12,3,alpha=1)",
    "output": "quantized_bits(16,5,alpha=1)",
}
# GravNet: squared distances are >= 0, an unsigned type (docs/quantization.md, Defaults)
GRAVNET_DEFAULT_OVERRIDES = {"distance": "quantized_bits(12,4,keep_negative=0,alpha=1)"}


def garnet_block_dims(f_in: int, a: int, p: int, fo: int, simplified: bool):
    """(F_in, A, P, G, H, Z, F_out) of one GarNet block (garnet_hls.layers.garnet's module docstring)."""
    g = p if simplified else p + a
    h = g if simplified else 2 * g
    z = a * h if simplified else f_in + a * h + a
    return f_in, a, p, g, h, z, fo


def check_nvtx_np(nvtx, n_vertices: int, what: str = "nvtx") -> np.ndarray:
    """API-boundary check of an nvtx array: integers in [0, V]. Returns it as int32 of shape (B, 1)."""
    a = np.asarray(nvtx)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] != 1:
        raise UserError(f"{what} must have shape (B, 1), got {np.shape(nvtx)}")
    if a.size and not np.all(np.equal(np.mod(a, 1), 0)):
        raise UserError(f"{what} must hold whole numbers")
    if a.size and (a.min() < 0 or a.max() > n_vertices):
        bad = a[(a < 0) | (a > n_vertices)][0]
        raise UserError(f"{what} out of range: {bad} is not in [0, {n_vertices}] (V = {n_vertices})")
    return a.astype(np.int32)


# ------------------------------------------------------------------------------------------------
# The layers' options, checked once for both front ends (each layer's __init__ calls these)
# ------------------------------------------------------------------------------------------------
def set_graph_options(layer, collapse, mean_by_nvert, output_activation) -> None:
    """Check and set the options every graph layer has (docs/layers.md)."""
    if collapse not in COLLAPSE_MODES:
        raise UserError(f"{layer.name}: collapse={collapse!r}; valid: {COLLAPSE_MODES}")
    if output_activation not in ACTIVATIONS:
        raise UserError(f"{layer.name}: output_activation={output_activation!r}; valid: {ACTIVATIONS}")
    layer.collapse = collapse
    layer.mean_by_nvert = bool(mean_by_nvert)
    layer.output_activation = output_activation


def set_garnet_options(layer, n_aggregators, n_filters, n_propagate, simplified) -> None:
    """Check and set a GarNet / GarNetStack layer's block options (one entry per block)."""
    layer.n_aggregators = [int(v) for v in n_aggregators]
    layer.n_filters = [int(v) for v in n_filters]
    layer.n_propagate = [int(v) for v in n_propagate]
    if not (len(layer.n_aggregators) == len(layer.n_filters) == len(layer.n_propagate) >= 1):
        raise UserError(f"{layer.name}: n_aggregators, n_filters and n_propagate need one entry per block")
    if min(layer.n_aggregators + layer.n_filters + layer.n_propagate) < 1:
        raise UserError(f"{layer.name}: aggregators, filters and propagated features must be >= 1")
    layer.simplified = bool(simplified)
    layer.n_blocks = len(layer.n_aggregators)
    layer.n_out = layer.n_filters[-1]


GRAVNET_OPTIONS = ("n_dimensions", "n_filters", "n_propagate", "n_neighbours", "distance", "potential_scale")


def set_gravnet_options(layer, n_dimensions, n_filters, n_propagate, n_neighbours, distance,
                        potential_scale) -> None:
    """Check and set a GravNet layer's options (``GRAVNET_OPTIONS``, as get_config writes them)."""
    if distance not in DISTANCES:
        raise UserError(f"{layer.name}: distance={distance!r}; valid: {DISTANCES}")
    layer.n_dimensions = int(n_dimensions)
    layer.n_filters = int(n_filters)
    layer.n_propagate = int(n_propagate)
    layer.n_neighbours = int(n_neighbours)
    if min(layer.n_dimensions, layer.n_filters, layer.n_propagate, layer.n_neighbours) < 1:
        raise UserError(f"{layer.name}: dimensions, filters, propagated features and k must be >= 1")
    layer.distance = distance
    layer.potential_scale = float(potential_scale)
    layer.n_out = layer.n_filters
