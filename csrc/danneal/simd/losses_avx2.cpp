// AVX2+FMA build of the DDC row kernels; compiled with -mavx2 -mfma on x86-64 (see CMakeLists.txt)
// and only called when the CPU reports both features.
#define DANNEAL_LOSSES_IMPL
#include "danneal/losses.hpp"

namespace danneal::losses::simd {
#if defined(__AVX2__) && defined(__FMA__)
bool losses_avx2_build() { return true; }
void gauss_rows_avx2(const float* gram, const float* g, index_t n, float inv, index_t a0, index_t a1, float* K) {
  gauss_rows_generic<float>(gram, g, n, inv, a0, a1, K);
}
void gauss_rows_avx2(const double* gram, const double* g, index_t n, double inv, index_t a0, index_t a1, double* K) {
  gauss_rows_generic<double>(gram, g, n, inv, a0, a1, K);
}
void weight_rows_avx2(const float* K, const float* P, const float* BT, index_t n, index_t m, float scale, index_t a0,
                      index_t a1, float* S, double* rowsum) {
  weight_rows_generic<float>(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
void weight_rows_avx2(const double* K, const double* P, const double* BT, index_t n, index_t m, double scale,
                      index_t a0, index_t a1, double* S, double* rowsum) {
  weight_rows_generic<double>(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
#else
bool losses_avx2_build() { return false; }
void gauss_rows_avx2(const float* gram, const float* g, index_t n, float inv, index_t a0, index_t a1, float* K) {
  gauss_rows_baseline(gram, g, n, inv, a0, a1, K);
}
void gauss_rows_avx2(const double* gram, const double* g, index_t n, double inv, index_t a0, index_t a1, double* K) {
  gauss_rows_baseline(gram, g, n, inv, a0, a1, K);
}
void weight_rows_avx2(const float* K, const float* P, const float* BT, index_t n, index_t m, float scale, index_t a0,
                      index_t a1, float* S, double* rowsum) {
  weight_rows_baseline(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
void weight_rows_avx2(const double* K, const double* P, const double* BT, index_t n, index_t m, double scale,
                      index_t a0, index_t a1, double* S, double* rowsum) {
  weight_rows_baseline(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
#endif
}  // namespace danneal::losses::simd
