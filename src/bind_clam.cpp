#include <pybind11/functional.h>

#include <exception>

#include "bindings.hpp"
#include "format.hpp"
#include "danneal/clam.hpp"

using namespace danneal;
using namespace danneal::bind;

namespace {

template <class T>
const T* opt_ptr(const py::object& a, const char* name, std::vector<py::ssize_t> shape) {
  if (a.is_none()) return nullptr;
  py::array arr = a.cast<py::array>();
  const T* p = in_ptr<T>(arr, name, static_cast<int>(shape.size()));
  expect_shape(arr, name, shape);
  return p;
}

void check_step(double c, double alpha, long long n_steps) {
  if (!(c >= 0) || !std::isfinite(c)) throw py::value_error("c=" + num(c) + " must be finite and >= 0");
  if (!(alpha > 0) || !std::isfinite(alpha))
    throw py::value_error("alpha=" + num(alpha) + " must be finite and > 0");
  if (n_steps < 0) throw py::value_error("n_steps=" + std::to_string(n_steps) + " must be >= 0");
}

py::tuple clam_forward_py(const py::array& X0, const py::object& mask, const py::array& R, const py::object& eta,
                          double c, double alpha, long long n_steps, bool spherical, int n_threads) {
  check_threads(n_threads);
  check_step(c, alpha, n_steps);
  return dispatch(X0, "X0", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* x = in_ptr<T>(X0, "X0", 2);
    const index_t B = X0.shape(0), d = X0.shape(1);
    const T* r = in_ptr<T>(R, "R", 2);
    const index_t k = R.shape(0);
    expect_shape(R, "R", {k, d});
    const T* m = opt_ptr<T>(mask, "mask", {B, d});
    const T* e = opt_ptr<T>(eta, "eta", {k});
    check_alloc((n_steps + 1.0) * static_cast<double>(B) * static_cast<double>(d + k), sizeof(T),
                "clam_forward outputs for n_steps=" + std::to_string(n_steps));
    auto V = empty<T>({n_steps + 1, B, d});
    auto P = empty<T>({n_steps, B, k});
    {
      py::gil_scoped_release nogil;
      clam::clam_forward<T>(x, m, B, d, r, e, k, c, alpha, n_steps, spherical, n_threads, V.mutable_data(),
                            P.mutable_data());
    }
    return py::make_tuple(V, P);
  });
}

py::tuple clam_backward_py(const py::array& V, const py::array& P, const py::object& mask, const py::array& R,
                           const py::array& G, double c, double alpha, bool spherical, int n_threads) {
  check_threads(n_threads);
  return dispatch(V, "V", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* v = in_ptr<T>(V, "V", 3);
    const index_t n_steps = V.shape(0) - 1, B = V.shape(1), d = V.shape(2);
    check_step(c, alpha, n_steps);
    const T* r = in_ptr<T>(R, "R", 2);
    const index_t k = R.shape(0);
    expect_shape(R, "R", {k, d});
    const T* p = in_ptr<T>(P, "P", 3);
    expect_shape(P, "P", {n_steps, B, k});
    const T* g = in_ptr<T>(G, "G", 2);
    expect_shape(G, "G", {B, d});
    const T* m = opt_ptr<T>(mask, "mask", {B, d});
    auto dR = empty<T>({k, d});
    auto deta = empty<T>({k});
    auto dX0 = empty<T>({B, d});
    {
      py::gil_scoped_release nogil;
      clam::clam_backward<T>(v, p, m, B, d, r, k, g, c, alpha, n_steps, spherical, n_threads, dR.mutable_data(),
                             deta.mutable_data(), dX0.mutable_data());
    }
    return py::make_tuple(dR, deta, dX0);
  });
}

