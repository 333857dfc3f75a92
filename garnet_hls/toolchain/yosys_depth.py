"""The logic depth of every pipeline stage of a Yosys ``synth_xilinx`` netlist (issue #19).

A *depth*, not a timing result: Yosys has no delays for UltraScale+ and places nothing. For every
register-to-register path of the mapped netlist (``write_json`` after ``synth_xilinx``) this counts the cells
the path goes through: LUT levels (LUT1-LUT6, INV), carry cells (CARRY4/CARRY8) and the carry bits it runs
along them, wide muxes (MUXF7/8/9) and DSP48E2 slices used without their internal registers. The *longest*
path of a stage is the one through the most cells (LUT + carry cell + MUXF + DSP, each counted once, as
Yosys' own ``ltp`` counts a topological path); its make-up is reported, and beside it the most LUT levels
and the most carry bits on any path of the stage (those two may lie on other paths).

Stages: da4ml writes every pipeline stage as its own combinational module between the top's registers
``stage<k>_inp`` (and ``model_out`` after the last stage); flattening keeps those register names (with the
instance path in front inside a folded design's modules: ``u_pass0.stage3_inp``). A path that ends at a
``stage<k>_inp`` register is stage k-1's, one that ends at ``model_out`` the last stage's; a path ending in a
register Yosys renamed (an SRL shift register, a DSP48E2 that took in a register) is the stage of the named
register it starts from; anything else (a folded design's control, accumulators and delay lines) is reported
as "outside the pipelines".

Pin-level: a carry cell's output bit j depends on the inputs at bits <= j (and the carry in), so a path
entering a CARRY4 at bit 2 and leaving at bit 3 runs 2 carry bits. Modules Yosys kept (the "rom" flow keeps
the table ROMs) count as their own longest input-to-output path, every output after every input.
"""

from __future__ import annotations

import re

LUTS = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV", "LUT6_2"}
CARRIES = {"CARRY4": 4, "CARRY8": 8}
MUXFS = {"MUXF7", "MUXF8", "MUXF9"}
DSPS = {"DSP48E2", "DSP48E1"}
CONSTS = {"GND", "VCC"}
# sequential cells: which inputs end a path (clock pins end none)
SEQ_ENDS = {"FDRE": ("D", "CE", "R"), "FDSE": ("D", "CE", "S"), "FDCE": ("D", "CE", "CLR"),
            "FDPE": ("D", "CE", "PRE"), "SRL16E": ("D", "CE", "A0", "A1", "A2", "A3"),
            "SRLC32E": ("D", "CE", "A")}
_DSP_REGS = ("AREG", "BREG", "CREG", "DREG", "ADREG", "MREG", "PREG", "ACASCREG", "BCASCREG")

_STAGE_REG = re.compile(r"^(?:(.*)\.)?stage(\d+)_inp$")
_OUT_REG = re.compile(r"^(?:(.*)\.)?model_out$")

# a path's make-up: (cells, LUT levels, carry cells, carry bits, MUXF, DSP)
ZERO = (0, 0, 0, 0, 0, 0)
FIELDS = ("levels", "lut", "carry_cells", "carry_bits", "muxf", "dsp")


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b))


def _is_dsp_registered(cell) -> bool:
    p = cell.get("parameters") or {}
    for k in _DSP_REGS:
        v = p.get(k, 0)
        if isinstance(v, str):
            v = int(v, 2) if v and set(v) <= set("01") else 0
        if v:
            return True
    return False


