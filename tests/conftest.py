"""Shared fixtures. Projects and their C simulations are built once per session (building is the slow part)."""

import garnet_hls  # noqa: F401  (sets up Keras 2 before anything imports TensorFlow)
import numpy as np
import pytest


def wide_relu_model(act, aggregators=4, filters=8, propagate=8, units=16):
    """GarNet > QDense with 11-bit weights > QActivation(act): the QDense sum has more than 24 significant bits,
    where QKeras' quantized_relu (a float32 cast) and the exact rounding part."""
    import tf_keras as keras
    from qkeras import QActivation, QDense

    from garnet_hls.layers import GarNet

    keras.utils.set_random_seed(5)
    x = keras.Input((8, 3), name="features")
    n = keras.Input((1,), dtype="int32", name="nvtx")
    h = GarNet(aggregators, filters, propagate, quantized=True, name="garnet")([x, n])  # 16-bit outputs
    q11 = "quantized_bits(11,0,alpha=1)"
    h = QDense(units, kernel_quantizer=q11, bias_quantizer=q11, name="dense")(h)
    h = QActivation(act, name="act")(h)
    return keras.Model([x, n], h)


def randomise_biases(model, seed):
    """Glorot kernels as initialised, plus non-zero biases, so that every bias path is exercised."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "bias" in w.name:
            w.assign(rng.uniform(-0.5, 0.5, size=w.shape))


@pytest.fixture(scope="session")
def preset_project(tmp_path_factory):
    """preset_project(name) -> (model, model_path, project_dir, csim): converted and built once per session."""
    from garnet_hls.flows.convert import convert
    from garnet_hls.backends.hls.csim import CSim
    from garnet_hls.models.build import build_preset_model
    from garnet_hls.models.presets import config_path

    cache = {}

    def get(name):
        if name not in cache:
            import tf_keras as keras

            keras.utils.set_random_seed(7)
            model = build_preset_model(name)
            randomise_biases(model, 7)
            d = tmp_path_factory.mktemp(name)
            path = d / "model.keras"
            model.save(path)
            prj = convert(path, config_path(name), d / "prj")
            cache[name] = (model, path, prj, CSim(prj))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def calo_events():
    """calo_events(V, n) -> built-in calorimeter events (electrons and pions), cached."""
    from garnet_hls.physics.data import generate_calo

    cache = {}

    def get(n_vertices, n):
        key = (n_vertices, n)
        if key not in cache:
            cache[key] = generate_calo(n, n_vertices=n_vertices, seed=123)
        return cache[key]

    return get


def assert_fast_csim_equals_default(model, prj, sim, data):
    """csim --fast (64-bit integer containers) gives the very same bits as the default build, which runs
    exactly the synthesized code (ap_int containers), and is bit-exact with Keras."""
    from garnet_hls.flows.compare import compare
    from garnet_hls.backends.hls.csim import CSim

    assert not sim.fast
    fast = CSim(prj, fast=True)
    assert fast.lib_path != sim.lib_path
    out_exact, _ = sim.run(data)
    out_fast, _ = fast.run(data)
    for key in out_exact:
        np.testing.assert_array_equal(out_fast[key], out_exact[key])
    sub = {key: v[:120] for key, v in data.items()}
    assert compare(model, prj, sub, sim=fast).bit_exact
