"""The asyncio jobs client: JobsClient's API with async/await and `async for`.

    async with AsyncJobsClient() as jobs:
        ids = await asyncio.gather(*(jobs.submit_qasm(BELL, "simulator", shots=100) for _ in range(50)))
        results = await asyncio.gather(*(jobs.wait_for_job(i) for i in ids))
"""
import asyncio
import uuid

import grpc
import grpc.aio

from ._stubs import jobs_grpc, jobs_pb
from ._transport import DEFAULT_ADDRESS, channel_options, run_async
from .errors import PitbossError, from_rpc_error
from .jobs import (BackendInfo, BatchEvent, BatchItem, Job, JobResult, JobState, JobStatusUpdate, ResultChunk,
                   batch_submission, outcome_error, status_code, submit_request, circuit_spec, circuit_options)

__all__ = ["AsyncJobsClient"]


class AsyncJobsClient:
    """Asyncio client of the Jobs service; one channel serves every task."""

    def __init__(self, address=DEFAULT_ADDRESS, timeout=30.0, *, retry=None, breaker=None, max_message_mb=256,
                 pool_size=None):
        del pool_size  # one HTTP/2 channel multiplexes every call; kept for the reference API's shape
        self.address = address
        self.timeout = timeout
        self.retry = retry
        self.breaker = breaker
        self._channel = grpc.aio.insecure_channel(address, options=channel_options(max_message_mb))
        self._stub = jobs_grpc.JobsStub(self._channel)

    async def _unary(self, method, req):
        return await run_async(lambda: method(req, timeout=self.timeout), self.retry, self.breaker)

    async def submit_qasm(self, qasm, backend_id="", shots=1024, *, seed=None, request_id=None, inputs=None,
                          measure_all=False, includes=None, precision=None):
        options = {"inputs": inputs, "measure_all": measure_all, "includes": includes, "precision": precision}
        req = submit_request(qasm, backend_id, shots, seed, request_id or uuid.uuid4().hex, options)
        return (await self._unary(self._stub.SubmitJob, req)).job_id

    async def submit_batch(self, circuits, backend_id="", shots=1024):
        reqs = []
        for c in circuits:
            qasm, n, seed = circuit_spec(c, shots)
            reqs.append(submit_request(qasm, backend_id, n, seed, uuid.uuid4().hex, circuit_options(c)))
        resp = await self._unary(self._stub.SubmitBatch, jobs_pb.SubmitBatchRequest(jobs=reqs))
        return [BatchItem(i.index, i.job_id or None, i.error or None, status_code(i.error_code) if i.error else None)
                for i in resp.items]

    async def get_job_status(self, job_id):
        return Job.from_proto(await self._unary(self._stub.GetJobStatus, jobs_pb.GetJobStatusRequest(job_id=job_id)))

    async def get_job_result(self, job_id):
        return JobResult.from_proto(await self._unary(self._stub.GetJobResult,
                                                      jobs_pb.GetJobResultRequest(job_id=job_id)))

    async def wait_for_job(self, job_id, timeout=None):
        """The JobResult once the job ends (WatchJob, no polling); JobFailed/JobCanceled otherwise."""
        last = None
        async for update in self.watch_job(job_id, timeout=timeout):
            last = update
        if last is None:
            raise PitbossError(f"the watch of job {job_id} ended without a state")
        if last.state != JobState.COMPLETED:
            raise outcome_error(last)
        return await self.get_job_result(job_id)

    async def cancel_job(self, job_id):
        r = await self._unary(self._stub.CancelJob, jobs_pb.CancelJobRequest(job_id=job_id))
        return r.canceled, r.message

    async def list_jobs(self, limit=50, state=None):
        r = await self._unary(self._stub.ListJobs, jobs_pb.ListJobsRequest(limit=limit, state=int(state or 0)))
        return [Job.from_proto(j) for j in r.jobs]

    async def list_backends(self):
        r = await self._unary(self._stub.ListBackends, jobs_pb.ListBackendsRequest())
        return [BackendInfo.from_proto(b) for b in r.backends]

    async def get_backend_info(self, backend_id):
        return BackendInfo.from_proto(await self._unary(self._stub.GetBackendInfo,
                                                        jobs_pb.GetBackendInfoRequest(backend_id=backend_id)))

    async def _stream(self, call, convert):
        if self.breaker:
            self.breaker.before_call()
        try:
            async for m in call:
                yield convert(m)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    def watch_job(self, job_id, timeout=None):
        return self._stream(self._stub.WatchJob(jobs_pb.WatchJobRequest(job_id=job_id), timeout=timeout),
                            JobStatusUpdate.from_proto)

    def stream_results(self, job_id, chunk_size=1000, timeout=None):
        return self._stream(self._stub.StreamResults(jobs_pb.StreamResultsRequest(job_id=job_id, chunk_size=chunk_size),
                                                     timeout=timeout), ResultChunk.from_proto)

    def submit_batch_stream(self, circuits, backend_id="", shots=1024, timeout=None):
        """circuits: an iterable or an async iterable. Yields BatchEvents as in JobsClient."""
        async def requests():
            if hasattr(circuits, "__aiter__"):
                async for c in circuits:
                    yield batch_submission(c, backend_id, shots)
            else:
                for c in circuits:
                    yield batch_submission(c, backend_id, shots)

        return self._stream(self._stub.SubmitBatchStream(requests(), timeout=timeout), BatchEvent.from_proto)

    async def close(self):
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
