"""GarNet and GarNetStack in hls4ml: Keras handler, IR layer and templates for ``firmware/garnet.h``.

The types of every quantization point come from the Keras layer's quantizers (``docs/quantization.md``)
or the config's Precision keys; every sum between two quantization points gets an exact type derived
here, so the kernel computes what the Keras layer computes, bit for bit.

The kernel computes on the integer codes of these types (``firmware/fixed_codes.h``): the config struct of
a block gives every format twice, as the ap type (``<name>_t``, read by ``garnet_hls.estimate``) and as
its code format (``<name>_c``, a ``garnet_hls::fixed_code<W, I, signed>``). Codes are at most
:data:`MAX_CODE_BITS` bits wide (checked here).
"""

from __future__ import annotations

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
from garnet_hls.core.fixed import exact_product_type, exact_sum_type, union_type
from garnet_hls.core.quantize import quantize_np
from garnet_hls.core.semantics import GARNET_POINTS

KERAS_CLASSES = {"GarNet": "garnet_hls.GarNet", "GarNetStack": "garnet_hls.GarNetStack"}
INCLUDES = ["nnet_utils/garnet_common.h", "nnet_utils/fixed_codes.h", "nnet_utils/garnet.h"]


# code formats of a block's config (<name>_c): name -> the key of the block's types or point types
CODE_FORMATS = (("input", "input_t"), ("kernel", "kernel"), ("bias", "bias"), ("dense_accum", "dense_accum_t"),
                ("distance", "distance"), ("edge_weight", "edge_weight"), ("feature", "feature"), ("g", "g_t"),
                ("agg_prod", "agg_prod_t"), ("agg_sum", "agg_sum_t"), ("recip", "reciprocal"),
                ("mean_prod", "mean_prod_t"), ("aggregate", "aggregate"), ("hw", "hw_t"), ("pre", "pre_t"),
                ("preact", "preactivation"), ("output", "output"))

# rounding points of the kernel: (result format, exact source format)
ROUNDINGS = (("distance", "dense_accum"), ("feature", "dense_accum"), ("aggregate", "mean_prod"),
             ("aggregate", "agg_prod"), ("preact", "pre"), ("output", "pre"))


def code_formats(point_types: dict, block_types: dict) -> dict:
    """Name -> FixedType of every code format a block's kernel uses (its config's ``<name>_c``)."""
    return {name: block_types[key] if key in block_types else point_types[key] for name, key in CODE_FORMATS}


def parse_garnet(keras_layer, input_names, input_shapes, data_reader):
    """Keras-v2 handler for our GarNet and GarNetStack layers."""
    cfg = keras_layer["config"]
    name = cfg["name"]
    stack = keras_layer["class_name"].endswith("Stack")
    as_list = (lambda v: list(v)) if stack else (lambda v: [v])
    layer = graph_layer_fields(keras_layer, input_names, input_shapes, GARNET_POINTS)
    layer.update(n_aggregators=as_list(cfg["n_aggregators"]), n_filters=as_list(cfg["n_filters"]),
                 n_propagate=as_list(cfg["n_propagate"]), simplified=bool(cfg["simplified"]))
    for b in range(len(layer["n_aggregators"])):
        prefix = f"block{b}_" if stack else ""
        for w in ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias"):
            layer[f"b{b}_{w}_data"] = data_reader.get_weights_data(name, f"{prefix}{w}")
    return layer, graph_output_shape(layer, input_shapes, layer["n_filters"][-1])


