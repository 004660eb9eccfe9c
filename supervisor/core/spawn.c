/*
 * Starting a worker process and reading what it writes: the mechanism (as nginx's ngx_process.c),
 * apart from the policy of when to start, restart, back off or stop (monitor.c). Everything here
 * runs on the libev thread with sup->mu held, except the child between fork and execve, which makes
 * async-signal-safe calls only.
 */
#include "core/spawn.h"
#include "alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"

extern char **environ;

/* ---------------------------------------------------------------- ports */

static int port_is_free(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int one = 1;
    /* As gRPC does: lingering TIME_WAIT connections must not make a port look busy. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int port_taken_by_slot(pit_sup *sup, int port, const pit_slot *except) {
    for (int i = 0; i < sup->n_pools; i++)
        for (int k = 0; k < sup->pools[i].n_slots; k++) {
            const pit_slot *s = &sup->pools[i].slots[k];
            if (s != except && s->port == port) return 1;
        }
    return 0;
}

/* The next free port of the range for slot, after `after` (wrapping); 0 if none. */
int pit_spawn_find_port(pit_sup *sup, pit_slot *slot, int after) {
    int base = (int)sup->cfg.workers.base_port, range = (int)sup->cfg.workers.port_range;
    for (int k = 1; k <= range; k++) {
        int port = base + (after - base + k + range) % range;
        if (port_taken_by_slot(sup, port, slot)) continue;
        if (port_is_free(port)) return port;
        pit_info("port %d is in use: skipping it", port);
    }
    return 0;
}

/* ---------------------------------------------------------------- a worker's output */

static void tail_add(pit_slot *slot, const char *line) {
    snprintf(slot->tail[slot->tail_next], sizeof slot->tail[0], "%s", line);
    slot->tail_next = (slot->tail_next + 1) % 8;
}

void pit_spawn_tail_text(pit_slot *slot, char *out, size_t len) {
    size_t used = 0;
    out[0] = 0;
    for (int k = 0; k < 8; k++) {
        const char *line = slot->tail[(slot->tail_next + k) % 8];
        if (line[0] && used < len) used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " | " : "", line);
    }
    if (!out[0]) snprintf(out, len, "(no output)");
}

static void forward_line(pit_slot *slot, char *line) {
    if (!line[0]) return;
    tail_add(slot, line);
    /* Worker log lines are already stamped; anything else (a crash message, a print) gets a tag. */
    if (strlen(line) > 24 && line[4] == '-' && line[10] == 'T' && line[23] == 'Z') {
        size_t n = strlen(line);
        line[n] = '\n';
        ssize_t unused = write(STDERR_FILENO, line, n + 1);
        (void)unused;
        line[n] = 0;
    } else {
        pit_info("worker %d of pool \"%s\" (pid %d) says: %s", slot->index, slot->pool->cfg->name, (int)slot->pid, line);
    }
}

void pit_spawn_drain_stderr(pit_slot *slot) {
    for (;;) {
        ssize_t n = read(slot->stderr_fd, slot->stderr_buf + slot->stderr_len, sizeof slot->stderr_buf - 1 - slot->stderr_len);
        if (n <= 0) break;
        slot->stderr_len += (size_t)n;
        char *start = slot->stderr_buf, *nl;
        while ((nl = memchr(start, '\n', slot->stderr_len - (size_t)(start - slot->stderr_buf)))) {
            *nl = 0;
            forward_line(slot, start);
            start = nl + 1;
        }
        size_t rest = slot->stderr_len - (size_t)(start - slot->stderr_buf);
        memmove(slot->stderr_buf, start, rest);
        slot->stderr_len = rest;
        if (rest == sizeof slot->stderr_buf - 1) { /* a very long line: pass it on in pieces */
            slot->stderr_buf[rest] = 0;
            forward_line(slot, slot->stderr_buf);
            slot->stderr_len = 0;
        }
    }
}

static void on_worker_stderr(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    pit_slot *slot = w->data;
    pit_sup *sup = slot->pool->sup;
    pthread_mutex_lock(&sup->mu);
    pit_spawn_drain_stderr(slot);
    pthread_mutex_unlock(&sup->mu);
}

void pit_spawn_describe_exit(int status, char *out, size_t len) {
    if (WIFEXITED(status))
        snprintf(out, len, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, len, "ended with status %d", status);
}

/* ---------------------------------------------------------------- fork and exec */

/* Builds what the child needs before forking: after fork only async-signal-safe calls are allowed. */
typedef struct {
    char *argv[64];
    int argc;
    char **envp;
} exec_plan;

