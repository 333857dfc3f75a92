"""Kernel models of ``garnet-hls estimate``: the regions (pipelined loops) of every kernel function of
``firmware/garnet.h`` (the GarNet vertex passes), ``firmware/gravnet.h`` and ``graph_collapse``, from the
config structs of a project. Every number is an ESTIMATE (docs/estimate.md, "Regions of the kernels")."""

from __future__ import annotations

import math

from garnet_hls.estimate.files import Struct, _Types
from garnet_hls.estimate.model import Device, FixedType, Ops, Region, _levels, _mux_lut

def _recip_constant_is_power_of_two(n: int, recip: FixedType) -> bool:
    """Is Q(1/n) in `recip`'s format a power of two (so multiplying by it is a shift)?"""
    if n <= 0:
        return True
    code = round((1.0 / n) * (1 << recip.frac))
    return code > 0 and (code & (code - 1)) == 0


# ------------------------------------------------------------------------------------------------
# Kernel models
# ------------------------------------------------------------------------------------------------


def garnet_regions(s: Struct, ty: _Types, dev: Device, reuse: int | None = None,
                   tables: tuple[str, str, str] = ("exp_table", "recip_table", "tanh_table")) -> list[Region]:
    """[VertexIn, Aggregators, VertexOut] of one GarNet block (config `s`, firmware/garnet.h) with reuse
    factor `reuse` (default: the config's) as the trip count of the vertex passes. The pass functions
    combine them (:func:`garnet_pass_regions`)."""
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
    o1.mul(VR * A * G, t_ew, t_g, dev, out_bits=t_ap.width, dsp=True)  # bound to DSP48 in garnet.h
    o1.add(VR * A * G, t_as.width)
    if not simplified:
        o1.cmp_mux(VR * A * G, t_ap.width)
    depth1 = (ms + dev.add_cycles(_levels(F + 1) + 1)  # dense + rounding
              + 1  # table read (registered ROM)
              + ms + dev.add_cycles(_levels(VR + 1)))  # w g, accumulate VR vertices into sum
    mux1 = _mux_lut(R, VR * F * t_in.width)  # x[v] with v = iu R + ir
    # state handed to VertexOut: w[V][A], the sums (and maxima), the input codes in full mode
    regs = (V * A * t_ew.width + A * G * (t_as.width + (0 if simplified else t_ap.width))
            + (0 if simplified else V * F * t_in.width))
    r1 = Region("VertexIn", R, depth1, o1, {exp_t: VR * A}, mux1, regs)

    # Aggregators (once): mean (x 1/N), h . W_O.
    mean_by_nvert = bool(c.get("mean_by_nvert", False))
    # a pipelined loop over the A aggregators (II 1): one aggregator's operators, reading its sums
    # through an A:1 mux
    oa = Ops()
    shift = (not mean_by_nvert) and _recip_constant_is_power_of_two(V, t_rc)
    oa.mul(G, t_as, t_rc, dev, const=not mean_by_nvert, power_of_two=shift, out_bits=t_as.width + t_rc.width)
    oa.rnd(G * (1 if simplified else 2), t_ag.width)
    oa.mul(FO * H, t_ag, t_k, dev, const=False, out_bits=t_hw.width)  # the weight row depends on a
    oa.add(FO * H, t_hw.width)
    deptha = 1 + (0 if shift else ms) + dev.add_cycles(1) + ms + dev.add_cycles(_levels(H))
    muxa = _mux_lut(A, G * (t_as.width + (0 if simplified else t_ap.width)) + FO * H * t_k.width)
    ra = Region("Aggregators", A, deptha, oa, {recip_t: 1} if mean_by_nvert else {}, muxa, A * FO * t_hw.width)

    # Pass 2 (VertexOut).
    o2 = Ops()
    o2.mul(VR * FO * A, t_ew, t_hw, dev, out_bits=t_pre.width, dsp=True)  # bound to DSP48 in garnet.h
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


