"""Read the C-synthesis reports of Vivado HLS / Vitis HLS (all checked against real tool output, see
``tests/test_reports.py``):

* C-synthesis XML (``<top>_csynth.xml``, ``csynth.xml``) of Vivado HLS 2019.x-2020.x and
  Vitis HLS 2023+: ``DSP48E`` or ``DSP`` tags, URAM present or not, ``<range><min/><max/></range>``
  values, loop latencies, and the per-module ``<ModuleInformation>`` of Vitis' ``csynth.xml``.
* C-synthesis text reports: the classic ``== Vivado HLS Report for`` / ``== Vitis HLS Report for``
  layout (timing, latency, per-instance latency and resources, loops, utilisation incl. SLR rows)
  and Vitis' ``== Synthesis Summary Report of`` layout (``csynth.rpt``).

Everything numeric is read from the files; the only derived numbers are utilisation percentages
(used / available) and, where a report gives no absolute latency, cycles x target clock.
The co-simulation report and the finding of a project's reports are in :mod:`garnet_hls.toolchain.hls`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError
from garnet_hls.toolchain.tables import Table, integer, norm, number, percent, read_table, read_text, time_ns

RESOURCE_ORDER = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
_RESOURCE_ALIASES = {"DSP48E": "DSP", "DSP48": "DSP", "DSP48E1": "DSP", "DSP48E2": "DSP", "BRAM": "BRAM_18K"}


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
        return {k: percent(self.resources.get(k), self.available.get(k)) for k in self._keys()}

    def utilization_slr(self) -> dict[str, float | None]:
        return {k: percent(self.resources.get(k), self.available_slr.get(k)) for k in self.available_slr}

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


def _canon_resource(name: str) -> str:
    return _RESOURCE_ALIASES.get(name.strip(), name.strip())


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
        return integer(_xml_text(rng, "min")), integer(_xml_text(rng, "max"))
    v = integer((child.text or "").strip())
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
                trip_count=integer(_xml_text(child, "TripCount")),
                latency_min=lat[0],
                latency_max=lat[1],
                iteration_latency_min=it[0],
                iteration_latency_max=it[1],
                pipeline_ii=integer(_xml_text(child, "PipelineII")),
                pipeline_depth=integer(_xml_text(child, "PipelineDepth")),
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
        v = number((child.text or "").strip())
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
        ii = integer(_xml_text(lat, "PipelineInitiationInterval"))
        inst, depth = placement.get(name, (None, 0))
        modules.append(
            ModuleReport(
                module=name,
                instance=inst,
                depth=depth,
                latency_min=_xml_scalar(lat, "Best-caseLatency"),
                latency_avg=_xml_scalar(lat, "Average-caseLatency"),
                latency_max=_xml_scalar(lat, "Worst-caseLatency"),
                latency_min_ns=time_ns(_xml_text(lat, "Best-caseRealTimeLatency")),
                latency_max_ns=time_ns(_xml_text(lat, "Worst-caseRealTimeLatency")),
                interval_min=integer(_xml_text(lat, "Interval-min")) if lat is not None and lat.find("Interval-min") is not None else ii,
                interval_max=integer(_xml_text(lat, "Interval-max")) if lat is not None and lat.find("Interval-max") is not None else ii,
                pipeline_type=_xml_text(lat, "PipelineType"),
                estimated_clock_ns=time_ns(_xml_text(m, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
                resources=res,
                source="xml:ModuleInformation",
            )
        )
    return modules


def _guess_tool(version: str | None, dsp_name: str | None, flow_target: str | None) -> str | None:
    if flow_target or dsp_name == "DSP":
        return "Vitis HLS"
    year = integer(version.split(".")[0]) if version else None
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
        target_clock_ns=time_ns(_xml_text(ua, "TargetClockPeriod")),
        clock_uncertainty_ns=time_ns(_xml_text(ua, "ClockUncertainty")),
        estimated_clock_ns=time_ns(_xml_text(perf, "SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        pipeline_type=_xml_text(perf, "PipelineType"),
        latency_best=_xml_scalar(lat, "Best-caseLatency"),
        latency_avg=_xml_scalar(lat, "Average-caseLatency"),
        latency_worst=_xml_scalar(lat, "Worst-caseLatency"),
        latency_best_ns=time_ns(_xml_text(lat, "Best-caseRealTimeLatency")),
        latency_avg_ns=time_ns(_xml_text(lat, "Average-caseRealTimeLatency")),
        latency_worst_ns=time_ns(_xml_text(lat, "Worst-caseRealTimeLatency")),
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


def _scan_tables(lines: list[str]) -> dict[tuple[str, str, str], Table]:
    """Tables of a report keyed by (section, heading, sub-heading); the first one of each key wins."""
    tables: dict[tuple[str, str, str], Table] = {}
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
            table, i = read_table(lines, i)
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


def _rpt_loops(table: Table, module: str | None) -> list[LoopReport]:
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
                trip_count=integer(table.cell(row, c_trip)),
                latency_min=integer(table.cell(row, c_min)),
                latency_max=integer(table.cell(row, c_max)),
                iteration_latency_min=integer(it_parts[0]) if it_parts else None,
                iteration_latency_max=integer(it_parts[-1]) if it_parts else None,
                pipeline_ii=integer(table.cell(row, c_ii)),
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
        rep.target_clock_ns = time_ns(timing.cell(row, timing.col("target")))
        rep.estimated_clock_ns = time_ns(timing.cell(row, timing.col("estimated")))
        rep.clock_uncertainty_ns = time_ns(timing.cell(row, timing.col("uncertainty")))

    lat = tables.get(("Performance Estimates", "Latency", "Summary"))
    if lat and lat.rows:
        row = lat.rows[0]
        rep.latency_best = integer(lat.cell(row, lat.col("latency", "min", exclude=("absolute",))))
        rep.latency_worst = integer(lat.cell(row, lat.col("latency", "max", exclude=("absolute",))))
        rep.latency_best_ns = time_ns(lat.cell(row, lat.col("absolute", "min")))
        rep.latency_worst_ns = time_ns(lat.cell(row, lat.col("absolute", "max")))
        rep.interval_min = integer(lat.cell(row, lat.col("interval", "min")))
        rep.interval_max = integer(lat.cell(row, lat.col("interval", "max")))
        rep.pipeline_type = lat.cell(row, lat.col("pipeline"))

    util = tables.get(("Utilization Estimates", "", "Summary"))
    if util:
        names = [_canon_resource(c) for c in util.columns]
        for c in util.columns:
            if c.strip().startswith("DSP"):
                rep.dsp_name = c.strip()
        targets = {"total": rep.resources, "available": rep.available, "available slr": rep.available_slr}
        for row in util.rows:
            label = norm(row[0]) if row else ""
            if label in targets:
                for k in range(1, min(len(row), len(names))):
                    v = number(row[k])
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
                latency_min=integer(inst_lat.cell(row, inst_lat.col("latency", "min", exclude=("absolute",)))),
                latency_max=integer(inst_lat.cell(row, inst_lat.col("latency", "max", exclude=("absolute",)))),
                latency_min_ns=time_ns(inst_lat.cell(row, inst_lat.col("absolute", "min"))),
                latency_max_ns=time_ns(inst_lat.cell(row, inst_lat.col("absolute", "max"))),
                interval_min=integer(inst_lat.cell(row, inst_lat.col("interval", "min"))),
                interval_max=integer(inst_lat.cell(row, inst_lat.col("interval", "max"))),
                pipeline_type=inst_lat.cell(row, inst_lat.col("pipeline")),
                source=f"rpt:{path.name}",
            )
    inst_res = tables.get(("Utilization Estimates", "Detail", "Instance"))
    if inst_res:
        ci, cm = inst_res.col("instance"), inst_res.col("module")
        names = [_canon_resource(c) for c in inst_res.columns]
        for row in inst_res.rows:
            inst = inst_res.cell(row, ci)
            if not inst or norm(inst) == "total":
                continue
            mod = modules.setdefault(inst, ModuleReport(module=inst_res.cell(row, cm) or inst, instance=inst, source=f"rpt:{path.name}"))
            for k, name in enumerate(names):
                if k in (ci, cm):
                    continue
                v = number(inst_res.cell(row, k))
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
            v = number(table.cell(row, idx))
            if v is not None:
                resources[_canon_resource(rname)] = v
        lat = integer(table.cell(row, c_lat))
        ii = integer(table.cell(row, c_ii))
        if kind == "+":
            stack.append((depth, name))
            if parent is None:  # the top function
                rep.top = rep.top or name
                rep.latency_best = rep.latency_worst = lat
                rep.latency_best_ns = rep.latency_worst_ns = time_ns(table.cell(row, c_ns))
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
                        latency_min_ns=time_ns(table.cell(row, c_ns)),
                        latency_max_ns=time_ns(table.cell(row, c_ns)),
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
                    trip_count=integer(table.cell(row, c_trip)),
                    latency_min=lat,
                    latency_max=lat,
                    iteration_latency_min=integer(table.cell(row, c_it)),
                    iteration_latency_max=integer(table.cell(row, c_it)),
                    pipeline_ii=ii,
                    pipelined=table.cell(row, c_pipe),
                )
            )
    return rep


def parse_csynth_rpt(path: str | Path) -> SynthesisReport:
    """Parse a C-synthesis text report (classic per-function layout or Vitis summary layout)."""
    path = Path(path)
    lines = read_text(path).splitlines()
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
# Recognising report files (for finding a project's reports)
# ----------------------------------------------------------------------------------------------


def csynth_xml_top(path: Path) -> str | None:
    """The top function a C-synthesis XML report is of; None when the file is not one."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    if root.tag != "profile":
        return None
    return _xml_text(root, "UserAssignments/TopModelName")


def is_summary_rpt(path: Path) -> bool:
    """Whether a text file is Vitis' "Synthesis Summary Report" (csynth.rpt), not a per-function report:
    its title within the first 40 lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return any(_SUMMARY_TITLE_RE.match(line.strip()) for _, line in zip(range(40), f))
    except OSError:
        return False