class GarNetLayer(Layer):
    """hls4ml IR of a GarNet block or stack (``firmware/garnet.h``)."""

    POINTS = GARNET_POINTS

    def initialize(self):
        V = self.get_attr("n_vertices")
        R = self.model.config.get_reuse_factor(self)
        self.set_attr("reuse_factor", R)
        if V % R != 0:
            raise UserError(f"layer {self.name}: the reuse factor {R} must divide the number of vertices {V}")
        t = resolve_types(self, self.POINTS)
        self.set_attr("point_types", t)
        simplified = self.get_attr("simplified")
        blocks = []
        x_t = t["input"]
        k_t, b_t = t["kernel"], t["bias"]
        for b, (a, fo, p) in enumerate(zip(self.get_attr("n_aggregators"), self.get_attr("n_filters"),
                                           self.get_attr("n_propagate"))):
            f_in = self.get_attr("n_in") if b == 0 else self.get_attr("n_filters")[b - 1]
            g = p if simplified else p + a
            h = g if simplified else 2 * g
            z = a * h if simplified else f_in + a * h + a
            ew = t["edge_weight"]
            try:
                g_t = t["feature"] if simplified else union_type(t["feature"], ew)
                agg_prod_t = exact_product_type(ew, g_t)
                agg_sum_t = exact_sum_type([(agg_prod_t, V)])
                hw_t = exact_sum_type([(exact_product_type(t["aggregate"], k_t), h)])
                pre_terms = [(exact_product_type(ew, hw_t), a), (b_t, 1)]
                if not simplified:
                    pre_terms += [(exact_product_type(x_t, k_t), f_in), (exact_product_type(ew, k_t), a)]
                bt = {
                    "input_t": x_t,
                    "dense_accum_t": exact_sum_type([(exact_product_type(x_t, k_t), f_in), (b_t, 1)]),
                    "g_t": g_t,
                    "agg_prod_t": agg_prod_t,
                    "agg_sum_t": agg_sum_t,
                    "mean_prod_t": exact_product_type(agg_sum_t, t["reciprocal"]),
                    "hw_t": hw_t,
                    "pre_t": exact_sum_type(pre_terms),
                }
            except UserError as e:  # an exact type over 64 bits
                raise UserError(f"layer {self.name}: an exact intermediate type is too wide ({e}); GarNet supports "
                                f"at most {MAX_CODE_BITS} bits: use narrower quantizers") from None
            check_code_widths(self.name, "GarNet", code_formats(t, bt), ROUNDINGS)
            blocks.append(dict(a=a, fo=fo, p=p, f_in=f_in, g=g, h=h, z=z, types=bt))
            w = {k: self.get_attr(f"b{b}_{k}_data") for k in ("S_kernel", "S_bias", "P_kernel", "P_bias",
                                                               "O_kernel", "O_bias")}
            for key, short in (("S_kernel", "sk"), ("P_kernel", "pk"), ("O_kernel", "ok")):
                add_fixed_weights(self, f"b{b}_{short}", f"w{{index}}_b{b}_{short}", quantize_np(w[key], k_t), k_t)
            for key, short in (("S_bias", "sb"), ("P_bias", "pb"), ("O_bias", "ob")):
                add_fixed_weights(self, f"b{b}_{short}", f"w{{index}}_b{b}_{short}", quantize_np(w[key], b_t), b_t)
            x_t = t["output"]
        self.set_attr("blocks", blocks)

        add_compact_table(self, "exp_table", "t{index}_exp", tables.exp_neg_square_table(t["distance"], t["edge_weight"]),
                          t["distance"], t["edge_weight"], "even")
        add_fixed_weights(self, "recip_table", "t{index}_recip", tables.reciprocal_table(V, t["reciprocal"]),
                          t["reciprocal"])
        if self.get_attr("output_activation") == "tanh":
            tanh = tables.tanh_table(t["preactivation"], t["output"])
        else:
            tanh = np.zeros(1)
        add_compact_table(self, "tanh_table", "t{index}_tanh", tanh, t["preactivation"], t["output"], "odd")

        fo = self.get_attr("n_filters")[-1]
        shape = [fo] if self.get_attr("collapse") else [V, fo]
        self.add_output_variable(shape, precision=to_hls4ml(t["output"]))


