"""The building blocks of the folded designs' Verilog tops (``folded_rtl``): the port layouts of da4ml modules,
the ``_Top`` collector of declarations and clocked statements, format conversions between fixed-point wires,
the control line, the event port, the group counters and the module text."""

from __future__ import annotations

import re

import numpy as np

# ------------------------------------------------------------------------------------------------
# Port layouts of the da4ml modules
# ------------------------------------------------------------------------------------------------
def _kif(q):
    from da4ml.types import minimal_kif

    k, i, f = minimal_kif(q)
    return int(k), int(i), int(f)


def _in_layout(mod) -> dict:
    """port -> [(element, lo bit, width, (k, i, f))] of the live elements of a module's ``model_inp``."""
    kifs = [_kif(q) for q in mod.pipe.inp_qint]
    assert len(kifs) == int(mod.live.sum()), f"{mod.name}: inputs and live elements disagree"
    res, flat, n, lo = {}, 0, 0, 0
    for name, shape in mod.inputs:
        els = []
        for e in range(int(np.prod(shape))):
            if mod.live[flat]:
                kif = kifs[n]
                els.append((e, lo, sum(kif), kif))
                lo += sum(kif)
                n += 1
            flat += 1
        res[name] = els
    return res


def _out_layout(mod) -> dict:
    """port -> [(element, lo bit, width, (k, i, f))] of every element of a module's ``model_out``."""
    kifs = [_kif(q) for q in mod.pipe.out_qint]
    res, n, lo = {}, 0, 0
    for name, shape in mod.outputs:
        els = []
        for e in range(int(np.prod(shape))):
            els.append((e, lo, sum(kifs[n]), kifs[n]))
            lo += sum(kifs[n])
            n += 1
        res[name] = els
    assert n == len(kifs)
    return res


def _bits(layout_port) -> int:
    return sum(w for _, _, w, _ in layout_port)


def _span(layout_port) -> tuple:
    """(lo, width) of a port's contiguous bits."""
    if not layout_port:
        return 0, 0
    lo = layout_port[0][1]
    return lo, layout_port[-1][1] + layout_port[-1][2] - lo


