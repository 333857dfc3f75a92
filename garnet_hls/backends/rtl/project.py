"""The RTL backend's ``convert``: a Verilog project written by da4ml, plus our metadata.

Layout (da4ml's writer): ``src/<name>.v`` (pipelined top and its stages), ``src/static/*.v``,
``src/memfiles/`` (table ROM contents), ``src/<name>.xdc`` / ``.sdc`` (constraints), ``build_vivado_prj.tcl``
/ ``build_quartus_prj.tcl``, ``sim/`` (the Verilator binder), ``model/`` (the traced logic: ``comb.json`` for
the emulator, ``pipeline.json``), ``metadata.json`` (da4ml's), and ``garnet_project.json`` (ours: what csim,
compare, synth and report read).

The pipeline is cut so that each stage's estimated delay stays below ``LatencyCutoff`` (da4ml's delay units;
default: the clock period in ns); the pipeline depth in cycles and the interval (1: the design takes a new
event every cycle) are exact properties of the written RTL.
"""

from __future__ import annotations

import sys
from pathlib import Path

from garnet_hls.errors import UserError

DEFAULT_PART = "xcvu13p-flga2577-2-e"
DEFAULT_CLOCK = 5.0

# Resources of some devices (LUT, FF, DSP) for the fit check: a fully parallel design must fit.
DEVICES = {
    "xcvu13p": {"LUT": 1728000, "FF": 3456000, "DSP": 12288},
    "xcvu9p": {"LUT": 1182240, "FF": 2364480, "DSP": 6840},
    "xcku115": {"LUT": 663360, "FF": 1326720, "DSP": 5520},
    "xcku15p": {"LUT": 522720, "FF": 1045440, "DSP": 1968},
    "xczu9eg": {"LUT": 274080, "FF": 548160, "DSP": 2520},
    "xc7z020": {"LUT": 53200, "FF": 106400, "DSP": 220},
}


def device_of(part: str) -> dict | None:
    p = part.lower()
    for name, res in DEVICES.items():
        if p.startswith(name):
            return {"name": name, **res}
    return None


def fit_check(cost_luts: float, part: str, force: bool = False, dsps: int = 0) -> str | None:
    """da4ml's LUT estimate and our DSP count against the part: a warning (>50% of either), or a UserError
    (>100%: the fully parallel design cannot fit)."""
    dev = device_of(part)
    if dev is None:
        return None
    need = {"LUT": (cost_luts, "da4ml estimates {n:,.0f} LUTs (estimate, before synthesis)"),
            "DSP": (dsps, "its {n:,} variable products need {n:,} DSP48E2 slices (one per 27x18 tile)")}
    over = [f"{what.format(n=n)}, {100 * n / dev[res]:.0f}% of the part's {dev[res]:,}"
            for res, (n, what) in need.items() if n / dev[res] > 1.0]
    if over and not force:
        raise UserError(f"the model does not fit {part} fully parallel: {'; '.join(over)}; use a smaller model or a "
                        f"larger part (--force writes the project anyway)")
    warn = [f"{what.format(n=n)}, {100 * n / dev[res]:.0f}% of {part}'s {dev[res]:,}"
            for res, (n, what) in need.items() if n / dev[res] > 0.5]
    if warn:
        return "warning: " + "; ".join(warn) + ": routing a design this full may fail"
    return None


def pipeline(rt, cutoff: float):
    """The trace's pipeline: stages cut where the trace scheduled each operation (``trace_model``'s
    latency cutoff must be ``cutoff``). No re-timing: da4ml's re-timing re-traces with its own delay
    model, which prices DSP products as adder chains."""
    from da4ml.trace import to_pipeline

    return to_pipeline(rt.comb, cutoff, retiming=False, verbose=False)


GRAPH_KINDS = ("GarNet", "GarNetStack", "GravNet")


def reuse_factor(cfg: dict, model=None):
    """The reuse factor R of the graph layers: 1 (default) is the fully parallel design, R > 1 the folded one.

    HLSConfig.Model.ReuseFactor, or a graph layer's own HLSConfig.LayerName.<layer>.ReuseFactor. With the
    model: every graph layer must have the same R, and a dense layer none of its own (the dense head stays
    fully parallel): a setting that would be ignored is refused in one line."""
    hls = cfg.get("HLSConfig") or {}
    rf = (hls.get("Model") or {}).get("ReuseFactor", 1)
    if model is None:
        return rf
    named = hls.get("LayerName") or {}
    per_layer = {}
    for layer in model.layers:
        own = (named.get(layer.name) or {}).get("ReuseFactor") if isinstance(named.get(layer.name), dict) else None
        if type(layer).__name__ in GRAPH_KINDS:
            per_layer[layer.name] = rf if own is None else own
        elif own is not None and own != 1:
            raise UserError(f"HLSConfig.LayerName.{layer.name}.ReuseFactor = {own} does not apply to the rtl "
                            f"backend: its {type(layer).__name__} layers are fully parallel (fold the graph layers "
                            "with their own ReuseFactor or HLSConfig.Model.ReuseFactor)")
    if len(set(per_layer.values())) > 1:
        listed = ", ".join(f"{n}: {r}" for n, r in per_layer.items())
        raise UserError(f"the rtl backend folds every graph layer by one ReuseFactor; the config gives {listed}")
    return next(iter(per_layer.values()), rf)


