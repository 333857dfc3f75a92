"""GarNet: distance-weighted aggregation through a few learned aggregators.

Qasim et al., arXiv:1902.07987; the FPGA version Iiyama et al., arXiv:2008.03601. The semantics are
those of ``docs/layers.md``; the rounding places of the quantized layer are ``docs/quantization.md``.
For a graph with ``V`` vertex slots of which the first ``nvtx`` are valid, with ``A`` aggregators,
``P`` propagated features and ``F_out`` filters:

.. math::

    d_{ia} &= (x_i W_S + b_S)_a, \\qquad w_{ia} = e^{-d_{ia}^2}\\ (0 \\text{ for padding}),
    \\qquad f_i = x_i W_P + b_P \\\\
    m_a &= \\frac{1}{N} \\sum_i w_{ia}\\, g_i, \\qquad M_a = \\max_{i\\ \\mathrm{valid}} w_{ia}\\, g_i
    \\quad (\\text{full mode}) \\\\
    u_i &= \\mathrm{concat}_a\\, w_{ia} h_a, \\qquad
    y_i = \\mathrm{act}(u_i W_O + b_O)\\ \\text{(simplified)} \\quad
    \\mathrm{act}([x_i, u_i, w_i] W_O + b_O)\\ \\text{(full)}

with ``g_i = f_i`` and ``h_a = m_a`` in simplified mode, ``g_i = [f_i, w_i]`` and
``h_a = [M_a, m_a]`` in full mode; ``N = V``, or ``nvtx`` with ``mean_by_nvert`` (a mean over no
vertex is 0). ``u_i`` is flattened aggregator-major: ``u_i[a*H + c] = w_ia h_ac``. Padding rows of the
per-vertex output are 0; the optional collapse (mean/sum/max over valid vertices) follows.

:class:`GarNetStack` applies several blocks in sequence to the per-vertex outputs and collapses once.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from garnet_hls.core import tables
from garnet_hls.core.semantics import GARNET_POINTS, garnet_block_dims, set_garnet_options
from garnet_hls.layers.common import QuantizedGraphLayer, masked_max



class _GarNetBlocks(QuantizedGraphLayer):
    POINTS = GARNET_POINTS

    def __init__(self, n_aggregators, n_filters, n_propagate, simplified=True, **kwargs):
        super().__init__(**kwargs)
        set_garnet_options(self, n_aggregators, n_filters, n_propagate, simplified)

    def _prefix(self, b):
        return f"block{b}_" if isinstance(self, GarNetStack) else ""

    def block_dims(self, b):
        """(F_in, A, P, G, H, Z, F_out) of block b: see the module docstring."""
        f_in = self.n_in if b == 0 else self.n_filters[b - 1]
        return garnet_block_dims(f_in, self.n_aggregators[b], self.n_propagate[b], self.n_filters[b],
                                 self.simplified)

    def build_weights(self):
        self._vars = []
        for b in range(self.n_blocks):
            f_in, a, p, g, h, z, fo = self.block_dims(b)
            pre = self._prefix(b)
            s = self.add_dense(f"{pre}S", f_in, a)
            pv = self.add_dense(f"{pre}P", f_in, p)
            o = self.add_dense(f"{pre}O", z, fo)
            self._vars.append((s, pv, o))

    def block_weights(self, b):
        """Raw (unquantized) weights of block b as NumPy arrays."""
        (sk, sb), (pk, pb), (ok, ob) = self._vars[b]
        names = ("S_kernel", "S_bias", "P_kernel", "P_bias", "O_kernel", "O_bias")
        return {n: v.numpy() for n, v in zip(names, (sk, sb, pk, pb, ok, ob))}

    def _forward(self, x, valid, nvtx):
        for b in range(self.n_blocks):
            x = self._block(b, x, valid, nvtx)
            x = tf.where(valid[:, :, tf.newaxis], x, tf.zeros_like(x))
        return x

    def _block(self, b, x, valid, nvtx):
        (sk, sb), (pk, pb), (ok, ob) = self._vars[b]
        f_in, a, p, g, h, z, fo = self.block_dims(b)
        V = self.n_vertices
        validf = tf.cast(valid, x.dtype)[:, :, tf.newaxis]

        d = self.q("distance", self.dense(x, sk, sb))  # (B, V, A)
        if self.quantized:
            t_d = self.types["distance"]
            w = self.lookup("exp_neg_square", lambda: tables.exp_neg_square_table(t_d, self.types["edge_weight"]), d, t_d,
                            lambda v: -2.0 * v * tf.exp(-v * v))
        else:
            w = tf.exp(-d * d)
        w = w * validf
        f = self.q("feature", self.dense(x, pk, pb))  # (B, V, P)
        gv = f if self.simplified else tf.concat([f, w], axis=-1)  # (B, V, G)

        n = nvtx if self.mean_by_nvert else tf.fill(tf.shape(nvtx), V)
        mean = self.q("aggregate", tf.einsum("bva,bvc->bac", w, gv) * self.reciprocal(n)[:, tf.newaxis, tf.newaxis])
        if self.simplified:
            hv = mean
        else:
            prod = w[:, :, :, tf.newaxis] * gv[:, :, tf.newaxis, :]  # (B, V, A, G)
            mx = self.q("aggregate", masked_max(prod, valid[:, :, tf.newaxis, tf.newaxis], axis=1))
            hv = tf.concat([mx, mean], axis=-1)  # (B, A, H)
        u = tf.reshape(w[:, :, :, tf.newaxis] * hv[:, tf.newaxis, :, :], [-1, V, a * h])
        zv = u if self.simplified else tf.concat([x, u, w], axis=-1)
        return self.activation_and_output(self.dense(zv, ok, ob))


@keras.saving.register_keras_serializable(package="garnet_hls")
class GarNet(_GarNetBlocks):
    """One GarNet block, optionally collapsed. See the module docstring for the formulas.

    Args:
        n_aggregators: A, the number of aggregators.
        n_filters: F_out, the output features per vertex.
        n_propagate: P, the propagated features.
        simplified: simplified (True) or full (False) GarNet.
        collapse: None, 'mean', 'sum' or 'max'.
        mean_by_nvert: means divide by nvtx instead of V.
        output_activation: 'linear', 'relu' or 'tanh'.
        quantized: use the default quantizer for every point not given explicitly.
        <point>_quantizer: QKeras spec for each point of docs/quantization.md (input, kernel, bias,
            distance, edge_weight, feature, reciprocal, aggregate, preactivation, output).

    Call on ``[features (B, V, F_in), nvtx (B, 1)]``.
    """

    def __init__(self, n_aggregators, n_filters, n_propagate, **kwargs):
        super().__init__([n_aggregators], [n_filters], [n_propagate], **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(n_aggregators=self.n_aggregators[0], n_filters=self.n_filters[0],
                   n_propagate=self.n_propagate[0], simplified=self.simplified)
        return cfg


@keras.saving.register_keras_serializable(package="garnet_hls")
class GarNetStack(_GarNetBlocks):
    """Several GarNet blocks in sequence (lists of A, F_out and P per block), then one collapse.

    Block b+1 takes block b's per-vertex output as its input features, without re-quantizing it.
    """

    def get_config(self):
        cfg = super().get_config()
        cfg.update(n_aggregators=list(self.n_aggregators), n_filters=list(self.n_filters),
                   n_propagate=list(self.n_propagate), simplified=self.simplified)
        return cfg
