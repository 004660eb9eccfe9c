"""Python workers: the real supervisor, real pitboss-worker processes embedding CPython, real handlers."""
import concurrent.futures
import json
import os
import signal
import threading
import time

import grpc
import pytest

from conftest import ROOT, pb, rss_kb, skip_rss_under_sanitizer, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
HANDLERS = os.path.join(HERE, "pyhandlers")
EXAMPLES = os.path.join(ROOT, "examples", "handlers")


def py_pool(name="py", size=1, module="th", path=HANDLERS, **kw):
    return {"name": name, "kind": "python", "size": size, "module": module, "python_path": path, **kw}


@pytest.fixture
def pysup(make_supervisor):
    return make_supervisor(pools=[py_pool(size=2)], default_pool="py")


def value(resp):
    return json.loads(resp.result_json)


# ---------------------------------------------------------------- the handler API

def test_plain_function_answers_once(pysup):
    assert value(pysup.execute("add", '{"a": 1, "b": 2}')) == {"sum": 3}
    assert value(pysup.execute("add", '{"a": 1}')) == {"sum": 11}


def test_modules_are_imported_once_at_start(pysup):
    first = value(pysup.execute("whoami", session_id="one"))
    for _ in range(5):
        again = value(pysup.execute("whoami", session_id="one"))
        assert again == first  # same process, same start time: not re-imported per call
    assert first["started"] is not None


def test_argument_errors_are_invalid_argument_naming_the_handler(pysup):
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("add", '{"b": 2}')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "add() missing required argument(s): a" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("add", '{"a": 1, "c": 3}')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "add() got unexpected argument(s): c" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("add", '{"a": ')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "column" in e.value.details()


def test_handler_exception_carries_type_message_and_traceback(pysup):
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("explode")
    err = e.value
    assert err.code() == grpc.StatusCode.UNKNOWN
    assert "ValueError: the value was wrong" in err.details()
    md = dict(err.trailing_metadata())
    assert md["x-pitboss-error-type"] == "ValueError"
    tb = md["x-pitboss-traceback-bin"].decode()
    assert tb.startswith("Traceback (most recent call last):")
    assert 'th.py", line' in tb and "in explode" in tb and tb.rstrip().endswith("ValueError: the value was wrong")
    assert "_worker.py" not in tb  # only the user's frames
    # The worker stays up.
    assert value(pysup.execute("add", '{"a": 1}')) == {"sum": 11}


def test_unknown_command(pysup):
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("nope")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "add" in e.value.details()


def test_payload_16mib_round_trip_raw(pysup):
    payload = os.urandom(16 * 1024 * 1024)
    resp = pysup.execute("reverse", payload=payload, timeout=60)
    assert value(resp) == {"len": len(payload)}
    assert resp.payload == payload[::-1]
    resp = pysup.execute("raw")
    assert resp.payload == b"\x00\x01\x02binary" and value(resp) is None


def test_generator_streams_one_chunk_per_yield(pysup):
    chunks = list(pysup.stream("async_stream", '{"n": 50}'))
    assert [json.loads(c.data_json) for c in chunks[:-1]] == [{"i": i} for i in range(50)]
    assert chunks[-1].is_final and [c.seq for c in chunks] == list(range(51))


def test_async_handler(pysup):
    assert value(pysup.execute("async_add", '{"a": 2, "b": 3}')) == {"sum": 5}


def test_list_commands_describes_each_command(pysup):
    cmds = {c.name: c for c in pysup.stub.ListCommands(pb.ListCommandsRequest(pool="py"), timeout=5).commands}
    assert cmds["add"].doc == "Adds a and b." and not cmds["add"].streaming
    assert [(p.name, p.type, p.required, p.default_json) for p in cmds["add"].params] == \
        [("a", "int", True, ""), ("b", "int", False, "10")]
    assert cmds["slow_stream"].streaming and cmds["async_stream"].streaming
    assert "ctx" not in [p.name for p in cmds["counter"].params]


