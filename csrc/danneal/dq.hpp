// The streaming product DQ = D @ Q for a dense row-major D (n_rows x n) and Q given transposed
// (Qt, k x n).  This is the one pass over D that every pairwise sweep makes (docs/guide/pairwise.md, docs/performance.md).
//
// Written once with simd::Vec and compiled in each instruction set's unit
// (csrc/danneal/simd/isa_*.cpp); dq_rows() runs the one of simd::active_isa().  Per row the sum order is fixed (vector lanes, then lanes in order, then the tail), so
// results do not depend on the thread count.
#pragma once

#include <cstdlib>
#include <cstring>

#include "danneal/common.hpp"
#include "danneal/simd/isa.hpp"

namespace danneal::simd {

// Rows [i0, i1) of D (row stride ld) times Qt (k x n, row stride n) into out (rows x k), by the
// unit of instruction set I (defined below, instantiated in simd/isa_*.cpp).
template <class T, Isa I>
void dq_rows_isa(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out);
#define DANNEAL_DQ_KERNELS(P, I)                                                                                 \
  P void dq_rows_isa<float, I>(const float*, index_t, index_t, const float*, index_t, index_t, index_t, float*); \
  P void dq_rows_isa<double, I>(const double*, index_t, index_t, const double*, index_t, index_t, index_t, double*);
#define DANNEAL_DQ_EXTERN(I) DANNEAL_DQ_KERNELS(extern template, I)
DANNEAL_SIMD_FOR_EACH_ISA(DANNEAL_DQ_EXTERN)

template <class T>
inline void dq_rows(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out) {
  with_isa(active_isa(), [&](auto isa) { dq_rows_isa<T, decltype(isa)::value>(D, ld, n, Qt, k, i0, i1, out); });
}

// ---- the generic implementation, compiled in the per-instruction-set units (simd/isa_*.cpp) --
#ifdef DANNEAL_SIMD_UNIT_ISA
// Internal linkage: each unit gets its own copy compiled for its instruction set, so the linker
// can never merge an AVX2 instantiation into the baseline path.  For the same reason the
// implementation uses no out-of-line standard-library templates (plain malloc/free).
namespace {

constexpr int kRows = 3;  // rows of D per micro-kernel call (3 x 4 tiles: 12 accumulators)
constexpr int kTile = 4;  // columns of Q per micro-kernel call
// j-block length: the block of Qt (k x JB) used by one row group stays in L1 (about 16 KB), and
// so do the kRows D segments it multiplies while the column tiles are swept.
template <class S>
inline index_t j_block(index_t k) {
  index_t jb = static_cast<index_t>(16384 / (sizeof(typename S::Scalar) * static_cast<size_t>(k)));
  jb = std::max<index_t>(64, std::min<index_t>(4096, jb));
  return (jb / S::W) * S::W;
}

template <class S, int R, int KT>
inline void micro(const typename S::Scalar* const* drow, const typename S::Scalar* Qt, index_t n, index_t j0,
                  index_t j1, typename S::V* acc /* R x KT */) {
  using V = typename S::V;
  constexpr int W = S::W;
  V a[R][KT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KT; ++t) a[r][t] = acc[r * KT + t];
  for (index_t j = j0; j < j1; j += W) {
    V d[R];
    for (int r = 0; r < R; ++r) d[r] = S::load(drow[r] + j);
    for (int t = 0; t < KT; ++t) {
      const V q = S::load(Qt + t * n + j);
      for (int r = 0; r < R; ++r) a[r][t] += d[r] * q;
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KT; ++t) acc[r * KT + t] = a[r][t];
}

template <class S, int R>
inline void tile_dispatch(int kt, const typename S::Scalar* const* drow, const typename S::Scalar* Qt, index_t n,
                          index_t j0, index_t j1, typename S::V* acc) {
  switch (kt) {
    case 1:
      micro<S, R, 1>(drow, Qt, n, j0, j1, acc);
      break;
    case 2:
      micro<S, R, 2>(drow, Qt, n, j0, j1, acc);
      break;
    case 3:
      micro<S, R, 3>(drow, Qt, n, j0, j1, acc);
      break;
    default:
      micro<S, R, 4>(drow, Qt, n, j0, j1, acc);
      break;
  }
}

template <class T, Isa I>
void dq_rows_generic(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out) {
  using S = Vec<T, I>;
  using V = typename S::V;
  constexpr int W = S::W;
  const index_t nv = (n / W) * W;  // vectorised part of each row
  const index_t jb = j_block<S>(k);
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
          tile_dispatch<S, kRows>(kt, drow, Qt + t0 * n, n, j0, j1, a);
        else
          tile_dispatch<S, 1>(kt, drow, Qt + t0 * n, n, j0, j1, a);
      }
    }
    for (int r = 0; r < R; ++r) {
      T* o = out + (i - i0 + r) * k;
      for (index_t t0 = 0; t0 < k; t0 += kTile) {
        const int kt = static_cast<int>(std::min<index_t>(kTile, k - t0));
        const int rr = (R == kRows) ? r : 0;
        for (int t = 0; t < kt; ++t) {
          T s = S::hsum(acc[t0 * kRows + rr * kt + t]);
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

template <class T, Isa I>
void dq_rows_isa(const T* D, index_t ld, index_t n, const T* Qt, index_t k, index_t i0, index_t i1, T* out) {
  dq_rows_generic<T, I>(D, ld, n, Qt, k, i0, i1, out);
}
#endif  // DANNEAL_SIMD_UNIT_ISA

}  // namespace danneal::simd
