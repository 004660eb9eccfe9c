"""The Python client library (pitboss.Client, pitboss.AsyncClient) against a real supervisor."""
import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import pytest

from conftest import ROOT, Supervisor, wait_for

sys.path.insert(0, os.path.join(ROOT, "bridge", "python"))
import pitboss  # noqa: E402

HANDLERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyhandlers")


@pytest.fixture(scope="module")
def sup(tmp_path_factory):
    s = Supervisor(tmp_path_factory.mktemp("client"), pools=[
        {"name": "default", "kind": "native", "size": 2},
        {"name": "py", "kind": "python", "size": 2, "module": "th", "python_path": HANDLERS},
        {"name": "tiny", "kind": "native", "size": 1, "max_concurrency": 1, "queue_limit": 0},
    ])
    yield s
    assert s.stop() == 0


@pytest.fixture
def client(sup):
    with pitboss.Client(f"127.0.0.1:{sup.port}", timeout=20) as c:
        yield c


def metric(sup, needle):
    body = urllib.request.urlopen(f"http://127.0.0.1:{sup.metrics_port}/metrics", timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith(needle):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---------------------------------------------------------------- the sync client

def test_execute_returns_a_result(client, sup):
    r = client.execute("echo", {"a": [1, 2]}, payload=b"\x00raw")
    assert r.value == {"a": [1, 2]} and r.payload == b"\x00raw"
    assert r.worker.pool == "default" and r.worker.pid in sup.pids() and r.elapsed > 0
    assert not r.session_reset
    assert client.execute("add", {"a": 2, "b": 3}, pool="py").value == {"sum": 5}


def test_execute_stream_iterates_chunks(client):
    chunks = list(client.execute_stream("ping_stream", {"count": 5}))
    assert [c.seq for c in chunks] == list(range(6)) and chunks[-1].is_final
    assert chunks[0].data["ping"] == 1 and chunks[0].worker.pool == "default"


def test_execute_stream_callback_style(client):
    seen = []
    final = client.execute_stream("ping_stream", {"count": 3}, callback=seen.append)
    assert [c.data.get("ping") for c in seen] == [1, 2, 3, None]
    assert final.is_final and final.data == {"done": True, "sent": 3}


def test_breaking_out_of_a_stream_cancels_it(client, tmp_path):
    marker = tmp_path / "sync.txt"
    for i, _ in enumerate(client.execute_stream("slow_stream", {"marker": str(marker)}, pool="py")):
        if i == 2:
            break
    deadline = time.monotonic() + 10  # the handler creates the file, then writes it: wait for the words
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "finally ran"
    marker2 = tmp_path / "close.txt"
    stream = client.execute_stream("slow_stream", {"marker": str(marker2)}, pool="py")
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 10  # the handler creates the file, then writes it: wait for the words
    while not (marker2.exists() and marker2.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker2.read_text() == "finally ran"


def test_session_keeps_affinity_and_state_then_closes(client, sup):
    with client.session(pool="py") as s:
        pids = {s.execute("counter", {"key": "k"}).value["pid"] for _ in range(5)}
        assert len(pids) == 1
        assert s.execute("counter", {"key": "k"}).value["value"] == 6
        sid = s.id
    assert not client.close_session(sid, pool="py")  # already closed by the with block


def test_session_reset_is_reported(client, sup):
    with client.session(pool="py") as s:
        first = s.execute("counter", {"key": "x"})
        os.kill(first.value["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while first.value["pid"] in sup.pids("py") and time.monotonic() < deadline:
            time.sleep(0.02)
        sup.wait_ready()
        again = s.execute("counter", {"key": "x"})
        assert again.session_reset and again.value["value"] == 1


def test_info_list_commands_health(client):
    info = client.info()
    assert info.role == "supervisor" and {p.name for p in info.pools} == {"default", "py", "tiny"}
    cmds = {c["name"]: c for c in client.list_commands(pool="py")}
    assert cmds["add"]["params"][1] == {"name": "b", "type": "int", "required": False, "default": 10}
    assert cmds["slow_stream"]["streaming"]
    assert client.health() == "SERVING" and client.health("py") == "SERVING"


# ---------------------------------------------------------------- typed errors from real failures

def test_each_error_type(client, sup):
    with pytest.raises(pitboss.CommandNotFound):
        client.execute("no_such_command")
    with pytest.raises(pitboss.InvalidArguments) as e:
        client.execute("add", {"b": 1}, pool="py")
    assert "missing required argument" in e.value.message
    with pytest.raises(pitboss.HandlerError) as e:
        client.execute("explode", pool="py")
    assert e.value.remote_type == "ValueError" and "in explode" in e.value.remote_traceback
    with pytest.raises(pitboss.DeadlineExceeded):
        client.execute("sleep", {"ms": 3000}, timeout=0.2)
    with pytest.raises(pitboss.WorkerUnavailable) as e:
        client.execute("die", pool="py")
    assert "exited with code 3" in e.value.message
    # a full pool: tiny has one worker, one call at a time and no queue
    blocker = threading.Thread(target=lambda: client.execute("sleep", {"ms": 800}, pool="tiny"))
    blocker.start()
    sup.wait_calls_running(1, pool="tiny")
    with pytest.raises(pitboss.PoolSaturated) as e:
        client.execute("ping", pool="tiny")
    assert 'pool "tiny" is full' in e.value.message
    blocker.join()
    # a worker called without the supervisor's token
    slot = sup.pool().slots[0]
    with pitboss.Client(f"127.0.0.1:{slot.port}", timeout=5) as direct:
        with pytest.raises(pitboss.PermissionDenied):
            direct.execute("ping")
    for cls in (pitboss.CommandNotFound, pitboss.InvalidArguments, pitboss.HandlerError, pitboss.PoolSaturated,
                pitboss.DeadlineExceeded, pitboss.WorkerUnavailable, pitboss.Cancelled, pitboss.PermissionDenied):
        assert issubclass(cls, pitboss.PitbossError)


def test_cancelled_by_the_server(tmp_path):
    # A supervisor stopping with a call still running past its grace period cancels it.
    s = Supervisor(tmp_path, pools=[{"name": "default", "kind": "native", "size": 1}], timeouts={"graceful_ms": 300})
    try:
        with pitboss.Client(f"127.0.0.1:{s.port}", timeout=20) as c:
            errors = []
            t = threading.Thread(target=lambda: errors.append(pytest.raises(pitboss.PitbossError, c.execute, "sleep",
                                                                            {"ms": 10000})))
            t.start()
            s.wait_calls_running(1)
            s.proc.send_signal(signal.SIGTERM)
            t.join(15)
            # Issue 12: ended ABORTED saying the server stopped (UNAVAILABLE or CANCELLED invited a retry of a
            # call that may have run in part).
            assert errors[0].value.code == grpc.StatusCode.ABORTED and "pitboss is stopping" in str(errors[0].value), \
                errors[0].value
    finally:
        s.stop()


# ---------------------------------------------------------------- resilience

def test_retry_succeeds_when_the_worker_is_killed_midway(tmp_path):
    s = Supervisor(tmp_path, pools=[{"name": "default", "kind": "native", "size": 1}])
    try:
        retry = pitboss.RetryPolicy(max_attempts=5, initial_backoff=0.2, max_backoff=1.0)
        with pitboss.Client(f"127.0.0.1:{s.port}", timeout=20, retry=retry) as c:
            victim = s.pids()[0]
            threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()
            r = c.execute("sleep", {"ms": 600})  # attempt 1 dies with its worker; a later one succeeds
            assert r.value["slept_ms"] >= 600 and r.worker.pid != victim
            assert metric(s, 'pitboss_calls_total{pool="default",command="sleep",code="UNAVAILABLE"}') >= 1
    finally:
        s.stop()


def test_retry_gives_up_after_max_attempts_and_never_retries_sessions(tmp_path):
    s = Supervisor(tmp_path, pools=[{"name": "default", "kind": "native", "size": 1},
                                    {"name": "broken", "kind": "native", "size": 1, "worker_bin": "/bin/false"}],
                   restart={"max_restarts": 1, "backoff_initial_ms": 10, "backoff_max_ms": 10}, wait_ready=False)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if s.pool("broken").state == "failed":
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.05)
        retry = pitboss.RetryPolicy(max_attempts=3, initial_backoff=0.01)
        with pitboss.Client(f"127.0.0.1:{s.port}", timeout=5, retry=retry) as c:
            with pytest.raises(pitboss.WorkerUnavailable):
                c.execute("ping", pool="broken")
            assert metric(s, 'pitboss_calls_total{pool="broken",command="ping",code="UNAVAILABLE"}') == 3
            with pytest.raises(pitboss.WorkerUnavailable):
                c.execute("ping", pool="broken", session="s")  # in a session: one attempt only
            assert metric(s, 'pitboss_calls_total{pool="broken",command="ping",code="UNAVAILABLE"}') == 4
            with pytest.raises(pitboss.InvalidArguments):  # not transient: never retried
                c.execute("sleep", {"ms": "x"})
            assert metric(s, 'pitboss_calls_total{pool="default",command="sleep",code="INVALID_ARGUMENT"}') == 1
    finally:
        s.stop()


def test_circuit_breaker_opens_then_half_opens(tmp_path):
    s = Supervisor(tmp_path, pools=[{"name": "default", "kind": "native", "size": 1},
                                    {"name": "broken", "kind": "native", "size": 1, "worker_bin": "/bin/false"}],
                   restart={"max_restarts": 1, "backoff_initial_ms": 10, "backoff_max_ms": 10}, wait_ready=False)
    try:
        s.wait_ready(pools=["default"])
        breaker = pitboss.CircuitBreaker(failure_threshold=3, success_threshold=1, reset_timeout=0.5)
        with pitboss.Client(f"127.0.0.1:{s.port}", timeout=5, breaker=breaker) as c:
            for _ in range(3):
                with pytest.raises(pitboss.WorkerUnavailable):
                    c.execute("ping", pool="broken")
            assert breaker.state == "open"
            sent = metric(s, 'pitboss_calls_total{pool="broken",command="ping",code="UNAVAILABLE"}')
            with pytest.raises(pitboss.CircuitOpen):
                c.execute("ping")  # refused without reaching the server
            assert metric(s, 'pitboss_calls_total{pool="broken",command="ping",code="UNAVAILABLE"}') == sent
            wait_for(lambda: breaker.state == "half-open", timeout=10, what="the breaker's reset timeout")
            assert c.execute("ping").value["pong"]
            assert breaker.state == "closed"
            with pytest.raises(pitboss.InvalidArguments):  # a caller's mistake does not count
                c.execute("sleep", {"ms": "x"})
            assert breaker.state == "closed"
    finally:
        s.stop()


# ---------------------------------------------------------------- many calls

def test_map_2000_items_keeps_order(client):
    results = client.map("echo", [{"i": i} for i in range(2000)], max_in_flight=64)
    assert [r.value["i"] for r in results] == list(range(2000))


def test_map_captures_errors_per_item(client):
    results = client.map("add", [{"a": 1}, {"b": 2}, {"a": 3, "b": 4}], pool="py")
    assert results[0].value == {"sum": 11} and isinstance(results[1], pitboss.InvalidArguments)
    assert results[2].value == {"sum": 7}


def test_map_retries_each_item_by_the_policy(tmp_path):
    # Client.map's calls are futures in a window, each under the policy as execute() is: a worker
    # killed under two of them costs nothing but retries; a failed pool gets max_attempts per item
    s = Supervisor(tmp_path, pools=[{"name": "default", "kind": "native", "size": 1},
                                    {"name": "broken", "kind": "native", "size": 1, "worker_bin": "/bin/false"}],
                   restart={"max_restarts": 1, "backoff_initial_ms": 10, "backoff_max_ms": 10}, wait_ready=False)
    try:
        s.wait_ready(pools=["default"])
        wait_for(lambda: s.pool("broken").state == "failed", timeout=10, what="the broken pool to fail")
        retry = pitboss.RetryPolicy(max_attempts=5, initial_backoff=0.2, max_backoff=1.0)
        with pitboss.Client(f"127.0.0.1:{s.port}", timeout=20, retry=retry) as c:
            victim = s.pids()[0]
            threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()
            results = c.map("sleep", [{"ms": 600}] * 4, max_in_flight=2)
            assert all(not isinstance(r, Exception) and r.value["slept_ms"] >= 600 for r in results), results
            assert any(r.worker.pid != victim for r in results)
            assert metric(s, 'pitboss_calls_total{pool="default",command="sleep",code="UNAVAILABLE"}') >= 1
        with pitboss.Client(f"127.0.0.1:{s.port}", timeout=5,
                            retry=pitboss.RetryPolicy(max_attempts=3, initial_backoff=0.01)) as c:
            results = c.map("ping", [{}] * 4, pool="broken", max_in_flight=2)
            assert all(isinstance(r, pitboss.WorkerUnavailable) for r in results), results
            assert metric(s, 'pitboss_calls_total{pool="broken",command="ping",code="UNAVAILABLE"}') == 12
    finally:
        s.stop()


def test_progress_bar_draws_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    bar = pitboss.ProgressBar(4, prefix="work ", stream=out, min_interval=0)
    for _ in range(4):
        bar.update()
    assert "work [" in out.getvalue() and "4/4 (100%)" in out.getvalue()
    quiet = io.StringIO()
    bar = pitboss.ProgressBar(4, stream=quiet)
    bar.update(4)
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------- the asyncio client

def test_async_client_every_method(sup, tmp_path):
    async def main():
        async with pitboss.AsyncClient(f"127.0.0.1:{sup.port}", timeout=20) as c:
            # 60 at once on one channel: within the pool's 8 running + 64 queued
            rs = await asyncio.gather(*(c.execute("echo", {"i": i}) for i in range(60)))
            assert [r.value["i"] for r in rs] == list(range(60))
            chunks = [ch async for ch in c.execute_stream("ping_stream", {"count": 4})]
            assert len(chunks) == 5 and chunks[-1].is_final
            async with c.session(pool="py") as s:
                assert (await s.execute("counter", {"key": "a"})).value["value"] == 1
                assert (await s.execute("counter", {"key": "a"})).value["value"] == 2
            assert (await c.info()).role == "supervisor"
            assert any(x["name"] == "add" for x in await c.list_commands(pool="py"))
            assert await c.health("py") == "SERVING"
            with pytest.raises(pitboss.HandlerError):
                await c.execute("explode", pool="py")
            with pytest.raises(pitboss.CommandNotFound):
                await c.execute("nope")
            results = await c.map("echo", [{"i": i} for i in range(300)], max_in_flight=32)
            assert [r.value["i"] for r in results] == list(range(300))
            marker = tmp_path / "async.txt"
            async with c.execute_stream("slow_stream", {"marker": str(marker)}, pool="py") as stream:
                async for i in stream:
                    break
            for _ in range(500):  # the handler creates the file, then writes it: wait for the words
                if marker.exists() and marker.read_text():
                    break
                await asyncio.sleep(0.02)
            assert marker.read_text() == "finally ran"

    asyncio.run(main())


def test_async_client_retries(tmp_path):
    s = Supervisor(tmp_path, pools=[{"name": "default", "kind": "native", "size": 1}])
    try:
        async def main():
            retry = pitboss.RetryPolicy(max_attempts=5, initial_backoff=0.2)
            async with pitboss.AsyncClient(f"127.0.0.1:{s.port}", retry=retry) as c:
                victim = s.pids()[0]
                asyncio.get_running_loop().call_later(0.3, os.kill, victim, signal.SIGKILL)
                r = await c.execute("sleep", {"ms": 600})
                assert r.worker.pid != victim

        asyncio.run(main())
    finally:
        s.stop()


# ---------------------------------------------------------------- packaging

def test_pip_installs_offline_into_a_venv(tmp_path):
    import shutil
    # from a copy: pip builds in the source folder, and a test must not write into the tree; without
    # the stubs the build put in the package, so that the fallback (generate on first use) is what runs
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "bridge", "python"), src, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "_generated"))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    out = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index", "--quiet", str(src)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    env = {k: v for k, v in os.environ.items() if k != "PITBOSS_PYGEN"}
    env["PITBOSS_STUB_CACHE"] = str(tmp_path / "stubs")
    check = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import pitboss, pitboss._stubs as s; print(pitboss.Client.__name__, s._folder)"],
                           capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=60)
    assert check.returncode == 0, check.stderr
    name, folder = check.stdout.split()
    # installed outside the source tree, the stubs were generated from the package's own .proto files
    assert name == "Client" and folder.startswith(str(tmp_path / "stubs")), check.stdout


