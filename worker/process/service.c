/* The worker's gRPC services: pitboss.v1.Pool (for its supervisor) and grpc.health.v1.Health. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffers.h"
#include "alloc.h"
#include "clock.h"
#include "health.pb-c.h"
#include "json_args.h"
#include "log.h"
#include "proc.h"
#include "pitboss.pb-c.h"
#include "process/worker.h"


const pit_command *pit_worker_find_command(const pit_worker *w, const char *name) {
    for (size_t i = 0; i < w->n_commands; i++)
        if (strcmp(w->commands[i]->name, name) == 0) return w->commands[i];
    return NULL;
}

static void command_names(const pit_worker *w, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < w->n_commands && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", w->commands[i]->name);
}

static void execute(pit_call *call, grpc_byte_buffer *req_bb, void *arg, int streaming_call) {
    pit_worker *w = arg;
    Pitboss__V1__ExecuteRequest *req = pit_call_unpack(call, &pitboss__v1__execute_request__descriptor, req_bb);
    if (!req) return;
    const pit_command *cmd = pit_worker_find_command(w, req->command);
    if (!cmd) {
        char names[512];
        command_names(w, names, sizeof names);
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND, "unknown command \"%s\" (this %s worker serves: %s)",
                              req->command, w->kind, names);
        pitboss__v1__execute_request__free_unpacked(req, NULL);
        return;
    }
    if (cmd->streaming && !streaming_call) {
        pit_call_finish_error(call, GRPC_STATUS_FAILED_PRECONDITION,
                              "command \"%s\" streams its answer: call it with ExecuteStream (pitboss stream %s)",
                              cmd->name, cmd->name);
        pitboss__v1__execute_request__free_unpacked(req, NULL);
        return;
    }
    char err[512];
    json_t *args = pit_json_parse_object(req->args_json, strlen(req->args_json), err, sizeof err);
    if (!args) {
        pit_call_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "%s: %s", cmd->name, err);
        pitboss__v1__execute_request__free_unpacked(req, NULL);
        return;
    }
    pit_cmd_start(w, call, cmd, req, args, streaming_call);
}

static void on_execute(pit_call *call, grpc_byte_buffer *req, void *arg) { execute(call, req, arg, 0); }
static void on_execute_stream(pit_call *call, grpc_byte_buffer *req, void *arg) { execute(call, req, arg, 1); }

static void on_get_info(pit_call *call, grpc_byte_buffer *req, void *arg) {
    pit_worker *w = arg;
    if (req) grpc_byte_buffer_destroy(req);
    Pitboss__V1__InfoResponse info = PITBOSS__V1__INFO_RESPONSE__INIT;
    Pitboss__V1__WorkerStats st = PITBOSS__V1__WORKER_STATS__INIT;
    info.role = "worker";
    info.version = PIT_VERSION;
    info.pid = getpid();
    info.uptime_ms = (pit_mono_us() - w->started_us) / 1000;
    st.pid = getpid();
    st.port = (uint32_t)w->port;
    st.kind = (char *)w->kind;
    st.max_concurrency = (uint32_t)w->max_concurrency;
    st.in_flight = atomic_load(&w->in_flight);
    st.served = atomic_load(&w->served);
    st.cancelled = atomic_load(&w->cancelled);
    st.chunks_sent = atomic_load(&w->chunks_sent);
    st.rss_kb = (uint64_t)pit_proc_rss_kb(0);
    info.worker = &st;
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&info.base), NULL, 0);
}

static void on_list_commands(pit_call *call, grpc_byte_buffer *req, void *arg) {
    pit_worker *w = arg;
    if (req) grpc_byte_buffer_destroy(req);
    Pitboss__V1__ListCommandsResponse resp = PITBOSS__V1__LIST_COMMANDS_RESPONSE__INIT;
    Pitboss__V1__CommandInfo *infos = pit_calloc(w->n_commands, sizeof *infos);
    Pitboss__V1__CommandInfo **ptrs = pit_calloc(w->n_commands, sizeof *ptrs);
    size_t total_params = 0;
    for (size_t i = 0; i < w->n_commands; i++) total_params += w->commands[i]->n_params;
    Pitboss__V1__ParamInfo *params = pit_calloc(total_params + 1, sizeof *params);
    Pitboss__V1__ParamInfo **pptrs = pit_calloc(total_params + 1, sizeof *pptrs);
    size_t p = 0;
    for (size_t i = 0; i < w->n_commands; i++) {
        const pit_command *c = w->commands[i];
        pitboss__v1__command_info__init(&infos[i]);
        infos[i].name = (char *)c->name;
        infos[i].doc = (char *)(c->doc ? c->doc : "");
        infos[i].streaming = c->streaming;
        infos[i].params = &pptrs[p];
        infos[i].n_params = c->n_params;
        for (size_t k = 0; k < c->n_params; k++, p++) {
            pitboss__v1__param_info__init(&params[p]);
            params[p].name = (char *)c->params[k].name;
            params[p].type = (char *)(c->params[k].type ? c->params[k].type : "");
            params[p].required = c->params[k].required;
            params[p].default_json = (char *)(c->params[k].default_json ? c->params[k].default_json : "");
            pptrs[p] = &params[p];
        }
        ptrs[i] = &infos[i];
    }
    resp.pool = "";
    resp.commands = ptrs;
    resp.n_commands = w->n_commands;
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
    free(params);
    free(pptrs);
    free(infos);
    free(ptrs);
}

static void close_session_job(void *arg);

typedef struct {
    pit_worker *w;
    pit_call *call;
    char *session_id;
} close_job;

static void on_close_session(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    pit_worker *w = arg;
    Pitboss__V1__CloseSessionRequest *req = pit_call_unpack(call, &pitboss__v1__close_session_request__descriptor, req_bb);
    if (!req) return;
    if (!w->close_session) { /* this kind keeps no per-session state */
        Pitboss__V1__CloseSessionResponse resp = PITBOSS__V1__CLOSE_SESSION_RESPONSE__INIT;
        pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
    } else {
        /* Taking the GIL may wait for a handler: not on the queue thread. */
        close_job *j = pit_malloc(sizeof *j);
        *j = (close_job){w, call, strdup(req->session_id)};
        pit_work_pool_submit(w->threads, close_session_job, j);
    }
    pitboss__v1__close_session_request__free_unpacked(req, NULL);
}

