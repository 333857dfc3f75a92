"""garnet_hls.physics.metrics: resolution estimators and baselines on synthetic data with known answers."""

import math

import numpy as np
import pytest

from garnet_hls.physics import metrics as physics
from garnet_hls.physics.data import E_SCALE_GEV, X_SCALE_CM, Z_SCALE_CM, generate_calo
from garnet_hls.errors import UserError
from garnet_hls.physics.train import baselines, roc_auc


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# ---------------------------------------------------------------------------------------------------
# core resolution
# ---------------------------------------------------------------------------------------------------

def test_core_gaussian_recovers_a_pure_gaussian():
    x = np.random.default_rng(1).normal(1.02, 0.05, 200000)
    mu, sigma = physics.core_gaussian(x)
    assert mu == pytest.approx(1.02, abs=5e-4)
    assert sigma == pytest.approx(0.05, rel=0.01)
    assert physics.iqr_sigma(x) == pytest.approx(0.05, rel=0.01)
    st = physics.response_stats(x)
    assert st["tail_fraction"] == pytest.approx(2 * (1 - _phi(3.0)), abs=0.0006)  # 0.27 %


def test_core_gaussian_ignores_tails_that_inflate_the_std():
    rng = np.random.default_rng(2)
    core = rng.normal(0.95, 0.04, 90000)
    low = rng.uniform(0.2, 0.7, 8000)  # late starts / leakage
    high = rng.uniform(1.3, 2.0, 2000)  # pile-up
    st = physics.response_stats(np.r_[core, low, high])
    assert st["core_mean"] == pytest.approx(0.95, abs=0.001) and st["response"] == st["core_mean"]
    assert st["core_sigma"] == pytest.approx(0.04, rel=0.03)
    assert st["resolution"] == pytest.approx(0.04 / 0.95, rel=0.03)
    assert st["tail_low"] == pytest.approx(0.08, abs=0.003)
    assert st["tail_high"] == pytest.approx(0.02, abs=0.002)
    assert st["tail_fraction"] == pytest.approx(st["tail_low"] + st["tail_high"])
    assert st["std"] > 3 * st["core_sigma"]
    assert st["n"] == 100000


def test_response_stats_degenerate_inputs():
    assert physics.response_stats([])["n"] == 0 and physics.response_stats([])["response"] is None
    st = physics.response_stats(np.ones(50))
    assert (st["response"], st["core_sigma"], st["resolution"], st["tail_fraction"]) == (1.0, 0.0, 0.0, 0.0)
    assert np.isnan(physics.core_gaussian([1.0, 2.0])[1])  # too few values
    assert physics.response_stats([1.0, np.inf, np.nan, 2.0])["n"] == 2  # non-finite values dropped


def test_resolution_error_matches_the_spread_of_toy_experiments():
    rng = np.random.default_rng(8)
    e = np.full(400, 50.0)
    sigmas = [physics.binned_response(1.0 + 0.05 * rng.normal(size=400), e, (40.0, 60.0))[0] for _ in range(300)]
    spread = np.std([b["resolution"] for b in sigmas])
    assert np.mean([b["resolution_err"] for b in sigmas]) == pytest.approx(spread, rel=0.15)


def test_fit_resolution_recovers_stochastic_and_constant_terms():
    e = np.array([10.0, 20.0, 40.0, 70.0, 100.0])
    r = np.sqrt(0.5**2 / e + 0.04**2)
    fit = physics.fit_resolution(e, r, 0.01 * r)
    assert fit["a"] == pytest.approx(0.5, rel=1e-9) and fit["b"] == pytest.approx(0.04, rel=1e-9)
    assert fit["chi2_ndf"] == pytest.approx(0.0, abs=1e-12) and fit["n_points"] == 5
    # a pure stochastic term: b is held at 0, not fitted negative
    r = 0.21 / np.sqrt(e) * np.array([1.0, 0.97, 1.02, 0.99, 0.96])
    fit = physics.fit_resolution(e, r)
    assert fit["b"] >= 0.0 and fit["a"] == pytest.approx(0.21, rel=0.03)
    assert physics.fit_resolution([10.0], [0.1]) is None


