/* Facts about a process read from /proc. */
#ifndef PIT_PROC_H
#define PIT_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Resident memory of pid (0: this process) in KiB, from /proc/PID/statm; 0 if it cannot be read. */
int64_t pit_proc_rss_kb(pid_t pid);

#endif
