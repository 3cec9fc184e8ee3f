// The vectorised exp and log of every kernel family (docs/design.md, "The SIMD layer").
//
// exp<S>(x), S = Vec<T, I>, lane-wise:
//   x = n ln2 + r, |r| <= ln2/2 (Cody-Waite: ln2 split in two so n * ln2hi is exact), exp(r) by
//   its Taylor polynomial of degree 13 in double, 7 in float (truncation below 0.1 ulp): Horner
//   with FMA, 1 + (r + r^2 q(r)) without; 2^n added to the exponent bits.
//   Accuracy (error against the exact value, float64 and float32, whole range; tests/test_simd.py
//   measures it against numpy in extended precision): at most 0.95 ulp with FMA (avx2; measured
//   0.91), 1.05 ulp without (baseline; measured 1.03).
//   Range: x < kExpMin (ln of the smallest normal number: -708.396 in double, -87.3365 in float)
//   and x = -inf give exactly 0: results that would be subnormal are flushed, so no kernel ever
//   computes with denormals (slow) or gets them from exp; x > kExpMax (ln of the largest finite
//   number: 709.78 / 88.72) and +inf give +inf; NaN gives NaN.
// exp_flush<S>(x, cut): the same exp for callers that flush a larger range (the central kernel
//   keeps its products with weights normal): 0 where x <= cut or x is NaN (cut >= kExpMin),
//   x > kExpMax is clamped to kExpMax (finite).  Cheaper than exp (no special-case selects).
// log<S>(x): x = 2^e m, m in [sqrt(1/2), sqrt(2)), f = m - 1, log m = 2 atanh(s) with
//   s = f/(2 + f), |s| <= 0.172, evaluated as f - (f^2/2 - s (f^2/2 + R(s^2))) (fdlibm's form;
//   R to s^20 in double, s^8 in float: truncation below 0.05 ulp), e ln2 added in two parts.
//   Accuracy: at most 0.8 ulp in float64 and float32 under both instruction sets (measured 0.74,
//   tests/test_simd.py).  Subnormal x are scaled first (exact); log(0) = -inf, log(x < 0) = NaN,
//   log(+inf) = +inf, log(NaN) = NaN.
//
// Only the per-instruction-set units include this header (see vec.hpp).
#pragma once

#include <cstdint>
#include <limits>

#include "danneal/simd/vec.hpp"

