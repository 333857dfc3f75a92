"""Keras 3 GarNet, GarNetStack and GravNet, quantized with HGQ2 (docs/keras3.md).

Importing this module makes the process a Keras 3 one: it works after ``keras`` or ``tensorflow`` were
imported, and undoes ``import garnet_hls``'s Keras 2 preference (``TF_USE_LEGACY_KERAS=1``) if TensorFlow
has not read it yet. The layers register with Keras' serialization, so saved ``.keras`` models load with
``keras.models.load_model`` and no custom_objects once this module is imported.
"""

from garnet_hls._env import choose_keras3

choose_keras3()

from garnet_hls.keras3.garnet import GarNet, GarNetStack  # noqa: E402
from garnet_hls.keras3.gravnet import GravNet  # noqa: E402
from garnet_hls.keras3.quantizers import quantizer_config  # noqa: E402

__all__ = ["GarNet", "GarNetStack", "GravNet", "quantizer_config"]
