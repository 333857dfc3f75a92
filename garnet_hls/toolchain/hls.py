"""The reports of a Vivado HLS / Vitis HLS project (an hls4ml project, or a folder of report files): finding
them, reading the co-simulation report and ``hls4ml_config.yml``, and :func:`load_report`, which parses
every report found into one :class:`ProjectReport`.

* C synthesis: :mod:`garnet_hls.toolchain.hls_csynth` (XML and text reports of Vivado HLS and Vitis HLS).
* Co-simulation reports (``<top>_cosim.rpt``), old and Vitis layout: here.
* hls4ml's Vivado synthesis (``vivado_synth.rpt``): :mod:`garnet_hls.toolchain.vivado`.

Presenting them (text table, JSON, HTML) is :mod:`garnet_hls.toolchain.hls_format`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError, require_dir
from garnet_hls.toolchain.hls_csynth import (ModuleReport, SynthesisReport, csynth_xml_top, is_summary_rpt,
                                             merge_synthesis, parse_csynth_rpt, parse_csynth_xml)
from garnet_hls.toolchain.tables import integer, read_table, read_text
from garnet_hls.toolchain.vivado import UtilizationReport, parse_utilization_rpt


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
# Co-simulation report
# ----------------------------------------------------------------------------------------------


def parse_cosim_rpt(path: str | Path) -> CosimReport:
    path = Path(path)
    lines = read_text(path).splitlines()
    rep = CosimReport(source=str(path))
    for line in lines:
        m = re.match(r"^\s*(Report time|Solution|Simulation tool)\s*:\s*(.*?)\.?\s*$", line)
        if m:
            attr = {"Report time": "report_time", "Solution": "solution", "Simulation tool": "simulation_tool"}[m.group(1)]
            setattr(rep, attr, m.group(2))
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("+-")), None)
    if start is None:
        raise UserError(f"{path}: not a co-simulation report (no result table)")
    table, _ = read_table(lines, start)
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
            setattr(res, attr, integer(table.cell(row, idx)))
        rep.results.append(res)
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
        data = yaml.load(read_text(path), Loader=_TolerantLoader.get())  # noqa: S506 - safe loader subclass
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
        m = re.search(r'set\s+project_name\s+"?([^"\s]+)"?', read_text(tcl))
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
        top = csynth_xml_top(summary_xml)
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
    if summary_rpt.is_file() and is_summary_rpt(summary_rpt):
        files.summary_rpt = str(summary_rpt)
    elif summary_rpt.is_file() and files.csynth_rpt is None:
        files.csynth_rpt = str(summary_rpt)
    files.module_xmls = [str(p) for p in xmls if str(p) != files.csynth_xml]

    if files.csynth_xml is None and files.csynth_rpt is None and files.summary_xml is None and syn_dir.is_dir():
        # a directory of arbitrary C-synthesis XML reports (e.g. renamed copies): take the one for
        # the top, or the only one
        cands = [p for p in sorted(syn_dir.glob("*.xml")) if csynth_xml_top(p)]
        chosen = [p for p in cands if top and csynth_xml_top(p) == top] or (cands if len(cands) == 1 else [])
        if chosen:
            files.csynth_xml = str(chosen[0])
            files.top = files.top or csynth_xml_top(chosen[0])

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
