/* The native engine's commands: run_circuit, run_circuit_stream, backend_info. */
#include "commands/circuit_commands.h"
#include "alloc.h"

#include <complex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "protocol.h"
#include "log.h"
#include "mem_budget.h"
#include "engine/qasm.h"
#include "engine/simulate.h"
#include "engine/statevec.h"

/* "statevector": true answers 2^n amplitudes: 16 qubits is 65536 pairs, ~2 MB of JSON. */
#define STATEVECTOR_MAX_QUBITS 16

static pit_engine_limits g_limits = {26, 1000000, 1000000, 4u << 20, -1, -1, 0, 0};
static pit_mem_shared *g_budget; /* the pool's shared state-vector budget; NULL: none */

void pit_engine_set_limits(const pit_engine_limits *l) {
    g_limits = *l;
    if (l->memory_fd >= 0 && l->memory_pool >= 0) {
        g_budget = pit_mem_attach(l->memory_fd);
        if (!g_budget)
            pit_warn("--memory-fd %d is not a pitboss memory budget of this version: circuits are admitted by "
                     "MemAvailable alone", l->memory_fd);
    }
}
const pit_engine_limits *pit_engine_limits_get(void) { return &g_limits; }

/* Memory the kernel says can be had now (MemAvailable), in bytes; 0 if unknown. */
static size_t available_memory(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[128];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

typedef struct {
    pit_cmd_ctx *ctx;
    int streaming;
} run_ctx;

static int is_cancelled(void *arg) { return pit_cmd_cancelled(((run_ctx *)arg)->ctx); }

static int stop_waiting(void *arg) {
    pit_cmd_ctx *ctx = arg;
    return pit_cmd_cancelled(ctx) || pit_cmd_deadline_passed(ctx);
}

static double mib(size_t b) { return (double)b / 1048576.0; }

static void on_progress(uint64_t done, uint64_t total, void *arg) {
    run_ctx *rc = arg;
    if (!rc->streaming) return;
    json_t *chunk = json_pack("{s:I, s:I, s:f}", "shots_done", (json_int_t)done, "shots", (json_int_t)total, "progress",
                              (double)done / (double)total);
    pit_cmd_emit(rc->ctx, chunk, NULL, 0);
}

static int has_measurement(const qasm_circuit *c) {
    for (size_t i = 0; i < c->n_ops; i++)
        if (c->ops[i].kind != OP_GATE && c->ops[i].kind != OP_GPHASE && c->ops[i].kind != OP_RESET) return 1;
    return 0;
}

/* "measure_all": true, as Qiskit's measure_all: a register "meas" of every qubit, measured at the end
 * (meas[i] = q[i] in declaration order), after whatever the circuit measures itself. */
static int measure_all(qasm_circuit *c, pit_cmd_result *out, const char *cmd) {
    if (c->n_cregs == 64 || c->n_cbits + c->n_qubits > QASM_MAX_CBITS) {
        pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "%s(): measure_all needs %d more classical bits; the "
                             "circuit has %d of the %d supported", cmd, c->n_qubits, c->n_cbits, QASM_MAX_CBITS);
        return -1;
    }
    qasm_register *r = &c->cregs[c->n_cregs++];
    snprintf(r->name, sizeof r->name, "meas");
    r->start = c->n_cbits;
    r->size = c->n_qubits;
    r->scalar = 0;
    c->ops = pit_realloc(c->ops, (c->n_ops + (size_t)c->n_qubits) * sizeof(qasm_op));
    for (int q = 0; q < c->n_qubits; q++) {
        qasm_op *op = &c->ops[c->n_ops++];
        memset(op, 0, sizeof *op);
        op->kind = OP_MEASURE;
        op->targets[0] = q;
        op->cbit = r->start + q;
    }
    c->n_cbits += c->n_qubits;
    return 0;
}

/* "statevector": true: the final state's amplitudes as [re, im] pairs, index bit i being qubit i
 * (q[0] the least significant, as Qiskit's Statevector). The state is simulated again after the
 * shots (at most 2^16 amplitudes: cheap beside the shots, and the sampled run keeps no copy). */
static void add_statevector(json_t *answer, const qasm_circuit *c, const sim_options *o) {
    pit_statevec sv;
    if (sim_state(c, o, &sv) != SIM_OK) return; /* cancelled meanwhile: the counts stand */
    json_t *amps = json_array();
    for (size_t i = 0; i < sv.dim; i++)
        {
        double complex z = sv_amp_at(&sv, i);
        json_array_append_new(amps, json_pack("[f, f]", creal(z), cimag(z)));
    }
    sv_free(&sv);
    json_object_set_new(answer, "statevector", amps);
}

