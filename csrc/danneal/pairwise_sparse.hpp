// Pairwise clustering on sparse dissimilarities (issue 11 §3): only the stored pairs of a
// symmetric CSR matrix (indptr, indices, data) are known; the diagonal is always known and zero
// (stored diagonal entries are ignored).  Portable scalar C++ (no intrinsics).
//
// With W the stored dissimilarities and A their pattern plus the diagonal, per cluster v
//   S_v = sum_i q_iv,  P_v = sum_ij q_iv q_jv W_ij = (Q^T W Q)_vv,  M_v = (Q^T A Q)_vv,
// and two costs (docs/pairwise.md, "Sparse dissimilarities"):
//   mode kMean (Hofmann & Buhmann: normalised by the known-pair mass)  H = sum_v S_v P_v / (2 M_v)
//   mode kFill (unknown pairs count as `fill`)         H = sum_v (P_v + fill (S_v^2 - M_v)) / (2 S_v)
// Both equal the dense cost sum_v (Q^T D Q)_vv / (2 S_v) when every pair is known.  One sweep is
// one pass over the stored entries: O(nnz k).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/pairwise.hpp"

namespace danneal::pairwise {

enum SparseMode : int { kSparseMean = 0, kSparseFill = 1 };

// Checks a CSR matrix of n rows: indptr monotone from 0 to nnz, indices in [0, n).
inline void check_csr(const std::int64_t* indptr, const std::int64_t* indices, index_t n, index_t nnz) {
  if (indptr[0] != 0 || indptr[n] != nnz) throw std::invalid_argument("indptr must run from 0 to nnz");
  for (index_t i = 0; i < n; ++i)
    if (indptr[i + 1] < indptr[i]) throw std::invalid_argument("indptr must be non-decreasing");
  for (index_t t = 0; t < nnz; ++t)
    if (indices[t] < 0 || indices[t] >= n) throw std::invalid_argument("indices must lie in [0, n)");
}

// WQ = W Q and AQ = A Q (n x k, float64; A includes the diagonal), and the per-cluster statistics
// stats = [P (k), M (k), S (k)] (float64, partials per chunk of rows summed in chunk order).  With
// sample weights w (nullptr: all ones; see weight_of in pairwise.hpp) Q stands for the rows w_i q_i
// throughout: an object of weight 2 is two copies whose mutual pair is known and 0.
template <class T>
void pairwise_sparse_dq(const std::int64_t* indptr, const std::int64_t* indices, const T* data, index_t n, const T* Q,
                        index_t k, const double* sw, int n_threads, double* WQ, double* AQ, double* stats) {
  const index_t nc = n_chunks(n);
  std::vector<double> part(static_cast<size_t>(nc * 3 * k), 0.0);
  parallel_chunks(n, kChunk, n_threads, [&](index_t ch, index_t b, index_t e) {
    double* pp = part.data() + ch * 3 * k;
    double* pm = pp + k;
    double* ps = pm + k;
    for (index_t i = b; i < e; ++i) {
      double* w = WQ + i * k;
      double* a = AQ + i * k;
      const T* qi = Q + i * k;
      const double wi = weight_of(sw, i);
      for (index_t v = 0; v < k; ++v) {
        w[v] = 0.0;
        a[v] = wi * static_cast<double>(qi[v]);  // the diagonal: known, dissimilarity 0
      }
      for (std::int64_t t = indptr[i]; t < indptr[i + 1]; ++t) {
        const index_t j = indices[t];
        if (j == i) continue;
        const double d = static_cast<double>(data[t]);
        const T* qj = Q + j * k;
        const double wj = weight_of(sw, j);
        for (index_t v = 0; v < k; ++v) {
          const double q = wj * static_cast<double>(qj[v]);
          w[v] += d * q;
          a[v] += q;
        }
      }
      for (index_t v = 0; v < k; ++v) {
        const double q = wi * static_cast<double>(qi[v]);
        pp[v] += q * w[v];
        pm[v] += q * a[v];
        ps[v] += q;
      }
    }
  });
  reduce_chunks(part, nc, 3 * k, stats);
}

// Cost of one cluster from its statistics (0 for an empty cluster).
inline double sparse_cluster_cost(int mode, double fill, double P, double M, double S) {
  if (!(S > 0)) return 0.0;
  if (mode == kSparseMean) return M > 0 ? S * P / (2.0 * M) : 0.0;
  return (P + fill * (S * S - M)) / (2.0 * S);
}

// Sequential single-object moves on a hard partition (as pairwise_local_search): each object in
// turn moves to the cluster where the exact change of the cost is most negative; clusters are
// never emptied.  Moving i (weight w_i, 1 without weights) from a to b changes P_a by -2 w_i WQ_ia,
// M_a by -(2 w_i AQ_ia - w_i^2), S_a by -w_i, and P_b by +2 w_i WQ_ib, M_b by 2 w_i AQ_ib + w_i^2,
// S_b by +w_i; the rows of i's neighbours are updated (one row of the CSR matrix per move) and
// everything is recomputed after each pass (no drift).
template <class T>
Status pairwise_sparse_local_search(const std::int64_t* indptr, const std::int64_t* indices, const T* data, index_t n,
                                    index_t k, const double* sw, int mode, double fill, index_t max_passes,
                                    int n_threads, std::int64_t* labels, double* cost) {
  for (index_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= k) throw std::invalid_argument("labels must lie in [0, n_clusters)");
  if (mode != kSparseMean && mode != kSparseFill) throw std::invalid_argument("unknown sparse mode");
  std::vector<T> onehot(static_cast<size_t>(n * k), T(0));
  std::vector<double> WQ(static_cast<size_t>(n * k)), AQ(static_cast<size_t>(n * k)), st3(static_cast<size_t>(3 * k));
  double *P = st3.data(), *M = P + k, *S = M + k;
  std::vector<index_t> members(static_cast<size_t>(k));
  auto refresh = [&]() {
    std::fill(onehot.begin(), onehot.end(), T(0));
    std::fill(members.begin(), members.end(), 0);
    for (index_t i = 0; i < n; ++i) {
      onehot[i * k + labels[i]] = T(1);
      ++members[labels[i]];
    }
    pairwise_sparse_dq<T>(indptr, indices, data, n, onehot.data(), k, sw, n_threads, WQ.data(), AQ.data(), st3.data());
  };
  auto f = [&](double p, double m, double s) { return sparse_cluster_cost(mode, fill, p, m, s); };
  Status st;
  refresh();
  for (index_t pass = 0; pass < max_passes; ++pass) {
    index_t moved = 0;
    for (index_t i = 0; i < n; ++i) {
      if ((i & 63) == 0 && should_stop()) {
        st.interrupted = true;
        return st;
      }
      const index_t a = labels[i];
      if (members[a] < 2) continue;  // never empty a cluster
      const double* wi = WQ.data() + i * k;
      const double* ai = AQ.data() + i * k;
      const double mi = weight_of(sw, i), mi2 = mi * mi;
      const double fa = f(P[a], M[a], S[a]);
      const double fa_new = f(P[a] - 2.0 * mi * wi[a], M[a] - 2.0 * mi * ai[a] + mi2, S[a] - mi);
      const double rem = fa - fa_new;  // saved by removing i from a
      index_t best = a;
      double best_delta = 0.0;
      for (index_t b = 0; b < k; ++b) {
        if (b == a) continue;
        const double fb = f(P[b], M[b], S[b]);
        const double add = f(P[b] + 2.0 * mi * wi[b], M[b] + 2.0 * mi * ai[b] + mi2, S[b] + mi) - fb;
        const double delta = add - rem;
        const double eps = 1e-12 * (std::abs(fa) + std::abs(fa_new) + std::abs(fb) + std::abs(add));
        if (delta < best_delta - eps) {
          best_delta = delta;
          best = b;
        }
      }
      if (best == a) continue;
      const index_t b = best;
      P[a] -= 2.0 * mi * wi[a];
      M[a] -= 2.0 * mi * AQ[i * k + a] - mi2;
      S[a] -= mi;
      P[b] += 2.0 * mi * wi[b];
      M[b] += 2.0 * mi * AQ[i * k + b] + mi2;
      S[b] += mi;
      --members[a];
      ++members[b];
      labels[i] = b;
      AQ[i * k + a] -= mi;  // i's own (diagonal) term
      AQ[i * k + b] += mi;
      for (std::int64_t t = indptr[i]; t < indptr[i + 1]; ++t) {
        const index_t j = indices[t];
        if (j == i) continue;
        const double d = mi * static_cast<double>(data[t]);
        WQ[j * k + a] -= d;
        WQ[j * k + b] += d;
        AQ[j * k + a] -= mi;
        AQ[j * k + b] += mi;
      }
      ++moved;
    }
    st.iterations = pass + 1;
    st.error = static_cast<double>(moved);
    if (moved == 0) {
      st.converged = true;
      break;
    }
    refresh();
  }
  if (!st.converged) refresh();
  double h = 0;
  for (index_t v = 0; v < k; ++v) h += f(P[v], M[v], S[v]);
  *cost = h;
  return st;
}

}  // namespace danneal::pairwise
