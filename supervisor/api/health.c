#include "api/health.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "buffers.h"
#include "health.pb-c.h"
#include "log.h"
#include "request_limits.h"

/* ---------------------------------------------------------------- status (under sup->mu) */

static int pool_serving(const pit_sup *sup, const pit_pool *p) {
    if (p->state == POOL_FAILED || p->removed || sup->shutting_down) return 0;
    for (int k = 0; k < p->n_slots; k++)
        if (p->slots[k].state == SLOT_READY) return 1;
    return 0;
}

int pit_health_status_locked(pit_sup *sup, const char *service) {
    int any = 0;
    if (!service[0] || strcmp(service, "pitboss.v1.Pool") == 0) {
        /* A probe of "" asks "can this instance take a call": not while every pool is FAILED or
         * restarting (a readiness probe then takes the instance out of its load balancer). */
        for (int i = 0; i < sup->n_pools; i++) any |= pool_serving(sup, &sup->pools[i]);
        return any;
    }
    if (strcmp(service, "pitboss.v1.Jobs") == 0) {
        if (!sup->jobs) return 0;
        for (int i = 0; i < sup->n_pools; i++)
            if (sup->pools[i].cfg->kind == PIT_KIND_NATIVE) any |= pool_serving(sup, &sup->pools[i]);
        return any;
    }
    for (int i = 0; i < sup->n_pools; i++)
        if (!sup->pools[i].removed && strcmp(sup->pools[i].cfg->name, service) == 0)
            return pool_serving(sup, &sup->pools[i]);
    return -1;
}

static grpc_byte_buffer *status_message(int status) {
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = status > 0    ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                  : status == 0 ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                                : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
    return pit_bb_from_pb(&resp.base);
}

static void on_check(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    pit_sup *sup = arg;
    Grpc__Health__V1__HealthCheckRequest *req =
        pit_call_unpack(call, &grpc__health__v1__health_check_request__descriptor, req_bb);
    if (!req) return;
    pthread_mutex_lock(&sup->mu);
    int status = pit_health_status_locked(sup, req->service);
    pthread_mutex_unlock(&sup->mu);
    if (status < 0)
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND,
                              "unknown service \"%s\": ask for \"\", \"pitboss.v1.Pool\", \"pitboss.v1.Jobs\" or a "
                              "pool's name", req->service);
    else
        pit_call_finish(call, GRPC_STATUS_OK, "", status_message(status), NULL, 0);
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

/* ---------------------------------------------------------------- Watch */