static void run(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out, int streaming) {
    const char *cmd = streaming ? "run_circuit_stream" : "run_circuit";
    json_t *qasm = json_object_get(args, "qasm"), *shots_j = json_object_get(args, "shots"),
           *seed_j = json_object_get(args, "seed"), *measure_all_j = json_object_get(args, "measure_all"),
           *inputs_j = json_object_get(args, "inputs"), *statevector_j = json_object_get(args, "statevector"),
           *includes_j = json_object_get(args, "includes"), *precision_j = json_object_get(args, "precision");
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        if (strcmp(key, "qasm") && strcmp(key, "shots") && strcmp(key, "seed") && strcmp(key, "measure_all") &&
            strcmp(key, "inputs") && strcmp(key, "statevector") && strcmp(key, "includes") && strcmp(key, "precision")) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "%s() got an unexpected argument \"%s\" (it takes "
                                 "qasm, shots, seed, measure_all, inputs, includes, statevector, precision)", cmd, key);
            return;
        }
    }
    if (!json_is_string(qasm)) {
        pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "%s() needs \"qasm\": the circuit as OpenQASM 2 or 3 text",
                             cmd);
        return;
    }
    if (json_string_length(qasm) > g_limits.max_circuit_bytes) {
        pit_cmd_result_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "the circuit is %zu bytes; this backend takes at most "
                             "%zu (max_circuit_bytes)", json_string_length(qasm), g_limits.max_circuit_bytes);
        return;
    }
    json_int_t shots = 1024;
    if (shots_j) {
        if (!json_is_integer(shots_j) || json_integer_value(shots_j) < 1) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"shots\" must be a whole number >= 1");
            return;
        }
        shots = json_integer_value(shots_j);
        if ((uint64_t)shots > g_limits.max_shots) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"shots\" is %lld; this backend runs at most %llu",
                                 (long long)shots, (unsigned long long)g_limits.max_shots);
            return;
        }
    }
    uint64_t seed;
    if (seed_j && !json_is_null(seed_j)) {
        if (!json_is_integer(seed_j) || json_integer_value(seed_j) < 0) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"seed\" must be a whole number >= 0");
            return;
        }
        seed = (uint64_t)json_integer_value(seed_j);
    } else {
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint64_t)getpid() * 2654435761u;
        seed &= (1ull << 53) - 1; /* fits a JSON number exactly, so it can be passed back */
    }

    if (measure_all_j && !json_is_boolean(measure_all_j)) {
        pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"measure_all\" must be true or false");
        return;
    }
    /* "precision": "single" | "double" (absent or null: the pool's) */
    int single = g_limits.single;
    if (precision_j && !json_is_null(precision_j)) {
        const char *pr = json_is_string(precision_j) ? json_string_value(precision_j) : "";
        if (strcmp(pr, "single") && strcmp(pr, "double")) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"precision\" must be \"double\" or \"single\"");
            return;
        }
        single = !strcmp(pr, "single");
    }
    if (statevector_j && !json_is_boolean(statevector_j)) {
        pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"statevector\" must be true or false");
        return;
    }
    qasm_limits lim = {.max_qubits = g_limits.max_qubits, .max_gates = g_limits.max_gates, .max_depth = 64};
    /* "inputs": {"theta": 0.5, "n": 3, "flag": true} for the circuit's `input` declarations */
    const char *input_names[64];
    double input_values[64];
    if (inputs_j) {
        const char *name;
        json_t *iv;
        if (!json_is_object(inputs_j) || json_object_size(inputs_j) > 64) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"inputs\" must be an object of at most 64 "
                                 "names and numbers ({\"theta\": 0.5})");
            return;
        }
        json_object_foreach(inputs_j, name, iv) {
            if (!json_is_number(iv) && !json_is_boolean(iv)) {
                pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "inputs[\"%.100s\"] must be a number or a "
                                     "boolean", name);
                return;
            }
            input_names[lim.n_inputs] = name;
            input_values[lim.n_inputs++] = json_is_boolean(iv) ? (double)json_is_true(iv) : json_number_value(iv);
        }
        lim.input_names = input_names;
        lim.input_values = input_values;
    }
    /* "includes": {"mygates.inc": "gate g a { h a; }"}: files the circuit may include, by name (nothing is
     * read from the file system); their text counts towards max_circuit_bytes with the circuit's. */
    const char *include_names[16], *include_texts[16];
    if (includes_j) {
        const char *name;
        json_t *iv;
        size_t total = json_string_length(qasm);
        if (!json_is_object(includes_j) || json_object_size(includes_j) > 16) {
            pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "\"includes\" must be an object of at most 16 "
                                 "file names and their text ({\"mygates.inc\": \"gate g a { h a; }\"})");
            return;
        }
        json_object_foreach(includes_j, name, iv) {
            if (!json_is_string(iv)) {
                pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, "includes[\"%.100s\"] must be the file's text",
                                     name);
                return;
            }
            total += json_string_length(iv);
            include_names[lim.n_includes] = name;
            include_texts[lim.n_includes++] = json_string_value(iv);
        }
        if (total > g_limits.max_circuit_bytes) {
            pit_cmd_result_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "the circuit and its includes are %zu bytes; this "
                                 "backend takes at most %zu (max_circuit_bytes)", total, g_limits.max_circuit_bytes);
            return;
        }
        lim.include_names = include_names;
        lim.include_texts = include_texts;
    }
    qasm_circuit c;
    qasm_error err;
    if (qasm_parse(json_string_value(qasm), &lim, &c, &err) != 0) {
        pit_cmd_result_error(out, err.kind == QASM_TOO_LARGE ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INVALID_ARGUMENT,
                             "qasm:%s", err.message);
        return;
    }
    json_t *warnings = json_array();
    for (int i = 0; i < c.n_warnings; i++) json_array_append_new(warnings, json_string(c.warnings[i]));
    if (json_is_true(measure_all_j) && measure_all(&c, out, cmd) != 0) {
        json_decref(warnings);
        qasm_circuit_free(&c);
        return;
    }
    if (json_is_true(statevector_j) && (c.has_midcircuit || c.n_qubits > STATEVECTOR_MAX_QUBITS)) {
        pit_cmd_result_error(out, GRPC_STATUS_INVALID_ARGUMENT, c.has_midcircuit
                                 ? "%s(): \"statevector\" needs a circuit whose measurements are all at the end (this "
                                   "one measures, resets or branches mid-circuit, so each shot ends in its own state)"
                                 : "%s(): \"statevector\" is for circuits of at most %d qubits (this one has %d): "
                                   "leave it out to get counts",
                             cmd, STATEVECTOR_MAX_QUBITS, c.n_qubits);
        json_decref(warnings);
        qasm_circuit_free(&c);
        return;
    }
    if (!has_measurement(&c) && !json_is_true(statevector_j))
        json_array_append_new(warnings, json_string("the circuit measures nothing, so every shot reads the same empty "
                                                    "result: add measurements, or pass \"measure_all\": true"));
    /* The pool's budget first (a reservation: concurrent runs cannot all pass it at once), then what
     * the host has free now (other programs use memory too). */
    size_t need = sim_memory_needed(&c, single);
    uint64_t taken = 0;
    int waited = 0;
    int64_t wait_from = pit_mono_us();
    pit_mem_result mr = pit_mem_reserve(g_budget, g_limits.memory_pool, g_limits.slot, need, stop_waiting, ctx,
                                        &taken, &waited);
    if (mr != PIT_MEM_OK) {
        pit_mem_pool now;
        pit_mem_read(g_budget, g_limits.memory_pool, &now);
        if (mr == PIT_MEM_TOO_LARGE)
            pit_cmd_result_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "%d qubits need %.1f MiB to simulate; this pool's "
                                 "memory budget is %.1f MiB (memory_budget_mb, or a share of the machine's or cgroup's "
                                 "memory limit): use fewer qubits or raise the budget", c.n_qubits, mib(need),
                                 mib(now.budget));
        else
            pit_cmd_result_error(out, pit_cmd_deadline_passed(ctx) ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED,
                                 "%s after waiting %.1f s for %.1f MiB of this pool's memory budget (%.1f of %.1f MiB "
                                 "held by running circuits)", pit_cmd_deadline_passed(ctx) ? "deadline passed" : "cancelled",
                                 (double)(pit_mono_us() - wait_from) / 1e6, mib(need), mib(now.reserved), mib(now.budget));
        json_decref(warnings);
        qasm_circuit_free(&c);
        return;
    }
    if (waited)
        pit_debug("%s waited %.1f s for %.1f MiB of the memory budget", cmd, (double)(pit_mono_us() - wait_from) / 1e6,
                  mib(need));
    size_t have = available_memory();
    if (have && need > have) {
        pit_cmd_result_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "%d qubits need %.1f MiB to simulate; %.1f MiB of "
                             "memory is available: use fewer qubits", c.n_qubits, mib(need), mib(have));
        pit_mem_release(g_budget, g_limits.memory_pool, g_limits.slot, taken);
        json_decref(warnings);
        qasm_circuit_free(&c);
        return;
    }
    run_ctx rc = {ctx, streaming};
    sim_options o = {.shots = (uint64_t)shots, .seed = seed, .cancelled = is_cancelled, .progress = on_progress, .arg = &rc,
                     .single = single};
    sim_result r;
    sim_status st = sim_run(&c, &o, &r);
    if (st == SIM_NO_MEMORY) {
        pit_cmd_result_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "not enough memory for %d qubits", c.n_qubits);
    } else if (st == SIM_LOOP_LIMIT) {
        pit_cmd_result_error(out, GRPC_STATUS_RESOURCE_EXHAUSTED, "a while loop ran more than %ld iterations in one "
                             "shot: check that its condition can become false", QASM_MAX_LOOP_ITERATIONS);
    } else if (st == SIM_CANCELLED) {
        pit_cmd_result_error(out, pit_cmd_deadline_passed(ctx) ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED,
                             "the simulation was stopped: %s", pit_cmd_deadline_passed(ctx) ? "deadline passed" : "cancelled");
    } else {
        json_t *counts = json_object();
        char *keybuf = pit_malloc((size_t)c.n_cbits + (size_t)c.n_cregs + 2);
        for (size_t i = 0; i < r.n; i++) {
            sim_key(&c, r.keys[i], keybuf);
            json_object_set_new(counts, keybuf, json_integer((json_int_t)r.counts[i]));
        }
        free(keybuf);
        out->value = json_pack("{s:o, s:I, s:i, s:i, s:f, s:I, s:s, s:I, s:O, s:s}", "counts", counts, "shots", shots,
                               "num_qubits", c.n_qubits, "num_clbits", c.n_cbits - __builtin_popcountll(c.hidden_bits), "execution_time_ms", r.elapsed_ms,
                               "seed", (json_int_t)seed, "method", r.per_shot ? "per-shot" : "sampled-final-state",
                               "gates", (json_int_t)c.n_gates, "warnings", warnings, "precision",
                               single ? "single" : "double");
        sim_result_free(&r);
        if (json_is_true(statevector_j)) add_statevector(out->value, &c, &o);
    }
    json_decref(warnings);
    pit_mem_release(g_budget, g_limits.memory_pool, g_limits.slot, taken);
    qasm_circuit_free(&c);
}

