"""Tests of the built-in data sets (garnet_hls.physics.data): generators, physics sanity, .npz I/O, and their
command (garnet_hls.flows.data)."""

import argparse
import os
import sys

import numpy as np
import pytest

from garnet_hls.physics.data import (
    CALO_FEATURES,
    CIRCLES_FEATURES,
    E_SCALE_GEV,
    THRESHOLD_GEV,
    X_SCALE_CM,
    Z_SCALE_CM,
    generate_calo,
    generate_circles,
    load_npz,
    save_npz,
)
from garnet_hls.errors import UserError
from garnet_hls.flows.data import add_cli


@pytest.fixture(scope="module")
def calo():
    return generate_calo(4000, seed=11)


@pytest.fixture(scope="module")
def clean_calo():
    """Without pile-up or noise hits: the primary particle only."""
    return generate_calo(4000, seed=12, pileup=0, noise_hits=0)


@pytest.fixture(scope="module")
def circles():
    return generate_circles(1000, seed=5)


def _shower_moments(data):
    f = data["features"].astype(np.float64)
    e = f[..., 3] * E_SCALE_GEV
    esum = e.sum(axis=1)
    x, y, z = f[..., 0] * X_SCALE_CM, f[..., 1] * X_SCALE_CM, f[..., 2] * Z_SCALE_CM
    zmean = (e * z).sum(axis=1) / esum
    xm = (e * x).sum(axis=1) / esum
    ym = (e * y).sum(axis=1) / esum
    width = np.sqrt((e * ((x - xm[:, None]) ** 2 + (y - ym[:, None]) ** 2)).sum(axis=1) / esum)
    return esum, zmean, width


