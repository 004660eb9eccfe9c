#!/usr/bin/env python3
"""Issue 15 benchmark (3): the routing hop with abseil's mutex deadlock detector off (pitboss's
default, common/grpc_tuning.c) beside on (PITBOSS_ABSL_DEADLOCK_DETECTION=1, abseil's default in
Debian's build). One native worker; pitboss-loadgen pings through the supervisor with 16 in flight
and with 1; the two supervisors take turns, interleaved rounds, medians; prints calls/s, the
supervisor's CPU per call and the ratios (the issue measured +6% calls/s).

    /usr/bin/python3 bench/bench_absl.py [--rounds 3] [--seconds 2]
"""
import argparse
import os
import statistics
import tempfile

from common import cpu_seconds, free_port, loadgen, need_build, port_range, start_supervisor, stop


def one_round(detector_on, conc, seconds):
    if detector_on:
        os.environ["PITBOSS_ABSL_DEADLOCK_DETECTION"] = "1"
    else:
        os.environ.pop("PITBOSS_ABSL_DEADLOCK_DETECTION", None)
    front = free_port()
    config = {"listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
              "workers": {"base_port": port_range(2), "port_range": 2},
              "pools": [{"name": "default", "kind": "native", "size": 1, "max_concurrency": 64, "queue_limit": 1024}]}
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_supervisor(config, tmp)
        try:
            c0 = cpu_seconds(proc.pid)
            r = loadgen(front, conc, seconds, warmup=0.5)
            spent = cpu_seconds(proc.pid) - c0
            return r["calls_per_s"], 1e6 * spent / (r["calls_per_s"] * (r["seconds"] + 0.5)), r["p50_us"]
        finally:
            stop(proc)
            os.environ.pop("PITBOSS_ABSL_DEADLOCK_DETECTION", None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2)
    opts = ap.parse_args()
    need_build()
    rows = {}
    for r in range(opts.rounds):
        for conc in (16, 1):
            for on in (True, False):
                rows.setdefault((conc, on), []).append(one_round(on, conc, opts.seconds))
        print(f"round {r + 1}/{opts.rounds} done", flush=True)
    print(f"median of {opts.rounds} interleaved rounds, one native worker, ping")
    print(f"{'in flight':<10}{'detector':<10}{'calls/s':>10}{'sup CPU us':>12}{'p50 us':>10}")
    for conc in (16, 1):
        med = {}
        for on in (True, False):
            vals = rows[(conc, on)]
            med[on] = [statistics.median(v[k] for v in vals) for k in range(3)]
            print(f"{conc:<10}{'on' if on else 'off':<10}{med[on][0]:>10.0f}{med[on][1]:>12.1f}{med[on][2]:>10.0f}")
        print(f"{'':<10}off / on: calls/s {med[False][0] / med[True][0]:.3f}, supervisor CPU per call "
              f"{med[False][1] / med[True][1]:.3f}")


if __name__ == "__main__":
    main()
