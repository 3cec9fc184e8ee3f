#include "bindings.hpp"

void bind_clam(py::module_& m) { (void)m; }
