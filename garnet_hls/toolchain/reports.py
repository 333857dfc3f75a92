"""Read Vivado HLS / Vitis HLS / Vivado reports of an hls4ml project and present them.

Formats understood (all checked against real tool output, see ``tests/test_reports.py``):

* C-synthesis XML (``<top>_csynth.xml``, ``csynth.xml``) of Vivado HLS 2019.x-2020.x and
  Vitis HLS 2023+: ``DSP48E`` or ``DSP`` tags, URAM present or not, ``<range><min/><max/></range>``
  values, loop latencies, and the per-module ``<ModuleInformation>`` of Vitis' ``csynth.xml``.
* C-synthesis text reports: the classic ``== Vivado HLS Report for`` / ``== Vitis HLS Report for``
  layout (timing, latency, per-instance latency and resources, loops, utilisation incl. SLR rows)
  and Vitis' ``== Synthesis Summary Report of`` layout (``csynth.rpt``).
* Co-simulation reports (``<top>_cosim.rpt``), old and Vitis layout.
* Vivado ``report_utilization`` output (hls4ml's ``vivado_synth.rpt``; da4ml's
  ``<name>_post_synth_util.rpt`` / ``<name>_post_route_util.rpt``), 7-series "Slice" and UltraScale
  "CLB" naming.
* Vivado ``report_timing_summary`` output (da4ml's ``<name>_post_route_timing.rpt``): WNS/TNS,
  WHS/THS, Vivado's verdict and the clocks.

Everything numeric is read from the files; the only derived numbers are utilisation percentages
(used / available), where a report gives no absolute latency, cycles x target clock, and the clock a
routed design would just meet, 1000 / (period - WNS) MHz.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from garnet_hls.errors import UserError, require_dir

RESOURCE_ORDER = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
_RESOURCE_ALIASES = {"DSP48E": "DSP", "DSP48": "DSP", "DSP48E1": "DSP", "DSP48E2": "DSP", "BRAM": "BRAM_18K"}

# ----------------------------------------------------------------------------------------------
# Data model
# ----------------------------------------------------------------------------------------------


@dataclass
class ModuleReport:
    """One sub-module / instance of the top function (typically one hls4ml layer)."""

    module: str
    instance: str | None = None
    depth: int = 1
    latency_min: int | None = None
    latency_max: int | None = None
    latency_avg: int | None = None
    latency_min_ns: float | None = None
    latency_max_ns: float | None = None
    interval_min: int | None = None
    interval_max: int | None = None
    pipeline_type: str | None = None
    estimated_clock_ns: float | None = None
    resources: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoopReport:
    name: str
    module: str | None = None
    trip_count: int | None = None
    latency_min: int | None = None
    latency_max: int | None = None
    iteration_latency_min: int | None = None
    iteration_latency_max: int | None = None
    pipeline_ii: int | None = None
    pipeline_depth: int | None = None
    pipelined: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SynthesisReport:
    """C-synthesis results of one top function (merged from its XML and text report)."""

    sources: list[str] = field(default_factory=list)
    tool: str | None = None  # "Vivado HLS" or "Vitis HLS"
    version: str | None = None
    top: str | None = None
    project: str | None = None
    solution: str | None = None
    flow_target: str | None = None
    product_family: str | None = None
    part: str | None = None
    date: str | None = None
    target_clock_ns: float | None = None
    clock_uncertainty_ns: float | None = None
    estimated_clock_ns: float | None = None
    pipeline_type: str | None = None
    latency_best: int | None = None
    latency_avg: int | None = None
    latency_worst: int | None = None
    latency_best_ns: float | None = None
    latency_avg_ns: float | None = None
    latency_worst_ns: float | None = None
    interval_min: int | None = None
    interval_max: int | None = None
    throughput_min: int | None = None  # DataflowPipelineThroughput (may be a range)
    throughput_max: int | None = None
    dsp_name: str | None = None  # "DSP48E" (Vivado HLS) or "DSP" (Vitis HLS) as written by the tool
    resources: dict[str, float] = field(default_factory=dict)
    available: dict[str, float] = field(default_factory=dict)
    available_slr: dict[str, float] = field(default_factory=dict)
    modules: list[ModuleReport] = field(default_factory=list)
    loops: list[LoopReport] = field(default_factory=list)

    def utilization(self) -> dict[str, float | None]:
        """Percent of the part used per resource (None when the part has none of it)."""
        return {k: _percent(self.resources.get(k), self.available.get(k)) for k in self._keys()}

    def utilization_slr(self) -> dict[str, float | None]:
        return {k: _percent(self.resources.get(k), self.available_slr.get(k)) for k in self.available_slr}

    def latency_ns(self, which: str = "worst") -> float | None:
        """Absolute latency as reported, else cycles x target clock."""
        value = getattr(self, f"latency_{which}_ns")
        if value is not None:
            return value
        cycles = getattr(self, f"latency_{which}")
        if cycles is None or self.target_clock_ns is None:
            return None
        return cycles * self.target_clock_ns

    def _keys(self) -> list[str]:
        keys = [k for k in RESOURCE_ORDER if k in self.resources or k in self.available]
        keys += [k for k in list(self.resources) + list(self.available) if k not in keys]
        return list(dict.fromkeys(keys))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["utilization_percent"] = self.utilization()
        if self.available_slr:
            d["utilization_slr_percent"] = self.utilization_slr()
        return d


@dataclass
class CosimResult:
    language: str
    status: str
    latency_min: int | None = None
    latency_avg: int | None = None
    latency_max: int | None = None
    interval_min: int | None = None
    interval_avg: int | None = None
    interval_max: int | None = None
    total_execution_time: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CosimReport:
    source: str
    report_time: str | None = None
    solution: str | None = None
    simulation_tool: str | None = None
    results: list[CosimResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        """'Fail' if any language failed, 'Pass' if one passed, else 'NA'."""
        states = [r.status.lower() for r in self.results]
        if any(s == "fail" for s in states):
            return "Fail"
        if any(s == "pass" for s in states):
            return "Pass"
        return "NA"

    @property
    def passed(self) -> bool | None:
        return {"Pass": True, "Fail": False}.get(self.status)

    @property
    def result(self) -> CosimResult | None:
        """The first language that was actually simulated (status not NA)."""
        for r in self.results:
            if r.status.upper() != "NA":
                return r
        return None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status
        return d


@dataclass
class UtilizationEntry:
    site_type: str
    used: float | None
    fixed: float | None = None
    available: float | None = None
    util_percent: float | None = None  # as printed by Vivado ("<0.01" -> 0.01 upper bound)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UtilizationReport:
    """Vivado ``report_utilization`` (hls4ml's vivado_synth.rpt)."""

    source: str
    tool_version: str | None = None
    date: str | None = None
    design: str | None = None
    device: str | None = None
    design_state: str | None = None
    entries: dict[str, UtilizationEntry] = field(default_factory=dict)

    # Site-type names in 7-series ("Slice") and UltraScale ("CLB") reports.
    _SUMMARY = {
        "LUT": ("CLB LUTs", "Slice LUTs"),
        "FF": ("CLB Registers", "Slice Registers"),
        "BRAM_TILE": ("Block RAM Tile",),
        "DSP": ("DSPs",),
        "URAM": ("URAM",),
    }

    def get(self, key: str) -> UtilizationEntry | None:
        for name in self._SUMMARY.get(key, (key,)):
            if name in self.entries:
                return self.entries[name]
        return None

    def summary(self) -> dict[str, UtilizationEntry]:
        """LUT / FF / BRAM_TILE (36 kb tiles) / DSP / URAM entries that the report contains."""
        out = {}
        for key in self._SUMMARY:
            entry = self.get(key)
            if entry is not None:
                out[key] = entry
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["summary"] = {k: e.to_dict() for k, e in self.summary().items()}
        return d


@dataclass
class ClockEntry:
    """One row of the Clock Summary of ``report_timing_summary``."""

    name: str
    waveform: str | None = None
    period_ns: float | None = None
    frequency_mhz: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TimingSummaryReport:
    """Vivado ``report_timing_summary``: the Design Timing Summary row, its verdict and the clocks.

    Every field is read from the file ("NA" -> None). The one derived figure is :meth:`fmax_mhz`.
    """

    source: str
    tool_version: str | None = None
    date: str | None = None
    design: str | None = None
    device: str | None = None
    design_state: str | None = None
    wns_ns: float | None = None  # worst setup slack
    tns_ns: float | None = None
    tns_failing_endpoints: int | None = None
    tns_total_endpoints: int | None = None
    whs_ns: float | None = None  # worst hold slack
    ths_ns: float | None = None
    ths_failing_endpoints: int | None = None
    ths_total_endpoints: int | None = None
    wpws_ns: float | None = None  # worst pulse-width slack
    tpws_ns: float | None = None
    verdict: str | None = None  # Vivado's sentence under the table, e.g. "Timing constraints are not met."
    clocks: list[ClockEntry] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        """Vivado's verdict: True ("... are met"), False ("... are not met"), None (no constraints / absent)."""
        v = (self.verdict or "").lower()
        if "not met" in v:
            return False
        if "are met" in v:
            return True
        return None

    @property
    def clock(self) -> ClockEntry | None:
        """The design's clock when there is exactly one (da4ml's projects have one)."""
        return self.clocks[0] if len(self.clocks) == 1 else None

    def fmax_mhz(self) -> float | None:
        """1000 / (period - WNS): the clock the routed paths would just meet. Needs one clock and a WNS."""
        clk = self.clock
        if clk is None or clk.period_ns is None or self.wns_ns is None or clk.period_ns - self.wns_ns <= 0:
            return None
        return 1000.0 / (clk.period_ns - self.wns_ns)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["met"] = self.met
        d["fmax_mhz_derived"] = self.fmax_mhz()
        return d


@dataclass
class ReportFiles:
    """Where the report files of one project are (None / empty when absent)."""

    project_dir: str
    project_name: str | None = None
    top: str | None = None
    solution_dir: str | None = None
    csynth_xml: str | None = None
    csynth_rpt: str | None = None
    summary_xml: str | None = None  # csynth.xml when it is not the top report itself
    summary_rpt: str | None = None  # Vitis csynth.rpt ("Synthesis Summary Report")
    module_xmls: list[str] = field(default_factory=list)
    cosim_rpt: str | None = None
    vivado_synth_rpt: str | None = None
    searched: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return any((self.csynth_xml, self.csynth_rpt, self.summary_xml, self.summary_rpt, self.cosim_rpt, self.vivado_synth_rpt))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProjectReport:
    project_dir: str
    files: ReportFiles
    project_name: str | None = None
    csynth: SynthesisReport | None = None
    cosim: CosimReport | None = None
    vsynth: UtilizationReport | None = None

    @property
    def modules(self) -> list[ModuleReport]:
        return self.csynth.modules if self.csynth else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_dir": self.project_dir,
            "project_name": self.project_name,
            "files": self.files.to_dict(),
            "csynth": self.csynth.to_dict() if self.csynth else None,
            "cosim": self.cosim.to_dict() if self.cosim else None,
            "vsynth": self.vsynth.to_dict() if self.vsynth else None,
        }


