"""Operations (issue 11): what an operator does to a running pitboss (a second instance, signals,
reloads, health probes), each against a real supervisor and its real workers."""
import json
import os
import signal
import time
import urllib.request

import grpc
import pytest

from conftest import Supervisor, pid_alive, run_cli, wait_for


def wait_exit(proc, timeout=20):
    try:
        return proc.wait(timeout=timeout)
    except Exception:
        proc.kill()
        raise


def test_a_second_supervisor_on_the_same_state_dir_exits_naming_the_first(make_supervisor, tmp_path):
    state = str(tmp_path / "shared-state")
    first = make_supervisor(state_dir=state)
    second = Supervisor(tmp_path, state_dir=state, wait_ready=False)
    try:
        assert wait_exit(second.proc) == 1
        log = second.log_text()
        assert f"in use by pitboss pid {first.proc.pid}" in log, log[-2000:]
        assert "give this instance its own state_dir" in log
    finally:
        second.stop()
    # The first one never noticed.
    assert first.proc.poll() is None
    first.wait_ready()


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0]


def ping(sup):
    return json.loads(sup.execute("ping").result_json)["pong"]


UNUSED = [signal.SIGUSR2, signal.SIGTSTP, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGPWR,
          signal.SIGXFSZ, signal.SIGRTMIN + 3, signal.SIGRTMAX]


def test_unused_signals_neither_stop_freeze_nor_kill_the_supervisor(make_supervisor):
    sup = make_supervisor()
    for sig in UNUSED:
        for _ in range(2):
            sup.proc.send_signal(sig)
            assert ping(sup), sig
        assert sup.proc.poll() is None, f"{signal.Signals(sig).name} ended the supervisor"
        assert proc_state(sup.proc.pid) != "T", f"{signal.Signals(sig).name} froze the supervisor"
    # Logged, once each, with the signal's number.
    log = sup.log_text()
    for sig in UNUSED:
        assert log.count(f"(signal {int(sig)}) received: pitboss does not use it") == 1, (int(sig), log[-3000:])
    # TTIN and TTOU (which stop a process by default) are used; QUIT, USR1 too (below).
    assert sup.wait_ready()


def test_ttin_adds_a_worker_and_ttou_removes_one_within_bounds(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2, "max_size": 3}])
    session_pids = {}
    for i in range(6):
        r = sup.execute("ping", session_id=f"s{i}")
        session_pids[f"s{i}"] = r.worker.pid
    sup.proc.send_signal(signal.SIGTTIN)
    wait_for(lambda: len(sup.pool().slots) == 3 and all(s.state == "ready" for s in sup.pool().slots), what="3 workers")
    sup.proc.send_signal(signal.SIGTTIN)  # at max_size 3: refused, logged
    wait_for(lambda: "already has 3 workers, its max_size" in sup.log_text(), what="the max_size refusal")
    assert proc_state(sup.proc.pid) != "T"
    third = sup.pool().slots[2].pid
    # One at a time: two of the same signal sent at once may arrive as one (POSIX signals do not queue).
    sup.proc.send_signal(signal.SIGTTOU)
    wait_for(lambda: len(sup.pool().slots) == 2, what="the pool to shrink to 2 workers")
    sup.proc.send_signal(signal.SIGTTOU)
    wait_for(lambda: len(sup.pool().slots) == 1, what="the pool to shrink to 1 worker")
    wait_for(lambda: not pid_alive(third), what="the removed worker to exit")
    sup.proc.send_signal(signal.SIGTTOU)
    wait_for(lambda: "is down to 1 worker: not removing it" in sup.log_text(), what="the minimum refusal")
    survivor = sup.pool().slots[0].pid
    # Sessions that lived on a removed worker moved, and say that their state is gone.
    for sid, pid in session_pids.items():
        r = sup.execute("ping", session_id=sid)
        assert r.worker.pid == survivor
        assert r.session_reset == (pid != survivor), (sid, pid, survivor)
    assert ping(sup)


