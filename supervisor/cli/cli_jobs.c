/* pitboss jobs ... and pitboss backends: the quantum job API from the command line. */
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buffers.h"
#include "alloc.h"
#include "cli/cli.h"
#include "clock.h"
#include "jobs.pb-c.h"
#include "rpc_client.h"
#include "status.h"

typedef struct {
    const char *target;
    const char *backend;
    const char *state;
    const char *precision; /* "": the backend's */
    long shots;
    long limit;
    long long seed;
    int has_seed;
    int watch;
    int json;
    const char *args[2];
    int n_args;
} jobs_opts;


/* The wire's own names (proto/jobs.proto's JobState), not a copy of them. */
static const char *state_name(int s) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&pitboss__v1__job_state__descriptor, s);
    if (!v) return "UNKNOWN";
    return strncmp(v->name, "JOB_STATE_", 10) == 0 ? v->name + 10 : v->name;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: pitboss jobs <command> [options]\n\n"
            "  submit FILE.qasm [--shots N] [--backend ID] [--seed S] [--precision double|single] [--watch]\n"
            "                          queue a circuit; print its job id (--watch: follow it, then print the counts)\n"
            "  status ID               the job's state and times\n"
            "  result ID               the counts of a completed job\n"
            "  watch ID                print each state change as it happens, until the job ends\n"
            "  cancel ID               cancel a queued or running job\n"
            "  list [--state S] [--limit N]   recent jobs, newest first\n\n"
            "options: --target HOST:PORT (default %s: $PITBOSS_TARGET, else the local supervisor), --json (print JSON)\n"
            "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found.\n"
            "See also: pitboss backends\n",
            pit_cli_default_target());
}

static int parse(int argc, char **argv, jobs_opts *o) {
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'}, {"backend", required_argument, NULL, 'b'},
        {"shots", required_argument, NULL, 's'},  {"seed", required_argument, NULL, 'S'},
        {"watch", no_argument, NULL, 'w'},        {"json", no_argument, NULL, 'j'},
        {"state", required_argument, NULL, 'x'},  {"limit", required_argument, NULL, 'l'},
        {"precision", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->target = pit_cli_default_target();
    o->backend = "";
    o->precision = "";
    o->shots = 1024;
    o->limit = 20;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 't': o->target = optarg; break;
        case 'b': o->backend = optarg; break;
        case 'w': o->watch = 1; break;
        case 'j': o->json = 1; break;
        case 'x': o->state = optarg; break;
        case 'p':
            if (strcmp(optarg, "double") && strcmp(optarg, "single")) {
                fprintf(stderr, "pitboss jobs: --precision must be double or single, got \"%s\"\n", optarg);
                return -1;
            }
            o->precision = optarg;
            break;
        case 's':
        case 'l':
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v <= 0) {
                fprintf(stderr, "pitboss jobs: --%s must be a whole number >= 1, got \"%s\"\n", ch == 's' ? "shots" : "limit",
                        optarg);
                return -1;
            }
            if (ch == 's') o->shots = v; else o->limit = v;
            break;
        case 'S':
            errno = 0;
            o->seed = strtoll(optarg, &end, 10);
            if (errno || *end || o->seed < 0) {
                fprintf(stderr, "pitboss jobs: --seed must be a whole number >= 0, got \"%s\"\n", optarg);
                return -1;
            }
            o->has_seed = 1;
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->n_args == 2) {
            fprintf(stderr, "pitboss jobs: unexpected argument \"%s\"\n", argv[i]);
            return -1;
        }
        o->args[o->n_args++] = argv[i];
    }
    return 0;
}

static int report_error(const char *what, const pit_call_result *r, const char *target) {
    fprintf(stderr, "pitboss jobs %s: %s: %s\n", what, pit_status_name(r->code), r->details ? r->details : "");
    if (r->code == GRPC_STATUS_UNAVAILABLE && r->details && strstr(r->details, "connect"))
        fprintf(stderr, "hint: is pitboss serving on %s? Start it with 'scripts/run.sh', or pass --target.\n", target);
    return r->code == GRPC_STATUS_NOT_FOUND ? 3 : 1;
}