# ----------------------------------------------------------------------------------------------
# Small parsing helpers
# ----------------------------------------------------------------------------------------------

_NUM_RE = re.compile(r"^\s*[~<>]?\s*(-?\d+(?:\.\d+)?)")
_TIME_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ps|ns|us|µs|ms|s|sec)?\s*$")
_TIME_SCALE = {"ps": 1e-3, "ns": 1.0, None: 1.0, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "sec": 1e9}


def _num(text: str | None) -> int | float | None:
    """Leading number of a cell ('30 (~0%)' -> 30, '56.5' -> 56.5); None for '-', 'NA', '?', ''."""
    if text is None:
        return None
    m = _NUM_RE.match(text)
    if not m:
        return None
    s = m.group(1)
    return float(s) if "." in s else int(s)


def _int(text: str | None) -> int | None:
    v = _num(text)
    return int(v) if v is not None and float(v).is_integer() else None


def _time_ns(text: str | None) -> float | None:
    """'50.000 ns' -> 50.0, '0.825 us' -> 825.0, '10.00' -> 10.0 (ns assumed)."""
    if text is None:
        return None
    m = _TIME_RE.match(text)
    if not m:
        return None
    return round(float(m.group(1)) * _TIME_SCALE[m.group(2)], 6)


def _percent(used: float | None, available: float | None) -> float | None:
    if used is None or not available:
        return None
    return 100.0 * used / available


def _canon_resource(name: str) -> str:
    return _RESOURCE_ALIASES.get(name.strip(), name.strip())


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------
# ASCII tables ("+----+----+" / "| a  | b  |")
# ----------------------------------------------------------------------------------------------


@dataclass
class _Table:
    columns: list[str]
    rows: list[list[str]]  # raw (unstripped) cells of the data rows

    def col(self, *words: str, exclude: Iterable[str] = ()) -> int | None:
        """Index of the first column whose name contains all ``words`` and none of ``exclude``."""
        for i, name in enumerate(self.columns):
            n = _norm(name)
            if all(w in n for w in words) and not any(x in n for x in exclude):
                return i
        return None

    def cell(self, row: list[str], idx: int | None) -> str | None:
        if idx is None or idx >= len(row):
            return None
        return row[idx].strip()


def _is_border(line: str) -> bool:
    s = line.strip()
    return len(s) > 1 and s[0] == "+" and set(s) <= {"+", "-"}


def _delims(line: str) -> list[int]:
    return [i for i, c in enumerate(line) if c in "|+"]


def _read_table(lines: list[str], start: int) -> tuple[_Table, int]:
    """Read the table whose top border is ``lines[start]``; return it and the index after it."""
    block = []
    i = start
    while i < len(lines) and lines[i].strip()[:1] in ("+", "|"):
        block.append(lines[i].rstrip("\r\n"))
        i += 1
    borders = [k for k, line in enumerate(block) if _is_border(line)]
    if len(borders) >= 2:
        header = [line for line in block[borders[0] + 1 : borders[1]] if not _is_border(line)]
        data = [line for line in block[borders[1] + 1 :] if not _is_border(line)]
    else:
        header, data = [], [line for line in block if not _is_border(line)]
    base_line = data[0] if data else (header[-1] if header else "")
    base = [p for p, c in enumerate(base_line) if c == "|"] if data else _delims(base_line)
    columns = []
    for k in range(len(base) - 1):
        mid = (base[k] + base[k + 1]) / 2
        parts = []
        for h in header:
            d = _delims(h)
            for j in range(len(d) - 1):
                if d[j] < mid < d[j + 1]:
                    text = h[d[j] + 1 : d[j + 1]].strip().strip("-").strip()
                    if text:
                        parts.append(text)
                    break
        columns.append(" ".join(parts))
    rows = [line.strip().split("|")[1:-1] for line in data if line.strip().startswith("|")]
    return _Table(columns, rows), i


# ----------------------------------------------------------------------------------------------
# C-synthesis XML
# ----------------------------------------------------------------------------------------------


def _xml_text(elem: ET.Element | None, path: str) -> str | None:
    if elem is None:
        return None
    child = elem.find(path)
    if child is None:
        return None
    return (child.text or "").strip()


def _xml_range(elem: ET.Element | None, path: str) -> tuple[int | None, int | None]:
    """Value of ``path`` as (min, max); plain values give (v, v), ``<range>`` gives its bounds."""
    if elem is None:
        return None, None
    child = elem.find(path)
    if child is None:
        return None, None
    rng = child.find("range")
    if rng is not None:
        return _int(_xml_text(rng, "min")), _int(_xml_text(rng, "max"))
    v = _int((child.text or "").strip())
    return v, v


def _xml_scalar(elem: ET.Element | None, path: str) -> int | None:
    """A latency that is normally a plain number; for a ``<range>`` the bound matching its meaning."""
    lo, hi = _xml_range(elem, path)
    return hi if "Worst" in path else lo


