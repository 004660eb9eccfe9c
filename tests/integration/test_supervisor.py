"""The supervisor (`pitboss serve`) with its real workers, over real gRPC on loopback."""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import grpc
import pytest

from conftest import BIN, ROOT, Supervisor, channel, health_pb2, pb, pb_grpc, pid_alive, rss_kb, run_cli, wait_for


def wait_replaced(sup, old_pid, pool="default", timeout=10):
    """Waits until old_pid is no longer one of the pool's workers and every worker is ready."""
    deadline = time.monotonic() + timeout
    while old_pid in sup.pids(pool) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert old_pid not in sup.pids(pool), f"worker {old_pid} was not replaced"
    sup.wait_ready()


# ---------------------------------------------------------------- routing and sessions

def test_calls_are_proxied_and_name_their_worker(supervisor):
    resp = supervisor.execute("ping")
    value = json.loads(resp.result_json)
    assert value["pong"] is True
    assert value["pid"] in supervisor.pids()
    assert resp.worker.pool == "default" and resp.worker.pid == value["pid"]
    assert resp.worker.port == supervisor.pool().slots[resp.worker.slot].port
    assert not resp.session_reset


def test_same_session_same_worker_over_100_calls_different_sessions_spread(supervisor):
    pids = {json.loads(supervisor.execute("ping", session_id="alpha").result_json)["pid"] for _ in range(100)}
    assert len(pids) == 1
    spread = {json.loads(supervisor.execute("ping", session_id=f"s{i}").result_json)["pid"] for i in range(8)}
    assert spread == set(supervisor.pids()), "new sessions should spread over both workers"
    assert supervisor.pool().sessions == 9


def test_calls_without_session_use_every_worker(supervisor):
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        pids = set(ex.map(lambda _: json.loads(supervisor.execute("sleep", '{"ms": 30}').result_json) and 0, range(8)))
    del pids
    served = [s.served for s in supervisor.pool().slots]
    assert all(n > 0 for n in served), served


def test_close_session_ends_affinity(supervisor):
    first = supervisor.execute("ping", session_id="x").worker.pid
    assert supervisor.stub.CloseSession(pb.CloseSessionRequest(session_id="x"), timeout=5).closed
    assert not supervisor.stub.CloseSession(pb.CloseSessionRequest(session_id="x"), timeout=5).closed
    assert supervisor.pool().sessions == 0
    assert supervisor.execute("ping", session_id="x").worker.pid in supervisor.pids()
    del first


def test_stream_through_the_supervisor(supervisor):
    chunks = list(supervisor.stream("ping_stream", '{"count": 1000}'))
    assert [c.seq for c in chunks] == list(range(1001))
    assert chunks[-1].is_final and not any(c.is_final for c in chunks[:-1])
    assert chunks[0].worker.pool == "default" and chunks[0].worker.pid in supervisor.pids()


def test_payload_round_trip_through_the_supervisor(supervisor):
    payload = os.urandom(4 * 1024 * 1024 + 3)
    resp = supervisor.execute("echo", '{"k": 1}', payload=payload, timeout=30)
    assert resp.payload == payload and json.loads(resp.result_json) == {"k": 1}


def test_unknown_pool_and_command(supervisor):
    with pytest.raises(grpc.RpcError) as e:
        supervisor.execute("ping", pool="nope")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and '"nope"' in e.value.details()
    assert "default" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        supervisor.execute("nope")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "nope" in e.value.details()


def test_handler_error_keeps_type_through_the_supervisor(supervisor):
    with pytest.raises(grpc.RpcError) as e:
        supervisor.execute("fail", '{"message": "bad thing"}')
    assert e.value.code() == grpc.StatusCode.UNKNOWN and e.value.details() == "bad thing"
    assert dict(e.value.trailing_metadata())["x-pitboss-error-type"] == "CommandFailed"


def test_list_commands_through_the_supervisor(supervisor):
    resp = supervisor.stub.ListCommands(pb.ListCommandsRequest(), timeout=5)
    assert resp.pool == "default"
    assert {"ping", "echo", "sleep", "ping_stream", "fail"} <= {c.name for c in resp.commands}


# ---------------------------------------------------------------- backpressure and deadlines

def one_worker_one_slot(make_supervisor, queue_limit=2, **kw):
    return make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1, "max_concurrency": 1,
                                   "queue_limit": queue_limit}], **kw)


