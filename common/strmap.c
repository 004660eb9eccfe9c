/* The one string map (strmap.h). */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

uint64_t pit_str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

void pit_strmap_init(pit_strmap *m, size_t initial_buckets) {
    m->n_buckets = initial_buckets ? initial_buckets : 64;
    m->buckets = pit_calloc(m->n_buckets, sizeof(pit_strmap_node *));
    m->count = 0;
}

void pit_strmap_destroy(pit_strmap *m) {
    free(m->buckets);
    m->buckets = NULL;
    m->n_buckets = m->count = 0;
}

pit_strmap_node *pit_strmap_get(const pit_strmap *m, const char *key) {
    uint64_t h = pit_str_hash(key);
    for (pit_strmap_node *n = m->buckets[h % m->n_buckets]; n; n = n->next)
        if (n->hash == h && strcmp(n->key, key) == 0) return n;
    return NULL;
}

static void grow(pit_strmap *m) {
    size_t nb = m->n_buckets * 4;
    pit_strmap_node **b = pit_calloc(nb, sizeof(pit_strmap_node *));
    for (size_t i = 0; i < m->n_buckets; i++) {
        pit_strmap_node *n = m->buckets[i];
        while (n) {
            pit_strmap_node *next = n->next;
            n->next = b[n->hash % nb];
            b[n->hash % nb] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

void pit_strmap_put(pit_strmap *m, pit_strmap_node *n, const char *key) {
    if (m->count >= m->n_buckets * 2) grow(m);
    n->key = key;
    n->hash = pit_str_hash(key);
    pit_strmap_node **b = &m->buckets[n->hash % m->n_buckets];
    n->next = *b;
    *b = n;
    m->count++;
}

void pit_strmap_remove(pit_strmap *m, pit_strmap_node *n) {
    for (pit_strmap_node **p = &m->buckets[n->hash % m->n_buckets]; *p; p = &(*p)->next)
        if (*p == n) {
            *p = n->next;
            n->next = NULL;
            m->count--;
            return;
        }
}

size_t pit_strmap_sweep(pit_strmap *m, int (*visit)(pit_strmap_node *n, void *arg), void *arg) {
    size_t removed = 0;
    for (size_t i = 0; i < m->n_buckets; i++) {
        pit_strmap_node **p = &m->buckets[i];
        while (*p) {
            pit_strmap_node *n = *p, *next = n->next;
            if (visit(n, arg)) {
                *p = next; /* n may be freed already */
                m->count--;
                removed++;
            } else {
                p = &n->next;
            }
        }
    }
    return removed;
}
