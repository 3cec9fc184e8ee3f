// Quadratic assignment: swap local search over many starting permutations (docs/softassign.md; issue 14 §2).
//
// Objective  f(p) = sum_ij A_ij B_{p(i) p(j)}  (minimised; maximize: B is negated).
// The change of f when p(r) and p(s) are swapped is, with pr = p(r), ps = p(s),
//   D(r,s) = (A_rr - A_ss)(B_{ps ps} - B_{pr pr}) + (A_rs - A_sr)(B_{ps pr} - B_{pr ps})
//          + sum_{k != r,s} (A_kr - A_ks)(B_{pk ps} - B_{pk pr}) + (A_rk - A_sk)(B_{ps pk} - B_{pr pk})   O(n).
// The table D of all pairs is maintained: after a swap of (u, v), only the terms k = u, v change in
// D(r, s) for {r, s} disjoint from {u, v}; with the new p and
//   x_r = A_ur - A_vr,  y_r = B_{p(u) p(r)} - B_{p(v) p(r)},  x2_r = A_ru - A_rv,  y2_r = B_{p(r) p(u)} - B_{p(r) p(v)}
// the update is  D(r,s) += (x_r - x_s)(y_s - y_r) + (x2_r - x2_s)(y2_s - y2_r)   (O(1) each), and the
// O(n) pairs touching u or v are recomputed exactly.  One best-improvement move therefore costs O(n^2).
// Each move is checked with the exact O(n) delta before it is applied (the maintained table
// accumulates rounding); when the table shows no improving move it is recomputed exactly once more,
// so the result is a true local optimum: no swap of two movable positions improves f by more than
// the threshold 1e-12 * max|A| * max|B| * n.
// Kicks (iterated local search): a few random swaps, then a descent on the maintained table
// (O(n^2) per swap, no O(n^3) recomputation), kept only if the objective (recomputed exactly, O(n^2))
// improves; the search ends with one exact recomputation and descent.
//
// Restarts are independent: each start is searched by one thread, in batches between which the
// calling thread checks should_stop(); results never depend on the thread count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "danneal/common.hpp"

