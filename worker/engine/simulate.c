/*
 * Two ways to run shots:
 *  - measurements only at the end (no reset, no if, no gate after a measurement): simulate once,
 *    then draw every shot from the final distribution in one pass: the shots' uniforms are generated
 *    already sorted (normalised sums of exponential spacings), so one walk along the cumulative
 *    distribution places them all: O(2^n + shots), no sort;
 *  - otherwise shot by shot, from a copy of the state reached before the first measurement.
 */
#include "engine/simulate.h"
#include "alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine/fuse.h"
#include "engine/statevec.h"

/* ---------------------------------------------------------------- random numbers */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_next(sim_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_uniform(sim_rng *r) { return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53; }

static double exp_sample(sim_rng *r) { return -log1p(-sim_rng_uniform(r)); }

/* ---------------------------------------------------------------- counts */

typedef struct {
    uint64_t *keys, *counts;
    char *used;
    size_t cap, n;
} count_map;

static void cm_init(count_map *m, size_t cap) {
    m->cap = 16;
    while (m->cap < cap * 2) m->cap *= 2;
    m->keys = pit_calloc(m->cap, sizeof(uint64_t));
    m->counts = pit_calloc(m->cap, sizeof(uint64_t));
    m->used = pit_calloc(m->cap, 1);
    m->n = 0;
}

static void cm_add(count_map *m, uint64_t key, uint64_t count);

/* The first slot to probe for key. All 64 bits are mixed in: keys that differ only in high bits
 * (results in a second register, as Qiskit's measure_all lays them out) all took one slot, and the
 * table went quadratic in the number of distinct outcomes. */
static size_t cm_slot(const count_map *m, uint64_t key) {
    uint64_t h = key;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (size_t)h & (m->cap - 1);
}

static void cm_grow(count_map *m) {
    count_map bigger;
    cm_init(&bigger, m->cap);
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) cm_add(&bigger, m->keys[i], m->counts[i]);
    free(m->keys);
    free(m->counts);
    free(m->used);
    *m = bigger;
}

