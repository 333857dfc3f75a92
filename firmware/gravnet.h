// garnet-hls: the GravNet layer kernel, io_parallel.
//
//   s_i  = Q_coord(x_i W_S + b_S)          f_i = Q_feat(x_i W_P + b_P)
//   d_ij = Q_dist(sum_s (s_is - s_js)^2)   (or sum_s |s_is - s_js| for l1; the sum is exact)
//   N(i) = the k valid j != i first in ascending (d_ij, j) order       (a fixed selection network)
//   w_ij = exp_table[d_ij]                 (0 for an empty slot)
//   mean_i = Q_agg(sum_{j in N(i)} w_ij f_j * recip_table[k])    max_i = Q_agg(max_{j in N(i)} w_ij f_j)
//   y_i  = Q_out(act([x_i, mean_i, max_i] W_O + b_O)),  padding rows 0
//
// Arithmetic on codes. Between the layer's inputs and outputs every value is held as its integer code
// (value = code * 2^-F for its fixed-point format F): exact sums and products are integer sums and
// products after aligning the binary points by constant shifts, and each rounding point rounds half to
// even and saturates (AP_RND_CONV, AP_SAT), as ap_fixed would. The formats (fixed_code<W, I, signed>)
// come from the generated config; every exact format is wide enough for its worst case, and at most 62
// bits wide (checked when the project is generated). The container of a code is ap_int<W> / ap_uint<W>:
// C simulation and synthesis run the same code. Only for fast C simulation (garnet-hls csim --fast)
// may GARNET_HLS_FAST_CSIM be defined, which holds the same codes in 64-bit integers (an integer that
// fits both gives the same result in both; a test checks the two bit for bit). It must never be
// defined for synthesis. The exact pre-activation goes back into ap_fixed for activate<>
// (garnet_common.h), as in GarNet.
//
// Neighbour selection. Each candidate j of query vertex i becomes one unsigned key
//
//   key_ij = [empty : 1 bit][code of d_ij : DW bits][j : IB bits]
//
// with empty = 1 for j = i, an invalid j or one of the padding slots up to the power of two N >= V.
// Keys are distinct for distinct j and their order is the order (d_ij, j) with every empty key above
// every real one (d_ij >= 0). The k smallest keys are the neighbours, ties in d going to the lower j.
//
// The network is a pruned bitonic sorter (a bitonic top-K): with K = k rounded up to a power of two,
//   1. bitonic-sort the N/K blocks of K keys, block b ascending for even b, descending for odd b;
//   2. log2(N/K) merge levels: blocks 2b (ascending) and 2b+1 (descending) -> their K smallest keys
//      as min(a_t, b_t), t < K (a bitonic sequence), then a bitonic merge (log2 K stages) sorts it
//      ascending/descending as block b of the next level needs. The last level skips the merge when
//      k == K: the K smallest keys are the neighbours, and the aggregates (an exact sum and a max) do
//      not depend on their order.
// Every compare-exchange and its position are fixed by (V, k): the network has no data-dependent control. Comparators
// and stages: garnet_hls.hls.gravnet.topk_network_cost(V, k).
//
// The reuse factor R sets the parallelism: V/R query vertices per clock, R clocks per pass. The two
// passes are two functions, gravnet_in and gravnet_query, called in a row by the top function with the
// per-vertex state (input codes, coordinates, features) in arrays between them: under the DATAFLOW top
// each is a process, so a new event enters when the slower (gravnet_query, about R clocks plus its
// pipeline depth) is free.
#ifndef GARNET_HLS_GRAVNET_H_
#define GARNET_HLS_GRAVNET_H_

#include "fixed_codes.h"
#include "garnet_common.h"