static void cmd_run(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) { run(ctx, args, out, 0); }
static void cmd_run_stream(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) { run(ctx, args, out, 1); }

static void cmd_backend_info(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    (void)ctx;
    (void)args;
    json_t *gates = json_array();
    for (const char *const *g = qasm_gate_names(); *g; g++) json_array_append_new(gates, json_string(*g));
    out->value = json_pack("{s:s, s:s, s:i, s:I, s:I, s:o, s:s, s:i, s:b, s:s}", "name", "pitboss-statevector", "version",
                           PIT_VERSION, "max_qubits", g_limits.max_qubits, "max_shots", (json_int_t)g_limits.max_shots,
                           "max_gates", (json_int_t)g_limits.max_gates, "gates", gates, "description",
                           "State-vector simulator in C (complex doubles, or floats at precision single; all cores): OpenQASM 2 and 3 in, counts out. "
                           "Terminal measurements are sampled from the final state; mid-circuit measurement, reset "
                           "and if run shot by shot. Seeded and reproducible.",
                           "threads", sv_threads(), "available", 1, "precision", g_limits.single ? "single" : "double");
}

static const pit_cmd_param run_params[] = {
    {"qasm", "str", 1, NULL},         {"shots", "int", 0, "1024"},  {"seed", "int", 0, "null"},
    {"measure_all", "bool", 0, "false"}, {"inputs", "dict", 0, "{}"}, {"statevector", "bool", 0, "false"},
    {"includes", "dict", 0, "{}"},    {"precision", "str", 0, "null"}};

static const pit_command run_cmd = {"run_circuit",
                                    "Runs an OpenQASM 2/3 circuit for {\"shots\": N}; answers counts keyed by classical "
                                    "bits (c[n-1]..c[0], registers last-declared first), the seed used and the time.",
                                    0, 0, run_params, 7, cmd_run};
static const pit_command run_stream_cmd = {"run_circuit_stream",
                                           "run_circuit, streaming progress chunks while shots run one by one, then "
                                           "the counts.",
                                           1, 0, run_params, 7, cmd_run_stream};
static const pit_command info_cmd = {"backend_info", "The simulator: name, max qubits and shots, gates, description.", 0,
                                     1, NULL, 0, cmd_backend_info};

static const pit_command *const engine_commands[] = {&run_cmd, &run_stream_cmd, &info_cmd};

const pit_command *const *pit_engine_commands(size_t *n) {
    *n = sizeof engine_commands / sizeof engine_commands[0];
    return engine_commands;
}
