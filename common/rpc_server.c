#include "protocol.h"
#include "alloc.h"
#include "rpc_server.h"

#include <errno.h>

#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffers.h"
#include "clock.h"
#include "cq_loop.h"
#include "log.h"

#define PIT_MAX_METHODS 32

typedef struct {
    char *name;
    void *handle; /* from grpc_server_register_method */
    pit_method_fn fn;
    void *arg;
    int streaming; /* the client streams: no initial payload is read */
} method_entry;

/* One posted request for an incoming call. method == NULL: the generic request that catches
 * methods nobody registered (answered UNIMPLEMENTED). */
typedef struct {
    pit_tag tag;
    pit_server *server;
    method_entry *method;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_call_details details;
} accept_slot;

struct pit_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    method_entry methods[PIT_MAX_METHODS];
    int n_methods;
    char *token;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    int accepts_posted;    /* accept slots outstanding */
    int calls_active;      /* pit_calls not yet released */
    int shutdown_notified; /* the server's shutdown tag fired */
    int shutting_down;
    pit_tag shutdown_tag;
    void (*grace_over)(void *arg); /* pit_server_set_grace_hook */
    void *grace_arg;
    char *drain_message; /* pit_server_set_drain_message; NULL: no drain phase */
    int draining;        /* new calls get drain_message */
    int calls_late;      /* of calls_active: those refused while draining */
};

struct pit_call {
    pit_server *server;
    grpc_call *call;
    char method[128];
    gpr_timespec deadline;
    grpc_metadata_array md;
    atomic_int refs;
    atomic_int cancelled;

    pthread_mutex_t mu; /* guards the fields below */
    void (*on_cancel)(void *);
    void *cancel_arg;
    void (*on_close)(void *, int);
    void *close_arg;
    int closed; /* RECV_CLOSE_ON_SERVER completed */
    int initial_md_sent;
    int send_in_flight;
    int finished;

    pit_tag close_tag;
    int close_cancelled; /* output of RECV_CLOSE_ON_SERVER */
    void *user;
    int late; /* accepted while draining: refused, not waited for */
};

/* A send or finish batch and everything it must keep alive until completion. */
typedef struct {
    pit_tag tag;
    pit_call *call;
    grpc_byte_buffer *msg;
    grpc_slice details;
    grpc_metadata *trailing;
    size_t n_trailing;
    pit_send_done_fn done;
    void *arg;
    int is_finish;
} send_batch;

static void accept_post(pit_server *s, accept_slot *a);

/* ---------------------------------------------------------------- call lifetime */

static void call_release(pit_call *c) {
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    pit_server *s = c->server;
    int late = c->late;
    grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md);
    pthread_mutex_destroy(&c->mu);
    free(c);
    pthread_mutex_lock(&s->mu);
    s->calls_active--;
    s->calls_late -= late;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static void on_close(pit_tag *tag, int ok) {
    (void)ok;
    pit_call *c = (pit_call *)((char *)tag - offsetof(pit_call, close_tag));
    pthread_mutex_lock(&c->mu);
    int cancelled = c->close_cancelled;
    if (cancelled) {
        atomic_store(&c->cancelled, 1);
        /* Run under the lock, so that whoever clears the hook (pit_call_on_cancel(c, NULL, NULL))
         * knows that afterwards it will not run: the hook's argument may then be freed. */
        if (c->on_cancel) c->on_cancel(c->cancel_arg);
        c->on_cancel = NULL;
    }
    c->closed = 1;
    void (*close_fn)(void *, int) = c->on_close;
    c->on_close = NULL;
    pthread_mutex_unlock(&c->mu);
    if (close_fn) close_fn(c->close_arg, cancelled);
    call_release(c);
}

