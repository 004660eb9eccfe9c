OPENQASM 3;
qubit[4] q;
ctrl(2147483647) @ ctrl(2147483647) @ ctrl(2) @ x q[0], q[1], q[2], q[3];
