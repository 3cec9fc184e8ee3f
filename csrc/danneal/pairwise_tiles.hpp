// Pairwise clustering with dissimilarities computed on the fly (issue 11 §2): D_ij = dist(x_i, x_j)
// for a Minkowski-family metric is formed in tiles (a few rows against kTileCols columns at a time,
// the columns' features stored transposed so the inner loop runs over contiguous columns) and
// consumed at once by the D.Q product: memory O(n (d + k)), work O(n^2 d) per sweep.  The tile
// kernels live in the SIMD layer (csrc/danneal/simd/, docs/design.md §7): tile_dist_isa forms one
// row's distances to a tile of columns (the vector lanes are columns, each distance summed over the
// features in order), tile_dq_isa forms a block of rows' distances to a tile (4 rows share every
// column load) and multiplies them into the weights in float64 with register-blocked FMAs.  Each
// row's result depends only on that row (the same arithmetic whatever rows it is blocked with), so
// 1 or many threads give identical bits; D_ij and D_ji are the same number (|a - b| = |b - a|).
//
// Weights: pairwise_tiles_dq and pairwise_tiles_local_search take an optional per-object weight
// vector w (nullptr: unit weights) for the weighted cost
//   H = sum_v c_v / (2 P_v),  c_v = sum_ij w_i w_j q_iv q_jv D_ij,  P_v = sum_i w_i q_iv,
// i.e. DQ = D diag(w) Q, c_v = sum_i w_i q_iv (DQ)_iv, S_v = P_v (unit weights: the plain cost).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"

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

// ---- the SIMD-layer kernels (instantiated per instruction set in simd/isa_*.cpp) ---------------

// out[j] = dist(x, column j) for the nj columns of XT (d x nj, row stride ldx), in T.
template <class T, simd::Isa I>
void tile_dist_isa(int metric, double p, const T* x, const T* XT, index_t ldx, index_t d, index_t nj, T* out);
// out[r * k + v] += sum_j dist(x_r, column j) WT[v * ldw + j] (float64) for the rows x_r = X[r * d ..]
// (r < rows) and the nj (<= kTileCols) columns of XT (d x nj, row stride ldx).
template <class T, simd::Isa I>
void tile_dq_isa(int metric, double p, const T* X, index_t d, index_t rows, const T* XT, index_t ldx, index_t nj,
                 const double* WT, index_t ldw, index_t k, double* out);
#define DANNEAL_TILES_KERNELS(P, I)                                                                               \
  P void tile_dist_isa<float, I>(int, double, const float*, const float*, index_t, index_t, index_t, float*);     \
  P void tile_dist_isa<double, I>(int, double, const double*, const double*, index_t, index_t, index_t, double*); \
  P void tile_dq_isa<float, I>(int, double, const float*, index_t, index_t, const float*, index_t, index_t,       \
                               const double*, index_t, index_t, double*);                                         \
  P void tile_dq_isa<double, I>(int, double, const double*, index_t, index_t, const double*, index_t, index_t,    \
                                const double*, index_t, index_t, double*);
#define DANNEAL_TILES_EXTERN(I) DANNEAL_TILES_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_TILES_EXTERN)

// out[j - j0] = dist(x, x_j) for j in [j0, j0 + nj), from the transposed features XT (d x n):
// distances accumulate in T over the features in order (the active instruction set's unit).
template <class T>
inline void tile_row_dist(int metric, double p, const T* x, const T* XT, index_t n, index_t d, index_t j0, index_t nj,
                          T* out) {
  simd::with_isa(simd::active_isa(),
                 [&](auto isa) { tile_dist_isa<T, decltype(isa)::value>(metric, p, x, XT + j0, n, d, nj, out); });
}

