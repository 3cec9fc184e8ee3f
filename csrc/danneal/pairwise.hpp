// Pairwise clustering by deterministic annealing (Hofmann & Buhmann 1997), docs/guide/pairwise.md.
//
// One sweep = one streaming pass over D (DQ = D @ Q, with the per-chunk partials of the cluster
// masses S_v = sum_i q_iv and the within-cluster sums c_v = sum_i q_iv (DQ)_iv), then an O(n k)
// pass that forms the potentials, the log-domain softmax at temperature T and the statistics.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "danneal/common.hpp"
#include "danneal/dq.hpp"

namespace danneal::pairwise {

enum Form : int {
  kDetan = 0,     // detan's exact (leave-one-out) potentials
  kGradient = 1,  // large-N form, the exact gradient of H: (DQ)/S - c/(2 S^2)
};

// Masses below this are treated as this (keeps c/S and c/S^2 finite; tiny^2 is a normal double).
constexpr double kTinyMass = 1e-150;

// Sample weights (issue 17 §3): `w` (length n, finite, >= 0) or nullptr for all ones.  Object i
// of weight w_i counts as w_i copies of itself: every sum over objects j of q_jv becomes one of
// w_j q_jv, so S_v = sum_j w_j q_jv, (DQ)_iv = sum_j D_ij w_j q_jv, c_v = sum_i w_i q_iv (DQ)_iv,
// H = sum_v c_v / (2 S_v), and the potentials keep their form (docs/guide/pairwise.md).  Entropy
// and logZ statistics are weighted sums too.  Weight 1 multiplies exactly, so w = ones gives the
// bits of w = nullptr.
inline double weight_of(const double* w, index_t i) {
  return w ? w[i] : 1.0;
}

// Sum of all entries (double accumulation per chunk, chunk-order reduction).  A pure streaming
// read: the benchmarks use it to measure the machine's read bandwidth next to the sweeps.
template <class T>
double stream_sum(const T* x, index_t n_rows, index_t n_cols, int n_threads) {
  const index_t nc = n_chunks(n_rows);
  std::vector<double> part(static_cast<size_t>(nc), 0.0);
  parallel_chunks(n_rows, kChunk, n_threads, [&](index_t c, index_t b, index_t e) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (index_t i = b; i < e; ++i) {
      const T* r = x + i * n_cols;
      index_t j = 0;
      for (; j + 8 <= n_cols; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] += static_cast<double>(r[j + l]);
      for (; j < n_cols; ++j) acc[0] += static_cast<double>(r[j]);
    }
    double s = 0;
    for (int l = 0; l < 8; ++l) s += acc[l];
    part[c] = s;
  });
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// Row softmax of -H/T: P_iv = e_iv / s_i with e_iv = exp(-(H_iv - hmin_i)/T) (<= 1, exactly 1 at
// the row minimum) and s_i = sum_v e_iv >= 1; logZ_i = LSE_v(-H_iv/T) = -hmin_i/T + log s_i.
// Shifting by the minimum before dividing by T keeps the normalisation exact at any T > 0: a large
// common offset never swallows log s (the old exp(x - (max + log s)) did), and -H/T overflowing
// for a tiny T only flushes the losing entries to 0.  One exp per entry.
// temperature must be > 0.  Rows containing a non-finite value are flagged in the status and
// left as the uniform distribution.
template <class T>
Status softmax_rows(const T* H, index_t n, index_t k, double temperature, int n_threads, T* P, T* logZ) {
  if (!(temperature > 0) || !std::isfinite(temperature))
    throw std::invalid_argument("temperature must be finite and > 0");
  const index_t nc = n_chunks(n);
  std::vector<char> bad(static_cast<size_t>(nc), 0);
  parallel_chunks(n, kChunk, n_threads, [&](index_t c, index_t b, index_t e) {
    std::vector<double> x(static_cast<size_t>(k));
    for (index_t i = b; i < e; ++i) {
      const T* h = H + i * k;
      double hmin = std::numeric_limits<double>::infinity();
      bool finite = true;
      for (index_t v = 0; v < k; ++v) {
        const double hv = static_cast<double>(h[v]);
        finite = finite && std::isfinite(hv);
        hmin = std::min(hmin, hv);
      }
      if (!finite) {
        bad[c] = 1;
        for (index_t v = 0; v < k; ++v) P[i * k + v] = static_cast<T>(1.0 / k);
        logZ[i] = static_cast<T>(std::log(static_cast<double>(k)));
        continue;
      }
      double s = 0;
      for (index_t v = 0; v < k; ++v) {
        const double hv = static_cast<double>(h[v]);
        const double dv = hv - hmin;  // >= 0; overflows only for a spread beyond DBL_MAX
        x[v] = std::exp(std::isinf(dv) ? -(hv / temperature - hmin / temperature) : -dv / temperature);
        s += x[v];
      }
      for (index_t v = 0; v < k; ++v) P[i * k + v] = static_cast<T>(x[v] / s);
      logZ[i] = static_cast<T>(-hmin / temperature + std::log(s));
    }
  });
  Status st;
  st.converged = true;
  for (char b : bad) st.numerical_error = st.numerical_error || b;
  return st;
}

// DQ = D @ (w Q) (n x k, dtype T) and c_v = sum_i w_i q_iv (DQ)_iv, S_v = sum_i w_i q_iv (double,
// chunk order); w as weight_of (nullptr: all ones).
template <class T>
void pairwise_dq(const T* D, index_t n, const T* Q, index_t k, const double* w, int n_threads, T* DQ, double* c,
                 double* S) {
  std::vector<T> Qt(static_cast<size_t>(n * k));
  for (index_t i = 0; i < n; ++i)
    for (index_t v = 0; v < k; ++v)
      Qt[v * n + i] = w ? static_cast<T>(w[i] * static_cast<double>(Q[i * k + v])) : Q[i * k + v];
  const index_t nc = n_chunks(n);
  std::vector<double> part(static_cast<size_t>(nc * 2 * k), 0.0);
  parallel_chunks(n, kChunk, n_threads, [&](index_t ch, index_t b, index_t e) {
    simd::dq_rows<T>(D, n, n, Qt.data(), k, b, e, DQ + b * k);
    double* pc = part.data() + ch * 2 * k;
    double* ps = pc + k;
    for (index_t i = b; i < e; ++i)
      for (index_t v = 0; v < k; ++v) {
        const double q = weight_of(w, i) * static_cast<double>(Q[i * k + v]);
        pc[v] += q * static_cast<double>(DQ[i * k + v]);
        ps[v] += q;
      }
  });
  std::vector<double> both(static_cast<size_t>(2 * k));
  reduce_chunks(part, nc, 2 * k, both.data());
  for (index_t v = 0; v < k; ++v) {
    c[v] = both[v];
    S[v] = both[k + v];
  }
}

// Potential of object i for cluster v (double), given its own q_iv and the cluster statistics.
// An empty cluster (S_v below kTinyMass) gets +inf: it attracts no object.  (detan itself divides
// 0/0 there; giving it potential 0 instead would pull every object into it at low temperature.)
inline double potential(int form, double dq, double q, double c, double S) {
  if (!(S >= kTinyMass)) return std::numeric_limits<double>::infinity();
  if (form == kDetan) {
    const double Sm1 = std::max(S - q, kTinyMass);
    return (dq - c / (2.0 * Sm1)) / (Sm1 + 1.0);
  }
  return dq / S - c / (2.0 * S * S);
}

// A potential is acceptable if it is finite or the +inf of an empty cluster.
inline bool potential_ok(double h, double S) {
  return std::isfinite(h) || (h > 0 && !(S >= kTinyMass));
}

// Cost H(Q) = sum_v c_v / (2 S_v) (empty clusters contribute 0).
// Zero temperature: the row q becomes one-hot at its lowest potential x (lowest index on ties);
// md is raised to the largest change of an entry.  Returns the chosen cluster.
template <class T>
inline index_t harden_row(const double* x, T* q, index_t k, double& md) {
  index_t best = 0;
  for (index_t v = 1; v < k; ++v)
    if (x[v] < x[best]) best = v;
  for (index_t v = 0; v < k; ++v) {
    const T nv = static_cast<T>(v == best ? 1 : 0);
    md = std::max(md, std::abs(static_cast<double>(nv) - static_cast<double>(q[v])));
    q[v] = nv;
  }
  return best;
}

inline double cost_from_stats(const double* c, const double* S, index_t k) {
  double h = 0;
  for (index_t v = 0; v < k; ++v)
    if (S[v] > kTinyMass) h += c[v] / (2.0 * S[v]);
  return h;
}

// Potentials H (n x k) for assignments Q (weights w as in pairwise_dq).
template <class T>
void pairwise_potential(const T* D, index_t n, const T* Q, index_t k, const double* w, int form, int n_threads, T* H) {
  std::vector<T> DQ(static_cast<size_t>(n * k));
  std::vector<double> c(static_cast<size_t>(k)), S(static_cast<size_t>(k));
  pairwise_dq(D, n, Q, k, w, n_threads, DQ.data(), c.data(), S.data());
  parallel_chunks(n, kChunk, n_threads, [&](index_t, index_t b, index_t e) {
    for (index_t i = b; i < e; ++i)
      for (index_t v = 0; v < k; ++v)
        H[i * k + v] = static_cast<T>(potential(form, DQ[i * k + v], Q[i * k + v], c[v], S[v]));
  });
}

// Statistics written by pairwise_fixed_point (indices into its `stats` output).
enum Stat : int {
  kCost = 0,      // H(Q) of the assignments that entered the last sweep
  kEntropy = 1,   // -sum q log q of the returned assignments
  kLogZ = 2,      // sum_i logZ_i of the last softmax (0 at T = 0)
  kMaxDelta = 3,  // max |Q_new - Q_old| of the last sweep
  kNumStats = 4
};

// Up to max_iter synchronous sweeps Q <- softmax(-h(Q)/T) from Q0, stopping early when the largest
// change of an assignment is < tol (tol = 0: exactly max_iter sweeps).  temperature = 0 gives hard
// assignments (argmin of the potentials, lowest index on ties).  Result in Q (n x k).  Weights w as
// in pairwise_dq (the entropy and logZ statistics are weighted sums).
template <class T>
Status pairwise_fixed_point(const T* D, index_t n, const T* Q0, index_t k, const double* w, double temperature,
                            int form, index_t max_iter, double tol, int n_threads, T* Q, double* stats) {
  if (!(temperature >= 0)) throw std::invalid_argument("temperature must be >= 0");
  if (form != kDetan && form != kGradient) throw std::invalid_argument("unknown potential form");
  for (index_t t = 0; t < n * k; ++t) Q[t] = Q0[t];
  for (int s = 0; s < kNumStats; ++s) stats[s] = 0.0;
  std::vector<T> DQ(static_cast<size_t>(n * k));
  std::vector<double> c(static_cast<size_t>(k)), S(static_cast<size_t>(k));
  const index_t nc = n_chunks(n);
  // per chunk: entropy, logZ, max delta, bad flag
  std::vector<double> part(static_cast<size_t>(nc * 4));
  Status st;
  for (index_t it = 0; it < max_iter; ++it) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    pairwise_dq(D, n, Q, k, w, n_threads, DQ.data(), c.data(), S.data());
    stats[kCost] = cost_from_stats(c.data(), S.data(), k);
    std::fill(part.begin(), part.end(), 0.0);
    parallel_chunks(n, kChunk, n_threads, [&](index_t ch, index_t b, index_t e) {
      std::vector<double> x(static_cast<size_t>(k)), ex(static_cast<size_t>(k));
      double ent = 0, lzs = 0, md = 0, bad = 0;
      for (index_t i = b; i < e; ++i) {
        T* q = Q + i * k;
        const T* dq = DQ.data() + i * k;
        bool finite = true;
        for (index_t v = 0; v < k; ++v) {
          x[v] = potential(form, dq[v], q[v], c[v], S[v]);
          finite = finite && potential_ok(x[v], S[v]);
        }
        if (!finite) {  // keep the row as it is; the caller is told
          bad = 1;
          continue;
        }
        if (temperature == 0) {
          harden_row(x.data(), q, k, md);
          continue;
        }
        // softmax of -x/T shifted by the row minimum (see softmax_rows): y = -(x - xmin)/T <= 0,
        // e = exp(y), p = e / s; +inf potentials (empty clusters) give exactly 0
        double xmin = std::numeric_limits<double>::infinity();
        for (index_t v = 0; v < k; ++v) xmin = std::min(xmin, x[v]);
        if (!(xmin < std::numeric_limits<double>::infinity())) {  // every cluster empty: no softmax
          bad = 1;
          continue;
        }
        double s = 0;
        for (index_t v = 0; v < k; ++v) {
          x[v] = -(x[v] - xmin) / temperature;
          ex[v] = std::exp(x[v]);
          s += ex[v];
        }
        const double ls = std::log(s), wi = weight_of(w, i);
        lzs += wi * (-xmin / temperature + ls);
        for (index_t v = 0; v < k; ++v) {
          const double lp = x[v] - ls;
          const T nv = static_cast<T>(ex[v] / s);
          const double pv = static_cast<double>(nv);
          if (pv > 0 && lp < 0) ent -= wi * pv * lp;
          md = std::max(md, std::abs(pv - static_cast<double>(q[v])));
          q[v] = nv;
        }
      }
      double* p = part.data() + ch * 4;
      p[0] = ent;
      p[1] = lzs;
      p[2] = md;
      p[3] = bad;
    });
    double ent = 0, lzs = 0, md = 0;
    bool bad = false;
    for (index_t ch = 0; ch < nc; ++ch) {
      ent += part[ch * 4 + 0];
      lzs += part[ch * 4 + 1];
      md = std::max(md, part[ch * 4 + 2]);
      bad = bad || part[ch * 4 + 3] != 0;
    }
    stats[kEntropy] = ent;
    stats[kLogZ] = lzs;
    stats[kMaxDelta] = md;
    st.iterations = it + 1;
    st.error = md;
    st.numerical_error = st.numerical_error || bad;
    if (md < tol) {
      st.converged = true;
      break;
    }
  }
  return st;
}

