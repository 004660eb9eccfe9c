/* pitboss call / pitboss stream: send one Execute or ExecuteStream and print what comes back. */
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "alloc.h"
#include "buffers.h"
#include "cli/cli.h"
#include "json_args.h"
#include "pitboss.pb-c.h"
#include "rpc_client.h"
#include "status.h"

typedef struct {
    const char *command;
    const char *args_json;
    const char *target;
    const char *session;
    const char *pool;
    const char *token;
    const char *payload_file;
    const char *payload_out;
    long timeout_ms;
    int meta;
    char *stdin_args; /* the args read from stdin ("-"), owned */
} call_opts;

static void usage(FILE *out, const char *verb) {
    fprintf(out,
            "usage: pitboss %s COMMAND [JSON] [options]\n\n"
            "%s\n\n"
            "  JSON                 the command's arguments, a JSON object (default {}); - reads it from stdin\n"
            "  --target HOST:PORT   where to send it (default %s: $PITBOSS_TARGET, else the local supervisor)\n"
            "  --session ID         run in this session (same worker every time)\n"
            "  --pool NAME          pool to run in (default: the default pool)\n"
            "  --timeout MS         deadline in milliseconds (default: none)\n"
            "  --payload-file F     send the file's bytes as the raw payload\n"
            "  --payload-out F      write the raw payload of the answer to F\n"
            "  --token T            worker token, for calling a worker directly (or $PITBOSS_WORKER_TOKEN)\n"
            "%s",
            verb,
            strcmp(verb, "call") == 0 ? "Runs the command and prints its result as JSON."
                                      : "Runs the command and prints each chunk's data as one JSON line as it arrives.",
            pit_cli_default_target(),
            strcmp(verb, "stream") == 0 ? "  --meta               print {\"seq\", \"final\", \"data\"} per chunk\n" : "");
}

