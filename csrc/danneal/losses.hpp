// Deep clustering losses (docs/losses.md): the n x n passes of the DDC loss (Kampffmeyer et al.,
// "Deep divergence-based approach to clustering", Neural Networks 2019).
//
// The dense products with the hidden layer (H H^T, K [A|M], (B G) B^T, S H) are BLAS GEMMs done by
// the caller (numpy); these kernels are the element-wise n x n passes around them, fused so that
// each n x n matrix is streamed once:
//   ddc_gaussian_kernel: squared distances from the Gram matrix, the median bandwidth rule and
//                        K = exp(-dist / (2 sigma^2)) in one pass (plus one selection pass);
//   ddc_hidden_weights:  S = scale * K .* (P B^T) and the row sums of S (the weights of the
//                        gradient with respect to the hidden layer), P B^T never stored.
// The row kernels (vectorised exp, the fused weights) are compiled in each instruction set's unit
// (csrc/danneal/simd/isa_*.cpp) and the one of simd::active_isa() runs.  Per element the arithmetic does not
// depend on the thread count, and every sum runs in a fixed order, so 1 and 2 threads agree bit for
// bit (results may differ in the last bits between the two instruction sets).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"

namespace danneal::losses {

// Lower bound on the bandwidth sigma^2 (as in the reference code, DanielTrosten/mvc).
constexpr double kMinSigma2 = 1e-9;

// ---- row kernels, compiled in the per-instruction-set units (csrc/danneal/simd/isa_*.cpp) -----
namespace simd {
using danneal::simd::Isa;
// K rows [a0, a1): K_ab = exp(inv * max(g_a + g_b - 2 gram_ab, 0)), K_aa = 1 (inv = -1/(2 sigma2)).
template <class T, Isa I>
void gauss_rows_isa(const T* gram, const T* g, index_t n, T inv, index_t a0, index_t a1, T* K);
// S rows [a0, a1): S_ab = scale * K_ab * sum_j P_aj BT_jb, rowsum_a = sum_b S_ab (double).
template <class T, Isa I>
void weight_rows_isa(const T* K, const T* P, const T* BT, index_t n, index_t m, T scale, index_t a0, index_t a1, T* S,
                     double* rowsum);
#define DANNEAL_LOSSES_KERNELS(P, I)                                                                                \
  P void gauss_rows_isa<float, I>(const float*, const float*, index_t, float, index_t, index_t, float*);            \
  P void gauss_rows_isa<double, I>(const double*, const double*, index_t, double, index_t, index_t, double*);       \
  P void weight_rows_isa<float, I>(const float*, const float*, const float*, index_t, index_t, float, index_t,      \
                                   index_t, float*, double*);                                                       \
  P void weight_rows_isa<double, I>(const double*, const double*, const double*, index_t, index_t, double, index_t, \
                                    index_t, double*, double*);
#define DANNEAL_LOSSES_EXTERN(I) DANNEAL_LOSSES_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_LOSSES_EXTERN)

template <class T>
inline void gauss_rows(const T* gram, const T* g, index_t n, T inv, index_t a0, index_t a1, T* K) {
  danneal::simd::with_isa(danneal::simd::active_isa(),
                          [&](auto isa) { gauss_rows_isa<T, decltype(isa)::value>(gram, g, n, inv, a0, a1, K); });
}

template <class T>
inline void weight_rows(const T* K, const T* P, const T* BT, index_t n, index_t m, T scale, index_t a0, index_t a1,
                        T* S, double* rowsum) {
  danneal::simd::with_isa(danneal::simd::active_isa(), [&](auto isa) {
    weight_rows_isa<T, decltype(isa)::value>(K, P, BT, n, m, scale, a0, a1, S, rowsum);
  });
}
}  // namespace simd

// Squared distance between rows a and b from the Gram matrix, clamped at 0 (round-off).
template <class T>
inline T sqdist(const T* gram, const T* g, index_t n, index_t a, index_t b) {
  const T d = (g[a] + g[b]) - T(2) * gram[a * n + b];
  return d > T(0) ? d : T(0);
}

// Position of the lower median of all n^2 entries of the distance matrix (zero diagonal) within
// the sorted strictly-upper-triangular distances, or -1 when the median is one of the zeros of the
// diagonal.  The full matrix holds n zeros and every off-diagonal distance twice, so the sorted
// entry (n^2 - 1) / 2 (torch.median's lower median) is u[((n^2 - 1) / 2 - n) / 2].
inline index_t median_rank(index_t n) {
  const index_t m = (n * n - 1) / 2;
  if (m < n) return -1;
  return (m - n) / 2;
}

template <class T>
struct KeyOf;
template <>
struct KeyOf<float> {
  using U = std::uint32_t;
};
template <>
struct KeyOf<double> {
  using U = std::uint64_t;
};

// Bit pattern of a non-negative float: monotone in the value.
template <class T>
inline typename KeyOf<T>::U key_of(T x) {
  typename KeyOf<T>::U u;
  std::memcpy(&u, &x, sizeof(T));
  return u;
}

// The r-th smallest (0-based) squared distance among the pairs a < b, exactly: one counting pass
// over the top 16 bits of the distances' bit patterns (monotone for non-negative floats; integer
// counts, so the result does not depend on the thread count), then a pass that gathers the
// distances of the bin holding rank r (in chunk order) and nth_element on those few.  Distances
// are recomputed from the Gram matrix on each pass; rows are visited in pairs (v, n-1-v) so that
// the chunks of the triangle carry equal work.
template <class T>
T select_sqdist(const T* gram, const T* g, index_t n, index_t r, int n_threads) {
  using U = typename KeyOf<T>::U;
  constexpr int kShift = 8 * sizeof(T) - 16;
  constexpr index_t kBins = 1 << 16;
  const index_t half = (n + 1) / 2;
  const index_t nc = n_chunks(half);
  auto pair_rows = [n](index_t v, index_t* rows) -> int {
    rows[0] = v;
    rows[1] = n - 1 - v;
    return rows[1] != v ? 2 : 1;
  };
  std::vector<std::uint32_t> hist(static_cast<size_t>(nc * kBins), 0u);
  parallel_chunks(half, kChunk, n_threads, [&](index_t c, index_t v0, index_t v1) {
    std::uint32_t* h = hist.data() + c * kBins;
    index_t rows[2];
    for (index_t v = v0; v < v1; ++v) {
      const int nr = pair_rows(v, rows);
      for (int q = 0; q < nr; ++q) {
        const index_t a = rows[q];
        for (index_t b = a + 1; b < n; ++b) ++h[key_of(sqdist(gram, g, n, a, b)) >> kShift];
      }
    }
  });
  index_t cum = 0, bin = 0;
  for (bin = 0; bin < kBins; ++bin) {
    index_t cnt = 0;
    for (index_t c = 0; c < nc; ++c) cnt += hist[c * kBins + bin];
    if (cum + cnt > r) break;
    cum += cnt;
  }
  const index_t rank = r - cum;
  const U target = static_cast<U>(bin);
  std::vector<std::vector<T>> cand(static_cast<size_t>(nc));
  parallel_chunks(half, kChunk, n_threads, [&](index_t c, index_t v0, index_t v1) {
    index_t rows[2];
    std::vector<T>& out = cand[c];
    for (index_t v = v0; v < v1; ++v) {
      const int nr = pair_rows(v, rows);
      for (int q = 0; q < nr; ++q) {
        const index_t a = rows[q];
        for (index_t b = a + 1; b < n; ++b) {
          const T d = sqdist(gram, g, n, a, b);
          if ((key_of(d) >> kShift) == target) out.push_back(d);
        }
      }
    }
  });
  std::vector<T> all;
  for (auto& v : cand) all.insert(all.end(), v.begin(), v.end());
  std::nth_element(all.begin(), all.begin() + rank, all.end());
  return all[static_cast<size_t>(rank)];
}

// Gaussian kernel matrix of the rows of H, given the Gram matrix gram = H H^T (n x n, symmetric).
//   dist_ab = max(g_aa + g_bb - 2 g_ab, 0) for a != b, dist_aa = 0;
//   sigma2 > 0: used as given; sigma2 <= 0: sigma2 = max(rel_sigma * lower median of all n^2
//   entries of dist, 1e-9) (the 0.15-median rule of DDC, rel_sigma = 0.15);
//   K_ab = exp(-dist_ab / (2 sigma2))  (simd::exp: within 1 ulp; values below the smallest normal
//   number are 0).
// Writes K (n x n) and sigma2_out[0].
template <class T>
Status ddc_gaussian_kernel(const T* gram, index_t n, double rel_sigma, double sigma2, int n_threads, T* K,
                           double* sigma2_out) {
  if (n < 1) throw std::invalid_argument("ddc_gaussian_kernel: n must be >= 1");
  if (!(sigma2 > 0) && !(rel_sigma > 0)) throw std::invalid_argument("ddc_gaussian_kernel: rel_sigma must be > 0");
  (void)effective_threads(n_threads, 1);
  std::vector<T> g(static_cast<size_t>(n));
  for (index_t a = 0; a < n; ++a) g[a] = gram[a * n + a];
  // |gram_ab| <= sqrt(g_a g_b): finite squared norms keep every distance finite
  if (!all_finite(g.data(), n))
    throw std::invalid_argument("ddc_gaussian_kernel: non-finite squared norm on the diagonal of gram");
  if (!(sigma2 > 0)) {
    const index_t r = median_rank(n);
    const double med = r >= 0 ? static_cast<double>(select_sqdist(gram, g.data(), n, r, n_threads)) : 0.0;
    sigma2 = std::max(rel_sigma * med, kMinSigma2);
  }
  sigma2_out[0] = sigma2;
  const T inv = static_cast<T>(-1.0 / (2.0 * sigma2));
  parallel_chunks(n, kChunk, n_threads,
                  [&](index_t, index_t a0, index_t a1) { simd::gauss_rows<T>(gram, g.data(), n, inv, a0, a1, K); });
  Status st;
  st.converged = true;
  st.iterations = 1;
  return st;
}

// S = scale * K .* (P B^T) (n x n; P, B are n x m) and rowsum_a = sum_b S_ab (double): the weights
// of the gradient with respect to the hidden layer, grad_H = 2 (diag(rowsum) H - S H).
template <class T>
Status ddc_hidden_weights(const T* K, const T* P, const T* B, index_t n, index_t m, double scale, int n_threads, T* S,
                          double* rowsum) {
  if (n < 1 || m < 1) throw std::invalid_argument("ddc_hidden_weights: n and m must be >= 1");
  (void)effective_threads(n_threads, 1);
  std::vector<T> BT(static_cast<size_t>(n * m));
  for (index_t b = 0; b < n; ++b)
    for (index_t j = 0; j < m; ++j) BT[j * n + b] = B[b * m + j];
  const T sc = static_cast<T>(scale);
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t a0, index_t a1) {
    simd::weight_rows<T>(K, P, BT.data(), n, m, sc, a0, a1, S, rowsum);
  });
  Status st;
  st.converged = true;
  st.iterations = 1;
  return st;
}

