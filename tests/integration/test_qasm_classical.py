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
