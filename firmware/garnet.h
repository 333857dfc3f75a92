// garnet-hls: the GarNet block kernel (simplified and full mode), io_parallel.
//
//   d_ia = Q_dist(x_i W_S + b_S)          w_ia = exp_table[d_ia] (0 for padding)
//   f_i  = Q_feat(x_i W_P + b_P)          g_i  = f_i | [f_i, w_i]
//   mean_a = Q_agg(sum_i w_ia g_i * recip_table[N])     max_a = Q_agg(max_valid_i w_ia g_i)  (full)
//   h_a  = mean_a | [max_a, mean_a]
//   y_i  = Q_out(act(sum_a w_ia (h_a . W_O[a]) + [x_i W_O,x + w_i W_O,w] + b_O))
//
// The output transform is reassociated (sum over a of w_ia times the exact dot product of h_a with
// its slice of W_O): every term is exact, so this equals the Keras layer's u_i W_O bit for bit while
// costing V*A*F_out instead of V*A*H*F_out multiplications.
//
// Arithmetic on codes (firmware/fixed_codes.h), as in GravNet: between the block's inputs and outputs
// every value is held as the integer code of its format (the config's <name>_c, derived in Python):
// exact sums and products are integer sums and products after aligning binary points by constant
// shifts, each rounding point rounds half to even and saturates (AP_RND_CONV, AP_SAT) as ap_fixed
// does, and the tables (exp, tanh) are indexed by the raw bits of the rounded code. The containers are
// ap_int / ap_uint of the format's exact width (64-bit integers only with GARNET_HLS_FAST_CSIM, for
// garnet-hls csim --fast).
//
// Passes. A block is two passes over the vertices with the aggregators between them: VertexIn
// (distances, edge weights, features, the sums of the aggregators) and VertexOut (the output transform),
// each a pipelined loop of R iterations handling V/R vertices per clock (the reuse factor R). VertexOut
// of block b and VertexIn of block b+1 run in the same loop iteration on the same vertices (block b+1
// consumes a vertex's outputs as they leave block b), and the collapse accumulates in the last block's
// VertexOut. A stack of B blocks is therefore B+1 pass functions, each one loop of R iterations, called in a
// row by the top function (hls4ml's template writes the calls), with the aggregators of each block
// as a small function of their own:
//
//   garnet_in<b0>          VertexIn of block 0
//   garnet_agg<b>          the aggregators of block b (between its two passes)
//   garnet_mid<b, b+1>     VertexOut of b fused with VertexIn of b+1
//   garnet_out<last>       VertexOut of the last block (writes y), or
//   garnet_out_collapse    ... with the collapse (mean / sum / max over the vertices) accumulated in it
//
// Between two passes the per-block state is held in arrays the top function declares: the edge weights
// w[V][A], the sums (and maxima) of the aggregators, their products hw with W_O and, in full mode, the
// block's input codes. Under the
// top's DATAFLOW each pass is a process of about R clocks, so a new event can enter every ~R clocks;
// under a PIPELINE top (Strategy Latency, R = 1) everything is unrolled into one pipeline of interval 1.
//
// Multipliers: the two products of variables (w . g into the aggregators, w . hw in the output
// transform) are bound to DSP blocks (RESOURCE core=DSP48; Vitis HLS reads it as BIND_OP impl=dsp): as
// LUTs a 10 x 16-bit or 10 x 28-bit product costs about 80-140 LUTs. The products by the (constant)
// weights stay where HLS puts them (LUTs for 8-bit weights).
//
// Tables: the exp (and tanh) tables are compact (garnet_hls.tables.compact_table, indexed through
// fold_index) and, when small, partitioned completely by the top function, so every vertex lane's read
// is its own logic; see docs/estimate.md.
#ifndef GARNET_HLS_GARNET_H_
#define GARNET_HLS_GARNET_H_

#include "fixed_codes.h"
#include "garnet_common.h"

