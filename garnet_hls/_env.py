"""Keras-2 environment set-up, done before anything imports TensorFlow.

QKeras 0.9 needs Keras 2. TensorFlow 2.21 ships Keras 3 unless ``TF_USE_LEGACY_KERAS=1`` is set
*before* TensorFlow is first imported, in which case ``tf.keras`` is the ``tf_keras`` package.
"""

import contextlib
import os
import sys


def setup_keras2_environment():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("TF_USE_LEGACY_KERAS") not in ("1", "true", "True"):
        raise ImportError(
            "garnet_hls needs Keras 2 (tf_keras): TF_USE_LEGACY_KERAS is set to "
            f"{os.environ['TF_USE_LEGACY_KERAS']!r}; unset it or set it to 1"
        )
    tf = sys.modules.get("tensorflow")
    if tf is not None and "tensorflow" in sys.modules:
        # TensorFlow was imported before us; it is only usable if it already chose Keras 2.
        keras_mod = getattr(getattr(tf, "keras", None), "__name__", "")
        if keras_mod and not keras_mod.startswith("tf_keras"):
            raise ImportError(
                "TensorFlow was imported before garnet_hls without TF_USE_LEGACY_KERAS=1, so tf.keras is "
                "Keras 3; import garnet_hls first or set TF_USE_LEGACY_KERAS=1 in the environment"
            )


@contextlib.contextmanager
def quiet_native_stderr():
    """TensorFlow's C++ runtime prints a few lines at import (absl, oneDNN, CUDA stub) that no Python
    setting silences: mute file descriptor 2 while it is imported. Python exceptions propagate after
    stderr is restored. Set GARNET_HLS_VERBOSE_TF=1 to see them."""
    if os.environ.get("GARNET_HLS_VERBOSE_TF") or "tensorflow" in sys.modules:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
