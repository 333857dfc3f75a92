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


def load_keras_model(path):
    """Load a .keras / .h5 model with our layers and QKeras' registered."""
    import garnet_hls  # noqa: F401  (registers our layers)

    p = Path(path)
    if not p.exists():
        raise UserError(f"model file {path} does not exist")
    if p.is_dir():
        raise UserError(f"model path {path} is a directory, expected a .keras or .h5 file")
    version = _saved_keras_version(p)
    if version and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 3:
        raise UserError(f"{path} is a Keras 3 model (saved with Keras {version}); garnet-hls reads tf_keras (Keras 2) "
                        "models: build and save it with tf_keras / QKeras (TF_USE_LEGACY_KERAS=1)")
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    objects = {}
    _add_supported_quantized_objects(objects)
    try:
        return keras.models.load_model(str(p), custom_objects=objects, compile=False)
    except Exception as e:  # noqa: BLE001 - any failure to read the file is the user's file problem
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot load model {path}: {first}") from None
