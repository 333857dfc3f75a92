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
// The reuse factor R sets the parallelism: V/R vertices per clock, R clocks per vertex pass.
#ifndef GARNET_HLS_GARNET_H_
#define GARNET_HLS_GARNET_H_

#include "fixed_codes.h"
#include "garnet_common.h"

namespace garnet_hls {

// The code (format OU) of y = Q_out(act(pre)), from the code of the exact pre-activation (format PR);
// tanh is read from the table (of output values) indexed by the code of Q_preact(pre) (format PA).
template <class PR, class PA, class OU, class tanh_T, unsigned ACT, unsigned TANH_N>
inline typename OU::int_t activate_code(const typename PR::int_t &pre, const tanh_T tanh_table[TANH_N]) {
#pragma HLS INLINE
    if (ACT == act_tanh)
        return to_code<OU>(tanh_table[code_index<PA>(round_code<PA, PR>(pre))]);
    static const typename OU::int_t zero = 0;
    if (ACT == act_relu && code_ll(pre) < 0)
        return zero;
    return round_code<OU, PR>(pre);
}

template <class x_T, class y_T, class CONFIG_T>
void garnet_block(const x_T x[CONFIG_T::n_vertices * CONFIG_T::n_in], const unsigned nvtx,
                  y_T y[CONFIG_T::n_vertices * CONFIG_T::n_out],
                  const typename CONFIG_T::kernel_t s_kernel[CONFIG_T::n_in * CONFIG_T::n_aggregators],
                  const typename CONFIG_T::bias_t s_bias[CONFIG_T::n_aggregators],
                  const typename CONFIG_T::kernel_t p_kernel[CONFIG_T::n_in * CONFIG_T::n_propagate],
                  const typename CONFIG_T::bias_t p_bias[CONFIG_T::n_propagate],
                  const typename CONFIG_T::kernel_t o_kernel[CONFIG_T::n_z * CONFIG_T::n_out],
                  const typename CONFIG_T::bias_t o_bias[CONFIG_T::n_out],
                  const typename CONFIG_T::edge_weight_t exp_table[CONFIG_T::exp_table_size],
                  const typename CONFIG_T::recip_t recip_table[CONFIG_T::recip_table_size],
                  const typename CONFIG_T::tanh_t tanh_table[CONFIG_T::tanh_table_size]) {
    // code formats (fixed_code) of the quantization points and of the exact intermediate values
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

    const unsigned V = CONFIG_T::n_vertices;
    const unsigned F = CONFIG_T::n_in;
    const unsigned A = CONFIG_T::n_aggregators;
    const unsigned P = CONFIG_T::n_propagate;
    const unsigned G = CONFIG_T::n_g;
    const unsigned H = CONFIG_T::n_h;
    const unsigned FO = CONFIG_T::n_out;
    const unsigned R = CONFIG_T::reuse_factor;
    const unsigned VR = V / R; // vertices in flight per clock
    const unsigned U0 = CONFIG_T::simplified ? 0 : F;      // offset of u in z
    const unsigned W0 = U0 + A * H;                        // offset of w in z (full mode)
    const unsigned n = clamp_nvtx<V>(nvtx);

    // binary-point alignments into the exact formats (all >= 0 by construction of the formats)
    const int SH_DA_X = DA::F - (X::F + KW::F), SH_DA_B = DA::F - BW::F;
    const int SH_G_F = GC::F - FE::F, SH_G_W = GC::F - EW::F;
    const int SH_HW = HW::F - (AG::F + KW::F);
    const int SH_PR_WH = PR::F - (EW::F + HW::F), SH_PR_B = PR::F - BW::F;
    const int SH_PR_X = PR::F - (X::F + KW::F), SH_PR_WK = PR::F - (EW::F + KW::F);

    // weights as codes
    typename KW::int_t sk[F * A], pk[F * P], ok[CONFIG_T::n_z * FO];
    typename BW::int_t sb[A], pb[P], ob[FO];
#pragma HLS ARRAY_PARTITION variable = sk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ok complete dim = 0
#pragma HLS ARRAY_PARTITION variable = sb complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pb complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ob complete dim = 0
Weights:
    codes_of<KW, typename CONFIG_T::kernel_t, F * A>(s_kernel, sk);
    codes_of<KW, typename CONFIG_T::kernel_t, F * P>(p_kernel, pk);
    codes_of<KW, typename CONFIG_T::kernel_t, CONFIG_T::n_z * FO>(o_kernel, ok);
    codes_of<BW, typename CONFIG_T::bias_t, A>(s_bias, sb);
    codes_of<BW, typename CONFIG_T::bias_t, P>(p_bias, pb);
    codes_of<BW, typename CONFIG_T::bias_t, FO>(o_bias, ob);

    // zero codes, made once (C simulation makes an ap_int from an integer slowly)
    const typename EW::int_t zero_ew = 0;
    const typename AS::int_t zero_as = 0;
    const typename AP::int_t zero_ap = 0;
    const typename AG::int_t zero_ag = 0;
    const typename HW::int_t zero_hw = 0;
    const typename OU::int_t zero_ou = 0;

    typename EW::int_t w[V][A];
    typename GC::int_t g[V][G];
    typename AS::int_t sum[A][G];
    typename AP::int_t mx[A][G];
#pragma HLS ARRAY_PARTITION variable = w block factor = VR dim = 1
#pragma HLS ARRAY_PARTITION variable = w complete dim = 2
#pragma HLS ARRAY_PARTITION variable = g block factor = VR dim = 1
#pragma HLS ARRAY_PARTITION variable = g complete dim = 2
#pragma HLS ARRAY_PARTITION variable = sum complete dim = 0
#pragma HLS ARRAY_PARTITION variable = mx complete dim = 0

InitAgg:
    for (unsigned a = 0; a < A; a++) {
#pragma HLS UNROLL
        for (unsigned c = 0; c < G; c++) {
#pragma HLS UNROLL
            sum[a][c] = zero_as;
            mx[a][c] = zero_ap;
        }
    }

    // Pass 1: learned distances, edge weights, propagated features, vertex -> aggregator.
VertexIn:
    for (unsigned ir = 0; ir < R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * R + ir;
            const bool valid = v < n;
            // Padding vertices get w = 0 and no aggregation; their transforms are not needed (in
            // hardware the guard is a multiplexer, in C simulation it skips the work).
            if (!valid) {
                for (unsigned a = 0; a < A; a++)
                    w[v][a] = zero_ew;
                continue;
            }
            typename X::int_t xv[F];
            for (unsigned i = 0; i < F; i++)
                xv[i] = to_code_as<X, typename CONFIG_T::input_t>(x[v * F + i]); // Q_in, once per vertex
            for (unsigned a = 0; a < A; a++) {
                typename DA::int_t acc = align_code<DA, SH_DA_B>(sb[a]);
                for (unsigned i = 0; i < F; i++)
                    acc += mul_code<DA, SH_DA_X>(xv[i], sk[i * A + a]);
                const typename DI::int_t d = round_code<DI, DA>(acc);
                w[v][a] = to_code<EW>(exp_table[code_index<DI>(d)]);
            }
            for (unsigned p = 0; p < P; p++) {
                typename DA::int_t acc = align_code<DA, SH_DA_B>(pb[p]);
                for (unsigned i = 0; i < F; i++)
                    acc += mul_code<DA, SH_DA_X>(xv[i], pk[i * P + p]);
                g[v][p] = align_code<GC, SH_G_F>(round_code<FE, DA>(acc));
            }
            if (!CONFIG_T::simplified) {
                for (unsigned a = 0; a < A; a++)
                    g[v][P + a] = align_code<GC, SH_G_W>(w[v][a]);
            }
            for (unsigned a = 0; a < A; a++) {
                for (unsigned c = 0; c < G; c++) {
                    const typename AP::int_t prod = mul_code<AP, 0>(w[v][a], g[v][c]);
                    sum[a][c] += prod;
                    if (!CONFIG_T::simplified && (v == 0 || code_ll(prod) > code_ll(mx[a][c])))
                        mx[a][c] = prod;
                }
            }
        }
    }