def multiplier_modes(cfg: dict, model=None) -> dict:
    """``Multipliers`` (HLSConfig.Model, or a graph layer's own HLSConfig.LayerName entry) and ``DSPBudget``
    (HLSConfig.Model) as ``trace_model`` takes them: ``{"layers": {graph layer: mode}, "dsp_budget": N}``.
    A setting that would be ignored is refused in one line: Multipliers on a layer without variable products,
    auto without a DSPBudget, a DSPBudget without auto."""
    from garnet_hls.config.validate import check_dsp_budget, check_multipliers

    hls = cfg.get("HLSConfig") or {}
    model_cfg = hls.get("Model") or {}
    named = hls.get("LayerName") or {}
    default = check_multipliers("HLSConfig.Model.Multipliers", model_cfg.get("Multipliers", "dsp"))
    budget = model_cfg.get("DSPBudget")
    if budget is not None:
        check_dsp_budget("HLSConfig.Model.DSPBudget", budget)
    layers = {}
    for lname, lcfg in named.items():
        if isinstance(lcfg, dict) and "Multipliers" in lcfg:
            layers[lname] = check_multipliers(f"HLSConfig.LayerName.{lname}.Multipliers", lcfg["Multipliers"])
    if model is not None:
        kinds = {layer.name: type(layer).__name__ for layer in model.layers}
        for lname in layers:
            if kinds.get(lname) not in GRAPH_KINDS:
                raise UserError(f"HLSConfig.LayerName.{lname}.Multipliers does not apply: {lname} is a "
                                f"{kinds.get(lname, 'missing')} layer, whose products are constant matrices (adder "
                                "graphs); only GarNet/GarNetStack/GravNet layers have variable products")
        modes = {name: layers.get(name, default) for name, k in kinds.items() if k in GRAPH_KINDS}
    else:
        modes = {**layers}
    used = set(modes.values()) | {default}
    if "auto" in used and budget is None:
        raise UserError("Multipliers: auto needs HLSConfig.Model.DSPBudget (the DSP48E2 slices the design may use)")
    if budget is not None and "auto" not in used:
        raise UserError("HLSConfig.Model.DSPBudget applies only with Multipliers: auto (on the model or a graph "
                        "layer): remove it, or set Multipliers: auto")
    return {"default": default, "layers": modes, "dsp_budget": budget}


def check_rtl_config(cfg: dict, model=None) -> None:
    """What the RTL backend cannot build from a config, in one line (before tracing)."""
    mult = multiplier_modes(cfg, model)
    rf = reuse_factor(cfg, model)
    if isinstance(rf, int) and not isinstance(rf, bool) and rf > 1 and len(set(mult["layers"].values())) > 1:
        listed = ", ".join(f"{n}: {m}" for n, m in mult["layers"].items())
        raise UserError(f"a folded design (ReuseFactor > 1) builds the products of all its graph layers one way; "
                        f"the config gives Multipliers {listed}")
    if isinstance(rf, bool) or not isinstance(rf, int) or rf < 1:
        raise UserError(f"ReuseFactor must be a whole number >= 1 (1: fully parallel; R > 1: a folded GarNet or "
                        f"GravNet with ceil(V / R) lanes), got {rf!r}")
    if "ClockUncertainty" in cfg:
        raise UserError("ClockUncertainty is for the HLS backends (vivado, vitis); the rtl backend pipelines by "
                        "LatencyCutoff (default: ClockPeriod): remove it")


