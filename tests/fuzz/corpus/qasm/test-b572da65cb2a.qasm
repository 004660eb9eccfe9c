OPENQASM 3; include "stdgates.inc";