def test_prints_go_to_the_log_marked_with_the_worker(pysup):
    resp = pysup.execute("shout", '{"text": "hello"}')
    assert value(resp) == "HELLO"
    deadline = time.monotonic() + 3
    while "handler says hello" not in pysup.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(l for l in pysup.log_text().splitlines() if "handler says hello" in l)
    assert f'worker {resp.worker.slot} of pool "py" (pid {resp.worker.pid})' in line


# ---------------------------------------------------------------- sessions

def test_session_state_is_kept_and_reset_after_the_worker_dies(pysup):
    for i in range(1, 4):
        r = value(pysup.execute("counter", '{"key": "k"}', session_id="s1"))
        assert r["value"] == i
    other = value(pysup.execute("counter", '{"key": "k"}', session_id="s2"))
    assert other["value"] == 1  # sessions do not share state
    os.kill(r["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while r["pid"] in pysup.pids("py") and time.monotonic() < deadline:
        time.sleep(0.02)
    pysup.wait_ready()
    resp = pysup.execute("counter", '{"key": "k"}', session_id="s1")
    assert resp.session_reset and value(resp)["value"] == 1 and value(resp)["pid"] != r["pid"]


def test_closing_a_session_drops_its_state_on_the_worker(pysup):
    assert value(pysup.execute("counter", '{"key": "k"}', session_id="c"))["value"] == 1
    assert value(pysup.execute("counter", '{"key": "k"}', session_id="c"))["value"] == 2
    assert pysup.stub.CloseSession(pb.CloseSessionRequest(session_id="c", pool="py"), timeout=5).closed
    # The worker is told in the background: wait until no worker holds a session any more.
    wait_for(lambda: all(pysup.worker_stats("py", k).sessions == 0 for k in range(2)),
             what="the worker to drop the closed session")
    assert value(pysup.execute("counter", '{"key": "k"}', session_id="c"))["value"] == 1


# ---------------------------------------------------------------- cancel, deadlines, crashes

def test_cancel_closes_the_generator_and_its_finally_runs(pysup, tmp_path):
    marker = tmp_path / "finally.txt"
    call = pysup.stream("slow_stream", json.dumps({"marker": str(marker)}))
    for i, _ in enumerate(call):
        if i == 3:
            break
    call.cancel()
    deadline = time.monotonic() + 10  # the handler creates the file, then writes it: wait for the words
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "finally ran"


def test_deadline_closes_the_generator(pysup, tmp_path):
    marker = tmp_path / "deadline.txt"
    with pytest.raises(grpc.RpcError) as e:
        for _ in pysup.stream("slow_stream", json.dumps({"marker": str(marker)}), timeout=0.5):
            pass
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = time.monotonic() + 10  # the handler creates the file, then writes it: wait for the words
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "finally ran"


def test_plain_handler_sees_ctx_cancelled(pysup, tmp_path):
    marker = tmp_path / "cancel.txt"
    fut = pysup.stub.Execute.future(pb.ExecuteRequest(command="wait_cancel", args_json=json.dumps(
        {"marker": str(marker)})), timeout=30)
    pysup.wait_calls_running(1, pool="py")
    fut.cancel()
    deadline = time.monotonic() + 10  # the handler creates the file, then writes it: wait for the words
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() == "saw cancel"


def test_handler_that_exits_its_process(pysup):
    pid = value(pysup.execute("whoami", session_id="d"))["pid"]
    with pytest.raises(grpc.RpcError) as e:
        pysup.execute("die", '{"code": 3}', session_id="d")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert f"pid {pid}" in e.value.details() and "exited with code 3" in e.value.details()
    deadline = time.monotonic() + 10
    while pid in pysup.pids("py") and time.monotonic() < deadline:
        time.sleep(0.02)
    pysup.wait_ready()
    resp = pysup.execute("whoami", session_id="d")
    assert resp.session_reset and value(resp)["pid"] != pid


def test_module_with_a_syntax_error_fails_the_pool_at_once(make_supervisor):
    sup = make_supervisor(pools=[{"name": "default", "kind": "native", "size": 1},
                                 py_pool(name="bad", module="broken_syntax")], wait_ready=False)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if sup.pool("bad").state == "failed":
                break
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    bad = sup.pool("bad")
    assert bad.state == "failed", bad
    assert "broken_syntax" in bad.failed_reason and "SyntaxError" in bad.failed_reason
    assert bad.slots[0].restarts == 1  # no restart loop
    log = sup.log_text()
    assert log.count('pool "bad" FAILED') == 1
    assert "broken_syntax.py" in log and "SyntaxError" in log  # the traceback is in the log
    time.sleep(0.5)
    assert sup.pool("bad").slots[0].restarts == 1
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("fine", pool="bad")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE and "broken_syntax" in e.value.details()
    sup.wait_ready(pools=["default"])
    assert value(sup.execute("ping"))["pong"]


def test_gil_is_released_while_a_chunk_waits_for_its_reader(make_supervisor, tmp_path):
    # Two command threads in one worker: a stream blocked on a reader that does not read must not
    # keep the other call from running Python.
    sup = make_supervisor(pools=[py_pool(size=1, max_concurrency=2)], default_pool="py")
    ch = grpc.insecure_channel(f"127.0.0.1:{sup.port}", options=[("grpc.http2.bdp_probe", 0),
                                                                ("grpc.http2.lookahead_bytes", 65536)])
    from conftest import pb_grpc
    stuck = pb_grpc.PoolStub(ch).ExecuteStream(pb.ExecuteRequest(command="slow_stream", args_json=json.dumps(
        {"marker": str(tmp_path / "m"), "interval_ms": 0})), timeout=30)
    next(iter(stuck))  # the producer now runs ahead until the window is full, then waits in send
    time.sleep(0.5)
    t0 = time.monotonic()
    assert value(sup.execute("busy", '{"ms": 200}', timeout=10)) > 0
    assert time.monotonic() - t0 < 1.0
    stuck.cancel()
    ch.close()


@skip_rss_under_sanitizer
def test_20000_calls_on_one_worker_keep_memory_flat(make_supervisor):
    sup = make_supervisor(pools=[py_pool(size=1, max_concurrency=4, worker_threads=4)], default_pool="py")
    pid = sup.pids("py")[0]

    def run(n):
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: sup.execute("add", '{"a": 1, "b": 2}', timeout=30), range(n)))

    run(2000)  # warm up: caches, arenas
    before = rss_kb(pid)
    run(20000)
    grown = rss_kb(pid) - before
    assert grown < 10 * 1024, f"worker RSS grew {grown} kB over 20000 calls"
    assert sup.pids("py") == [pid]


