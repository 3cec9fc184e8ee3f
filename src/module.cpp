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
  }, "Threads OpenMP would start by default (1 without OpenMP).");
  bind_pairwise(m);
  bind_softassign(m);
  bind_clam(m);
  bind_central(m);
  bind_losses(m);
}
