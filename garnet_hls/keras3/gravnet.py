"""Keras 3 GravNet, quantized with HGQ2: the computation of ``garnet_hls.layers.gravnet`` (see its module
docstring and docs/layers.md) on ``keras.ops``, with the same rounding places, tables and neighbour order."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from garnet_hls.core import tables
from garnet_hls.core.semantics import (GRAVNET_DEFAULT_OVERRIDES, GRAVNET_OPTIONS, GRAVNET_POINTS,
                                      set_gravnet_options)
from garnet_hls.errors import UserError
from garnet_hls.keras3.common import QGraphLayer, masked_max


@keras.saving.register_keras_serializable(package="garnet_hls")
class GravNet(QGraphLayer):
    """A GravNet layer (Keras 3, HGQ2 quantizers): the arguments of the Keras 2 ``garnet_hls.layers.GravNet``."""

    POINTS = GRAVNET_POINTS
    DEFAULT_OVERRIDES = GRAVNET_DEFAULT_OVERRIDES

    def __init__(self, n_dimensions, n_filters, n_propagate, n_neighbours, distance="l2", potential_scale=10.0,
                 **kwargs):
        super().__init__(**kwargs)
        set_gravnet_options(self, n_dimensions, n_filters, n_propagate, n_neighbours, distance, potential_scale)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({k: getattr(self, k) for k in GRAVNET_OPTIONS})
        return cfg

    def build_weights(self):
        V = self.n_vertices
        if self.n_neighbours >= V:
            raise UserError(f"{self.name}: n_neighbours = {self.n_neighbours} must be < V = {V}")
        self._n_max = max(V, self.n_neighbours)
        self._s = self.add_dense("S", self.n_in, self.n_dimensions)
        self._p = self.add_dense("P", self.n_in, self.n_propagate)
        self._o = self.add_dense("O", self.n_in + 2 * self.n_propagate, self.n_filters)
        self.add_site("coordinate", "coordinate", (None, V, self.n_dimensions))
        self.add_site("feature", "feature", (None, V, self.n_propagate))
        self.add_site("distance", "distance", (None, V, V))
        self.add_site("aggregate_mean", "aggregate", (None, V, self.n_propagate))
        self.add_site("aggregate_max", "aggregate", (None, V, self.n_propagate))
        self.add_output_sites("", V, self.n_filters)

    def ebops_terms(self):
        """The S and P Dense, the squared coordinate differences of the l2 distance (V*V*S products of
        width+1 bits; l1 has none), w * f_j (V*k*P products), the mean's division by k (V*P products) and
        the O Dense on [x, mean, max]."""
        V, S, P, k = self.n_vertices, self.n_dimensions, self.n_propagate, self.n_neighbours
        bx = self.bits("input", (1, V, self.n_in))
        total = self.dense_ebops("S", bx, S) + self.dense_ebops("P", bx, P)
        if self.distance == "l2":
            total = total + V * ops.sum(ops.square(self.bits("coordinate", (1, V, S)) + 1.0))
        bf = self.bits("feature", (1, V, P))
        total = total + self.table_bits("edge_weight") * k * ops.sum(bf)
        b_mean = self.bits("aggregate_mean", (1, V, P))
        total = total + ops.sum(b_mean) * self.table_bits("reciprocal")
        bz = ops.concatenate([bx, b_mean, self.bits("aggregate_max", (1, V, P))], axis=-1)
        return total + self.dense_ebops("O", bz, self.n_filters)

    def block_weights(self, b=0):
        if b != 0:
            raise IndexError("GravNet has one block")
        names = ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias")
        return {n: ops.convert_to_numpy(v) for n, v in zip(names, (*self._s, *self._p, *self._o))}

    def pairwise_distance(self, s):
        """d_ij over the learned space, exact in float64 before quantization (B, V, V)."""
        d = None
        for c in range(self.n_dimensions):
            diff = s[:, :, None, c] - s[:, None, :, c]
            term = diff * diff if self.distance == "l2" else ops.abs(diff)
            d = term if d is None else d + term
        return self.q("distance", d)

    def neighbours(self, d, valid):
        """Indices (B, V, k) of the k nearest valid j != i, ties to the lower j, and which slots are filled."""
        V = self.n_vertices
        not_self = ops.logical_not(ops.eye(V, dtype="bool"))[None]
        cand = ops.logical_and(ops.logical_and(valid[:, None, :], valid[:, :, None]), not_self)
        key = ops.where(cand, -d, ops.full(ops.shape(d), -np.inf, dtype=d.dtype))
        # top_k returns equal values in ascending index order: the lower j wins a tie
        _, idx = ops.top_k(key, k=self.n_neighbours, sorted=True)
        filled = ops.take_along_axis(cand, idx, axis=2)
        return idx, filled

    def _forward(self, x, valid, nvtx):
        s = self.q("coordinate", self.dense(x, "S", *self._s))
        f = self.q("feature", self.dense(x, "P", *self._p))
        d = self.pairwise_distance(s)
        idx, filled = self.neighbours(d, valid)
        dsel = ops.take_along_axis(d, idx, axis=2)  # (B, V, k)
        scale = self.potential_scale
        if self.quantized:
            t_d = self.table_types["distance"]
            w = self.lookup("exp_neg_scaled", lambda: tables.exp_neg_scaled_table(
                t_d, self.table_types["edge_weight"], scale), dsel, t_d, lambda v: ops.exp(-scale * v))
        else:
            w = ops.exp(-scale * dsel)
        w = w * ops.cast(filled, w.dtype)
        # f_j for each neighbour slot: (B, V, k, P)
        B, V, k, P = ops.shape(idx)[0], self.n_vertices, self.n_neighbours, self.n_propagate
        fj = ops.take_along_axis(ops.broadcast_to(f[:, None, :, :], (B, V, V, P)), idx[..., None], axis=2)
        wf = w[..., None] * fj
        kk = ops.full(ops.shape(nvtx), k, dtype="int32")
        mean = self.q("aggregate_mean", ops.sum(wf, axis=2) * self.reciprocal(kk)[:, None, None])
        mx = self.q("aggregate_max", masked_max(wf, filled[..., None], axis=2))
        return self.activation_and_output(self.dense(ops.concatenate([x, mean, mx], axis=-1), "O", *self._o))
