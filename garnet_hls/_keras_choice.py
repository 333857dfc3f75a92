"""Which Keras this process uses: Keras 2 (tf_keras, QKeras; garnet_hls.layers) or Keras 3 (garnet_hls.keras3).

TensorFlow 2.21 picks ``tf.keras`` once, when it is imported: Keras 2 if ``TF_USE_LEGACY_KERAS=1`` is set then.
``import garnet_hls`` sets it (unless the user did, or TensorFlow already chose Keras 3); importing the Keras 3
front end takes it back if TensorFlow has not read it yet. No import of TensorFlow here, nothing of ours.
"""

import os
import sys

_set_legacy_here = False  # TF_USE_LEGACY_KERAS=1 was set by us, not by the user
_keras3_chosen = False  # garnet_hls.keras3 was imported: this process is Keras 3


def _tf_chose_keras3() -> bool:
    """TensorFlow is imported and fixed tensorflow.keras to Keras 3 when it was imported."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return False
    # tensorflow.keras, which QKeras imports from, is fixed when TensorFlow is imported; reading tf.keras now
    # would load whichever the environment says *now*, so it cannot tell
    legacy = getattr(tf, "_tf_uses_legacy_keras", None)
    if legacy is None:  # an older TensorFlow, or one still being imported
        keras_mod = getattr(getattr(tf, "keras", None), "__name__", "")
        legacy = not keras_mod or keras_mod.startswith("tf_keras")
    return not legacy


def keras3_chosen() -> bool:
    return _keras3_chosen


def mark_keras3():
    """This process is Keras 3 (garnet_hls.keras3 is imported): drop TF_USE_LEGACY_KERAS=1 if we set it and
    TensorFlow has not read it yet."""
    global _keras3_chosen, _set_legacy_here
    _keras3_chosen = True
    if _set_legacy_here and "tensorflow" not in sys.modules:
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
        _set_legacy_here = False


def setup_keras2_environment() -> bool:
    """Prefer Keras 2 (tf_keras) for the TensorFlow still to be imported; True when Keras 2 stays possible.

    When TensorFlow was imported before us and chose Keras 3, nothing is changed and False is returned:
    ``import garnet_hls`` still works (the Keras 3 front end ``garnet_hls.keras3`` and everything without
    Keras do), and the Keras 2 layers refuse at their import (:func:`require_keras2`)."""
    global _set_legacy_here
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if _tf_chose_keras3():
        return False
    if "TF_USE_LEGACY_KERAS" not in os.environ:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        _set_legacy_here = True
    return os.environ["TF_USE_LEGACY_KERAS"] in ("1", "true", "True")


def require_keras2():
    """Raise ImportError unless this process can use Keras 2 (tf_keras, QKeras): the Keras 2 layers call it."""
    if _keras3_chosen:
        raise ImportError("garnet_hls.keras3 (Keras 3) is in use in this process; the Keras 2 layers "
                          "(garnet_hls.layers, QKeras) need a process of their own")
    if os.environ.get("TF_USE_LEGACY_KERAS") not in ("1", "true", "True") and not _tf_chose_keras3():
        raise ImportError(
            "garnet_hls needs Keras 2 (tf_keras): TF_USE_LEGACY_KERAS is set to "
            f"{os.environ.get('TF_USE_LEGACY_KERAS')!r}; unset it or set it to 1 (or use garnet_hls.keras3)"
        )
    if _tf_chose_keras3():
        raise ImportError(
            "TensorFlow was imported before garnet_hls without TF_USE_LEGACY_KERAS=1, so tf.keras is "
            "Keras 3; import garnet_hls first or set TF_USE_LEGACY_KERAS=1 in the environment "
            "(or use the Keras 3 layers, garnet_hls.keras3)"
        )


