"""Issue #19: the single GarNet block of the issue-11 baseline (V=16, F=A=P=F_out=4, 8-bit; benchmarks/
rtl_block16_yosys.py) with each multiplier choice, synthesized by Yosys (synth_xilinx -family xcup).

    nice -n 10 python benchmarks/rtl_multipliers.py [--vertices 16] MODE[:BUDGET] ...   e.g. dsp packed lut auto:260

Appends one JSON line per run to benchmarks/rtl_multipliers.jsonl (about 10 minutes per run on 2 shared cores).
"""
import garnet_hls  # noqa: F401  (first: sets up Keras 2)
import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import tf_keras as keras
import yaml

from garnet_hls.backends.rtl.yosys import format_report, run_yosys
from garnet_hls.flows.convert import convert
from garnet_hls.layers import GarNet

HERE = Path(__file__).parent


def block(V):
    q8 = "quantized_bits(8,3,alpha=1)"
    keras.utils.set_random_seed(1)
    fi = keras.Input((V, 4), name="features")
    ni = keras.Input((1,), dtype="int32", name="nvtx")
    y = GarNet(4, 4, 4, simplified=True, collapse=None, name="g", input_quantizer=q8,
               kernel_quantizer="quantized_bits(8,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
               distance_quantizer="quantized_bits(8,2,alpha=1)",
               edge_weight_quantizer="quantized_bits(8,0,keep_negative=0,alpha=1)", feature_quantizer=q8,
               reciprocal_quantizer="quantized_bits(8,0,keep_negative=0,alpha=1)", aggregate_quantizer=q8,
               preactivation_quantizer=q8, output_quantizer=q8)([fi, ni])
    m = keras.Model([fi, ni], y)
    keras.utils.set_random_seed(1)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("modes", nargs="+")
    ap.add_argument("--vertices", type=int, default=16)
    ap.add_argument("--no-yosys", action="store_true", help="convert only (schedule and da4ml estimate)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rtl_mult_"))
    m = block(args.vertices)
    m.save(str(work / "block.keras"))
    for spec in args.modes:
        mode, _, budget = spec.partition(":")
        model_cfg = {"Multipliers": mode, **({"DSPBudget": int(budget)} if budget else {})}
        (work / f"{mode}{budget}.yml").write_text(yaml.safe_dump({"HLSConfig": {"Model": model_cfg}}))
        t = time.time()
        prj = convert(str(work / "block.keras"), str(work / f"{mode}{budget}.yml"), work / f"prj_{mode}{budget}",
                      backend="rtl", force=True, model=m)
        meta = json.loads((prj / "garnet_project.json").read_text())
        row = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "design": f"GarNet block V={args.vertices} F=A=P=F_out=4 8-bit", "multipliers": spec,
               "cycles": meta["latency_cycles"], "da4ml_estimate_luts": round(meta["estimated_luts"]),
               "dsp_slices_scheduled": meta["dsp_slices"], "choice": meta["multipliers"],
               "reg_bits": meta["reg_bits"], "convert_s": round(time.time() - t, 1), "project": str(prj)}
        print(json.dumps(row), flush=True)
        if not args.no_yosys:
            rep = run_yosys(prj)
            print(format_report(rep), flush=True)
            row.update({"yosys": rep["label"], "yosys_summary": rep["summary"], "yosys_cells": rep["cells"],
                        "yosys_seconds": rep["seconds"], "yosys_cpu_seconds": rep.get("cpu_seconds"),
                        "yosys_peak_rss_mb": rep.get("peak_rss_mb"), "logic_depth": rep.get("logic_depth"),
                        "scheduled_depths": rep.get("scheduled_depths")})
            with open(HERE / "rtl_multipliers.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