class _Module:
    """One module of the netlist, analysed: arrivals of every net bit, by the label of the path's start."""

    def __init__(self, mod: dict, composites: dict):
        self.mod = mod
        self.composites = composites  # kept module type -> its longest in->out make-up
        self.driver = {}  # bit -> (cell name, port, index)
        self.unknown = set()
        for name, c in mod["cells"].items():
            dirs = c.get("port_directions") or {}
            for port, bits in c["connections"].items():
                if dirs.get(port) == "output":
                    for i, b in enumerate(bits):
                        if isinstance(b, int):
                            self.driver[b] = (name, port, i)
        self.names = {}  # bit -> [net names]
        for net, n in mod["netnames"].items():
            for i, b in enumerate(n["bits"]):
                if isinstance(b, int):
                    self.names.setdefault(b, []).append((net, i))
        self.memo = {}

    def kind(self, cell) -> str:
        t = cell["type"]
        if t in LUTS:
            return "lut"
        if t in CARRIES:
            return "carry"
        if t in MUXFS:
            return "muxf"
        if t in DSPS:
            return "seq" if _is_dsp_registered(cell) else "dsp"
        if t in CONSTS:
            return "const"
        if t in SEQ_ENDS:
            return "seq"
        if t in self.composites:
            return "composite"
        self.unknown.add(t)
        return "seq"  # an unknown cell (RAM, ...) is treated as a register: paths stop at it

    def start_label(self, bit):
        for net, _ in self.names.get(bit, ()):
            m = _STAGE_REG.match(net)
            if m:
                return (m.group(1) or "", int(m.group(2)))
        return None

    def _inputs_for(self, cell, port: str, idx: int):
        """(input bit, cost of the step from it to output (port, idx)) for one output bit of a cell."""
        t = cell["type"]
        k = self.kind(cell)
        dirs = cell.get("port_directions") or {}
        ins = [(p, i, b) for p, bits in cell["connections"].items() if dirs.get(p) == "input"
               for i, b in enumerate(bits)]
        if k == "lut":
            return [(b, (1, 1, 0, 0, 0, 0)) for _, _, b in ins]
        if k == "muxf":
            return [(b, (1, 0, 0, 0, 1, 0)) for _, _, b in ins]
        if k == "dsp":
            return [(b, (1, 0, 0, 0, 0, 1)) for _, _, b in ins]
        if k == "composite":
            return [(b, self.composites[t]) for _, _, b in ins]
        if k == "carry":
            out = []
            for p, i, b in ins:
                if p in ("CI", "CYINIT"):
                    pos = 0
                elif p == "CI_TOP":
                    pos = 4
                else:
                    pos = i
                if pos <= idx:
                    out.append((b, (1, 0, 1, idx - pos + 1, 0, 0)))
            return out
        return []

    def arrival(self, bit):
        """{start label: [longest make-up, most LUT levels, longest carry run]} of the paths into ``bit``."""
        if not isinstance(bit, int):
            return {}
        if bit in self.memo:
            return self.memo[bit]
        stack = [bit]
        while stack:
            b = stack[-1]
            if b in self.memo:
                stack.pop()
                continue
            drv = self.driver.get(b)
            if drv is None:  # a module input port
                self.memo[b] = {"in": [ZERO, 0, 0]}
                stack.pop()
                continue
            cell = self.mod["cells"][drv[0]]
            k = self.kind(cell)
            if k == "const":
                self.memo[b] = {}
                stack.pop()
                continue
            if k == "seq":
                self.memo[b] = {self.start_label(b): [ZERO, 0, 0]}
                stack.pop()
                continue
            deps = self._inputs_for(cell, drv[1], drv[2])
            todo = [d for d, _ in deps if isinstance(d, int) and d not in self.memo]
            if todo:
                stack.extend(todo)
                continue
            acc = {}
            for d, cost in deps:
                for lab, (mk, lmax, cmax) in (self.memo.get(d) or {}).items() if isinstance(d, int) else ():
                    new = _add(mk, cost)
                    _merge(acc, lab, (new, lmax + cost[1], cmax + cost[3]))
            self.memo[b] = acc
            stack.pop()
        return self.memo[bit]


def _composite_cost(mod: dict, composites: dict):
    """The longest input-to-output make-up of a kept (combinational) module."""
    m = _Module(mod, composites)
    best = ZERO
    for p in mod["ports"].values():
        if p["direction"] != "output":
            continue
        for b in p["bits"]:
            for mk, _, _ in m.arrival(b).values():
                if (mk[0], mk[1]) > (best[0], best[1]):
                    best = mk
    return best


