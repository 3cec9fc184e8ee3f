#include "bindings.hpp"
#include "danneal/qap.hpp"
#include "danneal/sinkhorn_batch.hpp"
#include "danneal/softassign.hpp"
#include "format.hpp"

using namespace danneal;
using namespace danneal::bind;

namespace {

py::tuple sinkhorn_log_py(const py::array& C, double scale, const py::array& a, const py::array& b,
                          const py::array& alpha0, const py::array& beta0, long long max_iter, double tol, int norm,
                          int n_threads) {
  check_threads(n_threads);
  if (max_iter < 0) throw py::value_error("max_iter=" + std::to_string(max_iter) + " must be >= 0");
  if (!(tol >= 0)) throw py::value_error("tol=" + num(tol) + " must be >= 0");
  if (norm != softassign::kMax && norm != softassign::kL2)
    throw py::value_error("norm=" + std::to_string(norm) + " must be 0 (max) or 2 (l2)");
  if (!std::isfinite(scale) || scale == 0) throw py::value_error("scale=" + num(scale) + " must be finite and nonzero");
  return dispatch(C, "C", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* c = in_ptr<T>(C, "C", 2);
    const index_t n = C.shape(0), m = C.shape(1);
    if (n < 1 || m < 1) throw py::value_error("C: empty matrix");
    const double* pa = in_ptr<double>(a, "a", 1);
    const double* pb = in_ptr<double>(b, "b", 1);
    const double* pa0 = in_ptr<double>(alpha0, "alpha0", 1);
    const double* pb0 = in_ptr<double>(beta0, "beta0", 1);
    expect_shape(a, "a", {n});
    expect_shape(b, "b", {m});
    expect_shape(alpha0, "alpha0", {n});
    expect_shape(beta0, "beta0", {m});
    auto P = empty<T>({n, m});
    auto al = empty<double>({n});
    auto be = empty<double>({m});
    Status st;
    Interruptible intr;
    try {
      py::gil_scoped_release nogil;
      st = softassign::sinkhorn_log<T>(c, n, m, scale, pa, pb, pa0, pb0, max_iter, tol, norm, n_threads,
                                       P.mutable_data(), al.mutable_data(), be.mutable_data());
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(P, al, be, status_dict(st));
  });
}

py::tuple qap_2opt_py(const py::array& A, const py::array& B, const py::array& perm, bool maximize,
                      long long max_passes) {
  if (max_passes < 0) throw py::value_error("max_passes=" + std::to_string(max_passes) + " must be >= 0");
  return dispatch(A, "A", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pa = in_ptr<T>(A, "A", 2);
    const T* pb = in_ptr<T>(B, "B", 2);
    const index_t n = A.shape(0);
    expect_shape(A, "A", {n, n});
    expect_shape(B, "B", {n, n});
    const std::int64_t* pp = in_ptr<std::int64_t>(perm, "perm", 1);
    expect_shape(perm, "perm", {n});
    auto out = empty<std::int64_t>({n});
    std::int64_t* po = out.mutable_data();
    for (index_t i = 0; i < n; ++i) po[i] = pp[i];
    index_t swaps = 0;
    Interruptible intr;
    try {
      py::gil_scoped_release nogil;
      swaps = softassign::qap_2opt<T>(pa, pb, n, maximize, max_passes, po);
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(out, swaps);
  });
}

py::tuple qap_fixed_point_py(const py::array& A, const py::array& B, const py::object& E, double c, double gamma,
                             double beta, const py::array& M0, long long max_inner, double inner_tol,
                             long long sinkhorn_iter, const py::array& alpha0, const py::array& beta0) {
  if (!(beta > 0) || !std::isfinite(beta)) throw py::value_error("beta=" + num(beta) + " must be > 0");
  if (max_inner < 0) throw py::value_error("max_inner=" + std::to_string(max_inner) + " must be >= 0");
  if (sinkhorn_iter < 1) throw py::value_error("sinkhorn_iter=" + std::to_string(sinkhorn_iter) + " must be >= 1");
  if (!std::isfinite(c) || !std::isfinite(gamma)) throw py::value_error("c and gamma must be finite");
  return dispatch(A, "A", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pa = in_ptr<T>(A, "A", 2);
    const index_t n = A.shape(0);
    expect_shape(A, "A", {n, n});
    const T* pb = in_ptr<T>(B, "B", 2);
    expect_shape(B, "B", {n, n});
    const T* pm = in_ptr<T>(M0, "M0", 2);
    expect_shape(M0, "M0", {n, n});
    const T* pe = nullptr;
    py::array Ea;
    if (!E.is_none()) {
      Ea = E.cast<py::array>();
      pe = in_ptr<T>(Ea, "E", 2);
      expect_shape(Ea, "E", {n, n});
    }
    const double* pa0 = in_ptr<double>(alpha0, "alpha0", 1);
    const double* pb0 = in_ptr<double>(beta0, "beta0", 1);
    expect_shape(alpha0, "alpha0", {n});
    expect_shape(beta0, "beta0", {n});
    auto M = empty<T>({n, n});
    auto al = empty<double>({n});
    auto be = empty<double>({n});
    Status st;
    Interruptible intr;
    try {
      py::gil_scoped_release nogil;
      st = softassign::qap_fixed_point<T>(pa, pb, n, pe, c, gamma, beta, pm, max_inner, inner_tol, sinkhorn_iter, pa0,
                                          pb0, M.mutable_data(), al.mutable_data(), be.mutable_data());
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(M, al, be, status_dict(st));
  });
}

py::tuple qap_local_search_py(const py::array& A, const py::array& B, const py::array& perms, const py::object& movable,
                              bool maximize, long long max_moves, long long n_kicks, long long kick_size,
                              const py::object& seeds, int n_threads) {
  check_threads(n_threads);
  if (max_moves < 0) throw py::value_error("max_moves=" + std::to_string(max_moves) + " must be >= 0");
  if (n_kicks < 0) throw py::value_error("n_kicks=" + std::to_string(n_kicks) + " must be >= 0");
  if (kick_size < 1) throw py::value_error("kick_size=" + std::to_string(kick_size) + " must be >= 1");
  return dispatch(A, "A", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pa = in_ptr<T>(A, "A", 2);
    const T* pb = in_ptr<T>(B, "B", 2);
    const index_t n = A.shape(0);
    if (n < 1) throw py::value_error("A: empty matrix");
    expect_shape(A, "A", {n, n});
    expect_shape(B, "B", {n, n});
    const std::int64_t* pp = in_ptr<std::int64_t>(perms, "perms", 2);
    const index_t R = perms.shape(0);
    expect_shape(perms, "perms", {R, n});
    const unsigned char* pm = nullptr;
    py::array mva;
    if (!movable.is_none()) {
      mva = movable.cast<py::array>();
      pm = reinterpret_cast<const unsigned char*>(in_ptr<bool>(mva, "movable", 1));
      expect_shape(mva, "movable", {n});
    }
    const std::uint64_t* ps = nullptr;
    py::array sda;
    if (!seeds.is_none()) {
      sda = seeds.cast<py::array>();
      ps = in_ptr<std::uint64_t>(sda, "seeds", 1);
      expect_shape(sda, "seeds", {R});
    }
    auto out = empty<std::int64_t>({R, n});
    auto mv = empty<std::int64_t>({R});
    std::int64_t* po = out.mutable_data();
    for (index_t t = 0; t < R * n; ++t) po[t] = pp[t];
    Status st;
    Interruptible intr;
    try {
      py::gil_scoped_release nogil;
      st = qap::local_search<T>(pa, pb, n, pm, maximize, max_moves, n_kicks, kick_size, ps, R, n_threads, po,
                                mv.mutable_data());
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(out, mv);
  });
}

py::tuple sinkhorn_batch_py(const py::array& C, double scale, const py::array& a, const py::array& b,
                            long long max_iter, double tol, int norm, int n_threads) {
  check_threads(n_threads);
  if (max_iter < 0) throw py::value_error("max_iter=" + std::to_string(max_iter) + " must be >= 0");
  if (!(tol >= 0)) throw py::value_error("tol=" + num(tol) + " must be >= 0");
  if (norm != softassign::kMax && norm != softassign::kL2)
    throw py::value_error("norm=" + std::to_string(norm) + " must be 0 (max) or 2 (l2)");
  if (!std::isfinite(scale) || scale == 0) throw py::value_error("scale=" + num(scale) + " must be finite and nonzero");
  return dispatch(C, "C", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* c = in_ptr<T>(C, "C", 3);
    const index_t B = C.shape(0), n = C.shape(1), m = C.shape(2);
    if (n < 1 || m < 1) throw py::value_error("C: empty matrices");
    const double* pa = in_ptr<double>(a, "a", 2);
    const double* pb = in_ptr<double>(b, "b", 2);
    expect_shape(a, "a", {B, n});
    expect_shape(b, "b", {B, m});
    auto P = empty<T>({B, n, m});
    auto al = empty<double>({B, n});
    auto be = empty<double>({B, m});
    auto its = empty<std::int64_t>({B});
    auto errs = empty<double>({B});
    auto conv = empty<bool>({B});
    Status st;
    Interruptible intr;
    try {
      py::gil_scoped_release nogil;
      st =
          sinkhorn_extra::sinkhorn_batch<T>(c, B, n, m, scale, pa, pb, max_iter, tol, norm, n_threads, P.mutable_data(),
                                            al.mutable_data(), be.mutable_data(), its.mutable_data(),
                                            errs.mutable_data(), reinterpret_cast<unsigned char*>(conv.mutable_data()));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(P, al, be, its, errs, conv);
  });
}

py::tuple sinkhorn_unbalanced_log_py(const py::array& C, double scale, const py::array& a, const py::array& b,
                                     double fi, const py::array& alpha0, const py::array& beta0, long long max_iter,
                                     double tol, int n_threads) {
  check_threads(n_threads);
  if (max_iter < 0) throw py::value_error("max_iter=" + std::to_string(max_iter) + " must be >= 0");
  if (!(tol >= 0)) throw py::value_error("tol=" + num(tol) + " must be >= 0");
  if (!(fi > 0 && fi <= 1)) throw py::value_error("fi=" + num(fi) + " must be in (0, 1]");
  if (!std::isfinite(scale) || scale == 0) throw py::value_error("scale=" + num(scale) + " must be finite and nonzero");
  return dispatch(C, "C", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* c = in_ptr<T>(C, "C", 2);
    const index_t n = C.shape(0), m = C.shape(1);
    if (n < 1 || m < 1) throw py::value_error("C: empty matrix");
    const double* pa = in_ptr<double>(a, "a", 1);
    const double* pb = in_ptr<double>(b, "b", 1);
    const double* pa0 = in_ptr<double>(alpha0, "alpha0", 1);
    const double* pb0 = in_ptr<double>(beta0, "beta0", 1);
    expect_shape(a, "a", {n});
    expect_shape(b, "b", {m});
    expect_shape(alpha0, "alpha0", {n});
    expect_shape(beta0, "beta0", {m});
    auto P = empty<T>({n, m});
    auto al = empty<double>({n});
    auto be = empty<double>({m});
    Status st;
    Interruptible intr;
    try {
      py::gil_scoped_release nogil;
      st = sinkhorn_extra::sinkhorn_unbalanced_log<T>(c, n, m, scale, pa, pb, fi, pa0, pb0, max_iter, tol, n_threads,
                                                      P.mutable_data(), al.mutable_data(), be.mutable_data());
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
    intr.raise_if_interrupted();
    return py::make_tuple(P, al, be, status_dict(st));
  });
}

}  // namespace

