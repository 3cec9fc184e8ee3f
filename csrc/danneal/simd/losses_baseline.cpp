// Baseline build of the DDC row kernels (whatever the compiler targets by default).
#define DANNEAL_LOSSES_IMPL
#include "danneal/losses.hpp"

namespace danneal::losses::simd {
void gauss_rows_baseline(const float* gram, const float* g, index_t n, float inv, index_t a0, index_t a1, float* K) {
  gauss_rows_generic<float>(gram, g, n, inv, a0, a1, K);
}
void gauss_rows_baseline(const double* gram, const double* g, index_t n, double inv, index_t a0, index_t a1,
                         double* K) {
  gauss_rows_generic<double>(gram, g, n, inv, a0, a1, K);
}
void weight_rows_baseline(const float* K, const float* P, const float* BT, index_t n, index_t m, float scale,
                          index_t a0, index_t a1, float* S, double* rowsum) {
  weight_rows_generic<float>(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
void weight_rows_baseline(const double* K, const double* P, const double* BT, index_t n, index_t m, double scale,
                          index_t a0, index_t a1, double* S, double* rowsum) {
  weight_rows_generic<double>(K, P, BT, n, m, scale, a0, a1, S, rowsum);
}
}  // namespace danneal::losses::simd
