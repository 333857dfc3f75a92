"""Bit-for-bit comparison of a project's C simulation with its Keras model (``garnet-hls compare``).

The Keras model runs in float64 (a clone of it built with ``floatx='float64'``): every fixed-point value
of a quantized model is then exact on the Keras side, so equality is the right test. For each output
we report the fraction of bit-identical values and the largest difference in LSBs of the firmware's
output type. On a mismatch the per-layer traces of the C simulation are compared with the Keras
layers' outputs, and the first layer whose values differ is named with its LSB error.
"""

from __future__ import annotations

import contextlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from garnet_hls.backends import registry
from garnet_hls.core.fixed import parse_type
from garnet_hls.errors import UserError
from garnet_hls.flows.csim import add_sim_options, load_events, select_events, sim_options
from garnet_hls.models.io import is_keras3_model
from garnet_hls.project import prepare_inputs, read_meta


@contextmanager
def keras_float64():
    """Keras' floatx set to float64 (QKeras casts to floatx whenever a quantizer is called)."""
    import tf_keras as keras

    old = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    try:
        yield
    finally:
        keras.backend.set_floatx(old)


def keras_float64_clone(model):
    """The same model, weights and all, computing in float64 (call it under ``keras_float64()``)."""
    import tf_keras as keras
    from qkeras.utils import _add_supported_quantized_objects

    import json

    objects = {}
    _add_supported_quantized_objects(objects)
    arch = json.loads(model.to_json())
    for entry in arch["config"]["layers"]:
        if entry["config"].get("dtype") in ("float32", "float16"):  # the int32 nvtx input stays as it is
            entry["config"]["dtype"] = "float64"
    with keras_float64():
        clone = keras.models.model_from_json(json.dumps(arch), custom_objects=objects)
        clone.set_weights(model.get_weights())
    return clone


