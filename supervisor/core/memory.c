/* The native pools' memory budgets: the limit (cgroup, host), each pool's share, reaped slots. */
#include "core/memory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem_budget.h"

/* The number in a cgroup limit file; 0 for "max", absent or unreadable. v1 writes "no limit" as a
 * page-rounded LLONG_MAX, so anything from 2^60 on is none too. */
static uint64_t read_limit_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = "";
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!ok || strncmp(buf, "max", 3) == 0) return 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    return v >= (1ull << 60) ? 0 : (uint64_t)v;
}

/* The smallest limit from root/path up to root (a parent's limit binds its children). With no cgroup
 * namespace a container shows the host's path, which its mount lacks: missing folders are skipped. */
static uint64_t walk_up(const char *root, const char *cg_path, const char *file, char *source, size_t len) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s%s", root, strcmp(cg_path, "/") == 0 ? "" : cg_path);
    uint64_t best = 0;
    for (;;) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        uint64_t v = read_limit_file(path);
        if (v && (!best || v < best)) {
            best = v;
            snprintf(source, len, "cgroup limit %s", path);
        }
        if (strlen(dir) <= strlen(root)) break;
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = 0;
    }
    return best;
}

static uint64_t cgroup_limit(char *source, size_t len) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char line[1200];
    uint64_t best = 0;
    char src[1200];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        /* "0::/path" (v2), or "4:memory:/path" (v1; the controller list may name several) */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        const char *ctrls = c1 + 1, *path = c2 + 1;
        uint64_t v = 0;
        if (strcmp(line, "0") == 0 && !*ctrls) {
            const char *root = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                                       : "/sys/fs/cgroup/unified";
            v = walk_up(root, path, "memory.max", src, sizeof src);
        } else {
            char list[256];
            snprintf(list, sizeof list, ",%s,", ctrls);
            if (strstr(list, ",memory,")) v = walk_up("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes", src, sizeof src);
        }
        if (v && (!best || v < best)) {
            best = v;
            snprintf(source, len, "%s", src);
        }
    }
    fclose(f);
    return best;
}

static uint64_t mem_total(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

uint64_t pit_memory_limit(char *source, size_t len) {
    char cg_src[1200] = "";
    uint64_t cg = cgroup_limit(cg_src, sizeof cg_src), host = mem_total();
    if (cg && (!host || cg < host)) {
        snprintf(source, len, "%s", cg_src);
        return cg;
    }
    snprintf(source, len, "%s", host ? "the host's MemTotal" : "nothing (no cgroup limit, no /proc/meminfo)");
    return host;
}

void pit_memory_start(pit_sup *sup) {
    sup->mem = pit_mem_create(&sup->mem_fd);
    if (!sup->mem) {
        sup->mem_fd = -1;
        pit_warn("cannot create the shared memory budget (%s): native pools admit circuits without one", strerror(errno));
    }
}

static double mib(uint64_t b) { return (double)b / 1048576.0; }

void pit_memory_apply(pit_sup *sup) {
    if (!sup->mem) return;
    char source[1200];
    uint64_t limit = pit_memory_limit(source, sizeof source);
    int n_auto = 0;
    for (int i = 0; i < sup->n_pools; i++) {
        const pit_pool *p = &sup->pools[i];
        if (!p->removed && p->cfg->kind == PIT_KIND_NATIVE && p->cfg->memory_budget_mb == 0) n_auto++;
    }
    for (int i = 0; i < sup->n_pools; i++) {
        const pit_pool *p = &sup->pools[i];
        if (p->removed || p->cfg->kind != PIT_KIND_NATIVE) {
            pit_mem_set_budget(sup->mem, p->index, 0);
            continue;
        }
        uint64_t budget;
        char why[1400];
        if (p->cfg->memory_budget_mb) {
            budget = (uint64_t)p->cfg->memory_budget_mb << 20;
            snprintf(why, sizeof why, "memory_budget_mb");
        } else if (limit) {
            budget = limit / 100 * PIT_MEMORY_SHARE_PCT / (uint64_t)n_auto;
            snprintf(why, sizeof why, "%d%% of %.0f MiB (%s)%s", PIT_MEMORY_SHARE_PCT, mib(limit), source,
                     n_auto > 1 ? ", shared evenly by the native pools without memory_budget_mb" : "");
        } else {
            pit_warn("pool \"%s\": no memory limit is known and memory_budget_mb is not set: circuits are admitted "
                     "without a budget", p->cfg->name);
            pit_mem_set_budget(sup->mem, p->index, 0);
            continue;
        }
        pit_mem_set_budget(sup->mem, p->index, budget);
        /* The largest circuit a pool takes needs its state vector (16 B per amplitude; twice that
         * when it runs shot by shot); say so now rather than at 3 a.m. when such a circuit comes. */
        uint64_t biggest = (uint64_t)16 << p->cfg->max_qubits;
        if (biggest > budget)
            pit_warn("pool \"%s\": its memory budget is %.1f MiB (%s); a %lld-qubit circuit (max_qubits) needs %.1f "
                     "MiB, so circuits of more than about %d qubits are refused: lower max_qubits or raise the budget",
                     p->cfg->name, mib(budget), why, (long long)p->cfg->max_qubits, mib(biggest),
                     63 - __builtin_clzll(budget / 16 ? budget / 16 : 1));
        else
            pit_info("pool \"%s\": state-vector memory budget %.1f MiB (%s)", p->cfg->name, mib(budget), why);
    }
}

void pit_memory_slot_gone(pit_sup *sup, pit_slot *slot) {
    uint64_t held = pit_mem_release_slot(sup->mem, slot->pool->index, slot->index);
    if (held)
        pit_info("worker %d of pool \"%s\" held %.1f MiB of the memory budget when it ended: given back", slot->index,
                 slot->pool->cfg->name, mib(held));
}

void pit_memory_stop(pit_sup *sup) {
    if (sup->mem_fd >= 0) close(sup->mem_fd);
    sup->mem_fd = -1;
    /* The mapping stays until exit: a metrics scrape may still read it. */
}
