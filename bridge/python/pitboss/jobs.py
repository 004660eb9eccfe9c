"""The quantum job API of a pitboss supervisor: submit circuits as jobs, follow them, fetch results.

    from pitboss import JobsClient

    with JobsClient("127.0.0.1:50051") as jobs:
        job_id = jobs.submit_qasm(BELL, "simulator", shots=1000)
        result = jobs.wait_for_job(job_id, timeout=30)      # pushed by WatchJob, not polled
        print(result.counts, result.most_frequent())

Submits carry a client request id (one is made when none is given), so a retried submit never adds a
second job. Waiting uses the WatchJob stream: the server pushes each state change as it happens.
"""
import concurrent.futures
import datetime
import enum
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import grpc

from ._stubs import jobs_grpc, jobs_pb
from ._transport import DEFAULT_ADDRESS, Resilience, channel_options
from .errors import JobCanceled, JobFailed, PitbossError, from_rpc_error

__all__ = ["JobsClient", "JobState", "Job", "JobResult", "BackendInfo", "JobStatusUpdate", "ResultChunk",
           "BatchEvent", "BatchItem", "JobFuture", "circuit_spec", "circuit_options"]


class JobState(enum.IntEnum):
    QUEUED = 1
    RUNNING = 2
    COMPLETED = 3
    FAILED = 4
    CANCELED = 5

    @property
    def is_terminal(self):
        return self >= JobState.COMPLETED


def _time(us):
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc) if us else None


@dataclass
class Job:
    job_id: str
    state: JobState
    backend_id: str
    shots: int
    submitted_at: Optional[datetime.datetime]
    started_at: Optional[datetime.datetime] = None
    completed_at: Optional[datetime.datetime] = None
    error_message: Optional[str] = None
    attempts: int = 0
    client_request_id: str = ""

    @classmethod
    def from_proto(cls, m):
        return cls(m.job_id, JobState(m.state), m.backend_id, m.shots, _time(m.submitted_at_us), _time(m.started_at_us),
                   _time(m.completed_at_us), m.error_message or None, m.attempts, m.client_request_id)


@dataclass
class JobResult:
    job_id: str
    counts: Dict[str, int]
    shots: int
    execution_time_ms: Optional[float] = None
    metadata: Optional[dict] = None

    @classmethod
    def from_proto(cls, m):
        return cls(m.job_id, dict(m.counts), m.shots, m.execution_time_ms,
                   json.loads(m.metadata_json) if m.metadata_json else {})

    def probabilities(self) -> Dict[str, float]:
        total = sum(self.counts.values()) or 1
        return {k: v / total for k, v in self.counts.items()}

    def most_frequent(self):
        """(outcome, probability) of the most frequent outcome, or None for no counts."""
        if not self.counts:
            return None
        key = max(self.counts, key=lambda k: (self.counts[k], k))
        return key, self.counts[key] / (sum(self.counts.values()) or 1)


@dataclass
class BackendInfo:
    backend_id: str
    name: str
    is_available: bool
    max_qubits: int
    max_shots: int
    description: str
    supported_gates: List[str]
    pool: str = ""
    version: str = ""
    topology: Optional[dict] = None  # all-to-all: a simulator has no coupling map

    @classmethod
    def from_proto(cls, m):
        return cls(m.backend_id, m.name, m.is_available, m.max_qubits, m.max_shots, m.description,
                   list(m.supported_gates), m.pool, m.version)


@dataclass
class JobStatusUpdate:
    job_id: str
    state: JobState
    timestamp: Optional[datetime.datetime]
    error_message: Optional[str] = None

    @classmethod
    def from_proto(cls, m):
        return cls(m.job_id, JobState(m.state), _time(m.timestamp_us), m.error_message or None)


@dataclass
class ResultChunk:
    job_id: str
    counts: Dict[str, int]
    chunk_index: int
    total_chunks: int
    is_final: bool
    total_entries: int
    shots: int

    @classmethod
    def from_proto(cls, m):
        return cls(m.job_id, dict(m.counts), m.chunk_index, m.total_chunks, m.is_final, m.total_entries, m.shots)


