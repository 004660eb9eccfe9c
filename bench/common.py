"""Helpers shared by the benchmark scripts: free ports, starting servers, running the C load generator."""
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PITBOSS_BUILD_DIR", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "bin")
PYGEN = os.path.join(BUILD, "python")
PYTHON = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def start(argv, port, env=None):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PITBOSS_PYGEN": PYGEN, **(env or {})})
    wait_port(port)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def loadgen(port, concurrency, seconds, command="ping", args="{}", token=None, warmup=1.0):
    argv = [os.path.join(BIN, "pitboss-loadgen"), "--target", f"127.0.0.1:{port}", "--concurrency", str(concurrency),
            "--seconds", str(seconds), "--warmup", str(warmup), "--command", command, "--args", args, "--json"]
    if token:
        argv += ["--token", token]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def need_build():
    if not os.path.exists(os.path.join(BIN, "pitboss-loadgen")):
        sys.exit(f"build first: scripts/build.sh ({BIN} has no pitboss-loadgen)")
