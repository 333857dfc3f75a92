"""Loading a saved Keras model (.keras / .h5) with our layers and QKeras' registered."""

from __future__ import annotations

import json
from pathlib import Path

from garnet_hls.errors import UserError


def _saved_keras_version(p: Path) -> str | None:
    """The Keras version a .keras (zip: metadata.json) or .h5 (root attribute) file was saved with, if it says."""
    import zipfile

    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                if "metadata.json" in z.namelist():
                    return str(json.loads(z.read("metadata.json")).get("keras_version") or "") or None
            return None
        import h5py

        with h5py.File(p, "r") as f:
            v = f.attrs.get("keras_version")
        return (v.decode() if isinstance(v, bytes) else str(v)) if v is not None else None
    except Exception:  # noqa: BLE001 - unreadable files are reported by the loader itself
        return None


def is_keras3_model(model) -> bool:
    """A Keras 3 model (the ``keras`` package; garnet_hls.keras3 / HGQ2), not a tf_keras one."""
    return type(model).__module__.split(".")[0] == "keras"


def _load_keras3_model(p: Path, version: str):
    """A model saved by Keras 3: read with the Keras 3 front end (garnet_hls.keras3 registers our layers; hgq2
    its own). In a process that has not imported TensorFlow yet this makes it a Keras 3 process."""
    from garnet_hls._env import quiet_native_stderr

    try:
        with quiet_native_stderr():  # TensorFlow's C++ start-up lines, as on the Keras 2 path
            import garnet_hls.keras3  # noqa: F401
    except ImportError as e:
        raise UserError(f"{p} is a Keras 3 model (saved with Keras {version}); reading it needs the Keras 3 front "
                        f"end (pip install 'garnet-hls[keras3]'): {e}") from None
    import keras

    try:
        return keras.models.load_model(str(p), compile=False)
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the user's file problem
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot load Keras 3 model {p}: {first}") from None


def load_keras_model(path):
    """Load a .keras / .h5 model with our layers and QKeras' registered; a file saved by Keras 3 is read by
    the Keras 3 front end (garnet_hls.keras3, HGQ2) instead."""
    import garnet_hls  # noqa: F401  (registers our layers)

    p = Path(path)
    if not p.exists():
        raise UserError(f"model file {path} does not exist")
    if p.is_dir():
        raise UserError(f"model path {path} is a directory, expected a .keras or .h5 file")
    version = _saved_keras_version(p)
    if version and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 3:
        return _load_keras3_model(p, version)
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    objects = {}
    _add_supported_quantized_objects(objects)
    try:
        return keras.models.load_model(str(p), custom_objects=objects, compile=False)
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the user's file problem
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot load model {path}: {first}") from None