def _assert_one_line_error(excinfo, *fragments):
    msg = str(excinfo.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


# --------------------------------------------------------------------------------- calorimeter
def test_calo_schema(calo):
    n, v = 4000, 128
    assert set(calo) == {"features", "nvtx", "label", "energy", "feature_names", "kind"}
    assert calo["features"].shape == (n, v, 4) and calo["features"].dtype == np.float32
    assert calo["nvtx"].shape == (n, 1) and calo["nvtx"].dtype == np.int32
    assert calo["label"].shape == (n,) and calo["label"].dtype == np.int32
    assert calo["energy"].shape == (n,) and calo["energy"].dtype == np.float32
    assert list(calo["feature_names"]) == list(CALO_FEATURES)
    assert calo["kind"] == "calo"
    assert set(np.unique(calo["label"])) == {0, 1}
    assert abs(int((calo["label"] == 1).sum()) - n // 2) <= 1  # balanced
    assert calo["energy"].min() >= 10.0 and calo["energy"].max() <= 100.0
    assert calo["nvtx"].min() > 0 and calo["nvtx"].max() <= v
    assert np.isfinite(calo["features"]).all()


def test_calo_features_normalised(calo):
    f, nvtx = calo["features"], calo["nvtx"][:, 0]
    valid = np.arange(f.shape[1])[None, :] < nvtx[:, None]
    hits = f[valid]
    assert np.abs(hits[:, :2]).max() < 1.0
    assert hits[:, 2].min() > 0.0 and hits[:, 2].max() < 1.0
    assert hits[:, 3].min() > THRESHOLD_GEV / E_SCALE_GEV * 0.999
    assert hits[:, 3].max() < 10.0


def test_calo_padding_and_nvtx(calo):
    f, nvtx = calo["features"], calo["nvtx"][:, 0]
    valid = np.arange(f.shape[1])[None, :] < nvtx[:, None]
    assert np.all(f[~valid] == 0.0)  # padding rows exactly zero
    nonzero_rows = np.any(f != 0.0, axis=2)
    assert np.array_equal(nonzero_rows, valid)  # every valid row is non-zero
    assert np.array_equal(nonzero_rows.sum(axis=1), nvtx)
    # most pion events overflow a small V; nvtx then equals V
    small = generate_calo(300, n_vertices=16, seed=2)
    assert small["features"].shape == (300, 16, 4)
    assert small["nvtx"].max() == 16 and np.all(small["nvtx"] <= 16)


def test_calo_hits_sorted_by_energy(calo):
    e = calo["features"][..., 3]
    assert np.all(np.diff(e, axis=1)[:, :] <= 0.0)  # padding (0) comes after the smallest hit


def test_calo_truncation_keeps_most_energetic():
    full = generate_calo(200, n_vertices=1000, seed=9)
    short = generate_calo(200, n_vertices=32, seed=9)
    np.testing.assert_array_equal(short["features"], full["features"][:, :32])
    np.testing.assert_array_equal(short["nvtx"][:, 0], np.minimum(full["nvtx"][:, 0], 32))
    assert full["nvtx"].max() > 128  # pions do have more hits than the default V


def test_calo_reproducible_and_seed_dependent():
    a = generate_calo(700, seed=3)
    b = generate_calo(700, seed=3)
    for key in ("features", "nvtx", "label", "energy"):
        np.testing.assert_array_equal(a[key], b[key])
    c = generate_calo(700, seed=4)
    assert not np.array_equal(a["features"], c["features"])
    assert not np.array_equal(a["energy"], c["energy"])


def test_calo_particle_selection():
    e = generate_calo(300, seed=1, particles=("electron",))
    p = generate_calo(300, seed=1, particles="pion")
    assert np.all(e["label"] == 0) and np.all(p["label"] == 1)
    # chunks of events of different composition: batches larger than the internal chunk work too
    big = generate_calo(2500, n_vertices=8, seed=1, energy_range=(20.0, 20.0))
    assert np.all(big["energy"] == 20.0)


def test_calo_longitudinal_and_transverse_shapes(clean_calo):
    _, zmean, width = _shower_moments(clean_calo)
    lab = clean_calo["label"]
    # electron showers peak after a few X0 (~6-8 X0 = 4-6 layers of 3 cm)
    assert 8.0 < np.median(zmean[lab == 0]) < 25.0
    # pions shower deeper and wider
    assert np.median(zmean[lab == 1]) > np.median(zmean[lab == 0]) + 10.0
    assert np.median(width[lab == 1]) > 1.5 * np.median(width[lab == 0])
    # and have more hits
    nv = clean_calo["nvtx"][:, 0]
    assert np.median(nv[lab == 1]) > 1.5 * np.median(nv[lab == 0])


def test_calo_energy_response(clean_calo):
    esum, _, _ = _shower_moments(clean_calo)
    lab, energy = clean_calo["label"], clean_calo["energy"].astype(np.float64)
    ele, pi = lab == 0, lab == 1
    assert np.corrcoef(esum[ele], energy[ele])[0, 1] > 0.99
    assert np.corrcoef(esum[pi], energy[pi])[0, 1] > 0.7
    r_e, r_pi = esum[ele] / energy[ele], esum[pi] / energy[pi]
    assert 0.95 < np.median(r_e) < 1.05  # EM scale
    assert 0.6 < np.median(r_pi) < 0.9  # invisible energy, leakage: lower pion response
    # resolution: pions much worse than electrons
    iqr = lambda r: np.subtract(*np.percentile(r, [84, 16])) / 2 / np.median(r)  # noqa: E731
    assert iqr(r_pi) > 2.0 * iqr(r_e)
    # electron stochastic term: relative resolution improves with energy (~ 21 %/sqrt(E))
    lo, hi = ele & (energy < 25), ele & (energy > 75)
    s_lo, s_hi = iqr(esum[lo] / energy[lo]), iqr(esum[hi] / energy[hi])
    assert 0.025 < s_lo < 0.09 and 0.01 < s_hi < 0.04 and s_hi < 0.7 * s_lo


def test_calo_default_energy_correlation_and_overlap(calo):
    """With pile-up and noise the visible energy still tracks the true energy, and the classes
    overlap: no single shower-shape variable separates them perfectly."""
    esum, zmean, width = _shower_moments(calo)
    lab, energy = calo["label"], calo["energy"]
    ele = lab == 0
    assert np.corrcoef(esum[ele], energy[ele])[0, 1] > 0.9
    assert np.mean(zmean[lab == 1]) > np.mean(zmean[lab == 0])
    assert np.mean(width[lab == 1]) > np.mean(width[lab == 0])

    def auc(score):
        ranks = np.empty(len(score))
        ranks[np.argsort(score, kind="stable")] = np.arange(len(score))
        n1, n0 = lab.sum(), len(lab) - lab.sum()
        return (ranks[lab == 1].sum() - n1 * (n1 - 1) / 2) / (n0 * n1)

    for score in (zmean, width, calo["nvtx"][:, 0].astype(float)):
        assert 0.8 < auc(score) < 0.995


def test_calo_noise_hits_add_low_energy_hits():
    quiet = generate_calo(500, seed=8, pileup=0, noise_hits=0)
    noisy = generate_calo(500, seed=8, pileup=0, noise_hits=30)
    extra = noisy["nvtx"].mean() - quiet["nvtx"].mean()
    assert 22 < extra < 31  # a few land in signal cells or fall beyond V
    # noise hits are just above threshold
    def n_low(d):
        e = d["features"][..., 3] * E_SCALE_GEV
        return np.sum((e > 0) & (e < 1.5 * THRESHOLD_GEV))

    assert (n_low(noisy) - n_low(quiet)) / 500 > 20


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_events": 0},
        {"n_events": -5},
        {"n_events": 10, "n_vertices": 0},
        {"n_events": 10, "particles": ("kaon",)},
        {"n_events": 10, "particles": ()},
        {"n_events": 10, "energy_range": (50.0, 10.0)},
        {"n_events": 10, "noise_hits": -1},
        {"n_events": 10, "pileup": -0.5},
        {"n_events": 10, "seed": -1},
        {"n_events": 2.5},
    ],
)
def test_calo_invalid_arguments(kwargs):
    with pytest.raises(UserError) as excinfo:
        generate_calo(**kwargs)
    _assert_one_line_error(excinfo)


