"""OpenQASM feature: `for` loops over ranges, stepped ranges and sets (unrolled), the loop variable
in indices and angles."""
from qasm_reference import CX, H, RY, RZ, check, native_sup  # noqa: F401 (a fixture)


def test_a_range_loop_builds_a_ghz_ladder(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; qubit[5] q;\nh q[0];\nfor int i in [0:3] { cx q[i], q[i + 1]; }'
    check(native_sup, text, 5, [(H, [0])] + [(CX, [i, i + 1]) for i in range(4)])


def test_stepped_ranges_and_sets_with_the_variable_in_angles(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit[6] q;\n'
            "for uint i in [0:2:5] ry(0.1 * (i + 1)) q[i];\n"
            "for int j in {5, 1, 3} { rz(j / 2.0) q[j]; h q[j]; }")
    ops = [(RY(0.1 * (i + 1)), [i]) for i in (0, 2, 4)]
    for j in (5, 1, 3):
        ops += [(RZ(j / 2.0), [j]), (H, [j])]
    check(native_sup, text, 6, ops)


def test_loops_nest(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc"; qubit[4] q;\nh q;\n'
            "for int a in [0:2] { for int b in [a + 1:3] { cx q[a], q[b]; } }")
    ops = [(H, [k]) for k in range(4)] + [(CX, [a, b]) for a in range(3) for b in range(a + 1, 4)]
    check(native_sup, text, 4, ops)
