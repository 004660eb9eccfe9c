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
    /* sessions per slot, kept as they move: placing a new session asks each slot's count, and a walk
     * of the table for it made new sessions 5x dearer with 9,000 open */
    size_t *per_slot;
    int n_per_slot;
};

static void slot_leave(pit_sessions *s, const pit_session *session) {
    if (session->slot >= 0 && session->slot < s->n_per_slot) s->per_slot[session->slot]--;
}

static entry *entry_of(pit_strmap_node *n) { return pit_strmap_entry(n, entry, node); }

pit_sessions *pit_sessions_create(size_t max_sessions) {
    pit_sessions *s = pit_calloc(1, sizeof *s);
    pit_strmap_init(&s->map, 64);
    s->max = max_sessions;
    return s;
}

void pit_sessions_move(pit_sessions *s, pit_session *session, int slot) {
    slot_leave(s, session);
    if (slot >= s->n_per_slot) {
        int n = slot + 1 > 2 * s->n_per_slot ? slot + 1 : 2 * s->n_per_slot;
        s->per_slot = pit_realloc(s->per_slot, (size_t)n * sizeof *s->per_slot);
        memset(s->per_slot + s->n_per_slot, 0, (size_t)(n - s->n_per_slot) * sizeof *s->per_slot);
        s->n_per_slot = n;
    }
    s->per_slot[slot]++;
    session->slot = slot;
}

static int free_entry(pit_strmap_node *n, void *arg) {
    (void)arg;
    free(entry_of(n));
    return 1;
}

void pit_sessions_destroy(pit_sessions *s) {
    pit_strmap_sweep(&s->map, free_entry, NULL);
    pit_strmap_destroy(&s->map);
    free(s->per_slot);
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
    e->session.slot = -1; /* on none until pit_sessions_move */
    pit_strmap_put(&s->map, &e->node, e->id);
    return &e->session;
}

int pit_sessions_remove(pit_sessions *s, const char *id) {
    pit_strmap_node *n = pit_strmap_get(&s->map, id);
    if (!n) return 0;
    pit_strmap_remove(&s->map, n);
    slot_leave(s, &entry_of(n)->session);
    free(entry_of(n));
    return 1;
}

size_t pit_sessions_count(const pit_sessions *s) { return s->map.count; }

size_t pit_sessions_count_slot(const pit_sessions *s, int slot) {
    return slot >= 0 && slot < s->n_per_slot ? s->per_slot[slot] : 0;
}

typedef struct {
    pit_sessions *s;
    int64_t idle_before_us;
    void (*gone)(const char *id, const pit_session *session, void *arg);
    void *arg;
} expiry;

static int expire_one(pit_strmap_node *n, void *arg) {
    expiry *x = arg;
    entry *e = entry_of(n);
    if (e->session.last_used_us >= x->idle_before_us) return 0;
    if (x->gone) x->gone(e->id, &e->session, x->arg);
    slot_leave(x->s, &e->session);
    free(e);
    return 1;
}

size_t pit_sessions_expire(pit_sessions *s, int64_t idle_before_us,
                           void (*gone)(const char *id, const pit_session *session, void *arg), void *arg) {
    expiry x = {s, idle_before_us, gone, arg};
    return pit_strmap_sweep(&s->map, expire_one, &x);
}
