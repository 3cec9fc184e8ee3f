// Softassign family (Gold & Rangarajan 1996; Rangarajan 2000), docs/softassign.md.
//
// sinkhorn_log: Sinkhorn matrix scaling of K = exp(scale * C) to marginals a, b, written so that it
// is as cheap per iteration as plain scaling (one streaming pass over an n x m array, no
// exponentials) and still log-stable at any regularisation:
//
//   P_ij = u_i * Kt_ij * v_j,   Kt_ij = exp(scale*C_ij + alpha_i + beta_j)   (stabilised kernel)
//
// The log-domain duals are alpha + log u and beta + log v.  One scaling iteration
// (u <- a / Kt v, v <- b / Kt^T u) is fused into a single pass over Kt: each row is dotted with v,
// then (still in cache) added, times its new u_i, into per-chunk column partials.  Whenever a
// scaling leaves [e^-tau, e^tau] (relative to its value after the last stabilisation), or a sum
// under/overflows, the iteration is redone in the log domain (max-subtracted LSE over rows, then
// over columns), which absorbs the scalings into the duals and rewrites Kt (Schmitzer 2019,
// "Stabilized sparse scaling algorithms for entropy regularized transport problems", Sec. 3.1).
// Mathematically every iteration is exactly the log-domain update
//   alpha_i <- log a_i - LSE_j(scale*C_ij + beta_j),   beta_j <- log b_j - LSE_i(scale*C_ij + alpha_i),
// so the result equals the numpy twin (danneal.reference.sinkhorn_log) up to rounding.
//
// Stopping: the error of a state is the row-marginal violation ||P 1 - a|| (max norm or l2) after
// its column update (columns are then exact, as in POT's ot.sinkhorn, which measures the column
// violation after its row update).  It is available for free in the next fused pass.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"

namespace danneal::simd {
// Row primitives of the fused Sinkhorn pass, one unit per instruction set (defined at the end of
// this header, instantiated in simd/isa_*.cpp).  Sums accumulate in double (float lanes for
// sa_dotf) in a fixed order, independent of the thread count.
template <class T, Isa I>
double sa_dot_isa(const T* K, const double* v, index_t m);  // sum_j K_j v_j
template <class T, Isa I>
void sa_axpy_isa(double u, const T* K, double* w, index_t m);  // w += u K
template <class T, Isa I>
void sa_exp_isa(T* x, index_t m);  // x <- exp(x) (simd/math.hpp)
template <Isa I>
double sa_dotf_isa(const float* K, const float* v, index_t m);
template <Isa I>
void sa_axpyf_isa(float u, const float* K, float* w, index_t m);
template <Isa I>
void sa_gemm_isa(const double* X, const double* Y, double* out, index_t n);  // out += X @ Y
#define DANNEAL_SOFTASSIGN_KERNELS(P, I)                                  \
  P double sa_dot_isa<double, I>(const double*, const double*, index_t);  \
  P double sa_dot_isa<float, I>(const float*, const double*, index_t);    \
  P void sa_axpy_isa<double, I>(double, const double*, double*, index_t); \
  P void sa_axpy_isa<float, I>(double, const float*, double*, index_t);   \
  P void sa_exp_isa<double, I>(double*, index_t);                         \
  P void sa_exp_isa<float, I>(float*, index_t);                           \
  P double sa_dotf_isa<I>(const float*, const float*, index_t);           \
  P void sa_axpyf_isa<I>(float, const float*, float*, index_t);           \
  P void sa_gemm_isa<I>(const double*, const double*, double*, index_t);
#define DANNEAL_SOFTASSIGN_EXTERN(I) DANNEAL_SOFTASSIGN_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_SOFTASSIGN_EXTERN)

template <class T>
inline double sa_dot(const T* K, const double* v, index_t m) {
  return with_isa(active_isa(), [&](auto isa) { return sa_dot_isa<T, decltype(isa)::value>(K, v, m); });
}
template <class T>
inline void sa_axpy(double u, const T* K, double* w, index_t m) {
  with_isa(active_isa(), [&](auto isa) { sa_axpy_isa<T, decltype(isa)::value>(u, K, w, m); });
}
// x[j] <- exp(x[j]) (vectorised; simd/math.hpp states its accuracy and range)
inline void sa_exp(double* x, index_t m) {
  with_isa(active_isa(), [&](auto isa) { sa_exp_isa<double, decltype(isa)::value>(x, m); });
}
inline void sa_expf(float* x, index_t m) {
  with_isa(active_isa(), [&](auto isa) { sa_exp_isa<float, decltype(isa)::value>(x, m); });
}
// x (double) -> exp(x) in double, through a float exp when the kernel is float32 (xf: scratch)
template <class T>
inline void sa_exp_t(double* x, float* xf, index_t m) {
  if constexpr (std::is_same<T, float>::value) {
    for (index_t j = 0; j < m; ++j) xf[j] = static_cast<float>(x[j]);
    sa_expf(xf, m);
    for (index_t j = 0; j < m; ++j) x[j] = static_cast<double>(xf[j]);
  } else {
    (void)xf;
    sa_exp(x, m);
  }
}

// float32 kernel rows: dot accumulated in float lanes (combined in double), axpy into float partials
inline double sa_dotf(const float* K, const float* v, index_t m) {
  return with_isa(active_isa(), [&](auto isa) { return sa_dotf_isa<decltype(isa)::value>(K, v, m); });
}
inline void sa_axpyf(float u, const float* K, float* w, index_t m) {
  with_isa(active_isa(), [&](auto isa) { sa_axpyf_isa<decltype(isa)::value>(u, K, w, m); });
}

// out += X @ Y (n x n, row-major, double)
inline void sa_gemm(const double* X, const double* Y, double* out, index_t n) {
  with_isa(active_isa(), [&](auto isa) { sa_gemm_isa<decltype(isa)::value>(X, Y, out, n); });
}
}  // namespace danneal::simd

