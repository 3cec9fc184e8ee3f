#include <utility>

#include "bindings.hpp"
#include "danneal/pairwise.hpp"
#include "danneal/pairwise_features.hpp"
#include "danneal/pairwise_sparse.hpp"
#include "danneal/pairwise_tiles.hpp"
#include "format.hpp"

using namespace danneal;
using namespace danneal::bind;

namespace {

// Optional sample weights: None, or a C-contiguous float64 array of length n (the values are
// checked in Python: finite, >= 0, not all 0).  Holds the array while the kernel runs.
struct Weights {
  py::array arr;
  const double* ptr = nullptr;
  Weights(const py::object& w, index_t n) {
    if (w.is_none()) return;
    if (!py::isinstance<py::array>(w))
      throw py::type_error("sample_weight: expected None or a float64 array, got " +
                           std::string(py::str(py::type::of(w).attr("__name__"))));
    arr = w.cast<py::array>();
    ptr = in_ptr<double>(arr, "sample_weight", 1);
    expect_shape(arr, "sample_weight", {n});
  }
};

py::tuple softmax_rows_py(const py::array& H, double temperature, int n_threads) {
  check_threads(n_threads);
  return dispatch(H, "potentials", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* h = in_ptr<T>(H, "potentials", 2);
    const index_t n = H.shape(0), k = H.shape(1);
    auto P = empty<T>({n, k});
    auto lz = empty<T>({n});
    Status st;
    {
      py::gil_scoped_release nogil;
      st = pairwise::softmax_rows<T>(h, n, k, temperature, n_threads, P.mutable_data(), lz.mutable_data());
    }
    return py::make_tuple(P, lz, status_dict(st));
  });
}

py::tuple pairwise_dq_py(const py::array& D, const py::array& Q, int n_threads, const py::object& sample_weight) {
  check_threads(n_threads);
  return dispatch(D, "distances", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* d = in_ptr<T>(D, "distances", 2);
    const T* q = in_ptr<T>(Q, "assignments", 2);
    const index_t n = D.shape(0), k = Q.shape(1);
    expect_shape(D, "distances", {n, n});
    expect_shape(Q, "assignments", {n, k});
    const Weights sw(sample_weight, n);
    auto DQ = empty<T>({n, k});
    auto c = empty<double>({k});
    auto S = empty<double>({k});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_dq<T>(d, n, q, k, sw.ptr, n_threads, DQ.mutable_data(), c.mutable_data(), S.mutable_data());
    }
    return py::make_tuple(DQ, c, S);
  });
}

py::array pairwise_potential_py(const py::array& D, const py::array& Q, int form, int n_threads,
                                const py::object& sample_weight) {
  check_threads(n_threads);
  return dispatch(D, "distances", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* d = in_ptr<T>(D, "distances", 2);
    const T* q = in_ptr<T>(Q, "assignments", 2);
    const index_t n = D.shape(0), k = Q.shape(1);
    expect_shape(D, "distances", {n, n});
    expect_shape(Q, "assignments", {n, k});
    if (form != pairwise::kDetan && form != pairwise::kGradient)
      throw py::value_error("form=" + std::to_string(form) + " must be 0 (detan) or 1 (gradient)");
    const Weights sw(sample_weight, n);
    auto H = empty<T>({n, k});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_potential<T>(d, n, q, k, sw.ptr, form, n_threads, H.mutable_data());
    }
    return H;
  });
}

py::tuple pairwise_fixed_point_py(const py::array& D, const py::array& Q0, double temperature, int form,
                                  long long max_iter, double tol, int n_threads, const py::object& sample_weight) {
  check_threads(n_threads);
  if (!(temperature >= 0)) throw py::value_error("temperature=" + num(temperature) + " must be >= 0");
  if (max_iter < 0) throw py::value_error("max_iter=" + std::to_string(max_iter) + " must be >= 0");
  if (!(tol >= 0)) throw py::value_error("tol=" + num(tol) + " must be >= 0");
  if (form != pairwise::kDetan && form != pairwise::kGradient)
    throw py::value_error("form=" + std::to_string(form) + " must be 0 (detan) or 1 (gradient)");
  return dispatch(D, "distances", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* d = in_ptr<T>(D, "distances", 2);
    const T* q0 = in_ptr<T>(Q0, "assignments", 2);
    const index_t n = D.shape(0), k = Q0.shape(1);
    expect_shape(D, "distances", {n, n});
    expect_shape(Q0, "assignments", {n, k});
    const Weights sw(sample_weight, n);
    auto Q = empty<T>({n, k});
    auto stats = empty<double>({pairwise::kNumStats});
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = pairwise::pairwise_fixed_point<T>(d, n, q0, k, sw.ptr, temperature, form, max_iter, tol, n_threads,
                                             Q.mutable_data(), stats.mutable_data());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(Q, stats, status_dict(st));
  });
}