def test_full_pool_refuses_at_once_with_resource_exhausted(make_supervisor):
    sup = one_worker_one_slot(make_supervisor)
    results = [None] * 10
    barrier = threading.Barrier(10)

    def one(i):
        barrier.wait()
        t0 = time.monotonic()
        try:
            sup.execute("sleep", '{"ms": 400}', timeout=10)
            results[i] = ("ok", time.monotonic() - t0, "")
        except grpc.RpcError as e:
            results[i] = (e.code(), time.monotonic() - t0, e.details())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r for r in results if r[0] == "ok"]
    refused = [r for r in results if r[0] == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert len(ok) == 3 and len(refused) == 7, results
    assert all(r[1] < 0.3 for r in refused), "refusals must not wait"
    assert all('pool "default" is full' in r[2] and "queue_limit 2" in r[2] for r in refused)
    assert max(r[1] for r in ok) >= 1.1  # three 400 ms calls, one after another


def test_deadline_that_expires_in_the_queue_never_reaches_a_worker(make_supervisor):
    sup = one_worker_one_slot(make_supervisor, queue_limit=5)
    blocker = threading.Thread(target=lambda: sup.execute("sleep", '{"ms": 800}', timeout=10))
    blocker.start()
    time.sleep(0.1)
    served_before = sup.worker_stats().served
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("ping", timeout_ms=200)  # the request's own timeout: the supervisor enforces it
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "queue" in e.value.details() and 0.15 < time.monotonic() - t0 < 0.6
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("ping", timeout=0.2)  # the client's gRPC deadline
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    blocker.join()
    time.sleep(0.1)
    assert sup.worker_stats().served == served_before + 1, "an expired call reached the worker"
    assert sup.pool().queued == 0


def test_cancel_reaches_the_worker(make_supervisor):
    # One worker with one command thread: if the cancelled sleep kept running, the next call would wait for it.
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1, "max_concurrency": 1,
                                  "worker_threads": 1}])
    fut = sup.stub.Execute.future(pb.ExecuteRequest(command="sleep", args_json='{"ms": 30000}'), timeout=60)
    sup.wait_calls_running(1)
    fut.cancel()
    t0 = time.monotonic()
    assert json.loads(sup.execute("sleep", '{"ms": 10}', timeout=10).result_json)["slept_ms"] >= 10
    assert time.monotonic() - t0 < 2
    stats = sup.worker_stats()
    assert stats.cancelled == 1 and stats.in_flight == 0

    call = sup.stream("ping_stream", '{"count": 1000000, "interval_ms": 2}')
    for i, _ in enumerate(call):
        if i == 3:
            break
    call.cancel()
    deadline = time.monotonic() + 5
    while sup.worker_stats().cancelled < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = sup.worker_stats()
    assert stats.cancelled == 2 and stats.in_flight == 0
    sent = stats.chunks_sent
    time.sleep(0.3)
    assert sup.worker_stats().chunks_sent == sent


def slow_read(sup, stub, chunk_bytes, reads=5, every=1.0):
    """Reads one chunk every `every` seconds; returns how far ahead of the reader the worker was each time,
    and the supervisor's RSS growth meanwhile (kB)."""
    call = stub.ExecuteStream(pb.ExecuteRequest(command="ping_stream", args_json=json.dumps(
        {"count": 1000, "payload_bytes": chunk_bytes})), timeout=60)
    it = iter(call)
    next(it)
    time.sleep(1)
    rss_start = rss_kb(sup.proc.pid)
    received, aheads = 1, []
    for _ in range(reads):
        next(it)
        received += 1
        aheads.append(sup.worker_stats().chunks_sent - received)
        time.sleep(every)
    growth = rss_kb(sup.proc.pid) - rss_start
    call.cancel()
    return aheads, growth