# ------------------------------------------------------------------------------------- circles
def test_circles_schema_and_reproducibility(circles):
    n = 1000
    assert set(circles) == {"features", "nvtx", "label", "feature_names", "kind"}
    assert circles["features"].shape == (n, 100, 3) and circles["features"].dtype == np.float32
    assert circles["nvtx"].dtype == np.int32 and np.all(circles["nvtx"] == 100)
    assert circles["nvtx"].shape == (n, 1)
    assert circles["label"].dtype == np.int32 and circles["label"].sum() == n // 2
    assert list(circles["feature_names"]) == list(CIRCLES_FEATURES)
    assert circles["kind"] == "circles"
    xy = circles["features"][..., :2]
    assert xy.min() >= 0.0 and xy.max() < 1.0
    np.testing.assert_array_equal(xy * 64, np.round(xy * 64))  # pixel indices / 64
    # points are distinct pixels
    idx = np.round(xy[..., 0] * 64) + 64 * np.round(xy[..., 1] * 64)
    assert all(len(np.unique(row)) == 100 for row in idx[:50])
    a, b = generate_circles(200, seed=5), generate_circles(200, seed=5)
    np.testing.assert_array_equal(a["features"], b["features"])
    np.testing.assert_array_equal(a["label"], b["label"])
    other = generate_circles(200, seed=6)
    assert not np.array_equal(other["features"], a["features"])


def test_circles_points_closest_to_one(circles):
    grey = circles["features"][..., 2]
    dist = np.abs(grey - 1.0)
    assert np.all(np.diff(dist, axis=1) >= 0)  # ordered by closeness to 1


def test_circles_classes_differ(circles):
    f, lab = circles["features"], circles["label"]
    grey = f[..., 2]
    dist = np.abs(grey - 1.0).mean(axis=1)
    # circle pixels are Gauss(0.9, 0.1): the kept points are closer to 1 than for pure noise
    assert dist[lab == 1].mean() < dist[lab == 0].mean()
    # circle points form a compact disc, noise points are spread over the whole image
    spread = np.sqrt(f[..., 0].var(axis=1) + f[..., 1].var(axis=1))
    assert np.median(spread[lab == 1]) < 0.6 * np.median(spread[lab == 0])
    # pure noise: points uniform over the image (sd of U(0,1) in 2D ~ 0.41)
    assert 0.35 < np.median(spread[lab == 0]) < 0.45
    # noise images with m = 0.3 keep points much further from 1 than circle images do
    assert np.percentile(dist[lab == 0], 75) > np.percentile(dist[lab == 1], 75)


