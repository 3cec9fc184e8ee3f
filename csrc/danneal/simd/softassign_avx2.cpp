// AVX2 build of the fused-Sinkhorn row primitives (see softassign_impl.inc); compiled with
// -mavx2 -mfma and only called when the CPU reports both features.
#include "danneal/softassign.hpp"
#include "softassign_impl.inc"

namespace danneal::simd {
#if defined(__AVX2__) && defined(__FMA__)
bool sa_have_avx2_build() { return true; }
double sa_dot_avx2(const double* K, const double* v, index_t m) { return dot_impl(K, v, m); }
double sa_dot_avx2(const float* K, const double* v, index_t m) { return dot_impl(K, v, m); }
void sa_axpy_avx2(double u, const double* K, double* w, index_t m) { axpy_impl(u, K, w, m); }
void sa_axpy_avx2(double u, const float* K, double* w, index_t m) { axpy_impl(u, K, w, m); }
void sa_exp_avx2(double* x, index_t m) { exp_impl(x, m); }
void sa_expf_avx2(float* x, index_t m) { expf_impl(x, m); }
double sa_dotf_avx2(const float* K, const float* v, index_t m) { return dotf_impl(K, v, m); }
void sa_axpyf_avx2(float u, const float* K, float* w, index_t m) { axpyf_impl(u, K, w, m); }
void sa_gemm_avx2(const double* X, const double* Y, double* out, index_t n) { gemm_impl(X, Y, out, n); }
#else
bool sa_have_avx2_build() { return false; }
double sa_dot_avx2(const double* K, const double* v, index_t m) { return sa_dot_baseline(K, v, m); }
double sa_dot_avx2(const float* K, const double* v, index_t m) { return sa_dot_baseline(K, v, m); }
void sa_axpy_avx2(double u, const double* K, double* w, index_t m) { sa_axpy_baseline(u, K, w, m); }
void sa_axpy_avx2(double u, const float* K, double* w, index_t m) { sa_axpy_baseline(u, K, w, m); }
void sa_exp_avx2(double* x, index_t m) { sa_exp_baseline(x, m); }
void sa_expf_avx2(float* x, index_t m) { sa_expf_baseline(x, m); }
double sa_dotf_avx2(const float* K, const float* v, index_t m) { return sa_dotf_baseline(K, v, m); }
void sa_axpyf_avx2(float u, const float* K, float* w, index_t m) { sa_axpyf_baseline(u, K, w, m); }
void sa_gemm_avx2(const double* X, const double* Y, double* out, index_t n) { sa_gemm_baseline(X, Y, out, n); }
#endif
}  // namespace danneal::simd
