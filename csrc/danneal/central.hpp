// Central (vector) clustering by mass-constrained deterministic annealing (Rose 1998), docs/central.md.
//
//   p(v|x_i) = p(v) exp(-|x_i - y_v|^2 / T) / Z_i,   p(v) = sum_i w_i p(v|x_i) / sum_i w_i,
//   y_v = sum_i w_i p(v|x_i) x_i / (sum_i w_i p(v|x_i)).
//
// One iteration is one pass over X in fixed-size row chunks.  Per block of rows the kernel forms
// G = X Y^T with a register-blocked micro-kernel (the norm trick: |x|^2 cancels in the softmax, so
// the logits are a_v = log p(v) + (2 x.y_v - |y_v|^2)/T), the max-subtracted row log-sum-exp with a
// vectorised exp (flushing to 0 far below the maximum), and the sufficient statistics sum_i w_i p_iv and sum_i w_i p_iv x_i
// (a second small GEMM, Q^T X) plus sum_i w_i p.g and sum_i w_i LSE_i for the distortion and the
// free energy.  Per-chunk partials (double) are combined in chunk order, so the result does not
// depend on the thread count.  The covariances needed for the critical temperatures
// T_c(v) = 2 lambda_max(C_{x|v}) come from a separate pass (central_covariance), run once per
// temperature by the annealing driver.
//
// The block kernels are written once with simd::Vec and simd/math.hpp and compiled in each
// instruction set's unit (csrc/danneal/simd/isa_*.cpp); the driver runs the one of
// simd::active_isa() (simd/isa.hpp).
#pragma once

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"