def keras3_float64_clone(model):
    """A Keras 3 model's float64 twin (weights and all): every float32/float16 dtype of its config made float64."""
    import keras

    def to64(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("dtype", "name") and v in ("float32", "float16"):
                    o[k] = "float64"
                else:
                    to64(v)
        elif isinstance(o, list):
            for v in o:
                to64(v)

    cfg = model.get_config()
    to64(cfg)
    # HGQ2's quantizers are sub-layers built without a dtype: they take the global dtype policy, not floatx.
    # Left at float32 they computed Q(x) and Q(w) in float32 and the products in float64 of values that
    # float32 had already rounded (a 25-bit sum came out 1 LSB off; found by the Keras 3 fuzzer's HLS mode)
    old, old_policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        clone = type(model).from_config(cfg)
    finally:
        keras.config.set_floatx(old)
        keras.config.set_dtype_policy(old_policy)
    clone.set_weights(model.get_weights())
    return clone


def lsb_of(type_str: str) -> float | None:
    """LSB of an hls4ml/ap type string ('fixed<16,6,...>', 'ap_ufixed<...>', 'uint<8>'); None for float."""
    t = parse_type(type_str)
    return t.lsb if t is not None else None


@dataclass
class OutputComparison:
    name: str
    n_values: int
    identical_fraction: float
    max_abs_diff: float
    max_lsb_diff: float | None
    type: str

    @property
    def identical(self):
        return self.identical_fraction == 1.0


@dataclass
class Divergence:
    layer: str
    identical_fraction: float
    max_lsb_diff: float | None
    first_event: int


@dataclass
class ComparisonResult:
    n_events: int
    outputs: list[OutputComparison] = field(default_factory=list)
    divergence: Divergence | None = None
    simulator: str = "C simulation"  # what ran the firmware: the C simulation, da4ml's emulator or Verilator

    @property
    def bit_exact(self):
        return all(o.identical for o in self.outputs)

    def max_lsb(self):
        vals = [o.max_lsb_diff for o in self.outputs if o.max_lsb_diff is not None]
        return max(vals) if vals else 0.0

    def to_dict(self):
        return {
            "n_events": self.n_events,
            "simulator": self.simulator,
            "bit_exact": self.bit_exact,
            "outputs": [o.__dict__ for o in self.outputs],
            "divergence": self.divergence.__dict__ if self.divergence else None,
        }


def _compare_arrays(a, b, lsb):
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    same = a == b
    diff = np.abs(a - b)
    maxd = float(diff.max()) if diff.size else 0.0
    return same, maxd, (maxd / lsb if lsb else None)


def keras_inputs(model, meta, data):
    """The model's inputs, in its order, from an events dict (float64 features, int32 nvtx)."""
    arrays = prepare_inputs(meta, data)
    out = []
    for spec, arr, inp in zip(meta["inputs"], arrays, model.inputs):
        shape = [len(arr)] + [int(s) for s in inp.shape[1:]]
        is_nvtx = meta["layers"].get(spec["keras_name"], {}).get("nvtx", False)
        out.append(arr.reshape(shape).astype(np.int32 if is_nvtx else np.float64))
    return out


def compare(model, project, data, batch_size=256, progress=False, sim=None, **sim_options) -> ComparisonResult:
    """Run the project's simulator (its backend's; ``sim_options`` such as ``verilator=True``, ``fast=True``) and
    the float64 Keras model on ``data`` and compare them."""
    if sim is None:
        sim = registry.backend_of(project).simulator(project, verbose=progress, **sim_options)
    meta = sim.meta
    outputs, traces = sim.run(data, trace=True, progress=progress)
    keras3 = is_keras3_model(model)
    with contextlib.nullcontext() if keras3 else keras_float64():
        m64 = keras3_float64_clone(model) if keras3 else keras_float64_clone(model)
        xs = keras_inputs(m64, meta, data)
        n = len(xs[0])
        kouts = m64.predict(xs, batch_size=batch_size, verbose=0)
    if not isinstance(kouts, list):
        kouts = [kouts]
    by_name = dict(zip(m64.output_names, kouts))
    result = ComparisonResult(n_events=n, simulator=getattr(sim, "name", "C simulation"))
    for spec in meta["outputs"]:
        k = by_name[spec["keras_name"]]
        lsb = lsb_of(spec["type"])
        same, maxd, maxl = _compare_arrays(outputs[spec["keras_name"]], k, lsb)
        result.outputs.append(OutputComparison(spec["keras_name"], int(same.size), float(same.mean()), maxd, maxl,
                                               spec["type"]))
    if not result.bit_exact and not keras3:  # (the rtl backend traces no layer: nothing to probe in Keras 3)
        with keras_float64():
            result.divergence = first_divergence(m64, meta, xs, traces, batch_size)
    return result


def first_divergence(m64, meta, xs, traces, batch_size=256) -> Divergence | None:
    """The first traced layer (in firmware order) whose C-sim values differ from the Keras layer's."""
    import tf_keras as keras

    names = [t["name"] for t in meta["traced"] if t["name"] in {layer.name for layer in m64.layers}]
    if not names:
        return None
    probe = keras.Model(m64.inputs, [m64.get_layer(nm).output for nm in names])
    kvals = probe.predict(xs, batch_size=batch_size, verbose=0)
    if len(names) == 1:
        kvals = [kvals]
    types = {t["name"]: t["type"] for t in meta["traced"]}
    for nm, kv in zip(names, kvals):
        same, _, maxl = _compare_arrays(traces[nm], kv, lsb_of(types[nm]))
        if not same.all():
            bad_events = np.where(~same.all(axis=1))[0]
            return Divergence(nm, float(same.mean()), maxl, int(bad_events[0]))
    return None


def format_result(r: ComparisonResult, tolerance=None) -> str:
    lines = [f"compared {r.n_events} events, {r.simulator} vs Keras (float64):"]
    for o in r.outputs:
        lsb = f"{o.max_lsb_diff:g} LSB" if o.max_lsb_diff is not None else f"{o.max_abs_diff:g}"
        lines.append(f"  {o.name:<16} {100 * o.identical_fraction:8.4f}% bit-identical of {o.n_values:,} values; "
                     f"largest difference {lsb} ({o.type})")
    if r.divergence:
        d = r.divergence
        lsb = f"{d.max_lsb_diff:g} LSB" if d.max_lsb_diff is not None else "?"
        lines.append(f"  first diverging layer: {d.layer} ({100 * d.identical_fraction:.4f}% identical, up to {lsb}, "
                     f"first at event {d.first_event})")
    if r.bit_exact:
        lines.append("verdict: BIT-EXACT")
    elif tolerance is not None and r.max_lsb() <= tolerance:
        lines.append(f"verdict: within tolerance ({r.max_lsb():g} <= {tolerance:g} LSB), not bit-exact")
    else:
        lines.append("verdict: MISMATCH")
    return "\n".join(lines)


def add_cli(subparsers):
    p = subparsers.add_parser("compare", help="prove the C simulation equals the Keras model bit for bit",
                              description="Compare a project's C simulation with its Keras model on events.")
    p.add_argument("model", help="the Keras model file the project was converted from")
    p.add_argument("project", help="project directory")
    p.add_argument("--data", required=True, help="events (.npz)")
    p.add_argument("-n", "--events", type=int, help="only the first N events")
    p.add_argument("--tolerance", type=float, help="accept differences up to this many LSBs (exit 0)")
    p.add_argument("--json", help="write the comparison as JSON to this file")
    add_sim_options(p)
    p.set_defaults(func=run_compare)


def run_compare(args):
    import json
    import math

    from garnet_hls.models.io import load_keras_model
    from garnet_hls.paths import check_output_file, write_output

    if args.tolerance is not None and not (math.isfinite(args.tolerance) and args.tolerance >= 0):
        raise UserError(f"--tolerance must be a finite number >= 0 (LSBs), got {args.tolerance}")
    if args.json:
        check_output_file(args.json, "--json output")
    backend = registry.backend_of(args.project)
    options = sim_options(args)
    backend.check_sim_options(options, args.project)
    meta = read_meta(args.project)
    data = select_events(load_events(args.data), args.events, args.data)
    model = load_keras_model(args.model)
    check_model_matches(model, meta, args.model, args.project)
    r = compare(model, args.project, data, progress=True, **options)
    print(format_result(r, args.tolerance))
    if args.json:
        write_output(args.json, json.dumps(r.to_dict(), indent=2) + "\n", "--json output")
    if r.bit_exact or (args.tolerance is not None and r.max_lsb() <= args.tolerance):
        return 0
    return 1


def check_model_matches(model, meta, model_path="the model", project="the project"):
    """The Keras model has the inputs and outputs the project was converted from (else one line)."""
    m_in = [tuple(int(d) for d in t.shape[1:]) for t in model.inputs]
    p_in = [tuple(s["shape"]) for s in meta["inputs"]]
    if len(m_in) != len(p_in):
        raise UserError(f"{model_path} has {len(m_in)} inputs but {project} has {len(p_in)}: "
                        "compare the model the project was converted from")
    for spec, shape in zip(meta["inputs"], m_in):
        is_nvtx = meta["layers"].get(spec["keras_name"], {}).get("nvtx", False)
        want = tuple(spec["shape"])
        if not is_nvtx and shape != want:
            raise UserError(f"{model_path} takes inputs of shape {shape} but {project} was converted for {want}: "
                            "compare the model the project was converted from")
    names = list(model.output_names)
    for spec in meta["outputs"]:
        if spec["keras_name"] not in names:
            raise UserError(f"{model_path} has no output {spec['keras_name']!r} of {project} (outputs: "
                            f"{', '.join(names)}): compare the model the project was converted from")
    for layer in model.layers:  # the nvtx input's range is set by V of the graph layers
        V = getattr(layer, "n_vertices", None)
        info = meta["layers"].get(layer.name, {})
        if V and info and info.get("type") in ("GarNet", "GarNetStack", "GravNet"):
            for spec in meta["inputs"]:
                if not meta["layers"].get(spec["keras_name"], {}).get("nvtx") and spec["shape"][0] != V:
                    raise UserError(f"{model_path} has V={V} vertices but {project} was converted for "
                                    f"V={spec['shape'][0]}: compare the model the project was converted from")
