// Pairwise clustering with dissimilarities computed on the fly (issue 11 §2): D_ij = dist(x_i, x_j)
// for a Minkowski-family metric is formed in tiles (one row against kTileCols columns at a time,
// the columns' features stored transposed so the inner loop runs over contiguous columns) and
// consumed at once by the D.Q product: memory O(n (d + k)), work O(n^2 d) per sweep.  Portable
// scalar C++ written for the compiler's auto-vectoriser (no intrinsics, no -ffast-math needed:
// every sum has a fixed order).  Each row's result depends only on that row, so 1 or many threads
// give identical bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"

namespace danneal::pairwise {

enum TileMetric : int { kCityblock = 0, kEuclidean = 1, kChebyshev = 2, kMinkowski = 3, kSqEuclidean = 4 };

constexpr index_t kTileCols = 512;

inline void check_tile_metric(int metric, double p) {
  if (metric < kCityblock || metric > kSqEuclidean) throw std::invalid_argument("unknown metric");
  if (metric == kMinkowski && !(p >= 1 && std::isfinite(p))) throw std::invalid_argument("p must be finite and >= 1");
}

// X (n x d, row-major) transposed to d x n.
template <class T>
std::vector<T> transpose_features(const T* X, index_t n, index_t d) {
  std::vector<T> XT(static_cast<size_t>(n * d));
  for (index_t i = 0; i < n; ++i)
    for (index_t f = 0; f < d; ++f) XT[f * n + i] = X[i * d + f];
  return XT;
}

// out[j - j0] = dist(x, x_j) for j in [j0, j0 + nj), from the transposed features XT (d x n).
// Distances accumulate in T over the features in order.
template <class T>
inline void tile_row_dist(int metric, double p, const T* x, const T* XT, index_t n, index_t d, index_t j0, index_t nj,
                          T* out) {
  for (index_t j = 0; j < nj; ++j) out[j] = T(0);
  switch (metric) {
    case kCityblock:
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * n + j0;
        for (index_t j = 0; j < nj; ++j) out[j] += std::abs(a - col[j]);
      }
      break;
    case kEuclidean:
    case kSqEuclidean:
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * n + j0;
        for (index_t j = 0; j < nj; ++j) {
          const T t = a - col[j];
          out[j] += t * t;
        }
      }
      if (metric == kEuclidean)
        for (index_t j = 0; j < nj; ++j) out[j] = std::sqrt(out[j]);
      break;
    case kChebyshev:
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * n + j0;
        for (index_t j = 0; j < nj; ++j) out[j] = std::max(out[j], std::abs(a - col[j]));
      }
      break;
    default: {  // Minkowski
      const T pp = static_cast<T>(p), inv = static_cast<T>(1.0 / p);
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * n + j0;
        for (index_t j = 0; j < nj; ++j) out[j] += std::pow(std::abs(a - col[j]), pp);
      }
      for (index_t j = 0; j < nj; ++j) out[j] = std::pow(out[j], inv);
    }
  }
}

// sum_j w[j] q[j] over nj entries in 8 fixed lanes (vectorisable, order independent of threads).
template <class T>
inline double lane_dot(const T* w, const double* q, index_t nj) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t j = 0;
  for (; j + 8 <= nj; j += 8)
    for (int l = 0; l < 8; ++l) s[l] += static_cast<double>(w[j + l]) * q[j + l];
  for (int l = 0; j < nj; ++j, ++l) s[l] += static_cast<double>(w[j]) * q[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// out = D[:, cols] W (n x k, float64) for m columns given by their transposed features XT (d x m)
// and weights WT (k x m): the rows in fixed chunks, the columns in tiles of kTileCols, each tile's
// dot products in fixed lanes.  Each output row depends only on its own row: thread independent.
template <class T>
void tiles_product(const T* X, index_t n, index_t d, int metric, double p, const T* XT, index_t m, const double* WT,
                   index_t k, int n_threads, double* out) {
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b, index_t e) {
    std::vector<T> dist(static_cast<size_t>(kTileCols));
    for (index_t t = b * k; t < e * k; ++t) out[t] = 0.0;
    for (index_t j0 = 0; j0 < m; j0 += kTileCols) {
      const index_t nj = std::min(kTileCols, m - j0);
      for (index_t i = b; i < e; ++i) {
        tile_row_dist<T>(metric, p, X + i * d, XT, m, d, j0, nj, dist.data());
        for (index_t v = 0; v < k; ++v) out[i * k + v] += lane_dot<T>(dist.data(), WT + v * m + j0, nj);
      }
    }
  });
}

// DQ = D Q (n x k, float64) with D_ij = dist(x_i, x_j) formed in tiles, c_v = sum_i q_iv (DQ)_iv and
// S_v = sum_i q_iv (float64, chunk order).  Q may hold any real values (the eigensolvers use it).
template <class T>
void pairwise_tiles_dq(const T* X, index_t n, index_t d, int metric, double p, const T* Q, index_t k, int n_threads,
                       double* DQ, double* c, double* S) {
  check_tile_metric(metric, p);
  const std::vector<T> XT = transpose_features(X, n, d);
  std::vector<double> QT(static_cast<size_t>(n * k));
  for (index_t i = 0; i < n; ++i)
    for (index_t v = 0; v < k; ++v) QT[v * n + i] = static_cast<double>(Q[i * k + v]);
  tiles_product<T>(X, n, d, metric, p, XT.data(), n, QT.data(), k, n_threads, DQ);
  const index_t nc = n_chunks(n);
  std::vector<double> part(static_cast<size_t>(nc * 2 * k), 0.0);
  parallel_chunks(n, kChunk, n_threads, [&](index_t ch, index_t b, index_t e) {
    double* pc = part.data() + ch * 2 * k;
    double* ps = pc + k;
    for (index_t i = b; i < e; ++i)
      for (index_t v = 0; v < k; ++v) {
        const double q = static_cast<double>(Q[i * k + v]);
        pc[v] += q * DQ[i * k + v];
        ps[v] += q;
      }
  });
  std::vector<double> both(static_cast<size_t>(2 * k));
  reduce_chunks(part, nc, 2 * k, both.data());
  for (index_t v = 0; v < k; ++v) {
    c[v] = both[v];
    S[v] = both[k + v];
  }
}

