/* The built-in commands of a native worker (ping, echo, sleep, ping_stream, fail). */
#ifndef PIT_NATIVE_COMMANDS_H
#define PIT_NATIVE_COMMANDS_H

#include "process/command.h"

const pit_command *const *pit_native_commands(size_t *n);

#endif
