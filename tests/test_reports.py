"""The report parsers of garnet_hls.toolchain (hls, hls_csynth, vivado) and their presentation (hls_format)
against real Vivado HLS / Vitis HLS / Vivado report files.

The files live in tests/data/vivado-reports (see PROVENANCE.md there); they are
read in place, and copied only into pytest's tmp_path. Every number asserted here was read from
those files by eye.
"""

import argparse
import base64
import json
import re
import shutil
from pathlib import Path

import pytest

from garnet_hls.errors import UserError
from garnet_hls.flows.report import add_cli
from garnet_hls.toolchain.hls import find_reports, load_hls4ml_config, load_report, parse_cosim_rpt
from garnet_hls.toolchain.hls_csynth import parse_csynth_rpt, parse_csynth_xml
from garnet_hls.toolchain.hls_format import format_table, write_html, write_json
from garnet_hls.toolchain.vivado import parse_utilization_rpt

SHARED = Path(__file__).resolve().parent / "data" / "vivado-reports"

DENSE = SHARED / "fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5"
PRUNED = SHARED / "fastmachinelearning-hls4ml-tutorial-pruned_cnn"
PRUNED_REF = SHARED / "fastmachinelearning-hls4ml-tutorial-pruned_cnn_reference"
QPRUNED = SHARED / "fastmachinelearning-hls4ml-tutorial-quantized_pruned_cnn"
STAGES = SHARED / "cornell-zhang-heterocl-stages_report-vivadohls2019_1_3"
CANNY = SHARED / "cornell-zhang-heterocl-canny_report-vivadohls2019_1_3"
STREAM = SHARED / "ihsanalhafiz-Alveo_FPGA_Design_Workshop-streamhls-vitis2023_2"
BASIC = SHARED / "ValdecirDesenv-FPGA_picoZed-basic_output-vitis2023_1"
PULSE = SHARED / "SpAllen0726-HG-DREAM-Pulse-Detection-Project-myproject-vitis2023_1-cosimfail"
CONV2D = SHARED / "YanLunHuang-conv2d_test-myproject-vivadohls2019_2-cosimpass"
ECE226 = SHARED / "seanlipps-ECE226_CoDesign-model_1-vitis2024_1-cosimpass"
GRAVNET = SHARED / "morunner-hls4ml-gravnet-paper_reference"

COVERED = {DENSE, PRUNED, PRUNED_REF, QPRUNED, STAGES, CANNY, STREAM, BASIC, PULSE, CONV2D, ECE226, GRAVNET}


def test_every_sample_directory_has_a_test():
    present = {p for p in SHARED.iterdir() if p.is_dir()}
    assert present == COVERED


