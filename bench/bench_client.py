#!/usr/bin/env python3
"""Issue 6 benchmark: the reference client's table on the same work: 500 `ping` calls through a real
supervisor (native pool of 2), sequential, with threads, with AsyncClient, and with Client.map.
Prints calls/s for each.

    /usr/bin/python3 bench/bench_client.py [--calls 500]
"""
import argparse
import asyncio
import concurrent.futures
import os
import sys
import tempfile
import time

from common import ROOT, free_port, need_build, port_range, start_supervisor, stop

sys.path.insert(0, os.path.join(ROOT, "bridge", "python"))
import pitboss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--threads", type=int, default=16)
    opts = ap.parse_args()
    need_build()
    front, base = free_port(), port_range(4)
    config = {"listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
              "workers": {"base_port": base, "port_range": 4},
              "pools": [{"name": "default", "kind": "native", "size": 2, "max_concurrency": 32, "queue_limit": 4096}]}
    n = opts.calls
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_supervisor(config, tmp)
        try:
            addr = f"127.0.0.1:{front}"
            with pitboss.Client(addr) as c:
                c.execute("ping")  # connect
                t0 = time.perf_counter()
                for _ in range(n):
                    c.execute("ping")
                rows.append(("sequential (Client.execute)", n / (time.perf_counter() - t0)))

                t0 = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(opts.threads) as ex:
                    list(ex.map(lambda _: c.execute("ping"), range(n)))
                rows.append((f"threads ({opts.threads}, one Client)", n / (time.perf_counter() - t0)))

                t0 = time.perf_counter()
                results = c.map("ping", [{}] * n, max_in_flight=64)
                assert all(not isinstance(r, Exception) for r in results)
                rows.append(("Client.map (max_in_flight=64)", n / (time.perf_counter() - t0)))

            async def run_async():
                async with pitboss.AsyncClient(addr) as ac:
                    await ac.execute("ping")
                    t = time.perf_counter()
                    await asyncio.gather(*(ac.execute("ping") for _ in range(n)))
                    return n / (time.perf_counter() - t)

            rows.insert(2, ("AsyncClient (gather)", asyncio.run(run_async())))
        finally:
            stop(proc)
    print(f"{n} ping calls through pitboss (native pool of 2), loopback, 2 cores shared by all")
    print(f"{'mode':<36}{'calls/s':>10}")
    for name, rate in rows:
        print(f"{name:<36}{rate:>10.0f}")


if __name__ == "__main__":
    main()
