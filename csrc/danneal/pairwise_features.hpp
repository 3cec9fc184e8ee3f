// Pairwise clustering on squared Euclidean dissimilarities without forming D (issue 11 §1).
//
// With D_ij = |x_i - x_j|^2 and the cluster statistics (about a centre mu, usually the mean of X)
//   S_v = sum_j q_jv,  m_v = sum_j q_jv (x_j - mu),  t_v = sum_j q_jv |x_j - mu|^2,
// the quantities the dense kernels of pairwise.hpp form from D are, exactly,
//   (DQ)_iv = S_v |x_i - y_v|^2 + W_v,   c_v = (Q^T D Q)_vv = 2 S_v W_v,
// with the centroid y_v = m_v / S_v and the scatter W_v = t_v - |m_v|^2 / S_v.  So the gradient
// potentials are h_iv = (DQ)_iv/S_v - c_v/(2 S_v^2) = |x_i - y_v|^2 (soft k-means without mass
// prior) and detan's leave-one-out form follows from the same numbers.  One sweep is one pass over
// X: O(n k d) work and O(n (d + k)) memory.  Squared distances to the centroids are formed
// directly (not by the norm trick), in double, with the centroids transposed so that the loop over
// clusters vectorises without reassociation.  Per-chunk partials (double) are summed in chunk
// order: results do not depend on the thread count.
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/pairwise.hpp"
#include "danneal/simd/isa.hpp"
#include "danneal/softassign.hpp"

