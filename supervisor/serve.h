/* `pitboss serve`: the supervisor program, wiring core/, routing/, api/ and jobs/ together. */
#ifndef PIT_SERVE_H
#define PIT_SERVE_H

/* pitboss serve -c FILE [--check]: runs until stopped; returns the process exit code. */
int pit_serve_main(int argc, char **argv);

#endif