namespace danneal::softassign {

enum Norm : int { kMax = 0, kL2 = 2 };

// Max and sum with four independent accumulators (fixed order: deterministic, but not serial).
inline double max4(const double* x, index_t m) {
  const double ninf = -std::numeric_limits<double>::infinity();
  double a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
  index_t j = 0;
  for (; j + 4 <= m; j += 4) {
    a0 = x[j] > a0 ? x[j] : a0;
    a1 = x[j + 1] > a1 ? x[j + 1] : a1;
    a2 = x[j + 2] > a2 ? x[j + 2] : a2;
    a3 = x[j + 3] > a3 ? x[j + 3] : a3;
  }
  for (; j < m; ++j) a0 = x[j] > a0 ? x[j] : a0;
  return std::max(std::max(a0, a1), std::max(a2, a3));
}
template <class T>
inline double sum4(const T* x, index_t m) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  index_t j = 0;
  for (; j + 4 <= m; j += 4) {
    a0 += static_cast<double>(x[j]);
    a1 += static_cast<double>(x[j + 1]);
    a2 += static_cast<double>(x[j + 2]);
    a3 += static_cast<double>(x[j + 3]);
  }
  for (; j < m; ++j) a0 += static_cast<double>(x[j]);
  return (a0 + a1) + (a2 + a3);
}

// Scaling bound (log units) before a stabilisation: Kt is stored in T, so float keeps it small.
template <class T>
constexpr double tau() {
  return sizeof(T) == 4 ? 20.0 : 100.0;
}

