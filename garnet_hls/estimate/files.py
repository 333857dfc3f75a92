"""The files of a generated project as ``garnet-hls estimate`` reads them (no hls4ml, no TensorFlow):
``garnet_project.json``, ``hls4ml_config.yml`` (regular expressions), ``firmware/parameters.h`` (the config
structs), ``firmware/defines.h``, the top function (its pragma, the kernel and layer calls, the pragmas
that make each table logic or a replicated ROM) and the heads of the table headers."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError, require_dir
from garnet_hls.core.fixed import FixedType, parse_type

@dataclass
class Table:
    name: str
    depth: int
    width: int
    impl: str = "rom"  # "rom" (2 ports), "logic" (partitioned completely: a copy per read), "rom_np" (replicated)


# The kernels' functions: GarNet's vertex passes (firmware/garnet.h) and GravNet's layer.
GARNET_PASSES = ("garnet_in", "garnet_agg", "garnet_mid", "garnet_out", "garnet_out_collapse")
GRAVNET_PASSES = ("gravnet_in", "gravnet_query")
KERNEL_FUNCS = GARNET_PASSES + GRAVNET_PASSES
# table arguments of each kernel function: positions counted from the end of the argument list
_TABLE_ARGS = {"garnet_in": {"exp": -1}, "garnet_agg": {"recip": -2}, "garnet_mid": {"exp": -1, "tanh": -10},
               "garnet_out": {"tanh": -2}, "garnet_out_collapse": {"recip": -3, "tanh": -2},
               "gravnet_query": {"exp": -4, "recip": -3, "tanh": -2}}


# ------------------------------------------------------------------------------------------------
# Project files
# ------------------------------------------------------------------------------------------------


@dataclass
class Struct:
    name: str
    layer: str | None
    base: str | None
    consts: dict[str, Any]
    types: dict[str, str]


@dataclass
class Call:
    ns: str
    func: str
    targs: list[str]
    args: list[str]
    comment: str | None
    line: int


@dataclass
class Project:
    path: Path
    name: str
    meta: dict[str, Any]
    part: str
    clock_ns: float
    uncertainty_ns: float | None
    io_type: str
    top_pragma: str  # "pipeline", "dataflow" or "none"
    top_ii: int
    structs: dict[str, Struct]
    typedefs: dict[str, str]
    calls: list[Call]
    tables: dict[str, Table]


_STRUCT_RE = re.compile(r"^struct\s+(\w+)\s*(?::\s*([\w:]+))?\s*\{", re.M)
_CONST_RE = re.compile(r"static\s+(?:const|constexpr)\s+[\w:<>]+\s+(\w+)\s*=\s*([^;]+);")
_TYPEDEF_RE = re.compile(r"typedef\s+(.+?)\s+(\w+)\s*;")
_CALL_RE = re.compile(r"(garnet_hls|nnet)::(\w+)\s*<(.*?)>\s*\((.*?)\)\s*;[ \t]*(?://[ \t]*(\S+))?")
_ARRAY_RE = re.compile(r"^\s*(\w+)\s+(\w+)\s*\[\s*(\d+)\s*\]", re.M)


def _value(text: str) -> Any:
    t = text.strip()
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t)
    except ValueError:
        try:
            return float(t)
        except ValueError:
            return t


def _split_targs(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_parameters(text: str) -> dict[str, Struct]:
    structs: dict[str, Struct] = {}
    pos = 0
    comment: str | None = None
    for m in _STRUCT_RE.finditer(text):
        # the layer comment ("// name") closest before this struct, outside other structs
        segment = text[pos:m.start()]
        for line in segment.splitlines():
            s = line.strip()
            if s.startswith("//") and "hls-fpga-machine-learning" not in s:
                words = s[2:].split()
                if len(words) == 1:
                    comment = words[0]
        end = text.find("\n};", m.end())
        body = text[m.end(): end if end >= 0 else len(text)]
        consts = {k: _value(v) for k, v in _CONST_RE.findall(body)}
        types = {n: t.strip() for t, n in _TYPEDEF_RE.findall(body)}
        structs[m.group(1)] = Struct(m.group(1), comment, m.group(2), consts, types)
        pos = end if end >= 0 else m.end()
    return structs


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None


def _yaml_scalar(text: str, key: str) -> str | None:
    m = re.search(rf"^{key}:[ \t]*(\S[^\n]*)$", text, re.M)
    if not m:
        return None
    v = m.group(1).strip().strip("'\"")
    return None if v in ("null", "~", "") else v


def load_project(project_dir: str | Path) -> Project:
    """Read the files of a garnet-hls project (no hls4ml, no TensorFlow)."""
    path = Path(project_dir)
    require_dir(path, "garnet-hls project directory")
    meta_file = path / "garnet_project.json"
    if not meta_file.is_file():
        raise UserError(f"{path} is not a garnet-hls project (no garnet_project.json; make one with garnet-hls convert)")
    try:
        meta = json.loads(_read(meta_file))
    except json.JSONDecodeError as e:
        raise UserError(f"{meta_file} is not valid JSON: {e}") from None
    name = meta.get("project_name") or "myproject"
    fw = path / "firmware"
    for f in (fw / "parameters.h", fw / f"{name}.cpp"):
        if not f.is_file():
            raise UserError(f"{path} is not a complete garnet-hls project: {f.relative_to(path)} is missing")
    cfg_file = path / "hls4ml_config.yml"
    if not cfg_file.is_file():
        raise UserError(f"{path} is not a complete garnet-hls project: hls4ml_config.yml (which names the part and "
                        "clock) is missing")
    cfg_text = _read(cfg_file)
    part = _yaml_scalar(cfg_text, "Part") or _yaml_scalar(cfg_text, "XilinxPart")
    if not part:
        raise UserError(f"{cfg_file} names no Part: the estimate depends on the device; convert again with a Part")
    try:
        clock = float(_yaml_scalar(cfg_text, "ClockPeriod") or 5)
    except ValueError:
        raise UserError(f"{path / 'hls4ml_config.yml'}: ClockPeriod is not a number") from None
    if not (math.isfinite(clock) and clock > 0):
        raise UserError(f"{path / 'hls4ml_config.yml'}: ClockPeriod must be a positive number of ns, got {clock}")
    unc_text = _yaml_scalar(cfg_text, "ClockUncertainty")
    unc = None
    if unc_text:
        try:
            unc = clock * float(unc_text[:-1]) / 100 if unc_text.endswith("%") else float(unc_text)
        except ValueError:
            unc = float("nan")
        if not (math.isfinite(unc) and 0 <= unc < clock):
            raise UserError(f"{path / 'hls4ml_config.yml'}: ClockUncertainty {unc_text!r} is not a time below the "
                            f"clock period (ns or a percentage like '12.5%')")
    io_type = _yaml_scalar(cfg_text, "IOType") or "io_parallel"

    structs = parse_parameters(_read(fw / "parameters.h"))
    typedefs: dict[str, str] = {}
    if (fw / "defines.h").is_file():
        typedefs = {n: t.strip() for t, n in _TYPEDEF_RE.findall(_read(fw / "defines.h"))}

    top = _read(fw / f"{name}.cpp")
    body_start = top.find("insert layers")
    head = top[:body_start] if body_start >= 0 else top
    head_code = re.sub(r"#ifndef __SYNTHESIS__.*?#endif", "", head, flags=re.S)
    pm = re.search(r"#pragma\s+HLS\s+PIPELINE(?:\s+II\s*=\s*(\d+))?", head_code, re.I)
    if re.search(r"#pragma\s+HLS\s+DATAFLOW", head_code, re.I):
        top_pragma, top_ii = "dataflow", 1
    elif pm:
        top_pragma, top_ii = "pipeline", int(pm.group(1) or 1)
    else:
        top_pragma, top_ii = "none", 1
    code = re.sub(r"#ifndef __SYNTHESIS__.*?#endif", "", top[body_start:] if body_start >= 0 else top, flags=re.S)
    calls = []
    for m in _CALL_RE.finditer(code):
        if m.group(2) in ("save_layer_output", "load_weights_from_txt"):
            continue
        calls.append(Call(m.group(1), m.group(2), _split_targs(m.group(3)),
                          [a.strip() for a in m.group(4).split(",")], m.group(5), code.count("\n", 0, m.start())))
    tables = {}
    wdir = fw / "weights"
    for call in calls:
        for arg in _kernel_tables(call).values():
            if arg not in tables:
                tables[arg] = _table_shape(wdir / f"{arg}.h", arg, typedefs)
    # how the top function builds each table (garnet_hls.backends.hls.common.table_pragmas)
    for tname, t in tables.items():
        n = re.escape(tname)
        if re.search(rf"#pragma\s+HLS\s+ARRAY_PARTITION\s+variable\s*=\s*{n}\s+complete", code, re.I):
            t.impl = "logic"
        elif re.search(rf"#pragma\s+HLS\s+(RESOURCE\s+variable\s*=\s*{n}\s+core\s*=\s*ROM_nP|"
                       rf"BIND_STORAGE\s+variable\s*=\s*{n}\s+type\s*=\s*rom_np)", code, re.I):
            t.impl = "rom_np"
    return Project(path, name, meta, part, clock, unc, io_type, top_pragma, top_ii, structs, typedefs, calls, tables)


def _table_shape(header: Path, name: str, typedefs: dict[str, str]) -> Table:
    """Depth and width of a table from the head of its weights header (only the first lines are read)."""
    depth, width = 0, 0
    try:
        with header.open(errors="replace") as fh:
            head = fh.read(2048)
    except OSError:
        return Table(name, 0, 0)
    m = re.search(rf"^\s*(\w+)\s+{re.escape(name)}\s*\[\s*(\d+)\s*\]", head, re.M)
    if m:
        depth = int(m.group(2))
        t = parse_type(typedefs.get(m.group(1), m.group(1)))
        width = t.width if t else 0
    return Table(name, depth, width)


# ------------------------------------------------------------------------------------------------
# Type resolution
# ------------------------------------------------------------------------------------------------


class _Types:
    def __init__(self, prj: Project):
        self.prj = prj

    def resolve(self, name: str | None, struct: Struct | None = None, _depth: int = 0) -> FixedType | None:
        if name is None or _depth > 8:
            return None
        t = parse_type(name)
        if t is not None:
            return t
        if "::" in name:
            sname, _, member = name.rpartition("::")
            s = self.prj.structs.get(sname.split("::")[-1])
            if s and member in s.types:
                return self.resolve(s.types[member], s, _depth + 1)
        if struct is not None and name in struct.types:
            return self.resolve(struct.types[name], struct, _depth + 1)
        if name in self.prj.typedefs:
            return self.resolve(self.prj.typedefs[name], None, _depth + 1)
        return None

    def member(self, struct: Struct, member: str, default: FixedType | None = None) -> FixedType:
        t = self.resolve(struct.types.get(member), struct)
        if t is None:
            if default is not None:
                return default
            return FixedType(16, 6, True)
        return t


def _kernel_tables(call: Call) -> dict[str, str]:
    """kind ("exp", "recip", "tanh") -> the table array a kernel call reads."""
    pos = _TABLE_ARGS.get(call.func, {})
    if len(call.args) < max([-p for p in pos.values()] + [0]):
        return {}
    return {kind: call.args[p] for kind, p in pos.items()}