py::tuple clam_predict_py(const py::array& X, const py::array& R, const py::object& eta, double c, double alpha,
                          long long n_steps, bool spherical, int n_threads) {
  check_threads(n_threads);
  check_step(c, alpha, n_steps);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* x = in_ptr<T>(X, "X", 2);
    const index_t n = X.shape(0), d = X.shape(1);
    const T* r = in_ptr<T>(R, "R", 2);
    const index_t k = R.shape(0);
    expect_shape(R, "R", {k, d});
    const T* e = opt_ptr<T>(eta, "eta", {k});
    auto labels = empty<std::int64_t>({n});
    auto dist = empty<T>({n, k});
    auto Vout = empty<T>({n, d});
    {
      py::gil_scoped_release nogil;
      clam::clam_predict<T>(x, n, d, r, e, k, c, alpha, n_steps, spherical, n_threads, labels.mutable_data(),
                            dist.mutable_data(), Vout.mutable_data());
    }
    return py::make_tuple(labels, dist, Vout);
  });
}

py::tuple clam_train_py(const py::array& X, const py::array& mask_values, const py::array& R0, const py::object& eta0,
                        double c, double alpha, long long n_steps, bool spherical, bool weighted, long long batch_size,
                        long long n_mask, long long max_epochs, double learning_rate, unsigned long long seed,
                        int n_threads, const py::object& callback, double plateau_tol, long long plateau_window,
                        long long patience, double decay, double min_lr, double c_start,
                        long long anneal_epochs) {
  check_threads(n_threads);
  check_step(c, alpha, n_steps);
  if (batch_size < 1) throw py::value_error("batch_size=" + std::to_string(batch_size) + " must be >= 1");
  if (max_epochs < 0) throw py::value_error("max_epochs=" + std::to_string(max_epochs) + " must be >= 0");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate))
    throw py::value_error("learning_rate=" + num(learning_rate) + " must be finite and > 0");
  if (plateau_window < 1) throw py::value_error("plateau_window=" + std::to_string(plateau_window) + " must be >= 1");
  if (patience < 1) throw py::value_error("patience=" + std::to_string(patience) + " must be >= 1");
  if (!(decay > 0 && decay <= 1)) throw py::value_error("decay=" + num(decay) + " must be in (0, 1]");
  if (!(plateau_tol >= 0)) throw py::value_error("plateau_tol must be >= 0");
  if (!(min_lr >= 0)) throw py::value_error("min_lr must be >= 0");
  if (!(c_start >= 0) || !std::isfinite(c_start))
    throw py::value_error("c_start=" + num(c_start) + " must be finite and >= 0");
  if (anneal_epochs < 0)
    throw py::value_error("anneal_epochs=" + std::to_string(anneal_epochs) + " must be >= 0");
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* x = in_ptr<T>(X, "X", 2);
    const index_t n = X.shape(0), d = X.shape(1);
    if (n < 1 || d < 1) throw py::value_error("X: empty array");
    if (n_mask < 1 || n_mask > d)
      throw py::value_error("n_mask=" + std::to_string(n_mask) + " must be in [1, d=" + std::to_string(d) + "]");
    const T* mv = in_ptr<T>(mask_values, "mask_values", 1);
    expect_shape(mask_values, "mask_values", {d});
    const T* r0 = in_ptr<T>(R0, "R0", 2);
    const index_t k = R0.shape(0);
    if (k < 1) throw py::value_error("R0: need at least one prototype");
    expect_shape(R0, "R0", {k, d});
    const T* e0 = opt_ptr<T>(eta0, "eta0", {k});
    clam::TrainParams p;
    p.c = c;
    p.alpha = alpha;
    p.n_steps = n_steps;
    p.spherical = spherical;
    p.weighted = weighted;
    p.batch_size = batch_size;
    p.n_mask = n_mask;
    p.max_epochs = max_epochs;
    p.learning_rate = learning_rate;
    p.seed = seed;
    p.plateau_tol = plateau_tol;
    p.plateau_window = plateau_window;
    p.patience = patience;
    p.decay = decay;
    p.min_lr = min_lr;
    p.c_start = c_start;
    p.anneal_epochs = anneal_epochs;
    auto Rb = empty<T>({k, d});
    auto eb = empty<T>({k});
    check_alloc(static_cast<double>(max_epochs), sizeof(double),
                "loss curve for max_epochs=" + std::to_string(max_epochs));
    std::vector<double> curve(static_cast<size_t>(std::max<long long>(max_epochs, 1)));
    double lr = learning_rate;
    Status st;
    std::exception_ptr err;
    const bool has_cb = !callback.is_none();
    auto on_epoch = [&](index_t epoch, double loss, double cur_lr) -> bool {
      if (!has_cb) return true;
      py::gil_scoped_acquire gil;
      try {
        py::object r = callback(epoch, loss, cur_lr);
        return r.is_none() ? true : r.cast<bool>();
      } catch (...) {
        err = std::current_exception();
        return false;
      }
    };
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = clam::clam_train<T>(x, n, d, mv, r0, e0, k, p, n_threads, on_epoch, Rb.mutable_data(), eb.mutable_data(),
                               curve.data(), &lr);
    }
    intr.raise_if_interrupted();
    if (err) std::rethrow_exception(err);
    auto loss_curve = empty<double>({static_cast<py::ssize_t>(st.iterations)});
    for (index_t e = 0; e < st.iterations; ++e) loss_curve.mutable_data()[e] = curve[e];
    if (!weighted) {
      for (index_t mu = 0; mu < k; ++mu) eb.mutable_data()[mu] = e0 ? e0[mu] : T(0);
    }
    return py::make_tuple(Rb, eb, loss_curve, lr, status_dict(st));
  });
}

}  // namespace