// Sinkhorn in the log domain (see the header comment).
//  C (n x m, T), scale (finite, nonzero): log K = scale * C (scale = -1/reg for a cost, beta for a benefit)
//  a (n), b (m): positive marginals (double; equal sums are the caller's business)
//  alpha0 (n), beta0 (m): starting log-domain duals (zeros for a cold start)
//  max_iter >= 0, tol >= 0 (tol = 0: exactly max_iter iterations), norm: kMax or kL2
// Outputs: P (n x m, T) the plan exp(scale*C + alpha + beta); alpha (n), beta (m) final duals.
// Status: iterations, error (marginal violation of the returned plan), converged (error < tol).
template <class T>
Status sinkhorn_log(const T* C, index_t n, index_t m, double scale, const double* a, const double* b,
                    const double* alpha0, const double* beta0, index_t max_iter, double tol, int norm, int n_threads,
                    T* P, double* alpha, double* beta) {
  if (n < 1 || m < 1) throw std::invalid_argument("sinkhorn_log: empty cost matrix");
  if (!std::isfinite(scale) || scale == 0)
    throw std::invalid_argument("sinkhorn_log: scale must be finite and nonzero");
  if (max_iter < 0) throw std::invalid_argument("sinkhorn_log: max_iter must be >= 0");
  if (!(tol >= 0)) throw std::invalid_argument("sinkhorn_log: tol must be >= 0");
  if (norm != kMax && norm != kL2) throw std::invalid_argument("sinkhorn_log: norm must be 0 (max) or 2 (l2)");
  for (index_t i = 0; i < n; ++i)
    if (!(a[i] > 0) || !std::isfinite(a[i]) || !std::isfinite(alpha0[i]))
      throw std::invalid_argument("sinkhorn_log: a must be positive and alpha0 finite");
  for (index_t j = 0; j < m; ++j)
    if (!(b[j] > 0) || !std::isfinite(b[j]) || !std::isfinite(beta0[j]))
      throw std::invalid_argument("sinkhorn_log: b must be positive and beta0 finite");

  const double ninf = -std::numeric_limits<double>::infinity();
  const double hi = std::exp(tau<T>()), lo = std::exp(-tau<T>());
  const index_t nc = n_chunks(n);
  std::vector<double> al(alpha0, alpha0 + n), be(beta0, beta0 + m);  // stabilisation duals
  std::vector<double> u(n, 1.0), un(n), uref(n, 1.0), alnew(n), v(m, 1.0), vref(m, 1.0), w(m), colmax(m);
  std::vector<double> part(static_cast<size_t>(nc * m));  // per-chunk column partials
  constexpr bool kF32 = std::is_same<T, float>::value;    // float kernel: float lanes and partials
  std::vector<float> vf(kF32 ? m : 0), partf(kF32 ? nc * m : 0);
  std::vector<double> errp(static_cast<size_t>(nc));
  std::vector<char> bad(static_cast<size_t>(nc));
  bool have_k = false;

  auto combine_err = [&]() {
    double e = 0;
    for (index_t c = 0; c < nc; ++c) e = norm == kMax ? std::max(e, errp[c]) : e + errp[c];
    return norm == kMax ? e : std::sqrt(e);
  };
  auto err_term = [&](double& acc, double r, double target) {
    const double d = std::abs(r - target);
    if (norm == kMax)
      acc = std::max(acc, std::isnan(d) ? std::numeric_limits<double>::infinity() : d);
    else
      acc += d * d;
  };
  auto any_bad = [&]() {
    for (char x : bad)
      if (x) return true;
    return false;
  };

  // Log-domain column update given alpha (= un): rewrites Kt into P, sets be = -colmax, v = b / S.
  auto col_pass_log = [&]() {
    std::vector<double>& cm = part;  // chunk maxima, then chunk sums
    parallel_chunks(n, kChunk, n_threads, [&](index_t c, index_t rb, index_t re) {
      double* pc = cm.data() + c * m;
      for (index_t j = 0; j < m; ++j) pc[j] = ninf;
      for (index_t i = rb; i < re; ++i) {
        const T* Ci = C + i * m;
        const double ai = un[i];
        for (index_t j = 0; j < m; ++j) pc[j] = std::max(pc[j], scale * static_cast<double>(Ci[j]) + ai);
      }
    });
    for (index_t j = 0; j < m; ++j) colmax[j] = ninf;
    for (index_t c = 0; c < nc; ++c)
      for (index_t j = 0; j < m; ++j) colmax[j] = std::max(colmax[j], cm[c * m + j]);
    parallel_chunks(n, kChunk, n_threads, [&](index_t c, index_t rb, index_t re) {
      double* pc = cm.data() + c * m;
      for (index_t j = 0; j < m; ++j) pc[j] = 0;
      std::vector<double> x(static_cast<size_t>(m));
      std::vector<float> xf(std::is_same<T, float>::value ? static_cast<size_t>(m) : 0);
      for (index_t i = rb; i < re; ++i) {
        const T* Ci = C + i * m;
        T* Pi = P + i * m;
        const double ai = un[i];
        for (index_t j = 0; j < m; ++j) x[j] = scale * static_cast<double>(Ci[j]) + ai - colmax[j];
        simd::sa_exp_t<T>(x.data(), xf.data(), m);
        for (index_t j = 0; j < m; ++j) {
          const T k = static_cast<T>(x[j]);
          Pi[j] = k;
          pc[j] += static_cast<double>(k);
        }
      }
    });
    reduce_chunks(cm, nc, m, w.data());
    for (index_t i = 0; i < n; ++i) {
      al[i] = un[i];
      u[i] = uref[i] = 1.0;
    }
    for (index_t j = 0; j < m; ++j) {
      be[j] = -colmax[j];
      v[j] = vref[j] = b[j] / w[j];  // w_j >= 1: the maximum contributes exp(0)
    }
  };

  // Fused scaling pass: un = a / (Kt v), w = Kt^T un; returns the error of the current state.
  auto fused_pass = [&](bool accumulate) {
    if (kF32)
      for (index_t j = 0; j < m; ++j) vf[j] = static_cast<float>(v[j]);
    parallel_chunks(n, kChunk, n_threads, [&](index_t c, index_t rb, index_t re) {
      double* pc = part.data() + c * m;
      float* pcf = kF32 ? partf.data() + c * m : nullptr;
      if (accumulate) {
        if (kF32)
          for (index_t j = 0; j < m; ++j) pcf[j] = 0;
        else
          for (index_t j = 0; j < m; ++j) pc[j] = 0;
      }
      double e = 0;
      char bd = 0;
      for (index_t i = rb; i < re; ++i) {
        const T* Ki = P + i * m;
        double s;
        if constexpr (kF32)
          s = simd::sa_dotf(Ki, vf.data(), m);
        else
          s = simd::sa_dot<T>(Ki, v.data(), m);
        err_term(e, u[i] * s, a[i]);
        const double nu = a[i] / s;
        const double rel = nu / uref[i];
        if (!(rel >= lo && rel <= hi)) {  // also catches s = 0, inf, nan
          bd = 1;
          un[i] = u[i];
          continue;
        }
        un[i] = nu;
        if (accumulate) {
          if constexpr (kF32)
            simd::sa_axpyf(static_cast<float>(nu), Ki, pcf, m);
          else
            simd::sa_axpy<T>(nu, Ki, pc, m);
        }
      }
      errp[c] = e;
      bad[c] = bd;
    });
    return combine_err();
  };

  auto absorb = [&]() {
    for (index_t i = 0; i < n; ++i) al[i] += std::log(u[i]);
    for (index_t j = 0; j < m; ++j) be[j] += std::log(v[j]);
    std::fill(u.begin(), u.end(), 1.0);
    std::fill(v.begin(), v.end(), 1.0);
    have_k = false;
  };

  // Log-domain row update that also writes the row-stabilised kernel into P (one exp pass):
  // Kt_ij = exp(scale*C_ij + be_j - mx_i) (row maximum 1), alnew_i = -mx_i, un_i = a_i / sum_j Kt_ij,
  // and the column partials of un_i Kt_ij.  Returns the error of the current state (al, be).
  auto row_stab_pass = [&]() {
    parallel_chunks(n, kChunk, n_threads, [&](index_t c, index_t rb, index_t re) {
      double* pc = part.data() + c * m;
      for (index_t j = 0; j < m; ++j) pc[j] = 0;
      std::vector<double> x(static_cast<size_t>(m));
      std::vector<float> xf(std::is_same<T, float>::value ? static_cast<size_t>(m) : 0);
      double e = 0;
      for (index_t i = rb; i < re; ++i) {
        const T* Ci = C + i * m;
        T* Pi = P + i * m;
        for (index_t j = 0; j < m; ++j) x[j] = scale * static_cast<double>(Ci[j]) + be[j];
        const double mx = max4(x.data(), m);
        for (index_t j = 0; j < m; ++j) x[j] -= mx;
        simd::sa_exp_t<T>(x.data(), xf.data(), m);
        for (index_t j = 0; j < m; ++j) Pi[j] = static_cast<T>(x[j]);
        const double s = sum4(Pi, m);
        err_term(e, std::exp(al[i] + mx + std::log(s)), a[i]);
        alnew[i] = -mx;
        un[i] = a[i] / s;  // s >= 1: the maximum contributes exp(0)
        simd::sa_axpy<T>(un[i], Pi, pc, m);
      }
      errp[c] = e;
    });
    return combine_err();
  };

  Status st;
  index_t it = 0;
  double err = std::numeric_limits<double>::infinity();
  for (;;) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    if (!have_k) {
      err = row_stab_pass();
      if (err < tol) {
        st.converged = true;
        break;
      }
      if (it >= max_iter) break;
      reduce_chunks(part, nc, m, w.data());
      bool vbad = false;
      for (index_t j = 0; j < m; ++j) {
        const double nv = b[j] / w[j];
        if (!(nv >= lo && nv <= hi)) vbad = true;
        colmax[j] = nv;
      }
      if (vbad) {  // some column sums under/overflow: column update in the log domain
        for (index_t i = 0; i < n; ++i) un[i] = alnew[i] + std::log(un[i]);
        col_pass_log();
      } else {
        for (index_t i = 0; i < n; ++i) {
          al[i] = alnew[i];
          u[i] = uref[i] = un[i];
        }
        for (index_t j = 0; j < m; ++j) {
          v[j] = colmax[j];
          vref[j] = 1.0;
        }
      }
      have_k = true;
      ++it;
      continue;
    }
    std::fill(bad.begin(), bad.end(), 0);
    err = fused_pass(it < max_iter);
    if (err < tol) {
      st.converged = true;
      break;
    }
    if (it >= max_iter) break;
    if (any_bad()) {  // redo this iteration in the log domain
      absorb();
      continue;
    }
    if (kF32) {  // chunk-order reduction of the float partials, in double
      std::fill(w.begin(), w.end(), 0.0);
      for (index_t c = 0; c < nc; ++c)
        for (index_t j = 0; j < m; ++j) w[j] += static_cast<double>(partf[c * m + j]);
    } else {
      reduce_chunks(part, nc, m, w.data());
    }
    bool vbad = false;
    for (index_t j = 0; j < m; ++j) {
      const double nv = b[j] / w[j];
      const double rel = nv / vref[j];
      if (!(rel >= lo && rel <= hi)) vbad = true;
      colmax[j] = nv;
    }
    if (vbad) {
      absorb();
      continue;
    }
    for (index_t i = 0; i < n; ++i) u[i] = un[i];
    for (index_t j = 0; j < m; ++j) v[j] = colmax[j];
    ++it;
  }
  // The returned plan and duals are those of the current state (u, v over Kt, or the duals alone).
  if (!have_k) {
    // Only reachable with max_iter == 0 or converged before any update: build the plan from the duals.
    parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t rb, index_t re) {
      std::vector<double> x(static_cast<size_t>(m));
      std::vector<float> xf(std::is_same<T, float>::value ? static_cast<size_t>(m) : 0);
      for (index_t i = rb; i < re; ++i) {
        for (index_t j = 0; j < m; ++j) x[j] = scale * static_cast<double>(C[i * m + j]) + al[i] + be[j];
        simd::sa_exp_t<T>(x.data(), xf.data(), m);
        for (index_t j = 0; j < m; ++j) P[i * m + j] = static_cast<T>(x[j]);
      }
    });
    for (index_t i = 0; i < n; ++i) alpha[i] = al[i];
    for (index_t j = 0; j < m; ++j) beta[j] = be[j];
  } else {
    parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t rb, index_t re) {
      for (index_t i = rb; i < re; ++i)
        for (index_t j = 0; j < m; ++j) P[i * m + j] = static_cast<T>(u[i] * static_cast<double>(P[i * m + j]) * v[j]);
    });
    for (index_t i = 0; i < n; ++i) alpha[i] = al[i] + std::log(u[i]);
    for (index_t j = 0; j < m; ++j) beta[j] = be[j] + std::log(v[j]);
  }
  st.iterations = it;
  st.error = err;
  return st;
}

