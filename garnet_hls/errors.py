"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """A problem with the user's input (file, config, argument, data), not a bug in garnet-hls."""

    exit_code = 1


class ToolNotFoundError(UserError):
    """An external tool (vivado_hls, vitis_hls, ...) is not on PATH."""

    exit_code = 2
