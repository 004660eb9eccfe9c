OPENQASM 3;
qubit q;
foo q;