py::tuple pairwise_local_search_py(const py::array& D, const py::array& labels, long long k, long long max_passes,
                                   int n_threads, const py::object& sample_weight) {
  check_threads(n_threads);
  if (max_passes < 0) throw py::value_error("max_passes=" + std::to_string(max_passes) + " must be >= 0");
  if (k < 1) throw py::value_error("n_clusters=" + std::to_string(k) + " must be >= 1");
  const std::int64_t* lab_in = in_ptr<std::int64_t>(labels, "labels", 1);
  return dispatch(D, "distances", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* d = in_ptr<T>(D, "distances", 2);
    const index_t n = D.shape(0);
    expect_shape(D, "distances", {n, n});
    expect_shape(labels, "labels", {n});
    const Weights sw(sample_weight, n);
    auto out = empty<std::int64_t>({n});
    std::copy(lab_in, lab_in + n, out.mutable_data());
    double cost = 0;
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = pairwise::pairwise_local_search<T>(d, n, k, sw.ptr, max_passes, n_threads, out.mutable_data(), &cost);
    }
    intr.raise_if_interrupted();
    return py::make_tuple(out, cost, status_dict(st));
  });
}

double stream_sum_py(const py::array& X, int n_threads) {
  check_threads(n_threads);
  return dispatch(X, "x", [&](auto tag) -> double {
    using T = decltype(tag);
    const T* x = in_ptr<T>(X, "x", 2);
    py::gil_scoped_release nogil;
    return pairwise::stream_sum<T>(x, X.shape(0), X.shape(1), n_threads);
  });
}

// ---- feature-space kernels (squared Euclidean D never formed) ---------------------------------

// Checks X (n x d, dtype T) and the centre (float64, length d); returns (n, d).
template <class T>
std::pair<index_t, index_t> features_shape(const py::array& X, const py::array& center) {
  in_ptr<T>(X, "X", 2);
  in_ptr<double>(center, "center", 1);
  const index_t n = X.shape(0), d = X.shape(1);
  expect_shape(center, "center", {d});
  if (n < 1 || d < 1) throw py::value_error("X: expected at least one row and one column");
  return {n, d};
}

// The (n, k) assignments of a feature-space kernel, k >= 1, of X's dtype.
template <class T>
std::pair<const T*, index_t> features_assignments(const py::array& Q, index_t n) {
  const T* q = in_ptr<T>(Q, "assignments", 2);
  const index_t k = Q.shape(1);
  expect_shape(Q, "assignments", {n, k});
  if (k < 1) throw py::value_error("assignments: expected at least one column");
  return {q, k};
}

void check_form(int form) {
  if (form != pairwise::kDetan && form != pairwise::kGradient)
    throw py::value_error("form=" + std::to_string(form) + " must be 0 (detan) or 1 (gradient)");
}

py::tuple pairwise_features_dq_py(const py::array& X, const py::array& center, const py::array& Q, int n_threads,
                                  const py::object& sample_weight) {
  check_threads(n_threads);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [n, d] = features_shape<T>(X, center);
    const auto [q, k] = features_assignments<T>(Q, n);
    const Weights sw(sample_weight, n);
    auto DQ = empty<T>({n, k});
    auto c = empty<double>({k});
    auto S = empty<double>({k});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_features_dq<T>(static_cast<const T*>(X.data()), n, d,
                                        static_cast<const double*>(center.data()), q, k, sw.ptr, n_threads,
                                        DQ.mutable_data(), c.mutable_data(), S.mutable_data());
    }
    return py::make_tuple(DQ, c, S);
  });
}

