"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with the user's input (file, config, argument, data), not a bug in garnet-hls."""

    exit_code = 1


class ToolFailure(UserError):
    """A tool we drive failed inside itself (e.g. da4ml while tracing a layer): one line for the user, but a
    defect to report, not a problem with the user's input; the fuzzers count it as a failure."""


class ToolNotFoundError(UserError):
    """An external tool (vivado_hls, vitis_hls, ...) is not on PATH."""

    exit_code = 2


def require_dir(path, what: str = "project directory") -> None:
    """Raise a one-line UserError unless ``path`` is a directory: 'does not exist' or 'is a file'."""
    import os

    if os.path.isdir(path):
        return
    if os.path.exists(path):
        kind = "a file" if os.path.isfile(path) else "not a directory"
        raise UserError(f"{path} is {kind}, expected a {what}")
    raise UserError(f"{what} {path} does not exist")
