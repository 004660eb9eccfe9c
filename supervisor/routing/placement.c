/* Session placement and load balancing: which slot of a pool takes a call (sup->mu held). */
#include "routing/placement.h"

#include "clock.h"
#include "core/sessions.h"

static int has_room(const pit_slot *s) {
    return s->state == SLOT_READY && s->in_flight < (uint32_t)s->pool->cfg->max_concurrency;
}

/* The least-loaded ready slot with room. Ties go to the slot with fewer sessions when placing a
 * new session (so sessions spread), else round-robin (so idle workers share the work). */
static pit_slot *least_loaded(pit_pool *pool, int for_new_session) {
    static unsigned rr;
    pit_slot *best = NULL;
    size_t best_sessions = 0;
    int start = (int)(rr++ % (unsigned)pool->n_slots);
    for (int k = 0; k < pool->n_slots; k++) {
        pit_slot *s = &pool->slots[(start + k) % pool->n_slots];
        if (!has_room(s)) continue;
        size_t sess = for_new_session ? pit_sessions_count_slot(pool->sessions, s->index) : 0;
        if (!best || s->in_flight < best->in_flight || (s->in_flight == best->in_flight && sess < best_sessions)) {
            best = s;
            best_sessions = sess;
        }
    }
    return best;
}

pit_pick pit_place(pit_pool *pool, const char *session_id, pit_slot **out, int *session_reset) {
    *out = NULL;
    *session_reset = 0;
    if (!session_id) {
        *out = least_loaded(pool, 0);
        return *out ? PIT_PICK_SLOT : PIT_PICK_WAIT;
    }
    pit_session *s = pit_sessions_get(pool->sessions, session_id);
    if (!s) {
        pit_slot *slot = least_loaded(pool, 1);
        if (!slot) return PIT_PICK_WAIT;
        s = pit_sessions_add(pool->sessions, session_id);
        if (!s) return PIT_PICK_NO_SESSIONS;
        pit_sessions_move(pool->sessions, s, slot->index);
        s->generation = slot->generation;
        s->last_used_us = pit_mono_us();
        *out = slot;
        return PIT_PICK_SLOT;
    }
    if (s->slot >= pool->n_slots) {
        /* Its worker left the pool (SIGTTOU): place it again, and say that its state is gone. */
        pit_slot *slot = least_loaded(pool, 1);
        if (!slot) return PIT_PICK_WAIT;
        pit_sessions_move(pool->sessions, s, slot->index);
        s->generation = slot->generation;
        s->last_used_us = pit_mono_us();
        *session_reset = 1;
        *out = slot;
        return PIT_PICK_SLOT;
    }
    pit_slot *slot = &pool->slots[s->slot];
    if (!has_room(slot)) return PIT_PICK_WAIT; /* affinity: wait for this worker, even if others are free */
    /* Same slot, new process: the session's state on the worker is gone; say so. */
    *session_reset = s->generation != slot->generation;
    s->generation = slot->generation;
    s->last_used_us = pit_mono_us();
    *out = slot;
    return PIT_PICK_SLOT;
}
