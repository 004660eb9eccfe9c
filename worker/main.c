/*
 * pitboss-worker: one worker process. Serves pitboss.v1.Pool on 127.0.0.1:PORT for its supervisor.
 *
 * Threads: main runs libev (signals, the parent-death check); completion-queue threads run the
 * gRPC data path; command threads run commands that block or stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <ev.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grpc_tuning.h"
#include "clock.h"
#include "alloc.h"
#include "cq_loop.h"
#include "log.h"
#include "protocol.h"
#include "commands/circuit_commands.h"
#include "commands/native_commands.h"
#include "python/python_adapter.h"
#include "engine/qasm.h"
#include "rpc_server.h"
#include "process/worker.h"

typedef struct {
    int port;
    int ready_fd;
    int max_concurrency;
    int cq_threads;
    int64_t grace_ms;
    size_t max_message_bytes;
    const char *kind;
    const char *log_level;
    int slot;
    const char *pool;
    int64_t session_ttl_s;
    const char *unix_path;
    const char *modules[32];
    size_t n_modules;
    const char *paths[32];
    size_t n_paths;
    pit_engine_limits engine;
    int check_imports;
} worker_opts;

static void usage(FILE *out) {
    fprintf(out,
            "usage: pitboss-worker --port N [options]\n"
            "Serves pitboss.v1.Pool on 127.0.0.1:N. Normally started by the pitboss supervisor.\n\n"
            "  --port N             port to listen on (127.0.0.1 only)\n"
            "  --ready-fd FD        write \"READY <port>\" to FD once serving, then close it\n"
            "  --max-concurrency K  commands running at once (default 16); more wait in order\n"
            "  --threads T          completion-queue threads (default 1)\n"
            "  --unix PATH          also listen on this Unix socket (reported in the READY line)\n"
            "  --kind K             native (built-in commands) or python (default native)\n"
            "  --module M           python: import M (repeat for several); its @pitboss.command handlers serve\n"
            "  --python-path DIR    python: add DIR to sys.path (repeatable)\n"
            "  --max-qubits N       native: largest circuit simulated (default 26)\n"
            "  --max-shots N        native: most shots per circuit (default 1000000)\n"
            "  --max-gates N        native: most gates per circuit after expansion (default 1000000)\n"
            "  --max-circuit-bytes N  native: longest OpenQASM text (default 4194304)\n"
            "  --precision P        native: double (default) or single, the state vector's precision\n"
            "  --memory-fd FD       native: the supervisor's shared memory budget (inherited descriptor)\n"
            "  --memory-pool I      native: this pool's entry in it\n"
            "  --slot S             slot number, for log lines (and the memory budget)\n"
            "  --pool NAME          pool name, for log lines\n"
            "  --session-ttl-s S    drop a session's state after S idle seconds (default 600)\n"
            "  --grace-ms MS        on SIGTERM, how long running calls may finish (default 10000)\n"
            "  --max-message-mb M   largest request or response (default 64)\n"
            "  --log-level L        debug, info, warn, error (default info)\n"
            "  --check-imports      python: import the modules (no start-up hooks), report, exit: 0 ok, 4 not\n\n"
            "Environment: PITBOSS_WORKER_TOKEN, when set, is required as x-pitboss-token metadata on every\n"
            "call (PERMISSION_DENIED otherwise). PITBOSS_SUPERVISOR_PID, when set, makes the worker exit\n"
            "as soon as that process is no longer its parent.\n");
}

static int parse_int(const char *name, const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max) {
        fprintf(stderr, "pitboss-worker: --%s must be a whole number from %ld to %ld, got \"%s\"\n", name, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, worker_opts *o) {
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},        {"ready-fd", required_argument, NULL, 'r'},
        {"max-concurrency", required_argument, NULL, 'c'}, {"threads", required_argument, NULL, 't'},
        {"kind", required_argument, NULL, 'k'},        {"slot", required_argument, NULL, 's'},
        {"grace-ms", required_argument, NULL, 'g'},    {"max-message-mb", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'l'},   {"help", no_argument, NULL, 'h'},
        {"pool", required_argument, NULL, 'P'},        {"session-ttl-s", required_argument, NULL, 'T'},
        {"unix", required_argument, NULL, 'u'},        {"module", required_argument, NULL, 'M'},
        {"python-path", required_argument, NULL, 'Y'},    {"max-qubits", required_argument, NULL, 'Q'},
        {"max-shots", required_argument, NULL, 'S'},      {"max-gates", required_argument, NULL, 'G'},
        {"check-imports", no_argument, NULL, 'C'},      {"max-circuit-bytes", required_argument, NULL, 'B'},
        {"memory-fd", required_argument, NULL, 'F'},    {"memory-pool", required_argument, NULL, 'I'},
        {"precision", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    *o = (worker_opts){.port = 0, .ready_fd = -1, .max_concurrency = 16, .cq_threads = 1, .grace_ms = 10000,
                       .max_message_bytes = 64u << 20, .kind = "native", .log_level = "info", .slot = -1,
                       .session_ttl_s = 600, .engine = {26, 1000000, 1000000, 4u << 20, -1, -1, 0, 0}};
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p': if (parse_int("port", optarg, 1, 65535, &v)) return -1; o->port = (int)v; break;
        case 'r': if (parse_int("ready-fd", optarg, 0, 1 << 20, &v)) return -1; o->ready_fd = (int)v; break;
        case 'c': if (parse_int("max-concurrency", optarg, 1, 4096, &v)) return -1; o->max_concurrency = (int)v; break;
        case 't': if (parse_int("threads", optarg, 1, 64, &v)) return -1; o->cq_threads = (int)v; break;
        case 's': if (parse_int("slot", optarg, 0, 1 << 20, &v)) return -1; o->slot = (int)v; break;
        case 'g': if (parse_int("grace-ms", optarg, 0, 86400000, &v)) return -1; o->grace_ms = v; break;
        case 'm': if (parse_int("max-message-mb", optarg, 1, 2047, &v)) return -1; o->max_message_bytes = (size_t)v << 20; break;
        case 'T': if (parse_int("session-ttl-s", optarg, 1, 30 * 86400, &v)) return -1; o->session_ttl_s = v; break;
        case 'P': o->pool = optarg; break;
        case 'u': o->unix_path = optarg; break;
        case 'M':
            if (o->n_modules == 32) { fprintf(stderr, "pitboss-worker: at most 32 --module\n"); return -1; }
            o->modules[o->n_modules++] = optarg;
            break;
        case 'Y':
            if (o->n_paths == 32) { fprintf(stderr, "pitboss-worker: at most 32 --python-path\n"); return -1; }
            o->paths[o->n_paths++] = optarg;
            break;
        case 'Q': if (parse_int("max-qubits", optarg, 1, 40, &v)) return -1; o->engine.max_qubits = (int)v; break;
        case 'S': if (parse_int("max-shots", optarg, 1, 1000000000, &v)) return -1; o->engine.max_shots = (uint64_t)v; break;
        case 'G': if (parse_int("max-gates", optarg, 1, 100000000, &v)) return -1; o->engine.max_gates = (size_t)v; break;
        case 'B': if (parse_int("max-circuit-bytes", optarg, 1, 1L << 30, &v)) return -1; o->engine.max_circuit_bytes = (size_t)v; break;
        case 'F': if (parse_int("memory-fd", optarg, 0, 1 << 20, &v)) return -1; o->engine.memory_fd = (int)v; break;
        case 'R':
            if (strcmp(optarg, "double") && strcmp(optarg, "single")) {
                fprintf(stderr, "pitboss-worker: --precision must be double or single, not \"%s\"\n", optarg);
                return -1;
            }
            o->engine.single = !strcmp(optarg, "single");
            break;
        case 'I': if (parse_int("memory-pool", optarg, 0, 63, &v)) return -1; o->engine.memory_pool = (int)v; break;
        case 'k': o->kind = optarg; break;
        case 'C': o->check_imports = 1; break;
        case 'l': o->log_level = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pitboss-worker: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!o->port && !o->check_imports) {
        fprintf(stderr, "pitboss-worker: --port is required\n");
        usage(stderr);
        return -1;
    }
    if (strcmp(o->kind, "native") != 0 && strcmp(o->kind, "python") != 0) {
        fprintf(stderr, "pitboss-worker: --kind must be \"native\" or \"python\", got \"%s\"\n", o->kind);
        return -2;
    }
    if (strcmp(o->kind, "python") == 0 && o->n_modules == 0) {
        fprintf(stderr, "pitboss-worker: a python worker needs --module (the module holding its handlers)\n");
        return -2;
    }
    int level = pit_log_level_parse(o->log_level);
    if (level < 0) {
        fprintf(stderr, "pitboss-worker: --log-level must be debug, info, warn or error, got \"%s\"\n", o->log_level);
        return -1;
    }
    pit_log_set_level((pit_log_level)level);
    return 0;
}

/* ---------------------------------------------------------------- libev side */

