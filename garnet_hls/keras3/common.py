"""The Keras 3 base of GarNet and GravNet: quantization sites, nvtx handling, tables and the collapse step.

The same computation as ``garnet_hls.layers.common`` (Keras 2), written on ``keras.ops``: the same rounding
places (docs/quantization.md), the same tables (``garnet_hls.core.tables``) indexed by the same raw bits
(``garnet_hls.core.quantize``), float64 arithmetic when quantized. A quantization point is an HGQ2
quantizer (``garnet_hls.keras3.quantizers``); where a point is used at several places (the three Dense
kernels of a block, the mean and max aggregates, ...) each place ("site") has its own HGQ2 quantizer with
the point's config, so trainable per-element widths get the shape of their own tensor.

The layers are HGQ2 layers (``hgq.layers.QLayerBase``): when quantized they take HGQ2's ``enable_ebops`` and
``beta0`` and, in training, add ``beta * EBOPs`` to the loss (HGQ2's resource regularisation; its callbacks
``FreeEBOPs``, ``BetaScheduler`` see them). Their EBOPs (:meth:`QGraphLayer.ebops_terms`, docs/keras3.md) sum
``bits(a) * bits(b)`` over the products one event needs, from the widths of the sites' quantizers, so
trainable per-element widths get a gradient towards fewer bits.
"""

from __future__ import annotations

import keras
import numpy as np
from hgq.config.layer import global_config as hgq_global_config
from hgq.layers import QLayerBase
from keras import ops

from garnet_hls.core import tables
from garnet_hls.core.fixed import FixedType
from garnet_hls.core.quantize import table_index_ops
from garnet_hls.core.semantics import DEFAULT_QUANTIZERS, set_graph_options
from garnet_hls.errors import UserError
from garnet_hls.keras3.quantizers import config_fixed_type, is_exact_mode, make_quantizer, quantizer_config

# points whose values a lookup table holds: the table is computed by garnet_hls.core.tables with the firmware's
# rounding, so the quantizer must say the same (RND_CONV, SAT) and have one fixed width
TABLE_OUTPUT_POINTS = ("edge_weight", "reciprocal")


