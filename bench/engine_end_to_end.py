#!/usr/bin/env python3
"""Issue 14 benchmark: what run_circuit through the supervisor costs over the simulation itself.

The same circuit (bench/engine_peers.py's random layered circuit, with final measurements) is run
(a) in one process by pitboss-engine-run --shots N (the time it reports for parsing, allocating,
simulating and sampling: the baseline, without its process start),
and (b) as run_circuit through a real supervisor and a native worker (one at a time, the pool
warmed up), the client's wall time. Interleaved rounds, medians; the ratio b / a is what the hop,
the JSON and the worker's checks add.

    /usr/bin/python3 bench/engine_end_to_end.py [--qubits 18,20,22] [--shots 1000] [--rounds 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import BIN, PYGEN, free_port, need_build, port_range, start_supervisor, stop
from engine_peers import layered

sys.path.insert(0, PYGEN)


def qasm_of(n):
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];"]
    for name, qs, a in layered(n):
        args = f"({a!r})" if a is not None else ""
        lines.append(f"{name}{args} " + ", ".join(f"q[{q}]" for q in qs) + ";")
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qubits", default="18,20,22")
    ap.add_argument("--shots", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    opts = ap.parse_args()
    need_build()
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc

    sizes = [int(x) for x in opts.qubits.split(",")]
    front, base = free_port(), port_range(2)
    with tempfile.TemporaryDirectory() as tmp:
        config = {"listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
                  "state_dir": os.path.join(tmp, "state"), "workers": {"base_port": base, "port_range": 2},
                  "pools": [{"name": "default", "kind": "native", "size": 1, "max_qubits": max(sizes)}]}
        proc, _ = start_supervisor(config, tmp)
        stub = pb_grpc.PoolStub(grpc.insecure_channel(config["listen"]))
        try:
            times = {n: {"engine": [], "supervisor": []} for n in sizes}
            files = {}
            for n in sizes:
                files[n] = os.path.join(tmp, f"layered{n}.qasm")
                open(files[n], "w").write(qasm_of(n))
                stub.Execute(pb.ExecuteRequest(command="run_circuit", args_json=json.dumps(
                    {"qasm": qasm_of(n), "shots": opts.shots})), timeout=600)  # warm up
            for r in range(opts.rounds):
                for n in sizes:
                    order = ["engine", "supervisor"] if r % 2 == 0 else ["supervisor", "engine"]
                    for way in order:
                        if way == "engine":  # its own parse + simulate + sample time, no process start
                            out = subprocess.run([os.path.join(BIN, "pitboss-engine-run"), files[n], "--shots",
                                                  str(opts.shots)], check=True, capture_output=True, text=True)
                            ms = json.loads(out.stdout)
                            times[n][way].append((ms["parse_ms"] + ms["sim_ms"]) / 1000)
                        else:
                            t0 = time.perf_counter()
                            reply = stub.Execute(pb.ExecuteRequest(command="run_circuit", args_json=json.dumps(
                                {"qasm": qasm_of(n), "shots": opts.shots})), timeout=600)
                            times[n][way].append(time.perf_counter() - t0)
                            assert sum(json.loads(reply.result_json)["counts"].values()) == opts.shots
                print(f"round {r + 1}/{opts.rounds} done", file=sys.stderr, flush=True)
        finally:
            stop(proc)
    print(f"run_circuit ({opts.shots} shots, layered circuit) through the supervisor vs the engine in one process; "
          f"median wall seconds of {opts.rounds} interleaved rounds")
    print(f"{'qubits':>6} {'engine':>10} {'supervisor':>11} {'ratio':>7}")
    for n in sizes:
        e, s = statistics.median(times[n]["engine"]), statistics.median(times[n]["supervisor"])
        print(f"{n:>6} {e:>10.3f} {s:>11.3f} {s / e:>7.2f}")


if __name__ == "__main__":
    main()