def test_slow_reader_slows_the_worker_and_memory_stays_flat(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}])
    # A reader with a fixed 64 KiB HTTP/2 window: what is in flight is what pitboss itself holds.
    ch = grpc.insecure_channel(f"127.0.0.1:{sup.port}", options=[
        ("grpc.max_receive_message_length", 64 << 20), ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", 65536)])
    aheads, growth = slow_read(sup, pb_grpc.PoolStub(ch), 256 * 1024)
    ch.close()
    # Unbounded, the worker would have sent all 1000 chunks (250 MB) by now.
    assert max(aheads) <= 3, f"worker ran ahead by {aheads} chunks"
    assert growth < 4 * 1024, f"supervisor RSS grew {growth} kB"
    # A default grpcio reader sizes its own window (BDP probing), and the lead is whatever that window
    # holds: 26..59 chunks in CI, growing from 23 to 48 within five seconds on a loaded machine. That window
    # is the client's, so the test asks what pitboss owes: the supervisor holds nothing extra (its RSS
    # stays flat) and the worker stays far from done (unbounded, all 1000 chunks are sent within a second).
    aheads, growth = slow_read(sup, sup.stub, 256 * 1024)
    assert max(aheads) < 500, f"worker ran ahead by {aheads} chunks"
    assert growth < 4 * 1024, f"supervisor RSS grew {growth} kB"


# ---------------------------------------------------------------- supervision

def test_killed_worker_is_replaced_within_1s_and_its_call_fails_naming_it(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}])
    victim = sup.pids()[0]
    fut = sup.stub.Execute.future(pb.ExecuteRequest(command="sleep", args_json='{"ms": 5000}'), timeout=10)
    sup.wait_calls_running(1)
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        fut.result()
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert f"pid {victim}" in e.value.details() and "signal 9" in e.value.details()
    assert 'worker 0 of pool "default"' in e.value.details()
    while True:
        try:
            pid = json.loads(sup.execute("ping", timeout=1).result_json)["pid"]
            break
        except grpc.RpcError:
            assert time.monotonic() - t0 < 1.0, "no new worker within 1 s"
            time.sleep(0.02)
    assert pid != victim and time.monotonic() - t0 < 1.0
    slot = sup.pool().slots[0]
    assert slot.restarts == 1 and "signal 9" in slot.last_exit


def test_session_moves_to_the_new_worker_and_says_it_was_reset(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2}])
    first = sup.execute("ping", session_id="sess")
    assert not first.session_reset
    os.kill(first.worker.pid, signal.SIGKILL)
    wait_replaced(sup, first.worker.pid)
    again = sup.execute("ping", session_id="sess")
    assert again.session_reset and again.worker.slot == first.worker.slot and again.worker.pid != first.worker.pid
    assert not sup.execute("ping", session_id="sess").session_reset


def test_worker_that_always_dies_fails_its_pool_not_the_supervisor(make_supervisor):
    sup = make_supervisor(
        pools=[{"name": "default", "kind": "native", "size": 1},
               {"name": "broken", "kind": "native", "size": 1, "worker_bin": "/bin/false"}],
        restart={"max_restarts": 3, "period_s": 60, "backoff_initial_ms": 20, "backoff_max_ms": 50},
        wait_ready=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if sup.pool("broken").state == "failed":
                break
        except grpc.RpcError:  # not listening yet
            pass
        time.sleep(0.05)
    broken = sup.pool("broken")
    assert broken.state == "failed", broken
    assert "restarts" in broken.failed_reason and "exited with code 1" in broken.failed_reason
    assert broken.slots[0].restarts == 4
    assert sup.log_text().count('pool "broken" FAILED') == 1
    h = sup.health.Check(health_pb2.HealthCheckRequest(service="broken"), timeout=5)
    assert h.status == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("ping", pool="broken")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE and "failed" in e.value.details()
    # ... and it stops trying: no more starts.
    time.sleep(0.5)
    assert sup.pool("broken").slots[0].restarts == 4
    # The other pool and the server itself still serve.
    sup.wait_ready(pools=["default"])
    assert json.loads(sup.execute("ping").result_json)["pong"]
    for service in ("", "default"):
        h = sup.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert h.status == health_pb2.HealthCheckResponse.SERVING


def test_hung_worker_is_killed_by_the_health_check(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}])
    victim = sup.pids()[0]
    os.kill(victim, signal.SIGSTOP)  # alive, but answers nothing
    try:
        deadline = time.monotonic() + 5
        while pid_alive(victim) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(victim), "a worker that stopped answering was not killed"
        sup.wait_ready()
        assert "failed its health check" in sup.log_text()
    finally:
        try:
            os.kill(victim, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_recycling_after_max_requests_never_fails_a_call(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}], recycle={"max_requests": 20})
    pids = []
    for _ in range(70):
        pids.append(json.loads(sup.execute("ping", timeout=5).result_json)["pid"])
    distinct = list(dict.fromkeys(pids))
    assert len(distinct) >= 3, distinct
    assert pids[:20] == [distinct[0]] * 20
    assert sup.pool().slots[0].restarts == 0  # planned replacements are not crashes


