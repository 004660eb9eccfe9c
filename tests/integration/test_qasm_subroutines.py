"""OpenQASM feature: `def` subroutines (qubit, qubit-register, bit and classical arguments; return
values, measurements returned into bits), `let` aliases (slices, concatenation `++`), and user
includes given in the request's "includes" (nothing is read from the file system)."""
import grpc
import pytest

from qasm_reference import assert_refused_at, CX, H, RX, RY, RZ, X, check, check_counts, native_sup, run  # noqa: F401 (a fixture)

HEAD = 'OPENQASM 3.0; include "stdgates.inc";\n'


def test_a_subroutine_with_qubit_and_classical_arguments_is_inlined(native_sup):
    text = HEAD + ("qubit[3] q;\n"
                   "def layer(float t, qubit a, qubit[2] r) { rx(t) a; h r; cx r[0], r[1]; rz(t / 2) r[1]; }\n"
                   "layer(0.3, q[0], q[1:2]);\nlayer(0.8, q[2], q[{0, 1}]);")
    ops = []
    for t, a, r in ((0.3, 0, [1, 2]), (0.8, 2, [0, 1])):
        ops += [(RX(t), [a]), (H, [r[0]]), (H, [r[1]]), (CX, r), (RZ(t / 2), [r[1]])]
    check(native_sup, text, 3, ops)


def test_a_subroutines_value_folds_into_a_variable(native_sup):
    text = HEAD + ("qubit q;\ndef twice(float x) -> float { float y = 2 * x; return y; }\n"
                   "float a = twice(0.4);\na = twice(a);\nry(a) q;")
    check(native_sup, text, 1, [(RY(1.6), [0])])


def test_a_measurement_returned_into_bits(native_sup):
    text = HEAD + ("qubit[2] q; bit[2] c;\n"
                   "def mz(qubit a) -> bit { h a; return measure a; }\n"
                   "def flip_if(bit b, qubit t) { if (b) x t; }\n"
                   "c[0] = mz(q[0]);\nflip_if(c[0], q[1]);\nc[1] = measure q[1];")

    def program(m):
        m.gate(H, [0])
        b = m.measure(0)
        if b:
            m.gate(X, [1])
        return f"{m.measure(1)}{b}"

    check_counts(native_sup, text, 2, program)


def test_a_return_on_measured_bits_ends_the_body_there(native_sup):
    # the first return taken gives the value; what follows it in the body does not run
    text = HEAD + ("qubit[3] q; bit[2] c; bit[3] k;\n"
                   "def first_one(qubit a, qubit b) -> bit { bit r = measure a; if (r) { x q[2]; return 1; } "
                   "h b; r = measure b; if (r) return 1; return 0; }\n"
                   "def code(qubit a) -> int { bit s; h a; s = measure a; if (s) return 3; ry(0.4) a; return 5; }\n"
                   "h q[0];\nc[0] = first_one(q[0], q[1]);\nint v = code(q[1]);\nk = v;\nc[1] = measure q[2];")

    def program(m):
        m.gate(H, [0])
        if m.measure(0):
            m.gate(X, [2])
            first = 1
        else:
            m.gate(H, [1])
            first = 1 if m.measure(1) else 0
        m.gate(H, [1])
        s_bit = m.measure(1)
        if s_bit:
            v = 3
        else:
            m.gate(RY(0.4), [1])
            v = 5
        k = "".join(str((v >> i) & 1) for i in reversed(range(3)))
        # a subroutine's bit declarations are registers of the circuit: r holds first's value
        return f"{s_bit} {first} {k} {m.measure(2)}{first}"

    check_counts(native_sup, text, 3, program)


def test_let_aliases_slices_and_concatenation(native_sup):
    text = HEAD + ("qubit[4] q; bit[4] c;\nlet pair = q[0] ++ q[3];\nlet mid = q[1:2];\nlet all = mid ++ pair;\n"
                   "h pair[0];\ncx pair[0], pair[1];\nx mid;\nrx(0.5) all[3];\n"
                   "let hi = c[3] ++ c[2];\nhi = measure all[1:2];")

    def program(m):
        m.gate(H, [0])
        m.gate(CX, [0, 3])
        m.gate(X, [1])
        m.gate(X, [2])
        m.gate(RX(0.5), [3])
        b2, b0 = m.measure(2), m.measure(0)  # all[1:2] = q[2], q[0] into c[3], c[2]
        return f"{b2}{b0}00"

    check_counts(native_sup, text, 4, program)
    check(native_sup, text.split("let hi")[0], 4,
          [(H, [0]), (CX, [0, 3]), (X, [1]), (X, [2]), (RX(0.5), [3])])


def test_user_includes_come_from_the_request(native_sup):
    files = {"bell.inc": 'include "more.inc";\ngate bell a, b { h a; cx a, b; }',
             "more.inc": "OPENQASM 3.0;\nconst float tilt = 0.25;\ndef tip(qubit a) { ry(tilt) a; }"}
    text = HEAD + 'include "bell.inc";\nqubit[2] q;\nbell q[0], q[1];\ntip(q[1]);'
    check(native_sup, text, 2, [(H, [0]), (CX, [0, 1]), (RY(0.25), [1])], includes=files)


def test_an_include_the_request_lacks_is_invalid_argument_saying_how_to_give_it(native_sup):
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, HEAD + 'include "mine.inc";\nqubit q;')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert '2:9' in e.value.details() and '"includes"' in e.value.details()


def test_an_error_inside_an_include_names_the_file_line_and_column(native_sup):
    with pytest.raises(grpc.RpcError) as e:
        run(native_sup, HEAD + 'include "bad.inc";\nqubit q;', includes={"bad.inc": "qubit r;\nh r\nx r;"})
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bad.inc:3:1:" in e.value.details(), e.value.details()


@pytest.mark.parametrize("body,where,says", [
    ("qubit[2] q;\ndef f(qubit a) { x a; }\nf(q);", "3:3", "takes 1 qubit(s), got 2"),
    ("qubit q;\ndef f(qubit a) { x a; }\nbit b = f(q);", "3:9", "returns nothing"),
    ("qubit q;\ndef f(qubit a) { qubit r; }", "2:18", "'qubit' is not allowed inside a subroutine"),
    ("qubit q;\nreturn;", "2:1", "'return' outside a subroutine"),
    ("qubit q; bit b;\ndef f(qubit a) -> bit { bit r = 0; while (!r) { r = measure a; if (r) return r; } return 0; }\nb = f(q);",
     "2:71", "'return' inside a while on measured bits"),
    ("qubit q;\nlet q = q;", "2:5", "'q' is already declared"),
])
def test_subroutine_errors_name_line_and_column(native_sup, body, where, says):
    assert_refused_at(native_sup, HEAD + body, where, says, lines_before=1)
