#include "bindings.hpp"

void bind_central(py::module_& m) { (void)m; }
