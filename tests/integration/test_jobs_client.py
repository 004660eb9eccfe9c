"""The Python jobs client (JobsClient, AsyncJobsClient, JobFuture, BatchJobManager) end to end against a
real supervisor and real native workers."""
import asyncio
import concurrent.futures
import os
import sys
import threading

import pytest

from conftest import ROOT, Supervisor, free_port

sys.path.insert(0, os.path.join(ROOT, "bridge", "python"))
import pitboss  # noqa: E402
from pitboss import (AsyncJobsClient, BatchJobManager, CircuitBreaker, JobFuture, JobsClient, JobState,  # noqa: E402
                     RetryPolicy)

BELL = 'OPENQASM 3; include "stdgates.inc"; qubit[2] q; bit[2] c; h q[0]; cx q[0], q[1]; c = measure q;'
SLOW = ('OPENQASM 3; include "stdgates.inc"; qubit[14] q; bit[14] c; h q; c[0] = measure q[0]; h q; '
        'c = measure q;')


@pytest.fixture(scope="module")
def sup(tmp_path_factory):
    s = Supervisor(tmp_path_factory.mktemp("jobs-client"),
                   pools=[{"name": "default", "kind": "native", "size": 2, "backend": "simulator"}])
    yield s
    assert s.stop() == 0


@pytest.fixture
def jobs(sup):
    with JobsClient(f"127.0.0.1:{sup.port}", timeout=20) as c:
        yield c


def test_submit_wait_and_result_helpers(jobs):
    job_id = jobs.submit_qasm(BELL, "simulator", shots=1000, seed=9)
    result = jobs.wait_for_job(job_id, timeout=30)
    assert sum(result.counts.values()) == 1000 and result.shots == 1000 and result.metadata["seed"] == 9
    probs = result.probabilities()
    assert abs(sum(probs.values()) - 1) < 1e-9 and set(probs) == {"00", "11"}
    outcome, p = result.most_frequent()
    assert outcome in ("00", "11") and p == max(probs.values())
    job = jobs.get_job_status(job_id)
    assert job.state == JobState.COMPLETED and job.state.is_terminal and job.backend_id == "simulator"
    assert job.submitted_at <= job.started_at <= job.completed_at
    assert jobs.get_job_result(job_id).counts == result.counts
    assert job_id in [j.job_id for j in jobs.list_jobs(limit=5)]


def test_typed_errors(jobs):
    with pytest.raises(pitboss.InvalidCircuit) as e:
        jobs.submit_qasm("OPENQASM 3;\nqubit q;\nfoo q;", "simulator")
    assert "3:1" in str(e.value)
    with pytest.raises(pitboss.BackendNotFound):
        jobs.submit_qasm(BELL, "nowhere")
    with pytest.raises(pitboss.BackendNotFound):
        jobs.get_backend_info("nowhere")
    with pytest.raises(pitboss.JobNotFound):
        jobs.get_job_status("nope")
    with pytest.raises(pitboss.JobNotFound):
        jobs.wait_for_job("nope")
    slow = jobs.submit_qasm(SLOW, "simulator", shots=200_000)
    for u in jobs.watch_job(slow):
        if u.state == JobState.RUNNING:
            break
    with pytest.raises(pitboss.JobNotCompleted):
        jobs.get_job_result(slow)
    assert jobs.cancel_job(slow)[0] is True
    with pytest.raises(pitboss.JobCanceled):
        jobs.wait_for_job(slow, timeout=30)
    assert jobs.cancel_job(slow)[0] is False


def test_backends(jobs):
    [b] = jobs.list_backends()
    assert b.backend_id == "simulator" and b.is_available and b.max_qubits == 26 and "cx" in b.supported_gates
    assert jobs.get_backend_info("simulator") == b


def test_watch_and_stream_results(jobs):
    job_id = jobs.submit_qasm(BELL, "simulator", shots=100)
    states = [u.state for u in jobs.watch_job(job_id)]
    assert states[-1] == JobState.COMPLETED and len(states) == len(set(states))
    chunks = list(jobs.stream_results(job_id, chunk_size=1))
    assert [c.chunk_index for c in chunks] == [0, 1] and chunks[-1].is_final
    merged = {}
    for c in chunks:
        merged.update(c.counts)
    assert merged == jobs.get_job_result(job_id).counts


def test_submit_batch_and_batch_future(jobs):
    items = jobs.submit_batch([BELL, "OPENQASM 3; qubit q; h q", (BELL, 10)], "simulator")
    assert [i.ok for i in items] == [True, False, True] and "1:" in items[1].error
    futures = jobs.submit_batch_future([(BELL, 5), "broken"], "simulator")
    assert futures[0].result(30).shots == 5
    with pytest.raises(pitboss.PitbossError):
        futures[1].result(30)


