"""Keras 3 GarNet and GarNetStack, quantized with HGQ2: the computation of ``garnet_hls.layers.garnet`` (see
its module docstring and docs/layers.md) on ``keras.ops``, with the same rounding places and tables."""

from __future__ import annotations

import keras
from keras import ops

from garnet_hls.core import tables
from garnet_hls.core.semantics import GARNET_POINTS, garnet_block_dims, set_garnet_options
from garnet_hls.keras3.common import QGraphLayer, masked_max


class _GarNetBlocks(QGraphLayer):
    POINTS = GARNET_POINTS

    def __init__(self, n_aggregators, n_filters, n_propagate, simplified=True, **kwargs):
        super().__init__(**kwargs)
        set_garnet_options(self, n_aggregators, n_filters, n_propagate, simplified)

    def _prefix(self, b):
        return f"block{b}_" if isinstance(self, GarNetStack) else ""

    def block_dims(self, b):
        f_in = self.n_in if b == 0 else self.n_filters[b - 1]
        return garnet_block_dims(f_in, self.n_aggregators[b], self.n_propagate[b], self.n_filters[b],
                                 self.simplified)

    def build_weights(self):
        self._vars = []
        V = self.n_vertices
        for b in range(self.n_blocks):
            f_in, a, p, g, h, z, fo = self.block_dims(b)
            pre = self._prefix(b)
            s = self.add_dense(f"{pre}S", f_in, a)
            pv = self.add_dense(f"{pre}P", f_in, p)
            o = self.add_dense(f"{pre}O", z, fo)
            self._vars.append((s, pv, o))
            self.add_site(f"{pre}distance", "distance", (None, V, a))
            self.add_site(f"{pre}feature", "feature", (None, V, p))
            self.add_site(f"{pre}aggregate_mean", "aggregate", (None, a, g))
            if not self.simplified:
                self.add_site(f"{pre}aggregate_max", "aggregate", (None, a, g))
            self.add_output_sites(pre, V, fo)

    def ebops_terms(self):
        """Per block: the S and P Dense on the block input, w * g (the aggregation's V*A*G products), the
        mean's division (A*G products by the reciprocal), w * h (the V*A*H products of the output transform's
        input, each as wide as w plus h) and the O Dense on those."""
        V, total = self.n_vertices, 0.0
        bx = self.bits("input", (1, V, self.n_in))
        bw = self.table_bits("edge_weight")
        for b in range(self.n_blocks):
            f_in, a, p, g, h, z, fo = self.block_dims(b)
            pre = self._prefix(b)
            total = total + self.dense_ebops(f"{pre}S", bx, a) + self.dense_ebops(f"{pre}P", bx, p)
            bf = self.bits(f"{pre}feature", (1, V, p))
            bg = bf if self.simplified else ops.concatenate([bf, ops.full((1, V, a), bw)], axis=-1)
            total = total + bw * a * ops.sum(bg)
            bh = self.bits(f"{pre}aggregate_mean", (1, a, g))
            total = total + ops.sum(bh) * self.table_bits("reciprocal")
            if not self.simplified:
                bh = ops.concatenate([self.bits(f"{pre}aggregate_max", (1, a, g)), bh], axis=-1)
            bu = ops.broadcast_to(ops.reshape(bh + bw, (1, 1, a * h)), (1, V, a * h))
            total = total + bw * V * ops.sum(bh)
            bz = bu if self.simplified else ops.concatenate([bx, bu, ops.full((1, V, a), bw)], axis=-1)
            total = total + self.dense_ebops(f"{pre}O", bz, fo)
            bx = self.bits(f"{pre}output", (1, V, fo))
        return total

    def block_weights(self, b):
        """Raw (unquantized) weights of block b as NumPy arrays."""
        (sk, sb), (pk, pb), (ok, ob) = self._vars[b]
        names = ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias")
        return {n: ops.convert_to_numpy(v) for n, v in zip(names, (sk, sb, pk, pb, ok, ob))}

    def _forward(self, x, valid, nvtx):
        for b in range(self.n_blocks):
            x = self._block(b, x, valid, nvtx)
            x = ops.where(valid[:, :, None], x, ops.zeros_like(x))
        return x

    def _block(self, b, x, valid, nvtx):
        (sk, sb), (pk, pb), (ok, ob) = self._vars[b]
        f_in, a, p, g, h, z, fo = self.block_dims(b)
        pre = self._prefix(b)
        V = self.n_vertices
        validf = ops.cast(valid, x.dtype)[:, :, None]

        d = self.q(f"{pre}distance", self.dense(x, f"{pre}S", sk, sb))  # (B, V, A)
        if self.quantized:
            t_d = self.table_types["distance"]
            w = self.lookup("exp_neg_square", lambda: tables.exp_neg_square_table(t_d, self.table_types["edge_weight"]),
                            d, t_d, lambda v: ops.exp(-v * v))
        else:
            w = ops.exp(-d * d)
        w = w * validf
        f = self.q(f"{pre}feature", self.dense(x, f"{pre}P", pk, pb))  # (B, V, P)
        gv = f if self.simplified else ops.concatenate([f, w], axis=-1)  # (B, V, G)

        n = nvtx if self.mean_by_nvert else ops.full(ops.shape(nvtx), V, dtype="int32")
        mean = self.q(f"{pre}aggregate_mean",
                      ops.einsum("bva,bvc->bac", w, gv) * self.reciprocal(n)[:, None, None])
        if self.simplified:
            hv = mean
        else:
            prod = w[:, :, :, None] * gv[:, :, None, :]  # (B, V, A, G)
            mx = self.q(f"{pre}aggregate_max", masked_max(prod, valid[:, :, None, None], axis=1))
            hv = ops.concatenate([mx, mean], axis=-1)  # (B, A, H)
        u = ops.reshape(w[:, :, :, None] * hv[:, None, :, :], (-1, V, a * h))
        zv = u if self.simplified else ops.concatenate([x, u, w], axis=-1)
        return self.activation_and_output(self.dense(zv, f"{pre}O", ok, ob), pre)


@keras.saving.register_keras_serializable(package="garnet_hls")
class GarNet(_GarNetBlocks):
    """One GarNet block (Keras 3, HGQ2 quantizers), optionally collapsed: the arguments of the Keras 2
    ``garnet_hls.layers.GarNet``; each ``<point>_quantizer`` takes an HGQ2 QuantizerConfig or a QKeras spec
    string (see garnet_hls.keras3.quantizers). Call on ``[features (B, V, F_in), nvtx (B, 1)]``."""

    def __init__(self, n_aggregators, n_filters, n_propagate, **kwargs):
        super().__init__([n_aggregators], [n_filters], [n_propagate], **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(n_aggregators=self.n_aggregators[0], n_filters=self.n_filters[0],
                   n_propagate=self.n_propagate[0], simplified=self.simplified)
        return cfg


@keras.saving.register_keras_serializable(package="garnet_hls")
class GarNetStack(_GarNetBlocks):
    """Several GarNet blocks in sequence (lists of A, F_out and P per block), then one collapse."""

    def get_config(self):
        cfg = super().get_config()
        cfg.update(n_aggregators=list(self.n_aggregators), n_filters=list(self.n_filters),
                   n_propagate=list(self.n_propagate), simplified=self.simplified)
        return cfg