py::array pairwise_features_potential_py(const py::array& X, const py::array& center, const py::array& Q, int form,
                                         int n_threads, const py::object& sample_weight) {
  check_threads(n_threads);
  check_form(form);
  return dispatch(X, "X", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const auto [n, d] = features_shape<T>(X, center);
    const auto [q, k] = features_assignments<T>(Q, n);
    const Weights sw(sample_weight, n);
    auto H = empty<T>({n, k});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_features_potential<T>(static_cast<const T*>(X.data()), n, d,
                                               static_cast<const double*>(center.data()), q, k, sw.ptr, form, n_threads,
                                               H.mutable_data());
    }
    return H;
  });
}

py::tuple pairwise_features_fixed_point_py(const py::array& X, const py::array& center, const py::array& Q0,
                                           double temperature, int form, long long max_iter, double tol, int n_threads,
                                           const py::object& sample_weight, bool accelerate) {
  check_threads(n_threads);
  if (!(temperature >= 0)) throw py::value_error("temperature=" + num(temperature) + " must be >= 0");
  if (max_iter < 0) throw py::value_error("max_iter=" + std::to_string(max_iter) + " must be >= 0");
  if (!(tol >= 0)) throw py::value_error("tol=" + num(tol) + " must be >= 0");
  check_form(form);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [n, d] = features_shape<T>(X, center);
    const auto [q0, k] = features_assignments<T>(Q0, n);
    const Weights sw(sample_weight, n);
    auto Q = empty<T>({n, k});
    auto stats = empty<double>({pairwise::kNumStats});
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = pairwise::pairwise_features_fixed_point<T>(
          static_cast<const T*>(X.data()), n, d, static_cast<const double*>(center.data()), q0, k, sw.ptr, temperature,
          form, max_iter, tol, n_threads, Q.mutable_data(), stats.mutable_data(), accelerate);
    }
    intr.raise_if_interrupted();
    return py::make_tuple(Q, stats, status_dict(st));
  });
}

py::array pairwise_features_block_stats_py(const py::array& X, const py::array& center, const py::array& Q,
                                           int n_threads) {
  check_threads(n_threads);
  return dispatch(X, "X", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const auto [n, d] = features_shape<T>(X, center);
    const auto [q, k] = features_assignments<T>(Q, n);
    auto out = empty<double>({d * k + 2 * k});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_features_block_stats<T>(static_cast<const T*>(X.data()), n, d,
                                                 static_cast<const double*>(center.data()), q, k, n_threads,
                                                 out.mutable_data());
    }
    return out;
  });
}

py::tuple pairwise_features_block_sweep_py(const py::array& X, const py::array& center, const py::array& Q0,
                                           const py::array& total, double temperature, int form, int n_threads) {
  check_threads(n_threads);
  if (!(temperature >= 0)) throw py::value_error("temperature=" + num(temperature) + " must be >= 0");
  check_form(form);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [n, d] = features_shape<T>(X, center);
    const auto [q0, k] = features_assignments<T>(Q0, n);
    const double* tot = in_ptr<double>(total, "total", 1);
    expect_shape(total, "total", {d * k + 2 * k});
    auto Q = empty<T>({n, k});
    auto out = empty<double>({d * k + 2 * k + 4});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_features_block_sweep<T>(static_cast<const T*>(X.data()), n, d,
                                                 static_cast<const double*>(center.data()), q0, k, tot, temperature,
                                                 form, n_threads, Q.mutable_data(), out.mutable_data());
    }
    return py::make_tuple(Q, out);
  });
}