def test_job_future(jobs):
    fut = jobs.submit_qasm_future(BELL, "simulator", shots=200)
    assert isinstance(fut, concurrent.futures.Future) and fut.job_id
    seen = []
    called = threading.Event()
    fut.add_done_callback(lambda f: (seen.append(f.result().shots), called.set()))
    assert fut.result(timeout=30).shots == 200
    assert called.wait(5) and seen == [200] and fut.done() and not fut.cancelled()
    many = [jobs.submit_qasm_future(BELL, "simulator", shots=10) for _ in range(10)]
    done, not_done = concurrent.futures.wait(many, timeout=30)
    assert len(done) == 10 and not not_done
    assert fut.wait(1) and fut.as_concurrent_future() is fut
    slow = jobs.submit_qasm_future(SLOW, "simulator", shots=200_000)
    for u in jobs.watch_job(slow.job_id):
        if u.state == JobState.RUNNING:
            break
    assert slow.cancel() and slow.cancelled()
    assert jobs.get_job_status(slow.job_id).state == JobState.CANCELED


def test_batch_job_manager(jobs):
    progress = []
    with BatchJobManager(jobs, max_workers=4) as manager:
        circuits = [(BELL, 100)] * 40 + ["OPENQASM 3; qubit q; measure q"] + [{"qasm": BELL, "shots": 7, "seed": 1}]
        result = manager.execute_batch(circuits, "simulator", progress_callback=lambda d, t: progress.append((d, t)))
        assert result.success_count == 41 and result.failure_count == 1
        assert result.results[40] is None and isinstance(result.errors[40], pitboss.PitbossError)
        assert result.results[41].shots == 7 and result.results[0].shots == 100
        assert all(j for i, j in enumerate(result.job_ids) if i != 40)
        assert progress[-1] == (42, 42) and [d for d, _ in progress] == list(range(1, 43))
        assert result.total_time > 0 and result.jobs_per_second > 0

        futures = manager.submit_many([(BELL, n) for n in range(1, 21)], "simulator")
        assert all(isinstance(f, JobFuture) for f in futures)
        finished = list(manager.as_completed(futures, timeout=60))
        assert len(finished) == 20
        assert manager.map(lambda r: r.shots, futures, timeout=30) == list(range(1, 21))
        assert all(f.job_id for f in futures)


def test_batch_stream_from_the_client(jobs):
    events = list(jobs.submit_batch_stream([BELL, "OPENQASM 3; qubit q; x q", (BELL, 3)], "simulator"))
    kinds = sorted((e.index, e.kind) for e in events)
    assert kinds == [(0, "completed"), (0, "submitted"), (1, "error"), (2, "completed"), (2, "submitted")]
    done = {e.index: e for e in events if e.kind == "completed"}
    assert sum(done[2].result.counts.values()) == 3


def test_async_jobs_client(sup):
    async def main():
        async with AsyncJobsClient(f"127.0.0.1:{sup.port}") as jobs:
            ids = await asyncio.gather(*(jobs.submit_qasm(BELL, "simulator", shots=50) for _ in range(20)))
            results = await asyncio.gather(*(jobs.wait_for_job(i, timeout=30) for i in ids))
            assert all(sum(r.counts.values()) == 50 for r in results)
            assert (await jobs.get_job_status(ids[0])).state == JobState.COMPLETED
            assert [b.backend_id for b in await jobs.list_backends()] == ["simulator"]
            with pytest.raises(pitboss.JobNotFound):
                await jobs.get_job_result("nope")

            async def circuits():
                for n in (1, 2, 3):
                    yield (BELL, n)
                    await asyncio.sleep(0)

            events = [e async for e in jobs.submit_batch_stream(circuits(), "simulator")]
            shots = sorted(sum(e.result.counts.values()) for e in events if e.kind == "completed")
            assert shots == [1, 2, 3]
            chunks = [c async for c in jobs.stream_results(ids[0], chunk_size=1)]
            assert sum(sum(c.counts.values()) for c in chunks) == 50
            updates = [u async for u in jobs.watch_job(ids[0])]
            assert [u.state for u in updates] == [JobState.COMPLETED]
    asyncio.run(main())


def test_submit_retries_without_adding_a_second_job(sup, jobs):
    """A submit carries a request id, so a retry (or a repeat by hand) names the same job."""
    first = jobs.submit_qasm(BELL, "simulator", shots=10, request_id="fixed-id-42")
    again = jobs.submit_qasm(BELL, "simulator", shots=10, request_id="fixed-id-42")
    assert first == again


