// Helpers shared by the bind_<family>.cpp files: strict array checks (no silent conversion:
// python/danneal validates and converts before calling), dtype dispatch, output allocation.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "danneal/common.hpp"

namespace py = pybind11;

namespace danneal::bind {

// Raises TypeError unless `a` is a C-contiguous array of dtype T with the given number of
// dimensions; returns its data pointer.
template <class T>
inline const T* in_ptr(const py::array& a, const char* name, int ndim) {
  if (!py::isinstance<py::array_t<T>>(a))  // equivalent dtype (native byte order), any array subclass
    throw py::type_error(std::string(name) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) +
                          "-d array, got ndim=" + std::to_string(a.ndim()));
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": array must be C-contiguous");
  return static_cast<const T*>(a.data());
}

// Same checks for an array the kernel writes into (must be writeable).
template <class T>
inline T* out_ptr(py::array& a, const char* name, int ndim) {
  in_ptr<T>(a, name, ndim);
  if (!a.writeable()) throw py::value_error(std::string(name) + ": array must be writeable");
  return static_cast<T*>(a.mutable_data());
}

inline void expect_shape(const py::array& a, const char* name, std::vector<py::ssize_t> shape) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    std::string want = "(", got = "(";
    for (size_t i = 0; i < shape.size(); ++i) want += std::to_string(shape[i]) + (i + 1 < shape.size() ? ", " : "");
    for (py::ssize_t i = 0; i < a.ndim(); ++i) got += std::to_string(a.shape(i)) + (i + 1 < a.ndim() ? ", " : "");
    throw py::value_error(std::string(name) + ": expected shape " + want + "), got " + got + ")");
  }
}

inline bool is_f32(const py::array& a) {
  return py::isinstance<py::array_t<float>>(a);
}
inline bool is_f64(const py::array& a) {
  return py::isinstance<py::array_t<double>>(a);
}

inline void check_threads(int n_threads) {
  if (n_threads < 1) throw py::value_error("n_threads=" + std::to_string(n_threads) + " must be >= 1");
}

template <class T>
inline py::array_t<T> empty(std::vector<py::ssize_t> shape) {
  return py::array_t<T>(shape);
}

inline py::dict status_dict(const Status& s) {
  py::dict d;
  d["converged"] = s.converged;
  d["numerical_error"] = s.numerical_error;
  d["iterations"] = s.iterations;
  d["error"] = s.error;
  return d;
}

// Dispatches f.template operator()<T>() on the dtype of `a` (float32 or float64).
template <class F>
inline auto dispatch(const py::array& a, const char* name, F&& f) {
  if (is_f64(a)) return f(double{});
  if (is_f32(a)) return f(float{});
  throw py::type_error(std::string(name) + ": unsupported dtype " + std::string(py::str(a.dtype())) +
                       " (float32 or float64)");
}

// ---- Ctrl-C and stop requests (the C++ side is danneal::should_stop in common.hpp) -------------
// Python threads whose running kernels must return (python/danneal/_threads.py asks for the worker
// threads of a pool when the main thread is interrupted).  Keyed by threading.get_ident().
struct ThreadStops {
  std::mutex mu;
  std::unordered_set<unsigned long> ids;
  std::atomic<int> count{0};
};
inline ThreadStops& thread_stops() {
  static ThreadStops s;
  return s;
}
inline void request_thread_stop(unsigned long ident, bool on) {
  auto& s = thread_stops();
  std::lock_guard<std::mutex> lock(s.mu);
  if (on)
    s.ids.insert(ident);
  else
    s.ids.erase(ident);
  s.count.store(static_cast<int>(s.ids.size()));
}
inline bool thread_stop_requested(unsigned long ident) {
  auto& s = thread_stops();
  if (s.count.load() == 0) return false;
  std::lock_guard<std::mutex> lock(s.mu);
  return s.ids.count(ident) != 0;
}
// threading.main_thread().ident, recorded when the module is imported (module.cpp).
inline unsigned long& main_thread_ident() {
  static unsigned long id = 0;
  return id;
}

// Declare one before releasing the GIL around a long kernel, and call raise_if_interrupted() as
// soon as the GIL is held again:
//   Interruptible intr;
//   { py::gil_scoped_release nogil; st = kernel(...); }
//   intr.raise_if_interrupted();
// While it lives, danneal::should_stop() on this thread briefly takes the GIL and runs
// PyErr_CheckSignals() (main thread only: Python runs signal handlers there), or reports a stop
// requested for this thread.  The exception of the signal handler (KeyboardInterrupt for Ctrl-C)
// is kept and raised by raise_if_interrupted(); the kernel's partial outputs are never returned.
class Interruptible {
 public:
  Interruptible() : ident_(PyThread_get_thread_ident()), main_(ident_ == main_thread_ident()) {
    hook_.fn = &Interruptible::check;
    hook_.ctx = this;
    scope_ = std::make_unique<StopScope>(&hook_);
  }
  Interruptible(const Interruptible&) = delete;
  Interruptible& operator=(const Interruptible&) = delete;

  bool interrupted() const { return hook_.stopped; }

  // Call with the GIL held.
  void raise_if_interrupted() {
    scope_.reset();
    if (!hook_.stopped) return;
    if (error_) throw py::error_already_set(*error_);
    PyErr_SetString(PyExc_KeyboardInterrupt, "danneal kernel stopped: its thread was asked to stop");
    throw py::error_already_set();
  }

 private:
  static bool check(void* ctx) {  // called without the GIL, from should_stop()
    auto* self = static_cast<Interruptible*>(ctx);
    if (thread_stop_requested(self->ident_)) return true;
    if (!self->main_) return false;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;
    self->error_ = std::make_unique<py::error_already_set>();  // fetches the handler's exception
    return true;
  }

  StopHook hook_;
  unsigned long ident_;
  bool main_;
  std::unique_ptr<StopScope> scope_;
  std::unique_ptr<py::error_already_set> error_;
};

}  // namespace danneal::bind

// One registration function per family; module.cpp calls them all.
void bind_pairwise(py::module_& m);
void bind_softassign(py::module_& m);
void bind_clam(py::module_& m);
void bind_central(py::module_& m);
void bind_losses(py::module_& m);
