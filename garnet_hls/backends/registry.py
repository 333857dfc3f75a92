"""The backends, found by name: one vocabulary for configs, every command, sweeps and the fuzzer.

A backend turns a Keras model into a project and knows how to run, synthesize, report and estimate it. The
commands (``garnet_hls/flows``) ask this registry for one, by the name a user gives (``get_backend``) or by
the project they point at (``backend_of``), and never import a backend's insides.

Names are case-insensitive: ``vivado`` and ``vitis`` (the HLS backends: hls4ml with our C++ kernels) and
``rtl`` (da4ml-traced Verilog). ``hls`` means the default HLS backend (``vivado``), as ``sweep --backend hls``
always did. Synthesis tools likewise: ``hls`` (the HLS backend's own tool, Vivado HLS or Vitis HLS; also
spelt ``vivado``, ``vitis``, ``vivado_hls``, ``vitis_hls``) and ``yosys``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from garnet_hls.errors import UserError

# canonical name -> (module, class, keyword arguments)
_IMPLEMENTATIONS = {
    "vivado": ("garnet_hls.backends.hls.backend", "HLSBackend", {"hls4ml_name": "Vivado"}),
    "vitis": ("garnet_hls.backends.hls.backend", "HLSBackend", {"hls4ml_name": "Vitis"}),
    "rtl": ("garnet_hls.backends.rtl.backend", "RTLBackend", {}),
}
BACKEND_ALIASES = {"hls": "vivado", "vivadoaccelerator": "vivado"}
NAMES = tuple(_IMPLEMENTATIONS)
DEFAULT = "vivado"

TOOLS = ("hls", "yosys")
TOOL_ALIASES = {"vivado": "hls", "vitis": "hls", "vivado_hls": "hls", "vitis_hls": "hls", "vitis-run": "hls"}

_instances: dict[str, "Backend"] = {}


class Simulator(Protocol):
    """What ``csim``, ``compare``, ``sweep`` and the fuzzer run: a loaded simulation of one project."""

    meta: dict
    name: str  # what runs the firmware, for the user: "C simulation", "Verilator (the generated Verilog)", ...

    def run(self, data: dict, trace: bool = False, progress: bool = False) -> tuple[dict, dict]:
        """Every event of ``data`` -> ``(outputs, traces)``: dicts name -> array (traces may be empty)."""


class Backend:
    """The interface every backend implements. Methods a backend does not have say so in one line."""

    name: str = ""  # canonical, lower case
    family: str = ""  # "hls" or "rtl"
    synth_tools: tuple[str, ...] = ()  # canonical tool names it can synthesize with, the first is the default
    #: simulator options it takes (name -> help); a command refuses any other
    sim_options: dict[str, str] = {}

    # -- conversion
    def check_config(self, cfg: dict, model=None) -> None:
        """Refuse, in one line, what this backend cannot build (after the generic checks)."""

    def convert(self, model, cfg: dict, tmp_dir: Path, out_dir: Path, model_path=None, force: bool = False) -> dict:
        """Write the project for ``model`` into the empty directory ``tmp_dir`` (to be published as ``out_dir``);
        return its metadata (the flow writes ``garnet_project.json`` and publishes the directory). ``force``:
        write it even where the backend would refuse a design that does not fit the part."""
        raise NotImplementedError

    def summary(self, meta: dict) -> str:
        """What ``convert`` adds to its one-line summary (e.g. the RTL schedule)."""
        return ""

    # -- simulation
    def simulator(self, project, **options) -> Simulator:
        raise NotImplementedError

    # -- synthesis and reports
    def synthesize(self, project, tool: str, **options) -> Any:
        raise UserError(f"the {self.name} backend has no synthesis tool")

    def report(self, project, args) -> int:
        raise UserError(f"report does not apply to {self.name} projects")

    def check_tool(self, project, tool: str) -> None:
        """ToolNotFoundError (one line) when ``tool`` is not installed; changes nothing (a sweep asks first)."""

    def synth_point(self, project, tool: str, log) -> dict:
        """Synthesize one sweep point, its output to ``log``: tool, latency_cycles, interval_cycles, lut, ff,
        dsp, bram_18k (None where the tool does not say)."""
        raise UserError(f"the {self.name} backend has no synthesis tool")

    def estimate(self, project) -> Any:
        raise UserError(f"estimate does not apply to {self.name} projects ({project})")

    def estimate_summary(self, project) -> dict | None:
        """A sweep point's estimated figures (every key ``estimated_``), or None where the backend has no
        estimate (its figures are exact or come from synthesis)."""
        return None

    def tool_versions(self, tool: str | None) -> dict[str, str]:
        """The versions that make a sweep point's result (its cache key): generator and synthesis tool."""
        return {}

    # -- the model as this backend's logic, without a project (the fuzzer's fast path)
    def trace(self, model, latency_cutoff: float = -1.0) -> Any:
        """``model`` traced into this backend's logic, in memory: an object whose ``not_bit_exact`` lists the
        layers (``{"layer", "reason"}``) where it is not bit-exact with the float64 Keras model (as
        ``convert`` labels them). A model the backend cannot build is a one-line UserError."""
        raise UserError(f"tracing a model does not apply to the {self.name} backend (convert it instead)")

    def emulate(self, trace, data: dict) -> list:
        """A :meth:`trace` run bit-exactly on an events dict: one array per model output."""
        raise UserError(f"emulating a trace does not apply to the {self.name} backend (convert it instead)")

    def output_lsbs(self, trace) -> list[float] | None:
        """The LSB of each output value of a :meth:`trace`, all outputs flattened in order (None: unknown)."""
        return None

    def fold(self, model, lanes: int, latency_cutoff: float = -1.0) -> Any:
        """``model`` planned as a folded (time-multiplexed) design of ``lanes`` lanes, in memory; :meth:`emulate`
        runs it. A model the backend cannot fold is a one-line UserError."""
        raise UserError(f"folding a model does not apply to the {self.name} backend (a ReuseFactor does)")

    def write_folded(self, plan, path, data: dict | None = None) -> list | None:
        """Write a :meth:`fold` plan's Verilog into ``path``; with ``data``, also build it in Verilator and return
        its outputs on those events (one array per model output)."""
        raise UserError(f"folding a model does not apply to the {self.name} backend (a ReuseFactor does)")

    # -- helpers for the flows
    def check_sim_options(self, options: dict, project=None) -> None:
        for key, value in options.items():
            if value and key not in self.sim_options:
                where = f"{project} is a {self.name} project" if project else f"the {self.name} backend"
                takes = ", ".join(f"--{k}" for k in self.sim_options) or "no such option"
                raise UserError(f"--{key} does not apply: {where} (it takes {takes})")

    def resolve_tool(self, tool: str | None, project=None) -> str:
        t = tool_name(tool) if tool else self.synth_tools[0] if self.synth_tools else None
        if t is None or t not in self.synth_tools:
            where = f"{project} is a {self.name} project" if project else f"the {self.name} backend"
            have = ", ".join(self.synth_tools) or "none"
            raise UserError(f"--tool {tool} does not apply: {where}, synthesized with: {have}")
        return t

    def __repr__(self):
        return f"<garnet-hls backend {self.name}>"


