/*
 * Gate fusion, greedy and in one pass over the gates (the planning costs a few hundred complex
 * multiplications a gate; applying a gate to a state of 2^14 amplitudes and up costs far more).
 *
 * Each qubit remembers the last block that touched it. A gate on qubits Q:
 *  - joins that block when every qubit of Q was last touched by it (or by nothing) and the union
 *    still fits: nothing after the block touches Q, so the gate may move back to it;
 *  - otherwise opens a new block at the end, and pulls into it the blocks last touching Q that are
 *    "open" (no later block touches any of their qubits: they may move forward to it), smallest
 *    first, while the union fits.
 * Gates within a block keep their order; blocks pulled together act on disjoint qubits, so their
 * order does not matter. The block's matrix is the product of its gates, built by applying each
 * gate to the columns of the identity.
 */
#include "engine/fuse.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"


typedef struct {
    uint64_t mask;     /* qubits touched */
    size_t head, tail; /* gate list, through next[] */
    size_t n_gates;
    int fusable; /* a gate over more than max_qubits qubits stands alone */
    int alive;   /* 0: pulled into a later block */
    int diagonal;
} pending_block;

#define NONE ((size_t)-1)

static uint64_t gate_mask(const qasm_op *op) {
    uint64_t m = 0;
    for (int i = 0; i < op->n_targets; i++) m |= 1ull << op->targets[i];
    for (int i = 0; i < op->n_controls; i++) m |= 1ull << op->controls[i];
    return m;
}

/* v[0..2^k) <- op v, with the op's qubits renamed to local bits by loc[]. */
static void local_apply(double complex *v, int k, const qasm_op *op, const int *loc) {
    size_t dim = (size_t)1 << k, cmask = 0, cval = 0;
    for (int c = 0; c < op->n_controls; c++) {
        size_t bit = (size_t)1 << loc[op->controls[c]];
        cmask |= bit;
        if (op->control_values[c]) cval |= bit;
    }
    const double complex *m = op->m;
    if (op->n_targets == 1) {
        size_t t = (size_t)1 << loc[op->targets[0]];
        for (size_t i = 0; i < dim; i++) {
            if ((i & t) || (i & cmask) != cval) continue;
            double complex u = v[i], w = v[i | t];
            v[i] = m[0] * u + m[1] * w;
            v[i | t] = m[2] * u + m[3] * w;
        }
        return;
    }
    size_t t0 = (size_t)1 << loc[op->targets[0]], t1 = (size_t)1 << loc[op->targets[1]];
    for (size_t i = 0; i < dim; i++) {
        if ((i & (t0 | t1)) || (i & cmask) != cval) continue;
        size_t idx[4] = {i, i | t1, i | t0, i | t0 | t1};
        double complex x[4] = {v[idx[0]], v[idx[1]], v[idx[2]], v[idx[3]]};
        for (int r = 0; r < 4; r++) v[idx[r]] = m[r * 4] * x[0] + m[r * 4 + 1] * x[1] + m[r * 4 + 2] * x[2] + m[r * 4 + 3] * x[3];
    }
}

/* What applying a gate alone costs, in passes over the state: a controlled gate touches only its
 * controls' part (contiguous stretches when the controls are not the lowest qubits), a phase-like
 * diagonal gate (d0 == 1) only its target's |1> half. */
static double gate_cost(const qasm_op *op) {
    double c = 1;
    int low = 0;
    for (int i = 0; i < op->n_controls; i++) low |= op->controls[i] < 2;
    if (!low) c = ldexp(1, -op->n_controls);
    if (op->n_targets == 1 && op->cls == GATE_DIAGONAL && op->m[0] == 1 && op->targets[0] >= 2) c *= 0.5;
    return c;
}

/* What a block costs, in passes, by its size: measured at 26 qubits with bench/engine_run.c (the
 * kernels in statevec.c; 4 and 5 dense qubits are compute-bound in double precision). A block that
 * would cost more than its gates one by one (three controlled phases of a QFT) is not made. */
static double block_cost(int k, int diagonal) {
    static const double dense[] = {0, 1.1, 1.3, 1.3, 2.7, 4.2}, diag[] = {0, 1.0, 1.0, 1.0, 2.0, 2.0};
    return diagonal ? diag[k] : dense[k];
}

static fuse_step *push_step(fuse_plan *p) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->steps = pit_realloc(p->steps, p->cap * sizeof(fuse_step));
    }
    memset(&p->steps[p->n], 0, sizeof(fuse_step));
    return &p->steps[p->n++];
}