static pit_call *call_create(pit_server *s, accept_slot *a, const char *method_name) {
    pit_call *c = pit_calloc(1, sizeof *c);
    c->server = s;
    c->call = a->call;
    c->deadline = a->deadline;
    c->md = a->md; /* moved */
    snprintf(c->method, sizeof c->method, "%s", method_name);
    atomic_init(&c->refs, 2); /* the handler's, and the close op's */
    atomic_init(&c->cancelled, 0);
    pthread_mutex_init(&c->mu, NULL);
    c->close_tag.fn = on_close;
    pthread_mutex_lock(&s->mu);
    s->calls_active++;
    pthread_mutex_unlock(&s->mu);

    /* Every server call needs exactly one RECV_CLOSE_ON_SERVER: it is also how we learn of a
     * client cancel or an expired deadline. Post it before anything else. */
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) != GRPC_CALL_OK) {
        atomic_store(&c->cancelled, 1);
        call_release(c);
    }
    return c;
}

/* ---------------------------------------------------------------- accepting */

static int token_ok(pit_server *s, const grpc_metadata_array *md) {
    if (!s->token) return 1;
    size_t want = strlen(s->token);
    for (size_t i = 0; i < md->count; i++) {
        if (grpc_slice_str_cmp(md->metadata[i].key, PIT_MD_TOKEN) != 0) continue;
        grpc_slice v = md->metadata[i].value;
        if (GRPC_SLICE_LENGTH(v) != want) return 0;
        /* Constant time: the comparison must not tell how much of a guess was right. */
        unsigned diff = 0;
        const uint8_t *p = GRPC_SLICE_START_PTR(v);
        for (size_t k = 0; k < want; k++) diff |= (unsigned)(p[k] ^ (uint8_t)s->token[k]);
        return diff == 0;
    }
    return 0;
}

static void on_accept(pit_tag *tag, int ok) {
    accept_slot *a = (accept_slot *)tag;
    pit_server *s = a->server;
    if (!ok) {
        /* The server is shutting down: this request will never carry a call. */
        if (a->method == NULL) grpc_call_details_destroy(&a->details);
        grpc_metadata_array_destroy(&a->md);
        free(a);
        pthread_mutex_lock(&s->mu);
        s->accepts_posted--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mu);
        return;
    }

    char name[128];
    if (a->method) {
        snprintf(name, sizeof name, "%s", a->method->name);
    } else {
        size_t n = GRPC_SLICE_LENGTH(a->details.method);
        if (n >= sizeof name) n = sizeof name - 1;
        memcpy(name, GRPC_SLICE_START_PTR(a->details.method), n);
        name[n] = 0;
        a->deadline = a->details.deadline;
    }
    pit_call *c = call_create(s, a, name);
    grpc_byte_buffer *payload = a->payload;
    method_entry *m = a->method;

    /* Re-arm this slot for the next call before handling this one. */
    grpc_metadata_array_init(&a->md);
    a->call = NULL;
    a->payload = NULL;
    if (a->method == NULL) {
        grpc_call_details_destroy(&a->details);
        grpc_call_details_init(&a->details);
    }
    accept_post(s, a);

    if (!token_ok(s, &c->md)) {
        if (payload) grpc_byte_buffer_destroy(payload);
        pit_call_finish_error(c, GRPC_STATUS_PERMISSION_DENIED,
                              "calls to a pitboss worker must come from its supervisor "
                              "(missing or wrong %s metadata)", PIT_MD_TOKEN);
        return;
    }
    pthread_mutex_lock(&s->mu);
    int draining = s->draining;
    if (draining) {
        c->late = 1;
        s->calls_late++;
    }
    pthread_mutex_unlock(&s->mu);
    if (draining) {
        if (payload) grpc_byte_buffer_destroy(payload);
        pit_call_finish_error(c, GRPC_STATUS_UNAVAILABLE, "%s", s->drain_message);
        return;
    }
    if (!m) {
        if (payload) grpc_byte_buffer_destroy(payload);
        pit_call_finish_error(c, GRPC_STATUS_UNIMPLEMENTED, "method %s is not served here", name);
        return;
    }
    m->fn(c, payload, m->arg);
}

static void accept_post(pit_server *s, accept_slot *a) {
    grpc_call_error err;
    if (a->method) {
        err = grpc_server_request_registered_call(s->server, a->method->handle, &a->call, &a->deadline, &a->md,
                                                  a->method->streaming ? NULL : &a->payload, s->cq, s->cq, &a->tag);
    } else {
        err = grpc_server_request_call(s->server, &a->call, &a->details, &a->md, s->cq, s->cq, &a->tag);
    }
    if (err != GRPC_CALL_OK) {
        /* Only happens while shutting down; the slot is done. */
        if (a->method == NULL) grpc_call_details_destroy(&a->details);
        grpc_metadata_array_destroy(&a->md);
        free(a);
        pthread_mutex_lock(&s->mu);
        s->accepts_posted--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mu);
    }
}

