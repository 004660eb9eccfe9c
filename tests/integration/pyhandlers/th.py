"""Handlers for the Python adapter's integration tests."""
import asyncio
import os
import time

import pitboss

STARTED = {"at": None}


@pitboss.on_startup
def remember_start():
    STARTED["at"] = time.time()


@pitboss.command
def add(a: int, b: int = 10) -> dict:
    """Adds a and b."""
    return {"sum": a + b}


@pitboss.command
def whoami():
    return {"pid": os.getpid(), "started": STARTED["at"]}


@pitboss.command
def explode(kind: str = "value"):
    if kind == "value":
        raise ValueError("the value was wrong")
    raise KeyError("missing-key")


@pitboss.command
def reverse(ctx: pitboss.Context):
    """Returns the payload reversed, with its length."""
    return {"len": len(ctx.payload)}, ctx.payload[::-1]


@pitboss.command
def raw():
    return b"\x00\x01\x02binary"


@pitboss.command
def counter(key: str, ctx: pitboss.Context, add: int = 1):
    ctx.session[key] = ctx.session.get(key, 0) + add
    return {"value": ctx.session[key], "pid": os.getpid()}


@pitboss.command
def slow_stream(marker: str, n: int = 100000, interval_ms: int = 10, ctx: pitboss.Context = None):
    try:
        for i in range(n):
            yield {"i": i}
            time.sleep(interval_ms / 1000)
    finally:
        with open(marker, "w") as f:
            f.write("finally ran")


@pitboss.command
def wait_cancel(marker: str, ctx: pitboss.Context):
    """A plain function that watches ctx.cancelled."""
    while not ctx.cancelled:
        time.sleep(0.01)
    with open(marker, "w") as f:
        f.write("saw cancel")
    return None


@pitboss.command
async def async_add(a: int, b: int):
    await asyncio.sleep(0.01)
    return {"sum": a + b}


@pitboss.command
async def async_stream(n: int):
    for i in range(n):
        await asyncio.sleep(0)
        yield {"i": i}


@pitboss.command
def die(code: int = 3):
    os._exit(code)


@pitboss.command
def shout(text: str):
    print(f"handler says {text}", flush=True)
    return text.upper()


@pitboss.command
def busy(ms: int):
    """Python work that holds the GIL for ms milliseconds."""
    end = time.time() + ms / 1000
    n = 0
    while time.time() < end:
        n += 1
    return n


@pitboss.command
def noop():
    return None


@pitboss.command
def payload_info(ctx: pitboss.Context):
    """What ctx.payload is when the request carried none (it must be b"", not None)."""
    return {"type": type(ctx.payload).__name__, "len": len(ctx.payload)}


@pitboss.command
def nan_result():
    return {"scores": [1.0, float("nan")], "ok": True}


@pitboss.command(allow_nan=True)
def nan_allowed():
    return {"scores": [1.0, float("inf")], "ok": True}