def _install_copy(tmp_path, with_generated):
    import shutil
    src = tmp_path / "src"
    ignore = ["__pycache__", "build", "*.egg-info"] + ([] if with_generated else ["_generated"])
    shutil.copytree(os.path.join(ROOT, "bridge", "python"), src, symlinks=False, ignore=shutil.ignore_patterns(*ignore))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    out = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index", "--quiet", str(src)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return venv


def test_the_installed_client_needs_no_writable_home_and_adds_no_top_level_modules(tmp_path):
    venv = _install_copy(tmp_path, with_generated=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PITBOSS_PYGEN", "PITBOSS_STUB_CACHE", "XDG_CACHE_HOME")}
    env["HOME"] = "/nonexistent-home"
    code = ("import sys, pitboss, pitboss._stubs as s; "
            "print(pitboss.Client.__name__, s.pb.__name__, 'pitboss_pb2' in sys.modules, s._folder)")
    check = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                           cwd=str(tmp_path), env=env, timeout=60)
    assert check.returncode == 0, check.stderr
    name, module, top_level, folder = check.stdout.split()
    assert name == "Client" and module == "pitboss._generated.pitboss_pb2" and top_level == "False", check.stdout
    assert "site-packages" in folder  # the stubs the build put in the package
    # Without them, and nowhere to write them, the error names what to do.
    venv2 = _install_copy(tmp_path / "bare", with_generated=False)
    env["PITBOSS_STUB_CACHE"] = "/proc/no-such-place"
    bad = subprocess.run([str(venv2 / "bin" / "python"), "-c", "import pitboss; pitboss.Client"], capture_output=True,
                         text=True, cwd=str(tmp_path), env=env, timeout=60)
    assert bad.returncode != 0 and "PITBOSS_STUB_CACHE" in bad.stderr, bad.stderr
