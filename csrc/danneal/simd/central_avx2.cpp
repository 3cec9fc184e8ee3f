// AVX2+FMA build of the central-clustering block kernel; compiled with -mavx2 -mfma on x86-64 (see
// CMakeLists.txt) and only called when the CPU reports both features (danneal::simd::cpu_has_avx2).
#define DANNEAL_CENTRAL_IMPL
#include "danneal/central.hpp"

namespace danneal::central::simd {
#if defined(__AVX2__) && defined(__FMA__)
void central_rows_avx2(const PassArgs<double>& a, index_t b, index_t e, double* scratch, const PassOut& o) {
  central_rows_generic<double>(a, b, e, scratch, o);
}
void central_rows_avx2(const PassArgs<float>& a, index_t b, index_t e, float* scratch, const PassOut& o) {
  central_rows_generic<float>(a, b, e, scratch, o);
}
#else
void central_rows_avx2(const PassArgs<double>& a, index_t b, index_t e, double* scratch, const PassOut& o) {
  central_rows_baseline(a, b, e, scratch, o);
}
void central_rows_avx2(const PassArgs<float>& a, index_t b, index_t e, float* scratch, const PassOut& o) {
  central_rows_baseline(a, b, e, scratch, o);
}
#endif
}  // namespace danneal::central::simd