@dataclass
class BatchEvent:
    """One event of submit_batch_stream: kind is "submitted", "completed" or "error"."""
    kind: str
    index: int
    job_id: str = ""
    client_request_id: str = ""
    result: Optional[JobResult] = None
    error: Optional[str] = None
    code: Optional[grpc.StatusCode] = None

    @classmethod
    def from_proto(cls, m):
        kind = m.WhichOneof("event")
        code = status_code(m.error_code) if kind == "error" else None
        return cls(kind, m.index, m.job_id, m.client_request_id,
                   JobResult.from_proto(m.completed) if kind == "completed" else None,
                   m.error if kind == "error" else None, code)


@dataclass
class BatchItem:
    """One circuit of submit_batch: accepted (job_id) or refused (error, code)."""
    index: int
    job_id: Optional[str] = None
    error: Optional[str] = None
    code: Optional[grpc.StatusCode] = None

    @property
    def ok(self):
        return self.error is None


def status_code(value):
    for c in grpc.StatusCode:
        if c.value[0] == value:
            return c
    return grpc.StatusCode.UNKNOWN


def circuit_spec(circuit, shots=1024, seed=None):
    """(qasm, shots, seed) from a QASM string, a (qasm, shots) tuple or a dict with qasm/shots/seed."""
    if isinstance(circuit, str):
        return circuit, shots, seed
    if isinstance(circuit, dict):
        return circuit["qasm"], circuit.get("shots", shots), circuit.get("seed", seed)
    qasm, n = circuit[0], circuit[1] if len(circuit) > 1 else shots
    return qasm, n, circuit[2] if len(circuit) > 2 else seed


def circuit_options(circuit):
    """The run options of a dict circuit ({"qasm": ..., "inputs": {...}, "measure_all": True,
    "includes": {...}, "precision": "single"}); {} for the other forms."""
    if not isinstance(circuit, dict):
        return {}
    return {k: circuit[k] for k in ("inputs", "measure_all", "includes", "precision") if k in circuit}


def payload(qasm, options=None):
    """A CircuitPayload: the text and its run options (inputs for `input` declarations, measure_all,
    includes: file name -> text, precision: "double" or "single", None for the backend's)."""
    o = options or {}
    return jobs_pb.CircuitPayload(qasm=qasm, inputs={k: float(v) for k, v in (o.get("inputs") or {}).items()},
                                  measure_all=bool(o.get("measure_all")), includes=dict(o.get("includes") or {}),
                                  precision=o.get("precision") or "")


def submit_request(qasm, backend, shots, seed, request_id, options=None):
    return jobs_pb.SubmitJobRequest(circuit=payload(qasm, options), backend_id=backend or "",
                                    shots=int(shots or 0), seed=int(seed or 0), has_seed=seed is not None,
                                    client_request_id=request_id or "")


def batch_submission(circuit, backend, shots, request_id=None):
    qasm, n, seed = circuit_spec(circuit, shots)
    return jobs_pb.BatchJobSubmission(circuit=payload(qasm, circuit_options(circuit)), backend_id=backend or "",
                                      shots=int(n or 0), seed=int(seed or 0), has_seed=seed is not None,
                                      client_request_id=request_id or uuid.uuid4().hex)


def outcome_error(update):
    if update.state == JobState.FAILED:
        return JobFailed(f"job {update.job_id} failed: {update.error_message or 'no reason given'}")
    return JobCanceled(f"job {update.job_id} was canceled")


