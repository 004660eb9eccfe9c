/* GetInfo, ListCommands, CloseSession: the Pool service's calls besides Execute. */
#ifndef PIT_FRONT_H
#define PIT_FRONT_H

#include "core/supervisor.h"

void pit_front_register(pit_sup *sup);

#endif