// out = D[:, cols] W (n x k, float64) for m columns given by their transposed features XT (d x m)
// and weights WT (k x m): the rows in fixed chunks, the columns in tiles of kTileCols (each chunk
// sweeps the tiles, so a tile of XT and WT is reused by all the chunk's rows while in cache).  Each
// output row depends only on its own row: thread independent.
template <class T>
void tiles_product(const T* X, index_t n, index_t d, int metric, double p, const T* XT, index_t m, const double* WT,
                   index_t k, int n_threads, double* out) {
  const simd::Isa isa = simd::active_isa();
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b, index_t e) {
    for (index_t t = b * k; t < e * k; ++t) out[t] = 0.0;
    for (index_t j0 = 0; j0 < m; j0 += kTileCols) {
      const index_t nj = std::min(kTileCols, m - j0);
      simd::with_isa(isa, [&](auto tag) {
        tile_dq_isa<T, decltype(tag)::value>(metric, p, X + b * d, d, e - b, XT + j0, m, nj, WT + j0, m, k,
                                             out + b * k);
      });
    }
  });
}

// DQ = D diag(w) Q (n x k, float64) with D_ij = dist(x_i, x_j) formed in tiles, c_v = sum_i w_i q_iv
// (DQ)_iv and S_v = sum_i w_i q_iv (float64, chunk order); w = nullptr: unit weights.  Q may hold any
// real values (the eigensolvers use it).
template <class T>
void pairwise_tiles_dq(const T* X, index_t n, index_t d, int metric, double p, const T* Q, index_t k, const double* w,
                       int n_threads, double* DQ, double* c, double* S) {
  check_tile_metric(metric, p);
  const std::vector<T> XT = transpose_features(X, n, d);
  std::vector<double> QT(static_cast<size_t>(n * k));
  for (index_t i = 0; i < n; ++i)
    for (index_t v = 0; v < k; ++v)
      QT[v * n + i] = w ? w[i] * static_cast<double>(Q[i * k + v]) : static_cast<double>(Q[i * k + v]);
  tiles_product<T>(X, n, d, metric, p, XT.data(), n, QT.data(), k, n_threads, DQ);
  const index_t nc = n_chunks(n);
  std::vector<double> part(static_cast<size_t>(nc * 2 * k), 0.0);
  parallel_chunks(n, kChunk, n_threads, [&](index_t ch, index_t b, index_t e) {
    double* pc = part.data() + ch * 2 * k;
    double* ps = pc + k;
    for (index_t i = b; i < e; ++i)
      for (index_t v = 0; v < k; ++v) {
        const double q = w ? w[i] * static_cast<double>(Q[i * k + v]) : static_cast<double>(Q[i * k + v]);
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
void pairwise_tiles_dq_cols(const T* X, index_t n, index_t d, int metric, double p, const std::int64_t* cols, index_t m,
                            const double* W, index_t k, int n_threads, double* out) {
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
// from X when an object moves (O(n d) per move, in parallel over fixed chunks of columns).  With
// weights w (nullptr: unit) the rule is that of the weighted cost (see the top of this file): moving
// i (weight w_i) from a to b changes H by
//   w_i [(DQ_ib - c_b / (2 P_b)) / (P_b + w_i) - DQ_ia / (P_a - w_i) + c_a / (2 P_a (P_a - w_i))]
// (DQ = D diag(w) Q); a cluster is never emptied (its member count, not its mass, is checked).
template <class T>
Status pairwise_tiles_local_search(const T* X, index_t n, index_t d, int metric, double p, index_t k,
                                   index_t max_passes, const double* w, int n_threads, std::int64_t* labels,
                                   double* cost) {
  check_tile_metric(metric, p);
  for (index_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= k) throw std::invalid_argument("labels must lie in [0, n_clusters)");
  const std::vector<T> XT = transpose_features(X, n, d);
  std::vector<T> onehot(static_cast<size_t>(n * k), T(0)), row(static_cast<size_t>(n));
  std::vector<double> dq(static_cast<size_t>(n * k)), c(static_cast<size_t>(k)), S(static_cast<size_t>(k));
  std::vector<index_t> count(static_cast<size_t>(k));
  auto refresh = [&]() {
    std::fill(onehot.begin(), onehot.end(), T(0));
    std::fill(count.begin(), count.end(), 0);
    for (index_t i = 0; i < n; ++i) {
      onehot[i * k + labels[i]] = T(1);
      ++count[labels[i]];
    }
    pairwise_tiles_dq<T>(X, n, d, metric, p, onehot.data(), k, w, n_threads, dq.data(), c.data(), S.data());
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
      if (count[a] <= 1) continue;  // never empty a cluster
      const double wi = w ? w[i] : 1.0;
      const double* di = dq.data() + i * k;
      const double rem = wi * (di[a] / (S[a] - wi) - c[a] / (2.0 * S[a] * (S[a] - wi)));
      index_t best = a;
      double best_delta = 0.0;
      for (index_t b = 0; b < k; ++b) {
        if (b == a) continue;
        const double add = count[b] > 0 ? wi * (di[b] - c[b] / (2.0 * S[b])) / (S[b] + wi) : 0.0;
        const double delta = add - rem;
        const double eps = 1e-12 * (std::abs(add) + std::abs(rem));
        if (delta < best_delta - eps) {
          best_delta = delta;
          best = b;
        }
      }
      if (best == a) continue;
      const index_t b = best;
      c[a] -= 2.0 * wi * di[a];
      c[b] += 2.0 * wi * di[b];
      S[a] -= wi;
      S[b] += wi;
      --count[a];
      ++count[b];
      labels[i] = b;
      const T* xi = X + i * d;
      parallel_chunks(n, kTileCols, n_threads, [&](index_t, index_t j0, index_t j1) {
        tile_row_dist<T>(metric, p, xi, XT.data(), n, d, j0, j1 - j0, row.data() + j0);
      });
      for (index_t j = 0; j < n; ++j) {
        const double dd = wi * static_cast<double>(row[j]);
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
    if (count[v] > 0) h += c[v] / (2.0 * S[v]);
  *cost = h;
  return st;
}

// ---- the generic implementation, compiled in the per-instruction-set units (simd/isa_*.cpp) --
#ifdef DANNEAL_SIMD_UNIT_ISA
// Internal linkage: each unit compiles its own copy for its instruction set (docs/design.md §7).
namespace {

constexpr int kTileRows = 4;  // rows sharing every column load in tile_dq_isa

// |t| lane-wise: the sign bit cleared (one and, exact)
template <class S>
inline typename S::V vabs(const typename S::V& t) {
  using Iv = typename S::Iv;
  using Int = typename S::Int;
  const Iv mask = ~(Iv{} + (Int(1) << (8 * sizeof(Int) - 1)));
  return (typename S::V)((Iv)t & mask);
}

// out[r][j] = dist(x_r, column j) for R rows and the nj columns of XT (row stride ldx); metric M is
// a compile-time TileMetric other than Minkowski.  Lane j sums its features in order.
template <class T, simd::Isa I, int M, int R>
inline void dist_rows(const T* const* x, const T* XT, index_t ldx, index_t d, index_t nj, T* const* out) {
  using S = simd::Vec<T, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  for (index_t j = 0; j < nj; j += W) {
    const index_t nl = nj - j < W ? nj - j : W;
    V acc[R];
    for (int r = 0; r < R; ++r) acc[r] = S::zero();
    for (index_t f = 0; f < d; ++f) {
      const T* cp = XT + f * ldx + j;
      const V col = nl == W ? S::load(cp) : S::load_partial(cp, nl, T(0));
      for (int r = 0; r < R; ++r) {
        const V t = S::bcast(x[r] + f) - col;
        if constexpr (M == kCityblock)
          acc[r] = acc[r] + vabs<S>(t);
        else if constexpr (M == kChebyshev)
          acc[r] = S::max(acc[r], vabs<S>(t));
        else
          acc[r] = S::fma(t, t, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      if constexpr (M == kEuclidean) {  // correctly rounded either way
#if defined(__AVX__)
        if constexpr (S::kBytes == 32 && sizeof(T) == 8)
          acc[r] = (V)_mm256_sqrt_pd((__m256d)acc[r]);
        else if constexpr (S::kBytes == 32)
          acc[r] = (V)_mm256_sqrt_ps((__m256)acc[r]);
        else
#endif
          for (int l = 0; l < W; ++l) acc[r][l] = __builtin_sqrt(acc[r][l]);
      }
      if (nl == W)
        S::store(out[r] + j, acc[r]);
      else
        S::store_partial(out[r] + j, acc[r], nl);
    }
  }
}

// Minkowski: scalar (pow per term), the same order of summation.
template <class T>
inline void dist_rows_minkowski(double p, const T* const* x, int R, const T* XT, index_t ldx, index_t d, index_t nj,
                                T* const* out) {
  const T pp = static_cast<T>(p), inv = static_cast<T>(1.0 / p);
  for (int r = 0; r < R; ++r)
    for (index_t j = 0; j < nj; ++j) {
      T s = T(0);
      for (index_t f = 0; f < d; ++f) {
        const T t = x[r][f] - XT[f * ldx + j];
        s += static_cast<T>(__builtin_pow(static_cast<double>(t < 0 ? -t : t), static_cast<double>(pp)));
      }
      out[r][j] = static_cast<T>(__builtin_pow(static_cast<double>(s), static_cast<double>(inv)));
    }
}

template <class T, simd::Isa I, int R>
inline void dist_rows_any(int metric, double p, const T* const* x, const T* XT, index_t ldx, index_t d, index_t nj,
                          T* const* out) {
  switch (metric) {
    case kCityblock:
      dist_rows<T, I, kCityblock, R>(x, XT, ldx, d, nj, out);
      break;
    case kEuclidean:
      dist_rows<T, I, kEuclidean, R>(x, XT, ldx, d, nj, out);
      break;
    case kChebyshev:
      dist_rows<T, I, kChebyshev, R>(x, XT, ldx, d, nj, out);
      break;
    case kSqEuclidean:
      dist_rows<T, I, kSqEuclidean, R>(x, XT, ldx, d, nj, out);
      break;
    default:
      dist_rows_minkowski<T>(p, x, R, XT, ldx, d, nj, out);
  }
}

// out[r * k + v0 + t] += sum_j Dr[r][j] WT[(v0 + t) * ldw + j] for R rows and KT clusters: the
// vector part in lanes (FMA where the set has it), then the lanes in order, then the tail.
template <simd::Isa I, int R, int KT>
inline void tile_dot(const double* const* Dr, const double* WT, index_t ldw, index_t nj, index_t k, index_t v0,
                     double* out) {
  using S = simd::Vec<double, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  const index_t nv = (nj / W) * W;
  V acc[R][KT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KT; ++t) acc[r][t] = S::zero();
  for (index_t j = 0; j < nv; j += W) {
    V dv[R];
    for (int r = 0; r < R; ++r) dv[r] = S::load(Dr[r] + j);
    for (int t = 0; t < KT; ++t) {
      const V q = S::load(WT + (v0 + t) * ldw + j);
      for (int r = 0; r < R; ++r) acc[r][t] = S::fma(dv[r], q, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KT; ++t) {
      double s = S::hsum(acc[r][t]);
      const double* q = WT + (v0 + t) * ldw;
      for (index_t j = nv; j < nj; ++j) s += Dr[r][j] * q[j];
      out[r * k + v0 + t] += s;
    }
}

template <class T, simd::Isa I, int R>
inline void tile_dq_rows(int metric, double p, const T* X, index_t d, const T* XT, index_t ldx, index_t nj,
                         const double* WT, index_t ldw, index_t k, double* out, T* tbuf, double* dbuf) {
  const T* x[R];
  T* tr[R];
  const double* dr[R];
  for (int r = 0; r < R; ++r) {
    x[r] = X + r * d;
    if constexpr (sizeof(T) == sizeof(double))
      tr[r] = reinterpret_cast<T*>(dbuf) + r * kTileCols;  // double: the distances are the products' input
    else
      tr[r] = tbuf + r * kTileCols;
    dr[r] = dbuf + r * kTileCols;
  }
  dist_rows_any<T, I, R>(metric, p, x, XT, ldx, d, nj, tr);
  if constexpr (sizeof(T) != sizeof(double))
    for (int r = 0; r < R; ++r)
      for (index_t j = 0; j < nj; ++j) dbuf[r * kTileCols + j] = static_cast<double>(tbuf[r * kTileCols + j]);
  index_t v0 = 0;
  for (; v0 + 2 <= k; v0 += 2) tile_dot<I, R, 2>(dr, WT, ldw, nj, k, v0, out);
  if (v0 < k) tile_dot<I, R, 1>(dr, WT, ldw, nj, k, v0, out);
}

// The baseline unit (SSE2: 32-byte vectors are register pairs, and the vector kernels above spill):
// one row at a time with plain loops the compiler vectorises itself, the distances summed over the
// features in order and each dot product in 8 fixed lanes (the kernel before the SIMD layer).
template <class T>
inline void scalar_row_dist(int metric, double p, const T* x, const T* XT, index_t ldx, index_t d, index_t nj, T* out) {
  for (index_t j = 0; j < nj; ++j) out[j] = T(0);
  switch (metric) {
    case kCityblock:
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * ldx;
        for (index_t j = 0; j < nj; ++j) {
          const T t = a - col[j];
          out[j] += t < 0 ? -t : t;
        }
      }
      break;
    case kEuclidean:
    case kSqEuclidean:
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * ldx;
        for (index_t j = 0; j < nj; ++j) {
          const T t = a - col[j];
          out[j] += t * t;
        }
      }
      if (metric == kEuclidean)
        for (index_t j = 0; j < nj; ++j) out[j] = __builtin_sqrt(out[j]);
      break;
    case kChebyshev:
      for (index_t f = 0; f < d; ++f) {
        const T a = x[f];
        const T* col = XT + f * ldx;
        for (index_t j = 0; j < nj; ++j) {
          const T t = a - col[j];
          const T u = t < 0 ? -t : t;
          out[j] = out[j] < u ? u : out[j];
        }
      }
      break;
    default: {
      const T* xr[1] = {x};
      T* o[1] = {out};
      dist_rows_minkowski<T>(p, xr, 1, XT, ldx, d, nj, o);
    }
  }
}

template <class T>
inline double lane_dot8(const T* w, const double* q, index_t nj) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t j = 0;
  for (; j + 8 <= nj; j += 8)
    for (int l = 0; l < 8; ++l) s[l] += static_cast<double>(w[j + l]) * q[j + l];
  for (int l = 0; j < nj; ++j, ++l) s[l] += static_cast<double>(w[j]) * q[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

}  // namespace

template <class T, simd::Isa I>
void tile_dist_isa(int metric, double p, const T* x, const T* XT, index_t ldx, index_t d, index_t nj, T* out) {
  if constexpr (I == simd::Isa::baseline) {
    scalar_row_dist<T>(metric, p, x, XT, ldx, d, nj, out);
    return;
  }
  const T* xr[1] = {x};
  T* o[1] = {out};
  dist_rows_any<T, I, 1>(metric, p, xr, XT, ldx, d, nj, o);
}

template <class T, simd::Isa I>
void tile_dq_isa(int metric, double p, const T* X, index_t d, index_t rows, const T* XT, index_t ldx, index_t nj,
                 const double* WT, index_t ldw, index_t k, double* out) {
  if constexpr (I == simd::Isa::baseline) {
    alignas(64) T dist[kTileCols];
    for (index_t r = 0; r < rows; ++r) {
      scalar_row_dist<T>(metric, p, X + r * d, XT, ldx, d, nj, dist);
      for (index_t v = 0; v < k; ++v) out[r * k + v] += lane_dot8<T>(dist, WT + v * ldw, nj);
    }
    return;
  }
  alignas(64) T tbuf[sizeof(T) == sizeof(double) ? 1 : kTileRows * kTileCols];
  alignas(64) double dbuf[kTileRows * kTileCols];
  index_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows)
    tile_dq_rows<T, I, kTileRows>(metric, p, X + r * d, d, XT, ldx, nj, WT, ldw, k, out + r * k, tbuf, dbuf);
  for (; r < rows; ++r)
    tile_dq_rows<T, I, 1>(metric, p, X + r * d, d, XT, ldx, nj, WT, ldw, k, out + r * k, tbuf, dbuf);
}
#endif  // DANNEAL_SIMD_UNIT_ISA

}  // namespace danneal::pairwise
