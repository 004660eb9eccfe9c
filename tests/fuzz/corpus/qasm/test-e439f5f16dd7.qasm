qubit[2] q; bit[2] c;
if (c == 7) x q[0];