namespace garnet_hls {

// The code (format OU) of y = Q_out(act(pre)), from the code of the exact pre-activation (format PR);
// tanh is read from the table (of output values) indexed by the code of Q_preact(pre) (format PA).
template <class PR, class PA, class OU, class tanh_T, unsigned ACT, unsigned TANH_N, unsigned TANH_FOLD>
inline typename OU::int_t activate_code(const typename PR::int_t &pre, const tanh_T tanh_table[TANH_N]) {
#pragma HLS INLINE
    if (ACT == act_tanh)
        return table_code<OU, PA, TANH_FOLD, TANH_N>(tanh_table, round_code<PA, PR>(pre));
    static const typename OU::int_t zero = 0;
    if (ACT == act_relu && code_ll(pre) < 0)
        return zero;
    return round_code<OU, PR>(pre);
}

// The formats and sizes of a block, from its config.
template <class CONFIG_T> struct garnet_dims {
    typedef typename CONFIG_T::input_c X;
    typedef typename CONFIG_T::kernel_c KW;
    typedef typename CONFIG_T::bias_c BW;
    typedef typename CONFIG_T::dense_accum_c DA;
    typedef typename CONFIG_T::distance_c DI;
    typedef typename CONFIG_T::edge_weight_c EW;
    typedef typename CONFIG_T::feature_c FE;
    typedef typename CONFIG_T::g_c GC;
    typedef typename CONFIG_T::agg_prod_c AP;
    typedef typename CONFIG_T::agg_sum_c AS;
    typedef typename CONFIG_T::recip_c RC;
    typedef typename CONFIG_T::mean_prod_c MP;
    typedef typename CONFIG_T::aggregate_c AG;
    typedef typename CONFIG_T::hw_c HW;
    typedef typename CONFIG_T::pre_c PR;
    typedef typename CONFIG_T::preact_c PA;
    typedef typename CONFIG_T::output_c OU;
    static const unsigned V = CONFIG_T::n_vertices;
    static const unsigned F = CONFIG_T::n_in;
    static const unsigned A = CONFIG_T::n_aggregators;
    static const unsigned P = CONFIG_T::n_propagate;
    static const unsigned G = CONFIG_T::n_g;
    static const unsigned H = CONFIG_T::n_h;
    static const unsigned Z = CONFIG_T::n_z;
    static const unsigned FO = CONFIG_T::n_out;
    static const unsigned R = CONFIG_T::reuse_factor;
    static const unsigned VR = V / R; // vertices in flight per clock
    static const unsigned NX = CONFIG_T::simplified ? 1 : V * F; // stored input codes (full mode)
    static const unsigned U0 = CONFIG_T::simplified ? 0 : F;     // offset of u in z
    static const unsigned W0 = U0 + A * H;                       // offset of w in z (full mode)
    // binary-point alignments into the exact formats (all >= 0 by construction of the formats)
    static const int SH_DA_X = DA::F - (X::F + KW::F), SH_DA_B = DA::F - BW::F;
    static const int SH_G_F = GC::F - FE::F, SH_G_W = GC::F - EW::F;
    static const int SH_HW = HW::F - (AG::F + KW::F);
    static const int SH_PR_WH = PR::F - (EW::F + HW::F), SH_PR_B = PR::F - BW::F;
    static const int SH_PR_X = PR::F - (X::F + KW::F), SH_PR_WK = PR::F - (EW::F + KW::F);
};

// The input side of block CONFIG_T for one vertex with input codes xv: its edge weights w[A] (0 for a
// padding vertex) and its contributions to the sums and maxima of the aggregators. The maxima start from
// the smallest code, so they are the maxima over the valid vertices (with none, the aggregator uses 0).
template <class CONFIG_T>
inline void garnet_vertex_in(const typename CONFIG_T::input_c::int_t xv[CONFIG_T::n_in], const bool valid,
                             const typename CONFIG_T::kernel_c::int_t sk[],
                             const typename CONFIG_T::bias_c::int_t sb[],
                             const typename CONFIG_T::kernel_c::int_t pk[],
                             const typename CONFIG_T::bias_c::int_t pb[],
                             const typename CONFIG_T::edge_weight_t exp_table[CONFIG_T::exp_table_size],
                             typename CONFIG_T::edge_weight_c::int_t w[CONFIG_T::n_aggregators],
                             typename CONFIG_T::agg_sum_c::int_t sum[],
                             typename CONFIG_T::agg_prod_c::int_t mx[]) {
#pragma HLS INLINE
    typedef garnet_dims<CONFIG_T> D;
    typedef typename D::DA DA;
    typedef typename D::EW EW;
    static const typename EW::int_t zero_ew = 0;
    // Padding vertices get w = 0 and no aggregation; their transforms are not needed (in hardware the
    // guard is a multiplexer, in C simulation it skips the work).
    if (!valid) {
        for (unsigned a = 0; a < D::A; a++)
            w[a] = zero_ew;
        return;
    }
    for (unsigned a = 0; a < D::A; a++) {
        typename DA::int_t acc = align_code<DA, D::SH_DA_B>(sb[a]);
        for (unsigned i = 0; i < D::F; i++)
            acc += mul_code<DA, D::SH_DA_X>(xv[i], sk[i * D::A + a]);
        const typename D::DI::int_t d = round_code<typename D::DI, DA>(acc);
        w[a] = table_code<EW, typename D::DI, CONFIG_T::exp_fold, CONFIG_T::exp_table_size>(exp_table, d);
    }
    typename D::GC::int_t g[D::G];
    for (unsigned p = 0; p < D::P; p++) {
        typename DA::int_t acc = align_code<DA, D::SH_DA_B>(pb[p]);
        for (unsigned i = 0; i < D::F; i++)
            acc += mul_code<DA, D::SH_DA_X>(xv[i], pk[i * D::P + p]);
        g[p] = align_code<typename D::GC, D::SH_G_F>(round_code<typename D::FE, DA>(acc));
    }
    if (!CONFIG_T::simplified) {
        for (unsigned a = 0; a < D::A; a++)
            g[D::P + a] = align_code<typename D::GC, D::SH_G_W>(w[a]);
    }
    for (unsigned a = 0; a < D::A; a++) {
        for (unsigned c = 0; c < D::G; c++) {
            const typename D::AP::int_t prod = mul_code<typename D::AP, 0>(w[a], g[c]);
#pragma HLS RESOURCE variable = prod core = DSP48
            sum[a * D::G + c] += prod;
            if (!CONFIG_T::simplified && code_ll(prod) > code_ll(mx[a * D::G + c]))
                mx[a * D::G + c] = prod;
        }
    }
}

// The aggregators of block CONFIG_T: means (and maxima) of the sums, then hw[a][o] = h_a . W_O[a][o].
template <class CONFIG_T>
inline void garnet_aggregate(const unsigned n, const typename CONFIG_T::agg_sum_c::int_t sum[],
                             const typename CONFIG_T::agg_prod_c::int_t mx[],
                             const typename CONFIG_T::kernel_c::int_t ok[],
                             const typename CONFIG_T::recip_t recip_table[CONFIG_T::recip_table_size],
                             typename CONFIG_T::hw_c::int_t hw[]) {
#pragma HLS INLINE
    typedef garnet_dims<CONFIG_T> D;
    typedef typename D::AG AG;
    typedef typename D::RC RC;
    static const typename AG::int_t zero_ag = 0;
    static const typename D::HW::int_t zero_hw = 0;
    // x 1/N: the table when N = nvtx, else the constant code of 1/V from the config (a shift when V is
    // a power of two)
    const typename RC::int_t recip_v = CONFIG_T::recip_v_code;
    const typename RC::int_t recip = CONFIG_T::mean_by_nvert ? to_code<RC>(recip_table[n]) : recip_v;
    // one aggregator per clock: its G means (and maxima) and F_out dot products are shared by the A
    // aggregators (they run once per event, the vertex passes R clocks each)
Aggregators:
    for (unsigned a = 0; a < D::A; a++) {
#pragma HLS PIPELINE II = 1
        typename AG::int_t h[D::H];
        for (unsigned c = 0; c < D::G; c++) {
            const typename AG::int_t mean =
                round_code<AG, typename D::MP>(mul_code<typename D::MP, 0>(sum[a * D::G + c], recip));
            if (CONFIG_T::simplified) {
                h[c] = mean;
            } else {
                h[c] = (n == 0) ? zero_ag : round_code<AG, typename D::AP>(mx[a * D::G + c]);
                h[D::G + c] = mean;
            }
        }
        for (unsigned o = 0; o < D::FO; o++) {
            typename D::HW::int_t acc = zero_hw;
            for (unsigned c = 0; c < D::H; c++)
                acc += mul_code<typename D::HW, D::SH_HW>(h[c], ok[(D::U0 + a * D::H + c) * D::FO + o]);
            hw[a * D::FO + o] = acc;
        }
    }
}

// The output side of block CONFIG_T for one valid vertex: the codes yv[FO] of its outputs.
template <class CONFIG_T>
inline void garnet_vertex_out(const typename CONFIG_T::input_c::int_t xv[], const typename CONFIG_T::edge_weight_c::int_t w[],
                              const typename CONFIG_T::hw_c::int_t hw[], const typename CONFIG_T::kernel_c::int_t ok[],
                              const typename CONFIG_T::bias_c::int_t ob[],
                              const typename CONFIG_T::tanh_t tanh_table[CONFIG_T::tanh_table_size],
                              typename CONFIG_T::output_c::int_t yv[CONFIG_T::n_out]) {
#pragma HLS INLINE
    typedef garnet_dims<CONFIG_T> D;
    typedef typename D::PR PR;
    for (unsigned o = 0; o < D::FO; o++) {
        typename PR::int_t pre = align_code<PR, D::SH_PR_B>(ob[o]);
        for (unsigned a = 0; a < D::A; a++) {
            const typename PR::int_t wh = mul_code<PR, D::SH_PR_WH>(w[a], hw[a * D::FO + o]);
#pragma HLS RESOURCE variable = wh core = DSP48
            pre += wh;
        }
        if (!CONFIG_T::simplified) {
            for (unsigned i = 0; i < D::F; i++)
                pre += mul_code<PR, D::SH_PR_X>(xv[i], ok[i * D::FO + o]);
            for (unsigned a = 0; a < D::A; a++)
                pre += mul_code<PR, D::SH_PR_WK>(w[a], ok[(D::W0 + a) * D::FO + o]);
        }
        yv[o] = activate_code<PR, typename D::PA, typename D::OU, typename CONFIG_T::tanh_t, CONFIG_T::activation,
                              CONFIG_T::tanh_table_size, CONFIG_T::tanh_fold>(pre, tanh_table);
    }
}

// The weights of a block as codes (registers: the weights are constants).
template <class CONFIG_T>
inline void garnet_in_weights(const typename CONFIG_T::kernel_t s_kernel[], const typename CONFIG_T::bias_t s_bias[],
                              const typename CONFIG_T::kernel_t p_kernel[], const typename CONFIG_T::bias_t p_bias[],
                              typename CONFIG_T::kernel_c::int_t sk[], typename CONFIG_T::bias_c::int_t sb[],
                              typename CONFIG_T::kernel_c::int_t pk[], typename CONFIG_T::bias_c::int_t pb[]) {
#pragma HLS INLINE
    typedef garnet_dims<CONFIG_T> D;
    codes_of<typename D::KW, typename CONFIG_T::kernel_t, D::F * D::A>(s_kernel, sk);
    codes_of<typename D::KW, typename CONFIG_T::kernel_t, D::F * D::P>(p_kernel, pk);
    codes_of<typename D::BW, typename CONFIG_T::bias_t, D::A>(s_bias, sb);
    codes_of<typename D::BW, typename CONFIG_T::bias_t, D::P>(p_bias, pb);
}

template <class CONFIG_T> inline void garnet_init_aggregators(typename CONFIG_T::agg_sum_c::int_t sum[],
                                                              typename CONFIG_T::agg_prod_c::int_t mx[]) {
#pragma HLS INLINE
    typedef garnet_dims<CONFIG_T> D;
    static const typename D::AS::int_t zero_as = 0;
    static const typename D::AP::int_t min_ap = D::AP::code_min;
    for (unsigned i = 0; i < D::A * D::G; i++) {
#pragma HLS UNROLL
        sum[i] = zero_as;
        mx[i] = min_ap;
    }
}

// The state one block hands from its VertexIn to its VertexOut (arrays of the top function):
//   w[V * A]   edge weights           sum[A * G], mx[A * G]   the aggregators' sums and maxima
//   xs[NX]     the block's input codes (full mode only; NX = 1 in simplified mode)

// VertexIn of the first block of a stack.
template <class x_T, class CONFIG_T>
void garnet_in(const x_T x[CONFIG_T::n_vertices * CONFIG_T::n_in], const unsigned nvtx,
               typename CONFIG_T::edge_weight_c::int_t w[CONFIG_T::n_vertices * CONFIG_T::n_aggregators],
               typename CONFIG_T::agg_sum_c::int_t sum_out[CONFIG_T::n_aggregators * CONFIG_T::n_g],
               typename CONFIG_T::agg_prod_c::int_t mx_out[CONFIG_T::n_aggregators * CONFIG_T::n_g],
               typename CONFIG_T::input_c::int_t xs[garnet_dims<CONFIG_T>::NX],
               const typename CONFIG_T::kernel_t s_kernel[CONFIG_T::n_in * CONFIG_T::n_aggregators],
               const typename CONFIG_T::bias_t s_bias[CONFIG_T::n_aggregators],
               const typename CONFIG_T::kernel_t p_kernel[CONFIG_T::n_in * CONFIG_T::n_propagate],
               const typename CONFIG_T::bias_t p_bias[CONFIG_T::n_propagate],
               const typename CONFIG_T::edge_weight_t exp_table[CONFIG_T::exp_table_size]) {
    typedef garnet_dims<CONFIG_T> D;
    typedef typename D::X X;
    const unsigned n = clamp_nvtx<D::V>(nvtx);
    typename D::KW::int_t sk[D::F * D::A], pk[D::F * D::P];
    typename D::BW::int_t sb[D::A], pb[D::P];
#pragma HLS ARRAY_PARTITION variable = sk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = sb complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pb complete dim = 0
    garnet_in_weights<CONFIG_T>(s_kernel, s_bias, p_kernel, p_bias, sk, sb, pk, pb);
    typename D::AS::int_t sum[D::A * D::G];
    typename D::AP::int_t mx[D::A * D::G];
#pragma HLS ARRAY_PARTITION variable = sum complete dim = 0
#pragma HLS ARRAY_PARTITION variable = mx complete dim = 0
    garnet_init_aggregators<CONFIG_T>(sum, mx);
    static const typename X::int_t zero_x = 0;

VertexIn:
    for (unsigned ir = 0; ir < D::R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < D::VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * D::R + ir;
            const bool valid = v < n;
            typename X::int_t xv[D::F];
            typename D::EW::int_t wv[D::A];
            for (unsigned i = 0; i < D::F; i++)
                xv[i] = valid ? to_code_as<X, typename CONFIG_T::input_t>(x[v * D::F + i]) : zero_x; // Q_in
            garnet_vertex_in<CONFIG_T>(xv, valid, sk, sb, pk, pb, exp_table, wv, sum, mx);
            for (unsigned a = 0; a < D::A; a++)
                w[v * D::A + a] = wv[a];
            if (!CONFIG_T::simplified) {
                for (unsigned i = 0; i < D::F; i++)
                    xs[v * D::F + i] = xv[i];
            }
        }
    }
    for (unsigned i = 0; i < D::A * D::G; i++) {
#pragma HLS UNROLL
        sum_out[i] = sum[i];
        mx_out[i] = mx[i];
    }
}

