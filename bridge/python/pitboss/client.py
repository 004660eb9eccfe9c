"""The synchronous client for a pitboss supervisor.

    import pitboss

    with pitboss.Client("127.0.0.1:50051") as client:
        print(client.execute("ping").value)
        for chunk in client.execute_stream("ping_stream", {"count": 5}):
            print(chunk.data)
        with client.session() as s:          # same worker every time
            s.execute("remember", {"key": "k", "value": 1})
"""
import collections
import dataclasses
import heapq
import json
import time
import uuid

import grpc

from ._stubs import health_grpc, health_pb, pb, pb_grpc
from .errors import PitbossError, from_rpc_error  # noqa: F401
from .progress import ProgressBar
from .resilience import CircuitBreaker, RetryPolicy

__all__ = ["Client", "Session", "Result", "Chunk", "WorkerRef", "DEFAULT_ADDRESS"]

from ._transport import (DEFAULT_ADDRESS, Attempts, Chunk, Resilience, Result, WorkerRef, channel_options,  # noqa: F401
                         execute_request, to_chunk, to_result)

for _cls in (WorkerRef, Result, Chunk):
    _cls.__module__ = __name__  # where users import them from (and where pickles look them up)


class ChunkStream:
    """The chunks of one ExecuteStream, as they arrive. Breaking out of the loop, close() or leaving a
    `with` block cancels the call on the server (a Python handler's generator is closed)."""

    def __init__(self, call):
        self._call = call
        self._closed = False

    def __iter__(self):
        try:
            for c in self._call:
                yield to_chunk(c)
        except grpc.RpcError as err:
            if self._closed and err.code() == grpc.StatusCode.CANCELLED:
                return  # we cancelled it ourselves
            raise from_rpc_error(err) from None
        finally:
            self._call.cancel()  # a no-op once the stream has ended

    def close(self):
        self._closed = True
        self._call.cancel()

    cancel = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self._call.cancel()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class Client:
    """A connection to a pitboss supervisor. Thread-safe; use one per process.

    retry: a RetryPolicy (transient failures: UNAVAILABLE, RESOURCE_EXHAUSTED); breaker: a
    CircuitBreaker. timeout: the default deadline of a call, in seconds (None: none). stream_timeout:
    the default deadline of a stream (None, the default: none, as on the server; a stream is as long
    as its data, so pass timeout= to execute_stream to bound one)."""

    def __init__(self, address=DEFAULT_ADDRESS, timeout=30.0, *, retry=None, breaker=None, max_message_mb=64,
                 stream_timeout=None):
        self.address = address
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.retry = retry
        self.breaker = breaker
        self._channel = grpc.insecure_channel(address, options=channel_options(max_message_mb))
        self._stub = pb_grpc.PoolStub(self._channel)
        self._health = health_grpc.HealthStub(self._channel)
        self._res = Resilience(retry, breaker)

    # -------------------------------------------------------------- calls

    def execute(self, command, args=None, *, pool=None, session=None, payload=None, timeout=None):
        """Runs command with args (a dict, or JSON text); returns a Result. Raises a PitbossError."""
        timeout = self.timeout if timeout is None else timeout
        req = execute_request(command, args, pool, session, payload, timeout)

        def call():
            started = time.monotonic()
            return to_result(self._stub.Execute(req, timeout=timeout), started)

        return self._res.run(call, in_session=bool(session))

    def execute_stream(self, command, args=None, *, pool=None, session=None, payload=None, timeout=None,
                       callback=None):
        """Runs a streaming command. Without callback: returns a ChunkStream to iterate. With
        callback: calls callback(chunk) for each chunk as it arrives and returns the final chunk.
        Streams are not retried once a chunk has arrived."""
        timeout = self.stream_timeout if timeout is None else timeout
        req = execute_request(command, args, pool, session, payload, timeout)
        if self.breaker:
            self.breaker.before_call()
        stream = ChunkStream(self._stub.ExecuteStream(req, timeout=timeout))
        if callback is None:
            return stream
        last = None
        with stream:
            for chunk in stream:
                callback(chunk)
                last = chunk
        return last

    def session(self, session_id=None, *, pool=None):
        """A Session: its calls go to the same worker; it is closed on leaving the `with` block."""
        return Session(self, session_id or uuid.uuid4().hex, pool)

    def close_session(self, session_id, *, pool=None):
        resp = self._call(self._stub.CloseSession, pb.CloseSessionRequest(session_id=session_id, pool=pool or ""))
        return resp.closed

    def info(self, pool=None):
        """GetInfo: pools and their workers (a pitboss.v1.InfoResponse)."""
        return self._call(self._stub.GetInfo, pb.GetInfoRequest(pool=pool or ""))

    def list_commands(self, pool=None):
        """The commands a pool serves: [{"name", "doc", "streaming", "params": [...]}, ...]."""
        resp = self._call(self._stub.ListCommands, pb.ListCommandsRequest(pool=pool or ""))
        return [{"name": c.name, "doc": c.doc, "streaming": c.streaming,
                 "params": [{"name": p.name, "type": p.type, "required": p.required,
                             "default": json.loads(p.default_json) if p.default_json else None} for p in c.params]}
                for c in resp.commands]

    def health(self, service=""):
        """"SERVING" or "NOT_SERVING" for the server ("") or a pool (its name)."""
        resp = self._call(self._health.Check, health_pb.HealthCheckRequest(service=service))
        return health_pb.HealthCheckResponse.ServingStatus.Name(resp.status)

    def _call(self, method, req):
        try:
            return method(req, timeout=self.timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    # -------------------------------------------------------------- many calls

    def map(self, command, iterable_of_args, *, max_in_flight=16, progress=False, pool=None, timeout=None,
            prefix=None):
        """Runs command once per args, at most max_in_flight at a time; returns the results in the
        order of the arguments, a PitbossError in place of each call that failed. progress=True draws
        a bar on stderr when it is a terminal. Calls go out as grpcio futures in a window of
        max_in_flight (a thread per call took 1.8-1.9x the time: bench/bench_map.py), each under the client's retry policy
        and breaker as execute() is."""
        items = list(iterable_of_args)
        bar = ProgressBar(len(items), prefix=prefix or f"{command} ", enabled=None if progress else False)
        timeout = self.timeout if timeout is None else timeout
        results = [None] * len(items)
        attempts = [None] * len(items)
        ended = [0.0] * len(items)
        # In flight, oldest first: the loop waits on the oldest, so a slow call holds back only the
        # window's refill, never the order of the results.
        flying = collections.deque()
        retry_at = []  # heap of (monotonic time, index): failed attempts waiting for their backoff
        window, next_item = max(1, max_in_flight), 0

        def settle(i, out):
            results[i] = out
            bar.update()

        def launch(i):
            a = attempts[i] = attempts[i] or Attempts(self._res.retry, self._res.breaker, False)
            try:
                a.start()
            except PitbossError as err:  # the breaker is open
                settle(i, err)
                return
            req = execute_request(command, items[i], pool, None, None, timeout)
            fut = self._stub.Execute.future(req, timeout=timeout)
            fut.add_done_callback(lambda f, i=i: ended.__setitem__(i, time.monotonic()))  # for Result.elapsed
            flying.append((i, fut, time.monotonic()))

        while next_item < len(items) or flying or retry_at:
            while retry_at and retry_at[0][0] <= time.monotonic() and len(flying) < window:
                launch(heapq.heappop(retry_at)[1])
            while next_item < len(items) and len(flying) < window:
                launch(next_item)
                next_item += 1
            if not flying:
                if retry_at:
                    time.sleep(max(0.0, retry_at[0][0] - time.monotonic()))
                continue
            i, fut, started = flying.popleft()
            err = fut.exception()  # waits for it
            if err is None:
                res = to_result(fut.result(), started)
                if ended[i]:  # grpcio may run the callback after waking this thread: then elapsed is now
                    res = dataclasses.replace(res, elapsed=max(0.0, ended[i] - started))
                settle(i, attempts[i].succeeded(res))
                continue
            try:
                heapq.heappush(retry_at, (time.monotonic() + attempts[i].failed(err), i))
            except PitbossError as typed:
                settle(i, typed)
        return results

    # -------------------------------------------------------------- lifetime

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Session:
    """Calls that keep affinity to one worker (and its ctx.session state)."""

    def __init__(self, client, session_id, pool=None):
        self.client = client
        self.id = session_id
        self.pool = pool

    def execute(self, command, args=None, **kw):
        kw.setdefault("pool", self.pool)
        return self.client.execute(command, args, session=self.id, **kw)

    def execute_stream(self, command, args=None, **kw):
        kw.setdefault("pool", self.pool)
        return self.client.execute_stream(command, args, session=self.id, **kw)

    def close(self):
        return self.client.close_session(self.id, pool=self.pool)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except PitbossError:
            pass  # the server may be gone; nothing to keep

