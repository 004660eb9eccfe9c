/* The supervisor's own answers: GetInfo, ListCommands, CloseSession and the health service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "alloc.h"
#include "buffers.h"
#include "clock.h"
#include "health.pb-c.h"
#include "log.h"
#include "pitboss.pb-c.h"
#include "rpc_client.h"
#include "core/sessions.h"
#include "api/front.h"
#include "core/supervisor.h"




/* ---------------------------------------------------------------- GetInfo */

static void on_get_info(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__GetInfoRequest *req = pit_call_unpack(call, &pitboss__v1__get_info_request__descriptor, req_bb);
    if (!req) return;
    if (req->pool[0] && !pit_sup_find_pool(sup, req->pool)) {
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND, "unknown pool \"%s\"", req->pool);
        pitboss__v1__get_info_request__free_unpacked(req, NULL);
        return;
    }
    Pitboss__V1__InfoResponse info = PITBOSS__V1__INFO_RESPONSE__INIT;
    info.role = "supervisor";
    info.version = PIT_VERSION;
    info.pid = getpid();
    info.uptime_ms = (pit_mono_us() - sup->started_us) / 1000;
    info.listen = sup->cfg.listen;
    /* Sized under the lock: SIGTTIN, SIGTTOU and reloads change the pools' sizes. */
    pthread_mutex_lock(&sup->mu);
    size_t total_slots = 1, all_pools = (size_t)sup->n_pools + 1; /* +1: never pit_calloc(0) */
    for (int i = 0; i < sup->n_pools; i++) total_slots += (size_t)sup->pools[i].n_slots;
    Pitboss__V1__PoolInfo *pools = pit_calloc(all_pools, sizeof *pools);
    Pitboss__V1__PoolInfo **pool_ptrs = pit_calloc(all_pools, sizeof *pool_ptrs);
    Pitboss__V1__SlotInfo *slots = pit_calloc(total_slots, sizeof *slots);
    Pitboss__V1__SlotInfo **slot_ptrs = pit_calloc(total_slots, sizeof *slot_ptrs);
    char (*exits)[160] = pit_calloc(total_slots, sizeof *exits);
    char (*reasons)[512] = pit_calloc(all_pools, sizeof *reasons);
    size_t n_pools = 0;
    int g = 0;
    for (int i = 0; i < sup->n_pools; i++) {
        pit_pool *p = &sup->pools[i];
        if (p->removed || (req->pool[0] && strcmp(req->pool, p->cfg->name) != 0)) {
            g += p->n_slots;
            continue;
        }
        Pitboss__V1__PoolInfo *pi = &pools[n_pools];
        pitboss__v1__pool_info__init(pi);
        pi->name = p->cfg->name;
        pi->kind = p->cfg->kind == PIT_KIND_PYTHON ? "python" : "native";
        pi->state = p->state == POOL_FAILED ? "failed" : "serving";
        snprintf(reasons[i], sizeof reasons[i], "%s", p->failed_reason);
        pi->failed_reason = reasons[i];
        pi->size = (uint32_t)p->n_slots;
        pi->max_concurrency = (uint32_t)p->cfg->max_concurrency;
        pi->queue_limit = (uint32_t)p->cfg->queue_limit;
        pi->queued = p->queued;
        pi->in_flight = p->in_flight;
        pi->sessions = (uint32_t)pit_sessions_count(p->sessions);
        pi->slots = &slot_ptrs[g];
        pi->n_slots = (size_t)p->n_slots;
        for (int k = 0; k < p->n_slots; k++, g++) {
            pit_slot *s = &p->slots[k];
            Pitboss__V1__SlotInfo *si = &slots[g];
            pitboss__v1__slot_info__init(si);
            si->slot = (uint32_t)k;
            si->pid = s->pid;
            si->port = (uint32_t)s->port;
            si->state = (char *)pit_slot_state_name(s->state);
            si->restarts = s->restarts;
            snprintf(exits[g], sizeof exits[g], "%s", s->last_exit);
            si->last_exit = exits[g];
            si->in_flight = s->in_flight;
            si->abandoned = s->abandoned;
            si->served = s->served;
            si->sessions = (uint32_t)pit_sessions_count_slot(p->sessions, k);
            si->rss_kb = (uint64_t)s->rss_kb;
            slot_ptrs[g] = si;
        }
        pool_ptrs[n_pools++] = pi;
    }
    char last_reload[sizeof sup->last_reload];
    snprintf(last_reload, sizeof last_reload, "%s", sup->last_reload);
    info.reloads = sup->reloads;
    info.last_reload_ok = sup->last_reload_ok;
    info.last_reload = last_reload;
    pthread_mutex_unlock(&sup->mu);
    info.pools = pool_ptrs;
    info.n_pools = n_pools;
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&info.base), NULL, 0);
    free(pools);
    free(pool_ptrs);
    free(slots);
    free(slot_ptrs);
    free(exits);
    free(reasons);
    pitboss__v1__get_info_request__free_unpacked(req, NULL);
}

/* ---------------------------------------------------------------- forwarding to one worker */

typedef struct {
    pit_call *front;
    char pool[128];
    int is_list; /* ListCommands: name the pool in the answer */
    int closed;  /* CloseSession: what to answer */
} forward;

