qubit[2] q;
rx(1/0) q[0];