"""Keras (tf_keras) graph layers: GarNet, GarNetStack and GravNet, float or quantized.

Importing this module registers the layers with Keras' serialization, so saved models load without
``custom_objects``.
"""

from garnet_hls._keras_choice import require_keras2

require_keras2()  # ImportError when this process is Keras 3

from garnet_hls.layers.common import check_nvtx_np  # noqa: E402
from garnet_hls.layers.garnet import GarNet, GarNetStack  # noqa: E402
from garnet_hls.layers.gravnet import GravNet  # noqa: E402

__all__ = ["GarNet", "GarNetStack", "GravNet", "check_nvtx_np"]
