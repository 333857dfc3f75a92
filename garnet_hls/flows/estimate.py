"""``garnet-hls estimate PROJECT``: latency, interval and resources of a project without any vendor tool.

The project's backend gives the estimate (``registry.backend_of(project).estimate(project)``): the HLS
backends' is the structural estimator of ``garnet_hls.estimate`` (every number an ESTIMATE, not a synthesis
result); for an RTL project the command does not apply and says so in one line. ``--plot`` and ``--reuse``
add the estimator's reuse-factor sweep of the GarNet/GravNet layers.
"""

from __future__ import annotations

import json

from garnet_hls.backends import registry
from garnet_hls.errors import UserError
from garnet_hls.estimate import BANNER, _grid, format_estimate, plot_format, reuse_sweep, write_plot


def _parse_reuse_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--reuse takes comma-separated integers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise UserError(f"--reuse takes positive integers, got {text!r}")
    return sorted(set(values))


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "estimate", help="estimate latency and resources of a project without vendor tools (ESTIMATE, not synthesis)")
    p.add_argument("project", help="garnet-hls project directory (from garnet-hls convert)")
    p.add_argument("--json", metavar="FILE", help="also write the estimate as JSON (every key prefixed 'estimated_')")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write estimated latency and DSP vs reuse factor of the GarNet/GravNet layers")
    p.add_argument("--reuse", metavar="R1,R2,...",
                   help="reuse factors for the sweep (--plot and the printed sweep); default: every divisor of V")
    p.set_defaults(func=run_estimate)


def run_estimate(args) -> int:
    from garnet_hls.paths import check_output_file, write_output

    for opt in ("json", "plot"):
        if getattr(args, opt, None):
            check_output_file(getattr(args, opt), f"--{opt} output")
    if getattr(args, "plot", None):
        plot_format(args.plot)
    reuse_list = _parse_reuse_list(getattr(args, "reuse", None))
    est = registry.backend_of(args.project).estimate(args.project)  # an RTL project: one line, it does not apply
    print(format_estimate(est), end="")
    sweep = None
    if getattr(args, "plot", None):
        sweep = write_plot(args.project, args.plot, reuse_list)
        print(f"  wrote {args.plot} ({BANNER})")
    elif reuse_list:
        sweep = reuse_sweep(args.project, reuse_list)
    if sweep is not None:
        for d in sweep["estimated_layers"]:
            name = d["estimated_layer"]
            rows = [[str(r), str(l), str(dsp), str(lut)] for r, l, dsp, lut in zip(
                d["estimated_reuse_factors"], d["estimated_latency_cycles"], d["estimated_dsp"], d["estimated_lut"])]
            print(f"\n  {name}: reuse-factor sweep with the kernel loops kept (as under a DATAFLOW top), {BANNER}")
            print("\n".join(_grid(["R", "est. latency [cycles]", "est. DSP", "est. LUT"], rows)))
    if getattr(args, "json", None):
        data = est.to_json()
        if sweep is not None:
            data["estimated_reuse_sweep"] = sweep
        write_output(args.json, json.dumps(data, indent=2) + "\n", "--json output")
    return 0
