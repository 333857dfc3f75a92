"""Where the shipped non-Python files are: ``firmware/`` (our HLS C++), ``templates/`` and ``configs/``
(the presets' conversion configs).

In a wheel they are installed inside the package (``garnet_hls/firmware``, ``garnet_hls/templates``,
``garnet_hls/configs``, see pyproject.toml); in a source checkout or an editable install they are at the repository's top.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"garnet-hls is installed without its {name}/ directory")


def firmware_dir() -> Path:
    return resource_dir("firmware")


def templates_dir() -> Path:
    return resource_dir("templates")


def configs_dir() -> Path:
    return resource_dir("configs")