/* One unary call; the decoded answer, or NULL after printing the error (*rc set). */
static void *call(grpc_channel *ch, const char *what, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *resp_desc, const char *target, int *rc) {
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, method, 30000, NULL, 0, pit_bb_from_pb(req), &r);
    if (r.code != GRPC_STATUS_OK) {
        *rc = report_error(what, &r, target);
        if (resp) grpc_byte_buffer_destroy(resp);
        pit_call_result_free(&r);
        return NULL;
    }
    pit_call_result_free(&r);
    ProtobufCMessage *m = pit_pb_from_bb(resp_desc, resp);
    if (resp) grpc_byte_buffer_destroy(resp);
    if (!m) {
        fprintf(stderr, "pitboss jobs %s: the answer is not a %s\n", what, resp_desc->name);
        *rc = 1;
    }
    return m;
}

static void fmt_time(int64_t us, char *buf, size_t len) {
    if (!us) {
        snprintf(buf, len, "-");
        return;
    }
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03d", (int)((us / 1000) % 1000));
}

static void print_job(const Pitboss__V1__Job *j, int as_json) {
    if (as_json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:i, s:s, s:s}", "job_id", j->job_id, "state",
                              state_name(j->state), "backend_id", j->backend_id, "shots", (int)j->shots, "submitted_at_us",
                              (json_int_t)j->submitted_at_us, "started_at_us", (json_int_t)j->started_at_us,
                              "completed_at_us", (json_int_t)j->completed_at_us, "attempts", (int)j->attempts,
                              "error_message", j->error_message, "client_request_id", j->client_request_id);
        char *s = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    char sub[64], start[64], end[64];
    fmt_time(j->submitted_at_us, sub, sizeof sub);
    fmt_time(j->started_at_us, start, sizeof start);
    fmt_time(j->completed_at_us, end, sizeof end);
    printf("job        %s\nstate      %s\nbackend    %s\nshots      %u\nsubmitted  %s\nstarted    %s\nfinished   %s\n"
           "attempts   %u\n", j->job_id, state_name(j->state), j->backend_id, j->shots, sub, start, end, j->attempts);
    if (j->error_message[0]) printf("error      %s\n", j->error_message);
}

static int by_count_desc(const void *a, const void *b) {
    const Pitboss__V1__JobResult__CountsEntry *x = *(Pitboss__V1__JobResult__CountsEntry *const *)a;
    const Pitboss__V1__JobResult__CountsEntry *y = *(Pitboss__V1__JobResult__CountsEntry *const *)b;
    if (x->value != y->value) return x->value < y->value ? 1 : -1;
    return strcmp(x->key, y->key);
}