namespace garnet_hls {

// ------------------------------------------------------------------------------------------------
// The selection network
// ------------------------------------------------------------------------------------------------

// After the call a <= b when up, a >= b otherwise.
template <class key_T> inline void gravnet_cmp_swap(key_T &a, key_T &b, const bool up) {
#pragma HLS INLINE
    const bool lt = b < a;
    const key_T lo = lt ? b : a;
    const key_T hi = lt ? a : b;
    a = up ? lo : hi;
    b = up ? hi : lo;
}

// The K = n_block smallest of the n_pad keys, in keys[0 .. K). Sorted ascending unless
// CONFIG_T::sort_final is false (then in bitonic order).
template <class CONFIG_T, class key_T> void gravnet_select(key_T keys[CONFIG_T::n_pad]) {
#pragma HLS INLINE
    const unsigned N = CONFIG_T::n_pad;
    const unsigned K = CONFIG_T::n_block;
    const unsigned LK = CONFIG_T::log_block;
    const unsigned L = CONFIG_T::n_levels;

    // 1. Bitonic sort of every block of K keys. Phase ls builds sorted runs of 2^ls keys, ascending
    //    where bit ls of the position is 0: after the last phase block b is ascending for even b.
SortPhase:
    for (unsigned ls = 1; ls <= LK; ls++) {
    SortStage:
        for (unsigned lt = LK; lt >= 1; lt--) {
            if (lt <= ls) {
                const unsigned t = 1u << (lt - 1); // compare positions g + q and g + q + t
            SortGroup:
                for (unsigned g = 0; g < N; g += 2 * t) {
                    const bool up = ((g >> ls) & 1) == 0;
                SortPair:
                    for (unsigned q = 0; q < t; q++)
                        gravnet_cmp_swap(keys[g + q], keys[g + q + t], up);
                }
            }
        }
    }

    // 2. Merge levels: block b of level l holds the K smallest keys of blocks 2b and 2b+1 of level l-1.
MergeLevel:
    for (unsigned l = 1; l <= L; l++) {
        const unsigned nb = (N / K) >> l; // blocks after this level
        const bool merge = l < L || CONFIG_T::sort_final;
    MergeBlock:
        for (unsigned b = 0; b < N / K / 2; b++) {
            if (b < nb) {
            MergeMin:
                for (unsigned t = 0; t < K; t++) {
                    const key_T u = keys[2 * b * K + t];
                    const key_T v = keys[(2 * b + 1) * K + t];
                    keys[b * K + t] = (v < u) ? v : u;
                }
                if (merge) {
                MergeStage:
                    for (unsigned lt = LK; lt >= 1; lt--) {
                        const unsigned t = 1u << (lt - 1);
                    MergeGroup:
                        for (unsigned g = b * K; g < (b + 1) * K; g += 2 * t) {
                        MergePair:
                            for (unsigned q = 0; q < t; q++)
                                gravnet_cmp_swap(keys[g + q], keys[g + q + t], (b & 1) == 0);
                        }
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The layer
// ------------------------------------------------------------------------------------------------
// Pass 1 of a GravNet layer (a process of its own under the DATAFLOW top): the input codes, learned
// coordinates and propagated features of every vertex, into arrays of the top function (registers).
// The code formats (fixed_code) of the quantization points and exact intermediates, and the sizes, that
// both GravNet passes name: one list, so gravnet_in and gravnet_query cannot disagree. EB is the position
// of a key's 'empty' bit, VR the number of vertices in flight per clock.
#define GRAVNET_FORMATS(CONFIG_T) \
    typedef typename CONFIG_T::input_c X; \
    typedef typename CONFIG_T::kernel_c KW; \
    typedef typename CONFIG_T::bias_c BW; \
    typedef typename CONFIG_T::dense_accum_c DA; \
    typedef typename CONFIG_T::coord_c CO; \
    typedef typename CONFIG_T::feature_c FE; \
    typedef typename CONFIG_T::diff_c DF; \
    typedef typename CONFIG_T::dist_sum_c DS; \
    typedef typename CONFIG_T::distance_c DI; \
    typedef typename CONFIG_T::edge_weight_c EW; \
    typedef typename CONFIG_T::agg_prod_c AP; \
    typedef typename CONFIG_T::agg_sum_c AS; \
    typedef typename CONFIG_T::recip_c RC; \
    typedef typename CONFIG_T::mean_prod_c MP; \
    typedef typename CONFIG_T::aggregate_c AG; \
    typedef typename CONFIG_T::pre_c PR; \
    typedef typename CONFIG_T::key_c KY; \
    typedef typename KY::int_t key_t; \
    const unsigned V = CONFIG_T::n_vertices; \
    const unsigned F = CONFIG_T::n_in; \
    const unsigned S = CONFIG_T::n_dimensions; \
    const unsigned P = CONFIG_T::n_propagate; \
    const unsigned FO = CONFIG_T::n_out; \
    const unsigned N = CONFIG_T::n_pad; \
    const unsigned K = CONFIG_T::n_block; \
    const unsigned k = CONFIG_T::n_neighbours; \
    const unsigned IB = CONFIG_T::index_bits; \
    const unsigned EB = DI::W + IB; \
    const unsigned R = CONFIG_T::reuse_factor; \
    const unsigned VR = V / R;

template <class x_T, class CONFIG_T>
void gravnet_in(const x_T x[CONFIG_T::n_vertices * CONFIG_T::n_in],
                typename CONFIG_T::input_c::int_t xh[CONFIG_T::n_vertices][CONFIG_T::n_in],
                typename CONFIG_T::coord_c::int_t s[CONFIG_T::n_vertices][CONFIG_T::n_dimensions],
                typename CONFIG_T::feature_c::int_t f[CONFIG_T::n_vertices][CONFIG_T::n_propagate],
                const typename CONFIG_T::kernel_t s_kernel[CONFIG_T::n_in * CONFIG_T::n_dimensions],
                const typename CONFIG_T::bias_t s_bias[CONFIG_T::n_dimensions],
                const typename CONFIG_T::kernel_t p_kernel[CONFIG_T::n_in * CONFIG_T::n_propagate],
                const typename CONFIG_T::bias_t p_bias[CONFIG_T::n_propagate]) {
    GRAVNET_FORMATS(CONFIG_T);

    // binary-point alignments into the exact sums (all >= 0 by construction of the formats)
    const int SH_DA_X = DA::F - (X::F + KW::F), SH_DA_B = DA::F - BW::F;
    const int SH_PR_X = PR::F - (X::F + KW::F), SH_PR_A = PR::F - (AG::F + KW::F), SH_PR_B = PR::F - BW::F;

    // weights as codes
    typename KW::int_t sk[F * S], pk[F * P];
    typename BW::int_t sb[S], pb[P];
#pragma HLS ARRAY_PARTITION variable = sk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pk complete dim = 0
#pragma HLS ARRAY_PARTITION variable = sb complete dim = 0
#pragma HLS ARRAY_PARTITION variable = pb complete dim = 0
Weights:
    codes_of<KW, typename CONFIG_T::kernel_t, F * S>(s_kernel, sk);
    codes_of<KW, typename CONFIG_T::kernel_t, F * P>(p_kernel, pk);
    codes_of<BW, typename CONFIG_T::bias_t, S>(s_bias, sb);
    codes_of<BW, typename CONFIG_T::bias_t, P>(p_bias, pb);

    // Pass 1: inputs, learned coordinates and propagated features of every vertex.
VertexIn:
    for (unsigned ir = 0; ir < R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < VR; iu++) {
#pragma HLS UNROLL
            const unsigned v = iu * R + ir;
            for (unsigned i = 0; i < F; i++)
                xh[v][i] = to_code<X>(typename CONFIG_T::input_t(x[v * F + i]));
            for (unsigned c = 0; c < S; c++) {
                typename DA::int_t acc = typename DA::int_t(sb[c]) << SH_DA_B;
                for (unsigned i = 0; i < F; i++)
                    acc += typename DA::int_t(xh[v][i] * sk[i * S + c]) << SH_DA_X;
                s[v][c] = round_code<CO, DA>(acc);
            }
            for (unsigned c = 0; c < P; c++) {
                typename DA::int_t acc = typename DA::int_t(pb[c]) << SH_DA_B;
                for (unsigned i = 0; i < F; i++)
                    acc += typename DA::int_t(xh[v][i] * pk[i * P + c]) << SH_DA_X;
                f[v][c] = round_code<FE, DA>(acc);
            }
        }
    }
}

// Pass 2 of a GravNet layer (a process of its own): per query vertex, distances to every vertex, the
// neighbours, the aggregates and the output transform.
template <class y_T, class CONFIG_T>
void gravnet_query(const unsigned nvtx,
                   const typename CONFIG_T::input_c::int_t xh[CONFIG_T::n_vertices][CONFIG_T::n_in],
                const typename CONFIG_T::coord_c::int_t s[CONFIG_T::n_vertices][CONFIG_T::n_dimensions],
                const typename CONFIG_T::feature_c::int_t f[CONFIG_T::n_vertices][CONFIG_T::n_propagate],
                   const typename CONFIG_T::kernel_t o_kernel[CONFIG_T::n_z * CONFIG_T::n_out],
                   const typename CONFIG_T::bias_t o_bias[CONFIG_T::n_out],
                   const typename CONFIG_T::edge_weight_t exp_table[CONFIG_T::exp_table_size],
                   const typename CONFIG_T::recip_t recip_table[CONFIG_T::recip_table_size],
                   const typename CONFIG_T::tanh_t tanh_table[CONFIG_T::tanh_table_size],
                   y_T y[CONFIG_T::n_vertices * CONFIG_T::n_out]) {
    GRAVNET_FORMATS(CONFIG_T);
    const unsigned n = clamp_nvtx<V>(nvtx);

    // binary-point alignments into the exact sums (all >= 0 by construction of the formats)
    const int SH_DA_X = DA::F - (X::F + KW::F), SH_DA_B = DA::F - BW::F;
    const int SH_PR_X = PR::F - (X::F + KW::F), SH_PR_A = PR::F - (AG::F + KW::F), SH_PR_B = PR::F - BW::F;

    // weights as codes
    typename KW::int_t ok[CONFIG_T::n_z * FO];
    typename BW::int_t ob[FO];
#pragma HLS ARRAY_PARTITION variable = ok complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ob complete dim = 0
Weights:
    codes_of<KW, typename CONFIG_T::kernel_t, CONFIG_T::n_z * FO>(o_kernel, ok);
    codes_of<BW, typename CONFIG_T::bias_t, FO>(o_bias, ob);
    const typename RC::int_t recip_k = CONFIG_T::recip_k_code; // 1/k: a constant (a shift when k is a power of 2)

    key_t empty = key_t(1) << EB;

    // Pass 2: per query vertex i: distances, neighbours, aggregates, output transform.
Query:
    for (unsigned ir = 0; ir < R; ir++) {
#pragma HLS PIPELINE II = 1
        for (unsigned iu = 0; iu < VR; iu++) {
#pragma HLS UNROLL
            const unsigned i = iu * R + ir;
            if (i < n) {
                key_t keys[N];
#pragma HLS ARRAY_PARTITION variable = keys complete dim = 0
            Keys:
                for (unsigned j = 0; j < N; j++) {
                    if (j < n && j != i) {
                        typename DS::int_t acc = 0;
                        for (unsigned c = 0; c < S; c++) {
                            const typename DF::int_t diff = typename DF::int_t(s[i][c]) - s[j][c];
                            if (CONFIG_T::l1)
                                acc += typename DS::int_t(diff < 0 ? typename DF::int_t(-diff) : diff);
                            else
                                acc += typename DS::int_t(diff * diff);
                        }
                        const typename DI::int_t d = round_code<DI, DS>(acc);
                        keys[j] = (key_t(d) << IB) | key_t(j);
                    } else {
                        keys[j] = empty;
                    }
                }

                gravnet_select<CONFIG_T, key_t>(keys);

                typename AS::int_t sum[P];
                typename AP::int_t mx[P];
#pragma HLS ARRAY_PARTITION variable = sum complete dim = 0
#pragma HLS ARRAY_PARTITION variable = mx complete dim = 0
                for (unsigned c = 0; c < P; c++) {
                    sum[c] = 0;
                    mx[c] = 0;
                }
                bool any = false;
            Slots:
                for (unsigned t = 0; t < K; t++) {
                    const key_t kk = keys[t];
                    if (t < k && ((kk >> EB) & 1) == 0) {
                        const unsigned j = (unsigned)(kk & key_t(N - 1));
                        const unsigned dcode = (unsigned)(kk >> IB);
                        const unsigned EN = CONFIG_T::exp_table_size;
                        const unsigned dix = (CONFIG_T::exp_fold == fold_clamp && dcode > EN - 1) ? EN - 1 : dcode;
                        const typename EW::int_t w = to_code<EW>(exp_table[dix]);
                        for (unsigned c = 0; c < P; c++) {
                            const typename AP::int_t prod = typename AP::int_t(w) * f[j][c];
                            sum[c] += prod;
                            if (!any || prod > mx[c])
                                mx[c] = prod;
                        }
                        any = true;
                    }
                }

                typename AG::int_t agg[2 * P]; // mean, then max; the max is 0 when no slot is filled
#pragma HLS ARRAY_PARTITION variable = agg complete dim = 0
                for (unsigned c = 0; c < P; c++) {
                    agg[c] = round_code<AG, MP>(typename MP::int_t(sum[c]) * recip_k);
                    agg[P + c] = round_code<AG, AP>(mx[c]);
                }

            Output:
                for (unsigned o = 0; o < FO; o++) {
                    typename PR::int_t pre = typename PR::int_t(ob[o]) << SH_PR_B;
                    for (unsigned c = 0; c < F; c++)
                        pre += typename PR::int_t(xh[i][c] * ok[c * FO + o]) << SH_PR_X;
                    for (unsigned c = 0; c < 2 * P; c++)
                        pre += typename PR::int_t(agg[c] * ok[(F + c) * FO + o]) << SH_PR_A;
                    y[i * FO + o] = activate<typename CONFIG_T::pre_t, typename CONFIG_T::preact_t,
                                             typename CONFIG_T::output_t, typename CONFIG_T::tanh_t,
                                             CONFIG_T::activation, CONFIG_T::tanh_table_size,
                                             CONFIG_T::tanh_fold>(
                        from_code<typename CONFIG_T::pre_t, PR>(pre), tanh_table);
                }
            } else {
                for (unsigned o = 0; o < FO; o++)
                    y[i * FO + o] = y_T(0); // padding row
            }
        }
    }
}

} // namespace garnet_hls

#endif