namespace danneal::pairwise {

// ---- the SIMD-layer kernels of a sweep (instantiated per instruction set in simd/isa_*.cpp) ----
// A sweep works on blocks of kFeatBlock rows: their centred rows (stride ds >= d), their squared
// distances to the centroids and their weighted new assignments, with the clusters padded to
// kp = padded_k(k) lanes (zero centroids and zero assignments in the padding lanes).

constexpr index_t kFeatLanes = 4;  // one 32-byte vector of doubles in both units
constexpr index_t kFeatBlock = 16;
inline index_t padded_k(index_t k) {
  return (k + kFeatLanes - 1) / kFeatLanes * kFeatLanes;
}
// e[r * kp + v] = |xc_r - y_v|^2 for r < rows and v < kp, xc_r = xc + r * ds (its first d entries),
// the centroids transposed and padded in Ytp (d x kp): each e summed over j in order.
template <simd::Isa I>
void features_dists_isa(const double* xc, index_t rows, index_t ds, index_t d, const double* Ytp, index_t kp,
                        double* e);
// p[j * kp + v] += sum_r qw[r * kp + v] xc[r * ds + j] for j < ds and v < kp, the rows added in
// order (the statistics of the block: with xc_r extended by |xc_r|^2 and 1, one pass gives the
// transposed sums m, then t and S).
template <simd::Isa I>
void features_stats_isa(const double* xc, index_t rows, index_t ds, const double* qw, index_t kp, double* p);
// The softmax of a block at temperature T > 0 for the gradient potentials e (rows x kp): for every
// row, p = softmax(-e / T + bias) with bias_v = 0 for live clusters (v < k, not empty) and -inf
// for the others (the scalar rows' q = exp(x) / s with x = -(e - e_min) / T), p rounded to T;
// pb (rows x kp) gets p, qw (rows x kp) gets wr[r] p; acc[0] += the rows' entropy, acc[1] += sum
// of wr (-e_min / T + log s), acc[2] = max(acc[2], largest |p - qold|).  Returns false, with acc
// unchanged, when a live potential is not finite or 1 / T overflows: the caller's scalar rows
// handle those.
// scratch: rows x kp + 3 rows doubles.
template <class T, simd::Isa I>
bool features_soft_isa(const double* e, index_t rows, index_t kp, const double* bias, double temperature,
                       const double* wr, const double* qold, double* pb, double* qw, double* scratch, double* acc);
#define DANNEAL_FEATURES_KERNELS(P, I)                                                                       \
  P void features_dists_isa<I>(const double*, index_t, index_t, index_t, const double*, index_t, double*);   \
  P void features_stats_isa<I>(const double*, index_t, index_t, const double*, index_t, double*);            \
  P bool features_soft_isa<float, I>(const double*, index_t, index_t, const double*, double, const double*,  \
                                     const double*, double*, double*, double*, double*);                     \
  P bool features_soft_isa<double, I>(const double*, index_t, index_t, const double*, double, const double*, \
                                      const double*, double*, double*, double*, double*);
#define DANNEAL_FEATURES_EXTERN(I) DANNEAL_FEATURES_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_FEATURES_EXTERN)

// Rows per work unit of the feature-space passes: 256 for small n (parallel even on digits),
// 2048 beyond 2^16 rows (bounded memory for the k x d partials).  Depends on n only.
inline index_t features_chunk(index_t n) {
  return n <= 65536 ? 256 : 2048;
}

// Statistics of the assignments: St (d x k, transposed m), t (k), S (k).
struct FeatureStats {
  index_t k = 0, d = 0;
  std::vector<double> St, t, S;
  void resize(index_t k_, index_t d_) {
    k = k_;
    d = d_;
    St.assign(static_cast<size_t>(d * k), 0.0);
    t.assign(static_cast<size_t>(k), 0.0);
    S.assign(static_cast<size_t>(k), 0.0);
  }
  index_t width() const { return d * k + 2 * k; }
  void from(const double* tot) {
    for (index_t j = 0; j < d * k; ++j) St[j] = tot[j];
    for (index_t v = 0; v < k; ++v) {
      t[v] = tot[d * k + v];
      S[v] = tot[d * k + k + v];
    }
  }
};

// Per-cluster numbers derived from the statistics: transposed centroids Yt (d x k), scatter W,
// c = 2 S W, and the cost H = sum_v W_v over non-empty clusters.
struct FeatureModel {
  std::vector<double> Yt, W, c;
  std::vector<double> Ytp;  // Yt with the clusters padded to padded_k(k) lanes (zeros)
  double cost = 0;
  void from(const FeatureStats& s) {
    const index_t k = s.k, d = s.d, kp = padded_k(k);
    Yt.assign(static_cast<size_t>(d * k), 0.0);
    Ytp.assign(static_cast<size_t>(d * kp), 0.0);
    W.assign(static_cast<size_t>(k), 0.0);
    c.assign(static_cast<size_t>(k), 0.0);
    cost = 0;
    for (index_t v = 0; v < k; ++v) {
      const double Sv = s.S[v];
      if (!(Sv >= kTinyMass)) continue;
      double mm = 0;
      for (index_t j = 0; j < d; ++j) {
        const double m = s.St[j * k + v];
        Yt[j * k + v] = m / Sv;
        Ytp[j * kp + v] = m / Sv;
        mm += m * m;
      }
      W[v] = std::max(0.0, s.t[v] - mm / Sv);
      c[v] = 2.0 * Sv * W[v];
      if (Sv > kTinyMass) cost += W[v];
    }
  }
};

// xc = x - mu (double) and its squared norm.
template <class T>
inline double centred_row(const T* x, const double* mu, index_t d, double* xc) {
  // four partial sums (j mod 4), added in a fixed order: a single chain of dependent additions
  // made this the costliest part of a sweep on 64 features
  double r[4] = {0, 0, 0, 0};
  index_t j = 0;
  for (; j + 4 <= d; j += 4)
    for (int l = 0; l < 4; ++l) {
      xc[j + l] = static_cast<double>(x[j + l]) - mu[j + l];
      r[l] += xc[j + l] * xc[j + l];
    }
  for (; j < d; ++j) {
    xc[j] = static_cast<double>(x[j]) - mu[j];
    r[0] += xc[j] * xc[j];
  }
  return (r[0] + r[1]) + (r[2] + r[3]);
}

// e_v = |xc - y_v|^2 for L clusters v0..v0+L-1, accumulated in registers; each e_v is summed
// over j in order, exactly as a plain loop would (results do not depend on the blocking).
template <int L>
inline void sq_dists_lanes(const double* __restrict xc, const double* __restrict Yt, index_t d, index_t k, index_t v0,
                           double* __restrict e) {
  double acc[L];
  for (int l = 0; l < L; ++l) acc[l] = 0.0;
  for (index_t j = 0; j < d; ++j) {
    const double xj = xc[j];
    const double* y = Yt + j * k + v0;
    for (int l = 0; l < L; ++l) {
      const double diff = xj - y[l];
      acc[l] += diff * diff;
    }
  }
  for (int l = 0; l < L; ++l) e[v0 + l] = acc[l];
}

// e_v = |xc - y_v|^2 for all v (Yt is d x k): blocks of 8, 4, 2, 1 clusters.
inline void sq_dists(const double* xc, const double* Yt, index_t d, index_t k, double* e) {
  index_t v = 0;
  for (; v + 8 <= k; v += 8) sq_dists_lanes<8>(xc, Yt, d, k, v, e);
  if (v + 4 <= k) {
    sq_dists_lanes<4>(xc, Yt, d, k, v, e);
    v += 4;
  }
  if (v + 2 <= k) {
    sq_dists_lanes<2>(xc, Yt, d, k, v, e);
    v += 2;
  }
  if (v < k) sq_dists_lanes<1>(xc, Yt, d, k, v, e);
}

template <int L>
inline void add_stats_lanes(const double* __restrict qd, const double* __restrict xc, index_t d, index_t k, index_t v0,
                            double* __restrict p) {
  double q[L];
  for (int l = 0; l < L; ++l) q[l] = qd[v0 + l];
  for (index_t j = 0; j < d; ++j) {
    const double xj = xc[j];
    double* row = p + j * k + v0;
    for (int l = 0; l < L; ++l) row[l] += q[l] * xj;
  }
}

// Adds row i's contribution (assignments q, sample weight wi, centred row xc with squared norm r)
// to the partials p laid out as FeatureStats::width(): the statistics are sums of wi q_v.
template <class Q>
inline void add_stats(const Q* q, double wi, const double* xc, double r, index_t d, index_t k, double* p) {
  constexpr index_t kMaxLocal = 64;
  double qbuf[kMaxLocal];
  if (k > kMaxLocal) {
    for (index_t j = 0; j < d; ++j) {
      const double xj = xc[j];
      double* row = p + j * k;
      for (index_t v = 0; v < k; ++v) row[v] += wi * static_cast<double>(q[v]) * xj;
    }
  } else {
    for (index_t v = 0; v < k; ++v) qbuf[v] = wi * static_cast<double>(q[v]);
    index_t v = 0;
    for (; v + 8 <= k; v += 8) add_stats_lanes<8>(qbuf, xc, d, k, v, p);
    if (v + 4 <= k) {
      add_stats_lanes<4>(qbuf, xc, d, k, v, p);
      v += 4;
    }
    if (v + 2 <= k) {
      add_stats_lanes<2>(qbuf, xc, d, k, v, p);
      v += 2;
    }
    if (v < k) add_stats_lanes<1>(qbuf, xc, d, k, v, p);
  }
  double* pt = p + d * k;
  double* ps = pt + k;
  for (index_t v = 0; v < k; ++v) {
    const double qv = wi * static_cast<double>(q[v]);
    pt[v] += qv * r;
    ps[v] += qv;
  }
}

// add_stats for a one-hot row (q_v = [v == a]): the same sums, as adding q_v x = +-0 to a partial
// leaves it unchanged (partials are never -0: they start at +0 and the inputs are finite).
inline void add_stats_onehot(index_t a, double wi, const double* xc, double r, index_t d, index_t k, double* p) {
  for (index_t j = 0; j < d; ++j) p[j * k + a] += wi * xc[j];
  p[d * k + a] += wi * r;
  p[d * k + k + a] += wi;
}

template <class T>
inline void check_features(index_t n, index_t d, index_t k) {
  if (n < 1) throw std::invalid_argument("X must have at least one row");
  if (d < 1) throw std::invalid_argument("X must have at least one column");
  if (k < 1) throw std::invalid_argument("need at least one cluster");
}

// Statistics (about mu) of the assignments Q (n x k), weighted by w (nullptr: all ones; see
// weight_of in pairwise.hpp).
template <class T>
void features_stats(const T* X, index_t n, index_t d, const double* mu, const T* Q, index_t k, const double* sw,
                    int n_threads, FeatureStats& out) {
  out.resize(k, d);
  const index_t ch = features_chunk(n), nc = n_chunks(n, ch), w = out.width();
  std::vector<double> part(static_cast<size_t>(nc * w), 0.0);
  parallel_chunks(n, ch, n_threads, [&](index_t c, index_t b, index_t e) {
    std::vector<double> xc(static_cast<size_t>(d));
    double* p = part.data() + c * w;
    for (index_t i = b; i < e; ++i) {
      const double r = centred_row(X + i * d, mu, d, xc.data());
      add_stats(Q + i * k, weight_of(sw, i), xc.data(), r, d, k, p);
    }
  });
  std::vector<double> tot(static_cast<size_t>(w));
  reduce_chunks(part, nc, w, tot.data());
  out.from(tot.data());
}

// DQ (n x k) = D @ Q for D_ij = |x_i - x_j|^2, c_v = (Q^T D Q)_vv and S_v, computed from X (the
// feature-space twin of pairwise_dq; for tests and small problems: it writes n x k numbers).
template <class T>
void pairwise_features_dq(const T* X, index_t n, index_t d, const double* mu, const T* Q, index_t k, const double* w,
                          int n_threads, T* DQ, double* c, double* S) {
  check_features<T>(n, d, k);
  FeatureStats st;
  features_stats(X, n, d, mu, Q, k, w, n_threads, st);
  FeatureModel md;
  md.from(st);
  parallel_chunks(n, features_chunk(n), n_threads, [&](index_t, index_t b, index_t e) {
    std::vector<double> xc(static_cast<size_t>(d)), ev(static_cast<size_t>(k));
    for (index_t i = b; i < e; ++i) {
      centred_row(X + i * d, mu, d, xc.data());
      sq_dists(xc.data(), md.Yt.data(), d, k, ev.data());
      for (index_t v = 0; v < k; ++v) {
        // an empty cluster: (DQ)_iv = 0 exactly as sum_j q_jv D_ij is
        const double dq = st.S[v] >= kTinyMass ? st.S[v] * ev[v] + md.W[v] : 0.0;
        DQ[i * k + v] = static_cast<T>(dq);
      }
    }
  });
  for (index_t v = 0; v < k; ++v) {
    c[v] = md.c[v];
    S[v] = st.S[v];
  }
}

// Potential of row i for cluster v from its squared distance e to the centroid (see header).
inline double features_potential(int form, double e, double q, const FeatureModel& md, const FeatureStats& st,
                                 index_t v) {
  const double S = st.S[v];
  if (!(S >= kTinyMass)) return std::numeric_limits<double>::infinity();
  if (form == kGradient) return e;
  return potential(kDetan, S * e + md.W[v], q, md.c[v], S);
}

// Potentials H (n x k) of the assignments Q (feature-space twin of pairwise_potential).
template <class T>
void pairwise_features_potential(const T* X, index_t n, index_t d, const double* mu, const T* Q, index_t k,
                                 const double* w, int form, int n_threads, T* H) {
  check_features<T>(n, d, k);
  if (form != kDetan && form != kGradient) throw std::invalid_argument("unknown potential form");
  FeatureStats st;
  features_stats(X, n, d, mu, Q, k, w, n_threads, st);
  FeatureModel md;
  md.from(st);
  parallel_chunks(n, features_chunk(n), n_threads, [&](index_t, index_t b, index_t e) {
    std::vector<double> xc(static_cast<size_t>(d)), ev(static_cast<size_t>(k));
    for (index_t i = b; i < e; ++i) {
      centred_row(X + i * d, mu, d, xc.data());
      sq_dists(xc.data(), md.Yt.data(), d, k, ev.data());
      for (index_t v = 0; v < k; ++v)
        H[i * k + v] = static_cast<T>(features_potential(form, ev[v], Q[i * k + v], md, st, v));
    }
  });
}

// One sweep over the rows [b, e) of X: their assignments Q (updated in place) from the model of
// the statistics `st` of the current assignments; the new rows' statistics are added to p (width
// FeatureStats::width()) and p[w..w+3] receive the rows' entropy, sum of logZ, largest change and
// a flag for non-finite potentials.  Shared by the whole-problem fixed point and the row-block
// sweep of the dask driver (the same arithmetic row by row).  w: sample weights indexed by row
// (nullptr: all ones).  Rows go in blocks of kFeatBlock: the distances and the statistics of a
// block are the SIMD layer's (features_dists_isa, features_stats_isa), the softmax's exps one
// vector call per block; every sum still runs over the rows (or features) in order.
template <class T>
inline void features_sweep_rows(const T* X, index_t b, index_t e, index_t d, const double* mu, T* Q, index_t k,
                                const double* w, double temperature, int form, const FeatureModel& md,
                                const FeatureStats& st, double* p) {
  const index_t kp = padded_k(k), ds = d + 2;  // a block row: xc, |xc|^2, 1
  const simd::Isa isa = simd::active_isa();
  std::vector<double> xb(static_cast<size_t>(kFeatBlock * ds)), eb(static_cast<size_t>(kFeatBlock * kp));
  std::vector<double> qw(static_cast<size_t>(kFeatBlock * kp), 0.0), pp(static_cast<size_t>(ds * kp), 0.0);
  std::vector<double> xs(static_cast<size_t>(kFeatBlock * k)), ms(static_cast<size_t>(kFeatBlock));
  std::vector<char> row_ok(static_cast<size_t>(kFeatBlock));
  double* px = p + st.width();
  double ent = 0, lzs = 0, mdel = 0, bad = 0;
  // soft rows of the gradient potentials: the vector softmax of the block (features_soft_isa)
  const bool vector_soft = temperature > 0 && form == kGradient;
  std::vector<double> bias, qold, pbuf, scratch, wr;
  if (vector_soft) {
    bias.assign(static_cast<size_t>(kp), -std::numeric_limits<double>::infinity());
    for (index_t v = 0; v < k; ++v)
      if (st.S[v] >= kTinyMass) bias[v] = 0.0;
    qold.assign(static_cast<size_t>(kFeatBlock * kp), 0.0);
    pbuf.resize(static_cast<size_t>(kFeatBlock * kp));
    scratch.resize(static_cast<size_t>(kFeatBlock * kp + 3 * kFeatBlock));
    wr.resize(static_cast<size_t>(kFeatBlock));
  }
  for (index_t i0 = b; i0 < e; i0 += kFeatBlock) {
    const index_t rows = std::min(kFeatBlock, e - i0);
    for (index_t r = 0; r < rows; ++r) {
      double* xr = xb.data() + r * ds;
      xr[d] = centred_row(X + (i0 + r) * d, mu, d, xr);
      xr[d + 1] = 1.0;
    }
    simd::with_isa(isa, [&](auto tag) {
      features_dists_isa<decltype(tag)::value>(xb.data(), rows, ds, d, md.Ytp.data(), kp, eb.data());
    });
    if (vector_soft) {
      for (index_t r = 0; r < rows; ++r) {
        wr[r] = weight_of(w, i0 + r);
        const T* q = Q + (i0 + r) * k;
        for (index_t v = 0; v < k; ++v) qold[r * kp + v] = static_cast<double>(q[v]);
      }
      double acc[3] = {ent, lzs, mdel};
      const bool done = simd::with_isa(isa, [&](auto tag) {
        return features_soft_isa<T, decltype(tag)::value>(eb.data(), rows, kp, bias.data(), temperature, wr.data(),
                                                          qold.data(), pbuf.data(), qw.data(), scratch.data(), acc);
      });
      if (done) {
        ent = acc[0];
        lzs = acc[1];
        mdel = acc[2];
        for (index_t r = 0; r < rows; ++r) {
          T* q = Q + (i0 + r) * k;
          for (index_t v = 0; v < k; ++v) q[v] = static_cast<T>(pbuf[r * kp + v]);
        }
        simd::with_isa(isa, [&](auto tag) {
          features_stats_isa<decltype(tag)::value>(xb.data(), rows, ds, qw.data(), kp, pp.data());
        });
        continue;
      }
    }
    // potentials; hard rows (T = 0) and rows with non-finite potentials are done here
    bool any_soft = false;
    for (index_t r = 0; r < rows; ++r) {
      const index_t i = i0 + r;
      T* q = Q + i * k;
      const double wi = weight_of(w, i);
      double* x = xs.data() + r * k;
      double* qr = qw.data() + r * kp;
      bool finite = true;
      for (index_t v = 0; v < k; ++v) {
        x[v] = features_potential(form, eb[r * kp + v], q[v], md, st, v);
        finite = finite && potential_ok(x[v], st.S[v]);
      }
      row_ok[r] = 0;
      if (!finite) {  // keep the row as it is; the caller is told
        bad = 1;
        for (index_t v = 0; v < k; ++v) qr[v] = wi * static_cast<double>(q[v]);
        continue;
      }
      if (temperature == 0) {
        const index_t best = harden_row(x, q, k, mdel);
        for (index_t v = 0; v < k; ++v) qr[v] = v == best ? wi : 0.0;
        continue;
      }
      // x = -(h - h_min) / T: shifted before the division, so the row maximum is exactly 0 even
      // where -h / T overflows (dividing first gave -inf - (-inf) = NaN at tiny T); the shifted
      // difference that overflows (potentials of opposite signs) is -(h/T - h_min/T)
      double hmin = std::numeric_limits<double>::infinity();
      for (index_t v = 0; v < k; ++v) hmin = std::min(hmin, x[v]);
      for (index_t v = 0; v < k; ++v) {
        const double dv = x[v] - hmin;
        if (std::isinf(x[v]))  // an empty cluster's +inf
          x[v] = -std::numeric_limits<double>::infinity();
        else
          x[v] = std::isinf(dv) ? -(x[v] / temperature - hmin / temperature) : -dv / temperature;
      }
      // (log Z's offset, clamped to +-1e300 so that the sum over rows stays finite)
      ms[r] = std::min(1e300, std::max(-1e300, -hmin / temperature));
      row_ok[r] = 1;
      any_soft = true;
    }
    if (any_soft) {
      // one exp per entry: q = exp(x - m) / s (never exp(x - (m + log s)): that loses log s when
      // |m| is huge); the vector exp of the SIMD layer (simd/math.hpp: exactly 0 below the
      // smallest normal, never subnormal).  eb takes the exps (the distances are used up).
      for (index_t t = 0; t < rows * k; ++t) eb[t] = xs[t];
      simd::sa_exp(eb.data(), rows * k);
      for (index_t r = 0; r < rows; ++r) {
        if (!row_ok[r]) continue;
        const index_t i = i0 + r;
        T* q = Q + i * k;
        const double wi = weight_of(w, i);
        const double* x = xs.data() + r * k;
        const double* ev = eb.data() + r * k;
        double* qr = qw.data() + r * kp;
        double s = 0;
        for (index_t v = 0; v < k; ++v) s += ev[v];
        const double ls = std::log(s);
        lzs += wi * (ms[r] + ls);
        for (index_t v = 0; v < k; ++v) {
          const double lp = x[v] - ls;
          const T nv = static_cast<T>(ev[v] / s);
          const double pv = static_cast<double>(nv);
          if (pv > 0 && lp < 0) ent -= wi * pv * lp;
          mdel = std::max(mdel, std::abs(pv - static_cast<double>(q[v])));
          q[v] = nv;
          qr[v] = wi * pv;
        }
      }
    }
    simd::with_isa(isa, [&](auto tag) {
      features_stats_isa<decltype(tag)::value>(xb.data(), rows, ds, qw.data(), kp, pp.data());
    });
  }
  // the block sums into p's layout (St, t, S)
  for (index_t j = 0; j < d; ++j)
    for (index_t v = 0; v < k; ++v) p[j * k + v] += pp[j * kp + v];
  for (index_t v = 0; v < k; ++v) {
    p[d * k + v] += pp[d * kp + v];
    p[d * k + k + v] += pp[(d + 1) * kp + v];
  }
  px[0] = ent;
  px[1] = lzs;
  px[2] = mdel;
  px[3] = bad;
}

// The statistics as one flat vector (St (d x k), t, S) and back.
inline void stats_to_flat(const FeatureStats& st, double* out) {
  const index_t dk = st.d * st.k;
  for (index_t j = 0; j < dk; ++j) out[j] = st.St[j];
  for (index_t v = 0; v < st.k; ++v) {
    out[dk + v] = st.t[v];
    out[dk + st.k + v] = st.S[v];
  }
}

// SQUAREM (Varadhan & Roland 2008, scheme S3) on the flat statistics of three successive sweeps
// s0 -> s1 -> s2: out = s0 - 2 a r + a^2 v with r = s1 - s0, v = s2 - 2 s1 + s0 and the step
// a = -|r| / |v| (a = -1 gives s2 itself).  The statistics are linear in the assignments, so this
// is the extrapolation of the assignments' sequence.  The step is halved towards -1 while an
// extrapolated mass falls below half its last value (a centroid m/S would run away) or a number is
// not finite.  Returns false (out unused) when no step beyond s2 is taken.
inline bool squarem_stats(const std::vector<double>& s0, const std::vector<double>& s1, const std::vector<double>& s2,
                          index_t d, index_t k, std::vector<double>& out) {
  const index_t w = d * k + 2 * k, s_at = d * k + k;
  // |r| / |v| with both scaled by their largest entry (squares of statistics ~1e160 overflow)
  double scale = 0;
  for (index_t j = 0; j < w; ++j) {
    const double r = s1[j] - s0[j], v = s2[j] - 2.0 * s1[j] + s0[j];
    scale = std::max(scale, std::max(std::abs(r), std::abs(v)));
  }
  if (!(scale > 0) || !std::isfinite(scale)) return false;
  double rr = 0, vv = 0;
  for (index_t j = 0; j < w; ++j) {
    const double r = (s1[j] - s0[j]) / scale, v = (s2[j] - 2.0 * s1[j] + s0[j]) / scale;
    rr += r * r;
    vv += v * v;
  }
  if (!(vv > 0) || !std::isfinite(rr) || !std::isfinite(vv)) return false;
  double a = -std::sqrt(rr / vv);
  out.resize(static_cast<size_t>(w));
  for (int tries = 0; tries < 6 && a < -1.0; ++tries, a = 0.5 * (a - 1.0)) {
    bool ok = true;
    for (index_t j = 0; j < w && ok; ++j) {
      const double r = s1[j] - s0[j], v = s2[j] - 2.0 * s1[j] + s0[j];
      out[j] = s0[j] - 2.0 * a * r + a * a * v;
      ok = std::isfinite(out[j]);
    }
    for (index_t v = 0; v < k && ok; ++v) ok = out[s_at + v] >= 0.5 * s2[s_at + v];
    if (ok) return true;
  }
  return false;
}

// Feature-space twin of pairwise_fixed_point (same sweeps, same statistics in `stats`): up to
// max_iter synchronous sweeps Q <- softmax(-h(Q)/T), stopping when the largest change is < tol;
// temperature 0 gives hard assignments (lowest index on ties).  Each sweep is one pass over X that
// also accumulates the statistics of the new assignments for the next sweep.
// accelerate (gradient potentials, T > 0): every third sweep starts from the SQUAREM extrapolation
// of the two sweeps before it (squarem_stats), not from the last one's statistics; every sweep
// still counts and the stop is the same (the largest change of an assignment in one sweep < tol).
template <class T>
Status pairwise_features_fixed_point(const T* X, index_t n, index_t d, const double* mu, const T* Q0, index_t k,
                                     const double* sw, double temperature, int form, index_t max_iter, double tol,
                                     int n_threads, T* Q, double* stats, bool accelerate = false) {
  check_features<T>(n, d, k);
  if (!(temperature >= 0)) throw std::invalid_argument("temperature must be >= 0");
  if (form != kDetan && form != kGradient) throw std::invalid_argument("unknown potential form");
  for (index_t t = 0; t < n * k; ++t) Q[t] = Q0[t];
  for (int s = 0; s < kNumStats; ++s) stats[s] = 0.0;
  FeatureStats st;
  features_stats(X, n, d, mu, Q, k, sw, n_threads, st);
  FeatureModel md;
  const index_t ch = features_chunk(n), nc = n_chunks(n, ch), w = st.width();
  constexpr index_t kExtra = 4;  // entropy, logZ, max delta, bad flag
  std::vector<double> part(static_cast<size_t>(nc * (w + kExtra)));
  std::vector<double> tot(static_cast<size_t>(w + kExtra));
  Status status;
  const bool accel = accelerate && temperature > 0 && form == kGradient;
  std::vector<double> s0, s1, s2, ext;
  if (accel) {
    s0.resize(static_cast<size_t>(w));
    s1.resize(static_cast<size_t>(w));
    s2.resize(static_cast<size_t>(w));
  }
  int phase = 0;  // accelerate: 0 and 1 plain sweeps (from s0, from s1), 2 the sweep from the extrapolation
  for (index_t it = 0; it < max_iter; ++it) {
    if (should_stop()) {
      status.interrupted = true;
      return status;
    }
    if (accel && phase == 0) stats_to_flat(st, s0.data());
    md.from(st);
    stats[kCost] = md.cost;
    std::fill(part.begin(), part.end(), 0.0);
    parallel_chunks(n, ch, n_threads, [&](index_t c, index_t b, index_t e) {
      features_sweep_rows(X, b, e, d, mu, Q, k, sw, temperature, form, md, st, part.data() + c * (w + kExtra));
    });
    // statistics of the new assignments in chunk order; entropy etc. likewise (max is order-free)
    std::fill(tot.begin(), tot.end(), 0.0);
    double mdel = 0;
    for (index_t c = 0; c < nc; ++c) {
      const double* p = part.data() + c * (w + kExtra);
      for (index_t j = 0; j < w + 2; ++j) tot[j] += p[j];
      mdel = std::max(mdel, p[w + 2]);
      status.numerical_error = status.numerical_error || p[w + 3] != 0;
    }
    st.from(tot.data());
    stats[kEntropy] = tot[w];
    stats[kLogZ] = tot[w + 1];
    stats[kMaxDelta] = mdel;
    status.iterations = it + 1;
    status.error = mdel;
    if (mdel < tol) {
      status.converged = true;
      break;
    }
    if (accel) {
      if (phase == 0) {
        stats_to_flat(st, s1.data());
        phase = 1;
      } else if (phase == 1) {
        stats_to_flat(st, s2.data());
        if (squarem_stats(s0, s1, s2, d, k, ext)) st.from(ext.data());
        phase = 2;
      } else {
        phase = 0;
      }
    }
  }
  return status;
}

// The row-block pieces of the dask driver (python/danneal/_dask.py): the fixed point above, one
// sweep at a time, over one block of the rows, with the statistics of the WHOLE problem's
// assignments given.  The driver adds the blocks' outputs in block order.

// Statistics of the assignments Q of a block of rows: out (width = d k + 2 k) = St, t, S summed
// over the block's chunks in chunk order.
template <class T>
void pairwise_features_block_stats(const T* X, index_t n, index_t d, const double* mu, const T* Q, index_t k,
                                   int n_threads, double* out) {
  check_features<T>(n, d, k);
  FeatureStats st;
  features_stats(X, n, d, mu, Q, k, nullptr, n_threads, st);
  for (index_t j = 0; j < d * k; ++j) out[j] = st.St[j];
  for (index_t v = 0; v < k; ++v) {
    out[d * k + v] = st.t[v];
    out[d * k + k + v] = st.S[v];
  }
}

// One sweep over a block of rows: Q (block, from Q0) <- softmax(-h/T) with the potentials h of
// the whole problem's statistics `total` (width d k + 2 k, as pairwise_features_block_stats sums
// them); out (width + 4) = the block's statistics of the new assignments, then entropy, sum of
// logZ (both summed in chunk order), largest change and a non-finite flag (both maxima).
template <class T>
void pairwise_features_block_sweep(const T* X, index_t n, index_t d, const double* mu, const T* Q0, index_t k,
                                   const double* total, double temperature, int form, int n_threads, T* Q,
                                   double* out) {
  check_features<T>(n, d, k);
  if (!(temperature >= 0)) throw std::invalid_argument("temperature must be >= 0");
  if (form != kDetan && form != kGradient) throw std::invalid_argument("unknown potential form");
  for (index_t t = 0; t < n * k; ++t) Q[t] = Q0[t];
  FeatureStats st;
  st.resize(k, d);
  st.from(total);
  FeatureModel md;
  md.from(st);
  const index_t ch = features_chunk(n), nc = n_chunks(n, ch), w = st.width();
  constexpr index_t kExtra = 4;
  std::vector<double> part(static_cast<size_t>(nc * (w + kExtra)), 0.0);
  parallel_chunks(n, ch, n_threads, [&](index_t c, index_t b, index_t e) {
    features_sweep_rows(X, b, e, d, mu, Q, k, nullptr, temperature, form, md, st, part.data() + c * (w + kExtra));
  });
  for (index_t j = 0; j < w + kExtra; ++j) out[j] = 0.0;
  for (index_t c = 0; c < nc; ++c) {
    const double* p = part.data() + c * (w + kExtra);
    for (index_t j = 0; j < w + 2; ++j) out[j] += p[j];
    out[w + 2] = std::max(out[w + 2], p[w + 2]);
    out[w + 3] = std::max(out[w + 3], p[w + 3]);
  }
}

// Sum of (weighted) squared distances of the rows to the centroids of their labels (the k-means
// cost, equal to the pairwise cost H of the hard partition), given the transposed centroids Yt (d x k).
template <class T>
double features_hard_cost(const T* X, index_t n, index_t d, const double* mu, const std::int64_t* labels,
                          const double* Yt, index_t k, const double* w, int n_threads) {
  const index_t ch = features_chunk(n), nc = n_chunks(n, ch);
  std::vector<double> part(static_cast<size_t>(nc), 0.0);
  parallel_chunks(n, ch, n_threads, [&](index_t c, index_t b, index_t e) {
    std::vector<double> xc(static_cast<size_t>(d));
    double s = 0;
    for (index_t i = b; i < e; ++i) {
      centred_row(X + i * d, mu, d, xc.data());
      const index_t a = labels[i];
      double r = 0;
      for (index_t j = 0; j < d; ++j) {
        const double diff = xc[j] - Yt[j * k + a];
        r += diff * diff;
      }
      s += weight_of(w, i) * r;
    }
    part[c] = s;
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// Feature-space twin of pairwise_local_search: sequential exact single-object moves on a hard
// partition.  For squared Euclidean D the dense rule's terms are
//   remove i from a: w_i S_a |x_i - y_a|^2 / (S_a - w_i),   add i to b: w_i S_b |x_i - y_b|^2 / (S_b + w_i)
// (0 for an empty b; S the weighted masses, w_i = 1 without weights): Hartigan's k-means moves.
// Centroids are updated incrementally (O(d) per move) and recomputed from scratch after every
// pass.  Labels are updated in place; *cost gets the k-means cost of the final partition,
// computed afresh.
//
// Pruning (same moves as the plain sequential rule, in the same order): one parallel pass stores
// for every row an upper bound u_i on its distance to its own reference centroid and a lower bound
// l_i on its distance to every other reference centroid (the reference centroids Yr are the
// centroids at that pass).  With the drift g_v = |y_v - Yr_v| of the current centroids, row i
// cannot move while  min_b S_b/(S_b+w_i) (l_i - max_v g_v)^2 > S_a/(S_a-w_i) (u_i + g_a)^2  (triangle
// inequality; checked with a relative margin of 1e-9 that covers all rounding), so it is skipped;
// every other row is evaluated exactly as without pruning and its bounds are renewed.  The
// reference pass is redone at the start of a pass when the previous one evaluated more than an
// eighth of the rows.
template <class T>
Status pairwise_features_local_search(const T* X, index_t n, index_t d, const double* mu, index_t k, const double* sw,
                                      index_t max_passes, int n_threads, std::int64_t* labels, double* cost) {
  check_features<T>(n, d, k);
  for (index_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= k) throw std::invalid_argument("labels must lie in [0, n_clusters)");
  std::vector<double> M(static_cast<size_t>(d * k)), S(static_cast<size_t>(k)), Yt(static_cast<size_t>(d * k));
  std::vector<index_t> members(static_cast<size_t>(k));
  auto set_centroid = [&](index_t v) {
    for (index_t j = 0; j < d; ++j) Yt[j * k + v] = S[v] > 0 ? M[j * k + v] / S[v] : 0.0;
  };
  auto refresh = [&]() {
    const index_t ch = features_chunk(n), nc = n_chunks(n, ch), w = d * k + k;
    std::vector<double> part(static_cast<size_t>(nc * w), 0.0);
    parallel_chunks(n, ch, n_threads, [&](index_t c, index_t b, index_t e) {
      std::vector<double> xc(static_cast<size_t>(d));
      double* p = part.data() + c * w;
      for (index_t i = b; i < e; ++i) {
        centred_row(X + i * d, mu, d, xc.data());
        const index_t a = labels[i];
        const double wi = weight_of(sw, i);
        for (index_t j = 0; j < d; ++j) p[j * k + a] += wi * xc[j];
        p[d * k + a] += wi;
      }
    });
    std::vector<double> tot(static_cast<size_t>(w));
    reduce_chunks(part, nc, w, tot.data());
    std::fill(members.begin(), members.end(), 0);
    for (index_t i = 0; i < n; ++i) ++members[labels[i]];
    for (index_t j = 0; j < d * k; ++j) M[j] = tot[j];
    for (index_t v = 0; v < k; ++v) {
      S[v] = tot[d * k + v];
      set_centroid(v);
    }
  };
  constexpr double kUp = 1.0 + 1e-12, kDown = 1.0 - 1e-12;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // bounds (see above); l_i = +inf when k == 1
  std::vector<double> ub(static_cast<size_t>(max_passes > 0 ? n : 0)), lb(ub.size());
  std::vector<double> Yr(static_cast<size_t>(d * k)), drift(static_cast<size_t>(k), 0.0);
  double max_drift = 0.0, f_min = 0.0;
  auto set_drift = [&](index_t v) {
    double r = 0;
    for (index_t j = 0; j < d; ++j) {
      const double diff = Yt[j * k + v] - Yr[j * k + v];
      r += diff * diff;
    }
    drift[v] = std::sqrt(r) * kUp;
  };
  double s_min = 0.0;
  auto set_globals = [&]() {  // largest drift and min_v S_v/(S_v+1) (0 when a cluster is empty)
    max_drift = 0.0;
    s_min = kInf;
    for (index_t v = 0; v < k; ++v) {
      max_drift = std::max(max_drift, drift[v]);
      s_min = std::min(s_min, S[v]);
    }
    f_min = s_min > 0 ? s_min / (s_min + 1.0) : 0.0;
  };
  // bounds of a row relative to Yr from its squared distances ev to the current centroids
  auto renew = [&](index_t i, index_t a, const double* ev) {
    double lo = kInf;
    for (index_t v = 0; v < k; ++v)
      if (v != a) {
        const double s = std::sqrt(ev[v]) * kDown;
        lo = std::min(lo, s - drift[v] - 1e-12 * (s + drift[v]));  // the subtraction rounded down
      }
    ub[i] = (std::sqrt(ev[a]) + drift[a]) * kUp;
    lb[i] = lo;
  };
  auto reference = [&]() {
    Yr = Yt;
    std::fill(drift.begin(), drift.end(), 0.0);
    parallel_chunks(n, features_chunk(n), n_threads, [&](index_t, index_t b, index_t e) {
      std::vector<double> xr(static_cast<size_t>(d)), er(static_cast<size_t>(k));
      for (index_t i = b; i < e; ++i) {
        centred_row(X + i * d, mu, d, xr.data());
        sq_dists(xr.data(), Yt.data(), d, k, er.data());
        renew(i, labels[i], er.data());
      }
    });
    set_globals();
  };
  Status st;
  refresh();
  std::vector<double> xc(static_cast<size_t>(d)), ev(static_cast<size_t>(k));
  index_t evaluated = n;
  for (index_t pass = 0; pass < max_passes; ++pass) {
    if (8 * evaluated > n) reference();
    evaluated = 0;
    index_t moved = 0;
    for (index_t i = 0; i < n; ++i) {
      if ((i & 1023) == 0 && should_stop()) {
        st.interrupted = true;
        return st;
      }
      const index_t a = labels[i];
      if (members[a] < 2) continue;  // never empty a cluster
      const double wi = weight_of(sw, i), Sr = S[a] - wi;
      if (Sr > 0) {  // (the bound for weight wi: f_min with S_b + wi)
        const double fi = sw == nullptr ? f_min : (s_min > 0 ? s_min / (s_min + wi) : 0.0);
        const double lo = lb[i] - max_drift - 1e-12 * (std::abs(lb[i]) + max_drift), hi = ub[i] + drift[a];
        if (lo > 0 && fi * lo * lo > S[a] / Sr * hi * hi * (1.0 + 1e-9)) continue;  // cannot move
      }
      ++evaluated;
      centred_row(X + i * d, mu, d, xc.data());
      sq_dists(xc.data(), Yt.data(), d, k, ev.data());
      // (Sr <= 0: the others in a weigh nothing, a's cost is 0 with or without i)
      const double rem = Sr > 0 ? wi * S[a] * ev[a] / Sr : 0.0;
      index_t best = a;
      double best_delta = 0.0;
      for (index_t b = 0; b < k; ++b) {
        if (b == a) continue;
        const double add = S[b] > 0 ? wi * S[b] * ev[b] / (S[b] + wi) : 0.0;
        const double delta = add - rem;
        const double eps = 1e-12 * (std::abs(add) + std::abs(rem));
        if (delta < best_delta - eps) {
          best_delta = delta;
          best = b;
        }
      }
      renew(i, best, ev.data());  // from the centroids ev was computed with
      if (best == a) continue;
      const index_t b = best;
      for (index_t j = 0; j < d; ++j) {
        M[j * k + a] -= wi * xc[j];
        M[j * k + b] += wi * xc[j];
      }
      S[a] -= wi;
      S[b] += wi;
      --members[a];
      ++members[b];
      set_centroid(a);
      set_centroid(b);
      set_drift(a);
      set_drift(b);
      set_globals();
      labels[i] = b;
      ++moved;
    }
    st.iterations = pass + 1;
    st.error = static_cast<double>(moved);
    if (moved == 0) {
      st.converged = true;
      break;
    }
    refresh();  // no drift from the incremental updates
    for (index_t v = 0; v < k; ++v) set_drift(v);
    set_globals();
  }
  if (!st.converged) refresh();
  *cost = features_hard_cost(X, n, d, mu, labels, Yt.data(), k, sw, n_threads);
  return st;
}

// ---- the SIMD-layer kernels, compiled in the per-instruction-set units (simd/isa_*.cpp) --------
#ifdef DANNEAL_SIMD_UNIT_ISA
// Internal linkage: each unit compiles its own copy for its instruction set (docs/design.md §7).
namespace {

// R rows x NV vectors of clusters from lane v0: acc += (x_j - y_j)^2 over j in order.
template <simd::Isa I, int R, int NV>
inline void fdists_block(const double* xc, index_t ds, index_t d, const double* Ytp, index_t kp, index_t v0,
                         double* e) {
  using S = simd::Vec<double, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NV; ++n) acc[r][n] = S::zero();
  for (index_t j = 0; j < d; ++j) {
    const double* y = Ytp + j * kp + v0;
    V yv[NV];
    for (int n = 0; n < NV; ++n) yv[n] = S::load(y + n * W);
    for (int r = 0; r < R; ++r) {
      const V x = S::bcast(xc + r * ds + j);
      for (int n = 0; n < NV; ++n) {
        const V t = x - yv[n];
        acc[r][n] = S::fma(t, t, acc[r][n]);
      }
    }
  }
  // (through a copy: the address of an element taken by the store would keep the array in memory,
  // stored back after every update)
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < NV; ++n) {
      const V a = acc[r][n];
      S::store(e + r * kp + v0 + n * W, a);
    }
}

template <simd::Isa I, int R>
inline void fdists_rows(const double* xc, index_t ds, index_t d, const double* Ytp, index_t kp, double* e) {
  // at most four accumulators (GCC keeps larger arrays of vectors in memory)
  constexpr index_t W = simd::Vec<double, I>::W;
  constexpr int NV = R >= 4 ? 1 : 4 / R;
  index_t v = 0;
  for (; v + NV * W <= kp; v += NV * W) fdists_block<I, R, NV>(xc, ds, d, Ytp, kp, v, e);
  for (; v < kp; v += W) fdists_block<I, R, 1>(xc, ds, d, Ytp, kp, v, e);
}

// NV vectors of clusters from lane v0 of features j0 .. j0 + NJ - 1: p += qw_r x_rj over r in order.
template <simd::Isa I, int NJ, int NV>
inline void fstats_block(const double* xc, index_t rows, index_t ds, const double* qw, index_t kp, index_t j0,
                         index_t v0, double* p) {
  using S = simd::Vec<double, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[NJ][NV];
  for (int a = 0; a < NJ; ++a)
    for (int n = 0; n < NV; ++n) acc[a][n] = S::load(p + (j0 + a) * kp + v0 + n * W);
  for (index_t r = 0; r < rows; ++r) {
    V q[NV];
    for (int n = 0; n < NV; ++n) q[n] = S::load(qw + r * kp + v0 + n * W);
    for (int a = 0; a < NJ; ++a) {
      const V x = S::bcast(xc + r * ds + j0 + a);
      for (int n = 0; n < NV; ++n) acc[a][n] = S::fma(q[n], x, acc[a][n]);
    }
  }
  for (int a = 0; a < NJ; ++a)
    for (int n = 0; n < NV; ++n) {
      const V s = acc[a][n];
      S::store(p + (j0 + a) * kp + v0 + n * W, s);
    }
}

template <simd::Isa I, int NJ>
inline void fstats_cols(const double* xc, index_t rows, index_t ds, const double* qw, index_t kp, index_t j0,
                        double* p) {
  constexpr index_t W = simd::Vec<double, I>::W;
  constexpr int NV = NJ >= 4 ? 1 : 4 / NJ;
  index_t v = 0;
  for (; v + NV * W <= kp; v += NV * W) fstats_block<I, NJ, NV>(xc, rows, ds, qw, kp, j0, v, p);
  for (; v < kp; v += W) fstats_block<I, NJ, 1>(xc, rows, ds, qw, kp, j0, v, p);
}

}  // namespace

template <simd::Isa I>
void features_dists_isa(const double* xc, index_t rows, index_t ds, index_t d, const double* Ytp, index_t kp,
                        double* e) {
  static_assert(kFeatLanes % simd::Vec<double, I>::W == 0, "padded clusters fill whole vectors");
  index_t r = 0;
  for (; r + 4 <= rows; r += 4) fdists_rows<I, 4>(xc + r * ds, ds, d, Ytp, kp, e + r * kp);
  for (; r < rows; ++r) fdists_rows<I, 1>(xc + r * ds, ds, d, Ytp, kp, e + r * kp);
}

template <simd::Isa I>
void features_stats_isa(const double* xc, index_t rows, index_t ds, const double* qw, index_t kp, double* p) {
  index_t j = 0;
  for (; j + 4 <= ds; j += 4) fstats_cols<I, 4>(xc, rows, ds, qw, kp, j, p);
  for (; j < ds; ++j) fstats_cols<I, 1>(xc, rows, ds, qw, kp, j, p);
}
template <class T, simd::Isa I>
bool features_soft_isa(const double* e, index_t rows, index_t kp, const double* bias, double temperature,
                       const double* wr, const double* qold, double* pb, double* qw, double* scratch, double* acc) {
  using S = simd::Vec<double, I>;
  using V = typename S::V;
  constexpr index_t W = S::W;
  const double inf = __builtin_inf();
  // -e / T as -e * (1 / T) and y / s as y * (1 / s) (s >= 1: the row maximum's term is 1), each
  // within an ulp of the quotients; a temperature whose reciprocal overflows goes the scalar way
  const double inv_t = 1.0 / temperature;
  if (!(inv_t < inf)) return false;
  const V vit = S::splat(-inv_t), vzero = S::zero();
  // pass 1: x = -(e - e_min) / T + bias (into scratch; e_min over the live lanes, so the row
  // maximum is exactly 0, never -inf), m = -e_min / T, y = exp(x) (into pb), s = sum y
  double* ms = scratch + rows * kp;
  double* ss = ms + rows;
  for (index_t r = 0; r < rows; ++r) {
    const double* er = e + r * kp;
    double* xr = scratch + r * kp;
    V vmin = S::splat(inf);
    for (index_t v = 0; v < kp; v += W) {
      const V b = S::load(bias + v), ev = S::load(er + v);
      // a live lane must have a finite potential: e * 0 is NaN for inf and NaN
      const V z = ev * vzero;
      for (int l = 0; l < W; ++l)
        if (b[l] == 0 && z[l] != 0) return false;
      vmin = S::min(vmin, ev - b);  // dead lanes: e + inf
    }
    double emin = vmin[0];
    for (int l = 1; l < W; ++l) emin = vmin[l] < emin ? vmin[l] : emin;
    const V vemin = S::splat(emin);
    V vs = vzero;
    for (index_t v = 0; v < kp; v += W) {
      // (a select, not + bias: a dead lane's e may lie below e_min, and its product then
      // overflows to +inf, +inf + -inf = NaN without FMA)
      const V b = S::load(bias + v);
      const V x = b == vzero ? (S::load(er + v) - vemin) * vit : b;
      S::store(xr + v, x);
      const V y = simd::exp<S>(x);
      S::store(pb + r * kp + v, y);
      vs = vs + y;
    }
    ms[r] = std::min(1e300, std::max(-1e300, -emin * inv_t));  // as the scalar rows
    ss[r] = S::hsum(vs);
  }
  // log s of every row (vector log, lanes in rows)
  double* ls = ss + rows;
  {
    index_t r = 0;
    for (; r + W <= rows; r += W) S::store(ls + r, simd::log<S>(S::load(ss + r)));
    if (r < rows) S::store_partial(ls + r, simd::log<S>(S::load_partial(ss + r, rows - r, 1.0)), rows - r);
  }
  // pass 2: p = y / s (rounded to T), the entropy -sum p (x - m - log s) over p > 0 and a negative
  // log, the largest change, p and w p
  double ent = 0, lzs = 0, mdel = acc[2];
  for (index_t r = 0; r < rows; ++r) {
    const V vis = S::splat(1.0 / ss[r]), vls = S::splat(ls[r]), vw = S::splat(wr[r]);
    V vent = vzero, vdel = vzero;
    for (index_t v = 0; v < kp; v += W) {
      V pv = S::load(pb + r * kp + v) * vis;
      if constexpr (sizeof(T) == sizeof(float))
        pv = __builtin_convertvector(__builtin_convertvector(pv, typename S::Narrow), V);
      const V lp = S::load(scratch + r * kp + v) - vls;
      vent = vent + ((pv > vzero) & (lp < vzero) ? pv * lp : vzero);
      const V dlt = pv - S::load(qold + r * kp + v);
      vdel = S::max(vdel, S::max(dlt, -dlt));
      S::store(pb + r * kp + v, pv);
      S::store(qw + r * kp + v, vw * pv);
    }
    ent -= wr[r] * S::hsum(vent);
    lzs += wr[r] * (ms[r] + ls[r]);
    mdel = std::max(mdel, S::hmax(vdel));
  }
  acc[0] += ent;
  acc[1] += lzs;
  acc[2] = mdel;
  return true;
}
#endif  // DANNEAL_SIMD_UNIT_ISA

}  // namespace danneal::pairwise
