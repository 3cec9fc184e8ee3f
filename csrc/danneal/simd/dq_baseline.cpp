// Baseline build of the DQ kernel (whatever the compiler targets by default).
#define DANNEAL_DQ_IMPL
#include "danneal/dq.hpp"

namespace danneal::simd {
void dq_rows_baseline(const double* D, index_t ld, index_t n, const double* Qt, index_t k, index_t i0, index_t i1,
                      double* out) {
  dq_rows_generic<double>(D, ld, n, Qt, k, i0, i1, out);
}
void dq_rows_baseline(const float* D, index_t ld, index_t n, const float* Qt, index_t k, index_t i0, index_t i1,
                      float* out) {
  dq_rows_generic<float>(D, ld, n, Qt, k, i0, i1, out);
}
}  // namespace danneal::simd