def test_binned_resolution_curve_of_a_known_calorimeter():
    rng = np.random.default_rng(3)
    e = rng.uniform(10.0, 100.0, 90000)
    ratio = 1.0 + rng.normal(size=e.size) * np.sqrt(0.3**2 / e + 0.02**2)
    cur = physics.resolution_curve(ratio, e)
    assert [b["lo"] for b in cur["bins"]] == list(physics.ENERGY_BINS[:-1])
    assert sum(b["n"] for b in cur["bins"]) == e.size  # 100 GeV falls in the last bin
    assert cur["fit"]["a"] == pytest.approx(0.3, rel=0.05)
    assert cur["fit"]["b"] == pytest.approx(0.02, abs=0.006)
    for b in cur["bins"]:
        expect = math.sqrt(0.3**2 / b["e_mean"] + 0.02**2)
        assert b["resolution"] == pytest.approx(expect, rel=0.1)
        assert 0 < b["resolution_err"] < 0.05 * b["resolution"]


# ---------------------------------------------------------------------------------------------------
# energy-sum baseline
# ---------------------------------------------------------------------------------------------------

def test_perfectly_calibrated_sum_has_response_one():
    rng = np.random.default_rng(4)
    e_train, e_eval = rng.uniform(10, 100, 5000), rng.uniform(10, 100, 3000)
    cal = physics.SumCalibration().fit(e_train, e_train)
    np.testing.assert_allclose(cal.apply(e_eval), e_eval, rtol=1e-12)
    st = physics.response_stats(cal.apply(e_eval) / e_eval)
    assert st["response"] == pytest.approx(1.0, abs=1e-12) and st["core_sigma"] == pytest.approx(0.0, abs=1e-12)


def test_calibration_inverts_a_nonlinear_smeared_response():
    """visible = 0.6 E^1.05 (1 + 0.06 N): after calibration response 1 and core sigma 0.06 in every bin."""
    rng = np.random.default_rng(5)

    def visible(e):
        return 0.6 * e**1.05 * (1.0 + 0.06 * rng.normal(size=e.size))

    e_train, e_eval = rng.uniform(10, 100, 40000), rng.uniform(10, 100, 40000)
    cal = physics.SumCalibration().fit(visible(e_train), e_train)
    assert np.all(np.diff(cal.visible) > 0) and len(cal.to_dict()["true_gev"]) == 10
    ratio = cal.apply(visible(e_eval)) / e_eval
    cur = physics.resolution_curve(ratio, e_eval)
    for b in cur["bins"][1:-1]:  # inside the fitted range
        assert b["response"] == pytest.approx(1.0, abs=0.01)
        assert b["core_sigma"] == pytest.approx(0.06 / 1.05 * b["response"], rel=0.1)  # d ln E = d ln vis / 1.05
    assert physics.response_stats(ratio)["response"] == pytest.approx(1.0, abs=0.005)


def test_per_class_and_inclusive_calibration():
    rng = np.random.default_rng(6)
    n = 20000
    lab_tr, lab_ev = np.arange(n) % 2, np.arange(n) % 2
    e_tr, e_ev = rng.uniform(10, 100, n), rng.uniform(10, 100, n)
    scale = np.array([0.95, 0.70])  # electrons and pions see different fractions
    vis_tr, vis_ev = e_tr * scale[lab_tr], e_ev * scale[lab_ev]
    inclusive, per_class, cals = physics.calibrated_sums(vis_tr, e_tr, lab_tr, vis_ev, lab_ev)
    np.testing.assert_allclose(per_class, e_ev, rtol=2e-3)  # each class's own curve: response 1
    r_incl = inclusive / e_ev
    assert np.median(r_incl[lab_ev == 0]) > 1.1 and np.median(r_incl[lab_ev == 1]) < 0.9
    assert set(cals) == {"inclusive", 0, 1}
    with pytest.raises(UserError):
        physics.SumCalibration().fit([1.0], [1.0])


