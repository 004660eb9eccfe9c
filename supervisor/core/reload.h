/*
 * SIGHUP: the config file read again and applied to the running supervisor. A file that does not
 * load or check is logged (file, key, problem) and changes nothing. A good one is applied: pools
 * added (started), removed (drained, then gone), resized, a FAILED pool started again, every other
 * setting taken over; the settings that cannot change while running (the listen addresses, the
 * state_dir and job store, the worker port range, ...) are named in the log and kept. The monitor
 * then replaces every worker one slot at a time, which is how changed pool settings take effect.
 *
 * Thread: the libev thread. The replaced config is kept (not freed) until exit: other threads may
 * still read its strings.
 */
#ifndef PIT_RELOAD_H
#define PIT_RELOAD_H

#include "core/supervisor.h"

struct pit_retired_config {
    pit_sup_config cfg;
    struct pit_retired_config *next;
};

/* 0: applied (the summary is in sup->last_reload); -1: refused, nothing changed. */
int pit_reload(pit_sup *sup);
void pit_reload_free_retired(pit_sup *sup);

#endif
