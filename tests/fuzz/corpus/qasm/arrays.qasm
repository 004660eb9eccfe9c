OPENQASM 3; include "stdgates.inc";
qubit[3] q; bit[3] c;
array[float[64], 3] angles = {0.1, 0.2 * 2, pi / 4};
const array[int[32], 2, 2] m = {{1, 2}, {3, 4}};
array[int, 3] counts;
counts[1] = m[1][0] + m[0, 1];
counts[2] += 7;
angles[-1] *= 2;
for float a in angles { rx(a) q[0]; }
ry(counts[1] * 0.1) q[1];
rz(counts[2]) q[2];
c = measure q;
