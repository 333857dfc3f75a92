// garnet-hls: arithmetic on the integer codes of fixed-point values, shared by the GarNet and GravNet
// kernels (firmware/garnet.h, firmware/gravnet.h).
//
// A kernel holds every value between its inputs and outputs as its integer code (value = code * 2^-F
// for its fixed-point format, fixed_code<W, I, signed> with F = W - I fractional bits). Then
//
//   * an exact sum or product is an integer sum or product, after aligning the binary points by
//     constant left shifts (the exact formats, derived in Python, have the largest F of their terms);
//   * a rounding point is round_code<DST, SRC>: round half to even and saturate, as an assignment to
//     ap_[u]fixed<..., AP_RND_CONV, AP_SAT> does;
//   * a table indexed by a rounded value is indexed by the raw W bits of its code (code_index).
//
// The formats come from the generated config; every exact format is wide enough for its worst case and
// at most 62 bits wide (checked when the project is generated), so no sum or product overflows.
//
// Containers. The container of a code (fixed_code::int_t) is ap_int<W> / ap_uint<W>: C simulation and
// synthesis run the same code. Only for fast C simulation (garnet-hls csim --fast) may
// GARNET_HLS_FAST_CSIM be defined, which holds the same codes in 64-bit integers: an integer that fits
// both gives the same result in both (the tests check the two builds bit for bit). It must never be
// defined for synthesis.
#ifndef GARNET_HLS_FIXED_CODES_H_
#define GARNET_HLS_FIXED_CODES_H_

#include "ap_fixed.h"
#include "ap_int.h"

