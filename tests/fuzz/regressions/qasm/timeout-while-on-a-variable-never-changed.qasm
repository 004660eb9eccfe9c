OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit b;
bit[3] c;
int i = 0;
for int j in [0:2] { ;ry(0.8) q[j]; b = measure q[j]; if (b) break; { if (!b) { continue; } x q[j]; } c[j] = measure q[j]; }
while (i < 3) b = measure q[0]; if (b) break; c += 1; }
