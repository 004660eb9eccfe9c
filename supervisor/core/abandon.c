#include "protocol.h"
#include "alloc.h"
#include "core/abandon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffers.h"
#include "clock.h"
#include "log.h"
#include "pitboss.pb-c.h"
#include "rpc_client.h"

static pit_sup *g_sup;
static ev_timer g_tick;

typedef struct {
    pit_sup *sup;
    pit_slot *slot;
    uint32_t generation;
} probe;

/* Under sup->mu: the worker runs `running` calls; those beyond the live ones are still abandoned. */
uint32_t pit_abandon_settle_locked(pit_slot *slot, uint32_t running) {
    uint32_t live = slot->in_flight - slot->abandoned;
    uint32_t still = running > live ? running - live : 0;
    if (still >= slot->abandoned) return 0;
    uint32_t ended = slot->abandoned - still;
    slot->abandoned = still;
    slot->in_flight -= ended;
    slot->pool->in_flight -= ended;
    /* The oldest are taken as the ones that ended: the grace runs from the newest that remain. */
    int drop = (int)ended < slot->n_abandoned_at ? (int)ended : slot->n_abandoned_at;
    memmove(slot->abandoned_at, slot->abandoned_at + drop, (size_t)(slot->n_abandoned_at - drop) * sizeof(int64_t));
    slot->n_abandoned_at -= drop;
    if (!still) slot->n_abandoned_at = 0;
    if (slot->state == SLOT_DRAINING && slot->in_flight == 0) pit_slot_went_idle(slot->pool->sup, slot);
    return ended;
}

static void on_probe_answer(pit_ccall *cc, grpc_byte_buffer *resp, void *arg) {
    probe *pr = arg;
    pit_sup *sup = pr->sup;
    pit_slot *slot = pr->slot;
    Pitboss__V1__InfoResponse *info = NULL;
    if (resp) {
        info = (Pitboss__V1__InfoResponse *)pit_pb_from_bb(&pitboss__v1__info_response__descriptor, resp);
        grpc_byte_buffer_destroy(resp);
    }
    uint32_t ended = 0;
    pthread_mutex_lock(&sup->mu);
    if (slot->generation == pr->generation) {
        slot->abandon_probe_pending = 0;
        if (info && info->worker) ended = pit_abandon_settle_locked(slot, info->worker->in_flight);
    }
    int more = ended > 0;
    pthread_mutex_unlock(&sup->mu);
    if (more) pit_cq_loop_wake(sup->loop); /* queued calls may go to the room this made */
    if (info) pitboss__v1__info_response__free_unpacked(info, NULL);
    pit_ccall_free(cc);
    free(pr);
}

/* Under sup->mu. */
static void send_probe_locked(pit_sup *sup, pit_slot *slot) {
    if (slot->abandon_probe_pending || !slot->chan || !slot->pid) return;
    probe *pr = pit_malloc(sizeof *pr);
    *pr = (probe){sup, slot, slot->generation};
    slot->abandon_probe_pending = 1;
    Pitboss__V1__GetInfoRequest req = PITBOSS__V1__GET_INFO_REQUEST__INIT;
    pit_md md = {PIT_MD_TOKEN, sup->token, 0};
    pit_ccall_unary(slot->chan->ch, sup->cq, "/pitboss.v1.Pool/GetInfo", pit_deadline_in_ms(2000), &md, 1,
                    pit_bb_from_pb(&req.base), on_probe_answer, pr);
}

void pit_abandon_add_locked(pit_sup *sup, pit_slot *slot, const char *command) {
    slot->abandoned++;
    if (slot->n_abandoned_at < PIT_ABANDON_TRACKED) slot->abandoned_at[slot->n_abandoned_at++] = pit_mono_us();
    snprintf(slot->abandoned_command, sizeof slot->abandoned_command, "%s", command);
    send_probe_locked(sup, slot);
}

void pit_abandon_reset_locked(pit_slot *slot) {
    slot->in_flight -= slot->abandoned;
    slot->pool->in_flight -= slot->abandoned;
    slot->abandoned = 0;
    slot->n_abandoned_at = 0;
    slot->abandon_probe_pending = 0;
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop;
    (void)t;
    (void)revents;
    pit_sup *sup = g_sup;
    int64_t now = pit_mono_us(), grace_us = sup->cfg.timeouts.abandon_grace_ms * 1000;
    pthread_mutex_lock(&sup->mu);
    for (int i = 0; i < sup->n_pools; i++) {
        pit_pool *pool = &sup->pools[i];
        for (int k = 0; k < pool->n_slots; k++) {
            pit_slot *slot = &pool->slots[k];
            if (!slot->abandoned || !slot->pid) continue;
            int64_t since = slot->n_abandoned_at ? slot->abandoned_at[0] : now;
            if (now - since > grace_us && !slot->overran_kill_sent) {
                pit_warn("worker %d of pool \"%s\" (pid %d) still runs %u call(s) whose client is gone (the oldest "
                         "ended %lld ms ago, command \"%s\"), past timeouts.abandon_grace_ms (%lld): killing it",
                         slot->index, pool->cfg->name, (int)slot->pid, slot->abandoned, (long long)((now - since) / 1000),
                         slot->abandoned_command, (long long)sup->cfg.timeouts.abandon_grace_ms);
                slot->overran_kill_sent = 1;
                pool->killed_overran++;
                kill(slot->pid, SIGKILL);
                continue;
            }
            send_probe_locked(sup, slot);
        }
    }
    pthread_mutex_unlock(&sup->mu);
}

void pit_abandon_start(pit_sup *sup) {
    g_sup = sup;
    double every = PIT_ABANDON_PROBE_MS / 1000.0;
    ev_timer_init(&g_tick, on_tick, every, every);
    ev_timer_start(sup->ev, &g_tick);
}
