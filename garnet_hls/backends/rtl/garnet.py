"""GarNet and GarNetStack as a da4ml trace: the RTL of ``garnet_hls/layers/garnet.py``.

Same integer values and rounding points as the Keras layer (``docs/quantization.md``), fully parallel:

* ``x W_S + b_S`` and ``x W_P + b_P`` are constant-matrix products: da4ml turns them into adder graphs
  (no multiplier), one per vertex.
* ``exp(-d^2)`` and ``tanh`` are the very tables of ``garnet_hls/core/tables.py`` as ROMs.
* the aggregation needs the V x A x G products ``w_ia g_ic``; in full mode the max and the mean share them.
* the output transform is computed as ``sum_a w_ia (h_a W_O[a])`` instead of ``(w_ia h_ac) W_O``: the
  same exact sum, with A small constant-matrix products on the aggregates instead of one per vertex.
* padding vertices (``i >= nvtx``) are masked by muxes driven by ``nvtx > i``.
"""

from __future__ import annotations

import numpy as np

from garnet_hls.core import tables
from garnet_hls.backends.rtl import common as C


def block_weights(layer, b):
    """Quantized constants of block b, as the Keras layer uses them."""
    w = layer.block_weights(b)
    tk, tb = layer.types["kernel"], layer.types["bias"]
    return {k: C.weights(v, tk if k.endswith("kernel") else tb) for k, v in w.items()}


def input_pass(layer, b, x, valid):
    """Block b's per-vertex first half on x (n, F_in), n vertices (V, or L lanes of a folded design):
    the edge weights w (n, A), 0 where ``valid`` (n,) is 0, and the products w_ia g_ic (n, A, G)."""
    trace = C.da()
    T = layer.types
    W = block_weights(layer, b)
    n = x.shape[0]
    d = C.quantize(C.dense(x, W["S_kernel"], W["S_bias"]), T["distance"])  # (n, A)
    w = C.lookup(d, tables.exp_neg_square_table(T["distance"], T["edge_weight"]), T["distance"])
    w = C.where(valid.reshape(n, 1), w, 0.0)
    f = C.quantize(C.dense(x, W["P_kernel"], W["P_bias"]), T["feature"])  # (n, P)
    g = f if layer.simplified else trace.FixedVariableArray(np.concatenate([f._vars, w._vars], axis=1),
                                                            hwconf=x.hwconf)
    # products w_ia g_ic, shared by the mean and (full mode) the max
    # (w_ia is shared by the G products of edge (i, a): packable, Multipliers: packed)
    prod = trace.FixedVariableArray(_outer(w._vars, lambda i, a: g._vars[i]), hwconf=x.hwconf)
    return w, prod


def _outer(w, others_of):
    """(n, A, m) products ``w[i, a] * others_of(i, a)[c]``, each row sharing w[i, a] (common.shared_products,
    which packs pairs of them into one DSP where the config asks and the widths allow)."""
    n, A = w.shape
    xcache = {}
    rows = [[C.shared_products(w[i, a], list(others_of(i, a)), xcache) for a in range(A)] for i in range(n)]
    out = np.empty((n, A, len(rows[0][0]) if n and A else 0), dtype=object)
    for i in range(n):
        for a in range(A):
            out[i, a, :] = rows[i][a]
    return out


def aggregate(layer, b, total, mx, nvtx):
    """Block b's once-per-event part: from the exact sum ``total`` (A, G) of the products and, in full
    mode, their max ``mx`` (A, G; 0 when nvtx = 0) before Q_agg, the products h_a W_O[a]: (A, F_out)."""
    trace = C.da()
    T = layer.types
    f_in, A, _, _, H, _, _ = layer.block_dims(b)
    recip_tab = tables.reciprocal_table(layer._n_max, T["reciprocal"])
    r = C.reciprocal(nvtx if layer.mean_by_nvert else layer.n_vertices, recip_tab, total.hwconf)
    mean = C.quantize(C.scale(total, r), T["aggregate"])
    if layer.simplified:
        h = mean
    else:
        mx = C.quantize(mx, T["aggregate"])
        h = trace.FixedVariableArray(np.concatenate([mx._vars, mean._vars], axis=1), hwconf=total.hwconf)  # (A, H)
    Wo = block_weights(layer, b)["O_kernel"]
    off = 0 if layer.simplified else f_in
    hw = [C.cmatmul(h[a], Wo[off + a * H: off + (a + 1) * H]) for a in range(A)]  # A x (F_out,)
    return trace.FixedVariableArray(np.stack([v._vars for v in hw]), hwconf=total.hwconf)  # (A, F_out)


