// The baseline unit: every family's row-block kernels for Isa::baseline, compiled with the
// compiler's default target (x86-64: SSE2) and -ffp-contract=off (see CMakeLists.txt).
#define DANNEAL_SIMD_UNIT_ISA baseline
#include "isa_unit.inc"