# ---------------------------------------------------------------- the reference examples

@pytest.fixture(scope="module")
def examples_sup(tmp_path_factory):
    from conftest import Supervisor
    sup = Supervisor(tmp_path_factory.mktemp("examples"), pools=[
        {"name": "default", "kind": "native", "size": 1},
        {"name": "examples", "kind": "python", "size": 2, "python_path": EXAMPLES,
         "module": ["basics", "ml", "data", "finance"]}])
    yield sup
    assert sup.stop() == 0


def ex_stream(sup, command, args):
    chunks = list(sup.stream(command, json.dumps(args), pool="examples", timeout=120))
    assert chunks[-1].is_final
    return [json.loads(c.data_json) for c in chunks[:-1]], json.loads(chunks[-1].data_json)


def test_example_ping_stream(examples_sup):
    items, final = ex_stream(examples_sup, "ping_stream", {"count": 4, "interval_ms": 10})
    assert [i["ping"] for i in items] == [1, 2, 3, 4] and final["sent"] == 4


def test_example_batch_inference_predicts_with_confidence(examples_sup):
    items = [[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.7, 3.0, 5.7, 2.1], {"measurements": [5.1, 3.6, 1.4, 0.3]}]
    results, final = ex_stream(examples_sup, "batch_inference", {"items": items})
    assert [r["prediction"] for r in results] == ["setosa", "versicolor", "virginica", "setosa"]
    assert all(0.5 < r["confidence"] <= 1 and abs(sum(r["probabilities"].values()) - 1) < 1e-3 for r in results)
    assert [r["progress"] for r in results] == [0.25, 0.5, 0.75, 1.0]
    assert final["total_processed"] == 4 and final["model_train_accuracy"] > 0.9
    with pytest.raises(grpc.RpcError) as e:
        ex_stream(examples_sup, "batch_inference", {"items": [[1, 2]]})
    assert "expected four measurements" in e.value.details()


