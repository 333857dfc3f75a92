// garnet-hls: pieces shared by the GarNet and GravNet kernels (collapse, activation, table lookup).
// Semantics: docs/layers.md; rounding places: docs/quantization.md. All types come from the
// generated config structs; every sum and product between two rounding points is held in a type wide
// enough to be exact, so the result does not depend on the order of the arithmetic.
#ifndef GARNET_HLS_COMMON_H_
#define GARNET_HLS_COMMON_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "fixed_codes.h"

namespace garnet_hls {

enum activation_kind { act_linear = 0, act_relu = 1, act_tanh = 2 };
enum collapse_kind { collapse_none = 0, collapse_mean = 1, collapse_sum = 2, collapse_max = 3 };

// y = Q_out(act(pre)), with tanh read from a (compact) table indexed by Q_preact(pre).
template <class pre_T, class preact_T, class out_T, class tanh_T, unsigned ACT, unsigned TANH_N,
          unsigned TANH_FOLD>
inline out_T activate(const pre_T &pre, const tanh_T tanh_table[TANH_N]) {
#pragma HLS INLINE
    if (ACT == act_relu) {
        if (pre > 0)
            return out_T(pre);
        return out_T(0);
    } else if (ACT == act_tanh) {
        typedef typename code_of<preact_T>::type PC;
        typedef typename code_of<tanh_T>::type TC;
        const preact_T t = pre;
        return out_T(from_code<tanh_T, TC>(table_code<TC, PC, TANH_FOLD, TANH_N>(tanh_table, to_code<PC>(t))));
    }
    return out_T(pre);
}

// Clamp a hardware nvtx to [0, V]: an out-of-range input is defined behaviour in firmware.
template <unsigned V, class n_T> inline unsigned clamp_nvtx(const n_T &nvtx) {
#pragma HLS INLINE
    unsigned n = nvtx;
    return n > V ? V : n;
}

// Collapse over the vertices: mean (x 1/N from the reciprocal table), sum, or max over valid rows.
// Padding rows of y are 0 already, so sums run over all rows. The sums and maxima run on the codes of
// y (fixed_codes.h; in ap_fixed when a code would be wider than max_code_bits), the result is rounded
// to y_T (the layer's output type) and then converted to res_T, as res_T says (hls4ml's BitExact flow may
// give res_T the type of a following HGQ2 quantizer).

template <bool CODES> struct collapse_loops;

template <> struct collapse_loops<true> {
    template <class y_T, class sum_T, unsigned V, unsigned FO>
    static sum_T sum(const y_T y[V * FO], const unsigned o) {
#pragma HLS INLINE
        typedef typename code_of<y_T>::type YC;
        typedef typename code_of<sum_T>::type CS;
        const int SH = CS::F - YC::F; // >= 0: the sum is exact
        typename CS::int_t s = 0;
    CollapseSum:
        for (unsigned v = 0; v < V; v++) {
            if (SH == 0)
                s += to_code<YC>(y[v * FO + o]);
            else
                s += align_code<CS, SH>(to_code<YC>(y[v * FO + o]));
        }
        return from_code<sum_T, CS>(s);
    }

    template <class y_T, unsigned V, unsigned FO> static y_T max(const y_T y[V * FO], const unsigned o, const unsigned n) {
#pragma HLS INLINE
        typedef typename code_of<y_T>::type YC;
        typename YC::int_t m = to_code<YC>(y[o]);
    CollapseMax:
        for (unsigned v = 1; v < V; v++) {
            if (v < n) {
                const typename YC::int_t c = to_code<YC>(y[v * FO + o]);
                if (code_ll(c) > code_ll(m))
                    m = c;
            }
        }
        return from_code<y_T, YC>(m);
    }
};

template <> struct collapse_loops<false> {
    template <class y_T, class sum_T, unsigned V, unsigned FO>
    static sum_T sum(const y_T y[V * FO], const unsigned o) {
#pragma HLS INLINE
        sum_T s = 0;
    CollapseSum:
        for (unsigned v = 0; v < V; v++) {
            s += y[v * FO + o];
        }
        return s;
    }

    template <class y_T, unsigned V, unsigned FO> static y_T max(const y_T y[V * FO], const unsigned o, const unsigned n) {
#pragma HLS INLINE
        y_T m = y[o];
    CollapseMax:
        for (unsigned v = 1; v < V; v++) {
            if (v < n && y[v * FO + o] > m)
                m = y[v * FO + o];
        }
        return m;
    }
};

template <class y_T, class res_T, class CONFIG_T>
void graph_collapse(const y_T y[CONFIG_T::n_vertices * CONFIG_T::n_out], const unsigned nvtx,
                    res_T res[CONFIG_T::n_out],
                    const typename CONFIG_T::recip_t recip_table[CONFIG_T::recip_table_size]) {
    // one pipelined function: the loops over the vertices unroll into adder (or compare) trees over
    // the rows of y, which are registers (y is partitioned completely by the top)
#pragma HLS PIPELINE II = 1
    typedef typename CONFIG_T::collapse_sum_t sum_T;
    const unsigned V = CONFIG_T::n_vertices;
    const unsigned FO = CONFIG_T::n_out;
    const unsigned n = clamp_nvtx<V>(nvtx);
    typedef collapse_loops<(y_T::width <= max_code_bits && sum_T::width <= max_code_bits)> loops;
CollapseOut:
    for (unsigned o = 0; o < FO; o++) {
#pragma HLS UNROLL
        if (CONFIG_T::collapse == collapse_max) {
            const y_T m = loops::template max<y_T, V, FO>(y, o, n);
            res[o] = (n == 0) ? res_T(0) : res_T(m);
        } else {
            const sum_T s = loops::template sum<y_T, sum_T, V, FO>(y, o);
            if (CONFIG_T::collapse == collapse_sum) {
                res[o] = res_T(y_T(s)); // rounded to the layer's output type first: res_T may be another
            } else {                    // (hls4ml fuses a following HGQ2 quantizer into it)
                // x 1/N: from the table when N = nvtx, else the constant 1/V (a shift when V is a power
                // of two), written into the config by Python (reciprocal_table(V)[V])
                typedef typename code_of<typename CONFIG_T::recip_t>::type RC;
                const typename CONFIG_T::recip_t r =
                    CONFIG_T::mean_by_nvert ? recip_table[n]
                                            : from_code<typename CONFIG_T::recip_t, RC>(CONFIG_T::recip_v_code);
                res[o] = res_T(y_T(s * r));
            }
        }
    }
}

} // namespace garnet_hls

#endif
