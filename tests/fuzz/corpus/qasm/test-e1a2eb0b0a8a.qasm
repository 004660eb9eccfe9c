qubit q;
measure q;