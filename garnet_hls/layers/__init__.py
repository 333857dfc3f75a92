"""Keras (tf_keras) graph layers: GarNet, GarNetStack and GravNet, float or quantized.

Importing this module registers the layers with Keras' serialization, so saved models load without
``custom_objects``.
"""

from garnet_hls.layers.common import check_nvtx_np
from garnet_hls.layers.garnet import GarNet, GarNetStack
from garnet_hls.layers.gravnet import GravNet

__all__ = ["GarNet", "GarNetStack", "GravNet", "check_nvtx_np"]
