// Exact mean silhouette of partitions (ClAM's selection, docs/clam.md "Selection").  O(n^2 d)
// per call: the Euclidean distances of every pair are formed once and shared by all the
// labellings of the same points passed together (ClAM scores 10 to 20 candidate partitions).
// No Python headers (docs/design.md).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"
#ifdef DANNEAL_SIMD_UNIT_ISA
#include "danneal/simd/vec.hpp"
#endif

namespace danneal::silhouette {

constexpr index_t kSilChunk = 16;    // rows per parallel work unit (rows are independent)
constexpr index_t kSilGroup = 1024;  // rows between two should_stop() checks
constexpr index_t kSilTile = 512;    // columns per distance tile (a multiple of every Vec::W)
constexpr index_t kSilRows = 4;      // rows sharing the column loads of a tile
constexpr index_t kSilBanks = 4;     // interleaved accumulators per cluster (column j -> bank j % 4)

template <class T>
struct SilCtx {
  const T* X;   // n x d
  const T* Xt;  // d x n_pad, the transpose, zero-padded to a multiple of kSilTile
  index_t n, n_pad, d;
  const std::int64_t* labels;  // L x n, in [0, k)
  index_t L, k;
  const double* w;  // n point weights
  // src[l * n_tiles + t]: the first labelling whose labels on tile t equal labelling l's (the
  // candidates of a search are often the same partition on most tiles: their tile sums are
  // computed once and reused)
  const index_t* src;
  index_t n_tiles;
};

// For rows [i0, i1): S[(i - i0) * L * k + l * k + c] = sum over points j of cluster c in labelling
// l of w_j ||x_i - x_j||.  Each sum is fixed by the data alone: within a tile column j goes to
// bank j % 4 in increasing j, the banks are added as (b0 + b1) + (b2 + b3), and the tiles' sums
// are added in tile order; nothing depends on the thread count.  dist: kSilRows * kSilTile T,
// wd: kSilTile doubles, acc: kSilRows * L * k + (L + kSilBanks) * k doubles (scratch).
template <class T, simd::Isa I>
void silhouette_rows_isa(const SilCtx<T>& cx, index_t i0, index_t i1, T* dist, double* wd, double* acc, double* S);
#define DANNEAL_SILHOUETTE_KERNELS(P, I)                                                                           \
  P void silhouette_rows_isa<float, I>(const SilCtx<float>&, index_t, index_t, float*, double*, double*, double*); \
  P void silhouette_rows_isa<double, I>(const SilCtx<double>&, index_t, index_t, double*, double*, double*, double*);
#define DANNEAL_SILHOUETTE_EXTERN(I) DANNEAL_SILHOUETTE_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_SILHOUETTE_EXTERN)

#ifdef DANNEAL_SIMD_UNIT_ISA
template <class T, simd::Isa I>
void silhouette_rows_isa(const SilCtx<T>& cx, index_t i0, index_t i1, T* dist, double* wd, double* acc, double* S) {
  using VT = simd::Vec<T, I>;
  using V = typename VT::V;
  constexpr int W = VT::W;
  static_assert(kSilTile % W == 0, "the tile must hold whole vectors");
  const index_t n = cx.n, d = cx.d, L = cx.L, k = cx.k, np = cx.n_pad;
  const index_t row_w = L * k;
  double* ts = acc + kSilRows * row_w;  // one row's tile sums of every labelling (L x k)
  double* bank = ts + row_w;            // kSilBanks x k
  for (index_t ib = i0; ib < i1; ib += kSilRows) {
    const index_t r = std::min(kSilRows, i1 - ib);
    const T* x0 = cx.X + ib * d;
    const T* x1 = cx.X + (ib + std::min<index_t>(1, r - 1)) * d;  // rows past r repeat a valid one
    const T* x2 = cx.X + (ib + std::min<index_t>(2, r - 1)) * d;
    const T* x3 = cx.X + (ib + std::min<index_t>(3, r - 1)) * d;
    std::fill(acc, acc + r * row_w, 0.0);
    for (index_t j0 = 0, t = 0; j0 < n; j0 += kSilTile, ++t) {
      const index_t jn = std::min(kSilTile, n - j0);
      // squared distances of the r rows to columns j0..j0+jn (rounded up to whole vectors: the
      // padding columns of Xt are zero and their results are never read)
      for (index_t jj = 0; jj < jn; jj += W) {
        V a0 = VT::zero(), a1 = VT::zero(), a2 = VT::zero(), a3 = VT::zero();
        const T* col = cx.Xt + j0 + jj;
        for (index_t f = 0; f < d; ++f) {
          const V v = VT::load(col + f * np);
          const V e0 = v - VT::bcast(x0 + f), e1 = v - VT::bcast(x1 + f), e2 = v - VT::bcast(x2 + f),
                  e3 = v - VT::bcast(x3 + f);
          a0 = VT::fma(e0, e0, a0);
          a1 = VT::fma(e1, e1, a1);
          a2 = VT::fma(e2, e2, a2);
          a3 = VT::fma(e3, e3, a3);
        }
        VT::store(dist + 0 * kSilTile + jj, a0);
        VT::store(dist + 1 * kSilTile + jj, a1);
        VT::store(dist + 2 * kSilTile + jj, a2);
        VT::store(dist + 3 * kSilTile + jj, a3);
      }
      for (index_t rr = 0; rr < r; ++rr) {
        const T* dr = dist + rr * kSilTile;
        const double* wj = cx.w + j0;
        for (index_t jj = 0; jj < jn; ++jj) wd[jj] = wj[jj] * static_cast<double>(std::sqrt(dr[jj]));
        double* ar = acc + rr * row_w;
        for (index_t l = 0; l < L; ++l) {
          double* tl = ts + l * k;
          const index_t from = cx.src[l * cx.n_tiles + t];
          if (from != l) {  // same labels on this tile as an earlier labelling: same sums
            std::copy(ts + from * k, ts + (from + 1) * k, tl);
          } else {
            const std::int64_t* lab = cx.labels + l * n + j0;
            std::fill(bank, bank + kSilBanks * k, 0.0);
            double* A0 = bank;
            double* A1 = A0 + k;
            double* A2 = A1 + k;
            double* A3 = A2 + k;
            index_t jj = 0;
            for (; jj + 4 <= jn; jj += 4) {  // j0 is a multiple of 4: bank = j % 4
              A0[lab[jj]] += wd[jj];
              A1[lab[jj + 1]] += wd[jj + 1];
              A2[lab[jj + 2]] += wd[jj + 2];
              A3[lab[jj + 3]] += wd[jj + 3];
            }
            for (; jj < jn; ++jj) A0[(jj & 3) * k + lab[jj]] += wd[jj];
            for (index_t c = 0; c < k; ++c) tl[c] = (A0[c] + A1[c]) + (A2[c] + A3[c]);
          }
          double* al = ar + l * k;
          for (index_t c = 0; c < k; ++c) al[c] += tl[c];
        }
      }
    }
    for (index_t rr = 0; rr < r; ++rr) std::copy(acc + rr * row_w, acc + (rr + 1) * row_w, S + (ib - i0 + rr) * row_w);
  }
}
#endif

// silhouette: X (n x d), labels (L x n, values in [0, k)), weights (n, >= 0, or null for all
// ones).  For every labelling l and point i, with C = the cluster of i, W_c the weight of cluster
// c and S_c(i) = sum_{j in c} w_j ||x_i - x_j||:
//   a = S_C(i) / (W_C - w_i),  b = min over other clusters c with W_c > 0 of S_c(i) / W_c,
//   s[l, i] = (b - a) / max(a, b)  (0 when i is alone in its cluster (W_C - w_i <= 1e-12 W_C),
//   when no other cluster has weight, or when a = b = 0),
// as sklearn.metrics.silhouette_samples (unweighted).  mean[l] = sum_i w_i s[l, i] / sum_i w_i
// (0 when every weight is 0), summed in index order.  Distances are formed in T from coordinate
// differences (not from the |x|^2 - 2 x.y + |y|^2 expansion), sums in double.
template <class T>
Status silhouette(const T* X, index_t n, index_t d, const std::int64_t* labels, index_t L, index_t k, const T* weights,
                  int n_threads, double* s, double* mean) {
  if (n < 1 || d < 1) throw std::invalid_argument("silhouette: X must have at least one row and one column");
  if (L < 1) throw std::invalid_argument("silhouette: labels must hold at least one labelling");
  if (k < 1) throw std::invalid_argument("silhouette: n_clusters must be >= 1");
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
  for (index_t i = 0; i < L * n; ++i)
    if (labels[i] < 0 || labels[i] >= k)
      throw std::invalid_argument("silhouette: labels must lie in [0, n_clusters=" + std::to_string(k) + "), got " +
                                  std::to_string(labels[i]));
  std::vector<double> w(static_cast<size_t>(n), 1.0);
  if (weights)
    for (index_t i = 0; i < n; ++i) {
      if (!(weights[i] >= 0) || !std::isfinite(static_cast<double>(weights[i])))
        throw std::invalid_argument("silhouette: sample weights must be finite and >= 0");
      w[i] = static_cast<double>(weights[i]);
    }
  const index_t n_pad = (n + kSilTile - 1) / kSilTile * kSilTile;
  check_alloc(static_cast<double>(n_pad) * static_cast<double>(d), sizeof(T), "silhouette: transposed copy of X");
  std::vector<T> Xt(static_cast<size_t>(n_pad * d), T(0));
  for (index_t i = 0; i < n; ++i)
    for (index_t f = 0; f < d; ++f) Xt[f * n_pad + i] = X[i * d + f];
  std::vector<double> Wc(static_cast<size_t>(L * k), 0.0);
  for (index_t l = 0; l < L; ++l)
    for (index_t i = 0; i < n; ++i) Wc[l * k + labels[l * n + i]] += w[i];
  const index_t n_tiles = n_pad / kSilTile;
  std::vector<index_t> src(static_cast<size_t>(L * n_tiles));
  for (index_t l = 0; l < L; ++l)
    for (index_t t = 0; t < n_tiles; ++t) {
      const index_t j0 = t * kSilTile, jn = std::min(kSilTile, n - j0);
      index_t from = l;
      for (index_t m = 0; m < l && from == l; ++m)
        if (src[m * n_tiles + t] == m && std::equal(labels + l * n + j0, labels + l * n + j0 + jn, labels + m * n + j0))
          from = m;
      src[l * n_tiles + t] = from;
    }
  const SilCtx<T> cx{X, Xt.data(), n, n_pad, d, labels, L, k, w.data(), src.data(), n_tiles};
  const simd::Isa isa = simd::active_isa();
  Status st;
  for (index_t g0 = 0; g0 < n; g0 += kSilGroup) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    const index_t gn = std::min(kSilGroup, n - g0);
    parallel_chunks(gn, kSilChunk, n_threads, [&](index_t, index_t b0, index_t b1) {
      const index_t i0 = g0 + b0, i1 = g0 + b1;
      std::vector<T> dist(static_cast<size_t>(kSilRows * kSilTile));
      std::vector<double> wd(static_cast<size_t>(kSilTile)),
          acc(static_cast<size_t>((kSilRows * L + L + kSilBanks) * k)), S(static_cast<size_t>((i1 - i0) * L * k));
      simd::with_isa(isa, [&](auto tag) {
        silhouette_rows_isa<T, decltype(tag)::value>(cx, i0, i1, dist.data(), wd.data(), acc.data(), S.data());
      });
      for (index_t i = i0; i < i1; ++i)
        for (index_t l = 0; l < L; ++l) {
          const double* Si = S.data() + ((i - i0) * L + l) * k;
          const double* Wl = Wc.data() + l * k;
          const index_t ci = labels[l * n + i];
          const double own = Wl[ci] - w[i];
          double v = 0.0;
          if (own > 1e-12 * Wl[ci]) {
            const double a = Si[ci] / own;
            double b = std::numeric_limits<double>::infinity();
            for (index_t c = 0; c < k; ++c)
              if (c != ci && Wl[c] > 0) b = std::min(b, Si[c] / Wl[c]);
            const double m = std::max(a, b);
            if (std::isfinite(b) && m > 0) v = (b - a) / m;
          }
          s[l * n + i] = v;
        }
    });
  }
  double wsum = 0.0;
  for (index_t i = 0; i < n; ++i) wsum += w[i];
  for (index_t l = 0; l < L; ++l) {
    double t = 0.0;
    for (index_t i = 0; i < n; ++i) t += w[i] * s[l * n + i];
    mean[l] = wsum > 0 ? t / wsum : 0.0;
  }
  st.converged = true;
  st.iterations = 1;
  return st;
}

}  // namespace danneal::silhouette