/* The block's matrix (or diagonal) from its gates. */
static void build_block(sv_block *b, const pending_block *pb, const qasm_op *ops, const size_t *next) {
    int loc[QASM_MAX_QUBITS];
    b->k = 0;
    for (int q = 0; q < QASM_MAX_QUBITS; q++)
        if (pb->mask >> q & 1) {
            loc[q] = b->k;
            b->qubits[b->k++] = q;
        }
    size_t dim = (size_t)1 << b->k;
    b->diagonal = pb->diagonal;
    size_t entries = b->diagonal ? dim : dim * dim;
    /* 64-byte aligned, each half a whole number of 8-double vectors (the kernels load columns as
     * such) */
    size_t half = (entries + 7) & ~(size_t)7;
    b->re = pit_aligned_alloc(64, 2 * half * sizeof(double));
    b->im = b->re + half;
    double complex col[1 << SV_BLOCK_MAX];
    if (b->diagonal) {
        for (size_t r = 0; r < dim; r++) col[r] = 1;
        for (size_t g = pb->head; g != NONE; g = next[g]) local_apply(col, b->k, &ops[g], loc);
        for (size_t r = 0; r < dim; r++) {
            b->re[r] = creal(col[r]);
            b->im[r] = cimag(col[r]);
        }
        return;
    }
    for (size_t c = 0; c < dim; c++) {
        for (size_t r = 0; r < dim; r++) col[r] = r == c;
        for (size_t g = pb->head; g != NONE; g = next[g]) local_apply(col, b->k, &ops[g], loc);
        for (size_t r = 0; r < dim; r++) {
            b->re[c * dim + r] = creal(col[r]);
            b->im[c * dim + r] = cimag(col[r]);
        }
    }
}

void fuse_plan_make(fuse_plan *plan, const qasm_op *ops, size_t n, int max_qubits) {
    fuse_plan_free(plan);
    plan->phase = 1;
    if (max_qubits < 1) max_qubits = 1;
    if (max_qubits > SV_BLOCK_MAX) max_qubits = SV_BLOCK_MAX;
    pending_block *blocks = pit_malloc((n ? n : 1) * sizeof(pending_block));
    size_t *next = pit_malloc((n ? n : 1) * sizeof(size_t));
    size_t n_blocks = 0, last[QASM_MAX_QUBITS];
    for (int q = 0; q < QASM_MAX_QUBITS; q++) last[q] = NONE;

    for (size_t g = 0; g < n; g++) {
        const qasm_op *op = &ops[g];
        next[g] = NONE;
        if (op->kind == OP_GPHASE) {
            plan->phase *= cexp(_Complex_I * op->phase);
            continue;
        }
        if (op->kind != OP_GATE) continue;
        uint64_t q_mask = gate_mask(op);
        int fits = __builtin_popcountll(q_mask) <= max_qubits;
        int diagonal = op->cls == GATE_DIAGONAL;
        /* the blocks that last touched these qubits */
        size_t touching[QASM_MAX_CONTROLS + 2];
        int n_touching = 0;
        for (uint64_t m = q_mask; m; m &= m - 1) {
            size_t b = last[__builtin_ctzll(m)];
            if (b == NONE) continue;
            int seen = 0;
            for (int i = 0; i < n_touching; i++) seen |= touching[i] == b;
            if (!seen) touching[n_touching++] = b;
        }
        if (fits && n_touching == 1) {
            pending_block *b = &blocks[touching[0]];
            int all_last = 1;
            for (uint64_t m = q_mask; m; m &= m - 1) all_last &= last[__builtin_ctzll(m)] == touching[0] || last[__builtin_ctzll(m)] == NONE;
            if (b->fusable && all_last && __builtin_popcountll(b->mask | q_mask) <= max_qubits) {
                next[b->tail] = g;
                b->tail = g;
                b->n_gates++;
                b->mask |= q_mask;
                b->diagonal &= diagonal;
                for (uint64_t m = q_mask; m; m &= m - 1) last[__builtin_ctzll(m)] = touching[0];
                continue;
            }
        }
        size_t id = n_blocks++;
        pending_block *nb = &blocks[id];
        *nb = (pending_block){.mask = q_mask, .head = g, .tail = g, .n_gates = 1, .fusable = fits, .alive = 1,
                              .diagonal = diagonal};
        if (fits) {
            /* pull in open blocks, smallest first */
            for (;;) {
                int best = -1, best_size = 99;
                for (int i = 0; i < n_touching; i++) {
                    pending_block *b = &blocks[touching[i]];
                    if (!b->alive || !b->fusable) continue;
                    if (__builtin_popcountll(nb->mask | b->mask) > max_qubits) continue;
                    int open = 1;
                    for (uint64_t m = b->mask; m; m &= m - 1) open &= last[__builtin_ctzll(m)] == touching[i];
                    if (open && __builtin_popcountll(b->mask) < best_size) {
                        best = i;
                        best_size = __builtin_popcountll(b->mask);
                    }
                }
                if (best < 0) break;
                pending_block *b = &blocks[touching[best]];
                next[b->tail] = nb->head; /* its gates come first */
                nb->head = b->head;
                nb->n_gates += b->n_gates;
                nb->mask |= b->mask;
                nb->diagonal &= b->diagonal;
                b->alive = 0;
                for (uint64_t m = b->mask; m; m &= m - 1) last[__builtin_ctzll(m)] = id;
            }
        }
        for (uint64_t m = q_mask; m; m &= m - 1) last[__builtin_ctzll(m)] = id;
    }

    for (size_t i = 0; i < n_blocks; i++) {
        const pending_block *pb = &blocks[i];
        if (!pb->alive) continue;
        double alone = 0;
        for (size_t g = pb->head; g != NONE; g = next[g]) alone += gate_cost(&ops[g]);
        if (pb->n_gates == 1 || block_cost(__builtin_popcountll(pb->mask), pb->diagonal) >= alone) {
            /* its gates one by one, in the block's order (they are contiguous there) */
            for (size_t g = pb->head; g != NONE; g = next[g]) push_step(plan)->op = &ops[g];
            continue;
        }
        build_block(&push_step(plan)->block, pb, ops, next);
    }
    /* the global phase goes into a block, if there is one */
    if (plan->phase != 1)
        for (size_t i = 0; i < plan->n; i++) {
            sv_block *b = &plan->steps[i].block;
            if (plan->steps[i].op) continue;
            size_t entries = b->diagonal ? (size_t)1 << b->k : (size_t)1 << (2 * b->k);
            for (size_t e = 0; e < entries; e++) {
                double complex z = make_complex(b->re[e], b->im[e]) * plan->phase;
                b->re[e] = creal(z);
                b->im[e] = cimag(z);
            }
            plan->phase = 1;
            break;
        }
    /* the single-precision copies, from the final entries */
    for (size_t i = 0; i < plan->n; i++) {
        sv_block *b = &plan->steps[i].block;
        if (plan->steps[i].op) continue;
        size_t entries = b->diagonal ? (size_t)1 << b->k : (size_t)1 << (2 * b->k);
        size_t half = (entries + 15) & ~(size_t)15; /* whole 16-float vectors */
        b->re_f = pit_aligned_alloc(64, 2 * half * sizeof(float));
        b->im_f = b->re_f + half;
        for (size_t e = 0; e < entries; e++) {
            b->re_f[e] = (float)b->re[e];
            b->im_f[e] = (float)b->im[e];
        }
    }
    free(blocks);
    free(next);
}