namespace danneal::simd {

template <class T>
struct MathConst;
template <>
struct MathConst<double> {
  static constexpr double kExpMin = -708.3964185322641;  // ln(DBL_MIN), rounded up
  static constexpr double kExpMax = 709.782712893384;    // ln(DBL_MAX), rounded down
  static constexpr double kLog2e = 1.4426950408889634;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 trailing zero bits
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  static constexpr int kExpDegree = 13;
  static constexpr int kLogTerms = 11;  // R(z) = 2z/3 + ... + 2z^10/21
  static constexpr int kMantBits = 52;
  static constexpr std::int64_t kBias = 1023;
  static constexpr std::int64_t kExpMask = 0x7ff;
  static constexpr std::int64_t kMantMask = 0x000fffffffffffffLL;
  static constexpr std::int64_t kOneBits = 0x3ff0000000000000LL;
  static constexpr double kSubScale = 18014398509481984.0;  // 2^54: subnormals become normal
  static constexpr int kSubShift = 54;
};
template <>
struct MathConst<float> {
  static constexpr float kExpMin = -87.33654022216797f;  // ln(FLT_MIN), rounded up
  static constexpr float kExpMax = 88.72283172607422f;   // ln(FLT_MAX), rounded down
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits
  static constexpr float kLn2Lo = -2.12194440e-4f;
  static constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr int kExpDegree = 7;
  static constexpr int kLogTerms = 5;  // R(z) = 2z/3 + ... + 2z^4/9
  static constexpr int kMantBits = 23;
  static constexpr std::int32_t kBias = 127;
  static constexpr std::int32_t kExpMask = 0xff;
  static constexpr std::int32_t kMantMask = 0x007fffff;
  static constexpr std::int32_t kOneBits = 0x3f800000;
  static constexpr float kSubScale = 33554432.0f;  // 2^25
  static constexpr int kSubShift = 25;
};

namespace detail {

// 1/i! for i = 0..13
template <class T>
constexpr T inv_factorial(int i) {
  double f = 1.0;
  for (int k = 2; k <= i; ++k) f *= k;
  return static_cast<T>(1.0 / f);
}

// exp(x) for finite x in [kExpMin, kExpMax] (other lanes: any finite value, result unspecified).
template <class S>
inline typename S::V exp_core(const typename S::V& x) {
  using T = typename S::Scalar;
  using C = MathConst<T>;
  using V = typename S::V;
  using Iv = typename S::Iv;
  const V shifter = S::splat(C::kShifter);
  const V t = S::fma(x, S::splat(C::kLog2e), shifter);
  const V nf = t - shifter;                   // n = round(x / ln2)
  V r = S::fma(nf, S::splat(-C::kLn2Hi), x);  // exact: n ln2hi has trailing zeros
  r = S::fma(nf, S::splat(-C::kLn2Lo), r);
  V p;
  if constexpr (IsaTraits<S::isa>::kFma) {
    // Horner to the end: the last step, 1 + r p1, is one fused rounding
    p = S::splat(inv_factorial<T>(C::kExpDegree));
    for (int i = C::kExpDegree - 1; i >= 0; --i) p = S::fma(p, r, S::splat(inv_factorial<T>(i)));
  } else {
    // without FMA, 1 + (r + r^2 q(r)), q = 1/2! + r/3! + ...: the 1 and r enter exactly and the
    // rounding errors of r^2 q stay small (Horner's last steps would round twice each)
    V q = S::splat(inv_factorial<T>(C::kExpDegree));
    for (int i = C::kExpDegree - 1; i >= 2; --i) q = S::fma(q, r, S::splat(inv_factorial<T>(i)));
    p = S::splat(T(1)) + S::fma(r * r, q, r);
  }
  const Iv n = (Iv)t - (Iv)shifter;  // t and the shifter share their exponent: n sits in the low bits
  return (V)((Iv)p + (n << C::kMantBits));
}

}  // namespace detail

template <class S>
inline typename S::V exp(const typename S::V& x) {
  using T = typename S::Scalar;
  using C = MathConst<T>;
  using V = typename S::V;
  const V lo = S::splat(C::kExpMin), hi = S::splat(C::kExpMax);
  const V xc = S::min(S::max(x, lo), hi);  // NaN becomes lo
  V y = detail::exp_core<S>(xc);
  y = x < lo ? S::zero() : y;
  y = x > hi ? S::splat(std::numeric_limits<T>::infinity()) : y;
  return x != x ? x : y;
}

template <class S>
inline typename S::V exp_flush(const typename S::V& x, typename S::Scalar cut) {
  using T = typename S::Scalar;
  using V = typename S::V;
  using Iv = typename S::Iv;
  const V c = S::splat(cut);
  const Iv keep = (Iv)(x > c);  // all-ones bits where x > cut (false for NaN)
  const V xc = S::min(S::max(x, c), S::splat(MathConst<T>::kExpMax));
  return (V)((Iv)detail::exp_core<S>(xc) & keep);
}

template <class S>
inline typename S::V log(const typename S::V& x) {
  using T = typename S::Scalar;
  using C = MathConst<T>;
  using V = typename S::V;
  using Iv = typename S::Iv;
  using Int = typename S::Int;
  const Iv sub = (Iv)(x < S::splat(std::numeric_limits<T>::min()));
  const V xs = sub ? x * S::splat(C::kSubScale) : x;
  const Iv bits = (Iv)xs;
  Iv e = ((bits >> C::kMantBits) & C::kExpMask) - C::kBias;
  e = sub ? e - static_cast<Int>(C::kSubShift) : e;
  V m = (V)((bits & C::kMantMask) | C::kOneBits);  // [1, 2)
  const Iv big = (Iv)(m > S::splat(static_cast<T>(1.41421356237309504880)));
  m = big ? m * S::splat(T(0.5)) : m;
  e = e - big;  // big is -1 where true
  // log m = log(1 + f) = 2 atanh(s), s = f / (2 + f), f = m - 1 exact; written (as in fdlibm) as
  // f - (f^2/2 - s (f^2/2 + R(s^2))) so that f enters exactly and the rest is a small correction
  const V f = m - S::splat(T(1));
  const V s = f / (S::splat(T(2)) + f);
  const V z = s * s;
  V R = S::splat(T(2) / T(2 * C::kLogTerms - 1));  // R = 2z/3 + 2z^2/5 + ...
  for (int i = C::kLogTerms - 2; i >= 1; --i) R = S::fma(R, z, S::splat(T(2) / T(2 * i + 1)));
  R = R * z;
  const V hfsq = S::splat(T(0.5)) * f * f;
  const V ef = __builtin_convertvector(e, V);
  const V corr = S::fma(s, hfsq + R, ef * S::splat(static_cast<T>(C::kLn2Lo)));
  V y = S::fma(ef, S::splat(static_cast<T>(C::kLn2Hi)), f - (hfsq - corr));
  y = x == S::zero() ? S::splat(-std::numeric_limits<T>::infinity()) : y;
  y = x < S::zero() ? S::splat(std::numeric_limits<T>::quiet_NaN()) : y;
  y = x == S::splat(std::numeric_limits<T>::infinity()) ? x : y;
  return x != x ? x : y;
}

}  // namespace danneal::simd

// The test-only array entry points declared in isa.hpp, instantiated in every unit.
#ifdef DANNEAL_SIMD_UNIT_ISA
namespace danneal::simd {
template <class T, Isa I>
void exp_array(const T* x, T* y, std::int64_t n) {
  using S = Vec<T, I>;
  std::int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(y + i, exp<S>(S::load(x + i)));
  if (i < n) S::store_partial(y + i, exp<S>(S::load_partial(x + i, n - i, T(0))), n - i);
}
template <class T, Isa I>
void log_array(const T* x, T* y, std::int64_t n) {
  using S = Vec<T, I>;
  std::int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(y + i, log<S>(S::load(x + i)));
  if (i < n) S::store_partial(y + i, log<S>(S::load_partial(x + i, n - i, T(1))), n - i);
}
}  // namespace danneal::simd
#endif