namespace danneal::qap {

namespace detail {

struct Problem {
  index_t n;
  const double* A;               // n x n
  const double* B;               // n x n, negated for maximize
  const unsigned char* movable;  // n
  double thr;                    // a move improves when its delta < thr (< 0)
};

inline double swap_delta(const Problem& P, const index_t* p, index_t r, index_t s) {
  const index_t n = P.n;
  const double* A = P.A;
  const double* B = P.B;
  const index_t pr = p[r], ps = p[s];
  double d = (A[r * n + r] - A[s * n + s]) * (B[ps * n + ps] - B[pr * n + pr]) +
             (A[r * n + s] - A[s * n + r]) * (B[ps * n + pr] - B[pr * n + ps]);
  for (index_t k = 0; k < n; ++k) {
    if (k == r || k == s) continue;
    const index_t pk = p[k];
    d += (A[k * n + r] - A[k * n + s]) * (B[pk * n + ps] - B[pk * n + pr]) +
         (A[r * n + k] - A[s * n + k]) * (B[ps * n + pk] - B[pr * n + pk]);
  }
  return d;
}

// D (n x n, upper triangle r < s used) for every movable pair.
inline void recompute(const Problem& P, const index_t* p, double* D) {
  const index_t n = P.n;
  for (index_t r = 0; r < n; ++r)
    for (index_t s = r + 1; s < n; ++s) D[r * n + s] = (P.movable[r] && P.movable[s]) ? swap_delta(P, p, r, s) : 0.0;
}

// f(p), summed row by row in index order.
inline double objective(const Problem& P, const index_t* p) {
  const index_t n = P.n;
  double f = 0.0;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) f += P.A[i * n + j] * P.B[p[i] * n + p[j]];
  return f;
}

// One start's search state: the permutation, the table of swap deltas and its workspace.
struct State {
  index_t* p;      // n (the caller's row of perms)
  double* D;       // n x n
  double* Dsave;   // n x n
  index_t* psave;  // n
  double* x;       // 4 n: x, y, x2, y2
  bool fresh = false;
  std::uint64_t rng = 0;
  index_t moves = 0;
};

// Swap positions u < v of p and update the table.
inline void apply_swap(const Problem& P, State& S, index_t u, index_t v) {
  const index_t n = P.n;
  const double* A = P.A;
  const double* B = P.B;
  index_t* p = S.p;
  double* D = S.D;
  double *x = S.x, *y = S.x + n, *x2 = S.x + 2 * n, *y2 = S.x + 3 * n;
  std::swap(p[u], p[v]);
  S.fresh = false;
  const index_t pu = p[u], pv = p[v];
  for (index_t r = 0; r < n; ++r) {
    x[r] = A[u * n + r] - A[v * n + r];
    y[r] = B[pu * n + p[r]] - B[pv * n + p[r]];
    x2[r] = A[r * n + u] - A[r * n + v];
    y2[r] = B[p[r] * n + pu] - B[p[r] * n + pv];
  }
  for (index_t r = 0; r < n; ++r) {
    if (!P.movable[r]) continue;
    for (index_t s = r + 1; s < n; ++s) {
      if (!P.movable[s]) continue;
      if (r == u || r == v || s == u || s == v)
        D[r * n + s] = swap_delta(P, p, r, s);
      else
        D[r * n + s] = D[r * n + s] + ((x[r] - x[s]) * (y[s] - y[r]) + (x2[r] - x2[s]) * (y2[s] - y2[r]));
    }
  }
}

// Best-improvement descent (at most max_moves swaps in all for this start).  With verify, it ends
// only when the exactly recomputed table shows no improving swap (a true local optimum); without,
// when the maintained table shows none (the kicks' cheap descents; each move is still checked exactly).
inline void descend(const Problem& P, State& S, index_t max_moves, bool verify) {
  const index_t n = P.n;
  const double* D = S.D;
  const double inf = std::numeric_limits<double>::infinity();
  while (S.moves < max_moves) {
    double best = inf;
    index_t br = -1, bs = -1;
    for (index_t r = 0; r < n; ++r) {
      if (!P.movable[r]) continue;
      for (index_t s = r + 1; s < n; ++s)
        if (P.movable[s] && D[r * n + s] < best) {
          best = D[r * n + s];
          br = r;
          bs = s;
        }
    }
    if (!(best < P.thr)) {
      if (S.fresh || !verify) break;
      recompute(P, S.p, S.D);
      S.fresh = true;
      continue;
    }
    if (!S.fresh && !(swap_delta(P, S.p, br, bs) < P.thr)) {
      recompute(P, S.p, S.D);
      S.fresh = true;
      continue;
    }
    apply_swap(P, S, br, bs);
    ++S.moves;
  }
}

inline std::uint64_t splitmix64(std::uint64_t& s) {
  s += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = s;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// One kick: kick_size random swaps of movable positions (idx lists them, nm >= 2), then a descent;
// kept when the objective improves by more than the threshold, undone otherwise.
inline void kick(const Problem& P, State& S, const index_t* idx, index_t nm, index_t kick_size, index_t max_moves,
                 double& f) {
  const index_t n = P.n;
  std::copy(S.p, S.p + n, S.psave);
  std::copy(S.D, S.D + n * n, S.Dsave);
  const bool fresh = S.fresh;
  const index_t moves = S.moves;
  for (index_t t = 0; t < kick_size; ++t) {
    const index_t a = static_cast<index_t>(splitmix64(S.rng) % static_cast<std::uint64_t>(nm));
    index_t b = static_cast<index_t>(splitmix64(S.rng) % static_cast<std::uint64_t>(nm - 1));
    if (b >= a) ++b;
    apply_swap(P, S, idx[std::min(a, b)], idx[std::max(a, b)]);
  }
  descend(P, S, max_moves, false);
  const double fn = objective(P, S.p);
  if (fn - f < P.thr) {
    f = fn;
    return;
  }
  std::copy(S.psave, S.psave + n, S.p);
  std::copy(S.Dsave, S.Dsave + n * n, S.D);
  S.fresh = fresh;
  S.moves = moves;
}

}  // namespace detail

// Best-improvement swap local search from each of the R starting permutations in perms (R x n,
// updated in place), then n_kicks perturbation restarts per start (iterated local search: kick_size
// random swaps of movable positions drawn with the start's seed, a descent, kept only if the
// objective improves).  movable (n, may be null: all movable) marks the positions that may move
// (partial matches stay put).  moves (R) receives the descent swaps kept per start (at most
// max_moves per descent).  Parallel over starts; every start's result is independent of the thread count.
template <class T>
Status local_search(const T* A, const T* B, index_t n, const unsigned char* movable, bool maximize, index_t max_moves,
                    index_t n_kicks, index_t kick_size, const std::uint64_t* seeds, index_t R, int n_threads,
                    index_t* perms, index_t* moves) {
  if (n < 1) throw std::invalid_argument("qap_local_search: n must be >= 1");
  if (R < 0 || max_moves < 0 || n_kicks < 0 || kick_size < 1)
    throw std::invalid_argument("qap_local_search: R, max_moves, n_kicks must be >= 0 and kick_size >= 1");
  const size_t nn = static_cast<size_t>(n) * static_cast<size_t>(n);
  std::vector<char> seen(static_cast<size_t>(n));
  for (index_t q = 0; q < R; ++q) {
    std::fill(seen.begin(), seen.end(), 0);
    for (index_t i = 0; i < n; ++i) {
      const index_t v = perms[q * n + i];
      if (v < 0 || v >= n || seen[v]) throw std::invalid_argument("qap_local_search: perms row is not a permutation");
      seen[v] = 1;
    }
  }
  check_alloc(static_cast<double>(R) * (2.0 * static_cast<double>(nn) + 5.0 * n), 8.0,
              "qap_local_search: the search tables of R=" + std::to_string(R) + " starts");
  std::vector<double> Ad(nn), Bd(nn);
  const double sgn = maximize ? -1.0 : 1.0;
  double sa = 0, sb = 0;
  for (size_t t = 0; t < nn; ++t) {
    Ad[t] = static_cast<double>(A[t]);
    Bd[t] = sgn * static_cast<double>(B[t]);
    sa = std::max(sa, std::abs(Ad[t]));
    sb = std::max(sb, std::abs(Bd[t]));
  }
  std::vector<unsigned char> mv(static_cast<size_t>(n), 1);
  if (movable != nullptr) std::copy(movable, movable + n, mv.begin());
  std::vector<index_t> idx;
  for (index_t i = 0; i < n; ++i)
    if (mv[i]) idx.push_back(i);
  const index_t nm = static_cast<index_t>(idx.size());
  const detail::Problem P{n, Ad.data(), Bd.data(), mv.data(),
                          -1e-12 * std::max(sa * sb * static_cast<double>(n), 1e-300)};
  const size_t per = 2 * nn + 4 * static_cast<size_t>(n);
  std::vector<double> work(static_cast<size_t>(R) * per);
  std::vector<index_t> pwork(static_cast<size_t>(R) * static_cast<size_t>(n));
  std::vector<detail::State> S(static_cast<size_t>(R));
  std::vector<double> f(static_cast<size_t>(R));
  for (index_t q = 0; q < R; ++q) {
    double* w = work.data() + static_cast<size_t>(q) * per;
    S[q].p = perms + q * n;
    S[q].D = w;
    S[q].Dsave = w + nn;
    S[q].x = w + 2 * nn;
    S[q].psave = pwork.data() + q * n;
    S[q].rng = seeds != nullptr ? seeds[q] : static_cast<std::uint64_t>(q);
  }
  const int nt = effective_threads(n_threads, std::max<index_t>(R, 1));
  Status st;
  // round 0: the descent from every start; then the kicks, kKicks per round; should_stop() between rounds
  constexpr index_t kKicks = 16;
  const index_t kicks = nm >= 2 ? n_kicks : 0;
  for (index_t k0 = -1; k0 < kicks; k0 += (k0 < 0 ? 1 : kKicks)) {
    if (should_stop()) {
      st.interrupted = true;
      return st;
    }
    const index_t k1 = k0 < 0 ? 0 : std::min(kicks, k0 + kKicks);
    parallel_chunks(R, 1, nt, [&](index_t, index_t lo, index_t hi) {
      for (index_t q = lo; q < hi; ++q) {
        detail::State& s = S[q];
        if (k0 < 0) {
          detail::recompute(P, s.p, s.D);
          s.fresh = true;
          detail::descend(P, s, max_moves, true);
          f[q] = detail::objective(P, s.p);
          continue;
        }
        for (index_t k = k0; k < k1; ++k) {
          const index_t budget = s.moves + max_moves;
          detail::kick(P, s, idx.data(), nm, std::min(kick_size, nm), budget, f[q]);
        }
        if (k1 == kicks) {  // the last round: make sure the result is a true local optimum
          detail::recompute(P, s.p, s.D);
          s.fresh = true;
          detail::descend(P, s, s.moves + max_moves, true);
        }
      }
    });
  }
  for (index_t q = 0; q < R; ++q) moves[q] = S[q].moves;
  st.converged = true;
  st.iterations = R;
  return st;
}

}  // namespace danneal::qap