static uint64_t step_mask(const fuse_step *s) {
    if (s->op) return gate_mask(s->op);
    uint64_t m = 0;
    for (int i = 0; i < s->block.k; i++) m |= 1ull << s->block.qubits[i];
    return m;
}

static void apply_step(pit_statevec *sv, const fuse_step *s) {
    if (s->op)
        sv_apply(sv, s->op);
    else
        sv_apply_block(sv, &s->block);
}

/* Qubits every chunk keeps, whatever its steps touch: runs of 2^CHUNK_RUN_QUBITS amplitudes (512
 * bytes in double) make the copies in and out of a chunk whole cache lines. 5 by measurement (26-qubit
 * layered and QFT, interleaved): 4 was faster on the QFT, 6 on layered circuits, 5 near the best of
 * both; the more qubits kept, the fewer a stretch has left for its steps. */
#define CHUNK_RUN_QUBITS 5

/*
 * Cache blocking (sv_apply_chunked): the steps are cut into stretches, each touching at most
 * sv_chunk_qubits() qubits, applied one pass a stretch. A stretch is made greedily from the steps not
 * yet applied, in order: a step joins when its qubits fit; one that does not fit waits, and so does
 * every later step sharing a qubit with a waiting one. A step that joins moves only past waiting
 * steps on other qubits, so the product is unchanged. A stretch of one step is applied as it is.
 * Its chunk starts with the kept low qubits and a seed step's (stretch_seed).
 */

/* How many of the steps left would join a stretch whose chunk starts with the qubits used: the
 * greedy rule of apply_chunked, counting only. */
static size_t stretch_count(const fuse_plan *plan, const size_t *left, size_t n_left, uint64_t used, int L, uint64_t all) {
    uint64_t waiting = 0;
    size_t n_in = 0;
    for (size_t i = 0; i < n_left && n_in < SV_CHUNK_STEPS_MAX; i++) {
        uint64_t m = step_mask(&plan->steps[left[i]]);
        if (!(m & waiting) && __builtin_popcountll(used | m) <= L) {
            used |= m;
            n_in++;
        } else if (((waiting |= m) & all) == all)
            break; /* nothing later can join */
    }
    return n_in;
}

