OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
bit[3] out;
int n = 0;
bool seen = false;
h q;
c = measure q;
int k = c;
if (c[0]) { k -= 3; seen = true; } else { k += 1; }
while (!c[1] && n < 3) { reset q[1]; h q[1]; c[1] = measure q[1]; n += 1; }
uint[2] u = k + n;
out = u + seen;