void bind_softassign(py::module_& m) {
  m.def("sinkhorn_log", &sinkhorn_log_py, py::arg("C"), py::arg("scale"), py::arg("a"), py::arg("b"), py::arg("alpha0"),
        py::arg("beta0"), py::arg("max_iter"), py::arg("tol"), py::arg("norm"), py::arg("n_threads"),
        R"doc(Log-stable Sinkhorn scaling of ``exp(scale * C)`` to marginals ``a``, ``b`` (float64).

Returns ``(P, alpha, beta, status)`` with ``P = exp(scale*C + alpha[:, None] + beta[None, :])`` (dtype of
``C``) and float64 log-domain duals.  ``status['error']`` is the row-marginal violation
(``norm`` 0: max, 2: l2) of the returned plan; its columns are exact.)doc");
  m.def("qap_fixed_point", &qap_fixed_point_py, py::arg("A"), py::arg("B"), py::arg("E"), py::arg("c"),
        py::arg("gamma"), py::arg("beta"), py::arg("M0"), py::arg("max_inner"), py::arg("inner_tol"),
        py::arg("sinkhorn_iter"), py::arg("alpha0"), py::arg("beta0"),
        R"doc(Softassign fixed point at one beta for Q(M) = c (A M B^T + A^T M B) + gamma M + E (E may be None).

Returns ``(M, alpha, beta, status)``; ``status['iterations']`` counts inner steps, ``status['error']``
is the last max change of M.  Single-threaded (n <= a few hundred).)doc");
  m.def("qap_2opt", &qap_2opt_py, py::arg("A"), py::arg("B"), py::arg("perm"), py::arg("maximize"),
        py::arg("max_passes"),
        R"doc(First-improvement 2-opt (pairwise swaps) for ``sum_ij A[i,j] B[perm[i], perm[j]]``.

Returns ``(perm, n_swaps)``; ``perm`` is int64 and a new array.)doc");
  m.def("qap_local_search", &qap_local_search_py, py::arg("A"), py::arg("B"), py::arg("perms"), py::arg("movable"),
        py::arg("maximize"), py::arg("max_moves"), py::arg("n_kicks"), py::arg("kick_size"), py::arg("seeds"),
        py::arg("n_threads"),
        R"doc(Best-improvement swap local search for ``sum_ij A[i,j] B[p[i], p[j]]`` from each row of ``perms``.

``perms`` (R x n, int64) are the starts; ``movable`` (n, bool, or None) the positions allowed to move.
After the descent, ``n_kicks`` perturbation restarts per start (``kick_size`` random swaps drawn
from ``seeds[q]`` (uint64, R, or None: q), a descent, kept only if better).  Returns
``(perms, moves)``: R local optima (new array) and the descent swaps kept per start.  Parallel over
starts; the result does not depend on ``n_threads``.)doc");
  m.def("sinkhorn_batch", &sinkhorn_batch_py, py::arg("C"), py::arg("scale"), py::arg("a"), py::arg("b"),
        py::arg("max_iter"), py::arg("tol"), py::arg("norm"), py::arg("n_threads"),
        R"doc(sinkhorn_log on each of the B problems C[k] (B x n x m) with marginals a[k], b[k] (B x n, B x m, > 0).

Returns ``(P, alpha, beta, iterations, errors, converged)``; parallel over problems, each on one thread
(the result does not depend on ``n_threads``).)doc");
  m.def(
      "sinkhorn_unbalanced_log", &sinkhorn_unbalanced_log_py, py::arg("C"), py::arg("scale"), py::arg("a"),
      py::arg("b"), py::arg("fi"), py::arg("alpha0"), py::arg("beta0"), py::arg("max_iter"), py::arg("tol"),
      py::arg("n_threads"),
      R"doc(Unbalanced (KL-relaxed) Sinkhorn in the log domain: alpha <- fi (log a - LSE_j(scale C + beta)), same for beta.

Returns ``(P, alpha, beta, status)`` with ``P = exp(scale*C + alpha[:, None] + beta[None, :])``;
``status['error']`` is the last largest change of the duals.)doc");
}