static void cm_add(count_map *m, uint64_t key, uint64_t count) {
    if ((m->n + 1) * 2 > m->cap) cm_grow(m);
    size_t i = cm_slot(m, key);
    while (m->used[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->n++;
    }
    m->counts[i] += count;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Moves the map into r, sorted by key. */
static void cm_to_result(count_map *m, sim_result *r) {
    uint64_t *keys = pit_malloc((m->n ? m->n : 1) * sizeof(uint64_t));
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) keys[k++] = m->keys[i];
    qsort(keys, k, sizeof(uint64_t), cmp_u64);
    r->keys = keys;
    r->counts = pit_malloc((k ? k : 1) * sizeof(uint64_t));
    for (size_t j = 0; j < k; j++) {
        size_t i = cm_slot(m, keys[j]);
        while (m->keys[i] != keys[j] || !m->used[i]) i = (i + 1) & (m->cap - 1);
        r->counts[j] = m->counts[i];
    }
    r->n = k;
    free(m->keys);
    free(m->counts);
    free(m->used);
}

void sim_result_free(sim_result *r) {
    free(r->keys);
    free(r->counts);
    memset(r, 0, sizeof *r);
}

void sim_key(const qasm_circuit *c, uint64_t bits, char *buf) {
    size_t k = 0;
    for (int r = c->n_cregs - 1; r >= 0; r--) {
        const qasm_register *reg = &c->cregs[r];
        for (int b = reg->size - 1; b >= 0; b--) buf[k++] = (bits >> (reg->start + b)) & 1 ? '1' : '0';
        if (r) buf[k++] = ' ';
    }
    buf[k] = 0;
}

/* ---------------------------------------------------------------- running */

size_t sim_memory_needed(const qasm_circuit *c, int single) {
    size_t state = sv_bytes_as(c->n_qubits, single);
    /* per shot: a saved state and a working one; sampled at the end: the state alone (the walk sums
     * the probabilities as it goes; a cumulative array used to add 8 bytes per amplitude) */
    return c->has_midcircuit ? 2 * state : state;
}

/* |amplitude i|^2, summed in double in either precision */
static inline double prob_at(const pit_statevec *sv, size_t i) {
    if (sv->single) {
        double re = crealf(sv->amp_f[i]), im = cimagf(sv->amp_f[i]);
        return re * re + im * im;
    }
    return creal(sv->amp[i]) * creal(sv->amp[i]) + cimag(sv->amp[i]) * cimag(sv->amp[i]);
}

static int stop(const sim_options *o) { return o->cancelled && o->cancelled(o->arg); }

static int stop_cb(void *arg) { return stop(arg); }

/* Below this many qubits a gate is cheaper to apply than to fuse (the state is in cache). */
#define FUSE_MIN_QUBITS 14
/* Gates fused at a time: bounds the plan's memory (a block of 4 qubits holds 4 KiB of matrix). */
#define FUSE_WINDOW 8192

/* Applies the gates among ops[0..n): other ops are skipped (callers pass a run of gates, or the
 * whole of a circuit whose measurements are all final). 1: stopped by cancel or deadline (checked
 * between steps on states of 2^16 amplitudes and up, and between windows on smaller ones). */
static int apply_gates(pit_statevec *sv, const qasm_op *ops, size_t n, const sim_options *o) {
    int fq = o->fuse_qubits ? o->fuse_qubits : SIM_FUSE_DEFAULT;
    if (fq < 0 || sv->n < FUSE_MIN_QUBITS) {
        for (size_t i = 0; i < n; i++) {
            if (ops[i].kind != OP_GATE && ops[i].kind != OP_GPHASE) continue;
            sv_apply(sv, &ops[i]);
            if ((sv->dim >= 65536 || (i & 63) == 0) && stop(o)) return 1;
        }
        return 0;
    }
    if (fq > sv->n) fq = sv->n;
    fuse_plan plan = {0};
    for (size_t at = 0; at < n; at += FUSE_WINDOW) {
        size_t len = n - at < FUSE_WINDOW ? n - at : FUSE_WINDOW;
        fuse_plan_make(&plan, ops + at, len, fq);
        int stopped = fuse_plan_apply(&plan, sv, sv->dim >= 65536 ? stop_cb : NULL, (void *)o);
        if (stopped || stop(o)) {
            fuse_plan_free(&plan);
            return 1;
        }
    }
    fuse_plan_free(&plan);
    return 0;
}

/* The end of the run of gates that starts at ops[i]. */
static size_t gate_run_end(const qasm_op *ops, size_t i, size_t n) {
    while (i < n && (ops[i].kind == OP_GATE || ops[i].kind == OP_GPHASE)) i++;
    return i;
}

/* Outcomes as the walk finds them (increasing basis index), neighbours with equal keys merged. If
 * an unmeasured qubit sits above a measured one, equal keys are not neighbours: direct_sorted then
 * says so and the list is merged through the hash map instead. */
typedef struct {
    uint64_t *keys, *counts;
    size_t n, cap;
} direct_list;

static void direct_add(direct_list *d, uint64_t key, uint64_t count) {
    if (d->n && d->keys[d->n - 1] == key) {
        d->counts[d->n - 1] += count;
        return;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->keys = pit_realloc(d->keys, d->cap * sizeof(uint64_t));
        d->counts = pit_realloc(d->counts, d->cap * sizeof(uint64_t));
    }
    d->keys[d->n] = key;
    d->counts[d->n++] = count;
}

/* Keys strictly increasing: nothing left to merge. */
static int direct_sorted(const direct_list *d) {
    for (size_t i = 1; i < d->n; i++)
        if (d->keys[i] <= d->keys[i - 1]) return 0;
    return 1;
}

/* Simulates ops (gates and measurements only, none of them mid-circuit) on sv and draws every shot
 * from the final distribution. base_bits: classical bits already known (set by a deterministic
 * prefix), kept where no measurement here overwrites them. */
static sim_status sample_final(const qasm_op *ops, size_t n_ops, uint64_t base_bits, const sim_options *o,
                               pit_statevec *sv, count_map *counts, direct_list *direct_out, int *used_direct) {
    /* One measurement per classical bit: a later one into the same bit overwrites it (it used to be
     * the first 256 measurements that counted, and later ones were dropped). */
    int mq[QASM_MAX_CBITS], mc[QASM_MAX_CBITS], n_meas = 0, slot_of[QASM_MAX_CBITS];
    for (int b = 0; b < QASM_MAX_CBITS; b++) slot_of[b] = -1;
    for (size_t i = 0; i < n_ops; i++) {
        const qasm_op *op = &ops[i];
        if (op->kind == OP_MEASURE) {
            int b = op->cbit;
            if (slot_of[b] < 0) {
                slot_of[b] = n_meas;
                mc[n_meas++] = b;
            }
            mq[slot_of[b]] = op->targets[0];
        }
    }
    /* every measurement here is final: the gates are one run, measurements skipped */
    if (apply_gates(sv, ops, n_ops, o)) return SIM_CANCELLED;
    /* When qubit i goes to classical bit i (and every other bit is unmeasured) the outcomes come
     * out in key order: write them straight into the result, no hashing and no sort. */
    int direct = base_bits == 0;
    for (int m = 0; m < n_meas; m++) direct &= mq[m] == mc[m];
    for (int m = 0; m < n_meas && direct; m++)
        for (int k = m + 1; k < n_meas; k++) direct &= mq[m] != mq[k];
    uint64_t unmeasured = ~0ull;
    for (int m = 0; m < n_meas; m++) unmeasured &= ~(1ull << mq[m]);
    /* The walk below sums the probabilities in the same order as this total, so that no cumulative
     * array is needed (8 bytes per amplitude: 512 MiB at 26 qubits). */
    double total = 0;
    for (size_t i = 0; i < sv->dim; i++) total += prob_at(sv, i);
    /* Sorted uniforms: u_k = S_k / S_(n+1) with S_k the sum of k exponential draws. Pass 1 finds
     * S_(n+1); pass 2 replays the same draws. */
    sim_rng rng;
    sim_rng_seed(&rng, o->seed);
    double sum = 0;
    for (uint64_t k = 0; k <= o->shots; k++) sum += exp_sample(&rng);
    sim_rng_seed(&rng, o->seed);
    double acc = 0, cum = prob_at(sv, 0);
    size_t idx = 0, cur = 0;
    uint64_t run = 0; /* shots that landed on basis state cur */
    for (uint64_t k = 0; k <= o->shots; k++) {
        size_t at = cur;
        if ((k & 65535) == 65535 && stop(o)) return SIM_CANCELLED;
        if (k < o->shots) {
            acc += exp_sample(&rng);
            double u = acc / sum * total;
            while (idx < sv->dim - 1 && cum < u) {
                idx++;
                cum += prob_at(sv, idx);
            }
            at = idx;
        }
        if ((at != cur || k == o->shots) && run) {
            if (direct) {
                direct_add(direct_out, (uint64_t)cur & ~unmeasured, run);
            } else {
                uint64_t bits = base_bits;
                for (int m = 0; m < n_meas; m++) bits = (bits & ~(1ull << mc[m])) | ((uint64_t)((cur >> mq[m]) & 1) << mc[m]);
                cm_add(counts, bits, run);
            }
            run = 0;
        }
        cur = at;
        run++;
    }
    *used_direct = direct;
    return SIM_OK;
}

static int cond_holds(const qasm_op *op, uint64_t bits) { return qasm_cexpr_eval(&op->cond, bits) != 0; }

/* bits [set_start, set_start + set_len) = the low bits of the op's value */
static uint64_t set_bits(const qasm_op *op, uint64_t bits) {
    double v = qasm_cexpr_eval(&op->cond, bits);
    uint64_t x = fabs(v) < 9.2e18 ? (uint64_t)(int64_t)v : 0;
    uint64_t mask = op->set_len >= 64 ? ~0ull : ((1ull << op->set_len) - 1);
    return (bits & ~(mask << op->set_start)) | ((x & mask) << op->set_start);
}

static void apply_x(pit_statevec *sv, int q) {
    qasm_op x;
    memset(&x, 0, sizeof x);
    x.kind = OP_GATE;
    x.n_targets = 1;
    x.targets[0] = q;
    x.m[1] = x.m[2] = 1;
    x.cls = GATE_PERMUTATION;
    sv_apply(sv, &x);
}

/* How run_ops ended: all ops run, stop() said so, a break or continue for the enclosing while, or a
 * while past QASM_MAX_LOOP_ITERATIONS in this shot. */
enum { RUN_DONE, RUN_STOPPED, RUN_BREAK, RUN_CONTINUE, RUN_LOOP_LIMIT };

/* One shot from op on. stop() is checked between gates on large states, so that a deadline stops a
 * shot of a big circuit, not only the next one, and every 4096 iterations of a while. */
static int run_ops(const qasm_op *ops, size_t n, pit_statevec *sv, sim_rng *rng, uint64_t *bits, const sim_options *o,
                   long *iterations) {
    for (size_t i = 0; i < n; i++) {
        const qasm_op *op = &ops[i];
        int rc;
        switch (op->kind) {
        case OP_GATE:
        case OP_GPHASE: {
            size_t end = gate_run_end(ops, i, n);
            if (apply_gates(sv, op, end - i, o)) return RUN_STOPPED;
            i = end - 1;
            break;
        }
        case OP_MEASURE:
        case OP_RESET: {
            int q = op->targets[0];
            double p1 = sv_prob_one(sv, q);
            int one = sim_rng_uniform(rng) < p1;
            sv_collapse(sv, q, one, one ? p1 : 1 - p1);
            if (op->kind == OP_MEASURE)
                *bits = (*bits & ~(1ull << op->cbit)) | ((uint64_t)one << op->cbit);
            else if (one)
                apply_x(sv, q);
            break;
        }
        case OP_IF:
            rc = cond_holds(op, *bits) ? run_ops(op->body, op->n_body, sv, rng, bits, o, iterations)
                                       : run_ops(op->else_body, op->n_else, sv, rng, bits, o, iterations);
            if (rc != RUN_DONE) return rc;
            break;
        case OP_WHILE:
            while (cond_holds(op, *bits)) {
                if (++*iterations > QASM_MAX_LOOP_ITERATIONS) return RUN_LOOP_LIMIT;
                if ((*iterations & 4095) == 0 && stop(o)) return RUN_STOPPED;
                rc = run_ops(op->body, op->n_body, sv, rng, bits, o, iterations);
                if (rc == RUN_BREAK) break;
                if (rc != RUN_DONE && rc != RUN_CONTINUE) return rc;
            }
            break;
        case OP_SETBITS:
            *bits = set_bits(op, *bits);
            break;
        case OP_BREAK: return RUN_BREAK;
        case OP_CONTINUE: return RUN_CONTINUE;
        }
    }
    return RUN_DONE;
}

/* An outcome this close to certain is certain (rounding leaves ~1e-16 where an amplitude is 0). */
#define SIM_CERTAIN 1e-12

/* The deterministic prefix, simulated once for every shot: gates, and also resets and measurements
 * whose outcome is certain (a reset of a qubit in |0> or |1>, a measurement of one), and ifs on
 * bits those fixed. It stops at the first op whose outcome differs between shots; *bits gets the
 * bits fixed so far. A reset anywhere used to send the whole circuit shot by shot. */
static size_t deterministic_prefix(const qasm_circuit *c, pit_statevec *sv, uint64_t *bits, const sim_options *o,
                                   int *cancelled) {
    size_t i = 0;
    *cancelled = 0;
    for (; i < c->n_ops; i++) {
        const qasm_op *op = &c->ops[i];
        if (op->kind == OP_GATE || op->kind == OP_GPHASE) {
            size_t end = gate_run_end(c->ops, i, c->n_ops);
            if (apply_gates(sv, op, end - i, o)) {
                *cancelled = 1;
                return i;
            }
            i = end - 1;
        } else if (op->kind == OP_MEASURE || op->kind == OP_RESET) {
            int q = op->targets[0];
            double p1 = sv_prob_one(sv, q);
            if (p1 > SIM_CERTAIN && p1 < 1 - SIM_CERTAIN) break;
            int one = p1 >= 1 - SIM_CERTAIN;
            sv_collapse(sv, q, one, one ? p1 : 1 - p1); /* clears the rounding dust */
            if (op->kind == OP_MEASURE)
                *bits = (*bits & ~(1ull << op->cbit)) | ((uint64_t)one << op->cbit);
            else if (one)
                apply_x(sv, q);
        } else if (op->kind == OP_IF) {
            /* a body runs: left to the shots (it may measure) */
            if (cond_holds(op, *bits) ? op->n_body != 0 : op->n_else != 0) break;
        } else if (op->kind == OP_WHILE) {
            if (cond_holds(op, *bits)) break;
        } else if (op->kind == OP_SETBITS) {
            *bits = set_bits(op, *bits); /* every bit it reads is fixed so far */
        } else {
            break;
        }
    }
    return i;
}

/* ops[0..n) can be sampled from one final state: no reset, no if, and no gate or measurement on a
 * qubit after it was measured. */
static int final_only(const qasm_op *ops, size_t n) {
    uint64_t measured = 0;
    for (size_t i = 0; i < n; i++) {
        const qasm_op *op = &ops[i];
        if (op->kind != OP_GATE && op->kind != OP_GPHASE && op->kind != OP_MEASURE) return 0;
        if (op->kind == OP_MEASURE) {
            measured |= 1ull << op->targets[0];
        } else if (op->kind == OP_GATE) {
            for (int k = 0; k < op->n_targets; k++)
                if (measured >> op->targets[k] & 1) return 0;
            for (int k = 0; k < op->n_controls; k++)
                if (measured >> op->controls[k] & 1) return 0;
        }
    }
    return 1;
}

/* ops[0..n) touch no qubit: bit assignments, and ifs and whiles whose bodies are such */
static int classical_only(const qasm_op *ops, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const qasm_op *op = &ops[i];
        switch (op->kind) {
        case OP_SETBITS:
        case OP_BREAK:
        case OP_CONTINUE: break;
        case OP_IF:
            if (!classical_only(op->else_body, op->n_else)) return 0;
            /* fall through */
        case OP_WHILE:
            if (!classical_only(op->body, op->n_body)) return 0;
            break;
        default: return 0;
        }
    }
    return 1;
}

