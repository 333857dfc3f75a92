"""HGQ2 per-weight widths against uniform 8-bit QKeras weights: `garnet_rtl_v32` at V=32 in Yosys (issue #20).

    nice -n 5 python benchmarks/hgq_vs_qkeras.py [--beta0 1e-6 2e-7] [--control] [--workdir runs/hgq_vs_qkeras] [--no-yosys]

For the QKeras model and for one HGQ2 model per ``--beta0`` (all on the same built-in calorimeter data, each
trained to convergence: early stopping on the validation loss, best weights restored), with the command line a
user would type:

    garnet-hls train --preset garnet_rtl_v32 --vertices 32 -n 40000 --seed 0 [--keras 3 --beta0 B] -o W/NAME
    garnet-hls convert W/NAME/model.keras --backend rtl -o W/NAME_rtl
    garnet-hls synth W/NAME_rtl --tool yosys          # native Yosys 0.23: about 40 min, 7 GB each
    garnet-hls report W/NAME_rtl --json W/NAME_rtl/report.json

A step whose output exists in ``--workdir`` is not run again (the Yosys runs are long: the script resumes).
Writes ``benchmarks/hgq_vs_qkeras.md`` and ``.json``: physics (AUC, energy resolution), EBOPs, what the
trained widths are (per layer: mean bits of a weight, weights at 0 bits), the trace's breakdown (da4ml's
estimate) and Yosys's LUT / FF / CARRY / DSP, each against the QKeras model, and the issue's target (LUT and DSP
at least 30 % lower at an AUC within 0.005 and energy resolutions within 5 %).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PRESET, V, EVENTS, SEED = "garnet_rtl_v32", 32, 40000, 0


def _cli(*args, keras3=False):
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    cmd = [sys.executable, "-m", "garnet_hls", *map(str, args)]
    t0 = time.time()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return time.time() - t0


def run_model(work: Path, name: str, keras: int, beta0: float | None, yosys: bool) -> dict:
    run, prj = work / name, work / f"{name}_rtl"
    k3 = ([] if keras == 2 else ["--keras", "3"]) + ([] if beta0 is None else ["--beta0", beta0])
    steps = {}
    if not (run / "metrics.json").is_file():
        print(f"{name}: training ...", flush=True)
        steps["train_s"] = _cli("train", "--preset", PRESET, "--vertices", V, "-n", EVENTS, "--seed", SEED, *k3,
                                "-o", run, "-q", "--force")
    if not (prj / "garnet_project.json").is_file():
        print(f"{name}: converting ...", flush=True)
        steps["convert_s"] = _cli("convert", run / "model.keras", "--backend", "rtl", "-o", prj, "--force")
    if yosys and not (prj / "synth" / "yosys_report.json").is_file():
        print(f"{name}: Yosys ...", flush=True)
        steps["synth_s"] = _cli("synth", prj, "--tool", "yosys")
    _cli("report", prj, "--json", prj / "report.json")
    m = json.loads((run / "metrics.json").read_text())
    rep = json.loads((prj / "report.json").read_text())
    e = m["energy"]
    row = {
        "name": name, "keras": keras, "beta0": beta0,
        "command": f"garnet-hls train --preset {PRESET} --vertices {V} -n {EVENTS} --seed {SEED} " + " ".join(map(str, k3)),
        "auc": m["auc"], "res_electron": e["electron"]["resolution"], "res_pion": e["pion"]["resolution"],
        "best_epoch": m["training"].get("best_epoch"), "stopped_early": m["training"].get("stopped_early"),
        "ebops": m.get("ebops"), "latency": rep["schedule"]["latency_cycles"],
        "da4ml_lut_estimate": round(rep["schedule"]["estimated_luts"]), "dsp_traced": rep["schedule"]["dsp_slices"],
        "breakdown": {k: v["lut_estimate"] for k, v in (rep.get("breakdown") or {}).items()},
        "yosys": None, **steps,
    }
    y = rep.get("yosys")
    if y is not None:
        s = y["summary"]
        row["yosys"] = {k: s.get(k) for k in ("LUT", "FF", "CARRY", "DSP", "BRAM", "MUXF")}
        row["yosys"].update(seconds=y.get("seconds"), cpu_seconds=y.get("cpu_seconds"),
                            peak_rss_mb=y.get("peak_rss_mb"), version=y.get("yosys_version"))
    if keras == 3:
        row["widths"] = widths(run / "model.keras")
    return row


def widths(model_file: Path) -> dict:
    """Per layer: mean trained bits of a weight (k + i + f, HGQ2's own count; 0 bits = the weight is pruned)
    and the fraction of weights at 0 bits, over every kernel and bias."""
    import numpy as np

    import garnet_hls.keras3  # noqa: F401  -- Keras 3 before TensorFlow
    import keras
    from garnet_hls.keras3.common import QGraphLayer

    model = keras.models.load_model(model_file)
    out = {}
    for layer in model.layers:
        pairs = []  # (quantizer, the shape of the weight it quantizes): a fixed width is one value for all
        if isinstance(layer, QGraphLayer):
            shapes = {w.path.split("/")[-1]: tuple(w.shape) for w in layer.weights}
            pairs = [(layer.site_quantizer(s), shapes[s]) for s, p in layer.sites().items() if p in ("kernel", "bias")]
        elif hasattr(layer, "kq"):
            pairs = [(layer.kq, tuple(layer.kernel.shape))]
            if getattr(layer, "bias", None) is not None and getattr(layer, "bq", None) is not None:
                pairs.append((layer.bq, tuple(layer.bias.shape)))
        bits = []
        for q, shape in pairs:
            if q is None:
                continue
            k, i, f = (np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64) for v in q.quantizer.kif)
            b = np.maximum(k + i + f, 0)
            bits.append(np.ravel(np.broadcast_to(b.reshape(b.shape[-len(shape):] if b.ndim > len(shape) else b.shape),
                                                  shape)))
        if bits:
            b = np.concatenate(bits)
            out[layer.name] = {"weights": int(b.size), "mean_bits": round(float(b.mean()), 2),
                               "zero_bits": round(float(np.mean(b == 0)), 3), "max_bits": int(b.max())}
    return out


def _label(r) -> str:
    if r["keras"] == 2:
        return "QKeras 8-bit"
    return "HGQ2 fixed 8-bit (control)" if r["beta0"] is None else f"HGQ2 beta0 {r['beta0']:g}"


def _pct(new, old):
    return None if new is None or old in (None, 0) else 100.0 * (new - old) / old


def write(rows: list, path: Path) -> None:
    base = rows[0]
    betas = " ".join(format(r["beta0"], "g") for r in rows if r["beta0"] is not None)
    control = " --control" if any(r["keras"] == 3 and r["beta0"] is None for r in rows) else ""
    synthesized = [format(r["beta0"], "g") for r in rows if r["beta0"] is not None and r["yosys"]]
    if len(synthesized) < betas.count(" ") + 1 and betas:
        control += f" --yosys-beta0 {' '.join(synthesized)}"
    lines = [
        "# HGQ2 per-weight widths against uniform 8-bit QKeras: `garnet_rtl_v32` at V=32 (issue #20)", "",
        f"`nice -n 5 python benchmarks/hgq_vs_qkeras.py --beta0 {betas}{control}` "
        f"({time.strftime('%Y-%m-%d', time.gmtime())}; rows in `hgq_vs_qkeras.json`). Each model: "
        "the command in its row, trained to convergence on the same built-in events (40,000; validation 8,000), "
        "`convert --backend rtl` (fully parallel, 5 ns), `synth --tool yosys` (Yosys `synth_xilinx -family "
        "xcup`, before place and route). The da4ml figures are ESTIMATES.", "",
        "| model | AUC | electron res. | pion res. | best epoch | EBOPs | cycles | da4ml LUT est. | Yosys LUT | FF | "
        "CARRY | DSP |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        y = r["yosys"] or {}

        def vs(key, src=None):
            v, b = ((src or r).get(key), ((base["yosys"] or {}) if src is not None else base).get(key))
            if v is None:
                return "not run"
            p = _pct(v, b) if r is not base else None
            return f"{v:,}" + (f" ({p:+.1f}%)" if p is not None else "")
        ebops = "-" if r["ebops"] is None else f"{r['ebops']:,.0f}"
        name = _label(r)
        lines.append(f"| {name} | {r['auc']:.4f} | {r['res_electron']:.3f} | {r['res_pion']:.3f} | "
                     f"{r['best_epoch']} | {ebops} | {r['latency']} | "
                     f"{vs('da4ml_lut_estimate')} | {vs('LUT', y)} | {vs('FF', y)} | {vs('CARRY', y)} | "
                     f"{vs('DSP', y)} |")
    lines += ["", "Where the logic goes (the trace's breakdown, da4ml's LUT estimate; `garnet-hls report`):", "",
              "| implements | " + " | ".join(_label(r) for r in rows) + " |", "|---|" + "---|" * len(rows)]
    kinds = sorted({k for r in rows for k in r["breakdown"]}, key=lambda k: -base["breakdown"].get(k, 0))
    for k in kinds:
        lines.append(f"| {k} | " + " | ".join(f"{r['breakdown'].get(k, 0):,}" for r in rows) + " |")
    for r in rows[1:]:
        lines += ["", f"Weight widths, {_label(r)} (per layer, kernels and biases; QKeras: 8 bits each):", "", "| layer | weights | mean bits | at 0 bits | max bits |", "|---|---|---|---|---|"]
        for lname, w in r["widths"].items():
            lines.append(f"| {lname} | {w['weights']} | {w['mean_bits']} | {100 * w['zero_bits']:.1f}% | "
                         f"{w['max_bits']} |")
    lines += ["", "Target (issue #20): Yosys LUT and DSP at least 30 % lower than QKeras, AUC within 0.005, energy "
              "resolutions within 5 %:", ""]
    for r in rows[1:]:
        if r["beta0"] is None:
            continue
        y, by = r["yosys"] or {}, base["yosys"] or {}
        lut, dsp = _pct(y.get("LUT"), by.get("LUT")), _pct(y.get("DSP"), by.get("DSP"))
        dauc = r["auc"] - base["auc"]
        de = _pct(r["res_electron"], base["res_electron"])
        dp = _pct(r["res_pion"], base["res_pion"])
        fmt = (lambda p: "not run" if p is None else f"{p:+.1f}%")
        lines.append(f"- beta0 {r['beta0']}: LUT {fmt(lut)}, DSP {fmt(dsp)}; AUC {dauc:+.4f}, electron resolution "
                     f"{de:+.1f}%, pion {dp:+.1f}%.")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beta0", type=float, nargs="+", default=[1e-6])
    ap.add_argument("--workdir", type=Path, default=ROOT / "runs" / "hgq_vs_qkeras")
    ap.add_argument("--no-yosys", action="store_true", help="train, convert and trace only")
    ap.add_argument("--yosys-beta0", type=float, nargs="+", default=None, metavar="B",
                    help="run Yosys on the HGQ2 models of these beta0 only (default: all)")
    ap.add_argument("--control", action="store_true",
                    help="also the Keras 3 model with fixed 8-bit HGQ2 weights (no --beta0; no Yosys): what the "
                         "front end alone does to the physics")
    ap.add_argument("-o", "--output", type=Path, default=HERE / "hgq_vs_qkeras.md")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = [run_model(args.workdir, "qkeras", 2, None, not args.no_yosys)]
    if args.control:
        rows.append(run_model(args.workdir, "hgq2_fixed", 3, None, False))
    for b in args.beta0:
        yosys = not args.no_yosys and (args.yosys_beta0 is None or b in args.yosys_beta0)
        rows.append(run_model(args.workdir, f"hgq2_b{b:g}", 3, b, yosys))
    args.output.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    write(rows, args.output)
    print(args.output.read_text())


if __name__ == "__main__":
    main()
