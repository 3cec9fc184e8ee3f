#include <pybind11/functional.h>

#include <algorithm>
#include <exception>

#include "bindings.hpp"
#include "danneal/clam.hpp"
#include "danneal/silhouette.hpp"
#include "format.hpp"

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
  if (!(alpha > 0) || !std::isfinite(alpha)) throw py::value_error("alpha=" + num(alpha) + " must be finite and > 0");
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

void check_train_params(const clam::TrainParams& p) {
  check_step(p.c, p.alpha, p.n_steps);
  if (p.batch_size < 1) throw py::value_error("batch_size=" + std::to_string(p.batch_size) + " must be >= 1");
  if (p.max_epochs < 0) throw py::value_error("max_epochs=" + std::to_string(p.max_epochs) + " must be >= 0");
  if (!(p.learning_rate > 0) || !std::isfinite(p.learning_rate))
    throw py::value_error("learning_rate=" + num(p.learning_rate) + " must be finite and > 0");
  if (!(p.beta1 >= 0 && p.beta1 < 1)) throw py::value_error("beta1=" + num(p.beta1) + " must be in [0, 1)");
  if (!(p.beta2 >= 0 && p.beta2 < 1)) throw py::value_error("beta2=" + num(p.beta2) + " must be in [0, 1)");
  if (!(p.adam_eps > 0) || !std::isfinite(p.adam_eps))
    throw py::value_error("adam_eps=" + num(p.adam_eps) + " must be finite and > 0");
  if (p.plateau_window < 1)
    throw py::value_error("plateau_window=" + std::to_string(p.plateau_window) + " must be >= 1");
  if (p.patience < 1) throw py::value_error("patience=" + std::to_string(p.patience) + " must be >= 1");
  if (!(p.decay > 0 && p.decay <= 1)) throw py::value_error("decay=" + num(p.decay) + " must be in (0, 1]");
  if (!(p.plateau_tol >= 0)) throw py::value_error("plateau_tol=" + num(p.plateau_tol) + " must be >= 0");
  if (!(p.min_lr >= 0)) throw py::value_error("min_lr=" + num(p.min_lr) + " must be >= 0");
  if (!(p.c_start >= 0) || !std::isfinite(p.c_start))
    throw py::value_error("c_start=" + num(p.c_start) + " must be finite and >= 0");
  if (p.anneal_epochs < 0) throw py::value_error("anneal_epochs=" + std::to_string(p.anneal_epochs) + " must be >= 0");
  if (p.mask_mode < 0 || p.mask_mode > 2)
    throw py::value_error("mask_mode=" + std::to_string(p.mask_mode) + " must be 0, 1 or 2");
  if (p.mask_share_every < 0)
    throw py::value_error("mask_share_every=" + std::to_string(p.mask_share_every) + " must be >= 0");
  if (p.n_iter_no_change < 0)
    throw py::value_error("n_iter_no_change=" + std::to_string(p.n_iter_no_change) + " must be >= 0");
  if (!(p.tol >= 0) || !std::isfinite(p.tol)) throw py::value_error("tol=" + num(p.tol) + " must be finite and >= 0");
  if (p.epoch_rows < 0) throw py::value_error("epoch_rows=" + std::to_string(p.epoch_rows) + " must be >= 0");
}

