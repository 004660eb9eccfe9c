/* Prometheus metrics: the call counters (core/call_stats.h), gauges read from the slot table, sources
 * registered by other parts (pit_sup_add_metrics_source),
 * served as text at GET /metrics on their own loopback listener (libev thread). */
#ifndef PIT_METRICS_H
#define PIT_METRICS_H

#include <ev.h>
#include <grpc/status.h>

typedef struct pit_metrics pit_metrics;
struct pit_sup;

pit_metrics *pit_metrics_create(void);
void pit_metrics_destroy(pit_metrics *m);
/* The exposition text (malloc'd). Takes sup->mu for the gauges. */
char *pit_metrics_render(pit_metrics *m, struct pit_sup *sup);
/* Serves GET /metrics on addr ("127.0.0.1:9464") from the libev loop. Returns the port, or -1. */
int pit_metrics_listen(pit_metrics *m, struct ev_loop *loop, const char *addr, struct pit_sup *sup);

#endif