typedef struct watch watch;
struct watch {
    pit_call *call;
    char service[PIT_MAX_SERVICE_BYTES + 1];
    int sent;      /* the status last sent; 2: none yet */
    int sending;   /* a send is in flight */
    int finished;  /* pit_call_finish was called */
    int stopping;  /* finish once the send in flight is over: 1, or 2 with the final NOT_SERVING (shutdown) */
    int refs;      /* the list's and the on_close hook's */
    watch *next;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* the list and every watch's fields */
static watch *g_watches;
static int g_open;
static ev_timer g_timer;
static pit_sup *g_sup;

static void watch_unref_locked(watch *w) {
    if (--w->refs == 0) free(w);
}

/* Takes w off the list; 1 if it was on it (the caller then drops the list's reference). */
static int unlink_locked(watch *w) {
    for (watch **p = &g_watches; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            g_open--;
            return 1;
        }
    return 0;
}

/* Under g_mu: the call ends now (or when its send completes). */
/* Under g_mu. with_status: the watcher is owed a last NOT_SERVING before the end (shutdown). When a
 * send is in flight that is remembered, not dropped: a shutdown that met the send of an earlier
 * status used to end the watch without saying NOT_SERVING. */
static void finish_locked(watch *w, int with_status) {
    if (w->finished) return;
    if (w->sending) {
        if (w->stopping < (with_status ? 2 : 1)) w->stopping = with_status ? 2 : 1;
        return;
    }
    w->finished = 1;
    int final = with_status && w->sent != 0; /* not twice: the tick may have sent it already */
    pit_call_finish(w->call, GRPC_STATUS_UNAVAILABLE, "pitboss is stopping: watch the health of another instance",
                    final ? status_message(0) : NULL, NULL, 0);
}

static void on_sent(pit_call *call, int ok, void *arg) {
    (void)call;
    watch *w = arg;
    pthread_mutex_lock(&g_mu);
    w->sending = 0;
    if (!ok)
        finish_locked(w, 0);
    else if (w->stopping)
        finish_locked(w, w->stopping == 2);
    watch_unref_locked(w); /* the send's */
    pthread_mutex_unlock(&g_mu);
}

/* Under g_mu: non-zero when status must be sent (it changed, nothing in flight); the caller then
 * calls send_status without g_mu (a failed send reports on the calling thread, into on_sent). */
static int offer_locked(watch *w, int status) {
    if (w->finished || w->sending || w->stopping || w->sent == status) return 0;
    w->sent = status;
    w->sending = 1;
    w->refs++; /* the send's */
    return 1;
}

static void send_status(watch *w, int status) {
    if (pit_call_send(w->call, status_message(status), on_sent, w) == 0) return;
    pthread_mutex_lock(&g_mu);
    if (w->sending) { /* refused before it started: on_sent will not run */
        w->sending = 0;
        watch_unref_locked(w);
    }
    pthread_mutex_unlock(&g_mu);
}

/* The client left, or the call was finished: forget the watch. */
static void on_closed(void *arg, int cancelled) {
    (void)cancelled;
    watch *w = arg;
    pthread_mutex_lock(&g_mu);
    if (!w->finished && !w->sending) {
        w->finished = 1;
        pit_call_finish(w->call, GRPC_STATUS_CANCELLED, "the client left", NULL, NULL, 0);
    } else if (!w->finished) {
        w->stopping = 1; /* the send in flight finishes it when it completes, whatever its outcome */
    }
    w->refs -= unlink_locked(w) + 1; /* the list's, and the hook's */
    int gone = w->refs == 0;
    pthread_mutex_unlock(&g_mu);
    if (gone) free(w);
}

static void on_watch_tick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)t;
    (void)revents;
    pit_sup *sup = g_sup;
    pthread_mutex_lock(&g_mu);
    int n = g_open, k = 0;
    char(*services)[PIT_MAX_SERVICE_BYTES + 1] = n ? pit_malloc((size_t)n * sizeof *services) : NULL;
    for (watch *w = g_watches; w && k < n; w = w->next) memcpy(services[k++], w->service, sizeof services[0]);
    pthread_mutex_unlock(&g_mu);
    int *status = n ? pit_malloc((size_t)n * sizeof *status) : NULL;
    pthread_mutex_lock(&sup->mu);
    for (int i = 0; i < k; i++) status[i] = pit_health_status_locked(sup, services[i]);
    pthread_mutex_unlock(&sup->mu);
    watch **to_send = k ? pit_malloc((size_t)k * sizeof *to_send) : NULL;
    int *send_status_of = k ? pit_malloc((size_t)k * sizeof *send_status_of) : NULL;
    int m = 0;
    pthread_mutex_lock(&g_mu);
    for (watch *w = g_watches; w; w = w->next)
        for (int i = 0; i < k; i++)
            if (strcmp(services[i], w->service) == 0) {
                if (m < k && offer_locked(w, status[i])) {
                    to_send[m] = w; /* the send's reference keeps it */
                    send_status_of[m++] = status[i];
                }
                break;
            }
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < m; i++) send_status(to_send[i], send_status_of[i]);
    free(to_send);
    free(send_status_of);
    free(services);
    free(status);
}

static void on_watch(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    pit_sup *sup = arg;
    Grpc__Health__V1__HealthCheckRequest *req =
        pit_call_unpack(call, &grpc__health__v1__health_check_request__descriptor, req_bb);
    if (!req) return;
    watch *w = pit_calloc(1, sizeof *w);
    w->call = call;
    snprintf(w->service, sizeof w->service, "%s", req->service);
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    w->sent = 2;
    w->refs = 2; /* the list's and the hook's */
    pthread_mutex_lock(&sup->mu);
    int status = pit_health_status_locked(sup, w->service);
    int stopping = sup->shutting_down;
    pthread_mutex_unlock(&sup->mu);
    pthread_mutex_lock(&g_mu);
    w->next = g_watches;
    g_watches = w;
    g_open++;
    /* As the health protocol says: an unknown service gets SERVICE_UNKNOWN and the call stays open
     * (a pool of that name may appear with a reload). */
    int send = !stopping && offer_locked(w, status);
    if (stopping) finish_locked(w, 1);
    pthread_mutex_unlock(&g_mu);
    if (send) send_status(w, status);
    pit_call_on_close(call, on_closed, w);
}

void pit_health_register(pit_sup *sup) {
    g_sup = sup;
    pit_server_add_method(sup->server, "/grpc.health.v1.Health/Check", on_check, sup);
    pit_server_add_method(sup->server, "/grpc.health.v1.Health/Watch", on_watch, sup);
}

void pit_health_start(pit_sup *sup) {
    /* Cheap when no watch is open: the tick copies nothing and takes sup->mu for nothing. */
    double every = PIT_HEALTH_WATCH_MS / 1000.0;
    ev_timer_init(&g_timer, on_watch_tick, every, every);
    ev_timer_start(sup->ev, &g_timer);
}

void pit_health_shutdown(pit_sup *sup) {
    if (ev_is_active(&g_timer)) ev_timer_stop(sup->ev, &g_timer);
    pthread_mutex_lock(&g_mu);
    for (watch *w = g_watches; w; w = w->next) finish_locked(w, 1);
    pthread_mutex_unlock(&g_mu);
}

int pit_health_watches_open(void) {
    pthread_mutex_lock(&g_mu);
    int n = g_open;
    pthread_mutex_unlock(&g_mu);
    return n;
}
