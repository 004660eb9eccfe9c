qubit[2] q;
gate g a { h a; 
