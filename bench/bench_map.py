#!/usr/bin/env python3
"""Issue 15 benchmark (2): Client.map (grpcio futures in a window of max_in_flight) beside what it
replaced, a thread per call in flight (a ThreadPoolExecutor of max_in_flight threads calling
Client.execute), on the same ping calls through a real supervisor (native pool of 2). Interleaved
rounds, medians; prints both rates and the ratio (the issue measured 4,530 -> 12,094 calls/s).

    /usr/bin/python3 bench/bench_map.py [--calls 3000] [--window 64] [--rounds 3]
"""
import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time

from common import ROOT, free_port, need_build, port_range, start_supervisor, stop

sys.path.insert(0, os.path.join(ROOT, "bridge", "python"))
import pitboss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    need_build()
    front, base = free_port(), port_range(4)
    config = {"listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
              "workers": {"base_port": base, "port_range": 4},
              "pools": [{"name": "default", "kind": "native", "size": 2, "max_concurrency": 64, "queue_limit": 4096}]}
    n, rates = opts.calls, {"threads": [], "map": []}
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_supervisor(config, tmp)
        try:
            with pitboss.Client(f"127.0.0.1:{front}") as c:
                c.execute("ping")  # connect
                for r in range(opts.rounds):
                    t0 = time.perf_counter()
                    with concurrent.futures.ThreadPoolExecutor(opts.window) as ex:
                        list(ex.map(lambda _: c.execute("ping"), range(n)))
                    rates["threads"].append(n / (time.perf_counter() - t0))
                    t0 = time.perf_counter()
                    results = c.map("ping", [{}] * n, max_in_flight=opts.window)
                    rates["map"].append(n / (time.perf_counter() - t0))
                    bad = [x for x in results if isinstance(x, Exception)]
                    if bad:
                        sys.exit(f"Client.map: {len(bad)} calls failed: {bad[0]}")
                    print(f"round {r + 1}/{opts.rounds} done", flush=True)
        finally:
            stop(proc)
    t, m = statistics.median(rates["threads"]), statistics.median(rates["map"])
    print(f"{n} ping calls, {opts.window} in flight, median of {opts.rounds} interleaved rounds")
    print(f"{'mode':<44}{'calls/s':>10}")
    print(f"{'a thread per call in flight (the old map)':<44}{t:>10.0f}")
    print(f"{'Client.map (futures, window)':<44}{m:>10.0f}")
    print(f"Client.map / threads: {m / t:.2f}")


if __name__ == "__main__":
    main()
