#!/usr/bin/env python3
"""Issue 4 benchmark: a trivial Python handler (`add`) through pitboss (a pool of 2 Python workers)
against a plain /usr/bin/python3 grpcio server (ThreadPoolExecutor) running the same function, under
the same C load generator, in one run. Prints both throughputs, the ratio (goal >= 3x), and the time
a call spends inside a pitboss worker (C + the embedded interpreter + the handler).

    /usr/bin/python3 bench/bench_python.py [--seconds 5] [--concurrency 16]
"""
import argparse
import os
import statistics
import sys
import tempfile

from common import PYGEN, PYTHON, free_port, loadgen, need_build, port_range, start, start_supervisor, stop

HERE = os.path.dirname(os.path.abspath(__file__))


def inside_worker_ms(front, n=2000):
    """elapsed_ms the worker reports for n sequential calls of a handler that does nothing."""
    sys.path.insert(0, PYGEN)
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc
    ch = grpc.insecure_channel(f"127.0.0.1:{front}")
    stub = pb_grpc.PoolStub(ch)
    times = [stub.Execute(pb.ExecuteRequest(command="noop"), timeout=10).elapsed_ms for _ in range(n)]
    ch.close()
    return statistics.median(times), statistics.mean(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--concurrency", type=int, default=16)
    opts = ap.parse_args()
    need_build()
    args = '{"a": 1, "b": 2}'
    runs = []
    # max_concurrency 1 is a python pool's default; 2 lets the next call wait inside the worker, so
    # the worker never idles while an answer travels back and the next call comes in.
    for mc in (1, 2):
        front = free_port()
        base = port_range(4)
        config = {
            "listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
            "workers": {"base_port": base, "port_range": 4},
            "pools": [{"name": "py", "kind": "python", "size": 2, "max_concurrency": mc, "worker_threads": 1,
                       "queue_limit": 4096, "python_path": os.path.join(HERE, "pyhandlers"), "module": "benchhandlers"}],
        }
        with tempfile.TemporaryDirectory() as tmp:
            proc, _ = start_supervisor(config, tmp)
            try:
                r = loadgen(front, opts.concurrency, opts.seconds, command="add", args=args)
                if mc == 1:
                    p50_ms, mean_ms = inside_worker_ms(front)
            finally:
                stop(proc)
        runs.append((f"pitboss, 2 python workers, max_concurrency {mc}", r))
    port = free_port()
    py = start([PYTHON, os.path.join(HERE, "py_add_server.py"), str(port)], port)
    try:
        plain = loadgen(port, opts.concurrency, opts.seconds, command="add", args=args)
    finally:
        stop(py)

    print(f"add(a, b) in Python, {opts.concurrency} calls in flight, {opts.seconds:g} s each after 1 s warm-up, loopback")
    print(f"{'server':<48}{'calls/s':>10}{'p50 us':>9}{'p99 us':>9}{'errors':>8}")
    for name, r in runs + [("python grpcio, ThreadPoolExecutor(16)", plain)]:
        print(f"{name:<48}{r['calls_per_s']:>10.0f}{r['p50_us']:>9.0f}{r['p99_us']:>9.0f}{r['errors']:>8}")
    for name, r in runs:
        ratio = r["calls_per_s"] / plain["calls_per_s"]
        print(f"throughput ratio, {name.split(', ', 1)[1]} / grpcio: {ratio:.2f}x "
              f"(goal >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
    print(f"time inside a pitboss worker per call (no-op handler, 2000 calls): p50 {p50_ms * 1000:.1f} us, "
          f"mean {mean_ms * 1000:.1f} us")


if __name__ == "__main__":
    main()