static void print_result(Pitboss__V1__JobResult *r, int as_json) {
    if (as_json) {
        json_t *counts = json_object();
        for (size_t i = 0; i < r->n_counts; i++)
            json_object_set_new(counts, r->counts[i]->key, json_integer((json_int_t)r->counts[i]->value));
        json_t *meta = json_loads(r->metadata_json, 0, NULL);
        json_t *o = json_pack("{s:s, s:o, s:i, s:f, s:o}", "job_id", r->job_id, "counts", counts, "shots", (int)r->shots,
                              "execution_time_ms", r->execution_time_ms, "metadata", meta ? meta : json_object());
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    qsort(r->counts, r->n_counts, sizeof *r->counts, by_count_desc);
    size_t shown = r->n_counts < 32 ? r->n_counts : 32;
    size_t width = 7;
    for (size_t i = 0; i < shown; i++)
        if (strlen(r->counts[i]->key) > width) width = strlen(r->counts[i]->key);
    printf("%-*s  %10s  %8s\n", (int)width, "outcome", "count", "prob");
    for (size_t i = 0; i < shown; i++) {
        double p = r->shots ? (double)r->counts[i]->value / (double)r->shots : 0;
        char bar[41];
        int n = (int)(p * 40 + 0.5);
        memset(bar, '#', (size_t)n);
        bar[n] = 0;
        printf("%-*s  %10llu  %8.4f  %s\n", (int)width, r->counts[i]->key, (unsigned long long)r->counts[i]->value, p, bar);
    }
    if (shown < r->n_counts) printf("... and %zu more outcomes (--json prints them all)\n", r->n_counts - shown);
    printf("%u shots, %zu distinct outcomes, %.3f ms in the simulator\n", r->shots, r->n_counts, r->execution_time_ms);
}

static int get_result(grpc_channel *ch, const char *id, int as_json, const char *target) {
    Pitboss__V1__GetJobResultRequest req = PITBOSS__V1__GET_JOB_RESULT_REQUEST__INIT;
    req.job_id = (char *)id;
    int rc = 0;
    Pitboss__V1__JobResult *r = call(ch, "result", "/pitboss.v1.Jobs/GetJobResult", &req.base,
                                     &pitboss__v1__job_result__descriptor, target, &rc);
    if (!r) return rc;
    print_result(r, as_json);
    pitboss__v1__job_result__free_unpacked(r, NULL);
    return 0;
}

/* ---------------------------------------------------------------- watch */

typedef struct {
    int tty, quiet;
    FILE *out; /* where lines go when not on a terminal */
    int64_t start_us;
    int last_state;
    char error[1024];
    char job_id[64];
    pthread_mutex_t mu; /* on a terminal, a ticker thread redraws the line while the job runs */
    pthread_cond_t cond;
    int done;
} watch_state;

/* The state line: the job, its state and the time since the watch began. Under w->mu. */
static void draw(watch_state *w) {
    fprintf(stderr, "\r\033[K%s %-9s %7.1f s", w->job_id, state_name(w->last_state),
            (double)(pit_mono_us() - w->start_us) / 1e6);
    fflush(stderr);
}

static void *ticker(void *arg) {
    watch_state *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->mu, &ts);
        if (!w->done && w->last_state) draw(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int on_update(grpc_byte_buffer *msg, void *arg) {
    watch_state *w = arg;
    Pitboss__V1__JobStatusUpdate *u =
        (Pitboss__V1__JobStatusUpdate *)pit_pb_from_bb(&pitboss__v1__job_status_update__descriptor, msg);
    if (!u) return 1;
    pthread_mutex_lock(&w->mu);
    w->last_state = u->state;
    snprintf(w->error, sizeof w->error, "%s", u->error_message);
    snprintf(w->job_id, sizeof w->job_id, "%s", u->job_id);
    double t = (double)(pit_mono_us() - w->start_us) / 1e6;
    if (!w->quiet) {
        if (w->tty) {
            draw(w);
            if (u->state >= 3) fprintf(stderr, "\n");
        } else {
            fprintf(w->out, "%.3f %s %s%s%s\n", t, u->job_id, state_name(u->state), u->error_message[0] ? " " : "",
                    u->error_message);
            fflush(w->out);
        }
    }
    pthread_mutex_unlock(&w->mu);
    pitboss__v1__job_status_update__free_unpacked(u, NULL);
    return 0;
}

static int watch(grpc_channel *ch, const char *id, FILE *out, const char *target, int *final_state) {
    Pitboss__V1__WatchJobRequest req = PITBOSS__V1__WATCH_JOB_REQUEST__INIT;
    req.job_id = (char *)id;
    watch_state w;
    memset(&w, 0, sizeof w);
    w.tty = isatty(2) && (out == stderr || isatty(1));
    w.out = out;
    w.start_us = pit_mono_us();
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    pthread_t tick;
    int ticking = w.tty && pthread_create(&tick, NULL, ticker, &w) == 0;
    pit_call_result r;
    pit_stream_blocking(ch, "/pitboss.v1.Jobs/WatchJob", 0, NULL, 0, pit_bb_from_pb(&req.base), on_update, &w, &r);
    if (ticking) {
        pthread_mutex_lock(&w.mu);
        w.done = 1;
        pthread_cond_signal(&w.cond);
        pthread_mutex_unlock(&w.mu);
        pthread_join(tick, NULL);
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cond);
    *final_state = w.last_state;
    int rc = 0;
    if (r.code != GRPC_STATUS_OK) rc = report_error("watch", &r, target);
    else if (w.last_state == 4 || w.last_state == 5)
        fprintf(stderr, "job %s %s%s%s\n", id, state_name(w.last_state), w.error[0] ? ": " : "", w.error);
    pit_call_result_free(&r);
    return rc;
}

/* ---------------------------------------------------------------- commands */

static char *read_text(const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 14, n = 0, r;
    char *buf = pit_malloc(cap);
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) buf = pit_realloc(buf, cap *= 2);
    }
    if (f != stdin) fclose(f);
    buf[n] = 0;
    return buf;
}