class JobFuture(concurrent.futures.Future):
    """A job's result to come. A concurrent.futures.Future, so concurrent.futures.wait and
    as_completed take it; cancel() also cancels the job on the server. job_id is None until the
    server has accepted the job (futures from a batch stream)."""

    def __init__(self, client, job_id=None, index=None):
        super().__init__()
        self._client = client
        self.job_id = job_id
        self.index = index
        self._cancel_wanted = False
        self._id_lock = threading.Lock()  # job_id arriving vs. cancel() asking for it

    def _accepted(self, job_id):
        with self._id_lock:
            self.job_id = job_id
            wanted = self._cancel_wanted
        if wanted:
            try:
                self._client.cancel_job(job_id)
            except PitbossError:
                pass

    def cancel(self):
        # Cancel the future first, then the job: the other order lets the watcher see CANCELED and
        # settle the future with JobCanceled before cancel() returns, so cancel() would say False.
        if not super().cancel():
            return self.cancelled()
        with self._id_lock:
            job_id = self.job_id
            self._cancel_wanted = job_id is None  # _accepted() cancels it when the id comes
        if job_id:
            try:
                self._client.cancel_job(job_id)
            except PitbossError:
                pass  # already finished on the server; the future stays cancelled
        return True

    def wait(self, timeout=None):
        """True once the job has finished (any way), False if timeout passed first."""
        done, _ = concurrent.futures.wait([self], timeout=timeout)
        return bool(done)

    def as_concurrent_future(self):
        return self

    def _settle(self, result=None, error=None):
        try:
            if error is not None:
                self.set_exception(error)
            else:
                self.set_result(result)
        except concurrent.futures.InvalidStateError:  # canceled meanwhile
            pass


