"""Built-in data sets: a synthetic sampling calorimeter and the "circles vs noise" point clouds.

Everything here is plain numpy (no TensorFlow), seeded and vectorised over events.

Synthetic calorimeter (``generate_calo``)
========================================
Geometry: a steel/scintillator sampling calorimeter, ``N_LAYERS`` = 30 layers along z, each
``ABSORBER_CM`` = 2.6 cm of steel (1.48 X0, 0.155 lambda_I) followed by ``ACTIVE_CM`` = 0.4 cm of
scintillator, i.e. a ``LAYER_PITCH_CM`` = 3 cm pitch, 90 cm = 44 X0 = 4.6 lambda_I in total (the
scintillator's own X0 is neglected). Each active layer is a 16 x 16 grid of ``CELL_CM`` = 3 cm
square cells (48 x 48 cm^2), centred on the beam axis. Single particles enter at normal incidence
at z = 0 with an impact point uniform within the central 3 x 3 cm^2.

Physics model (cell energies are on the electromagnetic scale, in GeV):

* electrons: longitudinal gamma-function profile ``dE/dt ~ t^(a-1) exp(-b t)`` (t in X0, b = 0.5,
  shower maximum ``ln(E/Ec) - 0.5`` X0 with the steel critical energy Ec = 21.7 MeV, small
  event-to-event jitter of ``a``); transverse core + tail profile ``f(r) ~ r R^2 / (r^2 + R^2)^2``
  with core and tail radii and core probability following the Grindhammer parametrisation in units
  of the Moliere radius (1.72 cm).
* charged pions: travel as a MIP (``MIP_GEV`` per layer, Landau-like log-normal spread) until the
  first interaction at an exponentially distributed depth (pion interaction length 20.4 cm, so
  some showers start late and ~2 % punch through). There the energy splits into an EM fraction
  ``f_em`` (Beta-distributed around ``1 - E^(-0.18)``, spread shrinking ~ 1/E^(1/4); in
  ``PI0_DOMINATED_PROB`` = 5 % of showers ``f_em`` ~ U(0.85, 1)) carried by three pi0
  sub-showers (Dirichlet-split energy, photon conversion after Exp(9/7 X0), ~0.1 rad opening
  angles) and a hadronic part with a deeper, wider gamma profile in units of lambda_I
  (fluctuating shape, core + halo transverse profile) of which only a fraction
  ``h/e ~ N(0.6, 0.06)`` is visible (nuclear binding, neutrons). Energy leaking out of the back or
  the sides is lost. So pions have a lower, broader response and deeper, wider showers.
* pile-up: Poisson(``pileup`` = 1) soft particles per event (half photons/electrons, half pions,
  1 GeV + exponential, mean 3 GeV) entering anywhere within +-12 cm, simulated like the primary.
  They are included in the hits (not in ``energy``) and blur both classification and regression.
* sampling fluctuations: each cell's energy is smeared with a gamma distribution of variance
  ``a^2 * E_cell`` (stochastic term a = ``STOCH_EM`` = 0.21 sqrt(GeV) for EM deposits,
  ``STOCH_HAD`` = 0.50 sqrt(GeV) for hadronic ones), plus Gaussian electronics noise of
  ``NOISE_SIGMA_GEV`` on every cell with a deposit.
* noise: Poisson(``noise_hits`` = 8) extra hits per event in random cells, just above threshold.
* a cell is a hit if its energy exceeds ``THRESHOLD_GEV`` (half a MIP).

With the defaults (measured on 20k events): electrons have response 1.00 without pile-up (1.07
with it) and sigma/E ~ 21 %/sqrt(E); pions ~0.8 with a 13-25 % spread and a low tail from late
starts and leakage. Separability (DeepSets-style networks trained on 40k events, tested on 10k):
validation AUC 0.992-0.996 for an FPGA-sized network (8 hidden units, raw features), ~0.999 for a
64-unit one with log(E); single shower-shape variables (depth, width, hit count) give 0.9-0.97.
(A finely segmented calorimeter separates e/pi very well; pile-up is the main spoiler.)

Deposits are generated as energy "spots" (an energy-dependent number of equal-weight points per
event sampled from the profiles above) that are histogrammed into cells, all in batches of events.

Hit features (``CALO_FEATURES``): ``x / X_SCALE_CM``, ``y / X_SCALE_CM``, ``z / Z_SCALE_CM`` (cell
centre; x, y in (-1, 1), z in (0, 1)) and ``E / E_SCALE_GEV``. So the sum of the last feature times
``E_SCALE_GEV`` is the visible energy in GeV.

Circles vs noise (``generate_circles``)
=======================================
64 x 64 grey images. Class 0: pure noise, every pixel Gauss(m, 0.1) with m = 0.3 or 0.7 (per
image). Class 1: the same background plus a filled circle (radius uniform in [5, 20) pixels, centre
such that the circle lies fully inside the image) whose pixels are Gauss(0.9, 0.1). Values are not
clipped. The ``CIRCLES_POINTS`` = 100 pixels whose grey value is closest to 1 become the points
``(iX / 64, iY / 64, grey)`` (iX = column, iY = row), ordered by closeness to 1.

``.npz`` schema (``save_npz`` / ``load_npz``)
=============================================
==================  ========  ===========  ===========================================
key                 dtype     shape        meaning
==================  ========  ===========  ===========================================
``features``        float32   (N, V, F)    per-vertex features; rows >= nvtx are all 0
``nvtx``            int32     (N, 1)       number of valid vertices, 0 <= nvtx <= V
``label``           int32     (N,)         class: calo 0 = electron, 1 = pion;
                                           circles 0 = noise, 1 = circle
``energy``          float32   (N,)         true particle energy in GeV (calo only)
``feature_names``   str       (F,)         names of the F features
``kind``            str       ()           ``'calo'`` or ``'circles'``
==================  ========  ===========  ===========================================

Valid vertices come first in every event (calo: sorted by energy, descending). ``generate_*``
return the same keys as a dict (``kind`` as a Python str).
"""

