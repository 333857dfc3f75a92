"""The README's physics comparison table from the metrics.json of `garnet-hls train` runs.

    nice -n 10 garnet-hls train --model garnet  --float     --max-epochs 60 -o runs/garnet-float
    nice -n 10 garnet-hls train --model garnet  --quantized --max-epochs 60 -o runs/garnet-q8
    nice -n 10 garnet-hls train --model gravnet --float     --max-epochs 30 -o runs/gravnet-float
    nice -n 10 garnet-hls train --model gravnet --quantized --max-epochs 30 -o runs/gravnet-q8
    python benchmarks/physics_table.py runs/garnet-float runs/garnet-q8 runs/gravnet-float runs/gravnet-q8

(the caps the README's table was measured with; ~10-20 minutes each on a loaded 2-core machine). The
four runs' metrics.json are kept in benchmarks/physics/. ``garnet_hls.physics.train.remeasure(RUN)`` re-evaluates
a run with the current evaluation code.

Every figure is read from the runs' metrics.json (validation events); the baseline rows are printed once
per distinct validation set (runs with the same events, seed and split share them).
"""

from __future__ import annotations

import json
import os
import sys


def _f(v, fmt=".3f"):
    return "-" if v is None else format(v, fmt)


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def _energy_cells(energy, curves):
    cells = []
    for cls in ("electron", "pion"):
        st = energy[cls]
        fit = (curves or {}).get(cls, {}).get("fit") if curves else None
        cells += [_f(st["resolution"]), _f(st["response"]), _pct(st["tail_fraction"]),
                  f"{fit['a']:.2f}/√E ⊕ {fit['b']:.3f}" if fit else "-"]
    return cells


def table(run_dirs):
    header = ["", "AUC", "π mis-id at 95% e eff.", "e σ/E (core)", "e response", "e tails", "e fit",
              "π σ/E (core)", "π response", "π tails", "π fit", "epochs (best / run)", "train s"]
    rows, seen = [], {}
    for d in run_dirs:
        with open(os.path.join(d, "metrics.json")) as fh:
            m = json.load(fh)
        name = f"{m['kind']} {'q' + str(m['weight_bits']) if m['quantized'] else 'float'}"
        tr = m.get("training", {})
        stop = ("early stop" if tr.get("stopped_early") else "cap") if tr.get("mode") == "converge" else "fixed"
        rows.append([name, _f(m["auc"], ".4f"), _f(m.get("pion_misid_at_e95"), ".4f"),
                     *_energy_cells(m["energy"], m.get("resolution_vs_energy")),
                     f"{tr.get('best_epoch', '-')} / {m['epochs']} ({stop})", f"{m['train_seconds']:.0f}"])
        key = (m["n_events"], m["n_val"], m["seed"], m["data"])
        if m.get("baselines") and key not in seen:
            seen[key] = (m["baselines"], f"{m['n_val']} validation events of {m['n_events']}")
    for base, where in seen.values():
        sh = base["shower_shape"]
        rows.append([f"shower-shape likelihood ({' + '.join(sh['variables'])}); {where}", _f(sh["auc"], ".4f"),
                     _f(sh["pion_misid_at_e95"], ".4f")] + ["-"] * 8 + ["-", "-"])
        for key, label in (("inclusive", "calibrated sum, inclusive"), ("per_class", "calibrated sum, per class")):
            b = base["energy_sum"][key]
            rows.append([f"{label}; {where}", "-", "-", *_energy_cells(b["energy"], b["resolution_vs_energy"]),
                         "-", "-"])
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(table(sys.argv[1:]))