static int parse(int argc, char **argv, const char *verb, call_opts *o) {
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},       {"session", required_argument, NULL, 's'},
        {"pool", required_argument, NULL, 'p'},         {"timeout", required_argument, NULL, 'T'},
        {"payload-file", required_argument, NULL, 'f'}, {"payload-out", required_argument, NULL, 'o'},
        {"token", required_argument, NULL, 'k'},        {"meta", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->target = pit_cli_default_target();
    o->token = getenv(PIT_ENV_WORKER_TOKEN);
    int ch;
    /* '+'-less: options may come after the positional arguments too. */
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': o->target = optarg; break;
        case 's': o->session = optarg; break;
        case 'p': o->pool = optarg; break;
        case 'f': o->payload_file = optarg; break;
        case 'o': o->payload_out = optarg; break;
        case 'k': o->token = optarg; break;
        case 'm': o->meta = 1; break;
        case 'T': {
            char *end;
            errno = 0;
            o->timeout_ms = strtol(optarg, &end, 10);
            if (errno || *end || o->timeout_ms <= 0) {
                fprintf(stderr, "pitboss %s: --timeout must be a positive number of milliseconds, got \"%s\"\n", verb,
                        optarg);
                return -1;
            }
            break;
        }
        case 'h': usage(stdout, verb); exit(0);
        default: usage(stderr, verb); return -1;
        }
    }
    int left = argc - optind;
    if (left < 1 || left > 2) {
        fprintf(stderr, "pitboss %s: expected COMMAND and optionally a JSON object of arguments\n\n", verb);
        usage(stderr, verb);
        return -1;
    }
    o->command = argv[optind];
    o->args_json = left == 2 ? argv[optind + 1] : "";
    if (strcmp(o->args_json, "-") == 0) { /* JSON args from stdin: pitboss call cmd - < args.json */
        size_t cap = 1 << 16, n = 0, r;
        char *buf = pit_malloc(cap + 1);
        while ((r = fread(buf + n, 1, cap - n, stdin)) > 0) {
            n += r;
            if (n == cap) buf = pit_realloc(buf, (cap *= 2) + 1);
        }
        buf[n] = 0;
        o->args_json = o->stdin_args = buf;
    }
    /* Check the JSON here, so that a typo is reported with its position before anything is sent. */
    char err[512];
    json_t *args = pit_json_parse_object(o->args_json, strlen(o->args_json), err, sizeof err);
    if (!args) {
        fprintf(stderr, "pitboss %s: %s%s\n", verb, err, o->stdin_args ? " (in the JSON read from stdin)" : "");
        return -1;
    }
    json_decref(args);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = pit_malloc(cap);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) buf = pit_realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static int write_payload(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "pitboss: cannot write the payload to %s: %s\n", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static grpc_byte_buffer *build_request(const call_opts *o, uint8_t **payload_mem) {
    Pitboss__V1__ExecuteRequest req = PITBOSS__V1__EXECUTE_REQUEST__INIT;
    req.command = (char *)o->command;
    req.args_json = (char *)o->args_json;
    req.session_id = (char *)(o->session ? o->session : "");
    req.pool = (char *)(o->pool ? o->pool : "");
    req.timeout_ms = (uint32_t)o->timeout_ms;
    *payload_mem = NULL;
    if (o->payload_file) {
        size_t len;
        *payload_mem = read_file(o->payload_file, &len);
        if (!*payload_mem) {
            fprintf(stderr, "pitboss: cannot read the payload file %s: %s\n", o->payload_file, strerror(errno));
            return NULL;
        }
        req.payload.data = *payload_mem;
        req.payload.len = len;
    }
    return pit_bb_from_pb(&req.base);
}

static void print_json(const char *text, int pretty) {
    if (pretty) {
        json_error_t je;
        json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
        if (v) {
            char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
            printf("%s\n", s);
            free(s);
            json_decref(v);
            return;
        }
    }
    printf("%s\n", text);
}

static int report_error(const char *target, const pit_call_result *r) {
    fprintf(stderr, "pitboss: %s: %s\n", pit_status_name(r->code), r->details ? r->details : "");
    if (r->error_type) fprintf(stderr, "error type: %s\n", r->error_type);
    if (r->traceback) fprintf(stderr, "%s%s", r->traceback, r->traceback[strlen(r->traceback) - 1] == '\n' ? "" : "\n");
    if (r->code == GRPC_STATUS_UNAVAILABLE && r->details && strstr(r->details, "connect"))
        fprintf(stderr, "hint: is pitboss serving on %s? Start it with 'scripts/run.sh', or pass --target.\n", target);
    return pit_cli_exit_code(r->code);
}

static void call_metadata(const call_opts *o, pit_md *md, size_t *n) {
    *n = 0;
    if (o->token && *o->token) md[(*n)++] = (pit_md){PIT_MD_TOKEN, o->token, 0};
    if (o->session && *o->session) md[(*n)++] = (pit_md){"x-session-id", o->session, 0};
}

int pit_cli_call(int argc, char **argv) {
    call_opts o;
    if (parse(argc, argv, "call", &o) != 0) return 2;
    uint8_t *payload_mem;
    grpc_byte_buffer *req = build_request(&o, &payload_mem);
    if (!req) {
        free(o.stdin_args);
        return 1;
    }
    grpc_init();
    grpc_channel *ch = pit_channel_create(o.target, (size_t)1 << 30);
    pit_md md[2];
    size_t n_md;
    call_metadata(&o, md, &n_md);
    pit_call_result r;
    grpc_byte_buffer *resp = pit_unary_blocking(ch, "/pitboss.v1.Pool/Execute", o.timeout_ms, md, n_md, req, &r);
    int rc = 0;
    if (r.code != GRPC_STATUS_OK) {
        rc = report_error(o.target, &r);
    } else {
        Pitboss__V1__ExecuteResponse *er =
            (Pitboss__V1__ExecuteResponse *)pit_pb_from_bb(&pitboss__v1__execute_response__descriptor, resp);
        if (!er) {
            fprintf(stderr, "pitboss: the answer is not a valid ExecuteResponse\n");
            rc = 1;
        } else {
            print_json(er->result_json, isatty(STDOUT_FILENO));
            if (er->session_reset)
                fprintf(stderr, "note: the session's worker was replaced; its session state was reset\n");
            if (er->payload.len) {
                if (o.payload_out) {
                    if (write_payload(o.payload_out, er->payload.data, er->payload.len)) rc = 1;
                } else {
                    fprintf(stderr, "note: the answer has a %zu-byte payload (save it with --payload-out FILE)\n",
                            er->payload.len);
                }
            }
            pitboss__v1__execute_response__free_unpacked(er, NULL);
        }
    }
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    free(payload_mem);
    free(o.stdin_args);
    return rc;
}

typedef struct {
    const call_opts *o;
    FILE *payload_out;
    int bad;
} stream_state;

static int on_chunk(grpc_byte_buffer *msg, void *arg) {
    stream_state *s = arg;
    Pitboss__V1__StreamChunk *c = (Pitboss__V1__StreamChunk *)pit_pb_from_bb(&pitboss__v1__stream_chunk__descriptor, msg);
    if (!c) {
        fprintf(stderr, "pitboss: a chunk is not a valid StreamChunk\n");
        s->bad = 1;
        return 1;
    }
    if (s->o->meta)
        printf("{\"seq\":%llu,\"final\":%s,\"payload_bytes\":%zu,\"data\":%s}\n", (unsigned long long)c->seq,
               c->is_final ? "true" : "false", c->payload.len, c->data_json);
    else
        printf("%s\n", c->data_json);
    fflush(stdout);
    if (c->session_reset) fprintf(stderr, "note: the session's worker was replaced; its session state was reset\n");
    if (c->payload.len && s->payload_out) fwrite(c->payload.data, 1, c->payload.len, s->payload_out);
    pitboss__v1__stream_chunk__free_unpacked(c, NULL);
    return 0;
}

int pit_cli_stream(int argc, char **argv) {
    call_opts o;
    if (parse(argc, argv, "stream", &o) != 0) return 2;
    uint8_t *payload_mem;
    grpc_byte_buffer *req = build_request(&o, &payload_mem);
    if (!req) {
        free(o.stdin_args);
        return 1;
    }
    stream_state s = {&o, NULL, 0};
    if (o.payload_out && !(s.payload_out = fopen(o.payload_out, "wb"))) {
        fprintf(stderr, "pitboss: cannot write %s: %s\n", o.payload_out, strerror(errno));
        grpc_byte_buffer_destroy(req);
        free(payload_mem);
        free(o.stdin_args);
        return 1;
    }
    grpc_init();
    grpc_channel *ch = pit_channel_create(o.target, (size_t)1 << 30);
    pit_md md[2];
    size_t n_md;
    call_metadata(&o, md, &n_md);
    pit_call_result r;
    pit_stream_blocking(ch, "/pitboss.v1.Pool/ExecuteStream", o.timeout_ms, md, n_md, req, on_chunk, &s, &r);
    int rc = s.bad;
    if (r.code != GRPC_STATUS_OK) rc = report_error(o.target, &r);
    pit_call_result_free(&r);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    if (s.payload_out) fclose(s.payload_out);
    free(payload_mem);
    free(o.stdin_args);
    return rc;
}