static int cmd_submit(grpc_channel *ch, jobs_opts *o) {
    if (o->n_args != 1) {
        fprintf(stderr, "pitboss jobs submit: expected one FILE.qasm (or - for standard input)\n");
        return 2;
    }
    char *qasm = read_text(o->args[0]);
    if (!qasm) {
        fprintf(stderr, "pitboss jobs submit: cannot read %s: %s\n", o->args[0], strerror(errno));
        return 2;
    }
    Pitboss__V1__CircuitPayload circ = PITBOSS__V1__CIRCUIT_PAYLOAD__INIT;
    circ.qasm = qasm;
    circ.precision = (char *)o->precision;
    Pitboss__V1__SubmitJobRequest req = PITBOSS__V1__SUBMIT_JOB_REQUEST__INIT;
    req.circuit = &circ;
    req.backend_id = (char *)o->backend;
    req.shots = (uint32_t)o->shots;
    req.has_seed = o->has_seed;
    req.seed = (uint64_t)o->seed;
    int rc = 0;
    Pitboss__V1__SubmitJobResponse *resp = call(ch, "submit", "/pitboss.v1.Jobs/SubmitJob", &req.base,
                                                &pitboss__v1__submit_job_response__descriptor, o->target, &rc);
    free(qasm);
    if (!resp) {
        if (rc == 1) fprintf(stderr, "(the circuit is %s)\n", o->args[0]);
        return rc;
    }
    char id[64];
    snprintf(id, sizeof id, "%s", resp->job_id);
    pitboss__v1__submit_job_response__free_unpacked(resp, NULL);
    if (!o->watch) {
        if (o->json)
            printf("{\"job_id\": \"%s\"}\n", id);
        else
            printf("%s\n", id);
        return 0;
    }
    fprintf(stderr, "submitted job %s\n", id);
    int final_state = 0;
    rc = watch(ch, id, stderr, o->target, &final_state);
    if (rc) return rc;
    if (final_state != 3) return 1;
    return get_result(ch, id, o->json, o->target);
}

static int cmd_status(grpc_channel *ch, jobs_opts *o) {
    if (o->n_args != 1) {
        fprintf(stderr, "pitboss jobs status: expected a job ID\n");
        return 2;
    }
    Pitboss__V1__GetJobStatusRequest req = PITBOSS__V1__GET_JOB_STATUS_REQUEST__INIT;
    req.job_id = (char *)o->args[0];
    int rc = 0;
    Pitboss__V1__Job *j = call(ch, "status", "/pitboss.v1.Jobs/GetJobStatus", &req.base, &pitboss__v1__job__descriptor,
                               o->target, &rc);
    if (!j) return rc;
    print_job(j, o->json);
    pitboss__v1__job__free_unpacked(j, NULL);
    return 0;
}

static int cmd_cancel(grpc_channel *ch, jobs_opts *o) {
    if (o->n_args != 1) {
        fprintf(stderr, "pitboss jobs cancel: expected a job ID\n");
        return 2;
    }
    Pitboss__V1__CancelJobRequest req = PITBOSS__V1__CANCEL_JOB_REQUEST__INIT;
    req.job_id = (char *)o->args[0];
    int rc = 0;
    Pitboss__V1__CancelJobResponse *r = call(ch, "cancel", "/pitboss.v1.Jobs/CancelJob", &req.base,
                                             &pitboss__v1__cancel_job_response__descriptor, o->target, &rc);
    if (!r) return rc;
    printf("%s: %s\n", o->args[0], r->message);
    rc = r->canceled ? 0 : 1;
    pitboss__v1__cancel_job_response__free_unpacked(r, NULL);
    return rc;
}

static int cmd_list(grpc_channel *ch, jobs_opts *o) {
    Pitboss__V1__ListJobsRequest req = PITBOSS__V1__LIST_JOBS_REQUEST__INIT;
    req.limit = (uint32_t)o->limit;
    if (o->state) {
        int s = 0;
        for (int i = 1; i <= 5; i++)
            if (strcasecmp(o->state, state_name(i)) == 0) s = i;
        if (!s) {
            fprintf(stderr, "pitboss jobs list: --state must be QUEUED, RUNNING, COMPLETED, FAILED or CANCELED\n");
            return 2;
        }
        req.state = (Pitboss__V1__JobState)s;
    }
    int rc = 0;
    Pitboss__V1__ListJobsResponse *r = call(ch, "list", "/pitboss.v1.Jobs/ListJobs", &req.base,
                                            &pitboss__v1__list_jobs_response__descriptor, o->target, &rc);
    if (!r) return rc;
    if (!o->json) printf("%-36s  %-9s  %-12s  %8s  %s\n", "job", "state", "backend", "shots", "submitted");
    for (size_t i = 0; i < r->n_jobs; i++) {
        Pitboss__V1__Job *j = r->jobs[i];
        if (o->json) {
            print_job(j, 1);
            continue;
        }
        char sub[64];
        fmt_time(j->submitted_at_us, sub, sizeof sub);
        printf("%-36s  %-9s  %-12s  %8u  %s\n", j->job_id, state_name(j->state), j->backend_id, j->shots, sub);
    }
    pitboss__v1__list_jobs_response__free_unpacked(r, NULL);
    return 0;
}