/* Where the classical tail of ops[0..n) starts: the ops after the last one that touches a qubit, when
 * they touch none (n when there is no such tail). */
static size_t classical_tail(const qasm_op *ops, size_t n) {
    size_t t = n;
    while (t > 0 && classical_only(&ops[t - 1], 1)) t--;
    return t;
}

/* The counts of a sampled run, each outcome's bits put through the classical tail (deterministic:
 * it reads and writes bits only), gathered again into counts. Once per distinct outcome, not per
 * shot: a circuit computing on its results after the last measurement used to run shot by shot. */
static sim_status apply_tail(const qasm_op *tail, size_t n_tail, const sim_options *o, count_map *counts,
                             direct_list *direct) {
    count_map out;
    cm_init(&out, counts->cap);
    sim_status st = SIM_OK;
    for (size_t pass = 0; pass < 2 && st == SIM_OK; pass++) {
        size_t n = pass ? direct->n : counts->cap;
        for (size_t i = 0; i < n; i++) {
            if (!pass && !counts->used[i]) continue;
            uint64_t bits = pass ? direct->keys[i] : counts->keys[i], count = pass ? direct->counts[i] : counts->counts[i];
            long iterations = 0;
            int rc = run_ops(tail, n_tail, NULL, NULL, &bits, o, &iterations);
            if (rc == RUN_LOOP_LIMIT || rc == RUN_STOPPED) {
                st = rc == RUN_STOPPED ? SIM_CANCELLED : SIM_LOOP_LIMIT;
                break;
            }
            cm_add(&out, bits, count);
        }
    }
    free(counts->keys);
    free(counts->counts);
    free(counts->used);
    *counts = out;
    free(direct->keys);
    free(direct->counts);
    memset(direct, 0, sizeof *direct);
    return st;
}