def _block_config(layer, b):
    blk = layer.get_attr("blocks")[b]
    t = layer.get_attr("point_types")
    bt = blk["types"]
    act = ACTIVATION_CODES[layer.get_attr("output_activation")]
    lines = [
        f"struct config{layer.index}_b{b} {{",
        f"    static const unsigned n_vertices = {layer.get_attr('n_vertices')};",
        f"    static const unsigned n_in = {blk['f_in']};",
        f"    static const unsigned n_aggregators = {blk['a']};",
        f"    static const unsigned n_propagate = {blk['p']};",
        f"    static const unsigned n_g = {blk['g']};",
        f"    static const unsigned n_h = {blk['h']};",
        f"    static const unsigned n_z = {blk['z']};",
        f"    static const unsigned n_out = {blk['fo']};",
        f"    static const bool simplified = {'true' if layer.get_attr('simplified') else 'false'};",
        f"    static const bool mean_by_nvert = {'true' if layer.get_attr('mean_by_nvert') else 'false'};",
        f"    static const unsigned activation = {act};",
        f"    static const unsigned reuse_factor = {layer.get_attr('reuse_factor')};",
        f"    static const unsigned exp_table_size = {layer.weights['exp_table'].data_length};",
        f"    static const unsigned exp_fold = {layer.get_attr('exp_table_fold')};",
        f"    static const unsigned recip_table_size = {layer.get_attr('n_vertices') + 1};",
        f"    static const long long recip_v_code = {recip_code(layer.get_attr('n_vertices'), t['reciprocal'])};",
        f"    static const unsigned tanh_table_size = {layer.weights['tanh_table'].data_length};",
        f"    static const unsigned tanh_fold = {layer.get_attr('tanh_table_fold')};",
        f"    typedef {cpp_type(bt['input_t'])} input_t;",
        f"    typedef {cpp_type(t['kernel'], exact=True)} kernel_t;",
        f"    typedef {cpp_type(t['bias'], exact=True)} bias_t;",
        f"    typedef {cpp_type(bt['dense_accum_t'], exact=True)} dense_accum_t;",
        f"    typedef {cpp_type(t['distance'])} distance_t;",
        f"    typedef {cpp_type(t['edge_weight'], exact=True)} edge_weight_t;",
        f"    typedef {cpp_type(t['feature'])} feature_t;",
        f"    typedef {cpp_type(bt['g_t'], exact=True)} g_t;",
        f"    typedef {cpp_type(bt['agg_prod_t'], exact=True)} agg_prod_t;",
        f"    typedef {cpp_type(bt['agg_sum_t'], exact=True)} agg_sum_t;",
        f"    typedef {cpp_type(t['reciprocal'], exact=True)} recip_t;",
        f"    typedef {cpp_type(t['aggregate'])} aggregate_t;",
        f"    typedef {cpp_type(bt['hw_t'], exact=True)} hw_t;",
        f"    typedef {cpp_type(bt['pre_t'], exact=True)} pre_t;",
        f"    typedef {cpp_type(t['preactivation'])} preact_t;",
        f"    typedef {cpp_type(t['output'])} output_t;",
        f"    typedef {cpp_type(t['output'], exact=True)} tanh_t;",
        "    // code formats (firmware/fixed_codes.h)",
    ]
    for name, ft in code_formats(t, bt).items():
        lines.append(f"    typedef {_code(ft)} {name}_c;")
    lines.append("};")
    return "\n".join(lines)


def _code(t) -> str:
    return f"garnet_hls::fixed_code<{t.width}, {t.integer}, {'true' if t.signed else 'false'}>"


def _collapse_config(layer):
    t = layer.get_attr("point_types")
    V = layer.get_attr("n_vertices")
    fo = layer.get_attr("n_filters")[-1]
    return "\n".join([
        f"struct config{layer.index}_collapse {{",
        f"    static const unsigned n_vertices = {V};",
        f"    static const unsigned n_out = {fo};",
        f"    static const unsigned collapse = {COLLAPSE_CODES[layer.get_attr('collapse')]};",
        f"    static const bool mean_by_nvert = {'true' if layer.get_attr('mean_by_nvert') else 'false'};",
        f"    static const unsigned recip_table_size = {V + 1};",
        f"    static const long long recip_v_code = {recip_code(V, t['reciprocal'])};",
        f"    typedef {cpp_type(t['reciprocal'], exact=True)} recip_t;",
        f"    typedef {cpp_type(exact_sum_type([(t['output'], V)]), exact=True)} collapse_sum_t;",
        "};",
    ])


class GarNetConfigTemplate(LayerConfigTemplate):
    def __init__(self):
        super().__init__(GarNetLayer)

    def format(self, node):
        parts = [_block_config(node, b) for b in range(len(node.get_attr("blocks")))]
        if node.get_attr("collapse"):
            parts.append(_collapse_config(node))
        return "\n\n".join(parts) + "\n"


