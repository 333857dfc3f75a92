"""Models (garnet_hls.models.build) and training (garnet_hls.physics.train, its command garnet_hls.flows.train):
tiny, fast runs with real checks."""

import garnet_hls  # noqa: F401  -- must come first: sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads

import json
import os

import numpy as np
import pytest
import tf_keras as keras
from qkeras import QActivation, QDense

from garnet_hls.physics.data import generate_calo, save_npz
from garnet_hls.errors import UserError
from garnet_hls.layers import GarNetStack, GravNet
from garnet_hls.models.build import ENERGY_SCALE, build_gravnet_model, build_model
from garnet_hls.flows.train import add_cli
from garnet_hls.physics.train import ES_MIN_DELTA, MEASURED_KEYS, evaluate, remeasure, roc_auc, roc_curve, train

V = 32
TINY_GARNET = dict(aggregators=(2, 2), filters=(4, 4), propagate=(4, 4), dense=(8,))
TINY_GRAVNET = dict(n_dimensions=2, n_filters=(4, 4), n_propagate=(4, 4), k=4, dense=(8,))
TINY = {"garnet": TINY_GARNET, "gravnet": TINY_GRAVNET}


@pytest.fixture(scope="module")
def calo():
    return generate_calo(240, n_vertices=V, seed=3)


def _inputs(d, n=None):
    s = slice(None, n)
    return {"features": d["features"][s], "nvtx": d["nvtx"][s]}


# ---------------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------------

