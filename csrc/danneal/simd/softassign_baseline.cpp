// Baseline build of the fused-Sinkhorn row primitives (see softassign_impl.inc).
#include "danneal/softassign.hpp"
#include "softassign_impl.inc"

namespace danneal::simd {
double sa_dot_baseline(const double* K, const double* v, index_t m) { return dot_impl(K, v, m); }
double sa_dot_baseline(const float* K, const double* v, index_t m) { return dot_impl(K, v, m); }
void sa_axpy_baseline(double u, const double* K, double* w, index_t m) { axpy_impl(u, K, w, m); }
void sa_axpy_baseline(double u, const float* K, double* w, index_t m) { axpy_impl(u, K, w, m); }
void sa_exp_baseline(double* x, index_t m) { exp_impl(x, m); }
void sa_expf_baseline(float* x, index_t m) { expf_impl(x, m); }
double sa_dotf_baseline(const float* K, const float* v, index_t m) { return dotf_impl(K, v, m); }
void sa_axpyf_baseline(float u, const float* K, float* w, index_t m) { axpyf_impl(u, K, w, m); }
void sa_gemm_baseline(const double* X, const double* Y, double* out, index_t n) { gemm_impl(X, Y, out, n); }
}  // namespace danneal::simd
