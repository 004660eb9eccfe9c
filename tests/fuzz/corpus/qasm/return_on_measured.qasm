OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[2] c;
def first_one(qubit a, qubit b) -> bit { bit r = measure a; if (r) { x q[2]; return 1; } h b; r = measure b; if (r) return 1; return 0; }
def code(qubit a) -> int { bit s; h a; s = measure a; if (s) return 3; for int i in [0:2] { if (s) return i; } return 5; }
h q[0];
c[0] = first_one(q[0], q[1]);
int v = code(q[1]);
c[1] = v;