_LOOP_FIELDS = {"TripCount", "Latency", "IterationLatency", "PipelineII", "PipelineDepth"}


def _xml_loops(parent: ET.Element, prefix: str, module: str | None, out: list[LoopReport]) -> None:
    for child in parent:
        if len(child) == 0 or child.tag in _LOOP_FIELDS:
            continue
        tags = {c.tag for c in child}
        if not (tags & {"TripCount", "Latency"}):
            continue
        name = _xml_text(child, "Name") or child.tag
        path = f"{prefix}/{name}" if prefix else name
        lat = _xml_range(child, "Latency")
        it = _xml_range(child, "IterationLatency")
        out.append(
            LoopReport(
                name=path,
                module=module,
                trip_count=_int(_xml_text(child, "TripCount")),
                latency_min=lat[0],
                latency_max=lat[1],
                iteration_latency_min=it[0],
                iteration_latency_max=it[1],
                pipeline_ii=_int(_xml_text(child, "PipelineII")),
                pipeline_depth=_int(_xml_text(child, "PipelineDepth")),
                pipelined=_xml_text(child, "PipelineType"),
            )
        )
        _xml_loops(child, path, module, out)


def _xml_resources(elem: ET.Element | None) -> tuple[dict[str, float], str | None]:
    out: dict[str, float] = {}
    dsp_name = None
    if elem is None:
        return out, None
    for child in elem:
        tag = child.tag
        if tag.startswith(("AVAIL_", "UTIL_")):
            continue
        v = _num((child.text or "").strip())
        if v is None:
            continue
        if tag.startswith("DSP"):
            dsp_name = tag
        out[_canon_resource(tag)] = v
    return out, dsp_name