def test_roc_auc_against_pairwise_definition():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 300)
    score = np.round(rng.normal(label * 0.7, 1.0), 1)  # many ties
    pos, neg = score[label == 1], score[label == 0]
    diff = pos[:, None] - neg[None, :]
    expected = (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / diff.size
    assert roc_auc(label, score) == pytest.approx(expected, abs=1e-12)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert np.isnan(roc_auc([1, 1], [0.1, 0.2]))
    fpr, tpr = roc_curve(label, score)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(expected, abs=1e-12)


def test_evaluate_energy_and_accuracy():
    label = np.array([0, 0, 1, 1])
    e_true = np.array([10.0, 20.0, 50.0, 100.0])
    e_pred = np.array([11.0, 18.0, 50.0, 80.0]) / ENERGY_SCALE
    logit = np.array([-3.0, 0.5, 2.0, 1.0])  # one electron misclassified
    m = evaluate(logit, e_pred, label, e_true)
    assert m["accuracy"] == 0.75
    assert m["auc"] == 1.0  # every pion still scores above every electron
    assert m["pion_misid_at_e95"] == 0.0
    assert m["energy"]["electron"]["mean"] == pytest.approx(1.0)  # (1.1 + 0.9) / 2
    assert m["energy"]["electron"]["std"] == pytest.approx(0.1)
    assert m["energy"]["pion"]["mean"] == pytest.approx(0.9)
    assert m["energy"]["pion"]["median"] == pytest.approx(0.9)
    assert np.isnan(m["energy"]["pion"]["response"])  # a core fit needs >= 5 events
    assert m["energy"]["all"]["n"] == 4


def test_evaluate_gaussian_response_per_class_and_energy():
    """Electrons: 1 + N(0, 0.21/sqrt(E)); pions: 0.9 + N(0, 0.08) with a 10 % low tail."""
    rng = np.random.default_rng(5)
    n = 40000
    label = np.arange(n) % 2
    e_true = rng.uniform(10.0, 100.0, n)
    ratio = np.where(label == 0, 1.0 + rng.normal(0.0, 1.0, n) * 0.21 / np.sqrt(e_true),
                     0.9 + rng.normal(0.0, 0.08, n))
    tail = (label == 1) & (rng.random(n) < 0.1)
    ratio[tail] = rng.uniform(0.2, 0.5, tail.sum())
    m = evaluate(rng.normal(label * 3.0, 1.0), ratio * e_true / ENERGY_SCALE, label, e_true)
    pi = m["energy"]["pion"]
    assert pi["response"] == pytest.approx(0.9, abs=0.002)
    assert pi["core_sigma"] == pytest.approx(0.08, rel=0.03)
    assert pi["resolution"] == pytest.approx(0.08 / 0.9, rel=0.03)
    assert pi["tail_low"] == pytest.approx(0.1, abs=0.01) and pi["tail_high"] < 0.005
    assert pi["std"] > 1.5 * pi["core_sigma"]  # the tail inflates the plain std, not the core
    curve = m["resolution_vs_energy"]["electron"]
    assert len(curve["bins"]) == 9 and sum(b["n"] for b in curve["bins"]) == n // 2
    for b in curve["bins"]:
        assert b["lo"] <= b["e_mean"] <= b["hi"]
        assert b["response"] == pytest.approx(1.0, abs=0.01)
    assert curve["fit"]["a"] == pytest.approx(0.21, rel=0.08)
    assert curve["fit"]["b"] < 0.01
    assert m["resolution_vs_energy"]["pion"]["fit"]["b"] == pytest.approx(0.08 / 0.9, rel=0.1)
    assert m["auc"] > 0.95


# ---------------------------------------------------------------------------------------------------
# model builders
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["garnet", "gravnet"])
@pytest.mark.parametrize("quantized", [False, True])
def test_builders(kind, quantized, calo):
    m = build_model(kind, n_vertices=V, quantized=quantized, **TINY[kind])
    assert m.output_names == ["class_logit", "energy"]
    assert [i.name for i in m.inputs] == ["features", "nvtx"]
    assert m.inputs[1].dtype == "int32"
    assert all(o.shape[-1] == 1 for o in m.outputs)
    names = [layer.name for layer in m.layers]
    graph = [layer for layer in m.layers if isinstance(layer, (GarNetStack, GravNet))]
    assert all(g.quantized == quantized for g in graph)
    if kind == "garnet":
        assert [g.name for g in graph] == ["garnet"] and graph[0].collapse == "mean"
    else:
        assert [g.name for g in graph] == ["gravnet1", "gravnet2"]
        assert [g.collapse for g in graph] == [None, "mean"]
    assert {"dense1", "relu1", "class_logit", "energy"} <= set(names)
    dense = [m.get_layer(n) for n in ("dense1", "class_logit", "energy")]
    relu = m.get_layer("relu1")
    if quantized:
        assert all(type(layer) is QDense for layer in dense)
        assert type(relu) is QActivation and str(relu.quantizer) == "quantized_relu(10,4)"
        assert "quantized_bits(8,0" in str(dense[0].kernel_quantizer_internal)
        assert graph[0].quantizer_specs()["kernel"] == "quantized_bits(8,0,alpha=1)"
    else:
        assert all(type(layer) is keras.layers.Dense for layer in dense)
        assert all(layer.get_config()["activation"] == "linear" for layer in dense)
        assert type(relu) is keras.layers.Activation

    # no sigmoid: scaling the last layer's kernel makes the logit leave [0, 1]
    last = m.get_layer("class_logit")
    k, b = last.get_weights()
    last.set_weights([np.zeros_like(k), np.full_like(b, -0.75)])
    logit, energy = m.predict(_inputs(calo, 8), verbose=0)
    assert logit.shape == (8, 1) and energy.shape == (8, 1)
    np.testing.assert_array_equal(logit, -0.75)


def test_build_model_errors():
    with pytest.raises(UserError, match="unknown model kind"):
        build_model("pointnet")
    with pytest.raises(UserError):
        build_model("garnet", aggregators=(4, 4), filters=(8, 8, 16), propagate=(8, 8, 16))
    with pytest.raises(UserError):
        build_model("garnet", no_such_option=1)
    with pytest.raises(UserError):
        build_gravnet_model(n_vertices=8, k=8)
    with pytest.raises(UserError):
        build_gravnet_model(blocks=3, n_filters=(4, 4))


def test_quantized_bits_option():
    m = build_model("garnet", n_vertices=V, quantized=True, weight_bits=6, **TINY_GARNET)
    assert "quantized_bits(6,0" in str(m.get_layer("dense1").kernel_quantizer_internal)
    assert m.get_layer("garnet").quantizer_specs()["bias"] == "quantized_bits(6,0,alpha=1)"
    w = m.get_layer("dense1").kernel_quantizer_internal(np.linspace(-2, 2, 101).astype(np.float32)).numpy()
    np.testing.assert_array_equal(w * 32, np.round(w * 32))  # multiples of 2^-5
    assert w.min() == -1.0 and w.max() == 1.0 - 2**-5


