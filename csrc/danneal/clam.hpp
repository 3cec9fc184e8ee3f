// ClAM: clustering with associative memories (Saha, Krotov, Zaki, Ram, ICML 2023), docs/guide/clam.md.
//
// One step of the associative-memory recursion for a state v (d) and prototypes R (k x d):
//
//   s_mu = -c ||rho_mu - v||^2 + eta_mu,   P = softmax_mu(s)   (log domain, max subtracted)
//   u    = v + alpha * m (.) (P R - v),    v' = u              (v' = u / ||u|| if spherical)
//
// m is the mask of coordinates that evolve (all ones at inference), eta optional log-weights.
// The training loss of a batch (reference code) is L = sum_{b,j} m_bj (x_bj - v^T_bj)^2 / (B d).
//
// Backward through one step, given G = dL/dv' (docs/guide/clam.md):
//   (spherical: G <- (G - (G.v') v') / ||u||)
//   W = alpha m (.) G,  E_mu = P_mu (W.rho_mu - W.(P R)),
//   dL/dv = G - W + 2c sum_mu E_mu rho_mu     (the -2c (sum_mu E_mu) v term is zero),
//   dL/drho_mu += P_mu W - 2c E_mu (rho_mu - v),   dL/deta_mu += E_mu.
//
// Every kernel works row by row: rows of a batch are independent given the prototypes, so a
// chunk of rows runs its whole forward and backward recursion without synchronisation and
// leaves per-chunk partial gradients, summed afterwards in chunk order (results do not depend
// on the thread count).  Chunks are kClamChunk rows, independent of n_threads.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"

