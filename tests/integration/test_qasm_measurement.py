"""OpenQASM feature: measure, reset and if, against probabilities from the reference state.
Counts are random: each bound is 5 standard deviations of the binomial."""
import math

import numpy as np

from qasm_reference import CX, H, RY, X, native_sup, reference_state, run  # noqa: F401 (a fixture)

SHOTS = 20000


def within(count, p):
    return abs(count - SHOTS * p) <= 5 * math.sqrt(SHOTS * p * (1 - p)) + 1


def test_final_measurements_follow_the_born_rule(native_sup):
    text = 'OPENQASM 3; include "stdgates.inc"; qubit[3] q; bit[3] c;\nry(0.8) q[0]; h q[1]; cx q[1], q[2];\nc = measure q;'
    probs = np.abs(reference_state(3, [(RY(0.8), [0]), (H, [1]), (CX, [1, 2])])) ** 2
    counts = run(native_sup, text, shots=SHOTS, seed=3)["counts"]
    for i, p in enumerate(probs):
        assert within(counts.get(format(i, "03b"), 0), p), (i, p, counts)


def test_reset_then_reuse(native_sup):
    """ry, measure into c[0], reset, x: c[1] always reads 1; c[0] follows sin²(θ/2)."""
    text = ('OPENQASM 3; include "stdgates.inc"; qubit q; bit[2] c;\n'
            "ry(1.2) q; c[0] = measure q; reset q; x q; c[1] = measure q;")
    r = run(native_sup, text, shots=SHOTS, seed=4)
    p1 = math.sin(0.6) ** 2
    assert set(r["counts"]) <= {"10", "11"}, r["counts"]
    assert within(r["counts"].get("11", 0), p1), r["counts"]


def test_if_on_a_measured_bit_corrects_the_state(native_sup):
    """Measure a superposition, flip it back when it read 1: the second reading is always 0."""
    text = ('OPENQASM 3; include "stdgates.inc"; qubit q; bit a; bit b;\n'
            "h q; a = measure q; if (a) { x q; } b = measure q;")
    r = run(native_sup, text, shots=SHOTS, seed=5)
    assert r["method"] == "per-shot"
    assert set(r["counts"]) <= {"0 0", "0 1"}, r["counts"]
    assert within(r["counts"].get("0 1", 0), 0.5), r["counts"]
