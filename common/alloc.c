/* The allocation policy (alloc.h): never NULL; out of memory is logged and aborts. */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* No pit_log here: it may allocate. One write, then abort (a core dump shows where). */
static void out_of_memory(size_t n) {
    char msg[128];
    int len = snprintf(msg, sizeof msg, "pitboss: out of memory allocating %zu bytes: aborting\n", n);
    if (len > 0) {
        ssize_t unused = write(STDERR_FILENO, msg, (size_t)len);
        (void)unused;
    }
    abort();
}

void *pit_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *pit_aligned_alloc(size_t align, size_t n) {
    n = (n + align - 1) / align * align; /* aligned_alloc wants a multiple of the alignment */
    void *p = aligned_alloc(align, n ? n : align);
    if (!p) out_of_memory(n);
    return p;
}

void *pit_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *pit_realloc(void *old, size_t n) {
    void *p = realloc(old, n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

char *pit_strdup(const char *s) {
    char *p = strdup(s);
    if (!p) out_of_memory(strlen(s) + 1);
    return p;
}

char *pit_strndup(const char *s, size_t n) {
    char *p = strndup(s, n);
    if (!p) out_of_memory(n + 1);
    return p;
}