class QGraphLayer(QLayerBase):
    """Base of the Keras 3 graph layers. Subclasses set ``POINTS`` and implement ``build_weights``,
    ``_forward`` and ``ebops_terms``; ``build_weights`` declares every quantization site with :meth:`add_site`.

    ``enable_ebops`` (default: HGQ2's global setting, when quantized) and ``beta0`` are HGQ2's; the layer has
    no HGQ2 input or output quantizer of its own (its ``input`` and ``output`` points are its sites)."""

    POINTS: tuple = ()
    DEFAULT_OVERRIDES: dict = {}

    def __init__(self, collapse=None, mean_by_nvert=False, output_activation="linear", quantized=False,
                 enable_ebops=None, **kwargs):
        specs = {p: kwargs.pop(f"{p}_quantizer", None) for p in self.POINTS}
        kwargs.pop("enable_iq", None), kwargs.pop("enable_oq", None), kwargs.pop("oq_conf", None)
        quantized = bool(quantized) or any(v is not None for v in specs.values())
        if enable_ebops is None:
            enable_ebops = bool(hgq_global_config["enable_ebops"]) and quantized
        super().__init__(enable_ebops=bool(enable_ebops) and quantized, enable_iq=False, enable_oq=False,
                         **kwargs)
        set_graph_options(self, collapse, mean_by_nvert, output_activation)
        self.quantized = quantized
        if self.quantized:
            for p in self.POINTS:
                if specs[p] is None:
                    specs[p] = self.default_quantizers()[p]
        self.q_configs = {p: None if s is None else quantizer_config(s, p) for p, s in specs.items()}
        # the fixed types of the points that index or fill a table (checked here, at construction)
        self.table_types = {}
        if self.quantized:
            table_points = list(TABLE_OUTPUT_POINTS) + ["distance"]
            if output_activation == "tanh":
                table_points += ["preactivation", "output"]
            for p in table_points:
                what = f"{self.name}: {p}_quantizer"
                self.table_types[p] = config_fixed_type(self.q_configs[p], what)
                if (p in TABLE_OUTPUT_POINTS or p == "output") and not is_exact_mode(self.q_configs[p]):
                    raise UserError(f"{what}: a lookup table holds its values, computed with round half to even "
                                    "and saturation: give round_mode='RND_CONV', overflow_mode='SAT'")
        self._sites = {}  # site -> point
        self._tables = {}
        self._training = None

    @classmethod
    def default_quantizers(cls):
        return {**DEFAULT_QUANTIZERS, **cls.DEFAULT_OVERRIDES}

    def get_config(self):
        cfg = super().get_config()
        cfg.update(collapse=self.collapse, mean_by_nvert=self.mean_by_nvert,
                   output_activation=self.output_activation, quantized=self.quantized)
        for k in ("enable_iq", "enable_oq", "oq_conf"):  # always off: the input and output points are sites
            cfg.pop(k, None)
        cfg["beta0"] = keras.saving.serialize_keras_object(cfg.get("beta0"))
        for p, c in self.q_configs.items():
            cfg[f"{p}_quantizer"] = None if c is None else keras.saving.serialize_keras_object(c)
        return cfg

    # -- quantization sites --------------------------------------------------------------------------
    def add_site(self, site, point, shape):
        """Declare that ``point`` rounds a tensor of ``shape`` at ``site`` (an HGQ2 quantizer when quantized)."""
        self._sites[site] = point
        cfg = self.q_configs[point]
        if cfg is not None:
            setattr(self, f"q_{site}", make_quantizer(cfg, f"{self.name}_{site}_q", shape))

    def site_quantizer(self, site):
        return getattr(self, f"q_{site}", None)

    def sites(self):
        """{site: point} of every quantization site (after build)."""
        return dict(self._sites)

    def q(self, site, x):
        if site not in self._sites:
            raise KeyError(site)
        qz = self.site_quantizer(site)
        return x if qz is None else qz(x, training=self._training)

    @property
    def work_dtype(self):
        """Quantized layers compute in float64 (exact for fixed-point values up to 53 bits)."""
        return "float64" if self.quantized else self.compute_dtype

    def lookup(self, name, make_values, x, index_t: FixedType, func):
        """Table ``name`` read at the raw bits of x: the table's value exactly, the gradient of ``func``."""
        if name not in self._tables:
            self._tables[name] = np.asarray(make_values(), dtype=np.float64)
        tab = ops.convert_to_tensor(self._tables[name], dtype="float64")
        t = ops.take(tab, table_index_ops(x, index_t))
        fx = func(x)
        return t + (fx - ops.stop_gradient(fx))  # fx - fx is exactly 0: the forward value is t's

    def reciprocal(self, n):
        """1/n as the firmware's reciprocal table gives it (n an integer tensor; 1/0 -> 0)."""
        if self.quantized:
            if "reciprocal" not in self._tables:
                self._tables["reciprocal"] = tables.reciprocal_table(self._n_max, self.table_types["reciprocal"])
            return ops.take(ops.convert_to_tensor(self._tables["reciprocal"], dtype="float64"),
                            ops.cast(n, "int32"))
        nf = ops.cast(n, self.work_dtype)
        return ops.where(n > 0, 1.0 / ops.maximum(nf, 1.0), ops.zeros_like(nf))

    def add_output_sites(self, pre, n_vertices, n_out):
        if self.output_activation == "tanh":
            self.add_site(f"{pre}preactivation", "preactivation", (None, n_vertices, n_out))
        self.add_site(f"{pre}output", "output", (None, n_vertices, n_out))

    def activation_and_output(self, pre, prefix=""):
        act = self.output_activation
        if act == "relu":
            pre = ops.relu(pre)
        elif act == "tanh":
            if self.quantized:
                t_in = self.table_types["preactivation"]
                pre = self.q(f"{prefix}preactivation", pre)
                pre = self.lookup("tanh", lambda: tables.tanh_table(t_in, self.table_types["output"]), pre, t_in,
                                  ops.tanh)
            else:
                pre = ops.tanh(pre)
        return self.q(f"{prefix}output", pre)

    # -- the layer -------------------------------------------------------------------------------------
    def build(self, input_shape):
        feat_shape, _ = input_shape
        if len(feat_shape) != 3 or feat_shape[1] is None or feat_shape[2] is None:
            raise UserError(f"{self.name}: features must have a static shape (batch, V, F), got {feat_shape}")
        self.n_vertices = int(feat_shape[1])
        self.n_in = int(feat_shape[2])
        self._n_max = self.n_vertices
        self.add_site("input", "input", (None, self.n_vertices, self.n_in))
        self.build_weights()
        if self.collapse in ("mean", "sum"):
            self.add_site("collapse_output", "output", (None, self.n_out))
        super().build(input_shape)  # HGQ2's beta and ebops variables

    # -- EBOPs (HGQ2's resource estimate: bits(a) * bits(b) summed over the products of one event) ---------
    def bits(self, site, shape):
        """The widths of ``site``'s values, broadcast to ``shape`` (float32)."""
        qz = self.site_quantizer(site)
        return ops.cast(ops.broadcast_to(qz.bits_(tuple(shape)), tuple(shape)), "float32")

    def table_bits(self, point):
        return float(self.table_types[point].width)

    def dense_ebops(self, prefix, bits_in, n_out):
        """A Dense of this layer on inputs of widths ``bits_in`` (1, V, n_in): every kernel product, and the
        bias as HGQ2's QDense counts it (its mean width per output)."""
        n_in = int(bits_in.shape[-1])
        bk = self.bits(f"{prefix}_kernel", (n_in, n_out))
        bb = self.bits(f"{prefix}_bias", (n_out,))
        return ops.sum(ops.matmul(bits_in, bk)) + ops.mean(bb) * float(bits_in.shape[1] * n_out)

    def collapse_ebops(self):
        if self.collapse != "mean":
            return 0.0
        return ops.sum(self.bits("collapse_output", (1, self.n_out))) * self.table_bits("reciprocal")

    def _compute_ebops(self, feat_shape, nvtx_shape=None):
        return ops.cast(self.ebops_terms() + self.collapse_ebops(), "float32")

    def ebops_terms(self):
        raise NotImplementedError

    def add_dense(self, prefix, n_in, n_out):
        k = self.add_weight(name=f"{prefix}_kernel", shape=(n_in, n_out), initializer="glorot_uniform",
                            trainable=True)
        b = self.add_weight(name=f"{prefix}_bias", shape=(n_out,), initializer="zeros", trainable=True)
        self.add_site(f"{prefix}_kernel", "kernel", (n_in, n_out))
        self.add_site(f"{prefix}_bias", "bias", (n_out,))
        return k, b

    def dense(self, x, prefix, kernel, bias):
        """Dense with quantized weights; the sum is exact (float64) in quantized mode."""
        k = self.q(f"{prefix}_kernel", ops.cast(kernel, self.work_dtype))
        b = self.q(f"{prefix}_bias", ops.cast(bias, self.work_dtype))
        return ops.tensordot(x, k, axes=1) + b

    def _checked_nvtx(self, nvtx):
        V = self.n_vertices
        nvtx = ops.reshape(ops.cast(nvtx, "int32"), (-1,))
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            checks = [
                tf.debugging.assert_greater_equal(nvtx, 0, message=f"{self.name}: nvtx must be >= 0"),
                tf.debugging.assert_less_equal(nvtx, V, message=f"{self.name}: nvtx must be <= V = {V}"),
            ]
            with tf.control_dependencies(checks):
                nvtx = tf.identity(nvtx)
        return nvtx

    def call(self, inputs, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise UserError(f"{self.name}: call the layer on [features (B,V,F), nvtx (B,1)]")
        self._training = training
        x, nvtx = inputs
        nvtx = self._checked_nvtx(nvtx)
        valid = ops.expand_dims(ops.arange(self.n_vertices, dtype="int32"), 0) < ops.expand_dims(nvtx, 1)
        x = ops.cast(x, self.work_dtype)
        x = ops.where(valid[:, :, None], x, ops.zeros_like(x))  # padding contents never matter
        x = self.q("input", x)
        y = self._forward(x, valid, nvtx)
        y = ops.where(valid[:, :, None], y, ops.zeros_like(y))
        y = self._collapse(y, valid, nvtx)
        return ops.cast(y, self.compute_dtype)

    def _collapse(self, y, valid, nvtx):
        mode = self.collapse
        if mode is None:
            return y
        if mode == "max":
            return masked_max(y, valid[:, :, None], axis=1)
        s = ops.sum(y, axis=1)
        if mode == "sum":
            return self.q("collapse_output", s)
        n = nvtx if self.mean_by_nvert else ops.full(ops.shape(nvtx), self.n_vertices, dtype="int32")
        return self.q("collapse_output", s * self.reciprocal(n)[:, None])

    def compute_output_shape(self, input_shape):
        feat_shape = input_shape[0]
        if self.collapse is None:
            return (feat_shape[0], feat_shape[1], self.n_out)
        return (feat_shape[0], self.n_out)


def masked_max(values, valid, axis):
    """Max over ``axis`` of the entries where ``valid``; 0 where none is valid."""
    valid = ops.broadcast_to(valid, ops.shape(values))
    neg = ops.full(ops.shape(values), -np.inf, dtype=values.dtype)
    m = ops.max(ops.where(valid, values, neg), axis=axis)
    anyv = ops.any(valid, axis=axis)
    return ops.where(anyv, m, ops.zeros_like(m))
