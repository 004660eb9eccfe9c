"""OpenQASM feature: registers (qubit[n], qubit, qreg), physical qubits, indices, ranges, index sets,
and broadcast over registers (equal sizes; a size-1 register beside a larger one is an error)."""
import json

import grpc
import pytest

from qasm_reference import CX, H, RY, X, check, native_sup, run  # noqa: F401 (a fixture)


def test_several_registers_lay_out_in_declaration_order(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; qubit[2] a; qubit b; qreg c[2];\nx a[1]; h b; cx b, c[1];'
    check(native_sup, text, 5, [(X, [1]), (H, [2]), (CX, [2, 4])])


def test_a_scalar_qubit_repeats_in_a_broadcast(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; qubit[3] a; qubit b;\nh b; cx b, a;'
    check(native_sup, text, 4, [(H, [3]), (CX, [3, 0]), (CX, [3, 1]), (CX, [3, 2])])


def test_physical_qubits_are_the_ones_used(native_sup):
    check(native_sup, 'OPENQASM 3; include "stdgates.inc"; h $0; cx $0, $2;', 3, [(H, [0]), (CX, [0, 2])])


def test_ranges_steps_sets_and_expressions_pick_qubits(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit[6] q; const int n = 6;\n'
            "h q[0:2]; x q[1:2:5]; ry(0.5) q[{0, 4}]; cx q[n - 1], q[n - 6];")
    ops = [(H, [0]), (H, [1]), (H, [2]), (X, [1]), (X, [3]), (X, [5]), (RY(0.5), [0]), (RY(0.5), [4]), (CX, [5, 0])]
    check(native_sup, text, 6, ops)


def test_registers_of_different_sizes_in_one_call_are_refused_naming_them(native_sup):
    for text in ['OPENQASM 3; include "stdgates.inc"; qubit[2] a; qubit[3] b; cx a, b;',
                 'OPENQASM 2.0; include "qelib1.inc"; qreg a[2]; qreg b[1]; cx b, a;']:
        with pytest.raises(grpc.RpcError) as e:
            run(native_sup, text)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "qasm:1:" in e.value.details() and "size" in e.value.details(), e.value.details()


def test_statevector_is_refused_where_there_is_no_single_final_state(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; qubit[1] q; bit c; h q; c = measure q; x q;'
    with pytest.raises(grpc.RpcError) as e:
        native_sup.execute("run_circuit", json.dumps({"qasm": text, "statevector": True}), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "mid-circuit" in e.value.details()
