OPENQASM 3;
qubit q;
pow(15) @ x q;