class GarNetFunctionTemplate(FunctionCallTemplate):
    """The calls of a GarNet layer in the top function: one function per vertex pass (``firmware/garnet.h``):
    ``garnet_in`` (block 0), ``garnet_mid`` (block b -> b+1), ``garnet_out`` or ``garnet_out_collapse``,
    with each block's aggregators (``garnet_agg``) between its passes and the per-block state arrays
    between the functions."""

    def __init__(self):
        super().__init__(GarNetLayer, include_header=INCLUDES)

    def format(self, node):
        i = node.index
        x = node.get_input_variable(node.inputs[0]).name
        x_type = node.get_input_variable(node.inputs[0]).type.name
        nvtx = node.get_input_variable(node.inputs[1]).name + "[0]"
        out = node.get_output_variable()
        blocks = node.get_attr("blocks")
        simplified = bool(node.get_attr("simplified"))
        collapse = bool(node.get_attr("collapse"))
        V = node.get_attr("n_vertices")
        lines = table_pragmas(node, ("exp_table", "tanh_table"))
        state = []
        for b, blk in enumerate(blocks):
            cfg = f"config{i}_b{b}"
            names = [f"layer{i}_b{b}_{s_}" for s_ in ("w", "sum", "mx", "x", "hw")]
            nx = 1 if simplified else V * blk["f_in"]
            decl = [(f"{cfg}::edge_weight_c::int_t", names[0], V * blk["a"]),
                    (f"{cfg}::agg_sum_c::int_t", names[1], blk["a"] * blk["g"]),
                    (f"{cfg}::agg_prod_c::int_t", names[2], blk["a"] * blk["g"]),
                    (f"{cfg}::input_c::int_t", names[3], nx),
                    (f"{cfg}::hw_c::int_t", names[4], blk["a"] * blk["fo"])]
            for ctype, name, size in decl:  # registers; a pass reads row v = iu R + ir through an R:1 mux
                lines.append(f"{ctype} {name}[{size}];")
                lines.append(f"#pragma HLS ARRAY_PARTITION variable={name} complete dim=0")
            state.append(names)
        w = lambda b, keys: [node.weights[f"b{b}_{k}"].name for k in keys]  # noqa: E731
        exp_t, recip_t, tanh_t = (node.weights[n].name for n in ("exp_table", "recip_table", "tanh_table"))
        lines.append(f"garnet_hls::garnet_in<{x_type}, config{i}_b0>({x}, {nvtx}, " + ", ".join(
            state[0][:4] + w(0, ("sk", "sb", "pk", "pb")) + [exp_t]) + ");")

        def agg(b):  # the aggregators of block b: sums -> hw
            lines.append(f"garnet_hls::garnet_agg<config{i}_b{b}>({nvtx}, " + ", ".join(
                [state[b][1], state[b][2]] + w(b, ("ok",)) + [recip_t, state[b][4]]) + ");")

        def out_side(b):  # what VertexOut of block b reads: w, hw, input codes, W_O, b_O, tanh
            return [state[b][0], state[b][4], state[b][3]] + w(b, ("ok", "ob"))

        for b in range(len(blocks) - 1):
            agg(b)
            lines.append(f"garnet_hls::garnet_mid<config{i}_b{b}, config{i}_b{b + 1}>({nvtx}, " + ", ".join(
                out_side(b) + [tanh_t] + state[b + 1][:4] + w(b + 1, ("sk", "sb", "pk", "pb")) + [exp_t]) + ");")
        last = len(blocks) - 1
        agg(last)
        if collapse:
            args = ", ".join(out_side(last) + [recip_t, tanh_t, out.name])
            lines.append(f"garnet_hls::garnet_out_collapse<config{i}_b{last}, config{i}_collapse, {out.type.name}>"
                         f"({nvtx}, {args});")
        else:
            args = ", ".join(out_side(last) + [tanh_t, out.name])
            lines.append(f"garnet_hls::garnet_out<config{i}_b{last}, {out.type.name}>({nvtx}, {args});")
        return lines
