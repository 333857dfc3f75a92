"""The RTL backend (``rtl``): the model traced by da4ml into pipelined Verilog, as the registry sees it.

convert: ``garnet_hls.backends.rtl.project`` (trace: ``model``, one module per layer); simulate: da4ml's
bit-exact emulator of the traced logic, or the Verilog itself in Verilator (``sim``); synthesize: Yosys
``synth_xilinx`` (``yosys``); reports: our Yosys report and Vivado's own reports when the user ran Vivado
(``vivado``). ``estimate`` is the HLS estimator's and does not apply: the RTL schedule's latency and interval
are exact properties of the written design, in ``garnet_project.json``. ``trace`` / ``emulate``: the model's
da4ml trace and its emulator in memory, without writing a project (the fuzzer's RTL mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garnet_hls.backends.registry import Backend
from garnet_hls.errors import UserError


class RTLBackend(Backend):
    name = "rtl"
    family = "rtl"
    synth_tools = ("yosys",)
    sim_options = {"verilator": "run the generated Verilog in Verilator instead of da4ml's emulator"}

    def check_config(self, cfg: dict, model=None) -> None:
        from garnet_hls.backends.rtl.project import check_rtl_config

        check_rtl_config(cfg, model)

    def convert(self, model, cfg: dict, tmp_dir: Path, out_dir: Path, model_path=None, force: bool = False) -> dict:
        from garnet_hls.backends.rtl.project import check_rtl_config, reuse_factor, write_project

        check_rtl_config(cfg, model)
        if reuse_factor(cfg, model) > 1:  # the folded GarNet or GravNet (issue #18)
            from garnet_hls.backends.rtl.folded_rtl import write_folded_project

            return write_folded_project(model, cfg, tmp_dir, force=force, model_path=model_path)
        return write_project(model, cfg, tmp_dir, force=force, model_path=model_path)

    def summary(self, meta: dict) -> str:
        folded = f", folded: {meta['lanes']} lanes" if meta.get("folded") else ""
        return f"; {meta['latency_cycles']} cycles at {meta['clock_period_ns']} ns, interval {meta['interval_cycles']}" \
            + folded

    def simulator(self, project, verbose: bool = False, **options):
        from garnet_hls.backends.rtl.sim import RTLSim
        from garnet_hls.project import read_meta

        self.check_sim_options(options, project)
        if read_meta(project).get("folded"):
            from garnet_hls.backends.rtl.folded_rtl import FoldedSim

            return FoldedSim(project, verbose=verbose, verilator=bool(options.get("verilator")))
        return RTLSim(project, verbose=verbose, verilator=bool(options.get("verilator")))

    def check_synth_options(self, options: dict, project=None) -> None:
        used = [k for k, v in options.items() if v]
        if used:
            raise UserError(f"--{used[0]} does not apply: {project} is an rtl project (synthesized with yosys; "
                            "--csim/--cosim/--validation/--export/--vsynth/--reset are for HLS projects)")

    def synthesize(self, project, tool: str, **options) -> int:
        from garnet_hls.backends.rtl.yosys import format_report, run_yosys

        self.check_synth_options(options, project)
        print(format_report(run_yosys(project)), end="")
        return 0

    def check_tool(self, project, tool: str) -> None:
        from garnet_hls.backends.rtl.yosys import yosys_command
        from garnet_hls.errors import ToolNotFoundError

        try:
            yosys_command()
        except UserError as e:
            raise ToolNotFoundError(str(e)) from None

    def synth_point(self, project, tool: str, log) -> dict[str, Any]:
        from garnet_hls.backends.rtl.yosys import run_yosys

        rep = run_yosys(project, out=log)
        res = rep["summary"]
        return {"tool": rep["label"], "latency_cycles": rep["latency_cycles"],
                "interval_cycles": rep["interval_cycles"], "lut": res["LUT"], "ff": res["FF"],
                "dsp": res["DSP"], "bram_18k": res["BRAM"], "seconds": rep["seconds"]}

    def report(self, project, args) -> int:
        from garnet_hls.backends.rtl.report import run_report

        return run_report(project, args)

    def estimate(self, project):
        raise UserError(f"estimate is for HLS projects; {project} is an rtl project, whose latency and interval are "
                        "exact properties of its schedule: garnet-hls report shows them (and synth --tool yosys "
                        "its resources)")

    def trace(self, model, latency_cutoff: float = -1.0):
        """da4ml's trace of the model (``model.trace_model``), as ``convert`` builds it before writing Verilog."""
        from garnet_hls.backends.rtl.keras3 import trace_any_model

        return trace_any_model(model, latency_cutoff=latency_cutoff)

    def emulate(self, trace, data: dict) -> list:
        """da4ml's bit-exact emulator of the traced logic (the logic the Verilog is written from); for a
        :meth:`fold` plan, the folded schedule's emulator (each module's da4ml emulator, group by group)."""
        from garnet_hls.backends.rtl import folded, folding
        from garnet_hls.backends.rtl.model import emulate

        if isinstance(trace, folded.FoldedPlan):
            return folding.emulate(trace, data)
        return emulate(trace, data)

    def fold(self, model, lanes: int, latency_cutoff: float = -1.0):
        """The folded design of ``lanes`` lanes (``folding.plan``: GarNet/GarNetStack or chained GravNet
        blocks), as ``convert`` plans it for a ReuseFactor R = ceil(V / lanes)."""
        from garnet_hls.backends.rtl.folding import plan

        return plan(model, lanes, latency_cutoff=latency_cutoff)

    def write_folded(self, plan, path, data: dict | None = None) -> list | None:
        from garnet_hls.backends.rtl.folded_rtl import FoldedVerilator, write_folded

        if data is None:
            write_folded(plan, path)
            return None
        return FoldedVerilator(plan, path).run(data)[0]

    def output_lsbs(self, trace) -> list[float] | None:
        return [q[2] for q in trace.comb.out_qint] if trace.comb.out_qint else None

    def tool_versions(self, tool: str | None) -> dict[str, str]:
        from importlib import metadata

        versions = {}
        try:
            versions["da4ml"] = metadata.version("da4ml")
        except metadata.PackageNotFoundError:
            versions["da4ml"] = "absent"
        if tool == "yosys":
            from garnet_hls.backends.rtl.yosys import yosys_command, yosys_version

            try:
                versions["yosys"] = yosys_version(yosys_command())
            except UserError:
                versions["yosys"] = "absent"
        return versions