def _merge(name: str, *regions: Region) -> Region:
    """Regions fused into one loop body: the operators of both, depths chained."""
    o = Ops()
    for r in regions:
        o.mults += r.ops.mults
        o.adds += r.ops.adds
        o.logic += r.ops.logic
        o.logic_bits += r.ops.logic_bits
        o.n_mult += r.ops.n_mult
        o.n_dsp_mult += r.ops.n_dsp_mult
    reads: dict[str, int] = {}
    for r in regions:
        for t, n in r.reads.items():
            reads[t] = reads.get(t, 0) + n
    return Region(name, regions[0].iterations, sum(r.depth for r in regions), o, reads,
                  sum(r.mux_lut for r in regions), sum(r.reg_bits for r in regions))


def garnet_pass_regions(func: str, cfgs: list[Struct], ty: _Types, dev: Device, reuse: int | None,
                        tables: dict[str, str], collapse: Struct | None = None) -> list[Region]:
    """Regions of one GarNet pass function (firmware/garnet.h):

    * garnet_in<b0>: VertexIn of block 0;
    * garnet_agg<b>: the Aggregators of block b (a loop over its A aggregators);
    * garnet_mid<b, b+1>: one loop whose body is VertexOut of b followed by VertexIn of b+1 (depths
      chained: a vertex goes through both in one pass);
    * garnet_out<last>: VertexOut (writing y);
    * garnet_out_collapse<last, collapse>: the same with the collapse accumulated in the loop (VR values
      per filter and clock into a running sum or maximum) and the final x 1/N.
    """
    tabs = (tables.get("exp", "exp_table"), tables.get("recip", "recip_table"), tables.get("tanh", "tanh_table"))
    first = garnet_regions(cfgs[0], ty, dev, reuse, tabs)
    if func == "garnet_in":
        return [first[0]]
    ra, r2 = first[1], first[2]
    if func == "garnet_agg":
        return [ra]
    if func == "garnet_mid":
        nxt = garnet_regions(cfgs[1], ty, dev, reuse, tabs)[0]
        r2.reg_bits = 0  # y goes straight into the next block
        nxt.mux_lut = 0  # ... not through the R:1 input mux
        return [_merge("VertexOutIn", r2, nxt)]
    if func == "garnet_out_collapse" and collapse is not None:
        c = cfgs[0].consts
        V, FO = c["n_vertices"], c["n_out"]
        R = reuse or c.get("reuse_factor", 1)
        VR = max(1, V // R)
        t_y = ty.member(cfgs[0], "output_t")
        t_s, t_rc = ty.member(collapse, "collapse_sum_t"), ty.member(collapse, "recip_t")
        kind = collapse.consts.get("collapse", 1)
        r2.reg_bits = FO * t_s.width
        if kind == 3:
            r2.ops.cmp_mux(VR * FO, t_y.width)
        else:
            r2.ops.add(VR * FO, t_s.width)
        r2.depth += dev.add_cycles(_levels(VR + 1))
        r2.name = "VertexOutCollapse"
        of = Ops()
        depth = 1
        if kind == 1:
            nvert = bool(collapse.consts.get("mean_by_nvert", False))
            shift = (not nvert) and _recip_constant_is_power_of_two(V, t_rc)
            of.mul(FO, t_s, t_rc, dev, const=not nvert, power_of_two=shift)
            depth += 0 if shift else dev.mul_stages
        return [r2, Region("CollapseOut", 1, depth, of, {tabs[1]: 1} if kind == 1 and collapse.consts.get(
            "mean_by_nvert") else {})]
    return [r2]


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
    from garnet_hls.core.topk import network_cost

    return network_cost(n_pad, n_block, log_block, n_levels, sort_final)


def gravnet_regions(s: Struct, ty: _Types, dev: Device, reuse: int | None = None,
                    tables: tuple[str, str, str] = ("exp_table", "recip_table", "tanh_table")) -> list[Region]:
    """[VertexIn, Query] of one GravNet layer (firmware/gravnet.h): the loops of gravnet_in and
    gravnet_query, two processes under the DATAFLOW top."""
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

