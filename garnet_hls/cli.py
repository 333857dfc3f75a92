"""The ``garnet-hls`` command line.

Every subcommand lives in a module of ``garnet_hls/flows`` and adds itself with ``add_cli(subparsers)``.
Errors a user can cause (:class:`garnet_hls.errors.UserError`) end in one line on stderr and a non-zero
exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module -> the subcommands it adds
_COMMAND_MODULES = [
    "garnet_hls.flows.data",
    "garnet_hls.flows.train",
    "garnet_hls.flows.convert",
    "garnet_hls.flows.csim",
    "garnet_hls.flows.compare",
    "garnet_hls.flows.synth",
    "garnet_hls.flows.report",
    "garnet_hls.flows.estimate",
    "garnet_hls.flows.demo",
    "garnet_hls.flows.sweep",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like argparse but without the usage block
        sys.stderr.write(f"garnet-hls: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    import garnet_hls

    parser = _Parser(prog="garnet-hls", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"garnet-hls {garnet_hls.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # that part of the tool is not there (yet)
                continue
            raise
        module.add_cli(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so that every ``except KeyboardInterrupt`` /
    ``except BaseException`` clean-up (temporary directories, the HLS tool's process group) runs."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _install_sigterm():
    """SIGTERM -> Terminated while a command runs; returns the previous handler (None outside the main thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def main(argv=None) -> int:
    import signal
    import warnings

    from garnet_hls.errors import UserError

    # hls4ml and tf_keras warn about things that are expected here (our explicit precisions, QKeras
    # quantizers in configs): keep the terminal for what the user needs to read.
    for module in ("hls4ml", "tf_keras", "keras", "qkeras"):
        warnings.filterwarnings("ignore", category=UserWarning, module=module)

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _install_sigterm()
    try:
        rc = args.func(args)
    except UserError as e:
        return _fail(str(e), e.exit_code)
    except Terminated:
        sys.stderr.write("garnet-hls: terminated\n")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        sys.stderr.write("garnet-hls: interrupted\n")
        return 130
    except MemoryError:
        return _fail("out of memory: the command needs more memory than this machine has; use fewer events")
    except OSError as e:  # the user's file system refused a read or write (full disk, permissions, ...)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _fail(f"{where}{e.strerror or e}")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return int(rc or 0)


def _fail(message: str, code: int = 1) -> int:
    msg = " ".join(message.split())  # one line
    sys.stderr.write(f"garnet-hls: error: {msg}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
