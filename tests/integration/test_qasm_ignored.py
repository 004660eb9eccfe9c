"""OpenQASM feature: what a state-vector simulator cannot honour (timing, pulses, pragmas,
annotations) is accepted, leaves the state as without it, and is said in the answer's warnings."""
from qasm_reference import CX, H, check, native_sup  # noqa: F401 (a fixture)

BODY = "h q[0]; cx q[0], q[1];"
OPS = [(H, [0]), (CX, [0, 1])]


def test_timing_pulses_pragmas_and_annotations_change_nothing_and_are_said(native_sup):
    text = ('OPENQASM 3;\n#pragma pitboss anything\ninclude "stdgates.inc";\ndefcalgrammar "openpulse";\n'
            "qubit[2] q;\n@reversible\nh q[0];\ndelay[100ns] q[1];\nbox [2us] { cx q[0], q[1]; }\n"
            "cal { }\nbarrier q;")
    answer = check(native_sup, text, 2, OPS)
    said = " ".join(answer["warnings"])
    for word in ("pragma", "annotation", "delay", "box", "defcalgrammar", "cal"):
        assert word in said, (word, answer["warnings"])


def test_a_circuit_without_them_has_no_such_warnings(native_sup):
    answer = check(native_sup, 'OPENQASM 3; include "stdgates.inc"; qubit[2] q;\n' + BODY, 2, OPS)
    assert not any("ignored" in w for w in answer["warnings"]), answer["warnings"]


def test_duration_and_stretch_values_are_accepted_and_said(native_sup):
    text = ('OPENQASM 3; include "stdgates.inc";\nqubit[2] q;\nduration d = 100ns;\nstretch s;\n'
            "h q[0];\ndelay[d + s] q[1];\ncx q[0], q[1];")
    answer = check(native_sup, text, 2, OPS)
    assert any("duration and stretch" in w for w in answer["warnings"]), answer["warnings"]
