"""A real pitboss-worker process over real gRPC, driven by a grpcio client (stubs from the same proto)."""
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import threading
import time

import grpc
import pytest

from conftest import BIN, Worker, health_pb2, pb, run_cli


def test_ready_handshake_names_the_port(worker):
    assert worker.ready_line == f"READY {worker.port}\n"


def test_ping(worker):
    resp = worker.execute("ping")
    assert json.loads(resp.result_json) == {"pong": True, "pid": worker.proc.pid}
    assert resp.worker.pid == worker.proc.pid
    assert resp.worker.port == worker.port
    assert resp.elapsed_ms >= 0


def test_binary_payload_4mib_round_trips_byte_for_byte(worker):
    payload = os.urandom(4 * 1024 * 1024)
    resp = worker.execute("echo", '{"tag": "bin"}', payload=payload, timeout=30)
    assert json.loads(resp.result_json) == {"tag": "bin"}
    assert len(resp.payload) == len(payload)
    assert resp.payload == payload


def test_ping_stream_1000_chunks_in_order_final_last(worker):
    chunks = list(worker.stream("ping_stream", '{"count": 1000}'))
    assert len(chunks) == 1001
    assert [c.seq for c in chunks] == list(range(1001))
    assert [c.is_final for c in chunks] == [False] * 1000 + [True]
    assert [json.loads(c.data_json)["ping"] for c in chunks[:-1]] == list(range(1, 1001))
    assert json.loads(chunks[-1].data_json) == {"done": True, "sent": 1000}
    assert chunks[0].worker.pid == worker.proc.pid
    stamps = [c.timestamp_us for c in chunks]
    assert stamps == sorted(stamps) and stamps[0] > 1_700_000_000_000_000


def test_cancelling_a_stream_stops_the_worker_producing_it(worker):
    call = worker.stream("ping_stream", '{"count": 100000, "interval_ms": 5}')
    for i, _ in enumerate(call):
        if i == 4:
            break
    call.cancel()
    # The worker notices the cancel, stops the command and counts it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        info = worker.info()
        if info.in_flight == 0 and info.cancelled == 1:
            break
        time.sleep(0.05)
    assert info.in_flight == 0 and info.cancelled == 1, info
    sent = info.chunks_sent
    time.sleep(0.3)
    assert worker.info().chunks_sent == sent, "the worker kept producing after the cancel"
    assert sent < 100, f"{sent} chunks sent for a stream cancelled after 5"


