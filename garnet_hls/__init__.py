"""garnet-hls: GarNet/GravNet graph networks from (Q)Keras to bit-exact FPGA firmware through hls4ml.

Importing the package sets up the Keras-2 environment (``TF_USE_LEGACY_KERAS=1``) and registers the
layers with Keras, so ``tf_keras.models.load_model`` finds them without ``custom_objects``.
"""

from garnet_hls._env import quiet_native_stderr, setup_keras2_environment

setup_keras2_environment()
with quiet_native_stderr():
    import tensorflow  # noqa: F401

__version__ = "0.1.0"

from garnet_hls.errors import ToolNotFoundError, UserError  # noqa: E402
from garnet_hls.layers import GarNet, GarNetStack, GravNet  # noqa: E402

__all__ = ["GarNet", "GarNetStack", "GravNet", "UserError", "ToolNotFoundError", "__version__"]
