qubit[5] q; bit[5] m;
