"""Small commands every example pool has: a streaming ping, echo, add."""
import os
import time

import pitboss


@pitboss.command
def ping_stream(count: int = 5, interval_ms: int = 100, ctx: pitboss.Context = None):
    """Streams `count` pings, `interval_ms` apart, then a summary."""
    start = time.time()
    for i in range(1, count + 1):
        if ctx.cancelled:
            break
        yield {"ping": i, "count": count, "message": f"pong {i} of {count}", "pid": os.getpid()}
        if i < count and interval_ms:
            time.sleep(interval_ms / 1000)
    return {"done": True, "sent": count, "elapsed_s": round(time.time() - start, 3)}


@pitboss.command
def echo(ctx: pitboss.Context, **args):
    """Returns its arguments, and its payload byte for byte."""
    return (args, ctx.payload) if ctx.payload else args


@pitboss.command
def add(a: float, b: float) -> dict:
    """Adds two numbers."""
    return {"sum": a + b}
