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
