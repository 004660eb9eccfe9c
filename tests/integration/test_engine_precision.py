"""Precision (issue 14): `"precision": "single"` per pool (config) and per request (run_circuit's
args), complex floats instead of doubles: half the memory, the same answers to float rounding. The
real supervisor and native workers; the reference is the same circuit in double precision."""
import json
import math
import random

import grpc
import pytest

MiB = 1 << 20


@pytest.fixture(scope="module")
def sup(tmp_path_factory):
    from conftest import Supervisor
    s = Supervisor(tmp_path_factory.mktemp("precision"), pools=[
        {"name": "default", "kind": "native", "size": 1},
        {"name": "single", "kind": "native", "size": 1, "precision": "single"},
        # a 20-qubit state is 16 MiB in double, 8 MiB in single: only single fits 12 MiB
        {"name": "small", "kind": "native", "size": 1, "memory_budget_mb": 12},
    ])
    yield s
    assert s.stop() == 0


def run(sup, pool="default", timeout=120, **args):
    return json.loads(sup.execute("run_circuit", json.dumps(args), pool=pool, timeout=timeout).result_json)


def random_circuit(n, gates, seed):
    rng = random.Random(seed)
    body = []
    for _ in range(gates):
        a = rng.randrange(n)
        b = (a + 1) % n
        kind = rng.randrange(4)
        if kind == 0:
            body.append(f"{rng.choice(['h', 'sx', 't', 'y'])} q[{a}];")
        elif kind == 1:
            body.append(f"{rng.choice(['rx', 'ry', 'rz'])}({rng.uniform(0, 6.28):.6f}) q[{a}];")
        elif kind == 2:
            body.append(f"{rng.choice(['cx', 'cz', 'swap'])} q[{a}], q[{b}];")
        else:
            body.append(f"crx({rng.uniform(0, 6.28):.6f}) q[{a}], q[{b}];")
    return f'OPENQASM 3; include "stdgates.inc"; qubit[{n}] q; ' + " ".join(body)


def amplitudes(result):
    return [complex(re, im) for re, im in result["statevector"]]


def test_a_single_precision_pool_gives_the_double_state_to_float_rounding(sup):
    qasm = random_circuit(10, 400, seed=3)
    double = run(sup, qasm=qasm, shots=1, statevector=True)
    single = run(sup, pool="single", qasm=qasm, shots=1, statevector=True)
    assert double["precision"] == "double" and single["precision"] == "single"
    a, b = amplitudes(double), amplitudes(single)
    top = max(abs(x) for x in a)
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert 0 < worst < 2e-5 * top, f"single is off by {worst} (largest amplitude {top})"
    assert abs(sum(abs(x) ** 2 for x in b) - 1) < 1e-5


def test_a_request_picks_its_precision_over_the_pools(sup):
    qasm = random_circuit(8, 200, seed=5)
    on_double = run(sup, qasm=qasm, shots=1, statevector=True)
    asked_double = run(sup, pool="single", qasm=qasm, shots=1, statevector=True, precision="double")
    asked_single = run(sup, qasm=qasm, shots=1, statevector=True, precision="single")
    assert asked_double["precision"] == "double" and asked_single["precision"] == "single"
    assert asked_double["statevector"] == on_double["statevector"]  # the same kernels, bit for bit
    assert asked_single["statevector"] != on_double["statevector"]


def test_counts_in_single_precision_follow_the_distribution(sup):
    # 20 qubits: the fused, cache-blocked kernels (chunks of 16 qubits) in single precision; a GHZ
    # state rotated so that the two halves are 30% / 70%
    n = 20
    qasm = (f'OPENQASM 3; include "stdgates.inc"; qubit[{n}] q; bit[{n}] c; ry({2 * math.asin(math.sqrt(0.3))}) q[0]; '
            + " ".join(f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)) + " c = measure q;")
    r = run(sup, pool="single", qasm=qasm, shots=20000, seed=9)
    assert set(r["counts"]) == {"0" * n, "1" * n}
    ones = r["counts"]["1" * n] / 20000
    assert abs(ones - 0.3) < 0.015, r["counts"]


def test_single_precision_halves_the_memory_a_circuit_reserves(sup):
    qasm = f'OPENQASM 2.0; include "qelib1.inc"; qreg q[20]; creg c[20]; h q; measure q -> c;'
    with pytest.raises(grpc.RpcError) as e:
        run(sup, pool="small", qasm=qasm, shots=10)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "16.0 MiB" in e.value.details() and "12.0 MiB" in e.value.details(), e.value.details()
    r = run(sup, pool="small", qasm=qasm, shots=10, precision="single")
    assert r["precision"] == "single" and sum(r["counts"].values()) == 10


@pytest.mark.parametrize("value", ["quad", 32, ""])
def test_a_bad_precision_is_invalid_argument_naming_it(sup, value):
    with pytest.raises(grpc.RpcError) as e:
        sup.execute("run_circuit", json.dumps({"qasm": "qubit q;", "precision": value}), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert '"precision" must be "double" or "single"' in e.value.details()


def test_backend_info_says_the_pools_precision(sup):
    assert json.loads(sup.execute("backend_info", "{}", timeout=30).result_json)["precision"] == "double"
    info = json.loads(sup.execute("backend_info", "{}", pool="single", timeout=30).result_json)
    assert info["precision"] == "single"
