#include "bindings.hpp"
#include "danneal/central.hpp"
#include "format.hpp"

using namespace danneal;
using namespace danneal::bind;

namespace {

template <class T>
const T* weights_ptr(const py::object& w, index_t n) {
  if (w.is_none()) return nullptr;
  py::array a = w.cast<py::array>();
  const T* p = in_ptr<T>(a, "sample_weight", 1);
  expect_shape(a, "sample_weight", {static_cast<py::ssize_t>(n)});
  return p;
}

// X (n, d), centers (k, d) of X's dtype and log_weights (k,) float64, checked together.
template <class T>
struct Problem {
  const T* x;
  const T* y;
  const double* lp;
  index_t n, d, k;
};

template <class T>
Problem<T> problem(const py::array& X, const py::array& Y, const py::array& logp) {
  Problem<T> q{in_ptr<T>(X, "X", 2),
               in_ptr<T>(Y, "centers", 2),
               in_ptr<double>(logp, "log_weights", 1),
               X.shape(0),
               X.shape(1),
               Y.shape(0)};
  expect_shape(Y, "centers", {q.k, q.d});
  expect_shape(logp, "log_weights", {q.k});
  return q;
}

void check_temperature(double temperature) {
  if (!(temperature >= 0) || !std::isfinite(temperature))
    throw py::value_error("temperature=" + num(temperature) + " must be finite and >= 0");
}

py::tuple central_fixed_point_py(const py::array& X, const py::object& w, const py::array& Y0, const py::array& logp0,
                                 double temperature, long long max_iter, double tol, int n_threads) {
  check_threads(n_threads);
  check_temperature(temperature);
  if (max_iter < 0) throw py::value_error("max_iter=" + std::to_string(max_iter) + " must be >= 0");
  if (!(tol >= 0)) throw py::value_error("tol=" + num(tol) + " must be >= 0");
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [x, y0, lp0, n, d, k] = problem<T>(X, Y0, logp0);
    const T* wp = weights_ptr<T>(w, n);
    auto Y = empty<T>({k, d});
    auto lp = empty<double>({k});
    auto mass = empty<double>({k});
    auto stats = empty<double>({central::kNumStats});
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = central::central_fixed_point<T>(x, n, d, wp, y0, lp0, k, temperature, max_iter, tol, n_threads,
                                           Y.mutable_data(), lp.mutable_data(), mass.mutable_data(),
                                           stats.mutable_data());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(Y, lp, mass, stats, status_dict(st));
  });
}

py::tuple central_posteriors_py(const py::array& X, const py::array& Y, const py::array& logp, double temperature,
                                int n_threads) {
  check_threads(n_threads);
  check_temperature(temperature);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [x, y, lp, n, d, k] = problem<T>(X, Y, logp);
    auto P = empty<T>({n, k});
    auto lz = empty<double>({n});
    Status st;
    {
      py::gil_scoped_release nogil;
      st = central::central_posteriors<T>(x, n, d, y, lp, k, temperature, n_threads, P.mutable_data(),
                                          lz.mutable_data());
    }
    return py::make_tuple(P, lz, status_dict(st));
  });
}

py::tuple central_covariance_py(const py::array& X, const py::object& w, const py::array& Y, const py::array& logp,
                                double temperature, int n_threads) {
  check_threads(n_threads);
  check_temperature(temperature);
  if (!(temperature > 0)) throw py::value_error("temperature=0 must be > 0 for the covariance pass");
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [x, y, lp, n, d, k] = problem<T>(X, Y, logp);
    const T* wp = weights_ptr<T>(w, n);
    auto cov = empty<double>({k, d, d});
    auto mass = empty<double>({k});
    auto mean = empty<double>({k, d});
    Status st;
    {
      py::gil_scoped_release nogil;
      st = central::central_covariance<T>(x, n, d, wp, y, lp, k, temperature, n_threads, cov.mutable_data(),
                                          mass.mutable_data(), mean.mutable_data());
    }
    return py::make_tuple(cov, mass, mean, status_dict(st));
  });
}

