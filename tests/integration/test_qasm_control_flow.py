"""OpenQASM feature: control flow. `if`/`else`, `while`, `switch`, `break`/`continue`: on values known
before the run they are decided by the parser (checked against the numpy state); on measured bits
they run shot by shot (checked against the exact distribution of a Python version of the program)."""

import grpc
import pytest

from qasm_reference import assert_refused_at, CX, H, RX, RY, X, check, check_counts, native_sup, run  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3.0; include "stdgates.inc";\n'


def key(*bits):
    """The counts key of bits given c[0] first: c[n-1]..c[0]."""
    return "".join(str(b) for b in reversed(bits))


def test_if_else_on_a_measured_bit(native_sup):
    text = HEAD + ("qubit[2] q; bit[2] c;\nh q[0];\nc[0] = measure q[0];\n"
                   "if (c[0]) { x q[1]; } else { ry(1.1) q[1]; }\nc[1] = measure q[1];")

    def program(m):
        m.gate(H, [0])
        b0 = m.measure(0)
        m.gate(X if b0 else RY(1.1), [1])
        return key(b0, m.measure(1))

    answer = check_counts(native_sup, text, 2, program)
    assert answer["method"] == "per-shot"


def test_conditions_are_any_classical_expression(native_sup):
    text = HEAD + ("qubit[4] q; bit[3] c; bit r;\nh q[0]; h q[1]; h q[2];\nc = measure q[0:2];\n"
                   "if ((c & 1) == 1 && c >> 1 != 0 || !c[2] && c != 2) x q[3];\n"
                   "if (c % 3 == 0 ^ c[1]) { } else { rx(0.7) q[3]; }\n"
                   "r = measure q[3];")

    def program(m):
        for i in range(3):
            m.gate(H, [i])
        bits = [m.measure(i) for i in range(3)]
        c = bits[0] | bits[1] << 1 | bits[2] << 2
        if ((c & 1) == 1 and (c >> 1) != 0) or (not bits[2] and c != 2):
            m.gate(X, [3])
        if not ((c % 3 == 0) ^ bits[1]):
            m.gate(RX(0.7), [3])
        return f"{m.measure(3)} {key(*bits)}"

    check_counts(native_sup, text, 4, program)


def test_else_if_chains_and_a_constant_condition_choose_at_parse_time(native_sup):
    text = HEAD + ("qubit[2] q; int n = 3; const float a = 0.4;\n"
                   "if (n > 5) { x q[0]; } else if (n == 3 && a < 1) { rx(a) q[0]; } else { h q[0]; }\n"
                   "if (!(n != 3)) ry(n * a) q[1]; else x q[1];")
    check(native_sup, text, 2, [(RX(0.4), [0]), (RY(1.2000000000000002), [1])])


def test_a_while_on_measured_bits_repeats_until_success(native_sup):
    # Repeat until the qubit reads 1, counting the tries in a 3-bit register (wrapping at 8).
    text = HEAD + ("qubit q; bit b; bit[3] tries;\nb = 0;\n"
                   "while (!b) { reset q; ry(1.2) q; b = measure q; tries += 1; }")

    def program(m):
        tries = 0
        while True:
            m.reset(0)
            m.gate(RY(1.2), [0])
            tries = (tries + 1) % 8
            if m.measure(0):
                return f"{key(*[(tries >> i) & 1 for i in range(3)])} 1"

    check_counts(native_sup, text, 1, program)


def test_while_true_with_break_and_continue_on_measured_bits(native_sup):
    text = HEAD + ("qubit[2] q; bit[2] c; bit[2] n;\n"
                   "while (true) {\n  h q[0];\n  c[0] = measure q[0];\n  n += 1;\n"
                   "  if (n == 1) continue;\n  if (c[0] == 1 || n >= 3) break;\n  reset q[0];\n}\n"
                   "c[1] = measure q[1];")

    def program(m):
        n = 0
        while True:
            m.gate(H, [0])
            c0 = m.measure(0)
            n = (n + 1) % 4
            if n == 1:
                continue
            if c0 == 1 or n >= 3:
                break
            m.reset(0)
        return f"{key(n & 1, n >> 1)} {key(c0, m.measure(1))}"

    check_counts(native_sup, text, 2, program)