namespace danneal::clam {

constexpr index_t kClamChunk = 16;

// ---- small helpers --------------------------------------------------------------------------

template <class T>
static inline T dot(const T* a, const T* b, index_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (index_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

template <class T>
static inline T sqdist(const T* a, const T* b, index_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (index_t j = 0; j < n; ++j) {
    const T t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

// out[mu] = ||R_mu - v||^2 (sq = true) or R_mu . v (sq = false) for mu < k, four prototypes per
// pass so that the four horizontal reductions are independent (they dominate at small d).
template <class T, bool SQ>
static inline void multi_dot(const T* R, const T* v, index_t k, index_t d, T* out) {
  index_t mu = 0;
  for (; mu + 4 <= k; mu += 4) {
    const T* r0 = R + mu * d;
    const T* r1 = r0 + d;
    const T* r2 = r1 + d;
    const T* r3 = r2 + d;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (index_t j = 0; j < d; ++j) {
      const T x = v[j];
      if (SQ) {
        const T t0 = r0[j] - x, t1 = r1[j] - x, t2 = r2[j] - x, t3 = r3[j] - x;
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
      } else {
        s0 += r0[j] * x;
        s1 += r1[j] * x;
        s2 += r2[j] * x;
        s3 += r3[j] * x;
      }
    }
    out[mu] = s0;
    out[mu + 1] = s1;
    out[mu + 2] = s2;
    out[mu + 3] = s3;
  }
  for (; mu < k; ++mu) out[mu] = SQ ? sqdist(R + mu * d, v, d) : dot(R + mu * d, v, d);
}

// out (d) = sum_mu a_mu R_mu (accumulate = false) or out += sum_mu a_mu R_mu, four rows per pass.
template <class T>
static inline void combine(const T* a, const T* R, index_t k, index_t d, T* out, bool accumulate) {
  index_t mu = 0;
  if (!accumulate) {
    for (index_t j = 0; j < d; ++j) out[j] = 0;
  }
  for (; mu + 4 <= k; mu += 4) {
    const T* r0 = R + mu * d;
    const T* r1 = r0 + d;
    const T* r2 = r1 + d;
    const T* r3 = r2 + d;
    const T a0 = a[mu], a1 = a[mu + 1], a2 = a[mu + 2], a3 = a[mu + 3];
#pragma omp simd
    for (index_t j = 0; j < d; ++j) out[j] += ((a0 * r0[j] + a1 * r1[j]) + (a2 * r2[j] + a3 * r3[j]));
  }
  for (; mu < k; ++mu) {
    const T am = a[mu];
    const T* r = R + mu * d;
#pragma omp simd
    for (index_t j = 0; j < d; ++j) out[j] += am * r[j];
  }
}

// Exponentials of n values (x <= 0 here): std::exp in the generic kernels; the row blocks of
// each instruction set pass the vector exp of simd/math.hpp (<= 1.05 ulp, docs/design.md §7).
struct ScalarExp {
  template <class T>
  void operator()(const T* x, T* y, index_t n) const {
    for (index_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
  }
};

// P = softmax(-c * D + eta) for one row, max-subtracted; D holds the k squared distances (and
// the shifted scores on return).  Exponentials in the working precision T (arguments <= 0).
template <class T, class Exp = ScalarExp>
static inline void softmax_row(T* D, const T* eta, index_t k, double c, T* P, const Exp& ex = Exp()) {
  const T cc = static_cast<T>(c);
  T m = -std::numeric_limits<T>::infinity();
  for (index_t mu = 0; mu < k; ++mu) {
    const T s = -cc * D[mu] + (eta ? eta[mu] : T(0));
    D[mu] = s;
    m = s > m ? s : m;
  }
  if (!(m > -std::numeric_limits<T>::infinity()) || !(m < std::numeric_limits<T>::infinity())) {
    // every distance overflowed (or eta is extreme): no information, uniform weights
    for (index_t mu = 0; mu < k; ++mu) P[mu] = T(1) / static_cast<T>(k);
    return;
  }
  for (index_t mu = 0; mu < k; ++mu) D[mu] -= m;
  ex(D, P, k);
  T z = 0;
  for (index_t mu = 0; mu < k; ++mu) z += P[mu];
  const T inv = T(1) / z;
  for (index_t mu = 0; mu < k; ++mu) P[mu] *= inv;
}

// One step from v (d) to vn (d); p (k) receives P, pr (d) receives P R.  mask may be null.
template <class T, class Exp = ScalarExp>
static inline void one_step(const T* v, const T* mask, const T* R, const T* eta, index_t k, index_t d, double c,
                            double alpha, bool spherical, T* vn, T* p, T* pr, T* Dk, const Exp& ex = Exp()) {
  const T a = static_cast<T>(alpha);
  multi_dot<T, true>(R, v, k, d, Dk);
  softmax_row(Dk, eta, k, c, p, ex);
  combine(p, R, k, d, pr, false);
  if (mask) {
#pragma omp simd
    for (index_t j = 0; j < d; ++j) vn[j] = v[j] + a * mask[j] * (pr[j] - v[j]);
  } else {
#pragma omp simd
    for (index_t j = 0; j < d; ++j) vn[j] = v[j] + a * (pr[j] - v[j]);
  }
  if (spherical) {
    const T nrm = std::sqrt(dot(vn, vn, d));
    if (nrm > 0) {
      const T inv = T(1) / nrm;
      for (index_t j = 0; j < d; ++j) vn[j] *= inv;
    }
  }
}

// Forward recursion of one row.  V: (n_steps + 1) x d (V[0] = x0), P: n_steps x k,
// PR: n_steps x d (P R of each step, kept for the backward pass).  mask may be null (all ones).
template <class T, class Exp = ScalarExp>
static inline void row_forward(const T* x0, const T* mask, const T* R, const T* eta, index_t k, index_t d, double c,
                               double alpha, index_t n_steps, bool spherical, T* V, T* P, T* PR, T* Dk,
                               const Exp& ex = Exp()) {
  for (index_t j = 0; j < d; ++j) V[j] = x0[j];
  for (index_t t = 0; t < n_steps; ++t)
    one_step(V + t * d, mask, R, eta, k, d, c, alpha, spherical, V + (t + 1) * d, P + t * k, PR + t * d, Dk, ex);
}

// Backward recursion of one row.  G (d) holds dL/dV[n_steps] on entry and dL/dV[0] on exit.
// Accumulates into dR (k x d) the terms P_mu W + 2c E_mu v, into e2sum (k) the sums of 2c E_mu
// (the caller finishes dR_mu -= e2sum_mu rho_mu once per block), and into deta (k, may be null).
// W, E: scratch of d and k.
template <class T>
static inline void row_backward(const T* V, const T* P, const T* PR, const T* mask, const T* R, index_t k, index_t d,
                                double c, double alpha, index_t n_steps, bool spherical, T* G, T* dR, T* e2sum, T* deta,
                                T* W, T* E) {
  const T a = static_cast<T>(alpha);
  const T c2 = static_cast<T>(2.0 * c);
  for (index_t t = n_steps - 1; t >= 0; --t) {
    const T* v = V + t * d;
    const T* p = P + t * k;
    const T* pr = PR + t * d;
    if (spherical) {
      // u = v + alpha m (P R - v); v' = u / ||u||.  dL/du = (G - (G.v') v') / ||u||.
      const T* vn = V + (t + 1) * d;
      T nrm2 = 0;
      for (index_t j = 0; j < d; ++j) {
        const T u = v[j] + a * (mask ? mask[j] : T(1)) * (pr[j] - v[j]);
        nrm2 += u * u;
      }
      const T nrm = std::sqrt(nrm2);
      if (nrm > 0) {
        const T gv = dot(G, vn, d);
        const T inv = T(1) / nrm;
        for (index_t j = 0; j < d; ++j) G[j] = (G[j] - gv * vn[j]) * inv;
      }
    }
    if (mask) {
#pragma omp simd
      for (index_t j = 0; j < d; ++j) W[j] = a * mask[j] * G[j];
    } else {
#pragma omp simd
      for (index_t j = 0; j < d; ++j) W[j] = a * G[j];
    }
    const T wpr = dot(W, pr, d);
    multi_dot<T, false>(R, W, k, d, E);
    for (index_t mu = 0; mu < k; ++mu) E[mu] = p[mu] * (E[mu] - wpr);
    // dL/dv = G - W + 2c sum_mu E_mu rho_mu
#pragma omp simd
    for (index_t j = 0; j < d; ++j) G[j] -= W[j];
    for (index_t mu = 0; mu < k; ++mu) {
      const T e2 = c2 * E[mu];
      const T pm = p[mu];
      T* g = dR + mu * d;
#pragma omp simd
      for (index_t j = 0; j < d; ++j) g[j] += pm * W[j] + e2 * v[j];
      e2sum[mu] += e2;
      if (deta) deta[mu] += E[mu];
      E[mu] = e2;
    }
    combine(E, R, k, d, G, true);
  }
}

// ---- row blocks: the hot loops, compiled once per instruction set ----------------------------
// Everything above and these two functions have internal linkage (static), so the copy compiled
// in the AVX2 unit (csrc/danneal/simd/isa_avx2.cpp) never replaces the baseline one; no standard
// library templates are used in them.

template <class T>
struct TrainCtx {
  const T* X;           // n x d data (targets)
  const T* x0;          // batch x d masked inputs
  const T* mask;        // batch x d
  const index_t* rows;  // batch row indices into X
  const T* R;           // k x d prototypes as used by the recursion
  const T* eta;         // k or null
  index_t k, d, n_steps;
  double c, alpha;
  bool spherical, weighted;
  T gscale;               // -2 / (B d)
  const T* sw = nullptr;  // n sample weights (mean 1) or null
};

// Forward, loss and backward of batch rows [b0, b1).  Work buffers: V ((T+1) d), P (T k),
// PR (T d), G, W (d), E (k), Dk (2 k).  Overwrites dR (k x d), dE (k) with this block's gradient sums
// and returns the block's sum of m (x - v^T)^2.
template <class T, class Exp = ScalarExp>
static double train_rows(const TrainCtx<T>& cx, index_t b0, index_t b1, T* V, T* P, T* PR, T* G, T* W, T* E, T* Dk,
                         T* dR, T* dE, const Exp& ex = Exp()) {
  const index_t d = cx.d, k = cx.k, T_ = cx.n_steps;
  for (index_t i = 0; i < k * d; ++i) dR[i] = T(0);
  for (index_t mu = 0; mu < k; ++mu) {
    dE[mu] = T(0);
    Dk[mu] = T(0);  // reused below as the sums of 2c E_mu once the forward passes are done
  }
  T* e2sum = Dk + k;
  double loss = 0.0;
  for (index_t b = b0; b < b1; ++b) {
    const T* xb = cx.x0 + b * d;
    const T* mb = cx.mask + b * d;
    const T* x = cx.X + cx.rows[b] * d;
    row_forward(xb, mb, cx.R, cx.eta, k, d, cx.c, cx.alpha, T_, cx.spherical, V, P, PR, Dk, ex);
    const T* vT = V + T_ * d;
    const T wb = cx.sw ? cx.sw[cx.rows[b]] : T(1);
    const T gs = cx.gscale * wb;
    T rl = 0;
    for (index_t j = 0; j < d; ++j) {
      const T r = mb[j] * (x[j] - vT[j]);
      rl += r * (x[j] - vT[j]);
      G[j] = gs * r;
    }
    loss += static_cast<double>(wb) * static_cast<double>(rl);
    if (b == b0)
      for (index_t mu = 0; mu < k; ++mu) e2sum[mu] = T(0);
    row_backward(V, P, PR, mb, cx.R, k, d, cx.c, cx.alpha, T_, cx.spherical, G, dR, e2sum,
                 cx.weighted ? dE : static_cast<T*>(nullptr), W, E);
  }
  for (index_t mu = 0; mu < k; ++mu) {
    const T e = e2sum[mu];
    const T* r = cx.R + mu * d;
    T* g = dR + mu * d;
    for (index_t j = 0; j < d; ++j) g[j] -= e * r[j];
  }
  return loss;
}

// Inference for rows [b0, b1) of X: n_steps unmasked steps, squared distances, nearest prototype.
// Work buffers: buf (2 d), p (k), pr (d), Dk (k).
template <class T, class Exp = ScalarExp>
static void predict_rows(const T* X, index_t d, const T* R, const T* eta, index_t k, double c, double alpha,
                         index_t n_steps, bool spherical, index_t b0, index_t b1, std::int64_t* labels, T* dist,
                         T* Vout, T* buf, T* p, T* pr, T* Dk, const Exp& ex = Exp()) {
  for (index_t b = b0; b < b1; ++b) {
    T* cur = buf;
    T* nxt = buf + d;
    for (index_t j = 0; j < d; ++j) cur[j] = X[b * d + j];
    for (index_t t = 0; t < n_steps; ++t) {
      one_step(cur, static_cast<const T*>(nullptr), R, eta, k, d, c, alpha, spherical, nxt, p, pr, Dk, ex);
      T* tmp = cur;
      cur = nxt;
      nxt = tmp;
    }
    std::int64_t best = 0;
    T bd = std::numeric_limits<T>::infinity();
    for (index_t mu = 0; mu < k; ++mu) {
      const T dd = sqdist(R + mu * d, cur, d);
      dist[b * k + mu] = dd;
      if (dd < bd) {
        bd = dd;
        best = mu;
      }
    }
    labels[b] = best;
    for (index_t j = 0; j < d; ++j) Vout[b * d + j] = cur[j];
  }
}

// The row blocks of one instruction set (instantiated in csrc/danneal/simd/isa_*.cpp).
template <class T, simd::Isa I>
double train_rows_isa(const TrainCtx<T>& cx, index_t b0, index_t b1, T* V, T* P, T* PR, T* G, T* W, T* E, T* Dk, T* dR,
                      T* dE);
template <class T, simd::Isa I>
void predict_rows_isa(const T* X, index_t d, const T* R, const T* eta, index_t k, double c, double alpha,
                      index_t n_steps, bool spherical, index_t b0, index_t b1, std::int64_t* labels, T* dist, T* Vout,
                      T* buf, T* p, T* pr, T* Dk);
#define DANNEAL_CLAM_KERNELS(P, I)                                                                                    \
  P double train_rows_isa<float, I>(const TrainCtx<float>&, index_t, index_t, float*, float*, float*, float*, float*, \
                                    float*, float*, float*, float*);                                                  \
  P double train_rows_isa<double, I>(const TrainCtx<double>&, index_t, index_t, double*, double*, double*, double*,   \
                                     double*, double*, double*, double*, double*);                                    \
  P void predict_rows_isa<float, I>(const float*, index_t, const float*, const float*, index_t, double, double,       \
                                    index_t, bool, index_t, index_t, std::int64_t*, float*, float*, float*, float*,   \
                                    float*, float*);                                                                  \
  P void predict_rows_isa<double, I>(const double*, index_t, const double*, const double*, index_t, double, double,   \
                                     index_t, bool, index_t, index_t, std::int64_t*, double*, double*, double*,       \
                                     double*, double*, double*);
#define DANNEAL_CLAM_EXTERN(I) DANNEAL_CLAM_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_CLAM_EXTERN)
#ifdef DANNEAL_SIMD_UNIT_ISA
template <simd::Isa I>
struct VecExp {
  template <class T>
  void operator()(const T* x, T* y, index_t n) const {
    simd::exp_array<T, I>(x, y, n);
  }
};
template <class T, simd::Isa I>
double train_rows_isa(const TrainCtx<T>& cx, index_t b0, index_t b1, T* V, T* P, T* PR, T* G, T* W, T* E, T* Dk, T* dR,
                      T* dE) {
  return train_rows(cx, b0, b1, V, P, PR, G, W, E, Dk, dR, dE, VecExp<I>());
}
template <class T, simd::Isa I>
void predict_rows_isa(const T* X, index_t d, const T* R, const T* eta, index_t k, double c, double alpha,
                      index_t n_steps, bool spherical, index_t b0, index_t b1, std::int64_t* labels, T* dist, T* Vout,
                      T* buf, T* p, T* pr, T* Dk) {
  predict_rows(X, d, R, eta, k, c, alpha, n_steps, spherical, b0, b1, labels, dist, Vout, buf, p, pr, Dk, VecExp<I>());
}
#endif

inline void check_sizes(index_t B, index_t d, index_t k, index_t n_steps) {
  if (B < 0 || d < 1 || k < 1) throw std::invalid_argument("clam: empty problem (need d >= 1, k >= 1)");
  if (n_steps < 0) throw std::invalid_argument("n_steps must be >= 0");
  check_alloc((static_cast<double>(n_steps) + 1) * (2.0 * static_cast<double>(d) + static_cast<double>(k)), 8.0,
              "ClAM recursion buffers for n_steps=" + std::to_string(n_steps));
}

// ---- kernel: batch forward --------------------------------------------------------------------
// X0 (B x d) starting states, mask (B x d, or null for all ones), R (k x d), eta (k or null).
// Outputs V ((n_steps + 1) x B x d) and P (n_steps x B x k), step-major.
template <class T>
Status clam_forward(const T* X0, const T* mask, index_t B, index_t d, const T* R, const T* eta, index_t k, double c,
                    double alpha, index_t n_steps, bool spherical, int n_threads, T* V, T* P) {
  check_sizes(B, d, k, n_steps);
  parallel_chunks(B, kClamChunk, n_threads, [&](index_t, index_t b0, index_t b1) {
    std::vector<T> Vr(static_cast<size_t>((n_steps + 1) * d)), Pr(static_cast<size_t>(n_steps * k)),
        PRr(static_cast<size_t>(n_steps * d)), Dk(static_cast<size_t>(k));
    for (index_t b = b0; b < b1; ++b) {
      row_forward(X0 + b * d, mask ? mask + b * d : nullptr, R, eta, k, d, c, alpha, n_steps, spherical, Vr.data(),
                  Pr.data(), PRr.data(), Dk.data());
      for (index_t t = 0; t <= n_steps; ++t)
        for (index_t j = 0; j < d; ++j) V[(t * B + b) * d + j] = Vr[t * d + j];
      for (index_t t = 0; t < n_steps; ++t)
        for (index_t mu = 0; mu < k; ++mu) P[(t * B + b) * k + mu] = Pr[t * k + mu];
    }
  });
  Status st;
  st.converged = true;
  st.iterations = n_steps;
  return st;
}

// ---- kernel: batch backward (BPTT) ------------------------------------------------------------
// V, P from clam_forward; G (B x d) = dL/dV[n_steps].  Outputs dR (k x d), deta (k), dX0 (B x d).
template <class T>
Status clam_backward(const T* V, const T* P, const T* mask, index_t B, index_t d, const T* R, index_t k, const T* G,
                     double c, double alpha, index_t n_steps, bool spherical, int n_threads, T* dR, T* deta, T* dX0) {
  check_sizes(B, d, k, n_steps);
  const index_t nc = n_chunks(B, kClamChunk);
  std::vector<double> part(static_cast<size_t>(std::max<index_t>(nc, 1) * (k * d + k)), 0.0);
  parallel_chunks(B, kClamChunk, n_threads, [&](index_t ci, index_t b0, index_t b1) {
    std::vector<T> Vr(static_cast<size_t>((n_steps + 1) * d)), Pr(static_cast<size_t>(n_steps * k)),
        PRr(static_cast<size_t>(n_steps * d)), dRc(static_cast<size_t>(k * d), T(0)), dEc(static_cast<size_t>(k), T(0)),
        W(static_cast<size_t>(d)), E(static_cast<size_t>(k)), e2c(static_cast<size_t>(k), T(0));
    for (index_t b = b0; b < b1; ++b) {
      for (index_t t = 0; t <= n_steps; ++t)
        for (index_t j = 0; j < d; ++j) Vr[t * d + j] = V[(t * B + b) * d + j];
      for (index_t t = 0; t < n_steps; ++t) {
        for (index_t mu = 0; mu < k; ++mu) Pr[t * k + mu] = P[(t * B + b) * k + mu];
        T* pr = PRr.data() + t * d;
        for (index_t j = 0; j < d; ++j) pr[j] = 0;
        for (index_t mu = 0; mu < k; ++mu) {
          const T pm = Pr[t * k + mu];
          for (index_t j = 0; j < d; ++j) pr[j] += pm * R[mu * d + j];
        }
      }
      T* g = dX0 + b * d;
      for (index_t j = 0; j < d; ++j) g[j] = G[b * d + j];
      row_backward(Vr.data(), Pr.data(), PRr.data(), mask ? mask + b * d : nullptr, R, k, d, c, alpha, n_steps,
                   spherical, g, dRc.data(), e2c.data(), dEc.data(), W.data(), E.data());
    }
    for (index_t mu = 0; mu < k; ++mu)
      for (index_t j = 0; j < d; ++j) dRc[mu * d + j] -= e2c[mu] * R[mu * d + j];
    double* out = part.data() + ci * (k * d + k);
    for (index_t i = 0; i < k * d; ++i) out[i] = dRc[i];
    for (index_t mu = 0; mu < k; ++mu) out[k * d + mu] = dEc[mu];
  });
  std::vector<double> tot(static_cast<size_t>(k * d + k));
  reduce_chunks(part, nc, k * d + k, tot.data());
  for (index_t i = 0; i < k * d; ++i) dR[i] = static_cast<T>(tot[i]);
  for (index_t mu = 0; mu < k; ++mu) deta[mu] = static_cast<T>(tot[k * d + mu]);
  Status st;
  st.converged = true;
  st.iterations = n_steps;
  return st;
}

// ---- kernel: inference ------------------------------------------------------------------------
// n_steps unmasked steps from X (n x d), then squared distances of the final state to every
// prototype (dist, n x k), the nearest prototype (labels, n; first on ties) and the final states
// (Vout, n x d).
template <class T>
Status clam_predict(const T* X, index_t n, index_t d, const T* R, const T* eta, index_t k, double c, double alpha,
                    index_t n_steps, bool spherical, int n_threads, std::int64_t* labels, T* dist, T* Vout) {
  check_sizes(n, d, k, n_steps);
  const simd::Isa isa = simd::active_isa();
  parallel_chunks(n, kClamChunk, n_threads, [&](index_t, index_t b0, index_t b1) {
    std::vector<T> buf(static_cast<size_t>(3 * d + 2 * k));
    T* w = buf.data();
    simd::with_isa(isa, [&](auto tag) {
      predict_rows_isa<T, decltype(tag)::value>(X, d, R, eta, k, c, alpha, n_steps, spherical, b0, b1, labels, dist,
                                                Vout, w, w + 2 * d, w + 2 * d + k, w + 3 * d + k);
    });
  });
  Status st;
  st.converged = true;
  st.iterations = n_steps;
  return st;
}

// ---- random numbers (xoshiro256**, seeded by splitmix64; mirrored by the numpy twin) ----------
struct Rng {
  std::uint64_t s[4];
  static std::uint64_t splitmix(std::uint64_t& x) {
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  explicit Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& w : s) w = splitmix(x);
  }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  // Uniform integer in [0, n) (multiply-high; bias below 2^-40 for the sizes used here).
  index_t below(index_t n) {
    return static_cast<index_t>((static_cast<unsigned __int128>(next()) * static_cast<std::uint64_t>(n)) >> 64);
  }
};

// Threads for one training batch: at most one per kMinThreadWork units of work (rows x steps x
// prototypes x features, about 1-2 ms of forward and backward recursion on one core).  A batch is one
// parallel region ending in a barrier; on a shared machine a barrier waits for a descheduled
// thread for a whole time slice, far longer than a small batch's work (Zoo at batch 256: 101
// rows, 28 ms per epoch with 2 threads under load against 0.23 ms with one).  The results do not
// depend on it (per-chunk partials summed in chunk order).
constexpr double kMinThreadWork = 1048576.0;
inline int batch_threads(int n_threads, index_t rows, index_t k, index_t d, index_t n_steps) {
  const double work = static_cast<double>(rows) * static_cast<double>(std::max<index_t>(n_steps, 1)) *
                      static_cast<double>(k) * static_cast<double>(d);
  const double cap = std::max(1.0, std::floor(work / kMinThreadWork));
  return cap < static_cast<double>(n_threads) ? static_cast<int>(cap) : n_threads;
}

// ---- kernel: the whole training loop ----------------------------------------------------------
struct TrainParams {
  double c = 0.5;          // exponent factor (beta or beta/2)
  double alpha = 0.1;      // step size
  index_t n_steps = 10;    // recursion length T
  bool spherical = false;  // normalise states and prototypes
  bool weighted = false;   // learn eta (log-weights)
  index_t batch_size = 8;
  index_t n_mask = 1;  // coordinates masked per row (1..d)
  index_t max_epochs = 100;
  double learning_rate = 0.01;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  index_t plateau_window = 10;  // epochs in the moving average of the loss
  index_t patience = 5;         // stalled epochs before a decay
  double plateau_tol = 1e-3;    // relative improvement of the moving average below which an epoch stalls
  double decay = 0.8;           // learning-rate factor per plateau
  double min_lr = 1e-6;         // stop once the learning rate falls below this
  // Annealing of the inverse temperature: when c_start > 0 and anneal_epochs > 0, epoch e <
  // anneal_epochs runs at c_start * (c / c_start)^(e / anneal_epochs) (geometric ramp), later
  // epochs at c.  Only epochs at the final c count for the best loss and the plateau decay.
  double c_start = 0;
  index_t anneal_epochs = 0;
  std::uint64_t seed = 0;
  // Masks: 0 = n_mask distinct coordinates per row; 1 = n_mask draws with replacement (the
  // reference code: fewer distinct coordinates when draws repeat); 2 = no mask (the paper's
  // ablation: the unmasked point evolves in every coordinate, the loss covers all of them).
  int mask_mode = 0;
  // > 0: in epochs e with (e + 1) % mask_share_every == 0, all rows of a batch share one mask
  // (the reference code's "dim_change_cycle").
  index_t mask_share_every = 0;
  // Early stop on a loss plateau: after n_iter_no_change epochs at the final c in a row without
  // an epoch loss below (1 - tol) times the last significant best (0: off).
  index_t n_iter_no_change = 0;
  double tol = 0;
  // > 0: an epoch trains on the first min(n, epoch_rows) rows of its shuffle (a fresh random
  // sample every epoch) instead of all n; 0: every row.
  index_t epoch_rows = 0;
};

// Trains prototypes R (k x d, started from R0) and log-weights eta (started from eta0, may be
// null when !weighted) on X (n x d) with Adam.  Each epoch: shuffle the rows (and keep the first
// epoch_rows of them when 0 < epoch_rows < n); for each batch of
// batch_size rows draw n_mask distinct masked coordinates per row (set to mask_values), run
// n_steps masked steps, loss and BPTT, one Adam step.  The epoch loss is the mean batch loss.
// Keeps the prototypes of the lowest epoch loss (R_best, eta_best), decays the learning rate on
// plateaus and stops when it falls below min_lr or the loss stops improving (n_iter_no_change,
// tol; status.converged) or when on_epoch(epoch, loss, lr, R) returns false (R: the current
// prototypes, k x d).  sample_weight (n, mean 1, may be null) weights each row's loss.  eta0 non-null:
// log-weights used by the recursion, learned when p.weighted, else fixed.  loss_curve (max_epochs) receives the epoch losses;
// status.iterations = epochs run, status.error = best loss.
template <class T, class CB>
Status clam_train(const T* X, index_t n, index_t d, const T* sample_weight, const T* mask_values, const T* R0,
                  const T* eta0, index_t k, const TrainParams& p, int n_threads, CB&& on_epoch, T* R_best, T* eta_best,
                  double* loss_curve, double* lr_out) {
  check_sizes(n, d, k, p.n_steps);
  if (n < 1) throw std::invalid_argument("clam_train: need at least one sample");
  if (p.batch_size < 1) throw std::invalid_argument("batch_size must be >= 1");
  if (p.n_mask < 1 || p.n_mask > d) throw std::invalid_argument("n_mask must be in [1, d]");
  if (p.max_epochs < 0) throw std::invalid_argument("max_epochs must be >= 0");
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
  if (p.anneal_epochs < 0) throw std::invalid_argument("anneal_epochs must be >= 0");
  if (p.mask_mode < 0 || p.mask_mode > 2) throw std::invalid_argument("mask_mode must be 0, 1 or 2");
  if (p.mask_share_every < 0) throw std::invalid_argument("mask_share_every must be >= 0");
  if (p.n_iter_no_change < 0) throw std::invalid_argument("n_iter_no_change must be >= 0");
  if (p.epoch_rows < 0) throw std::invalid_argument("epoch_rows must be >= 0");
  const index_t n_anneal = (p.c_start > 0 && p.anneal_epochs > 0) ? p.anneal_epochs : 0;
  const index_t B = std::min(p.batch_size, n);
  const index_t T_ = p.n_steps;
  const index_t kd = k * d;
  const index_t ncmax = n_chunks(B, kClamChunk);
  const index_t pw = kd + k + 1;  // partial width: dR, deta, loss
  check_alloc(static_cast<double>(ncmax) * (static_cast<double>(T_) + 1) *
                  (2.0 * static_cast<double>(d) + static_cast<double>(k)),
              sizeof(T), "ClAM training buffers for n_steps=" + std::to_string(T_));

  std::vector<T> R(R0, R0 + kd), rho(static_cast<size_t>(kd)), eta(static_cast<size_t>(k), T(0));
  if (eta0)
    for (index_t mu = 0; mu < k; ++mu) eta[mu] = eta0[mu];
  std::vector<T> mR(static_cast<size_t>(kd), T(0)), vR(static_cast<size_t>(kd), T(0)), mE(static_cast<size_t>(k), T(0)),
      vE(static_cast<size_t>(k), T(0));
  std::vector<double> grad(static_cast<size_t>(pw)), part(static_cast<size_t>(ncmax * pw));
  std::vector<index_t> perm(static_cast<size_t>(n)), idx(static_cast<size_t>(d));
  for (index_t i = 0; i < n; ++i) perm[i] = i;
  for (index_t j = 0; j < d; ++j) idx[j] = j;
  std::vector<T> x0(static_cast<size_t>(B * d)), msk(static_cast<size_t>(B * d));
  std::vector<double> rnorm(static_cast<size_t>(k), 1.0);

  struct Work {
    std::vector<T> V, P, PR, G, W, E, dR, dE, Dk;
  };
  std::vector<Work> work(static_cast<size_t>(ncmax));
  for (auto& w : work) {
    w.V.resize(static_cast<size_t>((T_ + 1) * d));
    w.P.resize(static_cast<size_t>(std::max<index_t>(T_, 1) * k));
    w.PR.resize(static_cast<size_t>(std::max<index_t>(T_, 1) * d));
    w.G.resize(static_cast<size_t>(d));
    w.W.resize(static_cast<size_t>(d));
    w.E.resize(static_cast<size_t>(k));
    w.dR.resize(static_cast<size_t>(kd));
    w.dE.resize(static_cast<size_t>(k));
    w.Dk.resize(static_cast<size_t>(2 * k));
  }
  const simd::Isa isa = simd::active_isa();
  for (index_t i = 0; i < kd; ++i) R_best[i] = R[i];
  if (eta_best)
    for (index_t mu = 0; mu < k; ++mu) eta_best[mu] = eta[mu];

  Rng rng(p.seed);
  double lr = p.learning_rate;
  double best = std::numeric_limits<double>::infinity();
  double prev_mean = std::numeric_limits<double>::quiet_NaN();
  double best_sig = std::numeric_limits<double>::infinity();  // last significant best (early stop)
  index_t stall = 0, adam_t = 0, no_change = 0;
  Status st;
  const T* eta_ptr = (p.weighted || eta0) ? eta.data() : nullptr;

  for (index_t epoch = 0; epoch < p.max_epochs; ++epoch) {
    const bool annealing = epoch < n_anneal;
    const double c_ep =
        annealing ? p.c_start * std::pow(p.c / p.c_start, static_cast<double>(epoch) / static_cast<double>(n_anneal))
                  : p.c;
    for (index_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
    const bool share = p.mask_share_every > 0 && (epoch + 1) % p.mask_share_every == 0;
    double epoch_loss = 0.0;
    index_t n_batches = 0;
    const index_t n_epoch = p.epoch_rows > 0 ? std::min(n, p.epoch_rows) : n;
    for (index_t start = 0; start < n_epoch; start += B) {
      if (should_stop()) {
        st.interrupted = true;
        return st;
      }
      const index_t Bb = std::min(B, n_epoch - start);
      // masked inputs, drawn serially so that they do not depend on the thread count
      for (index_t b = 0; b < Bb; ++b) {
        const T* x = X + perm[start + b] * d;
        T* xb = x0.data() + b * d;
        T* mb = msk.data() + b * d;
        for (index_t j = 0; j < d; ++j) {
          xb[j] = x[j];
          mb[j] = p.mask_mode == 2 ? T(1) : T(0);
        }
        if (p.mask_mode == 2) continue;  // no mask: every coordinate evolves from the data point
        if (share && b > 0) {            // the batch's first row drew the shared mask
          for (index_t j = 0; j < d; ++j)
            if (msk[j] != T(0)) {
              mb[j] = T(1);
              xb[j] = mask_values[j];
            }
          continue;
        }
        for (index_t i = 0; i < p.n_mask; ++i) {
          if (p.mask_mode == 1) {
            const index_t j = rng.below(d);
            mb[j] = T(1);
            xb[j] = mask_values[j];
          } else {
            const index_t j = i + rng.below(d - i);
            std::swap(idx[i], idx[j]);
            mb[idx[i]] = T(1);
            xb[idx[i]] = mask_values[idx[i]];
          }
        }
      }
      // prototypes as used by the recursion
      if (p.spherical) {
        for (index_t mu = 0; mu < k; ++mu) {
          const double nr = std::sqrt(static_cast<double>(dot(R.data() + mu * d, R.data() + mu * d, d)));
          rnorm[mu] = nr > 0 ? nr : 1.0;
          for (index_t j = 0; j < d; ++j) rho[mu * d + j] = static_cast<T>(R[mu * d + j] / rnorm[mu]);
        }
      }
      const T* Ruse = p.spherical ? rho.data() : R.data();
      const T gscale = static_cast<T>(-2.0 / (static_cast<double>(Bb) * static_cast<double>(d)));
      const index_t nc = n_chunks(Bb, kClamChunk);
      TrainCtx<T> cx{X,    x0.data(), msk.data(),  perm.data() + start, Ruse,   eta_ptr,      k, d, T_,
                     c_ep, p.alpha,   p.spherical, p.weighted,          gscale, sample_weight};
      parallel_chunks(Bb, kClamChunk, batch_threads(n_threads, Bb, k, d, T_), [&](index_t ci, index_t b0, index_t b1) {
        Work& w = work[ci];
        const double loss = simd::with_isa(isa, [&](auto tag) {
          return train_rows_isa<T, decltype(tag)::value>(cx, b0, b1, w.V.data(), w.P.data(), w.PR.data(), w.G.data(),
                                                         w.W.data(), w.E.data(), w.Dk.data(), w.dR.data(), w.dE.data());
        });
        double* out = part.data() + ci * pw;
        for (index_t i = 0; i < kd; ++i) out[i] = w.dR[i];
        for (index_t mu = 0; mu < k; ++mu) out[kd + mu] = w.dE[mu];
        out[kd + k] = loss;
      });
      reduce_chunks(part, nc, pw, grad.data());
      const double batch_loss = grad[kd + k] / (static_cast<double>(Bb) * static_cast<double>(d));
      epoch_loss += batch_loss;
      ++n_batches;
      if (p.spherical) {  // chain rule through rho = r / ||r||
        for (index_t mu = 0; mu < k; ++mu) {
          double gr = 0;
          for (index_t j = 0; j < d; ++j) gr += grad[mu * d + j] * static_cast<double>(rho[mu * d + j]);
          for (index_t j = 0; j < d; ++j)
            grad[mu * d + j] = (grad[mu * d + j] - gr * static_cast<double>(rho[mu * d + j])) / rnorm[mu];
        }
      }
      // Adam
      ++adam_t;
      const double bc1 = 1.0 - std::pow(p.beta1, static_cast<double>(adam_t));
      const double bc2 = 1.0 - std::pow(p.beta2, static_cast<double>(adam_t));
      auto adam = [&](T* w, T* m, T* v, const double* g, index_t len) {
        for (index_t i = 0; i < len; ++i) {
          const double mi = p.beta1 * static_cast<double>(m[i]) + (1.0 - p.beta1) * g[i];
          const double vi = p.beta2 * static_cast<double>(v[i]) + (1.0 - p.beta2) * g[i] * g[i];
          m[i] = static_cast<T>(mi);
          v[i] = static_cast<T>(vi);
          w[i] = static_cast<T>(static_cast<double>(w[i]) - lr * (mi / bc1) / (std::sqrt(vi / bc2) + p.adam_eps));
        }
      };
      adam(R.data(), mR.data(), vR.data(), grad.data(), kd);
      if (p.weighted) adam(eta.data(), mE.data(), vE.data(), grad.data() + kd, k);
    }
    epoch_loss /= static_cast<double>(n_batches);
    loss_curve[epoch] = epoch_loss;
    st.iterations = epoch + 1;
    if (!std::isfinite(epoch_loss)) {
      st.numerical_error = true;
      break;
    }
    if (annealing) {  // the latest prototypes stand until an epoch at the final c
      for (index_t i = 0; i < kd; ++i) R_best[i] = R[i];
      if (eta_best)
        for (index_t mu = 0; mu < k; ++mu) eta_best[mu] = eta[mu];
      st.error = epoch_loss;
      if (!on_epoch(epoch, epoch_loss, lr, R.data())) break;
      continue;
    }
    if (epoch_loss < best) {
      best = epoch_loss;
      for (index_t i = 0; i < kd; ++i) R_best[i] = R[i];
      if (eta_best)
        for (index_t mu = 0; mu < k; ++mu) eta_best[mu] = eta[mu];
    }
    if (!std::isfinite(best_sig) || best_sig - epoch_loss > p.tol * std::abs(best_sig)) {  // first, or a real gain
      best_sig = epoch_loss;
      no_change = 0;
    } else {
      ++no_change;
    }
    // learning-rate decay on plateaus of the moving average of the epoch loss
    if (epoch + 1 - n_anneal >= p.plateau_window) {
      double mean = 0;
      for (index_t e = epoch + 1 - p.plateau_window; e <= epoch; ++e) mean += loss_curve[e];
      mean /= static_cast<double>(p.plateau_window);
      if (std::isfinite(prev_mean)) {
        if (prev_mean - mean < p.plateau_tol * std::abs(prev_mean)) {
          if (++stall >= p.patience) {
            lr *= p.decay;
            stall = 0;
          }
        } else {
          stall = 0;
        }
      }
      prev_mean = mean;
    }
    bool go_on = on_epoch(epoch, epoch_loss, lr, R.data());
    if (lr < p.min_lr || (p.n_iter_no_change > 0 && no_change >= p.n_iter_no_change)) {
      st.converged = true;
      break;
    }
    if (!go_on) break;
  }
  if (std::isfinite(best) || n_anneal == 0) st.error = best;
  if (lr_out) *lr_out = lr;
  return st;
}

}  // namespace danneal::clam
