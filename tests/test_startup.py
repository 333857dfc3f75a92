"""``import garnet_hls`` is cheap (no TensorFlow) and still keeps its promise: once tf_keras is imported,
``tf_keras.models.load_model`` reads saved models with our layers and QKeras' QDense / QActivation without
``custom_objects``. Each case runs in a fresh interpreter, since what matters is the import order.
(Start-up times are measured by benchmarks/startup.py, not here.)"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "tf_keras", "qkeras", "hls4ml", "matplotlib")


def _run(code, tmp_path, check=True):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_USE_LEGACY_KERAS", None)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def _heavy_imported(code, tmp_path):
    code += f"\nimport sys, json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    return json.loads(_run(code, tmp_path).stdout.strip().splitlines()[-1])


def test_import_and_cli_parser_import_no_tensorflow(tmp_path):
    assert _heavy_imported("import garnet_hls", tmp_path) == []
    # every subcommand's module is imported to build the parser (what --help and every command pay)
    assert _heavy_imported("import garnet_hls.cli as c; c.build_parser()", tmp_path) == []
    for mod in ("garnet_hls.physics.data", "garnet_hls.estimate", "garnet_hls.toolchain.hls_format", "garnet_hls.flows.synth",
                "garnet_hls.physics.train", "garnet_hls.flows.convert", "garnet_hls.backends.hls.csim", "garnet_hls.flows.compare",
                "garnet_hls.flows.data", "garnet_hls.flows.train", "garnet_hls.flows.estimate",
                "garnet_hls.flows.csim", "garnet_hls.flows.report", "garnet_hls.backends.registry", "garnet_hls.project"):
        assert _heavy_imported(f"import {mod}", tmp_path) == [], mod


def test_lazy_layer_attributes(tmp_path):
    out = _run("""
        import sys, garnet_hls
        assert "tensorflow" not in sys.modules
        print(garnet_hls.GarNet.__module__, garnet_hls.GravNet.__name__, "GarNetStack" in dir(garnet_hls))
        print("tensorflow" in sys.modules)
    """, tmp_path).stdout.split()
    assert out == ["garnet_hls.layers.garnet", "GravNet", "True", "True"]
    r = _run("import garnet_hls; garnet_hls.NoSuchThing", tmp_path, check=False)
    assert r.returncode != 0 and "has no attribute 'NoSuchThing'" in r.stderr


SAVE = """
    import garnet_hls, numpy as np
    from garnet_hls.models.build import build_model
    m = build_model("garnet", n_vertices=8, n_features=3, aggregators=(2,), filters=(4,), propagate=(4,),
                    dense=(4,), quantized=True, weight_bits=8)
    x = np.random.default_rng(0).normal(size=(5, 8, 3)).astype("float32")
    n = np.array([[8], [3], [0], [1], [5]], dtype="int32")
    np.savez("inputs.npz", x=x, n=n)
    m.save("model.keras"); m.save("model.h5")
    for i, y in enumerate(m.predict([x, n], verbose=0)):
        np.save(f"y{i}.npy", y)
"""

LOAD = """
    import garnet_hls, numpy as np
    {first}
    d = np.load("inputs.npz")
    for fmt in ("keras", "h5"):
        model = tf_keras.models.load_model(f"model.{{fmt}}")
        for i, y in enumerate(model.predict([d["x"], d["n"]], verbose=0)):
            np.testing.assert_array_equal(y, np.load(f"y{{i}}.npy"))
        print(fmt, *sorted({{type(layer).__name__ for layer in model.layers}}))
"""


def _loaded_layer_names(out):
    lines = out.strip().splitlines()[-2:]
    assert [line.split()[0] for line in lines] == ["keras", "h5"]
    return [set(line.split()[1:]) for line in lines]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("saved")
    _run(SAVE, d)
    return d


@pytest.mark.parametrize("first", [
    "import tf_keras",                         # tf_keras imported after garnet_hls: the import hook registers
    "import qkeras; import tf_keras",          # QKeras first (it pulls TensorFlow and tf_keras in nested)
    "import tensorflow as tf; tf_keras = tf.keras",
])
def test_load_model_after_plain_import(saved_model, first):
    r = _run(LOAD.format(first=first), saved_model)
    for names in _loaded_layer_names(r.stdout):
        assert {"GarNetStack", "QDense", "QActivation"} <= names
    # TensorFlow's C++ start-up lines stay muted wherever TensorFlow is first imported
    assert "oneDNN" not in r.stderr and "cuda" not in r.stderr.lower()


def test_load_model_when_tensorflow_came_first(saved_model):
    # TensorFlow already imported (with Keras 2 chosen) before garnet_hls: registration happens at import
    code = "import os; os.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport tf_keras\n" + textwrap.dedent(
        LOAD.format(first=""))
    for names in _loaded_layer_names(_run(code, saved_model).stdout):
        assert {"GarNetStack", "QDense", "QActivation"} <= names



@pytest.mark.parametrize("first", ["import tf_keras", "import tensorflow"])
def test_tensorflow_first_without_legacy_keras_is_refused(first, tmp_path):
    """TensorFlow imported before garnet_hls without TF_USE_LEGACY_KERAS has fixed tensorflow.keras to
    Keras 3, so QKeras' layers would be Keras 3 inside a tf_keras model (they became TFOpLambda layers):
    importing the Keras 2 layers refuses with one message, even though tf.keras would now load tf_keras.
    ``import garnet_hls`` itself works: the Keras 3 front end (garnet_hls.keras3) is usable in such a process."""
    r = _run(f"{first}\nimport garnet_hls\nimport garnet_hls.layers\n", tmp_path, check=False)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: TensorFlow was imported before garnet_hls without TF_USE_LEGACY_KERAS=1")


def test_models_are_keras2_through_and_through_when_tf_keras_came_first_with_legacy_keras(tmp_path):
    code = """
    import os; os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras
    import garnet_hls
    from garnet_hls.models.build import build_preset_model
    print(sorted({type(layer).__name__ for layer in build_preset_model("garnet_rtl_v32").layers}))
    """
    out = _run(code, tmp_path).stdout.strip().splitlines()[-1]
    assert out == "['GarNetStack', 'InputLayer', 'QActivation', 'QDense']"
