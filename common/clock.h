/* Time helpers. Monotonic time is what deadlines are measured in; wall time is for humans. */
#ifndef PIT_CLOCK_H
#define PIT_CLOCK_H

#include <stdint.h>
#include <grpc/support/time.h>

int64_t pit_mono_us(void);   /* monotonic clock, microseconds */
int64_t pit_wall_us(void);   /* microseconds since the Unix epoch */

/* Deadlines as gRPC wants them (GPR_CLOCK_MONOTONIC). A ms of 0 or less means "no deadline". */
gpr_timespec pit_deadline_in_ms(int64_t ms);
/* Milliseconds until a gRPC deadline; INT64_MAX when it is infinite, negative when past. */
int64_t pit_deadline_remaining_ms(gpr_timespec deadline);
int pit_deadline_is_infinite(gpr_timespec deadline);
/* The earlier of two deadlines. */
gpr_timespec pit_deadline_min(gpr_timespec a, gpr_timespec b);

#endif
