"""Issue #19: the trace's breakdown (da4ml LUT estimate, DSP48E2 slices, pipeline-register bits by what they
implement) of a preset model for each multiplier choice, without synthesis.

    nice -n 10 python benchmarks/rtl_multipliers_trace.py garnet_rtl_v32 32 dsp packed lut auto:2100

Prints one JSON line per choice (the trained model of benchmarks/rtl_models/ when there is one).
"""
import garnet_hls  # noqa: F401  (first: sets up Keras 2)
import datetime
import json
import sys
import time
from pathlib import Path

from garnet_hls.backends.rtl.common import dsp_count
from garnet_hls.backends.rtl.model import breakdown, stage_depths, trace_model

HERE = Path(__file__).parent


def load(preset, V):
    from garnet_hls.models.build import build_preset_model
    from garnet_hls.models.io import load_keras_model

    for p in sorted((HERE / "rtl_models" / f"{preset}-v{V}").glob("*.keras")):
        return load_keras_model(p), str(p.relative_to(HERE.parent))
    return build_preset_model(preset, n_vertices=V), "untrained (seeded) weights"


def main():
    preset, V, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    model, src = load(preset, V)
    graph = [layer.name for layer in model.layers if type(layer).__name__ in ("GarNet", "GarNetStack", "GravNet")]
    for spec in modes:
        mode, _, budget = spec.partition(":")
        t = time.time()
        rt = trace_model(model, 5.0, {"layers": {g: mode for g in graph}, "dsp_budget": int(budget) if budget else None})
        rows = breakdown(rt, 5.0)
        print(json.dumps({"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                          "preset": preset, "V": V, "model": src, "multipliers": spec,
                          "cycles": len(stage_depths(rt, 5.0)), "da4ml_estimate_luts": round(float(rt.comb.cost)),
                          "dsp": dsp_count(rt.comb), "choice": rt.multipliers, "breakdown": rows,
                          "trace_s": round(time.time() - t, 1)}), flush=True)


if __name__ == "__main__":
    main()
