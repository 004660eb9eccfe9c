"""The asyncio client: the same API as pitboss.Client, with async/await and `async for`. One
AsyncClient (one channel) serves many tasks with many calls in flight.

    async with pitboss.AsyncClient() as client:
        results = await asyncio.gather(*(client.execute("ping") for _ in range(100)))
        async for chunk in client.execute_stream("ping_stream", {"count": 3}):
            print(chunk.data)
"""
import asyncio
import json
import time
import uuid

import grpc
import grpc.aio

from ._stubs import health_grpc, health_pb, pb, pb_grpc
from ._transport import DEFAULT_ADDRESS, channel_options, execute_request, run_async, to_chunk, to_result
from .errors import PitbossError, from_rpc_error
from .progress import ProgressBar

__all__ = ["AsyncClient", "AsyncSession", "AsyncChunkStream"]


class AsyncChunkStream:
    """The chunks of one ExecuteStream. Leaving the loop early: call `await stream.aclose()` or use
    `async with`; it is also cancelled when garbage-collected."""

    def __init__(self, call):
        self._call = call
        self._closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            msg = await self._call.read()
        except grpc.RpcError as err:
            if self._closed and err.code() == grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            raise from_rpc_error(err) from None
        except asyncio.CancelledError:
            self._call.cancel()
            raise
        if msg is grpc.aio.EOF:
            raise StopAsyncIteration
        return to_chunk(msg)

    def cancel(self):
        self._closed = True
        self._call.cancel()

    async def aclose(self):
        self.cancel()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.cancel()

    def __del__(self):
        try:
            self._call.cancel()
        except Exception:  # noqa: BLE001
            pass


run_resilient = run_async  # its name before _transport.py; kept for users' code


class AsyncClient:
    """The asyncio counterpart of pitboss.Client (same arguments)."""

    def __init__(self, address=DEFAULT_ADDRESS, timeout=30.0, *, retry=None, breaker=None, max_message_mb=64,
                 stream_timeout=None):
        self.stream_timeout = stream_timeout  # streams: no deadline unless asked (see Client)
        self.address = address
        self.timeout = timeout
        self.retry = retry
        self.breaker = breaker
        self._channel = grpc.aio.insecure_channel(address, options=channel_options(max_message_mb))
        self._stub = pb_grpc.PoolStub(self._channel)
        self._health = health_grpc.HealthStub(self._channel)

    async def _run(self, fn, in_session):
        return await run_resilient(fn, self.retry, self.breaker, in_session)

    async def execute(self, command, args=None, *, pool=None, session=None, payload=None, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        req = execute_request(command, args, pool, session, payload, timeout)

        async def call():
            started = time.monotonic()
            return to_result(await self._stub.Execute(req, timeout=timeout), started)

        return await self._run(call, bool(session))

    def execute_stream(self, command, args=None, *, pool=None, session=None, payload=None, timeout=None):
        """An AsyncChunkStream to `async for` over."""
        timeout = self.stream_timeout if timeout is None else timeout
        if self.breaker:
            self.breaker.before_call()
        return AsyncChunkStream(self._stub.ExecuteStream(execute_request(command, args, pool, session, payload, timeout),
                                                         timeout=timeout))

    def session(self, session_id=None, *, pool=None):
        return AsyncSession(self, session_id or uuid.uuid4().hex, pool)

    async def _call(self, method, req):
        try:
            return await method(req, timeout=self.timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def close_session(self, session_id, *, pool=None):
        return (await self._call(self._stub.CloseSession,
                                 pb.CloseSessionRequest(session_id=session_id, pool=pool or ""))).closed

    async def info(self, pool=None):
        return await self._call(self._stub.GetInfo, pb.GetInfoRequest(pool=pool or ""))

    async def list_commands(self, pool=None):
        resp = await self._call(self._stub.ListCommands, pb.ListCommandsRequest(pool=pool or ""))
        return [{"name": c.name, "doc": c.doc, "streaming": c.streaming,
                 "params": [{"name": p.name, "type": p.type, "required": p.required,
                             "default": json.loads(p.default_json) if p.default_json else None} for p in c.params]}
                for c in resp.commands]

    async def health(self, service=""):
        resp = await self._call(self._health.Check, health_pb.HealthCheckRequest(service=service))
        return health_pb.HealthCheckResponse.ServingStatus.Name(resp.status)

    async def map(self, command, iterable_of_args, *, max_in_flight=16, progress=False, pool=None, timeout=None):
        """Like Client.map: results in order, a PitbossError in place of each failed call."""
        items = list(iterable_of_args)
        bar = ProgressBar(len(items), prefix=f"{command} ", enabled=None if progress else False)
        limit = asyncio.Semaphore(max(1, max_in_flight))

        async def one(args):
            async with limit:
                try:
                    return await self.execute(command, args, pool=pool, timeout=timeout)
                except PitbossError as err:
                    return err
                finally:
                    bar.update()

        return await asyncio.gather(*(one(a) for a in items))

    async def close(self):
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


class AsyncSession:
    def __init__(self, client, session_id, pool=None):
        self.client = client
        self.id = session_id
        self.pool = pool

    async def execute(self, command, args=None, **kw):
        kw.setdefault("pool", self.pool)
        return await self.client.execute(command, args, session=self.id, **kw)

    def execute_stream(self, command, args=None, **kw):
        kw.setdefault("pool", self.pool)
        return self.client.execute_stream(command, args, session=self.id, **kw)

    async def close(self):
        return await self.client.close_session(self.id, pool=self.pool)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        try:
            await self.close()
        except PitbossError:
            pass