def test_busy_port_in_the_range_is_skipped(tmp_path):
    sup = Supervisor.__new__(Supervisor)
    # Occupy the first port of the range the supervisor will use.
    from conftest import free_port_range
    base = free_port_range(12)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", base))
    blocker.listen()
    try:
        sup = _supervisor_with_base(tmp_path, base)
        ports = [s.port for s in sup.pool().slots]
        assert base not in ports and ports == [base + 1, base + 2]
        assert f"port {base} is in use" in sup.log_text()
        assert sup.stop() == 0
    finally:
        blocker.close()


def _supervisor_with_base(tmp_path, base):
    s = Supervisor.__new__(Supervisor)
    # Same as Supervisor(), with a fixed worker port range.
    Supervisor.__init__(s, tmp_path, wait_ready=False, workers={"base_port": base, "port_range": 12})
    s.wait_ready()
    return s


def test_workers_deny_calls_without_the_token(supervisor):
    slot = supervisor.pool().slots[0]
    ch = channel(slot.port)
    stub = pb_grpc.PoolStub(ch)
    for md in ((), (("x-pitboss-token", "guess"),)):
        with pytest.raises(grpc.RpcError) as e:
            stub.Execute(pb.ExecuteRequest(command="ping"), timeout=5, metadata=md)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ch.close()


# ---------------------------------------------------------------- signals and process lifetime

def test_kill_9_of_the_supervisor_takes_every_worker_with_it(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 3}])
    pids = sup.pids()
    sup.proc.kill()
    sup.proc.wait()
    deadline = time.monotonic() + 2
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(pid_alive(p) for p in pids), "workers outlived their supervisor"


def test_sigterm_lets_calls_in_flight_complete_then_exits_0(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2}])
    pids = sup.pids()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(sup.execute, "sleep", '{"ms": 700}', 10) for _ in range(4)]
        sup.wait_calls_running(4)
        sup.proc.send_signal(signal.SIGTERM)
        results = [json.loads(f.result().result_json)["slept_ms"] for f in futs]
    assert all(r >= 700 for r in results)
    assert sup.proc.wait(15) == 0
    assert not any(pid_alive(p) for p in pids)


def test_sighup_replaces_every_worker_without_failing_a_call(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2}])
    before = set(sup.pids())
    stop = threading.Event()
    failures, done = [], [0]

    def load():
        while not stop.is_set():
            try:
                sup.execute("sleep", '{"ms": 5}', timeout=10)
                done[0] += 1
            except grpc.RpcError as e:
                failures.append(e)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: done[0] >= 25, what="the load to run")
    sup.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: every worker replaced" in sup.log_text(), timeout=20, what="the reload to end")
    after_reload = done[0]
    wait_for(lambda: done[0] >= after_reload + 25, what="the load to run on the new workers")
    stop.set()
    for t in threads:
        t.join()
    after = set(sup.pids())
    assert not failures, failures[:3]
    assert done[0] > 50
    assert not (before & after), f"not every worker was replaced: {before} -> {after}"
    assert all(s.restarts == 0 for s in sup.pool().slots)


# ---------------------------------------------------------------- seeing inside

def test_status_cli_prints_the_table(supervisor):
    supervisor.execute("ping")
    out = run_cli("status", "--target", f"127.0.0.1:{supervisor.port}")
    assert out.returncode == 0, out.stderr
    assert "pool default (native): serving" in out.stdout
    for pid in supervisor.pids():
        assert str(pid) in out.stdout
    assert "SLOT" in out.stdout and "ready" in out.stdout


def test_cli_call_and_stream_through_the_supervisor(supervisor):
    out = run_cli("call", "ping", "--target", f"127.0.0.1:{supervisor.port}", "--session", "cli")
    assert out.returncode == 0 and json.loads(out.stdout)["pid"] in supervisor.pids()
    out = run_cli("stream", "ping_stream", '{"count": 3}', "--target", f"127.0.0.1:{supervisor.port}")
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 4