def _merge(dst: dict, key, val):
    mk, lmax, cmax = val
    cur = dst.get(key)
    if cur is None:
        dst[key] = [mk, lmax, cmax]
        return
    if (mk[0], mk[1], mk[3]) > (cur[0][0], cur[0][1], cur[0][3]):
        cur[0] = mk
    cur[1], cur[2] = max(cur[1], lmax), max(cur[2], cmax)


def logic_depth(netlist: dict, top: str) -> dict:
    """Per pipeline stage, the longest register-to-register path of the mapped netlist (see the module doc).

    Returns ``{"stages": [{"module", "stage", "levels", "lut", "carry_cells", "carry_bits", "muxf", "dsp",
    "max_lut_levels", "max_carry_bits"}], "outside": {...} or None, "worst": {...}, "carry_cell": ...,
    "unknown_cells": [...]}``; ``module`` is the instance path of a folded design's module ("" for the
    fully parallel design's stages)."""
    mods = netlist["modules"]
    if top not in mods:
        raise ValueError(f"module {top!r} is not in the netlist")
    composites = {}
    used = {c["type"] for c in mods[top]["cells"].values()}
    for name in sorted(used):
        if name in mods and (mods[name].get("cells") or {}) and name != top and \
                not (mods[name].get("attributes") or {}).get("blackbox"):
            composites[name] = ZERO
    for name in composites:
        composites[name] = _composite_cost(mods[name], {})
    m = _Module(mods[top], composites)
    last = {}  # module path -> last stage index
    for b in m.names:
        lab = m.start_label(b)
        if lab is not None:
            last[lab[0]] = max(last.get(lab[0], -1), lab[1])
    groups = {}
    for name, cell in mods[top]["cells"].items():
        if m.kind(cell) != "seq":
            continue
        t = cell["type"]
        ends = SEQ_ENDS.get(t)
        dirs = cell.get("port_directions") or {}
        if ends is None:  # a registered DSP or an unknown cell: every input ends a path
            ends = tuple(p for p in cell["connections"] if dirs.get(p) == "input")
        q = [b for p, bits in cell["connections"].items() if dirs.get(p) == "output" for b in bits]
        end_label = None
        for b in q:
            for net, _ in m.names.get(b, ()) if isinstance(b, int) else ():
                s = _STAGE_REG.match(net)
                if s:
                    k = int(s.group(2))
                    end_label = (s.group(1) or "", k - 1) if k >= 1 else None
                    break
                o = _OUT_REG.match(net)
                if o and not re.search(r"(^|\.)stage\d+$", o.group(1) or "") and (o.group(1) or "") in last:
                    end_label = (o.group(1) or "", last[o.group(1) or ""])
                    break
            if end_label is not None:
                break
        for p in ends:
            for b in cell["connections"].get(p, ()):
                for lab, val in m.arrival(b).items():
                    key = end_label if end_label is not None else (lab if isinstance(lab, tuple) else "outside")
                    if key != "outside" or val[0][0] > 0:  # (a register fed straight from a port: no logic)
                        _merge(groups, key, val)
    # paths into the top's output ports that no register ends (none in the written designs)
    for pname, p in mods[top]["ports"].items():
        if p["direction"] == "output":
            for b in p["bits"]:
                for lab, val in m.arrival(b).items():
                    if val[0][0] > 0:
                        _merge(groups, lab if isinstance(lab, tuple) else "outside", val)

    def row(val):
        mk, lmax, cmax = val
        return {**dict(zip(FIELDS, mk)), "max_lut_levels": lmax, "max_carry_bits": cmax}

    stages = [{"module": k[0], "stage": k[1], **row(v)} for k, v in sorted(
        ((k, v) for k, v in groups.items() if isinstance(k, tuple)), key=lambda kv: kv[0])]
    outside = row(groups["outside"]) if "outside" in groups else None
    everything = [*stages, *([outside] if outside else [])]
    worst = max(everything, key=lambda r: (r["levels"], r["lut"]), default=None)
    carry = sorted({c["type"] for c in mods[top]["cells"].values() if c["type"] in CARRIES})
    return {"stages": stages, "outside": outside, "worst": worst, "carry_cell": "/".join(carry) or None,
            "unknown_cells": sorted(m.unknown)}
