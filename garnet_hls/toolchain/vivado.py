"""Read Vivado's own text reports (checked against real tool output, see ``tests/test_reports.py`` and
``tests/test_rtl_vivado_reports.py``):

* ``report_utilization`` output (hls4ml's ``vivado_synth.rpt``; da4ml's ``<name>_post_synth_util.rpt`` /
  ``<name>_post_route_util.rpt``), 7-series "Slice" and UltraScale "CLB" naming.
* ``report_timing_summary`` output (da4ml's ``<name>_post_route_timing.rpt``): WNS/TNS, WHS/THS, Vivado's
  verdict and the clocks.

Everything numeric is read from the files; the one derived number is the clock a routed design would just
meet, 1000 / (period - WNS) MHz.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError
from garnet_hls.toolchain.tables import number, read_table, read_text


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
    lines = read_text(path).splitlines()
    rep = UtilizationReport(source=str(path))
    _vivado_header(lines, rep)
    i = 0
    while i < len(lines):
        if not lines[i].strip().startswith("+-"):
            i += 1
            continue
        table, i = read_table(lines, i)
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
                used=number(table.cell(row, c_used)),
                fixed=number(table.cell(row, c_fixed)),
                available=number(table.cell(row, c_avail)),
                util_percent=number(table.cell(row, c_util)),
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
    lines = read_text(path).splitlines()
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