// Cauchy-Schwarz divergence term of DDC on the k x k matrix N = Q^T K Q (double), and its
// gradient with respect to N (G, k x k; skipped when G is null):
//   d_cs = 2/(k(k-1)) sum_{i<j} Nc_ij / sqrt(Dc_ij),  Nc = max(N, 1e-9), Dc_ij = max(N_ii N_jj, 1e-18),
// the clamps of the reference code (torch.where: no gradient through a clamped entry).
inline double ddc_cs_divergence(const double* N, index_t k, double* G) {
  if (k < 2) throw std::invalid_argument("ddc_cs_divergence: k must be >= 2");
  const double eps = 1e-9, eps2 = 1e-18;
  const double c = 2.0 / (static_cast<double>(k) * static_cast<double>(k - 1));
  double value = 0.0;
  if (G != nullptr)
    for (index_t t = 0; t < k * k; ++t) G[t] = 0.0;
  std::vector<double> dd(static_cast<size_t>(k), 0.0);  // gradient w.r.t. the diagonal via D
  for (index_t i = 0; i < k; ++i) {
    const double di = N[i * k + i];
    for (index_t j = i + 1; j < k; ++j) {
      const double dj = N[j * k + j];
      const double nij = N[i * k + j];
      const double D = di * dj;
      const bool okN = nij >= eps, okD = D >= eps2;
      const double Nc = okN ? nij : eps;
      const double Dc = okD ? D : eps2;
      const double rs = 1.0 / std::sqrt(Dc);
      value += Nc * rs;
      if (G != nullptr) {
        if (okN) G[i * k + j] += c * rs;
        if (okD) {
          const double gD = -0.5 * c * Nc * rs * rs * rs;
          dd[i] += gD * dj;
          dd[j] += gD * di;
        }
      }
    }
  }
  if (G != nullptr)
    for (index_t i = 0; i < k; ++i) G[i * k + i] += dd[i];
  return c * value;
}