# ---------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------

METRIC_FILES = {"model.keras", "metrics.json", "roc.png", "energy_response.png", "resolution.png", "loss.png"}


@pytest.mark.parametrize("kind,quantized", [("garnet", False), ("garnet", True), ("gravnet", False),
                                            ("gravnet", True)])
def test_train_tiny(kind, quantized, calo, tmp_path):
    out = tmp_path / "run"
    m = train(kind, data=calo, epochs=2, batch_size=32, quantized=quantized, output_dir=out, seed=1,
              progress=False, **TINY[kind])
    assert set(os.listdir(out)) == METRIC_FILES
    assert os.listdir(tmp_path) == ["run"]  # no temporary directory left behind
    for png in ("roc.png", "energy_response.png", "resolution.png", "loss.png"):
        with open(out / png, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    on_disk = json.loads((out / "metrics.json").read_text())
    assert m["output_dir"] == str(out)
    assert on_disk == {k: v for k, v in m.items() if k != "output_dir"}
    assert on_disk["kind"] == kind and on_disk["quantized"] == quantized
    assert on_disk["n_events"] == 240 and on_disk["n_val"] == 48 and on_disk["n_train"] == 192
    assert on_disk["epochs"] == 2 and len(on_disk["history"]["loss"]) == 2
    assert 0.0 <= on_disk["auc"] <= 1.0
    assert 0.0 <= on_disk["accuracy"] <= 1.0
    for group in ("electron", "pion", "all"):
        st = on_disk["energy"][group]
        assert st["n"] > 0 and np.isfinite(st["response"]) and st["resolution"] >= 0.0 and st["std"] >= 0.0
        assert 0.0 <= st["tail_fraction"] <= 1.0 and st["core_sigma"] >= 0.0
    assert set(on_disk["resolution_vs_energy"]) == {"electron", "pion"}
    assert on_disk["training"]["mode"] == "fixed" and 1 <= on_disk["training"]["best_epoch"] <= 2
    assert 0.0 <= on_disk["pion_misid_at_e95"] <= 1.0
    # the baselines are measured on the same validation events
    base = on_disk["baselines"]
    for key in ("inclusive", "per_class"):
        e = base["energy_sum"][key]["energy"]
        assert e["electron"]["n"] + e["pion"]["n"] == 48
        assert e["electron"]["n"] == on_disk["energy"]["electron"]["n"]
        assert np.isfinite(e["pion"]["resolution"]) and np.isfinite(e["electron"]["response"])
        assert set(base["energy_sum"][key]["resolution_vs_energy"]) == {"electron", "pion"}
    assert set(base["energy_sum"]["per_class"]["calibration"]) == {"electron", "pion"}
    sh = base["shower_shape"]
    assert sh["variables"] == ["depth", "width"] and 0.5 < sh["auc"] <= 1.0
    assert set(sh["single_variable_auc"]) == {"depth", "width", "n_hits"}
    assert all(0.5 <= v <= 1.0 for v in sh["single_variable_auc"].values())
    assert on_disk["energy"]["electron"]["n"] + on_disk["energy"]["pion"]["n"] == 48
    assert on_disk["train_seconds"] > 0 and on_disk["total_seconds"] >= on_disk["train_seconds"]
    for key in ("loss", "val_loss", "class_logit_loss", "energy_loss", "val_class_logit_loss", "val_energy_loss"):
        assert np.isfinite(on_disk["final_loss"][key])

    # the saved model reloads without custom_objects and predicts the same
    model = keras.models.load_model(out / "model.keras")
    x = _inputs(calo, 64)
    logit, energy = model.predict(x, verbose=0)
    assert model.output_names == ["class_logit", "energy"]
    if quantized:
        assert isinstance(model.get_layer("dense1"), QDense)
        assert isinstance(model.get_layer("relu1"), QActivation)
    ref = build_model(kind, n_vertices=V, quantized=quantized, **TINY[kind])
    ref.set_weights(model.get_weights())
    logit2, energy2 = ref.predict(x, verbose=0)
    np.testing.assert_array_equal(logit, logit2)
    np.testing.assert_array_equal(energy, energy2)
    assert np.unique(logit).size > 1  # the model depends on its input

    # the metrics are those of the reloaded model on the validation events
    perm = np.random.default_rng(1).permutation(240)[192:]
    lv, ev = model.predict(_inputs({k: calo[k][perm] for k in ("features", "nvtx")}), verbose=0)
    again = evaluate(lv[:, 0], ev[:, 0], calo["label"][perm], calo["energy"][perm])
    assert again["auc"] == pytest.approx(on_disk["auc"], abs=1e-9)
    assert again["energy"]["all"]["resolution"] == pytest.approx(on_disk["energy"]["all"]["resolution"], rel=1e-5)


def test_train_to_convergence_restores_the_best_epoch(calo, tmp_path):
    """Without ``epochs``: early stopping on the validation loss, best weights restored."""
    m = train("garnet", data=calo, max_epochs=4, patience=1, batch_size=32, learning_rate=0.05,
              output_dir=tmp_path / "c", seed=2, progress=False, **TINY_GARNET)
    tr = m["training"]
    assert tr["mode"] == "converge" and tr["max_epochs"] == 4 and tr["patience"] == 1 and tr["restored_best_weights"]
    val = m["history"]["val_loss"]
    assert m["epochs"] == len(val) <= 4 and tr["stopped_early"] == (len(val) < 4)
    # the best epoch is the last one that lowered the validation loss by more than ES_MIN_DELTA
    best, ref = 0, val[0]
    for i, v in enumerate(val):
        if v < ref - ES_MIN_DELTA:
            best, ref = i, v
    assert tr["best_epoch"] == best + 1 and m["best_loss"]["val_loss"] == val[best]
    assert "lr" in m["history"]  # ReduceLROnPlateau logs the learning rate
    # the saved model is the best epoch's
    model = keras.models.load_model(tmp_path / "c" / "model.keras")
    model.compile(loss={"class_logit": keras.losses.BinaryCrossentropy(from_logits=True),
                        "energy": keras.losses.MeanSquaredError()},
                  loss_weights={"class_logit": 1.0, "energy": m["energy_loss_weight"]})
    va = np.random.default_rng(2).permutation(240)[192:]
    loss = model.evaluate({"features": calo["features"][va], "nvtx": calo["nvtx"][va]},
                          {"class_logit": calo["label"][va].astype(np.float32)[:, None],
                           "energy": (calo["energy"][va] / ENERGY_SCALE)[:, None]}, batch_size=32, verbose=0)[0]
    assert loss == pytest.approx(val[best], rel=1e-4)
    assert set(os.listdir(tmp_path / "c")) == METRIC_FILES


def test_remeasure_reproduces_a_run_on_generated_events(tmp_path):
    m = train("garnet", n_events=150, n_vertices=V, epochs=1, batch_size=50, output_dir=tmp_path / "g",
              progress=False, seed=4, **TINY_GARNET)
    assert m["data"] == "built-in calo (generated)"
    before = json.loads((tmp_path / "g" / "metrics.json").read_text())
    (tmp_path / "g" / "resolution.png").unlink()
    again = remeasure(tmp_path / "g")
    assert again == json.loads((tmp_path / "g" / "metrics.json").read_text())
    assert set(MEASURED_KEYS) <= set(again)
    for key in ("auc", "accuracy", "pion_misid_at_e95"):
        assert again[key] == pytest.approx(before[key], abs=1e-9)
    assert again["energy"]["all"]["core_sigma"] == pytest.approx(before["energy"]["all"]["core_sigma"], rel=1e-6)
    assert again["baselines"] == before["baselines"]  # same events, same split
    assert again["history"] == before["history"]
    assert (tmp_path / "g" / "resolution.png").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "metrics.json").write_text(json.dumps({"data": "x.npz"}))
    with pytest.raises(UserError, match="generated"):
        remeasure(tmp_path / "other")


