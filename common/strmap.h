/*
 * The one string map: a chained hash table keyed by a NUL-terminated string that the element holds,
 * with its node inside the element (intrusive, as list.h), so that the map never allocates an entry
 * and an element can remove itself. It grows (x4) as it fills; FNV-1a 64 hashes the keys. Not locked:
 * its owner says which lock guards it (sessions: sup->mu; jobs: jobs->mu; a batch stream: its own).
 */
#ifndef PIT_STRMAP_H
#define PIT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pit_strmap_node {
    struct pit_strmap_node *next;
    uint64_t hash;
    const char *key; /* the element's own copy: it must live as long as the node is in the map */
} pit_strmap_node;

typedef struct {
    pit_strmap_node **buckets;
    size_t n_buckets, count;
} pit_strmap;

uint64_t pit_str_hash(const char *s);

void pit_strmap_init(pit_strmap *m, size_t initial_buckets);
/* Frees the buckets only: the elements are their owner's (pit_strmap_sweep them out first). */
void pit_strmap_destroy(pit_strmap *m);
pit_strmap_node *pit_strmap_get(const pit_strmap *m, const char *key);
/* Adds n under key (not already in the map). */
void pit_strmap_put(pit_strmap *m, pit_strmap_node *n, const char *key);
/* Removes n, which must be in the map. */
void pit_strmap_remove(pit_strmap *m, pit_strmap_node *n);
/* Calls visit for every node; a node for which it returns non-zero is unlinked, and visit may free
 * it before returning (the map no longer touches it). Returns the number unlinked. */
size_t pit_strmap_sweep(pit_strmap *m, int (*visit)(pit_strmap_node *n, void *arg), void *arg);

/* The element that holds node ptr as its member. */
#define pit_strmap_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
