"""GravNet in hls4ml: Keras handler, IR layer and templates for ``firmware/gravnet.h``.

As for GarNet (``garnet_hls.backends.hls.garnet``), the type of every quantization point comes from the Keras
layer's quantizers (``docs/quantization.md``) or the config's Precision keys, and every sum or product
between two quantization points gets an exact type derived here: the kernel computes what the Keras layer
computes, bit for bit.

Neighbour selection is a fixed network of compare-exchange units on packed keys ``(empty, d_ij, j)``,
a pruned bitonic sorter ("bitonic top-K"); ``firmware/gravnet.h`` describes it and
:func:`topk_network_cost` counts it.
"""

from __future__ import annotations

import math

import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.layers import Layer

from garnet_hls.core import tables
from garnet_hls.errors import UserError
from garnet_hls.backends.hls.common import (
    ACTIVATION_CODES,
    COLLAPSE_CODES,
    MAX_CODE_BITS,
    add_compact_table,
    add_fixed_weights,
    check_code_widths,
    cpp_type,
    graph_layer_fields,
    graph_output_shape,
    recip_code,
    resolve_types,
    table_pragmas,
    to_hls4ml,
)
from garnet_hls.core.semantics import DEFAULT_QUANTIZERS, GRAVNET_DEFAULT_OVERRIDES, GRAVNET_POINTS
from garnet_hls.core.fixed import FixedType, exact_product_type, exact_sum_type
from garnet_hls.core.quantize import quantize_np

KERAS_CLASSES = {"GravNet": "garnet_hls.GravNet"}
INCLUDES = ["nnet_utils/garnet_common.h", "nnet_utils/fixed_codes.h", "nnet_utils/gravnet.h"]
WEIGHTS = ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias")


# The selection network's shape and cost live in garnet_hls.core.topk (shared with the estimator).
from garnet_hls.core.topk import full_sort_cost, topk_network_cost, topk_network_plan  # noqa: E402,F401


def _unsigned_holding(bound: float, frac: int) -> FixedType:
    """The smallest unsigned type with ``frac`` fractional bits holding every multiple of its LSB in [0, bound]."""
    integer = max(0, math.ceil(math.log2(bound + 2.0 ** -frac))) if bound > 0 else 0
    return FixedType(max(integer + frac, 1), integer, signed=False)


def distance_types(coord: FixedType, n_dimensions: int, distance: str) -> dict:
    """Exact types of s_i - s_j (``diff``) and of the distance before rounding, the sum over S (``dist_sum``)."""
    span = coord.max - coord.min  # the largest |s_i - s_j|
    mag = _unsigned_holding(span, coord.frac)
    diff_t = FixedType(mag.width + 1, mag.integer + 1, signed=True)
    if distance == "l2":
        bound, frac = span * span, 2 * coord.frac
    else:
        bound, frac = span, coord.frac
    return {"diff": diff_t, "dist_sum": _unsigned_holding(n_dimensions * bound, frac)}



# rounding points of the kernel: (result format, exact source format)
ROUNDINGS = (("coord", "dense_accum"), ("feature", "dense_accum"), ("distance", "dist_sum"),
             ("aggregate", "mean_prod"), ("aggregate", "agg_prod"))


def _code_formats(layer) -> dict:
    """Name -> FixedType of every code format the kernel uses (its config's ``<name>_c``)."""
    t = layer.get_attr("point_types")
    et = layer.get_attr("exact_types")
    plan = layer.get_attr("topk")
    key_bits = 1 + t["distance"].width + plan["index_bits"]
    formats = {"input": t["input"], "kernel": t["kernel"], "bias": t["bias"], "coord": t["coordinate"],
               "feature": t["feature"], "distance": t["distance"], "edge_weight": t["edge_weight"],
               "recip": t["reciprocal"], "aggregate": t["aggregate"]}
    formats.update(et)
    formats["key"] = FixedType(key_bits, key_bits, signed=False)
    return formats