int pit_cli_jobs(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    jobs_opts o;
    if (parse(argc - 1, argv + 1, &o) != 0) return 2;
    grpc_init();
    grpc_channel *ch = pit_channel_create(o.target, 256u << 20);
    int rc;
    if (strcmp(sub, "submit") == 0) {
        rc = cmd_submit(ch, &o);
    } else if (strcmp(sub, "status") == 0) {
        rc = cmd_status(ch, &o);
    } else if (strcmp(sub, "result") == 0) {
        rc = o.n_args == 1 ? get_result(ch, o.args[0], o.json, o.target) : 2;
        if (o.n_args != 1) fprintf(stderr, "pitboss jobs result: expected a job ID\n");
    } else if (strcmp(sub, "watch") == 0) {
        int final_state;
        rc = o.n_args == 1 ? watch(ch, o.args[0], stdout, o.target, &final_state) : 2;
        if (o.n_args != 1) fprintf(stderr, "pitboss jobs watch: expected a job ID\n");
    } else if (strcmp(sub, "cancel") == 0) {
        rc = cmd_cancel(ch, &o);
    } else if (strcmp(sub, "list") == 0) {
        rc = cmd_list(ch, &o);
    } else {
        fprintf(stderr, "pitboss jobs: unknown command \"%s\"\n\n", sub);
        usage(stderr);
        rc = 2;
    }
    grpc_channel_destroy(ch);
    grpc_shutdown();
    return rc;
}

int pit_cli_backends(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: pitboss backends [--target HOST:PORT] [--json]\n\n"
                   "Lists the job backends (the native pools), what each runs and whether it is available.\n"
                   "  --target HOST:PORT   the supervisor (default %s: $PITBOSS_TARGET, else the local one)\n"
                   "  --json               one JSON object per backend\n"
                   "Exit codes: 0 ok, 1 failed, 2 usage.\n", pit_cli_default_target());
            return 0;
        }
    jobs_opts o;
    if (parse(argc, argv, &o) != 0) return 2;
    grpc_init();
    grpc_channel *ch = pit_channel_create(o.target, 64u << 20);
    Pitboss__V1__ListBackendsRequest req = PITBOSS__V1__LIST_BACKENDS_REQUEST__INIT;
    int rc = 0;
    Pitboss__V1__ListBackendsResponse *r = call(ch, "backends", "/pitboss.v1.Jobs/ListBackends", &req.base,
                                                &pitboss__v1__list_backends_response__descriptor, o.target, &rc);
    if (r) {
        for (size_t i = 0; i < r->n_backends; i++) {
            Pitboss__V1__BackendInfo *b = r->backends[i];
            if (o.json) {
                json_t *gates = json_array();
                for (size_t g = 0; g < b->n_supported_gates; g++) json_array_append_new(gates, json_string(b->supported_gates[g]));
                json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:i, s:I, s:s, s:s, s:o}", "backend_id", b->backend_id, "name",
                                      b->name, "version", b->version, "is_available", b->is_available, "max_qubits",
                                      (int)b->max_qubits, "max_shots", (json_int_t)b->max_shots, "pool", b->pool,
                                      "description", b->description, "supported_gates", gates);
                char *s = json_dumps(j, JSON_INDENT(2));
                printf("%s\n", s);
                free(s);
                json_decref(j);
                continue;
            }
            printf("%s  (%s %s, pool \"%s\")  %s\n  max %u qubits, %llu shots; %zu gates\n  %s\n", b->backend_id, b->name,
                   b->version, b->pool, b->is_available ? "available" : "NOT AVAILABLE", b->max_qubits,
                   (unsigned long long)b->max_shots, b->n_supported_gates, b->description);
        }
        pitboss__v1__list_backends_response__free_unpacked(r, NULL);
    }
    grpc_channel_destroy(ch);
    grpc_shutdown();
    return rc;
}