def test_sigquit_stops_fast_cancelling_calls(make_supervisor):
    sup = make_supervisor(timeouts={"graceful_ms": 120000})
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        fut = ex.submit(sup.execute, "sleep", '{"ms": 100000}', 200)
        wait_for(lambda: sup.pool().in_flight == 1, what="the call to be running")
        start = time.monotonic()
        sup.proc.send_signal(signal.SIGQUIT)
        with pytest.raises(grpc.RpcError) as e:
            fut.result(timeout=60)
        # ABORTED, not UNAVAILABLE: retry policies retry UNAVAILABLE, and the call may have run in part.
        assert e.value.code() == grpc.StatusCode.ABORTED and "SIGQUIT" in e.value.details(), e.value.details()
    assert sup.proc.wait(60) == 0
    # Far inside graceful_ms (120 s): the stop did not wait for the call.
    assert time.monotonic() - start < 60
    assert "SIGQUIT: stopping fast" in sup.log_text()


def test_sigusr1_reopens_the_log_file(make_supervisor, tmp_path):
    log = tmp_path / "pitboss.log"
    sup = make_supervisor(log_file=str(log))
    wait_for(lambda: log.exists() and "pitboss serving on" in log.read_text(), what="the log file")
    os.rename(log, tmp_path / "pitboss.log.1")  # what logrotate does
    sup.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: log.exists() and "SIGUSR1: reopened the log file" in log.read_text(), what="a new log file")
    assert "pitboss serving on" in (tmp_path / "pitboss.log.1").read_text()
    assert ping(sup)


import health_pb2 as hpb  # noqa: E402

SERVING, NOT_SERVING, SERVICE_UNKNOWN = (hpb.HealthCheckResponse.SERVING, hpb.HealthCheckResponse.NOT_SERVING,
                                         hpb.HealthCheckResponse.SERVICE_UNKNOWN)


def pool_state(sup):
    try:
        return sup.info().pools[0].state
    except grpc.RpcError:  # not listening yet
        return None


def pool_named(sup, name):
    try:
        return next((p.state for p in sup.info().pools if p.name == name), None)
    except grpc.RpcError:  # not listening yet
        return None


def check(sup, service=""):
    return sup.health.Check(hpb.HealthCheckRequest(service=service), timeout=5).status


def test_health_is_not_serving_when_no_pool_can_serve_and_says_why_in_one_line(make_supervisor):
    sup = make_supervisor(pools=[{"name": "py", "kind": "python", "size": 1, "module": "no_such_module_here"}],
                          wait_ready=False)
    wait_for(lambda: pool_state(sup) == "failed", what="the pool to fail")
    # A readiness probe of "" must take this instance out of rotation: no pool can take a call.
    assert check(sup, "") == NOT_SERVING
    assert check(sup, "pitboss.v1.Pool") == NOT_SERVING
    assert check(sup, "py") == NOT_SERVING
    reason = sup.info().pools[0].failed_reason
    assert reason == ("ModuleNotFoundError: No module named 'no_such_module_here' "
                      "(importing module 'no_such_module_here')"), reason
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("anything", pool="py")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE and reason in e.value.details()
    # The whole traceback stays in the log.
    assert "Traceback (most recent call last)" in sup.log_text()
    out = run_cli("status", "--target", f"127.0.0.1:{sup.port}")
    assert reason in out.stdout, out.stdout


def test_health_watch_pushes_every_change(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}],
                          restart={"backoff_initial_ms": 300, "backoff_max_ms": 300})
    assert check(sup, "pitboss.v1.Jobs") == SERVING
    watch = sup.health.Watch(hpb.HealthCheckRequest(service="default"), timeout=60)
    assert next(watch).status == SERVING
    unknown = sup.health.Watch(hpb.HealthCheckRequest(service="no-such-pool"), timeout=60)
    assert next(unknown).status == SERVICE_UNKNOWN
    unknown.cancel()
    os.kill(sup.pids()[0], signal.SIGKILL)
    assert next(watch).status == NOT_SERVING  # pushed while the worker is down
    assert next(watch).status == SERVING      # and again once its replacement is ready
    every = sup.health.Watch(hpb.HealthCheckRequest(service=""), timeout=60)
    assert next(every).status == SERVING
    sup.proc.send_signal(signal.SIGTERM)
    assert next(every).status == NOT_SERVING
    with pytest.raises(grpc.RpcError) as e:
        next(every)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE and "stopping" in e.value.details()
    assert sup.proc.wait(30) == 0


HANDLERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyhandlers")


def py_pool(**kw):
    return {"name": "py", "kind": "python", "size": 1, "module": "th", "python_path": HANDLERS, **kw}


def slot0(sup, pool="py"):
    return sup.pool(pool).slots[0]