def _xml_modules(root: ET.Element) -> list[ModuleReport]:
    """Per-module data of Vitis' aggregated csynth.xml (RTLDesignHierarchy + ModuleInformation)."""
    info = root.find("ModuleInformation")
    if info is None:
        return []
    top = _xml_text(root, "UserAssignments/TopModelName")
    placement: dict[str, tuple[str | None, int]] = {}

    def walk(inst_list: ET.Element | None, depth: int) -> None:
        if inst_list is None:
            return
        for inst in inst_list.findall("Instance"):
            mod = _xml_text(inst, "ModuleName")
            if mod and mod not in placement:
                placement[mod] = (_xml_text(inst, "InstName"), depth)
            walk(inst.find("InstancesList"), depth + 1)

    walk(root.find("RTLDesignHierarchy/TopModule/InstancesList"), 1)
    modules = []
    for m in info.findall("Module"):
        name = _xml_text(m, "Name")
        if not name or name == top:
            continue
        lat = m.find("PerformanceEstimates/SummaryOfOverallLatency")
        res, _ = _xml_resources(m.find("AreaEstimates/Resources"))
        ii = _int(_xml_text(lat, "PipelineInitiationInterval"))
        inst, depth = placement.get(name, (None, 0))
        modules.append(
            ModuleReport(
                module=name,
                instance=inst,
                depth=depth,
                latency_min=_xml_scalar(lat, "Best-caseLatency"),
                latency_avg=_xml_scalar(lat, "Average-caseLatency"),
                latency_max=_xml_scalar(lat, "Worst-caseLatency"),
                latency_min_ns=_time_ns(_xml_text(lat, "Best-caseRealTimeLatency")),
                latency_max_ns=_time_ns(_xml_text(lat, "Worst-caseRealTimeLatency")),
                interval_min=_int(_xml_text(lat, "Interval-min")) if lat is not None and lat.find("Interval-min") is not None else ii,
                interval_max=_int(_xml_text(lat, "Interval-max")) if lat is not None and lat.find("Interval-max") is not None else ii,
                pipeline_type=_xml_text(lat, "PipelineType"),
                estimated_clock_ns=_time_ns(_xml_text(m, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
                resources=res,
                source="xml:ModuleInformation",
            )
        )
    return modules


def _guess_tool(version: str | None, dsp_name: str | None, flow_target: str | None) -> str | None:
    if flow_target or dsp_name == "DSP":
        return "Vitis HLS"
    year = _int(version.split(".")[0]) if version else None
    if year is not None and year >= 2021:
        return "Vitis HLS"
    if dsp_name == "DSP48E" or (year is not None and year <= 2020):
        return "Vivado HLS"
    return None


def parse_csynth_xml(path: str | Path) -> SynthesisReport:
    """Parse a ``*_csynth.xml`` / ``csynth.xml`` C-synthesis report."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UserError(f"{path}: not a readable C-synthesis XML report ({exc})") from None
    if root.tag != "profile" or root.find("UserAssignments") is None:
        raise UserError(f"{path}: not a C-synthesis XML report (no <profile>/<UserAssignments>)")
    ua = root.find("UserAssignments")
    perf = root.find("PerformanceEstimates")
    lat = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    res, dsp_name = _xml_resources(root.find("AreaEstimates/Resources"))
    avail, dsp_avail = _xml_resources(root.find("AreaEstimates/AvailableResources"))
    version = _xml_text(root, "ReportVersion/Version")
    flow = _xml_text(ua, "FlowTarget")
    thr = _xml_range(lat, "DataflowPipelineThroughput")
    top = _xml_text(ua, "TopModelName")
    loops: list[LoopReport] = []
    loop_root = root.find("PerformanceEstimates/SummaryOfLoopLatency")
    if loop_root is not None:
        _xml_loops(loop_root, "", top, loops)
    rep = SynthesisReport(
        sources=[str(path)],
        version=version,
        top=top,
        flow_target=flow,
        product_family=_xml_text(ua, "ProductFamily"),
        part=_xml_text(ua, "Part"),
        target_clock_ns=_time_ns(_xml_text(ua, "TargetClockPeriod")),
        clock_uncertainty_ns=_time_ns(_xml_text(ua, "ClockUncertainty")),
        estimated_clock_ns=_time_ns(_xml_text(perf, "SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        pipeline_type=_xml_text(perf, "PipelineType"),
        latency_best=_xml_scalar(lat, "Best-caseLatency"),
        latency_avg=_xml_scalar(lat, "Average-caseLatency"),
        latency_worst=_xml_scalar(lat, "Worst-caseLatency"),
        latency_best_ns=_time_ns(_xml_text(lat, "Best-caseRealTimeLatency")),
        latency_avg_ns=_time_ns(_xml_text(lat, "Average-caseRealTimeLatency")),
        latency_worst_ns=_time_ns(_xml_text(lat, "Worst-caseRealTimeLatency")),
        interval_min=_xml_scalar(lat, "Interval-min"),
        interval_max=_xml_range(lat, "Interval-max")[1],
        throughput_min=thr[0],
        throughput_max=thr[1],
        dsp_name=dsp_name or dsp_avail,
        resources=res,
        available=avail,
        modules=_xml_modules(root),
        loops=loops,
    )
    rep.tool = _guess_tool(version, rep.dsp_name, flow)
    return rep


# ----------------------------------------------------------------------------------------------
# C-synthesis text reports
# ----------------------------------------------------------------------------------------------

_TITLE_RE = re.compile(r"^==\s*(Vivado HLS|Vitis HLS) Report for '([^']+)'")
_SUMMARY_TITLE_RE = re.compile(r"^==\s*Synthesis Summary Report of '([^']+)'")
_HEADER_RE = re.compile(r"^\*\s*(Date|Version|Project|Solution|Product family|Target device):\s*(.*?)\s*$")


def _scan_tables(lines: list[str]) -> dict[tuple[str, str, str], _Table]:
    """Tables of a report keyed by (section, heading, sub-heading); the first one of each key wins."""
    tables: dict[tuple[str, str, str], _Table] = {}
    section = heading = sub = ""
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("== "):
            section, heading, sub = s[3:].strip(), "", ""
        elif s.startswith("+ ") and s.endswith(":"):
            heading = s[2:-1].strip().split(" ")[0]
            sub = ""
        elif s.startswith("* ") and s.endswith(":"):
            sub = s[2:-1].strip()
        elif s.startswith("+-"):
            table, i = _read_table(lines, i)
            tables.setdefault((section, heading, sub), table)
            continue
        i += 1
    return tables


def _header_fields(lines: list[str], rep: SynthesisReport) -> None:
    for line in lines:
        m = _HEADER_RE.match(line.strip())
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if key == "Date":
            rep.date = rep.date or value
        elif key == "Version":
            rep.version = rep.version or value.split(" ")[0]
        elif key == "Project":
            rep.project = rep.project or value
        elif key == "Solution":
            m2 = re.match(r"^(\S+)(?:\s*\((.*) Flow Target\))?", value)
            if m2:
                rep.solution = rep.solution or m2.group(1)
                if m2.group(2) and not rep.flow_target:
                    # "Vivado IP Flow Target" -> "vivado", as <FlowTarget> in the XML
                    rep.flow_target = m2.group(2).split()[0].lower()
        elif key == "Product family":
            rep.product_family = rep.product_family or value
        elif key == "Target device":
            rep.part = rep.part or value


def _loop_name(cell: str) -> tuple[str, int]:
    """'- B_i' / ' + B_j' / '  o VITIS_LOOP' -> (name, depth from indentation)."""
    raw = cell.rstrip()
    stripped = raw.lstrip()
    depth = len(raw) - len(stripped)
    name = re.sub(r"^[-+o]\s+", "", stripped)
    return name.strip(), depth


def _rpt_loops(table: _Table, module: str | None) -> list[LoopReport]:
    loops = []
    stack: list[tuple[int, str]] = []
    c_name = table.col("loop name")
    c_min = table.col("latency", "min")
    c_max = table.col("latency", "max", exclude=("iteration",))
    c_it = table.col("iteration")
    c_ii = table.col("achieved")
    c_trip = table.col("trip")
    c_pipe = table.col("pipelined")
    for row in table.rows:
        if c_name is None or c_name >= len(row):
            continue
        name, depth = _loop_name(row[c_name])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        path = "/".join([p for _, p in stack] + [name])
        stack.append((depth, name))
        it = table.cell(row, c_it) or ""
        it_parts = [p for p in re.split(r"\s*~\s*", it) if p]
        loops.append(
            LoopReport(
                name=path,
                module=module,
                trip_count=_int(table.cell(row, c_trip)),
                latency_min=_int(table.cell(row, c_min)),
                latency_max=_int(table.cell(row, c_max)),
                iteration_latency_min=_int(it_parts[0]) if it_parts else None,
                iteration_latency_max=_int(it_parts[-1]) if it_parts else None,
                pipeline_ii=_int(table.cell(row, c_ii)),
                pipelined=table.cell(row, c_pipe),
            )
        )
    return loops


def _parse_classic_rpt(path: Path, lines: list[str], tool: str, top: str) -> SynthesisReport:
    rep = SynthesisReport(sources=[str(path)], tool=tool, top=top)
    _header_fields(lines, rep)
    tables = _scan_tables(lines)

    timing = tables.get(("Performance Estimates", "Timing", "Summary"))
    if timing and timing.rows:
        row = timing.rows[0]
        rep.target_clock_ns = _time_ns(timing.cell(row, timing.col("target")))
        rep.estimated_clock_ns = _time_ns(timing.cell(row, timing.col("estimated")))
        rep.clock_uncertainty_ns = _time_ns(timing.cell(row, timing.col("uncertainty")))

    lat = tables.get(("Performance Estimates", "Latency", "Summary"))
    if lat and lat.rows:
        row = lat.rows[0]
        rep.latency_best = _int(lat.cell(row, lat.col("latency", "min", exclude=("absolute",))))
        rep.latency_worst = _int(lat.cell(row, lat.col("latency", "max", exclude=("absolute",))))
        rep.latency_best_ns = _time_ns(lat.cell(row, lat.col("absolute", "min")))
        rep.latency_worst_ns = _time_ns(lat.cell(row, lat.col("absolute", "max")))
        rep.interval_min = _int(lat.cell(row, lat.col("interval", "min")))
        rep.interval_max = _int(lat.cell(row, lat.col("interval", "max")))
        rep.pipeline_type = lat.cell(row, lat.col("pipeline"))

    util = tables.get(("Utilization Estimates", "", "Summary"))
    if util:
        names = [_canon_resource(c) for c in util.columns]
        for c in util.columns:
            if c.strip().startswith("DSP"):
                rep.dsp_name = c.strip()
        targets = {"total": rep.resources, "available": rep.available, "available slr": rep.available_slr}
        for row in util.rows:
            label = _norm(row[0]) if row else ""
            if label in targets:
                for k in range(1, min(len(row), len(names))):
                    v = _num(row[k])
                    if v is not None:
                        targets[label][names[k]] = v

    # per-instance latency and resources, joined on the instance name
    modules: dict[str, ModuleReport] = {}
    inst_lat = tables.get(("Performance Estimates", "Detail", "Instance"))
    if inst_lat:
        ci, cm = inst_lat.col("instance"), inst_lat.col("module")
        for row in inst_lat.rows:
            inst = inst_lat.cell(row, ci)
            if not inst:
                continue
            modules[inst] = ModuleReport(
                module=inst_lat.cell(row, cm) or inst,
                instance=inst,
                latency_min=_int(inst_lat.cell(row, inst_lat.col("latency", "min", exclude=("absolute",)))),
                latency_max=_int(inst_lat.cell(row, inst_lat.col("latency", "max", exclude=("absolute",)))),
                latency_min_ns=_time_ns(inst_lat.cell(row, inst_lat.col("absolute", "min"))),
                latency_max_ns=_time_ns(inst_lat.cell(row, inst_lat.col("absolute", "max"))),
                interval_min=_int(inst_lat.cell(row, inst_lat.col("interval", "min"))),
                interval_max=_int(inst_lat.cell(row, inst_lat.col("interval", "max"))),
                pipeline_type=inst_lat.cell(row, inst_lat.col("pipeline")),
                source=f"rpt:{path.name}",
            )
    inst_res = tables.get(("Utilization Estimates", "Detail", "Instance"))
    if inst_res:
        ci, cm = inst_res.col("instance"), inst_res.col("module")
        names = [_canon_resource(c) for c in inst_res.columns]
        for row in inst_res.rows:
            inst = inst_res.cell(row, ci)
            if not inst or _norm(inst) == "total":
                continue
            mod = modules.setdefault(inst, ModuleReport(module=inst_res.cell(row, cm) or inst, instance=inst, source=f"rpt:{path.name}"))
            for k, name in enumerate(names):
                if k in (ci, cm):
                    continue
                v = _num(inst_res.cell(row, k))
                if v is not None:
                    mod.resources[name] = v
    rep.modules = list(modules.values())

    loops = tables.get(("Performance Estimates", "Detail", "Loop"))
    if loops:
        rep.loops = _rpt_loops(loops, top)
    return rep


def _parse_summary_rpt(path: Path, lines: list[str], top: str) -> SynthesisReport:
    """Vitis' 'Synthesis Summary Report' (csynth.rpt): one tree table of modules and loops."""
    rep = SynthesisReport(sources=[str(path)], tool="Vitis HLS", top=top)
    _header_fields(lines, rep)
    tables = _scan_tables(lines)
    table = next((t for (sec, _, _), t in tables.items() if sec.startswith("Synthesis Summary Report")), None)
    if table is None:
        return rep
    c_name = table.col("modules")
    c_lat = table.col("latency", "cycles")
    c_ns = table.col("latency", "ns")
    c_ii = table.col("interval")
    c_pipe = table.col("pipelined")
    c_trip = table.col("trip")
    c_it = table.col("iteration")
    res_cols = {name: table.col(name.lower()) for name in ("BRAM", "DSP", "FF", "LUT", "URAM")}
    stack: list[tuple[int, str]] = []
    for row in table.rows:
        raw = row[c_name] if c_name is not None and c_name < len(row) else ""
        stripped = raw.lstrip()
        depth = len(raw) - len(stripped)
        kind = stripped[:1]
        name = stripped[1:].strip().rstrip("*").strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else None
        resources = {}
        for rname, idx in res_cols.items():
            v = _num(table.cell(row, idx))
            if v is not None:
                resources[_canon_resource(rname)] = v
        lat = _int(table.cell(row, c_lat))
        ii = _int(table.cell(row, c_ii))
        if kind == "+":
            stack.append((depth, name))
            if parent is None:  # the top function
                rep.top = rep.top or name
                rep.latency_best = rep.latency_worst = lat
                rep.latency_best_ns = rep.latency_worst_ns = _time_ns(table.cell(row, c_ns))
                rep.interval_min = rep.interval_max = ii
                rep.pipeline_type = table.cell(row, c_pipe)
                rep.resources = resources
            else:
                rep.modules.append(
                    ModuleReport(
                        module=name,
                        depth=len(stack) - 1,
                        latency_min=lat,
                        latency_max=lat,
                        latency_min_ns=_time_ns(table.cell(row, c_ns)),
                        latency_max_ns=_time_ns(table.cell(row, c_ns)),
                        interval_min=ii,
                        interval_max=ii,
                        pipeline_type=table.cell(row, c_pipe),
                        resources=resources,
                        source=f"rpt:{path.name}",
                    )
                )
        elif kind == "o":
            rep.loops.append(
                LoopReport(
                    name=name,
                    module=parent,
                    trip_count=_int(table.cell(row, c_trip)),
                    latency_min=lat,
                    latency_max=lat,
                    iteration_latency_min=_int(table.cell(row, c_it)),
                    iteration_latency_max=_int(table.cell(row, c_it)),
                    pipeline_ii=ii,
                    pipelined=table.cell(row, c_pipe),
                )
            )
    return rep


def parse_csynth_rpt(path: str | Path) -> SynthesisReport:
    """Parse a C-synthesis text report (classic per-function layout or Vitis summary layout)."""
    path = Path(path)
    lines = _read_text(path).splitlines()
    for line in lines[:40]:
        s = line.strip()
        m = _TITLE_RE.match(s)
        if m:
            return _parse_classic_rpt(path, lines, m.group(1), m.group(2))
        m = _SUMMARY_TITLE_RE.match(s)
        if m:
            return _parse_summary_rpt(path, lines, m.group(1))
    raise UserError(f"{path}: not a Vivado/Vitis HLS C-synthesis report (no 'HLS Report for' title)")


def merge_synthesis(primary: SynthesisReport | None, secondary: SynthesisReport | None) -> SynthesisReport | None:
    """Fill the gaps of ``primary`` (usually from XML) with ``secondary`` (usually the text report)."""
    if primary is None or secondary is None:
        return primary or secondary
    out = SynthesisReport(**{k: v for k, v in primary.__dict__.items()})
    out.sources = list(dict.fromkeys(primary.sources + secondary.sources))
    for name in SynthesisReport.__dataclass_fields__:
        if name == "sources":
            continue
        mine, other = getattr(out, name), getattr(secondary, name)
        if mine in (None, "", [], {}) and other not in (None, "", [], {}):
            setattr(out, name, other)
    if secondary.tool and secondary.sources and not secondary.sources[0].endswith(".xml"):
        out.tool = secondary.tool  # the text report names the tool; the XML does not
    return out


# ----------------------------------------------------------------------------------------------
# Co-simulation report
# ----------------------------------------------------------------------------------------------


def parse_cosim_rpt(path: str | Path) -> CosimReport:
    path = Path(path)
    lines = _read_text(path).splitlines()
    rep = CosimReport(source=str(path))
    for line in lines:
        m = re.match(r"^\s*(Report time|Solution|Simulation tool)\s*:\s*(.*?)\.?\s*$", line)
        if m:
            attr = {"Report time": "report_time", "Solution": "solution", "Simulation tool": "simulation_tool"}[m.group(1)]
            setattr(rep, attr, m.group(2))
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("+-")), None)
    if start is None:
        raise UserError(f"{path}: not a co-simulation report (no result table)")
    table, _ = _read_table(lines, start)
    c_rtl, c_status = table.col("rtl"), table.col("status")
    cols = {
        "latency_min": table.col("latency", "min"),
        "latency_avg": table.col("latency", "avg"),
        "latency_max": table.col("latency", "max"),
        "interval_min": table.col("interval", "min"),
        "interval_avg": table.col("interval", "avg"),
        "interval_max": table.col("interval", "max"),
        "total_execution_time": table.col("total execution"),
    }
    for row in table.rows:
        lang = table.cell(row, c_rtl)
        if not lang:
            continue
        res = CosimResult(language=lang, status=table.cell(row, c_status) or "NA")
        for attr, idx in cols.items():
            setattr(res, attr, _int(table.cell(row, idx)))
        rep.results.append(res)
    return rep