/* The chunk's first qubits, besides the kept low ones: those of one of the first STRETCH_SEEDS steps
 * left (or none), whichever lets the most steps join. Plain greedy follows the steps' order, and on a
 * layered circuit (a CX ladder's blocks climb the qubits one by one) it took a stretch per few steps;
 * seeded, a 24-qubit layered circuit takes 3 stretches instead of 6, a 26-qubit one 3 instead of 7,
 * a 26-qubit QFT 9 instead of 13 (64 seeds; 16 found fewer). Cost: a scan of the steps left a seed,
 * ended when nothing more can join. */
#define STRETCH_SEEDS 64

static uint64_t stretch_seed(const fuse_plan *plan, const size_t *left, size_t n_left, uint64_t reserved, int L, uint64_t all) {
    uint64_t best = 0;
    size_t best_n = stretch_count(plan, left, n_left, reserved, L, all);
    for (size_t c = 0; c < n_left && c < STRETCH_SEEDS; c++) {
        uint64_t m = step_mask(&plan->steps[left[c]]);
        if (__builtin_popcountll(reserved | m) > L) continue;
        size_t n = stretch_count(plan, left, n_left, reserved | m, L, all);
        if (n > best_n) {
            best_n = n;
            best = m;
        }
    }
    return best;
}

static int apply_chunked(const fuse_plan *plan, pit_statevec *sv, int L, int (*stop)(void *), void *arg) {
    const uint64_t reserved = (1ull << CHUNK_RUN_QUBITS) - 1, all = sv->n >= 64 ? ~0ull : (1ull << sv->n) - 1;
    size_t *left = pit_malloc((plan->n ? plan->n : 1) * sizeof(size_t)), n_left = plan->n;
    for (size_t i = 0; i < plan->n; i++) left[i] = i;
    sv_step stretch[SV_CHUNK_STEPS_MAX];
    int stopped = 0;
    while (n_left && !stopped) {
        uint64_t used = reserved | stretch_seed(plan, left, n_left, reserved, L, all), waiting = 0;
        size_t n_in = 0, kept = 0, first = NONE;
        for (size_t i = 0; i < n_left; i++) {
            const fuse_step *s = &plan->steps[left[i]];
            uint64_t m = step_mask(s);
            int joins = n_in < SV_CHUNK_STEPS_MAX && !(m & waiting) && __builtin_popcountll(used | m) <= L;
            if (joins) {
                if (first == NONE) first = left[i];
                used |= m;
                stretch[n_in++] = *s;
            } else {
                waiting |= m;
                left[kept++] = left[i];
            }
        }
        if (n_in == 0) {
            /* the first step alone touches more qubits than a chunk holds */
            apply_step(sv, &plan->steps[left[0]]);
            memmove(left, left + 1, --n_left * sizeof(size_t));
        } else if (n_in == 1) {
            apply_step(sv, &plan->steps[first]);
            n_left = kept;
        } else {
            /* the lowest qubits fill the rest of the chunk: the longer its runs, the cheaper its copies */
            for (int q = 0; q < sv->n && __builtin_popcountll(used) < L; q++) used |= 1ull << q;
            used &= all;
            int local[SV_CHUNK_QUBITS_MAX], n_local = 0;
            for (uint64_t m = used; m; m &= m - 1) local[n_local++] = __builtin_ctzll(m);
            sv_apply_chunked(sv, local, n_local, stretch, n_in);
            n_left = kept;
        }
        if (stop && stop(arg)) stopped = 1;
    }
    free(left);
    return stopped;
}

int fuse_plan_apply(const fuse_plan *plan, pit_statevec *sv, int (*stop)(void *), void *arg) {
    int L = sv_chunk_qubits();
    if (L > CHUNK_RUN_QUBITS && sv->n > L) {
        if (apply_chunked(plan, sv, L, stop, arg)) return 1;
    } else
        for (size_t i = 0; i < plan->n; i++) {
            apply_step(sv, &plan->steps[i]);
            if (stop && stop(arg)) return 1;
        }
    if (plan->phase != 1) {
        qasm_op ph = {.kind = OP_GPHASE, .phase = carg(plan->phase)};
        sv_apply(sv, &ph);
    }
    return 0;
}

void fuse_plan_free(fuse_plan *plan) {
    for (size_t i = 0; i < plan->n; i++)
        if (!plan->steps[i].op) {
            free(plan->steps[i].block.re);
            free(plan->steps[i].block.re_f);
        }
    free(plan->steps);
    memset(plan, 0, sizeof *plan);
}
