/* pitboss: the one user-facing command. Dispatches to its subcommands. */
#include <grpc/status.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cli/cli.h"
#include "serve.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: pitboss <command> [options]\n\n"
            "commands:\n"
            "  serve [-c FILE]         start the supervisor and its workers (default config/pitboss.json)\n"
            "  status                  show the pools and their workers\n"
            "  reload                  re-read the running supervisor's config file, print what changed\n"
            "  call COMMAND [JSON]     run a command, print its result\n"
            "  stream COMMAND [JSON]   run a streaming command, print one chunk a line as it arrives\n"
            "  jobs submit FILE.qasm   queue a quantum circuit as a job (also: status, result, watch, cancel, list)\n"
            "  backends                list the job backends (native pools) and what they run\n"
            "  commands [--pool P]     list a pool's commands and their parameters\n"
            "  version                 print the version (also --version)\n\n"
            "Run 'pitboss <command> --help' for a command's options. The default target of every client\n"
            "command is $PITBOSS_TARGET, else " PIT_DEFAULT_TARGET ".\n"
            "Exit codes (every command): 0 ok, 1 failed (the call, job or server said no, or is unreachable),\n"
            "2 usage or a bad config file, 3 not found (command, pool, job or backend).\n");
}

int main(int argc, char **argv) {
    json_set_alloc_funcs(pit_malloc, free); /* jansson under the allocation policy too (alloc.h) */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) return pit_serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0) return pit_cli_status(argc - 1, argv + 1);
    if (strcmp(cmd, "reload") == 0) return pit_cli_reload(argc - 1, argv + 1);
    if (strcmp(cmd, "call") == 0) return pit_cli_call(argc - 1, argv + 1);
    if (strcmp(cmd, "stream") == 0) return pit_cli_stream(argc - 1, argv + 1);
    if (strcmp(cmd, "jobs") == 0) return pit_cli_jobs(argc - 1, argv + 1);
    if (strcmp(cmd, "backends") == 0) return pit_cli_backends(argc - 1, argv + 1);
    if (strcmp(cmd, "commands") == 0) return pit_cli_commands(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("pitboss %s\n", PIT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "pitboss: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
