qubit[2] q;
gate g a { measure a; }