"""The logic depth per pipeline stage after Yosys mapping (issue #19; garnet_hls.toolchain.yosys_depth), on real
Yosys output: a small hand-written design in da4ml's layout (tests/data/depth: a module ``u_lane`` with two
combinational stages between registers ``stage<k>_inp`` and ``model_out``, as a folded design instantiates
da4ml's pipelines, and a counter outside them) synthesized here by the project's own Yosys script (~10 s),
checked against what its logic must map to and against Yosys' own ``ltp`` (longest topological path)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from garnet_hls.backends.rtl import yosys as Y
from garnet_hls.toolchain.yosys_depth import logic_depth

DATA = Path(__file__).parent / "data" / "depth"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    prj = tmp_path_factory.mktemp("depth") / "prj"
    for d in ("src/static", "src/memfiles", "synth"):
        (prj / d).mkdir(parents=True)
    for f in DATA.glob("*.v"):
        shutil.copy(f, prj / "src")
    (prj / "synth" / "yosys.ys").write_text(Y.script(prj, "top"))
    exe = Y.yosys_command()
    subprocess.run(exe + ["-q", "-s", "../../synth/yosys.ys"], cwd=prj / "src" / "memfiles", check=True,
                   capture_output=True)
    return exe, prj / Y.NETLIST


def test_depth_per_stage_of_a_real_yosys_netlist(synthesized):
    exe, netlist = synthesized
    depth = logic_depth(json.loads(netlist.read_text()), "top")
    s0, s1 = depth["stages"]
    assert (s0["module"], s0["stage"], s1["module"], s1["stage"]) == ("u_lane", 0, "u_lane", 1)
    # stage 0: a 16-bit adder: one LUT level (the half-sums) into a 16-bit carry chain (CARRY4: 4 bits each)
    assert depth["carry_cell"] == "CARRY4"
    assert (s0["lut"], s0["carry_cells"], s0["carry_bits"], s0["muxf"], s0["dsp"]) == (1, 4, 16, 0, 0)
    assert s0["levels"] == 5 and s0["max_carry_bits"] == 16 and s0["max_lut_levels"] == 1
    # stage 1: the AND of 36 bits: more than one LUT6 can take (at least two levels of LUTs and wide muxes)
    assert s1["carry_cells"] == s1["max_carry_bits"] == 0 and s1["lut"] >= 1
    assert s1["lut"] + s1["muxf"] >= 2 and s1["levels"] == s1["lut"] + s1["muxf"]
    # the 8-bit counter is no pipeline stage: one LUT into two CARRY4
    out = depth["outside"]
    assert (out["lut"], out["carry_cells"], out["carry_bits"]) == (1, 2, 8)
    assert depth["worst"]["levels"] == 5 and depth["worst"]["stage"] == 0
    # Yosys' own longest topological path between the registers (every cell counted once) agrees
    r = subprocess.run(exe + ["-p", f"read_json {netlist}; cd top; select -set ff t:FDRE t:SRL16E t:GND t:VCC; "
                              "ltp -noff @ff %n"], capture_output=True, text=True, check=True)
    assert int(re.search(r"Longest topological path in top \(length=(\d+)\)", r.stdout).group(1)) == 5


def test_depth_is_printed_beside_the_clock_and_labelled(synthesized):
    _, netlist = synthesized
    depth = logic_depth(json.loads(netlist.read_text()), "top")
    text = "\n".join(Y.format_depth(depth, 5.0))
    assert text.startswith("Logic depth (Yosys mapping, not timing; the schedule assumes 5.0 ns per stage)")
    assert "deepest  5 cells in stage 0 of u_lane: 1 LUT + 4 CARRY4 (16 carry bits)" in text
    assert "u_lane:" in text and "outside the pipelines" in text
