"""Defaults and sharp edges a newcomer meets in the first hour (issue 11), each through a real
supervisor, real workers and the real CLI or Python client."""
import json
import os

import grpc
import pytest

from conftest import run_cli

HANDLERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyhandlers")


@pytest.fixture
def pysup(make_supervisor):
    return make_supervisor(pools=[{"name": "py", "kind": "python", "size": 1, "module": "th",
                                   "python_path": HANDLERS}], default_pool="py")


def test_ctx_payload_is_empty_bytes_when_nothing_was_sent(pysup):
    assert json.loads(pysup.execute("payload_info").result_json) == {"type": "bytes", "len": 0}


def test_a_nan_in_a_result_is_a_handler_error_naming_the_field(pysup):
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("nan_result")
    assert e.value.code() == grpc.StatusCode.UNKNOWN
    assert "result['scores'][1] is not a finite number" in e.value.details()
    assert "allow_nan=True" in e.value.details()
    # Registered with allow_nan=True: sent as null, which every JSON parser reads.
    assert json.loads(pysup.execute("nan_allowed").result_json) == {"scores": [1.0, None], "ok": True}


import concurrent.futures  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pitboss_pb2 as pb  # noqa: E402

from conftest import ROOT  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "bridge", "python"))
import pitboss  # noqa: E402


def test_the_python_client_puts_no_deadline_on_streams_unless_asked(make_supervisor):
    sup = make_supervisor()
    with pitboss.Client(f"127.0.0.1:{sup.port}", timeout=0.5) as c:
        # A stream longer than the client's call timeout runs to its end...
        chunks = list(c.execute_stream("ping_stream", {"count": 4, "interval_ms": 300}))
        assert len(chunks) >= 4
        # ...while a call is held to it, and a stream to an explicit timeout.
        with pytest.raises(pitboss.PitbossError) as e:
            c.execute("sleep", {"ms": 1500})
        assert e.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        with pytest.raises(pitboss.PitbossError):
            list(c.execute_stream("ping_stream", {"count": 4, "interval_ms": 300}, timeout=0.4))


def test_deadline_exceeded_says_which_limit_it_was(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1, "max_concurrency": 1}],
                          timeouts={"request_ms": 400})
    with pytest.raises(grpc.RpcError) as e:
        sup.stub.Execute(pb.ExecuteRequest(command="sleep", args_json='{"ms": 3000}', timeout_ms=300))
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "the limit was the request's timeout_ms (300 ms)" in e.value.details(), e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        sup.stub.Execute(pb.ExecuteRequest(command="sleep", args_json='{"ms": 3000}'))
    assert "the limit was the server's default, timeouts.request_ms (400 ms)" in e.value.details()
    # Waiting in the queue behind a busy worker, past its deadline.
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        busy = ex.submit(sup.stub.Execute, pb.ExecuteRequest(command="sleep", args_json='{"ms": 1500}',
                                                             timeout_ms=5000))
        deadline = time.monotonic() + 10
        while sup.pool().in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(grpc.RpcError) as e:
            sup.stub.Execute(pb.ExecuteRequest(command="ping", timeout_ms=200))
        assert "in the queue" in e.value.details() and "the request's timeout_ms (200 ms)" in e.value.details()
        busy.result()
