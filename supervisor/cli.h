/* The pitboss command's subcommands. Each returns the process exit code. */
#ifndef PIT_CLI_H
#define PIT_CLI_H

#define PIT_DEFAULT_TARGET "127.0.0.1:50051"

int pit_cli_call(int argc, char **argv);   /* pitboss call COMMAND [JSON] ... */
int pit_cli_stream(int argc, char **argv); /* pitboss stream COMMAND [JSON] ... */
int pit_cli_serve(int argc, char **argv);  /* pitboss serve -c FILE */
int pit_cli_status(int argc, char **argv); /* pitboss status */
int pit_cli_reload(int argc, char **argv); /* pitboss reload: SIGHUP, then what changed */
int pit_cli_jobs(int argc, char **argv);   /* pitboss jobs submit|status|result|watch|cancel|list */
int pit_cli_backends(int argc, char **argv); /* pitboss backends */

#endif
