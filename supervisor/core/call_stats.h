/* Calls answered: counters by (pool, command, status) and a latency histogram by pool. Thread-safe.
 * The router counts (routing is above core); api/metrics.c renders a copy. */
#ifndef PIT_CALL_STATS_H
#define PIT_CALL_STATS_H

#include <grpc/status.h>
#include <stdint.h>

#include "histogram.h"
#include "request_limits.h"

/* distinct (pool, command, code); beyond it, commands count as "_other" (bounded cardinality) */
#define PIT_CALL_MAX_SERIES 512
#define PIT_CALL_MAX_HIST 64
extern const pit_histogram_bounds pit_call_buckets; /* seconds */

typedef struct {
    char pool[PIT_MAX_NAME_BYTES + 1]; /* whole: names are bounded at the door (request_limits.h) */
    char command[PIT_MAX_NAME_BYTES + 1];
    int code;
    uint64_t count;
} pit_call_series;

typedef struct {
    char pool[PIT_MAX_NAME_BYTES + 1];
    pit_histogram h;
} pit_call_hist;

typedef struct pit_call_stats pit_call_stats;

pit_call_stats *pit_call_stats_create(void);
void pit_call_stats_destroy(pit_call_stats *s);
/* pool may be "" (the call named an unknown pool). NULL s: nothing. */
void pit_call_stats_done(pit_call_stats *s, const char *pool, const char *command, grpc_status_code code, double seconds);
/* Copies taken under the lock (malloc'd; free both). */
void pit_call_stats_copy(pit_call_stats *s, pit_call_series **series, int *n_series, pit_call_hist **hist, int *n_hist);

#endif
