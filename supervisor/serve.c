/* pitboss serve -c FILE: the supervisor process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grpc_tuning.h"
#include "core/abandon.h"
#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "core/memory.h"
#include "protocol.h"
#include "api/health.h"
#include "jobs/jobs.h"
#include "core/reload.h"
#include "routing/router.h"
#include "api/metrics.h"
#include "core/sessions.h"
#include "api/front.h"
#include "core/call_stats.h"
#include "core/supervisor.h"
#include "serve.h"

static void usage(FILE *out) {
    fprintf(out, "usage: pitboss serve [-c FILE] [--check]\n\n"
                 "Starts the supervisor and its workers as the config file says (default config/pitboss.json).\n"
                 "  -c, --config FILE   the config file (keys: docs/config.md)\n"
                 "  --check             check the config (and import each Python pool's modules in a throwaway\n"
                 "                      worker) and exit: 0 if good, 2 with the problem if not\n\n"
                 "Signals (docs/signals.md): TERM/INT stop gracefully, QUIT stops fast, HUP replaces the workers one\n"
                 "at a time, USR1 reopens log_file, TTIN/TTOU add/remove a worker in every pool; others are ignored.\n");
}

static int find_worker_bin(pit_sup *sup, char *err, size_t errlen) {
    if (sup->cfg.worker_bin[0]) {
        if (sup->cfg.worker_bin[0] == '/')
            snprintf(sup->worker_bin, sizeof sup->worker_bin, "%s", sup->cfg.worker_bin);
        else
            snprintf(sup->worker_bin, sizeof sup->worker_bin, "%s/%s", sup->cfg.config_dir, sup->cfg.worker_bin);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            snprintf(err, errlen, "cannot find this program's path to locate pitboss-worker: set worker_bin");
            return -1;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        *slash = 0;
        if (snprintf(sup->worker_bin, sizeof sup->worker_bin, "%s/pitboss-worker", self) >= (int)sizeof sup->worker_bin) {
            snprintf(err, errlen, "this program's path is too long: set worker_bin");
            return -1;
        }
    }
    if (access(sup->worker_bin, X_OK) != 0) {
        snprintf(err, errlen, "%.900s: worker_bin: %.900s is not an executable program (%s)", sup->config_path,
                 sup->worker_bin, strerror(errno));
        return -1;
    }
    return 0;
}

/* A pool may name its own worker program; relative paths are relative to the config file. */
static int resolve_pool_bins(pit_sup *sup, char *err, size_t errlen) {
    for (int i = 0; i < sup->n_pools; i++) {
        pit_pool *p = &sup->pools[i];
        if (!(p->worker_bin = pit_pool_resolve_bin(sup, p->cfg, sup->cfg.config_dir, (size_t)i, err, errlen))) return -1;
    }
    return 0;
}

/* serve --check: a Python pool's modules imported in a throwaway worker (no port, no start-up hooks),
 * so that a missing module or a syntax error fails the check rather than the start. */
static int check_python_pool(pit_sup *sup, pit_pool *p, char *err, size_t errlen) {
    const pit_pool_config *pc = p->cfg;
    char *argv[160];
    int argc = 0;
    char paths[32][4200];
    argv[argc++] = p->worker_bin;
    argv[argc++] = "--kind";
    argv[argc++] = "python";
    argv[argc++] = "--check-imports";
    for (size_t i = 0; i < pc->module.count && argc < 150; i++) {
        argv[argc++] = "--module";
        argv[argc++] = pc->module.items[i];
    }
    for (size_t i = 0; i < pc->python_path.count && i < 32 && argc < 150; i++) {
        const char *pp = pc->python_path.items[i];
        snprintf(paths[i], sizeof paths[i], "%s%s%s", pp[0] == '/' ? "" : sup->cfg.config_dir, pp[0] == '/' ? "" : "/", pp);
        argv[argc++] = "--python-path";
        argv[argc++] = paths[i];
    }
    argv[argc] = NULL;
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot check pool \"%s\": pipe: %s", pc->name, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < pc->env.count; i++) setenv(pc->env.keys[i], pc->env.values[i], 1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    char text[16384];
    size_t len = 0;
    ssize_t n;
    while ((n = read(out[0], text + len, sizeof text - 1 - len)) > 0) len += (size_t)n;
    text[len] = 0;
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("%s: pool \"%s\": %s", sup->config_path, pc->name, text);
        return 0;
    }
    const char *mark = strstr(text, PIT_FATAL_MARK);
    if (mark) {
        mark += strlen(PIT_FATAL_MARK);
        snprintf(err, errlen, "%.900s: pools: \"%s\": %.*s", sup->config_path, pc->name, (int)strcspn(mark, "\n"), mark);
    } else {
        snprintf(err, errlen, "%.900s: pools: \"%s\": the worker could not import its modules: %.800s", sup->config_path,
                 pc->name, text);
    }
    return -1;
}

/* Run folders of supervisors that died without cleaning up (kill -9): pitboss-<pid>-XXXXXX whose pid
 * is gone, owned by this user. Each holds only the workers' sockets. */
