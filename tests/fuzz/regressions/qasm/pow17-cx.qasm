OPENQASM 3;
qubit[2] q;
bit[2] c;
x q[0];
pow(17) @ cx q[0], q[1];
c = measure q;
