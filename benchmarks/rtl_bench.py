"""RTL backend benchmark: pipeline depth, da4ml's cost estimate and (optionally) Yosys resources vs V.

    nice -n 10 python benchmarks/rtl_bench.py --vertices 16 32 64 [--yosys 16] [--gravnet]

For each V: the garnet_rtl_v32 preset architecture (3-block GarNet stack + dense head) at that V, weights as
initialised (seeded; resources depend on the weights only through the constant-matrix adder graphs), is
converted with ``--backend RTL`` (5 ns, da4ml latency cutoff 5). Printed: trace+write time, pipeline depth
in cycles (exact), interval (1), da4ml's LUT estimate (an estimate), and for the V listed after --yosys the
Yosys synth_xilinx cells (before place and route) with the Yosys run time. ``--gravnet`` adds a GravNet
model (V=32, k=8) for its pipeline depth and estimate.
Results are appended as JSON lines to benchmarks/rtl_results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import garnet_hls  # noqa: E402,F401  (sets up Keras 2 before TensorFlow loads)

HERE = Path(__file__).resolve().parent


def garnet_point(V, workdir, yosys=False):
    import tf_keras as keras

    from garnet_hls.flows.convert import convert
    from garnet_hls.models.build import build_preset_model

    keras.utils.set_random_seed(7)
    model = build_preset_model("garnet_rtl_v32", n_vertices=V)
    path = workdir / f"garnet_v{V}.keras"
    model.save(path)
    t0 = time.time()
    prj = convert(path, None, workdir / f"garnet_v{V}", backend="RTL", force=True, model=model)
    t1 = time.time()
    meta = json.loads((prj / "garnet_project.json").read_text())
    row = {"model": "garnet_rtl (3-block stack + dense)", "V": V, "convert_s": round(t1 - t0, 1),
           "latency_cycles": meta["latency_cycles"], "interval": 1, "clock_ns": meta["clock_period_ns"],
           "da4ml_lut_estimate": round(meta["estimated_luts"]), "reg_bits": meta.get("reg_bits")}
    if yosys:
        from garnet_hls.backends.rtl.yosys import run_yosys

        rep = run_yosys(prj)
        row.update({"yosys_s": rep["seconds"], **{f"yosys_{k}": v for k, v in rep["summary"].items()
                                                  if not isinstance(v, dict)},
                    "yosys_LUT_by_size": rep["summary"]["LUT_by_size"]})
    return row


def gravnet_point(V, k, cutoff=5.0):
    import tf_keras as keras

    from garnet_hls.models.build import build_gravnet_model
    from garnet_hls.backends.rtl.project import pipeline
    from garnet_hls.backends.rtl.model import trace_model

    keras.utils.set_random_seed(7)
    model = build_gravnet_model(n_vertices=V, n_features=4, blocks=1, n_dimensions=3, n_filters=(8,),
                                n_propagate=(4,), k=k, dense=(8,), quantized=True)
    t0 = time.time()
    rt = trace_model(model, latency_cutoff=cutoff)
    pipe = pipeline(rt, cutoff)
    return {"model": f"gravnet (1 block, S=3, P=4, k={k})", "V": V,
            "convert_s": round(time.time() - t0, 1), "latency_cycles": len(pipe.solutions), "interval": 1,
            "clock_ns": cutoff, "da4ml_lut_estimate": round(rt.comb.cost), "reg_bits": int(pipe.reg_bits)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vertices", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--yosys", type=int, nargs="*", default=[], help="run Yosys for these V")
    ap.add_argument("--gravnet", action="store_true")
    ap.add_argument("--out", default=str(HERE / "rtl_results.jsonl"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for V in args.vertices:
            rows.append(garnet_point(V, Path(d), yosys=V in args.yosys))
            print(json.dumps(rows[-1]), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
        if args.gravnet:
            rows.append(gravnet_point(32, 8))
            print(json.dumps(rows[-1]), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