static sim_status per_shot(const qasm_circuit *c, const sim_options *o, pit_statevec *sv, count_map *counts,
                           direct_list *direct, int *used_direct, int *sampled) {
    uint64_t base = 0;
    int cancelled;
    size_t first = deterministic_prefix(c, sv, &base, o, &cancelled);
    if (cancelled) return SIM_CANCELLED;
    *sampled = final_only(c->ops + first, c->n_ops - first);
    if (*sampled) return sample_final(c->ops + first, c->n_ops - first, base, o, sv, counts, direct, used_direct);
    size_t tail = first + classical_tail(c->ops + first, c->n_ops - first);
    if (tail < c->n_ops && final_only(c->ops + first, tail - first)) {
        *sampled = 1;
        sim_status st = sample_final(c->ops + first, tail - first, base, o, sv, counts, direct, used_direct);
        *used_direct = 0;
        return st == SIM_OK ? apply_tail(c->ops + tail, c->n_ops - tail, o, counts, direct) : st;
    }
    pit_statevec work;
    if (sv_init_as(&work, c->n_qubits, o->single) != 0) return SIM_NO_MEMORY;
    sim_rng rng;
    sim_rng_seed(&rng, o->seed);
    int64_t last_report = pit_mono_us();
    uint64_t step = o->shots / 20 ? o->shots / 20 : 1, next_step = step;
    for (uint64_t s = 0; s < o->shots; s++) {
        if (stop(o)) {
            sv_free(&work);
            return SIM_CANCELLED;
        }
        sv_copy(&work, sv);
        uint64_t bits = base;
        long iterations = 0;
        int rc = run_ops(c->ops + first, c->n_ops - first, &work, &rng, &bits, o, &iterations);
        if (rc == RUN_STOPPED || rc == RUN_LOOP_LIMIT) {
            sv_free(&work);
            return rc == RUN_STOPPED ? SIM_CANCELLED : SIM_LOOP_LIMIT;
        }
        cm_add(counts, bits, 1);
        /* progress at every 5 % of the shots, and at least once a second */
        if (o->progress && (s + 1 == next_step || pit_mono_us() - last_report > 1000000) && s + 1 < o->shots) {
            last_report = pit_mono_us();
            if (s + 1 >= next_step) next_step += step;
            o->progress(s + 1, o->shots, o->arg);
        }
    }
    sv_free(&work);
    return SIM_OK;
}

