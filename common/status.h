/* gRPC status codes by name, for messages and the CLI. */
#ifndef PIT_STATUS_H
#define PIT_STATUS_H

#include <grpc/status.h>

const char *pit_status_name(grpc_status_code code);   /* "NOT_FOUND", ... */
/* Name -> code; returns -1 for an unknown name. */
int pit_status_parse(const char *name);

#endif
