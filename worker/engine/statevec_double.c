/*
 * The kernels in double precision (the default): complex doubles, 8-double vectors (4 amplitudes).
 */
#include <complex.h>

#define REAL double
#define CPLX double complex
#define SVK(name) sv_##name##_d
#define SVK_AMP(sv) ((sv)->amp)
#define SVK_BLOCK_RE(b) ((b)->re)
#define SVK_BLOCK_IM(b) ((b)->im)
/* the dense kernels' row vectors for blocks of 1, 2, 3 and 4+ qubits: 2^K rows, L reals a vector */
typedef double SVK_V1 __attribute__((vector_size(16)));
typedef double SVK_V2 __attribute__((vector_size(32)));
typedef double SVK_V3 __attribute__((vector_size(64)));
typedef double SVK_V4 __attribute__((vector_size(64)));
#define SVK_L1 2
#define SVK_L2 4
#define SVK_L3 8
#define SVK_L4 8
/* the lane kernels: one vector holds SVK_LANES = 2^SVK_LANE_LOG interleaved amplitudes */
typedef double SVK_VEC __attribute__((vector_size(64)));
typedef double SVK_VECU __attribute__((vector_size(64), aligned(8)));
typedef long long SVK_VECI __attribute__((vector_size(64)));
#define SVK_LANE_LOG 2
#define SVK_LANES 4
#define SVK_NEG_EVEN ((SVK_VEC){-1, 1, -1, 1, -1, 1, -1, 1})
#ifdef __clang__ /* clang spells GCC's __builtin_shuffle with constant indices so */
#define SVK_SWAP_PAIRS(x) __builtin_shufflevector((x), (x), 1, 0, 3, 2, 5, 4, 7, 6)
#else
#define SVK_SWAP_PAIRS(x) __builtin_shuffle((x), (SVK_VECI){1, 0, 3, 2, 5, 4, 7, 6})
#endif

#include "engine/statevec_kernels.h"