static void close_session_job(void *arg) {
    close_job *j = arg;
    Pitboss__V1__CloseSessionResponse resp = PITBOSS__V1__CLOSE_SESSION_RESPONSE__INIT;
    resp.closed = j->w->close_session(j->session_id);
    pit_call_finish(j->call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
    free(j->session_id);
    free(j);
}

static void on_health_check(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    (void)arg;
    Grpc__Health__V1__HealthCheckRequest *req = pit_call_unpack(call, &grpc__health__v1__health_check_request__descriptor, req_bb);
    if (!req) return;
    if (req->service[0] && strcmp(req->service, "pitboss.v1.Pool") != 0) {
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND, "unknown service \"%s\" (a worker serves \"\" and "
                              "\"pitboss.v1.Pool\")", req->service);
    } else {
        Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
        resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
        pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&resp.base), NULL, 0);
    }
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

void pit_worker_service_register(pit_worker *w, pit_server *server) {
    pit_server_add_method(server, "/pitboss.v1.Pool/Execute", on_execute, w);
    pit_server_add_method(server, "/pitboss.v1.Pool/ExecuteStream", on_execute_stream, w);
    pit_server_add_method(server, "/pitboss.v1.Pool/GetInfo", on_get_info, w);
    pit_server_add_method(server, "/pitboss.v1.Pool/ListCommands", on_list_commands, w);
    pit_server_add_method(server, "/pitboss.v1.Pool/CloseSession", on_close_session, w);
    pit_server_add_method(server, "/grpc.health.v1.Health/Check", on_health_check, w);
}