py::tuple clam_train_py(const py::array& X, const py::object& sample_weight, const py::array& mask_values,
                        const py::array& R0, const py::object& eta0, const clam::TrainParams& p, int n_threads,
                        const py::object& callback) {
  check_threads(n_threads);
  check_train_params(p);
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* x = in_ptr<T>(X, "X", 2);
    const index_t n = X.shape(0), d = X.shape(1);
    if (n < 1 || d < 1) throw py::value_error("X: empty array");
    if (p.mask_mode != 2 && (p.n_mask < 1 || p.n_mask > d))
      throw py::value_error("n_mask=" + std::to_string(p.n_mask) + " must be in [1, d=" + std::to_string(d) + "]");
    const T* sw = opt_ptr<T>(sample_weight, "sample_weight", {n});
    const T* mv = in_ptr<T>(mask_values, "mask_values", 1);
    expect_shape(mask_values, "mask_values", {d});
    const T* r0 = in_ptr<T>(R0, "R0", 2);
    const index_t k = R0.shape(0);
    if (k < 1) throw py::value_error("R0: need at least one prototype");
    expect_shape(R0, "R0", {k, d});
    const T* e0 = opt_ptr<T>(eta0, "eta0", {k});
    clam::TrainParams q = p;
    if (q.mask_mode == 2) q.n_mask = 1;  // unused without masks
    auto Rb = empty<T>({k, d});
    auto eb = empty<T>({k});
    check_alloc(static_cast<double>(q.max_epochs), sizeof(double),
                "loss curve for max_epochs=" + std::to_string(q.max_epochs));
    std::vector<double> curve(static_cast<size_t>(std::max<long long>(q.max_epochs, 1)));
    double lr = q.learning_rate;
    Status st;
    std::exception_ptr err;
    const bool has_cb = !callback.is_none();
    auto on_epoch = [&](index_t epoch, double loss, double cur_lr, const T* R) -> bool {
      if (!has_cb) return true;
      py::gil_scoped_acquire gil;
      try {
        auto Rc = empty<T>({k, d});
        std::copy(R, R + k * d, Rc.mutable_data());
        py::object r = callback(epoch, loss, cur_lr, Rc);
        return r.is_none() ? true : r.cast<bool>();
      } catch (...) {
        err = std::current_exception();
        return false;
      }
    };
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = clam::clam_train<T>(x, n, d, sw, mv, r0, e0, k, q, n_threads, on_epoch, Rb.mutable_data(), eb.mutable_data(),
                               curve.data(), &lr);
    }
    intr.raise_if_interrupted();
    if (err) std::rethrow_exception(err);
    auto loss_curve = empty<double>({static_cast<py::ssize_t>(st.iterations)});
    for (index_t e = 0; e < st.iterations; ++e) loss_curve.mutable_data()[e] = curve[e];
    if (!q.weighted) {
      for (index_t mu = 0; mu < k; ++mu) eb.mutable_data()[mu] = e0 ? e0[mu] : T(0);
    }
    return py::make_tuple(Rb, eb, loss_curve, lr, status_dict(st));
  });
}

py::tuple silhouette_py(const py::array& X, const py::array& labels, long long n_clusters,
                        const py::object& sample_weight, int n_threads) {
  check_threads(n_threads);
  if (n_clusters < 1) throw py::value_error("n_clusters=" + std::to_string(n_clusters) + " must be >= 1");
  return dispatch(X, "X", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* x = in_ptr<T>(X, "X", 2);
    const index_t n = X.shape(0), d = X.shape(1);
    if (n < 1 || d < 1) throw py::value_error("X: empty array");
    const std::int64_t* lab = in_ptr<std::int64_t>(labels, "labels", 2);
    const index_t L = labels.shape(0);
    if (L < 1) throw py::value_error("labels: need at least one labelling");
    expect_shape(labels, "labels", {L, n});
    const T* sw = opt_ptr<T>(sample_weight, "sample_weight", {n});
    auto s = empty<double>({L, n});
    auto mean = empty<double>({L});
    Status st;
    Interruptible intr;
    {
      py::gil_scoped_release nogil;
      st = silhouette::silhouette<T>(x, n, d, lab, L, n_clusters, sw, n_threads, s.mutable_data(), mean.mutable_data());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(s, mean);
  });
}

}  // namespace

