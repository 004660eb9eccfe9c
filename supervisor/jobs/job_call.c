#include "jobs/job_call.h"

#include <stdlib.h>

static pthread_mutex_t g_open_mu = PTHREAD_MUTEX_INITIALIZER;
static pit_job_call *g_open;

static void stop(pit_job_call *c, grpc_status_code code, const char *why);

/* The call is over on the wire. A client that left ends the call now, not at the job's next change:
 * a watcher of a job that waits in the queue for hours would otherwise stay that long. */
static void on_closed(void *arg, int cancelled) {
    pit_job_call *c = arg;
    if (cancelled) {
        pthread_mutex_lock(&c->mu);
        int now = !c->finished && !c->sending;
        if (now)
            c->finished = 1;
        else if (!c->finished)
            c->stop_requested = 1; /* the send in flight fails, and its completion ends the call */
        pthread_mutex_unlock(&c->mu);
        if (now) stop(c, GRPC_STATUS_CANCELLED, "the client left");
    }
    pit_job_call_unref(&c->l); /* the close hook's */
}

void pit_job_call_init(pit_job_call *c, pit_call *call, void (*on_update)(pit_job_listener *, const pit_job_update *),
                       void (*flush)(pit_job_listener *), const char *stop_message) {
    c->l = (pit_job_listener){on_update, flush, pit_job_call_ref, pit_job_call_unref};
    c->call = call;
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    c->stop_message = stop_message;
    pthread_mutex_lock(&g_open_mu);
    c->next = g_open;
    if (g_open) g_open->prev = c;
    g_open = c;
    pthread_mutex_unlock(&g_open_mu);
}

void pit_job_call_watch_client(pit_job_call *c) {
    pit_job_call_ref(&c->l); /* the close hook's */
    pit_call_on_close(c->call, on_closed, c);
}

void pit_job_call_ref(pit_job_listener *l) { atomic_fetch_add(&((pit_job_call *)l)->refs, 1); }

void pit_job_call_unref(pit_job_listener *l) {
    pit_job_call *c = (pit_job_call *)l;
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    pthread_mutex_lock(&g_open_mu);
    if (c->prev) c->prev->next = c->next; else g_open = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&g_open_mu);
    if (c->on_free) c->on_free(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void pit_job_call_finish(pit_job_call *c, grpc_status_code code, const char *details, grpc_byte_buffer *last) {
    pit_call_finish(c->call, code, details, last, NULL, 0);
    pit_job_call_unref(&c->l); /* the call's */
}

static void stop(pit_job_call *c, grpc_status_code code, const char *why) {
    pit_job_call_finish(c, code, why, NULL);
    if (c->on_stopped) c->on_stopped(c);
}

static void on_sent(pit_call *call, int ok, void *arg) {
    (void)call;
    pit_job_call *c = arg;
    pthread_mutex_lock(&c->mu);
    c->sending = 0;
    int end = (!ok || c->stop_requested) && !c->finished;
    if (end) c->finished = 1;
    pthread_mutex_unlock(&c->mu);
    if (end)
        stop(c, ok ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_CANCELLED, ok ? c->stop_message : "the client left");
    else
        c->l.flush(&c->l);
    pit_job_call_unref(&c->l); /* the send's */
}

void pit_job_call_send(pit_job_call *c, grpc_byte_buffer *msg) {
    pit_job_call_ref(&c->l);
    pit_call_send(c->call, msg, on_sent, c);
}

int pit_job_calls_open(void) {
    int n = 0;
    pthread_mutex_lock(&g_open_mu);
    for (pit_job_call *o = g_open; o; o = o->next) n++;
    pthread_mutex_unlock(&g_open_mu);
    return n;
}

void pit_job_calls_stop_all(void) {
    for (;;) {
        pit_job_call *c = NULL;
        pthread_mutex_lock(&g_open_mu);
        for (pit_job_call *o = g_open; o; o = o->next) {
            pthread_mutex_lock(&o->mu);
            int open = !o->finished && !o->stop_requested;
            if (open) {
                o->stop_requested = 1;           /* one with a send in flight ends when it completes */
                if (!o->sending) o->finished = 1;
            }
            int now = open && o->finished;
            pthread_mutex_unlock(&o->mu);
            if (now) {
                c = o;
                pit_job_call_ref(&c->l);
                break;
            }
        }
        pthread_mutex_unlock(&g_open_mu);
        if (!c) return;
        stop(c, GRPC_STATUS_UNAVAILABLE, c->stop_message);
        pit_job_call_unref(&c->l);
    }
}