class JobsClient:
    """Synchronous client of the Jobs service. Thread-safe; one channel."""

    def __init__(self, address=DEFAULT_ADDRESS, timeout=30.0, *, retry=None, breaker=None, max_message_mb=256,
                 channel=None, future_workers=32):
        self.address = address
        self.timeout = timeout
        self._own_channel = channel is None
        self._channel = channel or grpc.insecure_channel(address, options=channel_options(max_message_mb))
        self._stub = jobs_grpc.JobsStub(self._channel)
        self._resilience = Resilience(retry, breaker)
        self._future_workers = future_workers
        self._executor = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ submit
    def submit_qasm(self, qasm, backend_id="", shots=1024, *, seed=None, request_id=None, inputs=None,
                    measure_all=False, includes=None, precision=None):
        """Queues the circuit; returns its job id at once. inputs: values for its `input`
        declarations; measure_all: measure every qubit at the end (register "meas"); includes: the
        files it includes besides stdgates.inc/qelib1.inc, name -> text; precision: "double" or
        "single" (None: the backend's)."""
        options = {"inputs": inputs, "measure_all": measure_all, "includes": includes, "precision": precision}
        req = submit_request(qasm, backend_id, shots, seed, request_id or uuid.uuid4().hex, options)
        return self._unary(self._stub.SubmitJob, req).job_id

    def submit_batch(self, circuits, backend_id="", shots=1024):
        """Queues several circuits (strings, (qasm, shots) tuples or dicts, which may carry inputs,
        measure_all and includes); returns a BatchItem per circuit, in order: each accepted (job_id)
        or refused (error says why)."""
        reqs = []
        for c in circuits:
            qasm, n, seed = circuit_spec(c, shots)
            reqs.append(submit_request(qasm, backend_id, n, seed, uuid.uuid4().hex, circuit_options(c)))
        resp = self._unary(self._stub.SubmitBatch, jobs_pb.SubmitBatchRequest(jobs=reqs))
        return [BatchItem(i.index, i.job_id or None, i.error or None, status_code(i.error_code) if i.error else None)
                for i in resp.items]

    def submit_qasm_future(self, qasm, backend_id="", shots=1024, *, seed=None, **options):
        """Submits now and returns a JobFuture that resolves when the job finishes (options as
        submit_qasm's: inputs, measure_all, includes, precision)."""
        job_id = self.submit_qasm(qasm, backend_id, shots, seed=seed, **options)
        fut = JobFuture(self, job_id)
        self._pool().submit(self._resolve, fut, None)
        return fut

    def submit_batch_future(self, circuits, backend_id="", shots=1024):
        futures = []
        for item in self.submit_batch(circuits, backend_id, shots):
            fut = JobFuture(self, item.job_id, item.index)
            if item.ok:
                self._pool().submit(self._resolve, fut, None)
            else:
                fut._settle(error=PitbossError(item.error, code=item.code))
            futures.append(fut)
        return futures

    def _resolve(self, fut, timeout):
        try:
            fut._settle(self.wait_for_job(fut.job_id, timeout=timeout))
        except Exception as exc:  # noqa: BLE001 - handed to the future's owner
            fut._settle(error=exc)

    def _pool(self):
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(self._future_workers,
                                                                       thread_name_prefix="pitboss-job")
            return self._executor

    # ------------------------------------------------------------ status and results
    def get_job_status(self, job_id):
        return Job.from_proto(self._unary(self._stub.GetJobStatus, jobs_pb.GetJobStatusRequest(job_id=job_id)))

    def get_job_result(self, job_id):
        """The counts of a completed job; JobNotCompleted while it is not."""
        return JobResult.from_proto(self._unary(self._stub.GetJobResult, jobs_pb.GetJobResultRequest(job_id=job_id)))

    def wait_for_job(self, job_id, timeout=None, *, poll_interval=None, max_wait=None):
        """Blocks until the job ends and returns its JobResult; JobFailed or JobCanceled if it did
        not complete, DeadlineExceeded after timeout seconds. Uses WatchJob (no polling;
        poll_interval is accepted for compatibility and ignored)."""
        del poll_interval
        timeout = timeout if timeout is not None else max_wait
        last = None
        for update in self.watch_job(job_id, timeout=timeout):
            last = update
        if last is None:
            raise PitbossError(f"the watch of job {job_id} ended without a state")
        if last.state != JobState.COMPLETED:
            raise outcome_error(last)
        return self.get_job_result(job_id)

    def cancel_job(self, job_id):
        """(canceled, message): canceled is False when the job had already finished."""
        r = self._unary(self._stub.CancelJob, jobs_pb.CancelJobRequest(job_id=job_id))
        return r.canceled, r.message

    def list_jobs(self, limit=50, state=None):
        r = self._unary(self._stub.ListJobs, jobs_pb.ListJobsRequest(limit=limit, state=int(state or 0)))
        return [Job.from_proto(j) for j in r.jobs]

    # ------------------------------------------------------------ backends
    def list_backends(self):
        return [BackendInfo.from_proto(b) for b in self._unary(self._stub.ListBackends, jobs_pb.ListBackendsRequest()).backends]

    def get_backend_info(self, backend_id):
        return BackendInfo.from_proto(self._unary(self._stub.GetBackendInfo,
                                                  jobs_pb.GetBackendInfoRequest(backend_id=backend_id)))

    # ------------------------------------------------------------ streams
    def watch_job(self, job_id, timeout=None):
        """Yields a JobStatusUpdate now and at every state change; ends after the final state."""
        call = self._stream(lambda: self._stub.WatchJob(jobs_pb.WatchJobRequest(job_id=job_id), timeout=timeout))
        try:
            for m in call:
                yield JobStatusUpdate.from_proto(m)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    def stream_results(self, job_id, chunk_size=1000, timeout=None):
        """Yields the counts of a completed job as ResultChunks of chunk_size outcomes, in order."""
        call = self._stream(lambda: self._stub.StreamResults(
            jobs_pb.StreamResultsRequest(job_id=job_id, chunk_size=chunk_size), timeout=timeout))
        try:
            for m in call:
                yield ResultChunk.from_proto(m)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    def submit_batch_stream(self, circuits, backend_id="", shots=1024, timeout=None):
        """Sends circuits (any iterable: strings, (qasm, shots) tuples or dicts) on one stream and
        yields BatchEvents: "submitted" per accepted job as soon as it is accepted, then
        "completed" (with result) or "error" (with why) for every job. Ends when every job has
        reported."""
        requests = (batch_submission(c, backend_id, shots) for c in circuits)
        call = self._stream(lambda: self._stub.SubmitBatchStream(requests, timeout=timeout))
        try:
            for m in call:
                yield BatchEvent.from_proto(m)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    # ------------------------------------------------------------ plumbing
    def _unary(self, method, req):
        return self._resilience.run(lambda: method(req, timeout=self.timeout), in_session=False)

    def _stream(self, start):
        breaker = self._resilience.breaker
        if breaker:
            breaker.before_call()
        return start()

    def close(self):
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._own_channel:
            self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