def test_a_while_on_variables_unrolls_with_assignments_break_and_continue(native_sup):
    text = HEAD + ("qubit[3] q; int i = 0; float t = 0.1;\n"
                   "while (i < 10) {\n  i += 1;\n  if (i == 2) continue;\n  rx(t) q[i % 3];\n  t *= 2;\n"
                   "  if (i >= 4) break;\n}\nry(i) q[0];")
    ops, t = [], 0.1
    for i in (1, 3, 4):
        ops.append((RX(t), [i % 3]))
        t *= 2
    check(native_sup, text, 3, ops + [(RY(4), [0])])


def test_for_loops_break_and_continue(native_sup):
    text = HEAD + ("qubit[4] q;\nfor int i in [0:10] {\n  if (i == 1) continue;\n  if (i > 3) break;\n  x q[i];\n}\n"
                   "for uint j in {3, 0} { rx(j * 0.5) q[j]; }")
    check(native_sup, text, 4, [(X, [0]), (X, [2]), (X, [3]), (RX(1.5), [3]), (RX(0.0), [0])])


def test_break_on_measured_bits_in_a_for_loop(native_sup):
    # repeat until success in a for: the loop unrolls, and after the break every later statement of
    # it is skipped shot by shot; the loop's variable still indexes (q[i])
    text = HEAD + ("qubit[3] q; bit b; bit[3] c;\n"
                   "for int i in [0:2] { ry(0.8) q[i]; b = measure q[i]; if (b) break; x q[i]; c[i] = measure q[i]; }")

    def program(m):
        b, c = 0, [0, 0, 0]
        for i in range(3):
            m.gate(RY(0.8), [i])
            b = m.measure(i)
            if b:
                break
            m.gate(X, [i])
            c[i] = m.measure(i)
        return f"{key(*c)} {b}"

    check_counts(native_sup, text, 3, program)


def test_continue_on_measured_bits_in_a_for_loop_and_in_nested_blocks(native_sup):
    # a continue inside a nested block skips the rest of that iteration only; a counter kept in an
    # int shows how many iterations ran to their end
    text = HEAD + ("qubit q; bit b; bit[3] n;\nint done = 0;\n"
                   "for int i in [1:4] { reset q; rx(0.5 * i) q; b = measure q; { if (!b) { continue; } x q; } "
                   "done += 1; }\nn = done;")

    def program(m):
        done, b = 0, 0
        for i in range(1, 5):
            m.reset(0)
            m.gate(RX(0.5 * i), [0])
            b = m.measure(0)
            if not b:
                continue
            m.gate(X, [0])
            done += 1
        return f"{key(*[(done >> k) & 1 for k in range(3)])} {b}"

    check_counts(native_sup, text, 1, program)


def test_break_on_measured_bits_in_a_while_on_known_values(native_sup):
    text = HEAD + ("qubit q; bit b; bit[2] k;\nint i = 0;\n"
                   "while (i < 3) { i += 1; h q; b = measure q; if (b) break; k += 1; }")

    def program(m):
        k = 0
        for _ in range(3):
            m.gate(H, [0])
            b = m.measure(0)
            if b:
                break
            k += 1
        return f"{key(k & 1, k >> 1 & 1)} {b}"

    check_counts(native_sup, text, 1, program)


def test_switch_on_measured_bits(native_sup):
    text = HEAD + ("qubit[3] q; bit[2] c; bit r;\nh q[0]; h q[1];\nc = measure q[0:1];\n"
                   "switch (c) {\n  case 0 { x q[2]; }\n  case 1, 2 { ry(0.9) q[2]; }\n  default { h q[2]; }\n}\n"
                   "r = measure q[2];")

    def program(m):
        m.gate(H, [0])
        m.gate(H, [1])
        c = m.measure(0) | m.measure(1) << 1
        m.gate(X if c == 0 else RY(0.9) if c in (1, 2) else H, [2])
        return f"{m.measure(2)} {key(c & 1, c >> 1)}"

    check_counts(native_sup, text, 3, program)