// The aggregators of a block (a process of its own between the block's two passes): means (and
// maxima) of the sums, and hw[a][o] = h_a . W_O[a][o], which the block's VertexOut reads.
template <class CONFIG_T>
void garnet_agg(const unsigned nvtx, const typename CONFIG_T::agg_sum_c::int_t sum[CONFIG_T::n_aggregators * CONFIG_T::n_g],
                const typename CONFIG_T::agg_prod_c::int_t mx[CONFIG_T::n_aggregators * CONFIG_T::n_g],
                const typename CONFIG_T::kernel_t o_kernel[CONFIG_T::n_z * CONFIG_T::n_out],
                const typename CONFIG_T::recip_t recip_table[CONFIG_T::recip_table_size],
                typename CONFIG_T::hw_c::int_t hw[CONFIG_T::n_aggregators * CONFIG_T::n_out]) {
    typedef garnet_dims<CONFIG_T> D;
    const unsigned n = clamp_nvtx<D::V>(nvtx);
    typename D::KW::int_t ok[D::Z * D::FO];
#pragma HLS ARRAY_PARTITION variable = ok complete dim = 0
    codes_of<typename D::KW, typename CONFIG_T::kernel_t, D::Z * D::FO>(o_kernel, ok);
    garnet_aggregate<CONFIG_T>(n, sum, mx, ok, recip_table, hw);
}