// Softassign fixed point at one inverse temperature for the QAP benefit (docs/softassign.md), without the
// n^4 tensor:  Q(M) = c (A M B^T + A^T M B) + gamma M + E,   M <- Sinkhorn(exp(beta Q(M)))
// (doubly stochastic, sinkhorn_iter log-stable iterations warm-started from the duals), repeated up
// to max_inner times or until max |M_new - M| < inner_tol.  c = -1/s minimises trace(A^T M B M^T)
// (+1/s maximises); E (n x n, may be null) is an additive benefit (restart noise).  Dense products
// are axpy-order loops (simd::sa_gemm; fixed summation order); everything in double.
// Outputs M (n x n), duals alpha, beta (n each; warm start in alpha0/beta0).  Status: iterations =
// inner steps, error = last max change, converged = change < inner_tol.
template <class T>
Status qap_fixed_point(const T* A, const T* B, index_t n, const T* E, double c, double gamma, double beta, const T* M0,
                       index_t max_inner, double inner_tol, index_t sinkhorn_iter, const double* alpha0,
                       const double* beta0, T* M, double* alpha, double* beta_out) {
  if (n < 1) throw std::invalid_argument("qap_fixed_point: n must be >= 1");
  if (!(beta > 0) || !std::isfinite(beta)) throw std::invalid_argument("qap_fixed_point: beta must be > 0");
  if (max_inner < 0 || sinkhorn_iter < 1) throw std::invalid_argument("qap_fixed_point: bad iteration counts");
  const size_t nn = static_cast<size_t>(n * n);
  std::vector<double> Ad(nn), ATd(nn), Bd(nn), BTd(nn), Md(nn), T1(nn), Q(nn), P(nn), ones(static_cast<size_t>(n), 1.0);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      Ad[i * n + j] = ATd[j * n + i] = static_cast<double>(A[i * n + j]);
      Bd[i * n + j] = BTd[j * n + i] = static_cast<double>(B[i * n + j]);
      Md[i * n + j] = static_cast<double>(M0[i * n + j]);
    }
  std::vector<double> al(alpha0, alpha0 + n), be(beta0, beta0 + n);
  auto gemm_acc = [&](const double* X, const double* Y, double* out, bool zero) {
    if (zero) std::fill(out, out + nn, 0.0);
    simd::sa_gemm(X, Y, out, n);  // out += X @ Y
  };
  Status st;
  double change = std::numeric_limits<double>::infinity();
  index_t it = 0;
  for (; it < max_inner; ++it) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    // Q = c (A M B^T + A^T M B) + gamma M + E
    gemm_acc(Ad.data(), Md.data(), T1.data(), true);   // T1 = A M
    gemm_acc(T1.data(), BTd.data(), Q.data(), true);   // Q = A M B^T
    gemm_acc(ATd.data(), Md.data(), T1.data(), true);  // T1 = A^T M
    gemm_acc(T1.data(), Bd.data(), Q.data(), false);   // Q += A^T M B
    for (size_t t = 0; t < nn; ++t) {
      Q[t] = c * Q[t] + gamma * Md[t];
      if (E != nullptr) Q[t] += static_cast<double>(E[t]);
    }
    sinkhorn_log<double>(Q.data(), n, n, beta, ones.data(), ones.data(), al.data(), be.data(), sinkhorn_iter, 0.0, kMax,
                         1, P.data(), al.data(), be.data());
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    change = 0;
    for (size_t t = 0; t < nn; ++t) change = std::max(change, std::abs(P[t] - Md[t]));
    Md.swap(P);
    if (change < inner_tol) {
      ++it;
      st.converged = true;
      break;
    }
  }
  for (size_t t = 0; t < nn; ++t) M[t] = static_cast<T>(Md[t]);
  for (index_t i = 0; i < n; ++i) {
    alpha[i] = al[i];
    beta_out[i] = be[i];
  }
  st.iterations = it;
  st.error = change;
  return st;
}

