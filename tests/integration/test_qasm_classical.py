"""OpenQASM feature: classical scalars (float, int, angle, bool, const) folded into gate parameters,
and `input` declarations bound from run_circuit's "inputs"."""
import math

import grpc
import pytest

from qasm_reference import RX, RY, RZ, U, check, native_sup, run  # noqa: F401 (a fixture)


def test_constants_and_expressions_fold_into_angles(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit[2] q;\n'
            "const float half = pi / 2; float[64] t = half * 0.5 + 0.1; angle[20] a = t; int k = 3; bool on = true;\n"
            "rx(t) q[0]; ry(a * k) q[1]; rz(-half) q[0]; U(t, k, half ** 2) q[1];")
    t = math.pi / 4 + 0.1
    check(native_sup, text, 2, [(RX(t), [0]), (RY(t * 3), [1]), (RZ(-math.pi / 2), [0]), (U(t, 3, (math.pi / 2) ** 2), [1])])


def test_inputs_take_their_values_from_the_request(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; input float theta; input int reps; qubit q;\nrx(theta * reps) q;'
    check(native_sup, text, 1, [(RX(0.25 * 3), [0])], inputs={"theta": 0.25, "reps": 3})
    check(native_sup, text, 1, [(RX(-1.0 * 2), [0])], inputs={"theta": -1.0, "reps": 2})


def test_a_missing_input_is_invalid_argument_naming_it(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; input float theta; qubit q; rx(theta) q;'
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, text)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "theta" in e.value.details()


def test_assignment_and_compound_assignment_change_the_value_from_there_on(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit q;\n'
            "float t = 0.5; int k = 7;\nrx(t) q;\nt = t * 3;\nt += 0.25;\nk /= 2;\nk <<= 2;\nk %= 5;\nry(t + k) q;")
    # int k: 7 / 2 truncates to 3 on assignment; 3 << 2 = 12; 12 % 5 = 2
    check(native_sup, text, 1, [(RX(0.5), [0]), (RY(1.75 + 2), [0])])


def test_bitwise_logical_comparison_and_casts_fold(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit q;\n'
            "int a = 6 ^ 3;\nint b = ~a & 15;\nbool t = a > b && !(a == 5) || false;\n"
            "uint[4] u = uint[4](27);\nint i = int(2.7);\nfloat f = float(i) / 4;\nint s = 1 << 3 | 1;\n"
            'int bits = int("0110");\nrx(a + b * 0.1) q;\nry(t + u + i + f + s + bits) q;')
    a, b = 6 ^ 3, ~(6 ^ 3) & 15
    check(native_sup, text, 1, [(RX(a + b * 0.1), [0]), (RY(int(a > b) + (27 & 15) + 2 + 0.5 + 9 + 6), [0])])


def test_caret_is_xor_in_openqasm_3_and_power_in_openqasm_2(native_sup):
    check(native_sup, 'OPENQASM 3; include "stdgates.inc"; qubit q; rx(5 ^ 3) q;', 1, [(RX(6), [0])])
    check(native_sup, 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; rx(2 ^ 3 / 4) q[0];', 1, [(RX(2.0), [0])])
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, 'OPENQASM 3; include "stdgates.inc"; qubit q; rx(pi ^ 2) q;')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "write ** for a power" in e.value.details()


def test_bits_take_values_of_expressions(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit[2] q; bit[4] c; bit[2] d = "10"; bit e;\n'
            "x q[1];\nc[0:1] = measure q;\nc[2] = c[1] ^ c[0];\nc[3] = !c[0];\nd[0] = c == 6;\ne = bool(d);\nd <<= 1;")
    # q = 10: c[0] = 0, c[1] = 1; c[2] = 1, c[3] = 1: c = 1110 = 14; d[0] = (c == 6) = 0: d = 10,
    # e = bool(d) = 1, then d <<= 1 keeps two bits: 00
    answer = run(native_sup, text, shots=100)
    assert answer["counts"] == {"1 00 1110": 100}, answer["counts"]
