"""The native engine through the real supervisor: run_circuit, run_circuit_stream, backend_info."""
import json
import math

import grpc
import pytest

from conftest import run_cli

BELL = 'OPENQASM 3; include "stdgates.inc"; qubit[2] q; bit[2] c; h q[0]; cx q[0], q[1]; c = measure q;'
TELEPORT = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3]; creg m0[1]; creg m1[1]; creg out[1];
ry(1.1) q[0];
h q[1]; cx q[1], q[2];
cx q[0], q[1]; h q[0];
measure q[0] -> m0[0]; measure q[1] -> m1[0];
if (m1 == 1) x q[2];
if (m0 == 1) z q[2];
measure q[2] -> out[0];
"""


@pytest.fixture(scope="module")
def engine_sup(tmp_path_factory):
    from conftest import Supervisor
    sup = Supervisor(tmp_path_factory.mktemp("engine"),
                     pools=[{"name": "default", "kind": "native", "size": 2, "max_qubits": 20}])
    yield sup
    assert sup.stop() == 0


def run(sup, qasm, **kw):
    return json.loads(sup.execute("run_circuit", json.dumps({"qasm": qasm, **kw}), timeout=60).result_json)


def test_bell_is_about_half_00_half_11(engine_sup):
    r = run(engine_sup, BELL, shots=10000, seed=5)
    assert set(r["counts"]) == {"00", "11"} and sum(r["counts"].values()) == 10000
    assert abs(r["counts"]["00"] - 5000) < 4 * math.sqrt(2500)
    assert r["shots"] == 10000 and r["num_qubits"] == 2 and r["seed"] == 5 and r["execution_time_ms"] >= 0
    assert r["method"] == "sampled-final-state"
    assert run(engine_sup, BELL, shots=10000, seed=5)["counts"] == r["counts"]  # reproducible


def test_cli_run_circuit_through_the_supervisor(engine_sup):
    out = run_cli("call", "run_circuit", json.dumps({"qasm": BELL, "shots": 2000}), "--target",
                  f"127.0.0.1:{engine_sup.port}")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert set(r["counts"]) == {"00", "11"} and 800 < r["counts"]["00"] < 1200
    assert isinstance(r["seed"], int)  # the seed used is reported, so the run can be repeated


def test_teleportation_runs_per_shot(engine_sup):
    r = run(engine_sup, TELEPORT, shots=4000, seed=9)
    assert r["method"] == "per-shot"
    ones = sum(n for k, n in r["counts"].items() if k.split(" ")[0] == "1")  # "out m1 m0"
    p = math.sin(1.1 / 2) ** 2
    assert abs(ones - 4000 * p) < 4 * math.sqrt(4000 * p * (1 - p))


def test_stream_variant_sends_progress_then_counts(engine_sup):
    chunks = list(engine_sup.stream("run_circuit_stream", json.dumps({"qasm": TELEPORT, "shots": 200000, "seed": 1}),
                                    timeout=120))
    data = [json.loads(c.data_json) for c in chunks]
    assert chunks[-1].is_final and sum(data[-1]["counts"].values()) == 200000
    progress = [d for d in data[:-1]]
    assert progress and all(0 < d["progress"] <= 1 and d["shots"] == 200000 for d in progress)
    assert [d["shots_done"] for d in progress] == sorted(d["shots_done"] for d in progress)


def test_bad_circuit_is_invalid_argument_with_line_and_column(engine_sup):
    with pytest.raises(grpc.RpcError) as e:
        run(engine_sup, "OPENQASM 3;\nqubit[2] q;\nh q[0]\ncx q[0], q[1];")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details().startswith("qasm:4:1: expected ';'")
    with pytest.raises(grpc.RpcError) as e:
        run(engine_sup, "qubit q; frob q;")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "1:10: unknown gate 'frob'" in e.value.details()


def test_too_many_qubits_is_resource_exhausted_before_allocation(engine_sup):
    with pytest.raises(grpc.RpcError) as e:
        run(engine_sup, "qubit[21] q;")
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "at most 20" in e.value.details()


def test_bad_arguments(engine_sup):
    for args, says in (({"shots": 10}, '"qasm"'), ({"qasm": BELL, "shots": 0}, '"shots"'),
                       ({"qasm": BELL, "shots": 10 ** 9}, "at most"), ({"qasm": BELL, "extra": 1}, '"extra"')):
        with pytest.raises(grpc.RpcError) as e:
            engine_sup.execute("run_circuit", json.dumps(args))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and says in e.value.details()


def test_backend_info_lists_gates_that_all_run(engine_sup):
    info = json.loads(engine_sup.execute("backend_info").result_json)
    assert info["name"] == "pitboss-statevector" and info["max_qubits"] == 20 and info["max_shots"] >= 1000
    arity = {"U": (3, 1), "u": (3, 1), "CX": (0, 2), "gphase": (1, 0), "u2": (2, 1), "u3": (3, 1), "cu": (4, 2),
             "cu3": (3, 2), "ccx": (0, 3), "cswap": (0, 3)}
    for g in info["gates"]:
        n_params, n_qubits = arity.get(g, (0, 1))
        if g in ("p", "phase", "rx", "ry", "rz", "u0", "u1"):
            n_params = 1
        if g.startswith("c") and g not in arity:
            n_qubits = 2
            if g in ("cp", "cphase", "cu1", "crx", "cry", "crz"):
                n_params = 1
        if g in ("swap", "iswap", "ecr"):
            n_qubits = 2
        if g in ("rxx", "ryy", "rzz"):
            n_params, n_qubits = 1, 2
        params = f"({', '.join(['0.3'] * n_params)})" if n_params else ""
        qubits = ", ".join(f"q[{i}]" for i in range(n_qubits))
        r = run(engine_sup, f"qubit[3] q; bit[3] c; {g}{params} {qubits}; c = measure q;", shots=10)
        assert sum(r["counts"].values()) == 10, g


def test_a_circuit_that_measures_nothing_says_so_and_measure_all_measures_every_qubit(engine_sup):
    ghz = 'OPENQASM 3.0; include "stdgates.inc"; qubit[3] q; h q[0]; cx q[0], q[1]; cx q[1], q[2];'
    r = run(engine_sup, ghz, shots=100)
    assert r["counts"] == {"": 100}  # what a state-vector run without measurements reads ...
    assert any("measures nothing" in w and "measure_all" in w for w in r["warnings"]), r["warnings"]  # ... said
    m = run(engine_sup, ghz, shots=2000, seed=3, measure_all=True)
    assert set(m["counts"]) == {"000", "111"} and sum(m["counts"].values()) == 2000
    assert m["warnings"] == [] and m["num_clbits"] == 3
    # Beside the circuit's own bits: meas is a register of its own, printed first (declared last).
    own = run(engine_sup, 'OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; bit[1] c; x q[1]; c[0] = measure q[0];',
              shots=10, measure_all=True)
    assert own["counts"] == {"10 0": 10}, own
    with pytest.raises(grpc.RpcError) as e:
        run(engine_sup, ghz, measure_all="yes")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "measure_all" in e.value.details()
    assert run(engine_sup, BELL, shots=10)["warnings"] == []


def test_inputs_are_bound_from_the_request_and_a_missing_one_is_named(engine_sup):
    qasm = ('OPENQASM 3.0; include "stdgates.inc"; input float theta; const int reps = 2; qubit q; bit c; '
            'ry(theta / reps) q; ry(theta / reps) q; c = measure q;')
    assert run(engine_sup, qasm, shots=50, inputs={"theta": math.pi})["counts"] == {"1": 50}
    assert run(engine_sup, qasm, shots=50, inputs={"theta": 0})["counts"] == {"0": 50}
    with pytest.raises(grpc.RpcError) as e:
        run(engine_sup, qasm, shots=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'theta'" in e.value.details() and '"inputs"' in e.value.details() and "1:" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        run(engine_sup, qasm, inputs={"theta": "pi"})
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and 'inputs["theta"]' in e.value.details()