sim_status sim_state(const qasm_circuit *c, const sim_options *o, pit_statevec *sv) {
    if (sv_init_as(sv, c->n_qubits, o->single) != 0) return SIM_NO_MEMORY;
    sv_zero_hint_all(sv); /* |0...0>, written only through statevec.h from here */
    if (apply_gates(sv, c->ops, c->n_ops, o)) {
        sv_free(sv);
        return SIM_CANCELLED;
    }
    return SIM_OK;
}

sim_status sim_run(const qasm_circuit *c, const sim_options *o, sim_result *r) {
    memset(r, 0, sizeof *r);
    int64_t t0 = pit_mono_us();
    pit_statevec sv;
    if (sv_init_as(&sv, c->n_qubits, o->single) != 0) return SIM_NO_MEMORY;
    sv_zero_hint_all(&sv); /* |0...0>, written only through statevec.h from here */
    count_map counts;
    cm_init(&counts, 64);
    direct_list direct = {0};
    int used_direct = 0, sampled = 1;
    sim_status st = c->has_midcircuit ? per_shot(c, o, &sv, &counts, &direct, &used_direct, &sampled)
                                      : sample_final(c->ops, c->n_ops, 0, o, &sv, &counts, &direct, &used_direct);
    sv_free(&sv);
    if (c->hidden_bits) {
        /* variables' bits are not part of a result: shots that differ only there count together */
        for (size_t i = 0; i < direct.n; i++) cm_add(&counts, direct.keys[i], direct.counts[i]);
        direct.n = 0;
        used_direct = 0;
        count_map visible;
        cm_init(&visible, 64);
        for (size_t i = 0; i < counts.cap; i++)
            if (counts.used[i]) cm_add(&visible, counts.keys[i] & ~c->hidden_bits, counts.counts[i]);
        free(counts.keys);
        free(counts.counts);
        free(counts.used);
        counts = visible;
    }
    if (used_direct && direct_sorted(&direct)) {
        free(counts.keys);
        free(counts.counts);
        free(counts.used);
        r->keys = direct.keys ? direct.keys : pit_malloc(8);
        r->counts = direct.counts ? direct.counts : pit_malloc(8);
        r->n = direct.n;
    } else {
        for (size_t i = 0; i < direct.n; i++) cm_add(&counts, direct.keys[i], direct.counts[i]);
        free(direct.keys);
        free(direct.counts);
        cm_to_result(&counts, r);
    }
    r->per_shot = !sampled;
    r->elapsed_ms = (double)(pit_mono_us() - t0) / 1000.0;
    if (st != SIM_OK) sim_result_free(r);
    return st;
}
