// The streaming product DQ = D @ Q for a dense row-major D (n_rows x n) and Q given transposed
// (Qt, k x n).  This is the one pass over D that every pairwise sweep makes (docs/guide/pairwise.md, docs/performance.md).
//
// Written once with GCC/Clang vector extensions and compiled in two translation units
// (csrc/danneal/simd/dq_*.cpp): baseline x86-64 (SSE2) and AVX2+FMA; dq_rows() picks one at run
// time.  Per row the sum order is fixed (vector lanes, then lanes in order, then the tail), so
// results do not depend on the thread count.
#pragma once

#include <cstdlib>
#include <cstring>

#include "danneal/common.hpp"

namespace danneal::simd {

template <class T>
struct DQKernel {
  // Rows [i0, i1) of D (row stride ld) times Qt (k x n, row stride n) into out (rows x k).
  using Fn = void (*)(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out);
};

void dq_rows_baseline(const double*, index_t, index_t, const double*, index_t, index_t, index_t, double*);
void dq_rows_baseline(const float*, index_t, index_t, const float*, index_t, index_t, index_t, float*);
void dq_rows_avx2(const double*, index_t, index_t, const double*, index_t, index_t, index_t, double*);
void dq_rows_avx2(const float*, index_t, index_t, const float*, index_t, index_t, index_t, float*);
bool have_avx2_build();

inline bool cpu_has_avx2() {
  static const bool ok = have_avx2_build() && danneal::cpu_supports_avx2_fma();
  return ok;
}

template <class T>
inline void dq_rows(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out) {
  if (cpu_has_avx2())
    dq_rows_avx2(D, ld, n, Qt, k, i0, i1, out);
  else
    dq_rows_baseline(D, ld, n, Qt, k, i0, i1, out);
}

// ---- the generic implementation, included by the simd/*.cpp files only -----------------------
#ifdef DANNEAL_DQ_IMPL
// Internal linkage: each simd/*.cpp gets its own copy compiled for its instruction set, so the
// linker can never merge an AVX2 instantiation into the baseline path.  For the same reason the
// implementation uses no out-of-line standard-library templates (plain malloc/free).
namespace {

template <class T>
struct Vec {
  static constexpr int W = 32 / sizeof(T);
  typedef T type __attribute__((vector_size(32)));
};

template <class V, class T>
inline V loadu(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

constexpr int kRows = 3;     // rows of D per micro-kernel call (3 x 4 tiles: 12 accumulators)
constexpr int kTile = 4;     // columns of Q per micro-kernel call
// j-block length: the block of Qt (k x JB) used by one row group stays in L1 (about 16 KB), and
// so do the kRows D segments it multiplies while the column tiles are swept.
template <class T>
inline index_t j_block(index_t k) {
  index_t jb = static_cast<index_t>(16384 / (sizeof(T) * static_cast<size_t>(k)));
  jb = std::max<index_t>(64, std::min<index_t>(4096, jb));
  return (jb / Vec<T>::W) * Vec<T>::W;
}

template <class T, int R, int KT>
inline void micro(const T* const* drow, const T* Qt, index_t n, index_t j0, index_t j1,
                  typename Vec<T>::type* acc /* R x KT */) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::W;
  V a[R][KT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KT; ++t) a[r][t] = acc[r * KT + t];
  for (index_t j = j0; j < j1; j += W) {
    V d[R];
    for (int r = 0; r < R; ++r) d[r] = loadu<V>(drow[r] + j);
    for (int t = 0; t < KT; ++t) {
      const V q = loadu<V>(Qt + t * n + j);
      for (int r = 0; r < R; ++r) a[r][t] += d[r] * q;
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KT; ++t) acc[r * KT + t] = a[r][t];
}

template <class T, int R>
inline void tile_dispatch(int kt, const T* const* drow, const T* Qt, index_t n, index_t j0, index_t j1,
                          typename Vec<T>::type* acc) {
  switch (kt) {
    case 1: micro<T, R, 1>(drow, Qt, n, j0, j1, acc); break;
    case 2: micro<T, R, 2>(drow, Qt, n, j0, j1, acc); break;
    case 3: micro<T, R, 3>(drow, Qt, n, j0, j1, acc); break;
    default: micro<T, R, 4>(drow, Qt, n, j0, j1, acc); break;
  }
}

template <class T>
inline T hsum(const typename Vec<T>::type& v) {
  T s = 0;
  for (int l = 0; l < Vec<T>::W; ++l) s += v[l];
  return s;
}

template <class T>
void dq_rows_generic(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out) {
  using V = typename Vec<T>::type;
  constexpr int W = Vec<T>::W;
  const index_t nv = (n / W) * W;  // vectorised part of each row
  const index_t jb = j_block<T>(k);
  const size_t bytes = ((sizeof(V) * static_cast<size_t>(kRows * k) + 63) / 64) * 64;
  V* acc = static_cast<V*>(std::aligned_alloc(64, bytes));
  if (acc == nullptr) {  // out of memory for a few hundred bytes: plain loops, same sum order per row
    for (index_t i = i0; i < i1; ++i)
      for (index_t t = 0; t < k; ++t) {
        T s = 0;
        for (index_t j = 0; j < n; ++j) s += D[i * ld + j] * Qt[t * n + j];
        out[(i - i0) * k + t] = s;
      }
    return;
  }
  for (index_t i = i0; i < i1;) {
    const int R = (i1 - i >= kRows) ? kRows : 1;  // full row groups, then single rows
    const T* drow[kRows];
    for (int r = 0; r < kRows; ++r) drow[r] = D + (i + std::min(r, R - 1)) * ld;
    for (index_t t = 0; t < kRows * k; ++t) acc[t] = V{};
    for (index_t j0 = 0; j0 < nv; j0 += jb) {
      const index_t j1 = std::min(nv, j0 + jb);
      for (index_t t0 = 0; t0 < k; t0 += kTile) {
        const int kt = static_cast<int>(std::min<index_t>(kTile, k - t0));
        // acc layout for this tile: R x kt contiguous block starting at t0 * kRows
        V* a = acc + t0 * kRows;
        if (R == kRows)
          tile_dispatch<T, kRows>(kt, drow, Qt + t0 * n, n, j0, j1, a);
        else
          tile_dispatch<T, 1>(kt, drow, Qt + t0 * n, n, j0, j1, a);
      }
    }
    for (int r = 0; r < R; ++r) {
      T* o = out + (i - i0 + r) * k;
      for (index_t t0 = 0; t0 < k; t0 += kTile) {
        const int kt = static_cast<int>(std::min<index_t>(kTile, k - t0));
        const int rr = (R == kRows) ? r : 0;
        for (int t = 0; t < kt; ++t) {
          T s = hsum<T>(acc[t0 * kRows + rr * kt + t]);
          const T* qcol = Qt + (t0 + t) * n;
          for (index_t j = nv; j < n; ++j) s += drow[r][j] * qcol[j];
          o[t0 + t] = s;
        }
      }
    }
    i += R;
  }
  std::free(acc);
}

}  // namespace
#endif  // DANNEAL_DQ_IMPL

}  // namespace danneal::simd
