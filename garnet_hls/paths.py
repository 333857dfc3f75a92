"""Output paths every command shares: "can I write this file", "may --force replace this directory", and
atomic writes that leave nothing half-written.

* :func:`check_output_file` is called before any slow work, so a bad ``-o`` / ``--json`` / ``--html`` /
  ``--plot`` is one line up front instead of a traceback at the end.
* :func:`write_output` writes a file through a temporary file in the same directory and renames it into
  place; any OSError becomes a one-line :class:`UserError`.
* :func:`check_replaceable_dir` is the only gate to ``--force``: a directory is replaced only when it is
  empty or was written by garnet-hls (its marker file is there), and never when it is the working
  directory, one of its ancestors, or holds one of the command's input files.
* :func:`claim_dir` / :func:`publish_dir` put a finished temporary directory into place so that of two
  concurrent runs without ``--force`` exactly one succeeds.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from garnet_hls.errors import UserError


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


def umask_mode(directory: bool = False) -> int:
    """The mode a new file (0666) or directory (0777) gets under the user's umask."""
    return (0o777 if directory else 0o666) & ~current_umask()


def give_usual_mode(path, directory: bool = False):
    """mkstemp / mkdtemp create 0600 / 0700: give an output the permissions any new file of the user gets."""
    os.chmod(path, umask_mode(directory))


def give_usual_modes(root):
    """Every directory and file under ``root`` (a finished output, not yet published) gets the mode the umask
    gives a new one (executables keep being executable): files copied from an installation (hls4ml's
    ap_types headers, da4ml's static Verilog) otherwise keep the installed 0644/0755, whatever the umask."""
    mask = current_umask()
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o777 & ~mask)
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if not os.path.islink(p):
                os.chmod(p, (0o777 if st.st_mode & 0o100 else 0o666) & ~mask)


def partial_dir(out, tag: str = "partial") -> Path:
    """The name of a new temporary directory beside ``out`` that becomes ``out`` when it is complete. Only the
    name: create it with :func:`make_partial` inside the ``try`` whose clean-up removes it, so that a signal
    between creating and naming it cannot leave it behind."""
    out = Path(out)
    return out.parent / f".{out.name}.{tag}-{secrets.token_hex(6)}"


def make_partial(path) -> None:
    """Create the directory :func:`partial_dir` named, with the mode any new directory of the user gets (the
    umask's, not mkdtemp's 0700). A name that exists already (a 48-bit collision) is an error, never reused."""
    os.mkdir(path)


def mkstemp(**kwargs) -> tuple[int, str]:
    """``tempfile.mkstemp`` for a file that becomes an output: it gets the umask's mode, not 0600."""
    fd, path = tempfile.mkstemp(**kwargs)
    os.fchmod(fd, umask_mode())
    return fd, path


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def _nearest_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_file(path, what: str = "output") -> Path:
    """Check that ``path`` can be written as a file (before doing the work). Returns it as a Path.

    Refused with one line: an empty path, a path that is a directory, a parent that is a file, a parent
    that cannot be created or written (read-only file system or permissions), an existing file that
    cannot be written.
    """
    if path is None or str(path).strip() == "":
        raise UserError(f"{what} path is empty")
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{what} {path} is a directory, expected a file name")
    # every existing ancestor must be a directory
    for anc in [p.parent, *p.parent.parents]:
        if anc.exists():
            if not anc.is_dir():
                raise UserError(f"cannot write {what} {path}: {anc} is not a directory")
            break
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"cannot write {what} {path}: permission denied")
    _probe(_nearest_existing(p.parent), what, path)
    return p


