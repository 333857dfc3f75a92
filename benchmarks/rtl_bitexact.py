"""Keras vs da4ml emulator vs Verilator on the RTL presets, bit for bit, through the command line.

    nice -n 10 python benchmarks/rtl_bitexact.py [--presets garnet_rtl_v32 gravnet_rtl_v32] [--events 10000]
                                                 [--no-verilator]

For each preset: the briefly trained model ``benchmarks/rtl_models/NAME-v32/model.keras``
(``benchmarks/rtl_train_presets.py``), or with ``--untrained`` the model of ``build_preset_model(NAME)``
(tf_keras seed 7, biases drawn uniformly in [-0.5, 0.5] so that no bias is 0); ``garnet-hls convert MODEL -c
configs/NAME.yml``;
``garnet-hls data calo -n EVENTS --vertices V`` (a quarter of the events then cut to a random nvtx in
0..V, so padding and small graphs are exercised); ``garnet-hls compare MODEL PRJ --data EV.npz`` (the
emulator of the traced logic) and the same with ``--verilator`` (the generated Verilog, compiled by
Verilator). Each run's output (the compare table) and wall time are appended as one JSON line to
``benchmarks/rtl_bitexact.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import garnet_hls  # noqa: E402,F401  (sets up Keras 2 before TensorFlow loads)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def cli(*args, cwd):
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "garnet_hls", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"garnet-hls {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout, time.time() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["garnet_rtl_v32", "gravnet_rtl_v32"])
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--no-verilator", action="store_true")
    ap.add_argument("--untrained", action="store_true", help="seeded initial weights instead of the trained models")
    ap.add_argument("--out", default=str(HERE / "rtl_bitexact.jsonl"))
    args = ap.parse_args(argv)

    import numpy as np
    import tf_keras as keras

    from garnet_hls.models.build import build_preset_model

    from garnet_hls.models.presets import config_path

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for name in args.presets:
            trained = HERE / "rtl_models" / f"{name}-v32" / "model.keras"
            if args.untrained:
                keras.utils.set_random_seed(7)
                model = build_preset_model(name)
                rng = np.random.default_rng(7)
                for w in model.weights:
                    if "bias" in w.name:
                        w.assign(rng.uniform(-0.5, 0.5, w.shape))
                mpath = d / f"{name}.keras"
                model.save(mpath)
                weights = "seeded init, random biases"
            else:
                if not trained.is_file():
                    raise SystemExit(f"{trained} is missing: run benchmarks/rtl_train_presets.py (or use --untrained)")
                model = keras.models.load_model(trained)
                mpath = trained
                weights = f"trained ({trained.relative_to(ROOT)})"
            V = int(model.inputs[0].shape[1])
            _, t_conv = cli("convert", mpath, "-c", config_path(name), "-o", d / name, cwd=d)
            meta = json.loads((d / name / "garnet_project.json").read_text())
            ev = d / f"ev{V}.npz"
            if not ev.exists():
                cli("data", "calo", "-n", args.events, "--vertices", V, "-o", ev, cwd=d)
                data = dict(np.load(ev))
                nv = data["nvtx"].copy()
                cut = np.random.default_rng(11).integers(0, V + 1, len(nv[::4]))
                nv[::4, 0] = np.minimum(nv[::4, 0], cut)
                data["nvtx"] = nv
                np.savez(ev, **data)
            runs = [("emulator", [])] + ([] if args.no_verilator else [("verilator", ["--verilator"])])
            for label, extra in runs:
                out, t = cli("compare", mpath, d / name, "--data", ev, *extra, cwd=d)
                row = {"preset": name, "V": V, "events": args.events, "sim": label, "wall_s": round(t, 1),
                       "convert_s": round(t_conv, 1), "latency_cycles": meta["latency_cycles"], "weights": weights,
                       "commit": commit, "date": time.strftime("%Y-%m-%d"), "compare_output": out.strip()}
                print(f"{name} {label}: {t:.0f} s\n{out.strip()}\n", flush=True)
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
