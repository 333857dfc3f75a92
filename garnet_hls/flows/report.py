"""``garnet-hls report PROJECT``: the synthesis reports of a project, by its backend.

HLS projects (and any hls4ml project, or a folder holding report files): the C-synthesis, co-simulation and
Vivado reports, with ``--estimate`` our estimate beside them. RTL projects: the schedule, the Yosys report and
Vivado's own reports, with ``--vs-hls HLS_PROJECT`` the HLS estimate of the same model beside the schedule. ``--json`` / ``--html`` are checked before anything is read, and written atomically.
"""

from __future__ import annotations

from garnet_hls.backends import registry
from garnet_hls.errors import UserError
from garnet_hls.paths import check_output_file
from garnet_hls.project import is_project, read_meta


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("report", help="summarise the synthesis reports of a project (HLS, cosim, Vivado, Yosys)")
    p.add_argument("project", help="project directory (garnet-hls convert), any hls4ml project directory, or a "
                                   "directory holding report files")
    p.add_argument("--json", metavar="FILE", help="also write the parsed reports as JSON")
    p.add_argument("--html", metavar="FILE", help="HLS projects: also write a self-contained HTML page with plots")
    p.add_argument("--estimate", action="store_true",
                   help="HLS projects: print our estimate (garnet-hls estimate) beside the C-synthesis report")
    p.add_argument("--vs-hls", metavar="HLS_PROJECT",
                   help="RTL projects: put the schedule beside garnet-hls estimate's figures of an HLS project of "
                        "the same model and ReuseFactor, region by region, and say where and why they differ")
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    for opt in ("json", "html"):
        if getattr(args, opt, None):
            check_output_file(getattr(args, opt), f"--{opt} output")
    if is_project(args.project):
        backend = registry.backend_of(args.project)
    else:  # an hls4ml project written elsewhere, or a folder of HLS report files
        backend = registry.get_backend(registry.DEFAULT)
    args.hls_estimate = None
    if getattr(args, "vs_hls", None):
        if backend.name != "rtl":
            raise UserError(f"--vs-hls is for RTL projects; {args.project} is not one (use --estimate)")
        if not is_project(args.vs_hls) or registry.backend_of(args.vs_hls).name == "rtl":
            raise UserError(f"--vs-hls takes an HLS project (garnet-hls convert --backend vivado|vitis); "
                            f"{args.vs_hls} is not one")
        args.hls_estimate = registry.backend_of(args.vs_hls).estimate(args.vs_hls).to_json()
        args.hls_meta = read_meta(args.vs_hls)
    return backend.report(args.project, args)
