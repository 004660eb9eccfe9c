#!/usr/bin/env python3
"""Issue 15 benchmark (2): a CPU-bound Python function inside a pitboss Python worker beside the
same function under /usr/bin/python3, in one run. The function (bench/pyhandlers/benchhandlers.py,
spin_loop) times itself with perf_counter in both, so only the interpreter's speed is compared (no
RPC). Interleaved rounds, each a pair run back to back; prints the medians and the median of the
pairs' ratios (this VM's speed drifts by 30% within a minute: pairs cancel most of it; goal: within
1.05x).

    /usr/bin/python3 bench/bench_python_cpu.py [--n 1000000] [--rounds 21]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import PYGEN, PYTHON, free_port, need_build, port_range, start_supervisor, stop

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=21)
    opts = ap.parse_args()
    need_build()
    sys.path.insert(0, PYGEN)
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc
    front = free_port()
    config = {
        "listen": f"127.0.0.1:{front}", "log_level": "warn", "metrics": {"listen": ""},
        "workers": {"base_port": port_range(2), "port_range": 2},
        "pools": [{"name": "py", "kind": "python", "size": 1, "worker_threads": 1,
                   "python_path": os.path.join(HERE, "pyhandlers"), "module": "benchhandlers"}],
    }
    plain_code = (f"import sys, time; sys.path.insert(0, {os.path.join(HERE, 'pyhandlers')!r}); "
                  "import importlib.util as u; s = u.spec_from_file_location('h', sys.path[0] + '/benchhandlers.py'); "
                  "m = u.module_from_spec(s); sys.modules['pitboss'] = type(sys)('pitboss'); "
                  "sys.modules['pitboss'].command = lambda f: f; s.loader.exec_module(m); "
                  f"t = time.perf_counter(); m.spin_loop({opts.n}); print(time.perf_counter() - t)")
    inside, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        proc, _ = start_supervisor(config, tmp)
        try:
            stub = pb_grpc.PoolStub(grpc.insecure_channel(config["listen"]))
            args = json.dumps({"n": opts.n})
            stub.Execute(pb.ExecuteRequest(command="spin", pool="py", args_json=json.dumps({"n": 1000})), timeout=60)
            for r in range(opts.rounds):
                reply = stub.Execute(pb.ExecuteRequest(command="spin", pool="py", args_json=args), timeout=120)
                inside.append(json.loads(reply.result_json)["seconds"])
                out = subprocess.run([PYTHON, "-c", plain_code], capture_output=True, text=True, check=True)
                plain.append(float(out.stdout))
                if (r + 1) % 5 == 0:
                    print(f"pair {r + 1}/{opts.rounds}", flush=True)
        finally:
            stop(proc)
    w, p = statistics.median(inside), statistics.median(plain)
    ratio = statistics.median(a / b for a, b in zip(inside, plain))
    print(f"spin_loop({opts.n}), {opts.rounds} interleaved pairs")
    print(f"{'in a pitboss Python worker':<30}{w:>8.3f} s (median)")
    print(f"{'under /usr/bin/python3':<30}{p:>8.3f} s (median)")
    print(f"worker / python3, median of the pairs: {ratio:.3f} (goal <= 1.05: {'met' if ratio <= 1.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