// Sequential single-object moves on a hard partition (Hartigan-style local search): for each
// object in turn, move it to the cluster where the exact change of H is most negative,
//   remove i from a: H drops by w_i ((DQ)_ia/(S_a - w_i) - c_a/(2 S_a (S_a - w_i))),
//   add i to b:      H rises by w_i ((DQ)_ib - c_b/(2 S_b)) / (S_b + w_i)   (detan's potential),
// with the weighted masses S and (DQ) = D (w Q) (w = 1 without weights), updating DQ, c and S
// incrementally (one row of D per move).  Clusters are never emptied (counted in members); an
// empty cluster takes the first object whose removal saves more than 0.  Stops after a pass
// without moves or after max_passes passes.  Labels (int64, in [0, k)) are updated in place;
// *cost receives H of the final partition (computed afresh, not incrementally).
template <class T>
Status pairwise_local_search(const T* D, index_t n, index_t k, const double* w, index_t max_passes, int n_threads,
                             std::int64_t* labels, double* cost) {
  for (index_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= k) throw std::invalid_argument("labels must lie in [0, n_clusters)");
  std::vector<T> onehot(static_cast<size_t>(n * k), T(0)), dqT(static_cast<size_t>(n * k));
  std::vector<double> dq(static_cast<size_t>(n * k)), c(static_cast<size_t>(k)), S(static_cast<size_t>(k));
  std::vector<index_t> members(static_cast<size_t>(k));
  auto refresh = [&]() {
    std::fill(onehot.begin(), onehot.end(), T(0));
    std::fill(members.begin(), members.end(), 0);
    for (index_t i = 0; i < n; ++i) {
      onehot[i * k + labels[i]] = T(1);
      ++members[labels[i]];
    }
    pairwise_dq<T>(D, n, onehot.data(), k, w, n_threads, dqT.data(), c.data(), S.data());
    for (index_t t = 0; t < n * k; ++t) dq[t] = dqT[t];
  };
  Status st;
  refresh();
  for (index_t pass = 0; pass < max_passes; ++pass) {
    index_t moved = 0;
    for (index_t i = 0; i < n; ++i) {
      if ((i & 63) == 0 && should_stop()) {
        st.interrupted = true;
        return st;
      }
      const index_t a = labels[i];
      if (members[a] < 2) continue;  // never empty a cluster
      const double* di = dq.data() + i * k;
      const double wi = weight_of(w, i), Sr = S[a] - wi;
      // (Sr <= 0: the others in a weigh nothing, a's cost is 0 with or without i)
      const double rem = Sr > 0 ? wi * (di[a] / Sr - c[a] / (2.0 * S[a] * Sr)) : 0.0;
      index_t best = a;
      double best_delta = 0.0;
      for (index_t b = 0; b < k; ++b) {
        if (b == a) continue;
        const double add = S[b] > 0 ? wi * (di[b] - c[b] / (2.0 * S[b])) / (S[b] + wi) : 0.0;
        const double delta = add - rem;
        const double eps = 1e-12 * (std::abs(add) + std::abs(rem));
        if (delta < best_delta - eps) {
          best_delta = delta;
          best = b;
        }
      }
      if (best == a) continue;
      const index_t b = best;
      c[a] -= 2.0 * wi * di[a];
      c[b] += 2.0 * wi * di[b];
      S[a] -= wi;
      S[b] += wi;
      --members[a];
      ++members[b];
      labels[i] = b;
      const T* row = D + i * n;  // D symmetric: row i is column i
      for (index_t j = 0; j < n; ++j) {
        const double d = wi * static_cast<double>(row[j]);
        dq[j * k + a] -= d;
        dq[j * k + b] += d;
      }
      ++moved;
    }
    st.iterations = pass + 1;
    st.error = static_cast<double>(moved);
    if (moved == 0) {
      st.converged = true;
      break;
    }
    refresh();  // no drift from the incremental updates
  }
  if (!st.converged) refresh();
  *cost = cost_from_stats(c.data(), S.data(), k);
  return st;
}

}  // namespace danneal::pairwise