static void accept_new(pit_server *s, method_entry *m) {
    accept_slot *a = pit_calloc(1, sizeof *a);
    a->tag.fn = on_accept;
    a->server = s;
    a->method = m;
    grpc_metadata_array_init(&a->md);
    if (!m) grpc_call_details_init(&a->details);
    pthread_mutex_lock(&s->mu);
    s->accepts_posted++;
    pthread_mutex_unlock(&s->mu);
    accept_post(s, a);
}

/* ---------------------------------------------------------------- server */

static void on_shutdown_notified(pit_tag *tag, int ok) {
    (void)ok;
    pit_server *s = (pit_server *)((char *)tag - offsetof(pit_server, shutdown_tag));
    pthread_mutex_lock(&s->mu);
    s->shutdown_notified = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

pit_server *pit_server_create(grpc_completion_queue *cq, size_t max_receive_bytes) {
    pit_server *s = pit_calloc(1, sizeof *s);
    s->cq = cq;
    grpc_arg args[2];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max_receive_bytes;
    /* gRPC sets SO_REUSEPORT by default, which lets two servers bind one port: a busy port must
     * fail to bind so that it can be detected and skipped. */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    grpc_channel_args ch_args = {2, args};
    s->server = grpc_server_create(&ch_args, NULL);
    grpc_server_register_completion_queue(s->server, cq, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->shutdown_tag.fn = on_shutdown_notified;
    return s;
}

void pit_server_require_token(pit_server *s, const char *token) {
    free(s->token);
    s->token = token && *token ? pit_strdup(token) : NULL;
}

static void add_method(pit_server *s, const char *method, pit_method_fn fn, void *arg, grpc_server_register_method_payload_handling payload) {
    if (s->n_methods == PIT_MAX_METHODS) {
        pit_error("too many methods registered (max %d)", PIT_MAX_METHODS);
        abort();
    }
    method_entry *m = &s->methods[s->n_methods++];
    m->name = pit_strdup(method);
    m->fn = fn;
    m->arg = arg;
    m->streaming = payload == GRPC_SRM_PAYLOAD_NONE;
    m->handle = grpc_server_register_method(s->server, method, NULL, payload, 0);
}

void pit_server_add_method(pit_server *s, const char *method, pit_method_fn fn, void *arg) {
    add_method(s, method, fn, arg, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER);
}

void pit_server_add_streaming_method(pit_server *s, const char *method, pit_method_fn fn, void *arg) {
    add_method(s, method, fn, arg, GRPC_SRM_PAYLOAD_NONE);
}

int pit_server_listen(pit_server *s, const char *addr) {
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    return port;
}

void pit_server_start(pit_server *s, int accept_depth) {
    grpc_server_start(s->server);
    for (int i = 0; i < s->n_methods; i++)
        for (int k = 0; k < accept_depth; k++) accept_new(s, &s->methods[i]);
    for (int k = 0; k < 2; k++) accept_new(s, NULL);
}

int pit_server_calls_active(pit_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->calls_active;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void pit_server_shutdown(pit_server *s, int64_t grace_ms) {
    pthread_mutex_lock(&s->mu);
    if (s->shutting_down) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->shutting_down = 1;
    pthread_mutex_unlock(&s->mu);

    /* Not pit_deadline_in_ms: 0 ms means "cancel now" here (SIGQUIT, graceful_ms 0), not "no deadline". */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += grace_ms / 1000;
    ts.tv_nsec += (grace_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (s->drain_message) {
        /* The drain: the listener stays open while running calls finish, so that a new call gets
         * an answer that says why ("Connection refused" says nothing), and a client with an open
         * connection learns the same. Closed once no call runs or the grace period is over. */
        pthread_mutex_lock(&s->mu);
        s->draining = 1;
        while (s->calls_active - s->calls_late > 0 && pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&s->mu);
    }
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    int cancelled = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_notified || s->calls_active > 0 || s->accepts_posted > 0) {
        if (!cancelled) {
            /* Past the grace period, whatever has been notified: the core may report the shutdown
             * done while calls of ours are still open (grace 0, SIGQUIT, showed it). */
            if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT) {
                cancelled = 1;
                pthread_mutex_unlock(&s->mu);
                pit_warn("grace period of %lld ms over with %d call(s) running: cancelling them",
                         (long long)grace_ms, s->calls_active);
                if (s->grace_over) {
                    /* The owner ends its calls with a status that says why, then they get a moment. */
                    s->grace_over(s->grace_arg);
                    pthread_mutex_lock(&s->mu);
                    clock_gettime(CLOCK_REALTIME, &ts);
                    ts.tv_nsec += 500 * 1000000L;
                    if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                    }
                    while (s->calls_active > 0 && pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT)
                        ;
                    pthread_mutex_unlock(&s->mu);
                }
                grpc_server_cancel_all_calls(s->server);
                pthread_mutex_lock(&s->mu);
            }
        } else {
            pthread_cond_wait(&s->cond, &s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void pit_server_destroy(pit_server *s) {
    grpc_server_destroy(s->server);
    for (int i = 0; i < s->n_methods; i++) free(s->methods[i].name);
    free(s->token);
    free(s->drain_message);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
}

/* ---------------------------------------------------------------- one call */

const char *pit_call_method(const pit_call *c) { return c->method; }
gpr_timespec pit_call_deadline(const pit_call *c) { return c->deadline; }
int pit_call_cancelled(const pit_call *c) { return atomic_load(&((pit_call *)c)->cancelled); }
void pit_call_set_user(pit_call *c, void *user) { c->user = user; }
void *pit_call_get_user(const pit_call *c) { return c->user; }

const char *pit_call_metadata(const pit_call *c, const char *key, size_t *len) {
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, key) == 0) {
            if (len) *len = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
            return (const char *)GRPC_SLICE_START_PTR(c->md.metadata[i].value);
        }
    }
    return NULL;
}

void pit_call_on_cancel(pit_call *c, void (*fn)(void *), void *arg) {
    pthread_mutex_lock(&c->mu);
    int now = atomic_load(&c->cancelled);
    if (!now) {
        c->on_cancel = fn;
        c->cancel_arg = arg;
    }
    pthread_mutex_unlock(&c->mu);
    if (now && fn) fn(arg);
}

void pit_call_on_close(pit_call *c, void (*fn)(void *arg, int cancelled), void *arg) {
    pthread_mutex_lock(&c->mu);
    int closed = c->closed;
    int cancelled = c->close_cancelled;
    if (!closed) {
        c->on_close = fn;
        c->close_arg = arg;
    }
    pthread_mutex_unlock(&c->mu);
    if (closed) fn(arg, cancelled);
}

void pit_call_cancel(pit_call *c) { grpc_call_cancel(c->call, NULL); }

static void on_send_done(pit_tag *tag, int ok) {
    send_batch *b = (send_batch *)tag;
    pit_call *c = b->call;
    if (b->msg) grpc_byte_buffer_destroy(b->msg);
    if (b->is_finish) {
        grpc_slice_unref(b->details);
        for (size_t i = 0; i < b->n_trailing; i++) {
            grpc_slice_unref(b->trailing[i].key);
            grpc_slice_unref(b->trailing[i].value);
        }
        free(b->trailing);
    } else {
        pthread_mutex_lock(&c->mu);
        c->send_in_flight = 0;
        pthread_mutex_unlock(&c->mu);
        if (b->done) b->done(c, ok, b->arg);
    }
    free(b);
    call_release(c);
}

int pit_call_send(pit_call *c, grpc_byte_buffer *msg, pit_send_done_fn done, void *arg) {
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    if (c->send_in_flight || c->finished) {
        pthread_mutex_unlock(&c->mu);
        grpc_byte_buffer_destroy(msg);
        return -1;
    }
    c->send_in_flight = 1;
    if (!c->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_md_sent = 1;
    }
    pthread_mutex_unlock(&c->mu);

    send_batch *b = pit_calloc(1, sizeof *b);
    b->tag.fn = on_send_done;
    b->call = c;
    b->msg = msg;
    b->done = done;
    b->arg = arg;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = msg;
    atomic_fetch_add(&c->refs, 1);
    if (grpc_call_start_batch(c->call, ops, n, &b->tag, NULL) != GRPC_CALL_OK) {
        /* Report it as a failed send, on this thread. */
        on_send_done(&b->tag, 0);
        return -1;
    }
    return 0;
}

typedef struct {
    pit_tag tag;
    pit_call *call;
    grpc_byte_buffer *msg;
    pit_recv_fn fn;
    void *arg;
} recv_batch;

static void on_recv_done(pit_tag *tag, int ok) {
    recv_batch *b = (recv_batch *)tag;
    pit_call *c = b->call;
    grpc_byte_buffer *msg = ok ? b->msg : NULL;
    if (!ok && b->msg) grpc_byte_buffer_destroy(b->msg);
    b->fn(c, msg, b->arg);
    free(b);
    call_release(c);
}

int pit_call_recv(pit_call *c, pit_recv_fn fn, void *arg) {
    pthread_mutex_lock(&c->mu);
    int finished = c->finished;
    pthread_mutex_unlock(&c->mu);
    if (finished) return -1;
    recv_batch *b = pit_calloc(1, sizeof *b);
    b->tag.fn = on_recv_done;
    b->call = c;
    b->fn = fn;
    b->arg = arg;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &b->msg;
    atomic_fetch_add(&c->refs, 1);
    if (grpc_call_start_batch(c->call, &op, 1, &b->tag, NULL) != GRPC_CALL_OK) {
        on_recv_done(&b->tag, 0);
        return 0;
    }
    return 0;
}

void pit_call_finish(pit_call *c, grpc_status_code code, const char *details, grpc_byte_buffer *last,
                     const pit_md *trailing, size_t n_trailing) {
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    if (c->finished) {
        pthread_mutex_unlock(&c->mu);
        if (last) grpc_byte_buffer_destroy(last);
        return;
    }
    c->finished = 1;
    if (!c->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_md_sent = 1;
    }
    pthread_mutex_unlock(&c->mu);

    send_batch *b = pit_calloc(1, sizeof *b);
    b->tag.fn = on_send_done;
    b->call = c;
    b->is_finish = 1;
    b->msg = last;
    b->details = grpc_slice_from_copied_string(details ? details : "");
    if (n_trailing) {
        b->trailing = pit_calloc(n_trailing, sizeof(grpc_metadata));
        for (size_t i = 0; i < n_trailing; i++) {
            size_t vlen = trailing[i].value_len ? trailing[i].value_len : strlen(trailing[i].value);
            b->trailing[i].key = grpc_slice_from_copied_string(trailing[i].key);
            b->trailing[i].value = grpc_slice_from_copied_buffer(trailing[i].value, vlen);
        }
        b->n_trailing = n_trailing;
    }
    if (last) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = last;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n].data.send_status_from_server.status_details = &b->details;
    ops[n].data.send_status_from_server.trailing_metadata = b->trailing;
    ops[n++].data.send_status_from_server.trailing_metadata_count = b->n_trailing;
    /* The batch takes over the handler's reference. */
    if (grpc_call_start_batch(c->call, ops, n, &b->tag, NULL) != GRPC_CALL_OK) on_send_done(&b->tag, 0);
}

void pit_call_finish_error(pit_call *c, grpc_status_code code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pit_call_finish(c, code, msg, NULL, NULL, 0);
}

void *pit_call_unpack(pit_call *c, const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *req) {
    char why[256];
    ProtobufCMessage *m = pit_pb_from_bb_checked(desc, req, why, sizeof why);
    if (req) grpc_byte_buffer_destroy(req);
    if (!m) pit_call_finish_error(c, GRPC_STATUS_INVALID_ARGUMENT, "%s", why);
    return m;
}

void pit_server_set_drain_message(pit_server *s, const char *message) {
    free(s->drain_message);
    s->drain_message = message ? pit_strdup(message) : NULL;
}

void pit_server_set_grace_hook(pit_server *s, void (*fn)(void *arg), void *arg) {
    s->grace_over = fn;
    s->grace_arg = arg;
}