def write_project(model, cfg: dict, tmp: Path, force: bool = False, model_path=None) -> dict:
    """Trace ``model`` and write the Verilog project into the empty directory ``tmp``; returns the project's
    metadata (the flow writes it as ``garnet_project.json`` and publishes the directory). ``force``: write a
    design that does not fit the part anyway."""
    from da4ml.codegen import RTLModel

    from garnet_hls.backends.rtl.common import dsp_count
    from garnet_hls.backends.rtl.keras3 import trace_any_model as trace_model

    check_rtl_config(cfg, model)
    name = cfg.get("ProjectName", "myproject")
    part = cfg.get("Part") or DEFAULT_PART
    clock = float(cfg.get("ClockPeriod") or DEFAULT_CLOCK)
    cutoff = float(cfg.get("LatencyCutoff") or clock)

    mult = multiplier_modes(cfg, model)
    rt = trace_model(model, latency_cutoff=cutoff, multipliers=mult)
    dsps = dsp_count(rt.comb)
    warning = fit_check(float(rt.comb.cost), part, force, dsps)
    if warning:
        print(warning)
    for e in rt.not_bit_exact:  # as the HLS converter reports them
        print(f"garnet-hls: warning: layer {e['layer']!r} is not bit-exact: {e['reason']}", file=sys.stderr)

    rtl = RTLModel(pipeline(rt, cutoff), name, tmp, flavor="verilog", latency_cutoff=cutoff, part_name=part,
                   clock_period=clock)
    rtl.write()
    pipe = rtl._pipe
    n_lut = mark_lut_multipliers(pipe, Path(tmp), name)
    rt.comb.save(Path(tmp) / "model" / "comb.json")
    stages = len(pipe.solutions) if pipe is not None else 0
    meta = project_meta(model, rt, name, part, clock, cutoff, stages, model_path)
    meta["reg_bits"] = int(pipe.reg_bits) if pipe is not None else 0
    meta["dsp_slices"] = dsps
    from garnet_hls.backends.rtl.model import breakdown, stage_depths

    meta["breakdown"] = breakdown(rt, cutoff)
    meta["stage_depths"] = stage_depths(rt, cutoff)
    meta["multipliers"] = {**rt.multipliers, "default": mult["default"], "lut_products": n_lut,
                           "dsp_products": sum(1 for op in rt.comb.ops if op.opcode == 7) - n_lut}
    return meta


LUT_MULTIPLIER = Path(__file__).parent / "verilog" / "multiplier_lut.v"


def mark_lut_multipliers(pipe, prj: Path, name: str) -> int:
    """Make the fabric products of the written pipeline instances of ``multiplier_lut`` (our module, copied to
    ``src/static``) instead of da4ml's ``multiplier`` (``a * b``, which synthesis maps onto DSPs).

    A fabric product is a da4ml product op with a LUT cost (``common._lut_mul``; a DSP product has none); the
    stage module ``src/<name>_stage<i>.v`` instantiates op j of stage i as ``op_<j>``. Returns how many were
    rewritten (every fabric product of the pipeline: anything else is an error)."""
    import re
    import shutil

    want, done = 0, 0
    for i, comb in enumerate(pipe.solutions if pipe is not None else []):
        refs = comb.ref_count
        ids = {j for j, op in enumerate(comb.ops) if op.opcode == 7 and op.cost > 0 and refs[j] > 0}
        if not ids:
            continue
        want += len(ids)
        path = prj / "src" / f"{name}_stage{i}.v"
        lines = path.read_text().splitlines(keepends=True)
        for k, line in enumerate(lines):
            m = re.search(r"\bmultiplier #\(.*\) op_(\d+) \(", line)
            if m and int(m.group(1)) in ids:
                lines[k] = line.replace("multiplier #(", "multiplier_lut #(", 1)
                done += 1
        path.write_text("".join(lines))
    if done != want:
        raise RuntimeError(f"{want} fabric products in the pipeline, {done} found in the stage modules")
    if want:
        shutil.copy(LUT_MULTIPLIER, prj / "src" / "static" / "multiplier_lut.v")
    return done


def project_meta(model, rt, name, part, clock, cutoff, stages, model_path) -> dict:
    import garnet_hls

    from garnet_hls.core.fixed import parse_spec

    inputs, layers = [], {}
    for spec in rt.inputs:
        if spec["kind"] == "nvtx":
            inputs.append({"name": spec["keras_name"], "keras_name": spec["keras_name"], "shape": spec["shape"],
                           "type": f"ap_uint<{max(1, rt.n_vertices.bit_length())}>"})
            layers[spec["keras_name"]] = {"type": "InputLayer", "exact": True, "output": None, "nvtx": True,
                                          "n_vertices": rt.n_vertices}
        else:
            t = parse_spec(spec["type"])
            inputs.append({"name": spec["keras_name"], "keras_name": spec["keras_name"], "shape": spec["shape"],
                           "type": t.ap_type(), "spec": spec["type"]})
    outputs = [{"name": o["keras_name"], "keras_name": o["keras_name"], "shape": o["shape"],
                "type": "exact (da4ml wire)"} for o in rt.outputs]
    return {
        "garnet_hls_version": garnet_hls.__version__,
        "backend": "rtl",
        "project_name": name,
        "model_file": str(Path(model_path).resolve()) if model_path else None,
        "part": part,
        "clock_period_ns": clock,
        "latency_cutoff": cutoff,
        "latency_cycles": stages,
        "interval_cycles": 1,
        "estimated_luts": float(rt.comb.cost),
        "inputs": inputs,
        "outputs": outputs,
        "traced": [],
        "layers": layers,
        "bit_exact": not rt.not_bit_exact,
        "not_bit_exact": list(rt.not_bit_exact),
    }
