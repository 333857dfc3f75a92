"""da4ml's LUT estimate of a folded GravNet lane's gathers against Yosys' count (benchmarks/rtl_folded_gravnet.md).

    nice -n 10 python benchmarks/rtl_gravnet_gather_yosys.py [--vertices 128] [--out /tmp/gather]

The gathers of one query lane (``gravnet._gather``, the mux trees of the folded and the parallel GravNet): k=8
slots, each a row of P=16 features of 8 bits (-8 .. 7.9375) picked from V rows by the index bits of its key.
Traced by da4ml (combinational), written with da4ml's Verilog writer, synthesized with Yosys
``synth_xilinx -family xcup -flatten -noiopad`` (a Yosys >= 0.23 on PATH); prints da4ml's estimate and Yosys'
LUT and MUXF counts.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from pathlib import Path

import garnet_hls  # noqa: F401  (sets up Keras 2 before TensorFlow loads)


def main(argv=None):
    import numpy as np
    from da4ml.codegen import RTLModel
    from da4ml.trace import HWConfig

    from garnet_hls.backends.rtl import common as C
    from garnet_hls.backends.rtl import gravnet as GV

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vertices", type=int, default=128)
    ap.add_argument("--out", default="/tmp/gravnet_gather")
    a = ap.parse_args(argv)
    V, P, k = a.vertices, 16, 8
    hw = HWConfig(1, -1, -1.0)
    tr = C.da()
    F_all = tr.FixedVariableArray.from_lhs(np.full((V, P), -8.0), np.full((V, P), 7.9375), np.full((V, P), 0.0625),
                                           hwconf=hw)
    jb = max(1, int(np.ceil(np.log2(V))))
    keys = tr.FixedVariableArray.from_lhs(np.zeros(k), np.full(k, 2.0 ** (jb + 6) - 1), np.ones(k), hwconf=hw)
    rows = [list(F_all._vars[j]) for j in range(V)]
    out = [v for key in keys._vars for v in GV._gather(rows, key, jb)]
    comb = tr.comb_trace(np.concatenate([np.ravel(F_all._vars), np.ravel(keys._vars)]), np.array(out, dtype=object))
    path = Path(a.out)
    RTLModel(comb, "gather", path, flavor="verilog", latency_cutoff=-1).write()
    static = [f"src/static/{n}.v" for n in ("mux", "binop", "negative", "shift_adder")]
    (path / "synth.ys").write_text(f"read_verilog {' '.join(static)} src/gather.v\n"
                                   "synth_xilinx -family xcup -top gather -flatten -noiopad\nstat\n")
    t0 = time.perf_counter()
    subprocess.run(["yosys", "-q", "-s", "synth.ys", "-l", "yosys.log"], cwd=path, check=True,
                   stdout=subprocess.DEVNULL)
    log = (path / "yosys.log").read_text()
    cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(LUT\d|MUXF\d)\s+(\d+)$", log, re.M)}
    print(json.dumps({"V": V, "slots": k, "features": P, "feature_bits": 8, "da4ml_lut_estimate": float(comb.cost),
                      "yosys_lut": sum(v for c, v in cells.items() if c.startswith("LUT")), "yosys_cells": cells,
                      "yosys_seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