static void plan_arg(exec_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plan_arg(exec_plan *p, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (p->argc < 62) p->argv[p->argc++] = pit_strdup(buf);
}

static void plan_build(pit_sup *sup, pit_slot *slot, int ready_fd, exec_plan *p) {
    const pit_pool_config *pc = slot->pool->cfg;
    memset(p, 0, sizeof *p);
    plan_arg(p, "%s", slot->pool->worker_bin);
    plan_arg(p, "--port");
    plan_arg(p, "%d", slot->port);
    plan_arg(p, "--ready-fd");
    plan_arg(p, "%d", ready_fd);
    plan_arg(p, "--max-concurrency");
    plan_arg(p, "%lld", (long long)pc->worker_threads);
    plan_arg(p, "--slot");
    plan_arg(p, "%d", slot->index);
    plan_arg(p, "--pool");
    plan_arg(p, "%s", pc->name);
    plan_arg(p, "--kind");
    plan_arg(p, "%s", pc->kind == PIT_KIND_PYTHON ? "python" : "native");
    plan_arg(p, "--log-level");
    plan_arg(p, "%s", sup->cfg.log_level);
    plan_arg(p, "--grace-ms");
    plan_arg(p, "%lld", (long long)sup->cfg.timeouts.graceful_ms);
    plan_arg(p, "--max-message-mb");
    plan_arg(p, "%lld", (long long)sup->cfg.max_message_mb);
    if (sup->run_dir[0]) {
        plan_arg(p, "--unix");
        plan_arg(p, "%s/w%d.sock", sup->run_dir, pit_slot_global_index(slot));
    }
    plan_arg(p, "--session-ttl-s");
    plan_arg(p, "%lld", (long long)sup->cfg.sessions.ttl_s);
    if (pc->kind == PIT_KIND_NATIVE) {
        plan_arg(p, "--max-qubits");
        plan_arg(p, "%lld", (long long)pc->max_qubits);
        plan_arg(p, "--max-shots");
        plan_arg(p, "%lld", (long long)pc->max_shots);
        plan_arg(p, "--max-gates");
        plan_arg(p, "%lld", (long long)pc->max_gates);
        plan_arg(p, "--max-circuit-bytes");
        plan_arg(p, "%lld", (long long)pc->max_circuit_bytes);
        if (pc->precision == PIT_PRECISION_SINGLE) plan_arg(p, "--precision=single");
        if (sup->mem_fd >= 0) {
            plan_arg(p, "--memory-fd");
            plan_arg(p, "%d", sup->mem_fd);
            plan_arg(p, "--memory-pool");
            plan_arg(p, "%d", slot->pool->index);
        }
    }
    for (size_t i = 0; i < pc->module.count; i++) {
        plan_arg(p, "--module");
        plan_arg(p, "%s", pc->module.items[i]);
    }
    for (size_t i = 0; i < pc->python_path.count; i++) {
        plan_arg(p, "--python-path");
        if (pc->python_path.items[i][0] == '/')
            plan_arg(p, "%s", pc->python_path.items[i]);
        else
            plan_arg(p, "%s/%s", sup->cfg.config_dir, pc->python_path.items[i]);
    }
    p->argv[p->argc] = NULL;

    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    p->envp = pit_calloc(n_env + pc->env.count + 8, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++) {
        if (strncmp(environ[i], PIT_ENV_WORKER_TOKEN "=", sizeof PIT_ENV_WORKER_TOKEN) == 0) continue;
        p->envp[k++] = pit_strdup(environ[i]);
    }
    char buf[4200];
    snprintf(buf, sizeof buf, PIT_ENV_WORKER_TOKEN "=%s", sup->token);
    p->envp[k++] = pit_strdup(buf);
    snprintf(buf, sizeof buf, PIT_ENV_SUPERVISOR_PID "=%d", (int)getpid());
    p->envp[k++] = pit_strdup(buf);
    snprintf(buf, sizeof buf, PIT_ENV_POOL "=%s", pc->name);
    p->envp[k++] = pit_strdup(buf);
    snprintf(buf, sizeof buf, PIT_ENV_SLOT "=%d", slot->index);
    p->envp[k++] = pit_strdup(buf);
    for (size_t i = 0; i < pc->env.count; i++) {
        snprintf(buf, sizeof buf, "%s=%s", pc->env.keys[i], pc->env.values[i]);
        p->envp[k++] = pit_strdup(buf);
    }
    p->envp[k] = NULL;
}

static void plan_free(exec_plan *p) {
    for (int i = 0; i < p->argc; i++) free(p->argv[i]);
    for (size_t i = 0; p->envp && p->envp[i]; i++) free(p->envp[i]);
    free(p->envp);
}

static void on_worker_stderr(struct ev_loop *loop, ev_io *w, int revents);

int pit_spawn_worker(pit_sup *sup, pit_slot *slot) {
    int ready[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        pit_error("cannot create pipes for worker %d of pool \"%s\": %s: trying again after the backoff",
                  slot->index, slot->pool->cfg->name, strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (ready[i] >= 0) close(ready[i]);
            if (err[i] >= 0) close(err[i]);
        }
        snprintf(slot->last_exit, sizeof slot->last_exit, "could not start: pipe2: %s", strerror(errno));
        return -1;
    }
    exec_plan plan;
    plan_build(sup, slot, ready[1], &plan);
    int native = slot->pool->cfg->kind == PIT_KIND_NATIVE;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: async-signal-safe calls only, until execve. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1); /* the supervisor died before prctl took effect */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(err[1], 1);
        dup2(err[1], 2);
        fcntl(ready[1], F_SETFD, 0); /* the descriptors the worker inherits on purpose: its ready pipe */
        if (native && sup->mem_fd >= 0) fcntl(sup->mem_fd, F_SETFD, 0); /* and the memory budget */
        execve(plan.argv[0], plan.argv, plan.envp);
        static const char msg[] = "pitboss: cannot execute the worker program\n";
        ssize_t unused = write(2, msg, sizeof msg - 1);
        (void)unused;
        _exit(PIT_WORKER_EXIT_FATAL);
    }
    plan_free(&plan);
    close(ready[1]);
    close(err[1]);
    if (pid < 0) {
        int e = errno;
        pit_error("fork failed for worker %d of pool \"%s\": %s: trying again after the backoff", slot->index,
                  slot->pool->cfg->name, strerror(e));
        close(ready[0]);
        close(err[0]);
        snprintf(slot->last_exit, sizeof slot->last_exit, "could not start: fork: %s", strerror(e));
        return -1;
    }
    slot->pid = pid;
    slot->ready_fd = ready[0];
    slot->stderr_fd = err[0];
    slot->stderr_len = 0;
    fcntl(ready[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    ev_io_init(&slot->stderr_w, on_worker_stderr, err[0], EV_READ);
    slot->stderr_w.data = slot;
    ev_io_start(sup->ev, &slot->stderr_w);
    return 0;
}
