"""pitboss: the Python side of the pitboss worker-pool supervisor.

Two faces:
- inside workers (standard library only): @pitboss.command handlers, pitboss.Context,
  @pitboss.on_startup / @pitboss.on_shutdown;
- in applications (needs grpcio): pitboss.Client and pitboss.AsyncClient, sessions, streams, typed
  errors, RetryPolicy, CircuitBreaker; and the quantum job API: JobsClient, AsyncJobsClient,
  JobFuture, BatchJobManager. These load on first use, so workers never import grpc.
"""
from .handlers import CommandSpec, Context, command, on_shutdown, on_startup

__version__ = "0.1.0"

_LAZY = {
    "Client": "client", "Session": "client", "Result": "client", "Chunk": "client", "WorkerRef": "client",
    "ChunkStream": "client",
    "AsyncClient": "aio", "AsyncSession": "aio", "AsyncChunkStream": "aio",
    "RetryPolicy": "resilience", "CircuitBreaker": "resilience",
    "ProgressBar": "progress", "print_progress_bar": "progress",
    "PitbossError": "errors", "CommandNotFound": "errors", "InvalidArguments": "errors", "HandlerError": "errors",
    "PoolSaturated": "errors", "DeadlineExceeded": "errors", "WorkerUnavailable": "errors", "Cancelled": "errors",
    "PermissionDenied": "errors", "CircuitOpen": "errors",
    "JobNotFound": "errors", "BackendNotFound": "errors", "InvalidCircuit": "errors", "JobNotCompleted": "errors",
    "JobFailed": "errors", "JobCancelled": "errors", "JobCanceled": "errors",
    "JobsClient": "jobs", "JobState": "jobs", "Job": "jobs", "JobResult": "jobs", "BackendInfo": "jobs",
    "JobStatusUpdate": "jobs", "ResultChunk": "jobs", "BatchEvent": "jobs", "BatchItem": "jobs", "JobFuture": "jobs",
    "AsyncJobsClient": "jobs_aio",
    "BatchJobManager": "batch", "BatchResult": "batch",
}

__all__ = ["command", "on_startup", "on_shutdown", "Context", "CommandSpec", "__version__", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pitboss' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
