OPENQASM 3.0; include "stdgates.inc";
qubit[2] q; bit[2] c; bit[2] n;
while (true) { h q[0]; c[0] = measure q[0]; n += 1; if (n == 1) continue; if (c[0] == 1 || n >= 3) break; reset q[0]; }
switch (c) { case 0 { x q[1]; } case 1, 2 { h q[1]; } default { } }
def f(float t, qubit a) -> bit { rx(t) a; return measure a; }
c[1] = f(0.5, q[1]);
let p = q[0] ++ q[1];
int i = 0; while (i < 3) { i += 1; if (i == 2) continue; x p[i % 2]; }
