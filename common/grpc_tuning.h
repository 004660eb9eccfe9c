/* Process-wide settings for the gRPC core and the libraries under it, made once before grpc_init
 * (the supervisor's serve and the worker's main). */
#ifndef PIT_GRPC_TUNING_H
#define PIT_GRPC_TUNING_H

/* Environment variable: set to 1 to keep abseil's mutex deadlock detector (what a lock-order bug
 * hunt wants; it costs ~6% of the supervisor's calls/s). */
#define PIT_ENV_ABSL_DEADLOCK_DETECTION "PITBOSS_ABSL_DEADLOCK_DETECTION"

/* Turns off abseil's mutex deadlock detector, which Debian's abseil runs in every gRPC mutex
 * (2% of the supervisor's CPU in GraphCycles), unless PIT_ENV_ABSL_DEADLOCK_DETECTION=1. Returns 1
 * when it was turned off, 0 when kept on or not found (another abseil build: nothing is done). */
int pit_grpc_tune(void);

#endif
