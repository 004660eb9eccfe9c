"""OpenQASM feature: int, uint and bool variables that hold values depending on measured bits
(`int k = c;`, an assignment under a condition on them, a counter in a while on them). Such a
variable lives in classical bits of its own, which no result shows; every answer is checked against
the exact distribution of a Python program that knows nothing of the parser (qasm_reference)."""
import grpc
import pytest

from qasm_reference import assert_refused_at, H, RY, X, check_counts, native_sup, run  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3.0; include "stdgates.inc";\n'


def bits_key(value, width):
    """A register's counts key: its top bit first."""
    return "".join(str((value >> i) & 1) for i in reversed(range(width)))


def test_an_int_takes_a_measured_value_and_computes_on_it(native_sup):
    text = HEAD + ("qubit[2] q; bit[2] c; bit[3] out;\nh q[0]; ry(1.1) q[1];\nc = measure q;\n"
                   "int k = c;\nk = k * 2 + 1;\nk -= c[1];\nout = k;")

    def program(m):
        m.gate(H, [0])
        m.gate(RY(1.1), [1])
        c0, c1 = m.measure(0), m.measure(1)
        k = (c0 + 2 * c1) * 2 + 1 - c1
        return f"{bits_key(k % 8, 3)} {bits_key(c0 + 2 * c1, 2)}"

    answer = check_counts(native_sup, text, 2, program)
    # the variable's 32 bits are in no result
    assert answer["num_clbits"] == 5
    assert all(len(k) == len("000 00") for k in answer["counts"])


def test_assignments_under_conditions_on_measured_bits_and_negative_ints(native_sup):
    # k starts known (3), then changes only in some shots: its value before the if is kept for the
    # others; a negative int compares as negative
    text = HEAD + ("qubit[2] q; bit b; bit d;\nint k = 3;\nh q[0];\nb = measure q[0];\n"
                   "if (b) { k = -2; } else { k += 1; }\nif (k < 0) { x q[1]; }\nif (k == 4) { ry(0.7) q[1]; }\n"
                   "d = measure q[1];")

    def program(m):
        m.gate(H, [0])
        k = -2 if m.measure(0) else 4
        b = 1 if k == -2 else 0
        if k < 0:
            m.gate(X, [1])
        if k == 4:
            m.gate(RY(0.7), [1])
        return f"{m.measure(1)} {b}"

    check_counts(native_sup, text, 2, program)


def test_a_counter_in_a_while_on_measured_bits(native_sup):
    # repeat until success, at most 4 tries, the count kept in an int and copied out
    text = HEAD + ("qubit q; bit b; bit[3] tries;\nint n = 0;\nb = 0;\n"
                   "while (!b && n < 4) { reset q; ry(0.9) q; b = measure q; n += 1; }\ntries = n;")

    def program(m):
        n, b = 0, 0
        while not b and n < 4:
            m.reset(0)
            m.gate(RY(0.9), [0])
            b = m.measure(0)
            n += 1
        return f"{bits_key(n, 3)} {b}"

    check_counts(native_sup, text, 1, program)


def test_bool_and_uint_variables_take_their_types_rules(native_sup):
    # bool(c) is 0 or 1 whatever c is; uint[2] keeps two bits (c + 3 wraps)
    text = HEAD + ("qubit[2] q; bit[2] c; bit[2] w; bit s;\nh q;\nc = measure q;\n"
                   "bool seen = false;\nif (c[0] || c[1]) seen = c;\nuint[2] u = c + 3;\nw = u;\ns = seen;")

    def program(m):
        m.gate(H, [0])
        m.gate(H, [1])
        c = m.measure(0) + 2 * m.measure(1)
        return f"{int(c != 0)} {bits_key((c + 3) % 4, 2)} {bits_key(c, 2)}"

    check_counts(native_sup, text, 2, program)


def test_a_variables_bits_are_reused_after_its_scope_ends(native_sup):
    # each iteration's k is a new variable in the same bits: 20 of them would not fit otherwise
    text = HEAD + ("qubit q; bit b; bit[5] total;\nh q;\nb = measure q;\n"
                   "for int i in [1:20] { int[8] k = b * i; total += k; }")

    def program(m):
        m.gate(H, [0])
        b = m.measure(0)
        return f"{bits_key(sum(b * i for i in range(1, 21)) % 32, 5)} {b}"

    check_counts(native_sup, text, 1, program)


@pytest.mark.parametrize("body,where,says", [
    ("qubit q; bit b;\nb = measure q;\nfloat t = b;", "3:11", "'t' is a float or an angle"),
    ("qubit q; bit b; int k;\nb = measure q;\nk = b;\nrx(k) q;", "4:4", "depends on measured bits"),
    ("qubit q; bit b;\nb = measure q;\nconst int k = b;", "3:11", "needs a value known before the run"),
    ("qubit q; bit b;\nb = measure q;\nfor int i in [0:2] { if (b) i = 5; }", "3:33", "a for loop's variable"),
])
def test_errors_name_line_and_column(native_sup, body, where, says):
    assert_refused_at(native_sup, HEAD + body, where, says, lines_before=1)


def test_variables_past_the_classical_bits_are_resource_exhausted_naming_the_fix(native_sup):
    # an int takes 32 bits (int[n] takes n): 8 + 32 + 32 > 64
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, HEAD + "qubit[8] q; bit[8] c;\nc = measure q;\nint a = c;\nint b = c;")
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "5:9:" in e.value.details() and "declare it smaller (int[8] b)" in e.value.details()
    answer = run(native_sup, HEAD + "qubit[8] q; bit[8] c;\nc = measure q;\nint[16] a = c;\nint[16] b = c;", shots=4)
    assert answer["num_clbits"] == 8


def test_a_refused_circuit_leaves_the_worker_serving(native_sup):
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, HEAD + "qubit q; bit b;\nb = measure q;\nangle a = b;")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    answer = run(native_sup, HEAD + "qubit q; bit b;\nx q;\nb = measure q;\nint k = b;\nif (k == 1) x q;\nb = measure q;",
                 shots=8)
    assert answer["counts"] == {"0": 8}