// VertexOut of block CA fused with VertexIn of the next block CB: a vertex's outputs enter block CB in
// the clock they leave block CA.
template <class CA, class CB>
void garnet_mid(const unsigned nvtx,
                const typename CA::edge_weight_c::int_t w_a[CA::n_vertices * CA::n_aggregators],
                const typename CA::hw_c::int_t hw[CA::n_aggregators * CA::n_out],
                const typename CA::input_c::int_t xs_a[garnet_dims<CA>::NX],
                const typename CA::kernel_t o_kernel[CA::n_z * CA::n_out], const typename CA::bias_t o_bias[CA::n_out],
                const typename CA::tanh_t tanh_table[CA::tanh_table_size],
                typename CB::edge_weight_c::int_t w_b[CB::n_vertices * CB::n_aggregators],
                typename CB::agg_sum_c::int_t sum_out[CB::n_aggregators * CB::n_g],
                typename CB::agg_prod_c::int_t mx_out[CB::n_aggregators * CB::n_g],
                typename CB::input_c::int_t xs_b[garnet_dims<CB>::NX],
                const typename CB::kernel_t s_kernel[CB::n_in * CB::n_aggregators],
                const typename CB::bias_t s_bias[CB::n_aggregators],
                const typename CB::kernel_t p_kernel[CB::n_in * CB::n_propagate],
                const typename CB::bias_t p_bias[CB::n_propagate],
                const typename CB::edge_weight_t exp_table[CB::exp_table_size]) {
    typedef garnet_dims<CA> DA_;
    typedef garnet_dims<CB> DB;
    typedef typename DB::X XB;
    const unsigned n = clamp_nvtx<DA_::V>(nvtx);
    typename DA_::KW::int_t ok[DA_::Z * DA_::FO];
    typename DA_::BW::int_t ob[DA_::FO];
#pragma HLS ARRAY_PARTITION variable = ok complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ob complete dim = 0
    codes_of<typename DA_::KW, typename CA::kernel_t, DA_::Z * DA_::FO>(o_kernel, ok);
    codes_of<typename DA_::BW, typename CA::bias_t, DA_::FO>(o_bias, ob);
    typename DB::KW::int_t sk[DB::F * DB::A], pk[DB::F * DB::P];
    typename DB::BW::int_t sb[DB::A], pb[DB::P];
#pragma HLS ARRAY_PARTITION variable = sk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = sb complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pb complete dim = 0
    garnet_in_weights<CB>(s_kernel, s_bias, p_kernel, p_bias, sk, sb, pk, pb);

    typename DB::AS::int_t sum[DB::A * DB::G];
    typename DB::AP::int_t mx[DB::A * DB::G];
#pragma HLS ARRAY_PARTITION variable = sum complete dim = 0
#pragma HLS ARRAY_PARTITION variable = mx complete dim = 0
    garnet_init_aggregators<CB>(sum, mx);
    static const typename XB::int_t zero_x = 0;

VertexOutIn:
    for (unsigned ir = 0; ir < DA_::R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < DA_::VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * DA_::R + ir;
            const bool valid = v < n;
            typename XB::int_t xv[DB::F];
            if (valid) {
                typename DA_::X::int_t xa[DA_::F];
                typename DA_::EW::int_t wa[DA_::A];
                typename DA_::OU::int_t yv[DA_::FO];
                for (unsigned a = 0; a < DA_::A; a++)
                    wa[a] = w_a[v * DA_::A + a];
                if (!CA::simplified) {
                    for (unsigned i = 0; i < DA_::F; i++)
                        xa[i] = xs_a[v * DA_::F + i];
                }
                garnet_vertex_out<CA>(xa, wa, hw, ok, ob, tanh_table, yv);
                for (unsigned i = 0; i < DB::F; i++) // block CB's input quantizer on block CA's output
                    xv[i] = to_code_as<XB, typename CB::input_t>(from_code<typename CA::output_t, typename DA_::OU>(yv[i]));
            } else {
                for (unsigned i = 0; i < DB::F; i++)
                    xv[i] = zero_x;
            }
            typename DB::EW::int_t wv[DB::A];
            garnet_vertex_in<CB>(xv, valid, sk, sb, pk, pb, exp_table, wv, sum, mx);
            for (unsigned a = 0; a < DB::A; a++)
                w_b[v * DB::A + a] = wv[a];
            if (!CB::simplified) {
                for (unsigned i = 0; i < DB::F; i++)
                    xs_b[v * DB::F + i] = xv[i];
            }
        }
    }
    for (unsigned i = 0; i < DB::A * DB::G; i++) {
#pragma HLS UNROLL
        sum_out[i] = sum[i];
        mx_out[i] = mx[i];
    }
}

