"""Read Yosys' own output: the cell counts of ``stat`` (the layouts of Yosys 0.23 and 0.70) and their summary
by kind (LUT, FF, CARRY, DSP, BRAM, LUTRAM/SRL, MUXF). Running Yosys on an RTL project is
:mod:`garnet_hls.backends.rtl.yosys`."""

from __future__ import annotations

import re

_CELL = re.compile(r"^\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$|^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$")


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts of the whole design from Yosys' ``stat`` output (the layouts of Yosys 0.23 and 0.70).

    With ``stat -top TOP`` on a hierarchical design the counts are the "design hierarchy" totals (every module
    times its number of instances); otherwise the last module's block (the top after flattening). The module
    names listed in the hierarchy tree are not cells and are left out.
    """
    blocks = re.split(r"^=== ", text, flags=re.M)
    modules = {m.group(1) for m in re.finditer(r"^=== (.+?) ===\s*$", text, flags=re.M)}
    hier = [b for b in blocks if b.startswith("design hierarchy ===")]
    block = hier[-1] if hier else blocks[-1]
    cells: dict[str, int] = {}
    for line in block.splitlines()[1:]:
        m = _CELL.match(line)
        if not m:
            continue
        if m.group(1):
            n, name = int(m.group(1)), m.group(2)
        else:
            name, n = m.group(3), int(m.group(4))
        if name in modules or name.lower() in _NOT_CELLS:
            continue
        cells[name] = cells.get(name, 0) + n
    return cells


_NOT_CELLS = {"cells", "wires", "wire", "bits", "ports", "port", "memories", "processes", "submodules"}


def summarize(cells: dict[str, int]) -> dict:
    luts = {k: v for k, v in cells.items() if re.fullmatch(r"LUT[1-6]", k)}
    if cells.get("INV"):  # an inverter is a LUT1
        luts["LUT1"] = luts.get("LUT1", 0) + cells["INV"]
    ffs = sum(v for k, v in cells.items() if re.fullmatch(r"FD[A-Z]*", k))
    carry = sum(v for k, v in cells.items() if k.startswith("CARRY"))
    dsp = sum(v for k, v in cells.items() if k.startswith("DSP"))
    bram = sum(v for k, v in cells.items() if k.startswith("RAMB"))
    lutram = sum(v for k, v in cells.items() if k.startswith(("RAM32", "RAM64", "RAM128", "RAM256", "SRL")))
    muxf = {k: v for k, v in cells.items() if k.startswith("MUXF")}
    return {
        "LUT": sum(luts.values()),
        "LUT_by_size": dict(sorted(luts.items())),
        "FF": ffs,
        "CARRY": carry,
        "DSP": dsp,
        "BRAM": bram,
        "LUTRAM_SRL": lutram,
        "MUXF": sum(muxf.values()),
        "MUXF_by_size": dict(sorted(muxf.items())),
    }
