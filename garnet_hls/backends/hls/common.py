"""Shared by the hls4ml glue of every graph layer: types, precision overrides, weights and tables."""

from __future__ import annotations

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.core.semantics import DEFAULT_QUANTIZERS
from garnet_hls.core.fixed import FixedType, parse_precision, parse_spec

COLLAPSE_CODES = {None: 0, "mean": 1, "sum": 2, "max": 3}
ACTIVATION_CODES = {"linear": 0, "relu": 1, "tanh": 2}


def to_hls4ml(t: FixedType, exact: bool = False):
    """hls4ml FixedPrecisionType: rounding/saturating (AP_RND_CONV, AP_SAT) unless ``exact``."""
    from hls4ml.model.types import FixedPrecisionType

    if exact:
        return FixedPrecisionType(width=t.width, integer=t.integer, signed=t.signed)
    return FixedPrecisionType(width=t.width, integer=t.integer, signed=t.signed, rounding_mode="RND_CONV",
                              saturation_mode="SAT")


def cpp_type(t: FixedType, exact: bool = False) -> str:
    if exact:
        return f"{'ap_fixed' if t.signed else 'ap_ufixed'}<{t.width},{t.integer}>"
    return t.ap_type()


def resolve_types(layer, points, defaults=None) -> dict:
    """Types of the quantization points: the Keras quantizers, overridden by the config's Precision keys."""
    specs = layer.get_attr("quantizer_specs")
    defaults = defaults or DEFAULT_QUANTIZERS
    types = {p: parse_spec(specs.get(p) or defaults[p]) for p in points}
    overrides = layer.get_attr("precision")
    if not isinstance(overrides, dict):
        overrides = {}
    for key, value in overrides.items():
        key = "output" if key == "result" else key
        types[key] = parse_precision(value, f"layer {layer.name}, Precision key {key!r}")
    return types


def add_fixed_weights(layer, name, var_name, data, t: FixedType):
    """A weight or table as an hls4ml weights variable of exact type ``t`` (written as a constant array)."""
    data = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    layer.add_weights_variable(name=name, var_name=var_name, data=data, precision=to_hls4ml(t, exact=True))
    return layer.weights[name]


MAX_CODE_BITS = 62  # codes are 64-bit integers in fast C simulation (firmware/fixed_codes.h)


def check_code_widths(name: str, kind: str, formats: dict, roundings):
    """Refuse formats a kernel cannot hold as codes: over MAX_CODE_BITS bits, or a rounding over 64."""
    for point, ft in formats.items():
        if ft.width > MAX_CODE_BITS:
            raise UserError(f"layer {name}: the exact {point} values need {ft.width} bits ({ft}); {kind} supports "
                            f"at most {MAX_CODE_BITS}: use narrower quantizers")
    for dst, src in roundings:
        up = max(0, formats[dst].frac - formats[src].frac)
        if formats[src].width + up + 2 > 64:
            raise UserError(f"layer {name}: rounding {src} ({formats[src]}) to {dst} ({formats[dst]}) needs more "
                            "than 64 bits: use narrower quantizers")


def graph_layer_fields(keras_layer, input_names, input_shapes, points) -> dict:
    """The IR attributes every graph layer's Keras handler starts from (shapes, collapse, quantizers)."""
    cfg = keras_layer["config"]
    return {
        "class_name": keras_layer["class_name"],
        "name": cfg["name"],
        "inputs": input_names,
        "n_vertices": int(input_shapes[0][1]),
        "n_in": int(input_shapes[0][2]),
        "collapse": cfg["collapse"],
        "mean_by_nvert": bool(cfg["mean_by_nvert"]),
        "output_activation": cfg["output_activation"],
        "quantized": bool(cfg["quantized"]),
        "quantizer_specs": {p: cfg.get(f"{p}_quantizer") for p in points},
    }


def graph_output_shape(layer: dict, input_shapes, n_out: int):
    if layer["collapse"]:
        return [input_shapes[0][0], n_out]
    return [input_shapes[0][0], layer["n_vertices"], n_out]


def add_compact_table(layer, name: str, var_name: str, full, index_t: FixedType, out_t: FixedType, symmetry: str):
    """A lookup table written into the firmware in its compact form (``garnet_hls.core.tables.compact_table``);
    the fold mode goes into the layer's attribute ``<name>_fold`` for the config struct."""
    from garnet_hls.core import tables

    mode, data = tables.compact_table(full, index_t, symmetry)
    layer.set_attr(f"{name}_fold", mode)
    return add_fixed_weights(layer, name, var_name, data, out_t)


def recip_code(n: int, recip_t: FixedType) -> int:
    """The integer code of Q(1/n) in ``recip_t``: the constant a mean over a fixed n multiplies by."""
    from garnet_hls.core import tables

    return int(round(tables.reciprocal_table(n, recip_t)[n] * 2.0 ** recip_t.frac))


def table_pragmas(node, table_names) -> list[str]:
    """Pragmas in the top function for the layer's lookup tables (docs/estimate.md, "Tables per lane"):
    a table of at most tables.LOGIC_TABLE_MAX_ENTRIES entries is partitioned completely (logic: every
    read is its own multiplexer over constants), a bigger one is a multi-port ROM (HLS replicates it,
    one copy per two reads per clock)."""
    from garnet_hls.core import tables

    backend = str(node.model.config.get_config_value("Backend") or "Vivado").lower()
    lines = []
    for name in table_names:
        w = node.weights[name]
        if w.data_length <= 1:
            continue
        if tables.table_is_logic(w.data_length):
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={w.name} complete dim=1")
        elif backend.startswith("vitis"):
            lines.append(f"#pragma HLS BIND_STORAGE variable={w.name} type=rom_np impl=bram")
        else:
            lines.append(f"#pragma HLS RESOURCE variable={w.name} core=ROM_nP_BRAM")
    return lines
