#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "danneal compiled kernels (internal; use the danneal package).";
  m.attr("openmp") = danneal::have_openmp();
  m.def("max_threads", []() {
#ifdef DANNEAL_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
  }, "Threads OpenMP would start by default for the calling thread (omp_get_max_threads(); 1 without "
     "OpenMP).  threadpoolctl.threadpool_limits changes it.");
  danneal::bind::main_thread_ident() =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  m.def("openmp_pool_started", []() { return danneal::openmp_pool_started().load(); },
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