def test_circles_invalid():
    with pytest.raises(UserError) as excinfo:
        generate_circles(0)
    _assert_one_line_error(excinfo)


# ------------------------------------------------------------------------------------- .npz I/O
def test_save_load_round_trip(tmp_path, calo, circles):
    path = tmp_path / "deep" / "dir" / "calo.npz"  # parent dirs are created
    save_npz(path, calo)
    loaded = load_npz(path)
    assert set(loaded) == {"features", "nvtx", "label", "energy", "feature_names", "kind"}
    for key in ("features", "nvtx", "label", "energy", "feature_names"):
        np.testing.assert_array_equal(loaded[key], calo[key])
        assert loaded[key].dtype == np.asarray(calo[key]).dtype
    assert loaded["kind"] == "calo" and isinstance(loaded["kind"], str)
    assert [p.name for p in path.parent.iterdir()] == ["calo.npz"]  # no temp file left behind

    cpath = tmp_path / "circles.npz"
    save_npz(cpath, circles)
    c = load_npz(str(cpath))
    assert c["kind"] == "circles" and "energy" not in c
    np.testing.assert_array_equal(c["features"], circles["features"])


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "d.npz"
    save_npz(path, generate_circles(10, seed=1))
    save_npz(path, generate_circles(20, seed=2))
    assert load_npz(path)["label"].shape == (20,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


def test_save_rejects_invalid_data(tmp_path):
    data = dict(generate_calo(10, seed=0))
    del data["energy"]
    with pytest.raises(UserError) as excinfo:
        save_npz(tmp_path / "x.npz", data)
    _assert_one_line_error(excinfo, "x.npz", "energy")
    data = dict(generate_circles(10, seed=0), nvtx=np.full((10, 1), 100.0))
    with pytest.raises(UserError) as excinfo:
        save_npz(tmp_path / "x.npz", data)
    _assert_one_line_error(excinfo, "nvtx", "int32")
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


def _write(path, data, drop=(), **replace):
    arrays = {k: np.asarray(v) for k, v in data.items() if k not in drop}
    arrays.update(replace)
    np.savez(path, **arrays)
    return path


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(UserError) as excinfo:
        load_npz(path)
    _assert_one_line_error(excinfo, str(path), "no such file")


def test_load_corrupt_files(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(os.urandom(3000))
    with pytest.raises(UserError) as excinfo:
        load_npz(garbage)
    _assert_one_line_error(excinfo, str(garbage), "not an .npz")

    # a real archive, cut in half
    good = _write(tmp_path / "good.npz", generate_circles(50, seed=0))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(UserError) as excinfo:
        load_npz(truncated)
    _assert_one_line_error(excinfo, str(truncated))

    # a plain .npy file is not an archive
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(UserError) as excinfo:
        load_npz(npy)
    _assert_one_line_error(excinfo, str(npy))


def test_load_directory(tmp_path):
    with pytest.raises(UserError) as excinfo:
        load_npz(tmp_path)
    _assert_one_line_error(excinfo, str(tmp_path))


@pytest.mark.parametrize("key", ["features", "nvtx", "label", "feature_names", "kind", "energy"])
def test_load_missing_key(tmp_path, key):
    path = _write(tmp_path / "m.npz", generate_calo(20, seed=0), drop=(key,))
    with pytest.raises(UserError) as excinfo:
        load_npz(path)
    _assert_one_line_error(excinfo, str(path), "missing", key)


def test_load_nvtx_out_of_range(tmp_path):
    data = generate_calo(20, n_vertices=16, seed=0)
    for bad in (17, -1):
        nvtx = data["nvtx"].copy()
        nvtx[3, 0] = bad
        path = _write(tmp_path / f"n{bad}.npz", data, nvtx=nvtx)
        with pytest.raises(UserError) as excinfo:
            load_npz(path)
        _assert_one_line_error(excinfo, str(path), "nvtx out of range")


@pytest.mark.parametrize(
    "replace, fragment",
    [
        ({"features": np.zeros((20, 16), np.float32)}, "features"),
        ({"features": np.zeros((20, 16, 4), np.float64)}, "float32"),
        ({"nvtx": np.zeros((20,), np.int32)}, "nvtx"),
        ({"nvtx": np.zeros((20, 1), np.int64)}, "int32"),
        ({"label": np.zeros((19,), np.int32)}, "label"),
        ({"energy": np.zeros((20,), np.float64)}, "energy"),
        ({"feature_names": np.array(["x", "y"])}, "feature_names"),
        ({"kind": np.array("images")}, "kind"),
    ],
)
def test_load_bad_shapes_and_dtypes(tmp_path, replace, fragment):
    path = _write(tmp_path / "bad.npz", generate_calo(20, n_vertices=16, seed=0), **replace)
    with pytest.raises(UserError) as excinfo:
        load_npz(path)
    _assert_one_line_error(excinfo, str(path), fragment)


# ------------------------------------------------------------------------------------------ CLI
def _parser():
    parser = argparse.ArgumentParser(prog="garnet-hls")
    add_cli(parser.add_subparsers(dest="command"))
    return parser


def test_cli_calo(tmp_path, capsys):
    out = tmp_path / "sub" / "calo.npz"
    args = _parser().parse_args(["data", "calo", "-n", "300", "-o", str(out), "--vertices", "32",
                                 "--seed", "3", "--particles", "pion"])
    args.func(args)
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "300" in line and str(out) in line and "events/s" in line
    assert "pion 300" in line and "electron 0" in line
    data = load_npz(out)
    assert data["features"].shape == (300, 32, 4) and np.all(data["label"] == 1)
    np.testing.assert_array_equal(
        data["features"], generate_calo(300, n_vertices=32, seed=3, particles=("pion",))["features"]
    )


def test_cli_circles_and_defaults(tmp_path, capsys):
    out = tmp_path / "c.npz"
    args = _parser().parse_args(["data", "circles", "--events", "40", "--output", str(out)])
    assert args.seed == 0
    args.func(args)
    assert "40" in capsys.readouterr().out
    assert load_npz(out)["features"].shape == (40, 100, 3)
    defaults = _parser().parse_args(["data", "calo", "-o", "x.npz"])
    assert (defaults.events, defaults.vertices, defaults.seed, defaults.particles) == (
        10000, 128, 0, "both")


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "calo", "-n", "0", "-o", "{out}"],
        ["data", "calo", "-n", "-3", "-o", "{out}"],
        ["data", "calo", "-n", "10", "--vertices", "0", "-o", "{out}"],
        ["data", "circles", "-n", "0", "-o", "{out}"],
        ["data", "circles", "-n", "5", "--seed", "-1", "-o", "{out}"],
    ],
)
def test_cli_invalid_values(tmp_path, argv):
    out = tmp_path / "o.npz"
    args = _parser().parse_args([a.format(out=out) for a in argv])
    with pytest.raises(UserError) as excinfo:
        args.func(args)
    _assert_one_line_error(excinfo)
    assert not out.exists()


def test_cli_requires_output_and_kind():
    with pytest.raises(SystemExit):
        _parser().parse_args(["data", "calo"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["data"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["data", "calo", "-o", "x.npz", "--particles", "kaon"])


def test_data_module_does_not_import_tensorflow():
    import subprocess

    code = ("import sys; import garnet_hls.physics.data as d; d.generate_calo(10); d.generate_circles(10); "
            "print('tensorflow' in sys.modules)")
    # import the module file without the package __init__ (which sets up TensorFlow/Keras)
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stub = (
        "import importlib.util, sys, types; "
        f"pkg = types.ModuleType('garnet_hls'); pkg.__path__ = [{os.path.join(src, 'garnet_hls')!r}]; "
        "sys.modules['garnet_hls'] = pkg; "
    )
    result = subprocess.run([sys.executable, "-c", stub + code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
