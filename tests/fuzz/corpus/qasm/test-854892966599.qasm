qubit[2] q;
rx(1, 2) q[0];