/*
 * The kernels in single precision (precision "single"): complex floats, half the memory and the
 * bandwidth of double; 16-float vectors (8 amplitudes).
 */
#include <complex.h>

#define REAL float
#define CPLX float complex
#define SVK(name) sv_##name##_f
#define SVK_AMP(sv) ((sv)->amp_f)
#define SVK_BLOCK_RE(b) ((b)->re_f)
#define SVK_BLOCK_IM(b) ((b)->im_f)
typedef float SVK_V1 __attribute__((vector_size(8)));
typedef float SVK_V2 __attribute__((vector_size(16)));
typedef float SVK_V3 __attribute__((vector_size(32)));
typedef float SVK_V4 __attribute__((vector_size(64)));
#define SVK_L1 2
#define SVK_L2 4
#define SVK_L3 8
#define SVK_L4 16
typedef float SVK_VEC __attribute__((vector_size(64)));
typedef float SVK_VECU __attribute__((vector_size(64), aligned(4)));
typedef int SVK_VECI __attribute__((vector_size(64)));
#define SVK_LANE_LOG 3
#define SVK_LANES 8
#define SVK_NEG_EVEN ((SVK_VEC){-1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1})
#ifdef __clang__ /* clang spells GCC's __builtin_shuffle with constant indices so */
#define SVK_SWAP_PAIRS(x) __builtin_shufflevector((x), (x), 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)
#else
#define SVK_SWAP_PAIRS(x) __builtin_shuffle((x), (SVK_VECI){1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14})
#endif

#include "engine/statevec_kernels.h"
