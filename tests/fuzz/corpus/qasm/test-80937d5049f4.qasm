OPENQASM 3;
qubit[2] q;
h q[0]
cx q[0], q[1];