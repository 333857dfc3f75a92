"""Canonical models: each preset NAME is a model architecture here and a conversion config
``configs/NAME.yml`` (hls4ml's keys). ``garnet-hls train --preset NAME`` builds the model, and
``garnet-hls convert MODEL -c configs/NAME.yml`` converts it.

This module only describes (no TensorFlow: the command line reads it to build its parser);
:func:`garnet_hls.models.build.build_preset_model` builds.
"""

from __future__ import annotations

from pathlib import Path

from garnet_hls.errors import UserError

#: The ``energy`` output of the models regresses ``true energy [GeV] / ENERGY_SCALE``.
ENERGY_SCALE = 100.0

#: Model kinds accepted by :func:`garnet_hls.models.build.build_model`.
KINDS = ("garnet", "gravnet")

#: Names of the models' two outputs, in order.
OUTPUTS = ("class_logit", "energy")

PRESETS = {
    # Iiyama et al. (arXiv:2008.03601): 128 vertices, 3-block GarNet stack, Dense 16 and 8, two heads.
    "garnet_paper": dict(kind="garnet", n_vertices=128, aggregators=(4, 4, 8), filters=(8, 8, 16),
                         propagate=(8, 8, 16), dense=(16, 8), quantized=True, weight_bits=8),
    # Full-mode GarNet (max and mean aggregates, x and w in the output transform), collapse max.
    "garnet_full_max": dict(kind="garnet", n_vertices=128, aggregators=(4, 4), filters=(8, 16), propagate=(8, 8),
                            dense=(16, 8), simplified=False, collapse="max", quantized=True, weight_bits=8),
    # V not a power of two, means divided by nvtx.
    "garnet_v100_nvtx": dict(kind="garnet", n_vertices=100, aggregators=(4, 4, 8), filters=(8, 8, 16),
                             propagate=(8, 8, 16), dense=(16, 8), mean_by_nvert=True, quantized=True,
                             weight_bits=8),
    # Two GravNet blocks, V=128, S=4, P=8 and 16, k=8.
    "gravnet_paper": dict(kind="gravnet", n_vertices=128, blocks=2, n_dimensions=4, n_propagate=(8, 16),
                          n_filters=(16, 16), k=8, dense=(16, 8), quantized=True, weight_bits=8),
    # V=64 with the cheaper L1 distance.
    "gravnet_v64_l1": dict(kind="gravnet", n_vertices=64, blocks=2, n_dimensions=4, n_propagate=(8, 16),
                           n_filters=(16, 16), k=8, distance="l1", dense=(16, 8), quantized=True, weight_bits=8),
    # RTL backend (convert --backend RTL, configs/garnet_rtl_v32.yml): 3-block GarNet stack at V=32 and a
    # dense head, sized to run fully parallel (interval 1) on one UltraScale+ device.
    "garnet_rtl_v32": dict(kind="garnet", n_vertices=32, aggregators=(4, 4, 4), filters=(4, 4, 8),
                           propagate=(4, 4, 8), dense=(8,), quantized=True, weight_bits=8),
    # RTL backend (configs/gravnet_rtl_v32.yml): one GravNet block at V=32, k=8, S=3, P=4, and a dense head.
    "gravnet_rtl_v32": dict(kind="gravnet", n_vertices=32, blocks=1, n_dimensions=3, n_propagate=(4,),
                            n_filters=(8,), k=8, dense=(8,), quantized=True, weight_bits=8),
}


def preset(name: str) -> dict:
    try:
        return dict(PRESETS[name])
    except KeyError:
        raise UserError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}") from None


def config_path(name: str) -> Path:
    """The conversion config ``configs/NAME.yml``: inside the installed package (``garnet_hls/configs``, see
    pyproject.toml) or at the top of a source checkout."""
    from garnet_hls.resources import configs_dir

    preset(name)
    return configs_dir() / f"{name}.yml"
