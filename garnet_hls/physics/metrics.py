"""Physics figures of merit and the simple baselines a network is judged against (plain numpy).

Energy resolution, as a calorimeter physicist quotes it
-------------------------------------------------------
The distribution of ``x = E_pred / E_true`` has a Gaussian core and non-Gaussian tails (pion late
starts, leakage, pile-up). A standard deviation mixes the two, so :func:`response_stats` reports

* ``core_mean``, ``core_sigma``: an iterative +-2 sigma truncated-Gaussian fit. Start from the median
  and ``IQR / 1.349``; then, repeatedly, take the events within ``mean +- 2 sigma`` and set ``mean`` to
  their mean and ``sigma`` to their standard deviation divided by the standard deviation a unit
  Gaussian has inside +-2 (0.8796), until it no longer moves. For a Gaussian this recovers its mean
  and sigma exactly (in the limit of many events); tails beyond the window do not pull it.
* ``response``: the core mean (``median`` is given too); ``resolution`` = ``core_sigma / response``,
  the relative resolution sigma_E / E after correcting the scale;
* ``iqr_sigma``: the interquartile width / 1.349 (the sigma of a Gaussian with that IQR), a second,
  fit-free core estimate;
* ``tail_fraction``: the fraction of events outside ``core_mean +- 3 core_sigma`` (0.27 % for a pure
  Gaussian), with the low and high sides separately;
* ``mean`` and ``std`` of x, tails included, for reference.

:func:`binned_response` gives the same in bins of true energy, and :func:`fit_resolution` fits
``sigma/E = a / sqrt(E) (+) b`` (sum in quadrature) to the binned resolutions.

Baselines
---------
* :class:`SumCalibration`: the sum of the hit energies (the network's own input hits), calibrated on
  training events the way a test beam does it: the median visible sum is measured in bins of true
  energy (the response curve) and the curve is inverted, piecewise linearly (linear extrapolation
  beyond the first and last bin). Fitted per class (applied with the true label, i.e. ideal particle
  identification) and inclusively (one curve for all particles, what a network without a class input
  has to beat).
* :class:`ShapeLikelihood`: e/pi separation from shower shapes -- the energy-weighted mean depth and
  the energy-weighted transverse RMS width of the hits (see :func:`shower_shapes`). The score is the
  log-likelihood ratio log(p_pion / p_electron) of a 2-D histogram of the two variables, binned at
  training-set quantiles.
"""

from __future__ import annotations

import math

import numpy as np

from garnet_hls.errors import UserError

#: Width of the core window in sigmas and the std of a unit Gaussian truncated to that window.
CORE_WINDOW = 2.0
_TRUNC_STD = math.sqrt(1.0 - 2.0 * CORE_WINDOW * math.exp(-0.5 * CORE_WINDOW**2) / math.sqrt(2.0 * math.pi)
                       / math.erf(CORE_WINDOW / math.sqrt(2.0)))
#: Events further than this many core sigmas from the core mean count as tails.
TAIL_SIGMAS = 3.0
#: Default bin edges in true energy (GeV) for the resolution curve: the built-in data's 10-100 GeV.
ENERGY_BINS = tuple(float(e) for e in np.arange(10.0, 100.1, 10.0))
IQR_TO_SIGMA = 1.349  # IQR of a unit Gaussian
#: Statistical error of :func:`core_gaussian`'s sigma from n Gaussian values, in units of sigma / sqrt(2 n)
#: (the error of a plain standard deviation): 1.51, measured with 400 toy samples each of 100-2000 values.
CORE_SIGMA_ERR_FACTOR = 1.51

#: Indices of the calorimeter hit features (garnet_hls.physics.data.CALO_FEATURES = x, y, z, E).
_X, _Y, _Z, _E = 0, 1, 2, 3


