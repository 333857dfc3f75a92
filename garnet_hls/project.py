"""The project contract: ``garnet_project.json``, the one file every command reads to learn what a project is.

``convert`` writes it (through :func:`write_meta`) into every project of every backend; everything else reads
it through :func:`read_meta`, which checks it and names the file in one line when it is missing, corrupt or
partial. It records, for both backends:

* ``backend``: the backend's name as the registry spells it (``vivado``, ``vitis``, ``rtl``; projects written
  before the rename say ``Vivado``, ``Vitis`` or ``RTL``: :func:`backend_name` reads both);
* ``project_name``, ``inputs`` / ``outputs`` (Keras name, shape, firmware type), ``traced`` (the HLS trace
  buffers), ``layers`` (per layer: type, bit-exact or not, and why), ``bit_exact``, ``not_bit_exact``;
* backend-specific figures (the RTL backend's ``latency_cycles``, ``part``, ``clock_period_ns``, ...).

:func:`prepare_inputs` maps an events dict (``features``, ``nvtx``) onto a project's inputs, for every
simulator. :func:`load_part` reads any other file of a project (a trace, a pipeline, generated sources) so
that a missing or corrupt one is one line naming it, too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from garnet_hls.errors import UserError, require_dir

META_FILE = "garnet_project.json"

#: what a project's metadata must hold, and of which type
REQUIRED = {"project_name": str, "inputs": list, "outputs": list, "traced": list, "layers": dict}

_AGAIN = "convert the model again with garnet-hls convert --force"


def meta_path(project) -> Path:
    return Path(project) / META_FILE


def is_project(project) -> bool:
    """Has ``project`` a ``garnet_project.json`` (whatever its state)?"""
    return meta_path(project).is_file()


def read_meta(project) -> dict:
    """The checked metadata of a project directory; one-line UserError naming the file otherwise."""
    prj = Path(project)
    require_dir(prj)
    p = prj / META_FILE
    if not p.is_file():
        raise UserError(f"{project} is not a garnet-hls project (no {META_FILE}); create it with garnet-hls convert")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{p} is corrupt ({' '.join(str(e).split())}); {_AGAIN}") from None
    except OSError as e:
        raise UserError(f"cannot read {p}: {e.strerror or e}") from None
    if not isinstance(meta, dict):
        raise UserError(f"{p} is corrupt (not a JSON object); {_AGAIN}")
    bad = [k for k, t in REQUIRED.items() if not isinstance(meta.get(k), t)]
    if "backend" in meta and not isinstance(meta["backend"], str):
        bad.append("backend")
    for key in ("inputs", "outputs"):
        if key not in bad and not all(isinstance(s, dict) and isinstance(s.get("keras_name"), str)
                                       and _is_shape(s.get("shape")) for s in meta[key]):
            bad.append(key)
    if "traced" not in bad and not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                       and _is_count(t.get("size")) for t in meta["traced"]):
        bad.append("traced")  # the C simulation sizes its trace buffer by them
    if "layers" not in bad and not all(isinstance(v, dict) for v in meta["layers"].values()):
        bad.append("layers")
    if bad:
        raise UserError(f"{p} is corrupt (missing or wrong {', '.join(bad)}); {_AGAIN}")
    return meta


def _is_count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_shape(x) -> bool:
    return isinstance(x, list) and all(_is_count(n) for n in x)


def write_meta(directory, meta: dict) -> Path:
    """Write ``meta`` as the project's ``garnet_project.json`` (into a directory that is not yet published)."""
    bad = [k for k, t in REQUIRED.items() if not isinstance(meta.get(k), t)]
    if bad or not isinstance(meta.get("backend"), str):
        raise ValueError(f"project metadata without {', '.join(bad or ['backend'])}")
    p = Path(directory) / META_FILE
    p.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return p


def backend_name(meta: dict) -> str:
    """The backend a project was written for, lower case (``vivado`` for projects that do not say)."""
    return str(meta.get("backend") or "vivado").lower()


def load_part(project, relpath: str, loader: Callable[[Path], Any], what: str | None = None, again: str = _AGAIN):
    """Read a file of a project with ``loader(path)``; a missing or unreadable one is one line naming it.

    ``again``: what makes the file anew (by default converting the model again)."""
    p = Path(project) / relpath
    what = what or relpath
    if not p.exists():
        raise UserError(f"{p} is missing: the project is incomplete ({what}); {again}")
    try:
        return loader(p)
    except UserError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the file holds, it is the project's file that is bad
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{p} is corrupt ({what}: {first[:200]}); {again}") from None


def require_files(project, relpaths, what: str = "generated sources"):
    """Every one of ``relpaths`` exists in the project, else one line naming the first missing one."""
    for rel in relpaths:
        p = Path(project) / rel
        if not p.is_file():
            raise UserError(f"{p} is missing: the project is incomplete ({what}); {_AGAIN}")


def prepare_inputs(meta: dict, data: dict) -> list:
    """Map an events dict (features, nvtx) onto the project's inputs, checking shapes and nvtx range.

    Returns one float64 array per input, each of shape (events, values per event)."""
    import numpy as np  # here, not at the top: the estimator reads projects without numpy

    from garnet_hls.core.semantics import check_nvtx_np

    arrays = []
    n_events = None
    for spec in meta["inputs"]:
        layer = meta["layers"].get(spec["keras_name"], {})
        shape = spec["shape"]
        if layer.get("nvtx"):
            if "nvtx" not in data:
                raise UserError("the data has no 'nvtx' array, which the model's nvtx input needs")
            a = check_nvtx_np(data["nvtx"], layer["n_vertices"])
        else:
            key = spec["keras_name"] if spec["keras_name"] in data else "features"
            if key not in data:
                raise UserError(f"the data has no {spec['keras_name']!r} or 'features' array")
            a = np.asarray(data[key])
            if tuple(a.shape[1:]) != tuple(shape):
                raise UserError(f"input {spec['keras_name']!r} needs events of shape {tuple(shape)}, "
                                f"the data has {tuple(a.shape[1:])}")
        if n_events is not None and len(a) != n_events:
            raise UserError("the data's arrays have different numbers of events")
        n_events = len(a)
        arrays.append(np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float64))
    return arrays


def split_outputs(meta: dict, flat) -> dict:
    """A simulator's outputs, all values of an event in one row in the project's output order, as
    ``{keras output name: array (events, *shape)}``."""
    import numpy as np

    n = len(flat)
    outputs, off = {}, 0
    for o in meta["outputs"]:
        size = int(np.prod(o["shape"]))
        outputs[o["keras_name"]] = flat[:, off:off + size].reshape([n] + list(o["shape"]))
        off += size
    return outputs
