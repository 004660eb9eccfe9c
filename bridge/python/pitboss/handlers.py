"""The handler API: how user code registers commands that pitboss workers serve.

    import pitboss

    @pitboss.command
    def add(a: int, b: int) -> dict:
        return {"sum": a + b}

    @pitboss.command(name="batch_inference")
    def infer(items: list, ctx: pitboss.Context):
        for i, item in enumerate(items):
            if ctx.cancelled:
                break
            yield {"item": item, "progress": (i + 1) / len(items)}

Standard library only: this module is imported inside workers.
"""
import inspect
import json
import time

__all__ = ["command", "on_startup", "on_shutdown", "Context", "CommandSpec", "registry"]


class Context:
    """What a handler may ask about its call. Declare a parameter named `ctx` (or annotated
    `pitboss.Context`) to receive it."""

    __slots__ = ("session_id", "payload", "deadline", "_cancel_check", "_sessions", "_session")

    def __init__(self, session_id="", payload=b"", deadline=None, cancel_check=None, sessions=None):
        self.session_id = session_id
        #: the request's raw bytes (b"" when none)
        self.payload = payload
        #: when the call must be done, as time.time() seconds; None when there is no deadline
        self.deadline = deadline
        self._cancel_check = cancel_check
        self._sessions = sessions
        self._session = None

    @property
    def cancelled(self):
        """True once the client cancelled or the deadline passed: stop work and return."""
        if self.deadline is not None and time.time() >= self.deadline:
            return True
        return bool(self._cancel_check and self._cancel_check())

    def time_remaining(self):
        """Seconds left before the deadline (None when there is none)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    @property
    def session(self):
        """A dict kept in this worker for the call's session id, across calls, until the session closes
        or expires. Without a session id it is a fresh dict per call."""
        if self._session is None:
            if self.session_id and self._sessions is not None:
                self._session = self._sessions.get(self.session_id)
            else:
                self._session = {}
        return self._session


class CommandSpec:
    """A registered command: the function and what its signature says."""

    allow_nan = False

    def __init__(self, fn, name):
        self.fn = fn
        self.name = name
        self.doc = inspect.getdoc(fn) or ""
        self.signature = inspect.signature(fn)
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.streaming = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        self.ctx_param = None
        self.params = []
        for p in self.signature.parameters.values():
            if p.name == "ctx" or p.annotation is Context or p.annotation == "pitboss.Context":
                self.ctx_param = p.name
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            self.params.append(p)
        self.accepts_any = any(p.kind == p.VAR_KEYWORD for p in self.signature.parameters.values())

    def describe(self):
        """(name, doc, streaming, [(param, type, required, default_json)]) for ListCommands."""
        params = []
        for p in self.params:
            ann = "" if p.annotation is p.empty else getattr(p.annotation, "__name__", str(p.annotation))
            required = p.default is p.empty
            default = ""
            if not required:
                try:
                    default = json.dumps(p.default)
                except (TypeError, ValueError):
                    default = json.dumps(repr(p.default))
            params.append((p.name, ann, required, default))
        return (self.name, self.doc, self.streaming, params)

    def bind(self, args, ctx):
        """The keyword arguments to call fn with; TypeError names the handler and the problem."""
        known = {p.name for p in self.params}
        if not self.accepts_any:
            unknown = sorted(set(args) - known)
            if unknown:
                raise TypeError(f"{self.name}() got unexpected argument(s): {', '.join(unknown)}"
                                f" (it takes: {', '.join(sorted(known)) or 'nothing'})")
        missing = [p.name for p in self.params if p.default is p.empty and p.name not in args]
        if missing:
            raise TypeError(f"{self.name}() missing required argument(s): {', '.join(missing)}")
        kwargs = dict(args)
        if self.ctx_param:
            kwargs[self.ctx_param] = ctx
        return kwargs


class _Registry:
    def __init__(self):
        self.commands = {}
        self.startup = []
        self.shutdown = []

    def add(self, fn, name):
        if name in self.commands and self.commands[name].fn is not fn:
            raise ValueError(f"command {name!r} is registered twice ({self.commands[name].fn.__module__} and "
                             f"{fn.__module__})")
        self.commands[name] = CommandSpec(fn, name)


registry = _Registry()


def command(fn=None, *, name=None, allow_nan=False):
    """Registers fn as a command (its name by default). A plain function answers once; a generator
    (or async generator) streams one chunk per yield; `async def` works too.

    JSON has no NaN or Infinity (other languages' parsers reject them): a result holding one is a
    handler error naming the field, unless allow_nan=True, which sends them as null."""
    def register(f):
        registry.add(f, name or f.__name__)
        registry.commands[name or f.__name__].allow_nan = allow_nan
        return f

    return register(fn) if fn is not None else register


def on_startup(fn):
    """fn() runs once in each worker after the modules are imported, before the worker takes calls
    (load a model here)."""
    registry.startup.append(fn)
    return fn


def on_shutdown(fn):
    """fn() runs once in each worker when it stops."""
    registry.shutdown.append(fn)
    return fn
