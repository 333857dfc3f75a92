"""Drive Vivado HLS / Vitis HLS on a generated hls4ml project (what ``garnet-hls synth PROJECT`` runs).

The project's own ``build_prj.tcl`` is run in the project directory with the option convention of
hls4ml's backends (``reset/csim/synth/cosim/validation/export/vsynth/fifo_opt``):

* Vivado (and VivadoAccelerator) projects: ``vivado_hls -f build_prj.tcl "reset=False csim=True ..."``.
  The script reads the options from its argument with ``regexp "$o=+(\\w+)"``, so the order of the
  words matters (``synth=`` must come before ``vsynth=``); it is the order hls4ml uses.
* Vitis projects written by hls4ml >= 1.2 (their build_prj.tcl sources ``build_opt.tcl``): the options
  are written to ``build_opt.tcl`` and the script is run with ``vitis-run --mode hls --tcl build_prj.tcl``
  (hls4ml 1.3's own invocation), or ``vitis_hls -f build_prj.tcl`` when only vitis_hls is installed.
* Older Vitis projects (argument convention): ``vitis_hls -f build_prj.tcl "reset=... "``.

The tool's output is streamed line by line with the current step as prefix and written to
``PROJECT/synth.log``. Nothing in the project is touched before the tool has been found.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from garnet_hls.errors import ToolNotFoundError, UserError, require_dir
from garnet_hls.toolchain.hls import load_hls4ml_config, load_report
from garnet_hls.toolchain.hls_format import format_table

LOG_NAME = "synth.log"
OPTION_ORDER = ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")

ENV_VIVADO_HLS = "GARNET_HLS_VIVADO_HLS"
ENV_VITIS_HLS = "GARNET_HLS_VITIS_HLS"
ENV_VITIS_RUN = "GARNET_HLS_VITIS_RUN"

_SETUP_HINT = {
    "vivado": "source the Vivado HLS settings, e.g. `source /tools/Xilinx/Vivado/2020.1/settings64.sh`",
    "vitis": "source the Vitis settings, e.g. `source /tools/Xilinx/Vitis/2024.1/settings64.sh`"
    " (or Vitis_HLS/<version>/settings64.sh for a stand-alone Vitis HLS)",
}

# (step key, label) in the order build_prj.tcl runs them
STEPS = (
    ("csim", "C simulation"),
    ("synth", "C synthesis"),
    ("cosim", "C/RTL co-simulation"),
    ("validation", "C/RTL validation"),
    ("export", "IP export"),
    ("vsynth", "Vivado synthesis"),
)
_STEP_LABEL = dict(STEPS)

# Banners printed by hls4ml's build_prj.tcl; these always switch the step.
_BANNERS = (
    (re.compile(r"\*{5} C SIMULATION \*{5}"), "csim"),
    (re.compile(r"\*{5} C/RTL SYNTHESIS \*{5}"), "synth"),
    (re.compile(r"\*{5} C/RTL SIMULATION \*{5}"), "cosim"),
    (re.compile(r"\*{5} C/RTL VALIDATION \*{5}"), "validation"),
    (re.compile(r"\*{5} EXPORT IP \*{5}"), "export"),
    (re.compile(r"\*{5} VIVADO SYNTHESIS \*{5}"), "vsynth"),
)
# Messages of the tools themselves; these only move the step forward (never back).
_TOOL_MARKERS = (
    (re.compile(r"CSIM start|Starting C simulation", re.I), "csim"),
    (re.compile(r"\bC SYNTHESIS\b|Starting C synthesis|csynth_design", re.I), "synth"),
    (re.compile(r"Starting C/RTL cosimulation|\bCOSIM\b", re.I), "cosim"),
    (re.compile(r"\bExporting\b|export_design", re.I), "export"),
    (re.compile(r"Starting synth_design|\bsynth_design\b", re.I), "vsynth"),
)
_COMPLETED = re.compile(r"\*{5} (.+?) COMPLETED IN (\S+) \*{5}")


@dataclass
class SynthOptions:
    reset: bool = False
    csim: bool = False
    synth: bool = True
    cosim: bool = False
    validation: bool = False
    export: bool = False
    vsynth: bool = False
    fifo_opt: bool = False

    def as_argument(self) -> str:
        """The single argument hls4ml passes to build_prj.tcl: ``reset=False csim=True ...``."""
        return " ".join(f"{name}={getattr(self, name)}" for name in OPTION_ORDER)

    def as_option_file(self) -> str:
        """Contents of build_opt.tcl for Vitis projects that source it."""
        body = "".join(f"    {name:<10} {int(getattr(self, name))}\n" for name in OPTION_ORDER)
        return "# written by garnet-hls synth\narray set opt {\n" + body + "}\n"

    def steps(self) -> list[str]:
        return [key for key, _ in STEPS if getattr(self, key)]


@dataclass
class BuildPlan:
    """Everything needed to run the build; computing it changes nothing on disk."""

    project_dir: Path
    backend: str
    argv: list[str]
    options: SynthOptions
    option_file: Path | None = None  # build_opt.tcl to write before running (Vitis)
    steps: list[str] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.project_dir / LOG_NAME


def hls4ml_backend_of(project_dir: Path) -> str:
    """The backend hls4ml wrote a project for (hls4ml_config.yml, else project.tcl); one line if neither says."""
    cfg = load_hls4ml_config(project_dir)
    backend = cfg.get("Backend") if cfg else None
    if not backend:
        tcl = project_dir / "project.tcl"
        if tcl.is_file():
            m = re.search(r'set\s+backend\s+"?(\w+)"?', tcl.read_text(encoding="utf-8", errors="replace"))
            backend = m.group(1) if m else None
    if not backend:
        raise UserError(f"{project_dir} is not a garnet-hls or hls4ml project: cannot tell the backend (no Backend in hls4ml_config.yml, no project.tcl)")
    return str(backend)


def _which(name: str) -> str | None:
    return shutil.which(name)


def _from_env(var: str) -> str | None:
    """Executable named by an override variable; ToolNotFoundError when it names nothing runnable."""
    value = os.environ.get(var)
    if not value:
        return None
    found = _which(value)
    if not found:
        raise ToolNotFoundError(f"{var}={value} is not an executable file or a command on PATH; fix or unset {var}")
    return found


def plan_build(project_dir: str | Path, options: SynthOptions) -> BuildPlan:
    """Check the project and find the tool; raise UserError / ToolNotFoundError without side effects."""
    project_dir = Path(project_dir)
    require_dir(project_dir, "hls4ml project directory")
    build_tcl = project_dir / "build_prj.tcl"
    if not build_tcl.is_file():
        raise UserError(f"{project_dir}: no build_prj.tcl here; is this an hls4ml project directory?")
    backend = hls4ml_backend_of(project_dir)
    kind = backend.lower()
    tcl_text = build_tcl.read_text(encoding="utf-8", errors="replace")

    if kind in ("vivado", "vivadoaccelerator"):
        exe = _from_env(ENV_VIVADO_HLS) or _which("vivado_hls")
        if not exe:
            raise ToolNotFoundError(
                f"vivado_hls not found on PATH (backend {backend} of {project_dir}); "
                f"{_SETUP_HINT['vivado']}, or set {ENV_VIVADO_HLS} to the executable"
            )
        argv = [exe, "-f", "build_prj.tcl", options.as_argument()]
        option_file = None
    elif kind == "vitis":
        uses_option_file = "build_opt.tcl" in tcl_text
        if uses_option_file:
            run = _from_env(ENV_VITIS_RUN)
            hls = None if run else _from_env(ENV_VITIS_HLS)
            if not run and not hls:
                run = _which("vitis-run")
                hls = None if run else _which("vitis_hls")
            if run:
                argv = [run, "--mode", "hls", "--tcl", "build_prj.tcl"]
            elif hls:
                argv = [hls, "-f", "build_prj.tcl"]
            else:
                raise ToolNotFoundError(
                    f"neither vitis-run nor vitis_hls found on PATH (backend {backend} of {project_dir}); "
                    f"{_SETUP_HINT['vitis']}, or set {ENV_VITIS_RUN} / {ENV_VITIS_HLS} to the executable"
                )
            option_file = project_dir / "build_opt.tcl"
        else:
            exe = _from_env(ENV_VITIS_HLS) or _which("vitis_hls")
            if not exe:
                raise ToolNotFoundError(
                    f"vitis_hls not found on PATH (backend {backend} of {project_dir}); "
                    f"{_SETUP_HINT['vitis']}, or set {ENV_VITIS_HLS} to the executable"
                )
            argv = [exe, "-f", "build_prj.tcl", options.as_argument()]
            option_file = None
    else:
        raise UserError(f"{project_dir}: backend {backend} is not supported by garnet-hls synth (Vivado or Vitis only)")

    if options.vsynth and not _which("vivado"):
        raise ToolNotFoundError(
            "vivado not found on PATH (--vsynth runs `vivado -mode batch -source vivado_synth.tcl`); "
            "source the Vivado settings, e.g. `source /tools/Xilinx/Vivado/2020.1/settings64.sh`"
        )
    return BuildPlan(project_dir, backend, argv, options, option_file, options.steps())


class _StepTracker:
    """Follows the step markers in the tool's output."""

    def __init__(self, planned: list[str]):
        self.planned = planned
        self.current = "setup"

    def _index(self, step: str) -> int:
        return self.planned.index(step) if step in self.planned else -1

    def feed(self, line: str) -> str | None:
        """New step key when ``line`` starts one, else None."""
        for pattern, step in _BANNERS:
            if pattern.search(line):
                return self._switch(step)
        for pattern, step in _TOOL_MARKERS:
            if pattern.search(line) and self._index(step) > self._index(self.current):
                return self._switch(step)
        return None

    def _switch(self, step: str) -> str | None:
        if step == self.current:
            return None
        self.current = step
        return step


