/* Calls answered, counted by pool, command and status, and their latency by pool (api/metrics.c
 * renders them). Below routing: the router counts each call it ends. */
#include "core/call_stats.h"
#include "alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double call_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const pit_histogram_bounds pit_call_buckets = {call_le, sizeof call_le / sizeof call_le[0]};


struct pit_call_stats {
    pthread_mutex_t mu;
    pit_call_series series[PIT_CALL_MAX_SERIES];
    int n_series;
    pit_call_hist hist[PIT_CALL_MAX_HIST];
    int n_hist;
};

pit_call_stats *pit_call_stats_create(void) {
    pit_call_stats *m = pit_calloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void pit_call_stats_destroy(pit_call_stats *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void pit_call_stats_done(pit_call_stats *m, const char *pool, const char *command, grpc_status_code code, double seconds) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    pit_call_series *s = NULL;
    for (int i = 0; i < m->n_series && !s; i++)
        if (m->series[i].code == (int)code && strcmp(m->series[i].pool, pool) == 0 &&
            strncmp(m->series[i].command, command, sizeof m->series[i].command - 1) == 0)
            s = &m->series[i];
    if (!s) {
        if (m->n_series < PIT_CALL_MAX_SERIES - 32) {
            s = &m->series[m->n_series++];
            snprintf(s->pool, sizeof s->pool, "%s", pool);
            snprintf(s->command, sizeof s->command, "%s", command);
            s->code = (int)code;
        } else { /* too many distinct commands: keep the cardinality bounded */
            for (int i = 0; i < m->n_series && !s; i++)
                if (m->series[i].code == (int)code && strcmp(m->series[i].pool, pool) == 0 &&
                    strcmp(m->series[i].command, "_other") == 0)
                    s = &m->series[i];
            if (!s && m->n_series < PIT_CALL_MAX_SERIES) {
                s = &m->series[m->n_series++];
                snprintf(s->pool, sizeof s->pool, "%s", pool);
                snprintf(s->command, sizeof s->command, "_other");
                s->code = (int)code;
            }
        }
    }
    if (s) s->count++;
    pit_call_hist *h = NULL;
    for (int i = 0; i < m->n_hist && !h; i++)
        if (strcmp(m->hist[i].pool, pool) == 0) h = &m->hist[i];
    if (!h && m->n_hist < PIT_CALL_MAX_HIST) {
        h = &m->hist[m->n_hist++];
        snprintf(h->pool, sizeof h->pool, "%s", pool);
    }
    if (h) {
        pit_histogram_observe(&h->h, &pit_call_buckets, seconds);
    }
    pthread_mutex_unlock(&m->mu);
}

void pit_call_stats_copy(pit_call_stats *m, pit_call_series **series, int *n_series, pit_call_hist **hist, int *n_hist) {
    pthread_mutex_lock(&m->mu);
    *n_series = m->n_series;
    *n_hist = m->n_hist;
    *series = malloc(sizeof(pit_call_series) * (size_t)(m->n_series ? m->n_series : 1));
    *hist = malloc(sizeof(pit_call_hist) * (size_t)(m->n_hist ? m->n_hist : 1));
    memcpy(*series, m->series, sizeof(pit_call_series) * (size_t)m->n_series);
    memcpy(*hist, m->hist, sizeof(pit_call_hist) * (size_t)m->n_hist);
    pthread_mutex_unlock(&m->mu);
}
