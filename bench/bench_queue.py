#!/usr/bin/env python3
"""Issue 15 benchmark (1): a deep queue in one pool beside another pool's calls.

Two native pools: A (1 worker, 1 call at a time) and B (1 worker). In interleaved rounds,
pitboss-loadgen pings pool B (16 in flight) while a second loadgen keeps pool A busy with `sleep`
calls of 1 ms: first 2 in flight (A's queue about empty: the baseline, the same work for A), then
--queued in flight (A's queue that deep). Prints B's rate both ways and the ratio (goal >= 0.95 with
5,000 queued in A), and the supervisor's memory per queued call (its RSS with the deep queue, less
with the shallow one, over the calls queued; first round; goal <= 2 KB).

    /usr/bin/python3 bench/bench_queue.py [--queued 5000] [--rounds 3] [--seconds 1]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import BIN, PYGEN, free_port, loadgen, need_build, port_range, start_supervisor, stop

sys.path.insert(0, PYGEN)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def queued_in(stub, pool):
    import pitboss_pb2 as pb
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=5)
    return next(p.queued for p in info.pools if p.name == pool)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queued", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    opts = ap.parse_args()
    need_build()
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc
    front = free_port()
    config = {
        "listen": f"127.0.0.1:{front}",
        "log_level": "warn",
        "workers": {"base_port": port_range(4), "port_range": 4},
        "pools": [{"name": "a", "kind": "native", "size": 1, "max_concurrency": 1, "queue_limit": opts.queued * 2},
                  {"name": "b", "kind": "native", "size": 1, "max_concurrency": 64, "queue_limit": 1024}],
        "metrics": {"listen": ""},
    }
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_supervisor(config, tmp)
        stub = pb_grpc.PoolStub(grpc.insecure_channel(config["listen"]))
        try:
            rate = {2: [], opts.queued: []}
            rss = {}
            for r in range(opts.rounds):
                for depth in (2, opts.queued):
                    busy = subprocess.Popen(
                        [os.path.join(BIN, "pitboss-loadgen"), "--target", f"127.0.0.1:{front}", "--concurrency",
                         str(depth), "--seconds", str(opts.seconds + 30), "--warmup", "0", "--command", "sleep",
                         "--args", '{"ms": 1}', "--pool", "a", "--json"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
                    deadline = time.monotonic() + 30
                    while queued_in(stub, "a") < (depth - 1) * 0.9 and time.monotonic() < deadline:
                        time.sleep(0.05)
                    q0 = queued_in(stub, "a")
                    rss.setdefault(depth, rss_kb(proc.pid))
                    rate[depth].append(loadgen(front, 16, opts.seconds, warmup=0.2, pool="b")["calls_per_s"])
                    q1 = queued_in(stub, "a")
                    busy.terminate()
                    busy.wait()
                    while queued_in(stub, "a") > 0:
                        time.sleep(0.05)
                    print(f"round {r + 1}/{opts.rounds}: a's queue {q0} -> {q1}", flush=True)
        finally:
            stop(proc)
    plain, loaded = statistics.median(rate[2]), statistics.median(rate[opts.queued])
    kb = (rss[opts.queued] - rss[2]) / opts.queued
    print(f"median of {opts.rounds} interleaved rounds; pool b pinged with 16 in flight, pool a doing 1 ms calls")
    print(f"{'pool b':<30}{'calls/s':>10}")
    print(f"{'a with 2 in flight':<30}{plain:>10.0f}")
    print(f"{'a with ' + str(opts.queued) + ' in flight':<30}{loaded:>10.0f}")
    ratio = loaded / plain
    print(f"b beside a's deep queue / beside a's shallow one: {ratio:.2f} (goal >= 0.95: {'met' if ratio >= 0.95 else 'NOT met'})")
    print(f"supervisor memory per queued call: {kb:.1f} KB (goal <= 2 KB: {'met' if kb <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
