"""GravNet as a da4ml trace: the RTL of ``garnet_hls/layers/gravnet.py``.

Same integer values and rounding points as the Keras layer (``docs/quantization.md``), fully parallel:

* ``s`` and ``f`` are constant-matrix products (adder graphs); every distance ``d_ij`` (i < j) is computed
  once and used by both rows.
* neighbour selection: each candidate ``j != i`` gets the integer key ``code(d_ij) * 2^J + j`` (``J`` bits
  hold an index), so the keys are distinct and ascending key order is ascending ``(d_ij, j)``: a tie goes
  to the lower ``j``, as in the Keras layer and the HLS kernel. A padding candidate gets the key
  ``2^(D + J)`` (``D`` = width of the distance code), above every real key. A top-k network (sort groups of
  K = next power of two >= k, then repeatedly keep the K smallest of two sorted groups with one row of
  min comparators and a bitonic merge) leaves the k smallest keys in order.
* from a selected key: ``d`` is its upper bits and feeds the ``exp(-scale d)`` table of
  ``garnet_hls/core/tables.py`` (extended by one entry 0 at ``2^D``, the padding key, so an empty slot weighs 0);
  slot s of a valid row is filled when ``nvtx > s + 1``; ``f_j`` is gathered by a mux tree on the key's index bits.
"""

from __future__ import annotations

import math

import numpy as np

from garnet_hls.core import tables
from garnet_hls.backends.rtl import common as C
from garnet_hls.backends.rtl.garnet import collapse


def _weights(layer):
    w = layer.block_weights(0)
    tk, tb = layer.types["kernel"], layer.types["bias"]
    return {k: C.weights(v, tk if k.endswith("kernel") else tb) for k, v in w.items()}


def _cmp_swap(a, b):
    return _min(a, b), C.vmax(a, b)


def _bitonic_merge(seq, ascending=True):
    n = len(seq)
    if n <= 1:
        return seq
    half = n // 2
    seq = list(seq)
    for i in range(half):
        lo, hi = _cmp_swap(seq[i], seq[i + half])
        seq[i], seq[i + half] = (lo, hi) if ascending else (hi, lo)
    return _bitonic_merge(seq[:half], ascending) + _bitonic_merge(seq[half:], ascending)


def _bitonic_sort(seq, ascending=True):
    n = len(seq)
    if n <= 1:
        return list(seq)
    half = n // 2
    first = _bitonic_sort(seq[:half], True)
    second = _bitonic_sort(seq[half:], False)
    return _bitonic_merge(first + second, ascending)


def top_k(keys, k, pad):
    """The k smallest of ``keys`` in ascending order (``pad``: a constant above every key)."""
    K = 1 << max(0, math.ceil(math.log2(k)))
    keys = list(keys) + [pad] * ((-len(keys)) % K)
    groups = [_bitonic_sort(keys[g:g + K]) for g in range(0, len(keys), K)]
    # merge the sorted groups pairwise, as a balanced tree: log2(groups) merges deep, not groups - 1
    while len(groups) > 1:
        merged = []
        for a, b in zip(groups[0::2], groups[1::2]):
            # the K smallest of two sorted lists: min(a_i, b_{K-1-i}) is bitonic; merge it
            merged.append(_bitonic_merge([_min(a[i], b[K - 1 - i]) for i in range(K)], True))
        if len(groups) % 2:
            merged.append(groups[-1])
        groups = merged
    return groups[0][:k]


def _min(a, b):
    from da4ml.trace import FixedVariable

    a, b = C.pos(a), C.pos(b)
    if isinstance(a, FixedVariable):
        return a.min_of(b)
    if isinstance(b, FixedVariable):
        return b.min_of(a)
    return min(a, b)


def _bit(v, b):
    """Bit b (weight 2^b) of a non-negative integer variable, as a fresh 0/1 variable.

    (The OR-reduction makes it a wire of its own: da4ml's mux on the bare wrapped bit can read another
    bit of the parent wire when the parent carries a scale factor.)
    """
    return v.quantize(0, b + 1, -b, "WRAP", "TRN").unary_bit_op("any")


def _gather(rows, index_key, jbits):
    """rows[j] (a list of V lists of variables) selected by the index bits of ``index_key``: a mux tree."""
    level = [list(r) for r in rows]
    n = 1 << jbits
    while len(level) < n:
        level.append(list(level[0]))  # unreachable indices: any value
    for b in range(jbits):
        sel = _bit(index_key, b)
        nxt = []
        for m in range(0, len(level), 2):
            a0, a1 = level[m], level[m + 1]
            nxt.append([C.mux(sel, y1, y0) for y0, y1 in zip(a0, a1)])
        level = nxt
    return level[0]