def test_a_switch_reads_its_target_once_before_the_case_runs(native_sup):
    # case 0 sets c to 1: the case for 1 must not run as well.
    text = HEAD + "qubit q; bit[2] c;\nc = 0;\nswitch (c) { case 0 { c = 1; } case 1 { c = 3; } }"
    assert run(native_sup, text, shots=50)["counts"] == {"01": 50}


def test_switch_on_a_constant_chooses_its_case_at_parse_time(native_sup):
    text = HEAD + ("qubit[2] q; const int mode = 2;\n"
                   "switch (mode + 1) { case 1 { x q[0]; } case 2, 3 { h q[1]; rx(0.3) q[0]; } default { x q[1]; } }")
    check(native_sup, text, 2, [(H, [1]), (RX(0.3), [0])])


def test_a_while_that_never_ends_on_measured_bits_is_resource_exhausted(native_sup):
    text = HEAD + "qubit q; bit b;\nb = 1;\nwhile (b) { x q; }"
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, text, shots=2)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "while loop ran more than 1000000 iterations" in e.value.details()


def test_a_while_that_never_ends_on_variables_is_resource_exhausted_at_parse_time(native_sup):
    text = HEAD + "qubit q; int i = 0;\nwhile (i >= 0) { i += 1; }"
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, text)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "3:1:" in e.value.details() and "loop iterations" in e.value.details()


@pytest.mark.parametrize("body,where,says", [
    ("qubit q;\nbreak;", "2:1", "'break' outside a loop"),
    ("qubit q; const int n = 2;\nn = 3;", "2:1", "'n' is a const or an input"),
    ("qubit q; bit[2] c;\nswitch (c) { default { } case 1 { } }", "2:26", "default must be the switch's last case"),
    ("qubit q; bit b;\nrx(b) q;", "2:4", "depends on measured bits"),
    ("qubit q;\nelse x q;", "2:1", "'else' without an if"),
])
def test_control_flow_errors_name_line_and_column(native_sup, body, where, says):
    assert_refused_at(native_sup, HEAD + body, where, says, lines_before=1)


def test_a_loop_that_never_ends_emitting_measurements_is_refused_early(native_sup):
    # a while on a variable its body never changes unrolls at parse time; each iteration a
    # measurement: bounded by max_gates (apart from the gates) and by the loop iterations, whichever
    # comes first (here both are a million), not by memory
    text = HEAD + "qubit q; bit b; int i = 0;\nwhile (i < 3) b = measure q;"
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, text)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "a loop that never ends?" in e.value.details()
    assert run(native_sup, HEAD + "qubit q; bit b; x q; b = measure q;", shots=4)["counts"] == {"1": 4}


def test_computing_on_the_results_after_the_last_measurement_is_still_sampled(native_sup):
    # bit assignments, an if and a while that read only the measured bits, after every measurement:
    # deterministic for each outcome, so the final state is sampled and the tail applied to each
    # distinct outcome (it used to send the circuit shot by shot)
    text = HEAD + ("qubit[3] q; bit[3] c; bit[2] d; bit[2] n;\nh q[0]; ry(1.1) q[1]; cx q[0], q[2];\n"
                   "c = measure q;\nd[0] = c[0] ^ c[1];\nif (c[1]) { d[1] = 1; } else { d[1] = c[2]; }\n"
                   "while (n < c[0] + c[1] + 1) { n += 1; }")

    def program(m):
        m.gate(H, [0])
        m.gate(RY(1.1), [1])
        m.gate(CX, [0, 2])
        b = [m.measure(i) for i in range(3)]
        d0 = b[0] ^ b[1]
        d1 = 1 if b[1] else b[2]
        n = b[0] + b[1] + 1
        return f"{key(n & 1, n >> 1 & 1)} {key(d0, d1)} {key(*b)}"

    answer = check_counts(native_sup, text, 3, program, shots=20000)
    assert answer["method"] == "sampled-final-state"


def test_a_runaway_while_in_the_classical_tail_is_still_resource_exhausted(native_sup):
    text = HEAD + "qubit q; bit c; bit[2] k;\nh q;\nc = measure q;\nwhile (c == 1 || c == 0) { k += 1; }"
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, text, shots=10)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "while loop" in e.value.details()
