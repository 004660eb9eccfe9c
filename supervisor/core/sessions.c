#include "core/sessions.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    pit_session session;
    char id[]; /* NUL-terminated */
} entry;

struct pit_sessions {
    entry **buckets;
    size_t n_buckets;
    size_t count;
    size_t max;
};

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

pit_sessions *pit_sessions_create(size_t max_sessions) {
    pit_sessions *s = pit_calloc(1, sizeof *s);
    s->n_buckets = 64;
    s->buckets = pit_calloc(s->n_buckets, sizeof(entry *));
    s->max = max_sessions;
    return s;
}

void pit_sessions_destroy(pit_sessions *s) {
    for (size_t i = 0; i < s->n_buckets; i++) {
        entry *e = s->buckets[i];
        while (e) {
            entry *n = e->next;
            free(e);
            e = n;
        }
    }
    free(s->buckets);
    free(s);
}

pit_session *pit_sessions_get(pit_sessions *s, const char *id) {
    for (entry *e = s->buckets[hash(id) % s->n_buckets]; e; e = e->next)
        if (strcmp(e->id, id) == 0) return &e->session;
    return NULL;
}

static void grow(pit_sessions *s) {
    size_t n = s->n_buckets * 4;
    entry **b = pit_calloc(n, sizeof(entry *));
    for (size_t i = 0; i < s->n_buckets; i++) {
        entry *e = s->buckets[i];
        while (e) {
            entry *next = e->next;
            size_t k = hash(e->id) % n;
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
}

pit_session *pit_sessions_add(pit_sessions *s, const char *id) {
    if (s->count >= s->max) return NULL;
    if (s->count >= s->n_buckets * 2) grow(s);
    size_t len = strlen(id);
    entry *e = pit_calloc(1, sizeof *e + len + 1);
    memcpy(e->id, id, len + 1);
    size_t k = hash(id) % s->n_buckets;
    e->next = s->buckets[k];
    s->buckets[k] = e;
    s->count++;
    return &e->session;
}

int pit_sessions_remove(pit_sessions *s, const char *id) {
    for (entry **p = &s->buckets[hash(id) % s->n_buckets]; *p; p = &(*p)->next) {
        if (strcmp((*p)->id, id) == 0) {
            entry *e = *p;
            *p = e->next;
            free(e);
            s->count--;
            return 1;
        }
    }
    return 0;
}

size_t pit_sessions_count(const pit_sessions *s) { return s->count; }

size_t pit_sessions_count_slot(const pit_sessions *s, int slot) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_buckets; i++)
        for (entry *e = s->buckets[i]; e; e = e->next) n += e->session.slot == slot;
    return n;
}

size_t pit_sessions_expire(pit_sessions *s, int64_t idle_before_us,
                           void (*gone)(const char *id, const pit_session *session, void *arg), void *arg) {
    size_t removed = 0;
    for (size_t i = 0; i < s->n_buckets; i++) {
        entry **p = &s->buckets[i];
        while (*p) {
            entry *e = *p;
            if (e->session.last_used_us < idle_before_us) {
                if (gone) gone(e->id, &e->session, arg);
                *p = e->next;
                free(e);
                s->count--;
                removed++;
            } else {
                p = &e->next;
            }
        }
    }
    return removed;
}