// ---- the generic row kernels, compiled in the per-instruction-set units (simd/isa_*.cpp) -----
#ifdef DANNEAL_SIMD_UNIT_ISA
namespace simd {
namespace {

template <class T, Isa I>
void gauss_rows_generic(const T* gram, const T* g, index_t n, T inv, index_t a0, index_t a1, T* K) {
  using L = danneal::simd::Vec<T, I>;
  using V = typename L::V;
  constexpr int W = L::W;
  const V zero = V{};
  for (index_t a = a0; a < a1; ++a) {
    const T* gr = gram + a * n;
    T* kr = K + a * n;
    const V ga = V{} + g[a];
    index_t b = 0;
    for (; b + W <= n; b += W) {
      const V vg = L::load(g + b), vr = L::load(gr + b);
      V d = (ga + vg) - T(2) * vr;
      d = d > zero ? d : zero;
      L::store(kr + b, danneal::simd::exp<L>(d * inv));
    }
    if (b < n) {  // tail through the same vector code
      const V vg = L::load_partial(g + b, n - b, T(0)), vr = L::load_partial(gr + b, n - b, T(0));
      V d = (ga + vg) - T(2) * vr;
      d = d > zero ? d : zero;
      L::store_partial(kr + b, danneal::simd::exp<L>(d * inv), n - b);
    }
    kr[a] = T(1);
  }
}

template <class T, Isa I>
void weight_rows_generic(const T* K, const T* P, const T* BT, index_t n, index_t m, T scale, index_t a0, index_t a1,
                         T* S, double* rowsum) {
  using L = danneal::simd::Vec<T, I>;
  using V = typename L::V;
  constexpr int W = L::W;
  using VD = typename L::Wide;  // the W lanes widened to double
  for (index_t a = a0; a < a1; ++a) {
    const T* pr = P + a * m;
    const T* kr = K + a * n;
    T* sr = S + a * n;
    VD part = VD{};
    index_t b = 0;
    // four independent accumulators per step: the j-sum is a dependency chain per lane
    for (; b + 4 * W <= n; b += 4 * W) {
      V acc[4] = {V{}, V{}, V{}, V{}};
      for (index_t j = 0; j < m; ++j) {
        const T p = pr[j];
        const T* bt = BT + j * n + b;
        for (int u = 0; u < 4; ++u) {
          acc[u] += p * L::load(bt + u * W);
        }
      }
      for (int u = 0; u < 4; ++u) {
        const V s = scale * (L::load(kr + b + u * W) * acc[u]);
        L::store(sr + b + u * W, s);
        part += L::widen(s);
      }
    }
    for (; b + W <= n; b += W) {
      V acc = V{};
      for (index_t j = 0; j < m; ++j) acc += pr[j] * L::load(BT + j * n + b);
      const V s = scale * (L::load(kr + b) * acc);
      L::store(sr + b, s);
      part += L::widen(s);
    }
    double tail = 0.0;
    for (; b < n; ++b) {
      T acc = T(0);
      for (index_t j = 0; j < m; ++j) acc += pr[j] * BT[j * n + b];
      const T s = scale * (kr[b] * acc);
      sr[b] = s;
      tail += static_cast<double>(s);
    }
    double tot = 0.0;
    for (int l = 0; l < W; ++l) tot += part[l];
    rowsum[a] = tot + tail;
  }
}

}  // namespace

template <class T, Isa I>
void gauss_rows_isa(const T* gram, const T* g, index_t n, T inv, index_t a0, index_t a1, T* K) {
  gauss_rows_generic<T, I>(gram, g, n, inv, a0, a1, K);
}
template <class T, Isa I>
void weight_rows_isa(const T* K, const T* P, const T* BT, index_t n, index_t m, T scale, index_t a0, index_t a1, T* S,
                     double* rowsum) {
  weight_rows_generic<T, I>(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
}  // namespace simd
#endif  // DANNEAL_SIMD_UNIT_ISA

}  // namespace danneal::losses