static void remove_stale_run_dirs(const char *tmp) {
    DIR *d = opendir(tmp);
    if (!d) return;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        int pid = 0, n = 0;
        if (sscanf(e->d_name, "pitboss-%d-%n", &pid, &n) != 1 || n == 0 || pid <= 0 || pid == getpid()) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to ask about) */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", tmp, e->d_name);
        struct stat st;
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) continue;
        DIR *inner = opendir(dir);
        if (inner) {
            struct dirent *f;
            while ((f = readdir(inner))) {
                if (strncmp(f->d_name, "w", 1) != 0 || !strstr(f->d_name, ".sock")) continue;
                char path[4400];
                snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
                unlink(path);
            }
            closedir(inner);
        }
        if (rmdir(dir) == 0) removed++;
    }
    closedir(d);
    if (removed) pit_info("removed %d run folder%s left by supervisors that were killed", removed, removed == 1 ? "" : "s");
}

static void remove_run_dir(pit_sup *sup) {
    if (!sup->run_dir[0]) return;
    int total = 0;
    total = sup->n_pools * PIT_MAX_POOL_SLOTS;
    for (int g = 0; g < total; g++) {
        char path[400];
        snprintf(path, sizeof path, "%s/w%d.sock", sup->run_dir, g);
        unlink(path);
    }
    rmdir(sup->run_dir);
}

static void make_token(char *out) {
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        /* getrandom cannot fail for 32 bytes on Linux >= 3.17; never run without a token all the same. */
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) abort();
        fclose(f);
    }
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", raw[i]);
}

static void sup_init_tables(pit_sup *sup) {
    /* Room for every pool a reload may add: pools never move (calls and slots point at them). */
    sup->pools = pit_calloc(PIT_MAX_POOLS, sizeof(pit_pool));
    sup->n_pools = (int)sup->cfg.n_pools;
    for (int i = 0; i < sup->n_pools; i++) pit_pool_init(sup, &sup->pools[i], i, &sup->cfg.pools[i]);
    sup->reload_slot = -1;
    sup->next_wake_us = INT64_MAX;
}

static void sup_free_tables(pit_sup *sup) {
    for (int i = 0; i < sup->n_pools; i++) pit_pool_free(&sup->pools[i]);
    free(sup->pools);
    pit_reload_free_retired(sup);
}

