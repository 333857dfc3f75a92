"""``garnet-hls estimate PROJECT``: latency, interval and DSP / LUT / FF / BRAM of a generated project,
without any vendor tool. Every number here is an ESTIMATE, not a synthesis result.

The estimate is derived from the files of the generated project only (``garnet_project.json``,
``hls4ml_config.yml``, ``firmware/parameters.h``, ``firmware/defines.h``, ``firmware/<top>.cpp``): loop
structure of our kernels (``firmware/garnet.h``, ``firmware/gravnet.h``, ``graph_collapse``), reuse
factors, the top function's pipeline pragma and the widths of every type. It imports neither hls4ml nor
TensorFlow and runs in milliseconds. The model, its assumptions and its measured error against every
real report we have are in ``docs/estimate.md``; :func:`calibration_table` recomputes that comparison.

Model in brief (numbers per family in :data:`FAMILIES`):

* A multiplication goes to DSP blocks when both operands are wider than :data:`LUT_MULT_MAX_BITS` bits
  (one DSP48 for <= 27x18 / 25x18 signed, more for wider operands), else to LUTs. Multiplying by a power
  of two is free.
* Latency of a pipelined region = (trip count - 1) x II + depth, where depth counts multiplier pipeline
  stages and adder-tree levels per clock (family dependent), table reads 1 cycle. II is 1 unless a
  table (a ROM with 2 ports, indexed by data) is read more than twice per iteration. When II > 1 the
  operators are shared over the II cycles.
* A top function with ``#pragma HLS PIPELINE`` (hls4ml's io_parallel default) unrolls every loop below
  it, our kernels' reuse-factor loops included: the kernels are then estimated fully unrolled.
* LUT = adders (1 LUT per bit), comparators, muxes, LUT multipliers (~0.25 w_a w_b for constant,
  ~0.5 w_a w_b for variable operands); FF = (family factor) x sum of operator output bits + storage.
  BRAM = ROM tables larger than 1 kbit, counted in 18 Kb blocks by aspect ratio.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from garnet_hls.errors import UserError

BANNER = "ESTIMATE — not a synthesis result"
MODEL_NAME = "garnet-hls structural estimate, model 1 (docs/estimate.md)"

# A multiplication whose narrower operand has at most this many bits is built from LUTs.
LUT_MULT_MAX_BITS = 10
# Ports of a ROM inferred from an array that is indexed by data (BRAM or LUT ROM, rom_2p).
TABLE_PORTS = 2
# ROMs of at most this many bits are LUT ROMs, bigger ones block RAM.
ROM_LUT_MAX_BITS = 1024
# 18 Kb block RAM aspect ratios (depth, width).
_BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))

# Per device family, for a clock of REFERENCE_CLOCK_NS (scaled with the effective clock period):
#   mul_stages      pipeline stages HLS gives a multiplier
#   adds_per_cycle  adder-tree levels chained in one clock
#   ff_per_op_bit   flip-flops per bit of operator output (pipeline registers), fitted per family
#   act_cycles      latency of an elementwise activation (relu, linear)
#   dsp_a, dsp_b    signed multiplier ports of one DSP block
# 7-series and UltraScale+ values are fitted to the calibration points (docs/estimate.md); UltraScale
# (no report available) is interpolated between them and is uncalibrated.
REFERENCE_CLOCK_NS = 5.0 * (1 - 0.125)
FAMILIES = {
    "7series": dict(mul_stages=3, adds_per_cycle=2, ff_per_op_bit=3.0, act_cycles=1, dsp_a=25, dsp_b=18,
                    dsp_name="DSP48E1", calibrated=True),
    "ultrascale": dict(mul_stages=2, adds_per_cycle=3, ff_per_op_bit=0.55, act_cycles=0, dsp_a=27, dsp_b=18,
                       dsp_name="DSP48E2", calibrated=False),
    "ultrascale+": dict(mul_stages=1, adds_per_cycle=4, ff_per_op_bit=0.09, act_cycles=0, dsp_a=27, dsp_b=18,
                        dsp_name="DSP48E2", calibrated=True),
}

KERNEL_KINDS = ("GarNet", "GarNetStack", "GravNet")


# ------------------------------------------------------------------------------------------------
# Types
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int
    signed: bool

    @property
    def fractional(self) -> int:
        return self.width - self.integer


_AP_RE = re.compile(r"^(?:nnet::|garnet_hls::)?(ap_fixed|ap_ufixed|ap_int|ap_uint|fixed_code)\s*<\s*([^>]*)>")


def parse_type(text: str | None) -> FixedType | None:
    """ap_fixed<W,I,...> / ap_ufixed / ap_int<W> / ap_uint<W> / garnet_hls::fixed_code<W,I,S> / bool."""
    if text is None:
        return None
    s = text.strip()
    if s == "bool":
        return FixedType(1, 1, False)
    m = _AP_RE.match(s)
    if not m:
        return None
    kind, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
    try:
        w = int(args[0])
        if kind in ("ap_int", "ap_uint"):
            return FixedType(w, w, kind == "ap_int")
        i = int(args[1])
        if kind == "fixed_code":
            return FixedType(w, i, args[2].strip() in ("true", "1"))
        return FixedType(w, i, kind == "ap_fixed")
    except (IndexError, ValueError):
        return None


def _signed_width(t: FixedType | int) -> int:
    """Bits of the operand as a signed multiplier input."""
    if isinstance(t, int):
        return t
    return t.width + (0 if t.signed else 1)


# ------------------------------------------------------------------------------------------------
# Device
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    part: str
    family: str
    clock_ns: float
    uncertainty_ns: float
    mul_stages: int
    adds_per_cycle: int
    ff_per_op_bit: float
    act_cycles: int
    dsp_a: int
    dsp_b: int
    dsp_name: str
    calibrated: bool

    @property
    def effective_ns(self) -> float:
        return self.clock_ns - self.uncertainty_ns

    def add_cycles(self, levels: int) -> int:
        """Cycles of `levels` chained adder levels."""
        return 0 if levels <= 0 else math.ceil(levels / self.adds_per_cycle)


def family_of(part: str) -> str:
    """7series / ultrascale / ultrascale+ of a Xilinx part name; UserError for a part the estimator does not know."""
    p = str(part).lower().strip()
    if p.startswith(("xa", "xq")):  # automotive / defence grades of the same devices
        p = "xc" + p[2:]
    if p.startswith("xc7"):
        return "7series"
    if p.startswith(("xczu", "xcu", "xck2", "xcv")) and not re.match(r"xcvu\d+$", p.split("-")[0]):
        return "ultrascale+"  # Zynq US+, Alveo, Kria, Versal (treated as US+)
    if re.match(r"xc(ku|vu)\d+p", p):
        return "ultrascale+"
    if p.startswith(("xcku", "xcvu")):
        return "ultrascale"
    raise UserError(f"part {part!r} is unknown to the estimator: it knows Xilinx 7-series (xc7...), UltraScale "
                    "(xcku..., xcvu...) and UltraScale+ (xczu..., xcku...p, xcvu...p, xcu..., xck26, Versal xcv...) parts")


def device_for(part: str, clock_ns: float, uncertainty_ns: float | None = None) -> Device:
    fam = family_of(part)
    f = FAMILIES[fam]
    unc = clock_ns * 0.125 if uncertainty_ns is None else uncertainty_ns
    scale = max(clock_ns - unc, 0.1) / REFERENCE_CLOCK_NS
    return Device(
        part=part, family=fam, clock_ns=clock_ns, uncertainty_ns=unc,
        mul_stages=max(1, math.ceil(f["mul_stages"] / scale - 1e-9)),
        adds_per_cycle=max(1, int(f["adds_per_cycle"] * scale + 1e-9)),
        ff_per_op_bit=f["ff_per_op_bit"], act_cycles=f["act_cycles"],
        dsp_a=f["dsp_a"], dsp_b=f["dsp_b"], dsp_name=f["dsp_name"], calibrated=f["calibrated"],
    )


def _levels(terms: int) -> int:
    """Adder-tree levels to sum `terms` values."""
    return 0 if terms <= 1 else math.ceil(math.log2(terms))


def dsp_per_mult(a: FixedType | int, b: FixedType | int, dev: Device, const_power_of_two: bool = False) -> int:
    """DSP blocks of one multiplier (0: built from LUTs)."""
    if const_power_of_two:
        return 0
    if min(_bits(a), _bits(b)) <= LUT_MULT_MAX_BITS:
        return 0
    lo, hi = sorted((_signed_width(a), _signed_width(b)))

    def pieces(w: int, port: int) -> int:
        return 1 if w <= port else 1 + math.ceil((w - port) / (port - 1))

    return min(pieces(hi, dev.dsp_a) * pieces(lo, dev.dsp_b), pieces(lo, dev.dsp_a) * pieces(hi, dev.dsp_b))


def _bits(t: FixedType | int) -> int:
    return t if isinstance(t, int) else t.width


def rom_bram18(depth: int, width: int) -> int:
    """18 Kb blocks of a ROM (0: LUT ROM)."""
    if depth * width <= ROM_LUT_MAX_BITS:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in _BRAM18_SHAPES)


def rom_lut(depth: int, width: int) -> int:
    """LUTs of a LUT ROM (64 entries x 1 bit per LUT6)."""
    return math.ceil(depth / 64) * width if depth * width <= ROM_LUT_MAX_BITS else 0


def _mux_lut(ways: int, width: int) -> int:
    """LUT6 of a ways:1 multiplexer of `width` bits (a LUT6 is a 4:1 mux, a tree adds one per 3 ways)."""
    return 0 if ways <= 1 else width * math.ceil((ways - 1) / 3)


# ------------------------------------------------------------------------------------------------
# Operator inventory of a pipelined region
# ------------------------------------------------------------------------------------------------


@dataclass
class Ops:
    """Operators of one pipelined region per iteration (what HLS instantiates when II = 1)."""

    mults: list[tuple[int, int, int, int]] = field(default_factory=list)  # (count, dsp each, lut each, out bits)
    adds: list[tuple[int, int]] = field(default_factory=list)  # (count, bits): adders, subtractors
    logic: list[tuple[int, int]] = field(default_factory=list)  # (count, lut each): compares, muxes, rounding
    logic_bits: int = 0  # output bits of the logic above (for the FF model)
    n_mult: int = 0  # multiplications (for reports)
    n_dsp_mult: int = 0

    def mul(self, n: int, a: FixedType | int, b: FixedType | int, dev: Device, const: bool = False,
            power_of_two: bool = False, out_bits: int | None = None) -> None:
        if n <= 0:
            return
        d = dsp_per_mult(a, b, dev, power_of_two)
        wa, wb = _bits(a), _bits(b)
        out = out_bits or (wa + wb)
        if power_of_two:
            lut = 0
        elif d:
            lut = math.ceil(0.5 * (wa + wb))  # alignment / sign extension around the DSP
        else:
            lut = math.ceil((0.25 if const else 0.5) * wa * wb)
        self.mults.append((n, d, lut, out))
        self.n_mult += n
        if d:
            self.n_dsp_mult += n

    def add(self, n: int, bits: int) -> None:
        if n > 0:
            self.adds.append((n, bits))

    def cmp_mux(self, n: int, bits: int) -> None:
        """Compare two `bits`-wide values and select one (max, relu, compare-exchange half)."""
        if n > 0:
            self.logic.append((n, math.ceil(bits / 2) + math.ceil(bits / 2)))
            self.logic_bits += n * bits

    def mux(self, n: int, bits: int, ways: int = 2) -> None:
        if n > 0 and ways > 1:
            self.logic.append((n, _mux_lut(ways, bits) if ways > 2 else math.ceil(bits / 2)))
            self.logic_bits += n * bits

    def rnd(self, n: int, bits: int) -> None:
        """Round half to even and saturate to `bits` (an increment and a clamp)."""
        if n > 0:
            self.logic.append((n, math.ceil(1.5 * bits)))
            self.logic_bits += n * bits

    def resources(self, share: int, dev: Device) -> tuple[int, int, int]:
        """(DSP, LUT, FF) when every operator is shared over `share` cycles (II)."""
        share = max(1, share)
        dsp = lut = opbits = 0
        for n, d, lu, out in self.mults:
            k = math.ceil(n / share)
            dsp += k * d
            lut += k * lu
            opbits += k * out
        for n, bits in self.adds:
            k = math.ceil(n / share)
            lut += k * bits
            opbits += k * bits
        for n, lu in self.logic:
            lut += math.ceil(n / share) * lu
        opbits += math.ceil(self.logic_bits / share)
        return dsp, lut, round(dev.ff_per_op_bit * opbits)


@dataclass
class Region:
    """A pipelined loop (iterations > 1) or a straight-line block (iterations == 1) of a kernel."""

    name: str
    iterations: int
    depth: int  # cycles of one iteration
    ops: Ops
    reads: dict[str, int] = field(default_factory=dict)  # table -> reads per iteration
    mux_lut: int = 0  # variable-index array access (not shareable)
    reg_bits: int = 0  # storage registers (partitioned arrays)


@dataclass
class Table:
    name: str
    depth: int
    width: int


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
    if not path.exists():
        raise UserError(f"no such project directory: {path}")
    if not path.is_dir():
        raise UserError(f"not a directory: {path}")
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
        if call.func in ("garnet_block", "gravnet_layer"):
            for arg in call.args[-3:]:
                if arg not in tables:
                    tables[arg] = _table_shape(wdir / f"{arg}.h", arg, typedefs)
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


def _recip_constant_is_power_of_two(n: int, recip: FixedType) -> bool:
    """Is Q(1/n) in `recip`'s format a power of two (so multiplying by it is a shift)?"""
    if n <= 0:
        return True
    code = round((1.0 / n) * (1 << recip.fractional))
    return code > 0 and (code & (code - 1)) == 0