def test_metrics_endpoint(supervisor):
    supervisor.execute("ping")
    with pytest.raises(grpc.RpcError):
        supervisor.execute("nope")
    body = urllib.request.urlopen(f"http://127.0.0.1:{supervisor.metrics_port}/metrics", timeout=5).read().decode()
    assert 'pitboss_calls_total{pool="default",command="ping",code="OK"} 1' in body
    assert 'pitboss_calls_total{pool="default",command="nope",code="NOT_FOUND"} 1' in body
    assert 'pitboss_call_duration_seconds_count{pool="default"} 2' in body
    assert 'pitboss_queue_depth{pool="default"} 0' in body
    assert 'pitboss_workers{pool="default",state="ready"} 2' in body
    assert 'pitboss_worker_restarts_total{pool="default"} 0' in body
    assert "pitboss_sessions" in body and "pitboss_in_flight" in body
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{supervisor.metrics_port}/other", timeout=5)


def test_health_service(supervisor):
    for service in ("", "pitboss.v1.Pool", "default"):
        h = supervisor.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert h.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as e:
        supervisor.health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_log_lines_for_start_ready_exit_restart(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}], restart={"backoff_initial_ms": 100})
    pid = sup.pids()[0]
    os.kill(pid, signal.SIGKILL)
    wait_replaced(sup, pid)
    log = sup.log_text()
    assert f'started worker 0 of pool "default": pid {pid}' in log
    assert f'worker 0 of pool "default" is ready: pid {pid}' in log
    assert f'worker 0 of pool "default" (pid {pid}) killed by signal 9' in log
    assert 'restarting worker 0 of pool "default" in 100 ms' in log


# ---------------------------------------------------------------- configuration

def write_config(tmp_path, cfg):
    p = tmp_path / "bad.json"
    p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return p


@pytest.mark.parametrize("cfg,expect", [
    ({"pools": [{"name": "a", "size": 2}], "lissen": "x"}, "lissen: unknown key"),
    ({"pools": [{"name": "a", "size": 0}]}, "pools[0].size: must be at least 1, got 0"),
    ({"pools": [{"name": "a", "size": "2"}]}, "pools[0].size: expected an integer, got string"),
    ({"pools": [{"name": "a", "kind": "perl"}]}, 'pools[0].kind: must be one of "native", "python"'),
    ({"pools": [{"name": "a", "precision": "quad"}]}, 'pools[0].precision: must be one of "double", "single"'),
    ({"pools": [{"name": "a", "size": 8}], "workers": {"base_port": 40000, "port_range": 4}},
     "workers.port_range: 4 ports cannot hold the pools' 8 workers"),
    ({"pools": [{"name": "a"}, {"name": "a"}]}, 'pools[1].name: "a" is already the name of pools[0]'),
    ({"pools": []}, "pools: must name at least one pool"),
    ({}, "pools: is required"),
    ({"pools": [{"name": "a"}], "default_pool": "b"}, 'default_pool: no pool is named "b"'),
    ({"pools": [{"name": "a"}], "timeouts": {"request_ms": -5}}, "timeouts.request_ms: must be at least 0"),
    ({"pools": [{"name": "a", "kind": "python"}]}, "pools[0].module: a python pool needs the module"),
    ({"pools": [{"name": "a"}], "listen": "nowhere"}, 'listen: must be HOST:PORT, got "nowhere"'),
    ({"pools": [{"name": "a", "worker_bin": "/nonexistent"}]}, "pools[0].worker_bin: /nonexistent is not an executable"),
    ('{"pools": [', "bad.json:1:"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, cfg, expect):
    path = write_config(tmp_path, cfg)
    out = subprocess.run([os.path.join(BIN, "pitboss"), "serve", "-c", str(path)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2, out
    assert str(path) in out.stderr and expect in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_config_file_is_named(tmp_path):
    out = subprocess.run([os.path.join(BIN, "pitboss"), "serve", "-c", str(tmp_path / "none.json")],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "none.json: cannot open the config file" in out.stderr


def test_default_config_is_valid():
    out = subprocess.run([os.path.join(BIN, "pitboss"), "serve", "-c", os.path.join(ROOT, "config", "pitboss.json"),
                          "--check"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