# ---------------------------------------------------------------------------------------------
# resolution
# ---------------------------------------------------------------------------------------------
def iqr_sigma(x):
    """Interquartile range / 1.349 (the sigma of a Gaussian with the same IQR)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size < 2:
        return float("nan")
    q1, q3 = np.percentile(x, [25.0, 75.0])
    return float((q3 - q1) / IQR_TO_SIGMA)


def core_gaussian(x, window=CORE_WINDOW, max_iter=100):
    """(mean, sigma) of the Gaussian core of ``x``: the iterative truncated-Gaussian fit (module doc).

    NaN for fewer than 5 values. ``sigma`` is 0 when the core has no spread.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size < 5:
        return float("nan"), float("nan")
    trunc = _TRUNC_STD if window == CORE_WINDOW else math.sqrt(
        1.0 - 2.0 * window * math.exp(-0.5 * window**2) / math.sqrt(2.0 * math.pi) / math.erf(window / math.sqrt(2.0)))
    mu, sigma = float(np.median(x)), iqr_sigma(x)
    if not sigma > 0:
        sigma = float(np.std(x))
        if not sigma > 0:
            return mu, 0.0
    seen = set()
    for _ in range(max_iter):
        sel = x[np.abs(x - mu) <= window * sigma]
        if sel.size < 5:
            break
        new = (float(sel.mean()), float(sel.std() / trunc))
        if not new[1] > 0:
            return new[0], 0.0
        if abs(new[0] - mu) <= 1e-9 * new[1] and abs(new[1] - sigma) <= 1e-9 * new[1]:
            mu, sigma = new
            break
        if (sel.size, round(new[0], 12), round(new[1], 12)) in seen:  # a 2-cycle on the window edge
            mu, sigma = new
            break
        seen.add((sel.size, round(new[0], 12), round(new[1], 12)))
        mu, sigma = new
    return mu, sigma