def test_train_is_reproducible_and_refuses_overwrite(calo, tmp_path):
    kw = dict(data=calo, epochs=1, batch_size=64, output_dir=tmp_path / "a", progress=False, **TINY_GARNET)
    m1 = train("garnet", **kw)
    with pytest.raises(UserError, match="not empty"):
        train("garnet", **kw)
    assert set(os.listdir(tmp_path / "a")) == METRIC_FILES
    m2 = train("garnet", force=True, **kw)
    assert m2["auc"] == m1["auc"]
    assert m2["final_loss"] == m1["final_loss"]
    assert sorted(os.listdir(tmp_path)) == ["a"]


def test_interrupted_training_leaves_nothing(calo, tmp_path, monkeypatch):
    import garnet_hls.physics.train as gtrain

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gtrain, "plot_loss", interrupt)  # after model.keras and two plots are written
    with pytest.raises(KeyboardInterrupt):
        train("garnet", data=calo, n_events=40, epochs=1, output_dir=tmp_path / "run", progress=False,
              **TINY_GARNET)
    assert os.listdir(tmp_path) == []


def test_train_from_npz_and_bad_inputs(calo, tmp_path):
    path = tmp_path / "calo.npz"
    save_npz(path, calo)
    (tmp_path / "q6").mkdir()  # an existing empty directory is fine
    m = train("garnet", data=str(path), n_events=100, epochs=1, batch_size=50, quantized=True, weight_bits=6,
              output_dir=tmp_path / "q6", progress=False, validation_split=0.5, **TINY_GARNET)
    assert m["n_events"] == 100 and m["n_val"] == 50 and m["weight_bits"] == 6
    assert m["data"] == str(path)
    assert set(os.listdir(tmp_path / "q6")) == METRIC_FILES
    model = keras.models.load_model(tmp_path / "q6" / "model.keras")
    w = model.get_layer("dense1").kernel_quantizer_internal(model.get_layer("dense1").kernel).numpy()
    np.testing.assert_array_equal(w * 32, np.round(w * 32))  # the 6-bit quantizer survived saving
    with pytest.raises(UserError, match="unknown model kind"):
        train("mlp", data=calo, output_dir=tmp_path / "x", progress=False)
    with pytest.raises(UserError, match="energy"):
        train("garnet", data={k: v for k, v in calo.items() if k != "energy"}, output_dir=tmp_path / "x",
              progress=False)
    with pytest.raises(UserError, match="n_vertices"):
        train("garnet", data=calo, n_vertices=64, output_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def test_cli_parsing():
    import argparse

    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    a = parser.parse_args(["train"])
    assert (a.model, a.quantized, a.bits, a.output, a.data, a.force, a.seed) == ("garnet", False, 8, None, None,
                                                                                  False, 0)
    assert (a.epochs, a.max_epochs, a.patience, a.learning_rate) == (None, None, None, None)  # to convergence
    a = parser.parse_args(["train", "--max-epochs", "50", "--patience", "4", "--learning-rate", "0.001"])
    assert (a.max_epochs, a.patience, a.learning_rate) == (50, 4, 0.001)
    a = parser.parse_args(["train", "--model", "gravnet", "--quantized", "--bits", "6", "-n", "500", "-o", "r",
                           "--force", "--epochs", "3", "--batch-size", "16"])
    assert (a.model, a.quantized, a.bits, a.events, a.output, a.force, a.epochs, a.batch_size) == (
        "gravnet", True, 6, 500, "r", True, 3, 16)
    assert a.func.__name__ == "run_train"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--quantized", "--float"])


def test_train_a_preset_from_the_command_line(tmp_path, capsys):
    """--preset trains that preset's architecture, quantization and V (--vertices overrides V); the model
    written is the preset's; a contradicting --model is refused."""
    import tf_keras as keras

    from garnet_hls.cli import main
    from garnet_hls.models.build import build_preset_model

    out = tmp_path / "run"
    assert main(["train", "--preset", "gravnet_rtl_v32", "--vertices", "16", "-n", "60", "--epochs", "1", "-o",
                 str(out), "-q"]) == 0
    model = keras.models.load_model(out / "model.keras")
    ref = build_preset_model("gravnet_rtl_v32", n_vertices=16)
    assert [type(layer).__name__ for layer in model.layers] == [type(layer).__name__ for layer in ref.layers]
    assert [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in ref.weights]
    assert model.inputs[0].shape[1] == 16 and model.get_layer("gravnet1").quantized
    capsys.readouterr()
    assert main(["train", "--preset", "gravnet_rtl_v32", "--model", "garnet", "-o", str(tmp_path / "x")]) != 0
    assert "contradicts --preset gravnet_rtl_v32" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
