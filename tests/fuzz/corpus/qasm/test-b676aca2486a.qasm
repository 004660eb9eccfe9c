qubit[2] q;
h r[0];