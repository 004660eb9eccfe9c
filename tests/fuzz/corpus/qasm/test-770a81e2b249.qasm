qubit[2] q;
rx(bogus) q[0];