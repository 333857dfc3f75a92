"""Train a GarNet or GravNet model (garnet_hls.models.build) on calorimeter data: electron/pion + energy.

:func:`train` fits the two-output model with Adam on

    loss = BCE_from_logits(class_logit, label) + ENERGY_LOSS_WEIGHT * MSE(energy, E_true / ENERGY_SCALE)

in one of two modes:

* to convergence (the default of ``garnet-hls train``): :data:`CONVERGE_SETTINGS`; the learning rate is
  halved when the validation loss has not improved for ``LR_PATIENCE`` epochs (ReduceLROnPlateau), and
  training stops when it has not improved (by more than :data:`ES_MIN_DELTA`) for ``patience`` epochs or
  after ``max_epochs``; the weights of the best epoch are restored (EarlyStopping, restore_best_weights);
* a fixed number of epochs with a cosine-decayed learning rate (``epochs=N``, and the demo's
  time-boxed :data:`DEMO_SETTINGS` with ``demo=True``).

It then evaluates the model on the held-out validation events, beside simple baselines computed on the
same events (:mod:`garnet_hls.physics.metrics`: a calibrated energy sum, per class and inclusive, and a
shower-shape likelihood for e/pi), and writes into ``output_dir``:

* ``model.keras``   the trained model (loads with ``tf_keras.models.load_model`` after ``import garnet_hls``,
  no ``custom_objects``);
* ``metrics.json``  AUC, accuracy, energy response and core resolution (per class and in bins of true
  energy, with tail fractions and an a/sqrt(E) (+) b fit), the baselines, losses, timing (see
  :func:`evaluate` and :func:`baselines`);
* ``roc.png``, ``energy_response.png``, ``resolution.png``, ``loss.png``.

In the convergence mode the validation events both stop the training and measure it; choosing one epoch
out of a few dozen on a smooth loss biases the figures very little, but they are not from a third,
untouched set.

The output directory is first written as a hidden temporary sibling and renamed at the end, so an
interrupted run leaves nothing half-written. An existing non-empty ``output_dir`` is refused unless
``force=True``.

The command line is ``garnet-hls train`` (:mod:`garnet_hls.flows.train`). Without ``data`` it trains on freshly
generated built-in calorimeter events (:func:`garnet_hls.physics.data.generate_calo`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

from garnet_hls import paths
from garnet_hls.physics import metrics as physics
from garnet_hls.errors import UserError
from garnet_hls.models.presets import ENERGY_SCALE, KINDS

#: Demo-size training per model kind (``demo=True``): events generated, epochs, batch size, peak learning
#: rate. A GarNet training takes about a minute on two CPU cores.
DEMO_SETTINGS = {
    "garnet": dict(n_events=20000, epochs=10, batch_size=128, learning_rate=5e-3),
    "gravnet": dict(n_events=10000, epochs=5, batch_size=128, learning_rate=5e-3),
}

#: Training to convergence (the default): events generated, epoch cap, batch size, initial learning rate,
#: early-stopping patience (epochs without a lower validation loss).
CONVERGE_SETTINGS = {
    "garnet": dict(n_events=40000, max_epochs=100, batch_size=128, learning_rate=3e-3, patience=8),
    "gravnet": dict(n_events=12000, max_epochs=100, batch_size=128, learning_rate=3e-3, patience=5),
}

#: ReduceLROnPlateau in the convergence mode: halve the learning rate after this many epochs without
#: improvement, down to the initial rate / LR_MIN_DIVISOR.
LR_PATIENCE = 3
LR_FACTOR = 0.5
LR_MIN_DIVISOR = 64.0
#: EarlyStopping counts an epoch as better only if it lowers the validation loss by more than this; the
#: restored weights are those of the last such epoch (``training.best_epoch`` in metrics.json).
ES_MIN_DELTA = 1e-4

#: Weight of the energy MSE (on E / ENERGY_SCALE) relative to the classification cross entropy.
ENERGY_LOSS_WEIGHT = 10.0

CLASS_NAMES = ("electron", "pion")
PLOTS = ("roc.png", "energy_response.png", "resolution.png", "loss.png")


# ---------------------------------------------------------------------------------------------
# metrics (plain numpy)
# ---------------------------------------------------------------------------------------------
def roc_auc(label, score):
    """Area under the ROC curve of ``score`` for ``label`` (1 = positive), ties counted half.

    Mann-Whitney U with average ranks. NaN when one class is absent.
    """
    label = np.asarray(label).reshape(-1).astype(bool)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    n_pos = int(label.sum())
    n_neg = label.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(s.size, dtype=np.float64)
    # average rank (1-based) for each run of equal scores
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[label].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(label, score):
    """(false positive rate, true positive rate) arrays, one point per distinct threshold, from (0, 0)."""
    label = np.asarray(label).reshape(-1).astype(bool)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    order = np.argsort(-score, kind="mergesort")
    s, lab = score[order], label[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]  # last index of each threshold group
    tp = np.cumsum(lab)[last]
    fp = np.cumsum(~lab)[last]
    tpr = np.r_[0.0, tp / max(int(lab.sum()), 1)]
    fpr = np.r_[0.0, fp / max(int((~lab).sum()), 1)]
    return fpr, tpr


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free


def _energy_block(ratio, label, e_true):
    """response_stats per class and for all events, and the per-class resolution curves."""
    out = {"all": physics.response_stats(ratio)}
    curves = {}
    for c, name in enumerate(CLASS_NAMES):
        sel = label == c
        out[name] = physics.response_stats(ratio[sel])
        curves[name] = physics.resolution_curve(ratio[sel], e_true[sel])
    return out, curves


def evaluate(logit, energy_pred, label, energy_true):
    """Classification and energy metrics from the model outputs.

    ``logit`` (N,) the class logit (pion positive), ``energy_pred`` (N,) in units of ENERGY_SCALE,
    ``label`` (N,) 0 electron / 1 pion, ``energy_true`` (N,) in GeV.

    Returns ``auc``, ``accuracy``, ``pion_misid_at_e95`` (pions kept by a cut on the logit that keeps 95 %
    of the electrons), ``energy`` -- :func:`garnet_hls.physics.metrics.response_stats` of ``E_pred / E_true`` for
    electrons, pions and all events (``response`` = Gaussian-core mean, ``resolution`` = core sigma /
    response, ``tail_fraction`` beyond 3 core sigmas, ``mean``/``std`` tails included) -- and
    ``resolution_vs_energy``: per class, the same in bins of true energy with the a/sqrt(E) (+) b fit.
    """
    logit = np.asarray(logit, dtype=np.float64).reshape(-1)
    label = np.asarray(label).reshape(-1).astype(np.int64)
    e_pred = np.asarray(energy_pred, dtype=np.float64).reshape(-1) * ENERGY_SCALE
    e_true = np.asarray(energy_true, dtype=np.float64).reshape(-1)
    energy, curves = _energy_block(e_pred / e_true, label, e_true)
    return {
        "auc": roc_auc(label, logit),
        "accuracy": float(np.mean((sigmoid(logit) >= 0.5) == (label == 1))) if label.size else float("nan"),
        "pion_misid_at_e95": physics.misid_at_efficiency(label, logit, 0.95),
        "energy": energy,
        "resolution_vs_energy": curves,
    }


#: Shower-shape variables of the likelihood baseline.
SHAPE_VARIABLES = ("depth", "width")


def baselines(train_set, eval_set):
    """The simple methods the network is judged against, fitted on ``train_set`` and measured on
    ``eval_set`` (dicts with ``features``, ``nvtx``, ``label``, ``energy``; calorimeter hit features).

    * ``energy_sum``: the visible energy (sum of the hit energies) calibrated with
      :class:`garnet_hls.physics.metrics.SumCalibration`, ``inclusive`` (one curve) and ``per_class`` (the true
      class's curve). Each has ``energy`` and ``resolution_vs_energy`` as in :func:`evaluate`, and the
      fitted ``calibration`` points.
    * ``shower_shape``: :class:`garnet_hls.physics.metrics.ShapeLikelihood` of SHAPE_VARIABLES: ``auc``,
      ``accuracy`` (score > 0 = pion), ``pion_misid_at_e95``, and ``single_variable_auc`` of depth, width
      and hit count (each oriented so that the AUC is >= 0.5, i.e. either side of a cut).

    Returns ``(metrics, arrays)``: the dict above and the baselines' per-event outputs on ``eval_set``
    (``energy_sum_inclusive``, ``energy_sum_per_class`` in GeV, ``shape_score``); ``(None, None)`` when
    the features are not calorimeter hits (F < 4).
    """
    if np.asarray(train_set["features"]).shape[-1] < 4:
        return None, None
    out = {}
    s_tr = physics.energy_sum(train_set["features"], train_set["nvtx"])
    s_ev = physics.energy_sum(eval_set["features"], eval_set["nvtx"])
    lab_tr = np.asarray(train_set["label"]).reshape(-1)
    lab_ev = np.asarray(eval_set["label"]).reshape(-1)
    e_tr = np.asarray(train_set["energy"], dtype=np.float64).reshape(-1)
    e_ev = np.asarray(eval_set["energy"], dtype=np.float64).reshape(-1)
    inclusive, per_class, cals = physics.calibrated_sums(s_tr, e_tr, lab_tr, s_ev, lab_ev)
    out["energy_sum"] = {
        "method": "sum of hit energies; inverted piecewise-linear response curve (median visible energy in "
                  "10 bins of true energy), fitted on the training events",
        "visible_response": physics.response_stats(s_ev / e_ev),
    }
    for key, e_cal, curve in (("inclusive", inclusive, {"all": cals["inclusive"]}),
                              ("per_class", per_class, {CLASS_NAMES[c]: cals[c] for c in (0, 1) if c in cals})):
        energy, curves = _energy_block(e_cal / e_ev, lab_ev, e_ev)
        out["energy_sum"][key] = {"energy": energy, "resolution_vs_energy": curves, "calibration": curve}

    sh_tr = physics.shower_shapes(train_set["features"], train_set["nvtx"])
    sh_ev = physics.shower_shapes(eval_set["features"], eval_set["nvtx"])
    lik = physics.ShapeLikelihood().fit(sh_tr[SHAPE_VARIABLES[0]], sh_tr[SHAPE_VARIABLES[1]], lab_tr)
    score = lik.score(sh_ev[SHAPE_VARIABLES[0]], sh_ev[SHAPE_VARIABLES[1]])
    single = {}
    for name, values in sh_ev.items():
        a = roc_auc(lab_ev, values)
        single[name] = max(a, 1.0 - a) if np.isfinite(a) else a
    out["shower_shape"] = {
        "method": f"2-D histogram likelihood ratio of {' and '.join(SHAPE_VARIABLES)} (12 x 12 quantile bins), "
                  "fitted on the training events",
        "variables": list(SHAPE_VARIABLES),
        "auc": roc_auc(lab_ev, score),
        "accuracy": float(np.mean((score > 0) == (lab_ev == 1))) if lab_ev.size else float("nan"),
        "pion_misid_at_e95": physics.misid_at_efficiency(lab_ev, score, 0.95),
        "single_variable_auc": single,
    }
    return out, {"energy_sum_inclusive": inclusive, "energy_sum_per_class": per_class, "shape_score": score}


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, title=""):
    """Title (if any), lay out, write and close a figure of the training plots."""
    plt = _pyplot()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_roc(path, label, logit, auc, title="", baseline=None):
    """ROC of the network; ``baseline`` = (name, score, auc) adds the baseline's curve."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    fpr, tpr = roc_curve(label, logit)
    ax.plot(fpr, tpr, lw=1.5, label=f"network, AUC = {auc:.4f}")
    if baseline is not None:
        name, score, b_auc = baseline
        fpr, tpr = roc_curve(label, score)
        ax.plot(fpr, tpr, lw=1.2, ls="--", color="tab:grey", label=f"{name}, AUC = {b_auc:.4f}")
    n_neg = int(np.sum(np.asarray(label).reshape(-1) == 0))
    lo = max(0.5 / max(n_neg, 1), 1e-4)  # log scale: the region that matters at AUC ~ 0.99
    xs = np.geomspace(lo, 1.0, 50)
    ax.plot(xs, xs, ls=":", color="grey", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("electrons taken as pions (false positive rate)")
    ax.set_ylabel("pions identified (true positive rate)")
    ax.set_xlim(lo, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title or "ROC, pion vs electron")
    ax.legend(loc="lower right", fontsize="small")
    _save(fig, path)


def plot_energy(path, label, e_pred_gev, e_true_gev, metrics, title="", baseline=None):
    """Predicted vs true energy and the E_pred/E_true distributions; ``baseline`` = (name, e_gev, energy
    metrics) adds the baseline's distributions (dashed)."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.5))
    colors = ("tab:blue", "tab:orange")
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASS_NAMES):
        sel = np.flatnonzero(label == c)
        if sel.size > 3000:
            sel = rng.choice(sel, 3000, replace=False)
        ax1.scatter(e_true_gev[sel], e_pred_gev[sel], s=3, alpha=0.35, color=colors[c], label=name, rasterized=True)
    if e_true_gev.size:
        lo, hi = float(e_true_gev.min()), float(e_true_gev.max())
        ax1.plot([lo, hi], [lo, hi], color="k", lw=1, ls="--")
    ax1.set_xlabel("true energy [GeV]")
    ax1.set_ylabel("predicted energy [GeV]")
    ax1.legend(markerscale=4, loc="upper left")
    ratio = e_pred_gev / e_true_gev
    finite = ratio[np.isfinite(ratio)]
    lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 2.0))
    lo, hi = min(lo, 0.5), max(hi, 1.5)
    bins = np.linspace(lo, hi, 70)

    def fmt(st):
        return (f"resp {st['response']:.3f}, core \u03c3 {st['core_sigma']:.3f}, tails {100 * st['tail_fraction']:.1f}%"
                if st["n"] and st["core_sigma"] is not None else "n/a")

    for c, name in enumerate(CLASS_NAMES):
        st = metrics["energy"][name]
        if not st["n"]:
            continue
        ax2.hist(np.clip(ratio[label == c], lo, hi), bins=bins, histtype="step", lw=1.5, color=colors[c],
                 label=f"{name}: {fmt(st)}")
        if baseline is not None:
            b_name, b_e, b_metrics = baseline
            ax2.hist(np.clip(b_e[label == c] / e_true_gev[label == c], lo, hi), bins=bins, histtype="step", lw=1,
                     ls="--", color=colors[c], label=f"{name}, {b_name}: {fmt(b_metrics[name])}")
    ax2.axvline(1.0, color="k", lw=1, ls=":")
    ax2.set_xlabel("E_pred / E_true")
    ax2.set_ylabel("events")
    ax2.legend(loc="upper right", fontsize="x-small")
    _save(fig, path, title)


def plot_resolution(path, curves, title=""):
    """Core resolution (with the a/sqrt(E) (+) b fit) and response vs true energy.

    ``curves``: list of (name, resolution_vs_energy dict as in :func:`evaluate`, line style).
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    colors = {"electron": "tab:blue", "pion": "tab:orange"}
    markers = ("o", "s", "^", "v")
    for i, (name, rve, ls) in enumerate(curves):
        for cls, color in colors.items():
            cur = rve.get(cls) if rve else None
            if not cur:
                continue
            pts = [(b["e_mean"], b["resolution"], b["resolution_err"] or 0.0, b["response"])
                   for b in cur["bins"] if b["n"] and b["resolution"] is not None]
            if not pts:
                continue
            e, r, err, resp = (np.array(v, dtype=np.float64) for v in zip(*pts))
            fit = cur.get("fit")
            lab = f"{cls}, {name}"
            if fit:
                lab += f": {fit['a']:.2f}/\u221aE \u2295 {fit['b']:.3f}"
                ee = np.linspace(float(e.min()), float(e.max()), 100)
                ax1.plot(ee, np.sqrt(fit["a"] ** 2 / ee + fit["b"] ** 2), ls=ls, color=color, lw=1)
            ax1.errorbar(e, r, yerr=err, fmt=markers[i % len(markers)], ms=4, color=color,
                         mfc=color if i == 0 else "none", label=lab)
            ax2.plot(e, resp, ls=ls, marker=markers[i % len(markers)], ms=4, color=color,
                     mfc=color if i == 0 else "none", label=lab.split(":")[0])
    ax1.set_xlabel("true energy [GeV]")
    ax1.set_ylabel("core \u03c3 / response of E_pred / E_true")
    ax1.set_ylim(bottom=0)
    ax1.legend(fontsize="x-small")
    ax2.axhline(1.0, color="k", lw=1, ls=":")
    ax2.set_xlabel("true energy [GeV]")
    ax2.set_ylabel("response (core mean of E_pred / E_true)")
    ax2.legend(fontsize="x-small")
    _save(fig, path, title)


def plot_loss(path, history, title=""):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.3))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, style in (("loss", "-"), ("class_logit_loss", "--"), ("energy_loss", ":")):
        for prefix, color in (("", "tab:blue"), ("val_", "tab:orange")):
            vals = history.get(prefix + key)
            if vals:
                name = key.replace("_loss", "") if key != "loss" else "total"
                if key == "energy_loss":
                    vals = np.asarray(vals) * ENERGY_LOSS_WEIGHT
                    name += f" (x{ENERGY_LOSS_WEIGHT:g})"
                ax.plot(epochs, vals, style, color=color, marker="o", ms=3,
                        label=f"{'validation' if prefix else 'train'} {name}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title or "training")
    ax.legend(fontsize="small")
    _save(fig, path)


# ---------------------------------------------------------------------------------------------
# data and output directory
# ---------------------------------------------------------------------------------------------
def _load_data(data, n_events, n_vertices, seed):
    from garnet_hls.physics import data as gdata

    if data is None:
        return gdata.generate_calo(n_events, n_vertices=n_vertices, seed=seed), "built-in calo (generated)"
    if isinstance(data, (str, os.PathLike)):
        source = os.fspath(data)
        data = gdata.load_npz(source)
    elif isinstance(data, dict):
        source = "in-memory data"
    else:
        raise UserError(f"data must be None, an .npz path or a dict, got {type(data).__name__}")
    missing = [k for k in ("features", "nvtx", "label", "energy") if k not in data]
    if missing:
        raise UserError(f"{source}: training needs calorimeter data with features, nvtx, label and energy "
                        f"(missing {', '.join(missing)})")
    feats = np.asarray(data["features"], dtype=np.float32)
    if feats.ndim != 3:
        raise UserError(f"{source}: features must have shape (N, V, F), got {feats.shape}")
    out = {
        "features": feats,
        "nvtx": np.asarray(data["nvtx"]).reshape(-1, 1).astype(np.int32),
        "label": np.asarray(data["label"]).reshape(-1).astype(np.int32),
        "energy": np.asarray(data["energy"], dtype=np.float32).reshape(-1),
    }
    n = feats.shape[0]
    if any(v.shape[0] != n for v in out.values()):
        raise UserError(f"{source}: features, nvtx, label and energy must have the same number of events")
    if not set(np.unique(out["label"]).tolist()) <= {0, 1}:
        raise UserError(f"{source}: label must be 0 (electron) or 1 (pion)")
    if n and not (out["energy"] > 0).all():
        raise UserError(f"{source}: energy must be positive (GeV)")
    if n and (out["nvtx"].min() < 0 or out["nvtx"].max() > feats.shape[1]):
        raise UserError(f"{source}: nvtx out of range [0, {feats.shape[1]}]")
    if n_events is not None and n_events < n:
        out = {k: v[:n_events] for k, v in out.items()}
    return out, source


def _is_nonempty_dir(path):
    return os.path.isdir(path) and bool(os.listdir(path))


def _check_output_dir(output_dir, force, inputs=()):
    from garnet_hls.paths import check_output_dir, refuse_unsafe_replace

    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UserError(f"output {output_dir} exists and is not a directory")
    check_output_dir(output_dir)
    if _is_nonempty_dir(output_dir):
        if not force:
            raise UserError(f"output directory {output_dir} exists and is not empty; use --force (force=True) "
                            "to overwrite it")
        # --force replaces only a training run written by us, never the working directory or the data's
        refuse_unsafe_replace(output_dir, markers=("metrics.json",), inputs=inputs, kind="garnet-hls training run")


def _publish(tmp, output_dir, force, inputs=()):
    """Move the finished temporary directory to output_dir (replacing an old one with force)."""
    from garnet_hls.paths import publish_dir

    _check_output_dir(output_dir, force, inputs)
    publish_dir(tmp, output_dir, claimed=False)  # an existing run (checked above) is replaced whole


def default_output_dir(kind, quantized, weight_bits=8):
    return os.path.join("runs", f"{kind}-{f'q{weight_bits}' if quantized else 'float'}")


def _json_clean(obj):
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise UserError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


#: Keys of metrics.json that :func:`_measure` computes (the rest describes the run).
MEASURED_KEYS = ("auc", "accuracy", "pion_misid_at_e95", "energy", "resolution_vs_energy", "baselines")


def _measure(model, ds, tr, ev, batch_size, out_dir, title):
    """Evaluate ``model`` on events ``ev`` of ``ds`` beside the baselines fitted on events ``tr``, and write
    roc.png, energy_response.png and resolution.png into ``out_dir``. Returns the MEASURED_KEYS."""
    x = {"features": ds["features"][ev], "nvtx": ds["nvtx"][ev]}
    logit, e_pred = model.predict(x, batch_size=max(batch_size, 512), verbose=0)
    lab = ds["label"][ev]
    e_true_ev = ds["energy"][ev].astype(np.float64)
    metrics = evaluate(logit[:, 0], e_pred[:, 0], lab, e_true_ev)
    subset = ("features", "nvtx", "label", "energy")
    base, base_out = baselines({k: ds[k][tr] for k in subset}, {k: ds[k][ev] for k in subset})
    metrics["baselines"] = base
    roc_base = energy_base = None
    curves = [("network", metrics["resolution_vs_energy"], "-")]
    if base is not None:
        roc_base = ("shower-shape likelihood", base_out["shape_score"], base["shower_shape"]["auc"])
        energy_base = ("calibrated sum", base_out["energy_sum_inclusive"], base["energy_sum"]["inclusive"]["energy"])
        curves += [("sum, inclusive calib.", base["energy_sum"]["inclusive"]["resolution_vs_energy"], "--"),
                   ("sum, per-class calib.", base["energy_sum"]["per_class"]["resolution_vs_energy"], ":")]
    plot_roc(os.path.join(out_dir, "roc.png"), lab, logit[:, 0], metrics["auc"], title=f"{title}: pion vs electron",
             baseline=roc_base)
    plot_energy(os.path.join(out_dir, "energy_response.png"), lab, e_pred[:, 0].astype(np.float64) * ENERGY_SCALE,
                e_true_ev, metrics, title=f"{title}: energy regression", baseline=energy_base)
    plot_resolution(os.path.join(out_dir, "resolution.png"), curves, title=f"{title}: energy resolution")
    return metrics


def remeasure(run_dir):
    """Re-measure a finished run on built-in data with the current evaluation code: regenerate its events
    (same number, V and seed), take the same train/validation split, and rewrite the MEASURED_KEYS of its
    metrics.json and its roc/energy/resolution plots. Training fields are kept. Returns the metrics."""
    import tf_keras as keras

    from garnet_hls.physics import data as gdata

    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, "metrics.json")
    try:
        with open(path) as fh:
            m = json.load(fh)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read the run's metrics ({e})") from None
    if m.get("data") != "built-in calo (generated)":
        raise UserError(f"{run_dir}: only runs on generated built-in events can be re-measured (data: {m.get('data')})")
    n, seed = int(m["n_events"]), int(m["seed"])
    ds = gdata.generate_calo(n, n_vertices=int(m["n_vertices"]), seed=seed)
    ds = {"features": ds["features"], "nvtx": ds["nvtx"], "label": ds["label"], "energy": ds["energy"]}
    perm = np.random.default_rng(seed).permutation(n)
    tr, va = perm[:int(m["n_train"])], perm[int(m["n_train"]):]
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    title = f"{m['kind']} {'q' + str(m['weight_bits']) if m['quantized'] else 'float'}"
    m.update(_measure(model, ds, tr, va if int(m["n_val"]) else tr, int(m["batch_size"]), run_dir, title))
    m = _json_clean(m)
    with open(path, "w") as fh:
        json.dump(m, fh, indent=2)
        fh.write("\n")
    return m


