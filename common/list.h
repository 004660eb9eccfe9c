/*
 * The one intrusive list (as libuv's QUEUE and Linux's list_head): a circular doubly linked list
 * whose nodes live inside the elements, so that adding and removing never allocate and an element
 * knows its own place. A head must be pit_list_init'ed (it points at itself when empty); a removed
 * node points at itself too, so pit_list_linked tells whether it is on a list. No locking: the
 * owner of the list says which lock guards it.
 */
#ifndef PIT_LIST_H
#define PIT_LIST_H

#include <stddef.h>

typedef struct pit_list {
    struct pit_list *prev, *next;
} pit_list;

static inline void pit_list_init(pit_list *h) { h->prev = h->next = h; }
static inline int pit_list_empty(const pit_list *h) { return h->next == h; }
/* A node that pit_list_init'ed or removed is on no list; one zeroed by calloc is not yet either. */
static inline int pit_list_linked(const pit_list *n) { return n->next && n->next != n; }

static inline void pit_list_insert_after(pit_list *at, pit_list *n) {
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}
static inline void pit_list_push_back(pit_list *h, pit_list *n) { pit_list_insert_after(h->prev, n); }
static inline void pit_list_push_front(pit_list *h, pit_list *n) { pit_list_insert_after(h, n); }

static inline void pit_list_remove(pit_list *n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* The element that holds node ptr as its member. */
#define pit_list_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* for each node n of h, from the front; n may be removed inside the loop (tmp holds the next). */
#define pit_list_foreach_safe(n, tmp, h) for ((n) = (h)->next, (tmp) = (n)->next; (n) != (h); (n) = (tmp), (tmp) = (n)->next)

#endif