py::tuple pairwise_features_local_search_py(const py::array& X, const py::array& center, const py::array& labels,
                                            long long k, long long max_passes, int n_threads,
                                            const py::object& sample_weight) {
  check_threads(n_threads);
  if (max_passes < 0) throw py::value_error("max_passes=" + std::to_string(max_passes) + " must be >= 0");
  if (k < 1) throw py::value_error("n_clusters=" + std::to_string(k) + " must be >= 1");
  const std::int64_t* lab_in = in_ptr<std::int64_t>(labels, "labels", 1);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [n, d] = features_shape<T>(X, center);
    expect_shape(labels, "labels", {n});
    const Weights sw(sample_weight, n);
    auto out = empty<std::int64_t>({n});
    std::copy(lab_in, lab_in + n, out.mutable_data());
    double cost = 0;
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = pairwise::pairwise_features_local_search<T>(static_cast<const T*>(X.data()), n, d,
                                                       static_cast<const double*>(center.data()), k, sw.ptr, max_passes,
                                                       n_threads, out.mutable_data(), &cost);
    }
    intr.raise_if_interrupted();
    return py::make_tuple(out, cost, status_dict(st));
  });
}

// ---- sparse dissimilarities (CSR, only stored pairs known) -----------------------------------

struct Csr {
  const std::int64_t* indptr;
  const std::int64_t* indices;
  index_t n, nnz;
};

Csr csr_checked(const py::array& indptr, const py::array& indices, const py::array& data, index_t n) {
  Csr m{in_ptr<std::int64_t>(indptr, "indptr", 1), in_ptr<std::int64_t>(indices, "indices", 1), n, 0};
  expect_shape(indptr, "indptr", {n + 1});
  m.nnz = indices.shape(0);
  expect_shape(data, "data", {m.nnz});
  pairwise::check_csr(m.indptr, m.indices, n, m.nnz);
  return m;
}

void check_sparse_mode(int mode, double fill) {
  if (mode != pairwise::kSparseMean && mode != pairwise::kSparseFill)
    throw py::value_error("mode=" + std::to_string(mode) + " must be 0 (mean) or 1 (fill)");
  if (!std::isfinite(fill) || fill < 0) throw py::value_error("fill=" + num(fill) + " must be finite and >= 0");
}

py::tuple pairwise_sparse_dq_py(const py::array& indptr, const py::array& indices, const py::array& data,
                                const py::array& Q, int n_threads, const py::object& sample_weight) {
  check_threads(n_threads);
  return dispatch(data, "data", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* dt = in_ptr<T>(data, "data", 1);
    const T* q = in_ptr<T>(Q, "assignments", 2);
    const index_t n = Q.shape(0), k = Q.shape(1);
    if (k < 1) throw py::value_error("assignments: expected at least one column");
    const Csr m = csr_checked(indptr, indices, data, n);
    const Weights sw(sample_weight, n);
    auto WQ = empty<double>({n, k});
    auto AQ = empty<double>({n, k});
    auto stats = empty<double>({3, k});
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_sparse_dq<T>(m.indptr, m.indices, dt, n, q, k, sw.ptr, n_threads, WQ.mutable_data(),
                                      AQ.mutable_data(), stats.mutable_data());
    }
    return py::make_tuple(WQ, AQ, stats);
  });
}

py::tuple pairwise_sparse_local_search_py(const py::array& indptr, const py::array& indices, const py::array& data,
                                          const py::array& labels, long long k, int mode, double fill,
                                          long long max_passes, int n_threads, const py::object& sample_weight) {
  check_threads(n_threads);
  check_sparse_mode(mode, fill);
  if (max_passes < 0) throw py::value_error("max_passes=" + std::to_string(max_passes) + " must be >= 0");
  if (k < 1) throw py::value_error("n_clusters=" + std::to_string(k) + " must be >= 1");
  const std::int64_t* lab_in = in_ptr<std::int64_t>(labels, "labels", 1);
  return dispatch(data, "data", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* dt = in_ptr<T>(data, "data", 1);
    const index_t n = labels.shape(0);
    const Csr m = csr_checked(indptr, indices, data, n);
    const Weights sw(sample_weight, n);
    auto out = empty<std::int64_t>({n});
    std::copy(lab_in, lab_in + n, out.mutable_data());
    double cost = 0;
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = pairwise::pairwise_sparse_local_search<T>(m.indptr, m.indices, dt, n, k, sw.ptr, mode, fill, max_passes,
                                                     n_threads, out.mutable_data(), &cost);
    }
    intr.raise_if_interrupted();
    return py::make_tuple(out, cost, status_dict(st));
  });
}

// ---- dissimilarities formed in tiles from X (cityblock, euclidean, chebyshev, minkowski) -------

