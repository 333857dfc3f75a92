"""``garnet-hls data {calo,circles}``: generate a built-in data set and save it as .npz.

The generators and the .npz format are the library's (``garnet_hls.physics.data``); this is their command.
"""

from __future__ import annotations

import time

import numpy as np

from garnet_hls.physics.data import CALO_PARTICLES, _check_positive_int, generate_calo, generate_circles, save_npz


def _summary(data, path, seconds):
    n = data["label"].shape[0]
    names = ("electron", "pion") if data["kind"] == "calo" else ("noise", "circle")
    balance = ", ".join(f"{name} {int(np.sum(data['label'] == i))}" for i, name in enumerate(names))
    rate = n / seconds if seconds > 0 else float("inf")
    return f"wrote {n} {data['kind']} events to {path} ({rate:,.0f} events/s; {balance})"


def _run_calo(args):
    from garnet_hls.paths import check_output_file

    check_output_file(args.output)
    n = _check_positive_int("--events", args.events)
    v = _check_positive_int("--vertices", args.vertices)
    particles = CALO_PARTICLES if args.particles == "both" else (args.particles,)
    t0 = time.perf_counter()
    data = generate_calo(n, n_vertices=v, seed=args.seed, particles=particles)
    seconds = time.perf_counter() - t0
    save_npz(args.output, data)
    print(_summary(data, args.output, seconds))
    return 0


def _run_circles(args):
    from garnet_hls.paths import check_output_file

    check_output_file(args.output)
    n = _check_positive_int("--events", args.events)
    t0 = time.perf_counter()
    data = generate_circles(n, seed=args.seed)
    seconds = time.perf_counter() - t0
    save_npz(args.output, data)
    print(_summary(data, args.output, seconds))
    return 0


def add_cli(subparsers):
    """Add the ``data`` sub-command (with ``calo`` and ``circles``) to an argparse subparsers object."""
    data_p = subparsers.add_parser("data", help="generate a built-in data set (.npz)",
                                   description="Generate a built-in data set and save it as .npz.")
    kinds = data_p.add_subparsers(dest="data_kind", metavar="{calo,circles}")
    kinds.required = True

    calo = kinds.add_parser("calo", help="single electrons/pions in a synthetic sampling calorimeter")
    calo.add_argument("-n", "--events", type=int, default=10000, help="number of events (default 10000)")
    calo.add_argument("-o", "--output", required=True, help="output .npz file")
    calo.add_argument("--vertices", type=int, default=128, help="hit slots per event (default 128)")
    calo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    calo.add_argument("--particles", choices=("electron", "pion", "both"), default="both",
                      help="particle types (default both, balanced)")
    calo.set_defaults(func=_run_calo)

    circ = kinds.add_parser("circles", help="circles-vs-noise point clouds from 64x64 images")
    circ.add_argument("-n", "--events", type=int, default=10000, help="number of events (default 10000)")
    circ.add_argument("-o", "--output", required=True, help="output .npz file")
    circ.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    circ.set_defaults(func=_run_circles)
    return data_p