def metric(sup, line_start):
    body = urllib.request.urlopen(f"http://127.0.0.1:{sup.metrics_port}/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


def test_a_handler_that_ignores_its_deadline_still_counts_as_in_flight(make_supervisor):
    sup = make_supervisor(pools=[py_pool()], default_pool="py", timeouts={"abandon_grace_ms": 120000})
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("busy", '{"ms": 8000}', timeout=0.5)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The handler still runs: the slot says so (once the supervisor's own deadline for the call has
    # fired too: the client's may come first), and admits nothing more (max_concurrency 1).
    wait_for(lambda: slot0(sup).abandoned == 1, what="the call to be marked abandoned")
    s = slot0(sup)
    assert (s.in_flight, s.abandoned) == (1, 1), s
    assert metric(sup, 'pitboss_calls_abandoned{pool="py"}') == 1
    assert "(1 abandoned)" in run_cli("status", "--target", f"127.0.0.1:{sup.port}").stdout
    # A call sent now waits for that handler instead of sharing the worker with it...
    r = sup.execute("whoami", timeout=30)
    # ...and by the time it is answered, the abandoned call is over.
    s = slot0(sup)
    assert s.abandoned == 0 and s.in_flight == 0, s
    assert json.loads(r.result_json)["pid"] == s.pid
    assert metric(sup, 'pitboss_workers_killed_total{pool="py",reason="overran"}') == 0


def test_a_handler_running_past_the_grace_gets_its_worker_replaced(make_supervisor):
    sup = make_supervisor(pools=[py_pool()], default_pool="py", timeouts={"abandon_grace_ms": 500})
    pid = slot0(sup).pid
    with pytest.raises(grpc.RpcError):
        sup.execute("busy", '{"ms": 600000}', timeout=0.3)
    wait_for(lambda: slot0(sup).pid not in (0, pid) and slot0(sup).state == "ready",
             what="the overrunning worker to be replaced")
    assert not pid_alive(pid) and slot0(sup).abandoned == 0
    log = sup.log_text()
    assert f"(pid {pid}) still runs 1 call(s) whose client is gone" in log and 'command "busy"' in log
    assert "timeouts.abandon_grace_ms" in log
    assert metric(sup, 'pitboss_workers_killed_total{pool="py",reason="overran"}') == 1
    assert json.loads(sup.execute("whoami").result_json)["pid"] == slot0(sup).pid


def test_a_planned_stop_escalates_to_sigkill_after_graceful_ms(make_supervisor):
    sup = make_supervisor(pools=[py_pool(size=2, module="hang_on_stop")], default_pool="py",
                          timeouts={"graceful_ms": 300, "health_interval_ms": 100, "health_timeout_ms": 90})
    last = sup.pool("py").slots[1].pid
    sup.proc.send_signal(signal.SIGTTOU)  # the last worker drains, gets SIGTERM, and hangs in its hook
    wait_for(lambda: not pid_alive(last), what="the hung worker to be killed")
    assert f"(pid {last}) is still running" in sup.log_text() and "timeouts.graceful_ms" in sup.log_text()
    wait_for(lambda: len(sup.pool("py").slots) == 1, what="the pool to shrink")


def rewrite_config(sup, **changes):
    cfg = json.loads(sup.config_path.read_text())
    cfg.update(changes)
    sup.config_path.write_text(json.dumps(cfg, indent=2))
    return cfg


def reload_cli(sup):
    return run_cli("reload", "--target", f"127.0.0.1:{sup.port}", timeout=60)


def test_a_bad_config_on_reload_is_refused_and_the_running_config_stays(make_supervisor):
    sup = make_supervisor()
    pids = sup.pids()
    sup.config_path.write_text(sup.config_path.read_text().replace('"pools"', '"pools": [], "pools"', 1))
    out = reload_cli(sup)
    assert out.returncode == 1, out
    assert "refused" in out.stderr and "duplicate" in out.stderr and str(sup.config_path) in out.stderr, out.stderr
    assert "reload refused" in sup.log_text()
    assert sup.pids() == pids  # nothing was replaced
    assert ping(sup)


def test_reload_adds_removes_and_resizes_pools_and_names_what_needs_a_restart(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2},
                                 {"name": "extra", "kind": "native", "size": 1, "backend": "extra"}])
    extra_pid = sup.pids("extra")[0]
    rewrite_config(sup, listen="127.0.0.1:1", pools=[{"name": "default", "kind": "native", "size": 3},
                                                      {"name": "fresh", "kind": "native", "size": 1}])
    out = reload_cli(sup)
    assert out.returncode == 0, out
    text = out.stdout
    for said in ("removed pool extra", "added pool fresh (1 workers)", "pool default: 2 -> 3 workers",
                 "listen needs a restart (kept"):
        assert said in text, text
    wait_for(lambda: sorted(p.name for p in sup.info().pools) == ["default", "fresh"], what="the new pools")
    wait_for(lambda: len(sup.pool("default").slots) == 3 and all(s.state == "ready" for s in sup.pool("default").slots)
             and all(s.state == "ready" for s in sup.pool("fresh").slots), what="every worker ready")
    wait_for(lambda: not pid_alive(extra_pid), what="the removed pool's worker to stop")
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("ping", pool="extra")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert json.loads(sup.execute("ping", pool="fresh").result_json)["pong"]
    assert ping(sup)  # still on the listen address it started with