// 2-opt local search for the QAP  min_p sum_ij A_ij B_{p(i) p(j)}  (maximize: max): repeatedly apply
// improving swaps p(r) <-> p(s) (first improvement, scanning r < s) until none improves by more than a relative 1e-12, or
// max_passes passes.  perm (n) is updated in place; returns the number of swaps made.
template <class T>
index_t qap_2opt(const T* A, const T* B, index_t n, bool maximize, index_t max_passes, index_t* perm) {
  const double sgn = maximize ? -1.0 : 1.0;
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (index_t i = 0; i < n; ++i) {
    if (perm[i] < 0 || perm[i] >= n || seen[perm[i]])
      throw std::invalid_argument("qap_2opt: perm is not a permutation");
    seen[perm[i]] = 1;
  }
  auto a = [&](index_t i, index_t j) { return static_cast<double>(A[i * n + j]); };
  auto bb = [&](index_t i, index_t j) { return static_cast<double>(B[i * n + j]); };
  // delta of swapping perm[r], perm[s] (general, asymmetric A and B)
  auto delta = [&](index_t r, index_t s) {
    const index_t pr = perm[r], ps = perm[s];
    double d = (a(r, r) - a(s, s)) * (bb(ps, ps) - bb(pr, pr)) + (a(r, s) - a(s, r)) * (bb(ps, pr) - bb(pr, ps));
    for (index_t k = 0; k < n; ++k) {
      if (k == r || k == s) continue;
      const index_t pk = perm[k];
      d += (a(k, r) - a(k, s)) * (bb(pk, ps) - bb(pk, pr)) + (a(r, k) - a(s, k)) * (bb(ps, pk) - bb(pr, pk));
    }
    return sgn * d;
  };
  double scale = 0;
  for (index_t t = 0; t < n * n; ++t) scale = std::max(scale, std::abs(static_cast<double>(A[t])));
  double sb = 0;
  for (index_t t = 0; t < n * n; ++t) sb = std::max(sb, std::abs(static_cast<double>(B[t])));
  const double thr = -1e-12 * std::max(scale * sb * n, 1e-300);
  index_t swaps = 0;
  for (index_t pass = 0; pass < max_passes; ++pass) {  // first improvement, full scans
    index_t made = 0;
    for (index_t r = 0; r < n; ++r) {
      if (should_stop()) return swaps + made;  // the binding raises; perm is still a permutation
      for (index_t s = r + 1; s < n; ++s)
        if (delta(r, s) < thr) {
          std::swap(perm[r], perm[s]);
          ++made;
        }
    }
    swaps += made;
    if (made == 0) break;
  }
  return swaps;
}

}  // namespace danneal::softassign

