#!/usr/bin/env python3
"""Issue 7 benchmark: the reference jobs client's table on the same work: 50 jobs x 100 shots of a
small circuit (Bell pair) through a real supervisor and its native pool, submitted and waited for
(a) one after another, (b) with threads, (c) with AsyncJobsClient, (d) with BatchJobManager.
Prints jobs/s for each, and the reference's figures beside them.

    /usr/bin/python3 bench/bench_jobs.py [--jobs 50] [--rounds 5]

Each row is the best of --rounds runs (50 jobs take milliseconds here: one run is noise).
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

BELL = 'OPENQASM 3; include "stdgates.inc"; qubit[2] q; bit[2] c; h q[0]; cx q[0], q[1]; c = measure q;'
REFERENCE = {"sequential": 2.0, "threads": 9.6, "async": 13.2, "batch": 16.1}


def best(rounds, fn):
    """jobs/s of the fastest of `rounds` runs of fn (which returns the number of jobs it finished)."""
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    return max(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--shots", type=int, default=100)
    ap.add_argument("--threads", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    opts = ap.parse_args()
    need_build()
    n, shots = opts.jobs, opts.shots
    front, base = free_port(), port_range(4)
    with tempfile.TemporaryDirectory() as tmp:
        config = {"listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
                  "state_dir": os.path.join(tmp, "state"),
                  "workers": {"base_port": base, "port_range": 4},
                  "pools": [{"name": "default", "kind": "native", "size": 2, "max_concurrency": 4,
                             "backend": "simulator"}]}
        proc, _ = start_supervisor(config, tmp)
        rows = []
        try:
            addr = f"127.0.0.1:{front}"
            with pitboss.JobsClient(addr) as jobs:
                jobs.wait_for_job(jobs.submit_qasm(BELL, "simulator", shots))  # connect, warm up

                def sequential():
                    for _ in range(n):
                        jobs.wait_for_job(jobs.submit_qasm(BELL, "simulator", shots))
                    return n
                rows.append(("sequential (submit + wait_for_job)", "sequential", best(opts.rounds, sequential)))

                def threads():
                    with concurrent.futures.ThreadPoolExecutor(opts.threads) as ex:
                        list(ex.map(lambda _: jobs.wait_for_job(jobs.submit_qasm(BELL, "simulator", shots)), range(n)))
                    return n
                rows.append((f"threads ({opts.threads}, one JobsClient)", "threads", best(opts.rounds, threads)))

                async def run_async():
                    async with pitboss.AsyncJobsClient(addr) as aj:
                        await aj.wait_for_job(await aj.submit_qasm(BELL, "simulator", shots))
                        rates = []
                        for _ in range(opts.rounds):
                            t0 = time.perf_counter()
                            ids = await asyncio.gather(*(aj.submit_qasm(BELL, "simulator", shots) for _ in range(n)))
                            await asyncio.gather(*(aj.wait_for_job(i) for i in ids))
                            rates.append(n / (time.perf_counter() - t0))
                        return max(rates)
                rows.append(("AsyncJobsClient (gather)", "async", asyncio.run(run_async())))

                with pitboss.BatchJobManager(jobs, max_workers=opts.threads) as manager:
                    def batch():
                        r = manager.execute_batch([(BELL, shots)] * n, "simulator")
                        assert r.success_count == n, r.errors
                        return n
                    rows.append(("BatchJobManager.execute_batch", "batch", best(opts.rounds, batch)))
                    # The same manager on a batch large enough to measure steady throughput.
                    big = 20 * n
                    t0 = time.perf_counter()
                    r = manager.execute_batch([(BELL, shots)] * big, "simulator")
                    assert r.success_count == big
                    big_rate = big / (time.perf_counter() - t0)
        finally:
            stop(proc)

    print(f"{n} jobs x {shots} shots (Bell pair), pitboss native pool of 2 workers, best of {opts.rounds} runs\n")
    print(f"{'method':40} {'jobs/s':>9} {'reference':>10} {'ratio':>8}")
    for label, key, rate in rows:
        print(f"{label:40} {rate:9.0f} {REFERENCE[key]:10.1f} {rate / REFERENCE[key]:7.0f}x")
    print(f"{'BatchJobManager, ' + str(20 * n) + ' jobs in one batch':40} {big_rate:9.0f}")
    batch_rate = next(rate for _, key, rate in rows if key == "batch")
    print(f"\nBatchJobManager: {batch_rate:.0f} jobs/s (goal >= 1000 jobs/s: {'met' if batch_rate >= 1000 else 'NOT met'})")


if __name__ == "__main__":
    main()