    // Aggregators: means (and maxima), then h_a . W_O[a] for every output filter.
    const typename RC::int_t recip = to_code<RC>(recip_table[CONFIG_T::mean_by_nvert ? n : V]);
    typename HW::int_t hw[A][FO];
#pragma HLS ARRAY_PARTITION variable = hw complete dim = 0
Aggregators:
    for (unsigned a = 0; a < A; a++) {
#pragma HLS UNROLL
        typename AG::int_t h[H];
        for (unsigned c = 0; c < G; c++) {
            const typename AG::int_t mean = round_code<AG, MP>(mul_code<MP, 0>(sum[a][c], recip));
            if (CONFIG_T::simplified) {
                h[c] = mean;
            } else {
                h[c] = (n == 0) ? zero_ag : round_code<AG, AP>(mx[a][c]);
                h[G + c] = mean;
            }
        }
        for (unsigned o = 0; o < FO; o++) {
            typename HW::int_t acc = zero_hw;
            for (unsigned c = 0; c < H; c++)
                acc += mul_code<HW, SH_HW>(h[c], ok[(U0 + a * H + c) * FO + o]);
            hw[a][o] = acc;
        }
    }

    // Pass 2: aggregator -> vertex and the output transform.
VertexOut:
    for (unsigned ir = 0; ir < R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * R + ir;
            if (v >= n) {
                for (unsigned o = 0; o < FO; o++)
                    store_code<OU, typename CONFIG_T::output_t>(y[v * FO + o], zero_ou); // padding rows are 0
                continue;
            }
            typename X::int_t xv[F];
            if (!CONFIG_T::simplified) {
                for (unsigned i = 0; i < F; i++)
                    xv[i] = to_code_as<X, typename CONFIG_T::input_t>(x[v * F + i]);
            }
            for (unsigned o = 0; o < FO; o++) {
                typename PR::int_t pre = align_code<PR, SH_PR_B>(ob[o]);
                for (unsigned a = 0; a < A; a++)
                    pre += mul_code<PR, SH_PR_WH>(w[v][a], hw[a][o]);
                if (!CONFIG_T::simplified) {
                    for (unsigned i = 0; i < F; i++)
                        pre += mul_code<PR, SH_PR_X>(xv[i], ok[i * FO + o]);
                    for (unsigned a = 0; a < A; a++)
                        pre += mul_code<PR, SH_PR_WK>(w[v][a], ok[(W0 + a) * FO + o]);
                }
                store_code<OU, typename CONFIG_T::output_t>(
                    y[v * FO + o], activate_code<PR, PA, OU, typename CONFIG_T::tanh_t, CONFIG_T::activation,
                                                 CONFIG_T::tanh_table_size>(pre, tanh_table));
            }
        }
    }
}

} // namespace garnet_hls

#endif