# ----------------------------------------------------------------------------------------------
# Vivado report_utilization
# ----------------------------------------------------------------------------------------------


_VIVADO_HEADER = {"Tool Version": "tool_version", "Date": "date", "Design": "design", "Device": "device",
                  "Design State": "design_state"}


def _vivado_header(lines: list[str], rep) -> None:
    """The "| Tool Version : ..." block at the top of every Vivado text report."""
    for line in lines[:30]:
        m = re.match(r"^\|\s*([A-Za-z ]+?)\s*:\s*(.*?)\s*$", line)
        if m and m.group(1) in _VIVADO_HEADER:
            setattr(rep, _VIVADO_HEADER[m.group(1)], m.group(2))


def vivado_version(tool_version: str | None) -> str | None:
    """'Vivado v.2021.2 (lin64) Build 3367213 ...' -> '2021.2'."""
    m = re.search(r"v\.?\s*(\d{4}\.\d+(?:\.\d+)?)", tool_version or "")
    return m.group(1) if m else None


def parse_utilization_rpt(path: str | Path) -> UtilizationReport:
    path = Path(path)
    lines = _read_text(path).splitlines()
    rep = UtilizationReport(source=str(path))
    _vivado_header(lines, rep)
    i = 0
    while i < len(lines):
        if not lines[i].strip().startswith("+-"):
            i += 1
            continue
        table, i = _read_table(lines, i)
        c_site, c_used, c_avail = table.col("site type"), table.col("used"), table.col("available")
        if c_site is None or c_used is None or c_avail is None:
            continue
        c_fixed, c_util = table.col("fixed"), table.col("util%")
        for row in table.rows:
            name = (table.cell(row, c_site) or "").rstrip("*").strip()
            if not name or name in rep.entries:
                continue
            rep.entries[name] = UtilizationEntry(
                site_type=name,
                used=_num(table.cell(row, c_used)),
                fixed=_num(table.cell(row, c_fixed)),
                available=_num(table.cell(row, c_avail)),
                util_percent=_num(table.cell(row, c_util)),
            )
    if not rep.entries:
        raise UserError(f"{path}: not a Vivado utilization report (no 'Site Type' table)")
    return rep


# ----------------------------------------------------------------------------------------------
# Vivado report_timing_summary
# ----------------------------------------------------------------------------------------------

_TIMING_FIELDS = {
    "WNS(ns)": ("wns_ns", float), "TNS(ns)": ("tns_ns", float),
    "TNS Failing Endpoints": ("tns_failing_endpoints", int), "TNS Total Endpoints": ("tns_total_endpoints", int),
    "WHS(ns)": ("whs_ns", float), "THS(ns)": ("ths_ns", float),
    "THS Failing Endpoints": ("ths_failing_endpoints", int), "THS Total Endpoints": ("ths_total_endpoints", int),
    "WPWS(ns)": ("wpws_ns", float), "TPWS(ns)": ("tpws_ns", float),
}
_CLOCK_ROW = re.compile(r"^\s*(\S+)\s+(\{[^}]*\})\s+(\S+)\s+(\S+)\s*$")