def train(kind="garnet", data=None, n_events=None, epochs=None, batch_size=None, quantized=False, output_dir=None,
          seed=0, validation_split=0.2, progress=True, force=False, learning_rate=None, weight_bits=8,
          demo=False, max_epochs=None, patience=None, keras_version=2, beta0=None, **model_kw):
    """Train a ``kind`` ('garnet' | 'gravnet') model and write it, its metrics and plots to ``output_dir``.

    Args:
        kind: model kind, see :func:`garnet_hls.models.build.build_model`.
        data: None (generate ``n_events`` built-in calorimeter events with ``seed``), the path of an
            ``.npz`` data set (garnet_hls.physics.data schema, kind 'calo') or a dict with ``features``,
            ``nvtx``, ``label`` and ``energy``. With data given, ``n_events`` keeps only the first events.
        n_events, batch_size, learning_rate: default :data:`CONVERGE_SETTINGS` [kind], or
            :data:`DEMO_SETTINGS` [kind] with ``demo``.
        epochs: train exactly this many epochs (cosine-decayed learning rate). None: train to convergence
            (early stopping, learning rate halved on plateaus, best weights restored, at most
            ``max_epochs``, ``patience`` epochs without improvement), or the demo's epochs with ``demo``.
        demo: the time-boxed demo training (:data:`DEMO_SETTINGS`).
        max_epochs, patience: convergence mode only; default :data:`CONVERGE_SETTINGS` [kind].
        quantized, weight_bits: QKeras model with ``weight_bits``-bit weights (see garnet_hls.models.build).
        output_dir: default ``runs/<kind>-<float|q<bits>>``. Refused if it exists and is not empty,
            unless ``force``.
        seed: seeds data generation, the train/validation split, weight initialisation and shuffling.
        validation_split: fraction of events held out; the metrics are computed on them (on the training
            events when 0).
        progress: show the Keras progress bar (one line per epoch when stdout is not a terminal).
        keras_version: 2 (tf_keras, QKeras; garnet_hls.models.build) or 3 (Keras 3, garnet_hls.keras3 graph
            layers and HGQ2 heads; garnet_hls.models.build_keras3). The model is saved with that Keras.
        beta0: Keras 3, quantized only: HGQ2's EBOPs loss weight; every weight width (and the heads' input
            widths) trains per element, and ``beta0 * EBOPs`` joins the loss (metrics.json: ``ebops``).
        **model_kw: passed to the model builder (e.g. ``n_vertices``, ``aggregators``, ``k``).

    Returns:
        the metrics dict written to ``metrics.json``, plus ``output_dir`` (absolute path).
    """
    if kind not in KINDS:
        raise UserError(f"unknown model kind {kind!r}; valid: {', '.join(KINDS)}")
    settings = (DEMO_SETTINGS if demo else CONVERGE_SETTINGS)[kind]
    if n_events is None and data is None:
        n_events = settings["n_events"]
    if n_events is not None:
        n_events = _positive_int("number of events", n_events)
    if epochs is None and demo:
        epochs = settings["epochs"]
    converge = epochs is None
    if converge:
        if max_epochs is None:
            max_epochs = CONVERGE_SETTINGS[kind]["max_epochs"]
        if patience is None:
            patience = CONVERGE_SETTINGS[kind]["patience"]
        max_epochs = _positive_int("max epochs", max_epochs)
        patience = _positive_int("patience", patience)
    else:
        epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch size", settings["batch_size"] if batch_size is None else batch_size)
    learning_rate = float(settings["learning_rate"] if learning_rate is None else learning_rate)
    if not (learning_rate > 0 and np.isfinite(learning_rate)):
        raise UserError(f"learning rate must be positive, got {learning_rate!r}")
    if not (0.0 <= float(validation_split) < 1.0):
        raise UserError(f"validation_split must be in [0, 1), got {validation_split!r}")
    if quantized:
        weight_bits = _positive_int("weight bits", weight_bits)
    if keras_version not in (2, 3):
        raise UserError(f"keras version must be 2 or 3, got {keras_version!r}")
    if beta0 is not None and (keras_version != 3 or not quantized):
        raise UserError("beta0 (HGQ2's trainable widths with EBOPs regularisation) needs a quantized Keras 3 model "
                        "(--keras 3 --quantized)")
    if output_dir is None:
        output_dir = default_output_dir(kind, quantized, weight_bits)
    output_dir = os.path.abspath(os.fspath(output_dir))
    data_inputs = [data] if isinstance(data, (str, os.PathLike)) else []
    _check_output_dir(output_dir, force, data_inputs)

    t_start = time.perf_counter()
    ds, source = _load_data(data, n_events, int(model_kw.get("n_vertices", 128)), seed)
    n, n_vertices, n_features = ds["features"].shape
    if "n_vertices" in model_kw and int(model_kw["n_vertices"]) != n_vertices:
        raise UserError(f"n_vertices = {model_kw['n_vertices']} but the data has V = {n_vertices}")
    if "n_features" in model_kw and int(model_kw["n_features"]) != n_features:
        raise UserError(f"n_features = {model_kw['n_features']} but the data has F = {n_features}")
    model_kw.update(n_vertices=n_vertices, n_features=n_features)
    n_val = int(round(n * float(validation_split)))
    n_train = n - n_val
    if n_train < 1:
        raise UserError(f"not enough events to train: {n} events, validation_split {validation_split}")

    if keras_version == 3:
        import garnet_hls.keras3  # noqa: F401  (before TensorFlow, if it is not imported yet)
        import keras
    else:
        import tf_keras as keras

    keras.utils.set_random_seed(seed)
    perm = np.random.default_rng(seed).permutation(n)
    tr, va = perm[:n_train], perm[n_train:]

    def xs(idx):
        return {"features": ds["features"][idx], "nvtx": ds["nvtx"][idx]}

    def ys(idx):
        return {"class_logit": ds["label"][idx].astype(np.float32)[:, None],
                "energy": (ds["energy"][idx] / np.float32(ENERGY_SCALE)).astype(np.float32)[:, None]}

    model_args = dict(model_kw, quantized=bool(quantized))
    if quantized:
        model_args["weight_bits"] = weight_bits
    if keras_version == 3:
        from garnet_hls.models.build_keras3 import build_model, model_ebops

        if beta0 is not None:
            model_args["beta0"] = beta0
    else:
        from garnet_hls.models.build import build_model
    model = build_model(kind, **model_args)
    callbacks = []
    if converge:
        monitor = "val_loss" if n_val else "loss"
        optimizer = keras.optimizers.Adam(learning_rate)
        callbacks = [
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=LR_FACTOR, patience=LR_PATIENCE,
                                              min_lr=learning_rate / LR_MIN_DIVISOR, min_delta=1e-4, verbose=0),
            keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, min_delta=ES_MIN_DELTA,
                                          restore_best_weights=True, verbose=0),
        ]
    else:
        steps = epochs * int(np.ceil(n_train / batch_size))
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05))
    if beta0 is not None:
        from hgq.utils.sugar import FreeEBOPs

        callbacks.append(FreeEBOPs())  # history["ebops"]: the model's EBOPs after each epoch
    model.compile(optimizer=optimizer,
                  loss={"class_logit": keras.losses.BinaryCrossentropy(from_logits=True),
                        "energy": keras.losses.MeanSquaredError()},
                  loss_weights={"class_logit": 1.0, "energy": ENERGY_LOSS_WEIGHT})

    parent = os.path.dirname(output_dir)
    tmp = str(paths.partial_dir(output_dir, "tmp"))  # named before it exists: any interrupt cleans it up
    try:
        try:
            os.makedirs(parent or ".", exist_ok=True)
            paths.make_partial(tmp)
        except OSError as e:
            raise UserError(f"cannot write {output_dir}: {e.strerror or e}") from None
        verbose = (1 if sys.stdout.isatty() else 2) if progress else 0
        if progress:
            label = f"{kind} {'q' + str(weight_bits) if quantized else 'float'}"
            what = (f"to convergence (at most {max_epochs} epochs, patience {patience})" if converge
                    else f"{epochs} epochs")
            print(f"training {label}: {n_train} train / {n_val} validation events, V={n_vertices}, "
                  f"{what}, batch {batch_size}, {model.count_params()} parameters", flush=True)
        t_fit = time.perf_counter()
        hist = model.fit(xs(tr), ys(tr), validation_data=(xs(va), ys(va)) if n_val else None,
                         epochs=max_epochs if converge else epochs, batch_size=batch_size, shuffle=True,
                         verbose=verbose, callbacks=callbacks)
        fit_seconds = time.perf_counter() - t_fit
        history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        epochs_run = len(history.get("loss", []))
        if converge:  # the epoch whose weights EarlyStopping restored (improvements below min_delta don't count)
            best = int(callbacks[1].best_epoch)
        else:
            monitored = history.get("val_loss") or history.get("loss") or [float("nan")]
            best = int(np.nanargmin(monitored)) if np.isfinite(monitored).any() else epochs_run - 1
        if converge:
            training = {"mode": "converge", "max_epochs": max_epochs, "patience": patience,
                        "stopped_early": epochs_run < max_epochs, "best_epoch": best + 1,
                        "lr_schedule": f"ReduceLROnPlateau x{LR_FACTOR:g} after {LR_PATIENCE} epochs, "
                                       f"min {learning_rate / LR_MIN_DIVISOR:.3g}",
                        "restored_best_weights": True}
        else:
            training = {"mode": "fixed", "max_epochs": epochs, "patience": None, "stopped_early": False,
                        "best_epoch": best + 1, "lr_schedule": "cosine decay to 5 %", "restored_best_weights": False}

        ev = va if n_val else tr
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QKeras quantizers are serialised as "constraints"
            model.save(os.path.join(tmp, "model.keras"))
        title = f"{kind} {'q' + str(weight_bits) if quantized else 'float'}"
        metrics = _measure(model, ds, tr, ev, batch_size, tmp, title)
        metrics.update(
            kind=kind, quantized=bool(quantized), weight_bits=weight_bits if quantized else None,
            n_events=int(n), n_train=int(n_train), n_val=int(n_val), eval_set="validation" if n_val else "train",
            n_vertices=int(n_vertices), n_features=int(n_features), epochs=epochs_run, batch_size=batch_size,
            learning_rate=learning_rate, training=training, energy_loss_weight=ENERGY_LOSS_WEIGHT,
            energy_scale=ENERGY_SCALE, seed=seed, data=source, n_params=int(model.count_params()),
            final_loss={k: v[-1] for k, v in history.items()},
            best_loss={k: v[best] for k, v in history.items()}, history=history,
            train_seconds=round(fit_seconds, 2),
            model_kw={k: (list(v) if isinstance(v, tuple) else v) for k, v in model_kw.items()},
            keras_version=keras_version, beta0=beta0,
            ebops=model_ebops(model) if keras_version == 3 and beta0 is not None else None,
        )
        plot_loss(os.path.join(tmp, "loss.png"), history, title=f"{title}: loss")
        metrics["total_seconds"] = round(time.perf_counter() - t_start, 2)
        metrics["files"] = ["model.keras", "metrics.json", *PLOTS]
        metrics = _json_clean(metrics)
        with open(os.path.join(tmp, "metrics.json"), "w") as fh:
            json.dump(metrics, fh, indent=2)
            fh.write("\n")
        _publish(tmp, output_dir, force, data_inputs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    metrics["output_dir"] = output_dir
    return metrics


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------
def summary(metrics):
    """A few lines describing a training result, beside the baselines."""
    def f(v, fmt=".3f"):
        return format(v, fmt) if v is not None else "n/a"

    def res(energy):
        return ", ".join(f"{name} {f(energy[name]['resolution'])} (response {f(energy[name]['response'])}, "
                         f"tails {f(100 * energy[name]['tail_fraction'] if energy[name]['tail_fraction'] is not None else None, '.1f')}%)"
                         for name in CLASS_NAMES)

    q = f"q{metrics['weight_bits']}" if metrics["quantized"] else "float"
    if metrics.get("keras_version") == 3:
        q += ", Keras 3 / HGQ2" + (f", beta0 {metrics['beta0']:g}: {f(metrics.get('ebops'), ',.0f')} EBOPs"
                                   if metrics.get("beta0") is not None else "")
    tr = metrics.get("training", {})
    how = (f"best epoch {tr.get('best_epoch')} of {metrics['epochs']}"
           f"{', stopped early' if tr.get('stopped_early') else ' (epoch cap reached)'}"
           if tr.get("mode") == "converge" else f"{metrics['epochs']} epochs")
    lines = [
        f"{metrics['kind']} {q}: {metrics['n_train']} training events, {how}, {metrics['train_seconds']:.0f} s",
        f"  AUC {metrics['auc']:.4f}, accuracy {metrics['accuracy']:.4f}, pion mis-id at 95% electron efficiency "
        f"{f(metrics.get('pion_misid_at_e95'), '.4f')} ({metrics['eval_set']} set, {metrics['energy']['all']['n']} events)",
        f"  energy resolution (core sigma / response of E_pred/E_true): {res(metrics['energy'])}",
    ]
    base = metrics.get("baselines")
    if base:
        sh = base["shower_shape"]
        lines.append(f"  baseline shower-shape likelihood ({' + '.join(sh['variables'])}): AUC {sh['auc']:.4f}, "
                     f"pion mis-id {f(sh['pion_misid_at_e95'], '.4f')}")
        for key in ("inclusive", "per_class"):
            lines.append(f"  baseline energy sum, {key.replace('_', '-')} calibration: "
                         f"{res(base['energy_sum'][key]['energy'])}")
    if "output_dir" in metrics:
        d = metrics["output_dir"]
        lines.append(f"  wrote {os.path.join(d, 'model.keras')}, metrics.json, {', '.join(PLOTS)} in {d}")
    return "\n".join(lines)