def _weight_of_code(code, wtab):
    """``wtab[code]`` for the distance code of a key (0 .. 2^D; 2^D is the padding key's, weight 0).

    da4ml's lookup needs the table to cover every value the code's interval allows, which can be wider than
    the codes that occur (the key's interval is the union of its sources'): the codes above 2^D never occur
    and read 0."""
    if code.high == code.low:
        return float(wtab[int(code.low)])
    top = int(code.high)
    table = np.concatenate([wtab, np.zeros(max(0, top + 1 - len(wtab)))])
    return code.lookup(table, (0.0, float(len(table) - 1), 1.0))


class _Consts:
    """The constants of a GravNet layer's neighbour selection and aggregation (shared by the fully parallel
    trace and the folded lanes)."""

    def __init__(self, layer):
        T = layer.types
        V = layer.n_vertices
        self.t_d = T["distance"]
        self.jbits = max(1, math.ceil(math.log2(V)))
        self.dbits = self.t_d.width
        # key = code(d) * 2^J + j, an integer; padding candidates get 2^(D+J)
        self.scale = 2.0 ** (self.t_d.frac + self.jbits)
        self.pad_key = float(2 ** (self.dbits + self.jbits))
        # the distance table over code(d) = 0 .. 2^D, the last (the padding key's) entry 0
        n_codes = 1 << self.dbits
        by_code = tables.exp_neg_scaled_table(self.t_d, T["edge_weight"], layer.potential_scale)
        if self.t_d.signed:  # only non-negative codes occur
            by_code = np.concatenate([by_code[: n_codes // 2], np.zeros(n_codes // 2)])
        self.wtab = np.concatenate([by_code, [0.0]])
        self.recip = float(tables.reciprocal_table(layer._n_max, T["reciprocal"])[layer.n_neighbours])


def prep(layer, x):
    """The per-vertex half of a block: ``x`` quantized to the input type, the coordinates s and features f."""
    T = layer.types
    W = _weights(layer)
    x = C.quantize(x, T["input"])
    s = C.quantize(C.dense(x, W["S_kernel"], W["S_bias"]), T["coordinate"])
    f = C.quantize(C.dense(x, W["P_kernel"], W["P_bias"]), T["feature"])
    return x, s, f


def distance(layer, si, sj):
    """Q_dist of the distance between two coordinate rows (lists of variables)."""
    acc = None
    for a, b in zip(si, sj):
        diff = C.tag(a - b, "distances")
        term = C.vmul(diff, diff) if layer.distance == "l2" else abs(diff)
        acc = term if acc is None else acc + term
    C.tag(acc, "distances")
    return C.tag(C._quantize_var(acc, layer.types["distance"]), "quantization")


def select(layer, keys, K: _Consts, index: bool = True):
    """The k smallest of one row's candidate keys (ascending), then per slot its edge weight ``exp(-scale d)``
    (from the key's distance code) and its neighbour's index j (the key's index bits): three lists of k, the
    weight and index None for a constant (padding) key."""
    from da4ml.trace import FixedVariable

    C.tag(keys, "masking (nvtx)")
    sel = C.tag(top_k(keys, layer.n_neighbours, K.pad_key), "comparators and top-k")
    ws, js = [], []
    for key in sel:
        if not isinstance(key, FixedVariable):  # a constant: only the padding key can be one
            ws.append(None)
            js.append(None)
            continue
        dpart = key.quantize(0, K.dbits + K.jbits + 1, -K.jbits, "WRAP", "TRN") * (1.0 / 2 ** K.jbits)  # code(d)
        ws.append(C.tag(_weight_of_code(dpart, K.wtab), "tables"))
        js.append(sum(_bit(key, b) * float(2 ** b) for b in range(K.jbits)) if index else None)
    return sel, ws, js


def aggregate(layer, ws, fjs, slot_filled, K: _Consts, hw):
    """(mean, max) of one row (lists of P quantized variables) from its k slots' edge weights ``ws`` and
    gathered neighbour features ``fjs`` (k lists of P); a weight None (the padding key) contributes 0."""
    trace = C.da()
    T = layer.types
    k, P = layer.n_neighbours, layer.n_propagate
    prods = []
    for w, fj in zip(ws, fjs):
        if w is None:  # a constant key: only the padding key can be one
            prods.append([0.0] * P)
            continue
        prods.append(C.shared_products(w, fj))  # w shared: packable (Multipliers)
    prod = trace.FixedVariableArray(np.array(prods, dtype=object), hwconf=hw)  # (k, P)
    total = C.tag(np.sum(prod, axis=0), "accumulators")
    mean = C.quantize(C.scale(total, K.recip), T["aggregate"])._vars
    # max over filled slots, 0 when none. A valid row has min(k, nvtx - 1) filled slots, a prefix
    # (the padding key sorts last): slot s is filled iff nvtx > s + 1 (a comparator on nvtx, not a bit
    # of the key: da4ml's mux on a key bit picked the wrong input on some events). An empty slot
    # stands in with slot 0's value, which leaves the max of the filled ones.
    pv = prod._vars
    m = list(pv[0])
    for sl in range(1, k):
        cand = [C.mux(slot_filled[sl], pv[sl, c], pv[0, c]) for c in range(P)]
        m = [C.vmax(a, b) for a, b in zip(m, cand)]
    m = C.tag([C.mux(slot_filled[0], v, 0.0) for v in m], "comparators and top-k")
    mx = C.quantize(trace.FixedVariableArray(np.array(m, dtype=object), hwconf=hw), T["aggregate"])._vars
    return mean, mx


def _is_var(v) -> bool:
    from da4ml.trace import FixedVariable

    return isinstance(v, FixedVariable)


def row_aggregates(layer, keys, f_rows, slot_filled, K: _Consts, hw):
    """(mean, max) of one row: the quantized aggregates (lists of P variables) from its candidate keys, the
    neighbours' features gathered by a mux tree on each selected key's index bits."""
    sel, ws, _ = select(layer, keys, K, index=False)
    fjs = [C.tag(_gather(f_rows, key, K.jbits), "comparators and top-k") if _is_var(key)
           else [0.0] * layer.n_propagate for key in sel]
    return aggregate(layer, ws, fjs, slot_filled, K, hw)


def lane_keys(layer, sq, S_all, cand, lane, K: _Consts):
    """Lane ``lane``'s V candidate keys (``code(d_ij) * 2^J + j``, the padding key where cand is 0)."""
    from da4ml.trace import FixedVariable

    keys = []
    for j in range(layer.n_vertices):
        key = distance(layer, sq._vars[lane], S_all._vars[j]) * K.scale + float(j)
        c = cand._vars[lane, j]
        keys.append(C.mux(c, key, K.pad_key) if isinstance(c, FixedVariable) and c.low != c.high
                    else (key if float(c if not isinstance(c, FixedVariable) else c.low) else K.pad_key))
    return keys


def output_transform(layer, x, mean, mx, valid):
    """y = act(concat(x, mean, max) W_O + b_O), rows masked to 0 where ``valid`` is 0 (arrays (n, .))."""
    trace = C.da()
    W = _weights(layer)
    z = trace.FixedVariableArray(np.concatenate([x._vars, mean, mx], axis=1), hwconf=x.hwconf)
    pre = C.dense(z, W["O_kernel"], W["O_bias"])
    y = C.activation(pre, layer.output_activation, layer.types, layer)
    return C.where(valid.reshape(len(valid._vars), 1), y, 0.0)


def lane_aggregate(layer, x, w, fg, valid, nvtx):
    """The folded lanes' second half of a block: ``x`` (L, F_in) their quantized inputs, ``w`` (L, k) the edge
    weights of their selected neighbours and ``fg`` (L, k, P) those neighbours' features (gathered outside the
    module, from the indices of :func:`select`), ``valid`` (L,), ``nvtx`` (1,). Returns the masked outputs y
    (L, F_out), the same values as :func:`trace_layer`'s rows."""
    hw = x.hwconf
    K = _Consts(layer)
    nv_var = nvtx._vars.ravel()[0]
    slot_filled = C.tag([nv_var > (s + 1) for s in range(layer.n_neighbours)], "masking (nvtx)")
    means, maxes = [], []
    for lane in range(len(x._vars)):
        mean, mx = aggregate(layer, list(w._vars[lane]), [list(r) for r in fg._vars[lane]], slot_filled, K, hw)
        means.append(mean)
        maxes.append(mx)
    return output_transform(layer, x, np.stack(means), np.stack(maxes), valid)


def trace_layer(layer, x, nvtx):
    C.check_quantized(layer)
    V = layer.n_vertices
    hw = x.hwconf
    valid = C.valid_mask(nvtx, V)
    # padding rows are not zeroed here: their keys are replaced by the padding key, which selects edge
    # weight 0, and their own outputs are masked at the end (same values, one mux level earlier)
    x, s, f = prep(layer, x)
    K = _Consts(layer)
    sv, vv = s._vars, valid._vars
    dist = {(i, j): distance(layer, sv[i], sv[j]) for i in range(V) for j in range(i + 1, V)}  # once per pair
    f_rows = [list(f._vars[j]) for j in range(V)]

    from da4ml.trace import FixedVariable

    nv_var = nvtx._vars.ravel()[0]
    slot_filled = C.tag([nv_var > (s + 1) for s in range(layer.n_neighbours)], "masking (nvtx)")  # 1 when slot s holds a neighbour
    means, maxes = [], []
    for i in range(V):
        keys = []
        for j in range(V):
            if j == i:
                continue
            key = dist[min(i, j), max(i, j)] * K.scale + float(j)
            keys.append(C.mux(vv[j], key, K.pad_key) if isinstance(vv[j], FixedVariable) else key)
        mean, mx = row_aggregates(layer, keys, f_rows, slot_filled, K, hw)
        means.append(mean)
        maxes.append(mx)
    y = output_transform(layer, x, np.stack(means), np.stack(maxes), valid)
    return collapse(layer, y, valid, nvtx)