def _section(lines: list[str], title: str) -> int | None:
    """Index of the line after a "| Title" banner, or None."""
    for i, line in enumerate(lines):
        if line.strip() == f"| {title}":
            return i + 1
    return None


def _typed(text: str, kind) -> float | int | None:
    try:
        return kind(text)
    except ValueError:  # "NA": no paths of that kind
        return None


def parse_timing_summary_rpt(path: str | Path) -> TimingSummaryReport:
    """Vivado ``report_timing_summary`` text output: the Design Timing Summary row (WNS, TNS, WHS, THS,
    WPWS, TPWS and endpoint counts), the sentence under it, and the Clock Summary table."""
    path = Path(path)
    lines = _read_text(path).splitlines()
    rep = TimingSummaryReport(source=str(path))
    _vivado_header(lines, rep)
    start = _section(lines, "Design Timing Summary")
    values = None
    if start is not None:
        for i in range(start, min(start + 12, len(lines))):
            if "WNS(ns)" in lines[i]:
                names = re.split(r"\s{2,}", lines[i].strip())
                rows = [ln for ln in lines[i + 1 : i + 6] if ln.strip() and set(ln.strip()) - {"-", " "}]
                cells = rows[0].split() if rows else []
                if len(cells) == len(names):
                    values = dict(zip(names, cells))
                    after = lines[i + 1 :].index(rows[0]) + i + 2
                    verdict = next((ln.strip() for ln in lines[after : after + 6] if ln.strip()), "")
                    if not verdict.startswith(("|", "---")):
                        rep.verdict = verdict
                break
    if values is None:
        raise UserError(f"{path}: not a Vivado timing summary report (no readable 'Design Timing Summary' table)")
    for name, text in values.items():
        if name in _TIMING_FIELDS:
            attr, kind = _TIMING_FIELDS[name]
            setattr(rep, attr, _typed(text, kind))
    start = _section(lines, "Clock Summary")
    if start is not None:
        i = start
        while i < len(lines) and not lines[i].startswith("Clock "):  # the table header
            if lines[i].startswith("| ") and not lines[i].startswith("| -"):  # the next section: no clock table
                break
            i += 1
        if i < len(lines) and lines[i].startswith("Clock "):
            for line in lines[i + 2 :]:
                m = _CLOCK_ROW.match(line)
                if not m:
                    break
                rep.clocks.append(ClockEntry(m.group(1), m.group(2), _typed(m.group(3), float),
                                             _typed(m.group(4), float)))
    return rep


# ----------------------------------------------------------------------------------------------
# Locating the reports of a project
# ----------------------------------------------------------------------------------------------


class _TolerantLoader:
    """A YAML SafeLoader that turns unknown tags (e.g. hls4ml's ``!keras_model``) into plain values."""

    _cls = None

    @classmethod
    def get(cls):
        if cls._cls is None:
            import yaml

            class Loader(yaml.SafeLoader):
                pass

            def construct_any(loader, suffix, node):
                if isinstance(node, yaml.ScalarNode):
                    return loader.construct_scalar(node)
                if isinstance(node, yaml.SequenceNode):
                    return loader.construct_sequence(node, deep=True)
                return loader.construct_mapping(node, deep=True)

            Loader.add_multi_constructor("!", construct_any)
            Loader.add_multi_constructor("tag:yaml.org,2002:python/", construct_any)
            cls._cls = Loader
        return cls._cls


def load_hls4ml_config(project_dir: str | Path) -> dict[str, Any] | None:
    """``hls4ml_config.yml`` of a project as a dict, or None when there is none."""
    path = Path(project_dir) / "hls4ml_config.yml"
    if not path.is_file():
        return None
    import yaml

    try:
        data = yaml.load(_read_text(path), Loader=_TolerantLoader.get())  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: cannot read YAML ({str(exc).splitlines()[0]})") from None
    return data if isinstance(data, dict) else None


def project_name_of(project_dir: str | Path) -> str | None:
    """ProjectName from hls4ml_config.yml, else ``set project_name`` from project.tcl."""
    cfg = load_hls4ml_config(project_dir)
    if cfg and cfg.get("ProjectName"):
        return str(cfg["ProjectName"])
    tcl = Path(project_dir) / "project.tcl"
    if tcl.is_file():
        m = re.search(r'set\s+project_name\s+"?([^"\s]+)"?', _read_text(tcl))
        if m:
            return m.group(1)
    return None


def _app_info(directory: Path) -> tuple[str | None, list[str]]:
    """(top, solution names) from vivado_hls.app / hls.app in ``directory``."""
    for name in ("vivado_hls.app", "hls.app"):
        app = directory / name
        if not app.is_file():
            continue
        try:
            root = ET.parse(app).getroot()
        except ET.ParseError:
            continue
        sols = [e.get("name") for e in root.iter() if e.tag.split("}")[-1] == "solution" and e.get("name")]
        return root.get("top"), sols
    return None, []


def _xml_top(path: Path) -> str | None:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    if root.tag != "profile":
        return None
    return _xml_text(root, "UserAssignments/TopModelName")


def _first_line_matching(path: Path, pattern: re.Pattern) -> re.Match | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for _, line in zip(range(40), f):
                m = pattern.match(line.strip())
                if m:
                    return m
    except OSError:
        return None
    return None


def _solution_dirs(project_dir: Path, name: str | None) -> list[Path]:
    """Candidate solution directories, best first."""
    prj_dirs: list[Path] = []
    if name:
        prj_dirs.append(project_dir / f"{name}_prj")
        prj_dirs.append(project_dir / f"{name}_axi_prj")  # hls4ml's VivadoAccelerator variant
    prj_dirs += sorted(p for p in project_dir.glob("*_prj") if p.is_dir() and p not in prj_dirs)
    prj_dirs.append(project_dir)  # the _prj directory itself was given
    out: list[Path] = []
    if (project_dir / "syn" / "report").is_dir() or (project_dir / "sim" / "report").is_dir():
        out.append(project_dir)  # a solution directory was given
    for prj in prj_dirs:
        if not prj.is_dir():
            continue
        _, sols = _app_info(prj)
        for sol in sols + ["solution1"] + sorted(p.name for p in prj.iterdir() if p.is_dir()):
            cand = prj / sol
            if cand not in out and ((cand / "syn" / "report").is_dir() or (cand / "sim" / "report").is_dir()):
                out.append(cand)
    return out


