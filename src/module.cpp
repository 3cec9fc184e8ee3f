#include "bindings.hpp"
#include "danneal/simd/isa.hpp"

namespace {

// The instruction set named by `isa` if this build and CPU run it, else ValueError.
danneal::simd::Isa checked_isa(const std::string& isa) {
  using danneal::simd::Isa;
  for (Isa i : {Isa::baseline, Isa::avx2})
    if (isa == danneal::simd::isa_name(i)) {
      if (!danneal::simd::isa_available(i))
        throw py::value_error("isa='" + isa + "' is not available on this machine or build");
      return i;
    }
  throw py::value_error("isa='" + isa + "' is not an instruction set ('baseline' or 'avx2')");
}

// y = f(x) elementwise through the vector math of one instruction set (test-only).
template <bool kLog>
py::array simd_math_py(const py::array& x, const std::string& isa) {
  const danneal::simd::Isa which = checked_isa(isa);
  return danneal::bind::dispatch(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = danneal::bind::in_ptr<T>(x, "x", 1);
    const danneal::index_t n = x.shape(0);
    auto out = danneal::bind::empty<T>({n});
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;  // released for the kernel only: returning `out` increfs it
      danneal::simd::with_isa(which, [&](auto t) {
        constexpr danneal::simd::Isa I = decltype(t)::value;
        if constexpr (kLog)
          danneal::simd::log_array<T, I>(px, po, n);
        else
          danneal::simd::exp_array<T, I>(px, po, n);
      });
    }
    return out;
  });
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "danneal compiled kernels (internal; use the danneal package).";
  m.attr("openmp") = danneal::have_openmp();
  // The instruction set of every vector kernel, chosen once, now (DANNEAL_ISA: csrc/danneal/simd/isa.hpp);
  // an unknown name fails the import.
  try {
    const auto& choice = danneal::simd::isa_choice();
    if (!choice.warning.empty() && PyErr_WarnEx(PyExc_RuntimeWarning, choice.warning.c_str(), 1) != 0)
      throw py::error_already_set();
  } catch (const std::invalid_argument& e) {
    throw py::import_error(e.what());
  }
  m.def(
      "isa", []() { return std::string(danneal::simd::isa_name(danneal::simd::active_isa())); },
      "Instruction set the vector kernels run with ('baseline' or 'avx2'; DANNEAL_ISA overrides the best one).");
  m.def(
      "isas_available",
      []() {
        py::list out;
        for (auto i : {danneal::simd::Isa::baseline, danneal::simd::Isa::avx2})
          if (danneal::simd::isa_available(i)) out.append(danneal::simd::isa_name(i));
        return out;
      },
      "Instruction sets this build and CPU can run, baseline first.");
  m.def("_simd_exp", &simd_math_py<false>, py::arg("x"), py::arg("isa"),
        "Test-only: exp of a 1-d float32/float64 array through the vector exp of instruction set ``isa`` "
        "(csrc/danneal/simd/math.hpp states its accuracy and range).");
  m.def("_simd_log", &simd_math_py<true>, py::arg("x"), py::arg("isa"),
        "Test-only: log of a 1-d float32/float64 array through the vector log of instruction set ``isa``.");
  m.def(
      "max_threads",
      []() {
#ifdef DANNEAL_HAVE_OPENMP
        return omp_get_max_threads();
#else
        return 1;
#endif
      },
      "Threads OpenMP would start by default for the calling thread (omp_get_max_threads(); 1 without "
      "OpenMP).  threadpoolctl.threadpool_limits changes it.");
  danneal::bind::main_thread_ident() =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  m.def(
      "openmp_pool_started", []() { return danneal::openmp_pool_started().load(); },
      "Whether a parallel region with more than one thread has run in this process (or in the parent "
      "before fork(): GNU OpenMP would then hang in a forked child).");
  m.def("_request_thread_stop", &danneal::bind::request_thread_stop, py::arg("ident"), py::arg("on"),
        "Ask the kernels running on Python thread ``ident`` (threading.get_ident()) to stop and raise "
        "KeyboardInterrupt (on=True), or withdraw the request (on=False).  Internal.");
  bind_pairwise(m);
  bind_softassign(m);
  bind_clam(m);
  bind_central(m);
  bind_losses(m);
}
