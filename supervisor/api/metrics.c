#include "api/metrics.h"
#include "alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "mem_budget.h"
#include "core/call_stats.h"
#include "core/memory.h"
#include "request_limits.h"
#include "core/sessions.h"
#include "status.h"
#include "core/supervisor.h"

struct pit_metrics {
    int listen_fd;
    ev_io listen_w;
    ev_timer accept_retry_w; /* accept failed for want of descriptors: listen again after a pause */
    struct ev_loop *loop;
    struct pit_sup *sup;
    /* open scrape connections (libev thread only) */
    struct http_conn *conns;
    int n_conns;
    int max_conns;
    double idle_s;
};

struct http_conn;
static void conn_close(struct ev_loop *loop, struct http_conn *c);

pit_metrics *pit_metrics_create(void) {
    pit_metrics *m = pit_calloc(1, sizeof *m);
    m->listen_fd = -1;
    return m;
}

void pit_metrics_destroy(pit_metrics *m) {
    if (!m) return;
    while (m->conns) conn_close(m->loop, m->conns);
    if (m->listen_fd >= 0) close(m->listen_fd);
    free(m);
}

/* ---------------------------------------------------------------- text */

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0) + 1024;
        t->buf = pit_realloc(t->buf, t->cap);
    }
}

static void put_line(void *t, const char *line) { put(t, "%s", line); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one (a stray
 * continuation byte, an overlong form, a surrogate, a cut sequence). */
static int utf8_len(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
    if (n == 0 || s[0] > 0xF4) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return n;
}

/* A Prometheus label value: escapes \, " and newline; a byte that is not valid UTF-8 (a client may
 * send any) becomes '?', and a character is never cut in half at the end, so that one bad value
 * cannot break the scrape of the whole page. */
static const char *esc(const char *s, char *out, size_t len) {
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_len(p);
        if (n == 0) {
            if (k + 1 >= len) break;
            out[k++] = '?';
            p++;
            continue;
        }
        const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t need = rep ? 2 : (size_t)n;
        if (k + need >= len) break;
        if (rep) {
            memcpy(out + k, rep, 2);
        } else {
            memcpy(out + k, p, (size_t)n);
        }
        k += need;
        p += n;
    }
    out[k] = 0;
    return out;
}


