/*
 * The one latency histogram: cumulative buckets with fixed upper bounds, a count and a sum, and its
 * Prometheus text. Not locked: its owner's lock guards it (call_stats.c, job_manager.c).
 */
#ifndef PIT_HISTOGRAM_H
#define PIT_HISTOGRAM_H

#include <stdint.h>

#define PIT_HIST_MAX_BUCKETS 16

typedef struct {
    const double *le; /* upper bounds, increasing */
    int n;            /* at most PIT_HIST_MAX_BUCKETS */
} pit_histogram_bounds;

typedef struct {
    uint64_t buckets[PIT_HIST_MAX_BUCKETS]; /* cumulative: buckets[b] counts values <= le[b] */
    uint64_t count;
    double sum;
} pit_histogram;

void pit_histogram_observe(pit_histogram *h, const pit_histogram_bounds *b, double value);
/* Its lines: NAME_bucket{LABELS,le="..."} for each bound and +Inf, NAME_sum{LABELS}, NAME_count{LABELS}.
 * labels is label text already escaped (pool="default"). */
void pit_histogram_render(const pit_histogram *h, const pit_histogram_bounds *b, const char *name, const char *labels,
                          void (*put)(void *out, const char *line), void *out);

#endif
