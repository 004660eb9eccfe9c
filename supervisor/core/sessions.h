/* A pool's sessions: session id -> the slot that serves it (affinity). Not thread-safe: the
 * supervisor holds sup->mu around every call. */
#ifndef PIT_SESSIONS_H
#define PIT_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int slot;            /* index within the pool, -1 until placed; set it with pit_sessions_move */
    uint32_t generation; /* of the slot's worker when the session last ran there */
    int64_t last_used_us;
} pit_session;

typedef struct pit_sessions pit_sessions;

pit_sessions *pit_sessions_create(size_t max_sessions);
void pit_sessions_destroy(pit_sessions *s);
pit_session *pit_sessions_get(pit_sessions *s, const char *id);
/* Adds id (which must not be there); NULL when max_sessions are open. */
pit_session *pit_sessions_add(pit_sessions *s, const char *id);
int pit_sessions_remove(pit_sessions *s, const char *id);
/* Puts session (of s) on slot: the per-slot counts follow. */
void pit_sessions_move(pit_sessions *s, pit_session *session, int slot);
size_t pit_sessions_count(const pit_sessions *s);
size_t pit_sessions_count_slot(const pit_sessions *s, int slot); /* O(1) */
/* Removes sessions idle since before idle_before_us; calls gone(id, session, arg) for each first. */
size_t pit_sessions_expire(pit_sessions *s, int64_t idle_before_us,
                           void (*gone)(const char *id, const pit_session *session, void *arg), void *arg);

#endif
