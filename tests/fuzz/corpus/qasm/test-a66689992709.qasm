qubit[2] q;
h q[5];