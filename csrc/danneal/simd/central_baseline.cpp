// Baseline build of the central-clustering block kernel (whatever the compiler targets by default).
#define DANNEAL_CENTRAL_IMPL
#include "danneal/central.hpp"

namespace danneal::central::simd {
void central_rows_baseline(const PassArgs<double>& a, index_t b, index_t e, double* scratch, const PassOut& o) {
  central_rows_generic<double>(a, b, e, scratch, o);
}
void central_rows_baseline(const PassArgs<float>& a, index_t b, index_t e, float* scratch, const PassOut& o) {
  central_rows_generic<float>(a, b, e, scratch, o);
}
}  // namespace danneal::central::simd
