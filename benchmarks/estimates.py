#!/usr/bin/env python3
"""Benchmark: ESTIMATED latency, interval, LUT and DSP of the paper models against the reuse factor R.

Run by ``make bench`` (after ``run.py``) or by hand. Every number here is an ESTIMATE of
``garnet-hls estimate`` (garnet_hls.estimate, docs/estimate.md), not a synthesis result: no vendor tool
is installed where these figures are made.

Cases (issue #9's anchors):

* ``garnet_paper`` (configs/garnet_paper.yml: V=128, stack [4,4,8]/[8,8,16]/[8,8,16], xcku115, 5 ns,
  DATAFLOW top), R over the divisors of V. Anchor: hls4ml's GarNet of the paper (arXiv:2008.03601):
  "less than 1 us" (< 200 cycles at 5 ns) at R = 32.
* ``gravnet_paper`` (configs/gravnet_paper.yml: V=128, two GravNet layers, k=8) at the anchor's settings:
  Alveo U55C (xcu55c-fsvh2892-2L-e), 4 ns; R (the same on both layers) over the divisors of V. Anchors:
  the hls4ml GravNet extension (FPL 2026 artifact, morunner/hls4ml-gravnet): 1 lane (R = 128) 1,081
  cycles / interval 121; 2 lanes (R = 64) 629 / 63.
* ``garnet_v32_latency``: the paper stack at V = 32 with ``Strategy: Latency``, ReuseFactor 1 and a
  PIPELINE top (hls4ml ``PipelineStyle: pipeline``): fully unrolled, interval 1.

The models are the presets as initialised (weights do not change the estimate except through hls4ml's
count of non-zero Dense weights). Output: ``estimates.png``, ``estimates.json`` and a section of
``results.md`` between the markers below (rewritten on every run; ``run.py`` rewrites the rest).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

BEGIN = "<!-- garnet-hls estimates: begin (benchmarks/estimates.py) -->"
END = "<!-- garnet-hls estimates: end -->"
U55C = "xcu55c-fsvh2892-2L-e"
DEVICES = {"xcku115": dict(lut=663360, dsp=5520), "xcu55c": dict(lut=1303680, dsp=9024)}

# the anchors of issue #9 (cycles); None: not given
ANCHORS = {
    "garnet_paper": [dict(label="hls4ml GarNet (arXiv:2008.03601): < 1 us = < 200 cycles", R=32, latency=200,
                          interval=None, upper_bound=True)],
    "gravnet_paper": [dict(label="hls4ml GravNet, 1 lane (FPL 2026)", R=128, latency=1081, interval=121),
                      dict(label="hls4ml GravNet, 2 lanes (FPL 2026)", R=64, latency=629, interval=63)],
}
TARGETS = {  # issue #9: (R, latency <=, interval <=)
    "garnet_paper": [(32, 160, 40)],
    "gravnet_paper": [(64, 300, 64), (128, 450, 128)],
    "garnet_v32_latency": [(1, 30, 1)],
}


def _set_yaml(path: Path, key: str, value) -> None:
    text = path.read_text()
    text, n = re.subn(rf"^{key}:.*$", f"{key}: {value}", text, flags=re.M)
    if not n:
        text = f"{key}: {value}\n" + text
    path.write_text(text)


def convert_preset(name: str, work: Path, n_vertices: int | None = None, config: dict | None = None) -> Path:
    import garnet_hls  # noqa: F401  (Keras 2 before TensorFlow)
    import tf_keras as keras
    import yaml

    from garnet_hls.flows.convert import convert
    from garnet_hls.models.build import build_model
    from garnet_hls.models.presets import config_path, preset

    keras.utils.set_random_seed(7)
    kw = preset(name)
    kind = kw.pop("kind")
    if n_vertices:
        kw["n_vertices"] = n_vertices
    model = build_model(kind, **kw)
    d = work / (name if not n_vertices else f"{name}_v{n_vertices}")
    d.mkdir(parents=True, exist_ok=True)
    model.save(d / "model.keras")
    cfg_file = config_path(name)
    if config is not None:
        cfg = yaml.safe_load(cfg_file.read_text())
        cfg.pop("OutputDir", None)
        cfg["HLSConfig"] = config
        cfg_file = d / "config.yml"
        cfg_file.write_text(yaml.safe_dump(cfg))
    return convert(d / "model.keras", cfg_file, d / "prj", force=True)


def sweep(prj: Path, layers: list[str] | None = None) -> list[dict]:
    from garnet_hls import estimate as E

    est0 = E.estimate_project(prj)
    kernels = [l for l in est0.layers if l.kernel]
    V = next(iter(E.load_project(prj).structs.values())).consts.get("n_vertices", 128)
    rows = []
    for r in E.divisors(V):
        est = E.estimate_project(prj, reuse={l.name: r for l in kernels})
        rows.append(dict(R=r, latency=est.latency, interval=est.interval, lut=est.lut, dsp=est.dsp, ff=est.ff,
                         bram_18k=est.bram_18k, latency_ns=round(est.latency * est.clock_ns, 1)))
    return rows


def one(prj: Path) -> dict:
    from garnet_hls import estimate as E

    est = E.estimate_project(prj)
    return dict(R=1, latency=est.latency, interval=est.interval, lut=est.lut, dsp=est.dsp, ff=est.ff,
                bram_18k=est.bram_18k, latency_ns=round(est.latency * est.clock_ns, 1),
                stack_latency=next(l.latency for l in est.layers if l.kernel))


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["garnet_paper", "gravnet_paper"]
    fig, axes = plt.subplots(2, 4, figsize=(17, 7.5))
    for row, name in enumerate(names):
        res = results[name]
        rs = [x["R"] for x in res["sweep"]]
        dev = DEVICES[res["device"]]
        for col, (key, label) in enumerate((("latency", "est. latency [cycles]"), ("interval", "est. interval [cycles]"),
                                            ("lut", "est. LUT"), ("dsp", "est. DSP"))):
            ax = axes[row][col]
            ax.plot(rs, [x[key] for x in res["sweep"]], "o-", label=f"{name} (estimate)")
            for a in ANCHORS.get(name, []):
                v = a.get(key)
                if v is not None:
                    ax.plot([a["R"]], [v], "v" if a.get("upper_bound") else "*", ms=12, color="C3",
                            label=a["label"])
            for r, lat, ii in TARGETS.get(name, []):
                v = {"latency": lat, "interval": ii}.get(key)
                if v is not None:
                    ax.plot([r], [v], "_", ms=22, mew=2, color="C2", label=f"target (issue #9) at R={r}")
            if key in ("lut", "dsp"):
                ax.axhline(dev[key], ls="--", color="gray", label=f"{res['device']}: {dev[key]:,}")
                if key == "lut":
                    ax.axhline(0.4 * dev[key], ls=":", color="C2", label="40 % of the device")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("reuse factor R (clocks per vertex pass)")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=6)
        axes[row][0].set_title(f"{name}: {res['setting']}", fontsize=8, loc="left")
    fig.suptitle("ESTIMATE — not a synthesis result (garnet-hls estimate, docs/estimate.md)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(results: dict) -> str:
    g, v, l32 = results["garnet_paper"], results["gravnet_paper"], results["garnet_v32_latency"]

    def at(res, r):
        return next(x for x in res["sweep"] if x["R"] == r)

    def pct(x, dev, key):
        return f"{100 * x / DEVICES[dev][key]:.0f} %"

    lines = [BEGIN, "", "## Estimated latency and resources against R (ESTIMATE — not a synthesis result)", "",
             "Written by `benchmarks/estimates.py` (`make bench`) from `garnet-hls estimate` on the presets as "
             "generated; plot: `estimates.png`. No vendor tool ran: these are the structural estimates of "
             "docs/estimate.md (uncalibrated for our kernels and for UltraScale).", "",
             "| design | setting | est. latency [cycles] | est. interval | est. LUT | est. DSP | anchor | target (issue #9) |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    a = at(g, 32)
    lines.append(f"| garnet_paper, R=32 | {g['setting']} | {a['latency']} ({a['latency_ns']:g} ns) | {a['interval']} | "
                 f"{a['lut']:,} ({pct(a['lut'], g['device'], 'lut')}) | {a['dsp']:,} | < 200 (< 1 us), hls4ml GarNet | "
                 "<= 160, interval <= 40, LUT <= 40 % |")
    for r, anchor in ((64, "629 / 63 (2 lanes)"), (128, "1,081 / 121 (1 lane)")):
        a = at(v, r)
        tgt = "<= 300, interval <= 64" if r == 64 else "<= 450, interval <= 128"
        lines.append(f"| gravnet_paper, R={r} | {v['setting']} | {a['latency']} ({a['latency_ns']:g} ns) | "
                     f"{a['interval']} | {a['lut']:,} ({pct(a['lut'], v['device'], 'lut')}) | {a['dsp']:,} | "
                     f"{anchor}, hls4ml GravNet | {tgt} |")
    lines.append(f"| garnet stack V=32, Strategy Latency | {l32['setting']} | {l32['latency']} (stack {l32['stack_latency']}) "
                 f"| {l32['interval']} | {l32['lut']:,} ({pct(l32['lut'], 'xcku115', 'lut')}) | {l32['dsp']:,} | - | "
                 "stack <= 30, interval 1 |")
    lines += ["", "Sweep over R (estimates):", "",
              "| design | R | est. latency | est. interval | est. LUT | est. DSP |", "|---|---:|---:|---:|---:|---:|"]
    for name in ("garnet_paper", "gravnet_paper"):
        for x in results[name]["sweep"]:
            lines.append(f"| {name} | {x['R']} | {x['latency']} | {x['interval']} | {x['lut']:,} | {x['dsp']:,} |")
    lines += ["", END, ""]
    return "\n".join(lines)


def write_section(md: Path, section: str) -> None:
    text = md.read_text() if md.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=str(HERE), help="where estimates.png/json and results.md go")
    args = ap.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="garnet-est-"))
    try:
        results = {}
        prj = convert_preset("garnet_paper", work)
        results["garnet_paper"] = dict(setting="xcku115, 5 ns, DATAFLOW top", device="xcku115", sweep=sweep(prj))
        prj = convert_preset("gravnet_paper", work)
        _set_yaml(prj / "hls4ml_config.yml", "Part", U55C)
        _set_yaml(prj / "hls4ml_config.yml", "ClockPeriod", 4)
        results["gravnet_paper"] = dict(setting="U55C, 4 ns, DATAFLOW top", device="xcu55c", sweep=sweep(prj))
        cfg = {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": 1, "Strategy": "Latency",
                         "PipelineStyle": "pipeline"}}
        prj = convert_preset("garnet_paper", work, n_vertices=32, config=cfg)
        results["garnet_v32_latency"] = dict(setting="V=32, R=1, xcku115, 5 ns, PIPELINE top", **one(prj))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "estimates.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, out / "estimates.png")
    section = markdown(results)
    write_section(out / "results.md", section)
    print(section)
    print(f"wrote {out / 'estimates.png'}, {out / 'estimates.json'} and the estimates section of {out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
