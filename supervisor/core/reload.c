#include "core/reload.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "core/memory.h"

typedef struct {
    char text[2048];
    size_t used;
} summary;

static void say(summary *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(summary *s, const char *fmt, ...) {
    if (s->used >= sizeof s->text - 1) return;
    if (s->used) s->used += (size_t)snprintf(s->text + s->used, sizeof s->text - s->used, "; ");
    if (s->used >= sizeof s->text - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->text + s->used, sizeof s->text - s->used, fmt, ap);
    va_end(ap);
    if (n > 0) s->used += (size_t)n;
    if (s->used > sizeof s->text - 1) s->used = sizeof s->text - 1;
}

/* A setting that cannot change while running: the running value is put back into the new config. */
static void keep_str(summary *s, const char *key, char **now, char *const *was) {
    if (strcmp(*now, *was) == 0) return;
    pit_warn("reload: %s changed from \"%s\" to \"%s\", which needs a restart: kept \"%s\"", key, *was, *now, *was);
    say(s, "%s needs a restart (kept \"%s\")", key, *was);
    free(*now);
    *now = strdup(*was);
}

static void keep_int(summary *s, const char *key, int64_t *now, int64_t was) {
    if (*now == was) return;
    pit_warn("reload: %s changed from %lld to %lld, which needs a restart: kept %lld", key, (long long)was,
             (long long)*now, (long long)was);
    say(s, "%s needs a restart (kept %lld)", key, (long long)was);
    *now = was;
}

static void keep_fixed(summary *s, const pit_sup_config *old, pit_sup_config *nc) {
    keep_str(s, "listen", &nc->listen, &old->listen);
    keep_str(s, "metrics.listen", &nc->metrics.listen, &old->metrics.listen);
    keep_str(s, "state_dir", &nc->state_dir, &old->state_dir);
    keep_str(s, "jobs.store", &nc->jobs.store, &old->jobs.store);
    keep_str(s, "log_file", &nc->log_file, &old->log_file);
    keep_str(s, "worker_bin", &nc->worker_bin, &old->worker_bin);
    keep_int(s, "cq_threads", &nc->cq_threads, old->cq_threads);
    keep_int(s, "max_message_mb", &nc->max_message_mb, old->max_message_mb);
    keep_int(s, "workers.base_port", &nc->workers.base_port, old->workers.base_port);
    keep_int(s, "workers.port_range", &nc->workers.port_range, old->workers.port_range);
    keep_int(s, "sessions.max_sessions", &nc->sessions.max_sessions, old->sessions.max_sessions);
    keep_int(s, "metrics.max_connections", &nc->metrics.max_connections, old->metrics.max_connections);
    keep_int(s, "metrics.idle_ms", &nc->metrics.idle_ms, old->metrics.idle_ms);
    keep_int(s, "timeouts.stream_idle_ms", &nc->timeouts.stream_idle_ms, old->timeouts.stream_idle_ms);
}

static pit_pool *find_pool(pit_sup *sup, const char *name) {
    for (int i = 0; i < sup->n_pools; i++)
        if (strcmp(sup->pools[i].cfg->name, name) == 0) return &sup->pools[i];
    return NULL;
}

static void record(pit_sup *sup, int ok, const char *text) {
    pthread_mutex_lock(&sup->mu);
    sup->reloads++;
    sup->last_reload_ok = ok;
    snprintf(sup->last_reload, sizeof sup->last_reload, "%s", text);
    pthread_mutex_unlock(&sup->mu);
}

int pit_reload(pit_sup *sup) {
    pit_sup_config nc;
    char err[2048];
    if (pit_sup_config_load(sup->config_path, &nc, err, sizeof err) != 0) {
        pit_sup_config_free(&nc);
        pit_error("reload refused: %s. Still running the config loaded before; fix the file and send SIGHUP again",
                  err);
        record(sup, 0, err);
        return -1;
    }
    char *bins[PIT_MAX_POOLS] = {0};
    for (size_t i = 0; i < nc.n_pools; i++) {
        if (!(bins[i] = pit_pool_resolve_bin(sup, &nc.pools[i], nc.config_dir, i, err, sizeof err))) {
            for (size_t k = 0; k < i; k++) free(bins[k]);
            pit_sup_config_free(&nc);
            pit_error("reload refused: %s. Still running the config loaded before", err);
            record(sup, 0, err);
            return -1;
        }
    }
    summary s = {"", 0};
    keep_fixed(&s, &sup->cfg, &nc);
    for (size_t i = 0; i < nc.n_pools; i++) {
        pit_pool *p = find_pool(sup, nc.pools[i].name);
        if (p && p->cfg->kind == PIT_KIND_NATIVE && strcmp(p->cfg->backend, nc.pools[i].backend) != 0) {
            char key[96];
            snprintf(key, sizeof key, "pools[%zu].backend", i);
            keep_str(&s, key, &nc.pools[i].backend, &p->cfg->backend);
        }
    }

    pthread_mutex_lock(&sup->mu);
    /* The running config is kept for threads that still read it; the new one takes its place. */
    struct pit_retired_config *old = pit_calloc(1, sizeof *old);
    old->cfg = sup->cfg;
    old->next = sup->retired;
    sup->retired = old;
    sup->cfg = nc;
    pit_log_set_level((pit_log_level)pit_log_level_parse(sup->cfg.log_level));

    /* Pools gone from the file drain and leave. */
    for (int i = 0; i < sup->n_pools; i++) {
        pit_pool *p = &sup->pools[i];
        if (p->removed || pit_sup_config_pool(&sup->cfg, p->cfg->name)) continue;
        pit_info("reload: pool \"%s\" is no longer in the config: its workers drain and stop", p->cfg->name);
        say(&s, "removed pool %s", p->cfg->name);
        pit_monitor_pool_remove_locked(sup, p);
    }
    for (size_t i = 0; i < sup->cfg.n_pools; i++) {
        const pit_pool_config *pc = &sup->cfg.pools[i];
        pit_pool *p = find_pool(sup, pc->name);
        if (!p) {
            if (sup->n_pools == PIT_MAX_POOLS) {
                pit_error("reload: no room for pool \"%s\" (%d pools have existed): restart pitboss to add it",
                          pc->name, PIT_MAX_POOLS);
                free(bins[i]);
                continue;
            }
            p = &sup->pools[sup->n_pools];
            pit_pool_init(sup, p, sup->n_pools, pc);
            p->worker_bin = bins[i];
            sup->n_pools++;
            pit_info("reload: adding pool \"%s\" (%s, %lld workers)", pc->name,
                     pc->kind == PIT_KIND_PYTHON ? "python" : "native", (long long)pc->size);
            say(&s, "added pool %s (%lld workers)", pc->name, (long long)pc->size);
            if (pc->kind == PIT_KIND_NATIVE)
                pit_warn("reload: pool \"%s\" serves calls now; as a job backend it is listed after a restart",
                         pc->name);
            pit_monitor_pool_add_locked(sup, p);
            continue;
        }
        p->cfg = pc;
        free(p->worker_bin);
        p->worker_bin = bins[i];
        if (p->removed) {
            p->removed = 0;
            say(&s, "pool %s back", pc->name);
        }
        int was = 0;
        for (int k = 0; k < p->n_slots; k++) was += !p->slots[k].retiring;
        if (p->state == POOL_FAILED) {
            say(&s, "pool %s started again (it had failed)", pc->name);
            pit_monitor_pool_restart_locked(sup, p, "reload");
        }
        if (was != (int)pc->size) {
            say(&s, "pool %s: %d -> %lld workers", pc->name, was, (long long)pc->size);
            pit_monitor_pool_resize_locked(sup, p, (int)pc->size, "reload");
        }
    }
    pit_memory_apply(sup);
    if (!s.used) say(&s, "no setting changed");
    say(&s, "every worker is replaced one at a time");
    pthread_mutex_unlock(&sup->mu);
    pit_info("reload: %s", s.text);
    record(sup, 1, s.text);
    return 0;
}

void pit_reload_free_retired(pit_sup *sup) {
    while (sup->retired) {
        struct pit_retired_config *r = sup->retired;
        sup->retired = r->next;
        pit_sup_config_free(&r->cfg);
        free(r);
    }
}