def find_reports(project_dir: str | Path) -> ReportFiles:
    """Locate the report files of an hls4ml project (or of a directory holding report files).

    Looks in ``<dir>/<ProjectName>_prj/<solution>/syn/report`` and ``.../sim/report`` (ProjectName
    from hls4ml_config.yml or project.tcl, else any ``*_prj``; solution from the .app file, else
    ``solution1``), and for ``vivado_synth.rpt`` in ``<dir>``. When there is no solution directory the
    report files are looked for in ``<dir>`` itself.
    """
    project_dir = Path(project_dir)
    require_dir(project_dir, "project directory (or a directory holding report files)")
    name = project_name_of(project_dir)
    files = ReportFiles(project_dir=str(project_dir), project_name=name)

    sols = _solution_dirs(project_dir, name)
    if sols:
        sol = sols[0]
        files.solution_dir = str(sol)
        syn_dir, sim_dir = sol / "syn" / "report", sol / "sim" / "report"
        app_top, _ = _app_info(sol.parent)
    else:
        syn_dir = sim_dir = project_dir
        app_top, _ = _app_info(project_dir)
    files.searched = [str(syn_dir)] if syn_dir == sim_dir else [str(syn_dir), str(sim_dir)]

    xmls = sorted(syn_dir.glob("*_csynth.xml")) if syn_dir.is_dir() else []
    rpts = sorted(syn_dir.glob("*_csynth.rpt")) if syn_dir.is_dir() else []
    summary_xml = syn_dir / "csynth.xml"
    summary_rpt = syn_dir / "csynth.rpt"

    top = name or app_top
    if not top and summary_xml.is_file():
        top = _xml_top(summary_xml)
    if not top:
        tops = {p.name[: -len("_csynth.xml")] for p in xmls} | {p.name[: -len("_csynth.rpt")] for p in rpts}
        if len(tops) == 1:
            top = tops.pop()
        elif tops:
            # several per-module reports and nothing naming the top: hls4ml's default name, else
            # the report whose instance table lists the most sub-modules
            top = "myproject" if "myproject" in tops else max(sorted(tops), key=lambda t: _rpt_instance_count(syn_dir / f"{t}_csynth.rpt"))
    files.top = top

    if top and (syn_dir / f"{top}_csynth.xml").is_file():
        files.csynth_xml = str(syn_dir / f"{top}_csynth.xml")
    if top and (syn_dir / f"{top}_csynth.rpt").is_file():
        files.csynth_rpt = str(syn_dir / f"{top}_csynth.rpt")
    if summary_xml.is_file():
        if files.csynth_xml is None:
            files.csynth_xml = str(summary_xml)
        elif summary_xml.read_bytes() != Path(files.csynth_xml).read_bytes():
            files.summary_xml = str(summary_xml)  # Vitis: adds <ModuleInformation> for every module
    if summary_rpt.is_file() and _first_line_matching(summary_rpt, _SUMMARY_TITLE_RE):
        files.summary_rpt = str(summary_rpt)
    elif summary_rpt.is_file() and files.csynth_rpt is None:
        files.csynth_rpt = str(summary_rpt)
    files.module_xmls = [str(p) for p in xmls if str(p) != files.csynth_xml]

    if files.csynth_xml is None and files.csynth_rpt is None and files.summary_xml is None and syn_dir.is_dir():
        # a directory of arbitrary C-synthesis XML reports (e.g. renamed copies): take the one for
        # the top, or the only one
        cands = [p for p in sorted(syn_dir.glob("*.xml")) if _xml_top(p)]
        chosen = [p for p in cands if top and _xml_top(p) == top] or (cands if len(cands) == 1 else [])
        if chosen:
            files.csynth_xml = str(chosen[0])
            files.top = files.top or _xml_top(chosen[0])

    if sim_dir.is_dir():
        cosims = ([sim_dir / f"{top}_cosim.rpt"] if top else []) + sorted(sim_dir.glob("*_cosim.rpt"))
        files.cosim_rpt = next((str(p) for p in cosims if p.is_file()), None)

    for cand in [project_dir / "vivado_synth.rpt", *sorted(project_dir.glob("*_utilization_synth.rpt"))]:
        if cand.is_file():
            files.vivado_synth_rpt = str(cand)
            break
    if str(project_dir) not in files.searched:
        files.searched.append(str(project_dir))
    return files


def _rpt_instance_count(path: Path) -> int:
    if not path.is_file():
        return -1
    try:
        return len(parse_csynth_rpt(path).modules)
    except UserError:
        return -1


def load_report(project_dir: str | Path) -> ProjectReport:
    """Find and parse every report of a project."""
    files = find_reports(project_dir)
    rep = ProjectReport(project_dir=str(project_dir), files=files, project_name=files.project_name)

    xml = parse_csynth_xml(files.csynth_xml) if files.csynth_xml else None
    rpt = parse_csynth_rpt(files.csynth_rpt) if files.csynth_rpt else None
    csynth = merge_synthesis(xml, rpt)
    if files.summary_xml:
        summary = parse_csynth_xml(files.summary_xml)
        csynth = merge_synthesis(csynth, summary)
    if files.summary_rpt:
        csynth = merge_synthesis(csynth, parse_csynth_rpt(files.summary_rpt))
    if csynth is not None and not csynth.modules and files.module_xmls:
        for mx in files.module_xmls:
            sub = parse_csynth_xml(mx)
            csynth.modules.append(
                ModuleReport(
                    module=sub.top or Path(mx).name,
                    latency_min=sub.latency_best,
                    latency_avg=sub.latency_avg,
                    latency_max=sub.latency_worst,
                    latency_min_ns=sub.latency_best_ns,
                    latency_max_ns=sub.latency_worst_ns,
                    interval_min=sub.interval_min,
                    interval_max=sub.interval_max,
                    pipeline_type=sub.pipeline_type,
                    estimated_clock_ns=sub.estimated_clock_ns,
                    resources=dict(sub.resources),
                    source=f"xml:{Path(mx).name}",
                )
            )
    rep.csynth = csynth
    if files.cosim_rpt:
        rep.cosim = parse_cosim_rpt(files.cosim_rpt)
    if files.vivado_synth_rpt:
        rep.vsynth = parse_utilization_rpt(files.vivado_synth_rpt)
    return rep


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------


def _fmt(v: float | int | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.{digits}f}"
    return str(int(v))


def _fmt_ns(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _fmt_time(ns: float | None) -> str:
    """A time given in ns in the unit Vivado HLS itself would print it in: '50.000 ns', '6.340 us',
    '45.904 s' (not '45904000000.000 ns')."""
    if ns is None:
        return "-"
    for unit, scale in (("ns", 1.0), ("us", 1e3), ("ms", 1e6)):
        if abs(ns) < 1e3 * scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns / 1e9:.3f} s"


#: What a latency the report leaves undefined ('?' in the text report, 'undef' in the XML: a loop whose
#: trip count HLS cannot bound) is printed as.
UNDEFINED = "undefined"


def _fmt_pct(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.1f}%"