// VertexOut of the last block: y[V * FO] (padding rows 0).
template <class CONFIG_T, class y_T>
void garnet_out(const unsigned nvtx,
                const typename CONFIG_T::edge_weight_c::int_t w[CONFIG_T::n_vertices * CONFIG_T::n_aggregators],
                const typename CONFIG_T::hw_c::int_t hw[CONFIG_T::n_aggregators * CONFIG_T::n_out],
                const typename CONFIG_T::input_c::int_t xs[garnet_dims<CONFIG_T>::NX],
                const typename CONFIG_T::kernel_t o_kernel[CONFIG_T::n_z * CONFIG_T::n_out],
                const typename CONFIG_T::bias_t o_bias[CONFIG_T::n_out],
                const typename CONFIG_T::tanh_t tanh_table[CONFIG_T::tanh_table_size],
                y_T y[CONFIG_T::n_vertices * CONFIG_T::n_out]) {
    typedef garnet_dims<CONFIG_T> D;
    const unsigned n = clamp_nvtx<D::V>(nvtx);
    typename D::KW::int_t ok[D::Z * D::FO];
    typename D::BW::int_t ob[D::FO];
#pragma HLS ARRAY_PARTITION variable = ok complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ob complete dim = 0
    codes_of<typename D::KW, typename CONFIG_T::kernel_t, D::Z * D::FO>(o_kernel, ok);
    codes_of<typename D::BW, typename CONFIG_T::bias_t, D::FO>(o_bias, ob);
    static const typename D::OU::int_t zero_ou = 0;

VertexOut:
    for (unsigned ir = 0; ir < D::R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < D::VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * D::R + ir;
            typename D::OU::int_t yv[D::FO];
            if (v < n) {
                typename D::X::int_t xv[D::F];
                typename D::EW::int_t wv[D::A];
                for (unsigned a = 0; a < D::A; a++)
                    wv[a] = w[v * D::A + a];
                if (!CONFIG_T::simplified) {
                    for (unsigned i = 0; i < D::F; i++)
                        xv[i] = xs[v * D::F + i];
                }
                garnet_vertex_out<CONFIG_T>(xv, wv, hw, ok, ob, tanh_table, yv);
            } else {
                for (unsigned o = 0; o < D::FO; o++)
                    yv[o] = zero_ou; // padding rows are 0
            }
            for (unsigned o = 0; o < D::FO; o++)
                store_code<typename D::OU, typename CONFIG_T::output_t>(y[v * D::FO + o], yv[o]);
        }
    }
}

