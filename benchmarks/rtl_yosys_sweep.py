"""Issue #11: Yosys LUT/FF/DSP of the two RTL presets against the number of vertices V, with the Yosys run time.

    nice -n 10 python benchmarks/rtl_yosys_sweep.py [--presets garnet_rtl_v32 gravnet_rtl_v32]
                                                    [--vertices 16 32 64] [--redo]
    python benchmarks/rtl_yosys_sweep.py --plot

For each preset and V: the briefly trained model benchmarks/rtl_models/NAME-vV/model.keras
(benchmarks/rtl_train_presets.py), else the preset architecture at that V as initialised with
tf_keras.utils.set_random_seed(7) (resources depend on the weights through the constant-matrix adder graphs),
is converted with ``--backend RTL`` (forced past the fit check) and synthesized
by ``garnet-hls synth --tool yosys`` (synth_xilinx, UltraScale+, out of context, before place and route).
One JSON line per point is appended to benchmarks/rtl_yosys_results.jsonl: the exact pipeline depth and
interval, da4ml's LUT estimate (an estimate), Yosys' LUT/FF/CARRY/DSP/BRAM/MUXF, the Yosys wall time and peak
memory, which Yosys ran and the git commit. Points already measured at the same commit are skipped unless
--redo. ``--plot`` writes benchmarks/rtl_resources_vs_v.png and the table benchmarks/rtl_yosys_results.md.
Only one Yosys runs at a time (the points run one after the other).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PRESETS = ("garnet_rtl_v32", "gravnet_rtl_v32")
JSONL = HERE / "rtl_yosys_results.jsonl"
PNG = HERE / "rtl_resources_vs_v.png"
MD = HERE / "rtl_yosys_results.md"


def git_commit() -> str:
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "garnet_hls"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return c + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_point(name: str, V: int, workdir: Path, commit: str, yosys: bool = True) -> dict:
    import tf_keras as keras

    from garnet_hls.flows.convert import convert
    from garnet_hls.models.build import build_preset_model
    from garnet_hls.backends.rtl.yosys import run_yosys

    trained = HERE / "rtl_models" / f"{name}-v{V}" / "model.keras"
    if trained.is_file():  # briefly trained (benchmarks/rtl_train_presets.py)
        model = keras.models.load_model(trained)
        path, weights = trained, f"trained ({trained.relative_to(ROOT)})"
    else:
        keras.utils.set_random_seed(7)
        model = build_preset_model(name, n_vertices=V)
        path = workdir / f"{name}_v{V}.keras"
        model.save(path)
        weights = "seeded init (tf_keras seed 7)"
    t0 = time.time()
    prj = convert(path, None, workdir / f"{name}_v{V}", backend="RTL", force=True, model=model)
    convert_s = time.time() - t0
    meta = json.loads((prj / "garnet_project.json").read_text())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # other jobs slow the wall time
    if yosys:
        rep = run_yosys(prj)
    else:  # the traced design only: depth, DSP slices, da4ml's estimate
        rep = {"summary": {k: None for k in ("LUT", "FF", "CARRY", "DSP", "BRAM", "LUTRAM_SRL", "MUXF",
                                             "LUT_by_size")}, "seconds": None}
    s = rep["summary"]
    return {
        "preset": name, "V": V,
        "latency_cycles": meta["latency_cycles"], "interval": meta.get("interval_cycles", 1),
        "clock_ns": meta["clock_period_ns"], "da4ml_lut_estimate": round(meta["estimated_luts"]),
        "convert_s": round(convert_s, 1), "weights": weights, "dsp_slices_traced": meta.get("dsp_slices"),
        **{f"yosys_{k}": s[k] for k in ("LUT", "FF", "CARRY", "DSP", "BRAM", "LUTRAM_SRL", "MUXF")},
        "yosys_LUT_by_size": s["LUT_by_size"],
        "yosys_s": rep["seconds"], "yosys_cpu_s": rep.get("cpu_seconds"), "yosys_peak_rss_mb": rep.get("peak_rss_mb"),
        "load_avg_at_start": None if load is None else round(load, 2),
        "yosys_version": rep.get("yosys_version"), "yosys_binary": rep.get("yosys_binary"),
        "yosys_flow": rep.get("flow"),
        "commit": commit, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def has_yosys(r: dict) -> bool:
    return r.get("yosys_LUT") is not None


def sweep(presets, vertices, out: Path, redo=False, workdir=None, yosys=True) -> list[dict]:
    import garnet_hls  # noqa: F401  (sets up Keras 2 before TensorFlow loads)

    commit = git_commit()
    done = {(r["preset"], r["V"]) for r in load_rows(out) if r.get("commit") == commit and (has_yosys(r) or not yosys)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="rtl_yosys_sweep_") as tmp:
        wd = Path(workdir) if workdir else Path(tmp)
        wd.mkdir(parents=True, exist_ok=True)
        for V in vertices:
            for name in presets:
                if (name, V) in done and not redo:
                    print(f"{name} V={V}: already in {out.name} for commit {commit} (--redo to run again)")
                    continue
                print(f"{name} V={V}: converting{' and running Yosys' if yosys else ''} ...", flush=True)
                row = run_point(name, V, wd, commit, yosys=yosys)
                rows.append(row)
                print(json.dumps(row), flush=True)
                with open(out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    return rows


def latest(rows: list[dict]) -> dict[tuple[str, int], dict]:
    """The last row of each (preset, V), a row with Yosys figures before one without."""
    best: dict[tuple[str, int], dict] = {}
    for r in rows:
        key = (r["preset"], r["V"])
        if has_yosys(r) or key not in best or not has_yosys(best[key]):
            best[key] = r
    return best


def write_table(rows: list[dict], path: Path) -> str:
    pts = latest(rows)
    lines = [
        "# RTL presets: Yosys resources against V (issue #11)",
        "",
        "Generated by `python benchmarks/rtl_yosys_sweep.py --plot` from rtl_yosys_results.jsonl.",
        "Yosys `synth_xilinx -family xcup`, out of context, **before place and route** (not Vivado numbers).",
        "Latency and interval are exact (from the RTL); the DSP slices traced are the design's variable products;",
        "the da4ml LUT figure is da4ml's estimate. \"not run\": the point was converted, Yosys was not run on it.",
        "",
        "| preset | V | latency (cycles) | interval | DSP slices traced | da4ml LUT (estimate) | LUT | FF | CARRY "
        "| DSP | BRAM | MUXF | Yosys wall (s) | Yosys CPU (s) | peak RSS (MB) | Yosys | flow | weights | commit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]

    def n(v, fmt=","):
        return "-" if v is None else format(v, fmt)

    for (name, V), r in sorted(pts.items()):
        y = has_yosys(r)
        cells = " | ".join(n(r.get(f"yosys_{k}")) for k in ("LUT", "FF", "CARRY", "DSP", "BRAM", "MUXF")) if y else \
            " | ".join(["not run"] + ["-"] * 5)
        lines.append(
            f"| {name} | {V} | {r['latency_cycles']} | {r['interval']} | {n(r.get('dsp_slices_traced'))} "
            f"| {r['da4ml_lut_estimate']:,} | {cells} | {n(r.get('yosys_s'), ',.0f')} | {n(r.get('yosys_cpu_s'), ',.0f')} "
            f"| {n(r.get('yosys_peak_rss_mb'), ',.0f')} | {r.get('yosys_version') or '-'} "
            f"| {r.get('yosys_flow') or '-'} | {'trained' if str(r.get('weights', '')).startswith('trained') else 'seeded'} "
            f"| {r.get('commit', '-')} |")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def plot(rows: list[dict], path: Path) -> None:
    """Resources (Yosys where run; traced DSP slices and da4ml's LUT estimate at every V), pipeline depth
    and Yosys run time against V."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = latest(rows)
    fig, (ax, ax_d, ax_t) = plt.subplots(1, 3, figsize=(15, 4.4))
    styles = {"garnet_rtl_v32": "-", "gravnet_rtl_v32": "--"}
    targets = {"garnet_rtl_v32": 30, "gravnet_rtl_v32": 40}
    for name in PRESETS:
        rs = sorted((r for (n, _), r in pts.items() if n == name), key=lambda r: r["V"])
        if not rs:
            continue
        ls = styles[name]
        Vs = [r["V"] for r in rs]
        ys_rs = [r for r in rs if has_yosys(r)]
        for key, col, c in (("LUT", "yosys_LUT", "C0"), ("FF", "yosys_FF", "C1"), ("DSP", "yosys_DSP", "C2")):
            if ys_rs:
                ax.plot([r["V"] for r in ys_rs], [max(r[col], 0.5) for r in ys_rs], ls, marker="o", color=c,
                        label=f"{name} {key} (Yosys)")
        ax.plot(Vs, [r["da4ml_lut_estimate"] for r in rs], ls, marker="x", color="C7", alpha=0.7,
                label=f"{name} LUT (da4ml estimate)")
        dsp = [(r["V"], r.get("dsp_slices_traced")) for r in rs if r.get("dsp_slices_traced")]
        if dsp:
            ax.plot(*zip(*dsp), ls, marker="s", mfc="none", color="C2", alpha=0.6, label=f"{name} DSP (traced)")
        ax_d.plot(Vs, [r["latency_cycles"] for r in rs], ls, marker="o", color="C3" if "garnet" in name else "C4",
                  label=f"{name}")
        ax_d.axhline(targets[name], ls=ls, color="C3" if "garnet" in name else "C4", alpha=0.4, lw=1,
                     label=f"{name} target ({targets[name]} at V=32)")
        if ys_rs:
            ax_t.plot([r["V"] for r in ys_rs], [r["yosys_s"] / 60 for r in ys_rs], ls, marker="o", color="k",
                      label=name)
            for r in ys_rs:
                ax_t.annotate(f"{r['yosys_s'] / 60:.0f} min", (r["V"], r["yosys_s"] / 60), textcoords="offset points",
                              xytext=(4, 4), fontsize=8)
    all_v = sorted({V for _, V in pts})
    for a in (ax, ax_d, ax_t):
        a.set_xscale("log", base=2)
        a.set_xticks(all_v, [str(v) for v in all_v])
        a.set_xlim(min(all_v) / 1.5, max(all_v) * 1.5)
        a.set_xlabel("vertices V")
        a.grid(True, which="both", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("cells (Yosys synth_xilinx, before P&R)")
    ax.set_title("Resources")
    ax.legend(fontsize=6, ncol=1)
    ax_d.set_ylabel("pipeline depth (cycles at 5 ns), interval 1")
    ax_d.set_ylim(bottom=0)
    ax_d.set_title("Latency (exact, from the RTL)")
    ax_d.legend(fontsize=7)
    ax_t.set_ylabel("Yosys wall time (min)")
    ax_t.set_ylim(bottom=0)
    ax_t.set_title("Yosys run time (shared 2-core machine)")
    if ax_t.lines:
        ax_t.legend(fontsize=8)
    vers = sorted({r.get("yosys_version") for r in pts.values() if r.get("yosys_version")})
    fig.suptitle(f"garnet-hls RTL backend, UltraScale+ out of context; {', '.join(vers) or 'no Yosys run'}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--vertices", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--out", type=Path, default=JSONL, help="JSON lines file (appended)")
    ap.add_argument("--redo", action="store_true", help="run points already measured at this commit again")
    ap.add_argument("--workdir", type=Path, help="keep the projects here (default: a temporary directory)")
    ap.add_argument("--plot", action="store_true", help="only write the plot and the markdown table from --out")
    ap.add_argument("--no-yosys", action="store_true",
                    help="convert only: record depth, DSP slices and da4ml's estimate without running Yosys")
    args = ap.parse_args(argv)
    if not args.plot:
        sweep(args.presets, args.vertices, args.out, redo=args.redo, workdir=args.workdir, yosys=not args.no_yosys)
    rows = load_rows(args.out)
    if not rows:
        print(f"no points in {args.out}")
        return 1
    print(write_table(rows, MD if args.out == JSONL else args.out.with_suffix(".md")), end="")
    plot(rows, PNG if args.out == JSONL else args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