static pid_t g_supervisor_pid;

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)revents;
    pit_info("%s: shutting down", strsignal(w->signum));
    ev_break(loop, EVBREAK_ALL);
}

static void on_parent_check(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)w;
    (void)revents;
    if (g_supervisor_pid && getppid() != g_supervisor_pid) {
        pit_warn("supervisor %d is gone: exiting", (int)g_supervisor_pid);
        ev_break(loop, EVBREAK_ALL);
    }
}

int main(int argc, char **argv) {
    json_set_alloc_funcs(pit_malloc, free); /* jansson under the allocation policy too (alloc.h) */
    worker_opts o;
    int bad = parse_opts(argc, argv, &o);
    if (bad) return bad == -2 ? 4 : 2; /* 4: a restart cannot fix this */
    char tag[32];
    if (o.slot >= 0 && o.pool)
        snprintf(tag, sizeof tag, "%.16s:%d", o.pool, o.slot);
    else if (o.slot >= 0)
        snprintf(tag, sizeof tag, "worker:%d", o.slot);
    else
        snprintf(tag, sizeof tag, "worker");
    pit_log_set_tag(tag);

    /* The supervisor asks the kernel to kill us if it dies (PR_SET_PDEATHSIG); it may already have
     * died before that took effect, so look once now, and then periodically. */
    const char *sup = getenv(PIT_ENV_SUPERVISOR_PID);
    if (sup) {
        g_supervisor_pid = (pid_t)atoi(sup);
        if (getppid() != g_supervisor_pid) {
            pit_error("supervisor %d is gone before start: exiting", (int)g_supervisor_pid);
            return 1;
        }
        /* Ctrl-C reaches the whole process group: the supervisor decides when its workers stop. */
        signal(SIGINT, SIG_IGN);
    }
    /* Keep the token out of reach of anything this process starts. */
    char *token = NULL;
    const char *env_token = getenv(PIT_ENV_WORKER_TOKEN);
    if (env_token) {
        token = pit_strdup(env_token);
        unsetenv(PIT_ENV_WORKER_TOKEN);
    }
    signal(SIGPIPE, SIG_IGN);

    pit_grpc_tune();
    grpc_init();
    pit_worker w;
    memset(&w, 0, sizeof w);
    w.port = o.port;
    atomic_init(&w.events_fd, -1);
    w.pool = o.pool ? o.pool : "";
    w.slot = o.slot < 0 ? 0 : o.slot;
    w.kind = o.kind;
    w.max_concurrency = o.max_concurrency;
    w.started_us = pit_mono_us();
    int python = strcmp(o.kind, "python") == 0;
    if (python) {
        /* Import the handlers (and load what their startup hooks load) once, before serving. */
        pit_py_options po = {o.modules, o.n_modules, o.paths, o.n_paths, o.session_ttl_s, o.check_imports};
        char err[1024];
        char reason[512];
        if (pit_py_init(&po, err, sizeof err, reason, sizeof reason) != 0) {
            pit_error("%s", err);
            pit_error(PIT_FATAL_MARK "%s", reason);
            grpc_shutdown();
            free(token);
            return PIT_WORKER_EXIT_FATAL; /* a restart would fail the same way */
        }
        if (o.check_imports) {
            size_t n;
            pit_py_commands(&n);
            printf("imported %zu module(s): %zu command(s)\n", o.n_modules, n);
            fflush(stdout);
            _exit(0); /* nothing to serve; skip the interpreter's finalisation */
        }
        w.commands = pit_py_commands(&w.n_commands);
        w.close_session = pit_py_close_session;
        /* Python calls run on queue threads: one more thread than calls, so one always serves. */
        atomic_store(&w.inline_slots, o.max_concurrency);
        if (o.cq_threads < o.max_concurrency + 1) o.cq_threads = o.max_concurrency + 1;
    } else {
        o.engine.slot = o.slot < 0 ? 0 : o.slot;
        pit_engine_set_limits(&o.engine);
        w.commands = pit_native_commands(&w.n_commands);
    }

    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    pit_server *server = pit_server_create(cq, o.max_message_bytes);
    pit_server_require_token(server, token);
    pit_worker_service_register(&w, server);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", o.port);
    if (pit_server_listen(server, addr) == 0) {
        pit_error("cannot listen on %s: the port is in use or not allowed", addr);
        pit_server_destroy(server);
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(cq);
        grpc_shutdown();
        if (python) pit_py_finalize();
        free(token);
        return 3;
    }
    /* The supervisor's own way in: a Unix socket is ~40% cheaper per call than loopback TCP. */
    int on_unix = 0;
    if (o.unix_path) {
        char uaddr[256];
        snprintf(uaddr, sizeof uaddr, "unix:%s", o.unix_path);
        unlink(o.unix_path);
        on_unix = pit_server_listen(server, uaddr) != 0;
        if (!on_unix) pit_warn("cannot listen on %s: the supervisor will use TCP", uaddr);
    }
    w.threads = pit_work_pool_create(o.max_concurrency, "cmd");
    pit_server_start(server, 32);
    pit_cq_loop *loop = pit_cq_loop_start(cq, o.cq_threads, NULL);

    pit_info("serving %s worker on %s (pid %d, %d command threads%s)", o.kind, addr, (int)getpid(),
             o.max_concurrency, token ? ", token required" : "");
    if (o.ready_fd >= 0) {
        char line[300];
        int n = pit_ready_line_format(line, sizeof line, o.port, on_unix ? o.unix_path : NULL);
        if (n < 0 || write(o.ready_fd, line, (size_t)n) != n) pit_warn("could not report ready on fd %d", o.ready_fd);
        /* Kept open for the ENDED events (protocol.h); never blocking a command thread. */
        fcntl(o.ready_fd, F_SETFL, fcntl(o.ready_fd, F_GETFL) | O_NONBLOCK);
        fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC); /* not for what handlers start */
        atomic_store(&w.events_fd, o.ready_fd);
    }

    struct ev_loop *ev = ev_default_loop(EVFLAG_AUTO);
    ev_signal sigterm, sigint;
    ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
    ev_signal_init(&sigint, on_stop_signal, SIGINT);
    ev_signal_start(ev, &sigterm);
    if (!g_supervisor_pid) ev_signal_start(ev, &sigint);
    ev_timer parent_check;
    ev_timer_init(&parent_check, on_parent_check, 0.5, 0.5);
    if (g_supervisor_pid) ev_timer_start(ev, &parent_check);
    ev_run(ev, 0);

    pit_server_shutdown(server, o.grace_ms);
    pit_work_pool_destroy(w.threads);
    if (python) pit_py_finalize();
    pit_server_destroy(server);
    grpc_completion_queue_shutdown(cq);
    pit_cq_loop_join(loop);
    grpc_completion_queue_destroy(cq);
    ev_loop_destroy(ev);
    grpc_shutdown();
    free(token);
    if (on_unix) unlink(o.unix_path);
    pit_info("stopped");
    return 0;
}
