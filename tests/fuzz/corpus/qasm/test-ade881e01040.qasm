qubit[2] q;
cx q[0];