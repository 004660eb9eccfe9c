/*
 * grpc_tuning.h. abseil's SetMutexDeadlockDetectionMode is C++; the project is C (no C++ compiler
 * in the build), so it is looked up by its mangled name in the abseil already loaded for gRPC.
 * The names below are Debian 12's (inline namespace "debian3") and upstream's for the same release;
 * a build that has neither is left as it is. The enum's kIgnore is 0, passed as the int it is.
 */
#include "grpc_tuning.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const set_mode_names[] = {
    "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE",
    "_ZN4absl12lts_2022062329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE",
};

int pit_grpc_tune(void) {
    const char *keep = getenv(PIT_ENV_ABSL_DEADLOCK_DETECTION);
    if (keep && strcmp(keep, "1") == 0) return 0;
    for (size_t i = 0; i < sizeof set_mode_names / sizeof set_mode_names[0]; i++) {
        void *sym = dlsym(RTLD_DEFAULT, set_mode_names[i]);
        if (!sym) continue;
        void (*set_mode)(int);
        memcpy(&set_mode, &sym, sizeof set_mode); /* object pointer to function pointer, as POSIX allows */
        set_mode(0 /* absl::OnDeadlockCycle::kIgnore */);
        return 1;
    }
    pit_debug("abseil's SetMutexDeadlockDetectionMode not found: its deadlock detector stays as it is");
    return 0;
}
