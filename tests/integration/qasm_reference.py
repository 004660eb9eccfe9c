"""An independent dense reference for the engine's feature tests (tests/integration/test_qasm_*.py).

A test writes its circuit twice: as OpenQASM text for pitboss, and as a list of (matrix, qubits)
for `reference_state`, a plain numpy state vector (up to 14 qubits) that knows nothing of pitboss's
parser or kernels. The matrices here are written out from the OpenQASM 3 specification's
definitions (stdgates.inc), qubit index 0 the least significant bit, as pitboss and Qiskit order
amplitudes. `check` runs the text through the real supervisor with "statevector": true and compares
every amplitude, global phase included.
"""
import json
import math

import numpy as np
import pytest

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.diag([1, -1]).astype(complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
S = np.diag([1, 1j])
T = np.diag([1, np.exp(1j * math.pi / 4)])
SX = np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2


def RX(t):
    return np.array([[math.cos(t / 2), -1j * math.sin(t / 2)], [-1j * math.sin(t / 2), math.cos(t / 2)]])


def RY(t):
    return np.array([[math.cos(t / 2), -math.sin(t / 2)], [math.sin(t / 2), math.cos(t / 2)]], dtype=complex)


def RZ(t):
    return np.diag([np.exp(-1j * t / 2), np.exp(1j * t / 2)])


def P(t):
    return np.diag([1, np.exp(1j * t)])


def U(theta, phi, lam):
    """The spec's U(θ, φ, λ) (OpenQASM 3: no extra global phase)."""
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return np.array([[c, -np.exp(1j * lam) * s], [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c]])


def controlled(m, n_controls=1, values=None):
    """ctrl @ ... : the matrix on (controls..., targets...), the first listed operand highest."""
    values = values or [1] * n_controls
    k = int(round(math.log2(m.shape[0])))
    dim = 2 ** (n_controls + k)
    out = np.eye(dim, dtype=complex)
    sel = 0
    for v in values:
        sel = (sel << 1) | v
    start = sel << k
    out[start:start + 2 ** k, start:start + 2 ** k] = m
    return out


CX = controlled(X)
CZ = controlled(Z)
SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)


def apply(state, n, m, qubits):
    """state <- m on qubits (qubits[0] is the matrix's most significant operand, as OpenQASM lists
    them: `cx a, b` is CX on (a, b) with a the control)."""
    k = len(qubits)
    psi = state.reshape([2] * n)  # axis j is qubit n-1-j
    axes = [n - 1 - q for q in qubits]
    g = m.reshape([2] * (2 * k))
    psi = np.tensordot(g, psi, axes=(list(range(k, 2 * k)), axes))
    # tensordot puts the gate's output axes first: move them back where they were
    psi = np.moveaxis(psi, list(range(k)), axes)
    return psi.reshape(-1)


def reference_state(n, ops, phase=0.0):
    """|0...0> through ops, a list of (matrix, [qubits]); phase: a global phase (gphase) in radians."""
    assert n <= 14, "the reference is for small circuits"
    state = np.zeros(2 ** n, dtype=complex)
    state[0] = 1
    for m, qubits in ops:
        state = apply(state, n, np.asarray(m, dtype=complex), list(qubits))
    return state * np.exp(1j * phase)


def run(sup, qasm, **kw):
    reply = sup.execute("run_circuit", json.dumps({"qasm": qasm, "shots": kw.pop("shots", 16), **kw}), timeout=60)
    return json.loads(reply.result_json)


def pitboss_state(sup, qasm, **kw):
    r = run(sup, qasm, statevector=True, **kw)
    return np.array([complex(a, b) for a, b in r["statevector"]]), r


def check(sup, qasm, n, ops, phase=0.0, **kw):
    """Runs qasm through the supervisor; its final state must equal the reference's, amplitude by
    amplitude (1e-9). Returns run_circuit's answer."""
    got, answer = pitboss_state(sup, qasm, **kw)
    want = reference_state(n, ops, phase)
    assert got.shape == want.shape, f"{len(got)} amplitudes, the reference has {len(want)}"
    worst = float(np.max(np.abs(got - want)))
    assert worst < 1e-9, f"amplitudes differ by up to {worst}:\n{qasm}\npitboss {np.round(got, 4)}\nreference {np.round(want, 4)}"
    return answer


@pytest.fixture(scope="module")
def native_sup(tmp_path_factory):
    from conftest import Supervisor
    sup = Supervisor(tmp_path_factory.mktemp("qasm"),
                     pools=[{"name": "default", "kind": "native", "size": 1, "max_qubits": 16}])
    yield sup
    assert sup.stop() == 0


# ---- circuits with measurements inside: the exact distribution of their classical bits ----

class _Branch(Exception):
    """The program measured past its script: run it again with each outcome appended."""


class _Negligible(Exception):
    """This branch's probability is too small to matter (a while loop's long tail)."""


class Machine:
    """One branch of a program: the outcomes of its first measurements are fixed by `script`."""

    def __init__(self, n, script):
        self.n, self.script, self.k, self.prob = n, script, 0, 1.0
        self.state = np.zeros(2 ** n, dtype=complex)
        self.state[0] = 1

    def gate(self, m, qubits):
        self.state = apply(self.state, self.n, np.asarray(m, dtype=complex), list(qubits))

    def measure(self, q):
        if self.k == len(self.script):
            raise _Branch
        bit = self.script[self.k]
        self.k += 1
        keep = ((np.arange(2 ** self.n) >> q) & 1) == bit
        p = float(np.sum(np.abs(self.state[keep]) ** 2))
        self.prob *= p
        if self.prob < 1e-9:
            raise _Negligible
        self.state = np.where(keep, self.state, 0) / math.sqrt(p)
        return bit

    def reset(self, q):
        if self.measure(q):
            self.gate(X, [q])


def distribution(n, program):
    """{key: probability} of `program(machine) -> counts key`, every branch of its measurements
    followed (the Python program is the reference: it knows nothing of pitboss's parser)."""
    out, todo = {}, [[]]
    while todo:
        script = todo.pop()
        m = Machine(n, script)
        try:
            key = program(m)
        except _Branch:
            todo += [script + [0], script + [1]]
            continue
        except _Negligible:
            continue
        out[key] = out.get(key, 0.0) + m.prob
    return out


def check_counts(sup, qasm, n, program, shots=4000, **kw):
    """Runs qasm for `shots` and compares its counts with `distribution(n, program)`: no outcome the
    reference cannot give, and each count within 5 standard deviations of its expectation."""
    answer = run(sup, qasm, shots=shots, seed=kw.pop("seed", 11), **kw)
    want = distribution(n, program)
    got = answer["counts"]
    for key, count in got.items():
        assert want.get(key, 0) > 0, f"outcome {key!r} ({count} shots) is impossible; the reference gives {want}"
    for key, p in want.items():
        mean, sd = shots * p, math.sqrt(shots * p * (1 - p))
        assert abs(got.get(key, 0) - mean) <= 5 * sd + 2, f"{key!r}: {got.get(key, 0)} shots, expected ~{mean:.0f}; {got}"
    return answer


def assert_refused_at(sup, qasm, where, says, lines_before=0):
    """run_circuit refuses qasm with INVALID_ARGUMENT at line:col `where` (counted after
    `lines_before` lines of prelude), its message saying `says`."""
    import grpc
    with pytest.raises(grpc.RpcError) as e:
        run(sup, qasm)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    line, col = where.split(":")
    assert f"{int(line) + lines_before}:{col}:" in e.value.details() and says in e.value.details(), e.value.details()