from __future__ import annotations

import os
import time
import zipfile

import numpy as np

from garnet_hls import paths
from garnet_hls.errors import UserError

# ---------------------------------------------------------------------------------------------
# Calorimeter geometry and constants
# ---------------------------------------------------------------------------------------------
N_LAYERS = 30
N_CELLS_XY = 16
CELL_CM = 3.0
ABSORBER_CM = 2.6  # steel
ACTIVE_CM = 0.4  # scintillator
LAYER_PITCH_CM = ABSORBER_CM + ACTIVE_CM
HALF_WIDTH_CM = N_CELLS_XY * CELL_CM / 2.0  # 24 cm
DEPTH_CM = N_LAYERS * LAYER_PITCH_CM  # 90 cm

X0_CM = 1.757  # steel radiation length
LAMBDA_CM = 16.77  # steel nuclear interaction length
LAMBDA_PI_CM = 20.4  # pion interaction length in steel
MOLIERE_CM = 1.72
EC_GEV = 0.0217  # critical energy of steel
X0_PER_LAYER = ABSORBER_CM / X0_CM
LAMBDA_PER_LAYER = ABSORBER_CM / LAMBDA_CM

MIP_GEV = 0.030  # most probable MIP deposit per layer (EM scale)
THRESHOLD_GEV = 0.5 * MIP_GEV
NOISE_SIGMA_GEV = 0.1 * MIP_GEV
STOCH_EM = 0.21  # sqrt(GeV)
STOCH_HAD = 0.50  # sqrt(GeV)
H_OVER_E = 0.6  # visible fraction of the non-EM energy of a hadron shower (mean, spread)
H_OVER_E_SIGMA = 0.06
FEM_KAPPA = 6.0  # concentration (at 10 GeV, grows ~ sqrt(E)) of the Beta-distributed pion EM fraction
PI0_DOMINATED_PROB = 0.05  # pion showers whose first interaction goes (almost) all into pi0s
PILEUP_MEAN = 1.0  # mean (Poisson) number of soft pile-up particles per event ...
PILEUP_EM_FRACTION = 0.5  # ... photons/electrons with this probability, else charged pions ...
PILEUP_ENERGY_MIN_GEV = 1.0  # ... energy MIN + an exponential, MEAN on average ...
PILEUP_ENERGY_MEAN_GEV = 3.0
PILEUP_XY_CM = 12.0  # ... entering uniformly within +-12 cm in x and y

# Feature normalisation: features = (x / X_SCALE_CM, y / X_SCALE_CM, z / Z_SCALE_CM, E / E_SCALE_GEV)
X_SCALE_CM = HALF_WIDTH_CM  # 24 cm
Z_SCALE_CM = DEPTH_CM  # 90 cm
E_SCALE_GEV = 10.0
CALO_FEATURES = ("x", "y", "z", "E")

