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
// The reuse factor R sets the parallelism: V/R vertices per clock, R clocks per vertex pass.
#ifndef GARNET_HLS_GARNET_H_
#define GARNET_HLS_GARNET_H_

#include "garnet_common.h"

namespace garnet_hls {

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

    typename CONFIG_T::edge_weight_t w[V][A];
    typename CONFIG_T::g_t g[V][G];
    typename CONFIG_T::agg_sum_t sum[A][G];
    typename CONFIG_T::agg_prod_t mx[A][G];
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
            sum[a][c] = 0;
            mx[a][c] = 0;
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
                    w[v][a] = 0;
                continue;
            }
            typename CONFIG_T::input_t xv[F];
            for (unsigned i = 0; i < F; i++)
                xv[i] = x[v * F + i]; // Q_in, once per vertex
            for (unsigned a = 0; a < A; a++) {
                typename CONFIG_T::dense_accum_t acc = s_bias[a];
                for (unsigned i = 0; i < F; i++)
                    acc += xv[i] * s_kernel[i * A + a];
                typename CONFIG_T::distance_t d = acc;
                w[v][a] = table_lookup<typename CONFIG_T::edge_weight_t, typename CONFIG_T::distance_t,
                                       CONFIG_T::exp_table_size>(exp_table, d);
            }
            for (unsigned p = 0; p < P; p++) {
                typename CONFIG_T::dense_accum_t acc = p_bias[p];
                for (unsigned i = 0; i < F; i++)
                    acc += xv[i] * p_kernel[i * P + p];
                typename CONFIG_T::feature_t f = acc;
                g[v][p] = f;
            }
            if (!CONFIG_T::simplified) {
                for (unsigned a = 0; a < A; a++)
                    g[v][P + a] = w[v][a];
            }
            for (unsigned a = 0; a < A; a++) {
                for (unsigned c = 0; c < G; c++) {
                    typename CONFIG_T::agg_prod_t prod = w[v][a] * g[v][c];
                    sum[a][c] += prod;
                    if (!CONFIG_T::simplified && (v == 0 || prod > mx[a][c]))
                        mx[a][c] = prod;
                }
            }
        }
    }

    // Aggregators: means (and maxima), then h_a . W_O[a] for every output filter.
    const typename CONFIG_T::recip_t recip = recip_table[CONFIG_T::mean_by_nvert ? n : V];
    typename CONFIG_T::hw_t hw[A][FO];
#pragma HLS ARRAY_PARTITION variable = hw complete dim = 0
Aggregators:
    for (unsigned a = 0; a < A; a++) {
#pragma HLS UNROLL
        typename CONFIG_T::aggregate_t h[H];
        for (unsigned c = 0; c < G; c++) {
            typename CONFIG_T::aggregate_t mean = sum[a][c] * recip;
            if (CONFIG_T::simplified) {
                h[c] = mean;
            } else {
                h[c] = (n == 0) ? typename CONFIG_T::aggregate_t(0) : typename CONFIG_T::aggregate_t(mx[a][c]);
                h[G + c] = mean;
            }
        }
        for (unsigned o = 0; o < FO; o++) {
            typename CONFIG_T::hw_t acc = 0;
            for (unsigned c = 0; c < H; c++)
                acc += h[c] * o_kernel[(U0 + a * H + c) * FO + o];
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
                    y[v * FO + o] = 0; // padding rows are 0
                continue;
            }
            typename CONFIG_T::input_t xv[F];
            if (!CONFIG_T::simplified) {
                for (unsigned i = 0; i < F; i++)
                    xv[i] = x[v * F + i];
            }
            for (unsigned o = 0; o < FO; o++) {
                typename CONFIG_T::pre_t pre = o_bias[o];
                for (unsigned a = 0; a < A; a++)
                    pre += w[v][a] * hw[a][o];
                if (!CONFIG_T::simplified) {
                    for (unsigned i = 0; i < F; i++)
                        pre += xv[i] * o_kernel[i * FO + o];
                    for (unsigned a = 0; a < A; a++)
                        pre += w[v][a] * o_kernel[(W0 + a) * FO + o];
                }
                y[v * FO + o] = activate<typename CONFIG_T::pre_t, typename CONFIG_T::preact_t, y_T,
                                         typename CONFIG_T::tanh_t, CONFIG_T::activation,
                                         CONFIG_T::tanh_table_size>(pre, tanh_table);
            }
        }
    }
}

} // namespace garnet_hls

#endif
