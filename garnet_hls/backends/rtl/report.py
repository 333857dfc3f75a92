"""``garnet-hls report`` on an RTL project: our Yosys report (``synth --tool yosys``) and Vivado's own
reports (da4ml's ``build_vivado_prj.tcl``), each in its own labelled section."""

from __future__ import annotations

import json

from garnet_hls.errors import UserError
from garnet_hls.project import read_meta


def run_report(project, args) -> int:
    """An RTL project: our Yosys report (``synth --tool yosys``) and Vivado's own reports (da4ml's
    ``build_vivado_prj.tcl``), each in its own labelled section."""
    from garnet_hls.paths import write_output
    from garnet_hls.backends.rtl import vivado
    from garnet_hls.backends.rtl.yosys import format_report, load_report as load_yosys

    meta = read_meta(project)
    for opt in ("html", "estimate"):
        if getattr(args, opt, None):
            raise UserError(f"--{opt} is for hls4ml projects; {project} is an RTL project "
                            "(report prints its Yosys and Vivado reports)")
    yosys = load_yosys(project)
    viv = vivado.load_report(project, meta)
    if yosys is None and viv is None:
        name = meta["project_name"]
        raise UserError(f"no synthesis reports in {project}: run garnet-hls synth {project} --tool yosys, "
                        f"or Vivado (vivado -mode batch -source build_vivado_prj.tcl in the project), which writes "
                        f"output_{name}/reports/{name}_post_route_util.rpt and _timing.rpt")
    if yosys is not None:
        print(format_report(yosys), end="")
    if viv is not None:
        print(vivado.format_report(viv), end="")
    if getattr(args, "json", None):
        doc = {"backend": "rtl", "project_dir": str(project), "project_name": meta["project_name"],
               "yosys": yosys, "vivado": vivado.to_json(viv) if viv is not None else None}
        write_output(args.json, json.dumps(doc, indent=2) + "\n", "--json output")
    return 0
