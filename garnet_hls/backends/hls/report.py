"""``garnet-hls report`` on an HLS project (or any hls4ml project, or a folder of report files): the
C-synthesis, co-simulation and Vivado reports, parsed by ``garnet_hls.toolchain.hls``."""

from __future__ import annotations

from garnet_hls.errors import UserError
from garnet_hls.toolchain.hls import load_report
from garnet_hls.toolchain.hls_format import format_table, write_html, write_json


def run_report(project, args) -> int:
    report = load_report(project)
    if getattr(args, "estimate", False):
        from garnet_hls import estimate
        from garnet_hls.estimate.report import format_comparison

        print(format_comparison(estimate.estimate_project(project), report.csynth), end="")
        if report.csynth is None:
            return 0
    if report.csynth is None and report.cosim is None and report.vsynth is None:
        looked = ", ".join(report.files.searched)
        raise UserError(
            f"no HLS reports found for {project}: looked for *_csynth.xml, *_csynth.rpt, csynth.xml, "
            f"*_cosim.rpt and vivado_synth.rpt in {looked}"
        )
    print(format_table(report), end="")
    if getattr(args, "json", None):
        write_json(report, args.json)
    if getattr(args, "html", None):
        write_html(report, args.html)
    return 0