CALO_PARTICLES = ("electron", "pion")
_CELLS_PER_LAYER = N_CELLS_XY * N_CELLS_XY
_CELLS_PER_EVENT = N_LAYERS * _CELLS_PER_LAYER
_CHUNK_EVENTS = 2048
assert _CHUNK_EVENTS * _CELLS_PER_EVENT < 2**24  # cell keys must fit the packed sort in _calo_batch

# Circles
CIRCLES_SIZE = 64
CIRCLES_POINTS = 100
CIRCLES_FEATURES = ("x", "y", "grey")
CIRCLES_RADIUS = (5.0, 20.0)

KINDS = ("calo", "circles")


# ---------------------------------------------------------------------------------------------
# Calorimeter
# ---------------------------------------------------------------------------------------------
def _radial(rng, radius):
    """Radii from f(r) ~ r R^2 / (r^2 + R^2)^2 (the Grindhammer transverse form)."""
    u = rng.random(radius.shape, dtype=np.float32) * np.float32(0.995)
    return radius * np.sqrt(u / (1 - u))


def _azimuth(rng, n):
    """cos and sin of n uniform azimuths (float32 trigonometry is much faster and precise enough)."""
    phi = rng.random(n, dtype=np.float32) * np.float32(2.0 * np.pi)
    return np.cos(phi), np.sin(phi)


def _em_spots(rng, fi, sub_e, sub_l0, sub_start, sub_dir, jitter):
    """Sample EM spots. ``fi`` is the flat (event * n_sub + sub-shower) index of every spot; the
    per-sub-shower arrays have shape (B, n_sub) (``sub_dir``: (B, n_sub, 2)).

    Returns (depth in layer units, x offset cm, y offset cm) relative to the impact point.
    """
    # per sub-shower parameters (longitudinal gamma profile, Grindhammer transverse coefficients)
    b = 0.5
    tmax = np.maximum(np.log(np.maximum(sub_e, EC_GEV) / EC_GEV) - 0.5, 1.0)
    lne = np.log(np.maximum(sub_e, 0.1))
    per_sub = {
        "a": (1.0 + b * tmax) * jitter,
        "inv_tmax": 1.0 / tmax,
        "z1": MOLIERE_CM * (0.0251 + 0.00319 * lne),
        "k4": 0.3585 + 0.0421 * lne,
        "inv_p3": 1.0 / np.maximum(1.313 - 0.0686 * lne, 0.3),
        "start": sub_start,
        "l0": np.broadcast_to(sub_l0[:, None], sub_e.shape),
        "dirx": sub_dir[..., 0],
        "diry": sub_dir[..., 1],
    }
    # spot-level arithmetic in float32: ample precision, half the memory traffic
    g = {k: np.take(np.ascontiguousarray(v, dtype=np.float32).ravel(), fi) for k, v in per_sub.items()}
    t = rng.standard_gamma(g["a"], dtype=np.float32) * (1.0 / b)  # X0 from the sub-shower start
    depth = g["start"] + t * (1.0 / X0_PER_LAYER)
    tau = t * g["inv_tmax"]
    r_core = g["z1"] + (MOLIERE_CM * 0.106) * tau
    r_tail = (MOLIERE_CM * 0.579) * (np.exp(-2.59 * (tau - 0.645)) + np.exp(g["k4"] * (tau - 0.645)))
    arg = (0.4496 - tau) * g["inv_p3"]
    p_core = 2.608 * np.exp(arg - np.exp(arg))  # > 1 means always core
    core = rng.random(t.shape, dtype=np.float32) < p_core
    r = _radial(rng, np.where(core, r_core, r_tail))
    cos_phi, sin_phi = _azimuth(rng, t.shape[0])
    along = (depth - g["l0"]) * LAYER_PITCH_CM  # cm travelled since the first interaction
    dx = g["dirx"] * along + r * cos_phi
    dy = g["diry"] * along + r * sin_phi
    return depth, dx, dy


