// Shared pieces of every danneal kernel: status, threading with fixed-size chunks, and
// numerically safe log-sum-exp.  No Python headers here (GUIDE §1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef DANNEAL_HAVE_OPENMP
#include <omp.h>
#endif

namespace danneal {

using index_t = std::int64_t;

// Returned by every iterative kernel.
struct Status {
  bool converged = false;
  bool numerical_error = false;  // a non-finite value was met and contained
  index_t iterations = 0;
  double error = 0.0;  // kernel-specific convergence measure (documented per kernel)
};

// Whether this CPU runs AVX2 + FMA code (read once).  Each kernel family combines it with whether
// its AVX2 translation unit was compiled with those instructions.
inline bool cpu_supports_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

inline bool have_openmp() {
#ifdef DANNEAL_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

// Rows (or items) per parallel work unit.  It never depends on the thread count, so that
// reductions over chunks combine in the same order whatever n_threads is.
constexpr index_t kChunk = 256;

inline index_t n_chunks(index_t n, index_t chunk = kChunk) { return (n + chunk - 1) / chunk; }

// Threads actually started: never more than there are chunks, never fewer than one.
inline int effective_threads(int n_threads, index_t chunks) {
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1, got " + std::to_string(n_threads));
  index_t t = std::min<index_t>(n_threads, std::max<index_t>(chunks, 1));
  return static_cast<int>(t);
}

// Calls body(chunk_index, begin, end) for every chunk of [0, n), in parallel over chunks.
// The body must not throw.  Static scheduling keeps the assignment of chunks reproducible,
// but correctness of reductions relies only on storing per-chunk partials.
template <class Body>
inline void parallel_chunks(index_t n, index_t chunk, int n_threads, Body&& body) {
  const index_t nc = n_chunks(n, chunk);
  const int nt = effective_threads(n_threads, nc);
#ifdef DANNEAL_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
  for (index_t c = 0; c < nc; ++c) {
    const index_t b = c * chunk;
    const index_t e = std::min(n, b + chunk);
    body(c, b, e);
  }
  (void)nt;
}

// Sums per-chunk partials (laid out as nc rows of width w) in chunk order into out[0..w).
inline void reduce_chunks(const std::vector<double>& partials, index_t nc, index_t w, double* out) {
  for (index_t j = 0; j < w; ++j) out[j] = 0.0;
  for (index_t c = 0; c < nc; ++c)
    for (index_t j = 0; j < w; ++j) out[j] += partials[c * w + j];
}

// log(sum(exp(x[i]))) with the max subtracted; -inf for an all -inf row.  A value, not a way to
// normalise: exp(x - logsumexp(x)) loses log(s) when |max| is large (issue 10); normalise as
// exp(x - max) / s instead.
template <class T>
inline T logsumexp(const T* x, index_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (index_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (!(m > -std::numeric_limits<T>::infinity())) return m;
  double s = 0.0;
  for (index_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i] - m));
  return m + static_cast<T>(std::log(s));
}

template <class T>
inline bool all_finite(const T* x, index_t n) {
  for (index_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

}  // namespace danneal
