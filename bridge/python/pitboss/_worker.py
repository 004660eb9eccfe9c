"""The bridge between pitboss-worker (C, embedding this interpreter) and the registered handlers.

The worker calls these functions with the GIL held: load() once at start, start() per call, then
Call.step() until it returns a final answer or an error, Call.close() when the client went away,
close_session() when a session ends, shutdown() once at the end. Errors come back as values, never
as exceptions, so the C side stays small.
"""
import asyncio
import importlib
import json
import math
import sys
import threading
import time
import traceback

from .handlers import Context, registry

OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 2, 3, 4, 5


class _Sessions:
    """Per-session dicts for ctx.session, dropped on close or after ttl_s idle."""

    def __init__(self, ttl_s):
        self.ttl_s = ttl_s
        self.items = {}
        self.lock = threading.Lock()
        self.last_sweep = time.monotonic()

    def get(self, session_id):
        with self.lock:
            now = time.monotonic()
            entry = self.items.get(session_id)
            if entry is None:
                entry = self.items[session_id] = [{}, now]
            entry[1] = now
            if now - self.last_sweep > 1.0:
                self.last_sweep = now
                for sid in [k for k, v in self.items.items() if now - v[1] > self.ttl_s]:
                    del self.items[sid]
            return entry[0]

    def close(self, session_id):
        with self.lock:
            return self.items.pop(session_id, None) is not None

    def __len__(self):
        return len(self.items)


_sessions = _Sessions(600)
_loops = threading.local()


def _loop():
    """One event loop per worker thread, for async handlers."""
    loop = getattr(_loops, "loop", None)
    if loop is None:
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


def _run_hook(fn):
    result = fn()
    if asyncio.iscoroutine(result):
        _loop().run_until_complete(result)


#: What load() was doing, for the one-line reason of a failure ("importing module 'x'").
loading = ""


def load(modules, paths, session_ttl_s, run_startup=1):
    """Imports the handler modules and runs the startup hooks. Returns what ListCommands says of each
    command. Raises on failure: the worker then reports the traceback and exits (code 4)."""
    global loading
    _sessions.ttl_s = session_ttl_s
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    for name in modules:
        loading = f"importing module '{name}'"
        importlib.import_module(name)
    for fn in (registry.startup if run_startup else ()):
        loading = f"running the @on_startup hook {getattr(fn, '__qualname__', fn)!s}"
        _run_hook(fn)
    loading = ""
    if not registry.commands:
        raise RuntimeError(f"the modules {', '.join(modules)} register no command: decorate handlers with "
                           f"@pitboss.command")
    return [spec.describe() for spec in registry.commands.values()]


def shutdown():
    for fn in registry.shutdown:
        try:
            _run_hook(fn)
        except Exception:  # noqa: BLE001 - a failing hook must not stop the others
            traceback.print_exc()


def close_session(session_id):
    return _sessions.close(session_id)


def session_count():
    return len(_sessions)


class NonFiniteResult(ValueError):
    """A result holding NaN or Infinity, which JSON cannot carry."""


def _non_finite_path(value, path="result"):
    """Where the first NaN or Infinity in value is ("result['scores'][2]"), or None."""
    if isinstance(value, float):
        return path if value != value or value in (math.inf, -math.inf) else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _non_finite_path(v, f"{path}[{k!r}]")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _non_finite_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _nan_to_null(value):
    if isinstance(value, float) and (value != value or value in (math.inf, -math.inf)):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_null(v) for v in value]
    return value


def _dumps(value, allow_nan):
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        if allow_nan:
            return json.dumps(_nan_to_null(value), allow_nan=False)
        where = _non_finite_path(value) or "the result"
        raise NonFiniteResult(f"{where} is not a finite number (NaN or Infinity), which JSON cannot carry: return "
                              f"None, a string, or register the command with @pitboss.command(allow_nan=True) to "
                              f"send null") from None


def _encode(value, allow_nan=False):
    """A handler's value -> (json_text, payload_bytes). bytes travel raw; (json, bytes) carries both."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "null", bytes(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], (bytes, bytearray, memoryview)):
        return _dumps(value[0], allow_nan), bytes(value[1])
    return _dumps(value, allow_nan), b""


def _error(exc, name):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:  # the user's frames only
        tb = tb.tb_next
    tb = "".join(traceback.format_exception(type(exc), exc, tb))
    return ("error", UNKNOWN, type(exc).__name__, f"{name}: {type(exc).__name__}: {exc}", tb)


class Call:
    """One call of one handler. step() advances it by one answer."""

    def __init__(self, spec, kwargs, ctx):
        self.spec = spec
        self.kwargs = kwargs
        self.ctx = ctx
        self.gen = None
        self.agen = None
        self.done = False

    def step(self):
        """-> ("chunk", json, bytes) | ("final", json, bytes) | ("error", code, type, message, traceback)"""
        spec = self.spec
        try:
            if self.gen is None and self.agen is None:
                if not spec.streaming:
                    result = spec.fn(**self.kwargs)
                    if asyncio.iscoroutine(result):
                        result = _loop().run_until_complete(result)
                    self.done = True
                    return ("final",) + _encode(result, spec.allow_nan)
                result = spec.fn(**self.kwargs)
                if hasattr(result, "__anext__"):
                    self.agen = result
                else:
                    self.gen = result
            if self.agen is not None:
                try:
                    item = _loop().run_until_complete(self.agen.__anext__())
                except StopAsyncIteration:
                    self.done = True
                    return ("final", "null", b"")
            else:
                try:
                    item = next(self.gen)
                except StopIteration as stop:
                    self.done = True
                    return ("final",) + _encode(stop.value, spec.allow_nan)
            return ("chunk",) + _encode(item, spec.allow_nan)
        except Exception as exc:  # noqa: BLE001 - every handler error becomes an error reply
            self.done = True
            if self.ctx.cancelled and isinstance(exc, (asyncio.CancelledError,)):
                return ("error", CANCELLED, type(exc).__name__, f"{spec.name}: cancelled", "")
            return _error(exc, spec.name)

    def close(self):
        """The client went away: close the generator, so that its `finally` blocks run."""
        if self.done:
            return
        self.done = True
        try:
            if self.gen is not None:
                self.gen.close()
            elif self.agen is not None:
                _loop().run_until_complete(self.agen.aclose())
        except Exception:  # noqa: BLE001
            traceback.print_exc()


def start(name, args_json, payload, session_id, deadline, cancel_check):
    """A Call for the named command, or an error tuple (unknown command, bad arguments)."""
    spec = registry.commands.get(name)
    if spec is None:
        return ("error", NOT_FOUND, "", f"unknown command {name!r} (this worker serves: "
                f"{', '.join(sorted(registry.commands))})", "")
    try:
        args = json.loads(args_json) if args_json else {}
    except ValueError as exc:
        return ("error", INVALID_ARGUMENT, "", f"{name}: args are not valid JSON: {exc}", "")
    if not isinstance(args, dict):
        return ("error", INVALID_ARGUMENT, "", f"{name}: args must be a JSON object", "")
    ctx = Context(session_id=session_id, payload=payload if payload is not None else b"", deadline=deadline, cancel_check=cancel_check,
                  sessions=_sessions if session_id else None)
    try:
        kwargs = spec.bind(args, ctx)
    except TypeError as exc:
        return ("error", INVALID_ARGUMENT, "TypeError", str(exc), "")
    return Call(spec, kwargs, ctx)
