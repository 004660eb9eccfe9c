"""OpenQASM feature: gate modifiers inv @, ctrl @, ctrl(n) @, negctrl @, pow(k) @, against the reference."""
import numpy as np

from qasm_reference import H, RX, RY, S, T, X, Y, check, controlled, native_sup  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3; include "stdgates.inc"; qubit[3] q;\nh q[0]; h q[1]; ry(0.4) q[2];\n'
PREP = [(H, [0]), (H, [1]), (RY(0.4), [2])]


def principal_power(m, k):
    """m^k by the eigenvalues' principal branch (arguments in (-π, π]: an eigenvalue -1 that numpy
    returns as -1-0j has the argument π, not -π)."""
    w, v = np.linalg.eig(m)
    arg = np.angle(w)
    arg = np.where(arg <= -np.pi + 1e-12, np.pi, arg)
    return v @ np.diag(np.abs(w) ** k * np.exp(1j * k * arg)) @ np.linalg.inv(v)


def test_inv(native_sup):
    check(native_sup, HEAD + "inv @ s q[2]; inv @ rx(0.9) q[1];", 3, PREP + [(S.conj().T, [2]), (RX(-0.9), [1])])


def test_ctrl_and_ctrl_n(native_sup):
    check(native_sup, HEAD + "ctrl @ t q[0], q[2];", 3, PREP + [(controlled(T), [0, 2])])
    check(native_sup, HEAD + "ctrl(2) @ y q[1], q[0], q[2];", 3, PREP + [(controlled(Y, 2), [1, 0, 2])])


def test_negctrl_acts_when_the_control_reads_zero(native_sup):
    check(native_sup, HEAD + "negctrl @ x q[0], q[2];", 3, PREP + [(controlled(X, 1, [0]), [0, 2])])
    check(native_sup, HEAD + "negctrl @ ctrl @ rx(1.3) q[1], q[0], q[2];", 3,
          PREP + [(controlled(RX(1.3), 2, [0, 1]), [1, 0, 2])])


def test_integer_and_fractional_powers(native_sup):
    check(native_sup, HEAD + "pow(3) @ t q[1];", 3, PREP + [(np.linalg.matrix_power(T, 3), [1])])
    check(native_sup, HEAD + "pow(-2) @ s q[1];", 3, PREP + [(np.linalg.matrix_power(S.conj().T, 2), [1])])
    check(native_sup, HEAD + "pow(0.5) @ x q[2];", 3, PREP + [(principal_power(X, 0.5), [2])])
    check(native_sup, HEAD + "pow(0.5) @ inv @ y q[2];", 3, PREP + [(principal_power(Y.conj().T, 0.5), [2])])


def test_modifiers_compose(native_sup):
    m = controlled(np.linalg.inv(principal_power(Y, 0.5)))
    check(native_sup, HEAD + "ctrl @ inv @ pow(0.5) @ y q[0], q[1];", 3, PREP + [(m, [0, 1])])