void check_tile_args(int metric, double p) {
  if (metric < pairwise::kCityblock || metric > pairwise::kSqEuclidean)
    throw py::value_error("metric=" + std::to_string(metric) + " must be in [0, 4]");
  if (metric == pairwise::kMinkowski && !(p >= 1 && std::isfinite(p)))
    throw py::value_error("p=" + num(p) + " must be finite and >= 1");
}

template <class T>
std::pair<index_t, index_t> tiles_shape(const py::array& X) {
  in_ptr<T>(X, "X", 2);
  const index_t n = X.shape(0), d = X.shape(1);
  if (n < 1 || d < 1) throw py::value_error("X: expected at least one row and one column");
  return {n, d};
}

py::tuple pairwise_tiles_dq_py(const py::array& X, int metric, double p, const py::array& Q, int n_threads) {
  check_threads(n_threads);
  check_tile_args(metric, p);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [n, d] = tiles_shape<T>(X);
    const auto [q, k] = features_assignments<T>(Q, n);
    auto DQ = empty<double>({n, k});
    auto c = empty<double>({k});
    auto S = empty<double>({k});
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_tiles_dq<T>(static_cast<const T*>(X.data()), n, d, metric, p, q, k, nullptr, n_threads,
                                     DQ.mutable_data(), c.mutable_data(), S.mutable_data());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(DQ, c, S);
  });
}

py::array pairwise_tiles_dq_cols_py(const py::array& X, int metric, double p, const py::array& cols, const py::array& W,
                                    int n_threads) {
  check_threads(n_threads);
  check_tile_args(metric, p);
  const std::int64_t* cl = in_ptr<std::int64_t>(cols, "cols", 1);
  const double* w = in_ptr<double>(W, "weights", 2);
  const index_t m = cols.shape(0), k = W.shape(1);
  expect_shape(W, "weights", {m, k});
  if (k < 1) throw py::value_error("weights: expected at least one column");
  return dispatch(X, "X", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const auto [n, d] = tiles_shape<T>(X);
    auto out = empty<double>({n, k});
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      pairwise::pairwise_tiles_dq_cols<T>(static_cast<const T*>(X.data()), n, d, metric, p, cl, m, w, k, n_threads,
                                          out.mutable_data());
    }
    intr.raise_if_interrupted();
    return out;
  });
}

void pairwise_tiles_matrix_py(const py::array& X, int metric, double p, py::array& out, int n_threads) {
  check_threads(n_threads);
  check_tile_args(metric, p);
  dispatch(X, "X", [&](auto tag) -> int {
    using T = decltype(tag);
    const auto [n, d] = tiles_shape<T>(X);
    expect_shape(out, "out", {n, n});
    const T* x = static_cast<const T*>(X.data());
    if (is_f32(out)) {
      float* o = out_ptr<float>(out, "out", 2);
      py::gil_scoped_release nogil;
      pairwise::pairwise_tiles_matrix<T, float>(x, n, d, metric, p, n_threads, o);
    } else {
      double* o = out_ptr<double>(out, "out", 2);
      py::gil_scoped_release nogil;
      pairwise::pairwise_tiles_matrix<T, double>(x, n, d, metric, p, n_threads, o);
    }
    return 0;
  });
}

py::tuple pairwise_tiles_local_search_py(const py::array& X, int metric, double p, const py::array& labels, long long k,
                                         long long max_passes, int n_threads) {
  check_threads(n_threads);
  check_tile_args(metric, p);
  if (max_passes < 0) throw py::value_error("max_passes=" + std::to_string(max_passes) + " must be >= 0");
  if (k < 1) throw py::value_error("n_clusters=" + std::to_string(k) + " must be >= 1");
  const std::int64_t* lab_in = in_ptr<std::int64_t>(labels, "labels", 1);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [n, d] = tiles_shape<T>(X);
    expect_shape(labels, "labels", {n});
    auto out = empty<std::int64_t>({n});
    std::copy(lab_in, lab_in + n, out.mutable_data());
    double cost = 0;
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = pairwise::pairwise_tiles_local_search<T>(static_cast<const T*>(X.data()), n, d, metric, p, k, max_passes,
                                                    nullptr, n_threads, out.mutable_data(), &cost);
    }
    intr.raise_if_interrupted();
    return py::make_tuple(out, cost, status_dict(st));
  });
}

}  // namespace

