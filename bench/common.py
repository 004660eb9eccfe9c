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


def loadgen(port, concurrency, seconds, command="ping", args="{}", token=None, warmup=1.0, new_sessions=None, pool=None):
    argv = [os.path.join(BIN, "pitboss-loadgen"), "--target", f"127.0.0.1:{port}", "--concurrency", str(concurrency),
            "--seconds", str(seconds), "--warmup", str(warmup), "--command", command, "--args", args, "--json"]
    if token:
        argv += ["--token", token]
    if new_sessions:
        argv += ["--new-sessions", new_sessions]
    if pool:
        argv += ["--pool", pool]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def need_build():
    if not os.path.exists(os.path.join(BIN, "pitboss-loadgen")):
        sys.exit(f"build first: scripts/build.sh ({BIN} has no pitboss-loadgen)")


def worker_token(pid):
    """A supervised worker's token, from its initial environment (readable by the same user only)."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        for item in f.read().split(b"\0"):
            if item.startswith(b"PITBOSS_WORKER_TOKEN="):
                return item.split(b"=", 1)[1].decode()
    raise RuntimeError(f"process {pid} has no worker token")


def start_supervisor(config, tmpdir):
    """Writes config, starts `pitboss serve`, waits until every worker is ready; returns (proc, info)."""
    sys.path.insert(0, PYGEN)
    import grpc
    import pitboss_pb2 as pb
    import pitboss_pb2_grpc as pb_grpc

    path = os.path.join(tmpdir, "pitboss.json")
    with open(path, "w") as f:
        json.dump(config, f)
    log = open(os.path.join(tmpdir, "pitboss.log"), "wb")
    proc = subprocess.Popen([os.path.join(BIN, "pitboss"), "serve", "-c", path], stdout=log, stderr=subprocess.STDOUT)
    port = int(config["listen"].rsplit(":", 1)[1])
    wait_port(port)
    stub = pb_grpc.PoolStub(grpc.insecure_channel(config["listen"]))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=5)
        if all(s.state == "ready" for p in info.pools for s in p.slots):
            return proc, info
        time.sleep(0.05)
    raise RuntimeError("workers not ready after 30 s")


def port_range(n):
    base = free_port()
    while any(not _port_free(p) for p in range(base, base + n)):
        base = free_port()
    return base


def _port_free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
            return True
        except OSError:
            return False


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
