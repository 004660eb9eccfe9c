/*
 * Calls whose client is gone (cancel, deadline) while their handler still runs in the worker — a
 * Python handler that ignores ctx.cancelled, say. Such a call still counts as in flight for its
 * slot (so admission does not send the worker more than max_concurrency calls, and status and
 * metrics tell the truth), shown as "abandoned". The worker's own count of running calls says when
 * the handlers really ended; one still running timeouts.abandon_grace_ms after its call ended gets
 * its worker killed and replaced (uWSGI's harakiri), logged and counted in
 * pitboss_workers_killed_total{reason="overran"}.
 *
 * Threads: pit_abandon_add runs on a queue thread, the tick on the monitor's (libev) thread, probe
 * answers on a queue thread; all under sup->mu.
 */
#ifndef PIT_ABANDON_H
#define PIT_ABANDON_H

#include "core/supervisor.h"

/* How often slots with abandoned calls ask their worker how many calls it still runs. */
#define PIT_ABANDON_PROBE_MS 100

/* Under sup->mu: a call on slot ended for its client but may still run; it keeps its place in
 * slot->in_flight until the worker says it ended. Sends a probe at once. */
void pit_abandon_add_locked(pit_sup *sup, pit_slot *slot, const char *command);
/* Under sup->mu: the worker runs `running` calls (a probe's answer, or an ENDED line on its ready
 * pipe): abandoned calls beyond that are over. Returns how many ended. */
uint32_t pit_abandon_settle_locked(pit_slot *slot, uint32_t running);
/* Under sup->mu: the worker process is gone; its abandoned calls with it. */
void pit_abandon_reset_locked(pit_slot *slot);
/* On the libev thread: starts the tick (probes, and kills of workers past the grace). */
void pit_abandon_start(pit_sup *sup);

#endif
