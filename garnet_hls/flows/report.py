"""``garnet-hls report PROJECT``: the synthesis reports of a project, by its backend.

HLS projects (and any hls4ml project, or a folder holding report files): the C-synthesis, co-simulation and
Vivado reports, with ``--estimate`` our estimate beside them. RTL projects: the Yosys report and Vivado's own
reports. ``--json`` / ``--html`` are checked before anything is read, and written atomically.
"""

from __future__ import annotations

from garnet_hls.backends import registry
from garnet_hls.paths import check_output_file
from garnet_hls.project import is_project


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("report", help="summarise the synthesis reports of a project (HLS, cosim, Vivado, Yosys)")
    p.add_argument("project", help="project directory (garnet-hls convert), any hls4ml project directory, or a "
                                   "directory holding report files")
    p.add_argument("--json", metavar="FILE", help="also write the parsed reports as JSON")
    p.add_argument("--html", metavar="FILE", help="HLS projects: also write a self-contained HTML page with plots")
    p.add_argument("--estimate", action="store_true",
                   help="HLS projects: print our estimate (garnet-hls estimate) beside the C-synthesis report")
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    for opt in ("json", "html"):
        if getattr(args, opt, None):
            check_output_file(getattr(args, opt), f"--{opt} output")
    if is_project(args.project):
        backend = registry.backend_of(args.project)
    else:  # an hls4ml project written elsewhere, or a folder of HLS report files
        backend = registry.get_backend(registry.DEFAULT)
    return backend.report(args.project, args)
