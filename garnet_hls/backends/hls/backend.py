"""The HLS backends (``vivado``, ``vitis``): hls4ml with our C++ kernels, as the registry sees them.

convert: ``garnet_hls.backends.hls.convert``; simulate: the project's C simulation compiled with g++
(``garnet_hls.backends.hls.csim``); synthesize: Vivado HLS or Vitis HLS running the project's
``build_prj.tcl`` (``garnet_hls.toolchain.hls_build``); reports: the tools' csynth / cosim / Vivado
reports (``garnet_hls.toolchain``); estimate: ``garnet_hls.estimate``, without any vendor tool.
"""

from __future__ import annotations

from pathlib import Path

from garnet_hls.backends.registry import Backend
from garnet_hls.errors import UserError


class HLSBackend(Backend):
    family = "hls"
    synth_tools = ("hls",)
    sim_options = {"fast": "64-bit integer containers instead of ap_int in our kernels (same results, checked by "
                           "the tests; the default runs exactly the synthesized code)"}
    synth_options = ("csim", "cosim", "validation", "export", "vsynth", "reset")

    def __init__(self, hls4ml_name: str):
        self.hls4ml_name = hls4ml_name  # hls4ml's spelling: Vivado, Vitis
        self.name = hls4ml_name.lower()

    # -- conversion
    def check_config(self, cfg: dict, model=None) -> None:
        if model is not None and type(model).__module__.split(".")[0] == "keras":
            from garnet_hls.backends.hls.keras3 import check_config

            check_config(cfg, self.name)  # a Keras 3 model: its types come from its HGQ2 quantizers
        if "LatencyCutoff" in cfg:
            raise UserError(f"LatencyCutoff is for the rtl backend (pipeline stages); the {self.name} backend "
                            "pipelines by ReuseFactor: remove it")
        hls = cfg.get("HLSConfig") or {}
        named = hls.get("LayerName") or {}
        where = [f"HLSConfig.Model.{k}" for k in ("Multipliers", "DSPBudget") if k in (hls.get("Model") or {})]
        where += [f"HLSConfig.LayerName.{n}.Multipliers" for n, c in named.items()
                  if isinstance(c, dict) and "Multipliers" in c]
        if where:
            raise UserError(f"{where[0]} is for the rtl backend (how its Verilog builds products); the {self.name} "
                            "backend leaves multipliers to Vivado HLS: remove it")

    def convert(self, model, cfg: dict, tmp_dir: Path, out_dir: Path, model_path=None, force: bool = False) -> dict:
        from garnet_hls.backends.hls.convert import write_project

        meta = write_project(model, {**cfg, "Backend": self.hls4ml_name}, tmp_dir, out_dir, model_path)
        meta["backend"] = self.name
        return meta

    # -- simulation
    def simulator(self, project, verbose: bool = False, **options):
        from garnet_hls.backends.hls.csim import CSim

        self.check_sim_options(options, project)
        return CSim(project, verbose=verbose, fast=bool(options.get("fast")))

    # -- synthesis, reports, estimate
    def synthesize(self, project, tool: str, **options) -> int:
        from garnet_hls.toolchain.hls_build import SynthOptions, synth

        return synth(project, SynthOptions(**{k: bool(options.get(k)) for k in self.synth_options}))

    def report(self, project, args) -> int:
        from garnet_hls.backends.hls.report import run_report

        return run_report(project, args)

    def check_tool(self, project, tool: str) -> None:
        """ToolNotFoundError (one line) when the HLS tool is not there; changes nothing."""
        from garnet_hls.toolchain.hls_build import SynthOptions, plan_build

        plan_build(project, SynthOptions(synth=True))

    def synth_point(self, project, tool: str, log) -> dict:
        """C synthesis of one sweep point: the figures the sweep tabulates."""
        from garnet_hls.toolchain.hls import load_report
        from garnet_hls.toolchain.hls_build import SynthOptions, synth

        code = synth(project, SynthOptions(synth=True), out=log)
        if code != 0:
            raise UserError(f"C synthesis failed (exit code {code}); log in {Path(project) / 'synth.log'}")
        rep = load_report(project).csynth
        if rep is None:
            raise UserError(f"C synthesis finished but wrote no report in {project}")
        res = rep.resources
        return {"tool": f"{rep.tool} {rep.version or ''}".strip(), "latency_cycles": rep.latency_worst,
                "interval_cycles": rep.interval_max, "lut": res.get("LUT"), "ff": res.get("FF"),
                "dsp": res.get("DSP"), "bram_18k": res.get("BRAM_18K"),
                "available": {k.lower(): v for k, v in rep.available.items()}}

    def estimate(self, project):
        from garnet_hls import estimate

        return estimate.estimate_project(project)

    def estimate_summary(self, project) -> dict:
        """The estimate's totals for a sweep point (every key ``estimated_``)."""
        est = self.estimate(project)
        return {"estimated_part": est.part, "estimated_clock_ns": est.clock_ns, **est.to_json()["estimated_total"]}

    def tool_versions(self, tool: str | None) -> dict[str, str]:
        import os
        import shutil

        versions = {}
        if tool == "hls":
            from garnet_hls.toolchain.hls_build import ENV_VITIS_HLS, ENV_VITIS_RUN, ENV_VIVADO_HLS

            for var, exe in ((ENV_VIVADO_HLS, "vivado_hls"), (ENV_VITIS_RUN, "vitis-run"), (ENV_VITIS_HLS, "vitis_hls")):
                versions[exe] = shutil.which(os.environ.get(var) or exe) or "absent"
        return versions