void bind_clam(py::module_& m) {
  m.def("clam_forward", &clam_forward_py, py::arg("X0"), py::arg("mask"), py::arg("R"), py::arg("eta"), py::arg("c"),
        py::arg("alpha"), py::arg("n_steps"), py::arg("spherical"), py::arg("n_threads"),
        R"doc(ClAM forward recursion for a batch (docs/clam.md).

Returns ``(V, P)``: states ``V`` (n_steps + 1, B, d) with ``V[0] = X0`` and softmax weights
``P`` (n_steps, B, k) of ``-c ||R_mu - v||^2 + eta_mu``.  ``mask`` (B, d) or None (all ones),
``eta`` (k,) or None.)doc");
  m.def("clam_backward", &clam_backward_py, py::arg("V"), py::arg("P"), py::arg("mask"), py::arg("R"), py::arg("G"),
        py::arg("c"), py::arg("alpha"), py::arg("spherical"), py::arg("n_threads"),
        R"doc(Backpropagation through the recursion: ``G = dL/dV[-1]`` (B, d) to ``(dR, deta, dX0)``.)doc");
  m.def("clam_predict", &clam_predict_py, py::arg("X"), py::arg("R"), py::arg("eta"), py::arg("c"), py::arg("alpha"),
        py::arg("n_steps"), py::arg("spherical"), py::arg("n_threads"),
        R"doc(Inference: ``n_steps`` unmasked steps, then ``(labels, squared distances (n, k), final states)``.)doc");
  m.def("clam_train", &clam_train_py, py::arg("X"), py::arg("mask_values"), py::arg("R0"), py::arg("eta0"),
        py::arg("c"), py::arg("alpha"), py::arg("n_steps"), py::arg("spherical"), py::arg("weighted"),
        py::arg("batch_size"), py::arg("n_mask"), py::arg("max_epochs"), py::arg("learning_rate"), py::arg("seed"),
        py::arg("n_threads"), py::arg("callback") = py::none(), py::arg("plateau_tol") = 1e-3,
        py::arg("plateau_window") = 10, py::arg("patience") = 5, py::arg("decay") = 0.8, py::arg("min_lr") = 1e-6,
        py::arg("c_start") = 0.0, py::arg("anneal_epochs") = 0,
        R"doc(The whole ClAM training loop (shuffled mini-batches, masks, BPTT, Adam, plateau decay).

With ``c_start > 0`` and ``anneal_epochs > 0`` the exponent factor rises geometrically from
``c_start`` to ``c`` over the first ``anneal_epochs`` epochs; only later epochs count for the best
loss and the plateau decay.

Returns ``(R_best, eta_best, loss_curve, final_lr, status)``.  ``callback(epoch, loss, lr)`` is
called after every epoch with the GIL held; returning False stops training.)doc");
}