def test_example_process_large_dataset(examples_sup):
    chunks, final = ex_stream(examples_sup, "process_large_dataset", {"rows": 25000, "chunk_size": 10000})
    assert [c["processed_rows"] for c in chunks] == [10000, 20000, 25000]
    assert [c["progress_percent"] for c in chunks] == [40.0, 80.0, 100.0]
    assert all(c["total_rows"] == 25000 and c["memory_usage_mb"] > 0 for c in chunks)
    stats = final["final_stats"]
    assert stats["rows"] == 25000 and stats["bad_rows"] == 0
    assert abs(sum(stats["revenue_by_category"].values()) - stats["revenue"]) < 1
    assert chunks[-1]["running_stats"]["revenue"] == pytest.approx(stats["revenue"], abs=0.01)
    # The numbers are the file's: recompute independently.
    import csv
    with open(final["file_path"]) as f:
        total = sum(int(r["quantity"]) * float(r["unit_price"]) for r in csv.DictReader(f))
    assert stats["revenue"] == pytest.approx(total, abs=0.05)


def test_example_tail_and_analyze_follows_a_growing_log(examples_sup, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("old ERROR before start\n")
    call = examples_sup.stream("tail_and_analyze", json.dumps({"log_path": str(log), "context_lines": 1}),
                               pool="examples", timeout=30)
    got = []

    def writer():
        time.sleep(0.5)
        with open(log, "a") as f:
            for line in ["INFO all good", "WARN disk 91% full", "INFO retrying", "ERROR connection lost",
                         "FATAL OutOfMemoryError in worker"]:
                f.write(line + "\n")
                f.flush()
                time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    for chunk in call:
        got.append(json.loads(chunk.data_json))
        if len(got) == 3:
            break
    call.cancel()
    t.join()
    assert [g["log_line"] for g in got] == ["WARN disk 91% full", "ERROR connection lost", "FATAL OutOfMemoryError in worker"]
    assert [g["severity"] for g in got] == ["warning", "error", "critical"]
    assert got[1]["context"] == ["INFO retrying"]


def test_example_training_progress_learns(examples_sup):
    epochs, final = ex_stream(examples_sup, "training_progress", {"epochs": 60})
    assert [e["epoch"] for e in epochs] == list(range(1, 61))
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert final["best_val_acc"] >= max(e["val_acc"] for e in epochs) - 1e-9
    assert os.path.exists(final["final_model_path"])


def test_example_stock_analysis(examples_sup):
    rows, final = ex_stream(examples_sup, "stock_analysis", {"symbols": ["AAPL", "TSLA"]})
    assert {r["symbol"] for r in rows} == {"AAPL", "TSLA"} and len(rows) == 2 * 252
    assert {r["trading_signal"] for r in rows} <= {"BUY", "SELL", "HOLD"}
    assert {"BUY", "SELL"} <= {r["trading_signal"] for r in rows}
    late = [r for r in rows if r["symbol"] == "AAPL"][-1]
    assert 0 <= late["rsi"] <= 100 and late["sma_50"] is not None and late["macd"] is not None
    # SMA_20 is the mean of the last 20 closes.
    closes = [r["price"] for r in rows if r["symbol"] == "AAPL"]
    assert late["sma_20"] == pytest.approx(sum(closes[-20:]) / 20, abs=0.01)
    assert final["days"] == 252 and set(final["signals"]) == {"AAPL", "TSLA"}
    with pytest.raises(grpc.RpcError) as e:
        ex_stream(examples_sup, "stock_analysis", {"symbols": ["NOPE"]})
    assert "no prices for NOPE" in e.value.details()
