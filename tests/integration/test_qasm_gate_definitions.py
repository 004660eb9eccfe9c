"""OpenQASM feature: `gate` definitions (parameters, nesting, empty bodies, modifiers on them)."""
from qasm_reference import CX, H, RX, RZ, X, check, controlled, native_sup  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3; include "stdgates.inc"; qubit[3] q;\n'


def test_a_parameterised_definition_expands_to_its_body(native_sup):
    text = HEAD + "gate zzx(a, b) p, r { h p; cx p, r; rz(a * 2) r; rx(b - a) p; }\nzzx(0.3, 1.0) q[2], q[0];"
    check(native_sup, text, 3, [(H, [2]), (CX, [2, 0]), (RZ(0.6), [0]), (RX(0.7), [2])])


def test_definitions_nest_and_may_be_empty(native_sup):
    text = HEAD + "gate nothing a { }\ngate pair a, b { h a; cx a, b; }\ngate triple a, b, c { pair a, b; pair b, c; nothing a; }\ntriple q[0], q[1], q[2];"
    check(native_sup, text, 3, [(H, [0]), (CX, [0, 1]), (H, [1]), (CX, [1, 2])])


def test_modifiers_apply_to_defined_gates(native_sup):
    text = HEAD + "gate flip a { x a; rz(0.5) a; }\nh q[0];\nctrl @ flip q[0], q[1];\ninv @ flip q[2];"
    flip = RZ(0.5) @ X
    check(native_sup, text, 3, [(H, [0]), (controlled(flip), [0, 1]), (flip.conj().T, [2])])


def test_a_definition_broadcasts_over_registers(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; qubit[2] a; qubit[2] b;\ngate hh x, y { h x; cx x, y; }\nhh a, b;'
    check(native_sup, text, 4, [(H, [0]), (CX, [0, 2]), (H, [1]), (CX, [1, 3])])
