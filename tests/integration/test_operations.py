"""Operations (issue 11): what an operator does to a running pitboss (a second instance, signals,
reloads, health probes), each against a real supervisor and its real workers."""
import os
import signal
import time

import grpc
import pytest

from conftest import Supervisor


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