def test_reload_starts_a_failed_pool_again(make_supervisor, tmp_path):
    mods = tmp_path / "mods"
    mods.mkdir()
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1},
                                 {"name": "py", "kind": "python", "size": 1, "module": "later_mod",
                                  "python_path": str(mods)}], restart={"failed_retry_s": 0}, wait_ready=False)
    wait_for(lambda: pool_named(sup, "py") == "failed", what="the pool to fail")
    (mods / "later_mod.py").write_text("import pitboss\n\n@pitboss.command\ndef hello():\n    return 'hi'\n")
    out = reload_cli(sup)
    assert out.returncode == 0 and "pool py started again (it had failed)" in out.stdout, out
    wait_for(lambda: pool_named(sup, "py") == "serving" and sup.pool("py").slots[0].state == "ready",
             what="the pool to serve")
    assert json.loads(sup.execute("hello", pool="py").result_json) == "hi"


def test_a_failed_pool_retries_by_itself_after_failed_retry_s(make_supervisor, tmp_path):
    mods = tmp_path / "mods"
    mods.mkdir()
    sup = make_supervisor(pools=[{"name": "py", "kind": "python", "size": 1, "module": "later_mod2",
                                  "python_path": str(mods)}],
                          restart={"failed_retry_s": 1}, timeouts={"health_interval_ms": 200, "health_timeout_ms": 100},
                          wait_ready=False)
    wait_for(lambda: pool_named(sup, "py") == "failed", what="the pool to fail")
    (mods / "later_mod2.py").write_text("import pitboss\n\n@pitboss.command\ndef hello():\n    return 'hi'\n")
    wait_for(lambda: pool_named(sup, "py") == "serving" and sup.pool("py").slots[0].state == "ready",
             timeout=30, what="the pool to heal by itself")
    assert "restart.failed_retry_s" in sup.log_text()
    assert json.loads(sup.execute("hello", pool="py").result_json) == "hi"


def test_serve_check_imports_python_modules(tmp_path):
    cfg = {"listen": "127.0.0.1:1", "pools": [{"name": "py", "kind": "python", "module": "no_such_mod_x"}]}
    path = tmp_path / "check.json"
    path.write_text(json.dumps(cfg))
    out = run_cli("serve", "--check", "-c", str(path))
    assert out.returncode == 2, out
    assert "ModuleNotFoundError: No module named 'no_such_mod_x' (importing module 'no_such_mod_x')" in out.stderr
    cfg["pools"][0].update(module="th", python_path=HANDLERS)
    path.write_text(json.dumps(cfg))
    out = run_cli("serve", "--check", "-c", str(path))
    assert out.returncode == 0, out
    assert "imported 1 module(s)" in out.stdout and "OK" in out.stdout


def test_a_spawn_that_fails_for_want_of_descriptors_is_retried_until_it_works(make_supervisor):
    import resource
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 2}],
                          restart={"backoff_initial_ms": 50, "backoff_max_ms": 200, "max_restarts": 1000})
    pid = sup.pids()[0]
    limits = resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE)
    try:
        # No descriptor the supervisor opens from now on can be numbered below 3: pipe2 fails (EMFILE).
        resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE, (3, limits[1]))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: sup.log_text().count("cannot create pipes for worker 0") >= 2,
                 what="the failed spawn to be retried")
    finally:
        resource.prlimit(sup.proc.pid, resource.RLIMIT_NOFILE, limits)
    # Once descriptors are there again, the slot comes back by itself (it used to stay in backoff for good).
    wait_for(lambda: sup.pool().slots[0].state == "ready" and sup.pool().slots[0].pid not in (0, pid),
             timeout=30, what="the slot to come back")
    assert ping(sup)


