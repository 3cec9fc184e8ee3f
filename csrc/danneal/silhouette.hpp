// Exact mean silhouette of partitions (ClAM's selection, docs/clam.md "Selection").  O(n^2 d)
// per call: the Euclidean distances of every pair are formed once and shared by all the
// labellings of the same points passed together (ClAM scores 10 to 20 candidate partitions).
// The labellings are first reduced to their common refinement: the "atoms", the sets of points
// that every labelling puts together (a point's atom is its tuple of labels; the candidates of a
// search agree on most points, so there are few atoms: 3 to 240 on the benchmark sets).  The
// columns are sorted by atom, each row's distance sums are formed per atom (contiguous runs of
// columns, no scatter) and a labelling's per-cluster sums are the sums of its atoms', so one pass
// over the pairs serves every labelling.  No Python headers (docs/design.md).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"
#ifdef DANNEAL_SIMD_UNIT_ISA
#include "danneal/simd/vec.hpp"
#endif

namespace danneal::silhouette {

constexpr index_t kSilChunk = 16;  // rows per parallel work unit (rows are independent)
// rows between two should_stop() checks: about kSilGroupWork units of n x (d + 4) per row (some
// 50 ms on one core), so that small calls are one parallel region (one closing barrier, which on a
// shared machine can wait a whole time slice for a descheduled thread)
constexpr double kSilGroupWork = 268435456.0;
constexpr index_t kSilTile = 512;  // columns per distance tile (a multiple of every Vec::W)
constexpr index_t kSilRows = 4;    // rows sharing the column loads of a tile

template <class T>
struct SilCtx {
  const T* X;   // n x d, the rows in input order
  const T* Xt;  // d x n_pad: the columns sorted by atom, transposed, zero-padded to a multiple of kSilTile
  index_t n, n_pad, d;
  const double* w;  // n point weights, in the sorted (column) order
  index_t G;        // atoms
  // the runs of one atom inside a tile: tile t holds runs seg_begin[t] .. seg_begin[t + 1] - 1,
  // run s covers the tile's columns [seg_a[s], seg_b[s]) (relative to the tile) of atom seg_g[s]
  const index_t* seg_begin;
  const index_t* seg_g;
  const index_t* seg_a;
  const index_t* seg_b;
};

// For rows [i0, i1) (input order): A[(i - i0) * G + g] = sum over the points j of atom g of
// w_j ||x_i - x_j||.  Each sum is fixed by the data and the atoms alone: a run's sum is two vector
// accumulators over its columns in order (lanes added in order) plus its tail in order, and the
// runs of an atom are added in tile order; nothing depends on the thread count.  dist:
// kSilRows * kSilTile T, wd: kSilTile doubles (scratch).
template <class T, simd::Isa I>
void silhouette_rows_isa(const SilCtx<T>& cx, index_t i0, index_t i1, T* dist, double* wd, double* A);
#define DANNEAL_SILHOUETTE_KERNELS(P, I)                                                                  \
  P void silhouette_rows_isa<float, I>(const SilCtx<float>&, index_t, index_t, float*, double*, double*); \
  P void silhouette_rows_isa<double, I>(const SilCtx<double>&, index_t, index_t, double*, double*, double*);
#define DANNEAL_SILHOUETTE_EXTERN(I) DANNEAL_SILHOUETTE_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_SILHOUETTE_EXTERN)

#ifdef DANNEAL_SIMD_UNIT_ISA
template <class T, simd::Isa I>
void silhouette_rows_isa(const SilCtx<T>& cx, index_t i0, index_t i1, T* dist, double* wd, double* A) {
  using VT = simd::Vec<T, I>;
  using V = typename VT::V;
  using VD = simd::Vec<double, I>;
  using VDv = typename VD::V;
  constexpr int W = VT::W;
  constexpr int WD = VD::W;
  static_assert(kSilTile % W == 0, "the tile must hold whole vectors");
  const index_t n = cx.n, d = cx.d, G = cx.G, np = cx.n_pad;
  std::fill(A, A + (i1 - i0) * G, 0.0);
  for (index_t ib = i0; ib < i1; ib += kSilRows) {
    const index_t r = std::min(kSilRows, i1 - ib);
    const T* x0 = cx.X + ib * d;
    const T* x1 = cx.X + (ib + std::min<index_t>(1, r - 1)) * d;  // rows past r repeat a valid one
    const T* x2 = cx.X + (ib + std::min<index_t>(2, r - 1)) * d;
    const T* x3 = cx.X + (ib + std::min<index_t>(3, r - 1)) * d;
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
      const index_t s0 = cx.seg_begin[t], s1 = cx.seg_begin[t + 1];
      for (index_t rr = 0; rr < r; ++rr) {
        const T* dr = dist + rr * kSilTile;
        const double* wj = cx.w + j0;
        double* Ar = A + (ib - i0 + rr) * G;
        if (G == n) {  // one atom per point (labellings that disagree on most points): no runs to sum
          for (index_t jj = 0; jj < jn; ++jj) Ar[j0 + jj] = wj[jj] * static_cast<double>(std::sqrt(dr[jj]));
          continue;
        }
        for (index_t jj = 0; jj < jn; ++jj) wd[jj] = wj[jj] * static_cast<double>(std::sqrt(dr[jj]));
        for (index_t sg = s0; sg < s1; ++sg) {
          const double* p = wd + cx.seg_a[sg];
          const index_t len = cx.seg_b[sg] - cx.seg_a[sg];
          VDv u0 = VD::zero(), u1 = VD::zero();
          index_t m = 0;
          for (; m + 2 * WD <= len; m += 2 * WD) {
            u0 = u0 + VD::load(p + m);
            u1 = u1 + VD::load(p + m + WD);
          }
          double sum = VD::hsum(u0 + u1);
          for (; m < len; ++m) sum += p[m];
          Ar[cx.seg_g[sg]] += sum;
        }
      }
    }
  }
}
#endif

