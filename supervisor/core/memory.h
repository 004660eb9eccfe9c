/*
 * The native pools' state-vector memory budgets (the shared segment is common/mem_budget.h).
 *
 * The limit is the smallest of: the cgroup's memory limit (v2 memory.max, or v1
 * memory.limit_in_bytes, up the supervisor's cgroup path), and the host's MemTotal. A native pool
 * with no memory_budget_mb gets PIT_MEMORY_SHARE_PCT percent of it, split evenly among such pools.
 *
 * Threads: pit_memory_start before workers start; pit_memory_apply on the libev thread (start,
 * reload) under sup->mu; pit_memory_slot_gone under sup->mu when a worker is reaped.
 */
#ifndef PIT_MEMORY_H
#define PIT_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/supervisor.h"

/* What the processes themselves, parsing and the Python pools keep: a quarter of the limit. */
#define PIT_MEMORY_SHARE_PCT 75

/* The memory this process may use in bytes, and where that figure comes from ("cgroup
 * /sys/fs/cgroup/.../memory.max", "MemTotal"); 0 if nothing says. */
uint64_t pit_memory_limit(char *source, size_t len);

/* Creates the shared segment (sup->mem, sup->mem_fd). On failure logs why and leaves budgets off. */
void pit_memory_start(pit_sup *sup);
/* Sets each pool's budget from the current config and logs each one. */
void pit_memory_apply(pit_sup *sup);
/* A slot's process is gone: what it held is given back (a killed worker cannot). */
void pit_memory_slot_gone(pit_sup *sup, pit_slot *slot);
void pit_memory_stop(pit_sup *sup);

#endif
