"""``garnet-hls synth PROJECT``: synthesize a project with its backend's tool.

HLS projects (``vivado``/``vitis``): Vivado HLS or Vitis HLS runs the project's ``build_prj.tcl``
(``garnet_hls.toolchain.hls_build``). RTL projects: Yosys ``synth_xilinx`` (``--tool yosys``, the default
for them). The backend is the project's (its ``garnet_project.json``, or hls4ml's files for an hls4ml
project written elsewhere); a tool or flag that does not apply to it is refused in one line.
"""

from __future__ import annotations

from garnet_hls.backends import registry

HLS_FLAGS = ("csim", "cosim", "validation", "export", "vsynth", "reset")


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("synth", help="synthesize a project: Vivado/Vitis HLS (HLS projects) or Yosys (RTL)",
                              description="Synthesize a project with its backend's tool: Vivado HLS / Vitis HLS for "
                                          "an HLS project (C synthesis and more), Yosys synth_xilinx for an RTL one.")
    p.add_argument("project", help="project directory (garnet-hls convert), or any hls4ml project directory")
    p.add_argument("--tool", help="hls (= vivado = vitis: the HLS project's own tool) or yosys (RTL projects); "
                                  "default: the project's")
    p.add_argument("--csim", action="store_true", help="HLS: run C simulation first")
    p.add_argument("--cosim", action="store_true", help="HLS: run C/RTL co-simulation after synthesis")
    p.add_argument("--validation", action="store_true", help="HLS: compare C simulation and co-simulation outputs")
    p.add_argument("--export", action="store_true", help="HLS: export the design as an IP catalog core")
    p.add_argument("--vsynth", action="store_true", help="HLS: run Vivado logic synthesis (needs vivado on PATH)")
    p.add_argument("--reset", action="store_true", help="HLS: reset the HLS project and solution")
    p.set_defaults(func=run_synth)


def run_synth(args) -> int:
    backend = registry.backend_of(args.project, hls4ml_projects=True)
    tool = backend.resolve_tool(args.tool, args.project)
    options = {k: bool(getattr(args, k, False)) for k in HLS_FLAGS}
    return backend.synthesize(args.project, tool, **options)