def backend_name(name, what: str = "backend") -> str:
    """The canonical name of a backend spelt any known way (case-insensitive), else one line naming ``what``
    (the config key ``Backend``, the option ``--backend``)."""
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{what} {name!r} is not one of {', '.join(NAMES)}")
    key = name.strip().lower()
    key = BACKEND_ALIASES.get(key, key)
    if key not in _IMPLEMENTATIONS:
        raise UserError(f"{what} {name!r} is not one of {', '.join(NAMES)} (case-insensitive; hls = vivado)")
    return key


def tool_name(name) -> str:
    """The canonical name of a synthesis tool spelt any known way, else one line."""
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"synthesis tool {name!r} is not one of {', '.join(TOOLS)}")
    key = name.strip().lower()
    key = TOOL_ALIASES.get(key, key)
    if key not in TOOLS:
        raise UserError(f"synthesis tool {name!r} is not one of {', '.join(TOOLS)} (hls = vivado = vitis)")
    return key


def get_backend(name, what: str = "backend") -> Backend:
    key = backend_name(name, what)
    if key not in _instances:
        module, cls, kwargs = _IMPLEMENTATIONS[key]
        _instances[key] = getattr(importlib.import_module(module), cls)(**kwargs)
    return _instances[key]


def backend_of(project, hls4ml_projects: bool = False) -> Backend:
    """The backend of a project directory (from its ``garnet_project.json``).

    ``hls4ml_projects``: also take an hls4ml project that garnet-hls did not write (no
    ``garnet_project.json``, but hls4ml's ``hls4ml_config.yml`` or ``build_prj.tcl``), as ``synth`` and
    ``report`` do; its backend is the one hls4ml recorded."""
    from garnet_hls.errors import require_dir
    from garnet_hls.project import backend_name as meta_backend, is_project, meta_path, read_meta

    if hls4ml_projects and not is_project(project):
        require_dir(project)
        from garnet_hls.toolchain.hls_build import hls4ml_backend_of

        if not any((Path(project) / f).is_file() for f in ("build_prj.tcl", "hls4ml_config.yml")):
            raise UserError(f"{project} is not a garnet-hls or hls4ml project (no garnet_project.json, no "
                            "build_prj.tcl); create one with garnet-hls convert")
        name = hls4ml_backend_of(Path(project))
        try:
            return get_backend(name)
        except UserError:
            raise UserError(f"{project}: hls4ml backend {name} is not supported (vivado or vitis)") from None
    meta = read_meta(project)
    try:
        return get_backend(meta_backend(meta))
    except UserError:
        raise UserError(f"{meta_path(project)} names an unknown backend {meta.get('backend')!r} (not one of "
                        f"{', '.join(NAMES)}); convert the model again with garnet-hls convert --force") from None


def all_backends() -> list[Backend]:
    return [get_backend(n) for n in NAMES]