def output_pass(layer, b, x, w, hw):
    """Block b's per-vertex second half: y_i = Q_out(act(pre_i)) for x (n, F_in) and w (n, A), with
    pre_i = [x_i, u_i, w_i] W_O + b_O and u_i[a*H + c] = w_ia h_ac, summed as sum_a w_ia (h_a W_O[a])."""
    trace = C.da()
    W = block_weights(layer, b)
    f_in, A, _, _, H, _, _ = layer.block_dims(b)
    Wo, bo = W["O_kernel"], W["O_bias"]
    pre = np.sum(trace.FixedVariableArray(_outer(w._vars, lambda i, a: hw._vars[a]), hwconf=w.hwconf),
                 axis=1)  # (n, F_out)
    C.tag(pre, "accumulators")
    if not layer.simplified:
        pre = pre + C.cmatmul(x, Wo[:f_in]) + C.cmatmul(w, Wo[f_in + A * H:])
    pre = C.tag(pre + bo, "accumulators")
    return C.activation(pre, layer.output_activation, layer.types, layer)


def trace_block(layer, b, x, valid, nvtx):
    """One GarNet block on x (V, F_in): its output (V, F_out); padding rows hold don't-care values."""
    V = layer.n_vertices
    w, prod = input_pass(layer, b, x, valid)
    total = C.tag(np.sum(prod, axis=0), "accumulators")  # (A, G), exact
    mx = None
    if not layer.simplified:
        any_valid = C.valid_mask(nvtx, 1)  # nvtx > 0
        mx = C.masked_max(prod, valid.reshape(V, 1, 1), 0, any_valid.reshape(1, 1)._vars[0, 0])
    hw = aggregate(layer, b, total, mx, nvtx)
    return output_pass(layer, b, x, w, hw)  # padding rows: masked by trace_layer


def trace_layer(layer, x, nvtx):
    """A GarNet / GarNetStack layer: x (V, F_in) of the input type, nvtx the integer variable.

    Padding rows are masked once, at the layer's output: inside the layer a padding vertex reaches the
    valid ones only through its edge weights, which are masked to 0 (the Keras layer zeroes its inputs
    and every block's outputs too; the values that reach the output are the same, a mux level earlier).
    """
    C.check_quantized(layer)
    V = layer.n_vertices
    valid = C.valid_mask(nvtx, V)
    x = C.quantize(x, layer.types["input"])
    for b in range(layer.n_blocks):
        x = trace_block(layer, b, x, valid, nvtx)
    x = C.where(valid.reshape(V, 1), x, 0.0)
    return collapse(layer, x, valid, nvtx)


def collapse(layer, y, valid, nvtx):
    """The optional collapse of a graph layer (``QuantizedGraphLayer._collapse``)."""
    mode = layer.collapse
    V = layer.n_vertices
    T = layer.types
    if mode is None:
        return y
    if mode == "max":
        any_valid = C.valid_mask(nvtx, 1)._vars[0]
        return C.masked_max(y, valid.reshape(V, 1), 0, any_valid)
    s = C.tag(np.sum(y, axis=0), "accumulators")
    if mode == "sum":
        return C.quantize(s, T["output"])
    recip_tab = tables.reciprocal_table(layer._n_max, T["reciprocal"])
    r = C.reciprocal(nvtx if layer.mean_by_nvert else V, recip_tab, y.hwconf)
    return C.quantize(C.scale(s, r), T["output"])
