"""The folded RTL GravNet at the paper's sizes: its schedule and da4ml's estimates, through ``garnet-hls convert``.

    nice -n 10 python benchmarks/rtl_folded_gravnet.py [--sizes 128:64 64:32] [--clock 4] [--breakdown]

For each V:R: ``build_preset_model("gravnet_paper", n_vertices=V)`` with seeded random weights (tf_keras seed 7,
every weight drawn from N(0, 0.5) with numpy seed 7), saved, then ``garnet-hls convert MODEL --backend RTL
--reuse-factor R --clock-period CLOCK`` (L = V / R lanes; the latency cutoff is the clock period). Prints the
project's schedule (latency, interval, per-module pipeline depth), da4ml's LUT estimate (an estimate before
synthesis) and the DSP48E2 count, one JSON line per size. ``--breakdown``: da4ml's LUT estimate of one query
lane's parts (keys, top-k, gathers, aggregates) per block. No synthesis.

``--verilator-v32 N``: the ``gravnet_rtl_v32`` preset (tf_keras seed 7, biases uniform in [-0.5, 0.5], numpy seed
7) converted with ReuseFactor 16 (2 lanes) at its 5 ns default, then ``compare`` on N calorimeter events (a
quarter cut to a random nvtx) in the folded emulator and in Verilator, against the float64 Keras model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import garnet_hls  # noqa: F401  (sets up Keras 2 before TensorFlow loads)


def paper_model(V: int):
    import numpy as np
    import tf_keras as keras

    from garnet_hls.models.build import build_preset_model

    keras.utils.set_random_seed(7)
    model = build_preset_model("gravnet_paper", n_vertices=V)
    rng = np.random.default_rng(7)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape))
    return model


def convert(V: int, R: int, clock: float) -> dict:
    from garnet_hls.cli import main

    model = paper_model(V)
    with tempfile.TemporaryDirectory() as d:
        model.save(Path(d) / "m.keras")
        t0 = time.perf_counter()
        rc = main(["convert", str(Path(d) / "m.keras"), "--backend", "RTL", "--reuse-factor", str(R),
                   "--clock-period", str(clock), "-o", str(Path(d) / "prj")])
        seconds = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"convert failed for V={V} R={R}")
        meta = json.loads((Path(d) / "prj" / "garnet_project.json").read_text())
    return {"V": V, "R": R, "lanes": meta["lanes"], "clock_ns": clock, "latency_cycles": meta["latency_cycles"],
            "interval_cycles": meta["interval_cycles"], "depths": meta["folded_depths"],
            "lut_da4ml_estimate": round(meta["estimated_luts"]), "dsp48e2": meta["dsp_slices"],
            "convert_seconds": round(seconds, 1)}


def breakdown(V: int) -> list:
    """da4ml's LUT estimate of one query lane's parts, per block."""
    import numpy as np
    from da4ml.trace import FixedVariable, HWConfig

    from garnet_hls.backends.rtl import common as C
    from garnet_hls.backends.rtl import gravnet as GV

    model = paper_model(V)
    hw = HWConfig(1, -1, 4.0)
    trace = C.da()
    res = []
    for b, layer in enumerate(l for l in model.layers if type(l).__name__ == "GravNet"):
        T, S, P = layer.types, layer.n_dimensions, layer.n_propagate
        sq = C.input_array((S,), T["coordinate"], hw)
        S_all = C.input_array((V, S), T["coordinate"], hw)
        F_all = C.input_array((V, P), T["feature"], hw)
        cand, nvtx = C.integer_input((V,), 1, hw), C.integer_input((1,), V, hw)
        ins = np.concatenate([np.ravel(a._vars) for a in (sq, S_all, F_all, cand, nvtx)])

        def cost(outs):
            outs = [o for o in outs if isinstance(o, FixedVariable)]
            return float(trace.comb_trace(ins, np.array(outs, dtype=object)).cost)

        K = GV._Consts(layer)
        keys = [C.mux(cand._vars[j], GV.distance(layer, sq._vars, S_all._vars[j]) * K.scale + float(j), K.pad_key)
                for j in range(V)]
        sel = GV.top_k(keys, layer.n_neighbours, K.pad_key)
        f_rows = [list(F_all._vars[j]) for j in range(V)]
        gathered = [v for key in sel for v in GV._gather(f_rows, key, K.jbits)]
        slot_filled = [nvtx._vars[0] > (s + 1) for s in range(layer.n_neighbours)]
        mean, mx = GV.row_aggregates(layer, keys, f_rows, slot_filled, K, hw)
        c_keys, c_sel, c_all = cost(keys), cost(sel), cost(list(mean) + list(mx))
        c_gather = cost(list(sel) + gathered) - c_sel
        res.append({"block": b, "keys": round(c_keys), "top_k": round(c_sel - c_keys), "gathers": round(c_gather),
                    "weights_products_mean_max": round(c_all - c_sel - c_gather), "lane_aggregates": round(c_all)})
    return res


def verilator_v32(n_events: int) -> dict:
    import numpy as np
    import tf_keras as keras

    from garnet_hls.cli import main as cli
    from garnet_hls.flows.compare import compare
    from garnet_hls.models.build import build_preset_model
    from garnet_hls.physics.data import generate_calo

    keras.utils.set_random_seed(7)
    model = build_preset_model("gravnet_rtl_v32")
    rng = np.random.default_rng(7)
    for w in model.weights:
        if "bias" in w.name:
            w.assign(rng.uniform(-0.5, 0.5, w.shape))
    with tempfile.TemporaryDirectory() as d:
        model.save(Path(d) / "m.keras")
        if cli(["convert", str(Path(d) / "m.keras"), "--backend", "RTL", "--reuse-factor", "16", "-o",
                str(Path(d) / "prj")]) != 0:
            raise SystemExit("convert failed")
        meta = json.loads((Path(d) / "prj" / "garnet_project.json").read_text())
        data = generate_calo(n_events, n_vertices=32, seed=5)
        data["nvtx"][::4] = rng.integers(0, 33, (len(data["nvtx"][::4]), 1))
        res = {"preset": "gravnet_rtl_v32", "R": 16, "lanes": meta["lanes"], "events": n_events,
               "latency_cycles": meta["latency_cycles"], "interval_cycles": meta["interval_cycles"]}
        for sim in ("emulator", "verilator"):
            t0 = time.perf_counter()
            r = compare(model, Path(d) / "prj", data, verilator=sim == "verilator")
            res[sim] = {"bit_exact": r.bit_exact, "events": r.n_events, "seconds": round(time.perf_counter() - t0, 1)}
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["128:64", "64:32"], help="V:R pairs")
    ap.add_argument("--clock", type=float, default=4.0, help="clock period in ns (= the latency cutoff)")
    ap.add_argument("--breakdown", action="store_true", help="da4ml's LUT estimate of one query lane's parts")
    ap.add_argument("--verilator-v32", type=int, metavar="N", help="only the V=32 Verilator check on N events")
    a = ap.parse_args(argv)
    if a.verilator_v32:
        print(json.dumps(verilator_v32(a.verilator_v32)), flush=True)
        return 0
    for size in a.sizes:
        V, R = (int(v) for v in size.split(":"))
        print(json.dumps(convert(V, R, a.clock)), flush=True)
        if a.breakdown:
            print(json.dumps({"V": V, "lane_breakdown_lut_da4ml_estimate": breakdown(V)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
