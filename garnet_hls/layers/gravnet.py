"""GravNet: message passing over the k nearest neighbours in a learned space.

Qasim et al., arXiv:1902.07987. Semantics as in ``docs/layers.md``; the rounding places of the
quantized layer are ``docs/quantization.md``. With ``S`` learned-space dimensions, ``P`` propagated
features, ``k`` neighbours and ``F_out`` filters:

.. math::

    s_i &= x_i W_S + b_S, \\qquad f_i = x_i W_P + b_P \\\\
    d_{ij} &= \\sum_s (s_{is} - s_{js})^2 \\quad\\text{or}\\quad \\sum_s |s_{is} - s_{js}|
    \\ (\\texttt{distance='l1'}) \\\\
    w_{ij} &= e^{-\\lambda d_{ij}}, \\quad \\lambda = \\texttt{potential\\_scale} = 10 \\\\
    \\bar f_i &= \\frac1k \\sum_{j \\in N(i)} w_{ij} f_j, \\qquad
    \\hat f_i = \\max_{j \\in N(i)} w_{ij} f_j \\\\
    y_i &= \\mathrm{act}([x_i, \\bar f_i, \\hat f_i]\\, W_O + b_O)

``N(i)`` holds the k valid vertices ``j != i`` with the smallest ``d_ij`` (ties to the lower index);
with fewer than k other valid vertices the missing slots are empty: they add 0 to the sum (the divisor
stays k) and take no part in the max (0 when no slot is filled). Padding rows are 0; the optional
collapse follows.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from garnet_hls.core import tables
from garnet_hls.errors import UserError
from garnet_hls.layers.common import QuantizedGraphLayer, masked_max
from garnet_hls.core.semantics import (GRAVNET_DEFAULT_OVERRIDES, GRAVNET_OPTIONS, GRAVNET_POINTS,
                                      set_gravnet_options)


@keras.saving.register_keras_serializable(package="garnet_hls")
class GravNet(QuantizedGraphLayer):
    """A GravNet layer. See the module docstring for the formulas.

    Args:
        n_dimensions: S, the learned-space dimensions.
        n_filters: F_out, the output features per vertex.
        n_propagate: P, the propagated features.
        n_neighbours: k (self excluded).
        distance: 'l2' (squared Euclidean) or 'l1'.
        potential_scale: the factor in exp(-scale * d).
        collapse, mean_by_nvert, output_activation, quantized, <point>_quantizer: as for GarNet, plus
            ``coordinate_quantizer`` for the learned-space coordinates s.
    """

    POINTS = GRAVNET_POINTS
    DEFAULT_OVERRIDES = GRAVNET_DEFAULT_OVERRIDES  # squared distances are >= 0: an unsigned type

    def __init__(self, n_dimensions, n_filters, n_propagate, n_neighbours, distance="l2", potential_scale=10.0,
                 **kwargs):
        super().__init__(**kwargs)
        set_gravnet_options(self, n_dimensions, n_filters, n_propagate, n_neighbours, distance, potential_scale)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({k: getattr(self, k) for k in GRAVNET_OPTIONS})
        return cfg

    def build_weights(self):
        if self.n_neighbours >= self.n_vertices:
            raise UserError(f"{self.name}: n_neighbours = {self.n_neighbours} must be < V = {self.n_vertices}")
        self._n_max = max(self.n_vertices, self.n_neighbours)
        self._s = self.add_dense("S", self.n_in, self.n_dimensions)
        self._p = self.add_dense("P", self.n_in, self.n_propagate)
        self._o = self.add_dense("O", self.n_in + 2 * self.n_propagate, self.n_filters)

    def block_weights(self, b=0):
        if b != 0:
            raise IndexError("GravNet has one block")
        names = ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias")
        return {n: v.numpy() for n, v in zip(names, (*self._s, *self._p, *self._o))}

    def pairwise_distance(self, s):
        """d_ij over the learned space, exact in float64 before quantization (B, V, V)."""
        d = None
        for c in range(self.n_dimensions):
            diff = s[:, :, tf.newaxis, c] - s[:, tf.newaxis, :, c]
            term = diff * diff if self.distance == "l2" else tf.abs(diff)
            d = term if d is None else d + term
        return self.q("distance", d)

    def neighbours(self, d, valid):
        """Indices (B, V, k) of the k nearest valid j != i, ties to the lower j, and which slots are filled."""
        V = self.n_vertices
        not_self = tf.logical_not(tf.eye(V, dtype=tf.bool))[tf.newaxis]
        cand = tf.logical_and(tf.logical_and(valid[:, tf.newaxis, :], valid[:, :, tf.newaxis]), not_self)
        key = tf.where(cand, -d, tf.fill(tf.shape(d), tf.constant(-np.inf, d.dtype)))
        # top_k returns equal values in ascending index order: the lower j wins a tie.
        _, idx = tf.math.top_k(key, k=self.n_neighbours, sorted=True)
        filled = tf.gather(cand, idx, batch_dims=2)
        return idx, filled

    def _forward(self, x, valid, nvtx):
        s = self.q("coordinate", self.dense(x, *self._s))
        f = self.q("feature", self.dense(x, *self._p))
        d = self.pairwise_distance(s)
        idx, filled = self.neighbours(d, valid)
        dsel = tf.gather(d, idx, batch_dims=2)  # (B, V, k)
        if self.quantized:
            t_d = self.types["distance"]
            w = self.lookup("exp_neg_scaled", lambda: tables.exp_neg_scaled_table(
                t_d, self.types["edge_weight"], self.potential_scale), dsel, t_d,
                lambda v: -self.potential_scale * tf.exp(-self.potential_scale * v))
        else:
            w = tf.exp(-self.potential_scale * dsel)
        w = w * tf.cast(filled, w.dtype)
        wf = w[..., tf.newaxis] * tf.gather(f, idx, batch_dims=1)  # (B, V, k, P)
        k = tf.fill(tf.shape(nvtx), self.n_neighbours)
        mean = self.q("aggregate", tf.reduce_sum(wf, axis=2) * self.reciprocal(k)[:, tf.newaxis, tf.newaxis])
        mx = self.q("aggregate", masked_max(wf, filled[..., tf.newaxis], axis=2))
        return self.activation_and_output(self.dense(tf.concat([x, mean, mx], axis=-1), *self._o))
