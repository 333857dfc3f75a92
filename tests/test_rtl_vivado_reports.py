"""Vivado's own reports of an RTL project (da4ml's build_vivado_prj.tcl), read by garnet-hls report.

The report files are real Vivado 2021.2 output for UltraScale+ (xczu3eg), laid out the way da4ml's script
writes them for a design named ``main`` (tests/data/vivado-rtl-reports, see PROVENANCE.md there). Every
number asserted here was read from those files by eye. The CLI tests on a real RTL project are in
tests/test_rtl_project.py (they reuse its converted project).
"""

import shutil
from pathlib import Path

import pytest

from garnet_hls.errors import UserError
from garnet_hls.toolchain.vivado import parse_timing_summary_rpt, parse_utilization_rpt, vivado_version
from garnet_hls.backends.rtl import vivado

DATA = Path(__file__).resolve().parent / "data" / "vivado-rtl-reports"
BINOPS = DATA / "lakeroad-binary-operators"  # timing met; post-synth and post-route
INLINING = DATA / "lakeroad-inlining"  # timing not met
CONSTANTS = DATA / "lakeroad-constants"  # no clocked paths: WNS "NA"


def rpt(folder, stage, kind):
    return folder / "output_main" / "reports" / f"main_{stage}_{kind}.rpt"


def test_post_route_utilization_ultrascale_plus():
    u = parse_utilization_rpt(rpt(BINOPS, "post_route", "util"))
    assert vivado_version(u.tool_version) == "2021.2"
    assert (u.design, u.device, u.design_state) == ("main", "xczu3eg-sbva484-1-e", "Routed")
    got = {k: (u.entries[k].used, u.entries[k].available) for k in
           ("CLB LUTs", "LUT as Logic", "LUT as Memory", "CLB Registers", "Register as Flip Flop", "CARRY8",
            "DSPs", "Block RAM Tile", "RAMB18")}
    assert got == {"CLB LUTs": (493, 70560), "LUT as Logic": (493, 70560), "LUT as Memory": (0, 28800),
                   "CLB Registers": (299, 141120), "Register as Flip Flop": (299, 141120), "CARRY8": (18, 8820),
                   "DSPs": (3, 360), "Block RAM Tile": (0, 216), "RAMB18": (0, 432)}
    assert u.entries["DSPs"].util_percent == 0.83
    assert "URAM" not in u.entries  # the xczu3eg has none: the report has no row


def test_post_synth_utilization_has_the_starred_lut_row():
    u = parse_utilization_rpt(rpt(BINOPS, "post_synth", "util"))
    assert u.design_state == "Synthesized"
    assert u.entries["CLB LUTs"].used == 500  # "CLB LUTs*" in the file (an estimate before placement)
    assert u.entries["CARRY8"].used == 18 and u.entries["DSPs"].used == 3


def test_post_route_timing_met():
    t = parse_timing_summary_rpt(rpt(BINOPS, "post_route", "timing"))
    assert (t.design, t.device) == ("main", "xczu3eg-sbva484")
    assert (t.wns_ns, t.tns_ns, t.tns_failing_endpoints, t.tns_total_endpoints) == (2.221, 0.0, 0, 899)
    assert (t.whs_ns, t.ths_ns, t.ths_failing_endpoints, t.ths_total_endpoints) == (0.042, 0.0, 0, 899)
    assert (t.wpws_ns, t.tpws_ns) == (2.225, 0.0)
    assert t.verdict == "All user specified timing constraints are met." and t.met is True
    assert [(c.name, c.waveform, c.period_ns, c.frequency_mhz) for c in t.clocks] == [("clk", "{0.000 2.500}", 5.0, 200.0)]
    assert t.fmax_mhz() == pytest.approx(1000 / (5.0 - 2.221))  # 359.8 MHz


def test_post_route_timing_not_met():
    t = parse_timing_summary_rpt(rpt(INLINING, "post_route", "timing"))
    assert (t.wns_ns, t.tns_ns, t.tns_failing_endpoints, t.tns_total_endpoints) == (-0.089, -0.762, 20, 973)
    assert (t.whs_ns, t.ths_failing_endpoints) == (0.045, 0)
    assert t.verdict == "Timing constraints are not met." and t.met is False
    assert t.fmax_mhz() == pytest.approx(1000 / 5.089)  # 196.5 MHz, below the 200 MHz target
    u = parse_utilization_rpt(rpt(INLINING, "post_route", "util"))
    assert [u.entries[k].used for k in ("CLB LUTs", "CLB Registers", "CARRY8", "DSPs")] == [753, 570, 28, 12]


def test_timing_without_paths_has_no_fmax():
    t = parse_timing_summary_rpt(rpt(CONSTANTS, "post_route", "timing"))
    assert t.wns_ns is None and t.whs_ns is None and t.tns_total_endpoints is None  # "NA" in the file
    assert t.met is True and [c.name for c in t.clocks] == ["clk"]
    assert t.fmax_mhz() is None
    # post-synth, before the clock constraint was applied: no constraints at all
    t = parse_timing_summary_rpt(rpt(BINOPS, "post_synth", "timing"))
    assert t.verdict == "There are no user specified timing constraints." and t.met is None
    assert t.clocks == [] and t.fmax_mhz() is None


