"""garnet-hls: GarNet/GravNet graph networks from (Q)Keras to bit-exact FPGA firmware through hls4ml.

Importing the package is cheap: it sets up the Keras-2 environment (``TF_USE_LEGACY_KERAS=1``) and does not
import TensorFlow; when TensorFlow already chose Keras 3 it leaves it alone, and only the Keras 2 layers
refuse to import. ``garnet_hls.keras3`` holds the Keras 3 / HGQ2 layers (see docs/keras3.md). ``GarNet``, ``GarNetStack`` and ``GravNet`` are imported on first use. Once tf_keras is
imported (by anyone), our layers and QKeras' layers and quantizers are registered with Keras, so
``tf_keras.models.load_model`` finds them without ``custom_objects`` (see ``garnet_hls._env``).
"""

from garnet_hls._env import register_when_keras_loads, setup_keras2_environment

_KERAS2_POSSIBLE = setup_keras2_environment()

__version__ = "0.1.0"

from garnet_hls.errors import ToolNotFoundError, UserError  # noqa: E402

__all__ = ["GarNet", "GarNetStack", "GravNet", "UserError", "ToolNotFoundError", "__version__"]

_LAZY = {"GarNet": "garnet_hls.layers", "GarNetStack": "garnet_hls.layers", "GravNet": "garnet_hls.layers"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'garnet_hls' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if _KERAS2_POSSIBLE:
    register_when_keras_loads()
