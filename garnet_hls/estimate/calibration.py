"""Calibration of ``garnet-hls estimate`` against every usable real report (docs/estimate.md,
"Calibration"): the architectures of the reports reconstructed, their layers estimated with the model of
``garnet_hls.estimate.model`` and compared with the numbers the report files give."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError
from garnet_hls.estimate.model import FixedType, Ops, dense_estimate, device_for, rom_bram18
from garnet_hls.estimate.model import _grid

# ------------------------------------------------------------------------------------------------
# Calibration against real reports
# ------------------------------------------------------------------------------------------------

def default_reports_dir() -> Path:
    """``tests/data/vivado-reports`` of a source checkout (see PROVENANCE.md there): the real reports are
    test data of the repository and do not ship in the wheel; pass ``reports_dir`` to
    :func:`calibration_table` to use another copy."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "vivado-reports"


_F16 = FixedType(16, 6, True)
_W6 = FixedType(6, 1, True)  # quantized_bits(6,0): fixed<6,1>
_A6 = FixedType(6, 0, False)  # quantized_relu(6): ufixed<6,0>

# Architectures reconstructed from PROVENANCE.md, the module names of the reports and the source of the
# models (hls4ml test_report: Dense(5, input_shape=(16,)); hls4ml-tutorial part 6 at e7f5b04: conv
# filters 16/16/24 (3x3, SVHN 32x32x3), dense 42/64/10, 50 % pruning of every conv and dense except
# output_dense, ap_fixed<16,6>, reuse 1, io_stream; the QKeras variant with quantized_bits(6,0) kernels and
# quantized_relu(6) activations, output_dense a plain Dense; seanlipps model_1 parameters.h at bfc2fecf:
# conv1d 9->16 (k=3), dense 16->6, softmax, fixed<16,6>). Dense layers in io_stream read ceil(n_in / pack)
# stream words first (a pipelined loop when there is more than one).
_TUT = "fastmachinelearning-hls4ml-tutorial-"
_CAL_DENSE = [
    # (report folder, module, label, part, n_in, n_out, nonzero, t_in, t_w, stream words)
    ("fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5",
     "dense_array_array_ap_fixed_16_6_5_3_0_5u_config2_s", "Dense 16->5", "xc7z020-clg400-1", 16, 5, 80, _F16, _F16, 1),
    (_TUT + "pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_42u_config17_s", "Dense 96->42, 50 % pruned",
     "xcu250-figd2104-2L-e", 96, 42, 2016, _F16, _F16, 4),
    (_TUT + "pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_64u_config21_s", "Dense 42->64, 50 % pruned",
     "xcu250-figd2104-2L-e", 42, 64, 1344, _F16, _F16, 1),
    (_TUT + "pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_10u_config25_s", "Dense 64->10",
     "xcu250-figd2104-2L-e", 64, 10, 640, _F16, _F16, 1),
    (_TUT + "pruned_cnn_reference", "dense_array_array_ap_fixed_16_6_5_3_0_42u_config17_s",
     "Dense 96->42, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 96, 42, 2016, _F16, _F16, 4),
    (_TUT + "pruned_cnn_reference", "dense_array_array_ap_fixed_16_6_5_3_0_64u_config21_s",
     "Dense 42->64, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 42, 64, 1344, _F16, _F16, 1),
    (_TUT + "pruned_cnn_reference", "dense_array_array_ap_fixed_16_6_5_3_0_10u_config25_s", "Dense 64->10 (2nd run)",
     "xcu250-figd2104-2L-e", 64, 10, 640, _F16, _F16, 1),
    (_TUT + "quantized_pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_42u_config14_s",
     "QDense 96->42, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 96, 42, 2016, _A6, _W6, 4),
    (_TUT + "quantized_pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_64u_config18_s",
     "QDense 42->64, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 42, 64, 1344, _A6, _W6, 1),
    (_TUT + "quantized_pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_10u_config22_s",
     "Dense 64->10, 6-bit inputs", "xcu250-figd2104-2L-e", 64, 10, 640, _A6, _F16, 1),
]
_CAL_MULT = [
    # multiplier-rule points: (report folder, module, label, part, multiplications, t_a, t_b)
    (_TUT + "pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config2_s", "Conv2D 3->16 3x3, 50 % pruned",
     "xcu250-figd2104-2L-e", 216, _F16, _F16),
    (_TUT + "pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config7_s", "Conv2D 16->16 3x3, 50 % pruned",
     "xcu250-figd2104-2L-e", 1152, _F16, _F16),
    (_TUT + "pruned_cnn", "conv_2d_cl_array_array_ap_fixed_24u_config12_s", "Conv2D 16->24 3x3, 50 % pruned",
     "xcu250-figd2104-2L-e", 1728, _F16, _F16),
    (_TUT + "pruned_cnn_reference", "conv_2d_cl_array_array_ap_fixed_16u_config2_s",
     "Conv2D 3->16 3x3, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 216, _F16, _F16),
    (_TUT + "pruned_cnn_reference", "conv_2d_cl_array_array_ap_fixed_16u_config7_s",
     "Conv2D 16->16 3x3, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 1152, _F16, _F16),
    (_TUT + "pruned_cnn_reference", "conv_2d_cl_array_array_ap_fixed_24u_config12_s",
     "Conv2D 16->24 3x3, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 1728, _F16, _F16),
    (_TUT + "quantized_pruned_cnn", "normalize_array_array_ap_fixed_42u_config16_s", "BatchNorm scale x42",
     "xcu250-figd2104-2L-e", 42, _F16, _F16),
    (_TUT + "quantized_pruned_cnn", "normalize_array_array_ap_fixed_64u_config20_s", "BatchNorm scale x64",
     "xcu250-figd2104-2L-e", 64, _F16, _F16),
    (_TUT + "quantized_pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config2_s",
     "QConv2D 3->16 3x3, 6-bit weights, 50 % pruned", "xcu250-figd2104-2L-e", 216, _F16, _W6),
    (_TUT + "quantized_pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config6_s",
     "QConv2D 16->16 3x3, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 1152, _A6, _W6),
    (_TUT + "quantized_pruned_cnn", "conv_2d_cl_array_array_ap_fixed_24u_config10_s",
     "QConv2D 16->24 3x3, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 1728, _A6, _W6),
]
_CAL_RELU = [
    ("fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5", "relu_array_array_ap_fixed_5u_relu_config3_s",
     "ReLU x5", "xc7z020-clg400-1"),
    (_TUT + "pruned_cnn", "relu_array_array_ap_fixed_64u_relu_config24_s", "ReLU x64", "xcu250-figd2104-2L-e"),
    (_TUT + "pruned_cnn", "relu_array_array_ap_fixed_42u_relu_config20_s", "ReLU x42", "xcu250-figd2104-2L-e"),
]

# Documented error bounds: the largest |error| measured over the calibration points of each quantity
# (docs/estimate.md; rounded up to the next 0.01). The test asserts every point stays within them.
CALIBRATION_BOUNDS = {
    "latency_cycles": 0.50,  # relative (measured max 0.50: 3 vs 2 cycles, and 1 vs 2)
    "dsp": 0.47,  # relative, multiplications with both operands > 10 bits (measured max 0.466)
    "dsp_share_narrow": 0.13,  # absolute DSP share of the multiplications with a narrow operand (0.130)
    "lut": 0.36,  # relative (measured max 0.353)
    "ff": 0.39,  # relative (measured max 0.382)
    "bram_18k": 0.50,  # relative (one point: 2 vs 4)
}


def _rel(est: float, real: float) -> float | None:
    return None if not real else (est - real) / real


def calibration_table(reports_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Estimate vs real, for every report whose architecture we could reconstruct (docs/estimate.md).

    Each row: report, module, layer, quantity, estimated, real, error (relative, or the absolute DSP
    share for narrow multiplications), bound (CALIBRATION_BOUNDS[quantity]). Real values are read from the
    report files with garnet_hls.toolchain.hls_csynth at call time."""
    from garnet_hls.toolchain.hls_csynth import parse_csynth_rpt, parse_csynth_xml

    root = Path(reports_dir) if reports_dir else default_reports_dir()
    if not root.is_dir():
        raise UserError(f"calibration reports not found: {root} (they are test data of the source repository, "
                        "tests/data/vivado-reports; pass reports_dir)")
    cache: dict[Path, Any] = {}

    def module(folder: str, name: str):
        path = root / folder / "myproject_csynth.rpt"
        if path not in cache:
            if not path.is_file():
                raise UserError(f"calibration report missing: {path}")
            cache[path] = {m.module: m for m in parse_csynth_rpt(path).modules}
        if name not in cache[path]:
            raise UserError(f"module {name} not in {path}")
        return cache[path][name]

    rows: list[dict[str, Any]] = []

    def row(folder, mod, label, quantity, est, real, error):
        rows.append(dict(report=folder, module=mod, layer=label, quantity=quantity, estimated=est, real=real,
                         error=None if error is None else round(error, 4),
                         bound=CALIBRATION_BOUNDS.get(quantity)))

    for folder, mod, label, part, n_in, n_out, nz, t_in, t_w, words in _CAL_DENSE:
        dev = device_for(part, 5.0)
        m = module(folder, mod)
        d = dense_estimate(n_in, n_out, 1, t_in, t_w, _F16, dev, n_nonzeros=nz)
        lat = d["latency"] + (words if words > 1 else 0)
        row(folder, mod, label, "latency_cycles", lat, m.latency_max, _rel(lat, m.latency_max))
        real_dsp = m.resources.get("DSP", 0)
        if d["dsp_multiplications"]:
            row(folder, mod, label, "dsp", d["dsp"], real_dsp, _rel(d["dsp"], real_dsp))
        else:
            row(folder, mod, label, "dsp_share_narrow", d["dsp"], real_dsp, (d["dsp"] - real_dsp) / nz)
        row(folder, mod, label, "lut", d["lut"], m.resources.get("LUT"), _rel(d["lut"], m.resources.get("LUT")))
        row(folder, mod, label, "ff", d["ff"], m.resources.get("FF"), _rel(d["ff"], m.resources.get("FF")))
    for folder, mod, label, part in _CAL_RELU:
        dev = device_for(part, 5.0)
        m = module(folder, mod)
        est = dev.act_cycles
        row(folder, mod, label, "latency_cycles", est, m.latency_max,
            _rel(est, m.latency_max) if m.latency_max else float(est - m.latency_max))
    for folder, mod, label, part, n, ta, tb in _CAL_MULT:
        dev = device_for(part, 5.0)
        m = module(folder, mod)
        o = Ops()
        o.mul(n, ta, tb, dev, const=True)
        est = o.resources(1, dev)[0]
        real_dsp = m.resources.get("DSP", 0)
        if o.n_dsp_mult:
            row(folder, mod, label, "dsp", est, real_dsp, _rel(est, real_dsp))
        else:
            row(folder, mod, label, "dsp_share_narrow", est, real_dsp, (est - real_dsp) / n)
    # softmax tables: exp and 1/x, 1024 x 18 bits each (hls4ml defaults of the time)
    m = module(_TUT + "pruned_cnn", "softmax_array_array_ap_fixed_10u_softmax_config27_s")
    est = 2 * rom_bram18(1024, 18)
    row(_TUT + "pruned_cnn", m.module, "Softmax tables 2 x 1024 x 18", "bram_18k", est, m.resources.get("BRAM_18K"),
        _rel(est, m.resources.get("BRAM_18K")))
    # whole design, io_parallel: conv1d 27x16 multiplications per pixel + dense 16x6 + softmax 6
    folder = "seanlipps-ECE226_CoDesign-model_1-vitis2024_1-cosimpass"
    path = root / folder / "myproject_csynth.xml"
    if path.is_file():
        rep = parse_csynth_xml(path)
        dev = device_for("xcu250-figd2104-2L-e", 5.0)
        o = Ops()
        o.mul(27 * 16 + 16 * 6, _F16, _F16, dev, const=True)
        o.mul(6, _F16, FixedType(18, 8, True), dev)
        est = o.resources(1, dev)[0]
        real = rep.resources.get("DSP")
        row(folder, "myproject (top)", "Conv1D 9->16 k3 + Dense 16->6 + Softmax", "dsp", est, real, _rel(est, real))
    return rows


def calibration_summary(rows: list[dict[str, Any]] | None = None) -> dict[str, dict[str, float]]:
    """Per quantity: points, mean error, mean |error|, max |error| (the documented bound)."""
    rows = rows if rows is not None else calibration_table()
    out: dict[str, dict[str, float]] = {}
    for q in sorted({r["quantity"] for r in rows}):
        errs = [r["error"] for r in rows if r["quantity"] == q and r["error"] is not None]
        out[q] = dict(points=len(errs), mean=sum(errs) / len(errs), mean_abs=sum(map(abs, errs)) / len(errs),
                      max_abs=max(map(abs, errs)))
    return out


def format_calibration(rows: list[dict[str, Any]]) -> str:
    headers = ["report", "layer", "quantity", "estimate", "real", "error"]
    body = []
    for r in rows:
        err = "-" if r["error"] is None else (f"{100 * r['error']:+.0f} %" if r["quantity"] != "dsp_share_narrow"
                                              else f"{100 * r['error']:+.1f} pts")
        body.append([r["report"].replace("fastmachinelearning-", "")[:44], r["layer"], r["quantity"],
                     str(r["estimated"]), str(r["real"]), err])
    return "\n".join(_grid(headers, body)) + "\n"

