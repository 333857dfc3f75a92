"""Train a GarNet or GravNet model (garnet_hls.models) on calorimeter data: electron/pion + energy.

:func:`train` fits the two-output model with Adam (cosine-decayed learning rate) on

    loss = BCE_from_logits(class_logit, label) + ENERGY_LOSS_WEIGHT * MSE(energy, E_true / ENERGY_SCALE)

evaluates it on the held-out validation part and writes into ``output_dir``:

* ``model.keras``   the trained model (loads with ``tf_keras.models.load_model`` once garnet_hls.models
  is imported, no ``custom_objects``);
* ``metrics.json``  AUC, accuracy, energy response/resolution, losses, timing (see :func:`evaluate`);
* ``roc.png``, ``energy_response.png``, ``loss.png``.

The output directory is first written as a hidden temporary sibling and renamed at the end, so an
interrupted run leaves nothing half-written. An existing non-empty ``output_dir`` is refused unless
``force=True``.

The command line is ``garnet-hls train`` (see :func:`add_cli`). Without ``--data`` it trains on freshly
generated built-in calorimeter events (:func:`garnet_hls.data.generate_calo`); the defaults
(:data:`DEMO_SETTINGS`) are sized so that a GarNet training takes about a minute on two CPU cores.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings

import garnet_hls  # noqa: F401  -- sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.models import ENERGY_SCALE, KINDS, build_model

#: Demo-size training per model kind: events generated, epochs, batch size, peak learning rate.
DEMO_SETTINGS = {
    "garnet": dict(n_events=20000, epochs=10, batch_size=128, learning_rate=5e-3),
    "gravnet": dict(n_events=10000, epochs=5, batch_size=128, learning_rate=5e-3),
}

#: Weight of the energy MSE (on E / ENERGY_SCALE) relative to the classification cross entropy.
ENERGY_LOSS_WEIGHT = 10.0

CLASS_NAMES = ("electron", "pion")
PLOTS = ("roc.png", "energy_response.png", "loss.png")


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


def _energy_stats(ratio):
    if ratio.size == 0:
        return {"n": 0, "response": None, "resolution": None}
    return {"n": int(ratio.size), "response": float(np.mean(ratio)), "resolution": float(np.std(ratio - 1.0))}


def evaluate(logit, energy_pred, label, energy_true):
    """Classification and energy metrics from the model outputs.

    ``logit`` (N,) the class logit (pion positive), ``energy_pred`` (N,) in units of ENERGY_SCALE,
    ``label`` (N,) 0 electron / 1 pion, ``energy_true`` (N,) in GeV. Energy ``response`` is the mean and
    ``resolution`` the standard deviation of ``E_pred / E_true - 1`` (plus 1 for the response), for
    electrons, pions and all events.
    """
    logit = np.asarray(logit, dtype=np.float64).reshape(-1)
    label = np.asarray(label).reshape(-1).astype(np.int64)
    e_pred = np.asarray(energy_pred, dtype=np.float64).reshape(-1) * ENERGY_SCALE
    e_true = np.asarray(energy_true, dtype=np.float64).reshape(-1)
    ratio = e_pred / e_true
    out = {
        "auc": roc_auc(label, logit),
        "accuracy": float(np.mean((sigmoid(logit) >= 0.5) == (label == 1))) if label.size else float("nan"),
        "energy": {"all": _energy_stats(ratio)},
    }
    for c, name in enumerate(CLASS_NAMES):
        out["energy"][name] = _energy_stats(ratio[label == c])
    return out


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(path, label, logit, auc, title=""):
    plt = _pyplot()
    fpr, tpr = roc_curve(label, logit)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot(fpr, tpr, lw=1.5, label=f"AUC = {auc:.4f}")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set_xlabel("electrons taken as pions (false positive rate)")
    ax.set_ylabel("pions identified (true positive rate)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title or "ROC, pion vs electron")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_energy(path, label, e_pred_gev, e_true_gev, metrics, title=""):
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.3))
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
    bins = np.linspace(lo, hi, 60)
    for c, name in enumerate(CLASS_NAMES):
        st = metrics["energy"][name]
        if not st["n"]:
            continue
        ax2.hist(np.clip(ratio[label == c], lo, hi), bins=bins, histtype="step", lw=1.5, color=colors[c],
                 label=f"{name}: mean {st['response']:.3f}, std {st['resolution']:.3f}")
    ax2.axvline(1.0, color="k", lw=1, ls="--")
    ax2.set_xlabel("E_pred / E_true")
    ax2.set_ylabel("events")
    ax2.legend(loc="upper right", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# data and output directory
# ---------------------------------------------------------------------------------------------
def _load_data(data, n_events, n_vertices, seed):
    from garnet_hls import data as gdata

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
    _check_output_dir(output_dir, force, inputs)
    old = None
    if os.path.isdir(output_dir):
        if os.listdir(output_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.old-", dir=os.path.dirname(output_dir))
            os.rename(output_dir, os.path.join(old, "d"))
        else:
            os.rmdir(output_dir)
    os.rename(tmp, output_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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


def train(kind="garnet", data=None, n_events=None, epochs=None, batch_size=None, quantized=False, output_dir=None,
          seed=0, validation_split=0.2, progress=True, force=False, learning_rate=None, weight_bits=8,
          **model_kw):
    """Train a ``kind`` ('garnet' | 'gravnet') model and write it, its metrics and plots to ``output_dir``.

    Args:
        kind: model kind, see :func:`garnet_hls.models.build_model`.
        data: None (generate ``n_events`` built-in calorimeter events with ``seed``), the path of an
            ``.npz`` data set (garnet_hls.data schema, kind 'calo') or a dict with ``features``,
            ``nvtx``, ``label`` and ``energy``. With data given, ``n_events`` keeps only the first events.
        n_events, epochs, batch_size, learning_rate: default :data:`DEMO_SETTINGS` [kind].
        quantized, weight_bits: QKeras model with ``weight_bits``-bit weights (see garnet_hls.models).
        output_dir: default ``runs/<kind>-<float|q<bits>>``. Refused if it exists and is not empty,
            unless ``force``.
        seed: seeds data generation, the train/validation split, weight initialisation and shuffling.
        validation_split: fraction of events held out; the metrics are computed on them (on the training
            events when 0).
        progress: show the Keras progress bar (one line per epoch when stdout is not a terminal).
        **model_kw: passed to the model builder (e.g. ``n_vertices``, ``aggregators``, ``k``).

    Returns:
        the metrics dict written to ``metrics.json``, plus ``output_dir`` (absolute path).
    """
    if kind not in KINDS:
        raise UserError(f"unknown model kind {kind!r}; valid: {', '.join(KINDS)}")
    demo = DEMO_SETTINGS[kind]
    if n_events is None and data is None:
        n_events = demo["n_events"]
    if n_events is not None:
        n_events = _positive_int("number of events", n_events)
    epochs = _positive_int("epochs", demo["epochs"] if epochs is None else epochs)
    batch_size = _positive_int("batch size", demo["batch_size"] if batch_size is None else batch_size)
    learning_rate = float(demo["learning_rate"] if learning_rate is None else learning_rate)
    if not (learning_rate > 0 and np.isfinite(learning_rate)):
        raise UserError(f"learning rate must be positive, got {learning_rate!r}")
    if not (0.0 <= float(validation_split) < 1.0):
        raise UserError(f"validation_split must be in [0, 1), got {validation_split!r}")
    if quantized:
        weight_bits = _positive_int("weight bits", weight_bits)
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
    model = build_model(kind, **model_args)
    steps = epochs * int(np.ceil(n_train / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss={"class_logit": keras.losses.BinaryCrossentropy(from_logits=True),
                        "energy": keras.losses.MeanSquaredError()},
                  loss_weights={"class_logit": 1.0, "energy": ENERGY_LOSS_WEIGHT})

    parent = os.path.dirname(output_dir)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.tmp-", dir=parent)
        from garnet_hls.paths import give_usual_mode

        give_usual_mode(tmp, directory=True)  # not mkdtemp's 0700
    except OSError as e:
        raise UserError(f"cannot write {output_dir}: {e.strerror or e}") from None
    try:
        verbose = (1 if sys.stdout.isatty() else 2) if progress else 0
        if progress:
            label = f"{kind} {'q' + str(weight_bits) if quantized else 'float'}"
            print(f"training {label}: {n_train} train / {n_val} validation events, V={n_vertices}, "
                  f"{epochs} epochs, batch {batch_size}, {model.count_params()} parameters", flush=True)
        t_fit = time.perf_counter()
        hist = model.fit(xs(tr), ys(tr), validation_data=(xs(va), ys(va)) if n_val else None, epochs=epochs,
                         batch_size=batch_size, shuffle=True, verbose=verbose)
        fit_seconds = time.perf_counter() - t_fit
        history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}

        ev = va if n_val else tr
        logit, e_pred = model.predict(xs(ev), batch_size=max(batch_size, 512), verbose=0)
        metrics = evaluate(logit[:, 0], e_pred[:, 0], ds["label"][ev], ds["energy"][ev])
        metrics.update(
            kind=kind, quantized=bool(quantized), weight_bits=weight_bits if quantized else None,
            n_events=int(n), n_train=int(n_train), n_val=int(n_val), eval_set="validation" if n_val else "train",
            n_vertices=int(n_vertices), n_features=int(n_features), epochs=epochs, batch_size=batch_size,
            learning_rate=learning_rate, energy_loss_weight=ENERGY_LOSS_WEIGHT, energy_scale=ENERGY_SCALE,
            seed=seed, data=source, n_params=int(model.count_params()),
            final_loss={k: v[-1] for k, v in history.items()}, history=history,
            train_seconds=round(fit_seconds, 2),
            model_kw={k: (list(v) if isinstance(v, tuple) else v) for k, v in model_kw.items()},
        )

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QKeras quantizers are serialised as "constraints"
            model.save(os.path.join(tmp, "model.keras"))
        title = f"{kind} {'q' + str(weight_bits) if quantized else 'float'}"
        lab = ds["label"][ev]
        plot_roc(os.path.join(tmp, "roc.png"), lab, logit[:, 0], metrics["auc"], title=f"{title}: pion vs electron")
        plot_energy(os.path.join(tmp, "energy_response.png"), lab, e_pred[:, 0].astype(np.float64) * ENERGY_SCALE,
                    ds["energy"][ev].astype(np.float64), metrics, title=f"{title}: energy regression")
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
# command line
# ---------------------------------------------------------------------------------------------
def summary(metrics):
    """A few lines describing a training result."""
    e = metrics["energy"]

    def res(name):
        st = e[name]
        return f"{st['resolution']:.3f}" if st["resolution"] is not None else "n/a"

    q = f"q{metrics['weight_bits']}" if metrics["quantized"] else "float"
    lines = [
        f"{metrics['kind']} {q}: {metrics['n_train']} training events, {metrics['epochs']} epochs, "
        f"{metrics['train_seconds']:.0f} s",
        f"  AUC {metrics['auc']:.4f}, accuracy {metrics['accuracy']:.4f} ({metrics['eval_set']} set, "
        f"{metrics['energy']['all']['n']} events)",
        f"  energy resolution std(E_pred/E_true - 1): electrons {res('electron')}, pions {res('pion')}, "
        f"all {res('all')}",
    ]
    if "output_dir" in metrics:
        d = metrics["output_dir"]
        lines.append(f"  wrote {os.path.join(d, 'model.keras')}, metrics.json, {', '.join(PLOTS)} in {d}")
    return "\n".join(lines)


def run_train(args):
    metrics = train(kind=args.model, data=args.data, n_events=args.events, epochs=args.epochs,
                    batch_size=args.batch_size, quantized=args.quantized, weight_bits=args.bits,
                    output_dir=args.output, seed=args.seed, force=args.force, progress=not args.quiet,
                    **({"n_vertices": args.vertices} if args.vertices is not None else {}))
    print(summary(metrics))
    return 0


def add_cli(subparsers):
    """Add the ``train`` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "train", help="train a GarNet/GravNet model on calorimeter data",
        description="Train a GarNet or GravNet model (electron/pion logit + energy) and write model.keras, "
                    "metrics.json and plots to the output directory. Defaults are demo-sized "
                    f"(garnet: {DEMO_SETTINGS['garnet']['n_events']} events, {DEMO_SETTINGS['garnet']['epochs']} "
                    f"epochs; gravnet: {DEMO_SETTINGS['gravnet']['n_events']} events, "
                    f"{DEMO_SETTINGS['gravnet']['epochs']} epochs).")
    p.add_argument("--model", choices=KINDS, default="garnet", help="model kind (default garnet)")
    p.add_argument("--data", metavar="PATH.npz", help="calorimeter data set (default: generate built-in events)")
    p.add_argument("-n", "--events", type=int, default=None,
                   help="events to generate (default per model: garnet "
                   f"{DEMO_SETTINGS['garnet']['n_events']}, gravnet {DEMO_SETTINGS['gravnet']['n_events']}), "
                   "or to keep from --data (default all)")
    p.add_argument("--vertices", type=int, default=None, help="hit slots V of generated events (default 128)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default per model: garnet "
                   f"{DEMO_SETTINGS['garnet']['epochs']}, gravnet {DEMO_SETTINGS['gravnet']['epochs']})")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default 128)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quantized", dest="quantized", action="store_true",
                   help="QKeras model with --bits weights (fixed point, for firmware)")
    g.add_argument("--float", dest="quantized", action="store_false", help="floating-point model (default)")
    p.set_defaults(quantized=False)
    p.add_argument("--bits", type=int, default=8, help="weight/bias bits of the quantized model (default 8)")
    p.add_argument("-o", "--output", default=None,
                   help="output directory (default runs/<model>-float or runs/<model>-q<bits>)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty output directory")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_train)
    return p
