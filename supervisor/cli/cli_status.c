/* pitboss status: the supervisor's GetInfo as a table. */
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "buffers.h"
#include "cli/cli.h"
#include "pitboss.pb-c.h"
#include "rpc_client.h"
#include "status.h"

static void usage(FILE *out) {
    fprintf(out, "usage: pitboss status [--target HOST:PORT] [--pool NAME]\n\n"
                 "Prints each pool and worker: pid, port, state, restarts, last exit, in flight, served, sessions.\n");
}

static void print_info(const Pitboss__V1__InfoResponse *info) {
    printf("pitboss %s, pid %d, up %.1f s, serving on %s\n", info->version, info->pid, (double)info->uptime_ms / 1000.0,
           info->listen);
    for (size_t i = 0; i < info->n_pools; i++) {
        const Pitboss__V1__PoolInfo *p = info->pools[i];
        printf("\npool %s (%s): %s, %u worker%s x %u in flight, %u queued of %u, %u in flight, %u session%s\n", p->name,
               p->kind, p->state, p->size, p->size == 1 ? "" : "s", p->max_concurrency, p->queued, p->queue_limit,
               p->in_flight, p->sessions, p->sessions == 1 ? "" : "s");
        if (p->failed_reason[0]) printf("  failed: %s\n", p->failed_reason);
        printf("  %-5s %-8s %-6s %-9s %-8s %-9s %-10s %-8s %-8s %s\n", "SLOT", "PID", "PORT", "STATE", "RESTARTS",
               "IN-FLIGHT", "SERVED", "SESSIONS", "RSS-MB", "LAST EXIT");
        for (size_t k = 0; k < p->n_slots; k++) {
            const Pitboss__V1__SlotInfo *s = p->slots[k];
            char in_flight[32];
            /* "1 (1 abandoned)": a call whose client left while its handler still runs. */
            if (s->abandoned)
                snprintf(in_flight, sizeof in_flight, "%u (%u abandoned)", s->in_flight, s->abandoned);
            else
                snprintf(in_flight, sizeof in_flight, "%u", s->in_flight);
            printf("  %-5u %-8d %-6u %-9s %-8u %-9s %-10llu %-8u %-8.1f %s\n", s->slot, s->pid, s->port, s->state,
                   s->restarts, in_flight, (unsigned long long)s->served, s->sessions, (double)s->rss_kb / 1024.0,
                   s->last_exit[0] ? s->last_exit : "-");
        }
    }
}

/* --target, --pool and --help, as status and commands take them: -1 to go on, else the exit code. */
static int parse_target_pool(int argc, char **argv, void (*print_usage)(FILE *), const char **target,
                             const char **pool) {
    static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                             {"pool", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *target = pit_cli_default_target();
    *pool = "";
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': *target = optarg; break;
        case 'p': *pool = optarg; break;
        case 'h': print_usage(stdout); return PIT_EXIT_OK;
        default: print_usage(stderr); return PIT_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pitboss: unexpected argument \"%s\" (name a pool with --pool)\n", argv[optind]);
        return PIT_EXIT_USAGE;
    }
    return -1;
}

int pit_cli_status(int argc, char **argv) {
    const char *target, *pool;
    int done = parse_target_pool(argc, argv, usage, &target, &pool);
    if (done >= 0) return done;
    grpc_init();
    grpc_channel *chn = pit_channel_create(target, 64u << 20);
    Pitboss__V1__GetInfoRequest req = PITBOSS__V1__GET_INFO_REQUEST__INIT;
    req.pool = (char *)pool;
    pit_call_result r;
    grpc_byte_buffer *resp =
        pit_unary_blocking(chn, "/pitboss.v1.Pool/GetInfo", 10000, NULL, 0, pit_bb_from_pb(&req.base), &r);
    int rc = 0;
    if (r.code != GRPC_STATUS_OK) {
        fprintf(stderr, "pitboss: %s: %s\n", pit_status_name(r.code), r.details);
        if (r.code == GRPC_STATUS_UNAVAILABLE)
            fprintf(stderr, "hint: is pitboss serving on %s? Start it with 'scripts/run.sh', or pass --target.\n", target);
        rc = 1;
    } else {
        Pitboss__V1__InfoResponse *info =
            (Pitboss__V1__InfoResponse *)pit_pb_from_bb(&pitboss__v1__info_response__descriptor, resp);
        if (!info || strcmp(info->role, "supervisor") != 0) {
            fprintf(stderr, "pitboss: %s is not a pitboss supervisor\n", target);
            rc = 1;
        } else {
            print_info(info);
        }
        if (info) pitboss__v1__info_response__free_unpacked(info, NULL);
    }
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
    grpc_channel_destroy(chn);
    grpc_shutdown();
    return rc;
}

/* ---------------------------------------------------------------- pitboss reload */

static void reload_usage(FILE *out) {
    fprintf(out, "usage: pitboss reload [--target HOST:PORT]\n\n"
                 "Makes the running supervisor read its config file again (it sends SIGHUP, so run it on the\n"
                 "supervisor's host as its user), waits for the outcome and prints what changed.\n"
                 "Exit codes: 0 applied, 1 refused (the file is bad: the running config stays) or unreachable,\n"
                 "2 usage.\n");
}

