"""Train the RTL presets briefly at V = 16, 32, 64 on the built-in calorimeter data.

    nice -n 10 python benchmarks/rtl_train_presets.py [--vertices 16 32 64] [--presets ...]

Runs ``garnet-hls train --preset NAME --vertices V -n EVENTS --epochs EPOCHS --seed 0`` per point and keeps
the trained model and its metrics in ``benchmarks/rtl_models/NAME-vV/`` (``model.keras``,
``metrics.json``): the models that ``benchmarks/rtl_bitexact.py`` and ``benchmarks/rtl_yosys_sweep.py``
measure (resources depend on the weights through the constant-matrix adder graphs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (events, epochs) per preset: brief, a minute or a few on 2 cores
BRIEF = {"garnet_rtl_v32": (40000, 8), "gravnet_rtl_v32": (12000, 5)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=list(BRIEF))
    ap.add_argument("--vertices", type=int, nargs="+", default=[16, 32, 64])
    args = ap.parse_args(argv)
    for name in args.presets:
        n, epochs = BRIEF[name]
        for V in args.vertices:
            dest = HERE / "rtl_models" / f"{name}-v{V}"
            with tempfile.TemporaryDirectory() as d:
                t0 = time.time()
                cmd = [sys.executable, "-m", "garnet_hls", "train", "--preset", name, "--vertices", str(V), "-n",
                       str(n), "--epochs", str(epochs), "--seed", "0", "-o", f"{d}/run", "-q"]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(f"{d}/run/model.keras", dest / "model.keras")
                m = json.loads(Path(f"{d}/run/metrics.json").read_text())
                m["command"] = "garnet-hls " + " ".join(cmd[3:-3] + ["-q"])
                (dest / "metrics.json").write_text(json.dumps(m, indent=2))
                print(f"{name} V={V}: {time.time() - t0:.0f} s\n{r.stdout.strip()}", flush=True)


if __name__ == "__main__":
    main()
