/* A pool's sessions (sessions.h), on the one string map (common/strmap.h). */
#include "core/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "strmap.h"

typedef struct entry {
    pit_strmap_node node; /* keyed by id */
    pit_session session;
    char id[]; /* NUL-terminated */
} entry;

struct pit_sessions {
    pit_strmap map;
    size_t max;
};

static entry *entry_of(pit_strmap_node *n) { return pit_strmap_entry(n, entry, node); }

pit_sessions *pit_sessions_create(size_t max_sessions) {
    pit_sessions *s = pit_calloc(1, sizeof *s);
    pit_strmap_init(&s->map, 64);
    s->max = max_sessions;
    return s;
}

static int free_entry(pit_strmap_node *n, void *arg) {
    (void)arg;
    free(entry_of(n));
    return 1;
}

void pit_sessions_destroy(pit_sessions *s) {
    pit_strmap_sweep(&s->map, free_entry, NULL);
    pit_strmap_destroy(&s->map);
    free(s);
}

pit_session *pit_sessions_get(pit_sessions *s, const char *id) {
    pit_strmap_node *n = pit_strmap_get(&s->map, id);
    return n ? &entry_of(n)->session : NULL;
}

pit_session *pit_sessions_add(pit_sessions *s, const char *id) {
    if (s->map.count >= s->max) return NULL;
    size_t len = strlen(id);
    entry *e = pit_calloc(1, sizeof *e + len + 1);
    memcpy(e->id, id, len + 1);
    pit_strmap_put(&s->map, &e->node, e->id);
    return &e->session;
}

int pit_sessions_remove(pit_sessions *s, const char *id) {
    pit_strmap_node *n = pit_strmap_get(&s->map, id);
    if (!n) return 0;
    pit_strmap_remove(&s->map, n);
    free(entry_of(n));
    return 1;
}

size_t pit_sessions_count(const pit_sessions *s) { return s->map.count; }

typedef struct {
    int slot;
    size_t n;
} slot_count;

static int count_one(pit_strmap_node *n, void *arg) {
    slot_count *c = arg;
    c->n += entry_of(n)->session.slot == c->slot;
    return 0;
}

size_t pit_sessions_count_slot(const pit_sessions *s, int slot) {
    slot_count c = {slot, 0};
    pit_strmap_sweep((pit_strmap *)&s->map, count_one, &c); /* visits only: nothing is unlinked */
    return c.n;
}

typedef struct {
    int64_t idle_before_us;
    void (*gone)(const char *id, const pit_session *session, void *arg);
    void *arg;
} expiry;

static int expire_one(pit_strmap_node *n, void *arg) {
    expiry *x = arg;
    entry *e = entry_of(n);
    if (e->session.last_used_us >= x->idle_before_us) return 0;
    if (x->gone) x->gone(e->id, &e->session, x->arg);
    free(e);
    return 1;
}

size_t pit_sessions_expire(pit_sessions *s, int64_t idle_before_us,
                           void (*gone)(const char *id, const pit_session *session, void *arg), void *arg) {
    expiry x = {idle_before_us, gone, arg};
    return pit_strmap_sweep(&s->map, expire_one, &x);
}
