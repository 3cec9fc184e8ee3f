// Sinkhorn for service workloads (issue 14 §3): a batch of problems in one call, and unbalanced
// (KL-relaxed marginals) transport in the log domain.  Portable scalar code.
//
// sinkhorn_batch: B independent problems C[k] (n x m) with marginals a[k], b[k], each solved by the
// stabilised kernel softassign::sinkhorn_log on one thread; the problems are spread over threads.
// A problem's result never depends on the thread count.
//
// sinkhorn_unbalanced_log: POT's unbalanced problem with KL marginal penalties (reg_m),
//   min_P <P, C> + reg KL(P | 1) + reg_m KL(P 1 | a) + reg_m KL(P^T 1 | b),
// whose log-domain fixed point, with scale = -1/reg and fi = reg_m / (reg_m + reg), is
//   alpha_i <- fi (log a_i - LSE_j(scale C_ij + beta_j)),   beta_j <- fi (log b_j - LSE_i(scale C_ij + alpha_i)),
//   P_ij = exp(scale C_ij + alpha_i + beta_j)   (fi = 1: balanced Sinkhorn).
// Every LSE is max-subtracted and summed in index order (rows in parallel over fixed row chunks,
// columns in parallel over fixed column blocks, each column summed over the rows in order), so the
// result is bit-identical for any thread count and finite at any reg.  Stops when the largest change
// of the log-domain duals in one iteration is below tol.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/softassign.hpp"

namespace danneal::sinkhorn_extra {

template <class T>
Status sinkhorn_batch(const T* C, index_t B, index_t n, index_t m, double scale, const double* a, const double* b,
                      index_t max_iter, double tol, int norm, int n_threads, T* P, double* alpha, double* beta,
                      index_t* iterations, double* errors, unsigned char* converged) {
  if (B < 0 || n < 1 || m < 1) throw std::invalid_argument("sinkhorn_batch: empty problems");
  const std::vector<double> zn(static_cast<size_t>(n), 0.0), zm(static_cast<size_t>(m), 0.0);
  const int nt = effective_threads(n_threads, std::max<index_t>(B, 1));
  const index_t batch = 8 * static_cast<index_t>(nt);
  Status st;
  std::vector<unsigned char> failed(static_cast<size_t>(std::max<index_t>(B, 1)), 0);
  for (index_t k0 = 0; k0 < B; k0 += batch) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    const index_t k1 = std::min(B, k0 + batch);
    parallel_chunks(k1 - k0, 1, nt, [&](index_t, index_t lo, index_t hi) {
      StopHook none;  // the inner kernel never asks Python from inside this parallel region
      StopScope scope(&none);
      for (index_t t = lo; t < hi; ++t) {
        const index_t k = k0 + t;
        const size_t off = static_cast<size_t>(k) * static_cast<size_t>(n * m);
        try {
          const Status s = softassign::sinkhorn_log<T>(C + off, n, m, scale, a + k * n, b + k * m, zn.data(), zm.data(),
                                                       max_iter, tol, norm, 1, P + off, alpha + k * n, beta + k * m);
          iterations[k] = s.iterations;
          errors[k] = s.error;
          converged[k] = s.converged ? 1 : 0;
        } catch (...) {  // never let an exception leave the parallel region
          failed[k] = 1;
        }
      }
    });
  }
  for (index_t k = 0; k < B; ++k)
    if (failed[k]) throw std::invalid_argument("sinkhorn_batch: problem " + std::to_string(k) + " failed");
  st.converged = true;
  for (index_t k = 0; k < B; ++k) st.converged = st.converged && converged[k];
  st.iterations = B;
  return st;
}