def _grid(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    out = [indent + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    for row in rows:
        out.append(indent + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return out


def _csynth_lines(s: SynthesisReport) -> list[str]:
    what = ", ".join(x for x in (f"{s.tool} {s.version}" if s.tool else s.version, f"top {s.top}" if s.top else None, f"part {s.part}" if s.part else None) if x)
    lines = [f"C synthesis ({what})"]
    lat_rows = []
    for label, which in (("best", "best"), ("average", "avg"), ("worst", "worst")):
        cycles = getattr(s, f"latency_{which}")
        if cycles is None:
            # best and worst are in every report: missing means HLS could not bound them. The average is
            # only in the XML report: left out when the report has none.
            if which != "avg":
                lat_rows.append([f"latency {label}", UNDEFINED, "(not bounded by HLS)"])
            continue
        ns = s.latency_ns(which)
        reported = getattr(s, f"latency_{which}_ns") is not None
        lat_rows.append([f"latency {label}", f"{cycles} cycles", _fmt_time(ns) + ("" if reported else " (cycles x target)")])
    if s.interval_min is not None or s.interval_max is not None:
        lat_rows.append(["interval", f"{_fmt(s.interval_min)} / {_fmt(s.interval_max)} cycles (min / max)", s.pipeline_type or ""])
    lat_rows.append(["clock target", f"{_fmt_ns(s.target_clock_ns)} ns", f"uncertainty {_fmt_ns(s.clock_uncertainty_ns)} ns"])
    lat_rows.append(["clock estimated", f"{_fmt_ns(s.estimated_clock_ns)} ns", ""])
    lines += _grid(["", "", ""], lat_rows)[1:]
    util = s.utilization()
    slr = s.utilization_slr()
    headers = ["resource", "used", "available", "util"] + (["available SLR", "util SLR"] if slr else [])
    rows = []
    for k in s._keys():
        row = [k, _fmt(s.resources.get(k)), _fmt(s.available.get(k)), _fmt_pct(util.get(k))]
        if slr:
            row += [_fmt(s.available_slr.get(k)), _fmt_pct(slr.get(k))]
        rows.append(row)
    if rows:
        lines += _grid(headers, rows)
    return lines


def _module_lines(modules: list[ModuleReport]) -> list[str]:
    keys = [k for k in RESOURCE_ORDER if any(k in m.resources for m in modules)]
    rows = []
    for m in modules:
        lat = "-" if m.latency_min is None else (str(m.latency_min) if m.latency_min == m.latency_max else f"{m.latency_min}-{m.latency_max}")
        ii = "-" if m.interval_min is None else (str(m.interval_min) if m.interval_min == m.interval_max else f"{m.interval_min}-{m.interval_max}")
        rows.append([("  " * max(m.depth - 1, 0)) + (m.instance or m.module), lat, ii] + [_fmt(m.resources.get(k)) for k in keys])
    return ["Modules"] + _grid(["instance", "latency", "interval"] + keys, rows)


def _cosim_lines(c: CosimReport) -> list[str]:
    lines = [f"Co-simulation: {c.status}" + (f" ({c.simulation_tool})" if c.simulation_tool else "")]
    for r in c.results:
        if r.status.upper() == "NA":
            continue
        lines.append(
            f"  {r.language}: {r.status}, latency min/avg/max {_fmt(r.latency_min)}/{_fmt(r.latency_avg)}/{_fmt(r.latency_max)},"
            f" interval min/avg/max {_fmt(r.interval_min)}/{_fmt(r.interval_avg)}/{_fmt(r.interval_max)}"
        )
    return lines


def _vsynth_lines(v: UtilizationReport) -> list[str]:
    what = ", ".join(x for x in (v.tool_version, f"device {v.device}" if v.device else None, v.design_state) if x)
    rows = [
        [key, _fmt(e.used), _fmt(e.available), _fmt_pct(_percent(e.used, e.available))]
        for key, e in v.summary().items()
    ]
    return [f"Vivado synthesis ({what})"] + _grid(["resource", "used", "available", "util"], rows)


def format_table(report: ProjectReport | SynthesisReport) -> str:
    """Plain-text summary: latency, interval, clocks, resources with % of the part, cosim, Vivado."""
    if isinstance(report, SynthesisReport):
        report = ProjectReport(project_dir="", files=ReportFiles(project_dir=""), csynth=report)
    lines: list[str] = []
    if report.project_dir:
        lines.append(f"Reports of {report.project_dir}" + (f" (project {report.project_name})" if report.project_name else ""))
    if report.csynth:
        lines += _csynth_lines(report.csynth)
        if report.csynth.modules:
            lines += _module_lines(report.csynth.modules)
    if report.cosim:
        lines += _cosim_lines(report.cosim)
    if report.vsynth:
        lines += _vsynth_lines(report.vsynth)
    return "\n".join(lines) + "\n"


def write_json(report: ProjectReport, path: str | Path) -> None:
    from garnet_hls.paths import write_output

    write_output(path, json.dumps(report.to_dict(), indent=2) + "\n", "--json output")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(report: ProjectReport) -> list[tuple[str, str]]:
    from matplotlib.figure import Figure

    plots = []
    series = []
    if report.csynth:
        util = report.csynth.utilization()
        series.append(("HLS estimate", {k: v for k, v in util.items() if v is not None}))
    if report.vsynth:
        series.append(("Vivado synthesis", {k: _percent(e.used, e.available) for k, e in report.vsynth.summary().items() if e.available}))
    series = [(n, s) for n, s in series if s]
    if series:
        keys = list(dict.fromkeys(k for _, s in series for k in s))
        fig = Figure(figsize=(7, 3.5))
        ax = fig.add_subplot()
        width = 0.8 / len(series)
        for j, (label, s) in enumerate(series):
            xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(keys))]
            ax.bar(xs, [s.get(k, 0.0) for k in keys], width=width, label=label)
        ax.axhline(100, color="red", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(keys)), keys)
        ax.set_ylabel("% of part")
        ax.set_title("Resource utilisation")
        ax.legend()
        plots.append(("Resource utilisation (% of part)", _png(fig)))
    mods = report.modules
    if mods:
        names = [m.instance or m.module for m in mods]
        fig = Figure(figsize=(9, 0.35 * len(mods) + 1.5))
        axes = fig.subplots(1, 2, sharey=True)
        axes[0].barh(range(len(mods)), [m.latency_max or 0 for m in mods])
        axes[0].set_yticks(range(len(mods)), [n if len(n) <= 48 else n[:45] + "..." for n in names], fontsize=7)
        axes[0].invert_yaxis()
        axes[0].set_xlabel("latency max (cycles)")
        axes[1].barh(range(len(mods)), [m.resources.get("DSP", 0) for m in mods], color="tab:orange")
        axes[1].set_xlabel("DSP")
        fig.suptitle("Per-module latency and DSP")
        plots.append(("Per-module latency and DSP", _png(fig)))
    return plots


def write_html(report: ProjectReport, path: str | Path) -> None:
    """Self-contained HTML page: the summary table and PNG plots embedded as base64."""
    title = f"garnet-hls report: {report.project_name or report.project_dir}"
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    s = report.csynth
    if s:
        parts.append(f"<h2>C synthesis ({html.escape(' '.join(x for x in (s.tool, s.version) if x))})</h2>")
        parts.append("<table>")
        rows = [("top", s.top), ("part", s.part)]
        for label, which in (("best", "best"), ("average", "avg"), ("worst", "worst")):
            if getattr(s, f"latency_{which}") is not None:
                rows.append((f"latency {label}", f"{getattr(s, f'latency_{which}')} cycles / {_fmt_time(s.latency_ns(which))}"))
            elif which != "avg":
                rows.append((f"latency {label}", UNDEFINED))
        rows += [
            ("interval min / max", f"{_fmt(s.interval_min)} / {_fmt(s.interval_max)} cycles"),
            ("target clock", f"{_fmt_ns(s.target_clock_ns)} ns"),
            ("estimated clock", f"{_fmt_ns(s.estimated_clock_ns)} ns"),
        ]
        parts += [f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v or '-'))}</td></tr>" for k, v in rows]
        parts.append("</table><h3>Resources</h3><table><tr><th>resource</th><th>used</th><th>available</th><th>util</th></tr>")
        util = s.utilization()
        for k in s._keys():
            parts.append(
                f"<tr><td>{k}</td><td>{_fmt(s.resources.get(k))}</td><td>{_fmt(s.available.get(k))}</td><td>{_fmt_pct(util.get(k))}</td></tr>"
            )
        parts.append("</table>")
        if s.modules:
            keys = [k for k in RESOURCE_ORDER if any(k in m.resources for m in s.modules)]
            parts.append("<h3>Modules</h3><table><tr><th>instance</th><th>module</th><th>latency min</th><th>latency max</th><th>interval</th>")
            parts += [f"<th>{k}</th>" for k in keys]
            parts.append("</tr>")
            for m in s.modules:
                cells = [m.instance or "", m.module, _fmt(m.latency_min), _fmt(m.latency_max), _fmt(m.interval_max)]
                cells += [_fmt(m.resources.get(k)) for k in keys]
                parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            parts.append("</table>")
    if report.cosim:
        c = report.cosim
        parts.append(f"<h2>Co-simulation: {html.escape(c.status)}</h2><table>")
        parts.append("<tr><th>RTL</th><th>status</th><th>latency min</th><th>avg</th><th>max</th><th>interval min</th><th>avg</th><th>max</th></tr>")
        for r in c.results:
            cells = [r.language, r.status] + [_fmt(getattr(r, a)) for a in ("latency_min", "latency_avg", "latency_max", "interval_min", "interval_avg", "interval_max")]
            parts.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
        parts.append("</table>")
    if report.vsynth:
        v = report.vsynth
        parts.append(f"<h2>Vivado synthesis ({html.escape(v.tool_version or '')})</h2><table>")
        parts.append("<tr><th>resource</th><th>used</th><th>available</th><th>util</th></tr>")
        for key, e in v.summary().items():
            parts.append(f"<tr><td>{key}</td><td>{_fmt(e.used)}</td><td>{_fmt(e.available)}</td><td>{_fmt_pct(_percent(e.used, e.available))}</td></tr>")
        parts.append("</table>")
    for caption, png in _plots(report):
        parts.append(f'<h2>{html.escape(caption)}</h2><img alt="{html.escape(caption)}" src="data:image/png;base64,{png}">')
    parts.append("<h2>Text summary</h2><pre>" + html.escape(format_table(report)) + "</pre>")
    parts.append("</body></html>")
    from garnet_hls.paths import write_output

    write_output(path, "\n".join(parts) + "\n", "--html output")


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
