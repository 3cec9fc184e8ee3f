// AVX2 + FMA build of the ClAM row blocks (see csrc/danneal/clam.hpp).  The row-block templates
// are static (internal linkage), so this translation unit has its own copy of them.
#include "danneal/clam.hpp"

namespace danneal::clam {

double train_rows_avx2(const TrainCtx<float>& cx, index_t b0, index_t b1, float* V, float* P, float* PR, float* G,
                       float* W, float* E, float* Dk, float* dR, float* dE) {
  return train_rows(cx, b0, b1, V, P, PR, G, W, E, Dk, dR, dE);
}
double train_rows_avx2(const TrainCtx<double>& cx, index_t b0, index_t b1, double* V, double* P, double* PR,
                       double* G, double* W, double* E, double* Dk, double* dR, double* dE) {
  return train_rows(cx, b0, b1, V, P, PR, G, W, E, Dk, dR, dE);
}
void predict_rows_avx2(const float* X, index_t d, const float* R, const float* eta, index_t k, double c, double alpha,
                       index_t n_steps, bool spherical, index_t b0, index_t b1, std::int64_t* labels, float* dist,
                       float* Vout, float* buf, float* p, float* pr, float* Dk) {
  predict_rows(X, d, R, eta, k, c, alpha, n_steps, spherical, b0, b1, labels, dist, Vout, buf, p, pr, Dk);
}
void predict_rows_avx2(const double* X, index_t d, const double* R, const double* eta, index_t k, double c,
                       double alpha, index_t n_steps, bool spherical, index_t b0, index_t b1, std::int64_t* labels,
                       double* dist, double* Vout, double* buf, double* p, double* pr, double* Dk) {
  predict_rows(X, d, R, eta, k, c, alpha, n_steps, spherical, b0, b1, labels, dist, Vout, buf, p, pr, Dk);
}

}  // namespace danneal::clam