def test_energy_sum_and_shower_shapes_by_hand():
    f = np.zeros((2, 4, 4), dtype=np.float32)
    # event 0: hits of 2 and 6 GeV at x = -3 cm and +1 cm (y = 0), depths 9 cm and 18 cm
    f[0, 0] = [-3 / X_SCALE_CM, 0, 9 / Z_SCALE_CM, 2 / E_SCALE_GEV]
    f[0, 1] = [1 / X_SCALE_CM, 0, 18 / Z_SCALE_CM, 6 / E_SCALE_GEV]
    f[0, 2] = [0.5, 0.5, 0.5, 5 / E_SCALE_GEV]  # beyond nvtx: ignored
    f[1, 0] = [0, 0, 0.1, 1 / E_SCALE_GEV]
    nvtx = np.array([[2], [1]])
    np.testing.assert_allclose(physics.energy_sum(f, nvtx), [8.0, 1.0], rtol=1e-6)
    sh = physics.shower_shapes(f, nvtx)
    assert sh["depth"][0] == pytest.approx((2 * 9 + 6 * 18) / 8, rel=1e-6)
    # centroid x = 0, so the width is sqrt((2 * 9 + 6 * 1) / 8) = sqrt(3) cm
    assert sh["width"][0] == pytest.approx(math.sqrt(3.0), rel=1e-5)
    assert sh["width"][1] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_array_equal(sh["n_hits"], [2, 1])
    with pytest.raises(UserError):
        physics.energy_sum(np.zeros((2, 4, 3)))


# ---------------------------------------------------------------------------------------------------
# shower-shape baseline and efficiencies
# ---------------------------------------------------------------------------------------------------

def test_shape_likelihood_reaches_the_optimal_auc_of_two_gaussians():
    """Unit Gaussians shifted by (1, 1): the likelihood ratio's AUC is Phi(sqrt(2) / sqrt(2)) = 0.8413."""
    rng = np.random.default_rng(7)

    def sample(n):
        lab = np.arange(n) % 2
        return rng.normal(lab, 1.0), rng.normal(lab, 1.0), lab

    lik = physics.ShapeLikelihood().fit(*sample(60000))
    u, v, lab = sample(60000)
    assert roc_auc(lab, lik.score(u, v)) == pytest.approx(_phi(1.0), abs=0.006)
    # one variable alone gives Phi(1 / sqrt(2)) = 0.760
    assert roc_auc(lab, u) == pytest.approx(_phi(1 / math.sqrt(2)), abs=0.006)


def test_misid_at_efficiency():
    label = np.r_[np.zeros(100), np.ones(100)]
    score = np.r_[np.arange(100.0), np.arange(100.0) + 90.0]  # pions overlap the top 10 electrons
    # the cut keeping 95 % of the electrons is at 94.05: pions 90..94 pass
    assert physics.misid_at_efficiency(label, score, 0.95) == pytest.approx(0.05)
    assert physics.misid_at_efficiency(label, score + 1000 * label, 0.95) == 0.0
    assert np.isnan(physics.misid_at_efficiency(np.ones(4), np.arange(4.0)))


def test_baselines_on_calorimeter_events():
    """On built-in events the calibrated sum has response ~1 per class and electrons resolve better than
    pions; the shower-shape likelihood separates e/pi well (the module doc quotes 0.9-0.97 for one
    variable)."""
    train_set = generate_calo(3000, n_vertices=64, seed=11)
    eval_set = generate_calo(2000, n_vertices=64, seed=12)
    base, arrays = baselines(train_set, eval_set)
    per_class = base["energy_sum"]["per_class"]["energy"]
    assert per_class["electron"]["response"] == pytest.approx(1.0, abs=0.03)
    assert per_class["pion"]["response"] == pytest.approx(1.0, abs=0.05)
    assert per_class["electron"]["resolution"] < per_class["pion"]["resolution"]
    assert base["energy_sum"]["visible_response"]["n"] == 2000
    incl = base["energy_sum"]["inclusive"]["energy"]
    assert incl["electron"]["response"] > per_class["electron"]["response"]  # one curve for both classes
    assert incl["pion"]["response"] < per_class["pion"]["response"]
    sh = base["shower_shape"]
    assert sh["auc"] > max(sh["single_variable_auc"]["depth"], sh["single_variable_auc"]["width"]) - 0.005
    assert sh["auc"] > 0.9 and 0.0 <= sh["pion_misid_at_e95"] < 0.5
    assert arrays["shape_score"].shape == (2000,) and arrays["energy_sum_inclusive"].shape == (2000,)
    assert baselines({**train_set, "features": train_set["features"][..., :3]}, eval_set) == (None, None)
