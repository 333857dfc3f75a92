"""``garnet-hls csim PROJECT --data EVENTS``: run a project's simulator on events.

The simulator is the project's backend's (``garnet_hls.backends.registry``): the C simulation compiled with
g++ for HLS projects (``--fast``: 64-bit integer containers), da4ml's emulator of the traced logic or the
Verilog itself in Verilator (``--verilator``) for RTL projects. An option that does not apply to the
project's backend is refused in one line.
"""

from __future__ import annotations

import time

import numpy as np

from garnet_hls.backends import registry
from garnet_hls.errors import UserError


def load_events(path) -> dict:
    from garnet_hls.physics.data import load_npz

    return load_npz(path)


def select_events(data: dict, n_events, path) -> dict:
    """The first ``n_events`` events of ``data`` (all when None); refuses an empty data set."""
    total = len(data["nvtx"])
    if n_events is not None:
        if isinstance(n_events, bool) or n_events < 1:
            raise UserError(f"--events must be >= 1, got {n_events}")
        data = {k: (v[:n_events] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == total else v)
                for k, v in data.items()}
    if total == 0:
        raise UserError(f"{path} holds no events")
    return data


def add_sim_options(p) -> None:
    """The simulator options every backend offers, each applying to its own backend's projects."""
    p.add_argument("--fast", action="store_true",
                   help="HLS projects: 64-bit integer containers instead of ap_int in our kernels (same results, "
                        "checked by the tests; the default runs exactly the synthesized code)")
    p.add_argument("--verilator", action="store_true",
                   help="RTL projects: run the generated Verilog in Verilator instead of da4ml's emulator")


def sim_options(args) -> dict:
    return {"fast": bool(getattr(args, "fast", False)), "verilator": bool(getattr(args, "verilator", False))}


def add_cli(subparsers):
    p = subparsers.add_parser("csim", help="run a project's simulation (C simulation, da4ml emulator or Verilator)",
                              description="Run a project's simulator on events from an .npz file: the C simulation "
                                          "(g++) of an HLS project, da4ml's emulator or Verilator for an RTL one.")
    p.add_argument("project", help="project directory written by garnet-hls convert")
    p.add_argument("--data", required=True, help="events (.npz, garnet-hls data schema)")
    p.add_argument("-o", "--output", help="write the outputs to this .npz")
    p.add_argument("-n", "--events", type=int, help="only the first N events")
    add_sim_options(p)
    p.set_defaults(func=run_csim)


def run_csim(args):
    from garnet_hls.paths import check_output_file, write_output

    backend = registry.backend_of(args.project)  # the project first: its problems are the likelier ones
    options = sim_options(args)
    backend.check_sim_options(options, args.project)
    if args.output:
        check_output_file(args.output, "output")
    data = select_events(load_events(args.data), args.events, args.data)
    t0 = time.time()
    sim = backend.simulator(args.project, verbose=True, **options)
    t1 = time.time()
    outputs, _ = sim.run(data, progress=True)
    t2 = time.time()
    n = len(next(iter(outputs.values())))
    print(f"{sim.name}: {n} events in {t2 - t1:.2f} s ({n / max(t2 - t1, 1e-9):,.0f} events/s; "
          f"build {t1 - t0:.1f} s)")
    if args.output:
        write_output(args.output, lambda f: np.savez(f, **outputs), "output", binary=True)
        print(f"wrote {args.output}: {', '.join(f'{k} {v.shape}' for k, v in outputs.items())}")
    return 0
