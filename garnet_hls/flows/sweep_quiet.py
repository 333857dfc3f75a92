"""Quiet sweep workers: the user's terminal shows the sweep's progress, table and real problems only.

A point's worker mutes what TensorFlow, tf_keras, QKeras and hls4ml say about expected things
(:func:`quiet_libraries`, and :data:`WORKER_ENV` before TensorFlow is imported) and captures whatever is
still printed, by Python or by C++ and child processes, into the point's log (:func:`captured_output`),
which the client keeps as ``SWEEP_DIR/logs/<key>.log``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

LOG_LIMIT = 200_000  # characters of a point's log kept (its end)


#: Set in the environment of the LocalCluster's workers, before they import TensorFlow.
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1", "ABSL_MIN_LOG_LEVEL": "3",
              "GRPC_VERBOSITY": "ERROR"}


def quiet_libraries():
    """Mute what TensorFlow, tf_keras, QKeras and hls4ml say about things that are expected here (the
    loaded model's compiled metrics, HDF5 being legacy, QKeras quantizers going through Keras' serialize(),
    our explicit precisions): Python warnings from those modules, the ``tensorflow``/``absl`` loggers below
    ERROR. Real errors still raise and are recorded with the point."""
    import warnings

    for var in ("TF_CPP_MIN_LOG_LEVEL", "ABSL_MIN_LOG_LEVEL"):
        os.environ.setdefault(var, "3")
    for module in ("hls4ml", "tf_keras", "keras", "qkeras", "tensorflow", "absl", "h5py", "da4ml"):
        warnings.filterwarnings("ignore", category=UserWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
    for name in ("tensorflow", "absl", "h5py", "hls4ml"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "absl.logging" in sys.modules:
        sys.modules["absl.logging"].set_verbosity("error")


@contextlib.contextmanager
def captured_output(path):
    """Everything written to file descriptors 1 and 2 (C++ libraries, g++, Yosys) and to Python's
    ``sys.stdout`` / ``sys.stderr`` (warnings, logging) goes to ``path`` while the block runs."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    log = open(path, "a", buffering=1, errors="replace")  # noqa: SIM115 - closed below
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield log
    finally:
        with contextlib.suppress(Exception):
            log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        log.close()


def read_log(path) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    if len(text) > LOG_LIMIT:
        text = f"[... the first {len(text) - LOG_LIMIT} characters are left out ...]\n" + text[-LOG_LIMIT:]
    return text
