"""Faults and limits (issue 12): memory that is reserved before it is used, descriptors that run
out, a drain that answers. Each test starts the real supervisor and its real workers; the cgroup and
descriptor limits are the test's own (a cgroup it creates, prlimit), removed at the end."""
import concurrent.futures as cf
import json
import os
import resource
import signal
import socket
import time
import urllib.request
import uuid

import grpc
import pytest

import pitboss_pb2 as pb
import pitboss_pb2_grpc as pb_grpc
from conftest import channel, skip_rss_under_sanitizer, wait_for

MiB = 1 << 20



def metrics(sup):
    body = urllib.request.urlopen(f"http://127.0.0.1:{sup.metrics_port}/metrics", timeout=10).read().decode()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def mem(sup, what, pool="default"):
    return metrics(sup)[f'pitboss_memory_{what}{{pool="{pool}"}}']


def circuit(n, midcircuit=False):
    """n qubits, every one in superposition: the whole state vector is touched. A mid-circuit
    measurement makes it run shot by shot (slow, and it needs a second state)."""
    body = "".join(f"h q[{i}];" for i in range(n))
    if midcircuit:
        body += "measure q[0] -> c[0]; h q[0];"
    return f'OPENQASM 2.0; include "qelib1.inc"; qreg q[{n}]; creg c[{n}]; {body} measure q -> c;'


def run(sup, qasm, shots=10, timeout=120):
    return sup.execute("run_circuit", json.dumps({"qasm": qasm, "shots": shots}), timeout=timeout)


def outcome(sup, qasm, shots=10):
    try:
        run(sup, qasm, shots)
        return "ok"
    except grpc.RpcError as e:
        return f"{e.code().name}: {e.details()}"


# A 20-qubit circuit sampled from its final state needs its 16 MiB of amplitudes. Two do not fit in
# 24 MiB, so the pool runs them one at a time.
NEED_20 = 16 * MiB


def test_concurrent_circuits_reserve_the_pools_memory_budget_and_none_is_lost(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2, "worker_threads": 4,
                                  "memory_budget_mb": 24}])
    assert mem(sup, "budget_bytes") == 24 * MiB
    assert 'pool "default": its memory budget is 24.0 MiB (memory_budget_mb)' in sup.log_text()
    with cf.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda _: outcome(sup, circuit(20)), range(6)))
    assert results == ["ok"] * 6, results
    # Both workers took calls at once, yet never more than the budget was reserved: they queued.
    assert mem(sup, "reserved_peak_bytes") == NEED_20
    assert mem(sup, "waits_total") >= 1
    assert mem(sup, "reserved_bytes") == 0
    # More than the whole budget can never run here: refused at once, naming the budget.
    with pytest.raises(grpc.RpcError) as e:
        run(sup, circuit(21))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "memory budget is 24.0 MiB" in e.value.details() and "memory_budget_mb" in e.value.details()
    assert mem(sup, "refused_total") == 1
    # A reload changes the budget for the running workers.
    cfg = json.loads(sup.config_path.read_text())
    cfg["pools"][0]["memory_budget_mb"] = 60
    sup.config_path.write_text(json.dumps(cfg))
    os.kill(sup.proc.pid, signal.SIGHUP)
    wait_for(lambda: mem(sup, "budget_bytes") == 60 * MiB, what="the reloaded budget")
    assert outcome(sup, circuit(21)) == "ok"


def test_a_queued_circuit_gives_up_at_its_deadline_saying_what_it_waited_for(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1, "memory_budget_mb": 40}])
    holder = cf.ThreadPoolExecutor(1).submit(outcome, sup, circuit(20, midcircuit=True), 100000)
    wait_for(lambda: mem(sup, "reserved_bytes") > 0, what="the long run to hold the budget")
    with pytest.raises(grpc.RpcError) as e:
        run(sup, circuit(20), timeout=1.0)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The worker stopped waiting at the deadline too: a call still waiting would keep counting in
    # in_flight (an abandoned call counts until its handler returns).
    wait_for(lambda: metrics(sup)['pitboss_in_flight{pool="default"}'] == 1, what="the waiting call to end")
    assert mem(sup, "reserved_bytes") == 32 * MiB
    os.kill(sup.pids()[0], signal.SIGKILL)
    assert holder.result(timeout=60).startswith("UNAVAILABLE")


