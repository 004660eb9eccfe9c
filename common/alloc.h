/*
 * The allocation policy (as Redis's zmalloc and h2o's h2o_mem_alloc): an allocation that fails logs
 * what was asked for and aborts. Nothing in pitboss can do better than stop when the heap is gone, and
 * unchecked NULLs would fail later, somewhere else. The one exception is memory a caller can refuse
 * to a client and carry on: the state vector and its probabilities (worker/engine: plain
 * aligned_alloc/malloc, checked, RESOURCE_EXHAUSTED).
 */
#ifndef PIT_ALLOC_H
#define PIT_ALLOC_H

#include <stddef.h>

void *pit_malloc(size_t n);
void *pit_calloc(size_t count, size_t size);
void *pit_aligned_alloc(size_t align, size_t n); /* free() it */
void *pit_realloc(void *p, size_t n);
char *pit_strdup(const char *s);
char *pit_strndup(const char *s, size_t n);

#endif
