#include "clock.h"

#include <time.h>

int64_t pit_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pit_wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

gpr_timespec pit_deadline_in_ms(int64_t ms) {
    if (ms <= 0) return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int pit_deadline_is_infinite(gpr_timespec deadline) {
    return gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0;
}

int64_t pit_deadline_remaining_ms(gpr_timespec deadline) {
    if (pit_deadline_is_infinite(deadline)) return INT64_MAX;
    gpr_timespec mono = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
    gpr_timespec left = gpr_time_sub(mono, gpr_now(GPR_CLOCK_MONOTONIC));
    return gpr_time_to_millis(left);
}

gpr_timespec pit_deadline_min(gpr_timespec a, gpr_timespec b) {
    gpr_timespec am = gpr_convert_clock_type(a, GPR_CLOCK_MONOTONIC);
    gpr_timespec bm = gpr_convert_clock_type(b, GPR_CLOCK_MONOTONIC);
    return gpr_time_cmp(am, bm) <= 0 ? am : bm;
}
