"""BatchJobManager: many circuits as jobs, with progress, over one SubmitBatchStream.

    with BatchJobManager(JobsClient(), max_workers=10) as manager:
        result = manager.execute_batch([(BELL, 100)] * 50, "simulator", progress_callback=print_progress_bar)
        print(result.success_count, result.total_time)

One bidirectional stream carries every circuit and brings back every outcome, so a batch costs one
call, not two per job; at most max_in_flight jobs are outstanding at once (the rest wait on the
client), which keeps a large batch inside the server's jobs.max_queued_jobs.
"""
import concurrent.futures
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from .errors import JobCanceled, JobFailed, PitbossError
from .jobs import JobFuture, JobResult

__all__ = ["BatchJobManager", "BatchResult"]


@dataclass
class BatchResult:
    """What execute_batch did, in the order the circuits were given."""
    results: List[Optional[JobResult]]
    errors: Dict[int, Exception]
    job_ids: List[Optional[str]]
    total_time: float

    @property
    def successes(self):
        return [r for r in self.results if r is not None]

    @property
    def failures(self):
        return sorted(self.errors.items())

    @property
    def success_count(self):
        return len(self.successes)

    @property
    def failure_count(self):
        return len(self.errors)

    @property
    def jobs_per_second(self):
        return len(self.results) / self.total_time if self.total_time else 0.0


def _event_error(ev):
    text = ev.error or "no reason given"
    if text.startswith("CANCELED"):
        return JobCanceled(text, code=ev.code)
    if ev.job_id:
        return JobFailed(text, code=ev.code)
    return PitbossError(text, code=ev.code)  # refused at submit: no job


class BatchJobManager:
    """Runs batches of circuits through one JobsClient. max_workers threads run submit_many streams
    and map callbacks; max_in_flight bounds the jobs outstanding per stream."""

    def __init__(self, client, max_workers=10, max_in_flight=256):
        self.client = client
        self.max_workers = max_workers
        self.max_in_flight = max_in_flight
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="pitboss-batch")
        self._streams = []

    def _run_stream(self, circuits, backend_id, shots, timeout, on_event, stop=None):
        """Sends circuits on one SubmitBatchStream with a window of max_in_flight; on_event(ev) per event."""
        window = threading.Semaphore(self.max_in_flight)

        def requests():
            for c in circuits:
                while not window.acquire(timeout=0.1):
                    if stop is not None and stop.is_set():
                        return
                if stop is not None and stop.is_set():
                    return
                yield c

        for ev in self.client.submit_batch_stream(requests(), backend_id, shots, timeout=timeout):
            if ev.kind != "submitted":
                window.release()
            on_event(ev)

    def execute_batch(self, circuits, backend_id="", shots=1024, *, timeout=None, progress_callback=None,
                      fail_fast=False):
        """Runs every circuit (strings, (qasm, shots) tuples or dicts) and returns a BatchResult.
        progress_callback(done, total) runs after each job ends (print_progress_bar fits). fail_fast:
        on the first failure, cancel what is still running and stop sending."""
        circuits = list(circuits)
        n = len(circuits)
        results, job_ids, errors = [None] * n, [None] * n, {}
        done = [0]
        stop = threading.Event()
        started = time.monotonic()

        def on_event(ev):
            if ev.kind == "submitted":
                job_ids[ev.index] = ev.job_id
                return
            if ev.kind == "completed":
                results[ev.index] = ev.result
            else:
                errors[ev.index] = _event_error(ev)
                if fail_fast and not stop.is_set():
                    stop.set()
                    for i, jid in enumerate(job_ids):
                        if jid and results[i] is None and i not in errors:
                            try:
                                self.client.cancel_job(jid)
                            except PitbossError:
                                pass
            done[0] += 1
            if progress_callback:
                progress_callback(done[0], n)

        self._run_stream(circuits, backend_id, shots, timeout, on_event, stop)
        if fail_fast and stop.is_set():
            for i in range(n):
                if results[i] is None and i not in errors:
                    errors[i] = JobCanceled("not run: an earlier job of the batch failed (fail_fast)")
        return BatchResult(results, errors, job_ids, time.monotonic() - started)

    def submit_many(self, circuits, backend_id="", shots=1024, *, timeout=None):
        """Returns a JobFuture per circuit at once; one stream submits them and settles each future as
        its job ends."""
        circuits = list(circuits)
        futures = [JobFuture(self.client, index=i) for i in range(len(circuits))]

        def on_event(ev):
            fut = futures[ev.index]
            if ev.kind == "submitted":
                fut._accepted(ev.job_id)
            elif ev.kind == "completed":
                fut._settle(ev.result)
            else:
                fut._settle(error=_event_error(ev))

        def run():
            try:
                self._run_stream(circuits, backend_id, shots, timeout, on_event)
            except Exception as exc:  # noqa: BLE001 - the stream broke: every open future hears why
                for f in futures:
                    f._settle(error=exc)
            for f in futures:  # a stream that ended early leaves nothing hanging
                if not f.done():
                    f._settle(error=PitbossError("the batch stream ended before this job reported"))

        self._executor.submit(run)
        return futures

    @staticmethod
    def as_completed(futures, timeout=None):
        """Yields the futures as their jobs end."""
        return concurrent.futures.as_completed(futures, timeout=timeout)

    def map(self, fn, futures, timeout=None):
        """fn(result) for each future, in order; waits up to timeout seconds in all."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out = []
        for f in futures:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            out.append(fn(f.result(left)))
        return out

    def close(self):
        self._executor.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