namespace danneal::central {

constexpr index_t kRowsPerChunk = 2048;  // rows per parallel work unit (independent of n_threads)
constexpr index_t kBlock = 128;          // rows per inner block (distance block and Q stay in L1/L2)
constexpr index_t kCovChunk = 16384;     // rows per work unit of the covariance pass
constexpr double kTinyMass = 1e-300;

// Everything one chunk of the pass needs.  Yt is d x kp (centroids transposed, zero padded),
// bias[v] = log p(v) - |y_v|^2 / T for T > 0 (-|y_v|^2 for the hard pass) and -inf on padding,
// scale = 2/T (2 for the hard pass).  kp is a multiple of the vector width.
template <class T>
struct PassArgs {
  const T* X;
  index_t d;
  const T* w;  // nullptr: unit weights
  const T* Yt;
  const T* bias;
  index_t k, kp;
  T scale;
  bool hard;
};

// Per-chunk outputs (double, zeroed by the caller): St (d x kp) = sum_i q_iv x_ij (transposed),
// mass (kp), stats[0] unused, stats[1] = sum_i w_i LSE_i (T > 0),
// stats[2] = number of rows whose logits were not finite.
struct PassOut {
  double* St;
  double* mass;
  double* stats;
};

// scratch: at least scratch_size<T>(kp) elements of T, 64-byte aligned.
template <class T>
inline index_t scratch_size(index_t kp) {
  return kBlock * kp + 2 * kBlock + 64;
}

namespace simd {
// The block kernel of one instruction set (defined below, instantiated in simd/isa_*.cpp).
template <class T, danneal::simd::Isa I>
void central_rows_isa(const PassArgs<T>&, index_t b, index_t e, T* scratch, const PassOut&);
#define DANNEAL_CENTRAL_KERNELS(P, I)                                                                  \
  P void central_rows_isa<float, I>(const PassArgs<float>&, index_t, index_t, float*, const PassOut&); \
  P void central_rows_isa<double, I>(const PassArgs<double>&, index_t, index_t, double*, const PassOut&);
#define DANNEAL_CENTRAL_EXTERN(I) DANNEAL_CENTRAL_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_CENTRAL_EXTERN)

template <class T>
inline void central_rows(const PassArgs<T>& a, index_t b, index_t e, T* scratch, const PassOut& o) {
  danneal::simd::with_isa(danneal::simd::active_isa(),
                          [&](auto isa) { central_rows_isa<T, decltype(isa)::value>(a, b, e, scratch, o); });
}
}  // namespace simd

// Indices into the `stats` output of central_fixed_point.
enum Stat : int {
  kDistortion = 0,   // sum_i w_i sum_v p_iv |x_i - y_v|^2 for the centroids entering the last iteration
  kFreeEnergy = 1,   // -T sum_i w_i LSE_v(log p(v) - |x_i - y_v|^2/T); equals the distortion at T = 0
  kMaxShift = 2,     // max_v |y_v(new) - y_v(old)| of the last iteration
  kTotalWeight = 3,  // sum_i w_i
  kNumStats = 4
};

// Clusters padded to a whole number of kPadBytes-byte blocks (4 doubles, 8 floats), a multiple of
// every unit's vector width (an AVX-512 unit would need 64: checked where the kernel is compiled).
constexpr index_t kPadBytes = 32;
template <class T>
inline index_t padded_k(index_t k) {
  constexpr index_t W = kPadBytes / sizeof(T);
  return ((k + W - 1) / W) * W;
}

inline int chunk_threads(int n_threads, index_t nc) {
  return effective_threads(n_threads, nc);
}

inline int thread_id() {
#ifdef DANNEAL_HAVE_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
T* aligned_array(index_t count) {
  const size_t bytes = ((static_cast<size_t>(count) * sizeof(T) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<T*>(p);
}

// sum_i w_i |x_i|^2 in double, chunk order.
template <class T>
double weighted_sq_norm(const T* X, index_t n, index_t d, const T* w, int n_threads) {
  const index_t nc = n_chunks(n, kRowsPerChunk);
  std::vector<double> part(static_cast<size_t>(nc), 0.0);
  parallel_chunks(n, kRowsPerChunk, n_threads, [&](index_t c, index_t b, index_t e) {
    double s = 0;
    for (index_t i = b; i < e; ++i) {
      double r = 0;
      for (index_t j = 0; j < d; ++j) r += static_cast<double>(X[i * d + j]) * static_cast<double>(X[i * d + j]);
      s += (w ? static_cast<double>(w[i]) : 1.0) * r;
    }
    part[c] = s;
  });
  double s = 0;
  for (index_t c = 0; c < nc; ++c) s += part[c];
  return s;
}

template <class T>
inline void check_common(index_t n, index_t d, index_t k, double temperature, int n_threads) {
  if (n < 1) throw std::invalid_argument("X must have at least one row");
  if (d < 1) throw std::invalid_argument("X must have at least one column");
  if (k < 1) throw std::invalid_argument("need at least one centroid");
  if (!(temperature >= 0) || !std::isfinite(temperature))
    throw std::invalid_argument("temperature must be finite and >= 0");
  if (temperature > 0 && !std::isfinite(2.0 / temperature))
    throw std::invalid_argument("temperature is too small (2/T overflows)");
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
}

// Buffers and one pass of the block kernel over X for given centroids: packs Y^T and the biases,
// runs the row kernel over fixed-size chunks and combines the per-chunk partials in chunk order.
// After run(), tot holds St (d x kp, sum_i w_i q_iv x_ij transposed), the masses (kp) and the pass
// statistics (3, see PassOut), and yy the squared centroid norms |y_v|^2.
template <class T>
struct PassRunner {
  const T* X;
  index_t n, d;
  const T* w;
  index_t k, kp, nc, width, ss;
  int nt;
  std::unique_ptr<T, AlignedFree> Yt, bias, scratch;
  std::vector<double> part, tot, yy;

  PassRunner(const T* X_, index_t n_, index_t d_, const T* w_, index_t k_, int n_threads)
      : X(X_),
        n(n_),
        d(d_),
        w(w_),
        k(k_),
        kp(padded_k<T>(k_)),
        nc(n_chunks(n_, kRowsPerChunk)),
        width(d_ * kp + kp + 3),
        ss(scratch_size<T>(kp)),
        nt(chunk_threads(n_threads, nc)),
        Yt(aligned_array<T>(d_ * kp)),
        bias(aligned_array<T>(kp)),
        scratch(aligned_array<T>(ss * nt)),
        part(static_cast<size_t>(nc * width)),
        tot(static_cast<size_t>(width)),
        yy(static_cast<size_t>(k_)) {}

  void run(const T* Y, const double* logp, double temperature) {
    const bool hard = temperature == 0;
    for (index_t v = 0; v < kp; ++v) {
      double s = 0;
      for (index_t j = 0; j < d; ++j) {
        const T y = v < k ? Y[v * d + j] : T(0);
        Yt.get()[j * kp + v] = y;
        s += static_cast<double>(y) * static_cast<double>(y);
      }
      if (v < k) yy[v] = s;
      double bv;
      if (v >= k)
        bv = -std::numeric_limits<double>::infinity();
      else if (hard)
        bv = -s;
      else
        bv = logp[v] - s / temperature;
      bias.get()[v] = static_cast<T>(bv);
    }
    PassArgs<T> args{X, d, w, Yt.get(), bias.get(), k, kp, static_cast<T>(hard ? 2.0 : 2.0 / temperature), hard};
    std::fill(part.begin(), part.end(), 0.0);
    parallel_chunks(n, kRowsPerChunk, nt, [&](index_t c, index_t b, index_t e) {
      double* p = part.data() + c * width;
      PassOut o{p, p + d * kp, p + d * kp + kp};
      simd::central_rows<T>(args, b, e, scratch.get() + ss * thread_id(), o);
    });
    reduce_chunks(part, nc, width, tot.data());
  }
};

// Up to max_iter fixed-point iterations of the mass-constrained DA equations at one temperature
// (temperature = 0: Lloyd iterations, hard assignments, lowest index on ties), starting from the
// centroids Y0 (k x d) and log masses logp0 (k, log p(v); -inf for a dead cluster).  Stops early
// when the largest centroid shift is < tol (tol = 0: exactly max_iter iterations).
// Outputs: Y (k x d), logp (k), mass (k, sum_i w_i p_iv), stats (kNumStats).
// A cluster whose mass vanishes keeps its centroid and gets log p = -inf.
template <class T>
Status central_fixed_point(const T* X, index_t n, index_t d, const T* w, const T* Y0, const double* logp0, index_t k,
                           double temperature, index_t max_iter, double tol, int n_threads, T* Y, double* logp,
                           double* mass, double* stats) {
  check_common<T>(n, d, k, temperature, n_threads);
  if (max_iter < 0) throw std::invalid_argument("max_iter must be >= 0");
  if (!(tol >= 0)) throw std::invalid_argument("tol must be >= 0");
  const bool hard = temperature == 0;
  PassRunner<T> pass(X, n, d, w, k, n_threads);
  const index_t kp = pass.kp;
  std::vector<double> ynew(static_cast<size_t>(k * d));

  for (index_t t = 0; t < k * d; ++t) Y[t] = Y0[t];
  for (index_t v = 0; v < k; ++v) logp[v] = logp0[v];
  for (int s = 0; s < kNumStats; ++s) stats[s] = 0.0;
  const double sxx = weighted_sq_norm(X, n, d, w, n_threads);
  double wsum = 0;
  if (w) {
    for (index_t i = 0; i < n; ++i) wsum += static_cast<double>(w[i]);
  } else {
    wsum = static_cast<double>(n);
  }
  stats[kTotalWeight] = wsum;
  for (index_t v = 0; v < k; ++v) mass[v] = std::exp(logp[v]) * wsum;

  Status st;
  for (index_t it = 0; it < max_iter; ++it) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    pass.run(Y, logp, temperature);
    const std::vector<double>& tot = pass.tot;
    const std::vector<double>& yy = pass.yy;
    const double* St = tot.data();
    const double* M = tot.data() + d * kp;
    const double* S = M + kp;
    // statistics of the posteriors computed from the centroids that entered this iteration
    double sqy = 0, xy = 0;  // sum_v mass_v |y_v|^2 and sum_i sum_v q_iv x_i . y_v = sum_v y_v . St_v
    for (index_t v = 0; v < k; ++v) {
      sqy += M[v] * yy[v];
      for (index_t j = 0; j < d; ++j) xy += static_cast<double>(Y[v * d + j]) * St[j * kp + v];
    }
    stats[kDistortion] = std::max(0.0, sxx - 2.0 * xy + sqy);
    stats[kFreeEnergy] = hard ? stats[kDistortion] : sxx - temperature * S[1];
    st.numerical_error = st.numerical_error || S[2] > 0;
    // update
    double shift = 0;
    for (index_t v = 0; v < k; ++v) {
      mass[v] = M[v];
      if (M[v] > kTinyMass && std::isfinite(M[v])) {
        double s2 = 0;
        for (index_t j = 0; j < d; ++j) {
          // rounded to T first, so that a Lloyd pass whose assignments are stable reports shift 0
          const double y = static_cast<double>(static_cast<T>(St[j * kp + v] / M[v]));
          ynew[v * d + j] = y;
          const double dy = y - static_cast<double>(Y[v * d + j]);
          s2 += dy * dy;
        }
        shift = std::max(shift, std::sqrt(s2));
        logp[v] = std::log(M[v] / wsum);
      } else {
        for (index_t j = 0; j < d; ++j) ynew[v * d + j] = static_cast<double>(Y[v * d + j]);
        logp[v] = -std::numeric_limits<double>::infinity();
      }
    }
    for (index_t t = 0; t < k * d; ++t) Y[t] = static_cast<T>(ynew[t]);
    stats[kMaxShift] = shift;
    st.iterations = it + 1;
    st.error = shift;
    if (shift < tol) {
      st.converged = true;
      break;
    }
  }
  return st;
}

// The sufficient statistics of one pass, for drivers that combine several blocks of rows
// themselves (danneal.dask): with the posteriors of (Y, logp) at `temperature` (0: hard, lowest
// index on ties), sums (k x d) = sum_i w_i p_iv x_i, mass (k) = sum_i w_i p_iv and
// out[kBlockLSE] = sum_i w_i LSE_v(log p(v) + (2 x_i.y_v - |y_v|^2)/T) (T > 0; |x_i|^2/T is left out as
// in the pass, so the free energy is out[kBlockSqNorm] - T out[kBlockLSE]), out[kBlockSqNorm] = sum_i w_i |x_i|^2,
// out[kBlockWeight] = sum_i w_i, out[kBlockNonFinite] = rows whose logits were not finite.
enum BlockStat : int { kBlockLSE = 0, kBlockSqNorm = 1, kBlockWeight = 2, kBlockNonFinite = 3, kNumBlockStats = 4 };

template <class T>
Status central_statistics(const T* X, index_t n, index_t d, const T* w, const T* Y, const double* logp, index_t k,
                          double temperature, int n_threads, double* sums, double* mass, double* out) {
  check_common<T>(n, d, k, temperature, n_threads);
  PassRunner<T> pass(X, n, d, w, k, n_threads);
  pass.run(Y, logp, temperature);
  const index_t kp = pass.kp;
  const double* St = pass.tot.data();
  for (index_t v = 0; v < k; ++v) {
    mass[v] = St[d * kp + v];
    for (index_t j = 0; j < d; ++j) sums[v * d + j] = St[j * kp + v];
  }
  double wsum = 0;
  if (w) {
    for (index_t i = 0; i < n; ++i) wsum += static_cast<double>(w[i]);
  } else {
    wsum = static_cast<double>(n);
  }
  out[kBlockLSE] = St[d * kp + kp + 1];
  out[kBlockSqNorm] = weighted_sq_norm(X, n, d, w, n_threads);
  out[kBlockWeight] = wsum;
  out[kBlockNonFinite] = St[d * kp + kp + 2];
  Status st;
  st.iterations = 1;
  st.converged = true;
  st.numerical_error = out[kBlockNonFinite] > 0;
  return st;
}

// Soft assignments at one temperature (hard, one-hot, at T = 0) for the centroids Y and log
// masses logp, written to P (n x k), and the per-row log partition function LSE_v(log p(v) -
// |x - y_v|^2 / T) (at T = 0: minus the smallest squared distance) to logZ (n).  Squared
// distances are formed directly (not by the norm trick) so that this is exact for prediction.
template <class T>
Status central_posteriors(const T* X, index_t n, index_t d, const T* Y, const double* logp, index_t k,
                          double temperature, int n_threads, T* P, double* logZ) {
  check_common<T>(n, d, k, temperature, n_threads);
  const bool hard = temperature == 0;
  const index_t nc = n_chunks(n);
  std::vector<char> bad(static_cast<size_t>(nc), 0);
  std::vector<double> buf(static_cast<size_t>(effective_threads(n_threads, nc) * k));
  parallel_chunks(n, kChunk, n_threads, [&](index_t c, index_t b, index_t e) {
    double* a = buf.data() + thread_id() * k;
    for (index_t i = b; i < e; ++i) {
      const T* x = X + i * d;
      // squared distances first; the logits are shifted by the smallest one, a_v = log p(v) -
      // (d_v - dmin)/T, so that d/T overflowing for a tiny T only flushes the far clusters
      double dmin = std::numeric_limits<double>::infinity();
      for (index_t v = 0; v < k; ++v) {
        double s = 0;
        for (index_t j = 0; j < d; ++j) {
          const double diff = static_cast<double>(x[j]) - static_cast<double>(Y[v * d + j]);
          s += diff * diff;
        }
        a[v] = s;
        dmin = std::min(dmin, s);
      }
      double m = -std::numeric_limits<double>::infinity();
      index_t best = 0;
      for (index_t v = 0; v < k; ++v) {
        a[v] = hard ? -a[v] : logp[v] - (a[v] - dmin) / temperature;
        if (a[v] > m) {
          m = a[v];
          best = v;
        }
      }
      if (!std::isfinite(m) || !std::isfinite(dmin)) {
        bad[c] = 1;
        for (index_t v = 0; v < k; ++v) P[i * k + v] = static_cast<T>(1.0 / k);
        logZ[i] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      if (hard) {
        for (index_t v = 0; v < k; ++v) P[i * k + v] = static_cast<T>(v == best ? 1 : 0);
        logZ[i] = m;
        continue;
      }
      // p_v = exp(a_v - m) / s: dividing by s (>= 1) keeps the rows normalised whatever the size
      // of m (exp(a_v - (m + log s)) loses log s when |m| is large)
      double s = 0;
      for (index_t v = 0; v < k; ++v) {
        a[v] = std::exp(a[v] - m);
        s += a[v];
      }
      for (index_t v = 0; v < k; ++v) P[i * k + v] = static_cast<T>(a[v] / s);
      logZ[i] = (m - dmin / temperature) + std::log(s);
    }
  });
  Status st;
  st.converged = true;
  for (char b : bad) st.numerical_error = st.numerical_error || b;
  return st;
}

// One pass computing, with the posteriors of (Y, logp) at `temperature` (> 0), the masses
// mass_v = sum_i w_i p_iv, the means mu_v and the posterior covariances
// C_v = sum_i w_i p_iv (x_i - mu_v)(x_i - mu_v)^T / mass_v (k x d x d), whose largest eigenvalues
// give the critical temperatures T_c(v) = 2 lambda_max(C_v).  Terms with p_iv < 1e-12 are skipped
// (they change C_v by a relative 1e-12 at most per point).  Accumulated as sum q (x - y)(x - y)^T
// about the given centroids and corrected to the mean afterwards, which is exact and stable.
template <class T>
Status central_covariance(const T* X, index_t n, index_t d, const T* w, const T* Y, const double* logp, index_t k,
                          double temperature, int n_threads, double* cov, double* mass, double* mean) {
  check_common<T>(n, d, k, temperature, n_threads);
  if (!(temperature > 0)) throw std::invalid_argument("temperature must be > 0 for the covariance pass");
  const index_t nc = n_chunks(n, kCovChunk);
  const int nt = effective_threads(n_threads, nc);
  const index_t width = k * d * d + k * d + k + 1;
  std::vector<double> part(static_cast<size_t>(nc * width), 0.0);
  std::vector<double> buf(static_cast<size_t>(nt * (k + d)));
  constexpr double kSkip = 1e-12;
  parallel_chunks(n, kCovChunk, nt, [&](index_t c, index_t b, index_t e) {
    double* a = buf.data() + thread_id() * (k + d);
    double* diff = a + k;
    double* pc = part.data() + c * width;
    double* pm = pc + k * d * d;  // first moments about y
    double* pk = pm + k * d;      // masses
    for (index_t i = b; i < e; ++i) {
      const T* x = X + i * d;
      const double wi = w ? static_cast<double>(w[i]) : 1.0;
      double m = -std::numeric_limits<double>::infinity();
      for (index_t v = 0; v < k; ++v) {
        double s = 0;
        for (index_t j = 0; j < d; ++j) {
          const double dd = static_cast<double>(x[j]) - static_cast<double>(Y[v * d + j]);
          s += dd * dd;
        }
        a[v] = logp[v] - s / temperature;
        m = std::max(m, a[v]);
      }
      if (!std::isfinite(m)) {
        pc[width - 1] += 1;
        continue;
      }
      double s = 0;
      for (index_t v = 0; v < k; ++v) {
        a[v] = std::exp(a[v] - m);
        s += a[v];
      }
      for (index_t v = 0; v < k; ++v) {
        const double p = a[v] / s;  // normalised at any |m| (see central_posteriors)
        if (p < kSkip) continue;
        const double q = wi * p;
        pk[v] += q;
        for (index_t j = 0; j < d; ++j) diff[j] = static_cast<double>(x[j]) - static_cast<double>(Y[v * d + j]);
        double* cv = pc + v * d * d;
        double* mv = pm + v * d;
        for (index_t j = 0; j < d; ++j) {
          const double qj = q * diff[j];
          mv[j] += qj;
          for (index_t l = 0; l <= j; ++l) cv[j * d + l] += qj * diff[l];
        }
      }
    }
  });
  std::vector<double> tot(static_cast<size_t>(width));
  reduce_chunks(part, nc, width, tot.data());
  const double* C = tot.data();
  const double* M1 = C + k * d * d;
  const double* K = M1 + k * d;
  for (index_t v = 0; v < k; ++v) {
    mass[v] = K[v];
    const double mv = K[v] > kTinyMass ? K[v] : 0.0;
    for (index_t j = 0; j < d; ++j) {
      const double off = mv > 0 ? M1[v * d + j] / mv : 0.0;  // mu - y
      mean[v * d + j] = static_cast<double>(Y[v * d + j]) + off;
    }
    for (index_t j = 0; j < d; ++j)
      for (index_t l = 0; l <= j; ++l) {
        double c = 0;
        if (mv > 0) {
          const double oj = M1[v * d + j] / mv, ol = M1[v * d + l] / mv;
          c = C[v * d * d + j * d + l] / mv - oj * ol;
        }
        cov[v * d * d + j * d + l] = c;
        cov[v * d * d + l * d + j] = c;
      }
  }
  Status st;
  st.converged = true;
  st.numerical_error = K[k] > 0;
  return st;
}

// ---- the block kernels, compiled in the per-instruction-set units (simd/isa_*.cpp) ------------
#ifdef DANNEAL_SIMD_UNIT_ISA
// Internal linkage: each unit gets its own copy compiled for its instruction set.
namespace {

// exp of the max-subtracted logits (<= 0) is flushed to exactly 0 below kExpCut, so that the
// products with weights and data in the statistics GEMM stay normal (no denormals); the exp
// itself is simd::exp_flush (simd/math.hpp).
template <class T>
constexpr T kExpCut = sizeof(T) == 8 ? T(-650) : T(-70);  // e^-650 ~ 1e-282, e^-70 ~ 4e-31

// Register-blocked micro-kernel: C[a][v] = sum_{l < L} A(a, l) * B[l][v] for a < MA and NV vectors
// of columns v, with A(a, l) = A[a * sa + l * sl] (broadcast) and B rows of stride ldb.  Serves
// both the distance block (A = X rows, B = Y^T) and the statistics block (A = X^T, B = Q).
template <class S, int MA, int NV>
inline void micro(const typename S::Scalar* A, index_t sa, index_t sl, const typename S::Scalar* B, index_t ldb,
                  index_t L, typename S::V* out /* MA x NV, row stride NV */) {
  using V = typename S::V;
  constexpr int W = S::W;
  V c[MA][NV];
  for (int a = 0; a < MA; ++a)
    for (int v = 0; v < NV; ++v) c[a][v] = V{};
#pragma GCC unroll 4
  for (index_t l = 0; l < L; ++l) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = S::load(B + l * ldb + v * W);
    for (int a = 0; a < MA; ++a) {
      const V av = S::bcast(A + a * sa + l * sl);
      for (int v = 0; v < NV; ++v) c[a][v] = S::fma(av, bv[v], c[a][v]);
    }
  }
  for (int a = 0; a < MA; ++a)
    for (int v = 0; v < NV; ++v) out[a * NV + v] = c[a][v];
}

// C (ma x kp) = sum_l A(a, l) B[l][:] for all a < ma, in register tiles of up to 4 x 3 vectors
// (12 accumulators + 3 B vectors + 1 broadcast = the 16 ymm registers); sink(a, col, vector)
// receives every result vector.
template <class S, class Sink>
inline void gemm_tiles(const typename S::Scalar* A, index_t sa, index_t sl, index_t ma, const typename S::Scalar* B,
                       index_t kp, index_t L, Sink&& sink) {
  using T = typename S::Scalar;
  using V = typename S::V;
  constexpr int W = S::W;
  const index_t nvec = kp / W;
  V tile[4 * 3];
  for (index_t v0 = 0; v0 < nvec;) {
    // 3 vectors wide while at least 3 remain, except split 4 as 2 + 2
    const index_t left = nvec - v0;
    const int nv = static_cast<int>(left >= 5 || left == 3 ? 3 : std::min<index_t>(2, left));
    const T* Bp = B + v0 * W;
    for (index_t a0 = 0; a0 < ma; a0 += 4) {
      const int mr = static_cast<int>(std::min<index_t>(4, ma - a0));
      const T* Ap = A + a0 * sa;
#define DANNEAL_MK(MR, NVV)                         \
  case (MR * 4 + NVV):                              \
    micro<S, MR, NVV>(Ap, sa, sl, Bp, kp, L, tile); \
    break;
      switch (mr * 4 + nv) {
        DANNEAL_MK(4, 3)
        DANNEAL_MK(4, 2)
        DANNEAL_MK(4, 1)
        DANNEAL_MK(3, 3)
        DANNEAL_MK(3, 2)
        DANNEAL_MK(3, 1)
        DANNEAL_MK(2, 3)
        DANNEAL_MK(2, 2)
        DANNEAL_MK(2, 1)
        DANNEAL_MK(1, 3)
        DANNEAL_MK(1, 2)
        DANNEAL_MK(1, 1)
        default:
          break;
      }
#undef DANNEAL_MK
      for (int a = 0; a < mr; ++a)
        for (int v = 0; v < nv; ++v) sink(a0 + a, (v0 + v) * W, tile[a * nv + v]);
    }
    v0 += nv;
  }
}

// One chunk of rows [b, e): per block of kBlock rows, G = X_b Y^T (micro-kernel), logits, row max,
// exp of the whole block (independent vectors: throughput- rather than latency-bound), row sums,
// Q = w p, then masses and St += X_b^T Q (micro-kernel again).
template <class T, danneal::simd::Isa I>
void central_rows_generic(const PassArgs<T>& g, index_t b, index_t e, T* scratch, const PassOut& o) {
  using S = danneal::simd::Vec<T, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  static_assert(kPadBytes % S::kBytes == 0, "kp must be a whole number of vectors");
  const index_t d = g.d, kp = g.kp, k = g.k, nvec = kp / W;
  T* Q = scratch;              // kBlock x kp: logits, then exps, then w_i p_iv
  T* svals = Q + kBlock * kp;  // kBlock: row max, then row sums of the exps
  T* wvals = svals + kBlock;   // kBlock: weights (0 for a non-finite row)
  double lse = 0, bad = 0;
  const V scale = S::splat(g.scale);
  const V inf = S::splat(std::numeric_limits<T>::infinity());
  for (index_t r0 = b; r0 < e; r0 += kBlock) {
    const index_t nr = std::min(kBlock, e - r0);
    const T* Xb = g.X + r0 * d;
    // logits a = scale * (X Y^T) + bias, written straight from the registers
    gemm_tiles<S>(Xb, d, 1, nr, g.Yt, kp, d, [&](index_t a, index_t col, const V& v) {
      S::store(Q + a * kp + col, S::fma(v, scale, S::load(g.bias + col)));
    });
    for (index_t r = 0; r < nr; ++r) {
      const T* qrow = Q + r * kp;
      V mx = -inf;
      for (index_t v = 0; v < nvec; ++v) mx = S::max(mx, S::load(qrow + v * W));
      const T m = S::hmax(mx);
      const T wi = g.w ? g.w[r0 + r] : T(1);
      const bool ok = std::abs(m) <= std::numeric_limits<T>::max();
      bad += ok ? 0 : 1;
      svals[r] = ok ? m : T(0);
      wvals[r] = ok ? wi : T(0);
    }
    if (g.hard) {
      for (index_t r = 0; r < nr; ++r) {
        T* qrow = Q + r * kp;
        const T m = svals[r];
        index_t best = 0;
        for (index_t v = 0; v < k; ++v)
          if (qrow[v] == m) {
            best = v;
            break;
          }
        for (index_t v = 0; v < kp; ++v) qrow[v] = 0;
        qrow[best] = wvals[r];
      }
    } else {
      for (index_t r = 0; r < nr; ++r) {
        T* qrow = Q + r * kp;
        const V mv = S::splat(svals[r]);
        for (index_t v = 0; v < nvec; ++v)
          S::store(qrow + v * W, danneal::simd::exp_flush<S>(S::load(qrow + v * W) - mv, kExpCut<T>));
      }
      for (index_t r = 0; r < nr; ++r) {
        T* qrow = Q + r * kp;
        V sacc = S::load(qrow);
        for (index_t v = 1; v < nvec; ++v) sacc += S::load(qrow + v * W);
        const T s = S::hsum(sacc);
        lse += static_cast<double>(wvals[r]) * static_cast<double>(svals[r]);
        svals[r] = s;
        const V f = S::splat(wvals[r] / s);
        for (index_t v = 0; v < nvec; ++v) S::store(qrow + v * W, S::load(qrow + v * W) * f);
      }
      // sum_i w_i log s_i, vectorised over the block
      index_t r = 0;
      V lacc = V{};
      for (; r + W <= nr; r += W) lacc = S::fma(S::load(wvals + r), danneal::simd::log<S>(S::load(svals + r)), lacc);
      double ls = static_cast<double>(S::hsum(lacc));
      for (; r < nr; ++r) ls += static_cast<double>(wvals[r]) * std::log(static_cast<double>(svals[r]));
      lse += ls;
    }
    // masses: four independent accumulators per vector of clusters
    for (index_t v = 0; v < nvec; ++v) {
      V m0 = V{}, m1 = V{}, m2 = V{}, m3 = V{};
      index_t r = 0;
      for (; r + 4 <= nr; r += 4) {
        m0 += S::load(Q + r * kp + v * W);
        m1 += S::load(Q + (r + 1) * kp + v * W);
        m2 += S::load(Q + (r + 2) * kp + v * W);
        m3 += S::load(Q + (r + 3) * kp + v * W);
      }
      for (; r < nr; ++r) m0 += S::load(Q + r * kp + v * W);
      const V macc = (m0 + m1) + (m2 + m3);
      for (int l = 0; l < W; ++l) o.mass[v * W + l] += static_cast<double>(macc[l]);
    }
    // St (d x kp) += X_b^T Q_b
    gemm_tiles<S>(Xb, 1, d, d, Q, kp, nr, [&](index_t a, index_t col, const V& v) {
      double* dst = o.St + a * kp + col;
      for (int l = 0; l < W; ++l) dst[l] += static_cast<double>(v[l]);
    });
  }
  o.stats[1] += lse;
  o.stats[2] += bad;
}

}  // namespace

namespace simd {
template <class T, danneal::simd::Isa I>
void central_rows_isa(const PassArgs<T>& a, index_t b, index_t e, T* scratch, const PassOut& o) {
  central_rows_generic<T, I>(a, b, e, scratch, o);
}
}  // namespace simd
#endif  // DANNEAL_SIMD_UNIT_ISA

}  // namespace danneal::central
