#include "bindings.hpp"
#include "danneal/losses.hpp"
#include "format.hpp"

using namespace danneal;
using namespace danneal::bind;

namespace {

// The output array: a new one, or `out` (same dtype, shape (n, n), C-contiguous, writeable; it may be
// the input itself: the kernels read each element before writing it).
template <class T>
py::array_t<T> out_or_new(const py::object& out, index_t n, const char* name) {
  if (out.is_none()) return empty<T>({n, n});
  py::array a = py::reinterpret_borrow<py::array>(out);
  if (!py::isinstance<py::array>(out)) throw py::type_error(std::string(name) + ": expected a numpy array");
  out_ptr<T>(a, name, 2);
  expect_shape(a, name, {n, n});
  return py::reinterpret_borrow<py::array_t<T>>(out);
}

py::tuple ddc_gaussian_kernel_py(const py::array& gram, double rel_sigma, double sigma2, int n_threads,
                                 const py::object& out) {
  check_threads(n_threads);
  if (!(sigma2 > 0) && !(rel_sigma > 0))
    throw py::value_error("rel_sigma=" + num(rel_sigma) + " must be > 0 when sigma2 is not given");
  return dispatch(gram, "gram", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* g = in_ptr<T>(gram, "gram", 2);
    const index_t n = gram.shape(0);
    expect_shape(gram, "gram", {n, n});
    if (n < 1) throw py::value_error("gram: empty matrix");
    auto K = out_or_new<T>(out, n, "out");
    double s2 = 0.0;
    {
      py::gil_scoped_release nogil;
      losses::ddc_gaussian_kernel<T>(g, n, rel_sigma, sigma2, n_threads, K.mutable_data(), &s2);
    }
    return py::make_tuple(K, s2);
  });
}

py::tuple ddc_hidden_weights_py(const py::array& K, const py::array& P, const py::array& B, double scale, int n_threads,
                                const py::object& out) {
  check_threads(n_threads);
  return dispatch(K, "K", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* k = in_ptr<T>(K, "K", 2);
    const T* p = in_ptr<T>(P, "P", 2);
    const T* b = in_ptr<T>(B, "B", 2);
    const index_t n = K.shape(0), m = P.shape(1);
    expect_shape(K, "K", {n, n});
    expect_shape(P, "P", {n, m});
    expect_shape(B, "B", {n, m});
    if (n < 1 || m < 1) throw py::value_error("K, P: empty matrices");
    auto S = out_or_new<T>(out, n, "out");
    auto r = empty<double>({n});
    {
      py::gil_scoped_release nogil;
      losses::ddc_hidden_weights<T>(k, p, b, n, m, scale, n_threads, S.mutable_data(), r.mutable_data());
    }
    return py::make_tuple(S, r);
  });
}

py::tuple ddc_cs_divergence_py(const py::array& N, bool want_grad) {
  const double* p = in_ptr<double>(N, "N", 2);
  const index_t k = N.shape(0);
  expect_shape(N, "N", {k, k});
  if (k < 2) throw py::value_error("N: need k >= 2 clusters, got k=" + std::to_string(k));
  if (!want_grad) return py::make_tuple(losses::ddc_cs_divergence(p, k, nullptr), py::none());
  auto G = empty<double>({k, k});
  const double v = losses::ddc_cs_divergence(p, k, G.mutable_data());
  return py::make_tuple(v, G);
}

}  // namespace

void bind_losses(py::module_& m) {
  m.def("ddc_gaussian_kernel", &ddc_gaussian_kernel_py, py::arg("gram"), py::arg("rel_sigma"), py::arg("sigma2"),
        py::arg("n_threads"), py::arg("out") = py::none(),
        R"doc(Gaussian kernel matrix from the Gram matrix ``gram = H @ H.T``.

Returns ``(K, sigma2)`` with ``K[a, b] = exp(-max(g_aa + g_bb - 2 g_ab, 0) / (2 sigma2))``.
``sigma2 <= 0`` selects the DDC bandwidth rule ``sigma2 = max(rel_sigma * median(dist), 1e-9)``,
the lower median taken over all ``n*n`` entries of the distance matrix (zero diagonal).
``out``: array to write K into (may be ``gram`` itself).)doc");
  m.def("ddc_cs_divergence", &ddc_cs_divergence_py, py::arg("N"), py::arg("want_grad"),
        R"doc(Cauchy-Schwarz divergence term of DDC on ``N = Q.T @ K @ Q`` (k x k, float64) with the reference
code's clamps; returns ``(value, G)``, ``G`` the gradient with respect to ``N`` (None unless ``want_grad``).)doc");
  m.def("ddc_hidden_weights", &ddc_hidden_weights_py, py::arg("K"), py::arg("P"), py::arg("B"), py::arg("scale"),
        py::arg("n_threads"), py::arg("out") = py::none(),
        R"doc(Returns ``(S, rowsum)`` with ``S = scale * K * (P @ B.T)`` (element-wise product with K) and
``rowsum = S.sum(1)`` (float64).  ``P @ B.T`` is never stored.  ``out``: array to write S into (may be
``K`` itself).)doc");
}
