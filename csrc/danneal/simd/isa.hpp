// The instruction-set dispatcher of the SIMD layer (docs/design.md, "The SIMD layer").
//
// Every vectorised row-block kernel is a template on (T, Isa), written once with simd::Vec
// (vec.hpp) and simd/math.hpp, and explicitly instantiated in one translation unit per instruction
// set (csrc/danneal/simd/isa_<name>.cpp, compiled with that set's flags).  The families' drivers
// call them through with_isa(active_isa(), ...): the instruction set is chosen once per process,
// the best one this build and CPU have, unless the environment variable DANNEAL_ISA names another
// (read once, when danneal._core is imported):
//
//   DANNEAL_ISA=baseline   the x86-64 (or non-x86) baseline unit: tests the fallback anywhere
//   DANNEAL_ISA=avx2       AVX2 + FMA; where this build or CPU lacks it, a RuntimeWarning at import
//                          and the baseline runs
//   anything else          ImportError naming the value and the choices
//
// This header has no vector code, so the drivers and bindings may include it.  Adding an
// instruction set (e.g. AVX-512): an enum value, its name below, cpu_supports, an IsaTraits
// specialisation in vec.hpp, a unit isa_<name>.cpp, its CMake flags, one line in with_isa.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace danneal::simd {

enum class Isa : int { baseline = 0, avx2 = 1 };

inline const char* isa_name(Isa isa) {
  return isa == Isa::avx2 ? "avx2" : "baseline";
}

// Whether this build compiled the instruction set's unit (CMake defines DANNEAL_HAVE_ISA_AVX2 on
// x86-64 only; other processors build the baseline alone).
constexpr bool isa_built(Isa isa) {
#ifdef DANNEAL_HAVE_ISA_AVX2
  return isa == Isa::baseline || isa == Isa::avx2;
#else
  return isa == Isa::baseline;
#endif
}

// Whether this CPU runs the instruction set (cpuid, read once).
inline bool cpu_supports(Isa isa) {
  if (isa == Isa::baseline) return true;
#if defined(__x86_64__) || defined(__i386__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2;
#else
  return false;
#endif
}

inline bool isa_available(Isa isa) {
  return isa_built(isa) && cpu_supports(isa);
}

struct IsaChoice {
  Isa isa = Isa::baseline;
  std::string warning;  // non-empty: the request could not be honoured (said at import)
};

// The instruction set for a value of DANNEAL_ISA (nullptr or empty: the best available).
// Throws std::invalid_argument for a name that is not an instruction set.
inline IsaChoice choose_isa(const char* request) {
  IsaChoice c;
  c.isa = isa_available(Isa::avx2) ? Isa::avx2 : Isa::baseline;
  if (request == nullptr || *request == '\0') return c;
  const std::string r(request);
  Isa want;
  if (r == "baseline")
    want = Isa::baseline;
  else if (r == "avx2")
    want = Isa::avx2;
  else
    throw std::invalid_argument("DANNEAL_ISA='" + r + "' is not an instruction set; use 'baseline' or 'avx2'");
  if (isa_available(want)) {
    c.isa = want;
  } else {
    c.isa = Isa::baseline;
    c.warning = "DANNEAL_ISA='" + r + "' is not available (" +
                (isa_built(want) ? "this CPU lacks it" : "this build has no unit for it") + "); running 'baseline'";
  }
  return c;
}

// The choice every kernel runs with, made on the first call (danneal._core calls it at import).
inline const IsaChoice& isa_choice() {
  static const IsaChoice c = choose_isa(std::getenv("DANNEAL_ISA"));
  return c;
}

inline Isa active_isa() {
  return isa_choice().isa;
}

// X(isa) for every instruction set this build has a unit for.  A family declares its kernels'
// instantiations `extern template` for each of them (so that no unit ever instantiates another
// unit's kernel with its own flags) and each unit defines its own (simd/isa_unit.inc).
#ifdef DANNEAL_HAVE_ISA_AVX2
#define DANNEAL_SIMD_FOR_EACH_ISA(X) X(::danneal::simd::Isa::baseline) X(::danneal::simd::Isa::avx2)
#else
#define DANNEAL_SIMD_FOR_EACH_ISA(X) X(::danneal::simd::Isa::baseline)
#endif

template <Isa I>
struct IsaTag {
  static constexpr Isa value = I;
};

// f(IsaTag<I>{}) for the instruction set `isa`: a driver calls its kernel as
//   with_isa(active_isa(), [&](auto tag) { kernel<T, decltype(tag)::value>(...); });
template <class F>
inline decltype(auto) with_isa(Isa isa, F&& f) {
#ifdef DANNEAL_HAVE_ISA_AVX2
  if (isa == Isa::avx2) return f(IsaTag<Isa::avx2>{});
#else
  (void)isa;
#endif
  return f(IsaTag<Isa::baseline>{});
}

// Test-only entry points of simd/math.hpp (bound as danneal._core._simd_exp / _simd_log):
// y[i] = exp(x[i]) / log(x[i]) through the vector code of instruction set I.
template <class T, Isa I>
void exp_array(const T* x, T* y, std::int64_t n);
template <class T, Isa I>
void log_array(const T* x, T* y, std::int64_t n);
#define DANNEAL_SIMD_MATH_KERNELS(P, I)                              \
  P void exp_array<float, I>(const float*, float*, std::int64_t);    \
  P void exp_array<double, I>(const double*, double*, std::int64_t); \
  P void log_array<float, I>(const float*, float*, std::int64_t);    \
  P void log_array<double, I>(const double*, double*, std::int64_t);
#define DANNEAL_SIMD_MATH_EXTERN(I) DANNEAL_SIMD_MATH_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_SIMD_MATH_EXTERN)

}  // namespace danneal::simd