def test_errors_expose_traceback_false_keeps_tracebacks_in_the_log(make_supervisor):
    sup = make_supervisor(pools=[py_pool()], default_pool="py", errors={"expose_traceback": False})
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("explode")
    md = dict(e.value.trailing_metadata() or ())
    assert "x-pitboss-traceback-bin" not in md  # no traceback, no local paths, for the client
    assert md.get("x-pitboss-error-type") and md["x-pitboss-error-type"] in e.value.details()
    log = sup.log_text()
    assert 'call explode of pool "py"' in log and "Traceback (most recent call last)" in log
    # The default (development): the client gets the traceback.
    dev = make_supervisor(pools=[py_pool()], default_pool="py")
    with pytest.raises(grpc.RpcError) as e:
        dev.execute("explode")
    assert "x-pitboss-traceback-bin" in dict(e.value.trailing_metadata() or ())


def test_a_readable_state_dir_is_warned_about_and_killed_supervisors_run_folders_are_removed(make_supervisor,
                                                                                           tmp_path, monkeypatch):
    run_tmp = tmp_path / "tmp"
    run_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(run_tmp))
    state = tmp_path / "open-state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    first = make_supervisor(state_dir=str(state))
    assert "can be read by every local user (mode 755)" in first.log_text()
    assert "chmod 700" in first.log_text()
    first.proc.kill()  # no cleanup: its run folder stays
    first.proc.wait()
    left = [p.name for p in run_tmp.iterdir() if p.name.startswith(f"pitboss-{first.proc.pid}-")]
    assert left, list(run_tmp.iterdir())
    second = make_supervisor(state_dir=str(state))
    assert "removed 1 run folder left by supervisors that were killed" in second.log_text()
    assert not [p for p in run_tmp.iterdir() if p.name.startswith(f"pitboss-{first.proc.pid}-")]
    assert ping(second)


def test_a_reload_is_not_held_up_by_a_long_stream(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1}],
                          timeouts={"graceful_ms": 500, "health_interval_ms": 100, "health_timeout_ms": 90})
    pid = sup.pids()[0]
    stream = sup.stream("ping_stream", '{"count": 100000, "interval_ms": 20}', timeout=120)
    assert next(stream).data_json  # running
    sup.proc.send_signal(signal.SIGHUP)
    with pytest.raises(grpc.RpcError) as e:
        for _ in stream:
            pass
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "is being replaced" in e.value.details() and "timeouts.graceful_ms" in e.value.details()
    wait_for(lambda: sup.pids()[0] not in (0, pid) and sup.pool().slots[0].state == "ready",
             what="the worker to be replaced")
    # A second SIGHUP is not refused: it reloads again.
    sup.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: sup.log_text().count("SIGHUP: reading") == 2, what="the second reload")
    assert ping(sup)


def test_calls_cut_at_the_end_of_graceful_ms_say_so_and_are_not_retried(make_supervisor):
    import concurrent.futures
    import sys
    from conftest import ROOT
    sys.path.insert(0, os.path.join(ROOT, "bridge", "python"))
    import pitboss
    sup = make_supervisor(timeouts={"graceful_ms": 300})
    # The client retries UNAVAILABLE: had it retried, its error would be the stopped server's, not ABORTED.
    with pitboss.Client(f"127.0.0.1:{sup.port}", timeout=60, retry=pitboss.RetryPolicy(max_attempts=5)) as c:
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(c.execute, "sleep", {"ms": 60000})
            wait_for(lambda: sup.pool().in_flight == 1, what="the call to be running")
            sup.proc.send_signal(signal.SIGTERM)
            with pytest.raises(pitboss.PitbossError) as e:
                fut.result(timeout=60)
    assert e.value.code == grpc.StatusCode.ABORTED, e.value
    assert "cut this call after timeouts.graceful_ms (300 ms)" in str(e.value) and "retry it only if" in str(e.value)
    assert sup.proc.wait(30) == 0
    body = sup.log_text()
    assert body.count("grace period of 300 ms over") == 1
