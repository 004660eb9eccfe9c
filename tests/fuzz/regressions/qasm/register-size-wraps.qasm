OPENQASM 3;
qubit[4294967295] a;
qubit[3] b;
