"""What the synchronous and asyncio clients share: the default address, channel options, requests
and answers as Python objects, and the one retry loop (Attempts) that RetryPolicy and
CircuitBreaker drive. Private to the package: its names are public here so that modules import
them from one place, not each other's private names."""
import asyncio
import json
import time
from dataclasses import dataclass

import grpc

from ._stubs import pb
from .errors import from_rpc_error

__all__ = ["DEFAULT_ADDRESS", "WorkerRef", "Result", "Chunk", "worker_ref", "execute_request", "to_result", "to_chunk",
           "channel_options", "Attempts", "run_sync", "run_async", "Resilience"]

DEFAULT_ADDRESS = "127.0.0.1:50051"


@dataclass(frozen=True)
class WorkerRef:
    pool: str
    slot: int
    pid: int
    port: int


@dataclass
class Result:
    """What one Execute answered."""
    value: object            # the decoded JSON result
    payload: bytes = b""     # raw bytes, if the command returned any
    worker: WorkerRef = None
    session_reset: bool = False  # the session's worker was replaced: its session state is gone
    elapsed: float = 0.0     # seconds, as the client measured
    worker_ms: float = 0.0   # milliseconds the worker spent on it


@dataclass
class Chunk:
    """One chunk of an ExecuteStream."""
    data: object
    payload: bytes = b""
    seq: int = 0
    is_final: bool = False
    timestamp: float = 0.0   # seconds since the epoch, when the worker produced it
    worker: WorkerRef = None
    session_reset: bool = False


def worker_ref(w):
    return WorkerRef(w.pool, w.slot, w.pid, w.port) if w is not None and w.pid else None


def execute_request(command, args, pool, session, payload, timeout):
    if args is None:
        args_json = ""
    elif isinstance(args, (str, bytes)):
        args_json = args.decode() if isinstance(args, bytes) else args
    else:
        args_json = json.dumps(args)
    return pb.ExecuteRequest(command=command, args_json=args_json, pool=pool or "", session_id=session or "",
                             payload=payload or b"", timeout_ms=int(timeout * 1000) if timeout else 0)


def to_result(resp, started):
    return Result(value=json.loads(resp.result_json) if resp.result_json else None, payload=resp.payload,
                  worker=worker_ref(resp.worker), session_reset=resp.session_reset,
                  elapsed=time.monotonic() - started, worker_ms=resp.elapsed_ms)


def to_chunk(c):
    return Chunk(data=json.loads(c.data_json) if c.data_json else None, payload=c.payload, seq=c.seq,
                 is_final=c.is_final, timestamp=c.timestamp_us / 1e6,
                 worker=worker_ref(c.worker) if c.HasField("worker") else None, session_reset=c.session_reset)


def channel_options(max_message_mb):
    size = max_message_mb * 1024 * 1024
    return [("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", size)]


class Attempts:
    """One call's attempts under a RetryPolicy and a CircuitBreaker: every decision of the retry loop.
    The loops that drive it (run_sync, run_async) differ only in how they sleep."""

    def __init__(self, retry, breaker, in_session):
        self.retry, self.breaker, self.in_session = retry, breaker, in_session
        self.attempt = 0

    def start(self):
        self.attempt += 1
        if self.breaker:
            self.breaker.before_call()  # raises CircuitOpen while the breaker is open

    def failed(self, rpc_err):
        """The seconds to wait before the next attempt; raises the typed error when there is none."""
        err = from_rpc_error(rpc_err)
        if self.breaker:
            self.breaker.record_failure(err)
        if self.retry and self.retry.should_retry(err, self.attempt, self.in_session):
            return self.retry.backoff(self.attempt)
        raise err from None

    def succeeded(self, out):
        if self.breaker:
            self.breaker.record_success()
        return out


def run_sync(fn, retry, breaker, in_session=False):
    a = Attempts(retry, breaker, in_session)
    while True:
        a.start()
        try:
            out = fn()
        except grpc.RpcError as rpc_err:
            time.sleep(a.failed(rpc_err))
            continue
        return a.succeeded(out)


async def run_async(fn, retry, breaker, in_session=False):
    """Awaits fn() under the breaker, retrying transient failures by the policy."""
    a = Attempts(retry, breaker, in_session)
    while True:
        a.start()
        try:
            out = await fn()
        except grpc.RpcError as rpc_err:
            await asyncio.sleep(a.failed(rpc_err))
            continue
        return a.succeeded(out)


class Resilience:
    """A client's retry policy and breaker, for run_sync."""

    def __init__(self, retry, breaker):
        self.retry = retry
        self.breaker = breaker

    def run(self, fn, in_session):
        return run_sync(fn, self.retry, self.breaker, in_session)
