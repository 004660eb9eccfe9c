/* The pitboss command's subcommands. Each returns the process exit code. */
#ifndef PIT_CLI_H
#define PIT_CLI_H

#define PIT_DEFAULT_TARGET "127.0.0.1:50051"

/* Every subcommand's exit codes (documented in README "Command line"). */
#define PIT_EXIT_OK 0
#define PIT_EXIT_FAILED 1    /* the call, job or server said no, or could not be reached */
#define PIT_EXIT_USAGE 2     /* bad arguments, a bad config file */
#define PIT_EXIT_NOT_FOUND 3 /* unknown command, pool, job or backend */

/* $PITBOSS_TARGET, else PIT_DEFAULT_TARGET. */
const char *pit_cli_default_target(void);
/* The exit code for a call that ended with code. */
int pit_cli_exit_code(int grpc_code);

int pit_cli_call(int argc, char **argv);   /* pitboss call COMMAND [JSON] ... */
int pit_cli_stream(int argc, char **argv); /* pitboss stream COMMAND [JSON] ... */
int pit_cli_status(int argc, char **argv); /* pitboss status */
int pit_cli_reload(int argc, char **argv); /* pitboss reload: SIGHUP, then what changed */
int pit_cli_jobs(int argc, char **argv);   /* pitboss jobs submit|status|result|watch|cancel|list */
int pit_cli_backends(int argc, char **argv); /* pitboss backends */
int pit_cli_commands(int argc, char **argv); /* pitboss commands [--pool P] */

#endif