def run_build(plan: BuildPlan, out: TextIO | None = None) -> int:
    """Run the planned build, stream its output to ``out`` and PROJECT/synth.log; return the exit code."""
    out = out or sys.stdout
    if plan.option_file is not None:
        plan.option_file.write_text(plan.options.as_option_file(), encoding="utf-8")
    tracker = _StepTracker(plan.steps)
    n = len(plan.steps)
    out.write(f"garnet-hls synth: running {' '.join(plan.argv)} in {plan.project_dir}\n")
    out.write(f"garnet-hls synth: steps {', '.join(_STEP_LABEL[s] for s in plan.steps)}; log in {plan.log_path}\n")
    out.flush()
    with open(plan.log_path, "w", encoding="utf-8") as log:
        log.write(f"# garnet-hls synth: {' '.join(plan.argv)}\n# cwd: {plan.project_dir}\n")
        log.flush()
        proc = subprocess.Popen(
            plan.argv,
            cwd=plan.project_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,  # its own process group: an interrupt stops the tool and all its children
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                new = tracker.feed(line)
                if new is not None:
                    pos = f"{plan.steps.index(new) + 1}/{n} " if new in plan.steps else ""
                    out.write(f"==> garnet-hls synth: step {pos}{_STEP_LABEL.get(new, new)}\n")
                done = _COMPLETED.search(line)
                out.write(f"[{tracker.current}] {line.rstrip()}\n")
                if done:
                    out.write(f"==> garnet-hls synth: {done.group(1).lower()} finished in {done.group(2)}\n")
                out.flush()
            code = proc.wait()
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (garnet_hls.cli.Terminated)
            _stop_group(proc)
            log.write(f"# {'terminated' if type(e).__name__ == 'Terminated' else 'interrupted by the user'}\n")
            raise
        log.write(f"# exit code {code}\n")
    if code < 0:  # killed by a signal: report it the way a shell would
        code = 128 - code
    return code


def _stop_group(proc: subprocess.Popen, grace: float = 10.0):
    """Stop the tool's whole process group (vivado_hls starts children): SIGTERM, then SIGKILL."""
    import signal

    def kill(sig):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    kill(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    kill(signal.SIGKILL)  # children that outlive the leader, or a leader that ignored SIGTERM
    proc.wait()


def synth(project_dir: str | Path, options: SynthOptions | None = None, out: TextIO | None = None) -> int:
    """Run the build and print the report table afterwards (when there are reports)."""
    out = out or sys.stdout
    plan = plan_build(project_dir, options or SynthOptions())
    code = run_build(plan, out)
    status = "finished" if code == 0 else f"FAILED (exit code {code})"
    out.write(f"garnet-hls synth: {Path(plan.argv[0]).name} {status}; full log in {plan.log_path}\n")
    try:
        rep = load_report(plan.project_dir)
    except UserError as exc:  # a half-written report must not hide the tool's exit code
        out.write(f"garnet-hls synth: could not read the reports: {exc}\n")
        return code
    if rep.csynth or rep.cosim or rep.vsynth:
        out.write(format_table(rep))
    out.flush()
    return code