void bind_clam(py::module_& m) {
  m.def("clam_forward", &clam_forward_py, py::arg("X0"), py::arg("mask"), py::arg("R"), py::arg("eta"), py::arg("c"),
        py::arg("alpha"), py::arg("n_steps"), py::arg("spherical"), py::arg("n_threads"),
        R"doc(ClAM forward recursion for a batch (docs/guide/clam.md).

Returns ``(V, P)``: states ``V`` (n_steps + 1, B, d) with ``V[0] = X0`` and softmax weights
``P`` (n_steps, B, k) of ``-c ||R_mu - v||^2 + eta_mu``.  ``mask`` (B, d) or None (all ones),
``eta`` (k,) or None.)doc");
  m.def("clam_backward", &clam_backward_py, py::arg("V"), py::arg("P"), py::arg("mask"), py::arg("R"), py::arg("G"),
        py::arg("c"), py::arg("alpha"), py::arg("spherical"), py::arg("n_threads"),
        R"doc(Backpropagation through the recursion: ``G = dL/dV[-1]`` (B, d) to ``(dR, deta, dX0)``.)doc");
  m.def("clam_predict", &clam_predict_py, py::arg("X"), py::arg("R"), py::arg("eta"), py::arg("c"), py::arg("alpha"),
        py::arg("n_steps"), py::arg("spherical"), py::arg("n_threads"),
        R"doc(Inference: ``n_steps`` unmasked steps, then ``(labels, squared distances (n, k), final states)``.)doc");
  using TP = clam::TrainParams;
  py::class_<TP>(m, "ClamTrainParams", R"doc(Hyper-parameters of ``clam_train`` (csrc/danneal/clam.hpp ``TrainParams``).

Every field is read-write and keyword-settable in the constructor:
``ClamTrainParams(c=0.5, alpha=1.0, n_steps=5, ...)``.  ``mask_mode``: 0 distinct masked
coordinates, 1 drawn with replacement, 2 no mask; ``mask_share_every`` > 0: batch-shared masks in
every such epoch; ``n_iter_no_change`` > 0 with ``tol``: stop on a loss plateau; ``epoch_rows`` > 0:
an epoch trains on the first ``epoch_rows`` rows of its shuffle (a fresh sample every epoch).)doc")
      .def(py::init([](py::kwargs kw) {
        TP p;
        py::object o = py::cast(p, py::return_value_policy::copy);
        for (auto item : kw) {
          const std::string key = py::str(item.first);
          if (!py::hasattr(o, key.c_str()) || key.rfind("__", 0) == 0)
            throw py::type_error("ClamTrainParams: unknown field " + key);
          o.attr(key.c_str()) = item.second;
        }
        return o.cast<TP>();
      }))
      .def_readwrite("c", &TP::c)
      .def_readwrite("alpha", &TP::alpha)
      .def_readwrite("n_steps", &TP::n_steps)
      .def_readwrite("spherical", &TP::spherical)
      .def_readwrite("weighted", &TP::weighted)
      .def_readwrite("batch_size", &TP::batch_size)
      .def_readwrite("n_mask", &TP::n_mask)
      .def_readwrite("max_epochs", &TP::max_epochs)
      .def_readwrite("learning_rate", &TP::learning_rate)
      .def_readwrite("beta1", &TP::beta1)
      .def_readwrite("beta2", &TP::beta2)
      .def_readwrite("adam_eps", &TP::adam_eps)
      .def_readwrite("plateau_window", &TP::plateau_window)
      .def_readwrite("patience", &TP::patience)
      .def_readwrite("plateau_tol", &TP::plateau_tol)
      .def_readwrite("decay", &TP::decay)
      .def_readwrite("min_lr", &TP::min_lr)
      .def_readwrite("c_start", &TP::c_start)
      .def_readwrite("anneal_epochs", &TP::anneal_epochs)
      .def_readwrite("seed", &TP::seed)
      .def_readwrite("mask_mode", &TP::mask_mode)
      .def_readwrite("mask_share_every", &TP::mask_share_every)
      .def_readwrite("n_iter_no_change", &TP::n_iter_no_change)
      .def_readwrite("tol", &TP::tol)
      .def_readwrite("epoch_rows", &TP::epoch_rows);
  m.def("clam_train", &clam_train_py, py::arg("X"), py::arg("sample_weight"), py::arg("mask_values"), py::arg("R0"),
        py::arg("eta0"), py::arg("params"), py::arg("n_threads"), py::arg("callback") = py::none(),
        R"doc(The whole ClAM training loop (shuffled mini-batches, masks, BPTT, Adam, plateau decay, early stop).

``params`` is a ``ClamTrainParams``.  ``sample_weight`` (n,) or None weights each row's loss (pass
weights of mean 1).  ``eta0`` (k,) or None: log-weights used by the recursion, learned when
``params.weighted``, fixed otherwise.  With ``c_start > 0`` and ``anneal_epochs > 0`` the exponent
factor rises geometrically from ``c_start`` to ``c`` over the first ``anneal_epochs`` epochs; only
later epochs count for the best loss, the plateau decay and the early stop.

Returns ``(R_best, eta_best, loss_curve, final_lr, status)``.  ``callback(epoch, loss, lr, R)`` is
called after every epoch with the GIL held (``R``: a copy of the current prototypes); returning
False stops training.)doc");
  m.def("silhouette", &silhouette_py, py::arg("X"), py::arg("labels"), py::arg("n_clusters"), py::arg("sample_weight"),
        py::arg("n_threads"),
        R"doc(Exact silhouettes of ``L`` labellings of the same points (csrc/danneal/silhouette.hpp).

``labels`` (L, n) int64 in ``[0, n_clusters)``; ``sample_weight`` (n,) or None.  Returns
``(s, mean)``: per-point silhouettes (L, n) float64 (those of ``sklearn.metrics.silhouette_samples``
when unweighted) and their (weighted) means (L,).  O(n^2 d), one pass over the distances for
all labellings.)doc");
}
