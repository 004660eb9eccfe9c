"""OpenQASM feature: the standard gates (stdgates.inc), U and gphase, each against the reference."""
import math

import pytest

from qasm_reference import (CX, CZ, H, P, RX, RY, RZ, S, SWAP, SX, T, U, X, Y, Z, check, controlled,
                            native_sup)  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3; include "stdgates.inc"; qubit[3] q;\n'
PREP = "h q[0]; ry(0.7) q[1]; rx(1.9) q[2]; cx q[0], q[2];\n"  # a state on which every gate shows
PREP_OPS = [(H, [0]), (RY(0.7), [1]), (RX(1.9), [2]), (CX, [0, 2])]

ONE = [("x", X), ("y", Y), ("z", Z), ("h", H), ("s", S), ("sdg", S.conj().T), ("t", T), ("tdg", T.conj().T),
       ("sx", SX), ("id", None), ("rx(0.3)", RX(0.3)), ("ry(-1.2)", RY(-1.2)), ("rz(2.5)", RZ(2.5)),
       ("p(0.9)", P(0.9)), ("phase(0.4)", P(0.4)), ("u(0.1, 0.2, 0.3)", U(0.1, 0.2, 0.3)),
       ("U(1.1, -0.4, 2.2)", U(1.1, -0.4, 2.2))]


@pytest.mark.parametrize("gate,m", ONE, ids=[g for g, _ in ONE])
def test_one_qubit_gate(native_sup, gate, m):
    ops = PREP_OPS + ([] if m is None else [(m, [1])])
    check(native_sup, HEAD + PREP + f"{gate} q[1];", 3, ops)


TWO = [("cx", CX), ("cy", controlled(Y)), ("cz", CZ), ("ch", controlled(H)), ("swap", SWAP),
       ("cp(0.6)", controlled(P(0.6))), ("crx(0.8)", controlled(RX(0.8))), ("cry(0.8)", controlled(RY(0.8))),
       ("crz(0.8)", controlled(RZ(0.8))),
       # cu(θ, φ, λ, γ): the spec's controlled U with a phase γ on the control's |1>
       ("cu(0.3, 0.4, 0.5, 0.6)", controlled(U(0.3, 0.4, 0.5) * complex(math.cos(0.6), math.sin(0.6))))]


@pytest.mark.parametrize("gate,m", TWO, ids=[g for g, _ in TWO])
def test_two_qubit_gate_both_ways_round(native_sup, gate, m):
    check(native_sup, HEAD + PREP + f"{gate} q[2], q[0];", 3, PREP_OPS + [(m, [2, 0])])
    check(native_sup, HEAD + PREP + f"{gate} q[0], q[1];", 3, PREP_OPS + [(m, [0, 1])])


def test_three_qubit_gates(native_sup):
    check(native_sup, HEAD + PREP + "ccx q[0], q[2], q[1];", 3, PREP_OPS + [(controlled(X, 2), [0, 2, 1])])
    check(native_sup, HEAD + PREP + "cswap q[2], q[0], q[1];", 3, PREP_OPS + [(controlled(SWAP), [2, 0, 1])])


def test_gphase_is_a_global_phase(native_sup):
    check(native_sup, HEAD + PREP + "gphase(0.75);", 3, PREP_OPS, phase=0.75)


def test_a_circuit_big_enough_to_be_fused_matches_gate_by_gate(native_sup):
    """14 qubits: the engine fuses gates into blocks here (worker/engine/fuse.c)."""
    import random
    rng = random.Random(14)
    n = 14
    text, ops = f'OPENQASM 3; include "stdgates.inc"; qubit[{n}] q;\n', []
    for layer in range(6):
        for q in range(n):
            name, m = rng.choice([("rx", RX), ("ry", RY), ("rz", RZ)])
            a = rng.uniform(-3, 3)
            text += f"{name}({a!r}) q[{q}];\n"
            ops.append((m(a), [q]))
        for q in range(layer % 2, n - 1, 2):
            text += f"cx q[{q}], q[{q + 1}];\n"
            ops.append((CX, [q, q + 1]))
        text += f"cp(0.3) q[0], q[{n - 1}];\n"
        ops.append((controlled(P(0.3)), [0, n - 1]))
    check(native_sup, text, n, ops)