// VertexOut of the last block with the collapse over the vertices (CCFG: mean, sum or
// max) accumulated as the vertices leave: res[FO]. The same arithmetic as graph_collapse on the block's
// outputs: exact sums of the output codes (padding rows count 0), the maximum over the valid rows.
template <class CONFIG_T, class CCFG, class res_T>
void garnet_out_collapse(const unsigned nvtx,
                         const typename CONFIG_T::edge_weight_c::int_t w[CONFIG_T::n_vertices * CONFIG_T::n_aggregators],
                         const typename CONFIG_T::hw_c::int_t hw[CONFIG_T::n_aggregators * CONFIG_T::n_out],
                         const typename CONFIG_T::input_c::int_t xs[garnet_dims<CONFIG_T>::NX],
                         const typename CONFIG_T::kernel_t o_kernel[CONFIG_T::n_z * CONFIG_T::n_out],
                         const typename CONFIG_T::bias_t o_bias[CONFIG_T::n_out],
                         const typename CONFIG_T::recip_t recip_table[CONFIG_T::recip_table_size],
                         const typename CONFIG_T::tanh_t tanh_table[CONFIG_T::tanh_table_size],
                         res_T res[CONFIG_T::n_out]) {
    typedef garnet_dims<CONFIG_T> D;
    typedef typename D::OU YC;
    typedef typename CCFG::collapse_sum_t sum_T;
    typedef typename code_of<sum_T>::type CS;
    const int SH = CS::F - YC::F; // >= 0: the sum is exact
    const unsigned n = clamp_nvtx<D::V>(nvtx);
    typename D::KW::int_t ok[D::Z * D::FO];
    typename D::BW::int_t ob[D::FO];
#pragma HLS ARRAY_PARTITION variable = ok complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ob complete dim = 0
    codes_of<typename D::KW, typename CONFIG_T::kernel_t, D::Z * D::FO>(o_kernel, ok);
    codes_of<typename D::BW, typename CONFIG_T::bias_t, D::FO>(o_bias, ob);

    typename CS::int_t csum[D::FO];
    typename YC::int_t cmax[D::FO];
#pragma HLS ARRAY_PARTITION variable = csum complete dim = 0
#pragma HLS ARRAY_PARTITION variable = cmax complete dim = 0
    static const typename CS::int_t zero_cs = 0;
    static const typename YC::int_t min_y = YC::code_min;
    for (unsigned o = 0; o < D::FO; o++) {
#pragma HLS UNROLL
        csum[o] = zero_cs;
        cmax[o] = min_y;
    }

VertexOutCollapse:
    for (unsigned ir = 0; ir < D::R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < D::VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * D::R + ir;
            if (v < n) { // padding rows are 0: they add nothing and are not in the maximum
                typename D::X::int_t xv[D::F];
                typename D::EW::int_t wv[D::A];
                typename YC::int_t yv[D::FO];
                for (unsigned a = 0; a < D::A; a++)
                    wv[a] = w[v * D::A + a];
                if (!CONFIG_T::simplified) {
                    for (unsigned i = 0; i < D::F; i++)
                        xv[i] = xs[v * D::F + i];
                }
                garnet_vertex_out<CONFIG_T>(xv, wv, hw, ok, ob, tanh_table, yv);
                for (unsigned o = 0; o < D::FO; o++) {
                    if (CCFG::collapse == collapse_max) {
                        if (code_ll(yv[o]) > code_ll(cmax[o]))
                            cmax[o] = yv[o];
                    } else {
                        csum[o] += align_code<CS, (SH > 0 ? SH : 0)>(yv[o]);
                    }
                }
            }
        }
    }

CollapseOut:
    for (unsigned o = 0; o < D::FO; o++) {
#pragma HLS UNROLL
        if (CCFG::collapse == collapse_max) {
            res[o] = (n == 0) ? res_T(0) : res_T(from_code<typename CONFIG_T::output_t, YC>(cmax[o]));
        } else {
            const sum_T s = from_code<sum_T, CS>(csum[o]);
            if (CCFG::collapse == collapse_sum) {
                res[o] = res_T(typename CONFIG_T::output_t(s)); // the layer's output type first (see
            } else {                                            // graph_collapse)
                // x 1/N: from the table when N = nvtx, else the constant 1/V (a shift when V is a power of 2)
                typedef typename code_of<typename CCFG::recip_t>::type RC;
                const typename CCFG::recip_t r =
                    CCFG::mean_by_nvert ? recip_table[n] : from_code<typename CCFG::recip_t, RC>(CCFG::recip_v_code);
                res[o] = res_T(typename CONFIG_T::output_t(s * r));
            }
        }
    }
}

} // namespace garnet_hls

#endif