// Calls body(begin, end) for every chunk of `chunk` rows of [0, n), in parallel, the chunks handed
// out one at a time (OpenMP dynamic schedule): a row's results do not depend on which thread
// computes it, and on a shared machine a descheduled thread then delays the region by one chunk,
// not by its static half of the rows (2 threads were slower than 1 under load with static chunks).
template <class Body>
inline void rows_dynamic(index_t n, index_t chunk, int n_threads, Body&& body) {
  const index_t nc = n_chunks(n, chunk);
  const int nt = effective_threads(n_threads, nc);
#ifdef DANNEAL_HAVE_OPENMP
  if (nt > 1 && !openmp_pool_started().load(std::memory_order_relaxed))
    openmp_pool_started().store(true, std::memory_order_relaxed);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
#endif
  for (index_t c = 0; c < nc; ++c) body(c * chunk, std::min(n, c * chunk + chunk));
  (void)nt;
}

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
  // the atoms (common refinement of the labellings), numbered in order of first appearance
  if (k > std::numeric_limits<index_t>::max() / n)
    throw std::invalid_argument("silhouette: n_clusters=" + std::to_string(k) + " too large for " + std::to_string(n) +
                                " points");
  std::vector<index_t> atom(static_cast<size_t>(n), 0);
  index_t G = 1;
  {
    std::unordered_map<index_t, index_t> ids;
    for (index_t l = 0; l < L; ++l) {
      ids.clear();
      const std::int64_t* lab = labels + l * n;
      for (index_t i = 0; i < n; ++i) {
        const auto it = ids.emplace(atom[i] * k + lab[i], static_cast<index_t>(ids.size())).first;
        atom[i] = it->second;
      }
      G = static_cast<index_t>(ids.size());
    }
  }
  if (G > n / 4) {  // short runs cost more than they save: one atom per point, in index order
    G = n;
    for (index_t i = 0; i < n; ++i) atom[i] = i;
  }
  // amap[l * G + g]: the cluster of atom g in labelling l; the columns sorted by atom (stable)
  std::vector<std::int64_t> amap(static_cast<size_t>(L * G));
  std::vector<index_t> first(static_cast<size_t>(G + 1), 0);
  for (index_t i = 0; i < n; ++i) ++first[atom[i] + 1];
  for (index_t g = 0; g < G; ++g) first[g + 1] += first[g];
  std::vector<index_t> order(static_cast<size_t>(n));
  {
    std::vector<index_t> next(first.begin(), first.end() - 1);
    for (index_t i = 0; i < n; ++i) {
      const index_t g = atom[i];
      if (next[g] == first[g])
        for (index_t l = 0; l < L; ++l) amap[l * G + g] = labels[l * n + i];
      order[next[g]++] = i;
    }
  }
  const index_t n_pad = (n + kSilTile - 1) / kSilTile * kSilTile;
  check_alloc(static_cast<double>(n_pad) * static_cast<double>(d), sizeof(T), "silhouette: transposed copy of X");
  std::vector<T> Xt(static_cast<size_t>(n_pad * d), T(0));
  std::vector<double> wsorted(static_cast<size_t>(n));
  for (index_t p = 0; p < n; ++p) {
    const index_t i = order[p];
    wsorted[p] = w[i];
    for (index_t f = 0; f < d; ++f) Xt[f * n_pad + p] = X[i * d + f];
  }
  // the runs of each atom inside each tile
  const index_t n_tiles = n_pad / kSilTile;
  std::vector<index_t> seg_begin(static_cast<size_t>(n_tiles + 1)), seg_g, seg_a, seg_b;
  for (index_t t = 0, g = 0; t < n_tiles; ++t) {
    seg_begin[t] = static_cast<index_t>(seg_g.size());
    const index_t j0 = t * kSilTile, j1 = std::min(n, j0 + kSilTile);
    while (first[g + 1] <= j0) ++g;
    for (index_t h = g; h < G && first[h] < j1; ++h) {
      seg_g.push_back(h);
      seg_a.push_back(std::max(first[h], j0) - j0);
      seg_b.push_back(std::min(first[h + 1], j1) - j0);
    }
  }
  seg_begin[n_tiles] = static_cast<index_t>(seg_g.size());
  std::vector<double> Wc(static_cast<size_t>(L * k), 0.0);
  for (index_t l = 0; l < L; ++l)
    for (index_t i = 0; i < n; ++i) Wc[l * k + labels[l * n + i]] += w[i];
  check_alloc(static_cast<double>(kSilChunk) * static_cast<double>(G + L * k) * static_cast<double>(n_threads),
              sizeof(double), "silhouette: per-atom sums");
  const SilCtx<T> cx{
      X, Xt.data(), n, n_pad, d, wsorted.data(), G, seg_begin.data(), seg_g.data(), seg_a.data(), seg_b.data()};
  const simd::Isa isa = simd::active_isa();
  Status st;
  const double row_work = static_cast<double>(n) * static_cast<double>(d + 4);
  const index_t group =
      std::max(kSilChunk, std::min(n, static_cast<index_t>(kSilGroupWork / row_work)) / kSilChunk * kSilChunk);
  for (index_t g0 = 0; g0 < n; g0 += group) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    const index_t gn = std::min(group, n - g0);
    rows_dynamic(gn, kSilChunk, n_threads, [&](index_t b0, index_t b1) {
      const index_t i0 = g0 + b0, i1 = g0 + b1;
      std::vector<T> dist(static_cast<size_t>(kSilRows * kSilTile));
      std::vector<double> wd(static_cast<size_t>(kSilTile)), A(static_cast<size_t>((i1 - i0) * G)),
          S(static_cast<size_t>(k));
      simd::with_isa(isa, [&](auto tag) {
        silhouette_rows_isa<T, decltype(tag)::value>(cx, i0, i1, dist.data(), wd.data(), A.data());
      });
      for (index_t i = i0; i < i1; ++i)
        for (index_t l = 0; l < L; ++l) {
          // the labelling's per-cluster sums: its atoms' sums, added in atom order
          const double* Ai = A.data() + (i - i0) * G;
          const std::int64_t* ml = amap.data() + l * G;
          std::fill(S.begin(), S.end(), 0.0);
          for (index_t g = 0; g < G; ++g) S[ml[g]] += Ai[g];
          const double* Si = S.data();
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