// out = D[:, cols] W (n x k, float64) for m column indices cols and weights W (m x k): the update of
// D Q when only the rows cols of Q changed, by W = Q_new[cols] - Q_old[cols] (O(n m d) work).
template <class T>
void pairwise_tiles_dq_cols(const T* X, index_t n, index_t d, int metric, double p, const std::int64_t* cols,
                            index_t m, const double* W, index_t k, int n_threads, double* out) {
  check_tile_metric(metric, p);
  for (index_t t = 0; t < m; ++t)
    if (cols[t] < 0 || cols[t] >= n) throw std::invalid_argument("cols must lie in [0, n)");
  std::vector<T> XT(static_cast<size_t>(m * d));
  std::vector<double> WT(static_cast<size_t>(m * k));
  for (index_t t = 0; t < m; ++t) {
    for (index_t f = 0; f < d; ++f) XT[f * m + t] = X[cols[t] * d + f];
    for (index_t v = 0; v < k; ++v) WT[v * m + t] = W[t * k + v];
  }
  tiles_product<T>(X, n, d, metric, p, XT.data(), m, WT.data(), k, n_threads, out);
}

// The whole matrix D (n x n, dtype U), e.g. a float32 cache when it fits the memory budget.
template <class T, class U>
void pairwise_tiles_matrix(const T* X, index_t n, index_t d, int metric, double p, int n_threads, U* D) {
  check_tile_metric(metric, p);
  const std::vector<T> XT = transpose_features(X, n, d);
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b, index_t e) {
    std::vector<T> dist(static_cast<size_t>(kTileCols));
    for (index_t i = b; i < e; ++i)
      for (index_t j0 = 0; j0 < n; j0 += kTileCols) {
        const index_t nj = std::min(kTileCols, n - j0);
        tile_row_dist<T>(metric, p, X + i * d, XT.data(), n, d, j0, nj, dist.data());
        for (index_t j = 0; j < nj; ++j) D[i * n + j0 + j] = static_cast<U>(dist[j]);
      }
  });
}

// Sequential single-object moves (the rule of pairwise_local_search) with the rows of D computed
// from X when an object moves (O(n d) per move, in parallel over fixed chunks of columns).
template <class T>
Status pairwise_tiles_local_search(const T* X, index_t n, index_t d, int metric, double p, index_t k,
                                   index_t max_passes, int n_threads, std::int64_t* labels, double* cost) {
  check_tile_metric(metric, p);
  for (index_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= k) throw std::invalid_argument("labels must lie in [0, n_clusters)");
  const std::vector<T> XT = transpose_features(X, n, d);
  std::vector<T> onehot(static_cast<size_t>(n * k), T(0)), row(static_cast<size_t>(n));
  std::vector<double> dq(static_cast<size_t>(n * k)), c(static_cast<size_t>(k)), S(static_cast<size_t>(k));
  auto refresh = [&]() {
    std::fill(onehot.begin(), onehot.end(), T(0));
    for (index_t i = 0; i < n; ++i) onehot[i * k + labels[i]] = T(1);
    pairwise_tiles_dq<T>(X, n, d, metric, p, onehot.data(), k, n_threads, dq.data(), c.data(), S.data());
  };
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
      if (S[a] <= 1.5) continue;
      const double* di = dq.data() + i * k;
      const double rem = di[a] / (S[a] - 1.0) - c[a] / (2.0 * S[a] * (S[a] - 1.0));
      index_t best = a;
      double best_delta = 0.0;
      for (index_t b = 0; b < k; ++b) {
        if (b == a) continue;
        const double add = S[b] > 0.5 ? (di[b] - c[b] / (2.0 * S[b])) / (S[b] + 1.0) : 0.0;
        const double delta = add - rem;
        const double eps = 1e-12 * (std::abs(add) + std::abs(rem));
        if (delta < best_delta - eps) {
          best_delta = delta;
          best = b;
        }
      }
      if (best == a) continue;
      const index_t b = best;
      c[a] -= 2.0 * di[a];
      c[b] += 2.0 * di[b];
      S[a] -= 1.0;
      S[b] += 1.0;
      labels[i] = b;
      const T* xi = X + i * d;
      parallel_chunks(n, kTileCols, n_threads, [&](index_t, index_t j0, index_t j1) {
        tile_row_dist<T>(metric, p, xi, XT.data(), n, d, j0, j1 - j0, row.data() + j0);
      });
      for (index_t j = 0; j < n; ++j) {
        const double dd = static_cast<double>(row[j]);
        dq[j * k + a] -= dd;
        dq[j * k + b] += dd;
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
  for (index_t v = 0; v < k; ++v)
    if (S[v] > 0.5) h += c[v] / (2.0 * S[v]);
  *cost = h;
  return st;
}

}  // namespace danneal::pairwise