def test_retry_and_breaker_apply_to_the_jobs_client():
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=60)
    with JobsClient(dead, timeout=2, retry=retry, breaker=breaker) as jobs:
        with pytest.raises(pitboss.WorkerUnavailable):
            jobs.submit_qasm(BELL, "simulator")
        assert breaker.state == CircuitBreaker.OPEN  # the retry made 3 attempts: 3 failures open it
        with pytest.raises(pitboss.CircuitOpen):
            jobs.get_job_status("x")


def test_a_too_large_circuit_is_not_retried(sup):
    """RESOURCE_EXHAUSTED is transient for a full queue, but not for a circuit past the backend's limits."""
    attempts = []

    class Counting(RetryPolicy):
        def should_retry(self, error, attempt, in_session=False):
            attempts.append(attempt)
            return super().should_retry(error, attempt, in_session)

    with JobsClient(f"127.0.0.1:{sup.port}", retry=Counting(max_attempts=5, initial_backoff=0.01)) as jobs:
        with pytest.raises(pitboss.InvalidCircuit) as e:
            jobs.submit_qasm("OPENQASM 3; qubit[40] q;", "simulator")
    assert e.value.code.name == "RESOURCE_EXHAUSTED" and attempts == [1]


TILT = 'OPENQASM 3; include "stdgates.inc"; include "tilt.inc"; input float theta; qubit[2] q; tilt(theta, q[1]);'


def test_jobs_carry_inputs_measure_all_and_includes(jobs):
    files = {"tilt.inc": "def tilt(float t, qubit a) { rx(t) a; }"}
    # theta = pi: q[1] flips for sure; measure_all measures both qubits into "meas"
    job_id = jobs.submit_qasm(TILT, "simulator", shots=200, seed=3, inputs={"theta": 3.141592653589793},
                              measure_all=True, includes=files)
    assert jobs.wait_for_job(job_id, timeout=30).counts == {"10": 200}
    items = jobs.submit_batch([{"qasm": TILT, "shots": 50, "inputs": {"theta": 0}, "measure_all": True,
                                "includes": files}, TILT])
    assert items[0].ok and not items[1].ok and "includes" in items[1].error
    assert jobs.wait_for_job(items[0].job_id, timeout=30).counts == {"00": 50}


def test_a_job_missing_an_input_is_refused_at_submit_naming_it(jobs):
    with pytest.raises(pitboss.InvalidCircuit) as e:
        jobs.submit_qasm(TILT, "simulator", includes={"tilt.inc": "def tilt(float t, qubit a) { rx(t) a; }"})
    assert "theta" in str(e.value) and "inputs" in str(e.value)


def test_the_async_client_and_the_batch_stream_carry_them_too(sup):
    files = {"tilt.inc": "def tilt(float t, qubit a) { rx(t) a; }"}

    async def main():
        async with AsyncJobsClient(f"127.0.0.1:{sup.port}", timeout=20) as c:
            job_id = await c.submit_qasm(TILT, "simulator", shots=40, inputs={"theta": 3.141592653589793},
                                         measure_all=True, includes=files)
            return (await c.wait_for_job(job_id, timeout=30)).counts

    assert asyncio.run(main()) == {"10": 40}
    with JobsClient(f"127.0.0.1:{sup.port}", timeout=20) as c:
        events = list(c.submit_batch_stream([{"qasm": TILT, "shots": 30, "inputs": {"theta": 0}, "measure_all": True,
                                              "includes": files}], "simulator"))
    done = [e for e in events if e.kind == "completed"]
    assert len(done) == 1 and done[0].result.counts == {"00": 30}, events


def test_a_job_carries_its_precision_and_a_bad_one_is_refused_at_submit(jobs):
    single = jobs.wait_for_job(jobs.submit_qasm(BELL, "simulator", shots=300, seed=5, precision="single"), timeout=30)
    default = jobs.wait_for_job(jobs.submit_qasm(BELL, "simulator", shots=300, seed=5), timeout=30)
    assert single.metadata["precision"] == "single" and default.metadata["precision"] == "double"
    assert set(single.counts) == {"00", "11"} and sum(single.counts.values()) == 300
    items = jobs.submit_batch([{"qasm": BELL, "shots": 10, "precision": "single"}])
    assert items[0].ok and jobs.wait_for_job(items[0].job_id, timeout=30).metadata["precision"] == "single"
    with pytest.raises(pitboss.InvalidArguments) as e:
        jobs.submit_qasm(BELL, "simulator", precision="half")
    assert "precision" in str(e.value) and '"half"' in str(e.value)
