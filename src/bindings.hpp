// Helpers shared by the bind_<family>.cpp files: strict array checks (no silent conversion:
// python/danneal validates and converts before calling), dtype dispatch, output allocation.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "danneal/common.hpp"

namespace py = pybind11;

namespace danneal::bind {

// Raises TypeError unless `a` is a C-contiguous array of dtype T with the given number of
// dimensions; returns its data pointer.
template <class T>
inline const T* in_ptr(const py::array& a, const char* name, int ndim) {
  if (!py::isinstance<py::array_t<T>>(a))  // equivalent dtype (native byte order), any array subclass
    throw py::type_error(std::string(name) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) + "-d array, got ndim=" +
                          std::to_string(a.ndim()));
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

inline bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }
inline bool is_f64(const py::array& a) { return py::isinstance<py::array_t<double>>(a); }

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

}  // namespace danneal::bind

// One registration function per family; module.cpp calls them all.
void bind_pairwise(py::module_& m);
void bind_softassign(py::module_& m);
void bind_clam(py::module_& m);
void bind_central(py::module_& m);
void bind_losses(py::module_& m);
