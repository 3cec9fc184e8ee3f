// The AVX2 unit: every family's row-block kernels for Isa::avx2, compiled with -mavx2 -mfma
// -ffp-contract=fast (x86-64 only, see CMakeLists.txt); called only where the CPU has both.
#define DANNEAL_SIMD_UNIT_ISA avx2
#include "isa_unit.inc"
