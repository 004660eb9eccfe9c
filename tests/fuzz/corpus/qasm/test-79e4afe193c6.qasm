qubit[2] q;
/* never closed