char *pit_metrics_render(pit_metrics *m, pit_sup *sup) {
    text t = {pit_malloc(8192), 0, 8192};
    char e1[2 * PIT_MAX_NAME_BYTES + 8], e2[2 * PIT_MAX_NAME_BYTES + 8]; /* room for every name escaped */
    (void)m;
    pit_call_series *series;
    pit_call_hist *hists;
    int n_series, n_hist;
    pit_call_stats_copy(sup->calls, &series, &n_series, &hists, &n_hist);
    put(&t, "# HELP pitboss_calls_total Calls answered, by pool, command and gRPC status code.\n"
            "# TYPE pitboss_calls_total counter\n");
    for (int i = 0; i < n_series; i++)
        put(&t, "pitboss_calls_total{pool=\"%s\",command=\"%s\",code=\"%s\"} %llu\n", esc(series[i].pool, e1, sizeof e1),
            esc(series[i].command, e2, sizeof e2), pit_status_name((grpc_status_code)series[i].code),
            (unsigned long long)series[i].count);
    put(&t, "# HELP pitboss_call_duration_seconds Time from a call's arrival to its answer, queueing included.\n"
            "# TYPE pitboss_call_duration_seconds histogram\n");
    for (int i = 0; i < n_hist; i++) {
        char labels[sizeof e1 + 16];
        snprintf(labels, sizeof labels, "pool=\"%s\"", esc(hists[i].pool, e1, sizeof e1));
        pit_histogram_render(&hists[i].h, &pit_call_buckets, "pitboss_call_duration_seconds", labels, put_line, &t);
    }
    free(series);
    free(hists);

    pthread_mutex_lock(&sup->mu);
    put(&t, "# HELP pitboss_queue_depth Calls waiting for a worker.\n# TYPE pitboss_queue_depth gauge\n");
    for (int i = 0; i < sup->n_pools; i++)
        put(&t, "pitboss_queue_depth{pool=\"%s\"} %u\n", esc(sup->pools[i].cfg->name, e1, sizeof e1), sup->pools[i].queued);
    put(&t, "# HELP pitboss_in_flight Calls running on workers.\n# TYPE pitboss_in_flight gauge\n");
    for (int i = 0; i < sup->n_pools; i++)
        put(&t, "pitboss_in_flight{pool=\"%s\"} %u\n", esc(sup->pools[i].cfg->name, e1, sizeof e1), sup->pools[i].in_flight);
    put(&t, "# HELP pitboss_sessions Open sessions.\n# TYPE pitboss_sessions gauge\n");
    for (int i = 0; i < sup->n_pools; i++)
        put(&t, "pitboss_sessions{pool=\"%s\"} %zu\n", esc(sup->pools[i].cfg->name, e1, sizeof e1),
            pit_sessions_count(sup->pools[i].sessions));
    put(&t, "# HELP pitboss_calls_abandoned Calls whose client is gone while their handler still runs (counted in "
            "pitboss_in_flight).\n# TYPE pitboss_calls_abandoned gauge\n");
    for (int i = 0; i < sup->n_pools; i++) {
        unsigned long long a = 0;
        for (int k = 0; k < sup->pools[i].n_slots; k++) a += sup->pools[i].slots[k].abandoned;
        put(&t, "pitboss_calls_abandoned{pool=\"%s\"} %llu\n", esc(sup->pools[i].cfg->name, e1, sizeof e1), a);
    }
    put(&t, "# HELP pitboss_workers_killed_total Workers the supervisor killed, by reason.\n"
            "# TYPE pitboss_workers_killed_total counter\n");
    for (int i = 0; i < sup->n_pools; i++)
        put(&t, "pitboss_workers_killed_total{pool=\"%s\",reason=\"overran\"} %llu\n",
            esc(sup->pools[i].cfg->name, e1, sizeof e1), (unsigned long long)sup->pools[i].killed_overran);
    put(&t, "# HELP pitboss_worker_restarts_total Worker restarts after a crash or failed start.\n"
            "# TYPE pitboss_worker_restarts_total counter\n");
    for (int i = 0; i < sup->n_pools; i++) {
        unsigned long long r = 0;
        for (int k = 0; k < sup->pools[i].n_slots; k++) r += sup->pools[i].slots[k].restarts;
        put(&t, "pitboss_worker_restarts_total{pool=\"%s\"} %llu\n", esc(sup->pools[i].cfg->name, e1, sizeof e1), r);
    }
    put(&t, "# HELP pitboss_workers Workers by state.\n# TYPE pitboss_workers gauge\n");
    for (int i = 0; i < sup->n_pools; i++)
        for (int st = SLOT_STOPPED; st <= SLOT_BACKOFF; st++) {
            int n = 0;
            for (int k = 0; k < sup->pools[i].n_slots; k++) n += sup->pools[i].slots[k].state == (pit_slot_state)st;
            put(&t, "pitboss_workers{pool=\"%s\",state=\"%s\"} %d\n", esc(sup->pools[i].cfg->name, e1, sizeof e1),
                pit_slot_state_name((pit_slot_state)st), n);
        }
    put(&t, "# HELP pitboss_pool_up 1 while the pool serves, 0 once it has failed.\n# TYPE pitboss_pool_up gauge\n");
    for (int i = 0; i < sup->n_pools; i++)
        put(&t, "pitboss_pool_up{pool=\"%s\"} %d\n", esc(sup->pools[i].cfg->name, e1, sizeof e1),
            sup->pools[i].state != POOL_FAILED);
    put(&t, "# HELP pitboss_worker_rss_bytes Resident memory of each worker.\n# TYPE pitboss_worker_rss_bytes gauge\n");
    for (int i = 0; i < sup->n_pools; i++)
        for (int k = 0; k < sup->pools[i].n_slots; k++)
            put(&t, "pitboss_worker_rss_bytes{pool=\"%s\",slot=\"%d\"} %lld\n", esc(sup->pools[i].cfg->name, e1, sizeof e1),
                k, (long long)sup->pools[i].slots[k].rss_kb * 1024);
    /* Native pools' state-vector budgets (memory.c); the segment has its own lock. */
    static const char *const mem_help[5][3] = {
        {"pitboss_memory_budget_bytes", "gauge", "State-vector memory the pool's running circuits may reserve together."},
        {"pitboss_memory_reserved_bytes", "gauge", "State-vector memory reserved by circuits running now."},
        {"pitboss_memory_reserved_peak_bytes", "gauge", "The most ever reserved at once (never above the budget)."},
        {"pitboss_memory_waits_total", "counter", "Circuits that waited for others to give memory back."},
        {"pitboss_memory_refused_total", "counter", "Circuits refused: larger than the whole budget."},
    };
    pit_mem_pool mp[PIT_MAX_POOLS];
    for (int i = 0; i < sup->n_pools; i++) pit_mem_read(sup->mem, sup->pools[i].index, &mp[i]);
    for (int k = 0; k < 5; k++) {
        put(&t, "# HELP %s %s\n# TYPE %s %s\n", mem_help[k][0], mem_help[k][2], mem_help[k][0], mem_help[k][1]);
        for (int i = 0; i < sup->n_pools; i++) {
            if (sup->pools[i].cfg->kind != PIT_KIND_NATIVE) continue;
            uint64_t v = k == 0 ? mp[i].budget : k == 1 ? mp[i].reserved : k == 2 ? mp[i].peak : k == 3 ? mp[i].waits
                                                                                                 : mp[i].refused;
            put(&t, "%s{pool=\"%s\"} %llu\n", mem_help[k][0], esc(sup->pools[i].cfg->name, e1, sizeof e1),
                (unsigned long long)v);
        }
    }
    pthread_mutex_unlock(&sup->mu);
    for (int i = 0; i < sup->n_metrics_sources; i++)
        sup->metrics_sources[i].render(sup->metrics_sources[i].arg, put_line, &t);
    return t.buf;
}