def test_sleep_past_its_deadline_is_deadline_exceeded(worker):
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("sleep", '{"ms": 5000}', timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 2
    # The worker freed the command thread: it is idle again soon after.
    deadline = time.monotonic() + 3
    while worker.info().in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.info().in_flight == 0


def test_request_timeout_field_bounds_the_command(worker):
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("sleep", '{"ms": 5000}', timeout=10, timeout_ms=200)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "200" in e.value.details() or "deadline" in e.value.details()


def test_unknown_command_is_not_found_and_named(worker):
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("no_such_command")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no_such_command" in e.value.details()
    assert "ping" in e.value.details()  # lists what is served


@pytest.mark.parametrize("args,where", [('{"a": 1,', "line 1"), ("[1, 2]", "array"), ('{"a": }', "column 7")])
def test_bad_json_args_are_invalid_argument_with_position(worker, args, where):
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("echo", args)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert where in e.value.details()


def test_bad_argument_value_is_invalid_argument(worker):
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("sleep", '{"ms": "soon"}')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert '"ms"' in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("sleep", '{"ms": 1, "extra": 2}')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert '"extra"' in e.value.details()


def test_handler_error_carries_message_and_type(worker):
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("fail", '{"message": "it broke"}')
    assert e.value.code() == grpc.StatusCode.UNKNOWN
    assert e.value.details() == "it broke"
    assert dict(e.value.trailing_metadata())["x-pitboss-error-type"] == "CommandFailed"
    # ... and the worker is still up
    assert json.loads(worker.execute("ping").result_json)["pong"] is True


def test_streaming_command_through_execute_says_what_to_do(worker):
    with pytest.raises(grpc.RpcError) as e:
        worker.execute("ping_stream")
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ExecuteStream" in e.value.details()


def test_unary_command_through_execute_stream_is_one_final_chunk(worker):
    chunks = list(worker.stream("echo", '{"x": 1}'))
    assert len(chunks) == 1 and chunks[0].is_final and json.loads(chunks[0].data_json) == {"x": 1}


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_permission_denied(worker, token):
    md = (("x-pitboss-token", token),) if token else ()
    for call in (
        lambda: worker.stub.Execute(pb.ExecuteRequest(command="ping"), timeout=5, metadata=md),
        lambda: worker.stub.GetInfo(pb.GetInfoRequest(), timeout=5, metadata=md),
        lambda: list(worker.stub.ExecuteStream(pb.ExecuteRequest(command="ping_stream"), timeout=5, metadata=md)),
    ):
        with pytest.raises(grpc.RpcError) as e:
            call()
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "x-pitboss-token" in e.value.details()


def test_64_concurrent_calls_are_all_answered(worker):
    # Half block (sleep), half are quick (ping); all 64 in flight at once on one channel.
    def one(i):
        if i % 2:
            return json.loads(worker.execute("sleep", '{"ms": 50}', timeout=20).result_json)["slept_ms"]
        return json.loads(worker.execute("echo", json.dumps({"i": i})).result_json)["i"]

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(64) as ex:
        results = list(ex.map(one, range(64)))
    assert [r for i, r in enumerate(results) if i % 2 == 0] == list(range(0, 64, 2))
    assert all(r >= 50 for i, r in enumerate(results) if i % 2)
    # 32 sleeps of 50 ms on 16 command threads: about 100 ms, far from 1.6 s if run one by one.
    assert time.monotonic() - t0 < 1.5
    assert worker.info().served >= 64


def test_get_info_and_list_commands(worker):
    info = worker.stub.GetInfo(pb.GetInfoRequest(), timeout=5, metadata=worker.md)
    assert info.role == "worker" and info.pid == worker.proc.pid
    assert info.worker.port == worker.port and info.worker.kind == "native"
    assert info.worker.rss_kb > 0
    cmds = worker.stub.ListCommands(pb.ListCommandsRequest(), timeout=5, metadata=worker.md).commands
    by_name = {c.name: c for c in cmds}
    assert set(by_name) >= {"ping", "echo", "sleep", "ping_stream", "fail"}
    assert by_name["ping_stream"].streaming and not by_name["ping"].streaming
    assert [p.name for p in by_name["sleep"].params] == ["ms"] and by_name["sleep"].params[0].required


def test_health_check(worker):
    resp = worker.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5, metadata=worker.md)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as e:
        worker.health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5, metadata=worker.md)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_unknown_method_is_unimplemented(worker):
    call = worker.channel.unary_unary("/pitboss.v1.Pool/Nope")
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=5, metadata=worker.md)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def listening_addresses(port):
    """Local addresses (hex, as in /proc/net) of the sockets listening on port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                addr, p = cols[1].rsplit(":", 1)
                if int(p, 16) == port and cols[3] == "0A":  # 0A: LISTEN
                    found.append(addr)
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def test_listens_on_loopback_only(worker):
    addrs = listening_addresses(worker.port)
    assert addrs and all(a in LOOPBACK for a in addrs), addrs


def test_sigterm_lets_running_calls_finish_then_exits_0(worker):
    result = {}

    def slow():
        result["resp"] = worker.execute("sleep", '{"ms": 600}', timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    worker.wait_calls_running(1)
    worker.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert json.loads(result["resp"].result_json)["slept_ms"] >= 600
    assert worker.proc.wait(10) == 0


def test_busy_port_fails_with_exit_3(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([os.path.join(BIN, "pitboss-worker"), "--port", str(port)], capture_output=True,
                              text=True, timeout=10)
    assert proc.returncode == 3
    assert f"127.0.0.1:{port}" in proc.stderr and "in use" in proc.stderr


def test_bad_worker_options_exit_2_naming_the_option():
    proc = subprocess.run([os.path.join(BIN, "pitboss-worker"), "--port", "99999"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--port" in proc.stderr
    proc = subprocess.run([os.path.join(BIN, "pitboss-worker")], capture_output=True, text=True)
    assert proc.returncode == 2 and "--port is required" in proc.stderr


# ---------------------------------------------------------------- the CLI against a worker

def cli_env(worker):
    return {"PITBOSS_WORKER_TOKEN": worker.token}


def test_cli_call_prints_the_result(worker):
    out = run_cli("call", "ping", "--target", f"127.0.0.1:{worker.port}", env=cli_env(worker))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"pong": True, "pid": worker.proc.pid}


def test_cli_call_with_payload_file(worker, tmp_path):
    src = tmp_path / "in.bin"
    dst = tmp_path / "out.bin"
    src.write_bytes(os.urandom(100_000))
    out = run_cli("call", "echo", '{"k": "v"}', "--target", f"127.0.0.1:{worker.port}", "--payload-file", str(src),
                  "--payload-out", str(dst), env=cli_env(worker))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"k": "v"}
    assert dst.read_bytes() == src.read_bytes()


def test_cli_stream_prints_one_chunk_a_line(worker):
    out = run_cli("stream", "ping_stream", '{"count": 5}', "--target", f"127.0.0.1:{worker.port}",
                  env=cli_env(worker))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert [l.get("ping") for l in lines] == [1, 2, 3, 4, 5, None]
    assert lines[-1] == {"done": True, "sent": 5}


def test_cli_stream_prints_chunks_as_they_arrive(worker):
    proc = subprocess.Popen([os.path.join(BIN, "pitboss"), "stream", "ping_stream", '{"count": 3, "interval_ms": 700}',
                             "--target", f"127.0.0.1:{worker.port}"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **cli_env(worker)})
    t0 = time.monotonic()
    first = proc.stdout.readline()
    assert json.loads(first)["ping"] == 1
    assert time.monotonic() - t0 < 0.6, "the first chunk waited for the whole stream"
    proc.communicate(timeout=10)
    assert proc.returncode == 0


@pytest.mark.parametrize("argv,status,code", [
    (["call", "nope"], "NOT_FOUND", 3),  # issue 11: "not found" is 3 in every subcommand, as in pitboss jobs
    (["call", "sleep", '{"ms": 3000}', "--timeout", "200"], "DEADLINE_EXCEEDED", 1),
    (["call", "fail", '{"message": "x"}'], "UNKNOWN", 1),
])
def test_cli_errors_print_status_and_exit_nonzero(worker, argv, status, code):
    out = run_cli(*argv, "--target", f"127.0.0.1:{worker.port}", env=cli_env(worker))
    assert out.returncode == code
    assert out.stderr.startswith(f"pitboss: {status}: "), out.stderr
    assert out.stdout == ""


def test_cli_bad_json_is_refused_before_sending():
    out = run_cli("call", "echo", '{"a": ', "--target", "127.0.0.1:1")
    assert out.returncode == 2
    assert "not valid JSON" in out.stderr and "column" in out.stderr


def test_cli_unreachable_target_says_what_to_do():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run_cli("call", "ping", "--target", f"127.0.0.1:{port}")
    assert out.returncode == 1
    assert "UNAVAILABLE" in out.stderr and "--target" in out.stderr
