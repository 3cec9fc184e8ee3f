// Deep clustering losses (GUIDE §2.5): the n x n passes of the DDC loss (Kampffmeyer et al.,
// "Deep divergence-based approach to clustering", Neural Networks 2019).
//
// The dense products with the hidden layer (H H^T, K [A|M], (B G) B^T, S H) are BLAS GEMMs done by
// the caller (numpy); these kernels are the element-wise n x n passes around them, fused so that
// each n x n matrix is streamed once:
//   ddc_gaussian_kernel: squared distances from the Gram matrix, the median bandwidth rule and
//                        K = exp(-dist / (2 sigma^2)) in one pass (plus one selection pass);
//   ddc_hidden_weights:  S = scale * K .* X and the row sums of S (the weights of the gradient
//                        with respect to the hidden layer).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "danneal/common.hpp"

namespace danneal::losses {

// Lower bound on the bandwidth sigma^2 (as in the reference code, DanielTrosten/mvc).
constexpr double kMinSigma2 = 1e-9;

// Offset of row a's strictly-upper-triangular part (b = a+1..n-1) in a packed array.
inline index_t triu_offset(index_t a, index_t n) { return a * n - a * (a + 1) / 2; }

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

// Gaussian kernel matrix of the rows of H, given the Gram matrix gram = H H^T (n x n, symmetric).
//   dist_ab = max(g_aa + g_bb - 2 g_ab, 0) for a != b, dist_aa = 0;
//   sigma2 > 0: used as given; sigma2 <= 0: sigma2 = max(rel_sigma * lower median of all n^2
//   entries of dist, 1e-9) (the 0.15-median rule of DDC, rel_sigma = 0.15);
//   K_ab = exp(-dist_ab / (2 sigma2)).
// Writes K (n x n) and sigma2_out[0].  Exact selection (nth_element) on the n(n-1)/2 distances.
template <class T>
Status ddc_gaussian_kernel(const T* gram, index_t n, double rel_sigma, double sigma2, int n_threads, T* K,
                           double* sigma2_out) {
  if (n < 1) throw std::invalid_argument("ddc_gaussian_kernel: n must be >= 1");
  if (!(sigma2 > 0) && !(rel_sigma > 0)) throw std::invalid_argument("ddc_gaussian_kernel: rel_sigma must be > 0");
  std::vector<T> g(static_cast<size_t>(n));
  for (index_t a = 0; a < n; ++a) g[a] = gram[a * n + a];
  if (!(sigma2 > 0)) {
    const index_t r = median_rank(n);
    double med = 0.0;
    if (r >= 0) {
      std::vector<T> u(static_cast<size_t>(n * (n - 1) / 2));
      parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b0, index_t e0) {
        for (index_t a = b0; a < e0; ++a) {
          T* out = u.data() + triu_offset(a, n) - (a + 1);
          for (index_t b = a + 1; b < n; ++b) out[b] = sqdist(gram, g.data(), n, a, b);
        }
      });
      std::nth_element(u.begin(), u.begin() + r, u.end());
      med = static_cast<double>(u[static_cast<size_t>(r)]);
    }
    sigma2 = std::max(rel_sigma * med, kMinSigma2);
  }
  sigma2_out[0] = sigma2;
  const T inv = static_cast<T>(-1.0 / (2.0 * sigma2));
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b0, index_t e0) {
    for (index_t a = b0; a < e0; ++a) {
      const T* gr = gram + a * n;
      T* kr = K + a * n;
      const T ga = g[a];
      for (index_t b = 0; b < n; ++b) {
        T d = (ga + g[b]) - T(2) * gr[b];
        d = d > T(0) ? d : T(0);
        kr[b] = std::exp(d * inv);
      }
      kr[a] = T(1);
    }
  });
  Status st;
  st.converged = true;
  st.iterations = 1;
  return st;
}

// S = scale * K .* X (n x n) and rowsum_a = sum_b S_ab (accumulated in double, b in order).
template <class T>
Status ddc_hidden_weights(const T* K, const T* X, index_t n, double scale, int n_threads, T* S, double* rowsum) {
  if (n < 1) throw std::invalid_argument("ddc_hidden_weights: n must be >= 1");
  const T sc = static_cast<T>(scale);
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b0, index_t e0) {
    for (index_t a = b0; a < e0; ++a) {
      const T* kr = K + a * n;
      const T* xr = X + a * n;
      T* sr = S + a * n;
      for (index_t b = 0; b < n; ++b) sr[b] = sc * (kr[b] * xr[b]);
      double s = 0.0;
      for (index_t b = 0; b < n; ++b) s += static_cast<double>(sr[b]);
      rowsum[a] = s;
    }
  });
  Status st;
  st.converged = true;
  st.iterations = 1;
  return st;
}

}  // namespace danneal::losses
