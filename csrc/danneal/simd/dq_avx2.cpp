// AVX2+FMA build of the DQ kernel; compiled with -mavx2 -mfma on x86-64 (see CMakeLists.txt)
// and only called when the CPU reports both features.
#define DANNEAL_DQ_IMPL
#include "danneal/dq.hpp"

namespace danneal::simd {
#if defined(__AVX2__) && defined(__FMA__)
bool have_avx2_build() { return true; }
void dq_rows_avx2(const double* D, index_t ld, index_t n, const double* Qt, index_t k, index_t i0, index_t i1,
                  double* out) {
  dq_rows_generic<double>(D, ld, n, Qt, k, i0, i1, out);
}
void dq_rows_avx2(const float* D, index_t ld, index_t n, const float* Qt, index_t k, index_t i0, index_t i1,
                  float* out) {
  dq_rows_generic<float>(D, ld, n, Qt, k, i0, i1, out);
}
#else
bool have_avx2_build() { return false; }
void dq_rows_avx2(const double* D, index_t ld, index_t n, const double* Qt, index_t k, index_t i0, index_t i1,
                  double* out) {
  dq_rows_baseline(D, ld, n, Qt, k, i0, i1, out);
}
void dq_rows_avx2(const float* D, index_t ld, index_t n, const float* Qt, index_t k, index_t i0, index_t i1,
                  float* out) {
  dq_rows_baseline(D, ld, n, Qt, k, i0, i1, out);
}
#endif
}  // namespace danneal::simd