static Pitboss__V1__InfoResponse *get_info(grpc_channel *chn, char *err, size_t errlen) {
    Pitboss__V1__GetInfoRequest req = PITBOSS__V1__GET_INFO_REQUEST__INIT;
    pit_call_result r;
    grpc_byte_buffer *resp =
        pit_unary_blocking(chn, "/pitboss.v1.Pool/GetInfo", 10000, NULL, 0, pit_bb_from_pb(&req.base), &r);
    if (r.code != GRPC_STATUS_OK) {
        snprintf(err, errlen, "%s: %s", pit_status_name(r.code), r.details);
        if (resp) grpc_byte_buffer_destroy(resp);
        pit_call_result_free(&r);
        return NULL;
    }
    Pitboss__V1__InfoResponse *info =
        (Pitboss__V1__InfoResponse *)pit_pb_from_bb(&pitboss__v1__info_response__descriptor, resp);
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
    if (!info || strcmp(info->role, "supervisor") != 0) {
        snprintf(err, errlen, "not a pitboss supervisor");
        if (info) pitboss__v1__info_response__free_unpacked(info, NULL);
        return NULL;
    }
    return info;
}

int pit_cli_reload(int argc, char **argv) {
    static const struct option longopts[] = {{"target", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *target = pit_cli_default_target();
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': target = optarg; break;
        case 'h': reload_usage(stdout); return 0;
        default: reload_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pitboss reload: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    grpc_init();
    grpc_channel *chn = pit_channel_create(target, 64u << 20);
    char err[1200];
    int rc = 1;
    Pitboss__V1__InfoResponse *before = get_info(chn, err, sizeof err);
    if (!before) {
        fprintf(stderr, "pitboss reload: %s: %s\n", target, err);
        goto out;
    }
    uint32_t seen = before->reloads;
    pid_t pid = before->pid;
    pitboss__v1__info_response__free_unpacked(before, NULL);
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "pitboss reload: cannot signal the supervisor (pid %d): %s. Run this on its host as its user, "
                        "or send SIGHUP yourself\n", (int)pid, strerror(errno));
        goto out;
    }
    for (int waited_ms = 0; waited_ms < 30000; waited_ms += 50) {
        Pitboss__V1__InfoResponse *info = get_info(chn, err, sizeof err);
        if (info && info->reloads != seen) {
            if (info->last_reload_ok) {
                printf("reloaded: %s\n", info->last_reload);
                rc = 0;
            } else {
                fprintf(stderr, "pitboss reload: refused: %s\n(the running config stays)\n", info->last_reload);
            }
            pitboss__v1__info_response__free_unpacked(info, NULL);
            goto out;
        }
        if (info) pitboss__v1__info_response__free_unpacked(info, NULL);
        usleep(50000);
    }
    fprintf(stderr, "pitboss reload: sent SIGHUP to pid %d but saw no reload within 30 s (see its log)\n", (int)pid);
out:
    grpc_channel_destroy(chn);
    grpc_shutdown();
    return rc;
}

/* ---------------------------------------------------------------- pitboss commands */

static void commands_usage(FILE *out) {
    fprintf(out, "usage: pitboss commands [--pool NAME] [--target HOST:PORT]\n\n"
                 "Lists the commands a pool serves (default: the default pool), with their parameters.\n"
                 "  --target HOST:PORT   the supervisor (default %s: $PITBOSS_TARGET, else the local one)\n"
                 "Exit codes: 0 ok, 1 failed, 2 usage, 3 no such pool.\n", pit_cli_default_target());
}

int pit_cli_commands(int argc, char **argv) {
    const char *target, *pool;
    int done = parse_target_pool(argc, argv, commands_usage, &target, &pool);
    if (done >= 0) return done;
    grpc_init();
    grpc_channel *chn = pit_channel_create(target, 64u << 20);
    Pitboss__V1__ListCommandsRequest req = PITBOSS__V1__LIST_COMMANDS_REQUEST__INIT;
    req.pool = (char *)pool;
    pit_call_result r;
    grpc_byte_buffer *resp =
        pit_unary_blocking(chn, "/pitboss.v1.Pool/ListCommands", 10000, NULL, 0, pit_bb_from_pb(&req.base), &r);
    int rc = pit_cli_exit_code(r.code);
    if (r.code != GRPC_STATUS_OK) {
        fprintf(stderr, "pitboss commands: %s: %s\n", pit_status_name(r.code), r.details);
    } else {
        Pitboss__V1__ListCommandsResponse *lc =
            (Pitboss__V1__ListCommandsResponse *)pit_pb_from_bb(&pitboss__v1__list_commands_response__descriptor, resp);
        if (!lc) {
            fprintf(stderr, "pitboss commands: the answer is not a valid ListCommandsResponse\n");
            rc = PIT_EXIT_FAILED;
        } else {
            printf("pool %s: %zu command%s\n", lc->pool, lc->n_commands, lc->n_commands == 1 ? "" : "s");
            for (size_t i = 0; i < lc->n_commands; i++) {
                const Pitboss__V1__CommandInfo *c = lc->commands[i];
                printf("  %s(", c->name);
                for (size_t k = 0; k < c->n_params; k++) {
                    const Pitboss__V1__ParamInfo *p = c->params[k];
                    /* name: type, name: type = default, or [name: type] when optional without a default */
                    int bracket = !p->required && !p->default_json[0];
                    printf("%s%s%s%s%s%s%s%s", k ? ", " : "", bracket ? "[" : "", p->name, p->type[0] ? ": " : "",
                           p->type, !p->required && p->default_json[0] ? " = " : "",
                           !p->required && p->default_json[0] ? p->default_json : "", bracket ? "]" : "");
                }
                printf(")%s%s%s\n", c->streaming ? "  [stream]" : "", c->doc[0] ? "  " : "", c->doc);
            }
            pitboss__v1__list_commands_response__free_unpacked(lc, NULL);
        }
    }
    if (resp) grpc_byte_buffer_destroy(resp);
    pit_call_result_free(&r);
    grpc_channel_destroy(chn);
    grpc_shutdown();
    return rc;
}