def _probe(base: Path, what, path):
    """Create and remove a file in ``base``: the one test that also holds for root (who passes os.access
    everywhere) and read-only file systems."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".garnet-hls-probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UserError(f"cannot write {what} {path}: cannot create files in {base} ({_why(e)})") from None


def check_output_dir(path, what: str = "output directory") -> Path:
    """Check that directory ``path`` can be created (or exists as a directory) and written in."""
    if path is None or str(path).strip() == "":
        raise UserError(f"{what} path is empty")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{what} {path} exists and is not a directory")
    for anc in p.parents:
        if anc.exists():
            if not anc.is_dir():
                raise UserError(f"cannot create {what} {path}: {anc} is not a directory")
            break
    _probe(_nearest_existing(p.parent), what, path)
    return p


def write_output(path, data, what: str = "output", binary: bool = False):
    """Write ``data`` (str or bytes, or a callable taking the open file) to ``path`` atomically."""
    p = check_output_file(path, what)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.tmp-", dir=p.parent)
    except OSError as e:
        raise UserError(f"cannot write {what} {path}: {_why(e)}") from None
    try:
        binary = binary or isinstance(data, bytes)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
        give_usual_mode(tmp)
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise UserError(f"cannot write {what} {path}: {_why(e)}") from None
        raise
    return p


# ------------------------------------------------------------------------------------------------
# Directories that --force may replace
# ------------------------------------------------------------------------------------------------
def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def check_replaceable_dir(out, force: bool, markers=(), inputs=(), what: str = "output directory",
                          kind: str = "garnet-hls project", who: str = "--force"):
    """May ``out`` be written (it does not exist) or replaced (``force``)? Raise a one-line UserError if not.

    ``markers``: file names of which one must be in ``out`` for it to count as ours.
    ``inputs``: the command's input files; a directory holding one of them is never replaced.
    """
    p = check_output_dir(out, what)
    if not p.exists():
        return
    if not force:
        raise UserError(f"{what} {out} exists; use --force to replace it")
    refuse_unsafe_replace(out, markers, inputs, kind, who)


def refuse_unsafe_replace(out, markers=(), inputs=(), kind: str = "garnet-hls project", who: str = "--force"):
    """UserError unless replacing the existing directory ``out`` is safe: it is not the working directory
    or an ancestor of it, holds none of ``inputs``, and is empty or has one of the ``markers`` files."""
    real = Path(out).resolve()
    cwd = Path.cwd().resolve()
    if _is_within(cwd, real):
        raise UserError(f"{who} refuses to replace {out}: it is the working directory or holds it")
    for f in inputs:
        if f is not None and _is_within(Path(f).resolve(), real):
            raise UserError(f"{who} refuses to replace {out}: it holds the input file {f}")
    entries = os.listdir(real)
    if entries and not any((real / m).is_file() for m in markers):
        raise UserError(f"{who} refuses to replace {out}: it is not empty and not a {kind} "
                        f"(no {' or '.join(markers)}); remove it yourself or choose another directory")


def claim_dir(out) -> bool:
    """Create ``out`` (and its parents) as an empty placeholder. Returns False if it already existed.

    ``os.mkdir`` is atomic: of two runs that claim the same directory, exactly one gets True.
    """
    p = Path(out)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.mkdir()
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise UserError(f"cannot create {out}: {_why(e)}") from None


def publish_dir(tmp, out, claimed: bool):
    """Move the finished directory ``tmp`` to ``out``.

    ``claimed``: ``out`` is our own empty placeholder from :func:`claim_dir` (replaced by a rename).
    Otherwise ``out`` is an existing directory that :func:`check_replaceable_dir` allowed to replace: it is
    renamed aside first, then removed after ``tmp`` took its place.
    """
    tmp, out = Path(tmp), Path(out)
    old = None
    if not claimed and out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "d")
    try:
        os.replace(tmp, out)  # onto our empty placeholder (or nothing)
    except BaseException as e:  # an error, or a signal between the two renames: put the old one back
        if old is not None:
            try:
                os.rename(old / "d", out)
                shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        if isinstance(e, OSError):
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise UserError(f"output directory {out} exists; use --force to replace it") from None
            raise UserError(f"cannot write {out}: {_why(e)}") from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def release_claim(out, claimed: bool):
    """Remove our placeholder after a failed run (only if it is still empty)."""
    if claimed:
        try:
            os.rmdir(out)
        except OSError:
            pass