int pit_serve_main(int argc, char **argv) {
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"check", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *path = "config/pitboss.json";
    int check_only = 0, ch;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'k': check_only = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pitboss serve: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }

    static pit_sup sup_storage; /* lives for the process; libev callbacks reach it */
    pit_sup *sup = &sup_storage;
    snprintf(sup->config_path, sizeof sup->config_path, "%s", path);
    char err[2048];
    if (pit_sup_config_load(path, &sup->cfg, err, sizeof err) != 0 || find_worker_bin(sup, err, sizeof err) != 0) {
        fprintf(stderr, "pitboss: %s\n", err);
        pit_sup_config_free(&sup->cfg);
        return 2;
    }
    sup_init_tables(sup);
    if (resolve_pool_bins(sup, err, sizeof err) != 0) {
        fprintf(stderr, "pitboss: %s\n", err);
        sup_free_tables(sup);
        pit_sup_config_free(&sup->cfg);
        return 2;
    }
    if (check_only) {
        for (int i = 0; i < sup->n_pools; i++) {
            if (sup->pools[i].cfg->kind != PIT_KIND_PYTHON) continue;
            if (check_python_pool(sup, &sup->pools[i], err, sizeof err) != 0) {
                fprintf(stderr, "pitboss: %s\n", err);
                sup_free_tables(sup);
                pit_sup_config_free(&sup->cfg);
                return 2;
            }
        }
        sup_free_tables(sup);
        printf("%s: OK (%zu pool%s)\n", path, sup->cfg.n_pools, sup->cfg.n_pools == 1 ? "" : "s");
        pit_sup_config_free(&sup->cfg);
        return 0;
    }
    pit_log_set_level((pit_log_level)pit_log_level_parse(sup->cfg.log_level));
    pit_log_set_tag("supervisor");
    if (sup->cfg.log_file[0]) {
        char log_path[8192];
        if (sup->cfg.log_file[0] == '/')
            snprintf(log_path, sizeof log_path, "%s", sup->cfg.log_file);
        else
            snprintf(log_path, sizeof log_path, "%s/%s", sup->cfg.config_dir, sup->cfg.log_file);
        if (pit_log_open_file(log_path, err, sizeof err) != 0) {
            fprintf(stderr, "pitboss: %s: log_file: %s\n", path, err);
            sup_free_tables(sup);
            pit_sup_config_free(&sup->cfg);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    /* systemd's default soft limit is 1024 descriptors; every call and worker channel takes some. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        rlim_t was = nofile.rlim_cur;
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) == 0)
            pit_info("open-file limit raised from %llu to %llu (the hard limit)", (unsigned long long)was,
                     (unsigned long long)nofile.rlim_max);
    }
    sup->started_us = pit_mono_us();
    make_token(sup->token);
    /* Workers' Unix sockets live in a folder only this user can enter; its name carries this pid, so
     * that the next supervisor can tell a dead one's folder and remove it. */
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    remove_stale_run_dirs(tmp);
    snprintf(sup->run_dir, sizeof sup->run_dir, "%s/pitboss-%d-XXXXXX", tmp, (int)getpid());
    if (!mkdtemp(sup->run_dir)) {
        pit_warn("cannot create %s (%s): workers will be reached over TCP", sup->run_dir, strerror(errno));
        sup->run_dir[0] = 0;
    }
    pthread_mutex_init(&sup->mu, NULL);
    sup->metrics = pit_metrics_create();
    sup->calls = pit_call_stats_create();
    sup->reload = pit_reload;
    /* Before grpc_init and before any worker: the segment is inherited by fork+exec. */
    pit_memory_start(sup);
    pit_memory_apply(sup);

    pit_grpc_tune();
    grpc_init();
    sup->cq = grpc_completion_queue_create_for_next(NULL);
    sup->server = pit_server_create(sup->cq, (size_t)sup->cfg.max_message_mb << 20);
    pit_router_register(sup);
    pit_front_register(sup);
    pit_health_register(sup);
    pit_job_rpc_register(sup);
    pit_job_batch_stream_register(sup);
    int rc = 0;
    sup->jobs = pit_jobs_create(sup, err, sizeof err);
    if (!sup->jobs) {
        pit_error("%s", err);
        rc = 1;
        goto out_server;
    }
    /* Metrics first: once the gRPC server listens it can only be stopped by a full shutdown. */
    sup->ev = ev_default_loop(EVFLAG_AUTO);
    if (sup->cfg.metrics.listen[0] && pit_metrics_listen(sup->metrics, sup->ev, sup->cfg.metrics.listen, sup) < 0) {
        rc = 1;
        goto out_server;
    }
    if (pit_server_listen(sup->server, sup->cfg.listen) == 0) {
        pit_error("cannot listen on %s: the address is in use or not allowed (is another pitboss running? change "
                  "\"listen\" in %s)", sup->cfg.listen, path);
        rc = 1;
        goto out_server;
    }
    pit_server_set_grace_hook(sup->server, pit_router_cut_all, sup);
    pit_server_set_drain_message(sup->server, "pitboss is stopping: it takes no new calls while the running ones "
                                 "finish; send the call to another instance, or retry once it is back");
    pit_server_start(sup->server, 32);
    pit_cq_hooks hooks = {pit_router_next_wake, pit_router_on_wake, sup};
    sup->loop = pit_cq_loop_start(sup->cq, (int)sup->cfg.cq_threads, &hooks);
    pit_monitor_install(sup);
    pit_health_start(sup);
    pit_abandon_start(sup);
    if (pit_monitor_start_all(sup) != 0) {
        rc = 1;
    } else {
        pit_jobs_start(sup->jobs);
        pit_info("pitboss serving on %s (config %s, %d pool%s, metrics %s)", sup->cfg.listen, path, sup->n_pools,
                 sup->n_pools == 1 ? "" : "s", sup->cfg.metrics.listen[0] ? sup->cfg.metrics.listen : "off");
        ev_run(sup->ev, 0);
    }

    /* Graceful stop: refuse new calls, let running and queued ones finish, stop the workers. */
    pthread_mutex_lock(&sup->mu);
    sup->shutting_down = 1;
    pthread_mutex_unlock(&sup->mu);
    pit_jobs_shutdown(sup->jobs);
    pit_job_rpc_shutdown(sup);
    pit_health_shutdown(sup);
    int64_t grace_ms = sup->fast_stop ? 0 : sup->cfg.timeouts.graceful_ms;
    pit_server_shutdown(sup->server, grace_ms);
    pit_monitor_stop_workers(sup, sup->fast_stop ? PIT_FAST_STOP_MS : grace_ms);
    pit_jobs_cancel_runs(sup->jobs);
    pit_server_destroy(sup->server);
    grpc_completion_queue_shutdown(sup->cq);
    pit_cq_loop_join(sup->loop);
    grpc_completion_queue_destroy(sup->cq);
    pit_jobs_destroy(sup->jobs);
    sup->jobs = NULL;
    sup_free_tables(sup);
    pit_metrics_destroy(sup->metrics);
    pit_call_stats_destroy(sup->calls);
    grpc_shutdown();
    remove_run_dir(sup);
    pit_memory_stop(sup);
    pit_info("stopped");
    pit_sup_config_free(&sup->cfg);
    return rc;

out_server:
    pit_server_destroy(sup->server);
    grpc_completion_queue_shutdown(sup->cq);
    while (grpc_completion_queue_next(sup->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(sup->cq);
    pit_jobs_destroy(sup->jobs);
    sup->jobs = NULL;
    sup_free_tables(sup);
    pit_metrics_destroy(sup->metrics);
    pit_call_stats_destroy(sup->calls);
    grpc_shutdown();
    remove_run_dir(sup);
    pit_sup_config_free(&sup->cfg);
    return rc;
}
