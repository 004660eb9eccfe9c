#!/usr/bin/env python3
"""Issue 2 benchmark: a native pitboss-worker's `ping` against a plain Python grpcio server
(ThreadPoolExecutor) answering the same `ping`, under the same C load generator, in one run.
Prints calls/s, p50 and p99 for both and the throughput ratio (goal: worker >= 3x).

    /usr/bin/python3 bench/bench_worker.py [--seconds 5] [--concurrency 16]
"""
import argparse
import os

from common import BIN, PYTHON, free_port, loadgen, need_build, start, stop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--concurrency", type=int, default=16)
    opts = ap.parse_args()
    need_build()

    port = free_port()
    worker = start([os.path.join(BIN, "pitboss-worker"), "--port", str(port)], port)
    try:
        w = loadgen(port, opts.concurrency, opts.seconds)
    finally:
        stop(worker)

    port = free_port()
    here = os.path.dirname(os.path.abspath(__file__))
    py = start([PYTHON, os.path.join(here, "py_ping_server.py"), str(port), "16"], port)
    try:
        p = loadgen(port, opts.concurrency, opts.seconds)
    finally:
        stop(py)

    print(f"ping, {opts.concurrency} calls in flight, {opts.seconds:g} s each (after 1 s warm-up), loopback")
    print(f"{'server':<34}{'calls/s':>10}{'p50 us':>10}{'p99 us':>10}{'errors':>8}")
    for name, r in (("pitboss-worker (C, native)", w), ("python grpcio ThreadPoolExecutor", p)):
        print(f"{name:<34}{r['calls_per_s']:>10.0f}{r['p50_us']:>10.0f}{r['p99_us']:>10.0f}{r['errors']:>8}")
    ratio = w["calls_per_s"] / p["calls_per_s"] if p["calls_per_s"] else float("inf")
    print(f"throughput ratio worker/python: {ratio:.2f}x (goal >= 3x: {'met' if ratio >= 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
