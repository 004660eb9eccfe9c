"""OpenQASM feature: classical arrays (`array[float[64], 3] a = {...};`). Like the scalars, their values
are known before the run: declarations with and without initialisers, element reads and assignments
(compound too, negative indices, several dimensions), copies, `for` over an array; each circuit
checked against the numpy state of the gates it must become; misuse refused at its line:col."""
import math

import pytest

from qasm_reference import RX, RY, RZ, assert_refused_at, check, native_sup  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3.0; include "stdgates.inc";\n'


def test_arrays_are_declared_read_assigned_and_looped_over(native_sup):
    text = HEAD + ("qubit[3] q;\n"
                   "array[float[64], 3] angles = {0.1, 0.2 * 2, pi / 4};\n"
                   "const array[int[32], 2, 2] m = {{1, 2}, {3, 4}};\n"
                   "array[int, 3] n;\n"
                   "n[1] = m[1][0] + m[0, 1];\n"
                   "n[2] += 7;\n"
                   "angles[-1] *= 2;\n"
                   "array[float, 3] copy = angles;\n"
                   "copy[0] = 1.5;\n"
                   "for float a in angles { rx(a) q[0]; }\n"
                   "ry(n[1] * 0.1 + n[0]) q[1];\n"
                   "rz(n[2] / copy[0]) q[2];\n"
                   "array[uint[8], 2] u = {3.7, 250};\n"
                   "rx(u[0] + u[1] / 100) q[2];")
    check(native_sup, text, 3, [(RX(0.1), [0]), (RX(0.4), [0]), (RX(math.pi / 2), [0]), (RY(0.5), [1]),
                                (RZ(7 / 1.5), [2]), (RX(3 + 2.5), [2])])


def test_an_array_declared_in_a_loop_body_is_fresh_each_iteration(native_sup):
    text = HEAD + ("qubit q;\n"
                   "for int i in [1:3] { array[int, 2] a = {i, 0}; a[1] += a[0]; rx(a[1] * 0.1) q; }")
    check(native_sup, text, 1, [(RX(0.1), [0]), (RX(0.2), [0]), (RX(0.3), [0])])


@pytest.mark.parametrize("body,where,says", [
    ("array[int, 3] a; rx(a[3]) q[0];", "2:23", "index out of range: 'a' has 3 element(s) in dimension 1"),
    ("array[int, 2] a = {1, 2, 3};", "2:26", "more values than the 2 of dimension 1 of 'a'"),
    ("array[int, 2, 2] a = {{1, 2}, {3}};", "2:31", "1 value(s) for dimension 2 of 'a', which has 2"),
    ("const array[int, 1] a = {1}; a[0] = 2;", "2:30", "'a' is a const array: it cannot be assigned"),
    ("const array[int, 1] a;", "2:21", "a const array needs its values"),
    ("array[int, 2, 2] a; for int x in a { }", "2:34", "needs a one-dimensional array"),
    ("array[int, 2, 2] a; rx(a[0]) q[0];", "2:24", "index every one (a[i][j]); slices of arrays are not supported"),
    ("array[bit, 2] a;", "2:7", "arrays of float, int, uint, angle or bool are supported"),
    ("bit c; c = measure q[0]; array[int, 1] a; if (c) { a[0] = 1; }", "2:52",
     "'a' is assigned under a condition on measured bits"),
    ("bit c; c = measure q[0]; array[int, 1] a; a[0] = c;", "2:50", "would hold a value that depends on measured bits"),
    ("array[int, 2] a; array[float, 2] a;", "2:34", "'a' is already declared"),
])
def test_misused_arrays_are_refused_at_their_line_and_column(native_sup, body, where, says):
    assert_refused_at(native_sup, HEAD + "qubit[2] q;\n" + body, where, says, lines_before=1)
