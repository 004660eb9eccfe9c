qubit[2] q; bit[1] c;
c = measure q;