qreg q[3]; creg m0[1]; creg m1[1]; creg out[1];