static void on_forward_done(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) {
    forward *f = arg;
    const pit_status *st = pit_ccall_status(cc);
    if (f->is_list) {
        if (st->code != GRPC_STATUS_OK) {
            pit_call_finish_error(f->front, st->code, "pool \"%s\": %s", f->pool, st->details);
        } else {
            Pitboss__V1__ListCommandsResponse *r = (Pitboss__V1__ListCommandsResponse *)pit_pb_from_bb(
                &pitboss__v1__list_commands_response__descriptor, resp);
            if (!r) {
                pit_call_finish_error(f->front, GRPC_STATUS_INTERNAL, "a worker answered ListCommands with garbage");
            } else {
                char *old = r->pool;
                r->pool = f->pool;
                pit_call_finish(f->front, GRPC_STATUS_OK, "", pit_bb_from_pb(&r->base), NULL, 0);
                r->pool = old;
                pitboss__v1__list_commands_response__free_unpacked(r, NULL);
            }
        }
    } else {
        Pitboss__V1__CloseSessionResponse out = PITBOSS__V1__CLOSE_SESSION_RESPONSE__INIT;
        out.closed = f->closed;
        pit_call_finish(f->front, GRPC_STATUS_OK, "", pit_bb_from_pb(&out.base), NULL, 0);
    }
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_ccall_free(cc);
    free(f);
}

static void on_list_commands(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__ListCommandsRequest *req = pit_call_unpack(call, &pitboss__v1__list_commands_request__descriptor, req_bb);
    if (!req) return;
    pit_pool *pool = pit_sup_find_pool(sup, req->pool);
    if (!pool) {
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND, "unknown pool \"%s\"", req->pool);
        pitboss__v1__list_commands_request__free_unpacked(req, NULL);
        return;
    }
    pitboss__v1__list_commands_request__free_unpacked(req, NULL);
    forward *f = pit_calloc(1, sizeof *f);
    f->front = call;
    f->is_list = 1;
    snprintf(f->pool, sizeof f->pool, "%s", pool->cfg->name);
    pit_chan *chan = NULL;
    pthread_mutex_lock(&sup->mu);
    for (int k = 0; k < pool->n_slots && !chan; k++)
        if (pool->slots[k].state == SLOT_READY && pool->slots[k].chan) chan = pool->slots[k].chan;
    if (chan) chan->refs++;
    pthread_mutex_unlock(&sup->mu);
    if (!chan) {
        pit_call_finish_error(call, GRPC_STATUS_UNAVAILABLE, "pool \"%s\" has no ready worker to ask%s%s", pool->cfg->name,
                              pool->state == POOL_FAILED ? ": it has failed: " : "",
                              pool->state == POOL_FAILED ? pool->failed_reason : "");
        free(f);
        return;
    }
    Pitboss__V1__ListCommandsRequest fwd = PITBOSS__V1__LIST_COMMANDS_REQUEST__INIT;
    pit_md md = {PIT_MD_TOKEN, sup->token, 0};
    pit_ccall_unary(chan->ch, sup->cq, "/pitboss.v1.Pool/ListCommands", pit_deadline_in_ms(10000), &md, 1,
                    pit_bb_from_pb(&fwd.base), on_forward_done, f);
    pthread_mutex_lock(&sup->mu);
    pit_chan_unref(chan);
    pthread_mutex_unlock(&sup->mu);
}

static void on_close_session(pit_call *call, grpc_byte_buffer *req_bb, void *arg) {
    pit_sup *sup = arg;
    Pitboss__V1__CloseSessionRequest *req = pit_call_unpack(call, &pitboss__v1__close_session_request__descriptor, req_bb);
    if (!req) return;
    if (!req->session_id[0]) {
        pit_call_finish_error(call, GRPC_STATUS_INVALID_ARGUMENT, "CloseSession needs a session_id");
        pitboss__v1__close_session_request__free_unpacked(req, NULL);
        return;
    }
    pit_pool *pool = pit_sup_find_pool(sup, req->pool);
    if (!pool) {
        pit_call_finish_error(call, GRPC_STATUS_NOT_FOUND, "unknown pool \"%s\"", req->pool);
        pitboss__v1__close_session_request__free_unpacked(req, NULL);
        return;
    }
    int closed = 0;
    pthread_mutex_lock(&sup->mu);
    pit_session *s = pit_sessions_get(pool->sessions, req->session_id);
    if (s) {
        pit_monitor_close_session_on_worker(sup, &pool->slots[s->slot], req->session_id);
        pit_sessions_remove(pool->sessions, req->session_id);
        closed = 1;
    }
    pthread_mutex_unlock(&sup->mu);
    Pitboss__V1__CloseSessionResponse out = PITBOSS__V1__CLOSE_SESSION_RESPONSE__INIT;
    out.closed = closed;
    pit_call_finish(call, GRPC_STATUS_OK, "", pit_bb_from_pb(&out.base), NULL, 0);
    pitboss__v1__close_session_request__free_unpacked(req, NULL);
}

void pit_front_register(pit_sup *sup) {
    pit_server_add_method(sup->server, "/pitboss.v1.Pool/GetInfo", on_get_info, sup);
    pit_server_add_method(sup->server, "/pitboss.v1.Pool/ListCommands", on_list_commands, sup);
    pit_server_add_method(sup->server, "/pitboss.v1.Pool/CloseSession", on_close_session, sup);
}