py::tuple central_statistics_py(const py::array& X, const py::object& w, const py::array& Y, const py::array& logp,
                                double temperature, int n_threads) {
  check_threads(n_threads);
  check_temperature(temperature);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto [x, y, lp, n, d, k] = problem<T>(X, Y, logp);
    const T* wp = weights_ptr<T>(w, n);
    auto sums = empty<double>({k, d});
    auto mass = empty<double>({k});
    auto out = empty<double>({central::kNumBlockStats});
    Status st;
    {
      py::gil_scoped_release nogil;
      st = central::central_statistics<T>(x, n, d, wp, y, lp, k, temperature, n_threads, sums.mutable_data(),
                                          mass.mutable_data(), out.mutable_data());
    }
    return py::make_tuple(sums, mass, out, status_dict(st));
  });
}

}  // namespace

void bind_central(py::module_& m) {
  m.def("central_fixed_point", &central_fixed_point_py, py::arg("X"), py::arg("sample_weight"), py::arg("centers"),
        py::arg("log_weights"), py::arg("temperature"), py::arg("max_iter"), py::arg("tol"), py::arg("n_threads"),
        R"doc(Mass-constrained DA fixed-point iterations at one temperature (Rose 1998).

Parameters
----------
X : (n, d) float32 or float64, C-contiguous
sample_weight : (n,) same dtype, or None for unit weights
centers : (k, d) same dtype, the starting centroids
log_weights : (k,) float64, log p(v) (``-inf`` for a dead cluster)
temperature : float >= 0 (0: Lloyd iterations with hard assignments)
max_iter : int >= 0
tol : float >= 0, stop when the largest centroid shift is < tol (0: run max_iter iterations)
n_threads : int >= 1

Returns
-------
(centers, log_weights, masses, stats, status) with
``stats = [distortion, free energy, max centroid shift, total weight]``; distortion and free energy
belong to the posteriors of the centroids that entered the last iteration.)doc");
  m.def("central_posteriors", &central_posteriors_py, py::arg("X"), py::arg("centers"), py::arg("log_weights"),
        py::arg("temperature"), py::arg("n_threads"),
        R"doc(Soft assignments ``p(v|x)`` at one temperature (one-hot at 0).

Returns ``(P, logZ, status)``, ``logZ[i] = LSE_v(log p(v) - |x_i - y_v|^2 / T)`` (float64).)doc");
  m.def("central_statistics", &central_statistics_py, py::arg("X"), py::arg("sample_weight"), py::arg("centers"),
        py::arg("log_weights"), py::arg("temperature"), py::arg("n_threads"),
        R"doc(Sufficient statistics of one pass over a block of rows (for drivers that combine blocks).

Returns ``(sums (k, d), masses (k,), block (4,), status)``, all float64: ``sums[v] = sum_i w_i p_iv x_i``,
``masses[v] = sum_i w_i p_iv`` and ``block = [sum_i w_i LSE_i, sum_i w_i |x_i|^2, sum_i w_i, non-finite rows]``
with ``LSE_i = LSE_v(log p(v) + (2 x_i.y_v - |y_v|^2) / T)`` (``|x_i|^2/T`` left out: the free energy is
``block[1] - T block[0]``; 0 at T = 0, where the assignments are hard, lowest index on ties).)doc");
  m.def("central_covariance", &central_covariance_py, py::arg("X"), py::arg("sample_weight"), py::arg("centers"),
        py::arg("log_weights"), py::arg("temperature"), py::arg("n_threads"),
        R"doc(Posterior-weighted covariances of every cluster (for the critical temperatures 2 lambda_max).

Returns ``(cov (k, d, d), masses (k,), means (k, d), status)``, all float64.)doc");
}