// ---- the row primitives, compiled in the per-instruction-set units (simd/isa_*.cpp) ----------
#ifdef DANNEAL_SIMD_UNIT_ISA
namespace danneal::simd {
// Internal linkage: each unit gets its own copy compiled for its instruction set.
namespace {

// Four vector accumulators, then the vectors summed pairwise, the lanes in order, then the tail.
template <class T, Isa I>
double dot_impl(const T* K, const double* v, index_t m) {
  using S = Vec<double, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  V s0 = S::zero(), s1 = s0, s2 = s0, s3 = s0;
  index_t j = 0;
  for (; j + 4 * W <= m; j += 4 * W) {
    s0 += S::load_widened(K + j) * S::load(v + j);
    s1 += S::load_widened(K + j + W) * S::load(v + j + W);
    s2 += S::load_widened(K + j + 2 * W) * S::load(v + j + 2 * W);
    s3 += S::load_widened(K + j + 3 * W) * S::load(v + j + 3 * W);
  }
  for (; j + W <= m; j += W) s0 += S::load_widened(K + j) * S::load(v + j);
  double s = S::hsum((s0 + s1) + (s2 + s3));
  for (; j < m; ++j) s += static_cast<double>(K[j]) * v[j];
  return s;
}

template <class T, Isa I>
void axpy_impl(double u, const T* K, double* w, index_t m) {
  using S = Vec<double, I>;
  constexpr int W = S::W;
  const typename S::V uu = S::splat(u);
  index_t j = 0;
  for (; j + 2 * W <= m; j += 2 * W) {
    S::store(w + j, S::load(w + j) + uu * S::load_widened(K + j));
    S::store(w + j + W, S::load(w + j + W) + uu * S::load_widened(K + j + W));
  }
  for (; j + W <= m; j += W) S::store(w + j, S::load(w + j) + uu * S::load_widened(K + j));
  for (; j < m; ++j) w[j] += u * static_cast<double>(K[j]);
}

// float32 rows (fused Sinkhorn pass on a float kernel): float lanes, two accumulators, the lanes
// combined in double.
template <Isa I>
double dotf_impl(const float* K, const float* v, index_t m) {
  using S = Vec<float, I>;
  constexpr int W = S::W;
  typename S::V s0 = S::zero(), s1 = s0;
  index_t j = 0;
  for (; j + 2 * W <= m; j += 2 * W) {
    s0 += S::load(K + j) * S::load(v + j);
    s1 += S::load(K + j + W) * S::load(v + j + W);
  }
  for (; j + W <= m; j += W) s0 += S::load(K + j) * S::load(v + j);
  double s = 0;
  for (int l = 0; l < W; ++l) s += static_cast<double>(s0[l]) + static_cast<double>(s1[l]);
  for (; j < m; ++j) s += static_cast<double>(K[j]) * static_cast<double>(v[j]);
  return s;
}

template <Isa I>
void axpyf_impl(float u, const float* K, float* w, index_t m) {
  using S = Vec<float, I>;
  constexpr int W = S::W;
  const typename S::V uu = S::splat(u);
  index_t j = 0;
  for (; j + W <= m; j += W) S::store(w + j, S::load(w + j) + uu * S::load(K + j));
  for (; j < m; ++j) w[j] += u * K[j];
}

// out += X @ Y for n x n row-major matrices, axpy order (i, k, then contiguous j), 4 rows of X at a
// time so each row of Y is loaded once per 4 output rows.  Fixed summation order per element.
template <Isa I>
void gemm_impl(const double* X, const double* Y, double* out, index_t n) {
  using S = Vec<double, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    double* o0 = out + i * n;
    double* o1 = o0 + n;
    double* o2 = o1 + n;
    double* o3 = o2 + n;
    for (index_t k = 0; k < n; ++k) {
      const double x0 = X[i * n + k], x1 = X[(i + 1) * n + k], x2 = X[(i + 2) * n + k], x3 = X[(i + 3) * n + k];
      const double* y = Y + k * n;
      const V X0 = S::splat(x0), X1 = S::splat(x1), X2 = S::splat(x2), X3 = S::splat(x3);
      index_t j = 0;
      for (; j + W <= n; j += W) {
        const V yy = S::load(y + j);
        S::store(o0 + j, S::load(o0 + j) + X0 * yy);
        S::store(o1 + j, S::load(o1 + j) + X1 * yy);
        S::store(o2 + j, S::load(o2 + j) + X2 * yy);
        S::store(o3 + j, S::load(o3 + j) + X3 * yy);
      }
      for (; j < n; ++j) {
        o0[j] += x0 * y[j];
        o1[j] += x1 * y[j];
        o2[j] += x2 * y[j];
        o3[j] += x3 * y[j];
      }
    }
  }
  for (; i < n; ++i) {
    double* o = out + i * n;
    for (index_t k = 0; k < n; ++k) {
      const double x = X[i * n + k];
      const double* y = Y + k * n;
      const V XX = S::splat(x);
      index_t j = 0;
      for (; j + W <= n; j += W) S::store(o + j, S::load(o + j) + XX * S::load(y + j));
      for (; j < n; ++j) o[j] += x * y[j];
    }
  }
}

}  // namespace

template <class T, Isa I>
double sa_dot_isa(const T* K, const double* v, index_t m) {
  return dot_impl<T, I>(K, v, m);
}
template <class T, Isa I>
void sa_axpy_isa(double u, const T* K, double* w, index_t m) {
  axpy_impl<T, I>(u, K, w, m);
}
template <class T, Isa I>
void sa_exp_isa(T* x, index_t m) {
  exp_array<T, I>(x, x, m);
}
template <Isa I>
double sa_dotf_isa(const float* K, const float* v, index_t m) {
  return dotf_impl<I>(K, v, m);
}
template <Isa I>
void sa_axpyf_isa(float u, const float* K, float* w, index_t m) {
  axpyf_impl<I>(u, K, w, m);
}
template <Isa I>
void sa_gemm_isa(const double* X, const double* Y, double* out, index_t n) {
  gemm_impl<I>(X, Y, out, n);
}
}  // namespace danneal::simd
#endif  // DANNEAL_SIMD_UNIT_ISA