void bind_pairwise(py::module_& m) {
  m.def("softmax_rows", &softmax_rows_py, py::arg("potentials"), py::arg("temperature"), py::arg("n_threads"),
        R"doc(Row softmax of ``-potentials / temperature`` in the log domain.

Returns ``(P, logZ, status)`` with ``P[i, v] = exp(-potentials[i, v]/T - logZ[i])``.)doc");
  m.def("pairwise_dq", &pairwise_dq_py, py::arg("distances"), py::arg("assignments"), py::arg("n_threads"),
        py::arg("sample_weight") = py::none(),
        R"doc(One pass over D: returns ``(D @ Q, c, S)`` with ``c = diag(Q.T D Q)`` and ``S = Q.sum(0)`` (float64).

The dense, feature-space (not the block ones) and sparse kernels take ``sample_weight`` (None or float64
of length n, finite, >= 0): the rows of Q are weighted, object i counting as ``sample_weight[i]`` copies of itself (here
``D @ (w Q)``, ``c = diag((w Q).T D (w Q))``, ``S = (w Q).sum(0)``; the fixed points' entropy and
logZ statistics are weighted sums).)doc");
  m.def("pairwise_potential", &pairwise_potential_py, py::arg("distances"), py::arg("assignments"), py::arg("form"),
        py::arg("n_threads"), py::arg("sample_weight") = py::none(),
        "Mean-field potentials (form 0: detan, 1: gradient).");
  m.def("pairwise_fixed_point", &pairwise_fixed_point_py, py::arg("distances"), py::arg("assignments"),
        py::arg("temperature"), py::arg("form"), py::arg("max_iter"), py::arg("tol"), py::arg("n_threads"),
        py::arg("sample_weight") = py::none(),
        R"doc(Synchronous mean-field sweeps at one temperature.

Returns ``(Q, stats, status)``; ``stats = [cost of the last input Q, entropy of Q, sum of logZ, max change]``.)doc");
  m.def("pairwise_local_search", &pairwise_local_search_py, py::arg("distances"), py::arg("labels"),
        py::arg("n_clusters"), py::arg("max_passes"), py::arg("n_threads"), py::arg("sample_weight") = py::none(),
        R"doc(Sequential exact single-object moves on a hard partition (Hartigan-style).

Returns ``(labels, cost, status)``; ``status["error"]`` is the number of moves of the last pass.)doc");
  m.def(
      "pairwise_features_dq", &pairwise_features_dq_py, py::arg("X"), py::arg("center"), py::arg("assignments"),
      py::arg("n_threads"), py::arg("sample_weight") = py::none(),
      R"doc(``(D @ Q, c, S)`` for ``D_ij = |x_i - x_j|^2`` computed from X (about ``center``) without forming D.)doc");
  m.def("pairwise_features_potential", &pairwise_features_potential_py, py::arg("X"), py::arg("center"),
        py::arg("assignments"), py::arg("form"), py::arg("n_threads"), py::arg("sample_weight") = py::none(),
        "Mean-field potentials for squared Euclidean D computed from X (form 0: detan, 1: gradient).");
  m.def("pairwise_features_fixed_point", &pairwise_features_fixed_point_py, py::arg("X"), py::arg("center"),
        py::arg("assignments"), py::arg("temperature"), py::arg("form"), py::arg("max_iter"), py::arg("tol"),
        py::arg("n_threads"), py::arg("sample_weight") = py::none(), py::arg("accelerate") = false,
        R"doc(``pairwise_fixed_point`` for ``D_ij = |x_i - x_j|^2`` from X: one pass over X per sweep, D never formed.
``accelerate``: every third sweep starts from the SQUAREM extrapolation of the statistics of the two before it
(gradient potentials at T > 0; the same stop).)doc");
  m.def("pairwise_features_local_search", &pairwise_features_local_search_py, py::arg("X"), py::arg("center"),
        py::arg("labels"), py::arg("n_clusters"), py::arg("max_passes"), py::arg("n_threads"),
        py::arg("sample_weight") = py::none(),
        R"doc(``pairwise_local_search`` for ``D_ij = |x_i - x_j|^2`` from X (Hartigan's k-means moves).)doc");
  m.def(
      "pairwise_features_block_stats", &pairwise_features_block_stats_py, py::arg("X"), py::arg("center"),
      py::arg("assignments"), py::arg("n_threads"),
      R"doc(Statistics ``(S^T, t, S)`` (flat, width ``d k + 2 k``) of the assignments of a block of rows, summed in chunk order.)doc");
  m.def("pairwise_features_block_sweep", &pairwise_features_block_sweep_py, py::arg("X"), py::arg("center"),
        py::arg("assignments"), py::arg("total"), py::arg("temperature"), py::arg("form"), py::arg("n_threads"),
        R"doc(One sweep of ``pairwise_features_fixed_point`` over a block of rows, with the whole problem's statistics
``total`` given; returns the new assignments and the block's statistics followed by entropy, sum of logZ, largest
change and a non-finite flag.)doc");
  m.def("pairwise_sparse_dq", &pairwise_sparse_dq_py, py::arg("indptr"), py::arg("indices"), py::arg("data"),
        py::arg("assignments"), py::arg("n_threads"), py::arg("sample_weight") = py::none(),
        R"doc(One pass over a symmetric CSR matrix W (only stored pairs known; the diagonal is known and 0).

Returns ``(W @ Q, A @ Q, stats)`` (float64) with A the stored pattern plus the diagonal and
``stats = [diag(Q.T W Q), diag(Q.T A Q), Q.sum(0)]`` (3 x k).)doc");
  m.def("pairwise_sparse_local_search", &pairwise_sparse_local_search_py, py::arg("indptr"), py::arg("indices"),
        py::arg("data"), py::arg("labels"), py::arg("n_clusters"), py::arg("mode"), py::arg("fill"),
        py::arg("max_passes"), py::arg("n_threads"), py::arg("sample_weight") = py::none(),
        R"doc(Sequential exact single-object moves for the sparse pairwise cost (mode 0: normalised by the
known-pair mass, 1: unknown pairs count as ``fill``).  Returns ``(labels, cost, status)``.)doc");
  m.def("pairwise_tiles_dq", &pairwise_tiles_dq_py, py::arg("X"), py::arg("metric"), py::arg("p"),
        py::arg("assignments"), py::arg("n_threads"),
        R"doc(``(D @ Q, c, S)`` (float64) with ``D_ij = dist(x_i, x_j)`` formed in tiles from X, never stored
(metric 0 cityblock, 1 euclidean, 2 chebyshev, 3 minkowski with ``p``, 4 sqeuclidean).)doc");
  m.def("pairwise_tiles_dq_cols", &pairwise_tiles_dq_cols_py, py::arg("X"), py::arg("metric"), py::arg("p"),
        py::arg("cols"), py::arg("weights"), py::arg("n_threads"),
        R"doc(``D[:, cols] @ weights`` (n x k, float64) with D formed in tiles from X: the update of ``D @ Q``
when only the rows ``cols`` of Q changed (``weights = Q_new[cols] - Q_old[cols]``, float64).)doc");
  m.def("pairwise_tiles_matrix", &pairwise_tiles_matrix_py, py::arg("X"), py::arg("metric"), py::arg("p"),
        py::arg("out"), py::arg("n_threads"),
        "Writes ``D_ij = dist(x_i, x_j)`` into ``out`` (n x n, float32 or float64).");
  m.def("pairwise_tiles_local_search", &pairwise_tiles_local_search_py, py::arg("X"), py::arg("metric"), py::arg("p"),
        py::arg("labels"), py::arg("n_clusters"), py::arg("max_passes"), py::arg("n_threads"),
        R"doc(``pairwise_local_search`` with the rows of D computed from X.  Returns ``(labels, cost, status)``.)doc");
  m.def("stream_sum", &stream_sum_py, py::arg("x"), py::arg("n_threads"),
        "Sum of a 2-d array in one streaming read (the benchmarks' read-bandwidth probe).");
}