def response_stats(ratio):
    """Response and resolution figures of ``ratio = E_pred / E_true`` (see the module doc)."""
    x = np.asarray(ratio, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    keys = ("mean", "std", "median", "iqr_sigma", "core_mean", "core_sigma", "response", "resolution",
            "tail_fraction", "tail_low", "tail_high")
    if x.size == 0:
        return {"n": 0, **{k: None for k in keys}}
    mu, sigma = core_gaussian(x)
    out = {"n": int(x.size), "mean": float(x.mean()), "std": float(x.std()), "median": float(np.median(x)),
           "iqr_sigma": iqr_sigma(x), "core_mean": mu, "core_sigma": sigma, "response": mu}
    out["resolution"] = sigma / mu if np.isfinite(mu) and mu > 0 else float("nan")
    if np.isfinite(mu) and np.isfinite(sigma):
        low = float(np.mean(x < mu - TAIL_SIGMAS * sigma))
        high = float(np.mean(x > mu + TAIL_SIGMAS * sigma))
    else:
        low = high = float("nan")
    out.update(tail_fraction=low + high, tail_low=low, tail_high=high)
    return out


def binned_response(ratio, e_true, edges=ENERGY_BINS):
    """:func:`response_stats` in bins of true energy; each bin also has ``lo``, ``hi``, ``e_mean`` (GeV),
    ``e_harmonic`` (1 / mean(1/E), where a variance a^2/E + b^2 averaged over the bin is met)
    and ``resolution_err``, the statistical error of the core resolution,
    ``CORE_SIGMA_ERR_FACTOR * resolution / sqrt(2 n_core)`` with n_core the events outside the tails."""
    ratio = np.asarray(ratio, dtype=np.float64).reshape(-1)
    e_true = np.asarray(e_true, dtype=np.float64).reshape(-1)
    edges = np.asarray(edges, dtype=np.float64)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (e_true >= lo) & ((e_true < hi) if hi < edges[-1] else (e_true <= hi))
        st = response_stats(ratio[sel])
        st.update(lo=float(lo), hi=float(hi), e_mean=float(e_true[sel].mean()) if sel.any() else None,
                  e_harmonic=float(1.0 / np.mean(1.0 / e_true[sel])) if sel.any() else None)
        if st["n"] and st["resolution"] is not None and np.isfinite(st["resolution"]):
            n_core = max(st["n"] * (1.0 - st["tail_fraction"]), 1.0)
            st["resolution_err"] = CORE_SIGMA_ERR_FACTOR * st["resolution"] / math.sqrt(2.0 * n_core)
        else:
            st["resolution_err"] = None
        out.append(st)
    return out


def fit_resolution(energy, resolution, error=None):
    """Fit ``resolution(E) = sqrt(a^2 / E + b^2)`` (a/sqrt(E) (+) b) by weighted least squares in
    ``resolution^2``, with a, b >= 0.

    Returns ``{"a": a, "b": b, "chi2_ndf": ..., "n_points": ...}`` (a in sqrt(GeV), b dimensionless);
    None when fewer than 2 usable points.
    """
    e = np.asarray(energy, dtype=np.float64).reshape(-1)
    r = np.asarray(resolution, dtype=np.float64).reshape(-1)
    err = np.full_like(r, np.nan) if error is None else np.asarray(error, dtype=np.float64).reshape(-1)
    ok = np.isfinite(e) & np.isfinite(r) & (e > 0) & (r >= 0)
    e, r, err = e[ok], r[ok], err[ok]
    if e.size < 2:
        return None
    # relative error of each point (1/sqrt(2 n) for a core sigma from n events); the error of r^2 is then
    # 2 rel r_model^2, with r_model the current fit, not the measured point (a point that fluctuated low
    # would otherwise get a small error and pull the fit)
    rel = np.where(np.isfinite(err) & (err > 0) & (r > 0), err / np.where(r > 0, r, 1.0), 0.05)
    y = r**2
    design = np.stack([1.0 / e, np.ones_like(e)], axis=1)
    model = y.copy()

    def solve(cols, w):
        a = design[:, cols] * w[:, None]
        coef, *_ = np.linalg.lstsq(a, y * w, rcond=None)
        full = np.zeros(2)
        full[list(cols)] = coef
        return full

    def chi2(c, w):
        return float(np.sum(((design @ c - y) * w) ** 2))

    for _ in range(10):
        w = 1.0 / np.maximum(2.0 * rel * model, 1e-12)
        candidates = []
        full = solve([0, 1], w)
        if (full >= 0).all():
            candidates.append(full)
        else:
            for cols in ([0], [1]):
                c = solve(cols, w)
                if (c >= 0).all():
                    candidates.append(c)
        if not candidates:
            candidates.append(np.zeros(2))
        best = min(candidates, key=lambda c: chi2(c, w))
        new_model = np.maximum(design @ best, 1e-12)
        if np.allclose(new_model, model, rtol=1e-10, atol=0):
            break
        model = new_model
    n_par = int(np.count_nonzero(best)) or 1
    ndf = max(e.size - n_par, 1)
    return {"a": float(math.sqrt(best[0])), "b": float(math.sqrt(best[1])), "chi2_ndf": chi2(best, w) / ndf,
            "n_points": int(e.size)}


def resolution_curve(ratio, e_true, edges=ENERGY_BINS):
    """:func:`binned_response` plus its :func:`fit_resolution` fit: ``{"bins": [...], "fit": {...}}``
    (each bin's resolution is placed at its ``e_harmonic``; bins with fewer than 20 events are left out)."""
    bins = binned_response(ratio, e_true, edges)
    pts = [(b["e_harmonic"], b["resolution"], b["resolution_err"]) for b in bins
           if b["n"] >= 20 and b["resolution"] is not None and np.isfinite(b["resolution"])]
    fit = fit_resolution(*zip(*pts)) if len(pts) >= 2 else None
    return {"bins": bins, "fit": fit}


# ---------------------------------------------------------------------------------------------
# calorimeter quantities from the hit features
# ---------------------------------------------------------------------------------------------
def _check_calo(features):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 3 or features.shape[-1] < 4:
        raise UserError(f"calorimeter baselines need hit features (N, V, >=4) ordered x, y, z, E; got {features.shape}")
    return features


def energy_sum(features, nvtx=None):
    """Visible energy (GeV): the sum of the hit energies of each event (padding rows are zero)."""
    from garnet_hls.physics.data import E_SCALE_GEV

    f = _check_calo(features)
    e = f[..., _E]
    if nvtx is not None:
        valid = np.arange(f.shape[1])[None, :] < np.asarray(nvtx).reshape(-1, 1)
        e = np.where(valid, e, 0.0)
    return e.sum(axis=1) * E_SCALE_GEV


def shower_shapes(features, nvtx=None):
    """Shower-shape variables per event: ``depth`` (energy-weighted mean z of the hits, cm from the
    front face), ``width`` (energy-weighted RMS of the transverse distance of the hits from their
    energy-weighted centroid, cm) and ``n_hits``."""
    from garnet_hls.physics.data import X_SCALE_CM, Z_SCALE_CM

    f = _check_calo(features)
    e = np.clip(f[..., _E], 0.0, None)
    if nvtx is not None:
        n_hits = np.asarray(nvtx).reshape(-1).astype(np.float64)
        valid = np.arange(f.shape[1])[None, :] < n_hits[:, None]
        e = np.where(valid, e, 0.0)
    else:
        n_hits = np.count_nonzero(e > 0, axis=1).astype(np.float64)
    tot = e.sum(axis=1)
    safe = np.where(tot > 0, tot, 1.0)
    x, y, z = (f[..., i] for i in (_X, _Y, _Z))
    depth = (e * z).sum(axis=1) / safe * Z_SCALE_CM
    cx, cy = (e * x).sum(axis=1) / safe, (e * y).sum(axis=1) / safe
    r2 = (x - cx[:, None]) ** 2 + (y - cy[:, None]) ** 2
    width = np.sqrt((e * r2).sum(axis=1) / safe) * X_SCALE_CM
    return {"depth": depth, "width": width, "n_hits": n_hits}


# ---------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------
class SumCalibration:
    """Calibrated energy sum: the inverted, piecewise-linear response curve (module doc).

    ``fit(e_sum, e_true)`` measures the median ``e_sum`` in ``n_bins`` equal-population bins of true
    energy; ``apply(e_sum)`` maps a visible sum back to energy by linear interpolation between the
    (median e_sum, median e_true) points of the bins. The curve is made non-decreasing first.
    """

    def __init__(self, n_bins=10, min_per_bin=20):
        self.n_bins = int(n_bins)
        self.min_per_bin = int(min_per_bin)
        self.visible = None
        self.true = None

    def fit(self, e_sum, e_true):
        e_sum = np.asarray(e_sum, dtype=np.float64).reshape(-1)
        e_true = np.asarray(e_true, dtype=np.float64).reshape(-1)
        if e_sum.size != e_true.size or e_sum.size < 2:
            raise UserError("energy-sum calibration needs at least 2 events with a visible and a true energy")
        n_bins = max(1, min(self.n_bins, e_sum.size // max(self.min_per_bin, 1)))
        order = np.argsort(e_true, kind="mergesort")
        groups = np.array_split(order, n_bins)
        vis = np.array([np.median(e_sum[g]) for g in groups])
        tru = np.array([np.median(e_true[g]) for g in groups])
        if n_bins == 1:  # a single point: a pure scale factor through the origin
            vis, tru = np.array([0.0, vis[0]]), np.array([0.0, tru[0]])
        vis = np.maximum.accumulate(vis)
        # strictly increasing abscissa for interpolation (merge flat steps)
        keep = np.r_[True, np.diff(vis) > 0]
        self.visible, self.true = vis[keep], tru[keep]
        if self.visible.size == 1:
            self.visible, self.true = np.array([0.0, self.visible[0]]), np.array([0.0, self.true[0]])
        return self

    def apply(self, e_sum):
        if self.visible is None:
            raise RuntimeError("SumCalibration.apply before fit")
        e_sum = np.asarray(e_sum, dtype=np.float64)
        v, t = self.visible, self.true
        out = np.interp(e_sum, v, t)
        lo_slope = (t[1] - t[0]) / (v[1] - v[0])
        hi_slope = (t[-1] - t[-2]) / (v[-1] - v[-2])
        out = np.where(e_sum < v[0], t[0] + (e_sum - v[0]) * lo_slope, out)
        out = np.where(e_sum > v[-1], t[-1] + (e_sum - v[-1]) * hi_slope, out)
        return out

    def to_dict(self):
        return {"visible_gev": [float(v) for v in self.visible], "true_gev": [float(t) for t in self.true]}


def calibrated_sums(e_sum_train, e_true_train, label_train, e_sum_eval, label_eval, classes=(0, 1)):
    """Fit the inclusive and per-class :class:`SumCalibration` on training events and apply them.

    Returns ``(inclusive, per_class, calibrations)``: calibrated energies of the evaluation events
    (inclusive curve for all; each event's own class curve for ``per_class``) and the fitted curves.
    """
    e_sum_train = np.asarray(e_sum_train, dtype=np.float64)
    e_true_train = np.asarray(e_true_train, dtype=np.float64)
    label_train = np.asarray(label_train).reshape(-1)
    label_eval = np.asarray(label_eval).reshape(-1)
    inclusive_cal = SumCalibration().fit(e_sum_train, e_true_train)
    inclusive = inclusive_cal.apply(e_sum_eval)
    per_class = np.array(inclusive, copy=True)
    cals = {"inclusive": inclusive_cal.to_dict()}
    for c in classes:
        tr = label_train == c
        if tr.sum() < 2:
            continue
        cal = SumCalibration().fit(e_sum_train[tr], e_true_train[tr])
        ev = label_eval == c
        per_class[ev] = cal.apply(np.asarray(e_sum_eval)[ev])
        cals[int(c)] = cal.to_dict()
    return inclusive, per_class, cals


class ShapeLikelihood:
    """Log-likelihood ratio log(p1 / p0) of a 2-D histogram of two variables (module doc).

    Bins are at quantiles of the training values of both classes together; each class histogram gets
    ``pseudo`` counts per bin before normalisation, so empty bins give a finite score.
    """

    def __init__(self, n_bins=12, pseudo=0.5):
        self.n_bins = int(n_bins)
        self.pseudo = float(pseudo)
        self.edges = None
        self.llr = None

    def fit(self, u, v, label):
        u, v = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (u, v))
        label = np.asarray(label).reshape(-1).astype(bool)
        q = np.linspace(0.0, 100.0, self.n_bins + 1)[1:-1]
        self.edges = [np.unique(np.percentile(a, q)) for a in (u, v)]
        iu, iv = self._index(u, v)
        shape = (self.edges[0].size + 1, self.edges[1].size + 1)
        h = []
        for cls in (False, True):
            cnt = np.zeros(shape)
            np.add.at(cnt, (iu[label == cls], iv[label == cls]), 1.0)
            cnt += self.pseudo
            h.append(cnt / cnt.sum())
        self.llr = np.log(h[1]) - np.log(h[0])
        return self

    def _index(self, u, v):
        return (np.searchsorted(self.edges[0], u, side="right"), np.searchsorted(self.edges[1], v, side="right"))

    def score(self, u, v):
        if self.llr is None:
            raise RuntimeError("ShapeLikelihood.score before fit")
        u, v = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (u, v))
        return self.llr[self._index(u, v)]


def misid_at_efficiency(label, score, efficiency=0.95):
    """Pion mis-identification rate (fraction of pions with score below the cut) when the cut keeps
    ``efficiency`` of the electrons (score < cut = electron; pions are label 1, higher score)."""
    label = np.asarray(label).reshape(-1).astype(bool)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if label.all() or not label.any():
        return float("nan")
    cut = np.quantile(score[~label], efficiency)
    return float(np.mean(score[label] <= cut))
