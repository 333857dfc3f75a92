#!/usr/bin/env python3
"""Benchmark: a 12-point ``garnet-hls sweep`` on a 2-worker Dask LocalCluster vs the same points one after
the other in one process. Run by hand (or ``make bench``); it is a measurement, not a test.

The model is a small quantized GarNet (V=32, stack aggregators (2,4), filters (4,8), propagate (4,8), dense 8,
8-bit weights), the config ``xcku115`` at 5 ns. The 12 points are reuse factors 1, 2, 4, 8, 16, 32 x precision
``model`` and ``w6``; each point converts, builds the C simulation, compares it bit for bit with Keras on
``--events`` built-in calorimeter events, and runs the HLS estimate (``--synth none``).

Measured:

* ``sequential_s``: ``garnet_hls.flows.sweep.run_point`` on every point in this process, one after the other (the
  process has imported TensorFlow/hls4ml before the clock starts);
* ``distributed_s``: ``Sweep.run`` on a LocalCluster of 2 worker processes, 1 thread each, from the first
  submit to the last result written (the cluster's start and the workers' one-off import of
  TensorFlow/hls4ml, ``warmup_s``, are reported apart);
* ``ratio`` = sequential_s / distributed_s;
* per point, its wall time by stage and its CPU time (the process and its g++ children), in both modes;
* scheduling overhead per point, from the timestamps each point records: the time its worker sat idle
  before starting it (since the worker's previous point ended, or since submission) plus the time from
  its end on the worker to its result being written by the client; and, separately, the round trip of
  12 no-op tasks on the same cluster.

The machine's load average is recorded: the numbers are only comparable at similar load.

    .venv/bin/python benchmarks/sweep_bench.py [--events 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

CONFIG = ("Backend: Vivado\nPart: xcku115-flvb2104-2-i\nClockPeriod: 5\nIOType: io_parallel\n"
          "HLSConfig:\n  Model:\n    Precision: ap_fixed<16,6>\n    ReuseFactor: 1\n")
REUSE = [1, 2, 4, 8, 16, 32]
PRECISIONS = ["model", "w6"]


def build_model(path: Path):
    import numpy as np
    import tf_keras as keras

    from garnet_hls.models.build import build_garnet_model

    keras.utils.set_random_seed(3)
    m = build_garnet_model(n_vertices=32, aggregators=(2, 4), filters=(4, 8), propagate=(4, 8), dense=(8,),
                           quantized=True, weight_bits=8)
    rng = np.random.default_rng(1)
    for w in m.weights:
        if "bias" in w.name:
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape))
    m.save(path)


def _noop(i):
    return i


def overheads(points: list[dict], t_submit: float) -> list[float]:
    """Per point: idle time of its worker before it started + time from its end to the client's write."""
    out = []
    by_worker: dict[str, list[dict]] = {}
    for p in points:
        by_worker.setdefault(p["worker"], []).append(p)
    for ps in by_worker.values():
        ps.sort(key=lambda p: p["t_start"])
        prev_end = t_submit
        for p in ps:
            out.append(max(0.0, p["t_start"] - prev_end) + max(0.0, p["client_received"] - p["t_end"]))
            prev_end = p["t_end"]
    return out


def _stage_means(points: list[dict]) -> dict[str, float]:
    stages = sorted({k for p in points for k in p["stage_seconds"]})
    return {k: round(statistics.mean(p["stage_seconds"].get(k, 0.0) for p in points), 2) for k in stages}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--keep", help="keep the sweep directories here")
    args = ap.parse_args(argv)

    import garnet_hls  # noqa: F401
    from distributed import Client, LocalCluster

    from garnet_hls.flows import sweep as S

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    model, cfg = work / "small_v32.keras", work / "small_v32.yml"
    build_model(model)
    cfg.write_text(CONFIG)
    points = S.make_points(REUSE, PRECISIONS, ["hls"], "none")
    assert len(points) == 12
    load_before = os.getloadavg()

    # one after the other, in this (warmed-up) process
    seq = S.Sweep(model, cfg, work / "sequential", points, events=args.events)
    shared = {"model_bytes": seq.model_bytes, "model_suffix": model.suffix, "config": seq.config, "data": seq.data}
    S._warm()
    t0 = time.perf_counter()
    seq_results = []
    for key, p in zip(seq.keys, points):
        seq_results.append(S.run_point(shared, p, key, str(work / "sequential" / "projects" / key)))
        print(f"  sequential {S.point_label(p)}: {seq_results[-1]['status']} {seq_results[-1]['seconds']:.1f} s",
              flush=True)
    sequential_s = time.perf_counter() - t0

    # on a 2-worker LocalCluster
    t_cluster = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit=0, silence_logs=logging.ERROR)
    client = Client(cluster)
    cluster_start_s = time.perf_counter() - t_cluster
    try:
        t_warm = time.perf_counter()
        client.run(S._warm)
        warmup_s = time.perf_counter() - t_warm
        dist = S.Sweep(model, cfg, work / "distributed", points, events=args.events)
        t_submit = time.time()
        t1 = time.perf_counter()
        res = dist.run(client=client, progress=False, keep_projects=True)
        distributed_s = time.perf_counter() - t1
        # no-op round trip on the same cluster
        t2 = time.perf_counter()
        client.gather(client.map(_noop, range(12), pure=False))
        noop_s = time.perf_counter() - t2
    finally:
        client.close()
        cluster.close()
    load_after = os.getloadavg()

    ov = overheads(res["points"], t_submit)
    ok_seq = sum(r["status"] == "ok" for r in seq_results)
    ok_dist = sum(r["status"] == "ok" for r in res["points"])
    out = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "events": args.events, "points": len(points),
        "ok_points": {"sequential": ok_seq, "distributed": ok_dist},
        "bit_exact_points": sum(bool(r.get("bit_exact")) for r in res["points"]),
        "sequential_s": round(sequential_s, 2), "distributed_s": round(distributed_s, 2),
        "ratio": round(sequential_s / distributed_s, 2),
        "cluster_start_s": round(cluster_start_s, 2), "warmup_s": round(warmup_s, 2),
        "point_seconds_sequential_mean": round(statistics.mean(r["seconds"] for r in seq_results), 2),
        "point_seconds_distributed_mean": round(statistics.mean(r["seconds"] for r in res["points"]), 2),
        "point_cpu_seconds_sequential_mean": round(statistics.mean(r["cpu_seconds"] for r in seq_results), 2),
        "point_cpu_seconds_distributed_mean": round(statistics.mean(r["cpu_seconds"] for r in res["points"]), 2),
        "stage_seconds_sequential_mean": _stage_means(seq_results),
        "stage_seconds_distributed_mean": _stage_means(res["points"]),
        "overhead_per_point_s_mean": round(statistics.mean(ov), 3),
        "overhead_per_point_s_max": round(max(ov), 3),
        "noop_task_roundtrip_s_per_task": round(noop_s / 12, 4),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }
    (HERE / "sweep_results.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