template <class T>
Status sinkhorn_unbalanced_log(const T* C, index_t n, index_t m, double scale, const double* a, const double* b,
                               double fi, const double* alpha0, const double* beta0, index_t max_iter, double tol,
                               int n_threads, T* P, double* alpha, double* beta) {
  if (n < 1 || m < 1) throw std::invalid_argument("sinkhorn_unbalanced_log: empty matrix");
  if (!(fi > 0 && fi <= 1)) throw std::invalid_argument("sinkhorn_unbalanced_log: fi must be in (0, 1]");
  const double ninf = -std::numeric_limits<double>::infinity();
  std::vector<double> la(static_cast<size_t>(n)), lb(static_cast<size_t>(m));
  for (index_t i = 0; i < n; ++i) la[i] = a[i] > 0 ? std::log(a[i]) : ninf;
  for (index_t j = 0; j < m; ++j) lb[j] = b[j] > 0 ? std::log(b[j]) : ninf;
  std::vector<double> al(alpha0, alpha0 + n), be(beta0, beta0 + m);
  for (index_t i = 0; i < n; ++i)
    if (!(la[i] > ninf)) al[i] = ninf;
  for (index_t j = 0; j < m; ++j)
    if (!(lb[j] > ninf)) be[j] = ninf;
  std::vector<double> cmax(static_cast<size_t>(m)), csum(static_cast<size_t>(m));
  const index_t nrc = n_chunks(n), ncc = n_chunks(m);
  std::vector<double> rchange(static_cast<size_t>(nrc)), cchange(static_cast<size_t>(ncc));
  const int ntr = effective_threads(n_threads, nrc), ntc = effective_threads(n_threads, ncc);
  // the dual update of one side from the LSE: fi (log marginal - lse); -inf marginals stay -inf
  auto upd = [fi](double lmarg, double lse) {
    if (!(lmarg > -std::numeric_limits<double>::infinity())) return lmarg;
    if (!(lse > -std::numeric_limits<double>::infinity())) return std::numeric_limits<double>::max();
    return fi * (lmarg - lse);
  };
  Status st;
  index_t it = 0;
  double change = std::numeric_limits<double>::infinity();
  for (; it < max_iter; ++it) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    parallel_chunks(n, kChunk, ntr, [&](index_t c, index_t lo, index_t hi) {
      double ch = 0;
      for (index_t i = lo; i < hi; ++i) {
        const T* row = C + i * m;
        double mx = ninf;
        for (index_t j = 0; j < m; ++j) mx = std::max(mx, scale * static_cast<double>(row[j]) + be[j]);
        double s = 0;
        if (mx > ninf)
          for (index_t j = 0; j < m; ++j) s += std::exp(scale * static_cast<double>(row[j]) + be[j] - mx);
        const double lse = mx > ninf ? mx + std::log(s) : ninf;
        const double v = upd(la[i], lse);
        if (v > ninf) ch = std::max(ch, std::abs(v - al[i]));
        al[i] = v;
      }
      rchange[c] = ch;
    });
    parallel_chunks(m, kChunk, ntc, [&](index_t c, index_t lo, index_t hi) {
      for (index_t j = lo; j < hi; ++j) cmax[j] = ninf;
      for (index_t i = 0; i < n; ++i) {
        if (!(al[i] > ninf)) continue;
        const T* row = C + i * m;
        for (index_t j = lo; j < hi; ++j) cmax[j] = std::max(cmax[j], scale * static_cast<double>(row[j]) + al[i]);
      }
      for (index_t j = lo; j < hi; ++j) csum[j] = 0;
      for (index_t i = 0; i < n; ++i) {
        if (!(al[i] > ninf)) continue;
        const T* row = C + i * m;
        for (index_t j = lo; j < hi; ++j)
          if (cmax[j] > ninf) csum[j] += std::exp(scale * static_cast<double>(row[j]) + al[i] - cmax[j]);
      }
      double ch = 0;
      for (index_t j = lo; j < hi; ++j) {
        const double lse = cmax[j] > ninf ? cmax[j] + std::log(csum[j]) : ninf;
        const double v = upd(lb[j], lse);
        if (v > ninf) ch = std::max(ch, std::abs(v - be[j]));
        be[j] = v;
      }
      cchange[c] = ch;
    });
    change = 0;
    for (double x : rchange) change = std::max(change, x);
    for (double x : cchange) change = std::max(change, x);
    if (!std::isfinite(change)) {
      st.numerical_error = true;
      break;
    }
    if (change < tol) {
      ++it;
      st.converged = true;
      break;
    }
  }
  parallel_chunks(n, kChunk, ntr, [&](index_t, index_t lo, index_t hi) {
    for (index_t i = lo; i < hi; ++i)
      for (index_t j = 0; j < m; ++j) {
        const double x = scale * static_cast<double>(C[i * m + j]) + al[i] + be[j];
        P[i * m + j] = static_cast<T>(x > ninf ? std::exp(x) : 0.0);
      }
  });
  for (index_t i = 0; i < n; ++i) alpha[i] = al[i];
  for (index_t j = 0; j < m; ++j) beta[j] = be[j];
  st.iterations = it;
  st.error = change;
  return st;
}

}  // namespace danneal::sinkhorn_extra