def _sanitize(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _cat(parts: list) -> str:
    """A Verilog concatenation of ``parts`` given LSB first."""
    parts = [p for p in parts if p]
    if len(parts) == 1:
        return parts[0]
    return "{" + ", ".join(reversed(parts)) + "}"


class _Top:
    """Collects the folded top's declarations and clocked statements."""

    def __init__(self):
        self.decl, self.comb, self.seq, self.n = [], [], [], 0

    def wire(self, name, width, expr):
        self.decl.append(f"wire [{width - 1}:0] {name};")
        self.comb.append(f"assign {name} = {expr};")
        return name

    def reg(self, name, width):
        self.decl.append(f"reg [{width - 1}:0] {name};")
        return name

    def convert(self, expr, src, dst) -> str:
        """``expr`` (fixed point ``src`` = (k, i, f)) in the format ``dst``: shift to dst's fraction, extend
        (sign or zero) or cut to dst's width; exact for values dst holds."""
        ws, wd = sum(src), sum(dst)
        if wd == 0:  # an input the module never reads (da4ml gives it no bits): nothing to feed
            return ""
        shift = dst[2] - src[2]
        assert shift >= 0, f"a conversion would drop fraction bits ({src} -> {dst})"
        if src == dst:
            return expr
        self.n += 1
        t = self.wire(f"cv{self.n}_s", ws, expr)
        parts = [f"{shift}'b0"] if shift else []
        parts.append(t)
        grown = ws + shift
        if wd > grown:
            sign = f"{t}[{ws - 1}]" if src[0] else "1'b0"
            parts.append(f"{{{wd - grown}{{{sign}}}}}")
        full = self.wire(f"cv{self.n}", max(wd, grown), _cat(parts))
        return full if wd == max(wd, grown) else f"{full}[{wd - 1}:0]"

    def delay(self, name, expr, width, length) -> str:
        """``expr`` delayed ``length`` clocks (a shift register); returns the output's name."""
        if length == 0:
            return expr
        self.decl.append(f"reg [{width - 1}:0] {name} [0:{length - 1}];")
        self.seq.append(f"{name}[0] <= {expr};")
        if length > 1:
            self.seq.append(f"for (i = 1; i < {length}; i = i + 1) {name}[i] <= {name}[i - 1];")
        return self.wire(f"{name}_o", width, f"{name}[{length - 1}]")


def _port_feed(top, dst_layout, src_bus, src_layout, src_lo=0) -> list:
    """The elements of a destination port from a bus holding the source port (its bits from ``src_lo``)."""
    src = {e: (lo, w, kif) for e, lo, w, kif in src_layout}
    parts = []
    for e, _, w, kif in dst_layout:
        if w == 0:  # an input the module never reads: no bits in its port
            continue
        lo, ws, skif = src[e]
        assert ws > 0, "a live input fed by a constant output"
        lo -= src_lo
        parts.append(top.convert(f"{src_bus}[{lo + ws - 1}:{lo}]", skif, kif))
    return parts


def _module_text(t, mods_v, name, what, NB, W_IN, W_OUT, lat) -> str:
    sep = "\n    "
    return f"""`timescale 1 ns / 1 ps
// The folded {what}
// clocks from in_valid to out_valid (garnet_hls.backends.rtl.folded.schedule). Generated by garnet-hls.
module {name} (
    input clk,
    input rst,
    input in_valid,
    input [{NB - 1}:0] in_nvtx,
    input [{W_IN - 1}:0] in_feat,
    output out_valid,
    output [{W_OUT - 1}:0] out_data
);
    integer i;
    {sep.join(t.decl)}

    {sep.join(t.comb)}

    {sep.join(mods_v)}

    always @(posedge clk) begin
        if (rst) sr_v <= {lat}'b0; else {t.seq[0]}
        {(sep + '    ').join(t.seq[1:])}
    end
    assign out_valid = sr_v[{lat}];
    assign out_data = out_reg;
endmodule
"""


def _control_line(t, lat, NB):
    """(valid, nvtx) of the event that came d clocks ago, d = 0..lat; returns (ctl_v, ctl_n): d -> wire."""
    t.decl.append(f"reg [{lat}:1] sr_v;")
    t.decl.append(f"reg [{NB - 1}:0] sr_n [1:{lat}];")
    t.seq.append(f"sr_v <= {{sr_v[{lat - 1}:1], in_valid}};" if lat > 1 else "sr_v <= in_valid;")
    t.seq.append("sr_n[1] <= in_nvtx;")
    if lat > 1:
        t.seq.append(f"for (i = 2; i <= {lat}; i = i + 1) sr_n[i] <= sr_n[i - 1];")

    def ctl_v(d):
        return "in_valid" if d == 0 else f"sr_v[{d}]"

    def ctl_n(d):
        return "in_nvtx" if d == 0 else f"sr_n[{d}]"

    return ctl_v, ctl_n


def _event_port(t, x0, L, G, Vn, CB):
    """The event's features, latched at in_valid; the group counter ``g0`` of pass 0 and ``lanes_x``, the
    L lanes' x of the current group (group 0 straight from the port). ``x0``: pass 0's x port layout.
    Returns (x's (k, i, f), its width, features per vertex, the port's width)."""
    kx = {kif for _, _, _, kif in x0}
    assert len(kx) == 1, "pass 0's x elements differ in format"
    kx = kx.pop()
    wx, nf = sum(kx), len(x0) // L
    W_IN = Vn * nf * wx
    t.decl.append("// verilator lint_off UNUSEDSIGNAL")  # group 0 is taken from the port itself
    t.reg("ev_feat", W_IN)
    t.decl.append("// verilator lint_on UNUSEDSIGNAL")
    t.reg("g0", CB)
    t.decl.append(f"reg [{L * nf * wx - 1}:0] lanes_x;")

    def group_x(bus, g):
        parts = []
        for l in range(L):
            s = g * L + l
            for f in range(nf):
                parts.append(f"{bus}[{(s * nf + f + 1) * wx - 1}:{(s * nf + f) * wx}]" if s < Vn else f"{wx}'b0")
        return _cat(parts)

    cases = "\n".join(f"            {CB}'d{g}: lanes_x = {group_x('ev_feat', g)};" for g in range(1, G))
    t.comb.append("always @* begin\n"
                  f"        if (in_valid) lanes_x = {group_x('in_feat', 0)};\n"
                  + (f"        else case (g0)\n{cases}\n            default: lanes_x = {L * nf * wx}'b0;\n"
                     "        endcase\n" if G > 1 else f"        else lanes_x = {L * nf * wx}'b0;\n")
                  + "    end")
    t.seq.append("if (in_valid) ev_feat <= in_feat;")
    t.seq.append(f"if (rst) g0 <= {CB}'d{G}; else if (in_valid) g0 <= {CB}'d1; "
                 f"else if (g0 < {CB}'d{G}) g0 <= g0 + {CB}'d1;")
    return kx, wx, nf, W_IN


def _group_counter(t, p, s, L, G, NB, CB, ctl_v, ctl_n):
    """Pass p (starting at clock ``s``): its slot base ``g L`` of the current group (``basec{p}``), the event's
    nvtx (``nvc{p}``) and the lanes' ``valid{p} = g L + l < nvtx``; returns the three wires' names."""
    t.reg(f"nv{p}", NB)
    t.reg(f"base{p}", CB)
    st = ctl_v(s)
    nv = t.wire(f"nvc{p}", NB, f"{st} ? {ctl_n(s)} : nv{p}")
    base = t.wire(f"basec{p}", CB, f"{st} ? {CB}'d0 : base{p}")
    t.seq.append(f"if ({st}) nv{p} <= {ctl_n(s)};")
    t.seq.append(f"base{p} <= ({base} < {CB}'d{G * L}) ? {base} + {CB}'d{L} : {base};")
    vbits = [f"(({base} + {CB}'d{l}) < {{{CB - NB}'b0, {nv}}})" if CB > NB else f"(({base} + {CB}'d{l}) < {nv})"
             for l in range(L)]
    valid = t.wire(f"valid{p}", L, _cat(vbits))
    return valid, base, nv