def _res(rep):
    return {k: (rep.resources.get(k), rep.available.get(k)) for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")}


# ---------------------------------------------------------------------------------------------
# Vivado HLS 2020.1, hls4ml Dense(5) test model: XML + RPT + vivado_synth.rpt
# ---------------------------------------------------------------------------------------------


def test_dense16x5_xml():
    r = parse_csynth_xml(DENSE / "myproject_csynth.xml")
    assert r.version == "2020.1"
    assert r.tool == "Vivado HLS"
    assert r.part == "xc7z020-clg400-1"
    assert r.product_family == "zynq"
    assert r.top == "myproject"
    assert r.target_clock_ns == 5.0 and r.clock_uncertainty_ns == 0.62 and r.estimated_clock_ns == 4.049
    assert (r.latency_best, r.latency_avg, r.latency_worst) == (10, 10, 10)
    assert (r.latency_best_ns, r.latency_avg_ns, r.latency_worst_ns) == (50.0, 50.0, 50.0)
    assert (r.interval_min, r.interval_max) == (8, 8)
    assert (r.throughput_min, r.throughput_max) == (8, 8)
    assert r.pipeline_type == "dataflow"
    assert r.dsp_name == "DSP48E"
    assert _res(r) == {"BRAM_18K": (0, 280), "DSP": (73, 220), "FF": (7969, 106400), "LUT": (2532, 53200), "URAM": (0, 0)}
    util = r.utilization()
    assert util["DSP"] == pytest.approx(100 * 73 / 220)
    assert util["URAM"] is None  # the part has no URAM
    assert r.modules == []  # the 2020.1 top XML has no per-module data


def test_dense16x5_rpt_and_merge():
    r = parse_csynth_rpt(DENSE / "myproject_csynth.rpt")
    assert r.tool == "Vivado HLS" and r.version == "2020.1" and r.top == "myproject"
    assert r.part == "xc7z020-clg400-1" and r.project == "myproject_prj" and r.solution == "solution1"
    assert r.target_clock_ns == 5.0 and r.estimated_clock_ns == 4.049 and r.clock_uncertainty_ns == 0.62
    assert (r.latency_best, r.latency_worst, r.latency_best_ns, r.latency_worst_ns) == (10, 10, 50.0, 50.0)
    assert r.latency_avg is None  # the text report has min/max only
    assert (r.interval_min, r.interval_max) == (8, 8)
    assert _res(r) == {"BRAM_18K": (0, 280), "DSP": (73, 220), "FF": (7969, 106400), "LUT": (2532, 53200), "URAM": (0, 0)}
    mods = {m.instance: m for m in r.modules}
    dense = mods["dense_array_array_ap_fixed_16_6_5_3_0_5u_config2_U0"]
    assert dense.module == "dense_array_array_ap_fixed_16_6_5_3_0_5u_config2_s"
    assert (dense.latency_min, dense.latency_max, dense.latency_max_ns, dense.interval_max) == (7, 7, 35.0, 7)
    assert dense.resources == {"BRAM_18K": 0, "DSP": 73, "FF": 7860, "LUT": 2134, "URAM": 0}
    relu = mods["relu_array_array_ap_fixed_5u_relu_config3_U0"]
    assert (relu.latency_max, relu.interval_max, relu.pipeline_type) == (2, 1, "function")
    assert relu.resources["FF"] == 84 and relu.resources["LUT"] == 256

    full = load_report(DENSE)
    assert full.csynth.latency_avg == 10  # from the XML
    assert len(full.csynth.modules) == 2  # from the RPT
    assert full.cosim is None


def test_dense16x5_vivado_synth():
    v = parse_utilization_rpt(DENSE / "vivado_synth.rpt")
    assert v.tool_version.startswith("Vivado v.2020.1")
    assert v.design == "myproject" and v.device == "7z020clg400-1" and v.design_state == "Synthesized"
    s = v.summary()
    assert (s["LUT"].site_type, s["LUT"].used, s["LUT"].available, s["LUT"].util_percent) == ("Slice LUTs", 1526, 53200, 2.87)
    assert (s["FF"].site_type, s["FF"].used, s["FF"].available) == ("Slice Registers", 2428, 106400)
    assert (s["BRAM_TILE"].used, s["BRAM_TILE"].available) == (0, 140)
    assert (s["DSP"].used, s["DSP"].available, s["DSP"].util_percent) == (66, 220, 30.0)
    assert "URAM" not in s  # 7-series part
    assert v.entries["RAMB18"].available == 280
    assert v.entries["Bonded IOB"].util_percent == 307.2


# ---------------------------------------------------------------------------------------------
# hls4ml tutorial (Vivado HLS 2020.1, U250): RPT only, SLR rows, vivado_synth.rpt with CLB naming
# ---------------------------------------------------------------------------------------------


def test_pruned_cnn():
    rep = load_report(PRUNED)
    assert rep.files.csynth_xml is None and rep.files.csynth_rpt.endswith("myproject_csynth.rpt")
    r = rep.csynth
    assert r.tool == "Vivado HLS" and r.version == "2020.1" and r.part == "xcu250-figd2104-2L-e"
    assert (r.latency_best, r.latency_worst, r.latency_worst_ns) == (1044, 1044, 5220.0)
    assert (r.interval_min, r.interval_max) == (1028, 1028)
    assert r.estimated_clock_ns == 4.363 and r.target_clock_ns == 5.0
    assert _res(r) == {
        "BRAM_18K": (100, 5376),
        "DSP": (5414, 12288),
        "FF": (52549, 3456000),
        "LUT": (245466, 1728000),
        "URAM": (0, 1280),
    }
    assert r.available_slr == {"BRAM_18K": 1344, "DSP": 3072, "FF": 864000, "LUT": 432000, "URAM": 320}
    assert r.utilization_slr()["DSP"] == pytest.approx(176.2, abs=0.05)  # over one SLR
    assert len(r.modules) == 16
    conv = next(m for m in r.modules if m.instance == "conv_2d_cl_array_array_ap_fixed_16u_config2_U0")
    assert (conv.latency_max, conv.latency_max_ns, conv.interval_max) == (1027, 5135.0, 1027)
    assert conv.resources == {"BRAM_18K": 0, "DSP": 208, "FF": 3799, "LUT": 6334, "URAM": 0}
    v = rep.vsynth.summary()
    assert v["LUT"].site_type == "CLB LUTs" and v["LUT"].used == 123948 and v["LUT"].util_percent == 7.17
    assert (v["FF"].used, v["BRAM_TILE"].used, v["DSP"].used, v["URAM"].used) == (43435, 42, 5386, 0)
    assert (v["DSP"].available, v["URAM"].available) == (12288, 1280)
    assert rep.vsynth.device == "xcu250figd2104-2L"


def test_pruned_cnn_reference():
    rep = load_report(PRUNED_REF)
    r = rep.csynth
    assert (r.latency_best, r.latency_worst, r.latency_worst_ns) == (1055, 1055, 5275.0)
    assert (r.interval_min, r.interval_max, r.estimated_clock_ns) == (1029, 1029, 4.268)
    assert [r.resources[k] for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")] == [273, 5866, 54997, 256318, 0]
    v = rep.vsynth.summary()
    assert (v["LUT"].used, v["FF"].used, v["BRAM_TILE"].used, v["DSP"].used) == (129289, 43298, 56.5, 5864)
    assert v["DSP"].util_percent == 47.72


def test_quantized_pruned_cnn():
    rep = load_report(QPRUNED)
    r = rep.csynth
    assert (r.latency_best, r.latency_worst, r.interval_min, r.estimated_clock_ns) == (1044, 1044, 1028, 4.373)
    assert [r.resources[k] for k in ("BRAM_18K", "DSP", "FF", "LUT", "URAM")] == [100, 340, 43847, 263280, 0]
    v = rep.vsynth.summary()
    assert (v["LUT"].used, v["FF"].used, v["BRAM_TILE"].used, v["DSP"].used) == (118931, 30702, 34, 353)


# ---------------------------------------------------------------------------------------------
# HeteroCL (Vivado HLS 2019.1.3): old table layout without absolute latency, loops, <range>
# ---------------------------------------------------------------------------------------------


def test_stages_2019_1():
    rep = load_report(STAGES)
    assert rep.files.top == "test"
    assert rep.files.csynth_xml.endswith("test_csynth.xml") and rep.files.csynth_rpt.endswith("test_csynth.rpt")
    assert rep.files.summary_xml is None  # csynth.xml is the same file as test_csynth.xml
    assert len(rep.files.module_xmls) == 4
    r = rep.csynth
    assert r.version == "2019.1.3" and r.tool == "Vivado HLS" and r.part == "xc7z020-clg484-1"
    assert (r.target_clock_ns, r.estimated_clock_ns, r.clock_uncertainty_ns) == (10.0, 6.186, 1.25)
    assert (r.latency_best, r.latency_avg, r.latency_worst) == (3137, 3137, 3137)
    assert r.latency_best_ns is None  # neither file gives it
    assert r.latency_ns("best") == pytest.approx(31370.0)  # cycles x target clock
    assert (r.interval_min, r.interval_max, r.throughput_max) == (3138, 3138, 3138)
    assert _res(r) == {"BRAM_18K": (0, 280), "DSP": (0, 220), "FF": (299, 106400), "LUT": (912, 53200), "URAM": (0, 0)}
    lat = {m.module: m.latency_max for m in r.modules}
    assert lat == {"Loop_B_i_proc4": 3137, "Loop_E_i2_proc6": 3137, "Loop_F_i3_proc7": 2113, "Loop_D_i1_proc5": 2113}
    b = next(m for m in r.modules if m.module == "Loop_B_i_proc4")
    assert b.instance == "Loop_B_i_proc4_U0" and b.resources["FF"] == 69 and b.resources["LUT"] == 183

    text = parse_csynth_rpt(STAGES / "Loop_B_i_proc4_csynth.rpt")
    assert [(lp.name, lp.latency_max, lp.iteration_latency_max, lp.trip_count, lp.pipelined) for lp in text.loops] == [
        ("B_i", 3136, 98, 32, "no"),
        ("B_i/B_j", 96, 3, 32, "no"),
    ]
    xml = parse_csynth_xml(STAGES / "Loop_B_i_proc4_csynth.xml")
    assert [(lp.name, lp.latency_max, lp.iteration_latency_max, lp.trip_count) for lp in xml.loops] == [
        ("B_i", 3136, 98, 32),
        ("B_i/B_j", 96, 3, 32),
    ]
    assert (xml.interval_min, xml.latency_worst) == (3137, 3137)


def test_canny_ranges_and_over_100_percent():
    rep = load_report(CANNY)  # the only file is named canny_report.xml
    assert rep.files.csynth_xml.endswith("canny_report.xml")
    r = rep.csynth
    assert (r.latency_best, r.latency_avg, r.latency_worst) == (170457505, 172726855, 176256955)
    assert (r.interval_min, r.interval_max) == (170457506, 176256956)
    assert r.pipeline_type == "none" and r.estimated_clock_ns == 9.634
    assert (r.resources["BRAM_18K"], r.available["BRAM_18K"]) == (1536, 280)
    assert r.utilization()["BRAM_18K"] == pytest.approx(548.57, abs=0.01)
    assert (r.resources["DSP"], r.resources["FF"], r.resources["LUT"]) == (19, 3146, 6919)
    loops = {lp.name: lp for lp in r.loops}
    s = loops["S_x7"]
    assert (s.trip_count, s.latency_min, s.latency_max) == (410, 1009420, 6808870)
    assert (s.iteration_latency_min, s.iteration_latency_max) == (2462, 16607)
    sy = loops["S_x7/S_y4"]
    assert (sy.latency_min, sy.latency_max, sy.iteration_latency_min, sy.iteration_latency_max) == (2460, 16605, 4, 27)
    assert loops["A_x"].latency_max == 92792020
    assert loops["A_x/A_y/A_ra0/A_ra1"].latency_max == 70


# ---------------------------------------------------------------------------------------------
# Vitis HLS 2023.x / 2024.1: DSP tag, URAM, FlowTarget, ModuleInformation, summary rpt, cosim
# ---------------------------------------------------------------------------------------------


def test_streamhls_vitis_2023_2():
    rep = load_report(STREAM)
    f = rep.files
    assert f.top == "streamhls"
    assert f.csynth_xml.endswith("streamhls_csynth.xml") and f.summary_xml.endswith("csynth.xml")
    assert f.summary_rpt.endswith("csynth.rpt")
    r = rep.csynth
    assert r.tool == "Vitis HLS" and r.version == "2023.2" and r.flow_target == "vitis" and r.dsp_name == "DSP"
    assert r.part == "xcu55c-fsvh2892-2L-e"
    assert (r.latency_best, r.latency_avg, r.latency_worst, r.latency_worst_ns) == (165, 165, 165, 825.0)
    assert (r.interval_min, r.interval_max) == (91, 91)
    assert (r.target_clock_ns, r.estimated_clock_ns, r.clock_uncertainty_ns) == (5.0, 3.65, 1.35)
    assert _res(r) == {
        "BRAM_18K": (30, 4032),
        "DSP": (48, 9024),
        "FF": (10567, 2607360),
        "LUT": (6800, 1303680),
        "URAM": (0, 960),
    }
    assert r.available_slr == {"BRAM_18K": 1344, "DSP": 3008, "FF": 869120, "LUT": 434560, "URAM": 320}
    mods = {m.instance: m for m in r.modules}
    pk = mods["process_kernel_U0"]
    assert (pk.latency_max, pk.interval_max) == (21, 21)
    assert pk.resources == {"BRAM_18K": 0, "DSP": 48, "FF": 2306, "LUT": 1324, "URAM": 0}
    assert mods["gmem_m_axi_U"].resources["BRAM_18K"] == 30 and mods["gmem_m_axi_U"].latency_max is None


def test_streamhls_module_information_xml():
    r = parse_csynth_xml(STREAM / "csynth.xml")
    mods = {m.module: m for m in r.modules}
    assert set(mods) == {"entry_proc", "fetch_from_hbm", "process_kernel", "write_to_output_Pipeline_VITIS_LOOP_44_1", "write_to_output"}
    fetch = mods["fetch_from_hbm"]
    assert (fetch.instance, fetch.depth, fetch.latency_max, fetch.latency_max_ns, fetch.interval_max) == ("fetch_from_hbm_U0", 1, 90, 450.0, 90)
    assert fetch.resources == {"FF": 799, "LUT": 136, "BRAM_18K": 0, "DSP": 0, "URAM": 0}
    pipe = mods["write_to_output_Pipeline_VITIS_LOOP_44_1"]
    assert (pipe.instance, pipe.depth, pipe.latency_max) == ("grp_write_to_output_Pipeline_VITIS_LOOP_44_1_fu_64", 2, 19)
    assert mods["process_kernel"].resources["DSP"] == 48 and mods["process_kernel"].estimated_clock_ns == 3.528


def test_streamhls_synthesis_summary_rpt():
    r = parse_csynth_rpt(STREAM / "csynth.rpt")
    assert r.tool == "Vitis HLS" and r.version == "2023.2" and r.top == "streamhls" and r.flow_target == "vitis"
    assert (r.latency_worst, r.latency_worst_ns, r.interval_max, r.pipeline_type) == (165, 825.0, 91, "dataflow")
    assert r.resources == {"BRAM_18K": 30, "DSP": 48, "FF": 10567, "LUT": 6800}
    mods = {m.module: m for m in r.modules}
    assert (mods["process_kernel"].latency_max, mods["process_kernel"].resources["DSP"]) == (21, 48)
    assert (mods["write_to_output_Pipeline_VITIS_LOOP_44_1"].depth, mods["write_to_output_Pipeline_VITIS_LOOP_44_1"].resources["FF"]) == (2, 526)
    loops = {lp.name: lp for lp in r.loops}
    lp = loops["VITIS_LOOP_16_1"]
    assert (lp.module, lp.latency_max, lp.iteration_latency_max, lp.pipeline_ii, lp.trip_count, lp.pipelined) == (
        "fetch_from_hbm", 88, 74, 1, 16, "yes"
    )
    assert loops["VITIS_LOOP_44_1"].module == "write_to_output_Pipeline_VITIS_LOOP_44_1"


def test_basic_output_degenerate_vitis_2023_1():
    rep = load_report(BASIC)
    r = rep.csynth
    assert r.tool == "Vitis HLS" and r.version == "2023.1" and r.flow_target == "vivado" and r.dsp_name == "DSP"
    assert r.part == "xc7z030-sbg485-1" and r.top == "basic_output"
    assert (r.latency_best, r.latency_avg, r.latency_worst, r.latency_worst_ns) == (0, 0, 0, 0.0)
    assert (r.interval_min, r.interval_max) == (1, 1)
    assert (r.target_clock_ns, r.estimated_clock_ns, r.clock_uncertainty_ns) == (10.0, 0.0, 2.7)
    assert _res(r) == {"BRAM_18K": (0, 530), "DSP": (0, 400), "FF": (0, 157200), "LUT": (0, 78600), "URAM": (0, 0)}
    assert r.utilization() == {"BRAM_18K": 0.0, "DSP": 0.0, "FF": 0.0, "LUT": 0.0, "URAM": None}
    s = parse_csynth_rpt(BASIC / "csynth.rpt")
    assert (s.top, s.latency_worst, s.interval_max, s.resources, s.modules) == ("basic_output", 0, 1, {}, [])
    t = parse_csynth_rpt(BASIC / "basic_output_csynth.rpt")
    assert (t.estimated_clock_ns, t.target_clock_ns, t.latency_worst_ns, t.modules) == (0.0, 10.0, 0.0, [])


def test_pulse_detection_vitis_2023_1_cosim_fail():
    rep = load_report(PULSE)
    r = rep.csynth
    assert r.tool == "Vitis HLS" and r.version == "2023.1" and r.flow_target == "vivado" and r.dsp_name == "DSP"
    assert r.part == "xczu49dr-ffvf1760-2-e"
    assert (r.latency_best, r.latency_avg, r.latency_worst, r.latency_worst_ns) == (695, 695, 695, 3475.0)
    assert (r.interval_min, r.interval_max, r.estimated_clock_ns) == (578, 578, 3.649)
    assert _res(r) == {
        "BRAM_18K": (332, 2160),
        "DSP": (29, 4272),
        "FF": (65881, 850560),
        "LUT": (339116, 425280),
        "URAM": (0, 80),
    }
    assert r.utilization()["LUT"] == pytest.approx(79.74, abs=0.01)
    text = parse_csynth_rpt(PULSE / "myproject_csynth.rpt")
    assert (text.tool, text.flow_target, text.solution, text.dsp_name) == ("Vitis HLS", "vivado", "solution1", "DSP")
    assert (text.latency_worst, text.interval_max, text.resources["LUT"], text.available["URAM"]) == (695, 578, 339116, 80)
    assert len(r.modules) == 15
    conv = next(m for m in r.modules if m.instance == "conv_1d_cl_array_ap_fixed_1u_array_ap_fixed_27_12_5_3_0_32u_config2_U0")
    assert (conv.latency_max, conv.latency_max_ns) == (249, 1245.0)
    assert conv.resources == {"BRAM_18K": 0, "DSP": 29, "FF": 2474, "LUT": 4428, "URAM": 0}

    c = rep.cosim
    assert c.status == "Fail" and c.passed is False
    assert c.report_time == "Wed May  6 12:33:41 PM EDT 2026" and c.solution == "solution1" and c.simulation_tool is None
    assert [(x.language, x.status) for x in c.results] == [("VHDL", "NA"), ("Verilog", "Fail")]
    v = c.result
    assert v.language == "Verilog"
    assert (v.latency_min, v.latency_avg, v.latency_max, v.interval_min, v.total_execution_time) == (None,) * 5


def test_conv2d_vivado_2019_2_range_and_cosim_pass():
    rep = load_report(CONV2D)
    r = rep.csynth
    assert r.tool == "Vivado HLS" and r.version == "2019.2" and r.part == "xczu9eg-ffvb1156-2-e"
    assert (r.latency_best, r.latency_avg, r.latency_worst) == (243, 1268, 2293)
    assert (r.latency_best_ns, r.latency_avg_ns, r.latency_worst_ns) == (1215.0, 6340.0, 11465.0)
    assert (r.throughput_min, r.throughput_max) == (227, 2277)  # <DataflowPipelineThroughput><range>
    assert (r.interval_min, r.interval_max, r.estimated_clock_ns) == (227, 2277, 3.77)
    assert _res(r) == {"BRAM_18K": (4, 1824), "DSP": (8, 2520), "FF": (4187, 548160), "LUT": (8722, 274080), "URAM": (0, 0)}
    conv = next(m for m in r.modules if m.module == "conv_2d_cl_me_ap_fixed_ap_fixed_16_14_5_3_0_config2_s")
    assert (conv.latency_min, conv.latency_max, conv.latency_min_ns, conv.latency_max_ns) == (226, 2276, 1130.0, 11380.0)
    assert conv.resources == {"BRAM_18K": 4, "DSP": 8, "FF": 4014, "LUT": 8186, "URAM": 0}

    c = rep.cosim
    assert c.status == "Pass" and c.passed is True and c.simulation_tool == "xsim"
    v = c.result
    assert (v.language, v.latency_min, v.latency_avg, v.latency_max) == ("Verilog", 965, 965, 965)
    assert (v.interval_min, v.interval_avg, v.interval_max, v.total_execution_time) == (None, None, None, None)

    sub = parse_csynth_xml(CONV2D / "conv_2d_cl_me_ap_fixed_ap_fixed_16_14_5_3_0_config2_s_csynth.xml")
    assert (sub.latency_best, sub.latency_avg, sub.latency_worst) == (226, 1251, 2276)
    loops = {lp.name: lp for lp in sub.loops}
    assert (loops["Loop1"].latency_min, loops["Loop1"].latency_max, loops["Loop1"].trip_count) == (225, 2275, 25)
    assert (loops["Loop1"].iteration_latency_min, loops["Loop1"].iteration_latency_max) == (9, 91)
    inner = loops["Loop1/Loop1.1"]
    assert (inner.trip_count, inner.latency_max, inner.pipeline_ii, inner.pipeline_depth) == (72, 73, 1, 3)
    text = parse_csynth_rpt(CONV2D / "conv_2d_cl_me_ap_fixed_ap_fixed_16_14_5_3_0_config2_s_csynth.rpt")
    assert [(lp.name, lp.iteration_latency_min, lp.iteration_latency_max) for lp in text.loops] == [
        ("Loop 1", 9, 91),
        ("Loop 1/Loop 1.1", 3, 3),
    ]


def test_ece226_vitis_2024_1_cosim_pass_without_numbers():
    rep = load_report(ECE226)
    r = rep.csynth
    assert r.tool == "Vitis HLS" and r.version == "2024.1" and r.dsp_name == "DSP" and r.part == "xcu250-figd2104-2L-e"
    assert (r.latency_best, r.latency_avg, r.latency_worst) == (183, 183, 184)
    assert (r.latency_best_ns, r.latency_worst_ns) == (915.0, 920.0)
    assert (r.interval_min, r.interval_max, r.estimated_clock_ns) == (128, 128, 3.635)
    assert _res(r) == {
        "BRAM_18K": (5, 5376),
        "DSP": (471, 12288),
        "FF": (495589, 3456000),
        "LUT": (449837, 1728000),
        "URAM": (0, 1280),
    }
    c = parse_cosim_rpt(ECE226 / "myproject_cosim.rpt")
    assert (c.report_time, c.solution, c.simulation_tool) == ("Wed Mar 11 03:40:07 PM PDT 2026", "solution1", "xsim")
    assert [(x.language, x.status) for x in c.results] == [("VHDL", "NA"), ("Verilog", "Pass")]
    assert c.status == "Pass" and c.passed is True
    assert c.result.language == "Verilog" and c.result.latency_min is None and c.result.total_execution_time is None
    v = rep.vsynth
    assert v.tool_version.startswith("Vivado v.2024.1") and v.design_state == "Optimized" and v.device == "xcu250-figd2104-2L-e"
    s = v.summary()
    assert (s["LUT"].used, s["LUT"].util_percent, s["FF"].used, s["BRAM_TILE"].used, s["DSP"].used) == (306396, 17.73, 377196, 2, 469)
    assert (s["URAM"].used, s["URAM"].available) == (0, 1280)
    assert v.entries["F8 Muxes"].util_percent == 0.01  # printed as "<0.01"


def test_gravnet_paper_tables_are_not_tool_reports(tmp_path):
    rep = load_report(GRAVNET)
    assert rep.csynth is None and rep.cosim is None and rep.vsynth is None
    with pytest.raises(UserError) as exc:
        _cli(["report", str(GRAVNET)])
    msg = str(exc.value)
    assert "\n" not in msg and str(GRAVNET) in msg and "_csynth.xml" in msg and "vivado_synth.rpt" in msg


# ---------------------------------------------------------------------------------------------
# Output: table, JSON, HTML, CLI
# ---------------------------------------------------------------------------------------------


def _cli(argv):
    parser = argparse.ArgumentParser(prog="garnet-hls")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_format_table_values():
    text = format_table(load_report(DENSE))
    assert re.search(r"latency best\s+10 cycles\s+50\.000 ns", text)
    assert re.search(r"latency worst\s+10 cycles\s+50\.000 ns", text)
    assert re.search(r"interval\s+8 / 8 cycles", text)
    assert re.search(r"clock target\s+5\.000 ns", text) and re.search(r"clock estimated\s+4\.049 ns", text)
    assert re.search(r"DSP\s+73\s+220\s+33\.2%", text)
    assert re.search(r"FF\s+7969\s+106400\s+7\.5%", text)
    assert re.search(r"LUT\s+2532\s+53200\s+4\.8%", text)
    assert re.search(r"BRAM_18K\s+0\s+280\s+0\.0%", text)
    assert re.search(r"URAM\s+0\s+0\s+n/a", text)
    assert "Vivado HLS 2020.1" in text and "xc7z020-clg400-1" in text
    assert re.search(r"DSP\s+66\s+220\s+30\.0%", text)  # Vivado synthesis
    assert "dense_array_array_ap_fixed_16_6_5_3_0_5u_config2_U0" in text

    cosim = format_table(load_report(CONV2D))
    assert "Co-simulation: Pass" in cosim and "965/965/965" in cosim
    assert re.search(r"latency average\s+1268 cycles\s+6\.340 us", cosim)
    slr = format_table(load_report(PRUNED))
    assert "176.2%" in slr
    derived = format_table(load_report(STAGES))
    assert "31.370 us (cycles x target)" in derived


def test_json_output(tmp_path):
    out = tmp_path / "r.json"
    write_json(load_report(PULSE), out)
    d = json.loads(out.read_text())
    assert d["csynth"]["latency_worst"] == 695 and d["csynth"]["interval_max"] == 578
    assert d["csynth"]["resources"]["LUT"] == 339116 and d["csynth"]["available"]["URAM"] == 80
    assert d["csynth"]["dsp_name"] == "DSP"
    assert d["csynth"]["utilization_percent"]["LUT"] == pytest.approx(79.74, abs=0.01)
    assert d["cosim"]["status"] == "Fail"
    assert d["cosim"]["results"][1] == {
        "language": "Verilog",
        "status": "Fail",
        "latency_min": None,
        "latency_avg": None,
        "latency_max": None,
        "interval_min": None,
        "interval_avg": None,
        "interval_max": None,
        "total_execution_time": None,
    }
    assert len(d["csynth"]["modules"]) == 15 and d["vsynth"] is None


def test_html_output(tmp_path):
    out = tmp_path / "r.html"
    write_html(load_report(PRUNED), out)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<td>DSP</td><td>5414</td><td>12288</td><td>44.1%</td>" in page
    assert "1044 cycles / 5.220 us" in page
    assert "<td>5386</td><td>12288</td><td>43.8%</td>" in page  # Vivado synthesis DSPs
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(pngs) == 2  # utilisation chart and per-module chart
    for p in pngs:
        assert base64.b64decode(p).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http://" not in page and "https://" not in page  # self-contained


def test_cli_report_writes_json_and_html(tmp_path, capsys):
    js, ht = tmp_path / "out.json", tmp_path / "out.html"
    assert _cli(["report", str(CONV2D), "--json", str(js), "--html", str(ht)]) == 0
    printed = capsys.readouterr().out
    assert "243 cycles" in printed and "2293 cycles" in printed and "Co-simulation: Pass" in printed
    assert json.loads(js.read_text())["cosim"]["results"][1]["latency_max"] == 965
    assert "data:image/png;base64," in ht.read_text()


def test_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as exc:
        _cli(["report", str(tmp_path / "nope")])
    assert "does not exist" in str(exc.value) and "\n" not in str(exc.value)


def test_empty_project_names_the_places_searched(tmp_path):
    prj = tmp_path / "prj"
    (prj / "myproject_prj" / "solution1" / "syn" / "report").mkdir(parents=True)
    (prj / "hls4ml_config.yml").write_text("ProjectName: myproject\nBackend: Vivado\n")
    with pytest.raises(UserError) as exc:
        _cli(["report", str(prj)])
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(prj / "myproject_prj" / "solution1" / "syn" / "report") in msg


# ---------------------------------------------------------------------------------------------
# find_reports on hls4ml project layouts (built in tmp_path from copies of the samples)
# ---------------------------------------------------------------------------------------------


def _hls4ml_project(tmp_path, sample, name, backend, app, config=True, syn=(), sim=(), root=()):
    prj = tmp_path / "proj"
    sol = prj / f"{name}_prj" / "solution1"
    (sol / "syn" / "report").mkdir(parents=True)
    (sol / "sim" / "report").mkdir(parents=True)
    for f in syn:
        shutil.copy(sample / f, sol / "syn" / "report" / f)
    for f in sim:
        shutil.copy(sample / f, sol / "sim" / "report" / f)
    for src, dst in root:
        shutil.copy(src, prj / dst)
    shutil.copy(sample / app, prj / f"{name}_prj" / app)
    (prj / "firmware").mkdir()
    (prj / "build_prj.tcl").write_text("# stand-in\n")
    if config:
        # hls4ml writes the Keras model with a custom tag; the loader must cope with it
        (prj / "hls4ml_config.yml").write_text(
            f"Backend: {backend}\nClockPeriod: 5\nKerasModel: !keras_model '{prj}/keras_model.keras'\n"
            f"OutputDir: {prj}\nProjectName: {name}\nPart: xczu9eg-ffvb1156-2-e\n"
        )
    return prj


def test_find_reports_vivado_project_layout(tmp_path):
    syn = [p.name for p in CONV2D.glob("*csynth*")]
    prj = _hls4ml_project(
        tmp_path, CONV2D, "myproject", "Vivado", "vivado_hls.app", syn=syn, sim=["myproject_cosim.rpt"],
        root=[(DENSE / "vivado_synth.rpt", "vivado_synth.rpt")],
    )
    assert load_hls4ml_config(prj)["KerasModel"] == f"{prj}/keras_model.keras"
    f = find_reports(prj)
    rep_dir = prj / "myproject_prj" / "solution1" / "syn" / "report"
    assert f.project_name == "myproject" and f.top == "myproject"
    assert f.solution_dir == str(prj / "myproject_prj" / "solution1")
    assert f.csynth_xml == str(rep_dir / "myproject_csynth.xml")
    assert f.csynth_rpt == str(rep_dir / "myproject_csynth.rpt")
    assert f.summary_xml is None  # csynth.xml is a copy of the top report in Vivado HLS
    assert len(f.module_xmls) == 5
    assert f.cosim_rpt == str(prj / "myproject_prj" / "solution1" / "sim" / "report" / "myproject_cosim.rpt")
    assert f.vivado_synth_rpt == str(prj / "vivado_synth.rpt")
    rep = load_report(prj)
    assert rep.csynth.latency_avg == 1268 and rep.cosim.result.latency_max == 965
    assert rep.vsynth.summary()["DSP"].used == 66


def test_find_reports_vitis_project_layout_and_project_name(tmp_path):
    # the files are named after the top function; the project must be found through ProjectName
    prj = _hls4ml_project(
        tmp_path, ECE226, "myproject", "Vitis", "hls.app", syn=["myproject_csynth.xml"], sim=["myproject_cosim.rpt"],
        root=[(ECE226 / "vivado_synth.rpt", "vivado_synth.rpt")],
    )
    (prj / "other_prj" / "solution1" / "syn" / "report").mkdir(parents=True)  # a decoy
    rep = load_report(prj)
    assert rep.project_name == "myproject"
    assert rep.files.csynth_xml.endswith("myproject_prj/solution1/syn/report/myproject_csynth.xml")
    assert rep.csynth.latency_worst == 184 and rep.csynth.resources["DSP"] == 471
    assert rep.cosim.status == "Pass"
    assert rep.vsynth.summary()["DSP"].used == 469


def test_find_reports_without_config_uses_project_tcl_or_glob(tmp_path):
    prj = _hls4ml_project(
        tmp_path, PULSE, "myproject", "Vitis", "hls.app", config=False,
        syn=["myproject_csynth.xml", "myproject_csynth.rpt"], sim=["myproject_cosim.rpt"],
    )
    f = find_reports(prj)  # no hls4ml_config.yml, no project.tcl: glob *_prj
    assert f.project_name is None and f.top == "myproject"
    assert f.csynth_xml.endswith("myproject_csynth.xml") and f.cosim_rpt.endswith("myproject_cosim.rpt")
    (prj / "project.tcl").write_text('variable project_name\nset project_name "myproject"\nset backend "vitis"\n')
    assert find_reports(prj).project_name == "myproject"
    rep = load_report(prj / "myproject_prj")  # the _prj directory itself
    assert rep.csynth.latency_worst == 695 and rep.cosim.status == "Fail"


# ---------------------------------------------------------------------------------------------
# Undefined latencies and long ones, written the way Vivado HLS writes them into the real report layout
# (hls4ml's Dense 16x5 report with its summary latency cells replaced).
# ---------------------------------------------------------------------------------------------
SUMMARY_ROW = "|       10|       10| 50.000 ns | 50.000 ns |    8|    8| dataflow |"


def _dense_with(tmp_path, rpt_row=None, xml_latency=None):
    d = tmp_path / "dense"
    shutil.copytree(DENSE, d)
    rpt, xml = d / "myproject_csynth.rpt", d / "myproject_csynth.xml"
    if rpt_row is not None:
        text = rpt.read_text()
        assert text.count(SUMMARY_ROW) == 1
        rpt.write_text(text.replace(SUMMARY_ROW, rpt_row))
    if xml_latency is not None:
        text = xml.read_text()
        for tag in ("Best-case", "Average-case", "Worst-case"):
            text = text.replace(f"<{tag}Latency>10</{tag}Latency>", f"<{tag}Latency>{xml_latency[0]}</{tag}Latency>")
            text = text.replace(f"<{tag}RealTimeLatency>50.000 ns</{tag}RealTimeLatency>",
                                f"<{tag}RealTimeLatency>{xml_latency[1]}</{tag}RealTimeLatency>")
        xml.write_text(text)
    return rpt, xml


def test_undefined_latency_is_printed_as_undefined(tmp_path):
    rpt, xml = _dense_with(tmp_path, rpt_row="|        ?|        ?|          ?|          ?|    ?|    ?| dataflow |",
                           xml_latency=("undef", "undef"))
    for rep in (parse_csynth_rpt(rpt), parse_csynth_xml(xml)):
        assert rep.latency_best is None and rep.latency_worst is None
        text = format_table(rep)
        assert re.search(r"latency best\s+undefined", text), text
        assert re.search(r"latency worst\s+undefined", text), text
        assert re.search(r"clock estimated\s+4\.049 ns", text)  # the rest of the summary is still there
    out = tmp_path / "r.html"
    write_html(load_report(rpt.parent), out)
    assert "<th>latency worst</th><td>undefined</td>" in out.read_text()


def test_latency_in_seconds_is_printed_in_seconds(tmp_path):
    # 45.904 s at the 5 ns clock: 9,180,800,000 cycles; Vivado HLS writes the absolute latency as '45.904 sec'
    row = "|9180800000|9180800000| 45.904 sec | 45.904 sec |    8|    8| dataflow |"
    rpt, xml = _dense_with(tmp_path, rpt_row=row, xml_latency=("9180800000", "45.904 sec"))
    for rep in (parse_csynth_rpt(rpt), parse_csynth_xml(xml)):
        assert rep.latency_worst == 9180800000
        assert rep.latency_worst_ns == pytest.approx(45.904e9)  # the JSON keeps ns
        text = format_table(rep)
        assert re.search(r"latency worst\s+9180800000 cycles\s+45\.904 s\b", text), text
        assert "45904000000" not in text