def test_a_killed_workers_reservation_is_given_back(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1, "memory_budget_mb": 40}],
                          restart={"backoff_initial_ms": 10})
    pid = sup.pids()[0]
    # Shot by shot (a mid-circuit measurement): runs for minutes unless stopped. Needs 32 MiB.
    long_run = cf.ThreadPoolExecutor(1).submit(outcome, sup, circuit(20, midcircuit=True), 100000)
    wait_for(lambda: mem(sup, "reserved_bytes") == 32 * MiB, what="the run to reserve its memory")
    os.kill(pid, signal.SIGKILL)  # it cannot give its reservation back itself
    assert "UNAVAILABLE" in long_run.result(timeout=60)
    wait_for(lambda: "held 32.0 MiB of the memory budget when it ended: given back" in sup.log_text(),
             what="the supervisor to give the dead worker's reservation back")
    assert mem(sup, "reserved_bytes") == 0
    wait_for(lambda: sup.pool().slots[0].state == "ready" and sup.pool().slots[0].pid != pid,
             what="the worker to come back")
    # Had it leaked, this one would wait for 32 MiB that never comes back.
    assert outcome(sup, circuit(20)) == "ok"


class MemoryCgroup:
    """A memory cgroup of the test's own, v2 or v1, with a hard limit; pytest.skip where the kernel or
    the container refuses one."""

    def __init__(self, limit):
        name = f"pitboss-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            root = "/sys/fs/cgroup"
            try:
                with open(f"{root}/cgroup.subtree_control") as f:
                    enabled = f.read().split()
                if "memory" not in enabled:
                    with open(f"{root}/cgroup.subtree_control", "w") as f:
                        f.write("+memory")
            except OSError as e:
                pytest.skip(f"cgroup v2: cannot enable the memory controller for child cgroups ({e})")
            self.path, limit_file = f"{root}/{name}", "memory.max"
        elif os.path.isdir("/sys/fs/cgroup/memory"):
            self.path, limit_file = f"/sys/fs/cgroup/memory/{name}", "memory.limit_in_bytes"
        else:
            pytest.skip("no cgroup memory controller is mounted (neither v2 nor v1)")
        try:
            os.mkdir(self.path)
            with open(f"{self.path}/{limit_file}", "w") as f:
                f.write(str(limit))
        except OSError as e:
            self.path = None
            pytest.skip(f"cannot create a memory cgroup with a limit here ({e}): the kernel or container refuses")
        self.limit_file = f"{self.path}/{limit_file}"

    def enter(self):
        """For preexec_fn: moves the child (the supervisor, so its workers too) into the cgroup."""
        with open(f"{self.path}/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))

    def oom_kills(self):
        for file, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
            try:
                with open(f"{self.path}/{file}") as f:
                    for line in f:
                        k, v = line.split()
                        if k == key:
                            return int(v)
            except OSError:
                continue
        return 0

    def remove(self):
        if not self.path:
            return
        for _ in range(200):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.05)  # its last process is still being reaped


@skip_rss_under_sanitizer
def test_a_cgroup_memory_limit_sets_the_budget_and_circuits_queue_instead_of_being_oom_killed(make_supervisor):
    limit = 384 * MiB
    cg = MemoryCgroup(limit)
    try:
        sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2, "worker_threads": 4}],
                              preexec_fn=cg.enter)
        budget = mem(sup, "budget_bytes")
        assert budget == limit // 100 * 75, budget
        assert f"75% of 384 MiB (cgroup limit {cg.limit_file})" in sup.log_text()
        # The default max_qubits (26) needs 1 GiB: the operator is told at start, not at 3 a.m.
        assert "circuits of more than about 24 qubits are refused" in sup.log_text()
        pids = sup.pids()
        # 8 x 22 qubits (64 MiB each) at once: 512 MiB, more than the cgroup. Without a reservation
        # the kernel OOM-killed a worker and its calls were lost.
        with cf.ThreadPoolExecutor(8) as ex:
            results = list(ex.map(lambda _: outcome(sup, circuit(22)), range(8)))
        assert results == ["ok"] * 8, results
        assert sup.pids() == pids, "a worker was restarted"
        assert cg.oom_kills() == 0
        assert mem(sup, "reserved_peak_bytes") <= budget
        assert mem(sup, "waits_total") >= 1
        sup.stop()
    finally:
        cg.remove()


