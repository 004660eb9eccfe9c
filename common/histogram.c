/* The one latency histogram (histogram.h). */
#include "histogram.h"

#include <stdio.h>

void pit_histogram_observe(pit_histogram *h, const pit_histogram_bounds *b, double value) {
    for (int i = 0; i < b->n && i < PIT_HIST_MAX_BUCKETS; i++)
        if (value <= b->le[i]) h->buckets[i]++;
    h->count++;
    h->sum += value;
}

void pit_histogram_render(const pit_histogram *h, const pit_histogram_bounds *b, const char *name, const char *labels,
                          void (*put)(void *out, const char *line), void *out) {
    char line[1024];
    for (int i = 0; i < b->n && i < PIT_HIST_MAX_BUCKETS; i++) {
        snprintf(line, sizeof line, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, b->le[i],
                 (unsigned long long)h->buckets[i]);
        put(out, line);
    }
    snprintf(line, sizeof line, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
             (unsigned long long)h->count, name, labels, h->sum, name, labels, (unsigned long long)h->count);
    put(out, line);
}
