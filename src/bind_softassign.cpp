#include "bindings.hpp"

void bind_softassign(py::module_& m) { (void)m; }
