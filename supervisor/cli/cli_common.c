/* What every client subcommand shares: the default target, the exit code of a call. */
#include <grpc/status.h>
#include <stdlib.h>

#include "cli/cli.h"

const char *pit_cli_default_target(void) {
    const char *t = getenv("PITBOSS_TARGET");
    return t && *t ? t : PIT_DEFAULT_TARGET;
}

int pit_cli_exit_code(int grpc_code) {
    if (grpc_code == GRPC_STATUS_OK) return PIT_EXIT_OK;
    return grpc_code == GRPC_STATUS_NOT_FOUND ? PIT_EXIT_NOT_FOUND : PIT_EXIT_FAILED;
}
