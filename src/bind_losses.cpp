#include "bindings.hpp"

void bind_losses(py::module_& m) { (void)m; }
