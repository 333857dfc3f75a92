"""Keras-2 environment set-up and the registration of our Keras objects, both without importing TensorFlow.

QKeras 0.9 needs Keras 2. TensorFlow 2.21 ships Keras 3 unless ``TF_USE_LEGACY_KERAS=1`` is set
*before* TensorFlow is first imported, in which case ``tf.keras`` is the ``tf_keras`` package.

``import garnet_hls`` must stay cheap (the commands that need no TensorFlow start in well under a second),
yet keep its promise that ``tf_keras.models.load_model`` then reads a saved model with our layers and
QKeras' ``QDense``/``QActivation``/quantizers without ``custom_objects``. So registration happens when
Keras arrives: if ``tf_keras`` is already imported, at once; otherwise :func:`register_when_keras_loads`
puts a finder first on ``sys.meta_path`` that wraps the loaders of ``tensorflow``, ``tf_keras`` and
``qkeras``. Once all of them that are being imported have finished executing, it imports
``garnet_hls.layers`` (whose classes register themselves) and adds QKeras' quantized objects to tf_keras'
global custom objects, then removes itself. The finder also mutes TensorFlow's C++ start-up chatter on
stderr while ``tensorflow`` itself executes (see :func:`quiet_native_stderr`).
"""

import contextlib
import importlib.abc
import os
import sys
import threading

from garnet_hls import _keras_choice as _choice
from garnet_hls._keras_choice import require_keras2, setup_keras2_environment  # noqa: F401  (re-exported)

_WATCHED = ("tensorflow", "tf_keras", "qkeras", "keras")  # keras: Keras 3, which QKeras 0.9 imports too
_lock = threading.RLock()
_registered = False
_executing: set = set()  # watched modules whose code is running now (nested imports)


def choose_keras3():
    """The Keras 3 front end is imported: undo our Keras 2 preference if TensorFlow has not read it yet,
    so that ``tf.keras`` and any child process stay Keras 3, and stop waiting for tf_keras."""
    with _lock:
        _choice.mark_keras3()
        _remove_finder()


@contextlib.contextmanager
def quiet_native_stderr(force=False):
    """TensorFlow's C++ runtime prints a few lines at import (absl, oneDNN, CUDA stub) that no Python
    setting silences: mute file descriptor 2 while it is imported. Python exceptions propagate after
    stderr is restored. Set GARNET_HLS_VERBOSE_TF=1 to see them. Without ``force`` nothing is muted once
    TensorFlow is in ``sys.modules``."""
    if os.environ.get("GARNET_HLS_VERBOSE_TF") or (not force and "tensorflow" in sys.modules):
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


def register_keras_objects():
    """Register our layers and QKeras' layers/quantizers with tf_keras' serialization (idempotent).

    Imports TensorFlow, tf_keras and QKeras."""
    global _registered
    with _lock:
        if _registered or _choice.keras3_chosen():
            return
        _registered = True
        _remove_finder()
    import tf_keras
    from qkeras.utils import _add_supported_quantized_objects

    import garnet_hls.layers  # noqa: F401  (GarNet, GarNetStack, GravNet register themselves)

    objects = {}
    _add_supported_quantized_objects(objects)
    registry = tf_keras.utils.get_custom_objects()
    for name, obj in objects.items():
        registry.setdefault(name, obj)


def _ready():
    return "tf_keras" in sys.modules and not _executing


class _NotifyingLoader(importlib.abc.Loader):
    """Runs the real loader, then registers once nothing watched is still executing."""

    def __init__(self, loader, name):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # the module's __loader__ / __spec__.loader is this wrapper: hand the real one back to the module
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        quiet = quiet_native_stderr(force=True) if self._name == "tensorflow" else contextlib.nullcontext()
        _executing.add(self._name)
        try:
            with quiet:
                self._loader.exec_module(module)
        finally:
            _executing.discard(self._name)
        if _ready():
            register_keras_objects()

    def __getattr__(self, name):  # get_resource_reader, is_package, get_code, ...
        return getattr(self._loader, name)


class _KerasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _NotifyingLoader(spec.loader, fullname)
                return spec
        return None


_finder = _KerasFinder()


def _remove_finder():
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass


def register_when_keras_loads():
    """Register our Keras objects now if tf_keras is loaded, else as soon as it is (see the module doc)."""
    with _lock:
        if _registered:
            return
        if "tf_keras" not in sys.modules:
            if _finder not in sys.meta_path:
                sys.meta_path.insert(0, _finder)
            return
    register_keras_objects()