def test_new_calls_during_a_drain_get_pitbosss_own_answer(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}], timeouts={"graceful_ms": 30000})
    running = cf.ThreadPoolExecutor(1).submit(lambda: sup.execute("sleep", '{"ms": 3000}', timeout=60))
    wait_for(lambda: metrics(sup)['pitboss_in_flight{pool="default"}'] == 1, what="the call to run")
    os.kill(sup.proc.pid, signal.SIGTERM)
    wait_for(lambda: "stopping: no new calls" in sup.log_text(),
             what="the drain to begin")
    # A new client (a new connection) and the open one both get an answer that says what happens:
    # "Connection refused" said nothing. UNAVAILABLE: the call never started, so it is safe to retry.
    fresh = channel(sup.port)
    try:
        for stub in (pb_grpc.PoolStub(fresh), sup.stub):
            with pytest.raises(grpc.RpcError) as e:
                stub.Execute(pb.ExecuteRequest(command="ping"), timeout=10)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
            assert "pitboss is stopping" in e.value.details() and "another instance" in e.value.details()
    finally:
        fresh.close()
    assert running.done() is False  # the answers came while the running call was still running
    assert json.loads(running.result(timeout=60).result_json)["slept_ms"] >= 3000  # it ran to its end
    assert sup.proc.wait(timeout=60) == 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().split(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_metrics_listener_pauses_when_descriptors_run_out_and_serves_again_after(make_supervisor):
    sup = make_supervisor()
    limits = resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE)
    conn = socket.create_connection(("127.0.0.1", sup.metrics_port), timeout=30)
    try:
        # No descriptor the supervisor opens from now on can be numbered below 3: accept fails (EMFILE).
        # The connection below waits in the backlog, so the listener stays readable.
        resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE, (3, limits[1]))
        conn.close()
        conn = socket.create_connection(("127.0.0.1", sup.metrics_port), timeout=30)
        conn.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        wait_for(lambda: "metrics: cannot accept a connection" in sup.log_text(), what="accept to fail")
        # Paused, not spinning: a core's worth of CPU would be ~1 s per second here.
        before, t0 = cpu_seconds(sup.proc.pid), time.monotonic()
        time.sleep(1.0)
        used = (cpu_seconds(sup.proc.pid) - before) / (time.monotonic() - t0)
        assert used < 0.5, f"the supervisor used {used:.0%} of a core while it could not accept"
    finally:
        resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE, limits)
    # Descriptors again: the waiting connection is served, without a restart.
    body = b""
    while chunk := conn.recv(65536):
        body += chunk
    conn.close()
    assert b"200 OK" in body.split(b"\r\n", 1)[0] and b"pitboss_in_flight" in body
    assert metrics(sup)['pitboss_in_flight{pool="default"}'] == 0  # and new scrapes are served too


def test_the_soft_open_file_limit_is_raised_to_the_hard_one_at_start(make_supervisor):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= 256:
        pytest.skip(f"the hard open-file limit here is {hard}: there is nothing to raise to")
    # systemd's default: a soft limit of 1024 under a much higher hard one; here 256 under the hard.
    sup = make_supervisor(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))
    assert resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE) == (hard, hard)
    assert f"open-file limit raised from 256 to {hard} (the hard limit)" in sup.log_text()
    # Its workers inherit the raised limit.
    assert resource.prlimit(sup.pids()[0], resource.RLIMIT_NOFILE) == (hard, hard)


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@skip_rss_under_sanitizer
@pytest.mark.parametrize("statement", [";", "x q[0];"], ids=["empty statements", "gates past max_gates"])
def test_parsing_holds_one_statements_tokens_not_the_whole_texts(make_supervisor, statement):
    # One worker per case, so that its peak is this circuit's. The text is 4 MiB, max_circuit_bytes.
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1, "max_gates": 50000}])
    pid = sup.pids()[0]
    before = peak_rss_mib(pid)
    head = "OPENQASM 3.0; qubit[2] q; "
    text = head + statement * ((4 * MiB - len(head)) // len(statement))
    result = outcome(sup, text, shots=1)
    grew = peak_rss_mib(pid) - before
    if statement == ";":
        assert result == "ok"
    else:
        assert result.startswith("RESOURCE_EXHAUSTED") and "50000" in result, result
    # The request itself is copied a few times (gRPC, JSON): ~20 MiB. Every token kept for the whole
    # text cost ~50 bytes per byte of ';' (213 MiB here); every op ~460 bytes.
    assert grew < 64, f"parsing 4 MiB of {statement!r} took the worker's peak up by {grew:.0f} MiB"