namespace garnet_hls {

// The widest code (and exact format) the kernels hold: 64-bit integers hold it and a carry in fast C
// simulation. The Python side refuses wider formats (garnet_hls.hls.garnet / gravnet: MAX_CODE_BITS).
const int max_code_bits = 62;

template <int W, bool S> struct code_bits;
template <int W> struct code_bits<W, true> { typedef ap_int<W> type; };
template <int W> struct code_bits<W, false> { typedef ap_uint<W> type; };

#if defined(GARNET_HLS_FAST_CSIM) && defined(__SYNTHESIS__)
#error "GARNET_HLS_FAST_CSIM is for C simulation only"
#endif

// A signed integer of W bits: the working type of a rounding.
template <int W> struct wide_int {
#ifndef GARNET_HLS_FAST_CSIM
    typedef ap_int<W> type;
#else
    typedef long long type;
#endif
};

// The code of an ap_fixed<W_, I_> (S_) or ap_ufixed<W_, I_> (!S_) value.
template <int W_, int I_, bool S_> struct fixed_code {
    static const int W = W_;
    static const int F = W_ - I_; // fractional bits
    static const bool S = S_;
    typedef typename code_bits<W_, S_>::type bits_t;
#ifndef GARNET_HLS_FAST_CSIM
    typedef bits_t int_t;
#else
    typedef long long int_t;
#endif
    static const long long code_min = S_ ? -(1LL << (W_ - 1)) : 0LL;
    static const long long code_max = S_ ? (1LL << (W_ - 1)) - 1 : (1LL << W_) - 1;
};

// The code format of an ap_fixed / ap_ufixed type.
template <class T> struct code_of;
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> struct code_of<ap_fixed<W, I, Q, O, N> > {
    typedef fixed_code<W, I, true> type;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> struct code_of<ap_ufixed<W, I, Q, O, N> > {
    typedef fixed_code<W, I, false> type;
};

// The code of x, an ap_[u]fixed of format C: its W bits (an ap_[u]fixed<W, I> and the ap_[u]int<W> of
// its code share their root type, whose member V holds the bits).
template <class C, class T> inline typename C::int_t to_code(const T &x) {
#pragma HLS INLINE
    typename C::bits_t b;
    b.V = x.V;
    return b; // int_t is bits_t, or a 64-bit integer
}

// The ap_[u]fixed T (of format C) whose code is c.
template <class T, class C> inline T from_code(const typename C::int_t &c) {
#pragma HLS INLINE
    const typename C::bits_t b = c;
    T x;
    x.V = b.V;
    return x;
}

// The code (format C) of x converted to the ap_[u]fixed T (rounded and saturated as T says): T's
// quantizer applied to an input. No conversion when x is a T already.
template <class C, class T, class S> struct code_as {
    static typename C::int_t get(const S &x) {
#pragma HLS INLINE
        return to_code<C>(T(x));
    }
};
template <class C, class T> struct code_as<C, T, T> {
    static typename C::int_t get(const T &x) {
#pragma HLS INLINE
        return to_code<C>(x);
    }
};
template <class C, class T, class S> inline typename C::int_t to_code_as(const S &x) {
#pragma HLS INLINE
    return code_as<C, T, S>::get(x);
}

// dst = the ap_[u]fixed T (of format C) whose code is c, converted to dst's type D. When D is T, the
// bits are written directly.
template <class C, class T, class D> struct code_store {
    static void put(D &dst, const typename C::int_t &c) {
#pragma HLS INLINE
        dst = D(from_code<T, C>(c));
    }
};
template <class V, int W, bool S> inline void set_code_bits(V &v, const ap_int_base<W, S> &c) {
#pragma HLS INLINE
    v = c.V;
}
template <class V> inline void set_code_bits(V &v, const long long c) {
#pragma HLS INLINE
    v = c;
}
template <class C, class T> struct code_store<C, T, T> {
    static void put(T &dst, const typename C::int_t &c) {
#pragma HLS INLINE
        set_code_bits(dst.V, c);
    }
};
template <class C, class T, class D> inline void store_code(D &dst, const typename C::int_t &c) {
#pragma HLS INLINE
    code_store<C, T, D>::put(dst, c);
}

// A code as a 64-bit integer, for comparisons with constants, bit tests and table indices: a plain
// integer operation in C simulation (ap_int's own comparisons first copy both operands into wider
// ap_ints), which synthesis narrows back to the code's width (a sign or zero extension compared with a
// constant).
inline long long code_ll(const long long x) {
#pragma HLS INLINE
    return x;
}
template <int W, bool S> inline long long code_ll(const ap_int_base<W, S> &x) {
#pragma HLS INLINE
    return x.to_int64();
}

// Code c of exact format SRC -> the code of the value rounded half to even and saturated to DST.
// (The constants are static: C simulation constructs an ap_int from an integer slowly.)
template <class DST, class SRC> inline typename DST::int_t round_code(const typename SRC::int_t &c) {
#pragma HLS INLINE
    const int SH = SRC::F - DST::F;
    const int UP = SH < 0 ? -SH : 0;
    const int DN = SH > 0 ? SH : 0;
    // wide enough for c << UP plus a carry, and for DST's code range
    const int WQ = SRC::W + UP + 2 > DST::W + 1 ? SRC::W + UP + 2 : DST::W + 1;
    typedef typename wide_int<WQ>::type w_t;
    static const w_t half = 1LL << (DN > 0 ? DN - 1 : 0), half_m1 = (1LL << (DN > 0 ? DN - 1 : 0)) - 1;
    static const typename DST::int_t dst_max = DST::code_max, dst_min = DST::code_min;
    w_t q = c;
    long long v; // the rounded value, for the range check (a bit slice of q in hardware)
    if (DN > 0) {
        // floor((c + 2^(DN-1) - 1 + b) / 2^DN), b = bit DN of c: ties go to the even neighbour
        q += ((code_ll(c) >> DN) & 1) != 0 ? half : half_m1;
        v = code_ll(q) >> DN;
    } else {
        if (UP > 0)
            q <<= UP;
        v = code_ll(q);
    }
    if (v > DST::code_max)
        return dst_max;
    if (v < DST::code_min)
        return dst_min;
    return typename DST::int_t(v);
}

// Code x in the container of format C, shifted left by SH bits (aligned to a binary point SH bits
// further right); C must hold the result.
template <class C, int SH, class A> inline typename C::int_t align_code(const A &x) {
#pragma HLS INLINE
    typename C::int_t r = x;
    if (SH > 0)
        r <<= SH;
    return r;
}

// The exact product of codes a and b (a code with the sum of their fractional bits), shifted left by
// SH bits, in the container of format C, which must hold it: a multiplication in C's width whose
// result needs no truncation. (ap_int's operator* would widen both operands to the sum of their
// widths, which C simulation then multiplies in twice that width: slow beyond 32 bits.)
template <class C, int SH, class A, class B> inline typename C::int_t mul_code(const A &a, const B &b) {
#pragma HLS INLINE
    typename C::int_t r = a;
    if (SH > 0)
        r <<= SH;
    r *= b;
    return r;
}

// The raw W bits of code c (format C), as an unsigned number: the index of a table indexed by the
// two's complement bits of a value (fold_none below).
template <class C> inline unsigned code_index(const typename C::int_t &c) {
#pragma HLS INLINE
    return (unsigned)(code_ll(c) & ((1LL << C::W) - 1));
}

// Compact tables (garnet_hls.tables.compact_table): how a table of N entries is indexed by the code c
// of its (rounded) input. fold_none: the raw bits of c (the full table); fold_even: min(|c|, N-1), the
// table of an even function; fold_odd: the same, the entry negated for c < 0 (an odd function);
// fold_clamp: min(c, N-1) for an unsigned c. Python builds the compact table and checks that it gives
// every entry of the full one, so the value read is the same in every mode.
enum table_fold { fold_none = 0, fold_even = 1, fold_odd = 2, fold_clamp = 3 };

template <class C, unsigned MODE, unsigned N> inline unsigned fold_index(const typename C::int_t &c) {
#pragma HLS INLINE
    if (MODE == fold_none)
        return code_index<C>(c);
    long long v = code_ll(c); // an absolute value and a compare with a constant in hardware
    if (MODE != fold_clamp && v < 0)
        v = -v;
    return v < (long long)(N - 1) ? (unsigned)v : N - 1;
}

// The code (format OC) of the entry of `table` (of values of format OC) for the input code c (format
// IC), read as the table's fold mode says.
template <class OC, class IC, unsigned MODE, unsigned N, class T>
inline typename OC::int_t table_code(const T table[N], const typename IC::int_t &c) {
#pragma HLS INLINE
    const typename OC::int_t v = to_code<OC>(table[fold_index<IC, MODE, N>(c)]);
    if (MODE == fold_odd && code_ll(c) < 0)
        return typename OC::int_t(-v);
    return v;
}

// The codes of N values (weights of a Dense transform): one implementation for both kernels.
template <class C, class T, unsigned N> inline void codes_of(const T src[N], typename C::int_t dst[N]) {
#pragma HLS INLINE
    for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
        dst[i] = to_code<C>(src[i]);
    }
}

} // namespace garnet_hls

#endif