# ------------------------------------------------------------------------------------------------
# Keras handler and IR layer
# ------------------------------------------------------------------------------------------------
def parse_gravnet(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for our GravNet layer."""
    cfg = keras_layer["config"]
    name = cfg["name"]
    layer = graph_layer_fields(keras_layer, input_names, input_shapes, GRAVNET_POINTS)
    layer.update(n_dimensions=int(cfg["n_dimensions"]), n_filters=int(cfg["n_filters"]),
                 n_propagate=int(cfg["n_propagate"]), n_neighbours=int(cfg["n_neighbours"]),
                 distance=cfg["distance"], potential_scale=float(cfg["potential_scale"]))
    for w in WEIGHTS:
        layer[f"{w}_data"] = data_reader.get_weights_data(name, w)
    return layer, graph_output_shape(layer, input_shapes, layer["n_filters"])


class GravNetLayer(Layer):
    """hls4ml IR of a GravNet layer (``firmware/gravnet.h``)."""

    POINTS = GRAVNET_POINTS

    def initialize(self):
        V = self.get_attr("n_vertices")
        R = self.model.config.get_reuse_factor(self)
        self.set_attr("reuse_factor", R)
        if V % R != 0:
            raise UserError(f"layer {self.name}: the reuse factor {R} must divide the number of vertices {V}")
        k = self.get_attr("n_neighbours")
        plan = topk_network_plan(V, k)
        self.set_attr("topk", plan)
        if self.get_attr("distance") not in ("l2", "l1"):
            raise UserError(f"layer {self.name}: distance {self.get_attr('distance')!r} is not l2 or l1")

        t = resolve_types(self, self.POINTS, {**DEFAULT_QUANTIZERS, **GRAVNET_DEFAULT_OVERRIDES})
        self.set_attr("point_types", t)
        F, S, P = self.get_attr("n_in"), self.get_attr("n_dimensions"), self.get_attr("n_propagate")
        x_t, k_t, b_t = t["input"], t["kernel"], t["bias"]
        try:
            agg_prod = exact_product_type(t["edge_weight"], t["feature"])
            agg_sum = exact_sum_type([(agg_prod, k)])
            types = {
                "dense_accum": exact_sum_type([(exact_product_type(x_t, k_t), F), (b_t, 1)]),
                **distance_types(t["coordinate"], S, self.get_attr("distance")),
                "agg_prod": agg_prod,
                "agg_sum": agg_sum,
                "mean_prod": exact_product_type(agg_sum, t["reciprocal"]),
                "pre": exact_sum_type([(exact_product_type(x_t, k_t), F), (exact_product_type(t["aggregate"], k_t), 2 * P),
                                        (b_t, 1)]),
            }
        except UserError as e:  # an exact type over 64 bits
            raise UserError(f"layer {self.name}: an exact intermediate type is too wide ({e}); GravNet supports "
                            f"at most {MAX_CODE_BITS} bits: use narrower quantizers") from None
        self.set_attr("exact_types", types)
        check_code_widths(self.name, "GravNet", _code_formats(self), ROUNDINGS)

        for key in ("S_kernel", "P_kernel", "O_kernel"):
            short = key[0].lower() + "k"
            add_fixed_weights(self, short, f"w{{index}}_{short}", quantize_np(self.get_attr(f"{key}_data"), k_t), k_t)
        for key in ("S_bias", "P_bias", "O_bias"):
            short = key[0].lower() + "b"
            add_fixed_weights(self, short, f"w{{index}}_{short}", quantize_np(self.get_attr(f"{key}_data"), b_t), b_t)
        add_compact_table(self, "exp_table", "t{index}_exp",
                          tables.exp_neg_scaled_table(t["distance"], t["edge_weight"], self.get_attr("potential_scale")),
                          t["distance"], t["edge_weight"], "clamp")
        add_fixed_weights(self, "recip_table", "t{index}_recip", tables.reciprocal_table(V, t["reciprocal"]),
                          t["reciprocal"])
        if self.get_attr("output_activation") == "tanh":
            tanh = tables.tanh_table(t["preactivation"], t["output"])
        else:
            tanh = np.zeros(1)
        add_compact_table(self, "tanh_table", "t{index}_tanh", tanh, t["preactivation"], t["output"], "odd")

        fo = self.get_attr("n_filters")
        shape = [fo] if self.get_attr("collapse") else [V, fo]
        self.add_output_variable(shape, precision=to_hls4ml(t["output"]))


def _bool(v) -> str:
    return "true" if v else "false"


def _code(t: FixedType) -> str:
    return f"garnet_hls::fixed_code<{t.width}, {t.integer}, {_bool(t.signed)}>"


def _layer_config(layer):
    t = layer.get_attr("point_types")
    et = layer.get_attr("exact_types")
    plan = layer.get_attr("topk")
    V = layer.get_attr("n_vertices")
    F, P = layer.get_attr("n_in"), layer.get_attr("n_propagate")
    lines = [
        f"struct config{layer.index} {{",
        f"    static const unsigned n_vertices = {V};",
        f"    static const unsigned n_in = {F};",
        f"    static const unsigned n_dimensions = {layer.get_attr('n_dimensions')};",
        f"    static const unsigned n_propagate = {P};",
        f"    static const unsigned n_neighbours = {layer.get_attr('n_neighbours')};",
        f"    static const unsigned n_z = {F + 2 * P};",
        f"    static const unsigned n_out = {layer.get_attr('n_filters')};",
        f"    static const bool l1 = {_bool(layer.get_attr('distance') == 'l1')};",
        f"    static const unsigned activation = {ACTIVATION_CODES[layer.get_attr('output_activation')]};",
        f"    static const unsigned reuse_factor = {layer.get_attr('reuse_factor')};",
        f"    static const unsigned n_pad = {plan['n_pad']};",
        f"    static const unsigned n_block = {plan['n_block']};",
        f"    static const unsigned log_block = {plan['log_block']};",
        f"    static const unsigned n_levels = {plan['n_levels']};",
        f"    static const unsigned index_bits = {plan['index_bits']};",
        f"    static const bool sort_final = {_bool(plan['sort_final'])};",
        f"    static const unsigned exp_table_size = {layer.weights['exp_table'].data_length};",
        f"    static const unsigned exp_fold = {layer.get_attr('exp_table_fold')};",
        f"    static const unsigned recip_table_size = {V + 1};",
        f"    static const long long recip_k_code = {recip_code(layer.get_attr('n_neighbours'), t['reciprocal'])};",
        f"    static const unsigned tanh_table_size = {layer.weights['tanh_table'].data_length};",
        f"    static const unsigned tanh_fold = {layer.get_attr('tanh_table_fold')};",
        f"    typedef {cpp_type(t['input'])} input_t;",
        f"    typedef {cpp_type(t['kernel'], exact=True)} kernel_t;",
        f"    typedef {cpp_type(t['bias'], exact=True)} bias_t;",
        f"    typedef {cpp_type(t['edge_weight'], exact=True)} edge_weight_t;",
        f"    typedef {cpp_type(t['reciprocal'], exact=True)} recip_t;",
        f"    typedef {cpp_type(et['pre'], exact=True)} pre_t;",
        f"    typedef {cpp_type(t['preactivation'])} preact_t;",
        f"    typedef {cpp_type(t['output'])} output_t;",
        f"    typedef {cpp_type(t['output'], exact=True)} tanh_t;",
        "    // code formats (firmware/gravnet.h)",
    ]
    for name, ft in _code_formats(layer).items():
        lines.append(f"    typedef {_code(ft)} {name}_c;")
    lines.append("};")
    return "\n".join(lines)


def _collapse_config(layer):
    t = layer.get_attr("point_types")
    V = layer.get_attr("n_vertices")
    fo = layer.get_attr("n_filters")
    return "\n".join([
        f"struct config{layer.index}_collapse {{",
        f"    static const unsigned n_vertices = {V};",
        f"    static const unsigned n_out = {fo};",
        f"    static const unsigned collapse = {COLLAPSE_CODES[layer.get_attr('collapse')]};",
        f"    static const bool mean_by_nvert = {_bool(layer.get_attr('mean_by_nvert'))};",
        f"    static const unsigned recip_table_size = {V + 1};",
        f"    static const long long recip_v_code = {recip_code(V, t['reciprocal'])};",
        f"    typedef {cpp_type(t['reciprocal'], exact=True)} recip_t;",
        f"    typedef {cpp_type(exact_sum_type([(t['output'], V)]), exact=True)} collapse_sum_t;",
        "};",
    ])


class GravNetConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(GravNetLayer)

    def format(self, node):
        parts = [_layer_config(node)]
        if node.get_attr("collapse"):
            parts.append(_collapse_config(node))
        return "\n\n".join(parts) + "\n"


class GravNetFunctionTemplate(FunctionCallTemplate):
    def __init__(self):
        super().__init__(GravNetLayer, include_header=INCLUDES)

    def format(self, node):
        i = node.index
        x = node.get_input_variable(node.inputs[0])
        nvtx = node.get_input_variable(node.inputs[1]).name
        out = node.get_output_variable()
        collapse = bool(node.get_attr("collapse"))
        lines = table_pragmas(node, ("exp_table", "tanh_table"))
        if collapse:
            dst, dst_t = f"layer{i}_vtx", f"config{i}::output_t"
            lines.append(f"{dst_t} {dst}[{node.get_attr('n_vertices') * node.get_attr('n_filters')}];")
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={dst} complete dim=0")
        else:
            dst, dst_t = out.name, out.type.name
        # the two passes (firmware/gravnet.h), each a process of the DATAFLOW top, with the per-vertex
        # state between them in registers
        V, F = node.get_attr("n_vertices"), node.get_attr("n_in")
        S, P = node.get_attr("n_dimensions"), node.get_attr("n_propagate")
        state = [(f"config{i}::input_c::int_t", f"layer{i}_xh", F), (f"config{i}::coord_c::int_t", f"layer{i}_s", S),
                 (f"config{i}::feature_c::int_t", f"layer{i}_f", P)]
        for ctype, name, width in state:
            lines.append(f"{ctype} {name}[{V}][{width}];")
            lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} complete dim=0")
        names = [name for _, name, _ in state]
        w_in = [node.weights[s].name for s in ("sk", "sb", "pk", "pb")]
        w_out = [node.weights[s].name for s in ("ok", "ob")]
        tabs = [node.weights[s].name for s in ("exp_table", "recip_table", "tanh_table")]
        lines.append(f"garnet_hls::gravnet_in<{x.type.name}, config{i}>({x.name}, " + ", ".join(names + w_in) + ");")
        lines.append(f"garnet_hls::gravnet_query<{dst_t}, config{i}>({nvtx}[0], " + ", ".join(names + w_out + tabs)
                     + f", {dst});")
        if collapse:
            lines.append(f"garnet_hls::graph_collapse<{dst_t}, {out.type.name}, config{i}_collapse>({dst}, "
                         f"{nvtx}[0], {out.name}, {node.weights['recip_table'].name});")
        return lines
