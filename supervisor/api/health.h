/*
 * grpc.health.v1.Health for the supervisor: Check, and Watch (a stream that sends the status at once
 * and again on every change). Services: "" and "pitboss.v1.Pool" (SERVING while some pool can take
 * a call), "pitboss.v1.Jobs" (SERVING while the job service runs and some native pool can), and each
 * pool by name.
 *
 * Threads: Check and Watch arrive on queue threads; a libev timer (the monitor's thread) looks for
 * changes every PIT_HEALTH_WATCH_MS while watches are open and sends them. Status is computed under
 * sup->mu; watch calls are kept under the module's own lock, never held across sup->mu.
 */
#ifndef PIT_HEALTH_H
#define PIT_HEALTH_H

#include "core/supervisor.h"

#define PIT_HEALTH_WATCH_MS 100

/* Under sup->mu: 1 serving, 0 not serving, -1 unknown service. */
int pit_health_status_locked(pit_sup *sup, const char *service);

void pit_health_register(pit_sup *sup);
/* On the libev thread, once the loop exists. */
void pit_health_start(pit_sup *sup);
/* Shutdown: every watch gets NOT_SERVING and ends (UNAVAILABLE). */
void pit_health_shutdown(pit_sup *sup);
/* Open Watch calls. */
int pit_health_watches_open(void);

#endif
