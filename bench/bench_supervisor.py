#!/usr/bin/env python3
"""Issue 3 benchmark: the same load on one native worker directly, then through the supervisor, in one run.
Prints calls/s and latency for both, the throughput ratio (goal >= 0.6) and the p50 latency the
supervisor adds (goal < 60 us), at 16 calls in flight and with one call at a time.

    /usr/bin/python3 bench/bench_supervisor.py [--seconds 5]
"""
import argparse
import tempfile

from common import cpu_seconds, free_port, loadgen, need_build, port_range, start_supervisor, stop, worker_token


def measured(port, conc, seconds, pids, token=None):
    """Runs the load; adds the CPU microseconds per call each process in pids spent (warm-up included)."""
    before = [cpu_seconds(p) for p in pids]
    r = loadgen(port, conc, seconds, token=token)
    spent = [cpu_seconds(p) - b for p, b in zip(pids, before)]
    calls = r["calls_per_s"] * (r["seconds"] + 1.0)  # the 1 s warm-up ran at about the same rate
    r["cpu_us"] = [1e6 * s / calls for s in spent]
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    opts = ap.parse_args()
    need_build()
    front = free_port()
    base = port_range(4)
    config = {
        "listen": f"127.0.0.1:{front}",
        "log_level": "warn",
        "workers": {"base_port": base, "port_range": 4},
        "pools": [{"name": "default", "kind": "native", "size": 1, "max_concurrency": 64, "queue_limit": 1024}],
        "metrics": {"listen": ""},
    }
    with tempfile.TemporaryDirectory() as tmp:
        proc, info = start_supervisor(config, tmp)
        try:
            slot = info.pools[0].slots[0]
            token = worker_token(slot.pid)
            rows = []
            for conc in (16, 1):
                direct = measured(slot.port, conc, opts.seconds, [proc.pid, slot.pid], token=token)
                via = measured(front, conc, opts.seconds, [proc.pid, slot.pid])
                rows.append((conc, direct, via))
        finally:
            stop(proc)

    print(f"ping on one native worker, {opts.seconds:g} s per run after 1 s warm-up, loopback, 2 cores shared by all")
    print(f"{'in flight':>9}  {'path':<18}{'calls/s':>10}{'p50 us':>9}{'p99 us':>9}{'errors':>8}"
          f"{'CPU us/call: supervisor':>25}{'worker':>8}")
    for conc, direct, via in rows:
        for name, r in (("worker directly", direct), ("through pitboss", via)):
            print(f"{conc:>9}  {name:<18}{r['calls_per_s']:>10.0f}{r['p50_us']:>9.0f}{r['p99_us']:>9.0f}{r['errors']:>8}"
                  f"{r['cpu_us'][0]:>25.1f}{r['cpu_us'][1]:>8.1f}")
    conc, direct, via = rows[0]
    ratio = via["calls_per_s"] / direct["calls_per_s"]
    _, d1, v1 = rows[1]
    added = v1["p50_us"] - d1["p50_us"]
    print(f"throughput ratio at 16 in flight, through/direct: {ratio:.2f} (goal >= 0.6: {'met' if ratio >= 0.6 else 'NOT met'})")
    print(f"p50 added by the supervisor, one call at a time: {added:.0f} us (goal < 60 us: {'met' if added < 60 else 'NOT met'})")
    print("note: the load generator, the supervisor and the worker share this machine's cores; the supervisor's CPU per"
          " call (a gRPC server and a gRPC client) bounds the ratio when the cores are the limit.")


if __name__ == "__main__":
    main()