def _calo_batch(rng, labels, energy, n_vertices, noise_hits, pileup, feats, nvtx):
    """Fill feats (B, V, 4) and nvtx (B, 1) for one batch of events."""
    bsz = labels.shape[0]
    # --- showers: the primary particle of every event plus soft pile-up particles --------------
    n_pu = rng.poisson(pileup, bsz) if pileup > 0 else np.zeros(bsz, np.int64)
    pu_ev = np.repeat(np.arange(bsz), n_pu)
    n_tot_pu = pu_ev.shape[0]
    n_sh = bsz + n_tot_pu
    sh_ev = np.concatenate([np.arange(bsz), pu_ev])
    is_pi = np.concatenate([labels == 1, rng.random(n_tot_pu) >= PILEUP_EM_FRACTION])
    pu_e = PILEUP_ENERGY_MIN_GEV + rng.exponential(PILEUP_ENERGY_MEAN_GEV - PILEUP_ENERGY_MIN_GEV, n_tot_pu)
    sh_e = np.concatenate([energy, pu_e])
    x0 = np.concatenate([rng.uniform(-CELL_CM / 2, CELL_CM / 2, bsz),
                         rng.uniform(-PILEUP_XY_CM, PILEUP_XY_CM, n_tot_pu)])
    y0 = np.concatenate([rng.uniform(-CELL_CM / 2, CELL_CM / 2, bsz),
                         rng.uniform(-PILEUP_XY_CM, PILEUP_XY_CM, n_tot_pu)])
    n_pi = int(is_pi.sum())

    # --- per-shower parameters ---------------------------------------------------------------
    l0 = np.zeros(n_sh)  # first interaction depth (layer units); 0 for electrons
    l0[is_pi] = rng.exponential(LAMBDA_PI_CM / ABSORBER_CM, n_pi)
    fem = np.ones(n_sh)
    mean_fem = np.clip(1.0 - sh_e[is_pi] ** -0.18, 0.05, 0.95)
    kappa = FEM_KAPPA * np.sqrt(sh_e[is_pi] / 10.0)  # relative fluctuations shrink with energy
    fem_pi = rng.beta(kappa * mean_fem, kappa * (1.0 - mean_fem))
    pi0_dominated = rng.random(n_pi) < PI0_DOMINATED_PROB
    fem_pi[pi0_dominated] = rng.uniform(0.85, 1.0, int(pi0_dominated.sum()))
    fem[is_pi] = fem_pi
    h_vis = np.clip(rng.normal(H_OVER_E, H_OVER_E_SIGMA, n_sh), 0.2, 1.0)
    e_em = sh_e * fem
    e_had = sh_e * (1.0 - fem)
    punch = l0 >= N_LAYERS  # no shower inside the calorimeter
    e_em[punch] = 0.0
    e_had[punch] = 0.0

    # EM sub-showers: electrons use sub-shower 0 only; pions split E_em over three pi0 showers
    n_sub = 3
    frac = np.zeros((n_sh, n_sub))
    frac[:, 0] = 1.0
    g = rng.standard_gamma(1.0, (n_pi, n_sub))
    frac[is_pi] = g / g.sum(axis=1, keepdims=True)
    sub_e = e_em[:, None] * frac
    sub_start = np.repeat(l0[:, None], n_sub, axis=1)
    sub_start[is_pi] += rng.exponential(9.0 / 7.0 / X0_PER_LAYER, (n_pi, n_sub))
    sub_dir = np.zeros((n_sh, n_sub, 2))
    theta = np.abs(rng.normal(0.0, 0.12, (n_pi, n_sub)))
    az = rng.random((n_pi, n_sub)) * (2.0 * np.pi)
    sub_dir[is_pi, :, 0] = np.tan(theta) * np.cos(az)
    sub_dir[is_pi, :, 1] = np.tan(theta) * np.sin(az)
    jitter = np.exp(rng.normal(0.0, 0.06, (n_sh, n_sub)))
    jitter[is_pi] *= np.exp(rng.normal(0.0, 0.1, (n_pi, 1)))

    # --- EM spots -----------------------------------------------------------------------------
    k_em = np.where(e_em > 0, np.ceil(20.0 + 12.0 * np.sqrt(e_em)), 0)
    k_sub = np.ceil(k_em[:, None] * frac).astype(np.int64)
    fi = np.repeat(np.arange(n_sh * n_sub), k_sub.ravel())
    sh_em = fi // n_sub
    depth_em, dx_em, dy_em = _em_spots(rng, fi, sub_e, l0, sub_start, sub_dir, jitter)
    w_em = np.take((sub_e / np.maximum(k_sub, 1)).ravel(), fi)

    # --- hadronic spots -----------------------------------------------------------------------
    e_had_vis = e_had * h_vis
    k_had = np.where(e_had > 0, np.ceil(24.0 + 14.0 * np.sqrt(e_had)), 0).astype(np.int64)
    sh_h = np.repeat(np.arange(n_sh), k_had)
    shape_h = (2.0 + 0.3 * np.log(sh_e)) * np.exp(rng.normal(0.0, 0.25, n_sh))
    t_h = rng.standard_gamma(shape_h.astype(np.float32)[sh_h], dtype=np.float32) * 0.45  # lambda_I
    depth_h = l0.astype(np.float32)[sh_h] + t_h * (1.0 / LAMBDA_PER_LAYER)
    halo = rng.random(t_h.shape, dtype=np.float32) < 0.35
    r_h = _radial(rng, np.where(halo, 7.0 * (1.0 + 0.3 * t_h), 2.0 * (1.0 + 0.6 * t_h)))
    cos_phi, sin_phi = _azimuth(rng, t_h.shape[0])
    dx_h = r_h * cos_phi
    dy_h = r_h * sin_phi
    w_h = (e_had_vis / np.maximum(k_had, 1))[sh_h]

    # --- MIP track of a pion before its first interaction -------------------------------------
    n_mip = np.where(is_pi, np.minimum(np.floor(l0), N_LAYERS), 0).astype(np.int64)
    sh_m = np.repeat(np.arange(n_sh), n_mip)
    starts = np.cumsum(n_mip) - n_mip
    layer_m = np.arange(sh_m.shape[0]) - starts[sh_m]
    w_m = MIP_GEV * np.exp(rng.normal(0.0, 0.25, sh_m.shape[0]))

    # --- noise hits in random cells ----------------------------------------------------------
    n_noise = rng.poisson(noise_hits, bsz) if noise_hits > 0 else np.zeros(bsz, np.int64)
    ev_n = np.repeat(np.arange(bsz), n_noise)
    cell_n = rng.integers(0, _CELLS_PER_EVENT, ev_n.shape[0])
    w_n = THRESHOLD_GEV * (1.0 + rng.exponential(0.15, ev_n.shape[0]))

    # --- histogram into cells -----------------------------------------------------------------
    sh_all = np.concatenate([sh_em, sh_h, sh_m])
    ev_all = sh_ev[sh_all]
    layer = np.concatenate([depth_em, depth_h, layer_m + np.float32(0.5)]).astype(np.int64)  # floor
    xs = np.concatenate([dx_em, dx_h, np.zeros(sh_m.shape[0], np.float32)]) + x0.astype(np.float32)[sh_all]
    ys = np.concatenate([dy_em, dy_h, np.zeros(sh_m.shape[0], np.float32)]) + y0.astype(np.float32)[sh_all]
    ix = np.floor((xs + HALF_WIDTH_CM) / CELL_CM).astype(np.int64)
    iy = np.floor((ys + HALF_WIDTH_CM) / CELL_CM).astype(np.int64)
    w = np.concatenate([w_em, w_h, w_m])
    ok = (w > 0) & (layer < N_LAYERS) & (ix >= 0) & (ix < N_CELLS_XY) & (iy >= 0) & (iy < N_CELLS_XY)
    key = ev_all * _CELLS_PER_EVENT + (layer * N_CELLS_XY + iy) * N_CELLS_XY + ix
    key = np.concatenate([key[ok], ev_n * _CELLS_PER_EVENT + cell_n])
    w = w[ok]
    var = np.concatenate([w_em * STOCH_EM**2, w_h * STOCH_HAD**2, np.zeros(sh_m.shape[0])])[ok]
    # group entries by cell: sort (cell key, entry index) packed into one int64 -- a plain sort
    # is about twice as fast as argsort. key < 2^24 (checked by the chunk size), index < 2^39.
    packed = np.sort((key << 39) | np.arange(key.shape[0], dtype=np.int64))
    order = packed & ((1 << 39) - 1)
    key = packed >> 39
    first = np.empty(key.shape[0], dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    cells = key[first]
    inv = np.cumsum(first) - 1
    e_c = np.bincount(inv, weights=np.concatenate([w, w_n])[order], minlength=cells.shape[0])
    v_c = np.bincount(inv, weights=np.concatenate([var, np.zeros(w_n.shape[0])])[order],
                      minlength=cells.shape[0])
    v_c = np.maximum(v_c, 1e-12 * e_c)  # MIP / noise-only cells: no sampling term
    signal = np.bincount(inv, weights=(order < w.shape[0]), minlength=cells.shape[0]) > 0

    # sampling fluctuations (gamma with mean E, variance a^2 E) and electronics noise on cells
    # with a deposit (noise-only hits already are the above-threshold tail of that noise)
    e_c = rng.gamma(e_c * e_c / v_c, v_c / e_c)
    e_c += rng.normal(0.0, NOISE_SIGMA_GEV, cells.shape[0]) * signal

    # --- hits: threshold, sort by energy within event, truncate to V ---------------------------
    above = e_c > THRESHOLD_GEV
    sel, e_hit = cells[above], e_c[above]
    ev_hit = sel // _CELLS_PER_EVENT
    # sort by (event, energy descending) with one integer key: the bit patterns of positive
    # float32 numbers are ordered like the numbers
    e_hit = e_hit.astype(np.float32)
    order = np.argsort((ev_hit << 31) | (0x7FFFFFFF - e_hit.view(np.int32)).astype(np.int64))
    sel, e_hit, ev_hit = sel[order], e_hit[order], ev_hit[order]
    counts = np.bincount(ev_hit, minlength=bsz)
    first = np.cumsum(counts) - counts
    rank = np.arange(sel.shape[0]) - first[ev_hit]
    keep = rank < n_vertices
    sel, e_hit, ev_hit, rank = sel[keep], e_hit[keep], ev_hit[keep], rank[keep]
    cell = sel % _CELLS_PER_EVENT
    layer = cell // _CELLS_PER_LAYER
    iy = (cell // N_CELLS_XY) % N_CELLS_XY
    ix = cell % N_CELLS_XY
    feats[ev_hit, rank, 0] = ((ix + 0.5) * CELL_CM - HALF_WIDTH_CM) / X_SCALE_CM
    feats[ev_hit, rank, 1] = ((iy + 0.5) * CELL_CM - HALF_WIDTH_CM) / X_SCALE_CM
    feats[ev_hit, rank, 2] = (layer * LAYER_PITCH_CM + ABSORBER_CM + ACTIVE_CM / 2) / Z_SCALE_CM
    feats[ev_hit, rank, 3] = e_hit / E_SCALE_GEV
    nvtx[:, 0] = np.minimum(counts, n_vertices)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise UserError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable of /proc/meminfo), None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(n_events, bytes_per_event, what):
    """Refuse (one line) a data set that cannot fit in memory, before allocating it."""
    need = int(n_events) * int(bytes_per_event)
    avail = available_memory()
    if avail is not None and need > avail:
        gib = 1024 ** 3
        most = max(1, avail // max(1, bytes_per_event))
        raise UserError(f"{n_events} {what} events need {need / gib:.1f} GiB of memory, but only "
                        f"{avail / gib:.1f} GiB are available; use at most {most} events")


def _rng(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(seed)


def generate_calo(
    n_events,
    n_vertices=128,
    seed=0,
    particles=CALO_PARTICLES,
    energy_range=(10.0, 100.0),
    noise_hits=8.0,
    pileup=PILEUP_MEAN,
):
    """Single electrons / charged pions in the synthetic calorimeter described in the module docstring.

    Args:
        n_events: number of events.
        n_vertices: V, hit slots per event (the most energetic hits are kept, the rest is padding).
        seed: seed of the numpy random generator; the same seed gives identical arrays.
        particles: subset of ``("electron", "pion")`` (or a single name); classes are balanced
            exactly (up to one event) and shuffled.
        energy_range: (min, max) of the uniform true-energy distribution in GeV.
        noise_hits: mean number of noise hits per event (Poisson).
        pileup: mean number of soft pile-up particles per event (Poisson); 0 for clean events.

    Returns:
        dict with ``features`` (N, V, 4) float32, ``nvtx`` (N, 1) int32, ``label`` (N,) int32
        (0 electron, 1 pion), ``energy`` (N,) float32 in GeV, ``feature_names``, ``kind`` = 'calo'.
    """
    n_events = _check_positive_int("number of events", n_events)
    n_vertices = _check_positive_int("number of vertices", n_vertices)
    if isinstance(particles, str):
        particles = (particles,)
    particles = tuple(particles)
    unknown = [p for p in particles if p not in CALO_PARTICLES]
    if not particles or unknown or len(set(particles)) != len(particles):
        raise UserError(f"particles must be a non-empty subset of {CALO_PARTICLES}, got {particles!r}")
    e_lo, e_hi = (float(v) for v in energy_range)
    if not (0.1 <= e_lo <= e_hi <= 1.0e4):
        raise UserError(f"energy_range must satisfy 0.1 <= min <= max <= 10000 GeV, got {energy_range!r}")
    for name, value in (("noise_hits", noise_hits), ("pileup", pileup)):
        if not np.isfinite(value) or value < 0:
            raise UserError(f"{name} must be >= 0, got {value!r}")

    # features (float32) + nvtx, label, energy (float64 while generating, float32 copy at the end)
    _check_memory(n_events, n_vertices * len(CALO_FEATURES) * 4 + 4 + 4 + 8 + 4, "calo")
    rng = _rng(seed)
    codes = np.array([CALO_PARTICLES.index(p) for p in particles], dtype=np.int32)
    label = rng.permutation(codes[np.arange(n_events) % len(codes)]).astype(np.int32)
    energy = rng.uniform(e_lo, e_hi, n_events)
    features = np.zeros((n_events, n_vertices, len(CALO_FEATURES)), dtype=np.float32)
    nvtx = np.zeros((n_events, 1), dtype=np.int32)
    for start in range(0, n_events, _CHUNK_EVENTS):
        stop = min(start + _CHUNK_EVENTS, n_events)
        _calo_batch(rng, label[start:stop], energy[start:stop], n_vertices, float(noise_hits),
                    float(pileup), features[start:stop], nvtx[start:stop])
    return {
        "features": features,
        "nvtx": nvtx,
        "label": label,
        "energy": energy.astype(np.float32),
        "feature_names": np.array(CALO_FEATURES),
        "kind": "calo",
    }


# ---------------------------------------------------------------------------------------------
# Circles vs noise
# ---------------------------------------------------------------------------------------------
def generate_circles(n_events, seed=0, n_points=CIRCLES_POINTS):
    """The "circles vs noise" point clouds (see the module docstring).

    Returns:
        dict with ``features`` (N, n_points, 3) float32 = (iX/64, iY/64, grey), ``nvtx`` (N, 1)
        int32 (all n_points), ``label`` (N,) int32 (1 = circle), ``feature_names``, ``kind``.
    """
    n_events = _check_positive_int("number of events", n_events)
    n_points = _check_positive_int("number of points", n_points)
    size = CIRCLES_SIZE
    if n_points > size * size:
        raise UserError(f"number of points must be <= {size * size}, got {n_points}")
    _check_memory(n_events, n_points * 3 * 4 + 4 + 4, "circles")
    rng = _rng(seed)
    label = rng.permutation(np.arange(n_events) % 2).astype(np.int32)
    features = np.zeros((n_events, n_points, 3), dtype=np.float32)
    coords = np.arange(size, dtype=np.float32) + 0.5  # pixel centres
    chunk = 1024
    for start in range(0, n_events, chunk):
        stop = min(start + chunk, n_events)
        bsz = stop - start
        mean = np.where(rng.random(bsz) < 0.5, 0.3, 0.7).astype(np.float32)
        radius = rng.uniform(*CIRCLES_RADIUS, bsz).astype(np.float32)
        cx = radius + rng.random(bsz, dtype=np.float32) * (size - 2 * radius)
        cy = radius + rng.random(bsz, dtype=np.float32) * (size - 2 * radius)
        inside = ((coords[None, None, :] - cx[:, None, None]) ** 2
                  + (coords[None, :, None] - cy[:, None, None]) ** 2) <= (radius**2)[:, None, None]
        inside &= (label[start:stop] == 1)[:, None, None]
        # circle pixels Gauss(0.9, 0.1), background Gauss(m, 0.1): same width, different mean
        img = rng.standard_normal((bsz, size, size), dtype=np.float32) * np.float32(0.1)
        img += np.where(inside, np.float32(0.9), mean[:, None, None])
        img = img.reshape(bsz, size * size)
        dist = np.abs(img - np.float32(1.0))
        idx = np.argpartition(dist, n_points - 1, axis=1)[:, :n_points]
        idx = np.take_along_axis(idx, np.argsort(np.take_along_axis(dist, idx, axis=1), axis=1), axis=1)
        out = features[start:stop]
        out[:, :, 0] = (idx % size) / size
        out[:, :, 1] = (idx // size) / size
        out[:, :, 2] = np.take_along_axis(img, idx, axis=1)
    return {
        "features": features,
        "nvtx": np.full((n_events, 1), n_points, dtype=np.int32),
        "label": label,
        "feature_names": np.array(CIRCLES_FEATURES),
        "kind": "circles",
    }


# ---------------------------------------------------------------------------------------------
# .npz I/O
# ---------------------------------------------------------------------------------------------
_REQUIRED = ("features", "nvtx", "label", "feature_names", "kind")
_KEYS = _REQUIRED + ("energy",)


def _one_line(text):
    return " ".join(str(text).split())


def _validate(data, where):
    """Check ``data`` (dict of arrays) against the schema; return a new dict with numpy arrays and
    ``kind`` as a str. Problems raise a one-line UserError starting with ``where``."""

    def bad(problem):
        return UserError(_one_line(f"{where}: {problem}"))

    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise bad(f"missing key(s) {', '.join(missing)}")
    out = {k: np.asarray(data[k]) for k in _KEYS if k in data}

    kind = out["kind"]
    if kind.ndim != 0 or kind.dtype.kind != "U" or str(kind) not in KINDS:
        raise bad(f"kind must be one of {', '.join(KINDS)}")
    out["kind"] = kind = str(kind)
    if kind == "calo" and "energy" not in out:
        raise bad("missing key(s) energy (required for kind 'calo')")

    feats = out["features"]
    if feats.ndim != 3:
        raise bad(f"features must have shape (N, V, F), got {feats.shape}")
    n, v, f = feats.shape
    expected = {
        "features": (np.float32, (n, v, f)),
        "nvtx": (np.int32, (n, 1)),
        "label": (np.int32, (n,)),
        "feature_names": (None, (f,)),
    }
    if "energy" in out:
        expected["energy"] = (np.float32, (n,))
    for key, (dtype, shape) in expected.items():
        arr = out[key]
        if arr.shape != shape:
            raise bad(f"{key} has shape {arr.shape}, expected {shape}")
        if dtype is not None and arr.dtype != dtype:
            raise bad(f"{key} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if out["feature_names"].dtype.kind != "U":
        raise bad(f"feature_names must be strings, got dtype {out['feature_names'].dtype}")
    nvtx = out["nvtx"]
    if n and (nvtx.min() < 0 or nvtx.max() > v):
        raise bad(f"nvtx out of range [0, {v}] (found {nvtx.min()}..{nvtx.max()})")
    if n and out["label"].min() < 0:
        raise bad("label has negative values")
    if not np.isfinite(feats).all():
        raise bad("features contain NaN or infinity")
    if "energy" in out and not np.isfinite(out["energy"]).all():
        raise bad("energy contains NaN or infinity")
    return out


def save_npz(path, data, compress=False):
    """Validate ``data`` (a dict following the schema) and write it to ``path`` atomically (temp
    file in the same directory, then ``os.replace``); parent directories are created. The path is
    used as given (no ``.npz`` is appended)."""
    path = os.fspath(path)
    arrays = _validate(data, f"cannot save {path}")

    def write(fh):
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())

    paths.write_output(path, write, "events file", binary=True)


def load_npz(path):
    """Load and validate a data set written by ``save_npz`` (or by hand following the schema).

    Returns a dict like the generators' (``kind`` as a str; unknown keys are dropped). Raises
    UserError (one line, naming the file) if the file is missing, unreadable, not an .npz archive
    or does not follow the schema.
    """
    path = os.fspath(path)

    def bad(problem):
        return UserError(_one_line(f"{path}: {problem}"))

    if not os.path.exists(path):
        raise bad("no such file")
    if os.path.isdir(path):
        raise bad("is a directory, expected an .npz file")
    if not zipfile.is_zipfile(path):
        raise bad("not an .npz archive (corrupt or wrong format)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files if k in _KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise bad(f"cannot read .npz archive: {exc}") from None
    return _validate(data, path)


def _benchmark(n=20000, n_vertices=128):
    """Print the generation speed (wall clock and CPU time of this process, which is what counts
    on a busy machine)."""
    for name, fn in (("calo", lambda: generate_calo(n, n_vertices=n_vertices, seed=1)),
                     ("circles", lambda: generate_circles(n, seed=1))):
        wall, cpu = time.perf_counter(), time.process_time()
        data = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        extra = f", V={n_vertices}, mean nvtx {data['nvtx'].mean():.1f}" if name == "calo" else ""
        print(f"{name}: {n} events in {wall:.2f} s wall = {n / wall:,.0f} events/s "
              f"({n / cpu:,.0f} events/s of CPU time){extra}")


if __name__ == "__main__":
    _benchmark()
