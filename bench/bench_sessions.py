#!/usr/bin/env python3
"""Issue 15 benchmark (1): opening sessions while many are open, beside calls without sessions.

A supervisor with one native pool of 4 workers; first 10,000 sessions are opened (one ping each),
then, in interleaved rounds, pitboss-loadgen runs 16 calls in flight of session-less pings, and of
pings that each open a new session (--new-sessions). Prints both rates, the supervisor's CPU per
call, the ratio (goal: new-session calls >= 0.9x session-less ones at 10,000 open sessions) and how
many sessions were open during the run (each new-session round adds its calls).

    /usr/bin/python3 bench/bench_sessions.py [--open 10000] [--rounds 3] [--seconds 0.5]
"""
import argparse
import os
import statistics
import sys
import tempfile

from common import PYGEN, cpu_seconds, free_port, loadgen, need_build, port_range, start_supervisor, stop

sys.path.insert(0, PYGEN)


def open_sessions(target, n, window=64):
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc
    stub = pb_grpc.PoolStub(grpc.insecure_channel(target))
    pending = []
    for i in range(n):
        pending.append(stub.Execute.future(pb.ExecuteRequest(command="ping", args_json="{}", session_id=f"open-{i}"),
                                           timeout=30))
        if len(pending) == window:
            for f in pending:
                f.result()
            pending = []
        if (i + 1) % 2000 == 0:
            print(f"  {i + 1} sessions open", flush=True)
    for f in pending:
        f.result()
    return stub


def open_count(stub):
    import pitboss_pb2 as pb
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=5)
    return sum(s.sessions for p in info.pools for s in p.slots)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.5)
    opts = ap.parse_args()
    need_build()
    front = free_port()
    config = {
        "listen": f"127.0.0.1:{front}",
        "log_level": "warn",
        "workers": {"base_port": port_range(4), "port_range": 4},
        "pools": [{"name": "default", "kind": "native", "size": 4, "max_concurrency": 64, "queue_limit": 1024}],
        "sessions": {"max_sessions": 1000000, "ttl_s": 3600},
        "metrics": {"listen": ""},
    }
    target = config["listen"]
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_supervisor(config, tmp)
        try:
            print(f"opening {opts.open} sessions", flush=True)
            stub = open_sessions(target, opts.open)
            before = open_count(stub)
            rates = {"plain": [], "new": []}
            cpu = {"plain": [], "new": []}
            for r in range(opts.rounds):
                for kind in ("plain", "new"):
                    extra = {} if kind == "plain" else {"new_sessions": f"round{r}"}
                    c0 = cpu_seconds(proc.pid)
                    res = loadgen(front, 16, opts.seconds, warmup=0.2, **extra)
                    spent = cpu_seconds(proc.pid) - c0
                    if res["errors"]:
                        sys.exit(f"{kind}: {res['errors']} errors")
                    calls = res["calls_per_s"] * (res["seconds"] + 0.2)
                    rates[kind].append(res["calls_per_s"])
                    cpu[kind].append(1e6 * spent / calls)
                print(f"round {r + 1}/{opts.rounds} done", flush=True)
            after = open_count(stub)
        finally:
            stop(proc)
    plain, new = statistics.median(rates["plain"]), statistics.median(rates["new"])
    print(f"median of {opts.rounds} interleaved rounds, 16 calls in flight, pool of 4 native workers; "
          f"open sessions {before} -> {after}")
    print(f"{'calls':<22}{'calls/s':>10}{'sup CPU us/call':>18}")
    print(f"{'without a session':<22}{plain:>10.0f}{statistics.median(cpu['plain']):>18.1f}")
    print(f"{'each a new session':<22}{new:>10.0f}{statistics.median(cpu['new']):>18.1f}")
    ratio = new / plain
    print(f"new-session / session-less: {ratio:.2f} (goal >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