# ------------------------------------------------------------------------------------------------
# Kernel models
# ------------------------------------------------------------------------------------------------


def garnet_regions(s: Struct, ty: _Types, dev: Device, reuse: int | None = None,
                   tables: tuple[str, str, str] = ("exp_table", "recip_table", "tanh_table")) -> list[Region]:
    """Regions of one garnet_block call (firmware/garnet.h) with reuse factor `reuse` (default: the
    config's) as the trip count of VertexIn / VertexOut."""
    c = s.consts
    V, F, A, P = c["n_vertices"], c["n_in"], c["n_aggregators"], c["n_propagate"]
    G, H, FO = c.get("n_g", P), c.get("n_h", P), c["n_out"]
    R = reuse or c.get("reuse_factor", 1)
    VR = max(1, V // R)
    simplified = bool(c.get("simplified", True))
    act = c.get("activation", 0)
    t_in, t_k = ty.member(s, "input_t"), ty.member(s, "kernel_t")
    t_da, t_d, t_ew = ty.member(s, "dense_accum_t"), ty.member(s, "distance_t"), ty.member(s, "edge_weight_t")
    t_f, t_g = ty.member(s, "feature_t"), ty.member(s, "g_t")
    t_ap, t_as = ty.member(s, "agg_prod_t"), ty.member(s, "agg_sum_t")
    t_rc, t_ag, t_hw = ty.member(s, "recip_t"), ty.member(s, "aggregate_t"), ty.member(s, "hw_t")
    t_pre, t_out = ty.member(s, "pre_t"), ty.member(s, "output_t")
    exp_t, recip_t, tanh_t = tables
    ms = dev.mul_stages

    # Pass 1 (VertexIn): VR vertices per iteration.
    o1 = Ops()
    o1.mul(VR * F * (A + P), t_in, t_k, dev, const=True, out_bits=t_da.width)
    o1.add(VR * F * (A + P), t_da.width)
    o1.rnd(VR * A, t_d.width)
    o1.rnd(VR * P, t_f.width)
    o1.mux(VR * A, t_ew.width)  # valid ? table : 0
    o1.mul(VR * A * G, t_ew, t_g, dev, out_bits=t_ap.width)
    o1.add(VR * A * G, t_as.width)
    if not simplified:
        o1.cmp_mux(VR * A * G, t_ap.width)
    depth1 = (ms + dev.add_cycles(_levels(F + 1) + 1)  # dense + rounding
              + 1  # table read (registered ROM)
              + ms + dev.add_cycles(_levels(VR + 1)))  # w g, accumulate VR vertices into sum
    mux1 = _mux_lut(R, VR * F * t_in.width)  # x[v] with v = iu R + ir
    regs = V * A * t_ew.width + V * G * t_g.width + A * G * (t_as.width + (0 if simplified else t_ap.width))
    r1 = Region("VertexIn", R, depth1, o1, {exp_t: VR * A}, mux1, regs)

    # Aggregators (once): mean (x 1/N), h . W_O.
    mean_by_nvert = bool(c.get("mean_by_nvert", False))
    oa = Ops()
    shift = (not mean_by_nvert) and _recip_constant_is_power_of_two(V, t_rc)
    oa.mul(A * G, t_as, t_rc, dev, const=not mean_by_nvert, power_of_two=shift, out_bits=t_as.width + t_rc.width)
    oa.rnd(A * G * (1 if simplified else 2), t_ag.width)
    oa.mul(A * FO * H, t_ag, t_k, dev, const=True, out_bits=t_hw.width)
    oa.add(A * FO * H, t_hw.width)
    deptha = (0 if shift else ms) + dev.add_cycles(1) + ms + dev.add_cycles(_levels(H))
    ra = Region("Aggregators", 1, deptha, oa, {recip_t: 1} if mean_by_nvert else {}, 0, A * FO * t_hw.width)

    # Pass 2 (VertexOut).
    o2 = Ops()
    o2.mul(VR * FO * A, t_ew, t_hw, dev, out_bits=t_pre.width)
    terms = A + 1
    if not simplified:
        o2.mul(VR * FO * F, t_in, t_k, dev, const=True, out_bits=t_pre.width)
        o2.mul(VR * FO * A, t_ew, t_k, dev, const=True, out_bits=t_pre.width)
        terms += F + A
    o2.add(VR * FO * (terms - 1), t_pre.width)
    reads2 = {}
    if act == 1:
        o2.cmp_mux(VR * FO, t_out.width)
        act_depth = 1
    elif act == 2:
        o2.rnd(VR * FO, ty.member(s, "preact_t").width)
        reads2[tanh_t] = VR * FO
        act_depth = 2
    else:
        o2.rnd(VR * FO, t_out.width)
        act_depth = 1
    o2.mux(VR * FO, t_out.width)  # valid ? y : 0
    depth2 = ms + dev.add_cycles(_levels(terms)) + act_depth
    mux2 = _mux_lut(R, VR * A * t_ew.width + (0 if simplified else VR * F * t_in.width))
    r2 = Region("VertexOut", R, depth2, o2, reads2, mux2, V * FO * t_out.width)
    return [r1, ra, r2]


def collapse_regions(s: Struct, ty: _Types, dev: Device, unrolled: bool, in_type: FixedType | None,
                     recip_table: str = "recip_table") -> list[Region]:
    """graph_collapse (garnet_common.h): mean / sum / max over the V rows of every output filter."""
    c = s.consts
    V, FO, kind = c["n_vertices"], c["n_out"], c.get("collapse", 1)
    t_y = in_type or FixedType(16, 6, True)
    t_s, t_rc = ty.member(s, "collapse_sum_t"), ty.member(s, "recip_t")
    mean_by_nvert = bool(c.get("mean_by_nvert", False))
    o = Ops()
    reads = {}
    if kind == 3:
        o.cmp_mux(FO * (V - 1), t_y.width)
        o.mux(FO, t_y.width)
        per_item = 1
    else:
        o.add(FO * V, t_s.width)
        per_item = 1
        if kind == 1:
            shift = (not mean_by_nvert) and _recip_constant_is_power_of_two(V, t_rc)
            o.mul(FO, t_s, t_rc, dev, const=not mean_by_nvert, power_of_two=shift)
            if mean_by_nvert:
                reads[recip_table] = 1
    if unrolled:
        depth = dev.add_cycles(_levels(V)) + (dev.mul_stages if kind == 1 else 0) + 1
        return [Region("Collapse", 1, depth, o, reads)]
    # CollapseSum / CollapseMax are rolled loops (no pragma): V iterations of one add (or compare)
    # per filter, reading y[v * FO + o] through a V:1 mux.
    o_it = Ops()
    if kind == 3:
        o_it.cmp_mux(FO, t_y.width)
    else:
        o_it.add(FO, t_s.width)
        if kind == 1:
            o_it.mul(FO, t_s, t_rc, dev, const=not mean_by_nvert,
                     power_of_two=(not mean_by_nvert) and _recip_constant_is_power_of_two(V, t_rc))
    return [Region("Collapse", V, per_item, o_it, reads, _mux_lut(V, FO * t_y.width), FO * t_s.width)]


def topk_network(n_pad: int, n_block: int, log_block: int, n_levels: int, sort_final: bool) -> tuple[int, int]:
    """(comparators, stages) of the GravNet selection network of one query vertex (gravnet.h), from the
    shape read from the project's config."""
    from garnet_hls.topk import network_cost

    return network_cost(n_pad, n_block, log_block, n_levels, sort_final)


def gravnet_regions(s: Struct, ty: _Types, dev: Device, reuse: int | None = None,
                    tables: tuple[str, str, str] = ("exp_table", "recip_table", "tanh_table")) -> list[Region]:
    """Regions of one gravnet_layer call (firmware/gravnet.h)."""
    c = s.consts
    V, F, S, P = c["n_vertices"], c["n_in"], c.get("n_dimensions", 4), c["n_propagate"]
    k, FO = c.get("n_neighbours", 8), c["n_out"]
    N = c.get("n_pad", 1 << max(0, (V - 1).bit_length()))
    K = c.get("n_block", 1 << max(0, (k - 1).bit_length()))
    LK = c.get("log_block", max(0, (K - 1).bit_length()))
    L = c.get("n_levels", max(0, (N // max(1, K) - 1).bit_length()))
    IB = c.get("index_bits", max(1, (N - 1).bit_length()))
    R = reuse or c.get("reuse_factor", 1)
    VR = max(1, V // R)
    l1 = bool(c.get("l1", False))
    act = c.get("activation", 0)
    exp_t, _, tanh_t = tables
    ms = dev.mul_stages

    def code(n: str, default: FixedType) -> FixedType:
        return ty.member(s, n, default)

    t_x = code("input_c", ty.member(s, "input_t"))
    t_k = code("kernel_c", ty.member(s, "kernel_t"))
    t_da = code("dense_accum_c", FixedType(27, 10, True))
    t_co = code("coord_c", FixedType(12, 4, True))
    t_fe = code("feature_c", FixedType(16, 6, True))
    t_df = code("diff_c", FixedType(t_co.width + 1, t_co.integer + 1, True))
    t_ds = code("dist_sum_c", FixedType(2 * t_df.width, 2 * t_df.integer, False))
    t_di = code("distance_c", FixedType(12, 4, False))
    t_ew = code("edge_weight_c", FixedType(10, 1, False))
    t_ap = code("agg_prod_c", FixedType(t_ew.width + t_fe.width, 8, True))
    t_as = code("agg_sum_c", FixedType(t_ap.width + 4, 12, True))
    t_rc = code("recip_c", ty.member(s, "recip_t"))
    t_ag = code("aggregate_c", FixedType(16, 6, True))
    t_pre = code("pre_c", ty.member(s, "pre_t"))
    t_out = ty.member(s, "output_t")
    key_bits = t_di.width + IB + 1

    # Pass 1 (VertexIn): coordinates and features of VR vertices per iteration.
    o1 = Ops()
    o1.mul(VR * F * (S + P), t_x, t_k, dev, const=True, out_bits=t_da.width)
    o1.add(VR * F * (S + P), t_da.width)
    o1.rnd(VR * (S + P), max(t_co.width, t_fe.width))
    depth1 = ms + dev.add_cycles(_levels(F + 1) + 1)
    r1 = Region("VertexIn", R, depth1, o1, {}, _mux_lut(R, VR * F * t_x.width),
                V * (F * t_x.width + S * t_co.width + P * t_fe.width))

    # Pass 2 (Query): per query vertex: N distances, the selection network, k neighbours, output.
    comparators, stages = topk_network(N, K, LK, L, bool(c.get("sort_final", False)))
    o2 = Ops()
    o2.add(VR * N * S, t_df.width)  # s_i - s_j
    if l1:
        o2.mux(VR * N * S, t_df.width)  # |d|
    else:
        o2.mul(VR * N * S, t_df, t_df, dev, out_bits=t_ds.width)  # d^2
    o2.add(VR * N * (S - 1), t_ds.width)
    o2.rnd(VR * N, t_di.width)
    o2.mux(VR * N, key_bits)  # valid ? key : empty
    o2.cmp_mux(VR * comparators, key_bits)  # compare-exchange: a compare and two muxes
    o2.mux(VR * comparators, key_bits)
    o2.mux(VR * k * P, t_fe.width, ways=V)  # f[j][c] gathered with a data-dependent j
    o2.mul(VR * k * P, t_ew, t_fe, dev, out_bits=t_ap.width)
    o2.add(VR * k * P, t_as.width)
    o2.cmp_mux(VR * k * P, t_ap.width)
    shift = _recip_constant_is_power_of_two(k, t_rc)
    o2.mul(VR * P, t_as, t_rc, dev, const=True, power_of_two=shift)
    o2.rnd(VR * 2 * P, t_ag.width)
    o2.mul(VR * FO * F, t_x, t_k, dev, const=True, out_bits=t_pre.width)
    o2.mul(VR * FO * 2 * P, t_ag, t_k, dev, const=True, out_bits=t_pre.width)
    o2.add(VR * FO * (F + 2 * P), t_pre.width)
    reads2 = {exp_t: VR * k}
    if act == 1:
        o2.cmp_mux(VR * FO, t_out.width)
    elif act == 2:
        reads2[tanh_t] = VR * FO
    o2.rnd(VR * FO, t_out.width)
    cmp_per_cycle = max(1, dev.adds_per_cycle // 2)  # a compare-exchange is a compare and a mux
    depth2 = (dev.add_cycles(1) + (0 if l1 else ms) + dev.add_cycles(_levels(S) + 1)  # distances
              + math.ceil(stages / cmp_per_cycle)  # selection network
              + 1 + dev.add_cycles(math.ceil(math.log(max(V, 2), 4)))  # table read, gather mux
              + ms + dev.add_cycles(_levels(k))  # w f, sum over k
              + (0 if shift else ms) + dev.add_cycles(1)  # mean, rounding
              + ms + dev.add_cycles(_levels(F + 2 * P + 1)) + (2 if act == 2 else 1))  # output
    mux2 = _mux_lut(R, VR * (S * t_co.width + F * t_x.width))  # s[i], xh[i] with i = iu R + ir
    r2 = Region("Query", R, depth2, o2, reads2, mux2, V * FO * t_out.width)
    return [r1, r2]


# ------------------------------------------------------------------------------------------------
# hls4ml layers
# ------------------------------------------------------------------------------------------------

_ELEMENTWISE = {"relu", "linear", "leaky_relu", "thresholded_relu", "hard_sigmoid", "hard_tanh", "binary_tanh",
                "ternary_tanh", "prelu"}
_TABLE_ACTS = {"sigmoid", "tanh", "softmax", "softplus", "softsign", "elu", "selu"}


@dataclass
class LayerEstimate:
    name: str
    kind: str
    function: str
    reuse_factor: int | None
    latency: int
    interval: int
    dsp: int
    lut: int
    ff: int
    bram_18k: int
    multiplications: int = 0
    dsp_multiplications: int = 0
    regions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernel: bool = False
    modelled: bool = True

    def to_json(self, clock_ns: float) -> dict[str, Any]:
        return {
            "estimated_layer": self.name,
            "estimated_kind": self.kind,
            "estimated_functions": self.function,
            "estimated_reuse_factor": self.reuse_factor,
            "estimated_latency_cycles_min": self.latency,
            "estimated_latency_cycles_max": self.latency,
            "estimated_latency_ns_min": round(self.latency * clock_ns, 3),
            "estimated_latency_ns_max": round(self.latency * clock_ns, 3),
            "estimated_interval_cycles": self.interval,
            "estimated_dsp": self.dsp,
            "estimated_lut": self.lut,
            "estimated_ff": self.ff,
            "estimated_bram_18k": self.bram_18k,
            "estimated_multiplications": self.multiplications,
            "estimated_dsp_multiplications": self.dsp_multiplications,
            "estimated_regions": [{f"estimated_{k}": v for k, v in r.items()} for r in self.regions],
            "estimated_modelled": self.modelled,
            "estimated_notes": list(self.notes),
        }


def dense_estimate(n_in: int, n_out: int, reuse: int, t_in: FixedType, t_w: FixedType, t_acc: FixedType,
                   dev: Device, n_nonzeros: int | None = None, strategy: str = "latency") -> dict[str, int]:
    """hls4ml Dense (nnet_dense_latency.h / nnet_dense_resource.h), io_parallel.

    Multipliers in parallel: ceil(nonzero weights / R) (Latency; hls4ml's multiplier_limit), or
    ceil(n_in n_out / R) (Resource). Latency (R - 1) + multiplier stages + adder-tree levels; interval R.
    """
    n_mult = n_in * n_out if (n_nonzeros is None or strategy != "latency") else n_nonzeros
    per_out = max(1, math.ceil(n_mult / max(1, n_out)))
    o = Ops()
    o.mul(n_mult, t_in, t_w, dev, const=True, out_bits=t_acc.width)
    o.add(n_mult, t_acc.width)
    dsp, lut, ff = o.resources(reuse, dev)
    latency = (reuse - 1) + dev.mul_stages + dev.add_cycles(_levels(per_out + 1))
    if strategy != "latency":
        latency += 2  # weight-array reads and the accumulation loop of dense_resource
    return dict(latency=latency, interval=reuse, dsp=dsp, lut=lut, ff=ff, bram_18k=0,
                multiplications=n_mult, dsp_multiplications=o.n_dsp_mult)


# ------------------------------------------------------------------------------------------------
# Scheduling and totals
# ------------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    project: str
    part: str
    family: str
    family_calibrated: bool
    clock_ns: float
    top_pragma: str
    top_ii: int
    io_type: str
    layers: list[LayerEstimate]
    latency: int
    interval: int
    dsp: int
    lut: int
    ff: int
    bram_18k: int
    tables: list[dict[str, Any]]
    notes: list[str]
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "estimated_banner": BANNER,
            "estimated_model": MODEL_NAME,
            "estimated_project": self.project,
            "estimated_part": self.part,
            "estimated_device_family": self.family,
            "estimated_device_family_calibrated": self.family_calibrated,
            "estimated_clock_ns": self.clock_ns,
            "estimated_top_pragma": self.top_pragma,
            "estimated_top_ii": self.top_ii,
            "estimated_io_type": self.io_type,
            "estimated_latency_depends_on_nvtx": False,
            "estimated_layers": [l.to_json(self.clock_ns) for l in self.layers],
            "estimated_tables": [{f"estimated_{k}": v for k, v in t.items()} for t in self.tables],
            "estimated_total": {
                "estimated_latency_cycles_min": self.latency,
                "estimated_latency_cycles_max": self.latency,
                "estimated_latency_ns_min": round(self.latency * self.clock_ns, 3),
                "estimated_latency_ns_max": round(self.latency * self.clock_ns, 3),
                "estimated_interval_cycles": self.interval,
                "estimated_dsp": self.dsp,
                "estimated_lut": self.lut,
                "estimated_ff": self.ff,
                "estimated_bram_18k": self.bram_18k,
            },
            "estimated_notes": list(self.notes),
        }


def _reads_list(reads: dict[str, int]) -> list[dict[str, Any]]:
    return [dict(estimated_table=t, estimated_reads=n) for t, n in reads.items()]


def _schedule_regions(regions: list[Region], dev: Device, unrolled: bool, ports: int | None
                      ) -> tuple[int, int, int, int, int, dict[str, int], list[dict[str, Any]]]:
    """(latency, DSP, LUT, FF, II of the function, table reads per call, per-region details).

    Loops honoured: every region is a pipelined loop with its own II (table ports), its operators shared
    over that II. Unrolled (top pipelined): the function is one pipeline whose II is set by all its table
    reads; operators are shared over that II."""
    reads_total: dict[str, int] = {}
    for r in regions:
        for t, n in r.reads.items():
            reads_total[t] = reads_total.get(t, 0) + n * r.iterations
    details = []
    dsp = lut = ff = 0
    if unrolled:
        ii = max([1] + [math.ceil(n / ports) for n in reads_total.values()] if ports else [1])
        latency = sum(r.depth for r in regions) + (ii - 1)
        for r in regions:
            d, lu, f = r.ops.resources(ii, dev)
            dsp, lut, ff = dsp + d, lut + lu + r.mux_lut, ff + f + r.reg_bits
            details.append(dict(region=r.name, trip_count=r.iterations, ii=ii, depth_cycles=r.depth,
                                table_reads=_reads_list(r.reads), dsp=d, lut=lu + r.mux_lut, ff=f + r.reg_bits))
        return latency, dsp, lut, ff, ii, reads_total, details
    latency = 0
    for r in regions:
        ii = max([1] + ([math.ceil(n / ports) for n in r.reads.values()] if ports else []))
        # an iteration's table reads are spread over its II cycles; a pipelined loop adds one cycle
        lat = (r.iterations - 1) * ii + r.depth + (ii - 1) + (1 if r.iterations > 1 else 0)
        latency += lat
        d, lu, f = r.ops.resources(ii, dev)
        dsp, lut, ff = dsp + d, lut + lu + r.mux_lut, ff + f + r.reg_bits
        details.append(dict(region=r.name, trip_count=r.iterations, ii=ii, depth_cycles=r.depth,
                            latency_cycles=lat, table_reads=_reads_list(r.reads), dsp=d, lut=lu + r.mux_lut,
                            ff=f + r.reg_bits))
    return latency, dsp, lut, ff, 1, reads_total, details


def _kernel_tables(call: Call) -> tuple[str, str, str]:
    a = call.args
    return (a[-3], a[-2], a[-1]) if len(a) >= 3 else ("exp_table", "recip_table", "tanh_table")


def estimate_project(project_dir: str | Path, reuse: dict[str, int] | int | None = None,
                     loops: str = "auto", table_ports: int | None = TABLE_PORTS) -> Estimate:
    """Estimate a garnet-hls project from its files.

    reuse: override the reuse factor of the GarNet/GravNet layers (an int for all, or {layer: R}).
    loops: "auto" (from the top function's pragma: PIPELINE unrolls the kernels' loops), "honoured"
      (as under a DATAFLOW top: the kernels' reuse-factor loops are kept) or "unrolled".
    table_ports: read ports of a data-indexed table (None: unlimited, i.e. replicated tables).
    """
    t0 = time.perf_counter()
    prj = load_project(project_dir)
    dev = device_for(prj.part, prj.clock_ns, prj.uncertainty_ns)
    ty = _Types(prj)
    unrolled = prj.top_pragma == "pipeline" if loops == "auto" else loops == "unrolled"
    kinds = {n: (d or {}).get("type", "") for n, d in (prj.meta.get("layers") or {}).items()}
    notes: list[str] = []
    if prj.io_type != "io_parallel":
        notes.append(f"IOType is {prj.io_type}; the model is for io_parallel projects")

    layers: dict[str, LayerEstimate] = {}
    order: list[str] = []
    table_reads: dict[str, int] = {}
    table_users: dict[str, set[str]] = {}
    prev_out: FixedType | None = None
    kernel_count = 0

    def layer_of(call: Call, struct: Struct | None) -> LayerEstimate:
        name = (struct.layer if struct and struct.layer else None) or call.comment or call.func
        if name not in layers:
            layers[name] = LayerEstimate(name, kinds.get(name, call.func), call.func, None, 0, 1, 0, 0, 0, 0)
            order.append(name)
        le = layers[name]
        if call.func not in le.function.split("+"):
            le.function += "+" + call.func
        return le

    for call in prj.calls:
        cfg_name = call.targs[-1].split("::")[-1] if call.targs else ""
        s = prj.structs.get(cfg_name)
        le = layer_of(call, s)
        if s is None:
            le.modelled = False
            le.notes.append(f"{call.ns}::{call.func}: config {cfg_name!r} not found in parameters.h; not modelled")
            continue
        if call.func in ("garnet_block", "gravnet_layer"):
            kernel_count += 1
            le.kernel = True
            R0 = s.consts.get("reuse_factor", 1)
            V = s.consts["n_vertices"]
            R = reuse.get(le.name, R0) if isinstance(reuse, dict) else (reuse or R0)
            if V % R:
                raise UserError(f"reuse factor {R} does not divide n_vertices = {V} of layer {le.name}")
            le.reuse_factor = R
            tabs = _kernel_tables(call)
            if call.func == "garnet_block":
                regions = garnet_regions(s, ty, dev, 1 if unrolled else R, tabs)
            else:
                regions = gravnet_regions(s, ty, dev, 1 if unrolled else R, tabs)
            lat, dsp, lut, ff, ii, reads, details = _schedule_regions(regions, dev, unrolled, table_ports)
            for t, n in reads.items():
                table_reads[t] = table_reads.get(t, 0) + n
                table_users.setdefault(t, set()).add(le.name)
            le.latency += lat + (0 if unrolled else 1)  # + call handshake
            le.interval = max(le.interval, ii if unrolled else le.latency)
            le.dsp, le.lut, le.ff = le.dsp + dsp, le.lut + lut, le.ff + ff
            le.multiplications += sum(r.ops.n_mult * r.iterations for r in regions)
            le.dsp_multiplications += sum(r.ops.n_dsp_mult * r.iterations for r in regions)
            le.regions += [dict(call=cfg_name, **d) for d in details]
            if unrolled and ii > 1:
                reads_txt = ", ".join(f"{t}: {n}" for t, n in reads.items())
                le.notes.append(f"{cfg_name}: II {ii} set by table ports ({reads_txt} reads per call, "
                                f"{table_ports} ports); operators shared over the II")
            for d in ([] if unrolled else details):
                if d["ii"] > 1:
                    reads_txt = ", ".join(f"{t['estimated_table']}: {t['estimated_reads']}" for t in d["table_reads"])
                    le.notes.append(f"{cfg_name} {d['region']}: II {d['ii']} set by table ports ({reads_txt} reads "
                                    f"per iteration, {table_ports} ports)")
            prev_out = ty.member(s, "output_t")
        elif call.func == "graph_collapse":
            in_t = ty.resolve(call.targs[0]) if call.targs else prev_out
            regions = collapse_regions(s, ty, dev, unrolled, in_t, call.args[-1] if call.args else "recip_table")
            lat, dsp, lut, ff, ii, reads, details = _schedule_regions(regions, dev, unrolled, table_ports)
            for t, n in reads.items():
                table_reads[t] = table_reads.get(t, 0) + n
                table_users.setdefault(t, set()).add(le.name)
            le.latency += lat + (0 if unrolled else 1)
            le.interval = max(le.interval, ii if unrolled else le.latency)
            le.dsp, le.lut, le.ff = le.dsp + dsp, le.lut + lut, le.ff + ff
            le.multiplications += sum(r.ops.n_mult * r.iterations for r in regions)
            le.dsp_multiplications += sum(r.ops.n_dsp_mult * r.iterations for r in regions)
            le.regions += [dict(call=cfg_name, **d) for d in details]
        elif call.func == "dense":
            c = s.consts
            R = int(c.get("reuse_factor", 1))
            strategy = str(c.get("strategy", "nnet::latency")).split("::")[-1]
            t_in = ty.resolve(call.targs[0]) or FixedType(16, 6, True)
            t_w = ty.member(s, "weight_t")
            t_acc = ty.member(s, "accum_t")
            d = dense_estimate(c["n_in"], c["n_out"], R, t_in, t_w, t_acc, dev, c.get("n_nonzeros"), strategy)
            le.reuse_factor = R
            le.latency += d["latency"]
            le.interval = max(le.interval, d["interval"])
            le.dsp, le.lut, le.ff = le.dsp + d["dsp"], le.lut + d["lut"], le.ff + d["ff"]
            le.multiplications += d["multiplications"]
            le.dsp_multiplications += d["dsp_multiplications"]
            if c.get("store_weights_in_bram"):
                le.bram_18k += rom_bram18(c["n_in"] * c["n_out"] // max(1, R), t_w.width * R)
        elif call.func in _ELEMENTWISE or call.func in _TABLE_ACTS or call.func == "normalize":
            c = s.consts
            n = int(c.get("n_in", 1))
            t_in = ty.resolve(call.targs[0]) if call.targs else None
            t_out = ty.resolve(call.targs[1]) if len(call.targs) > 1 else None
            w = (t_out or t_in or FixedType(16, 6, True)).width
            o = Ops()
            reads = 0
            if call.func in _TABLE_ACTS:
                o.rnd(n, w)
                reads = n
                tab_t = ty.member(s, "table_t", FixedType(18, 8, True))
                size = int(c.get("table_size", c.get("exp_table_size", 1024)))
                le.bram_18k += rom_bram18(size, tab_t.width) * (2 if call.func == "softmax" else 1)
                le.lut += rom_lut(size, tab_t.width)
            elif call.func == "normalize":
                o.mul(n, t_in or FixedType(16, 6, True), ty.member(s, "scale_t"), dev, const=True)
                o.add(n, w)
            elif call.func == "leaky_relu":
                o.mul(n, t_in or FixedType(16, 6, True), FixedType(16, 6, True), dev, const=True)
                o.cmp_mux(n, w)
            elif call.func == "linear":
                o.rnd(n, w)
            else:
                o.cmp_mux(n, w)
            ii = max(1, math.ceil(reads / table_ports)) if (reads and table_ports) else 1
            dsp, lut, ff = o.resources(ii, dev)
            le.latency += max(dev.act_cycles, 1 if reads else 0) + (ii - 1)
            le.interval = max(le.interval, ii)
            le.dsp, le.lut, le.ff = le.dsp + dsp, le.lut + lut, le.ff + ff
            if ii > 1:
                le.notes.append(f"{call.func}: {reads} table reads per call on {table_ports} ports: II {ii}")
        else:
            le.modelled = False
            le.notes.append(f"{call.ns}::{call.func} is not modelled (counted as 0)")

    # Tables of our kernels (one ROM per distinct array in the top function).
    tables_out = []
    bram = 0
    lut_rom = 0
    for name, t in prj.tables.items():
        if t.depth <= 1 or name not in table_users:
            continue
        b = rom_bram18(t.depth, t.width)
        lr = rom_lut(t.depth, t.width)
        bram += b
        lut_rom += lr
        tables_out.append(dict(table=name, depth=t.depth, width=t.width, bram_18k=b, lut=lr,
                               reads_per_inference=table_reads.get(name, 0), layers=sorted(table_users[name])))
        users = sorted(table_users[name])
        share = max(1, len(users))
        for u in users:  # attribute the ROM to the layers that read it
            layers[u].bram_18k += b // share + (1 if users.index(u) < b % share else 0)
            layers[u].lut += lr // share

    est_layers = [layers[n] for n in order]
    io_cycles = 1  # ap_vld input/output registers of the top function
    latency = sum(l.latency for l in est_layers) + io_cycles
    if prj.top_pragma == "pipeline":
        interval = max([prj.top_ii] + [l.interval for l in est_layers])
        if table_ports:
            for name, n in table_reads.items():
                if len(table_users.get(name, ())) and n:
                    interval = max(interval, math.ceil(n / table_ports))
    elif prj.top_pragma == "dataflow":
        interval = max([1] + [max(l.interval, l.latency if l.kernel else l.interval) for l in est_layers])
    else:
        interval = latency + 1

    if kernel_count and unrolled and loops == "auto":
        notes.append(
            f"{prj.name}.cpp pipelines the top function (#pragma HLS PIPELINE): HLS unrolls every loop below a "
            "pipelined function (UG1399 'Function Pipelining'), so the GarNet/GravNet reuse-factor loops are "
            "estimated fully unrolled and the reuse factor does not reduce their resources. A DATAFLOW top "
            "(hls4ml PipelineStyle: dataflow) keeps them; see the --plot sweep")
    if any(t["reads_per_inference"] > (table_ports or 10**9) for t in tables_out):
        notes.append(
            "data-indexed tables are ROMs with %s read ports: their reads per iteration set the II of the kernel "
            "loops (shown per region); replicating the tables per vertex lane would remove this bound" % table_ports)
    if not dev.calibrated:
        notes.append(f"device family {dev.family} ({prj.part}) has no calibration report: its pipeline-stage and "
                     "FF factors are interpolated between 7-series and UltraScale+ (docs/estimate.md)")
    if kernel_count:
        notes.append("GarNet/GravNet kernel figures are structurally derived and uncalibrated against synthesis "
                     "(no synthesis report of these kernels exists)")
    notes.append("latency does not depend on nvtx: every loop of the kernels has static bounds and in hardware "
                 "padding vertices go through the same datapath, selected away by multiplexers, so minimum = maximum")
    est = Estimate(
        project=str(prj.path), part=prj.part, family=dev.family, family_calibrated=dev.calibrated,
        clock_ns=prj.clock_ns, top_pragma=prj.top_pragma + (f" II={prj.top_ii}" if prj.top_pragma == "pipeline" else ""),
        top_ii=prj.top_ii, io_type=prj.io_type, layers=est_layers, latency=latency, interval=interval,
        dsp=sum(l.dsp for l in est_layers), lut=sum(l.lut for l in est_layers), ff=sum(l.ff for l in est_layers),
        bram_18k=sum(l.bram_18k for l in est_layers), tables=tables_out, notes=notes,
    )
    est.seconds = time.perf_counter() - t0
    return est


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------


def _grid(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [fmt(headers), "  " + "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]


def format_estimate(est: Estimate) -> str:
    lines = [
        f"{BANNER}",
        f"  {MODEL_NAME}",
        f"  project {est.project}",
        f"  part {est.part} ({est.family}{'' if est.family_calibrated else ', uncalibrated family'}), "
        f"clock {est.clock_ns:g} ns, top {est.top_pragma}, {est.io_type}",
        "",
    ]
    headers = ["layer", "kind", "R", "est. latency [cycles]", "est. interval", "est. DSP", "est. LUT", "est. FF",
               "est. BRAM_18K"]
    rows = []
    for l in est.layers:
        rows.append([l.name, l.kind, "-" if l.reuse_factor is None else str(l.reuse_factor), str(l.latency),
                     str(l.interval), str(l.dsp), str(l.lut), str(l.ff), str(l.bram_18k)])
    rows.append(["total (estimate)", "", "", str(est.latency), str(est.interval), str(est.dsp), str(est.lut),
                 str(est.ff), str(est.bram_18k)])
    lines += _grid(headers, rows)
    ns = est.latency * est.clock_ns
    lines += [
        "",
        f"  estimated latency: min {est.latency} / max {est.latency} cycles over nvtx "
        f"(min {ns:g} / max {ns:g} ns at {est.clock_ns:g} ns); estimated interval {est.interval} cycles",
    ]
    for t in est.tables:
        lines.append(f"  table {t['table']}: {t['depth']} x {t['width']} bits -> est. {t['bram_18k']} BRAM_18K, "
                     f"{t['lut']} LUT; {t['reads_per_inference']} reads per inference")
    for l in est.layers:
        for n in l.notes:
            lines.append(f"  note [{l.name}]: {n}")
    for n in est.notes:
        lines.append(f"  note: {n}")
    lines.append(f"  ({BANNER}; computed in {est.seconds * 1000:.0f} ms)")
    return "\n".join(lines) + "\n"


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def reuse_sweep(project_dir: str | Path, reuse_factors: list[int] | None = None,
                table_ports: int | None = TABLE_PORTS) -> dict[str, Any]:
    """Estimated latency (cycles) and DSP of each GarNet/GravNet layer versus its reuse factor, with the
    kernels' loops honoured (as under a DATAFLOW top), plus the as-generated value."""
    prj = load_project(project_dir)
    kernel_layers: dict[str, int] = {}
    for call in prj.calls:
        if call.func in ("garnet_block", "gravnet_layer"):
            s = prj.structs.get(call.targs[-1].split("::")[-1]) if call.targs else None
            if s is not None:
                name = s.layer or call.comment or call.func
                kernel_layers.setdefault(name, s.consts["n_vertices"])
    if not kernel_layers:
        raise UserError(f"{prj.path} has no GarNet/GravNet layer to sweep")
    as_generated = estimate_project(project_dir, table_ports=table_ports)
    gen = {l.name: l for l in as_generated.layers}
    out: dict[str, Any] = {"estimated_layers": [], "estimated_top_pragma": as_generated.top_pragma}
    for name, V in kernel_layers.items():
        rs = reuse_factors or divisors(V)
        bad = [r for r in rs if r <= 0 or V % r]
        if bad:
            raise UserError(f"reuse factor(s) {', '.join(map(str, bad))} do not divide n_vertices = {V} of layer {name}")
        lat, dsp, lut = [], [], []
        for r in rs:
            e = estimate_project(project_dir, reuse={name: r}, loops="honoured", table_ports=table_ports)
            le = next(l for l in e.layers if l.name == name)
            lat.append(le.latency)
            dsp.append(le.dsp)
            lut.append(le.lut)
        out["estimated_layers"].append({
            "estimated_layer": name,
            "estimated_reuse_factors": list(rs),
            "estimated_latency_cycles": lat,
            "estimated_dsp": dsp,
            "estimated_lut": lut,
            "estimated_as_generated_latency_cycles": gen[name].latency,
            "estimated_as_generated_dsp": gen[name].dsp,
            "estimated_as_generated_lut": gen[name].lut,
            "estimated_as_generated_reuse_factor": gen[name].reuse_factor,
        })
    return out


def plot_format(path) -> str:
    """The image format of a --plot file name (its suffix, png when none); UserError if matplotlib has none such."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = Path(path).suffix[1:].lower() or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise UserError(f"--plot {path}: unknown image format {fmt!r}; use one of {', '.join(sorted(supported))}")
    return fmt


def write_plot(project_dir: str | Path, path: str | Path, reuse_factors: list[int] | None = None) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fmt = plot_format(path)
    sweep = reuse_sweep(project_dir, reuse_factors)
    pipelined = str(sweep["estimated_top_pragma"]).startswith("pipeline")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    panels = (("estimated_latency_cycles", "estimated_as_generated_latency_cycles", "estimated latency [cycles]"),
              ("estimated_dsp", "estimated_as_generated_dsp", "estimated DSP"),
              ("estimated_lut", "estimated_as_generated_lut", "estimated LUT"))
    for d in sweep["estimated_layers"]:
        name, rs = d["estimated_layer"], d["estimated_reuse_factors"]
        color = None
        for ax, (key, gen_key, _) in zip(axes, panels):
            line, = ax.plot(rs, d[key], "o-", color=color, label=f"{name}: loops kept (DATAFLOW top)")
            color = line.get_color()
            if pipelined:
                ax.axhline(d[gen_key], ls="--", color=color, label=f"{name}: as generated (PIPELINE top, unrolled)")
    for ax, (_, _, what) in zip(axes, panels):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("reuse factor R")
        ax.set_ylabel(what)
        ax.grid(True, alpha=0.3)
    axes[0].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{BANNER}: GarNet/GravNet layers vs reuse factor", fontsize=10)
    fig.tight_layout()
    from garnet_hls.paths import write_output

    try:
        write_output(path, lambda f: fig.savefig(f, dpi=100, format=fmt), "--plot output", binary=True)
    finally:
        plt.close(fig)
    return sweep


# ------------------------------------------------------------------------------------------------
# Calibration against real reports
# ------------------------------------------------------------------------------------------------

def default_reports_dir() -> Path:
    """../shared/vivado-reports beside the repository (see PROVENANCE.md there)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "vivado-reports"


_F16 = FixedType(16, 6, True)
_W6 = FixedType(6, 1, True)  # quantized_bits(6,0): fixed<6,1>
_A6 = FixedType(6, 0, False)  # quantized_relu(6): ufixed<6,0>

# Architectures reconstructed from PROVENANCE.md, the module names of the reports and the source of the
# models (hls4ml test_report: Dense(5, input_shape=(16,)); hls4ml-tutorial part 6 at e7f5b04: conv
# filters 16/16/24 (3x3, SVHN 32x32x3), dense 42/64/10, 50 % pruning of every conv and dense except
# output_dense, ap_fixed<16,6>, reuse 1, io_stream; the QKeras variant with quantized_bits(6,0) kernels and
# quantized_relu(6) activations, output_dense a plain Dense; seanlipps model_1 parameters.h at bfc2fecf:
# conv1d 9->16 (k=3), dense 16->6, softmax, fixed<16,6>). Dense layers in io_stream read ceil(n_in / pack)
# stream words first (a pipelined loop when there is more than one).
_TUT = "fastmachinelearning-hls4ml-tutorial-"
_CAL_DENSE = [
    # (report folder, module, label, part, n_in, n_out, nonzero, t_in, t_w, stream words)
    ("fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5",
     "dense_array_array_ap_fixed_16_6_5_3_0_5u_config2_s", "Dense 16->5", "xc7z020-clg400-1", 16, 5, 80, _F16, _F16, 1),
    (_TUT + "pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_42u_config17_s", "Dense 96->42, 50 % pruned",
     "xcu250-figd2104-2L-e", 96, 42, 2016, _F16, _F16, 4),
    (_TUT + "pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_64u_config21_s", "Dense 42->64, 50 % pruned",
     "xcu250-figd2104-2L-e", 42, 64, 1344, _F16, _F16, 1),
    (_TUT + "pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_10u_config25_s", "Dense 64->10",
     "xcu250-figd2104-2L-e", 64, 10, 640, _F16, _F16, 1),
    (_TUT + "pruned_cnn_reference", "dense_array_array_ap_fixed_16_6_5_3_0_42u_config17_s",
     "Dense 96->42, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 96, 42, 2016, _F16, _F16, 4),
    (_TUT + "pruned_cnn_reference", "dense_array_array_ap_fixed_16_6_5_3_0_64u_config21_s",
     "Dense 42->64, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 42, 64, 1344, _F16, _F16, 1),
    (_TUT + "pruned_cnn_reference", "dense_array_array_ap_fixed_16_6_5_3_0_10u_config25_s", "Dense 64->10 (2nd run)",
     "xcu250-figd2104-2L-e", 64, 10, 640, _F16, _F16, 1),
    (_TUT + "quantized_pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_42u_config14_s",
     "QDense 96->42, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 96, 42, 2016, _A6, _W6, 4),
    (_TUT + "quantized_pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_64u_config18_s",
     "QDense 42->64, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 42, 64, 1344, _A6, _W6, 1),
    (_TUT + "quantized_pruned_cnn", "dense_array_array_ap_fixed_16_6_5_3_0_10u_config22_s",
     "Dense 64->10, 6-bit inputs", "xcu250-figd2104-2L-e", 64, 10, 640, _A6, _F16, 1),
]
_CAL_MULT = [
    # multiplier-rule points: (report folder, module, label, part, multiplications, t_a, t_b)
    (_TUT + "pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config2_s", "Conv2D 3->16 3x3, 50 % pruned",
     "xcu250-figd2104-2L-e", 216, _F16, _F16),
    (_TUT + "pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config7_s", "Conv2D 16->16 3x3, 50 % pruned",
     "xcu250-figd2104-2L-e", 1152, _F16, _F16),
    (_TUT + "pruned_cnn", "conv_2d_cl_array_array_ap_fixed_24u_config12_s", "Conv2D 16->24 3x3, 50 % pruned",
     "xcu250-figd2104-2L-e", 1728, _F16, _F16),
    (_TUT + "pruned_cnn_reference", "conv_2d_cl_array_array_ap_fixed_16u_config2_s",
     "Conv2D 3->16 3x3, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 216, _F16, _F16),
    (_TUT + "pruned_cnn_reference", "conv_2d_cl_array_array_ap_fixed_16u_config7_s",
     "Conv2D 16->16 3x3, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 1152, _F16, _F16),
    (_TUT + "pruned_cnn_reference", "conv_2d_cl_array_array_ap_fixed_24u_config12_s",
     "Conv2D 16->24 3x3, 50 % pruned (2nd run)", "xcu250-figd2104-2L-e", 1728, _F16, _F16),
    (_TUT + "quantized_pruned_cnn", "normalize_array_array_ap_fixed_42u_config16_s", "BatchNorm scale x42",
     "xcu250-figd2104-2L-e", 42, _F16, _F16),
    (_TUT + "quantized_pruned_cnn", "normalize_array_array_ap_fixed_64u_config20_s", "BatchNorm scale x64",
     "xcu250-figd2104-2L-e", 64, _F16, _F16),
    (_TUT + "quantized_pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config2_s",
     "QConv2D 3->16 3x3, 6-bit weights, 50 % pruned", "xcu250-figd2104-2L-e", 216, _F16, _W6),
    (_TUT + "quantized_pruned_cnn", "conv_2d_cl_array_array_ap_fixed_16u_config6_s",
     "QConv2D 16->16 3x3, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 1152, _A6, _W6),
    (_TUT + "quantized_pruned_cnn", "conv_2d_cl_array_array_ap_fixed_24u_config10_s",
     "QConv2D 16->24 3x3, 6-bit, 50 % pruned", "xcu250-figd2104-2L-e", 1728, _A6, _W6),
]
_CAL_RELU = [
    ("fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5", "relu_array_array_ap_fixed_5u_relu_config3_s",
     "ReLU x5", "xc7z020-clg400-1"),
    (_TUT + "pruned_cnn", "relu_array_array_ap_fixed_64u_relu_config24_s", "ReLU x64", "xcu250-figd2104-2L-e"),
    (_TUT + "pruned_cnn", "relu_array_array_ap_fixed_42u_relu_config20_s", "ReLU x42", "xcu250-figd2104-2L-e"),
]

# Documented error bounds: the largest |error| measured over the calibration points of each quantity
# (docs/estimate.md; rounded up to the next 0.01). The test asserts every point stays within them.
CALIBRATION_BOUNDS = {
    "latency_cycles": 0.50,  # relative (measured max 0.50: 3 vs 2 cycles, and 1 vs 2)
    "dsp": 0.47,  # relative, multiplications with both operands > 10 bits (measured max 0.466)
    "dsp_share_narrow": 0.13,  # absolute DSP share of the multiplications with a narrow operand (0.130)
    "lut": 0.36,  # relative (measured max 0.353)
    "ff": 0.39,  # relative (measured max 0.382)
    "bram_18k": 0.50,  # relative (one point: 2 vs 4)
}


def _rel(est: float, real: float) -> float | None:
    return None if not real else (est - real) / real


def calibration_table(reports_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Estimate vs real, for every report whose architecture we could reconstruct (docs/estimate.md).

    Each row: report, module, layer, quantity, estimated, real, error (relative, or the absolute DSP
    share for narrow multiplications), bound (CALIBRATION_BOUNDS[quantity]). Real values are read from the
    report files with garnet_hls.reports at call time."""
    from garnet_hls.reports import parse_csynth_rpt, parse_csynth_xml

    root = Path(reports_dir) if reports_dir else default_reports_dir()
    if not root.is_dir():
        raise UserError(f"calibration reports not found: {root}")
    cache: dict[Path, Any] = {}

    def module(folder: str, name: str):
        path = root / folder / "myproject_csynth.rpt"
        if path not in cache:
            if not path.is_file():
                raise UserError(f"calibration report missing: {path}")
            cache[path] = {m.module: m for m in parse_csynth_rpt(path).modules}
        if name not in cache[path]:
            raise UserError(f"module {name} not in {path}")
        return cache[path][name]

    rows: list[dict[str, Any]] = []

    def row(folder, mod, label, quantity, est, real, error):
        rows.append(dict(report=folder, module=mod, layer=label, quantity=quantity, estimated=est, real=real,
                         error=None if error is None else round(error, 4),
                         bound=CALIBRATION_BOUNDS.get(quantity)))

    for folder, mod, label, part, n_in, n_out, nz, t_in, t_w, words in _CAL_DENSE:
        dev = device_for(part, 5.0)
        m = module(folder, mod)
        d = dense_estimate(n_in, n_out, 1, t_in, t_w, _F16, dev, n_nonzeros=nz)
        lat = d["latency"] + (words if words > 1 else 0)
        row(folder, mod, label, "latency_cycles", lat, m.latency_max, _rel(lat, m.latency_max))
        real_dsp = m.resources.get("DSP", 0)
        if d["dsp_multiplications"]:
            row(folder, mod, label, "dsp", d["dsp"], real_dsp, _rel(d["dsp"], real_dsp))
        else:
            row(folder, mod, label, "dsp_share_narrow", d["dsp"], real_dsp, (d["dsp"] - real_dsp) / nz)
        row(folder, mod, label, "lut", d["lut"], m.resources.get("LUT"), _rel(d["lut"], m.resources.get("LUT")))
        row(folder, mod, label, "ff", d["ff"], m.resources.get("FF"), _rel(d["ff"], m.resources.get("FF")))
    for folder, mod, label, part in _CAL_RELU:
        dev = device_for(part, 5.0)
        m = module(folder, mod)
        est = dev.act_cycles
        row(folder, mod, label, "latency_cycles", est, m.latency_max,
            _rel(est, m.latency_max) if m.latency_max else float(est - m.latency_max))
    for folder, mod, label, part, n, ta, tb in _CAL_MULT:
        dev = device_for(part, 5.0)
        m = module(folder, mod)
        o = Ops()
        o.mul(n, ta, tb, dev, const=True)
        est = o.resources(1, dev)[0]
        real_dsp = m.resources.get("DSP", 0)
        if o.n_dsp_mult:
            row(folder, mod, label, "dsp", est, real_dsp, _rel(est, real_dsp))
        else:
            row(folder, mod, label, "dsp_share_narrow", est, real_dsp, (est - real_dsp) / n)
    # softmax tables: exp and 1/x, 1024 x 18 bits each (hls4ml defaults of the time)
    m = module(_TUT + "pruned_cnn", "softmax_array_array_ap_fixed_10u_softmax_config27_s")
    est = 2 * rom_bram18(1024, 18)
    row(_TUT + "pruned_cnn", m.module, "Softmax tables 2 x 1024 x 18", "bram_18k", est, m.resources.get("BRAM_18K"),
        _rel(est, m.resources.get("BRAM_18K")))
    # whole design, io_parallel: conv1d 27x16 multiplications per pixel + dense 16x6 + softmax 6
    folder = "seanlipps-ECE226_CoDesign-model_1-vitis2024_1-cosimpass"
    path = root / folder / "myproject_csynth.xml"
    if path.is_file():
        rep = parse_csynth_xml(path)
        dev = device_for("xcu250-figd2104-2L-e", 5.0)
        o = Ops()
        o.mul(27 * 16 + 16 * 6, _F16, _F16, dev, const=True)
        o.mul(6, _F16, FixedType(18, 8, True), dev)
        est = o.resources(1, dev)[0]
        real = rep.resources.get("DSP")
        row(folder, "myproject (top)", "Conv1D 9->16 k3 + Dense 16->6 + Softmax", "dsp", est, real, _rel(est, real))
    return rows


def calibration_summary(rows: list[dict[str, Any]] | None = None) -> dict[str, dict[str, float]]:
    """Per quantity: points, mean error, mean |error|, max |error| (the documented bound)."""
    rows = rows if rows is not None else calibration_table()
    out: dict[str, dict[str, float]] = {}
    for q in sorted({r["quantity"] for r in rows}):
        errs = [r["error"] for r in rows if r["quantity"] == q and r["error"] is not None]
        out[q] = dict(points=len(errs), mean=sum(errs) / len(errs), mean_abs=sum(map(abs, errs)) / len(errs),
                      max_abs=max(map(abs, errs)))
    return out


def format_calibration(rows: list[dict[str, Any]]) -> str:
    headers = ["report", "layer", "quantity", "estimate", "real", "error"]
    body = []
    for r in rows:
        err = "-" if r["error"] is None else (f"{100 * r['error']:+.0f} %" if r["quantity"] != "dsp_share_narrow"
                                              else f"{100 * r['error']:+.1f} pts")
        body.append([r["report"].replace("fastmachinelearning-", "")[:44], r["layer"], r["quantity"],
                     str(r["estimated"]), str(r["real"]), err])
    return "\n".join(_grid(headers, body)) + "\n"


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------


def _parse_reuse_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--reuse takes comma-separated integers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise UserError(f"--reuse takes positive integers, got {text!r}")
    return sorted(set(values))


def add_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "estimate", help="estimate latency and resources of a project without vendor tools (ESTIMATE, not synthesis)")
    p.add_argument("project", help="garnet-hls project directory (from garnet-hls convert)")
    p.add_argument("--json", metavar="FILE", help="also write the estimate as JSON (every key prefixed 'estimated_')")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write estimated latency and DSP vs reuse factor of the GarNet/GravNet layers")
    p.add_argument("--reuse", metavar="R1,R2,...",
                   help="reuse factors for the sweep (--plot and the printed sweep); default: every divisor of V")
    p.set_defaults(func=run_estimate)


def run_estimate(args) -> int:
    from garnet_hls.paths import check_output_file, write_output

    for opt in ("json", "plot"):
        if getattr(args, opt, None):
            check_output_file(getattr(args, opt), f"--{opt} output")
    if getattr(args, "plot", None):
        plot_format(args.plot)
    reuse_list = _parse_reuse_list(getattr(args, "reuse", None))
    est = estimate_project(args.project)
    print(format_estimate(est), end="")
    sweep = None
    if getattr(args, "plot", None):
        sweep = write_plot(args.project, args.plot, reuse_list)
        print(f"  wrote {args.plot} ({BANNER})")
    elif reuse_list:
        sweep = reuse_sweep(args.project, reuse_list)
    if sweep is not None:
        for d in sweep["estimated_layers"]:
            name = d["estimated_layer"]
            rows = [[str(r), str(l), str(dsp), str(lut)] for r, l, dsp, lut in zip(
                d["estimated_reuse_factors"], d["estimated_latency_cycles"], d["estimated_dsp"], d["estimated_lut"])]
            print(f"\n  {name}: reuse-factor sweep with the kernel loops kept (as under a DATAFLOW top), {BANNER}")
            print("\n".join(_grid(["R", "est. latency [cycles]", "est. DSP", "est. LUT"], rows)))
    if getattr(args, "json", None):
        data = est.to_json()
        if sweep is not None:
            data["estimated_reuse_sweep"] = sweep
        write_output(args.json, json.dumps(data, indent=2) + "\n", "--json output")
    return 0
