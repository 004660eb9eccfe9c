qubit[2] q;
for int i in [0:2] { h q[0]; }