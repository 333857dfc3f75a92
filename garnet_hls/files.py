"""Temporary files and directories that end up as the user's output, created with the permissions of the
user's umask (``tempfile`` makes them 0600 / 0700, which a published project, data set or training
directory would otherwise keep)."""

from __future__ import annotations

import os
import tempfile


def current_umask() -> int:
    """The process umask, read from /proc (Linux) without changing it; elsewhere set and restored."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def mkdtemp(**kwargs) -> str:
    """``tempfile.mkdtemp`` whose directory gets ``0777 & ~umask`` (what ``mkdir`` would give)."""
    path = tempfile.mkdtemp(**kwargs)
    os.chmod(path, 0o777 & ~current_umask())
    return path


def mkstemp(**kwargs) -> tuple[int, str]:
    """``tempfile.mkstemp`` whose file gets ``0666 & ~umask`` (what ``open(..., 'w')`` would give)."""
    fd, path = tempfile.mkstemp(**kwargs)
    os.fchmod(fd, 0o666 & ~current_umask())
    return fd, path