def test_truncated_or_foreign_files_are_a_user_error(tmp_path):
    lines = rpt(BINOPS, "post_route", "timing").read_text().splitlines(keepends=True)
    cut = next(i for i, ln in enumerate(lines) if "Design Timing Summary" in ln)
    (tmp_path / "t.rpt").write_text("".join(lines[:cut + 5]))  # ends inside the banner of the table
    with pytest.raises(UserError, match="not a Vivado timing summary report"):
        parse_timing_summary_rpt(tmp_path / "t.rpt")
    with pytest.raises(UserError, match="not a Vivado timing summary report"):
        parse_timing_summary_rpt(rpt(BINOPS, "post_route", "util"))
    util = rpt(BINOPS, "post_route", "util").read_text().splitlines(keepends=True)
    (tmp_path / "u.rpt").write_text("".join(util[:30]))  # header and table of contents only
    with pytest.raises(UserError, match="not a Vivado utilization report"):
        parse_utilization_rpt(tmp_path / "u.rpt")


def test_find_reports_prefers_post_route():
    f = vivado.find_reports(BINOPS, "main")
    assert f["stage"] == "post-route" and f["other_stages"] == ["post-synth"]
    assert f["util"].endswith("main_post_route_util.rpt") and f["timing"].endswith("main_post_route_timing.rpt")
    assert vivado.find_reports(BINOPS, "myproject") is None  # the names carry the project name


def test_post_synth_only_when_route_did_not_finish(tmp_path):
    d = tmp_path / "output_main" / "reports"
    d.mkdir(parents=True)
    for kind in ("util", "timing"):
        shutil.copyfile(rpt(BINOPS, "post_synth", kind), d / f"main_post_synth_{kind}.rpt")
    rep = vivado.load_report(tmp_path, {"project_name": "main", "part": "xczu3eg-sbva484-1-e", "latency_cycles": 3})
    assert rep["stage"] == "post-synth" and rep["other_stages"] == []
    text = vivado.format_report(rep)
    assert text.startswith("Vivado 2021.2, post-synth (report_utilization, report_timing_summary; device xczu3eg-sbva484-1-e):")
    assert "timing: There are no user specified timing constraints." in text and "clock: none in the report" in text
    assert "fmax: -" in text and "cycles" not in text  # no clock: no latency in ns


def test_format_of_a_matching_project():
    meta = {"project_name": "main", "part": "xczu3eg-sbva484-1-e", "latency_cycles": 7, "interval_cycles": 1}
    text = vivado.format_report(vivado.load_report(BINOPS, meta))
    lines = text.splitlines()
    assert lines[0] == "Vivado 2021.2, post-route (report_utilization, report_timing_summary; device xczu3eg-sbva484-1-e):"
    assert "note:" not in text  # design and device are the project's
    rows = {ln.split()[0] + (" " + ln.split()[1] if ln.split()[0] == "as" else ""): ln.split()[-3:] for ln in lines[3:11]}
    assert rows["LUT"] == ["493", "70,560", "0.7%"] and rows["as logic"] == ["493", "70,560", "0.7%"]
    assert rows["FF"] == ["299", "141,120", "0.2%"] and rows["CARRY8"] == ["18", "8,820", "0.2%"]
    assert rows["DSP"] == ["3", "360", "0.8%"]
    assert "  BRAM tile              0         216    0.0%" in lines and not any("URAM" in ln for ln in lines)
    assert "  setup: WNS 2.221 ns, TNS 0.000 ns, 0 of 899 endpoints failing" in lines
    assert "  fmax 359.8 MHz (derived: 1000 / (period 5.000 ns - WNS 2.221 ns))" in lines
    assert lines[-1] == ("Pipeline (exact, from the RTL): 7 cycles, interval 1: 35 ns at the constrained 5.000 ns "
                         "clock, 19.453 ns at the derived fmax")


def test_json_of_a_failing_design():
    rep = vivado.load_report(INLINING, {"project_name": "main", "part": None, "latency_cycles": None})
    j = vivado.to_json(rep)
    assert j["timing"]["met"] is False and j["timing"]["wns_ns"] == -0.089
    assert j["timing"]["fmax_mhz_derived"] == pytest.approx(196.502, abs=1e-3)
    assert j["summary"]["LUT"] == {"site_type": "CLB LUTs", "used": 753, "available": 70560}
    assert j["summary"]["DSP"]["used"] == 12 and "URAM" not in j["summary"]
    assert "timing: Timing constraints are not met." in vivado.format_report(rep)


def test_a_missing_report_of_the_stage_is_named(tmp_path):
    d = tmp_path / "output_main" / "reports"
    d.mkdir(parents=True)
    shutil.copyfile(rpt(CONSTANTS, "post_route", "util"), d / "main_post_route_util.rpt")
    rep = vivado.load_report(tmp_path, {"project_name": "main", "part": "xczu3eg-sbva484-1-e"})
    text = vivado.format_report(rep)
    assert text.startswith("Vivado 2021.2, post-route (report_utilization; device xczu3eg-sbva484-1-e):")
    assert "  LUT                    0      70,560    0.0%" in text
    assert text.endswith("  timing: no main_post_route_timing.rpt\n")
