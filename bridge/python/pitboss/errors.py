"""Typed exceptions for calls that failed, mapped from gRPC status codes."""
import grpc

__all__ = ["PitbossError", "CommandNotFound", "InvalidArguments", "HandlerError", "PoolSaturated", "DeadlineExceeded",
           "WorkerUnavailable", "Cancelled", "PermissionDenied", "CircuitOpen", "from_rpc_error"]


class PitbossError(Exception):
    """A call failed. `code` is the grpc.StatusCode, `message` what the server said. For a handler's own
    exception, `remote_type` and `remote_traceback` carry the exception's type name and traceback."""

    def __init__(self, message, code=None, remote_type=None, remote_traceback=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback

    def __str__(self):
        name = self.code.name if self.code is not None else "ERROR"
        return f"{name}: {self.message}"


class CommandNotFound(PitbossError):
    """NOT_FOUND: no such command (or pool)."""


class InvalidArguments(PitbossError):
    """INVALID_ARGUMENT: the arguments (or the circuit) are wrong; the message says where."""


class HandlerError(PitbossError):
    """The handler raised: remote_type, message and remote_traceback say what."""


class PoolSaturated(PitbossError):
    """RESOURCE_EXHAUSTED: every worker is busy and the queue is full (or a limit was hit)."""


class DeadlineExceeded(PitbossError):
    """DEADLINE_EXCEEDED: the call did not finish in time."""


class WorkerUnavailable(PitbossError):
    """UNAVAILABLE: the worker died under the call, the pool failed, or pitboss is unreachable."""


class Cancelled(PitbossError):
    """CANCELLED."""


class PermissionDenied(PitbossError):
    """PERMISSION_DENIED."""


class CircuitOpen(PitbossError):
    """The client's circuit breaker is open: calls fail at once until its reset timeout passes."""


class JobNotFound(PitbossError):
    """No job has this id (or it finished longer ago than the supervisor's jobs.retention_s)."""


class BackendNotFound(PitbossError):
    """No backend has this id: see list_backends()."""


class InvalidCircuit(InvalidArguments):
    """The circuit was refused at submit; the message gives line:column and what was expected."""
    permanent = True


class JobNotCompleted(PitbossError):
    """The job has no result (yet): it is queued or running, or it failed or was canceled."""


class JobFailed(PitbossError):
    """The job ran and failed; the message says why."""


class JobCancelled(PitbossError):
    """The job was cancelled before it finished. One spelling, as in Cancelled (a cancelled call) and
    grpc's CANCELLED; JobCanceled is the same class under its first name."""


JobCanceled = JobCancelled


_BY_TYPE = {"JobNotFound": JobNotFound, "BackendNotFound": BackendNotFound, "InvalidCircuit": InvalidCircuit,
            "JobNotCompleted": JobNotCompleted, "QueueFull": PoolSaturated}

_BY_CODE = {
    grpc.StatusCode.NOT_FOUND: CommandNotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArguments,
    grpc.StatusCode.RESOURCE_EXHAUSTED: PoolSaturated,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAVAILABLE: WorkerUnavailable,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def _metadata(md):
    out = {}
    for key, value in md or ():
        out[key] = value
    return out


def from_rpc_error(err):
    """The typed PitbossError for a grpc.RpcError (sync or aio)."""
    code = err.code()
    details = err.details() or ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and details == "Deadline Exceeded":
        # grpc's own words when the client's deadline fired first; the server names its limits itself.
        details = ("Deadline Exceeded: the client's own deadline passed (the call's timeout=, else the client's "
                   "timeout= for calls or stream_timeout= for streams)")
    md = _metadata(err.trailing_metadata())
    remote_type = md.get("x-pitboss-error-type")
    tb = md.get("x-pitboss-traceback-bin")
    if isinstance(tb, bytes):
        tb = tb.decode("utf-8", "replace")
    if remote_type in _BY_TYPE:
        cls = _BY_TYPE[remote_type]
    elif remote_type and code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
        cls = HandlerError
    else:
        cls = _BY_CODE.get(code, HandlerError if code == grpc.StatusCode.UNKNOWN else PitbossError)
    return cls(details, code=code, remote_type=remote_type, remote_traceback=tb)
