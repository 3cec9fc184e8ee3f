// The width-generic vector type of the SIMD layer (docs/design.md, "The SIMD layer").
//
// Vec<T, I> names the vector of T for instruction set I (a GCC/Clang vector extension type, so
// kernels write a + b, a * b, a > b, m ? a : b lane-wise) and the operations the kernels need:
// load/store (unaligned), load_partial/store_partial (the tail of a row: the first n < W lanes),
// load_widened (float lanes loaded into a vector of double), widen, splat/bcast, fma, max/min, hsum/hmax (lanes in order, a fixed order: results never depend on the
// thread count), and the same-width integer vector Iv for bit manipulation (math.hpp).
//
// The width is IsaTraits<I>::kBytes, not a constant of the kernels: they step by Vec::W.  The
// baseline keeps 32-byte vectors (two SSE2 registers on x86-64; same arithmetic, so both units
// agree up to fused rounding); AVX2 has 32-byte registers and FMA.  An AVX-512 unit would add an
// IsaTraits with kBytes = 64 and its bcast/fma branches.
//
// Only the per-instruction-set units include this header (csrc/danneal/simd/isa_*.cpp): a Vec
// of one instruction set is never instantiated in a unit compiled for another.
#pragma once

#include <cstdint>
#include <cstring>

#include "danneal/simd/isa.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

// 32-byte vectors as (inlined) function arguments in the baseline unit: the note about their ABI
// without AVX is noise.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace danneal::simd {

template <Isa I>
struct IsaTraits;
template <>
struct IsaTraits<Isa::baseline> {
  static constexpr int kBytes = 32;
  static constexpr bool kFma = false;  // a * b + c, two roundings
};
template <>
struct IsaTraits<Isa::avx2> {
  static constexpr int kBytes = 32;
  static constexpr bool kFma = true;
};

template <class T>
struct LaneInt;
template <>
struct LaneInt<float> {
  using type = std::int32_t;
};
template <>
struct LaneInt<double> {
  using type = std::int64_t;
};

template <class T, Isa I>
struct Vec {
  static constexpr Isa isa = I;
  static constexpr int kBytes = IsaTraits<I>::kBytes;
  static constexpr int W = kBytes / static_cast<int>(sizeof(T));  // lanes
  using Scalar = T;
  using Int = typename LaneInt<T>::type;
  typedef T V __attribute__((vector_size(kBytes)));
  typedef Int Iv __attribute__((vector_size(kBytes)));
  typedef double Wide __attribute__((vector_size(W * sizeof(double))));  // the W lanes in double
  typedef float Narrow __attribute__((vector_size(W * sizeof(float))));  // the W lanes in float

  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }
  static void store(T* p, const V& v) { std::memcpy(p, &v, sizeof(V)); }
  // W floats from p, converted to T (exact).
  static V load_widened(const float* p) {
    Narrow h;
    std::memcpy(&h, p, sizeof(Narrow));
    return __builtin_convertvector(h, V);
  }
  static V load_widened(const double* p) { return load(p); }
  // The lanes converted to double (exact).
  static Wide widen(const V& v) { return __builtin_convertvector(v, Wide); }
  // The first n (0 <= n <= W) lanes from p, the others `fill`.
  static V load_partial(const T* p, std::int64_t n, T fill) {
    T tmp[W];
    for (int l = 0; l < W; ++l) tmp[l] = l < n ? p[l] : fill;
    return load(tmp);
  }
  // The first n (0 <= n <= W) lanes of v to p.
  static void store_partial(T* p, const V& v, std::int64_t n) {
    T tmp[W];
    store(tmp, v);
    for (int l = 0; l < n; ++l) p[l] = tmp[l];
  }
  // s in every lane: s - (+0) is s for every s (also -0.0 and NaN), so the compiler drops the
  // subtraction and emits one broadcast (V{} + s would be an addition: -0.0 + 0.0 is +0.0; a
  // lane-by-lane loop is assembled with inserts).
  static V splat(T s) { return s - V{}; }
  // *p in every lane (one vbroadcastsd / vbroadcastss under AVX).
  static V bcast(const T* p) {
#if defined(__AVX__)
    if constexpr (kBytes == 32) {
      if constexpr (sizeof(T) == 8)
        return (V)_mm256_broadcast_sd(reinterpret_cast<const double*>(p));
      else
        return (V)_mm256_broadcast_ss(reinterpret_cast<const float*>(p));
    }
#endif
    return splat(*p);
  }
  static V zero() { return V{}; }
  // a * b + c: one rounding where the instruction set has FMA, two elsewhere.
  static V fma(const V& a, const V& b, const V& c) {
    if constexpr (IsaTraits<I>::kFma) {
#if defined(__FMA__) && defined(__AVX__)
      if constexpr (kBytes == 32 && sizeof(T) == 8)
        return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
      else if constexpr (kBytes == 32)
        return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
      static_assert(!IsaTraits<I>::kFma, "a unit with FMA must be compiled with -mfma");
#endif
    }
    return a * b + c;
  }
  // a > b ? a : b and a < b ? a : b (b where either is NaN): one vmaxp / vminp under AVX.
  static V max(const V& a, const V& b) {
#if defined(__AVX__)
    if constexpr (kBytes == 32 && sizeof(T) == 8) return (V)_mm256_max_pd((__m256d)a, (__m256d)b);
    if constexpr (kBytes == 32 && sizeof(T) == 4) return (V)_mm256_max_ps((__m256)a, (__m256)b);
#endif
    return a > b ? a : b;
  }
  static V min(const V& a, const V& b) {
#if defined(__AVX__)
    if constexpr (kBytes == 32 && sizeof(T) == 8) return (V)_mm256_min_pd((__m256d)a, (__m256d)b);
    if constexpr (kBytes == 32 && sizeof(T) == 4) return (V)_mm256_min_ps((__m256)a, (__m256)b);
#endif
    return a < b ? a : b;
  }
  // Sum and maximum of the lanes, in lane order.
  static T hsum(const V& v) {
    T s = 0;
    for (int l = 0; l < W; ++l) s += v[l];
    return s;
  }
  static T hmax(const V& v) {
    T s = v[0];
    for (int l = 1; l < W; ++l) s = v[l] > s ? v[l] : s;
    return s;
  }
};

}  // namespace danneal::simd
