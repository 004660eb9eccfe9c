/*
 * Starting a worker process and reading its output: mechanism only (spawn.c). When to start,
 * restart, back off or stop is monitor.c's. libev thread, sup->mu held.
 */
#ifndef PIT_SPAWN_H
#define PIT_SPAWN_H

#include "core/supervisor.h"

/* A free port of workers.port_range after `after` (wrapping), not held by another slot; 0: none. */
int pit_spawn_find_port(pit_sup *sup, pit_slot *slot, int after);
/* fork+exec of the slot's worker (its exec plan: argv, environment, the inherited ready pipe and
 * memory budget). 0: slot->pid, ready_fd and stderr_fd are set and its output is being read.
 * -1: nothing started (no descriptors, no processes); logged, and slot->last_exit says why. */
int pit_spawn_worker(pit_sup *sup, pit_slot *slot);
/* Reads what the worker wrote to stderr, forwards each line to the log, keeps the last ones. */
void pit_spawn_drain_stderr(pit_slot *slot);
/* The worker's last stderr lines, " | "-joined, for failure reports. */
void pit_spawn_tail_text(pit_slot *slot, char *out, size_t len);
/* "exited with code N", "killed by signal N (Name)". */
void pit_spawn_describe_exit(int status, char *out, size_t len);

#endif
