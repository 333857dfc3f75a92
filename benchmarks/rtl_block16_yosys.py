"""The issue #11 baseline: one simplified GarNet block (V=16, F=A=P=F_out=4, 8-bit), RTL backend + Yosys.

    nice -n 10 python benchmarks/rtl_block16_yosys.py   (about 10 minutes on 2 shared cores)
"""
import garnet_hls, json, time, sys
import numpy as np, tf_keras as keras
from garnet_hls.layers import GarNet
from garnet_hls.flows.convert import convert
from garnet_hls.backends.rtl.yosys import run_yosys, format_report
import tempfile
from pathlib import Path
WORK = Path(tempfile.mkdtemp(prefix="rtl_block16_"))
q8 = "quantized_bits(8,3,alpha=1)"
V = 16
keras.utils.set_random_seed(1)
fi = keras.Input((V, 4), name="features"); ni = keras.Input((1,), dtype="int32", name="nvtx")
y = GarNet(4, 4, 4, simplified=True, collapse=None, name="g", input_quantizer=q8, kernel_quantizer="quantized_bits(8,0,alpha=1)",
           bias_quantizer="quantized_bits(8,0,alpha=1)", distance_quantizer="quantized_bits(8,2,alpha=1)",
           edge_weight_quantizer="quantized_bits(8,0,keep_negative=0,alpha=1)", feature_quantizer=q8,
           reciprocal_quantizer="quantized_bits(8,0,keep_negative=0,alpha=1)", aggregate_quantizer=q8,
           preactivation_quantizer=q8, output_quantizer=q8)([fi, ni])
m = keras.Model([fi, ni], y)
keras.utils.set_random_seed(1)
m.save(str(WORK / "block16.keras"))
prj = convert(str(WORK / "block16.keras"), None, WORK / "block16_prj", backend="RTL", force=True, model=m)
meta = json.loads((prj / "garnet_project.json").read_text())
print("cycles", meta["latency_cycles"], "estimate", meta["estimated_luts"], flush=True)
rep = run_yosys(prj)
print(format_report(rep)); print(json.dumps(rep["cells"]))
