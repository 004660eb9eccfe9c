qubit[2] q;
pow(0.5) @ cx q[0], q[1];