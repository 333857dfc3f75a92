"""The loop/region model of ``garnet-hls estimate`` (docs/estimate.md): device families, the operator inventory of a pipelined region and its resources, the cost of tables (ROM, logic,
replicated ROM), hls4ml's Dense, and the scheduling of a function's regions into latency, II and
resources. Every number is an ESTIMATE. Imports nothing heavy (no hls4ml, TensorFlow or numpy). The
fixed-point types of the C++ code are ``garnet_hls.core.fixed``'s (``FixedType``, ``parse_type``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from garnet_hls.core.fixed import FixedType, parse_type  # noqa: F401  (the estimator's types)
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


def dsp_per_mult(a: FixedType | int, b: FixedType | int, dev: Device, const_power_of_two: bool = False,
                 bound_to_dsp: bool = False) -> int:
    """DSP blocks of one multiplier (0: built from LUTs). `bound_to_dsp`: the kernel binds it to DSPs
    (RESOURCE core=DSP48), whatever its widths."""
    if const_power_of_two:
        return 0
    if min(_bits(a), _bits(b)) <= LUT_MULT_MAX_BITS and not bound_to_dsp:
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
            power_of_two: bool = False, out_bits: int | None = None, dsp: bool = False) -> None:
        if n <= 0:
            return
        d = dsp_per_mult(a, b, dev, power_of_two, bound_to_dsp=dsp)
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


def _reads_list(reads: dict[str, int]) -> list[dict[str, Any]]:
    return [dict(estimated_table=t, estimated_reads=n) for t, n in reads.items()]


def _schedule_regions(regions: list[Region], dev: Device, unrolled: bool, ports: dict[str, int | None] | int | None
                      ) -> tuple[int, int, int, int, int, dict[str, int], dict[str, int], list[dict[str, Any]]]:
    """(latency, DSP, LUT, FF, II of the function, table reads per call, table read sites, per-region details).

    Loops honoured: every region is a pipelined loop with its own II (the ports of the ROM tables it
    reads), its operators shared over that II. Unrolled (top pipelined): the function is one pipeline
    whose II is set by all its ROM reads; operators are shared over that II. `ports[t]` is None for a
    table without a port limit (logic, or a replicated ROM); an int or None applies to every table. A read site is one read per clock: a
    region reading a table n times per iteration at II k has ceil(n / k) sites (copies of a logic table)."""
    reads_total: dict[str, int] = {}
    for r in regions:
        for t, n in r.reads.items():
            reads_total[t] = reads_total.get(t, 0) + n * r.iterations

    def port(t: str) -> int | None:
        return ports.get(t) if isinstance(ports, dict) else ports

    def bound(reads: dict[str, int]) -> int:
        return max([1] + [math.ceil(n / port(t)) for t, n in reads.items() if port(t)])

    details = []
    sites: dict[str, int] = {}
    dsp = lut = ff = 0
    if unrolled:
        ii = bound(reads_total)
        latency = sum(r.depth for r in regions) + (ii - 1)
        for r in regions:
            d, lu, f = r.ops.resources(ii, dev)
            dsp, lut, ff = dsp + d, lut + lu + r.mux_lut, ff + f + r.reg_bits
            for t, n in r.reads.items():
                sites[t] = sites.get(t, 0) + math.ceil(n * r.iterations / ii)
            details.append(dict(region=r.name, trip_count=r.iterations, ii=ii, depth_cycles=r.depth,
                                table_reads=_reads_list(r.reads), dsp=d, lut=lu + r.mux_lut, ff=f + r.reg_bits))
        return latency, dsp, lut, ff, ii, reads_total, sites, details
    latency = 0
    for r in regions:
        ii = bound(r.reads)
        # an iteration's table reads are spread over its II cycles; a pipelined loop adds one cycle
        lat = (r.iterations - 1) * ii + r.depth + (ii - 1) + (1 if r.iterations > 1 else 0)
        latency += lat
        d, lu, f = r.ops.resources(ii, dev)
        dsp, lut, ff = dsp + d, lut + lu + r.mux_lut, ff + f + r.reg_bits
        for t, n in r.reads.items():
            sites[t] = sites.get(t, 0) + math.ceil(n / ii)
        details.append(dict(region=r.name, trip_count=r.iterations, ii=ii, depth_cycles=r.depth,
                            latency_cycles=lat, table_reads=_reads_list(r.reads), dsp=d, lut=lu + r.mux_lut,
                            ff=f + r.reg_bits))
    return latency, dsp, lut, ff, 1, reads_total, sites, details


def logic_table_lut(depth: int, width: int) -> int:
    """LUTs of one read of a constant table built as logic (a completely partitioned array read with a
    data-dependent index: a depth:1 multiplexer over constants per bit, which synthesis maps to LUT6s
    of 64 entries and a mux tree), plus the compact index (an absolute value and a clamp)."""
    leaves = math.ceil(depth / 64)
    index_bits = max(1, (max(depth, 2) - 1).bit_length())
    return width * (leaves + _mux_lut(leaves, 1)) + 2 * index_bits


def _grid(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [fmt(headers), "  " + "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