/* ---------------------------------------------------------------- HTTP */

/* One scrape connection. A client that connects and sends nothing is closed after metrics.idle_ms,
 * and at most metrics.max_connections are open at once: idle connections held open on purpose must
 * not use up the supervisor's descriptors. */
typedef struct http_conn {
    ev_io w; /* first: the watcher is the connection */
    ev_timer idle_w;
    pit_metrics *m;
    char req[4096];
    size_t len;
    struct http_conn *prev, *next;
} http_conn;

static void conn_close(struct ev_loop *loop, http_conn *c) {
    ev_io_stop(loop, &c->w);
    ev_timer_stop(loop, &c->idle_w);
    close(c->w.fd);
    pit_metrics *m = c->m;
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    m->n_conns--;
    free(c);
}

static void on_conn_idle(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    http_conn *c = (http_conn *)((char *)t - offsetof(http_conn, idle_w));
    pit_debug("metrics: closing a connection that sent no request within %.0f ms (metrics.idle_ms)", c->m->idle_s * 1000);
    conn_close(loop, c);
}

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return;
        p += k;
        n -= (size_t)k;
    }
}

static void on_conn_readable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    http_conn *c = (http_conn *)w;
    ssize_t n = read(w->fd, c->req + c->len, sizeof c->req - 1 - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        conn_close(loop, c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = 0;
    if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n") && c->len < sizeof c->req - 1) return;
    char head[256];
    if (strncmp(c->req, "GET /metrics ", 13) == 0 || strncmp(c->req, "GET /metrics?", 13) == 0) {
        char *body = pit_metrics_render(c->m, c->m->sup);
        size_t blen = strlen(body);
        int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);
        /* The socket is blocking for the reply: a scrape is small, and this is loopback. */
        int flags = fcntl(w->fd, F_GETFL);
        fcntl(w->fd, F_SETFL, flags & ~O_NONBLOCK);
        struct timeval tv = {2, 0};
        setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        write_all(w->fd, head, (size_t)h);
        write_all(w->fd, body, blen);
        free(body);
    } else {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n"
                                 "Connection: close\r\n\r\nmetrics are at GET /metrics\n";
        write_all(w->fd, nf, sizeof nf - 1);
    }
    conn_close(loop, c);
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)revents;
    pit_metrics *m = t->data;
    ev_io_start(loop, &m->listen_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    pit_metrics *m = w->data;
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The connection stays in the backlog, so the socket stays readable: without a pause
             * this loop would spin a core until a descriptor frees up. */
            static int64_t last_warned_us;
            int64_t now = pit_mono_us();
            if (now - last_warned_us > 10000000) {
                pit_warn("metrics: cannot accept a connection: %s (pausing the metrics listener for 100 ms; "
                         "raise the open-file limit or lower metrics.max_connections)", strerror(errno));
                last_warned_us = now;
            }
            ev_io_stop(loop, &m->listen_w);
            ev_timer_set(&m->accept_retry_w, 0.1, 0);
            ev_timer_start(loop, &m->accept_retry_w);
        }
        return;
    }
    if (m->n_conns >= m->max_conns) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n"
                                   "Connection: close\r\n\r\ntoo many metrics connections (metrics.max_connections)\n";
        ssize_t unused = write(fd, busy, sizeof busy - 1); /* best effort: the socket is non-blocking */
        (void)unused;
        close(fd);
        return;
    }
    http_conn *c = pit_calloc(1, sizeof *c);
    c->m = m;
    c->next = m->conns;
    if (m->conns) m->conns->prev = c;
    m->conns = c;
    m->n_conns++;
    ev_io_init(&c->w, on_conn_readable, fd, EV_READ);
    ev_io_start(loop, &c->w);
    ev_timer_init(&c->idle_w, on_conn_idle, m->idle_s, 0);
    ev_timer_start(loop, &c->idle_w);
}

int pit_metrics_listen(pit_metrics *m, struct ev_loop *loop, const char *addr, pit_sup *sup) {
    /* HOST:PORT, [IPv6]:PORT, or localhost:PORT (the loopback address, never a lookup elsewhere). */
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (addr[0] == '[' && colon > addr && colon[-1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr - 2), addr + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0 || !ai) {
        pit_error("metrics.listen: \"%s\" is not an IPv4 or [IPv6] address with a port: %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        pit_error("cannot serve metrics on %s: %s (change metrics.listen, or set it to \"\" to turn metrics off)", addr,
                  strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage a;
    socklen_t alen = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &alen);
    int bound_port = a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&a)->sin_port);
    m->listen_fd = fd;
    m->sup = sup;
    m->loop = loop;
    m->max_conns = (int)sup->cfg.metrics.max_connections;
    m->idle_s = (double)sup->cfg.metrics.idle_ms / 1000.0;
    ev_io_init(&m->listen_w, on_accept, fd, EV_READ);
    m->listen_w.data = m;
    ev_io_start(loop, &m->listen_w);
    ev_timer_init(&m->accept_retry_w, on_accept_retry, 0.1, 0);
    m->accept_retry_w.data = m;
    return bound_port;
}
