#!/usr/bin/env python3
"""Issue 12 benchmark: choosing the restart backoff defaults. A pool of 2 native workers takes pings at
8 in flight while one of its workers is killed every 200 ms (a flapping pool: an OOM killer, a bad
deploy). Each backoff setting runs in the same process tree, interleaved over several rounds; the
median calls/s of each is printed with its ratio to the old default (100 ms doubling to 5 s).

    /usr/bin/python3 bench/bench_flapping.py [--seconds 6] [--rounds 3]
"""
import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time

from common import PYGEN, free_port, loadgen, need_build, port_range, start_supervisor, stop

SETTINGS = [  # (name, backoff_initial_ms, backoff_max_ms)
    ("old default 100 ms .. 5 s", 100, 5000),
    ("10 ms .. 1 s", 10, 1000),
    ("10 ms .. 100 ms", 10, 100),
    ("25 ms .. 500 ms", 25, 500),
]


def run(initial, maximum, seconds, kill_every):
    sys.path.insert(0, PYGEN)
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc

    front, base = free_port(), port_range(8)
    config = {"listen": f"127.0.0.1:{front}", "log_level": "error", "workers": {"base_port": base, "port_range": 8},
              "pools": [{"name": "default", "kind": "native", "size": 2, "max_concurrency": 4, "queue_limit": 256}],
              "restart": {"backoff_initial_ms": initial, "backoff_max_ms": maximum, "max_restarts": 1000000},
              "metrics": {"listen": ""}}
    with tempfile.TemporaryDirectory() as tmp:
        config["state_dir"] = tmp
        proc, _ = start_supervisor(config, tmp)
        stub = pb_grpc.PoolStub(grpc.insecure_channel(config["listen"]))
        stop_killing = threading.Event()
        kills = [0]

        def killer():
            while not stop_killing.wait(kill_every):
                try:
                    pids = [s.pid for s in stub.GetInfo(pb.GetInfoRequest(), timeout=2).pools[0].slots if s.pid]
                except grpc.RpcError:
                    continue
                if pids:
                    try:
                        os.kill(random.choice(pids), signal.SIGKILL)
                        kills[0] += 1
                    except ProcessLookupError:
                        pass

        t = threading.Thread(target=killer)
        t.start()
        try:
            r = loadgen(front, 8, seconds, warmup=0.5)
        finally:
            stop_killing.set()
            t.join()
            stop(proc)
        return r["calls_per_s"], kills[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kill-every", type=float, default=0.2)
    opts = ap.parse_args()
    need_build()
    results = {name: [] for name, _, _ in SETTINGS}
    for rnd in range(opts.rounds):
        for name, initial, maximum in SETTINGS:  # interleaved: each round runs every setting once
            rate, kills = run(initial, maximum, opts.seconds, opts.kill_every)
            results[name].append(rate)
            print(f"round {rnd + 1}: {name:28s} {rate:9.0f} calls/s ({kills} kills)", file=sys.stderr, flush=True)
    base = statistics.median(results[SETTINGS[0][0]])
    print(f"\n2 native workers, 8 calls in flight, one worker killed every {opts.kill_every * 1000:.0f} ms; "
          f"median of {opts.rounds} rounds of {opts.seconds:.0f} s\n")
    print(f"{'restart backoff':30s} {'calls/s':>9s} {'ratio':>7s}")
    for name, _, _ in SETTINGS:
        med = statistics.median(results[name])
        print(f"{name:30s} {med:9.0f} {med / base if base else float('inf'):6.1f}x")


if __name__ == "__main__":
    main()
