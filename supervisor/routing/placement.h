/*
 * Which slot of a pool takes a call: the least-loaded ready slot with room (ties: fewer sessions
 * when placing a new session, else round-robin); a session's calls go to its slot, waiting for it
 * even while others are free (affinity). Under sup->mu; no process or call is touched, so the
 * unit tests drive it with tables alone (tests/unit/test_supervisor_policy.c).
 */
#ifndef PIT_PLACEMENT_H
#define PIT_PLACEMENT_H

#include "core/policy.h"
#include "core/supervisor.h"

/* session_id NULL: no session. PIT_PICK_SLOT sets *out (the caller reserves it); *session_reset says
 * that the session's worker is a new process or another slot, so its state there is gone. A new
 * session is added to the pool's table (PIT_PICK_NO_SESSIONS when the table is full). */
pit_pick pit_place(pit_pool *pool, const char *session_id, pit_slot **out, int *session_reset);

#endif
