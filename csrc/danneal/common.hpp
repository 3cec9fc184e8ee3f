// Shared pieces of every danneal kernel: status, threading with fixed-size chunks, and
// numerically safe log-sum-exp.  No Python headers here (docs/design.md).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#ifdef DANNEAL_HAVE_OPENMP
#include <omp.h>
#endif

namespace danneal {

using index_t = std::int64_t;

// Returned by every iterative kernel.
struct Status {
  bool converged = false;
  bool numerical_error = false;  // a non-finite value was met and contained
  index_t iterations = 0;
  double error = 0.0;        // kernel-specific convergence measure (documented per kernel)
  bool interrupted = false;  // should_stop() asked the kernel to return early; outputs are incomplete
};

// ---- Cooperative interruption (Ctrl-C) ---------------------------------------------------------
// Long kernels call should_stop() between chunks of work, on the calling thread and outside
// OpenMP parallel regions, and return early (Status::interrupted) when it says so.  The caller
// (src/bindings.hpp) installs a StopHook for its thread while the kernel runs; the hook is asked
// at most every StopHook::interval, and once it has said "stop" every later call says so too (so a
// kernel that calls another one sees the interruption after the inner kernel returns).  Without a
// hook (plain C++ use, OpenMP worker threads) should_stop() is always false.
struct StopHook {
  using Fn = bool (*)(void* ctx);
  static constexpr std::chrono::milliseconds interval{20};
  Fn fn = nullptr;
  void* ctx = nullptr;
  bool stopped = false;
  std::chrono::steady_clock::time_point next{};
};

inline StopHook*& current_stop_hook() {
  thread_local StopHook* hook = nullptr;
  return hook;
}

inline bool should_stop() {
  StopHook* h = current_stop_hook();
  if (h == nullptr || h->fn == nullptr) return false;
  if (h->stopped) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now < h->next) return false;
  h->stopped = h->fn(h->ctx);
  h->next = std::chrono::steady_clock::now() + StopHook::interval;
  return h->stopped;
}

// Installs `hook` for the calling thread for the lifetime of the scope (nests: restores the previous one).
class StopScope {
 public:
  explicit StopScope(StopHook* hook) : prev_(current_stop_hook()) {
    hook->next = std::chrono::steady_clock::now() + StopHook::interval;
    current_stop_hook() = hook;
  }
  ~StopScope() { current_stop_hook() = prev_; }
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;

 private:
  StopHook* prev_;
};

// ---- Allocation sizes that depend on integer parameters --------------------------------------
// A std::bad_alloc with a message (pybind11 raises MemoryError with it).
class AllocationError : public std::bad_alloc {
 public:
  explicit AllocationError(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

// Physical memory of the machine in bytes (0 when unknown).
inline double physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) return static_cast<double>(pages) * static_cast<double>(page);
#endif
  return 0.0;
}

// Throws AllocationError before `count` elements of `elem_bytes` bytes are allocated when they
// could never fit (more than the machine's physical memory, or beyond the address space): a clear
// error instead of std::bad_alloc, or of pages touched until the OOM killer ends the process.
// `what` names the buffer and the parameter that sizes it.  count is a double: no overflow.
inline void check_alloc(double count, double elem_bytes, const std::string& what) {
  const double bytes = count * elem_bytes, phys = physical_memory_bytes();
  const double limit = phys > 0 ? phys : 9.0e18;
  if (!(bytes <= limit) || !(bytes < 9.0e18)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, " needs %.3g GB, more than this machine's %.3g GB of memory", bytes / 1e9,
                  phys / 1e9);
    throw AllocationError(what + buf);
  }
}

// Set once a parallel region with more than one thread has started in this process (inherited by
// fork()ed children, where GNU OpenMP would then hang: python/danneal/_threads.py reads it).
inline std::atomic<bool>& openmp_pool_started() {
  static std::atomic<bool> started{false};
  return started;
}

inline bool have_openmp() {
#ifdef DANNEAL_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

// Rows (or items) per parallel work unit.  It never depends on the thread count, so that
// reductions over chunks combine in the same order whatever n_threads is.
constexpr index_t kChunk = 256;

inline index_t n_chunks(index_t n, index_t chunk = kChunk) {
  return (n + chunk - 1) / chunk;
}

// Threads actually started: never more than there are chunks, never fewer than one.
inline int effective_threads(int n_threads, index_t chunks) {
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1, got " + std::to_string(n_threads));
  index_t t = std::min<index_t>(n_threads, std::max<index_t>(chunks, 1));
  return static_cast<int>(t);
}

// Calls body(chunk_index, begin, end) for every chunk of [0, n), in parallel over chunks.
// The body must not throw.  Static scheduling keeps the assignment of chunks reproducible,
// but correctness of reductions relies only on storing per-chunk partials.
template <class Body>
inline void parallel_chunks(index_t n, index_t chunk, int n_threads, Body&& body) {
  const index_t nc = n_chunks(n, chunk);
  const int nt = effective_threads(n_threads, nc);
#ifdef DANNEAL_HAVE_OPENMP
  if (nt > 1 && !openmp_pool_started().load(std::memory_order_relaxed))
    openmp_pool_started().store(true, std::memory_order_relaxed);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
  for (index_t c = 0; c < nc; ++c) {
    const index_t b = c * chunk;
    const index_t e = std::min(n, b + chunk);
    body(c, b, e);
  }
  (void)nt;
}

// Sums per-chunk partials (laid out as nc rows of width w) in chunk order into out[0..w).
inline void reduce_chunks(const std::vector<double>& partials, index_t nc, index_t w, double* out) {
  for (index_t j = 0; j < w; ++j) out[j] = 0.0;
  for (index_t c = 0; c < nc; ++c)
    for (index_t j = 0; j < w; ++j) out[j] += partials[c * w + j];
}

// log(sum(exp(x[i]))) with the max subtracted; -inf for an all -inf row.  A value, not a way to
// normalise: exp(x - logsumexp(x)) loses log(s) when |max| is large (issue 10); normalise as
// exp(x - max) / s instead.
template <class T>
inline T logsumexp(const T* x, index_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (index_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (!(m > -std::numeric_limits<T>::infinity())) return m;
  double s = 0.0;
  for (index_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i] - m));
  return m + static_cast<T>(std::log(s));
}

template <class T>
inline bool all_finite(const T* x, index_t n) {
  for (index_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

}  // namespace danneal
