// Number formatting for the bindings' error messages: a double as Python's repr shows it (the
// shortest form that reads back exactly: 1e-07, 0.5, inf), so that they read like the Python
// layer's messages and never say "tol=-0.000000" (std::to_string's fixed six decimals).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace danneal::bind {

inline std::string num(double x) {
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}

}  // namespace danneal::bind
