"""What GarNet and GravNet share: quantization points, nvtx masking, tables and the collapse step.

The rounding places are documented once, in ``docs/quantization.md``; every quantization point named
there is a ``<point>_quantizer`` argument of the layers.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from garnet_hls.core import tables
from garnet_hls.errors import UserError
from garnet_hls.core.fixed import FixedType, parse_spec
from garnet_hls.core.quantize import quantize_tf, table_index_tf
from garnet_hls.core.semantics import (  # noqa: F401  (re-exported: the backends read them here)
    ACTIVATIONS, COLLAPSE_MODES, DEFAULT_QUANTIZERS, check_nvtx_np, set_graph_options)

class QuantizedGraphLayer(keras.layers.Layer):
    """Base of the graph layers: quantizer points, nvtx handling and collapse.

    Subclasses set ``POINTS`` (the quantization points they use) and implement ``_forward``.
    """

    POINTS: tuple = ()
    DEFAULT_OVERRIDES: dict = {}  # per-layer defaults that differ from DEFAULT_QUANTIZERS

    def __init__(self, collapse=None, mean_by_nvert=False, output_activation="linear", quantized=False,
                 **kwargs):
        specs = {p: kwargs.pop(f"{p}_quantizer", None) for p in self.POINTS}
        super().__init__(**kwargs)
        set_graph_options(self, collapse, mean_by_nvert, output_activation)
        self.quantized = bool(quantized) or any(v is not None for v in specs.values())
        if self.quantized:
            for p in self.POINTS:
                if specs[p] is None:
                    specs[p] = self.default_quantizers()[p]
        self._specs = {p: (s if s is None or isinstance(s, str) else parse_spec(s).spec()) for p, s in specs.items()}
        self.types = {p: parse_spec(s) for p, s in self._specs.items()}
        self._tables = {}

    # -- configuration -------------------------------------------------------------------------
    @classmethod
    def default_quantizers(cls):
        return {**DEFAULT_QUANTIZERS, **cls.DEFAULT_OVERRIDES}

    def quantizer_specs(self):
        return dict(self._specs)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(collapse=self.collapse, mean_by_nvert=self.mean_by_nvert,
                   output_activation=self.output_activation, quantized=self.quantized)
        for p, s in self._specs.items():
            cfg[f"{p}_quantizer"] = s
        return cfg

    # -- numerics ------------------------------------------------------------------------------
    @property
    def work_dtype(self):
        """Quantized layers compute in float64 (exact for fixed-point values up to 53 bits)."""
        return tf.float64 if self.quantized else tf.as_dtype(self.compute_dtype)

    def q(self, point, x):
        return quantize_tf(x, self.types.get(point))

    def table(self, name, values):
        """A constant lookup table (NumPy float64, from garnet_hls.core.tables), computed once per layer."""
        if name not in self._tables:
            self._tables[name] = np.asarray(values, dtype=np.float64)
        return tf.constant(self._tables[name], dtype=tf.float64)

    def lookup(self, name, make_values, x, index_t: FixedType, derivative):
        """Gather from table ``name`` (``make_values()`` builds it the first time) at the raw bits of x.

        The forward value is the table's, exactly; the gradient is ``derivative(x)``, that of the
        function the table holds (a straight-through estimate of the rounding).
        """
        values = self._tables.get(name)
        if values is None:
            values = make_values()
        tab = self.table(name, values)

        @tf.custom_gradient
        def _lookup(v):
            def grad(dy):
                return dy * derivative(v)

            return tf.gather(tab, table_index_tf(v, index_t)), grad

        return _lookup(x)

    def reciprocal(self, n):
        """1/n as the firmware's reciprocal table gives it (n an integer tensor; 1/0 -> 0)."""
        n = tf.cast(n, tf.int64)
        if self.quantized:
            tab = self._tables.get("reciprocal")
            if tab is None:
                tab = tables.reciprocal_table(self._n_max, self.types["reciprocal"])
            return tf.gather(self.table("reciprocal", tab), n)
        nf = tf.cast(n, self.work_dtype)
        return tf.where(n > 0, 1.0 / tf.maximum(nf, 1.0), tf.zeros_like(nf))

    def activation_and_output(self, pre):
        act = self.output_activation
        if act == "relu":
            pre = tf.nn.relu(pre)
        elif act == "tanh":
            if self.quantized:
                t_in = self.types["preactivation"]
                pre = self.q("preactivation", pre)
                pre = self.lookup("tanh", lambda: tables.tanh_table(t_in, self.types["output"]), pre, t_in,
                                  lambda v: 1.0 - tf.tanh(v) ** 2)
            else:
                pre = tf.tanh(pre)
        return self.q("output", pre)

    # -- the layer -----------------------------------------------------------------------------
    def build(self, input_shape):
        feat_shape, nvtx_shape = input_shape
        if len(feat_shape) != 3 or feat_shape[1] is None or feat_shape[2] is None:
            raise UserError(f"{self.name}: features must have a static shape (batch, V, F), got {feat_shape}")
        self.n_vertices = int(feat_shape[1])
        self.n_in = int(feat_shape[2])
        self._n_max = self.n_vertices
        self.build_weights()
        super().build(input_shape)

    def add_dense(self, prefix, n_in, n_out):
        k = self.add_weight(name=f"{prefix}_kernel", shape=(n_in, n_out), initializer="glorot_uniform",
                            trainable=True)
        b = self.add_weight(name=f"{prefix}_bias", shape=(n_out,), initializer="zeros", trainable=True)
        return k, b

    def dense(self, x, kernel, bias):
        """Dense with quantized weights; the sum is exact (float64) in quantized mode."""
        k = self.q("kernel", tf.cast(kernel, self.work_dtype))
        b = self.q("bias", tf.cast(bias, self.work_dtype))
        return tf.tensordot(x, k, axes=[[x.shape.rank - 1], [0]]) + b

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise UserError(f"{self.name}: call the layer on [features (B,V,F), nvtx (B,1)]")
        x, nvtx = inputs
        V = self.n_vertices
        nvtx = tf.reshape(tf.cast(nvtx, tf.int32), [-1])
        checks = [
            tf.debugging.assert_greater_equal(nvtx, 0, message=f"{self.name}: nvtx must be >= 0"),
            tf.debugging.assert_less_equal(nvtx, V, message=f"{self.name}: nvtx must be <= V = {V}"),
        ]
        with tf.control_dependencies(checks):
            nvtx = tf.identity(nvtx)
        valid = tf.range(V)[tf.newaxis, :] < nvtx[:, tf.newaxis]  # (B, V)
        x = tf.cast(x, self.work_dtype)
        x = tf.where(valid[:, :, tf.newaxis], x, tf.zeros_like(x))  # padding contents never matter
        x = self.q("input", x)
        y = self._forward(x, valid, nvtx)
        y = tf.where(valid[:, :, tf.newaxis], y, tf.zeros_like(y))
        y = self._collapse(y, valid, nvtx)
        return tf.cast(y, self.compute_dtype)

    def _collapse(self, y, valid, nvtx):
        mode = self.collapse
        if mode is None:
            return y
        if mode == "max":
            neg = tf.fill(tf.shape(y), tf.constant(-np.inf, y.dtype))
            m = tf.reduce_max(tf.where(valid[:, :, tf.newaxis], y, neg), axis=1)
            return tf.where((nvtx > 0)[:, tf.newaxis], m, tf.zeros_like(m))
        s = tf.reduce_sum(y, axis=1)
        if mode == "sum":
            return self.q("output", s)
        n = nvtx if self.mean_by_nvert else tf.fill(tf.shape(nvtx), self.n_vertices)
        return self.q("output", s * self.reciprocal(n)[:, tf.newaxis])

    def compute_output_shape(self, input_shape):
        feat_shape = input_shape[0]
        if self.collapse is None:
            return tf.TensorShape([feat_shape[0], feat_shape[1], self.n_out])
        return tf.TensorShape([feat_shape[0], self.n_out])


def masked_max(values, valid, axis):
    """Max over ``axis`` of the entries where ``valid``; 0 where none is valid."""
    neg = tf.fill(tf.shape(values), tf.constant(-np.inf, values.dtype))
    m = tf.reduce_max(tf.where(valid, values, neg), axis=axis)
    anyv = tf.reduce_any(valid, axis=axis)
    return tf.where(anyv, m, tf.zeros_like(m))
